/* See LICENSE file for copyright and license details. */
/*
 * virtiofs.c against a fake guest driver speaking FUSE: the operations a
 * container root needs, against a temporary shared directory, and a
 * hostile guest: names that try to leave the directory, host symlinks
 * pointing out of it, truncated and malformed requests, small buffers,
 * thousands of inodes, CREATE over FIFOs, devices and leased files, owners
 * and set-ID bits in host bind mounts, and a flood of what husk logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/fuse.h>

#include "../husk.h"
#include "t.h"
#include "guest.h"

enum { HIPRIO, REQQ };
#define RMAX	(300 * 1024)	/* largest reply a case reads back */

typedef struct {
	const void *p;		/* contents of a readable segment */
	uint32_t n;
	int w;			/* writable */
} Seg;

static Guest g;
static Vfs *fs;
static char dir[64] = "/tmp/husk-rootfs-XXXXXX";	/* the shared directory */
static char out[64] = "/tmp/husk-outside-XXXXXX";	/* a host directory outside */
static uint64_t uniq;
static uint32_t tuid, tgid;	/* the caller in the requests' headers */
static uint8_t rb[RMAX];	/* the last reply's body */
static uint32_t rn;		/* its length */
static int root;

/* gkick, but no longer than it takes the device to answer */
static void
kick(int q)
{
	uint8_t *u = g.gm.base + qused(q);
	uint64_t one = 1;
	int i;

	if (write(g.d->vq[q].kickfd, &one, 8) != 8)
		abort();
	for (i = 0; i < 3; i++) {
		loop_run(1);
		if (__atomic_load_n((uint16_t *)(void *)(u + 2), __ATOMIC_ACQUIRE) !=
		    g.seen[q])
			break;
	}
}

/* one chain on queue q; the used length, -1 if it did not come back */
static long
submit(int q, const Seg *s, int ns, uint64_t *addr)
{
	uint16_t first = 0, i, prev = 0;
	uint32_t id, len;
	uint64_t a[8];
	int k;

	g.nextbuf = BUFS;
	for (k = 0; k < ns && k < 8; k++) {
		a[k] = galloc(&g, s[k].n ? s[k].n : 1);
		if (s[k].w)
			memset(g.gm.base + a[k], 0xee, s[k].n);
		else
			memcpy(g.gm.base + a[k], s[k].p, s[k].n);
		if (addr)
			addr[k] = a[k];
		i = g.nextdesc[q]++ % g.num[q];
		if (k)
			gdesc(&g, q, prev, a[k - 1], s[k - 1].n,
			    (s[k - 1].w ? 2 : 0) | 1, i);
		else
			first = i;
		gdesc(&g, q, i, a[k], s[k].n, s[k].w ? 2 : 0, 0);
		prev = i;
	}
	gpublish(&g, q, first);
	kick(q);
	if (gused(&g, q, &id, &len) != 1 || id != first)
		return -1;
	return len;
}

/* a request in one buffer, the reply room in another: the error or -9999 */
static int
callraw(const void *req, uint32_t n, uint32_t rsz)
{
	struct fuse_out_header o;
	struct fuse_in_header h;
	uint64_t addr[2];
	Seg s[2];
	long used;

	s[0].p = req;
	s[0].n = n;
	s[0].w = 0;
	s[1].p = NULL;
	s[1].n = rsz;
	s[1].w = 1;
	rn = 0;
	if ((used = submit(REQQ, s, rsz ? 2 : 1, addr)) < 0)
		return -9999;
	if (!rsz)
		return used == 0 ? 0 : -9998;
	if (used < (long)sizeof(o) || used > rsz)
		return -9997;
	memcpy(&o, g.gm.base + addr[1], sizeof(o));
	memset(&h, 0, sizeof(h));
	memcpy(&h, req, MIN(n, sizeof(h)));
	if (o.len != used || o.unique != h.unique)
		return -9996;
	rn = used - sizeof(o);
	memcpy(rb, g.gm.base + addr[1] + sizeof(o), MIN(rn, RMAX));
	return o.error;
}

/* a FUSE request: header, arg and a string with its NUL (s may be NULL) */
static int
call2(uint32_t op, uint64_t nodeid, const void *arg, uint32_t n,
    const void *s, uint32_t sn, uint32_t rsz)
{
	struct fuse_in_header h;
	uint8_t *b = malloc(sizeof(h) + n + sn);
	int e;

	memset(&h, 0, sizeof(h));
	h.len = sizeof(h) + n + sn;
	h.opcode = op;
	h.unique = ++uniq;
	h.nodeid = nodeid;
	h.uid = tuid;
	h.gid = tgid;
	h.pid = 1;
	memcpy(b, &h, sizeof(h));
	if (n)
		memcpy(b + sizeof(h), arg, n);
	if (sn)
		memcpy(b + sizeof(h) + n, s, sn);
	e = callraw(b, h.len, rsz);
	free(b);
	return e;
}

static int
call(uint32_t op, uint64_t nodeid, const void *arg, uint32_t n)
{
	return call2(op, nodeid, arg, n, NULL, 0, 4096);
}

/* a request with a name (and its NUL) after the fixed arguments */
static int
calln(uint32_t op, uint64_t nodeid, const void *arg, uint32_t n, const char *name)
{
	return call2(op, nodeid, arg, n, name, strlen(name) + 1, 4096);
}

static void
forget(uint64_t nodeid, uint64_t nlookup)
{
	struct fuse_forget_in in;
	struct fuse_in_header h;
	uint8_t b[sizeof(h) + sizeof(in)];
	uint32_t id, len;

	memset(&h, 0, sizeof(h));
	h.len = sizeof(b);
	h.opcode = FUSE_FORGET;
	h.unique = ++uniq;
	h.nodeid = nodeid;
	in.nlookup = nlookup;
	memcpy(b, &h, sizeof(h));
	memcpy(b + sizeof(h), &in, sizeof(in));
	g.nextbuf = BUFS;
	gbuf(&g, HIPRIO, b, sizeof(b), 0);
	gkick(&g, HIPRIO);
	CHECK(gused(&g, HIPRIO, &id, &len) == 1 && len == 0);
}

static int
lookup(uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	int err = calln(FUSE_LOOKUP, parent, NULL, 0, name);

	if (!err && rn == sizeof(*e))
		memcpy(e, rb, sizeof(*e));
	else if (!err)
		err = -9990;
	return err;
}

static int
getattr(uint64_t nodeid, struct fuse_attr *a)
{
	struct fuse_getattr_in in;
	struct fuse_attr_out o;
	int err;

	memset(&in, 0, sizeof(in));
	if ((err = call(FUSE_GETATTR, nodeid, &in, sizeof(in))))
		return err;
	if (rn != sizeof(o))
		return -9990;
	memcpy(&o, rb, sizeof(o));
	*a = o.attr;
	return 0;
}

static int
fopen_(uint64_t nodeid, uint32_t flags, uint64_t *fh)
{
	struct fuse_open_in in;
	struct fuse_open_out o;
	int err;

	memset(&in, 0, sizeof(in));
	in.flags = flags;
	if ((err = call(FUSE_OPEN, nodeid, &in, sizeof(in))))
		return err;
	memcpy(&o, rb, sizeof(o));
	*fh = o.fh;
	return 0;
}

static int
release(uint32_t op, uint64_t fh)
{
	struct fuse_release_in in;

	memset(&in, 0, sizeof(in));
	in.fh = fh;
	return call(op, 1, &in, sizeof(in));
}

static int
create(uint64_t parent, const char *name, uint32_t flags, uint32_t mode,
    struct fuse_entry_out *e, uint64_t *fh)
{
	struct fuse_create_in in;
	struct fuse_open_out o;
	int err;

	memset(&in, 0, sizeof(in));
	in.flags = flags;
	in.mode = S_IFREG | mode;
	if ((err = calln(FUSE_CREATE, parent, &in, sizeof(in), name)))
		return err;
	if (rn != sizeof(*e) + sizeof(o))
		return -9990;
	memcpy(e, rb, sizeof(*e));
	memcpy(&o, rb + sizeof(*e), sizeof(o));
	*fh = o.fh;
	return 0;
}

static int
mkdir_(uint64_t parent, const char *name, uint32_t mode, struct fuse_entry_out *e)
{
	struct fuse_mkdir_in in;
	int err;

	memset(&in, 0, sizeof(in));
	in.mode = mode;
	if ((err = calln(FUSE_MKDIR, parent, &in, sizeof(in), name)))
		return err;
	memcpy(e, rb, sizeof(*e));
	return 0;
}

static int
rw(uint32_t op, uint64_t fh, uint64_t off, void *buf, uint32_t n, uint32_t rsz)
{
	struct fuse_write_in w;
	struct fuse_read_in r;
	struct fuse_write_out o;
	int err;

	if (op == FUSE_WRITE) {
		memset(&w, 0, sizeof(w));
		w.fh = fh;
		w.offset = off;
		w.size = n;
		if ((err = call2(op, 1, &w, sizeof(w), buf, n, 4096)))
			return err;
		memcpy(&o, rb, sizeof(o));
		return o.size;
	}
	memset(&r, 0, sizeof(r));
	r.fh = fh;
	r.offset = off;
	r.size = n;
	if ((err = call2(op, 1, &r, sizeof(r), NULL, 0, rsz)))
		return err;
	memcpy(buf, rb, MIN(rn, n));
	return rn;
}

static char *
hpath(const char *name)
{
	static char p[2][PATH_MAX];
	static int k;

	k = !k;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

static void
hwrite(const char *name, const char *s)
{
	int fd = open(hpath(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		abort();
	close(fd);
}

static int
init(uint32_t minor)
{
	struct fuse_init_in in;

	memset(&in, 0, sizeof(in));
	in.major = 7;
	in.minor = minor;
	in.max_readahead = 65536;
	in.flags = FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES | FUSE_ASYNC_READ |
	    FUSE_POSIX_LOCKS | FUSE_WRITEBACK_CACHE;
	return call(FUSE_INIT, 0, &in, sizeof(in));
}

static void
fresh(void)
{
	gstart(&g, 2);
	tuid = tgid = 0;
	if (init(38))
		abort();
}

static void
tinit(void)
{
	struct fuse_init_out o;
	struct fuse_attr a;

	gstart(&g, 2);
	/* before INIT: nothing */
	CHECK(getattr(1, &a) == -EIO);
	CHECK(init(5) == -EPROTO);
	CHECK(getattr(1, &a) == -EIO);
	CHECK(init(38) == 0);
	CHECK(rn == sizeof(o));
	memcpy(&o, rb, sizeof(o));
	CHECK(o.major == 7 && o.minor == 38);
	CHECK(o.max_readahead == 65536);
	CHECK(o.max_write >= 4096 && o.max_write <= 256 * 1024);
	CHECK(!(o.flags & (FUSE_POSIX_LOCKS | FUSE_WRITEBACK_CACHE)));
	CHECK((o.flags & FUSE_MAX_PAGES) && o.max_pages * 4096 >= o.max_write);
	CHECK(getattr(1, &a) == 0 && S_ISDIR(a.mode));
	/* an older guest gets its own minor and the short reply */
	CHECK(init(22) == 0 && rn == FUSE_COMPAT_22_INIT_OUT_SIZE);
	memcpy(&o, rb, rn);
	CHECK(o.minor == 22);
	/* a newer one is told to ask again with 7.x */
	CHECK(init(50) == 0);
	memcpy(&o, rb, sizeof(o));
	CHECK(o.minor == 38);
	{
		struct fuse_init_in in;

		memset(&in, 0, sizeof(in));
		in.major = 8;
		CHECK(call(FUSE_INIT, 0, &in, sizeof(in)) == 0);
		memcpy(&o, rb, 8);
		CHECK(o.major == 7);
	}
	/* the config space: the tag and one request queue */
	{
		uint8_t cfg[40];
		uint32_t nq, i;

		for (i = 0; i < sizeof(cfg); i++)
			virtio_mmio(g.d, 0x100 + i, cfg + i, 1, 0);
		CHECK(!memcmp(cfg, "rootfs\0", 7));
		memcpy(&nq, cfg + 36, 4);
		CHECK(nq == 1);
		CHECK(gr(&g, 0x008) == 26);
	}
	CHECK(call(FUSE_DESTROY, 0, NULL, 0) == 0);
	CHECK(getattr(1, &a) == -EIO);
}

static void
lookupattr(void)
{
	struct fuse_entry_out e, e2;
	struct fuse_attr a;
	struct stat st;

	fresh();
	hwrite("hello", "hello, world\n");
	CHECK(stat(hpath("hello"), &st) == 0);
	CHECK(lookup(1, "hello", &e) == 0);
	CHECK(e.nodeid > 1 && S_ISREG(e.attr.mode) && e.attr.size == 13);
	CHECK(e.attr.ino == st.st_ino && e.attr.nlink == 1);
	CHECK(e.entry_valid >= 1 && e.attr_valid >= 1);
	CHECK(getattr(e.nodeid, &a) == 0 && a.size == 13 && a.ino == st.st_ino);
	CHECK(lookup(1, "hello", &e2) == 0 && e2.nodeid == e.nodeid);
	/* a hard link is the same inode */
	CHECK(link(hpath("hello"), hpath("hello2")) == 0);
	CHECK(lookup(1, "hello2", &e2) == 0 && e2.nodeid == e.nodeid);
	CHECK(lookup(1, "nothere", &e2) == -ENOENT);
	CHECK(lookup(e.nodeid, "x", &e2) == -ENOTDIR);
	CHECK(getattr(12345, &a) == -ESTALE);
	CHECK(getattr(0, &a) == -ESTALE);
	unlink(hpath("hello2"));
}

static void
createrw(void)
{
	struct fuse_entry_out e;
	char buf[64];
	uint64_t fh, fh2;
	struct stat st;
	int fd;

	fresh();
	CHECK(create(1, "new", O_RDWR | O_CREAT, 0640, &e, &fh) == 0);
	CHECK(S_ISREG(e.attr.mode) && (e.attr.mode & 07777) == 0640);
	CHECK(rw(FUSE_WRITE, fh, 0, "some data", 9, 0) == 9);
	CHECK(rw(FUSE_WRITE, fh, 100, "tail", 4, 0) == 4);
	memset(buf, 0, sizeof(buf));
	CHECK(rw(FUSE_READ, fh, 0, buf, 9, 4096) == 9 && !memcmp(buf, "some data", 9));
	CHECK(rw(FUSE_READ, fh, 100, buf, 64, 4096) == 4 && !memcmp(buf, "tail", 4));
	CHECK(rw(FUSE_READ, fh, 1000, buf, 64, 4096) == 0);
	{
		struct fuse_flush_in fl;
		struct fuse_fsync_in in;

		memset(&fl, 0, sizeof(fl));
		fl.fh = fh;
		CHECK(call(FUSE_FLUSH, e.nodeid, &fl, sizeof(fl)) == 0);
		CHECK(call(FUSE_FLUSH, e.nodeid, &fh, 8) == -EINVAL);

		memset(&in, 0, sizeof(in));
		in.fh = fh;
		CHECK(call(FUSE_FSYNC, e.nodeid, &in, sizeof(in)) == 0);
		in.fsync_flags = 1;
		CHECK(call(FUSE_FSYNC, e.nodeid, &in, sizeof(in)) == 0);
	}
	CHECK(release(FUSE_RELEASE, fh) == 0);
	CHECK(release(FUSE_RELEASE, fh) == -EBADF);
	CHECK(rw(FUSE_READ, fh, 0, buf, 9, 4096) == -EBADF);
	/* on the host */
	CHECK(stat(hpath("new"), &st) == 0 && st.st_size == 104);
	CHECK((st.st_mode & 07777) == 0640);
	fd = open(hpath("new"), O_RDONLY);
	CHECK(fd >= 0 && read(fd, buf, 9) == 9 && !memcmp(buf, "some data", 9));
	close(fd);
	/* O_EXCL on an existing name fails; without it the file is opened */
	CHECK(create(1, "new", O_RDWR | O_CREAT | O_EXCL, 0600, &e, &fh) == -EEXIST);
	CHECK(create(1, "new", O_RDONLY | O_CREAT, 0600, &e, &fh) == 0);
	CHECK((e.attr.mode & 07777) == 0640);	/* kept */
	CHECK(rw(FUSE_WRITE, fh, 0, "x", 1, 0) == -EBADF);	/* read-only fd */
	/* OPEN with O_TRUNC and O_APPEND */
	CHECK(fopen_(e.nodeid, O_WRONLY | O_TRUNC | O_APPEND, &fh2) == 0);
	CHECK(rw(FUSE_WRITE, fh2, 0, "ab", 2, 0) == 2);
	CHECK(rw(FUSE_WRITE, fh2, 0, "cd", 2, 0) == 2);
	CHECK(rw(FUSE_READ, fh, 0, buf, 64, 4096) == 4 && !memcmp(buf, "abcd", 4));
	CHECK(release(FUSE_RELEASE, fh) == 0);
	CHECK(release(FUSE_RELEASE, fh2) == 0);
	/* a directory is not opened as a file */
	CHECK(fopen_(1, O_RDONLY, &fh) == -EISDIR);
	/* lseek and fallocate on a handle */
	CHECK(fopen_(e.nodeid, O_RDWR, &fh) == 0);
	{
		struct fuse_fallocate_in fa;
		struct fuse_lseek_in ls;
		struct fuse_lseek_out lo;

		memset(&fa, 0, sizeof(fa));
		fa.fh = fh;
		fa.length = 8192;
		CHECK(call(FUSE_FALLOCATE, e.nodeid, &fa, sizeof(fa)) == 0);
		CHECK(stat(hpath("new"), &st) == 0 && st.st_size == 8192);
		fa.mode = 0x40;		/* not one of ours */
		CHECK(call(FUSE_FALLOCATE, e.nodeid, &fa, sizeof(fa)) == -EOPNOTSUPP);
		memset(&ls, 0, sizeof(ls));
		ls.fh = fh;
		ls.whence = SEEK_END;
		CHECK(call(FUSE_LSEEK, e.nodeid, &ls, sizeof(ls)) == 0);
		memcpy(&lo, rb, sizeof(lo));
		CHECK(lo.offset == 8192);
		ls.whence = 99;
		CHECK(call(FUSE_LSEEK, e.nodeid, &ls, sizeof(ls)) == -EINVAL);
	}
	CHECK(release(FUSE_RELEASE, fh) == 0);
}

/* read a directory with reply room rsz; names joined by ' ', sorted by caller */
static int
listdir(uint64_t nodeid, int plus, uint32_t size, char *names, size_t max,
    uint64_t *nodeids, int *n)
{
	struct fuse_open_out o;
	struct fuse_read_in in;
	struct fuse_dirent de;
	struct fuse_entry_out e;
	uint64_t fh, off = 0;
	size_t pre = plus ? sizeof(e) : 0, i;
	int err, calls = 0;

	*n = 0;
	names[0] = 0;
	memset(&in, 0, sizeof(in));
	if ((err = call(FUSE_OPENDIR, nodeid, &in, 8)))
		return err;
	memcpy(&o, rb, sizeof(o));
	fh = o.fh;
	for (;;) {
		memset(&in, 0, sizeof(in));
		in.fh = fh;
		in.offset = off;
		in.size = size;
		if ((err = call2(plus ? FUSE_READDIRPLUS : FUSE_READDIR, nodeid,
		    &in, sizeof(in), NULL, 0, 4096)))
			return err;
		if (rn == 0 || ++calls > 1000)
			break;
		for (i = 0; i + pre + FUSE_NAME_OFFSET <= rn;) {
			memset(&e, 0, sizeof(e));
			if (plus)
				memcpy(&e, rb + i, sizeof(e));
			memcpy(&de, rb + i + pre, FUSE_NAME_OFFSET);
			if (de.namelen > NAME_MAX || i + pre + FUSE_NAME_OFFSET +
			    de.namelen > rn)
				return -9980;
			if (strlen(names) + de.namelen + 2 < max) {
				strncat(names, (char *)rb + i + pre + FUSE_NAME_OFFSET,
				    de.namelen);
				strcat(names, " ");
			}
			if (plus && nodeids && *n < 64)
				nodeids[*n] = e.nodeid;	/* the callers' arrays hold 64 */
			(*n)++;
			off = de.off;
			i += pre + FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + de.namelen);
		}
	}
	return release(FUSE_RELEASEDIR, fh);
}

static int
hasname(const char *names, const char *name)
{
	char all[4100], w[NAME_MAX + 3];

	snprintf(all, sizeof(all), " %s", names);
	snprintf(w, sizeof(w), " %s ", name);
	return strstr(all, w) != NULL;
}

static void
dirs(void)
{
	struct fuse_entry_out d, e;
	struct fuse_attr a;
	uint64_t fh, ids[64];
	char names[4096];
	int n, i, k;

	fresh();
	CHECK(mkdir_(1, "d", 0755, &d) == 0);
	CHECK(S_ISDIR(d.attr.mode) && (d.attr.mode & 07777) == 0755);
	CHECK(create(d.nodeid, "a", O_WRONLY, 0644, &e, &fh) == 0);
	CHECK(release(FUSE_RELEASE, fh) == 0);
	CHECK(create(d.nodeid, "b", O_WRONLY, 0644, &e, &fh) == 0);
	CHECK(release(FUSE_RELEASE, fh) == 0);
	CHECK(mkdir_(d.nodeid, "sub", 0700, &e) == 0);
	CHECK(mkdir_(1, "d", 0755, &e) == -EEXIST);
	CHECK(listdir(d.nodeid, 0, 4096, names, sizeof(names), NULL, &n) == 0);
	CHECK(n == 5);
	CHECK(hasname(names, ".") && hasname(names, "..") && hasname(names, "a") &&
	    hasname(names, "b") && hasname(names, "sub"));
	CHECK(listdir(d.nodeid, 1, 4096, names, sizeof(names), ids, &n) == 0);
	CHECK(n == 5);
	for (i = k = 0; i < n; i++) {
		if (!ids[i])
			continue;	/* "." and ".." */
		k++;
		CHECK(getattr(ids[i], &a) == 0);
	}
	CHECK(k == 3);
	/* many entries, a small buffer: every name once, over many calls */
	for (i = 0; i < 40; i++) {
		char nm[48];

		snprintf(nm, sizeof(nm), "file-with-a-longish-name-%02d", i);
		hwrite(nm, "");
	}
	CHECK(listdir(1, 0, 100, names, sizeof(names), NULL, &n) == 0);
	CHECK(n >= 42 && hasname(names, "file-with-a-longish-name-00") &&
	    hasname(names, "file-with-a-longish-name-39"));
	k = n;
	CHECK(listdir(1, 1, 300, names, sizeof(names), ids, &n) == 0);
	CHECK(n == k);
	/* a READDIR on a file handle, a file's OPENDIR */
	CHECK(fopen_(e.nodeid, O_RDONLY, &fh) == -EISDIR);
	CHECK(create(1, "plain", O_RDWR, 0644, &e, &fh) == 0);
	{
		struct fuse_read_in in;

		memset(&in, 0, sizeof(in));
		in.fh = fh;
		in.size = 4096;
		CHECK(call(FUSE_READDIR, 1, &in, sizeof(in)) == -EBADF);
	}
	CHECK(call(FUSE_OPENDIR, e.nodeid, &fh, 8) == -ENOTDIR);
	CHECK(release(FUSE_RELEASE, fh) == 0);
}

static void
removes(void)
{
	struct fuse_rename2_in r2;
	struct fuse_rename_in r;
	struct fuse_link_in li;
	struct fuse_entry_out d, e;
	struct fuse_attr a;
	struct stat st;
	char names[64];
	uint64_t fh;

	fresh();
	CHECK(mkdir_(1, "rd", 0755, &d) == 0);
	CHECK(create(d.nodeid, "f", O_RDWR, 0644, &e, &fh) == 0);
	CHECK(release(FUSE_RELEASE, fh) == 0);
	CHECK(calln(FUSE_RMDIR, 1, NULL, 0, "rd") == -ENOTEMPTY);
	CHECK(calln(FUSE_RMDIR, d.nodeid, NULL, 0, "f") == -ENOTDIR);
	/* LINK */
	memset(&li, 0, sizeof(li));
	li.oldnodeid = e.nodeid;
	CHECK(calln(FUSE_LINK, 1, &li, sizeof(li), "f-link") == 0);
	memcpy(&d, rb, sizeof(d));
	CHECK(d.nodeid == e.nodeid && d.attr.nlink == 2);
	CHECK(lstat(hpath("f-link"), &st) == 0 && st.st_nlink == 2);
	li.oldnodeid = 1;
	CHECK(calln(FUSE_LINK, 1, &li, sizeof(li), "dirlink") == -EPERM);
	CHECK(calln(FUSE_UNLINK, 1, NULL, 0, "f-link") == 0);
	CHECK(lstat(hpath("f-link"), &st) < 0 && errno == ENOENT);
	CHECK(lookup(1, "rd", &d) == 0);
	/* RENAME into the root and back */
	memset(&r, 0, sizeof(r));
	r.newdir = 1;
	memcpy(names, "f\0g", 4);
	CHECK(call2(FUSE_RENAME, d.nodeid, &r, sizeof(r), names, 4, 4096) == 0);
	CHECK(lstat(hpath("g"), &st) == 0);
	/* the inode moved with it */
	CHECK(getattr(e.nodeid, &a) == 0 && a.ino == st.st_ino);
	r.newdir = d.nodeid;
	memcpy(names, "g\0f", 4);
	CHECK(call2(FUSE_RENAME, 1, &r, sizeof(r), names, 4, 4096) == 0);
	r.newdir = e.nodeid;	/* not a directory */
	memcpy(names, "f\0f", 4);
	CHECK(call2(FUSE_RENAME, d.nodeid, &r, sizeof(r), names, 4, 4096) == -ENOTDIR);
	r.newdir = 999999;
	CHECK(call2(FUSE_RENAME, d.nodeid, &r, sizeof(r), names, 4, 4096) == -ESTALE);
	/* RENAME2: NOREPLACE, EXCHANGE, and flags that are not ours */
	hwrite("rd/h", "h");
	memset(&r2, 0, sizeof(r2));
	r2.newdir = d.nodeid;
	r2.flags = 1;	/* RENAME_NOREPLACE */
	memcpy(names, "f\0h", 4);
	CHECK(call2(FUSE_RENAME2, d.nodeid, &r2, sizeof(r2), names, 4, 4096) == -EEXIST);
	r2.flags = 2;	/* RENAME_EXCHANGE */
	CHECK(call2(FUSE_RENAME2, d.nodeid, &r2, sizeof(r2), names, 4, 4096) == 0);
	CHECK(lstat(hpath("rd/f"), &st) == 0 && st.st_size == 1);
	r2.flags = 4;	/* RENAME_WHITEOUT */
	CHECK(call2(FUSE_RENAME2, d.nodeid, &r2, sizeof(r2), names, 4, 4096) == -EINVAL);
	r2.flags = 0;
	memcpy(names, "f\0..", 5);
	CHECK(call2(FUSE_RENAME2, d.nodeid, &r2, sizeof(r2), names, 5, 4096) == -EINVAL);
	/* UNLINK, RMDIR */
	CHECK(calln(FUSE_UNLINK, d.nodeid, NULL, 0, "f") == 0);
	CHECK(calln(FUSE_UNLINK, d.nodeid, NULL, 0, "h") == 0);
	CHECK(calln(FUSE_UNLINK, d.nodeid, NULL, 0, "h") == -ENOENT);
	CHECK(calln(FUSE_RMDIR, 1, NULL, 0, "rd") == 0);
	CHECK(lstat(hpath("rd"), &st) < 0 && errno == ENOENT);
	/* the removed inode is still named by the guest: attributes work */
	CHECK(getattr(d.nodeid, &a) == 0);
}

static void
noescape(void)
{
	struct fuse_entry_out e, x;
	struct fuse_setattr_in sa;
	char target[PATH_MAX], outside[PATH_MAX], buf[64];
	struct stat st;
	uint64_t fh;
	const char *links[] = { "shadow", "up", "abs", "dangle" };
	size_t i;

	fresh();
	snprintf(outside, sizeof(outside), "%s/secret", out);
	hwrite("dummy", "");
	CHECK(symlink("/etc/shadow", hpath("shadow")) == 0);
	CHECK(symlink("../../../../../..", hpath("up")) == 0);
	CHECK(symlink(out, hpath("abs")) == 0);
	snprintf(target, sizeof(target), "%s/created", out);
	CHECK(symlink(target, hpath("dangle")) == 0);
	for (i = 0; i < LEN(links); i++) {
		CHECK(lookup(1, links[i], &e) == 0);
		CHECK(S_ISLNK(e.attr.mode));
		/* not opened, not listed, not walked through */
		CHECK(fopen_(e.nodeid, O_RDONLY, &fh) < 0);
		CHECK(fopen_(e.nodeid, O_WRONLY | O_TRUNC, &fh) < 0);
		CHECK(call(FUSE_OPENDIR, e.nodeid, &fh, 8) == -ENOTDIR);
		CHECK(lookup(e.nodeid, "secret", &x) == -ENOTDIR);
		CHECK(lookup(e.nodeid, "shadow", &x) == -ENOTDIR);
		CHECK(calln(FUSE_MKDIR, e.nodeid, &fh, 8, "m") == -ENOTDIR);
		memset(&sa, 0, sizeof(sa));
		sa.valid = FATTR_SIZE;
		CHECK(call(FUSE_SETATTR, e.nodeid, &sa, sizeof(sa)) < 0);
		sa.valid = FATTR_MODE;
		sa.mode = 0777;
		CHECK(call(FUSE_SETATTR, e.nodeid, &sa, sizeof(sa)) < 0);
	}
	CHECK(stat(outside, &st) == 0 && st.st_size == 6 && (st.st_mode & 0777) == 0600);
	/* READLINK gives the text; the guest resolves it in its own root */
	CHECK(lookup(1, "shadow", &e) == 0);
	CHECK(call(FUSE_READLINK, e.nodeid, NULL, 0) == 0);
	CHECK(rn == 11 && !memcmp(rb, "/etc/shadow", 11));
	CHECK(call(FUSE_READLINK, 1, NULL, 0) == -EINVAL);
	/* creating through a dangling symlink leaves the outside alone */
	CHECK(create(1, "dangle", O_RDWR, 0644, &e, &fh) < 0);
	CHECK(create(1, "dangle", O_RDWR | O_EXCL, 0644, &e, &fh) < 0);
	CHECK(lstat(target, &st) < 0 && errno == ENOENT);
	CHECK(calln(FUSE_MKDIR, 1, &fh, 8, "dangle") == -EEXIST);
	CHECK(lstat(target, &st) < 0 && errno == ENOENT);
	/* a guest-made symlink to a host path is only a symlink */
	memcpy(buf, "pw\0/etc/passwd", 15);
	CHECK(call2(FUSE_SYMLINK, 1, NULL, 0, buf, 15, 4096) == 0);
	memcpy(&e, rb, sizeof(e));
	CHECK(S_ISLNK(e.attr.mode) && e.attr.size == 11);
	CHECK(fopen_(e.nodeid, O_RDONLY, &fh) == -ELOOP);
	CHECK(readlink(hpath("pw"), target, sizeof(target)) == 11);
	/* a symlink with an empty target, or no target, is refused */
	CHECK(call2(FUSE_SYMLINK, 1, NULL, 0, "pz\0", 4, 4096) == -EINVAL);
	CHECK(call2(FUSE_SYMLINK, 1, NULL, 0, "pz", 3, 4096) == -EINVAL);
	/* a host hard link to an outside file would be the host's doing; a
	   guest LINK of a symlink links the symlink, not its target */
	{
		struct fuse_link_in li;

		CHECK(lookup(1, "abs", &e) == 0);
		memset(&li, 0, sizeof(li));
		li.oldnodeid = e.nodeid;
		CHECK(calln(FUSE_LINK, 1, &li, sizeof(li), "abs2") == 0);
		CHECK(lstat(hpath("abs2"), &st) == 0 && S_ISLNK(st.st_mode));
	}
	/* rename of a symlink moves the symlink */
	{
		struct fuse_rename_in r;

		memset(&r, 0, sizeof(r));
		r.newdir = 1;
		CHECK(call2(FUSE_RENAME, 1, &r, sizeof(r), "abs2\0abs3", 10, 4096) == 0);
		CHECK(lstat(hpath("abs3"), &st) == 0 && S_ISLNK(st.st_mode));
		CHECK(stat(outside, &st) == 0);
	}
	/* device nodes are not made; fifos and sockets are */
	{
		struct fuse_mknod_in mk;

		memset(&mk, 0, sizeof(mk));
		mk.mode = S_IFCHR | 0666;
		mk.rdev = 1 << 8 | 3;	/* /dev/null */
		CHECK(calln(FUSE_MKNOD, 1, &mk, sizeof(mk), "null") == -EPERM);
		mk.mode = S_IFBLK | 0666;
		CHECK(calln(FUSE_MKNOD, 1, &mk, sizeof(mk), "blk") == -EPERM);
		mk.mode = S_IFIFO | 0600;
		mk.rdev = 0;
		CHECK(calln(FUSE_MKNOD, 1, &mk, sizeof(mk), "fifo") == 0);
		memcpy(&e, rb, sizeof(e));
		CHECK(S_ISFIFO(e.attr.mode) && (e.attr.mode & 0777) == 0600);
		/* the host never opens it (that would block) */
		CHECK(fopen_(e.nodeid, O_RDONLY, &fh) == -ENXIO);
		mk.mode = S_IFREG | 0600;
		CHECK(calln(FUSE_MKNOD, 1, &mk, sizeof(mk), "reg") == 0);
		mk.mode = 0170000 | 0600;
		CHECK(calln(FUSE_MKNOD, 1, &mk, sizeof(mk), "bad") == -EINVAL);
		CHECK(lstat(hpath("null"), &st) < 0 && lstat(hpath("blk"), &st) < 0);
	}
	/* a host device node in the tree is not opened by husk */
	if (root) {
		CHECK(mknod(hpath("hostnull"), S_IFCHR | 0666, makedev(1, 3)) == 0);
		CHECK(lookup(1, "hostnull", &e) == 0 && S_ISCHR(e.attr.mode));
		CHECK(e.attr.rdev == (1 << 8 | 3));
		CHECK(fopen_(e.nodeid, O_RDWR, &fh) == -ENXIO);
	}
}

static void
badnames(void)
{
	struct fuse_entry_out e;
	char name[NAME_MAX + 2];

	fresh();
	hwrite("a", "");
	CHECK(lookup(1, "..", &e) == -EINVAL);
	CHECK(lookup(1, ".", &e) == -EINVAL);
	CHECK(lookup(1, "a/b", &e) == -EINVAL);
	CHECK(lookup(1, "/etc", &e) == -EINVAL);
	CHECK(lookup(1, "", &e) == -EINVAL);
	CHECK(lookup(1, "a", &e) == 0);
	/* a NUL inside: "a\0b\0" is not "a" */
	CHECK(call2(FUSE_LOOKUP, 1, NULL, 0, "a\0b", 4, 4096) == -EINVAL);
	/* no NUL at all */
	CHECK(call2(FUSE_LOOKUP, 1, NULL, 0, "a", 1, 4096) == -EINVAL);
	CHECK(call2(FUSE_LOOKUP, 1, NULL, 0, NULL, 0, 4096) == -EINVAL);
	memset(name, 'n', sizeof(name));
	name[NAME_MAX + 1] = 0;
	CHECK(lookup(1, name, &e) == -EINVAL);
	name[NAME_MAX] = 0;
	CHECK(lookup(1, name, &e) == -ENOENT);
	CHECK(calln(FUSE_MKDIR, 1, &e, 8, "..") == -EINVAL);
	CHECK(calln(FUSE_MKDIR, 1, &e, 8, "x/y") == -EINVAL);
	CHECK(calln(FUSE_UNLINK, 1, NULL, 0, "../a") == -EINVAL);
	CHECK(calln(FUSE_RMDIR, 1, NULL, 0, "..") == -EINVAL);
	CHECK(call2(FUSE_SYMLINK, 1, NULL, 0, "..\0/", 5, 4096) == -EINVAL);
}

static void
malformed(void)
{
	struct fuse_in_header h;
	struct fuse_entry_out e;
	uint8_t b[256];
	uint64_t addr[4];
	Seg s[4];
	long used;
	int i;

	fresh();
	hwrite("m", "");
	memset(&h, 0, sizeof(h));
	h.opcode = FUSE_LOOKUP;
	h.nodeid = 1;
	/* the header claims more than the chain holds */
	h.len = 1000;
	h.unique = ++uniq;
	memcpy(b, &h, sizeof(h));
	memcpy(b + sizeof(h), "m", 2);
	CHECK(callraw(b, sizeof(h) + 2, 4096) == -EINVAL);
	/* less than a header */
	h.len = 10;
	h.unique = ++uniq;
	memcpy(b, &h, sizeof(h));
	CHECK(callraw(b, sizeof(h) + 2, 4096) == -EINVAL);
	/* a chain shorter than a header */
	h.len = sizeof(h);
	memcpy(b, &h, sizeof(h));
	s[0].p = b;
	s[0].n = 8;
	s[0].w = 0;
	s[1].n = 64;
	s[1].w = 1;
	CHECK(submit(REQQ, s, 2, addr) == 16);
	{
		struct fuse_out_header o;

		memcpy(&o, g.gm.base + addr[1], sizeof(o));
		CHECK(o.error == -EINVAL && o.len == 16);
	}
	/* missing arguments */
	CHECK(call2(FUSE_SETATTR, 1, b, 10, NULL, 0, 4096) == -EINVAL);
	CHECK(call2(FUSE_READ, 1, b, 39, NULL, 0, 4096) == -EINVAL);
	CHECK(call2(FUSE_WRITE, 1, b, 0, NULL, 0, 4096) == -EINVAL);
	CHECK(call2(FUSE_CREATE, 1, b, 8, NULL, 0, 4096) == -EINVAL);
	CHECK(call2(FUSE_RENAME, 1, b, 4, NULL, 0, 4096) == -EINVAL);
	/* a WRITE whose size is more than it carries */
	{
		struct fuse_write_in w;
		struct fuse_entry_out ce;
		uint64_t fh;

		CHECK(create(1, "w", O_RDWR, 0644, &ce, &fh) == 0);
		memset(&w, 0, sizeof(w));
		w.fh = fh;
		w.size = 100;
		CHECK(call2(FUSE_WRITE, 1, &w, sizeof(w), "abc", 3, 4096) == -EINVAL);
		w.size = 3;
		w.offset = (uint64_t)1 << 63;
		CHECK(call2(FUSE_WRITE, 1, &w, sizeof(w), "abc", 3, 4096) == -EINVAL);
		w.offset = 0;
		w.fh = 0;
		CHECK(call2(FUSE_WRITE, 1, &w, sizeof(w), "abc", 3, 4096) == -EBADF);
		w.fh = 1ull << 40;
		CHECK(call2(FUSE_WRITE, 1, &w, sizeof(w), "abc", 3, 4096) == -EBADF);
		CHECK(release(FUSE_RELEASE, fh) == 0);
	}
	/* unknown opcodes */
	CHECK(call(9999, 1, NULL, 0) == -ENOSYS);
	CHECK(call(FUSE_GETXATTR, 1, b, 8) == -ENOSYS);
	CHECK(call(0, 1, NULL, 0) == -ENOSYS);
	/* no writable part: nothing done, nothing written */
	CHECK(call2(FUSE_LOOKUP, 1, NULL, 0, "m", 2, 0) == 0);
	/* room for less than an out header */
	CHECK(call2(FUSE_LOOKUP, 1, NULL, 0, "m", 2, 8) == -9997 || rn == 0);
	/* room for the header but not the entry */
	CHECK(call2(FUSE_LOOKUP, 1, NULL, 0, "m", 2, 16 + 10) == -EINVAL && rn == 0);
	/* the header and the name over three readable segments, the reply over two */
	h.len = sizeof(h) + 2;
	h.opcode = FUSE_LOOKUP;
	h.unique = ++uniq;
	memcpy(b, &h, sizeof(h));
	memcpy(b + sizeof(h), "m", 2);
	s[0].p = b;
	s[0].n = 7;
	s[1].p = b + 7;
	s[1].n = sizeof(h) - 7 + 1;
	s[1].w = 0;
	s[2].p = b + sizeof(h) + 1;
	s[2].n = 1;
	s[2].w = 0;
	s[3].n = 4096;
	s[3].w = 1;
	used = submit(REQQ, s, 4, addr);
	CHECK(used == 16 + (long)sizeof(e));
	{
		struct fuse_out_header o;

		memcpy(&o, g.gm.base + addr[3], sizeof(o));
		CHECK(o.error == 0 && o.unique == h.unique);
	}
	/* a BATCH_FORGET whose count runs past its end is ignored */
	{
		struct fuse_batch_forget_in bf;

		CHECK(lookup(1, "m", &e) == 0);
		memset(&bf, 0, sizeof(bf));
		bf.count = 0x7fffffff;
		h.len = sizeof(h) + sizeof(bf);
		h.opcode = FUSE_BATCH_FORGET;
		memcpy(b, &h, sizeof(h));
		memcpy(b + sizeof(h), &bf, sizeof(bf));
		s[0].p = b;
		s[0].n = h.len;
		CHECK(submit(HIPRIO, s, 1, NULL) == 0);
		CHECK(getattr(e.nodeid, &e.attr) == 0);
	}
	/* INTERRUPT on hiprio, FORGET of nonsense nodeids */
	h.len = sizeof(h) + 8;
	h.opcode = FUSE_INTERRUPT;
	memcpy(b, &h, sizeof(h));
	s[0].n = h.len;
	CHECK(submit(HIPRIO, s, 1, NULL) == 0);
	forget(0, 1);
	forget(1, 1000);
	forget(~0ull, 1);
	CHECK(getattr(1, &e.attr) == 0);
	/* garbage of every length */
	srand(1);
	for (i = 0; i < 2000; i++) {
		int k, n = rand() % 200;

		for (k = 0; k < n; k++)
			b[k] = rand();
		if (n >= 8) {
			uint32_t len = rand() % 2 ? (uint32_t)n : (uint32_t)rand();
			uint32_t op = rand() % 60;

			memcpy(b, &len, 4);
			memcpy(b + 4, &op, 4);
			if (op == FUSE_INIT || op == FUSE_DESTROY)
				memset(b + 4, 0, 4);
		}
		s[0].p = b;
		s[0].n = n ? n : 1;
		s[0].w = 0;
		s[1].n = rand() % 300;
		s[1].w = 1;
		used = submit(rand() % 2 ? REQQ : HIPRIO, s, s[1].n ? 2 : 1, addr);
		CHECK(used >= 0 && used <= s[1].n);
	}
	/* still serving */
	CHECK(getattr(1, &e.attr) == 0);
	CHECK(lookup(1, "m", &e) == 0);
}

static void
forgets(void)
{
	struct fuse_entry_out e, e2;
	struct fuse_attr a;

	fresh();
	hwrite("fg", "x");
	CHECK(lookup(1, "fg", &e) == 0);
	CHECK(lookup(1, "fg", &e2) == 0 && e2.nodeid == e.nodeid);
	forget(e.nodeid, 1);
	CHECK(getattr(e.nodeid, &a) == 0);
	forget(e.nodeid, 1);
	CHECK(getattr(e.nodeid, &a) == -ESTALE);
	CHECK(lookup(1, "fg", &e2) == 0 && getattr(e2.nodeid, &a) == 0);
	/* BATCH_FORGET */
	{
		struct fuse_batch_forget_in bf;
		struct fuse_forget_one one;
		struct fuse_in_header h;
		uint8_t b[sizeof(h) + sizeof(bf) + sizeof(one)];
		Seg s;

		memset(&h, 0, sizeof(h));
		h.len = sizeof(b);
		h.opcode = FUSE_BATCH_FORGET;
		bf.count = 1;
		bf.dummy = 0;
		one.nodeid = e2.nodeid;
		one.nlookup = 1;
		memcpy(b, &h, sizeof(h));
		memcpy(b + sizeof(h), &bf, sizeof(bf));
		memcpy(b + sizeof(h) + sizeof(bf), &one, sizeof(one));
		s.p = b;
		s.n = sizeof(b);
		s.w = 0;
		CHECK(submit(HIPRIO, &s, 1, NULL) == 0);
		CHECK(getattr(e2.nodeid, &a) == -ESTALE);
	}
	/* the root is never forgotten */
	forget(1, 1 << 20);
	CHECK(getattr(1, &a) == 0);
}

static void
readcap(void)
{
	struct fuse_entry_out e;
	static char big[300 * 1024], buf[300 * 1024];
	uint64_t fh;
	int fd, i;

	fresh();
	for (i = 0; i < (int)sizeof(big); i++)
		big[i] = 'a' + i % 26;
	fd = open(hpath("big"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && write(fd, big, sizeof(big)) == sizeof(big));
	close(fd);
	CHECK(lookup(1, "big", &e) == 0 && e.attr.size == sizeof(big));
	CHECK(fopen_(e.nodeid, O_RDONLY, &fh) == 0);
	CHECK(rw(FUSE_READ, fh, 0, buf, 8192, 16 + 1000) == 1000);
	CHECK(!memcmp(buf, big, 1000));
	CHECK(rw(FUSE_READ, fh, 26, buf, 1u << 30, 16 + 4096) == 4096);
	CHECK(!memcmp(buf, big, 4096));
	/* at most one max_write, however large the room */
	CHECK(rw(FUSE_READ, fh, 0, buf, 1u << 30, 290 * 1024) <= 256 * 1024);
	/* room for the header only */
	CHECK(rw(FUSE_READ, fh, 0, buf, 100, 16) == 0);
	CHECK(release(FUSE_RELEASE, fh) == 0);
	/* a large write is taken whole */
	CHECK(fopen_(e.nodeid, O_RDWR, &fh) == 0);
	memset(big, 'z', 200 * 1024);
	CHECK(rw(FUSE_WRITE, fh, 0, big, 200 * 1024, 0) == 200 * 1024);
	CHECK(rw(FUSE_READ, fh, 200 * 1024 - 10, buf, 20, 4096) == 20);
	CHECK(!memcmp(buf, "zzzzzzzzzz", 10) && buf[10] != 'z');
	CHECK(release(FUSE_RELEASE, fh) == 0);
}

static void
setattrs(void)
{
	struct fuse_setattr_in in;
	struct fuse_attr_out o;
	struct fuse_entry_out e;
	struct stat st;
	uint64_t fh;

	fresh();
	hwrite("sa", "0123456789abcdefghij");
	CHECK(lookup(1, "sa", &e) == 0);
	memset(&in, 0, sizeof(in));
	in.valid = FATTR_SIZE;
	in.size = 10;
	CHECK(call(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == 0);
	memcpy(&o, rb, sizeof(o));
	CHECK(o.attr.size == 10);
	CHECK(stat(hpath("sa"), &st) == 0 && st.st_size == 10);
	/* through a handle */
	CHECK(fopen_(e.nodeid, O_RDWR, &fh) == 0);
	in.valid = FATTR_SIZE | FATTR_FH;
	in.fh = fh;
	in.size = 3;
	CHECK(call(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == 0);
	CHECK(stat(hpath("sa"), &st) == 0 && st.st_size == 3);
	CHECK(release(FUSE_RELEASE, fh) == 0);
	in.valid = FATTR_SIZE;
	in.size = ~0ull;
	CHECK(call(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == -EFBIG);
	in.size = 0;
	CHECK(call(FUSE_SETATTR, 1, &in, sizeof(in)) == -EISDIR);
	/* mode */
	in.valid = FATTR_MODE;
	in.mode = S_IFREG | 04711;
	CHECK(call(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == 0);
	CHECK(stat(hpath("sa"), &st) == 0 && (st.st_mode & 07777) == 04711);
	/* times */
	in.valid = FATTR_ATIME | FATTR_MTIME;
	in.atime = 1000000000;
	in.atimensec = 5;
	in.mtime = 1500000000;
	in.mtimensec = 7;
	CHECK(call(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == 0);
	CHECK(stat(hpath("sa"), &st) == 0 && st.st_atim.tv_sec == 1000000000 &&
	    st.st_atim.tv_nsec == 5 && st.st_mtim.tv_sec == 1500000000 &&
	    st.st_mtim.tv_nsec == 7);
	in.valid = FATTR_MTIME | FATTR_MTIME_NOW;
	CHECK(call(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == 0);
	CHECK(stat(hpath("sa"), &st) == 0 && st.st_mtim.tv_sec > 1500000000 &&
	    st.st_atim.tv_sec == 1000000000);
	in.valid = FATTR_MTIME;
	in.mtimensec = 1000000000;
	CHECK(call(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == -EINVAL);
	/* owner */
	if (root) {
		in.valid = FATTR_UID | FATTR_GID;
		in.uid = 4321;
		in.gid = 8765;
		CHECK(call(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == 0);
		memcpy(&o, rb, sizeof(o));
		CHECK(o.attr.uid == 4321 && o.attr.gid == 8765);
		CHECK(stat(hpath("sa"), &st) == 0 && st.st_uid == 4321 &&
		    st.st_gid == 8765);
		in.valid = FATTR_GID;
		in.gid = 1;
		CHECK(call(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == 0);
		CHECK(stat(hpath("sa"), &st) == 0 && st.st_uid == 4321 && st.st_gid == 1);
	}
}

static void
statfs_(void)
{
	struct fuse_statfs_out o;

	fresh();
	CHECK(call(FUSE_STATFS, 1, NULL, 0) == 0 && rn == sizeof(o));
	memcpy(&o, rb, sizeof(o));
	CHECK(o.st.blocks > 0 && o.st.bsize > 0 && o.st.namelen == 255);
	CHECK(call(FUSE_STATFS, 77777, NULL, 0) == -ESTALE);
	CHECK(call(FUSE_ACCESS, 1, &o, 8) == -ENOSYS);
}

static void
owners(void)
{
	struct fuse_entry_out e;
	struct fuse_mknod_in mk;
	struct stat st;
	uint64_t fh;

	if (!root) {
		printf("  (not root: ownership not checked)\n");
		return;
	}
	fresh();
	tuid = 1234;
	tgid = 5678;
	CHECK(create(1, "owned", O_RDWR, 06755, &e, &fh) == 0);
	CHECK(e.attr.uid == 1234 && e.attr.gid == 5678);
	CHECK((e.attr.mode & 07777) == 06755);	/* the chown did not clear them */
	CHECK(stat(hpath("owned"), &st) == 0 && st.st_uid == 1234 && st.st_gid == 5678);
	CHECK(release(FUSE_RELEASE, fh) == 0);
	CHECK(mkdir_(1, "odir", 0777, &e) == 0);
	CHECK(e.attr.uid == 1234 && e.attr.gid == 5678 && (e.attr.mode & 07777) == 0777);
	CHECK(stat(hpath("odir"), &st) == 0 && st.st_uid == 1234);
	CHECK(call2(FUSE_SYMLINK, 1, NULL, 0, "olink\0owned", 12, 4096) == 0);
	CHECK(lstat(hpath("olink"), &st) == 0 && st.st_uid == 1234 && st.st_gid == 5678);
	memset(&mk, 0, sizeof(mk));
	mk.mode = S_IFIFO | 0640;
	CHECK(calln(FUSE_MKNOD, 1, &mk, sizeof(mk), "ofifo") == 0);
	CHECK(lstat(hpath("ofifo"), &st) == 0 && st.st_uid == 1234);
	/* an existing file opened by CREATE keeps its owner */
	tuid = 99;
	CHECK(create(1, "owned", O_RDWR, 0600, &e, &fh) == 0);
	CHECK(e.attr.uid == 1234 && (e.attr.mode & 07777) == 06755);
	CHECK(release(FUSE_RELEASE, fh) == 0);
	/* a set-group-ID directory hands down its group */
	tuid = 1234;
	CHECK(chown(hpath("odir"), 0, 4444) == 0 && chmod(hpath("odir"), 02777) == 0);
	CHECK(lookup(1, "odir", &e) == 0);
	CHECK(mkdir_(e.nodeid, "inner", 0755, &e) == 0);
	CHECK(e.attr.gid == 4444 && (e.attr.mode & 02000));
	tuid = tgid = 0;
}

/*
 * Many inodes made and found under one directory, past every size the
 * inode table had to grow through: the directory's inode must stay valid
 * while each new one is added (it was read after a realloc had moved it:
 * ASan from the 63rd MKDIR, a plain build's segfault at the 8191st).
 */
static void
growth(void)
{
	struct fuse_entry_out e, pe;
	struct fuse_mknod_in mk;
	struct fuse_link_in li;
	struct fuse_attr a;
	char name[32], names[4096];
	struct stat st;
	uint64_t fh, gdir;
	int i, n, bad = 0;

	fresh();
	CHECK(mkdir_(1, "grow", 02755, &pe) == 0);
	gdir = pe.nodeid;
	for (i = 0; i < 9000 && !bad; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		switch (i % 6) {
		case 0:
			bad = mkdir_(gdir, name, 0755, &e);
			break;
		case 1:
			if (!(bad = create(gdir, name, O_RDWR, 0644, &e, &fh)))
				bad = release(FUSE_RELEASE, fh);
			break;
		case 2:
			memset(&mk, 0, sizeof(mk));
			mk.mode = S_IFIFO | 0600;
			if (!(bad = calln(FUSE_MKNOD, gdir, &mk, sizeof(mk), name)))
				memcpy(&e, rb, sizeof(e));
			break;
		case 3:
			snprintf(names, sizeof(names), "%s%ctarget", name, 0);
			if (!(bad = call2(FUSE_SYMLINK, gdir, NULL, 0, names,
			    strlen(name) + 8, 4096)))
				memcpy(&e, rb, sizeof(e));
			break;
		case 4:
			snprintf(names, sizeof(names), "grow/%s", name);
			hwrite(names, "x");
			bad = lookup(gdir, name, &e);
			break;
		case 5:
			memset(&li, 0, sizeof(li));
			li.oldnodeid = e.nodeid;	/* the file of case 4 */
			if (!(bad = calln(FUSE_LINK, gdir, &li, sizeof(li), name)))
				memcpy(&e, rb, sizeof(e));
			break;
		}
		snprintf(names, sizeof(names), "grow/%s", name);
		if (!bad && (lstat(hpath(names), &st) < 0 || e.attr.ino != st.st_ino ||
		    e.nodeid < 2))
			bad = -9980;
		/* made in a set-group-ID directory: its group came from it */
		if (!bad && i % 6 == 0 && !(e.attr.mode & S_ISGID))
			bad = -9981;
	}
	CHECK(!bad && i == 9000);
	if (bad)
		printf("  op %d (%d): %d\n", i - 1, (i - 1) % 6, bad);
	CHECK(getattr(gdir, &a) == 0 && a.ino == pe.attr.ino);
	/* READDIRPLUS counts each one once more, holding its handle */
	CHECK(listdir(gdir, 1, 4096, names, sizeof(names), NULL, &n) == 0 &&
	    n == 9000 + 2);
}

/* SIGALRM: a request that blocked the loop thread */
static void
hung(int sig)
{
	static const char m[] = "FAIL (a request blocked the loop: killed by alarm)\n";

	(void)sig;
	if (write(1, m, sizeof(m) - 1) < 0)
		_exit(3);
	_exit(3);
}

/* CREATE of an existing FIFO: an error at once, not a loop thread blocked forever */
static void
createfifo(void)
{
	struct fuse_entry_out e;
	char hi[] = "hi";
	uint64_t fh, t0;

	fresh();
	CHECK(mkfifo(hpath("cfifo"), 0666) == 0);
	signal(SIGALRM, hung);
	alarm(5);
	t0 = nowns();
	CHECK(create(1, "cfifo", O_WRONLY, 0644, &e, &fh) != 0);
	CHECK(create(1, "cfifo", O_RDONLY, 0644, &e, &fh) != 0);
	CHECK(create(1, "cfifo", O_RDWR | O_TRUNC, 0644, &e, &fh) != 0);
	CHECK(lookup(1, "cfifo", &e) == 0);
	CHECK(fopen_(e.nodeid, O_WRONLY, &fh) == -ENXIO);
	CHECK(nowns() - t0 < 2000000000ull);
	alarm(0);
	signal(SIGALRM, SIG_DFL);
	/* a regular file still opens through CREATE, truncated if asked */
	hwrite("cf", "abc");
	CHECK(create(1, "cf", O_RDWR | O_TRUNC, 0644, &e, &fh) == 0);
	CHECK(e.attr.size == 0 && rw(FUSE_WRITE, fh, 0, hi, 2, 0) == 2);
	CHECK(release(FUSE_RELEASE, fh) == 0);
}

/* husk's fds open for I/O on the shared file name: 1 if all block, 0 if not, -1 none */
static int
blocking(const char *name)
{
	char link[64], target[PATH_MAX];
	ssize_t n;
	int fd, fl, r = -1;

	for (fd = 3; fd < 4096; fd++) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		if ((n = readlink(link, target, sizeof(target) - 1)) < 0)
			continue;
		target[n] = 0;
		fl = fcntl(fd, F_GETFL);
		if (strcmp(target, hpath(name)) || fl < 0 || (fl & O_PATH) ||
		    (fl & O_ACCMODE) == O_RDONLY)
			continue;
		if (fl & O_NONBLOCK)
			return 0;
		r = 1;
	}
	return r;
}

/* a file a host process holds a lease on: OPEN says EAGAIN, not wait 45 s */
static void
leased(void)
{
	struct fuse_setattr_in in;
	struct fuse_entry_out e;
	uint64_t fh;
	int fd;

	if (!root) {
		printf("  (not root: no lease to test with)\n");
		return;
	}
	fresh();
	hwrite("leased", "abc");
	CHECK(chmod(hpath("leased"), 0644) == 0);
	signal(SIGIO, SIG_IGN);	/* the lease breaker's signal */
	CHECK((fd = open(hpath("leased"), O_RDONLY)) >= 0);
	CHECK(fcntl(fd, F_SETLEASE, F_RDLCK) == 0);
	CHECK(lookup(1, "leased", &e) == 0);
	signal(SIGALRM, hung);
	alarm(5);
	CHECK(fopen_(e.nodeid, O_WRONLY, &fh) == -EWOULDBLOCK);
	CHECK(create(1, "leased", O_WRONLY, 0644, &e, &fh) == -EWOULDBLOCK);
	memset(&in, 0, sizeof(in));
	in.valid = FATTR_SIZE;
	CHECK(call(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == -EWOULDBLOCK);
	alarm(0);
	signal(SIGALRM, SIG_DFL);
	close(fd);
	signal(SIGIO, SIG_DFL);
	/* the lease gone, the same opens work, and block as usual after */
	CHECK(fopen_(e.nodeid, O_WRONLY, &fh) == 0);
	CHECK(blocking("leased") == 1);
	CHECK(release(FUSE_RELEASE, fh) == 0);
	CHECK(create(1, "leased", O_WRONLY, 0644, &e, &fh) == 0);
	CHECK(blocking("leased") == 1);
	CHECK(release(FUSE_RELEASE, fh) == 0);
}

/* the events inotify saw on fd, 0 for none */
static int
notified(int fd)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	return n > 0 ? (int)n : 0;
}

/* a device node in the share is never opened on the host: CREATE, OPEN, truncate */
static void
devnodes(void)
{
	struct fuse_setattr_in in;
	struct fuse_entry_out e;
	uint64_t fh;
	int ifd;

	if (!root) {
		printf("  (not root: no device node to test with)\n");
		return;
	}
	fresh();
	CHECK(mknod(hpath("null"), S_IFCHR | 0666, makedev(1, 3)) == 0);
	CHECK((ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) >= 0);
	CHECK(inotify_add_watch(ifd, hpath("null"), IN_OPEN | IN_CLOSE) >= 0);
	/* the watch works: an open by the test itself is seen */
	close(open(hpath("null"), O_RDONLY));
	CHECK(notified(ifd) > 0);
	CHECK(create(1, "null", O_RDWR, 0644, &e, &fh) != 0);
	CHECK(create(1, "null", O_WRONLY | O_TRUNC, 0644, &e, &fh) != 0);
	CHECK(lookup(1, "null", &e) == 0 && S_ISCHR(e.attr.mode));
	CHECK(fopen_(e.nodeid, O_RDWR, &fh) == -ENXIO);
	memset(&in, 0, sizeof(in));
	in.valid = FATTR_SIZE;
	CHECK(call(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) != 0);
	CHECK(notified(ifd) == 0);	/* husk never opened it */
	close(ifd);
}

/*
 * Host bind mounts (share entries marked by vfs_hostentry): what the
 * guest makes there belongs to the directory's owner, never carries
 * set-user-ID (or set-group-ID but on directories), and no chown to
 * another owner nor device node gets through.
 */
static void
hostowners(void)
{
	struct fuse_setattr_in in;
	struct fuse_entry_out e, d, s;
	struct fuse_mknod_in mk;
	struct fuse_attr_out o;
	struct stat st;
	char names[256];
	uint64_t fh;

	if (!root) {
		printf("  (not root: ownership not checked)\n");
		return;
	}
	fresh();
	CHECK(mkdir(hpath("c1.m0"), 0755) == 0 && chown(hpath("c1.m0"), 4321, 8765) == 0);
	CHECK(mkdir(hpath("c1.m0/deep"), 0755) == 0 &&
	    chown(hpath("c1.m0/deep"), 2222, 3333) == 0);
	CHECK(mkdir(hpath("c1.m1"), 0755) == 0 && chown(hpath("c1.m1"), 4321, 8765) == 0);
	CHECK(mkdir(hpath("c1"), 0755) == 0);
	hwrite("c1.m2", "");
	CHECK(vfs_hostentry(fs, "c1.m0") == 0);
	CHECK(vfs_hostentry(fs, "c1.m2") == 0);
	CHECK(vfs_hostentry(fs, "..") < 0 && vfs_hostentry(fs, "a/b") < 0 &&
	    vfs_hostentry(fs, "") < 0);
	tuid = 1234;
	tgid = 5678;
	CHECK(lookup(1, "c1.m0", &d) == 0);
	/* CREATE: the directory's owner, no set-ID bits */
	CHECK(create(d.nodeid, "suid", O_RDWR, 06755, &e, &fh) == 0);
	CHECK(e.attr.uid == 4321 && e.attr.gid == 8765 && (e.attr.mode & 07777) == 0755);
	CHECK(stat(hpath("c1.m0/suid"), &st) == 0 && st.st_uid == 4321 &&
	    st.st_gid == 8765 && (st.st_mode & 07777) == 0755);
	CHECK(release(FUSE_RELEASE, fh) == 0);
	/* MKDIR: set-group-ID stays on a directory, set-user-ID does not */
	CHECK(mkdir_(d.nodeid, "sdir", 06777, &e) == 0);
	CHECK(stat(hpath("c1.m0/sdir"), &st) == 0 && st.st_uid == 4321 &&
	    st.st_gid == 8765 && (st.st_mode & 07777) == 02777);
	/* below a subdirectory: its owner */
	CHECK(lookup(d.nodeid, "deep", &s) == 0);
	CHECK(mkdir_(s.nodeid, "d2", 0700, &e) == 0);
	CHECK(stat(hpath("c1.m0/deep/d2"), &st) == 0 && st.st_uid == 2222 &&
	    st.st_gid == 3333);
	CHECK(create(e.nodeid, "f", O_RDWR, 02755, &e, &fh) == 0);
	CHECK(stat(hpath("c1.m0/deep/d2/f"), &st) == 0 && st.st_uid == 2222 &&
	    (st.st_mode & 07777) == 0755);
	CHECK(release(FUSE_RELEASE, fh) == 0);
	/* MKNOD: FIFOs yes, owned likewise; character and block devices no */
	memset(&mk, 0, sizeof(mk));
	mk.mode = S_IFIFO | 04640;
	CHECK(calln(FUSE_MKNOD, d.nodeid, &mk, sizeof(mk), "fifo") == 0);
	CHECK(lstat(hpath("c1.m0/fifo"), &st) == 0 && st.st_uid == 4321 &&
	    (st.st_mode & 07777) == 0640);
	mk.mode = S_IFCHR | 0666;	/* 0:0, an overlay whiteout */
	CHECK(calln(FUSE_MKNOD, d.nodeid, &mk, sizeof(mk), "wh") == -EPERM);
	mk.mode = S_IFBLK | 0666;
	CHECK(calln(FUSE_MKNOD, d.nodeid, &mk, sizeof(mk), "blk") == -EPERM);
	CHECK(lstat(hpath("c1.m0/wh"), &st) < 0 && lstat(hpath("c1.m0/blk"), &st) < 0);
	/* SYMLINK */
	snprintf(names, sizeof(names), "sl%cx", 0);
	CHECK(call2(FUSE_SYMLINK, d.nodeid, NULL, 0, names, 5, 4096) == 0);
	CHECK(lstat(hpath("c1.m0/sl"), &st) == 0 && st.st_uid == 4321);
	/* SETATTR: no set-ID bits, no other owner */
	CHECK(lookup(d.nodeid, "suid", &e) == 0);
	memset(&in, 0, sizeof(in));
	in.valid = FATTR_MODE;
	in.mode = S_IFREG | 06711;
	CHECK(call(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == 0);
	memcpy(&o, rb, sizeof(o));
	CHECK((o.attr.mode & 07777) == 0711);
	CHECK(stat(hpath("c1.m0/suid"), &st) == 0 && (st.st_mode & 07777) == 0711);
	in.valid = FATTR_UID;
	in.uid = 0;
	CHECK(call(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == -EPERM);
	in.valid = FATTR_GID;
	in.gid = 0;
	CHECK(call(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == -EPERM);
	CHECK(stat(hpath("c1.m0/suid"), &st) == 0 && st.st_uid == 4321 && st.st_gid == 8765);
	in.valid = FATTR_UID | FATTR_GID;	/* to the owner it has: nothing to refuse */
	in.uid = 4321;
	in.gid = 8765;
	CHECK(call(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == 0);
	in.valid = FATTR_MODE;	/* a directory keeps set-group-ID */
	in.mode = S_IFDIR | 06755;
	CHECK(call(FUSE_SETATTR, s.nodeid, &in, sizeof(in)) == 0);
	CHECK(stat(hpath("c1.m0/deep"), &st) == 0 && (st.st_mode & 07777) == 02755);
	/* a file bound as an entry of its own */
	CHECK(lookup(1, "c1.m2", &e) == 0);
	in.mode = S_IFREG | 04755;
	CHECK(call(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == 0);
	CHECK(stat(hpath("c1.m2"), &st) == 0 && (st.st_mode & 07777) == 0755);
	/* found by READDIRPLUS, then made into */
	forget(s.nodeid, 1);
	CHECK(call(FUSE_OPENDIR, d.nodeid, NULL, 0) == 0);
	memcpy(&fh, rb, sizeof(fh));
	{
		struct fuse_read_in ri;
		struct fuse_direntplus *dp;
		size_t off;

		memset(&ri, 0, sizeof(ri));
		ri.fh = fh;
		ri.size = 4096;
		CHECK(call(FUSE_READDIRPLUS, d.nodeid, &ri, sizeof(ri)) == 0);
		for (off = 0, s.nodeid = 0; off + sizeof(*dp) <= rn;
		    off += FUSE_DIRENTPLUS_SIZE(dp)) {
			dp = (struct fuse_direntplus *)(void *)(rb + off);
			if (dp->dirent.namelen == 4 && !memcmp(dp->dirent.name, "deep", 4))
				s.nodeid = dp->entry_out.nodeid;
		}
		CHECK(s.nodeid != 0);
	}
	CHECK(release(FUSE_RELEASEDIR, fh) == 0);
	CHECK(s.nodeid && mkdir_(s.nodeid, "d3", 04755, &e) == 0);
	CHECK(stat(hpath("c1.m0/deep/d3"), &st) == 0 && st.st_uid == 2222 &&
	    (st.st_mode & 07777) == 02755);	/* deep is set-group-ID now */
	/* looked up before it was marked: marked all the same */
	CHECK(lookup(1, "c1.m1", &e) == 0);
	CHECK(vfs_hostentry(fs, "c1.m1") == 0);
	CHECK(create(e.nodeid, "late", O_RDWR, 04755, &e, &fh) == 0);
	CHECK(stat(hpath("c1.m1/late"), &st) == 0 && st.st_uid == 4321 &&
	    (st.st_mode & 07777) == 0755);
	CHECK(release(FUSE_RELEASE, fh) == 0);
	/* the container's own root beside them: the guest's owners and modes */
	CHECK(lookup(1, "c1", &d) == 0);
	CHECK(create(d.nodeid, "suid", O_RDWR, 04755, &e, &fh) == 0);
	CHECK(stat(hpath("c1/suid"), &st) == 0 && st.st_uid == 1234 &&
	    st.st_gid == 5678 && (st.st_mode & 07777) == 04755);
	CHECK(release(FUSE_RELEASE, fh) == 0);
	/* a new session forgets the inodes, not which entries are the host's */
	CHECK(call(FUSE_DESTROY, 0, NULL, 0) == 0 && init(38) == 0);
	CHECK(lookup(1, "c1.m0", &d) == 0);
	CHECK(mkdir_(d.nodeid, "again", 04777, &e) == 0);
	CHECK(stat(hpath("c1.m0/again"), &st) == 0 && st.st_uid == 4321 &&
	    (st.st_mode & 07777) == 0777);
	/* a set-ID file there loses the bits once the guest opens it to write */
	hwrite("c1.m0/setid", "x");
	CHECK(chmod(hpath("c1.m0/setid"), 06755) == 0);
	CHECK(lookup(d.nodeid, "setid", &e) == 0);
	CHECK(fopen_(e.nodeid, O_RDONLY, &fh) == 0 && release(FUSE_RELEASE, fh) == 0);
	CHECK(stat(hpath("c1.m0/setid"), &st) == 0 && (st.st_mode & 07777) == 06755);
	CHECK(fopen_(e.nodeid, O_WRONLY, &fh) == 0 && release(FUSE_RELEASE, fh) == 0);
	CHECK(stat(hpath("c1.m0/setid"), &st) == 0 && (st.st_mode & 07777) == 0755);
	CHECK(chmod(hpath("c1.m0/setid"), 04755) == 0);
	CHECK(create(d.nodeid, "setid", O_RDWR, 0644, &e, &fh) == 0);
	CHECK(release(FUSE_RELEASE, fh) == 0);
	CHECK(stat(hpath("c1.m0/setid"), &st) == 0 && (st.st_mode & 07777) == 0755);
	CHECK(chmod(hpath("c1.m0/setid"), 02755) == 0);
	memset(&in, 0, sizeof(in));
	in.valid = FATTR_SIZE;
	CHECK(call(FUSE_SETATTR, e.nodeid, &in, sizeof(in)) == 0);
	CHECK(stat(hpath("c1.m0/setid"), &st) == 0 && (st.st_mode & 07777) == 0755 &&
	    st.st_size == 0);
	/* in the container's root they stay, as for root under runc */
	hwrite("c1/setid", "x");
	CHECK(chmod(hpath("c1/setid"), 04755) == 0);
	CHECK(lookup(1, "c1", &d) == 0 && lookup(d.nodeid, "setid", &e) == 0);
	CHECK(fopen_(e.nodeid, O_WRONLY, &fh) == 0 && release(FUSE_RELEASE, fh) == 0);
	CHECK(stat(hpath("c1/setid"), &st) == 0 && (st.st_mode & 07777) == 04755);
	tuid = tgid = 0;
}

/* lines in a file */
static int
lines(int fd)
{
	char buf[65536];
	ssize_t n, i;
	int k = 0;

	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++)
			k += buf[i] == '\n';
	return k;
}

/* what the guest can make husk log, at will, is rate-limited */
static void
logflood(void)
{
	struct fuse_init_in in;
	struct fuse_in_header h;
	struct fuse_attr a;
	char path[] = "/tmp/husk-rootfs-log-XXXXXX";
	int fd, saved, i, n;

	fresh();
	CHECK((fd = mkstemp(path)) >= 0);
	unlink(path);
	saved = dup(2);
	dup2(fd, 2);
	loglevel = LDEBUG;
	memset(&in, 0, sizeof(in));
	in.major = 7;
	in.minor = 5;
	memset(&h, 0, sizeof(h));
	h.len = 1000;
	h.opcode = FUSE_GETATTR;
	h.nodeid = 1;
	for (i = 0; i < 100; i++) {
		call(FUSE_INIT, 0, &in, sizeof(in));	/* too old */
		call(9999, 1, NULL, 0);			/* unknown */
		getattr(1u << 30, &a);			/* stale */
		callraw(&h, sizeof(h), 4096);		/* longer than given */
	}
	loglevel = LERR;
	dup2(saved, 2);
	close(saved);
	n = lines(fd);
	close(fd);
	CHECK(n <= 4 * (LOG_BURST + 1));
	if (n > 4 * (LOG_BURST + 1))
		printf("  %d lines for 400 bad requests\n", n);
	fresh();
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
	struct fuse_entry_out e;
	struct fuse_attr a;
	pthread_t t;
	uint64_t fh;

	fresh();
	CHECK(create(1, "rs", O_RDWR, 0644, &e, &fh) == 0);
	CHECK(pthread_create(&t, NULL, resetter, NULL) == 0);
	pthread_join(t, NULL);
	CHECK(gr(&g, 0x070) == 0);
	fresh();
	CHECK(getattr(e.nodeid, &a) == -ESTALE);
	CHECK(rw(FUSE_READ, fh, 0, &a, 1, 4096) == -EBADF);
	CHECK(getattr(1, &a) == 0);
	CHECK(lookup(1, "rs", &e) == 0);
	/* DESTROY too, and INIT starts again */
	CHECK(call(FUSE_DESTROY, 0, NULL, 0) == 0);
	CHECK(init(38) == 0);
	CHECK(getattr(e.nodeid, &a) == -ESTALE);
}

static void
many(void)
{
	struct fuse_entry_out e;
	uint64_t fh, first = 0;
	int i, err = 0;

	fresh();
	CHECK(create(1, "h", O_RDWR, 0644, &e, &fh) == 0);
	/* handles come back when released */
	for (i = 0; i < 3000 && !err; i++) {
		err = fopen_(e.nodeid, O_RDONLY, &fh);
		if (!first)
			first = fh;
		err = err ? err : release(FUSE_RELEASE, fh);
	}
	CHECK(!err && fh == first);
}

static void
newfails(void)
{
	char err[ERRLEN];

	CHECK(!vfs_new(&g.gm, dir, "", err) && strstr(err, "tag"));
	CHECK(!vfs_new(&g.gm, dir, "0123456789012345678901234567890123456", err));
	CHECK(!vfs_new(&g.gm, "/nonexistent/dir", "t", err) &&
	    strstr(err, "/nonexistent"));
	CHECK(!vfs_new(&g.gm, "/etc/passwd", "t", err));
}

/* a second device under a low fd limit: its tables fill, ENFILE, no harm */
static void
limits(void)
{
	struct fuse_entry_out e;
	struct rlimit old, rl;
	Guest saved = g;
	char err[ERRLEN], name[32];
	uint64_t fh, last = 0;
	struct stat st;
	Vfs *f2;
	int i, k, fd, r = 0;

	if (!root) {
		printf("  (not root: fd limits not checked)\n");
		return;
	}
	CHECK(getrlimit(RLIMIT_NOFILE, &old) == 0);
	rl.rlim_cur = rl.rlim_max = 2049;	/* 1025 past husk's reserve */
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHECK(mkdir(hpath("lim"), 0755) == 0);
	for (i = 0; i < 800; i++) {
		snprintf(name, sizeof(name), "lim/f%03d", i);
		if ((fd = open(hpath(name), O_WRONLY | O_CREAT, 0644)) >= 0)
			close(fd);
	}
	gbuffer(&g, GMEM);
	if (!(f2 = vfs_new(&g.gm, hpath("lim"), "lim", err))) {
		CHECK(!"vfs_new");
		free(g.gm.base);
		g = saved;
		return;
	}
	g.d = vfs_dev(f2);
	fresh();
	for (i = 0; i < 800; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		if ((r = lookup(1, name, &e)))
			break;
		last = e.nodeid;
	}
	CHECK(r == -ENFILE && i > 500 && i < 800);
	CHECK(create(1, "more", O_RDWR, 0644, &e, &fh) == -ENFILE);
	CHECK(lstat(hpath("lim/more"), &st) < 0);
	forget(last, 1);
	CHECK(lookup(1, name, &e) == 0);
	for (k = 0; k < 400; k++)
		if ((r = fopen_(e.nodeid, O_RDONLY, &fh)))
			break;
	CHECK(r == -ENFILE && k > 100 && k < 400);
	CHECK(call(FUSE_OPENDIR, 1, &fh, 8) == -ENFILE);
	CHECK(release(FUSE_RELEASE, 1) == 0);
	CHECK(fopen_(e.nodeid, O_RDONLY, &fh) == 0 && fh == 1);
	gw(&g, 0x070, 0);
	vfs_free(f2);
	loop_run(0);
	free(g.gm.base);
	g = saved;
	setrlimit(RLIMIT_NOFILE, &old);	/* needs CAP_SYS_RESOURCE: this case runs last */
}

static int
rmone(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* sealed, as the shim serves it: the guest names nothing at the top */
static void
sealed(void)
{
	struct fuse_entry_out e, d;
	struct fuse_mknod_in mk;
	struct fuse_rename_in r;
	struct fuse_link_in li;
	struct stat st;
	char names[16];
	uint64_t fh;

	fresh();
	CHECK(mkdir(hpath("s1"), 0755) == 0);
	hwrite("s1.m0", "bind");
	vfs_seal(fs);
	CHECK(mkdir_(1, "d", 0755, &e) == -EROFS);
	CHECK(create(1, "f", O_RDWR, 0644, &e, &fh) == -EROFS);
	memset(&mk, 0, sizeof(mk));
	mk.mode = S_IFIFO | 0644;
	CHECK(calln(FUSE_MKNOD, 1, &mk, sizeof(mk), "p") == -EROFS);
	/* a symlink planted where the shim will bind c1.m1 */
	snprintf(names, sizeof(names), "s1.m1%c/etc", 0);
	CHECK(call2(FUSE_SYMLINK, 1, NULL, 0, names, 11, 4096) == -EROFS);
	CHECK(lstat(hpath("s1.m1"), &st) < 0 && errno == ENOENT);
	CHECK(calln(FUSE_UNLINK, 1, NULL, 0, "s1.m0") == -EROFS);
	CHECK(calln(FUSE_RMDIR, 1, NULL, 0, "s1") == -EROFS);
	CHECK(lstat(hpath("s1.m0"), &st) == 0 && lstat(hpath("s1"), &st) == 0);
	/* below the top the guest works as before, but cannot move names up */
	CHECK(lookup(1, "s1", &d) == 0);
	CHECK(mkdir_(d.nodeid, "sub", 0755, &e) == 0);
	CHECK(create(d.nodeid, "f", O_RDWR, 0644, &e, &fh) == 0);
	CHECK(release(FUSE_RELEASE, fh) == 0);
	memset(&r, 0, sizeof(r));
	r.newdir = 1;
	memcpy(names, "f\0g", 4);
	CHECK(call2(FUSE_RENAME, d.nodeid, &r, sizeof(r), names, 4, 4096) == -EROFS);
	r.newdir = d.nodeid;
	memcpy(names, "f\0g", 4);
	CHECK(call2(FUSE_RENAME, d.nodeid, &r, sizeof(r), names, 4, 4096) == 0);
	memset(&li, 0, sizeof(li));
	li.oldnodeid = e.nodeid;
	CHECK(calln(FUSE_LINK, 1, &li, sizeof(li), "hard") == -EROFS);
	CHECK(lstat(hpath("s1/g"), &st) == 0 && lstat(hpath("hard"), &st) < 0);
}

int
main(void)
{
	char err[ERRLEN];

	loop_init();
	loglevel = LERR;
	root = geteuid() == 0;
	gbuffer(&g, GMEM);
	if (!mkdtemp(dir) || !mkdtemp(out))
		return 2;
	chmod(dir, 0755);
	{
		char p[128];
		int fd;

		snprintf(p, sizeof(p), "%s/secret", out);
		if ((fd = open(p, O_WRONLY | O_CREAT, 0600)) < 0 || write(fd, "secret", 6) != 6)
			return 2;
		close(fd);
	}
	RUN(newfails);
	if (!(fs = vfs_new(&g.gm, dir, "rootfs", err))) {
		printf("vfs_new: %s\n", err);
		return 2;
	}
	g.d = vfs_dev(fs);
	RUN(tinit);
	RUN(lookupattr);
	RUN(createrw);
	RUN(dirs);
	RUN(removes);
	RUN(noescape);
	RUN(badnames);
	RUN(malformed);
	RUN(forgets);
	RUN(readcap);
	RUN(setattrs);
	RUN(statfs_);
	RUN(owners);
	RUN(growth);
	RUN(createfifo);
	RUN(leased);
	RUN(devnodes);
	RUN(hostowners);
	RUN(logflood);
	RUN(devreset);
	RUN(many);
	RUN(limits);
	RUN(sealed);	/* last: the share stays sealed */
	gw(&g, 0x070, 0);
	vfs_free(fs);
	loop_run(0);
	free(g.gm.base);
	nftw(dir, rmone, 16, FTW_DEPTH | FTW_PHYS);
	nftw(out, rmone, 16, FTW_DEPTH | FTW_PHYS);
	return TDONE();
}
