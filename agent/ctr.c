/* See LICENSE file for copyright and license details. */
/*
 * The child side of a container process, between the agent's clone and
 * the exec: what runs in the new process, in the order runc uses.
 *
 * Create's child (ctr_init) is in new mount and, unless it joins the
 * sandbox's, PID, IPC and UTS namespaces. It mounts the container's
 * root from virtio-fs (FSDIR/<id>), the OCI mounts, pivots into it,
 * applies hostname, linux.sysctl, readonlyPaths then maskedPaths. An
 * Exec's child (ctr_exec) instead joins the namespaces of the
 * container's init (setns: the mount namespace puts it in the
 * container's root). Both then go the same way (procrun): rlimits,
 * cwd, the program looked up, stdio (a pty's slave as the controlling
 * terminal), ready; at Start no_new_privs, the seccomp filter if
 * no_new_privs is off (loading it then needs CAP_SYS_ADMIN, still held),
 * the bounding set cut, the ids set with the capabilities kept across
 * setuid, capset and the ambient set, the filter if no_new_privs is on
 * (as late as possible), exec. Without a capabilities section the
 * process keeps every capability, as with runc.
 *
 * Errors go back as text on errfd (fail), the child ends with 127.
 * The agent's end of errfd (ctr_word) is here too, beside its writers.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <linux/capability.h>

#include "../husk.h"
#include "agent.h"

/* mkdir -p, or create the file a bind mount of a file needs */
static int
mkpath(char *path, int file)
{
	struct stat st;
	int fd;

	if (stat(path, &st) == 0)	/* a read-only root has it from the host */
		return 0;
	if (mkparents(path, 0755) < 0)
		return -1;
	if (!file)
		return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) < 0)
		return errno == EISDIR ? 0 : -1;
	close(fd);
	return 0;
}

/* the child: say what went wrong on the error pipe and end */
static void
fail(int errfd, const char *fmt, ...)
{
	char msg[ERRLEN];
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (fmt[0] && fmt[strlen(fmt) - 1] == ':')
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg), " %s",
		    strerror(e));
	writeall(errfd, msg, strlen(msg));
	_exit(127);
}

static void
ocimounts(const OciSpec *s, const char *root, int errfd)
{
	static const struct { const char *name; mode_t mode; dev_t dev; } nodes[] = {
		{ "null", 020666, 0x103 }, { "zero", 020666, 0x105 },
		{ "full", 020666, 0x107 }, { "random", 020666, 0x108 },
		{ "urandom", 020666, 0x109 }, { "tty", 020666, 0x500 },
	};
	static const char *links[][2] = {
		{ "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
		{ "pts/ptmx", "ptmx" },
	};
	char dst[PATH_MAX], data[1024], path[PATH_MAX + 16], shared[PATH_MAX + 32];
	unsigned long flags;
	const char *type, *src;
	struct stat st;
	size_t i;

	for (i = 0; i < s->nmounts; i++) {
		OciMount *m = &s->mounts[i];

		if (m->dest[0] != '/' || strstr(m->dest, "/../") ||
		    snprintf(dst, sizeof(dst), "%s%s", root, m->dest) >= (int)sizeof(dst))
			fail(errfd, "mount %s: the destination must be an absolute path", m->dest);
		mountopts(m->options, &flags, data, sizeof(data));
		type = m->type ? m->type : "";
		src = m->source ? m->source : type;
		if (!strcmp(type, "bind"))
			flags |= MS_BIND;
		if (flags & MS_BIND) {
			/* a host path the shim shared as <root>.m<i> */
			snprintf(shared, sizeof(shared), SHARE_BINDFMT, root, i);
			if (lstat(shared, &st) == 0)
				src = shared;
			if (stat(src, &st) < 0) {
				warn("container mount %s: bind source %s is not "
				    "in the guest: skipped", m->dest, src);
				continue;
			}
			if (mkpath(dst, !S_ISDIR(st.st_mode)) < 0)
				fail(errfd, "mount %s: mkdir:", m->dest);
			if (mount(src, dst, NULL, MS_BIND | (flags & MS_REC), NULL) < 0)
				fail(errfd, "mount %s: bind %s:", m->dest, src);
			if ((flags & ~(MS_BIND | MS_REC)) && mount(NULL, dst, NULL,
			    MS_REMOUNT | MS_BIND | (flags & ~MS_REC), NULL) < 0)
				fail(errfd, "mount %s: remount:", m->dest);
			continue;
		}
		if (mkpath(dst, 0) < 0)
			fail(errfd, "mount %s: mkdir:", m->dest);
		if (!strcmp(type, "cgroup"))	/* the guest has cgroup2 only */
			type = "cgroup2", src = "cgroup2", data[0] = '\0';
		if (mount(src, dst, type, flags, data[0] ? data : NULL) < 0) {
			/* a user namespace without its own network one may not
			 * mount sysfs: the guest's is bound instead, as runc does */
			if (s->userns && errno == EPERM && !strcmp(type, "sysfs") &&
			    mount("/sys", dst, NULL, MS_BIND | MS_REC, NULL) == 0) {
				if ((flags & ~MS_REC) && mount(NULL, dst, NULL,
				    MS_REMOUNT | MS_BIND | (flags & ~MS_REC), NULL) < 0)
					fail(errfd, "mount %s: remount:", m->dest);
				continue;
			}
			if (!strcmp(type, "cgroup2") || !strcmp(type, "mqueue")) {
				warn("container mount %s (%s):", m->dest, type);
				continue;
			}
			fail(errfd, "mount %s (%s):", m->dest, type);
		}
	}
	/* a tmpfs /dev gets the usual nodes and links */
	snprintf(path, sizeof(path), "%s/dev/null", root);
	if (stat(path, &st) < 0 || !S_ISCHR(st.st_mode)) {
		for (i = 0; i < LEN(nodes); i++) {
			snprintf(path, sizeof(path), "%s/dev/%s", root, nodes[i].name);
			unlink(path);
			if (mknod(path, nodes[i].mode, makedev(nodes[i].dev >> 8,
			    nodes[i].dev & 0xff)) == 0) {
				chmod(path, nodes[i].mode & 0777);
				continue;
			}
			/* a user namespace may not make nodes: bind the agent's */
			snprintf(shared, sizeof(shared), "/dev/%s", nodes[i].name);
			if (mkpath(path, 1) < 0 || mount(shared, path, NULL, MS_BIND, NULL) < 0)
				fail(errfd, "device %s:", path);
		}
		for (i = 0; i < LEN(links); i++) {
			snprintf(path, sizeof(path), "%s/dev/%s", root, links[i][1]);
			symlink(links[i][0], path);
		}
	}
}

/*
 * The program to run, found as runc finds it at create (so that a
 * missing command fails Create, not Start): args[0] itself when it holds
 * a '/', else the first executable regular file of that name along the
 * container's PATH. Runs in the container's root and cwd.
 */
static void
lookpath(const OciSpec *s, char *out, size_t n, int errfd)
{
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	const char *p, *end;
	struct stat st;
	size_t i;

	if (strchr(s->args[0], '/')) {
		if (stat(s->args[0], &st) < 0)
			fail(errfd, "exec %s:", s->args[0]);
		if (!S_ISREG(st.st_mode))
			fail(errfd, "exec %s: not a regular file", s->args[0]);
		snprintf(out, n, "%s", s->args[0]);
		return;
	}
	for (i = 0; s->env && s->env[i]; i++)
		if (!strncmp(s->env[i], "PATH=", 5))
			path = s->env[i] + 5;
	for (p = path; ; p = end + 1) {
		if (!(end = strchr(p, ':')))
			end = p + strlen(p);
		if (snprintf(out, n, "%.*s%s%s", (int)(end - p), p,
		    end > p ? "/" : "", s->args[0]) < (int)n &&
		    stat(out, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
			return;
		if (!*end)
			break;
	}
	fail(errfd, "exec %s: not found in $PATH (%s)", s->args[0], path);
}

/*
 * readonlyPaths, then maskedPaths, as runc: a path that does not exist
 * is skipped; a read-only path is bound onto itself and remounted
 * read-only keeping its nosuid, nodev, noexec and atime flags (in a user
 * namespace they are locked); a masked file gets /dev/null bound over
 * it, a masked directory an empty read-only tmpfs.
 */
static void
protectpaths(const OciSpec *s, int errfd)
{
	const unsigned long keep = MS_NOSUID | MS_NODEV | MS_NOEXEC |
	    MS_NOATIME | MS_NODIRATIME | MS_RELATIME;
	struct statvfs sv;
	size_t i;

	for (i = 0; s->readonly[i]; i++) {
		const char *p = s->readonly[i];

		if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			fail(errfd, "readonly path %s: bind:", p);
		}
		if (statvfs(p, &sv) < 0)
			fail(errfd, "readonly path %s: statvfs:", p);
		if (mount(p, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY |
		    (sv.f_flag & keep), NULL) < 0)
			fail(errfd, "readonly path %s: remount:", p);
	}
	for (i = 0; s->masked[i]; i++) {
		const char *p = s->masked[i];
		struct stat st;

		if (stat(p, &st) < 0) {
			if (errno == ENOENT)
				continue;
			fail(errfd, "masked path %s:", p);
		}
		if (S_ISDIR(st.st_mode)) {
			if (mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL) < 0)
				fail(errfd, "masked path %s: tmpfs:", p);
		} else if (mount("/dev/null", p, NULL, MS_BIND, NULL) < 0) {
			fail(errfd, "masked path %s: bind /dev/null:", p);
		}
	}
}

static uint32_t
caplast(void)
{
	char buf[16];
	unsigned long n;

	if (readfile("/proc/sys/kernel/cap_last_cap", buf, sizeof(buf)) < 0)
		return CAP_LAST_CAP;
	n = strtoul(buf, NULL, 10);
	return n < 64 ? n : 63;
}

/*
 * process.capabilities: cut the bounding set, change ids with the
 * permitted set kept (PR_SET_KEEPCAPS), set effective, permitted and
 * inheritable, raise the ambient set. Capabilities past the guest
 * kernel's last are left out (runc ignores them too).
 */
static void
setcaps(const OciSpec *s, uint32_t last, int errfd)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	uint64_t known, eff, prm, inh;
	uint32_t c;

	known = last >= 63 ? ~0ull : (1ull << (last + 1)) - 1;
	eff = s->capeff & known;
	prm = s->capprm & known;
	inh = s->capinh & known;
	if (s->hascaps)
		for (c = 0; c <= last; c++)
			if (!(s->capbnd & 1ull << c) &&
			    prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
				fail(errfd, "drop capability %u from the bounding set:", c);
	if (s->hascaps && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		fail(errfd, "keep capabilities:");
	if (setgroups(s->ngids, s->gids) < 0)
		fail(errfd, "setgroups:");
	if (setgid(s->gid) < 0)
		fail(errfd, "setgid %u:", s->gid);
	if (setuid(s->uid) < 0)
		fail(errfd, "setuid %u:", s->uid);
	if (!s->hascaps)
		return;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		fail(errfd, "keep capabilities:");
	d[0].effective = eff;
	d[1].effective = eff >> 32;
	d[0].permitted = prm;
	d[1].permitted = prm >> 32;
	d[0].inheritable = inh;
	d[1].inheritable = inh >> 32;
	if (syscall(SYS_capset, &h, d) < 0)
		fail(errfd, "capset:");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		fail(errfd, "clear the ambient capabilities:");
	for (c = 0; c <= last; c++)
		if (s->capamb & 1ull << c &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			fail(errfd, "raise ambient capability %u (it must be permitted "
			    "and inheritable):", c);
}

/*
 * linux.seccomp as sc_compile rules: one rule per name the agent knows
 * (unknown names are skipped, as libseccomp does), none for an action
 * that is the default one (as runc). Tests on different arguments of one
 * syscall all must hold; several tests on the same argument are
 * alternatives, one rule each (runc's reading, which containerd's
 * profile relies on for personality()). Only x86-64 is filtered: the
 * other architectures of the list are ignored and sc_compile's
 * architecture check refuses any other.
 */
int
ctr_filter(const OciSeccomp *o, ScProg *p, char *err)
{
	ScRule *rules = NULL;
	ScArg *args = NULL;
	size_t i, k, a, b, n = 0, na = 0, total = 0, totalargs = 0;
	int split, r;
	long nr;

	for (i = 0; i < o->nsys; i++) {
		for (k = 0; o->sys[i].names[k]; k++)
			;
		total += k * MAX(o->sys[i].nargs, 1);
		totalargs += o->sys[i].nargs;
	}
	rules = ecalloc(total + 1, sizeof(*rules));
	args = ecalloc(totalargs + 1, sizeof(*args));
	for (i = 0; i < o->nsys; i++) {
		const OciSyscall *c = &o->sys[i];
		ScArg *g = args + na;

		for (a = 0; a < c->nargs; a++) {
			g[a].index = c->args[a].index;
			g[a].op = c->args[a].op;
			g[a].value = c->args[a].value;
			g[a].value2 = c->args[a].value2;
		}
		na += c->nargs;
		split = 0;
		for (a = 0; a < c->nargs; a++)
			for (b = a + 1; b < c->nargs; b++)
				split |= c->args[a].index == c->args[b].index;
		if (c->action == o->defaction)
			continue;
		for (k = 0; c->names[k]; k++) {
			if ((nr = sc_nr(c->names[k])) < 0)
				continue;
			if (!split) {
				rules[n].nr = nr;
				rules[n].action = c->action;
				rules[n].args = g;
				rules[n++].nargs = c->nargs;
				continue;
			}
			for (a = 0; a < c->nargs; a++) {
				rules[n].nr = nr;
				rules[n].action = c->action;
				rules[n].args = &g[a];
				rules[n++].nargs = 1;
			}
		}
	}
	r = sc_compile(o->defaction, rules, n, p, err);
	free(rules);
	free(args);
	return r;
}

/*
 * linux.sysctl, in the container's namespaces (its /proc): the key's
 * dots become slashes under /proc/sys (json.c refused '/' and "..").
 */
static void
sysctls(const OciSpec *s, int errfd)
{
	char path[PATH_MAX], *p;
	size_t i;

	for (i = 0; i < s->nsysctl; i++) {
		if (snprintf(path, sizeof(path), "/proc/sys/%s", s->sysctlkeys[i]) >=
		    (int)sizeof(path))
			fail(errfd, "sysctl %s: name too long", s->sysctlkeys[i]);
		for (p = path + 10; *p; p++)
			if (*p == '.')
				*p = '/';
		if (writestr(path, s->sysctlvals[i]) < 0)
			fail(errfd, "sysctl %s:", s->sysctlkeys[i]);
	}
}

/* join the namespaces of p->ns, in order */
static void
joinns(const ProcSetup *p)
{
	size_t i;

	for (i = 0; i < LEN(p->ns) && p->ns[i] >= 0; i++)
		if (setns(p->ns[i], 0) < 0)
			fail(p->errfd, "join a namespace of the container:");
}

/*
 * A pty of the container's own devpts (so that ttyname and tty work in
 * it): its slave becomes stdin, stdout, stderr and the controlling
 * terminal; the master goes to the agent with the ready byte.
 */
static int
terminal(int errfd)
{
	int ptm, pts, zero = 0, i;

	if ((ptm = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
		fail(errfd, "terminal: /dev/ptmx in the container:");
	if (ioctl(ptm, TIOCSPTLCK, &zero) < 0 ||
	    (pts = ioctl(ptm, TIOCGPTPEER, O_RDWR | O_NOCTTY)) < 0)
		fail(errfd, "terminal: pty:");
	for (i = 0; i < 3; i++)
		if (dup2(pts, i) < 0)
			fail(errfd, "terminal: stdio:");
	if (pts > 2)
		close(pts);
	if (ioctl(0, TIOCSCTTY, 0) < 0)
		fail(errfd, "terminal: controlling terminal:");
	return ptm;
}

/*
 * The word on errfd, both of its ends: one byte, "\0" ready or else the
 * start of an error text (fail), with room for one descriptor beside it.
 */
typedef struct {
	struct msghdr m;
	struct iovec iov;
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
} Word;

static void
word(Word *w, char *byte)
{
	memset(w, 0, sizeof(*w));
	w->iov.iov_base = byte;
	w->iov.iov_len = 1;
	w->m.msg_iov = &w->iov;
	w->m.msg_iovlen = 1;
	w->m.msg_control = w->u.b;
	w->m.msg_controllen = sizeof(w->u.b);
}

/* "\0" on errfd, with fd passed along when >= 0 */
static int
ready(int errfd, int fd)
{
	Word w;
	struct cmsghdr *h;
	char c = '\0';

	word(&w, &c);
	if (fd < 0) {
		w.m.msg_control = NULL;
		w.m.msg_controllen = 0;
	} else {
		h = CMSG_FIRSTHDR(&w.m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(h), &fd, sizeof(int));
	}
	return sendmsg(errfd, &w.m, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

/*
 * The agent's end: 0 ready or exec'd (EOF), -1 failed with the text in
 * msg. A descriptor passed with it (a pty master) lands in *fd if fd is
 * not NULL and *fd < 0, else is closed.
 */
int
ctr_word(int sock, char *msg, size_t n, int *fd)
{
	Word w;
	struct cmsghdr *h;
	ssize_t r;
	int got;

	msg[0] = '\0';
	word(&w, msg);
	while ((r = recvmsg(sock, &w.m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	for (h = r > 0 ? CMSG_FIRSTHDR(&w.m) : NULL; h; h = CMSG_NXTHDR(&w.m, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS ||
		    h->cmsg_len != CMSG_LEN(sizeof(int)))
			continue;
		memcpy(&got, CMSG_DATA(h), sizeof(int));
		if (fd && *fd < 0)
			*fd = got;
		else
			close(got);
	}
	if (r <= 0)
		return r == 0 ? 0 : -1;	/* EOF: exec closed it */
	if (msg[0] == '\0')
		return 0;		/* ready */
	r = readall(sock, msg + 1, n - 2);
	msg[r > 0 ? r + 1 : 1] = '\0';
	return -1;
}

/* from the container's root on: the process, then exec at Start */
static void
procrun(const ProcSetup *p)
{
	const OciSpec *s = p->s;
	char prog[PATH_MAX], x, err[ERRLEN];
	uint32_t last = caplast();	/* the guest kernel's, from the agent's /proc */
	int errfd = p->errfd, ptm = -1;
	size_t i;

	for (i = 0; i < s->nrlimits; i++) {
		struct rlimit rl = { s->rlimits[i].soft, s->rlimits[i].hard };

		if (setrlimit(s->rlimits[i].resource, &rl) < 0)
			fail(errfd, "rlimit %d:", s->rlimits[i].resource);
	}
	if (chdir(s->cwd) < 0)
		fail(errfd, "cwd %s:", s->cwd);
	lookpath(s, prog, sizeof(prog), errfd);
	setsid();
	if (p->tty)
		ptm = terminal(errfd);
	for (i = 0; i < 3 && !p->tty; i++)
		if (dup2(p->fds[i], i) < 0)
			fail(errfd, "stdio:");
	/* ready: wait for Start (EOF without a byte: the container is gone) */
	if (ready(errfd, ptm) < 0 || read(p->startfd, &x, 1) != 1)
		_exit(127);
	if (ptm >= 0)
		close(ptm);
	close(p->startfd);
	if (s->nonewprivs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(errfd, "no_new_privs:");
	if (p->filter && !s->nonewprivs && sc_load(p->filter, err) < 0)
		fail(errfd, "seccomp: %s", err);
	setcaps(s, last, errfd);
	if (s->hasumask)
		umask(s->umask);
	if (chdir(s->cwd) < 0)
		fail(errfd, "cwd %s:", s->cwd);
	if (p->filter && s->nonewprivs && sc_load(p->filter, err) < 0)
		fail(errfd, "seccomp: %s", err);
	execve(prog, s->args, s->env);
	fail(errfd, "exec %s:", prog);
}

/* the container's init, in its new namespaces */
void
ctr_init(const ProcSetup *p, const char *root)
{
	const OciSpec *s = p->s;
	int errfd = p->errfd;
	char x;

	/* the agent writes the id maps and sets the cgroup, then says go */
	if (read(p->startfd, &x, 1) != 1)
		_exit(127);
	joinns(p);
	if (s->userns && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		fail(errfd, "become root of the user namespace:");
	if (s->cgroupns && unshare(CLONE_NEWCGROUP) < 0)
		fail(errfd, "cgroup namespace:");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail(errfd, "make / private:");
	if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
		fail(errfd, "bind the root %s:", root);
	ocimounts(s, root, errfd);
	if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
		fail(errfd, "hostname %s:", s->hostname);
	if (chdir(root) < 0)
		fail(errfd, "chdir %s:", root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		fail(errfd, "pivot_root:");
	if (umount2(".", MNT_DETACH) < 0)
		fail(errfd, "detach the old root:");
	if (chdir("/") < 0)
		fail(errfd, "chdir /:");
	if (s->rootro && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND |
	    MS_RDONLY, NULL) < 0)
		fail(errfd, "read-only root:");
	sysctls(s, errfd);
	protectpaths(s, errfd);
	procrun(p);
}

/*
 * An exec'd process: the agent made it in the init's PID namespace;
 * here it joins the others (the user namespace last, once the rest was
 * joined with the agent's privileges).
 */
void
ctr_exec(const ProcSetup *p)
{
	char x;

	if (read(p->startfd, &x, 1) != 1)
		_exit(127);
	joinns(p);
	if (chdir("/") < 0)
		fail(p->errfd, "chdir /:");
	procrun(p);
}
