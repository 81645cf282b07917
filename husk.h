/* See LICENSE file for copyright and license details. */
/*
 * Shared declarations. Each section belongs to one .c file; read the
 * file's top comment for how its part works.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <pthread.h>

#define LEN(a)		(sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))
#define ERRLEN		256	/* size of the error buffers functions fill */

enum { LERR, LWARN, LINFO, LDEBUG };	/* log levels */

/* util.c */
extern const char *argv0;
extern int loglevel;
void die(const char *fmt, ...);
void warn(const char *fmt, ...);
void logmsg(int level, const char *fmt, ...);
void seterr(char *err, const char *fmt, ...);	/* ERRLEN bytes; ':' at end appends strerror */
void *emalloc(size_t n);
void *ecalloc(size_t n, size_t size);
void *erealloc(void *p, size_t n);
char *estrdup(const char *s);
ssize_t readall(int fd, void *buf, size_t n);	/* until n, EOF or error */
ssize_t writeall(int fd, const void *buf, size_t n);
int setnonblock(int fd, int on);
uint64_t nowns(void);				/* CLOCK_MONOTONIC */
int validid(const char *id);
int mkparents(char *path, mode_t mode);
/* mount(8) options: the flags, and the rest joined as the data string */
void mountopts(char **opts, unsigned long *flags, char *data, size_t n);
/*
 * Messages the guest (or a container) can trigger go through glog: at most
 * LOG_BURST per call site in LOG_WINDOW_NS, the rest counted and reported
 * once the window reopens; thread-safe. Text that came from the guest is
 * passed through escape() first: printable ASCII stays, the rest is \xNN.
 */
#define LOG_BURST	10
#define LOG_WINDOW_NS	(10 * 1000000000ull)
typedef struct {
	uint64_t start;		/* the window's start, ns */
	unsigned n;		/* messages in this window */
	unsigned long dropped;	/* messages not written since the last one */
} Ratelimit;
unsigned long ratelimit(Ratelimit *rl);	/* 0: drop; else 1 + the count dropped before */
#define glog(level, ...) do { \
	static Ratelimit glog_rl; \
	unsigned long glog_n; \
	if ((level) <= loglevel && (glog_n = ratelimit(&glog_rl))) { \
		if (glog_n > 1) \
			logmsg(level, "(%lu like the next one not logged)", glog_n - 1); \
		logmsg(level, __VA_ARGS__); \
	} \
} while (0)
char *escape(char *dst, size_t n, const void *src, size_t len);	/* returns dst, always terminated */

/*
 * The epoll loop (util.c): one per process, run by one thread. A Watch is
 * owned by its caller; fn runs with the epoll events. A watch deleted in a
 * callback may still be named later in the same batch, so loop_del marks
 * it and memory is released through loop_defer, which runs after the batch.
 */
typedef struct Watch Watch;
struct Watch {
	int fd;
	void (*fn)(Watch *w, uint32_t events);
	void *arg;
	int dead;
};
int loop_init(void);
int loop_add(Watch *w, uint32_t events);
int loop_mod(Watch *w, uint32_t events);
void loop_del(Watch *w);
int loop_set(Watch *w, uint32_t *cur, uint32_t want);	/* add, mod or del as needed */
void loop_defer(void (*fn)(void *), void *arg);
int loop_timer(Watch *w, uint64_t ns);	/* one-shot timerfd; creates w->fd if < 0; 0 disarms */
int loop_run(int timeout_ms);		/* one batch; -1 on error */

/* guest memory, reached only through gm_ptr (util.c) */
typedef struct {
	uint8_t *base;
	uint64_t size;
} GuestMem;
void *gm_ptr(const GuestMem *gm, uint64_t gpa, uint64_t len);	/* NULL if outside */

/*
 * proto.c: protobuf wire format. Pb is a growable encoder; Pr reads one
 * buffer field by field. Encoders never fail (they die on out of memory);
 * decoders return -1 on malformed input and never read outside [p, end).
 */
enum { PB_VARINT = 0, PB_FIXED64 = 1, PB_BYTES = 2, PB_FIXED32 = 5 };
typedef struct {
	uint8_t *b;
	size_t n, cap;
} Pb;
typedef struct {
	const uint8_t *p, *end;
} Pr;
typedef struct {
	uint32_t field;
	int wt;			/* wire type */
	uint64_t u;		/* VARINT, FIXED64, FIXED32 */
	const uint8_t *b;	/* BYTES */
	size_t n;
} Pf;
void pb_free(Pb *pb);
void pb_raw(Pb *pb, const void *p, size_t n);
void pb_varint(Pb *pb, uint64_t v);
void pb_key(Pb *pb, uint32_t field, int wt);
void pb_uint(Pb *pb, uint32_t field, uint64_t v);	/* omitted when 0 (proto3) */
void pb_sint(Pb *pb, uint32_t field, int64_t v);	/* zigzag (sint32/64) */
void pb_bool(Pb *pb, uint32_t field, int v);
void pb_fixed32(Pb *pb, uint32_t field, uint32_t v);
void pb_fixed64(Pb *pb, uint32_t field, uint64_t v);
void pb_bytes(Pb *pb, uint32_t field, const void *p, size_t n);	/* omitted when n == 0 */
void pb_str(Pb *pb, uint32_t field, const char *s);	/* omitted when NULL or "" */
size_t pb_open(Pb *pb, uint32_t field);		/* nested message: returns a mark */
void pb_close(Pb *pb, size_t mark);
void pb_map_str(Pb *pb, uint32_t field, const char *k, const char *v);	/* map<string,string> entry */
void pr_init(Pr *r, const void *p, size_t n);
int pr_next(Pr *r, Pf *f);			/* 1 field, 0 end, -1 malformed */
int pf_str(const Pf *f, char **s);		/* BYTES to a new NUL-terminated string; -1 on wrong type or NUL inside */
int pf_map_str(const Pf *f, char **k, char **v);	/* one map<string,string> entry */

/*
 * json.c: the OCI runtime config (config.json), read strictly: malformed
 * JSON, a known field of the wrong type, or input past OCI_MAXJSON is an
 * error with a message. Unknown fields are skipped (the spec grows).
 * Lists of strings are NULL-terminated arrays.
 */
#define OCI_MAXJSON	(1 << 20)
typedef struct {
	char *dest, *type, *source;	/* type and source may be NULL */
	char **options;
} OciMount;
typedef struct {
	int resource;			/* RLIMIT_* */
	uint64_t soft, hard;
} OciRlimit;
typedef struct {
	char *type, *path;		/* "pid", "mount", ...; path NULL if none */
} OciNs;
typedef struct {
	uint32_t ctr, host, size;	/* containerID, hostID, size */
} OciIdMap;
/* linux.seccomp: syscall names stay names; the agent maps them (sc_nr) */
typedef struct {
	unsigned index;			/* argument 0..5 */
	int op;				/* SC_* of the seccomp.c section */
	uint64_t value, value2;
} OciScArg;
typedef struct {
	char **names;
	uint32_t action;		/* SECCOMP_RET_*, errno or trace data included */
	OciScArg *args;
	size_t nargs;
} OciSyscall;
enum { OCI_ARCH_X86_64 = 1, OCI_ARCH_X86 = 2, OCI_ARCH_X32 = 4, OCI_ARCH_OTHER = 8 };
enum { OCI_SCF_TSYNC = 1, OCI_SCF_LOG = 2, OCI_SCF_SPEC_ALLOW = 4,
	OCI_SCF_WAIT_KILLABLE_RECV = 8 };
typedef struct {
	uint32_t defaction;		/* SECCOMP_RET_* */
	unsigned archs;			/* OCI_ARCH_*; 0 when none are listed */
	unsigned flags;			/* OCI_SCF_* */
	OciSyscall *sys;
	size_t nsys;
} OciSeccomp;
typedef struct {
	/* process */
	int hasprocess;
	char **args, **env;		/* never NULL: empty lists when absent */
	char *cwd;			/* "/" when absent */
	uint32_t uid, gid, umask;
	int hasumask;
	uint32_t *gids;			/* additionalGids */
	size_t ngids;
	int terminal, nonewprivs;
	/* process.capabilities: bit n is capability n; unknown names are
	 * left out and listed, as runc warns and goes on */
	int hascaps;
	uint64_t capbnd, capeff, capprm, capinh, capamb;
	char **capunknown;		/* never NULL */
	OciRlimit *rlimits;
	size_t nrlimits;
	/* root, hostname, mounts */
	char *rootpath;			/* NULL if absent */
	int rootro;
	char *hostname;			/* NULL if absent */
	OciMount *mounts;
	size_t nmounts;
	/* linux */
	OciNs *ns;
	size_t nns;
	int userns, cgroupns;		/* new user, cgroup namespaces asked for */
	OciIdMap *uidmap, *gidmap;	/* linux.uidMappings, gidMappings */
	size_t nuidmap, ngidmap;
	OciSeccomp *seccomp;		/* NULL: none */
	char **masked, **readonly;	/* maskedPaths, readonlyPaths; never NULL */
	char **sysctlkeys, **sysctlvals;	/* linux.sysctl, nsysctl of each */
	size_t nsysctl;
	/* linux.resources: resset says which fields were given; a limit
	 * of -1 is none or unlimited ("max" when given) */
	unsigned resset;		/* OCI_R* */
	int64_t memlimit;		/* memory.limit; -1 none */
	int64_t memreserve;		/* memory.reservation; -1 none */
	int64_t memswap;		/* memory.swap (memory + swap); -1 none */
	uint64_t cpushares;		/* 0 none */
	int64_t cpuquota;		/* -1 none */
	uint64_t cpuperiod;		/* 0 none */
	char *cpus, *mems;		/* cpu.cpus, cpu.mems; NULL none */
	int64_t pidslimit;		/* -1 none */
	uint32_t blkioweight;		/* blockIO.weight, 10..1000; 0 none */
	char **annokeys, **annovals;	/* annotations, nanno of each */
	size_t nanno;
} OciSpec;
enum { OCI_RMEM = 1, OCI_RMEMRES = 2, OCI_RSWAP = 4, OCI_RSHARES = 8,
	OCI_RQUOTA = 16, OCI_RPERIOD = 32, OCI_RCPUS = 64, OCI_RMEMS = 128,
	OCI_RPIDS = 256, OCI_RBLKIO = 512 };
int oci_parse(OciSpec *s, const char *buf, size_t n, char *err);	/* 0, or -1 and err */
/* one section alone, into the OciSpec fields it fills (the rest default):
 * a "process" object (what an exec runs), a "linux.resources" object */
int oci_parse_process(OciSpec *s, const char *buf, size_t n, char *err);
int oci_parse_resources(OciSpec *s, const char *buf, size_t n, char *err);
void oci_free(OciSpec *s);
const char *oci_annotation(const OciSpec *s, const char *key);	/* NULL if absent */
const char *oci_netns(const OciSpec *s);	/* a network namespace's path, NULL if none */
/*
 * The CRI plugin's annotations: a pod is one sandbox container (pause)
 * and the containers that name it; one husk process and VM serves them.
 */
#define CRI_TYPE	"io.kubernetes.cri.container-type"	/* "sandbox", "container" */
#define CRI_SANDBOXID	"io.kubernetes.cri.sandbox-id"
#define CRI_SBMEMORY	"io.kubernetes.cri.sandbox-memory"	/* bytes (containerd 1.7) */
#define CRI_SBQUOTA	"io.kubernetes.cri.sandbox-cpu-quota"	/* us per period */
#define CRI_SBPERIOD	"io.kubernetes.cri.sandbox-cpu-period"	/* us */
/* the pod a container belongs to: its sandbox's id, or NULL (no pod, or it is the sandbox) */
const char *cri_sandbox(const OciSpec *s);

/* the agent API (husk.agent.v1.Agent), shared by the shim and agent/ */
#define AGENT_SERVICE	"husk.agent.v1.Agent"
#define AGENT_PORT	1024	/* vsock port the agent serves on */
typedef struct {
	char version[64];
	uint32_t cpus;		/* online CPUs */
	uint64_t memtotal;	/* bytes, MemTotal */
	uint64_t memfree;	/* bytes, MemAvailable */
	uint64_t uptimens;	/* guest CLOCK_BOOTTIME */
} AgentHealth;
void pb_health(Pb *pb, const AgentHealth *h);
int pr_health(const uint8_t *p, size_t n, AgentHealth *h);
/*
 * Every agent request is an AgentReq; each method reads what it needs.
 * A process is named by id (the container) and execid ("" or NULL: the
 * container's init; else an exec process in that container).
 *   Create	id, config (config.json), sandbox, stdio ports, terminal
 *   Exec	id, execid, config (the OCI "process" object as JSON, what
 *		containerd's ExecProcessRequest.spec holds), stdio ports,
 *		terminal; the process is made but waits for Start
 *   Start	id, execid
 *   Signal	id, execid, signal, all (every process of the container)
 *   Wait	id, execid: answers when the process ended (status)
 *   Remove	id, execid: forget an ended process; for the init, the
 *		container (its cgroup, mounts, every exec)
 *   ResizePty	id, execid, width, height (columns, rows)
 *   CloseIO	id, execid: the process's stdin reaches EOF
 *   Pids	id: every process in the container's cgroup (pids)
 *   Stats	id: the container's guest cgroup (stats)
 *   Update	id, config (an OCI linux.resources object as JSON)
 *   Pause, Resume	id: the cgroup freezer
 *   Oom	answers once a container's cgroup saw an OOM kill that was
 *		not yet reported (id in the reply); the shim keeps one in
 *		flight
 *   Network	net: the pod's network as the shim read it in the pod's
 *		netns (podnet.c); the agent brings lo up, finds each
 *		interface by MAC, names it, sets its MTU and addresses and
 *		brings it up, then adds the routes (link routes before
 *		gateway routes) and the neighbours. Sent once, after the
 *		agent answers and before the first container; id is ""
 * The stdio ports are host vsock ports the agent connects to, 0 for
 * none; with terminal the process gets a pty, iport carries its input
 * and oport its output, eport is 0. sandbox names a container already in
 * this VM (the pod's sandbox): namespaces whose spec gives a path (ipc,
 * uts, pid) join that container's; a network namespace path means the
 * VM's own network. Replies are AgentResp.
 */
#define AGENT_MAXPIDS	4096	/* longest pid list a Pids reply carries */
#define AGENT_MAXIFS	4	/* a Network request's caps */
#define AGENT_MAXIPS	16
#define AGENT_MAXROUTES	64
#define AGENT_MAXNEIGHS	64
typedef struct {
	uint8_t mac[6];		/* the guest NIC's, which is the CNI veth's */
	unsigned mtu;		/* NET_MINMTU..NET_MAXMTU */
	char name[16];		/* what the CNI named it in the netns ("eth0") */
} AgentIf;
typedef struct {
	unsigned ifidx;		/* index in AgentNet.ifs */
	int family;		/* AF_INET, AF_INET6 */
	uint8_t addr[16];	/* 4 or 16 bytes used */
	unsigned prefix;	/* up to 32 or 128 */
} AgentIp;
typedef struct {
	unsigned ifidx;		/* the route's device, index in ifs */
	int family;
	uint8_t dst[16], gw[16], src[16];
	unsigned dstlen;	/* prefix; 0: the default route */
	int hasgw, hassrc;
	unsigned scope;		/* RT_SCOPE_* */
	unsigned onlink;	/* RTNH_F_ONLINK */
	unsigned metric;
} AgentRoute;
typedef struct {
	unsigned ifidx;
	int family;
	uint8_t ip[16];
	uint8_t mac[6];
} AgentNeigh;
typedef struct {
	AgentIf ifs[AGENT_MAXIFS];
	AgentIp ips[AGENT_MAXIPS];
	AgentRoute routes[AGENT_MAXROUTES];
	AgentNeigh neighs[AGENT_MAXNEIGHS];
	size_t nifs, nips, nroutes, nneighs;
} AgentNet;
typedef struct {
	char *id, *execid, *sandbox;
	char *config;			/* NUL-terminated */
	size_t configlen;
	uint32_t iport, oport, eport;	/* stdin, stdout, stderr */
	int terminal;
	uint32_t signal;
	int all;
	uint32_t width, height;		/* ResizePty */
	AgentNet *net;			/* Network; NULL in other requests */
} AgentReq;
void pb_agentreq(Pb *pb, const AgentReq *r);
int pr_agentreq(const uint8_t *p, size_t n, AgentReq *r);	/* needs id, except for Oom */
void agentreq_free(AgentReq *r);
/* a container's guest cgroup (cgroup v2 files), what Stats answers */
#define AGENT_MAXIO	8	/* io.stat devices reported */
typedef struct {
	uint64_t major, minor;
	uint64_t rbytes, wbytes, rios, wios;
} AgentIo;
typedef struct {
	/* cpu.stat, microseconds */
	uint64_t cpuusage, cpuuser, cpusystem;
	uint64_t nrperiods, nrthrottled, throttledusec;
	/* memory.current, memory.max (0: none; the VM's RAM bounds it),
	 * memory.swap.current, memory.stat, memory.events */
	uint64_t memusage, memlimit, swapusage;
	uint64_t anon, file, kernelstack, slab, sock, shmem, filemapped,
	    filedirty, filewriteback, activeanon, inactiveanon, activefile,
	    inactivefile, unevictable, pgfault, pgmajfault;
	uint64_t evlow, evhigh, evmax, evoom, evoomkill;
	/* pids.current, pids.max (0: none) */
	uint64_t pids, pidslimit;
	/* io.stat, at most AGENT_MAXIO devices */
	AgentIo io[AGENT_MAXIO];
	size_t nio;
} AgentStats;
typedef struct {
	uint32_t pid;			/* guest pid */
	uint32_t status;		/* Wait: exit code, or 128 + signal */
	uint32_t *pids;			/* Pids: guest pids, npids of them */
	size_t npids;
	AgentStats *stats;		/* Stats: NULL in other replies */
	char *id;			/* Oom: the container */
} AgentResp;
void pb_agentresp(Pb *pb, const AgentResp *r);
int pr_agentresp(const uint8_t *p, size_t n, AgentResp *r);	/* -1 on malformed, too many pids or io */
void agentresp_free(AgentResp *r);

/* containerd.task.v2 requests (one decoder; kind names the message) */
enum { TREQ_PLAIN, TREQ_CREATE, TREQ_KILL, TREQ_CLOSEIO, TREQ_SHUTDOWN };
typedef struct {
	char *type, *source, *target;
	char **options;			/* NULL-terminated */
	size_t nopt;
} TaskMount;
typedef struct {
	char *id, *execid, *bundle, *fin, *fout, *ferr;	/* stdio FIFO paths */
	int terminal, checkpoint, all, closestdin, now;
	uint32_t signal;
	TaskMount *rootfs;
	size_t nrootfs;
} TaskReq;
int pr_taskreq(const uint8_t *p, size_t n, int kind, TaskReq *r);
void taskreq_free(TaskReq *r);
/* containerd.task.v2 replies and events (and husk run's requests) */
enum { TSTATUS_UNKNOWN, TSTATUS_CREATED, TSTATUS_RUNNING, TSTATUS_STOPPED,
	TSTATUS_PAUSED, TSTATUS_PAUSING };	/* containerd.v1.types.Status */
typedef struct {
	const char *id, *execid, *bundle, *fin, *fout, *ferr;
	uint32_t pid, status;		/* status: TSTATUS_* */
	int terminal;
	uint32_t exitstatus;
	uint64_t exitedat;		/* ns since the epoch, 0: not exited */
} TaskState;
void pb_createresp(Pb *pb, uint32_t pid);
void pb_startresp(Pb *pb, uint32_t pid);
void pb_waitresp(Pb *pb, uint32_t status, uint64_t exitedat);
int pr_waitresp(const uint8_t *p, size_t n, uint32_t *status);
void pb_deleteresp(Pb *pb, uint32_t pid, uint32_t status, uint64_t exitedat);
void pb_stateresp(Pb *pb, const TaskState *s);
void pb_connectresp(Pb *pb, uint32_t shimpid, uint32_t taskpid, const char *version);
void pb_taskcreate(Pb *pb, const char *id, const char *bundle, const char *fin,
    const char *fout, const char *ferr, int terminal, uint32_t pid);
void pb_taskstart(Pb *pb, const char *id, uint32_t pid);
void pb_createreq(Pb *pb, const char *id, const char *bundle, const char *fin,
    const char *fout, const char *ferr);
void pb_idreq(Pb *pb, const char *id, const char *execid);
void pb_killreq(Pb *pb, const char *id, const char *execid, uint32_t signal, int all);
void pb_time(Pb *pb, uint32_t field, uint64_t ns);	/* Timestamp, ns since the epoch */
void pb_forward(Pb *pb, uint64_t ns, const char *namespace, const char *topic,
    const char *name, const Pb *event);

/*
 * containerd.task.v2: exec, pty, pids, stats, update, events (proto.c's
 * last section). A TaskOp holds what one of ExecProcessRequest,
 * ResizePtyRequest, UpdateTaskRequest or the id-only requests (Pids,
 * Stats, Pause, Resume) carried; each has its decoder, all share
 * taskop_free. An Any's value is kept as bytes: containerd puts the JSON
 * of the OCI object there, with the type_url below.
 */
#define TASK_URL_PROCESS	"types.containerd.io/opencontainers/runtime-spec/1/Process"
#define TASK_URL_RESOURCES	"types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"
#define TASK_MAXANNO		1024	/* annotations an Update may carry */
typedef struct {
	char *id, *execid;		/* never NULL ("" when absent) */
	int terminal;			/* Exec */
	char *fin, *fout, *ferr;	/* Exec: stdio FIFO paths; NULL when none */
	char *anyurl;			/* Exec spec, Update resources: type_url; NULL if absent */
	char *json;			/* the Any's value, NUL-terminated; NULL if absent */
	size_t jsonlen;
	uint32_t width, height;		/* ResizePty: columns, rows */
	char **annokeys, **annovals;	/* Update: annotations, nanno of each */
	size_t nanno;
} TaskOp;
int pr_taskexec(const uint8_t *p, size_t n, TaskOp *r);	/* ExecProcessRequest */
int pr_taskresize(const uint8_t *p, size_t n, TaskOp *r);	/* ResizePtyRequest */
int pr_taskupdate(const uint8_t *p, size_t n, TaskOp *r);	/* UpdateTaskRequest */
int pr_taskid(const uint8_t *p, size_t n, TaskOp *r);	/* Pids, Stats, Pause, ResumeRequest */
void taskop_free(TaskOp *r);
/* google.protobuf.Any {type_url, value}, written even when value is empty */
void pb_any(Pb *pb, uint32_t field, const char *typeurl, const void *value, size_t n);
/* PidsResponse: an exec's process gets info = runc's ProcessDetails{exec_id} */
typedef struct {
	uint32_t pid;
	const char *execid;		/* NULL or "": no info */
} TaskPid;
void pb_pidsresp(Pb *pb, const TaskPid *p, size_t n);
/*
 * StatsResponse from a guest cgroup: io.containerd.cgroups.v2.Metrics, or
 * v1 (cgv1 != 0) mapped from the same v2 files. Both are accepted by
 * containerd 1.6 and 1.7 (CRI and ctr) whatever the host's cgroup mode.
 * pb_metrics2/pb_metrics1 write the bare Metrics message.
 */
#define METRICS_URL_V1	"io.containerd.cgroups.v1.Metrics"
#define METRICS_URL_V2	"io.containerd.cgroups.v2.Metrics"
void pb_metrics2(Pb *pb, const AgentStats *s);
void pb_metrics1(Pb *pb, const AgentStats *s);
void pb_statsresp(Pb *pb, const AgentStats *s, int cgv1);
/*
 * containerd.events.Task*: pb_taskevent writes the event of kind into ev;
 * publish it with pb_forward(pb, ns, namespace, taskev_topic(kind),
 * taskev_name(kind), ev). execid NULL or "" is the container's init:
 * TaskExit's id is then the container id, TaskDelete has no id.
 */
enum { TEV_EXIT, TEV_DELETE, TEV_OOM, TEV_EXECADDED, TEV_EXECSTARTED,
	TEV_PAUSED, TEV_RESUMED };
typedef struct {
	const char *cid, *execid;
	uint32_t pid, status;		/* ExecStarted: pid; Exit, Delete: both */
	uint64_t exitedat;		/* Exit, Delete: ns since the epoch */
} TaskEvent;
const char *taskev_topic(int kind);	/* "/tasks/exec-added" */
const char *taskev_name(int kind);	/* "TaskExecAdded", as pb_forward takes it */
void pb_taskevent(Pb *ev, int kind, const TaskEvent *e);

/*
 * ttrpc.c: containerd's ttrpc over any stream fd, non-blocking, in the
 * loop. A server answers through a method table; handlers may reply at
 * once or later (a Wait). A client may have many calls in flight. Each
 * connection caps what its peer can make it hold (ttrpc.c's top).
 */
#define TTRPC_MAXMSG	(4 << 20)
enum {	/* google.rpc.Code */
	RPC_OK = 0, RPC_CANCELLED = 1, RPC_UNKNOWN = 2, RPC_INVALID = 3,
	RPC_DEADLINE = 4, RPC_NOTFOUND = 5, RPC_EXISTS = 6,
	RPC_PERMISSION = 7, RPC_EXHAUSTED = 8, RPC_PRECONDITION = 9,
	RPC_ABORTED = 10, RPC_RANGE = 11, RPC_UNIMPLEMENTED = 12,
	RPC_INTERNAL = 13, RPC_UNAVAILABLE = 14, RPC_DATALOSS = 15,
	RPC_UNAUTHENTICATED = 16
};
typedef struct Ttrpc Ttrpc;
typedef struct TtrpcCall TtrpcCall;
typedef struct {
	const char *service, *method;
	void (*fn)(TtrpcCall *c, const uint8_t *req, size_t n);	/* req valid during fn */
} TtrpcMethod;
typedef void (*TtrpcDone)(void *arg, int code, const char *msg,
    const uint8_t *resp, size_t n);
/* takes fd (made non-blocking; NULL on error, fd left open); methods may be NULL */
Ttrpc *ttrpc_new(int fd, const TtrpcMethod *methods, size_t nmethods, void *arg);
void ttrpc_onclose(Ttrpc *t, void (*fn)(Ttrpc *t, void *arg));	/* peer gone or error */
void *ttrpc_arg(Ttrpc *t);
Ttrpc *ttrpc_conn(TtrpcCall *c);	/* NULL once the connection is closed */
void ttrpc_reply(TtrpcCall *c, int code, const char *msg, const void *resp, size_t n);	/* frees c */
/* -1 and errno: ENOTCONN, EMSGSIZE, ENOBUFS (the peer reads nothing), EOVERFLOW */
int ttrpc_call(Ttrpc *t, const char *service, const char *method,
    const void *req, size_t n, uint64_t timeoutns, TtrpcDone done, void *arg);
void ttrpc_close(Ttrpc *t);	/* once, also after onclose; pending calls end with RPC_UNAVAILABLE */
void ttrpc_ignore(void *arg, int code, const char *msg, const uint8_t *resp, size_t n);	/* a TtrpcDone: failures logged */

/*
 * virtio.c: the virtio-mmio (version 2) transport and split virtqueues.
 * A device is a VirtioOps table plus a VirtioDev; the transport handles
 * registers (from vCPU threads) and queue kicks (ioeventfds in the loop)
 * and calls the device's ops with d->lock held.
 */
#define VQ_MAXSEG	128	/* longest descriptor chain accepted */
typedef struct {
	uint32_t num;		/* queue size set by the driver */
	int ready;
	uint64_t desc, avail, used;
	uint16_t lastavail;	/* next avail entry to consume */
	uint16_t usedidx;	/* next used entry to fill */
	int broken;		/* the driver broke the rules: ignored until reset */
	int kickfd;		/* eventfd: guest notify (ioeventfd) */
	Watch kick;
} Virtq;
typedef struct {
	uint16_t head;
	int nout, nin;		/* device-readable iovs first, then writable */
	uint32_t outlen, inlen;
	struct iovec iov[VQ_MAXSEG];
} Vchain;
typedef struct VirtioDev VirtioDev;
typedef struct {
	const char *name;
	uint32_t id;		/* virtio device id */
	uint64_t features;	/* device features (VERSION_1 is added) */
	int nqueues;
	uint32_t qmax;		/* largest queue size */
	void (*cfgread)(VirtioDev *d, uint32_t off, void *buf, uint32_t len);
	void (*cfgwrite)(VirtioDev *d, uint32_t off, const void *buf, uint32_t len);
	void (*notify)(VirtioDev *d, int q);	/* loop thread: queue q kicked */
	void (*activate)(VirtioDev *d);	/* vCPU thread: DRIVER_OK set */
	void (*reset)(VirtioDev *d);	/* vCPU thread: status 0 written */
} VirtioOps;
struct VirtioDev {
	const VirtioOps *ops;
	void *priv;
	const GuestMem *gm;
	uint64_t base;		/* MMIO base, set by vmm_add_device */
	uint32_t gsi;
	pthread_mutex_t lock;
	uint32_t status, devfeatsel, drvfeatsel, qsel, isr, cfggen;
	uint64_t drvfeatures;
	int irqfd;		/* eventfd: interrupt (irqfd) */
	Virtq *vq;
};
int virtio_init(VirtioDev *d, const VirtioOps *ops, void *priv, const GuestMem *gm);
void virtio_mmio(VirtioDev *d, uint64_t off, void *data, uint32_t len, int write);
int vq_pop(VirtioDev *d, Virtq *q, Vchain *c);	/* 1 chain, 0 empty, -1 broken (device marked NEEDS_RESET) */
void vq_unpop(Virtq *q);			/* give back the chain just popped */
void vq_push(VirtioDev *d, Virtq *q, uint16_t head, uint32_t len);
int vq_wantirq(VirtioDev *d, Virtq *q, uint16_t old);	/* used moved on from old: interrupt? */
void virtio_irq(VirtioDev *d);		/* used buffers: raise the interrupt */
void virtio_free(VirtioDev *d);
size_t iov_copyfrom(const struct iovec *iov, int n, size_t off, void *dst, size_t len);
size_t iov_copyto(const struct iovec *iov, int n, size_t off, const void *src, size_t len);

/*
 * virtiofs.c: virtio-fs served in-process, a FUSE server over the device's
 * virtqueues. Every request is confined to the shared directory dir.
 * vfs_hostentry marks the top-level entry name of dir (a host bind mount,
 * <id>.m<i>) as reachable by host users: below it the guest's owners,
 * set-ID bits and device nodes are not honoured (husk.1, SECURITY). Mark
 * an entry as soon as it is mounted, before the loop serves the guest
 * again; -1 when name is not one path component. vfs_seal leaves dir's
 * own entries to the host: the guest cannot make, remove or rename names
 * there (EROFS), only work below them.
 */
typedef struct Vfs Vfs;
Vfs *vfs_new(const GuestMem *gm, const char *dir, const char *tag, char *err);
VirtioDev *vfs_dev(Vfs *f);
int vfs_hostentry(Vfs *f, const char *name);
void vfs_seal(Vfs *f);
void vfs_free(Vfs *f);

/*
 * rootfs.c: a container's root on its way to the guest. The share on the
 * host: a tmpfs capped in bytes and inodes, its mounts.
 */
int share_mount(const char *dir, size_t maxbytes, unsigned maxinodes, char *err);
int share_readonly(const char *path, char *err);	/* recursively */
int share_umount(const char *path);	/* husk's own mount only: no symlink followed; then removed */
/*
 * The share as a sandbox keeps it (its directory, the server, the host
 * entries to mark), and a container's root on its way there: containerd's
 * rootfs mount at <bundle>/rootfs, the root as entry <id>, each host bind
 * mount as SHARE_BINDFMT (the shim/agent contract below).
 */
enum { SHARE_REC = 1, SHARE_RDONLY = 2, SHARE_HOST = 4, SHARE_FILE = 8 };
typedef struct {
	char dir[PATH_MAX];		/* "" until share_open */
	Vfs *fs;			/* NULL until share_serve */
	char **host;			/* entries that are host bind mounts */
	size_t nhost;
} Share;
int share_open(Share *sh, const char *dir, size_t maxbytes, unsigned maxinodes,
    char *err);
void share_serve(Share *sh, Vfs *fs);	/* seals fs and marks the host entries */
int share_add(Share *sh, const char *name, const char *src, int flags,
    const char *what, char *err);	/* SHARE_*; what names it in err */
void share_remove(Share *sh, const char *name);
void share_close(Share *sh);		/* unmounts the share */
typedef struct {
	char mnt[PATH_MAX];		/* <bundle>/rootfs if husk mounted it */
	char name[NAME_MAX + 1];	/* the root's entry in the share, "" none */
	size_t nbinds;			/* the spec's mounts */
	char *bound;			/* [nbinds]: 1 where husk shared <name>.m<i> */
} Rootfs;
int rootfs_mount(Rootfs *r, const char *bundle, const TaskMount *m, size_t n,
    char *err);
int rootfs_share(Rootfs *r, Share *sh, const char *id, const char *bundle,
    const OciSpec *s, char *err);
void rootfs_unshare(Rootfs *r, Share *sh);
void rootfs_umount(Rootfs *r);

/*
 * vsock.c: a virtio-vsock device whose host side lives in this process.
 * Each connection is backed by a host fd for reading (bytes to the guest)
 * and one for writing (bytes from the guest): a socketpair end, a pipe or
 * a containerd FIFO. Once a call succeeds the device owns and closes
 * both; when it fails the caller keeps them.
 */
#define VSOCK_HOST_CID	2
typedef struct Vsock Vsock;
Vsock *vsock_new(const GuestMem *gm, uint64_t guestcid);
VirtioDev *vsock_dev(Vsock *v);
/* host-initiated: connect to guest port; done(arg, 0) when established, -1 refused/reset */
int vsock_connect(Vsock *v, uint32_t port, int rfd, int wfd,
    void (*done)(void *arg, int err), void *arg);
/* guest-initiated connections to host port: accept gets a new socketpair end */
int vsock_listen(Vsock *v, uint32_t port, void (*accept)(void *arg, int fd), void *arg);
/* the next guest connection to host port is backed by rfd/wfd (one-shot) */
int vsock_expect(Vsock *v, uint32_t port, int rfd, int wfd);
void vsock_unexpect(Vsock *v, uint32_t port);

/*
 * seccomp.c: seccomp BPF filters compiled from rule tables, for husk's own
 * threads and, in the agent, for a container's OCI linux.seccomp section.
 * A rule matches its syscall when every one of its argument tests holds;
 * the first matching rule's action applies, else the default action.
 * Actions are SECCOMP_RET_* values (with their data bits).
 */
enum { SC_NE = 1, SC_LT, SC_LE, SC_EQ, SC_GE, SC_GT, SC_MASKEDEQ };	/* OCI SCMP_CMP_* */
typedef struct {
	unsigned index;		/* argument 0..5 */
	int op;			/* SC_*; SC_MASKEDEQ: (arg & value) == value2 */
	uint64_t value, value2;
} ScArg;
typedef struct {
	long nr;		/* syscall number (x86-64) */
	uint32_t action;	/* SECCOMP_RET_* */
	const ScArg *args;
	size_t nargs;
} ScRule;
typedef struct {
	void *insns;		/* struct sock_filter[] */
	size_t len;
} ScProg;
int sc_compile(uint32_t defaction, const ScRule *rules, size_t n, ScProg *p, char *err);
int sc_load(const ScProg *p, char *err);	/* this thread; needs no_new_privs or CAP_SYS_ADMIN */
void sc_free(ScProg *p);
long sc_nr(const char *name);		/* x86-64 syscall number, -1 if unknown */
const char *sc_name(long nr);		/* NULL if unknown */
/*
 * husk's own threads: sc_husk loads the filter of the calling thread's
 * kind, for good; a call outside it is logged and ends the process.
 * sc_process confines the process before its VM: no_new_privs, not
 * dumpable, RLIMIT_NOFILE at most nofile, oom_score_adj, and the
 * capabilities (all sets) cut to those keep names: what mounts and the
 * virtio-fs server need (SC_MOUNTS), what the pod's network needs at
 * its teardown (SC_NETADMIN), or none.
 */
enum { SC_LOOP, SC_VCPU, SC_COPIER };
enum { SC_MOUNTS = 1, SC_NETADMIN = 2 };	/* sc_process's keep */
int sc_husk(int which, char *err);
int sc_process(int keep, unsigned long nofile, int oomadj, char *err);

/*
 * vmm.c: a KVM virtual machine: memory, vCPU threads, the boot of a
 * vmlinux, a serial port, and the virtio-mmio devices.
 */
typedef struct Vm Vm;
/* the machine's limits (vmm.c checks they fit its memory map) */
#define VM_MAXMEMMIB	3072	/* guest RAM stays below the MMIO hole */
#define VM_MAXCPUS	32	/* the MP table's room holds 37 */
typedef struct {
	uint64_t memmib;
	int ncpus;
	const char *kernel;		/* vmlinux (ELF) */
	const char *cmdline;		/* the device list is appended */
	const void *initrd;
	size_t initrdlen;
	int consolefd;			/* serial output goes here, -1 none */
	int hugepages;			/* back guest RAM with transparent huge pages */
} VmConfig;
enum { VM_RUNNING, VM_POWEROFF, VM_RESET, VM_CRASH, VM_ERROR };
/* KVM checks, memory, kernel, vCPUs; cfg is copied, but initrd is read by vmm_start */
Vm *vmm_new(const VmConfig *cfg, char *err);
const GuestMem *vmm_mem(Vm *vm);
int vmm_add_device(Vm *vm, VirtioDev *d, char *err);	/* before vmm_start */
int vmm_start(Vm *vm, char *err);		/* boot params, vCPU threads */
int vmm_exitfd(Vm *vm);		/* eventfd, readable once the VM stopped */
int vmm_state(Vm *vm, char *why, size_t n);	/* VM_*; why the VM stopped */
const char *vmm_console(Vm *vm);	/* the last 4 KiB of serial output, escaped; valid until the next call */
void vmm_free(Vm *vm);		/* stops vCPUs, frees all */

/*
 * The contract between the shim and the agent, beside AGENT_PORT: the
 * share's virtio-fs tag, where the shim makes it and where the guest
 * mounts it, and the names of its entries. Stdio ports are above
 * AGENT_PORT, chosen by the shim (sandbox.c).
 */
#define SHARE_TAG	"husk"		/* the share's virtio-fs tag */
#define SHARE_DIR	"husk-shared"	/* the share on the host, in the first bundle */
#define GUEST_RUNDIR	"/run/husk"	/* the agent's own directory in the guest */
#define SHARE_GUESTDIR	GUEST_RUNDIR "/fs"	/* the share in the guest; <id> is a root */
#define SHARE_BINDFMT	"%s.m%zu"	/* a host bind mount: <root>.m<index in the spec's mounts> */

/*
 * sandbox.c: the pod's VM. One Sandbox holds the VM, its vsock and
 * virtio-fs devices, the share and the link to the agent. sandbox_boot
 * starts it all; up is called once the agent answers (sandbox_agent not
 * NULL) or cannot be reached (NULL); down once the VM stopped (vmstate
 * VM_POWEROFF, VM_CRASH, ...) or the boot timer ran out (VM_RUNNING),
 * with why; after down nothing reaches the guest. husk boot -n sets no
 * agent: the sandbox is up at once and the boot timer waits for the VM
 * to stop. Containers reach the guest through the share (their root and
 * binds) and through stdio ports, each backed by a host fd.
 */
enum { SB_NONE, SB_BOOTING, SB_UP, SB_DOWN };
typedef struct Sandbox Sandbox;
typedef struct {
	const char *kernel;		/* vmlinux */
	const char *cmdline;		/* NULL: config.h's */
	const void *initrd;		/* NULL: the agent's own initramfs */
	size_t initrdlen;
	unsigned memmib, ncpus;
	int consolefd;			/* the serial port's output, -1 none */
	int agent;			/* link to the agent (1) or not */
	unsigned timeoutms;		/* boot to agent answering (or VM stop) */
	int tapfd;			/* virtio-net's tap (taken), -1 no NIC */
	const char *netns;		/* the pod's netns (tapfd -1): podnet.c's NIC */
	const uint8_t *mac;		/* the NIC's, NULL random */
	unsigned mtu;
} SandboxConfig;
Sandbox *sandbox_new(void);
void sandbox_defaults(SandboxConfig *c);	/* config.h's */
void sandbox_onup(Sandbox *sb, void (*fn)(void *arg), void *arg);
void sandbox_ondown(Sandbox *sb, void (*fn)(void *arg, int vmstate,
    const char *why), void *arg);
int sandbox_boot(Sandbox *sb, const SandboxConfig *c, char *err);	/* once */
int sandbox_attach(Sandbox *sb, int fd);	/* instead of a boot: an agent on fd (tests) */
int sandbox_state(Sandbox *sb);		/* SB_* */
Ttrpc *sandbox_agent(Sandbox *sb);	/* NULL unless the agent answers */
int sandbox_tries(Sandbox *sb);		/* connection attempts to the agent */
/* an agent call (r NULL: an empty request); -1 when there is no agent */
int sandbox_call(Sandbox *sb, const char *method, const AgentReq *r,
    unsigned timeoutms, TtrpcDone done, void *arg);
const char *sandbox_console(Sandbox *sb);	/* the serial output's tail, escaped */
/* the next guest connection to *port is backed by fd (stdin if toguest) */
int sandbox_port(Sandbox *sb, int fd, int toguest, uint32_t *port);
void sandbox_unport(Sandbox *sb, uint32_t port);	/* the stream's fd if unused */
/* stream 0-2 from the file path (containerd's FIFO); *port 0 when path is "" */
int sandbox_stdio(Sandbox *sb, int stream, const char *path, uint32_t *port,
    char *err);
/* a container's root and binds into the share (made in bundle on the first) */
int sandbox_share_add(Sandbox *sb, Rootfs *r, const char *id,
    const char *bundle, const OciSpec *s, char *err);
void sandbox_share_remove(Sandbox *sb, Rootfs *r);
void sandbox_free(Sandbox *sb);		/* stops the VM, unmounts the share */

/*
 * task.c: the containerd.task.v2.Task service over one sandbox, booted
 * by the first Create with vm (kernel, size). Events go to containerd at
 * ttrpcaddr (NULL: none).
 */
#define TASK_SERVICE	"containerd.task.v2.Task"
extern const TtrpcMethod task_methods[];
extern const size_t task_nmethods;
void task_init(Sandbox *sb, const SandboxConfig *vm, const char *ns,
    const char *ttrpcaddr);
int task_done(void);		/* Shutdown came with no task left */
char *task_readfile(const char *dir, const char *name, size_t max, size_t *len,
    char *err);		/* whole, NUL-terminated */

/* run.c: husk run and husk boot */
int cmd_run(int argc, char *argv[]);
int cmd_boot(int argc, char *argv[]);

/* shim.c */
void usage(void);

/*
 * netlink.c: raw rtnetlink. An Nl is a NETLINK_ROUTE socket bound in one
 * network namespace (netns: a path such as /var/run/netns/cni-...; NULL:
 * the caller's), entered on the calling thread only for as long as it
 * takes to open the socket or the tap. Every request is acked; a failure
 * fills err ("netlink: add qdisc ingress on eth0: Operation not
 * supported"). nl_parse reads one reply datagram and is all that touches
 * reply bytes: it takes a buffer, so tests and fuzzers drive it alone.
 */
#define NL_MAXENT	1024	/* links, addresses, routes, neighbours or qdiscs read at most */
#define NL_REQMAX	1024	/* longest request an NlReq holds */
typedef struct {
	int fd;			/* the socket */
	int nsfd;		/* the namespace, -1: the caller's own */
	uint32_t seq;		/* the last request's */
	uint8_t *buf;		/* replies */
} Nl;
typedef struct {
	int index;
	char name[16];		/* IFNAMSIZ */
	char kind[16];		/* IFLA_INFO_KIND: "veth", "tun", ...; "" none */
	uint8_t mac[32];	/* hardware address, maclen bytes */
	unsigned maclen;
	unsigned mtu;
	unsigned flags;		/* IFF_* */
	unsigned type;		/* ARPHRD_* */
	int link;		/* IFLA_LINK: a veth's peer (its index in its netns); 0 none */
	int master;		/* IFLA_MASTER; 0 none */
} NlLink;
typedef struct {
	int family;		/* AF_INET, AF_INET6 */
	int index;		/* the link */
	uint8_t addr[16];	/* 4 or 16 bytes used */
	unsigned prefix;
	unsigned scope;		/* RT_SCOPE_* */
	unsigned flags;		/* IFA_F_* */
} NlAddr;
typedef struct {
	int family;
	uint8_t dst[16];
	unsigned dstlen;	/* prefix; 0 with dst zero: the default route */
	uint8_t gw[16], src[16];	/* RTA_GATEWAY, RTA_PREFSRC */
	int hasgw, hassrc;
	int oif;		/* 0 none */
	unsigned scope;		/* RT_SCOPE_* */
	unsigned protocol;	/* RTPROT_*; nl_addroute: 0 is RTPROT_BOOT */
	unsigned flags;		/* RTNH_F_* (onlink) */
	unsigned metric;	/* RTA_PRIORITY */
} NlRoute;			/* always a unicast route of the main table */
typedef struct {
	int family, index;
	uint8_t ip[16];
	uint8_t lladdr[32];
	unsigned lllen;
	unsigned state;		/* NUD_*; nl_addneigh makes it permanent */
} NlNeigh;
typedef struct {
	int index;
	uint32_t handle, parent;
	char kind[16];		/* "ingress", "noqueue", ... */
} NlQdisc;
typedef struct {
	NlLink *links;
	NlAddr *addrs;
	NlRoute *routes;
	NlNeigh *neighs;
	NlQdisc *qdiscs;
	size_t nlinks, naddrs, nroutes, nneighs, nqdiscs;
	int intr;		/* a dump said it was interrupted (NLM_F_DUMP_INTR) */
} NlNet;
int nl_open(Nl *nl, const char *netns, char *err);
void nl_close(Nl *nl);
/* the pod's network: links, addresses, routes (unicast, main table),
 * neighbours (permanent or reachable); net is overwritten */
int nl_read(Nl *nl, NlNet *net, char *err);
int nl_qdiscs(Nl *nl, NlNet *net, char *err);	/* the qdiscs alone; net is overwritten */
void nl_netfree(NlNet *net);
int nl_linkbyname(Nl *nl, const char *name, NlLink *l, char *err);
int nl_linkbymac(Nl *nl, const uint8_t mac[6], NlLink *l, char *err);
int nl_setlink(Nl *nl, int index, unsigned mtu, int up, char *err);	/* mtu 0, up -1: unchanged */
int nl_setname(Nl *nl, int index, const char *name, char *err);	/* the link must be down */
int nl_addaddr(Nl *nl, const NlAddr *a, char *err);	/* replaces; IPv6 without DAD */
int nl_addroute(Nl *nl, const NlRoute *r, char *err);	/* replaces; link routes before gateways */
int nl_addneigh(Nl *nl, const NlNeigh *n, char *err);	/* permanent; replaces */
int nl_dellink(Nl *nl, int index, char *err);
/* a tap in nl's netns (IFF_TAP, IFF_NO_PI, IFF_VNET_HDR, not persistent),
 * mtu set and up: its fd, or -1; *index is its link */
int nl_tap(Nl *nl, const char *name, unsigned mtu, int *index, char *err);
/* an ingress qdisc on links a and b, and a filter on each sending every
 * frame out of the other (u32 match-all, mirred egress redirect) */
int nl_redirect(Nl *nl, int a, int b, char *err);
/* removes the qdiscs (with their filters) of veth and tap, closes tapfd
 * (-1: none) and deletes the tap; what is already gone is no error */
int nl_teardown(Nl *nl, int veth, int tap, int tapfd, char *err);
/* one reply datagram to request seq: data messages are added to net (NULL:
 * ignored); 1 when the ack or NLMSG_DONE came, 0 when more is to come, -1
 * on the kernel's error (errno) or a malformed reply (EBADMSG), err says */
int nl_parse(const void *buf, size_t n, uint32_t seq, NlNet *net, char *err);
/* requests built by hand: nl_req starts one (type, NLM_F_* beyond REQUEST
 * and ACK, the family header), nl_nest/nl_end wrap attributes, nl_talk
 * sends it and reads the answer into net (NULL: none wanted) */
typedef struct {
	uint8_t b[NL_REQMAX];
	size_t n;
	int full;		/* something did not fit: nl_talk refuses it */
} NlReq;
void nl_req(NlReq *r, int type, int flags, const void *hdr, size_t n);
void nl_put(NlReq *r, const void *p, size_t n);	/* raw bytes, padded to 4 */
void nl_attr(NlReq *r, int type, const void *p, size_t n);
size_t nl_nest(NlReq *r, int type);
void nl_end(NlReq *r, size_t mark);
int nl_talk(Nl *nl, NlReq *r, NlNet *net, const char *what, char *err);

/*
 * net.c: a virtio-net device (one queue pair, checksum and TSO offloads
 * both ways, mergeable receive buffers) whose backend is a tap opened
 * with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, as net_tap opens one; a
 * datagram socket may stand in for it (tests). net_new takes fd when it
 * succeeds (the caller keeps it otherwise); mac NULL: a random local one.
 */
#define NET_MAXFRAME	65550	/* an Ethernet frame's bytes, header not counted */
#define NET_MINMTU	68
#define NET_MAXMTU	65535
#define NET_MTU		1500	/* Ethernet's, when the caller names none */
typedef struct Net Net;
int net_tap(const char *name, char *err);	/* the tap's fd, non-blocking */
Net *net_new(const GuestMem *gm, int fd, const uint8_t *mac, unsigned mtu,
    char *err);
VirtioDev *net_dev(Net *n);
void net_free(Net *n);		/* closes fd */

/*
 * podnet.c: the pod's network, host side (Kata's tcfilter model).
 * podnet_open takes over the CNI's link in the pod's netns (the one
 * veth, or other Ethernet link, with an address; lo aside): a tap beside
 * it (PODNET_TAP, the link's MTU, IFF_VNET_HDR) and an ingress redirect
 * each way, and what the agent's Network request carries, the guest NIC
 * taking the link's MAC so the CNI's neighbour entries hold.
 * podnet_describe is the choice alone (no socket: tests). podnet_close
 * undoes podnet_open (the tap's fd may be net.c's by then: tapfd -1);
 * podnet_clean does it knowing only the netns, for `husk delete` after
 * the shim was killed. What is gone already is no error.
 */
#define PODNET_TAP	"husk0"
typedef struct {
	Nl nl;
	int veth, tap;		/* link indexes in the netns, 0 none */
	int tapfd;		/* -1 once net.c took it */
	AgentNet net;
} PodNet;
int podnet_describe(const NlNet *n, AgentNet *an, int *veth, char *err);
int podnet_open(PodNet *p, const char *netns, char *err);
void podnet_close(PodNet *p);
int podnet_clean(const char *netns, char *err);
