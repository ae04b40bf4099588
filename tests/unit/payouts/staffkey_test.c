/*
 * staffkey_test.c - approvers' password-sealed signing keys: the public
 * key is registered with the core, a signature made with the right
 * password verifies over the award's canonical bytes, a wrong password
 * signs nothing, the unsealed secret never outlives the call, a password
 * change needs the old password and re-seals the same key, and a
 * tampered row is refused.
 */
#include "svc_fixture.h"
#include "num.h"

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fx_open(f, 60 * 86400);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	fx_close(f);
	free(f);
	return 0;
}

static void
record(struct award_record *r)
{
	memset(r, 0, sizeof(*r));
	fx_id(r->a.award_id, 'e', 1);
	fx_id(r->a.case_id, 'a', 1);
	snprintf(r->a.district, sizeof(r->a.district), "120116");
	r->a.budget_year = 2026;
	r->a.computed_fen = r->a.total_fen = 500000;
	r->a.n_shares = 1;
	fx_id(r->a.shares[0].report_id, 'b', 1);
	r->a.shares[0].fen = 500000;
	r->a.shares[0].kind = AWARD_SHARE_FIRST;
	snprintf(r->a.payee_ref, sizeof(r->a.payee_ref), "%s", CASES_PAYEE_REF);
	snprintf(r->a.proposer, sizeof(r->a.proposer), "fin.li");
	r->version = 1;
	r->required_approvals = 1;
}

static bool
verifies(const struct award_record *r, const unsigned char *sig, const unsigned char *pk)
{
	char canon[APPROVAL_CANON_MAX];
	size_t len;

	assert_int_equal(award_canonical(r, APPROVAL_APPROVE, canon, sizeof(canon), &len), TL_OK);
	return crypto_sign_verify_detached(sig, (const unsigned char *)canon, len, pk) == 0;
}

static void
test_create_sign(void **state)
{
	struct fx *f = *state;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sig[APPROVAL_SIG_LEN];
	char pkhex[65];
	struct staffkey_sealed k;
	struct award_record r;
	struct db_stmt *st;
	bool row;

	assert_int_equal(staffkey_create(f->s.core, "fin.wang", STAFF_CITY, "correct horse battery", 1, pk), TL_OK);
	/* The core has the same public key, at city level. */
	assert_int_equal(db_prepare(f->s.db, "SELECT level, pk FROM staff WHERE staff_id = 'fin.wang';", &st), TL_OK);
	assert_int_equal(db_step(st, &row), TL_OK);
	assert_true(row);
	hex_encode(pk, sizeof(pk), pkhex);
	assert_string_equal(db_col_text(st, 0), "city");
	assert_string_equal(db_col_text(st, 1), pkhex);
	db_finalize(st);
	/* The secret is not stored in clear anywhere in the row. */
	assert_int_equal(staffkey_load(f->s.db, "fin.wang", &k), TL_OK);
	assert_memory_equal(k.pk, pk, sizeof(pk));
	record(&r);
	assert_int_equal(staffkey_sign(&k, "correct horse battery", &r, APPROVAL_APPROVE, sig), TL_OK);
	assert_true(verifies(&r, sig, pk));
	assert_int_equal(staffkey_live_secrets(), 0);
	/* One key per staff id, never replaced. */
	assert_int_equal(staffkey_create(f->s.core, "fin.wang", STAFF_CITY, "another password!", 1, pk), TL_EEXIST);
}

static void
test_wrong_password(void **state)
{
	struct fx *f = *state;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sig[APPROVAL_SIG_LEN];
	struct staffkey_sealed k;
	struct award_record r;

	assert_int_equal(staffkey_create(f->s.core, "fin.zhao", STAFF_DISTRICT, "correct horse battery", 1, pk),
	                 TL_OK);
	assert_int_equal(staffkey_load(f->s.db, "fin.zhao", &k), TL_OK);
	record(&r);
	memset(sig, 0, sizeof(sig));
	assert_int_equal(staffkey_sign(&k, "correct horse batterx", &r, APPROVAL_APPROVE, sig), TL_EDENIED);
	assert_int_equal(staffkey_sign(&k, "", &r, APPROVAL_APPROVE, sig), TL_EDENIED);
	assert_false(verifies(&r, sig, pk));
	/* Every refused unseal released (and wiped) its buffer. */
	assert_int_equal(staffkey_live_secrets(), 0);
	assert_int_equal(staffkey_load(f->s.db, "nobody", &k), TL_ENOTFOUND);
}

static void
test_rewrap(void **state)
{
	struct fx *f = *state;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sig[APPROVAL_SIG_LEN];
	struct staffkey_sealed k;
	struct award_record r;

	record(&r);
	assert_int_equal(staffkey_create(f->s.core, "fin.qian", STAFF_DISTRICT, "old password 123", 1, pk), TL_OK);
	/* Without the old password nothing changes. */
	assert_int_equal(staffkey_rewrap(f->s.db, "fin.qian", "not the password", "new password 456", 2), TL_EDENIED);
	assert_int_equal(staffkey_load(f->s.db, "fin.qian", &k), TL_OK);
	assert_int_equal(staffkey_sign(&k, "old password 123", &r, APPROVAL_APPROVE, sig), TL_OK);
	/* With it, the same key is sealed under the new one only. */
	assert_int_equal(staffkey_rewrap(f->s.db, "fin.qian", "old password 123", "new password 456", 3), TL_OK);
	assert_int_equal(staffkey_load(f->s.db, "fin.qian", &k), TL_OK);
	assert_memory_equal(k.pk, pk, sizeof(pk));
	assert_int_equal(staffkey_sign(&k, "old password 123", &r, APPROVAL_APPROVE, sig), TL_EDENIED);
	assert_int_equal(staffkey_sign(&k, "new password 456", &r, APPROVAL_APPROVE, sig), TL_OK);
	assert_true(verifies(&r, sig, pk));
	assert_int_equal(staffkey_live_secrets(), 0);
}

/* Someone with the database key swaps the stored public key: the sealed
 * secret no longer matches it and nothing is signed. */
static void
test_tampered(void **state)
{
	struct fx *f = *state;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sig[APPROVAL_SIG_LEN], opk[crypto_sign_PUBLICKEYBYTES],
		osk[crypto_sign_SECRETKEYBYTES];
	char hex[65], sql[256];
	struct staffkey_sealed k;
	struct award_record r;

	record(&r);
	assert_int_equal(staffkey_create(f->s.core, "fin.sun", STAFF_DISTRICT, "the password 789", 1, pk), TL_OK);
	crypto_sign_keypair(opk, osk);
	hex_encode(opk, sizeof(opk), hex);
	snprintf(sql, sizeof(sql), "UPDATE staffkeys SET pk = '%s' WHERE staff_id = 'fin.sun';", hex);
	assert_int_equal(db_exec(f->s.db, sql), TL_OK);
	assert_int_equal(staffkey_load(f->s.db, "fin.sun", &k), TL_OK);
	assert_int_equal(staffkey_sign(&k, "the password 789", &r, APPROVAL_APPROVE, sig), TL_ECRYPTO);
	/* A flipped bit in the sealed box: as good as a wrong password. */
	assert_int_equal(staffkey_create(f->s.core, "fin.zhou", STAFF_DISTRICT, "the password 789", 1, pk), TL_OK);
	assert_int_equal(staffkey_load(f->s.db, "fin.zhou", &k), TL_OK);
	k.box[5] ^= 1;
	assert_int_equal(staffkey_sign(&k, "the password 789", &r, APPROVAL_APPROVE, sig), TL_EDENIED);
	/* A stored cost outside sane bounds is refused before any work. */
	assert_int_equal(staffkey_load(f->s.db, "fin.zhou", &k), TL_OK);
	k.memlimit = (size_t)1 << 40;
	assert_int_equal(staffkey_sign(&k, "the password 789", &r, APPROVAL_APPROVE, sig), TL_EINVAL);
	assert_int_equal(staffkey_live_secrets(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_sign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_password, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rewrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tampered, setup, teardown),
	};

	log_init("staffkey_test", LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
