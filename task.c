/* See LICENSE file for copyright and license details. */
/*
 * The containerd.task.v2.Task service: the task table, each task's
 * state, the calls waiting on it, and the events containerd hears.
 *
 * One sandbox (sandbox.c) per process, booted by the first Create; this
 * file reaches the VM only through sandbox_* functions. The service works
 * in a private mount namespace (made by task_init), so every mount it
 * makes (the rootfs containerd hands over, the share, the bind of each
 * container's root) is invisible to the host and gone when the process
 * is. The share is a tmpfs in the first bundle, SHARE_DIR, holding one
 * bind mount per container, <id> -> its root (rootfs.c); virtio-fs
 * serves it with tag SHARE_TAG and the agent mounts it at SHARE_GUESTDIR.
 *
 * Stdio: the FIFOs containerd names are opened here and given to the
 * vsock device as the backends of the streams the agent will open to
 * three host ports (sandbox_stdio); from then on the device moves the
 * bytes, and this file never sees them. stdin is opened read-only and is
 * read only once it polls readable, so a writer that opens late is
 * waited for; stdout and stderr are opened read-write so the open never
 * blocks or fails for want of a reader.
 *
 * Every request gets an answer. Calls that need the agent (Create, Start,
 * Kill, Delete) answer when the agent does; Wait answers at the exit,
 * which the agent reports only after the process's output reached the
 * FIFOs and they were closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "husk.h"
#include "config.h"

enum { T_CREATING, T_CREATED, T_RUNNING, T_STOPPED };
#define EVENTS_SERVICE	"containerd.services.events.ttrpc.v1.Events"

typedef struct Task Task;
struct Task {
	char *id, *bundle, *fin, *fout, *ferr;
	char *config;
	size_t configlen;
	int state;
	uint32_t pid, status;		/* pid: husk's own (see agentcreatedone) */
	uint32_t gpid;			/* the process in the guest */
	uint64_t exitedat;		/* ns since the epoch */
	uint32_t ports[3];		/* stdio streams */
	TtrpcCall *call;		/* the Create, Start or Delete in progress */
	TtrpcCall **waiters;
	size_t nwait;
	int deleting;
	char *pod;			/* the pod sandbox's task it joins, or NULL */
	int64_t memlimit;		/* its spec's, -1 none */
	int paused;			/* frozen in the guest (Pause) */
	int pausecall;			/* a Pause or Resume waits for the agent */
	Rootfs root;			/* its way to the guest */
	Task *next;
};

static struct {
	Sandbox *sb;
	SandboxConfig vm;	/* the VM the first Create boots */
	const char *ns, *ttrpcaddr;
	Task *tasks;
	unsigned vmmemmib;	/* the VM's RAM, once booted */
	Ttrpc *events;
	int quit;
	uint64_t t0;		/* when serving began, for the debug trace */
	int oomwait, oomoff;	/* an Oom call in flight; the agent has none */
	Watch oomw;		/* asks again after a failed Oom call */
	Ratelimit oomrl;	/* how fast OOM reports ask again at once */
} S = { .oomw = { -1, NULL, NULL, 0 } };

/* the debug log's timeline of a task: what happened, ms since start */
static void
trace(const char *what, const Task *t)
{
	logmsg(LDEBUG, "%8.1f ms  %s %s", (nowns() - S.t0) / 1e6, what,
	    t ? t->id : "");
}

static uint64_t
realns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static Task *
findtask(const char *id)
{
	Task *t;

	for (t = S.tasks; t && strcmp(t->id, id); t = t->next)
		;
	return t;
}

/* the request's task, or an answer saying why there is none */
static Task *
reqtask(TtrpcCall *c, const uint8_t *req, size_t n, int kind, TaskReq *r)
{
	char msg[ERRLEN];
	Task *t;

	if (pr_taskreq(req, n, kind, r) < 0) {
		ttrpc_reply(c, RPC_INVALID, "malformed request", NULL, 0);
		return NULL;
	}
	if (r->execid && r->execid[0]) {
		seterr(msg, "exec process %s: husk has no exec processes yet",
		    r->execid);
		ttrpc_reply(c, RPC_NOTFOUND, msg, NULL, 0);
	} else if (!(t = findtask(r->id))) {
		seterr(msg, "task %s not found", r->id);
		ttrpc_reply(c, RPC_NOTFOUND, msg, NULL, 0);
	} else {
		return t;
	}
	taskreq_free(r);
	return NULL;
}

/* events to containerd (Forward over TTRPC_ADDRESS); a failure is logged */
static void
evdone(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	(void)resp;
	(void)n;
	if (code != RPC_OK)
		logmsg(LWARN, "event %s: %s (code %d)", (char *)arg,
		    msg ? msg : "", code);
}

static void
evclosed(Ttrpc *t, void *arg)
{
	(void)arg;
	ttrpc_close(t);
	if (S.events == t)
		S.events = NULL;
}

static void
publish(const char *topic, const char *name, Pb *ev)
{
	struct sockaddr_un sa;
	const char *path;
	Pb pb = { 0 };
	int fd;

	if (!S.ttrpcaddr || !S.ttrpcaddr[0]) {
		pb_free(ev);
		return;
	}
	if (!S.events) {
		path = S.ttrpcaddr;
		if (!strncmp(path, "unix://", 7))
			path += 7;
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    !(S.events = ttrpc_new(fd, NULL, 0, NULL))) {
			logmsg(LWARN, "event %s: connect %s:", topic, path);
			if (fd >= 0)
				close(fd);
			pb_free(ev);
			return;
		}
		ttrpc_onclose(S.events, evclosed);
	}
	pb_forward(&pb, realns(), S.ns, topic, name, ev);
	if (ttrpc_call(S.events, EVENTS_SERVICE, "Forward", pb.b, pb.n,
	    event_timeout_ms * 1000000ull, evdone, (void *)topic) < 0)
		logmsg(LWARN, "event %s: cannot send", topic);
	pb_free(&pb);
	pb_free(ev);
}

static void
taskfree(Task *t)
{
	Task **pp;
	size_t i;

	for (pp = &S.tasks; *pp && *pp != t; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = t->next;
	for (i = 0; i < 3; i++)	/* streams the guest never opened */
		if (t->ports[i])
			sandbox_unport(S.sb, t->ports[i]);
	sandbox_share_remove(S.sb, &t->root);
	rootfs_umount(&t->root);
	for (i = 0; i < t->nwait; i++)
		ttrpc_reply(t->waiters[i], RPC_NOTFOUND, "task deleted", NULL, 0);
	if (t->call)
		ttrpc_reply(t->call, RPC_ABORTED, "task deleted", NULL, 0);
	free(t->waiters);
	free(t->id);
	free(t->bundle);
	free(t->fin);
	free(t->fout);
	free(t->ferr);
	free(t->config);
	free(t->pod);
	free(t);
}

/* a Create that cannot go on: answer it and forget the task */
static void
createfail(Task *t, int code, const char *msg)
{
	TtrpcCall *c = t->call;

	t->call = NULL;
	logmsg(LWARN, "create %s: %s", t->id, msg);
	ttrpc_reply(c, code, msg, NULL, 0);
	taskfree(t);
}

static void
waitreply(TtrpcCall *c, Task *t)
{
	Pb pb = { 0 };

	pb_waitresp(&pb, t->status, t->exitedat);
	ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
}

static void finishdelete(Task *t);
static void oomwatch(void);

/* a task event of kind (TEV_*) about t's init */
static void
taskevent(Task *t, int kind)
{
	TaskEvent e = { 0 };
	Pb ev = { 0 };

	e.cid = t->id;
	e.pid = t->pid;
	e.status = t->status;
	e.exitedat = t->exitedat;
	pb_taskevent(&ev, kind, &e);
	publish(taskev_topic(kind), taskev_name(kind), &ev);
}

/* the task's process is gone: status as the agent saw it */
static void
stopped(Task *t, uint32_t status)
{
	size_t i;

	if (t->state == T_STOPPED)
		return;
	t->state = T_STOPPED;
	t->status = status;
	t->exitedat = realns();
	trace("exited", t);
	taskevent(t, TEV_EXIT);
	for (i = 0; i < t->nwait; i++)
		waitreply(t->waiters[i], t);
	t->nwait = 0;
	if (t->deleting)
		finishdelete(t);
}

static void
agentwaitdone(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	Task *t = arg;
	AgentResp ar;
	uint32_t status;

	if (code != RPC_OK || pr_agentresp(resp, n, &ar) < 0) {
		logmsg(LWARN, "task %s: wait: %s: reported as killed", t->id,
		    code != RPC_OK && msg ? msg : "malformed reply");
		status = 128 + SIGKILL;
	} else {
		status = ar.status;
		agentresp_free(&ar);
	}
	stopped(t, status);
}

static void
ignorereply(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	(void)arg;
	(void)resp;
	(void)n;
	if (code != RPC_OK)
		logmsg(LINFO, "a reply not waited for: %s", msg ? msg : "");
}

static int
agentcall(Task *t, const char *method, uint32_t signal, unsigned timeoutms,
    TtrpcDone done)
{
	AgentReq r;

	memset(&r, 0, sizeof(r));
	r.id = t->id;
	r.signal = signal;
	if (!strcmp(method, "Create")) {
		r.sandbox = t->pod;
		r.config = t->config;
		r.configlen = t->configlen;
		r.iport = t->ports[0];
		r.oport = t->ports[1];
		r.eport = t->ports[2];
	}
	return sandbox_call(S.sb, method, &r, timeoutms, done, t);
}

static void
agentcreatedone(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	Task *t = arg;
	TtrpcCall *c = t->call;
	char err[ERRLEN];
	AgentResp ar;
	Pb pb = { 0 }, ev = { 0 };

	if (code == RPC_OK && pr_agentresp(resp, n, &ar) == 0) {
		t->gpid = ar.pid;
		agentresp_free(&ar);
	} else {
		seterr(err, "%s", code != RPC_OK ? (msg && msg[0] ? msg :
		    "the agent failed") : "the agent's reply is malformed");
		createfail(t, code != RPC_OK ? code : RPC_INTERNAL, err);
		return;
	}
	/*
	 * containerd and the tools behind it (ps, nsenter, crictl inspect)
	 * read the pid as a host process: the guest's pid would name a host
	 * process of the guest's choosing. The sandbox's host process is
	 * husk itself, as with Kata, whose VMM is its shim.
	 */
	t->pid = getpid();
	logmsg(LDEBUG, "task %s: pid %u in the guest", t->id, t->gpid);
	t->call = NULL;
	t->state = T_CREATED;
	trace("created in the guest", t);
	pb_createresp(&pb, t->pid);
	ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
	pb_taskcreate(&ev, t->id, t->bundle, t->fin, t->fout, t->ferr, 0, t->pid);
	publish("/tasks/create", "TaskCreate", &ev);
	if (agentcall(t, "Wait", 0, 0, agentwaitdone) < 0)
		stopped(t, 128 + SIGKILL);
	oomwatch();
}

/* the agent answers: create the tasks that waited for it */
static void
sandboxup(void *arg)
{
	Task *t, *next;

	(void)arg;
	if (!sandbox_agent(S.sb)) {
		for (t = S.tasks; t; t = next) {
			next = t->next;
			if (t->state == T_CREATING)
				createfail(t, RPC_UNAVAILABLE, "no connection to the agent");
		}
		return;
	}
	for (t = S.tasks; t; t = next) {
		next = t->next;
		if (t->state == T_CREATING && agentcall(t, "Create", 0,
		    agent_timeout_ms, agentcreatedone) < 0)
			createfail(t, RPC_UNAVAILABLE, "cannot reach the agent");
	}
}

/* the VM is gone: whatever it ran is gone too */
static void
sandboxdown(void *arg, int vmstate, const char *why)
{
	Task *t, *next;
	char msg[ERRLEN];

	(void)arg;
	/* the console (escaped) only when the guest did not power off */
	if (vmstate == VM_POWEROFF)
		logmsg(LINFO, "sandbox: %s", why);
	else
		logmsg(LWARN, "sandbox: %s; last console output:\n%s", why,
		    sandbox_console(S.sb));
	seterr(msg, "the sandbox VM stopped: %s", why);
	for (t = S.tasks; t; t = next) {
		next = t->next;
		if (t->state == T_CREATING)
			createfail(t, RPC_UNAVAILABLE, msg);
		else if (t->state != T_STOPPED)
			stopped(t, 128 + SIGKILL);
	}
}

/* an annotation's unsigned number, 0 when absent or not one */
static uint64_t
annonum(const OciSpec *s, const char *key)
{
	const char *v = oci_annotation(s, key);
	unsigned long long n;
	char *end;

	if (!v || !*v || *v == '-')
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	return errno || *end ? 0 : n;
}

/*
 * The first Create boots the sandbox. Its size: config.h's, grown to
 * what containerd hands over for the pod (containerd 1.7's sandbox
 * annotations: the pod's memory and CPU quota) or, outside a pod, to the
 * container's own memory limit, plus the headroom the guest kernel and
 * agent need; at most the machine limits.
 */
static int
sandboxboot(const OciSpec *s, char *err)
{
	SandboxConfig c = S.vm;
	uint64_t mem = annonum(s, CRI_SBMEMORY), quota, period, cpus;

	if (!mem && s->memlimit > 0)
		mem = s->memlimit;
	if (mem && mem / (1 << 20) + vm_memheadroom > c.memmib)
		c.memmib = MIN(mem / (1 << 20) + vm_memheadroom, VM_MAXMEMMIB);
	quota = annonum(s, CRI_SBQUOTA);
	period = annonum(s, CRI_SBPERIOD);
	if (quota && period) {
		cpus = (quota + period - 1) / period;
		if (cpus > c.ncpus)
			c.ncpus = MIN(cpus, VM_MAXCPUS);
	}
	c.consolefd = loglevel >= LDEBUG ? 2 : -1;
	S.vmmemmib = c.memmib;
	logmsg(LDEBUG, "sandbox: %u MiB, %u vCPUs", c.memmib, c.ncpus);
	return sandbox_boot(S.sb, &c, err);
}

/*
 * The VM does not grow: containers whose limits add up to more than its
 * RAM share what it has, and the guest kernel reclaims and, at the end,
 * OOM-kills inside the VM (husk.1, PODS).
 */
static void
overcommit(const Task *nt)
{
	uint64_t sum = 0;
	const Task *t;

	for (t = S.tasks; t; t = t->next)
		if (t->memlimit > 0)
			sum += t->memlimit;
	if (sum / (1 << 20) + vm_memheadroom > S.vmmemmib)
		logmsg(LWARN, "task %s: the pod's memory limits add up to %llu MiB, "
		    "more than its VM's %u MiB less %u MiB for the guest: its "
		    "containers share the VM's memory and the guest's OOM "
		    "killer acts inside the VM", nt->id,
		    (unsigned long long)(sum >> 20), S.vmmemmib, vm_memheadroom);
}

/* a file of the bundle, whole, NUL-terminated */
char *
task_readfile(const char *dir, const char *name, size_t max, size_t *len, char *err)
{
	char path[PATH_MAX];
	struct stat st;
	char *buf;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		seterr(err, "%s:", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0 || (size_t)st.st_size > max) {
		seterr(err, "%s: larger than %zu bytes", path, max);
		close(fd);
		return NULL;
	}
	buf = emalloc(st.st_size + 1);
	n = readall(fd, buf, st.st_size);
	close(fd);
	if (n != st.st_size) {
		seterr(err, "read %s:", path);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/*
 * A sandbox serves one pod: the first task (the pod's sandbox container,
 * or a lone container) and then only containers that name it (the CRI
 * annotations; shim.c sent them here). Those join its namespaces in the
 * guest as their spec asks.
 */
static int
podjoin(Task *t, const OciSpec *s, char *err)
{
	const char *pod = cri_sandbox(s);
	Task *first;

	for (first = S.tasks; first && first->next; first = first->next)
		;
	if (!first)
		return 0;
	if (!pod || strcmp(pod, first->id)) {
		seterr(err, "this sandbox serves %s and its pod: task %s is %s",
		    first->id, t->id, pod ? "in another pod" : "in none");
		return -1;
	}
	if (first->state == T_STOPPED) {
		seterr(err, "pod sandbox %s has stopped", first->id);
		return -1;
	}
	t->pod = estrdup(pod);
	return 0;
}

static void
tcreate(TtrpcCall *c, const uint8_t *req, size_t n)
{
	TaskReq r;
	OciSpec s;
	Task *t;
	char err[ERRLEN];
	int code = RPC_INVALID;
	int i;

	memset(&s, 0, sizeof(s));
	if (pr_taskreq(req, n, TREQ_CREATE, &r) < 0) {
		ttrpc_reply(c, RPC_INVALID, "malformed CreateTaskRequest", NULL, 0);
		return;
	}
	t = ecalloc(1, sizeof(*t));
	t->id = r.id;
	trace("create", t);
	t->bundle = r.bundle && r.bundle[0] ? r.bundle : estrdup(".");
	t->fin = r.fin;
	t->fout = r.fout;
	t->ferr = r.ferr;
	r.id = r.bundle = r.fin = r.fout = r.ferr = NULL;
	t->call = c;
	if (!validid(t->id)) {
		seterr(err, "invalid task id '%s'", t->id);
		goto fail;
	}
	if (findtask(t->id)) {
		seterr(err, "task %s already exists", t->id);
		code = RPC_EXISTS;
		goto fail;
	}
	code = RPC_UNIMPLEMENTED;
	if (r.terminal) {
		seterr(err, "terminal (tty) containers are not supported by husk yet");
		goto fail;
	}
	if (r.checkpoint) {
		seterr(err, "husk cannot restore checkpoints");
		goto fail;
	}
	code = RPC_INVALID;
	if (!(t->config = task_readfile(t->bundle, "config.json", OCI_MAXJSON,
	    &t->configlen, err)))
		goto fail;
	if (oci_parse(&s, t->config, t->configlen, err) < 0)
		goto fail;
	if (!s.hasprocess || !s.args[0]) {
		seterr(err, "config.json: process.args is empty: nothing to run");
		goto fail;
	}
	t->memlimit = s.memlimit;
	if (podjoin(t, &s, err) < 0) {
		code = RPC_PRECONDITION;
		goto fail;
	}
	code = RPC_PRECONDITION;
	if (sandbox_state(S.sb) == SB_DOWN) {
		seterr(err, "the sandbox VM has stopped");
		goto fail;
	}
	if (access(S.vm.kernel, R_OK) < 0) {
		seterr(err, "guest kernel %s:%s", S.vm.kernel, errno == ENOENT ?
		    " not found (build it with kernel/build, or set HUSK_KERNEL)" : "");
		goto fail;
	}
	code = RPC_INTERNAL;
	if (rootfs_mount(&t->root, t->bundle, r.rootfs, r.nrootfs, err) < 0 ||
	    sandbox_share_add(S.sb, &t->root, t->id, t->bundle, &s, err) < 0)
		goto fail;
	t->next = S.tasks;
	S.tasks = t;
	t->state = T_CREATING;
	if (sandbox_state(S.sb) == SB_NONE && sandboxboot(&s, err) < 0) {
		oci_free(&s);
		taskreq_free(&r);
		createfail(t, RPC_INTERNAL, err);
		return;
	}
	for (i = 0; i < 3; i++) {
		if (sandbox_stdio(S.sb, i, i == 0 ? t->fin : i == 1 ? t->fout :
		    t->ferr, &t->ports[i], err) < 0) {
			oci_free(&s);
			taskreq_free(&r);
			createfail(t, RPC_INVALID, err);
			return;
		}
	}
	if (t->pod)
		overcommit(t);
	oci_free(&s);
	taskreq_free(&r);
	if (sandbox_state(S.sb) == SB_UP && agentcall(t, "Create", 0, agent_timeout_ms,
	    agentcreatedone) < 0)
		createfail(t, RPC_UNAVAILABLE, "cannot reach the agent");
	return;	/* SB_BOOTING: sandboxup() sends it */
fail:
	oci_free(&s);
	taskreq_free(&r);
	createfail(t, code, err);
}

static void
agentstartdone(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	Task *t = arg;
	TtrpcCall *c = t->call;
	Pb pb = { 0 }, ev = { 0 };

	(void)resp;
	(void)n;
	t->call = NULL;
	if (code != RPC_OK) {
		ttrpc_reply(c, code, msg && msg[0] ? msg : "the agent failed", NULL, 0);
		return;
	}
	trace("started", t);
	if (t->state == T_CREATED)
		t->state = T_RUNNING;
	pb_startresp(&pb, t->pid);
	ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
	pb_taskstart(&ev, t->id, t->pid);
	publish("/tasks/start", "TaskStart", &ev);
}

static void
tstart(TtrpcCall *c, const uint8_t *req, size_t n)
{
	TaskReq r;
	Task *t;

	if (!(t = reqtask(c, req, n, TREQ_PLAIN, &r)))
		return;
	trace("start", t);
	if (t->state != T_CREATED || t->call) {
		ttrpc_reply(c, RPC_PRECONDITION, t->state == T_CREATING ?
		    "task is being created" : "task was started already", NULL, 0);
	} else {
		t->call = c;
		if (agentcall(t, "Start", 0, agent_timeout_ms, agentstartdone) < 0) {
			t->call = NULL;
			ttrpc_reply(c, RPC_UNAVAILABLE, "cannot reach the agent", NULL, 0);
		}
	}
	taskreq_free(&r);
}

static void
agentsignaldone(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	TtrpcCall *c = arg;

	(void)resp;
	(void)n;
	ttrpc_reply(c, code, code == RPC_OK ? NULL : msg, NULL, 0);
}

static void
tkill(TtrpcCall *c, const uint8_t *req, size_t n)
{
	AgentReq a;
	TaskReq r;
	Task *t;

	if (!(t = reqtask(c, req, n, TREQ_KILL, &r)))
		return;
	if (t->state == T_STOPPED) {
		ttrpc_reply(c, RPC_NOTFOUND, "process already finished", NULL, 0);
	} else if (t->state == T_CREATING || !sandbox_agent(S.sb)) {
		ttrpc_reply(c, RPC_PRECONDITION, "task is not created yet", NULL, 0);
	} else {
		memset(&a, 0, sizeof(a));
		a.id = t->id;
		a.signal = r.signal;
		a.all = r.all;
		if (sandbox_call(S.sb, "Signal", &a, agent_timeout_ms,
		    agentsignaldone, c) < 0)
			ttrpc_reply(c, RPC_UNAVAILABLE, "cannot reach the agent", NULL, 0);
	}
	taskreq_free(&r);
}

static void
twait(TtrpcCall *c, const uint8_t *req, size_t n)
{
	TaskReq r;
	Task *t;

	if (!(t = reqtask(c, req, n, TREQ_PLAIN, &r)))
		return;
	if (t->state == T_STOPPED) {
		waitreply(c, t);
	} else {
		t->waiters = erealloc(t->waiters, (t->nwait + 1) * sizeof(*t->waiters));
		t->waiters[t->nwait++] = c;
	}
	taskreq_free(&r);
}

static void
agentremovedone(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	Task *t = arg;
	TtrpcCall *c = t->call;
	Pb pb = { 0 };

	(void)resp;
	(void)n;
	if (code != RPC_OK)
		logmsg(LINFO, "task %s: agent remove: %s", t->id, msg ? msg : "");
	t->call = NULL;
	pb_deleteresp(&pb, t->pid, t->status, t->exitedat);
	trace("removed", t);
	if (c)
		ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
	taskevent(t, TEV_DELETE);
	taskfree(t);
}

static void
finishdelete(Task *t)
{
	t->deleting = 0;
	if (agentcall(t, "Remove", 0, agent_timeout_ms, agentremovedone) < 0)
		agentremovedone(t, RPC_UNAVAILABLE, "no agent", NULL, 0);
}

static void
tdelete(TtrpcCall *c, const uint8_t *req, size_t n)
{
	TaskReq r;
	Task *t;

	if (!(t = reqtask(c, req, n, TREQ_PLAIN, &r)))
		return;
	trace("delete", t);
	if (t->call || t->deleting) {
		ttrpc_reply(c, RPC_PRECONDITION, "task is busy with another request", NULL, 0);
	} else if (t->state == T_RUNNING) {
		ttrpc_reply(c, RPC_PRECONDITION, "task is running: kill it first", NULL, 0);
	} else if (t->state == T_CREATED) {
		/* never started: end its init, then remove it */
		t->call = c;
		t->deleting = 1;
		if (agentcall(t, "Signal", SIGKILL, agent_timeout_ms, ignorereply) < 0)
			stopped(t, 128 + SIGKILL);
	} else {
		t->call = c;
		finishdelete(t);
	}
	taskreq_free(&r);
}

static void
tstate(TtrpcCall *c, const uint8_t *req, size_t n)
{
	static const uint32_t status[] = { TSTATUS_CREATED, TSTATUS_CREATED,
	    TSTATUS_RUNNING, TSTATUS_STOPPED };	/* by T_* */
	TaskState st;
	TaskReq r;
	Task *t;
	Pb pb = { 0 };

	if (!(t = reqtask(c, req, n, TREQ_PLAIN, &r)))
		return;
	memset(&st, 0, sizeof(st));
	st.id = t->id;
	st.bundle = t->bundle;
	st.pid = t->pid;
	st.status = status[t->state];
	if (t->state == T_RUNNING && (t->paused || t->pausecall))
		st.status = t->paused ? TSTATUS_PAUSED : TSTATUS_PAUSING;
	st.fin = t->fin;
	st.fout = t->fout;
	st.ferr = t->ferr;
	st.exitstatus = t->status;
	if (t->state == T_STOPPED)
		st.exitedat = t->exitedat;
	pb_stateresp(&pb, &st);
	ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
	taskreq_free(&r);
}

/*
 * Pids, Stats, Update, Pause and Resume: one agent call each, answered
 * when the agent answers. The call's context names the task by id, not
 * by pointer, since the task may be deleted before the agent answers.
 *
 * Pids answers with the guest's pids (the agent reads the container's
 * cgroup), each exec's with its exec id as runc's shim does. They name
 * processes in the VM, never on the host. containerd passes them through
 * (ctr task ps prints them) and, when it restarts, takes an empty list
 * as a leaked shim to clean up: a live task lists at least its init. A
 * host tool that reads them as host pids (docker or nerdctl top filter
 * the host's ps by them) finds unrelated processes or none, and the
 * guest chooses them; but no pid containerd acts on is the guest's: the
 * task's pid (Create, Start, State, events) is husk's own, as
 * agentcreatedone says. Kata lists only its VMM's pid, which says
 * nothing of what runs in the container.
 */
enum { OP_PIDS, OP_STATS, OP_UPDATE, OP_PAUSE, OP_RESUME };
static const char *const opmethod[] = {	/* the agent's, by OP_* */
	"Pids", "Stats", "Update", "Pause", "Resume" };

typedef struct {
	TtrpcCall *c;
	char *id;
	int op;			/* OP_* */
	int setmem;		/* Update: gives a memory limit, memlimit */
	int64_t memlimit;
} Op;

/* the exec whose process has guest pid gpid, NULL for none */
static const char *
execofpid(Task *t, uint32_t gpid)
{
	(void)t;
	(void)gpid;
	return NULL;	/* no exec processes yet */
}

static void
pidsreply(TtrpcCall *c, Task *t, const AgentResp *ar)
{
	TaskPid *p;
	Pb pb = { 0 };
	size_t i;

	p = ecalloc(ar->npids ? ar->npids : 1, sizeof(*p));
	for (i = 0; i < ar->npids; i++) {
		p[i].pid = ar->pids[i];
		p[i].execid = t ? execofpid(t, ar->pids[i]) : NULL;
	}
	pb_pidsresp(&pb, p, ar->npids);
	ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
	free(p);
}

static void
opdone(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	Op *op = arg;
	Task *t = findtask(op->id);
	AgentResp ar;
	char err[ERRLEN], esc[ERRLEN];
	Pb pb = { 0 };

	if (t && (op->op == OP_PAUSE || op->op == OP_RESUME))
		t->pausecall = 0;
	if (code != RPC_OK) {	/* the guest's words, escaped */
		seterr(err, "%s: %s", opmethod[op->op], msg && msg[0] ?
		    escape(esc, sizeof(esc), msg, strlen(msg)) : "the agent failed");
		ttrpc_reply(op->c, code, err, NULL, 0);
	} else if (op->op == OP_PIDS || op->op == OP_STATS) {
		if (pr_agentresp(resp, n, &ar) < 0 || (op->op == OP_STATS &&
		    !ar.stats)) {
			seterr(err, "the agent's %s reply is malformed",
			    opmethod[op->op]);
			glog(LWARN, "task %s: %s", op->id, err);
			ttrpc_reply(op->c, RPC_INTERNAL, err, NULL, 0);
		} else if (op->op == OP_PIDS) {
			pidsreply(op->c, t, &ar);
		} else {
			pb_statsresp(&pb, ar.stats, 0);
			ttrpc_reply(op->c, RPC_OK, NULL, pb.b, pb.n);
			pb_free(&pb);
		}
		agentresp_free(&ar);
	} else {
		/* Update, Pause, Resume: the state follows, containerd hears */
		if (t && op->setmem)
			t->memlimit = op->memlimit;
		if (t && t->state == T_RUNNING && op->op != OP_UPDATE) {
			t->paused = op->op == OP_PAUSE;
			trace(t->paused ? "paused" : "resumed", t);
			taskevent(t, t->paused ? TEV_PAUSED : TEV_RESUMED);
		}
		ttrpc_reply(op->c, RPC_OK, NULL, NULL, 0);
	}
	free(op->id);
	free(op);
}

/* the agent call of op for t, with json and its resources s (Update) */
static void
opcall(TtrpcCall *c, Task *t, int op, const char *json, size_t jsonlen,
    const OciSpec *s)
{
	AgentReq r;
	Op *o;

	memset(&r, 0, sizeof(r));
	r.id = t->id;
	r.config = (char *)json;
	r.configlen = jsonlen;
	o = ecalloc(1, sizeof(*o));
	o->c = c;
	o->id = estrdup(t->id);
	o->op = op;
	if (s && (s->resset & OCI_RMEM)) {
		o->setmem = 1;
		o->memlimit = s->memlimit;
	}
	if (sandbox_call(S.sb, opmethod[op], &r, agent_timeout_ms, opdone, o) < 0) {
		ttrpc_reply(c, RPC_UNAVAILABLE, "cannot reach the agent", NULL, 0);
		free(o->id);
		free(o);
		return;
	}
	if (op == OP_PAUSE || op == OP_RESUME)
		t->pausecall = 1;
}

/* the task a Pids, Stats, Pause, Resume or Update request names */
static Task *
optask(TtrpcCall *c, int ok, TaskOp *r)
{
	char msg[ERRLEN];
	Task *t;

	if (!ok) {
		ttrpc_reply(c, RPC_INVALID, "malformed request", NULL, 0);
		return NULL;
	}
	if (!(t = findtask(r->id))) {
		seterr(msg, "task %s not found", r->id);
		ttrpc_reply(c, RPC_NOTFOUND, msg, NULL, 0);
	} else if (t->state == T_CREATING) {
		ttrpc_reply(c, RPC_PRECONDITION, "task is not created yet", NULL, 0);
	} else {
		return t;
	}
	taskop_free(r);
	return NULL;
}

static void
tstats(TtrpcCall *c, const uint8_t *req, size_t n)
{
	TaskOp r;
	Task *t;

	if (!(t = optask(c, pr_taskid(req, n, &r) == 0, &r)))
		return;
	opcall(c, t, OP_STATS, NULL, 0, NULL);
	taskop_free(&r);
}

/* a memory limit past the VM's RAM: said, since the VM cannot grow */
static void
memcheck(Task *t, const OciSpec *s)
{
	if (!(s->resset & OCI_RMEM) || s->memlimit < 0 || !S.vmmemmib ||
	    (uint64_t)s->memlimit / (1 << 20) <= S.vmmemmib)
		return;
	glog(LWARN, "task %s: memory limit %lld MiB is more than the VM's "
	    "%u MiB: the VM cannot grow, so the container gets at most what "
	    "the VM has", t->id, (long long)(s->memlimit >> 20), S.vmmemmib);
}

/*
 * linux.resources as JSON, applied by the agent to the container's
 * cgroup; as runc's shim, created, running and paused tasks take it.
 * It is read here too: a malformed one is refused with json.c's
 * message, and a memory limit cannot give the container more than the
 * VM has.
 */
static void
tupdate(TtrpcCall *c, const uint8_t *req, size_t n)
{
	char err[ERRLEN];
	OciSpec s;
	TaskOp r;
	Task *t;

	if (!(t = optask(c, pr_taskupdate(req, n, &r) == 0, &r)))
		return;
	if (t->state == T_STOPPED) {
		ttrpc_reply(c, RPC_PRECONDITION, "cannot update a stopped container",
		    NULL, 0);
	} else if (r.anyurl && strcmp(r.anyurl, TASK_URL_RESOURCES)) {
		seterr(err, "resources of type %.100s: husk takes "
		    TASK_URL_RESOURCES, r.anyurl);
		ttrpc_reply(c, RPC_INVALID, err, NULL, 0);
	} else if (!r.json || !r.jsonlen) {
		ttrpc_reply(c, RPC_INVALID, "no resources in the update request",
		    NULL, 0);
	} else if (oci_parse_resources(&s, r.json, r.jsonlen, err) < 0) {
		ttrpc_reply(c, RPC_INVALID, err, NULL, 0);
	} else {
		memcheck(t, &s);
		opcall(c, t, OP_UPDATE, r.json, r.jsonlen, &s);
		oci_free(&s);
	}
	taskop_free(&r);
}

/* the guest cgroup's freezer; the states and refusals are runc's shim's */
static void
freezer(TtrpcCall *c, const uint8_t *req, size_t n, int op)
{
	int pause = op == OP_PAUSE;
	const char *no = NULL;
	TaskOp r;
	Task *t;

	if (!(t = optask(c, pr_taskid(req, n, &r) == 0, &r)))
		return;
	if (t->pausecall)
		no = "a pause or resume of the task is in progress";
	else if (t->state == T_CREATED)
		no = pause ? "cannot pause task in created state" :
		    "cannot resume task in created state";
	else if (t->state == T_STOPPED)
		no = pause ? "cannot pause a stopped container" :
		    "cannot resume a stopped container";
	else if (t->paused == pause)
		no = pause ? "cannot pause a paused container" :
		    "cannot resume a running process";
	if (no)
		ttrpc_reply(c, RPC_PRECONDITION, no, NULL, 0);
	else
		opcall(c, t, op, NULL, 0, NULL);
	taskop_free(&r);
}

static void
tpause(TtrpcCall *c, const uint8_t *req, size_t n)
{
	freezer(c, req, n, OP_PAUSE);
}

static void
tresume(TtrpcCall *c, const uint8_t *req, size_t n)
{
	freezer(c, req, n, OP_RESUME);
}

static void
tcheckpoint(TtrpcCall *c, const uint8_t *req, size_t n)
{
	(void)req;
	(void)n;
	ttrpc_reply(c, RPC_UNIMPLEMENTED, "husk cannot checkpoint a task: its "
	    "processes live in a VM, out of reach of CRIU on the host", NULL, 0);
}

/*
 * OOM kills: one agent Oom call waits while the sandbox is up (timeout
 * none), answered with the id of a container whose cgroup saw an OOM
 * kill; each answer becomes TaskOOM, and the call is made again. After
 * a failure, or more answers than a Ratelimit lets through at once, the
 * next call waits oom_retry_ms, so a guest cannot make husk spin; a lost
 * link ends the watch, as does an agent without the method.
 */
static void
oomagain(Watch *w, uint32_t ev)
{
	uint64_t x;

	(void)ev;
	if (read(w->fd, &x, sizeof(x)) < 0 && errno == EAGAIN)
		return;
	oomwatch();
}

static void
oomlater(void)
{
	S.oomw.fn = oomagain;
	if (loop_timer(&S.oomw, oom_retry_ms * 1000000ull) < 0)
		logmsg(LWARN, "OOM watch: a timer:");
}

static void
oomdone(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	char id[2 * NAME_MAX];
	AgentResp ar;
	Task *t;

	(void)arg;
	S.oomwait = 0;
	if (code == RPC_UNIMPLEMENTED) {
		logmsg(LINFO, "the agent reports no OOM kills: %s", msg ? msg : "");
		S.oomoff = 1;
	} else if (code == RPC_UNAVAILABLE || sandbox_state(S.sb) != SB_UP) {
		logmsg(LDEBUG, "OOM watch: the agent link is gone");
	} else if (code != RPC_OK) {
		glog(LINFO, "OOM watch: the agent's Oom call failed: %s (code %d)",
		    msg ? escape(id, sizeof(id), msg, strlen(msg)) : "", code);
		oomlater();
	} else if (pr_agentresp(resp, n, &ar) < 0) {
		glog(LWARN, "OOM watch: the agent's Oom reply is malformed");
		oomlater();
	} else {
		if (ar.id && (t = findtask(ar.id))) {
			glog(LINFO, "task %s: a process was killed for memory "
			    "in the guest", t->id);
			taskevent(t, TEV_OOM);
		} else {
			glog(LWARN, "OOM watch: the agent reports an OOM kill in "
			    "'%s', no task of this shim", ar.id ? escape(id,
			    sizeof(id), ar.id, strlen(ar.id)) : "");
		}
		agentresp_free(&ar);
		if (ratelimit(&S.oomrl))
			oomwatch();
		else
			oomlater();
	}
}

static void
oomwatch(void)
{
	if (S.oomwait || S.oomoff || sandbox_state(S.sb) != SB_UP)
		return;
	if (sandbox_call(S.sb, "Oom", NULL, 0, oomdone, NULL) == 0)
		S.oomwait = 1;
}

/* a stopped task has no processes left to list */
static void
tpids(TtrpcCall *c, const uint8_t *req, size_t n)
{
	TaskOp r;
	Task *t;

	if (!(t = optask(c, pr_taskid(req, n, &r) == 0, &r)))
		return;
	if (t->state == T_STOPPED)
		ttrpc_reply(c, RPC_OK, NULL, NULL, 0);
	else
		opcall(c, t, OP_PIDS, NULL, 0, NULL);
	taskop_free(&r);
}

/* stdin's EOF travels through the FIFO itself: nothing to do here */
static void
tcloseio(TtrpcCall *c, const uint8_t *req, size_t n)
{
	TaskReq r;

	if (reqtask(c, req, n, TREQ_CLOSEIO, &r)) {
		ttrpc_reply(c, RPC_OK, NULL, NULL, 0);
		taskreq_free(&r);
	}
}

static void
tconnect(TtrpcCall *c, const uint8_t *req, size_t n)
{
	TaskReq r;
	Task *t;
	Pb pb = { 0 };

	if (pr_taskreq(req, n, TREQ_PLAIN, &r) < 0) {
		ttrpc_reply(c, RPC_INVALID, "malformed request", NULL, 0);
		return;
	}
	t = findtask(r.id);
	pb_connectresp(&pb, getpid(), t ? t->pid : 0, "husk " VERSION);
	ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
	taskreq_free(&r);
}

static void
tshutdown(TtrpcCall *c, const uint8_t *req, size_t n)
{
	(void)req;
	(void)n;
	ttrpc_reply(c, RPC_OK, NULL, NULL, 0);
	if (!S.tasks)
		S.quit = 1;	/* the loop ends after this batch */
}

static void
tlater(TtrpcCall *c, const uint8_t *req, size_t n)
{
	(void)req;
	(void)n;
	ttrpc_reply(c, RPC_UNIMPLEMENTED, "not implemented by husk yet "
	    "(exec, pty, pause, resume, checkpoint, update and stats come later)",
	    NULL, 0);
}

const TtrpcMethod task_methods[] = {
	{ TASK_SERVICE, "Create",     tcreate },
	{ TASK_SERVICE, "Start",      tstart },
	{ TASK_SERVICE, "State",      tstate },
	{ TASK_SERVICE, "Wait",       twait },
	{ TASK_SERVICE, "Kill",       tkill },
	{ TASK_SERVICE, "Delete",     tdelete },
	{ TASK_SERVICE, "Pids",       tpids },
	{ TASK_SERVICE, "CloseIO",    tcloseio },
	{ TASK_SERVICE, "Connect",    tconnect },
	{ TASK_SERVICE, "Shutdown",   tshutdown },
	{ TASK_SERVICE, "Exec",       tlater },
	{ TASK_SERVICE, "ResizePty",  tlater },
	{ TASK_SERVICE, "Pause",      tpause },
	{ TASK_SERVICE, "Resume",     tresume },
	{ TASK_SERVICE, "Checkpoint", tcheckpoint },
	{ TASK_SERVICE, "Update",     tupdate },
	{ TASK_SERVICE, "Stats",      tstats },
};
const size_t task_nmethods = LEN(task_methods);

void
task_init(Sandbox *sb, const SandboxConfig *vm, const char *ns,
    const char *ttrpcaddr)
{
	S.sb = sb;
	S.vm = *vm;
	S.ns = ns;
	S.ttrpcaddr = ttrpcaddr;
	S.t0 = nowns();
	sandbox_onup(sb, sandboxup, NULL);
	sandbox_ondown(sb, sandboxdown, NULL);
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("a private mount namespace:");
}

int
task_done(void)
{
	return S.quit;
}
