/*
 * actions_test.c - the finance staff's actions on top of the core: who may
 * propose (own district only), who may decide (own district, or any as a
 * city-level approver; never the proposer, never with a wrong password),
 * the audit entries each leaves, the reporter status after the final
 * approval, the budget message, and the scanner forfeiting an unclaimed
 * share back to the budget while leaving a claimed one alone.
 */
#include "svc_fixture.h"
#include "ledger.h"

#define BH "120116"
#define JH "120118"
#define T0 INT64_C(1772323200000) /* 2026-03-01T00:00:00Z */
#define HOUR INT64_C(3600000)
#define PW "sixteen chars pw"
#define WINDOW_S 3600

static const struct {
	const char *name, *role, *scope;
} users[] = {
	{ "p.bh", "finance_proposer", BH },  { "p.jh", "finance_proposer", JH },
	{ "a.bh1", "finance_approver", BH }, { "a.bh2", "finance_approver", BH },
	{ "a.jh", "finance_approver", JH },  { "a.city", "finance_approver", "120000" },
	{ "pay.bh", "finance_payer", BH },
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fx_open(f, WINDOW_S);
	for (size_t i = 0; i < TL_ARRAY_LEN(users); i++) {
		enum auth_role role;
		assert_int_equal(auth_role_parse(users[i].role, &role), TL_OK);
		assert_int_equal(auth_user_add(f->s.db, users[i].name, role, users[i].scope, PW), TL_OK);
		if (role == AUTH_ROLE_FINANCE_APPROVER)
			assert_int_equal(staffkey_create(f->s.core, users[i].name,
			                                 strcmp(users[i].scope, "120000") == 0 ? STAFF_CITY : STAFF_DISTRICT,
			                                 PW, 1, NULL),
			                 TL_OK);
	}
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

/* Case 1 in 120116 with two simultaneous reports (lead 1 and 2 merged),
 * substantiated with fines that put the award above the dual-approval
 * threshold (capped at 50,000,000 fen). */
static void
big_case(struct fx *f, char case_id[ID_HEX_LEN + 1])
{
	struct wire_event ev;

	assert_int_equal(fx_lead(f, 1, BH, T0), CASES_APPLIED);
	assert_int_equal(fx_lead(f, 2, BH, T0 + HOUR), CASES_APPLIED);
	fx_event_init(&ev, WIRE_EV_MERGED, 1, BH, T0 + 2 * HOUR);
	fx_id(ev.other_lead, 'a', 2);
	assert_int_equal(fx_apply(f, &ev), CASES_APPLIED);
	assert_int_equal(fx_verdict(f, 1, BH, T0 + 3 * HOUR, INT64_C(1000000000)), CASES_APPLIED);
	fx_id(case_id, 'a', 1);
}

/* Case 3: one report, base award 10,000,000 fen (at the threshold: one
 * approval). */
static void
small_case(struct fx *f, char case_id[ID_HEX_LEN + 1])
{
	assert_int_equal(fx_lead(f, 3, BH, T0), CASES_APPLIED);
	assert_int_equal(fx_verdict(f, 3, BH, T0 + 3 * HOUR, 0), CASES_APPLIED);
	fx_id(case_id, 'a', 3);
}

static void
fund(struct fx *f, int64_t fen, int n)
{
	char tid[ID_HEX_LEN + 1];
	enum ledger_outcome out;

	fx_id(tid, 'f', n);
	assert_int_equal(payouts_fund_budget(f->s.core, BH, 2026, fen, tid, T0, &out), TL_OK);
}

static enum tl_err
decide(struct fx *f, const char *award, const char *who, const char *pw, enum award_status *st)
{
	return payouts_decide(&f->s, award, who, APPROVAL_APPROVE, pw, NULL, T0 + 10 * HOUR, st, f->why,
	                      sizeof(f->why));
}

static void
test_propose_scope(void **state)
{
	struct fx *f = *state;
	char case_id[ID_HEX_LEN + 1], award[ID_HEX_LEN + 1];
	uint64_t seq;
	struct award_record r;

	big_case(f, case_id);
	fx_id(award, 'e', 1);
	/* Another district's proposer. */
	assert_int_equal(payouts_propose(&f->s, case_id, award, "p.jh", 0, NULL, T0, f->why, sizeof(f->why)),
	                 TL_EDENIED);
	assert_non_null(strstr(f->why, "district 120118"));
	/* An approver is not a proposer. */
	assert_int_equal(payouts_propose(&f->s, case_id, award, "a.bh1", 0, NULL, T0, f->why, sizeof(f->why)),
	                 TL_EDENIED);
	/* Nobody at all. */
	assert_int_equal(payouts_propose(&f->s, case_id, award, "ghost", 0, NULL, T0, f->why, sizeof(f->why)),
	                 TL_EDENIED);
	assert_int_equal(award_load(f->s.core, award, &r), TL_ENOTFOUND);
	assert_int_equal(audit_seq(f->s.audit), 0);
	/* A manual amount without a reason. */
	assert_int_equal(payouts_propose(&f->s, case_id, award, "p.bh", 20000000, NULL, T0, f->why, sizeof(f->why)),
	                 TL_EINVAL);
	/* Above the cap. */
	assert_int_equal(payouts_propose(&f->s, case_id, award, "p.bh", 50000001, "more", T0, f->why, sizeof(f->why)),
	                 TL_ETOOBIG);
	/* The district's own proposer, computed amount: audited once even
	 * when the form is submitted twice. */
	assert_int_equal(payouts_propose(&f->s, case_id, award, "p.bh", 0, NULL, T0, f->why, sizeof(f->why)), TL_OK);
	assert_int_equal(payouts_propose(&f->s, case_id, award, "p.bh", 0, NULL, T0, f->why, sizeof(f->why)), TL_OK);
	seq = audit_seq(f->s.audit);
	assert_int_equal(seq, 1);
	assert_int_equal(award_load(f->s.core, award, &r), TL_OK);
	assert_int_equal(r.a.total_fen, 50000000);
	assert_int_equal(r.a.n_shares, 2);
	assert_int_equal(r.a.shares[0].fen + r.a.shares[1].fen, 50000000);
	assert_int_equal(r.required_approvals, 2);
	assert_true(r.need_city);
	/* Proposed: reporters still see "verified". */
	{
		char key[STATUS_KEY_LEN + 1];
		fx_key(key, 1);
		assert_string_equal(fx_status(f, key, NULL), "verified");
	}
}

static void
test_manual_amount(void **state)
{
	struct fx *f = *state;
	char case_id[ID_HEX_LEN + 1], award[ID_HEX_LEN + 1];
	struct award_record r;

	big_case(f, case_id);
	fx_id(award, 'e', 2);
	assert_int_equal(payouts_propose(&f->s, case_id, award, "p.bh", 30000001, "partly repeat offender", T0,
	                                 f->why, sizeof(f->why)),
	                 TL_OK);
	assert_int_equal(award_load(f->s.core, award, &r), TL_OK);
	assert_int_equal(r.a.total_fen, 30000001);
	assert_int_equal(r.a.computed_fen, 50000000);
	assert_int_equal(r.a.shares[0].fen, 15000001); /* the odd fen to the earliest */
	assert_int_equal(r.a.shares[1].fen, 15000000);
}

static void
test_decide_rules(void **state)
{
	struct fx *f = *state;
	char case_id[ID_HEX_LEN + 1], award[ID_HEX_LEN + 1], key[STATUS_KEY_LEN + 1];
	enum award_status st;
	struct wire_status w;
	int64_t left;

	big_case(f, case_id);
	fx_id(award, 'e', 3);
	assert_int_equal(payouts_propose(&f->s, case_id, award, "p.bh", 0, NULL, T0, f->why, sizeof(f->why)), TL_OK);
	/* The proposer cannot decide (not an approver, and the maker). */
	assert_int_equal(decide(f, award, "p.bh", PW, &st), TL_EDENIED);
	/* Another district's approver. */
	assert_int_equal(decide(f, award, "a.jh", PW, &st), TL_EDENIED);
	assert_non_null(strstr(f->why, "district 120118"));
	/* A wrong password signs nothing. */
	assert_int_equal(decide(f, award, "a.bh1", "wrong password!!", &st), TL_EDENIED);
	assert_non_null(strstr(f->why, "wrong password"));
	/* One district approval above the threshold: still proposed. */
	assert_int_equal(decide(f, award, "a.bh1", PW, &st), TL_OK);
	assert_int_equal(st, AWARD_PROPOSED);
	/* A second district approver cannot complete it. */
	assert_int_equal(decide(f, award, "a.bh2", PW, &st), TL_EDENIED);
	assert_non_null(strstr(f->why, "city-level"));
	/* The city approver can, but the budget is too small. */
	fund(f, 40000000, 1);
	assert_int_equal(decide(f, award, "a.city", PW, &st), TL_EDENIED);
	assert_non_null(strstr(f->why, "budget exhausted"));
	fx_key(key, 1);
	assert_string_equal(fx_status(f, key, NULL), "verified");
	fund(f, 20000000, 2);
	assert_int_equal(decide(f, award, "a.city", PW, &st), TL_OK);
	assert_int_equal(st, AWARD_APPROVED);
	assert_int_equal(payouts_budget_remaining(f->s.core, BH, 2026, &left), TL_OK);
	assert_int_equal(left, 10000000);
	/* propose, approve, approve */
	assert_int_equal(audit_seq(f->s.audit), 3);
	/* Both reporters are told, with their share and the deadline. */
	assert_string_equal(fx_status(f, key, &w), "award_approved");
	assert_int_equal(w.amount_fen, 25000000);
	assert_int_equal(w.claim_by_ms, T0 + 10 * HOUR + WINDOW_S * 1000);
	fx_key(key, 2);
	assert_string_equal(fx_status(f, key, &w), "award_approved");
	assert_int_equal(w.amount_fen, 25000000);
	/* Decided awards take no more decisions. */
	assert_int_equal(decide(f, award, "a.bh2", PW, &st), TL_EDENIED);
}

static void
test_city_any_district(void **state)
{
	struct fx *f = *state;
	char case_id[ID_HEX_LEN + 1], award[ID_HEX_LEN + 1];
	enum award_status st;

	small_case(f, case_id);
	fx_id(award, 'e', 4);
	fund(f, 10000000, 3);
	assert_int_equal(payouts_propose(&f->s, case_id, award, "p.bh", 0, NULL, T0, f->why, sizeof(f->why)), TL_OK);
	assert_int_equal(decide(f, award, "a.city", PW, &st), TL_OK);
	assert_int_equal(st, AWARD_APPROVED);
	/* A rejection needs a reason; an approved award takes none. */
	assert_int_equal(payouts_decide(&f->s, award, "a.bh1", APPROVAL_REJECT, PW, NULL, T0, &st, f->why,
	                                sizeof(f->why)),
	                 TL_EINVAL);
}

/* Two sharers; one claims in time (eligible), the other never does.
 * After the window the scanner forfeits only the unclaimed share, the
 * money goes back to the budget, the ledger checks out, and a second
 * pass changes nothing. */
static void
test_forfeit_scan(void **state)
{
	struct fx *f = *state;
	char case_id[ID_HEX_LEN + 1], award[ID_HEX_LEN + 1], key[STATUS_KEY_LEN + 1];
	struct wire_eligibility el;
	enum cases_outcome out;
	char sync_case[ID_HEX_LEN + 1];
	struct payouts_scan_stats ss;
	enum award_status st;
	enum share_state sh;
	int64_t left, approved = T0 + 10 * HOUR;
	uint64_t seq;

	big_case(f, case_id);
	fx_id(award, 'e', 5);
	fund(f, 50000000, 4);
	assert_int_equal(payouts_propose(&f->s, case_id, award, "p.bh", 0, NULL, T0, f->why, sizeof(f->why)), TL_OK);
	assert_int_equal(decide(f, award, "a.bh1", PW, &st), TL_OK);
	assert_int_equal(decide(f, award, "a.city", PW, &st), TL_OK);
	assert_int_equal(st, AWARD_APPROVED);
	memset(&el, 0, sizeof(el));
	fx_id(el.claim_id, 'c', 5);
	fx_id(el.report_id, 'b', 2);
	fx_id(el.payee_ref, 'd', 5);
	el.eligible = true;
	el.at_ms = approved + 60000;
	assert_int_equal(cases_apply_eligibility(&f->s, &el, el.at_ms, &out, sync_case), TL_OK);
	assert_int_equal(payouts_status_sync_case(&f->s, sync_case, el.at_ms), TL_OK);
	fx_key(key, 2);
	assert_string_equal(fx_status(f, key, NULL), "claim_received");
	/* Share 0 (report 1, never claimed) sits in a payment batch still
	 * being prepared: it is with the payer, so the window passing must not
	 * forfeit it behind the payer's back. */
	assert_int_equal(db_exec(f->s.db,
	                         "INSERT INTO batches (batch_id, created_ms, payer, scope, state, row_count,"
	                         " total_fen) VALUES ('f0000000000000000000000000000001', 1, 'pay', 'all',"
	                         " 'preparing', 1, 1);"
	                         "INSERT INTO batch_rows (batch_id, award_id, share_idx, report_id, district,"
	                         " claim_id, payee_ref, amount_fen, state) VALUES"
	                         " ('f0000000000000000000000000000001', 'e0000000000000000000000000000005', 0,"
	                         " 'b0000000000000000000000000000001', '120116',"
	                         " 'c0000000000000000000000000000009', 'd0000000000000000000000000000009', 1,"
	                         " 'pending');"),
	                 TL_OK);
	seq = audit_seq(f->s.audit);
	assert_int_equal(payouts_scan(&f->s, approved + WINDOW_S * 1000, &ss), TL_OK);
	assert_int_equal(ss.forfeited, 0);
	assert_int_equal(payouts_share_state(f->s.core, award, 0, &sh), TL_OK);
	assert_int_equal(sh, SHARE_OPEN);
	/* Once that batch is abandoned the share is free and lapses. */
	assert_int_equal(db_exec(f->s.db,
	                         "UPDATE batch_rows SET state = 'abandoned';"
	                         "UPDATE batches SET state = 'abandoned';"),
	                 TL_OK);
	/* Before the window ends nothing happens. */
	assert_int_equal(payouts_scan(&f->s, approved + WINDOW_S * 1000 - 1, &ss), TL_OK);
	assert_int_equal(ss.forfeited, 0);
	assert_int_equal(payouts_scan(&f->s, approved + WINDOW_S * 1000, &ss), TL_OK);
	assert_int_equal(ss.forfeited, 1);
	assert_int_equal(payouts_share_state(f->s.core, award, 0, &sh), TL_OK);
	assert_int_equal(sh, SHARE_FORFEITED);
	assert_int_equal(payouts_share_state(f->s.core, award, 1, &sh), TL_OK);
	assert_int_equal(sh, SHARE_OPEN);
	assert_int_equal(payouts_budget_remaining(f->s.core, BH, 2026, &left), TL_OK);
	assert_int_equal(left, 25000000);
	fx_key(key, 1);
	assert_string_equal(fx_status(f, key, NULL), "forfeited");
	fx_key(key, 2);
	assert_string_equal(fx_status(f, key, NULL), "claim_received");
	assert_int_equal(audit_seq(f->s.audit), seq + 1);
	assert_int_equal(ledger_check(f->s.db, f->why, sizeof(f->why)), TL_OK);
	assert_int_equal(payouts_scan(&f->s, approved + WINDOW_S * 2000, &ss), TL_OK);
	assert_int_equal(ss.forfeited, 0);
	assert_int_equal(audit_seq(f->s.audit), seq + 1);
}

/* A wrong signing password counts like a failed login: the fifth locks the
 * approver out and ends their sessions, after which even the right
 * password signs nothing until an administrator unlocks them. */
static void
test_wrong_passwords_lock_out(void **state)
{
	struct fx *f = *state;
	char case_id[ID_HEX_LEN + 1], award[ID_HEX_LEN + 1], tok[AUTH_TOKEN_HEX + 1], csrf[AUTH_TOKEN_HEX + 1];
	struct auth_session sess;
	enum award_status st;
	int64_t now = T0 + 10 * HOUR;

	big_case(f, case_id);
	fx_id(award, 'e', 6);
	assert_int_equal(payouts_propose(&f->s, case_id, award, "p.bh", 0, NULL, T0, f->why, sizeof(f->why)), TL_OK);
	assert_int_equal(auth_login(f->s.db, "a.bh1", PW, now, tok, csrf), TL_OK);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(decide(f, award, "a.bh1", "wrong password!!", &st), TL_EDENIED);
		assert_non_null(strstr(f->why, "wrong password"));
		assert_null(strstr(f->why, "locked out"));
	}
	assert_int_equal(auth_session_check(f->s.db, tok, now, &sess), TL_OK);
	auth_session_wipe(&sess);
	assert_int_equal(decide(f, award, "a.bh1", "wrong password!!", &st), TL_EDENIED);
	assert_non_null(strstr(f->why, "now locked out"));
	/* The session that was used is over. */
	assert_int_equal(auth_session_check(f->s.db, tok, now, &sess), TL_EDENIED);
	/* The right password signs nothing while locked out, and logs in to nothing. */
	assert_int_equal(decide(f, award, "a.bh1", PW, &st), TL_EDENIED);
	assert_non_null(strstr(f->why, "locked out"));
	assert_int_equal(auth_login(f->s.db, "a.bh1", PW, now, tok, csrf), TL_EDENIED);
	/* Nothing was recorded for the award. */
	{
		struct award_record r;
		assert_int_equal(award_load(f->s.core, award, &r), TL_OK);
		assert_int_equal(r.status, AWARD_PROPOSED);
	}
	assert_int_equal(auth_user_unlock(f->s.db, "a.bh1"), TL_OK);
	assert_int_equal(decide(f, award, "a.bh1", PW, &st), TL_OK);
	sodium_memzero(tok, sizeof(tok));
	sodium_memzero(csrf, sizeof(csrf));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_propose_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manual_amount, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decide_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_city_any_district, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forfeit_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_passwords_lock_out, setup, teardown),
	};

	log_init("actions_test", LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
