/* See LICENSE file for copyright and license details. */
/*
 * The protobuf wire format, by hand: an encoder that appends to a growing
 * buffer (Pb) and a reader that returns one field at a time (Pr/Pf), so
 * that each message is a short function that names its fields. Unknown
 * fields are returned like any other and simply not used. The reader
 * never reads outside its buffer; malformed input makes it return -1.
 *
 * Nested messages are written in place: pb_open reserves one length byte,
 * pb_close writes the length and moves the body when it needs more.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "husk.h"

void
pb_free(Pb *pb)
{
	free(pb->b);
	pb->b = NULL;
	pb->n = pb->cap = 0;
}

static void
grow(Pb *pb, size_t n)
{
	if (pb->cap - pb->n >= n)
		return;
	if (n > SIZE_MAX / 2 - pb->n)
		die("protobuf message too large");
	pb->cap = MAX(2 * pb->cap, pb->n + n);
	pb->cap = MAX(pb->cap, 64);
	pb->b = erealloc(pb->b, pb->cap);
}

void
pb_raw(Pb *pb, const void *p, size_t n)
{
	if (!n)
		return;
	grow(pb, n);
	memcpy(pb->b + pb->n, p, n);
	pb->n += n;
}

static size_t
varintlen(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t
putvarint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (v & 0x7f) | 0x80;
		v >>= 7;
	}
	p[n++] = v;
	return n;
}

void
pb_varint(Pb *pb, uint64_t v)
{
	grow(pb, 10);
	pb->n += putvarint(pb->b + pb->n, v);
}

void
pb_key(Pb *pb, uint32_t field, int wt)
{
	pb_varint(pb, (uint64_t)field << 3 | wt);
}

void
pb_uint(Pb *pb, uint32_t field, uint64_t v)
{
	if (!v)
		return;
	pb_key(pb, field, PB_VARINT);
	pb_varint(pb, v);
}

void
pb_sint(Pb *pb, uint32_t field, int64_t v)
{
	/* zigzag: 0, -1, 1, -2... to 0, 1, 2, 3...; no shift of a negative */
	pb_uint(pb, field, v < 0 ? ~((uint64_t)v << 1) : (uint64_t)v << 1);
}

void
pb_bool(Pb *pb, uint32_t field, int v)
{
	pb_uint(pb, field, !!v);
}

static void
fixed(Pb *pb, uint32_t field, int wt, uint64_t v, int n)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < n; i++)
		b[i] = v >> (8 * i);
	pb_key(pb, field, wt);
	pb_raw(pb, b, n);
}

void
pb_fixed32(Pb *pb, uint32_t field, uint32_t v)
{
	fixed(pb, field, PB_FIXED32, v, 4);
}

void
pb_fixed64(Pb *pb, uint32_t field, uint64_t v)
{
	fixed(pb, field, PB_FIXED64, v, 8);
}

void
pb_bytes(Pb *pb, uint32_t field, const void *p, size_t n)
{
	if (!n)
		return;
	pb_key(pb, field, PB_BYTES);
	pb_varint(pb, n);
	pb_raw(pb, p, n);
}

void
pb_str(Pb *pb, uint32_t field, const char *s)
{
	if (s)
		pb_bytes(pb, field, s, strlen(s));
}

size_t
pb_open(Pb *pb, uint32_t field)
{
	pb_key(pb, field, PB_BYTES);
	grow(pb, 1);
	pb->b[pb->n++] = 0;
	return pb->n;
}

void
pb_close(Pb *pb, size_t mark)
{
	size_t body = pb->n - mark, ln = varintlen(body);

	if (ln > 1) {
		grow(pb, ln - 1);
		memmove(pb->b + mark + ln - 1, pb->b + mark, body);
		pb->n += ln - 1;
	}
	putvarint(pb->b + mark - 1, body);
}

void
pb_map_str(Pb *pb, uint32_t field, const char *k, const char *v)
{
	size_t m = pb_open(pb, field);

	pb_str(pb, 1, k);
	pb_str(pb, 2, v);
	pb_close(pb, m);
}

void
pr_init(Pr *r, const void *p, size_t n)
{
	r->p = p ? p : (const void *)"";
	r->end = r->p + (p ? n : 0);
}

static int
getvarint(Pr *r, uint64_t *v)
{
	uint64_t x = 0;
	int i;

	for (i = 0; i < 10; i++) {
		if (r->p == r->end)
			return -1;
		/* the tenth byte holds bit 63 only */
		if (i == 9 && *r->p > 1)
			return -1;
		x |= (uint64_t)(*r->p & 0x7f) << (7 * i);
		if (!(*r->p++ & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

static uint64_t
getle(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

int
pr_next(Pr *r, Pf *f)
{
	uint64_t key, n;

	if (r->p == r->end)
		return 0;
	if (getvarint(r, &key) < 0 || key >> 3 == 0 || key >> 3 > 0x1fffffff)
		return -1;
	memset(f, 0, sizeof(*f));
	f->field = key >> 3;
	f->wt = key & 7;
	switch (f->wt) {
	case PB_VARINT:
		return getvarint(r, &f->u) < 0 ? -1 : 1;
	case PB_FIXED64:
	case PB_FIXED32:
		n = f->wt == PB_FIXED64 ? 8 : 4;
		if ((size_t)(r->end - r->p) < n)
			return -1;
		f->u = getle(r->p, n);
		r->p += n;
		return 1;
	case PB_BYTES:
		if (getvarint(r, &n) < 0 || n > (size_t)(r->end - r->p))
			return -1;
		f->b = r->p;
		f->n = n;
		r->p += n;
		return 1;
	default:	/* groups (3, 4) and 6, 7 */
		return -1;
	}
}

/* a bytes field's copy, NUL-terminated */
static char *
dupfield(const Pf *f)
{
	char *s = emalloc(f->n + 1);

	memcpy(s, f->b, f->n);
	s[f->n] = '\0';
	return s;
}

int
pf_str(const Pf *f, char **s)
{
	if (f->wt != PB_BYTES || memchr(f->b, '\0', f->n))
		return -1;
	*s = dupfield(f);
	return 0;
}

/* an address family's address size: 0 for a family husk does not carry */
static size_t
famlen(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

/* husk.agent.v1.HealthResponse */
void
pb_health(Pb *pb, const AgentHealth *h)
{
	pb_str(pb, 1, h->version);
	pb_uint(pb, 2, h->cpus);
	pb_uint(pb, 3, h->memtotal);
	pb_uint(pb, 4, h->memfree);
	pb_uint(pb, 5, h->uptimens);
}

/*
 * AgentNet, the Network request's field 13: interfaces (1), addresses
 * (2), routes (3) and neighbours (4), each a repeated message. Families
 * are the AF_* numbers (both ends are Linux), addresses bytes of their
 * family's size, a route's gateway and source present only when it has
 * them.
 */
static void
pb_agentnet(Pb *pb, uint32_t field, const AgentNet *n)
{
	size_t m = pb_open(pb, field), k, i, al;

	for (i = 0; i < n->nifs; i++) {
		k = pb_open(pb, 1);
		pb_bytes(pb, 1, n->ifs[i].mac, 6);
		pb_uint(pb, 2, n->ifs[i].mtu);
		pb_str(pb, 3, n->ifs[i].name);
		pb_close(pb, k);
	}
	for (i = 0; i < n->nips; i++) {
		k = pb_open(pb, 2);
		pb_uint(pb, 1, n->ips[i].ifidx);
		pb_uint(pb, 2, n->ips[i].family);
		pb_bytes(pb, 3, n->ips[i].addr, famlen(n->ips[i].family));
		pb_uint(pb, 4, n->ips[i].prefix);
		pb_close(pb, k);
	}
	for (i = 0; i < n->nroutes; i++) {
		const AgentRoute *rt = &n->routes[i];

		al = famlen(rt->family);
		k = pb_open(pb, 3);
		pb_uint(pb, 1, rt->ifidx);
		pb_uint(pb, 2, rt->family);
		pb_bytes(pb, 3, rt->dst, al);
		pb_uint(pb, 4, rt->dstlen);
		if (rt->hasgw)
			pb_bytes(pb, 5, rt->gw, al);
		if (rt->hassrc)
			pb_bytes(pb, 6, rt->src, al);
		pb_uint(pb, 7, rt->scope);
		pb_bool(pb, 8, rt->onlink);
		pb_uint(pb, 9, rt->metric);
		pb_close(pb, k);
	}
	for (i = 0; i < n->nneighs; i++) {
		k = pb_open(pb, 4);
		pb_uint(pb, 1, n->neighs[i].ifidx);
		pb_uint(pb, 2, n->neighs[i].family);
		pb_bytes(pb, 3, n->neighs[i].ip, famlen(n->neighs[i].family));
		pb_bytes(pb, 4, n->neighs[i].mac, 6);
		pb_close(pb, k);
	}
	pb_close(pb, m);
}

/*
 * husk.agent.v1: every request is one AgentReq message; each method reads
 * the fields it needs. Replies are AgentResp.
 */
void
pb_agentreq(Pb *pb, const AgentReq *r)
{
	pb_str(pb, 1, r->id);
	pb_bytes(pb, 2, r->config, r->configlen);
	pb_uint(pb, 3, r->iport);
	pb_uint(pb, 4, r->oport);
	pb_uint(pb, 5, r->eport);
	pb_bool(pb, 6, r->terminal);
	pb_uint(pb, 7, r->signal);
	pb_bool(pb, 8, r->all);
	pb_str(pb, 9, r->execid);
	pb_str(pb, 10, r->sandbox);
	pb_uint(pb, 11, r->width);
	pb_uint(pb, 12, r->height);
	if (r->net)
		pb_agentnet(pb, 13, r->net);
}

static int
pf_u32(const Pf *f, uint32_t *v)
{
	if (f->wt != PB_VARINT || f->u > UINT32_MAX)
		return -1;
	*v = f->u;
	return 0;
}

static int
pf_u64(const Pf *f, uint64_t *v)
{
	if (f->wt != PB_VARINT)
		return -1;
	*v = f->u;
	return 0;
}

static int
pf_bool(const Pf *f, int *v)
{
	if (f->wt != PB_VARINT)
		return -1;
	*v = f->u != 0;
	return 0;
}

/* a string field that may repeat: the last one wins */
static int
pf_strlast(const Pf *f, char **s)
{
	free(*s);
	*s = NULL;
	return pf_str(f, s);
}

/* bytes that may hold a NUL (a JSON document), kept NUL-terminated; the last wins */
static int
pf_blob(const Pf *f, char **b, size_t *n)
{
	if (f->wt != PB_BYTES)
		return -1;
	free(*b);
	*b = dupfield(f);
	*n = f->n;
	return 0;
}

/* fields 1 to n: the numbers v points to; the rest are not these */
static int
pf_u64s(const Pf *f, uint64_t *const *v, size_t n)
{
	return f->field >= 1 && f->field <= n ? pf_u64(f, v[f->field - 1]) : 0;
}

/*
 * Each field of a message to fn, which answers -1 to one it cannot take:
 * 0, or -1 when fn or the wire did. A message is then a function that
 * names its fields (the ...field functions below).
 */
static int
pr_fields(const void *p, size_t n, int (*fn)(const Pf *, void *), void *arg)
{
	Pr rd;
	Pf f;
	int st;

	pr_init(&rd, p, n);
	while ((st = pr_next(&rd, &f)) > 0)
		if (fn(&f, arg) < 0)
			return -1;
	return st;
}

/* the same for the message nested in field f */
static int
pf_fields(const Pf *f, int (*fn)(const Pf *, void *), void *arg)
{
	if (f->wt != PB_BYTES)
		return -1;
	return pr_fields(f->b, f->n, fn, arg);
}

/* a message whose fields depend on kind (the method it is for) */
typedef struct {
	int kind;
	void *m;
} KindMsg;

/* a map<string,string> entry: key 1, value 2 */
static int
mapfield(const Pf *f, void *kv)
{
	char **s = kv;

	return f->field == 1 || f->field == 2 ? pf_strlast(f, &s[f->field - 1]) : 0;
}

int
pf_map_str(const Pf *f, char **k, char **v)
{
	char *kv[2] = { NULL, NULL };

	if (f->wt != PB_BYTES)
		return -1;
	*k = *v = NULL;
	if (pr_fields(f->b, f->n, mapfield, kv) < 0) {
		free(kv[0]);
		free(kv[1]);
		return -1;
	}
	*k = kv[0] ? kv[0] : estrdup("");
	*v = kv[1] ? kv[1] : estrdup("");
	return 0;
}

/* husk.agent.v1.HealthResponse, as pb_health writes it */
static int
healthfield(const Pf *f, void *arg)
{
	AgentHealth *h = arg;

	switch (f->field) {
	case 1:
		if (f->wt != PB_BYTES || f->n >= sizeof(h->version) ||
		    memchr(f->b, '\0', f->n))
			return -1;
		memcpy(h->version, f->b, f->n);
		h->version[f->n] = '\0';
		return 0;
	case 2: return pf_u32(f, &h->cpus);
	case 3: return pf_u64(f, &h->memtotal);
	case 4: return pf_u64(f, &h->memfree);
	case 5: return pf_u64(f, &h->uptimens);
	}
	return 0;
}

int
pr_health(const uint8_t *p, size_t n, AgentHealth *h)
{
	memset(h, 0, sizeof(*h));
	return pr_fields(p, n, healthfield, h);
}

/*
 * AgentNet, as pb_agentnet writes it, read as hostile: each entry must be
 * whole and sane once its message ends (a known family, addresses of its
 * size, prefixes that fit it, a 6-byte MAC, an MTU virtio-net takes, a
 * name the kernel takes), at most AGENT_MAX* of each, and every ifidx
 * must name an interface once the whole message is read.
 */
typedef struct {
	void *e;		/* the entry being read */
	size_t len[3];		/* bytes of its address fields as they came */
} NetEnt;

/* bytes into a fixed buffer: their number in *len, -1 if more than size */
static int
pf_fixbytes(const Pf *f, uint8_t *dst, size_t size, size_t *len)
{
	if (f->wt != PB_BYTES || f->n > size)
		return -1;
	memcpy(dst, f->b, f->n);
	*len = f->n;
	return 0;
}

static int
pf_uns(const Pf *f, unsigned *v)
{
	uint32_t u;

	if (pf_u32(f, &u) < 0)
		return -1;
	*v = u;
	return 0;
}

static int
pf_family(const Pf *f, int *family)
{
	if (f->wt != PB_VARINT || (f->u != AF_INET && f->u != AF_INET6))
		return -1;
	*family = f->u;
	return 0;
}

static int
iffield(const Pf *f, void *arg)
{
	NetEnt *ne = arg;
	AgentIf *i = ne->e;

	switch (f->field) {
	case 1: return pf_fixbytes(f, i->mac, sizeof(i->mac), &ne->len[0]);
	case 2: return pf_uns(f, &i->mtu);
	case 3:
		if (f->wt != PB_BYTES || f->n >= sizeof(i->name) ||
		    memchr(f->b, '\0', f->n))
			return -1;
		memset(i->name, 0, sizeof(i->name));
		memcpy(i->name, f->b, f->n);
		return 0;
	}
	return 0;
}

static int
ipfield(const Pf *f, void *arg)
{
	NetEnt *ne = arg;
	AgentIp *a = ne->e;

	switch (f->field) {
	case 1: return pf_uns(f, &a->ifidx);
	case 2: return pf_family(f, &a->family);
	case 3: return pf_fixbytes(f, a->addr, sizeof(a->addr), &ne->len[0]);
	case 4: return pf_uns(f, &a->prefix);
	}
	return 0;
}

static int
routefield(const Pf *f, void *arg)
{
	NetEnt *ne = arg;
	AgentRoute *r = ne->e;

	switch (f->field) {
	case 1: return pf_uns(f, &r->ifidx);
	case 2: return pf_family(f, &r->family);
	case 3: return pf_fixbytes(f, r->dst, sizeof(r->dst), &ne->len[0]);
	case 4: return pf_uns(f, &r->dstlen);
	case 5: return pf_fixbytes(f, r->gw, sizeof(r->gw), &ne->len[1]);
	case 6: return pf_fixbytes(f, r->src, sizeof(r->src), &ne->len[2]);
	case 7: return pf_uns(f, &r->scope);
	case 8:
		if (f->wt != PB_VARINT)
			return -1;
		r->onlink = f->u != 0;
		return 0;
	case 9: return pf_uns(f, &r->metric);
	}
	return 0;
}

static int
neighfield(const Pf *f, void *arg)
{
	NetEnt *ne = arg;
	AgentNeigh *n = ne->e;

	switch (f->field) {
	case 1: return pf_uns(f, &n->ifidx);
	case 2: return pf_family(f, &n->family);
	case 3: return pf_fixbytes(f, n->ip, sizeof(n->ip), &ne->len[0]);
	case 4: return pf_fixbytes(f, n->mac, sizeof(n->mac), &ne->len[1]);
	}
	return 0;
}

/* one entry of a repeated field into arr[*n], checked by ok */
static int
netent(const Pf *f, void *arr, size_t size, size_t *n, size_t max,
    int (*fn)(const Pf *, void *), int (*ok)(const NetEnt *))
{
	NetEnt ne;

	if (*n == max)
		return -1;
	memset(&ne, 0, sizeof(ne));
	ne.e = (uint8_t *)arr + *n * size;
	memset(ne.e, 0, size);
	if (pf_fields(f, fn, &ne) < 0 || !ok(&ne))
		return -1;
	(*n)++;
	return 0;
}

static int
ifok(const NetEnt *ne)
{
	const AgentIf *i = ne->e;

	return ne->len[0] == 6 && i->mtu >= NET_MINMTU && i->mtu <= NET_MAXMTU &&
	    i->name[0];
}

static int
ipok(const NetEnt *ne)
{
	const AgentIp *a = ne->e;
	size_t al = famlen(a->family);

	return al && ne->len[0] == al && a->prefix <= al * 8;
}

static int
routeok(const NetEnt *ne)
{
	AgentRoute *r = ne->e;
	size_t al = famlen(r->family);

	if (!al || ne->len[0] != al || r->dstlen > al * 8 || r->scope > 255 ||
	    (ne->len[1] && ne->len[1] != al) || (ne->len[2] && ne->len[2] != al))
		return 0;
	r->hasgw = ne->len[1] != 0;
	r->hassrc = ne->len[2] != 0;
	return 1;
}

static int
neighok(const NetEnt *ne)
{
	const AgentNeigh *n = ne->e;
	size_t al = famlen(n->family);

	return al && ne->len[0] == al && ne->len[1] == 6;
}

static int
netfield(const Pf *f, void *arg)
{
	AgentNet *n = arg;

	switch (f->field) {
	case 1: return netent(f, n->ifs, sizeof(n->ifs[0]), &n->nifs,
	    AGENT_MAXIFS, iffield, ifok);
	case 2: return netent(f, n->ips, sizeof(n->ips[0]), &n->nips,
	    AGENT_MAXIPS, ipfield, ipok);
	case 3: return netent(f, n->routes, sizeof(n->routes[0]), &n->nroutes,
	    AGENT_MAXROUTES, routefield, routeok);
	case 4: return netent(f, n->neighs, sizeof(n->neighs[0]), &n->nneighs,
	    AGENT_MAXNEIGHS, neighfield, neighok);
	}
	return 0;
}

/* field 13: repeated, it merges, as protobuf's embedded messages do */
static int
pf_agentnet(const Pf *f, AgentNet **np)
{
	AgentNet *n;
	size_t i;

	if (!*np)
		*np = ecalloc(1, sizeof(**np));
	n = *np;
	if (pf_fields(f, netfield, n) < 0)
		return -1;
	for (i = 0; i < n->nips; i++)
		if (n->ips[i].ifidx >= n->nifs)
			return -1;
	for (i = 0; i < n->nroutes; i++)
		if (n->routes[i].ifidx >= n->nifs)
			return -1;
	for (i = 0; i < n->nneighs; i++)
		if (n->neighs[i].ifidx >= n->nifs)
			return -1;
	return 0;
}

/* AgentReq, as pb_agentreq writes it */
static int
agentreqfield(const Pf *f, void *arg)
{
	AgentReq *r = arg;

	switch (f->field) {
	case 1: return pf_strlast(f, &r->id);
	case 2: return pf_blob(f, &r->config, &r->configlen);
	case 3: return pf_u32(f, &r->iport);
	case 4: return pf_u32(f, &r->oport);
	case 5: return pf_u32(f, &r->eport);
	case 6: return pf_bool(f, &r->terminal);
	case 7: return pf_u32(f, &r->signal);
	case 8: return pf_bool(f, &r->all);
	case 9: return pf_strlast(f, &r->execid);
	case 10: return pf_strlast(f, &r->sandbox);
	case 11: return pf_u32(f, &r->width);
	case 12: return pf_u32(f, &r->height);
	case 13: return pf_agentnet(f, &r->net);
	}
	return 0;
}

int
pr_agentreq(const uint8_t *p, size_t n, AgentReq *r)
{
	memset(r, 0, sizeof(*r));
	if (pr_fields(p, n, agentreqfield, r) < 0) {
		agentreq_free(r);
		return -1;
	}
	if (!r->id)
		r->id = estrdup("");
	return 0;
}

void
agentreq_free(AgentReq *r)
{
	free(r->id);
	free(r->execid);
	free(r->sandbox);
	free(r->config);
	free(r->net);
	memset(r, 0, sizeof(*r));
}

/* AgentStats: its fields in struct order from 1, io as field 40 */
#define STATU64(s) { &(s)->cpuusage, &(s)->cpuuser, &(s)->cpusystem, \
	&(s)->nrperiods, &(s)->nrthrottled, &(s)->throttledusec, \
	&(s)->memusage, &(s)->memlimit, &(s)->swapusage, &(s)->anon, \
	&(s)->file, &(s)->kernelstack, &(s)->slab, &(s)->sock, &(s)->shmem, \
	&(s)->filemapped, &(s)->filedirty, &(s)->filewriteback, \
	&(s)->activeanon, &(s)->inactiveanon, &(s)->activefile, \
	&(s)->inactivefile, &(s)->unevictable, &(s)->pgfault, \
	&(s)->pgmajfault, &(s)->evlow, &(s)->evhigh, &(s)->evmax, \
	&(s)->evoom, &(s)->evoomkill, &(s)->pids, &(s)->pidslimit }

static void
pb_agentstats(Pb *pb, uint32_t field, const AgentStats *s)
{
	const uint64_t *v[] = STATU64(s);
	size_t m, k, i;

	m = pb_open(pb, field);
	for (i = 0; i < LEN(v); i++)
		pb_uint(pb, i + 1, *v[i]);
	for (i = 0; i < s->nio && i < AGENT_MAXIO; i++) {
		k = pb_open(pb, 40);
		pb_uint(pb, 1, s->io[i].major);
		pb_uint(pb, 2, s->io[i].minor);
		pb_uint(pb, 3, s->io[i].rbytes);
		pb_uint(pb, 4, s->io[i].wbytes);
		pb_uint(pb, 5, s->io[i].rios);
		pb_uint(pb, 6, s->io[i].wios);
		pb_close(pb, k);
	}
	pb_close(pb, m);
}

static int
iofield(const Pf *f, void *arg)
{
	AgentIo *io = arg;
	uint64_t *v[] = { &io->major, &io->minor, &io->rbytes, &io->wbytes,
	    &io->rios, &io->wios };

	return pf_u64s(f, v, LEN(v));
}

static int
statsfield(const Pf *f, void *arg)
{
	AgentStats *s = arg;
	uint64_t *v[] = STATU64(s);

	if (f->field != 40)
		return pf_u64s(f, v, LEN(v));
	if (s->nio == AGENT_MAXIO)
		return -1;
	memset(&s->io[s->nio], 0, sizeof(s->io[0]));
	return pf_fields(f, iofield, &s->io[s->nio++]);
}

void
pb_agentresp(Pb *pb, const AgentResp *r)
{
	size_t i, m;

	pb_uint(pb, 1, r->pid);
	pb_uint(pb, 2, r->status);
	if (r->npids) {
		m = pb_open(pb, 3);	/* packed */
		for (i = 0; i < r->npids; i++)
			pb_varint(pb, r->pids[i]);
		pb_close(pb, m);
	}
	if (r->stats)
		pb_agentstats(pb, 4, r->stats);
	pb_str(pb, 5, r->id);
}

static int
addpid(AgentResp *r, uint64_t v)
{
	if (v > UINT32_MAX || r->npids >= AGENT_MAXPIDS)
		return -1;
	r->pids = erealloc(r->pids, (r->npids + 1) * sizeof(*r->pids));
	r->pids[r->npids++] = v;
	return 0;
}

/* repeated uint32, one by one or packed (varints back to back) */
static int
pr_pids(const Pf *f, AgentResp *r)
{
	const uint8_t *p, *end;
	uint64_t v;
	unsigned sh;

	if (f->wt == PB_VARINT)
		return addpid(r, f->u);
	if (f->wt != PB_BYTES)
		return -1;
	for (p = f->b, end = f->b + f->n; p < end; ) {
		for (v = 0, sh = 0; ; sh += 7) {
			if (p == end || sh > 63)
				return -1;
			v |= (uint64_t)(*p & 0x7f) << sh;
			if (!(*p++ & 0x80))
				break;
		}
		if (addpid(r, v) < 0)
			return -1;
	}
	return 0;
}

static int
agentrespfield(const Pf *f, void *arg)
{
	AgentResp *r = arg;

	switch (f->field) {
	case 1: return pf_u32(f, &r->pid);
	case 2: return pf_u32(f, &r->status);
	case 3: return pr_pids(f, r);
	case 4:		/* a second one is read afresh */
		if (!r->stats)
			r->stats = emalloc(sizeof(*r->stats));
		memset(r->stats, 0, sizeof(*r->stats));
		return pf_fields(f, statsfield, r->stats);
	case 5: return pf_strlast(f, &r->id);
	}
	return 0;
}

int
pr_agentresp(const uint8_t *p, size_t n, AgentResp *r)
{
	memset(r, 0, sizeof(*r));
	if (pr_fields(p, n, agentrespfield, r) < 0) {
		agentresp_free(r);
		return -1;
	}
	return 0;
}

void
agentresp_free(AgentResp *r)
{
	free(r->pids);
	free(r->stats);
	free(r->id);
	memset(r, 0, sizeof(*r));
}

/*
 * containerd.task.v2 requests. The messages share id = 1 and exec_id = 2;
 * the rest depends on the message, named by kind.
 */
static int
mountfield(const Pf *f, void *arg)
{
	TaskMount *tm = arg;
	char *s;

	switch (f->field) {
	case 1: return pf_strlast(f, &tm->type);
	case 2: return pf_strlast(f, &tm->source);
	case 3: return pf_strlast(f, &tm->target);
	case 4:
		if (tm->nopt >= 256 || pf_str(f, &s) < 0)
			return -1;
		tm->options = erealloc(tm->options, (tm->nopt + 2) * sizeof(char *));
		tm->options[tm->nopt++] = s;
		tm->options[tm->nopt] = NULL;
		return 0;
	}
	return 0;
}

static int
taskreqfield(const Pf *f, void *arg)
{
	const KindMsg *km = arg;
	TaskReq *r = km->m;
	int kind = km->kind;
	char **s = NULL;

	if (f->field == 1)
		s = &r->id;
	else if (f->field == 2 && kind == TREQ_CREATE)
		s = &r->bundle;
	else if (f->field == 2 && kind != TREQ_SHUTDOWN)
		s = &r->execid;
	else if (kind == TREQ_CREATE && f->field >= 5 && f->field <= 7)
		s = f->field == 5 ? &r->fin : f->field == 6 ? &r->fout : &r->ferr;
	if (s)
		return pf_strlast(f, s);
	switch (kind * 100 + f->field) {
	case TREQ_CREATE * 100 + 3:
		if (f->wt != PB_BYTES || r->nrootfs >= 16)
			return -1;
		r->rootfs = erealloc(r->rootfs, (r->nrootfs + 1) * sizeof(TaskMount));
		memset(&r->rootfs[r->nrootfs], 0, sizeof(TaskMount));
		return pf_fields(f, mountfield, &r->rootfs[r->nrootfs++]);
	case TREQ_CREATE * 100 + 4: return pf_bool(f, &r->terminal);
	case TREQ_CREATE * 100 + 8:
		r->checkpoint = f->wt == PB_BYTES && f->n > 0;
		return 0;
	case TREQ_KILL * 100 + 3: return pf_u32(f, &r->signal);
	case TREQ_KILL * 100 + 4: return pf_bool(f, &r->all);
	case TREQ_CLOSEIO * 100 + 3: return pf_bool(f, &r->closestdin);
	case TREQ_SHUTDOWN * 100 + 2: return pf_bool(f, &r->now);
	}
	return 0;
}

int
pr_taskreq(const uint8_t *p, size_t n, int kind, TaskReq *r)
{
	KindMsg km = { kind, r };

	memset(r, 0, sizeof(*r));
	if (pr_fields(p, n, taskreqfield, &km) < 0) {
		taskreq_free(r);
		return -1;
	}
	if (!r->id)
		r->id = estrdup("");
	return 0;
}

void
taskreq_free(TaskReq *r)
{
	size_t i, j;

	free(r->id);
	free(r->execid);
	free(r->bundle);
	free(r->fin);
	free(r->fout);
	free(r->ferr);
	for (i = 0; i < r->nrootfs; i++) {
		free(r->rootfs[i].type);
		free(r->rootfs[i].source);
		free(r->rootfs[i].target);
		for (j = 0; j < r->rootfs[i].nopt; j++)
			free(r->rootfs[i].options[j]);
		free(r->rootfs[i].options);
	}
	free(r->rootfs);
	memset(r, 0, sizeof(*r));
}

/*
 * containerd.task.v2 replies and events, and the requests husk run sends
 * as containerd would. Field numbers are those of containerd's
 * runtime/v2/task/shim.proto and api/events/task.proto; zero values are
 * left out (proto3).
 */
static void
pb_pidonly(Pb *pb, uint32_t pid)
{
	pb_uint(pb, 1, pid);			/* pid */
}

void
pb_createresp(Pb *pb, uint32_t pid)
{
	pb_pidonly(pb, pid);
}

void
pb_startresp(Pb *pb, uint32_t pid)
{
	pb_pidonly(pb, pid);
}

void
pb_waitresp(Pb *pb, uint32_t status, uint64_t exitedat)
{
	pb_uint(pb, 1, status);			/* exit_status */
	pb_time(pb, 2, exitedat);		/* exited_at */
}

/* lenient, as a client: a field it cannot read is left as it was */
static int
waitfield(const Pf *f, void *status)
{
	if (f->field == 1 && f->wt == PB_VARINT)
		*(uint32_t *)status = f->u;
	return 0;
}

int
pr_waitresp(const uint8_t *p, size_t n, uint32_t *status)
{
	return pr_fields(p, n, waitfield, status);
}

void
pb_deleteresp(Pb *pb, uint32_t pid, uint32_t status, uint64_t exitedat)
{
	pb_uint(pb, 1, pid);			/* pid */
	pb_uint(pb, 2, status);			/* exit_status */
	pb_time(pb, 3, exitedat);		/* exited_at */
}

void
pb_stateresp(Pb *pb, const TaskState *s)
{
	pb_str(pb, 1, s->id);
	pb_str(pb, 2, s->bundle);
	pb_uint(pb, 3, s->pid);
	pb_uint(pb, 4, s->status);		/* containerd.v1.types.Status */
	pb_str(pb, 5, s->fin);
	pb_str(pb, 6, s->fout);
	pb_str(pb, 7, s->ferr);
	pb_bool(pb, 8, s->terminal);
	pb_uint(pb, 9, s->exitstatus);
	if (s->exitedat)
		pb_time(pb, 10, s->exitedat);
	pb_str(pb, 11, s->execid);
}

void
pb_connectresp(Pb *pb, uint32_t shimpid, uint32_t taskpid, const char *version)
{
	pb_uint(pb, 1, shimpid);
	pb_uint(pb, 2, taskpid);
	pb_str(pb, 3, version);
}

/* containerd.events.TaskCreate */
void
pb_taskcreate(Pb *pb, const char *id, const char *bundle, const char *fin,
    const char *fout, const char *ferr, int terminal, uint32_t pid)
{
	size_t io;

	pb_str(pb, 1, id);			/* container_id */
	pb_str(pb, 2, bundle);
	io = pb_open(pb, 4);			/* io: TaskIO */
	pb_str(pb, 1, fin);
	pb_str(pb, 2, fout);
	pb_str(pb, 3, ferr);
	pb_bool(pb, 4, terminal);
	pb_close(pb, io);
	pb_uint(pb, 6, pid);
}

/* containerd.events.TaskStart */
void
pb_taskstart(Pb *pb, const char *id, uint32_t pid)
{
	pb_str(pb, 1, id);			/* container_id */
	pb_uint(pb, 2, pid);
}

/* requests: CreateTaskRequest; Start, Wait, Delete and the like; Kill */
void
pb_createreq(Pb *pb, const char *id, const char *bundle, const char *fin,
    const char *fout, const char *ferr)
{
	pb_str(pb, 1, id);
	pb_str(pb, 2, bundle);
	pb_str(pb, 5, fin);			/* stdin */
	pb_str(pb, 6, fout);			/* stdout */
	pb_str(pb, 7, ferr);			/* stderr */
}

void
pb_idreq(Pb *pb, const char *id, const char *execid)
{
	pb_str(pb, 1, id);
	pb_str(pb, 2, execid);			/* exec_id */
}

void
pb_killreq(Pb *pb, const char *id, const char *execid, uint32_t signal, int all)
{
	pb_str(pb, 1, id);
	pb_str(pb, 2, execid);
	pb_uint(pb, 3, signal);
	pb_bool(pb, 4, all);
}

/* google.protobuf.Timestamp from nanoseconds since the epoch */
void
pb_time(Pb *pb, uint32_t field, uint64_t ns)
{
	size_t m = pb_open(pb, field);

	pb_uint(pb, 1, ns / 1000000000);
	pb_uint(pb, 2, ns % 1000000000);
	pb_close(pb, m);
}

/*
 * containerd.services.events.ttrpc.v1.ForwardRequest: an Envelope with
 * the event as a google.protobuf.Any named "containerd.events.<Name>".
 */
void
pb_forward(Pb *pb, uint64_t ns, const char *namespace, const char *topic,
    const char *name, const Pb *event)
{
	size_t env = pb_open(pb, 1), any;
	char url[128];

	pb_time(pb, 1, ns);
	pb_str(pb, 2, namespace);
	pb_str(pb, 3, topic);
	any = pb_open(pb, 4);
	snprintf(url, sizeof(url), "containerd.events.%s", name);
	pb_str(pb, 1, url);
	pb_bytes(pb, 2, event->b, event->n);
	pb_close(pb, any);
	pb_close(pb, env);
}

/*
 * containerd.task.v2: exec, pty, pids, stats, update, events.
 *
 * The requests: ExecProcessRequest {id 1, exec_id 2, terminal 3, stdin 4,
 * stdout 5, stderr 6, spec 7 (Any)}, ResizePtyRequest {id 1, exec_id 2,
 * width 3, height 4}, UpdateTaskRequest {id 1, resources 2 (Any),
 * annotations 3 (map)}, and Pids/Stats/Pause/ResumeRequest {id 1}. A
 * message field seen twice is merged, as protobuf does: each of its
 * fields is the last one seen.
 */
enum { TOP_EXEC, TOP_RESIZE, TOP_UPDATE, TOP_ID };

/* an Any's type_url (1) and value (2), into r */
static int
anyfield(const Pf *f, void *arg)
{
	TaskOp *r = arg;

	if (f->field == 1)
		return pf_strlast(f, &r->anyurl);
	if (f->field == 2)
		return pf_blob(f, &r->json, &r->jsonlen);
	return 0;
}

/* one annotations entry; a key seen again takes the new value */
static int
pf_anno(const Pf *f, TaskOp *r)
{
	char *k, *v;
	size_t i;

	if (pf_map_str(f, &k, &v) < 0)
		return -1;
	for (i = 0; i < r->nanno; i++)
		if (!strcmp(r->annokeys[i], k))
			break;
	if (i < r->nanno) {
		free(k);
		free(r->annovals[i]);
		r->annovals[i] = v;
		return 0;
	}
	if (r->nanno >= TASK_MAXANNO) {
		free(k);
		free(v);
		return -1;
	}
	r->annokeys = erealloc(r->annokeys, (r->nanno + 1) * sizeof(char *));
	r->annovals = erealloc(r->annovals, (r->nanno + 1) * sizeof(char *));
	r->annokeys[r->nanno] = k;
	r->annovals[r->nanno++] = v;
	return 0;
}

static int
taskopfield(const Pf *f, void *arg)
{
	const KindMsg *km = arg;
	TaskOp *r = km->m;

	if (f->field == 1)
		return pf_strlast(f, &r->id);
	switch (km->kind * 100 + f->field) {
	case TOP_EXEC * 100 + 2:
	case TOP_RESIZE * 100 + 2: return pf_strlast(f, &r->execid);
	case TOP_EXEC * 100 + 3: return pf_bool(f, &r->terminal);
	case TOP_EXEC * 100 + 4: return pf_strlast(f, &r->fin);
	case TOP_EXEC * 100 + 5: return pf_strlast(f, &r->fout);
	case TOP_EXEC * 100 + 6: return pf_strlast(f, &r->ferr);
	case TOP_EXEC * 100 + 7:
	case TOP_UPDATE * 100 + 2: return pf_fields(f, anyfield, r);
	case TOP_RESIZE * 100 + 3: return pf_u32(f, &r->width);
	case TOP_RESIZE * 100 + 4: return pf_u32(f, &r->height);
	case TOP_UPDATE * 100 + 3: return pf_anno(f, r);
	}
	return 0;
}

static int
taskop(const uint8_t *p, size_t n, int kind, TaskOp *r)
{
	KindMsg km = { kind, r };

	memset(r, 0, sizeof(*r));
	if (pr_fields(p, n, taskopfield, &km) < 0) {
		taskop_free(r);
		return -1;
	}
	if (!r->id)
		r->id = estrdup("");
	if (!r->execid)
		r->execid = estrdup("");
	return 0;
}

int
pr_taskexec(const uint8_t *p, size_t n, TaskOp *r)
{
	return taskop(p, n, TOP_EXEC, r);
}

int
pr_taskresize(const uint8_t *p, size_t n, TaskOp *r)
{
	return taskop(p, n, TOP_RESIZE, r);
}

int
pr_taskupdate(const uint8_t *p, size_t n, TaskOp *r)
{
	return taskop(p, n, TOP_UPDATE, r);
}

int
pr_taskid(const uint8_t *p, size_t n, TaskOp *r)
{
	return taskop(p, n, TOP_ID, r);
}

void
taskop_free(TaskOp *r)
{
	size_t i;

	free(r->id);
	free(r->execid);
	free(r->fin);
	free(r->fout);
	free(r->ferr);
	free(r->anyurl);
	free(r->json);
	for (i = 0; i < r->nanno; i++) {
		free(r->annokeys[i]);
		free(r->annovals[i]);
	}
	free(r->annokeys);
	free(r->annovals);
	memset(r, 0, sizeof(*r));
}

void
pb_any(Pb *pb, uint32_t field, const char *typeurl, const void *value, size_t n)
{
	size_t m = pb_open(pb, field);

	pb_str(pb, 1, typeurl);
	pb_bytes(pb, 2, value, n);
	pb_close(pb, m);
}

/*
 * PidsResponse {processes 1: ProcessInfo {pid 1, info 2 (Any)}}; info is
 * containerd.runc.v1.ProcessDetails {exec_id 1}, what ctr task ps shows.
 */
void
pb_pidsresp(Pb *pb, const TaskPid *p, size_t n)
{
	Pb det = { 0 };
	size_t i, m;

	for (i = 0; i < n; i++) {
		m = pb_open(pb, 1);
		pb_uint(pb, 1, p[i].pid);
		if (p[i].execid && p[i].execid[0]) {
			det.n = 0;
			pb_str(&det, 1, p[i].execid);
			pb_any(pb, 2, "containerd.runc.v1.ProcessDetails", det.b, det.n);
		}
		pb_close(pb, m);
	}
	pb_free(&det);
}

/* a counter in one unit times k, held at the top rather than wrapped */
static uint64_t
scale(uint64_t v, uint64_t k)
{
	return v > UINT64_MAX / k ? UINT64_MAX : v * k;
}

static uint64_t
sum(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

typedef struct {
	uint32_t field;
	uint64_t v;
} Fv;

/* a nested message of varint fields, written even when all are 0 */
static void
pb_fvs(Pb *pb, uint32_t field, const Fv *fv, size_t n)
{
	size_t m = pb_open(pb, field), i;

	for (i = 0; i < n; i++)
		pb_uint(pb, fv[i].field, fv[i].v);
	pb_close(pb, m);
}

/*
 * io.containerd.cgroups.v2.Metrics {pids 1, cpu 2, memory 4, io 6,
 * memory_events 8}. A limit of "max" reads as UINT64_MAX, as the cgroups
 * library reports it (CRI then sees no limit); pids, cpu and memory are
 * always present, since CRI reads nothing from an absent one.
 */
void
pb_metrics2(Pb *pb, const AgentStats *s)
{
	const Fv pids[] = {
		{ 1, s->pids },					/* current */
		{ 2, s->pidslimit ? s->pidslimit : UINT64_MAX },	/* limit */
	};
	const Fv cpu[] = {
		{ 1, s->cpuusage }, { 2, s->cpuuser }, { 3, s->cpusystem },
		{ 4, s->nrperiods }, { 5, s->nrthrottled }, { 6, s->throttledusec },
	};
	const Fv mem[] = {
		{ 1, s->anon }, { 2, s->file }, { 3, s->kernelstack },
		{ 4, s->slab }, { 5, s->sock }, { 6, s->shmem },
		{ 7, s->filemapped }, { 8, s->filedirty }, { 9, s->filewriteback },
		{ 11, s->inactiveanon }, { 12, s->activeanon },
		{ 13, s->inactivefile }, { 14, s->activefile },
		{ 15, s->unevictable }, { 18, s->pgfault }, { 19, s->pgmajfault },
		{ 32, s->memusage },				/* usage */
		{ 33, s->memlimit ? s->memlimit : UINT64_MAX },	/* usage_limit */
		{ 34, s->swapusage },				/* swap_usage */
	};
	const Fv events[] = {
		{ 1, s->evlow }, { 2, s->evhigh }, { 3, s->evmax },
		{ 4, s->evoom }, { 5, s->evoomkill },
	};
	size_t i, m;

	pb_fvs(pb, 1, pids, LEN(pids));
	pb_fvs(pb, 2, cpu, LEN(cpu));
	pb_fvs(pb, 4, mem, LEN(mem));
	m = pb_open(pb, 6);
	for (i = 0; i < s->nio && i < AGENT_MAXIO; i++) {
		const Fv io[] = {
			{ 1, s->io[i].major }, { 2, s->io[i].minor },
			{ 3, s->io[i].rbytes }, { 4, s->io[i].wbytes },
			{ 5, s->io[i].rios }, { 6, s->io[i].wios },
		};
		pb_fvs(pb, 1, io, LEN(io));		/* usage */
	}
	pb_close(pb, m);
	pb_fvs(pb, 8, events, LEN(events));
}

/* v1 cgroup files reported the unlimited memory limit as this (4 KiB pages) */
#define V1_NOLIMIT	0x7ffffffffffff000ull

/* BlkIOEntry {op 1, device 2, major 3, minor 4, value 5} */
static void
blkio(Pb *pb, uint32_t field, const AgentIo *io, const char *op, uint64_t v)
{
	size_t m = pb_open(pb, field);

	pb_str(pb, 1, op);
	pb_uint(pb, 3, io->major);
	pb_uint(pb, 4, io->minor);
	pb_uint(pb, 5, v);
	pb_close(pb, m);
}

/*
 * io.containerd.cgroups.v1.Metrics {pids 2, cpu 3, memory 4, blkio 5,
 * memory_oom_control 9}, from v2 counters: times in ns, cache is file,
 * rss is anon, the total_* fields equal their own (the guest cgroup is a
 * leaf), the swap entry counts memory and swap as memsw did, kernel is
 * kernel stack and slab, kernel_tcp is sock. An unlimited pids.max is
 * 0, as the cgroups library reads "max" in v1.
 */
void
pb_metrics1(Pb *pb, const AgentStats *s)
{
	uint64_t lim = s->memlimit ? s->memlimit : V1_NOLIMIT;
	const Fv pids[] = { { 1, s->pids }, { 2, s->pidslimit } };
	const Fv usage[] = {
		{ 1, scale(s->cpuusage, 1000) },		/* total */
		{ 2, scale(s->cpusystem, 1000) },		/* kernel */
		{ 3, scale(s->cpuuser, 1000) },			/* user */
	};
	const Fv throttle[] = {
		{ 1, s->nrperiods }, { 2, s->nrthrottled },
		{ 3, scale(s->throttledusec, 1000) },		/* throttled_time */
	};
	const Fv mem[] = {
		{ 1, s->file }, { 2, s->anon }, { 4, s->filemapped },
		{ 5, s->filedirty }, { 6, s->filewriteback },
		{ 9, s->pgfault }, { 10, s->pgmajfault },
		{ 11, s->inactiveanon }, { 12, s->activeanon },
		{ 13, s->inactivefile }, { 14, s->activefile },
		{ 15, s->unevictable },
		{ 16, lim },					/* hierarchical_memory_limit */
		{ 18, s->file }, { 19, s->anon }, { 21, s->filemapped },
		{ 22, s->filedirty }, { 23, s->filewriteback },
		{ 26, s->pgfault }, { 27, s->pgmajfault },
		{ 28, s->inactiveanon }, { 29, s->activeanon },
		{ 30, s->inactivefile }, { 31, s->activefile },
		{ 32, s->unevictable },
	};
	/* MemoryEntry {limit 1, usage 2} */
	const Fv muse[] = { { 1, lim }, { 2, s->memusage } };
	const Fv mswap[] = { { 1, V1_NOLIMIT }, { 2, sum(s->memusage, s->swapusage) } };
	const Fv mkern[] = { { 1, V1_NOLIMIT }, { 2, sum(s->kernelstack, s->slab) } };
	const Fv mtcp[] = { { 1, V1_NOLIMIT }, { 2, s->sock } };
	const Fv oom[] = { { 3, s->evoomkill } };		/* oom_kill */
	size_t i, m, k;

	pb_fvs(pb, 2, pids, LEN(pids));
	m = pb_open(pb, 3);
	pb_fvs(pb, 1, usage, LEN(usage));
	pb_fvs(pb, 2, throttle, LEN(throttle));
	pb_close(pb, m);
	m = pb_open(pb, 4);
	for (i = 0; i < LEN(mem); i++)
		pb_uint(pb, mem[i].field, mem[i].v);
	pb_fvs(pb, 33, muse, LEN(muse));
	pb_fvs(pb, 34, mswap, LEN(mswap));
	pb_fvs(pb, 35, mkern, LEN(mkern));
	pb_fvs(pb, 36, mtcp, LEN(mtcp));
	pb_close(pb, m);
	/* io_service_bytes_recursive 1, io_serviced_recursive 2 */
	m = pb_open(pb, 5);
	for (k = 1; k <= 2; k++)
		for (i = 0; i < s->nio && i < AGENT_MAXIO; i++) {
			blkio(pb, k, &s->io[i], "Read", k == 1 ?
			    s->io[i].rbytes : s->io[i].rios);
			blkio(pb, k, &s->io[i], "Write", k == 1 ?
			    s->io[i].wbytes : s->io[i].wios);
		}
	pb_close(pb, m);
	pb_fvs(pb, 9, oom, LEN(oom));
}

/* StatsResponse {stats 1 (Any)} */
void
pb_statsresp(Pb *pb, const AgentStats *s, int cgv1)
{
	Pb m = { 0 };

	if (cgv1)
		pb_metrics1(&m, s);
	else
		pb_metrics2(&m, s);
	pb_any(pb, 1, cgv1 ? METRICS_URL_V1 : METRICS_URL_V2, m.b, m.n);
	pb_free(&m);
}

/*
 * containerd.events: TaskExit {container_id 1, id 2, pid 3, exit_status
 * 4, exited_at 5}, TaskDelete {container_id 1, pid 2, exit_status 3,
 * exited_at 4, id 5}, TaskExecAdded {container_id 1, exec_id 2},
 * TaskExecStarted {container_id 1, exec_id 2, pid 3}, and TaskOOM,
 * TaskPaused, TaskResumed {container_id 1}.
 */
static const struct {
	const char *topic, *name;
} taskevs[] = {
	[TEV_EXIT] = { "/tasks/exit", "TaskExit" },
	[TEV_DELETE] = { "/tasks/delete", "TaskDelete" },
	[TEV_OOM] = { "/tasks/oom", "TaskOOM" },
	[TEV_EXECADDED] = { "/tasks/exec-added", "TaskExecAdded" },
	[TEV_EXECSTARTED] = { "/tasks/exec-started", "TaskExecStarted" },
	[TEV_PAUSED] = { "/tasks/paused", "TaskPaused" },
	[TEV_RESUMED] = { "/tasks/resumed", "TaskResumed" },
};

const char *
taskev_topic(int kind)
{
	return kind >= 0 && (size_t)kind < LEN(taskevs) ? taskevs[kind].topic : NULL;
}

const char *
taskev_name(int kind)
{
	return kind >= 0 && (size_t)kind < LEN(taskevs) ? taskevs[kind].name : NULL;
}

void
pb_taskevent(Pb *ev, int kind, const TaskEvent *e)
{
	int init = !e->execid || !e->execid[0];

	pb_str(ev, 1, e->cid);
	switch (kind) {
	case TEV_EXIT:
		pb_str(ev, 2, init ? e->cid : e->execid);
		pb_uint(ev, 3, e->pid);
		pb_uint(ev, 4, e->status);
		pb_time(ev, 5, e->exitedat);
		break;
	case TEV_DELETE:
		pb_uint(ev, 2, e->pid);
		pb_uint(ev, 3, e->status);
		pb_time(ev, 4, e->exitedat);
		if (!init)
			pb_str(ev, 5, e->execid);
		break;
	case TEV_EXECADDED:
	case TEV_EXECSTARTED:
		pb_str(ev, 2, e->execid);
		if (kind == TEV_EXECSTARTED)
			pb_uint(ev, 3, e->pid);
		break;
	}
}
