/* See LICENSE file for copyright and license details. */
/*
 * json.c: the OCI config reader. A full spec as ctr writes it, the
 * defaults, escapes, the security fields (capabilities, seccomp, masked
 * and read-only paths, user and cgroup namespaces), and a table of
 * malformed or mistyped inputs that
 * must each give an error with the right words; every proper prefix of a
 * valid spec and random byte flips must fail cleanly (run under ASan).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <linux/capability.h>
#include <linux/seccomp.h>

#include "../husk.h"
#include "t.h"

/* ctr oci spec, with the fields husk reads filled in */
static const char spec[] =
    "{\n"
    " \"ociVersion\": \"1.0.2-dev\",\n"
    " \"process\": {\n"
    "  \"user\": {\n"
    "   \"uid\": 0,\n"
    "   \"gid\": 0,\n"
    "   \"additionalGids\": [\n"
    "    10,\n"
    "    4294967295\n"
    "   ],\n"
    "   \"umask\": 18\n"
    "  },\n"
    "  \"cwd\": \"/\",\n"
    "  \"capabilities\": {\n"
    "   \"bounding\": [\n"
    "    \"CAP_CHOWN\",\n"
    "    \"CAP_DAC_OVERRIDE\",\n"
    "    \"CAP_FSETID\",\n"
    "    \"CAP_FOWNER\",\n"
    "    \"CAP_MKNOD\",\n"
    "    \"CAP_NET_RAW\",\n"
    "    \"CAP_SETGID\",\n"
    "    \"CAP_SETUID\",\n"
    "    \"CAP_SETFCAP\",\n"
    "    \"CAP_SETPCAP\",\n"
    "    \"CAP_NET_BIND_SERVICE\",\n"
    "    \"CAP_SYS_CHROOT\",\n"
    "    \"CAP_KILL\",\n"
    "    \"CAP_AUDIT_WRITE\"\n"
    "   ],\n"
    "   \"effective\": [\n"
    "    \"CAP_CHOWN\",\n"
    "    \"CAP_DAC_OVERRIDE\",\n"
    "    \"CAP_FSETID\",\n"
    "    \"CAP_FOWNER\",\n"
    "    \"CAP_MKNOD\",\n"
    "    \"CAP_NET_RAW\",\n"
    "    \"CAP_SETGID\",\n"
    "    \"CAP_SETUID\",\n"
    "    \"CAP_SETFCAP\",\n"
    "    \"CAP_SETPCAP\",\n"
    "    \"CAP_NET_BIND_SERVICE\",\n"
    "    \"CAP_SYS_CHROOT\",\n"
    "    \"CAP_KILL\",\n"
    "    \"CAP_AUDIT_WRITE\"\n"
    "   ],\n"
    "   \"permitted\": [\n"
    "    \"CAP_CHOWN\",\n"
    "    \"CAP_DAC_OVERRIDE\",\n"
    "    \"CAP_FSETID\",\n"
    "    \"CAP_FOWNER\",\n"
    "    \"CAP_MKNOD\",\n"
    "    \"CAP_NET_RAW\",\n"
    "    \"CAP_SETGID\",\n"
    "    \"CAP_SETUID\",\n"
    "    \"CAP_SETFCAP\",\n"
    "    \"CAP_SETPCAP\",\n"
    "    \"CAP_NET_BIND_SERVICE\",\n"
    "    \"CAP_SYS_CHROOT\",\n"
    "    \"CAP_KILL\",\n"
    "    \"CAP_AUDIT_WRITE\"\n"
    "   ]\n"
    "  },\n"
    "  \"rlimits\": [\n"
    "   {\n"
    "    \"type\": \"RLIMIT_NOFILE\",\n"
    "    \"hard\": 1024,\n"
    "    \"soft\": 1024\n"
    "   }\n"
    "  ],\n"
    "  \"noNewPrivileges\": true,\n"
    "  \"args\": [\n"
    "   \"sh\",\n"
    "   \"-c\",\n"
    "   \"echo \\\"hi\\\"\"\n"
    "  ],\n"
    "  \"env\": [\n"
    "   \"PATH=/usr/bin:/bin\",\n"
    "   \"TERM=xterm\"\n"
    "  ]\n"
    " },\n"
    " \"root\": {\n"
    "  \"path\": \"rootfs\",\n"
    "  \"readonly\": true\n"
    " },\n"
    " \"mounts\": [\n"
    "  {\n"
    "   \"destination\": \"/proc\",\n"
    "   \"type\": \"proc\",\n"
    "   \"source\": \"proc\",\n"
    "   \"options\": [\n"
    "    \"nosuid\",\n"
    "    \"noexec\",\n"
    "    \"nodev\"\n"
    "   ]\n"
    "  },\n"
    "  {\n"
    "   \"destination\": \"/dev\",\n"
    "   \"type\": \"tmpfs\",\n"
    "   \"source\": \"tmpfs\",\n"
    "   \"options\": [\n"
    "    \"nosuid\",\n"
    "    \"strictatime\",\n"
    "    \"mode=755\",\n"
    "    \"size=65536k\"\n"
    "   ]\n"
    "  },\n"
    "  {\n"
    "   \"destination\": \"/dev/pts\",\n"
    "   \"type\": \"devpts\",\n"
    "   \"source\": \"devpts\",\n"
    "   \"options\": [\n"
    "    \"nosuid\",\n"
    "    \"noexec\",\n"
    "    \"newinstance\",\n"
    "    \"ptmxmode=0666\",\n"
    "    \"mode=0620\",\n"
    "    \"gid=5\"\n"
    "   ]\n"
    "  },\n"
    "  {\n"
    "   \"destination\": \"/dev/shm\",\n"
    "   \"type\": \"tmpfs\",\n"
    "   \"source\": \"shm\",\n"
    "   \"options\": [\n"
    "    \"nosuid\",\n"
    "    \"noexec\",\n"
    "    \"nodev\",\n"
    "    \"mode=1777\",\n"
    "    \"size=65536k\"\n"
    "   ]\n"
    "  },\n"
    "  {\n"
    "   \"destination\": \"/dev/mqueue\",\n"
    "   \"type\": \"mqueue\",\n"
    "   \"source\": \"mqueue\",\n"
    "   \"options\": [\n"
    "    \"nosuid\",\n"
    "    \"noexec\",\n"
    "    \"nodev\"\n"
    "   ]\n"
    "  },\n"
    "  {\n"
    "   \"destination\": \"/sys\",\n"
    "   \"type\": \"sysfs\",\n"
    "   \"source\": \"sysfs\",\n"
    "   \"options\": [\n"
    "    \"nosuid\",\n"
    "    \"noexec\",\n"
    "    \"nodev\",\n"
    "    \"ro\"\n"
    "   ]\n"
    "  },\n"
    "  {\n"
    "   \"destination\": \"/run\",\n"
    "   \"type\": \"tmpfs\",\n"
    "   \"source\": \"tmpfs\",\n"
    "   \"options\": [\n"
    "    \"nosuid\",\n"
    "    \"strictatime\",\n"
    "    \"mode=755\",\n"
    "    \"size=65536k\"\n"
    "   ]\n"
    "  }\n"
    " ],\n"
    " \"linux\": {\n"
    "  \"resources\": {\n"
    "   \"devices\": [\n"
    "    {\n"
    "     \"allow\": false,\n"
    "     \"access\": \"rwm\"\n"
    "    }\n"
    "   ],\n"
    "   \"memory\": {\n"
    "    \"limit\": 134217728\n"
    "   },\n"
    "   \"cpu\": {\n"
    "    \"shares\": 512,\n"
    "    \"quota\": 50000,\n"
    "    \"period\": 100000\n"
    "   },\n"
    "   \"pids\": {\n"
    "    \"limit\": 64\n"
    "   }\n"
    "  },\n"
    "  \"cgroupsPath\": \"/default\",\n"
    "  \"namespaces\": [\n"
    "   {\n"
    "    \"type\": \"pid\"\n"
    "   },\n"
    "   {\n"
    "    \"type\": \"ipc\"\n"
    "   },\n"
    "   {\n"
    "    \"type\": \"uts\"\n"
    "   },\n"
    "   {\n"
    "    \"type\": \"mount\"\n"
    "   },\n"
    "   {\n"
    "    \"type\": \"network\"\n"
    "   }\n"
    "  ],\n"
    "  \"maskedPaths\": [\n"
    "   \"/proc/acpi\",\n"
    "   \"/proc/asound\",\n"
    "   \"/proc/kcore\",\n"
    "   \"/proc/keys\",\n"
    "   \"/proc/latency_stats\",\n"
    "   \"/proc/timer_list\",\n"
    "   \"/proc/timer_stats\",\n"
    "   \"/proc/sched_debug\",\n"
    "   \"/sys/firmware\",\n"
    "   \"/proc/scsi\"\n"
    "  ],\n"
    "  \"readonlyPaths\": [\n"
    "   \"/proc/bus\",\n"
    "   \"/proc/fs\",\n"
    "   \"/proc/irq\",\n"
    "   \"/proc/sys\",\n"
    "   \"/proc/sysrq-trigger\"\n"
    "  ]\n"
    " },\n"
    " \"hostname\": \"box\",\n"
    " \"annotations\": {\n"
    "  \"io.x\": \"1\",\n"
    "  \"k\": \"v\"\n"
    " }\n"
    "}\n"
;

static int
parse(OciSpec *s, const char *txt, char *err)
{
	return oci_parse(s, txt, strlen(txt), err);
}

static void
full(void)
{
	OciSpec s;
	char err[ERRLEN];
	size_t i;
	int sawnet = 0;

	CHECK(parse(&s, spec, err) == 0);
	CHECK(s.hasprocess);
	CHECK(s.args[0] && !strcmp(s.args[0], "sh") && !strcmp(s.args[2], "echo \"hi\"") &&
	    !s.args[3]);
	CHECK(s.env[1] && !strcmp(s.env[1], "TERM=xterm") && !s.env[2]);
	CHECK(!strcmp(s.cwd, "/"));
	CHECK(s.uid == 0 && s.gid == 0 && s.hasumask && s.umask == 18);
	CHECK(s.ngids == 2 && s.gids[0] == 10 && s.gids[1] == 4294967295u);
	CHECK(s.nonewprivs && !s.terminal);
	CHECK(s.nrlimits == 1 && s.rlimits[0].resource == RLIMIT_NOFILE &&
	    s.rlimits[0].soft == 1024 && s.rlimits[0].hard == 1024);
	CHECK(s.rootpath && !strcmp(s.rootpath, "rootfs") && s.rootro);
	CHECK(s.hostname && !strcmp(s.hostname, "box"));
	CHECK(s.nmounts == 7);
	CHECK(!strcmp(s.mounts[0].dest, "/proc") && !strcmp(s.mounts[0].type, "proc") &&
	    !strcmp(s.mounts[0].options[2], "nodev") && !s.mounts[0].options[3]);
	CHECK(!strcmp(s.mounts[5].dest, "/sys") && !strcmp(s.mounts[5].options[3], "ro"));
	CHECK(s.nns == 5);
	for (i = 0; i < s.nns; i++)
		sawnet |= !strcmp(s.ns[i].type, "network") && !s.ns[i].path;
	CHECK(sawnet);
	CHECK(s.memlimit == 134217728 && s.cpushares == 512 && s.cpuquota == 50000 &&
	    s.cpuperiod == 100000 && s.pidslimit == 64);
	CHECK(s.nanno == 2 && !strcmp(s.annokeys[0], "io.x") && !strcmp(s.annovals[1], "v"));
	/* ctr's default capabilities, masked and read-only paths */
	CHECK(s.hascaps && s.capbnd == s.capeff && s.capeff == s.capprm &&
	    s.capinh == 0 && s.capamb == 0 && !s.capunknown[0]);
	CHECK(s.capbnd == 0xa80425fbull);	/* what runc shows as CapBnd */
	CHECK(s.capbnd & 1ull << CAP_MKNOD && !(s.capbnd & 1ull << CAP_SYS_ADMIN));
	CHECK(s.masked[9] && !strcmp(s.masked[2], "/proc/kcore") && !s.masked[10]);
	CHECK(s.readonly[4] && !strcmp(s.readonly[3], "/proc/sys") && !s.readonly[5]);
	CHECK(!s.userns && !s.cgroupns && !s.seccomp);
	oci_free(&s);
	oci_free(&s);	/* twice is harmless: freed specs are zeroed */
}

/* the security fields: every kind of value, as runc reads them */
static void
security(void)
{
	OciSpec s;
	OciSyscall *c;
	char err[ERRLEN];

	CHECK(parse(&s, "{\"process\":{\"capabilities\":{"
	    "\"bounding\":[\"CAP_CHOWN\",\"CAP_SYS_ADMIN\",\"CAP_CHECKPOINT_RESTORE\","
	    "\"CAP_FUTURE\"],\"effective\":[\"CAP_KILL\"],\"permitted\":[\"CAP_KILL\","
	    "\"CAP_NET_RAW\"],\"inheritable\":null,\"ambient\":[\"CAP_NET_RAW\","
	    "\"CAP_FUTURE\",\"cap_kill\"]}},"
	    "\"linux\":{\"namespaces\":[{\"type\":\"user\"},{\"type\":\"cgroup\"},"
	    "{\"type\":\"network\",\"path\":\"/proc/1/ns/net\"}],"
	    "\"uidMappings\":[{\"containerID\":0,\"hostID\":100000,\"size\":65536}],"
	    "\"gidMappings\":[{\"containerID\":0,\"hostID\":200000,\"size\":1},"
	    "{\"containerID\":1,\"hostID\":300000,\"size\":4294967295}],"
	    "\"maskedPaths\":[\"/proc/kcore\"],\"readonlyPaths\":[],"
	    "\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,"
	    "\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"],"
	    "\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\"],"
	    "\"syscalls\":[{\"names\":[\"read\",\"write\"],\"action\":\"SCMP_ACT_ALLOW\"},"
	    "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":["
	    "{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"},"
	    "{\"index\":5,\"value\":18446744073709551615,\"valueTwo\":7,"
	    "\"op\":\"SCMP_CMP_MASKED_EQ\"}]},"
	    "{\"names\":[\"mount\"],\"action\":\"SCMP_ACT_ERRNO\"},"
	    "{\"names\":[\"umount2\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":0},"
	    "{\"names\":[\"ptrace\"],\"action\":\"SCMP_ACT_TRACE\",\"errnoRet\":4095},"
	    "{\"names\":[\"kexec_load\"],\"action\":\"SCMP_ACT_KILL_PROCESS\"},"
	    "{\"names\":[\"no_such_call\"],\"action\":\"SCMP_ACT_LOG\",\"args\":null}"
	    "]}}}", err) == 0);
	CHECK(s.hascaps);
	CHECK(s.capbnd == (1ull << CAP_CHOWN | 1ull << CAP_SYS_ADMIN |
	    1ull << CAP_CHECKPOINT_RESTORE));
	CHECK(s.capeff == 1ull << CAP_KILL && s.capinh == 0);
	CHECK(s.capprm == (1ull << CAP_KILL | 1ull << CAP_NET_RAW));
	CHECK(s.capamb == 1ull << CAP_NET_RAW);	/* names are case-sensitive, as in runc */
	CHECK(s.capunknown[0] && !strcmp(s.capunknown[0], "CAP_FUTURE") &&
	    s.capunknown[1] && !strcmp(s.capunknown[1], "cap_kill") && !s.capunknown[2]);
	CHECK(s.userns && s.cgroupns && s.nns == 3);
	CHECK(s.nuidmap == 1 && s.uidmap[0].ctr == 0 && s.uidmap[0].host == 100000 &&
	    s.uidmap[0].size == 65536);
	CHECK(s.ngidmap == 2 && s.gidmap[1].host == 300000 && s.gidmap[1].size == 4294967295u);
	CHECK(!strcmp(s.masked[0], "/proc/kcore") && !s.masked[1] && !s.readonly[0]);
	CHECK(s.seccomp && s.seccomp->defaction == (SECCOMP_RET_ERRNO | ENOSYS));
	CHECK(s.seccomp->archs == (OCI_ARCH_X86_64 | OCI_ARCH_X86 | OCI_ARCH_X32));
	CHECK(s.seccomp->flags == OCI_SCF_LOG);
	CHECK(s.seccomp->nsys == 7);
	c = s.seccomp->sys;
	CHECK(!strcmp(c[0].names[1], "write") && !c[0].names[2] &&
	    c[0].action == SECCOMP_RET_ALLOW && c[0].nargs == 0);
	CHECK(c[1].nargs == 2 && c[1].args[0].index == 0 && c[1].args[0].value == 8 &&
	    c[1].args[0].op == SC_EQ && c[1].args[0].value2 == 0);
	CHECK(c[1].args[1].index == 5 && c[1].args[1].value == UINT64_MAX &&
	    c[1].args[1].value2 == 7 && c[1].args[1].op == SC_MASKEDEQ);
	CHECK(c[2].action == (SECCOMP_RET_ERRNO | EPERM));	/* errnoRet absent: EPERM */
	CHECK(c[3].action == SECCOMP_RET_ERRNO);		/* errnoRet 0 */
	CHECK(c[4].action == (SECCOMP_RET_TRACE | 4095));
	CHECK(c[5].action == SECCOMP_RET_KILL_PROCESS);
	CHECK(c[6].action == SECCOMP_RET_LOG && !strcmp(c[6].names[0], "no_such_call"));
	oci_free(&s);
	/* an empty capabilities object: every set empty, nothing kept */
	CHECK(parse(&s, "{\"process\":{\"capabilities\":{}},"
	    "\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_KILL\"}}}", err) == 0);
	CHECK(s.hascaps && !s.capbnd && !s.capeff && !s.capprm && !s.capamb);
	CHECK(s.seccomp && s.seccomp->defaction == SECCOMP_RET_KILL_THREAD &&
	    s.seccomp->nsys == 0 && s.seccomp->archs == 0);
	oci_free(&s);
	/* no capabilities object: the agent keeps what it has (hascaps 0) */
	CHECK(parse(&s, "{\"process\":{}}", err) == 0);
	CHECK(!s.hascaps && s.capunknown && !s.capunknown[0] && s.masked && s.readonly);
	oci_free(&s);
}

static void
defaults(void)
{
	OciSpec s;
	char err[ERRLEN];

	CHECK(parse(&s, " {} ", err) == 0);
	CHECK(!s.hasprocess && s.args && !s.args[0] && s.env && !s.env[0]);
	CHECK(s.cwd && !strcmp(s.cwd, "/"));
	CHECK(s.memlimit == -1 && s.cpuquota == -1 && s.pidslimit == -1 &&
	    s.cpushares == 0 && s.cpuperiod == 0);
	CHECK(!s.rootpath && !s.hostname && s.nmounts == 0 && s.nns == 0 && s.nanno == 0);
	oci_free(&s);
	/* null is absent; unknown fields of any shape are skipped */
	CHECK(parse(&s, "{\"process\":{\"args\":null,\"cwd\":null,\"x\":[{},[],1e5]},"
	    "\"hostname\":null,\"future\":{\"a\":[true,false,null,-0.5E-3]}}", err) == 0);
	CHECK(s.hasprocess && !s.args[0] && !strcmp(s.cwd, "/") && !s.hostname);
	oci_free(&s);
	/* no limit in the config (-1, 0) is none */
	CHECK(parse(&s, "{\"linux\":{\"resources\":{\"memory\":{\"limit\":-1},"
	    "\"pids\":{\"limit\":0},\"cpu\":{\"quota\":-1}}}}", err) == 0);
	CHECK(s.memlimit == -1 && s.pidslimit == -1 && s.cpuquota == -1);
	oci_free(&s);
}

static void
escapes(void)
{
	OciSpec s;
	char err[ERRLEN];

	CHECK(parse(&s, "{\"hostname\":\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\u20ac\\ud83d\\ude00\"}",
	    err) == 0);
	CHECK(s.hostname && !strcmp(s.hostname,
	    "a\"b\\c/d\n\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
	oci_free(&s);
	/* raw UTF-8 passes through */
	CHECK(parse(&s, "{\"hostname\":\"\xc3\xa9t\xc3\xa9\"}", err) == 0);
	CHECK(s.hostname && !strcmp(s.hostname, "\xc3\xa9t\xc3\xa9"));
	oci_free(&s);
}

static const struct {
	const char *json, *want;	/* want: words the error must contain */
} bad[] = {
	{ "", "value expected" },
	{ "   ", "value expected" },
	{ "{", "member name" },
	{ "{\"a\"", "':' expected" },
	{ "{\"a\":", "value expected" },
	{ "{\"a\":1", "',' or '}'" },
	{ "{\"a\":1,}", "member name" },
	{ "{a:1}", "member name" },
	{ "[1,]", "value expected" },
	{ "[1 2]", "',' or ']'" },
	{ "{} x", "text after" },
	{ "{}{}", "text after" },
	{ "tru", "invalid literal" },
	{ "nul", "invalid literal" },
	{ "{\"a\":01}", "',' or '}'" },
	{ "{\"a\":1.}", "digit expected" },
	{ "{\"a\":-}", "digit expected" },
	{ "{\"a\":1e}", "digit expected" },
	{ "{\"a\":+1}", "value expected" },
	{ "{\"a\":\"x}", "unterminated string" },
	{ "{\"a\":\"x\\", "unterminated string" },
	{ "{\"a\":\"\\x\"}", "invalid escape" },
	{ "{\"a\":\"\\u12\"}", "hex digit" },
	{ "{\"a\":\"\\u12", "short \\u escape" },
	{ "{\"a\":\"\\ud800\"}", "high surrogate" },
	{ "{\"a\":\"\\ud800\\u0041\"}", "high surrogate" },
	{ "{\"a\":\"\\udc00\"}", "lone low surrogate" },
	{ "{\"a\":\"\\u0000\"}", "\\u0000" },
	{ "{\"a\":\"\t\"}", "control character" },
	{ "{\"a\":\"\n\"}", "control character" },
	{ "[]", "top level is not an object" },
	{ "\"x\"", "top level is not an object" },
	{ "{\"process\":[]}", "process: an object expected" },
	{ "{\"process\":{\"args\":\"sh\"}}", "process.args: an array of strings" },
	{ "{\"process\":{\"args\":[\"sh\",1]}}", "process.args: an array of strings" },
	{ "{\"process\":{\"env\":{}}}", "process.env: an array of strings" },
	{ "{\"process\":{\"cwd\":\"tmp\"}}", "not an absolute path" },
	{ "{\"process\":{\"cwd\":5}}", "process.cwd: a string" },
	{ "{\"process\":{\"terminal\":\"yes\"}}", "process.terminal: true or false" },
	{ "{\"process\":{\"user\":{\"uid\":-1}}}", "process.user.uid: -1 is out of range" },
	{ "{\"process\":{\"user\":{\"uid\":4294967296}}}", "out of range" },
	{ "{\"process\":{\"user\":{\"gid\":1.5}}}", "process.user.gid: an integer" },
	{ "{\"process\":{\"user\":{\"uid\":\"0\"}}}", "process.user.uid: an integer" },
	{ "{\"process\":{\"user\":{\"additionalGids\":[1,\"2\"]}}}", "additionalGids" },
	{ "{\"process\":{\"rlimits\":[{\"type\":\"RLIMIT_FOO\",\"soft\":1,\"hard\":1}]}}",
	    "unknown rlimit type 'RLIMIT_FOO'" },
	{ "{\"process\":{\"rlimits\":[{\"soft\":1}]}}", "process.rlimits[0]" },
	{ "{\"process\":{\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":-1}]}}",
	    "non-negative" },
	{ "{\"process\":{\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":"
	    "18446744073709551616}]}}", "out of range" },
	{ "{\"root\":{\"path\":[]}}", "root.path: a string" },
	{ "{\"root\":{\"readonly\":1}}", "root.readonly" },
	{ "{\"mounts\":{}}", "mounts: an array of objects" },
	{ "{\"mounts\":[1]}", "mounts: an array of objects" },
	{ "{\"mounts\":[{\"type\":\"proc\"}]}", "destination must be an absolute path" },
	{ "{\"mounts\":[{\"destination\":\"proc\"}]}", "destination must be an absolute" },
	{ "{\"mounts\":[{\"destination\":\"/p\",\"options\":[null]}]}", "mounts.options" },
	{ "{\"linux\":{\"namespaces\":[{\"path\":\"/x\"}]}}", "linux.namespaces.type" },
	{ "{\"linux\":{\"resources\":{\"memory\":{\"limit\":\"1G\"}}}}",
	    "linux.resources.memory.limit: an integer" },
	{ "{\"linux\":{\"resources\":{\"cpu\":{\"shares\":-2}}}}", "cpu.shares" },
	{ "{\"linux\":{\"resources\":{\"pids\":{\"limit\":9223372036854775808}}}}",
	    "out of range" },
	{ "{\"annotations\":{\"a\":1}}", "annotations: 'a'" },
	{ "{\"process\":{\"capabilities\":[]}}", "process.capabilities: an object" },
	{ "{\"process\":{\"capabilities\":{\"bounding\":\"CAP_KILL\"}}}",
	    "process.capabilities.bounding: an array of strings" },
	{ "{\"process\":{\"capabilities\":{\"ambient\":[1]}}}",
	    "process.capabilities.ambient" },
	{ "{\"linux\":{\"namespaces\":[{\"type\":\"users\"}]}}", "unknown type 'users'" },
	{ "{\"linux\":{\"namespaces\":[{\"type\":\"user\"}]}}", "needs linux.uidMappings" },
	{ "{\"linux\":{\"namespaces\":[{\"type\":\"user\"}],\"uidMappings\":"
	    "[{\"containerID\":0,\"hostID\":1,\"size\":1}]}}", "gidMappings" },
	{ "{\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}],"
	    "\"gidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":1}]}}",
	    "need a new user namespace" },
	{ "{\"linux\":{\"uidMappings\":[{\"containerID\":0,\"size\":1}]}}",
	    "linux.uidMappings[0]: containerID, hostID and size are required" },
	{ "{\"linux\":{\"gidMappings\":[{\"containerID\":0,\"hostID\":-1,\"size\":1}]}}",
	    "linux.gidMappings: -1 is out of range" },
	{ "{\"linux\":{\"uidMappings\":{}}}", "linux.uidMappings: an array of objects" },
	{ "{\"linux\":{\"maskedPaths\":[\"proc/kcore\"]}}",
	    "linux.maskedPaths: 'proc/kcore' is not an absolute path" },
	{ "{\"linux\":{\"readonlyPaths\":[\"/a\",2]}}", "linux.readonlyPaths: an array" },
	{ "{\"linux\":{\"seccomp\":[]}}", "linux.seccomp: an object" },
	{ "{\"linux\":{\"seccomp\":{}}}", "linux.seccomp.defaultAction: an SCMP_ACT_*" },
	{ "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_DENY\"}}}",
	    "unknown seccomp action 'SCMP_ACT_DENY'" },
	{ "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_NOTIFY\"}}}",
	    "husk does not support 'SCMP_ACT_NOTIFY'" },
	{ "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\","
	    "\"defaultErrnoRet\":4096}}}", "defaultErrnoRet: 4096 is past the largest errno" },
	{ "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ERRNO\","
	    "\"defaultErrnoRet\":-1}}}", "defaultErrnoRet: -1 is out of range" },
	{ "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	    "\"architectures\":[\"SCMP_ARCH_VAX\"]}}}", "unknown architecture 'SCMP_ARCH_VAX'" },
	{ "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	    "\"flags\":[\"SECCOMP_FILTER_FLAG_NEW_LISTENER\"]}}}", "unknown flag" },
	{ "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	    "\"syscalls\":{}}}}", "linux.seccomp.syscalls: an array of objects" },
	{ "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	    "\"syscalls\":[{\"action\":\"SCMP_ACT_ERRNO\"}]}}}",
	    "syscalls[0].names: at least one name" },
	{ "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	    "\"syscalls\":[{\"names\":[\"read\"]}]}}}", "syscalls.action: an SCMP_ACT_*" },
	{ "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	    "\"syscalls\":[{\"names\":[\"read\",null],\"action\":\"SCMP_ACT_ERRNO\"}]}}}",
	    "syscalls.names: an array of strings" },
	{ "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	    "\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	    "\"errnoRet\":\"1\"}]}}}", "syscalls.errnoRet: an integer" },
	{ "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	    "\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	    "\"args\":[{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}}}",
	    "args[0].index: 6 is not an argument" },
	{ "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	    "\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	    "\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_XOR\"}]}]}}}",
	    "unknown operator 'SCMP_CMP_XOR'" },
	{ "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	    "\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	    "\"args\":[{\"index\":0,\"op\":\"SCMP_CMP_EQ\"}]}]}}}",
	    "index, value and op are required" },
	{ "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	    "\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	    "\"args\":[{\"index\":0,\"value\":-5,\"op\":\"SCMP_CMP_EQ\"}]}]}}}",
	    "args.value: a non-negative integer" },
	{ "{\"linux\":{\"seccomp\":{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	    "\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ERRNO\","
	    "\"args\":[{\"index\":0,\"value\":1,\"op\":3}]}]}}}",
	    "args.op: an SCMP_CMP_* string" },
	{ "{\"annotations\":[]}", "annotations: an object" },
};

static void
malformed(void)
{
	OciSpec s;
	char err[ERRLEN];
	size_t i;

	for (i = 0; i < LEN(bad); i++) {
		err[0] = '\0';
		if (parse(&s, bad[i].json, err) == 0) {
			printf("  accepted: %s\n", bad[i].json);
			CHECK(0);
			oci_free(&s);
			continue;
		}
		if (!strstr(err, bad[i].want) || strncmp(err, "config.json: ", 13)) {
			printf("  %s\n    gave: %s\n    want: %s\n", bad[i].json, err, bad[i].want);
			CHECK(0);
		}
		CHECK(s.args == NULL && s.mounts == NULL);	/* freed and zeroed */
	}
}

static void
position(void)
{
	OciSpec s;
	char err[ERRLEN];

	CHECK(parse(&s, "{\n  \"a\": 1,\n  \"b\": tx\n}", err) < 0);
	CHECK(strstr(err, "line 3, column 8: invalid literal") != NULL);
	CHECK(parse(&s, "{\"a\":", err) < 0);
	CHECK(strstr(err, "at the end of the input") != NULL);
}

static void
limits(void)
{
	OciSpec s;
	char err[ERRLEN], *b;
	size_t i, n = 1000;

	/* nesting: 64 levels are read, 65 are refused */
	b = emalloc(2 * n + 16);
	for (i = 0; i < 64; i++)
		b[i] = '[';
	for (i = 0; i < 64; i++)
		b[64 + i] = ']';
	b[128] = '\0';
	CHECK(parse(&s, b, err) < 0 && strstr(err, "not an object"));
	b[0] = '{';
	memcpy(b + 1, "\"x\":", 4);
	for (i = 0; i < n; i++)
		b[5 + i] = '[';
	b[5 + n] = '\0';
	CHECK(parse(&s, b, err) < 0 && strstr(err, "nested too deep"));
	free(b);
	/* past OCI_MAXJSON, before reading a byte */
	b = emalloc(OCI_MAXJSON + 1);
	memset(b, ' ', OCI_MAXJSON + 1);
	b[0] = '{';
	b[OCI_MAXJSON - 1] = '}';
	CHECK(oci_parse(&s, b, OCI_MAXJSON, err) == 0);
	oci_free(&s);
	CHECK(oci_parse(&s, b, OCI_MAXJSON + 1, err) < 0 && strstr(err, "more than"));
	free(b);
	/* the length is the input, not a NUL: no read past it */
	b = emalloc(2);
	memcpy(b, "{}", 2);
	CHECK(oci_parse(&s, b, 1, err) < 0);
	CHECK(oci_parse(&s, b, 2, err) == 0);
	oci_free(&s);
	free(b);
}

/* every proper prefix fails; byte flips never crash (ASan watches) */
static void
prefixes(void)
{
	OciSpec s;
	char err[ERRLEN], *b;
	size_t n = strlen(spec) - 1, i, ok = 0;	/* without the final newline */
	unsigned seed = 1;

	for (i = 0; i < n; i++) {
		b = emalloc(i ? i : 1);	/* exact size: ASan sees any overread */
		memcpy(b, spec, i);
		if (oci_parse(&s, b, i, err) == 0) {
			ok++;
			oci_free(&s);
		}
		free(b);
	}
	CHECK(ok == 0);
	for (i = 0; i < 20000; i++) {
		b = emalloc(n);
		memcpy(b, spec, n);
		seed = seed * 1103515245 + 12345;
		b[(seed >> 8) % n] = seed >> 24;
		seed = seed * 1103515245 + 12345;
		b[(seed >> 8) % n] = "{}[]\",:\\0-e"[(seed >> 24) % 11];
		if (oci_parse(&s, b, n, err) == 0)
			oci_free(&s);
		free(b);
	}
}

static int
pproc(OciSpec *s, const char *txt, char *err)
{
	return oci_parse_process(s, txt, strlen(txt), err);
}

/* what containerd's ExecProcessRequest.spec holds, as oci_parse_process reads it */
static void
execprocess(void)
{
	static const char proc[] =
	    "{\"user\":{\"uid\":1000,\"gid\":1001,\"additionalGids\":[5,6]},"
	    "\"args\":[\"sh\",\"-c\",\"echo hi\"],\"env\":[\"PATH=/bin\",\"TERM=xterm\"],"
	    "\"cwd\":\"/tmp\",\"terminal\":true,\"noNewPrivileges\":true,"
	    "\"apparmorProfile\":\"cri-containerd.apparmor.d\",\"oomScoreAdj\":5,"
	    "\"capabilities\":{\"bounding\":[\"CAP_KILL\"],\"effective\":[\"CAP_KILL\"],"
	    "\"permitted\":[\"CAP_KILL\",\"CAP_NOPE\"]},"
	    "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":512}],"
	    "\"consoleSize\":{\"height\":24,\"width\":80}}";
	OciSpec s;
	char err[ERRLEN];

	err[0] = '\0';
	CHECK(oci_parse_process(&s, proc, strlen(proc), err) == 0);
	CHECK(s.hasprocess && s.args[0] && !strcmp(s.args[2], "echo hi") && !s.args[3]);
	CHECK(!strcmp(s.env[1], "TERM=xterm") && !strcmp(s.cwd, "/tmp"));
	CHECK(s.uid == 1000 && s.gid == 1001 && s.ngids == 2 && s.gids[1] == 6);
	CHECK(s.terminal && s.nonewprivs && s.hascaps);
	CHECK(s.capbnd == 1ull << CAP_KILL && s.capprm == 1ull << CAP_KILL &&
	    s.capinh == 0 && s.capunknown[0] && !strcmp(s.capunknown[0], "CAP_NOPE"));
	CHECK(s.nrlimits == 1 && s.rlimits[0].resource == RLIMIT_NOFILE &&
	    s.rlimits[0].soft == 512 && s.rlimits[0].hard == 1024);
	/* nothing but the process: the rest keeps its defaults */
	CHECK(s.resset == 0 && s.nmounts == 0 && !s.rootpath && s.memlimit == -1);
	oci_free(&s);
	CHECK(pproc(&s, "{}", err) == 0);
	CHECK(!s.args[0] && !strcmp(s.cwd, "/") && !s.hascaps);
	oci_free(&s);
	CHECK(pproc(&s, "{\"cwd\":\"tmp\"}", err) < 0 &&
	    strstr(err, "not an absolute path"));
	CHECK(pproc(&s, "{\"args\":[1]}", err) < 0 &&
	    strstr(err, "process.args"));
	CHECK(pproc(&s, "[]", err) < 0 && strstr(err, "not an object"));
	CHECK(pproc(&s, "{\"user\":{\"uid\":-1}}", err) < 0 &&
	    strstr(err, "uid"));
}

static int
res(OciSpec *s, const char *txt, char *err)
{
	return oci_parse_resources(s, txt, strlen(txt), err);
}

/* an OCI linux.resources object alone, as Update takes it */
static void
resources(void)
{
	OciSpec s;
	char err[ERRLEN];

	CHECK(res(&s, "{\"memory\":{\"limit\":268435456,\"reservation\":1048576,"
	    "\"swap\":536870912},\"cpu\":{\"shares\":1024,\"quota\":20000,"
	    "\"period\":100000,\"cpus\":\"0-1\",\"mems\":\"0\"},"
	    "\"pids\":{\"limit\":100},\"blockIO\":{\"weight\":500},"
	    "\"devices\":[{\"allow\":false,\"access\":\"rwm\"}],"
	    "\"hugepageLimits\":[]}", err) == 0);
	CHECK(s.memlimit == 268435456 && s.memreserve == 1048576 &&
	    s.memswap == 536870912);
	CHECK(s.cpushares == 1024 && s.cpuquota == 20000 && s.cpuperiod == 100000 &&
	    !strcmp(s.cpus, "0-1") && !strcmp(s.mems, "0"));
	CHECK(s.pidslimit == 100 && s.blkioweight == 500);
	CHECK(s.resset == (OCI_RMEM | OCI_RMEMRES | OCI_RSWAP | OCI_RSHARES |
	    OCI_RQUOTA | OCI_RPERIOD | OCI_RCPUS | OCI_RMEMS | OCI_RPIDS | OCI_RBLKIO));
	oci_free(&s);
	/* only what is given is set; -1 is given, and unlimited */
	CHECK(res(&s, "{\"memory\":{\"limit\":-1,\"swap\":-7}}", err) == 0);
	CHECK(s.resset == (OCI_RMEM | OCI_RSWAP) && s.memlimit == -1 && s.memswap == -1);
	CHECK(s.pidslimit == -1 && s.cpuquota == -1 && !s.cpus);
	oci_free(&s);
	CHECK(res(&s, "{}", err) == 0 && s.resset == 0);
	oci_free(&s);
	CHECK(res(&s, "{\"cpu\":{\"quota\":0},\"pids\":{\"limit\":0}}", err) == 0);
	CHECK(s.resset == (OCI_RQUOTA | OCI_RPIDS) && s.cpuquota == -1 &&
	    s.pidslimit == -1);
	oci_free(&s);
	/* the same object inside a config.json */
	CHECK(parse(&s, "{\"linux\":{\"resources\":{\"cpu\":{\"cpus\":\"1\"},"
	    "\"memory\":{\"reservation\":5}}}}", err) == 0);
	CHECK(s.resset == (OCI_RCPUS | OCI_RMEMRES) && !strcmp(s.cpus, "1") &&
	    s.memreserve == 5);
	oci_free(&s);
	CHECK(res(&s, "{\"blockIO\":{\"weight\":5}}", err) < 0 && strstr(err, "10..1000"));
	CHECK(res(&s, "{\"blockIO\":{\"weight\":1001}}", err) < 0);
	CHECK(res(&s, "{\"memory\":{\"limit\":\"1G\"}}", err) < 0 &&
	    strstr(err, "memory.limit"));
	CHECK(res(&s, "{\"cpu\":{\"cpus\":7}}", err) < 0 && strstr(err, "cpu.cpus"));
	CHECK(res(&s, "{\"memory\":[]}", err) < 0 && strstr(err, "an object"));
	CHECK(res(&s, "{\"pids\":{\"limit\":1}", err) < 0);
	CHECK(res(&s, "7", err) < 0);
}

static void
sysctls(void)
{
	OciSpec s;
	char err[ERRLEN];

	CHECK(parse(&s, "{\"linux\":{\"sysctl\":{\"net.ipv4.ip_forward\":\"1\","
	    "\"kernel.shmmax\":\"4096\"}}}", err) == 0);
	CHECK(s.nsysctl == 2 && !strcmp(s.sysctlkeys[0], "net.ipv4.ip_forward") &&
	    !strcmp(s.sysctlvals[1], "4096") && !s.sysctlkeys[2]);
	oci_free(&s);
	CHECK(parse(&s, "{\"linux\":{\"sysctl\":{\"a/b\":\"1\"}}}", err) < 0 &&
	    strstr(err, "invalid key"));
	CHECK(parse(&s, "{\"linux\":{\"sysctl\":{\"net..x\":\"1\"}}}", err) < 0);
	CHECK(parse(&s, "{\"linux\":{\"sysctl\":{\".net\":\"1\"}}}", err) < 0);
	CHECK(parse(&s, "{\"linux\":{\"sysctl\":{\"\":\"1\"}}}", err) < 0);
	CHECK(parse(&s, "{\"linux\":{\"sysctl\":{\"a\":1}}}", err) < 0 &&
	    strstr(err, "linux.sysctl"));
}

int
main(void)
{
	RUN(full);
	RUN(defaults);
	RUN(escapes);
	RUN(security);
	RUN(malformed);
	RUN(position);
	RUN(limits);
	RUN(prefixes);
	RUN(execprocess);
	RUN(resources);
	RUN(sysctls);
	return TDONE();
}
