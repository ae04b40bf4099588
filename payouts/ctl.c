/*
 * tl-payouts-ctl - one finance action through tl_payouts_svc, as the
 * console would do it, for operators' scripts and the integration tests.
 * It opens the payouts database (a second process on the same WAL
 * database is fine) and, when the action needs it, NATS as the payouts
 * user.
 *
 *   tl-payouts-ctl -c CONFIG ACTION [ARGS]
 *
 *   propose CASE_ID AWARD_ID PROPOSER [TOTAL_FEN REASON]
 *   decide AWARD_ID STAFF approve|reject REASON     (password on stdin)
 *   export PAYER DISTRICT|all
 *   confirm PAYER BATCH_ID
 *   return PAYER BATCH_ID AWARD_ID SHARE
 *   show case CASE_ID | award AWARD_ID | status REPORT_ID | cases [DISTRICT]
 *   scan                                            one scanner pass
 *   check                                           ledger_check()
 *
 * propose, decide, export, confirm, return and scan append to the audit
 * chain, which one process holds at a time: while tipline-payouts runs
 * they fail with exit status 7 (use the console, or stop the daemon).
 * `show` prints one JSON object per line (ids, codes and numbers only).
 * Exit status: 0 done, 2 usage, 3 exists, 4 conflict, 5 denied, 6 not
 * found, 7 unavailable, 1 anything else.
 */
#include "compat.h"
#include "admin.h"
#include "cases.h"
#include "ledger.h"
#include "log.h"
#include "num.h"
#include "secret.h"
#include "svc.h"
#include "timefmt.h"

#include <getopt.h>

static void
usage(FILE *f)
{
	fprintf(f, "usage: tl-payouts-ctl -c CONFIG ACTION [ARGS]\n"
	           "  (see the comment at the top of payouts/ctl.c for actions)\n");
}

static int
status_of(enum tl_err e)
{
	switch (e) {
	case TL_OK: return 0;
	case TL_EEXIST: return 3;
	case TL_ECONFLICT: return 4;
	case TL_EDENIED: return 5;
	case TL_ENOTFOUND: return 6;
	case TL_EUNAVAIL: return 7;
	default: return 1;
	}
}

static int
show_case(struct payouts_svc *s, const char *case_id)
{
	struct cases_view *v = malloc(sizeof(*v));
	enum tl_err e;

	if (!v)
		return 1;
	pthread_mutex_lock(&s->lock);
	e = cases_get(s, case_id, time_now_ms(), v);
	pthread_mutex_unlock(&s->lock);
	if (e != TL_OK) {
		fprintf(stderr, "tl-payouts-ctl: case %s: %s\n", case_id, tl_strerror(e));
		free(v);
		return status_of(e);
	}
	printf("{\"kind\":\"case\",\"case_id\":\"%s\",\"district\":\"%s\",\"state\":\"%s\",\"merged_into\":\"%s\","
	       "\"reopens\":%d,\"production\":\"%s\",\"furnaces\":%d,\"capacity_tpy\":%lld,\"seized_kg\":%lld,"
	       "\"fines_fen\":%lld,\"agencies\":%d,\"first_received_ms\":%lld,\"verdict_at_ms\":%lld,"
	       "\"budget_year\":%d,\"computed\":%s,\"computed_fen\":%lld,\"award_id\":\"%s\",\"reports\":%zu}\n",
	       v->case_id, v->district, v->state, v->merged_into, v->reopens, v->production, v->furnaces,
	       (long long)v->capacity_tpy, (long long)v->seized_kg, (long long)v->fines_fen, v->agencies,
	       (long long)v->first_received_ms, (long long)v->verdict_at_ms, v->budget_year,
	       v->has_computed ? "true" : "false", (long long)v->computed_fen, v->award_id, v->n_reports);
	for (size_t i = 0; i < v->n_shares; i++)
		printf("{\"kind\":\"share\",\"idx\":%zu,\"report_id\":\"%s\",\"fen\":%lld,\"share_kind\":\"%s\"}\n", i,
		       v->shares[i].report_id, (long long)v->shares[i].fen, award_share_kind_name(v->shares[i].kind));
	for (size_t i = 0; i < v->n_reports; i++) {
		const struct cases_report *r = &v->reports[i];
		printf("{\"kind\":\"report\",\"lead_id\":\"%s\",\"report_id\":\"%s\",\"received_ms\":%lld,"
		       "\"status\":\"%s\",\"amount_fen\":%lld,\"claim_by_ms\":%lld,\"reason\":\"%s\",\"last\":\"%s\","
		       "\"dirty\":%s}\n",
		       r->lead_id, r->report_id, (long long)r->received_ms, r->has_status ? r->status.status : "received",
		       (long long)r->status.amount_fen, (long long)r->status.claim_by_ms, r->status.reason,
		       r->last_status, r->dirty ? "true" : "false");
	}
	/* The trace is English text, one step per line, for people. */
	for (const char *p = v->trace; *p;) {
		size_t n = strcspn(p, "\n");
		printf("# %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
	free(v);
	return 0;
}

static int
show_award(struct payouts_svc *s, const char *award_id)
{
	struct award_record *r = malloc(sizeof(*r));
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	if (!r)
		return 1;
	pthread_mutex_lock(&s->lock);
	if ((e = award_load(s->core, award_id, r)) != TL_OK) {
		pthread_mutex_unlock(&s->lock);
		fprintf(stderr, "tl-payouts-ctl: award %s: %s\n", award_id, tl_strerror(e));
		free(r);
		return status_of(e);
	}
	printf("{\"kind\":\"award\",\"award_id\":\"%s\",\"version\":%d,\"case_id\":\"%s\",\"district\":\"%s\","
	       "\"budget_year\":%d,\"status\":\"%s\",\"computed_fen\":%lld,\"total_fen\":%lld,"
	       "\"required_approvals\":%d,\"need_city\":%s,\"proposer\":\"%s\"}\n",
	       r->a.award_id, r->version, r->a.case_id, r->a.district, r->a.budget_year,
	       award_status_name(r->status), (long long)r->a.computed_fen, (long long)r->a.total_fen,
	       r->required_approvals, r->need_city ? "true" : "false", r->a.proposer);
	for (size_t i = 0; i < r->a.n_shares; i++) {
		enum share_state ss = SHARE_OPEN;
		if (payouts_share_state(s->core, award_id, (int)i, &ss) != TL_OK)
			ss = SHARE_OPEN;
		printf("{\"kind\":\"share\",\"idx\":%zu,\"report_id\":\"%s\",\"fen\":%lld,\"share_kind\":\"%s\","
		       "\"state\":\"%s\"}\n", i, r->a.shares[i].report_id, (long long)r->a.shares[i].fen,
		       award_share_kind_name(r->a.shares[i].kind), share_state_name(ss));
	}
	if (db_prepare(s->db, "SELECT approver, decision, at FROM approvals WHERE award_id = ?1 ORDER BY at;", &st) ==
	            TL_OK &&
	    db_bind_text(st, 1, award_id) == TL_OK)
		while (db_step(st, &row) == TL_OK && row)
			printf("{\"kind\":\"decision\",\"staff\":\"%s\",\"decision\":\"%s\",\"at_ms\":%lld}\n",
			       db_col_text(st, 0), db_col_text(st, 1), (long long)db_col_int64(st, 2));
	db_finalize(st);
	pthread_mutex_unlock(&s->lock);
	free(r);
	return 0;
}

static int
show_status(struct payouts_svc *s, const char *report_id)
{
	char case_id[ID_HEX_LEN + 1];
	struct cases_view *v = malloc(sizeof(*v));
	enum tl_err e;
	int rc = 6;

	if (!v)
		return 1;
	pthread_mutex_lock(&s->lock);
	if ((e = cases_of_report(s, report_id, case_id)) == TL_OK)
		e = cases_get(s, case_id, time_now_ms(), v);
	pthread_mutex_unlock(&s->lock);
	if (e != TL_OK) {
		fprintf(stderr, "tl-payouts-ctl: report %s: %s\n", report_id, tl_strerror(e));
		free(v);
		return status_of(e);
	}
	for (size_t i = 0; i < v->n_reports; i++) {
		const struct cases_report *r = &v->reports[i];
		if (strcmp(r->report_id, report_id) != 0)
			continue;
		printf("{\"kind\":\"status\",\"report_id\":\"%s\",\"case_id\":\"%s\",\"status\":\"%s\","
		       "\"amount_fen\":%lld,\"claim_by_ms\":%lld,\"reason\":\"%s\",\"last\":\"%s\",\"dirty\":%s}\n",
		       r->report_id, case_id, r->has_status ? r->status.status : "received",
		       (long long)r->status.amount_fen, (long long)r->status.claim_by_ms, r->status.reason,
		       r->last_status, r->dirty ? "true" : "false");
		rc = 0;
	}
	free(v);
	return rc;
}

static int
show_cases(struct payouts_svc *s, const char *district)
{
	struct cases_summary *v = NULL;
	size_t n = 0;
	enum tl_err e;

	pthread_mutex_lock(&s->lock);
	e = cases_list(s, district, NULL, 10000, &v, &n);
	pthread_mutex_unlock(&s->lock);
	if (e != TL_OK) {
		fprintf(stderr, "tl-payouts-ctl: list: %s\n", tl_strerror(e));
		return status_of(e);
	}
	for (size_t i = 0; i < n; i++)
		printf("{\"kind\":\"case\",\"case_id\":\"%s\",\"district\":\"%s\",\"state\":\"%s\",\"budget_year\":%d,"
		       "\"computed_fen\":%lld,\"reports\":%d,\"award_id\":\"%s\"}\n",
		       v[i].case_id, v[i].district, v[i].state, v[i].budget_year, (long long)v[i].computed_fen,
		       v[i].reports, v[i].award_id);
	free(v);
	return 0;
}

static bool
parse_i64(const char *s, int64_t min, int64_t max, int64_t *v)
{
	return num_parse_i64(s, strlen(s), min, max, v) == TL_OK;
}

/* Which services an action needs. */
static unsigned
flags_for(const char *act)
{
	if (strcmp(act, "propose") == 0)
		return PAYOUTS_SVC_AUDIT;
	if (strcmp(act, "decide") == 0 || strcmp(act, "export") == 0 || strcmp(act, "confirm") == 0 ||
	    strcmp(act, "return") == 0 || strcmp(act, "scan") == 0)
		return PAYOUTS_SVC_AUDIT | PAYOUTS_SVC_BUS;
	return 0;
}

static int
run(struct payouts_svc *s, int argc, char **argv)
{
	const char *act = argv[0];
	char why[1024] = "";
	int64_t v;
	enum tl_err e;

#define NEED(lo, hi) do { if (argc < (lo) + 1 || argc > (hi) + 1) return 2; } while (0)
	if (strcmp(act, "propose") == 0) {
		int64_t total = 0;
		NEED(3, 5);
		if (argc == 5)
			return 2;
		if (argc == 6 && !parse_i64(argv[4], 1, INT64_MAX, &total)) {
			fprintf(stderr, "tl-payouts-ctl: TOTAL_FEN must be a positive integer\n");
			return 2;
		}
		e = payouts_propose(s, argv[1], argv[2], argv[3], total, argc == 6 ? argv[5] : NULL, time_now_ms(), why,
		                    sizeof(why));
		if (e == TL_OK)
			printf("proposed %s\n", argv[2]);
	} else if (strcmp(act, "decide") == 0) {
		enum approval_decision d;
		enum award_status st = AWARD_PROPOSED;
		char *pw;
		NEED(4, 4);
		if (strcmp(argv[3], "approve") == 0)
			d = APPROVAL_APPROVE;
		else if (strcmp(argv[3], "reject") == 0)
			d = APPROVAL_REJECT;
		else
			return 2;
		if (!(pw = payouts_read_password("password", false)))
			return 1;
		e = payouts_decide(s, argv[1], argv[2], d, pw, argv[4], time_now_ms(), &st, why, sizeof(why));
		secret_free(pw);
		if (e == TL_OK)
			printf("decided %s: award %s\n", argv[3], award_status_name(st));
	} else if (strcmp(act, "export") == 0) {
		char batch[ID_HEX_LEN + 1] = "";
		size_t rows = 0;
		NEED(2, 2);
		e = payouts_batch_export(s, argv[1], argv[2], time_now_ms(), batch, &rows, why, sizeof(why));
		if (e == TL_OK)
			printf("batch %s rows %zu\n", batch, rows);
	} else if (strcmp(act, "confirm") == 0) {
		NEED(2, 2);
		e = payouts_batch_confirm(s, argv[1], argv[2], time_now_ms(), why, sizeof(why));
		if (e == TL_OK)
			printf("confirmed %s\n", argv[2]);
	} else if (strcmp(act, "return") == 0) {
		NEED(4, 4);
		if (!parse_i64(argv[4], 0, AWARD_MAX_REPORTS - 1, &v))
			return 2;
		e = payouts_batch_return_row(s, argv[1], argv[2], argv[3], (int)v, time_now_ms(), why, sizeof(why));
		if (e == TL_OK)
			printf("returned %s share %lld\n", argv[3], (long long)v);
	} else if (strcmp(act, "show") == 0) {
		NEED(1, 2);
		if (strcmp(argv[1], "cases") == 0)
			return show_cases(s, argc == 3 ? argv[2] : NULL);
		if (argc != 3)
			return 2;
		if (strcmp(argv[1], "case") == 0)
			return show_case(s, argv[2]);
		if (strcmp(argv[1], "award") == 0)
			return show_award(s, argv[2]);
		if (strcmp(argv[1], "status") == 0)
			return show_status(s, argv[2]);
		return 2;
	} else if (strcmp(act, "scan") == 0) {
		struct payouts_scan_stats st;
		NEED(0, 0);
		if ((e = payouts_scan(s, time_now_ms(), &st)) == TL_OK)
			printf("scan forfeited=%d synced=%d failed=%d\n", st.forfeited, st.synced, st.failed);
		snprintf(why, sizeof(why), "%s", tl_strerror(e));
	} else if (strcmp(act, "check") == 0) {
		NEED(0, 0);
		pthread_mutex_lock(&s->lock);
		e = ledger_check(s->db, why, sizeof(why));
		pthread_mutex_unlock(&s->lock);
		if (e == TL_OK)
			printf("ledger ok\n");
	} else {
		return 2;
	}
#undef NEED
	if (e != TL_OK) {
		fprintf(stderr, "tl-payouts-ctl: %s: %s\n", act, why[0] ? why : tl_strerror(e));
		return status_of(e);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *cfgpath = NULL;
	struct payouts_cfg cfg;
	struct payouts_svc svc;
	bool cfg_loaded = false, svc_open = false;
	char why[1024];
	unsigned flags;
	int c, rc = 1;
	enum tl_err e;

	while ((c = getopt(argc, argv, "+c:h")) != -1) {
		switch (c) {
		case 'c': cfgpath = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!cfgpath || optind >= argc) {
		usage(stderr);
		return 2;
	}
	log_init("payouts-ctl", LOG_WARN);
	if (secret_init() != TL_OK) {
		fprintf(stderr, "tl-payouts-ctl: cannot initialise libsodium\n");
		return 1;
	}
	if (payouts_cfg_load(cfgpath, &cfg, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "tl-payouts-ctl: %s\n", why);
		return 1;
	}
	cfg_loaded = true;
	if ((e = auth_init(NULL)) != TL_OK) {
		fprintf(stderr, "tl-payouts-ctl: cannot initialise the user module (%s)\n", tl_strerror(e));
		goto out;
	}
	flags = flags_for(argv[optind]);
	if ((e = payouts_svc_open(&svc, &cfg, flags, why, sizeof(why))) != TL_OK) {
		fprintf(stderr, "tl-payouts-ctl: %s\n", why);
		rc = status_of(e);
		goto out;
	}
	svc_open = true;
	rc = run(&svc, argc - optind, argv + optind);
	if (rc == 2)
		usage(stderr);
out:
	if (svc_open) {
		bool bus = svc.bus != NULL;
		payouts_svc_close(&svc);
		if (bus)
			bus_shutdown();
	}
	if (cfg_loaded)
		payouts_cfg_free(&cfg);
	return rc;
}
