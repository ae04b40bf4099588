/*
 * wire_award_test.c - the issue 5 messages of common/wire.c: reporter
 * status with amounts, the sealed payee, claims, eligibility results and
 * the payee reveal request/reply.  Round trips, and one rejection per way
 * a sender could lie (wrong field for a status, missing amount, bad
 * signature hex, rows on a refusal, ...).
 */
#include "compat.h"
#include "secret.h"
#include "wire.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>

#define RID "0123456789abcdef0123456789abcdef"
#define CID "fedcba9876543210fedcba9876543210"
#define PREF "00112233445566778899aabbccddeeff"
#define SKEY "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define T0 "2026-11-27T08:52:01.123Z"
#define T1 "2027-01-26T08:52:01.123Z"
#define T0_MS 1795769521123LL
#define SEALED_B64 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static char *
replace(const char *src, const char *from, const char *to)
{
	const char *p = strstr(src, from);
	size_t n;
	char *r;

	assert_non_null(p);
	n = strlen(src) - strlen(from) + strlen(to) + 1;
	r = malloc(n);
	assert_non_null(r);
	snprintf(r, n, "%.*s%s%s", (int)(p - src), src, to, p + strlen(from));
	return r;
}

typedef enum tl_err (*decoder)(const char *, size_t);

static void
reject(decoder dec, const char *good, const char *from, const char *to)
{
	char *bad = replace(good, from, to);
	enum tl_err e = dec(bad, strlen(bad));

	if (e == TL_OK)
		fail_msg("accepted: %s", bad);
	free(bad);
}

static void
accept(decoder dec, const char *good)
{
	enum tl_err e = dec(good, strlen(good));

	if (e != TL_OK)
		fail_msg("refused (%d): %s", e, good);
}

/* ---- status ---- */

static enum tl_err
dec_status(const char *s, size_t len)
{
	struct wire_status m;

	return wire_status_decode(s, len, &m);
}

static const char *approved_ok =
	"{\"v\":1,\"type\":\"status\",\"status\":\"award_approved\",\"updated_at\":\"" T0 "\","
	"\"amount_fen\":1234567,\"claim_by\":\"" T1 "\"}";
static const char *refused_ok =
	"{\"v\":1,\"type\":\"status\",\"status\":\"claim_refused\",\"updated_at\":\"" T0 "\","
	"\"amount_fen\":100,\"claim_by\":\"" T1 "\",\"reason\":\"bank_rejected\"}";

static void
test_status_roundtrip(void **state)
{
	struct wire_status a = { 0 }, b;
	struct buf out;

	(void)state;
	buf_init(&out, 4096);
	snprintf(a.status, sizeof(a.status), "award_approved");
	a.updated_ms = T0_MS;
	a.amount_fen = 50000000;
	a.claim_by_ms = T0_MS + 60LL * 86400 * 1000;
	assert_int_equal(wire_status_encode(&a, &out), TL_OK);
	assert_int_equal(wire_status_decode(out.data, out.len, &b), TL_OK);
	assert_string_equal(b.status, "award_approved");
	assert_int_equal(b.amount_fen, a.amount_fen);
	assert_int_equal(b.claim_by_ms, a.claim_by_ms);
	assert_string_equal(b.reason, "");

	memset(&a, 0, sizeof(a));
	snprintf(a.status, sizeof(a.status), "claim_refused");
	a.updated_ms = T0_MS;
	a.amount_fen = 1;
	a.claim_by_ms = T0_MS;
	snprintf(a.reason, sizeof(a.reason), "excluded");
	assert_int_equal(wire_status_encode(&a, &out), TL_OK);
	assert_int_equal(wire_status_decode(out.data, out.len, &b), TL_OK);
	assert_string_equal(b.reason, "excluded");

	for (const char *const *st = (const char *const[]){ "claim_received", "paid", "forfeited", NULL }; *st; st++) {
		memset(&a, 0, sizeof(a));
		snprintf(a.status, sizeof(a.status), "%s", *st);
		a.updated_ms = T0_MS;
		a.amount_fen = 777;
		assert_int_equal(wire_status_encode(&a, &out), TL_OK);
		assert_int_equal(wire_status_decode(out.data, out.len, &b), TL_OK);
		assert_int_equal(b.amount_fen, 777);
	}

	/* The encoder refuses what the decoder would refuse. */
	memset(&a, 0, sizeof(a));
	snprintf(a.status, sizeof(a.status), "paid");
	a.updated_ms = T0_MS;
	assert_int_equal(wire_status_encode(&a, &out), TL_EINVAL); /* no amount */
	a.amount_fen = 10;
	a.claim_by_ms = T0_MS;
	assert_int_equal(wire_status_encode(&a, &out), TL_EINVAL); /* claim_by on paid */
	memset(&a, 0, sizeof(a));
	snprintf(a.status, sizeof(a.status), "verified");
	a.updated_ms = T0_MS;
	a.amount_fen = 10;
	assert_int_equal(wire_status_encode(&a, &out), TL_EINVAL); /* amount on verified */
	buf_free(&out);
}

static void
test_status_reject(void **state)
{
	(void)state;
	accept(dec_status, approved_ok);
	accept(dec_status, refused_ok);
	reject(dec_status, approved_ok, ",\"amount_fen\":1234567", "");
	reject(dec_status, approved_ok, "1234567", "0");
	reject(dec_status, approved_ok, "1234567", "-5");
	reject(dec_status, approved_ok, "1234567", "12.5");
	reject(dec_status, approved_ok, "1234567", "\"1234567\"");
	reject(dec_status, approved_ok, "1234567", "100000000000001");
	reject(dec_status, approved_ok, ",\"claim_by\":\"" T1 "\"", "");
	reject(dec_status, approved_ok, T1, "tomorrow");
	reject(dec_status, approved_ok, "award_approved", "paid"); /* paid has no claim_by */
	reject(dec_status, approved_ok, "award_approved", "under_investigation");
	reject(dec_status, approved_ok, "}", ",\"reason\":\"excluded\"}");
	reject(dec_status, approved_ok, "}", ",\"name\":\"x\"}");
	reject(dec_status, refused_ok, ",\"reason\":\"bank_rejected\"", "");
	reject(dec_status, refused_ok, "bank_rejected", "because");
	reject(dec_status, refused_ok, "claim_refused", "verified");
}

/* ---- payee ---- */

static enum tl_err
dec_payee(const char *s, size_t len)
{
	struct wire_payee m;
	enum tl_err e = wire_payee_decode(s, len, &m);

	if (e == TL_OK)
		wire_payee_free(&m);
	return e;
}

static const char *payee_ok =
	"{\"v\":1,\"type\":\"payee\",\"claim_id\":\"" CID "\",\"name\":\"张三\","
	"\"id_number\":\"12010119800101123X\",\"bank\":\"中国银行天津分行\","
	"\"account\":\"6217000010001234567\",\"phone\":\"13800138000\"}";

static void
test_payee(void **state)
{
	struct wire_payee a = { .name = "李四", .id_number = "120101198001011234", .bank = "工商银行",
		                .account = "6222000000000000", .phone = "13900000000" };
	struct wire_payee b;
	struct buf out;

	(void)state;
	memcpy(a.claim_id, CID, sizeof(a.claim_id));
	buf_init_secret(&out, WIRE_MAX_MSG);
	assert_int_equal(wire_payee_encode(&a, &out), TL_OK);
	assert_int_equal(wire_payee_decode(out.data, out.len, &b), TL_OK);
	assert_string_equal(b.name, "李四");
	assert_string_equal(b.account, "6222000000000000");
	assert_string_equal(b.claim_id, CID);
	wire_payee_free(&b);
	assert_null(b.name);
	a.phone = "";
	assert_int_equal(wire_payee_encode(&a, &out), TL_EINVAL);
	a.phone = NULL;
	assert_int_equal(wire_payee_encode(&a, &out), TL_EINVAL);
	buf_free(&out);

	accept(dec_payee, payee_ok);
	reject(dec_payee, payee_ok, ",\"phone\":\"13800138000\"", "");
	reject(dec_payee, payee_ok, "\"13800138000\"", "13800138000");
	reject(dec_payee, payee_ok, "\"张三\"", "\"\"");
	reject(dec_payee, payee_ok, CID, "xyz");
	reject(dec_payee, payee_ok, "}", ",\"note\":\"x\"}");
	reject(dec_payee, payee_ok, "\"type\":\"payee\"", "\"type\":\"identity\"");
	{
		char big[WIRE_PAYEE_FIELD_MAX + 4]; /* quotes + MAX+1 bytes + NUL */
		memset(big, 'a', sizeof(big) - 1);
		big[0] = '"';
		big[sizeof(big) - 2] = '"';
		big[sizeof(big) - 1] = '\0';
		reject(dec_payee, payee_ok, "\"张三\"", big);
	}
}

/* ---- claim deposit ---- */

static enum tl_err
dec_payclaim(const char *s, size_t len)
{
	struct wire_payclaim m;
	enum tl_err e = wire_payclaim_decode(s, len, &m);

	if (e == TL_OK)
		wire_payclaim_free(&m);
	return e;
}

static const char *payclaim_ok =
	"{\"v\":1,\"type\":\"payclaim\",\"claim_id\":\"" CID "\",\"status_key\":\"" SKEY "\","
	"\"received_at\":\"" T0 "\",\"sealed\":\"" SEALED_B64 "\"}";

static void
test_payclaim(void **state)
{
	unsigned char sealed[80];
	struct wire_payclaim a = { .received_ms = T0_MS, .sealed = sealed, .sealed_len = sizeof(sealed) };
	struct wire_payclaim b;
	struct buf out;

	(void)state;
	randombytes_buf(sealed, sizeof(sealed));
	memcpy(a.claim_id, CID, sizeof(a.claim_id));
	memcpy(a.status_key, SKEY, sizeof(a.status_key));
	buf_init(&out, 4096);
	assert_int_equal(wire_payclaim_encode(&a, &out), TL_OK);
	assert_int_equal(wire_payclaim_decode(out.data, out.len, &b), TL_OK);
	assert_int_equal(b.sealed_len, sizeof(sealed));
	assert_memory_equal(b.sealed, sealed, sizeof(sealed));
	assert_string_equal(b.status_key, SKEY);
	wire_payclaim_free(&b);
	a.sealed_len = crypto_box_SEALBYTES; /* an empty seal */
	assert_int_not_equal(wire_payclaim_encode(&a, &out), TL_OK);
	buf_free(&out);

	accept(dec_payclaim, payclaim_ok);
	reject(dec_payclaim, payclaim_ok, SEALED_B64, "AAAA");
	reject(dec_payclaim, payclaim_ok, SEALED_B64, "!!!notbase64!!!");
	reject(dec_payclaim, payclaim_ok, SKEY, "aaaa");
	reject(dec_payclaim, payclaim_ok, "\"received_at\":\"" T0 "\",", "");
	reject(dec_payclaim, payclaim_ok, "}", ",\"name\":\"张三\"}");
}

/* ---- eligibility ---- */

static enum tl_err
dec_elig(const char *s, size_t len)
{
	struct wire_eligibility m;

	return wire_eligibility_decode(s, len, &m);
}

static const char *elig_ok =
	"{\"v\":1,\"type\":\"eligibility\",\"claim_id\":\"" CID "\",\"report_id\":\"" RID "\","
	"\"payee_ref\":\"" PREF "\",\"eligible\":false,\"reason\":\"excluded\",\"at\":\"" T0 "\"}";

static void
test_eligibility(void **state)
{
	struct wire_eligibility a = { .eligible = true, .at_ms = T0_MS }, b;
	struct buf out;

	(void)state;
	memcpy(a.claim_id, CID, sizeof(a.claim_id));
	memcpy(a.report_id, RID, sizeof(a.report_id));
	memcpy(a.payee_ref, PREF, sizeof(a.payee_ref));
	buf_init(&out, 4096);
	assert_int_equal(wire_eligibility_encode(&a, &out), TL_OK);
	assert_int_equal(wire_eligibility_decode(out.data, out.len, &b), TL_OK);
	assert_true(b.eligible);
	assert_string_equal(b.reason, "");
	snprintf(a.reason, sizeof(a.reason), "excluded");
	assert_int_equal(wire_eligibility_encode(&a, &out), TL_EINVAL); /* eligible with a reason */
	a.eligible = false;
	assert_int_equal(wire_eligibility_encode(&a, &out), TL_OK);
	assert_int_equal(wire_eligibility_decode(out.data, out.len, &b), TL_OK);
	assert_false(b.eligible);
	assert_string_equal(b.reason, "excluded");
	a.reason[0] = '\0';
	assert_int_equal(wire_eligibility_encode(&a, &out), TL_EINVAL); /* refused without reason */
	buf_free(&out);

	accept(dec_elig, elig_ok);
	reject(dec_elig, elig_ok, ",\"reason\":\"excluded\"", "");
	reject(dec_elig, elig_ok, "\"excluded\"", "\"bank_rejected\"");
	reject(dec_elig, elig_ok, "false", "true");
	reject(dec_elig, elig_ok, "false", "0");
	reject(dec_elig, elig_ok, PREF, "payee");
}

/* ---- reveal ---- */

static enum tl_err
dec_req(const char *s, size_t len)
{
	struct wire_reveal_req m;
	enum tl_err e = wire_reveal_req_decode(s, len, &m);

	if (e == TL_OK)
		wire_reveal_req_free(&m);
	return e;
}

static enum tl_err
dec_rep(const char *s, size_t len)
{
	struct wire_reveal_rep m;
	enum tl_err e = wire_reveal_rep_decode(s, len, &m);

	if (e == TL_OK)
		wire_reveal_rep_free(&m);
	return e;
}

#define SIG128 "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
static const char *req_ok =
	"{\"v\":1,\"type\":\"reveal_req\",\"request_id\":\"" CID "\",\"batch_id\":\"" RID "\","
	"\"award\":\"tipline award decision v1\\ndecision=approve\\n\","
	"\"approvals\":[{\"staff_id\":\"appr.city\",\"sig\":\"" SIG128 "\"}],"
	"\"shares\":[{\"share_idx\":0,\"report_id\":\"" RID "\",\"payee_ref\":\"" PREF "\"}]}";
static const char *rep_ok =
	"{\"v\":1,\"type\":\"reveal_rep\",\"request_id\":\"" CID "\",\"ok\":true,"
	"\"rows\":[{\"share_idx\":0,\"report_id\":\"" RID "\",\"payee_ref\":\"" PREF "\","
	"\"sealed\":\"" SEALED_B64 "\"}]}";
static const char *rep_err =
	"{\"v\":1,\"type\":\"reveal_rep\",\"request_id\":\"" CID "\",\"ok\":false,\"error\":\"signature\","
	"\"rows\":[]}";

static void
test_reveal(void **state)
{
	struct wire_reveal_req q = { .award = "tipline award decision v1\n", .n_approvals = 2, .n_shares = 2 };
	struct wire_reveal_req q2;
	struct wire_reveal_rep r = { .ok = true, .n_rows = 1 }, r2;
	unsigned char sealed[64];
	struct buf out;

	(void)state;
	memcpy(q.request_id, CID, sizeof(q.request_id));
	memcpy(q.batch_id, RID, sizeof(q.batch_id));
	snprintf(q.approvals[0].staff_id, sizeof(q.approvals[0].staff_id), "a.li");
	snprintf(q.approvals[1].staff_id, sizeof(q.approvals[1].staff_id), "c.wang");
	randombytes_buf(q.approvals[0].sig, WIRE_SIG_LEN);
	randombytes_buf(q.approvals[1].sig, WIRE_SIG_LEN);
	for (int i = 0; i < 2; i++) {
		q.shares[i].share_idx = i;
		memcpy(q.shares[i].report_id, RID, sizeof(q.shares[i].report_id));
		memcpy(q.shares[i].payee_ref, PREF, sizeof(q.shares[i].payee_ref));
	}
	buf_init(&out, 65536);
	assert_int_equal(wire_reveal_req_encode(&q, &out), TL_OK);
	assert_int_equal(wire_reveal_req_decode(out.data, out.len, &q2), TL_OK);
	assert_string_equal(q2.award, q.award);
	assert_int_equal(q2.n_approvals, 2);
	assert_memory_equal(q2.approvals[1].sig, q.approvals[1].sig, WIRE_SIG_LEN);
	assert_string_equal(q2.approvals[1].staff_id, "c.wang");
	assert_int_equal(q2.n_shares, 2);
	assert_int_equal(q2.shares[1].share_idx, 1);
	wire_reveal_req_free(&q2);
	q.n_approvals = 0;
	assert_int_equal(wire_reveal_req_encode(&q, &out), TL_EINVAL);

	randombytes_buf(sealed, sizeof(sealed));
	memcpy(r.request_id, CID, sizeof(r.request_id));
	r.rows[0].share_idx = 3;
	memcpy(r.rows[0].report_id, RID, sizeof(r.rows[0].report_id));
	memcpy(r.rows[0].payee_ref, PREF, sizeof(r.rows[0].payee_ref));
	r.rows[0].sealed = sealed;
	r.rows[0].sealed_len = sizeof(sealed);
	assert_int_equal(wire_reveal_rep_encode(&r, &out), TL_OK);
	assert_int_equal(wire_reveal_rep_decode(out.data, out.len, &r2), TL_OK);
	assert_true(r2.ok);
	assert_int_equal(r2.n_rows, 1);
	assert_int_equal(r2.rows[0].share_idx, 3);
	assert_memory_equal(r2.rows[0].sealed, sealed, sizeof(sealed));
	wire_reveal_rep_free(&r2);
	r.ok = false; /* a refusal carries no rows */
	snprintf(r.error, sizeof(r.error), "rules");
	assert_int_equal(wire_reveal_rep_encode(&r, &out), TL_EINVAL);
	r.n_rows = 0;
	assert_int_equal(wire_reveal_rep_encode(&r, &out), TL_OK);
	assert_int_equal(wire_reveal_rep_decode(out.data, out.len, &r2), TL_OK);
	assert_false(r2.ok);
	assert_string_equal(r2.error, "rules");
	buf_free(&out);

	accept(dec_req, req_ok);
	reject(dec_req, req_ok, SIG128, "00");
	reject(dec_req, req_ok, "\"sig\":\"0000", "\"sig\":\"AAAA");  /* uppercase hex */
	reject(dec_req, req_ok, "appr.city", "appr city");
	reject(dec_req, req_ok, "\"share_idx\":0", "\"share_idx\":64");
	reject(dec_req, req_ok, "\"share_idx\":0", "\"share_idx\":-1");
	reject(dec_req, req_ok, "[{\"staff_id\"", "[],\"x\":[{\"staff_id\"");
	reject(dec_req, req_ok, "\"award\":\"tipline award decision v1\\ndecision=approve\\n\"", "\"award\":\"\"");
	reject(dec_req, req_ok, ",\"payee_ref\":\"" PREF "\"", "");
	reject(dec_req, req_ok, "}]}", ",\"name\":\"x\"}]}");
	accept(dec_rep, rep_ok);
	accept(dec_rep, rep_err);
	reject(dec_rep, rep_ok, "\"ok\":true", "\"ok\":false,\"error\":\"rules\"");
	reject(dec_rep, rep_ok, "\"ok\":true", "\"ok\":true,\"error\":\"rules\"");
	reject(dec_rep, rep_err, "\"signature\"", "\"because\"");
	reject(dec_rep, rep_err, "\"rows\":[]", "\"rows\":[{}]");
	reject(dec_rep, rep_ok, SEALED_B64, "AAAA");
	reject(dec_rep, rep_ok, "\"rows\":[", "\"rows\":[{\"share_idx\":1},");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_roundtrip), cmocka_unit_test(test_status_reject),
		cmocka_unit_test(test_payee),            cmocka_unit_test(test_payclaim),
		cmocka_unit_test(test_eligibility),      cmocka_unit_test(test_reveal),
	};

	if (secret_init() != TL_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
