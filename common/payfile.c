#include "compat.h"
#include "payfile.h"
#include "district.h"
#include "num.h"
#include "secret.h"
#include "timefmt.h"

#include <jansson.h>

/* The per-tip hard cap (payouts/money.h MONEY_HARD_CAP_FEN); repeated here
 * because tlcommon does not see payouts' headers. */
#define PAYFILE_AMOUNT_MAX INT64_C(50000000)
#define KEYLINE_LEN (4 + PAYFILE_KEYID_HEX + 1) /* "key " hex "\n" */

void
payfile_key_id(const unsigned char pk[crypto_box_PUBLICKEYBYTES], char out[PAYFILE_KEYID_HEX + 1])
{
	unsigned char h[PAYFILE_KEYID_HEX / 2];

	/* A domain-separated hash so the id is not a prefix of the key itself. */
	crypto_generichash(h, sizeof(h), pk, crypto_box_PUBLICKEYBYTES,
	                   (const unsigned char *)"tipline payfile key id", 22);
	hex_encode(h, sizeof(h), out);
}

static void
row_free(struct payfile_row *r)
{
	free(r->sealed);
	r->sealed = NULL;
	r->sealed_len = 0;
	wire_payee_free(&r->payee);
}

void
payfile_free(struct payfile *pf)
{
	if (!pf)
		return;
	for (size_t i = 0; pf->rows && i < pf->n_rows; i++)
		row_free(&pf->rows[i]);
	free(pf->rows);
	memset(pf, 0, sizeof(*pf));
}

static bool
scope_valid(const char *s)
{
	return strcmp(s, PAYFILE_SCOPE_ALL) == 0 || district_valid(s);
}

/* The invariants both sides enforce, so that payouts never writes a file
 * the officer's tool would refuse. */
static enum tl_err
check_content(const struct payfile *pf, char *why, size_t whylen)
{
	int64_t sum = 0;

	if (!id_valid(pf->batch_id)) {
		tl_why(why, whylen, "invalid batch id");
		return TL_EINVAL;
	}
	if (!scope_valid(pf->scope)) {
		tl_why(why, whylen, "invalid district scope");
		return TL_EINVAL;
	}
	if (pf->n_rows == 0 || !pf->rows) {
		tl_why(why, whylen, "the batch has no rows; an empty batch is never written");
		return TL_EINVAL;
	}
	if (pf->n_rows > PAYFILE_MAX_ROWS) {
		tl_why(why, whylen, "the batch has %zu rows, at most %d are allowed", pf->n_rows,
		    PAYFILE_MAX_ROWS);
		return TL_EINVAL;
	}
	for (size_t i = 0; i < pf->n_rows; i++) {
		const struct payfile_row *r = &pf->rows[i];

		if (!id_valid(r->award_id) || !id_valid(r->report_id) || r->share_idx < 0 ||
		    r->share_idx > 63 || !district_valid(r->district)) {
			tl_why(why, whylen, "row %zu: invalid award, share, report or district", i + 1);
			return TL_EINVAL;
		}
		if (strcmp(pf->scope, PAYFILE_SCOPE_ALL) != 0 && strcmp(pf->scope, r->district) != 0) {
			tl_why(why, whylen, "row %zu: district %s is outside the batch's district %s", i + 1,
			    r->district, pf->scope);
			return TL_EINVAL;
		}
		if (r->amount_fen <= 0 || r->amount_fen > PAYFILE_AMOUNT_MAX) {
			tl_why(why, whylen, "row %zu: amount %lld fen is outside 1..%lld", i + 1,
			    (long long)r->amount_fen, (long long)PAYFILE_AMOUNT_MAX);
			return TL_EINVAL;
		}
		if (!r->sealed || r->sealed_len <= crypto_box_SEALBYTES ||
		    r->sealed_len > PAYFILE_SEALED_MAX) {
			tl_why(why, whylen, "row %zu: the sealed payee is missing or has a bad size", i + 1);
			return TL_EINVAL;
		}
		/* Quadratic, but bounded by PAYFILE_MAX_ROWS and only run once. */
		for (size_t k = 0; k < i; k++)
			if (pf->rows[k].share_idx == r->share_idx &&
			    strcmp(pf->rows[k].award_id, r->award_id) == 0) {
				tl_why(why, whylen, "rows %zu and %zu pay the same share (award %s share %d)",
				    k + 1, i + 1, r->award_id, r->share_idx);
				return TL_EINVAL;
			}
		sum += r->amount_fen; /* bounded: 2000 * 5e7 fits easily */
	}
	if (sum != pf->total_fen) {
		tl_why(why, whylen, "the stated total %lld fen does not equal the sum of the rows %lld fen",
		    (long long)pf->total_fen, (long long)sum);
		return TL_EINVAL;
	}
	return TL_OK;
}

/* ---- writer ---- */

static bool
set_str(json_t *o, const char *k, const char *v)
{
	json_t *s = json_string(v);

	return s && json_object_set_new(o, k, s) == 0;
}

static bool
set_int(json_t *o, const char *k, int64_t v)
{
	json_t *n = json_integer((json_int_t)v);

	return n && json_object_set_new(o, k, n) == 0;
}

static bool
set_b64(json_t *o, const char *k, const unsigned char *bin, size_t len)
{
	size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *b = malloc(n);
	bool ok;

	if (!b)
		return false;
	sodium_bin2base64(b, n, bin, len, sodium_base64_VARIANT_ORIGINAL);
	ok = set_str(o, k, b);
	free(b);
	return ok;
}

static json_t *
build_json(const struct payfile *pf, const char *key_id)
{
	char t[RFC3339_LEN + 1];
	json_t *o = json_object(), *rows = json_array(), *r = NULL;

	if (!o || !rows)
		goto fail;
	time_format_rfc3339(pf->created_ms, t);
	if (!set_int(o, "v", 1) || !set_str(o, "type", "payfile") ||
	    !set_str(o, "batch_id", pf->batch_id) || !set_str(o, "created_at", t) ||
	    !set_str(o, "scope", pf->scope) || !set_str(o, "key_id", key_id) ||
	    !set_int(o, "row_count", (int64_t)pf->n_rows) || !set_int(o, "total_fen", pf->total_fen))
		goto fail;
	for (size_t i = 0; i < pf->n_rows; i++) {
		const struct payfile_row *w = &pf->rows[i];

		if (!(r = json_object()) || !set_str(r, "award_id", w->award_id) ||
		    !set_int(r, "share_idx", w->share_idx) || !set_str(r, "district", w->district) ||
		    !set_int(r, "amount_fen", w->amount_fen) || !set_str(r, "report_id", w->report_id) ||
		    !set_b64(r, "sealed_payee", w->sealed, w->sealed_len) ||
		    json_array_append_new(rows, r) != 0)
			goto fail;
		r = NULL;
	}
	if (json_object_set_new(o, "rows", rows) != 0) {
		rows = NULL;
		goto fail;
	}
	return o;
fail:
	json_decref(r);
	json_decref(rows);
	json_decref(o);
	return NULL;
}

enum tl_err
payfile_seal(const struct payfile *pf, const unsigned char pk[crypto_box_PUBLICKEYBYTES],
             struct buf *out, char *why, size_t whylen)
{
	char key_id[PAYFILE_KEYID_HEX + 1], line[KEYLINE_LEN + 1];
	json_t *o = NULL;
	char *plain = NULL;
	unsigned char *sealed = NULL;
	size_t plen = 0, slen = 0;
	enum tl_err e;

	buf_reset(out);
	if ((e = check_content(pf, why, whylen)) != TL_OK)
		return e;
	payfile_key_id(pk, key_id);
	e = TL_ENOMEM;
	if (!(o = build_json(pf, key_id)) || !(plain = json_dumps(o, JSON_COMPACT)))
		goto cleanup;
	plen = strlen(plain);
	slen = plen + crypto_box_SEALBYTES;
	if (slen + sizeof(PAYFILE_MAGIC) + KEYLINE_LEN > PAYFILE_MAX_BYTES) {
		tl_why(why, whylen, "the batch file would exceed %d bytes", PAYFILE_MAX_BYTES);
		e = TL_ETOOBIG;
		goto cleanup;
	}
	if (!(sealed = malloc(slen)))
		goto cleanup;
	if (crypto_box_seal(sealed, (const unsigned char *)plain, plen, pk) != 0) {
		tl_why(why, whylen, "sealing the batch file failed");
		e = TL_ECRYPTO;
		goto cleanup;
	}
	(void)snprintf(line, sizeof(line), "key %s\n", key_id);
	if ((e = buf_append_str(out, PAYFILE_MAGIC)) != TL_OK ||
	    (e = buf_append_str(out, line)) != TL_OK || (e = buf_append(out, sealed, slen)) != TL_OK) {
		tl_why(why, whylen, "the batch file does not fit its buffer");
		buf_reset(out);
		goto cleanup;
	}
	e = TL_OK;
cleanup:
	if (plain) {
		sodium_memzero(plain, plen);
		secret_json_free(plain);
	}
	free(sealed);
	json_decref(o);
	return e;
}

/* ---- reader ---- */

static bool
only_keys(json_t *o, const char *const *keys, size_t n)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v) {
		size_t i;

		(void)v;
		for (i = 0; i < n; i++)
			if (strcmp(k, keys[i]) == 0)
				break;
		if (i == n)
			return false;
	}
	return true;
}

static bool
get_fixed(json_t *o, const char *k, char *out, size_t outsz)
{
	json_t *s = json_object_get(o, k);

	if (!json_is_string(s) || json_string_length(s) >= outsz)
		return false;
	memcpy(out, json_string_value(s), json_string_length(s) + 1);
	return true;
}

static bool
get_int(json_t *o, const char *k, int64_t min, int64_t max, int64_t *out)
{
	json_t *n = json_object_get(o, k);

	if (!json_is_integer(n) || json_integer_value(n) < min || json_integer_value(n) > max)
		return false;
	*out = (int64_t)json_integer_value(n);
	return true;
}

/* Opens one row's sealed payee with the export key and decodes it. */
static enum tl_err
open_payee(struct payfile_row *r, const unsigned char *pk, const unsigned char *sk)
{
	size_t plen = r->sealed_len - crypto_box_SEALBYTES;
	unsigned char *plain = malloc(plen);
	enum tl_err e;

	if (!plain)
		return TL_ENOMEM;
	if (crypto_box_seal_open(plain, r->sealed, r->sealed_len, pk, sk) != 0) {
		e = TL_ECRYPTO;
		goto out;
	}
	e = wire_payee_decode((const char *)plain, plen, &r->payee);
out:
	sodium_memzero(plain, plen);
	free(plain);
	return e;
}

static const char *const top_keys[] = { "v",         "type",      "batch_id", "created_at",
	                                "scope",     "key_id",    "row_count", "total_fen",
	                                "rows" };
static const char *const row_keys[] = { "award_id", "share_idx", "district", "amount_fen",
	                                "report_id", "sealed_payee" };

static enum tl_err
parse_row(json_t *j, struct payfile_row *r, size_t i, char *why, size_t whylen)
{
	json_t *s = json_object_get(j, "sealed_payee");
	int64_t idx;
	size_t n;

	if (!json_is_object(j) || !only_keys(j, row_keys, TL_ARRAY_LEN(row_keys)) ||
	    !get_fixed(j, "award_id", r->award_id, sizeof(r->award_id)) ||
	    !get_fixed(j, "report_id", r->report_id, sizeof(r->report_id)) ||
	    !get_fixed(j, "district", r->district, sizeof(r->district)) ||
	    !get_int(j, "share_idx", 0, 63, &idx) ||
	    !get_int(j, "amount_fen", 1, PAYFILE_AMOUNT_MAX, &r->amount_fen) || !json_is_string(s) ||
	    (n = json_string_length(s)) == 0 ||
	    n > sodium_base64_encoded_len(PAYFILE_SEALED_MAX, sodium_base64_VARIANT_ORIGINAL)) {
		tl_why(why, whylen, "row %zu is malformed", i + 1);
		return TL_EPROTO;
	}
	r->share_idx = (int)idx;
	if (!(r->sealed = malloc(n)))
		return TL_ENOMEM;
	if (sodium_base642bin(r->sealed, n, json_string_value(s), n, NULL, &r->sealed_len, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    r->sealed_len <= crypto_box_SEALBYTES || r->sealed_len > PAYFILE_SEALED_MAX) {
		tl_why(why, whylen, "row %zu: the sealed payee is not valid base64 of a sealed box", i + 1);
		return TL_EPROTO;
	}
	return TL_OK;
}

static enum tl_err
parse_doc(json_t *j, struct payfile *pf, const char *key_id, char *why, size_t whylen)
{
	char kid[PAYFILE_KEYID_HEX + 2], t[RFC3339_LEN + 2];
	json_t *rows = json_object_get(j, "rows");
	int64_t v, count;
	enum tl_err e;

	if (!json_is_object(j) || !only_keys(j, top_keys, TL_ARRAY_LEN(top_keys)) ||
	    !get_int(j, "v", 1, 1, &v) || !json_is_string(json_object_get(j, "type")) ||
	    strcmp(json_string_value(json_object_get(j, "type")), "payfile") != 0 ||
	    !get_fixed(j, "batch_id", pf->batch_id, sizeof(pf->batch_id)) ||
	    !get_fixed(j, "scope", pf->scope, sizeof(pf->scope)) ||
	    !get_fixed(j, "key_id", kid, sizeof(kid)) || !get_fixed(j, "created_at", t, sizeof(t)) ||
	    time_parse_rfc3339(t, &pf->created_ms) != TL_OK ||
	    !get_int(j, "row_count", 0, PAYFILE_MAX_ROWS, &count) ||
	    !get_int(j, "total_fen", 0, INT64_MAX, &pf->total_fen) || !json_is_array(rows)) {
		tl_why(why, whylen, "the batch document is malformed (missing, extra or invalid fields)");
		return TL_EPROTO;
	}
	if (strcmp(kid, key_id) != 0) {
		tl_why(why, whylen, "the key line of the file was altered");
		return TL_EPROTO;
	}
	if (json_array_size(rows) != (size_t)count) {
		tl_why(why, whylen, "the file states %lld rows but holds %zu", (long long)count,
		    json_array_size(rows));
		return TL_EPROTO;
	}
	if (count == 0) {
		tl_why(why, whylen, "the batch has no rows");
		return TL_EPROTO;
	}
	if (!(pf->rows = calloc((size_t)count, sizeof(*pf->rows))))
		return TL_ENOMEM;
	pf->n_rows = (size_t)count;
	for (size_t i = 0; i < pf->n_rows; i++)
		if ((e = parse_row(json_array_get(rows, i), &pf->rows[i], i, why, whylen)) != TL_OK)
			return e;
	if (check_content(pf, why, whylen) != TL_OK)
		return TL_EPROTO;
	return TL_OK;
}

enum tl_err
payfile_open(const void *data, size_t len, const unsigned char sk[crypto_box_SECRETKEYBYTES],
             struct payfile *out, char *why, size_t whylen)
{
	const size_t mlen = sizeof(PAYFILE_MAGIC) - 1, hlen = mlen + KEYLINE_LEN;
	const unsigned char *p = data;
	unsigned char pk[crypto_box_PUBLICKEYBYTES];
	char mine[PAYFILE_KEYID_HEX + 1], theirs[PAYFILE_KEYID_HEX + 1];
	unsigned char *plain = NULL;
	size_t plen = 0;
	json_error_t jerr;
	json_t *j = NULL;
	enum tl_err e;

	memset(out, 0, sizeof(*out));
	if (memcmp(p, PAYFILE_MAGIC, len < mlen ? len : mlen) != 0) {
		tl_why(why, whylen, "not a Tipline payment file (it does not start with TLPAYFILE1)");
		return TL_EPROTO;
	}
	if (len <= hlen + crypto_box_SEALBYTES) {
		tl_why(why, whylen, "the file is truncated (%zu bytes)", len);
		return TL_EPROTO;
	}
	if (len > PAYFILE_MAX_BYTES) {
		tl_why(why, whylen, "the file is larger than %d bytes", PAYFILE_MAX_BYTES);
		return TL_EPROTO;
	}
	if (memcmp(p + mlen, "key ", 4) != 0 || p[hlen - 1] != '\n') {
		tl_why(why, whylen, "the file's key line is damaged");
		return TL_EPROTO;
	}
	memcpy(theirs, p + mlen + 4, PAYFILE_KEYID_HEX);
	theirs[PAYFILE_KEYID_HEX] = '\0';
	if (crypto_scalarmult_base(pk, sk) != 0) {
		tl_why(why, whylen, "the export secret key is invalid");
		return TL_ECRYPTO;
	}
	payfile_key_id(pk, mine);
	if (strcmp(mine, theirs) != 0) {
		tl_why(why, whylen, "wrong key: the file is sealed to export key %s, the key given is %s",
		    theirs, mine);
		return TL_ECRYPTO;
	}
	plen = len - hlen - crypto_box_SEALBYTES;
	if (!(plain = malloc(plen)))
		return TL_ENOMEM;
	if (crypto_box_seal_open(plain, p + hlen, len - hlen, pk, sk) != 0) {
		tl_why(why, whylen, "the file does not open with this key: it was truncated or altered "
		                 "after it was written");
		e = TL_ECRYPTO;
		goto cleanup;
	}
	if (!(j = json_loadb((const char *)plain, plen, JSON_REJECT_DUPLICATES, &jerr))) {
		tl_why(why, whylen, "the batch document is not valid JSON");
		e = TL_EPROTO;
		goto cleanup;
	}
	if ((e = parse_doc(j, out, mine, why, whylen)) != TL_OK)
		goto cleanup;
	for (size_t i = 0; i < out->n_rows; i++) {
		struct payfile_row *r = &out->rows[i];

		if ((e = open_payee(r, pk, sk)) != TL_OK) {
			tl_why(why, whylen, "row %zu (award %s share %d): the payee details %s", i + 1,
			    r->award_id, r->share_idx,
			    e == TL_ECRYPTO ? "do not open with this key" : "are malformed");
			if (e != TL_ENOMEM)
				e = e == TL_ECRYPTO ? TL_ECRYPTO : TL_EPROTO;
			goto cleanup;
		}
	}
	e = TL_OK;
cleanup:
	json_decref(j);
	if (plain) {
		sodium_memzero(plain, plen);
		free(plain);
	}
	sodium_memzero(pk, sizeof(pk));
	if (e != TL_OK)
		payfile_free(out);
	return e;
}
