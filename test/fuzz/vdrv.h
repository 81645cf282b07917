/* See LICENSE file for copyright and license details. */
/*
 * A fake virtio driver for the device targets, played by the fuzz input
 * (test/guest.h is the same idea for the unit tests). Guest memory is
 * small so that addresses from the input often land inside it: queue q's
 * descriptor table, avail and used rings sit at QBASE(q), buffers from
 * BUFS up. The input is a byte program read through In; the ops every
 * device target shares are here: raw writes anywhere in guest memory
 * (descriptor tables, rings, buffers), chains built from segments, heads
 * published at will, kicks, register writes, and resets.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DMEM		0x20000		/* guest memory */
#define DQNUM		16		/* queue size */
#define QBASE(q)	((uint64_t)(q) * 0x800)
#define QDESC(q)	QBASE(q)
#define QAVAIL(q)	(QBASE(q) + 0x200)
#define QUSED(q)	(QBASE(q) + 0x400)
#define BUFS		0x2000

typedef struct {
	const uint8_t *p;
	size_t n;
} In;

typedef struct {
	GuestMem gm;
	VirtioDev *d;
	int nq;
	uint16_t avail[4];	/* next avail index per queue */
	uint16_t nextdesc[4];
	uint64_t nextbuf;
} Drv;

static unsigned
in8(In *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static unsigned
in16(In *in)
{
	return in8(in) | in8(in) << 8;
}

static uint32_t
in32(In *in)
{
	return in16(in) | (uint32_t)in16(in) << 16;
}

/* up to n bytes of the input; *len says how many there were */
static const uint8_t *
inbytes(In *in, size_t n, size_t *len)
{
	const uint8_t *p = in->p;

	*len = MIN(n, in->n);
	in->p += *len;
	in->n -= *len;
	return p;
}

static void
dw(Drv *v, uint32_t off, uint32_t val)
{
	virtio_mmio(v->d, off, &val, 4, 1);
}

static uint32_t
dr(Drv *v, uint32_t off)
{
	uint32_t val = 0;

	virtio_mmio(v->d, off, &val, 4, 0);
	return val;
}

static void
dsettle(void)
{
	int i;

	for (i = 0; i < 3; i++)
		loop_run(0);
}

/* reset, then features, queues and DRIVER_OK as a Linux driver does */
static int
dup_(Drv *v)
{
	int q;

	dw(v, 0x070, 0);
	dsettle();
	memset(v->gm.base, 0, v->gm.size);
	dw(v, 0x070, 1 | 2);
	dw(v, 0x024, 1);
	dw(v, 0x020, 1);	/* VERSION_1 */
	dw(v, 0x024, 0);
	dw(v, 0x020, 0);
	dw(v, 0x070, 1 | 2 | 8);
	if (!(dr(v, 0x070) & 8))
		return -1;
	for (q = 0; q < v->nq; q++) {
		dw(v, 0x030, q);
		dw(v, 0x038, DQNUM);
		dw(v, 0x080, QDESC(q));
		dw(v, 0x084, 0);
		dw(v, 0x090, QAVAIL(q));
		dw(v, 0x094, 0);
		dw(v, 0x0a0, QUSED(q));
		dw(v, 0x0a4, 0);
		dw(v, 0x044, 1);
		v->avail[q] = v->nextdesc[q] = 0;
	}
	dw(v, 0x070, 1 | 2 | 4 | 8);
	v->nextbuf = BUFS;
	return 0;
}

static uint64_t
dalloc(Drv *v, size_t n)
{
	uint64_t a;

	if (v->nextbuf + n > v->gm.size)
		v->nextbuf = BUFS;	/* reuse: the guest may, too */
	a = v->nextbuf;
	v->nextbuf += (n + 15) & ~(size_t)15;
	return a;
}

static void
ddesc(Drv *v, int q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
    uint16_t next)
{
	uint8_t *p = v->gm.base + QDESC(q) + 16 * (i % DQNUM);

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static void
dpublish(Drv *v, int q, uint16_t head)
{
	uint8_t *a = v->gm.base + QAVAIL(q);

	memcpy(a + 4 + 2 * (v->avail[q] % DQNUM), &head, 2);
	v->avail[q]++;
	__atomic_store_n((uint16_t *)(void *)(a + 2), v->avail[q], __ATOMIC_RELEASE);
}

static void
dkick(Drv *v, int q)
{
	uint64_t one = 1;

	if (write(v->d->vq[q].kickfd, &one, 8) != 8)
		abort();
	dsettle();
}

/*
 * A chain of nseg segments on queue q: readable ones hold the bytes
 * given (split where the segment lengths say), writable ones are room.
 * Returns the head. Descriptors are taken in turn, in use or not.
 */
typedef struct {
	const uint8_t *p;	/* readable: contents; NULL: writable */
	size_t n;
} Seg;

static uint16_t
dchain(Drv *v, int q, const Seg *s, int nseg)
{
	uint16_t idx[8], flags;
	uint64_t a;
	int k;

	nseg = MIN(nseg, 8);
	for (k = 0; k < nseg; k++)
		idx[k] = v->nextdesc[q]++ % DQNUM;
	for (k = 0; k < nseg; k++) {
		a = dalloc(v, s[k].n);
		if (s[k].p && s[k].n)
			memcpy(v->gm.base + a, s[k].p, s[k].n);
		flags = (s[k].p ? 0 : 2) | (k + 1 < nseg ? 1 : 0);
		ddesc(v, q, idx[k], a, s[k].n, flags, k + 1 < nseg ? idx[k + 1] : 0);
	}
	dpublish(v, q, idx[0]);
	return idx[0];
}

enum { DMEMW, DPUB, DKICK, DREG, DRESET, DNOPS };

/* one of the shared ops; returns 0 if op is not one of them */
static int
dop(Drv *v, In *in, unsigned op)
{
	const uint8_t *p;
	size_t n, off;
	uint32_t reg;
	int q;

	switch (op) {
	case DMEMW:	/* raw bytes anywhere: rings, tables, buffers */
		off = in16(in) * 2 % v->gm.size;
		p = inbytes(in, in8(in), &n);
		memcpy(v->gm.base + off, p, MIN(n, v->gm.size - off));
		return 1;
	case DPUB:	/* a head of the input's choosing */
		q = in8(in) % v->nq;
		dpublish(v, q, in16(in));
		dkick(v, q);
		return 1;
	case DKICK:
		dkick(v, in8(in) % v->nq);
		return 1;
	case DREG:	/* a register write, as a vCPU would do it */
		reg = in8(in) * 4 % 0x100;
		dw(v, reg, in32(in));
		dsettle();
		return 1;
	case DRESET:
		dup_(v);
		return 1;
	}
	return 0;
}
