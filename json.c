/* See LICENSE file for copyright and license details. */
/*
 * The OCI runtime config (config.json), read strictly. The text is first
 * parsed into a small tree (J nodes: RFC 8259 exactly, no extensions,
 * nesting at most MAXDEPTH deep, strings decoded to UTF-8 with \u0000
 * refused since the fields end up as C strings), then the fields husk uses
 * are taken from the tree into an OciSpec. A known field of the wrong type
 * or out of range is an error naming the field; unknown fields are
 * skipped; null counts as absent, as Go's encoding/json writes it.
 * oci_parse_process and oci_parse_resources read one section alone (an
 * exec's process, an Update's linux.resources) with the same code.
 *
 * The security fields follow runc: a capability name husk does not know
 * is left out and listed (runc warns and goes on), while an unknown
 * seccomp action, operator, architecture or flag, or a namespace type
 * that is not Linux's, is an error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <linux/capability.h>
#include <linux/seccomp.h>

#include "husk.h"

#define MAXDEPTH	64

enum { JNULL, JBOOL, JNUM, JSTR, JARR, JOBJ };

typedef struct J J;
struct J {
	int type;
	int b;			/* JBOOL */
	char *s;		/* JSTR: decoded; JNUM: the literal */
	char *key;		/* member name in an object */
	J *kids;
	size_t n;
};

typedef struct {
	const char *start, *p, *end;
	char *err;
	int depth;
} P;

static const struct {
	const char *name;
	int resource;
} rlimits[] = {
	{ "RLIMIT_AS", RLIMIT_AS }, { "RLIMIT_CORE", RLIMIT_CORE },
	{ "RLIMIT_CPU", RLIMIT_CPU }, { "RLIMIT_DATA", RLIMIT_DATA },
	{ "RLIMIT_FSIZE", RLIMIT_FSIZE }, { "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "RLIMIT_NICE", RLIMIT_NICE }, { "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_NPROC", RLIMIT_NPROC }, { "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO }, { "RLIMIT_RTTIME", RLIMIT_RTTIME },
	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING }, { "RLIMIT_STACK", RLIMIT_STACK },
};

/* process.capabilities names, by number (linux/capability.h) */
static const char *capnames[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};
typedef char capnames_match_the_kernel[LEN(capnames) == CAP_LAST_CAP + 1 ? 1 : -1];

/* linux.seccomp: actions (data from errnoRet where it has any), operators */
static const struct {
	const char *name;
	uint32_t ret;
	int data;			/* takes errnoRet, EPERM when absent */
} scactions[] = {
	{ "SCMP_ACT_KILL",         SECCOMP_RET_KILL_THREAD,  0 },
	{ "SCMP_ACT_KILL_THREAD",  SECCOMP_RET_KILL_THREAD,  0 },
	{ "SCMP_ACT_KILL_PROCESS", SECCOMP_RET_KILL_PROCESS, 0 },
	{ "SCMP_ACT_TRAP",         SECCOMP_RET_TRAP,         0 },
	{ "SCMP_ACT_ERRNO",        SECCOMP_RET_ERRNO,        1 },
	{ "SCMP_ACT_TRACE",        SECCOMP_RET_TRACE,        1 },
	{ "SCMP_ACT_ALLOW",        SECCOMP_RET_ALLOW,        0 },
	{ "SCMP_ACT_LOG",          SECCOMP_RET_LOG,          0 },
};
static const char *scops[] = {	/* index is SC_* */
	NULL, "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ",
	"SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
};
static const struct {
	const char *name;
	unsigned bit;
} scarchs[] = {
	{ "SCMP_ARCH_X86_64", OCI_ARCH_X86_64 }, { "SCMP_ARCH_X86", OCI_ARCH_X86 },
	{ "SCMP_ARCH_X32", OCI_ARCH_X32 }, { "SCMP_ARCH_ARM", OCI_ARCH_OTHER },
	{ "SCMP_ARCH_AARCH64", OCI_ARCH_OTHER }, { "SCMP_ARCH_MIPS", OCI_ARCH_OTHER },
	{ "SCMP_ARCH_MIPS64", OCI_ARCH_OTHER }, { "SCMP_ARCH_MIPS64N32", OCI_ARCH_OTHER },
	{ "SCMP_ARCH_MIPSEL", OCI_ARCH_OTHER }, { "SCMP_ARCH_MIPSEL64", OCI_ARCH_OTHER },
	{ "SCMP_ARCH_MIPSEL64N32", OCI_ARCH_OTHER }, { "SCMP_ARCH_PPC", OCI_ARCH_OTHER },
	{ "SCMP_ARCH_PPC64", OCI_ARCH_OTHER }, { "SCMP_ARCH_PPC64LE", OCI_ARCH_OTHER },
	{ "SCMP_ARCH_S390", OCI_ARCH_OTHER }, { "SCMP_ARCH_S390X", OCI_ARCH_OTHER },
	{ "SCMP_ARCH_PARISC", OCI_ARCH_OTHER }, { "SCMP_ARCH_PARISC64", OCI_ARCH_OTHER },
	{ "SCMP_ARCH_RISCV64", OCI_ARCH_OTHER }, { "SCMP_ARCH_LOONGARCH64", OCI_ARCH_OTHER },
	{ "SCMP_ARCH_M68K", OCI_ARCH_OTHER }, { "SCMP_ARCH_SH", OCI_ARCH_OTHER },
	{ "SCMP_ARCH_SHEB", OCI_ARCH_OTHER },
};
static const struct {
	const char *name;
	unsigned bit;
} scflags[] = {
	{ "SECCOMP_FILTER_FLAG_TSYNC", OCI_SCF_TSYNC },
	{ "SECCOMP_FILTER_FLAG_LOG", OCI_SCF_LOG },
	{ "SECCOMP_FILTER_FLAG_SPEC_ALLOW", OCI_SCF_SPEC_ALLOW },
	{ "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", OCI_SCF_WAIT_KILLABLE_RECV },
};
static const char *nstypes[] = {
	"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time",
};
#define MAXERRNO	4095	/* the kernel's MAX_ERRNO */

static int value(P *x, J *j);

static void
jfree(J *j)
{
	size_t i;

	for (i = 0; i < j->n; i++)
		jfree(&j->kids[i]);
	free(j->kids);
	free(j->s);
	free(j->key);
	memset(j, 0, sizeof(*j));
}

static int
perr(P *x, const char *what)
{
	const char *q;
	int line = 1, col = 1;

	for (q = x->start; q < x->p; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	if (x->p >= x->end)
		seterr(x->err, "config.json: line %d, column %d: %s (at the end of the input)",
		    line, col, what);
	else
		seterr(x->err, "config.json: line %d, column %d: %s", line, col, what);
	return -1;
}

static void
ws(P *x)
{
	while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' ||
	    *x->p == '\n' || *x->p == '\r'))
		x->p++;
}

static int
lit(P *x, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(x->end - x->p) < n || memcmp(x->p, w, n))
		return perr(x, "invalid literal");
	x->p += n;
	return 0;
}

static int
hex4(P *x, unsigned *v)
{
	int i, c;

	*v = 0;
	if (x->end - x->p < 4)
		return perr(x, "short \\u escape");
	for (i = 0; i < 4; i++) {
		c = x->p[i];
		if (c >= '0' && c <= '9')
			c -= '0';
		else if (c >= 'a' && c <= 'f')
			c -= 'a' - 10;
		else if (c >= 'A' && c <= 'F')
			c -= 'A' - 10;
		else
			return perr(x, "bad hex digit in \\u escape");
		*v = *v << 4 | (unsigned)c;
	}
	x->p += 4;
	return 0;
}

static size_t
utf8(char *o, unsigned c)
{
	if (c < 0x80) {
		o[0] = c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = 0xc0 | c >> 6;
		o[1] = 0x80 | (c & 0x3f);
		return 2;
	}
	if (c < 0x10000) {
		o[0] = 0xe0 | c >> 12;
		o[1] = 0x80 | (c >> 6 & 0x3f);
		o[2] = 0x80 | (c & 0x3f);
		return 3;
	}
	o[0] = 0xf0 | c >> 18;
	o[1] = 0x80 | (c >> 12 & 0x3f);
	o[2] = 0x80 | (c >> 6 & 0x3f);
	o[3] = 0x80 | (c & 0x3f);
	return 4;
}

/* a string at x->p (the opening quote), decoded into a new buffer */
static int
str(P *x, char **out)
{
	const char *q;
	char *o;
	size_t n = 0;
	unsigned c, lo;

	x->p++;
	for (q = x->p; q < x->end && *q != '"'; q++)
		if (*q == '\\' && q + 1 < x->end)
			q++;
	o = emalloc(q - x->p + 1);	/* decoding never grows the text */
	for (;;) {
		if (x->p >= x->end) {
			free(o);
			return perr(x, "unterminated string");
		}
		c = (unsigned char)*x->p;
		if (c == '"')
			break;
		if (c < 0x20) {
			free(o);
			return perr(x, "control character in string");
		}
		if (c != '\\') {
			o[n++] = c;
			x->p++;
			continue;
		}
		if (++x->p >= x->end) {
			free(o);
			return perr(x, "unterminated string");
		}
		c = *x->p++;
		switch (c) {
		case '"': case '\\': case '/': o[n++] = c; break;
		case 'b': o[n++] = '\b'; break;
		case 'f': o[n++] = '\f'; break;
		case 'n': o[n++] = '\n'; break;
		case 'r': o[n++] = '\r'; break;
		case 't': o[n++] = '\t'; break;
		case 'u':
			if (hex4(x, &c) < 0)
				goto fail;
			if (c >= 0xdc00 && c <= 0xdfff) {
				perr(x, "lone low surrogate in \\u escape");
				goto fail;
			}
			if (c >= 0xd800 && c <= 0xdbff) {
				if (x->end - x->p < 2 || x->p[0] != '\\' || x->p[1] != 'u') {
					perr(x, "high surrogate without a low one");
					goto fail;
				}
				x->p += 2;
				if (hex4(x, &lo) < 0)
					goto fail;
				if (lo < 0xdc00 || lo > 0xdfff) {
					perr(x, "high surrogate without a low one");
					goto fail;
				}
				c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (c == 0) {
				perr(x, "\\u0000 in string");
				goto fail;
			}
			n += utf8(o + n, c);
			break;
		default:
			x->p--;
			perr(x, "invalid escape in string");
			goto fail;
		}
	}
	x->p++;
	o[n] = '\0';
	*out = o;
	return 0;
fail:
	free(o);
	return -1;
}

static int
digits(P *x)
{
	const char *q = x->p;

	while (x->p < x->end && *x->p >= '0' && *x->p <= '9')
		x->p++;
	return x->p > q ? 0 : perr(x, "digit expected in number");
}

static int
num(P *x, J *j)
{
	const char *q = x->p;
	size_t n;

	if (*x->p == '-')
		x->p++;
	if (x->p < x->end && *x->p == '0')
		x->p++;
	else if (digits(x) < 0)
		return -1;
	if (x->p < x->end && *x->p == '.') {
		x->p++;
		if (digits(x) < 0)
			return -1;
	}
	if (x->p < x->end && (*x->p == 'e' || *x->p == 'E')) {
		x->p++;
		if (x->p < x->end && (*x->p == '+' || *x->p == '-'))
			x->p++;
		if (digits(x) < 0)
			return -1;
	}
	n = x->p - q;
	j->type = JNUM;
	j->s = emalloc(n + 1);
	memcpy(j->s, q, n);
	j->s[n] = '\0';
	return 0;
}

static J *
addkid(J *j)
{
	if ((j->n & (j->n - 1)) == 0)	/* grow at powers of two */
		j->kids = erealloc(j->kids, (j->n ? j->n * 2 : 1) * sizeof(J));
	memset(&j->kids[j->n], 0, sizeof(J));
	return &j->kids[j->n++];
}

static int
container(P *x, J *j, int obj)
{
	J *k;
	char close = obj ? '}' : ']';

	if (++x->depth > MAXDEPTH)
		return perr(x, "nested too deep");
	j->type = obj ? JOBJ : JARR;
	x->p++;
	ws(x);
	if (x->p < x->end && *x->p == close) {
		x->p++;
		x->depth--;
		return 0;
	}
	for (;;) {
		k = addkid(j);
		if (obj) {
			ws(x);
			if (x->p >= x->end || *x->p != '"')
				return perr(x, "member name (a string) expected");
			if (str(x, &k->key) < 0)
				return -1;
			ws(x);
			if (x->p >= x->end || *x->p != ':')
				return perr(x, "':' expected after a member name");
			x->p++;
		}
		if (value(x, k) < 0)
			return -1;
		ws(x);
		if (x->p < x->end && *x->p == ',') {
			x->p++;
			continue;
		}
		if (x->p < x->end && *x->p == close) {
			x->p++;
			x->depth--;
			return 0;
		}
		return perr(x, obj ? "',' or '}' expected" : "',' or ']' expected");
	}
}

static int
value(P *x, J *j)
{
	ws(x);
	if (x->p >= x->end)
		return perr(x, "value expected");
	switch (*x->p) {
	case '{': return container(x, j, 1);
	case '[': return container(x, j, 0);
	case '"':
		j->type = JSTR;
		return str(x, &j->s);
	case 't':
		j->type = JBOOL;
		j->b = 1;
		return lit(x, "true");
	case 'f':
		j->type = JBOOL;
		return lit(x, "false");
	case 'n':
		j->type = JNULL;
		return lit(x, "null");
	default:
		if (*x->p == '-' || (*x->p >= '0' && *x->p <= '9'))
			return num(x, j);
		return perr(x, "value expected");
	}
}

/* the member key of object o (the last one if repeated); NULL if absent or null */
static const J *
get(const J *o, const char *key)
{
	const J *r = NULL;
	size_t i;

	if (!o || o->type != JOBJ)
		return NULL;
	for (i = 0; i < o->n; i++)
		if (!strcmp(o->kids[i].key, key))
			r = &o->kids[i];
	return r && r->type != JNULL ? r : NULL;
}

static int
typeerr(char *err, const char *field, const char *want)
{
	seterr(err, "config.json: %s: %s expected", field, want);
	return -1;
}

/* an object, or absent (*o NULL) */
static int
getobj(const J *parent, const char *key, const char *field, const J **o, char *err)
{
	*o = get(parent, key);
	if (*o && (*o)->type != JOBJ)
		return typeerr(err, field, "an object");
	return 0;
}

static int
getstr(const J *o, const char *key, const char *field, char **s, char *err)
{
	const J *j = get(o, key);

	if (!j)
		return 0;
	if (j->type != JSTR)
		return typeerr(err, field, "a string");
	free(*s);
	*s = estrdup(j->s);
	return 0;
}

static int
getbool(const J *o, const char *key, const char *field, int *b, char *err)
{
	const J *j = get(o, key);

	if (!j)
		return 0;
	if (j->type != JBOOL)
		return typeerr(err, field, "true or false");
	*b = j->b;
	return 0;
}

/* an integer number in [lo, hi] (signed) or [0, UINT64_MAX] when unsign */
static int
numval(const J *j, const char *field, int unsign, int64_t lo, int64_t hi,
    uint64_t *u, int64_t *i, char *err)
{
	char *e;

	if (j->type != JNUM || strpbrk(j->s, ".eE"))
		return typeerr(err, field, "an integer");
	errno = 0;
	if (unsign) {
		if (j->s[0] == '-')
			return typeerr(err, field, "a non-negative integer");
		*u = strtoull(j->s, &e, 10);
	} else {
		*i = strtoll(j->s, &e, 10);
		if (!errno && (*i < lo || *i > hi))
			errno = ERANGE;
	}
	if (errno || *e) {
		seterr(err, "config.json: %s: %s is out of range", field, j->s);
		return -1;
	}
	return 0;
}

static int
getu64(const J *o, const char *key, const char *field, uint64_t *v, char *err)
{
	const J *j = get(o, key);
	int64_t dummy;

	return j ? numval(j, field, 1, 0, 0, v, &dummy, err) : 0;
}

static int
u32val(const J *j, const char *field, uint32_t *v, char *err)
{
	uint64_t u;
	int64_t i;

	if (numval(j, field, 0, 0, UINT32_MAX, &u, &i, err) < 0)
		return -1;
	*v = i;
	return 0;
}

static int
getu32(const J *o, const char *key, const char *field, uint32_t *v, char *err)
{
	const J *j = get(o, key);

	return j ? u32val(j, field, v, err) : 0;
}

static int
geti64(const J *o, const char *key, const char *field, int64_t *v, char *err)
{
	const J *j = get(o, key);
	uint64_t u;

	return j ? numval(j, field, 0, INT64_MIN, INT64_MAX, &u, v, err) : 0;
}

/* an array of strings, NULL-terminated; an empty list when absent */
static int
getstrs(const J *o, const char *key, const char *field, char ***out, char *err)
{
	const J *j = get(o, key);
	char **v;
	size_t i;

	if (j && j->type != JARR)
		return typeerr(err, field, "an array of strings");
	for (i = 0; j && i < j->n; i++)
		if (j->kids[i].type != JSTR)
			return typeerr(err, field, "an array of strings");
	v = ecalloc((j ? j->n : 0) + 1, sizeof(*v));
	for (i = 0; j && i < j->n; i++)
		v[i] = estrdup(j->kids[i].s);
	*out = v;
	return 0;
}

static void
freestrs(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* a list of objects: the array, or NULL when absent */
static int
getlist(const J *o, const char *key, const char *field, const J **l, char *err)
{
	size_t i;

	*l = get(o, key);
	if (!*l)
		return 0;
	if ((*l)->type != JARR)
		return typeerr(err, field, "an array of objects");
	for (i = 0; i < (*l)->n; i++)
		if ((*l)->kids[i].type != JOBJ)
			return typeerr(err, field, "an array of objects");
	return 0;
}

static int
instrs(char **v, const char *w)
{
	for (; *v; v++)
		if (!strcmp(*v, w))
			return 1;
	return 0;
}

/* process.capabilities: each set absent is empty, as in runc */
static int
caps(OciSpec *s, const J *c, char *err)
{
	static const char *sets[] = {
		"bounding", "effective", "inheritable", "permitted", "ambient",
	};
	uint64_t *masks[] = {
		&s->capbnd, &s->capeff, &s->capinh, &s->capprm, &s->capamb,
	};
	char **v, f[48];
	size_t i, k, b, n;

	s->hascaps = 1;
	for (n = 0; s->capunknown[n]; n++)
		;
	for (i = 0; i < LEN(sets); i++) {
		snprintf(f, sizeof(f), "process.capabilities.%s", sets[i]);
		if (getstrs(c, sets[i], f, &v, err) < 0)
			return -1;
		for (k = 0; v[k]; k++) {
			for (b = 0; b < LEN(capnames) && strcmp(capnames[b], v[k]); b++)
				;
			if (b < LEN(capnames)) {
				*masks[i] |= 1ull << b;
			} else if (!instrs(s->capunknown, v[k])) {
				s->capunknown = erealloc(s->capunknown,
				    (n + 2) * sizeof(char *));
				s->capunknown[n++] = estrdup(v[k]);
				s->capunknown[n] = NULL;
			}
		}
		freestrs(v);
	}
	return 0;
}

static int
process(OciSpec *s, const J *p, char *err)
{
	const J *u, *l, *r;
	uint32_t gid;
	size_t i, k;
	char f[64];

	s->hasprocess = 1;
	free(s->args);
	free(s->env);
	s->args = s->env = NULL;
	if (getstrs(p, "args", "process.args", &s->args, err) < 0 ||
	    getstrs(p, "env", "process.env", &s->env, err) < 0 ||
	    getstr(p, "cwd", "process.cwd", &s->cwd, err) < 0 ||
	    getbool(p, "terminal", "process.terminal", &s->terminal, err) < 0 ||
	    getbool(p, "noNewPrivileges", "process.noNewPrivileges",
	    &s->nonewprivs, err) < 0 ||
	    getobj(p, "user", "process.user", &u, err) < 0 ||
	    getu32(u, "uid", "process.user.uid", &s->uid, err) < 0 ||
	    getu32(u, "gid", "process.user.gid", &s->gid, err) < 0 ||
	    getlist(p, "rlimits", "process.rlimits", &l, err) < 0 ||
	    getobj(p, "capabilities", "process.capabilities", &r, err) < 0 ||
	    (r && caps(s, r, err) < 0))
		return -1;
	if (s->cwd && s->cwd[0] != '/') {
		seterr(err, "config.json: process.cwd: '%s' is not an absolute path", s->cwd);
		return -1;
	}
	if (get(u, "umask")) {
		if (getu32(u, "umask", "process.user.umask", &s->umask, err) < 0)
			return -1;
		s->hasumask = 1;
	}
	if ((r = get(u, "additionalGids"))) {
		if (r->type != JARR)
			return typeerr(err, "process.user.additionalGids", "an array of integers");
		s->gids = ecalloc(r->n + 1, sizeof(*s->gids));
		for (i = 0; i < r->n; i++) {
			if (u32val(&r->kids[i], "process.user.additionalGids",
			    &gid, err) < 0)
				return -1;
			s->gids[s->ngids++] = gid;
		}
	}
	if (l) {
		s->rlimits = ecalloc(l->n + 1, sizeof(*s->rlimits));
		for (i = 0; i < l->n; i++) {
			r = &l->kids[i];
			snprintf(f, sizeof(f), "process.rlimits[%zu]", i);
			u = get(r, "type");
			if (!u || u->type != JSTR)
				return typeerr(err, f, "a \"type\" string");
			for (k = 0; k < LEN(rlimits) && strcmp(rlimits[k].name, u->s); k++)
				;
			if (k == LEN(rlimits)) {
				seterr(err, "config.json: %s: unknown rlimit type '%s'", f, u->s);
				return -1;
			}
			s->rlimits[s->nrlimits].resource = rlimits[k].resource;
			if (getu64(r, "soft", "process.rlimits.soft",
			    &s->rlimits[s->nrlimits].soft, err) < 0 ||
			    getu64(r, "hard", "process.rlimits.hard",
			    &s->rlimits[s->nrlimits].hard, err) < 0)
				return -1;
			s->nrlimits++;
		}
	}
	return 0;
}

static int
mounts(OciSpec *s, const J *l, char *err)
{
	const J *m;
	OciMount *o;
	size_t i;

	s->mounts = ecalloc(l->n + 1, sizeof(*s->mounts));
	for (i = 0; i < l->n; i++) {
		m = &l->kids[i];
		o = &s->mounts[s->nmounts++];
		if (getstr(m, "destination", "mounts.destination", &o->dest, err) < 0 ||
		    getstr(m, "type", "mounts.type", &o->type, err) < 0 ||
		    getstr(m, "source", "mounts.source", &o->source, err) < 0 ||
		    getstrs(m, "options", "mounts.options", &o->options, err) < 0)
			return -1;
		if (!o->dest || o->dest[0] != '/') {
			seterr(err, "config.json: mounts[%zu]: destination must be an absolute path",
			    i);
			return -1;
		}
	}
	return 0;
}

/* an SCMP_ACT_* name at key, with its data from errkey (EPERM when absent) */
static int
scaction(const J *o, const char *key, const char *errkey, const char *field,
    const char *errfield, uint32_t *ret, char *err)
{
	const J *a = get(o, key);
	uint32_t e = EPERM;
	size_t k;

	if (!a || a->type != JSTR)
		return typeerr(err, field, "an SCMP_ACT_* string");
	for (k = 0; k < LEN(scactions) && strcmp(scactions[k].name, a->s); k++)
		;
	if (k == LEN(scactions)) {
		seterr(err, "config.json: %s: %s '%s'", field, !strcmp(a->s,
		    "SCMP_ACT_NOTIFY") ? "husk does not support" :
		    "unknown seccomp action", a->s);
		return -1;
	}
	*ret = scactions[k].ret;
	if (!scactions[k].data)
		return 0;
	if (getu32(o, errkey, errfield, &e, err) < 0)
		return -1;
	if (e > MAXERRNO) {
		seterr(err, "config.json: %s: %u is past the largest errno, %d",
		    errfield, e, MAXERRNO);
		return -1;
	}
	*ret |= e;
	return 0;
}

static int
scargs(OciSyscall *c, const J *l, const char *f, char *err)
{
	const J *a, *op;
	OciScArg *g;
	uint32_t idx;
	size_t i;
	int k;

	c->args = ecalloc(l->n + 1, sizeof(*c->args));
	for (i = 0; i < l->n; i++) {
		a = &l->kids[i];
		g = &c->args[c->nargs++];
		if (!get(a, "index") || !get(a, "value") || !(op = get(a, "op"))) {
			seterr(err, "config.json: %s.args[%zu]: index, value and op "
			    "are required", f, i);
			return -1;
		}
		if (getu32(a, "index", "linux.seccomp.syscalls.args.index", &idx, err) < 0 ||
		    getu64(a, "value", "linux.seccomp.syscalls.args.value",
		    &g->value, err) < 0 ||
		    getu64(a, "valueTwo", "linux.seccomp.syscalls.args.valueTwo",
		    &g->value2, err) < 0)
			return -1;
		if (idx > 5) {
			seterr(err, "config.json: %s.args[%zu].index: %u is not an "
			    "argument (0 to 5)", f, i, idx);
			return -1;
		}
		g->index = idx;
		if (op->type != JSTR)
			return typeerr(err, "linux.seccomp.syscalls.args.op",
			    "an SCMP_CMP_* string");
		for (k = 1; k < (int)LEN(scops) && strcmp(scops[k], op->s); k++)
			;
		if (k == (int)LEN(scops)) {
			seterr(err, "config.json: %s.args[%zu].op: unknown operator '%s'",
			    f, i, op->s);
			return -1;
		}
		g->op = k;
	}
	return 0;
}

static int
seccomp(OciSpec *s, const J *o, char *err)
{
	OciSeccomp *sc;
	const J *l;
	char **v, f[48];
	size_t i, k;

	sc = s->seccomp = ecalloc(1, sizeof(*sc));
	if (scaction(o, "defaultAction", "defaultErrnoRet", "linux.seccomp.defaultAction",
	    "linux.seccomp.defaultErrnoRet", &sc->defaction, err) < 0)
		return -1;
	if (getstrs(o, "architectures", "linux.seccomp.architectures", &v, err) < 0)
		return -1;
	for (i = 0; v[i]; i++) {
		for (k = 0; k < LEN(scarchs) && strcmp(scarchs[k].name, v[i]); k++)
			;
		if (k == LEN(scarchs)) {
			seterr(err, "config.json: linux.seccomp.architectures: "
			    "unknown architecture '%s'", v[i]);
			freestrs(v);
			return -1;
		}
		sc->archs |= scarchs[k].bit;
	}
	freestrs(v);
	if (getstrs(o, "flags", "linux.seccomp.flags", &v, err) < 0)
		return -1;
	for (i = 0; v[i]; i++) {
		for (k = 0; k < LEN(scflags) && strcmp(scflags[k].name, v[i]); k++)
			;
		if (k == LEN(scflags)) {
			seterr(err, "config.json: linux.seccomp.flags: unknown flag '%s'",
			    v[i]);
			freestrs(v);
			return -1;
		}
		sc->flags |= scflags[k].bit;
	}
	freestrs(v);
	if (getlist(o, "syscalls", "linux.seccomp.syscalls", &l, err) < 0)
		return -1;
	if (!l)
		return 0;
	sc->sys = ecalloc(l->n + 1, sizeof(*sc->sys));
	for (i = 0; i < l->n; i++) {
		OciSyscall *c = &sc->sys[sc->nsys++];
		const J *a;

		snprintf(f, sizeof(f), "linux.seccomp.syscalls[%zu]", i);
		if (getstrs(&l->kids[i], "names", "linux.seccomp.syscalls.names",
		    &c->names, err) < 0)
			return -1;
		if (!c->names[0]) {
			seterr(err, "config.json: %s.names: at least one name is required", f);
			return -1;
		}
		if (scaction(&l->kids[i], "action", "errnoRet",
		    "linux.seccomp.syscalls.action", "linux.seccomp.syscalls.errnoRet",
		    &c->action, err) < 0)
			return -1;
		if (getlist(&l->kids[i], "args", "linux.seccomp.syscalls.args", &a, err) < 0 ||
		    (a && scargs(c, a, f, err) < 0))
			return -1;
	}
	return 0;
}

static int
idmaps(const J *lx, const char *key, const char *field, OciIdMap **out,
    size_t *n, char *err)
{
	const J *l, *m;
	OciIdMap *o;
	size_t i;

	if (getlist(lx, key, field, &l, err) < 0)
		return -1;
	if (!l)
		return 0;
	*out = ecalloc(l->n + 1, sizeof(**out));
	for (i = 0; i < l->n; i++) {
		m = &l->kids[i];
		o = &(*out)[(*n)++];
		if (!get(m, "containerID") || !get(m, "hostID") || !get(m, "size")) {
			seterr(err, "config.json: %s[%zu]: containerID, hostID and size "
			    "are required", field, i);
			return -1;
		}
		if (getu32(m, "containerID", field, &o->ctr, err) < 0 ||
		    getu32(m, "hostID", field, &o->host, err) < 0 ||
		    getu32(m, "size", field, &o->size, err) < 0)
			return -1;
	}
	return 0;
}

/* maskedPaths, readonlyPaths: absolute paths in the container */
static int
paths(const J *lx, const char *key, const char *field, char ***out, char *err)
{
	size_t i;

	free(*out);
	*out = NULL;
	if (getstrs(lx, key, field, out, err) < 0)
		return -1;
	for (i = 0; (*out)[i]; i++) {
		if ((*out)[i][0] != '/') {
			seterr(err, "config.json: %s: '%s' is not an absolute path",
			    field, (*out)[i]);
			return -1;
		}
	}
	return 0;
}

/* a limit: -1 stays -1 (none, or "max" once given); others below 0 too */
static int
getlimit(const J *o, const char *key, const char *field, int64_t *v,
    unsigned bit, unsigned *set, char *err)
{
	if (!get(o, key))
		return 0;
	if (geti64(o, key, field, v, err) < 0)
		return -1;
	if (*v < 0)
		*v = -1;
	*set |= bit;
	return 0;
}

/* linux.resources, as Create and Update take it */
static int
resources(OciSpec *s, const J *res, char *err)
{
	const J *mem, *cpu, *pids, *blk;
	uint64_t w = 0;

	if (getobj(res, "memory", "linux.resources.memory", &mem, err) < 0 ||
	    getobj(res, "cpu", "linux.resources.cpu", &cpu, err) < 0 ||
	    getobj(res, "pids", "linux.resources.pids", &pids, err) < 0 ||
	    getobj(res, "blockIO", "linux.resources.blockIO", &blk, err) < 0 ||
	    getlimit(mem, "limit", "linux.resources.memory.limit", &s->memlimit,
	    OCI_RMEM, &s->resset, err) < 0 ||
	    getlimit(mem, "reservation", "linux.resources.memory.reservation",
	    &s->memreserve, OCI_RMEMRES, &s->resset, err) < 0 ||
	    getlimit(mem, "swap", "linux.resources.memory.swap", &s->memswap,
	    OCI_RSWAP, &s->resset, err) < 0 ||
	    getu64(cpu, "shares", "linux.resources.cpu.shares", &s->cpushares, err) < 0 ||
	    getlimit(cpu, "quota", "linux.resources.cpu.quota", &s->cpuquota,
	    OCI_RQUOTA, &s->resset, err) < 0 ||
	    getu64(cpu, "period", "linux.resources.cpu.period", &s->cpuperiod, err) < 0 ||
	    getstr(cpu, "cpus", "linux.resources.cpu.cpus", &s->cpus, err) < 0 ||
	    getstr(cpu, "mems", "linux.resources.cpu.mems", &s->mems, err) < 0 ||
	    getlimit(pids, "limit", "linux.resources.pids.limit", &s->pidslimit,
	    OCI_RPIDS, &s->resset, err) < 0 ||
	    getu64(blk, "weight", "linux.resources.blockIO.weight", &w, err) < 0)
		return -1;
	/* 0 quota or pids limit: none, as runc reads them */
	if (s->cpuquota == 0)
		s->cpuquota = -1;
	if (s->pidslimit == 0)
		s->pidslimit = -1;
	if (s->cpushares)
		s->resset |= OCI_RSHARES;
	if (s->cpuperiod)
		s->resset |= OCI_RPERIOD;
	if (s->cpus)
		s->resset |= OCI_RCPUS;
	if (s->mems)
		s->resset |= OCI_RMEMS;
	if (w && (w < 10 || w > 1000)) {
		seterr(err, "config.json: linux.resources.blockIO.weight: %llu is "
		    "outside 10..1000", (unsigned long long)w);
		return -1;
	}
	if (w) {
		s->blkioweight = w;
		s->resset |= OCI_RBLKIO;
	}
	return 0;
}

/* linux.sysctl: keys are dotted names under /proc/sys, nothing else */
static int
sysctl(OciSpec *s, const J *o, char *err)
{
	size_t i;
	const char *k;

	s->sysctlkeys = ecalloc(o->n + 1, sizeof(char *));
	s->sysctlvals = ecalloc(o->n + 1, sizeof(char *));
	for (i = 0; i < o->n; i++) {
		k = o->kids[i].key;
		if (o->kids[i].type != JSTR)
			return typeerr(err, "linux.sysctl", "string values");
		if (!k[0] || k[0] == '.' || strchr(k, '/') || strstr(k, "..")) {
			seterr(err, "config.json: linux.sysctl: invalid key '%s'", k);
			return -1;
		}
		s->sysctlkeys[s->nsysctl] = estrdup(k);
		s->sysctlvals[s->nsysctl++] = estrdup(o->kids[i].s);
	}
	return 0;
}

static int
linuxsec(OciSpec *s, const J *lx, char *err)
{
	const J *l, *res;
	size_t i, k;
	OciNs *n;

	if (getlist(lx, "namespaces", "linux.namespaces", &l, err) < 0)
		return -1;
	if (l) {
		s->ns = ecalloc(l->n + 1, sizeof(*s->ns));
		for (i = 0; i < l->n; i++) {
			n = &s->ns[s->nns];
			if (getstr(&l->kids[i], "type", "linux.namespaces.type",
			    &n->type, err) < 0 ||
			    getstr(&l->kids[i], "path", "linux.namespaces.path",
			    &n->path, err) < 0)
				return -1;
			s->nns++;
			if (!n->type)
				return typeerr(err, "linux.namespaces.type", "a string");
			for (k = 0; k < LEN(nstypes) && strcmp(nstypes[k], n->type); k++)
				;
			if (k == LEN(nstypes)) {
				seterr(err, "config.json: linux.namespaces: unknown type '%s'",
				    n->type);
				return -1;
			}
			if (!n->path && !strcmp(n->type, "user"))
				s->userns = 1;
			if (!n->path && !strcmp(n->type, "cgroup"))
				s->cgroupns = 1;
		}
	}
	if (idmaps(lx, "uidMappings", "linux.uidMappings", &s->uidmap, &s->nuidmap, err) < 0 ||
	    idmaps(lx, "gidMappings", "linux.gidMappings", &s->gidmap, &s->ngidmap, err) < 0 ||
	    paths(lx, "maskedPaths", "linux.maskedPaths", &s->masked, err) < 0 ||
	    paths(lx, "readonlyPaths", "linux.readonlyPaths", &s->readonly, err) < 0 ||
	    getobj(lx, "seccomp", "linux.seccomp", &l, err) < 0 ||
	    (l && seccomp(s, l, err) < 0))
		return -1;
	if (s->userns && (!s->nuidmap || !s->ngidmap)) {
		seterr(err, "config.json: a user namespace needs linux.uidMappings "
		    "and linux.gidMappings");
		return -1;
	}
	if (!s->userns && (s->nuidmap || s->ngidmap)) {
		seterr(err, "config.json: linux.uidMappings and gidMappings need a "
		    "new user namespace in linux.namespaces");
		return -1;
	}
	if (getobj(lx, "resources", "linux.resources", &res, err) < 0 ||
	    (res && resources(s, res, err) < 0) ||
	    getobj(lx, "sysctl", "linux.sysctl", &l, err) < 0 ||
	    (l && sysctl(s, l, err) < 0))
		return -1;
	return 0;
}

static int
annotations(OciSpec *s, const J *a, char *err)
{
	size_t i;

	s->annokeys = ecalloc(a->n + 1, sizeof(char *));
	s->annovals = ecalloc(a->n + 1, sizeof(char *));
	for (i = 0; i < a->n; i++) {
		if (a->kids[i].type != JSTR) {
			seterr(err, "config.json: annotations: '%s': a string expected",
			    a->kids[i].key);
			return -1;
		}
		s->annokeys[s->nanno] = estrdup(a->kids[i].key);
		s->annovals[s->nanno++] = estrdup(a->kids[i].s);
	}
	return 0;
}

/* the defaults of a spec with nothing in it */
static void
ociinit(OciSpec *s)
{
	memset(s, 0, sizeof(*s));
	s->memlimit = s->memreserve = s->memswap = s->cpuquota = s->pidslimit = -1;
	s->args = ecalloc(1, sizeof(char *));
	s->env = ecalloc(1, sizeof(char *));
	s->capunknown = ecalloc(1, sizeof(char *));
	s->masked = ecalloc(1, sizeof(char *));
	s->readonly = ecalloc(1, sizeof(char *));
}

/* the text as one JSON object */
static int
parsetop(J *top, const char *buf, size_t n, char *err)
{
	P x;

	memset(top, 0, sizeof(*top));
	if (n > OCI_MAXJSON) {
		seterr(err, "config.json: %zu bytes, more than the %d husk reads",
		    n, OCI_MAXJSON);
		return -1;
	}
	x.start = x.p = buf;
	x.end = buf + n;
	x.err = err;
	x.depth = 0;
	if (value(&x, top) < 0)
		return -1;
	ws(&x);
	if (x.p < x.end)
		return perr(&x, "text after the top-level value");
	if (top->type != JOBJ) {
		seterr(err, "config.json: the top level is not an object");
		return -1;
	}
	return 0;
}

int
oci_parse(OciSpec *s, const char *buf, size_t n, char *err)
{
	J top;
	const J *o, *l;

	ociinit(s);
	if (parsetop(&top, buf, n, err) < 0)
		goto fail;
	if (getobj(&top, "process", "process", &o, err) < 0 ||
	    (o && process(s, o, err) < 0) ||
	    getobj(&top, "root", "root", &o, err) < 0 ||
	    getstr(o, "path", "root.path", &s->rootpath, err) < 0 ||
	    getbool(o, "readonly", "root.readonly", &s->rootro, err) < 0 ||
	    getstr(&top, "hostname", "hostname", &s->hostname, err) < 0 ||
	    getlist(&top, "mounts", "mounts", &l, err) < 0 ||
	    (l && mounts(s, l, err) < 0) ||
	    getobj(&top, "linux", "linux", &o, err) < 0 ||
	    (o && linuxsec(s, o, err) < 0) ||
	    getobj(&top, "annotations", "annotations", &o, err) < 0 ||
	    (o && annotations(s, o, err) < 0))
		goto fail;
	if (!s->cwd)
		s->cwd = estrdup("/");
	jfree(&top);
	return 0;
fail:
	jfree(&top);
	oci_free(s);
	return -1;
}

int
oci_parse_process(OciSpec *s, const char *buf, size_t n, char *err)
{
	J top;

	ociinit(s);
	if (parsetop(&top, buf, n, err) < 0 || process(s, &top, err) < 0) {
		jfree(&top);
		oci_free(s);
		return -1;
	}
	if (!s->cwd)
		s->cwd = estrdup("/");
	jfree(&top);
	return 0;
}

int
oci_parse_resources(OciSpec *s, const char *buf, size_t n, char *err)
{
	J top;

	ociinit(s);
	if (parsetop(&top, buf, n, err) < 0 || resources(s, &top, err) < 0) {
		jfree(&top);
		oci_free(s);
		return -1;
	}
	jfree(&top);
	return 0;
}

void
oci_free(OciSpec *s)
{
	size_t i;

	freestrs(s->args);
	freestrs(s->env);
	free(s->cwd);
	free(s->gids);
	free(s->rlimits);
	free(s->rootpath);
	free(s->hostname);
	for (i = 0; i < s->nmounts; i++) {
		free(s->mounts[i].dest);
		free(s->mounts[i].type);
		free(s->mounts[i].source);
		freestrs(s->mounts[i].options);
	}
	free(s->mounts);
	for (i = 0; i < s->nns; i++) {
		free(s->ns[i].type);
		free(s->ns[i].path);
	}
	free(s->ns);
	free(s->uidmap);
	free(s->gidmap);
	freestrs(s->capunknown);
	freestrs(s->masked);
	freestrs(s->readonly);
	if (s->seccomp) {
		for (i = 0; i < s->seccomp->nsys; i++) {
			freestrs(s->seccomp->sys[i].names);
			free(s->seccomp->sys[i].args);
		}
		free(s->seccomp->sys);
		free(s->seccomp);
	}
	for (i = 0; i < s->nanno; i++) {
		free(s->annokeys[i]);
		free(s->annovals[i]);
	}
	free(s->annokeys);
	free(s->annovals);
	freestrs(s->sysctlkeys);
	freestrs(s->sysctlvals);
	free(s->cpus);
	free(s->mems);
	memset(s, 0, sizeof(*s));
}

const char *
oci_annotation(const OciSpec *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->nanno; i++)
		if (!strcmp(s->annokeys[i], key))
			return s->annovals[i];
	return NULL;
}

const char *
cri_sandbox(const OciSpec *s)
{
	const char *type = oci_annotation(s, CRI_TYPE);
	const char *id = oci_annotation(s, CRI_SANDBOXID);

	if (!type || strcmp(type, "container") || !id || !id[0])
		return NULL;
	return id;
}

const char *
oci_netns(const OciSpec *s)
{
	size_t i;

	for (i = 0; i < s->nns; i++)
		if (!strcmp(s->ns[i].type, "network") && s->ns[i].path &&
		    s->ns[i].path[0])
			return s->ns[i].path;
	return NULL;
}
