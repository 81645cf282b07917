/* See LICENSE file for copyright and license details. */
/*
 * vsock.c against a fake guest driver: connections both ways, data both
 * ways, the credit logic, shutdown and reset, fd backends (socketpairs,
 * pipes), and malformed packets from the guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>

#include <sys/stat.h>

#include "../husk.h"
#include "t.h"
#include "guest.h"

#define CID	3
#define RXSZ	4096
#define HSZ	44	/* struct virtio_vsock_hdr on the wire */
enum { RXQ, TXQ };
enum { REQUEST = 1, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE, CREDIT_REQUEST };

/* the header as the spec lays it out: packed, little endian */
typedef struct {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} Hdr;

static void
le(uint8_t *p, uint64_t v, int n)
{
	while (n--) {
		*p++ = v & 0xff;
		v >>= 8;
	}
}

static uint64_t
unle(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void
enc(const Hdr *h, uint8_t *b)
{
	le(b, h->src_cid, 8);
	le(b + 8, h->dst_cid, 8);
	le(b + 16, h->src_port, 4);
	le(b + 20, h->dst_port, 4);
	le(b + 24, h->len, 4);
	le(b + 28, h->type, 2);
	le(b + 30, h->op, 2);
	le(b + 32, h->flags, 4);
	le(b + 36, h->buf_alloc, 4);
	le(b + 40, h->fwd_cnt, 4);
}

static void
dec(const uint8_t *b, Hdr *h)
{
	h->src_cid = unle(b, 8);
	h->dst_cid = unle(b + 8, 8);
	h->src_port = unle(b + 16, 4);
	h->dst_port = unle(b + 20, 4);
	h->len = unle(b + 24, 4);
	h->type = unle(b + 28, 2);
	h->op = unle(b + 30, 2);
	h->flags = unle(b + 32, 4);
	h->buf_alloc = unle(b + 36, 4);
	h->fwd_cnt = unle(b + 40, 4);
}

static Guest g;
static Vsock *vs;

static Hdr
mkhdr(uint32_t sport, uint32_t dport, int op, uint32_t len, uint32_t alloc,
    uint32_t fwd)
{
	Hdr h;

	memset(&h, 0, sizeof(h));
	h.src_cid = CID;
	h.dst_cid = 2;
	h.src_port = sport;
	h.dst_port = dport;
	h.len = len;
	h.type = 1;
	h.op = op;
	h.buf_alloc = alloc;
	h.fwd_cnt = fwd;
	return h;
}

/* a packet from the guest: header and payload in one readable buffer */
static void
gsend(const Hdr *h, const void *payload, size_t n)
{
	uint8_t *b = malloc(HSZ + n);

	enc(h, b);
	if (n)
		memcpy(b + HSZ, payload, n);
	gbuf(&g, TXQ, b, HSZ + n, 0);
	free(b);
	gkick(&g, TXQ);
}

/* rx buffers: descriptor i of the rx queue is buffer i, reposted after use */
static uint64_t rxaddr[QNUM];

static void
rxpost(uint16_t i)
{
	gdesc(&g, RXQ, i, rxaddr[i], RXSZ, 2, 0);
	gpublish(&g, RXQ, i);
}

static void
rxinit(int n)
{
	int i;

	for (i = 0; i < QNUM; i++)
		rxaddr[i] = BUFS + 0x200000 + i * RXSZ;
	for (i = 0; i < n; i++)
		rxpost(i);
	gkick(&g, RXQ);
}

/* the next packet the device put in the rx queue; the buffer is reposted */
static int
grecv(Hdr *h, void *payload, size_t max)
{
	uint32_t id, len;
	int i;

	for (i = 0; i < 5; i++) {
		if (gused(&g, RXQ, &id, &len) == 1) {
			if (id >= QNUM || len < HSZ || len > RXSZ)
				return -1;
			dec(g.gm.base + rxaddr[id], h);
			if (len != HSZ + h->len)
				return -1;	/* the used length covers header and payload */
			if (payload)
				memcpy(payload, g.gm.base + rxaddr[id] + HSZ,
				    MIN(len - HSZ, max));
			rxpost(id);
			return 1;
		}
		loop_run(2);
	}
	return 0;
}

static void
fresh(void)
{
	loop_run(0);
	gstart(&g, 3);
	g.nextbuf = BUFS;
	rxinit(16);
}

static int ndone, lasterr;

static void
done(void *arg, int err)
{
	(void)arg;
	ndone++;
	lasterr = err;
}

/* host connects to guest port 1024; the guest accepts with buf_alloc */
static int
connected(int *fd, uint32_t *hport, uint32_t alloc)
{
	int sv[2];
	Hdr h, r;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	setnonblock(sv[1], 1);
	ndone = 0;
	lasterr = 99;
	if (vsock_connect(vs, 1024, sv[0], sv[0], done, NULL) < 0)
		return -1;
	if (grecv(&h, NULL, 0) != 1 || h.op != REQUEST || h.dst_port != 1024 ||
	    h.src_cid != 2 || h.dst_cid != CID || h.type != 1)
		return -1;
	*hport = h.src_port;
	r = mkhdr(1024, h.src_port, RESPONSE, 0, alloc, 0);
	gsend(&r, NULL, 0);
	if (ndone != 1 || lasterr != 0)
		return -1;
	*fd = sv[1];
	return 0;
}

static ssize_t
readsome(int fd, void *buf, size_t n)
{
	ssize_t r = -1;
	int i;

	for (i = 0; i < 50; i++) {
		r = read(fd, buf, n);
		if (r >= 0 || errno != EAGAIN)
			return r;
		loop_run(2);
	}
	return r;
}

static void
hostconnect(void)
{
	char buf[64];
	uint32_t hport;
	int fd;
	Hdr h;

	fresh();
	CHECK(connected(&fd, &hport, 65536) == 0);
	CHECK(hport >= 49152);
	/* host to guest */
	CHECK(write(fd, "hello", 5) == 5);
	loop_run(2);
	CHECK(grecv(&h, buf, sizeof(buf)) == 1);
	CHECK(h.op == RW && h.len == 5 && h.src_port == hport &&
	    h.dst_port == 1024 && !memcmp(buf, "hello", 5));
	CHECK(h.buf_alloc > 0);
	/* guest to host */
	h = mkhdr(1024, hport, RW, 5, 65536, 5);
	gsend(&h, "world", 5);
	CHECK(readsome(fd, buf, sizeof(buf)) == 5 && !memcmp(buf, "world", 5));
	/* the guest asks for credit and gets it */
	h = mkhdr(1024, hport, CREDIT_REQUEST, 0, 65536, 5);
	gsend(&h, NULL, 0);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == CREDIT_UPDATE && h.fwd_cnt == 5);
	/* host closes: SHUTDOWN(SEND); guest shuts too: RST, fd closed */
	shutdown(fd, SHUT_WR);
	loop_run(2);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == SHUTDOWN && (h.flags & 2));
	h = mkhdr(1024, hport, SHUTDOWN, 0, 65536, 5);
	h.flags = 3;
	gsend(&h, NULL, 0);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == RST);
	CHECK(readsome(fd, buf, sizeof(buf)) == 0);
	close(fd);
}

static void
refused(void)
{
	int sv[2];
	Hdr h, r;

	fresh();
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	ndone = 0;
	CHECK(vsock_connect(vs, 1024, sv[0], sv[0], done, NULL) == 0);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == REQUEST);
	r = mkhdr(1024, h.src_port, RST, 0, 0, 0);
	gsend(&r, NULL, 0);
	CHECK(ndone == 1 && lasterr == -1);
	/* the device closed its end */
	CHECK(read(sv[1], &r, 1) == 0);
	close(sv[1]);
	/* a guest request to a port nobody listens on */
	h = mkhdr(5555, 7777, REQUEST, 0, 4096, 0);
	gsend(&h, NULL, 0);
	CHECK(grecv(&r, NULL, 0) == 1 && r.op == RST && r.dst_port == 5555 &&
	    r.src_port == 7777);
}

static void
credit(void)
{
	static char big[20000];
	char buf[RXSZ];
	uint32_t hport, got = 0, first;
	int fd, i;
	Hdr h;

	fresh();
	CHECK(connected(&fd, &hport, 4096) == 0);
	memset(big, 'c', sizeof(big));
	CHECK(write(fd, big, sizeof(big)) == sizeof(big));
	for (i = 0; i < 10; i++)
		loop_run(2);
	while (grecv(&h, buf, sizeof(buf)) == 1)
		if (h.op == RW)
			got += h.len;
	CHECK(got == 4096);		/* exactly the guest's buf_alloc */
	first = got;
	/* the guest consumed it all: another 4096 may come */
	h = mkhdr(1024, hport, CREDIT_UPDATE, 0, 4096, 4096);
	gsend(&h, NULL, 0);
	for (i = 0; i < 10; i++)
		loop_run(2);
	while (grecv(&h, buf, sizeof(buf)) == 1)
		if (h.op == RW)
			got += h.len;
	CHECK(got == first + 4096);
	/* a larger window lets the rest through */
	h = mkhdr(1024, hport, CREDIT_UPDATE, 0, 1 << 20, got);
	gsend(&h, NULL, 0);
	for (i = 0; i < 20; i++) {
		loop_run(2);
		while (grecv(&h, buf, sizeof(buf)) == 1)
			if (h.op == RW)
				got += h.len;
	}
	CHECK(got == sizeof(big));
	close(fd);
	loop_run(2);
}

static void
overrun(void)
{
	static char chunk[65536];
	int in[2], out[2], i, rst = 0, other = 0;
	Hdr h;

	fresh();
	/* nobody reads out: husk holds what the pipe cannot, up to its credit */
	CHECK(pipe(in) == 0 && pipe(out) == 0);
	fcntl(out[1], F_SETPIPE_SZ, 4096);
	CHECK(vsock_expect(vs, 3200, in[0], out[1]) == 0);
	h = mkhdr(43000, 3200, REQUEST, 0, 4096, 0);
	gsend(&h, NULL, 0);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == RESPONSE && h.buf_alloc == 256 * 1024);
	for (i = 0; i < 4; i++) {	/* exactly buf_alloc: fine */
		h = mkhdr(43000, 3200, RW, sizeof(chunk), 4096, 0);
		gsend(&h, chunk, sizeof(chunk));
		g.nextbuf = BUFS;
	}
	while (grecv(&h, NULL, 0) == 1)
		other |= h.op != CREDIT_UPDATE;	/* the 4096 in the pipe gave none */
	CHECK(!other);
	h = mkhdr(43000, 3200, RW, 1, 4096, 0);	/* one byte too many */
	gsend(&h, "!", 1);
	while (grecv(&h, NULL, 0) == 1)
		rst |= h.op == RST && h.src_port == 3200 && h.dst_port == 43000;
	CHECK(rst);
	close(in[1]);
	close(out[0]);
}

static int acceptfd = -1;

static void
accepted(void *arg, int fd)
{
	(void)arg;
	acceptfd = fd;
}

static void
listening(void)
{
	char buf[16];
	Hdr h;

	fresh();
	CHECK(vsock_listen(vs, 2000, accepted, NULL) == 0);
	CHECK(vsock_listen(vs, 2000, accepted, NULL) == -1);
	h = mkhdr(40000, 2000, REQUEST, 0, 4096, 0);
	gsend(&h, NULL, 0);
	CHECK(acceptfd >= 0);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == RESPONSE && h.src_port == 2000 &&
	    h.dst_port == 40000);
	setnonblock(acceptfd, 1);
	h = mkhdr(40000, 2000, RW, 3, 4096, 0);
	gsend(&h, "abc", 3);
	CHECK(readsome(acceptfd, buf, sizeof(buf)) == 3 && !memcmp(buf, "abc", 3));
	CHECK(write(acceptfd, "xyz", 3) == 3);
	loop_run(2);
	CHECK(grecv(&h, buf, sizeof(buf)) == 1 && h.op == RW && !memcmp(buf, "xyz", 3));
	/* the guest resets: the host end sees EOF */
	h = mkhdr(40000, 2000, RST, 0, 4096, 0);
	gsend(&h, NULL, 0);
	CHECK(readsome(acceptfd, buf, sizeof(buf)) == 0);
	close(acceptfd);
}

static void
eager(void *arg, int fd)
{
	(void)arg;
	acceptfd = fd;
	if (write(fd, "early", 5) != 5)
		acceptfd = -2;
}

/* RESPONSE goes before any data, even with packets that make husk send */
static void
ordering(void)
{
	uint8_t b[HSZ];
	uint64_t a;
	Hdr h;

	fresh();
	acceptfd = -1;
	CHECK(vsock_listen(vs, 2100, eager, NULL) == 0);
	h = mkhdr(40100, 2100, REQUEST, 0, 4096, 0);
	enc(&h, b);
	a = galloc(&g, HSZ);
	memcpy(g.gm.base + a, b, HSZ);
	gdesc(&g, TXQ, 0, a, HSZ, 0, 0);
	gpublish(&g, TXQ, 0);
	h = mkhdr(40100, 2100, CREDIT_UPDATE, 0, 4096, 0);	/* same batch */
	enc(&h, b);
	a = galloc(&g, HSZ);
	memcpy(g.gm.base + a, b, HSZ);
	gdesc(&g, TXQ, 1, a, HSZ, 0, 0);
	gpublish(&g, TXQ, 1);
	g.nextdesc[TXQ] = 2;
	gkick(&g, TXQ);
	CHECK(acceptfd >= 0);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == RESPONSE);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == RW && h.len == 5);
	if (acceptfd >= 0)
		close(acceptfd);
}

static void
pipes(void)
{
	char buf[64];
	int in[2], out[2], reg;
	ssize_t n;
	Hdr h;

	fresh();
	CHECK(pipe(in) == 0 && pipe(out) == 0);
	setnonblock(out[0], 1);
	/* a regular file cannot be a backend */
	reg = open("/proc/self/exe", O_RDONLY);
	CHECK(vsock_expect(vs, 3000, reg, -1) == -1);
	close(reg);
	CHECK(vsock_expect(vs, 3000, in[0], out[1]) == 0);
	h = mkhdr(41000, 3000, REQUEST, 0, 4096, 0);
	gsend(&h, NULL, 0);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == RESPONSE);
	CHECK(write(in[1], "to guest", 8) == 8);
	loop_run(2);
	CHECK(grecv(&h, buf, sizeof(buf)) == 1 && h.op == RW && h.len == 8 &&
	    !memcmp(buf, "to guest", 8));
	h = mkhdr(41000, 3000, RW, 9, 4096, 8);
	gsend(&h, "from gues", 9);
	h = mkhdr(41000, 3000, RW, 1, 4096, 8);
	gsend(&h, "t", 1);
	/* the guest is done sending: out closes after every byte */
	h = mkhdr(41000, 3000, SHUTDOWN, 0, 4096, 8);
	h.flags = 2;
	gsend(&h, NULL, 0);
	n = readsome(out[0], buf, sizeof(buf));
	CHECK(n == 10 && !memcmp(buf, "from guest", 10));
	CHECK(readsome(out[0], buf, sizeof(buf)) == 0);
	/* the stdin side ends: SHUTDOWN(SEND), then RST as both are done */
	close(in[1]);
	loop_run(2);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == SHUTDOWN && h.flags == 2);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == RST);
	/* the second guest connection to the port finds no backend */
	h = mkhdr(41001, 3000, REQUEST, 0, 4096, 0);
	gsend(&h, NULL, 0);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == RST);
	close(out[0]);
}

static void
layout(void)
{
	uint8_t cfg[8], *b;
	uint32_t id, len, w;
	int sv[2];
	Hdr h;

	fresh();
	CHECK(gr(&g, 0x008) == 19);
	gw(&g, 0x030, 2);
	CHECK(gr(&g, 0x034) == 256);
	gw(&g, 0x030, 3);
	CHECK(gr(&g, 0x034) == 0);	/* three queues only */
	memset(cfg, 0xee, sizeof(cfg));
	virtio_mmio(g.d, 0x100, cfg, 8, 0);
	CHECK(unle(cfg, 8) == CID);
	virtio_mmio(g.d, 0x104, &w, 4, 0);
	CHECK(w == 0);
	memset(cfg, 0, sizeof(cfg));
	virtio_mmio(g.d, 0x100, cfg, 8, 1);	/* read-only */
	virtio_mmio(g.d, 0x100, &w, 4, 0);
	CHECK(w == CID);
	/* the bytes of a REQUEST, by the spec's offsets */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(vsock_connect(vs, 0x01020304, sv[0], sv[0], done, NULL) == 0);
	loop_run(1);
	CHECK(gused(&g, RXQ, &id, &len) == 1 && id < QNUM && len == HSZ);
	if (id >= QNUM)
		return;
	b = g.gm.base + rxaddr[id];
	CHECK(unle(b, 8) == 2 && unle(b + 8, 8) == CID);
	CHECK(unle(b + 16, 4) >= 49152 && unle(b + 20, 4) == 0x01020304);
	CHECK(unle(b + 24, 4) == 0 && unle(b + 28, 2) == 1 && unle(b + 30, 2) == REQUEST);
	CHECK(unle(b + 32, 4) == 0 && unle(b + 36, 4) == 256 * 1024 && unle(b + 40, 4) == 0);
	h = mkhdr(0x01020304, unle(b + 16, 4), RESPONSE, 0, 4096, 0);
	rxpost(id);
	gsend(&h, NULL, 0);
	CHECK(write(sv[1], "xyz", 3) == 3);
	loop_run(2);
	CHECK(gused(&g, RXQ, &id, &len) == 1 && id < QNUM && len == HSZ + 3);
	if (id >= QNUM)
		return;
	b = g.gm.base + rxaddr[id];
	CHECK(unle(b + 24, 4) == 3 && unle(b + 28, 2) == 1 && unle(b + 30, 2) == RW);
	CHECK(!memcmp(b + HSZ, "xyz", 3));
	rxpost(id);
	close(sv[1]);
}

static void
ports(void)
{
	int a[2], b[2], reg;
	uint32_t p1, p2;
	Hdr h;

	fresh();
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, a) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, b) == 0);
	CHECK(vsock_connect(vs, 1024, a[0], a[0], done, NULL) == 0);
	CHECK(vsock_connect(vs, 1024, b[0], b[0], done, NULL) == 0);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == REQUEST);
	p1 = h.src_port;
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == REQUEST);
	p2 = h.src_port;
	CHECK(p1 != p2 && p1 >= 49152 && p2 >= 49152);
	/* a regular file cannot back a connection; the caller keeps it */
	reg = open("/proc/self/exe", O_RDONLY);
	errno = 0;
	CHECK(vsock_connect(vs, 1024, reg, -1, done, NULL) == -1 && errno == EINVAL);
	CHECK(fcntl(reg, F_GETFD) >= 0);
	close(reg);
	close(a[1]);
	close(b[1]);
}

/* the guest sends more than wfd takes at once, then shuts down */
static void
backlog(void)
{
	enum { N = 200 * 1024, CHUNK = 4000 };
	static uint8_t data[N], got[N + 1];
	uint32_t lastfwd = 0, off;
	int in[2], out[2], updates = 0, rst = 0;
	size_t n = 0;
	ssize_t r;
	Hdr h;

	fresh();
	CHECK(pipe(in) == 0 && pipe(out) == 0);
	fcntl(out[1], F_SETPIPE_SZ, 4096);
	setnonblock(out[0], 1);
	CHECK(vsock_expect(vs, 3100, in[0], out[1]) == 0);
	h = mkhdr(42000, 3100, REQUEST, 0, 4096, 0);
	gsend(&h, NULL, 0);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == RESPONSE);
	for (off = 0; off < N; off++)
		data[off] = off * 7 + off / 251;
	for (off = 0; off < N; off += CHUNK) {
		h = mkhdr(42000, 3100, RW, MIN(CHUNK, N - off), 4096, 0);
		gsend(&h, data + off, h.len);
		while (grecv(&h, NULL, 0) == 1) {
			if (h.op == CREDIT_UPDATE) {
				updates++;
				lastfwd = h.fwd_cnt;
			}
			rst |= h.op == RST;
		}
	}
	CHECK(!rst);
	g.nextbuf = BUFS;
	h = mkhdr(42000, 3100, SHUTDOWN, 0, 4096, 0);
	h.flags = 2;
	gsend(&h, NULL, 0);
	/* every byte, in order, and only then EOF */
	while (n <= N && (r = readsome(out[0], got + n, N + 1 - n)) > 0) {
		n += r;
		while (grecv(&h, NULL, 0) == 1) {
			if (h.op == CREDIT_UPDATE) {
				updates++;
				lastfwd = h.fwd_cnt;
			}
			rst |= h.op == RST;
		}
	}
	CHECK(n == N && !memcmp(got, data, N));
	CHECK(readsome(out[0], got, 1) == 0);
	/* the guest heard of the room without asking */
	CHECK(updates >= 2 && lastfwd >= N - 64 * 1024);
	CHECK(!rst);
	close(in[1]);
	loop_run(2);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == SHUTDOWN && h.flags == 2);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == RST && h.src_port == 3100);
	close(out[0]);
}

static void *
resetter(void *arg)
{
	(void)arg;
	gw(&g, 0x070, 0);	/* as a vCPU thread would */
	return NULL;
}

static void
devreset(void)
{
	pthread_t t;
	char buf[8];
	uint32_t hport;
	int fd, sv[2];
	Hdr h;

	fresh();
	CHECK(connected(&fd, &hport, 4096) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	setnonblock(sv[1], 1);
	ndone = 0;
	CHECK(vsock_connect(vs, 1024, sv[0], sv[0], done, NULL) == 0);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == REQUEST);
	CHECK(pthread_create(&t, NULL, resetter, NULL) == 0);
	pthread_join(t, NULL);
	CHECK(gr(&g, 0x070) == 0);
	loop_run(2);
	/* both connections are gone, the pending one told so */
	CHECK(readsome(fd, buf, sizeof(buf)) == 0);
	CHECK(readsome(sv[1], buf, sizeof(buf)) == 0);
	CHECK(ndone == 1 && lasterr == -1);
	close(fd);
	close(sv[1]);
	/* the driver starts over and the device works */
	fresh();
	CHECK(connected(&fd, &hport, 4096) == 0);
	close(fd);
}

static void
scattered(void)
{
	uint8_t b[HSZ + 4];
	uint32_t hport;
	uint64_t a1, a2;
	char buf[8];
	int fd;
	Hdr h;

	fresh();
	CHECK(connected(&fd, &hport, 4096) == 0);
	/* header split over two descriptors, payload in a third */
	h = mkhdr(1024, hport, RW, 4, 4096, 0);
	enc(&h, b);
	memcpy(b + HSZ, "frag", 4);
	a1 = galloc(&g, 20);
	a2 = galloc(&g, HSZ - 20 + 4);
	memcpy(g.gm.base + a1, b, 20);
	memcpy(g.gm.base + a2, b + 20, HSZ - 20 + 4);
	gdesc(&g, TXQ, 10, a1, 20, 1, 11);
	gdesc(&g, TXQ, 11, a2, HSZ - 20, 1, 12);
	gdesc(&g, TXQ, 12, a2 + HSZ - 20, 4, 0, 0);
	gpublish(&g, TXQ, 10);
	gkick(&g, TXQ);
	CHECK(readsome(fd, buf, sizeof(buf)) == 4 && !memcmp(buf, "frag", 4));
	close(fd);
}

static void
malformed(void)
{
	uint8_t shortpkt[20];
	uint32_t hport;
	char buf[8];
	int fd;
	Hdr h;

	fresh();
	CHECK(connected(&fd, &hport, 4096) == 0);
	memset(shortpkt, 0xff, sizeof(shortpkt));
	gbuf(&g, TXQ, shortpkt, sizeof(shortpkt), 0);
	gkick(&g, TXQ);
	CHECK(grecv(&h, NULL, 0) == 0);	/* dropped, nothing said */
	h = mkhdr(1024, hport, RW, 2, 4096, 0);
	h.src_cid = 99;			/* not the guest's cid */
	gsend(&h, "no", 2);
	CHECK(readsome(fd, buf, sizeof(buf)) < 0);
	h = mkhdr(1024, hport, RW, 2, 4096, 0);
	h.dst_cid = 7;			/* not for the host */
	gsend(&h, "no", 2);
	CHECK(readsome(fd, buf, sizeof(buf)) < 0);
	CHECK(grecv(&h, NULL, 0) == 0);
	h = mkhdr(1024, hport + 1, RW, 2, 4096, 0);	/* no such connection */
	gsend(&h, "no", 2);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == RST && h.dst_port == 1024 &&
	    h.src_port == hport + 1);
	h = mkhdr(1024, hport, RW, 100, 4096, 0);	/* claims more than it carries */
	gsend(&h, "short", 5);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == RST);
	CHECK(readsome(fd, buf, sizeof(buf)) == 0);	/* connection gone */
	close(fd);
	h = mkhdr(1024, 1, 99, 0, 4096, 0);	/* unknown op, no connection */
	gsend(&h, NULL, 0);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == RST);
	h = mkhdr(1024, 1, REQUEST, 0, 4096, 0);
	h.type = 2;			/* SEQPACKET: not offered */
	gsend(&h, NULL, 0);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == RST);
	/* the device still works */
	CHECK(connected(&fd, &hport, 4096) == 0);
	close(fd);
}

static void
norxbuffers(void)
{
	char buf[64];
	uint32_t hport;
	int fd, sv[2];
	Hdr h;

	/* packets wait while the guest posts no rx buffer */
	loop_run(0);
	gstart(&g, 3);
	g.nextbuf = BUFS;
	rxinit(0);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	CHECK(vsock_connect(vs, 1024, sv[0], sv[0], done, NULL) == 0);
	CHECK(grecv(&h, NULL, 0) == 0);
	rxpost(0);
	gkick(&g, RXQ);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == REQUEST);
	hport = h.src_port;
	h = mkhdr(1024, hport, RESPONSE, 0, 4096, 0);
	gsend(&h, NULL, 0);
	fd = sv[1];
	CHECK(write(fd, "wait", 4) == 4);
	loop_run(2);
	/* buffer 0 was reposted by grecv: the data arrives */
	CHECK(grecv(&h, buf, sizeof(buf)) == 1 && h.op == RW && !memcmp(buf, "wait", 4));
	close(fd);
}

/*
 * containerd's stdin FIFO: opened before its writer, it reads as EOF but
 * does not poll readable; the stream must wait for the writer, not end.
 */
static void
latefifo(void)
{
	char path[] = "/tmp/husk-vsock-test.XXXXXX", fifo[64], buf[16];
	Hdr h;
	int rfd, wfd, n = 0;

	fresh();
	CHECK(mkdtemp(path) != NULL);
	snprintf(fifo, sizeof(fifo), "%s/stdin", path);
	CHECK(mkfifo(fifo, 0600) == 0);
	CHECK((rfd = open(fifo, O_RDONLY | O_NONBLOCK)) >= 0);
	CHECK(vsock_expect(vs, 3300, rfd, -1) == 0);
	h = mkhdr(44000, 3300, REQUEST, 0, 4096, 0);
	gsend(&h, NULL, 0);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == RESPONSE);
	h = mkhdr(44000, 3300, CREDIT_UPDATE, 0, 4096, 0);
	gsend(&h, NULL, 0);
	loop_run(2);
	CHECK(grecv(&h, NULL, 0) == 0);	/* no SHUTDOWN: no writer yet */
	CHECK((wfd = open(fifo, O_WRONLY)) >= 0);
	CHECK(write(wfd, "late", 4) == 4);
	close(wfd);
	loop_run(2);
	CHECK(grecv(&h, buf, sizeof(buf)) == 1 && h.op == RW && h.len == 4 &&
	    !memcmp(buf, "late", 4));
	while (n < 50 && grecv(&h, NULL, 0) != 1) {
		loop_run(2);
		n++;
	}
	CHECK(h.op == SHUTDOWN && h.flags == 2);
	unlink(fifo);
	rmdir(path);
}

/* an expected stream the guest never opens: unexpect closes its fd */
static void
unexpect(void)
{
	Hdr h;
	int p[2];

	fresh();
	CHECK(pipe(p) == 0);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	CHECK(vsock_expect(vs, 3400, p[0], -1) == 0);
	vsock_unexpect(vs, 3400);
	vsock_unexpect(vs, 3401);	/* nothing there: no harm */
	CHECK(fcntl(p[0], F_GETFD) < 0 && errno == EBADF);
	close(p[1]);
	h = mkhdr(44100, 3400, REQUEST, 0, 4096, 0);
	gsend(&h, NULL, 0);
	CHECK(grecv(&h, NULL, 0) == 1 && h.op == RST);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	loop_init();
	loglevel = LERR;
	gbuffer(&g, GMEM);
	if (!(vs = vsock_new(&g.gm, CID)))
		return 2;
	g.d = vsock_dev(vs);
	RUN(layout);
	RUN(hostconnect);
	RUN(ports);
	RUN(refused);
	RUN(credit);
	RUN(overrun);
	RUN(listening);
	RUN(ordering);
	RUN(pipes);
	RUN(backlog);
	RUN(devreset);
	RUN(scattered);
	RUN(malformed);
	RUN(norxbuffers);
	RUN(latefifo);
	RUN(unexpect);
	gw(&g, 0x070, 0);
	loop_run(0);
	free(g.gm.base);
	return TDONE();
}
