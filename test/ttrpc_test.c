/* See LICENSE file for copyright and license details. */
/*
 * ttrpc.c over socketpairs in one process, driven by loop_run: a server
 * and a client, or one side of them against raw frames written and read
 * by hand (partial, oversized, malformed, as Go's ttrpc encodes them),
 * and peers that flood or never read, against the per-connection caps.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "../husk.h"
#include "t.h"

#define SVC	"t.Svc"

static TtrpcCall *held[2000];	/* calls Later holds, unanswered */
static int nheld;

static void
echo(TtrpcCall *c, const uint8_t *req, size_t n)
{
	ttrpc_reply(c, RPC_OK, NULL, req, n);
}

static void
later(TtrpcCall *c, const uint8_t *req, size_t n)
{
	(void)req;
	(void)n;
	if (nheld < (int)LEN(held))
		held[nheld++] = c;
	else
		ttrpc_reply(c, RPC_EXHAUSTED, "test: too many held", NULL, 0);
}

static void
fail(TtrpcCall *c, const uint8_t *req, size_t n)
{
	(void)req;
	(void)n;
	ttrpc_reply(c, RPC_NOTFOUND, "no such thing", NULL, 0);
}

static void
huge(TtrpcCall *c, const uint8_t *req, size_t n)
{
	uint8_t *b = calloc(1, TTRPC_MAXMSG);

	(void)req;
	(void)n;
	ttrpc_reply(c, RPC_OK, NULL, b, TTRPC_MAXMSG);
	free(b);
}

static const TtrpcMethod methods[] = {
	/* service  method   handler */
	{ SVC,      "Echo",  echo },
	{ SVC,      "Later", later },
	{ SVC,      "Fail",  fail },
	{ SVC,      "Huge",  huge },
};

typedef struct {
	int ncalls, code, order;
	char msg[256];
	uint8_t *resp;
	size_t n;
} Result;

static int norder;

static void
done(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	Result *r = arg;

	r->ncalls++;
	r->code = code;
	r->order = ++norder;
	snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : "");
	free(r->resp);
	r->resp = malloc(n + 1);
	if (n)
		memcpy(r->resp, resp, n);
	r->n = n;
}

static void
clear(Result *r, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(r[i].resp);
	memset(r, 0, n * sizeof(*r));
}

static int
spin(const int *cond, int want)
{
	int i;

	for (i = 0; i < 2000 && *cond < want; i++)
		loop_run(5);
	return *cond >= want;
}

static int nclosed;

static void
onclose(Ttrpc *t, void *arg)
{
	(void)arg;
	nclosed++;
	ttrpc_close(t);
}

static void
pair(Ttrpc **srv, Ttrpc **cli)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		exit(2);
	*srv = ttrpc_new(sv[0], methods, LEN(methods), NULL);
	*cli = ttrpc_new(sv[1], NULL, 0, NULL);
	if (!*srv || !*cli)
		exit(2);
}

static void
inflight(void)
{
	Ttrpc *s, *c;
	static Result r[200];
	char buf[32];
	int i, j, total;

	pair(&s, &c);
	clear(r, LEN(r));
	for (i = 0; i < (int)LEN(r); i++) {
		snprintf(buf, sizeof(buf), "call %d", i);
		CHECK(ttrpc_call(c, SVC, "Echo", buf, strlen(buf), 0, done, &r[i]) == 0);
	}
	for (j = 0, total = 0; j < 2000 && total < (int)LEN(r); j++) {
		loop_run(5);
		for (total = 0, i = 0; i < (int)LEN(r); i++)
			total += r[i].ncalls;
	}
	CHECK(total == LEN(r));
	for (i = 0; i < (int)LEN(r); i++) {
		snprintf(buf, sizeof(buf), "call %d", i);
		CHECK(r[i].ncalls == 1 && r[i].code == RPC_OK);
		CHECK(r[i].n == strlen(buf) && !memcmp(r[i].resp, buf, r[i].n));
	}
	ttrpc_close(c);
	ttrpc_close(s);
	loop_run(0);
	clear(r, LEN(r));
}

/* messages of megabytes: partial writes and EPOLLOUT both ways */
static void
large(void)
{
	Ttrpc *s, *c;
	Result a, b, h;
	uint8_t *big, *over;
	size_t i, n = 3 << 20;

	pair(&s, &c);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&h, 0, sizeof(h));
	big = malloc(n);
	for (i = 0; i < n; i++)
		big[i] = i * 7 + (i >> 13);
	CHECK(ttrpc_call(c, SVC, "Echo", big, n, 0, done, &a) == 0);
	CHECK(ttrpc_call(c, SVC, "Echo", "small", 5, 0, done, &b) == 0);
	CHECK(ttrpc_call(c, SVC, "Huge", NULL, 0, 0, done, &h) == 0);
	spin(&h.ncalls, 1);
	spin(&a.ncalls, 1);
	CHECK(a.ncalls == 1 && a.code == RPC_OK && a.n == n && !memcmp(a.resp, big, n));
	CHECK(b.ncalls == 1 && b.code == RPC_OK && b.n == 5 && !memcmp(b.resp, "small", 5));
	CHECK(a.order < b.order);
	/* a reply over the limit becomes an error, not a broken stream */
	CHECK(h.ncalls == 1 && h.code == RPC_EXHAUSTED && h.n == 0);
	/* a request over the limit is refused before it is sent */
	over = calloc(1, TTRPC_MAXMSG + 1);
	errno = 0;
	CHECK(ttrpc_call(c, SVC, "Echo", over, TTRPC_MAXMSG, 0, done, &b) == -1);
	CHECK(errno == EMSGSIZE);
	CHECK(b.ncalls == 1);
	free(over);
	free(big);
	ttrpc_close(c);
	ttrpc_close(s);
	loop_run(0);
	clear(&a, 1);
	clear(&b, 1);
	clear(&h, 1);
}

static void
errors(void)
{
	Ttrpc *s, *c;
	Result a, b, e, z;

	pair(&s, &c);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&e, 0, sizeof(e));
	memset(&z, 0, sizeof(z));
	ttrpc_call(c, "no.Such", "Thing", NULL, 0, 0, done, &a);
	ttrpc_call(c, SVC, "Nope", NULL, 0, 0, done, &b);
	ttrpc_call(c, SVC, "Fail", NULL, 0, 0, done, &e);
	ttrpc_call(c, "", "", NULL, 0, 0, done, &z);
	spin(&z.ncalls, 1);
	CHECK(a.ncalls == 1 && a.code == RPC_UNIMPLEMENTED);
	CHECK(!strcmp(a.msg, "service no.Such not implemented"));
	CHECK(b.ncalls == 1 && b.code == RPC_UNIMPLEMENTED);
	CHECK(!strcmp(b.msg, "service t.Svc: method Nope not implemented"));
	CHECK(e.ncalls == 1 && e.code == RPC_NOTFOUND && !strcmp(e.msg, "no such thing"));
	CHECK(z.ncalls == 1 && z.code == RPC_UNIMPLEMENTED);
	CHECK(a.order < b.order && b.order < e.order && e.order < z.order);
	ttrpc_close(c);
	ttrpc_close(s);
	loop_run(0);
	clear(&a, 1);
	clear(&b, 1);
	clear(&e, 1);
	clear(&z, 1);
}

static void
replylater(void)
{
	Ttrpc *s, *c;
	Result a, b[5];
	int i;

	nheld = 0;
	pair(&s, &c);
	memset(&a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	ttrpc_call(c, SVC, "Later", "L", 1, 0, done, &a);
	for (i = 0; i < 5; i++)
		ttrpc_call(c, SVC, "Echo", "E", 1, 0, done, &b[i]);
	spin(&b[4].ncalls, 1);
	for (i = 0; i < 5; i++)
		CHECK(b[i].ncalls == 1 && b[i].code == RPC_OK);
	CHECK(a.ncalls == 0 && nheld == 1);
	CHECK(ttrpc_conn(held[0]) == s);
	ttrpc_reply(held[0], RPC_OK, NULL, "late", 4);
	spin(&a.ncalls, 1);
	CHECK(a.ncalls == 1 && a.code == RPC_OK && a.n == 4 && !memcmp(a.resp, "late", 4));
	CHECK(a.order > b[4].order);
	ttrpc_close(c);
	ttrpc_close(s);
	loop_run(0);
	clear(&a, 1);
	clear(b, 5);
}

/* the server goes away with calls held: they fail once, onclose runs once */
static void
peerclose(void)
{
	Ttrpc *s, *c;
	Result a, b;
	int i;

	nheld = 0;
	nclosed = 0;
	pair(&s, &c);
	ttrpc_onclose(c, onclose);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ttrpc_call(c, SVC, "Later", NULL, 0, 0, done, &a);
	ttrpc_call(c, SVC, "Later", NULL, 0, 1000000000, done, &b);
	for (i = 0; i < 50 && nheld < 2; i++)
		loop_run(5);
	CHECK(nheld == 2);
	ttrpc_close(s);
	CHECK(ttrpc_conn(held[0]) == NULL);
	spin(&nclosed, 1);
	CHECK(nclosed == 1);
	CHECK(a.ncalls == 1 && a.code == RPC_UNAVAILABLE);
	CHECK(b.ncalls == 1 && b.code == RPC_UNAVAILABLE);
	/* late replies to a closed connection are dropped, not a crash */
	ttrpc_reply(held[0], RPC_OK, NULL, "x", 1);
	ttrpc_reply(held[1], RPC_OK, NULL, NULL, 0);
	for (i = 0; i < 5; i++)
		loop_run(1);
	CHECK(a.ncalls == 1 && b.ncalls == 1 && nclosed == 1);
	clear(&a, 1);
	clear(&b, 1);
}

/* the owner closes: pending calls end at once, onclose is not called */
static void
userclose(void)
{
	Ttrpc *s, *c;
	Result a, b;
	int i, sclosed;

	nheld = 0;
	nclosed = 0;
	pair(&s, &c);
	ttrpc_onclose(c, onclose);
	ttrpc_onclose(s, onclose);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ttrpc_call(c, SVC, "Later", NULL, 0, 0, done, &a);
	ttrpc_call(c, SVC, "Later", NULL, 0, 0, done, &b);
	for (i = 0; i < 50 && nheld < 2; i++)
		loop_run(5);
	CHECK(nheld == 2);
	ttrpc_close(c);
	/* ended before ttrpc_close returned, with UNAVAILABLE */
	CHECK(a.ncalls == 1 && a.code == RPC_UNAVAILABLE);
	CHECK(b.ncalls == 1 && b.code == RPC_UNAVAILABLE);
	CHECK(nclosed == 0);
	/* the server sees EOF: its onclose, once; held calls live on */
	spin(&nclosed, 1);
	CHECK(nclosed == 1);
	sclosed = nclosed;
	CHECK(ttrpc_conn(held[0]) == NULL && ttrpc_conn(held[1]) == NULL);
	for (i = 0; i < 5; i++)
		loop_run(1);
	ttrpc_reply(held[1], RPC_OK, NULL, "late", 4);
	loop_run(1);
	ttrpc_reply(held[0], RPC_INTERNAL, "late", NULL, 0);
	loop_run(1);
	CHECK(a.ncalls == 1 && b.ncalls == 1 && nclosed == sclosed);
	clear(&a, 1);
	clear(&b, 1);
}

/* a callback that closes the connection from inside a done callback */
static Ttrpc *victim;

static void
donethenclose(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	done(arg, code, msg, resp, n);
	ttrpc_close(victim);
}

static void
closefromcallback(void)
{
	Ttrpc *s, *s2;
	Result a, b;

	pair(&s, &victim);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	nheld = 0;
	CHECK(ttrpc_call(victim, SVC, "Echo", "x", 1, 0, donethenclose, &a) == 0);
	CHECK(ttrpc_call(victim, SVC, "Later", NULL, 0, 0, done, &b) == 0);
	spin(&a.ncalls, 1);
	CHECK(a.ncalls == 1 && a.code == RPC_OK);
	CHECK(b.ncalls == 1 && b.code == RPC_UNAVAILABLE);
	loop_run(5);
	/* the same during ttrpc_close's own pass over pending calls */
	pair(&s2, &victim);
	clear(&a, 1);
	CHECK(ttrpc_call(victim, SVC, "Later", NULL, 0, 0, donethenclose, &a) == 0);
	ttrpc_close(victim);
	CHECK(a.ncalls == 1 && a.code == RPC_UNAVAILABLE);
	loop_run(5);
	loop_run(5);
	CHECK(nheld == 2);
	while (nheld)
		ttrpc_reply(held[--nheld], RPC_OK, NULL, NULL, 0);
	ttrpc_close(s);
	ttrpc_close(s2);
	loop_run(0);
	clear(&a, 1);
	clear(&b, 1);
}

/* both ends serve and call on one connection */
static void
bothways(void)
{
	static Result ra[50], rb[50];
	Result la, lb;
	Ttrpc *a, *b;
	char buf[32];
	int sv[2], i, j, na, nb;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		exit(2);
	a = ttrpc_new(sv[0], methods, LEN(methods), NULL);
	b = ttrpc_new(sv[1], methods, LEN(methods), NULL);
	clear(ra, LEN(ra));
	clear(rb, LEN(rb));
	for (i = 0; i < (int)LEN(ra); i++) {
		snprintf(buf, sizeof(buf), "a%d", i);
		CHECK(ttrpc_call(a, SVC, "Echo", buf, strlen(buf), 0, done, &ra[i]) == 0);
		snprintf(buf, sizeof(buf), "b%d", i);
		CHECK(ttrpc_call(b, SVC, "Echo", buf, strlen(buf), 0, done, &rb[i]) == 0);
	}
	for (j = 0, na = nb = 0; j < 400 && (na < (int)LEN(ra) || nb < (int)LEN(rb)); j++) {
		loop_run(5);
		na = nb = 0;
		for (i = 0; i < (int)LEN(ra); i++)
			na += ra[i].ncalls, nb += rb[i].ncalls;
	}
	for (i = 0; i < (int)LEN(ra); i++) {
		snprintf(buf, sizeof(buf), "a%d", i);
		CHECK(ra[i].ncalls == 1 && ra[i].n == strlen(buf) && !memcmp(ra[i].resp, buf, ra[i].n));
		snprintf(buf, sizeof(buf), "b%d", i);
		CHECK(rb[i].ncalls == 1 && rb[i].n == strlen(buf) && !memcmp(rb[i].resp, buf, rb[i].n));
	}
	/*
	 * each holds a call of the other; b's owner closes it. a sees EOF:
	 * its pending call's done closes a, then its onclose closes a again
	 * (ignored). a's held call must still be answerable (dropped).
	 */
	nheld = 0;
	nclosed = 0;
	memset(&la, 0, sizeof(la));
	memset(&lb, 0, sizeof(lb));
	victim = a;
	ttrpc_onclose(a, onclose);
	CHECK(ttrpc_call(a, SVC, "Later", NULL, 0, 0, donethenclose, &la) == 0);
	spin(&nheld, 1);
	CHECK(ttrpc_call(b, SVC, "Later", NULL, 0, 0, done, &lb) == 0);
	spin(&nheld, 2);
	CHECK(nheld == 2);
	ttrpc_close(b);
	CHECK(lb.ncalls == 1 && lb.code == RPC_UNAVAILABLE);
	spin(&nclosed, 1);
	CHECK(nclosed == 1 && la.ncalls == 1 && la.code == RPC_UNAVAILABLE);
	loop_run(1);
	loop_run(1);
	CHECK(ttrpc_conn(held[1]) == NULL);
	ttrpc_reply(held[1], RPC_OK, NULL, "x", 1);
	ttrpc_reply(held[0], RPC_OK, NULL, "y", 1);
	loop_run(1);
	CHECK(nclosed == 1 && la.ncalls == 1 && lb.ncalls == 1);
	clear(ra, LEN(ra));
	clear(rb, LEN(rb));
	clear(&la, 1);
	clear(&lb, 1);
}

static void
timeout(void)
{
	Ttrpc *s, *c;
	Result a, b, d, e;
	uint64_t t0;

	nheld = 0;
	pair(&s, &c);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&d, 0, sizeof(d));
	memset(&e, 0, sizeof(e));
	t0 = nowns();
	/* the nearest deadline first, though it was asked for last */
	ttrpc_call(c, SVC, "Later", NULL, 0, 200000000, done, &d);
	ttrpc_call(c, SVC, "Later", NULL, 0, 0, done, &e);
	ttrpc_call(c, SVC, "Later", NULL, 0, 50000000, done, &a);
	ttrpc_call(c, SVC, "Echo", NULL, 0, 50000000, done, &b);
	spin(&a.ncalls, 1);
	CHECK(a.ncalls == 1 && a.code == RPC_DEADLINE);
	CHECK(nowns() - t0 >= 50000000);
	CHECK(b.ncalls == 1 && b.code == RPC_OK);
	CHECK(d.ncalls == 0);
	spin(&d.ncalls, 1);
	CHECK(d.ncalls == 1 && d.code == RPC_DEADLINE);
	CHECK(nowns() - t0 >= 200000000);
	CHECK(nheld == 3);
	/* answers after the deadline are ignored */
	ttrpc_reply(held[0], RPC_OK, NULL, NULL, 0);
	ttrpc_reply(held[2], RPC_OK, NULL, NULL, 0);
	loop_run(10);
	loop_run(10);
	CHECK(a.ncalls == 1 && a.code == RPC_DEADLINE);
	CHECK(d.ncalls == 1 && d.code == RPC_DEADLINE);
	/* the call without a deadline still waits, and is answered */
	CHECK(e.ncalls == 0);
	ttrpc_reply(held[1], RPC_OK, NULL, "e", 1);
	spin(&e.ncalls, 1);
	CHECK(e.ncalls == 1 && e.code == RPC_OK && e.n == 1);
	ttrpc_close(c);
	ttrpc_close(s);
	loop_run(0);
	clear(&a, 1);
	clear(&b, 1);
	clear(&d, 1);
	clear(&e, 1);
}

/* a write fails while the read side is still open */
static void
writefail(void)
{
	Ttrpc *c;
	Result a, b;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		exit(2);
	c = ttrpc_new(sv[0], NULL, 0, NULL);
	ttrpc_onclose(c, onclose);
	nclosed = 0;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	CHECK(ttrpc_call(c, SVC, "Echo", NULL, 0, 0, done, &a) == 0);
	shutdown(sv[1], SHUT_RD);
	CHECK(ttrpc_call(c, SVC, "Echo", NULL, 0, 0, done, &b) == 0);
	/* not torn down inside ttrpc_call */
	CHECK(a.ncalls == 0 && b.ncalls == 0 && nclosed == 0);
	spin(&nclosed, 1);
	CHECK(nclosed == 1);
	CHECK(a.ncalls == 1 && a.code == RPC_UNAVAILABLE);
	CHECK(b.ncalls == 1 && b.code == RPC_UNAVAILABLE);
	close(sv[1]);
	loop_run(1);
	CHECK(nclosed == 1);
	clear(&a, 1);
	clear(&b, 1);
}

/* raw frames, written and read by hand */
static size_t
frame(uint8_t *b, uint32_t len, uint32_t id, int type)
{
	b[0] = len >> 24, b[1] = len >> 16, b[2] = len >> 8, b[3] = len;
	b[4] = id >> 24, b[5] = id >> 16, b[6] = id >> 8, b[7] = id;
	b[8] = type;
	b[9] = 0;
	return 10;
}

static size_t
request(uint8_t *b, uint32_t id, const char *svc, const char *method,
    const char *payload)
{
	Pb pb = { 0 };
	size_t n;

	pb_str(&pb, 1, svc);
	pb_str(&pb, 2, method);
	pb_str(&pb, 3, payload);
	n = frame(b, pb.n, id, 1);
	memcpy(b + n, pb.b, pb.n);
	n += pb.n;
	pb_free(&pb);
	return n;
}

/* read one frame from fd while running the loop; the body's length */
static long
readframe(int fd, uint32_t *id, int *type, uint8_t *body, size_t size)
{
	uint8_t h[10];
	size_t have = 0, need = 10, len = 0;
	ssize_t n;
	int i;

	for (i = 0; i < 400 && have < need; i++) {
		loop_run(5);
		if (have < 10)
			n = read(fd, h + have, 10 - have);
		else
			n = read(fd, body + have - 10, need - have);
		if (n > 0)
			have += n;
		if (have == 10 && need == 10) {
			len = (size_t)h[0] << 24 | h[1] << 16 | h[2] << 8 | h[3];
			if (len > size)
				return -1;
			need = 10 + len;
		}
	}
	if (have < need)
		return -1;
	*id = (uint32_t)h[4] << 24 | h[5] << 16 | h[6] << 8 | h[7];
	*type = h[8];
	if (h[9] != 0)
		return -1;
	return len;
}

/* one Response frame: id, status code and message, payload */
static int
response(int fd, uint32_t *id, int *code, char *msg, char *payload, size_t size)
{
	uint8_t b[4096];
	long n;
	int type;
	Pr r, rs;
	Pf f, g;

	if ((n = readframe(fd, id, &type, b, sizeof(b))) < 0 || type != 2)
		return -1;
	*code = -1;	/* a status is always sent */
	payload[0] = msg[0] = '\0';
	pr_init(&r, b, n);
	while (pr_next(&r, &f) == 1) {
		if (f.field == 1) {
			*code = 0;
			pr_init(&rs, f.b, f.n);
			while (pr_next(&rs, &g) == 1)
				if (g.field == 1)
					*code = g.u;
				else if (g.field == 2)
					snprintf(msg, size, "%.*s", (int)g.n,
					    (const char *)g.b);
		} else if (f.field == 2) {
			snprintf(payload, size, "%.*s", (int)f.n, (const char *)f.b);
		}
	}
	return 0;
}

static int
rawpair(Ttrpc **t, const TtrpcMethod *m, size_t nm)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		exit(2);
	setnonblock(sv[1], 1);
	*t = ttrpc_new(sv[0], m, nm, NULL);
	return sv[1];
}

static void
partial(void)
{
	uint8_t b[256];
	char payload[64], msg[64];
	size_t n, i;
	uint32_t id;
	int fd, code;
	Ttrpc *s;

	fd = rawpair(&s, methods, LEN(methods));
	n = request(b, 7, SVC, "Echo", "bytes one at a time");
	for (i = 0; i < n; i++) {
		CHECK(write(fd, b + i, 1) == 1);
		loop_run(0);
	}
	CHECK(response(fd, &id, &code, msg, payload, sizeof(payload)) == 0);
	CHECK(id == 7 && code == 0 && !strcmp(payload, "bytes one at a time"));
	/* two requests in one write, the second split across writes */
	n = request(b, 9, SVC, "Echo", "a");
	n += request(b + n, 11, SVC, "Echo", "b");
	CHECK(write(fd, b, n - 5) == (ssize_t)(n - 5));
	loop_run(5);
	CHECK(write(fd, b + n - 5, 5) == 5);
	CHECK(response(fd, &id, &code, msg, payload, sizeof(payload)) == 0);
	CHECK(id == 9 && !strcmp(payload, "a"));
	CHECK(response(fd, &id, &code, msg, payload, sizeof(payload)) == 0);
	CHECK(id == 11 && !strcmp(payload, "b"));
	close(fd);
	loop_run(5);
	ttrpc_close(s);
	loop_run(0);
}

/* write n bytes of zeros to fd, running the loop meanwhile */
static size_t
pour(int fd, size_t n)
{
	static uint8_t zero[65536];
	ssize_t w;
	int i;

	for (i = 0; n && i < 100000; i++) {
		w = write(fd, zero, MIN(n, sizeof(zero)));
		if (w > 0)
			n -= w;
		loop_run(0);
	}
	return n;
}

static void
oversized(void)
{
	uint8_t b[256];
	char payload[64], msg[128];
	size_t n;
	uint32_t id;
	int fd, code;
	Ttrpc *s;

	fd = rawpair(&s, methods, LEN(methods));
	frame(b, TTRPC_MAXMSG + 1, 5, 1);
	CHECK(write(fd, b, 10) == 10);
	CHECK(pour(fd, TTRPC_MAXMSG + 1) == 0);
	CHECK(response(fd, &id, &code, msg, payload, sizeof(payload)) == 0);
	CHECK(id == 5 && code == RPC_EXHAUSTED && strstr(msg, "4194305"));
	/* the connection lives on */
	n = request(b, 13, SVC, "Echo", "still here");
	CHECK(write(fd, b, n) == (ssize_t)n);
	CHECK(response(fd, &id, &code, msg, payload, sizeof(payload)) == 0);
	CHECK(id == 13 && code == 0 && !strcmp(payload, "still here"));
	/* an oversized data frame is skipped without an answer */
	frame(b, TTRPC_MAXMSG + 100, 15, 3);
	CHECK(write(fd, b, 10) == 10);
	CHECK(pour(fd, TTRPC_MAXMSG + 100) == 0);
	n = request(b, 17, SVC, "Echo", "after data");
	CHECK(write(fd, b, n) == (ssize_t)n);
	CHECK(response(fd, &id, &code, msg, payload, sizeof(payload)) == 0);
	CHECK(id == 17 && code == 0 && !strcmp(payload, "after data"));
	close(fd);
	loop_run(5);
	ttrpc_close(s);
	loop_run(0);
}

static void
badrequests(void)
{
	static const uint8_t garbage[] = { 0x0b, 0x01, 0x02 };
	static const uint8_t wrongtype[] = { 0x08, 0x01 };	/* service as a varint */
	/*
	 * Request{service: "t.Svc", method: "Echo", payload: "go",
	 * timeout_nano: 1, metadata: [{key: "k", value: "v"}]} as Go's
	 * protobuf writes it
	 */
	static const uint8_t gobytes[] = { 0x0a, 0x05, 't', '.', 'S', 'v', 'c',
	    0x12, 0x04, 'E', 'c', 'h', 'o', 0x1a, 0x02, 'g', 'o', 0x20, 0x01,
	    0x2a, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, 'v' };
	uint8_t b[256];
	char payload[64], msg[128];
	uint32_t id;
	int fd, code;
	size_t n;
	Ttrpc *s;

	fd = rawpair(&s, methods, LEN(methods));
	n = frame(b, sizeof(garbage), 3, 1);
	memcpy(b + n, garbage, sizeof(garbage));
	CHECK(write(fd, b, n + sizeof(garbage)) == (ssize_t)(n + sizeof(garbage)));
	CHECK(response(fd, &id, &code, msg, payload, sizeof(payload)) == 0);
	CHECK(id == 3 && code == RPC_INVALID && strstr(msg, "malformed"));
	n = frame(b, sizeof(wrongtype), 5, 1);
	memcpy(b + n, wrongtype, sizeof(wrongtype));
	CHECK(write(fd, b, n + sizeof(wrongtype)) == (ssize_t)(n + sizeof(wrongtype)));
	CHECK(response(fd, &id, &code, msg, payload, sizeof(payload)) == 0);
	CHECK(id == 5 && code == RPC_INVALID);
	/* an even stream id is refused, as containerd's server does */
	n = request(b, 8, SVC, "Echo", "x");
	CHECK(write(fd, b, n) == (ssize_t)n);
	CHECK(response(fd, &id, &code, msg, payload, sizeof(payload)) == 0);
	CHECK(id == 8 && code == RPC_INVALID && strstr(msg, "odd") && !payload[0]);
	/* so is a stream id used before */
	n = request(b, 5, SVC, "Echo", "x");
	CHECK(write(fd, b, n) == (ssize_t)n);
	CHECK(response(fd, &id, &code, msg, payload, sizeof(payload)) == 0);
	CHECK(id == 5 && code == RPC_INVALID && strstr(msg, "re-used"));
	/* a data frame and an unknown frame type are ignored */
	n = frame(b, 2, 15, 3);
	b[n++] = 1, b[n++] = 2;
	n += frame(b + n, 0, 17, 9);
	CHECK(write(fd, b, n) == (ssize_t)n);
	/* an empty request: no service */
	n = frame(b, 0, 21, 1);
	CHECK(write(fd, b, n) == (ssize_t)n);
	CHECK(response(fd, &id, &code, msg, payload, sizeof(payload)) == 0);
	CHECK(id == 21 && code == RPC_UNIMPLEMENTED);
	/* Go's encoding is understood; the answer is on the same stream */
	n = frame(b, sizeof(gobytes), 23, 1);
	memcpy(b + n, gobytes, sizeof(gobytes));
	CHECK(write(fd, b, n + sizeof(gobytes)) == (ssize_t)(n + sizeof(gobytes)));
	CHECK(response(fd, &id, &code, msg, payload, sizeof(payload)) == 0);
	CHECK(id == 23 && code == 0 && !msg[0] && !strcmp(payload, "go"));
	close(fd);
	loop_run(5);
	ttrpc_close(s);
	loop_run(0);
}

/* the client against frames read and written by hand */
static void
rawclient(void)
{
	/* Request{service "s", method "M", payload "pp", timeout_nano 1e9} */
	static const uint8_t want[] = { 0x0a, 0x01, 's', 0x12, 0x01, 'M',
	    0x1a, 0x02, 'p', 'p', 0x20, 0x80, 0x94, 0xeb, 0xdc, 0x03 };
	/* Response{status {code 5, message "gone"}, payload "pl"} */
	static const uint8_t resp5[] = { 0x0a, 0x08, 0x08, 0x05, 0x12, 0x04,
	    'g', 'o', 'n', 'e', 0x12, 0x02, 'p', 'l' };
	/* Response{status {}, payload "ok"}, status with details (3) */
	static const uint8_t respok[] = { 0x0a, 0x04, 0x1a, 0x02, 0x0a, 0x00,
	    0x12, 0x02, 'o', 'k' };
	static const uint8_t respbad[] = { 0x0a, 0x05, 0x08 };
	uint8_t b[256];
	Result r[5];
	uint32_t id, ids[5];
	int fd, type, i;
	size_t n, k;
	long len;
	Ttrpc *c;

	fd = rawpair(&c, NULL, 0);
	memset(r, 0, sizeof(r));
	CHECK(ttrpc_call(c, "s", "M", "pp", 2, 1000000000, done, &r[0]) == 0);
	len = readframe(fd, &id, &type, b, sizeof(b));
	CHECK(len == sizeof(want) && id == 1 && type == 1);
	CHECK(len == sizeof(want) && !memcmp(b, want, sizeof(want)));
	ids[0] = id;
	for (i = 1; i < 5; i++) {
		CHECK(ttrpc_call(c, "s", "M", NULL, 0, 0, done, &r[i]) == 0);
		CHECK(readframe(fd, &ids[i], &type, b, sizeof(b)) == 6);
		CHECK(ids[i] == (uint32_t)(2 * i + 1));
	}
	/* answers out of order; one for a stream nobody waits for */
	n = frame(b, sizeof(respok), 3, 2);
	memcpy(b + n, respok, sizeof(respok));
	n += sizeof(respok);
	n += frame(b + n, 0, 99, 2);
	n += frame(b + n, 1, 5, 3);	/* data on a pending stream: ignored */
	b[n++] = 0;
	CHECK(write(fd, b, n) == (ssize_t)n);
	/* Go's Response, one byte at a time */
	n = frame(b, sizeof(resp5), 1, 2);
	memcpy(b + n, resp5, sizeof(resp5));
	n += sizeof(resp5);
	for (k = 0; k < n; k++) {
		CHECK(write(fd, b + k, 1) == 1);
		loop_run(0);
	}
	spin(&r[0].ncalls, 1);
	CHECK(r[1].ncalls == 1 && r[1].code == RPC_OK && r[1].n == 2 && !memcmp(r[1].resp, "ok", 2));
	CHECK(r[0].ncalls == 1 && r[0].code == RPC_NOTFOUND && !strcmp(r[0].msg, "gone"));
	CHECK(r[0].n == 2 && !memcmp(r[0].resp, "pl", 2));
	CHECK(r[2].ncalls == 0);
	/* a malformed response fails its call; the stream goes on */
	n = frame(b, sizeof(respbad), 5, 2);
	memcpy(b + n, respbad, sizeof(respbad));
	n += sizeof(respbad);
	CHECK(write(fd, b, n) == (ssize_t)n);
	spin(&r[2].ncalls, 1);
	CHECK(r[2].ncalls == 1 && r[2].code == RPC_INTERNAL);
	/* an oversized response fails its call; the stream goes on */
	frame(b, TTRPC_MAXMSG + 1, 7, 2);
	CHECK(write(fd, b, 10) == 10);
	CHECK(pour(fd, TTRPC_MAXMSG + 1) == 0);
	spin(&r[3].ncalls, 1);
	CHECK(r[3].ncalls == 1 && r[3].code == RPC_EXHAUSTED);
	/* an empty Response: no status is OK with no payload */
	n = frame(b, 0, 9, 2);
	CHECK(write(fd, b, n) == (ssize_t)n);
	spin(&r[4].ncalls, 1);
	CHECK(r[4].ncalls == 1 && r[4].code == RPC_OK && r[4].n == 0);
	for (i = 0; i < 5; i++)
		CHECK(r[i].ncalls == 1);
	close(fd);
	loop_run(5);
	ttrpc_close(c);
	loop_run(0);
	clear(r, 5);
}

/*
 * The stream of empty request frames with ids 1, 3, 5, ...: the bytes
 * from offset off on, n of them, into b.
 */
static void
emptyreqs(uint8_t *b, uint64_t off, size_t n)
{
	uint8_t f[10];
	size_t i;

	for (i = 0; i < n; i++, off++) {
		if (i == 0 || off % 10 == 0)
			frame(f, 0, 2 * (uint32_t)(off / 10) + 1, 1);
		b[i] = f[off % 10];
	}
}

/* read every whole frame fd has; the ids must be 1, 3, 5, ... from *next */
static int
eatframes(int fd, uint8_t *buf, size_t *have, size_t size, uint32_t *next,
    long *nframes)
{
	size_t len, off;
	ssize_t n;
	uint32_t id;

	while ((n = read(fd, buf + *have, size - *have)) > 0) {
		*have += n;
		for (off = 0; *have - off >= 10; off += 10 + len) {
			len = (size_t)buf[off] << 24 | buf[off + 1] << 16 |
			    buf[off + 2] << 8 | buf[off + 3];
			if (len > 1024)
				return -1;
			if (*have - off < 10 + len)
				break;
			id = (uint32_t)buf[off + 4] << 24 | buf[off + 5] << 16 |
			    buf[off + 6] << 8 | buf[off + 7];
			if (id != *next || buf[off + 8] != 2)
				return -1;
			*next += 2;
			(*nframes)++;
		}
		memmove(buf, buf + off, *have - off);
		*have -= off;
	}
	return 0;
}

/*
 * A peer that floods requests and never reads: the server stops reading
 * once its replies back up, so the peer's writes block after a bounded
 * amount; every request taken is answered, in order, once the peer
 * reads; and a peer that hangs up while the input is paused is noticed.
 */
/* empty requests from byte off of the stream on, until cap or 200 idle rounds */
static uint64_t
writeuntil(int fd, uint64_t off, uint64_t cap)
{
	static uint8_t b[65536];
	ssize_t w;
	int idle;

	for (idle = 0; idle < 200 && off < cap; ) {
		emptyreqs(b, off, sizeof(b));
		if ((w = write(fd, b, sizeof(b))) > 0) {
			off += w;
			idle = 0;
		} else {
			idle++;
		}
		loop_run(0);
	}
	return off;
}

static void
flood(void)
{
	static uint8_t rb[65536];
	uint64_t sent = 0, cap = 64 << 20;
	uint32_t next = 1;
	long nframes = 0;
	size_t have = 0;
	int fd, i;
	Ttrpc *s;

	fd = rawpair(&s, methods, LEN(methods));
	ttrpc_onclose(s, onclose);
	nclosed = 0;
	sent = writeuntil(fd, sent, cap);
	/* the old code read all 64 MiB and held 17 MiB of replies */
	printf("  flood: the peer wrote %llu bytes before it blocked\n",
	    (unsigned long long)sent);
	CHECK(sent < 4 << 20);
	/* every request taken is answered in order; the rest follow */
	for (i = 0; i < 200000 && (uint64_t)nframes < sent / 10; i++) {
		CHECK(eatframes(fd, rb, &have, sizeof(rb), &next, &nframes) == 0);
		loop_run(0);
	}
	CHECK((uint64_t)nframes == sent / 10);
	CHECK(nclosed == 0);
	/* flood again, then hang up while the server's input is paused */
	sent = writeuntil(fd, sent, UINT64_MAX);
	close(fd);
	for (i = 0; i < 100 && !nclosed; i++)
		loop_run(1);
	CHECK(nclosed == 1);
	loop_run(0);
}

/* replies a peer does not read, past the output cap: the connection goes */
static void
outcap(void)
{
	uint8_t b[256], *big;
	size_t n;
	int fd, i;
	Result r;
	Ttrpc *s, *c;

	big = calloc(1, TTRPC_MAXMSG - 16);
	fd = rawpair(&s, methods, LEN(methods));
	ttrpc_onclose(s, onclose);
	nclosed = 0;
	nheld = 0;
	for (i = 0, n = 0; i < 4; i++)
		n += request(b + n, 2 * i + 1, SVC, "Later", "");
	CHECK(write(fd, b, n) == (ssize_t)n);
	for (i = 0; i < 10 && nheld < 4; i++)
		loop_run(1);
	CHECK(nheld == 4);
	/* two 4 MiB replies fit in the cap, the third does not */
	ttrpc_reply(held[0], RPC_OK, NULL, big, TTRPC_MAXMSG - 16);
	ttrpc_reply(held[1], RPC_OK, NULL, big, TTRPC_MAXMSG - 16);
	loop_run(0);
	CHECK(nclosed == 0);
	ttrpc_reply(held[2], RPC_OK, NULL, big, TTRPC_MAXMSG - 16);
	for (i = 0; i < 10 && !nclosed; i++)
		loop_run(1);
	CHECK(nclosed == 1);
	ttrpc_reply(held[3], RPC_OK, NULL, NULL, 0);	/* after the end: dropped */
	close(fd);
	loop_run(0);
	/* a client's calls past the cap fail; the connection stays */
	fd = rawpair(&c, NULL, 0);
	memset(&r, 0, sizeof(r));
	CHECK(ttrpc_call(c, "s", "M", big, TTRPC_MAXMSG - 16, 0, done, &r) == 0);
	CHECK(ttrpc_call(c, "s", "M", big, TTRPC_MAXMSG - 16, 0, done, &r) == 0);
	errno = 0;
	CHECK(ttrpc_call(c, "s", "M", big, TTRPC_MAXMSG - 16, 0, done, &r) == -1);
	CHECK(errno == ENOBUFS);
	close(fd);
	loop_run(5);
	CHECK(r.ncalls == 2 && r.code == RPC_UNAVAILABLE);
	ttrpc_close(c);
	loop_run(0);
	clear(&r, 1);
	free(big);
}

/* more calls in flight than the cap: the extra ones are refused */
static void
toomany(void)
{
	static uint8_t b[1100 * 64];
	char payload[64], msg[128];
	int fd, code, i, got;
	uint32_t id, next = 1;
	long nframes = 0;
	size_t n, k, have = 0;
	ssize_t w;
	Ttrpc *s;

	fd = rawpair(&s, methods, LEN(methods));
	nheld = 0;
	for (i = 0, n = 0; i < 1100; i++)
		n += request(b + n, 2 * i + 1, SVC, "Later", "");
	for (k = 0, i = 0; k < n && i < 10000; i++) {
		if ((w = write(fd, b + k, n - k)) > 0)
			k += w;
		loop_run(0);
	}
	for (i = 0; i < 20; i++)
		loop_run(1);
	CHECK(nheld == 1024);
	/* the 76 past the cap were answered at once */
	for (got = 0, i = 0; i < 76; i++) {
		if (response(fd, &id, &code, msg, payload, sizeof(payload)) < 0)
			break;
		got += code == RPC_EXHAUSTED && id == 2 * (1024 + (uint32_t)i) + 1;
	}
	CHECK(got == 76);
	for (i = 0; i < nheld; i++)
		ttrpc_reply(held[i], RPC_OK, NULL, NULL, 0);
	for (i = 0; i < 1000 && nframes < 1024; i++) {
		loop_run(1);
		CHECK(eatframes(fd, b, &have, sizeof(b), &next, &nframes) == 0);
	}
	CHECK(nframes == 1024);
	/* room again */
	nheld = 0;
	n = request(b, 2 * 1100 + 1, SVC, "Echo", "again");
	CHECK(write(fd, b, n) == (ssize_t)n);
	CHECK(response(fd, &id, &code, msg, payload, sizeof(payload)) == 0);
	CHECK(id == 2 * 1100 + 1 && code == 0 && !strcmp(payload, "again"));
	close(fd);
	loop_run(5);
	ttrpc_close(s);
	loop_run(0);
}

/*
 * A connection that serves nothing (the shim's agent link) answers only
 * the first 16 requests it gets; its calls still work.
 */
static void
stray(void)
{
	static uint8_t b[10 * 1000];
	uint8_t rb[65536];
	uint32_t next = 1, id;
	long nframes = 0;
	size_t have = 0, n;
	int fd, i, type;
	Result r;
	Ttrpc *c;

	fd = rawpair(&c, NULL, 0);
	emptyreqs(b, 0, sizeof(b));
	CHECK(write(fd, b, sizeof(b)) == sizeof(b));
	for (i = 0; i < 50; i++) {
		loop_run(1);
		CHECK(eatframes(fd, rb, &have, sizeof(rb), &next, &nframes) == 0);
	}
	CHECK(nframes == 16);
	memset(&r, 0, sizeof(r));
	CHECK(ttrpc_call(c, "s", "M", "x", 1, 0, done, &r) == 0);
	CHECK(readframe(fd, &id, &type, rb, sizeof(rb)) > 0 && id == 1 && type == 1);
	n = frame(rb, 0, 1, 2);
	CHECK(write(fd, rb, n) == (ssize_t)n);
	spin(&r.ncalls, 1);
	CHECK(r.ncalls == 1 && r.code == RPC_OK);
	close(fd);
	loop_run(5);
	ttrpc_close(c);
	loop_run(0);
	clear(&r, 1);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	loglevel = LERR;
	loop_init();
	RUN(inflight);
	RUN(large);
	RUN(errors);
	RUN(replylater);
	RUN(peerclose);
	RUN(userclose);
	RUN(closefromcallback);
	RUN(bothways);
	RUN(timeout);
	RUN(writefail);
	RUN(partial);
	RUN(oversized);
	RUN(badrequests);
	RUN(rawclient);
	RUN(flood);
	RUN(outcap);
	RUN(toomany);
	RUN(stray);
	return TDONE();
}
