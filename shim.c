/* See LICENSE file for copyright and license details. */
/*
 * husk: a containerd shim v2 whose sandboxes are KVM microVMs.
 *
 * One process per sandbox is both the shim containerd talks to and the
 * virtual machine monitor. Start reading here, then:
 *
 *   vmm.c     the VM: KVM ioctls, guest memory, the boot of a vmlinux,
 *             one thread per vCPU, the serial port
 *   virtio.c  the virtio-mmio transport and virtqueues (the guest is hostile)
 *   vsock.c   the virtio-vsock device; each connection is a host fd
 *   ttrpc.c   containerd's ttrpc, client and server, non-blocking
 *   proto.c   the protobuf wire format and the messages husk uses
 *   util.c    messages, I/O helpers and the epoll loop
 *   agent/    PID 1 of the guest, serving the agent API over vsock
 *
 * All I/O of this process runs in one epoll loop (util.c) on the main
 * thread; the vCPU threads only run KVM_RUN and the register accesses that
 * cannot be eventfds. The shim talks to the agent with ttrpc over a vsock
 * connection whose host end is one half of a socketpair.
 *
 * Commands: the shim's own (`start`, `delete` and the server they fork,
 * called by containerd with Go-style flags), `husk run` (a container
 * without containerd, through the same Task service), and `husk boot`
 * (boot a VM, ask the agent for its health, power off: the smallest whole
 * path).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "husk.h"
#include "config.h"

extern const unsigned char agent_bin[], agent_end[];


static void
usage(void)
{
	die("usage: husk boot [-nv] [-m MiB] [-c vCPUs] [-k vmlinux] "
	    "[-i initramfs] [-a kernel-args] [-l console-log] [-t timeout-ms]\n"
	    "       husk run [-v] [-m MiB] [-c vCPUs] [-k vmlinux] ROOTFS CMD [ARG...]\n"
	    "       containerd-shim-husk-v2 -namespace NS -address ADDR -id ID "
	    "[-publish-binary PATH] [-bundle DIR] [-debug] start|delete");
}

/* one entry of a newc cpio archive */
static void
cpioent(Pb *b, const char *name, unsigned mode, unsigned rmaj, unsigned rmin,
    const void *data, size_t n)
{
	static const char zero[4];
	static unsigned ino = 1;
	char hdr[128];
	size_t nl = strlen(name) + 1;

	snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X"
	    "%08X%08X%08X%08X%08X%08X", ino++, mode, 0, 0, 1, 0,
	    (unsigned)n, 0, 0, rmaj, rmin, (unsigned)nl, 0);
	pb_raw(b, hdr, 110);
	pb_raw(b, name, nl);
	pb_raw(b, zero, (4 - (110 + nl) % 4) % 4);
	if (n) {
		pb_raw(b, data, n);
		pb_raw(b, zero, (4 - n % 4) % 4);
	}
}

/* the initramfs: the agent as /init and a /dev/console for its stdio */
static void
initramfs(Pb *b)
{
	cpioent(b, "dev", 040755, 0, 0, NULL, 0);
	cpioent(b, "dev/console", 020600, 5, 1, NULL, 0);
	cpioent(b, "init", 0100755, 0, 0, agent_bin, agent_end - agent_bin);
	cpioent(b, "TRAILER!!!", 0, 0, 0, NULL, 0);
}

static int
readpath(const char *path, Pb *b, char *err)
{
	char buf[65536];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		seterr(err, "%s:", path);
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		pb_raw(b, buf, n);
	if (n < 0)
		seterr(err, "read %s:", path);
	close(fd);
	return n < 0 ? -1 : 0;
}

/*
 * The connection to the agent: husk connects to the guest's vsock port;
 * until the agent listens the guest refuses, so try again every 2 ms
 * (the owner bounds the whole with its own timer).
 */
typedef struct {
	Vsock *vs;
	Ttrpc *t;		/* the agent, once up */
	int peerfd;		/* our end of the connection being made */
	int tries, stopped;
	Watch retryw;
	void (*up)(void *arg);	/* t is ready, or NULL: it could not be made */
	void *arg;
} Link;

static void link_try(Link *l);

static void
linkclosed(Ttrpc *t, void *arg)
{
	Link *l = arg;

	ttrpc_close(t);
	if (l->t == t)
		l->t = NULL;
}

static void
linkconnected(void *arg, int err)
{
	Link *l = arg;
	int fd = l->peerfd;

	l->peerfd = -1;
	if (l->stopped) {
		close(fd);
		return;
	}
	if (err) {
		close(fd);
		loop_timer(&l->retryw, 2000000);
		return;
	}
	if (!(l->t = ttrpc_new(fd, NULL, 0, l))) {
		warn("agent connection:");
		close(fd);
		l->stopped = 1;
		l->up(l->arg);
		return;
	}
	ttrpc_onclose(l->t, linkclosed);
	l->up(l->arg);
}

static void
linkretry(Watch *w, uint32_t ev)
{
	Link *l = w->arg;
	uint64_t x;

	(void)ev;
	if (read(w->fd, &x, sizeof(x)) < 0 && errno != EAGAIN)
		return;
	if (!l->stopped)
		link_try(l);
}

static void
link_try(Link *l)
{
	int sv[2];

	l->tries++;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		warn("socketpair:");
		l->stopped = 1;
		l->up(l->arg);
		return;
	}
	l->peerfd = sv[1];
	if (vsock_connect(l->vs, AGENT_PORT, sv[0], sv[0], linkconnected, l) < 0) {
		warn("vsock connect to the agent:");
		close(sv[0]);
		close(sv[1]);
		l->peerfd = -1;
		l->stopped = 1;
		l->up(l->arg);
	}
}

static void
link_start(Link *l, Vsock *vs, void (*up)(void *), void *arg)
{
	memset(l, 0, sizeof(*l));
	l->vs = vs;
	l->peerfd = -1;
	l->retryw.fd = -1;
	l->retryw.fn = linkretry;
	l->retryw.arg = l;
	l->up = up;
	l->arg = arg;
	link_try(l);
}

/*
 * The sandbox and the containerd.task.v2.Task service.
 *
 * One sandbox (VM) per shim process, booted by the first Create. The
 * shim works in a private mount namespace (made at start), so every
 * mount it makes (the rootfs containerd hands over, the shared tmpfs, the
 * bind of each container's root) is invisible to the host and gone when
 * the process is. The shared directory <bundle>/husk-shared is a tmpfs
 * holding one bind mount per container, <id> -> its root; virtio-fs
 * serves it with tag "husk" and the agent mounts it at /run/husk/fs.
 *
 * Stdio: the FIFOs containerd names are opened here and given to the
 * vsock device as the backends of the streams the agent will open to
 * three host ports (vsock_expect); from then on the device moves the
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
enum { T_CREATING, T_CREATED, T_RUNNING, T_STOPPED };
enum { VM_NONE, VM_BOOTING, VM_UP, VM_DEAD };
#define EVENTS_SERVICE	"containerd.services.events.ttrpc.v1.Events"
#define SHARED		"husk-shared"	/* in the first bundle */

typedef struct Task Task;
struct Task {
	char *id, *bundle, *fin, *fout, *ferr;
	char *config;
	size_t configlen;
	int state;
	uint32_t pid, status;		/* pid: husk's own (see agentcreatedone) */
	uint32_t gpid;			/* the process in the guest */
	uint64_t exitedat;		/* ns since the epoch */
	uint32_t ports[3];
	TtrpcCall *call;		/* the Create, Start or Delete in progress */
	TtrpcCall **waiters;
	size_t nwait;
	int deleting;
	int rootmounted;		/* <bundle>/rootfs mounted by us */
	char shared[PATH_MAX];		/* the bind of the root in the share */
	size_t nbinds;			/* OCI mounts, for <shared>.m<i> */
	char *bound;			/* [nbinds]: 1 where husk mounted <shared>.m<i> */
	Task *next;
};

static struct {
	const char *ns, *ttrpcaddr;
	char sock[108];
	const char *kernel;
	unsigned memmib, ncpus;
	int vmstate;
	Vm *vm;
	Vsock *vs;
	Vfs *fs;
	Link link;
	char shared[PATH_MAX];
	Watch exitw, bootw, lsnw;
	Task *tasks;
	Ttrpc *events;
	int quit;
	uint64_t t0;		/* when serving began, for the debug trace */
} S;

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
	    10000000000ull, evdone, (void *)topic) < 0)
		logmsg(LWARN, "event %s: cannot send", topic);
	pb_free(&pb);
	pb_free(ev);
}

/* the host paths of bind mounts, shared as <shared>.m<i>, gone */
static void
unbind(Task *t)
{
	char path[PATH_MAX + 32];
	size_t i;

	for (i = 0; i < t->nbinds && t->bound; i++) {
		if (!t->bound[i])
			continue;	/* not ours, whatever the guest put there */
		snprintf(path, sizeof(path), "%s.m%zu", t->shared, i);
		share_umount(path);
		t->bound[i] = 0;
	}
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
		if (t->ports[i] && S.vs)
			vsock_unexpect(S.vs, t->ports[i]);
	unbind(t);
	if (t->shared[0])
		share_umount(t->shared);
	if (t->rootmounted) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/rootfs", t->bundle);
		umount2(path, MNT_DETACH);
	}
	for (i = 0; i < t->nwait; i++)
		ttrpc_reply(t->waiters[i], RPC_NOTFOUND, "task deleted", NULL, 0);
	if (t->call)
		ttrpc_reply(t->call, RPC_ABORTED, "task deleted", NULL, 0);
	free(t->waiters);
	free(t->bound);
	free(t->id);
	free(t->bundle);
	free(t->fin);
	free(t->fout);
	free(t->ferr);
	free(t->config);
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

	pb_uint(&pb, 1, t->status);
	pb_time(&pb, 2, t->exitedat);
	ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
}

static void finishdelete(Task *t);

/* the task's process is gone: status as the agent saw it */
static void
stopped(Task *t, uint32_t status)
{
	Pb ev = { 0 };
	size_t i;

	if (t->state == T_STOPPED)
		return;
	t->state = T_STOPPED;
	t->status = status;
	t->exitedat = realns();
	trace("exited", t);
	pb_str(&ev, 1, t->id);
	pb_str(&ev, 2, t->id);
	pb_uint(&ev, 3, t->pid);
	pb_uint(&ev, 4, t->status);
	pb_time(&ev, 5, t->exitedat);
	publish("/tasks/exit", "TaskExit", &ev);
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
agentcall(Task *t, const char *method, uint32_t signal, uint64_t timeoutms,
    TtrpcDone done)
{
	AgentReq r;
	Pb pb = { 0 };
	int st;

	if (!S.link.t)
		return -1;
	memset(&r, 0, sizeof(r));
	r.id = t->id;
	r.signal = signal;
	if (!strcmp(method, "Create")) {
		r.config = t->config;
		r.configlen = t->configlen;
		r.iport = t->ports[0];
		r.oport = t->ports[1];
		r.eport = t->ports[2];
	}
	pb_agentreq(&pb, &r);
	st = ttrpc_call(S.link.t, AGENT_SERVICE, method, pb.b, pb.n,
	    timeoutms * 1000000ull, done, t);
	pb_free(&pb);
	return st;
}

static void
agentcreatedone(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	Task *t = arg;
	TtrpcCall *c = t->call;
	char err[ERRLEN];
	AgentResp ar;
	Pb pb = { 0 }, ev = { 0 };
	size_t io;

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
	pb_uint(&pb, 1, t->pid);
	ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
	pb_str(&ev, 1, t->id);
	pb_str(&ev, 2, t->bundle);
	io = pb_open(&ev, 4);
	pb_str(&ev, 1, t->fin);
	pb_str(&ev, 2, t->fout);
	pb_str(&ev, 3, t->ferr);
	pb_close(&ev, io);
	pb_uint(&ev, 6, t->pid);
	publish("/tasks/create", "TaskCreate", &ev);
	if (agentcall(t, "Wait", 0, 0, agentwaitdone) < 0)
		stopped(t, 128 + SIGKILL);
}

/* the agent answers: create the tasks that waited for it */
static void
sandboxup(void *arg)
{
	Task *t, *next;

	(void)arg;
	if (S.vmstate != VM_BOOTING)
		return;
	trace("the agent answers", NULL);
	loop_timer(&S.bootw, 0);
	if (!S.link.t) {
		S.vmstate = VM_DEAD;
		for (t = S.tasks; t; t = next) {
			next = t->next;
			if (t->state == T_CREATING)
				createfail(t, RPC_UNAVAILABLE, "no connection to the agent");
		}
		return;
	}
	S.vmstate = VM_UP;
	for (t = S.tasks; t; t = next) {
		next = t->next;
		if (t->state == T_CREATING && agentcall(t, "Create", 0,
		    agent_timeout_ms, agentcreatedone) < 0)
			createfail(t, RPC_UNAVAILABLE, "cannot reach the agent");
	}
}

/* the VM is gone: whatever it ran is gone too */
static void
sandboxdown(const char *why)
{
	Task *t, *next;
	char msg[ERRLEN];

	S.vmstate = VM_DEAD;
	S.link.stopped = 1;
	loop_timer(&S.bootw, 0);
	/* the console (escaped) only when the guest did not power off */
	if (vmm_state(S.vm, NULL, 0) == VM_POWEROFF)
		logmsg(LINFO, "sandbox: %s", why);
	else
		logmsg(LWARN, "sandbox: %s; last console output:\n%s", why,
		    vmm_console(S.vm));
	if (S.link.t) {
		ttrpc_close(S.link.t);	/* pending agent calls end UNAVAILABLE */
		S.link.t = NULL;
	}
	seterr(msg, "the sandbox VM stopped: %s", why);
	for (t = S.tasks; t; t = next) {
		next = t->next;
		if (t->state == T_CREATING)
			createfail(t, RPC_UNAVAILABLE, msg);
		else if (t->state != T_STOPPED)
			stopped(t, 128 + SIGKILL);
	}
}

static void
vmexitcb(Watch *w, uint32_t ev)
{
	char why[ERRLEN];

	(void)ev;
	loop_del(w);
	vmm_state(S.vm, why, sizeof(why));
	sandboxdown(why);
}

static void
boottimecb(Watch *w, uint32_t ev)
{
	char why[ERRLEN];
	uint64_t x;

	(void)ev;
	if (read(w->fd, &x, sizeof(x)) < 0 && errno != EAGAIN)
		return;
	if (S.vmstate != VM_BOOTING)
		return;
	seterr(why, "the agent did not answer within %u ms of boot",
	    agent_timeout_ms);
	sandboxdown(why);
}

static int
sandboxboot(uint64_t memlimit, char *err)
{
	VmConfig cfg;
	Pb initrd = { 0 };
	unsigned memmib = S.memmib;
	char name[PATH_MAX];
	Task *t;
	size_t i;

	if (memlimit > 0 && memlimit / (1 << 20) + 64 > memmib)
		memmib = MIN(memlimit / (1 << 20) + 64, vm_maxmemmib);
	if (sc_process(1, husk_nofile, husk_oomadj, err) < 0)
		goto fail;
	memset(&cfg, 0, sizeof(cfg));
	cfg.memmib = memmib;
	cfg.ncpus = S.ncpus;
	cfg.kernel = S.kernel;
	cfg.cmdline = vm_cmdline;
	cfg.consolefd = loglevel >= LDEBUG ? 2 : -1;
	cfg.hugepages = vm_hugepages;
	initramfs(&initrd);
	cfg.initrd = initrd.b;
	cfg.initrdlen = initrd.n;
	if (!(S.vm = vmm_new(&cfg, err)))
		goto fail;
	if (!(S.vs = vsock_new(vmm_mem(S.vm), vsock_guestcid))) {
		seterr(err, "vsock device:");
		goto fail;
	}
	if (vmm_add_device(S.vm, vsock_dev(S.vs), err) < 0)
		goto fail;
	if (!(S.fs = vfs_new(vmm_mem(S.vm), S.shared, "husk", err)))
		goto fail;
	vfs_seal(S.fs);	/* the share's entries are husk's: none planted */
	/* host bind mounts: no guest owners, set-ID bits or devices there */
	for (t = S.tasks; t; t = t->next)
		for (i = 0; i < t->nbinds && t->bound; i++) {
			if (!t->bound[i])
				continue;
			snprintf(name, sizeof(name), "%s.m%zu", t->id, i);
			vfs_hostentry(S.fs, name);
		}
	if (vmm_add_device(S.vm, vfs_dev(S.fs), err) < 0)
		goto fail;
	S.exitw.fd = vmm_exitfd(S.vm);
	S.exitw.fn = vmexitcb;
	if (loop_add(&S.exitw, EPOLLIN) < 0) {
		seterr(err, "epoll:");
		goto fail;
	}
	if (vmm_start(S.vm, err) < 0)
		goto fail;
	if (sc_husk(SC_LOOP, err) < 0)	/* a VM runs: no way back */
		die("%s", err);
	trace("the VM starts", NULL);
	pb_free(&initrd);
	S.vmstate = VM_BOOTING;
	S.bootw.fn = boottimecb;
	loop_timer(&S.bootw, agent_timeout_ms * 1000000ull);
	link_start(&S.link, S.vs, sandboxup, NULL);
	return 0;
fail:
	pb_free(&initrd);
	S.vmstate = VM_DEAD;
	return -1;
}

/* a file of the bundle, whole, NUL-terminated */
static char *
slurp(const char *dir, const char *name, size_t max, size_t *len, char *err)
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

/* containerd's rootfs mount, if it gave one, at <bundle>/rootfs */
static int
mountrootfs(Task *t, const TaskReq *r, char *err)
{
	char path[PATH_MAX], data[4096];
	unsigned long flags;
	const TaskMount *m;

	if (!r->nrootfs)
		return 0;
	if (r->nrootfs > 1) {
		seterr(err, "rootfs: %zu mounts; husk takes one", r->nrootfs);
		return -1;
	}
	m = &r->rootfs[0];
	snprintf(path, sizeof(path), "%s/rootfs", t->bundle);
	mkdir(path, 0711);
	mountopts(m->options, &flags, data, sizeof(data));
	if (mount(m->source ? m->source : "none", path, m->type ? m->type : "",
	    flags, data[0] ? data : NULL) < 0) {
		seterr(err, "rootfs: mount %s (%s) on %s:", m->source ? m->source : "",
		    m->type ? m->type : "", path);
		return -1;
	}
	t->rootmounted = 1;
	return 0;
}

/*
 * A bind mount of a host path reaches the guest through the share: the
 * source is bound at <shared>/<id>.m<i> (i its index in the spec's
 * mounts), read-only there too when the mount is, and the agent binds
 * that in its place. A source that is not on the host is left to the
 * agent (a guest path).
 */
static int
sharebinds(Task *t, const OciSpec *s, char *err)
{
	char path[PATH_MAX + 32], data[1024];
	unsigned long flags;
	struct stat st;
	const OciMount *m;
	size_t i;
	int fd;

	t->nbinds = s->nmounts;
	t->bound = ecalloc(s->nmounts, 1);
	for (i = 0; i < s->nmounts; i++) {
		m = &s->mounts[i];
		mountopts(m->options, &flags, data, sizeof(data));
		if (m->type && !strcmp(m->type, "bind"))
			flags |= MS_BIND;
		if (!(flags & MS_BIND) || !m->source || m->source[0] != '/' ||
		    stat(m->source, &st) < 0)
			continue;
		snprintf(path, sizeof(path), "%s.m%zu", t->shared, i);
		if (S_ISDIR(st.st_mode) ? mkdir(path, 0755) < 0 :
		    (fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0644)) < 0 || close(fd) < 0)
			goto fail;
		if (mount(m->source, path, NULL, MS_BIND | (flags & MS_REC), NULL) < 0) {
			int e = errno;

			if (rmdir(path) < 0)
				unlink(path);
			errno = e;
			goto fail;
		}
		t->bound[i] = 1;
		if (S.fs)	/* else sandboxboot marks it */
			vfs_hostentry(S.fs, strrchr(path, '/') + 1);
		if ((flags & MS_RDONLY) && share_readonly(path, err) < 0) {
			unbind(t);
			return -1;
		}
	}
	return 0;
fail:
	seterr(err, "mount %s: bind %s:", m->dest, m->source);
	unbind(t);
	return -1;
}

/* the container's root into the share: <shared>/<id> */
static int
share(Task *t, const OciSpec *s, char *err)
{
	char root[PATH_MAX];

	if (!s->rootpath || !s->rootpath[0]) {
		seterr(err, "config.json: root.path is missing");
		return -1;
	}
	if (s->rootpath[0] == '/')
		snprintf(root, sizeof(root), "%s", s->rootpath);
	else
		snprintf(root, sizeof(root), "%s/%s", t->bundle, s->rootpath);
	if (!S.shared[0]) {
		snprintf(S.shared, sizeof(S.shared), "%s/" SHARED, t->bundle);
		if (share_mount(S.shared, share_maxbytes, share_maxinodes, err) < 0) {
			S.shared[0] = '\0';
			return -1;
		}
	}
	if (snprintf(t->shared, sizeof(t->shared), "%s/%s", S.shared, t->id) >=
	    (int)sizeof(t->shared)) {
		seterr(err, "bundle path too long");
		t->shared[0] = '\0';
		return -1;
	}
	if (mkdir(t->shared, 0755) < 0 || mount(root, t->shared, NULL,
	    MS_BIND | MS_REC, NULL) < 0) {
		seterr(err, "root %s:", root);
		rmdir(t->shared);
		t->shared[0] = '\0';
		return -1;
	}
	/* root.readonly holds on the host too, not only in the guest */
	if (s->rootro && share_readonly(t->shared, err) < 0)
		return -1;
	return sharebinds(t, s, err);
}

/*
 * A stdio stream's host port: unpredictable. A container may open
 * AF_VSOCK (runc's defaults and containerd's profile allow socket()), and
 * a port it could guess is a stream it could take before the agent does.
 */
static uint32_t
streamport(void)
{
	uint32_t p = 0;
	Task *t;
	int i, taken;

	do {
		if (getrandom(&p, sizeof(p), 0) != sizeof(p))
			p = (uint32_t)(nowns() * 2654435761u);
		taken = p <= AGENT_PORT || p == UINT32_MAX;	/* VMADDR_PORT_ANY */
		for (t = S.tasks; t && !taken; t = t->next)
			for (i = 0; i < 3; i++)
				taken |= t->ports[i] == p;
	} while (taken);
	return p;
}

/* a stdio FIFO to the vsock device, as the backend of the next stream to port */
static int
stdiofifo(Task *t, int i, const char *path, char *err)
{
	int fd;

	if (!path || !path[0])
		return 0;
	/*
	 * containerd's output FIFOs are opened read-write, as its runc shim
	 * keeps a reader of its own: the FIFO outlives a ctr that goes and
	 * comes back (the container waits). husk run hands over its own
	 * pipes as /proc/self/fd/N, write-only, so that a reader
	 * going away ends the stream and the writer gets SIGPIPE, as in a
	 * shell pipeline.
	 */
	if ((fd = open(path, (i == 0 ? O_RDONLY : strncmp(path, "/proc/self/fd/",
	    14) ? O_RDWR : O_WRONLY) | O_NONBLOCK | O_CLOEXEC)) < 0) {
		seterr(err, "%s %s:", i == 0 ? "stdin" : i == 1 ? "stdout" :
		    "stderr", path);
		return -1;
	}
	t->ports[i] = streamport();
	if (vsock_expect(S.vs, t->ports[i], i == 0 ? fd : -1, i == 0 ? -1 : fd) < 0) {
		seterr(err, "%s %s: cannot be a stream:", i == 0 ? "stdin" :
		    i == 1 ? "stdout" : "stderr", path);
		close(fd);
		return -1;
	}
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
	if (S.tasks) {
		seterr(err, "husk runs one container per sandbox for now");
		goto fail;
	}
	if (r.terminal) {
		seterr(err, "terminal (tty) containers are not supported by husk yet");
		goto fail;
	}
	if (r.checkpoint) {
		seterr(err, "husk cannot restore checkpoints");
		goto fail;
	}
	code = RPC_INVALID;
	if (!(t->config = slurp(t->bundle, "config.json", OCI_MAXJSON,
	    &t->configlen, err)))
		goto fail;
	if (oci_parse(&s, t->config, t->configlen, err) < 0)
		goto fail;
	if (!s.hasprocess || !s.args[0]) {
		seterr(err, "config.json: process.args is empty: nothing to run");
		goto fail;
	}
	code = RPC_PRECONDITION;
	if (S.vmstate == VM_DEAD) {
		seterr(err, "the sandbox VM has stopped");
		goto fail;
	}
	if (access(S.kernel, R_OK) < 0) {
		seterr(err, "guest kernel %s:%s", S.kernel, errno == ENOENT ?
		    " not found (build it with kernel/build, or set HUSK_KERNEL)" : "");
		goto fail;
	}
	code = RPC_INTERNAL;
	if (mountrootfs(t, &r, err) < 0 || share(t, &s, err) < 0)
		goto fail;
	t->next = S.tasks;
	S.tasks = t;
	t->state = T_CREATING;
	if (S.vmstate == VM_NONE && sandboxboot(s.memlimit, err) < 0) {
		oci_free(&s);
		taskreq_free(&r);
		createfail(t, RPC_INTERNAL, err);
		return;
	}
	for (i = 0; i < 3; i++) {
		if (stdiofifo(t, i, i == 0 ? t->fin : i == 1 ? t->fout : t->ferr,
		    err) < 0) {
			oci_free(&s);
			taskreq_free(&r);
			createfail(t, RPC_INVALID, err);
			return;
		}
	}
	oci_free(&s);
	taskreq_free(&r);
	if (S.vmstate == VM_UP && agentcall(t, "Create", 0, agent_timeout_ms,
	    agentcreatedone) < 0)
		createfail(t, RPC_UNAVAILABLE, "cannot reach the agent");
	return;	/* VM_BOOTING: sandboxup() sends it */
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
	pb_uint(&pb, 1, t->pid);
	ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
	pb_str(&ev, 1, t->id);
	pb_uint(&ev, 2, t->pid);
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
	Pb pb = { 0 };

	if (!(t = reqtask(c, req, n, TREQ_KILL, &r)))
		return;
	if (t->state == T_STOPPED) {
		ttrpc_reply(c, RPC_NOTFOUND, "process already finished", NULL, 0);
	} else if (t->state == T_CREATING || !S.link.t) {
		ttrpc_reply(c, RPC_PRECONDITION, "task is not created yet", NULL, 0);
	} else {
		memset(&a, 0, sizeof(a));
		a.id = t->id;
		a.signal = r.signal;
		a.all = r.all;
		pb_agentreq(&pb, &a);
		if (ttrpc_call(S.link.t, AGENT_SERVICE, "Signal", pb.b, pb.n,
		    agent_timeout_ms * 1000000ull, agentsignaldone, c) < 0)
			ttrpc_reply(c, RPC_UNAVAILABLE, "cannot reach the agent", NULL, 0);
		pb_free(&pb);
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
	Pb pb = { 0 }, ev = { 0 };

	(void)resp;
	(void)n;
	if (code != RPC_OK)
		logmsg(LINFO, "task %s: agent remove: %s", t->id, msg ? msg : "");
	t->call = NULL;
	pb_uint(&pb, 1, t->pid);
	pb_uint(&pb, 2, t->status);
	pb_time(&pb, 3, t->exitedat);
	trace("removed", t);
	if (c)
		ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
	pb_str(&ev, 1, t->id);
	pb_uint(&ev, 2, t->pid);
	pb_uint(&ev, 3, t->status);
	pb_time(&ev, 4, t->exitedat);
	publish("/tasks/delete", "TaskDelete", &ev);
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
	static const int status[] = { 1, 1, 2, 3 };	/* containerd.v1.types.Status */
	TaskReq r;
	Task *t;
	Pb pb = { 0 };

	if (!(t = reqtask(c, req, n, TREQ_PLAIN, &r)))
		return;
	pb_str(&pb, 1, t->id);
	pb_str(&pb, 2, t->bundle);
	pb_uint(&pb, 3, t->pid);
	pb_uint(&pb, 4, status[t->state]);
	pb_str(&pb, 5, t->fin);
	pb_str(&pb, 6, t->fout);
	pb_str(&pb, 7, t->ferr);
	pb_uint(&pb, 9, t->status);
	if (t->state == T_STOPPED)
		pb_time(&pb, 10, t->exitedat);
	ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
	taskreq_free(&r);
}

static void
tpids(TtrpcCall *c, const uint8_t *req, size_t n)
{
	TaskReq r;
	Task *t;
	Pb pb = { 0 };
	size_t m;

	if (!(t = reqtask(c, req, n, TREQ_PLAIN, &r)))
		return;
	if (t->pid && t->state != T_STOPPED) {
		m = pb_open(&pb, 1);
		pb_uint(&pb, 1, t->pid);
		pb_close(&pb, m);
	}
	ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
	taskreq_free(&r);
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
	pb_uint(&pb, 1, getpid());
	pb_uint(&pb, 2, t ? t->pid : 0);
	pb_str(&pb, 3, "husk " VERSION);
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

#define TASK_SERVICE	"containerd.task.v2.Task"
static const TtrpcMethod taskmethods[] = {
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
	{ TASK_SERVICE, "Pause",      tlater },
	{ TASK_SERVICE, "Resume",     tlater },
	{ TASK_SERVICE, "Checkpoint", tlater },
	{ TASK_SERVICE, "Update",     tlater },
	{ TASK_SERVICE, "Stats",      tlater },
};

/*
 * The shim binary's side of the contract (runtime/v2/README.md): flags
 * as Go's flag package takes them, then start or delete.
 */
typedef struct {
	const char *ns, *address, *publish, *id, *bundle, *action;
	int debug;
} Shimargs;

static void
shimargs(int argc, char *argv[], Shimargs *a)
{
	static const char *names[] = { "namespace", "address", "publish-binary",
	    "id", "bundle", "socket" };
	const char **vals[LEN(names)];
	const char *socket_ = NULL, *v;
	char name[64];
	size_t i, len;
	int k;

	memset(a, 0, sizeof(*a));
	vals[0] = &a->ns; vals[1] = &a->address; vals[2] = &a->publish;
	vals[3] = &a->id; vals[4] = &a->bundle; vals[5] = &socket_;
	for (k = 1; k < argc; k++) {
		if (argv[k][0] != '-') {
			if (a->action)
				die("unexpected argument '%s'", argv[k]);
			a->action = argv[k];
			continue;
		}
		v = argv[k] + 1 + (argv[k][1] == '-');
		len = strcspn(v, "=");
		snprintf(name, sizeof(name), "%.*s", (int)MIN(len, 63), v);
		if (!strcmp(name, "debug") || !strcmp(name, "v")) {
			if (!strcmp(name, "v")) {
				puts("husk " VERSION);
				exit(0);
			}
			a->debug = 1;
			continue;
		}
		for (i = 0; i < LEN(names) && strcmp(names[i], name); i++)
			;
		if (i == LEN(names))
			die("flag provided but not defined: -%s", name);
		if (v[len] == '=')
			*vals[i] = v + len + 1;
		else if (k + 1 < argc)
			*vals[i] = argv[++k];
		else
			die("flag needs an argument: -%s", name);
	}
	if (!a->ns || !a->ns[0])
		a->ns = getenv("NAMESPACE");
	if (!a->ns || !a->ns[0])
		die("-namespace is required");
	if (!a->action)
		die("no action: start or delete");
}

/* where the shim listens: beside containerd's socket, one name per task */
static void
sockpath(const Shimargs *a, char *path, size_t n)
{
	const char *addr = a->address && a->address[0] ? a->address :
	    "/run/containerd/containerd.sock";
	const char *parts[3];
	uint64_t h = 1469598103934665603ull;
	const char *p, *slash;
	int i;

	parts[0] = addr;
	parts[1] = a->ns;
	parts[2] = a->id ? a->id : "";
	for (i = 0; i < 3; i++)
		for (p = parts[i]; ; p++) {	/* FNV-1a, NUL included */
			h = (h ^ (uint8_t)*p) * 1099511628211ull;
			if (!*p)
				break;
		}
	if (!strncmp(addr, "unix://", 7))
		addr += 7;
	slash = strrchr(addr, '/');
	snprintf(path, n, "%.*s/s/husk-%016llx", slash ? (int)(slash - addr) : 0,
	    addr, (unsigned long long)h);
}

static int
listenunix(const char *path)
{
	struct sockaddr_un sa;
	char dir[PATH_MAX];
	int fd, c;

	snprintf(dir, sizeof(dir), "%s", path);
	mkparents(dir, 0711);	/* bind says what went wrong */
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EADDRINUSE)
			goto fail;
		/* a shim that still answers keeps it; a dead one's file goes */
		if ((c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
		    connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(c);
			errno = EADDRINUSE;
			goto fail;
		}
		if (c >= 0)
			close(c);
		unlink(path);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			goto fail;
	}
	if (listen(fd, 64) < 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

static void
connclosed(Ttrpc *t, void *arg)
{
	(void)arg;
	ttrpc_close(t);
}

static void
accepted(Watch *w, uint32_t ev)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	Ttrpc *t;
	int fd;

	(void)ev;
	while ((fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
		    (cr.uid != 0 && cr.uid != geteuid())) {
			logmsg(LWARN, "refused a connection from uid %d",
			    (int)cr.uid);
			close(fd);
			continue;
		}
		if (!(t = ttrpc_new(fd, taskmethods, LEN(taskmethods), NULL))) {
			logmsg(LWARN, "ttrpc:");
			close(fd);
			continue;
		}
		ttrpc_onclose(t, connclosed);
	}
}

/* the serving shim's state, defaults and environment */
static void
shiminit(const char *ns)
{
	const char *k = getenv("HUSK_KERNEL");

	S.ns = ns;
	S.t0 = nowns();
	S.ttrpcaddr = getenv("TTRPC_ADDRESS");
	S.kernel = k && k[0] ? k : vm_kernel;
	S.memmib = vm_memmib;
	S.ncpus = vm_ncpus;
	S.exitw.fd = S.bootw.fd = S.lsnw.fd = -1;
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("a private mount namespace:");
	if (loop_init() < 0)
		die("epoll_create1:");
}

/* run the loop until Shutdown, then let the last replies go out */
static void
shimloop(void)
{
	int i;

	while (!S.quit)
		if (loop_run(-1) < 0)
			die("epoll_wait:");
	for (i = 0; i < 5; i++)
		loop_run(10);
	S.link.stopped = 1;
	if (S.vm)
		vmm_free(S.vm);
}

/* the serving shim: detached, logging to the bundle's log FIFO */
static void
serve(const Shimargs *a, int lfd)
{
	char pid[32];
	int fd;

	setsid();
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		if ((fd = open("log", O_RDWR | O_NONBLOCK | O_CLOEXEC)) >= 0)
			dup2(fd, 2);
		else
			dup2(0, 2);
	}
	argv0 = "husk";
	loglevel = a->debug ? LDEBUG : log_level;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if ((fd = open("shim.pid", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) >= 0) {
		writeall(fd, pid, strlen(pid));
		close(fd);
	}
	shiminit(a->ns);
	S.lsnw.fd = lfd;
	S.lsnw.fn = accepted;
	if (loop_add(&S.lsnw, EPOLLIN) < 0)
		die("epoll_ctl:");
	shimloop();
	unlink(S.sock);
	exit(0);
}

static int
cmdstart(const Shimargs *a)
{
	char addr[sizeof(S.sock) + 8];
	pid_t pid;
	int lfd, fd;

	if (!validid(a->id))
		die("-id '%s': not a valid task id", a->id ? a->id : "");
	sockpath(a, S.sock, sizeof(S.sock));
	snprintf(addr, sizeof(addr), "unix://%s", S.sock);
	if ((lfd = listenunix(S.sock)) < 0) {
		if (errno != EADDRINUSE)
			die("listen on %s:", S.sock);
		fputs(addr, stdout);	/* that shim serves this task */
		return 0;
	}
	if ((fd = open("address", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) < 0 || writeall(fd, addr, strlen(addr)) < 0)
		die("write %s/address:", getcwd(addr, 0));
	close(fd);
	if ((pid = fork()) < 0)
		die("fork:");
	if (pid == 0)
		serve(a, lfd);
	close(lfd);
	fputs(addr, stdout);
	return 0;
}

/* containerd cleans up after a shim that is gone or failed to start */
static int
cmddelete(const Shimargs *a)
{
	char buf[PATH_MAX], err[ERRLEN], path[64], cwd[PATH_MAX];
	size_t n;
	char *s;
	long pid;
	Pb pb = { 0 };

	(void)a;
	if ((s = slurp(".", "shim.pid", 32, &n, err))) {
		pid = strtol(s, NULL, 10);
		snprintf(path, sizeof(path), "/proc/%ld/cwd", pid);
		/* only the shim of this bundle: its cwd is here */
		if (pid > 1 && getcwd(buf, sizeof(buf)) &&
		    realpath(path, cwd) && !strcmp(cwd, buf))
			kill(pid, SIGKILL);
		free(s);
	}
	if ((s = slurp(".", "address", PATH_MAX, &n, err))) {
		if (!strncmp(s, "unix://", 7))
			unlink(s + 7);
		free(s);
	}
	rmdir(SHARED);
	pb_uint(&pb, 2, 128 + SIGKILL);
	pb_time(&pb, 3, realns());
	fwrite(pb.b, 1, pb.n, stdout);
	pb_free(&pb);
	return 0;
}

static int
shimmain(int argc, char *argv[])
{
	Shimargs a;

	shimargs(argc, argv, &a);
	if (a.bundle && a.bundle[0] && chdir(a.bundle) < 0)
		die("bundle %s:", a.bundle);
	if (!strcmp(a.action, "start"))
		return cmdstart(&a);
	if (!strcmp(a.action, "delete"))
		return cmddelete(&a);
	die("unknown action '%s': start or delete", a.action);
	return 1;
}

/*
 * husk run: the containerd path without containerd. A temporary bundle
 * holds a generated config.json and three FIFOs; this process serves the
 * Task service on one end of a socketpair and is its own client on the
 * other, calling Create, Start, Wait and Delete as containerd would, and
 * forked copiers join the FIFOs to husk's own stdio as ctr's do.
 */
typedef struct {
	Ttrpc *c;
	char bundle[64], fifo[3][96];
	const char *id;
	int status, step, finished;
	int pending;		/* the last signal, sent when Start answers */
	int nsig;		/* signals so far */
	pid_t copier[3];
	Watch sigw;
} Run;

static void
jsonstr(Pb *b, const char *s)
{
	char esc[8];

	pb_raw(b, "\"", 1);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\') {
			pb_raw(b, "\\", 1);
			pb_raw(b, s, 1);
		} else if ((unsigned char)*s < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned char)*s);
			pb_raw(b, esc, 6);
		} else {
			pb_raw(b, s, 1);
		}
	}
	pb_raw(b, "\"", 1);
}

static void
jsonraw(Pb *b, const char *s)
{
	pb_raw(b, s, strlen(s));
}

/* the spec ctr would write for `ctr run --rootfs ROOT ID ARGS` */
static void
runspec(Pb *b, const char *root, char **args)
{
	int i;

	jsonraw(b, "{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":false,"
	    "\"user\":{\"uid\":0,\"gid\":0},\"args\":[");
	for (i = 0; args[i]; i++) {
		if (i)
			jsonraw(b, ",");
		jsonstr(b, args[i]);
	}
	jsonraw(b, "],\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
	    "/usr/bin:/sbin:/bin\",\"HOME=/root\"],\"cwd\":\"/\","
	    "\"noNewPrivileges\":true},\"root\":{\"path\":");
	jsonstr(b, root);
	jsonraw(b, "},\"hostname\":\"husk\",\"mounts\":["
	    "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\","
	    "\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
	    "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
	    "\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
	    "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
	    "\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\","
	    "\"mode=0620\"]},"
	    "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\","
	    "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\"]},"
	    "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\","
	    "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]}],"
	    "\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},"
	    "{\"type\":\"uts\"},{\"type\":\"mount\"}]}}");
}

/* copy a FIFO to or from one of husk's own fds, in a child */
static pid_t
copier(const char *fifo, int fd, int tofifo)
{
	char buf[65536];
	ssize_t n;
	pid_t pid;
	int f;

	if ((pid = fork()) != 0)
		return pid;
	signal(SIGPIPE, SIG_DFL);
	if ((f = open(fifo, tofifo ? O_WRONLY : O_RDONLY)) < 0)
		_exit(1);
	if (sc_husk(SC_COPIER, NULL) < 0)
		_exit(1);
	while ((n = read(tofifo ? fd : f, buf, sizeof(buf))) > 0)
		if (writeall(tofifo ? f : fd, buf, n) < 0)
			break;
	_exit(0);
}

static void runcall(Run *r, const char *method);

/* SIGINT, SIGTERM, SIGHUP and SIGQUIT to husk go to the container */
static void
runkill(Run *r, int sig)
{
	Pb pb = { 0 };

	pb_str(&pb, 1, r->id);
	pb_uint(&pb, 3, sig);
	if (ttrpc_call(r->c, TASK_SERVICE, "Kill", pb.b, pb.n, 0, ignorereply, r) < 0)
		warn("kill:");
	pb_free(&pb);
}

static void
runsignal(Watch *w, uint32_t ev)
{
	struct signalfd_siginfo si;
	Run *r = w->arg;

	(void)ev;
	while (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		/* the third one is final: a container may ignore the others */
		r->pending = ++r->nsig >= 3 ? SIGKILL : (int)si.ssi_signo;
		if (r->step >= 2)
			runkill(r, r->pending);
	}
}

static void
rundone(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	Run *r = arg;
	Pr rd;
	Pf f;

	if (code != RPC_OK) {
		warn("%s", msg ? msg : "failed");
		if (r->step < 3)
			r->status = 125;
		r->finished = 1;
		return;
	}
	switch (r->step++) {
	case 0: runcall(r, "Start"); break;
	case 1:
		runcall(r, "Wait");
		if (r->pending)
			runkill(r, r->pending);
		break;
	case 2:
		pr_init(&rd, resp, n);
		while (pr_next(&rd, &f) > 0)
			if (f.field == 1 && f.wt == PB_VARINT)
				r->status = f.u;
		runcall(r, "Delete");
		break;
	default: r->finished = 1; break;
	}
}

static void
runcall(Run *r, const char *method)
{
	Pb pb = { 0 };
	int i;

	pb_str(&pb, 1, r->id);
	if (!strcmp(method, "Create")) {
		pb_str(&pb, 2, r->bundle);
		for (i = 0; i < 3; i++)
			pb_str(&pb, 5 + i, r->fifo[i]);
	}
	if (ttrpc_call(r->c, TASK_SERVICE, method, pb.b, pb.n, 0, rundone, r) < 0)
		die("%s:", method);
	pb_free(&pb);
}

static int
cmdrun(int argc, char *argv[])
{
	static const char *names[] = { "stdin", "stdout", "stderr" };
	char root[PATH_MAX], path[PATH_MAX];
	unsigned long v;
	Pb spec = { 0 };
	Run r;
	Ttrpc *srv;
	struct stat st;
	sigset_t sigs;
	char *end;
	int c, i, fd, sv[2];

	memset(&r, 0, sizeof(r));
	shiminit("husk");
	S.ttrpcaddr = NULL;
	loglevel = LERR;	/* the one failure is reported below; -v for all */
	optind = 1;
	while ((c = getopt(argc, argv, "+vm:c:k:")) != -1) {
		switch (c) {
		case 'v': loglevel = LDEBUG; break;
		case 'm':
			v = strtoul(optarg, &end, 10);
			if (*end || v < 32 || v > vm_maxmemmib)
				die("-m %s: memory must be 32 to %u MiB", optarg, vm_maxmemmib);
			S.memmib = v;
			break;
		case 'c':
			v = strtoul(optarg, &end, 10);
			if (*end || !v || v > (unsigned long)vm_maxcpus)
				die("-c %s: vCPUs must be 1 to %d", optarg, vm_maxcpus);
			S.ncpus = v;
			break;
		case 'k': S.kernel = optarg; break;
		default: goto usage;
		}
	}
	if (argc - optind < 2)
		goto usage;
	if (!realpath(argv[optind], root) || access(root, X_OK) < 0)
		die("rootfs %s:", argv[optind]);
	snprintf(r.bundle, sizeof(r.bundle), "/tmp/husk-run.XXXXXX");
	if (!mkdtemp(r.bundle))
		die("mkdtemp:");
	r.id = "run";
	runspec(&spec, root, argv + optind + 1);
	snprintf(path, sizeof(path), "%s/config.json", r.bundle);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
	    writeall(fd, spec.b, spec.n) < 0)
		die("%s:", path);
	close(fd);
	pb_free(&spec);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGQUIT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);	/* the copiers too: no byte lost */
	for (i = 0; i < 3; i++) {
		/*
		 * pipes go to the VM as they are; the rest through a FIFO
		 * and a copier (a regular file cannot be polled; a tty read
		 * in the background would stop husk, not just the copier)
		 */
		if (fstat(i, &st) == 0 && S_ISFIFO(st.st_mode)) {
			snprintf(r.fifo[i], sizeof(r.fifo[i]), "/proc/self/fd/%d", i);
			r.copier[i] = -1;
			continue;
		}
		snprintf(r.fifo[i], sizeof(r.fifo[i]), "%s/%s", r.bundle, names[i]);
		if (mkfifo(r.fifo[i], 0600) < 0)
			die("mkfifo %s:", r.fifo[i]);
		r.copier[i] = copier(r.fifo[i], i, i == 0);
	}
	r.sigw.fn = runsignal;
	r.sigw.arg = &r;
	if ((r.sigw.fd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    loop_add(&r.sigw, EPOLLIN) < 0)
		die("signalfd:");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		die("socketpair:");
	if (!(srv = ttrpc_new(sv[0], taskmethods, LEN(taskmethods), NULL)) ||
	    !(r.c = ttrpc_new(sv[1], NULL, 0, &r)))
		die("ttrpc:");
	runcall(&r, "Create");
	while (!r.finished)
		if (loop_run(-1) < 0)
			die("epoll_wait:");
	loop_del(&r.sigw);
	close(r.sigw.fd);
	for (i = 0; i < 3; i++) {
		if (r.copier[i] < 0)
			continue;
		if (i == 0 || r.step < 3)	/* FIFOs that may never be opened */
			kill(r.copier[i], SIGKILL);
		waitpid(r.copier[i], NULL, 0);
	}
	ttrpc_close(r.c);
	ttrpc_close(srv);
	S.quit = 1;
	shimloop();
	if (S.shared[0]) {
		umount2(S.shared, MNT_DETACH);
		rmdir(S.shared);
	}
	for (i = 0; i < 3; i++)
		if (r.copier[i] >= 0)
			unlink(r.fifo[i]);
	unlink(path);
	rmdir(r.bundle);
	return r.status;
usage:
	die("usage: husk run [-v] [-m MiB] [-c vCPUs] [-k vmlinux] ROOTFS CMD [ARG...]");
	return 125;
}

enum { CONNECTING, HEALTH, SHUTTING, DONE };

typedef struct {
	Vm *vm;
	Vsock *vs;
	Link link;		/* to the agent */
	int phase;
	int noagent;
	int status;		/* exit status of the command */
	unsigned long timeoutms;	/* boot to agent answering */
	Watch exitw, timew;
	uint64_t t0, tsetup, tready, tdown;
	AgentHealth h;
} Boot;

static double
ms(uint64_t ns)
{
	return ns / 1e6;
}

static void
finish(Boot *b, int status)
{
	b->phase = DONE;
	b->status = status;
}

static void
consoletail(Boot *b)
{
	fprintf(stderr, "%s: last console output:\n%s\n", argv0,
	    vmm_console(b->vm));
}

static void
shutdowndone(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	/* the VM may stop before the reply leaves it: exitw decides */
	(void)arg;
	(void)code;
	(void)msg;
	(void)resp;
	(void)n;
}

static void
healthdone(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	Boot *b = arg;

	if (b->phase != HEALTH)
		return;
	if (code != RPC_OK) {
		warn("agent health check failed: %s (code %d)", msg ? msg : "", code);
		finish(b, 1);
		return;
	}
	if (pr_health(resp, n, &b->h) < 0) {
		warn("agent health check: malformed reply");
		finish(b, 1);
		return;
	}
	b->tready = nowns();
	printf("agent %s: %u CPUs online, %llu MiB memory (%llu MiB available), "
	    "guest uptime %.1f ms\n", b->h.version, b->h.cpus,
	    (unsigned long long)(b->h.memtotal >> 20),
	    (unsigned long long)(b->h.memfree >> 20), ms(b->h.uptimens));
	b->phase = SHUTTING;
	loop_timer(&b->timew, shutdown_timeout_ms * 1000000ull);
	if (ttrpc_call(b->link.t, AGENT_SERVICE, "Shutdown", NULL, 0,
	    shutdown_timeout_ms * 1000000ull, shutdowndone, b) < 0) {
		warn("agent shutdown: cannot send the request");
		finish(b, 1);
	}
}

/* the agent connection is up (or could not be made): ask for its health */
static void
bootup(void *arg)
{
	Boot *b = arg;

	if (b->phase != CONNECTING)
		return;
	if (!b->link.t) {
		finish(b, 1);
		return;
	}
	b->phase = HEALTH;
	if (ttrpc_call(b->link.t, AGENT_SERVICE, "Health", NULL, 0,
	    b->timeoutms * 1000000ull, healthdone, b) < 0) {
		warn("agent health check: cannot send the request");
		finish(b, 1);
	}
}

static void
timecb(Watch *w, uint32_t ev)
{
	Boot *b = w->arg;
	uint64_t x;

	(void)ev;
	if (read(w->fd, &x, sizeof(x)) < 0 && errno != EAGAIN)
		return;
	if (b->phase == SHUTTING)
		warn("the guest did not power off within %u ms of the shutdown request",
		    shutdown_timeout_ms);
	else if (b->noagent)
		warn("the guest did not stop within %lu ms of boot", b->timeoutms);
	else
		warn("the agent did not answer within %lu ms of boot "
		    "(%d connection attempts)", b->timeoutms, b->link.tries);
	consoletail(b);
	finish(b, 1);
}

static void
exitcb(Watch *w, uint32_t ev)
{
	Boot *b = w->arg;
	char why[ERRLEN];
	int st;

	(void)ev;
	loop_del(w);
	b->tdown = nowns();
	st = vmm_state(b->vm, why, sizeof(why));
	if (b->phase == SHUTTING || (b->noagent && st == VM_RESET)) {
		finish(b, 0);
		return;
	}
	if (b->phase == DONE)
		return;
	warn("the guest stopped before the agent answered: %s", why);
	consoletail(b);
	finish(b, 1);
}

static int
cmdboot(int argc, char *argv[])
{
	VmConfig cfg;
	Boot b;
	Pb initrd = { 0 };
	char err[ERRLEN], cmdline[4096];
	const char *kernel = vm_kernel, *initpath = NULL, *append = NULL;
	const char *logpath = NULL;
	unsigned long memmib = vm_memmib, ncpus = vm_ncpus;
	char *end;
	int c, verbose = 0, consolefd = -1;

	memset(&b, 0, sizeof(b));
	b.exitw.fd = b.timew.fd = -1;
	b.timeoutms = agent_timeout_ms;
	optind = 1;
	while ((c = getopt(argc, argv, "nvm:c:k:i:a:l:t:")) != -1) {
		switch (c) {
		case 'n': b.noagent = 1; break;
		case 'v': verbose = 1; break;
		case 'm':
			memmib = strtoul(optarg, &end, 10);
			if (*end || !memmib || memmib < 32 || memmib > vm_maxmemmib)
				die("-m %s: memory must be 32 to %u MiB", optarg,
				    vm_maxmemmib);
			break;
		case 'c':
			ncpus = strtoul(optarg, &end, 10);
			if (*end || !ncpus || ncpus > (unsigned long)vm_maxcpus)
				die("-c %s: vCPUs must be 1 to %d", optarg, vm_maxcpus);
			break;
		case 'k': kernel = optarg; break;
		case 'i': initpath = optarg; break;
		case 'a': append = optarg; break;
		case 'l': logpath = optarg; break;
		case 't':
			b.timeoutms = strtoul(optarg, &end, 10);
			if (*end || !b.timeoutms)
				die("-t %s: the time-out is a number of milliseconds", optarg);
			break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (access(kernel, R_OK) < 0)
		die("kernel %s:%s", kernel, errno == ENOENT ?
		    " not found (build it with kernel/build, or pass -k vmlinux)" :
		    "");
	if (logpath && (consolefd = open(logpath, O_WRONLY | O_CREAT |
	    O_TRUNC | O_CLOEXEC, 0644)) < 0)
		die("%s:", logpath);
	if (verbose)
		consolefd = 2;
	loglevel = verbose ? LDEBUG : log_level;

	b.t0 = nowns();
	if (initpath) {
		if (readpath(initpath, &initrd, err) < 0)
			die("initramfs %s", err);
	} else {
		initramfs(&initrd);
	}
	snprintf(cmdline, sizeof(cmdline), "%s%s%s", vm_cmdline,
	    append ? " " : "", append ? append : "");

	memset(&cfg, 0, sizeof(cfg));
	cfg.memmib = memmib;
	cfg.ncpus = ncpus;
	cfg.kernel = kernel;
	cfg.cmdline = cmdline;
	cfg.initrd = initrd.b;
	cfg.initrdlen = initrd.n;
	cfg.consolefd = consolefd;
	cfg.hugepages = vm_hugepages;
	if (loop_init() < 0)
		die("epoll_create1:");
	if (sc_process(0, husk_nofile, husk_oomadj, err) < 0)
		die("%s", err);
	if (!(b.vm = vmm_new(&cfg, err)))
		die("%s", err);
	if (!(b.vs = vsock_new(vmm_mem(b.vm), vsock_guestcid)))
		die("vsock device:");
	if (vmm_add_device(b.vm, vsock_dev(b.vs), err) < 0)
		die("%s", err);
	b.exitw.fd = vmm_exitfd(b.vm);
	b.exitw.fn = exitcb;
	b.exitw.arg = &b;
	if (loop_add(&b.exitw, EPOLLIN) < 0)
		die("epoll_ctl:");
	b.timew.fn = timecb;
	b.timew.arg = &b;
	if (vmm_start(b.vm, err) < 0 || sc_husk(SC_LOOP, err) < 0)
		die("%s", err);
	b.tsetup = nowns();
	pb_free(&initrd);

	loop_timer(&b.timew, b.timeoutms * 1000000ull);
	if (!b.noagent)
		link_start(&b.link, b.vs, bootup, &b);
	while (b.phase != DONE)
		if (loop_run(-1) < 0)
			die("epoll_wait:");

	if (b.status == 0) {
		printf("vmm setup        %8.2f ms\n", ms(b.tsetup - b.t0));
		if (b.noagent) {
			printf("kernel to stop   %8.2f ms\n", ms(b.tdown - b.tsetup));
		} else {
			printf("kernel to agent  %8.2f ms\n", ms(b.tready - b.tsetup));
			printf("shutdown         %8.2f ms\n", ms(b.tdown - b.tready));
		}
	}
	fflush(stdout);
	b.link.stopped = 1;
	if (b.link.t)
		ttrpc_close(b.link.t);
	vmm_free(b.vm);
	if (consolefd > 2)
		close(consolefd);
	return b.status;
}

int
main(int argc, char *argv[])
{
	const char *cmd;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		usage();
	cmd = argv[1];
	if (!strcmp(cmd, "boot"))
		return cmdboot(argc - 1, argv + 1);
	if (!strcmp(cmd, "run"))
		return cmdrun(argc - 1, argv + 1);
	if (cmd[0] == '-' && strcmp(cmd, "-V"))
		return shimmain(argc, argv);
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "version")) {
		puts("husk " VERSION);
		return 0;
	}
	usage();
	return 1;
}
