/* Unit tests for common/payfile.c: the sealed payment batch file. */
#include "compat.h"

#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>

#include "buf.h"
#include "payfile.h"
#include "secret.h"
#include "wire.h"

#define NROWS 3

struct fx {
	unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
	struct payfile pf;
	struct buf file;
};

static const char *const names[NROWS] = { "张三丰", "李四", "王五" };

/* What the vault does on reveal: seal the payee JSON to the export key. */
static void
seal_payee(const unsigned char *pk, int i, unsigned char **out, size_t *outlen)
{
	struct wire_payee p = { .name = (char *)names[i], .id_number = "11010519491231002X",
		                .bank = "中国工商银行天津分行", .account = "6222020302001234567",
		                .phone = "13800138000" };
	struct buf b;

	(void)snprintf(p.claim_id, sizeof(p.claim_id), "%032x", i + 1);
	buf_init_secret(&b, 8192);
	assert_int_equal(wire_payee_encode(&p, &b), TL_OK);
	*outlen = b.len + crypto_box_SEALBYTES;
	*out = malloc(*outlen);
	assert_non_null(*out);
	assert_int_equal(crypto_box_seal(*out, (const unsigned char *)b.data, b.len, pk), 0);
	buf_free(&b);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char why[256];

	if (!f || secret_init() != TL_OK)
		return -1;
	crypto_box_keypair(f->pk, f->sk);
	(void)snprintf(f->pf.batch_id, sizeof(f->pf.batch_id), "%032x", 0xbadc0de);
	(void)snprintf(f->pf.scope, sizeof(f->pf.scope), "120116");
	f->pf.created_ms = INT64_C(1795000000123);
	f->pf.n_rows = NROWS;
	f->pf.rows = calloc(NROWS, sizeof(*f->pf.rows));
	for (int i = 0; i < NROWS; i++) {
		struct payfile_row *r = &f->pf.rows[i];

		(void)snprintf(r->award_id, sizeof(r->award_id), "%032x", 0xa0 + (i / 2));
		r->share_idx = i % 2;
		(void)snprintf(r->district, sizeof(r->district), "120116");
		r->amount_fen = 100000 + i;
		(void)snprintf(r->report_id, sizeof(r->report_id), "%032x", 0x70 + i);
		seal_payee(f->pk, i, &r->sealed, &r->sealed_len);
		f->pf.total_fen += r->amount_fen;
	}
	buf_init(&f->file, PAYFILE_MAX_BYTES);
	if (payfile_seal(&f->pf, f->pk, &f->file, why, sizeof(why)) != TL_OK)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	payfile_free(&f->pf);
	buf_free(&f->file);
	free(f);
	return 0;
}

static void
test_round_trip(void **state)
{
	struct fx *f = *state;
	struct payfile got;
	char why[256] = "";

	/* The file starts with the magic and the key line, and holds no payee
	 * or amount in clear. */
	assert_memory_equal(f->file.data, PAYFILE_MAGIC, strlen(PAYFILE_MAGIC));
	assert_null(memmem(f->file.data, f->file.len, names[0], strlen(names[0])));
	assert_null(memmem(f->file.data, f->file.len, "6222020302001234567", 19));
	assert_null(memmem(f->file.data, f->file.len, f->pf.rows[0].award_id, ID_HEX_LEN));

	assert_int_equal(payfile_open(f->file.data, f->file.len, f->sk, &got, why, sizeof(why)), TL_OK);
	assert_string_equal(got.batch_id, f->pf.batch_id);
	assert_string_equal(got.scope, "120116");
	assert_int_equal(got.created_ms, f->pf.created_ms);
	assert_int_equal(got.total_fen, 300003);
	assert_int_equal(got.n_rows, NROWS);
	for (int i = 0; i < NROWS; i++) {
		assert_string_equal(got.rows[i].award_id, f->pf.rows[i].award_id);
		assert_int_equal(got.rows[i].share_idx, f->pf.rows[i].share_idx);
		assert_int_equal(got.rows[i].amount_fen, 100000 + i);
		assert_string_equal(got.rows[i].report_id, f->pf.rows[i].report_id);
		assert_string_equal(got.rows[i].payee.name, names[i]);
		assert_string_equal(got.rows[i].payee.account, "6222020302001234567");
		assert_string_equal(got.rows[i].payee.id_number, "11010519491231002X");
	}
	payfile_free(&got);
}

static void
test_wrong_key(void **state)
{
	struct fx *f = *state;
	unsigned char pk2[crypto_box_PUBLICKEYBYTES], sk2[crypto_box_SECRETKEYBYTES];
	struct payfile got;
	char why[256] = "";

	crypto_box_keypair(pk2, sk2);
	assert_int_equal(payfile_open(f->file.data, f->file.len, sk2, &got, why, sizeof(why)),
	                 TL_ECRYPTO);
	assert_non_null(strstr(why, "wrong key"));
	assert_int_equal(got.n_rows, 0);
	assert_null(got.rows);
}

/* Every single changed byte, anywhere in the file, is refused. */
static void
test_flip_every_byte(void **state)
{
	struct fx *f = *state;
	unsigned char *copy = malloc(f->file.len);
	struct payfile got;
	char why[256];

	assert_non_null(copy);
	for (size_t i = 0; i < f->file.len; i++) {
		memcpy(copy, f->file.data, f->file.len);
		copy[i] ^= (unsigned char)(1u << (i % 8));
		why[0] = '\0';
		if (payfile_open(copy, f->file.len, f->sk, &got, why, sizeof(why)) == TL_OK)
			fail_msg("byte %zu flipped and the file still opened", i);
		assert_true(why[0] != '\0');
		assert_null(got.rows);
	}
	free(copy);
}

static void
test_truncated(void **state)
{
	struct fx *f = *state;
	struct payfile got;
	char why[256];

	for (size_t n = 0; n < f->file.len; n++) {
		enum tl_err e = payfile_open(f->file.data, n, f->sk, &got, why, sizeof(why));

		if (e == TL_OK)
			fail_msg("truncated to %zu bytes and the file still opened", n);
		assert_null(got.rows);
	}
	assert_int_equal(payfile_open(f->file.data, 20, f->sk, &got, why, sizeof(why)), TL_EPROTO);
	assert_non_null(strstr(why, "truncated"));
	assert_int_equal(payfile_open("PK\3\4zipfile", 11, f->sk, &got, why, sizeof(why)), TL_EPROTO);
	assert_non_null(strstr(why, "not a Tipline payment file"));
}

/* Builds a file around a hand-written document, sealed to the right key:
 * what a forger holding the public key could make. */
static void
craft(struct fx *f, const char *doc, struct buf *out)
{
	char kid[PAYFILE_KEYID_HEX + 1], line[32];
	size_t n = strlen(doc);
	unsigned char *s = malloc(n + crypto_box_SEALBYTES);

	assert_non_null(s);
	payfile_key_id(f->pk, kid);
	assert_int_equal(crypto_box_seal(s, (const unsigned char *)doc, n, f->pk), 0);
	(void)snprintf(line, sizeof(line), "key %s\n", kid);
	buf_init(out, PAYFILE_MAX_BYTES);
	assert_int_equal(buf_append_str(out, PAYFILE_MAGIC), TL_OK);
	assert_int_equal(buf_append_str(out, line), TL_OK);
	assert_int_equal(buf_append(out, s, n + crypto_box_SEALBYTES), TL_OK);
	free(s);
}

/* One document with a row whose amount, the stated count and total can be
 * chosen. */
static void
doc_with(struct fx *f, int64_t amount, int count, int64_t total, int nrows, struct buf *doc)
{
	char kid[PAYFILE_KEYID_HEX + 1];
	size_t n = sodium_base64_encoded_len(f->pf.rows[0].sealed_len, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(n);

	assert_non_null(b64);
	sodium_bin2base64(b64, n, f->pf.rows[0].sealed, f->pf.rows[0].sealed_len,
	                  sodium_base64_VARIANT_ORIGINAL);
	payfile_key_id(f->pk, kid);
	buf_init(doc, 1 << 20);
	assert_int_equal(buf_printf(doc,
	                            "{\"v\":1,\"type\":\"payfile\",\"batch_id\":\"%s\","
	                            "\"created_at\":\"2026-11-27T08:00:00.000Z\",\"scope\":\"all\","
	                            "\"key_id\":\"%s\",\"row_count\":%d,\"total_fen\":%lld,\"rows\":[",
	                            f->pf.batch_id, kid, count, (long long)total),
	                 TL_OK);
	for (int i = 0; i < nrows; i++)
		assert_int_equal(buf_printf(doc,
		                            "%s{\"award_id\":\"%032x\",\"share_idx\":0,\"district\":\"120116\","
		                            "\"amount_fen\":%lld,\"report_id\":\"%032x\",\"sealed_payee\":\"%s\"}",
		                            i ? "," : "", 0xc0 + i, (long long)amount, 0x10 + i, b64),
		                 TL_OK);
	assert_int_equal(buf_append_str(doc, "]}"), TL_OK);
	free(b64);
}

static void
expect_refused(struct fx *f, struct buf *doc, enum tl_err want, const char *needle)
{
	struct buf file;
	struct payfile got;
	char why[256] = "";

	craft(f, doc->data, &file);
	assert_int_equal(payfile_open(file.data, file.len, f->sk, &got, why, sizeof(why)), want);
	if (!strstr(why, needle))
		fail_msg("message \"%s\" does not mention \"%s\"", why, needle);
	assert_null(got.rows);
	buf_free(&file);
	buf_free(doc);
}

static void
test_crafted_ok(void **state)
{
	struct fx *f = *state;
	struct buf doc, file;
	struct payfile got;
	char why[256] = "";

	/* The control: the hand-written document is accepted when consistent,
	 * so the refusals below are about the one field each one changes. */
	doc_with(f, 5000, 2, 10000, 2, &doc);
	craft(f, doc.data, &file);
	assert_int_equal(payfile_open(file.data, file.len, f->sk, &got, why, sizeof(why)), TL_OK);
	assert_int_equal(got.n_rows, 2);
	assert_string_equal(got.rows[1].payee.name, names[0]);
	payfile_free(&got);
	buf_free(&file);
	buf_free(&doc);
}

static void
test_tampered_total(void **state)
{
	struct fx *f = *state;
	struct buf doc;

	doc_with(f, 5000, 2, 10001, 2, &doc);
	expect_refused(f, &doc, TL_EPROTO, "does not equal the sum of the rows");
	doc_with(f, 5000, 3, 10000, 2, &doc);
	expect_refused(f, &doc, TL_EPROTO, "states 3 rows but holds 2");
	doc_with(f, 50000001, 1, 50000001, 1, &doc);
	expect_refused(f, &doc, TL_EPROTO, "row 1 is malformed");
	doc_with(f, -5, 1, 0, 1, &doc);
	expect_refused(f, &doc, TL_EPROTO, "row 1 is malformed");
}

static void
test_empty_refused(void **state)
{
	struct fx *f = *state;
	struct payfile empty = f->pf;
	struct buf out, doc;
	char why[256] = "";

	empty.n_rows = 0;
	empty.total_fen = 0;
	buf_init(&out, PAYFILE_MAX_BYTES);
	assert_int_equal(payfile_seal(&empty, f->pk, &out, why, sizeof(why)), TL_EINVAL);
	assert_non_null(strstr(why, "no rows"));
	assert_int_equal(out.len, 0);
	buf_free(&out);

	doc_with(f, 5000, 0, 0, 0, &doc);
	expect_refused(f, &doc, TL_EPROTO, "no rows");
}

static void
test_writer_refuses_inconsistent(void **state)
{
	struct fx *f = *state;
	struct buf out;
	char why[256] = "";
	int64_t total = f->pf.total_fen;

	buf_init(&out, PAYFILE_MAX_BYTES);
	f->pf.total_fen = total + 1;
	assert_int_equal(payfile_seal(&f->pf, f->pk, &out, why, sizeof(why)), TL_EINVAL);
	assert_non_null(strstr(why, "does not equal"));
	f->pf.total_fen = total;

	/* The same share twice would pay a reporter twice. */
	f->pf.rows[1].share_idx = f->pf.rows[0].share_idx;
	assert_int_equal(payfile_seal(&f->pf, f->pk, &out, why, sizeof(why)), TL_EINVAL);
	assert_non_null(strstr(why, "same share"));
	f->pf.rows[1].share_idx = 1;

	/* A one-district batch cannot carry another district's row. */
	(void)snprintf(f->pf.rows[2].district, sizeof(f->pf.rows[2].district), "120115");
	assert_int_equal(payfile_seal(&f->pf, f->pk, &out, why, sizeof(why)), TL_EINVAL);
	assert_non_null(strstr(why, "outside the batch's district"));
	assert_int_equal(out.len, 0);
	buf_free(&out);
}

static void
test_duplicate_share_in_file(void **state)
{
	struct fx *f = *state;
	struct buf doc;
	char kid[PAYFILE_KEYID_HEX + 1];
	size_t n = sodium_base64_encoded_len(f->pf.rows[0].sealed_len, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(n);

	assert_non_null(b64);
	sodium_bin2base64(b64, n, f->pf.rows[0].sealed, f->pf.rows[0].sealed_len,
	                  sodium_base64_VARIANT_ORIGINAL);
	payfile_key_id(f->pk, kid);
	buf_init(&doc, 1 << 20);
	assert_int_equal(buf_printf(&doc,
	                            "{\"v\":1,\"type\":\"payfile\",\"batch_id\":\"%s\","
	                            "\"created_at\":\"2026-11-27T08:00:00.000Z\",\"scope\":\"all\","
	                            "\"key_id\":\"%s\",\"row_count\":2,\"total_fen\":200,\"rows\":["
	                            "{\"award_id\":\"%032x\",\"share_idx\":1,\"district\":\"120116\","
	                            "\"amount_fen\":100,\"report_id\":\"%032x\",\"sealed_payee\":\"%s\"},"
	                            "{\"award_id\":\"%032x\",\"share_idx\":1,\"district\":\"120116\","
	                            "\"amount_fen\":100,\"report_id\":\"%032x\",\"sealed_payee\":\"%s\"}]}",
	                            f->pf.batch_id, kid, 0xc0, 0x10, b64, 0xc0, 0x11, b64),
	                 TL_OK);
	free(b64);
	expect_refused(f, &doc, TL_EPROTO, "same share");
}

/* A row whose payee was sealed to another key (say, a vault that was
 * configured with another export key) names the row. */
static void
test_payee_other_key(void **state)
{
	struct fx *f = *state;
	unsigned char pk2[crypto_box_PUBLICKEYBYTES], sk2[crypto_box_SECRETKEYBYTES];
	struct buf out;
	struct payfile got;
	char why[256] = "";

	crypto_box_keypair(pk2, sk2);
	free(f->pf.rows[2].sealed);
	seal_payee(pk2, 2, &f->pf.rows[2].sealed, &f->pf.rows[2].sealed_len);
	buf_init(&out, PAYFILE_MAX_BYTES);
	assert_int_equal(payfile_seal(&f->pf, f->pk, &out, why, sizeof(why)), TL_OK);
	assert_int_equal(payfile_open(out.data, out.len, f->sk, &got, why, sizeof(why)), TL_ECRYPTO);
	assert_non_null(strstr(why, "row 3"));
	assert_non_null(strstr(why, "do not open with this key"));
	assert_null(got.rows);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flip_every_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crafted_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_total, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_refuses_inconsistent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_share_in_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_payee_other_key, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
