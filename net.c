/* See LICENSE file for copyright and license details. */
/*
 * virtio-net over a tap. Its own file: virtio.c is the transport for
 * every device, and a network device's frames, offloads and receive
 * buffers are a job of their own, as vsock's connections are.
 *
 * One receive and one transmit queue, no control queue. The tap is
 * opened with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR and its vnet header set
 * to the 12 bytes of virtio_net_hdr_v1 (VERSION_1 makes that the only
 * header), so a frame crosses between the guest and the tap with its
 * header as it is: transmit is one writev of the guest's chain, receive
 * one read into a staging buffer that is then copied into the guest's
 * receive buffers, several of them for one frame with MRG_RXBUF (a read
 * must be given room for the largest frame, and the guest's buffers are
 * not known to be enough until the frame's size is). The offloads the
 * guest takes (GUEST_CSUM, GUEST_TSO4/6, GUEST_ECN) are set on the tap
 * with TUNSETOFFLOAD once the driver is up, and cleared at a reset; those
 * it sends (CSUM, HOST_TSO4/6, HOST_ECN) the tap accepts through the
 * header. A socket may stand in for the tap (the unit tests): a datagram
 * per frame, header included, and no ioctls.
 *
 * The guest is hostile. Chains come from vq_pop, which checks every
 * descriptor and breaks the queue when the ring itself is wrong; what a
 * chain carries is checked here: a transmit chain must be readable only,
 * hold a header and an Ethernet frame of at most NET_MAXFRAME bytes, and
 * ask only for offloads that were negotiated; a receive chain must be
 * writable only. A chain that fails is returned used with 0 bytes and
 * its frame dropped; the device goes on. Each turn of the loop does at
 * most TXBUDGET transmit chains (then kicks itself again) and RXBUDGET
 * received frames, so one guest cannot hold the loop.
 *
 * Backpressure: a frame that finds too few receive buffers stays in the
 * staging buffer and the tap is not polled until the guest kicks the
 * receive queue; a transmit the tap refuses with EAGAIN waits for the
 * tap to poll writable. Nothing is read that cannot be delivered.
 *
 * Threads: everything runs on the loop thread with d->lock held. The
 * driver's DRIVER_OK and reset arrive on a vCPU thread, which only marks
 * the device; settle acts on the marks at the next kick or tap event, so
 * no wake-up of its own is needed: a driver kicks its receive queue once
 * it posted buffers (before that the tap is not polled), and the tap
 * watch left after a reset ends at its next event.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include "husk.h"

enum { RXQ, TXQ };
#define HDRSZ		12	/* struct virtio_net_hdr_v1 */
#define ETHHDR		14	/* the shortest frame worth sending */
#define QMAX		256	/* queue size offered */
#define TXBUDGET	256	/* transmit chains per turn */
#define RXBUDGET	64	/* received frames per turn */
#define F(bit)		(1ull << (bit))
/* the offloads the guest may take in, which the tap must be told of */
#define GUESTOFF	(F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) | \
			F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN))
#define FEATURES	(F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_MTU) | \
			F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MRG_RXBUF) | \
			F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) | \
			F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_ECN) | \
			F(VIRTIO_RING_F_EVENT_IDX))

struct Net {
	VirtioDev dev;
	VirtioOps ops;		/* the features depend on the tap */
	int fd;			/* the tap, or a datagram socket */
	int istap;
	uint8_t cfg[12];	/* mac, status, max_virtqueue_pairs, mtu */
	Watch tapw;
	uint32_t tapev;		/* events asked for on the tap */
	int up;			/* DRIVER_OK seen, no reset since */
	int live;		/* the loop acted on up: offloads set, tap polled */
	int resetting;		/* a reset the loop has not acted on */
	int dead;		/* the backend hung up */
	int rxwait;		/* a frame waits for receive buffers */
	int txwait;		/* a chain waits for the tap to take it */
	uint8_t *rx;		/* the staging buffer: header and frame */
	size_t rxn;		/* bytes in it, 0 none */
	uint16_t heads[QMAX];	/* chains taken for the frame being received */
	uint32_t lens[QMAX];
};

static uint16_t
get16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static int
has(Net *n, int bit)
{
	return (n->dev.drvfeatures & F(bit)) != 0;
}

/* the tap's events: readable while frames can go somewhere */
static void
watch(Net *n)
{
	Virtq *q = &n->dev.vq[RXQ];
	uint32_t want = 0;

	if (n->live && !n->dead) {
		if (!n->rxwait && q->ready && !q->broken)
			want |= EPOLLIN;
		if (n->txwait)
			want |= EPOLLOUT;
	}
	if (loop_set(&n->tapw, &n->tapev, want) < 0)
		warn("net: epoll:");
}

static int
offload(Net *n, uint64_t feat)
{
	unsigned off = 0;

	if (feat & F(VIRTIO_NET_F_GUEST_CSUM)) {
		off |= TUN_F_CSUM;
		if (feat & F(VIRTIO_NET_F_GUEST_TSO4))
			off |= TUN_F_TSO4;
		if (feat & F(VIRTIO_NET_F_GUEST_TSO6))
			off |= TUN_F_TSO6;
		if (feat & F(VIRTIO_NET_F_GUEST_ECN))
			off |= TUN_F_TSO_ECN;
	}
	if (!n->istap)
		return 0;
	return ioctl(n->fd, TUNSETOFFLOAD, off);
}

/* what a vCPU thread marked: a reset, the driver up (loop thread) */
static void
settle(Net *n)
{
	if (n->resetting) {
		n->resetting = 0;
		n->live = n->rxwait = n->txwait = 0;
		n->rxn = 0;
		if (offload(n, 0) < 0)
			warn("net: TUNSETOFFLOAD:");
	}
	if (n->up && !n->live) {
		n->live = 1;
		if (offload(n, n->dev.drvfeatures) < 0)
			warn("net: TUNSETOFFLOAD:");
	}
	watch(n);
}

/* a transmit chain's header and size, checked; 0 if it may go out */
static const char *
txbad(Net *n, const Vchain *ch)
{
	uint8_t h[HDRSZ];
	uint32_t flen;
	int gso;

	if (ch->nin)
		return "writable descriptor in a transmit chain";
	if (ch->outlen < HDRSZ)
		return "header shorter than 12 bytes";
	flen = ch->outlen - HDRSZ;
	if (flen > NET_MAXFRAME)
		return "frame longer than 65550 bytes";
	if (flen < ETHHDR)
		return "frame shorter than an Ethernet header";
	iov_copyfrom(ch->iov, ch->nout, 0, h, HDRSZ);
	if (h[0] & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return "header flags not for transmit";
	if ((h[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) && (!has(n, VIRTIO_NET_F_CSUM) ||
	    (uint32_t)get16(h + 6) + get16(h + 8) + 2 > flen))
		return "checksum offload not negotiated or out of the frame";
	gso = h[1] & ~VIRTIO_NET_HDR_GSO_ECN;
	if ((h[1] & VIRTIO_NET_HDR_GSO_ECN) && (gso == VIRTIO_NET_HDR_GSO_NONE ||
	    !has(n, VIRTIO_NET_F_HOST_ECN)))
		return "ECN segmentation not negotiated";
	if (gso == VIRTIO_NET_HDR_GSO_NONE ||
	    (gso == VIRTIO_NET_HDR_GSO_TCPV4 && has(n, VIRTIO_NET_F_HOST_TSO4)) ||
	    (gso == VIRTIO_NET_HDR_GSO_TCPV6 && has(n, VIRTIO_NET_F_HOST_TSO6)))
		return NULL;
	return "segmentation offload not negotiated";
}

static void
txqueue(Net *n)
{
	VirtioDev *d = &n->dev;
	Virtq *q = &d->vq[TXQ];
	const char *why;
	uint64_t one = 1;
	Vchain ch;
	int i;

	if (n->txwait || n->dead)
		return;
	for (i = 0; i < TXBUDGET; i++) {
		if (vq_pop(d, q, &ch) != 1)
			return;
		if ((why = txbad(n, &ch))) {
			glog(LWARN, "net: frame from the guest dropped: %s", why);
		} else if (writev(n->fd, ch.iov, ch.nout) < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				vq_unpop(q);
				n->txwait = 1;
				watch(n);
				return;
			}
			/* the tap's own checks of the header, or a link down */
			glog(LDEBUG, "net: frame from the guest dropped by the tap: %s",
			    strerror(errno));
		}
		vq_push(d, q, ch.head, 0);
	}
	/* more may wait: the loop comes back after the others had a turn */
	if (write(q->kickfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		warn("net: kick:");
}

/* give back chains taken for a frame, used and empty */
static void
rxreturn(Net *n, int k)
{
	int i;

	for (i = 0; i < k; i++)
		vq_push(&n->dev, &n->dev.vq[RXQ], n->heads[i], 0);
}

/*
 * The staged frame into receive buffers: 1 delivered (or dropped), 0 too
 * few buffers (it stays staged), -1 the queue broke.
 */
static int
deliver(Net *n)
{
	VirtioDev *d = &n->dev;
	Virtq *q = &d->vq[RXQ];
	int mrg = has(n, VIRTIO_NET_F_MRG_RXBUF), k = 0, st, i;
	size_t off = 0, c;
	uint8_t nb[2];
	Vchain ch, first;

	if (!has(n, VIRTIO_NET_F_GUEST_CSUM))
		n->rx[0] &= ~VIRTIO_NET_HDR_F_DATA_VALID;
	while (off < n->rxn) {
		if (k == (int)q->num) {
			/* every buffer of the ring is not enough: it never fits */
			for (i = 0; i < k; i++)
				vq_unpop(q);
			glog(LWARN, "net: frame of %zu bytes dropped: the guest's "
			    "receive buffers cannot hold it", n->rxn);
			return 1;
		}
		if ((st = vq_pop(d, q, &ch)) < 0)
			return -1;
		if (st == 0) {
			for (i = 0; i < k; i++)
				vq_unpop(q);
			return 0;
		}
		if (ch.nout || !ch.inlen) {
			glog(LWARN, "net: malformed receive chain returned empty");
			n->heads[k++] = ch.head;
			rxreturn(n, k);
			k = 0;
			off = 0;
			continue;
		}
		if (!mrg && ch.inlen < n->rxn) {
			glog(LWARN, "net: frame of %zu bytes dropped: a receive "
			    "buffer of %u bytes cannot hold it", n->rxn, ch.inlen);
			vq_unpop(q);
			return 1;
		}
		if (k == 0)
			first = ch;
		c = MIN(ch.inlen, n->rxn - off);
		iov_copyto(ch.iov, ch.nin, 0, n->rx + off, c);
		n->heads[k] = ch.head;
		n->lens[k++] = c;
		off += c;
	}
	put16(nb, k);
	iov_copyto(first.iov, first.nin, 10, nb, 2);
	for (i = 0; i < k; i++)
		vq_push(d, q, n->heads[i], n->lens[i]);
	return 1;
}

/* frames from the tap to the guest, while it has buffers */
static void
rxpump(Net *n)
{
	ssize_t r;
	int i, st;

	if (!n->live || n->dead || n->rxwait)
		return;
	for (i = 0; i < RXBUDGET; i++) {
		if (!n->rxn) {
			r = read(n->fd, n->rx, HDRSZ + NET_MAXFRAME + 1);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && errno == EAGAIN)
				break;
			if (r < 0 || (r == 0 && !n->istap)) {
				if (r < 0)
					warn("net: read from the tap:");
				else
					warn("net: the backend hung up");
				n->dead = 1;
				break;
			}
			if (r < HDRSZ + ETHHDR || r > HDRSZ + NET_MAXFRAME) {
				glog(LWARN, "net: frame of %zd bytes from the tap "
				    "dropped", r);
				continue;
			}
			n->rxn = r;
		}
		if ((st = deliver(n)) == 0) {
			n->rxwait = 1;	/* until the guest kicks the queue */
			break;
		}
		n->rxn = 0;	/* delivered, dropped, or the queue broke */
		if (st < 0)
			break;
	}
	watch(n);
}

/*
 * One turn of work, for a kick of queue kq (-1: none) or the tap's events
 * ev, and one interrupt at its end if a queue the driver does not poll
 * got used buffers.
 */
static void
turn(Net *n, int kq, uint32_t ev)
{
	uint16_t rxmark = n->dev.vq[RXQ].usedidx, txmark = n->dev.vq[TXQ].usedidx;

	settle(n);
	if ((ev & (EPOLLOUT | EPOLLERR)) && n->txwait)
		n->txwait = 0;	/* the tap takes frames again */
	if (kq == TXQ || (ev & (EPOLLOUT | EPOLLERR)))
		txqueue(n);
	if (kq == RXQ)
		n->rxwait = 0;	/* new buffers: the waiting frame first */
	if (kq == RXQ || (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		rxpump(n);
	watch(n);
	if (vq_wantirq(&n->dev, &n->dev.vq[RXQ], rxmark) ||
	    vq_wantirq(&n->dev, &n->dev.vq[TXQ], txmark))
		virtio_irq(&n->dev);
}

static void
tapready(Watch *w, uint32_t ev)
{
	Net *n = w->arg;

	pthread_mutex_lock(&n->dev.lock);
	turn(n, -1, ev);
	pthread_mutex_unlock(&n->dev.lock);
}

static void
notify(VirtioDev *d, int q)
{
	turn(d->priv, q, 0);
}

static void
cfgread(VirtioDev *d, uint32_t off, void *buf, uint32_t len)
{
	Net *n = d->priv;

	memset(buf, 0, len);	/* nothing past the fields */
	if (off < sizeof(n->cfg))
		memcpy(buf, n->cfg + off, MIN(len, sizeof(n->cfg) - off));
}

/* vCPU threads: marks the loop acts on at its next kick or tap event */
static void
activate(VirtioDev *d)
{
	((Net *)d->priv)->up = 1;
}

static void
devreset(VirtioDev *d)
{
	Net *n = d->priv;

	n->up = 0;
	n->resetting = 1;
}

int
net_tap(const char *name, char *err)
{
	struct ifreq ifr;
	int fd;

	if (strlen(name) >= IFNAMSIZ) {
		seterr(err, "tap name %s: longer than %d bytes", name,
		    IFNAMSIZ - 1);
		return -1;
	}
	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK)) < 0) {
		seterr(err, "/dev/net/tun:");
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		seterr(err, "tap %s: TUNSETIFF:", name);
		close(fd);
		return -1;
	}
	return fd;
}

Net *
net_new(const GuestMem *gm, int fd, const uint8_t *mac, unsigned mtu, char *err)
{
	struct stat st;
	int hdrsz = HDRSZ;
	Net *n;

	if (mtu < NET_MINMTU || mtu > NET_MAXMTU) {
		seterr(err, "net: MTU %u: must be %d to %d", mtu, NET_MINMTU,
		    NET_MAXMTU);
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		seterr(err, "net: fstat:");
		return NULL;
	}
	n = ecalloc(1, sizeof(*n));
	n->fd = fd;
	n->istap = !S_ISSOCK(st.st_mode);
	n->ops.name = "net";
	n->ops.id = 1;
	n->ops.features = FEATURES | GUESTOFF;
	n->ops.nqueues = 2;
	n->ops.qmax = QMAX;
	n->ops.cfgread = cfgread;
	n->ops.notify = notify;
	n->ops.activate = activate;
	n->ops.reset = devreset;
	if (n->istap) {
		if (ioctl(fd, TUNSETVNETHDRSZ, &hdrsz) < 0) {
			seterr(err, "net: TUNSETVNETHDRSZ (a tap with "
			    "IFF_VNET_HDR?):");
			free(n);
			return NULL;
		}
		/* the guest is offered only the offloads the tap takes */
		if (offload(n, GUESTOFF) < 0)
			n->ops.features &= ~GUESTOFF;
		offload(n, 0);
	}
	if (setnonblock(fd, 1) < 0) {
		seterr(err, "net: fcntl:");
		free(n);
		return NULL;
	}
	if (mac)
		memcpy(n->cfg, mac, 6);
	else if (getrandom(n->cfg, 6, 0) != 6) {
		seterr(err, "net: getrandom:");
		free(n);
		return NULL;
	} else
		n->cfg[0] = (n->cfg[0] & 0xfe) | 0x02;	/* local, unicast */
	put16(n->cfg + 6, VIRTIO_NET_S_LINK_UP);
	put16(n->cfg + 8, 1);
	put16(n->cfg + 10, mtu);
	if (virtio_init(&n->dev, &n->ops, n, gm) < 0) {
		seterr(err, "net: virtio:");
		free(n);
		return NULL;
	}
	n->rx = emalloc(HDRSZ + NET_MAXFRAME + 1);
	n->tapw.fd = fd;
	n->tapw.fn = tapready;
	n->tapw.arg = n;	/* polled once the driver is up */
	return n;
}

VirtioDev *
net_dev(Net *n)
{
	return &n->dev;
}

void
net_free(Net *n)
{
	if (!n)
		return;
	if (n->tapev)
		loop_del(&n->tapw);
	virtio_free(&n->dev);
	close(n->fd);
	free(n->rx);
	free(n);
}
