/*
 * approval_test.c - maker-checker approvals with Ed25519 signatures,
 * thresholds, city-level rule, budgets, tamper detection before payment,
 * per-share settlement (pay / forfeit), voiding, and the schema's own
 * guards.
 */
#include "compat.h"
#include "approval.h"
#include "award.h"
#include "db.h"
#include "ids.h"
#include "ledger.h"
#include "log.h"
#include "payouts.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>
#include <unistd.h>

#define DISTRICT "120116"
#define YEAR 2026

struct staff {
	const char *id;
	enum staff_level level;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
};

struct fx {
	char dir[64], path[128];
	unsigned char dbkey[DB_KEY_LEN];
	struct db *db;
	struct payouts *p;
	struct staff st[4]; /* 0 proposer, 1-2 district approvers, 3 city approver */
	char why[512];
};

enum { MAKER, D1, D2, CITY };

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct award_rules rules;
	static const char *ids[] = { "fin.li", "fin.wang", "fin.zhao", "city.chen" };

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tl_approval_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/payouts.db", f->dir);
	randombytes_buf(f->dbkey, sizeof(f->dbkey));
	award_rules_default(&rules);
	assert_int_equal(db_open(f->path, f->dbkey, DB_CREATE, &f->db), TL_OK);
	/* Not under test here; the kill -9 harness covers durability. */
	assert_int_equal(db_exec(f->db, "PRAGMA synchronous = OFF;"), TL_OK);
	assert_int_equal(payouts_open(f->db, &rules, &f->p), TL_OK);
	for (int i = 0; i < 4; i++) {
		f->st[i].id = ids[i];
		f->st[i].level = i == CITY ? STAFF_CITY : STAFF_DISTRICT;
		crypto_sign_keypair(f->st[i].pk, f->st[i].sk);
		assert_int_equal(payouts_staff_register(f->p, ids[i], f->st[i].level, f->st[i].pk, 1), TL_OK);
	}
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
fund(struct fx *f, int64_t amount)
{
	char id[ID_HEX_LEN + 1];
	enum ledger_outcome out;

	id_new(id);
	assert_int_equal(payouts_fund_budget(f->p, DISTRICT, YEAR, amount, id, 1, &out), TL_OK);
}

/* A proposal for case n with the given total split over n_rep reporters. */
static void
proposal(struct award_proposal *a, unsigned n, int64_t total, size_t n_rep)
{
	struct award_report rep[8];

	memset(a, 0, sizeof(*a));
	snprintf(a->award_id, sizeof(a->award_id), "a%031x", n);
	snprintf(a->case_id, sizeof(a->case_id), "c%031x", n);
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

static enum tl_err
decide(struct fx *f, const char *award_id, int who, enum approval_decision d, enum award_status *st)
{
	struct award_record r;
	unsigned char sig[APPROVAL_SIG_LEN];

	assert_int_equal(award_load(f->p, award_id, &r), TL_OK);
	assert_int_equal(approval_sign(&r, d, f->st[who].sk, sig), TL_OK);
	return approval_decide(f->p, award_id, f->st[who].id, d, sig, "checked", 10, st, f->why,
	                       sizeof(f->why));
}

static enum award_status
status_of(struct fx *f, const char *award_id)
{
	struct award_record r;

	assert_int_equal(award_load(f->p, award_id, &r), TL_OK);
	return r.status;
}

static void
check_ok(struct fx *f)
{
	char why[256];

	if (ledger_check(f->db, why, sizeof(why)) != TL_OK)
		fail_msg("ledger_check: %s", why);
}

static enum tl_err
pay(struct fx *f, const char *award_id, int idx, const char *tid, enum ledger_outcome *out)
{
	return payouts_confirm_share(f->p, award_id, idx, tid, 20, out, f->why, sizeof(f->why));
}

static enum tl_err
forfeit(struct fx *f, const char *award_id, int idx, const char *tid, enum ledger_outcome *out)
{
	return payouts_forfeit_share(f->p, award_id, idx, tid, 30, out, f->why, sizeof(f->why));
}

/* Pays every share of an award under fresh ids. */
static void
pay_all(struct fx *f, const char *award_id, size_t n)
{
	char tid[ID_HEX_LEN + 1];
	enum ledger_outcome out;

	for (size_t i = 0; i < n; i++) {
		id_new(tid);
		if (pay(f, award_id, (int)i, tid, &out) != TL_OK)
			fail_msg("share %zu: %s", i, f->why);
		assert_int_equal(out, LEDGER_CREATED);
	}
}

static enum share_state
share_of(struct fx *f, const char *award_id, int idx)
{
	enum share_state s;

	assert_int_equal(payouts_share_state(f->p, award_id, idx, &s), TL_OK);
	return s;
}

static int64_t
credits_of(struct fx *f, const char *account)
{
	int64_t dr, cr;

	assert_int_equal(ledger_balance(f->db, account, &dr, &cr), TL_OK);
	return cr - dr;
}

static int64_t
count_rows(struct fx *f, const char *sql)
{
	struct db_stmt *st = NULL;
	bool row;
	int64_t n;

	assert_int_equal(db_prepare(f->db, sql, &st), TL_OK);
	assert_int_equal(db_step(st, &row), TL_OK);
	assert_true(row);
	n = db_col_int64(st, 0);
	db_finalize(st);
	return n;
}

static void
test_happy_path_and_idempotency(void **state)
{
	struct fx *f = *state;
	struct award_proposal a;
	enum award_status st;
	enum ledger_outcome out;
	char tid[ID_HEX_LEN + 1];
	int64_t left;

	fund(f, 20000000);
	proposal(&a, 1, 10000000, 3); /* exactly the threshold: one approver */
	assert_int_equal(award_propose(f->p, &a, 5, f->why, sizeof(f->why)), TL_OK);
	/* The console's retry of the same submission is fine ... */
	assert_int_equal(award_propose(f->p, &a, 6, f->why, sizeof(f->why)), TL_OK);
	/* ... a second award for the same case is not. */
	{
		struct award_proposal b = a;
		snprintf(b.award_id, sizeof(b.award_id), "b%031x", 1);
		assert_int_equal(award_propose(f->p, &b, 6, f->why, sizeof(f->why)), TL_ECONFLICT);
		assert_non_null(strstr(f->why, "one award per case"));
		b = a;
		b.shares[0].fen--;
		b.shares[1].fen++;
		assert_int_equal(award_propose(f->p, &b, 6, f->why, sizeof(f->why)), TL_EEXIST);
	}
	assert_int_equal(decide(f, a.award_id, D1, APPROVAL_APPROVE, &st), TL_OK);
	assert_int_equal(st, AWARD_APPROVED);
	assert_int_equal(payouts_budget_remaining(f->p, DISTRICT, YEAR, &left), TL_OK);
	assert_int_equal(left, 10000000);
	assert_int_equal(approval_verify(f->p, a.award_id, f->why, sizeof(f->why)), TL_OK);
	/* Reporter 0 is paid: the award stays approved while others wait. */
	id_new(tid);
	assert_int_equal(pay(f, a.award_id, 0, tid, &out), TL_OK);
	assert_int_equal(out, LEDGER_CREATED);
	assert_int_equal(share_of(f, a.award_id, 0), SHARE_PAID);
	assert_int_equal(share_of(f, a.award_id, 1), SHARE_OPEN);
	assert_int_equal(status_of(f, a.award_id), AWARD_APPROVED);
	assert_int_equal(credits_of(f, "paid:" DISTRICT), a.shares[0].fen);
	/* A retry with the same transfer id: "exists", still one payment. */
	assert_int_equal(pay(f, a.award_id, 0, tid, &out), TL_OK);
	assert_int_equal(out, LEDGER_EXISTS);
	assert_int_equal(credits_of(f, "paid:" DISTRICT), a.shares[0].fen);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM transfers WHERE kind = 'pay';"), 1);
	/* A second payment of the same share under another id: refused. */
	{
		char other[ID_HEX_LEN + 1];
		id_new(other);
		assert_int_equal(pay(f, a.award_id, 0, other, &out), TL_EDENIED);
		assert_non_null(strstr(f->why, "already paid"));
		assert_non_null(strstr(f->why, tid));
		assert_int_equal(ledger_get(f->db, other, &(struct ledger_transfer){ 0 }), TL_ENOTFOUND);
		/* The same id cannot pay another share either. */
		assert_int_equal(pay(f, a.award_id, 1, tid, &out), TL_EEXIST);
		assert_int_equal(share_of(f, a.award_id, 1), SHARE_OPEN);
		/* Nor can a share that does not exist be paid. */
		assert_int_equal(pay(f, a.award_id, 3, other, &out), TL_ENOTFOUND);
		assert_int_equal(pay(f, a.award_id, -1, other, &out), TL_EINVAL);
	}
	check_ok(f);
	/* The last open share settles the award. */
	id_new(tid);
	assert_int_equal(pay(f, a.award_id, 1, tid, &out), TL_OK);
	assert_int_equal(status_of(f, a.award_id), AWARD_APPROVED);
	id_new(tid);
	assert_int_equal(pay(f, a.award_id, 2, tid, &out), TL_OK);
	assert_int_equal(status_of(f, a.award_id), AWARD_PAID);
	assert_int_equal(credits_of(f, "paid:" DISTRICT), 10000000);
	assert_int_equal(credits_of(f, "payable:" DISTRICT), 0);
	/* ... and a retry on a paid award is still only "exists". */
	assert_int_equal(pay(f, a.award_id, 2, tid, &out), TL_OK);
	assert_int_equal(out, LEDGER_EXISTS);
	check_ok(f);
}

/* The case: two simultaneous reporters, one claims and is paid,
 * the other never claims and forfeits. */
static void
test_one_paid_one_forfeited(void **state)
{
	struct fx *f = *state;
	struct award_proposal a;
	enum award_status st;
	enum ledger_outcome out;
	char tid[ID_HEX_LEN + 1], fid[ID_HEX_LEN + 1];
	int64_t left;

	fund(f, 1000000);
	proposal(&a, 11, 600001, 2); /* 300001 + 300000 */
	assert_int_equal(a.shares[0].fen, 300001);
	assert_int_equal(award_propose(f->p, &a, 5, f->why, sizeof(f->why)), TL_OK);
	assert_int_equal(decide(f, a.award_id, D1, APPROVAL_APPROVE, &st), TL_OK);
	assert_int_equal(payouts_budget_remaining(f->p, DISTRICT, YEAR, &left), TL_OK);
	assert_int_equal(left, 399999);
	id_new(fid);
	assert_int_equal(forfeit(f, a.award_id, 1, fid, &out), TL_OK);
	assert_int_equal(out, LEDGER_CREATED);
	assert_int_equal(share_of(f, a.award_id, 1), SHARE_FORFEITED);
	assert_int_equal(status_of(f, a.award_id), AWARD_APPROVED);
	/* The forfeited share is back in the budget at once. */
	assert_int_equal(payouts_budget_remaining(f->p, DISTRICT, YEAR, &left), TL_OK);
	assert_int_equal(left, 699999);
	/* Forfeiting again under the same id is a retry; paying it is not. */
	assert_int_equal(forfeit(f, a.award_id, 1, fid, &out), TL_OK);
	assert_int_equal(out, LEDGER_EXISTS);
	id_new(tid);
	assert_int_equal(pay(f, a.award_id, 1, tid, &out), TL_EDENIED);
	assert_non_null(strstr(f->why, "forfeited"));
	check_ok(f);
	assert_int_equal(pay(f, a.award_id, 0, tid, &out), TL_OK);
	assert_int_equal(status_of(f, a.award_id), AWARD_PAID);
	assert_int_equal(credits_of(f, "paid:" DISTRICT), 300001);
	assert_int_equal(credits_of(f, "payable:" DISTRICT), 0);
	assert_int_equal(payouts_budget_remaining(f->p, DISTRICT, YEAR, &left), TL_OK);
	assert_int_equal(left, 699999);
	/* A paid share cannot be forfeited, under any id. */
	assert_int_equal(forfeit(f, a.award_id, 0, tid, &out), TL_EDENIED);
	id_new(fid);
	assert_int_equal(forfeit(f, a.award_id, 0, fid, &out), TL_EDENIED);
	assert_non_null(strstr(f->why, "already paid"));
	assert_int_equal(ledger_get(f->db, fid, &(struct ledger_transfer){ 0 }), TL_ENOTFOUND);
	assert_int_equal(payouts_budget_remaining(f->p, DISTRICT, YEAR, &left), TL_OK);
	assert_int_equal(left, 699999);
	check_ok(f);
}

/* Nobody claims: every share forfeits, the award is forfeited and the
 * whole reservation is back; a void after the first settlement is
 * refused. */
static void
test_all_forfeited_and_void_refused(void **state)
{
	struct fx *f = *state;
	struct award_proposal a;
	enum award_status st;
	enum ledger_outcome out;
	char tid[ID_HEX_LEN + 1];
	int64_t left;

	fund(f, 900000);
	proposal(&a, 12, 900000, 3);
	assert_int_equal(award_propose(f->p, &a, 5, f->why, sizeof(f->why)), TL_OK);
	assert_int_equal(decide(f, a.award_id, D2, APPROVAL_APPROVE, &st), TL_OK);
	assert_int_equal(payouts_budget_remaining(f->p, DISTRICT, YEAR, &left), TL_OK);
	assert_int_equal(left, 0);
	id_new(tid);
	assert_int_equal(forfeit(f, a.award_id, 2, tid, &out), TL_OK);
	/* Once a share is settled the award can no longer be voided whole. */
	id_new(tid);
	assert_int_equal(payouts_release(f->p, a.award_id, RELEASE_BANK_REJECTED, tid, 31, &out, f->why,
	                                 sizeof(f->why)),
	                 TL_EDENIED);
	assert_non_null(strstr(f->why, "settled"));
	assert_int_equal(ledger_get(f->db, tid, &(struct ledger_transfer){ 0 }), TL_ENOTFOUND);
	assert_int_equal(status_of(f, a.award_id), AWARD_APPROVED);
	for (int i = 0; i < 2; i++) {
		id_new(tid);
		assert_int_equal(forfeit(f, a.award_id, i, tid, &out), TL_OK);
	}
	assert_int_equal(status_of(f, a.award_id), AWARD_FORFEITED);
	assert_int_equal(payouts_budget_remaining(f->p, DISTRICT, YEAR, &left), TL_OK);
	assert_int_equal(left, 900000);
	assert_int_equal(credits_of(f, "paid:" DISTRICT), 0);
	check_ok(f);
}

/* The schema refuses per-share shortcuts even without the C code. */
static void
test_share_schema_guards(void **state)
{
	struct fx *f = *state;
	struct award_proposal a;
	enum award_status st;
	enum ledger_outcome out;
	char tid[ID_HEX_LEN + 1];
#define AW "a000000000000000000000000000000d"
	static const char *bad[] = {
		/* a share marked paid without its pay transfer */
		"UPDATE shares SET state = 'paid', settled_at = 1 WHERE award_id = '" AW "' AND idx = 1;",
		/* the award paid while a share is open */
		"UPDATE awards SET status = 'paid' WHERE award_id = '" AW "';",
		"UPDATE awards SET status = 'forfeited' WHERE award_id = '" AW "';",
		/* a pay that names no share */
		"INSERT INTO transfers (id, debit, credit, amount_fen, award_id, kind, at) VALUES"
		" ('00000000000000000000000000000011', 'payable:120116', 'paid:120116', 1, '" AW "',"
		" 'pay', 1);",
		/* a pay of the wrong amount */
		"INSERT INTO transfers (id, debit, credit, amount_fen, award_id, kind, at, share_idx)"
		" VALUES ('00000000000000000000000000000012', 'payable:120116', 'paid:120116', 1, '" AW "',"
		" 'pay', 1, 1);",
		/* a second settlement of the paid share */
		"INSERT INTO transfers (id, debit, credit, amount_fen, award_id, kind, at, share_idx)"
		" VALUES ('00000000000000000000000000000013', 'payable:120116', 'budget:120116:2026',"
		" 50000, '" AW "', 'forfeit', 1, 0);",
		/* a reserve that pretends to settle a share */
		"INSERT INTO transfers (id, debit, credit, amount_fen, award_id, kind, at, share_idx)"
		" VALUES ('00000000000000000000000000000014', 'budget:120116:2026', 'payable:120116', 1,"
		" '" AW "', 'reserve', 1, 1);",
		/* settled shares never reopen or change */
		"UPDATE shares SET state = 'open' WHERE award_id = '" AW "' AND idx = 0;",
		"UPDATE shares SET state = 'forfeited' WHERE award_id = '" AW "' AND idx = 0;",
		"UPDATE shares SET settled_at = 99 WHERE award_id = '" AW "' AND idx = 0;",
		"UPDATE shares SET fen = fen + 1 WHERE award_id = '" AW "' AND idx = 1;",
		/* a void while a share is settled */
		"UPDATE awards SET status = 'void' WHERE award_id = '" AW "';",
	};

	fund(f, 1000000);
	proposal(&a, 13, 100000, 2);
	assert_string_equal(a.award_id, AW);
	assert_int_equal(award_propose(f->p, &a, 5, f->why, sizeof(f->why)), TL_OK);
	/* Before approval a share cannot be settled at all. */
	id_new(tid);
	assert_int_equal(pay(f, a.award_id, 0, tid, &out), TL_EDENIED);
	assert_non_null(strstr(f->why, "not approved"));
	assert_int_equal(forfeit(f, a.award_id, 0, tid, &out), TL_EDENIED);
	assert_int_equal(decide(f, a.award_id, D1, APPROVAL_APPROVE, &st), TL_OK);
	assert_int_equal(pay(f, a.award_id, 0, tid, &out), TL_OK);
	for (size_t i = 0; i < TL_ARRAY_LEN(bad); i++)
		if (db_exec(f->db, bad[i]) != TL_ECONFLICT)
			fail_msg("not refused: %s", bad[i]);
	assert_int_equal(share_of(f, a.award_id, 0), SHARE_PAID);
	assert_int_equal(share_of(f, a.award_id, 1), SHARE_OPEN);
	assert_int_equal(status_of(f, a.award_id), AWARD_APPROVED);
	check_ok(f);
#undef AW
}

static void
test_self_approval_refused(void **state)
{
	struct fx *f = *state;
	struct award_proposal a;
	enum award_status st;
	char sighex[2 * APPROVAL_SIG_LEN + 1], sql[512];

	fund(f, 20000000);
	proposal(&a, 2, 500000, 1);
	assert_int_equal(award_propose(f->p, &a, 5, f->why, sizeof(f->why)), TL_OK);
	assert_int_equal(decide(f, a.award_id, MAKER, APPROVAL_APPROVE, &st), TL_EDENIED);
	assert_non_null(strstr(f->why, "cannot approve"));
	assert_int_equal(status_of(f, a.award_id), AWARD_PROPOSED);
	/* The trigger refuses the same row written directly. */
	memset(sighex, 'a', sizeof(sighex) - 1);
	sighex[sizeof(sighex) - 1] = '\0';
	snprintf(sql, sizeof(sql),
	         "INSERT INTO approvals (award_id, approver, decision, sig, at)"
	         " VALUES ('%s', 'fin.li', 'approve', '%s', 1);",
	         a.award_id, sighex);
	assert_int_equal(db_exec(f->db, sql), TL_ECONFLICT);
	/* A signature by another key under an approver's name fails too. */
	{
		struct award_record r;
		unsigned char sig[APPROVAL_SIG_LEN];
		assert_int_equal(award_load(f->p, a.award_id, &r), TL_OK);
		assert_int_equal(approval_sign(&r, APPROVAL_APPROVE, f->st[MAKER].sk, sig), TL_OK);
		assert_int_equal(approval_decide(f->p, a.award_id, "fin.wang", APPROVAL_APPROVE, sig, NULL,
		                                 1, &st, f->why, sizeof(f->why)),
		                 TL_ECRYPTO);
		/* A reject signature does not count as approve. */
		assert_int_equal(approval_sign(&r, APPROVAL_REJECT, f->st[D1].sk, sig), TL_OK);
		assert_int_equal(approval_decide(f->p, a.award_id, "fin.wang", APPROVAL_APPROVE, sig, NULL,
		                                 1, &st, f->why, sizeof(f->why)),
		                 TL_ECRYPTO);
	}
	assert_int_equal(decide(f, a.award_id, D1, APPROVAL_APPROVE, &st), TL_OK);
	assert_int_equal(st, AWARD_APPROVED);
	check_ok(f);
}

static void
test_dual_approval(void **state)
{
	struct fx *f = *state;
	struct award_proposal a;
	enum award_status st;
	enum ledger_outcome out;
	char tid[ID_HEX_LEN + 1];

	fund(f, 50000000);
	proposal(&a, 3, 10000001, 1); /* one fen above the threshold */
	assert_int_equal(award_propose(f->p, &a, 5, f->why, sizeof(f->why)), TL_OK);
	/* One approval is not enough: still proposed, cannot be paid. */
	assert_int_equal(decide(f, a.award_id, D1, APPROVAL_APPROVE, &st), TL_OK);
	assert_int_equal(st, AWARD_PROPOSED);
	id_new(tid);
	assert_int_equal(pay(f, a.award_id, 0, tid, &out), TL_EDENIED);
	assert_int_equal(db_exec(f->db, "UPDATE awards SET status = 'approved'"
	                                " WHERE award_id = 'a0000000000000000000000000000003';"),
	                 TL_ECONFLICT);
	/* Same approver twice. */
	assert_int_equal(decide(f, a.award_id, D1, APPROVAL_APPROVE, &st), TL_EEXIST);
	/* Two approvers, none city-level: refused. */
	assert_int_equal(decide(f, a.award_id, D2, APPROVAL_APPROVE, &st), TL_EDENIED);
	assert_non_null(strstr(f->why, "city-level"));
	assert_int_equal(status_of(f, a.award_id), AWARD_PROPOSED);
	/* With the city office it passes. */
	assert_int_equal(decide(f, a.award_id, CITY, APPROVAL_APPROVE, &st), TL_OK);
	assert_int_equal(st, AWARD_APPROVED);
	assert_int_equal(pay(f, a.award_id, 0, tid, &out), TL_OK);
	assert_int_equal(status_of(f, a.award_id), AWARD_PAID);
	check_ok(f);
}

static void
test_cap_refused(void **state)
{
	struct fx *f = *state;
	struct award_proposal a;

	proposal(&a, 4, 100000, 1);
	a.total_fen = MONEY_HARD_CAP_FEN + 1;
	a.shares[0].fen = a.total_fen;
	snprintf(a.reason, sizeof(a.reason), "exceptional");
	assert_int_equal(award_propose(f->p, &a, 5, f->why, sizeof(f->why)), TL_ETOOBIG);
	assert_non_null(strstr(f->why, "cap"));
	/* An adjustment needs a reason; shares must add up. */
	a.total_fen = 200000;
	a.shares[0].fen = 200000;
	a.reason[0] = '\0';
	assert_int_equal(award_propose(f->p, &a, 5, f->why, sizeof(f->why)), TL_EINVAL);
	snprintf(a.reason, sizeof(a.reason), "later reporter's evidence was decisive");
	a.shares[0].fen = 199999;
	assert_int_equal(award_propose(f->p, &a, 5, f->why, sizeof(f->why)), TL_EINVAL);
	/* A discretionary share for a later reporter, within the cap. */
	a.shares[0].fen = 150000;
	a.n_shares = 2;
	snprintf(a.shares[1].report_id, sizeof(a.shares[1].report_id), "f%031x", 4);
	a.shares[1].fen = 50000;
	a.shares[1].kind = AWARD_SHARE_DISCRETIONARY;
	assert_int_equal(award_propose(f->p, &a, 5, f->why, sizeof(f->why)), TL_OK);
	/* The database refuses an award over the cap written directly. */
	assert_int_equal(db_exec(f->db, "INSERT INTO awards (award_id, version, case_id, district,"
	                                " budget_year, total_fen, computed_fen, payee_ref, proposer, reason,"
	                                " required_approvals, need_city, status, created_at) VALUES"
	                                " ('dddddddddddddddddddddddddddddddd', 1,"
	                                " 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee', '120116', 2026, 50000001, 0,"
	                                " 'p', 'x', '', 2, 1, 'proposed', 1);"),
	                 TL_ECONFLICT);
	/* And any edit of an amount after proposal. */
	assert_int_equal(db_exec(f->db, "UPDATE awards SET total_fen = 100"
	                                " WHERE award_id = 'a0000000000000000000000000000004';"),
	                 TL_ECONFLICT);
	assert_int_equal(db_exec(f->db, "UPDATE shares SET fen = 1;"), TL_ECONFLICT);
	assert_int_equal(db_exec(f->db, "DELETE FROM awards;"), TL_ECONFLICT);
}

static void
test_budget_exhausted(void **state)
{
	struct fx *f = *state;
	struct award_proposal a, b;
	enum award_status st;
	enum ledger_outcome out;
	char tid[ID_HEX_LEN + 1];
	int64_t left;

	fund(f, 1000000);
	proposal(&a, 5, 700000, 1);
	proposal(&b, 6, 400000, 1);
	assert_int_equal(award_propose(f->p, &a, 5, f->why, sizeof(f->why)), TL_OK);
	assert_int_equal(award_propose(f->p, &b, 5, f->why, sizeof(f->why)), TL_OK);
	assert_int_equal(decide(f, a.award_id, D1, APPROVAL_APPROVE, &st), TL_OK);
	assert_int_equal(decide(f, b.award_id, D1, APPROVAL_APPROVE, &st), TL_EDENIED);
	assert_non_null(strstr(f->why, "budget exhausted"));
	assert_non_null(strstr(f->why, "300000 fen left"));
	assert_non_null(strstr(f->why, "needs 400000 fen"));
	/* Nothing was recorded: the approver can try again later. */
	assert_int_equal(status_of(f, b.award_id), AWARD_PROPOSED);
	assert_int_equal(payouts_budget_remaining(f->p, DISTRICT, YEAR, &left), TL_OK);
	assert_int_equal(left, 300000);
	/* A forfeited award releases its reservation ... */
	id_new(tid);
	assert_int_equal(forfeit(f, a.award_id, 0, tid, &out), TL_OK);
	assert_int_equal(status_of(f, a.award_id), AWARD_FORFEITED);
	assert_int_equal(payouts_budget_remaining(f->p, DISTRICT, YEAR, &left), TL_OK);
	assert_int_equal(left, 1000000);
	/* ... so the second approval now goes through. */
	assert_int_equal(decide(f, b.award_id, D1, APPROVAL_APPROVE, &st), TL_OK);
	assert_int_equal(st, AWARD_APPROVED);
	/* Voided before anything was settled: money back, a new version may
	 * follow; a retry of the void is "exists". */
	id_new(tid);
	assert_int_equal(payouts_release(f->p, b.award_id, RELEASE_BANK_REJECTED, tid, 31, &out, f->why,
	                                 sizeof(f->why)),
	                 TL_OK);
	assert_int_equal(out, LEDGER_CREATED);
	assert_int_equal(status_of(f, b.award_id), AWARD_VOID);
	assert_int_equal(payouts_release(f->p, b.award_id, RELEASE_BANK_REJECTED, tid, 32, &out, f->why,
	                                 sizeof(f->why)),
	                 TL_OK);
	assert_int_equal(out, LEDGER_EXISTS);
	assert_int_equal(pay(f, b.award_id, 0, tid, &out), TL_EDENIED); /* a void award pays nothing */
	{
		struct award_proposal c;
		struct award_record r;
		proposal(&c, 6, 400000, 1);
		snprintf(c.award_id, sizeof(c.award_id), "b%031x", 6);
		snprintf(c.payee_ref, sizeof(c.payee_ref), "payee:6:corrected");
		assert_int_equal(award_propose(f->p, &c, 40, f->why, sizeof(f->why)), TL_OK);
		assert_int_equal(award_load(f->p, c.award_id, &r), TL_OK);
		assert_int_equal(r.version, 2);
	}
	/* A rejected proposal never reserved anything. */
	{
		struct award_proposal d;
		proposal(&d, 7, 100000, 1);
		assert_int_equal(award_propose(f->p, &d, 5, f->why, sizeof(f->why)), TL_OK);
		assert_int_equal(decide(f, d.award_id, D2, APPROVAL_REJECT, &st), TL_OK);
		assert_int_equal(st, AWARD_REJECTED);
		assert_int_equal(decide(f, d.award_id, D1, APPROVAL_APPROVE, &st), TL_EDENIED);
	}
	assert_int_equal(payouts_budget_remaining(f->p, DISTRICT, YEAR, &left), TL_OK);
	assert_int_equal(left, 1000000);
	/* No budget at all for another year. */
	assert_int_equal(payouts_budget_remaining(f->p, DISTRICT, 2027, &left), TL_OK);
	assert_int_equal(left, 0);
	check_ok(f);
}

static void
test_tamper_detected_before_payment(void **state)
{
	struct fx *f = *state;
	struct award_proposal a;
	enum award_status st;
	enum ledger_outcome out;
	char tid[ID_HEX_LEN + 1];
	int64_t dr, cr;

	fund(f, 50000000);
	proposal(&a, 8, 12000000, 3);
	assert_int_equal(award_propose(f->p, &a, 5, f->why, sizeof(f->why)), TL_OK);
	assert_int_equal(decide(f, a.award_id, D1, APPROVAL_APPROVE, &st), TL_OK);
	assert_int_equal(decide(f, a.award_id, CITY, APPROVAL_APPROVE, &st), TL_OK);
	assert_int_equal(st, AWARD_APPROVED);
	/* An insider with the database key drops the guards and moves one
	 * fen from one reporter's share to another: the total is unchanged,
	 * so only the signatures can notice. */
	assert_int_equal(db_exec(f->db, "DROP TRIGGER shares_immutable;"), TL_OK);
	assert_int_equal(db_exec(f->db, "UPDATE shares SET fen = fen + 1 WHERE idx = 0"
	                                " AND award_id = 'a0000000000000000000000000000008';"
	                                "UPDATE shares SET fen = fen - 1 WHERE idx = 1"
	                                " AND award_id = 'a0000000000000000000000000000008';"),
	                 TL_OK);
	id_new(tid);
	assert_int_equal(pay(f, a.award_id, 0, tid, &out), TL_ECRYPTO);
	assert_non_null(strstr(f->why, "does not match"));
	/* Nor may the tampered amount flow back into the budget. */
	assert_int_equal(forfeit(f, a.award_id, 1, tid, &out), TL_ECRYPTO);
	assert_int_equal(status_of(f, a.award_id), AWARD_APPROVED);
	for (int i = 0; i < 3; i++)
		assert_int_equal(share_of(f, a.award_id, i), SHARE_OPEN);
	assert_int_equal(ledger_get(f->db, tid, &(struct ledger_transfer){ 0 }), TL_ENOTFOUND);
	assert_int_equal(ledger_balance(f->db, "paid:" DISTRICT, &dr, &cr), TL_OK);
	assert_int_equal(cr, 0);
	assert_int_equal(credits_of(f, "payable:" DISTRICT), 12000000);
	/* Raising one reporter's share alone (the shares no longer add up)
	 * is caught the same way. */
	assert_int_equal(db_exec(f->db, "UPDATE shares SET fen = fen + 1000000 WHERE idx = 2"
	                                " AND award_id = 'a0000000000000000000000000000008';"),
	                 TL_OK);
	assert_int_equal(pay(f, a.award_id, 2, tid, &out), TL_ECRYPTO);
	assert_int_equal(db_exec(f->db, "UPDATE shares SET fen = fen - 1000000 WHERE idx = 2"
	                                " AND award_id = 'a0000000000000000000000000000008';"),
	                 TL_OK);
	/* Put it back: the signatures verify again. */
	assert_int_equal(db_exec(f->db, "UPDATE shares SET fen = fen - 1 WHERE idx = 0"
	                                " AND award_id = 'a0000000000000000000000000000008';"
	                                "UPDATE shares SET fen = fen + 1 WHERE idx = 1"
	                                " AND award_id = 'a0000000000000000000000000000008';"),
	                 TL_OK);
	assert_int_equal(approval_verify(f->p, a.award_id, f->why, sizeof(f->why)), TL_OK);
	/* Drop the immutability trigger and raise the total by one fen. */
	assert_int_equal(db_exec(f->db, "DROP TRIGGER awards_immutable;"), TL_OK);
	assert_int_equal(db_exec(f->db, "UPDATE awards SET total_fen = total_fen + 1"
	                                " WHERE award_id = 'a0000000000000000000000000000008';"
	                                "UPDATE shares SET fen = fen + 1 WHERE idx = 2"
	                                " AND award_id = 'a0000000000000000000000000000008';"),
	                 TL_OK);
	assert_int_equal(pay(f, a.award_id, 2, tid, &out), TL_ECRYPTO);
	/* Lowering the approval requirement does not help either. */
	assert_int_equal(db_exec(f->db, "UPDATE awards SET total_fen = total_fen - 1,"
	                                " required_approvals = 1, need_city = 0"
	                                " WHERE award_id = 'a0000000000000000000000000000008';"
	                                "UPDATE shares SET fen = fen - 1 WHERE idx = 2"
	                                " AND award_id = 'a0000000000000000000000000000008';"),
	                 TL_OK);
	assert_int_equal(pay(f, a.award_id, 0, tid, &out), TL_ECRYPTO); /* the signed bytes include the requirement */
	assert_int_equal(ledger_balance(f->db, "paid:" DISTRICT, &dr, &cr), TL_OK);
	assert_int_equal(cr, 0);
	assert_int_equal(count_rows(f, "SELECT count(*) FROM transfers WHERE share_idx IS NOT NULL;"), 0);
}

static void
test_transitions(void **state)
{
	struct fx *f = *state;
	struct award_proposal a;
	enum award_status st;
	enum ledger_outcome out;
	char tid[ID_HEX_LEN + 1];
	static const char *bad[] = {
		"UPDATE awards SET status = 'paid' WHERE award_id = 'a0000000000000000000000000000009';",
		"UPDATE awards SET status = 'proposed' WHERE award_id = 'a0000000000000000000000000000009';",
		"UPDATE awards SET status = 'approved' WHERE award_id = 'a0000000000000000000000000000009';",
		"DELETE FROM approvals;",
		"UPDATE approvals SET decision = 'approve';",
		"UPDATE staff SET pk = '00';",
		"UPDATE shares SET state = 'forfeited';",
		"UPDATE awards SET status = 'forfeited' WHERE award_id = 'a0000000000000000000000000000009';",
	};

	fund(f, 1000000);
	proposal(&a, 9, 100000, 1);
	assert_int_equal(award_propose(f->p, &a, 5, f->why, sizeof(f->why)), TL_OK);
	/* proposed -> paid is refused. */
	assert_int_equal(db_exec(f->db, bad[0]), TL_ECONFLICT);
	assert_int_equal(decide(f, a.award_id, D1, APPROVAL_APPROVE, &st), TL_OK);
	id_new(tid);
	assert_int_equal(pay(f, a.award_id, 0, tid, &out), TL_OK);
	assert_int_equal(status_of(f, a.award_id), AWARD_PAID);
	for (size_t i = 0; i < TL_ARRAY_LEN(bad); i++)
		if (db_exec(f->db, bad[i]) != TL_ECONFLICT)
			fail_msg("not refused: %s", bad[i]);
	/* Voiding or forfeiting a paid award is refused. */
	id_new(tid);
	assert_int_equal(payouts_release(f->p, a.award_id, RELEASE_BANK_REJECTED, tid, 30, &out, f->why,
	                                 sizeof(f->why)),
	                 TL_EDENIED);
	assert_int_equal(forfeit(f, a.award_id, 0, tid, &out), TL_EDENIED);
	/* Unknown approver, unknown award. */
	{
		struct award_proposal b;
		unsigned char sig[APPROVAL_SIG_LEN] = { 0 };
		proposal(&b, 10, 100000, 1);
		assert_int_equal(award_propose(f->p, &b, 5, f->why, sizeof(f->why)), TL_OK);
		assert_int_equal(approval_decide(f->p, b.award_id, "nobody", APPROVAL_APPROVE, sig, NULL, 1,
		                                 &st, f->why, sizeof(f->why)),
		                 TL_ENOTFOUND);
		assert_int_equal(approval_decide(f->p, "ffffffffffffffffffffffffffffffff", "fin.wang",
		                                 APPROVAL_APPROVE, sig, NULL, 1, &st, f->why,
		                                 sizeof(f->why)),
		                 TL_ENOTFOUND);
	}
	/* Re-registering a staff id with another key is refused. */
	{
		unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
		crypto_sign_keypair(pk, sk);
		assert_int_equal(payouts_staff_register(f->p, "fin.wang", STAFF_DISTRICT, pk, 2), TL_EEXIST);
		assert_int_equal(payouts_staff_register(f->p, "fin.wang", STAFF_DISTRICT, f->st[D1].pk, 2),
		                 TL_OK);
	}
	check_ok(f);
}

static void
test_engine_to_payment(void **state)
{
	struct fx *f = *state;
	struct award_rules rules;
	struct award_result res;
	struct award_report rep[3];
	struct award_verdict v = { AWARD_TIER_IDLE, 150000000, 0 };
	struct award_proposal a = { 0 };
	struct award_record r;
	enum award_status st;
	char canon[APPROVAL_CANON_MAX];
	size_t len;

	award_rules_default(&rules);
	for (int i = 0; i < 3; i++) {
		snprintf(rep[i].report_id, sizeof(rep[i].report_id), "%032x", 0x77 + i);
		rep[i].received_ms = 1000 * i;
	}
	/* 50,000 yuan + 3 % of 1.5 M yuan = 9,500,000 fen; not over the threshold. */
	assert_int_equal(award_compute(&rules, &v, rep, 3, &res), TL_OK);
	assert_int_equal(res.total_fen, 9500000);
	award_proposal_from_result(&res, &a);
	snprintf(a.award_id, sizeof(a.award_id), "%032x", 0xabc);
	snprintf(a.case_id, sizeof(a.case_id), "%032x", 0xcafe);
	snprintf(a.district, sizeof(a.district), DISTRICT);
	a.budget_year = YEAR;
	snprintf(a.payee_ref, sizeof(a.payee_ref), "vault:rep:77");
	snprintf(a.proposer, sizeof(a.proposer), "fin.li");
	fund(f, 9500000);
	assert_int_equal(award_propose(f->p, &a, 5, f->why, sizeof(f->why)), TL_OK);
	assert_int_equal(award_load(f->p, a.award_id, &r), TL_OK);
	assert_int_equal(award_canonical(&r, APPROVAL_APPROVE, canon, sizeof(canon), &len), TL_OK);
	assert_non_null(strstr(canon, "total_fen=9500000\n"));
	assert_non_null(strstr(canon, "share=2,00000000000000000000000000000079,3166666,simultaneous\n"));
	assert_int_equal(award_canonical(&r, APPROVAL_APPROVE, canon, 64, &len), TL_ETOOBIG);
	assert_int_equal(decide(f, a.award_id, CITY, APPROVAL_APPROVE, &st), TL_OK);
	assert_int_equal(st, AWARD_APPROVED);
	pay_all(f, a.award_id, a.n_shares);
	assert_int_equal(status_of(f, a.award_id), AWARD_PAID);
	assert_int_equal(credits_of(f, "paid:" DISTRICT), 9500000);
	check_ok(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_happy_path_and_idempotency, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_paid_one_forfeited, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_forfeited_and_void_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_share_schema_guards, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_approval_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dual_approval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget_exhausted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper_detected_before_payment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transitions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_engine_to_payment, setup, teardown),
	};

	log_init("approval_test", LOG_ERR);
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
