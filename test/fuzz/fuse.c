/* See LICENSE file for copyright and license details. */
/*
 * virtiofs.c's FUSE server driven by a hostile guest through the request
 * and hiprio virtqueues: the input is a program for the fake driver in
 * vdrv.h. Besides the shared ops (raw writes to the tables and rings,
 * heads published at will, kicks, register writes, resets) it sends FUSE
 * requests: an opcode (usually one the server knows), a nodeid, a uid,
 * the fixed arguments as raw bytes, names from a list or from the input,
 * and reply room of any size, each part split over descriptors or not.
 * Most runs begin with a good FUSE_INIT so the rest gets past it.
 *
 * The share is a small tree on a tmpfs of its own (a private mount
 * namespace when run as root, so the guest can fill nothing else), made
 * again before every run. Beside it lies a file the guest must never
 * reach: every run checks that it is still there, unchanged, alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <linux/fuse.h>

#include "../../husk.h"
#include "fuzz.h"
#include "vdrv.h"

enum { HIPRIO, REQQ };
#define SZ(s)	sizeof(struct s)

static Drv drv;
static Vfs *fs;
static char top[] = "/tmp/husk-fuzz-fuse.XXXXXX";
static char share[64], outside[64];
static uint64_t uniq;

static const struct {
	uint32_t op;
	size_t argsz;
	int names;	/* NUL-terminated names after the arguments */
} ops[] = {
	/* op                  argsz                   names */
	{ FUSE_INIT,           SZ(fuse_init_in),       0 },
	{ FUSE_DESTROY,        0,                      0 },
	{ FUSE_LOOKUP,         0,                      1 },
	{ FUSE_GETATTR,        SZ(fuse_getattr_in),    0 },
	{ FUSE_SETATTR,        SZ(fuse_setattr_in),    0 },
	{ FUSE_READLINK,       0,                      0 },
	{ FUSE_SYMLINK,        0,                      2 },
	{ FUSE_MKNOD,          SZ(fuse_mknod_in),      1 },
	{ FUSE_MKDIR,          SZ(fuse_mkdir_in),      1 },
	{ FUSE_UNLINK,         0,                      1 },
	{ FUSE_RMDIR,          0,                      1 },
	{ FUSE_RENAME,         SZ(fuse_rename_in),     2 },
	{ FUSE_RENAME2,        SZ(fuse_rename2_in),    2 },
	{ FUSE_LINK,           SZ(fuse_link_in),       1 },
	{ FUSE_OPEN,           SZ(fuse_open_in),       0 },
	{ FUSE_READ,           SZ(fuse_read_in),       0 },
	{ FUSE_WRITE,          SZ(fuse_write_in),      0 },
	{ FUSE_STATFS,         0,                      0 },
	{ FUSE_RELEASE,        SZ(fuse_release_in),    0 },
	{ FUSE_FSYNC,          SZ(fuse_fsync_in),      0 },
	{ FUSE_FLUSH,          SZ(fuse_flush_in),      0 },
	{ FUSE_OPENDIR,        SZ(fuse_open_in),       0 },
	{ FUSE_READDIR,        SZ(fuse_read_in),       0 },
	{ FUSE_READDIRPLUS,    SZ(fuse_read_in),       0 },
	{ FUSE_RELEASEDIR,     SZ(fuse_release_in),    0 },
	{ FUSE_FSYNCDIR,       SZ(fuse_fsync_in),      0 },
	{ FUSE_CREATE,         SZ(fuse_create_in),     1 },
	{ FUSE_LSEEK,          SZ(fuse_lseek_in),      0 },
	{ FUSE_FALLOCATE,      SZ(fuse_fallocate_in),  0 },
	{ FUSE_ACCESS,         SZ(fuse_access_in),     0 },
	{ FUSE_GETXATTR,       SZ(fuse_getxattr_in),   1 },
	{ FUSE_LISTXATTR,      SZ(fuse_getxattr_in),   0 },
	{ FUSE_SETXATTR,       SZ(fuse_setxattr_in),   1 },
	{ FUSE_REMOVEXATTR,    0,                      1 },
	{ FUSE_FORGET,         SZ(fuse_forget_in),     0 },
	{ FUSE_BATCH_FORGET,   SZ(fuse_batch_forget_in) + 2 * SZ(fuse_forget_one), 0 },
	{ FUSE_INTERRUPT,      SZ(fuse_interrupt_in),  0 },
	{ FUSE_COPY_FILE_RANGE, SZ(fuse_copy_file_range_in), 0 },
};

static const char *names[] = {
	"f", "d", "l", "g", "new", "x", "f2", "..", ".", "", "a/b", "/",
	"d/g", "l2", "longname-longname-longname-longname-longname-longname",
};

static int
rmone(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level == 0)
		return 0;
	chmod(p, 0700);
	return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

static void
mkfile(const char *name, const char *s, mode_t mode)
{
	char p[128];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", share, name);
	if ((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode)) < 0 ||
	    write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		abort();
	close(fd);
}

/* the share as every run finds it */
static void
resetshare(void)
{
	char p[128];

	nftw(share, rmone, 16, FTW_DEPTH | FTW_PHYS);
	chmod(share, 0755);
	mkfile("f", "hello, world\n", 0644);
	snprintf(p, sizeof(p), "%s/d", share);
	if (mkdir(p, 0755) < 0)
		abort();
	mkfile("d/g", "", 0600);
	snprintf(p, sizeof(p), "%s/l", share);
	if (symlink("/etc/passwd", p) < 0)
		abort();
	snprintf(p, sizeof(p), "%s/l2", share);
	if (symlink("../outside/secret", p) < 0)
		abort();
}

static void
checkoutside(void)
{
	char p[128], b[16];
	struct dirent *e;
	int fd, n = 0;
	ssize_t r;
	DIR *d;

	snprintf(p, sizeof(p), "%s/secret", outside);
	if ((fd = open(p, O_RDONLY)) < 0 || (r = read(fd, b, sizeof(b))) != 6 ||
	    memcmp(b, "secret", 6)) {
		fprintf(stderr, "fuse fuzz: %s changed: the guest got out\n", p);
		abort();
	}
	close(fd);
	if (!(d = opendir(top)))
		abort();
	while ((e = readdir(d)))
		n++;
	closedir(d);
	if (n != 4) {	/* ., .., share, outside */
		fprintf(stderr, "fuse fuzz: %s has new entries: the guest got out\n", top);
		abort();
	}
}

static void
cleanup(void)
{
	char p[128];

	nftw(top, rmone, 16, FTW_DEPTH | FTW_PHYS);
	umount2(top, MNT_DETACH);
	snprintf(p, sizeof(p), "%s", top);
	rmdir(p);
}

static void
fuzzinit(void)
{
	char err[ERRLEN], p[128];
	int fd;

	signal(SIGPIPE, SIG_IGN);
	loglevel = -1;
	if (loop_init() < 0 || !mkdtemp(top))
		abort();
	/* root: a tmpfs of our own, seen by no one else, gone when we are */
	if (unshare(CLONE_NEWNS) == 0 &&
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
	    mount("husk-fuzz", top, "tmpfs", MS_NOSUID | MS_NODEV,
	    "size=8m,nr_inodes=2048,mode=0755") == 0)
		;
	else
		fprintf(stderr, "fuse fuzz: no tmpfs of its own, using %s\n", top);
	atexit(cleanup);
	snprintf(share, sizeof(share), "%s/share", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	if (mkdir(share, 0755) < 0 || mkdir(outside, 0700) < 0)
		abort();
	snprintf(p, sizeof(p), "%s/secret", outside);
	if ((fd = open(p, O_WRONLY | O_CREAT, 0600)) < 0 || write(fd, "secret", 6) != 6)
		abort();
	close(fd);
	drv.gm.size = DMEM;
	if (!(drv.gm.base = calloc(1, DMEM)))
		abort();
	if (!(fs = vfs_new(&drv.gm, share, "rootfs", err))) {
		fprintf(stderr, "vfs_new: %s\n", err);
		abort();
	}
	drv.d = vfs_dev(fs);
	drv.nq = 2;
}

static uint64_t
smallor(In *in, uint64_t (*big)(In *))
{
	unsigned b = in8(in);

	return b < 240 ? b % 8 : big(in);
}

static uint64_t
big64(In *in)
{
	return in32(in) | (uint64_t)in32(in) << 32;
}

/* a FUSE request, its reply room, and how both are cut into segments */
static void
request(In *in)
{
	static uint8_t b[8192 + 512];
	struct fuse_in_header h;
	unsigned form = in8(in), k, i, nn;
	const uint8_t *p;
	const char *nm;
	size_t n, len, room, cut;
	Seg s[4];
	int ns = 0;

	memset(&h, 0, sizeof(h));
	k = in8(in);
	if (k < 250) {
		k %= LEN(ops);
		h.opcode = ops[k].op;
	} else {
		h.opcode = in32(in);
		k = LEN(ops);
	}
	h.nodeid = smallor(in, big64);
	h.unique = ++uniq;
	h.uid = form & 1 ? in32(in) : 0;
	h.gid = form & 1 ? in32(in) : 0;
	h.pid = 1;
	len = sizeof(h);
	/* the fixed arguments: as many bytes as the op takes, or any number */
	n = k < LEN(ops) && !(form & 2) ? ops[k].argsz : in8(in);
	p = inbytes(in, n, &n);
	memset(b + len, 0, k < LEN(ops) ? ops[k].argsz : 0);
	memcpy(b + len, p, n);
	len += MAX(n, k < LEN(ops) ? ops[k].argsz : 0);
	/* WRITE and SETXATTR carry data; make some */
	if (h.opcode == FUSE_WRITE || h.opcode == FUSE_SETXATTR) {
		p = inbytes(in, in16(in) % 4096, &n);
		memcpy(b + len, p, n);
		len += n;
	}
	nn = k < LEN(ops) ? ops[k].names : 0;
	for (i = 0; i < nn; i++) {
		unsigned c = in8(in);

		if (c < 240) {
			nm = names[c % LEN(names)];
			n = strlen(nm) + 1;
			memcpy(b + len, nm, n);
		} else {
			p = inbytes(in, c - 239, &n);
			memcpy(b + len, p, n);
		}
		len += n;
	}
	h.len = form & 4 ? in32(in) : len;
	memcpy(b, &h, sizeof(h));
	room = form & 8 ? in16(in) % 8192 : 4096;
	/* readable: one or two segments; writable: none, one or two */
	if (form & 16 && len > 1) {
		cut = 1 + in8(in) % (len - 1);
		s[ns].p = b;
		s[ns++].n = cut;
		s[ns].p = b + cut;
		s[ns++].n = len - cut;
	} else {
		s[ns].p = b;
		s[ns++].n = len;
	}
	if (!(form & 32)) {
		if (form & 64 && room > 1) {
			cut = 1 + in8(in) % (room - 1);
			s[ns].p = NULL;
			s[ns++].n = cut;
			s[ns].p = NULL;
			s[ns++].n = room - cut;
		} else {
			s[ns].p = NULL;
			s[ns++].n = room;
		}
	}
	i = form & 128 ? HIPRIO : REQQ;
	dchain(&drv, i, s, ns);
	dkick(&drv, i);
}

static void
init(void)
{
	struct {
		struct fuse_in_header h;
		struct fuse_init_in in;
	} r;
	Seg s[2];

	memset(&r, 0, sizeof(r));
	r.h.len = sizeof(r);
	r.h.opcode = FUSE_INIT;
	r.h.unique = ++uniq;
	r.in.major = 7;
	r.in.minor = 38;
	r.in.max_readahead = 65536;
	r.in.flags = FUSE_DO_READDIRPLUS | FUSE_MAX_PAGES | FUSE_ASYNC_READ;
	s[0].p = (const uint8_t *)&r;
	s[0].n = sizeof(r);
	s[1].p = NULL;
	s[1].n = 256;
	dchain(&drv, REQQ, s, 2);
	dkick(&drv, REQQ);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	In in = { data, size };
	unsigned op;

	resetshare();
	if (dup_(&drv) < 0)
		abort();
	if (!(in8(&in) & 1))
		init();
	while (in.n) {
		op = in8(&in) % (DNOPS + 8);
		if (!dop(&drv, &in, op))
			request(&in);
	}
	dw(&drv, 0x070, 0);	/* the reset drops every inode and handle */
	dsettle();
	checkoutside();
	return 0;
}
