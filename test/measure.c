/* See LICENSE file for copyright and license details. */
/*
 * measure GUESTMIB CMD [ARG...]: run CMD and print, on one line,
 *
 *   status=N ms=WALL rss_kib=PEAK maxrss_kib=TOTAL
 *
 * WALL is the time from fork to exit. PEAK is the largest resident set
 * seen while sampling /proc/PID/smaps every 2 ms, leaving out every
 * mapping as large as the guest's RAM (GUESTMIB), so that a VMM's own
 * memory is compared and not the guest pages it touched. TOTAL is the
 * kernel's ru_maxrss, guest RAM included. Test tooling for bench-boot.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

static long
sample(pid_t pid, unsigned long long guest)
{
	char path[64], line[512];
	unsigned long long a, b, kib;
	long rss = 0;
	int skip = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx-%llx ", &a, &b) == 2 && strchr(line, '-') &&
		    line[0] != ' ' && strncmp(line, "Rss", 3)) {
			skip = b - a >= guest;
			continue;
		}
		if (!skip && sscanf(line, "Rss: %llu kB", &kib) == 1)
			rss += kib;
	}
	fclose(f);
	return rss;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int
main(int argc, char *argv[])
{
	unsigned long long guest;
	struct timespec ts = { 0, 2000000 };
	struct rusage ru;
	double t0;
	long peak = 0, r;
	pid_t pid;
	int st;

	if (argc < 3) {
		fprintf(stderr, "usage: measure GUESTMIB CMD [ARG...]\n");
		return 2;
	}
	guest = strtoull(argv[1], NULL, 10) << 20;
	t0 = now();
	if ((pid = fork()) < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "measure: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	for (;;) {
		r = wait4(pid, &st, WNOHANG, &ru);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			perror("wait4");
			return 2;
		}
		if ((r = sample(pid, guest)) > peak)
			peak = r;
		nanosleep(&ts, NULL);
	}
	printf("status=%d ms=%.2f rss_kib=%ld maxrss_kib=%ld\n",
	    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
	    now() - t0, peak, ru.ru_maxrss);
	return 0;
}
