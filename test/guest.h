/* See LICENSE file for copyright and license details. */
/*
 * A fake guest for the device tests: guest memory is a malloc'd block,
 * and these functions play the driver: registers through virtio_mmio,
 * descriptor tables and rings written by hand, kicks through the
 * device's eventfds, and the loop run to let the device work.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GMEM	(4 << 20)
#define QNUM	64
#define RINGS	0x10000		/* queue q's rings at RINGS + q * 0x4000 */
#define BUFS	0x100000	/* buffers from here up */

typedef struct {
	GuestMem gm;
	VirtioDev *d;
	uint16_t num[4];
	uint16_t avail[4];	/* next avail index per queue */
	uint16_t seen[4];	/* used entries consumed */
	uint16_t nextdesc[4];
	uint64_t nextbuf;
} Guest;

static void
gw(Guest *g, uint32_t off, uint32_t v)
{
	virtio_mmio(g->d, off, &v, 4, 1);
}

static uint32_t
gr(Guest *g, uint32_t off)
{
	uint32_t v = 0;

	virtio_mmio(g->d, off, &v, 4, 0);
	return v;
}

static uint64_t qdesc(int q) { return RINGS + q * 0x4000; }
static uint64_t qavail(int q) { return RINGS + q * 0x4000 + 0x1000; }
static uint64_t qused(int q) { return RINGS + q * 0x4000 + 0x2000; }

static void
gsetq(Guest *g, int q, uint16_t num)
{
	gw(g, 0x030, q);
	gw(g, 0x038, num);
	gw(g, 0x080, qdesc(q));
	gw(g, 0x084, 0);
	gw(g, 0x090, qavail(q));
	gw(g, 0x094, 0);
	gw(g, 0x0a0, qused(q));
	gw(g, 0x0a4, 0);
	gw(g, 0x044, 1);
	g->num[q] = num;
	g->avail[q] = g->seen[q] = g->nextdesc[q] = 0;
}

/* reset and bring the device up with nq queues of QNUM entries */
static int
gstart(Guest *g, int nq)
{
	int q;

	gw(g, 0x070, 0);
	memset(g->gm.base, 0, BUFS);
	gw(g, 0x070, 1 | 2);
	gw(g, 0x024, 1);
	gw(g, 0x020, 1);	/* VERSION_1 */
	gw(g, 0x024, 0);
	gw(g, 0x020, 0);
	gw(g, 0x070, 1 | 2 | 8);
	if (!(gr(g, 0x070) & 8))
		return -1;
	for (q = 0; q < nq; q++)
		gsetq(g, q, QNUM);
	gw(g, 0x070, 1 | 2 | 8 | 4);
	g->nextbuf = BUFS;
	return 0;
}

static void
gdesc(Guest *g, int q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
    uint16_t next)
{
	uint8_t *p = g->gm.base + qdesc(q) + 16 * i;

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static void
gpublish(Guest *g, int q, uint16_t head)
{
	uint8_t *a = g->gm.base + qavail(q);

	memcpy(a + 4 + 2 * (g->avail[q] % g->num[q]), &head, 2);
	g->avail[q]++;
	__atomic_store_n((uint16_t *)(void *)(a + 2), g->avail[q], __ATOMIC_RELEASE);
}

static void
gkick(Guest *g, int q)
{
	uint64_t one = 1;
	int i;

	if (write(g->d->vq[q].kickfd, &one, 8) != 8)
		abort();
	for (i = 0; i < 3; i++)
		loop_run(1);
}

static uint64_t
galloc(Guest *g, size_t n)
{
	uint64_t a = g->nextbuf;

	g->nextbuf += (n + 15) & ~15ull;
	if (g->nextbuf > GMEM)
		abort();
	return a;
}

/* one-descriptor chain with a fresh buffer; returns the buffer's address */
static uint64_t
gbuf(Guest *g, int q, const void *data, uint32_t len, int writable)
{
	uint64_t a = galloc(g, len);
	uint16_t i = g->nextdesc[q]++ % g->num[q];

	if (data)
		memcpy(g->gm.base + a, data, len);
	gdesc(g, q, i, a, len, writable ? 2 : 0, 0);
	gpublish(g, q, i);
	return a;
}

/* the next used entry of q: 1 and its id and length, or 0 */
static int
gused(Guest *g, int q, uint32_t *id, uint32_t *len)
{
	uint8_t *u = g->gm.base + qused(q);
	uint16_t idx = __atomic_load_n((uint16_t *)(void *)(u + 2), __ATOMIC_ACQUIRE);

	if (idx == g->seen[q])
		return 0;
	memcpy(id, u + 4 + 8 * (g->seen[q] % g->num[q]), 4);
	memcpy(len, u + 4 + 8 * (g->seen[q] % g->num[q]) + 4, 4);
	g->seen[q]++;
	return 1;
}

static void
gbuffer(Guest *g, size_t size)
{
	g->gm.size = size;
	g->gm.base = calloc(1, size);
	if (!g->gm.base)
		abort();
}
