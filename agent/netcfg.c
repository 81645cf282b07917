/* See LICENSE file for copyright and license details. */
/*
 * The pod's network in the guest: what the shim read in the pod's netns
 * (AgentNet, husk.h) set up in the VM's own network namespace through
 * netlink.c, in the order the kernel needs it.
 *
 * The whole request is checked before anything changes: every index
 * below its count, every family IPv4 or IPv6, every prefix within its
 * address, every name one the kernel would take, every MAC unicast, no
 * MAC or name twice. Then lo goes up, and each interface is found by its
 * MAC (the shim gave the guest NIC the CNI veth's), renamed (down first:
 * older kernels rename no link that is up), given its MTU, brought up
 * and given its addresses. IPv6 addresses carry IFA_F_NODAD (nl_addaddr):
 * they were the pod's before, so they work at once, without DAD's delay
 * and without an accept_dad sysctl. Then the routes, link routes first
 * since a gateway must be reachable when its route comes, then the
 * neighbours, permanent. All is added with replace semantics: a second
 * request changes what the first set up and fails nowhere for finding it
 * there; what it no longer names stays.
 *
 * A failure stops at once and says what, in the kernel's words:
 * "network: route 10.99.0.0/16 via 10.98.0.1 dev eth0: Network
 * unreachable (Nexthop has invalid gateway)". What came before it stays.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "../husk.h"
#include "agent.h"

/* -1 with errno EINVAL and err = "network: <fmt ...>" */
static int
invalid(char *err, const char *fmt, ...)
{
	char msg[ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	errno = EINVAL;
	seterr(err, "network: %s", msg);
	return -1;
}

static unsigned
bits(int family)
{
	return family == AF_INET ? 32 : family == AF_INET6 ? 128 : 0;
}

/* the checks of what every kind of entry shares */
static int
checkip(const AgentNet *n, const char *what, size_t i, unsigned ifidx,
    int family, unsigned prefix, char *err)
{
	if (ifidx >= n->nifs)
		return invalid(err, "%s %zu: interface %u of none such",
		    what, i, ifidx);
	if (!bits(family))
		return invalid(err, "%s %zu: family %d is neither IPv4 nor IPv6",
		    what, i, family);
	if (prefix > bits(family))
		return invalid(err, "%s %zu: prefix /%u longer than the address",
		    what, i, prefix);
	return 0;
}

/* what the kernel's dev_valid_name takes, and printable */
static int
goodname(const char *s, size_t size)
{
	size_t len = strnlen(s, size), i;

	if (len == 0 || len >= IFNAMSIZ || len >= size || !strcmp(s, ".") ||
	    !strcmp(s, ".."))
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '/' || s[i] == ':')
			return 0;
	return 1;
}

static int
check(const AgentNet *n, char *err)
{
	char name[4 * sizeof(n->ifs[0].name) + 1];
	const uint8_t *m;
	size_t i, j;

	if (n->nifs > AGENT_MAXIFS || n->nips > AGENT_MAXIPS ||
	    n->nroutes > AGENT_MAXROUTES || n->nneighs > AGENT_MAXNEIGHS) {
		errno = EINVAL;
		seterr(err, "network: more interfaces, addresses, routes or "
		    "neighbours than %d, %d, %d, %d", AGENT_MAXIFS, AGENT_MAXIPS,
		    AGENT_MAXROUTES, AGENT_MAXNEIGHS);
		return -1;
	}
	for (i = 0; i < n->nifs; i++) {
		if (!goodname(n->ifs[i].name, sizeof(n->ifs[i].name)))
			return invalid(err, "interface %zu: bad name \"%s\"", i,
			    escape(name, sizeof(name), n->ifs[i].name,
			    strnlen(n->ifs[i].name, sizeof(n->ifs[i].name))));
		if (n->ifs[i].mtu < NET_MINMTU || n->ifs[i].mtu > NET_MAXMTU)
			return invalid(err, "interface %zu: MTU %u out of range",
			    i, n->ifs[i].mtu);
		/* lo's MAC is all zero: never taken for a NIC */
		m = n->ifs[i].mac;
		if ((m[0] & 1) || !(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]))
			return invalid(err, "interface %zu: MAC "
			    "%02x:%02x:%02x:%02x:%02x:%02x is not unicast", i,
			    m[0], m[1], m[2], m[3], m[4], m[5]);
		for (j = 0; j < i; j++)
			if (!memcmp(m, n->ifs[j].mac, 6) ||
			    !strcmp(n->ifs[i].name, n->ifs[j].name))
				return invalid(err, "interface %zu: the MAC or "
				    "name of interface %zu again", i, j);
	}
	for (i = 0; i < n->nips; i++)
		if (checkip(n, "address", i, n->ips[i].ifidx, n->ips[i].family,
		    n->ips[i].prefix, err) < 0)
			return -1;
	for (i = 0; i < n->nroutes; i++) {
		if (checkip(n, "route", i, n->routes[i].ifidx,
		    n->routes[i].family, n->routes[i].dstlen, err) < 0)
			return -1;
		if (n->routes[i].scope > RT_SCOPE_NOWHERE)
			return invalid(err, "route %zu: scope %u out of range",
			    i, n->routes[i].scope);
	}
	for (i = 0; i < n->nneighs; i++)
		if (checkip(n, "neighbour", i, n->neighs[i].ifidx,
		    n->neighs[i].family, 0, err) < 0)
			return -1;
	return 0;
}

/*
 * err = "network: <fmt ...>: <the kernel's words>", the words taken from
 * netlink.c's "netlink: <what> on <link>: <words>" in nlerr (all of it
 * when it has no such part)
 */
static int
fail(char *err, const char *nlerr, const char *link, const char *fmt, ...)
{
	char on[IFNAMSIZ + 8], what[ERRLEN];
	const char *p;
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(on, sizeof(on), " on %s: ", link);
	p = strstr(nlerr, on);
	seterr(err, "network: %s: %s", what, p ? p + strlen(on) : nlerr);
	errno = e;
	return -1;
}

/* the interface by MAC, named, MTU set, up: its index, or -1 */
static int
setif(Nl *nl, const AgentIf *f, char *err)
{
	char nlerr[ERRLEN];
	const uint8_t *m = f->mac;
	NlLink l;

	if (nl_linkbymac(nl, m, &l, nlerr) < 0) {
		if (errno == ENODEV)
			seterr(err, "network: no link with MAC "
			    "%02x:%02x:%02x:%02x:%02x:%02x (%s)",
			    m[0], m[1], m[2], m[3], m[4], m[5], f->name);
		else
			seterr(err, "network: %s", nlerr);
		return -1;
	}
	if (strcmp(l.name, f->name) && (((l.flags & IFF_UP) &&
	    nl_setlink(nl, l.index, 0, 0, nlerr) < 0) ||
	    nl_setname(nl, l.index, f->name, nlerr) < 0))
		return fail(err, nlerr, l.name, "rename %s to %s", l.name,
		    f->name);
	if (nl_setlink(nl, l.index, f->mtu, 1, nlerr) < 0)
		return fail(err, nlerr, f->name, "MTU %u, up dev %s", f->mtu,
		    f->name);
	return l.index;
}

/* an entry's link: its name in errors, netlink.c's and ours */
#define IFNAME(n, e)	((n)->ifs[(e)->ifidx].name)

static int
addips(Nl *nl, const AgentNet *n, const int *idx, char *err)
{
	char nlerr[ERRLEN], a[INET6_ADDRSTRLEN];
	const AgentIp *ip;
	NlAddr ad;
	size_t i;

	for (i = 0; i < n->nips; i++) {
		ip = &n->ips[i];
		memset(&ad, 0, sizeof(ad));
		ad.family = ip->family;
		ad.index = idx[ip->ifidx];
		memcpy(ad.addr, ip->addr, bits(ip->family) / 8);
		ad.prefix = ip->prefix;
		if (nl_addaddr(nl, &ad, nlerr) < 0)
			return fail(err, nlerr, IFNAME(n, ip), "address %s/%u dev %s",
			    inet_ntop(ip->family, ip->addr, a, sizeof(a)),
			    ip->prefix, IFNAME(n, ip));
	}
	return 0;
}

/* those with a gateway (gw 1) or those without (gw 0) */
static int
addroutes(Nl *nl, const AgentNet *n, const int *idx, int gw, char *err)
{
	char nlerr[ERRLEN], a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
	const AgentRoute *r;
	NlRoute rt;
	size_t i;

	for (i = 0; i < n->nroutes; i++) {
		r = &n->routes[i];
		if (!!r->hasgw != gw)
			continue;
		memset(&rt, 0, sizeof(rt));
		rt.family = r->family;
		memcpy(rt.dst, r->dst, bits(r->family) / 8);
		rt.dstlen = r->dstlen;
		memcpy(rt.gw, r->gw, bits(r->family) / 8);
		rt.hasgw = gw;
		memcpy(rt.src, r->src, bits(r->family) / 8);
		rt.hassrc = !!r->hassrc;
		rt.oif = idx[r->ifidx];
		rt.scope = r->scope;
		rt.flags = r->onlink ? RTNH_F_ONLINK : 0;
		rt.metric = r->metric;
		if (nl_addroute(nl, &rt, nlerr) < 0)
			return fail(err, nlerr, IFNAME(n, r),
			    "route %s/%u%s%s dev %s",
			    inet_ntop(r->family, r->dst, a, sizeof(a)), r->dstlen,
			    gw ? " via " : "",
			    gw ? inet_ntop(r->family, r->gw, b, sizeof(b)) : "",
			    IFNAME(n, r));
	}
	return 0;
}

static int
addneighs(Nl *nl, const AgentNet *n, const int *idx, char *err)
{
	char nlerr[ERRLEN], a[INET6_ADDRSTRLEN];
	const AgentNeigh *ne;
	NlNeigh nn;
	size_t i;

	for (i = 0; i < n->nneighs; i++) {
		ne = &n->neighs[i];
		memset(&nn, 0, sizeof(nn));
		nn.family = ne->family;
		nn.index = idx[ne->ifidx];
		memcpy(nn.ip, ne->ip, bits(ne->family) / 8);
		memcpy(nn.lladdr, ne->mac, 6);
		nn.lllen = 6;
		if (nl_addneigh(nl, &nn, nlerr) < 0)
			return fail(err, nlerr, IFNAME(n, ne), "neighbour %s dev %s",
			    inet_ntop(ne->family, ne->ip, a, sizeof(a)),
			    IFNAME(n, ne));
	}
	return 0;
}

int
netcfg_apply(const AgentNet *n, char *err)
{
	char nlerr[ERRLEN];
	int idx[AGENT_MAXIFS], rc = -1;
	NlLink lo;
	Nl nl;
	size_t i;

	if (check(n, err) < 0)
		return -1;
	if (nl_open(&nl, NULL, nlerr) < 0) {
		seterr(err, "network: %s", nlerr);
		return -1;
	}
	if (nl_linkbyname(&nl, "lo", &lo, nlerr) < 0 ||
	    nl_setlink(&nl, lo.index, 0, 1, nlerr) < 0) {
		seterr(err, "network: lo up: %s", nlerr);
		goto out;
	}
	for (i = 0; i < n->nifs; i++)
		if ((idx[i] = setif(&nl, &n->ifs[i], err)) < 0)
			goto out;
	/* a gateway must be reachable when its route comes */
	if (addips(&nl, n, idx, err) == 0 &&
	    addroutes(&nl, n, idx, 0, err) == 0 &&
	    addroutes(&nl, n, idx, 1, err) == 0 &&
	    addneighs(&nl, n, idx, err) == 0)
		rc = 0;
out:
	nl_close(&nl);
	return rc;
}
