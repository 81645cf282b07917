/* See LICENSE file for copyright and license details. */
/*
 * A container's guest cgroup, /sys/fs/cgroup/<id> (cgroup v2): the OCI
 * linux.resources written to its files (Create and Update share
 * cg_apply), and its statistics read back for Stats.
 *
 * The parsers take the text of one file and fill an AgentStats; they are
 * pure so that test/agent_test.c can feed them anything. Lines they do
 * not know, or whose value is not a plain decimal number, are skipped;
 * numbers too large for 64 bits saturate at UINT64_MAX; a file that
 * was not there (NULL) leaves its fields 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../husk.h"
#include "agent.h"

#define CGFILEMAX	16384	/* what is read of one statistics file */

typedef struct {
	const char *key;
	size_t off;		/* of a uint64_t in AgentStats */
} Key;

#define K(name, field)	{ name, offsetof(AgentStats, field) }
static const Key cpukeys[] = {
	K("usage_usec", cpuusage), K("user_usec", cpuuser),
	K("system_usec", cpusystem), K("nr_periods", nrperiods),
	K("nr_throttled", nrthrottled), K("throttled_usec", throttledusec),
};
static const Key memkeys[] = {
	K("anon", anon), K("file", file), K("kernel_stack", kernelstack),
	K("slab", slab), K("sock", sock), K("shmem", shmem),
	K("file_mapped", filemapped), K("file_dirty", filedirty),
	K("file_writeback", filewriteback), K("active_anon", activeanon),
	K("inactive_anon", inactiveanon), K("active_file", activefile),
	K("inactive_file", inactivefile), K("unevictable", unevictable),
	K("pgfault", pgfault), K("pgmajfault", pgmajfault),
};
static const Key evkeys[] = {
	K("low", evlow), K("high", evhigh), K("max", evmax), K("oom", evoom),
	K("oom_kill", evoomkill),
};
#undef K

int
readfile(const char *path, char *buf, size_t n)
{
	int fd;
	ssize_t r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	r = readall(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = '\0';
	return 0;
}

int
writestr(const char *path, const char *s)
{
	int fd, r;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	r = writeall(fd, s, strlen(s)) < 0 ? -1 : 0;
	close(fd);
	return r;
}

/* a decimal number ending at a blank, a newline or the end; saturates */
static int
decimal(const char *p, const char **end, uint64_t *v)
{
	uint64_t x = 0;
	const char *q;
	unsigned d;

	for (q = p; *q >= '0' && *q <= '9'; q++) {
		d = *q - '0';
		x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
	}
	if (q == p || (*q && *q != ' ' && *q != '\t' && *q != '\n'))
		return -1;
	*v = x;
	*end = q;
	return 0;
}

/* "key value" lines into the fields the table names */
static void
keyed(const char *text, const Key *keys, size_t nkeys, AgentStats *st)
{
	const char *p, *sp, *nl, *end;
	uint64_t v;
	size_t i, n;

	for (p = text; p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (!(sp = strchr(p, ' ')) || (nl && sp > nl))
			continue;
		n = sp - p;
		if (decimal(sp + 1, &end, &v) < 0 || (*end && *end != '\n'))
			continue;
		for (i = 0; i < nkeys; i++)
			if (strlen(keys[i].key) == n && !memcmp(keys[i].key, p, n))
				*(uint64_t *)((char *)st + keys[i].off) = v;
	}
}

void
cg_cpustat(const char *text, AgentStats *st)
{
	keyed(text, cpukeys, LEN(cpukeys), st);
}

void
cg_memstat(const char *text, AgentStats *st)
{
	keyed(text, memkeys, LEN(memkeys), st);
}

void
cg_memevents(const char *text, AgentStats *st)
{
	keyed(text, evkeys, LEN(evkeys), st);
}

uint64_t
cg_value(const char *text)
{
	const char *end;
	uint64_t v;

	if (!text || decimal(text, &end, &v) < 0)
		return 0;	/* "max" too: no limit */
	return v;
}

int
cg_frozen(const char *text)
{
	const char *p;

	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, "frozen ", 7))
			return p[7] == '1';
	return 0;
}

/* io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N" */
void
cg_iostat(const char *text, AgentStats *st)
{
	static const char *names[] = { "rbytes=", "wbytes=", "rios=", "wios=" };
	const char *p, *q, *nl, *end;
	AgentIo io;
	uint64_t *f[4];
	size_t i;

	f[0] = &io.rbytes, f[1] = &io.wbytes, f[2] = &io.rios, f[3] = &io.wios;
	for (p = text; p && *p && st->nio < AGENT_MAXIO; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		memset(&io, 0, sizeof(io));
		q = p;
		if (!(*q >= '0' && *q <= '9'))
			continue;
		for (io.major = 0; *q >= '0' && *q <= '9' && io.major < 1u << 20; q++)
			io.major = io.major * 10 + (*q - '0');
		if (*q++ != ':' || !(*q >= '0' && *q <= '9'))
			continue;
		for (io.minor = 0; *q >= '0' && *q <= '9' && io.minor < 1u << 20; q++)
			io.minor = io.minor * 10 + (*q - '0');
		if (*q && *q != ' ' && *q != '\n')
			continue;
		while (*q == ' ') {
			q++;
			for (i = 0; i < LEN(names); i++)
				if (!strncmp(q, names[i], strlen(names[i])))
					break;
			if (i < LEN(names) && decimal(q + strlen(names[i]), &end,
			    f[i]) == 0) {
				q = end;
				continue;
			}
			/* a field husk does not know: to the next blank */
			while (*q && *q != ' ' && *q != '\n')
				q++;
		}
		st->io[st->nio++] = io;
	}
}

/* a file of the container's cgroup into buf; NULL if it is not there */
static const char *
cgread(const char *id, const char *file, char *buf, size_t n)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), CGROOT "/%s/%s", id, file);
	return readfile(path, buf, n) < 0 ? NULL : buf;
}

int
cg_stats(const char *id, AgentStats *st)
{
	char *buf;

	memset(st, 0, sizeof(*st));
	buf = emalloc(CGFILEMAX);
	if (!cgread(id, "cgroup.procs", buf, CGFILEMAX)) {
		free(buf);
		return -1;
	}
	cg_cpustat(cgread(id, "cpu.stat", buf, CGFILEMAX), st);
	st->memusage = cg_value(cgread(id, "memory.current", buf, CGFILEMAX));
	st->memlimit = cg_value(cgread(id, "memory.max", buf, CGFILEMAX));
	st->swapusage = cg_value(cgread(id, "memory.swap.current", buf, CGFILEMAX));
	cg_memstat(cgread(id, "memory.stat", buf, CGFILEMAX), st);
	cg_memevents(cgread(id, "memory.events", buf, CGFILEMAX), st);
	st->pids = cg_value(cgread(id, "pids.current", buf, CGFILEMAX));
	st->pidslimit = cg_value(cgread(id, "pids.max", buf, CGFILEMAX));
	cg_iostat(cgread(id, "io.stat", buf, CGFILEMAX), st);
	free(buf);
	return 0;
}

/* cgroup.procs: at most max pids */
size_t
cg_pids(const char *id, uint32_t *pids, size_t max)
{
	size_t n = 0, len = max * 12 + 1;
	char *buf = emalloc(len);
	const char *p, *end;
	uint64_t v;

	if (!cgread(id, "cgroup.procs", buf, len))
		buf[0] = '\0';
	for (p = buf; *p && n < max; p = *end ? end + 1 : end) {
		if (decimal(p, &end, &v) < 0)
			break;
		if (v && v <= UINT32_MAX)
			pids[n++] = v;
	}
	free(buf);
	return n;
}

/* one file of the cgroup; -1 and err */
static int
cgwrite(const char *id, const char *file, const char *v, int optional, char *err)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), CGROOT "/%s/%s", id, file);
	if (writestr(path, v) == 0)
		return 0;
	if (optional && errno == ENOENT) {
		glog(LWARN, "container %s: %s: not in the guest kernel, ignored", id, file);
		return 0;
	}
	seterr(err, "cgroup %s = %s:", file, v);
	return -1;
}

/* a limit as the cgroup file takes it: -1 is "max" */
static void
limit(char *v, size_t n, int64_t x)
{
	if (x < 0)
		snprintf(v, n, "max");
	else
		snprintf(v, n, "%lld", (long long)x);
}

/*
 * The resources s gives (s->resset), as runc converts them for cgroup
 * v2: shares to cpu.weight, blockIO weight to io.weight, and the OCI
 * swap (memory + swap) less the memory limit to memory.swap.max.
 */
int
cg_apply(const char *id, const OciSpec *s, char *err)
{
	char v[64], cur[64];
	int64_t mem;
	uint64_t w;

	if (s->resset & OCI_RMEM) {
		limit(v, sizeof(v), s->memlimit);
		if (cgwrite(id, "memory.max", v, 0, err) < 0)
			return -1;
	}
	if (s->resset & OCI_RMEMRES) {
		snprintf(v, sizeof(v), "%lld", (long long)MAX(s->memreserve, 0));
		if (cgwrite(id, "memory.low", v, 0, err) < 0)
			return -1;
	}
	if (s->resset & OCI_RSWAP) {
		mem = s->resset & OCI_RMEM ? s->memlimit :
		    (int64_t)cg_value(cgread(id, "memory.max", cur, sizeof(cur)));
		if (s->memswap < 0) {
			snprintf(v, sizeof(v), "max");
		} else if (mem <= 0 || s->memswap < mem) {
			seterr(err, "linux.resources.memory.swap %lld needs a memory "
			    "limit no larger", (long long)s->memswap);
			return -1;
		} else {
			snprintf(v, sizeof(v), "%lld", (long long)(s->memswap - mem));
		}
		if (cgwrite(id, "memory.swap.max", v, 1, err) < 0)
			return -1;
	}
	if (s->resset & OCI_RSHARES && s->cpushares >= 2) {
		w = 1 + (MIN(s->cpushares, 262144) - 2) * 9999 / 262142;
		snprintf(v, sizeof(v), "%llu", (unsigned long long)w);
		if (cgwrite(id, "cpu.weight", v, 0, err) < 0)
			return -1;
	}
	if (s->resset & (OCI_RQUOTA | OCI_RPERIOD)) {
		limit(v, sizeof(v), s->cpuquota);
		if (s->cpuperiod)
			snprintf(v + strlen(v), sizeof(v) - strlen(v), " %llu",
			    (unsigned long long)s->cpuperiod);
		if (cgwrite(id, "cpu.max", v, 0, err) < 0)
			return -1;
	}
	if (s->resset & OCI_RCPUS && cgwrite(id, "cpuset.cpus", s->cpus, 0, err) < 0)
		return -1;
	if (s->resset & OCI_RMEMS && cgwrite(id, "cpuset.mems", s->mems, 0, err) < 0)
		return -1;
	if (s->resset & OCI_RPIDS) {
		limit(v, sizeof(v), s->pidslimit);
		if (cgwrite(id, "pids.max", v, 0, err) < 0)
			return -1;
	}
	if (s->resset & OCI_RBLKIO) {
		snprintf(v, sizeof(v), "default %u",
		    1 + (s->blkioweight - 10) * 9999 / 990);
		if (cgwrite(id, "io.weight", v, 1, err) < 0)
			return -1;
	}
	return 0;
}
