/* See LICENSE file for copyright and license details. */
/*
 * seccomp BPF filters compiled from rule tables: husk's own threads
 * (below, one table per kind of thread) and, in the agent, a container's
 * OCI linux.seccomp section. A file of its own (not in the design
 * card's list) because both binaries link it and it has one purpose: the
 * BPF, and what each of husk's threads may call.
 *
 * The program sc_compile writes:
 *
 *	arch != AUDIT_ARCH_X86_64	-> KILL_PROCESS (another ABI's numbers)
 *	nr >= 0x40000000 (x32)		-> the default action, or ERRNO(ENOSYS)
 *					   when the default allows
 *	a binary search on nr		-> the rules of that syscall, in the
 *					   order given; none: the default
 *	each rule: its argument tests	-> its action; a failed test goes on
 *					   with the next rule of that syscall
 *
 * Rules of different syscalls never compete, so grouping them by number
 * keeps "the first match wins". Arguments are 64 bits, classic BPF loads
 * 32: every test compares the high halves first, then the low ones,
 * unsigned, as libseccomp does. A conditional jump reaches 255
 * instructions at most; the program is written back to front, so every
 * target is already placed when a jump to it is written, and a target
 * farther away gets an unconditional BPF_JA (32-bit offset) next to the
 * jump as a trampoline. A rule list of any length up to BPF_MAXINSNS
 * then compiles.
 *
 * The syscall names come from the kernel headers: kh/sysnames.h is made
 * from kh/asm/unistd_64.h by the Makefile.
 *
 * husk's own threads, as Firecracker confines its own: sc_husk gives the
 * calling thread the filter of its kind once the guest may run, the
 * vCPU threads (loop, below) a short list and the loop thread, which does
 * all of husk's I/O, a longer one; each allowed call says who makes it.
 * Anything else is a bug in husk or a guest that took a thread over: the
 * call traps, and the SIGSYS handler writes one line naming the call and
 * the thread, then ends the whole process (exit status 159, 128 + SIGSYS).
 * sc_process is the process's part, done before the VM exists: no new
 * privileges, not dumpable (no core with guest RAM, no ptrace by others),
 * the fd limit, an OOM score that picks a runaway sandbox first, and only
 * the capabilities that what follows still uses.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/ucontext.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>

#include "husk.h"

#define X32BIT		0x40000000u	/* __X32_SYSCALL_BIT */
#define MAXARGS		16		/* argument tests in one rule */
#define LEAF		4		/* at most this many numbers: compare in a row */
#define OFFNR		offsetof(struct seccomp_data, nr)
#define OFFARCH		offsetof(struct seccomp_data, arch)
#define OFFLO(i)	(offsetof(struct seccomp_data, args) + 8 * (i))	/* little-endian */
#define OFFHI(i)	(OFFLO(i) + 4)

static const struct {
	const char *name;
	long nr;
} sysnames[] = {
#include "kh/sysnames.h"
};

/* the program, written from its end; a label is an instruction's index from the end */
typedef struct {
	struct sock_filter *ins;
	size_t n, cap;
	int full;
} Bld;

static size_t
emit(Bld *b, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
	struct sock_filter *p;

	if (b->n == b->cap) {
		if (b->cap >= BPF_MAXINSNS) {
			b->full = 1;
			return b->n - 1;
		}
		b->cap = b->cap ? 2 * b->cap : 64;
		p = erealloc(b->ins, b->cap * sizeof(*p));
		b->ins = p;
	}
	p = &b->ins[b->n];
	p->code = code;
	p->jt = jt;
	p->jf = jf;
	p->k = k;
	return b->n++;
}

/* the label of the instruction that follows the next one written */
static size_t
next(Bld *b)
{
	return b->n - 1;
}

static size_t
ret(Bld *b, uint32_t action)
{
	return emit(b, BPF_RET | BPF_K, 0, 0, action);
}

static size_t
load(Bld *b, uint32_t off)
{
	return emit(b, BPF_LD | BPF_W | BPF_ABS, 0, 0, off);
}

static size_t
ja(Bld *b, size_t to)
{
	return emit(b, BPF_JMP | BPF_JA, 0, 0, b->n - to - 1);
}

/* if A <op> k go to t, else to f; far targets through a BPF_JA */
static size_t
jump(Bld *b, uint16_t op, uint32_t k, size_t t, size_t f)
{
	for (;;) {
		if (b->n - f - 1 > 255)
			f = ja(b, f);
		else if (b->n - t - 1 > 255)
			t = ja(b, t);
		else
			break;
	}
	return emit(b, BPF_JMP | op | BPF_K, b->n - t - 1, b->n - f - 1, k);
}

/* one argument test: on success fall through, on failure go to fail */
static void
argtest(Bld *b, const ScArg *a, size_t fail)
{
	uint32_t hi = a->value >> 32, lo = a->value;
	size_t ok = next(b);

	switch (a->op) {
	case SC_EQ:
		jump(b, BPF_JEQ, lo, next(b), fail);
		load(b, OFFLO(a->index));
		jump(b, BPF_JEQ, hi, next(b), fail);
		break;
	case SC_NE:
		jump(b, BPF_JEQ, lo, fail, ok);
		load(b, OFFLO(a->index));
		jump(b, BPF_JEQ, hi, next(b), ok);
		break;
	case SC_GT:
	case SC_GE:
		jump(b, a->op == SC_GT ? BPF_JGT : BPF_JGE, lo, ok, fail);
		load(b, OFFLO(a->index));
		jump(b, BPF_JEQ, hi, next(b), fail);
		jump(b, BPF_JGT, hi, ok, next(b));
		break;
	case SC_LT:
	case SC_LE:
		jump(b, a->op == SC_LT ? BPF_JGE : BPF_JGT, lo, fail, ok);
		load(b, OFFLO(a->index));
		jump(b, BPF_JEQ, hi, next(b), ok);
		jump(b, BPF_JGT, hi, fail, next(b));
		break;
	case SC_MASKEDEQ:
		jump(b, BPF_JEQ, a->value2, next(b), fail);
		emit(b, BPF_ALU | BPF_AND | BPF_K, 0, 0, lo);
		load(b, OFFLO(a->index));
		jump(b, BPF_JEQ, a->value2 >> 32, next(b), fail);
		emit(b, BPF_ALU | BPF_AND | BPF_K, 0, 0, hi);
		break;
	}
	load(b, OFFHI(a->index));
}

/* the rules of one syscall, in order; returns the label of their start */
static size_t
group(Bld *b, const ScRule **r, size_t n, size_t dflt)
{
	size_t i, j, fail = dflt;

	for (i = n; i-- > 0; ) {
		ret(b, r[i]->action);
		for (j = r[i]->nargs; j-- > 0; )
			argtest(b, &r[i]->args[j], fail);
		fail = next(b);
	}
	return fail;
}

/* A holds nr: find the group of nrs[lo..hi) whose number it is */
static size_t
dispatch(Bld *b, const long *nrs, const size_t *start, size_t lo, size_t hi,
    size_t dflt)
{
	size_t mid, right, i;

	if (hi - lo <= LEAF) {
		ja(b, dflt);
		for (i = hi; i-- > lo; )
			jump(b, BPF_JEQ, nrs[i], start[i], next(b));
		return next(b);
	}
	mid = lo + (hi - lo) / 2;
	right = dispatch(b, nrs, start, mid, hi, dflt);
	dispatch(b, nrs, start, lo, mid, dflt);
	return jump(b, BPF_JGE, nrs[mid], right, next(b));
}

static int
bynr(const void *a, const void *b)
{
	const ScRule *x = *(const ScRule *const *)a, *y = *(const ScRule *const *)b;

	if (x->nr != y->nr)
		return x->nr < y->nr ? -1 : 1;
	return x < y ? -1 : x > y;	/* stable: the table's order */
}

int
sc_compile(uint32_t defaction, const ScRule *rules, size_t n, ScProg *p, char *err)
{
	Bld b = { 0 };
	const ScRule **r;
	long *nrs;
	size_t *start, i, j, m, dflt, kill, x32;
	uint32_t x32action;

	p->insns = NULL;
	p->len = 0;
	for (i = 0; i < n; i++) {
		if (rules[i].nr < 0 || rules[i].nr >= X32BIT) {
			seterr(err, "seccomp: syscall number %ld out of range",
			    rules[i].nr);
			return -1;
		}
		if (rules[i].nargs > MAXARGS) {
			seterr(err, "seccomp: %zu argument tests for syscall %ld: "
			    "at most %d", rules[i].nargs, rules[i].nr, MAXARGS);
			return -1;
		}
		for (j = 0; j < rules[i].nargs; j++) {
			if (rules[i].args[j].index > 5 || rules[i].args[j].op <
			    SC_NE || rules[i].args[j].op > SC_MASKEDEQ) {
				seterr(err, "seccomp: syscall %ld: bad argument "
				    "test (index %u, op %d)", rules[i].nr,
				    rules[i].args[j].index, rules[i].args[j].op);
				return -1;
			}
		}
	}
	r = ecalloc(n ? n : 1, sizeof(*r));
	nrs = ecalloc(n ? n : 1, sizeof(*nrs));
	start = ecalloc(n ? n : 1, sizeof(*start));
	for (i = 0; i < n; i++)
		r[i] = &rules[i];
	qsort(r, n, sizeof(*r), bynr);

	x32action = defaction;
	if ((defaction & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ALLOW ||
	    (defaction & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_LOG)
		x32action = SECCOMP_RET_ERRNO | ENOSYS;
	dflt = ret(&b, defaction);
	kill = ret(&b, SECCOMP_RET_KILL_PROCESS);
	x32 = ret(&b, x32action);
	/* groups from the last number down; start[] then holds their labels */
	for (m = 0, i = 0; i < n; i = j, m++)
		for (j = i; j < n && r[j]->nr == r[i]->nr; j++)
			;
	for (j = n, i = m; i-- > 0; ) {
		size_t k = j;

		while (k > 0 && r[k - 1]->nr == r[j - 1]->nr)
			k--;
		nrs[i] = r[k]->nr;
		start[i] = group(&b, r + k, j - k, dflt);
		j = k;
	}
	dispatch(&b, nrs, start, 0, m, dflt);
	jump(&b, BPF_JGE, X32BIT, x32, next(&b));
	load(&b, OFFNR);
	jump(&b, BPF_JEQ, AUDIT_ARCH_X86_64, next(&b), kill);
	load(&b, OFFARCH);
	free(r);
	free(nrs);
	free(start);
	if (b.full) {
		free(b.ins);
		seterr(err, "seccomp: %zu rules make a program longer than "
		    "%d instructions", n, BPF_MAXINSNS);
		return -1;
	}
	/* written from the end: turn it around */
	for (i = 0; i < b.n / 2; i++) {
		struct sock_filter t = b.ins[i];

		b.ins[i] = b.ins[b.n - 1 - i];
		b.ins[b.n - 1 - i] = t;
	}
	p->insns = b.ins;
	p->len = b.n;
	return 0;
}

int
sc_load(const ScProg *p, char *err)
{
	struct sock_fprog prog;

	prog.len = p->len;
	prog.filter = p->insns;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		seterr(err, "seccomp:");
		return -1;
	}
	return 0;
}

void
sc_free(ScProg *p)
{
	free(p->insns);
	p->insns = NULL;
	p->len = 0;
}

long
sc_nr(const char *name)
{
	size_t i;

	for (i = 0; i < LEN(sysnames); i++)
		if (!strcmp(sysnames[i].name, name))
			return sysnames[i].nr;
	return -1;
}

const char *
sc_name(long nr)
{
	size_t i;

	for (i = 0; i < LEN(sysnames); i++)
		if (sysnames[i].nr == nr)
			return sysnames[i].name;
	return NULL;
}

/*
 * husk's threads. The lists come from reading the code, with musl's
 * mapping of libc calls (open is SYS_open, stat SYS_stat, pthread_kill
 * SYS_tkill), and from strace -f of husk run and husk boot, whose threads
 * made a subset of them once confined.
 */
#define OK(name)		{ SYS_##name, SECCOMP_RET_ALLOW, NULL, 0 }
#define OKIF(name, args)	{ SYS_##name, SECCOMP_RET_ALLOW, args, LEN(args) }

static const ScArg kvmrun[] = { { 1, SC_EQ, KVM_RUN, 0 } };
static const ScArg kvmirqline[] = { { 1, SC_EQ, KVM_IRQ_LINE, 0 } };
static const ScArg winsize[] = { { 1, SC_EQ, TIOCGWINSZ, 0 } };
static const ScArg tunoffload[] = { { 1, SC_EQ, TUNSETOFFLOAD, 0 } };
static const ScArg noexec[] = { { 2, SC_MASKEDEQ, PROT_EXEC, 0 } };
static const ScArg tkillkick[] = { { 1, SC_EQ, SIGUSR1, 0 } };
static const ScArg tgkillkick[] = { { 2, SC_EQ, SIGUSR1, 0 } };
static const ScArg killkill[] = { { 1, SC_EQ, SIGKILL, 0 } };
static const ScArg unixonly[] = { { 0, SC_EQ, AF_UNIX, 0 } };
static const ScArg nlsend[] = { { 3, SC_EQ, 0, 0 },
	{ 5, SC_EQ, sizeof(struct sockaddr_nl), 0 } };
static const ScArg nlrecv[] = { { 3, SC_EQ, MSG_TRUNC, 0 } };

static const ScRule vcpurules[] = {
	OKIF(ioctl, kvmrun),		/* the vCPU loop */
	OKIF(ioctl, kvmirqline),	/* the serial port's interrupt */
	OK(write),		/* the console, irqfds and queue kicks (eventfds), the
				 * exit eventfd, vsock's wake-up, messages to stderr */
	OK(futex),		/* the VM's and the devices' locks */
	OKIF(tkill, tkillkick),	/* stopvm kicks the other vCPUs (musl) */
	OKIF(tgkill, tgkillkick),	/* the same with glibc */
	OK(rt_sigreturn),	/* back from the kick's handler */
	OK(rt_sigprocmask),	/* thread exit blocks signals */
	OK(close),		/* a virtio-fs reset drops the guest's fds */
	OK(clock_gettime),	/* rate-limited messages (vDSO, else the call) */
	OK(restart_syscall),	/* a futex wait cut by the kick */
	OKIF(mmap, noexec),	/* malloc, never executable memory */
	OK(munmap),		/* free, the thread's exit */
	OK(madvise),		/* the thread's exit gives back its stack */
	OK(brk),		/* malloc */
	OK(exit),		/* the thread ends with the VM */
	OK(exit_group),		/* the SIGSYS report */
};

/* husk run's copiers: a FIFO already open, bytes one way, then the end */
static const ScRule copierrules[] = {
	OK(read),		/* the source */
	OK(write),		/* the sink */
	OK(rt_sigreturn),	/* a signal that does not end it */
	OK(munmap),		/* the filter's own program freed once loaded */
	OK(madvise),		/* the same, by malloc's other path */
	OK(exit_group),		/* _exit, and the SIGSYS report */
};

static const ScRule looprules[] = {
	/* the epoll loop and its timers (util.c) */
	OK(epoll_pwait),	/* epoll_wait (musl) */
	OK(epoll_wait),		/* epoll_wait (glibc: the sanitizer builds) */
	OK(epoll_ctl),		/* watches come and go with connections */
	OK(timerfd_create),	/* loop_timer makes a timer on first use */
	OK(timerfd_settime),	/* time-outs: boot, calls, events */
	OK(read),		/* ttrpc, vsock backends, eventfds, timerfds, signalfd */
	OK(readv),		/* vsock: guest-bound bytes */
	OK(write),		/* ttrpc, vsock, eventfds (irqfds), messages */
	OK(writev),		/* vsock: host-bound bytes; stdio */
	OK(close),		/* connections, FIFOs, virtio-fs inodes and files */
	OK(fcntl),		/* setnonblock, F_GETFL of a reopened file */
	OKIF(ioctl, winsize),	/* stdio's first write to stdout (musl) */
	OKIF(ioctl, tunoffload),	/* virtio-net: the offloads the guest took, set
				 * on the tap once its driver is up (net.c) */
	/* sockets: containerd's ttrpc, events to containerd, vsock connections */
	OKIF(socket, unixonly),	/* publish() connects to containerd's events */
	OK(connect),		/* the same */
	OK(accept4),		/* containerd connects to the shim */
	OK(getsockopt),		/* SO_PEERCRED of such a connection */
	OK(socketpair),		/* vsock connections, the agent link */
	OK(shutdown),		/* vsock: half-closed connections */
	/* the pod's network undone (podnet_close) through the netlink
	 * socket opened before the VM, which stays in the pod's netns */
	OKIF(sendto, nlsend),	/* a request to the kernel (netlink.c talk) */
	OKIF(recvfrom, nlrecv),	/* its answer */
	/* Create and Delete: the container's rootfs, bind mounts, stdio FIFOs */
	OK(mount),		/* rootfs, the share, bind mounts */
	OK(umount2),		/* their end at Delete, and husk run's */
	OK(mount_setattr),	/* read-only bind mounts, recursively */
	OK(open),		/* FIFOs, bundle files, /proc/self/fd reopens */
	OK(openat),		/* virtio-fs: LOOKUP, OPEN, CREATE */
	OK(openat2),		/* a read-only root's mount points (rootfs.c) */
	OK(mkdir),		/* mount points in the share */
	OK(mkdirat),		/* virtio-fs: MKDIR */
	OK(rmdir),		/* mount points at Delete; husk run's bundle */
	OK(unlink),		/* the same, for files; the shim's socket */
	OK(unlinkat),		/* virtio-fs: UNLINK, RMDIR */
	OK(access),		/* Create checks the guest kernel */
	OK(readlink),		/* realpath (musl) */
	OK(stat),		/* bind mount sources */
	OK(fstat),		/* FIFOs, virtio-fs GETATTR */
	OK(newfstatat),		/* fstatat: virtio-fs LOOKUP, SETATTR */
	/* the virtio-fs server (rootfs.c), one call per FUSE request */
	OK(getdents64),		/* READDIR */
	OK(mknodat),		/* MKNOD: FIFOs, sockets (no CAP_MKNOD: no devices) */
	OK(symlinkat),		/* SYMLINK */
	OK(linkat),		/* LINK */
	OK(renameat),		/* RENAME */
	OK(renameat2),		/* RENAME2 */
	OK(readlinkat),		/* READLINK */
	OK(fchownat),		/* SETATTR, new files' owners */
	OK(chmod),		/* SETATTR, through /proc/self/fd */
	OK(utimensat),		/* SETATTR times */
	OK(lseek),		/* READDIR offsets, LSEEK */
	OK(pread64),		/* READ */
	OK(pwrite64),		/* WRITE */
	OK(fsync),		/* FSYNC */
	OK(fdatasync),		/* FSYNC with the datasync flag */
	OK(fallocate),		/* FALLOCATE */
	OK(ftruncate),		/* SETATTR size, O_TRUNC */
	OK(fstatfs),		/* STATFS */
	/* husk run: its copiers (forked before the VM) */
	OKIF(kill, killkill),	/* a copier of a FIFO that is never opened */
	OK(wait4),		/* the copiers' exit */
	/* signals and the vCPU threads: kicked out of KVM_RUN, joined */
	OK(rt_sigprocmask),	/* pthread_kill and pthread_join block signals */
	OK(rt_sigreturn),	/* a SIGUSR1 (the vCPUs' kick) sent to the process */
	OKIF(tkill, tkillkick),	/* vmm_free stops the vCPUs (musl) */
	OKIF(tgkill, tgkillkick),	/* the same with glibc */
	OK(futex),		/* locks shared with the vCPUs; pthread_join */
	OK(restart_syscall),	/* a futex wait cut by a signal */
	/* memory, time, identity, the end */
	OKIF(mmap, noexec),	/* malloc, never executable memory */
	OK(munmap),		/* free, joined threads' stacks */
	OK(mremap),		/* realloc of large buffers */
	OK(madvise),		/* free gives pages back */
	OK(brk),		/* malloc */
	OK(clock_gettime),	/* time-outs, events (vDSO, else the call) */
	OK(getpid),		/* the pid reported to containerd */
	OK(getrandom),		/* unpredictable stdio stream ports */
	OK(geteuid),		/* who may connect */
	OK(exit_group),		/* the end, die(), and the SIGSYS report */
};

static const struct {
	const char *name;	/* in the report */
	const ScRule *rules;
	size_t n;
} husk[] = {
	[SC_LOOP] = { "loop", looprules, LEN(looprules) },
	[SC_VCPU] = { "vCPU", vcpurules, LEN(vcpurules) },
	[SC_COPIER] = { "copier", copierrules, LEN(copierrules) },
};

static __thread const char *thread;	/* the SIGSYS handler's words */

static size_t
putstr(char *buf, size_t n, size_t at, const char *s)
{
	while (*s && at < n)
		buf[at++] = *s++;
	return at;
}

static size_t
putnum(char *buf, size_t n, size_t at, unsigned long v)
{
	char d[24];
	int i = 0;

	do
		d[i++] = '0' + v % 10;
	while (v /= 10);
	while (i > 0 && at < n)
		buf[at++] = d[--i];
	return at;
}

static size_t
puthex(char *buf, size_t n, size_t at, unsigned long long v)
{
	char d[24];
	int i = 0;

	do
		d[i++] = "0123456789abcdef"[v % 16];
	while (v /= 16);
	at = putstr(buf, n, at, "0x");
	while (i > 0 && at < n)
		buf[at++] = d[--i];
	return at;
}

/* async-signal-safe: no stdio, no locks, only write and exit_group */
static void
forbidden(int sig, siginfo_t *si, void *ucp)
{
	static const int argreg[] = { REG_RDI, REG_RSI, REG_RDX };
	ucontext_t *uc = ucp;
	char buf[320];
	const char *name;
	size_t n = 0, i;
	ssize_t w;

	(void)sig;
	name = sc_name(si->si_syscall);
	n = putstr(buf, sizeof(buf), n, argv0);
	n = putstr(buf, sizeof(buf), n, ": seccomp: forbidden system call ");
	n = putstr(buf, sizeof(buf), n, name ? name : "?");
	n = putstr(buf, sizeof(buf), n, " (");
	n = putnum(buf, sizeof(buf), n, (unsigned)si->si_syscall);
	n = putstr(buf, sizeof(buf), n, ") in the ");
	n = putstr(buf, sizeof(buf), n, thread ? thread : "?");
	n = putstr(buf, sizeof(buf), n, " thread (arguments");
	for (i = 0; i < LEN(argreg); i++) {
		n = putstr(buf, sizeof(buf), n, i ? ", " : " ");
		n = puthex(buf, sizeof(buf), n, uc->uc_mcontext.gregs[argreg[i]]);
	}
	n = putstr(buf, sizeof(buf), n, ", ...): a bug in husk, or an attack; "
	    "stopping\n");
	w = write(2, buf, n);
	(void)w;
	syscall(SYS_exit_group, 128 + SIGSYS);	/* not _exit: sanitizers wrap it */
}

int
sc_husk(int which, char *err)
{
	struct sigaction sa;
	sigset_t set;
	ScProg p;
	int r;

	if (which < 0 || which >= (int)LEN(husk)) {
		seterr(err, "seccomp: no filter for thread kind %d", which);
		return -1;
	}
	if (sc_compile(SECCOMP_RET_TRAP, husk[which].rules, husk[which].n, &p,
	    err) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forbidden;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask);
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	thread = husk[which].name;
	/* a blocked SIGSYS would kill without a word */
	if (sigaction(SIGSYS, &sa, NULL) < 0 ||
	    pthread_sigmask(SIG_UNBLOCK, &set, NULL) != 0) {
		seterr(err, "seccomp: SIGSYS handler:");
		sc_free(&p);
		return -1;
	}
	r = sc_load(&p, err);
	sc_free(&p);
	return r;
}

/*
 * What the serving shim (and husk run) still use once it confines
 * itself (SC_MOUNTS): mount and umount for Create and Delete, and the
 * virtio-fs server working as root on files of any owner (chown, chmod
 * and times of others' files, reads and writes past their modes, set-id
 * bits kept). Not CAP_MKNOD: device nodes the guest asks for fail with
 * EPERM and never appear in a host directory. A sandbox wired into a
 * pod's netns also keeps CAP_NET_ADMIN (SC_NETADMIN): netlink checks it
 * on every request, and podnet_close removes the qdiscs and the tap at
 * the end. husk boot keeps none.
 */
static const int shimcaps[] = {
	CAP_SYS_ADMIN, CAP_CHOWN, CAP_FOWNER, CAP_DAC_OVERRIDE,
	CAP_DAC_READ_SEARCH, CAP_FSETID,
};

static int
dropcaps(int keepwhat, char *err)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	uint64_t keep = 0;
	size_t i;
	int c;

	if (keepwhat & SC_MOUNTS)
		for (i = 0; i < LEN(shimcaps); i++)
			keep |= 1ull << shimcaps[i];
	if (keepwhat & SC_NETADMIN)
		keep |= 1ull << CAP_NET_ADMIN;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	for (c = 0; prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++) {
		if (keep >> c & 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && geteuid() == 0) {
			seterr(err, "drop capability %d from the bounding set:", c);
			return -1;
		}
	}
	if (syscall(SYS_capget, &h, d) < 0) {
		seterr(err, "capget:");
		return -1;
	}
	d[0].effective &= keep;
	d[0].permitted &= keep;
	d[0].inheritable = 0;
	d[1].effective &= keep >> 32;
	d[1].permitted &= keep >> 32;
	d[1].inheritable = 0;
	if (syscall(SYS_capset, &h, d) < 0) {
		seterr(err, "capset:");
		return -1;
	}
	return 0;
}

int
sc_process(int keep, unsigned long nofile, int oomadj, char *err)
{
	struct rlimit rl;
	char buf[16];
	int fd, n;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		seterr(err, "no_new_privs:");
		return -1;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		seterr(err, "not dumpable:");
		return -1;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (rl.rlim_max == RLIM_INFINITY ||
	    rl.rlim_max > nofile)) {
		rl.rlim_max = nofile;
		rl.rlim_cur = MIN(rl.rlim_cur, nofile);
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			seterr(err, "RLIMIT_NOFILE %lu:", nofile);
			return -1;
		}
	}
	/* raising one's own score needs no privilege; never lower it */
	if ((fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC)) < 0 ||
	    (n = read(fd, buf, sizeof(buf) - 1)) < 0) {
		seterr(err, "/proc/self/oom_score_adj:");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	buf[n] = '\0';
	if (atoi(buf) < oomadj) {
		n = snprintf(buf, sizeof(buf), "%d", oomadj);
		if (write(fd, buf, n) != n) {
			seterr(err, "/proc/self/oom_score_adj %d:", oomadj);
			close(fd);
			return -1;
		}
	}
	close(fd);
	return dropcaps(keep, err);
}
