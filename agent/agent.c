/* See LICENSE file for copyright and license details. */
/*
 * husk-agent: PID 1 of the guest. It is the only file in the initramfs
 * husk builds. It mounts the pseudo file systems, reaps zombies, and
 * serves husk's agent API (husk.agent.v1.Agent) over ttrpc on vsock port
 * 1024, one ttrpc connection per accepted socket, all in one epoll loop.
 *
 * Containers, like a tiny runc: Create parses the OCI config.json (the
 * same json.c as the host), connects the stdio streams to the host ports
 * it was given, and clones the container's init into new mount, PID, IPC
 * and UTS namespaces. The child mounts the container's root from
 * virtio-fs (/run/husk/fs/<id>, the host's shared directory), the OCI
 * mounts, pivots into it, applies hostname and rlimits, then waits on a
 * pipe; Start lets it set its ids and exec. A second pipe, closed on exec,
 * carries setup and exec errors back as text.
 *
 * Least privilege, in runc's order. The agent compiles the seccomp
 * section to BPF before the clone (a bad profile fails Create), writes
 * the id maps of a new user namespace and puts the child in its cgroup,
 * then lets it go. The child unshares its cgroup namespace, mounts,
 * pivots, applies readonlyPaths then maskedPaths, and reports ready. At
 * Start: no_new_privs, the filter if no_new_privs is off (loading it
 * then needs CAP_SYS_ADMIN, still held), the bounding set cut, the ids
 * set with the capabilities kept across setuid, capset and the ambient
 * set, the filter if no_new_privs is on (as late as possible), exec.
 * Without a capabilities section the process keeps every capability,
 * as with runc.
 *
 * Stdio: the process gets pipes (a socket as stdout breaks reopening
 * /dev/stdout); the agent copies between them and the vsock streams in
 * the loop. An exit is reported (Wait) only when the process is reaped
 * and its stdout and stderr reached EOF, were written out, and the host
 * closed its end: by then every byte is in containerd's FIFO.
 *
 * With "husk.poweroff" on the kernel command line it powers the VM off as
 * soon as the mounts are done: the trivial init the boot benchmark uses.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/vm_sockets.h>

#include "../husk.h"


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

static int
writestr(const char *path, const char *s)
{
	int fd, r;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	r = writeall(fd, s, strlen(s)) < 0 ? -1 : 0;
	close(fd);
	return r;
}

static void
setup(void)
{
	size_t i;

	for (i = 0; i < LEN(mounts); i++) {
		mkdir(mounts[i].dst, 0755);
		if (mount(mounts[i].src, mounts[i].dst, mounts[i].type,
		    mounts[i].flags, mounts[i].data) < 0 && errno != EBUSY)
			warn("mount %s:", mounts[i].dst);
	}
	mkdir("/tmp", 01777);
	/* containers get their resources from these controllers */
	writestr("/sys/fs/cgroup/cgroup.subtree_control", "+memory +pids +cpu");
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

static int
readfile(const char *path, char *buf, size_t n)
{
	int fd;
	ssize_t r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	r = readall(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = '\0';
	return 0;
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

/* containers */
enum { CREATED, RUNNING, EXITED };
#define FSDIR	SHARE_GUESTDIR		/* the virtio-fs share, tag SHARE_TAG */

typedef struct Ctr Ctr;
typedef struct {
	Ctr *c;
	int from, to;		/* -1 once closed */
	int tosock;		/* to is the vsock stream: shut it, await the host */
	Watch rw, ww;
	uint32_t rev, wev;
	char buf[65536];
	size_t off, n;
	int eof, done;
} Copy;
struct Ctr {
	char *id;
	pid_t pid;
	int state, status;
	int startfd;		/* write end of the start pipe */
	int errfd;		/* read end of the error pipe, closed on exec */
	Copy *io[3];
	TtrpcCall **waiters;
	size_t nwait;
	Ctr *next;
};

static Ctr *ctrs;

static Ctr *
findctr(const char *id)
{
	Ctr *c;

	for (c = ctrs; c && strcmp(c->id, id); c = c->next)
		;
	return c;
}

static int
iodone(Ctr *c)
{
	return (!c->io[1] || c->io[1]->done) && (!c->io[2] || c->io[2]->done);
}

/* the exit is reported once the process is gone and its output delivered */
static void
settle(Ctr *c)
{
	Pb pb = { 0 };
	AgentResp ar = { 0 };
	size_t i;

	if (c->state != EXITED || !iodone(c))
		return;
	ar.pid = c->pid;
	ar.status = c->status;
	pb_agentresp(&pb, &ar);
	for (i = 0; i < c->nwait; i++)
		ttrpc_reply(c->waiters[i], RPC_OK, NULL, pb.b, pb.n);
	c->nwait = 0;
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
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0) {
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
		settle(k->c);
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
newcopy(Ctr *c, int from, int to, int tosock)
{
	Copy *k = ecalloc(1, sizeof(*k));

	k->c = c;
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

static void
freectr(Ctr *c)
{
	Ctr **pp;
	size_t i;
	char path[PATH_MAX];

	for (pp = &ctrs; *pp && *pp != c; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = c->next;
	for (i = 0; i < 3; i++) {
		if (c->io[i]) {
			copyclose(c->io[i]);
			loop_defer(free, c->io[i]);
		}
	}
	for (i = 0; i < c->nwait; i++)
		ttrpc_reply(c->waiters[i], RPC_NOTFOUND, "container removed", NULL, 0);
	if (c->startfd >= 0)
		close(c->startfd);
	if (c->errfd >= 0)
		close(c->errfd);
	snprintf(path, sizeof(path), "/sys/fs/cgroup/%s", c->id);
	rmdir(path);
	free(c->waiters);
	free(c->id);
	free(c);
}

/* a container's init was reaped */
static void
exited(pid_t pid, int st)
{
	Ctr *c;

	for (c = ctrs; c && c->pid != pid; c = c->next)
		;
	if (!c || c->state == EXITED)
		return;
	c->state = EXITED;
	c->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (c->io[0] && !c->io[0]->done) {	/* nobody reads stdin now */
		copyclose(c->io[0]);
		c->io[0]->done = 1;
	}
	settle(c);
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

/* the guest cgroup of a container: OCI resources, then the process */
static void
cgroup(const char *id, const OciSpec *s, pid_t pid)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], v[64];

	snprintf(dir, sizeof(dir), "/sys/fs/cgroup/%s", id);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		warn("cgroup %s:", dir);
		return;
	}
#define CG(file, ...) do { \
	snprintf(path, sizeof(path), "%s/%s", dir, file); \
	snprintf(v, sizeof(v), __VA_ARGS__); \
	if (writestr(path, v) < 0) \
		warn("%s = %s:", path, v); \
} while (0)
	if (s->memlimit > 0)
		CG("memory.max", "%lld", (long long)s->memlimit);
	if (s->pidslimit > 0)
		CG("pids.max", "%lld", (long long)s->pidslimit);
	if (s->cpuquota > 0)
		CG("cpu.max", "%lld %llu", (long long)s->cpuquota,
		    (unsigned long long)(s->cpuperiod ? s->cpuperiod : 100000));
	if (s->cpushares >= 2)
		CG("cpu.weight", "%llu", (unsigned long long)
		    (1 + (MIN(s->cpushares, 262144) - 2) * 9999 / 262142));
	CG("cgroup.procs", "%d", (int)pid);
#undef CG
}

/* mkdir -p, or create the file a bind mount of a file needs */
static int
mkpath(char *path, int file)
{
	int fd;

	if (mkparents(path, 0755) < 0)
		return -1;
	if (!file)
		return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return errno == EISDIR ? 0 : -1;
	close(fd);
	return 0;
}

/* the child: say what went wrong on the error pipe and end */
static void
fail(int errfd, const char *fmt, ...)
{
	char msg[ERRLEN];
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (fmt[0] && fmt[strlen(fmt) - 1] == ':')
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " %s",
		    strerror(e));
	writeall(errfd, msg, strlen(msg));
	_exit(127);
}

static void
ocimounts(const OciSpec *s, const char *root, int errfd)
{
	static const struct { const char *name; mode_t mode; dev_t dev; } nodes[] = {
		{ "null", 020666, 0x103 }, { "zero", 020666, 0x105 },
		{ "full", 020666, 0x107 }, { "random", 020666, 0x108 },
		{ "urandom", 020666, 0x109 }, { "tty", 020666, 0x500 },
	};
	static const char *links[][2] = {
		{ "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
		{ "pts/ptmx", "ptmx" },
	};
	char dst[PATH_MAX], data[1024], path[PATH_MAX + 16], shared[PATH_MAX + 32];
	unsigned long flags;
	const char *type, *src;
	struct stat st;
	size_t i;

	for (i = 0; i < s->nmounts; i++) {
		OciMount *m = &s->mounts[i];

		if (m->dest[0] != '/' || strstr(m->dest, "/../") ||
		    snprintf(dst, sizeof(dst), "%s%s", root, m->dest) >= (int)sizeof(dst))
			fail(errfd, "mount %s: the destination must be an absolute path", m->dest);
		mountopts(m->options, &flags, data, sizeof(data));
		type = m->type ? m->type : "";
		src = m->source ? m->source : type;
		if (!strcmp(type, "bind"))
			flags |= MS_BIND;
		if (flags & MS_BIND) {
			/* a host path the shim shared as <root>.m<i> */
			snprintf(shared, sizeof(shared), SHARE_BINDFMT, root, i);
			if (lstat(shared, &st) == 0)
				src = shared;
			if (stat(src, &st) < 0) {
				warn("container mount %s: bind source %s is not "
				    "in the guest: skipped", m->dest, src);
				continue;
			}
			if (mkpath(dst, !S_ISDIR(st.st_mode)) < 0)
				fail(errfd, "mount %s: mkdir:", m->dest);
			if (mount(src, dst, NULL, MS_BIND | (flags & MS_REC), NULL) < 0)
				fail(errfd, "mount %s: bind %s:", m->dest, src);
			if ((flags & ~(MS_BIND | MS_REC)) && mount(NULL, dst, NULL,
			    MS_REMOUNT | MS_BIND | (flags & ~MS_REC), NULL) < 0)
				fail(errfd, "mount %s: remount:", m->dest);
			continue;
		}
		if (mkpath(dst, 0) < 0)
			fail(errfd, "mount %s: mkdir:", m->dest);
		if (!strcmp(type, "cgroup"))	/* the guest has cgroup2 only */
			type = "cgroup2", src = "cgroup2", data[0] = '\0';
		if (mount(src, dst, type, flags, data[0] ? data : NULL) < 0) {
			/* a user namespace without its own network one may not
			 * mount sysfs: the guest's is bound instead, as runc does */
			if (s->userns && errno == EPERM && !strcmp(type, "sysfs") &&
			    mount("/sys", dst, NULL, MS_BIND | MS_REC, NULL) == 0) {
				if ((flags & ~MS_REC) && mount(NULL, dst, NULL,
				    MS_REMOUNT | MS_BIND | (flags & ~MS_REC), NULL) < 0)
					fail(errfd, "mount %s: remount:", m->dest);
				continue;
			}
			if (!strcmp(type, "cgroup2") || !strcmp(type, "mqueue")) {
				warn("container mount %s (%s):", m->dest, type);
				continue;
			}
			fail(errfd, "mount %s (%s):", m->dest, type);
		}
	}
	/* a tmpfs /dev gets the usual nodes and links */
	snprintf(path, sizeof(path), "%s/dev/null", root);
	if (stat(path, &st) < 0 || !S_ISCHR(st.st_mode)) {
		for (i = 0; i < LEN(nodes); i++) {
			snprintf(path, sizeof(path), "%s/dev/%s", root, nodes[i].name);
			unlink(path);
			if (mknod(path, nodes[i].mode, makedev(nodes[i].dev >> 8,
			    nodes[i].dev & 0xff)) == 0) {
				chmod(path, nodes[i].mode & 0777);
				continue;
			}
			/* a user namespace may not make nodes: bind the agent's */
			snprintf(shared, sizeof(shared), "/dev/%s", nodes[i].name);
			if (mkpath(path, 1) < 0 || mount(shared, path, NULL, MS_BIND, NULL) < 0)
				fail(errfd, "device %s:", path);
		}
		for (i = 0; i < LEN(links); i++) {
			snprintf(path, sizeof(path), "%s/dev/%s", root, links[i][1]);
			symlink(links[i][0], path);
		}
	}
}

/*
 * The program to run, found as runc finds it at create (so that a
 * missing command fails Create, not Start): args[0] itself when it holds
 * a '/', else the first executable regular file of that name along the
 * container's PATH. Runs in the container's root and cwd.
 */
static void
lookpath(const OciSpec *s, char *out, size_t n, int errfd)
{
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	const char *p, *end;
	struct stat st;
	size_t i;

	if (strchr(s->args[0], '/')) {
		if (stat(s->args[0], &st) < 0)
			fail(errfd, "exec %s:", s->args[0]);
		if (!S_ISREG(st.st_mode))
			fail(errfd, "exec %s: not a regular file", s->args[0]);
		snprintf(out, n, "%s", s->args[0]);
		return;
	}
	for (i = 0; s->env && s->env[i]; i++)
		if (!strncmp(s->env[i], "PATH=", 5))
			path = s->env[i] + 5;
	for (p = path; ; p = end + 1) {
		if (!(end = strchr(p, ':')))
			end = p + strlen(p);
		if (snprintf(out, n, "%.*s%s%s", (int)(end - p), p,
		    end > p ? "/" : "", s->args[0]) < (int)n &&
		    stat(out, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
			return;
		if (!*end)
			break;
	}
	fail(errfd, "exec %s: not found in $PATH (%s)", s->args[0], path);
}

/*
 * readonlyPaths, then maskedPaths, as runc: a path that does not exist
 * is skipped; a read-only path is bound onto itself and remounted
 * read-only keeping its nosuid, nodev, noexec and atime flags (in a user
 * namespace they are locked); a masked file gets /dev/null bound over
 * it, a masked directory an empty read-only tmpfs.
 */
static void
protectpaths(const OciSpec *s, int errfd)
{
	const unsigned long keep = MS_NOSUID | MS_NODEV | MS_NOEXEC |
	    MS_NOATIME | MS_NODIRATIME | MS_RELATIME;
	struct statvfs sv;
	size_t i;

	for (i = 0; s->readonly[i]; i++) {
		const char *p = s->readonly[i];

		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			fail(errfd, "readonly path %s: bind:", p);
		}
		if (statvfs(p, &sv) < 0)
			fail(errfd, "readonly path %s: statvfs:", p);
		if (mount(p, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY |
		    (sv.f_flag & keep), NULL) < 0)
			fail(errfd, "readonly path %s: remount:", p);
	}
	for (i = 0; s->masked[i]; i++) {
		const char *p = s->masked[i];
		struct stat st;

		if (stat(p, &st) < 0) {
			if (errno == ENOENT)
				continue;
			fail(errfd, "masked path %s:", p);
		}
		if (S_ISDIR(st.st_mode)) {
			if (mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL) < 0)
				fail(errfd, "masked path %s: tmpfs:", p);
		} else if (mount("/dev/null", p, NULL, MS_BIND, NULL) < 0) {
			fail(errfd, "masked path %s: bind /dev/null:", p);
		}
	}
}

static uint32_t
caplast(void)
{
	char buf[16];
	unsigned long n;

	if (readfile("/proc/sys/kernel/cap_last_cap", buf, sizeof(buf)) < 0)
		return CAP_LAST_CAP;
	n = strtoul(buf, NULL, 10);
	return n < 64 ? n : 63;
}

/*
 * process.capabilities: cut the bounding set, change ids with the
 * permitted set kept (PR_SET_KEEPCAPS), set effective, permitted and
 * inheritable, raise the ambient set. Capabilities past the guest
 * kernel's last are left out (runc ignores them too).
 */
static void
setcaps(const OciSpec *s, uint32_t last, int errfd)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	uint64_t known, eff, prm, inh;
	uint32_t c;

	known = last >= 63 ? ~0ull : (1ull << (last + 1)) - 1;
	eff = s->capeff & known;
	prm = s->capprm & known;
	inh = s->capinh & known;
	if (s->hascaps)
		for (c = 0; c <= last; c++)
			if (!(s->capbnd & 1ull << c) &&
			    prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
				fail(errfd, "drop capability %u from the bounding set:", c);
	if (s->hascaps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		fail(errfd, "keep capabilities:");
	if (setgroups(s->ngids, s->gids) < 0)
		fail(errfd, "setgroups:");
	if (setgid(s->gid) < 0)
		fail(errfd, "setgid %u:", s->gid);
	if (setuid(s->uid) < 0)
		fail(errfd, "setuid %u:", s->uid);
	if (!s->hascaps)
		return;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		fail(errfd, "keep capabilities:");
	d[0].effective = eff;
	d[1].effective = eff >> 32;
	d[0].permitted = prm;
	d[1].permitted = prm >> 32;
	d[0].inheritable = inh;
	d[1].inheritable = inh >> 32;
	if (syscall(SYS_capset, &h, d) < 0)
		fail(errfd, "capset:");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fail(errfd, "clear the ambient capabilities:");
	for (c = 0; c <= last; c++)
		if (s->capamb & 1ull << c &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			fail(errfd, "raise ambient capability %u (it must be permitted "
			    "and inheritable):", c);
}

/*
 * linux.seccomp as sc_compile rules: one rule per name the agent knows
 * (unknown names are skipped, as libseccomp does), none for an action
 * that is the default one (as runc). Tests on different arguments of one
 * syscall all must hold; several tests on the same argument are
 * alternatives, one rule each (runc's reading, which containerd's
 * profile relies on for personality()). Only x86-64 is filtered: the
 * other architectures of the list are ignored and sc_compile's
 * architecture check refuses any other.
 */
static int
ocifilter(const OciSeccomp *o, ScProg *p, char *err)
{
	ScRule *rules = NULL;
	ScArg *args = NULL;
	size_t i, k, a, b, n = 0, na = 0, total = 0, totalargs = 0;
	int split, r;
	long nr;

	for (i = 0; i < o->nsys; i++) {
		for (k = 0; o->sys[i].names[k]; k++)
			;
		total += k * MAX(o->sys[i].nargs, 1);
		totalargs += o->sys[i].nargs;
	}
	rules = ecalloc(total + 1, sizeof(*rules));
	args = ecalloc(totalargs + 1, sizeof(*args));
	for (i = 0; i < o->nsys; i++) {
		const OciSyscall *c = &o->sys[i];
		ScArg *g = args + na;

		for (a = 0; a < c->nargs; a++) {
			g[a].index = c->args[a].index;
			g[a].op = c->args[a].op;
			g[a].value = c->args[a].value;
			g[a].value2 = c->args[a].value2;
		}
		na += c->nargs;
		split = 0;
		for (a = 0; a < c->nargs; a++)
			for (b = a + 1; b < c->nargs; b++)
				split |= c->args[a].index == c->args[b].index;
		if (c->action == o->defaction)
			continue;
		for (k = 0; c->names[k]; k++) {
			if ((nr = sc_nr(c->names[k])) < 0)
				continue;
			if (!split) {
				rules[n].nr = nr;
				rules[n].action = c->action;
				rules[n].args = g;
				rules[n++].nargs = c->nargs;
				continue;
			}
			for (a = 0; a < c->nargs; a++) {
				rules[n].nr = nr;
				rules[n].action = c->action;
				rules[n].args = &g[a];
				rules[n++].nargs = 1;
			}
		}
	}
	r = sc_compile(o->defaction, rules, n, p, err);
	free(rules);
	free(args);
	return r;
}

/* the container's init, in its new namespaces; never returns */
static void
child(const OciSpec *s, const ScProg *filter, const char *root, int fds[3],
    int startfd, int errfd)
{
	char prog[PATH_MAX], x, err[ERRLEN];
	uint32_t last = caplast();	/* the guest kernel's, from the agent's /proc */
	size_t i;

	/* the agent writes the id maps and sets the cgroup, then says go */
	if (read(startfd, &x, 1) != 1)
		_exit(127);
	if (s->userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		fail(errfd, "become root of the user namespace:");
	if (s->cgroupns && unshare(CLONE_NEWCGROUP) < 0)
		fail(errfd, "cgroup namespace:");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail(errfd, "make / private:");
	if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
		fail(errfd, "bind the root %s:", root);
	ocimounts(s, root, errfd);
	if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
		fail(errfd, "hostname %s:", s->hostname);
	if (chdir(root) < 0)
		fail(errfd, "chdir %s:", root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		fail(errfd, "pivot_root:");
	if (umount2(".", MNT_DETACH) < 0)
		fail(errfd, "detach the old root:");
	if (chdir("/") < 0)
		fail(errfd, "chdir /:");
	if (s->rootro && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND |
	    MS_RDONLY, NULL) < 0)
		fail(errfd, "read-only root:");
	protectpaths(s, errfd);
	for (i = 0; i < s->nrlimits; i++) {
		struct rlimit rl = { s->rlimits[i].soft, s->rlimits[i].hard };

		if (setrlimit(s->rlimits[i].resource, &rl) < 0)
			fail(errfd, "rlimit %d:", s->rlimits[i].resource);
	}
	if (chdir(s->cwd) < 0)
		fail(errfd, "cwd %s:", s->cwd);
	lookpath(s, prog, sizeof(prog), errfd);
	for (i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			fail(errfd, "stdio:");
	setsid();
	/* ready: wait for Start (EOF without a byte: the container is gone) */
	if (write(errfd, "", 1) != 1 || read(startfd, &x, 1) != 1)
		_exit(127);
	close(startfd);
	if (s->nonewprivs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(errfd, "no_new_privs:");
	if (filter && !s->nonewprivs && sc_load(filter, err) < 0)
		fail(errfd, "seccomp: %s", err);
	setcaps(s, last, errfd);
	if (s->hasumask)
		umask(s->umask);
	if (chdir(s->cwd) < 0)
		fail(errfd, "cwd %s:", s->cwd);
	if (filter && s->nonewprivs && sc_load(filter, err) < 0)
		fail(errfd, "seccomp: %s", err);
	execve(prog, s->args, s->env);
	fail(errfd, "exec %s:", prog);
}

/* a new user namespace's uid_map or gid_map, in one write as the kernel wants */
static int
writemap(pid_t pid, const char *file, const OciIdMap *m, size_t n, char *err)
{
	char path[64], *buf;
	size_t i, len = 0;
	int r;

	buf = emalloc(n * 36 + 1);
	for (i = 0; i < n; i++)
		len += sprintf(buf + len, "%u %u %u\n", m[i].ctr, m[i].host, m[i].size);
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if ((r = writestr(path, buf)) < 0)
		seterr(err, "user namespace: write %s:", file);
	free(buf);
	return r;
}

/* read the child's word on the error pipe: 0 ready or exec'd, -1 failed */
static int
childword(int fd, char *msg, size_t n)
{
	ssize_t r;

	msg[0] = '\0';
	while ((r = read(fd, msg, 1)) < 0 && errno == EINTR)
		;
	if (r <= 0)
		return r == 0 ? 0 : -1;	/* EOF: exec closed it */
	if (msg[0] == '\0')
		return 0;		/* ready */
	r = readall(fd, msg + 1, n - 2);
	msg[r > 0 ? r + 1 : 1] = '\0';
	return -1;
}

static int fsmounted;	/* the share is at FSDIR */

static void
create(TtrpcCall *call, const uint8_t *req, size_t n)
{
	AgentReq r;
	OciSpec s;
	Ctr *c;
	Pb pb = { 0 };
	AgentResp ar = { 0 };
	char err[ERRLEN], root[PATH_MAX], cgdir[PATH_MAX], list[256];
	int fds[3] = { -1, -1, -1 }, pfd[2], sp[2] = { -1, -1 }, ep[2] = { -1, -1 };
	int mine[3] = { -1, -1, -1 }, socks[3] = { -1, -1, -1 };
	uint32_t ports[3];
	pid_t pid;
	int i, code = RPC_INTERNAL, flags, hasfilter = 0;
	ScProg filter = { NULL, 0 };

	memset(&s, 0, sizeof(s));
	if (pr_agentreq(req, n, &r) < 0) {
		ttrpc_reply(call, RPC_INVALID, "malformed Create request", NULL, 0);
		return;
	}
	err[0] = '\0';
	if (!validid(r.id)) {
		code = RPC_INVALID;
		seterr(err, "invalid container id '%s'", r.id);
		goto out;
	}
	if (findctr(r.id)) {
		code = RPC_EXISTS;
		seterr(err, "container %s exists", r.id);
		goto out;
	}
	if (!r.config || oci_parse(&s, r.config, r.configlen, err) < 0) {
		code = RPC_INVALID;
		if (!r.config)
			seterr(err, "no config.json in the request");
		goto out;
	}
	if (!s.args[0]) {
		code = RPC_INVALID;
		seterr(err, "config.json: process.args is empty");
		goto out;
	}
	if (s.capunknown[0]) {
		list[0] = '\0';
		for (i = 0; s.capunknown[i]; i++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			    i ? " " : "", s.capunknown[i]);
		glog(LWARN, "container %s: ignoring unknown capabilities: %s", r.id,
		    escape(err, sizeof(err), list, strlen(list)));
		err[0] = '\0';
	}
	if (s.seccomp) {
		if (ocifilter(s.seccomp, &filter, err) < 0) {
			code = RPC_INVALID;
			goto out;
		}
		hasfilter = 1;
	}
	/* once: a second mount of the tag would stack on the first */
	if (!fsmounted) {
		/* 0711: a container init in a user namespace is not root
		 * here, yet must reach its root to bind it */
		mkdir(GUEST_RUNDIR, 0711);
		mkdir(FSDIR, 0755);
		if (mount(SHARE_TAG, FSDIR, "virtiofs", 0, NULL) < 0 && errno != EBUSY) {
			seterr(err, "mount the virtio-fs share:");
			goto out;
		}
		fsmounted = 1;
	}
	snprintf(root, sizeof(root), FSDIR "/%s", r.id);
	if (access(root, F_OK) < 0) {
		seterr(err, "container root %s:", root);
		goto out;
	}
	ports[0] = r.iport;
	ports[1] = r.oport;
	ports[2] = r.eport;
	for (i = 0; i < 3; i++) {
		if (!ports[i]) {
			if ((fds[i] = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
				seterr(err, "/dev/null:");
				goto out;
			}
			continue;
		}
		if ((socks[i] = hostport(ports[i])) < 0) {
			seterr(err, "stdio stream to host port %u:", ports[i]);
			goto out;
		}
		if (pipe2(pfd, O_CLOEXEC) < 0) {
			seterr(err, "pipe:");
			goto out;
		}
		fds[i] = pfd[i == 0 ? 0 : 1];
		mine[i] = pfd[i == 0 ? 1 : 0];
	}
	if (pipe2(sp, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
		seterr(err, "pipe:");
		goto out;
	}
	flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD;
	if (s.userns)
		flags |= CLONE_NEWUSER;
	pid = syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		seterr(err, "clone:");
		goto out;
	}
	if (pid == 0) {
		sigset_t set;

		sigemptyset(&set);
		sigprocmask(SIG_SETMASK, &set, NULL);
		close(sp[1]);
		close(ep[0]);
		child(&s, hasfilter ? &filter : NULL, root, fds, sp[0], ep[1]);
	}
	close(sp[0]);
	close(ep[1]);
	sp[0] = ep[1] = -1;
	/* id maps and cgroup before the child goes on (a cgroup namespace
	 * takes the cgroup it is made in as its root) */
	if (s.userns && (writemap(pid, "uid_map", s.uidmap, s.nuidmap, err) < 0 ||
	    writemap(pid, "gid_map", s.gidmap, s.ngidmap, err) < 0))
		goto killed;
	cgroup(r.id, &s, pid);
	if (write(sp[1], "", 1) != 1 || childword(ep[0], err, sizeof(err)) < 0) {
killed:
		if (!err[0])
			seterr(err, "the container's init died during setup");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		snprintf(cgdir, sizeof(cgdir), "/sys/fs/cgroup/%s", r.id);
		rmdir(cgdir);
		goto out;
	}
	c = ecalloc(1, sizeof(*c));
	c->id = r.id;
	r.id = NULL;
	c->pid = pid;
	c->state = CREATED;
	c->startfd = sp[1];
	c->errfd = ep[0];
	sp[1] = ep[0] = -1;
	for (i = 0; i < 3; i++) {
		if (socks[i] < 0)
			continue;
		c->io[i] = i == 0 ? newcopy(c, socks[i], mine[i], 0) :
		    newcopy(c, mine[i], socks[i], 1);
		socks[i] = mine[i] = -1;
	}
	c->next = ctrs;
	ctrs = c;
	for (i = 0; i < 3; i++)
		if (c->io[i])
			copyio(c->io[i]);
	ar.pid = pid;
	pb_agentresp(&pb, &ar);
	ttrpc_reply(call, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
	code = RPC_OK;
out:
	if (code != RPC_OK)
		ttrpc_reply(call, code, err, NULL, 0);
	for (i = 0; i < 3; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		if (mine[i] >= 0)
			close(mine[i]);
		if (socks[i] >= 0)
			close(socks[i]);
	}
	for (i = 0; i < 2; i++) {
		if (sp[i] >= 0)
			close(sp[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	if (hasfilter)
		sc_free(&filter);
	oci_free(&s);
	agentreq_free(&r);
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

static void
start(TtrpcCall *call, const uint8_t *req, size_t n)
{
	AgentReq r;
	Ctr *c;
	Pb pb = { 0 };
	AgentResp ar = { 0 };
	char err[ERRLEN];

	if (!(c = reqctr(call, req, n, &r)))
		return;
	if (c->state != CREATED) {
		ttrpc_reply(call, RPC_PRECONDITION, "container already started", NULL, 0);
	} else if (write(c->startfd, "", 1) != 1 || childword(c->errfd, err,
	    sizeof(err)) < 0) {
		if (!err[0])
			seterr(err, "the container's init died before exec");
		c->state = RUNNING;
		ttrpc_reply(call, RPC_UNKNOWN, err, NULL, 0);
	} else {
		c->state = c->state == CREATED ? RUNNING : c->state;
		ar.pid = c->pid;
		pb_agentresp(&pb, &ar);
		ttrpc_reply(call, RPC_OK, NULL, pb.b, pb.n);
		pb_free(&pb);
	}
	close(c->startfd);
	c->startfd = -1;
	agentreq_free(&r);
}

static void
signal_(TtrpcCall *call, const uint8_t *req, size_t n)
{
	AgentReq r;
	Ctr *c;

	if (!(c = reqctr(call, req, n, &r)))
		return;
	if (r.signal < 1 || r.signal >= 65)
		ttrpc_reply(call, RPC_INVALID, "invalid signal", NULL, 0);
	else if (c->state != EXITED && kill(c->pid, r.signal) < 0 && errno != ESRCH)
		ttrpc_reply(call, RPC_INTERNAL, strerror(errno), NULL, 0);
	else
		ttrpc_reply(call, RPC_OK, NULL, NULL, 0);
	agentreq_free(&r);
}

static void
wait_(TtrpcCall *call, const uint8_t *req, size_t n)
{
	AgentReq r;
	Ctr *c;

	if (!(c = reqctr(call, req, n, &r)))
		return;
	c->waiters = erealloc(c->waiters, (c->nwait + 1) * sizeof(*c->waiters));
	c->waiters[c->nwait++] = call;
	settle(c);
	agentreq_free(&r);
}

static void
remove_(TtrpcCall *call, const uint8_t *req, size_t n)
{
	AgentReq r;
	Ctr *c;

	if (!(c = reqctr(call, req, n, &r)))
		return;
	if (c->state != EXITED) {
		ttrpc_reply(call, RPC_PRECONDITION, "container is running", NULL, 0);
	} else {
		freectr(c);
		ttrpc_reply(call, RPC_OK, NULL, NULL, 0);
	}
	agentreq_free(&r);
}

static const TtrpcMethod methods[] = {
	/* service          method      handler */
	{ AGENT_SERVICE,    "Health",   health },
	{ AGENT_SERVICE,    "Shutdown", shutdown_ },
	{ AGENT_SERVICE,    "Create",   create },
	{ AGENT_SERVICE,    "Start",    start },
	{ AGENT_SERVICE,    "Signal",   signal_ },
	{ AGENT_SERVICE,    "Wait",     wait_ },
	{ AGENT_SERVICE,    "Remove",   remove_ },
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
	for (;;)
		if (loop_run(-1) < 0)
			warn("epoll_wait:");
	return 0;
}
