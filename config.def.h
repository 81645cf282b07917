/* See LICENSE file for copyright and license details. */
/* husk configuration: copy to config.h, edit, rebuild. */

/* the virtual machine */
static const unsigned vm_memmib = 128;		/* guest RAM in MiB (husk boot -m) */
static const int vm_ncpus = 1;			/* vCPUs (husk boot -c) */
static const unsigned vm_minmemmib = 32;	/* smallest -m accepted (the largest:
						 * VM_MAXMEMMIB, VM_MAXCPUS in husk.h) */
static const unsigned vm_memheadroom = 64;	/* MiB a sandbox gets beyond its
						 * container's memory limit */
static const int vm_hugepages = 1;		/* guest RAM in transparent huge pages:
						 * faster boots, coarser memory use */

/* the guest kernel: an uncompressed vmlinux built by kernel/build */
static const char *const vm_kernel = "/var/cache/husk/vmlinux";
static const char *const vm_cmdline =
	"console=ttyS0 reboot=t panic=-1 quiet nomodule i8042.noaux "
	"i8042.nomux i8042.dumbkbd tsc=reliable no_timer_check "
	"rdinit=/init";

/* the share: a tmpfs holding a bind of each container root and host mount */
static const size_t share_maxbytes = 64 * 1024;	/* its own files: only mount points */
static const unsigned share_maxinodes = 1024;	/* entries, for all containers of the sandbox */

/* vsock */
static const uint64_t vsock_guestcid = 3;	/* the guest's context id */

/* timeouts, in milliseconds */
static const unsigned agent_timeout_ms = 30000;	/* boot to agent answering */
static const unsigned agent_retry_ms = 2;	/* between connection attempts */
static const unsigned shutdown_timeout_ms = 10000; /* shutdown to power off */
static const unsigned event_timeout_ms = 10000;	/* containerd taking an event */
static const unsigned oom_retry_ms = 1000;	/* the agent's Oom call failed: asked again */

/* husk itself (besides a seccomp filter per thread) */
static const unsigned long husk_nofile = 65536;	/* RLIMIT_NOFILE: virtio-fs gets all
						 * but 1024 of it (virtiofs.c) */
static const int husk_oomadj = 500;		/* oom_score_adj: a runaway sandbox
						 * dies before host services */

/* logging: LERR, LWARN, LINFO, LDEBUG */
static const int log_level = LINFO;
