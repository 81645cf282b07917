/* See LICENSE file for copyright and license details. */
/*
 * ttrpc as containerd speaks it, over any stream fd, in the epoll loop.
 *
 * A frame is a 10-byte big-endian header (uint32 length, uint32 stream
 * id, uint8 type, uint8 flags) and a body of at most 4 MiB. Type 1 is a
 * Request {service 1, method 2, payload 3, timeout_nano 4, metadata 5},
 * type 2 a Response {status 1 (google.rpc.Status {code 1, message 2}),
 * payload 2}. Clients use odd stream ids. A frame over the limit is read
 * and thrown away as it arrives, and a request so dropped is answered
 * with RESOURCE_EXHAUSTED; the connection lives on.
 *
 * One Ttrpc is one connection; it can serve a method table and make calls
 * at once. A server call (TtrpcCall) holds a reference on its connection,
 * so a handler may answer long after the peer left: the reply is dropped
 * and the memory released when the last reference goes. Memory is freed
 * through loop_defer, never inside a callback that may still use it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "husk.h"

enum { HDRLEN = 10, TREQUEST = 1, TRESPONSE = 2, TDATA = 3 };

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
	int refs, closed;
	/* input: the header being read, then the body or bytes to skip */
	uint8_t hdr[HDRLEN];
	size_t hdrn;
	uint8_t *body;
	size_t bodylen, bodyn, skip;
	/* output */
	uint8_t *out;
	size_t outn, outoff, outcap;
	int wantout;
	/* client */
	uint32_t nextid;
	Pending *pending;
};

static void
release(void *p)
{
	Ttrpc *t = p;

	free(t->body);
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
	failpending(t, RPC_UNAVAILABLE, why);
}

void
ttrpc_close(Ttrpc *t)
{
	if (!t || t->closed)
		return;
	shut(t, "ttrpc: connection closed");
	unref(t);
}

/* the peer went away or the stream broke: close, then tell the owner */
static void
lost(Ttrpc *t, const char *why)
{
	if (t->closed)
		return;
	t->refs++;
	ttrpc_close(t);
	(void)why;
	if (t->onclose)
		t->onclose(t, t->arg);
	unref(t);
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
			/* not torn down here, inside some caller: the loop
			 * sees the shut socket and reports it through ready */
			shutdown(t->w.fd, SHUT_RDWR);
			t->outoff = t->outn = 0;
			break;
		}
		t->outoff += n;
	}
	if (t->outoff == t->outn)
		t->outoff = t->outn = 0;
	if (!!(t->outn) != t->wantout) {
		t->wantout = !!t->outn;
		loop_mod(&t->w, EPOLLIN | (t->wantout ? EPOLLOUT : 0));
	}
}

static void
sendframe(Ttrpc *t, uint32_t id, int type, const uint8_t *body, size_t n)
{
	uint8_t h[HDRLEN];

	if (t->closed)
		return;
	h[0] = n >> 24, h[1] = n >> 16, h[2] = n >> 8, h[3] = n;
	h[4] = id >> 24, h[5] = id >> 16, h[6] = id >> 8, h[7] = id;
	h[8] = type;
	h[9] = 0;
	if (t->outoff && t->outoff == t->outn)
		t->outoff = t->outn = 0;
	if (t->outcap - t->outn < HDRLEN + n) {
		if (t->outoff) {	/* reclaim what was already sent */
			memmove(t->out, t->out + t->outoff, t->outn - t->outoff);
			t->outn -= t->outoff;
			t->outoff = 0;
		}
		if (t->outcap - t->outn < HDRLEN + n) {
			t->outcap = MAX(2 * t->outcap, t->outn + HDRLEN + n);
			t->out = erealloc(t->out, t->outcap);
		}
	}
	memcpy(t->out + t->outn, h, HDRLEN);
	if (n)
		memcpy(t->out + t->outn + HDRLEN, body, n);
	t->outn += HDRLEN + n;
	flush(t);
}

static void
sendstatus(Ttrpc *t, uint32_t id, int code, const char *msg,
    const void *payload, size_t n)
{
	Pb pb = { 0 };
	size_t m;

	m = pb_open(&pb, 1);
	pb_uint(&pb, 1, code);
	pb_str(&pb, 2, msg);
	pb_close(&pb, m);
	pb_bytes(&pb, 2, payload, n);
	if (pb.n > TTRPC_MAXMSG) {
		pb_free(&pb);
		sendstatus(t, id, RPC_EXHAUSTED, "ttrpc: response larger than "
		    "the 4 MiB message limit", NULL, 0);
		return;
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
	unref(t);
	free(c);
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
strfield(const Pf *f, char *buf, size_t size)
{
	if (f->wt != PB_BYTES || f->n >= size || memchr(f->b, '\0', f->n))
		return -1;
	memcpy(buf, f->b, f->n);
	buf[f->n] = '\0';
	return 0;
}

static void
request(Ttrpc *t, uint32_t id, const uint8_t *b, size_t n)
{
	char service[256] = "", method[256] = "", msg[600];
	const uint8_t *payload = NULL;
	size_t plen = 0, i;
	TtrpcCall *c;
	Pr r;
	Pf f;
	int st;

	if (id % 2 != 1) {
		sendstatus(t, id, RPC_INVALID, "ttrpc: stream id must be odd "
		    "for client initiated streams", NULL, 0);
		return;
	}
	pr_init(&r, b, n);
	while ((st = pr_next(&r, &f)) > 0) {
		if (f.field == 1)
			st = strfield(&f, service, sizeof(service));
		else if (f.field == 2)
			st = strfield(&f, method, sizeof(method));
		else if (f.field == 3 && f.wt == PB_BYTES)
			payload = f.b, plen = f.n;
		else if (f.field == 3)
			st = -1;
		if (st < 0)
			break;
	}
	if (st < 0) {
		sendstatus(t, id, RPC_INVALID, "ttrpc: malformed request", NULL, 0);
		return;
	}
	for (i = 0; i < t->nmethods; i++) {
		if (strcmp(t->methods[i].service, service))
			continue;
		if (strcmp(t->methods[i].method, method))
			continue;
		c = ecalloc(1, sizeof(*c));
		c->t = t;
		c->id = id;
		t->refs++;
		t->methods[i].fn(c, payload ? payload : (const uint8_t *)"", plen);
		return;
	}
	for (i = 0; i < t->nmethods; i++)
		if (!strcmp(t->methods[i].service, service))
			break;
	if (i == t->nmethods)
		snprintf(msg, sizeof(msg), "service %s not implemented", service);
	else
		snprintf(msg, sizeof(msg), "service %s: method %s not implemented",
		    service, method);
	sendstatus(t, id, RPC_UNIMPLEMENTED, msg, NULL, 0);
}

static void armtimer(Ttrpc *t);

static void
response(Ttrpc *t, uint32_t id, const uint8_t *b, size_t n)
{
	Pending **pp, *p;
	char msg[1024] = "";
	const uint8_t *payload = NULL;
	size_t plen = 0;
	uint64_t code = 0;
	Pr r, rs;
	Pf f, fs;
	int st;

	for (pp = &t->pending; *pp && (*pp)->id != id; pp = &(*pp)->next)
		;
	if (!(p = *pp))
		return;		/* not ours, or timed out: ignore */
	*pp = p->next;
	pr_init(&r, b, n);
	while ((st = pr_next(&r, &f)) > 0) {
		if (f.field == 1 && f.wt == PB_BYTES) {
			pr_init(&rs, f.b, f.n);
			while ((st = pr_next(&rs, &fs)) > 0) {
				if (fs.field == 1 && fs.wt == PB_VARINT)
					code = fs.u;
				else if (fs.field == 2 && fs.wt == PB_BYTES)
					snprintf(msg, sizeof(msg), "%.*s",
					    (int)fs.n, (const char *)fs.b);
			}
			if (st < 0)
				break;
		} else if (f.field == 2 && f.wt == PB_BYTES) {
			payload = f.b, plen = f.n;
		}
	}
	if (st < 0)
		p->done(p->arg, RPC_INTERNAL, "ttrpc: malformed response", NULL, 0);
	else
		p->done(p->arg, code > INT32_MAX ? RPC_UNKNOWN : (int)code,
		    msg, payload, plen);
	free(p);
	armtimer(t);
}

/* feed bytes from the stream through the frame parser */
static void
input(Ttrpc *t, const uint8_t *p, size_t n)
{
	uint32_t len, id;
	size_t k;
	int type;

	while (n && !t->closed) {
		if (t->hdrn < HDRLEN) {
			k = MIN(n, HDRLEN - t->hdrn);
			memcpy(t->hdr + t->hdrn, p, k);
			t->hdrn += k, p += k, n -= k;
			if (t->hdrn < HDRLEN)
				return;
			len = (uint32_t)t->hdr[0] << 24 | t->hdr[1] << 16 |
			    t->hdr[2] << 8 | t->hdr[3];
			id = (uint32_t)t->hdr[4] << 24 | t->hdr[5] << 16 |
			    t->hdr[6] << 8 | t->hdr[7];
			if (len > TTRPC_MAXMSG) {
				t->skip = len;
				if (t->hdr[8] == TREQUEST)
					sendstatus(t, id, RPC_EXHAUSTED, "ttrpc: "
					    "message larger than the 4 MiB limit",
					    NULL, 0);
			} else {
				t->bodylen = len;
				t->bodyn = 0;
				t->body = len ? emalloc(len) : NULL;
			}
		} else if (t->skip) {
			k = MIN(n, t->skip);
			t->skip -= k, p += k, n -= k;
			if (!t->skip)
				t->hdrn = 0;
			continue;
		} else {
			k = MIN(n, t->bodylen - t->bodyn);
			if (k)
				memcpy(t->body + t->bodyn, p, k);
			t->bodyn += k, p += k, n -= k;
		}
		if (t->hdrn == HDRLEN && !t->skip && t->bodyn == t->bodylen) {
			uint8_t *b = t->body;

			id = (uint32_t)t->hdr[4] << 24 | t->hdr[5] << 16 |
			    t->hdr[6] << 8 | t->hdr[7];
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
	}
}

static void
ready(Watch *w, uint32_t ev)
{
	Ttrpc *t = w->arg;
	uint8_t buf[65536];
	ssize_t n;
	int i;

	t->refs++;
	if (ev & EPOLLOUT)
		flush(t);
	/* a bounded number of reads, so one peer cannot starve the loop */
	for (i = 0; i < 16 && !t->closed && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)); i++) {
		n = read(t->w.fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			lost(t, n ? "ttrpc: read failed" : "ttrpc: connection closed by peer");
			break;
		}
		input(t, buf, n);
	}
	unref(t);
}

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
	loop_timer(&t->timer, first ? (first > now ? first - now : 1) : 0);
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

	if (t->closed) {
		errno = ENOTCONN;
		return -1;
	}
	pb_str(&pb, 1, service);
	pb_str(&pb, 2, method);
	pb_bytes(&pb, 3, req, n);
	pb_uint(&pb, 4, timeoutns);
	if (pb.n > TTRPC_MAXMSG) {
		pb_free(&pb);
		errno = EMSGSIZE;
		return -1;
	}
	p = ecalloc(1, sizeof(*p));
	p->id = t->nextid;
	t->nextid += 2;
	if (t->nextid > 0x7fffffff)
		t->nextid = 1;
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
