/*
 * awardsig_compat_test.c - common/awardsig (what the vault verifies) and
 * payouts' award_canonical() (what approvers sign) write the same bytes
 * for every award the payouts core accepts, and awardsig_parse() reads
 * them back to the same values.  If the two ever drift, the vault refuses
 * every reveal with "signature": this test says so first.
 */
#include "compat.h"
#include "approval.h"
#include "award.h"
#include "awardsig.h"
#include "db.h"
#include "ids.h"
#include "payouts.h"
#include "secret.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>
#include <unistd.h>

#define DISTRICT "120116"
#define YEAR 2026

struct fx {
	char dir[64], path[128];
	unsigned char dbkey[DB_KEY_LEN];
	struct db *db;
	struct payouts *p;
	unsigned char pk[3][crypto_sign_PUBLICKEYBYTES], sk[3][crypto_sign_SECRETKEYBYTES];
	char why[512];
};

static const char *const staff[3] = { "fin.li", "fin.wang", "city.chen" };

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct award_rules rules;
	char id[ID_HEX_LEN + 1];
	enum ledger_outcome out;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tl_awardsig_compat.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/payouts.db", f->dir);
	randombytes_buf(f->dbkey, sizeof(f->dbkey));
	award_rules_default(&rules);
	assert_int_equal(db_open(f->path, f->dbkey, DB_CREATE, &f->db), TL_OK);
	assert_int_equal(db_exec(f->db, "PRAGMA synchronous = OFF;"), TL_OK);
	assert_int_equal(payouts_open(f->db, &rules, &f->p), TL_OK);
	for (int i = 0; i < 3; i++) {
		crypto_sign_keypair(f->pk[i], f->sk[i]);
		assert_int_equal(payouts_staff_register(f->p, staff[i], i == 2 ? STAFF_CITY : STAFF_DISTRICT,
		                                        f->pk[i], 1),
		                 TL_OK);
	}
	id_new(id);
	assert_int_equal(payouts_fund_budget(f->p, DISTRICT, YEAR, 500000000, id, 1, &out), TL_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[160];
	const char *sfx[] = { "", "-wal", "-shm" };

	payouts_close(f->p);
	db_close(f->db);
	for (size_t i = 0; i < TL_ARRAY_LEN(sfx); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
proposal(struct award_proposal *a, unsigned n, unsigned case_n, int64_t total, size_t n_rep)
{
	struct award_report rep[AWARD_MAX_REPORTS];

	memset(a, 0, sizeof(*a));
	snprintf(a->award_id, sizeof(a->award_id), "a%031x", n);
	snprintf(a->case_id, sizeof(a->case_id), "c%031x", case_n);
	snprintf(a->district, sizeof(a->district), DISTRICT);
	a->budget_year = YEAR;
	a->computed_fen = a->total_fen = total;
	for (size_t i = 0; i < n_rep; i++) {
		snprintf(rep[i].report_id, sizeof(rep[i].report_id), "e%015x%016zx", n, i);
		rep[i].received_ms = (int64_t)i;
	}
	assert_int_equal(award_split(total, rep, n_rep, a->shares), TL_OK);
	a->n_shares = n_rep;
	snprintf(a->payee_ref, sizeof(a->payee_ref), "payee:%u", n);
	snprintf(a->proposer, sizeof(a->proposer), "fin.li");
}

/* The record as awardsig sees it; kinds are matched by name so that the
 * two enums may differ in order. */
static void
to_awardsig(const struct award_record *r, enum approval_decision d, struct awardsig *s)
{
	memset(s, 0, sizeof(*s));
	s->decision = d == APPROVAL_APPROVE ? AWARDSIG_APPROVE : AWARDSIG_REJECT;
	snprintf(s->award_id, sizeof(s->award_id), "%s", r->a.award_id);
	s->version = r->version;
	snprintf(s->case_id, sizeof(s->case_id), "%s", r->a.case_id);
	snprintf(s->district, sizeof(s->district), "%s", r->a.district);
	s->budget_year = r->a.budget_year;
	s->computed_fen = r->a.computed_fen;
	s->total_fen = r->a.total_fen;
	snprintf(s->payee_ref, sizeof(s->payee_ref), "%s", r->a.payee_ref);
	snprintf(s->proposer, sizeof(s->proposer), "%s", r->a.proposer);
	s->required_approvals = r->required_approvals;
	s->need_city = r->need_city;
	s->n_shares = r->a.n_shares;
	for (size_t i = 0; i < r->a.n_shares; i++) {
		const char *kn = award_share_kind_name(r->a.shares[i].kind);
		bool found = false;

		snprintf(s->shares[i].report_id, sizeof(s->shares[i].report_id), "%s",
		         r->a.shares[i].report_id);
		s->shares[i].fen = r->a.shares[i].fen;
		for (int k = AWARDSIG_FIRST; k <= AWARDSIG_DISCRETIONARY; k++)
			if (strcmp(kn, awardsig_kind_name((enum awardsig_kind)k)) == 0) {
				s->shares[i].kind = (enum awardsig_kind)k;
				found = true;
			}
		assert_true(found);
	}
}

/* Both decisions of the stored award: identical bytes, lossless parse,
 * and a payouts signature verifies over awardsig's text. */
static void
check_award(struct fx *f, const char *award_id)
{
	static char canon[APPROVAL_CANON_MAX], mine[AWARDSIG_TEXT_MAX + 1];
	struct award_record r;
	struct awardsig s, back;
	unsigned char sig[APPROVAL_SIG_LEN];
	size_t clen, mlen;

	assert_int_equal(award_load(f->p, award_id, &r), TL_OK);
	for (int d = APPROVAL_APPROVE; d <= APPROVAL_REJECT; d++) {
		assert_int_equal(award_canonical(&r, (enum approval_decision)d, canon, sizeof(canon), &clen),
		                 TL_OK);
		to_awardsig(&r, (enum approval_decision)d, &s);
		assert_int_equal(awardsig_format(&s, mine, sizeof(mine), &mlen, f->why, sizeof(f->why)),
		                 TL_OK);
		assert_int_equal(clen, mlen);
		assert_memory_equal(canon, mine, clen);
		assert_int_equal(awardsig_parse(canon, clen, &back, f->why, sizeof(f->why)), TL_OK);
		assert_memory_equal(&s, &back, sizeof(s));
		assert_int_equal(approval_sign(&r, (enum approval_decision)d, f->sk[1], sig), TL_OK);
		assert_int_equal(crypto_sign_verify_detached(sig, (const unsigned char *)mine, mlen, f->pk[1]),
		                 0);
	}
}

static void
propose(struct fx *f, struct award_proposal *a)
{
	assert_int_equal(award_propose(f->p, a, 5, f->why, sizeof(f->why)), TL_OK);
}

static void
test_computed_awards(void **state)
{
	struct fx *f = *state;
	struct award_proposal a;
	static const struct { int64_t total; size_t n; } cases[] = {
		{ 1, 1 }, { 500000, 1 }, { 10000000, 3 }, { 10000001, 2 }, { 49999999, 7 },
		{ 50000000, AWARD_MAX_REPORTS },
	};

	for (unsigned i = 0; i < TL_ARRAY_LEN(cases); i++) {
		proposal(&a, i + 1, i + 1, cases[i].total, cases[i].n);
		propose(f, &a);
		check_award(f, a.award_id);
	}
}

static void
test_manual_and_discretionary(void **state)
{
	struct fx *f = *state;
	struct award_proposal a;

	/* A manual total with a reason, and a discretionary share. */
	proposal(&a, 20, 20, 3000000, 2);
	a.computed_fen = 2000000;
	snprintf(a.reason, sizeof(a.reason), "later report was decisive");
	a.shares[1].kind = AWARD_SHARE_DISCRETIONARY;
	a.shares[0].fen = 1999999;
	a.shares[1].fen = 1000001;
	snprintf(a.payee_ref, sizeof(a.payee_ref), "vault:A.b_c-d@e");
	snprintf(a.proposer, sizeof(a.proposer), "fin.li@120116");
	propose(f, &a);
	check_award(f, a.award_id);
}

static void
test_second_version(void **state)
{
	struct fx *f = *state;
	struct award_proposal a;
	struct award_record r;
	unsigned char sig[APPROVAL_SIG_LEN];
	enum award_status st;

	proposal(&a, 30, 30, 800000, 1);
	propose(f, &a);
	assert_int_equal(award_load(f->p, a.award_id, &r), TL_OK);
	assert_int_equal(approval_sign(&r, APPROVAL_REJECT, f->sk[1], sig), TL_OK);
	assert_int_equal(approval_decide(f->p, a.award_id, staff[1], APPROVAL_REJECT, sig, "no", 6, &st,
	                                 f->why, sizeof(f->why)),
	                 TL_OK);
	proposal(&a, 31, 30, 700000, 1);
	propose(f, &a);
	assert_int_equal(award_load(f->p, a.award_id, &r), TL_OK);
	assert_int_equal(r.version, 2);
	check_award(f, a.award_id);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_computed_awards, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manual_and_discretionary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_version, setup, teardown),
	};

	if (secret_init() != TL_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
