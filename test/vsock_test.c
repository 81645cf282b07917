/* See LICENSE file for copyright and license details. */
/*
 * vsock.c against a fake guest driver: connections both ways, data both
 * ways, the credit logic, shutdown and reset, fd backends (socketpairs,
 * pipes), and malformed packets from the guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <linux/virtio_vsock.h>

#include "../husk.h"
#include "t.h"
#include "guest.h"

#define CID	3
#define RXSZ	4096
enum { RXQ, TXQ };
enum { REQUEST = 1, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE, CREDIT_REQUEST };

typedef struct virtio_vsock_hdr Hdr;

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
	uint8_t *b = malloc(sizeof(*h) + n);

	memcpy(b, h, sizeof(*h));
	if (n)
		memcpy(b + sizeof(*h), payload, n);
	gbuf(&g, TXQ, b, sizeof(*h) + n, 0);
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
			if (id >= QNUM || len < sizeof(*h) || len > RXSZ)
				return -1;
			memcpy(h, g.gm.base + rxaddr[id], sizeof(*h));
			if (payload)
				memcpy(payload, g.gm.base + rxaddr[id] + sizeof(*h),
				    MIN(len - sizeof(*h), max));
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
	static char chunk[60000];
	uint32_t hport;
	int fd, i, rst = 0;
	Hdr h;

	fresh();
	CHECK(connected(&fd, &hport, 65536) == 0);
	/* the host never reads fd: the guest must stop at husk's credit */
	for (i = 0; i < 12 && !rst; i++) {
		h = mkhdr(1024, hport, RW, sizeof(chunk), 65536, 0);
		gsend(&h, chunk, sizeof(chunk));
		g.nextbuf = BUFS;
		while (grecv(&h, NULL, 0) == 1)
			if (h.op == RST)
				rst = 1;
	}
	CHECK(rst);
	CHECK(i > 4);			/* not before the credit was used */
	close(fd);
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
	RUN(hostconnect);
	RUN(refused);
	RUN(credit);
	RUN(overrun);
	RUN(listening);
	RUN(pipes);
	RUN(malformed);
	RUN(norxbuffers);
	gw(&g, 0x070, 0);
	loop_run(0);
	free(g.gm.base);
	return TDONE();
}
