/* See LICENSE file for copyright and license details. */
/*
 * virtio-vsock with its host side in this process. Every connection is
 * backed by host fds: rfd gives the bytes that go to the guest, wfd takes
 * the bytes that come from it (one socketpair end for both, or a pipe or
 * containerd FIFO each). The device reads rfd straight into the guest's
 * rx buffers and writes the guest's tx buffers to wfd: no other copy and
 * no thread. Regular files cannot be polled and are refused.
 *
 * Flow control is the spec's credit: the guest says how much it can hold
 * (buf_alloc) and how much it has consumed (fwd_cnt); husk reads rfd only
 * while the guest has room and rx buffers are posted. husk offers
 * BUFALLOC bytes the same way and counts as consumed only what reached
 * wfd; a guest that sends past that is reset, so memory stays bounded.
 *
 * Shutdown: EOF on rfd sends SHUTDOWN(SEND); the guest's SHUTDOWN(SEND)
 * closes wfd once every byte is written. When both directions are done
 * husk answers RST and frees the connection. Packets husk must send while
 * the guest has posted no rx buffer wait in a bounded queue.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/virtio_vsock.h>

#include "husk.h"

enum { RXQ, TXQ, EVQ };
enum { OPREQUEST = 1, OPRESPONSE, OPRST, OPSHUTDOWN, OPRW, OPCREDITUPDATE,
	OPCREDITREQUEST };
enum { SHUTRCV = 1, SHUTSEND = 2 };
enum { CONNECTING, ESTABLISHED };
#define HDRSZ		44
#define STREAM		1
#define BUFALLOC	(256 * 1024)	/* bytes from the guest husk holds per connection */
#define MAXCTL		1024		/* control packets waiting for rx buffers */
#define MAXCONNS	1024
#define FIRSTPORT	49152		/* host ports of host-initiated connections */

typedef struct virtio_vsock_hdr Hdr;
typedef struct Conn Conn;
struct Conn {
	Vsock *v;
	uint32_t hport, gport;	/* host and guest ports */
	int state;
	int rfd, wfd;
	Watch rw, ww;		/* ww unused when wfd == rfd */
	uint32_t rev, wev;	/* events asked for */
	/* to the guest */
	uint32_t peeralloc, peerfwd, txcnt;
	int rdone;		/* no more to send: rfd EOF or the guest shut RCV */
	int rxwait;		/* waiting for rx buffers */
	/* from the guest */
	uint8_t *buf;
	size_t bufoff, bufn;
	uint32_t fwdcnt, fwdsent;
	int gshut;		/* SHUTDOWN flags from the guest */
	int wdone;		/* wfd closed or shut */
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
};

static void pump(Vsock *v);
static void update(Conn *c);

static void
fillhdr(Vsock *v, Conn *c, Hdr *h, int op, uint32_t flags, uint32_t len)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = v->cid;
	h->src_port = c->hport;
	h->dst_port = c->gport;
	h->len = len;
	h->type = STREAM;
	h->op = op;
	h->flags = flags;
	h->buf_alloc = BUFALLOC;
	h->fwd_cnt = c->fwdcnt;
	c->fwdsent = c->fwdcnt;
}

static void
queuectl(Vsock *v, const Hdr *h)
{
	Ctl *k;

	if (v->nctl >= MAXCTL) {
		logmsg(LWARN, "vsock: the guest posts no rx buffers: control "
		    "packet dropped");
		return;
	}
	k = ecalloc(1, sizeof(*k));
	k->h = *h;
	*v->ctltail = k;
	v->ctltail = &k->next;
	v->nctl++;
}

static void
sendctl(Vsock *v, Conn *c, int op, uint32_t flags)
{
	Hdr h;

	fillhdr(v, c, &h, op, flags, 0);
	queuectl(v, &h);
}

/* a reset for a packet that has no connection */
static void
rstfor(Vsock *v, const Hdr *in)
{
	Hdr h;

	memset(&h, 0, sizeof(h));
	h.src_cid = VSOCK_HOST_CID;
	h.dst_cid = v->cid;
	h.src_port = in->dst_port;
	h.dst_port = in->src_port;
	h.type = STREAM;
	h.op = OPRST;
	queuectl(v, &h);
}

static Conn *
findconn(Vsock *v, uint32_t hport, uint32_t gport)
{
	Conn *c;

	for (c = v->conns; c; c = c->next)
		if (!c->dead && c->hport == hport && c->gport == gport)
			return c;
	return NULL;
}

static void
unwatch(Watch *w, uint32_t *ev)
{
	if (*ev)
		loop_del(w);
	*ev = 0;
}

static void
freeconn(void *p)
{
	Conn *c = p;

	free(c->buf);
	free(c);
}

/* close the connection's fds and drop it; RST tells the guest */
static void
drop(Conn *c, int rst)
{
	Vsock *v = c->v;
	Conn **cp;

	if (c->dead)
		return;
	c->dead = 1;
	if (rst)
		sendctl(v, c, OPRST, 0);
	unwatch(&c->rw, &c->rev);
	unwatch(&c->ww, &c->wev);
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
	if (c->state == CONNECTING && c->done)
		c->done(c->arg, -1);
	loop_defer(freeconn, c);
}

/* both directions finished: the guest has all it will get, wfd all it will get */
static void
finish(Conn *c)
{
	if (c->dead || c->state != ESTABLISHED)
		return;
	if (!(c->gshut & SHUTSEND) || c->bufn > c->bufoff)
		return;
	if (!c->wdone) {
		if (c->wfd == c->rfd)
			shutdown(c->wfd, SHUT_WR);
		else if (c->wfd >= 0) {
			unwatch(&c->ww, &c->wev);
			close(c->wfd);
			c->wfd = -1;
		}
		c->wdone = 1;
	}
	if (c->rdone)
		drop(c, 1);
}

/* write what the guest sent to wfd */
static void
drain(Conn *c)
{
	ssize_t n;

	while (c->bufn > c->bufoff && c->wfd >= 0 && !c->wdone) {
		n = write(c->wfd, c->buf + c->bufoff, c->bufn - c->bufoff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			drop(c, 1);	/* the reader is gone */
			return;
		}
		c->bufoff += n;
		c->fwdcnt += n;
	}
	if (c->bufoff == c->bufn)
		c->bufoff = c->bufn = 0;
	/* tell the guest about the room it has again */
	if ((uint32_t)(c->fwdcnt - c->fwdsent) >= BUFALLOC / 4)
		sendctl(c->v, c, OPCREDITUPDATE, 0);
	finish(c);
}

static uint32_t
credit(Conn *c)
{
	uint32_t used = c->txcnt - c->peerfwd;

	return used >= c->peeralloc ? 0 : c->peeralloc - used;
}

/* read rfd into the guest's rx buffers while it has room */
static void
fill(Conn *c)
{
	Vsock *v = c->v;
	VirtioDev *d = &v->dev;
	Virtq *q = &d->vq[RXQ];
	struct iovec iov[VQ_MAXSEG];
	Vchain ch;
	Hdr h;
	size_t room, off, k;
	ssize_t n;
	int i, niov, pushed = 0;

	while (!c->dead && c->state == ESTABLISHED && !c->rdone && c->rfd >= 0 &&
	    credit(c) > 0) {
		if (v->ctl || vq_pop(d, q, &ch) != 1) {
			c->rxwait = 1;
			break;
		}
		if (ch.nout || ch.inlen < HDRSZ + 1) {
			vq_push(d, q, ch.head, 0);	/* unusable: give it back empty */
			pushed = 1;
			continue;
		}
		room = MIN(ch.inlen - HDRSZ, credit(c));
		/* the payload goes after the header, straight from rfd */
		for (i = 0, off = HDRSZ, niov = 0; i < ch.nin && room; i++) {
			if (off >= ch.iov[i].iov_len) {
				off -= ch.iov[i].iov_len;
				continue;
			}
			k = MIN(ch.iov[i].iov_len - off, room);
			iov[niov].iov_base = (char *)ch.iov[i].iov_base + off;
			iov[niov++].iov_len = k;
			room -= k;
			off = 0;
		}
		n = readv(c->rfd, iov, niov);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			vq_unpop(q);
			break;
		}
		if (n <= 0) {
			/* EOF (or a broken fd): no more to send */
			fillhdr(v, c, &h, OPSHUTDOWN, SHUTSEND, 0);
			iov_copyto(ch.iov, ch.nin, 0, &h, HDRSZ);
			vq_push(d, q, ch.head, HDRSZ);
			pushed = 1;
			c->rdone = 1;
			finish(c);
			break;
		}
		fillhdr(v, c, &h, OPRW, 0, n);
		iov_copyto(ch.iov, ch.nin, 0, &h, HDRSZ);
		vq_push(d, q, ch.head, HDRSZ + n);
		pushed = 1;
		c->txcnt += n;
	}
	if (pushed)
		virtio_irq(d);
	if (!c->dead)
		update(c);
}

static void
rwready(Watch *w, uint32_t ev)
{
	Conn *c = w->arg;
	VirtioDev *d = &c->v->dev;

	pthread_mutex_lock(&d->lock);
	if (!c->dead && (ev & EPOLLOUT))
		drain(c);
	if (!c->dead && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && w == &c->rw)
		fill(c);
	if (!c->dead && c->wfd == c->rfd && (ev & EPOLLERR) && !c->rev)
		drop(c, 1);
	if (!c->dead)
		update(c);
	pump(c->v);
	pthread_mutex_unlock(&d->lock);
}

static void
setwatch(Watch *w, int fd, uint32_t *cur, uint32_t want)
{
	if (want == *cur)
		return;
	w->fd = fd;
	if (!*cur)
		loop_add(w, want);
	else if (!want)
		loop_del(w);
	else
		loop_mod(w, want);
	*cur = want;
}

/* ask epoll for what the connection can use now */
static void
update(Conn *c)
{
	uint32_t in = 0, out = 0;

	if (c->state == ESTABLISHED && !c->rdone && c->rfd >= 0 &&
	    credit(c) > 0 && !c->rxwait)
		in = EPOLLIN;
	if (c->wfd >= 0 && !c->wdone && c->bufn > c->bufoff)
		out = EPOLLOUT;
	if (c->wfd == c->rfd) {
		setwatch(&c->rw, c->rfd, &c->rev, in | out);
	} else {
		if (c->rfd >= 0)
			setwatch(&c->rw, c->rfd, &c->rev, in);
		if (c->wfd >= 0)
			setwatch(&c->ww, c->wfd, &c->wev, out);
	}
}

/* send queued control packets, then let waiting connections read again */
static void
pump(Vsock *v)
{
	VirtioDev *d = &v->dev;
	Virtq *q = &d->vq[RXQ];
	Vchain ch;
	Conn *c;
	Ctl *k;
	int pushed = 0;

	while ((k = v->ctl)) {
		if (vq_pop(d, q, &ch) != 1)
			break;
		if (ch.nout || ch.inlen < HDRSZ) {
			vq_push(d, q, ch.head, 0);
			pushed = 1;
			continue;
		}
		iov_copyto(ch.iov, ch.nin, 0, &k->h, HDRSZ);
		vq_push(d, q, ch.head, HDRSZ);
		pushed = 1;
		v->ctl = k->next;
		if (!v->ctl)
			v->ctltail = &v->ctl;
		v->nctl--;
		free(k);
	}
	if (pushed)
		virtio_irq(d);
	if (v->ctl)
		return;
	for (c = v->conns; c; c = c->next) {
		if (c->rxwait) {
			c->rxwait = 0;
			update(c);	/* level-triggered: epoll reports rfd again */
		}
	}
}

static int
pollable(int fd)
{
	struct stat st;

	if (fd < 0)
		return 1;
	if (fstat(fd, &st) < 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		errno = EINVAL;
		return 0;
	}
	return 1;
}

static Conn *
newconn(Vsock *v, uint32_t hport, uint32_t gport, int rfd, int wfd)
{
	Conn *c;

	if (v->nconns >= MAXCONNS || !pollable(rfd) || !pollable(wfd)) {
		if (v->nconns >= MAXCONNS)
			errno = EMFILE;
		return NULL;
	}
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
	c->buf = emalloc(BUFALLOC);
	c->rdone = rfd < 0;
	c->wdone = wfd < 0;
	c->next = v->conns;
	v->conns = c;
	v->nconns++;
	return c;
}

static Port *
findport(Port *p, uint32_t port)
{
	for (; p; p = p->next)
		if (p->port == port)
			return p;
	return NULL;
}

/* a guest connection request to a host port */
static void
request(Vsock *v, const Hdr *h)
{
	Port *p, **pp;
	Conn *c;
	int sv[2];

	if (findconn(v, h->dst_port, h->src_port)) {
		rstfor(v, h);
		return;
	}
	for (pp = &v->expects; *pp && (*pp)->port != h->dst_port; pp = &(*pp)->next)
		;
	if ((p = *pp)) {
		if (!(c = newconn(v, h->dst_port, h->src_port, p->rfd, p->wfd))) {
			rstfor(v, h);
			return;
		}
		*pp = p->next;
		free(p);
	} else if ((p = findport(v->listens, h->dst_port))) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
			rstfor(v, h);
			return;
		}
		if (!(c = newconn(v, h->dst_port, h->src_port, sv[0], sv[0]))) {
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
	c->peeralloc = h->buf_alloc;
	c->peerfwd = h->fwd_cnt;
	sendctl(v, c, OPRESPONSE, 0);
	update(c);
}

/* one packet from the guest */
static void
packet(Vsock *v, const Hdr *h, const Vchain *ch)
{
	Conn *c;
	void (*done)(void *, int);

	if (h->op == OPREQUEST) {
		request(v, h);
		return;
	}
	if (!(c = findconn(v, h->dst_port, h->src_port))) {
		if (h->op != OPRST)
			rstfor(v, h);
		return;
	}
	c->peeralloc = h->buf_alloc;
	c->peerfwd = h->fwd_cnt;
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
		if (c->gshut & SHUTRCV)
			c->rdone = 1;
		finish(c);
		return;
	case OPRW:
		if (c->state != ESTABLISHED || (c->gshut & SHUTSEND)) {
			drop(c, 1);
			return;
		}
		if (c->bufoff && c->bufn + h->len > BUFALLOC) {
			memmove(c->buf, c->buf + c->bufoff, c->bufn - c->bufoff);
			c->bufn -= c->bufoff;
			c->bufoff = 0;
		}
		if (c->bufn + h->len > BUFALLOC ||
		    (uint32_t)(c->fwdcnt + (c->bufn - c->bufoff) + h->len -
		    c->fwdsent) > BUFALLOC) {
			logmsg(LWARN, "vsock: guest port %u sent past its credit: reset",
			    h->src_port);
			drop(c, 1);
			return;
		}
		if (c->wdone)	/* nobody reads: the bytes are consumed */
			c->fwdcnt += h->len;
		else
			c->bufn += iov_copyfrom(ch->iov, ch->nout, HDRSZ,
			    c->buf + c->bufn, h->len);
		drain(c);
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
	if (!c->dead)
		fill(c);
}

static void
txqueue(Vsock *v)
{
	VirtioDev *d = &v->dev;
	Virtq *q = &d->vq[TXQ];
	Vchain ch;
	Conn *c;
	Hdr h;
	int pushed = 0;

	while (vq_pop(d, q, &ch) == 1) {
		pushed = 1;
		if (ch.outlen < HDRSZ ||
		    iov_copyfrom(ch.iov, ch.nout, 0, &h, HDRSZ) != HDRSZ) {
			logmsg(LWARN, "vsock: short packet from the guest dropped");
		} else if (h.src_cid != v->cid || h.dst_cid != VSOCK_HOST_CID) {
			logmsg(LWARN, "vsock: packet from cid %llu to cid %llu dropped",
			    (unsigned long long)h.src_cid,
			    (unsigned long long)h.dst_cid);
		} else if (h.type != STREAM) {
			rstfor(v, &h);
		} else if (h.len != ch.outlen - HDRSZ || h.len > BUFALLOC ||
		    (h.op != OPRW && h.len)) {
			logmsg(LWARN, "vsock: packet length %u does not match its "
			    "%u payload bytes: reset", h.len, ch.outlen - HDRSZ);
			if ((c = findconn(v, h.dst_port, h.src_port)))
				drop(c, 1);
			else
				rstfor(v, &h);
		} else {
			packet(v, &h, &ch);
		}
		vq_push(d, q, ch.head, 0);
	}
	if (pushed)
		virtio_irq(d);
}

static void
notify(VirtioDev *d, int q)
{
	Vsock *v = d->priv;

	if (q == TXQ)
		txqueue(v);
	pump(v);
}

static void
cfgread(VirtioDev *d, uint32_t off, void *buf, uint32_t len)
{
	Vsock *v = d->priv;
	uint8_t cfg[8];
	uint32_t i;

	memcpy(cfg, &v->cid, 8);
	for (i = 0; i < len; i++)
		((uint8_t *)buf)[i] = off + i < sizeof(cfg) ? cfg[off + i] : 0;
}

static void
devreset(VirtioDev *d)
{
	Vsock *v = d->priv;
	Ctl *k;

	/* the guest's driver starts over: every connection is gone */
	while (v->conns)
		drop(v->conns, 0);
	while ((k = v->ctl)) {
		v->ctl = k->next;
		free(k);
	}
	v->ctltail = &v->ctl;
	v->nctl = 0;
}

static const VirtioOps ops = {
	.name = "vsock",
	.id = 19,
	.features = 0,
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
	if (virtio_init(&v->dev, &ops, v, gm) < 0) {
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
	Conn *c;
	uint32_t hport;
	int tries;

	pthread_mutex_lock(&v->dev.lock);
	for (tries = 0; tries < 16384; tries++) {
		hport = v->nextport++;
		if (v->nextport == 0 || v->nextport < FIRSTPORT)
			v->nextport = FIRSTPORT;
		if (!findconn(v, hport, port))
			break;
	}
	if (!(c = newconn(v, hport, port, rfd, wfd))) {
		pthread_mutex_unlock(&v->dev.lock);
		return -1;
	}
	c->state = CONNECTING;
	c->done = done;
	c->arg = arg;
	sendctl(v, c, OPREQUEST, 0);
	pump(v);
	pthread_mutex_unlock(&v->dev.lock);
	return 0;
}

int
vsock_listen(Vsock *v, uint32_t port, void (*accept)(void *arg, int fd), void *arg)
{
	Port *p;

	pthread_mutex_lock(&v->dev.lock);
	if (findport(v->listens, port)) {
		pthread_mutex_unlock(&v->dev.lock);
		errno = EADDRINUSE;
		return -1;
	}
	p = ecalloc(1, sizeof(*p));
	p->port = port;
	p->accept = accept;
	p->arg = arg;
	p->next = v->listens;
	v->listens = p;
	pthread_mutex_unlock(&v->dev.lock);
	return 0;
}

int
vsock_expect(Vsock *v, uint32_t port, int rfd, int wfd)
{
	Port *p;

	if (!pollable(rfd) || !pollable(wfd))
		return -1;
	pthread_mutex_lock(&v->dev.lock);
	p = ecalloc(1, sizeof(*p));
	p->port = port;
	p->rfd = rfd;
	p->wfd = wfd;
	p->next = v->expects;
	v->expects = p;
	pthread_mutex_unlock(&v->dev.lock);
	return 0;
}
