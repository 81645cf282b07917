/* See LICENSE file for copyright and license details. */
/*
 * netlink.c: nl_parse on hand-made replies, good and hostile (truncated
 * headers, lengths past the end or below their header, zero-length
 * attributes, errors with and without their payload, dumps in several
 * datagrams), then, as root where unshare(CLONE_NEWNET) works, the real
 * thing in a fresh namespace entered only through nl_open's path: a veth
 * pair, addresses, routes and a neighbour written and read back, a
 * rename, a tap,
 * the redirect between veth and tap with frames sent through it both ways,
 * and the teardown, after which nothing of it remains. What this machine
 * cannot do prints SKIP with the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "../husk.h"
#include "t.h"
#include "netns.h"

#define SEQ	7
#define VNETHDR	10	/* struct virtio_net_hdr, the tap's default */
#define ETHTEST	0x88b5	/* IEEE local experimental ethertype */

/* a datagram as the kernel would send it */
typedef struct {
	uint8_t b[65536];
	size_t n;
} Dgram;

static Dgram d;
static NlReq r;

/* r, finished as a reply message, appended to d */
static void
add(uint32_t seq, uint16_t flags)
{
	struct nlmsghdr h;

	memcpy(&h, r.b, sizeof(h));
	h.nlmsg_len = r.n;
	h.nlmsg_seq = seq;
	h.nlmsg_flags = flags;
	h.nlmsg_pid = 0;
	memcpy(r.b, &h, sizeof(h));
	memcpy(d.b + d.n, r.b, r.n);
	d.n += r.n;
}

static void
done(int code)
{
	nl_req(&r, NLMSG_DONE, 0, &code, sizeof(code));
	add(SEQ, NLM_F_MULTI);
}

static void
ack(int code)
{
	struct nlmsgerr e;

	memset(&e, 0, sizeof(e));
	e.error = code;
	e.msg.nlmsg_len = sizeof(e.msg);
	nl_req(&r, NLMSG_ERROR, 0, &e, sizeof(e));
	add(SEQ, NLM_F_CAPPED);
}

static void
mklink(int index, const char *name, const char *kind, unsigned mtu, int peer)
{
	struct ifinfomsg ifi;
	uint8_t mac[6] = { 2, 0, 0, 0, 0, index };
	size_t li;

	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_index = index;
	ifi.ifi_flags = IFF_UP;
	nl_req(&r, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	nl_attr(&r, IFLA_IFNAME, name, strlen(name) + 1);
	nl_attr(&r, IFLA_ADDRESS, mac, sizeof(mac));
	nl_attr(&r, IFLA_MTU, &mtu, sizeof(mtu));
	if (peer)
		nl_attr(&r, IFLA_LINK, &peer, sizeof(peer));
	if (kind) {
		li = nl_nest(&r, IFLA_LINKINFO);
		nl_attr(&r, IFLA_INFO_KIND, kind, strlen(kind));
		nl_end(&r, li);
	}
	add(SEQ, NLM_F_MULTI);
}

static void
ipattr(int type, int family, const char *ip)
{
	uint8_t a[16];

	inet_pton(family, ip, a);
	nl_attr(&r, type, a, family == AF_INET ? 4 : 16);
}

static void
addr(int family, const char *ip, unsigned prefix, int index)
{
	struct ifaddrmsg ifa = { .ifa_family = family, .ifa_prefixlen = prefix,
		.ifa_index = index };

	nl_req(&r, RTM_NEWADDR, 0, &ifa, sizeof(ifa));
	ipattr(IFA_ADDRESS, family, ip);
	add(SEQ, NLM_F_MULTI);
}

static void
route(int family, const char *dst, unsigned len, const char *gw, int oif,
    int table, int type)
{
	struct rtmsg rtm;
	uint32_t t = table;

	memset(&rtm, 0, sizeof(rtm));
	rtm.rtm_family = family;
	rtm.rtm_dst_len = len;
	rtm.rtm_table = RT_TABLE_UNSPEC;
	rtm.rtm_type = type;
	rtm.rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	nl_req(&r, RTM_NEWROUTE, 0, &rtm, sizeof(rtm));
	nl_attr(&r, RTA_TABLE, &t, sizeof(t));
	if (dst)
		ipattr(RTA_DST, family, dst);
	if (gw)
		ipattr(RTA_GATEWAY, family, gw);
	nl_attr(&r, RTA_OIF, &oif, sizeof(oif));
	add(SEQ, NLM_F_MULTI);
}

static void
neigh(int family, const char *ip, int index, int state, int lladdr)
{
	struct ndmsg ndm = { .ndm_family = family, .ndm_ifindex = index,
		.ndm_state = state };
	uint8_t mac[6] = { 2, 0, 0, 0, 0, 0x99 };

	nl_req(&r, RTM_NEWNEIGH, 0, &ndm, sizeof(ndm));
	ipattr(NDA_DST, family, ip);
	if (lladdr)
		nl_attr(&r, NDA_LLADDR, mac, sizeof(mac));
	add(SEQ, NLM_F_MULTI);
}

static int
parse(NlNet *net, char *err)
{
	return nl_parse(d.b, d.n, SEQ, net, err);
}

static void
parse_dump(void)
{
	char err[ERRLEN];
	NlNet net;
	uint8_t v4[4], v6[16];

	memset(&net, 0, sizeof(net));
	/* the first datagram of a dump: no NLMSG_DONE yet */
	d.n = 0;
	mklink(1, "lo", NULL, 65536, 0);
	mklink(2, "eth0", "veth", 1450, 9);
	CHECK(parse(&net, err) == 0);
	CHECK(net.nlinks == 2);
	/* the second: the rest, and the end */
	d.n = 0;
	addr(AF_INET, "10.1.2.3", 24, 2);
	addr(AF_INET6, "fd00::3", 64, 2);
	addr(AF_PACKET, "10.1.2.3", 24, 2);	/* not IP: skipped */
	route(AF_INET, NULL, 0, "10.1.2.1", 2, RT_TABLE_MAIN, RTN_UNICAST);
	route(AF_INET, "10.1.2.0", 24, NULL, 2, RT_TABLE_MAIN, RTN_UNICAST);
	route(AF_INET6, NULL, 0, "fd00::1", 2, RT_TABLE_MAIN, RTN_UNICAST);
	route(AF_INET, "10.1.2.3", 32, NULL, 2, RT_TABLE_LOCAL, RTN_LOCAL);
	route(AF_INET, "10.9.0.0", 16, NULL, 2, RT_TABLE_MAIN, RTN_BLACKHOLE);
	neigh(AF_INET, "10.1.2.1", 2, NUD_PERMANENT, 1);
	neigh(AF_INET6, "fd00::1", 2, NUD_REACHABLE, 1);
	neigh(AF_INET, "10.1.2.7", 2, NUD_STALE, 1);		/* skipped */
	neigh(AF_INET, "10.1.2.8", 2, NUD_PERMANENT, 0);	/* no lladdr */
	done(0);
	mklink(3, "late", NULL, 1500, 0);		/* after DONE: not read */
	CHECK(parse(&net, err) == 1);
	CHECK(net.nlinks == 2);
	CHECK(!strcmp(net.links[0].name, "lo") && net.links[0].mtu == 65536);
	CHECK(!strcmp(net.links[1].name, "eth0") &&
	    !strcmp(net.links[1].kind, "veth") && net.links[1].mtu == 1450 &&
	    net.links[1].link == 9 && net.links[1].maclen == 6 &&
	    net.links[1].mac[5] == 2 && (net.links[1].flags & IFF_UP));
	CHECK(net.naddrs == 2);
	inet_pton(AF_INET, "10.1.2.3", v4);
	inet_pton(AF_INET6, "fd00::3", v6);
	CHECK(net.naddrs == 2 && net.addrs[0].family == AF_INET &&
	    !memcmp(net.addrs[0].addr, v4, 4) && net.addrs[0].prefix == 24 &&
	    net.addrs[0].index == 2);
	CHECK(net.naddrs == 2 && net.addrs[1].family == AF_INET6 &&
	    !memcmp(net.addrs[1].addr, v6, 16) && net.addrs[1].prefix == 64);
	CHECK(net.nroutes == 3);
	inet_pton(AF_INET, "10.1.2.1", v4);
	CHECK(net.nroutes == 3 && net.routes[0].dstlen == 0 &&
	    net.routes[0].hasgw && !memcmp(net.routes[0].gw, v4, 4) &&
	    net.routes[0].oif == 2);
	CHECK(net.nroutes == 3 && net.routes[1].dstlen == 24 &&
	    !net.routes[1].hasgw && net.routes[1].scope == RT_SCOPE_LINK);
	CHECK(net.nroutes == 3 && net.routes[2].family == AF_INET6 &&
	    net.routes[2].hasgw);
	CHECK(net.nneighs == 2);
	CHECK(net.nneighs == 2 && !memcmp(net.neighs[0].ip, v4, 4) &&
	    net.neighs[0].lllen == 6 && net.neighs[0].lladdr[5] == 0x99 &&
	    net.neighs[0].state == NUD_PERMANENT);
	nl_netfree(&net);
}

static void
parse_ack(void)
{
	char err[ERRLEN];
	NlNet net;

	memset(&net, 0, sizeof(net));
	d.n = 0;
	ack(0);
	CHECK(parse(&net, err) == 1);
	CHECK(nl_parse(d.b, d.n, SEQ, NULL, err) == 1);
	/* an error, the request capped */
	d.n = 0;
	ack(-EEXIST);
	errno = 0;
	CHECK(parse(&net, err) == -1 && errno == EEXIST);
	CHECK(!strcmp(err, strerror(EEXIST)));
	/* an older request's ack is not this one's */
	d.n = 0;
	ack(-EEXIST);
	CHECK(nl_parse(d.b, d.n, SEQ + 1, &net, err) == 0);
	/* a DONE with the dump's error */
	d.n = 0;
	done(-EPERM);
	CHECK(parse(&net, err) == -1 && errno == EPERM);
	/* a DONE without the code: done */
	d.n = 0;
	nl_req(&r, NLMSG_DONE, 0, NULL, 0);
	add(SEQ, NLM_F_MULTI);
	CHECK(parse(&net, err) == 1);
	CHECK(net.nlinks == 0);
	nl_netfree(&net);
}

/* the kernel's words: after a capped and after a whole echoed request */
static void
parse_extack(void)
{
	struct nlmsgerr e;
	const char msg[] = "Specified qdisc kind is unknown\n";
	char err[ERRLEN];
	uint32_t echo[4] = { 0, 0, 0, 0 };

	memset(&e, 0, sizeof(e));
	e.error = -ENOENT;
	e.msg.nlmsg_len = sizeof(e.msg);
	d.n = 0;
	nl_req(&r, NLMSG_ERROR, 0, &e, sizeof(e));
	nl_attr(&r, NLMSGERR_ATTR_MSG, msg, sizeof(msg));
	add(SEQ, NLM_F_CAPPED | NLM_F_ACK_TLVS);
	CHECK(parse(NULL, err) == -1 && errno == ENOENT);
	CHECK(strstr(err, "(Specified qdisc kind is unknown\\x0a)") != NULL);

	e.msg.nlmsg_len = sizeof(e.msg) + sizeof(echo);
	d.n = 0;
	nl_req(&r, NLMSG_ERROR, 0, &e, sizeof(e));
	nl_put(&r, echo, sizeof(echo));
	nl_attr(&r, NLMSGERR_ATTR_MSG, "bad", 4);
	add(SEQ, NLM_F_ACK_TLVS);
	CHECK(parse(NULL, err) == -1 && errno == ENOENT);
	CHECK(strstr(err, "(bad)") != NULL);

	/* the echoed request claims more than the message holds */
	e.msg.nlmsg_len = 4096;
	d.n = 0;
	nl_req(&r, NLMSG_ERROR, 0, &e, sizeof(e));
	add(SEQ, NLM_F_ACK_TLVS);
	CHECK(parse(NULL, err) == -1 && errno == EBADMSG);
	e.msg.nlmsg_len = 0xffffffff;
	d.n = 0;
	nl_req(&r, NLMSG_ERROR, 0, &e, sizeof(e));
	add(SEQ, NLM_F_ACK_TLVS);
	CHECK(parse(NULL, err) == -1 && errno == EBADMSG);
	/* TLVs that overrun */
	e.msg.nlmsg_len = sizeof(e.msg);
	d.n = 0;
	nl_req(&r, NLMSG_ERROR, 0, &e, sizeof(e));
	nl_attr(&r, NLMSGERR_ATTR_MSG, "x", 2);
	add(SEQ, NLM_F_CAPPED | NLM_F_ACK_TLVS);
	d.b[d.n - 8] = 200;	/* rta_len */
	CHECK(parse(NULL, err) == -1 && errno == EBADMSG);
}

/* a datagram of one message of type, payload p, flags: what nl_parse says */
static int
one(int type, const void *p, size_t n, int flags)
{
	char err[ERRLEN];

	d.n = 0;
	nl_req(&r, type, 0, p, n);
	add(SEQ, flags);
	return parse(NULL, err);
}

/* one header patched after it was built */
static void
patch(size_t off, uint32_t v, size_t size)
{
	memcpy(d.b + off, &v, size);
}

static void
parse_hostile(void)
{
	char err[ERRLEN];
	NlNet net;
	int code, i;

	memset(&net, 0, sizeof(net));
	/* truncated header */
	d.n = 0;
	mklink(2, "eth0", "veth", 1500, 0);
	errno = 0;
	CHECK(nl_parse(d.b, 10, SEQ, &net, err) == -1 && errno == EBADMSG);
	CHECK(strstr(err, "malformed reply") != NULL);
	/* a message cut short: its length past what came */
	CHECK(nl_parse(d.b, d.n - 4, SEQ, &net, err) == -1 && errno == EBADMSG);
	/* nlmsg_len zero, and below the header */
	patch(0, 0, 4);
	CHECK(parse(&net, err) == -1 && errno == EBADMSG);
	patch(0, 15, 4);
	CHECK(parse(&net, err) == -1 && errno == EBADMSG);
	/* a link message shorter than ifinfomsg */
	d.n = 0;
	nl_req(&r, RTM_NEWLINK, 0, "abcd", 4);
	add(SEQ, NLM_F_MULTI);
	CHECK(parse(&net, err) == -1 && errno == EBADMSG);
	/* rta_len past the message, zero, below its header */
	for (i = 0; i < 3; i++) {
		d.n = 0;
		mklink(2, "eth0", NULL, 1500, 0);
		patch(NLMSG_HDRLEN + sizeof(struct ifinfomsg),
		    i == 0 ? 4000 : i == 1 ? 0 : 3, 2);
		CHECK(parse(&net, err) == -1 && errno == EBADMSG);
	}
	/* a nested attribute that overruns its parent */
	d.n = 0;
	mklink(2, "eth0", "veth", 1500, 0);
	patch(d.n - 8, 12, 2);	/* IFLA_INFO_KIND's rta_len */
	CHECK(parse(&net, err) == -1 && errno == EBADMSG);
	/* a name that fills IFNAMSIZ without its NUL */
	d.n = 0;
	mklink(2, "0123456789abcdef", NULL, 1500, 0);
	CHECK(parse(&net, err) == -1 && errno == EBADMSG);
	/* a short mtu, an address of the wrong size, a prefix too long */
	d.n = 0;
	mklink(2, "eth0", NULL, 1500, 0);
	CHECK(parse(&net, err) == 0);
	d.n = 0;
	nl_req(&r, RTM_NEWADDR, 0, (struct ifaddrmsg[]){ { AF_INET, 24, 0, 0, 2 } },
	    sizeof(struct ifaddrmsg));
	nl_attr(&r, IFA_ADDRESS, "\1\2\3", 3);
	add(SEQ, NLM_F_MULTI);
	CHECK(parse(&net, err) == -1 && errno == EBADMSG);
	d.n = 0;
	addr(AF_INET, "10.0.0.1", 33, 2);
	CHECK(parse(&net, err) == -1 && errno == EBADMSG);
	d.n = 0;
	route(AF_INET6, "fd00::", 129, NULL, 2, RT_TABLE_MAIN, RTN_UNICAST);
	CHECK(parse(&net, err) == -1 && errno == EBADMSG);
	/* NLMSG_ERROR without its payload, and codes out of range */
	code = -2147483647 - 1;
	CHECK(one(NLMSG_ERROR, NULL, 0, 0) == -1 && errno == EBADMSG);
	CHECK(one(NLMSG_ERROR, (int[]){ 5 }, sizeof(int), 0) == -1 &&
	    errno == EBADMSG);
	CHECK(one(NLMSG_ERROR, &code, sizeof(code), 0) == -1 && errno == EBADMSG);
	/* just the error code: an error still */
	CHECK(one(NLMSG_ERROR, (int[]){ -EPERM }, sizeof(int), NLM_F_ACK_TLVS) ==
	    -1 && errno == EPERM);
	/* an overrun, a type nobody asked for, an interrupted dump */
	CHECK(one(NLMSG_OVERRUN, NULL, 0, 0) == -1 && errno == ENOBUFS);
	CHECK(one(RTM_NEWRULE, "whatever", 8, NLM_F_MULTI) == 0);
	d.n = 0;
	mklink(4, "x", NULL, 1500, 0);
	patch(6, NLM_F_MULTI | NLM_F_DUMP_INTR, 2);
	CHECK(parse(&net, err) == 0 && net.intr);
	/* an empty datagram: more to come */
	CHECK(nl_parse(d.b, 0, SEQ, &net, err) == 0);
	nl_netfree(&net);
	/* more links than NL_MAXENT */
	d.n = 0;
	for (i = 0; i <= NL_MAXENT; i++)
		mklink(i + 1, "l", NULL, 1500, 0);
	done(0);
	CHECK(d.n < sizeof(d.b));
	CHECK(parse(&net, err) == -1 && errno == E2BIG);
	CHECK(net.nlinks == NL_MAXENT);
	nl_netfree(&net);
}

static void
builder(void)
{
	NlReq q;
	char big[NL_REQMAX];
	size_t m;
	uint16_t len;

	nl_req(&q, RTM_NEWLINK, 0, NULL, 0);
	CHECK(q.n == NLMSG_HDRLEN && !q.full);
	m = nl_nest(&q, IFLA_LINKINFO);
	nl_attr(&q, IFLA_INFO_KIND, "veth", 5);
	nl_end(&q, m);
	CHECK(q.n == NLMSG_HDRLEN + 4 + 4 + 8);
	memcpy(&len, q.b + m, 2);
	CHECK(len == 4 + 4 + 8);
	memset(big, 'x', sizeof(big));
	nl_attr(&q, IFLA_IFNAME, big, sizeof(big));
	CHECK(q.full);
}

/* the namespace test */

static ino_t
netino(int fd)
{
	struct stat st;

	if (fd >= 0)
		return fstat(fd, &st) == 0 ? st.st_ino : 0;
	return stat("/proc/thread-self/ns/net", &st) == 0 ? st.st_ino : 0;
}

static int
hasingress(Nl *nl, int index)
{
	char err[ERRLEN];
	NlNet net;
	size_t i;
	int found = 0;

	if (nl_qdiscs(nl, &net, err) < 0) {
		printf("  %s\n", err);
		return -1;
	}
	for (i = 0; i < net.nqdiscs; i++)
		if (net.qdiscs[i].index == index &&
		    !strcmp(net.qdiscs[i].kind, "ingress"))
			found = 1;
	nl_netfree(&net);
	return found;
}

/* a packet socket on link index of the pod's namespace */
static int
packetsock(int index)
{
	struct sockaddr_ll sa;
	int fd;

	if (setns(nsfd, CLONE_NEWNET) < 0)
		return -1;
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
	if (setns(homefd, CLONE_NEWNET) < 0)
		exit(1);
	memset(&sa, 0, sizeof(sa));
	sa.sll_family = AF_PACKET;
	sa.sll_protocol = htons(ETH_P_ALL);
	sa.sll_ifindex = index;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* the test frame with tag, read within a second from fd after skip bytes */
static int
expect(int fd, size_t skip, uint8_t tag)
{
	uint8_t b[2048];
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t n;
	int tries;

	for (tries = 0; tries < 50; tries++) {
		if (poll(&p, 1, 20) < 0)
			return 0;
		while ((n = read(fd, b, sizeof(b))) > 0)
			if ((size_t)n >= skip + 15 && b[skip + 12] == ETHTEST >> 8 &&
			    b[skip + 13] == (ETHTEST & 0xff) && b[skip + 14] == tag)
				return 1;
	}
	return 0;
}

static void
frame(uint8_t *f, const uint8_t *dst, uint8_t tag)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, "\2\0\0\0\0\xee", 6);
	f[12] = ETHTEST >> 8;
	f[13] = ETHTEST & 0xff;
	memset(f + 14, tag, 46);
}

static void
pod(void)
{
	char err[ERRLEN];
	Nl nl, home;
	NlLink va, vb, lo, t, m;
	NlAddr a4, a6;
	NlRoute def4, def6, bad;
	NlNeigh ne;
	NlNet net;
	size_t i;
	int tapfd, tap, ok, pfd;
	uint8_t f[VNETHDR + 60];

	if (nl_open(&nl, nspath, err) < 0) {
		printf("  %s\n", err);
		CHECK(0);
		return;
	}
	CHECK(netino(-1) == netino(homefd));
	CHECK(nl_open(&home, NULL, err) == 0);
	CHECK(addveth(&nl, "va", "vb", err) == 0);
	CHECK(nl_linkbyname(&nl, "va", &va, err) == 0);
	CHECK(nl_linkbyname(&nl, "vb", &vb, err) == 0);
	CHECK(!strcmp(va.kind, "veth") && vb.link == va.index);
	CHECK(!haslink(&home, "va"));
	/* the agent's steps, here on the veth */
	CHECK(nl_linkbyname(&nl, "lo", &lo, err) == 0 &&
	    nl_setlink(&nl, lo.index, 0, 1, err) == 0);
	CHECK(nl_setlink(&nl, va.index, 1400, 1, err) == 0);
	CHECK(nl_setlink(&nl, vb.index, 0, 1, err) == 0);
	a4 = (NlAddr){ .family = AF_INET, .index = va.index, .prefix = 24 };
	inet_pton(AF_INET, "10.9.0.2", a4.addr);
	CHECK(nl_addaddr(&nl, &a4, err) == 0);
	CHECK(nl_addaddr(&nl, &a4, err) == 0);	/* again: replaced */
	a6 = a4;
	a6.family = AF_INET6;
	a6.prefix = 64;
	inet_pton(AF_INET6, "fd00:9::2", a6.addr);
	CHECK(nl_addaddr(&nl, &a6, err) == 0);
	def4 = (NlRoute){ .family = AF_INET, .oif = va.index, .hasgw = 1 };
	inet_pton(AF_INET, "10.9.0.1", def4.gw);
	CHECK(nl_addroute(&nl, &def4, err) == 0);
	def6 = def4;
	def6.family = AF_INET6;
	inet_pton(AF_INET6, "fd00:9::1", def6.gw);
	CHECK(nl_addroute(&nl, &def6, err) == 0);
	ne = (NlNeigh){ .family = AF_INET, .index = va.index,
		.lladdr = { 2, 0, 0, 0, 0, 1 }, .lllen = 6 };
	inet_pton(AF_INET, "10.9.0.1", ne.ip);
	CHECK(nl_addneigh(&nl, &ne, err) == 0);
	/* an error names the link */
	bad = def4;
	inet_pton(AF_INET, "10.99.0.0", bad.dst);
	bad.dstlen = 16;
	inet_pton(AF_INET, "10.98.0.1", bad.gw);
	CHECK(nl_addroute(&nl, &bad, err) == -1);
	CHECK(strstr(err, "netlink: add route 10.99.0.0/16 via 10.98.0.1 on va: ") == err);
	CHECK(nl_setlink(&nl, 9999, 1500, 1, err) == -1 &&
	    strstr(err, "on link 9999: No such device"));

	/* read back */
	CHECK(nl_read(&nl, &net, err) == 0);
	ok = 0;
	for (i = 0; i < net.nlinks; i++)
		if (net.links[i].index == va.index && net.links[i].mtu == 1400 &&
		    (net.links[i].flags & IFF_UP))
			ok++;
	CHECK(ok == 1);
	ok = 0;
	for (i = 0; i < net.naddrs; i++)
		if (net.addrs[i].index == va.index && ((net.addrs[i].family ==
		    AF_INET && !memcmp(net.addrs[i].addr, a4.addr, 4) &&
		    net.addrs[i].prefix == 24) || (net.addrs[i].family ==
		    AF_INET6 && !memcmp(net.addrs[i].addr, a6.addr, 16))))
			ok++;
	CHECK(ok == 2);
	ok = 0;
	for (i = 0; i < net.nroutes; i++) {
		if (net.routes[i].dstlen == 0 && net.routes[i].hasgw &&
		    net.routes[i].oif == va.index &&
		    !memcmp(net.routes[i].gw, net.routes[i].family == AF_INET ?
		    def4.gw : def6.gw, net.routes[i].family == AF_INET ? 4 : 16))
			ok++;
		if (net.routes[i].family == AF_INET && net.routes[i].dstlen == 24 &&
		    net.routes[i].scope == RT_SCOPE_LINK)
			ok += 10;
	}
	CHECK(ok == 12);
	ok = 0;
	for (i = 0; i < net.nneighs; i++)
		if (net.neighs[i].index == va.index &&
		    net.neighs[i].state == NUD_PERMANENT &&
		    !memcmp(net.neighs[i].lladdr, ne.lladdr, 6))
			ok++;
	CHECK(ok == 1);
	nl_netfree(&net);
	CHECK(nl_linkbymac(&nl, va.mac, &m, err) == 0 && m.index == va.index);
	CHECK(nl_linkbymac(&nl, (const uint8_t *)"\2\1\1\1\1\1", &m, err) == -1);
	/* a rename, down (older kernels refuse it up), to a free name */
	CHECK(nl_setlink(&nl, va.index, 0, 0, err) == 0);
	CHECK(nl_setname(&nl, va.index, "vb", err) == -1 && errno == EEXIST);
	CHECK(strstr(err, "netlink: rename to vb on va: ") == err);
	CHECK(nl_setname(&nl, va.index, "", err) == -1 && errno == EINVAL);
	CHECK(nl_setname(&nl, va.index, "0123456789abcdef", err) == -1 &&
	    errno == EINVAL);
	CHECK(nl_setname(&nl, va.index, "va2", err) == 0);
	CHECK(nl_linkbyname(&nl, "va2", &m, err) == 0 && m.index == va.index);
	CHECK(!haslink(&nl, "va"));
	CHECK(nl_setname(&nl, va.index, "va", err) == 0 && haslink(&nl, "va"));
	CHECK(nl_setlink(&nl, va.index, 0, 1, err) == 0);

	/* the tap: in the pod's namespace, not here */
	tapfd = nl_tap(&nl, "hutap0", 1400, &tap, err);
	CHECK(tapfd >= 0);
	if (tapfd < 0) {
		printf("  %s\n", err);
		goto out;
	}
	CHECK(netino(-1) == netino(homefd));
	CHECK(nl_linkbyname(&nl, "hutap0", &t, err) == 0 && t.index == tap &&
	    t.mtu == 1400 && (t.flags & IFF_UP) && !strcmp(t.kind, "tun"));
	CHECK(!haslink(&home, "hutap0"));
	fcntl(tapfd, F_SETFL, O_NONBLOCK);

	if (nl_redirect(&nl, va.index, tap, err) < 0) {
		if (errno == ENOENT || errno == EOPNOTSUPP)
			printf("SKIP redirect: this kernel lacks a piece: %s\n", err);
		else {
			printf("  %s\n", err);
			CHECK(0);
		}
	} else {
		CHECK(hasingress(&nl, va.index) == 1 && hasingress(&nl, tap) == 1);
		CHECK(nl_redirect(&nl, va.index, tap, err) == -1 && errno == EEXIST);
		CHECK(strstr(err, "netlink: add qdisc ingress on va: File exists") == err);
		/* vb -> va, redirected out of the tap */
		pfd = packetsock(vb.index);
		CHECK(pfd >= 0);
		frame(f, va.mac, 0x5a);
		CHECK(pfd >= 0 && write(pfd, f, 60) == 60);
		CHECK(expect(tapfd, VNETHDR, 0x5a));
		/* into the tap, redirected out of va, seen on vb */
		memset(f, 0, VNETHDR);
		frame(f + VNETHDR, vb.mac, 0xa5);
		CHECK(write(tapfd, f, sizeof(f)) == (ssize_t)sizeof(f));
		CHECK(pfd >= 0 && expect(pfd, 0, 0xa5));
		if (pfd >= 0)
			close(pfd);
		/* a failure undoes only what that call made: with the
		 * veth's qdisc gone, the tap's is in the way */
		CHECK(nl_teardown(&nl, va.index, 0, -1, err) == 0);
		CHECK(hasingress(&nl, va.index) == 0 && hasingress(&nl, tap) == 1);
		CHECK(nl_redirect(&nl, va.index, tap, err) == -1 && errno == EEXIST);
		CHECK(strstr(err, "add qdisc ingress on hutap0: File exists") != NULL);
		CHECK(hasingress(&nl, va.index) == 0 && hasingress(&nl, tap) == 1);
	}
	CHECK(nl_teardown(&nl, va.index, tap, tapfd, err) == 0);
	CHECK(!haslink(&nl, "hutap0"));
	CHECK(hasingress(&nl, va.index) == 0);
	CHECK(nl_teardown(&nl, va.index, tap, -1, err) == 0);
	CHECK(nl_read(&nl, &net, err) == 0);
	for (i = 0; i < net.nlinks; i++)
		CHECK(strcmp(net.links[i].name, "hutap0"));
	nl_netfree(&net);
	/* a tap whose fd closes goes with it */
	tapfd = nl_tap(&nl, "hutap1", 0, &tap, err);
	CHECK(tapfd >= 0 && haslink(&nl, "hutap1"));
	if (tapfd >= 0)
		close(tapfd);
	CHECK(!haslink(&nl, "hutap1"));
out:
	CHECK(nl_dellink(&nl, va.index, err) == 0);
	CHECK(!haslink(&nl, "vb"));
	CHECK(netino(-1) == netino(homefd));
	nl_close(&nl);
	nl_close(&home);
}

static void
openerrors(void)
{
	char err[ERRLEN];
	Nl nl;

	CHECK(nl_open(&nl, "/nonexistent/netns", err) == -1);
	CHECK(!strcmp(err, "netlink: open /nonexistent/netns: No such file or directory"));
	CHECK(nl_open(&nl, "/proc/self/ns/uts", err) == -1);
	CHECK(strstr(err, "netlink: enter network namespace /proc/self/ns/uts: ") == err);
	CHECK(netino(-1) == netino(homefd));
}

int
main(void)
{
	RUN(builder);
	RUN(parse_dump);
	RUN(parse_ack);
	RUN(parse_extack);
	RUN(parse_hostile);
	if (mkns() == 0) {
		RUN(pod);
		RUN(openerrors);
	}
	return TDONE();
}
