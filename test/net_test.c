/* See LICENSE file for copyright and license details. */
/*
 * net.c against a fake guest driver, with a datagram socketpair standing
 * in for the tap (one datagram per frame, vnet header included): feature
 * negotiation and the config space, transmit, receive into mergeable and
 * whole buffers, backpressure both ways, and a hostile guest: a short
 * header, an oversized frame, offloads not negotiated, a chain too long,
 * descriptors out of range, receive chains that are readable. The device
 * must drop what is wrong, stay up, and lose no frame it accepted.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../husk.h"
#include "t.h"
#include "guest.h"

enum { RXQ, TXQ };
#define HSZ	12
#define F(b)	(1ull << (b))
enum {	/* virtio-net feature bits */
	CSUM = 0, GUEST_CSUM = 1, MTU = 3, MAC = 5, GUEST_TSO4 = 7,
	GUEST_TSO6 = 8, GUEST_ECN = 9, GUEST_UFO = 10, HOST_TSO4 = 11,
	HOST_TSO6 = 12, HOST_ECN = 13, HOST_UFO = 14, MRG_RXBUF = 15,
	STATUS = 16, CTRL_VQ = 17, EVENT_IDX = 29, VERSION_1 = 32
};
#define ALL	(F(CSUM) | F(GUEST_CSUM) | F(MTU) | F(MAC) | F(GUEST_TSO4) | \
		F(GUEST_TSO6) | F(GUEST_ECN) | F(HOST_TSO4) | F(HOST_TSO6) | \
		F(HOST_ECN) | F(MRG_RXBUF) | F(STATUS) | F(EVENT_IDX) | F(VERSION_1))

static Guest g;
static Net *net;
static int peer;	/* the host's side of the "tap" */
static int devfd;	/* the device's side */
static const uint8_t mac[6] = { 0x02, 0x42, 0xac, 0x11, 0x00, 0x07 };

static void
spin(int n)
{
	while (n--)
		loop_run(1);
}

/* reset, negotiate feat, rx and tx queues live */
static int
up(uint64_t feat)
{
	uint8_t buf[256];

	gw(&g, 0x070, 0);
	spin(2);
	/* what an earlier case left in the "tap", either way */
	while (recv(devfd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
	while (recv(peer, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
	memset(g.gm.base, 0, BUFS);
	gw(&g, 0x070, 1 | 2);
	gw(&g, 0x024, 1);
	gw(&g, 0x020, feat >> 32);
	gw(&g, 0x024, 0);
	gw(&g, 0x020, (uint32_t)feat);
	gw(&g, 0x070, 1 | 2 | 8);
	if (!(gr(&g, 0x070) & 8))
		return -1;
	gsetq(&g, RXQ, QNUM);
	gsetq(&g, TXQ, QNUM);
	gw(&g, 0x070, 1 | 2 | 8 | 4);
	g.nextbuf = BUFS;
	spin(2);
	return 0;
}

static int
needsreset(void)
{
	return (gr(&g, 0x070) & 0x40) != 0;
}

/* a frame: a header with flags and gso type, then n payload bytes */
static uint8_t *
frame(uint8_t flags, uint8_t gso, size_t n, int seed)
{
	uint8_t *b = calloc(1, HSZ + n);
	size_t i;

	b[0] = flags;
	b[1] = gso;
	for (i = 0; i < n; i++)
		b[HSZ + i] = (uint8_t)(i * 7 + seed);
	return b;
}

/* a readable chain of the buffer cut in nseg pieces */
static uint16_t
txchain(const uint8_t *b, size_t n, int nseg)
{
	uint16_t head = g.nextdesc[TXQ] % QNUM, i;
	size_t off = 0, k;
	uint64_t a = galloc(&g, n);
	int s;

	memcpy(g.gm.base + a, b, n);
	for (s = 0; s < nseg; s++) {
		k = s == nseg - 1 ? n - off : n / nseg;
		i = g.nextdesc[TXQ]++ % QNUM;
		gdesc(&g, TXQ, i, a + off, k, s < nseg - 1 ? 1 : 0,
		    g.nextdesc[TXQ] % QNUM);
		off += k;
	}
	gpublish(&g, TXQ, head);
	return head;
}

static ssize_t
hostread(void *buf, size_t n)
{
	return recv(peer, buf, n, MSG_DONTWAIT);
}

static int
hostpending(void)
{
	char c;

	return recv(peer, &c, 1, MSG_DONTWAIT | MSG_PEEK) >= 0;
}

/* kick tx: chain head must come back used and empty, nothing sent */
static int
txdropped(uint16_t head)
{
	uint32_t id, len;

	gkick(&g, TXQ);
	return gused(&g, TXQ, &id, &len) && id == head && len == 0 &&
	    !hostpending();
}

static void
negotiation(void)
{
	uint64_t dev;
	uint8_t cfg[12];
	uint32_t i;

	gw(&g, 0x070, 0);
	CHECK(gr(&g, 0x008) == 1);
	gw(&g, 0x014, 0);
	dev = gr(&g, 0x010);
	gw(&g, 0x014, 1);
	dev |= (uint64_t)gr(&g, 0x010) << 32;
	CHECK(dev == ALL);
	CHECK(!(dev & (F(GUEST_UFO) | F(HOST_UFO) | F(CTRL_VQ))));
	for (i = 0; i < sizeof(cfg); i++)
		virtio_mmio(g.d, 0x100 + i, cfg + i, 1, 0);
	CHECK(!memcmp(cfg, mac, 6));
	CHECK(cfg[6] == 1 && cfg[7] == 0);	/* link up */
	CHECK(cfg[8] == 1 && cfg[9] == 0);	/* one queue pair */
	CHECK(cfg[10] == (1500 & 0xff) && cfg[11] == 1500 >> 8);
	/* what is not offered is refused */
	CHECK(up(ALL | F(CTRL_VQ)) < 0);
	CHECK(up(ALL) == 0);
	CHECK(gr(&g, 0x070) == (1 | 2 | 4 | 8));
}

static void
tx(void)
{
	uint8_t *f = frame(0, 0, 1000, 1), buf[2048];
	uint32_t id, len;
	uint16_t head;

	CHECK(up(ALL) == 0);
	head = txchain(f, HSZ + 1000, 3);
	gkick(&g, TXQ);
	CHECK(gused(&g, TXQ, &id, &len) && id == head && len == 0);
	CHECK(hostread(buf, sizeof(buf)) == HSZ + 1000);
	CHECK(!memcmp(buf, f, HSZ + 1000));
	/* checksum and TSO asked for, as negotiated, go through */
	f[0] = 1;	/* NEEDS_CSUM */
	f[1] = 1;	/* TCPV4 */
	f[6] = 34;	/* csum_start */
	f[8] = 16;	/* csum_offset */
	txchain(f, HSZ + 1000, 1);
	gkick(&g, TXQ);
	CHECK(gused(&g, TXQ, &id, &len));
	CHECK(hostread(buf, sizeof(buf)) == HSZ + 1000 && buf[0] == 1 && buf[1] == 1);
	CHECK(!needsreset());
	free(f);
}

/* what the guest must not send is dropped and returned; the next frame goes */
static void
txhostile(void)
{
	static const struct { uint8_t flags, gso; size_t n; uint64_t feat; } bad[] = {
		{ 0, 0, 65551, ALL },			/* oversized */
		{ 0, 0, 13, ALL },			/* no Ethernet header */
		{ 2, 0, 100, ALL },			/* DATA_VALID: rx only */
		{ 1, 0, 100, ALL & ~F(CSUM) },		/* csum not negotiated */
		{ 0, 1, 100, ALL & ~F(HOST_TSO4) },	/* TSO4 not negotiated */
		{ 0, 4, 100, ALL & ~F(HOST_TSO6) },	/* TSO6 not negotiated */
		{ 0, 3, 100, ALL },			/* UFO: not offered */
		{ 0, 0x81, 100, ALL & ~F(HOST_ECN) },	/* ECN not negotiated */
		{ 0, 0x80, 100, ALL },			/* ECN without GSO */
	};
	uint8_t *f, buf[256], w[64];
	uint32_t id, len;
	uint16_t head, i;
	size_t j;

	for (j = 0; j < LEN(bad); j++) {
		CHECK(up(bad[j].feat) == 0);
		f = frame(bad[j].flags, bad[j].gso, bad[j].n, 2);
		f[6] = 34;
		f[8] = 16;
		CHECK(txdropped(txchain(f, HSZ + bad[j].n, 2)));
		free(f);
	}
	/* a header shorter than 12 bytes, over two descriptors */
	CHECK(up(ALL) == 0);
	f = frame(0, 0, 0, 0);
	CHECK(txdropped(txchain(f, 8, 2)));
	free(f);
	/* checksum offsets beyond the frame */
	f = frame(1, 0, 100, 3);
	f[6] = 99;
	f[8] = 0;
	CHECK(txdropped(txchain(f, HSZ + 100, 1)));
	free(f);
	/* a writable descriptor in a transmit chain */
	f = frame(0, 0, 100, 4);
	head = i = g.nextdesc[TXQ]++ % QNUM;
	gdesc(&g, TXQ, i, galloc(&g, HSZ + 100), HSZ + 100, 1,
	    g.nextdesc[TXQ] % QNUM);
	gdesc(&g, TXQ, g.nextdesc[TXQ]++ % QNUM, galloc(&g, sizeof(w)),
	    sizeof(w), 2, 0);
	gpublish(&g, TXQ, head);
	CHECK(txdropped(head));
	free(f);
	/* the device is up: a good frame passes */
	f = frame(0, 0, 100, 5);
	txchain(f, HSZ + 100, 1);
	gkick(&g, TXQ);
	CHECK(gused(&g, TXQ, &id, &len));
	CHECK(hostread(buf, sizeof(buf)) == HSZ + 100 && !memcmp(buf, f, HSZ + 100));
	CHECK(!needsreset());
	free(f);
}

/* a chain too long, or out of guest memory: the queue stops, the rest works */
static void
txbroken(void)
{
	uint8_t *f = frame(0, 0, 100, 6), buf[256];
	uint64_t a;
	uint32_t id, len;
	int i, round;

	for (round = 0; round < 3; round++) {
		CHECK(up(ALL) == 0);
		a = galloc(&g, 16);
		if (round == 0) {	/* a loop: chain too long */
			for (i = 0; i < QNUM; i++)
				gdesc(&g, TXQ, i, a, 16, 1, (i + 1) % QNUM);
		} else if (round == 1) {	/* a buffer past guest memory */
			gdesc(&g, TXQ, 0, GMEM - 8, 16, 0, 0);
		} else {		/* a next index past the table */
			gdesc(&g, TXQ, 0, a, 16, 1, QNUM + 3);
		}
		gpublish(&g, TXQ, 0);
		gkick(&g, TXQ);
		CHECK(needsreset());
		CHECK(!gused(&g, TXQ, &id, &len));
		CHECK(!hostpending());
		/* receive still works on the other queue */
		gbuf(&g, RXQ, NULL, 2048, 1);
		gkick(&g, RXQ);
		memcpy(buf, f, HSZ + 100);
		CHECK(send(peer, buf, HSZ + 100, 0) == HSZ + 100);
		spin(3);
		CHECK(gused(&g, RXQ, &id, &len) && len == HSZ + 100);
	}
	/* a reset brings transmit back */
	CHECK(up(ALL) == 0);
	CHECK(!needsreset());
	txchain(f, HSZ + 100, 1);
	gkick(&g, TXQ);
	CHECK(gused(&g, TXQ, &id, &len));
	CHECK(hostread(buf, sizeof(buf)) == HSZ + 100);
	free(f);
}

/* one frame into several mergeable buffers, num_buffers in the first */
static void
rxmerge(void)
{
	uint8_t *f = frame(0, 0, 3000, 7), out[4096];
	uint64_t a[4];
	uint32_t id, len, got = 0;
	int i, n = 0;

	CHECK(up(ALL) == 0);
	for (i = 0; i < 4; i++)
		a[i] = gbuf(&g, RXQ, NULL, 1024, 1);
	gkick(&g, RXQ);
	f[10] = 0x55;	/* num_buffers from the host is overwritten */
	CHECK(send(peer, f, HSZ + 3000, 0) == HSZ + 3000);
	spin(3);
	while (gused(&g, RXQ, &id, &len)) {
		CHECK(id == (uint32_t)n);
		CHECK(len == (n < 2 ? 1024 : 3012 - 2048));
		memcpy(out + got, g.gm.base + a[id], len);
		got += len;
		n++;
	}
	CHECK(n == 3 && got == HSZ + 3000);
	CHECK(out[10] == 3 && out[11] == 0);
	CHECK(!memcmp(out + HSZ, f + HSZ, 3000));
	/* the fourth buffer takes the next frame whole */
	CHECK(send(peer, f, HSZ + 500, 0) == HSZ + 500);
	spin(3);
	CHECK(gused(&g, RXQ, &id, &len) && id == 3 && len == HSZ + 500);
	CHECK(g.gm.base[a[3] + 10] == 1);
	free(f);
}

/* a driver that takes VERSION_1 alone: no offloads, whole buffers */
static void
minimal(void)
{
	uint8_t *f = frame(0, 0, 700, 9), buf[1024];
	uint32_t id, len;
	uint64_t a;

	CHECK(gstart(&g, 2) == 0);
	spin(2);
	a = gbuf(&g, RXQ, NULL, 2048, 1);
	gkick(&g, RXQ);
	CHECK(send(peer, f, HSZ + 700, 0) == HSZ + 700);
	spin(3);
	CHECK(gused(&g, RXQ, &id, &len) && len == HSZ + 700);
	CHECK(g.gm.base[a + 10] == 1 && !memcmp(g.gm.base + a + HSZ, f + HSZ, 700));
	txchain(f, HSZ + 700, 1);
	gkick(&g, TXQ);
	CHECK(gused(&g, TXQ, &id, &len));
	CHECK(hostread(buf, sizeof(buf)) == HSZ + 700);
	/* a TSO frame was not negotiated */
	f[1] = 1;
	CHECK(txdropped(txchain(f, HSZ + 700, 1)));
	free(f);
}

/* without MRG_RXBUF: a frame whole in one buffer, or dropped */
static void
rxwhole(void)
{
	uint8_t *f = frame(2, 0, 1500, 8);
	uint64_t a;
	uint32_t id, len;

	CHECK(up(ALL & ~F(MRG_RXBUF) & ~F(GUEST_CSUM)) == 0);
	a = gbuf(&g, RXQ, NULL, 1024, 1);
	gkick(&g, RXQ);
	CHECK(send(peer, f, HSZ + 1500, 0) == HSZ + 1500);	/* too big */
	CHECK(send(peer, f, HSZ + 900, 0) == HSZ + 900);
	spin(3);
	CHECK(gused(&g, RXQ, &id, &len) && len == HSZ + 900);
	CHECK(!gused(&g, RXQ, &id, &len));
	CHECK(!memcmp(g.gm.base + a + HSZ, f + HSZ, 900));
	CHECK(g.gm.base[a + 10] == 1);
	/* DATA_VALID is not passed to a guest without GUEST_CSUM */
	CHECK(g.gm.base[a] == 0);
	free(f);
}

/* no buffers: the frame waits, the tap is not polled; the kick delivers */
static void
rxwait(void)
{
	uint8_t *f;
	char c;
	uint32_t id, len;
	uint64_t a[3];
	int i;

	CHECK(up(ALL) == 0);
	for (i = 0; i < 3; i++) {
		f = frame(0, 0, 200, 10 + i);
		CHECK(send(peer, f, HSZ + 200, 0) == HSZ + 200);
		free(f);
	}
	spin(3);
	/* nothing is busy: no event is pending on the loop */
	CHECK(loop_run(0) == 0);
	CHECK(loop_run(0) == 0);
	/* the two frames not staged are still in the "tap" */
	CHECK(recv(devfd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1);
	for (i = 0; i < 3; i++)
		a[i] = gbuf(&g, RXQ, NULL, 2048, 1);
	gkick(&g, RXQ);
	spin(3);
	for (i = 0; i < 3; i++) {
		CHECK(gused(&g, RXQ, &id, &len) && id == (uint32_t)i &&
		    len == HSZ + 200);
		CHECK(g.gm.base[a[i] + HSZ] == (uint8_t)(10 + i));
	}
	/* too few buffers for a frame: it waits whole, not cut */
	CHECK(up(ALL) == 0);
	f = frame(0, 0, 5000, 20);
	CHECK(send(peer, f, HSZ + 5000, 0) == HSZ + 5000);
	a[0] = gbuf(&g, RXQ, NULL, 4096, 1);
	gkick(&g, RXQ);
	CHECK(!gused(&g, RXQ, &id, &len));
	CHECK(loop_run(0) == 0);
	a[1] = gbuf(&g, RXQ, NULL, 4096, 1);
	gkick(&g, RXQ);
	CHECK(gused(&g, RXQ, &id, &len) && id == 0 && len == 4096);
	CHECK(gused(&g, RXQ, &id, &len) && id == 1 && len == HSZ + 5000 - 4096);
	CHECK(g.gm.base[a[0] + 10] == 2);
	CHECK(!memcmp(g.gm.base + a[1], f + 4096, HSZ + 5000 - 4096));
	free(f);
}

/* readable receive chains are returned empty; the frame goes to the next */
static void
rxhostile(void)
{
	uint8_t *f = frame(0, 0, 300, 30), *big = frame(0, 0, 2000, 31);
	uint32_t id, len;
	uint64_t a;
	uint16_t i;

	CHECK(up(ALL) == 0);
	i = g.nextdesc[RXQ]++ % QNUM;
	gdesc(&g, RXQ, i, galloc(&g, 512), 512, 0, 0);	/* readable */
	gpublish(&g, RXQ, i);
	a = gbuf(&g, RXQ, NULL, 2048, 1);
	gkick(&g, RXQ);
	CHECK(send(peer, f, HSZ + 300, 0) == HSZ + 300);
	spin(3);
	CHECK(gused(&g, RXQ, &id, &len) && id == 0 && len == 0);
	CHECK(gused(&g, RXQ, &id, &len) && id == 1 && len == HSZ + 300);
	CHECK(!memcmp(g.gm.base + a + HSZ, f + HSZ, 300));
	/* tiny buffers that all together cannot hold the frame: dropped */
	CHECK(up(ALL) == 0);
	for (i = 0; i < QNUM; i++)
		gbuf(&g, RXQ, NULL, 16, 1);
	gkick(&g, RXQ);
	CHECK(send(peer, big, HSZ + 2000, 0) == HSZ + 2000);
	CHECK(send(peer, f, HSZ + 20, 0) == HSZ + 20);
	spin(3);
	/* the big one was dropped, the small one took two buffers */
	CHECK(gused(&g, RXQ, &id, &len) && id == 0 && len == 16);
	CHECK(gused(&g, RXQ, &id, &len) && id == 1 && len == HSZ + 20 - 16);
	CHECK(!gused(&g, RXQ, &id, &len));
	/* a runt from the tap is dropped */
	CHECK(send(peer, f, 5, 0) == 5);
	spin(3);
	CHECK(!gused(&g, RXQ, &id, &len));
	CHECK(!needsreset());
	free(f);
	free(big);
}

/* the tap full: transmit waits for it, loses nothing, keeps the order */
static void
txwait(void)
{
	uint8_t *f, buf[256];
	uint32_t id, len;
	int i, n = 0, used = 0, small = 4096;

	CHECK(up(ALL) == 0);
	/* a socketpair's datagrams are bounded by the sender's buffer */
	setsockopt(devfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	for (i = 0; i < 60; i++) {
		f = frame(0, 0, 100, i);
		txchain(f, HSZ + 100, 1);
		free(f);
	}
	gkick(&g, TXQ);
	while (gused(&g, TXQ, &id, &len))
		used++;
	CHECK(used < 60);	/* the socket took only some */
	while (hostread(buf, sizeof(buf)) == HSZ + 100) {
		CHECK(buf[HSZ] == (uint8_t)n);
		n++;
		spin(2);
		while (gused(&g, TXQ, &id, &len))
			used++;
	}
	CHECK(n == 60 && used == 60);
}

/* interrupts the device raised since the last look */
static int
irqs(void)
{
	uint64_t v;

	return read(g.d->irqfd, &v, 8) == 8 ? (int)v : 0;
}

static void
sendone(void)
{
	uint8_t *f = frame(0, 0, 100, 3), buf[256];

	txchain(f, HSZ + 100, 1);
	gkick(&g, TXQ);
	hostread(buf, sizeof(buf));
	free(f);
}

/*
 * With EVENT_IDX an interrupt comes only when the used index passes the
 * driver's used_event, and the device says up to where it has read
 * (avail_event) so the driver kicks only past it; without, the driver's
 * NO_INTERRUPT flag holds interrupts back.
 */
static void
suppress(void)
{
	uint8_t *avail = g.gm.base + qavail(TXQ), *used = g.gm.base + qused(TXQ);
	uint16_t ev, flags = 1;
	uint32_t id, len;

	CHECK(up(ALL) == 0);
	irqs();
	ev = 0;	/* used_event 0: the first used entry interrupts */
	memcpy(avail + 4 + 2 * QNUM, &ev, 2);
	sendone();
	CHECK(gused(&g, TXQ, &id, &len));
	CHECK(irqs() == 1);
	memcpy(&ev, used + 4 + 8 * QNUM, 2);
	CHECK(ev == 1);		/* avail_event: all read */
	ev = 3;	/* not before the fourth used entry */
	memcpy(avail + 4 + 2 * QNUM, &ev, 2);
	sendone();
	sendone();
	CHECK(gused(&g, TXQ, &id, &len) && gused(&g, TXQ, &id, &len));
	CHECK(irqs() == 0);
	sendone();
	CHECK(gused(&g, TXQ, &id, &len));
	CHECK(irqs() == 1);
	memcpy(&ev, used + 4 + 8 * QNUM, 2);
	CHECK(ev == 4);
	/* a hostile used_event only withholds this device's interrupts */
	ev = 0xffff;
	memcpy(avail + 4 + 2 * QNUM, &ev, 2);
	sendone();
	CHECK(gused(&g, TXQ, &id, &len) && !needsreset());
	/* without EVENT_IDX: the flag */
	CHECK(up(ALL & ~F(EVENT_IDX)) == 0);
	irqs();
	memcpy(avail, &flags, 2);
	sendone();
	CHECK(gused(&g, TXQ, &id, &len));
	CHECK(irqs() == 0);
	flags = 0;
	memcpy(avail, &flags, 2);
	sendone();
	CHECK(gused(&g, TXQ, &id, &len));
	CHECK(irqs() == 1);
	memcpy(&ev, used + 4 + 8 * QNUM, 2);
	CHECK(ev == 0);		/* no avail_event written */
}

/* the device on one end of a datagram socketpair, the test on the other */
static int
setup(void)
{
	char err[ERRLEN];
	int sv[2], big = 1 << 20;

	gbuffer(&g, GMEM);
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	peer = sv[1];
	devfd = sv[0];
	net = net_new(&g.gm, devfd, mac, 1500, err);
	if (!net)
		fprintf(stderr, "%s\n", err);
	else
		g.d = net_dev(net);
	return net ? 0 : -1;
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	loop_init();
	loglevel = LERR;
	if (setup() < 0)
		return 2;
	RUN(negotiation);
	RUN(tx);
	RUN(txhostile);
	RUN(txbroken);
	RUN(rxmerge);
	RUN(rxwhole);
	RUN(minimal);
	RUN(rxwait);
	RUN(rxhostile);
	RUN(txwait);
	RUN(suppress);
	net_free(net);
	close(peer);
	free(g.gm.base);
	return TDONE();
}
