/*
 * store_test.c - the vault core without NATS: sealed deposits in, rows and
 * rejections out.
 */
#include "compat.h"
#include "db.h"
#include "log.h"
#include "pseudonym.h"
#include "secret.h"
#include "timefmt.h"
#include "vault.h"
#include "wire.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>
#include <unistd.h>

struct fx {
	char dir[64], path[128];
	unsigned char dbkey[DB_KEY_LEN];
	unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
	unsigned char pseud[PSEUD_KEY_LEN];
	struct vault_keys *keys;
	struct db *db;
	struct vault *v;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tl_vault_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/vault.db", f->dir);
	randombytes_buf(f->dbkey, sizeof(f->dbkey));
	randombytes_buf(f->pseud, sizeof(f->pseud));
	crypto_box_keypair(f->pk, f->sk);
	assert_int_equal(vault_keys_new(f->sk, f->pk, f->pseud, &f->keys), TL_OK);
	assert_int_equal(db_open(f->path, f->dbkey, DB_CREATE, &f->db), TL_OK);
	assert_int_equal(vault_open(f->db, f->keys, &f->v), TL_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[160];
	const char *sfx[] = { "", "-wal", "-shm" };

	vault_close(f->v);
	db_close(f->db);
	vault_keys_free(f->keys);
	for (size_t i = 0; i < TL_ARRAY_LEN(sfx); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* How a test deposit is built (and broken). */
struct spec {
	const char *name, *phone, *email, *id_number, *wechat;
	const char *inner_report_id; /* NULL: same as the envelope */
	const char *inner_json;      /* sealed instead of a proper identity */
	const unsigned char *seal_pk; /* NULL: the vault's key */
	bool tamper;                 /* flip a ciphertext byte */
};

/* Builds a deposit message into out; returns its report_id in rid. */
static void
make_deposit(struct fx *f, const struct spec *s, struct buf *out, char rid[ID_HEX_LEN + 1])
{
	struct wire_identity id;
	struct wire_deposit d;
	struct buf plain;
	const char *pt;
	size_t ptlen;

	memset(&id, 0, sizeof(id));
	memset(&d, 0, sizeof(d));
	buf_init_secret(&plain, WIRE_MAX_MSG);
	id_new(d.report_id);
	memcpy(rid, d.report_id, ID_HEX_LEN + 1);
	snprintf(d.channel, sizeof(d.channel), "wechat");
	d.received_ms = 1700000000123;
	memset(d.status_key, 'a', STATUS_KEY_LEN);
	d.status_key[STATUS_KEY_LEN] = '\0';
	snprintf(id.report_id, sizeof(id.report_id), "%s", s->inner_report_id ? s->inner_report_id : d.report_id);
	memcpy(id.channel, d.channel, sizeof(id.channel));
	id.received_ms = d.received_ms;
	id.contact.name = (char *)s->name;
	id.contact.phone = (char *)s->phone;
	id.contact.email = (char *)s->email;
	id.contact.id_number = (char *)s->id_number;
	id.contact.wechat = (char *)s->wechat;
	id.text = (char *)"静海区某村有人用中频炉生产地条钢 CANARY-TIP";
	id.location = (char *)"静海区";
	id.channel_msg_id = (char *)"wx-msg-1";
	if (s->inner_json) {
		pt = s->inner_json;
		ptlen = strlen(s->inner_json);
	} else {
		assert_int_equal(wire_identity_encode(&id, &plain), TL_OK);
		pt = plain.data;
		ptlen = plain.len;
	}
	d.sealed_len = ptlen + crypto_box_SEALBYTES;
	d.sealed = malloc(d.sealed_len);
	assert_non_null(d.sealed);
	assert_int_equal(crypto_box_seal(d.sealed, (const unsigned char *)pt, ptlen,
	                                 s->seal_pk ? s->seal_pk : f->pk),
	                 0);
	if (s->tamper)
		d.sealed[d.sealed_len / 2] ^= 0x40;
	buf_init(out, WIRE_MAX_MSG);
	assert_int_equal(wire_deposit_encode(&d, out), TL_OK);
	free(d.sealed);
	buf_free(&plain);
}

static void
item_from(struct vault_item *it, const struct buf *b, uint64_t seq)
{
	memset(it, 0, sizeof(*it));
	it->subject = WIRE_SUBJ_DEPOSIT_REPORT;
	it->data = b->data;
	it->len = b->len;
	it->stream_seq = seq;
	it->delivered = 1;
}

static int64_t
count(struct fx *f, const char *sql, const char *arg)
{
	struct db_stmt *st;
	bool row;
	int64_t n;

	assert_int_equal(db_prepare(f->db, sql, &st), TL_OK);
	if (arg)
		assert_int_equal(db_bind_text(st, 1, arg), TL_OK);
	assert_int_equal(db_step(st, &row), TL_OK);
	assert_true(row);
	n = db_col_int64(st, 0);
	db_finalize(st);
	return n;
}

static char *
column(struct fx *f, const char *sql, const char *arg)
{
	struct db_stmt *st;
	const char *t;
	bool row;
	char *r;

	assert_int_equal(db_prepare(f->db, sql, &st), TL_OK);
	assert_int_equal(db_bind_text(st, 1, arg), TL_OK);
	assert_int_equal(db_step(st, &row), TL_OK);
	assert_true(row);
	t = db_col_text(st, 0);
	r = t ? strdup(t) : NULL;
	db_finalize(st);
	return r;
}

static void
test_stored(void **state)
{
	struct fx *f = *state;
	struct spec s = { .name = "张三", .phone = "+86 138-0013-8000", .email = "Z@Example.cn" };
	struct vault_item it;
	struct buf b;
	char rid[ID_HEX_LEN + 1], want[PSEUD_HEX_LEN + 1], *got;

	make_deposit(f, &s, &b, rid);
	item_from(&it, &b, 7);
	assert_int_equal(vault_store_batch(f->v, &it, 1), TL_OK);
	assert_int_equal(it.outcome, VAULT_STORED);
	assert_string_equal(it.report_id, rid);
	assert_int_equal(count(f, "SELECT count(*) FROM deposits WHERE report_id = ?1;", rid), 1);
	got = column(f, "SELECT name FROM deposits WHERE report_id = ?1;", rid);
	assert_string_equal(got, "张三");
	free(got);
	got = column(f, "SELECT text FROM deposits WHERE report_id = ?1;", rid);
	assert_non_null(strstr(got, "CANARY-TIP"));
	free(got);
	/* The reporter's pseudonym is the phone's (strongest present). */
	assert_int_equal(pseud_compute(f->pseud, PSEUD_PHONE, "13800138000", want), TL_OK);
	got = column(f, "SELECT pseudonym FROM deposits WHERE report_id = ?1;", rid);
	assert_string_equal(got, want);
	free(got);
	assert_int_equal(count(f, "SELECT count(*) FROM reporter_keys WHERE report_id = ?1;", rid), 2);
	assert_int_equal(count(f, "SELECT received_at FROM deposits WHERE report_id = ?1;", rid),
	                 1700000000123);
	buf_free(&b);
}

static void
test_duplicate_one_row(void **state)
{
	struct fx *f = *state;
	struct spec s = { .phone = "13800138000" };
	struct vault_item it[3];
	struct buf b;
	char rid[ID_HEX_LEN + 1];

	make_deposit(f, &s, &b, rid);
	item_from(&it[0], &b, 1);
	item_from(&it[1], &b, 1); /* redelivered within the same batch */
	assert_int_equal(vault_store_batch(f->v, it, 2), TL_OK);
	assert_int_equal(it[0].outcome, VAULT_STORED);
	assert_int_equal(it[1].outcome, VAULT_DUPLICATE);
	item_from(&it[2], &b, 1); /* and after a crash before the ack */
	assert_int_equal(vault_store_batch(f->v, &it[2], 1), TL_OK);
	assert_int_equal(it[2].outcome, VAULT_DUPLICATE);
	assert_int_equal(count(f, "SELECT count(*) FROM deposits WHERE report_id = ?1;", rid), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM reporter_keys WHERE report_id = ?1;", rid), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM rejected WHERE ?1 IS NOT NULL;", "x"), 0);
	buf_free(&b);
}

static void
expect_rejected(struct fx *f, const struct spec *s, enum vault_reason why)
{
	struct vault_item it;
	struct buf b;
	char rid[ID_HEX_LEN + 1];
	int64_t before = count(f, "SELECT count(*) FROM rejected WHERE ?1 IS NOT NULL;", "x");

	make_deposit(f, s, &b, rid);
	item_from(&it, &b, 42 + (uint64_t)before);
	assert_int_equal(vault_store_batch(f->v, &it, 1), TL_OK);
	assert_int_equal(it.outcome, VAULT_REJECTED);
	assert_int_equal(it.reason, why);
	assert_int_equal(count(f, "SELECT count(*) FROM deposits WHERE report_id = ?1;", rid), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM rejected WHERE reason = ?1;", vault_reason_name(why)),
	                 1);
	/* Redelivery of the same poison records nothing new. */
	assert_int_equal(vault_store_batch(f->v, &it, 1), TL_OK);
	assert_int_equal(it.outcome, VAULT_REJECTED);
	assert_int_equal(count(f, "SELECT count(*) FROM rejected WHERE ?1 IS NOT NULL;", "x"), before + 1);
	buf_free(&b);
}

static void
test_tampered_rejected(void **state)
{
	struct spec s = { .name = "李四", .tamper = true };

	expect_rejected(*state, &s, VAULT_R_OPEN);
}

static void
test_other_key_rejected(void **state)
{
	unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
	struct spec s = { .name = "李四", .seal_pk = pk };

	crypto_box_keypair(pk, sk);
	expect_rejected(*state, &s, VAULT_R_OPEN);
}

static void
test_report_id_mismatch_rejected(void **state)
{
	struct spec s = { .name = "王五", .inner_report_id = "0123456789abcdef0123456789abcdef" };

	expect_rejected(*state, &s, VAULT_R_MISMATCH);
}

static void
test_wrong_inner_version_rejected(void **state)
{
	struct spec s = { .inner_json = "{\"v\":2,\"type\":\"identity\",\"report_id\":"
	                                "\"0123456789abcdef0123456789abcdef\",\"channel\":\"web\","
	                                "\"received_at\":\"2026-11-27T08:52:01.123Z\",\"text\":\"x\"}" };

	expect_rejected(*state, &s, VAULT_R_IDENTITY);
}

static void
test_garbage_inner_rejected(void **state)
{
	struct spec s = { .inner_json = "not json at all" };

	expect_rejected(*state, &s, VAULT_R_IDENTITY);
}

static void
test_envelope_rejected(void **state)
{
	struct fx *f = *state;
	static const char *bad[] = {
		"{\"v\":2,\"type\":\"deposit\"}",
		"{\"v\":1,\"type\":\"lead\"}",
		"",
		"\x00\x01\x02",
		"{\"v\":1,\"type\":\"deposit\",\"report_id\":\"zz\"}",
	};
	struct vault_item it[TL_ARRAY_LEN(bad)];

	for (size_t i = 0; i < TL_ARRAY_LEN(bad); i++) {
		memset(&it[i], 0, sizeof(it[i]));
		it[i].subject = WIRE_SUBJ_DEPOSIT_REPORT;
		it[i].data = bad[i];
		it[i].len = i == 3 ? 3 : strlen(bad[i]);
		it[i].stream_seq = 100 + i;
		it[i].delivered = 1;
	}
	assert_int_equal(vault_store_batch(f->v, it, TL_ARRAY_LEN(bad)), TL_OK);
	for (size_t i = 0; i < TL_ARRAY_LEN(bad); i++) {
		assert_int_equal(it[i].outcome, VAULT_REJECTED);
		assert_int_equal(it[i].reason, VAULT_R_ENVELOPE);
	}
	assert_int_equal(count(f, "SELECT count(*) FROM rejected WHERE reason = ?1;", "envelope"),
	                 (int64_t)TL_ARRAY_LEN(bad));
}

static void
test_wrong_subject_rejected(void **state)
{
	struct fx *f = *state;
	struct spec s = { .name = "赵六" };
	struct vault_item it;
	struct buf b;
	char rid[ID_HEX_LEN + 1];

	make_deposit(f, &s, &b, rid);
	item_from(&it, &b, 5);
	it.subject = "tl.deposit.other";
	assert_int_equal(vault_store_batch(f->v, &it, 1), TL_OK);
	assert_int_equal(it.outcome, VAULT_REJECTED);
	assert_int_equal(it.reason, VAULT_R_SUBJECT);
	buf_free(&b);
}

/* One poison message must not hold back the good ones around it. */
static void
test_mixed_batch(void **state)
{
	struct fx *f = *state;
	struct spec good = { .wechat = "wxid_Reporter" }, poison = { .tamper = true };
	struct vault_item it[3];
	struct buf b[3];
	char rid[3][ID_HEX_LEN + 1];

	make_deposit(f, &good, &b[0], rid[0]);
	make_deposit(f, &poison, &b[1], rid[1]);
	make_deposit(f, &good, &b[2], rid[2]);
	for (int i = 0; i < 3; i++)
		item_from(&it[i], &b[i], (uint64_t)i + 1);
	assert_int_equal(vault_store_batch(f->v, it, 3), TL_OK);
	assert_int_equal(it[0].outcome, VAULT_STORED);
	assert_int_equal(it[1].outcome, VAULT_REJECTED);
	assert_int_equal(it[2].outcome, VAULT_STORED);
	assert_int_equal(count(f, "SELECT count(*) FROM deposits WHERE ?1 IS NOT NULL;", "x"), 2);
	/* same WeChat id: same reporter pseudonym on both deposits */
	assert_int_equal(count(f, "SELECT count(DISTINCT pseudonym) FROM deposits WHERE ?1 IS NOT NULL;",
	                       "x"),
	                 1);
	assert_int_equal(count(f, "SELECT count(*) FROM rejected WHERE report_id = ?1;", rid[1]), 1);
	for (int i = 0; i < 3; i++)
		buf_free(&b[i]);
}

static void
test_anonymous(void **state)
{
	struct fx *f = *state;
	struct spec s = { 0 };
	struct vault_item it;
	struct buf b;
	char rid[ID_HEX_LEN + 1];

	make_deposit(f, &s, &b, rid);
	item_from(&it, &b, 9);
	assert_int_equal(vault_store_batch(f->v, &it, 1), TL_OK);
	assert_int_equal(it.outcome, VAULT_STORED);
	assert_int_equal(count(f, "SELECT count(*) FROM deposits WHERE report_id = ?1 AND pseudonym IS NULL;",
	                       rid),
	                 1);
	assert_int_equal(count(f, "SELECT count(*) FROM reporter_keys WHERE report_id = ?1;", rid), 0);
	buf_free(&b);
}

/* A second open of the same database keeps the data and re-applies no
 * schema step. */
static void
test_reopen(void **state)
{
	struct fx *f = *state;
	struct spec s = { .email = "a@b.cn" };
	struct vault_item it;
	struct buf b;
	char rid[ID_HEX_LEN + 1];

	make_deposit(f, &s, &b, rid);
	item_from(&it, &b, 3);
	assert_int_equal(vault_store_batch(f->v, &it, 1), TL_OK);
	vault_close(f->v);
	db_close(f->db);
	f->v = NULL;
	f->db = NULL;
	assert_int_equal(db_open(f->path, f->dbkey, 0, &f->db), TL_OK);
	assert_int_equal(vault_open(f->db, f->keys, &f->v), TL_OK);
	assert_int_equal(count(f, "SELECT count(*) FROM deposits WHERE report_id = ?1;", rid), 1);
	assert_int_equal(vault_store_batch(f->v, &it, 1), TL_OK);
	assert_int_equal(it.outcome, VAULT_DUPLICATE);
	buf_free(&b);
}

static void
test_keys_load_checks_pair(void **state)
{
	struct fx *f = *state;
	unsigned char pk2[crypto_box_PUBLICKEYBYTES], sk2[crypto_box_SECRETKEYBYTES];
	char skp[160], pkp[160], pk2p[160], psp[160], why[512];
	struct vault_keys *k = NULL;

	crypto_box_keypair(pk2, sk2);
	snprintf(skp, sizeof(skp), "%s/box.key", f->dir);
	snprintf(pkp, sizeof(pkp), "%s/box.pub", f->dir);
	snprintf(pk2p, sizeof(pk2p), "%s/other.pub", f->dir);
	snprintf(psp, sizeof(psp), "%s/pseud.key", f->dir);
	assert_int_equal(key_write(skp, f->sk, sizeof(f->sk), 0600), TL_OK);
	assert_int_equal(key_write(pkp, f->pk, sizeof(f->pk), 0644), TL_OK);
	assert_int_equal(key_write(pk2p, pk2, sizeof(pk2), 0644), TL_OK);
	assert_int_equal(key_write(psp, f->pseud, sizeof(f->pseud), 0600), TL_OK);
	assert_int_equal(vault_keys_load(skp, pkp, psp, &k, why, sizeof(why)), TL_OK);
	assert_memory_equal(k->box_pk, f->pk, sizeof(f->pk));
	vault_keys_free(k);
	k = NULL;
	assert_int_equal(vault_keys_load(skp, pk2p, psp, &k, why, sizeof(why)), TL_ECONFIG);
	assert_null(k);
	assert_non_null(strstr(why, "does not belong"));
	unlink(skp);
	unlink(pkp);
	unlink(pk2p);
	unlink(psp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_one_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_key_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_id_mismatch_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_inner_version_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_inner_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_envelope_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_subject_rejected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mixed_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_anonymous, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_load_checks_pair, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	log_init("store_test", LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
