/* See LICENSE file for copyright and license details. */
/*
 * What the agent's files share. agent.c serves the API and keeps the
 * containers and their processes; ctr.c is the child side of a new
 * process (namespaces, root, privileges, exec); cgroup.c reads and
 * writes a container's guest cgroup; netcfg.c sets up the pod's network.
 */

/* the share and the cgroups of the containers */
#define FSDIR	SHARE_GUESTDIR		/* the virtio-fs share, tag SHARE_TAG */
#define CGROOT	"/sys/fs/cgroup"

/*
 * How the child of Create or Exec becomes the process. The agent holds
 * the other ends of two pipes: startfd gets one byte when the child may
 * set itself up, a second when it may exec (Start); errfd gets "\0"
 * once the child is ready, or an error text; exec closes it.
 */
typedef struct {
	const OciSpec *s;	/* the process fields; for Create also root etc. */
	const ScProg *filter;	/* the container's seccomp, NULL none */
	int fds[3];		/* stdio, unless tty */
	int tty;		/* a pty of the container's, its master sent back */
	int startfd, errfd;	/* errfd is a socket (the master passes on it) */
	int ns[8];		/* namespaces to join first (setns fds), -1 ends */
} ProcSetup;

/* ctr.c; the two child functions never return */
void ctr_init(const ProcSetup *p, const char *root);
void ctr_exec(const ProcSetup *p);
int ctr_word(int sock, char *msg, size_t n, int *fd);	/* errfd's word: 0 ready, -1 and msg */
int ctr_filter(const OciSeccomp *o, ScProg *p, char *err);

/* cgroup.c */
int readfile(const char *path, char *buf, size_t n);	/* NUL-terminated; -1 */
int writestr(const char *path, const char *s);
int cg_apply(const char *id, const OciSpec *s, char *err);	/* the resources given */
int cg_stats(const char *id, AgentStats *st);
size_t cg_pids(const char *id, uint32_t *pids, size_t max);
/* the parsers, text in (NULL: the file was not there), fields out */
void cg_cpustat(const char *text, AgentStats *st);
void cg_memstat(const char *text, AgentStats *st);
void cg_memevents(const char *text, AgentStats *st);
void cg_iostat(const char *text, AgentStats *st);
uint64_t cg_value(const char *text);	/* one number; "max", garbage: 0 */
int cg_frozen(const char *text);		/* cgroup.events: frozen 1 */

/* netcfg.c: the pod's network in the VM's network namespace */
int netcfg_apply(const AgentNet *n, char *err);
