/*
 * claim_test.c - the payee details' rules (each field, normalisation, the
 * GB 11643 check digit, strict JSON) and claim_submit() against a fake
 * bus: only an open claim publishes, exactly one tl.deposit.claim message
 * with Nats-Msg-Id "claim:<id>" whose bytes hold none of the details while
 * its seal opens with the vault's key to exactly them; an Idempotency-Key
 * gives the same claim id for the same claim and only for it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "compat.h"
#include "claim.h"
#include "secret.h"
#include "timefmt.h"

#include <sodium.h>

#define NOW 1772294400000LL
#define DAY 86400000LL

/* 11010519491231002X: the check digit is X. */
#define GOOD_ID "11010519491231002X"

static const char *const good[CF_N] = { " 甄金丝雀 ", "11010519491231002x", "雀鸟银行西青支行",
	                                "6222 8800 1234 5678 901", "139-8765-4321" };

static enum claim_code
validate(const char *const raw[CF_N], struct claim_input *in, struct claim_errors *err)
{
	size_t len[CF_N];

	for (int f = 0; f < CF_N; f++)
		len[f] = raw[f] ? strlen(raw[f]) : 0;
	return claim_validate(raw, len, in, err);
}

static void
test_id_numbers(void **state)
{
	(void)state;
	assert_true(claim_id_number_valid(GOOD_ID, 18));
	assert_true(claim_id_number_valid("11010519491231002x", 18));
	assert_false(claim_id_number_valid("110105194912310021", 18)); /* check digit */
	assert_false(claim_id_number_valid("11010519491231002", 17));
	assert_false(claim_id_number_valid("11010519491231002XX", 19));
	assert_false(claim_id_number_valid("1101051949123100 X", 18));
	/* Right check digit, impossible dates. */
	assert_false(claim_id_number_valid("120111198102297710", 18) &&
	             claim_id_number_valid("120111198102297711", 18));
	for (char c = '0'; c <= '9'; c++) {
		char id[19] = "12011119810229771?";
		id[17] = c;
		assert_false(claim_id_number_valid(id, 18)); /* 1981-02-29 */
		memcpy(id, "12011119801332771", 17);
		assert_false(claim_id_number_valid(id, 18)); /* month 13 */
	}
	{
		/* A 1980-02-29 birth date is fine with its check digit. */
		char id[19] = "12011119800229771?";
		int ok = 0;
		for (const char *c = "0123456789X"; *c; c++) {
			id[17] = *c;
			ok += claim_id_number_valid(id, 18);
		}
		assert_int_equal(ok, 1);
	}
}

static void
test_normalised(void **state)
{
	struct claim_input in;
	struct claim_errors err;

	(void)state;
	assert_int_equal(validate(good, &in, &err), CLAIM_OK);
	assert_string_equal(in.f[CF_NAME], "甄金丝雀");
	assert_string_equal(in.f[CF_ID_NUMBER], GOOD_ID);
	assert_string_equal(in.f[CF_BANK], "雀鸟银行西青支行");
	assert_string_equal(in.f[CF_ACCOUNT], "6222880012345678901");
	assert_string_equal(in.f[CF_PHONE], "13987654321");
	claim_input_free(&in);
	assert_null(in.mem);
}

static void
one_bad(enum claim_field f, const char *value, enum claim_code want)
{
	const char *raw[CF_N];
	struct claim_input in;
	struct claim_errors err;

	memcpy(raw, good, sizeof(raw));
	raw[f] = value;
	if (validate(raw, &in, &err) != want)
		fail_msg("field %s value \"%s\": got %s, want %s", claim_field_name(f), value ? value : "(null)",
		         claim_code_name(err.code), claim_code_name(want));
	assert_null(in.mem);
	assert_string_equal(err.field, claim_field_name(f));
	for (int g = 0; g < CF_N; g++)
		assert_int_equal(err.per[g], g == (int)f ? want : CLAIM_OK);
}

static void
test_fields(void **state)
{
	char big[CLAIM_FIELD_MAX_BYTES + 2];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int f = 0; f < CF_N; f++) {
		one_bad((enum claim_field)f, NULL, CLAIM_MISSING_FIELD);
		one_bad((enum claim_field)f, "", CLAIM_MISSING_FIELD);
		one_bad((enum claim_field)f, " \t　", CLAIM_MISSING_FIELD);
		one_bad((enum claim_field)f, big, CLAIM_FIELD_TOO_LONG);
		one_bad((enum claim_field)f, "\xff\xfe", CLAIM_INVALID_UTF8);
	}
	one_bad(CF_NAME, "甄3", CLAIM_INVALID_NAME);
	one_bad(CF_NAME, "甄３", CLAIM_INVALID_NAME);
	one_bad(CF_NAME, "甄\x07雀", CLAIM_INVALID_NAME);
	one_bad(CF_NAME, "甄\xe2\x80\xae雀", CLAIM_INVALID_NAME); /* RLO */
	one_bad(CF_NAME, "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一", CLAIM_INVALID_NAME);
	one_bad(CF_ID_NUMBER, "110105194912310021", CLAIM_INVALID_ID);
	one_bad(CF_ID_NUMBER, "1101051949123100", CLAIM_INVALID_ID);
	one_bad(CF_BANK, "行", CLAIM_INVALID_BANK);
	one_bad(CF_BANK, "银银银银银银银银银银银银银银银银银银银银银银银银银银银银银银"
	                 "银银银银银银银银银银银银银银银银银银银银银银银银银银银银银银银",
	        CLAIM_INVALID_BANK);
	one_bad(CF_ACCOUNT, "62228800123", CLAIM_INVALID_ACCOUNT);
	one_bad(CF_ACCOUNT, "6222880012345678901234567890123", CLAIM_INVALID_ACCOUNT);
	one_bad(CF_ACCOUNT, "6222-8800-1234-5678", CLAIM_INVALID_ACCOUNT);
	one_bad(CF_ACCOUNT, "６２２２８８００１２３４５", CLAIM_INVALID_ACCOUNT);
	one_bad(CF_PHONE, "23987654321", CLAIM_INVALID_PHONE);
	one_bad(CF_PHONE, "1398765432", CLAIM_INVALID_PHONE);
	one_bad(CF_PHONE, "139876543210", CLAIM_INVALID_PHONE);
	one_bad(CF_PHONE, "+8613987654321", CLAIM_INVALID_PHONE);
}

static void
test_every_error_reported(void **state)
{
	const char *raw[CF_N] = { "甄3", NULL, "雀鸟银行", "12", "2" };
	struct claim_input in;
	struct claim_errors err;

	(void)state;
	assert_int_equal(validate(raw, &in, &err), CLAIM_INVALID_NAME);
	assert_string_equal(err.field, "name");
	assert_int_equal(err.per[CF_ID_NUMBER], CLAIM_MISSING_FIELD);
	assert_int_equal(err.per[CF_BANK], CLAIM_OK);
	assert_int_equal(err.per[CF_ACCOUNT], CLAIM_INVALID_ACCOUNT);
	assert_int_equal(err.per[CF_PHONE], CLAIM_INVALID_PHONE);
}

static void
json(const char *body, enum claim_code want, const char *field)
{
	struct claim_input in;
	struct claim_errors err;
	struct buf b;

	if (claim_parse_json(body, strlen(body), &in, &err) != want)
		fail_msg("%s: got %s, want %s", body, claim_code_name(err.code), claim_code_name(want));
	assert_string_equal(err.field, field);
	if (want == CLAIM_OK) {
		claim_input_free(&in);
		return;
	}
	assert_null(in.mem);
	buf_init(&b, 4096);
	assert_int_equal(claim_error_body(&err, &b), TL_OK);
	assert_non_null(strstr(buf_str(&b), claim_code_name(want)));
	/* The error names the rule, never the value. */
	assert_null(strstr(buf_str(&b), "甄金丝雀"));
	assert_null(strstr(buf_str(&b), "13987654321"));
	buf_free(&b);
}

#define BODY(extra)                                                                             \
	"{\"name\":\"甄金丝雀\",\"id_number\":\"" GOOD_ID "\",\"bank\":\"雀鸟银行\",\"account\":" \
	"\"6222880012345678901\",\"phone\":\"13987654321\"" extra "}"

static void
test_json(void **state)
{
	(void)state;
	json(BODY(""), CLAIM_OK, "");
	json(BODY(",\"email\":\"a@b\""), CLAIM_UNKNOWN_FIELD, "email");
	json(BODY(",\"name\":\"别人\""), CLAIM_INVALID_JSON, "");
	json("{\"name\":\"甄金丝雀\",\"phone\":13987654321}", CLAIM_INVALID_FIELD, "phone");
	json("{\"name\":null,\"phone\":\"13987654321\"}", CLAIM_MISSING_FIELD, "name");
	json("{\"name\":\"甄\\u0000\"}", CLAIM_INVALID_JSON, "");
	json("[]", CLAIM_INVALID_JSON, "");
	json("", CLAIM_INVALID_JSON, "");
	json("{\"name\":\"\xff\"}", CLAIM_INVALID_UTF8, "");
}

/* ---- claim_submit over a fake bus ---- */

struct fake {
	char status_key[STATUS_KEY_LEN + 1];
	char status[512];
	int published;
	char subject[64], msg_id[64];
	char msg[8192];
	size_t msg_len;
	enum tl_err fail;
};

static enum tl_err
f_publish(void *cls, const char *subject, const void *data, size_t len, const char *msg_id)
{
	struct fake *f = cls;

	if (f->fail)
		return f->fail;
	assert_true(len < sizeof(f->msg));
	f->published++;
	snprintf(f->subject, sizeof(f->subject), "%s", subject);
	snprintf(f->msg_id, sizeof(f->msg_id), "%s", msg_id);
	memcpy(f->msg, data, len);
	f->msg_len = len;
	return TL_OK;
}

static enum tl_err
f_kv_get(void *cls, const char *bucket, const char *key, struct buf *val)
{
	struct fake *f = cls;

	assert_string_equal(bucket, "TL_STATUS");
	if (f->fail)
		return f->fail;
	if (!f->status[0] || strcmp(key, f->status_key) != 0)
		return TL_ENOTFOUND;
	buf_reset(val);
	return buf_append_str(val, f->status);
}

struct env {
	struct fake f;
	struct pipeline p;
	unsigned char keys[64], sk[32];
	char digits[RECEIPT_DIGITS + 1];
	struct claim_input in;
};

static void
set_status(struct env *v, const char *status, int64_t amount, int64_t claim_by, const char *reason)
{
	struct wire_status st;
	struct buf b;

	memset(&st, 0, sizeof(st));
	snprintf(st.status, sizeof(st.status), "%s", status);
	st.updated_ms = NOW;
	st.amount_fen = amount;
	st.claim_by_ms = claim_by;
	snprintf(st.reason, sizeof(st.reason), "%s", reason);
	buf_init(&b, 4096);
	assert_int_equal(wire_status_encode(&st, &b), TL_OK);
	snprintf(v->f.status, sizeof(v->f.status), "%s", buf_str(&b));
	buf_free(&b);
}

static int
setup(void **state)
{
	struct env *v = calloc(1, sizeof(*v));
	struct claim_errors err;

	assert_int_equal(secret_init(), TL_OK);
	randombytes_buf(v->keys, sizeof(v->keys));
	crypto_box_keypair(v->p.vault_pk, v->sk);
	v->p.status_key = v->keys;
	v->p.ids_key = v->keys + 32;
	v->p.bus = (struct pipeline_bus){ &v->f, f_publish, NULL, f_kv_get };
	receipt_new(v->digits);
	receipt_status_key(v->p.status_key, v->digits, v->f.status_key);
	assert_int_equal(validate(good, &v->in, &err), CLAIM_OK);
	*state = v;
	return 0;
}

static int
teardown(void **state)
{
	struct env *v = *state;

	claim_input_free(&v->in);
	free(v);
	return 0;
}

static void
test_submit_open(void **state)
{
	struct env *v = *state;
	struct claim_result res;
	struct wire_payclaim pc;
	struct wire_payee payee;
	unsigned char plain[4096];
	char want_id[ID_HEX_LEN + 8];

	set_status(v, "award_approved", 12345678, NOW + DAY, "");
	assert_int_equal(claim_submit(&v->p, v->digits, true, &v->in, NULL, NOW, &res), TL_OK);
	assert_int_equal(v->f.published, 1);
	assert_string_equal(v->f.subject, WIRE_SUBJ_DEPOSIT_CLAIM);
	snprintf(want_id, sizeof(want_id), "claim:%s", res.claim_id);
	assert_string_equal(v->f.msg_id, want_id);
	for (int f = 0; f < CF_N; f++)
		assert_null(memmem(v->f.msg, v->f.msg_len, v->in.f[f], strlen(v->in.f[f])));
	assert_null(memmem(v->f.msg, v->f.msg_len, v->digits, RECEIPT_DIGITS));

	memset(&pc, 0, sizeof(pc));
	assert_int_equal(wire_payclaim_decode(v->f.msg, v->f.msg_len, &pc), TL_OK);
	assert_string_equal(pc.claim_id, res.claim_id);
	assert_string_equal(pc.status_key, v->f.status_key);
	assert_int_equal(pc.received_ms, NOW);
	assert_true(pc.sealed_len > crypto_box_SEALBYTES && pc.sealed_len - crypto_box_SEALBYTES < sizeof(plain));
	assert_int_equal(crypto_box_seal_open(plain, pc.sealed, pc.sealed_len, v->p.vault_pk, v->sk), 0);
	memset(&payee, 0, sizeof(payee));
	assert_int_equal(wire_payee_decode((const char *)plain, pc.sealed_len - crypto_box_SEALBYTES, &payee), TL_OK);
	assert_string_equal(payee.claim_id, res.claim_id);
	assert_string_equal(payee.name, "甄金丝雀");
	assert_string_equal(payee.id_number, GOOD_ID);
	assert_string_equal(payee.bank, "雀鸟银行西青支行");
	assert_string_equal(payee.account, "6222880012345678901");
	assert_string_equal(payee.phone, "13987654321");
	wire_payee_free(&payee);
	wire_payclaim_free(&pc);

	/* claim_refused is open again until claim_by, inclusive. */
	set_status(v, "claim_refused", 12345678, NOW, "bank_rejected");
	assert_int_equal(claim_submit(&v->p, v->digits, true, &v->in, NULL, NOW, &res), TL_OK);
	assert_int_equal(v->f.published, 2);
}

static void
test_submit_refused(void **state)
{
	struct env *v = *state;
	struct claim_result res;
	char other[RECEIPT_DIGITS + 1];
	static const struct {
		const char *status;
		int64_t amount, claim_by;
		const char *reason;
		enum claim_state want;
	} rows[] = {
		{ "received", 0, 0, "", CLAIM_STATE_NOT_YET },
		{ "investigating", 0, 0, "", CLAIM_STATE_NOT_YET },
		{ "verified", 0, 0, "", CLAIM_STATE_NOT_YET },
		{ "unfounded", 0, 0, "", CLAIM_STATE_NO_AWARD },
		{ "claim_received", 100, 0, "", CLAIM_STATE_RECEIVED },
		{ "paid", 100, 0, "", CLAIM_STATE_PAID },
		{ "forfeited", 100, 0, "", CLAIM_STATE_CLOSED },
		{ "award_approved", 100, NOW - 1, "", CLAIM_STATE_CLOSED },
		{ "claim_refused", 100, NOW - 1, "excluded", CLAIM_STATE_CLOSED },
	};

	for (size_t i = 0; i < TL_ARRAY_LEN(rows); i++) {
		set_status(v, rows[i].status, rows[i].amount, rows[i].claim_by, rows[i].reason);
		assert_int_equal(claim_submit(&v->p, v->digits, true, &v->in, NULL, NOW, &res), TL_ECONFLICT);
		assert_int_equal(res.state, rows[i].want);
		assert_true(claim_state_message(res.state)[0] != '\0');
	}
	set_status(v, "award_approved", 100, NOW + DAY, "");
	memcpy(other, v->digits, sizeof(other));
	other[15] = (char)(other[15] == '9' ? '0' : other[15] + 1);
	assert_int_equal(claim_submit(&v->p, other, true, &v->in, NULL, NOW, &res), TL_ENOTFOUND);
	/* A malformed receipt never matches, even the receipt of the status. */
	assert_int_equal(claim_submit(&v->p, v->digits, false, &v->in, NULL, NOW, &res), TL_ENOTFOUND);
	v->f.fail = TL_EUNAVAIL;
	assert_int_equal(claim_submit(&v->p, v->digits, true, &v->in, NULL, NOW, &res), TL_EUNAVAIL);
	assert_int_equal(v->f.published, 0);
}

static void
test_submit_idempotent(void **state)
{
	struct env *v = *state;
	struct claim_result a, b;
	struct claim_input other;
	struct claim_errors err;
	const char *raw[CF_N];

	set_status(v, "award_approved", 100, NOW + DAY, "");
	assert_int_equal(claim_submit(&v->p, v->digits, true, &v->in, "k1", NOW, &a), TL_OK);
	assert_int_equal(claim_submit(&v->p, v->digits, true, &v->in, "k1", NOW + 5, &b), TL_OK);
	assert_string_equal(a.claim_id, b.claim_id);
	assert_int_equal(claim_submit(&v->p, v->digits, true, &v->in, "k2", NOW, &b), TL_OK);
	assert_string_not_equal(a.claim_id, b.claim_id);
	assert_int_equal(claim_submit(&v->p, v->digits, true, &v->in, NULL, NOW, &a), TL_OK);
	assert_int_equal(claim_submit(&v->p, v->digits, true, &v->in, NULL, NOW, &b), TL_OK);
	assert_string_not_equal(a.claim_id, b.claim_id);
	/* Other details under the same key are another claim. */
	memcpy(raw, good, sizeof(raw));
	raw[CF_PHONE] = "13900000000";
	assert_int_equal(validate(raw, &other, &err), CLAIM_OK);
	assert_int_equal(claim_submit(&v->p, v->digits, true, &v->in, "k1", NOW, &a), TL_OK);
	assert_int_equal(claim_submit(&v->p, v->digits, true, &other, "k1", NOW, &b), TL_OK);
	assert_string_not_equal(a.claim_id, b.claim_id);
	claim_input_free(&other);
}

static int
group_setup(void **state)
{
	(void)state;
	return secret_init() == TL_OK ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_numbers),
		cmocka_unit_test(test_normalised),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_every_error_reported),
		cmocka_unit_test(test_json),
		cmocka_unit_test_setup_teardown(test_submit_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_idempotent, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
