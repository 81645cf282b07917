/* See LICENSE file for copyright and license details. */
/*
 * task.c's Task service without a VM: the sandbox is attached to a fake
 * agent on a socketpair (sandbox_attach), containerd is a ttrpc client on
 * another socketpair, and its events service a unix socket this test
 * serves. Exec processes through their whole life, exec ids that do not
 * exist, 100 execs that must leave no fd behind, the exec cap, and the
 * terminal paths (Create and Exec with terminal, ResizePty).
 *
 * task_init makes a private mount namespace and Create mounts the share,
 * so the test needs root; without it every case is skipped, visibly.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "../husk.h"
#include "t.h"

/* sandbox.c's initramfs needs the agent; no VM boots here */
const unsigned char agent_bin[1], agent_end[1];

/* the fake agent: a process per (id, execid), exits when the test says */
typedef struct {
	char id[64], execid[64];
	int exited, removed;
	uint32_t status;
	TtrpcCall *waiters[4];
	int nwait;
	int terminal;
	uint32_t iport, oport, eport;
	char config[256];
} FProc;
static FProc procs[2000];
static int nprocs;
static char lastmethod[32];
static AgentReq lastreq;	/* of the last call, strings not kept */
static char lastexecid[64];
static int nresize, nsignal, nremove, ncloseio;

static FProc *
fproc(const char *id, const char *execid)
{
	int i;

	for (i = 0; i < nprocs; i++)
		if (!procs[i].removed && !strcmp(procs[i].id, id) &&
		    !strcmp(procs[i].execid, execid ? execid : ""))
			return &procs[i];
	return NULL;
}

static void
replypid(TtrpcCall *c, uint32_t pid, uint32_t status)
{
	AgentResp r = { 0 };
	Pb pb = { 0 };

	r.pid = pid;
	r.status = status;
	pb_agentresp(&pb, &r);
	ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
}

static void
fexit(FProc *p, uint32_t status)
{
	int i;

	if (p->exited)
		return;
	p->exited = 1;
	p->status = status;
	for (i = 0; i < p->nwait; i++)
		replypid(p->waiters[i], 42, status);
	p->nwait = 0;
}

/* the request, noted; its process, if it names one */
static FProc *
freq(TtrpcCall *c, const uint8_t *req, size_t n, const char *method)
{
	AgentReq r;
	FProc *p;

	snprintf(lastmethod, sizeof(lastmethod), "%s", method);
	if (pr_agentreq(req, n, &r) < 0) {
		ttrpc_reply(c, RPC_INVALID, "fake agent: malformed", NULL, 0);
		return NULL;
	}
	snprintf(lastexecid, sizeof(lastexecid), "%s", r.execid ? r.execid : "");
	lastreq = r;
	lastreq.id = lastreq.execid = lastreq.sandbox = lastreq.config = NULL;
	p = fproc(r.id, r.execid);
	if (!strcmp(method, "Create") || !strcmp(method, "Exec")) {
		if (p || nprocs == (int)LEN(procs)) {
			ttrpc_reply(c, RPC_EXISTS, "fake agent: exists", NULL, 0);
			p = NULL;
		} else {
			p = &procs[nprocs++];
			memset(p, 0, sizeof(*p));
			snprintf(p->id, sizeof(p->id), "%s", r.id);
			snprintf(p->execid, sizeof(p->execid), "%s",
			    r.execid ? r.execid : "");
			p->terminal = r.terminal;
			p->iport = r.iport;
			p->oport = r.oport;
			p->eport = r.eport;
			snprintf(p->config, sizeof(p->config), "%s",
			    r.config ? r.config : "");
		}
	} else if (!p) {
		ttrpc_reply(c, RPC_NOTFOUND, "fake agent: no such process", NULL, 0);
	}
	agentreq_free(&r);
	return p;
}

static void
acreate(TtrpcCall *c, const uint8_t *req, size_t n)
{
	if (freq(c, req, n, "Create"))
		replypid(c, 1, 0);
}

static void
aexec(TtrpcCall *c, const uint8_t *req, size_t n)
{
	if (freq(c, req, n, "Exec"))
		replypid(c, 100 + nprocs, 0);
}

static void
aok(TtrpcCall *c, const uint8_t *req, size_t n)
{
	if (freq(c, req, n, "Start"))
		replypid(c, 7, 0);
}

static void
asignal(TtrpcCall *c, const uint8_t *req, size_t n)
{
	FProc *p;

	if (!(p = freq(c, req, n, "Signal")))
		return;
	nsignal++;
	if (lastreq.signal == SIGKILL)
		fexit(p, 128 + SIGKILL);
	ttrpc_reply(c, RPC_OK, NULL, NULL, 0);
}

static void
await(TtrpcCall *c, const uint8_t *req, size_t n)
{
	FProc *p;

	if (!(p = freq(c, req, n, "Wait")))
		return;
	if (p->exited)
		replypid(c, 42, p->status);
	else if (p->nwait < (int)LEN(p->waiters))
		p->waiters[p->nwait++] = c;
	else
		ttrpc_reply(c, RPC_EXHAUSTED, "fake agent: waits", NULL, 0);
}

static void
aremove(TtrpcCall *c, const uint8_t *req, size_t n)
{
	FProc *p;
	int i;

	if (!(p = freq(c, req, n, "Remove")))
		return;
	nremove++;
	if (!p->exited) {
		ttrpc_reply(c, RPC_PRECONDITION, "fake agent: running", NULL, 0);
		return;
	}
	p->removed = 1;
	if (!p->execid[0])	/* the init: the container, its execs too */
		for (i = 0; i < nprocs; i++)
			if (!strcmp(procs[i].id, p->id)) {
				fexit(&procs[i], 137);
				procs[i].removed = 1;
			}
	ttrpc_reply(c, RPC_OK, NULL, NULL, 0);
}

static void
aresize(TtrpcCall *c, const uint8_t *req, size_t n)
{
	if (!freq(c, req, n, "ResizePty"))
		return;
	nresize++;
	ttrpc_reply(c, RPC_OK, NULL, NULL, 0);
}

static void
acloseio(TtrpcCall *c, const uint8_t *req, size_t n)
{
	if (!freq(c, req, n, "CloseIO"))
		return;
	ncloseio++;
	ttrpc_reply(c, RPC_OK, NULL, NULL, 0);
}

static const TtrpcMethod agentmethods[] = {
	/* service       method       handler */
	{ AGENT_SERVICE, "Create",    acreate },
	{ AGENT_SERVICE, "Exec",      aexec },
	{ AGENT_SERVICE, "Start",     aok },
	{ AGENT_SERVICE, "Signal",    asignal },
	{ AGENT_SERVICE, "Wait",      await },
	{ AGENT_SERVICE, "Remove",    aremove },
	{ AGENT_SERVICE, "ResizePty", aresize },
	{ AGENT_SERVICE, "CloseIO",   acloseio },
};

/* containerd's events service: the topics heard, with the event's id */
static char events[4096][96];
static int nevents;
static Watch evlisten;
static Ttrpc *evconn;

static void
forward(TtrpcCall *c, const uint8_t *req, size_t n)
{
	Pr r, e, a, ev;
	Pf f, g, h, k;
	char *topic = NULL, *id = NULL;
	int idfield;

	pr_init(&r, req, n);
	while (pr_next(&r, &f) > 0) {
		if (f.field != 1 || f.wt != PB_BYTES)
			continue;
		pr_init(&e, f.b, f.n);
		while (pr_next(&e, &g) > 0) {
			if (g.field == 3 && !topic)
				pf_str(&g, &topic);
			if (g.field != 4 || g.wt != PB_BYTES)
				continue;
			pr_init(&a, g.b, g.n);
			while (pr_next(&a, &h) > 0) {
				if (h.field != 2 || h.wt != PB_BYTES || !topic)
					continue;
				/* the exec id: TaskDelete's 5, the others' 2 */
				idfield = !strcmp(topic, "/tasks/delete") ? 5 : 2;
				pr_init(&ev, h.b, h.n);
				while (pr_next(&ev, &k) > 0)
					if (k.field == (uint32_t)idfield && k.wt ==
					    PB_BYTES && !id)
						pf_str(&k, &id);
			}
		}
	}
	if (nevents < (int)LEN(events))
		snprintf(events[nevents++], sizeof(events[0]), "%s %s",
		    topic ? topic : "?", id ? id : "");
	free(topic);
	free(id);
	ttrpc_reply(c, RPC_OK, NULL, NULL, 0);
}

static const TtrpcMethod evmethods[] = {
	{ "containerd.services.events.ttrpc.v1.Events", "Forward", forward },
};

static void
evclosed(Ttrpc *t, void *arg)
{
	(void)arg;
	ttrpc_close(t);
	if (evconn == t)
		evconn = NULL;
}

static void
evaccept(Watch *w, uint32_t ev)
{
	Ttrpc *t;
	int fd;

	(void)ev;
	if ((fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return;
	if (!(t = ttrpc_new(fd, evmethods, LEN(evmethods), NULL))) {
		close(fd);
		return;
	}
	ttrpc_onclose(t, evclosed);
	if (!evconn)
		evconn = t;
}

static int
hasevent(const char *s)
{
	int i, k = 0;

	for (i = 0; i < nevents; i++)
		k += !strcmp(events[i], s);
	return k;
}

/* containerd: calls to the Task service */
static Ttrpc *shim;
static char dir[] = "/tmp/husk-task-test.XXXXXX";

typedef struct {
	int done, code;
	char msg[256];
	uint8_t resp[512];
	size_t n;
} Res;

static void
calldone(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	Res *r = arg;

	r->done = 1;
	r->code = code;
	snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : "");
	r->n = MIN(n, sizeof(r->resp));
	if (n)
		memcpy(r->resp, resp, r->n);
}

static void
spin(int rounds)
{
	while (rounds-- > 0)
		loop_run(5);
}

/* a call, answered within a few loop rounds; *r holds the answer */
static int
call(const char *method, Pb *pb, Res *r)
{
	int i;

	memset(r, 0, sizeof(*r));
	r->code = -1;
	if (ttrpc_call(shim, TASK_SERVICE, method, pb->b, pb->n, 0, calldone, r) < 0) {
		pb_free(pb);
		return -1;
	}
	pb_free(pb);
	for (i = 0; i < 200 && !r->done; i++)
		loop_run(5);
	spin(5);	/* the events after the reply */
	return r->done ? r->code : -2;
}

/* a call that stays unanswered for now (Wait) */
static void
callheld(const char *method, Pb *pb, Res *r)
{
	memset(r, 0, sizeof(*r));
	r->code = -1;
	CHECK(ttrpc_call(shim, TASK_SERVICE, method, pb->b, pb->n, 0, calldone,
	    r) == 0);
	pb_free(pb);
	spin(5);
}

static int
idcall(const char *method, const char *id, const char *execid, Res *r)
{
	Pb pb = { 0 };

	pb_idreq(&pb, id, execid);
	return call(method, &pb, r);
}

static int
execcall(const char *id, const char *execid, int terminal, const char *fin,
    const char *fout, const char *spec, Res *r)
{
	Pb pb = { 0 };

	pb_str(&pb, 1, id);
	pb_str(&pb, 2, execid);
	pb_bool(&pb, 3, terminal);
	pb_str(&pb, 4, fin);
	pb_str(&pb, 5, fout);
	if (spec)
		pb_any(&pb, 7, TASK_URL_PROCESS, spec, strlen(spec));
	return call("Exec", &pb, r);
}

static int
resize(const char *id, const char *execid, uint32_t w, uint32_t h, Res *r)
{
	Pb pb = { 0 };

	pb_str(&pb, 1, id);
	pb_str(&pb, 2, execid);
	pb_uint(&pb, 3, w);
	pb_uint(&pb, 4, h);
	return call("ResizePty", &pb, r);
}

static int
kill_(const char *id, const char *execid, uint32_t sig, Res *r)
{
	Pb pb = { 0 };

	pb_killreq(&pb, id, execid, sig, 0);
	return call("Kill", &pb, r);
}

/* a field of a reply: varint field f, or -1 */
static long long
respfield(const Res *r, uint32_t field)
{
	Pr rd;
	Pf f;

	pr_init(&rd, r->resp, r->n);
	while (pr_next(&rd, &f) > 0)
		if (f.field == field && f.wt == PB_VARINT)
			return f.u;
	return -1;
}

/* a running task id, terminal or not */
static int
newtask(const char *id, int terminal)
{
	char bundle[256], path[300];
	Pb pb = { 0 };
	Res r;
	FILE *f;

	if (strlen(dir) + strlen(id) > 200)
		return -1;
	snprintf(bundle, sizeof(bundle), "%s/%s", dir, id);
	mkdir(bundle, 0755);
	snprintf(path, sizeof(path), "%s/rootfs", bundle);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	if (!(f = fopen(path, "w")))
		return -1;
	fprintf(f, "{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":%s,"
	    "\"args\":[\"sleep\",\"1000\"],\"cwd\":\"/\"},"
	    "\"root\":{\"path\":\"rootfs\"}}", terminal ? "true" : "false");
	fclose(f);
	pb_createreq(&pb, id, bundle, "", "", "");
	pb_bool(&pb, 4, terminal);	/* CreateTaskRequest.terminal */
	if (call("Create", &pb, &r) != RPC_OK) {
		printf("  create %s: %d %s\n", id, r.code, r.msg);
		return -1;
	}
	if (idcall("Start", id, NULL, &r) != RPC_OK) {
		printf("  start %s: %d %s\n", id, r.code, r.msg);
		return -1;
	}
	return 0;
}

/* kill and delete a task (the init's exit comes from the fake agent) */
static int
endtask(const char *id)
{
	Res r;

	if (kill_(id, NULL, SIGKILL, &r) != RPC_OK && r.code != RPC_NOTFOUND)
		return -1;
	spin(3);
	return idcall("Delete", id, NULL, &r) == RPC_OK ? 0 : -1;
}

static int
nfds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

#define SPEC	"{\"args\":[\"sh\",\"-c\",\"exit 3\"],\"cwd\":\"/\"}"

static void
exec_lifecycle(void)
{
	Res r, w, w2;
	FProc *p;
	Pb pb = { 0 };

	CHECK(newtask("life", 0) == 0);
	nevents = 0;
	CHECK(execcall("life", "e1", 0, "", "", SPEC, &r) == RPC_OK);
	CHECK(!strcmp(lastmethod, "Wait") || !strcmp(lastmethod, "Exec"));
	CHECK((p = fproc("life", "e1")) != NULL);
	if (p)
		CHECK(!strcmp(p->config, SPEC) && !p->terminal && !p->iport &&
		    !p->oport && !p->eport);
	CHECK(hasevent("/tasks/exec-added e1") == 1);
	CHECK(idcall("State", "life", "e1", &r) == RPC_OK);
	CHECK(respfield(&r, 4) == TSTATUS_CREATED);
	/* a Wait before the start holds until the exit */
	pb_idreq(&pb, "life", "e1");
	callheld("Wait", &pb, &w);
	CHECK(!w.done);
	CHECK(idcall("Start", "life", "e1", &r) == RPC_OK);
	CHECK(respfield(&r, 1) == getpid());
	CHECK(!strcmp(lastexecid, "e1"));
	CHECK(hasevent("/tasks/exec-started e1") == 1);
	CHECK(idcall("Start", "life", "e1", &r) == RPC_PRECONDITION);
	CHECK(idcall("State", "life", "e1", &r) == RPC_OK);
	CHECK(respfield(&r, 4) == TSTATUS_RUNNING);
	CHECK(idcall("Delete", "life", "e1", &r) == RPC_PRECONDITION);
	/* a signal reaches the agent with the exec id */
	CHECK(kill_("life", "e1", SIGTERM, &r) == RPC_OK);
	CHECK(!strcmp(lastmethod, "Signal") && !strcmp(lastexecid, "e1") &&
	    lastreq.signal == SIGTERM);
	CHECK(idcall("CloseIO", "life", "e1", &r) == RPC_OK);
	if (p)
		fexit(p, 3);
	spin(10);
	CHECK(w.done && w.code == RPC_OK);
	CHECK(respfield(&w, 1) == 3);
	CHECK(hasevent("/tasks/exit e1") == 1);
	CHECK(idcall("Wait", "life", "e1", &w2) == RPC_OK);
	CHECK(respfield(&w2, 1) == 3);
	CHECK(kill_("life", "e1", SIGTERM, &r) == RPC_NOTFOUND);
	CHECK(idcall("State", "life", "e1", &r) == RPC_OK);
	CHECK(respfield(&r, 4) == TSTATUS_STOPPED && respfield(&r, 9) == 3);
	CHECK(idcall("Delete", "life", "e1", &r) == RPC_OK);
	CHECK(respfield(&r, 2) == 3);
	CHECK(!strcmp(lastmethod, "Remove") && !strcmp(lastexecid, "e1"));
	CHECK(fproc("life", "e1") == NULL);
	CHECK(hasevent("/tasks/delete e1") == 1);
	CHECK(idcall("State", "life", "e1", &r) == RPC_NOTFOUND);
	/* the init is untouched: no TaskExit of the container */
	CHECK(hasevent("/tasks/exit life") == 0);
	CHECK(idcall("State", "life", NULL, &r) == RPC_OK);
	CHECK(respfield(&r, 4) == TSTATUS_RUNNING);
	CHECK(endtask("life") == 0);
}

static void
exec_notfound(void)
{
	static const char *methods[] = { "Start", "Wait", "Delete", "State", "CloseIO" };
	Res r;
	size_t i;

	CHECK(newtask("nf", 0) == 0);
	for (i = 0; i < LEN(methods); i++) {
		CHECK(idcall(methods[i], "nf", "nope", &r) == RPC_NOTFOUND);
		CHECK(strstr(r.msg, "nope") != NULL);
	}
	CHECK(kill_("nf", "nope", SIGKILL, &r) == RPC_NOTFOUND);
	CHECK(resize("nf", "nope", 80, 24, &r) == RPC_NOTFOUND);
	CHECK(resize("none", "", 80, 24, &r) == RPC_NOTFOUND);
	CHECK(execcall("none", "x", 0, "", "", SPEC, &r) == RPC_NOTFOUND);
	CHECK(execcall("nf", "../x", 0, "", "", SPEC, &r) == RPC_INVALID);
	CHECK(execcall("nf", "", 0, "", "", SPEC, &r) == RPC_INVALID);
	CHECK(execcall("nf", "nospec", 0, "", "", NULL, &r) == RPC_INVALID);
	CHECK(execcall("nf", "d", 0, "", "", SPEC, &r) == RPC_OK);
	CHECK(execcall("nf", "d", 0, "", "", SPEC, &r) == RPC_EXISTS);
	/* the task's own calls still work with an empty exec id */
	CHECK(idcall("State", "nf", "", &r) == RPC_OK);
	CHECK(respfield(&r, 4) == TSTATUS_RUNNING);
	CHECK(endtask("nf") == 0);
}

/* Exec, never Start, Delete: the agent ends it, then removes it */
static void
exec_created_delete(void)
{
	Res r;
	int s0 = nsignal, r0 = nremove;

	CHECK(newtask("cd", 0) == 0);
	CHECK(execcall("cd", "c1", 0, "", "", SPEC, &r) == RPC_OK);
	CHECK(idcall("Delete", "cd", "c1", &r) == RPC_OK);
	CHECK(nsignal == s0 + 1 && nremove == r0 + 1);
	CHECK(respfield(&r, 2) == 128 + SIGKILL);
	CHECK(fproc("cd", "c1") == NULL);
	CHECK(idcall("State", "cd", "c1", &r) == RPC_NOTFOUND);
	CHECK(endtask("cd") == 0);
}

/* 100 execs, and 20 whose FIFO cannot be a stream: no fd left */
static void
exec_hundred(void)
{
	char id[16], fifo[PATH_MAX];
	Res r;
	FProc *p;
	int i, fd0, ok = 0, bad = 0, live0 = 0, live1 = 0;

	CHECK(newtask("h", 0) == 0);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	CHECK(mkfifo(fifo, 0600) == 0);
	for (i = 0; i < nprocs; i++)
		live0 += !procs[i].removed;
	fd0 = nfds();
	for (i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "x%d", i);
		if (execcall("h", id, i & 1, "", "", SPEC, &r) != RPC_OK ||
		    idcall("Start", "h", id, &r) != RPC_OK || !(p = fproc("h", id)))
			continue;
		fexit(p, i % 5);
		spin(3);
		if (idcall("Wait", "h", id, &r) == RPC_OK &&
		    respfield(&r, 1) == (i % 5 ? i % 5 : -1) &&
		    idcall("Delete", "h", id, &r) == RPC_OK)
			ok++;
	}
	CHECK(ok == 100);
	/* sandbox_attach has no vsock: a FIFO cannot become a stream */
	for (i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "f%d", i);
		if (execcall("h", id, 0, fifo, fifo, SPEC, &r) == RPC_INVALID &&
		    strstr(r.msg, "stream"))
			bad++;
	}
	CHECK(bad == 20);
	CHECK(nfds() == fd0);
	for (i = 0; i < nprocs; i++)
		live1 += !procs[i].removed;
	CHECK(live1 == live0);
	CHECK(idcall("State", "h", "x5", &r) == RPC_NOTFOUND);
	unlink(fifo);
	CHECK(endtask("h") == 0);
}

/*
 * 960 execs running in the sandbox (each holds an agent Wait; the
 * agent's ttrpc holds 1024 calls), 1024 in one task
 */
static void
exec_cap(void)
{
	char id[16];
	Res r;
	FProc *p;
	int i, ok = 0;

	CHECK(newtask("cap", 0) == 0);
	for (i = 0; i < 960; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		ok += execcall("cap", id, 0, "", "", SPEC, &r) == RPC_OK;
	}
	CHECK(ok == 960);
	CHECK(execcall("cap", "more", 0, "", "", SPEC, &r) == RPC_EXHAUSTED);
	CHECK(strstr(r.msg, "960") != NULL);
	for (i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		if ((p = fproc("cap", id)))
			fexit(p, 0);
	}
	spin(10);
	for (i = 960; i < 1024; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		ok += execcall("cap", id, 0, "", "", SPEC, &r) == RPC_OK;
	}
	CHECK(ok == 1024);
	CHECK(execcall("cap", "more", 0, "", "", SPEC, &r) == RPC_EXHAUSTED);
	CHECK(strstr(r.msg, "1024") != NULL);
	CHECK(endtask("cap") == 0);
}

/* the task ends, is deleted: its execs' waiters hear, nothing stays */
static void
task_delete_execs(void)
{
	Res r, w;
	Pb pb = { 0 };
	FProc *p;

	CHECK(newtask("td", 0) == 0);
	CHECK(execcall("td", "a", 0, "", "", SPEC, &r) == RPC_OK);
	CHECK(idcall("Start", "td", "a", &r) == RPC_OK);
	pb_idreq(&pb, "td", "a");
	callheld("Wait", &pb, &w);
	CHECK(kill_("td", NULL, SIGKILL, &r) == RPC_OK);
	spin(5);
	CHECK(hasevent("/tasks/exit td") == 1);
	CHECK(idcall("Delete", "td", NULL, &r) == RPC_OK);
	spin(5);
	CHECK(w.done);
	CHECK(idcall("State", "td", NULL, &r) == RPC_NOTFOUND);
	CHECK(execcall("td", "b", 0, "", "", SPEC, &r) == RPC_NOTFOUND);
	/* an exec of a task that is not running is refused */
	CHECK(newtask("td2", 0) == 0);
	p = fproc("td2", "");
	if (p)
		fexit(p, 0);
	spin(5);
	CHECK(execcall("td2", "late", 0, "", "", SPEC, &r) == RPC_PRECONDITION);
	CHECK(endtask("td2") == 0);
}

static void
terminal(void)
{
	Res r;
	FProc *p;
	int n0;

	CHECK(newtask("tty", 1) == 0);
	CHECK((p = fproc("tty", "")) != NULL);
	if (p)
		CHECK(p->terminal == 1);
	CHECK(idcall("State", "tty", NULL, &r) == RPC_OK);
	CHECK(respfield(&r, 8) == 1);
	n0 = nresize;
	CHECK(resize("tty", "", 132, 40, &r) == RPC_OK);
	CHECK(nresize == n0 + 1 && lastreq.width == 132 && lastreq.height == 40 &&
	    !lastexecid[0]);
	CHECK(execcall("tty", "t1", 1, "", "", SPEC, &r) == RPC_OK);
	CHECK((p = fproc("tty", "t1")) != NULL);
	if (p)
		CHECK(p->terminal == 1 && p->eport == 0);
	CHECK(idcall("State", "tty", "t1", &r) == RPC_OK);
	CHECK(respfield(&r, 8) == 1);
	CHECK(resize("tty", "t1", 100, 30, &r) == RPC_OK);
	CHECK(nresize == n0 + 2 && lastreq.width == 100 && lastreq.height == 30 &&
	    !strcmp(lastexecid, "t1"));
	/* no terminal: nothing to size, and no error (runc's answer) */
	CHECK(execcall("tty", "t2", 0, "", "", SPEC, &r) == RPC_OK);
	CHECK(resize("tty", "t2", 100, 30, &r) == RPC_OK);
	CHECK(nresize == n0 + 2);
	CHECK(endtask("tty") == 0);
	CHECK(newtask("plain", 0) == 0);
	CHECK(resize("plain", "", 100, 30, &r) == RPC_OK);
	CHECK(nresize == n0 + 2);
	CHECK(endtask("plain") == 0);
}

int
main(void)
{
	struct sockaddr_un sa;
	SandboxConfig vm;
	Sandbox *sb;
	Ttrpc *agent, *server;
	int sv[2], cv[2];
	char evaddr[PATH_MAX];

	if (geteuid() != 0) {
		printf("SKIP task_test: needs root (a mount namespace, the share)\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	loglevel = LERR;
	if (!mkdtemp(dir) || loop_init() < 0)
		return 1;
	snprintf(evaddr, sizeof(evaddr), "unix://%s/events.sock", dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/events.sock", dir);
	evlisten.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	evlisten.fn = evaccept;
	if (evlisten.fd < 0 || bind(evlisten.fd, (struct sockaddr *)&sa,
	    sizeof(sa)) < 0 || listen(evlisten.fd, 8) < 0 ||
	    loop_add(&evlisten, 1 /* EPOLLIN */) < 0)
		return 1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cv) < 0)
		return 1;
	sb = sandbox_new();
	if (sandbox_attach(sb, sv[0]) < 0 ||
	    !(agent = ttrpc_new(sv[1], agentmethods, LEN(agentmethods), NULL)))
		return 1;
	sandbox_defaults(&vm);
	vm.kernel = "/dev/null";	/* readable: Create's check passes */
	task_init(sb, &vm, "t", evaddr);
	if (!(server = ttrpc_new(cv[0], task_methods, task_nmethods, NULL)) ||
	    !(shim = ttrpc_new(cv[1], NULL, 0, NULL)))
		return 1;
	RUN(exec_lifecycle);
	RUN(exec_notfound);
	RUN(exec_created_delete);
	RUN(exec_hundred);
	RUN(exec_cap);
	RUN(task_delete_execs);
	RUN(terminal);
	/* everything closed: the sanitizer's leak check sees only task.c */
	ttrpc_close(shim);
	ttrpc_close(server);
	ttrpc_close(agent);
	if (evconn)
		ttrpc_close(evconn);
	sandbox_free(sb);
	loop_run(0);
	if (!strncmp(dir, "/tmp/husk-task-test.", 20)) {
		snprintf(evaddr, sizeof(evaddr), "rm -rf %s", dir);
		if (system(evaddr) != 0)
			printf("  cannot remove %s\n", dir);
	}
	return TDONE();
}
