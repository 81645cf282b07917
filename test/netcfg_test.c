/* See LICENSE file for copyright and license details. */
/*
 * agent/netcfg.c: hostile requests refused before anything changes (an
 * index past its count, family 99, prefix 200, bad names, MTUs and MACs,
 * counts past the caps), then, as root where unshare(CLONE_NEWNET) works,
 * the real thing in a fresh namespace that stands in for the VM's: a
 * veth pair (this machine's kernel may lack dummy), one end of it found
 * by its MAC, renamed eth0, given an MTU, IPv4 and IPv6 addresses,
 * routes (a gateway route listed before the link route it needs) and
 * neighbours, all read back; the same request again (replace
 * semantics); and the failures the kernel reports, each naming what
 * failed. Included whole, as it is built.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "../agent/netcfg.c"
#include "t.h"

static const uint8_t gwmac[6] = { 2, 0xaa, 0xbb, 0xcc, 0xdd, 1 };
static uint8_t mac[6];		/* the veth end netcfg looks for */

static void
pton(int family, const char *s, uint8_t *dst)
{
	if (inet_pton(family, s, dst) != 1) {
		printf("bad address in the test: %s\n", s);
		exit(1);
	}
}

static void
addip(AgentNet *n, int family, const char *ip, unsigned prefix)
{
	AgentIp *a = &n->ips[n->nips++];

	a->family = family;
	pton(family, ip, a->addr);
	a->prefix = prefix;
}

/* gw NULL: a link route */
static AgentRoute *
addrt(AgentNet *n, int family, const char *dst, unsigned len, const char *gw)
{
	AgentRoute *r = &n->routes[n->nroutes++];

	r->family = family;
	pton(family, dst, r->dst);
	r->dstlen = len;
	if (gw) {
		pton(family, gw, r->gw);
		r->hasgw = 1;
	} else {
		r->scope = RT_SCOPE_LINK;
	}
	return r;
}

static void
addnb(AgentNet *n, int family, const char *ip)
{
	AgentNeigh *ne = &n->neighs[n->nneighs++];

	ne->family = family;
	pton(family, ip, ne->ip);
	memcpy(ne->mac, gwmac, 6);
}

/* the pod's network as podnet.c would describe it */
static void
pod(AgentNet *n)
{
	AgentRoute *r;

	memset(n, 0, sizeof(*n));
	n->nifs = 1;
	memcpy(n->ifs[0].mac, mac, 6);
	n->ifs[0].mtu = 1400;
	strcpy(n->ifs[0].name, "eth0");
	addip(n, AF_INET, "10.88.0.5", 16);
	addip(n, AF_INET6, "fd00::5", 64);
	addrt(n, AF_INET, "0.0.0.0", 0, "10.88.0.1");
	addrt(n, AF_INET6, "::", 0, "fd00::1");
	/* needs the link route that follows it */
	r = addrt(n, AF_INET, "10.77.0.0", 16, "192.168.5.1");
	r->metric = 100;
	r = addrt(n, AF_INET, "10.88.0.0", 16, NULL);
	r->hassrc = 1;
	pton(AF_INET, "10.88.0.5", r->src);
	addrt(n, AF_INET, "192.168.5.0", 24, NULL);
	addnb(n, AF_INET, "10.88.0.1");
	addnb(n, AF_INET6, "fd00::1");
}

/* netcfg_apply refuses n with errno EINVAL and err */
static int
refused(const AgentNet *n, const char *want)
{
	char err[ERRLEN];

	err[0] = '\0';
	errno = 0;
	if (netcfg_apply(n, err) == -1 && errno == EINVAL && !strcmp(err, want))
		return 1;
	printf("  got \"%s\", want \"%s\"\n", err, want);
	return 0;
}

static void
hostile(void)
{
	AgentNet n, h;

	pod(&n);
	memcpy(n.ifs[0].mac, "\2\0\0\0\0\x42", 6);
	h = n;
	h.ips[1].ifidx = 1;
	CHECK(refused(&h, "network: address 1: interface 1 of none such"));
	h = n;
	h.routes[2].ifidx = 4000000000u;
	CHECK(refused(&h, "network: route 2: interface 4000000000 of none such"));
	h = n;
	h.neighs[0].ifidx = 7;
	CHECK(refused(&h, "network: neighbour 0: interface 7 of none such"));
	h = n;
	h.ips[0].family = 99;
	CHECK(refused(&h, "network: address 0: family 99 is neither IPv4 nor IPv6"));
	h = n;
	h.routes[0].family = 99;
	CHECK(refused(&h, "network: route 0: family 99 is neither IPv4 nor IPv6"));
	h = n;
	h.neighs[1].family = -1;
	CHECK(refused(&h, "network: neighbour 1: family -1 is neither IPv4 nor IPv6"));
	h = n;
	h.ips[1].prefix = 200;
	CHECK(refused(&h, "network: address 1: prefix /200 longer than the address"));
	h = n;
	h.ips[0].prefix = 33;
	CHECK(refused(&h, "network: address 0: prefix /33 longer than the address"));
	h = n;
	h.routes[1].dstlen = 129;
	CHECK(refused(&h, "network: route 1: prefix /129 longer than the address"));
	h = n;
	h.routes[1].scope = 256;
	CHECK(refused(&h, "network: route 1: scope 256 out of range"));
	/* names: empty, unterminated, ones the kernel refuses, unprintable */
	h = n;
	h.ifs[0].name[0] = '\0';
	CHECK(refused(&h, "network: interface 0: bad name \"\""));
	h = n;
	memset(h.ifs[0].name, 'x', sizeof(h.ifs[0].name));
	CHECK(refused(&h, "network: interface 0: bad name \"xxxxxxxxxxxxxxxx\""));
	h = n;
	strcpy(h.ifs[0].name, "..");
	CHECK(refused(&h, "network: interface 0: bad name \"..\""));
	h = n;
	strcpy(h.ifs[0].name, "eth0:1");
	CHECK(refused(&h, "network: interface 0: bad name \"eth0:1\""));
	h = n;
	strcpy(h.ifs[0].name, "a/b");
	CHECK(refused(&h, "network: interface 0: bad name \"a/b\""));
	h = n;
	strcpy(h.ifs[0].name, "a b\n");
	CHECK(refused(&h, "network: interface 0: bad name \"a b\\x0a\""));
	h = n;
	h.ifs[0].mtu = 0;
	CHECK(refused(&h, "network: interface 0: MTU 0 out of range"));
	h = n;
	h.ifs[0].mtu = 65536;
	CHECK(refused(&h, "network: interface 0: MTU 65536 out of range"));
	h = n;
	memset(h.ifs[0].mac, 0, 6);
	CHECK(refused(&h, "network: interface 0: MAC 00:00:00:00:00:00 is not unicast"));
	h = n;
	h.ifs[0].mac[0] = 1;
	CHECK(refused(&h, "network: interface 0: MAC 01:00:00:00:00:42 is not unicast"));
	h = n;
	h.nifs = 2;
	h.ifs[1] = h.ifs[0];
	strcpy(h.ifs[1].name, "eth1");
	CHECK(refused(&h, "network: interface 1: the MAC or name of interface 0 again"));
	h.ifs[1].mac[5] = 0x43;
	strcpy(h.ifs[1].name, "eth0");
	CHECK(refused(&h, "network: interface 1: the MAC or name of interface 0 again"));
	/* counts past the arrays */
	h = n;
	h.nifs = AGENT_MAXIFS + 1;
	CHECK(refused(&h, "network: more interfaces, addresses, routes or "
	    "neighbours than 4, 16, 64, 64"));
	h = n;
	h.nneighs = (size_t)-1;
	CHECK(refused(&h, "network: more interfaces, addresses, routes or "
	    "neighbours than 4, 16, 64, 64"));
	/* no interface: an address has none to go on */
	memset(&h, 0, sizeof(h));
	addip(&h, AF_INET, "10.0.0.1", 8);
	CHECK(refused(&h, "network: address 0: interface 0 of none such"));
}

/* the namespace test */

static Nl nl;

static int
mkns(void)
{
	char err[ERRLEN];
	struct ifinfomsg ifi;
	NlReq r;
	NlLink l;
	size_t li, data, peer;

	if (geteuid() != 0) {
		printf("SKIP netcfg: needs root\n");
		return -1;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		printf("SKIP netcfg: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	if (nl_open(&nl, NULL, err) < 0) {
		printf("FAIL netcfg: %s\n", err);
		exit(1);
	}
	/* a veth pair: hv0 plays the guest's NIC, hv1 gives it a carrier */
	memset(&ifi, 0, sizeof(ifi));
	nl_req(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
	nl_attr(&r, IFLA_IFNAME, "hv0", 4);
	li = nl_nest(&r, IFLA_LINKINFO);
	nl_attr(&r, IFLA_INFO_KIND, "veth", 4);
	data = nl_nest(&r, IFLA_INFO_DATA);
	peer = nl_nest(&r, VETH_INFO_PEER);
	nl_put(&r, &ifi, sizeof(ifi));
	nl_attr(&r, IFLA_IFNAME, "hv1", 4);
	nl_end(&r, peer);
	nl_end(&r, data);
	nl_end(&r, li);
	if (nl_talk(&nl, &r, NULL, "add veth", err) < 0) {
		printf("SKIP netcfg: no veth in this kernel: %s\n", err);
		return -1;
	}
	if (nl_linkbyname(&nl, "hv1", &l, err) < 0 ||
	    nl_setlink(&nl, l.index, 0, 1, err) < 0 ||
	    nl_linkbyname(&nl, "hv0", &l, err) < 0 || l.maclen != 6) {
		printf("FAIL netcfg: %s\n", err);
		exit(1);
	}
	memcpy(mac, l.mac, 6);
	return 0;
}

static int
has(const NlNet *net, int family, const char *dst, unsigned len,
    const char *gw, int oif, unsigned metric)
{
	uint8_t d[16], g[16];
	size_t i, alen = family == AF_INET ? 4 : 16;

	pton(family, dst, d);
	if (gw)
		pton(family, gw, g);
	for (i = 0; i < net->nroutes; i++) {
		const NlRoute *r = &net->routes[i];

		if (r->family == family && r->dstlen == len && r->oif == oif &&
		    !memcmp(r->dst, d, alen) && !r->hasgw == !gw &&
		    (!gw || !memcmp(r->gw, g, alen)) && (!metric ||
		    r->metric == metric))
			return 1;
	}
	return 0;
}

/* n's every piece read back, eth0's MTU mtu */
static void
readback(unsigned mtu)
{
	char err[ERRLEN];
	uint8_t a4[4], a6[16], g4[4], g6[16];
	NlNet net;
	NlLink eth, lo;
	size_t i;
	int ok;

	CHECK(nl_linkbyname(&nl, "eth0", &eth, err) == 0);
	CHECK(!memcmp(eth.mac, mac, 6) && eth.mtu == mtu && (eth.flags & IFF_UP));
	CHECK(nl_linkbyname(&nl, "hv0", &lo, err) == -1);
	CHECK(nl_linkbyname(&nl, "lo", &lo, err) == 0 && (lo.flags & IFF_UP));
	CHECK(nl_read(&nl, &net, err) == 0);
	pton(AF_INET, "10.88.0.5", a4);
	pton(AF_INET6, "fd00::5", a6);
	ok = 0;
	for (i = 0; i < net.naddrs; i++) {
		if (net.addrs[i].index != eth.index)
			continue;
		if (net.addrs[i].family == AF_INET && net.addrs[i].prefix == 16 &&
		    !memcmp(net.addrs[i].addr, a4, 4))
			ok++;
		/* usable at once: no DAD */
		if (net.addrs[i].family == AF_INET6 && net.addrs[i].prefix == 64 &&
		    !memcmp(net.addrs[i].addr, a6, 16) &&
		    !(net.addrs[i].flags & IFA_F_TENTATIVE))
			ok += 10;
	}
	CHECK(ok == 11);
	CHECK(has(&net, AF_INET, "0.0.0.0", 0, "10.88.0.1", eth.index, 0));
	CHECK(has(&net, AF_INET6, "::", 0, "fd00::1", eth.index, 0));
	CHECK(has(&net, AF_INET, "10.77.0.0", 16, "192.168.5.1", eth.index, 100));
	CHECK(has(&net, AF_INET, "10.88.0.0", 16, NULL, eth.index, 0));
	CHECK(has(&net, AF_INET, "192.168.5.0", 24, NULL, eth.index, 0));
	CHECK(has(&net, AF_INET6, "fd00::", 64, NULL, eth.index, 0));
	pton(AF_INET, "10.88.0.1", g4);
	pton(AF_INET6, "fd00::1", g6);
	ok = 0;
	for (i = 0; i < net.nneighs; i++)
		if (net.neighs[i].index == eth.index &&
		    net.neighs[i].state == NUD_PERMANENT &&
		    net.neighs[i].lllen == 6 &&
		    !memcmp(net.neighs[i].lladdr, gwmac, 6) &&
		    ((net.neighs[i].family == AF_INET &&
		    !memcmp(net.neighs[i].ip, g4, 4)) ||
		    (net.neighs[i].family == AF_INET6 &&
		    !memcmp(net.neighs[i].ip, g6, 16))))
			ok++;
	CHECK(ok == 2);
	nl_netfree(&net);
}

static void
apply(void)
{
	char err[ERRLEN];
	AgentNet n;

	pod(&n);
	if (netcfg_apply(&n, err) < 0) {
		printf("  %s\n", err);
		CHECK(0);
	}
	readback(1400);
	/* again, with another MTU: everything replaced, nothing in the way */
	n.ifs[0].mtu = 1300;
	if (netcfg_apply(&n, err) < 0) {
		printf("  %s\n", err);
		CHECK(0);
	}
	readback(1300);
}

/* netcfg_apply fails on n and err begins with want */
static int
fails(const AgentNet *n, const char *want)
{
	char err[ERRLEN];

	err[0] = '\0';
	if (netcfg_apply(n, err) == -1 && strstr(err, want) == err)
		return 1;
	printf("  got \"%s\", want \"%s...\"\n", err, want);
	return 0;
}

static void
failures(void)
{
	char err[ERRLEN], want[ERRLEN];
	AgentNet n, h;
	NlLink l;

	pod(&n);
	h = n;
	addrt(&h, AF_INET, "10.99.0.0", 16, "10.98.0.1");
	snprintf(want, sizeof(want), "network: route 10.99.0.0/16 via "
	    "10.98.0.1 dev eth0: %s", strerror(ENETUNREACH));
	CHECK(fails(&h, want));
	h = n;
	h.ifs[0].mac[5] ^= 0xff;
	h.ifs[0].mac[0] = 2;
	CHECK(fails(&h, "network: no link with MAC 02:"));
	/* a name another link has */
	h = n;
	strcpy(h.ifs[0].name, "hv1");
	snprintf(want, sizeof(want), "network: rename eth0 to hv1: %s",
	    strerror(EEXIST));
	CHECK(fails(&h, want));
	h = n;
	h.ifs[0].mtu = 1000;	/* too small for IPv6 */
	CHECK(fails(&h, "network: address fd00::5/64 dev eth0: "));
	/* no interface: lo alone */
	memset(&h, 0, sizeof(h));
	CHECK(netcfg_apply(&h, err) == 0);
	CHECK(nl_linkbyname(&nl, "lo", &l, err) == 0 && (l.flags & IFF_UP));
	/* and it all comes back */
	CHECK(netcfg_apply(&n, err) == 0);
	readback(1400);
}

int
main(void)
{
	int ns = mkns();

	/* what hostile gets past the checks must not reach this machine's
	 * network: in the namespace, or without the right to change it */
	if (ns == 0 || geteuid() != 0)
		RUN(hostile);
	if (ns == 0) {
		RUN(apply);
		RUN(failures);
		nl_close(&nl);
	}
	return TDONE();
}
