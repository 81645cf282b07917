/* See LICENSE file for copyright and license details. */
/*
 * ttrpc as containerd speaks it, over any stream fd, in the epoll loop.
 *
 * A frame is a 10-byte big-endian header (uint32 length, uint32 stream
 * id, uint8 type, uint8 flags) and a body of at most 4 MiB. Type 1 is a
 * Request {service 1, method 2, payload 3, timeout_nano 4, metadata 5},
 * type 2 a Response {status 1 (google.rpc.Status {code 1, message 2}),
 * payload 2}. Clients use odd stream ids that only grow; like
 * containerd's server, an even or reused id is answered InvalidArgument
 * on that id and the connection stays up. A frame over the limit is read
 * and thrown away as it arrives, never buffered: a request so dropped is
 * answered with RESOURCE_EXHAUSTED, a response so dropped fails its call
 * with it. Data frames (streams) are skipped; husk has no streaming
 * methods.
 *
 * A peer (containerd, or the guest behind the agent link) cannot make a
 * connection hold more than a bounded amount of memory:
 * - input is read INCHUNK bytes at a time into one frame body of at most
 *   TTRPC_MAXMSG; what was read but not parsed waits in at most INCHUNK;
 * - while OUTPAUSE bytes or more of output wait for the peer, no input is
 *   read or parsed (EPOLLIN is off), so a peer that sends requests but
 *   reads no replies blocks on its own writes; it resumes once the
 *   output drains below OUTPAUSE;
 * - output never exceeds MAXOUT: a reply that would pass it drops the
 *   connection (late replies a peer does not read), a call that would
 *   fails with ENOBUFS and leaves the connection up;
 * - at most MAXINFLIGHT server calls wait for their handlers; a request
 *   past that is answered RESOURCE_EXHAUSTED;
 * - a connection with no methods (a client, like the agent link) answers
 *   the first MAXSTRAY requests UNIMPLEMENTED and ignores the rest.
 *
 * One Ttrpc is one connection; it can serve a method table and make calls
 * at once. Its owner holds one reference, dropped by ttrpc_close, which
 * the owner calls exactly once, also after onclose. A server call
 * (TtrpcCall) holds another, so a handler may answer long after the peer
 * left: the reply is dropped and the memory released when the last
 * reference goes, through loop_defer, never inside a callback that may
 * still use it. Callbacks (done, onclose) run from the loop, except that
 * ttrpc_close ends pending calls before it returns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "husk.h"

enum { HDRLEN = 10, TREQUEST = 1, TRESPONSE = 2, TDATA = 3 };

/* the caps on what one connection's peer can make husk hold (see the top) */
enum {
	INCHUNK = 64 * 1024,		/* one read; the most input held unparsed */
	OUTPAUSE = 64 * 1024,		/* output waiting: input stops being read */
	MAXOUT = 2 * TTRPC_MAXMSG,	/* output waiting: the connection is dropped */
	MAXINFLIGHT = 1024,		/* server calls unanswered: more are refused */
	MAXSTRAY = 16			/* requests answered on a connection with no methods */
};

typedef struct Pending Pending;
struct Pending {
	uint32_t id;
	uint64_t deadline;	/* CLOCK_MONOTONIC ns, 0 none */
	TtrpcDone done;
	void *arg;
	Pending *next;
};

struct TtrpcCall {
	Ttrpc *t;
	uint32_t id;
};

struct Ttrpc {
	Watch w, timer;
	const TtrpcMethod *methods;
	size_t nmethods;
	void *arg;
	void (*onclose)(Ttrpc *t, void *arg);
	int refs;
	int closed;		/* fd closed, calls ended */
	int released;		/* the owner called ttrpc_close */
	int broken;		/* a write failed: torn down from the loop */
	const char *why;	/* why it broke */
	uint32_t ev;		/* the epoll events asked for */
	/* input: the header being read, then the body or bytes to skip */
	uint8_t hdr[HDRLEN];
	size_t hdrn;
	uint8_t *body;
	size_t bodylen, bodyn, skip;
	/* bytes [inoff, inn) of in were read but wait for the output to drain */
	uint8_t *in;
	size_t inoff, inn;
	/* output: bytes [outoff, outn) of out wait for the fd */
	uint8_t *out;
	size_t outn, outoff, outcap;
	/* server: the last request's stream id, calls not yet answered */
	uint32_t lastid;
	size_t inflight;
	unsigned stray;		/* requests seen while serving no methods */
	/* client */
	uint64_t nextid;
	Pending *pending;
};

/* a decoded Request; the pointers point into the frame */
typedef struct {
	const uint8_t *service, *method, *payload;
	size_t nservice, nmethod, npayload;
	uint64_t timeout;
} Req;

/* a decoded Response */
typedef struct {
	uint64_t code;
	const uint8_t *msg, *payload;
	size_t nmsg, npayload;
} Resp;

static void armtimer(Ttrpc *t);

static uint32_t
getbe32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
putbe32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static int
decodereq(Req *q, const uint8_t *b, size_t n)
{
	Pr r;
	Pf f;
	int st;

	memset(q, 0, sizeof(*q));
	q->service = q->method = q->payload = (const uint8_t *)"";
	pr_init(&r, b, n);
	while ((st = pr_next(&r, &f)) > 0) {
		switch (f.field) {
		case 1:
		case 2:
		case 3:
			if (f.wt != PB_BYTES)
				return -1;
			if (f.field == 1)
				q->service = f.b, q->nservice = f.n;
			else if (f.field == 2)
				q->method = f.b, q->nmethod = f.n;
			else
				q->payload = f.b, q->npayload = f.n;
			break;
		case 4:
			if (f.wt != PB_VARINT)
				return -1;
			q->timeout = f.u;
			break;
		case 5:		/* metadata: not used */
			if (f.wt != PB_BYTES)
				return -1;
			break;
		}
	}
	return st;
}

static int
decoderesp(Resp *s, const uint8_t *b, size_t n)
{
	Pr r, rs;
	Pf f, g;
	int st;

	memset(s, 0, sizeof(*s));
	s->msg = s->payload = (const uint8_t *)"";
	pr_init(&r, b, n);
	while ((st = pr_next(&r, &f)) > 0) {
		if (f.field == 2) {
			if (f.wt != PB_BYTES)
				return -1;
			s->payload = f.b, s->npayload = f.n;
		} else if (f.field == 1) {
			if (f.wt != PB_BYTES)
				return -1;
			pr_init(&rs, f.b, f.n);
			while ((st = pr_next(&rs, &g)) > 0) {
				if (g.field == 1 && g.wt == PB_VARINT)
					s->code = g.u;
				else if (g.field == 2 && g.wt == PB_BYTES)
					s->msg = g.b, s->nmsg = g.n;
				else if (g.field == 1 || g.field == 2)
					return -1;
			}
			if (st < 0)
				return -1;
		}
	}
	return st;
}

/* Go's Request: fields in order, empty ones left out */
static void
encodereq(Pb *pb, const char *service, const char *method,
    const void *payload, size_t n, uint64_t timeout)
{
	pb_str(pb, 1, service);
	pb_str(pb, 2, method);
	pb_bytes(pb, 3, payload, n);
	pb_uint(pb, 4, timeout);
}

/* Go's Response: always a status, even for OK */
static void
encoderesp(Pb *pb, int code, const char *msg, const void *payload, size_t n)
{
	size_t m;

	m = pb_open(pb, 1);
	pb_uint(pb, 1, code);
	pb_str(pb, 2, msg);
	pb_close(pb, m);
	pb_bytes(pb, 2, payload, n);
}

static void
release(void *p)
{
	Ttrpc *t = p;

	free(t->body);
	free(t->in);
	free(t->out);
	free(t);
}

static void
unref(Ttrpc *t)
{
	if (--t->refs == 0)
		loop_defer(release, t);
}

static void
failpending(Ttrpc *t, int code, const char *msg)
{
	Pending *p;

	while ((p = t->pending)) {
		t->pending = p->next;
		p->done(p->arg, code, msg, NULL, 0);
		free(p);
	}
}

/* close the fd and end every pending call; the memory stays */
static void
shut(Ttrpc *t, const char *why)
{
	if (t->closed)
		return;
	t->closed = 1;
	loop_del(&t->w);
	close(t->w.fd);
	t->w.fd = -1;
	if (t->timer.fd >= 0) {
		loop_del(&t->timer);
		close(t->timer.fd);
		t->timer.fd = -1;
	}
	t->outn = t->outoff = 0;
	t->refs++;	/* a done callback may drop the owner's reference */
	failpending(t, RPC_UNAVAILABLE, why);
	unref(t);
}

void
ttrpc_close(Ttrpc *t)
{
	if (!t || t->released)
		return;
	t->released = 1;
	shut(t, "ttrpc: connection closed");
	unref(t);
}

/* the peer went away or the stream broke: shut, then tell the owner */
static void
lost(Ttrpc *t, const char *why)
{
	if (t->closed)
		return;
	t->refs++;
	logmsg(LDEBUG, "%s", why);
	shut(t, why);
	if (t->onclose)
		t->onclose(t, t->arg);
	unref(t);
}

static void
deferlost(void *p)
{
	Ttrpc *t = p;

	lost(t, t->why);
	unref(t);
}

/* tear down from the loop: this may run inside a caller (ttrpc_reply, ttrpc_call) */
static void
breaks(Ttrpc *t, const char *why)
{
	t->outoff = t->outn = 0;
	if (t->broken)
		return;
	t->broken = 1;
	t->why = why;
	t->refs++;
	loop_defer(deferlost, t);
}

/* input waits while this much output does */
static int
paused(Ttrpc *t)
{
	return t->outn - t->outoff >= OUTPAUSE || t->broken;
}

/* ask epoll for input unless paused, for output while some waits */
static void
watch(Ttrpc *t)
{
	uint32_t ev;

	if (t->closed)
		return;
	ev = (paused(t) ? 0 : EPOLLIN) | (t->outn > t->outoff ? EPOLLOUT : 0);
	if (ev != t->ev && loop_mod(&t->w, ev) == 0)
		t->ev = ev;
}

static void
flush(Ttrpc *t)
{
	ssize_t n;

	while (t->outoff < t->outn) {
		n = write(t->w.fd, t->out + t->outoff, t->outn - t->outoff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			breaks(t, "ttrpc: write failed");
			break;
		}
		t->outoff += n;
	}
	if (t->outoff == t->outn)
		t->outoff = t->outn = 0;
	watch(t);
}

static void
sendframe(Ttrpc *t, uint32_t id, int type, const uint8_t *body, size_t n)
{
	size_t need = HDRLEN + n;

	if (t->closed || t->broken)
		return;
	if (t->outn - t->outoff + need > MAXOUT) {
		glog(LWARN, "ttrpc: the peer leaves %lu bytes of replies "
		    "unread: connection dropped", (unsigned long)(t->outn - t->outoff));
		breaks(t, "ttrpc: the peer does not read its replies");
		return;
	}
	if (t->outcap - t->outn < need && t->outoff) {
		/* reclaim what was already written */
		memmove(t->out, t->out + t->outoff, t->outn - t->outoff);
		t->outn -= t->outoff;
		t->outoff = 0;
	}
	if (t->outcap - t->outn < need) {
		t->outcap = MAX(2 * t->outcap, t->outn + need);
		t->out = erealloc(t->out, t->outcap);
	}
	putbe32(t->out + t->outn, n);
	putbe32(t->out + t->outn + 4, id);
	t->out[t->outn + 8] = type;
	t->out[t->outn + 9] = 0;
	if (n)
		memcpy(t->out + t->outn + HDRLEN, body, n);
	t->outn += need;
	/* while EPOLLOUT is pending, the loop writes in order */
	if (!(t->ev & EPOLLOUT))
		flush(t);
	else
		watch(t);
}

static void
sendstatus(Ttrpc *t, uint32_t id, int code, const char *msg,
    const void *payload, size_t n)
{
	Pb pb = { 0 };

	encoderesp(&pb, code, msg, payload, n);
	if (pb.n > TTRPC_MAXMSG) {
		pb_free(&pb);
		encoderesp(&pb, RPC_EXHAUSTED, "ttrpc: response larger than "
		    "the 4 MiB message limit", NULL, 0);
	}
	sendframe(t, id, TRESPONSE, pb.b, pb.n);
	pb_free(&pb);
}

void
ttrpc_reply(TtrpcCall *c, int code, const char *msg, const void *resp, size_t n)
{
	Ttrpc *t = c->t;

	if (!t->closed)
		sendstatus(t, c->id, code, msg, resp, n);
	t->inflight--;
	free(c);
	unref(t);
}

Ttrpc *
ttrpc_conn(TtrpcCall *c)
{
	return c->t->closed ? NULL : c->t;
}

void *
ttrpc_arg(Ttrpc *t)
{
	return t->arg;
}

static int
nameis(const char *name, const uint8_t *b, size_t n)
{
	return strlen(name) == n && (!n || !memcmp(name, b, n));
}

/* a connection serving no methods answers only its first MAXSTRAY requests */
static int
answers(Ttrpc *t)
{
	if (t->nmethods)
		return 1;
	if (t->stray < MAXSTRAY) {
		t->stray++;
		return 1;
	}
	if (t->stray++ == MAXSTRAY)	/* once per connection */
		glog(LWARN, "ttrpc: the peer sends requests to a connection "
		    "that serves none: ignored from now on");
	t->stray = MAXSTRAY + 1;
	return 0;
}

static void
request(Ttrpc *t, uint32_t id, const uint8_t *b, size_t n)
{
	const TtrpcMethod *m;
	char msg[512];
	TtrpcCall *c;
	size_t i;
	int svc;
	Req q;

	if (!answers(t))
		return;
	if (id % 2 != 1) {
		sendstatus(t, id, RPC_INVALID, "ttrpc: stream id must be odd "
		    "for client initiated streams", NULL, 0);
		return;
	}
	if (id <= t->lastid) {
		sendstatus(t, id, RPC_INVALID, "ttrpc: stream id cannot be "
		    "re-used and must increment", NULL, 0);
		return;
	}
	t->lastid = id;
	if (decodereq(&q, b, n) < 0) {
		sendstatus(t, id, RPC_INVALID, "ttrpc: malformed request", NULL, 0);
		return;
	}
	for (svc = 0, i = 0; i < t->nmethods; i++) {
		m = &t->methods[i];
		if (!nameis(m->service, q.service, q.nservice))
			continue;
		svc = 1;
		if (!nameis(m->method, q.method, q.nmethod))
			continue;
		if (t->inflight >= MAXINFLIGHT) {
			sendstatus(t, id, RPC_EXHAUSTED, "ttrpc: too many calls "
			    "in flight on this connection", NULL, 0);
			return;
		}
		c = ecalloc(1, sizeof(*c));
		c->t = t;
		c->id = id;
		t->refs++;
		t->inflight++;
		m->fn(c, q.payload, q.npayload);
		return;
	}
	if (!svc)
		snprintf(msg, sizeof(msg), "service %.*s not implemented",
		    (int)MIN(q.nservice, 200), (const char *)q.service);
	else
		snprintf(msg, sizeof(msg), "service %.*s: method %.*s not "
		    "implemented", (int)MIN(q.nservice, 200),
		    (const char *)q.service, (int)MIN(q.nmethod, 200),
		    (const char *)q.method);
	sendstatus(t, id, RPC_UNIMPLEMENTED, msg, NULL, 0);
}

static Pending *
unlinkpending(Ttrpc *t, uint32_t id)
{
	Pending **pp, *p;

	for (pp = &t->pending; (p = *pp); pp = &p->next) {
		if (p->id == id) {
			*pp = p->next;
			return p;
		}
	}
	return NULL;
}

static void
response(Ttrpc *t, uint32_t id, const uint8_t *b, size_t n)
{
	char msg[1024];
	Pending *p;
	Resp s;

	if (!(p = unlinkpending(t, id)))
		return;		/* not ours, or timed out: ignore */
	if (decoderesp(&s, b, n) < 0) {
		p->done(p->arg, RPC_INTERNAL, "ttrpc: malformed response", NULL, 0);
	} else {
		snprintf(msg, sizeof(msg), "%.*s", (int)MIN(s.nmsg, sizeof(msg)),
		    (const char *)s.msg);
		p->done(p->arg, s.code > INT32_MAX ? RPC_UNKNOWN : (int)s.code,
		    msg, s.payload, s.npayload);
	}
	free(p);
	armtimer(t);
}

/* a frame over the limit: its body is being skipped */
static void
oversized(Ttrpc *t, uint32_t id, int type, uint32_t len)
{
	char msg[128];
	Pending *p;

	snprintf(msg, sizeof(msg), "ttrpc: message length %lu exceeds the "
	    "maximum message size of %d", (unsigned long)len, TTRPC_MAXMSG);
	glog(LWARN, "%s", msg);
	if (type == TREQUEST && answers(t)) {
		sendstatus(t, id, RPC_EXHAUSTED, msg, NULL, 0);
	} else if (type == TRESPONSE && (p = unlinkpending(t, id))) {
		p->done(p->arg, RPC_EXHAUSTED, msg, NULL, 0);
		free(p);
		armtimer(t);
	}
}

/*
 * Feed bytes from the stream through the frame parser; returns how many
 * it took. It stops after a frame whose answer paused the input.
 */
static size_t
input(Ttrpc *t, const uint8_t *p, size_t n)
{
	size_t k, n0 = n;
	uint32_t len, id;
	uint8_t *b;
	int type;

	while (n && !t->closed && !paused(t)) {
		if (t->hdrn < HDRLEN) {
			k = MIN(n, HDRLEN - t->hdrn);
			memcpy(t->hdr + t->hdrn, p, k);
			t->hdrn += k, p += k, n -= k;
			if (t->hdrn < HDRLEN)
				break;
			len = getbe32(t->hdr);
			t->bodyn = 0;
			if (len > TTRPC_MAXMSG) {
				t->skip = len;
				t->bodylen = 0;
				oversized(t, getbe32(t->hdr + 4), t->hdr[8], len);
				continue;
			}
			t->bodylen = len;
			t->body = len ? emalloc(len) : NULL;
		} else if (t->skip) {
			k = MIN(n, t->skip);
			t->skip -= k, p += k, n -= k;
			if (!t->skip)
				t->hdrn = 0;
			continue;
		} else {
			k = MIN(n, t->bodylen - t->bodyn);
			memcpy(t->body + t->bodyn, p, k);
			t->bodyn += k, p += k, n -= k;
		}
		if (t->bodyn < t->bodylen)
			continue;
		/* a whole frame */
		b = t->body;
		id = getbe32(t->hdr + 4);
		type = t->hdr[8];
		t->body = NULL;
		t->hdrn = 0;
		t->refs++;	/* a callback may close t */
		if (type == TREQUEST)
			request(t, id, b, t->bodylen);
		else if (type == TRESPONSE)
			response(t, id, b, t->bodylen);
		/* TDATA and unknown types: no streams in husk yet */
		free(b);
		unref(t);
	}
	return n0 - n;
}

/* what was read before the input paused, once the output drained */
static void
resume(Ttrpc *t)
{
	t->inoff += input(t, t->in + t->inoff, t->inn - t->inoff);
	if (t->inoff == t->inn) {
		free(t->in);
		t->in = NULL;
		t->inoff = t->inn = 0;
	}
}

static void
ready(Watch *w, uint32_t ev)
{
	Ttrpc *t = w->arg;
	uint8_t buf[INCHUNK];
	ssize_t n;
	size_t k;
	int i;

	t->refs++;
	if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		flush(t);
	if (t->in && !t->closed)
		resume(t);
	/* a bounded number of reads, so one peer cannot starve the loop */
	for (i = 0; i < 16 && !t->closed && !t->in && !paused(t) &&
	    (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)); i++) {
		n = read(t->w.fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			lost(t, n ? "ttrpc: read failed" :
			    "ttrpc: connection closed by peer");
			break;
		}
		if ((k = input(t, buf, n)) < (size_t)n && !t->closed) {
			/* paused inside the chunk: keep the rest */
			t->in = emalloc(n - k);
			memcpy(t->in, buf + k, n - k);
			t->inoff = 0;
			t->inn = n - k;
		}
	}
	/* paused, and the peer hung up: nothing will drain the output */
	if (!t->closed && paused(t) && (ev & (EPOLLHUP | EPOLLERR)))
		lost(t, "ttrpc: connection closed by peer");
	watch(t);
	unref(t);
}

/* one timer per connection, armed for the nearest deadline */
static void
armtimer(Ttrpc *t)
{
	Pending *p;
	uint64_t first = 0, now;

	if (t->closed)
		return;
	for (p = t->pending; p; p = p->next)
		if (p->deadline && (!first || p->deadline < first))
			first = p->deadline;
	if (!first && t->timer.fd < 0)
		return;
	now = nowns();
	if (loop_timer(&t->timer, first ? (first > now ? first - now : 1) : 0) < 0)
		logmsg(LWARN, "ttrpc: timer:");
}

static void
expire(Watch *w, uint32_t ev)
{
	Ttrpc *t = w->arg;
	Pending **pp, *p;
	uint64_t x, now;

	(void)ev;
	if (read(w->fd, &x, sizeof(x)) < 0 && errno != EAGAIN)
		return;
	t->refs++;
	now = nowns();
	for (pp = &t->pending; (p = *pp) && !t->closed; ) {
		if (!p->deadline || p->deadline > now) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		p->done(p->arg, RPC_DEADLINE, "ttrpc: deadline exceeded", NULL, 0);
		free(p);
		pp = &t->pending;	/* the callback may have changed the list */
	}
	armtimer(t);
	unref(t);
}

Ttrpc *
ttrpc_new(int fd, const TtrpcMethod *methods, size_t nmethods, void *arg)
{
	Ttrpc *t;

	if (setnonblock(fd, 1) < 0)
		return NULL;
	t = ecalloc(1, sizeof(*t));
	t->w.fd = fd;
	t->w.fn = ready;
	t->w.arg = t;
	t->timer.fd = -1;
	t->timer.fn = expire;
	t->timer.arg = t;
	t->methods = methods;
	t->nmethods = methods ? nmethods : 0;
	t->arg = arg;
	t->refs = 1;
	t->nextid = 1;
	t->ev = EPOLLIN;
	if (loop_add(&t->w, EPOLLIN) < 0) {
		free(t);
		return NULL;
	}
	return t;
}

void
ttrpc_onclose(Ttrpc *t, void (*fn)(Ttrpc *t, void *arg))
{
	t->onclose = fn;
}

int
ttrpc_call(Ttrpc *t, const char *service, const char *method,
    const void *req, size_t n, uint64_t timeoutns, TtrpcDone done, void *arg)
{
	Pending *p, **pp;
	Pb pb = { 0 };

	if (t->closed || t->broken) {
		errno = ENOTCONN;
		return -1;
	}
	if (t->nextid > UINT32_MAX) {	/* ids may not be reused */
		errno = EOVERFLOW;
		return -1;
	}
	encodereq(&pb, service, method, req, n, timeoutns);
	if (pb.n > TTRPC_MAXMSG) {
		pb_free(&pb);
		errno = EMSGSIZE;
		return -1;
	}
	if (t->outn - t->outoff + HDRLEN + pb.n > MAXOUT) {
		pb_free(&pb);	/* the peer reads nothing: fail the call, not the connection */
		errno = ENOBUFS;
		return -1;
	}
	p = ecalloc(1, sizeof(*p));
	p->id = t->nextid;
	t->nextid += 2;
	p->deadline = timeoutns ? nowns() + timeoutns : 0;
	p->done = done;
	p->arg = arg;
	for (pp = &t->pending; *pp; pp = &(*pp)->next)
		;
	*pp = p;
	sendframe(t, p->id, TREQUEST, pb.b, pb.n);
	pb_free(&pb);
	armtimer(t);
	return 0;
}

/* a TtrpcDone for calls whose reply nobody waits for: a failure is logged */
void
ttrpc_ignore(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	(void)arg;
	(void)resp;
	(void)n;
	if (code != RPC_OK)
		logmsg(LINFO, "a reply not waited for: %s", msg ? msg : "");
}
