/* See LICENSE file for copyright and license details. */
/*
 * Raw rtnetlink (NETLINK_ROUTE): what the shim reads from a pod's network
 * namespace and builds there, and what the agent sets up in the guest.
 *
 * An Nl is one netlink socket. nl_open(netns) enters the namespace on the
 * calling thread only: it opens the netns file, setns(CLONE_NEWNET),
 * opens the socket, and goes home at once. A socket stays in the
 * namespace it was made in, so every request through it acts in the pod's
 * namespace while this thread, and every other, lives in the shim's. The
 * tap is made the same way, in a second short visit (Nl keeps the netns
 * fd): a tun device is born in the namespace of the /dev/net/tun file
 * that made it. A thread that cannot go home would go on in the wrong
 * namespace, so that ends the process (die).
 *
 * Requests are built in an NlReq (a fixed buffer; an attribute that does
 * not fit marks it full and it is never sent), carry NLM_F_ACK and a fresh
 * sequence number, and talk() reads replies until the kernel's ack, its
 * error, or the NLMSG_DONE that ends a dump. The kernel answers a request
 * while sendto runs, so the reads cannot wait forever. Replies to older
 * requests, and messages from anyone but the kernel, are skipped. Errors
 * name what was asked and the link by name, with the kernel's extended ack
 * text when it gave one: "netlink: add qdisc ingress on eth0: Operation
 * not supported (Specified qdisc kind is unknown)".
 *
 * nl_parse reads one datagram and is all that touches reply bytes: every
 * header and attribute length is checked against what is left before it
 * is read, a length below its own header's is malformed (so no walk can
 * stall), fields are copied out with memcpy (no unaligned access), and an
 * address must have its family's size. What it keeps: every link; IPv4
 * and IPv6 addresses; unicast routes of the main table (multipath ones are
 * skipped); neighbours that are permanent or reachable and have a
 * link-layer address; qdiscs. At most NL_MAXENT of each.
 *
 * The pod's wiring is Kata's tcfilter model: the CNI's veth and the tap
 * each get an ingress qdisc, and on each a u32 filter that matches every
 * frame and redirects it (mirred, egress) out of the other. The
 * namespace's own stack never sees the pod's traffic. The tap is not
 * persistent: when its last fd closes (the shim exits, even by kill -9)
 * the kernel removes it with its qdisc and filter; the veth's go with the
 * veth when CNI deletes the namespace. nl_teardown removes it all at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_tun.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/tc_act/tc_mirred.h>

#include "husk.h"

#define BUFSZ		32768		/* the most the kernel puts in one datagram */
#define DUMPTRIES	3		/* a dump interrupted by a change is read again */
#define FILTERPRIO	1		/* the redirect filters' priority */
#define INGRESS		0xffff0000u	/* the ingress qdisc's handle, ffff: */
#define MAXERRNO	4095		/* the kernel's error codes are -1..-MAXERRNO */
#define KEEPNUD		(NUD_PERMANENT | NUD_REACHABLE)	/* neighbours read */

typedef struct {
	const uint8_t *p;	/* NULL: absent */
	size_t n;
} Attr;

static int
bad(char *err, const char *fmt, ...)
{
	char what[ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	errno = EBADMSG;
	seterr(err, "malformed reply: %s", what);
	return -1;
}

/* the attributes in [p, p + n) by type up to max (the last one wins) */
static int
attrs(const uint8_t *p, size_t n, Attr *tb, int max)
{
	struct rtattr a;
	size_t step;
	int type;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	while (n > 0) {
		if (n < sizeof(a))
			return -1;
		memcpy(&a, p, sizeof(a));
		if (a.rta_len < sizeof(a) || a.rta_len > n)
			return -1;
		type = a.rta_type & NLA_TYPE_MASK;
		if (type <= max) {
			tb[type].p = p + sizeof(a);
			tb[type].n = a.rta_len - sizeof(a);
		}
		step = MIN(RTA_ALIGN((size_t)a.rta_len), n);
		p += step;
		n -= step;
	}
	return 0;
}

/* a message's family header into hdr and its attributes into tb */
static int
body(const uint8_t *p, size_t n, void *hdr, size_t hdrlen, Attr *tb, int max)
{
	size_t off = NLMSG_ALIGN(hdrlen);

	if (n < hdrlen)
		return -1;
	memcpy(hdr, p, hdrlen);
	if (off >= n) {
		memset(tb, 0, (max + 1) * sizeof(*tb));
		return 0;
	}
	return attrs(p + off, n - off, tb, max);
}

/* the getters: 0 absent, 1 read, -1 malformed */
static int
getu32(const Attr *a, uint32_t *v)
{
	if (!a->p)
		return 0;
	if (a->n < sizeof(*v))
		return -1;
	memcpy(v, a->p, sizeof(*v));
	return 1;
}

static int
getstr(const Attr *a, char *dst, size_t size)
{
	size_t len;

	if (!a->p)
		return 0;
	len = strnlen((const char *)a->p, a->n);
	if (len >= size)
		return -1;
	memcpy(dst, a->p, len);
	dst[len] = '\0';
	return 1;
}

static int
getbytes(const Attr *a, uint8_t *dst, size_t size, unsigned *len)
{
	if (!a->p)
		return 0;
	if (a->n > size)
		return -1;
	memcpy(dst, a->p, a->n);
	*len = a->n;
	return 1;
}

static size_t
addrlen(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

/* 1: an IPv4 or IPv6 prefix that fits, 0: another family, -1: too long */
static int
ipprefix(int family, unsigned prefix)
{
	if (!addrlen(family))
		return 0;
	return prefix <= 8 * addrlen(family) ? 1 : -1;
}

static int
getaddr(const Attr *a, int family, uint8_t *dst)
{
	if (!a->p)
		return 0;
	if (a->n != addrlen(family))
		return -1;
	memcpy(dst, a->p, a->n);
	return 1;
}

/* e appended to the array *arrp of *n entries, which doubles at powers of
 * two; arrp points to any object pointer, read and written as bytes
 * (they all look alike on the machines Linux runs on) */
static int
append(void *arrp, size_t *n, const void *e, size_t size, const char *what,
    char *err)
{
	char *a;

	if (*n >= NL_MAXENT) {
		errno = E2BIG;
		seterr(err, "more than %d %s", NL_MAXENT, what);
		return -1;
	}
	memcpy(&a, arrp, sizeof(a));
	if (!(*n & (*n - 1)))
		a = erealloc(a, (*n ? 2 * *n : 1) * size);
	memcpy(a + *n * size, e, size);
	memcpy(arrp, &a, sizeof(a));
	(*n)++;
	return 0;
}

/*
 * The parsers of data messages: hdr is the family header (aligned), tb
 * its attributes. Each fills the entry e: 1 keep it, 0 skip it, -1 and
 * err when malformed.
 */
static int
parselink(const void *hdr, const Attr *tb, void *e, char *err)
{
	const struct ifinfomsg *ifi = hdr;
	Attr info[IFLA_INFO_MAX + 1];
	uint32_t mtu = 0, peer = 0, master = 0;
	NlLink l = { .index = ifi->ifi_index, .flags = ifi->ifi_flags,
		.type = ifi->ifi_type };

	if (getstr(&tb[IFLA_IFNAME], l.name, sizeof(l.name)) < 0 ||
	    getbytes(&tb[IFLA_ADDRESS], l.mac, sizeof(l.mac), &l.maclen) < 0 ||
	    getu32(&tb[IFLA_MTU], &mtu) < 0 || getu32(&tb[IFLA_LINK], &peer) < 0 ||
	    getu32(&tb[IFLA_MASTER], &master) < 0)
		return bad(err, "link attribute");
	l.mtu = mtu;
	l.link = peer;
	l.master = master;
	if (tb[IFLA_LINKINFO].p && (attrs(tb[IFLA_LINKINFO].p,
	    tb[IFLA_LINKINFO].n, info, IFLA_INFO_MAX) < 0 ||
	    getstr(&info[IFLA_INFO_KIND], l.kind, sizeof(l.kind)) < 0))
		return bad(err, "link info");
	memcpy(e, &l, sizeof(l));
	return 1;
}

static int
parseaddr(const void *hdr, const Attr *tb, void *e, char *err)
{
	const struct ifaddrmsg *ifa = hdr;
	uint32_t flags = ifa->ifa_flags;
	NlAddr ad = { .family = ifa->ifa_family, .index = ifa->ifa_index,
		.prefix = ifa->ifa_prefixlen, .scope = ifa->ifa_scope };
	int r;

	if ((r = ipprefix(ad.family, ad.prefix)) <= 0)
		return r ? bad(err, "address prefix") : 0;
	/* IFA_LOCAL is this end's address; IFA_ADDRESS a peer's on a
	 * point-to-point link, else the same */
	if ((r = getaddr(&tb[IFA_LOCAL], ad.family, ad.addr)) == 0)
		r = getaddr(&tb[IFA_ADDRESS], ad.family, ad.addr);
	if (r < 0 || getu32(&tb[IFA_FLAGS], &flags) < 0)
		return bad(err, "address attribute");
	ad.flags = flags;
	memcpy(e, &ad, sizeof(ad));
	return r;
}

static int
parseroute(const void *hdr, const Attr *tb, void *e, char *err)
{
	const struct rtmsg *rtm = hdr;
	uint32_t table = rtm->rtm_table, oif = 0, metric = 0;
	NlRoute rt = { .family = rtm->rtm_family, .dstlen = rtm->rtm_dst_len,
		.scope = rtm->rtm_scope, .protocol = rtm->rtm_protocol,
		.flags = rtm->rtm_flags };
	int r;

	if ((r = ipprefix(rt.family, rt.dstlen)) <= 0)
		return r ? bad(err, "route prefix") : 0;
	if (getu32(&tb[RTA_TABLE], &table) < 0 ||
	    getaddr(&tb[RTA_DST], rt.family, rt.dst) < 0 ||
	    (rt.hasgw = getaddr(&tb[RTA_GATEWAY], rt.family, rt.gw)) < 0 ||
	    (rt.hassrc = getaddr(&tb[RTA_PREFSRC], rt.family, rt.src)) < 0 ||
	    getu32(&tb[RTA_OIF], &oif) < 0 ||
	    getu32(&tb[RTA_PRIORITY], &metric) < 0)
		return bad(err, "route attribute");
	rt.oif = oif;
	rt.metric = metric;
	memcpy(e, &rt, sizeof(rt));
	return table == RT_TABLE_MAIN && rtm->rtm_type == RTN_UNICAST &&
	    !tb[RTA_MULTIPATH].p;
}

static int
parseneigh(const void *hdr, const Attr *tb, void *e, char *err)
{
	const struct ndmsg *ndm = hdr;
	NlNeigh ne = { .family = ndm->ndm_family, .index = ndm->ndm_ifindex,
		.state = ndm->ndm_state };
	int hasip, hasll;

	if (!addrlen(ne.family))
		return 0;
	if ((hasip = getaddr(&tb[NDA_DST], ne.family, ne.ip)) < 0 ||
	    (hasll = getbytes(&tb[NDA_LLADDR], ne.lladdr, sizeof(ne.lladdr),
	    &ne.lllen)) < 0)
		return bad(err, "neighbour attribute");
	memcpy(e, &ne, sizeof(ne));
	return hasip && hasll && ne.lllen && (ne.state & KEEPNUD);
}

static int
parseqdisc(const void *hdr, const Attr *tb, void *e, char *err)
{
	const struct tcmsg *tcm = hdr;
	NlQdisc q = { .index = tcm->tcm_ifindex, .handle = tcm->tcm_handle,
		.parent = tcm->tcm_parent };

	if (getstr(&tb[TCA_KIND], q.kind, sizeof(q.kind)) < 0)
		return bad(err, "qdisc kind");
	memcpy(e, &q, sizeof(q));
	return 1;
}

/* a family header, and an entry, of any kind */
typedef union {
	struct ifinfomsg ifi;
	struct ifaddrmsg ifa;
	struct rtmsg rtm;
	struct ndmsg ndm;
	struct tcmsg tcm;
} Famhdr;
typedef union {
	NlLink l;
	NlAddr a;
	NlRoute r;
	NlNeigh n;
	NlQdisc q;
} Entry;
#define MAXATTR	MAX(MAX(IFLA_MAX, IFA_MAX), MAX(MAX(RTA_MAX, NDA_MAX), TCA_MAX))
/*
 * What is read, a row each: the dump request and the message that
 * answers, its family header and highest attribute, its parser, the
 * entry and where NlNet keeps them (the array arr and its count narr),
 * what they are called.
 */
#define KIND(get, msg, hdr, max, parse, entry, arr, what) { get, msg, \
	sizeof(struct hdr), max, parse, sizeof(entry), offsetof(NlNet, arr), \
	offsetof(NlNet, n##arr), what }
static const struct {
	int get, msg;
	size_t hdrlen;
	int maxattr;
	int (*parse)(const void *hdr, const Attr *tb, void *e, char *err);
	size_t size, arr, narr;
	const char *what;
} kinds[] = {
	KIND(RTM_GETLINK,	RTM_NEWLINK,	ifinfomsg,	IFLA_MAX,	parselink,	NlLink,		links,	"links"),
	KIND(RTM_GETADDR,	RTM_NEWADDR,	ifaddrmsg,	IFA_MAX,	parseaddr,	NlAddr,		addrs,	"addresses"),
	KIND(RTM_GETROUTE,	RTM_NEWROUTE,	rtmsg,		RTA_MAX,	parseroute,	NlRoute,	routes,	"routes"),
	KIND(RTM_GETNEIGH,	RTM_NEWNEIGH,	ndmsg,		NDA_MAX,	parseneigh,	NlNeigh,	neighs,	"neighbours"),
	KIND(RTM_GETQDISC,	RTM_NEWQDISC,	tcmsg,		TCA_MAX,	parseqdisc,	NlQdisc,	qdiscs,	"qdiscs"),
};
enum { KLINKS, KADDRS, KROUTES, KNEIGHS, KQDISCS };	/* kinds[] */

/* the kernel's error code and, at p, its extended ack attributes */
static int
kerror(int code, const uint8_t *p, size_t n, char *err)
{
	Attr tb[NLMSGERR_ATTR_MAX + 1];
	char msg[ERRLEN / 2];

	if (code > 0 || code < -MAXERRNO)
		return bad(err, "error code out of range");
	msg[0] = '\0';
	if (p) {
		if (attrs(p, n, tb, NLMSGERR_ATTR_MAX) < 0)
			return bad(err, "extended ack");
		if (tb[NLMSGERR_ATTR_MSG].p)
			escape(msg, sizeof(msg), tb[NLMSGERR_ATTR_MSG].p,
			    strnlen((const char *)tb[NLMSGERR_ATTR_MSG].p,
			    tb[NLMSGERR_ATTR_MSG].n));
	}
	seterr(err, msg[0] ? "%s (%s)" : "%s", strerror(-code), msg);
	errno = -code;
	return -1;
}

/* NLMSG_ERROR: 1 an ack, -1 an error */
static int
parseerror(const uint8_t *p, size_t n, unsigned flags, char *err)
{
	struct nlmsgerr e;
	size_t off;
	int code;

	if (n < sizeof(code))
		return bad(err, "error message without its code");
	memcpy(&code, p, sizeof(code));
	if (code == 0)
		return 1;
	if (!(flags & NLM_F_ACK_TLVS) || n < sizeof(e))
		return kerror(code, NULL, 0, err);
	/* the request follows the code, whole unless capped, then the TLVs */
	memcpy(&e, p, sizeof(e));
	off = sizeof(e);
	if (!(flags & NLM_F_CAPPED)) {
		if (e.msg.nlmsg_len < sizeof(e.msg))
			return bad(err, "echoed request");
		off = sizeof(code) + (((size_t)e.msg.nlmsg_len + NLMSG_ALIGNTO - 1)
		    & ~(size_t)(NLMSG_ALIGNTO - 1));
		if (off > n)
			return bad(err, "echoed request past its message");
	}
	return kerror(code, p + off, n - off, err);
}

/* NLMSG_DONE: the dump's error code, if any, then the TLVs */
static int
parsedone(const uint8_t *p, size_t n, unsigned flags, char *err)
{
	int code;

	if (n < sizeof(code))
		return 1;
	memcpy(&code, p, sizeof(code));
	if (code == 0)
		return 1;
	if (!(flags & NLM_F_ACK_TLVS))
		return kerror(code, NULL, 0, err);
	return kerror(code, p + sizeof(code), n - sizeof(code), err);
}

int
nl_parse(const void *buf, size_t n, uint32_t seq, NlNet *net, char *err)
{
	const uint8_t *p = buf, *q;
	struct nlmsghdr h;
	Attr tb[MAXATTR + 1];
	Famhdr hdr;
	Entry e;
	size_t len, step, k;
	int r;

	while (n > 0) {
		if (n < sizeof(h))
			return bad(err, "short message header");
		memcpy(&h, p, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > n)
			return bad(err, "message length");
		q = p + NLMSG_HDRLEN;
		len = h.nlmsg_len - NLMSG_HDRLEN;
		step = MIN(NLMSG_ALIGN((size_t)h.nlmsg_len), n);
		p += step;
		n -= step;
		if (h.nlmsg_seq != seq)
			continue;	/* an older request's */
		switch (h.nlmsg_type) {
		case NLMSG_ERROR:
			return parseerror(q, len, h.nlmsg_flags, err);
		case NLMSG_DONE:
			return parsedone(q, len, h.nlmsg_flags, err);
		case NLMSG_OVERRUN:
			errno = ENOBUFS;
			seterr(err, "replies lost (overrun)");
			return -1;
		}
		for (k = 0; k < LEN(kinds) && kinds[k].msg != h.nlmsg_type; k++)
			;
		if (!net || k == LEN(kinds))
			continue;	/* not asked for */
		if (body(q, len, &hdr, kinds[k].hdrlen, tb, kinds[k].maxattr) < 0)
			return bad(err, "a message of %s", kinds[k].what);
		if ((r = kinds[k].parse(&hdr, tb, &e, err)) < 0 || (r &&
		    append((char *)net + kinds[k].arr, (size_t *)((char *)net +
		    kinds[k].narr), &e, kinds[k].size, kinds[k].what, err) < 0))
			return -1;
		if (h.nlmsg_flags & NLM_F_DUMP_INTR)
			net->intr = 1;
	}
	return 0;
}

void
nl_netfree(NlNet *net)
{
	void *a;
	size_t k;

	for (k = 0; k < LEN(kinds); k++) {
		memcpy(&a, (char *)net + kinds[k].arr, sizeof(a));
		free(a);
	}
	memset(net, 0, sizeof(*net));
}

/* requests */

void
nl_put(NlReq *r, const void *p, size_t n)
{
	size_t a = NLMSG_ALIGN(n);

	if (r->full || a > sizeof(r->b) - r->n) {
		r->full = 1;
		return;
	}
	if (n)
		memcpy(r->b + r->n, p, n);
	memset(r->b + r->n + n, 0, a - n);
	r->n += a;
}

void
nl_req(NlReq *r, int type, int flags, const void *hdr, size_t n)
{
	struct nlmsghdr h;

	memset(&h, 0, sizeof(h));
	h.nlmsg_type = type;
	h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	r->n = 0;
	r->full = 0;
	nl_put(r, &h, sizeof(h));
	nl_put(r, hdr, n);
}

void
nl_attr(NlReq *r, int type, const void *p, size_t n)
{
	struct rtattr a;

	if (n > 0xffff - sizeof(a)) {
		r->full = 1;
		return;
	}
	a.rta_len = RTA_LENGTH(n);
	a.rta_type = type;
	nl_put(r, &a, sizeof(a));
	nl_put(r, p, n);
}

size_t
nl_nest(NlReq *r, int type)
{
	size_t mark = r->n;

	nl_attr(r, type, NULL, 0);
	return mark;
}

void
nl_end(NlReq *r, size_t mark)
{
	uint16_t len;

	if (r->full)
		return;
	if (r->n - mark > 0xffff) {
		r->full = 1;
		return;
	}
	len = r->n - mark;
	memcpy(r->b + mark, &len, sizeof(len));
}

static void
attrstr(NlReq *r, int type, const char *s)
{
	nl_attr(r, type, s, strlen(s) + 1);
}

static void
attru32(NlReq *r, int type, uint32_t v)
{
	nl_attr(r, type, &v, sizeof(v));
}

/* send r, read the answer: -1 with the detail in err */
static int
talk(Nl *nl, NlReq *r, NlNet *net, char *err)
{
	struct sockaddr_nl sa;
	struct nlmsghdr h;
	socklen_t salen;
	ssize_t n;
	int rc;

	if (r->full) {
		errno = EMSGSIZE;
		seterr(err, "request longer than %d bytes", NL_REQMAX);
		return -1;
	}
	memcpy(&h, r->b, sizeof(h));
	h.nlmsg_len = r->n;
	h.nlmsg_seq = ++nl->seq;
	memcpy(r->b, &h, sizeof(h));
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	do
		n = sendto(nl->fd, r->b, r->n, 0, (struct sockaddr *)&sa,
		    sizeof(sa));
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		seterr(err, "send:");
		return -1;
	}
	for (;;) {
		salen = sizeof(sa);
		n = recvfrom(nl->fd, nl->buf, BUFSZ, MSG_TRUNC,
		    (struct sockaddr *)&sa, &salen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			seterr(err, "receive:");
			return -1;
		}
		if (n > BUFSZ) {
			errno = EMSGSIZE;
			seterr(err, "reply longer than %d bytes", BUFSZ);
			return -1;
		}
		if (salen < sizeof(sa) || sa.nl_pid != 0)
			continue;
		if ((rc = nl_parse(nl->buf, n, nl->seq, net, err)) != 0)
			return rc < 0 ? -1 : 0;
	}
}

int
nl_talk(Nl *nl, NlReq *r, NlNet *net, const char *what, char *err)
{
	char detail[ERRLEN];

	if (talk(nl, r, net, detail) == 0)
		return 0;
	seterr(err, "netlink: %s: %s", what, detail);
	return -1;
}

/* link index, or name when index is 0 */
static int
getlink(Nl *nl, int index, const char *name, NlLink *l, char *err)
{
	struct ifinfomsg ifi;
	NlNet net;
	NlReq r;
	int rc = -1;

	memset(&ifi, 0, sizeof(ifi));
	memset(&net, 0, sizeof(net));
	ifi.ifi_index = index;
	nl_req(&r, RTM_GETLINK, 0, &ifi, sizeof(ifi));
	if (!index)
		attrstr(&r, IFLA_IFNAME, name);
	if (talk(nl, &r, &net, err) == 0) {
		if (net.nlinks == 1) {
			*l = net.links[0];
			rc = 0;
		} else {
			errno = ENODEV;
			seterr(err, "%zu answers", net.nlinks);
		}
	}
	nl_netfree(&net);
	return rc;
}

/* a link's name for a message: its own, or "link N" */
static char *
linkname(Nl *nl, int index, char *buf, size_t n)
{
	char err[ERRLEN];
	NlLink l;
	int e = errno;

	if (getlink(nl, index, NULL, &l, err) == 0)
		snprintf(buf, n, "%s", l.name);
	else
		snprintf(buf, n, "link %d", index);
	errno = e;
	return buf;
}

/* err = "netlink: <what> on <link>: <detail in err>" */
static int
fail(Nl *nl, int index, const char *what, char *err)
{
	char detail[ERRLEN], name[32];
	int e = errno;

	snprintf(detail, sizeof(detail), "%s", err);
	linkname(nl, index, name, sizeof(name));
	seterr(err, "netlink: %s on %s: %s", what, name, detail);
	errno = e;
	return -1;
}

/* enter the netns fd on this thread: the fd of home */
static int
enter(int nsfd, const char *what, char *err)
{
	int home;

	if ((home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) {
		seterr(err, "netlink: /proc/thread-self/ns/net:");
		return -1;
	}
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		seterr(err, "netlink: enter network namespace %s:", what);
		close(home);
		return -1;
	}
	return home;
}

static void
leave(int home)
{
	if (setns(home, CLONE_NEWNET) < 0)
		die("netlink: cannot return to husk's network namespace:");
	close(home);
}

int
nl_open(Nl *nl, const char *netns, char *err)
{
	struct sockaddr_nl sa;
	int home = -1, one = 1, e;

	nl->fd = nl->nsfd = -1;
	nl->seq = 0;
	nl->buf = NULL;
	if (netns) {
		if ((nl->nsfd = open(netns, O_RDONLY | O_CLOEXEC)) < 0) {
			seterr(err, "netlink: open %s:", netns);
			return -1;
		}
		if ((home = enter(nl->nsfd, netns, err)) < 0)
			goto undo;
	}
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	e = errno;
	if (home >= 0)
		leave(home);
	errno = e;
	if (nl->fd < 0) {
		seterr(err, "netlink: socket:");
		goto undo;
	}
	/* the kernel's own words in errors, without the request echoed;
	 * older kernels lack both, which costs only those words */
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		seterr(err, "netlink: bind:");
		goto undo;
	}
	nl->buf = emalloc(BUFSZ);
	return 0;
undo:
	nl_close(nl);
	return -1;
}

void
nl_close(Nl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	if (nl->nsfd >= 0)
		close(nl->nsfd);
	free(nl->buf);
	nl->fd = nl->nsfd = -1;
	nl->buf = NULL;
}

/* kinds first..last into net, overwritten, all read again if a change
 * interrupted one; the family headers are zero (AF_UNSPEC, every link) */
static int
dump(Nl *nl, int first, int last, NlNet *net, char *err)
{
	Famhdr zero;
	char detail[ERRLEN];
	NlReq r;
	int try, t;

	memset(&zero, 0, sizeof(zero));
	for (try = 0; try < DUMPTRIES; try++) {
		memset(net, 0, sizeof(*net));
		for (t = first; t <= last; t++) {
			nl_req(&r, kinds[t].get, NLM_F_DUMP, &zero,
			    kinds[t].hdrlen);
			if (talk(nl, &r, net, detail) < 0) {
				seterr(err, "netlink: read %s: %s",
				    kinds[t].what, detail);
				nl_netfree(net);
				return -1;
			}
		}
		if (!net->intr)
			return 0;
		nl_netfree(net);
	}
	errno = EAGAIN;
	seterr(err, "netlink: read %s: changed while read, %d times",
	    kinds[first].what, DUMPTRIES);
	return -1;
}

int
nl_read(Nl *nl, NlNet *net, char *err)
{
	return dump(nl, KLINKS, KNEIGHS, net, err);
}

int
nl_qdiscs(Nl *nl, NlNet *net, char *err)
{
	return dump(nl, KQDISCS, KQDISCS, net, err);
}

int
nl_linkbyname(Nl *nl, const char *name, NlLink *l, char *err)
{
	char detail[ERRLEN];

	if (!name[0] || strlen(name) >= sizeof(l->name)) {
		errno = EINVAL;
		seterr(err, "netlink: bad link name \"%s\"", name);
		return -1;
	}
	if (getlink(nl, 0, name, l, detail) == 0)
		return 0;
	seterr(err, "netlink: find link %s: %s", name, detail);
	return -1;
}

int
nl_linkbymac(Nl *nl, const uint8_t mac[6], NlLink *l, char *err)
{
	NlNet net;
	size_t i;
	int rc = -1;

	if (dump(nl, KLINKS, KLINKS, &net, err) < 0)
		return -1;
	for (i = 0; i < net.nlinks; i++)
		if (net.links[i].maclen == 6 && !memcmp(net.links[i].mac, mac, 6))
			break;
	if (i < net.nlinks) {
		*l = net.links[i];
		rc = 0;
	} else {
		errno = ENODEV;
		seterr(err, "netlink: no link has MAC %02x:%02x:%02x:%02x:%02x:%02x",
		    mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	}
	nl_netfree(&net);
	return rc;
}

int
nl_setlink(Nl *nl, int index, unsigned mtu, int up, char *err)
{
	struct ifinfomsg ifi;
	char what[64];
	NlReq r;

	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_index = index;
	if (up >= 0) {
		ifi.ifi_change = IFF_UP;
		ifi.ifi_flags = up ? IFF_UP : 0;
	}
	nl_req(&r, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	if (mtu)
		attru32(&r, IFLA_MTU, mtu);
	if (talk(nl, &r, NULL, err) == 0)
		return 0;
	snprintf(what, sizeof(what), "set mtu %u, %s", mtu,
	    up < 0 ? "state unchanged" : up ? "up" : "down");
	return fail(nl, index, what, err);
}

int
nl_setname(Nl *nl, int index, const char *name, char *err)
{
	struct ifinfomsg ifi;
	char what[64];
	NlReq r;

	if (!name[0] || strlen(name) >= IFNAMSIZ) {
		errno = EINVAL;
		seterr(err, "netlink: bad link name \"%s\"", name);
		return -1;
	}
	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_index = index;
	nl_req(&r, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	attrstr(&r, IFLA_IFNAME, name);
	if (talk(nl, &r, NULL, err) == 0)
		return 0;
	snprintf(what, sizeof(what), "rename to %s", name);
	return fail(nl, index, what, err);
}

static const char *
ntop(int family, const void *a, char *buf)
{
	if (!addrlen(family) || !inet_ntop(family, a, buf, INET6_ADDRSTRLEN))
		snprintf(buf, INET6_ADDRSTRLEN, "(family %d)", family);
	return buf;
}

/* what the kernel would refuse less clearly */
static int
badprefix(int family, unsigned prefix, char *err)
{
	switch (ipprefix(family, prefix)) {
	case 0:
		errno = EAFNOSUPPORT;
		seterr(err, "family %d is neither IPv4 nor IPv6", family);
		return -1;
	case -1:
		errno = EINVAL;
		seterr(err, "prefix longer than the address");
		return -1;
	}
	return 0;
}

/* r, sent once family and prefix are checked; what it does in err */
static int
ask(Nl *nl, NlReq *r, int family, unsigned prefix, int index,
    const char *what, char *err)
{
	if (badprefix(family, prefix, err) == 0 && talk(nl, r, NULL, err) == 0)
		return 0;
	return fail(nl, index, what, err);
}

int
nl_addaddr(Nl *nl, const NlAddr *a, char *err)
{
	struct ifaddrmsg ifa;
	char what[96], ip[INET6_ADDRSTRLEN];
	size_t n = addrlen(a->family);
	NlReq r;

	memset(&ifa, 0, sizeof(ifa));
	ifa.ifa_family = a->family;
	ifa.ifa_prefixlen = a->prefix;
	ifa.ifa_scope = a->scope;
	ifa.ifa_index = a->index;
	/* the pod's namespace owned the address first: no DAD to wait for */
	if (a->family == AF_INET6)
		ifa.ifa_flags = IFA_F_NODAD;
	nl_req(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, &ifa, sizeof(ifa));
	nl_attr(&r, IFA_LOCAL, a->addr, n);
	nl_attr(&r, IFA_ADDRESS, a->addr, n);
	snprintf(what, sizeof(what), "add address %s/%u",
	    ntop(a->family, a->addr, ip), a->prefix);
	return ask(nl, &r, a->family, a->prefix, a->index, what, err);
}

int
nl_addroute(Nl *nl, const NlRoute *rt, char *err)
{
	struct rtmsg rtm;
	char what[160], dst[INET6_ADDRSTRLEN], gw[INET6_ADDRSTRLEN];
	size_t n = addrlen(rt->family);
	NlReq r;

	memset(&rtm, 0, sizeof(rtm));
	rtm.rtm_family = rt->family;
	rtm.rtm_dst_len = rt->dstlen;
	rtm.rtm_table = RT_TABLE_MAIN;
	rtm.rtm_protocol = rt->protocol ? rt->protocol : RTPROT_BOOT;
	rtm.rtm_scope = rt->scope;
	rtm.rtm_type = RTN_UNICAST;
	rtm.rtm_flags = rt->flags;
	nl_req(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, &rtm, sizeof(rtm));
	if (rt->dstlen)
		nl_attr(&r, RTA_DST, rt->dst, n);
	if (rt->hasgw)
		nl_attr(&r, RTA_GATEWAY, rt->gw, n);
	if (rt->hassrc)
		nl_attr(&r, RTA_PREFSRC, rt->src, n);
	if (rt->oif)
		attru32(&r, RTA_OIF, rt->oif);
	if (rt->metric)
		attru32(&r, RTA_PRIORITY, rt->metric);
	if (rt->dstlen)
		snprintf(what, sizeof(what), "add route %s/%u",
		    ntop(rt->family, rt->dst, dst), rt->dstlen);
	else
		snprintf(what, sizeof(what), "add route default");
	if (rt->hasgw)
		snprintf(what + strlen(what), sizeof(what) - strlen(what),
		    " via %s", ntop(rt->family, rt->gw, gw));
	return ask(nl, &r, rt->family, rt->dstlen, rt->oif, what, err);
}

int
nl_addneigh(Nl *nl, const NlNeigh *ne, char *err)
{
	struct ndmsg ndm = { .ndm_family = ne->family,
		.ndm_ifindex = ne->index, .ndm_state = NUD_PERMANENT };
	char what[96], ip[INET6_ADDRSTRLEN];
	NlReq r;

	nl_req(&r, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, &ndm, sizeof(ndm));
	nl_attr(&r, NDA_DST, ne->ip, addrlen(ne->family));
	nl_attr(&r, NDA_LLADDR, ne->lladdr, MIN(ne->lllen, sizeof(ne->lladdr)));
	snprintf(what, sizeof(what), "add neighbour %s",
	    ntop(ne->family, ne->ip, ip));
	return ask(nl, &r, ne->family, 0, ne->index, what, err);
}

int
nl_dellink(Nl *nl, int index, char *err)
{
	struct ifinfomsg ifi;
	NlReq r;

	memset(&ifi, 0, sizeof(ifi));
	ifi.ifi_index = index;
	nl_req(&r, RTM_DELLINK, 0, &ifi, sizeof(ifi));
	if (talk(nl, &r, NULL, err) == 0)
		return 0;
	return fail(nl, index, "delete link", err);
}

int
nl_tap(Nl *nl, const char *name, unsigned mtu, int *index, char *err)
{
	struct ifreq ifr;
	NlLink l;
	int fd, home = -1, e;

	if (!name[0] || strlen(name) >= IFNAMSIZ) {
		errno = EINVAL;
		seterr(err, "netlink: bad tap name \"%s\"", name);
		return -1;
	}
	if (nl->nsfd >= 0 && (home = enter(nl->nsfd, "of the pod", err)) < 0)
		return -1;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	e = errno;
	if (home >= 0)
		leave(home);
	errno = e;
	if (fd < 0) {
		seterr(err, "netlink: /dev/net/tun:");
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		seterr(err, "netlink: create tap %s:", name);
		close(fd);
		return -1;
	}
	/* not persistent: closing fd removes the tap */
	if (nl_linkbyname(nl, name, &l, err) < 0 ||
	    nl_setlink(nl, l.index, mtu, 1, err) < 0) {
		close(fd);
		return -1;
	}
	*index = l.index;
	return fd;
}

/*
 * Adds or deletes the ingress qdisc (ffff:) of a link. A delete names no
 * handle: then a link whose ingress queue is gone or was never made
 * answers ENOENT alike, and what is gone already is no error.
 */
static int
ingress(Nl *nl, int index, int add, char *err)
{
	struct tcmsg tcm = { .tcm_family = AF_UNSPEC, .tcm_ifindex = index,
		.tcm_handle = add ? INGRESS : 0, .tcm_parent = TC_H_INGRESS };
	NlReq r;

	nl_req(&r, add ? RTM_NEWQDISC : RTM_DELQDISC,
	    add ? NLM_F_CREATE | NLM_F_EXCL : 0, &tcm, sizeof(tcm));
	if (add)
		attrstr(&r, TCA_KIND, "ingress");
	if (talk(nl, &r, NULL, err) == 0 ||
	    (!add && (errno == ENOENT || errno == ENODEV)))
		return 0;
	return fail(nl, index, add ? "add qdisc ingress" :
	    "delete qdisc ingress", err);
}

/* on link from's ingress: every frame out of link to */
static int
addfilter(Nl *nl, int from, int to, char *err)
{
	struct tcmsg tcm;
	struct tc_u32_sel sel;
	struct tc_u32_key key;
	struct tc_mirred m;
	uint8_t selkey[sizeof(sel) + sizeof(key)];
	char what[64], name[32];
	size_t opt, acts, act, aopt;
	NlReq r;

	memset(&tcm, 0, sizeof(tcm));
	tcm.tcm_family = AF_UNSPEC;
	tcm.tcm_ifindex = from;
	tcm.tcm_parent = INGRESS;
	tcm.tcm_info = TC_H_MAKE(FILTERPRIO << 16, htons(ETH_P_ALL));
	/* one key: 0 under mask 0 at offset 0, which every frame matches */
	memset(&sel, 0, sizeof(sel));
	memset(&key, 0, sizeof(key));
	sel.flags = TC_U32_TERMINAL;
	sel.nkeys = 1;
	memcpy(selkey, &sel, sizeof(sel));
	memcpy(selkey + sizeof(sel), &key, sizeof(key));
	memset(&m, 0, sizeof(m));
	m.action = TC_ACT_STOLEN;
	m.eaction = TCA_EGRESS_REDIR;
	m.ifindex = to;
	nl_req(&r, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, &tcm, sizeof(tcm));
	attrstr(&r, TCA_KIND, "u32");
	opt = nl_nest(&r, TCA_OPTIONS);
	nl_attr(&r, TCA_U32_SEL, selkey, sizeof(selkey));
	acts = nl_nest(&r, TCA_U32_ACT);
	act = nl_nest(&r, 1);		/* the first action */
	attrstr(&r, TCA_ACT_KIND, "mirred");
	aopt = nl_nest(&r, TCA_ACT_OPTIONS);
	nl_attr(&r, TCA_MIRRED_PARMS, &m, sizeof(m));
	nl_end(&r, aopt);
	nl_end(&r, act);
	nl_end(&r, acts);
	nl_end(&r, opt);
	if (talk(nl, &r, NULL, err) == 0)
		return 0;
	snprintf(what, sizeof(what), "add filter u32 mirred redirect to %s",
	    linkname(nl, to, name, sizeof(name)));
	return fail(nl, from, what, err);
}

int
nl_redirect(Nl *nl, int a, int b, char *err)
{
	char ignore[ERRLEN];
	int e, made;

	/* a failure undoes only what this call made */
	if (ingress(nl, a, 1, err) < 0)
		return -1;
	if (ingress(nl, b, 1, err) < 0)
		made = 1;
	else if (addfilter(nl, a, b, err) < 0 || addfilter(nl, b, a, err) < 0)
		made = 2;
	else
		return 0;
	e = errno;
	ingress(nl, a, 0, ignore);
	if (made == 2)
		ingress(nl, b, 0, ignore);
	errno = e;
	return -1;
}

int
nl_teardown(Nl *nl, int veth, int tap, int tapfd, char *err)
{
	char e[3][ERRLEN];
	int r[3] = { 0, 0, 0 }, i;

	if (veth > 0)
		r[0] = ingress(nl, veth, 0, e[0]);
	if (tap > 0) {
		r[1] = ingress(nl, tap, 0, e[1]);
		if ((r[2] = nl_dellink(nl, tap, e[2])) < 0 && errno == ENODEV)
			r[2] = 0;
	}
	if (tapfd >= 0)
		close(tapfd);
	for (i = 0; i < 3; i++)
		if (r[i] < 0) {
			memcpy(err, e[i], ERRLEN);
			return -1;
		}
	return 0;
}
