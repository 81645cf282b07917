/* See LICENSE file for copyright and license details. */
/*
 * The sandbox: the pod's VM and what husk keeps of it on the host. One
 * straight-line sandbox_boot() serves every command: the process is
 * confined (sc_process), the VM made (vmm.c), its devices added (vsock,
 * and virtio-fs serving the share when there is one), the vCPUs started,
 * the loop thread's own filter loaded, the boot timer armed and the link
 * to the agent begun. What the VM is for is the caller's: it learns of it
 * through two callbacks, up (the agent answers, or cannot be reached)
 * and down (the VM stopped, or the agent did not answer in time), each
 * called at most once.
 *
 * The agent link: husk connects to the guest's vsock port AGENT_PORT;
 * until the agent listens the guest refuses, so it tries again every
 * agent_retry_ms; the boot timer bounds the whole. Calls to the agent go
 * through sandbox_call, which encodes an AgentReq.
 *
 * Stdio streams are vsock connections the agent opens to host ports this
 * file hands out: unpredictable, since a container may open AF_VSOCK and
 * a port it could guess is a stream it could take before the agent does.
 * Each port's host fd is given to the vsock device as the backend of the
 * next connection to it (vsock_expect); the device then moves the bytes.
 *
 * The share (rootfs.c) is the tmpfs holding each container's root and
 * binds; virtio-fs serves it with tag SHARE_TAG when the VM boots. A tap
 * in the config becomes a virtio-net device (net.c), the last one added.
 *
 * A pod's netns in the config (and no tap) is wired by podnet.c before
 * the process gives up its privileges: a tap beside the CNI's link, whose
 * MAC and MTU the NIC takes. The guest learns the rest (addresses,
 * routes, neighbours) from the agent's Network call, sent once the agent
 * answers and before the sandbox counts as up: a pod whose network the
 * guest refused goes down with the reason, instead of running
 * containers that cannot reach anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "husk.h"
#include "config.h"

extern const unsigned char agent_bin[], agent_end[];

typedef struct {
	Vsock *vs;
	Ttrpc *t;		/* the agent, once up */
	int peerfd;		/* our end of the connection being made */
	int tries, stopped;
	Watch retryw;
	Sandbox *sb;
} Link;

struct Sandbox {
	int state;		/* SB_* */
	int agent;		/* the config's: a link to the agent is made */
	unsigned timeoutms;	/* the boot timer's */
	Vm *vm;
	Vsock *vs;
	Vfs *fs;
	Net *net;		/* NULL: no NIC */
	PodNet *pod;		/* the pod's netns wiring, NULL none */
	Share share;
	Link link;
	Watch exitw, bootw;
	uint32_t *ports;	/* stdio ports handed out */
	size_t nports;
	int downcalled;
	void (*up)(void *arg);
	void (*down)(void *arg, int vmstate, const char *why);
	void *uparg, *downarg;
	uint64_t t0;
};

/* the debug log's timeline, ms since the sandbox was made */
static void
trace(Sandbox *sb, const char *what)
{
	logmsg(LDEBUG, "%8.1f ms  %s", (nowns() - sb->t0) / 1e6, what);
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

/* the VM is gone, or will never serve: tell the owner once */
static void
godown(Sandbox *sb, int vmstate, const char *why)
{
	sb->state = SB_DOWN;
	sb->link.stopped = 1;
	loop_timer(&sb->bootw, 0);
	if (sb->link.t) {
		ttrpc_close(sb->link.t);	/* pending agent calls end UNAVAILABLE */
		sb->link.t = NULL;
	}
	if (sb->downcalled)
		return;
	sb->downcalled = 1;
	if (sb->down)
		sb->down(sb->downarg, vmstate, why);
}

/* the boot is over: the agent serves (link up), or cannot */
static void
bootdone(Sandbox *sb)
{
	sb->state = sb->link.t ? SB_UP : SB_DOWN;
	if (sb->up)
		sb->up(sb->uparg);
}

static void
networkdone(void *arg, int code, const char *msg, const uint8_t *resp,
    size_t n)
{
	Sandbox *sb = arg;
	char why[ERRLEN], esc[ERRLEN];

	(void)resp;
	(void)n;
	if (sb->state != SB_BOOTING)	/* down already: the call was cut */
		return;
	if (code != RPC_OK) {
		/* the guest's words, escaped */
		seterr(why, "the pod's network: %s", msg && msg[0] ?
		    escape(esc, sizeof(esc), msg, strlen(msg)) :
		    "the agent refused it");
		godown(sb, VM_RUNNING, why);
		return;
	}
	trace(sb, "the guest's network is set up");
	bootdone(sb);
}

/* the link is up (l->t), or it could not be made (NULL) */
static void
linkup(Link *l)
{
	Sandbox *sb = l->sb;
	AgentReq r;

	if (sb->state != SB_BOOTING)
		return;
	trace(sb, "the agent answers");
	loop_timer(&sb->bootw, 0);
	if (l->t && sb->pod) {
		memset(&r, 0, sizeof(r));
		r.id = "";
		r.net = &sb->pod->net;
		if (sandbox_call(sb, "Network", &r, agent_timeout_ms,
		    networkdone, sb) < 0)
			godown(sb, VM_RUNNING, "the pod's network: cannot "
			    "reach the agent");
		return;
	}
	bootdone(sb);
}

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
		loop_timer(&l->retryw, agent_retry_ms * 1000000ull);
		return;
	}
	if (!(l->t = ttrpc_new(fd, NULL, 0, l))) {
		warn("agent connection:");
		close(fd);
		l->stopped = 1;
		linkup(l);
		return;
	}
	ttrpc_onclose(l->t, linkclosed);
	linkup(l);
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
		linkup(l);
		return;
	}
	l->peerfd = sv[1];
	if (vsock_connect(l->vs, AGENT_PORT, sv[0], sv[0], linkconnected, l) < 0) {
		warn("vsock connect to the agent:");
		close(sv[0]);
		close(sv[1]);
		l->peerfd = -1;
		l->stopped = 1;
		linkup(l);
	}
}

static void
vmexitcb(Watch *w, uint32_t ev)
{
	Sandbox *sb = w->arg;
	char why[ERRLEN];
	int st;

	(void)ev;
	loop_del(w);
	st = vmm_state(sb->vm, why, sizeof(why));
	trace(sb, "the VM stopped");
	godown(sb, st, why);
}

static void
boottimecb(Watch *w, uint32_t ev)
{
	Sandbox *sb = w->arg;
	char why[ERRLEN];
	uint64_t x;

	(void)ev;
	if (read(w->fd, &x, sizeof(x)) < 0 && errno != EAGAIN)
		return;
	if (sb->state != SB_BOOTING && !(sb->state == SB_UP && !sb->agent))
		return;
	if (sb->agent)
		seterr(why, "the agent did not answer within %u ms of boot "
		    "(%d connection attempts)", sb->timeoutms, sb->link.tries);
	else
		seterr(why, "the guest did not stop within %u ms of boot",
		    sb->timeoutms);
	godown(sb, VM_RUNNING, why);
}

Sandbox *
sandbox_new(void)
{
	Sandbox *sb = ecalloc(1, sizeof(*sb));

	sb->t0 = nowns();
	sb->exitw.fd = sb->bootw.fd = -1;
	sb->exitw.arg = sb->bootw.arg = sb;
	sb->link.peerfd = sb->link.retryw.fd = -1;
	return sb;
}

void
sandbox_defaults(SandboxConfig *c)
{
	memset(c, 0, sizeof(*c));
	c->kernel = vm_kernel;
	c->memmib = vm_memmib;
	c->ncpus = vm_ncpus;
	c->consolefd = -1;
	c->agent = 1;
	c->timeoutms = agent_timeout_ms;
	c->tapfd = -1;
	c->mtu = NET_MTU;
}

void
sandbox_onup(Sandbox *sb, void (*fn)(void *arg), void *arg)
{
	sb->up = fn;
	sb->uparg = arg;
}

void
sandbox_ondown(Sandbox *sb, void (*fn)(void *arg, int vmstate, const char *why),
    void *arg)
{
	sb->down = fn;
	sb->downarg = arg;
}

/*
 * The VM's whole start, as a script. A failure leaves the sandbox
 * SB_DOWN with err filled; once the vCPUs run, the loop thread's filter
 * is in place for good.
 */
int
sandbox_boot(Sandbox *sb, const SandboxConfig *c, char *err)
{
	VmConfig cfg;
	Pb initrd = { 0 };
	Link *l = &sb->link;
	char detail[ERRLEN];
	const uint8_t *mac = c->mac;
	unsigned mtu = c->mtu;
	int tapfd = c->tapfd, keep = 0;

	if (sb->state != SB_NONE) {
		seterr(err, "the sandbox VM was booted already");
		return -1;
	}
	sb->state = SB_DOWN;	/* until it boots */
	sb->agent = c->agent;
	sb->timeoutms = c->timeoutms;
	/* the pod's netns is entered while the process still may */
	if (c->netns && tapfd < 0) {
		sb->pod = ecalloc(1, sizeof(*sb->pod));
		if (podnet_open(sb->pod, c->netns, detail) < 0) {
			seterr(err, "the pod's network: %s", detail);
			free(sb->pod);
			sb->pod = NULL;
			goto fail;
		}
		tapfd = sb->pod->tapfd;
		mac = sb->pod->net.ifs[0].mac;
		mtu = sb->pod->net.ifs[0].mtu;
		keep |= SC_NETADMIN;
	}
	if (sb->share.dir[0])
		keep |= SC_MOUNTS;
	if (sc_process(keep, husk_nofile, husk_oomadj, err) < 0)
		goto fail;
	memset(&cfg, 0, sizeof(cfg));
	cfg.memmib = c->memmib;
	cfg.ncpus = c->ncpus;
	cfg.kernel = c->kernel;
	cfg.cmdline = c->cmdline ? c->cmdline : vm_cmdline;
	cfg.consolefd = c->consolefd;
	cfg.hugepages = vm_hugepages;
	if (c->initrd) {
		cfg.initrd = c->initrd;
		cfg.initrdlen = c->initrdlen;
	} else {
		initramfs(&initrd);
		cfg.initrd = initrd.b;
		cfg.initrdlen = initrd.n;
	}
	if (!(sb->vm = vmm_new(&cfg, err)))
		goto fail;
	if (!(sb->vs = vsock_new(vmm_mem(sb->vm), vsock_guestcid))) {
		seterr(err, "vsock device:");
		goto fail;
	}
	if (vmm_add_device(sb->vm, vsock_dev(sb->vs), err) < 0)
		goto fail;
	if (sb->share.dir[0]) {
		if (!(sb->fs = vfs_new(vmm_mem(sb->vm), sb->share.dir,
		    SHARE_TAG, err)))
			goto fail;
		share_serve(&sb->share, sb->fs);
		if (vmm_add_device(sb->vm, vfs_dev(sb->fs), err) < 0)
			goto fail;
	}
	if (tapfd >= 0) {
		if (!(sb->net = net_new(vmm_mem(sb->vm), tapfd, mac, mtu, err)))
			goto fail;
		if (sb->pod)
			sb->pod->tapfd = -1;	/* net.c's now */
		if (vmm_add_device(sb->vm, net_dev(sb->net), err) < 0)
			goto fail;
	}
	sb->exitw.fd = vmm_exitfd(sb->vm);
	sb->exitw.fn = vmexitcb;
	if (loop_add(&sb->exitw, EPOLLIN) < 0) {
		seterr(err, "epoll:");
		goto fail;
	}
	if (vmm_start(sb->vm, err) < 0)
		goto fail;
	if (sc_husk(SC_LOOP, err) < 0)	/* a VM runs: no way back */
		die("%s", err);
	trace(sb, "the VM starts");
	pb_free(&initrd);
	sb->state = c->agent ? SB_BOOTING : SB_UP;
	sb->bootw.fn = boottimecb;
	loop_timer(&sb->bootw, c->timeoutms * 1000000ull);
	if (c->agent) {
		l->vs = sb->vs;
		l->sb = sb;
		l->retryw.fn = linkretry;
		l->retryw.arg = l;
		link_try(l);
	}
	return 0;
fail:
	pb_free(&initrd);
	return -1;
}

/*
 * No VM: the agent is whatever serves fd (a unit test's fake agent on a
 * socketpair). The sandbox is up at once; it has no ports and no share
 * server, and no agent once fd closes.
 */
int
sandbox_attach(Sandbox *sb, int fd)
{
	if (sb->state != SB_NONE || !(sb->link.t = ttrpc_new(fd, NULL, 0,
	    &sb->link)))
		return -1;
	sb->link.sb = sb;
	sb->agent = 1;
	ttrpc_onclose(sb->link.t, linkclosed);
	sb->state = SB_UP;
	return 0;
}

int
sandbox_state(Sandbox *sb)
{
	return sb->state;
}

Ttrpc *
sandbox_agent(Sandbox *sb)
{
	return sb->link.t;
}

int
sandbox_tries(Sandbox *sb)
{
	return sb->link.tries;
}

int
sandbox_call(Sandbox *sb, const char *method, const AgentReq *r,
    unsigned timeoutms, TtrpcDone done, void *arg)
{
	Pb pb = { 0 };
	int st;

	if (!sb->link.t)
		return -1;
	if (r)
		pb_agentreq(&pb, r);
	st = ttrpc_call(sb->link.t, AGENT_SERVICE, method, pb.b, pb.n,
	    timeoutms * 1000000ull, done, arg);
	pb_free(&pb);
	return st;
}

const char *
sandbox_console(Sandbox *sb)
{
	return sb->vm ? vmm_console(sb->vm) : "";
}

/* a port no stream holds, above the agent's */
static uint32_t
newport(Sandbox *sb)
{
	uint32_t p = 0;
	size_t i;
	int taken;

	do {
		if (getrandom(&p, sizeof(p), 0) != sizeof(p))
			p = (uint32_t)(nowns() * 2654435761u);
		taken = p <= AGENT_PORT || p == UINT32_MAX;	/* VMADDR_PORT_ANY */
		for (i = 0; i < sb->nports && !taken; i++)
			taken = sb->ports[i] == p;
	} while (taken);
	return p;
}

int
sandbox_port(Sandbox *sb, int fd, int toguest, uint32_t *port)
{
	uint32_t p;

	if (!sb->vs) {
		errno = ENOTCONN;
		return -1;
	}
	p = newport(sb);
	if (vsock_expect(sb->vs, p, toguest ? fd : -1, toguest ? -1 : fd) < 0)
		return -1;
	sb->ports = erealloc(sb->ports, (sb->nports + 1) * sizeof(*sb->ports));
	sb->ports[sb->nports++] = p;
	*port = p;
	return 0;
}

void
sandbox_unport(Sandbox *sb, uint32_t port)
{
	size_t i;

	for (i = 0; i < sb->nports && sb->ports[i] != port; i++)
		;
	if (i == sb->nports)
		return;
	sb->ports[i] = sb->ports[--sb->nports];
	if (sb->vs)	/* a stream the guest never opened */
		vsock_unexpect(sb->vs, port);
}

/*
 * A stdio stream to a file containerd (or husk run) names: stream 0 is
 * stdin. Its port, or 0 for none when path is empty.
 */
int
sandbox_stdio(Sandbox *sb, int stream, const char *path, uint32_t *port,
    char *err)
{
	static const char *names[] = { "stdin", "stdout", "stderr" };
	int fd;

	*port = 0;
	if (!path || !path[0])
		return 0;
	/*
	 * containerd's output FIFOs are opened read-write, as its runc shim
	 * keeps a reader of its own: the FIFO outlives a ctr that goes and
	 * comes back (the container waits). husk run hands over its own
	 * pipes as /proc/self/fd/N, write-only, so that a reader going away
	 * ends the stream and the writer gets SIGPIPE, as in a shell
	 * pipeline. stdin is read only once it polls readable, so a writer
	 * that opens late is waited for.
	 */
	if ((fd = open(path, (stream == 0 ? O_RDONLY : strncmp(path,
	    "/proc/self/fd/", 14) ? O_RDWR : O_WRONLY) | O_NONBLOCK |
	    O_CLOEXEC)) < 0) {
		seterr(err, "%s %s:", names[stream], path);
		return -1;
	}
	if (sandbox_port(sb, fd, stream == 0, port) < 0) {
		seterr(err, "%s %s: cannot be a stream:", names[stream], path);
		close(fd);
		return -1;
	}
	return 0;
}

/* the share: made in dir on the first container, served at boot */
int
sandbox_share_add(Sandbox *sb, Rootfs *r, const char *id, const char *bundle,
    const OciSpec *s, char *err)
{
	char dir[PATH_MAX];

	if (!sb->share.dir[0]) {
		snprintf(dir, sizeof(dir), "%s/" SHARE_DIR, bundle);
		if (share_open(&sb->share, dir, share_maxbytes, share_maxinodes,
		    err) < 0)
			return -1;
	}
	return rootfs_share(r, &sb->share, id, bundle, s, err);
}

void
sandbox_share_remove(Sandbox *sb, Rootfs *r)
{
	rootfs_unshare(r, &sb->share);
}

void
sandbox_free(Sandbox *sb)
{
	if (!sb)
		return;
	sb->link.stopped = 1;
	if (sb->link.t)
		ttrpc_close(sb->link.t);
	if (sb->vm)
		vmm_free(sb->vm);
	net_free(sb->net);
	if (sb->pod) {
		podnet_close(sb->pod);
		free(sb->pod);
	}
	share_close(&sb->share);
	free(sb->ports);
	free(sb);
}
