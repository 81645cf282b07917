/* See LICENSE file for copyright and license details. */
/*
 * shimctl: one call to a shim's containerd.task.v2.Task service, as
 * containerd would make it, for the tests that drive the shim without
 * containerd (a malformed config.json cannot pass through ctr).
 *
 *   shimctl SOCKET create ID BUNDLE [STDIN STDOUT STDERR]
 *   shimctl SOCKET start|state|wait|kill|delete|pids|connect|shutdown|exec ID
 *
 * Prints the reply's numeric fields as "field=value" lines; on an error
 * prints "error: code N: message" and exits 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "../husk.h"

static int finished, status;

static void
done(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	Pr r;
	Pf f;

	(void)arg;
	finished = 1;
	if (code != RPC_OK) {
		fprintf(stderr, "error: code %d: %s\n", code, msg ? msg : "");
		status = 1;
		return;
	}
	pr_init(&r, resp, n);
	while (pr_next(&r, &f) > 0)
		if (f.wt == PB_VARINT)
			printf("%u=%llu\n", f.field, (unsigned long long)f.u);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_un sa;
	char method[32];
	Pb pb = { 0 };
	Ttrpc *t;
	int fd, i;

	if (argc < 4)
		die("usage: shimctl SOCKET METHOD ID [BUNDLE [STDIN STDOUT STDERR]]");
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s",
	    strncmp(argv[1], "unix://", 7) ? argv[1] : argv[1] + 7);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect %s:", argv[1]);
	if (loop_init() < 0 || !(t = ttrpc_new(fd, NULL, 0, NULL)))
		die("ttrpc:");
	snprintf(method, sizeof(method), "%s", argv[2]);
	method[0] = method[0] >= 'a' && method[0] <= 'z' ? method[0] - 32 : method[0];
	if (!strcmp(method, "Closeio"))
		strcpy(method, "CloseIO");
	pb_str(&pb, 1, argv[3]);
	if (!strcmp(method, "Create") && argc > 4) {
		pb_str(&pb, 2, argv[4]);
		for (i = 5; i < argc && i < 8; i++)
			pb_str(&pb, i, argv[i]);
	}
	if (!strcmp(method, "Kill"))
		pb_uint(&pb, 3, 9);
	if (ttrpc_call(t, "containerd.task.v2.Task", method, pb.b, pb.n, 0,
	    done, NULL) < 0)
		die("call:");
	while (!finished)
		if (loop_run(-1) < 0)
			die("epoll_wait:");
	ttrpc_close(t);
	return status;
}
