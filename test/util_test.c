/* See LICENSE file for copyright and license details. */
/*
 * util.c: guest text is escaped before it reaches a log, and messages a
 * guest can trigger are rate-limited per call site, with the count of
 * those dropped said once the window reopens.
 */
#include <string.h>

#include "../husk.h"
#include "t.h"

static void
escapes(void)
{
	char out[64];

	CHECK(!strcmp(escape(out, sizeof(out), "plain text", 10), "plain text"));
	CHECK(!strcmp(escape(out, sizeof(out), "a\nb\033[2J\\", 8),
	    "a\\x0ab\\x1b[2J\\x5c"));
	CHECK(!strcmp(escape(out, sizeof(out), "\0\xff", 2), "\\x00\\xff"));
	/* cut at a whole character, always terminated */
	CHECK(!strcmp(escape(out, 6, "abc\001def", 8), "abc"));
	CHECK(!strcmp(escape(out, 4, "abcdef", 6), "abc"));
	CHECK(!strcmp(escape(out, 1, "abcdef", 6), ""));
}

static void
limits(void)
{
	Ratelimit rl;
	unsigned long r;
	int i, allowed = 0;

	memset(&rl, 0, sizeof(rl));
	for (i = 0; i < 1000; i++)
		if (ratelimit(&rl))
			allowed++;
	CHECK(allowed == LOG_BURST);
	CHECK(rl.dropped == 1000 - LOG_BURST);
	/* the window reopens: the next one carries the count dropped */
	rl.start -= LOG_WINDOW_NS;
	r = ratelimit(&rl);
	CHECK(r == 1 + 1000 - LOG_BURST);
	CHECK(ratelimit(&rl) == 1);
}

int
main(void)
{
	RUN(escapes);
	RUN(limits);
	return TDONE();
}
