/* See LICENSE file for copyright and license details. */
/*
 * task.c's Task service without a VM, in the world test/fakeagent.h
 * makes (root only, as it says), with this file's fake agent: it answers
 * at once and keeps a process per (id, execid), which exits when a case
 * says. Exec processes through their whole life, exec ids that do not
 * exist, 100 execs that must leave no fd behind, the exec cap, and the
 * terminal paths (Create and Exec with terminal, ResizePty).
 */
#include <dirent.h>

#include "../husk.h"
#include "t.h"
#include "fakeagent.h"

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
	agentanswer(c, &(AgentResp){ .pid = pid, .status = status });
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

/* a running task id, terminal or not */
static int
newtask(const char *id, int terminal)
{
	Pb pb = { 0 };
	Res r;

	if (createreq(&pb, id, terminal) < 0)
		return -1;
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

	CHECK(newtask("life", 0) == 0);
	nev = 0;
	CHECK(execcall("life", "e1", 0, "", "", SPEC, &r) == RPC_OK);
	CHECK(!strcmp(lastmethod, "Wait") || !strcmp(lastmethod, "Exec"));
	CHECK((p = fproc("life", "e1")) != NULL);
	if (p)
		CHECK(!strcmp(p->config, SPEC) && !p->terminal && !p->iport &&
		    !p->oport && !p->eport);
	CHECK(events("/tasks/exec-added", "life", "e1") == 1);
	CHECK(idcall("State", "life", "e1", &r) == RPC_OK);
	CHECK(respnum(&r, 4) == TSTATUS_CREATED);
	/* a Wait before the start holds until the exit */
	CHECK(idsend("Wait", "life", "e1", &w) == 0);
	spin(5);
	CHECK(!w.done);
	CHECK(idcall("Start", "life", "e1", &r) == RPC_OK);
	CHECK(respnum(&r, 1) == getpid());
	CHECK(!strcmp(lastexecid, "e1"));
	CHECK(events("/tasks/exec-started", "life", "e1") == 1);
	CHECK(idcall("Start", "life", "e1", &r) == RPC_PRECONDITION);
	CHECK(idcall("State", "life", "e1", &r) == RPC_OK);
	CHECK(respnum(&r, 4) == TSTATUS_RUNNING);
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
	CHECK(respnum(&w, 1) == 3);
	CHECK(events("/tasks/exit", "life", "e1") == 1);
	CHECK(idcall("Wait", "life", "e1", &w2) == RPC_OK);
	CHECK(respnum(&w2, 1) == 3);
	CHECK(kill_("life", "e1", SIGTERM, &r) == RPC_NOTFOUND);
	CHECK(idcall("State", "life", "e1", &r) == RPC_OK);
	CHECK(respnum(&r, 4) == TSTATUS_STOPPED && respnum(&r, 9) == 3);
	CHECK(idcall("Delete", "life", "e1", &r) == RPC_OK);
	CHECK(respnum(&r, 2) == 3);
	CHECK(!strcmp(lastmethod, "Remove") && !strcmp(lastexecid, "e1"));
	CHECK(fproc("life", "e1") == NULL);
	CHECK(events("/tasks/delete", "life", "e1") == 1);
	CHECK(idcall("State", "life", "e1", &r) == RPC_NOTFOUND);
	/* the init is untouched: no TaskExit of the container */
	CHECK(events("/tasks/exit", "life", "life") == 0);
	CHECK(idcall("State", "life", NULL, &r) == RPC_OK);
	CHECK(respnum(&r, 4) == TSTATUS_RUNNING);
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
	CHECK(respnum(&r, 4) == TSTATUS_RUNNING);
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
	CHECK(respnum(&r, 2) == 128 + SIGKILL);
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
		    respnum(&r, 1) == (i % 5 ? i % 5 : -1) &&
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
	FProc *p;

	CHECK(newtask("td", 0) == 0);
	CHECK(execcall("td", "a", 0, "", "", SPEC, &r) == RPC_OK);
	CHECK(idcall("Start", "td", "a", &r) == RPC_OK);
	CHECK(idsend("Wait", "td", "a", &w) == 0);
	spin(5);
	CHECK(kill_("td", NULL, SIGKILL, &r) == RPC_OK);
	spin(5);
	CHECK(events("/tasks/exit", "td", "td") == 1);
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
	CHECK(respnum(&r, 8) == 1);
	n0 = nresize;
	CHECK(resize("tty", "", 132, 40, &r) == RPC_OK);
	CHECK(nresize == n0 + 1 && lastreq.width == 132 && lastreq.height == 40 &&
	    !lastexecid[0]);
	CHECK(execcall("tty", "t1", 1, "", "", SPEC, &r) == RPC_OK);
	CHECK((p = fproc("tty", "t1")) != NULL);
	if (p)
		CHECK(p->terminal == 1 && p->eport == 0);
	CHECK(idcall("State", "tty", "t1", &r) == RPC_OK);
	CHECK(respnum(&r, 8) == 1);
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
	if (geteuid() != 0) {
		printf("SKIP task_test: needs root (a mount namespace, the share)\n");
		return 0;
	}
	if (fakestart("task-test", agentmethods, LEN(agentmethods)) < 0)
		return 1;
	RUN(exec_lifecycle);
	RUN(exec_notfound);
	RUN(exec_created_delete);
	RUN(exec_hundred);
	RUN(exec_cap);
	RUN(task_delete_execs);
	RUN(terminal);
	fakestop();
	return TDONE();
}
