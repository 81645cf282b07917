/* See LICENSE file for copyright and license details. */
/*
 * agent/cgroup.c's parsers: the text of cgroup v2 files as the guest
 * kernel writes them, and hostile text (huge numbers, garbage lines,
 * missing files, more devices than reported, random bytes), into
 * AgentStats. Included whole, so the file's static helpers are tested
 * as they are built.
 */
#include <stdlib.h>
#include <string.h>

#include "../agent/cgroup.c"
#include "t.h"

static void
cpu(void)
{
	AgentStats st;

	memset(&st, 0, sizeof(st));
	cg_cpustat("usage_usec 1234\nuser_usec 1000\nsystem_usec 234\n"
	    "core_sched.force_idle_usec 0\nnr_periods 10\nnr_throttled 3\n"
	    "throttled_usec 999\nnr_bursts 0\nburst_usec 0\n", &st);
	CHECK(st.cpuusage == 1234 && st.cpuuser == 1000 && st.cpusystem == 234);
	CHECK(st.nrperiods == 10 && st.nrthrottled == 3 && st.throttledusec == 999);
}

static void
memory(void)
{
	AgentStats st;

	memset(&st, 0, sizeof(st));
	cg_memstat("anon 69632\nfile 4096\nkernel 98304\nkernel_stack 16384\n"
	    "pagetables 32768\nsec_pagetables 0\npercpu 0\nsock 7\nvmalloc 0\n"
	    "shmem 8\nzswap 0\nfile_mapped 9\nfile_dirty 10\nfile_writeback 11\n"
	    "swapcached 0\nanon_thp 0\ninactive_anon 12\nactive_anon 13\n"
	    "inactive_file 14\nactive_file 15\nunevictable 16\nslab_reclaimable 1\n"
	    "slab_unreclaimable 2\nslab 17\npgfault 18\npgmajfault 19\n", &st);
	CHECK(st.anon == 69632 && st.file == 4096 && st.kernelstack == 16384);
	CHECK(st.sock == 7 && st.shmem == 8 && st.filemapped == 9 &&
	    st.filedirty == 10 && st.filewriteback == 11);
	CHECK(st.inactiveanon == 12 && st.activeanon == 13 && st.inactivefile == 14 &&
	    st.activefile == 15 && st.unevictable == 16 && st.slab == 17);
	CHECK(st.pgfault == 18 && st.pgmajfault == 19);
	cg_memevents("low 1\nhigh 2\nmax 3\noom 4\noom_kill 5\noom_group_kill 6\n", &st);
	CHECK(st.evlow == 1 && st.evhigh == 2 && st.evmax == 3 && st.evoom == 4 &&
	    st.evoomkill == 5);
}

static void
values(void)
{
	CHECK(cg_value("12345\n") == 12345);
	CHECK(cg_value("0\n") == 0);
	CHECK(cg_value("max\n") == 0);
	CHECK(cg_value(NULL) == 0);
	CHECK(cg_value("") == 0);
	CHECK(cg_value("-5\n") == 0);
	CHECK(cg_value(" 5\n") == 0);
	CHECK(cg_value("5x\n") == 0);
	CHECK(cg_value("18446744073709551615\n") == UINT64_MAX);
	CHECK(cg_value("18446744073709551614") == UINT64_MAX - 1);
	CHECK(cg_value("18446744073709551616\n") == UINT64_MAX);
	CHECK(cg_value("99999999999999999999999999999999999999999999\n") == UINT64_MAX);
	CHECK(cg_frozen("populated 1\nfrozen 1\n") == 1);
	CHECK(cg_frozen("populated 1\nfrozen 0\n") == 0);
	CHECK(cg_frozen("frozen") == 0);
	CHECK(cg_frozen(NULL) == 0);
}

/* garbage lines are skipped, the good ones around them still count */
static void
hostile(void)
{
	AgentStats st, zero;

	memset(&zero, 0, sizeof(zero));
	memset(&st, 0, sizeof(st));
	cg_cpustat(NULL, &st);
	cg_memstat(NULL, &st);
	cg_memevents(NULL, &st);
	cg_iostat(NULL, &st);
	cg_memstat("", &st);
	cg_iostat("", &st);
	CHECK(!memcmp(&st, &zero, sizeof(st)));
	cg_memstat("anon\nanon \nanon 12x\n anon 5\nanon 5 6\nfile -1\n"
	    "\n\n\x01\xff garbage\nfile\t4\nshmem 99999999999999999999999999\n"
	    "slab 3", &st);
	CHECK(st.anon == 0 && st.file == 0 && st.shmem == UINT64_MAX && st.slab == 3);
	cg_memstat("anonx 7\nano 7\n", &st);
	CHECK(st.anon == 0);
	cg_cpustat("usage_usec 18446744073709551616\nuser_usec 1", &st);
	CHECK(st.cpuusage == UINT64_MAX && st.cpuuser == 1);
	/* a key on a later line is not taken for this one */
	memset(&st, 0, sizeof(st));
	cg_memstat("anon\n5\nfile 6\n", &st);
	CHECK(st.anon == 0 && st.file == 6);
}

static void
io(void)
{
	AgentStats st;
	char text[4096];
	size_t i;

	memset(&st, 0, sizeof(st));
	cg_iostat("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6\n"
	    "254:16 rbytes=10 wbytes=20 rios=30 wios=40\n", &st);
	CHECK(st.nio == 2);
	CHECK(st.io[0].major == 8 && st.io[0].minor == 0 && st.io[0].rbytes == 1 &&
	    st.io[0].wbytes == 2 && st.io[0].rios == 3 && st.io[0].wios == 4);
	CHECK(st.io[1].major == 254 && st.io[1].minor == 16 && st.io[1].wios == 40);
	/* unknown and broken fields, broken device names, huge values */
	memset(&st, 0, sizeof(st));
	cg_iostat("garbage\n:1 rbytes=1\n8: rbytes=1\n8:1x rbytes=1\n"
	    "99999999999999:1 rbytes=1\n"
	    "7:2 new=9 rbytes=x wbytes=99999999999999999999999 rios=5=5 wios=6\n"
	    "7:3\n", &st);
	CHECK(st.nio == 2);
	CHECK(st.io[0].major == 7 && st.io[0].minor == 2 && st.io[0].rbytes == 0 &&
	    st.io[0].wbytes == UINT64_MAX && st.io[0].rios == 0 && st.io[0].wios == 6);
	CHECK(st.io[1].major == 7 && st.io[1].minor == 3);
	/* more devices than a reply carries */
	text[0] = '\0';
	for (i = 0; i < 3 * AGENT_MAXIO; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
		    "8:%zu rbytes=%zu\n", i, i);
	memset(&st, 0, sizeof(st));
	cg_iostat(text, &st);
	CHECK(st.nio == AGENT_MAXIO && st.io[AGENT_MAXIO - 1].rbytes == AGENT_MAXIO - 1);
}

/* random text never makes a parser read or write out of bounds (ASan) */
static void
random_(void)
{
	static const char alpha[] = "0123456789 \n:=abcdefmaxnoom_kilrbytesanon\t";
	char text[512];
	AgentStats st;
	int round;
	size_t i, n;

	srand(7);
	for (round = 0; round < 20000; round++) {
		n = rand() % (sizeof(text) - 1);
		for (i = 0; i < n; i++)
			text[i] = round & 1 ? alpha[rand() % (sizeof(alpha) - 1)] :
			    (char)(1 + rand() % 255);
		text[n] = '\0';
		memset(&st, 0, sizeof(st));
		cg_cpustat(text, &st);
		cg_memstat(text, &st);
		cg_memevents(text, &st);
		cg_iostat(text, &st);
		cg_value(text);
		cg_frozen(text);
		CHECK(st.nio <= AGENT_MAXIO);
	}
}

int
main(void)
{
	RUN(cpu);
	RUN(memory);
	RUN(values);
	RUN(hostile);
	RUN(io);
	RUN(random_);
	return TDONE();
}
