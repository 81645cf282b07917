/* See LICENSE file for copyright and license details. */
/* proto.c against hand-made byte vectors. */
#include <stdlib.h>
#include <string.h>

#include "../husk.h"
#include "t.h"

static int
eqbytes(const Pb *pb, const char *hex)
{
	uint8_t want[256];
	size_t n = 0;
	unsigned x;

	while (*hex) {
		if (*hex == ' ') {
			hex++;
			continue;
		}
		if (sscanf(hex, "%2x", &x) != 1)
			return 0;
		want[n++] = x;
		hex += 2;
	}
	return pb->n == n && !memcmp(pb->b, want, n);
}

static void
varints(void)
{
	static const struct {
		uint64_t v;
		const char *hex;
	} t[] = {
		{ 0, "00" }, { 1, "01" }, { 127, "7f" }, { 128, "80 01" },
		{ 150, "96 01" }, { 300, "ac 02" }, { 16384, "80 80 01" },
		{ 1ull << 63, "80 80 80 80 80 80 80 80 80 01" },
		{ UINT64_MAX, "ff ff ff ff ff ff ff ff ff 01" },
	};
	size_t i;
	Pb pb;
	Pr r;
	Pf f;

	for (i = 0; i < LEN(t); i++) {
		memset(&pb, 0, sizeof(pb));
		pb_varint(&pb, t[i].v);
		CHECK(eqbytes(&pb, t[i].hex));
		pb_free(&pb);
		/* and back, as field 1 */
		memset(&pb, 0, sizeof(pb));
		pb_key(&pb, 1, PB_VARINT);
		pb_varint(&pb, t[i].v);
		pr_init(&r, pb.b, pb.n);
		CHECK(pr_next(&r, &f) == 1);
		CHECK(f.field == 1 && f.wt == PB_VARINT && f.u == t[i].v);
		CHECK(pr_next(&r, &f) == 0);
		pb_free(&pb);
	}
}

static int
decodes(const uint8_t *p, size_t n)
{
	Pr r;
	Pf f;
	int st;

	pr_init(&r, p, n);
	while ((st = pr_next(&r, &f)) > 0)
		;
	return st;
}

static void
malformed(void)
{
	static const uint8_t overlong[] = { 0x08, 0x80, 0x80, 0x80, 0x80, 0x80,
	    0x80, 0x80, 0x80, 0x80, 0x80, 0x01 };
	static const uint8_t tenth[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 0x02 };
	static const uint8_t trunc[] = { 0x08, 0x80 };
	static const uint8_t pastend[] = { 0x0a, 0x05, 'a', 'b' };
	static const uint8_t hugelen[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f };
	static const uint8_t group[] = { 0x0b, 0x0c };
	static const uint8_t field0[] = { 0x00, 0x01 };
	static const uint8_t fixed[] = { 0x0d, 1, 2, 3 };
	static const uint8_t wt7[] = { 0x0f };
	static const uint8_t good[] = { 0x08, 0x96, 0x01, 0x12, 0x01, 'x' };

	CHECK(decodes(overlong, sizeof(overlong)) == -1);
	CHECK(decodes(tenth, sizeof(tenth)) == -1);
	CHECK(decodes(trunc, sizeof(trunc)) == -1);
	CHECK(decodes(pastend, sizeof(pastend)) == -1);
	CHECK(decodes(hugelen, sizeof(hugelen)) == -1);
	CHECK(decodes(group, sizeof(group)) == -1);
	CHECK(decodes(field0, sizeof(field0)) == -1);
	CHECK(decodes(fixed, sizeof(fixed)) == -1);
	CHECK(decodes(wt7, sizeof(wt7)) == -1);
	CHECK(decodes(good, sizeof(good)) == 0);
	CHECK(decodes(NULL, 0) == 0);
}

static void
fixedzigzag(void)
{
	Pb pb = { 0 };
	Pr r;
	Pf f;

	pb_fixed32(&pb, 1, 0x01020304);
	pb_fixed64(&pb, 2, 0x1122334455667788ull);
	CHECK(eqbytes(&pb, "0d 04 03 02 01 11 88 77 66 55 44 33 22 11"));
	pr_init(&r, pb.b, pb.n);
	CHECK(pr_next(&r, &f) == 1 && f.wt == PB_FIXED32 && f.u == 0x01020304);
	CHECK(pr_next(&r, &f) == 1 && f.wt == PB_FIXED64 && f.u == 0x1122334455667788ull);
	pb_free(&pb);

	pb_sint(&pb, 1, -1);
	pb_sint(&pb, 1, 1);
	pb_sint(&pb, 1, -2);
	pb_sint(&pb, 1, 2147483647);
	pb_sint(&pb, 1, INT64_MIN);
	CHECK(eqbytes(&pb, "08 01 08 02 08 03 08 fe ff ff ff 0f "
	    "08 ff ff ff ff ff ff ff ff ff 01"));
	pb_free(&pb);

	/* proto3: zero and empty values are not written */
	pb_uint(&pb, 1, 0);
	pb_str(&pb, 2, "");
	pb_str(&pb, 2, NULL);
	pb_bool(&pb, 3, 0);
	CHECK(pb.n == 0);
	pb_bool(&pb, 3, 5);
	CHECK(eqbytes(&pb, "18 01"));
	pb_free(&pb);
}

static void
nested(void)
{
	Pb pb = { 0 };
	char big[300];
	size_t m, m2;
	Pr r, r2;
	Pf f, g;
	int n;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	m = pb_open(&pb, 5);
	pb_str(&pb, 1, "x");
	m2 = pb_open(&pb, 2);
	pb_str(&pb, 1, big);		/* forces a two-byte length */
	pb_close(&pb, m2);
	pb_uint(&pb, 3, 7);
	pb_close(&pb, m);
	pb_uint(&pb, 6, 1);

	pr_init(&r, pb.b, pb.n);
	CHECK(pr_next(&r, &f) == 1 && f.field == 5 && f.wt == PB_BYTES);
	CHECK(f.n == 3 + (1 + 2 + (1 + 2 + 299)) + 2);
	pr_init(&r2, f.b, f.n);
	CHECK(pr_next(&r2, &g) == 1 && g.field == 1 && g.n == 1 && g.b[0] == 'x');
	CHECK(pr_next(&r2, &g) == 1 && g.field == 2 && g.n == 3 + 299);
	CHECK(pr_next(&r2, &g) == 1 && g.field == 3 && g.u == 7);
	CHECK(pr_next(&r2, &g) == 0);
	CHECK(pr_next(&r, &f) == 1 && f.field == 6 && f.u == 1);
	CHECK(pr_next(&r, &f) == 0);
	pb_free(&pb);

	/* repeated fields come back one by one, in order */
	pb_str(&pb, 4, "a");
	pb_str(&pb, 4, "bb");
	pb_str(&pb, 4, "ccc");
	pr_init(&r, pb.b, pb.n);
	for (n = 1; pr_next(&r, &f) == 1; n++)
		CHECK(f.field == 4 && f.n == (size_t)n);
	CHECK(n == 4);
	pb_free(&pb);
}

static void
maps(void)
{
	static const uint8_t novalue[] = { 0x2a, 0x03, 0x0a, 0x01, 'k' };
	static const uint8_t nul[] = { 0x2a, 0x05, 0x0a, 0x01, 'k', 0x12, 0x00 };
	static const uint8_t nulin[] = { 0x2a, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, 0x00 };
	Pb pb = { 0 };
	char *k, *v;
	Pr r;
	Pf f;

	pb_map_str(&pb, 5, "key", "value");
	CHECK(eqbytes(&pb, "2a 0c 0a 03 6b 65 79 12 05 76 61 6c 75 65"));
	pr_init(&r, pb.b, pb.n);
	CHECK(pr_next(&r, &f) == 1);
	CHECK(pf_map_str(&f, &k, &v) == 0 && !strcmp(k, "key") && !strcmp(v, "value"));
	free(k);
	free(v);
	pb_free(&pb);

	pr_init(&r, novalue, sizeof(novalue));
	CHECK(pr_next(&r, &f) == 1);
	CHECK(pf_map_str(&f, &k, &v) == 0 && !strcmp(k, "k") && !strcmp(v, ""));
	free(k);
	free(v);
	pr_init(&r, nul, sizeof(nul));
	CHECK(pr_next(&r, &f) == 1);
	CHECK(pf_map_str(&f, &k, &v) == 0 && !strcmp(v, ""));
	free(k);
	free(v);
	pr_init(&r, nulin, sizeof(nulin));
	CHECK(pr_next(&r, &f) == 1);
	CHECK(pf_map_str(&f, &k, &v) == -1 && !k && !v);
}

static void
health(void)
{
	/* unknown fields of every wire type around the known ones */
	static const uint8_t withunknown[] = {
		0x38, 0x05,					/* 7: varint */
		0x41, 1, 2, 3, 4, 5, 6, 7, 8,			/* 8: fixed64 */
		0x4a, 0x02, 'z', 'z',				/* 9: bytes */
		0x55, 1, 2, 3, 4,				/* 10: fixed32 */
		0x0a, 0x03, '1', '.', '0',			/* version */
		0x10, 0x02,					/* cpus */
		0x18, 0x80, 0x80, 0x80, 0x80, 0x01,		/* memtotal 256 MiB */
	};
	AgentHealth h, back;
	Pb pb = { 0 };
	uint8_t bad[80];

	memset(&h, 0, sizeof(h));
	strcpy(h.version, "0.1");
	h.cpus = 2;
	h.memtotal = 256ull << 20;
	h.memfree = 200ull << 20;
	h.uptimens = 123456789;
	pb_health(&pb, &h);
	CHECK(pr_health(pb.b, pb.n, &back) == 0);
	CHECK(!memcmp(&h, &back, sizeof(h)));
	pb_free(&pb);

	CHECK(pr_health(withunknown, sizeof(withunknown), &back) == 0);
	CHECK(!strcmp(back.version, "1.0") && back.cpus == 2);
	CHECK(back.memtotal == 256ull << 20);

	/* a version longer than the field */
	bad[0] = 0x0a;
	bad[1] = 70;
	memset(bad + 2, 'v', 70);
	CHECK(pr_health(bad, 72, &back) == -1);
	/* cpus as bytes */
	bad[0] = 0x12;
	bad[1] = 0x00;
	CHECK(pr_health(bad, 2, &back) == -1);
	/* cpus over 32 bits */
	memcpy(bad, "\x10\x80\x80\x80\x80\x10", 6);
	CHECK(pr_health(bad, 6, &back) == -1);
	/* truncated */
	CHECK(pr_health(withunknown, sizeof(withunknown) - 1, &back) == -1);
}

/* containerd's ttrpc Request as Go's protobuf writes it */
static void
gorequest(void)
{
	Pb pb = { 0 };
	size_t m;

	pb_str(&pb, 1, "containerd.task.v2.Task");
	pb_str(&pb, 2, "State");
	m = pb_open(&pb, 3);
	pb_str(&pb, 1, "c1");
	pb_close(&pb, m);
	pb_uint(&pb, 4, 5000000000ull);
	CHECK(eqbytes(&pb, "0a 17 63 6f 6e 74 61 69 6e 65 72 64 2e 74 61 73 6b 2e 76 32 "
	    "2e 54 61 73 6b 12 05 53 74 61 74 65 1a 04 0a 02 63 31 "
	    "20 80 e4 97 d0 12"));
	pb_free(&pb);
}

int
main(void)
{
	RUN(varints);
	RUN(malformed);
	RUN(fixedzigzag);
	RUN(nested);
	RUN(maps);
	RUN(health);
	RUN(gorequest);
	return TDONE();
}
