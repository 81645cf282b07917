/* See LICENSE file for copyright and license details. */
/*
 * The unit tests' harness: each case is a function; RUN prints
 * "PASS name" or "FAIL name", which test/run counts.
 */
#include <stdio.h>

static int t_failed, t_npass, t_nfail;

#define CHECK(c) do { \
	if (!(c)) { \
		printf("  %s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
		t_failed = 1; \
	} \
} while (0)

#define RUN(fn) do { \
	t_failed = 0; \
	fn(); \
	printf("%s %s\n", t_failed ? "FAIL" : "PASS", #fn); \
	fflush(stdout); \
	if (t_failed) t_nfail++; else t_npass++; \
} while (0)

#define TDONE() (t_nfail ? 1 : 0)
