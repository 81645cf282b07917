/* See LICENSE file for copyright and license details. */
/*
 * virtio.c against a fake guest: registers, negotiation, queue setup, and
 * hostile descriptor chains, which must stop the queue and mark the
 * device NEEDS_RESET without a crash or an access outside guest memory.
 */
#include <stdint.h>

#include "../husk.h"
#include "t.h"
#include "guest.h"

static struct {
	int pops, broken, empty;
	Vchain last;
	int nreset, nactive;
} seen;

static void
tnotify(VirtioDev *d, int q)
{
	Vchain c;
	int r;

	while ((r = vq_pop(d, &d->vq[q], &c)) == 1) {
		seen.pops++;
		seen.last = c;
		vq_push(d, &d->vq[q], c.head, c.inlen);
	}
	if (r < 0)
		seen.broken++;
	else
		seen.empty++;
	virtio_irq(d);
}

static void treset(VirtioDev *d) { (void)d; seen.nreset++; }
static void tactive(VirtioDev *d) { (void)d; seen.nactive++; }

static void
tcfgread(VirtioDev *d, uint32_t off, void *buf, uint32_t len)
{
	(void)d;
	memset(buf, 0xa0 + off, len);
}

static const VirtioOps tops = {
	.name = "test", .id = 42, .features = 1ull << 3, .nqueues = 1,
	.qmax = 256, .cfgread = tcfgread, .notify = tnotify, .reset = treset,
	.activate = tactive,
};

static Guest g;
static VirtioDev dev;

static void
fresh(void)
{
	memset(&seen, 0, sizeof(seen));
	gstart(&g, 1);
	memset(&seen, 0, sizeof(seen));
}

static int
isbroken(void)
{
	return (gr(&g, 0x070) & 0x40) && (gr(&g, 0x060) & 2) && seen.broken == 1;
}

static void
registers(void)
{
	uint8_t b[8];
	uint16_t h;

	CHECK(gr(&g, 0x000) == 0x74726976);
	CHECK(gr(&g, 0x004) == 2);
	CHECK(gr(&g, 0x008) == 42);
	gw(&g, 0x014, 0);
	CHECK(gr(&g, 0x010) == 1u << 3);
	gw(&g, 0x014, 1);
	CHECK(gr(&g, 0x010) == 1);	/* VERSION_1 */
	gw(&g, 0x014, 7);
	CHECK(gr(&g, 0x010) == 0);
	gw(&g, 0x030, 0);
	CHECK(gr(&g, 0x034) == 256);
	gw(&g, 0x030, 1);
	CHECK(gr(&g, 0x034) == 0);	/* no queue 1 */
	/* config space: any width, through the device */
	virtio_mmio(&dev, 0x104, b, 8, 0);
	CHECK(b[0] == 0xa4 && b[7] == 0xa4);
	/* registers are 32-bit only */
	virtio_mmio(&dev, 0x000, &h, 2, 0);
	CHECK(h == 0xffff);
	CHECK(gr(&g, 0x002) == 0xffffffff);	/* misaligned */
	/* config accesses are 1, 2, 4 or 8 bytes, inside the 4 KiB window */
	memset(b, 0, sizeof(b));
	virtio_mmio(&dev, 0x100, b, 3, 0);
	CHECK(b[0] == 0xff && b[2] == 0xff);
	virtio_mmio(&dev, 0x1100, b, 4, 0);
	CHECK(b[0] == 0xff && b[3] == 0xff);
	virtio_mmio(&dev, 0x100000100ull, b, 4, 0);
	CHECK(b[0] == 0xff);
	virtio_mmio(&dev, 0xffc, b, 2, 0);
	CHECK(b[0] == (uint8_t)(0xa0 + 0xefc));	/* the device got off 0xefc */
}

static void
negotiation(void)
{
	memset(&seen, 0, sizeof(seen));
	gw(&g, 0x070, 0);
	gw(&g, 0x070, 3);
	gw(&g, 0x024, 1);
	gw(&g, 0x020, 0);		/* no VERSION_1 */
	gw(&g, 0x070, 3 | 8);
	CHECK(!(gr(&g, 0x070) & 8));
	gw(&g, 0x024, 0);
	gw(&g, 0x020, 1u << 5);		/* a feature not offered */
	gw(&g, 0x024, 1);
	gw(&g, 0x020, 1);
	gw(&g, 0x070, 3 | 8);
	CHECK(!(gr(&g, 0x070) & 8));
	gw(&g, 0x024, 0);
	gw(&g, 0x020, 1u << 3);
	gw(&g, 0x070, 3 | 4);		/* DRIVER_OK before FEATURES_OK */
	CHECK(!(gr(&g, 0x070) & 4) && seen.nactive == 0);
	gw(&g, 0x070, 3 | 8);
	CHECK(gr(&g, 0x070) & 8);
	/* features are fixed once FEATURES_OK is set */
	gw(&g, 0x024, 0);
	gw(&g, 0x020, 0);
	CHECK(dev.drvfeatures == (1ull << 32 | 1ull << 3));
	gw(&g, 0x070, 3 | 8 | 4);
	CHECK((gr(&g, 0x070) & 4) && seen.nactive == 1);
	CHECK(gstart(&g, 1) == 0 && seen.nactive >= 1);
}

static void
queuesetup(void)
{
	gw(&g, 0x070, 0);
	CHECK(seen.nreset >= 1);
	gw(&g, 0x070, 3);
	gw(&g, 0x024, 1);
	gw(&g, 0x020, 1);
	gw(&g, 0x070, 3 | 8);
	gw(&g, 0x030, 0);
	gw(&g, 0x038, 3);		/* not a power of two */
	gw(&g, 0x080, qdesc(0));
	gw(&g, 0x090, qavail(0));
	gw(&g, 0x0a0, qused(0));
	gw(&g, 0x044, 1);
	CHECK(gr(&g, 0x044) == 0);
	gw(&g, 0x038, 512);		/* over QueueNumMax */
	gw(&g, 0x044, 1);
	CHECK(gr(&g, 0x044) == 0);
	gw(&g, 0x038, 64);
	gw(&g, 0x0a0, GMEM - 16);	/* used ring past the end of memory */
	gw(&g, 0x044, 1);
	CHECK(gr(&g, 0x044) == 0);
	gw(&g, 0x0a0, qused(0));
	gw(&g, 0x084, 1);		/* descriptor table above 4 GiB */
	gw(&g, 0x044, 1);
	CHECK(gr(&g, 0x044) == 0);
	gw(&g, 0x084, 0);
	gw(&g, 0x080, qdesc(0) + 8);	/* misaligned */
	gw(&g, 0x044, 1);
	CHECK(gr(&g, 0x044) == 0);
	gw(&g, 0x080, qdesc(0));
	gw(&g, 0x044, 1);
	CHECK(gr(&g, 0x044) == 1);
	/* a live queue's addresses cannot change */
	gw(&g, 0x080, 0);
	CHECK(dev.vq[0].desc == qdesc(0));
	/* reset clears it */
	gw(&g, 0x070, 0);
	CHECK(gr(&g, 0x044) == 0 && dev.vq[0].desc == 0 && gr(&g, 0x070) == 0);
}

static void
goodchain(void)
{
	uint32_t id, len;

	fresh();
	gdesc(&g, 0, 5, BUFS, 16, 1, 9);
	gdesc(&g, 0, 9, BUFS + 0x100, 32, 2 | 1, 2);
	gdesc(&g, 0, 2, BUFS + 0x200, 8, 2, 0);
	gpublish(&g, 0, 5);
	gkick(&g, 0);
	CHECK(seen.pops == 1 && seen.broken == 0);
	CHECK(seen.last.head == 5 && seen.last.nout == 1 && seen.last.nin == 2);
	CHECK(seen.last.outlen == 16 && seen.last.inlen == 40);
	CHECK(seen.last.iov[0].iov_base == g.gm.base + BUFS);
	CHECK(seen.last.iov[2].iov_base == g.gm.base + BUFS + 0x200);
	CHECK(gused(&g, 0, &id, &len) == 1 && id == 5 && len == 40);
	CHECK(gr(&g, 0x060) & 1);
	gw(&g, 0x064, 1);
	CHECK(!(gr(&g, 0x060) & 1));
	/* many chains, wrapping the rings */
	for (id = 0; id < 3 * QNUM; id++) {
		gbuf(&g, 0, "x", 1, 0);
		if (id % 7 == 0)
			gkick(&g, 0);
		g.nextbuf = BUFS;
	}
	gkick(&g, 0);
	CHECK(seen.pops == 1 + 3 * QNUM && seen.broken == 0);
	/* a zero-length descriptor at the very end of memory is fine */
	gdesc(&g, 0, 0, GMEM, 0, 0, 0);
	gpublish(&g, 0, 0);
	gkick(&g, 0);
	CHECK(seen.broken == 0 && seen.last.outlen == 0);
}

static void
hostile(void)
{
	uint32_t id, len;
	uint16_t i, idx;

	fresh();			/* head out of range */
	gpublish(&g, 0, QNUM);
	gkick(&g, 0);
	CHECK(isbroken() && seen.pops == 0);
	gkick(&g, 0);			/* stays stopped */
	CHECK(seen.broken == 1);

	fresh();			/* next out of range */
	gdesc(&g, 0, 0, BUFS, 8, 1, QNUM + 3);
	gpublish(&g, 0, 0);
	gkick(&g, 0);
	CHECK(isbroken());

	fresh();			/* a loop: 0 -> 1 -> 0 */
	gdesc(&g, 0, 0, BUFS, 8, 1, 1);
	gdesc(&g, 0, 1, BUFS, 8, 1, 0);
	gpublish(&g, 0, 0);
	gkick(&g, 0);
	CHECK(isbroken());

	fresh();			/* longer than VQ_MAXSEG on a big queue */
	gw(&g, 0x070, 0);
	gw(&g, 0x070, 3);
	gw(&g, 0x024, 1);
	gw(&g, 0x020, 1);
	gw(&g, 0x070, 11);
	gsetq(&g, 0, 256);
	gw(&g, 0x070, 15);
	for (i = 0; i < 200; i++)
		gdesc(&g, 0, i, BUFS, 8, 1, i + 1);
	gdesc(&g, 0, 200, BUFS, 8, 0, 0);
	gpublish(&g, 0, 0);
	gkick(&g, 0);
	CHECK(isbroken());

	fresh();			/* exactly VQ_MAXSEG is fine, one more is not */
	gw(&g, 0x070, 0);
	gw(&g, 0x070, 3);
	gw(&g, 0x024, 1);
	gw(&g, 0x020, 1);
	gw(&g, 0x070, 11);
	gsetq(&g, 0, 256);
	gw(&g, 0x070, 15);
	for (i = 0; i < VQ_MAXSEG - 1; i++)
		gdesc(&g, 0, i, BUFS + i, 1, 1, i + 1);
	gdesc(&g, 0, VQ_MAXSEG - 1, BUFS, 1, 0, 0);
	gpublish(&g, 0, 0);
	for (i = VQ_MAXSEG; i < 2 * VQ_MAXSEG; i++)
		gdesc(&g, 0, i, BUFS, 1, 1, i + 1);
	gdesc(&g, 0, 2 * VQ_MAXSEG, BUFS, 1, 0, 0);
	gpublish(&g, 0, VQ_MAXSEG);
	gkick(&g, 0);
	CHECK(seen.pops == 1 && seen.last.nout == VQ_MAXSEG &&
	    seen.last.outlen == VQ_MAXSEG);
	CHECK(seen.last.iov[VQ_MAXSEG - 2].iov_base == g.gm.base + BUFS + VQ_MAXSEG - 2);
	CHECK(isbroken());

	fresh();			/* a loop on a small queue: capped at its size */
	gw(&g, 0x070, 0);
	gw(&g, 0x070, 3);
	gw(&g, 0x024, 1);
	gw(&g, 0x020, 1);
	gw(&g, 0x070, 11);
	gsetq(&g, 0, 4);
	gw(&g, 0x070, 15);
	gdesc(&g, 0, 0, BUFS, 8, 1, 1);
	gdesc(&g, 0, 1, BUFS, 8, 1, 2);
	gdesc(&g, 0, 2, BUFS, 8, 1, 3);
	gdesc(&g, 0, 3, BUFS, 8, 0, 0);
	gpublish(&g, 0, 0);		/* four: the whole table, fine */
	gkick(&g, 0);
	CHECK(seen.pops == 1 && seen.last.nout == 4 && seen.broken == 0);
	gdesc(&g, 0, 3, BUFS, 8, 1, 1);	/* now 0 1 2 3 1 ... */
	gpublish(&g, 0, 0);
	gkick(&g, 0);
	CHECK(seen.pops == 1 && isbroken());

	fresh();			/* address + length wraps past 2^64 */
	gdesc(&g, 0, 0, UINT64_MAX - 15, 32, 0, 0);
	gpublish(&g, 0, 0);
	gkick(&g, 0);
	CHECK(isbroken());

	fresh();			/* address past the end of memory */
	gdesc(&g, 0, 0, GMEM - 4, 8, 0, 0);
	gpublish(&g, 0, 0);
	gkick(&g, 0);
	CHECK(isbroken());

	fresh();			/* a length that reaches past memory */
	gdesc(&g, 0, 0, BUFS, UINT32_MAX, 2, 0);
	gpublish(&g, 0, 0);
	gkick(&g, 0);
	CHECK(isbroken());

	fresh();			/* writable, then readable */
	gdesc(&g, 0, 0, BUFS, 8, 2 | 1, 1);
	gdesc(&g, 0, 1, BUFS, 8, 0, 0);
	gpublish(&g, 0, 0);
	gkick(&g, 0);
	CHECK(isbroken());

	fresh();			/* indirect, not offered */
	gdesc(&g, 0, 0, BUFS, 16, 4, 0);
	gpublish(&g, 0, 0);
	gkick(&g, 0);
	CHECK(isbroken());

	fresh();			/* an indirect one in the middle of a chain */
	gdesc(&g, 0, 0, BUFS, 8, 1, 1);
	gdesc(&g, 0, 1, BUFS + 0x100, 32, 4 | 2, 0);
	gpublish(&g, 0, 0);
	gkick(&g, 0);
	CHECK(isbroken() && seen.pops == 0);
	CHECK(gused(&g, 0, &id, &len) == 0);	/* nothing used */

	fresh();			/* avail index runs ahead of the ring */
	gdesc(&g, 0, 0, BUFS, 8, 0, 0);
	idx = QNUM + 1;
	memcpy(g.gm.base + qavail(0) + 2, &idx, 2);
	gkick(&g, 0);
	CHECK(isbroken() && seen.pops == 0);

	/* after a reset the device works again */
	fresh();
	gbuf(&g, 0, "ok", 2, 0);
	gkick(&g, 0);
	CHECK(seen.pops == 1 && seen.broken == 0 && !(gr(&g, 0x070) & 0x40));
}

static void
notifyreg(void)
{
	/* a QueueNotify write that reaches husk goes through the loop */
	fresh();
	gbuf(&g, 0, "n", 1, 0);
	gw(&g, 0x050, 0);
	CHECK(seen.pops == 0);
	loop_run(1);
	CHECK(seen.pops == 1);
	gw(&g, 0x050, 99);		/* no such queue */
	loop_run(0);
	CHECK(seen.pops == 1);
}

static void
iovcopy(void)
{
	char a[5], b[7], out[12];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };

	CHECK(iov_copyto(iov, 2, 3, "hello world", 11) == 9);
	CHECK(!memcmp(a + 3, "he", 2) && !memcmp(b, "llo wor", 7));
	memset(out, 0, sizeof(out));
	CHECK(iov_copyfrom(iov, 2, 4, out, 100) == 8);
	CHECK(!memcmp(out, "ello wor", 8));
	CHECK(iov_copyfrom(iov, 2, 12, out, 1) == 0);
}

int
main(void)
{
	loop_init();
	loglevel = LERR;
	gbuffer(&g, GMEM);
	if (virtio_init(&dev, &tops, NULL, &g.gm) < 0)
		return 2;
	g.d = &dev;
	RUN(registers);
	RUN(negotiation);
	RUN(queuesetup);
	RUN(goodchain);
	RUN(hostile);
	RUN(notifyreg);
	RUN(iovcopy);
	virtio_free(&dev);
	free(g.gm.base);
	return TDONE();
}
