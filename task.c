/* See LICENSE file for copyright and license details. */
/*
 * The containerd.task.v2.Task service: the task table, each task's
 * processes, their state, the calls waiting on them, and the events
 * containerd hears.
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
 * Every request gets an answer. Calls that need the agent (Create, Exec,
 * Start, Kill, Delete, ResizePty) answer when the agent does; Wait
 * answers at the exit, which the agent reports only after the process's
 * output reached the FIFOs and they were closed.
 *
 * A task's init and each of its exec processes is a Proc (the section
 * "Processes"): streams, state, waiters, exit, the call in progress.
 * Start, Kill, Wait, Delete, State, ResizePty and CloseIO name one by
 * task id and exec id (none: the init) and treat both alike; what is
 * the task's own (its bundle, pid, pod, limits, pause state, execs) is
 * in Task, and exec processes have their section before the method
 * table.
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
enum {
	MAXEXEC = 1024,		/* exec processes of one task, as the agent's */
	MAXLIVEEXEC = 960	/* execs not stopped, in the sandbox: each holds
				 * an agent Wait, and the agent's ttrpc holds at
				 * most 1024 unanswered calls (ttrpc.c) */
};

typedef struct Task Task;
typedef struct Proc Proc;

/* a process containerd names: a task's init, or one of its execs */
struct Proc {
	Task *t;			/* its task */
	char *execid;			/* NULL: the task's init */
	uintptr_t serial;		/* names it to agent replies (procbyserial) */
	char *fin, *fout, *ferr;	/* stdio FIFO paths */
	int terminal;			/* a pty: stdin and stdout streams only */
	int state;			/* T_* */
	uint32_t gpid;			/* the process in the guest */
	uint32_t status;		/* its exit status, once T_STOPPED */
	uint64_t exitedat;		/* ns since the epoch */
	uint32_t ports[3];		/* stdio streams */
	TtrpcCall *call;		/* the Create/Exec, Start or Delete in progress */
	TtrpcCall **waiters;		/* Waits, answered at the exit */
	size_t nwait;
	int deleting;			/* a Delete waits for the exit */
	Proc *next;			/* an exec: its task's next one */
};

struct Task {
	char *id, *bundle;
	char *config;
	size_t configlen;
	uint32_t pid;			/* husk's own (see procmade) */
	Proc init;			/* the container's process */
	char *pod;			/* the pod sandbox's task it joins, or NULL */
	int64_t memlimit;		/* its spec's, -1 none */
	int paused;			/* frozen in the guest (Pause) */
	int pausecall;			/* a Pause or Resume waits for the agent */
	Proc *execs;			/* its exec processes */
	size_t nexec;
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
	uintptr_t nextserial;	/* the next Proc's serial; 0 names none */
	int oomwait, oomoff;	/* an Oom call in flight; the agent has none */
	Watch oomw;		/* asks again after a failed Oom call */
	Ratelimit oomrl;	/* how fast OOM reports ask again at once */
} S = { .nextserial = 1, .oomw = { -1, NULL, NULL, 0 } };

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

/* a process of t: its init for execid NULL or "", else an exec or NULL */
static Proc *
findproc(Task *t, const char *execid)
{
	Proc *p;

	if (!execid || !execid[0])
		return &t->init;
	for (p = t->execs; p && strcmp(p->execid, execid); p = p->next)
		;
	return p;
}

/* the process id and execid name, or an answer saying why there is none */
static Proc *
procof(TtrpcCall *c, const char *id, const char *execid)
{
	char msg[ERRLEN];
	Task *t;
	Proc *p;

	if (!(t = findtask(id)))
		seterr(msg, "task %s not found", id);
	else if (!(p = findproc(t, execid)))
		seterr(msg, "exec process %s not found in task %s", execid, id);
	else
		return p;
	ttrpc_reply(c, RPC_NOTFOUND, msg, NULL, 0);
	return NULL;
}

/* the request's process; r is freed when there is none */
static Proc *
reqproc(TtrpcCall *c, const uint8_t *req, size_t n, int kind, TaskReq *r)
{
	Proc *p;

	if (pr_taskreq(req, n, kind, r) < 0) {
		ttrpc_reply(c, RPC_INVALID, "malformed request", NULL, 0);
		return NULL;
	}
	if (!(p = procof(c, r->id, r->execid)))
		taskreq_free(r);
	return p;
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

/*
 * Processes: a task's init and its exec processes alike.
 *
 * A Proc lives from Create or Exec, which make it in the guest
 * (procmake, procmade), to Delete, which removes it there and here
 * (tdelete, procremoved; TaskDelete). Made, it has an agent Wait in
 * flight (timeout none) that reports its exit (procwaitdone,
 * procstopped): TaskExit, its waiters answered, and a Delete that
 * waited for the exit goes on. Start runs it (tstart, procstarted).
 * The containerd call it holds (call) and its Waits are answered, also
 * when it is freed (procfree).
 *
 * Agent replies find their process by serial number, not by pointer
 * (procreply): the process, or its task, may be gone when one arrives.
 *
 * Where the two differ, p->execid says which it is: the init's are the
 * events TaskCreate and TaskStart, a Delete of the init ends its task
 * (taskfree), an exec's are TaskExecAdded and TaskExecStarted.
 */
static void oomwatch(void);
static void procfinishdelete(Proc *p);

/* the process as requests' error messages name it */
static const char *
procnoun(const Proc *p)
{
	return p->execid ? "exec process" : "task";
}

/* the process as the log names it */
static const char *
procname(char *buf, const Proc *p)
{
	if (p->execid)
		snprintf(buf, ERRLEN, "task %s: exec %s", p->t->id, p->execid);
	else
		snprintf(buf, ERRLEN, "task %s", p->t->id);
	return buf;
}

/* an agent call's process, NULL when it is gone */
static Proc *
procreply(void *arg)
{
	uintptr_t serial = (uintptr_t)arg;
	Task *t;
	Proc *p;

	for (t = S.tasks; t; t = t->next) {
		if (t->init.serial == serial)
			return &t->init;
		for (p = t->execs; p; p = p->next)
			if (p->serial == serial)
				return p;
	}
	return NULL;
}

/* an agent request about p; the method's own fields are the caller's */
static void
procreq(AgentReq *r, const Proc *p)
{
	memset(r, 0, sizeof(*r));
	r->id = p->t->id;
	r->execid = p->execid;
}

/* an agent call about p, answered to done with p's serial */
static int
proccall(Proc *p, const char *method, const AgentReq *r, unsigned timeoutms,
    TtrpcDone done)
{
	return sandbox_call(S.sb, method, r, timeoutms, done,
	    (void *)p->serial);
}

/* a task event of kind (TEV_*) about p */
static void
procevent(Proc *p, int kind)
{
	TaskEvent e = { 0 };
	Pb ev = { 0 };

	e.cid = p->t->id;
	e.execid = p->execid;
	e.pid = p->t->pid;
	e.status = p->status;
	e.exitedat = p->exitedat;
	pb_taskevent(&ev, kind, &e);
	publish(taskev_topic(kind), taskev_name(kind), &ev);
}

/* streams the guest never opened; a stream it opened is the device's */
static void
closestdio(Proc *p)
{
	int i;

	for (i = 0; i < 3; i++) {
		if (p->ports[i])
			sandbox_unport(S.sb, p->ports[i]);
		p->ports[i] = 0;
	}
}

static int
openstdio(Proc *p, char *err)
{
	const char *path[3];
	int i;

	path[0] = p->fin;
	path[1] = p->fout;
	path[2] = p->terminal ? NULL : p->ferr;	/* the pty's output is stdout */
	for (i = 0; i < 3; i++) {
		if (sandbox_stdio(S.sb, i, path[i], &p->ports[i], err) < 0) {
			closestdio(p);
			return -1;
		}
	}
	return 0;
}

/* p's streams and memory; its waiters and call hear it is gone */
static void
procfree(Proc *p)
{
	char msg[ERRLEN];
	size_t i;

	closestdio(p);
	seterr(msg, "%s deleted", procnoun(p));
	for (i = 0; i < p->nwait; i++)
		ttrpc_reply(p->waiters[i], RPC_NOTFOUND, msg, NULL, 0);
	if (p->call)
		ttrpc_reply(p->call, RPC_ABORTED, msg, NULL, 0);
	free(p->waiters);
	free(p->execid);
	free(p->fin);
	free(p->fout);
	free(p->ferr);
}

static void
execfree(Proc *e)
{
	Proc **pp;

	for (pp = &e->t->execs; *pp && *pp != e; pp = &(*pp)->next)
		;
	if (*pp) {
		*pp = e->next;
		e->t->nexec--;
	}
	procfree(e);
	free(e);
}

static void
taskfree(Task *t)
{
	Task **pp;

	for (pp = &S.tasks; *pp && *pp != t; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = t->next;
	while (t->execs)
		execfree(t->execs);
	procfree(&t->init);
	sandbox_share_remove(S.sb, &t->root);
	rootfs_umount(&t->root);
	free(t->id);
	free(t->bundle);
	free(t->config);
	free(t->pod);
	free(t);
}

/* a Create that cannot go on: answer it and forget the task */
static void
createfail(Task *t, int code, const char *msg)
{
	TtrpcCall *c = t->init.call;

	t->init.call = NULL;
	logmsg(LWARN, "create %s: %s", t->id, msg);
	ttrpc_reply(c, code, msg, NULL, 0);
	taskfree(t);
}

static void
procwaitreply(TtrpcCall *c, Proc *p)
{
	Pb pb = { 0 };

	pb_waitresp(&pb, p->status, p->exitedat);
	ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
}

/* p's process is gone: status as the agent saw it */
static void
procstopped(Proc *p, uint32_t status)
{
	size_t i;

	if (p->state == T_STOPPED)
		return;
	p->state = T_STOPPED;
	p->status = status;
	p->exitedat = realns();
	if (p->execid)
		logmsg(LDEBUG, "task %s: exec %s exited, status %u", p->t->id,
		    p->execid, status);
	else
		trace("exited", p->t);
	procevent(p, TEV_EXIT);
	for (i = 0; i < p->nwait; i++)
		procwaitreply(p->waiters[i], p);
	p->nwait = 0;
	if (p->deleting)
		procfinishdelete(p);
}

static void
procwaitdone(void *arg, int code, const char *msg, const uint8_t *resp,
    size_t n)
{
	Proc *p = procreply(arg);
	char who[ERRLEN];
	AgentResp ar;
	uint32_t status = 128 + SIGKILL;

	if (!p)
		return;
	if (code != RPC_OK || pr_agentresp(resp, n, &ar) < 0) {
		logmsg(LWARN, "%s: wait: %s: reported as killed", procname(who, p),
		    code != RPC_OK && msg ? msg : "malformed reply");
	} else {
		status = ar.status;
		agentresp_free(&ar);
	}
	procstopped(p, status);
}

/* the agent made p's process (Create, Exec): answer, tell, wait for it */
static void
procmade(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	Proc *p = procreply(arg);
	TtrpcCall *c;
	Task *t;
	const char *why;
	char err[ERRLEN], who[ERRLEN];
	AgentResp ar;
	AgentReq r;
	Pb pb = { 0 }, ev = { 0 };

	if (!p)
		return;
	t = p->t;
	if (code != RPC_OK || pr_agentresp(resp, n, &ar) < 0) {
		why = code != RPC_OK ? (msg && msg[0] ? msg : "the agent failed") :
		    "the agent's reply is malformed";
		code = code != RPC_OK ? code : RPC_INTERNAL;
		if (!p->execid) {
			seterr(err, "%s", why);
			createfail(t, code, err);
			return;
		}
		seterr(err, "exec %s: %s", p->execid, why);
		logmsg(LINFO, "task %s: %s", t->id, err);
		c = p->call;
		p->call = NULL;
		ttrpc_reply(c, code, err, NULL, 0);
		execfree(p);
		return;
	}
	p->gpid = ar.pid;
	agentresp_free(&ar);
	logmsg(LDEBUG, "%s: pid %u in the guest", procname(who, p), p->gpid);
	c = p->call;
	p->call = NULL;
	p->state = T_CREATED;
	if (p->execid) {
		ttrpc_reply(c, RPC_OK, NULL, NULL, 0);
		procevent(p, TEV_EXECADDED);
	} else {
		/*
		 * containerd and the tools behind it (ps, nsenter, crictl
		 * inspect) read the pid as a host process: the guest's pid
		 * would name a host process of the guest's choosing. The
		 * sandbox's host process is husk itself, as with Kata,
		 * whose VMM is its shim.
		 */
		t->pid = getpid();
		trace("created in the guest", t);
		pb_createresp(&pb, t->pid);
		ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
		pb_free(&pb);
		pb_taskcreate(&ev, t->id, t->bundle, p->fin, p->fout, p->ferr,
		    p->terminal, t->pid);
		publish("/tasks/create", "TaskCreate", &ev);
	}
	procreq(&r, p);
	if (proccall(p, "Wait", &r, 0, procwaitdone) < 0)
		procstopped(p, 128 + SIGKILL);
	if (!p->execid)
		oomwatch();
}

/* the agent's Create (the init, its task's spec) or Exec (spec json) */
static int
procmake(Proc *p, const char *json, size_t jsonlen)
{
	AgentReq r;

	procreq(&r, p);
	r.sandbox = p->execid ? NULL : p->t->pod;
	r.config = (char *)json;
	r.configlen = jsonlen;
	r.iport = p->ports[0];
	r.oport = p->ports[1];
	r.eport = p->ports[2];
	r.terminal = p->terminal;
	return proccall(p, p->execid ? "Exec" : "Create", &r, agent_timeout_ms,
	    procmade);
}

static void
procstarted(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	Proc *p = procreply(arg);
	TtrpcCall *c;
	Pb pb = { 0 }, ev = { 0 };

	(void)resp;
	(void)n;
	if (!p)
		return;
	c = p->call;
	p->call = NULL;
	if (code != RPC_OK) {
		ttrpc_reply(c, code, msg && msg[0] ? msg : "the agent failed", NULL, 0);
		return;
	}
	if (!p->execid)
		trace("started", p->t);
	if (p->state == T_CREATED)
		p->state = T_RUNNING;
	pb_startresp(&pb, p->t->pid);
	ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
	if (p->execid) {
		procevent(p, TEV_EXECSTARTED);
	} else {
		pb_taskstart(&ev, p->t->id, p->t->pid);
		publish("/tasks/start", "TaskStart", &ev);
	}
}

static void
procremoved(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	Proc *p = procreply(arg);
	TtrpcCall *c;
	char who[ERRLEN];
	Pb pb = { 0 };

	(void)resp;
	(void)n;
	if (!p)
		return;
	if (code != RPC_OK)
		logmsg(LINFO, "%s: agent remove: %s", procname(who, p),
		    msg ? msg : "");
	c = p->call;
	p->call = NULL;
	pb_deleteresp(&pb, p->t->pid, p->status, p->exitedat);
	if (!p->execid)
		trace("removed", p->t);
	if (c)
		ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
	procevent(p, TEV_DELETE);
	if (p->execid)
		execfree(p);
	else
		taskfree(p->t);	/* its execs too */
}

static void
procfinishdelete(Proc *p)
{
	AgentReq r;

	p->deleting = 0;
	procreq(&r, p);
	if (proccall(p, "Remove", &r, agent_timeout_ms, procremoved) < 0)
		procremoved((void *)p->serial, RPC_UNAVAILABLE, "no agent", NULL, 0);
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
			if (t->init.state == T_CREATING)
				createfail(t, RPC_UNAVAILABLE, "no connection to the agent");
		}
		return;
	}
	for (t = S.tasks; t; t = next) {
		next = t->next;
		if (t->init.state == T_CREATING && procmake(&t->init, t->config,
		    t->configlen) < 0)
			createfail(t, RPC_UNAVAILABLE, "cannot reach the agent");
	}
}

/* the VM is gone: t's execs with it */
static void
execsdown(Task *t)
{
	Proc *e, *next;

	for (e = t->execs; e; e = next) {
		next = e->next;
		if (e->state == T_CREATING) {
			if (e->call)
				ttrpc_reply(e->call, RPC_UNAVAILABLE,
				    "the sandbox VM stopped", NULL, 0);
			e->call = NULL;
			execfree(e);
		} else {
			procstopped(e, 128 + SIGKILL);
		}
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
		if (t->init.state == T_CREATING) {
			createfail(t, RPC_UNAVAILABLE, msg);
			continue;
		}
		execsdown(t);
		procstopped(&t->init, 128 + SIGKILL);
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
 * agent need; at most the machine limits. A network namespace the spec
 * names by path (the CNI's, made before the pod's sandbox container) is
 * the pod's network: podnet.c wires the VM's NIC into it. Without a
 * path the guest has no NIC, as a container in a new netns has only lo.
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
	if (c.tapfd < 0 && (c.netns = oci_netns(s)))
		logmsg(LDEBUG, "sandbox: the pod's netns %s", c.netns);
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
	if (first->init.state == T_STOPPED) {
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

	memset(&s, 0, sizeof(s));
	if (pr_taskreq(req, n, TREQ_CREATE, &r) < 0) {
		ttrpc_reply(c, RPC_INVALID, "malformed CreateTaskRequest", NULL, 0);
		return;
	}
	t = ecalloc(1, sizeof(*t));
	t->id = r.id;
	trace("create", t);
	t->bundle = r.bundle && r.bundle[0] ? r.bundle : estrdup(".");
	t->init.t = t;
	t->init.serial = S.nextserial++;
	t->init.fin = r.fin;
	t->init.fout = r.fout;
	t->init.ferr = r.ferr;
	r.id = r.bundle = r.fin = r.fout = r.ferr = NULL;
	t->init.call = c;
	t->init.terminal = r.terminal;
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
	t->init.state = T_CREATING;
	if (sandbox_state(S.sb) == SB_NONE && sandboxboot(&s, err) < 0) {
		oci_free(&s);
		taskreq_free(&r);
		createfail(t, RPC_INTERNAL, err);
		return;
	}
	if (openstdio(&t->init, err) < 0) {
		oci_free(&s);
		taskreq_free(&r);
		createfail(t, RPC_INVALID, err);
		return;
	}
	if (t->pod)
		overcommit(t);
	oci_free(&s);
	taskreq_free(&r);
	if (sandbox_state(S.sb) == SB_UP && procmake(&t->init, t->config,
	    t->configlen) < 0)
		createfail(t, RPC_UNAVAILABLE, "cannot reach the agent");
	return;	/* SB_BOOTING: sandboxup() sends it */
fail:
	oci_free(&s);
	taskreq_free(&r);
	createfail(t, code, err);
}

/* Start, Kill, Wait, Delete and State: a task's init and execs alike */
static void
tstart(TtrpcCall *c, const uint8_t *req, size_t n)
{
	char msg[ERRLEN];
	AgentReq a;
	TaskReq r;
	Proc *p;

	if (!(p = reqproc(c, req, n, TREQ_PLAIN, &r)))
		return;
	if (!p->execid)
		trace("start", p->t);
	if (p->state != T_CREATED || p->call || p->deleting) {
		seterr(msg, "%s %s", procnoun(p), p->state == T_CREATING ?
		    "is being created" : "was started already");
		ttrpc_reply(c, RPC_PRECONDITION, msg, NULL, 0);
	} else {
		p->call = c;
		procreq(&a, p);
		if (proccall(p, "Start", &a, agent_timeout_ms, procstarted) < 0) {
			p->call = NULL;
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
	Proc *p;

	if (!(p = reqproc(c, req, n, TREQ_KILL, &r)))
		return;
	if (p->state == T_STOPPED) {
		ttrpc_reply(c, RPC_NOTFOUND, "process already finished", NULL, 0);
	} else if (p->state == T_CREATING || (!p->execid && !sandbox_agent(S.sb))) {
		ttrpc_reply(c, RPC_PRECONDITION, p->execid ?
		    "exec process is being created" : "task is not created yet",
		    NULL, 0);
	} else {
		procreq(&a, p);
		a.signal = r.signal;
		a.all = r.all;	/* the agent heeds it for the init only */
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
	Proc *p;

	if (!(p = reqproc(c, req, n, TREQ_PLAIN, &r)))
		return;
	if (p->state == T_STOPPED) {
		procwaitreply(c, p);
	} else {
		p->waiters = erealloc(p->waiters, (p->nwait + 1) * sizeof(*p->waiters));
		p->waiters[p->nwait++] = c;
	}
	taskreq_free(&r);
}

static void
tdelete(TtrpcCall *c, const uint8_t *req, size_t n)
{
	char msg[ERRLEN];
	AgentReq a;
	TaskReq r;
	Proc *p;

	if (!(p = reqproc(c, req, n, TREQ_PLAIN, &r)))
		return;
	trace("delete", p->t);
	if (p->call || p->deleting || p->state == T_CREATING) {
		seterr(msg, "%s is busy with another request", procnoun(p));
		ttrpc_reply(c, RPC_PRECONDITION, msg, NULL, 0);
	} else if (p->state == T_RUNNING) {
		seterr(msg, "%s is running: kill it first", procnoun(p));
		ttrpc_reply(c, RPC_PRECONDITION, msg, NULL, 0);
	} else if (p->state == T_CREATED) {
		/* never started: end it, then remove it */
		p->call = c;
		p->deleting = 1;
		procreq(&a, p);
		a.signal = SIGKILL;
		if (proccall(p, "Signal", &a, agent_timeout_ms, ttrpc_ignore) < 0)
			procstopped(p, 128 + SIGKILL);
	} else {
		p->call = c;
		procfinishdelete(p);
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
	Proc *p;
	Task *t;
	Pb pb = { 0 };

	if (!(p = reqproc(c, req, n, TREQ_PLAIN, &r)))
		return;
	t = p->t;
	memset(&st, 0, sizeof(st));
	st.id = p->execid ? p->execid : t->id;
	st.execid = p->execid;
	st.bundle = t->bundle;
	st.pid = t->pid;
	st.status = status[p->state];
	if (!p->execid && p->state == T_RUNNING && (t->paused || t->pausecall))
		st.status = t->paused ? TSTATUS_PAUSED : TSTATUS_PAUSING;
	st.fin = p->fin;
	st.fout = p->fout;
	st.ferr = p->ferr;
	st.terminal = p->terminal;
	st.exitstatus = p->status;
	if (p->state == T_STOPPED)
		st.exitedat = p->exitedat;
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
 * procmade says. Kata lists only its VMM's pid, which says
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
	Proc *e;

	for (e = t->execs; e; e = e->next)
		if (e->gpid == gpid && e->state != T_STOPPED)
			return e->execid;
	return NULL;
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
		if (t && t->init.state == T_RUNNING && op->op != OP_UPDATE) {
			t->paused = op->op == OP_PAUSE;
			trace(t->paused ? "paused" : "resumed", t);
			procevent(&t->init, t->paused ? TEV_PAUSED : TEV_RESUMED);
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
	} else if (t->init.state == T_CREATING) {
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
	if (t->init.state == T_STOPPED) {
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
	else if (t->init.state == T_CREATED)
		no = pause ? "cannot pause task in created state" :
		    "cannot resume task in created state";
	else if (t->init.state == T_STOPPED)
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
			procevent(&t->init, TEV_OOM);
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
	if (t->init.state == T_STOPPED)
		ttrpc_reply(c, RPC_OK, NULL, NULL, 0);
	else
		opcall(c, t, OP_PIDS, NULL, 0, NULL);
	taskop_free(&r);
}

/*
 * stdin's EOF travels through the FIFO itself, for the task and each
 * exec, with or without a terminal: containerd's clients (ctr's cio,
 * CRI's exec) close their end of the FIFO before CloseIO, and the vsock
 * device passes the EOF on once every byte before it reached the guest.
 * An agent CloseIO here could cut stdin short: it ends the stream at
 * what the guest holds, while the host may still hold more.
 */
static void
tcloseio(TtrpcCall *c, const uint8_t *req, size_t n)
{
	TaskReq r;

	if (reqproc(c, req, n, TREQ_CLOSEIO, &r)) {
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

/*
 * Exec processes and terminals.
 *
 * An exec is a process in a running task's container: a Proc, as the
 * task's init is, in the task's list, named by its exec id, and the
 * agent's process of the same id. Exec makes it in the guest (waiting,
 * TaskExecAdded), Start runs it (TaskExecStarted), the agent's Wait
 * reports its exit (TaskExit with the exec id), Delete removes it in the
 * guest and here (TaskDelete): the section "Processes". A task holds at
 * most MAXEXEC, the sandbox at most MAXLIVEEXEC not yet stopped; a
 * task's delete ends its execs.
 *
 * Pids: as the task reports husk's own pid (see procmade), so does each
 * exec, in StartResponse, TaskExecStarted and State; the guest pid is in
 * the debug log.
 *
 * A terminal (Create's or Exec's terminal:true): the agent gives the
 * process a pty whose input is the stdin stream and whose output, stdout
 * and stderr together, is the stdout stream; containerd names no stderr
 * FIFO then. ResizePty sets the pty's size through the agent.
 */

/* execs of the sandbox not stopped: each has its agent Wait in flight */
static size_t
liveexecs(void)
{
	Task *t;
	Proc *e;
	size_t n = 0;

	for (t = S.tasks; t; t = t->next)
		for (e = t->execs; e; e = e->next)
			n += e->state != T_STOPPED;
	return n;
}

/* ExecProcessRequest: the process's OCI spec goes to the agent as is */
static void
texec(TtrpcCall *c, const uint8_t *req, size_t n)
{
	TaskOp r;
	Task *t;
	Proc *e;
	char err[ERRLEN];
	int code = RPC_INVALID;

	if (pr_taskexec(req, n, &r) < 0) {
		ttrpc_reply(c, RPC_INVALID, "malformed ExecProcessRequest", NULL, 0);
		return;
	}
	if (!(t = findtask(r.id))) {
		code = RPC_NOTFOUND;
		seterr(err, "task %s not found", r.id);
	} else if (!validid(r.execid)) {
		seterr(err, "invalid exec id '%s'", r.execid);
	} else if (findproc(t, r.execid)) {
		code = RPC_EXISTS;
		seterr(err, "exec process %s already exists in task %s",
		    r.execid, t->id);
	} else if (t->nexec >= MAXEXEC) {
		code = RPC_EXHAUSTED;
		seterr(err, "task %s has %d exec processes: delete some first",
		    t->id, MAXEXEC);
	} else if (liveexecs() >= MAXLIVEEXEC) {
		code = RPC_EXHAUSTED;
		seterr(err, "the sandbox runs %d exec processes: no more until "
		    "some end", MAXLIVEEXEC);
	} else if (!r.json || !r.jsonlen) {
		seterr(err, "exec process %s: the request has no process spec",
		    r.execid);
	} else if (t->paused || t->pausecall) {
		code = RPC_PRECONDITION;	/* runc's shim's words */
		seterr(err, "cannot exec in a paused state");
	} else if (t->init.state != T_RUNNING || t->init.deleting ||
	    !sandbox_agent(S.sb)) {
		code = RPC_PRECONDITION;
		seterr(err, "task %s is not running", t->id);
	} else {
		code = RPC_OK;
	}
	if (code != RPC_OK) {
		ttrpc_reply(c, code, err, NULL, 0);
		taskop_free(&r);
		return;
	}
	e = ecalloc(1, sizeof(*e));
	e->t = t;
	e->serial = S.nextserial++;
	e->execid = r.execid;
	e->fin = r.fin;
	e->fout = r.fout;
	e->ferr = r.ferr;
	r.execid = r.fin = r.fout = r.ferr = NULL;
	e->terminal = r.terminal;
	e->state = T_CREATING;
	e->next = t->execs;
	t->execs = e;
	t->nexec++;
	if (openstdio(e, err) < 0) {
		ttrpc_reply(c, RPC_INVALID, err, NULL, 0);
		execfree(e);
		taskop_free(&r);
		return;
	}
	e->call = c;
	if (procmake(e, r.json, r.jsonlen) < 0) {
		e->call = NULL;
		ttrpc_reply(c, RPC_UNAVAILABLE, "cannot reach the agent", NULL, 0);
		execfree(e);
	}
	taskop_free(&r);
}

/* a process without a terminal has no size to set: fine, as with runc */
static void
tresize(TtrpcCall *c, const uint8_t *req, size_t n)
{
	TaskOp r;
	AgentReq a;
	Proc *p;

	if (pr_taskresize(req, n, &r) < 0) {
		ttrpc_reply(c, RPC_INVALID, "malformed ResizePtyRequest", NULL, 0);
		return;
	}
	if (!(p = procof(c, r.id, r.execid))) {
		taskop_free(&r);
		return;
	}
	if (!p->terminal || p->state == T_STOPPED) {
		ttrpc_reply(c, RPC_OK, NULL, NULL, 0);
	} else if (p->state == T_CREATING) {
		ttrpc_reply(c, RPC_PRECONDITION, "process is being created", NULL, 0);
	} else {
		procreq(&a, p);
		a.width = r.width;
		a.height = r.height;
		if (sandbox_call(S.sb, "ResizePty", &a, agent_timeout_ms,
		    agentsignaldone, c) < 0)
			ttrpc_reply(c, RPC_UNAVAILABLE, "cannot reach the agent",
			    NULL, 0);
	}
	taskop_free(&r);
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
	{ TASK_SERVICE, "Exec",       texec },
	{ TASK_SERVICE, "ResizePty",  tresize },
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
