/* See LICENSE file for copyright and license details. */
/* proto.c against hand-made byte vectors. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

/*
 * containerd.task.v2: exec, pty, pids, stats, update, events. The bytes
 * below are written from shim.proto, events/task.proto and the cgroups
 * Metrics protos, not from proto.c.
 */

/* the decoder on every prefix of a message, each in a buffer of its own
 * size (ASan sees a read past it): 0 exactly at field boundaries */
static void
prefixes(int (*dec)(const uint8_t *, size_t, TaskOp *), const uint8_t *msg,
    size_t n)
{
	uint8_t *b;
	size_t cut;
	TaskOp op;
	Pr r;
	Pf f;
	int st, atfield;

	for (cut = 0; cut < n; cut++) {
		pr_init(&r, msg, n);
		atfield = cut == 0;
		while (!atfield && pr_next(&r, &f) > 0 && r.p - msg <= (ptrdiff_t)cut)
			atfield = r.p - msg == (ptrdiff_t)cut;
		b = malloc(cut ? cut : 1);
		memcpy(b, msg, cut);
		st = dec(b, cut, &op);
		CHECK(st == (atfield ? 0 : -1));
		if (st == 0)
			taskop_free(&op);
		free(b);
	}
}

static const uint8_t execreq[] = {
	0x0a, 0x02, 'c', '1',				/* id */
	0x12, 0x02, 'e', '1',				/* exec_id */
	0x18, 0x01,					/* terminal */
	0x22, 0x03, '/', 'i', 'n',			/* stdin */
	0x2a, 0x04, '/', 'o', 'u', 't',			/* stdout */
	0x32, 0x04, '/', 'e', 'r', 'r',			/* stderr */
	0x3a, 0x0e,					/* spec: Any */
	0x0a, 0x03, 't', '/', 'P',			/*   type_url */
	0x12, 0x07, '{', '"', 'a', '"', ':', '1', '}',	/*   value */
	0x98, 0x06, 0x01,				/* field 99, unknown */
};

static void
taskexec(void)
{
	static const uint8_t merged[] = {
		0x3a, 0x06, 0x0a, 0x01, 'a', 0x12, 0x01, '1',	/* spec {url a, value 1} */
		0x3a, 0x04, 0x12, 0x02, '2', '2',		/* spec {value 22} */
		0x0a, 0x01, 'x', 0x0a, 0x01, 'y',		/* id twice */
	};
	static const struct {
		const char *why;
		uint8_t b[8];
		size_t n;
	} bad[] = {
		{ "id as varint", { 0x08, 0x01 }, 2 },
		{ "exec_id as fixed32", { 0x15, 1, 2, 3, 4 }, 5 },
		{ "terminal as bytes", { 0x1a, 0x00 }, 2 },
		{ "stdin as varint", { 0x20, 0x01 }, 2 },
		{ "spec as varint", { 0x38, 0x01 }, 2 },
		{ "spec's type_url as varint", { 0x3a, 0x02, 0x08, 0x01 }, 4 },
		{ "spec's value as varint", { 0x3a, 0x02, 0x10, 0x01 }, 4 },
		{ "spec's value past the spec", { 0x3a, 0x03, 0x12, 0x05, 'a', 'b', 'c' }, 7 },
		{ "NUL in id", { 0x0a, 0x02, 'c', 0x00 }, 4 },
		{ "a group", { 0x0b, 0x0c }, 2 },
	};
	TaskOp op;
	size_t i;

	CHECK(pr_taskexec(execreq, sizeof(execreq), &op) == 0);
	CHECK(!strcmp(op.id, "c1") && !strcmp(op.execid, "e1") && op.terminal);
	CHECK(op.fin && !strcmp(op.fin, "/in"));
	CHECK(op.fout && !strcmp(op.fout, "/out"));
	CHECK(op.ferr && !strcmp(op.ferr, "/err"));
	CHECK(op.anyurl && !strcmp(op.anyurl, "t/P"));
	CHECK(op.json && op.jsonlen == 7 && !strcmp(op.json, "{\"a\":1}"));
	CHECK(!op.nanno && !op.width && !op.height);
	taskop_free(&op);
	CHECK(!op.id && !op.json);
	prefixes(pr_taskexec, execreq, sizeof(execreq));

	/* empty: id and exec_id are "", the rest absent */
	CHECK(pr_taskexec(NULL, 0, &op) == 0);
	CHECK(op.id && !op.id[0] && op.execid && !op.execid[0]);
	CHECK(!op.terminal && !op.fin && !op.fout && !op.ferr && !op.json && !op.anyurl);
	taskop_free(&op);

	/* a message field twice merges; a string twice: the last */
	CHECK(pr_taskexec(merged, sizeof(merged), &op) == 0);
	CHECK(op.anyurl && !strcmp(op.anyurl, "a"));
	CHECK(op.json && op.jsonlen == 2 && !strcmp(op.json, "22"));
	CHECK(!strcmp(op.id, "y"));
	taskop_free(&op);

	for (i = 0; i < LEN(bad); i++) {
		int st = pr_taskexec(bad[i].b, bad[i].n, &op);

		if (st != -1)
			printf("  accepted: %s\n", bad[i].why);
		CHECK(st == -1);
	}
	CHECK(!strcmp(TASK_URL_PROCESS,
	    "types.containerd.io/opencontainers/runtime-spec/1/Process"));
}

static void
taskresize(void)
{
	static const uint8_t req[] = {
		0x0a, 0x02, 'c', '1',		/* id */
		0x12, 0x02, 'e', '1',		/* exec_id */
		0x18, 0x84, 0x01,		/* width 132 */
		0x20, 0x2b,			/* height 43 */
	};
	static const uint8_t big[] = { 0x18, 0x80, 0x80, 0x80, 0x80, 0x10 };	/* 1 << 32 */
	static const uint8_t asbytes[] = { 0x22, 0x01, 0x2b };
	TaskOp op;

	CHECK(pr_taskresize(req, sizeof(req), &op) == 0);
	CHECK(!strcmp(op.id, "c1") && !strcmp(op.execid, "e1"));
	CHECK(op.width == 132 && op.height == 43);
	taskop_free(&op);
	prefixes(pr_taskresize, req, sizeof(req));
	CHECK(pr_taskresize(big, sizeof(big), &op) == -1);
	CHECK(pr_taskresize(asbytes, sizeof(asbytes), &op) == -1);
	/* terminal's field number means width here */
	CHECK(pr_taskresize(execreq, 10, &op) == 0 && op.width == 1);
	taskop_free(&op);
	/* and Exec's stdin (4, bytes) is a bad height */
	CHECK(pr_taskresize(execreq, 15, &op) == -1);
}

static void
taskupdate(void)
{
	static const uint8_t req[] = {
		0x0a, 0x02, 'c', '1',					/* id */
		0x12, 0x12,						/* resources: Any */
		0x0a, 0x03, 't', '/', 'R',				/*   type_url */
		0x12, 0x0b, '{', '"', 'p', 'i', 'd', 's', '"', ':', '{', '}', '}',
		0x1a, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, 'v',		/* annotations k=v */
		0x1a, 0x06, 0x0a, 0x01, 'k', 0x12, 0x01, 'w',		/* k=w */
		0x1a, 0x03, 0x0a, 0x01, 'j',				/* j="" */
	};
	static const uint8_t badanno[] = { 0x1a, 0x02, 0x08, 0x01 };	/* key as varint */
	static const uint8_t annovarint[] = { 0x18, 0x01 };
	TaskOp op;
	Pb pb = { 0 };
	char k[16];
	size_t i;

	CHECK(pr_taskupdate(req, sizeof(req), &op) == 0);
	CHECK(!strcmp(op.id, "c1") && !op.execid[0]);
	CHECK(op.anyurl && !strcmp(op.anyurl, "t/R"));
	CHECK(op.json && op.jsonlen == 11 && !strcmp(op.json, "{\"pids\":{}}"));
	CHECK(op.nanno == 2);
	if (op.nanno == 2) {
		CHECK(!strcmp(op.annokeys[0], "k") && !strcmp(op.annovals[0], "w"));
		CHECK(!strcmp(op.annokeys[1], "j") && !strcmp(op.annovals[1], ""));
	}
	taskop_free(&op);
	prefixes(pr_taskupdate, req, sizeof(req));
	CHECK(pr_taskupdate(badanno, sizeof(badanno), &op) == -1);
	CHECK(pr_taskupdate(annovarint, sizeof(annovarint), &op) == -1);

	/* TASK_MAXANNO keys fit, one more does not; repeats do not count */
	for (i = 0; i < TASK_MAXANNO; i++) {
		snprintf(k, sizeof(k), "k%zu", i);
		pb_map_str(&pb, 3, k, "v");
	}
	pb_map_str(&pb, 3, "k0", "again");
	CHECK(pr_taskupdate(pb.b, pb.n, &op) == 0 && op.nanno == TASK_MAXANNO);
	taskop_free(&op);
	pb_map_str(&pb, 3, "one more", "v");
	CHECK(pr_taskupdate(pb.b, pb.n, &op) == -1);
	pb_free(&pb);
	CHECK(!strcmp(TASK_URL_RESOURCES,
	    "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources"));
}

static void
taskid(void)
{
	/* PidsRequest, StatsRequest, PauseRequest, ResumeRequest: id only;
	 * other fields, whatever their type, are unknown */
	static const uint8_t req[] = {
		0x0a, 0x02, 'c', '1', 0x12, 0x02, 'x', 'x', 0x10, 0x05, 0x18, 0x01,
	};
	static const uint8_t bad[] = { 0x0a, 0x05, 'c' };
	TaskOp op;

	CHECK(pr_taskid(req, sizeof(req), &op) == 0);
	CHECK(!strcmp(op.id, "c1") && !op.execid[0] && !op.terminal && !op.width);
	taskop_free(&op);
	prefixes(pr_taskid, req, sizeof(req));
	CHECK(pr_taskid(bad, sizeof(bad), &op) == -1);
	/* CloseIORequest {id, exec_id, stdin} was already read by pr_taskreq */
	{
		static const uint8_t closeio[] = {
			0x0a, 0x02, 'c', '1', 0x12, 0x02, 'e', '1', 0x18, 0x01,
		};
		TaskReq r;

		CHECK(pr_taskreq(closeio, sizeof(closeio), TREQ_CLOSEIO, &r) == 0);
		CHECK(!strcmp(r.id, "c1") && r.execid && !strcmp(r.execid, "e1") &&
		    r.closestdin);
		taskreq_free(&r);
	}
}

static int
eqmem(const Pb *pb, const void *want, size_t n)
{
	return pb->n == n && !memcmp(pb->b, want, n);
}

static void
anypids(void)
{
	static const char pids[] =
	    "\x0a\x02\x08\x01"				/* ProcessInfo {pid 1} */
	    "\x0a\x2e\x08\xac\x02"			/* ProcessInfo {pid 300, */
	    "\x12\x29\x0a\x21"				/*   info: Any {type_url */
	    "containerd.runc.v1.ProcessDetails"
	    "\x12\x04\x0a\x02" "e1"			/*   value {exec_id e1}}} */
	    "\x0a\x00";					/* ProcessInfo {pid 0} */
	const TaskPid p[] = { { 1, NULL }, { 300, "e1" }, { 0, "" } };
	Pb pb = { 0 };

	pb_any(&pb, 1, "t", "v", 1);
	CHECK(eqmem(&pb, "\x0a\x06\x0a\x01t\x12\x01v", 8));
	pb_free(&pb);
	pb_any(&pb, 1, "t", NULL, 0);
	CHECK(eqmem(&pb, "\x0a\x03\x0a\x01t", 5));
	pb_free(&pb);
	pb_pidsresp(&pb, p, LEN(p));
	CHECK(eqmem(&pb, pids, sizeof(pids) - 1));
	pb_free(&pb);
	pb_pidsresp(&pb, p, 0);
	CHECK(pb.n == 0);
	pb_free(&pb);
}

/* the BYTES field of number field inside p, n */
static int
subfield(const uint8_t *p, size_t n, uint32_t field, Pf *out)
{
	Pr r;

	pr_init(&r, p, n);
	while (pr_next(&r, out) > 0)
		if (out->field == field)
			return out->wt == PB_BYTES ? 0 : -1;
	return -1;
}

static void
metrics(void)
{
	static const uint8_t v2[] = {
		0x0a, 0x0d,					/* pids */
		0x08, 0x03,					/*   current 3 */
		0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,	/* limit max */
		0x12, 0x06, 0x08, 0x05, 0x10, 0x03, 0x18, 0x02,	/* cpu: usage, user, system usec */
		0x22, 0x14,					/* memory */
		0x08, 0x01,					/*   anon 1 */
		0x68, 0x02,					/*   inactive_file 2 */
		0x80, 0x02, 0x80, 0x20,				/*   usage 4096 */
		0x88, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,	/* usage_limit max */
		0x32, 0x0a, 0x0a, 0x08,				/* io: usage: IOEntry */
		0x08, 0xfe, 0x01, 0x18, 0x80, 0x04, 0x28, 0x01,	/*   major 254, rbytes 512, rios 1 */
		0x42, 0x02, 0x28, 0x01,				/* memory_events: oom_kill 1 */
	};
#define NOLIM 0x80, 0xe0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f	/* 0x7ffffffffffff000 */
	static const uint8_t v1[] = {
		0x12, 0x00,					/* pids: 0, limit none */
		0x1a, 0x07,					/* cpu */
		0x0a, 0x03, 0x08, 0xd0, 0x0f,			/*   usage: total 2000 ns */
		0x12, 0x00,					/*   throttling */
		0x22, 0x48,					/* memory */
		0x10, 0x07,					/*   rss 7 */
		0x80, 0x01, NOLIM,				/*   hierarchical_memory_limit */
		0x98, 0x01, 0x07,				/*   total_rss 7 */
		0x8a, 0x02, 0x0c, 0x08, NOLIM, 0x10, 0x01,	/*   usage {limit, usage 1} */
		0x92, 0x02, 0x0c, 0x08, NOLIM, 0x10, 0x01,	/*   swap {limit, usage 1} */
		0x9a, 0x02, 0x0a, 0x08, NOLIM,			/*   kernel {limit} */
		0xa2, 0x02, 0x0a, 0x08, NOLIM,			/*   kernel_tcp {limit} */
		0x2a, 0x2e,					/* blkio */
		0x0a, 0x0a, 0x0a, 0x04, 'R', 'e', 'a', 'd', 0x18, 0x08, 0x28, 0x01,	/* bytes: Read 8:0 1 */
		0x0a, 0x09, 0x0a, 0x05, 'W', 'r', 'i', 't', 'e', 0x18, 0x08,		/* Write 8:0 0 */
		0x12, 0x0a, 0x0a, 0x04, 'R', 'e', 'a', 'd', 0x18, 0x08, 0x28, 0x01,	/* serviced */
		0x12, 0x09, 0x0a, 0x05, 'W', 'r', 'i', 't', 'e', 0x18, 0x08,
		0x4a, 0x00,					/* memory_oom_control */
	};
#undef NOLIM
	static const char url2[] = "io.containerd.cgroups.v2.Metrics";
	AgentStats s = { 0 };
	Pb pb = { 0 };
	Pf f, g;

	s.pids = 3;
	s.cpuusage = 5;
	s.cpuuser = 3;
	s.cpusystem = 2;
	s.anon = 1;
	s.inactivefile = 2;
	s.memusage = 4096;
	s.evoomkill = 1;
	s.nio = 1;
	s.io[0].major = 254;
	s.io[0].rbytes = 512;
	s.io[0].rios = 1;
	pb_metrics2(&pb, &s);
	CHECK(eqmem(&pb, v2, sizeof(v2)));
	pb_free(&pb);

	/* StatsResponse {stats: Any {type_url, value}} */
	pb_statsresp(&pb, &s, 0);
	CHECK(pb.n == 2 + 2 + 32 + 2 + sizeof(v2));
	CHECK(pb.n > 38 && !memcmp(pb.b, "\x0a\x61\x0a\x20", 4) &&
	    !memcmp(pb.b + 4, url2, 32) && pb.b[36] == 0x12 &&
	    pb.b[37] == sizeof(v2) && !memcmp(pb.b + 38, v2, sizeof(v2)));
	pb_free(&pb);

	memset(&s, 0, sizeof(s));
	s.cpuusage = 2;
	s.anon = 7;
	s.memusage = 1;
	s.nio = 1;
	s.io[0].major = 8;
	s.io[0].rbytes = 1;
	s.io[0].rios = 1;
	pb_metrics1(&pb, &s);
	CHECK(eqmem(&pb, v1, sizeof(v1)));
	pb_free(&pb);
	pb_statsresp(&pb, &s, 1);
	CHECK(subfield(pb.b, pb.n, 1, &f) == 0 && subfield(f.b, f.n, 1, &g) == 0);
	CHECK(g.n == strlen(METRICS_URL_V1) && !memcmp(g.b, "io.containerd.cgroups.v1.Metrics", g.n));
	CHECK(subfield(f.b, f.n, 2, &g) == 0 && g.n == sizeof(v1) && !memcmp(g.b, v1, g.n));
	pb_free(&pb);

	/* usec to ns holds at the top; limits are passed on */
	memset(&s, 0, sizeof(s));
	s.cpuusage = UINT64_MAX / 1000 + 1;
	s.memlimit = 1 << 20;
	s.pidslimit = 64;
	pb_metrics1(&pb, &s);
	CHECK(subfield(pb.b, pb.n, 3, &f) == 0 && subfield(f.b, f.n, 1, &g) == 0);
	CHECK(g.n == 11 && g.b[0] == 0x08 && g.b[10] == 0x01);
	CHECK(subfield(pb.b, pb.n, 2, &f) == 0 && f.n == 2 && f.b[0] == 0x10 && f.b[1] == 64);
	CHECK(subfield(pb.b, pb.n, 4, &f) == 0 && subfield(f.b, f.n, 33, &g) == 0);
	CHECK(g.n == 4 && !memcmp(g.b, "\x08\x80\x80\x40", 4));
	pb_free(&pb);
	pb_metrics2(&pb, &s);
	CHECK(subfield(pb.b, pb.n, 1, &f) == 0 && f.n == 2 && !memcmp(f.b, "\x10\x40", 2));
	pb_free(&pb);
	/* nio past AGENT_MAXIO is cut there */
	s.nio = AGENT_MAXIO + 5;
	pb_metrics2(&pb, &s);
	CHECK(subfield(pb.b, pb.n, 6, &f) == 0 && f.n == 2 * AGENT_MAXIO);
	pb_free(&pb);
}

static void
taskevents(void)
{
	static const struct {
		int kind;
		const char *topic, *name;
		TaskEvent e;
		const char *want;
		size_t n;
	} t[] = {
		{ TEV_EXECADDED, "/tasks/exec-added", "TaskExecAdded",
		  { "c1", "e1", 42, 0, 0 }, "\x0a\x02" "c1" "\x12\x02" "e1", 8 },
		{ TEV_EXECSTARTED, "/tasks/exec-started", "TaskExecStarted",
		  { "c1", "e1", 42, 0, 0 }, "\x0a\x02" "c1" "\x12\x02" "e1" "\x18\x2a", 10 },
		{ TEV_PAUSED, "/tasks/paused", "TaskPaused",
		  { "c1", "e1", 42, 0, 0 }, "\x0a\x02" "c1", 4 },
		{ TEV_RESUMED, "/tasks/resumed", "TaskResumed",
		  { "c1", NULL, 0, 0, 0 }, "\x0a\x02" "c1", 4 },
		{ TEV_OOM, "/tasks/oom", "TaskOOM",
		  { "c1", NULL, 0, 0, 0 }, "\x0a\x02" "c1", 4 },
		/* TaskExit's id: the container for its init, else the exec */
		{ TEV_EXIT, "/tasks/exit", "TaskExit",
		  { "c1", NULL, 42, 137, 3000000005ull },
		  "\x0a\x02" "c1" "\x12\x02" "c1" "\x18\x2a\x20\x89\x01\x2a\x04\x08\x03\x10\x05", 19 },
		{ TEV_EXIT, "/tasks/exit", "TaskExit",
		  { "c1", "e1", 42, 137, 3000000005ull },
		  "\x0a\x02" "c1" "\x12\x02" "e1" "\x18\x2a\x20\x89\x01\x2a\x04\x08\x03\x10\x05", 19 },
		/* TaskDelete's id (5) only for an exec */
		{ TEV_DELETE, "/tasks/delete", "TaskDelete",
		  { "c1", "", 42, 137, 3000000005ull },
		  "\x0a\x02" "c1" "\x10\x2a\x18\x89\x01\x22\x04\x08\x03\x10\x05", 15 },
		{ TEV_DELETE, "/tasks/delete", "TaskDelete",
		  { "c1", "e1", 42, 137, 3000000005ull },
		  "\x0a\x02" "c1" "\x10\x2a\x18\x89\x01\x22\x04\x08\x03\x10\x05\x2a\x02" "e1", 19 },
	};
	Pb ev = { 0 }, pb = { 0 };
	size_t i;
	Pf f, g, h;

	for (i = 0; i < LEN(t); i++) {
		pb_taskevent(&ev, t[i].kind, &t[i].e);
		if (!eqmem(&ev, t[i].want, t[i].n))
			printf("  event %zu: wrong bytes\n", i);
		CHECK(eqmem(&ev, t[i].want, t[i].n));
		CHECK(taskev_topic(t[i].kind) && !strcmp(taskev_topic(t[i].kind), t[i].topic));
		CHECK(taskev_name(t[i].kind) && !strcmp(taskev_name(t[i].kind), t[i].name));
		pb_free(&ev);
	}
	CHECK(!taskev_topic(-1) && !taskev_name(99));

	/* through pb_forward: Envelope {topic 3, event 4: Any {type_url 1, value 2}} */
	pb_taskevent(&ev, TEV_EXECADDED, &t[0].e);
	pb_forward(&pb, 1, "k8s.io", taskev_topic(TEV_EXECADDED),
	    taskev_name(TEV_EXECADDED), &ev);
	CHECK(subfield(pb.b, pb.n, 1, &f) == 0);
	CHECK(subfield(f.b, f.n, 3, &g) == 0 && g.n == 17 && !memcmp(g.b, "/tasks/exec-added", 17));
	CHECK(subfield(f.b, f.n, 4, &g) == 0 && subfield(g.b, g.n, 1, &h) == 0);
	CHECK(h.n == 31 && !memcmp(h.b, "containerd.events.TaskExecAdded", 31));
	CHECK(subfield(g.b, g.n, 2, &h) == 0 && h.n == 8 && !memcmp(h.b, t[0].want, 8));
	pb_free(&pb);
	pb_free(&ev);
}

/* the Network request: a CNI veth with IPv4 and IPv6 */
static void
podnet(AgentNet *n)
{
	static const uint8_t mac[6] = { 0x0a, 0x58, 0x0a, 0xf4, 0x00, 0x07 };
	static const uint8_t v6[16] = { 0xfd, 0x00, 0x10, 0x24, [15] = 7 };
	static const uint8_t v6gw[16] = { 0xfd, 0x00, 0x10, 0x24, [15] = 1 };

	memset(n, 0, sizeof(*n));
	memcpy(n->ifs[0].mac, mac, 6);
	n->ifs[0].mtu = 1450;
	strcpy(n->ifs[0].name, "eth0");
	n->nifs = 1;
	n->ips[0].family = AF_INET;
	memcpy(n->ips[0].addr, "\x0a\xf4\x00\x07", 4);
	n->ips[0].prefix = 24;
	n->ips[1].family = AF_INET6;
	memcpy(n->ips[1].addr, v6, 16);
	n->ips[1].prefix = 64;
	n->nips = 2;
	n->routes[0].family = AF_INET;
	memcpy(n->routes[0].dst, "\x0a\xf4\x00\x00", 4);
	n->routes[0].dstlen = 24;
	n->routes[0].scope = 253;	/* RT_SCOPE_LINK */
	n->routes[0].hassrc = 1;
	memcpy(n->routes[0].src, "\x0a\xf4\x00\x07", 4);
	n->routes[1].family = AF_INET;	/* the default route */
	n->routes[1].hasgw = 1;
	memcpy(n->routes[1].gw, "\x0a\xf4\x00\x01", 4);
	n->routes[1].onlink = 1;
	n->routes[1].metric = 100;
	n->routes[2].family = AF_INET6;
	n->routes[2].hasgw = 1;
	memcpy(n->routes[2].gw, v6gw, 16);
	n->routes[2].metric = 1024;
	n->nroutes = 3;
	n->neighs[0].family = AF_INET;
	memcpy(n->neighs[0].ip, "\x0a\xf4\x00\x01", 4);
	memcpy(n->neighs[0].mac, "\xee\xee\xee\xee\xee\xee", 6);
	n->neighs[1].family = AF_INET6;
	memcpy(n->neighs[1].ip, v6gw, 16);
	memcpy(n->neighs[1].mac, "\xee\xee\xee\xee\xee\xee", 6);
	n->nneighs = 2;
}

/* pr_agentreq of n's encoding with the bytes of extra after it */
static int
netdecode(const AgentNet *n, const Pb *extra, AgentReq *out)
{
	AgentReq q = { 0 };
	Pb pb = { 0 };
	int r;

	q.net = (AgentNet *)n;
	pb_agentreq(&pb, &q);
	if (extra)
		pb_raw(&pb, extra->b, extra->n);
	r = pr_agentreq(pb.b, pb.n, out);
	pb_free(&pb);
	return r;
}

static int
netrefused(const AgentNet *n)
{
	AgentReq q;

	return netdecode(n, NULL, &q) == -1 && !q.net && !q.id;
}

/* field 13 holding one entry of kind k (1 if, 2 ip, 3 route, 4 neigh)
 * whose field f is bytes of length len, the rest sane for family fam */
static int
rawrefused(int k, uint32_t f, size_t len, int fam)
{
	static const uint8_t zero[32];
	AgentNet n;
	AgentReq q;
	Pb pb = { 0 };
	size_t m, e;
	int r;

	podnet(&n);
	m = pb_open(&pb, 13);
	e = pb_open(&pb, k);
	if (k == 1) {
		pb_uint(&pb, 2, 1500);
		pb_str(&pb, 3, "eth1");
	} else {
		pb_uint(&pb, 2, fam);
		if (k == 3)
			pb_uint(&pb, 4, 0);
	}
	pb_bytes(&pb, f, zero, len);
	if (k != 1 && f != 3)
		pb_bytes(&pb, 3, zero, fam == AF_INET ? 4 : 16);
	if (k == 4 && f != 4)
		pb_bytes(&pb, 4, zero, 6);
	if (k == 1 && f != 1)
		pb_bytes(&pb, 1, zero, 6);
	pb_close(&pb, e);
	pb_close(&pb, m);
	r = netdecode(&n, &pb, &q);
	if (r == 0)
		agentreq_free(&q);
	pb_free(&pb);
	return r == -1;
}

static void
agentnet(void)
{
	AgentNet n, big, one;
	AgentReq q, w = { 0 };
	Pb pb = { 0 };
	size_t i, m, e;

	podnet(&n);
	CHECK(netdecode(&n, NULL, &q) == 0 && q.net);
	CHECK(q.net && !memcmp(q.net, &n, sizeof(n)));
	CHECK(!strcmp(q.id, ""));
	agentreq_free(&q);
	CHECK(!q.net);
	/* no net in other requests */
	CHECK(pr_agentreq((const uint8_t *)"\x0a\x01x", 3, &q) == 0 && !q.net);
	agentreq_free(&q);
	/* the raw helper's sane entries pass, so its refusals say something */
	CHECK(!rawrefused(1, 1, 6, 0));
	CHECK(!rawrefused(2, 3, 4, AF_INET));
	CHECK(!rawrefused(3, 5, 16, AF_INET6));
	CHECK(!rawrefused(4, 4, 6, AF_INET6));

	/* the caps: full is fine, one more entry (a second field 13
	 * merges into the first) is refused */
	memset(&big, 0, sizeof(big));
	for (i = 0; i < AGENT_MAXIFS; i++)
		big.ifs[i] = n.ifs[0];
	for (i = 0; i < AGENT_MAXIPS; i++)
		big.ips[i] = n.ips[i % 2];
	for (i = 0; i < AGENT_MAXROUTES; i++)
		big.routes[i] = n.routes[i % 3];
	for (i = 0; i < AGENT_MAXNEIGHS; i++)
		big.neighs[i] = n.neighs[i % 2];
	big.nifs = AGENT_MAXIFS;
	big.nips = AGENT_MAXIPS;
	big.nroutes = AGENT_MAXROUTES;
	big.nneighs = AGENT_MAXNEIGHS;
	CHECK(netdecode(&big, NULL, &q) == 0 && q.net &&
	    !memcmp(q.net, &big, sizeof(big)));
	agentreq_free(&q);
	for (i = 1; i <= 4; i++) {
		pb.n = 0;
		podnet(&one);
		one.nifs = i == 1;
		one.nips = i == 2;
		one.nroutes = i == 3;
		one.nneighs = i == 4;
		w.net = &one;
		pb_agentreq(&pb, &w);
		CHECK(netdecode(&big, &pb, &q) == -1 && !q.net);
	}
	CHECK(netdecode(&n, &pb, &q) == 0 && q.net && q.net->nneighs == 3 &&
	    q.net->nips == 2);
	agentreq_free(&q);

	/* families, address sizes, prefixes */
	podnet(&big);
	big.ips[0].family = AF_UNIX;
	CHECK(netrefused(&big));
	podnet(&big);
	big.routes[1].family = 0;
	CHECK(netrefused(&big));
	podnet(&big);
	big.neighs[1].family = 28;
	CHECK(netrefused(&big));
	podnet(&big);
	big.ips[0].prefix = 33;
	CHECK(netrefused(&big));
	podnet(&big);
	big.ips[1].prefix = 129;
	CHECK(netrefused(&big));
	podnet(&big);
	big.ips[1].prefix = 128;
	CHECK(netdecode(&big, NULL, &q) == 0);
	agentreq_free(&q);
	podnet(&big);
	big.routes[0].dstlen = 33;
	CHECK(netrefused(&big));
	podnet(&big);
	big.routes[0].scope = 256;
	CHECK(netrefused(&big));
	CHECK(rawrefused(2, 3, 16, AF_INET));	/* a v4 address of 16 bytes */
	CHECK(rawrefused(2, 3, 4, AF_INET6));
	CHECK(rawrefused(2, 3, 0, AF_INET));	/* none */
	CHECK(rawrefused(3, 3, 16, AF_INET));	/* route dst */
	CHECK(rawrefused(3, 5, 4, AF_INET6));	/* gateway */
	CHECK(rawrefused(3, 6, 17, AF_INET6));	/* source, too long for any */
	CHECK(rawrefused(4, 3, 4, AF_INET6));	/* neighbour */
	/* MACs */
	CHECK(rawrefused(1, 1, 5, 0));
	CHECK(rawrefused(1, 1, 7, 0));
	CHECK(rawrefused(1, 1, 0, 0));	/* none at all */
	CHECK(rawrefused(4, 4, 5, AF_INET));
	CHECK(rawrefused(4, 4, 0, AF_INET));
	/* interface indexes */
	podnet(&big);
	big.ips[1].ifidx = 1;
	CHECK(netrefused(&big));
	podnet(&big);
	big.routes[2].ifidx = 4;
	CHECK(netrefused(&big));
	podnet(&big);
	big.neighs[0].ifidx = 1;
	CHECK(netrefused(&big));
	/* MTUs */
	podnet(&big);
	big.ifs[0].mtu = NET_MINMTU - 1;
	CHECK(netrefused(&big));
	podnet(&big);
	big.ifs[0].mtu = NET_MAXMTU + 1;
	CHECK(netrefused(&big));
	podnet(&big);
	big.ifs[0].mtu = 0;
	CHECK(netrefused(&big));
	podnet(&big);
	big.ifs[0].mtu = NET_MAXMTU;
	CHECK(netdecode(&big, NULL, &q) == 0 && q.net && q.net->ifs[0].mtu == NET_MAXMTU);
	agentreq_free(&q);
	/* names: 15 bytes fit, 16 do not, nor a NUL inside, nor none */
	podnet(&big);
	memcpy(big.ifs[0].name, "abcdefghijklmno", 16);
	CHECK(netdecode(&big, NULL, &q) == 0 && q.net &&
	    !strcmp(q.net->ifs[0].name, "abcdefghijklmno"));
	agentreq_free(&q);
	podnet(&big);
	big.ifs[0].name[0] = '\0';
	CHECK(netrefused(&big));
	for (i = 0; i < 3; i++) {
		static const char *name[] = { "eth1", "et\0h", "abcdefghijklmnop" };
		static const size_t len[] = { 4, 4, 16 };

		pb.n = 0;
		podnet(&big);
		m = pb_open(&pb, 13);
		e = pb_open(&pb, 1);
		pb_bytes(&pb, 1, big.ifs[0].mac, 6);
		pb_uint(&pb, 2, 1500);
		pb_bytes(&pb, 3, name[i], len[i]);
		pb_close(&pb, e);
		pb_close(&pb, m);
		CHECK(netdecode(&big, &pb, &q) == (i ? -1 : 0));
		if (i == 0) {
			CHECK(q.net && q.net->nifs == 2 &&
			    !strcmp(q.net->ifs[1].name, "eth1"));
			agentreq_free(&q);
		}
	}
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
	RUN(agentnet);
	RUN(taskexec);
	RUN(taskresize);
	RUN(taskupdate);
	RUN(taskid);
	RUN(anypids);
	RUN(metrics);
	RUN(taskevents);
	return TDONE();
}
