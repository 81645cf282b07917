/* See LICENSE file for copyright and license details. */
/*
 * ttrpc.c over socketpairs in one process: a server and a client, or a
 * server and raw frames written by hand (partial, oversized, malformed).
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

static TtrpcCall *held[8];
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
	held[nheld++] = c;
}

static void
fail(TtrpcCall *c, const uint8_t *req, size_t n)
{
	(void)req;
	(void)n;
	ttrpc_reply(c, RPC_NOTFOUND, "no such thing", NULL, 0);
}

static const TtrpcMethod methods[] = {
	{ SVC, "Echo", echo },
	{ SVC, "Later", later },
	{ SVC, "Fail", fail },
};

typedef struct {
	int ncalls, code;
	char msg[256];
	uint8_t resp[64];
	size_t n;
} Result;

static void
done(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	Result *r = arg;

	r->ncalls++;
	r->code = code;
	snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : "");
	r->n = MIN(n, sizeof(r->resp));
	if (n)
		memcpy(r->resp, resp, r->n);
}

static void
spin(int *cond, int want)
{
	int i;

	for (i = 0; i < 2000 && *cond < want; i++)
		loop_run(5);
}

static void
pair(Ttrpc **srv, Ttrpc **cli)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		exit(2);
	*srv = ttrpc_new(sv[0], methods, LEN(methods), NULL);
	*cli = ttrpc_new(sv[1], NULL, 0, NULL);
}

static void
inflight(void)
{
	Ttrpc *s, *c;
	Result r[100];
	char buf[32];
	int i, j, total;

	pair(&s, &c);
	memset(r, 0, sizeof(r));
	for (i = 0; i < 100; i++) {
		snprintf(buf, sizeof(buf), "call %d", i);
		CHECK(ttrpc_call(c, SVC, "Echo", buf, strlen(buf), 0, done, &r[i]) == 0);
	}
	for (j = 0, total = 0; j < 2000 && total < 100; j++) {
		loop_run(5);
		for (total = 0, i = 0; i < 100; i++)
			total += r[i].ncalls;
	}
	for (i = 0; i < 100; i++) {
		snprintf(buf, sizeof(buf), "call %d", i);
		CHECK(r[i].ncalls == 1 && r[i].code == RPC_OK);
		CHECK(r[i].n == strlen(buf) && !memcmp(r[i].resp, buf, r[i].n));
	}
	ttrpc_close(c);
	ttrpc_close(s);
	loop_run(0);
}

static void
errors(void)
{
	Ttrpc *s, *c;
	Result a, b, e;

	pair(&s, &c);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&e, 0, sizeof(e));
	ttrpc_call(c, "no.Such", "Thing", NULL, 0, 0, done, &a);
	ttrpc_call(c, SVC, "Nope", NULL, 0, 0, done, &b);
	ttrpc_call(c, SVC, "Fail", NULL, 0, 0, done, &e);
	spin(&e.ncalls, 1);
	spin(&b.ncalls, 1);
	spin(&a.ncalls, 1);
	CHECK(a.code == RPC_UNIMPLEMENTED && strstr(a.msg, "no.Such"));
	CHECK(b.code == RPC_UNIMPLEMENTED && strstr(b.msg, "Nope"));
	CHECK(e.code == RPC_NOTFOUND && !strcmp(e.msg, "no such thing"));
	ttrpc_close(c);
	ttrpc_close(s);
	loop_run(0);
}

static void
replylater(void)
{
	Ttrpc *s, *c;
	Result a, b;

	nheld = 0;
	pair(&s, &c);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ttrpc_call(c, SVC, "Later", "L", 1, 0, done, &a);
	ttrpc_call(c, SVC, "Echo", "E", 1, 0, done, &b);
	spin(&b.ncalls, 1);
	CHECK(b.ncalls == 1 && a.ncalls == 0 && nheld == 1);
	ttrpc_reply(held[0], RPC_OK, NULL, "late", 4);
	spin(&a.ncalls, 1);
	CHECK(a.ncalls == 1 && a.code == RPC_OK && a.n == 4 && !memcmp(a.resp, "late", 4));
	ttrpc_close(c);
	ttrpc_close(s);
	loop_run(0);
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
	ttrpc_call(c, SVC, "Later", NULL, 0, 0, done, &b);
	for (i = 0; i < 50 && nheld < 2; i++)
		loop_run(5);
	CHECK(nheld == 2);
	ttrpc_close(s);			/* the server goes away with calls held */
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
}

static void
timeout(void)
{
	Ttrpc *s, *c;
	Result a, b;
	uint64_t t0;

	nheld = 0;
	pair(&s, &c);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	t0 = nowns();
	ttrpc_call(c, SVC, "Later", NULL, 0, 50000000, done, &a);
	ttrpc_call(c, SVC, "Echo", NULL, 0, 50000000, done, &b);
	spin(&a.ncalls, 1);
	CHECK(a.ncalls == 1 && a.code == RPC_DEADLINE);
	CHECK(nowns() - t0 >= 50000000);
	CHECK(b.ncalls == 1 && b.code == RPC_OK);
	/* the answer after the deadline is ignored */
	ttrpc_reply(held[0], RPC_OK, NULL, NULL, 0);
	loop_run(10);
	loop_run(10);
	CHECK(a.ncalls == 1 && a.code == RPC_DEADLINE);
	ttrpc_close(c);
	ttrpc_close(s);
	loop_run(0);
}

/* raw frames, written by hand to a server */
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

/* read one response frame from fd while running the loop */
static int
response(int fd, uint32_t *id, int *code, char *payload, size_t size)
{
	uint8_t b[4096];
	size_t have = 0, need = 10, len;
	ssize_t n;
	int i;
	Pr r, rs;
	Pf f, g;

	for (i = 0; i < 400 && have < need; i++) {
		loop_run(5);
		n = read(fd, b + have, need - have);
		if (n > 0)
			have += n;
		if (have >= 10) {
			len = (size_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
			if (len > sizeof(b) - 10 || b[8] != 2)
				return -1;
			need = 10 + len;
		}
	}
	if (have < need)
		return -1;
	*id = (uint32_t)b[4] << 24 | b[5] << 16 | b[6] << 8 | b[7];
	*code = 0;
	payload[0] = '\0';
	pr_init(&r, b + 10, need - 10);
	while (pr_next(&r, &f) == 1) {
		if (f.field == 1) {
			pr_init(&rs, f.b, f.n);
			while (pr_next(&rs, &g) == 1)
				if (g.field == 1)
					*code = g.u;
		} else if (f.field == 2) {
			snprintf(payload, size, "%.*s", (int)f.n, (const char *)f.b);
		}
	}
	return 0;
}

static int
rawpair(Ttrpc **s)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		exit(2);
	setnonblock(sv[1], 1);
	*s = ttrpc_new(sv[0], methods, LEN(methods), NULL);
	return sv[1];
}

static void
partial(void)
{
	uint8_t b[256];
	char payload[64];
	size_t n, i;
	uint32_t id;
	int fd, code;
	Ttrpc *s;

	fd = rawpair(&s);
	n = request(b, 7, SVC, "Echo", "bytes one at a time");
	for (i = 0; i < n; i++) {
		CHECK(write(fd, b + i, 1) == 1);
		loop_run(0);
	}
	CHECK(response(fd, &id, &code, payload, sizeof(payload)) == 0);
	CHECK(id == 7 && code == 0 && !strcmp(payload, "bytes one at a time"));
	/* two requests in one write, the second split across writes */
	n = request(b, 9, SVC, "Echo", "a");
	n += request(b + n, 11, SVC, "Echo", "b");
	CHECK(write(fd, b, n - 5) == (ssize_t)(n - 5));
	loop_run(5);
	CHECK(write(fd, b + n - 5, 5) == 5);
	CHECK(response(fd, &id, &code, payload, sizeof(payload)) == 0 && id == 9);
	CHECK(response(fd, &id, &code, payload, sizeof(payload)) == 0 && id == 11);
	CHECK(!strcmp(payload, "b"));
	close(fd);
	loop_run(5);
}

static void
oversized(void)
{
	static uint8_t zero[65536];
	uint8_t b[256];
	char payload[64];
	size_t left, n;
	ssize_t w;
	uint32_t id;
	int fd, code, i;
	Ttrpc *s;

	fd = rawpair(&s);
	frame(b, TTRPC_MAXMSG + 1, 5, 1);
	CHECK(write(fd, b, 10) == 10);
	for (left = TTRPC_MAXMSG + 1, i = 0; left && i < 100000; i++) {
		w = write(fd, zero, MIN(left, sizeof(zero)));
		if (w > 0)
			left -= w;
		loop_run(0);
	}
	CHECK(left == 0);
	CHECK(response(fd, &id, &code, payload, sizeof(payload)) == 0);
	CHECK(id == 5 && code == RPC_EXHAUSTED);
	/* the connection lives on */
	n = request(b, 13, SVC, "Echo", "still here");
	CHECK(write(fd, b, n) == (ssize_t)n);
	CHECK(response(fd, &id, &code, payload, sizeof(payload)) == 0);
	CHECK(id == 13 && code == 0 && !strcmp(payload, "still here"));
	close(fd);
	loop_run(5);
}

static void
badrequests(void)
{
	static const uint8_t garbage[] = { 0x0b, 0x01, 0x02 };
	/* Request{service: "t.Svc", method: "Echo", payload: "go"} as Go writes it */
	static const uint8_t gobytes[] = { 0x0a, 0x05, 't', '.', 'S', 'v', 'c',
	    0x12, 0x04, 'E', 'c', 'h', 'o', 0x1a, 0x02, 'g', 'o', 0x20, 0x01 };
	uint8_t b[256];
	char payload[64];
	uint32_t id;
	int fd, code;
	size_t n;
	Ttrpc *s;

	fd = rawpair(&s);
	n = frame(b, sizeof(garbage), 3, 1);
	memcpy(b + n, garbage, sizeof(garbage));
	CHECK(write(fd, b, n + sizeof(garbage)) == (ssize_t)(n + sizeof(garbage)));
	CHECK(response(fd, &id, &code, payload, sizeof(payload)) == 0);
	CHECK(id == 3 && code == RPC_INVALID);
	/* an even stream id is refused */
	n = request(b, 4, SVC, "Echo", "x");
	CHECK(write(fd, b, n) == (ssize_t)n);
	CHECK(response(fd, &id, &code, payload, sizeof(payload)) == 0);
	CHECK(id == 4 && code == RPC_INVALID);
	/* a data frame and an unknown frame type are ignored */
	n = frame(b, 2, 15, 3);
	b[n++] = 1, b[n++] = 2;
	n += frame(b + n, 0, 17, 9);
	CHECK(write(fd, b, n) == (ssize_t)n);
	/* Go's encoding is understood */
	n = frame(b, sizeof(gobytes), 19, 1);
	memcpy(b + n, gobytes, sizeof(gobytes));
	CHECK(write(fd, b, n + sizeof(gobytes)) == (ssize_t)(n + sizeof(gobytes)));
	CHECK(response(fd, &id, &code, payload, sizeof(payload)) == 0);
	CHECK(id == 19 && code == 0 && !strcmp(payload, "go"));
	close(fd);
	loop_run(5);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	loop_init();
	RUN(inflight);
	RUN(errors);
	RUN(replylater);
	RUN(peerclose);
	RUN(timeout);
	RUN(partial);
	RUN(oversized);
	RUN(badrequests);
	return TDONE();
}
