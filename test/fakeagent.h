/* See LICENSE file for copyright and license details. */
/*
 * The world the tests of task.c (task_test, taskstat_test) drive its Task
 * service in, without a VM: one copy, so the two tests cannot drift
 * apart in how they fake what surrounds task.c. Each test brings its own
 * fake agent (the methods it serves); the rest is here.
 *
 * fakestart(name, methods, n) makes a directory /tmp/husk-<name>.XXXXXX
 * (dir), a sandbox attached to the test's agent methods on a socketpair
 * (sandbox_attach; the test's end is agent), containerd's events service
 * on dir/events.sock (TTRPC_ADDRESS), task_init, and the Task service on
 * another socketpair whose client end, cli, plays containerd.
 * fakestop() closes them all and removes dir, so the sanitizer's leak
 * check sees only task.c.
 *
 * The events service keeps what each Forward said (evs): topic, the
 * container id, and the process's id (an exec's id, or the container's
 * for its init; TaskDelete's field 5, the others' field 2); events()
 * counts them. callsend() sends a Task call whose answer lands in a Res;
 * callwait() runs the loop until it does, and a few rounds more for the
 * events after it; call() is both, idsend() and idcall() the same for a
 * request naming a process; respnum() reads a varint of the answer.
 *
 * task_init makes a private mount namespace and Create mounts the share,
 * so these tests need root: main() says SKIP without it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

/* sandbox.c's initramfs holds the agent; no VM boots here */
const unsigned char agent_bin[1], agent_end[1];

static char dir[64];	/* the test's files: bundles, events socket */
static char evaddr[128];	/* TTRPC_ADDRESS: task.c keeps the pointer */
static Sandbox *sb;
static Ttrpc *agent;		/* the fake agent's end of the link */
static Ttrpc *srv, *cli;	/* the Task service, containerd's client */

/* containerd's events service: what it was sent */
static struct {
	char topic[32], cid[64], id[64];
} evs[4096];
static int nev;
static Watch evlisten = { -1, NULL, NULL, 0 };
static Ttrpc *evconn;		/* task.c's connection, once made */

/* the first field numbered num of a message, 1; 0 when there is none */
static int
field(const uint8_t *p, size_t n, uint32_t num, Pf *out)
{
	Pr rd;
	int st;

	pr_init(&rd, p, n);
	while ((st = pr_next(&rd, out)) > 0 && out->field != num)
		;
	return st > 0;
}

/* a string field into dst, "" when it is not one */
static void
copystr(char *dst, size_t size, const Pf *f)
{
	size_t n = f->wt == PB_BYTES ? MIN(f->n, size - 1) : 0;

	if (n)
		memcpy(dst, f->b, n);
	dst[n] = '\0';
}

/* ForwardRequest {envelope 1 {topic 3, event 4 (Any {value 2})}} */
static void
forward(TtrpcCall *c, const uint8_t *req, size_t n)
{
	Pf env, f, any, ev;
	int idfield;

	if (nev < (int)LEN(evs) && field(req, n, 1, &env)) {
		memset(&evs[nev], 0, sizeof(evs[nev]));
		if (field(env.b, env.n, 3, &f))
			copystr(evs[nev].topic, sizeof(evs[nev].topic), &f);
		idfield = strcmp(evs[nev].topic, "/tasks/delete") ? 2 : 5;
		if (field(env.b, env.n, 4, &any) && field(any.b, any.n, 2, &ev)) {
			if (field(ev.b, ev.n, 1, &f))
				copystr(evs[nev].cid, sizeof(evs[nev].cid), &f);
			if (field(ev.b, ev.n, idfield, &f))
				copystr(evs[nev].id, sizeof(evs[nev].id), &f);
		}
		nev++;
	}
	ttrpc_reply(c, RPC_OK, NULL, NULL, 0);
}

static const TtrpcMethod evmethods[] = {
	{ "containerd.services.events.ttrpc.v1.Events", "Forward", forward },
};

static void
evclose(Ttrpc *t, void *arg)
{
	(void)arg;
	if (evconn == t)
		evconn = NULL;
	ttrpc_close(t);
}

/* one connection at a time, as task.c makes */
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

/* the events of topic about container cid and process id (NULL: any) */
static int
events(const char *topic, const char *cid, const char *id)
{
	int i, k = 0;

	for (i = 0; i < nev; i++)
		k += !strcmp(evs[i].topic, topic) && (!cid ||
		    !strcmp(evs[i].cid, cid)) && (!id || !strcmp(evs[i].id, id));
	return k;
}

/* rounds of the loop */
static void
spin(int rounds)
{
	while (rounds-- > 0)
		loop_run(5);
}

/* the loop until *cond reaches want, at most about ms; 1 if it did */
static int
spinuntil(const int *cond, int want, int ms)
{
	int i;

	for (i = 0; i < ms / 5 && *cond < want; i++)
		loop_run(5);
	return *cond >= want;
}

/* containerd's side: one Task call's answer */
typedef struct {
	int done, code;
	char msg[256];
	uint8_t resp[4096];
	size_t n;
} Res;

static void
calldone(void *arg, int code, const char *msg, const uint8_t *resp, size_t n)
{
	Res *r = arg;

	r->done++;
	r->code = code;
	snprintf(r->msg, sizeof(r->msg), "%s", msg ? msg : "");
	r->n = MIN(n, sizeof(r->resp));
	if (r->n)
		memcpy(r->resp, resp, r->n);
}

/* a Task call with request pb (freed); r gets the answer */
static int
callsend(const char *method, Pb *pb, Res *r)
{
	int st;

	memset(r, 0, sizeof(*r));
	r->code = -1;
	st = ttrpc_call(cli, TASK_SERVICE, method, pb->b, pb->n, 0, calldone, r);
	pb_free(pb);
	return st;
}

/* r's answer: its code, -2 when none came */
static int
callwait(Res *r)
{
	spinuntil(&r->done, 1, 2000);
	spin(5);	/* the events after the answer */
	return r->done ? r->code : -2;
}

/* a Task call, answered: its code, or -1 when it could not be sent */
static int
call(const char *method, Pb *pb, Res *r)
{
	return callsend(method, pb, r) < 0 ? -1 : callwait(r);
}

/* a call naming a process, sent; and one answered */
static int
idsend(const char *method, const char *id, const char *execid, Res *r)
{
	Pb pb = { 0 };

	pb_idreq(&pb, id, execid);
	return callsend(method, &pb, r);
}

static int
idcall(const char *method, const char *id, const char *execid, Res *r)
{
	Pb pb = { 0 };

	pb_idreq(&pb, id, execid);
	return call(method, &pb, r);
}

/* varint field num of r's answer, or -1 */
static long long
respnum(const Res *r, uint32_t num)
{
	Pf f;

	return field(r->resp, r->n, num, &f) && f.wt == PB_VARINT ? (long long)f.u : -1;
}

/* a fake agent method's answer */
static void
agentanswer(TtrpcCall *c, const AgentResp *ar)
{
	Pb pb = { 0 };

	pb_agentresp(&pb, ar);
	ttrpc_reply(c, RPC_OK, NULL, pb.b, pb.n);
	pb_free(&pb);
}

/* a bundle dir/<id> whose container runs sleep; its CreateTaskRequest */
static int
createreq(Pb *pb, const char *id, int terminal)
{
	char bundle[PATH_MAX], path[PATH_MAX + 16];
	FILE *f;

	if (strlen(dir) + strlen(id) > 200)
		return -1;
	snprintf(bundle, sizeof(bundle), "%s/%s", dir, id);
	snprintf(path, sizeof(path), "%s/rootfs", bundle);
	if ((mkdir(bundle, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(path, 0755) < 0 && errno != EEXIST))
		return -1;
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	if (!(f = fopen(path, "w")))
		return -1;
	fprintf(f, "{\"ociVersion\": \"1.0.2\", \"process\": {\"terminal\": %s, "
	    "\"args\": [\"sleep\", \"1000\"], \"cwd\": \"/\"}, "
	    "\"root\": {\"path\": \"rootfs\"}}", terminal ? "true" : "false");
	if (fclose(f))
		return -1;
	pb_createreq(pb, id, bundle, "", "", "");
	pb_bool(pb, 4, terminal);	/* CreateTaskRequest.terminal */
	return 0;
}

/* the world above, around the test's agent methods; 0 when it stands */
static int
fakestart(const char *name, const TtrpcMethod *methods, size_t nmethods)
{
	struct sockaddr_un sa;
	SandboxConfig vm;
	int sv[2], cv[2];

	signal(SIGPIPE, SIG_IGN);
	loglevel = getenv("HUSK_TEST_DEBUG") ? LDEBUG : LERR;
	snprintf(dir, sizeof(dir), "/tmp/husk-%s.XXXXXX", name);
	if (!mkdtemp(dir) || loop_init() < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/events.sock", dir);
	snprintf(evaddr, sizeof(evaddr), "unix://%s", sa.sun_path);
	evlisten.fn = evaccept;
	if ((evlisten.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0 || bind(evlisten.fd, (struct sockaddr *)&sa,
	    sizeof(sa)) < 0 || listen(evlisten.fd, 8) < 0 ||
	    loop_add(&evlisten, EPOLLIN) < 0)
		return -1;
	sb = sandbox_new();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    sandbox_attach(sb, sv[0]) < 0 ||
	    !(agent = ttrpc_new(sv[1], methods, nmethods, NULL)))
		return -1;
	sandbox_defaults(&vm);
	vm.kernel = "/dev/null";	/* readable: Create's check passes */
	task_init(sb, &vm, "test", evaddr);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cv) < 0 ||
	    !(srv = ttrpc_new(cv[0], task_methods, task_nmethods, NULL)) ||
	    !(cli = ttrpc_new(cv[1], NULL, 0, NULL)))
		return -1;
	return 0;
}

static void
fakestop(void)
{
	char cmd[PATH_MAX + 16];

	ttrpc_close(cli);
	ttrpc_close(srv);
	if (agent)
		ttrpc_close(agent);
	if (evconn)
		ttrpc_close(evconn);
	sandbox_free(sb);
	loop_run(0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (strncmp(dir, "/tmp/husk-", 10) || system(cmd) != 0)
		printf("  left %s behind\n", dir);
}
