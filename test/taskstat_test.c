/* See LICENSE file for copyright and license details. */
/*
 * task.c's Pids, Stats, Update, Pause, Resume, Checkpoint and OOM watch,
 * driven as containerd drives them: a client on a socketpair calls the
 * Task service, whose sandbox is a fake agent on another socketpair
 * (sandbox_attach), and the events go to a fake containerd events
 * service on a unix socket (TTRPC_ADDRESS). The fake agent holds every
 * call until the case answers it, with whatever bytes the case needs,
 * malformed ones included.
 *
 * A task is made through Create, as containerd does: task_init's mount
 * namespace and the share's tmpfs need root, so the test says SKIP
 * otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "../husk.h"
#include "t.h"

/* sandbox.c's initramfs holds the agent; no VM boots here */
const unsigned char agent_bin[1], agent_end[1];

#define ID	"t1"
#define EVSVC	"containerd.services.events.ttrpc.v1.Events"

/* the fake agent: each method's held call, its request, how many came */
enum { A_CREATE, A_START, A_WAIT, A_SIGNAL, A_REMOVE, A_PIDS, A_STATS,
	A_UPDATE, A_PAUSE, A_RESUME, A_OOM, A_N };
static struct {
	TtrpcCall *c;
	AgentReq r;
	int n;
} ag[A_N];
static Ttrpc *agent, *cli;

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

/* the fake containerd: the events it was sent (topic, container id) */
static struct {
	char topic[64], cid[64];
} evs[64];
static int nev;
static Watch evlisten = { -1, NULL, NULL, 0 };
static Ttrpc *evconn;	/* the shim's connection, once made */

/* the first field numbered field, 1; 0 when absent or malformed */
static int
field(const uint8_t *p, size_t n, uint32_t num, Pf *out)
{
	Pr rd;

	pr_init(&rd, p, n);
	while (pr_next(&rd, out) > 0)
		if (out->field == num)
			return 1;
	return 0;
}

static void
copystr(char *dst, size_t size, const Pf *f)
{
	size_t n = f->wt == PB_BYTES ? MIN(f->n, size - 1) : 0;

	memcpy(dst, f->b, n);
	dst[n] = '\0';
}

/* ForwardRequest {envelope 1 {topic 3, event 4 (Any {value 2})}} */
static void
forward(TtrpcCall *c, const uint8_t *req, size_t n)
{
	Pf env, f, any, val;

	if (nev < (int)LEN(evs) && field(req, n, 1, &env)) {
		evs[nev].topic[0] = evs[nev].cid[0] = '\0';
		if (field(env.b, env.n, 3, &f))
			copystr(evs[nev].topic, sizeof(evs[nev].topic), &f);
		if (field(env.b, env.n, 4, &any) && field(any.b, any.n, 2, &val) &&
		    field(val.b, val.n, 1, &f))
			copystr(evs[nev].cid, sizeof(evs[nev].cid), &f);
		nev++;
	}
	ttrpc_reply(c, RPC_OK, NULL, NULL, 0);
}

static const TtrpcMethod evmethods[] = {
	{ EVSVC, "Forward", forward },
};

static void
evclose(Ttrpc *t, void *arg)
{
	(void)arg;
	if (evconn == t)
		evconn = NULL;
	ttrpc_close(t);
}

static void
evaccept(Watch *w, uint32_t ev)
{
	Ttrpc *t;
	int fd;

	(void)ev;
	if ((fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return;
	if (evconn || !(t = ttrpc_new(fd, evmethods, LEN(evmethods), NULL))) {
		close(fd);
		return;
	}
	ttrpc_onclose(t, evclose);
	evconn = t;
}

/* the number of events of topic about container id */
static int
events(const char *topic, const char *cid)
{
	int i, k = 0;

	for (i = 0; i < nev; i++)
		k += !strcmp(evs[i].topic, topic) && !strcmp(evs[i].cid, cid);
	return k;
}

/* containerd's side: one call's result */
typedef struct {
	int done, code;
	char msg[256];
	uint8_t *resp;
	size_t n;
} Result;

static void
done(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	Result *r = arg;

	r->done++;
	r->code = code;
	snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : "");
	free(r->resp);
	r->resp = malloc(n + 1);
	if (n)
		memcpy(r->resp, resp, n);
	r->n = n;
}

/* the loop until *cond reaches want, at most about ms */
static int
spin(const int *cond, int want, int ms)
{
	int i;

	for (i = 0; i < ms / 5 && *cond < want; i++)
		loop_run(5);
	return *cond >= want;
}

static int
held(int m)
{
	int i;

	for (i = 0; i < 400 && !ag[m].c; i++)
		loop_run(5);
	return ag[m].c != NULL;
}

/* a Task call with request pb (freed), run to its answer */
static void
call(const char *method, Pb *pb, Result *r)
{
	free(r->resp);
	memset(r, 0, sizeof(*r));
	if (ttrpc_call(cli, TASK_SERVICE, method, pb->b, pb->n, 0, done, r) < 0)
		r->code = -1;
	pb_free(pb);
}

static void
callid(const char *method, const char *id, Result *r)
{
	Pb pb = { 0 };

	pb_idreq(&pb, id, NULL);
	call(method, &pb, r);
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
	Pb pb = { 0 };

	pb_agentresp(&pb, ar);
	answer(m, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
}

/* the task's status as State says, -1 on failure */
static int
status(void)
{
	Result r = { 0 };
	Pf f;
	int st = -1;

	callid("State", ID, &r);
	if (spin(&r.done, 1, 2000) && r.code == RPC_OK)
		st = field(r.resp, r.n, 4, &f) ? (int)f.u : TSTATUS_UNKNOWN;
	free(r.resp);
	return st;
}

static char bundle[] = "/tmp/husk-taskstat.XXXXXX";

/* Create and Start task ID as containerd would; 0 when it runs */
static int
setup(void)
{
	static const char config[] = "{\"ociVersion\": \"1.0.2\", "
	    "\"process\": {\"args\": [\"sleep\", \"1000\"], \"cwd\": \"/\"}, "
	    "\"root\": {\"path\": \"rootfs\"}}";
	char path[PATH_MAX];
	Result r = { 0 };
	Pb pb = { 0 };
	FILE *f;

	snprintf(path, sizeof(path), "%s/rootfs", bundle);
	if (mkdir(path, 0755) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	if (!(f = fopen(path, "w")) || fputs(config, f) < 0 || fclose(f))
		return -1;
	pb_createreq(&pb, ID, bundle, "", "", "");
	call("Create", &pb, &r);
	if (!held(A_CREATE))
		return -1;
	answerresp(A_CREATE, &(AgentResp){ .pid = 42 });
	if (!spin(&r.done, 1, 2000) || r.code != RPC_OK)
		return -1;
	callid("Start", ID, &r);
	if (!held(A_START))
		return -1;
	answer(A_START, RPC_OK, NULL, NULL, 0);
	if (!spin(&r.done, 1, 2000) || r.code != RPC_OK)
		return -1;
	free(r.resp);
	return status() == TSTATUS_RUNNING && held(A_WAIT) && held(A_OOM) ? 0 : -1;
}

static void
stats(void)
{
	AgentStats st;
	Result r = { 0 };
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
	callid("Stats", ID, &r);
	CHECK(held(A_STATS));
	CHECK(ag[A_STATS].r.id && !strcmp(ag[A_STATS].r.id, ID));
	answerresp(A_STATS, &(AgentResp){ .stats = &st });
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_OK);
	/* StatsResponse {stats 1: Any {type_url 1, value 2}}, v2 Metrics */
	pb_metrics2(&want, &st);
	CHECK(field(r.resp, r.n, 1, &any));
	CHECK(field(any.b, any.n, 1, &url) && url.n == strlen(METRICS_URL_V2) &&
	    !memcmp(url.b, METRICS_URL_V2, url.n));
	CHECK(field(any.b, any.n, 2, &val) && val.n == want.n &&
	    !memcmp(val.b, want.b, want.n));
	pb_free(&want);
	free(r.resp);
}

/* what the guest sends back is checked: errors, never crashes */
static void
statsbad(void)
{
	static const uint8_t junk[] = { 0x22, 0x7f, 0x08 };	/* stats: truncated */
	Result r = { 0 };

	callid("Stats", ID, &r);
	CHECK(held(A_STATS));
	answer(A_STATS, RPC_OK, NULL, junk, sizeof(junk));
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_INTERNAL);
	CHECK(strstr(r.msg, "malformed") != NULL);
	/* a well-formed reply without statistics */
	callid("Stats", ID, &r);
	CHECK(held(A_STATS));
	answerresp(A_STATS, &(AgentResp){ .pid = 7 });
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_INTERNAL);
	/* the agent's own error reaches containerd with its message */
	callid("Stats", ID, &r);
	CHECK(held(A_STATS));
	answer(A_STATS, RPC_INTERNAL, "the container's cgroup is gone", NULL, 0);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_INTERNAL);
	CHECK(strstr(r.msg, "cgroup is gone") != NULL);
	/* no such task: no agent call */
	callid("Stats", "nope", &r);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_NOTFOUND);
	CHECK(!ag[A_STATS].c);
	free(r.resp);
}

static void
pids(void)
{
	uint32_t p[] = { 1, 7, 300 };
	TaskPid tp[] = { { 1, NULL }, { 7, NULL }, { 300, NULL } };
	uint8_t junk[] = { 0x1a, 0x03, 0x80, 0x80, 0x80 };	/* pids: no end */
	Result r = { 0 };
	Pb want = { 0 };

	callid("Pids", ID, &r);
	CHECK(held(A_PIDS));
	CHECK(ag[A_PIDS].r.id && !strcmp(ag[A_PIDS].r.id, ID));
	answerresp(A_PIDS, &(AgentResp){ .pids = p, .npids = LEN(p) });
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_OK);
	pb_pidsresp(&want, tp, LEN(tp));
	CHECK(r.n == want.n && !memcmp(r.resp, want.b, want.n));
	pb_free(&want);
	callid("Pids", ID, &r);
	CHECK(held(A_PIDS));
	answer(A_PIDS, RPC_OK, NULL, junk, sizeof(junk));
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_INTERNAL);
	free(r.resp);
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
	Result r = { 0 };
	Pb pb = { 0 };
	int n;

	updatereq(&pb, TASK_URL_RESOURCES, json);
	call("Update", &pb, &r);
	CHECK(held(A_UPDATE));
	CHECK(ag[A_UPDATE].r.id && !strcmp(ag[A_UPDATE].r.id, ID));
	CHECK(ag[A_UPDATE].r.config && ag[A_UPDATE].r.configlen == strlen(json) &&
	    !strcmp(ag[A_UPDATE].r.config, json));
	answer(A_UPDATE, RPC_OK, NULL, NULL, 0);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_OK);
	/* refused here: another type, no resources, a malformed request */
	n = ag[A_UPDATE].n;
	updatereq(&pb, "types.containerd.io/opencontainers/runtime-spec/1/"
	    "WindowsResources", json);
	call("Update", &pb, &r);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_INVALID);
	CHECK(strstr(r.msg, "WindowsResources") != NULL);
	updatereq(&pb, NULL, NULL);
	call("Update", &pb, &r);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_INVALID);
	pb_raw(&pb, "\x12\x05\x0a", 3);
	call("Update", &pb, &r);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_INVALID);
	updatereq(&pb, TASK_URL_RESOURCES, "{\"memory\": {\"limit\": \"x\"}}");
	call("Update", &pb, &r);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_INVALID);
	CHECK(strstr(r.msg, "limit") != NULL);
	updatereq(&pb, TASK_URL_RESOURCES, "{\"memory\": ");
	call("Update", &pb, &r);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_INVALID);
	CHECK(ag[A_UPDATE].n == n);
	/* the agent's refusal, with its message */
	updatereq(&pb, TASK_URL_RESOURCES, "{\"cpu\": {\"cpus\": \"99\"}}");
	call("Update", &pb, &r);
	CHECK(held(A_UPDATE));
	answer(A_UPDATE, RPC_INVALID, "cpuset.cpus: 99: no such CPU", NULL, 0);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_INVALID);
	CHECK(strstr(r.msg, "no such CPU") != NULL);
	free(r.resp);
}

static void
pauseresume(void)
{
	Result r = { 0 }, k = { 0 };
	Pb pb = { 0 };

	/* pausing while the agent freezes, then paused, and containerd hears */
	callid("Pause", ID, &r);
	CHECK(held(A_PAUSE));
	CHECK(ag[A_PAUSE].r.id && !strcmp(ag[A_PAUSE].r.id, ID));
	CHECK(status() == TSTATUS_PAUSING);
	answer(A_PAUSE, RPC_OK, NULL, NULL, 0);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_OK);
	CHECK(status() == TSTATUS_PAUSED);
	spin(&nev, nev + 1, 200);
	CHECK(events("/tasks/paused", ID) == 1);
	/* runc's shim: no second pause; a paused task can be signalled */
	callid("Pause", ID, &r);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_PRECONDITION);
	CHECK(strstr(r.msg, "paused") != NULL);
	pb_killreq(&pb, ID, NULL, 10, 0);
	call("Kill", &pb, &k);
	CHECK(held(A_SIGNAL));
	CHECK(ag[A_SIGNAL].r.signal == 10);
	answer(A_SIGNAL, RPC_OK, NULL, NULL, 0);
	CHECK(spin(&k.done, 1, 2000) && k.code == RPC_OK);
	CHECK(status() == TSTATUS_PAUSED);
	/* resumed */
	callid("Resume", ID, &r);
	CHECK(held(A_RESUME));
	answer(A_RESUME, RPC_OK, NULL, NULL, 0);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_OK);
	CHECK(status() == TSTATUS_RUNNING);
	spin(&nev, nev + 1, 200);
	CHECK(events("/tasks/resumed", ID) == 1);
	callid("Resume", ID, &r);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_PRECONDITION);
	/* a pause the guest could not make: still running, no event */
	callid("Pause", ID, &r);
	CHECK(held(A_PAUSE));
	answer(A_PAUSE, RPC_DEADLINE, "the container's processes did not "
	    "freeze in time", NULL, 0);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_DEADLINE);
	CHECK(strstr(r.msg, "freeze") != NULL);
	CHECK(status() == TSTATUS_RUNNING);
	CHECK(events("/tasks/paused", ID) == 1);
	free(r.resp);
	free(k.resp);
}

static void
checkpoint(void)
{
	Result r = { 0 };

	callid("Checkpoint", ID, &r);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_UNIMPLEMENTED);
	CHECK(strstr(r.msg, "checkpoint") != NULL);
	free(r.resp);
}

/* one Oom call waits; each report is TaskOOM and the call is made again */
static void
oom(void)
{
	static const uint8_t junk[] = { 0x2a, 0x09, 'x' };	/* id: truncated */
	int n = ag[A_OOM].n, e;

	CHECK(ag[A_OOM].c != NULL);
	answerresp(A_OOM, &(AgentResp){ .id = ID });
	CHECK(spin(&ag[A_OOM].n, n + 1, 2000));
	CHECK(ag[A_OOM].c != NULL);
	CHECK(events("/tasks/oom", ID) == 1);
	/* a container that is not ours: no event, watched on */
	e = nev;
	answerresp(A_OOM, &(AgentResp){ .id = "other" });
	CHECK(spin(&ag[A_OOM].n, n + 2, 2000));
	CHECK(nev == e);
	/* malformed, then an error: asked again, but not at once */
	answer(A_OOM, RPC_OK, NULL, junk, sizeof(junk));
	spin(&ag[A_OOM].n, n + 3, 200);
	CHECK(ag[A_OOM].n == n + 2);
	CHECK(spin(&ag[A_OOM].n, n + 3, 3000));
	answer(A_OOM, RPC_ABORTED, "a newer Oom call waits", NULL, 0);
	spin(&ag[A_OOM].n, n + 4, 200);
	CHECK(ag[A_OOM].n == n + 3);
	CHECK(spin(&ag[A_OOM].n, n + 4, 3000));
	CHECK(nev == e);
	CHECK(ag[A_OOM].c != NULL);
}

/* the agent gone: its calls end, the task stops, nothing is asked again */
static void
linkloss(void)
{
	Result r = { 0 };
	int m, n = 0;

	ttrpc_close(agent);
	agent = NULL;
	for (m = 0; m < A_N; m++) {	/* answers nobody reads */
		if (ag[m].c)
			answer(m, RPC_CANCELLED, NULL, NULL, 0);
		agentreq_free(&ag[m].r);
		ag[m].n = 0;
	}
	CHECK(spin(&nev, nev + 1, 2000));
	CHECK(status() == TSTATUS_STOPPED);
	CHECK(events("/tasks/exit", ID) == 1);
	callid("Stats", ID, &r);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_UNAVAILABLE);
	callid("Pause", ID, &r);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_PRECONDITION);
	callid("Pids", ID, &r);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_OK && r.n == 0);
	callid("Delete", ID, &r);
	CHECK(spin(&r.done, 1, 2000) && r.code == RPC_OK);
	spin(&n, 1, 1500);	/* past oom_retry_ms: the loop stays quiet */
	free(r.resp);
}

int
main(void)
{
	struct sockaddr_un sa;
	SandboxConfig vm;
	Sandbox *sb;
	int sv[2], cs[2];
	Ttrpc *srv;
	char cmd[64];

	if (geteuid() != 0) {
		printf("SKIP taskstat_test: needs root (a mount namespace, the "
		    "share's tmpfs)\n");
		return 0;
	}
	loglevel = getenv("HUSK_TEST_DEBUG") ? LDEBUG : LERR;
	if (loop_init() < 0 || !mkdtemp(bundle))
		return 2;
	/* containerd's events service */
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ev.sock", bundle);
	evlisten.fn = evaccept;
	if ((evlisten.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0 || bind(evlisten.fd, (struct sockaddr *)&sa,
	    sizeof(sa)) < 0 || listen(evlisten.fd, 8) < 0 ||
	    loop_add(&evlisten, EPOLLIN) < 0)
		return 2;
	/* the sandbox: the fake agent on a socketpair */
	sb = sandbox_new();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    sandbox_attach(sb, sv[0]) < 0 ||
	    !(agent = ttrpc_new(sv[1], agentmethods, LEN(agentmethods), NULL)))
		return 2;
	sandbox_defaults(&vm);
	vm.kernel = "/dev/null";	/* read, never booted */
	task_init(sb, &vm, "test", sa.sun_path);
	/* containerd's connection to the Task service */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cs) < 0 ||
	    !(srv = ttrpc_new(cs[0], task_methods, task_nmethods, NULL)) ||
	    !(cli = ttrpc_new(cs[1], NULL, 0, NULL)))
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
	ttrpc_close(cli);
	ttrpc_close(srv);
	if (evconn)
		ttrpc_close(evconn);
	loop_run(0);
	sandbox_free(sb);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", bundle);
	if (system(cmd) != 0)
		printf("  left %s behind\n", bundle);
	return TDONE();
}
