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
	static const uint8_t onepast[] = { 0x0a, 0x03, 'a', 'b' };
	static const uint8_t exact[] = { 0x0a, 0x02, 'a', 'b' };
	static const uint8_t fixed64[] = { 0x09, 1, 2, 3, 4, 5, 6, 7 };
	static const uint8_t truncbytes[] = { 0x0a };
	static const uint8_t trunclen[] = { 0x0a, 0x80 };
	static const uint8_t truncfield[] = { 0x08 };
	static const uint8_t endgroup[] = { 0x0c };
	static const uint8_t wt6[] = { 0x0e, 0x00 };
	/* field 2^29 - 1 is the largest; 2^29 is not a field */
	static const uint8_t maxfield[] = { 0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01 };
	static const uint8_t bigfield[] = { 0x80, 0x80, 0x80, 0x80, 0x10, 0x01 };
	/* more bytes than needed are still a varint (Go reads them too) */
	static const uint8_t longzero[] = { 0x08, 0x80, 0x80, 0x00 };
	static const uint8_t startgroup[] = { 0x0b, 0x08, 0x01, 0x0c };
	Pr r;
	Pf f;

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
	CHECK(decodes(onepast, sizeof(onepast)) == -1);
	CHECK(decodes(exact, sizeof(exact)) == 0);
	CHECK(decodes(fixed64, sizeof(fixed64)) == -1);
	CHECK(decodes(truncbytes, sizeof(truncbytes)) == -1);
	CHECK(decodes(trunclen, sizeof(trunclen)) == -1);
	CHECK(decodes(truncfield, sizeof(truncfield)) == -1);
	CHECK(decodes(endgroup, sizeof(endgroup)) == -1);
	CHECK(decodes(wt6, sizeof(wt6)) == -1);
	CHECK(decodes(bigfield, sizeof(bigfield)) == -1);
	pr_init(&r, maxfield, sizeof(maxfield));
	CHECK(pr_next(&r, &f) == 1 && f.field == 0x1fffffff && f.u == 1);
	pr_init(&r, longzero, sizeof(longzero));
	CHECK(pr_next(&r, &f) == 1 && f.u == 0 && pr_next(&r, &f) == 0);
	/* a group is refused where it starts, not skipped */
	pr_init(&r, startgroup, sizeof(startgroup));
	CHECK(pr_next(&r, &f) == -1);
	/* what came before an error is still returned */
	pr_init(&r, pastend, sizeof(pastend));
	CHECK(pr_next(&r, &f) == -1);
	pr_init(&r, onepast + 0, 2);
	CHECK(pr_next(&r, &f) == -1);
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
	{
		static const int64_t v[] = { 1, -1, 63, -64, 64, INT64_MAX,
		    INT64_MIN, -1234567890123ll };
		size_t i;
		int64_t back;

		for (i = 0; i < LEN(v); i++)
			pb_sint(&pb, 1, v[i]);
		pr_init(&r, pb.b, pb.n);
		for (i = 0; i < LEN(v); i++) {
			CHECK(pr_next(&r, &f) == 1 && f.wt == PB_VARINT);
			back = (int64_t)(f.u >> 1) ^ -(int64_t)(f.u & 1);
			CHECK(back == v[i]);
		}
		CHECK(pr_next(&r, &f) == 0);
		pb_free(&pb);
	}
	pb_sint(&pb, 1, 0);
	CHECK(pb.n == 0);
	/* int32 -1 is sign extended to ten bytes, as Go writes it */
	pb_uint(&pb, 1, (uint64_t)(int64_t)-1);
	CHECK(eqbytes(&pb, "08 ff ff ff ff ff ff ff ff ff 01"));
	pb_free(&pb);
	pb_fixed32(&pb, 1, 0);
	pb_fixed64(&pb, 2, UINT64_MAX);
	CHECK(eqbytes(&pb, "0d 00 00 00 00 11 ff ff ff ff ff ff ff ff"));
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

	/* the length prefix grows from one to three bytes in place */
	{
		static const size_t sizes[] = { 0, 1, 125, 126, 127, 128,
		    16381, 16382, 16383, 16384, 70000 };
		char *body;
		size_t i, want, k;

		for (i = 0; i < LEN(sizes); i++) {
			body = calloc(1, sizes[i] + 1);
			memset(body, 'b', sizes[i]);
			pb_uint(&pb, 1, 9);
			m = pb_open(&pb, 2);
			pb_raw(&pb, body, sizes[i]);
			pb_close(&pb, m);
			pb_uint(&pb, 3, 9);
			want = 2 + 1 + (sizes[i] < 128 ? 1 : sizes[i] < 16384 ? 2 : 3) +
			    sizes[i] + 2;
			CHECK(pb.n == want);
			CHECK(pb.b[2] == 0x12);
			if (sizes[i] >= 128 && sizes[i] < 16384)
				CHECK(pb.b[3] == (0x80 | (sizes[i] & 0x7f)) &&
				    pb.b[4] == sizes[i] >> 7);
			pr_init(&r, pb.b, pb.n);
			CHECK(pr_next(&r, &f) == 1 && f.field == 1 && f.u == 9);
			CHECK(pr_next(&r, &f) == 1 && f.field == 2 && f.n == sizes[i]);
			for (k = 0; k < f.n && f.b[k] == 'b'; k++)
				;
			CHECK(k == sizes[i]);
			CHECK(pr_next(&r, &f) == 1 && f.field == 3 && f.u == 9);
			CHECK(pr_next(&r, &f) == 0);
			pb_free(&pb);
			free(body);
		}
	}
	/* an empty nested message is still written: 2a 00 */
	m = pb_open(&pb, 5);
	pb_close(&pb, m);
	CHECK(eqbytes(&pb, "2a 00"));
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
	static const uint8_t extra[] = { 0x2a, 0x10, 0x18, 0x07, 0x0a, 0x01, 'k',
	    0x22, 0x01, 'x', 0x12, 0x01, 'v', 0x2d, 0, 0, 0, 0 };
	static const uint8_t empty[] = { 0x2a, 0x00 };
	static const uint8_t intkey[] = { 0x2a, 0x02, 0x08, 0x01 };
	static const uint8_t notmsg[] = { 0x28, 0x01 };
	static const uint8_t badinner[] = { 0x2a, 0x03, 0x0a, 0x05, 'k' };
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

	/* unknown fields inside an entry are skipped */
	pr_init(&r, extra, sizeof(extra));
	CHECK(pr_next(&r, &f) == 1);
	CHECK(pf_map_str(&f, &k, &v) == 0 && !strcmp(k, "k") && !strcmp(v, "v"));
	free(k);
	free(v);
	/* an empty entry is "" -> "" */
	pr_init(&r, empty, sizeof(empty));
	CHECK(pr_next(&r, &f) == 1);
	CHECK(pf_map_str(&f, &k, &v) == 0 && !strcmp(k, "") && !strcmp(v, ""));
	free(k);
	free(v);
	/* a key that is not a string, an entry that is not a message */
	pr_init(&r, intkey, sizeof(intkey));
	CHECK(pr_next(&r, &f) == 1);
	CHECK(pf_map_str(&f, &k, &v) == -1 && !k && !v);
	pr_init(&r, notmsg, sizeof(notmsg));
	CHECK(pr_next(&r, &f) == 1);
	CHECK(pf_map_str(&f, &k, &v) == -1);
	pr_init(&r, badinner, sizeof(badinner));
	CHECK(pr_next(&r, &f) == 1);
	CHECK(pf_map_str(&f, &k, &v) == -1 && !k && !v);
	CHECK(pf_str(&f, &k) == 0 && k[0] == 0x0a && strlen(k) == 3);
	free(k);

	/* several entries of one map, in order; the last of a key wins
	 * for whoever stores them, but each entry is returned */
	pb_map_str(&pb, 3, "a", "1");
	pb_map_str(&pb, 3, "b", "");
	pb_map_str(&pb, 3, "", "3");
	CHECK(eqbytes(&pb, "1a 06 0a 01 61 12 01 31 1a 03 0a 01 62 1a 03 12 01 33"));
	pr_init(&r, pb.b, pb.n);
	CHECK(pr_next(&r, &f) == 1 && pf_map_str(&f, &k, &v) == 0);
	CHECK(!strcmp(k, "a") && !strcmp(v, "1"));
	free(k);
	free(v);
	CHECK(pr_next(&r, &f) == 1 && pf_map_str(&f, &k, &v) == 0);
	CHECK(!strcmp(k, "b") && !strcmp(v, ""));
	free(k);
	free(v);
	CHECK(pr_next(&r, &f) == 1 && pf_map_str(&f, &k, &v) == 0);
	CHECK(!strcmp(k, "") && !strcmp(v, "3"));
	free(k);
	free(v);
	CHECK(pr_next(&r, &f) == 0);
	pb_free(&pb);
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

	/* 63 bytes fit with the NUL, 64 do not */
	bad[0] = 0x0a;
	bad[1] = 63;
	memset(bad + 2, 'v', 63);
	CHECK(pr_health(bad, 65, &back) == 0 && strlen(back.version) == 63);
	bad[1] = 64;
	memset(bad + 2, 'v', 64);
	CHECK(pr_health(bad, 66, &back) == -1);
	/* a version longer than the buffer it is in */
	bad[1] = 10;
	CHECK(pr_health(bad, 8, &back) == -1);
	/* an empty message is all zero */
	CHECK(pr_health(NULL, 0, &back) == 0 && !back.version[0] && !back.cpus);
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

/*
 * containerd's ttrpc Request as Go's protobuf writes it: a Task.State call
 * {service 1, method 2, payload 3 (StateRequest{id: "c1"}),
 * timeout_nano 4 (5 s), metadata 5 ([KeyValue{key 1, value 2}])}
 */
static const uint8_t goreq[] = {
	0x0a, 0x17, 'c', 'o', 'n', 't', 'a', 'i', 'n', 'e', 'r', 'd', '.',
	't', 'a', 's', 'k', '.', 'v', '2', '.', 'T', 'a', 's', 'k',
	0x12, 0x05, 'S', 't', 'a', 't', 'e',
	0x1a, 0x04, 0x0a, 0x02, 'c', '1',
	0x20, 0x80, 0xe4, 0x97, 0xd0, 0x12,
	0x2a, 0x19, 0x0a, 0x0f, 'c', 'o', 'n', 't', 'a', 'i', 'n', 'e', 'r',
	'd', '-', 'n', 'a', 'm', 'e', 0x12, 0x06, 'k', '8', 's', '.', 'i', 'o', 0x00,
};

static void
gorequest(void)
{
	Pb pb = { 0 };
	char *svc = NULL, *method = NULL, *id = NULL, *k = NULL, *v = NULL;
	uint64_t timeout = 0;
	size_t m, n = sizeof(goreq) - 1;	/* the last byte is padding */
	int nmd = 0;
	Pr r, r2;
	Pf f, g;

	/* encode it as Go does, byte for byte (metadata comes last) */
	pb_str(&pb, 1, "containerd.task.v2.Task");
	pb_str(&pb, 2, "State");
	m = pb_open(&pb, 3);
	pb_str(&pb, 1, "c1");
	pb_close(&pb, m);
	pb_uint(&pb, 4, 5000000000ull);
	pb_map_str(&pb, 5, "containerd-name", "k8s.io");
	CHECK(pb.n == n && !memcmp(pb.b, goreq, n));
	pb_free(&pb);

	/* and read it back the way ttrpc.c and the shim do */
	pr_init(&r, goreq, n);
	while (pr_next(&r, &f) == 1) {
		switch (f.field) {
		case 1:
			CHECK(pf_str(&f, &svc) == 0);
			break;
		case 2:
			CHECK(pf_str(&f, &method) == 0);
			break;
		case 3:
			pr_init(&r2, f.b, f.n);
			CHECK(pr_next(&r2, &g) == 1 && g.field == 1);
			CHECK(pf_str(&g, &id) == 0);
			CHECK(pr_next(&r2, &g) == 0);
			break;
		case 4:
			CHECK(f.wt == PB_VARINT);
			timeout = f.u;
			break;
		case 5:
			nmd++;
			CHECK(pf_map_str(&f, &k, &v) == 0);
			break;
		}
	}
	CHECK(r.p == r.end);
	CHECK(svc && !strcmp(svc, "containerd.task.v2.Task"));
	CHECK(method && !strcmp(method, "State"));
	CHECK(id && !strcmp(id, "c1"));
	CHECK(timeout == 5000000000ull && nmd == 1);
	CHECK(k && v && !strcmp(k, "containerd-name") && !strcmp(v, "k8s.io"));
	free(svc);
	free(method);
	free(id);
	free(k);
	free(v);
	/* pf_str wants bytes without NUL */
	pr_init(&r, goreq + 38, 6);
	CHECK(pr_next(&r, &f) == 1 && f.field == 4 && pf_str(&f, &k) == -1);
	pr_init(&r, goreq + n - 8, 8);
	CHECK(pr_next(&r, &f) == 1 && f.field == 2 && f.n == 6);
	f.n++;	/* take the NUL after "k8s.io" in */
	CHECK(pf_str(&f, &k) == -1);
}

/* the agent API round trip: requests with exec ids, replies with pids and stats */
static void
agentapi(void)
{
	AgentReq q = { 0 }, q2;
	AgentResp a = { 0 }, b;
	AgentStats st = { 0 };
	uint32_t pids[3] = { 1, 300, 4000000000u };
	uint8_t bad[16];
	Pb pb = { 0 };
	size_t i;

	q.id = "c1";
	q.execid = "e7";
	q.sandbox = "pod";
	q.width = 132;
	q.height = 43;
	q.terminal = 1;
	pb_agentreq(&pb, &q);
	CHECK(pr_agentreq(pb.b, pb.n, &q2) == 0);
	CHECK(!strcmp(q2.id, "c1") && !strcmp(q2.execid, "e7") &&
	    !strcmp(q2.sandbox, "pod") && q2.width == 132 && q2.height == 43 &&
	    q2.terminal && !q2.config);
	agentreq_free(&q2);
	pb_free(&pb);
	/* Oom takes no id: an empty request reads as id "" */
	CHECK(pr_agentreq(NULL, 0, &q2) == 0 && q2.id && !q2.id[0]);
	agentreq_free(&q2);

	st.cpuusage = 123456;
	st.memusage = 64 << 20;
	st.pidslimit = 77;
	st.evoomkill = 2;
	st.nio = 2;
	st.io[1].major = 254;
	st.io[1].wbytes = 1ull << 40;
	a.pid = 9;
	a.pids = pids;
	a.npids = 3;
	a.stats = &st;
	a.id = "c1";
	pb_agentresp(&pb, &a);
	CHECK(pr_agentresp(pb.b, pb.n, &b) == 0);
	CHECK(b.pid == 9 && b.npids == 3 && b.pids && !memcmp(b.pids, pids, sizeof(pids)));
	CHECK(b.stats && !memcmp(b.stats, &st, sizeof(st)));
	CHECK(b.id && !strcmp(b.id, "c1"));
	agentresp_free(&b);
	pb_free(&pb);

	/* too many io devices, a pid past 32 bits, a truncated packed list */
	pb_uint(&pb, 3, 1ull << 32);
	CHECK(pr_agentresp(pb.b, pb.n, &b) < 0);
	pb_free(&pb);
	bad[0] = 3 << 3 | PB_BYTES;
	bad[1] = 2;
	bad[2] = 0x81;
	bad[3] = 0x81;	/* continues past the field's end */
	CHECK(pr_agentresp(bad, 4, &b) < 0);
	for (i = 0; i <= AGENT_MAXIO; i++) {
		size_t m = pb_open(&pb, 40);
		pb_uint(&pb, 1, 8);
		pb_close(&pb, m);
	}
	{
		Pb outer = { 0 };
		pb_bytes(&outer, 4, pb.b, pb.n);
		CHECK(pr_agentresp(outer.b, outer.n, &b) < 0);
		pb_free(&outer);
	}
	pb_free(&pb);
	for (i = 0; i <= AGENT_MAXPIDS; i++)
		pb_uint(&pb, 3, i + 1);
	CHECK(pr_agentresp(pb.b, pb.n, &b) < 0);
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
	RUN(agentapi);
	return TDONE();
}
