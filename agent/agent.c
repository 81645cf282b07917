/* See LICENSE file for copyright and license details. */
/*
 * husk-agent: PID 1 of the guest. It is the only file in the initramfs
 * husk builds. It mounts the pseudo file systems, reaps zombies, and
 * serves husk's agent API (husk.agent.v1.Agent) over ttrpc on vsock port
 * 1024, one ttrpc connection per accepted socket, all in one epoll loop.
 *
 * Containers, like a tiny runc. Each has its init (Create) and up to
 * MAXEXEC exec processes (Exec, named by execid); every request names a
 * process by container id and execid ("" the init). Create parses the
 * OCI config.json (the same json.c as the host), compiles its seccomp
 * section (a bad profile fails Create), makes the guest cgroup
 * /sys/fs/cgroup/<id> with the spec's resources (cgroup.c), connects
 * the stdio streams to the host ports it was given, and clones the init
 * into new mount, PID, IPC and UTS namespaces, or, where the spec gives
 * a namespace path and the request a sandbox, into the sandbox
 * container's PID, IPC, UTS namespaces (a pod); the VM's network is
 * every container's. Exec forks a process in the init's PID namespace
 * (the agent joins it for the fork only, so every process is the
 * agent's child and its exit reaches the agent's SIGCHLD), which joins
 * the init's other namespaces and the cgroup. ctr.c is the child's side:
 * root, mounts, privileges, exec at Start. Two pipes per new process:
 * one lets it go (setup, then exec), the other, closed on exec, carries
 * "ready" or an error as text. The agent writes a new user namespace's
 * id maps and puts the child in its cgroup before it goes on.
 *
 * Stdio: the process gets pipes (a socket as stdout breaks reopening
 * /dev/stdout), or with a terminal a pty of the container's own devpts
 * (the child opens it and passes the master back with its ready byte),
 * whose slave is stdin, stdout, stderr and controlling tty; the agent
 * copies between them (or the master) and the vsock streams in the loop. An exit is reported
 * (Wait) only when the process is reaped and its output reached EOF,
 * was written out, and the host closed its end: by then every byte is
 * in containerd's FIFO.
 *
 * The cgroup serves Pids (cgroup.procs), Stats, Update, Pause and Resume
 * (cgroup.freeze; Pause answers once cgroup.events says frozen, seen by
 * inotify, or fails after FREEZENS) and Oom: one inotify fd watches each
 * container's memory.events, and a grown oom_kill answers the one Oom
 * call the shim keeps waiting, or is queued (MAXOOM) until it comes.
 * Everything a request can make the agent hold is capped (the enum
 * below the container types).
 *
 * Network sets up the pod's network, once, before the first container
 * (netcfg.c): the VM's one network namespace is every container's.
 *
 * With "husk.poweroff" on the kernel command line it powers the VM off as
 * soon as the mounts are done: the trivial init the boot benchmark uses.
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
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/vm_sockets.h>

#include "../husk.h"
#include "agent.h"


static const struct {
	const char *src, *dst, *type;
	unsigned long flags;
	const char *data;
} mounts[] = {
	/* source    target            type        flags                          data */
	{ "proc",    "/proc",          "proc",     MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
	{ "sysfs",   "/sys",           "sysfs",    MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
	{ "devtmpfs", "/dev",          "devtmpfs", MS_NOSUID,                      "mode=0755" },
	{ "devpts",  "/dev/pts",       "devpts",   MS_NOSUID | MS_NOEXEC,          "newinstance,ptmxmode=0666" },
	{ "tmpfs",   "/dev/shm",       "tmpfs",    MS_NOSUID | MS_NODEV,           "mode=1777" },
	{ "tmpfs",   "/run",           "tmpfs",    MS_NOSUID | MS_NODEV,           "mode=0755" },
	{ "cgroup2", "/sys/fs/cgroup", "cgroup2",  MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
};

static Watch lsnw = { -1, NULL, NULL, 0 };
static Watch sigw = { -1, NULL, NULL, 0 };
static Watch offw = { -1, NULL, NULL, 0 };

static void
setup(void)
{
	static const char *controllers[] = { "+cpu", "+cpuset", "+io", "+memory", "+pids" };
	size_t i;

	for (i = 0; i < LEN(mounts); i++) {
		mkdir(mounts[i].dst, 0755);
		if (mount(mounts[i].src, mounts[i].dst, mounts[i].type,
		    mounts[i].flags, mounts[i].data) < 0 && errno != EBUSY)
			warn("mount %s:", mounts[i].dst);
	}
	mkdir("/tmp", 01777);
	/* containers get their resources from these controllers */
	for (i = 0; i < LEN(controllers); i++)
		if (writestr(CGROOT "/cgroup.subtree_control", controllers[i]) < 0)
			warn("cgroup controller %s:", controllers[i] + 1);
}

static int
cmdlinehas(const char *word)
{
	char buf[4096], *p, *tok;
	int fd;
	ssize_t n;

	if ((fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = readall(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (p = buf; (tok = strtok(p, " \t\n")); p = NULL)
		if (!strcmp(tok, word))
			return 1;
	return 0;
}

/*
 * The condensed kernel has no ACPI, so a power off has nothing to call:
 * the agent restarts instead, which the kernel's reboot=t turns into a
 * triple fault that ends the VM (husk has no guest reboot).
 */
static void
poweroff(void)
{
	sync();
	reboot(RB_AUTOBOOT);
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

static void
poweroffcb(Watch *w, uint32_t ev)
{
	(void)w;
	(void)ev;
	poweroff();
}

/* count the CPUs in a list such as "0-3,5" */
static uint32_t
cpucount(const char *s)
{
	unsigned long a, b;
	uint32_t n = 0;
	char *end;

	while (*s >= '0' && *s <= '9') {
		a = b = strtoul(s, &end, 10);
		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		if (b >= a)
			n += b - a + 1;
		if (*end != ',')
			break;
		s = end + 1;
	}
	return n;
}

static uint64_t
meminfo(const char *buf, const char *key)
{
	const char *p;
	size_t n = strlen(key);

	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, key, n) && p[n] == ':')
			return strtoull(p + n + 1, NULL, 10) * 1024;
	return 0;
}

static void
health(TtrpcCall *c, const uint8_t *req, size_t n)
{
	AgentHealth h;
	struct timespec ts;
	char buf[4096];
	Pb pb = { 0 };

	(void)req;
	(void)n;
	memset(&h, 0, sizeof(h));
	snprintf(h.version, sizeof(h.version), "%s", VERSION);
	if (readfile("/sys/devices/system/cpu/online", buf, sizeof(buf)) == 0)
		h.cpus = cpucount(buf);
	if (readfile("/proc/meminfo", buf, sizeof(buf)) == 0) {
		h.memtotal = meminfo(buf, "MemTotal");
		h.memfree = meminfo(buf, "MemAvailable");
	}
	clock_gettime(CLOCK_BOOTTIME, &ts);
	h.uptimens = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	pb_health(&pb, &h);
	ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
}

static void
shutdown_(TtrpcCall *c, const uint8_t *req, size_t n)
{
	(void)req;
	(void)n;
	ttrpc_reply(c, RPC_OK, NULL, NULL, 0);
	/* let the loop send the reply, then power off */
	offw.fn = poweroffcb;
	if (loop_timer(&offw, 1000000) < 0)
		poweroff();
}

/* containers and their processes */
enum { CREATED, RUNNING, EXITED };
enum {
	MAXCTR = 1024,		/* containers in the VM */
	MAXEXEC = 1024,		/* exec processes of one container */
	MAXWAIT = 64,		/* Wait calls held for one process */
	MAXPAUSE = 16,		/* Pause calls held for one container */
	MAXOOM = 64,		/* OOM reports held while no Oom call waits */
	MAXGONE = 256		/* cgroups of removed containers still to rmdir */
};
#define FREEZENS	(2 * 1000000000ull)	/* Pause waits this long for frozen */

typedef struct Ctr Ctr;
typedef struct Proc Proc;
typedef struct {
	Proc *p;
	int from, to;		/* -1 once closed */
	int tosock;		/* to is the vsock stream: shut it, await the host */
	Watch rw, ww;
	uint32_t rev, wev;
	char buf[65536];
	size_t off, n;
	int eof, done;
	int closing;		/* CloseIO: EOF once nothing more is readable */
} Copy;
struct Proc {
	Ctr *c;
	char *execid;		/* NULL: the container's init */
	pid_t pid;
	int state, status;
	int startfd;		/* write end of the start pipe */
	int errfd;		/* read end of the error pipe, closed on exec */
	int ptm;		/* the pty's master (ResizePty), -1 none */
	Copy *io[3];
	TtrpcCall **waiters;
	size_t nwait;
	Proc *next;		/* the container's execs */
};
struct Ctr {
	char *id;
	Proc init;
	Proc *execs;
	size_t nexec;
	ScProg filter;		/* linux.seccomp, for the execs too */
	int hasfilter;
	int wdmem, wdev;	/* inotify: memory.events, cgroup.events; -1 */
	uint64_t oomkills;	/* memory.events oom_kill reported so far */
	int paused;		/* cgroup.freeze is 1: no process can be set up */
	TtrpcCall *pausers[MAXPAUSE];
	size_t npause;
	Watch freezew;		/* Pause's deadline */
	Ctr *next;
};

static Ctr *ctrs;
static size_t nctr;
static Watch inw = { -1, NULL, NULL, 0 };	/* inotify: the cgroups' events */
static TtrpcCall *oomcall;		/* the Oom call in flight */
static char *oomq[MAXOOM];		/* reports no call took yet */
static size_t noomq;
static char *gone[MAXGONE];		/* cgroup dirs still busy */
static size_t ngone;
static int fsmounted;			/* the share is at FSDIR */

static Ctr *
findctr(const char *id)
{
	Ctr *c;

	for (c = ctrs; c && strcmp(c->id, id); c = c->next)
		;
	return c;
}

/* execid "" or NULL: the init */
static Proc *
findproc(Ctr *c, const char *execid)
{
	Proc *p;

	if (!execid || !execid[0])
		return &c->init;
	for (p = c->execs; p && strcmp(p->execid, execid); p = p->next)
		;
	return p;
}

static int
iodone(Proc *p)
{
	return (!p->io[1] || p->io[1]->done) && (!p->io[2] || p->io[2]->done);
}

/* the exit is reported once the process is gone and its output delivered */
static void
settle(Proc *p)
{
	Pb pb = { 0 };
	AgentResp ar = { 0 };
	size_t i;

	if (p->state != EXITED || !iodone(p))
		return;
	ar.pid = p->pid;
	ar.status = p->status;
	pb_agentresp(&pb, &ar);
	for (i = 0; i < p->nwait; i++)
		ttrpc_reply(p->waiters[i], RPC_OK, NULL, pb.b, pb.n);
	p->nwait = 0;
	pb_free(&pb);
}

static void
copyclose(Copy *k)
{
	loop_set(&k->rw, &k->rev, 0);
	loop_set(&k->ww, &k->wev, 0);
	if (k->from >= 0)
		close(k->from);
	if (k->to >= 0)
		close(k->to);
	k->from = k->to = -1;
}

/* move bytes from -> to while both can; EOF passes on */
static void
copyio(Copy *k)
{
	ssize_t n;
	char x;

	while (!k->done) {
		if (k->eof && k->off == k->n) {
			if (k->from >= 0) {
				loop_set(&k->rw, &k->rev, 0);
				close(k->from);
				k->from = -1;
			}
			if (!k->tosock) {
				copyclose(k);
				k->done = 1;
				break;
			}
			/* shut the stream, then wait for the host's close */
			shutdown(k->to, SHUT_WR);
			n = read(k->to, &x, 1);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			copyclose(k);
			k->done = 1;
			break;
		}
		if (k->off == k->n) {
			n = read(k->from, k->buf, sizeof(k->buf));
			if (n < 0 && (errno == EAGAIN || errno == EINTR) && !k->closing)
				break;
			if (n <= 0) {	/* EOF, a pty's EIO, or CloseIO */
				k->eof = 1;
				continue;
			}
			k->off = 0;
			k->n = n;
		}
		n = write(k->to, k->buf + k->off, k->n - k->off);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			/* the reader is gone: drain and drop the rest */
			k->off = k->n;
			if (k->tosock) {
				k->tosock = 0;
				k->eof = 1;
			}
			continue;
		}
		k->off += n;
	}
	if (k->done) {
		settle(k->p);
		return;
	}
	k->rw.fd = k->from;
	k->ww.fd = k->to;
	if (k->from >= 0)
		loop_set(&k->rw, &k->rev, k->off == k->n && !k->eof ? EPOLLIN : 0);
	loop_set(&k->ww, &k->wev, k->off < k->n ? EPOLLOUT :
	    k->eof ? EPOLLIN | EPOLLRDHUP : 0);
}

static void
copycb(Watch *w, uint32_t ev)
{
	(void)ev;
	copyio(w->arg);
}

static Copy *
newcopy(Proc *p, int from, int to, int tosock)
{
	Copy *k = ecalloc(1, sizeof(*k));

	k->p = p;
	k->from = from;
	k->to = to;
	k->tosock = tosock;
	k->rw.fn = k->ww.fn = copycb;
	k->rw.arg = k->ww.arg = k;
	k->rw.fd = from;
	k->ww.fd = to;
	setnonblock(from, 1);
	setnonblock(to, 1);
	return k;
}

/* everything a process holds; the Proc itself stays */
static void
freeproc(Proc *p)
{
	size_t i;

	for (i = 0; i < 3; i++) {
		if (p->io[i]) {
			copyclose(p->io[i]);
			loop_defer(free, p->io[i]);
			p->io[i] = NULL;
		}
	}
	for (i = 0; i < p->nwait; i++)
		ttrpc_reply(p->waiters[i], RPC_NOTFOUND, "process removed", NULL, 0);
	free(p->waiters);
	p->waiters = NULL;
	p->nwait = 0;
	if (p->startfd >= 0)
		close(p->startfd);
	if (p->errfd >= 0)
		close(p->errfd);
	if (p->ptm >= 0)
		close(p->ptm);
	p->startfd = p->errfd = p->ptm = -1;
	free(p->execid);
	p->execid = NULL;
}

/* SIGKILL to every process of the container's cgroup */
static void
killall(Ctr *c, int sig)
{
	uint32_t *pids = emalloc(AGENT_MAXPIDS * sizeof(*pids));
	size_t i, n;

	n = cg_pids(c->id, pids, AGENT_MAXPIDS);
	for (i = 0; i < n; i++)
		kill(pids[i], sig);
	free(pids);
}

/* rmdir the cgroups whose processes were still dying */
static void
reapgone(void)
{
	size_t i, j;

	for (i = j = 0; i < ngone; i++) {
		if (rmdir(gone[i]) < 0 && errno == EBUSY) {
			gone[j++] = gone[i];
			continue;
		}
		free(gone[i]);
	}
	ngone = j;
}

/* a cgroup made again is not the dying one any more */
static void
ungone(const char *path)
{
	size_t i;

	for (i = 0; i < ngone; i++) {
		if (!strcmp(gone[i], path)) {
			free(gone[i]);
			gone[i] = gone[--ngone];
			return;
		}
	}
}

static void
pausedone(Ctr *c, int code, const char *msg)
{
	size_t i;

	for (i = 0; i < c->npause; i++)
		ttrpc_reply(c->pausers[i], code, msg, NULL, 0);
	c->npause = 0;
	if (c->freezew.fd >= 0)
		loop_timer(&c->freezew, 0);
}

static void
freectr(Ctr *c)
{
	Ctr **pp;
	Proc *p;
	char path[PATH_MAX];

	for (pp = &ctrs; *pp && *pp != c; pp = &(*pp)->next)
		;
	if (*pp) {
		*pp = c->next;
		nctr--;
	}
	while ((p = c->execs)) {
		c->execs = p->next;
		freeproc(p);
		free(p);
	}
	freeproc(&c->init);
	pausedone(c, RPC_NOTFOUND, "container removed");
	if (c->freezew.fd >= 0) {
		loop_del(&c->freezew);
		close(c->freezew.fd);
	}
	if (c->wdmem >= 0)
		inotify_rm_watch(inw.fd, c->wdmem);
	if (c->wdev >= 0)
		inotify_rm_watch(inw.fd, c->wdev);
	if (c->hasfilter)
		sc_free(&c->filter);
	/* what still runs in the cgroup (an exec in a shared PID namespace) */
	snprintf(path, sizeof(path), CGROOT "/%s/cgroup.kill", c->id);
	if (writestr(path, "1") < 0)
		killall(c, SIGKILL);
	snprintf(path, sizeof(path), CGROOT "/%s", c->id);
	if (rmdir(path) < 0 && errno == EBUSY) {
		if (ngone < MAXGONE)
			gone[ngone++] = estrdup(path);
		else
			glog(LWARN, "cgroup %s left behind: too many dying", path);
	}
	free(c->id);
	loop_defer(free, c);	/* freezew may still be named in this batch */
}

/* a child of the agent was reaped */
static void
exited(pid_t pid, int st)
{
	Ctr *c;
	Proc *p = NULL;

	/* an entry that exited keeps its pid, which may be in use again */
	for (c = ctrs; c && !p; c = c->next) {
		if (c->init.pid == pid && c->init.state != EXITED)
			p = &c->init;
		else
			for (p = c->execs; p && (p->pid != pid || p->state == EXITED);
			    p = p->next)
				;
	}
	if (!p)
		return;
	p->state = EXITED;
	p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (p->io[0] && !p->io[0]->done) {	/* nobody reads stdin now */
		copyclose(p->io[0]);
		p->io[0]->done = 1;
	}
	settle(p);
}

/* a stream to the host's vsock port; -1 on error */
static int
hostport(uint32_t port)
{
	struct sockaddr_vm sa;
	int fd;

	if ((fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.svm_family = AF_VSOCK;
	sa.svm_cid = VMADDR_CID_HOST;
	sa.svm_port = port;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The stdio of a new process: the child's ends in fds (closed by the
 * caller), the agent's copies in p->io (started by the caller). Pipes,
 * or with a terminal a pty the child opens in the container and whose
 * master it sends back (ttyattach): copied from the iport stream and to
 * the oport one.
 */
static int
procio(Proc *p, const AgentReq *r, int fds[3], char *err)
{
	uint32_t ports[3];
	int pfd[2], sock, i;

	ports[0] = r->iport;
	ports[1] = r->oport;
	ports[2] = r->terminal ? 0 : r->eport;
	for (i = 0; i < 3; i++) {
		if (r->terminal && !ports[i] && i != 1)
			continue;	/* no input; no stderr apart */
		if (!ports[i]) {
			if ((sock = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
				seterr(err, "/dev/null:");
				return -1;
			}
			if (!r->terminal) {
				fds[i] = sock;
				continue;
			}
			/* a terminal's output goes somewhere: dropped */
			p->io[i] = newcopy(p, -1, sock, 0);
			continue;
		}
		if ((sock = hostport(ports[i])) < 0) {
			seterr(err, "stdio stream to host port %u:", ports[i]);
			return -1;
		}
		if (r->terminal) {	/* the master's side comes with ttyattach */
			p->io[i] = i == 0 ? newcopy(p, sock, -1, 0) :
			    newcopy(p, -1, sock, 1);
			continue;
		}
		if (pipe2(pfd, O_CLOEXEC) < 0) {
			close(sock);
			seterr(err, "pipe:");
			return -1;
		}
		fds[i] = pfd[i == 0 ? 0 : 1];
		p->io[i] = i == 0 ? newcopy(p, sock, pfd[1], 0) :
		    newcopy(p, pfd[0], sock, 1);
	}
	return 0;
}

/* the pty master came from the child: the copies get their own dups */
static int
ttyattach(Proc *p, const AgentReq *r, char *err)
{
	struct winsize ws;
	Copy *k;
	int fd;

	if (p->ptm < 0) {
		seterr(err, "terminal: no pty from the container's process");
		return -1;
	}
	if (r->width || r->height) {
		memset(&ws, 0, sizeof(ws));
		ws.ws_col = MIN(r->width, 65535);
		ws.ws_row = MIN(r->height, 65535);
		ioctl(p->ptm, TIOCSWINSZ, &ws);
	}
	if ((k = p->io[0])) {
		if ((fd = fcntl(p->ptm, F_DUPFD_CLOEXEC, 0)) < 0) {
			seterr(err, "dup:");
			return -1;
		}
		k->to = k->ww.fd = fd;
		setnonblock(fd, 1);
	}
	if ((k = p->io[1])) {
		if ((fd = fcntl(p->ptm, F_DUPFD_CLOEXEC, 0)) < 0) {
			seterr(err, "dup:");
			return -1;
		}
		k->from = k->rw.fd = fd;
		setnonblock(fd, 1);
	}
	return 0;
}

/* a new user namespace's uid_map or gid_map, in one write as the kernel wants */
static int
writemap(pid_t pid, const char *file, const OciIdMap *m, size_t n, char *err)
{
	char path[64], *buf;
	size_t i, len = 0;
	int r;

	buf = emalloc(n * 36 + 1);
	buf[0] = '\0';
	for (i = 0; i < n; i++)
		len += sprintf(buf + len, "%u %u %u\n", m[i].ctr, m[i].host, m[i].size);
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if ((r = writestr(path, buf)) < 0)
		seterr(err, "user namespace: write %s:", file);
	free(buf);
	return r;
}

/* a namespace of process pid to join; -1 when it is the agent's own */
static int
nsfd(pid_t pid, const char *type, char *err)
{
	char path[64];
	struct stat a, b;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, type);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		seterr(err, "%s:", path);
		return -2;
	}
	snprintf(path, sizeof(path), "/proc/self/ns/%s", type);
	if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
	    a.st_dev == b.st_dev) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A child of the agent, made in PID namespace pidns (-1: new ones as
 * flags say): the agent joins it for the fork only, so that the child
 * is its own and reaped by it. fn is the child's life.
 */
static pid_t
spawn(int flags, int pidns, void (*fn)(const ProcSetup *, const char *),
    const ProcSetup *ps, const char *root, char *err)
{
	static int selfpid = -1;
	sigset_t set;
	pid_t pid;

	if (pidns >= 0) {
		if (selfpid < 0 && (selfpid = open("/proc/self/ns/pid",
		    O_RDONLY | O_CLOEXEC)) < 0) {
			seterr(err, "/proc/self/ns/pid:");
			return -1;
		}
		if (setns(pidns, CLONE_NEWPID) < 0) {
			seterr(err, "join the container's PID namespace:");
			return -1;
		}
	}
	pid = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		sigemptyset(&set);
		sigprocmask(SIG_SETMASK, &set, NULL);
		fn(ps, root);
		_exit(127);
	}
	if (pid < 0)
		seterr(err, "clone:");
	if (pidns >= 0 && setns(selfpid, CLONE_NEWPID) < 0)
		die("back to the agent's PID namespace:");	/* children would go astray */
	return pid;
}

static void
initmain(const ProcSetup *ps, const char *root)
{
	ctr_init(ps, root);
}

static void
execmain(const ProcSetup *ps, const char *root)
{
	(void)root;
	ctr_exec(ps);
}

/* the child of ps (fds, pipes) is made: say go, read ready; -1 and err */
static int
golive(Proc *p, const AgentReq *r, pid_t pid, const char *cgid,
    const OciSpec *idmaps, int sp[2], int ep[2], char *err)
{
	char path[PATH_MAX], v[32];

	close(sp[0]);
	close(ep[1]);
	sp[0] = ep[1] = -1;
	/* id maps and cgroup before the child goes on (a cgroup namespace
	 * takes the cgroup it is made in as its root) */
	if (idmaps && idmaps->userns && (writemap(pid, "uid_map", idmaps->uidmap,
	    idmaps->nuidmap, err) < 0 || writemap(pid, "gid_map", idmaps->gidmap,
	    idmaps->ngidmap, err) < 0))
		goto killed;
	snprintf(path, sizeof(path), CGROOT "/%s/cgroup.procs", cgid);
	snprintf(v, sizeof(v), "%d", (int)pid);
	if (writestr(path, v) < 0) {
		seterr(err, "cgroup %s:", path);
		goto killed;
	}
	if (write(sp[1], "", 1) != 1 || ctr_word(ep[0], err, ERRLEN, &p->ptm) < 0 ||
	    (r->terminal && ttyattach(p, r, err) < 0))
		goto killed;
	p->pid = pid;
	p->state = CREATED;
	p->startfd = sp[1];
	p->errfd = ep[0];
	sp[1] = ep[0] = -1;
	return 0;
killed:
	if (!err[0])
		seterr(err, "the process died during setup");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* the request's fds and pipes, closed */
static void
closeall(int *fd, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fd[i] >= 0)
			close(fd[i]);
}

static void
replypid(TtrpcCall *call, pid_t pid)
{
	Pb pb = { 0 };
	AgentResp ar = { 0 };

	ar.pid = pid;
	pb_agentresp(&pb, &ar);
	ttrpc_reply(call, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
}

/* the unknown capability names, logged as runc warns */
static void
warncaps(const char *id, const OciSpec *s)
{
	char list[256], esc[ERRLEN];
	int i;

	if (!s->capunknown[0])
		return;
	list[0] = '\0';
	for (i = 0; s->capunknown[i]; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
		    i ? " " : "", s->capunknown[i]);
	glog(LWARN, "container %s: ignoring unknown capabilities: %s", id,
	    escape(esc, sizeof(esc), list, strlen(list)));
}

static void
watchctr(Ctr *c)
{
	char path[PATH_MAX];
	AgentStats st;
	char buf[1024];

	snprintf(path, sizeof(path), CGROOT "/%s/memory.events", c->id);
	c->wdmem = inotify_add_watch(inw.fd, path, IN_MODIFY);
	memset(&st, 0, sizeof(st));
	cg_memevents(readfile(path, buf, sizeof(buf)) == 0 ? buf : NULL, &st);
	c->oomkills = st.evoomkill;
	snprintf(path, sizeof(path), CGROOT "/%s/cgroup.events", c->id);
	c->wdev = inotify_add_watch(inw.fd, path, IN_MODIFY);
	if (c->wdmem < 0 || c->wdev < 0)
		glog(LWARN, "container %s: inotify on its cgroup:", c->id);
}

/* which namespaces the spec joins, by a path: the sandbox's */
static int
joins(const OciSpec *s, const char *type)
{
	size_t i;

	for (i = 0; i < s->nns; i++)
		if (s->ns[i].path && !strcmp(s->ns[i].type, type))
			return 1;
	return 0;
}

/*
 * What Create and Exec hold while they make a process, and the steps
 * both take: newreq, their own checks, the spec (newspec), namespaces
 * (newns), the process (newproc), then newend answers and lets go.
 */
typedef struct {
	AgentReq r;
	OciSpec s;		/* Create: the config.json; Exec: its process */
	ProcSetup ps;		/* the namespaces to join, the child's stdio */
	int pidns;		/* the PID namespace to fork in; -1 new or the agent's */
	int code;		/* the refusal's */
	char err[ERRLEN];
} NewReq;

static void
newreq(NewReq *q)
{
	size_t i;

	memset(q, 0, sizeof(*q));
	q->ps.fds[0] = q->ps.fds[1] = q->ps.fds[2] = -1;
	for (i = 0; i < LEN(q->ps.ns); i++)
		q->ps.ns[i] = -1;
	q->pidns = -1;
	q->code = RPC_INTERNAL;
}

/* the request's spec as parse reads it, with args; -1: INVALID, q->err */
static int
newspec(NewReq *q, int (*parse)(OciSpec *, const char *, size_t, char *),
    const char *noconfig, const char *noargs)
{
	q->code = RPC_INVALID;
	if (!q->r.config) {
		seterr(q->err, "%s", noconfig);
		return -1;
	}
	if (parse(&q->s, q->r.config, q->r.configlen, q->err) < 0)
		return -1;
	if (!q->s.args[0]) {
		seterr(q->err, "%s", noargs);
		return -1;
	}
	q->code = RPC_INTERNAL;
	warncaps(q->r.id, &q->s);
	return 0;
}

/* a namespace of process pid for the child: "pid" to fork in, else to join */
static int
newns(NewReq *q, pid_t pid, const char *type)
{
	size_t k;
	int fd;

	if ((fd = nsfd(pid, type, q->err)) < -1)
		return -1;
	if (fd < 0)		/* the agent's own */
		return 0;
	if (!strcmp(type, "pid")) {
		q->pidns = fd;
		return 0;
	}
	for (k = 0; k < LEN(q->ps.ns) && q->ps.ns[k] >= 0; k++)
		;
	if (k == LEN(q->ps.ns)) {
		close(fd);
		seterr(q->err, "namespace %s: too many to join", type);
		return -1;
	}
	q->ps.ns[k] = fd;
	return 0;
}

/*
 * The process p of the request, its own checks passed: stdio, the start
 * and error pipes, the child (fn) spawned with flags in q->pidns, given
 * the id maps and the cgroup, ready and waiting for Start. -1, q->err.
 */
static int
newproc(NewReq *q, Proc *p, int flags, void (*fn)(const ProcSetup *, const char *),
    const char *root, const OciSpec *idmaps)
{
	int sp[2] = { -1, -1 }, ep[2] = { -1, -1 }, r = -1;
	pid_t pid;

	if (procio(p, &q->r, q->ps.fds, q->err) < 0)
		goto out;
	if (pipe2(sp, O_CLOEXEC) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ep) < 0) {
		seterr(q->err, "pipe:");
		goto out;
	}
	q->ps.s = &q->s;
	q->ps.filter = p->c->hasfilter ? &p->c->filter : NULL;
	q->ps.tty = q->r.terminal;
	q->ps.startfd = sp[0];
	q->ps.errfd = ep[1];
	/* the request's id is the container's for an exec too */
	if ((pid = spawn(flags, q->pidns, fn, &q->ps, root, q->err)) >= 0)
		r = golive(p, &q->r, pid, q->r.id, idmaps, sp, ep, q->err);
out:
	closeall(sp, 2);
	closeall(ep, 2);
	return r;
}

/*
 * The answer: p, made and now its container's, gets its copies going and
 * its pid in the reply; NULL: the refusal in q. Then q is let go.
 */
static void
newend(NewReq *q, TtrpcCall *call, Proc *p)
{
	int i;

	if (p) {
		for (i = 0; i < 3; i++)
			if (p->io[i])
				copyio(p->io[i]);
		replypid(call, p->pid);
	} else {
		ttrpc_reply(call, q->code, q->err, NULL, 0);
	}
	closeall(q->ps.fds, 3);
	closeall(q->ps.ns, LEN(q->ps.ns));
	if (q->pidns >= 0)
		close(q->pidns);
	oci_free(&q->s);
	agentreq_free(&q->r);
}

static void
create(TtrpcCall *call, const uint8_t *req, size_t n)
{
	static const struct {
		const char *type;
		int flag;
	} shared[] = {
		/* a pod's namespaces, its sandbox's: type, not new */
		{ "pid", CLONE_NEWPID }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS },
	};
	NewReq q;
	Ctr *c = NULL, *sb = NULL;
	char root[PATH_MAX], cgdir[PATH_MAX];
	int flags;
	size_t i;

	newreq(&q);
	cgdir[0] = '\0';
	if (pr_agentreq(req, n, &q.r) < 0) {
		ttrpc_reply(call, RPC_INVALID, "malformed Create request", NULL, 0);
		return;
	}
	if (!validid(q.r.id)) {
		q.code = RPC_INVALID;
		seterr(q.err, "invalid container id '%s'", q.r.id);
		goto out;
	}
	if (findctr(q.r.id)) {
		q.code = RPC_EXISTS;
		seterr(q.err, "container %s exists", q.r.id);
		goto out;
	}
	if (nctr >= MAXCTR) {
		q.code = RPC_EXHAUSTED;
		seterr(q.err, "%d containers in this VM already", MAXCTR);
		goto out;
	}
	if (newspec(&q, oci_parse, "no config.json in the request",
	    "config.json: process.args is empty") < 0)
		goto out;
	flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
	if (joins(&q.s, "pid") || joins(&q.s, "ipc") || joins(&q.s, "uts")) {
		if (!q.r.sandbox || !(sb = findctr(q.r.sandbox)) ||
		    sb->init.state == EXITED) {
			q.code = RPC_PRECONDITION;
			seterr(q.err, "the spec joins the namespaces of a sandbox, and "
			    "sandbox '%s' is not a running container in this VM",
			    q.r.sandbox ? q.r.sandbox : "");
			goto out;
		}
		for (i = 0; i < LEN(shared); i++) {
			if (!joins(&q.s, shared[i].type))
				continue;
			flags &= ~shared[i].flag;
			if (newns(&q, sb->init.pid, shared[i].type) < 0)
				goto out;
		}
	}
	if (q.s.userns)
		flags |= CLONE_NEWUSER;
	c = ecalloc(1, sizeof(*c));
	c->init.c = c;
	c->init.startfd = c->init.errfd = c->init.ptm = -1;
	c->wdmem = c->wdev = -1;
	c->freezew.fd = -1;
	if (q.s.seccomp) {
		if (ctr_filter(q.s.seccomp, &c->filter, q.err) < 0) {
			q.code = RPC_INVALID;
			goto out;
		}
		c->hasfilter = 1;
	}
	/* once: a second mount of the tag would stack on the first */
	if (!fsmounted) {
		/* 0711: a container init in a user namespace is not root
		 * here, yet must reach its root to bind it */
		mkdir(GUEST_RUNDIR, 0711);
		mkdir(FSDIR, 0755);
		if (mount(SHARE_TAG, FSDIR, "virtiofs", 0, NULL) < 0 && errno != EBUSY) {
			seterr(q.err, "mount the virtio-fs share:");
			goto out;
		}
		fsmounted = 1;
	}
	snprintf(root, sizeof(root), FSDIR "/%s", q.r.id);
	if (access(root, F_OK) < 0) {
		seterr(q.err, "container root %s:", root);
		goto out;
	}
	snprintf(cgdir, sizeof(cgdir), CGROOT "/%s", q.r.id);
	if (mkdir(cgdir, 0755) < 0 && errno != EEXIST) {
		seterr(q.err, "cgroup %s:", cgdir);
		cgdir[0] = '\0';
		goto out;
	}
	ungone(cgdir);
	if (cg_apply(q.r.id, &q.s, q.err) < 0) {
		q.code = RPC_INVALID;
		goto out;
	}
	if (newproc(&q, &c->init, flags, initmain, root, &q.s) < 0)
		goto out;
	c->id = q.r.id;
	q.r.id = NULL;
	c->next = ctrs;
	ctrs = c;
	nctr++;
	watchctr(c);
	newend(&q, call, &c->init);
	return;
out:
	if (cgdir[0])
		rmdir(cgdir);
	if (c) {
		freeproc(&c->init);
		if (c->hasfilter)
			sc_free(&c->filter);
		free(c);
	}
	newend(&q, call, NULL);
}

/* find the request's container, or answer NOT_FOUND */
static Ctr *
reqctr(TtrpcCall *call, const uint8_t *req, size_t n, AgentReq *r)
{
	char msg[ERRLEN];
	Ctr *c;

	if (pr_agentreq(req, n, r) < 0) {
		ttrpc_reply(call, RPC_INVALID, "malformed request", NULL, 0);
		return NULL;
	}
	if (!(c = findctr(r->id))) {
		seterr(msg, "container %s not found", r->id);
		ttrpc_reply(call, RPC_NOTFOUND, msg, NULL, 0);
		agentreq_free(r);
	}
	return c;
}

/* the request's process (execid), or answer NOT_FOUND */
static Proc *
reqproc(TtrpcCall *call, const uint8_t *req, size_t n, AgentReq *r)
{
	char msg[ERRLEN];
	Ctr *c;
	Proc *p;

	if (!(c = reqctr(call, req, n, r)))
		return NULL;
	if (!(p = findproc(c, r->execid))) {
		seterr(msg, "exec %s not found in container %s", r->execid, r->id);
		ttrpc_reply(call, RPC_NOTFOUND, msg, NULL, 0);
		agentreq_free(r);
	}
	return p;
}

/*
 * A process in a running container: the agent forks it in the init's
 * PID namespace, it joins the init's other namespaces (ctr_exec) and the
 * container's cgroup, and waits for Start. The init's seccomp profile
 * applies, the capabilities are the exec's own.
 */
static void
exec_(TtrpcCall *call, const uint8_t *req, size_t n)
{
	static const char *types[] = { "pid", "ipc", "uts", "cgroup", "mnt", "user" };
	NewReq q;
	Ctr *c;
	Proc *p = NULL;
	size_t t;

	newreq(&q);
	if (!(c = reqctr(call, req, n, &q.r)))
		return;
	if (!validid(q.r.execid)) {
		q.code = RPC_INVALID;
		seterr(q.err, "invalid exec id '%s'", q.r.execid ? q.r.execid : "");
		goto out;
	}
	if (findproc(c, q.r.execid)) {
		q.code = RPC_EXISTS;
		seterr(q.err, "exec %s exists in container %s", q.r.execid, q.r.id);
		goto out;
	}
	if (c->nexec >= MAXEXEC) {
		q.code = RPC_EXHAUSTED;
		seterr(q.err, "container %s has %d execs; remove some", q.r.id, MAXEXEC);
		goto out;
	}
	if (c->init.state != RUNNING || c->paused) {
		q.code = RPC_PRECONDITION;
		seterr(q.err, "container %s is not running%s", q.r.id,
		    c->paused ? " (paused)" : "");
		goto out;
	}
	if (newspec(&q, oci_parse_process, "no process spec in the Exec request",
	    "exec process: args is empty") < 0)
		goto out;
	for (t = 0; t < LEN(types); t++)
		if (newns(&q, c->init.pid, types[t]) < 0)
			goto out;
	p = ecalloc(1, sizeof(*p));
	p->c = c;
	p->startfd = p->errfd = p->ptm = -1;
	if (newproc(&q, p, 0, execmain, NULL, NULL) < 0)
		goto out;
	p->execid = q.r.execid;
	q.r.execid = NULL;
	p->next = c->execs;
	c->execs = p;
	c->nexec++;
	newend(&q, call, p);
	return;
out:
	if (p) {
		freeproc(p);
		free(p);
	}
	newend(&q, call, NULL);
}

static void
start(TtrpcCall *call, const uint8_t *req, size_t n)
{
	AgentReq r;
	Proc *p;
	char err[ERRLEN];

	if (!(p = reqproc(call, req, n, &r)))
		return;
	if (p->state != CREATED || p->startfd < 0) {
		ttrpc_reply(call, RPC_PRECONDITION, "process already started", NULL, 0);
	} else if (p->c->paused) {	/* the frozen child would never exec */
		ttrpc_reply(call, RPC_PRECONDITION, "container is paused", NULL, 0);
	} else {
		if (write(p->startfd, "", 1) != 1 || ctr_word(p->errfd, err,
		    sizeof(err), NULL) < 0) {
			if (!err[0])
				seterr(err, "the process died before exec");
			ttrpc_reply(call, RPC_UNKNOWN, err, NULL, 0);
		} else {
			replypid(call, p->pid);
		}
		if (p->state == CREATED)	/* not reaped yet */
			p->state = RUNNING;
		close(p->startfd);
		close(p->errfd);
		p->startfd = p->errfd = -1;
	}
	agentreq_free(&r);
}

static void
signal_(TtrpcCall *call, const uint8_t *req, size_t n)
{
	AgentReq r;
	Proc *p;

	if (!(p = reqproc(call, req, n, &r)))
		return;
	if (r.signal < 1 || r.signal >= 65)
		ttrpc_reply(call, RPC_INVALID, "invalid signal", NULL, 0);
	else if (r.all && p == &p->c->init)
		killall(p->c, r.signal), ttrpc_reply(call, RPC_OK, NULL, NULL, 0);
	else if (p->state != EXITED && kill(p->pid, r.signal) < 0 && errno != ESRCH)
		ttrpc_reply(call, RPC_INTERNAL, strerror(errno), NULL, 0);
	else
		ttrpc_reply(call, RPC_OK, NULL, NULL, 0);
	agentreq_free(&r);
}

static void
wait_(TtrpcCall *call, const uint8_t *req, size_t n)
{
	AgentReq r;
	Proc *p;
	size_t i, j;

	if (!(p = reqproc(call, req, n, &r)))
		return;
	if (p->nwait == MAXWAIT) {	/* drop the calls whose peer left */
		for (i = j = 0; i < p->nwait; i++) {
			if (ttrpc_conn(p->waiters[i]))
				p->waiters[j++] = p->waiters[i];
			else
				ttrpc_reply(p->waiters[i], RPC_CANCELLED, NULL, NULL, 0);
		}
		p->nwait = j;
	}
	if (p->nwait == MAXWAIT) {
		ttrpc_reply(call, RPC_EXHAUSTED, "too many Wait calls for this process",
		    NULL, 0);
	} else {
		if (!p->waiters)
			p->waiters = ecalloc(MAXWAIT, sizeof(*p->waiters));
		p->waiters[p->nwait++] = call;
		settle(p);
	}
	agentreq_free(&r);
}

static void
remove_(TtrpcCall *call, const uint8_t *req, size_t n)
{
	AgentReq r;
	Proc *p, **pp;
	Ctr *c;

	if (!(p = reqproc(call, req, n, &r)))
		return;
	c = p->c;
	if (p->state == RUNNING) {
		ttrpc_reply(call, RPC_PRECONDITION, "process is running", NULL, 0);
	} else if (p == &c->init) {
		if (p->state == CREATED)
			kill(p->pid, SIGKILL);
		freectr(c);
		ttrpc_reply(call, RPC_OK, NULL, NULL, 0);
	} else {
		if (p->state == CREATED)
			kill(p->pid, SIGKILL);	/* reaped, then forgotten */
		for (pp = &c->execs; *pp != p; pp = &(*pp)->next)
			;
		*pp = p->next;
		c->nexec--;
		freeproc(p);
		free(p);
		ttrpc_reply(call, RPC_OK, NULL, NULL, 0);
	}
	agentreq_free(&r);
}

static void
resizepty(TtrpcCall *call, const uint8_t *req, size_t n)
{
	AgentReq r;
	Proc *p;
	struct winsize ws;

	if (!(p = reqproc(call, req, n, &r)))
		return;
	memset(&ws, 0, sizeof(ws));
	ws.ws_col = MIN(r.width, 65535);
	ws.ws_row = MIN(r.height, 65535);
	if (p->ptm < 0)
		ttrpc_reply(call, RPC_PRECONDITION, "the process has no terminal", NULL, 0);
	else if (ioctl(p->ptm, TIOCSWINSZ, &ws) < 0)
		ttrpc_reply(call, RPC_INTERNAL, strerror(errno), NULL, 0);
	else
		ttrpc_reply(call, RPC_OK, NULL, NULL, 0);
	agentreq_free(&r);
}

/* stdin ends once what already arrived is passed on */
static void
closeio(TtrpcCall *call, const uint8_t *req, size_t n)
{
	AgentReq r;
	Proc *p;

	if (!(p = reqproc(call, req, n, &r)))
		return;
	if (p->io[0] && !p->io[0]->done) {
		p->io[0]->closing = 1;
		copyio(p->io[0]);
	}
	ttrpc_reply(call, RPC_OK, NULL, NULL, 0);
	agentreq_free(&r);
}

static void
pids(TtrpcCall *call, const uint8_t *req, size_t n)
{
	AgentReq r;
	AgentResp ar = { 0 };
	Pb pb = { 0 };
	Ctr *c;

	if (!(c = reqctr(call, req, n, &r)))
		return;
	ar.pids = emalloc(AGENT_MAXPIDS * sizeof(*ar.pids));
	ar.npids = cg_pids(c->id, ar.pids, AGENT_MAXPIDS);
	pb_agentresp(&pb, &ar);
	ttrpc_reply(call, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
	free(ar.pids);
	agentreq_free(&r);
}

static void
stats(TtrpcCall *call, const uint8_t *req, size_t n)
{
	AgentReq r;
	AgentResp ar = { 0 };
	AgentStats st;
	Pb pb = { 0 };
	Ctr *c;

	if (!(c = reqctr(call, req, n, &r)))
		return;
	if (cg_stats(c->id, &st) < 0) {
		ttrpc_reply(call, RPC_INTERNAL, "the container's cgroup is gone", NULL, 0);
	} else {
		ar.stats = &st;
		pb_agentresp(&pb, &ar);
		ttrpc_reply(call, RPC_OK, NULL, pb.b, pb.n);
		pb_free(&pb);
	}
	agentreq_free(&r);
}

static void
update(TtrpcCall *call, const uint8_t *req, size_t n)
{
	AgentReq r;
	OciSpec s;
	Ctr *c;
	char err[ERRLEN];

	if (!(c = reqctr(call, req, n, &r)))
		return;
	err[0] = '\0';
	if (!r.config)
		ttrpc_reply(call, RPC_INVALID, "no resources in the Update request", NULL, 0);
	else if (oci_parse_resources(&s, r.config, r.configlen, err) < 0)
		ttrpc_reply(call, RPC_INVALID, err, NULL, 0);
	else {
		if (cg_apply(c->id, &s, err) < 0)
			ttrpc_reply(call, RPC_INVALID, err, NULL, 0);
		else
			ttrpc_reply(call, RPC_OK, NULL, NULL, 0);
		oci_free(&s);
	}
	agentreq_free(&r);
}

/* the pod's network (netcfg.c); id is "" */
static void
network(TtrpcCall *call, const uint8_t *req, size_t n)
{
	AgentReq r;
	char err[ERRLEN];

	if (pr_agentreq(req, n, &r) < 0) {
		ttrpc_reply(call, RPC_INVALID, "malformed request", NULL, 0);
		return;
	}
	if (!r.net)
		ttrpc_reply(call, RPC_INVALID, "Network: no network in the request",
		    NULL, 0);
	else if (netcfg_apply(r.net, err) < 0)
		ttrpc_reply(call, RPC_INVALID, err, NULL, 0);
	else
		ttrpc_reply(call, RPC_OK, NULL, NULL, 0);
	agentreq_free(&r);
}

static int
frozen(Ctr *c)
{
	char path[PATH_MAX], buf[256];

	snprintf(path, sizeof(path), CGROOT "/%s/cgroup.events", c->id);
	return cg_frozen(readfile(path, buf, sizeof(buf)) == 0 ? buf : NULL);
}

static int
freeze(Ctr *c, int on)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), CGROOT "/%s/cgroup.freeze", c->id);
	return writestr(path, on ? "1" : "0");
}

/* Pause's deadline: not frozen by now, thawed again and refused */
static void
freezetimeout(Watch *w, uint32_t ev)
{
	Ctr *c = w->arg;
	uint64_t x;

	(void)ev;
	if (read(w->fd, &x, sizeof(x)) < 0 && errno == EAGAIN)
		return;
	if (!c->npause)
		return;
	if (frozen(c)) {
		pausedone(c, RPC_OK, NULL);
		return;
	}
	freeze(c, 0);
	c->paused = 0;
	pausedone(c, RPC_DEADLINE, "the container's processes did not freeze in "
	    "time (uninterruptible sleep?); thawed again");
}

/* answered once cgroup.events says frozen (watchctr's inotify) */
static void
pause_(TtrpcCall *call, const uint8_t *req, size_t n)
{
	AgentReq r;
	Ctr *c;

	if (!(c = reqctr(call, req, n, &r)))
		return;
	agentreq_free(&r);
	if (freeze(c, 1) < 0) {
		ttrpc_reply(call, RPC_INTERNAL, "cgroup.freeze could not be written",
		    NULL, 0);
		return;
	}
	c->paused = 1;
	if (frozen(c)) {
		ttrpc_reply(call, RPC_OK, NULL, NULL, 0);
	} else if (c->npause == MAXPAUSE) {
		ttrpc_reply(call, RPC_EXHAUSTED, "too many Pause calls wait", NULL, 0);
	} else {
		c->pausers[c->npause++] = call;
		c->freezew.fn = freezetimeout;
		c->freezew.arg = c;
		if (c->npause == 1 && loop_timer(&c->freezew, FREEZENS) < 0)
			pausedone(c, RPC_INTERNAL, "timerfd");
	}
}

static void
resume(TtrpcCall *call, const uint8_t *req, size_t n)
{
	AgentReq r;
	Ctr *c;

	if (!(c = reqctr(call, req, n, &r)))
		return;
	if (freeze(c, 0) < 0) {
		ttrpc_reply(call, RPC_INTERNAL, "cgroup.freeze could not be written",
		    NULL, 0);
	} else {
		c->paused = 0;
		pausedone(c, RPC_ABORTED, "resumed before it froze");
		ttrpc_reply(call, RPC_OK, NULL, NULL, 0);
	}
	agentreq_free(&r);
}

static void
oomreply(TtrpcCall *call, const char *id)
{
	AgentResp ar = { 0 };
	Pb pb = { 0 };

	ar.id = (char *)id;
	pb_agentresp(&pb, &ar);
	ttrpc_reply(call, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
}

/* one call in flight: a newer one replaces it (the shim reconnected) */
static void
oom(TtrpcCall *call, const uint8_t *req, size_t n)
{
	(void)req;
	(void)n;
	if (noomq) {
		oomreply(call, oomq[0]);
		free(oomq[0]);
		memmove(oomq, oomq + 1, --noomq * sizeof(*oomq));
		return;
	}
	if (oomcall)
		ttrpc_reply(oomcall, RPC_ABORTED, "a newer Oom call waits", NULL, 0);
	oomcall = call;
}

/* memory.events changed: a new oom_kill is reported */
static void
checkoom(Ctr *c)
{
	char path[PATH_MAX], buf[1024];
	AgentStats st;

	snprintf(path, sizeof(path), CGROOT "/%s/memory.events", c->id);
	if (readfile(path, buf, sizeof(buf)) < 0)
		return;
	memset(&st, 0, sizeof(st));
	cg_memevents(buf, &st);
	if (st.evoomkill <= c->oomkills)
		return;
	c->oomkills = st.evoomkill;
	if (oomcall && !ttrpc_conn(oomcall)) {	/* its shim left: keep the report */
		ttrpc_reply(oomcall, RPC_CANCELLED, NULL, NULL, 0);
		oomcall = NULL;
	}
	if (oomcall) {
		oomreply(oomcall, c->id);
		oomcall = NULL;
	} else if (noomq < MAXOOM) {
		oomq[noomq++] = estrdup(c->id);
	} else {
		glog(LWARN, "container %s: OOM kill not reported: %d reports wait",
		    c->id, MAXOOM);
	}
}

static void
cgevents(Watch *w, uint32_t ev)
{
	char buf[4096];
	struct inotify_event ie;
	ssize_t len, off;
	Ctr *c;

	(void)ev;
	while ((len = read(w->fd, buf, sizeof(buf))) > 0) {
		for (off = 0; off + (ssize_t)sizeof(ie) <= len; off += sizeof(ie) + ie.len) {
			memcpy(&ie, buf + off, sizeof(ie));
			for (c = ctrs; c; c = c->next) {
				if (ie.wd == c->wdmem)
					checkoom(c);
				else if (ie.wd == c->wdev && c->npause && frozen(c))
					pausedone(c, RPC_OK, NULL);
			}
		}
	}
}

static const TtrpcMethod methods[] = {
	/* service          method       handler */
	{ AGENT_SERVICE,    "Health",    health },
	{ AGENT_SERVICE,    "Shutdown",  shutdown_ },
	{ AGENT_SERVICE,    "Create",    create },
	{ AGENT_SERVICE,    "Exec",      exec_ },
	{ AGENT_SERVICE,    "Start",     start },
	{ AGENT_SERVICE,    "Signal",    signal_ },
	{ AGENT_SERVICE,    "Wait",      wait_ },
	{ AGENT_SERVICE,    "Remove",    remove_ },
	{ AGENT_SERVICE,    "ResizePty", resizepty },
	{ AGENT_SERVICE,    "CloseIO",   closeio },
	{ AGENT_SERVICE,    "Pids",      pids },
	{ AGENT_SERVICE,    "Stats",     stats },
	{ AGENT_SERVICE,    "Update",    update },
	{ AGENT_SERVICE,    "Pause",     pause_ },
	{ AGENT_SERVICE,    "Resume",    resume },
	{ AGENT_SERVICE,    "Oom",       oom },
	{ AGENT_SERVICE,    "Network",   network },
};

static void
onclose(Ttrpc *t, void *arg)
{
	(void)arg;
	ttrpc_close(t);
}

static void
accepted(Watch *w, uint32_t ev)
{
	Ttrpc *t;
	int fd;

	(void)ev;
	while ((fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		if (!(t = ttrpc_new(fd, methods, LEN(methods), NULL))) {
			warn("ttrpc_new:");
			close(fd);
			continue;
		}
		ttrpc_onclose(t, onclose);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		warn("accept:");
}

static void
reap(Watch *w, uint32_t ev)
{
	struct signalfd_siginfo si;
	pid_t pid;
	int st;

	(void)ev;
	while (read(w->fd, &si, sizeof(si)) == sizeof(si))
		;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		exited(pid, st);
	if (ngone)
		reapgone();
}

static int
listenvsock(uint32_t port)
{
	struct sockaddr_vm sa;
	int fd;

	if ((fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.svm_family = AF_VSOCK;
	sa.svm_cid = VMADDR_CID_ANY;
	sa.svm_port = port;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 64) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The initramfs is the kernel's rootfs, which pivot_root cannot leave, so
 * containers could not pivot out of it. Before anything else the agent
 * moves itself to a tmpfs root (as switch_root does) and execs again.
 */
static void
reroot(char *argv0_)
{
	static char *args[] = { "/init", "rerooted", NULL };
	char buf[65536];
	ssize_t n;
	int in, out = -1;

	if (mkdir("/.root", 0755) < 0 ||
	    mount("tmpfs", "/.root", "tmpfs", MS_NOSUID, "mode=0755") < 0)
		die("agent root tmpfs:");
	mkdir("/.root/dev", 0755);
	if ((in = open(argv0_[0] == '/' ? argv0_ : "/init", O_RDONLY | O_CLOEXEC)) < 0 ||
	    (out = open("/.root/init", O_WRONLY | O_CREAT | O_CLOEXEC, 0755)) < 0)
		die("copy the agent:");
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (writeall(out, buf, n) < 0)
			die("copy the agent:");
	close(in);
	close(out);
	unlink("/init");	/* the initramfs copy: its memory comes back */
	if (chdir("/.root") < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 ||
	    chroot(".") < 0 || chdir("/") < 0)
		die("switch to the agent root:");
	execv("/init", args);
	die("exec /init:");
}

int
main(int argc, char *argv[])
{
	sigset_t set;

	argv0 = "husk-agent";
	if (getpid() != 1)
		die("must run as PID 1 of a husk guest (it is %s)", argv[0]);
	if (argc < 2 || strcmp(argv[1], "rerooted"))
		reroot(argv[0]);
	setup();
	if (cmdlinehas("husk.poweroff"))
		poweroff();

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, SIGPIPE);
	if (loop_init() < 0)
		die("epoll_create1:");
	if ((sigw.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		die("signalfd:");
	sigw.fn = reap;
	if (loop_add(&sigw, EPOLLIN) < 0)
		die("epoll_ctl:");
	if ((lsnw.fd = listenvsock(AGENT_PORT)) < 0)
		die("vsock port %d:", AGENT_PORT);
	lsnw.fn = accepted;
	if (loop_add(&lsnw, EPOLLIN) < 0)
		die("epoll_ctl:");
	if ((inw.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		die("inotify_init1:");
	inw.fn = cgevents;
	if (loop_add(&inw, EPOLLIN) < 0)
		die("epoll_ctl:");
	for (;;)
		if (loop_run(-1) < 0)
			warn("epoll_wait:");
	return 0;
}
