/* See LICENSE file for copyright and license details. */
/*
 * seccomp.c: compiled filters loaded in forked children. Allowed calls
 * work; denied ones fail with the rule's errno, kill or trap; every
 * argument test on 64-bit values whose halves differ; the first matching
 * rule wins; other ABIs are refused; a list of 400 rules (far jumps)
 * dispatches each number to its own rule. A denied syscall never runs,
 * so any number may be tried once a rule covers it. Then husk's own
 * filters: what its threads do passes, anything else ends the process
 * with a line that names the call and the thread; and sc_process.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>

#include "../husk.h"
#include "t.h"

#define ERRNO(e)	(SECCOMP_RET_ERRNO | (e))
#define X32BIT		0x40000000L
#ifndef SYS_SECCOMP
#define SYS_SECCOMP	1	/* si_code of a SECCOMP_RET_TRAP */
#endif

static int (*childfn)(void);

/* run childfn in a child under the filter; its wait status, -1 if it did not compile */
static int
under(uint32_t def, const ScRule *r, size_t n)
{
	char err[ERRLEN];
	ScProg p;
	pid_t pid;
	int st;

	if (sc_compile(def, r, n, &p, err) < 0) {
		printf("  compile: %s\n", err);
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == 0) {
		alarm(10);	/* a child that cannot exit is killed */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sc_load(&p, err) < 0) {
			fprintf(stderr, "load: %s\n", err);
			_exit(99);
		}
		_exit(childfn());
	}
	sc_free(&p);
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

static int
exited(int st, int code)
{
	return st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == code;
}

/* errno of a syscall that must fail, 0 if it succeeded */
static int
fails(long nr, long a0)
{
	errno = 0;
	if (syscall(nr, a0, 0L, 0L, 0L, 0L, 0L) != -1)
		return 0;
	return errno;
}

static void
names(void)
{
	CHECK(sc_nr("read") == 0);
	CHECK(sc_nr("openat") == 257);
	CHECK(sc_nr("exit_group") == 231);
	CHECK(sc_nr("nosuchcall") == -1);
	CHECK(sc_name(59) && !strcmp(sc_name(59), "execve"));
	CHECK(sc_name(SYS_getppid) && !strcmp(sc_name(SYS_getppid), "getppid"));
	CHECK(sc_name(100000) == NULL);
	CHECK(sc_name(-1) == NULL);
}

static int
denychild(void)
{
	if (getpid() <= 0)
		return 1;
	if (fails(SYS_getppid, 0) != EPERM)
		return 2;
	if (fails(SYS_getuid, 0) != 1234)
		return 3;
	return 0;
}

static void
allowdeny(void)
{
	ScRule r[] = {
		{ SYS_getppid, ERRNO(EPERM), NULL, 0 },
		{ SYS_getuid, ERRNO(1234), NULL, 0 },
	};

	childfn = denychild;
	CHECK(exited(under(SECCOMP_RET_ALLOW, r, LEN(r)), 0));
}

static int
getppidchild(void)
{
	getppid();
	return 0;
}

static void
killed(void)
{
	ScRule r[] = { { SYS_getppid, SECCOMP_RET_KILL_PROCESS, NULL, 0 } };
	int st;

	childfn = getppidchild;
	st = under(SECCOMP_RET_ALLOW, r, LEN(r));
	CHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	/* the default action applies to what no rule names */
	r[0].nr = SYS_getuid;
	r[0].action = SECCOMP_RET_ALLOW;
	st = under(SECCOMP_RET_KILL_PROCESS, r, LEN(r));
	CHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
}

static long trapnr;	/* the call a trap is expected for */

static void
onsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	_exit(si->si_code == SYS_SECCOMP && si->si_syscall == trapnr ? 42 : 43);
}

static void
ontrap(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = onsys;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSYS, &sa, NULL);
}

static int
trapchild(void)
{
	ontrap();
	trapnr = SYS_getppid;
	getppid();
	return 0;
}

static void
trap(void)
{
	ScRule r[] = { { SYS_getppid, SECCOMP_RET_TRAP, NULL, 0 } };

	childfn = trapchild;
	CHECK(exited(under(SECCOMP_RET_ALLOW, r, LEN(r)), 42));
}

/* every op against values around V, high halves 4, 5, 6 and all ones */
#define V	0x0000000500000010ull
#define MASK	0x0000000f000000f0ull
#define MVAL	0x0000000500000010ull
static const uint32_t his[] = { 0, 4, 5, 6, 0xffffffff };
static const uint32_t los[] = { 0, 0xf, 0x10, 0x11, 0x1f, 0x110, 0xffffffff };
static int curop;

static int
holds(int op, uint64_t x)
{
	switch (op) {
	case SC_NE: return x != V;
	case SC_LT: return x < V;
	case SC_LE: return x <= V;
	case SC_EQ: return x == V;
	case SC_GE: return x >= V;
	case SC_GT: return x > V;
	case SC_MASKEDEQ: return (x & MASK) == MVAL;
	}
	return -1;
}

static int
opchild(void)
{
	size_t i, j;
	uint64_t x;
	int bad = 0, e;

	for (i = 0; i < LEN(his); i++) {
		for (j = 0; j < LEN(los); j++) {
			x = (uint64_t)his[i] << 32 | los[j];
			e = fails(SYS_getpid, (long)x);	/* the test sits on argument 0 */
			if ((e == 77) != holds(curop, x) || (e && e != 77)) {
				fprintf(stderr, "  op %d, 0x%016llx: errno %d\n",
				    curop, (unsigned long long)x, e);
				bad = 1;
			}
		}
	}
	return bad;
}

static void
ops(void)
{
	ScArg a = { 0, 0, V, 0 };
	ScRule r = { SYS_getpid, ERRNO(77), &a, 1 };
	int op;

	childfn = opchild;
	for (op = SC_NE; op <= SC_MASKEDEQ; op++) {
		curop = a.op = op;
		a.value = op == SC_MASKEDEQ ? MASK : V;
		a.value2 = MVAL;
		if (!exited(under(SECCOMP_RET_ALLOW, &r, 1), 0)) {
			printf("  op %d wrong\n", op);
			t_failed = 1;
		}
	}
}

static int
firstchild(void)
{
	if (fails(SYS_getpid, 1) != 11)
		return 1;
	if (fails(SYS_getpid, 2) != 12)
		return 2;
	if (fails(SYS_getppid, 0) != 0)	/* allowed by its own rule */
		return 3;
	/* both tests of a rule must hold; arguments 1 and 5 */
	if (syscall(SYS_getuid, 0L, 3L, 0L, 0L, 0L, 9L) != -1 || errno != 13)
		return 4;
	if (fails(SYS_getuid, 0) != 14 || syscall(SYS_getuid, 0L, 3L,
	    0L, 0L, 0L, 8L) != -1 || errno != 14)
		return 5;
	return 0;
}

static void
firstmatch(void)
{
	ScArg one = { 0, SC_EQ, 1, 0 };
	ScArg two[] = { { 1, SC_EQ, 3, 0 }, { 5, SC_GE, 9, 0 } };
	ScRule r[] = {
		{ SYS_getpid, ERRNO(11), &one, 1 },
		{ SYS_getuid, ERRNO(13), two, 2 },
		{ SYS_getpid, ERRNO(12), NULL, 0 },
		{ SYS_getpid, ERRNO(10), NULL, 0 },	/* never reached */
		{ SYS_getppid, SECCOMP_RET_ALLOW, NULL, 0 },
		{ SYS_getppid, ERRNO(15), NULL, 0 },	/* after an allow: never */
		{ SYS_getuid, ERRNO(14), NULL, 0 },
	};

	childfn = firstchild;
	CHECK(exited(under(SECCOMP_RET_ALLOW, r, LEN(r)), 0));
}

static int
i386child(void)
{
	long r = 20;	/* getpid in the i386 table */

	__asm__ volatile ("int $0x80" : "+a"(r) : : "memory");
	return 0;
}

static int
x32child(void)
{
	ontrap();
	trapnr = X32BIT | SYS_getpid;
	if (getpid() <= 0)
		return 1;
	syscall(X32BIT | SYS_getpid);
	return 0;
}

static void
abi(void)
{
	ScRule r[] = { { SYS_getpid, SECCOMP_RET_ALLOW, NULL, 0 },
		{ SYS_rt_sigaction, SECCOMP_RET_ALLOW, NULL, 0 },
		{ SYS_rt_sigprocmask, SECCOMP_RET_ALLOW, NULL, 0 },
		{ SYS_rt_sigreturn, SECCOMP_RET_ALLOW, NULL, 0 },
		{ SYS_sigaltstack, SECCOMP_RET_ALLOW, NULL, 0 },	/* ASan's handler */
		{ SYS_exit_group, SECCOMP_RET_ALLOW, NULL, 0 } };
	pid_t pid;
	int st;

	/* int 0x80 from a 64-bit process: the i386 ABI, where the kernel has it */
	childfn = i386child;
	if ((pid = fork()) == 0) {
		dup2(open("/dev/null", O_WRONLY), 2);	/* a crash here is an answer */
		_exit(i386child());
	}
	if (pid > 0 && waitpid(pid, &st, 0) == pid && exited(st, 0)) {
		st = under(SECCOMP_RET_ALLOW, r, LEN(r));
		CHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	} else {
		printf("  this kernel has no i386 ABI: its refusal is not tested\n");
	}
	/* getpid is allowed, but not through the x32 ABI: the default (trap) applies */
	childfn = x32child;
	CHECK(exited(under(SECCOMP_RET_TRAP, r, LEN(r)), 42));
}

/* 400 rules: every number up to 412 but the ones the child needs */
#define NMANY	413
static int
keep(long nr)
{
	static const long need[] = { SYS_getppid, SYS_write, SYS_rt_sigreturn,
		SYS_getpid, SYS_exit, SYS_exit_group,
		/* the sanitizers' runtime */
		SYS_mmap, SYS_mprotect, SYS_munmap, SYS_madvise, SYS_rt_sigaction,
		SYS_rt_sigprocmask, SYS_sigaltstack };
	size_t i;

	for (i = 0; i < LEN(need); i++)
		if (nr == need[i])
			return 1;
	return 0;
}

static int
manychild(void)
{
	long nr;
	int e;

	if (getpid() <= 0)
		return 1;
	for (nr = 0; nr < NMANY; nr++) {
		/* numbers no syscall has are left alone: some hosts give them meanings */
		if (keep(nr) || !sc_name(nr))
			continue;
		if ((e = fails(nr, 0)) != 1 + nr ||
		    (nr % 3 == 0 && (e = fails(nr, 7)) != 2000 + nr)) {
			fprintf(stderr, "  nr %ld: errno %d\n", nr, e);
			return 2;
		}
	}
	return getppid() > 0 ? 0 : 3;	/* the default: allowed */
}

static void
many(void)
{
	static ScRule r[2 * NMANY];
	static ScArg seven = { 0, SC_EQ, 7, 0 };
	struct sock_filter *f;
	char err[ERRLEN];
	ScProg p;
	size_t n = 0, nplain = 0, i;
	long nr;
	int far = 0, st;

	for (nr = NMANY - 1; nr >= 0; nr--) {	/* given in descending order */
		if (keep(nr))
			continue;
		if (nr % 3 == 0) {
			r[n].nr = nr;
			r[n].action = ERRNO(2000 + nr);
			r[n].args = &seven;
			r[n++].nargs = 1;
		}
		r[n].nr = nr;
		r[n++].action = ERRNO(1 + nr);
		nplain++;
	}
	CHECK(nplain == 400);
	CHECK(sc_compile(SECCOMP_RET_ALLOW, r, n, &p, err) == 0);
	for (f = p.insns, i = 0; i < p.len; i++)
		if (f[i].code == (BPF_JMP | BPF_JA) && f[i].k > 255)
			far = 1;
	CHECK(far);	/* the case this test is about */
	sc_free(&p);
	childfn = manychild;
	st = under(SECCOMP_RET_ALLOW, r, n);
	if (!exited(st, 0))
		printf("  status 0x%x\n", st);
	CHECK(exited(st, 0));
}

static void
errors(void)
{
	static ScRule big[5000];
	ScArg bad = { 6, SC_EQ, 0, 0 }, badop = { 0, 99, 0, 0 };
	ScRule r = { SYS_getpid, SECCOMP_RET_ALLOW, &bad, 1 };
	char err[ERRLEN];
	ScProg p;
	size_t i;

	CHECK(sc_compile(SECCOMP_RET_ALLOW, &r, 1, &p, err) < 0 && strstr(err, "index 6"));
	r.args = &badop;
	CHECK(sc_compile(SECCOMP_RET_ALLOW, &r, 1, &p, err) < 0 && strstr(err, "op 99"));
	r.nargs = 0;
	r.nr = -1;
	CHECK(sc_compile(SECCOMP_RET_ALLOW, &r, 1, &p, err) < 0);
	r.nr = X32BIT | 1;
	CHECK(sc_compile(SECCOMP_RET_ALLOW, &r, 1, &p, err) < 0);
	for (i = 0; i < LEN(big); i++)
		big[i].nr = i;
	CHECK(sc_compile(SECCOMP_RET_ALLOW, big, LEN(big), &p, err) < 0 &&
	    strstr(err, "longer than"));
	/* no rules at all: the default for everything */
	CHECK(sc_compile(SECCOMP_RET_ALLOW, NULL, 0, &p, err) == 0 && p.len > 0);
	sc_free(&p);
}

/* run fn in a child whose stderr comes back in out; its wait status */
static int
captured(int (*fn)(void), char *out, size_t n)
{
	int p[2], st;
	ssize_t r;
	size_t got = 0;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	fflush(stdout);
	if ((pid = fork()) == 0) {
		alarm(10);
		dup2(p[1], 2);
		close(p[0]);
		_exit(fn());
	}
	close(p[1]);
	while (got < n - 1 && (r = read(p[0], out + got, n - 1 - got)) > 0)
		got += r;
	out[got] = '\0';
	close(p[0]);
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

static int
loopchild(void)
{
	char err[ERRLEN], *argv[] = { "/bin/true", NULL };
	NlNet net;
	Nl nl;
	int p[2];

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || pipe(p) < 0 ||
	    nl_open(&nl, NULL, err) < 0)
		return 90;
	if (sc_husk(SC_LOOP, err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 91;
	}
	/* what the loop does */
	if (write(p[1], "x", 1) != 1 || read(p[0], err, 1) != 1 || close(p[1]) < 0)
		return 92;
	/* podnet_close: netlink requests on a socket opened before */
	if (nl_qdiscs(&nl, &net, err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 95;
	}
	nl_netfree(&net);
	nl_close(&nl);
	if (getpid() <= 0)
		return 93;
	execve(argv[0], argv, NULL);	/* never */
	return 94;
}

static int
vcpuchild(void)
{
	char err[ERRLEN];
	int p[2];

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || pipe(p) < 0 ||
	    dup2(p[0], 42) < 0)
		return 90;
	close(p[0]);
	p[0] = 42;
	if (sc_husk(SC_VCPU, err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 91;
	}
	/* KVM_RUN on no vCPU: allowed, and fails */
	if (ioctl(p[0], KVM_RUN, 0) != -1 || errno == EPERM)
		return 92;
	if (write(p[1], "x", 1) != 1)
		return 93;
	ioctl(p[0], KVM_GET_API_VERSION, 0);	/* another request: never */
	return 94;
}

static int
vcpuopen(void)
{
	char err[ERRLEN];

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || sc_husk(SC_VCPU, err) < 0)
		return 91;
	syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);
	return 94;
}

static int
copierchild(void)
{
	char err[ERRLEN];
	int p[2];

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || pipe(p) < 0)
		return 90;
	if (sc_husk(SC_COPIER, err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 91;
	}
	if (write(p[1], "x", 1) != 1 || read(p[0], err, 1) != 1)
		return 92;
	syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);	/* never */
	return 94;
}

static void
huskfilters(void)
{
	char out[1024];
	int st;

	st = captured(loopchild, out, sizeof(out));
	if (!exited(st, 128 + SIGSYS))
		printf("  loop: status 0x%x: %s\n", st, out);
	CHECK(exited(st, 128 + SIGSYS));
	CHECK(strstr(out, "seccomp: forbidden system call execve (59) in the "
	    "loop thread") != NULL);
	st = captured(vcpuchild, out, sizeof(out));
	if (!exited(st, 128 + SIGSYS))
		printf("  vCPU: status 0x%x: %s\n", st, out);
	CHECK(exited(st, 128 + SIGSYS));
	CHECK(strstr(out, "seccomp: forbidden system call ioctl (16) in the "
	    "vCPU thread (arguments 0x2a, 0xae00, 0x0, ...)") != NULL);
	printf("  the log says: %s", out);
	st = captured(vcpuopen, out, sizeof(out));
	CHECK(exited(st, 128 + SIGSYS));
	CHECK(strstr(out, "seccomp: forbidden system call openat (257) in the "
	    "vCPU thread") != NULL);
	st = captured(copierchild, out, sizeof(out));
	if (!exited(st, 128 + SIGSYS) || !strstr(out, "(257) in the copier"))
		printf("  copier: status 0x%x: %s\n", st, out);
	CHECK(exited(st, 128 + SIGSYS));
	CHECK(strstr(out, "seccomp: forbidden system call openat (257) in the "
	    "copier thread") != NULL);
	CHECK(sc_husk(7, out) < 0);
}

/* a status line's value, -1 if absent */
static long long
status(const char *key, int hex)
{
	char line[256];
	FILE *f;
	long long v = -1;
	size_t n = strlen(key);

	if (!(f = fopen("/proc/self/status", "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = strtoll(line + n + 1, NULL, hex ? 16 : 10);
	fclose(f);
	return v;
}

static int
processchild(void)
{
	char err[ERRLEN], buf[16];
	long long want = 1LL << CAP_SYS_ADMIN | 1LL << CAP_CHOWN |
	    1LL << CAP_FOWNER | 1LL << CAP_DAC_OVERRIDE |
	    1LL << CAP_DAC_READ_SEARCH | 1LL << CAP_FSETID;
	struct rlimit rl;
	int fd, n;

	if (sc_process(SC_MOUNTS, 4096, 600, err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (status("NoNewPrivs", 0) != 1 || prctl(PR_GET_DUMPABLE) != 0)
		return 2;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max > 4096)
		return 3;
	if ((fd = open("/proc/self/oom_score_adj", O_RDONLY)) < 0 ||
	    (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
		return 4;
	buf[n] = '\0';
	if (atoi(buf) != 600)
		return 5;
	if (status("CapBnd", 1) != want || status("CapEff", 1) != want ||
	    status("CapPrm", 1) != want || status("CapInh", 1) != 0)
		return 6;
	/* the rest of the capabilities are gone: no mknod of a device */
	if (mknod("/tmp/husk-seccomp-test-null", S_IFCHR | 0600, makedev(1, 3)) == 0 ||
	    errno != EPERM)
		return 7;
	return 0;
}

/* a sandbox in a pod's netns keeps CAP_NET_ADMIN, and only that without mounts */
static int
netchild(void)
{
	char err[ERRLEN];

	if (sc_process(SC_NETADMIN, 4096, 600, err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	return status("CapEff", 1) == 1LL << CAP_NET_ADMIN &&
	    status("CapBnd", 1) == 1LL << CAP_NET_ADMIN ? 0 : 2;
}

/* husk boot keeps none */
static int
bootchild(void)
{
	char err[ERRLEN];

	if (sc_process(0, 4096, 600, err) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	return status("CapEff", 1) == 0 && status("CapBnd", 1) == 0 &&
	    status("CapPrm", 1) == 0 ? 0 : 2;
}

static void
process(void)
{
	char out[1024];
	int st;

	if (geteuid() != 0) {
		printf("  not root: sc_process's capabilities not tested\n");
		return;
	}
	st = captured(processchild, out, sizeof(out));
	if (!exited(st, 0))
		printf("  status 0x%x: %s\n", st, out);
	CHECK(exited(st, 0));
	st = captured(netchild, out, sizeof(out));
	if (!exited(st, 0))
		printf("  status 0x%x: %s\n", st, out);
	CHECK(exited(st, 0));
	st = captured(bootchild, out, sizeof(out));
	if (!exited(st, 0))
		printf("  status 0x%x: %s\n", st, out);
	CHECK(exited(st, 0));
}

int
main(void)
{
	RUN(names);
	RUN(allowdeny);
	RUN(killed);
	RUN(trap);
	RUN(ops);
	RUN(firstmatch);
	RUN(abi);
	RUN(many);
	RUN(errors);
	RUN(huskfilters);
	RUN(process);
	return TDONE();
}
