/* See LICENSE file for copyright and license details. */
/*
 * husk: a containerd shim v2 whose sandboxes are KVM microVMs.
 *
 * One process per sandbox is both the shim containerd talks to and the
 * virtual machine monitor. Start reading here (main and its command
 * table, then the shim binary's contract with containerd), then:
 *
 *   task.c     the containerd.task.v2.Task service: tasks, states,
 *              waiters, events; it reaches the VM only through sandbox.c
 *   sandbox.c  the pod's VM: one boot for every command, the agent link,
 *              the boot timer, the VM's exit, stdio ports, the share
 *   run.c      husk run and husk boot, front ends over the two above
 *   rootfs.c   a container's root on its way to the guest: containerd's
 *              mounts, the share and its bind mounts
 *   virtiofs.c the virtio-fs server: FUSE over virtqueues, confined to the share
 *   vmm.c      the VM: KVM ioctls, guest memory, the boot of a vmlinux,
 *              one thread per vCPU, the serial port
 *   virtio.c   the virtio-mmio transport and virtqueues (the guest is hostile)
 *   vsock.c    the virtio-vsock device; each connection is a host fd
 *   ttrpc.c    containerd's ttrpc, client and server, non-blocking
 *   proto.c    the protobuf wire format and the messages husk uses
 *   json.c     the OCI runtime config
 *   seccomp.c  filters for husk's threads and for containers
 *   util.c     messages, I/O helpers and the epoll loop
 *   agent/     PID 1 of the guest, serving the agent API over vsock
 *
 * All I/O of this process runs in one epoll loop (util.c) on the main
 * thread; the vCPU threads only run KVM_RUN and the register accesses that
 * cannot be eventfds. The shim talks to the agent with ttrpc over a vsock
 * connection whose host end is one half of a socketpair.
 *
 * Commands: the shim's own (`start`, `delete` and the server start
 * forks, called by containerd with Go-style flags), `husk run` (a
 * container without containerd, through the same Task service), and
 * `husk boot` (boot a VM, ask the agent for its health, power off: the
 * smallest whole path).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "husk.h"
#include "config.h"

void
usage(void)
{
	die("usage: husk boot [-nv] [-m MiB] [-c vCPUs] [-k vmlinux] "
	    "[-i initramfs] [-a kernel-args] [-l console-log] [-t timeout-ms] "
	    "[-N tap]\n"
	    "       husk run [-v] [-m MiB] [-c vCPUs] [-k vmlinux] [-a kernel-args] "
	    "[-N tap] ROOTFS CMD [ARG...]\n"
	    "       containerd-shim-husk-v2 -namespace NS -address ADDR -id ID "
	    "[-publish-binary PATH] [-bundle DIR] [-debug] start|delete");
}

static uint64_t
realns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

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

/* where the shim listens: beside containerd's socket, one name per pod */
static void
sockpath(const Shimargs *a, const char *id, char *path, size_t n)
{
	const char *addr = a->address && a->address[0] ? a->address :
	    "/run/containerd/containerd.sock";
	const char *parts[3];
	uint64_t h = 1469598103934665603ull;
	const char *p, *slash;
	int i;

	parts[0] = addr;
	parts[1] = a->ns;
	parts[2] = id;
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
		if (!(t = ttrpc_new(fd, task_methods, task_nmethods, NULL))) {
			logmsg(LWARN, "ttrpc:");
			close(fd);
			continue;
		}
		ttrpc_onclose(t, connclosed);
	}
}

/* the serving shim: detached, logging to the bundle's log FIFO */
static void
serve(const Shimargs *a, int lfd, const char *sock)
{
	const char *k = getenv("HUSK_KERNEL");
	SandboxConfig vm;
	Sandbox *sb;
	Watch lsnw;
	char pid[32];
	int fd, i;

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
	sandbox_defaults(&vm);
	if (k && k[0])
		vm.kernel = k;
	if (loop_init() < 0)
		die("epoll_create1:");
	sb = sandbox_new();
	task_init(sb, &vm, a->ns, getenv("TTRPC_ADDRESS"));
	memset(&lsnw, 0, sizeof(lsnw));
	lsnw.fd = lfd;
	lsnw.fn = accepted;
	if (loop_add(&lsnw, EPOLLIN) < 0)
		die("epoll_ctl:");
	/* until Shutdown, then the last replies go out */
	while (!task_done())
		if (loop_run(-1) < 0)
			die("epoll_wait:");
	for (i = 0; i < 5; i++)
		loop_run(10);
	sandbox_free(sb);
	unlink(sock);
	exit(0);
}

static void
writeaddress(const char *addr)
{
	char cwd[PATH_MAX];
	int fd;

	if ((fd = open("address", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) < 0 || writeall(fd, addr, strlen(addr)) < 0)
		die("write %s/address:", getcwd(cwd, sizeof(cwd)) ? cwd : ".");
	close(fd);
}

/*
 * The pod a task joins, as containerd's runc shim groups them: a CRI
 * container names its sandbox, whose shim (and VM) serves it too. id
 * gets the sandbox's id, or the task's own.
 */
static int
podof(const Shimargs *a, char *id, size_t n)
{
	char err[ERRLEN];
	const char *sbid;
	OciSpec s;
	size_t len;
	char *buf;
	int pod = 0;

	snprintf(id, n, "%s", a->id);
	if (!(buf = task_readfile(".", "config.json", OCI_MAXJSON, &len, err)))
		return 0;	/* Create will say what is wrong */
	if (oci_parse(&s, buf, len, err) == 0) {
		if ((sbid = cri_sandbox(&s)) && validid(sbid) &&
		    strcmp(sbid, a->id)) {
			snprintf(id, n, "%s", sbid);
			pod = 1;
		}
		oci_free(&s);
	}
	free(buf);
	return pod;
}

static int
cmdstart(const Shimargs *a)
{
	char sock[108], addr[sizeof(sock) + 8], id[256];
	pid_t pid;
	int lfd, pod;

	if (!validid(a->id))
		die("-id '%s': not a valid task id", a->id ? a->id : "");
	pod = podof(a, id, sizeof(id));
	sockpath(a, id, sock, sizeof(sock));
	snprintf(addr, sizeof(addr), "unix://%s", sock);
	if ((lfd = listenunix(sock)) < 0) {
		if (errno != EADDRINUSE)
			die("listen on %s:", sock);
		writeaddress(addr);	/* that shim serves this task */
		fputs(addr, stdout);
		return 0;
	}
	if (pod) {
		/* a container whose pod has no shim: its VM is gone */
		close(lfd);
		unlink(sock);
		die("task %s: the shim of its pod sandbox %s is not running",
		    a->id, id);
	}
	writeaddress(addr);
	if ((pid = fork()) < 0)
		die("fork:");
	if (pid == 0)
		serve(a, lfd, sock);
	close(lfd);
	fputs(addr, stdout);
	return 0;
}

/*
 * The pod's netns after a killed shim: the tap went with the shim's fds,
 * the ingress qdisc on the CNI's link did not (podnet.c). Best effort:
 * containerd goes on with the pod's removal whatever this says.
 */
static void
cleannet(void)
{
	char err[ERRLEN];
	const char *netns;
	OciSpec s;
	size_t len;
	char *buf;

	if (!(buf = task_readfile(".", "config.json", OCI_MAXJSON, &len, err))) {
		logmsg(LWARN, "delete: %s", err);
		return;
	}
	if (oci_parse(&s, buf, len, err) < 0) {
		logmsg(LWARN, "delete: %s", err);
		free(buf);
		return;
	}
	if ((netns = oci_netns(&s)) && podnet_clean(netns, err) < 0)
		logmsg(LWARN, "delete: the pod's network: %s", err);
	oci_free(&s);
	free(buf);
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
	/*
	 * Only the bundle the shim started in (its sandbox's, in a pod) has
	 * shim.pid: that shim is killed and its socket goes. A container of
	 * a pod leaves the pod's shim alone; what it had in the sandbox is
	 * the shim's (its mount namespace), gone with it.
	 */
	if ((s = task_readfile(".", "shim.pid", 32, &n, err))) {
		pid = strtol(s, NULL, 10);
		snprintf(path, sizeof(path), "/proc/%ld/cwd", pid);
		/* only the shim of this bundle: its cwd is here */
		if (pid > 1 && getcwd(buf, sizeof(buf)) &&
		    realpath(path, cwd) && !strcmp(cwd, buf))
			kill(pid, SIGKILL);
		free(s);
		if ((s = task_readfile(".", "address", PATH_MAX, &n, err))) {
			if (!strncmp(s, "unix://", 7))
				unlink(s + 7);
			free(s);
		}
		rmdir(SHARE_DIR);
		cleannet();
	}
	pb_deleteresp(&pb, 0, 128 + SIGKILL, realns());
	fwrite(pb.b, 1, pb.n, stdout);
	pb_free(&pb);
	return 0;
}

static int
shimmain(int argc, char *argv[])
{
	static const struct {
		const char *name;
		int (*fn)(const Shimargs *a);
	} actions[] = {
		{ "start",  cmdstart },	/* forks the serving shim */
		{ "delete", cmddelete },
	};
	Shimargs a;
	size_t i;

	shimargs(argc, argv, &a);
	if (a.bundle && a.bundle[0] && chdir(a.bundle) < 0)
		die("bundle %s:", a.bundle);
	for (i = 0; i < LEN(actions); i++)
		if (!strcmp(a.action, actions[i].name))
			return actions[i].fn(&a);
	die("unknown action '%s': start or delete", a.action);
	return 1;
}

static int
cmdversion(int argc, char *argv[])
{
	(void)argc;
	(void)argv;
	puts("husk " VERSION);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char *argv[]);	/* argv[0] is the command */
} commands[] = {
	{ "boot",    cmd_boot },
	{ "run",     cmd_run },
	{ "version", cmdversion },
	{ "-V",      cmdversion },
};

int
main(int argc, char *argv[])
{
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		usage();
	for (i = 0; i < LEN(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	if (argv[1][0] == '-')	/* containerd's flags, then start or delete */
		return shimmain(argc, argv);
	usage();
	return 1;
}
