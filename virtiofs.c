/* See LICENSE file for copyright and license details. */
/*
 * virtio-fs served in-process: a FUSE server (the kernel's <linux/fuse.h>
 * protocol) over the device's two virtqueues, hiprio (FORGET, INTERRUPT)
 * and one request queue. Each request chain holds fuse_in_header and the
 * arguments in its readable part and gets fuse_out_header and the reply in
 * its writable part. Requests are answered at once, in notify, on the loop
 * thread; a kick serves at most BATCH of them before the loop runs others.
 *
 * The guest is hostile and every request must stay inside the shared
 * directory. The readable part is copied out of guest memory first, so
 * the guest cannot change what was checked, and every length and field is
 * checked against that copy; the reply is built in a buffer and copied to
 * the writable part, cut to its size.
 *
 * An inode is an O_PATH|O_NOFOLLOW fd, found again by (st_dev, st_ino),
 * counted by the guest's lookups and closed by its FORGETs; nodeid 1 is the
 * shared directory itself. Names from the guest are single components
 * (not "", "." or "..", no '/') opened with openat() relative to a
 * directory inode, so there is no path to walk out of the tree. Host
 * symlinks are never followed: the guest gets them as symlinks and its
 * kernel resolves them in its own view, where "/" is the shared directory.
 * A file is opened for I/O by reopening /proc/self/fd/N of its inode, and
 * only when fstat of that O_PATH fd said regular file (an inode's type
 * never changes), with O_NONBLOCK (a host lease must not hold the loop),
 * cleared once open; directories are opened with openat(fd, "."). CREATE
 * makes a file with O_CREAT|O_EXCL, or finds the one there by O_PATH and
 * reopens it as above: a FIFO, a device or a symlink planted under the
 * name is never opened on the host. Character devices other than the
 * overlay whiteout (0:0) and block devices are not made.
 *
 * File handles are a second table of fds. A directory's offsets are the
 * d_off cookies of getdents64, so READDIR seeks and reads, and needs no
 * state between calls. Both tables are bounded by MAXINODES, MAXHANDLES
 * and the fd limit less FDRESERVE, so a guest that fills them gets ENFILE
 * and the rest of husk keeps its fds. Each is allocated whole at its bound
 * (pages never used are never touched) and never moves: a pointer to an
 * Inode or Handle, r->node above all, stays good for the whole request,
 * whatever the request adds to the tables.
 *
 * Owners: in the container's own root, which only root reaches on the
 * host, files the guest makes are owned by the uid and gid in the
 * request's header (a set-group-ID directory's group wins, as in the
 * kernel) and keep every mode bit it asks for, as under runc. Below a
 * top-level entry the shim marked with vfs_hostentry (a bind mount of a
 * host path, which host users reach) an inode is flagged host, and the
 * flag passes to what is found below it: there what the guest makes is
 * owned by the directory it is made in, never carries set-user-ID (nor
 * set-group-ID, but on a directory, where it only hands the group down),
 * chown to another owner is refused, no device node is made, and a file
 * opened there to write loses its set-ID bits (the kernel's rule for a
 * writer without CAP_FSETID, which the guest kernel is not trusted to
 * apply). Files are made with at most the owner's permission bits and
 * given the rest after the chown, so no moment shows a set-ID file owned
 * by root.
 * Once sealed (vfs_seal, as the shim serves the share) the shared
 * directory's own entries are the host's: the guest can make, remove or
 * rename no name there (EROFS), so it can plant nothing where the shim
 * will mount, and fill nothing the shim's tmpfs must hold.
 * Permissions are the guest kernel's to check: virtio-fs mounts with
 * default_permissions.
 *
 * A reset (vCPU thread) or DESTROY drops every inode and handle but the
 * root (and the host marks, which belong to the share, not the session).
 * No loop state is involved, so the reset does it at once; it holds
 * d->lock as notify does. Whatever the guest can make husk log goes
 * through glog, its names through escape().
 *
 * The share this server serves is made on the host by rootfs.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <linux/fuse.h>

#include "husk.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE	(1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE		(1 << 1)
#endif
#ifndef FALLOC_FL_ZERO_RANGE
#define FALLOC_FL_ZERO_RANGE	0x10
#endif

enum { HIPRIO, REQUESTQ };
#define TAGLEN		36		/* config space: tag[36], num_request_queues */
#define QMAX		128		/* queue size: no chain beyond VQ_MAXSEG */
#define MAXPAGES	64		/* pages per request, well inside QMAX */
#define MAXWRITE	(MAXPAGES * 4096)
#define MAXREQ		(sizeof(struct fuse_in_header) + \
			sizeof(struct fuse_write_in) + MAXWRITE)
#define MAXREPLY	(sizeof(struct fuse_out_header) + MAXWRITE)
#define MAXINODES	65536
#define MAXHANDLES	65536
#define FDRESERVE	1024		/* fds left to the rest of husk */
#define HBUCKETS	4096
#define BATCH		256		/* requests per kick */
#define TIMEOUT		1		/* seconds the guest may cache entries and attributes */
#define ROOT		1

typedef struct {
	int fd;			/* O_PATH|O_NOFOLLOW; -1 when free */
	dev_t dev;
	ino_t ino;
	mode_t type;		/* S_IFMT bits: fixed for an inode */
	uint64_t nlookup;
	uint64_t gen;
	uint32_t next;		/* hash chain, or free list; 0 ends */
	int host;		/* below a host bind mount */
} Inode;

typedef struct {
	int fd;			/* -1 when free */
	int dir;
	int host;		/* a directory's: its inode's host flag */
	int top;		/* a directory's: the shared directory itself */
	uint32_t next;		/* free list */
} Handle;

struct Vfs {
	VirtioDev dev;
	char tag[TAGLEN];
	Inode *ino;		/* by nodeid, maxino of them; 0 unused */
	uint32_t nino, freeino;
	uint32_t bucket[HBUCKETS];
	Handle *fh;		/* by fh, maxfh of them; 0 unused */
	uint32_t nfh, freefh;
	uint32_t maxino, maxfh;	/* what the fd limit allows */
	char **hostent;		/* top-level entries host users reach */
	size_t nhostent;
	int sealed;		/* the guest may not change dir's own entries */
	uint64_t gen;
	int inited;
	uint8_t *req, *rep;	/* copies of a request and of its reply */
};

typedef struct {
	Vfs *f;
	struct fuse_in_header h;
	const uint8_t *arg;	/* the arguments: n bytes, copied */
	size_t n;
	Inode *node;		/* h.nodeid, where the operation needs one */
	int top;		/* h.nodeid is the shared directory itself */
	uint8_t *out;		/* the reply after its header */
	size_t max, len;	/* room for it, bytes in it */
} Req;

static char *
procpath(char *buf, int fd)
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
	return buf;
}

static uint32_t
hash(dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino ^ (uint64_t)dev << 40) * 0x9e3779b97f4a7c15ull;

	return (h >> 40) % HBUCKETS;
}

/* the kernel's encoding of a device number (new_encode_dev) */
static uint32_t
encdev(dev_t d)
{
	uint32_t ma = major(d), mi = minor(d);

	return (mi & 0xff) | (ma & 0xfff) << 8 | (mi & ~0xffu) << 12;
}

static Inode *
node(Vfs *f, uint64_t id)
{
	if (id < 1 || id >= f->nino || f->ino[id].fd < 0)
		return NULL;
	return &f->ino[id];
}

static uint32_t
findinode(Vfs *f, const struct stat *st)
{
	uint32_t i;

	for (i = f->bucket[hash(st->st_dev, st->st_ino)]; i; i = f->ino[i].next)
		if (f->ino[i].dev == st->st_dev && f->ino[i].ino == st->st_ino)
			return i;
	return 0;
}

static int
inodesfull(Vfs *f)
{
	return !f->freeino && f->nino >= f->maxino;
}

/* a new inode for fd with one lookup; 0 when the table is full */
static uint32_t
newinode(Vfs *f, int fd, const struct stat *st, int host)
{
	uint32_t id, b;

	if (f->freeino) {
		id = f->freeino;
		f->freeino = f->ino[id].next;
	} else if (f->nino < f->maxino) {
		id = f->nino++;
	} else {
		return 0;
	}
	b = hash(st->st_dev, st->st_ino);
	f->ino[id].fd = fd;
	f->ino[id].dev = st->st_dev;
	f->ino[id].ino = st->st_ino;
	f->ino[id].type = st->st_mode & S_IFMT;
	f->ino[id].nlookup = 1;
	f->ino[id].gen = ++f->gen;
	f->ino[id].host = host;
	f->ino[id].next = f->bucket[b];
	f->bucket[b] = id;
	return id;
}

static void
freeinode(Vfs *f, uint32_t id)
{
	Inode *n = &f->ino[id];
	uint32_t *p;

	for (p = &f->bucket[hash(n->dev, n->ino)]; *p && *p != id; p = &f->ino[*p].next)
		;
	if (*p)
		*p = n->next;
	close(n->fd);
	n->fd = -1;
	n->next = f->freeino;
	f->freeino = id;
}

static void
forget(Vfs *f, uint64_t id, uint64_t nlookup)
{
	Inode *n;

	if (id == ROOT || !(n = node(f, id)))
		return;
	n->nlookup -= MIN(nlookup, n->nlookup);
	if (!n->nlookup)
		freeinode(f, id);
}

static int
handlesfull(Vfs *f)
{
	return !f->freefh && f->nfh >= f->maxfh;
}

/* a handle for fd; 0 when the table is full */
static uint64_t
newhandle(Vfs *f, int fd, int dir)
{
	uint32_t id;

	if (f->freefh) {
		id = f->freefh;
		f->freefh = f->fh[id].next;
	} else if (f->nfh < f->maxfh) {
		id = f->nfh++;
	} else {
		return 0;
	}
	f->fh[id].fd = fd;
	f->fh[id].dir = dir;
	f->fh[id].host = f->fh[id].top = 0;
	f->fh[id].next = 0;
	return id;
}

static Handle *
handle(Vfs *f, uint64_t fh, int dir)
{
	if (fh < 1 || fh >= f->nfh || f->fh[fh].fd < 0 || f->fh[fh].dir != dir)
		return NULL;
	return &f->fh[fh];
}

static void
freehandle(Vfs *f, uint64_t fh)
{
	close(f->fh[fh].fd);
	f->fh[fh].fd = -1;
	f->fh[fh].next = f->freefh;
	f->freefh = fh;
}

/* a new session: nothing but the root */
static void
dropall(Vfs *f)
{
	uint32_t i;

	for (i = ROOT + 1; i < f->nino; i++)
		if (f->ino[i].fd >= 0)
			close(f->ino[i].fd);
	for (i = 1; i < f->nfh; i++)
		if (f->fh[i].fd >= 0)
			close(f->fh[i].fd);
	f->nino = ROOT + 1;
	f->freeino = 0;
	f->nfh = 1;
	f->freefh = 0;
	memset(f->bucket, 0, sizeof(f->bucket));
	f->ino[ROOT].next = 0;
	f->ino[ROOT].nlookup = 1;
	f->bucket[hash(f->ino[ROOT].dev, f->ino[ROOT].ino)] = ROOT;
	f->inited = 0;
}

static void
fillattr(struct fuse_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = st->st_size;
	a->blocks = st->st_blocks;
	a->atime = st->st_atim.tv_sec;
	a->mtime = st->st_mtim.tv_sec;
	a->ctime = st->st_ctim.tv_sec;
	a->atimensec = st->st_atim.tv_nsec;
	a->mtimensec = st->st_mtim.tv_nsec;
	a->ctimensec = st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = encdev(st->st_rdev);
	a->blksize = st->st_blksize;
}

static int
statnode(const Inode *n, struct stat *st)
{
	return fstatat(n->fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ?
	    -errno : 0;
}

static void
fillentry(Vfs *f, struct fuse_entry_out *e, uint32_t id, const struct stat *st)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = id;
	e->generation = f->ino[id].gen;
	e->entry_valid = TIMEOUT;
	e->attr_valid = TIMEOUT;
	fillattr(&e->attr, st);
}

/*
 * Whether name, in a directory that is below a host bind mount (host) or
 * is the shared directory itself (top), is below one
 */
static int
below(const Vfs *f, int host, int top, const char *name)
{
	size_t i;

	if (host)
		return 1;
	for (i = 0; top && i < f->nhostent; i++)
		if (!strcmp(f->hostent[i], name))
			return 1;
	return 0;
}

/* whether name in the request's directory is below a host bind mount */
static int
hostchild(const Req *r, const char *name)
{
	return below(r->f, r->node->host, r->top, name);
}

/*
 * fd (O_PATH) and its stat: its inode counted once more, or a new one,
 * host if found below a host bind mount (and then for good); fd becomes
 * the table's or is closed
 */
static int
intern(Vfs *f, int fd, const struct stat *st, int host, uint32_t *id)
{
	if ((*id = findinode(f, st))) {
		close(fd);
		f->ino[*id].nlookup++;
		f->ino[*id].host |= host;
	} else if (!(*id = newinode(f, fd, st, host))) {
		close(fd);
		return -ENFILE;
	}
	return 0;
}

/* name in directory dirfd: its inode, counted once more; *id and *st */
static int
lookup(Vfs *f, int dirfd, int host, const char *name, uint32_t *id,
    struct stat *st)
{
	int fd, e;

	if ((fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -errno;
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	return intern(f, fd, st, host, id);
}

static int
put(Req *r, const void *p, size_t n)
{
	if (n > r->max - r->len)
		return -EINVAL;
	memcpy(r->out + r->len, p, n);
	r->len += n;
	return 0;
}

static int
okname(const char *s, size_t n)
{
	return n >= 1 && n <= NAME_MAX && strcmp(s, ".") && strcmp(s, "..") &&
	    !memchr(s, '/', n);
}

/* the arguments from off on: exactly one name and its NUL */
static int
name1(const Req *r, size_t off, const char **name)
{
	const char *s = (const char *)r->arg + off;
	size_t n;

	if (off >= r->n || (n = strnlen(s, r->n - off)) != r->n - off - 1 ||
	    !okname(s, n))
		return -EINVAL;
	*name = s;
	return 0;
}

/* two NUL-terminated strings from off on; the first a name */
static int
name2(const Req *r, size_t off, const char **a, const char **b, int bname)
{
	const char *s = (const char *)r->arg + off;
	size_t n, m, left;

	if (off >= r->n)
		return -EINVAL;
	left = r->n - off;
	if ((n = strnlen(s, left)) == left || !okname(s, n))
		return -EINVAL;
	left -= n + 1;
	if (!left || (m = strnlen(s + n + 1, left)) != left - 1 || !m)
		return -EINVAL;
	if (bname ? !okname(s + n + 1, m) : m >= PATH_MAX)
		return -EINVAL;
	*a = s;
	*b = s + n + 1;
	return 0;
}

/* open flags the guest may pass on to the host */
static int
openflags(uint32_t g)
{
	return g & (O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC);
}

/* what opening a file of this type for I/O gives: 0 for a regular file */
static int
openable(mode_t type)
{
	if (type == S_IFDIR)
		return -EISDIR;
	if (type == S_IFLNK)
		return -ELOOP;
	return type == S_IFREG ? 0 : -ENXIO;
}

/*
 * An fd for I/O on the regular file whose O_PATH fd is pfd, the caller
 * having checked its type: never blocking (on a lease a host process
 * holds), and blocking once open, as the guest's I/O expects
 */
static int
reopenfd(int pfd, int flags)
{
	char path[32];
	int fd;

	if ((flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	fd = open(procpath(path, pfd), flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (setnonblock(fd, 0) < 0) {
		close(fd);
		return -EIO;
	}
	return fd;
}


static int
attrreply(Req *r, const Inode *n)
{
	struct fuse_attr_out o;
	struct stat st;
	int e;

	if ((e = statnode(n, &st)))
		return e;
	memset(&o, 0, sizeof(o));
	o.attr_valid = TIMEOUT;
	fillattr(&o.attr, &st);
	return put(r, &o, sizeof(o));
}

/* mode less what may not land below a host bind mount */
static mode_t
hostmode(mode_t type, mode_t mode)
{
	return mode & ~(mode_t)(S_ISUID | (type == S_IFDIR ? 0 : S_ISGID));
}

/*
 * Below a host bind mount a file opened to write (fd, with flags) loses
 * its set-ID bits, as the kernel takes them from a writer without
 * CAP_FSETID: the guest kernel, which should ask for it, is not trusted
 * to, and husk writes as root.
 */
static int
killsetid(int host, int fd, int flags)
{
	struct stat st;

	if (!host || ((flags & O_ACCMODE) == O_RDONLY && !(flags & O_TRUNC)))
		return 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!(st.st_mode & (S_ISUID | S_ISGID)))
		return 0;
	return fchmod(fd, hostmode(S_IFREG, st.st_mode & 07777)) < 0 ? -errno : 0;
}

/* an fd for I/O on a regular file's inode */
static int
reopen(const Inode *n, int flags)
{
	int fd, e;

	if ((e = openable(n->type)))
		return e;
	if ((fd = reopenfd(n->fd, flags)) < 0)
		return fd;
	if ((e = killsetid(n->host, fd, flags))) {
		close(fd);
		return e;
	}
	return fd;
}

/*
 * Inode id, named name in the request's directory, whose stat was ps
 * before: owned and given its mode if new (the essay's owners), replied.
 * The caller's lookup is made good: on an error it is forgotten.
 */
static int
made(Req *r, uint32_t id, const char *name, const struct stat *ps,
    mode_t mode, int new)
{
	struct fuse_entry_out e;
	struct stat st;
	char path[32], esc[NAME_MAX * 4 + 1];
	Inode *n = &r->f->ino[id];	/* the tables never move */
	uid_t uid = r->h.uid;
	gid_t gid = r->h.gid;
	int err;

	if (!new)
		goto done;
	mode &= 07777;
	if (n->host) {
		uid = ps->st_uid;
		gid = ps->st_gid;
		mode = hostmode(n->type, mode);
	} else if (ps->st_mode & S_ISGID) {
		gid = ps->st_gid;	/* handed down, as the kernel does */
	}
	if ((ps->st_mode & S_ISGID) && n->type == S_IFDIR)
		mode |= S_ISGID;
	if (fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		glog(LDEBUG, "vfs: chown %s to %u:%u:",
		    escape(esc, sizeof(esc), name, strlen(name)), uid, gid);
	/* after the chown, which clears set-ID bits; and past husk's umask */
	if (n->type != S_IFLNK && chmod(procpath(path, n->fd), mode) < 0)
		glog(LDEBUG, "vfs: chmod %s:",
		    escape(esc, sizeof(esc), name, strlen(name)));
done:
	if ((err = statnode(n, &st))) {
		forget(r->f, id, 1);
		return err;
	}
	fillentry(r->f, &e, id, &st);
	return put(r, &e, sizeof(e));
}

/* name, just made in the request's directory (ps its stat from before) */
static int
madename(Req *r, const char *name, const struct stat *ps, mode_t mode)
{
	struct stat st;
	uint32_t id;
	int err;

	err = lookup(r->f, r->node->fd, hostchild(r, name), name, &id, &st);
	return err ? err : made(r, id, name, ps, mode, 1);
}

static int
doinit(Req *r)
{
	struct fuse_init_in in;
	struct fuse_init_out o;
	size_t n;

	memset(&in, 0, sizeof(in));
	memcpy(&in, r->arg, MIN(r->n, sizeof(in)));
	memset(&o, 0, sizeof(o));
	o.major = FUSE_KERNEL_VERSION;
	o.minor = FUSE_KERNEL_MINOR_VERSION;
	if (in.major > FUSE_KERNEL_VERSION)	/* the guest asks again with ours */
		return put(r, &o, MIN(r->max, sizeof(o)));
	if (in.major < FUSE_KERNEL_VERSION || in.minor < 12) {
		glog(LWARN, "vfs: the guest speaks FUSE %u.%u: too old",
		    in.major, in.minor);
		return -EPROTO;
	}
	dropall(r->f);
	o.minor = MIN(in.minor, FUSE_KERNEL_MINOR_VERSION);
	o.max_readahead = in.max_readahead;
	o.flags = in.flags & (FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC |
	    FUSE_BIG_WRITES | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |
	    FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES);
	o.max_background = 64;
	o.congestion_threshold = 48;
	o.max_write = MAXWRITE;
	o.time_gran = 1;
	if (o.flags & FUSE_MAX_PAGES)
		o.max_pages = MAXPAGES;
	n = o.minor < 23 ? FUSE_COMPAT_22_INIT_OUT_SIZE : sizeof(o);
	if (n > r->max)
		return -EINVAL;
	r->f->inited = 1;
	return put(r, &o, n);
}

static int
dodestroy(Req *r)
{
	dropall(r->f);
	return 0;
}

static int
dolookup(Req *r)
{
	struct fuse_entry_out e;
	struct stat st;
	const char *name;
	uint32_t id;
	int err;

	if ((err = name1(r, 0, &name)))
		return err;
	if ((err = lookup(r->f, r->node->fd, hostchild(r, name), name, &id, &st)))
		return err;
	fillentry(r->f, &e, id, &st);
	return put(r, &e, sizeof(e));
}

static int
dogetattr(Req *r)
{
	return attrreply(r, r->node);
}

static struct timespec
settime(uint32_t valid, uint32_t set, uint32_t now, uint64_t s, uint32_t ns)
{
	struct timespec ts;

	ts.tv_sec = 0;
	ts.tv_nsec = UTIME_OMIT;
	if (valid & now) {
		ts.tv_nsec = UTIME_NOW;
	} else if (valid & set) {
		ts.tv_sec = (int64_t)s;
		ts.tv_nsec = ns;
	}
	return ts;
}

static int
dosetattr(Req *r)
{
	struct fuse_setattr_in in;
	struct timespec ts[2];
	struct stat st;
	char path[32];
	Inode *n = r->node;
	Handle *h;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	int fd, e;

	memcpy(&in, r->arg, sizeof(in));
	procpath(path, n->fd);
	/* below a host bind mount: the owner it has, or nothing done */
	if (n->host && (in.valid & (FATTR_UID | FATTR_GID))) {
		if ((e = statnode(n, &st)))
			return e;
		if (((in.valid & FATTR_UID) && in.uid != st.st_uid) ||
		    ((in.valid & FATTR_GID) && in.gid != st.st_gid))
			return -EPERM;
		in.valid &= ~(FATTR_UID | FATTR_GID);
	}
	if (in.valid & (FATTR_UID | FATTR_GID)) {
		uid = in.valid & FATTR_UID ? (uid_t)in.uid : (uid_t)-1;
		gid = in.valid & FATTR_GID ? (gid_t)in.gid : (gid_t)-1;
		if (fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	if (in.valid & FATTR_MODE) {
		if (n->type == S_IFLNK)
			return -EOPNOTSUPP;
		mode = in.mode & 07777;
		if (n->host)
			mode = hostmode(n->type, mode);
		if (chmod(path, mode) < 0)
			return -errno;
	}
	if (in.valid & FATTR_SIZE) {
		if (in.size > INT64_MAX)
			return -EFBIG;
		h = in.valid & FATTR_FH ? handle(r->f, in.fh, 0) : NULL;
		if (h && (fcntl(h->fd, F_GETFL) & O_ACCMODE) != O_RDONLY) {
			if (ftruncate(h->fd, in.size) < 0)
				return -errno;
		} else {
			if ((fd = reopen(n, O_WRONLY)) < 0)
				return fd;
			e = ftruncate(fd, in.size) < 0 ? -errno : 0;
			close(fd);
			if (e)
				return e;
		}
	}
	if (in.valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW)) {
		if (in.atimensec >= 1000000000 || in.mtimensec >= 1000000000)
			return -EINVAL;
		ts[0] = settime(in.valid, FATTR_ATIME, FATTR_ATIME_NOW, in.atime,
		    in.atimensec);
		ts[1] = settime(in.valid, FATTR_MTIME, FATTR_MTIME_NOW, in.mtime,
		    in.mtimensec);
		if (n->type == S_IFLNK)
			e = utimensat(n->fd, "", ts, AT_EMPTY_PATH);
		else
			e = utimensat(AT_FDCWD, path, ts, 0);
		if (e < 0)
			return -errno;
	}
	return attrreply(r, n);
}

static int
doreadlink(Req *r)
{
	char buf[PATH_MAX];
	ssize_t n;

	if (r->node->type != S_IFLNK)
		return -EINVAL;
	if ((n = readlinkat(r->node->fd, "", buf, sizeof(buf))) < 0)
		return -errno;
	return put(r, buf, MIN((size_t)n, r->max));
}

static int
dosymlink(Req *r)
{
	const char *name, *target;
	struct stat ps;
	int e;

	if ((e = name2(r, 0, &name, &target, 0)))
		return e;
	if (inodesfull(r->f))
		return -ENFILE;
	if ((e = statnode(r->node, &ps)))
		return e;
	if (symlinkat(target, r->node->fd, name) < 0)
		return -errno;
	return madename(r, name, &ps, 0777);
}

static int
domknod(Req *r)
{
	struct fuse_mknod_in in;
	struct stat ps;
	const char *name;
	mode_t type;
	int e;

	memcpy(&in, r->arg, sizeof(in));
	if ((e = name1(r, sizeof(in), &name)))
		return e;
	type = in.mode & S_IFMT;
	if (type == S_IFCHR && (in.rdev != 0 || hostchild(r, name)))
		return -EPERM;	/* host devices stay out; 0:0 is a whiteout */
	if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK &&
	    type != S_IFCHR)
		return type == S_IFBLK ? -EPERM : -EINVAL;
	if (inodesfull(r->f))
		return -ENFILE;
	if ((e = statnode(r->node, &ps)))
		return e;
	if (mknodat(r->node->fd, name, type | (in.mode & S_IRWXU), 0) < 0)
		return -errno;
	return madename(r, name, &ps, in.mode);
}

static int
domkdir(Req *r)
{
	struct fuse_mkdir_in in;
	struct stat ps;
	const char *name;
	int e;

	memcpy(&in, r->arg, sizeof(in));
	if ((e = name1(r, sizeof(in), &name)))
		return e;
	if (inodesfull(r->f))
		return -ENFILE;
	if ((e = statnode(r->node, &ps)))
		return e;
	if (mkdirat(r->node->fd, name, in.mode & S_IRWXU) < 0)
		return -errno;
	return madename(r, name, &ps, in.mode);
}

static int
dounlink(Req *r)
{
	const char *name;
	int e;

	if ((e = name1(r, 0, &name)))
		return e;
	return unlinkat(r->node->fd, name, 0) < 0 ? -errno : 0;
}

static int
dormdir(Req *r)
{
	const char *name;
	int e;

	if ((e = name1(r, 0, &name)))
		return e;
	return unlinkat(r->node->fd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

static int
rename2(Req *r, uint64_t newdir, uint32_t flags, size_t off)
{
	const char *old, *new;
	Inode *nd;
	int e;

	if ((e = name2(r, off, &old, &new, 1)))
		return e;
	if (!(nd = node(r->f, newdir)))
		return -ESTALE;
	if (newdir == ROOT && r->f->sealed)
		return -EROFS;	/* as in dispatch: the shim's entries */
	if (nd->type != S_IFDIR)
		return -ENOTDIR;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE) ||
	    flags == (RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (flags)
		e = syscall(SYS_renameat2, r->node->fd, old, nd->fd, new, flags);
	else
		e = renameat(r->node->fd, old, nd->fd, new);
	return e < 0 ? -errno : 0;
}

static int
dorename(Req *r)
{
	struct fuse_rename_in in;

	memcpy(&in, r->arg, sizeof(in));
	return rename2(r, in.newdir, 0, sizeof(in));
}

static int
dorename2(Req *r)
{
	struct fuse_rename2_in in;

	memcpy(&in, r->arg, sizeof(in));
	return rename2(r, in.newdir, in.flags, sizeof(in));
}

static int
dolink(Req *r)
{
	struct fuse_link_in in;
	struct fuse_entry_out e;
	struct stat st;
	const char *name;
	char path[32];
	uint32_t id;
	Inode *old;
	int err;

	memcpy(&in, r->arg, sizeof(in));
	if ((err = name1(r, sizeof(in), &name)))
		return err;
	if (!(old = node(r->f, in.oldnodeid)))
		return -ESTALE;
	if (old->type == S_IFDIR)
		return -EPERM;
	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc does without */
	err = linkat(old->fd, "", r->node->fd, name, AT_EMPTY_PATH);
	if (err < 0 && (errno == ENOENT || errno == EPERM) && old->type != S_IFLNK)
		err = linkat(AT_FDCWD, procpath(path, old->fd), r->node->fd,
		    name, AT_SYMLINK_FOLLOW);
	if (err < 0)
		return -errno;
	if ((err = lookup(r->f, r->node->fd, hostchild(r, name), name, &id, &st)))
		return err;
	fillentry(r->f, &e, id, &st);
	return put(r, &e, sizeof(e));
}

static int
doopen(Req *r)
{
	struct fuse_open_in in;
	struct fuse_open_out o;
	int fd;

	memcpy(&in, r->arg, sizeof(in));
	if (handlesfull(r->f))
		return -ENFILE;
	if ((fd = reopen(r->node, openflags(in.flags))) < 0)
		return fd;
	memset(&o, 0, sizeof(o));
	o.fh = newhandle(r->f, fd, 0);
	return put(r, &o, sizeof(o));
}

/*
 * A new file, made with O_EXCL (a new regular file cannot block), or the
 * one there: found by O_PATH, and reopened only if it is a regular file.
 * Either way the inode is the O_PATH fd of what was opened, not a second
 * look at the name.
 */
static int
docreate(Req *r)
{
	struct fuse_create_in in;
	struct fuse_open_out o;
	struct stat ps, st;
	const char *name;
	char path[32];
	uint32_t id;
	int fd, pfd, e, flags, new = 1;

	memcpy(&in, r->arg, sizeof(in));
	if ((e = name1(r, sizeof(in), &name)))
		return e;
	if ((in.mode & S_IFMT) && (in.mode & S_IFMT) != S_IFREG)
		return -EINVAL;
	if ((in.flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	if (inodesfull(r->f) || handlesfull(r->f))
		return -ENFILE;
	if ((e = statnode(r->node, &ps)))
		return e;
	flags = openflags(in.flags);
	/* O_NOFOLLOW: not through a symlink, dangling or not */
	fd = openat(r->node->fd, name, flags | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC | O_NOCTTY, in.mode & S_IRWXU);
	if (fd >= 0) {
		if ((pfd = open(procpath(path, fd), O_PATH | O_CLOEXEC)) < 0) {
			e = -errno;
			close(fd);
			return e;
		}
	} else if (errno == EEXIST && !(in.flags & O_EXCL)) {
		new = 0;	/* there already: its owner and mode kept */
		pfd = openat(r->node->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (pfd < 0)
			return -errno;
		if (fstat(pfd, &st) < 0)
			e = -errno;
		else if (!(e = openable(st.st_mode & S_IFMT)) &&
		    (fd = reopenfd(pfd, flags)) < 0)
			e = fd;
		if (e) {
			close(pfd);
			return e;
		}
	} else {
		return -errno;
	}
	if (fstat(pfd, &st) < 0) {
		e = -errno;
		close(pfd);
		close(fd);
		return e;
	}
	if ((e = intern(r->f, pfd, &st, hostchild(r, name), &id)) ||
	    (e = made(r, id, name, &ps, in.mode, new))) {
		close(fd);
		return e;
	}
	if (!new && (e = killsetid(r->f->ino[id].host, fd, flags))) {
		close(fd);
		forget(r->f, id, 1);
		return e;
	}
	memset(&o, 0, sizeof(o));
	o.fh = newhandle(r->f, fd, 0);
	return put(r, &o, sizeof(o));
}

static int
doread(Req *r)
{
	struct fuse_read_in in;
	Handle *h;
	ssize_t n;

	memcpy(&in, r->arg, sizeof(in));
	if (!(h = handle(r->f, in.fh, 0)))
		return -EBADF;
	if (in.offset > INT64_MAX)
		return -EINVAL;
	while ((n = pread(h->fd, r->out, MIN(in.size, r->max), in.offset)) < 0 &&
	    errno == EINTR)
		;
	if (n < 0)
		return -errno;
	r->len = n;
	return 0;
}

static int
dowrite(Req *r)
{
	struct fuse_write_in in;
	struct fuse_write_out o;
	const uint8_t *p = r->arg + sizeof(in);
	size_t done = 0;
	Handle *h;
	ssize_t n;

	memcpy(&in, r->arg, sizeof(in));
	if (!(h = handle(r->f, in.fh, 0)))
		return -EBADF;
	if (in.size > r->n - sizeof(in) || in.offset > INT64_MAX ||
	    in.size > INT64_MAX - in.offset)
		return -EINVAL;
	while (done < in.size) {
		n = pwrite(h->fd, p + done, in.size - done, in.offset + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && !done)
			return -errno;
		if (n <= 0)
			break;
		done += n;
	}
	memset(&o, 0, sizeof(o));
	o.size = done;
	return put(r, &o, sizeof(o));
}

static int
dorelease(Req *r)
{
	struct fuse_release_in in;
	int dir = r->h.opcode == FUSE_RELEASEDIR;

	memcpy(&in, r->arg, sizeof(in));
	if (!handle(r->f, in.fh, dir))
		return -EBADF;
	freehandle(r->f, in.fh);
	return 0;
}

static int
doflush(Req *r)
{
	struct fuse_flush_in in;

	memcpy(&in, r->arg, sizeof(in));
	return handle(r->f, in.fh, 0) ? 0 : -EBADF;
}

static int
dofsync(Req *r)
{
	struct fuse_fsync_in in;
	Handle *h;
	int e;

	memcpy(&in, r->arg, sizeof(in));
	if (!(h = handle(r->f, in.fh, r->h.opcode == FUSE_FSYNCDIR)))
		return -EBADF;
	e = in.fsync_flags & 1 ? fdatasync(h->fd) : fsync(h->fd);
	return e < 0 ? -errno : 0;
}

static int
doopendir(Req *r)
{
	struct fuse_open_out o;
	int fd;

	if (handlesfull(r->f))
		return -ENFILE;
	fd = openat(r->node->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&o, 0, sizeof(o));
	if ((o.fh = newhandle(r->f, fd, 1))) {
		r->f->fh[o.fh].host = r->node->host;
		r->f->fh[o.fh].top = r->top;
	}
	return put(r, &o, sizeof(o));
}

/* READDIR and READDIRPLUS: entries from the offset on, while they fit */
static int
doreaddir(Req *r)
{
	union {
		uint64_t align;
		uint8_t b[16384];
	} buf;
	struct fuse_read_in in;
	struct fuse_entry_out e;
	struct fuse_dirent de;
	struct stat st;
	uint64_t ino;
	int64_t off;
	uint16_t reclen;
	uint32_t id;
	size_t max, need, namelen, i, pre;
	const char *name;
	ssize_t n;
	Handle *h;
	int plus = r->h.opcode == FUSE_READDIRPLUS;

	memcpy(&in, r->arg, sizeof(in));
	if (!(h = handle(r->f, in.fh, 1)))
		return -EBADF;
	if (in.offset > INT64_MAX)
		return -EINVAL;
	if (lseek(h->fd, in.offset, SEEK_SET) < 0)
		return -errno;
	max = MIN(in.size, r->max);
	pre = plus ? sizeof(e) : 0;
	for (;;) {
		if ((n = syscall(SYS_getdents64, h->fd, buf.b, sizeof(buf.b))) < 0)
			return r->len ? 0 : -errno;
		if (n == 0)
			return 0;
		for (i = 0; i + 19 < (size_t)n; i += reclen) {
			memcpy(&ino, buf.b + i, 8);
			memcpy(&off, buf.b + i + 8, 8);
			memcpy(&reclen, buf.b + i + 16, 2);
			if (reclen < 20 || reclen > (size_t)n - i)
				return r->len ? 0 : -EIO;
			name = (const char *)buf.b + i + 19;
			namelen = strnlen(name, reclen - 19);
			need = pre + FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + namelen);
			if (need > max - r->len)
				return 0;	/* the guest asks again from the last off */
			memset(&e, 0, sizeof(e));
			e.attr.ino = ino;
			e.attr.mode = (uint32_t)buf.b[i + 18] << 12;
			if (plus && strcmp(name, ".") && strcmp(name, "..") &&
			    !lookup(r->f, h->fd, below(r->f, h->host, h->top, name),
			    name, &id, &st))
				fillentry(r->f, &e, id, &st);
			memset(r->out + r->len, 0, need);
			if (plus)
				memcpy(r->out + r->len, &e, sizeof(e));
			de.ino = ino;
			de.off = off;
			de.namelen = namelen;
			de.type = buf.b[i + 18];
			memcpy(r->out + r->len + pre, &de, FUSE_NAME_OFFSET);
			memcpy(r->out + r->len + pre + FUSE_NAME_OFFSET, name, namelen);
			r->len += need;
		}
	}
}

static int
dostatfs(Req *r)
{
	struct fuse_statfs_out o;
	struct statfs s;

	if (fstatfs(r->node->fd, &s) < 0)
		return -errno;
	memset(&o, 0, sizeof(o));
	o.st.blocks = s.f_blocks;
	o.st.bfree = s.f_bfree;
	o.st.bavail = s.f_bavail;
	o.st.files = s.f_files;
	o.st.ffree = s.f_ffree;
	o.st.bsize = s.f_bsize;
	o.st.namelen = s.f_namelen;
	o.st.frsize = s.f_frsize;
	return put(r, &o, sizeof(o));
}

static int
dolseek(Req *r)
{
	struct fuse_lseek_in in;
	struct fuse_lseek_out o;
	Handle *h;
	off_t off;

	memcpy(&in, r->arg, sizeof(in));
	if (!(h = handle(r->f, in.fh, 0)))
		return -EBADF;
	if (in.offset > INT64_MAX || in.whence > SEEK_HOLE)
		return -EINVAL;
	if ((off = lseek(h->fd, in.offset, in.whence)) < 0)
		return -errno;
	memset(&o, 0, sizeof(o));
	o.offset = off;
	return put(r, &o, sizeof(o));
}

static int
dofallocate(Req *r)
{
	struct fuse_fallocate_in in;
	Handle *h;

	memcpy(&in, r->arg, sizeof(in));
	if (!(h = handle(r->f, in.fh, 0)))
		return -EBADF;
	if (in.mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
	    FALLOC_FL_ZERO_RANGE))
		return -EOPNOTSUPP;
	if (in.offset > INT64_MAX || in.length > INT64_MAX - in.offset)
		return -EINVAL;
	return fallocate(h->fd, in.mode, in.offset, in.length) < 0 ? -errno : 0;
}

/* the request's nodeid must be an inode, a directory; it changes that directory */
enum { NODE = 1, DIR = 2, EDIT = 4 };
#define SZ(s)	sizeof(struct s)
static const struct {
	uint32_t op;
	const char *name;
	int (*fn)(Req *r);
	size_t argsz;		/* fixed arguments */
	size_t outsz;		/* fixed reply: room checked before the work */
	int need;
} optab[] = {
	/* op, name, fn, argsz, outsz, need */
	{ FUSE_INIT, "INIT", doinit, 16, 0, 0 },
	{ FUSE_DESTROY, "DESTROY", dodestroy, 0, 0, 0 },
	{ FUSE_LOOKUP, "LOOKUP", dolookup, 0, SZ(fuse_entry_out), NODE | DIR },
	{ FUSE_GETATTR, "GETATTR", dogetattr, 0, SZ(fuse_attr_out), NODE },
	{ FUSE_SETATTR, "SETATTR", dosetattr, SZ(fuse_setattr_in),
	    SZ(fuse_attr_out), NODE },
	{ FUSE_READLINK, "READLINK", doreadlink, 0, 0, NODE },
	{ FUSE_SYMLINK, "SYMLINK", dosymlink, 0,
	    SZ(fuse_entry_out), NODE | DIR | EDIT },
	{ FUSE_MKNOD, "MKNOD", domknod, SZ(fuse_mknod_in),
	    SZ(fuse_entry_out), NODE | DIR | EDIT },
	{ FUSE_MKDIR, "MKDIR", domkdir, SZ(fuse_mkdir_in),
	    SZ(fuse_entry_out), NODE | DIR | EDIT },
	{ FUSE_UNLINK, "UNLINK", dounlink, 0, 0, NODE | DIR | EDIT },
	{ FUSE_RMDIR, "RMDIR", dormdir, 0, 0, NODE | DIR | EDIT },
	{ FUSE_RENAME, "RENAME", dorename, SZ(fuse_rename_in), 0,
	    NODE | DIR | EDIT },
	{ FUSE_RENAME2, "RENAME2", dorename2, SZ(fuse_rename2_in),
	    0, NODE | DIR | EDIT },
	{ FUSE_LINK, "LINK", dolink, SZ(fuse_link_in),
	    SZ(fuse_entry_out), NODE | DIR | EDIT },
	{ FUSE_OPEN, "OPEN", doopen, SZ(fuse_open_in),
	    SZ(fuse_open_out), NODE },
	{ FUSE_READ, "READ", doread, SZ(fuse_read_in), 0, 0 },
	{ FUSE_WRITE, "WRITE", dowrite, SZ(fuse_write_in),
	    SZ(fuse_write_out), 0 },
	{ FUSE_STATFS, "STATFS", dostatfs, 0, SZ(fuse_statfs_out), NODE },
	{ FUSE_RELEASE, "RELEASE", dorelease, SZ(fuse_release_in), 0, 0 },
	{ FUSE_FSYNC, "FSYNC", dofsync, SZ(fuse_fsync_in), 0, 0 },
	{ FUSE_FLUSH, "FLUSH", doflush, SZ(fuse_flush_in), 0, 0 },
	{ FUSE_OPENDIR, "OPENDIR", doopendir, 0,
	    SZ(fuse_open_out), NODE | DIR },
	{ FUSE_READDIR, "READDIR", doreaddir, SZ(fuse_read_in), 0, 0 },
	{ FUSE_READDIRPLUS, "READDIRPLUS", doreaddir, SZ(fuse_read_in), 0, 0 },
	{ FUSE_RELEASEDIR, "RELEASEDIR", dorelease, SZ(fuse_release_in),
	    0, 0 },
	{ FUSE_FSYNCDIR, "FSYNCDIR", dofsync, SZ(fuse_fsync_in), 0, 0 },
	{ FUSE_CREATE, "CREATE", docreate, SZ(fuse_create_in),
	    SZ(fuse_entry_out) + SZ(fuse_open_out), NODE | DIR | EDIT },
	{ FUSE_LSEEK, "LSEEK", dolseek, SZ(fuse_lseek_in),
	    SZ(fuse_lseek_out), 0 },
	{ FUSE_FALLOCATE, "FALLOCATE", dofallocate, SZ(fuse_fallocate_in),
	    0, 0 },
};

/* FORGET, BATCH_FORGET and INTERRUPT: no reply */
static void
noreply(Vfs *f, const Req *r)
{
	struct fuse_batch_forget_in b;
	struct fuse_forget_in in;
	struct fuse_forget_one one;
	uint32_t i;

	if (!f->inited)
		return;
	if (r->h.opcode == FUSE_FORGET && r->n >= sizeof(in)) {
		memcpy(&in, r->arg, sizeof(in));
		forget(f, r->h.nodeid, in.nlookup);
	} else if (r->h.opcode == FUSE_BATCH_FORGET && r->n >= sizeof(b)) {
		memcpy(&b, r->arg, sizeof(b));
		if (b.count > (r->n - sizeof(b)) / sizeof(one))
			return;
		for (i = 0; i < b.count; i++) {
			memcpy(&one, r->arg + sizeof(b) + i * sizeof(one), sizeof(one));
			forget(f, one.nodeid, one.nlookup);
		}
	}
	/* INTERRUPT: every request is answered before the next is read */
}

static int
dispatch(Vfs *f, Req *r)
{
	size_t i;
	int e;

	for (i = 0; i < LEN(optab) && optab[i].op != r->h.opcode; i++)
		;
	if (i == LEN(optab)) {
		glog(LDEBUG, "vfs: opcode %u unknown", r->h.opcode);
		return -ENOSYS;
	}
	if (!f->inited && r->h.opcode != FUSE_INIT)
		return -EIO;
	if (r->n < optab[i].argsz || r->max < optab[i].outsz)
		return -EINVAL;
	if ((optab[i].need & NODE) && !(r->node = node(f, r->h.nodeid)))
		return -ESTALE;
	r->top = r->h.nodeid == ROOT;
	if ((optab[i].need & DIR) && r->node->type != S_IFDIR)
		return -ENOTDIR;
	if ((optab[i].need & EDIT) && r->top && f->sealed)
		return -EROFS;	/* the share's own entries are the shim's */
	if ((e = optab[i].fn(r)) && e != -ENOENT)	/* a miss is routine */
		glog(LDEBUG, "vfs: %s nodeid %llu: %s", optab[i].name,
		    (unsigned long long)r->h.nodeid, strerror(-e));
	return e;
}

/* one chain: the request done, its reply written; the bytes written */
static uint32_t
request(Vfs *f, const Vchain *c)
{
	struct fuse_out_header oh;
	size_t got;
	Req r;
	int e;

	memset(&r, 0, sizeof(r));
	r.f = f;
	got = iov_copyfrom(c->iov, c->nout, 0, f->req, MIN(c->outlen, MAXREQ));
	if (got < sizeof(r.h)) {
		glog(LDEBUG, "vfs: request shorter than its header");
		e = -EINVAL;
		goto reply;
	}
	memcpy(&r.h, f->req, sizeof(r.h));
	if (r.h.len < sizeof(r.h) || r.h.len > got) {
		glog(LDEBUG, "vfs: request length %u, %zu bytes given",
		    r.h.len, got);
		e = -EINVAL;
		goto reply;
	}
	r.arg = f->req + sizeof(r.h);
	r.n = r.h.len - sizeof(r.h);
	if (r.h.opcode == FUSE_FORGET || r.h.opcode == FUSE_BATCH_FORGET ||
	    r.h.opcode == FUSE_INTERRUPT) {
		noreply(f, &r);
		return 0;
	}
	if (c->inlen < sizeof(oh))
		return 0;	/* nowhere to answer: not done at all */
	r.out = f->rep + sizeof(oh);
	r.max = MIN(c->inlen, MAXREPLY) - sizeof(oh);
	e = dispatch(f, &r);
reply:
	if (c->inlen < sizeof(oh))
		return 0;
	if (e)
		r.len = 0;
	oh.len = sizeof(oh) + r.len;
	oh.error = e;
	oh.unique = r.h.unique;
	memcpy(f->rep, &oh, sizeof(oh));
	return iov_copyto(c->iov + c->nout, c->nin, 0, f->rep, oh.len);
}

static void
notify(VirtioDev *d, int qi)
{
	Vfs *f = d->priv;
	Virtq *q = &d->vq[qi];
	uint64_t one = 1;
	Vchain c;
	int n;

	for (n = 0; n < BATCH && vq_pop(d, q, &c) == 1; n++)
		vq_push(d, q, c.head, request(f, &c));
	if (n)
		virtio_irq(d);
	/* more may wait: come back after the loop served the others */
	if (n == BATCH && write(q->kickfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		warn("vfs: kick:");
}

static void
cfgread(VirtioDev *d, uint32_t off, void *buf, uint32_t len)
{
	Vfs *f = d->priv;
	uint8_t cfg[TAGLEN + 4], *p = buf;
	uint32_t i;

	memcpy(cfg, f->tag, TAGLEN);
	cfg[TAGLEN] = 1;	/* num_request_queues, le32 */
	cfg[TAGLEN + 1] = cfg[TAGLEN + 2] = cfg[TAGLEN + 3] = 0;
	for (i = 0; i < len; i++)
		p[i] = off + i < sizeof(cfg) ? cfg[off + i] : 0;
}

/* a vCPU thread, d->lock held: only fds to close, nothing in the loop */
static void
devreset(VirtioDev *d)
{
	dropall(d->priv);
}

static const VirtioOps ops = {
	.name = "virtio-fs",
	.id = 26,
	.features = 0,
	.nqueues = 2,
	.qmax = QMAX,
	.cfgread = cfgread,
	.notify = notify,
	.reset = devreset,
};

/*
 * Every inode and handle is an fd: raise the soft limit to the hard one
 * and leave FDRESERVE to the rest of husk, so a guest that fills the tables
 * gets ENFILE and husk keeps its own fds.
 */
static void
fdbudget(Vfs *f)
{
	struct rlimit rl;
	uint64_t n = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
				getrlimit(RLIMIT_NOFILE, &rl);
		}
		n = rl.rlim_cur == RLIM_INFINITY ? UINT32_MAX : rl.rlim_cur;
	}
	n = n > 2 * FDRESERVE ? n - FDRESERVE : FDRESERVE;
	f->maxino = MIN(MAXINODES, n * 3 / 4);
	f->maxfh = MIN(MAXHANDLES, n / 4);
	if (f->maxino < MAXINODES)
		logmsg(LDEBUG, "virtio-fs: the fd limit allows %u inodes and %u "
		    "open files (raise RLIMIT_NOFILE for more)", f->maxino, f->maxfh);
}

Vfs *
vfs_new(const GuestMem *gm, const char *dir, const char *tag, char *err)
{
	struct stat st;
	char path[32];
	size_t n = strlen(tag);
	Vfs *f;
	int fd;

	if (n < 1 || n > TAGLEN) {
		seterr(err, "virtio-fs tag `%s': must be 1 to %d bytes", tag, TAGLEN);
		return NULL;
	}
	if ((fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		seterr(err, "virtio-fs: %s:", dir);
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		seterr(err, "virtio-fs: %s:", dir);
		close(fd);
		return NULL;
	}
	if (access(procpath(path, fd), F_OK) < 0) {
		seterr(err, "virtio-fs: %s: (is /proc mounted? husk opens "
		    "shared files through /proc/self/fd):", path);
		close(fd);
		return NULL;
	}
	f = ecalloc(1, sizeof(*f));
	memcpy(f->tag, tag, n);
	f->req = emalloc(MAXREQ);
	f->rep = emalloc(MAXREPLY);
	fdbudget(f);
	f->ino = ecalloc(f->maxino, sizeof(*f->ino));
	f->fh = ecalloc(f->maxfh, sizeof(*f->fh));
	f->nino = ROOT;
	f->nfh = 1;
	newinode(f, fd, &st, 0);
	f->ino[ROOT].gen = 0;	/* the kernel wants the root's generation 0 */
	if (virtio_init(&f->dev, &ops, f, gm) < 0) {
		seterr(err, "virtio-fs: eventfd:");
		vfs_free(f);
		return NULL;
	}
	return f;
}

VirtioDev *
vfs_dev(Vfs *f)
{
	return &f->dev;
}

/*
 * The shim's: name, an entry of the shared directory, is a host bind
 * mount. Its inode, if the guest found it already, is marked now; what
 * is found below it later is marked as it is found.
 */
int
vfs_hostentry(Vfs *f, const char *name)
{
	struct stat st;
	uint32_t id;
	int fd;

	if (!okname(name, strlen(name)))
		return -1;
	pthread_mutex_lock(&f->dev.lock);
	if (!below(f, 0, 1, name)) {
		f->hostent = erealloc(f->hostent, (f->nhostent + 1) *
		    sizeof(*f->hostent));
		f->hostent[f->nhostent++] = estrdup(name);
	}
	fd = openat(f->ino[ROOT].fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0) {
		if (fstat(fd, &st) == 0 && (id = findinode(f, &st)))
			f->ino[id].host = 1;
		close(fd);
	}
	pthread_mutex_unlock(&f->dev.lock);
	return 0;
}

void
vfs_seal(Vfs *f)
{
	pthread_mutex_lock(&f->dev.lock);
	f->sealed = 1;
	pthread_mutex_unlock(&f->dev.lock);
}

void
vfs_free(Vfs *f)
{
	size_t i;

	if (!f)
		return;
	dropall(f);
	close(f->ino[ROOT].fd);
	virtio_free(&f->dev);
	for (i = 0; i < f->nhostent; i++)
		free(f->hostent[i]);
	free(f->hostent);
	free(f->ino);
	free(f->fh);
	free(f->req);
	free(f->rep);
	free(f);
}
