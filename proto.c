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
#include <string.h>

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

int
pf_str(const Pf *f, char **s)
{
	if (f->wt != PB_BYTES || memchr(f->b, '\0', f->n))
		return -1;
	*s = emalloc(f->n + 1);
	memcpy(*s, f->b, f->n);
	(*s)[f->n] = '\0';
	return 0;
}

int
pf_map_str(const Pf *f, char **k, char **v)
{
	Pr r;
	Pf e;
	char **dst;
	int st;

	if (f->wt != PB_BYTES)
		return -1;
	*k = *v = NULL;
	pr_init(&r, f->b, f->n);
	while ((st = pr_next(&r, &e)) > 0) {
		if (e.field != 1 && e.field != 2)
			continue;
		dst = e.field == 1 ? k : v;
		free(*dst);
		*dst = NULL;
		if (pf_str(&e, dst) < 0) {
			st = -1;
			break;
		}
	}
	if (st < 0) {
		free(*k);
		free(*v);
		*k = *v = NULL;
		return -1;
	}
	if (!*k)
		*k = estrdup("");
	if (!*v)
		*v = estrdup("");
	return 0;
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

int
pr_health(const uint8_t *p, size_t n, AgentHealth *h)
{
	Pr r;
	Pf f;
	int st;

	memset(h, 0, sizeof(*h));
	pr_init(&r, p, n);
	while ((st = pr_next(&r, &f)) > 0) {
		switch (f.field) {
		case 1:
			if (f.wt != PB_BYTES || f.n >= sizeof(h->version) ||
			    memchr(f.b, '\0', f.n))
				return -1;
			memcpy(h->version, f.b, f.n);
			h->version[f.n] = '\0';
			break;
		case 2:
			if (f.wt != PB_VARINT || f.u > UINT32_MAX)
				return -1;
			h->cpus = f.u;
			break;
		case 3:
		case 4:
		case 5:
			if (f.wt != PB_VARINT)
				return -1;
			*(f.field == 3 ? &h->memtotal : f.field == 4 ?
			    &h->memfree : &h->uptimens) = f.u;
			break;
		}
	}
	return st;
}
