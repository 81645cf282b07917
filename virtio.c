/* See LICENSE file for copyright and license details. */
/*
 * The virtio-mmio transport (virtio 1.1, version 2 registers) and split
 * virtqueues. A device supplies a VirtioOps table; this file does the
 * registers, feature negotiation, queue setup, kicks and interrupts.
 *
 * Register accesses come from vCPU threads; queue kicks arrive on
 * ioeventfds in the epoll loop. Both take d->lock, and the device's ops
 * run with it held: notify on the loop thread, cfgread, cfgwrite,
 * activate and reset on a vCPU thread, so those must not touch the loop
 * (a device defers such work until its next notify).
 *
 * The guest is hostile. Ring addresses are checked when a queue is made
 * ready; every descriptor index, address and length is checked in vq_pop,
 * chains are capped at the queue size and VQ_MAXSEG, and guest memory is
 * reached only through gm_ptr. A driver that breaks the rules gets its
 * queue ignored and the device marked DEVICE_NEEDS_RESET; husk goes on.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <linux/virtio_ring.h>

#include "husk.h"

enum {	/* registers */
	RMAGIC = 0x000, RVERSION = 0x004, RDEVICEID = 0x008, RVENDOR = 0x00c,
	RDEVFEAT = 0x010, RDEVFEATSEL = 0x014, RDRVFEAT = 0x020,
	RDRVFEATSEL = 0x024, RQSEL = 0x030, RQNUMMAX = 0x034, RQNUM = 0x038,
	RQREADY = 0x044, RQNOTIFY = 0x050, RISR = 0x060, RISRACK = 0x064,
	RSTATUS = 0x070, RQDESCLO = 0x080, RQDESCHI = 0x084,
	RQDRIVERLO = 0x090, RQDRIVERHI = 0x094, RQDEVICELO = 0x0a0,
	RQDEVICEHI = 0x0a4, RCFGGEN = 0x0fc, RCONFIG = 0x100
};
enum {	/* status bits */
	SACK = 1, SDRIVER = 2, SDRIVEROK = 4, SFEATURESOK = 8,
	SNEEDSRESET = 0x40, SFAILED = 0x80
};
enum { DNEXT = 1, DWRITE = 2, DINDIRECT = 4 };	/* descriptor flags */
#define WINDOW		0x1000		/* bytes of MMIO space per device */
#define FVERSION1	(1ull << 32)
#define MAGIC		0x74726976	/* "virt" */
#define VENDOR		0x6b737568	/* "husk" */

static void
kicked(Watch *w, uint32_t ev)
{
	Virtq *q = (Virtq *)((char *)w - offsetof(Virtq, kick));
	VirtioDev *d = w->arg;
	uint64_t x;

	(void)ev;
	if (read(w->fd, &x, sizeof(x)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&d->lock);
	if ((d->status & SDRIVEROK) && q->ready && !q->broken)
		d->ops->notify(d, q - d->vq);
	pthread_mutex_unlock(&d->lock);
}

int
virtio_init(VirtioDev *d, const VirtioOps *ops, void *priv, const GuestMem *gm)
{
	pthread_mutexattr_t ma;
	int i;

	memset(d, 0, sizeof(*d));
	d->ops = ops;
	d->priv = priv;
	d->gm = gm;
	/* recursive: a device's callbacks may call back into it */
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&d->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	d->vq = ecalloc(ops->nqueues, sizeof(*d->vq));
	for (i = 0; i < ops->nqueues; i++)
		d->vq[i].kickfd = d->vq[i].kick.fd = -1;
	if ((d->irqfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		goto fail;
	for (i = 0; i < ops->nqueues; i++) {
		d->vq[i].kickfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->vq[i].kickfd < 0)
			goto fail;
		d->vq[i].kick.fd = d->vq[i].kickfd;
		d->vq[i].kick.fn = kicked;
		d->vq[i].kick.arg = d;
		if (loop_add(&d->vq[i].kick, EPOLLIN) < 0)
			goto fail;
	}
	return 0;
fail:
	virtio_free(d);
	return -1;
}

void
virtio_free(VirtioDev *d)
{
	int i;

	if (!d->vq)
		return;
	for (i = 0; i < d->ops->nqueues; i++) {
		if (d->vq[i].kickfd < 0)
			continue;
		loop_del(&d->vq[i].kick);
		close(d->vq[i].kickfd);
	}
	if (d->irqfd >= 0)
		close(d->irqfd);
	free(d->vq);
	d->vq = NULL;
	pthread_mutex_destroy(&d->lock);
}

static void
interrupt(VirtioDev *d, uint32_t bit)
{
	uint64_t one = 1;

	d->isr |= bit;
	if (write(d->irqfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		warn("%s: interrupt:", d->ops->name);
}

void
virtio_irq(VirtioDev *d)
{
	interrupt(d, 1);
}

static void
broken(VirtioDev *d, Virtq *q, const char *why)
{
	if (!q->broken)
		glog(LWARN, "%s: queue %d: %s: queue stopped until the driver "
		    "resets the device", d->ops->name, (int)(q - d->vq), why);
	q->broken = 1;
	d->status |= SNEEDSRESET;
	d->cfggen++;
	interrupt(d, 2);
}

static void
reset(VirtioDev *d)
{
	int i;

	if (d->ops->reset)
		d->ops->reset(d);
	for (i = 0; i < d->ops->nqueues; i++) {
		d->vq[i].num = 0;
		d->vq[i].ready = 0;
		d->vq[i].broken = 0;
		d->vq[i].desc = d->vq[i].avail = d->vq[i].used = 0;
		d->vq[i].lastavail = d->vq[i].usedidx = 0;
	}
	d->status = d->devfeatsel = d->drvfeatsel = d->qsel = d->isr = 0;
	d->drvfeatures = 0;
}

/* a queue may become ready only with sane rings inside guest memory */
static int
queueok(VirtioDev *d, Virtq *q)
{
	uint64_t n = q->num;

	if (!n || n > d->ops->qmax || (n & (n - 1)))
		return 0;
	if ((q->desc & 15) || (q->avail & 1) || (q->used & 3))
		return 0;
	return gm_ptr(d->gm, q->desc, 16 * n) && gm_ptr(d->gm, q->avail, 6 + 2 * n) &&
	    gm_ptr(d->gm, q->used, 6 + 8 * n);
}

static void
sethalf(uint64_t *v, int hi, uint32_t x)
{
	*v = hi ? (*v & 0xffffffffull) | (uint64_t)x << 32 :
	    (*v & ~0xffffffffull) | x;
}

static uint64_t
devfeatures(VirtioDev *d)
{
	return d->ops->features | FVERSION1;
}

static void
setstatus(VirtioDev *d, uint32_t v)
{
	uint32_t old = d->status;

	if (v == 0) {
		reset(d);
		return;
	}
	if ((v & SFEATURESOK) && !(old & SFEATURESOK) &&
	    ((d->drvfeatures & ~devfeatures(d)) || !(d->drvfeatures & FVERSION1)))
		v &= ~SFEATURESOK;	/* refused: the driver reads it back */
	if ((v & SDRIVEROK) && !(v & SFEATURESOK))
		v &= ~SDRIVEROK;	/* no live queues before negotiation */
	d->status = v | (old & SNEEDSRESET);
	if ((v & SDRIVEROK) && !(old & SDRIVEROK) && d->ops->activate)
		d->ops->activate(d);
}

static uint32_t
regread(VirtioDev *d, uint64_t off)
{
	Virtq *q = d->qsel < (uint32_t)d->ops->nqueues ? &d->vq[d->qsel] : NULL;

	switch (off) {
	case RMAGIC: return MAGIC;
	case RVERSION: return 2;
	case RDEVICEID: return d->ops->id;
	case RVENDOR: return VENDOR;
	case RDEVFEAT:
		return d->devfeatsel > 1 ? 0 : devfeatures(d) >> (32 * d->devfeatsel);
	case RQNUMMAX: return q ? d->ops->qmax : 0;
	case RQREADY: return q ? q->ready : 0;
	case RISR: return d->isr;
	case RSTATUS: return d->status;
	case RCFGGEN: return d->cfggen;
	default: return 0;
	}
}

static void
regwrite(VirtioDev *d, uint64_t off, uint32_t v)
{
	uint64_t one = 1;
	Virtq *q = d->qsel < (uint32_t)d->ops->nqueues ? &d->vq[d->qsel] : NULL;

	switch (off) {
	case RDEVFEATSEL: d->devfeatsel = v; return;
	case RDRVFEAT:
		if (d->drvfeatsel <= 1 && !(d->status & SFEATURESOK))
			sethalf(&d->drvfeatures, d->drvfeatsel, v);
		return;
	case RDRVFEATSEL: d->drvfeatsel = v; return;
	case RQSEL: d->qsel = v; return;
	case RISRACK: d->isr &= ~v; return;
	case RSTATUS: setstatus(d, v); return;
	case RQNOTIFY:
		/* not caught by the ioeventfd: device work stays on the loop */
		if (v < (uint32_t)d->ops->nqueues &&
		    write(d->vq[v].kickfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			warn("%s: kick:", d->ops->name);
		return;
	}
	if (!q || (q->ready && off != RQREADY))
		return;		/* no such queue, or it is live: read-only */
	switch (off) {
	case RQNUM: q->num = v; break;
	case RQDESCLO: sethalf(&q->desc, 0, v); break;
	case RQDESCHI: sethalf(&q->desc, 1, v); break;
	case RQDRIVERLO: sethalf(&q->avail, 0, v); break;
	case RQDRIVERHI: sethalf(&q->avail, 1, v); break;
	case RQDEVICELO: sethalf(&q->used, 0, v); break;
	case RQDEVICEHI: sethalf(&q->used, 1, v); break;
	case RQREADY:
		if (!v) {
			q->ready = 0;
		} else if (!q->ready && queueok(d, q)) {
			q->ready = 1;
			q->broken = 0;
			q->lastavail = q->usedidx = 0;
		} else if (!q->ready) {
			glog(LWARN, "%s: queue %u: refused: bad size or rings "
			    "outside guest memory", d->ops->name, d->qsel);
		}
		break;
	}
}

void
virtio_mmio(VirtioDev *d, uint64_t off, void *data, uint32_t len, int write)
{
	uint32_t v;

	pthread_mutex_lock(&d->lock);
	if (off >= WINDOW || (off >= RCONFIG && len != 1 && len != 2 &&
	    len != 4 && len != 8)) {
		if (!write)
			memset(data, 0xff, len);	/* nothing there */
	} else if (off >= RCONFIG) {
		if (write && d->ops->cfgwrite)
			d->ops->cfgwrite(d, off - RCONFIG, data, len);
		else if (!write && d->ops->cfgread)
			d->ops->cfgread(d, off - RCONFIG, data, len);
		else if (!write)
			memset(data, 0, len);
	} else if (len != 4 || (off & 3)) {
		if (!write)
			memset(data, 0xff, len);	/* registers are 32-bit */
	} else if (write) {
		memcpy(&v, data, 4);
		regwrite(d, off, v);
	} else {
		v = regread(d, off);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&d->lock);
}

/* the driver took VIRTIO_RING_F_EVENT_IDX (a device offers it in its ops) */
static int
evidx(VirtioDev *d)
{
	return (d->drvfeatures & (1ull << VIRTIO_RING_F_EVENT_IDX)) != 0;
}

static uint16_t
load16(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_ACQUIRE);
}

int
vq_pop(VirtioDev *d, Virtq *q, Vchain *c)
{
	const uint8_t *avail, *desc;
	uint64_t addr, outlen = 0, inlen = 0;
	uint32_t len, max;
	uint16_t idx, pending, head, flags, next;
	void *p;

	if (!q->ready || q->broken)
		return 0;
	avail = d->gm->base + q->avail;
	desc = d->gm->base + q->desc;
	idx = load16(avail + 2);
	if (idx == q->lastavail && evidx(d)) {
		/* empty: a kick when the driver adds past here (avail_event,
		 * the last entry of the used ring), then look once more */
		__atomic_store_n((uint16_t *)(void *)(d->gm->base + q->used +
		    4 + 8 * q->num), q->lastavail, __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		idx = load16(avail + 2);
	}
	pending = idx - q->lastavail;
	if (!pending)
		return 0;
	if (pending > q->num) {
		broken(d, q, "avail index ran ahead of the ring");
		return -1;
	}
	memcpy(&head, avail + 4 + 2 * (q->lastavail % q->num), 2);
	if (head >= q->num) {
		broken(d, q, "descriptor head out of range");
		return -1;
	}
	memset(c, 0, offsetof(Vchain, iov));
	c->head = head;
	max = MIN(q->num, VQ_MAXSEG);
	for (next = head;;) {
		memcpy(&addr, desc + 16 * next, 8);
		memcpy(&len, desc + 16 * next + 8, 4);
		memcpy(&flags, desc + 16 * next + 12, 2);
		if (flags & DINDIRECT) {
			broken(d, q, "indirect descriptor (not offered)");
			return -1;
		}
		if ((uint32_t)(c->nout + c->nin) == max) {
			broken(d, q, "descriptor chain too long or looped");
			return -1;
		}
		if (!(p = gm_ptr(d->gm, addr, len))) {
			broken(d, q, "descriptor outside guest memory");
			return -1;
		}
		if (flags & DWRITE) {
			c->nin++;
			inlen += len;
		} else if (c->nin) {
			broken(d, q, "readable descriptor after a writable one");
			return -1;
		} else {
			c->nout++;
			outlen += len;
		}
		c->iov[c->nout + c->nin - 1].iov_base = p;
		c->iov[c->nout + c->nin - 1].iov_len = len;
		if (!(flags & DNEXT))
			break;
		memcpy(&next, desc + 16 * next + 14, 2);
		if (next >= q->num) {
			broken(d, q, "next descriptor out of range");
			return -1;
		}
	}
	if (outlen > UINT32_MAX || inlen > UINT32_MAX) {
		broken(d, q, "descriptor chain longer than 4 GiB");
		return -1;
	}
	c->outlen = outlen;
	c->inlen = inlen;
	q->lastavail++;
	return 1;
}

void
vq_unpop(Virtq *q)
{
	q->lastavail--;
}

void
vq_push(VirtioDev *d, Virtq *q, uint16_t head, uint32_t len)
{
	uint8_t *used = d->gm->base + q->used;
	uint32_t id = head;

	if (!q->ready || q->broken)
		return;
	memcpy(used + 4 + 8 * (q->usedidx % q->num), &id, 4);
	memcpy(used + 4 + 8 * (q->usedidx % q->num) + 4, &len, 4);
	q->usedidx++;
	__atomic_store_n((uint16_t *)(void *)(used + 2), q->usedidx, __ATOMIC_RELEASE);
}

/*
 * Whether the driver wants an interrupt now that q's used index moved on
 * from old: with VIRTIO_RING_F_EVENT_IDX, once it passed the driver's
 * used_event (the last entry of the avail ring); without, unless the
 * driver polls (VRING_AVAIL_F_NO_INTERRUPT, a hint a device may follow).
 * Read after the used index was published, so a driver that asked and
 * then found nothing new still gets one.
 */
int
vq_wantirq(VirtioDev *d, Virtq *q, uint16_t old)
{
	const uint8_t *avail = d->gm->base + q->avail;
	uint16_t ev;

	if (!q->ready || q->broken || q->usedidx == old)
		return 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!evidx(d))
		return !(load16(avail) & 1);
	ev = load16(avail + 4 + 2 * q->num);
	return (uint16_t)(q->usedidx - ev - 1) < (uint16_t)(q->usedidx - old);
}

/* copy between an iovec array (from byte off on) and a flat buffer */
static size_t
iovcopy(const struct iovec *iov, int n, size_t off, void *buf, size_t len,
    int toiov)
{
	size_t done = 0, k;
	char *p;
	int i;

	for (i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		k = MIN(iov[i].iov_len - off, len - done);
		p = (char *)iov[i].iov_base + off;
		if (toiov)
			memcpy(p, (char *)buf + done, k);
		else
			memcpy((char *)buf + done, p, k);
		done += k;
		off = 0;
	}
	return done;
}

size_t
iov_copyfrom(const struct iovec *iov, int n, size_t off, void *dst, size_t len)
{
	return iovcopy(iov, n, off, dst, len, 0);
}

size_t
iov_copyto(const struct iovec *iov, int n, size_t off, const void *src, size_t len)
{
	return iovcopy(iov, n, off, (void *)(uintptr_t)src, len, 1);
}
