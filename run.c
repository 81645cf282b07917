/* See LICENSE file for copyright and license details. */
/*
 * husk run and husk boot: two front ends with no state of their own
 * beyond their function's frame.
 *
 * husk run is the containerd path without containerd: it serves the
 * Task service (task.c) on one end of a socketpair and is its own client
 * on the other, calling Create, Start, Wait and Delete as containerd
 * would. husk boot is the smallest whole path: boot a sandbox (sandbox.c),
 * ask the agent for its health, power off, and print the time of each
 * phase.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "husk.h"
#include "config.h"

/* -m MiB and -c vCPUs, for both commands */
static void
vmsize(SandboxConfig *vm, int opt, const char *arg)
{
	unsigned long v;
	char *end;

	v = strtoul(arg, &end, 10);
	if (opt == 'm') {
		if (*end || v < vm_minmemmib || v > VM_MAXMEMMIB)
			die("-m %s: memory must be %u to %u MiB", arg,
			    vm_minmemmib, VM_MAXMEMMIB);
		vm->memmib = v;
	} else {
		if (*end || !v || v > VM_MAXCPUS)
			die("-c %s: vCPUs must be 1 to %d", arg, VM_MAXCPUS);
		vm->ncpus = v;
	}
}

/* -N tap, for both commands: the guest's NIC joined to that tap */
static void
nettap(SandboxConfig *vm, const char *name)
{
	char err[ERRLEN];

	if (vm->tapfd >= 0)
		close(vm->tapfd);
	if ((vm->tapfd = net_tap(name, err)) < 0)
		die("-N %s", err);
}

/* a whole file into b */
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
 * husk run. A temporary bundle holds a generated config.json and three
 * FIFOs; forked copiers join the FIFOs to husk's own stdio as ctr's do.
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

	pb_killreq(&pb, r->id, NULL, sig, 0);
	if (ttrpc_call(r->c, TASK_SERVICE, "Kill", pb.b, pb.n, 0, ttrpc_ignore, r) < 0)
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
	uint32_t status;

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
		status = r->status;
		pr_waitresp(resp, n, &status);
		r->status = status;
		runcall(r, "Delete");
		break;
	default: r->finished = 1; break;
	}
}

static void
runcall(Run *r, const char *method)
{
	Pb pb = { 0 };

	if (!strcmp(method, "Create"))
		pb_createreq(&pb, r->id, r->bundle, r->fifo[0], r->fifo[1],
		    r->fifo[2]);
	else
		pb_idreq(&pb, r->id, NULL);
	if (ttrpc_call(r->c, TASK_SERVICE, method, pb.b, pb.n, 0, rundone, r) < 0)
		die("%s:", method);
	pb_free(&pb);
}

int
cmd_run(int argc, char *argv[])
{
	static const char *names[] = { "stdin", "stdout", "stderr" };
	char root[PATH_MAX], path[PATH_MAX], cmdline[4096];
	const char *k = getenv("HUSK_KERNEL"), *append = NULL;
	SandboxConfig vm;
	Sandbox *sb;
	Pb spec = { 0 };
	Run r;
	Ttrpc *srv;
	struct stat st;
	sigset_t sigs;
	int c, i, fd, sv[2];

	memset(&r, 0, sizeof(r));
	sandbox_defaults(&vm);
	if (k && k[0])
		vm.kernel = k;
	loglevel = LERR;	/* the one failure is reported below; -v for all */
	optind = 1;
	while ((c = getopt(argc, argv, "+vm:c:k:a:N:")) != -1) {
		switch (c) {
		case 'v': loglevel = LDEBUG; break;
		case 'm':
		case 'c': vmsize(&vm, c, optarg); break;
		case 'k': vm.kernel = optarg; break;
		case 'a': append = optarg; break;
		case 'N': nettap(&vm, optarg); break;
		default: goto usage;
		}
	}
	if (argc - optind < 2)
		goto usage;
	if (append) {
		snprintf(cmdline, sizeof(cmdline), "%s %s", vm_cmdline, append);
		vm.cmdline = cmdline;
	}
	if (loop_init() < 0)
		die("epoll_create1:");
	sb = sandbox_new();
	task_init(sb, &vm, "husk", NULL);
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
	if (!(srv = ttrpc_new(sv[0], task_methods, task_nmethods, NULL)) ||
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
	for (i = 0; i < 5; i++)	/* the last replies go out */
		loop_run(10);
	sandbox_free(sb);
	for (i = 0; i < 3; i++)
		if (r.copier[i] >= 0)
			unlink(r.fifo[i]);
	unlink(path);
	rmdir(r.bundle);
	return r.status;
usage:
	die("usage: husk run [-v] [-m MiB] [-c vCPUs] [-k vmlinux] [-a kernel-args] "
	    "[-N tap] ROOTFS CMD [ARG...]");
	return 125;
}


/*
 * husk boot: the agent's health, then its shutdown. The sandbox's boot
 * timer bounds the way to the agent (or, with -n, to the guest's stop);
 * a timer of this command's own bounds the shutdown.
 */
enum { CONNECTING, HEALTH, SHUTTING, DONE };

typedef struct {
	Sandbox *sb;
	int phase;
	int noagent;
	int status;		/* exit status of the command */
	unsigned timeoutms;	/* boot to agent answering, and the health check */
	Watch timew;		/* the shutdown's time-out */
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
	    sandbox_console(b->sb));
}

static void
shutdowndone(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	/* the VM may stop before the reply leaves it: bootdown decides */
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

	if (b->phase != HEALTH || sandbox_state(b->sb) == SB_DOWN)
		return;	/* bootdown says why */
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
	if (sandbox_call(b->sb, "Shutdown", NULL, shutdown_timeout_ms,
	    shutdowndone, b) < 0) {
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
	if (!sandbox_agent(b->sb)) {
		finish(b, 1);
		return;
	}
	b->phase = HEALTH;
	if (sandbox_call(b->sb, "Health", NULL, b->timeoutms, healthdone,
	    b) < 0) {
		warn("agent health check: cannot send the request");
		finish(b, 1);
	}
}

static void
shutdowntimecb(Watch *w, uint32_t ev)
{
	Boot *b = w->arg;
	uint64_t x;

	(void)ev;
	if (read(w->fd, &x, sizeof(x)) < 0 && errno != EAGAIN)
		return;
	if (b->phase != SHUTTING)
		return;
	warn("the guest did not power off within %u ms of the shutdown request",
	    shutdown_timeout_ms);
	consoletail(b);
	finish(b, 1);
}

/* the VM stopped, or the boot timer ran out (VM_RUNNING) */
static void
bootdown(void *arg, int vmstate, const char *why)
{
	Boot *b = arg;

	if (vmstate == VM_RUNNING) {
		if (b->phase == DONE)
			return;
		warn("%s", why);
		consoletail(b);
		finish(b, 1);
		return;
	}
	b->tdown = nowns();
	if (b->phase == SHUTTING || (b->noagent && vmstate == VM_RESET)) {
		finish(b, 0);
		return;
	}
	if (b->phase == DONE)
		return;
	warn("the guest stopped before the agent answered: %s", why);
	consoletail(b);
	finish(b, 1);
}

int
cmd_boot(int argc, char *argv[])
{
	SandboxConfig vm;
	Boot b;
	Pb initrd = { 0 };
	char err[ERRLEN], cmdline[4096];
	const char *initpath = NULL, *append = NULL, *logpath = NULL;
	unsigned long v;
	char *end;
	int c, verbose = 0;

	memset(&b, 0, sizeof(b));
	b.timew.fd = -1;
	b.timew.fn = shutdowntimecb;
	b.timew.arg = &b;
	sandbox_defaults(&vm);
	optind = 1;
	while ((c = getopt(argc, argv, "nvm:c:k:i:a:l:t:N:")) != -1) {
		switch (c) {
		case 'n': b.noagent = 1; break;
		case 'v': verbose = 1; break;
		case 'm':
		case 'c': vmsize(&vm, c, optarg); break;
		case 'k': vm.kernel = optarg; break;
		case 'i': initpath = optarg; break;
		case 'a': append = optarg; break;
		case 'l': logpath = optarg; break;
		case 'N': nettap(&vm, optarg); break;
		case 't':
			v = strtoul(optarg, &end, 10);
			if (*end || !v || v > UINT_MAX)
				die("-t %s: the time-out is a number of milliseconds", optarg);
			vm.timeoutms = v;
			break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (access(vm.kernel, R_OK) < 0)
		die("kernel %s:%s", vm.kernel, errno == ENOENT ?
		    " not found (build it with kernel/build, or pass -k vmlinux)" :
		    "");
	if (logpath && (vm.consolefd = open(logpath, O_WRONLY | O_CREAT |
	    O_TRUNC | O_CLOEXEC, 0644)) < 0)
		die("%s:", logpath);
	if (verbose)
		vm.consolefd = 2;
	loglevel = verbose ? LDEBUG : log_level;

	b.t0 = nowns();
	if (initpath) {
		if (readpath(initpath, &initrd, err) < 0)
			die("initramfs %s", err);
		vm.initrd = initrd.b;
		vm.initrdlen = initrd.n;
	}
	snprintf(cmdline, sizeof(cmdline), "%s%s%s", vm_cmdline,
	    append ? " " : "", append ? append : "");
	vm.cmdline = cmdline;
	vm.agent = !b.noagent;
	b.timeoutms = vm.timeoutms;
	if (loop_init() < 0)
		die("epoll_create1:");
	b.sb = sandbox_new();
	sandbox_onup(b.sb, bootup, &b);
	sandbox_ondown(b.sb, bootdown, &b);
	if (sandbox_boot(b.sb, &vm, err) < 0)
		die("%s", err);
	b.tsetup = nowns();
	pb_free(&initrd);
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
	sandbox_free(b.sb);
	if (vm.consolefd > 2)
		close(vm.consolefd);
	return b.status;
}
