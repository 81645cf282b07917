/* See LICENSE file for copyright and license details. */
/*
 * vsock.c against a fake guest driver: connections both ways, data both
 * ways, the credit logic, shutdown and reset, fd backends (socketpairs,
 * pipes), and malformed packets from the guest; then issue 9's hostile
 * guest: credit withheld, the control queue full, log lines provoked, and
 * 1 GiB of ttrpc frames pushed into a real Ttrpc (VmHWM must stay under
 * 64 MiB, plain and under ASan).
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

/* send n packets to ports nobody uses, in batches: each asks for an RST */
static void qkick(int q);

static void
strays(int n)
{
	uint8_t b[HSZ];
	Hdr h;
	int i;

	for (i = 0; i < n; i++) {
		h = mkhdr(50000 + i, 60000, CREDIT_REQUEST, 0, 0, 0);
		enc(&h, b);
		gbuf(&g, TXQ, b, HSZ, 0);
		if (i % 48 == 47 || i == n - 1) {
			gkick(&g, TXQ);
			g.nextbuf = BUFS;
		}
	}
}

/*
 * A credit update the device could not queue (the guest posted no rx
 * buffers and the control queue was full) is still owed: it goes out once
 * the guest posts buffers again. The old code counted it as sent, and the
 * guest, out of credit, waited forever.
 */
static void
creditresend(void)
{
	static char chunk[65536], in[65536];
	uint32_t hport, id, len, fwd = 0;
	int fd, i, k, free[QNUM], nfree = 0, nrst = 0;
	ssize_t n;
	size_t got;
	Hdr h;

	fresh();
	CHECK(connected(&fd, &hport, 65536) == 0);
	/* use up the 16 posted rx buffers, then fill the control queue */
	strays(16 + 1024 + 10);
	while (gused(&g, RXQ, &id, &len) == 1) {
		dec(g.gm.base + rxaddr[id], &h);
		nrst += h.op == RST;
		free[nfree++] = id;
	}
	CHECK(nfree == 16 && nrst == 16);
	/* 64 KiB the host consumes at once: a credit update is due */
	h = mkhdr(1024, hport, RW, sizeof(chunk), 65536, 0);
	gsend(&h, chunk, sizeof(chunk));
	g.nextbuf = BUFS;
	for (got = 0, i = 0; i < 100 && got < sizeof(chunk); i++)
		if ((n = readsome(fd, in, sizeof(in))) > 0)
			got += n;
	CHECK(got == sizeof(chunk));
	/* rx buffers again: the RSTs, then the credit update */
	for (i = nfree; i < QNUM; i++)
		free[nfree++] = i;
	for (k = 0; k < 100 && fwd != sizeof(chunk); k++) {
		while (nfree)
			rxpost(free[--nfree]);
		gkick(&g, RXQ);
		while (gused(&g, RXQ, &id, &len) == 1) {
			dec(g.gm.base + rxaddr[id], &h);
			if (h.op == RST)
				nrst++;
			if (h.op == CREDIT_UPDATE && h.src_port == hport)
				fwd = h.fwd_cnt;
			free[nfree++] = id;
		}
	}
	CHECK(nrst == 16 + 1024);	/* the queue's cap: 10 more were dropped */
	CHECK(fwd == sizeof(chunk));
	while (nfree)
		rxpost(free[--nfree]);
	gkick(&g, RXQ);
	close(fd);
	loop_run(2);
}

/*
 * The hostile guest of issue 9 against a real Ttrpc: it accepts the
 * host's connection with buf_alloc 0 (it never takes a reply), posts rx
 * buffers only for control packets, and pushes ttrpc frames as fast as
 * the host's credit lets it. The stream: 300,000 empty requests, a
 * malformed 512 KiB request, 512 KiB of a data frame, an answer nobody
 * asked for, repeated.
 */
#define TXSLOT	(HSZ + 65536)
#define TXAT(i)	(BUFS + (uint64_t)(i) * 0x10100)	/* 4 slots below the rx buffers */

typedef struct {
	uint32_t hport;
	uint64_t sent;		/* stream bytes sent */
	uint32_t hostfwd;	/* the host's fwd_cnt, as last told */
	int reset;
	uint8_t *rw;		/* RW payloads the host sent, if any */
	size_t nrw, rwcap;
} Flow;

static uint8_t *unit;
static size_t unitlen;

static size_t
tframe(uint8_t *b, uint32_t len, uint32_t id, int type)
{
	b[0] = len >> 24, b[1] = len >> 16, b[2] = len >> 8, b[3] = len;
	b[4] = id >> 24, b[5] = id >> 16, b[6] = id >> 8, b[7] = id;
	b[8] = type;
	b[9] = 0;
	return 10;
}

static void
mkunit(void)
{
	size_t n = 0;
	uint32_t i;

	unitlen = 300000 * 10 + 3 * 10 + 2 * (512 << 10) + 1000;
	unit = malloc(unitlen);
	for (i = 0; i < 300000; i++)
		n += tframe(unit + n, 0, 2 * i + 1, 1);
	n += tframe(unit + n, 512 << 10, 2 * i + 1, 1);
	memset(unit + n, 0xff, 512 << 10);	/* not protobuf */
	n += 512 << 10;
	n += tframe(unit + n, 512 << 10, 2 * i + 3, 3);
	memset(unit + n, 0x5a, 512 << 10);
	n += 512 << 10;
	n += tframe(unit + n, 1000, 99, 2);
	memset(unit + n, 0x0a, 1000);
	n += 1000;
	if (n != unitlen)
		abort();
}

/* the rx queue: control packets (and RW payloads) for the flow */
static void
flowrx(Flow *f)
{
	uint32_t id, len;
	int any = 0;
	Hdr h;

	while (gused(&g, RXQ, &id, &len) == 1) {
		any = 1;
		if (id >= QNUM || len < HSZ)
			abort();
		dec(g.gm.base + rxaddr[id], &h);
		if (h.src_port == f->hport && h.dst_port == 1024) {
			f->hostfwd = h.fwd_cnt;
			if (h.op == RST)
				f->reset = 1;
			if (h.op == RW && h.len && h.len <= len - HSZ) {
				if (f->nrw + h.len > f->rwcap) {
					f->rwcap = 2 * (f->nrw + h.len);
					f->rw = realloc(f->rw, f->rwcap);
				}
				memcpy(f->rw + f->nrw, g.gm.base + rxaddr[id] + HSZ, h.len);
				f->nrw += h.len;
			}
		}
		rxpost(id);
	}
	if (any)
		qkick(RXQ);
}

/* one RW packet of the stream, k bytes at most; returns the bytes sent */
static uint32_t
flowtx(Flow *f, int slot, uint32_t k, uint32_t alloc, uint32_t fwd)
{
	uint64_t a = TXAT(slot);
	size_t off = f->sent % unitlen;
	Hdr h;

	k = MIN(k, 65536);
	k = MIN(k, unitlen - off);
	h = mkhdr(1024, f->hport, RW, k, alloc, fwd);
	enc(&h, g.gm.base + a);
	memcpy(g.gm.base + a + HSZ, unit + off, k);
	gdesc(&g, TXQ, g.nextdesc[TXQ]++ % g.num[TXQ], a, HSZ + k, 0, 0);
	gpublish(&g, TXQ, (g.nextdesc[TXQ] - 1) % g.num[TXQ]);
	f->sent += k;
	return k;
}

/*
 * Push up to limit stream bytes within the host's credit. Returns 0 when
 * all went, 1 when the host stopped granting credit (backpressure), -1 on
 * a reset.
 */
static int
flowpush(Flow *f, uint64_t limit)
{
	uint32_t id, len, room, txout = 0, lastfwd = f->hostfwd;
	int idle = 0, slot;

	while (f->sent < limit) {
		flowrx(f);
		while (gused(&g, TXQ, &id, &len) == 1)
			txout--;
		if (f->reset)
			return -1;
		room = 256 * 1024 - (uint32_t)(f->sent - f->hostfwd);
		if (room > 256 * 1024)
			room = 0;	/* the host is owed: never happens */
		for (slot = 0; !txout && room && slot < 4 && f->sent < limit; slot++) {
			room -= flowtx(f, slot, MIN(room, limit - f->sent), 0, 0);
			txout++;
		}
		if (slot)
			qkick(TXQ);
		if (slot || f->hostfwd != lastfwd) {
			idle = 0;
			lastfwd = f->hostfwd;
			loop_run(0);
		} else if (++idle > 200) {
			return 1;
		} else {
			loop_run(idle > 20);
		}
	}
	return 0;
}

static void
qkick(int q)
{
	uint64_t one = 1;

	if (write(g.d->vq[q].kickfd, &one, 8) != 8)
		abort();
}

/* the process's peak resident memory, in KiB */
static long
vmhwm(void)
{
	char line[256];
	long kb = -1;
	FILE *fp;

	if (!(fp = fopen("/proc/self/status", "r")))
		return -1;
	while (fgets(line, sizeof(line), fp))
		if (!strncmp(line, "VmHWM:", 6))
			kb = atol(line + 6);
	fclose(fp);
	return kb;
}

static int nlinkclosed;

static void
linkclosed(Ttrpc *t, void *arg)
{
	(void)arg;
	nlinkclosed++;
	ttrpc_close(t);
}

/* the guest's end of a Flow: accept the host's connection with buf_alloc */
static int
flowaccept(Flow *f, int *fd, uint32_t alloc)
{
	memset(f, 0, sizeof(*f));
	fresh();
	g.nextdesc[TXQ] = 0;
	if (connected(fd, &f->hport, alloc) < 0)
		return -1;
	g.nextbuf = BUFS;
	/* the RESPONSE's tx buffer came back; start counting afresh */
	while (gused(&g, TXQ, &(uint32_t){ 0 }, &(uint32_t){ 0 }) == 1)
		;
	return 0;
}

static void
echo(TtrpcCall *c, const uint8_t *req, size_t n)
{
	ttrpc_reply(c, RPC_OK, NULL, req, n);
}

static const TtrpcMethod methods[] = {
	/* service  method  handler */
	{ "t.Svc",  "Echo", echo },
};

static int ncalls, callcode;

static void
calldone(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	(void)arg;
	(void)msg;
	(void)resp;
	(void)n;
	ncalls++;
	callcode = code;
}

/*
 * Issue 9, defect 9: what a guest can make the device say is rate-limited.
 * 100 refused QueueReady writes and 100 control packets dropped at the
 * queue's cap give at most LOG_BURST lines each (and a count).
 */
static void
logflood(void)
{
	char line[512];
	int i, err, nrefused = 0, ndropped = 0, nlines = 0;
	FILE *fp;

	fresh();
	rxinit(0);
	fflush(stderr);
	err = dup(2);
	fp = tmpfile();
	dup2(fileno(fp), 2);
	loglevel = LWARN;
	for (i = 0; i < 100; i++) {
		gw(&g, 0x030, 2);	/* the event queue: a size that is no power of 2 */
		gw(&g, 0x044, 0);
		gw(&g, 0x038, 3);
		gw(&g, 0x044, 1);
	}
	strays(1024 + 100);
	loglevel = LERR;
	fflush(stderr);
	dup2(err, 2);
	close(err);
	rewind(fp);
	while (fgets(line, sizeof(line), fp)) {
		nlines++;
		nrefused += !!strstr(line, "refused");
		ndropped += !!strstr(line, "dropped");
	}
	fclose(fp);
	CHECK(nrefused >= 1 && nrefused <= LOG_BURST);
	CHECK(ndropped >= 1 && ndropped <= LOG_BURST);
	CHECK(nlines <= 2 * LOG_BURST + 2);
	fresh();
}

/* 100 credit requests while the guest posts no rx buffers: one answer waits */
static void
creditcoalesce(void)
{
	uint32_t hport, id, len;
	int fd, i, nupd = 0, nfree = 0, free[QNUM];
	uint8_t b[HSZ];
	Hdr h;

	fresh();
	CHECK(connected(&fd, &hport, 65536) == 0);
	strays(16);	/* uses up the posted rx buffers */
	while (gused(&g, RXQ, &id, &len) == 1)
		free[nfree++] = id;
	CHECK(nfree == 16);
	for (i = 0; i < 100; i++) {
		h = mkhdr(1024, hport, CREDIT_REQUEST, 0, 65536, 0);
		enc(&h, b);
		gbuf(&g, TXQ, b, HSZ, 0);
		if (i % 48 == 47 || i == 99) {
			gkick(&g, TXQ);
			g.nextbuf = BUFS;
		}
	}
	while (nfree)
		rxpost(free[--nfree]);
	gkick(&g, RXQ);
	while (grecv(&h, NULL, 0) == 1)
		nupd += h.op == CREDIT_UPDATE && h.src_port == hport;
	CHECK(nupd == 1);
	close(fd);
	loop_run(2);
}

/* buf_alloc 0: the device does not read the host's fd at all */
static void
zerocredit(void)
{
	static char chunk[65536];
	uint32_t hport;
	size_t wrote = 0;
	int fd, i, nrw = 0;
	ssize_t n;
	Hdr h;

	fresh();
	CHECK(connected(&fd, &hport, 0) == 0);
	for (i = 0; i < 200; i++) {
		if ((n = write(fd, chunk, sizeof(chunk))) > 0)
			wrote += n;
		loop_run(0);
	}
	while (grecv(&h, NULL, 0) == 1)
		nrw += h.op == RW;
	CHECK(nrw == 0);
	CHECK(wrote < 2 << 20);	/* the socket's buffers, no more */
	close(fd);
	loop_run(2);
}

#ifndef FLOOD
#define FLOOD	(1ull << 30)
#endif
#if defined(__SANITIZE_ADDRESS__)
/*
 * ASan keeps freed blocks in a quarantine, 256 MiB by default: the 512 KiB
 * frame bodies the flood allocates and frees would sit there and count as
 * resident. 16 MiB of it still catches a use after free here.
 */
const char *
__asan_default_options(void)
{
	return "quarantine_size_mb=16";
}
#endif

/*
 * Issue 9, must show 2: 1 GiB from a guest that grants no credit, into
 * the shim's agent link (a Ttrpc with no methods): the process stays
 * under 64 MiB, the link still makes calls, the loop serves others.
 */
static void
agentflood(void)
{
	uint8_t b[64];
	Flow f;
	Ttrpc *t, *srv, *cli;
	uint32_t id = 0;
	size_t off, len, n;
	int fd, sv[2], i, st, nresp = 0, gotreq = 0;
	long hwm0, hwm;
	uint64_t t0, total;

	if (!unit)
		mkunit();
	hwm0 = vmhwm();
	CHECK(flowaccept(&f, &fd, 0) == 0);
	CHECK((t = ttrpc_new(fd, NULL, 0, NULL)) != NULL);
	ttrpc_onclose(t, linkclosed);
	nlinkclosed = 0;
	t0 = nowns();
	total = (FLOOD + unitlen - 1) / unitlen * unitlen;	/* whole frames */
	st = flowpush(&f, total);
	hwm = vmhwm();
	printf("  agentflood: %llu MiB in %.1f s, VmHWM %ld KiB (%ld before)\n",
	    (unsigned long long)(f.sent >> 20), (nowns() - t0) / 1e9, hwm, hwm0);
	CHECK(st == 0 && f.sent == total);
	CHECK(hwm > 0 && hwm < 64 * 1024);
	CHECK(nlinkclosed == 0 && !f.reset);
	/* the link still calls the agent: the guest grants credit and answers */
	ncalls = 0;
	CHECK(ttrpc_call(t, "husk.agent.v1.Agent", "Health", NULL, 0, 0,
	    calldone, NULL) == 0);
	{
		uint8_t p[HSZ];
		Hdr h = mkhdr(1024, f.hport, CREDIT_UPDATE, 0, 1 << 20, 0);

		enc(&h, p);
		gdesc(&g, TXQ, g.nextdesc[TXQ]++ % g.num[TXQ], TXAT(0), HSZ, 0, 0);
		memcpy(g.gm.base + TXAT(0), p, HSZ);
		gpublish(&g, TXQ, (g.nextdesc[TXQ] - 1) % g.num[TXQ]);
		qkick(TXQ);
	}
	for (i = 0; i < 200 && !gotreq; i++) {
		loop_run(1);
		flowrx(&f);
		for (off = 0; f.nrw - off >= 10; off += 10 + len) {
			len = (size_t)f.rw[off] << 24 | f.rw[off + 1] << 16 |
			    f.rw[off + 2] << 8 | f.rw[off + 3];
			if (f.nrw - off < 10 + len)
				break;
			if (f.rw[off + 8] == 2)
				nresp++;
			if (f.rw[off + 8] == 1) {
				gotreq = 1;
				id = (uint32_t)f.rw[off + 4] << 24 | f.rw[off + 5] << 16 |
				    f.rw[off + 6] << 8 | f.rw[off + 7];
			}
		}
		if (off) {
			memmove(f.rw, f.rw + off, f.nrw - off);
			f.nrw -= off;
		}
	}
	CHECK(nresp == 16);	/* the stray requests answered: at most 16 */
	CHECK(gotreq);
	if (gotreq) {
		n = tframe(b, 0, id, 2);
		memcpy(g.gm.base + TXAT(0) + HSZ, b, n);
		{
			Hdr h = mkhdr(1024, f.hport, RW, n, 1 << 20, 0);
			enc(&h, g.gm.base + TXAT(0));
		}
		gdesc(&g, TXQ, g.nextdesc[TXQ]++ % g.num[TXQ], TXAT(0), HSZ + n, 0, 0);
		gpublish(&g, TXQ, (g.nextdesc[TXQ] - 1) % g.num[TXQ]);
		qkick(TXQ);
		for (i = 0; i < 200 && !ncalls; i++)
			loop_run(1);
	}
	CHECK(ncalls == 1 && callcode == RPC_OK);
	/* and the loop serves another connection */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	srv = ttrpc_new(sv[0], methods, LEN(methods), NULL);
	cli = ttrpc_new(sv[1], NULL, 0, NULL);
	ncalls = 0;
	CHECK(ttrpc_call(cli, "t.Svc", "Echo", "hi", 2, 0, calldone, NULL) == 0);
	for (i = 0; i < 200 && !ncalls; i++)
		loop_run(1);
	CHECK(ncalls == 1 && callcode == RPC_OK);
	ttrpc_close(cli);
	ttrpc_close(srv);
	ttrpc_close(t);
	loop_run(2);
	free(f.rw);
}

/*
 * The same guest against a ttrpc server (as the agent link would be if it
 * served, or containerd's): the replies cannot leave, so the host stops
 * reading its fd, the device's backlog fills, and the guest gets no more
 * credit: it stalls after a bounded amount. A guest that then resets the
 * connection frees it.
 */
static void
serverstall(void)
{
	Flow f;
	Ttrpc *t;
	int fd, st, i;
	long hwm;
	Hdr h;

	if (!unit)
		mkunit();
	CHECK(flowaccept(&f, &fd, 0) == 0);
	CHECK((t = ttrpc_new(fd, methods, LEN(methods), NULL)) != NULL);
	ttrpc_onclose(t, linkclosed);
	nlinkclosed = 0;
	st = flowpush(&f, 64 << 20);
	hwm = vmhwm();
	printf("  serverstall: the guest stalled after %llu KiB, VmHWM %ld KiB\n",
	    (unsigned long long)(f.sent >> 10), hwm);
	CHECK(st == 1 && f.sent < 2 << 20);
	CHECK(hwm > 0 && hwm < 64 * 1024);
	CHECK(nlinkclosed == 0);
	h = mkhdr(1024, f.hport, RST, 0, 0, 0);
	enc(&h, g.gm.base + TXAT(0));
	gdesc(&g, TXQ, g.nextdesc[TXQ]++ % g.num[TXQ], TXAT(0), HSZ, 0, 0);
	gpublish(&g, TXQ, (g.nextdesc[TXQ] - 1) % g.num[TXQ]);
	qkick(TXQ);
	for (i = 0; i < 200 && !nlinkclosed; i++)
		loop_run(1);
	CHECK(nlinkclosed == 1);
	loop_run(2);
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
	RUN(creditresend);
	RUN(creditcoalesce);
	RUN(zerocredit);
	RUN(logflood);
	RUN(serverstall);
	RUN(agentflood);
	gw(&g, 0x070, 0);
	loop_run(0);
	free(g.gm.base);
	return TDONE();
}
