/*
 * claim.c - see claim.h.
 */
#include "compat.h"
#include "claim.h"
#include "idnum.h"
#include "log.h"
#include "num.h"
#include "secret.h"
#include "status.h"
#include "timefmt.h"
#include "utf8.h"
#include "request.h"
#include "jsonbody.h"

#include <jansson.h>
#include <sodium.h>

#define SLOT (CLAIM_FIELD_MAX_BYTES + 1)

static const char *const field_names[CF_N] = { "name", "id_number", "bank", "account", "phone" };

static const struct {
	const char *name, *message;
} codes[CLAIM_NCODES] = {
	[CLAIM_OK] = { "ok", "" },
	[CLAIM_INVALID_JSON] = { "invalid_json", "请求内容不是有效的 JSON 对象。" },
	[CLAIM_INVALID_UTF8] = { "invalid_utf8", "请求内容不是有效的 UTF-8 编码。" },
	[CLAIM_UNKNOWN_FIELD] = { "unknown_field", "请求包含不支持的字段。" },
	[CLAIM_INVALID_FIELD] = { "invalid_field", "字段类型不正确，应为文本。" },
	[CLAIM_MISSING_FIELD] = { "missing_field", "请填写此项。" },
	[CLAIM_FIELD_TOO_LONG] = { "field_too_long", "内容过长。" },
	[CLAIM_INVALID_NAME] = { "invalid_name", "姓名应为 1 到 30 个字，不能包含数字。" },
	[CLAIM_INVALID_ID] = { "invalid_id_number",
	                       "身份证号码应为 18 位，请核对出生日期和最后一位校验码（可为 X）。" },
	[CLAIM_INVALID_BANK] = { "invalid_bank", "开户银行应为 2 到 60 个字，例如“中国工商银行天津分行”。" },
	[CLAIM_INVALID_ACCOUNT] = { "invalid_account", "银行账号应为 12 到 30 位数字（可含空格）。" },
	[CLAIM_INVALID_PHONE] = { "invalid_phone", "手机号码应为以 1 开头的 11 位数字。" },
};

const char *
claim_field_name(enum claim_field f)
{
	return (unsigned)f < CF_N ? field_names[f] : "";
}

const char *
claim_code_name(enum claim_code c)
{
	return (unsigned)c < CLAIM_NCODES ? codes[c].name : "invalid_request";
}

const char *
claim_code_message(enum claim_code c)
{
	return (unsigned)c < CLAIM_NCODES ? codes[c].message : "请求无效。";
}

/* ---- rules ---- */

static bool
is_control_cp(int32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
	       (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF;
}

static bool
is_digit_cp(int32_t cp)
{
	return (cp >= '0' && cp <= '9') || (cp >= 0xFF10 && cp <= 0xFF19);
}

/* Counts code points of s[0..n); false on a control character or, with
 * no_digits, a digit. */
static bool
text_ok(const char *s, size_t n, bool no_digits, size_t *nchars)
{
	size_t i = 0, c = 0;

	while (i < n) {
		int32_t cp = utf8_next(s, n, &i);
		if (cp < 0 || is_control_cp(cp) || (no_digits && is_digit_cp(cp)))
			return false;
		c++;
	}
	*nchars = c;
	return true;
}

/* Copies the ASCII digits of s[0..n) into out, dropping the separators in
 * drop; false on any other character or more than max digits. */
static bool
digits_only(const char *s, size_t n, const char *drop, char *out, size_t max, size_t *nd)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (strchr(drop, s[i]) && s[i] != '\0')
			continue;
		if (s[i] < '0' || s[i] > '9' || k == max)
			return false;
		out[k++] = s[i];
	}
	out[k] = '\0';
	*nd = k;
	return true;
}

bool
claim_id_number_valid(const char *s, size_t len)
{
	return idnum_valid(s, len);
}

/* One field: raw -> normalised in slot (SLOT bytes). */
static enum claim_code
check_field(enum claim_field f, const char *raw, size_t len, char *slot)
{
	const char *t;
	size_t n, nchars, nd;

	if (!raw)
		return CLAIM_MISSING_FIELD;
	if (len > CLAIM_FIELD_MAX_BYTES)
		return CLAIM_FIELD_TOO_LONG;
	if (!utf8_valid(raw, len, NULL))
		return CLAIM_INVALID_UTF8;
	t = jsonbody_trim(raw, len, &n);
	if (n == 0)
		return CLAIM_MISSING_FIELD;
	switch (f) {
	case CF_NAME:
		if (!text_ok(t, n, true, &nchars) || nchars > CLAIM_NAME_MAX_CHARS)
			return CLAIM_INVALID_NAME;
		memcpy(slot, t, n);
		slot[n] = '\0';
		return CLAIM_OK;
	case CF_BANK:
		if (!text_ok(t, n, false, &nchars) || nchars < CLAIM_BANK_MIN_CHARS ||
		    nchars > CLAIM_BANK_MAX_CHARS)
			return CLAIM_INVALID_BANK;
		memcpy(slot, t, n);
		slot[n] = '\0';
		return CLAIM_OK;
	case CF_ID_NUMBER:
		if (!claim_id_number_valid(t, n))
			return CLAIM_INVALID_ID;
		memcpy(slot, t, n);
		slot[n] = '\0';
		if (slot[17] == 'x')
			slot[17] = 'X';
		return CLAIM_OK;
	case CF_ACCOUNT:
		if (!digits_only(t, n, " ", slot, CLAIM_ACCOUNT_MAX_DIGITS, &nd) ||
		    nd < CLAIM_ACCOUNT_MIN_DIGITS) {
			sodium_memzero(slot, SLOT);
			return CLAIM_INVALID_ACCOUNT;
		}
		return CLAIM_OK;
	case CF_PHONE:
		if (!digits_only(t, n, " -", slot, 11, &nd) || nd != 11 || slot[0] != '1') {
			sodium_memzero(slot, SLOT);
			return CLAIM_INVALID_PHONE;
		}
		return CLAIM_OK;
	default:
		return CLAIM_INVALID_FIELD;
	}
}

_Static_assert(sizeof(((struct claim_errors *)0)->field) > JSONBODY_FIELD_MAX, "claim_errors.field");

static enum claim_code
fail(struct claim_errors *err, enum claim_code c, const char *field)
{
	err->code = c;
	err->field[0] = '\0';
	if (field)
		jsonbody_field(err->field, field);
	return c;
}

enum claim_code
claim_validate(const char *const raw[CF_N], const size_t len[CF_N], struct claim_input *out,
               struct claim_errors *err)
{
	enum claim_code first = CLAIM_OK;
	int first_field = -1;

	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	if (!(out->mem = sodium_malloc(CF_N * SLOT)))
		return fail(err, CLAIM_INVALID_JSON, NULL); /* out of memory: caller maps to 500 */
	sodium_memzero(out->mem, CF_N * SLOT);
	for (int f = 0; f < CF_N; f++) {
		err->per[f] = check_field((enum claim_field)f, raw[f], raw[f] ? len[f] : 0,
		                          out->mem + (size_t)f * SLOT);
		out->f[f] = out->mem + (size_t)f * SLOT;
		if (err->per[f] != CLAIM_OK && first == CLAIM_OK) {
			first = err->per[f];
			first_field = f;
		}
	}
	if (first != CLAIM_OK) {
		enum claim_code per[CF_N];
		memcpy(per, err->per, sizeof(per));
		claim_input_free(out);
		fail(err, first, field_names[first_field]);
		memcpy(err->per, per, sizeof(per));
		return first;
	}
	return CLAIM_OK;
}

enum claim_code
claim_parse_json(const char *body, size_t len, struct claim_input *out, struct claim_errors *err)
{
	const char *raw[CF_N] = { NULL };
	size_t lens[CF_N] = { 0 };
	json_t *j = NULL, *v;
	const char *k;
	enum jsonbody_err jr;
	enum claim_code rc;

	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	if ((jr = jsonbody_load(body, len, &j)) != JSONBODY_OK)
		return fail(err, jr == JSONBODY_INVALID_UTF8 ? CLAIM_INVALID_UTF8 : CLAIM_INVALID_JSON, NULL);
	json_object_foreach(j, k, v) {
		int f;
		for (f = 0; f < CF_N; f++)
			if (strcmp(k, field_names[f]) == 0)
				break;
		if (f == CF_N) {
			rc = fail(err, CLAIM_UNKNOWN_FIELD, k);
			goto out;
		}
		if (json_is_null(v))
			continue;
		if (!json_is_string(v)) {
			rc = fail(err, CLAIM_INVALID_FIELD, k);
			goto out;
		}
		raw[f] = json_string_value(v);
		lens[f] = json_string_length(v);
		/* \u0000 inside a value: jansson refuses it without
		 * JSON_ALLOW_NUL, but C strings follow, so check. */
		if (strlen(raw[f]) != lens[f]) {
			rc = fail(err, CLAIM_INVALID_UTF8, k);
			goto out;
		}
	}
	rc = claim_validate(raw, lens, out, err);
out:
	jsonbody_free(j);
	return rc;
}

void
claim_input_free(struct claim_input *in)
{
	secret_free(in->mem); /* sodium_free wipes */
	memset(in, 0, sizeof(*in));
}

enum tl_err
claim_error_body(const struct claim_errors *err, struct buf *out)
{
	return request_error_json(claim_code_name(err->code), claim_code_message(err->code),
	                          err->field, out);
}

/* ---- submission ---- */

enum claim_state
claim_state_of(const struct wire_status *st, int64_t now_ms)
{
	const char *s = st->status;

	if (strcmp(s, "award_approved") == 0 || strcmp(s, "claim_refused") == 0)
		return status_claim_open(st, now_ms) ? CLAIM_STATE_OPEN : CLAIM_STATE_CLOSED;
	if (strcmp(s, "unfounded") == 0)
		return CLAIM_STATE_NO_AWARD;
	if (strcmp(s, "claim_received") == 0)
		return CLAIM_STATE_RECEIVED;
	if (strcmp(s, "paid") == 0)
		return CLAIM_STATE_PAID;
	if (strcmp(s, "forfeited") == 0)
		return CLAIM_STATE_CLOSED;
	return CLAIM_STATE_NOT_YET;
}

const char *
claim_state_code(enum claim_state s)
{
	switch (s) {
	case CLAIM_STATE_NOT_YET: return "claim_not_open";
	case CLAIM_STATE_NO_AWARD: return "no_award";
	case CLAIM_STATE_RECEIVED: return "claim_already_received";
	case CLAIM_STATE_PAID: return "already_paid";
	case CLAIM_STATE_CLOSED: return "claim_window_closed";
	default: return "ok";
	}
}

const char *
claim_state_message(enum claim_state s)
{
	switch (s) {
	case CLAIM_STATE_NOT_YET:
		return "奖励尚未批准，暂时不能申领。请在状态显示“奖励已批准”后再提交。";
	case CLAIM_STATE_NO_AWARD:
		return "经核查举报不属实，没有可申领的奖励。";
	case CLAIM_STATE_RECEIVED:
		return "领奖申请已收到，正在核验，请勿重复提交。";
	case CLAIM_STATE_PAID:
		return "奖励已发放，不能再次申领。";
	case CLAIM_STATE_CLOSED:
		return "已超过领取期限，奖励不能再申领。";
	default:
		return "";
	}
}

/* Keyed hash of (receipt, idempotency key, normalised details): the same
 * claim retried gives the same id; a different claim under the same key
 * does not silently collapse into the first. */
static void
claim_seed(const struct pipeline *p, const char *digits, const char *idem,
           const struct claim_input *in, unsigned char out[32])
{
	crypto_generichash_state st;
	uint64_t n;

	crypto_generichash_init(&st, p->ids_key, PIPELINE_KEY_BYTES, 32);
	crypto_generichash_update(&st, (const unsigned char *)"tl-claim-idem", 14);
	crypto_generichash_update(&st, (const unsigned char *)digits, RECEIPT_DIGITS);
	/* Length-prefixed, so no two field lists hash alike. */
	n = strlen(idem);
	crypto_generichash_update(&st, (const unsigned char *)&n, sizeof(n));
	crypto_generichash_update(&st, (const unsigned char *)idem, n);
	for (int f = 0; f < CF_N; f++) {
		n = strlen(in->f[f]);
		crypto_generichash_update(&st, (const unsigned char *)&n, sizeof(n));
		crypto_generichash_update(&st, (const unsigned char *)in->f[f], n);
	}
	crypto_generichash_final(&st, out, 32);
}

enum tl_err
claim_submit(const struct pipeline *p, const char digits[RECEIPT_DIGITS + 1], bool wellformed,
             const struct claim_input *in, const char *idem_key, int64_t now_ms,
             struct claim_result *out)
{
	struct wire_status st;
	struct wire_payee payee;
	struct wire_payclaim pc;
	struct buf plain, msg;
	char msg_id[ID_HEX_LEN + 8];
	enum tl_err e;

	memset(out, 0, sizeof(*out));
	memset(&payee, 0, sizeof(payee));
	memset(&pc, 0, sizeof(pc));
	buf_init_secret(&plain, WIRE_MAX_MSG);
	buf_init(&msg, WIRE_MAX_MSG);
	if (!in->mem) {
		e = TL_EINVAL;
		goto out;
	}
	if ((e = status_lookup(p, digits, wellformed, &st)) != TL_OK)
		goto out;
	if ((out->state = claim_state_of(&st, now_ms)) != CLAIM_STATE_OPEN) {
		e = TL_ECONFLICT;
		goto out;
	}

	if (idem_key) {
		unsigned char seed[32];
		claim_seed(p, digits, idem_key, in, seed);
		id_derive(p->ids_key, "claim", seed, sizeof(seed), out->claim_id);
		sodium_memzero(seed, sizeof(seed));
	} else {
		id_new(out->claim_id);
	}

	/* Borrowed pointers: wire_payee_encode only reads them. */
	snprintf(payee.claim_id, sizeof(payee.claim_id), "%s", out->claim_id);
	payee.name = (char *)(uintptr_t)in->f[CF_NAME];
	payee.id_number = (char *)(uintptr_t)in->f[CF_ID_NUMBER];
	payee.bank = (char *)(uintptr_t)in->f[CF_BANK];
	payee.account = (char *)(uintptr_t)in->f[CF_ACCOUNT];
	payee.phone = (char *)(uintptr_t)in->f[CF_PHONE];
	if ((e = wire_payee_encode(&payee, &plain)) != TL_OK ||
	    (e = pipeline_seal(p, &plain, &pc.sealed, &pc.sealed_len)) != TL_OK)
		goto out;

	snprintf(pc.claim_id, sizeof(pc.claim_id), "%s", out->claim_id);
	receipt_status_key(p->status_key, digits, pc.status_key);
	pc.received_ms = now_ms;
	if ((e = wire_payclaim_encode(&pc, &msg)) != TL_OK)
		goto out;
	snprintf(msg_id, sizeof(msg_id), "claim:%s", out->claim_id);
	e = p->bus.publish(p->bus.cls, WIRE_SUBJ_DEPOSIT_CLAIM, msg.data, msg.len, msg_id);
out:
	/* Not wire_payee_free(): the strings are borrowed from *in. */
	sodium_memzero(&payee, sizeof(payee));
	sodium_memzero(pc.status_key, sizeof(pc.status_key));
	free(pc.sealed);
	buf_free(&plain);
	buf_free(&msg);
	return e;
}
