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
 * `husk boot` boots a VM, asks the agent for its health and powers it off:
 * the smallest whole path, used by people and the tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "husk.h"
#include "config.h"

extern const unsigned char agent_bin[], agent_end[];

enum { CONNECTING, HEALTH, SHUTTING, DONE };

typedef struct {
	Vm *vm;
	Vsock *vs;
	Ttrpc *agent;
	int peerfd;		/* our end of the connection being made */
	int phase;
	int noagent;
	int status;		/* exit status of the command */
	int tries;
	unsigned long timeoutms;	/* boot to agent answering */
	Watch exitw, timew, retryw;
	uint64_t t0, tsetup, tready, tdown;
	AgentHealth h;
} Boot;

static void
usage(void)
{
	die("usage: husk boot [-nv] [-m MiB] [-c vCPUs] [-k vmlinux] "
	    "[-i initramfs] [-a kernel-args] [-l console-log] [-t timeout-ms]");
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
	if (ttrpc_call(b->agent, AGENT_SERVICE, "Shutdown", NULL, 0,
	    shutdown_timeout_ms * 1000000ull, shutdowndone, b) < 0) {
		warn("agent shutdown: cannot send the request");
		finish(b, 1);
	}
}

static void
agentclosed(Ttrpc *t, void *arg)
{
	Boot *b = arg;

	ttrpc_close(t);
	if (b->agent == t)
		b->agent = NULL;
}

static void
connected(void *arg, int err)
{
	Boot *b = arg;
	int fd = b->peerfd;

	b->peerfd = -1;
	if (b->phase != CONNECTING) {
		close(fd);
		return;
	}
	if (err) {
		/* the agent is not listening yet: try again shortly */
		close(fd);
		loop_timer(&b->retryw, 2000000);
		return;
	}
	if (!(b->agent = ttrpc_new(fd, NULL, 0, b))) {
		warn("agent connection:");
		close(fd);
		finish(b, 1);
		return;
	}
	ttrpc_onclose(b->agent, agentclosed);
	b->phase = HEALTH;
	if (ttrpc_call(b->agent, AGENT_SERVICE, "Health", NULL, 0,
	    b->timeoutms * 1000000ull, healthdone, b) < 0) {
		warn("agent health check: cannot send the request");
		finish(b, 1);
	}
}

static void
connect_(Boot *b)
{
	int sv[2];

	b->tries++;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		warn("socketpair:");
		finish(b, 1);
		return;
	}
	b->peerfd = sv[1];
	if (vsock_connect(b->vs, AGENT_PORT, sv[0], sv[0], connected, b) < 0) {
		warn("vsock connect to the agent:");
		close(sv[0]);
		close(sv[1]);
		b->peerfd = -1;
		finish(b, 1);
	}
}

static void
retrycb(Watch *w, uint32_t ev)
{
	Boot *b = w->arg;
	uint64_t x;

	(void)ev;
	if (read(w->fd, &x, sizeof(x)) < 0 && errno != EAGAIN)
		return;
	if (b->phase == CONNECTING)
		connect_(b);
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
		    "(%d connection attempts)", b->timeoutms, b->tries);
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
	b.peerfd = -1;
	b.exitw.fd = b.timew.fd = b.retryw.fd = -1;
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
	b.retryw.fn = retrycb;
	b.retryw.arg = &b;
	if (vmm_start(b.vm, err) < 0)
		die("%s", err);
	b.tsetup = nowns();
	pb_free(&initrd);

	loop_timer(&b.timew, b.timeoutms * 1000000ull);
	if (!b.noagent)
		connect_(&b);
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
	if (b.agent)
		ttrpc_close(b.agent);
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
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "version")) {
		puts("husk " VERSION);
		return 0;
	}
	usage();
	return 1;
}
