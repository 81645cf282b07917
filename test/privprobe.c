/* See LICENSE file for copyright and license details. */
/*
 * test/privprobe: run inside a container by test/e2e-priv, under runc and
 * under husk, to compare what the container may do. One line per fact,
 * "name: result", where a result is "ok", an errno name, or what a read
 * gave; the script compares the lines of the two runtimes. Static, no
 * arguments but the facts to skip none; it changes nothing it does not
 * undo (its nodes and mounts live in the container's own /dev and /tmp).
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static const char *
ename(int e)
{
	static const struct { int e; const char *n; } t[] = {
		{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EACCES, "EACCES" },
		{ EROFS, "EROFS" }, { ENOSYS, "ENOSYS" }, { EINVAL, "EINVAL" },
		{ EAFNOSUPPORT, "EAFNOSUPPORT" }, { EEXIST, "EEXIST" },
		{ ENOTDIR, "ENOTDIR" }, { EISDIR, "EISDIR" }, { EBUSY, "EBUSY" },
		{ ENODEV, "ENODEV" }, { EIO, "EIO" },
	};
	static char buf[32];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].e == e)
			return t[i].n;
	snprintf(buf, sizeof(buf), "errno%d", e);
	return buf;
}

static void
result(const char *name, long r)
{
	printf("%s: %s\n", name, r < 0 ? ename(errno) : "ok");
}

/* the named lines of /proc/self/status */
static void
status(void)
{
	static const char *keys[] = {
		"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:",
		"NoNewPrivs:", "Seccomp:",
	};
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	size_t i;

	if (!f) {
		printf("status: %s\n", ename(errno));
		return;
	}
	while (fgets(line, sizeof(line), f))
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (!strncmp(line, keys[i], strlen(keys[i])))
				printf("status %s", line);
	fclose(f);
}

/* a masked path: "absent", "empty" (no bytes, no entries) or "DATA" */
static void
masked(const char *p)
{
	char buf[4096];
	struct stat st;
	DIR *d;
	struct dirent *e;
	int fd, n = 0;
	ssize_t r;

	if (stat(p, &st) < 0) {
		printf("masked %s: absent\n", p);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		if (!(d = opendir(p))) {
			printf("masked %s: %s\n", p, ename(errno));
			return;
		}
		while ((e = readdir(d)))
			n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
		closedir(d);
		snprintf(buf, sizeof(buf), "%s/probe", p);
		fd = open(buf, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		printf("masked %s: dir %s, create %s\n", p, n ? "DATA" : "empty",
		    fd < 0 ? ename(errno) : "ok");
		if (fd >= 0)
			close(fd);
		return;
	}
	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
		printf("masked %s: %s\n", p, ename(errno));
		return;
	}
	r = read(fd, buf, sizeof(buf));
	close(fd);
	printf("masked %s: %s\n", p, r < 0 ? ename(errno) : r ? "DATA" : "empty");
}

/* a read-only path: opening a file in it for writing */
static void
readonly(const char *p)
{
	int fd;

	if (access(p, F_OK) < 0) {
		printf("readonly %s: absent\n", p);
		return;
	}
	fd = open(p, O_WRONLY | O_CLOEXEC);
	printf("readonly %s: write %s\n", p, fd < 0 ? ename(errno) : "ok");
	if (fd >= 0)
		close(fd);
}

/* a read-only path's own mount: "ro", "rw" or "not a mount point" */
static void
mountro(const char *p)
{
	char line[1024], mnt[512], opts[256];
	FILE *f = fopen("/proc/self/mountinfo", "r");
	const char *r = "not a mount point";

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %*s %*s %511s %255s", mnt, opts) == 2 &&
		    !strcmp(mnt, p))
			r = !strncmp(opts, "ro", 2) && (!opts[2] || opts[2] == ',') ?
			    "ro" : "rw";
	if (f)
		fclose(f);
	if (access(p, F_OK) < 0)
		r = "absent";
	printf("readonly %s: mount %s\n", p, r);
}

int
main(void)
{
	static const char *masks[] = {
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
		"/proc/sched_debug", "/sys/firmware", "/proc/scsi",
	};
	static const char *ros[] = {
		"/proc/sys/kernel/hostname", "/proc/sys/vm/drop_caches",
		"/proc/sysrq-trigger", "/proc/irq/default_smp_affinity",
	};
	size_t i;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	status();
	for (i = 0; i < sizeof(masks) / sizeof(masks[0]); i++)
		masked(masks[i]);
	for (i = 0; i < sizeof(ros) / sizeof(ros[0]); i++)
		readonly(ros[i]);
	mountro("/proc/sys");
	mountro("/proc/irq");
	mountro("/proc/bus");
	mountro("/proc/fs");
	/* hostile: device nodes, mounts, port I/O, the host's vsock */
	unlink("/dev/probe-mem");
	result("hostile mknod c 1 1", mknod("/dev/probe-mem", S_IFCHR | 0600, makedev(1, 1)));
	unlink("/dev/probe-mem");
	mkdir("/tmp/probe-mnt", 0755);
	result("hostile mount tmpfs", mount("tmpfs", "/tmp/probe-mnt", "tmpfs", 0, NULL));
	umount2("/tmp/probe-mnt", MNT_DETACH);
	rmdir("/tmp/probe-mnt");
	result("hostile remount /proc/sys rw", mount(NULL, "/proc/sys", NULL,
	    MS_REMOUNT | MS_BIND, NULL));
	result("hostile remount / rw", mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL));
	result("hostile iopl 3", syscall(SYS_iopl, 3));
	result("hostile ioperm 0x64", syscall(SYS_ioperm, 0x64, 1, 1));
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	result("hostile socket AF_VSOCK", fd);
	if (fd >= 0)
		close(fd);
	result("hostile unshare user", syscall(SYS_unshare, 0x10000000));
	return 0;
}
