/* See LICENSE file for copyright and license details. */
/*
 * A container's root on its way to the guest. containerd hands over the
 * rootfs as mounts (one, today: an overlay or a bind), mounted here at
 * <bundle>/rootfs. The guest reaches it through the share: a small tmpfs
 * (SHARE_DIR in the first bundle) holding a bind mount of each
 * container's root, as entry <id>, and of each host path the spec binds,
 * as <id>.m<i> (SHARE_BINDFMT); virtio-fs (virtiofs.c) serves the share
 * with tag SHARE_TAG and the agent mounts it at SHARE_GUESTDIR, then
 * binds each <id>.m<i> where the spec says.
 *
 * The guest can write to the share through virtio-fs, so the tmpfs is
 * capped in bytes and in inodes (a guest making directories would
 * otherwise grow unreclaimable kernel memory), and it can plant names
 * there: husk unmounts only what it mounted, never following a symlink,
 * and removes the name only after that. Host bind mounts are marked in
 * the server (vfs_hostentry) so that below them the guest's owners,
 * set-ID bits and devices are not honoured.
 *
 * Every mount is made in the shim's private mount namespace (task.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

#include "husk.h"

/* the share's own mounts */
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY	0x00000001
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE		0x8000
#endif
#ifndef UMOUNT_NOFOLLOW
#define UMOUNT_NOFOLLOW		0x00000008
#endif

int
share_mount(const char *dir, size_t maxbytes, unsigned maxinodes, char *err)
{
	char data[64];

	snprintf(data, sizeof(data), "mode=0755,size=%zu,nr_inodes=%u",
	    maxbytes, maxinodes);
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) ||
	    mount("husk", dir, "tmpfs", MS_NOSUID | MS_NODEV, data) < 0) {
		seterr(err, "shared directory %s:", dir);
		return -1;
	}
	return 0;
}

int
share_readonly(const char *path, char *err)
{
	struct {
		uint64_t set, clr, propagation, userns;
	} attr = { MOUNT_ATTR_RDONLY, 0, 0, 0 };

#ifdef SYS_mount_setattr
	if (syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr,
	    sizeof(attr)) == 0)
		return 0;
#else
	(void)attr;
	errno = ENOSYS;
#endif
	seterr(err, "%s: read-only, with every mount below it:%s", path,
	    errno == ENOSYS ? " (needs Linux 5.12 or later)" : "");
	return -1;
}

int
share_umount(const char *path)
{
	if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
		return -1;
	if (rmdir(path) < 0 && errno == ENOTDIR)
		unlink(path);
	return 0;
}

/*
 * The share as the sandbox keeps it: its directory, the virtio-fs server
 * once the VM boots, and the entries that are host bind mounts (marked
 * in the server as soon as it exists, or at once when it does).
 */
int
share_open(Share *sh, const char *dir, size_t maxbytes, unsigned maxinodes,
    char *err)
{
	if (snprintf(sh->dir, sizeof(sh->dir), "%s", dir) >= (int)sizeof(sh->dir)) {
		seterr(err, "shared directory %s: path too long", dir);
		sh->dir[0] = '\0';
		return -1;
	}
	if (share_mount(sh->dir, maxbytes, maxinodes, err) < 0) {
		sh->dir[0] = '\0';
		return -1;
	}
	return 0;
}

void
share_serve(Share *sh, Vfs *fs)
{
	size_t i;

	sh->fs = fs;
	vfs_seal(fs);	/* the share's entries are husk's: none planted */
	/* host bind mounts: no guest owners, set-ID bits or devices there */
	for (i = 0; i < sh->nhost; i++)
		vfs_hostentry(fs, sh->host[i]);
}

/*
 * src bound at <dir>/name, a directory or a file as src is; what names
 * the mount in an error. Nothing is left behind when it fails.
 */
int
share_add(Share *sh, const char *name, const char *src, int flags,
    const char *what, char *err)
{
	char path[PATH_MAX + 64];
	int fd, e;

	if (snprintf(path, sizeof(path), "%s/%s", sh->dir, name) >=
	    (int)sizeof(path)) {
		seterr(err, "%s: path too long", what);
		return -1;
	}
	if (flags & SHARE_FILE ? (fd = open(path, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC, 0644)) < 0 || close(fd) < 0 : mkdir(path, 0755) < 0) {
		seterr(err, "%s:", what);
		return -1;
	}
	if (mount(src, path, NULL, MS_BIND | (flags & SHARE_REC ? MS_REC : 0),
	    NULL) < 0) {
		e = errno;
		if (rmdir(path) < 0)
			unlink(path);
		errno = e;
		seterr(err, "%s:", what);
		return -1;
	}
	if (flags & SHARE_HOST) {
		if (sh->fs)
			vfs_hostentry(sh->fs, name);
		sh->host = erealloc(sh->host, (sh->nhost + 1) * sizeof(*sh->host));
		sh->host[sh->nhost++] = estrdup(name);
	}
	if ((flags & SHARE_RDONLY) && share_readonly(path, err) < 0) {
		share_remove(sh, name);
		return -1;
	}
	return 0;
}

void
share_remove(Share *sh, const char *name)
{
	char path[PATH_MAX + 64];
	size_t i;

	snprintf(path, sizeof(path), "%s/%s", sh->dir, name);
	share_umount(path);
	for (i = 0; i < sh->nhost; i++) {
		if (strcmp(sh->host[i], name))
			continue;
		free(sh->host[i]);
		sh->host[i] = sh->host[--sh->nhost];
		break;
	}
}

void
share_close(Share *sh)
{
	size_t i;

	if (sh->dir[0]) {
		umount2(sh->dir, MNT_DETACH);
		rmdir(sh->dir);
	}
	for (i = 0; i < sh->nhost; i++)
		free(sh->host[i]);
	free(sh->host);
	memset(sh, 0, sizeof(*sh));
}

/*
 * A container's root on its way to the guest. containerd's rootfs mount,
 * if it gave one, goes to <bundle>/rootfs; the root (root.path of the
 * spec) is bound into the share as <id>, and each bind mount of a host
 * path as <id>.m<i> (SHARE_BINDFMT, i its index in the spec's mounts),
 * read-only there too when the mount is; the agent binds that in its
 * place. A bind source that is not on the host is left to the agent (a
 * guest path).
 */
int
rootfs_mount(Rootfs *r, const char *bundle, const TaskMount *mounts, size_t n,
    char *err)
{
	char data[4096];
	unsigned long flags;
	const TaskMount *m;

	if (!n)
		return 0;
	if (n > 1) {
		seterr(err, "rootfs: %zu mounts; husk takes one", n);
		return -1;
	}
	m = &mounts[0];
	snprintf(r->mnt, sizeof(r->mnt), "%s/rootfs", bundle);
	mkdir(r->mnt, 0711);
	mountopts(m->options, &flags, data, sizeof(data));
	if (mount(m->source ? m->source : "none", r->mnt, m->type ? m->type : "",
	    flags, data[0] ? data : NULL) < 0) {
		seterr(err, "rootfs: mount %s (%s) on %s:", m->source ? m->source : "",
		    m->type ? m->type : "", r->mnt);
		r->mnt[0] = '\0';
		return -1;
	}
	return 0;
}

/* the host bind mounts, gone from the share */
static void
unbind(Rootfs *r, Share *sh)
{
	char name[NAME_MAX + 32];
	size_t i;

	for (i = 0; i < r->nbinds && r->bound; i++) {
		if (!r->bound[i])
			continue;	/* not ours, whatever the guest put there */
		snprintf(name, sizeof(name), SHARE_BINDFMT, r->name, i);
		share_remove(sh, name);
		r->bound[i] = 0;
	}
}

static int
sharebinds(Rootfs *r, Share *sh, const OciSpec *s, char *err)
{
	char name[NAME_MAX + 32], data[1024], what[2 * PATH_MAX];
	unsigned long flags;
	struct stat st;
	const OciMount *m;
	size_t i;

	r->nbinds = s->nmounts;
	r->bound = ecalloc(s->nmounts, 1);
	for (i = 0; i < s->nmounts; i++) {
		m = &s->mounts[i];
		mountopts(m->options, &flags, data, sizeof(data));
		if (m->type && !strcmp(m->type, "bind"))
			flags |= MS_BIND;
		if (!(flags & MS_BIND) || !m->source || m->source[0] != '/' ||
		    stat(m->source, &st) < 0)
			continue;
		snprintf(name, sizeof(name), SHARE_BINDFMT, r->name, i);
		snprintf(what, sizeof(what), "mount %s: bind %s", m->dest, m->source);
		if (share_add(sh, name, m->source, SHARE_HOST |
		    (S_ISDIR(st.st_mode) ? 0 : SHARE_FILE) |
		    (flags & MS_REC ? SHARE_REC : 0) |
		    (flags & MS_RDONLY ? SHARE_RDONLY : 0), what, err) < 0) {
			unbind(r, sh);
			return -1;
		}
		r->bound[i] = 1;
	}
	return 0;
}

/*
 * dest (an absolute path in the container) made under the root open as
 * rootfd, a directory or, when file, an empty file: every step resolved
 * inside the root (a symlink in it cannot lead out). 0 when it exists.
 */
static int
mountpoint(int rootfd, const char *dest, int file)
{
	struct open_how how;
	char path[PATH_MAX], *p, *end;
	int fd, pfd, last, e;

	if (snprintf(path, sizeof(path), "%s", dest) >= (int)sizeof(path))
		return errno = ENAMETOOLONG, -1;
	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_CLOEXEC;
	how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
	if ((pfd = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	for (p = path; *(p += strspn(p, "/")); p = end) {
		end = p + strcspn(p, "/");
		last = !end[strspn(end, "/")];
		e = *end;
		*end = '\0';
		fd = -1;
		errno = EINVAL;
		if (strcmp(p, ".") && strcmp(p, "..")) {
			/* the path so far, resolved in the root */
			fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
			if (fd < 0 && errno == ENOENT) {
				if (last && file)
					fd = openat(pfd, p, O_WRONLY | O_CREAT |
					    O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
				else if (mkdirat(pfd, p, 0755) == 0)
					fd = syscall(SYS_openat2, rootfd, path, &how,
					    sizeof(how));
			}
		}
		close(pfd);
		if ((pfd = fd) < 0)
			return -1;
		*end = e;
	}
	close(pfd);
	return 0;
}

/*
 * A read-only root is read-only on the host before the guest sees it:
 * the mount points its spec needs are made first, as runc makes them
 * before it remounts the root read-only. One that cannot be made (a
 * dangling symlink, a ".." step) is left to the agent, which says why
 * the mount fails.
 */
static void
mountpoints(const char *root, const OciSpec *s)
{
	char data[1024];
	unsigned long flags;
	const OciMount *m;
	struct stat st;
	size_t i;
	int rootfd, file;

	if ((rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;		/* share_add says why */
	for (i = 0; i < s->nmounts; i++) {
		m = &s->mounts[i];
		mountopts(m->options, &flags, data, sizeof(data));
		file = 0;
		if (((m->type && !strcmp(m->type, "bind")) || (flags & MS_BIND)) &&
		    m->source && stat(m->source, &st) == 0)
			file = !S_ISDIR(st.st_mode);
		if (mountpoint(rootfd, m->dest, file) < 0)
			logmsg(LDEBUG, "root %s: mount point %s:", root, m->dest);
	}
	close(rootfd);
}

int
rootfs_share(Rootfs *r, Share *sh, const char *id, const char *bundle,
    const OciSpec *s, char *err)
{
	char root[PATH_MAX], what[PATH_MAX + 8];

	if (!s->rootpath || !s->rootpath[0]) {
		seterr(err, "config.json: root.path is missing");
		return -1;
	}
	if (s->rootpath[0] == '/')
		snprintf(root, sizeof(root), "%s", s->rootpath);
	else
		snprintf(root, sizeof(root), "%s/%s", bundle, s->rootpath);
	if (snprintf(r->name, sizeof(r->name), "%s", id) >= (int)sizeof(r->name)) {
		seterr(err, "container id too long");
		r->name[0] = '\0';
		return -1;
	}
	snprintf(what, sizeof(what), "root %s", root);
	/* root.readonly holds on the host too, not only in the guest */
	if (s->rootro)
		mountpoints(root, s);
	if (share_add(sh, r->name, root, SHARE_REC | (s->rootro ? SHARE_RDONLY : 0),
	    what, err) < 0) {
		r->name[0] = '\0';
		return -1;
	}
	return sharebinds(r, sh, s, err);
}

void
rootfs_unshare(Rootfs *r, Share *sh)
{
	if (!r->name[0])
		return;
	unbind(r, sh);
	share_remove(sh, r->name);
	r->name[0] = '\0';
	free(r->bound);
	r->bound = NULL;
	r->nbinds = 0;
}

void
rootfs_umount(Rootfs *r)
{
	if (r->mnt[0])
		umount2(r->mnt, MNT_DETACH);
	r->mnt[0] = '\0';
}
