/* See LICENSE file for copyright and license details. */
/*
 * task.c's Pids, Stats, Update, Pause, Resume, Checkpoint and OOM watch,
 * driven as containerd drives them, in the world test/fakeagent.h makes
 * (root only, as it says). This file's fake agent holds every call until
 * the case answers it, with whatever bytes the case needs, malformed ones
 * included. The task is made through Create and Start, as containerd
 * makes it.
 */
#include "../husk.h"
#include "t.h"
#include "fakeagent.h"

#define ID	"t1"

/* the fake agent: each method's held call, its request, how many came */
enum { A_CREATE, A_START, A_WAIT, A_SIGNAL, A_REMOVE, A_PIDS, A_STATS,
	A_UPDATE, A_PAUSE, A_RESUME, A_OOM, A_N };
static struct {
	TtrpcCall *c;
	AgentReq r;
	int n;
} ag[A_N];

static void
hold(int m, TtrpcCall *c, const uint8_t *req, size_t n)
{
	if (ag[m].c)
		ttrpc_reply(ag[m].c, RPC_ABORTED, "test: a newer call", NULL, 0);
	agentreq_free(&ag[m].r);
	if (pr_agentreq(req, n, &ag[m].r) < 0)
		memset(&ag[m].r, 0, sizeof(ag[m].r));
	ag[m].c = c;
	ag[m].n++;
}

#define FAKE(fn, m) static void \
	fn(TtrpcCall *c, const uint8_t *req, size_t n) { hold(m, c, req, n); }
FAKE(acreate, A_CREATE)
FAKE(astart, A_START)
FAKE(await_, A_WAIT)
FAKE(asignal, A_SIGNAL)
FAKE(aremove, A_REMOVE)
FAKE(apids, A_PIDS)
FAKE(astats, A_STATS)
FAKE(aupdate, A_UPDATE)
FAKE(apause, A_PAUSE)
FAKE(aresume, A_RESUME)
FAKE(aoom, A_OOM)

static const TtrpcMethod agentmethods[] = {
	/* service          method      handler */
	{ AGENT_SERVICE,    "Create",   acreate },
	{ AGENT_SERVICE,    "Start",    astart },
	{ AGENT_SERVICE,    "Wait",     await_ },
	{ AGENT_SERVICE,    "Signal",   asignal },
	{ AGENT_SERVICE,    "Remove",   aremove },
	{ AGENT_SERVICE,    "Pids",     apids },
	{ AGENT_SERVICE,    "Stats",    astats },
	{ AGENT_SERVICE,    "Update",   aupdate },
	{ AGENT_SERVICE,    "Pause",    apause },
	{ AGENT_SERVICE,    "Resume",   aresume },
	{ AGENT_SERVICE,    "Oom",      aoom },
};

static int
held(int m)
{
	int i;

	for (i = 0; i < 400 && !ag[m].c; i++)
		loop_run(5);
	return ag[m].c != NULL;
}

/* answer the fake agent's held call m */
static void
answer(int m, int code, const char *msg, const void *resp, size_t n)
{
	ttrpc_reply(ag[m].c, code, msg, resp, n);
	ag[m].c = NULL;
}

static void
answerresp(int m, const AgentResp *ar)
{
	agentanswer(ag[m].c, ar);
	ag[m].c = NULL;
}

/* the task's status as State says, -1 on failure */
static int
status(void)
{
	long long st;
	Res r;

	if (idcall("State", ID, NULL, &r) != RPC_OK)
		return -1;
	st = respnum(&r, 4);
	return st < 0 ? TSTATUS_UNKNOWN : st;
}

/* Create and Start task ID as containerd would; 0 when it runs */
static int
setup(void)
{
	Pb pb = { 0 };
	Res r;

	if (createreq(&pb, ID, 0) < 0)
		return -1;
	callsend("Create", &pb, &r);
	if (!held(A_CREATE))
		return -1;
	answerresp(A_CREATE, &(AgentResp){ .pid = 42 });
	if (callwait(&r) != RPC_OK)
		return -1;
	idsend("Start", ID, NULL, &r);
	if (!held(A_START))
		return -1;
	answer(A_START, RPC_OK, NULL, NULL, 0);
	if (callwait(&r) != RPC_OK)
		return -1;
	return status() == TSTATUS_RUNNING && held(A_WAIT) && held(A_OOM) ? 0 : -1;
}

static void
stats(void)
{
	AgentStats st;
	Res r;
	Pb want = { 0 };
	Pf any, url, val;

	memset(&st, 0, sizeof(st));
	st.memusage = (64 << 20) + 4096;
	st.anon = 64 << 20;
	st.cpuusage = 1234567;
	st.pids = 3;
	st.nio = 1;
	st.io[0].major = 254;
	st.io[0].rbytes = 4096;
	idsend("Stats", ID, NULL, &r);
	CHECK(held(A_STATS));
	CHECK(ag[A_STATS].r.id && !strcmp(ag[A_STATS].r.id, ID));
	answerresp(A_STATS, &(AgentResp){ .stats = &st });
	CHECK(callwait(&r) == RPC_OK);
	/* StatsResponse {stats 1: Any {type_url 1, value 2}}, v2 Metrics */
	pb_metrics2(&want, &st);
	CHECK(field(r.resp, r.n, 1, &any));
	CHECK(field(any.b, any.n, 1, &url) && url.n == strlen(METRICS_URL_V2) &&
	    !memcmp(url.b, METRICS_URL_V2, url.n));
	CHECK(field(any.b, any.n, 2, &val) && val.n == want.n &&
	    !memcmp(val.b, want.b, want.n));
	pb_free(&want);
}

/* what the guest sends back is checked: errors, never crashes */
static void
statsbad(void)
{
	static const uint8_t junk[] = { 0x22, 0x7f, 0x08 };	/* stats: truncated */
	Res r;

	idsend("Stats", ID, NULL, &r);
	CHECK(held(A_STATS));
	answer(A_STATS, RPC_OK, NULL, junk, sizeof(junk));
	CHECK(callwait(&r) == RPC_INTERNAL);
	CHECK(strstr(r.msg, "malformed") != NULL);
	/* a well-formed reply without statistics */
	idsend("Stats", ID, NULL, &r);
	CHECK(held(A_STATS));
	answerresp(A_STATS, &(AgentResp){ .pid = 7 });
	CHECK(callwait(&r) == RPC_INTERNAL);
	/* the agent's own error reaches containerd with its message */
	idsend("Stats", ID, NULL, &r);
	CHECK(held(A_STATS));
	answer(A_STATS, RPC_INTERNAL, "the container's cgroup is gone", NULL, 0);
	CHECK(callwait(&r) == RPC_INTERNAL);
	CHECK(strstr(r.msg, "cgroup is gone") != NULL);
	/* no such task: no agent call */
	idsend("Stats", "nope", NULL, &r);
	CHECK(callwait(&r) == RPC_NOTFOUND);
	CHECK(!ag[A_STATS].c);
}

static void
pids(void)
{
	uint32_t p[] = { 1, 7, 300 };
	TaskPid tp[] = { { 1, NULL }, { 7, NULL }, { 300, NULL } };
	uint8_t junk[] = { 0x1a, 0x03, 0x80, 0x80, 0x80 };	/* pids: no end */
	Res r;
	Pb want = { 0 };

	idsend("Pids", ID, NULL, &r);
	CHECK(held(A_PIDS));
	CHECK(ag[A_PIDS].r.id && !strcmp(ag[A_PIDS].r.id, ID));
	answerresp(A_PIDS, &(AgentResp){ .pids = p, .npids = LEN(p) });
	CHECK(callwait(&r) == RPC_OK);
	pb_pidsresp(&want, tp, LEN(tp));
	CHECK(r.n == want.n && !memcmp(r.resp, want.b, want.n));
	pb_free(&want);
	idsend("Pids", ID, NULL, &r);
	CHECK(held(A_PIDS));
	answer(A_PIDS, RPC_OK, NULL, junk, sizeof(junk));
	CHECK(callwait(&r) == RPC_INTERNAL);
}

/* UpdateTaskRequest {id 1, resources 2 (Any)} */
static void
updatereq(Pb *pb, const char *url, const char *json)
{
	pb_str(pb, 1, ID);
	if (url)
		pb_any(pb, 2, url, json, strlen(json));
}

static void
update(void)
{
	static const char json[] = "{\"memory\": {\"limit\": 67108864}, "
	    "\"cpu\": {\"shares\": 512}}";
	Res r;
	Pb pb = { 0 };
	int n;

	updatereq(&pb, TASK_URL_RESOURCES, json);
	callsend("Update", &pb, &r);
	CHECK(held(A_UPDATE));
	CHECK(ag[A_UPDATE].r.id && !strcmp(ag[A_UPDATE].r.id, ID));
	CHECK(ag[A_UPDATE].r.config && ag[A_UPDATE].r.configlen == strlen(json) &&
	    !strcmp(ag[A_UPDATE].r.config, json));
	answer(A_UPDATE, RPC_OK, NULL, NULL, 0);
	CHECK(callwait(&r) == RPC_OK);
	/* refused here: another type, no resources, a malformed request */
	n = ag[A_UPDATE].n;
	updatereq(&pb, "types.containerd.io/opencontainers/runtime-spec/1/"
	    "WindowsResources", json);
	callsend("Update", &pb, &r);
	CHECK(callwait(&r) == RPC_INVALID);
	CHECK(strstr(r.msg, "WindowsResources") != NULL);
	updatereq(&pb, NULL, NULL);
	callsend("Update", &pb, &r);
	CHECK(callwait(&r) == RPC_INVALID);
	pb_raw(&pb, "\x12\x05\x0a", 3);
	callsend("Update", &pb, &r);
	CHECK(callwait(&r) == RPC_INVALID);
	updatereq(&pb, TASK_URL_RESOURCES, "{\"memory\": {\"limit\": \"x\"}}");
	callsend("Update", &pb, &r);
	CHECK(callwait(&r) == RPC_INVALID);
	CHECK(strstr(r.msg, "limit") != NULL);
	updatereq(&pb, TASK_URL_RESOURCES, "{\"memory\": ");
	callsend("Update", &pb, &r);
	CHECK(callwait(&r) == RPC_INVALID);
	CHECK(ag[A_UPDATE].n == n);
	/* the agent's refusal, with its message */
	updatereq(&pb, TASK_URL_RESOURCES, "{\"cpu\": {\"cpus\": \"99\"}}");
	callsend("Update", &pb, &r);
	CHECK(held(A_UPDATE));
	answer(A_UPDATE, RPC_INVALID, "cpuset.cpus: 99: no such CPU", NULL, 0);
	CHECK(callwait(&r) == RPC_INVALID);
	CHECK(strstr(r.msg, "no such CPU") != NULL);
}

static void
pauseresume(void)
{
	Res r, k;
	Pb pb = { 0 };

	/* pausing while the agent freezes, then paused, and containerd hears */
	idsend("Pause", ID, NULL, &r);
	CHECK(held(A_PAUSE));
	CHECK(ag[A_PAUSE].r.id && !strcmp(ag[A_PAUSE].r.id, ID));
	CHECK(status() == TSTATUS_PAUSING);
	answer(A_PAUSE, RPC_OK, NULL, NULL, 0);
	CHECK(callwait(&r) == RPC_OK);
	CHECK(status() == TSTATUS_PAUSED);
	spinuntil(&nev, nev + 1, 200);
	CHECK(events("/tasks/paused", ID, NULL) == 1);
	/* runc's shim: no second pause; a paused task can be signalled */
	idsend("Pause", ID, NULL, &r);
	CHECK(callwait(&r) == RPC_PRECONDITION);
	CHECK(strstr(r.msg, "paused") != NULL);
	pb_killreq(&pb, ID, NULL, 10, 0);
	callsend("Kill", &pb, &k);
	CHECK(held(A_SIGNAL));
	CHECK(ag[A_SIGNAL].r.signal == 10);
	answer(A_SIGNAL, RPC_OK, NULL, NULL, 0);
	CHECK(callwait(&k) == RPC_OK);
	CHECK(status() == TSTATUS_PAUSED);
	/* resumed */
	idsend("Resume", ID, NULL, &r);
	CHECK(held(A_RESUME));
	answer(A_RESUME, RPC_OK, NULL, NULL, 0);
	CHECK(callwait(&r) == RPC_OK);
	CHECK(status() == TSTATUS_RUNNING);
	spinuntil(&nev, nev + 1, 200);
	CHECK(events("/tasks/resumed", ID, NULL) == 1);
	idsend("Resume", ID, NULL, &r);
	CHECK(callwait(&r) == RPC_PRECONDITION);
	/* a pause the guest could not make: still running, no event */
	idsend("Pause", ID, NULL, &r);
	CHECK(held(A_PAUSE));
	answer(A_PAUSE, RPC_DEADLINE, "the container's processes did not "
	    "freeze in time", NULL, 0);
	CHECK(callwait(&r) == RPC_DEADLINE);
	CHECK(strstr(r.msg, "freeze") != NULL);
	CHECK(status() == TSTATUS_RUNNING);
	CHECK(events("/tasks/paused", ID, NULL) == 1);
}

static void
checkpoint(void)
{
	Res r;

	idsend("Checkpoint", ID, NULL, &r);
	CHECK(callwait(&r) == RPC_UNIMPLEMENTED);
	CHECK(strstr(r.msg, "checkpoint") != NULL);
}

/* one Oom call waits; each report is TaskOOM and the call is made again */
static void
oom(void)
{
	static const uint8_t junk[] = { 0x2a, 0x09, 'x' };	/* id: truncated */
	int n = ag[A_OOM].n, e;

	CHECK(ag[A_OOM].c != NULL);
	answerresp(A_OOM, &(AgentResp){ .id = ID });
	CHECK(spinuntil(&ag[A_OOM].n, n + 1, 2000));
	CHECK(ag[A_OOM].c != NULL);
	CHECK(events("/tasks/oom", ID, NULL) == 1);
	/* a container that is not ours: no event, watched on */
	e = nev;
	answerresp(A_OOM, &(AgentResp){ .id = "other" });
	CHECK(spinuntil(&ag[A_OOM].n, n + 2, 2000));
	CHECK(nev == e);
	/* malformed, then an error: asked again, but not at once */
	answer(A_OOM, RPC_OK, NULL, junk, sizeof(junk));
	spinuntil(&ag[A_OOM].n, n + 3, 200);
	CHECK(ag[A_OOM].n == n + 2);
	CHECK(spinuntil(&ag[A_OOM].n, n + 3, 3000));
	answer(A_OOM, RPC_ABORTED, "a newer Oom call waits", NULL, 0);
	spinuntil(&ag[A_OOM].n, n + 4, 200);
	CHECK(ag[A_OOM].n == n + 3);
	CHECK(spinuntil(&ag[A_OOM].n, n + 4, 3000));
	CHECK(nev == e);
	CHECK(ag[A_OOM].c != NULL);
}

/* the agent gone: its calls end, the task stops, nothing is asked again */
static void
linkloss(void)
{
	Res r;
	int m, n = 0;

	ttrpc_close(agent);
	agent = NULL;
	for (m = 0; m < A_N; m++) {	/* answers nobody reads */
		if (ag[m].c)
			answer(m, RPC_CANCELLED, NULL, NULL, 0);
		agentreq_free(&ag[m].r);
		ag[m].n = 0;
	}
	CHECK(spinuntil(&nev, nev + 1, 2000));
	CHECK(status() == TSTATUS_STOPPED);
	CHECK(events("/tasks/exit", ID, ID) == 1);
	idsend("Stats", ID, NULL, &r);
	CHECK(callwait(&r) == RPC_UNAVAILABLE);
	idsend("Pause", ID, NULL, &r);
	CHECK(callwait(&r) == RPC_PRECONDITION);
	idsend("Pids", ID, NULL, &r);
	CHECK(callwait(&r) == RPC_OK && r.n == 0);
	idsend("Delete", ID, NULL, &r);
	CHECK(callwait(&r) == RPC_OK);
	spinuntil(&n, 1, 1500);	/* past oom_retry_ms: the loop stays quiet */
}

int
main(void)
{
	if (geteuid() != 0) {
		printf("SKIP taskstat_test: needs root (a mount namespace, the "
		    "share's tmpfs)\n");
		return 0;
	}
	if (fakestart("taskstat", agentmethods, LEN(agentmethods)) < 0)
		return 2;
	if (setup() < 0) {
		printf("FAIL setup: Create and Start through the fake agent\n");
		return 1;
	}
	RUN(stats);
	RUN(statsbad);
	RUN(pids);
	RUN(update);
	RUN(pauseresume);
	RUN(checkpoint);
	RUN(oom);
	RUN(linkloss);
	fakestop();
	return TDONE();
}
