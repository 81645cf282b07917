/* See LICENSE file for copyright and license details. */
/*
 * The pod's network, host side: the policy over netlink.c's mechanism.
 * netlink.c knows how to read a namespace and build a tap and a redirect;
 * this file decides which link is the pod's, what of its addresses,
 * routes and neighbours the guest gets, and in which order things are
 * made and undone. Its own file so that the choice (podnet_describe) is a
 * pure function over an NlNet the tests hand-make, and netlink.c stays
 * free of any notion of a pod.
 *
 * The pod's link is what the CNI plugin left in the netns: the one link
 * that is not loopback, is Ethernet, and has an address of global or link
 * scope. husk's own tap is never it (podnet_clean reads the netns while
 * the tap of a killed shim may still be there, with an IPv6 link-local
 * address of its own). None, or more than one, is an error: husk gives
 * the guest one NIC and will not guess.
 *
 * What the guest gets is what the kernel would not make by itself: the
 * link's addresses but IPv6 link-local ones (the guest kernel derives
 * the same from the same MAC), its unicast routes of the main table but
 * the fe80::/64 and ff00::/8 ones every IPv6 link gets, and its permanent
 * neighbours (a CNI's static ARP entries; learnt ones the guest learns).
 * Past AGENT_MAX* of anything is an error naming what: a clipped route
 * table would be a pod that half works.
 *
 * podnet_open makes the tap beside the link with the link's MTU and the
 * redirect both ways; a failure undoes only what it made, so an ingress
 * qdisc that was there before is never taken away. podnet_close removes
 * the qdiscs and the tap; podnet_clean does the same from the netns path
 * alone. The tap is not persistent: the kernel removes it when the shim
 * dies, but the veth's ingress qdisc stays until the veth goes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/socket.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "husk.h"

static size_t
famlen(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

/* an address the guest's own IPv6 stack makes: fe80::/10 */
static int
linklocal6(int family, const uint8_t *a)
{
	return family == AF_INET6 && a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

/* a route every IPv6 link gets: fe80::/64, multicast ff00::/8 */
static int
kernelroute6(const NlRoute *r)
{
	static const uint8_t fe80[8] = { 0xfe, 0x80 };

	if (r->family != AF_INET6)
		return 0;
	return (r->dstlen == 64 && !memcmp(r->dst, fe80, 8)) ||
	    (r->dstlen == 8 && r->dst[0] == 0xff);
}

/* link l could be the pod's */
static int
candidate(const NlNet *n, const NlLink *l)
{
	size_t i;

	if ((l->flags & IFF_LOOPBACK) || l->type != ARPHRD_ETHER ||
	    !strcmp(l->name, PODNET_TAP))
		return 0;
	for (i = 0; i < n->naddrs; i++)
		if (n->addrs[i].index == l->index &&
		    (n->addrs[i].scope == RT_SCOPE_UNIVERSE ||
		    n->addrs[i].scope == RT_SCOPE_LINK))
			return 1;
	return 0;
}

/* one more of what, at most max */
static int
room(size_t n, size_t max, const char *link, const char *what, char *err)
{
	if (n < max)
		return 1;
	seterr(err, "the pod's link %s has more than %zu %s: husk carries "
	    "at most %zu", link, max, what, max);
	return 0;
}

int
podnet_describe(const NlNet *n, AgentNet *an, int *veth, char *err)
{
	const NlLink *l = NULL;
	char names[ERRLEN] = "";
	size_t i, k, al, nl = 0;
	AgentIf *f;

	memset(an, 0, sizeof(*an));
	for (i = 0; i < n->nlinks; i++) {
		if (!candidate(n, &n->links[i]))
			continue;
		k = strlen(names);
		snprintf(names + k, sizeof(names) - k, "%s%s", nl ? ", " : "",
		    n->links[i].name);
		l = &n->links[i];
		nl++;
	}
	if (nl == 0) {
		seterr(err, "the pod's netns has no network link with an address");
		return -1;
	}
	if (nl > 1) {
		seterr(err, "the pod's netns has %zu links with an address (%s): "
		    "husk takes one", nl, names);
		return -1;
	}
	if (l->maclen != 6) {
		seterr(err, "the pod's link %s has a %u-byte hardware address, "
		    "not an Ethernet one", l->name, l->maclen);
		return -1;
	}
	if (l->mtu < NET_MINMTU || l->mtu > NET_MAXMTU) {
		seterr(err, "the pod's link %s has MTU %u: husk takes %d to %d",
		    l->name, l->mtu, NET_MINMTU, NET_MAXMTU);
		return -1;
	}
	f = &an->ifs[an->nifs++];
	memcpy(f->mac, l->mac, 6);
	f->mtu = l->mtu;
	snprintf(f->name, sizeof(f->name), "%s", l->name);

	for (i = 0; i < n->naddrs; i++) {
		const NlAddr *a = &n->addrs[i];
		AgentIp *ip;

		if (a->index != l->index || !(al = famlen(a->family)) ||
		    linklocal6(a->family, a->addr))
			continue;
		if (!room(an->nips, AGENT_MAXIPS, l->name, "addresses", err))
			return -1;
		ip = &an->ips[an->nips++];
		ip->family = a->family;
		memcpy(ip->addr, a->addr, al);
		ip->prefix = a->prefix;
	}
	for (i = 0; i < n->nroutes; i++) {
		const NlRoute *r = &n->routes[i];
		AgentRoute *rt;

		if (r->oif != l->index || !(al = famlen(r->family)) ||
		    kernelroute6(r))
			continue;
		if (!room(an->nroutes, AGENT_MAXROUTES, l->name, "routes", err))
			return -1;
		rt = &an->routes[an->nroutes++];
		rt->family = r->family;
		memcpy(rt->dst, r->dst, al);
		rt->dstlen = r->dstlen;
		if ((rt->hasgw = r->hasgw))
			memcpy(rt->gw, r->gw, al);
		if ((rt->hassrc = r->hassrc))
			memcpy(rt->src, r->src, al);
		rt->scope = r->scope;
		rt->onlink = (r->flags & RTNH_F_ONLINK) != 0;
		rt->metric = r->metric;
	}
	for (i = 0; i < n->nneighs; i++) {
		const NlNeigh *ne = &n->neighs[i];
		AgentNeigh *g;

		if (ne->index != l->index || !(ne->state & NUD_PERMANENT) ||
		    !(al = famlen(ne->family)) || ne->lllen != 6)
			continue;
		if (!room(an->nneighs, AGENT_MAXNEIGHS, l->name, "neighbours", err))
			return -1;
		g = &an->neighs[an->nneighs++];
		g->family = ne->family;
		memcpy(g->ip, ne->ip, al);
		memcpy(g->mac, ne->lladdr, 6);
	}
	*veth = l->index;
	return 0;
}

int
podnet_open(PodNet *p, const char *netns, char *err)
{
	char detail[ERRLEN], ignore[ERRLEN];
	NlNet net;
	int e;

	memset(p, 0, sizeof(*p));
	p->tapfd = -1;
	memset(&net, 0, sizeof(net));
	if (nl_open(&p->nl, netns, detail) < 0)
		goto fail;
	if (nl_read(&p->nl, &net, detail) < 0 ||
	    podnet_describe(&net, &p->net, &p->veth, detail) < 0)
		goto undo;
	if ((p->tapfd = nl_tap(&p->nl, PODNET_TAP, p->net.ifs[0].mtu, &p->tap,
	    detail)) < 0 || nl_redirect(&p->nl, p->veth, p->tap, detail) < 0)
		goto undo;
	nl_netfree(&net);
	return 0;
undo:
	/* only what this call made: the tap (closing its fd removes it) */
	e = errno;
	if (p->tapfd >= 0)
		nl_teardown(&p->nl, 0, p->tap, p->tapfd, ignore);
	nl_netfree(&net);
	nl_close(&p->nl);
	p->veth = p->tap = 0;
	p->tapfd = -1;
	errno = e;
fail:
	seterr(err, "netns %s: %s", netns, detail);
	return -1;
}

/* p went through podnet_open, failed or not */
void
podnet_close(PodNet *p)
{
	char err[ERRLEN];

	if (p->nl.fd >= 0 && nl_teardown(&p->nl, p->veth, p->tap, p->tapfd,
	    err) < 0)
		logmsg(LWARN, "the pod's network: %s", err);
	nl_close(&p->nl);
	p->veth = p->tap = 0;
	p->tapfd = -1;
}

int
podnet_clean(const char *netns, char *err)
{
	char detail[ERRLEN];
	AgentNet *an = NULL;
	NlNet net;
	NlLink t;
	Nl nl;
	int veth = 0, tap = 0, rc = -1;

	memset(&net, 0, sizeof(net));
	if (nl_open(&nl, netns, detail) < 0) {
		if (errno == ENOENT)
			return 0;	/* the netns is gone, and all in it */
		seterr(err, "netns %s: %s", netns, detail);
		return -1;
	}
	if (nl_linkbyname(&nl, PODNET_TAP, &t, detail) == 0)
		tap = t.index;
	else if (errno != ENODEV)
		goto out;
	if (nl_read(&nl, &net, detail) < 0)
		goto out;
	/* a netns podnet_describe refuses was never wired */
	an = emalloc(sizeof(*an));
	if (podnet_describe(&net, an, &veth, detail) < 0)
		veth = 0;
	rc = nl_teardown(&nl, veth, tap, -1, detail);
out:
	if (rc < 0)
		seterr(err, "netns %s: %s", netns, detail);
	free(an);
	nl_netfree(&net);
	nl_close(&nl);
	return rc;
}
