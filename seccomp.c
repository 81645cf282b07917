/* See LICENSE file for copyright and license details. */
/*
 * seccomp BPF filters compiled from rule tables: husk's own threads
 * (below, one table per kind of thread) and, in the agent, a container's
 * OCI linux.seccomp section.
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
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
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
