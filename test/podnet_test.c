/* See LICENSE file for copyright and license details. */
/*
 * podnet.c: podnet_describe over hand-made NlNet values (a CNI veth with
 * IPv4, IPv6 and default routes; two links; none; loopback, tunnels and
 * husk's tap left aside; the caps; neighbours), then, as root where
 * unshare(CLONE_NEWNET) works, podnet_open, podnet_close and podnet_clean
 * in a fresh namespace holding a veth with an address: the tap and the
 * ingress qdiscs appear, and after each way of ending none remain. What
 * this machine cannot do prints SKIP with the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include "../husk.h"
#include "t.h"
#include "netns.h"

#define CAP	256	/* entries of each kind a hand-made NlNet holds */

static NlLink links[CAP];
static NlAddr addrs[CAP];
static NlRoute routes[CAP];
static NlNeigh neighs[CAP];
static NlNet net;
static const uint8_t mac2[6] = { 0x0a, 0x58, 0x0a, 0xf4, 0x00, 0x07 };

static void
reset(void)
{
	memset(&net, 0, sizeof(net));
	net.links = links;
	net.addrs = addrs;
	net.routes = routes;
	net.neighs = neighs;
}

static void
mklink(int index, const char *name, unsigned type, unsigned flags)
{
	NlLink *l = &links[net.nlinks++];

	memset(l, 0, sizeof(*l));
	l->index = index;
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->type = type;
	l->flags = flags | IFF_UP;
	memcpy(l->mac, mac2, 6);
	l->mac[5] = index;
	l->maclen = type == ARPHRD_ETHER ? 6 : 0;
	l->mtu = 1450;
}

static void
addr(int index, const char *ip, unsigned prefix, unsigned scope)
{
	NlAddr *a = &addrs[net.naddrs++];

	memset(a, 0, sizeof(*a));
	a->family = strchr(ip, ':') ? AF_INET6 : AF_INET;
	inet_pton(a->family, ip, a->addr);
	a->index = index;
	a->prefix = prefix;
	a->scope = scope;
}

static NlRoute *
route(int oif, const char *dst, unsigned len, const char *gw)
{
	NlRoute *r = &routes[net.nroutes++];

	memset(r, 0, sizeof(*r));
	r->family = strchr(dst, ':') ? AF_INET6 : AF_INET;
	inet_pton(r->family, dst, r->dst);
	r->dstlen = len;
	if (gw) {
		inet_pton(r->family, gw, r->gw);
		r->hasgw = 1;
	}
	r->oif = oif;
	r->scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	r->protocol = RTPROT_BOOT;
	return r;
}

static void
neigh(int index, const char *ip, unsigned state)
{
	NlNeigh *n = &neighs[net.nneighs++];

	memset(n, 0, sizeof(*n));
	n->family = strchr(ip, ':') ? AF_INET6 : AF_INET;
	inet_pton(n->family, ip, n->ip);
	n->index = index;
	memset(n->lladdr, 0xee, 6);
	n->lllen = 6;
	n->state = state;
}

static int
ipis(int family, const uint8_t *a, const char *ip)
{
	uint8_t want[16];

	inet_pton(family, ip, want);
	return !memcmp(a, want, family == AF_INET ? 4 : 16);
}

/* what a CNI bridge plugin leaves: lo, and eth0 with v4 and v6 */
static void
cni(void)
{
	NlRoute *r;

	reset();
	mklink(1, "lo", ARPHRD_LOOPBACK, IFF_LOOPBACK);
	addr(1, "127.0.0.1", 8, RT_SCOPE_HOST);
	addr(1, "::1", 128, RT_SCOPE_HOST);
	mklink(2, "eth0", ARPHRD_ETHER, 0);
	addr(2, "10.244.0.7", 24, RT_SCOPE_UNIVERSE);
	addr(2, "fd00:10:244::7", 64, RT_SCOPE_UNIVERSE);
	addr(2, "fe80::858:aff:fef4:7", 64, RT_SCOPE_LINK);
	r = route(2, "10.244.0.0", 24, NULL);
	r->hassrc = 1;
	inet_pton(AF_INET, "10.244.0.7", r->src);
	r->protocol = RTPROT_KERNEL;
	route(2, "0.0.0.0", 0, "10.244.0.1");
	route(2, "fd00:10:244::", 64, NULL)->metric = 256;
	route(2, "fe80::", 64, NULL)->metric = 256;	/* the kernel's */
	route(2, "ff00::", 8, NULL)->metric = 256;	/* the kernel's */
	r = route(2, "::", 0, "fd00:10:244::1");
	r->metric = 1024;
	r->flags = RTNH_F_ONLINK;
	route(1, "10.99.0.0", 16, NULL);		/* not the link's */
	neigh(2, "10.244.0.1", NUD_PERMANENT);
	neigh(2, "10.244.0.9", NUD_REACHABLE);
	neigh(1, "127.0.0.2", NUD_PERMANENT);
	neigh(2, "fd00:10:244::1", NUD_PERMANENT);
}

static void
describe_cni(void)
{
	char err[ERRLEN];
	AgentNet an;
	const AgentRoute *r;
	int veth = 0;

	cni();
	CHECK(podnet_describe(&net, &an, &veth, err) == 0);
	CHECK(veth == 2);
	CHECK(an.nifs == 1 && !memcmp(an.ifs[0].mac, links[1].mac, 6) &&
	    an.ifs[0].mtu == 1450 && !strcmp(an.ifs[0].name, "eth0"));
	/* fe80:: is left to the guest's kernel */
	CHECK(an.nips == 2);
	CHECK(an.ips[0].family == AF_INET && an.ips[0].prefix == 24 &&
	    ipis(AF_INET, an.ips[0].addr, "10.244.0.7") && an.ips[0].ifidx == 0);
	CHECK(an.ips[1].family == AF_INET6 && an.ips[1].prefix == 64 &&
	    ipis(AF_INET6, an.ips[1].addr, "fd00:10:244::7"));
	/* link route, both default routes, the v6 prefix; not fe80::/64,
	 * ff00::/8, nor lo's */
	CHECK(an.nroutes == 4);
	r = &an.routes[0];
	CHECK(r->family == AF_INET && r->dstlen == 24 && !r->hasgw &&
	    r->hassrc && ipis(AF_INET, r->src, "10.244.0.7") &&
	    r->scope == RT_SCOPE_LINK && ipis(AF_INET, r->dst, "10.244.0.0"));
	r = &an.routes[1];
	CHECK(r->family == AF_INET && r->dstlen == 0 && r->hasgw &&
	    ipis(AF_INET, r->gw, "10.244.0.1") && !r->hassrc && !r->onlink);
	r = &an.routes[2];
	CHECK(r->family == AF_INET6 && r->dstlen == 64 && r->metric == 256 &&
	    ipis(AF_INET6, r->dst, "fd00:10:244::"));
	r = &an.routes[3];
	CHECK(r->family == AF_INET6 && r->dstlen == 0 && r->hasgw &&
	    r->metric == 1024 && r->onlink &&
	    ipis(AF_INET6, r->gw, "fd00:10:244::1"));
	/* permanent ones of the link only */
	CHECK(an.nneighs == 2);
	CHECK(an.neighs[0].family == AF_INET &&
	    ipis(AF_INET, an.neighs[0].ip, "10.244.0.1") &&
	    an.neighs[0].mac[0] == 0xee && an.neighs[1].family == AF_INET6);
}

static void
describe_links(void)
{
	char err[ERRLEN];
	AgentNet an;
	int veth = 0;

	/* two links with addresses: husk will not guess */
	cni();
	mklink(3, "net1", ARPHRD_ETHER, 0);
	addr(3, "192.168.5.2", 24, RT_SCOPE_UNIVERSE);
	CHECK(podnet_describe(&net, &an, &veth, err) == -1);
	CHECK(!strcmp(err, "the pod's netns has 2 links with an address "
	    "(eth0, net1): husk takes one"));
	/* a link with an IPv6 link-local address alone counts */
	cni();
	mklink(3, "net1", ARPHRD_ETHER, 0);
	addr(3, "fe80::1", 64, RT_SCOPE_LINK);
	CHECK(podnet_describe(&net, &an, &veth, err) == -1);
	/* one without addresses, or with a host-scope one, does not */
	cni();
	mklink(3, "net1", ARPHRD_ETHER, 0);
	mklink(4, "net2", ARPHRD_ETHER, 0);
	addr(4, "10.1.1.1", 32, RT_SCOPE_HOST);
	CHECK(podnet_describe(&net, &an, &veth, err) == 0 && veth == 2);
	/* nor a tunnel, nor husk's own tap (a killed shim's) */
	mklink(5, "tun0", ARPHRD_NONE, IFF_POINTOPOINT);
	addr(5, "10.8.0.2", 24, RT_SCOPE_UNIVERSE);
	mklink(6, PODNET_TAP, ARPHRD_ETHER, 0);
	addr(6, "fe80::42", 64, RT_SCOPE_LINK);
	CHECK(podnet_describe(&net, &an, &veth, err) == 0 && veth == 2 &&
	    an.nifs == 1 && an.nips == 2);

	/* none */
	reset();
	mklink(1, "lo", ARPHRD_LOOPBACK, IFF_LOOPBACK);
	addr(1, "127.0.0.1", 8, RT_SCOPE_HOST);
	mklink(2, "eth0", ARPHRD_ETHER, 0);
	CHECK(podnet_describe(&net, &an, &veth, err) == -1);
	CHECK(!strcmp(err, "the pod's netns has no network link with an address"));
	/* lo is never it, whatever its addresses */
	reset();
	mklink(1, "lo", ARPHRD_LOOPBACK, IFF_LOOPBACK);
	addr(1, "10.0.0.1", 8, RT_SCOPE_UNIVERSE);
	CHECK(podnet_describe(&net, &an, &veth, err) == -1);
	reset();
	mklink(1, "lo", ARPHRD_ETHER, IFF_LOOPBACK);
	addr(1, "10.0.0.1", 8, RT_SCOPE_UNIVERSE);
	CHECK(podnet_describe(&net, &an, &veth, err) == -1);

	/* the link itself must suit virtio-net */
	cni();
	links[1].mtu = 65536;
	CHECK(podnet_describe(&net, &an, &veth, err) == -1);
	CHECK(!strcmp(err, "the pod's link eth0 has MTU 65536: husk takes 68 to 65535"));
	cni();
	links[1].mtu = 67;
	CHECK(podnet_describe(&net, &an, &veth, err) == -1);
	cni();
	links[1].maclen = 20;	/* InfiniBand's */
	CHECK(podnet_describe(&net, &an, &veth, err) == -1);
}

static void
describe_caps(void)
{
	char err[ERRLEN], ip[64];
	AgentNet an;
	int veth = 0, i;

	/* routes: a full table goes, one more is an error */
	cni();		/* 4 routes the guest gets */
	for (i = 0; i < AGENT_MAXROUTES - 4; i++) {
		snprintf(ip, sizeof(ip), "10.%d.0.0", i + 1);
		route(2, ip, 16, "10.244.0.1");
	}
	CHECK(podnet_describe(&net, &an, &veth, err) == 0 &&
	    an.nroutes == AGENT_MAXROUTES);
	route(2, "10.200.0.0", 16, "10.244.0.1");
	CHECK(podnet_describe(&net, &an, &veth, err) == -1);
	CHECK(!strcmp(err, "the pod's link eth0 has more than 64 routes: "
	    "husk carries at most 64"));
	/* routes the guest does not get do not count */
	net.nroutes--;
	route(2, "fe80::", 64, NULL);
	route(1, "10.201.0.0", 16, NULL);
	CHECK(podnet_describe(&net, &an, &veth, err) == 0);

	/* addresses */
	cni();
	for (i = 0; i < AGENT_MAXIPS - 2; i++) {
		snprintf(ip, sizeof(ip), "10.245.0.%d", i + 1);
		addr(2, ip, 24, RT_SCOPE_UNIVERSE);
	}
	CHECK(podnet_describe(&net, &an, &veth, err) == 0 &&
	    an.nips == AGENT_MAXIPS);
	addr(2, "fe80::99", 64, RT_SCOPE_LINK);	/* skipped: no count */
	CHECK(podnet_describe(&net, &an, &veth, err) == 0);
	addr(2, "10.246.0.1", 24, RT_SCOPE_UNIVERSE);
	CHECK(podnet_describe(&net, &an, &veth, err) == -1 &&
	    strstr(err, "more than 16 addresses"));

	/* neighbours: only permanent ones count */
	cni();
	for (i = 0; i < AGENT_MAXNEIGHS + 10; i++) {
		snprintf(ip, sizeof(ip), "10.244.1.%d", i + 1);
		neigh(2, ip, NUD_REACHABLE);
	}
	CHECK(podnet_describe(&net, &an, &veth, err) == 0 && an.nneighs == 2);
	for (i = 0; i < AGENT_MAXNEIGHS - 2; i++) {
		snprintf(ip, sizeof(ip), "10.244.2.%d", i + 1);
		neigh(2, ip, NUD_PERMANENT);
	}
	CHECK(podnet_describe(&net, &an, &veth, err) == 0 &&
	    an.nneighs == AGENT_MAXNEIGHS);
	neigh(2, "10.244.3.1", NUD_PERMANENT | NUD_NOARP);
	CHECK(podnet_describe(&net, &an, &veth, err) == -1 &&
	    strstr(err, "more than 64 neighbours"));
}

/* the namespace test */

/* ingress qdiscs in the namespace, and whether link index has one */
static int
ingresses(Nl *nl, int index, int *has)
{
	char err[ERRLEN];
	NlNet q;
	size_t i;
	int n = 0;

	*has = 0;
	if (nl_qdiscs(nl, &q, err) < 0) {
		printf("  %s\n", err);
		return -1;
	}
	for (i = 0; i < q.nqdiscs; i++)
		if (!strcmp(q.qdiscs[i].kind, "ingress")) {
			n++;
			if (q.qdiscs[i].index == index)
				*has = 1;
		}
	nl_netfree(&q);
	return n;
}

/* an ingress qdisc on index made by someone else */
static int
addingress(Nl *nl, int index, char *err)
{
	struct tcmsg tcm;
	NlReq r;

	memset(&tcm, 0, sizeof(tcm));
	tcm.tcm_family = AF_UNSPEC;
	tcm.tcm_ifindex = index;
	tcm.tcm_handle = 0xffff0000u;
	tcm.tcm_parent = TC_H_INGRESS;
	nl_req(&r, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, &tcm, sizeof(tcm));
	nl_attr(&r, TCA_KIND, "ingress", 8);
	return nl_talk(nl, &r, NULL, "add ingress", err);
}

/* the kernel pieces the tcfilter model needs, or why not */
static int
haspieces(void)
{
	if (access("/dev/net/tun", R_OK | W_OK) < 0) {
		printf("SKIP pod network: /dev/net/tun: %s\n", strerror(errno));
		return 0;
	}
	/* veth, sch_ingress, cls_u32, act_mirred: a kernel without one
	 * answers ENOENT or EOPNOTSUPP to the request that needs it */
	return 1;
}

static void
openclose(void)
{
	char err[ERRLEN];
	PodNet p;
	Nl nl;
	NlLink eth, lo, t;
	NlAddr a;
	NlRoute def;
	NlNeigh ne;
	int has, n;

	if (!haspieces())
		return;
	if (nl_open(&nl, nspath, err) < 0) {
		printf("  %s\n", err);
		CHECK(0);
		return;
	}
	/* the CNI's part: a veth whose peer stays down (so it gets no
	 * link-local address and is not a second candidate) */
	if (addveth(&nl, "eth0", "peer0", err) < 0) {
		printf("SKIP pod network: %s\n", err);
		nl_close(&nl);
		return;
	}
	CHECK(nl_linkbyname(&nl, "eth0", &eth, err) == 0);
	CHECK(nl_linkbyname(&nl, "lo", &lo, err) == 0 &&
	    nl_setlink(&nl, lo.index, 0, 1, err) == 0);
	CHECK(nl_setlink(&nl, eth.index, 1400, 1, err) == 0);
	a = (NlAddr){ .family = AF_INET, .index = eth.index, .prefix = 24 };
	inet_pton(AF_INET, "10.9.0.2", a.addr);
	CHECK(nl_addaddr(&nl, &a, err) == 0);
	def = (NlRoute){ .family = AF_INET, .oif = eth.index, .hasgw = 1,
		.flags = RTNH_F_ONLINK };
	inet_pton(AF_INET, "10.9.0.1", def.gw);
	if (nl_addroute(&nl, &def, err) < 0)
		printf("  %s\n", err);
	ne = (NlNeigh){ .family = AF_INET, .index = eth.index,
		.lladdr = { 2, 0, 0, 0, 0, 1 }, .lllen = 6 };
	inet_pton(AF_INET, "10.9.0.1", ne.ip);
	CHECK(nl_addneigh(&nl, &ne, err) == 0);

	if (podnet_open(&p, nspath, err) < 0) {
		if (errno == ENOENT || errno == EOPNOTSUPP)
			printf("SKIP pod network: this kernel lacks a piece: %s\n",
			    err);
		else {
			printf("  %s\n", err);
			CHECK(0);
		}
		goto out;
	}
	CHECK(p.veth == eth.index && p.tap > 0 && p.tapfd >= 0);
	CHECK(nl_linkbyname(&nl, PODNET_TAP, &t, err) == 0 &&
	    t.index == p.tap && t.mtu == 1400 && (t.flags & IFF_UP));
	CHECK(p.net.nifs == 1 && !memcmp(p.net.ifs[0].mac, eth.mac, 6) &&
	    p.net.ifs[0].mtu == 1400 && !strcmp(p.net.ifs[0].name, "eth0"));
	CHECK(p.net.nips == 1 && ipis(AF_INET, p.net.ips[0].addr, "10.9.0.2"));
	CHECK(p.net.nneighs == 1);
	CHECK(ingresses(&nl, eth.index, &has) == 2 && has);
	CHECK(ingresses(&nl, p.tap, &has) == 2 && has);
	/* a second open finds the tap's name taken, and takes nothing away */
	{
		PodNet q;

		CHECK(podnet_open(&q, nspath, err) == -1);
		CHECK(strstr(err, "netns ") == err);
		CHECK(ingresses(&nl, eth.index, &has) == 2 && has);
		podnet_close(&q);
	}
	podnet_close(&p);
	CHECK(ingresses(&nl, eth.index, &has) == 0);
	CHECK(!haslink(&nl, PODNET_TAP));
	CHECK(p.tapfd == -1 && p.nl.fd == -1);
	podnet_close(&p);	/* idempotent */

	/* net.c took the fd and closed it first (sandbox_free's order) */
	CHECK(podnet_open(&p, nspath, err) == 0);
	close(p.tapfd);
	p.tapfd = -1;
	podnet_close(&p);
	CHECK(ingresses(&nl, eth.index, &has) == 0);
	CHECK(!haslink(&nl, PODNET_TAP));

	/* a killed shim: its fds close without a teardown; the tap goes,
	 * the veth's qdisc stays until podnet_clean */
	CHECK(podnet_open(&p, nspath, err) == 0);
	close(p.tapfd);
	nl_close(&p.nl);
	CHECK(!haslink(&nl, PODNET_TAP));
	CHECK(ingresses(&nl, eth.index, &has) == 1 && has);
	CHECK(podnet_clean(nspath, err) == 0);
	CHECK(ingresses(&nl, eth.index, &has) == 0);
	CHECK(podnet_clean(nspath, err) == 0);	/* nothing left: fine */
	/* ... or killed but not gone yet: the tap still there */
	CHECK(podnet_open(&p, nspath, err) == 0);
	nl_close(&p.nl);
	CHECK(podnet_clean(nspath, err) == 0);
	CHECK(ingresses(&nl, eth.index, &has) == 0);
	CHECK(!haslink(&nl, PODNET_TAP));
	close(p.tapfd);

	/* an ingress qdisc that was there before is never taken away */
	CHECK(addingress(&nl, eth.index, err) == 0);
	CHECK(podnet_open(&p, nspath, err) == -1 && errno == EEXIST);
	CHECK(strstr(err, "add qdisc ingress on eth0: File exists") != NULL);
	CHECK(ingresses(&nl, eth.index, &has) == 1 && has);
	CHECK(!haslink(&nl, PODNET_TAP));
	CHECK(nl_teardown(&nl, eth.index, 0, -1, err) == 0);

	/* a second link with an address: refused, nothing made */
	CHECK(nl_setlink(&nl, eth.index, 0, 1, err) == 0);
	CHECK(nl_linkbyname(&nl, "peer0", &t, err) == 0);
	a.index = t.index;
	inet_pton(AF_INET, "10.10.0.2", a.addr);
	CHECK(nl_addaddr(&nl, &a, err) == 0);
	CHECK(podnet_open(&p, nspath, err) == -1);
	n = strlen(nspath);
	CHECK(!strncmp(err, "netns ", 6) && !strncmp(err + 6, nspath, n) &&
	    !strncmp(err + 6 + n, ": the pod's netns has 2 links with an "
	    "address (", 43) && strstr(err, "eth0") && strstr(err, "peer0") &&
	    strstr(err, "): husk takes one"));
	CHECK(!haslink(&nl, PODNET_TAP) && ingresses(&nl, 0, &has) == 0);
out:
	CHECK(nl_dellink(&nl, eth.index, err) == 0);
	nl_close(&nl);
}

static void
gone(void)
{
	char err[ERRLEN];
	PodNet p;

	CHECK(podnet_clean("/nonexistent/netns", err) == 0);
	CHECK(podnet_open(&p, "/nonexistent/netns", err) == -1);
	CHECK(!strcmp(err, "netns /nonexistent/netns: netlink: open "
	    "/nonexistent/netns: No such file or directory"));
	podnet_close(&p);
	CHECK(podnet_clean("/proc/self/ns/uts", err) == -1);
}

int
main(void)
{
	RUN(describe_cni);
	RUN(describe_links);
	RUN(describe_caps);
	RUN(gone);
	if (mkns() == 0)
		RUN(openclose);
	return TDONE();
}
