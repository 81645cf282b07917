/* See LICENSE file for copyright and license details. */
/*
 * husk-agent: PID 1 of the guest. It is the only file in the initramfs
 * husk builds. It mounts the pseudo file systems, reaps zombies, and
 * serves husk's agent API (husk.agent.v1.Agent) over ttrpc on vsock port
 * 1024, one ttrpc connection per accepted socket, all in one epoll loop.
 *
 * With "husk.poweroff" on the kernel command line it powers the VM off as
 * soon as the mounts are done: the trivial init the boot benchmark uses.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

static const TtrpcMethod methods[] = {
	/* service          method      handler */
	{ AGENT_SERVICE,    "Health",   health },
	{ AGENT_SERVICE,    "Shutdown", shutdown_ },
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

	(void)ev;
	while (read(w->fd, &si, sizeof(si)) == sizeof(si))
		;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
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

int
main(int argc, char *argv[])
{
	sigset_t set;

	(void)argc;
	argv0 = "husk-agent";
	if (getpid() != 1)
		die("must run as PID 1 of a husk guest (it is %s)", argv[0]);
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
