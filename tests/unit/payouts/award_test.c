/*
 * award_test.c - the award engine: rules file, tiers, floors,
 * percentages, the hard cap, overflow, and the simultaneous-reporter split.
 */
#include "compat.h"
#include "award.h"

#include <setjmp.h>
#include <cmocka.h>

#define H (INT64_C(3600) * 1000)

static const char rules_ok[] =
	"[award]\ncap_fen = 50000000\nsimultaneous_window_hours = 24\n"
	"dual_approval_threshold_fen = 10000000\n"
	"[tier.running]\nbase_fen = 10000000\nfloor_fen = 500000\nfines_bp = 500\nconfiscation_bp = 500\n"
	"[tier.idle_restartable]\nbase_fen = 5000000\nfloor_fen = 300000\nfines_bp = 300\n"
	"confiscation_bp = 300\n"
	"[tier.products]\nbase_fen = 0\nfloor_fen = 100000\nfines_bp = 100\nconfiscation_bp = 0\n";

static void
load(struct award_rules *r)
{
	char err[256];

	assert_int_equal(award_rules_parse(rules_ok, r, err, sizeof(err)), TL_OK);
}

static void
test_rules_file_in_repo(void **state)
{
	struct award_rules r, d;
	char err[256];

	(void)state;
	assert_int_equal(award_rules_load(TL_DATADIR "/award-rules.ini", &r, err, sizeof(err)), TL_OK);
	award_rules_default(&d);
	/* The shipped file and the compiled-in defaults say the same. */
	assert_memory_equal(&r, &d, sizeof(r));
	assert_int_equal(r.cap_fen, MONEY_HARD_CAP_FEN);
	assert_int_equal(r.window_ms, 24 * H);
}

static void
test_rules_refused(void **state)
{
	static const struct {
		const char *find, *replace, *msg;
	} bad[] = {
		{ "cap_fen = 50000000", "cap_fen = 50000001", "cap_fen" },   /* above the hard cap */
		{ "base_fen = 10000000", "base_fen = 60000000", "base_fen" },
		{ "floor_fen = 500000", "floor_fen = 99999999999", "floor_fen" },
		{ "fines_bp = 500", "fines_bp = 10001", "fines_bp" },        /* > 100 % */
		{ "fines_bp = 500", "fines_bp = -1", "fines_bp" },
		{ "fines_bp = 500", "fines_bp = 5.5", "fines_bp" },           /* no floating point */
		{ "fines_bp = 500", "fines_pct = 5", "unknown key" },
		{ "[tier.products]", "[tier.sales]", "unknown section" },
		{ "confiscation_bp = 500\n", "", "confiscation_bp is required" },
		{ "fines_bp = 500", "fines_bp = 500\nfines_bp = 400", "twice" },
		{ "cap_fen = 50000000", "cap_fen = 0", "cap_fen" },
	};
	struct award_rules r;
	char text[2048], err[256];

	(void)state;
	for (size_t i = 0; i < TL_ARRAY_LEN(bad); i++) {
		const char *at = strstr(rules_ok, bad[i].find);
		int n;

		assert_non_null(at);
		n = snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - rules_ok), rules_ok,
		             bad[i].replace, at + strlen(bad[i].find));
		assert_true(n > 0 && (size_t)n < sizeof(text));
		assert_int_equal(award_rules_parse(text, &r, err, sizeof(err)), TL_ECONFIG);
		if (!strstr(err, bad[i].msg))
			fail_msg("case %zu: message '%s' lacks '%s'", i, err, bad[i].msg);
	}
	/* A cap lowered below a base is refused too: the base would always
	 * exceed it. */
	{
		const char *at = strstr(rules_ok, "cap_fen = 50000000");
		snprintf(text, sizeof(text), "%.*scap_fen = 100%s", (int)(at - rules_ok), rules_ok,
		         at + strlen("cap_fen = 50000000"));
		assert_int_equal(award_rules_parse(text, &r, err, sizeof(err)), TL_ECONFIG);
		assert_non_null(strstr(err, "above cap_fen"));
	}
	assert_int_equal(award_rules_load("/nonexistent/rules.ini", &r, err, sizeof(err)), TL_ECONFIG);
	assert_non_null(strstr(err, "/nonexistent/rules.ini"));
}

static void
test_amount_table(void **state)
{
	static const struct {
		enum award_tier tier;
		int64_t fines, conf, total, fines_part;
		bool floor, cap;
	} rows[] = {
		/* running: base 100k yuan + 5 % */
		{ AWARD_TIER_RUNNING, 0, 0, 10000000, 0, false, false },
		{ AWARD_TIER_RUNNING, 150000000, 0, 17500000, 7500000, false, false },
		{ AWARD_TIER_RUNNING, 150000000, 20000000, 18500000, 7500000, false, false },
		{ AWARD_TIER_RUNNING, 19, 0, 10000000, 0, false, false }, /* 5 % of 19 fen rounds down */
		/* idle: 50k yuan + 3 % */
		{ AWARD_TIER_IDLE, 100000000, 0, 8000000, 3000000, false, false },
		/* products: base 0, 1 % of fines, floor 1,000 yuan */
		{ AWARD_TIER_PRODUCTS, 0, 0, 100000, 0, true, false },
		{ AWARD_TIER_PRODUCTS, 5000000, 0, 100000, 50000, true, false },
		{ AWARD_TIER_PRODUCTS, 50000000, 99999999, 500000, 500000, false, false },
		/* the cap: 5 % of 1 billion yuan is far above 500,000 yuan */
		{ AWARD_TIER_RUNNING, INT64_C(100000000000), 0, 50000000, 5000000000, false, true },
		{ AWARD_TIER_RUNNING, 800000000, 0, 50000000, 40000000, false, false }, /* exactly the cap */
		{ AWARD_TIER_RUNNING, 800000020, 0, 50000000, 40000001, false, true },
		{ AWARD_TIER_RUNNING, 799999980, 0, 49999999, 39999999, false, false },
	};
	struct award_rules r;
	struct award_trace t;
	char text[1024];

	(void)state;
	load(&r);
	for (size_t i = 0; i < TL_ARRAY_LEN(rows); i++) {
		struct award_verdict v = { rows[i].tier, rows[i].fines, rows[i].conf };

		assert_int_equal(award_amount(&r, &v, &t), TL_OK);
		if (t.total_fen != rows[i].total || t.fines_part_fen != rows[i].fines_part ||
		    t.floor_applied != rows[i].floor || t.cap_applied != rows[i].cap)
			fail_msg("row %zu: total %lld fines part %lld floor %d cap %d", i,
			         (long long)t.total_fen, (long long)t.fines_part_fen, t.floor_applied,
			         t.cap_applied);
		assert_true(t.total_fen <= MONEY_HARD_CAP_FEN);
	}
	assert_int_equal(award_trace_format(&t, text, sizeof(text)), TL_OK);
	assert_non_null(strstr(text, "rule: tier running"));
	assert_non_null(strstr(text, "award: 49999999 fen"));
	assert_int_equal(award_trace_format(&t, text, 10), TL_ETOOBIG);
}

static void
test_cap_config_lower(void **state)
{
	struct award_rules r;
	struct award_trace t;
	struct award_verdict v = { AWARD_TIER_RUNNING, 0, 0 };

	(void)state;
	load(&r);
	r.cap_fen = 2000000;
	r.tier[AWARD_TIER_RUNNING].base_fen = 2000000;
	assert_int_equal(award_amount(&r, &v, &t), TL_OK);
	assert_int_equal(t.total_fen, 2000000);
	/* Even a rules struct built by hand above the hard cap is clamped. */
	r.cap_fen = INT64_MAX;
	r.tier[AWARD_TIER_RUNNING].base_fen = INT64_C(90000000);
	assert_int_equal(award_amount(&r, &v, &t), TL_OK);
	assert_int_equal(t.total_fen, MONEY_HARD_CAP_FEN);
	assert_true(t.cap_applied);
}

static void
test_overflow_and_bad_inputs(void **state)
{
	struct award_rules r;
	struct award_trace t;

	(void)state;
	load(&r);
	{
		struct award_verdict v = { AWARD_TIER_RUNNING, INT64_MAX, 0 };
		assert_int_equal(award_amount(&r, &v, &t), TL_ETOOBIG);
	}
	{
		/* fines * bp overflows by one; one fen less fits and is capped */
		struct award_rules big = r;
		struct award_verdict v = { AWARD_TIER_RUNNING, INT64_MAX / 10000 + 1, 0 };
		big.tier[AWARD_TIER_RUNNING].fines_bp = 10000;
		big.tier[AWARD_TIER_RUNNING].confiscation_bp = 10000;
		assert_int_equal(award_amount(&big, &v, &t), TL_ETOOBIG);
		v.fines_fen = INT64_MAX / 10000;
		v.confiscated_fen = INT64_MAX / 10000;
		assert_int_equal(award_amount(&big, &v, &t), TL_OK);
		assert_int_equal(t.total_fen, MONEY_HARD_CAP_FEN);
		assert_true(t.cap_applied);
	}
	{
		struct award_verdict v = { AWARD_TIER_RUNNING, -1, 0 };
		assert_int_equal(award_amount(&r, &v, &t), TL_EINVAL);
	}
	{
		struct award_verdict v = { AWARD_TIER_RUNNING, 0, -5 };
		assert_int_equal(award_amount(&r, &v, &t), TL_EINVAL);
	}
	{
		struct award_verdict v = { (enum award_tier)7, 0, 0 };
		assert_int_equal(award_amount(&r, &v, &t), TL_EINVAL);
	}
	{
		enum award_tier tier;
		assert_int_equal(award_tier_from_production("running", &tier), TL_OK);
		assert_int_equal(tier, AWARD_TIER_RUNNING);
		assert_int_equal(award_tier_from_production("idle_restartable", &tier), TL_OK);
		assert_int_equal(tier, AWARD_TIER_IDLE);
		assert_int_equal(award_tier_from_production("dismantled", &tier), TL_OK);
		assert_int_equal(tier, AWARD_TIER_PRODUCTS);
		assert_int_equal(award_tier_from_production("Running", &tier), TL_EINVAL);
		assert_int_equal(award_tier_from_production(NULL, &tier), TL_EINVAL);
	}
}

static void
mkid(char out[AWARD_ID_LEN + 1], unsigned n)
{
	snprintf(out, AWARD_ID_LEN + 1, "%032x", n);
}

static void
test_split_three(void **state)
{
	struct award_rules r;
	struct award_result res, again;
	struct award_report rep[4];
	int64_t sum = 0;

	(void)state;
	load(&r);
	/* Given out of order on purpose: the engine sorts by time, then id. */
	mkid(rep[0].report_id, 0x30);
	rep[0].received_ms = 1000 + 5 * H; /* within 24 h */
	mkid(rep[1].report_id, 0x20);
	rep[1].received_ms = 1000; /* first */
	mkid(rep[2].report_id, 0x10);
	rep[2].received_ms = 1000 + 5 * H; /* same time as 0x30: id order */
	mkid(rep[3].report_id, 0x05);
	rep[3].received_ms = 1000 + 24 * H + 1; /* later: no share */
	{
		/* 100k yuan + 5 % of 1,000.01 yuan = 10005000 fen; 10005000 % 3 = 0,
		 * so pick fines giving a total not divisible by 3. */
		struct award_verdict v = { AWARD_TIER_RUNNING, 20, 0 }; /* +1 fen */
		assert_int_equal(award_compute(&r, &v, rep, 4, &res), TL_OK);
	}
	assert_int_equal(res.total_fen, 10000001);
	assert_int_equal(res.n_shares, 3);
	assert_int_equal(res.trace.simultaneous, 3);
	assert_int_equal(res.trace.later, 1);
	for (size_t i = 0; i < res.n_shares; i++)
		sum += res.shares[i].fen;
	assert_int_equal(sum, res.total_fen);
	/* 10000001 = 3 * 3333333 + 2: one extra fen to the two earliest. */
	assert_string_equal(res.shares[0].report_id, "00000000000000000000000000000020");
	assert_int_equal(res.shares[0].fen, 3333334);
	assert_int_equal(res.shares[0].kind, AWARD_SHARE_FIRST);
	assert_string_equal(res.shares[1].report_id, "00000000000000000000000000000010");
	assert_int_equal(res.shares[1].fen, 3333334);
	assert_int_equal(res.shares[1].kind, AWARD_SHARE_SIMULTANEOUS);
	assert_string_equal(res.shares[2].report_id, "00000000000000000000000000000030");
	assert_int_equal(res.shares[2].fen, 3333333);
	/* Deterministic: another input order gives the same answer. */
	{
		struct award_report rev[4] = { rep[3], rep[2], rep[1], rep[0] };
		struct award_verdict v = { AWARD_TIER_RUNNING, 20, 0 };
		assert_int_equal(award_compute(&r, &v, rev, 4, &again), TL_OK);
		assert_memory_equal(&res, &again, sizeof(res));
	}
}

static void
test_split_edges(void **state)
{
	struct award_rules r;
	struct award_result res;
	struct award_report rep[AWARD_MAX_REPORTS + 1];
	struct award_verdict v = { AWARD_TIER_PRODUCTS, 0, 0 }; /* floor: 100000 fen */
	int64_t sum = 0;

	(void)state;
	load(&r);
	/* One reporter takes everything. */
	mkid(rep[0].report_id, 1);
	rep[0].received_ms = 0;
	assert_int_equal(award_compute(&r, &v, rep, 1, &res), TL_OK);
	assert_int_equal(res.n_shares, 1);
	assert_int_equal(res.shares[0].fen, 100000);
	/* Exactly at the window edge is simultaneous; one ms later is not. */
	mkid(rep[1].report_id, 2);
	rep[1].received_ms = 24 * H;
	mkid(rep[2].report_id, 3);
	rep[2].received_ms = 24 * H + 1;
	assert_int_equal(award_compute(&r, &v, rep, 3, &res), TL_OK);
	assert_int_equal(res.n_shares, 2);
	/* 64 simultaneous reporters, 100000 % 64 = 32. */
	for (unsigned i = 0; i < AWARD_MAX_REPORTS; i++) {
		mkid(rep[i].report_id, 100 + i);
		rep[i].received_ms = 7;
	}
	assert_int_equal(award_compute(&r, &v, rep, AWARD_MAX_REPORTS, &res), TL_OK);
	for (size_t i = 0; i < res.n_shares; i++) {
		sum += res.shares[i].fen;
		assert_int_equal(res.shares[i].fen, i < 32 ? 1563 : 1562);
	}
	assert_int_equal(sum, 100000);
	mkid(rep[AWARD_MAX_REPORTS].report_id, 999);
	assert_int_equal(award_compute(&r, &v, rep, AWARD_MAX_REPORTS + 1, &res), TL_ETOOBIG);
	/* Duplicates, bad ids, empty input. */
	mkid(rep[1].report_id, 100);
	assert_int_equal(award_compute(&r, &v, rep, 2, &res), TL_EINVAL);
	rep[1].received_ms = 99;
	assert_int_equal(award_compute(&r, &v, rep, 2, &res), TL_EINVAL);
	snprintf(rep[1].report_id, sizeof(rep[1].report_id), "%s", "XYZ");
	assert_int_equal(award_compute(&r, &v, rep, 2, &res), TL_EINVAL);
	assert_int_equal(award_compute(&r, &v, rep, 0, &res), TL_EINVAL);
	/* award_split refuses totals above the cap. */
	{
		struct award_share sh[2];
		assert_int_equal(award_split(MONEY_HARD_CAP_FEN + 1, rep, 2, sh), TL_EINVAL);
		assert_int_equal(award_split(MONEY_HARD_CAP_FEN, rep, 2, sh), TL_OK);
		assert_int_equal(sh[0].fen + sh[1].fen, MONEY_HARD_CAP_FEN);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_file_in_repo),
		cmocka_unit_test(test_rules_refused),
		cmocka_unit_test(test_amount_table),
		cmocka_unit_test(test_cap_config_lower),
		cmocka_unit_test(test_overflow_and_bad_inputs),
		cmocka_unit_test(test_split_three),
		cmocka_unit_test(test_split_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
