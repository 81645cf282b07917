/* See LICENSE file for copyright and license details. */
/*
 * The share on the host side (rootfs.c share_*), against a guest that
 * writes to it: the tmpfs is capped in inodes as well as bytes, a
 * read-only root or bind is read-only with every mount below it, and
 * unmounting a name the guest replaced by a symlink follows nothing.
 * The serving shim shares a container's root from its loop thread, under
 * that thread's seccomp filter: romountpoints runs once more there.
 * Needs root (mounts); says SKIP otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../husk.h"
#include "t.h"

static char dir[64];

static int
ismount(const char *path)
{
	struct stat a, b;
	char up[PATH_MAX];

	snprintf(up, sizeof(up), "%s/..", path);
	return lstat(path, &a) == 0 && stat(up, &b) == 0 && a.st_dev != b.st_dev;
}

static int
canwrite(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	close(fd);
	unlink(path);
	return 0;
}

/* a guest making directories runs out of inodes, not host memory */
static void
inodecap(void)
{
	char share[128], path[192], err[ERRLEN];
	int i;

	snprintf(share, sizeof(share), "%s/share", dir);
	CHECK(share_mount(share, 64 * 1024, 100, err) == 0);
	for (i = 0; i < 100000; i++) {
		snprintf(path, sizeof(path), "%s/d%d", share, i);
		if (mkdir(path, 0755) < 0)
			break;
	}
	CHECK(i < 100);
	CHECK(errno == ENOSPC);
	CHECK(umount2(share, MNT_DETACH) == 0);
	/* a second mount of the same directory is an error, not a stack */
	CHECK(share_mount(share, 64 * 1024, 100, err) == 0);
	umount2(share, MNT_DETACH);
}

/* root.readonly and ro binds: read-only with the mounts below them */
static void
readonly(void)
{
	char src[128], sub[160], share[128], root[160], path[224], err[ERRLEN];

	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(sub, sizeof(sub), "%s/sub", src);
	snprintf(share, sizeof(share), "%s/share", dir);
	snprintf(root, sizeof(root), "%s/c1", share);
	CHECK(mkdir(src, 0755) == 0 && mkdir(sub, 0755) == 0);
	CHECK(mount("sub", sub, "tmpfs", 0, "size=64k") == 0);
	CHECK(share_mount(share, 64 * 1024, 100, err) == 0);
	CHECK(mkdir(root, 0755) == 0);
	CHECK(mount(src, root, NULL, MS_BIND | MS_REC, NULL) == 0);
	snprintf(path, sizeof(path), "%s/f", root);
	CHECK(canwrite(path) == 0);
	snprintf(path, sizeof(path), "%s/sub/f", root);
	CHECK(canwrite(path) == 0);
	CHECK(share_readonly(root, err) == 0);
	snprintf(path, sizeof(path), "%s/f", root);
	CHECK(canwrite(path) == -EROFS);
	snprintf(path, sizeof(path), "%s/sub/f", root);
	CHECK(canwrite(path) == -EROFS);
	/* the host's own view stays writable */
	snprintf(path, sizeof(path), "%s/f", sub);
	CHECK(canwrite(path) == 0);
	CHECK(share_umount(root) == 0);
	CHECK(access(root, F_OK) < 0 && errno == ENOENT);
	umount2(sub, MNT_DETACH);
	umount2(share, MNT_DETACH);
	rmdir(sub);
	rmdir(src);
}

/* a symlink planted where a bind was expected: nothing is followed */
static void
planted(void)
{
	char victim[128], share[128], link[160], err[ERRLEN];

	snprintf(victim, sizeof(victim), "%s/victim", dir);
	snprintf(share, sizeof(share), "%s/share", dir);
	snprintf(link, sizeof(link), "%s/c1.m3", share);
	CHECK(mkdir(victim, 0755) == 0);
	CHECK(mount("victim", victim, "tmpfs", 0, "size=64k") == 0);
	CHECK(share_mount(share, 64 * 1024, 100, err) == 0);
	CHECK(symlink(victim, link) == 0);
	CHECK(share_umount(link) < 0);
	CHECK(ismount(victim));
	CHECK(access(victim, F_OK) == 0);
	umount2(victim, MNT_DETACH);
	umount2(share, MNT_DETACH);
	rmdir(victim);
}

/*
 * A read-only root gets its spec's mount points on the host before it
 * turns read-only, each resolved inside the root: a symlink planted in
 * the image leads nowhere outside.
 */
/*
 * rootfs_share and rootfs_unshare, here or in a child under the loop
 * thread's filter (sc_husk SC_LOOP), where the shim calls them: a call
 * the filter lacks kills the child with its message, and fails here.
 */
static int
shareunshare(Rootfs *r, Share *sh, const OciSpec *s, int confined)
{
	char err[ERRLEN];
	pid_t pid;
	int st;

	if (!confined) {
		if (rootfs_share(r, sh, "c1", dir, s, err) < 0) {
			printf("rootfs_share: %s\n", err);
			return -1;
		}
		return 0;
	}
	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    sc_husk(SC_LOOP, err) < 0) {
			printf("confine: %s\n", err);
			_exit(2);
		}
		if (rootfs_share(r, sh, "c1", dir, s, err) < 0) {
			printf("rootfs_share (loop filter): %s\n", err);
			_exit(1);
		}
		rootfs_unshare(r, sh);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		printf("confined child: status %#x\n", st);
		return -1;
	}
	return 0;
}

static void
romountpoints1(int confined)
{
	char root[128], out[128], share[128], path[512], err[ERRLEN];
	char *opts[] = { "rbind", "ro", NULL };
	OciMount mounts[5];
	OciSpec s;
	Share sh;
	Rootfs r;
	struct stat st;

	snprintf(root, sizeof(root), "%s/img", dir);
	snprintf(out, sizeof(out), "%s/outside", dir);
	snprintf(share, sizeof(share), "%s/share", dir);
	CHECK(mkdir(root, 0755) == 0 && mkdir(out, 0755) == 0);
	snprintf(path, sizeof(path), "%s/real", root);
	CHECK(mkdir(path, 0755) == 0);
	snprintf(path, sizeof(path), "%s/etc", root);
	CHECK(symlink("/real", path) == 0);	/* absolute: <root>/real */
	snprintf(path, sizeof(path), "%s/var", root);
	CHECK(symlink(out, path) == 0);		/* <root><out>: dangling */
	memset(mounts, 0, sizeof(mounts));
	mounts[0].dest = "/proc";
	mounts[0].type = "proc";
	mounts[1].dest = "/etc/hosts";		/* a file bind */
	mounts[1].type = "bind";
	mounts[1].source = "/etc/hostname";
	mounts[1].options = opts;
	mounts[2].dest = "/var/run";
	mounts[2].type = "tmpfs";
	mounts[3].dest = "/dev/../../../escape";
	mounts[3].type = "tmpfs";
	mounts[4].dest = "/new/resolv.conf";	/* a file bind, its dir missing */
	mounts[4].type = "bind";
	mounts[4].source = "/etc/hostname";
	mounts[4].options = opts;
	memset(&s, 0, sizeof(s));
	s.rootpath = root;
	s.rootro = 1;
	s.mounts = mounts;
	s.nmounts = 5;
	memset(&sh, 0, sizeof(sh));
	memset(&r, 0, sizeof(r));
	CHECK(share_open(&sh, share, 64 * 1024, 100, err) == 0);
	CHECK(shareunshare(&r, &sh, &s, confined) == 0);
	snprintf(path, sizeof(path), "%s/proc", root);
	CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	snprintf(path, sizeof(path), "%s/real/hosts", root);
	CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode));
	snprintf(path, sizeof(path), "%s/new/resolv.conf", root);
	CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode));
	/* nothing outside the root */
	snprintf(path, sizeof(path), "%s/run", out);
	CHECK(access(path, F_OK) < 0);
	snprintf(path, sizeof(path), "%s/escape", dir);
	CHECK(access(path, F_OK) < 0);
	CHECK(access("/escape", F_OK) < 0);
	if (!confined) {
		snprintf(path, sizeof(path), "%s/c1/x", share);
		CHECK(canwrite(path) == -EROFS);
		rootfs_unshare(&r, &sh);
	}
	snprintf(path, sizeof(path), "%s/c1", share);
	CHECK(access(path, F_OK) < 0 || !ismount(path));
	share_close(&sh);
	snprintf(path, sizeof(path), "rm -rf %s %s", root, out);
	CHECK(system(path) == 0);
}

static void
romountpoints(void)
{
	romountpoints1(0);
}

#ifndef __SANITIZE_ADDRESS__
/* the same from the loop thread's filter, as the serving shim does it */
static void
romountpoints_confined(void)
{
	romountpoints1(1);
}
#endif

int
main(void)
{
	if (geteuid() != 0) {
		printf("SKIP share_test: needs root to mount\n");
		return 0;
	}
	snprintf(dir, sizeof(dir), "/tmp/husk-share.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(inodecap);
	RUN(readonly);
	RUN(planted);
	RUN(romountpoints);
#ifdef __SANITIZE_ADDRESS__
	printf("SKIP romountpoints_confined (the sanitizers' own calls are not "
	    "in the filter; the plain build runs it)\n");
#else
	RUN(romountpoints_confined);
#endif
	rmdir(dir);
	return TDONE();
}
