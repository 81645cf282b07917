/* See LICENSE file for copyright and license details. */
/*
 * Helpers every part uses: messages, allocation, whole reads and writes,
 * the epoll loop that does all of a process's I/O, and the checked view
 * of guest memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

#include "husk.h"

const char *argv0 = "husk";
int loglevel = LINFO;

static int epfd = -1;
static struct {
	void (*fn)(void *);
	void *arg;
} *defers;
static size_t ndefers, capdefers;

static void
vmsg(const char *fmt, va_list ap)
{
	char buf[1024];
	int e = errno;
	size_t n;

	n = snprintf(buf, sizeof(buf), "%s: ", argv0);
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	n = strlen(buf);
	if (fmt[0] && fmt[strlen(fmt) - 1] == ':')
		snprintf(buf + n, sizeof(buf) - n, " %s", strerror(e));
	n = strlen(buf);
	if (n < sizeof(buf) - 1)
		buf[n++] = '\n';
	else
		buf[sizeof(buf) - 2] = '\n', n = sizeof(buf) - 1;
	writeall(2, buf, n);
	errno = e;
}

void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(1);
}

void
warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void
logmsg(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > loglevel)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void
seterr(char *err, const char *fmt, ...)
{
	va_list ap;
	int e = errno;
	size_t n;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err, ERRLEN, fmt, ap);
	va_end(ap);
	n = strlen(err);
	if (fmt[0] && fmt[strlen(fmt) - 1] == ':')
		snprintf(err + n, ERRLEN - n, " %s", strerror(e));
	errno = e;
}

unsigned long
ratelimit(Ratelimit *rl)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	uint64_t now = nowns();
	unsigned long r = 0;

	pthread_mutex_lock(&lock);
	if (!rl->start || now - rl->start >= LOG_WINDOW_NS) {
		rl->start = now;
		rl->n = 0;
	}
	if (rl->n < LOG_BURST) {
		rl->n++;
		r = 1 + rl->dropped;
		rl->dropped = 0;
	} else {
		rl->dropped++;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

char *
escape(char *dst, size_t n, const void *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = src;
	size_t i, o = 0;

	if (!n)
		return dst;
	for (i = 0; i < len; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\') {
			if (o + 1 >= n)
				break;
			dst[o++] = s[i];
		} else {
			if (o + 4 >= n)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[s[i] >> 4];
			dst[o++] = hex[s[i] & 15];
		}
	}
	dst[o] = '\0';
	return dst;
}

void *
emalloc(size_t n)
{
	void *p;

	if (!(p = malloc(n ? n : 1)))
		die("malloc:");
	return p;
}

void *
ecalloc(size_t n, size_t size)
{
	void *p;

	if (!(p = calloc(n ? n : 1, size ? size : 1)))
		die("calloc:");
	return p;
}

void *
erealloc(void *p, size_t n)
{
	if (!(p = realloc(p, n ? n : 1)))
		die("realloc:");
	return p;
}

char *
estrdup(const char *s)
{
	char *p;

	if (!(p = strdup(s)))
		die("strdup:");
	return p;
}

ssize_t
readall(int fd, void *buf, size_t n)
{
	size_t off = 0;
	ssize_t r;

	while (off < n) {
		r = read(fd, (char *)buf + off, n - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		off += r;
	}
	return off;
}

ssize_t
writeall(int fd, const void *buf, size_t n)
{
	size_t off = 0;
	ssize_t r;

	while (off < n) {
		r = write(fd, (const char *)buf + off, n - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		off += r;
	}
	return off;
}

int
setnonblock(int fd, int on)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) < 0)
		return -1;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl);
}

uint64_t
nowns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* a task or container id: a name for files, so no '/', "." or ".." */
int
validid(const char *id)
{
	return id && id[0] && strlen(id) < 128 && !strchr(id, '/') &&
	    strcmp(id, ".") && strcmp(id, "..");
}

/* mkdir -p of the directories above path (not path itself) */
int
mkparents(char *path, mode_t mode)
{
	char *p;
	int r;

	for (p = path + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		r = mkdir(path, mode) < 0 && errno != EEXIST ? -1 : 0;
		*p = '/';
		if (r < 0)
			return -1;
	}
	return 0;
}

int
loop_init(void)
{
	if (epfd >= 0)
		return 0;
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return -1;
	return 0;
}

int
loop_add(Watch *w, uint32_t events)
{
	struct epoll_event ev;

	if (loop_init() < 0)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = w;
	w->dead = 0;
	return epoll_ctl(epfd, EPOLL_CTL_ADD, w->fd, &ev);
}

int
loop_mod(Watch *w, uint32_t events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = w;
	return epoll_ctl(epfd, EPOLL_CTL_MOD, w->fd, &ev);
}

void
loop_del(Watch *w)
{
	if (w->fd >= 0 && epfd >= 0)
		epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->dead = 1;
}

/* ask for want, given that *cur is asked for now (0: not in the set) */
int
loop_set(Watch *w, uint32_t *cur, uint32_t want)
{
	int r = 0;

	if (want == *cur)
		return 0;
	if (!*cur)
		r = loop_add(w, want);
	else if (!want)
		loop_del(w);
	else
		r = loop_mod(w, want);
	if (r < 0)
		return -1;
	*cur = want;
	return 0;
}

void
loop_defer(void (*fn)(void *), void *arg)
{
	if (ndefers == capdefers) {
		capdefers = capdefers ? 2 * capdefers : 16;
		defers = erealloc(defers, capdefers * sizeof(*defers));
	}
	defers[ndefers].fn = fn;
	defers[ndefers].arg = arg;
	ndefers++;
}

int
loop_timer(Watch *w, uint64_t ns)
{
	struct itimerspec its;

	if (w->fd < 0) {
		if ((w->fd = timerfd_create(CLOCK_MONOTONIC,
		    TFD_NONBLOCK | TFD_CLOEXEC)) < 0)
			return -1;
		if (loop_add(w, EPOLLIN) < 0)
			return -1;
	}
	memset(&its, 0, sizeof(its));
	if (ns) {
		its.it_value.tv_sec = ns / 1000000000ull;
		its.it_value.tv_nsec = ns % 1000000000ull;
	}
	return timerfd_settime(w->fd, 0, &its, NULL);
}

int
loop_run(int timeout_ms)
{
	struct epoll_event ev[64];
	Watch *w;
	int i, n;
	size_t j;

	if (loop_init() < 0)
		return -1;
	n = epoll_wait(epfd, ev, LEN(ev), timeout_ms);
	if (n < 0 && errno != EINTR)
		return -1;
	for (i = 0; i < n; i++) {
		w = ev[i].data.ptr;
		if (!w->dead)
			w->fn(w, ev[i].events);
	}
	/* a deferred function may defer more; run until none is left */
	for (j = 0; j < ndefers; j++)
		defers[j].fn(defers[j].arg);
	ndefers = 0;
	return n < 0 ? 0 : n;
}

void *
gm_ptr(const GuestMem *gm, uint64_t gpa, uint64_t len)
{
	if (gpa > gm->size || len > gm->size - gpa)
		return NULL;
	return gm->base + gpa;
}

/* mount options: flags, and the rest as data */
static const struct {
	const char *name;
	unsigned long set, clear;
} mopts[] = {
	{ "ro", MS_RDONLY, 0 },		{ "rw", 0, MS_RDONLY },
	{ "nosuid", MS_NOSUID, 0 },	{ "suid", 0, MS_NOSUID },
	{ "nodev", MS_NODEV, 0 },	{ "dev", 0, MS_NODEV },
	{ "noexec", MS_NOEXEC, 0 },	{ "exec", 0, MS_NOEXEC },
	{ "sync", MS_SYNCHRONOUS, 0 },	{ "async", 0, MS_SYNCHRONOUS },
	{ "noatime", MS_NOATIME, 0 },	{ "atime", 0, MS_NOATIME },
	{ "nodiratime", MS_NODIRATIME, 0 }, { "relatime", MS_RELATIME, 0 },
	{ "strictatime", MS_STRICTATIME, 0 }, { "bind", MS_BIND, 0 },
	{ "rbind", MS_BIND | MS_REC, 0 }, { "private", 0, 0 },
	{ "rprivate", 0, 0 },		{ "shared", 0, 0 },
	{ "rshared", 0, 0 },		{ "slave", 0, 0 },
	{ "rslave", 0, 0 },		{ "remount", MS_REMOUNT, 0 },
};

void
mountopts(char **opts, unsigned long *flags, char *data, size_t n)
{
	size_t i, len = 0;

	*flags = 0;
	data[0] = '\0';
	for (; opts && *opts; opts++) {
		for (i = 0; i < LEN(mopts) && strcmp(mopts[i].name, *opts); i++)
			;
		if (i < LEN(mopts)) {
			*flags = (*flags | mopts[i].set) & ~mopts[i].clear;
		} else if (len + strlen(*opts) + 2 < n) {
			len += snprintf(data + len, n - len, "%s%s",
			    len ? "," : "", *opts);
		}
	}
}
