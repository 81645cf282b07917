/* See LICENSE file for copyright and license details. */
/*
 * ttrpc.c's framing and dispatch on bytes from a peer: a Ttrpc on one end
 * of a socketpair, driven by the loop, the fuzz input written to the
 * other end in chunks while everything the Ttrpc sends back is read and
 * thrown away. The first byte chooses the shape: a server with a method
 * table (handlers that answer at once, answer with an error, or answer
 * later, also after the peer left), a client with calls in flight whose
 * responses the input forges, or both on one connection; and the chunk
 * size, so frames arrive whole or in pieces.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "../../husk.h"
#include "fuzz.h"

#define MAXLATER	64

static TtrpcCall *later[MAXLATER];
static int nlater, closed, ndone;

static void
now(TtrpcCall *c, const uint8_t *req, size_t n)
{
	ttrpc_reply(c, RPC_OK, NULL, req, n);	/* an echo */
}

static void
fail(TtrpcCall *c, const uint8_t *req, size_t n)
{
	char msg[64];

	memcpy(msg, req, MIN(n, sizeof(msg) - 1));
	msg[MIN(n, sizeof(msg) - 1)] = '\0';
	ttrpc_reply(c, n ? req[0] % 17 : RPC_INTERNAL, msg, NULL, 0);
}

static void
defer(TtrpcCall *c, const uint8_t *req, size_t n)
{
	(void)req;
	(void)n;
	if (nlater == MAXLATER) {
		ttrpc_reply(c, RPC_EXHAUSTED, "busy", NULL, 0);
		return;
	}
	later[nlater++] = c;
}

static void
create(TtrpcCall *c, const uint8_t *req, size_t n)
{
	TaskReq r;

	if (pr_taskreq(req, n, TREQ_CREATE, &r) < 0) {
		ttrpc_reply(c, RPC_INVALID, "malformed", NULL, 0);
		return;
	}
	taskreq_free(&r);
	ttrpc_reply(c, RPC_OK, NULL, "\010\001", 2);
}

static const TtrpcMethod methods[] = {
	/* service                     method     handler */
	{ "containerd.task.v2.Task",  "Create",  create },
	{ "containerd.task.v2.Task",  "Wait",    defer },
	{ "containerd.task.v2.Task",  "State",   now },
	{ "husk.agent.v1.Agent",      "Health",  now },
	{ "husk.agent.v1.Agent",      "Fail",    fail },
};

static void
onclose(Ttrpc *t, void *arg)
{
	(void)t;
	(void)arg;
	closed = 1;
}

static void
done(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	(void)arg;
	(void)code;
	if (msg)
		(void)strlen(msg);
	if (n)
		(void)resp[n - 1];
	ndone++;
}

static void
drain(int fd)
{
	uint8_t buf[65536];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void
fuzzinit(void)
{
	signal(SIGPIPE, SIG_IGN);
	loglevel = -1;	/* the peer's mistakes are logged: not here */
	if (loop_init() < 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2], mode, i, stuck;
	size_t off, chunk;
	ssize_t w;
	Ttrpc *t;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	chunk = 1 + (mode >> 2) * 73;	/* 1 .. 4600 bytes a write */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	setnonblock(sv[1], 1);
	nlater = closed = ndone = 0;
	if (mode & 1)
		t = ttrpc_new(sv[0], methods, LEN(methods), NULL);
	else
		t = ttrpc_new(sv[0], NULL, 0, NULL);
	if (!t)
		abort();
	ttrpc_onclose(t, onclose);
	if (mode & 2 || !(mode & 1)) {	/* calls whose answers the input forges */
		ttrpc_call(t, "husk.agent.v1.Agent", "Health", NULL, 0, 0, done, NULL);
		ttrpc_call(t, "husk.agent.v1.Agent", "Wait", "\n\001a", 3, 0, done, NULL);
		ttrpc_call(t, "containerd.task.v2.Task", "Create", NULL, 0, 0, done, NULL);
	}
	for (off = 0, stuck = 0; off < size && !closed && stuck < 64; ) {
		w = write(sv[1], data + off, MIN(chunk, size - off));
		if (w > 0) {
			off += w;
			stuck = 0;
		} else if (errno == EAGAIN) {
			stuck++;
		} else {
			break;
		}
		loop_run(0);
		drain(sv[1]);
	}
	/* half the late answers while the peer is there, the rest after */
	for (i = 0; i < nlater / 2; i++)
		ttrpc_reply(later[i], RPC_OK, NULL, "late", 4);
	loop_run(0);
	drain(sv[1]);
	shutdown(sv[1], SHUT_WR);
	for (i = 0; i < 8 && !closed; i++) {
		loop_run(0);
		drain(sv[1]);
	}
	ttrpc_close(t);
	for (i = nlater / 2; i < nlater; i++)
		ttrpc_reply(later[i], RPC_OK, NULL, "late", 4);
	loop_run(0);
	close(sv[1]);
	return 0;
}
