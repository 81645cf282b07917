/* See LICENSE file for copyright and license details. */
/*
 * vsock.c driven by a hostile guest: the input is a program for the fake
 * driver in vdrv.h. Besides the shared ops (raw writes to the descriptor
 * tables and rings, heads published at will, kicks, register writes,
 * resets) it sends packets on the tx queue with header fields of its
 * choosing, posts rx buffers of any size, and plays the host side: it
 * writes to and closes the fds behind connections, connects to guest
 * ports and arms vsock_expect. Host port 1024 listens; 1025 is expected.
 * Every run starts from a reset device and ends with one, and all the
 * host fds it held closed; the fd count must come back where it was.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>

#include "../../husk.h"
#include "fuzz.h"
#include "vdrv.h"

#define CID	3
#define HSZ	44
#define MAXH	16
enum { RXQ, TXQ, EVQ };

static Drv drv;
static Vsock *vs;
static int hfd[MAXH], nh;	/* our ends of the connections' fds */
static int basefd;

static void
put(uint8_t *p, uint64_t v, int n)
{
	while (n--) {
		*p++ = v & 0xff;
		v >>= 8;
	}
}

static void
keep(int fd)
{
	if (nh == MAXH) {
		close(fd);
		return;
	}
	setnonblock(fd, 1);
	hfd[nh++] = fd;
}

static void
accepted(void *arg, int fd)
{
	(void)arg;
	keep(fd);
}

static void
connected(void *arg, int err)
{
	(void)arg;
	(void)err;
}

static void
drainhost(void)
{
	uint8_t buf[8192];
	int i;

	for (i = 0; i < nh; i++)
		while (hfd[i] >= 0 && read(hfd[i], buf, sizeof(buf)) > 0)
			;
}

static uint32_t
port(In *in)
{
	static const uint32_t ports[] = { 1024, 1025, 1026, 49152, 49153, 49154 };
	unsigned b = in8(in);

	return b < 240 ? ports[b % LEN(ports)] : in32(in);
}

/* a packet on the tx queue: a header of the input's choosing, a payload */
static void
packet(In *in)
{
	uint8_t h[HSZ], *b;
	const uint8_t *pay;
	unsigned form = in8(in), op = in8(in);
	size_t n, cut;
	Seg s[3];

	memset(h, 0, sizeof(h));
	put(h, form & 1 ? in32(in) : CID, 8);
	put(h + 8, form & 2 ? in32(in) : VSOCK_HOST_CID, 8);
	put(h + 16, form & 4 ? in32(in) : 40000 + in8(in) % 4, 4);
	put(h + 20, port(in), 4);
	put(h + 28, form & 8 ? in16(in) : 1, 2);	/* type: stream */
	put(h + 30, op < 240 ? op % 8 : op, 2);
	put(h + 32, in8(in) % 4, 4);			/* flags: shutdown bits */
	put(h + 36, form & 16 ? in32(in) : 65536, 4);	/* buf_alloc */
	put(h + 40, form & 32 ? in32(in) : 0, 4);	/* fwd_cnt */
	pay = inbytes(in, in16(in) % 8192, &n);
	put(h + 24, form & 64 ? in32(in) : n, 4);	/* len */
	b = malloc(HSZ + n + 1);
	memcpy(b, h, HSZ);
	memcpy(b + HSZ, pay, n);
	if (form & 128) {	/* header and payload split, or the header cut */
		cut = in8(in) % (HSZ + n + 1);
		s[0].p = b;
		s[0].n = cut;
		s[1].p = b + cut;
		s[1].n = HSZ + n - cut;
		dchain(&drv, TXQ, s, 2);
	} else {
		s[0].p = b;
		s[0].n = HSZ + n;
		dchain(&drv, TXQ, s, 1);
	}
	free(b);
	dkick(&drv, TXQ);
}

static void
rxpost(In *in)
{
	static const size_t sizes[] = { 4096, HSZ, 64, 65536, 0, 1 };
	unsigned i, n = 1 + in8(in) % 8, b;
	Seg s[2];

	for (i = 0; i < n; i++) {
		b = in8(in);
		s[0].p = s[1].p = NULL;
		s[0].n = b < 240 ? sizes[b % LEN(sizes)] : in16(in);
		s[1].n = 4096;
		dchain(&drv, RXQ, s, b & 1 ? 2 : 1);
	}
	dkick(&drv, RXQ);
	drainhost();
}

static void
hostconnect(In *in)
{
	int sv[2], how = in8(in), p[2];

	if (how & 1) {
		if (pipe2(p, O_CLOEXEC) < 0)
			abort();
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			abort();
		/* the device reads the pipe's read end, writes sv[0] */
		if ((how & 2 ? vsock_expect(vs, 1025, p[0], sv[0]) :
		    vsock_connect(vs, port(in), p[0], sv[0], connected, NULL)) < 0) {
			close(p[0]);
			close(sv[0]);
		}
		keep(p[1]);
		keep(sv[1]);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	if ((how & 2 ? vsock_expect(vs, 1025, sv[0], sv[0]) :
	    vsock_connect(vs, port(in), sv[0], sv[0], connected, NULL)) < 0)
		close(sv[0]);
	keep(sv[1]);
}

static void
hostio(In *in, int op)
{
	const uint8_t *p;
	unsigned i = in8(in);
	size_t n;

	if (!nh)
		return;
	i %= nh;
	if (hfd[i] < 0)
		return;
	if (op == 0) {
		p = inbytes(in, in16(in) % 65536, &n);
		if (write(hfd[i], p, n) < 0 && errno != EAGAIN && errno != EPIPE &&
		    errno != EBADF && errno != ECONNRESET && errno != EINVAL)
			abort();
	} else if (op == 1) {
		close(hfd[i]);
		hfd[i] = -1;
	} else {
		shutdown(hfd[i], SHUT_WR);
	}
	dsettle();
}

static void
fuzzinit(void)
{
	signal(SIGPIPE, SIG_IGN);
	loglevel = -1;
	if (loop_init() < 0)
		abort();
	drv.gm.size = DMEM;
	if (!(drv.gm.base = calloc(1, DMEM)))
		abort();
	if (!(vs = vsock_new(&drv.gm, CID)))
		abort();
	drv.d = vsock_dev(vs);
	drv.nq = 3;
	if (vsock_listen(vs, 1024, accepted, NULL) < 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	In in = { data, size };
	unsigned op;
	int i, fd;

	nh = 0;
	basefd = dup(0);
	close(basefd);
	if (dup_(&drv) < 0)
		abort();
	while (in.n) {
		op = in8(&in) % (DNOPS + 8);
		if (dop(&drv, &in, op))
			continue;
		switch (op - DNOPS) {
		case 0:
		case 1:
		case 2: packet(&in); break;
		case 3: rxpost(&in); break;
		case 4: hostconnect(&in); break;
		case 5: hostio(&in, 0); break;
		case 6: hostio(&in, 1 + in8(&in) % 2); break;
		case 7: dsettle(); drainhost(); break;
		}
	}
	/* the end: a reset drops every connection; we close what we held */
	dw(&drv, 0x070, 0);
	dsettle();
	vsock_unexpect(vs, 1025);
	for (i = 0; i < nh; i++)
		if (hfd[i] >= 0)
			close(hfd[i]);
	dsettle();
	if ((fd = dup(0)) != basefd) {
		fprintf(stderr, "vsock fuzz: fd %d free, %d at the start: fds leak\n",
		    fd, basefd);
		abort();
	}
	close(fd);
	return 0;
}
