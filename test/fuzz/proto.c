/* See LICENSE file for copyright and license details. */
/*
 * proto.c's decoders on bytes a peer chose: containerd's task requests
 * (every TREQ_* kind, and the exec, pty, update and id-only ones), the
 * agent's requests and replies as the shim and the agent read them from
 * each other, the health reply, and the field reader itself with pf_str
 * and pf_map_str on every BYTES field. What decodes is encoded again and
 * must decode to the same values; a Stats reply is also written out as
 * both cgroups Metrics versions.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../husk.h"
#include "fuzz.h"

static void
fuzzinit(void)
{
}

static void
fields(const uint8_t *p, size_t n)
{
	char *s, *k, *v;
	Pr r, sub;
	Pf f, g;

	pr_init(&r, p, n);
	while (pr_next(&r, &f) > 0) {
		if (f.wt != PB_BYTES)
			continue;
		if (pf_str(&f, &s) == 0)
			free(s);
		if (pf_map_str(&f, &k, &v) == 0) {
			free(k);
			free(v);
		}
		/* one level down, as nested messages are read */
		pr_init(&sub, f.b, f.n);
		while (pr_next(&sub, &g) > 0)
			;
	}
}

static void
agentreq(const uint8_t *p, size_t n)
{
	AgentReq a, b;
	Pb pb = {0};

	if (pr_agentreq(p, n, &a) < 0)
		return;
	if (a.net) {	/* a Network request: the same network back */
		pb_agentreq(&pb, &a);
		if (pr_agentreq(pb.b, pb.n, &b) < 0 || !b.net ||
		    memcmp(a.net, b.net, sizeof(*a.net)))
			abort();
		agentreq_free(&b);
		pb_free(&pb);
	}
	if (a.id[0]) {
		pb_agentreq(&pb, &a);
		if (pr_agentreq(pb.b, pb.n, &b) < 0 || strcmp(a.id, b.id) ||
		    a.configlen != b.configlen ||
		    (a.configlen && memcmp(a.config, b.config, a.configlen)) ||
		    a.iport != b.iport || a.oport != b.oport ||
		    a.eport != b.eport || a.terminal != b.terminal ||
		    a.signal != b.signal || a.all != b.all)
			abort();
		agentreq_free(&b);
		pb_free(&pb);
	}
	agentreq_free(&a);
}

static void
agentresp(const uint8_t *p, size_t n)
{
	AgentResp a, b;
	Pb pb = {0};

	if (pr_agentresp(p, n, &a) < 0)
		return;
	pb_agentresp(&pb, &a);
	if (pr_agentresp(pb.b, pb.n, &b) < 0 || a.pid != b.pid ||
	    a.status != b.status || a.npids != b.npids ||
	    (a.npids && memcmp(a.pids, b.pids, a.npids * sizeof(*a.pids))) ||
	    !a.stats != !b.stats ||
	    (a.stats && memcmp(a.stats, b.stats, sizeof(*a.stats))) ||
	    strcmp(a.id ? a.id : "", b.id ? b.id : ""))
		abort();
	agentresp_free(&a);
	agentresp_free(&b);
	pb_free(&pb);
}

static void
health(const uint8_t *p, size_t n)
{
	AgentHealth h, h2;
	Pb pb = {0};

	if (pr_health(p, n, &h) < 0)
		return;
	pb_health(&pb, &h);
	if (pr_health(pb.b, pb.n, &h2) < 0 || strcmp(h.version, h2.version) ||
	    h.cpus != h2.cpus || h.memtotal != h2.memtotal ||
	    h.memfree != h2.memfree || h.uptimens != h2.uptimens)
		abort();
	pb_free(&pb);
}

static void
taskreq(const uint8_t *p, size_t n, int kind)
{
	TaskReq r;
	size_t i, j;

	if (pr_taskreq(p, n, kind, &r) < 0)
		return;
	/* what the handlers touch: every string, every mount option */
	if (!r.id || r.nrootfs > 16)
		abort();
	for (i = 0; i < r.nrootfs; i++) {
		if (r.rootfs[i].nopt && r.rootfs[i].options[r.rootfs[i].nopt])
			abort();
		for (j = 0; j < r.rootfs[i].nopt; j++)
			if (strlen(r.rootfs[i].options[j]) > n)
				abort();
	}
	taskreq_free(&r);
}

/* exec, pty, update and id-only requests; what decodes is what handlers use */
static void
taskop(const uint8_t *p, size_t n, int (*dec)(const uint8_t *, size_t, TaskOp *))
{
	TaskOp r;
	size_t i, j;

	if (dec(p, n, &r) < 0)
		return;
	if (!r.id || !r.execid || r.nanno > TASK_MAXANNO ||
	    (r.json && r.json[r.jsonlen]) || (!r.json && r.jsonlen))
		abort();
	for (i = 0; i < r.nanno; i++) {
		if (strlen(r.annokeys[i]) > n || strlen(r.annovals[i]) > n)
			abort();
		for (j = 0; j < i; j++)
			if (!strcmp(r.annokeys[i], r.annokeys[j]))
				abort();
	}
	taskop_free(&r);
}

/* a guest's Stats reply as the shim passes it on, both Metrics versions */
static void
stats(const uint8_t *p, size_t n)
{
	AgentResp a;
	TaskPid pid[2];
	Pb pb = {0};

	if (pr_agentresp(p, n, &a) < 0)
		return;
	if (a.stats) {
		pb_statsresp(&pb, a.stats, 0);
		pb_statsresp(&pb, a.stats, 1);
	}
	pid[0].pid = a.pid;
	pid[0].execid = a.id;
	pid[1].pid = a.status;
	pid[1].execid = NULL;
	pb_pidsresp(&pb, pid, 2);
	agentresp_free(&a);
	pb_free(&pb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int kind;

	/* every decoder sees every input: a peer may send any message anywhere */
	fields(data, size);
	agentreq(data, size);
	agentresp(data, size);
	health(data, size);
	for (kind = TREQ_PLAIN; kind <= TREQ_SHUTDOWN; kind++)
		taskreq(data, size, kind);
	taskop(data, size, pr_taskexec);
	taskop(data, size, pr_taskresize);
	taskop(data, size, pr_taskupdate);
	taskop(data, size, pr_taskid);
	stats(data, size);
	return 0;
}
