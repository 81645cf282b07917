/* See LICENSE file for copyright and license details. */
/*
 * The frame of every fuzz target. A target defines
 * LLVMFuzzerTestOneInput (and may define fuzzinit, run once before the
 * first input). Built with -DLIBFUZZER and -fsanitize=fuzzer, libFuzzer
 * supplies main() and drives the target; built without it, the main()
 * below replays each file named on the command line, and every regular
 * file inside each directory named, in name order. A crash or a sanitizer
 * report ends the replay with its status; otherwise it prints how many
 * inputs it replayed and exits 0. An input that runs for more than
 * HANG seconds is a hang: the replay names it and fails.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void fuzzinit(void);

#ifdef LIBFUZZER
int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzzinit();
	return 0;
}
#else
#include <signal.h>
#include <unistd.h>

#define HANG	60

static const char *current;

static void
hang(int sig)
{
	ssize_t r;

	(void)sig;
	r = write(2, "hang: ", 6);
	r += write(2, current, strlen(current));
	r += write(2, "\n", 1);
	(void)r;
	_exit(1);
}

static int
replayfile(const char *path)
{
	FILE *f;
	uint8_t *b = NULL;
	size_t n = 0, cap = 0, r;

	if (!(f = fopen(path, "rb"))) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	do {
		if (n == cap && !(b = realloc(b, cap = cap * 2 + 4096)))
			abort();
		r = fread(b + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	if (ferror(f)) {
		fprintf(stderr, "%s: read error\n", path);
		fclose(f);
		free(b);
		return -1;
	}
	fclose(f);
	/* a copy of exactly n bytes, so ASan sees a read past the input */
	{
		uint8_t *exact = malloc(n ? n : 1);

		if (!exact)
			abort();
		memcpy(exact, b, n);
		free(b);
		if (getenv("FUZZ_VERBOSE"))
			fprintf(stderr, "replay %s (%zu bytes)\n", path, n);
		current = path;
		alarm(HANG);
		LLVMFuzzerTestOneInput(exact, n);
		alarm(0);
		free(exact);
	}
	return 0;
}

static int
byname(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char *argv[])
{
	struct dirent *e;
	struct stat st;
	char **names, path[4096];
	size_t nnames, cap, i;
	long count = 0;
	int a, rc = 0;
	DIR *d;

	signal(SIGALRM, hang);
	fuzzinit();
	for (a = 1; a < argc; a++) {
		if (stat(argv[a], &st) < 0) {
			fprintf(stderr, "%s: %s\n", argv[a], strerror(errno));
			rc = 1;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (replayfile(argv[a]) < 0)
				rc = 1;
			else
				count++;
			continue;
		}
		if (!(d = opendir(argv[a]))) {
			fprintf(stderr, "%s: %s\n", argv[a], strerror(errno));
			rc = 1;
			continue;
		}
		names = NULL;
		nnames = cap = 0;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			if (nnames == cap && !(names = realloc(names,
			    (cap = cap * 2 + 64) * sizeof(*names))))
				abort();
			if (!(names[nnames++] = strdup(e->d_name)))
				abort();
		}
		closedir(d);
		if (nnames)
			qsort(names, nnames, sizeof(*names), byname);
		for (i = 0; i < nnames; i++) {
			snprintf(path, sizeof(path), "%s/%s", argv[a], names[i]);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				if (replayfile(path) < 0)
					rc = 1;
				else
					count++;
			}
			free(names[i]);
		}
		free(names);
	}
	printf("%s: %ld inputs replayed\n", argv[0], count);
	return rc;
}
#endif
