/* See LICENSE file for copyright and license details. */
/*
 * virtio-vsock with its host side in this process. Every connection is
 * backed by host fds: rfd gives the bytes that go to the guest, wfd takes
 * the bytes that come from it (one socketpair end for both, or a pipe or
 * containerd FIFO each). The device reads rfd straight into the guest's
 * rx buffers and writes the guest's tx buffers straight to wfd; only what
 * wfd cannot take at once is copied, into a backlog that exists while it
 * is needed. No thread. Regular files cannot be polled and are refused.
 *
 * Flow control is the spec's credit: the guest says how much it can hold
 * (buf_alloc) and how much it has consumed (fwd_cnt); husk reads rfd only
 * while the guest has room and rx buffers are posted. husk offers
 * BUFALLOC bytes the same way and counts as consumed only what reached
 * wfd; a guest that sends past that is reset, so memory stays bounded.
 * fwd_cnt counts as told to the guest (fwdsent) only once a packet that
 * carries it is in the rx queue or the control queue; a CREDIT_UPDATE
 * that finds the control queue full is owed and goes out when the guest
 * posts rx buffers again, and at most one per connection waits in the
 * queue (its count is brought up to date as it leaves).
 *
 * rfd is read only after epoll said it is readable: a containerd FIFO
 * whose writer has not opened it yet reads as EOF, but does not poll
 * readable, so polling first keeps that from ending stdin early.
 *
 * Shutdown: EOF on rfd sends SHUTDOWN(SEND); the guest's SHUTDOWN(SEND)
 * closes wfd once every byte is written. When both directions are done
 * husk answers RST and frees the connection. Packets husk must send while
 * the guest has posted no rx buffer wait in a queue of at most MAXCTL
 * (beyond it they are dropped, with a rate-limited warning), and go out
 * before any more data, so a RESPONSE always precedes the first RW.
 *
 * So the host memory a guest can tie up is bounded: per connection a
 * backlog of BUFALLOC, the fds' kernel buffers, and what their other end
 * holds (a Ttrpc stops reading while its replies back up: see ttrpc.c);
 * per device MAXCONNS connections and MAXCTL control packets. Messages
 * the guest can trigger go through glog.
 *
 * A device reset comes from a vCPU thread, which must not touch the loop:
 * it only marks the device, and the loop thread drops the connections
 * (settle) before it does anything else with the device.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "husk.h"

enum { RXQ, TXQ, EVQ };
enum { OPREQUEST = 1, OPRESPONSE, OPRST, OPSHUTDOWN, OPRW, OPCREDITUPDATE,
	OPCREDITREQUEST };
enum { SHUTRCV = 1, SHUTSEND = 2 };
enum { CONNECTING, ESTABLISHED };
#define HDRSZ		44		/* struct virtio_vsock_hdr, packed */
#define STREAM		1
#define BUFALLOC	(256 * 1024)	/* bytes from the guest husk holds per connection */
#define MAXCTL		1024		/* control packets waiting for rx buffers */
#define MAXCONNS	1024
#define FIRSTPORT	49152		/* host ports of host-initiated connections */

typedef struct {
	uint64_t srccid, dstcid;
	uint32_t srcport, dstport, len;
	uint16_t type, op;
	uint32_t flags, bufalloc, fwdcnt;
} Hdr;

typedef struct Conn Conn;
struct Conn {
	Vsock *v;
	uint32_t hport, gport;	/* host and guest ports */
	int state;
	int rfd, wfd;		/* -1 once closed; may be one fd */
	Watch rw, ww;		/* ww unused while wfd == rfd */
	uint32_t rev, wev;	/* events asked for */
	/* to the guest */
	uint32_t peeralloc, peerfwd, txcnt;
	int rdone;		/* no more to send: rfd EOF or the guest shut RCV */
	int rready;		/* epoll said rfd is readable; read only then */
	int rxwait;		/* waiting for rx buffers */
	/* from the guest */
	uint8_t *buf;		/* backlog for wfd, BUFALLOC bytes while used */
	size_t bufoff, bufn;
	uint32_t fwdcnt, fwdsent;	/* consumed; the last count told the guest */
	int creditq;		/* a CREDIT_UPDATE waits in the control queue */
	int owecredit;		/* one was asked for or due, but could not be queued */
	int gshut;		/* SHUTDOWN flags from the guest */
	void (*done)(void *arg, int err);
	void *arg;
	int dead;
	Conn *next;
};

typedef struct Ctl Ctl;
struct Ctl {
	Hdr h;
	Ctl *next;
};

typedef struct Port Port;
struct Port {
	uint32_t port;
	void (*accept)(void *arg, int fd);
	void *arg;
	int rfd, wfd;		/* vsock_expect */
	Port *next;
};

struct Vsock {
	VirtioDev dev;
	uint64_t cid;
	Conn *conns;
	int nconns;
	Port *listens, *expects;
	Ctl *ctl, **ctltail;
	int nctl;
	uint32_t nextport;
	int irq;		/* used buffers to signal */
	int resetting;		/* the driver reset the device */
	Watch wake;		/* eventfd: tells the loop about a reset */
};

static void
put(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		p[i] = v >> 8 * i;
}

static uint64_t
get(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

static void
packhdr(const Hdr *h, uint8_t *b)
{
	put(b, h->srccid, 8);
	put(b + 8, h->dstcid, 8);
	put(b + 16, h->srcport, 4);
	put(b + 20, h->dstport, 4);
	put(b + 24, h->len, 4);
	put(b + 28, h->type, 2);
	put(b + 30, h->op, 2);
	put(b + 32, h->flags, 4);
	put(b + 36, h->bufalloc, 4);
	put(b + 40, h->fwdcnt, 4);
}

static void
unpackhdr(const uint8_t *b, Hdr *h)
{
	h->srccid = get(b, 8);
	h->dstcid = get(b + 8, 8);
	h->srcport = get(b + 16, 4);
	h->dstport = get(b + 20, 4);
	h->len = get(b + 24, 4);
	h->type = get(b + 28, 2);
	h->op = get(b + 30, 2);
	h->flags = get(b + 32, 4);
	h->bufalloc = get(b + 36, 4);
	h->fwdcnt = get(b + 40, 4);
}

/* the part of iov from byte off on, at most len bytes, as out[]; returns its count */
static int
iovslice(const struct iovec *iov, int n, size_t off, size_t len, struct iovec *out)
{
	int i, k = 0;
	size_t m;

	for (i = 0; i < n && len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		m = MIN(iov[i].iov_len - off, len);
		out[k].iov_base = (char *)iov[i].iov_base + off;
		out[k++].iov_len = m;
		len -= m;
		off = 0;
	}
	return k;
}

static void
fillhdr(Vsock *v, Conn *c, Hdr *h, int op, uint32_t flags, uint32_t len)
{
	memset(h, 0, sizeof(*h));
	h->srccid = VSOCK_HOST_CID;
	h->dstcid = v->cid;
	h->srcport = c->hport;
	h->dstport = c->gport;
	h->len = len;
	h->type = STREAM;
	h->op = op;
	h->flags = flags;
	h->bufalloc = BUFALLOC;
	h->fwdcnt = c->fwdcnt;
}

/* 0 queued, -1 dropped: the queue is full */
static int
queuectl(Vsock *v, const Hdr *h)
{
	Ctl *k;

	if (v->nctl >= MAXCTL) {
		glog(LWARN, "vsock: the guest posts no rx buffers: control "
		    "packet (op %u) dropped", h->op);
		return -1;
	}
	k = ecalloc(1, sizeof(*k));
	k->h = *h;
	*v->ctltail = k;
	v->ctltail = &k->next;
	v->nctl++;
	return 0;
}

/*
 * A credit update is counted as told only once it is queued, one per
 * connection waits at a time (pump refreshes its count as it goes out),
 * and one that could not be queued is owed: pump sends it later.
 */
static void
sendctl(Vsock *v, Conn *c, int op, uint32_t flags)
{
	Hdr h;

	if (op == OPCREDITUPDATE && c->creditq)
		return;
	fillhdr(v, c, &h, op, flags, 0);
	if (queuectl(v, &h) < 0) {
		if (op == OPCREDITUPDATE)
			c->owecredit = 1;
		return;
	}
	c->fwdsent = c->fwdcnt;
	if (op == OPCREDITUPDATE) {
		c->creditq = 1;
		c->owecredit = 0;
	}
}

/* a reset for a packet that has no connection; never one for a reset */
static void
rstfor(Vsock *v, const Hdr *in)
{
	Hdr h;

	if (in->op == OPRST)
		return;
	memset(&h, 0, sizeof(h));
	h.srccid = VSOCK_HOST_CID;
	h.dstcid = v->cid;
	h.srcport = in->dstport;
	h.dstport = in->srcport;
	h.type = STREAM;
	h.op = OPRST;
	queuectl(v, &h);
}

static Conn *
findconn(Vsock *v, uint32_t hport, uint32_t gport)
{
	Conn *c;

	for (c = v->conns; c; c = c->next)
		if (c->hport == hport && c->gport == gport)
			return c;
	return NULL;
}

static int
hportused(Vsock *v, uint32_t hport)
{
	Conn *c;

	for (c = v->conns; c; c = c->next)
		if (c->hport == hport)
			return 1;
	return 0;
}

static void
setwatch(Watch *w, int fd, uint32_t *cur, uint32_t want)
{
	w->fd = fd;
	if (loop_set(w, cur, want) < 0)
		logmsg(LWARN, "vsock: epoll on fd %d:", fd);
}

static uint32_t
credit(Conn *c)
{
	uint32_t used = c->txcnt - c->peerfwd;

	return used >= c->peeralloc ? 0 : c->peeralloc - used;
}

/* ask epoll for what the connection can use now */
static void
update(Conn *c)
{
	uint32_t in = 0, out = 0;

	if (c->dead)
		return;
	if (c->state == ESTABLISHED && !c->rdone && c->rfd >= 0 &&
	    !c->rxwait && credit(c) > 0)
		in = EPOLLIN;
	if (c->bufn > c->bufoff)
		out = EPOLLOUT;
	if (c->rfd >= 0 && c->rfd == c->wfd) {
		setwatch(&c->rw, c->rfd, &c->rev, in | out);
	} else {
		if (c->rfd >= 0)
			setwatch(&c->rw, c->rfd, &c->rev, in);
		if (c->wfd >= 0)
			setwatch(&c->ww, c->wfd, &c->wev, out);
	}
}

/* no more reading: close rfd unless wfd still needs it */
static void
closeread(Conn *c)
{
	if (c->rfd < 0 || c->rfd == c->wfd)
		return;
	setwatch(&c->rw, c->rfd, &c->rev, 0);
	close(c->rfd);
	c->rfd = -1;
}

/* the guest's last byte reached wfd: the reader sees EOF */
static void
closewrite(Conn *c)
{
	if (c->wfd < 0)
		return;
	if (c->wfd == c->rfd) {
		shutdown(c->wfd, SHUT_WR);	/* fails harmlessly on a non-socket */
	} else {
		setwatch(&c->ww, c->wfd, &c->wev, 0);
		close(c->wfd);
	}
	c->wfd = -1;
}

/* close the connection's fds and drop it; RST tells the guest */
static void
drop(Conn *c, int rst)
{
	Vsock *v = c->v;
	void (*done)(void *, int);
	Conn **cp;

	if (c->dead)
		return;
	c->dead = 1;
	if (rst)
		sendctl(v, c, OPRST, 0);
	setwatch(&c->rw, c->rfd, &c->rev, 0);
	setwatch(&c->ww, c->wfd, &c->wev, 0);
	if (c->rfd >= 0)
		close(c->rfd);
	if (c->wfd >= 0 && c->wfd != c->rfd)
		close(c->wfd);
	c->rfd = c->wfd = -1;
	for (cp = &v->conns; *cp && *cp != c; cp = &(*cp)->next)
		;
	if (*cp)
		*cp = c->next;
	v->nconns--;
	free(c->buf);
	c->buf = NULL;
	if (c->state == CONNECTING && (done = c->done)) {
		c->done = NULL;
		done(c->arg, -1);
	}
	loop_defer(free, c);	/* its watches may still be named in this batch */
}

/* when both directions are finished the connection goes */
static void
finish(Conn *c)
{
	if (c->dead || c->state != ESTABLISHED || !(c->gshut & SHUTSEND) ||
	    c->bufn > c->bufoff)
		return;
	closewrite(c);
	if (c->rdone)
		drop(c, 1);
}

/* fwd_cnt moved on: tell the guest before it could run out of credit */
static void
consumed(Conn *c)
{
	if (c->owecredit || (uint32_t)(c->fwdcnt - c->fwdsent) >= BUFALLOC / 4)
		sendctl(c->v, c, OPCREDITUPDATE, 0);
}

/* write the backlog to wfd */
static void
drain(Conn *c)
{
	ssize_t n;

	while (c->bufn > c->bufoff) {
		n = write(c->wfd, c->buf + c->bufoff, c->bufn - c->bufoff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			logmsg(LINFO, "vsock: port %u: write:", c->hport);
			drop(c, 1);	/* the reader is gone */
			return;
		}
		c->bufoff += n;
		c->fwdcnt += n;
	}
	if (c->bufoff == c->bufn) {
		free(c->buf);
		c->buf = NULL;
		c->bufoff = c->bufn = 0;
	}
	consumed(c);
	finish(c);
}

/* a guest RW payload: straight to wfd, what it cannot take to the backlog */
static void
take(Conn *c, const Vchain *ch, uint32_t len)
{
	struct iovec iov[VQ_MAXSEG];
	size_t off = HDRSZ, pending = c->bufn - c->bufoff;
	ssize_t n;
	int niov;

	if (pending + len > BUFALLOC ||
	    (uint32_t)(c->fwdcnt + pending + len - c->fwdsent) > BUFALLOC) {
		glog(LWARN, "vsock: guest port %u sent past its credit: reset",
		    c->gport);
		drop(c, 1);
		return;
	}
	if (c->wfd < 0) {	/* nobody reads: the bytes are consumed */
		c->fwdcnt += len;
		consumed(c);
		return;
	}
	if (!pending && len) {
		niov = iovslice(ch->iov, ch->nout, HDRSZ, len, iov);
		while ((n = writev(c->wfd, iov, niov)) < 0 && errno == EINTR)
			;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			logmsg(LINFO, "vsock: port %u: write:", c->hport);
			drop(c, 1);
			return;
		}
		if (n > 0) {
			c->fwdcnt += n;
			off += n;
			len -= n;
		}
	}
	if (len) {
		if (!c->buf)
			c->buf = emalloc(BUFALLOC);
		if (c->bufn + len > BUFALLOC) {
			memmove(c->buf, c->buf + c->bufoff, pending);
			c->bufoff = 0;
			c->bufn = pending;
		}
		c->bufn += iov_copyfrom(ch->iov, ch->nout, off, c->buf + c->bufn, len);
	}
	consumed(c);
	update(c);
}

/* read rfd into the guest's rx buffers while it has room */
static void
fill(Conn *c)
{
	Vsock *v = c->v;
	VirtioDev *d = &v->dev;
	Virtq *q = &d->vq[RXQ];
	struct iovec iov[VQ_MAXSEG];
	uint8_t b[HDRSZ];
	uint32_t room;
	Vchain ch;
	ssize_t n;
	Hdr h;
	int niov;

	while (!c->dead && c->state == ESTABLISHED && !c->rdone && c->rfd >= 0 &&
	    (room = credit(c)) > 0) {
		if (v->ctl || vq_pop(d, q, &ch) != 1) {
			c->rxwait = 1;	/* pump() calls again */
			break;
		}
		if (ch.nout || ch.inlen <= HDRSZ) {
			vq_push(d, q, ch.head, 0);	/* unusable: give it back empty */
			v->irq = 1;
			continue;
		}
		room = MIN(room, ch.inlen - HDRSZ);
		niov = iovslice(ch.iov, ch.nin, HDRSZ, room, iov);
		while ((n = readv(c->rfd, iov, niov)) < 0 && errno == EINTR)
			;
		if (n < 0) {
			vq_unpop(q);
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				c->rready = 0;
				break;
			}
			logmsg(LINFO, "vsock: port %u: read:", c->hport);
			drop(c, 1);
			break;
		}
		/* n == 0 is EOF: this buffer carries SHUTDOWN(SEND) instead */
		fillhdr(v, c, &h, n ? OPRW : OPSHUTDOWN, n ? 0 : SHUTSEND, n);
		c->fwdsent = c->fwdcnt;	/* every header carries the count */
		c->owecredit = 0;
		packhdr(&h, b);
		iov_copyto(ch.iov, ch.nin, 0, b, HDRSZ);
		vq_push(d, q, ch.head, HDRSZ + n);
		v->irq = 1;
		c->txcnt += n;
		if (!n) {
			c->rdone = 1;
			closeread(c);
			finish(c);
		}
	}
	update(c);
}

/* the control queue into rx buffers: 0 once it is empty, -1 out of buffers */
static int
sendctls(Vsock *v)
{
	VirtioDev *d = &v->dev;
	Virtq *q = &d->vq[RXQ];
	uint8_t b[HDRSZ];
	Vchain ch;
	Conn *c;
	Ctl *k;

	while ((k = v->ctl)) {
		if (vq_pop(d, q, &ch) != 1)
			return -1;
		v->irq = 1;
		if (ch.nout || ch.inlen < HDRSZ) {
			vq_push(d, q, ch.head, 0);
			continue;
		}
		if (k->h.op == OPCREDITUPDATE &&
		    (c = findconn(v, k->h.srcport, k->h.dstport))) {
			k->h.fwdcnt = c->fwdsent = c->fwdcnt;	/* the latest */
			c->creditq = 0;
		}
		packhdr(&k->h, b);
		iov_copyto(ch.iov, ch.nin, 0, b, HDRSZ);
		vq_push(d, q, ch.head, HDRSZ);
		if (!(v->ctl = k->next))
			v->ctltail = &v->ctl;
		v->nctl--;
		free(k);
	}
	return 0;
}

/* send queued control packets and owed credit, then let waiting connections read again */
static void
pump(Vsock *v)
{
	Conn *c;
	int owed = 0;

	if (sendctls(v) < 0)
		return;
	for (c = v->conns; c; c = c->next) {
		if (c->owecredit) {
			sendctl(v, c, OPCREDITUPDATE, 0);
			owed = 1;
		}
	}
	if (owed && sendctls(v) < 0)
		return;
	for (c = v->conns; c; c = c->next) {
		if (c->rxwait) {
			c->rxwait = 0;
			update(c);	/* level-triggered: epoll reports rfd again */
		}
	}
}

/* the interrupt once per batch of work, not per buffer */
static void
irqflush(Vsock *v)
{
	if (v->irq) {
		v->irq = 0;
		virtio_irq(&v->dev);
	}
}

/* a reset by the driver: every connection is gone (loop thread only) */
static void
settle(Vsock *v)
{
	Conn *c, *next;
	Ctl *k;

	if (!v->resetting)
		return;
	v->resetting = 0;
	v->irq = 0;
	while ((k = v->ctl)) {
		v->ctl = k->next;
		free(k);
	}
	v->ctltail = &v->ctl;
	v->nctl = 0;
	/* done() may connect again: that connection must survive */
	c = v->conns;
	v->conns = NULL;
	for (; c; c = next) {
		next = c->next;
		drop(c, 0);
	}
}

static void
rwready(Watch *w, uint32_t ev)
{
	Conn *c = w->arg;
	Vsock *v = c->v;

	pthread_mutex_lock(&v->dev.lock);
	settle(v);
	/* an error or hangup on wfd shows when we write to it */
	if (!c->dead && (w == &c->ww || c->wfd == c->rfd) &&
	    (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && c->bufn > c->bufoff)
		drain(c);
	if (!c->dead && w == &c->rw && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		c->rready = 1;
		fill(c);
	}
	update(c);
	pump(v);
	irqflush(v);
	pthread_mutex_unlock(&v->dev.lock);
}

static void
wakeready(Watch *w, uint32_t ev)
{
	Vsock *v = w->arg;
	uint64_t x;

	(void)ev;
	if (read(w->fd, &x, sizeof(x)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&v->dev.lock);
	settle(v);
	pthread_mutex_unlock(&v->dev.lock);
}

/* epoll must take fd: not a regular file, directory or the like */
static int
pollable(int fd)
{
	struct stat st;
	Watch w;

	if (fd < 0)
		return 1;
	if (fstat(fd, &st) < 0)
		return 0;
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		errno = EINVAL;
		return 0;
	}
	memset(&w, 0, sizeof(w));
	w.fd = fd;
	if (loop_add(&w, 0) < 0)
		return 0;
	loop_del(&w);
	return 1;
}

static Conn *
newconn(Vsock *v, uint32_t hport, uint32_t gport, int rfd, int wfd)
{
	Conn *c;

	if (v->nconns >= MAXCONNS) {
		errno = EMFILE;
		return NULL;
	}
	if (!pollable(rfd) || (wfd != rfd && !pollable(wfd)))
		return NULL;
	if ((rfd >= 0 && setnonblock(rfd, 1) < 0) ||
	    (wfd >= 0 && setnonblock(wfd, 1) < 0))
		return NULL;
	c = ecalloc(1, sizeof(*c));
	c->v = v;
	c->hport = hport;
	c->gport = gport;
	c->rfd = rfd;
	c->wfd = wfd;
	c->rw.fn = c->ww.fn = rwready;
	c->rw.arg = c->ww.arg = c;
	c->rw.fd = rfd;
	c->ww.fd = wfd;
	c->rdone = rfd < 0;
	c->next = v->conns;
	v->conns = c;
	v->nconns++;
	return c;
}

/* a guest connection request to a host port */
static void
request(Vsock *v, const Hdr *h)
{
	Port *p, **pp;
	Conn *c;
	int sv[2];

	if (findconn(v, h->dstport, h->srcport)) {
		rstfor(v, h);
		return;
	}
	for (pp = &v->expects; *pp && (*pp)->port != h->dstport; pp = &(*pp)->next)
		;
	for (p = v->listens; p && p->port != h->dstport; p = p->next)
		;
	if (*pp) {
		if (!(c = newconn(v, h->dstport, h->srcport, (*pp)->rfd, (*pp)->wfd))) {
			glog(LWARN, "vsock: port %u:", h->dstport);
			rstfor(v, h);
			return;
		}
		p = *pp;
		*pp = p->next;
		free(p);
	} else if (p) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
			glog(LWARN, "vsock: port %u: socketpair:", h->dstport);
			rstfor(v, h);
			return;
		}
		if (!(c = newconn(v, h->dstport, h->srcport, sv[0], sv[0]))) {
			glog(LWARN, "vsock: port %u:", h->dstport);
			close(sv[0]);
			close(sv[1]);
			rstfor(v, h);
			return;
		}
		p->accept(p->arg, sv[1]);
	} else {
		rstfor(v, h);
		return;
	}
	c->state = ESTABLISHED;
	c->peeralloc = h->bufalloc;
	c->peerfwd = h->fwdcnt;
	sendctl(v, c, OPRESPONSE, 0);
	update(c);
}

/* one valid packet from the guest */
static void
packet(Vsock *v, const Hdr *h, const Vchain *ch)
{
	void (*done)(void *, int);
	Conn *c;

	if (h->op == OPREQUEST) {
		request(v, h);
		return;
	}
	if (!(c = findconn(v, h->dstport, h->srcport))) {
		rstfor(v, h);
		return;
	}
	c->peeralloc = h->bufalloc;
	c->peerfwd = h->fwdcnt;
	switch (h->op) {
	case OPRESPONSE:
		if (c->state != CONNECTING) {
			drop(c, 1);
			return;
		}
		c->state = ESTABLISHED;
		done = c->done;
		c->done = NULL;
		if (done)
			done(c->arg, 0);
		break;
	case OPRST:
		drop(c, 0);
		return;
	case OPSHUTDOWN:
		c->gshut |= h->flags & (SHUTRCV | SHUTSEND);
		if (c->gshut & SHUTRCV) {
			c->rdone = 1;
			closeread(c);
		}
		finish(c);
		break;
	case OPRW:
		if (c->state != ESTABLISHED || (c->gshut & SHUTSEND)) {
			drop(c, 1);
			return;
		}
		take(c, ch, h->len);
		break;
	case OPCREDITUPDATE:
		break;
	case OPCREDITREQUEST:
		sendctl(v, c, OPCREDITUPDATE, 0);
		break;
	default:
		drop(c, 1);
		return;
	}
	if (!c->dead && c->rready)
		fill(c);	/* the guest's credit may have grown */
	else if (!c->dead)
		update(c);	/* poll rfd now that it may be read */
}

static void
txqueue(Vsock *v)
{
	VirtioDev *d = &v->dev;
	Virtq *q = &d->vq[TXQ];
	uint8_t b[HDRSZ];
	Vchain ch;
	Conn *c;
	Hdr h;

	while (vq_pop(d, q, &ch) == 1) {
		memset(b, 0, HDRSZ);
		iov_copyfrom(ch.iov, ch.nout, 0, b, HDRSZ);
		unpackhdr(b, &h);
		if (ch.outlen < HDRSZ) {
			glog(LDEBUG, "vsock: short packet from the guest dropped");
		} else if (h.srccid != v->cid || h.dstcid != VSOCK_HOST_CID) {
			glog(LDEBUG, "vsock: packet from cid %llu to cid %llu "
			    "dropped", (unsigned long long)h.srccid,
			    (unsigned long long)h.dstcid);
		} else if (h.type != STREAM) {
			rstfor(v, &h);
		} else if (h.len != ch.outlen - HDRSZ || h.len > BUFALLOC ||
		    (h.op != OPRW && h.len)) {
			glog(LDEBUG, "vsock: packet length %u with %u payload "
			    "bytes: reset", h.len, ch.outlen - HDRSZ);
			if ((c = findconn(v, h.dstport, h.srcport)))
				drop(c, 1);
			else
				rstfor(v, &h);
		} else {
			packet(v, &h, &ch);
		}
		/* the payload is used up: the guest may have the buffer back */
		vq_push(d, q, ch.head, 0);
		v->irq = 1;
	}
}

static void
notify(VirtioDev *d, int q)
{
	Vsock *v = d->priv;

	settle(v);
	if (q == TXQ)
		txqueue(v);
	pump(v);	/* new rx buffers, or packets to answer with */
	irqflush(v);
}

static void
cfgread(VirtioDev *d, uint32_t off, void *buf, uint32_t len)
{
	Vsock *v = d->priv;
	uint8_t *p = buf;
	uint32_t i;

	/* guest_cid, le64; nothing else */
	for (i = 0; i < len; i++)
		p[i] = off + i < 8 ? v->cid >> 8 * (off + i) : 0;
}

/* a vCPU thread: leave the connections to the loop thread */
static void
devreset(VirtioDev *d)
{
	Vsock *v = d->priv;
	uint64_t one = 1;

	v->resetting = 1;
	if (write(v->wake.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		warn("vsock: reset:");
}

static const VirtioOps ops = {
	.name = "vsock",
	.id = 19,
	.features = 0,	/* stream only; no indirect descriptors, no event index */
	.nqueues = 3,
	.qmax = 256,
	.cfgread = cfgread,
	.notify = notify,
	.reset = devreset,
};

Vsock *
vsock_new(const GuestMem *gm, uint64_t guestcid)
{
	Vsock *v;

	v = ecalloc(1, sizeof(*v));
	v->cid = guestcid;
	v->ctltail = &v->ctl;
	v->nextport = FIRSTPORT;
	v->wake.fn = wakeready;
	v->wake.arg = v;
	if ((v->wake.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		free(v);
		return NULL;
	}
	if (loop_add(&v->wake, EPOLLIN) < 0) {
		close(v->wake.fd);
		free(v);
		return NULL;
	}
	if (virtio_init(&v->dev, &ops, v, gm) < 0) {
		loop_del(&v->wake);
		close(v->wake.fd);
		free(v);
		return NULL;
	}
	return v;
}

VirtioDev *
vsock_dev(Vsock *v)
{
	return &v->dev;
}

int
vsock_connect(Vsock *v, uint32_t port, int rfd, int wfd,
    void (*done)(void *arg, int err), void *arg)
{
	Conn *c = NULL;
	uint32_t hport;

	pthread_mutex_lock(&v->dev.lock);
	settle(v);
	if (v->nconns < MAXCONNS) {
		/* fewer than MAXCONNS ports are taken: this ends soon */
		do {
			hport = v->nextport++;
			if (v->nextport < FIRSTPORT)
				v->nextport = FIRSTPORT;
		} while (hportused(v, hport));
		c = newconn(v, hport, port, rfd, wfd);
	} else {
		errno = EMFILE;
	}
	if (c) {
		c->state = CONNECTING;
		c->done = done;
		c->arg = arg;
		sendctl(v, c, OPREQUEST, 0);
		pump(v);
		irqflush(v);
	}
	pthread_mutex_unlock(&v->dev.lock);
	return c ? 0 : -1;
}

int
vsock_listen(Vsock *v, uint32_t port, void (*accept)(void *arg, int fd), void *arg)
{
	Port *p;

	pthread_mutex_lock(&v->dev.lock);
	for (p = v->listens; p && p->port != port; p = p->next)
		;
	if (p) {
		pthread_mutex_unlock(&v->dev.lock);
		errno = EADDRINUSE;
		return -1;
	}
	p = ecalloc(1, sizeof(*p));
	p->port = port;
	p->accept = accept;
	p->arg = arg;
	p->rfd = p->wfd = -1;
	p->next = v->listens;
	v->listens = p;
	pthread_mutex_unlock(&v->dev.lock);
	return 0;
}

int
vsock_expect(Vsock *v, uint32_t port, int rfd, int wfd)
{
	Port *p, **pp;

	if (!pollable(rfd) || (wfd != rfd && !pollable(wfd)))
		return -1;
	p = ecalloc(1, sizeof(*p));
	p->port = port;
	p->rfd = rfd;
	p->wfd = wfd;
	pthread_mutex_lock(&v->dev.lock);
	/* in order: the first expect for a port serves the first request */
	for (pp = &v->expects; *pp; pp = &(*pp)->next)
		;
	*pp = p;
	pthread_mutex_unlock(&v->dev.lock);
	return 0;
}

/* forget what is still expected on port, closing its fds (a task gone) */
void
vsock_unexpect(Vsock *v, uint32_t port)
{
	Port *p, **pp;

	pthread_mutex_lock(&v->dev.lock);
	for (pp = &v->expects; (p = *pp); ) {
		if (p->port != port) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		if (p->rfd >= 0)
			close(p->rfd);
		if (p->wfd >= 0 && p->wfd != p->rfd)
			close(p->wfd);
		free(p);
	}
	pthread_mutex_unlock(&v->dev.lock);
}
