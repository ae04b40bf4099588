/*
 * cases_test.c - payouts' record of leads, events and claims, and the
 * reporter status derived from it: events before their lead, merges in
 * either order (the earliest report keeps priority), idempotent re-apply,
 * malformed input, the budget year in China Standard Time, the status of
 * every state, writes only on change, never backwards after a lost
 * database, and pending writes while TL_STATUS is down.
 */
#include "svc_fixture.h"

#define BH "120116"
#define JH "120118"
#define T0 INT64_C(1772323200000) /* 2026-03-01T00:00:00Z */
#define HOUR INT64_C(3600000)

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

static const char *
key_status(struct fx *f, int n)
{
	char key[STATUS_KEY_LEN + 1];

	fx_key(key, n);
	return fx_status(f, key, NULL);
}

static int
key_puts(struct fx *f, int n)
{
	char key[STATUS_KEY_LEN + 1];
	struct fx_kv *k;

	fx_key(key, n);
	k = fx_kv_find(f, key);
	return k ? k->puts : 0;
}

static void
view(struct fx *f, int lead, struct cases_view *v)
{
	char id[ID_HEX_LEN + 1];

	fx_id(id, 'a', lead);
	assert_int_equal(cases_get(&f->s, id, T0 + 1000 * HOUR, v), TL_OK);
}

/* A lead alone is "received": intake wrote that, payouts writes nothing.
 * A claim makes it "investigating", written once. */
static void
test_lead_then_claim(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fx_lead(f, 1, BH, T0), CASES_APPLIED);
	assert_int_equal(f->puts, 0);
	assert_int_equal(fx_simple(f, WIRE_EV_CLAIMED, 1, BH, T0 + HOUR), CASES_APPLIED);
	assert_string_equal(key_status(f, 1), "investigating");
	/* A second claim (re-claim after a lease) changes nothing visible. */
	assert_int_equal(fx_simple(f, WIRE_EV_CLAIMED, 1, BH, T0 + 2 * HOUR), CASES_APPLIED);
	assert_int_equal(key_puts(f, 1), 1);
}

/* The events stream can be ahead of the leads stream: the claim and the
 * verdict apply to a placeholder and the lead, when it comes, finds its
 * case substantiated with the award computed over it. */
static void
test_events_before_lead(void **state)
{
	struct fx *f = *state;
	struct cases_view v;

	assert_int_equal(fx_simple(f, WIRE_EV_CLAIMED, 2, BH, T0 + HOUR), CASES_APPLIED);
	assert_int_equal(fx_verdict(f, 2, BH, T0 + 2 * HOUR, 0), CASES_APPLIED);
	assert_int_equal(f->puts, 0); /* no status key known yet */
	view(f, 2, &v);
	assert_string_equal(v.state, "substantiated");
	assert_false(v.has_computed); /* no report to reward yet */
	assert_int_equal(fx_lead(f, 2, BH, T0), CASES_APPLIED);
	view(f, 2, &v);
	assert_true(v.has_computed);
	assert_int_equal(v.computed_fen, 10000000); /* running tier base, no fines */
	assert_int_equal(v.n_shares, 1);
	assert_string_equal(key_status(f, 2), "verified");
	assert_int_equal(key_puts(f, 2), 1);
	assert_int_equal(v.budget_year, 2026);
	assert_non_null(strstr(v.trace, "no confiscation amount"));
}

/* Same message twice: the second is a duplicate and writes nothing. */
static void
test_idempotent(void **state)
{
	struct fx *f = *state;
	struct wire_event ev;

	assert_int_equal(fx_lead(f, 3, BH, T0), CASES_APPLIED);
	assert_int_equal(fx_lead(f, 3, BH, T0), CASES_DUPLICATE);
	fx_event_init(&ev, WIRE_EV_CLAIMED, 3, BH, T0 + HOUR);
	assert_int_equal(fx_apply(f, &ev), CASES_APPLIED);
	assert_int_equal(fx_apply(f, &ev), CASES_DUPLICATE);
	fx_event_init(&ev, WIRE_EV_VERDICT, 3, BH, T0 + 2 * HOUR);
	ev.agencies = 2;
	snprintf(ev.signed_off_by, sizeof(ev.signed_off_by), "sup.wang");
	assert_int_equal(fx_apply(f, &ev), CASES_APPLIED);
	assert_int_equal(fx_apply(f, &ev), CASES_DUPLICATE);
	assert_string_equal(key_status(f, 3), "unfounded");
	assert_int_equal(key_puts(f, 3), 2);
	assert_int_equal(f->puts, 2);
}

/* Survivor 10 absorbs lead 11, whose report is 48 h older: the older
 * report is the first reporter and the only sharer (outside the 24 h
 * simultaneous window), whichever order lead and merge arrive in. */
static void
merge_case(struct fx *f, bool lead_first, int base)
{
	struct wire_event ev;
	struct cases_view v;
	char other[ID_HEX_LEN + 1], first_report[ID_HEX_LEN + 1];

	fx_id(other, 'a', base + 1);
	fx_id(first_report, 'b', base + 1);
	assert_int_equal(fx_lead(f, base, BH, T0 + 48 * HOUR), CASES_APPLIED);
	if (lead_first)
		assert_int_equal(fx_lead(f, base + 1, BH, T0), CASES_APPLIED);
	fx_event_init(&ev, WIRE_EV_MERGED, base, BH, T0 + 49 * HOUR);
	snprintf(ev.other_lead, sizeof(ev.other_lead), "%s", other);
	assert_int_equal(fx_apply(f, &ev), CASES_APPLIED);
	assert_int_equal(fx_verdict(f, base, BH, T0 + 50 * HOUR, 0), CASES_APPLIED);
	if (!lead_first)
		assert_int_equal(fx_lead(f, base + 1, BH, T0), CASES_APPLIED);
	view(f, base, &v);
	assert_int_equal(v.n_reports, 2);
	assert_int_equal(v.n_shares, 1);
	assert_string_equal(v.shares[0].report_id, first_report);
	assert_int_equal(v.shares[0].kind, AWARD_SHARE_FIRST);
	assert_int_equal(v.shares[0].fen, 10000000);
	/* Both reports follow the survivor's case. */
	assert_string_equal(key_status(f, base), "verified");
	assert_string_equal(key_status(f, base + 1), "verified");
	if (lead_first) {
		/* The absorbed case points at the survivor. */
		struct cases_view ov;
		assert_int_equal(cases_get(&f->s, other, T0, &ov), TL_OK);
		assert_string_equal(ov.merged_into, v.case_id);
		assert_int_equal(ov.n_reports, 0);
	}
}

static void
test_merge_lead_first(void **state)
{
	merge_case(*state, true, 10);
}

static void
test_merge_lead_late(void **state)
{
	merge_case(*state, false, 20);
}

/* Malformed or inconsistent input is rejected and stores nothing. */
static void
test_rejects(void **state)
{
	struct fx *f = *state;
	struct wire_lead m;
	struct wire_event ev;
	struct wire_eligibility el;
	enum cases_outcome out;
	char case_id[ID_HEX_LEN + 1], id[ID_HEX_LEN + 1];
	struct cases_view v;

	memset(&m, 0, sizeof(m));
	fx_id(m.lead_id, 'a', 30);
	fx_id(m.report_id, 'b', 30);
	snprintf(m.district, sizeof(m.district), "999999");
	fx_key(m.status_key, 30);
	assert_int_equal(cases_apply_lead(&f->s, &m, T0, &out, case_id), TL_OK);
	assert_int_equal(out, CASES_REJECTED);
	fx_id(id, 'a', 30);
	assert_int_equal(cases_get(&f->s, id, T0, &v), TL_ENOTFOUND);
	/* A merge of a lead with itself. */
	fx_event_init(&ev, WIRE_EV_MERGED, 31, BH, T0);
	fx_id(ev.other_lead, 'a', 31);
	assert_int_equal(cases_apply_event(&f->s, &ev, T0, &out, case_id), TL_OK);
	assert_int_equal(out, CASES_REJECTED);
	fx_id(id, 'a', 31);
	assert_int_equal(cases_get(&f->s, id, T0, &v), TL_ENOTFOUND);
	/* A refusal without a known reason. */
	memset(&el, 0, sizeof(el));
	fx_id(el.claim_id, 'c', 32);
	fx_id(el.report_id, 'b', 32);
	snprintf(el.reason, sizeof(el.reason), "because");
	assert_int_equal(cases_apply_eligibility(&f->s, &el, T0, &out, case_id), TL_OK);
	assert_int_equal(out, CASES_REJECTED);
	assert_int_equal(f->puts, 0);
}

/* A verdict at 01:00 on 1 January in Beijing is 17:00 UTC on 31
 * December: it counts against the new year's budget. */
static void
test_budget_year_cst(void **state)
{
	struct fx *f = *state;
	struct cases_view v;

	assert_int_equal(cases_cst_year(INT64_C(1767200400000)), 2026);
	assert_int_equal(cases_cst_year(INT64_C(1767200400000) - HOUR), 2026); /* midnight in Beijing */
	assert_int_equal(cases_cst_year(INT64_C(1767200400000) - HOUR - 1), 2025);
	assert_int_equal(fx_lead(f, 40, BH, INT64_C(1767200400000) - 10 * HOUR), CASES_APPLIED);
	assert_int_equal(fx_verdict(f, 40, BH, INT64_C(1767200400000), 0), CASES_APPLIED);
	view(f, 40, &v);
	assert_int_equal(v.budget_year, 2026);
}

/* A transfer moves the case to the receiving district. */
static void
test_transfer(void **state)
{
	struct fx *f = *state;
	struct wire_event ev;
	struct cases_view v;

	assert_int_equal(fx_lead(f, 45, BH, T0), CASES_APPLIED);
	fx_event_init(&ev, WIRE_EV_TRANSFER_ACCEPTED, 45, JH, T0 + HOUR);
	snprintf(ev.from_district, sizeof(ev.from_district), BH);
	snprintf(ev.to_district, sizeof(ev.to_district), JH);
	assert_int_equal(fx_apply(f, &ev), CASES_APPLIED);
	view(f, 45, &v);
	assert_string_equal(v.district, JH);
}

/* Every status of docs/award-flow.md section 2 from its inputs. */
static void
test_derive_table(void **state)
{
	const int64_t W = 60 * 86400 * INT64_C(1000), A = T0;
	static const struct {
		const char *state;
		bool live, share;
		enum share_state ss;
		enum cases_claim claim;
		const char *reason;
		const char *want;
		bool amount, claim_by;
		const char *want_reason;
	} t[] = {
		{ "open", false, false, SHARE_OPEN, CASES_CLAIM_NONE, "", NULL, false, false, "" },
		{ "investigating", false, false, SHARE_OPEN, CASES_CLAIM_NONE, "", "investigating", false, false, "" },
		{ "unfounded", false, false, SHARE_OPEN, CASES_CLAIM_NONE, "", "unfounded", false, false, "" },
		{ "substantiated", false, false, SHARE_OPEN, CASES_CLAIM_NONE, "", "verified", false, false, "" },
		/* proposed, not yet approved: still verified */
		{ "substantiated", false, true, SHARE_OPEN, CASES_CLAIM_NONE, "", "verified", false, false, "" },
		/* approved, but this (later) report has no share */
		{ "substantiated", true, false, SHARE_OPEN, CASES_CLAIM_NONE, "", "verified", false, false, "" },
		{ "substantiated", true, true, SHARE_OPEN, CASES_CLAIM_NONE, "", "award_approved", true, true, "" },
		{ "substantiated", true, true, SHARE_OPEN, CASES_CLAIM_ELIGIBLE, "", "claim_received", true, false, "" },
		{ "substantiated", true, true, SHARE_OPEN, CASES_CLAIM_REFUSED, "excluded", "claim_refused", true, true,
		  "excluded" },
		{ "substantiated", true, true, SHARE_OPEN, CASES_CLAIM_REFUSED, "bank_rejected", "claim_refused", true,
		  true, "bank_rejected" },
		{ "substantiated", true, true, SHARE_PAID, CASES_CLAIM_ELIGIBLE, "", "paid", true, false, "" },
		{ "substantiated", true, true, SHARE_FORFEITED, CASES_CLAIM_NONE, "", "forfeited", true, false, "" },
	};
	(void)state;
	for (size_t i = 0; i < TL_ARRAY_LEN(t); i++) {
		struct cases_status_in in = { .case_state = t[i].state, .award_live = t[i].live,
			                      .has_share = t[i].share, .share_fen = 123456, .share = t[i].ss,
			                      .approved_ms = A, .claim = t[i].claim, .claim_reason = t[i].reason };
		struct wire_status w;
		struct buf b;
		bool has = cases_status_derive(&in, W, A + 5, &w);

		assert_int_equal(has, t[i].want != NULL);
		if (!has)
			continue;
		assert_string_equal(w.status, t[i].want);
		assert_int_equal(w.amount_fen, t[i].amount ? 123456 : 0);
		assert_int_equal(w.claim_by_ms, t[i].claim_by ? A + W : 0);
		assert_string_equal(w.reason, t[i].want_reason);
		/* Whatever is derived is a valid message. */
		buf_init(&b, 4096);
		assert_int_equal(wire_status_encode(&w, &b), TL_OK);
		buf_free(&b);
	}
	assert_true(cases_status_rank("investigating") < cases_status_rank("verified"));
	assert_true(cases_status_rank("award_approved") < cases_status_rank("claim_received"));
	assert_true(cases_status_rank("claim_refused") < cases_status_rank("paid"));
	assert_int_equal(cases_status_rank("nonsense"), -1);
}

/* A lost database: the bucket already says award_approved.  Replaying
 * lead, claim and verdict derives lower values; none is written. */
static void
test_never_backwards(void **state)
{
	struct fx *f = *state;
	char key[STATUS_KEY_LEN + 1];
	struct wire_status w = { .updated_ms = T0, .amount_fen = 10000000, .claim_by_ms = T0 + 1000 * HOUR };
	struct buf b;

	snprintf(w.status, sizeof(w.status), "award_approved");
	buf_init(&b, 4096);
	assert_int_equal(wire_status_encode(&w, &b), TL_OK);
	fx_key(key, 50);
	assert_int_equal(fx_put(f, key, b.data, b.len), TL_OK);
	buf_free(&b);
	f->puts = 0;
	assert_int_equal(fx_lead(f, 50, BH, T0), CASES_APPLIED);
	assert_int_equal(fx_simple(f, WIRE_EV_CLAIMED, 50, BH, T0 + HOUR), CASES_APPLIED);
	assert_int_equal(fx_verdict(f, 50, BH, T0 + 2 * HOUR, 0), CASES_APPLIED);
	assert_int_equal(f->puts, 0);
	assert_string_equal(key_status(f, 50), "award_approved");
}

/* A reopened case may go back to investigating (the one backwards step
 * the flow has), and an unfounded verdict after it is written again. */
static void
test_reopen(void **state)
{
	struct fx *f = *state;
	struct wire_event ev;

	assert_int_equal(fx_lead(f, 60, BH, T0), CASES_APPLIED);
	assert_int_equal(fx_simple(f, WIRE_EV_CLAIMED, 60, BH, T0 + HOUR), CASES_APPLIED);
	assert_int_equal(fx_verdict(f, 60, BH, T0 + 2 * HOUR, 0), CASES_APPLIED);
	assert_string_equal(key_status(f, 60), "verified");
	fx_event_init(&ev, WIRE_EV_REOPENED, 60, BH, T0 + 3 * HOUR);
	assert_int_equal(fx_apply(f, &ev), CASES_APPLIED);
	assert_string_equal(key_status(f, 60), "investigating");
	fx_event_init(&ev, WIRE_EV_VERDICT, 60, BH, T0 + 4 * HOUR);
	ev.agencies = 2;
	snprintf(ev.signed_off_by, sizeof(ev.signed_off_by), "sup.wang");
	assert_int_equal(fx_apply(f, &ev), CASES_APPLIED);
	assert_string_equal(key_status(f, 60), "unfounded");
	assert_int_equal(key_puts(f, 60), 4);
}

/* TL_STATUS down: the change is kept as a pending write and goes out on
 * the scanner's retry, once. */
static void
test_dirty_retry(void **state)
{
	struct fx *f = *state;
	char ids[4][ID_HEX_LEN + 1], id[ID_HEX_LEN + 1];
	size_t n;

	assert_int_equal(fx_lead(f, 70, BH, T0), CASES_APPLIED);
	f->kv_down = true;
	assert_int_equal(fx_simple(f, WIRE_EV_CLAIMED, 70, BH, T0 + HOUR), CASES_APPLIED);
	assert_string_equal(key_status(f, 70), "");
	assert_int_equal(cases_dirty(&f->s, 4, ids, &n), TL_OK);
	assert_int_equal(n, 1);
	fx_id(id, 'a', 70);
	assert_string_equal(ids[0], id);
	f->kv_down = false;
	assert_int_equal(payouts_status_sync_case(&f->s, ids[0], T0 + 2 * HOUR), TL_OK);
	assert_string_equal(key_status(f, 70), "investigating");
	assert_int_equal(cases_dirty(&f->s, 4, ids, &n), TL_OK);
	assert_int_equal(n, 0);
	assert_int_equal(payouts_status_sync_case(&f->s, id, T0 + 3 * HOUR), TL_OK);
	assert_int_equal(key_puts(f, 70), 1);
}

/* Claims: the latest per report counts; a bank rejection turns the
 * latest eligible claim into a refusal. */
static void
test_claims(void **state)
{
	struct fx *f = *state;
	struct wire_eligibility el;
	struct cases_claim_row c;
	enum cases_outcome out;
	char case_id[ID_HEX_LEN + 1], report[ID_HEX_LEN + 1];

	assert_int_equal(fx_lead(f, 80, BH, T0), CASES_APPLIED);
	fx_id(report, 'b', 80);
	memset(&el, 0, sizeof(el));
	fx_id(el.claim_id, 'c', 1);
	snprintf(el.report_id, sizeof(el.report_id), "%s", report);
	snprintf(el.reason, sizeof(el.reason), "invalid_id");
	el.at_ms = T0 + HOUR;
	assert_int_equal(cases_apply_eligibility(&f->s, &el, T0, &out, case_id), TL_OK);
	assert_int_equal(out, CASES_APPLIED);
	assert_int_equal(cases_apply_eligibility(&f->s, &el, T0, &out, case_id), TL_OK);
	assert_int_equal(out, CASES_DUPLICATE);
	fx_id(el.claim_id, 'c', 2);
	el.eligible = true;
	el.reason[0] = '\0';
	fx_id(el.payee_ref, 'd', 2);
	el.at_ms = T0 + 2 * HOUR;
	assert_int_equal(cases_apply_eligibility(&f->s, &el, T0, &out, case_id), TL_OK);
	assert_int_equal(out, CASES_APPLIED);
	fx_id(report, 'a', 80);
	assert_string_equal(case_id, report); /* the case to sync */
	fx_id(report, 'b', 80);
	assert_int_equal(cases_latest_claim(f->s.db, report, &c), TL_OK);
	assert_true(c.eligible);
	assert_int_equal(payouts_claim_mark_rejected(&f->s, report, T0 + 3 * HOUR), TL_OK);
	assert_int_equal(cases_latest_claim(f->s.db, report, &c), TL_OK);
	assert_false(c.eligible);
	assert_string_equal(c.reason, "bank_rejected");
	fx_id(report, 'b', 81);
	assert_int_equal(payouts_claim_mark_rejected(&f->s, report, T0), TL_ENOTFOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lead_then_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_before_lead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_lead_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_lead_late, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget_year_cst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transfer, setup, teardown),
		cmocka_unit_test(test_derive_table),
		cmocka_unit_test_setup_teardown(test_never_backwards, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dirty_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claims, setup, teardown),
	};

	log_init("cases_test", LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
