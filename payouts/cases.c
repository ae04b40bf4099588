#include "compat.h"
#include "cases.h"
#include "sqlv.h"
#include "district.h"
#include "log.h"
#include "timefmt.h"

#include <time.h>

/* Schema "cases".  Append steps; never edit a released one.  No text of a
 * tip and no location is ever stored: ids, times, codes and numbers. */
static const struct db_migration cases_steps[] = {
	{ "leads, cases, computed shares, applied events, claims",
	  /* report_id, received_ms and status_key are NULL while only events
	   * have named the lead (seen = 0); the lead message fills them. */
	  "CREATE TABLE leads ("
	  " lead_id TEXT PRIMARY KEY CHECK (length(lead_id) = 32),"
	  " report_id TEXT UNIQUE CHECK (report_id IS NULL OR length(report_id) = 32),"
	  " district TEXT CHECK (district IS NULL OR length(district) = 6),"
	  " received_ms INTEGER,"
	  " status_key TEXT CHECK (status_key IS NULL OR length(status_key) = 64),"
	  " case_id TEXT NOT NULL CHECK (length(case_id) = 32),"
	  " seen INTEGER NOT NULL DEFAULT 0 CHECK (seen IN (0, 1)),"
	  " last_status TEXT,"
	  " last_amount_fen INTEGER NOT NULL DEFAULT 0,"
	  " last_claim_by_ms INTEGER NOT NULL DEFAULT 0,"
	  " last_reason TEXT NOT NULL DEFAULT '',"
	  " dirty INTEGER NOT NULL DEFAULT 0 CHECK (dirty IN (0, 1)),"
	  " created_ms INTEGER NOT NULL,"
	  " CHECK (seen = 0 OR (report_id IS NOT NULL AND received_ms IS NOT NULL)));"
	  "CREATE INDEX leads_case ON leads (case_id);"
	  "CREATE INDEX leads_dirty ON leads (dirty) WHERE dirty = 1;"
	  "CREATE TABLE cases ("
	  " case_id TEXT PRIMARY KEY CHECK (length(case_id) = 32),"
	  " district TEXT NOT NULL CHECK (length(district) = 6),"
	  " state TEXT NOT NULL CHECK (state IN ('open','investigating','substantiated','unfounded')),"
	  " merged_into TEXT CHECK (merged_into IS NULL OR length(merged_into) = 32),"
	  " reopens INTEGER NOT NULL DEFAULT 0,"
	  " production TEXT,"
	  " furnaces INTEGER, capacity_tpy INTEGER, seized_kg INTEGER, fines_fen INTEGER,"
	  " agencies INTEGER, first_received_ms INTEGER, verdict_at_ms INTEGER,"
	  " budget_year INTEGER CHECK (budget_year IS NULL OR budget_year BETWEEN 2000 AND 2999),"
	  " computed_fen INTEGER CHECK (computed_fen IS NULL OR"
	  "  (computed_fen >= 0 AND computed_fen <= 50000000)),"
	  " trace TEXT,"
	  " created_ms INTEGER NOT NULL,"
	  " updated_ms INTEGER NOT NULL);"
	  "CREATE INDEX cases_district ON cases (district, state);"
	  "CREATE TABLE case_shares ("
	  " case_id TEXT NOT NULL REFERENCES cases (case_id),"
	  " idx INTEGER NOT NULL CHECK (idx BETWEEN 0 AND 63),"
	  " report_id TEXT NOT NULL CHECK (length(report_id) = 32),"
	  " fen INTEGER NOT NULL CHECK (fen > 0 AND fen <= 50000000),"
	  " kind TEXT NOT NULL CHECK (kind IN ('first','simultaneous','discretionary')),"
	  " PRIMARY KEY (case_id, idx)) WITHOUT ROWID;"
	  "CREATE TABLE events_applied ("
	  " event_id TEXT PRIMARY KEY,"
	  " case_id TEXT NOT NULL,"
	  " type TEXT NOT NULL,"
	  " at_ms INTEGER NOT NULL,"
	  " applied_ms INTEGER NOT NULL) WITHOUT ROWID;"
	  "CREATE TABLE claims ("
	  " claim_id TEXT PRIMARY KEY CHECK (length(claim_id) = 32),"
	  " report_id TEXT NOT NULL CHECK (length(report_id) = 32),"
	  " payee_ref TEXT NOT NULL,"
	  " eligible INTEGER NOT NULL CHECK (eligible IN (0, 1)),"
	  " reason TEXT NOT NULL,"
	  " at_ms INTEGER NOT NULL,"
	  " received_ms INTEGER NOT NULL);"
	  "CREATE INDEX claims_report ON claims (report_id, at_ms);" },
};

enum tl_err
cases_migrate(struct db *db)
{
	return db_migrate(db, CASES_SCHEMA, cases_steps, TL_ARRAY_LEN(cases_steps), NULL);
}

/* ---- small SQL helpers ---- */

/* Copies a text column (NULL -> ""). */
static void
col_copy(struct db_stmt *st, int col, char *out, size_t outlen)
{
	const char *v = db_col_text(st, col);

	snprintf(out, outlen, "%s", v ? v : "");
}

int
cases_cst_year(int64_t ms)
{
	time_t t = (time_t)(ms / 1000 + 8 * 3600);
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		return 0;
	return tm.tm_year + 1900;
}

/* ---- rows ---- */

static enum tl_err
ensure_case(struct db *db, const char *case_id, const char *district, int64_t now_ms)
{
	return sqlv_run(db, "INSERT OR IGNORE INTO cases (case_id, district, state, created_ms, updated_ms)"
	                    " VALUES (?1, ?2, 'open', ?3, ?3);", "tti", case_id, district, now_ms);
}

/* The case of a lead; a lead only named so far gets a placeholder row
 * (and its own case) so that events can apply before the lead arrives. */
static enum tl_err
ensure_lead(struct db *db, const char *lead_id, const char *district, int64_t now_ms,
            char case_id[ID_HEX_LEN + 1])
{
	struct db_stmt *st;
	bool row;
	enum tl_err e;

	if ((e = sqlv_prep(db, &st, "SELECT case_id FROM leads WHERE lead_id = ?1;", "t", lead_id)) != TL_OK)
		return e;
	if ((e = db_step(st, &row)) == TL_OK && row)
		col_copy(st, 0, case_id, ID_HEX_LEN + 1);
	db_finalize(st);
	if (e != TL_OK)
		return e;
	if (!row) {
		snprintf(case_id, ID_HEX_LEN + 1, "%s", lead_id);
		if ((e = sqlv_run(db, "INSERT INTO leads (lead_id, district, case_id, created_ms)"
		                      " VALUES (?1, ?2, ?1, ?3);", "tti", lead_id, district, now_ms)) != TL_OK)
			return e;
	}
	return ensure_case(db, case_id, district, now_ms);
}

/* The case's live award: proposed or further, not rejected or void. */
static enum tl_err
live_award(struct db *db, const char *case_id, char award_id[ID_HEX_LEN + 1], enum award_status *status,
           bool *found)
{
	static const char *const names[] = { "proposed", "approved", "rejected", "paid", "forfeited", "void" };
	struct db_stmt *st;
	bool row;
	enum tl_err e;

	*found = false;
	award_id[0] = '\0';
	if ((e = sqlv_prep(db, &st, "SELECT award_id, status FROM awards WHERE case_id = ?1"
	                            " AND status NOT IN ('rejected','void');", "t", case_id)) != TL_OK)
		return e;
	if ((e = db_step(st, &row)) == TL_OK && row) {
		const char *sname = db_col_text(st, 1);
		*found = true;
		col_copy(st, 0, award_id, ID_HEX_LEN + 1);
		for (size_t i = 0; status && sname && i < TL_ARRAY_LEN(names); i++)
			if (strcmp(sname, names[i]) == 0)
				*status = (enum award_status)i;
	}
	db_finalize(st);
	return e;
}

static enum tl_err
clear_computed(struct db *db, const char *case_id, int64_t now_ms)
{
	enum tl_err e;

	if ((e = sqlv_run(db, "DELETE FROM case_shares WHERE case_id = ?1;", "t", case_id)) != TL_OK)
		return e;
	return sqlv_run(db, "UPDATE cases SET computed_fen = NULL, trace = NULL, updated_ms = ?2 WHERE case_id = ?1;",
	                "ti", case_id, now_ms);
}

/* Recomputes the award of a substantiated case over the reports known now
 * (a lead arriving after the verdict joins the computation), unless an
 * award is already live: then the proposal is the record. */
static enum tl_err
recompute(struct payouts_svc *s, const char *case_id, int64_t now_ms)
{
	struct db *db = s->db;
	struct db_stmt *st = NULL;
	struct award_verdict v = { 0 };
	struct award_report *reps = NULL;
	struct award_result *res = NULL;
	char state[16] = "", production[24] = "", award_id[ID_HEX_LEN + 1], trace[CASES_TRACE_MAX];
	size_t n = 0;
	bool row, live;
	enum tl_err e;

	if ((e = live_award(db, case_id, award_id, NULL, &live)) != TL_OK || live)
		return e;
	if ((e = sqlv_prep(db, &st, "SELECT state, production, fines_fen FROM cases WHERE case_id = ?1;", "t",
	                   case_id)) != TL_OK)
		return e;
	if ((e = db_step(st, &row)) == TL_OK && row) {
		col_copy(st, 0, state, sizeof(state));
		col_copy(st, 1, production, sizeof(production));
		v.fines_fen = db_col_int64(st, 2);
	}
	db_finalize(st);
	st = NULL;
	if (e != TL_OK || !row)
		return e;
	if (strcmp(state, "substantiated") != 0 || award_tier_from_production(production, &v.tier) != TL_OK)
		return clear_computed(db, case_id, now_ms);
	/* The verdict event has no confiscation amount (docs/events.md). */
	v.confiscated_fen = 0;
	if (!(reps = calloc(AWARD_MAX_REPORTS + 1, sizeof(*reps))) || !(res = calloc(1, sizeof(*res)))) {
		e = TL_ENOMEM;
		goto out;
	}
	if ((e = sqlv_prep(db, &st, "SELECT report_id, received_ms FROM leads WHERE case_id = ?1 AND seen = 1"
	                            " ORDER BY received_ms, report_id LIMIT ?2;", "ti", case_id,
	                   (int64_t)AWARD_MAX_REPORTS + 1)) != TL_OK)
		goto out;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		col_copy(st, 0, reps[n].report_id, sizeof(reps[n].report_id));
		reps[n].received_ms = db_col_int64(st, 1);
		n++;
	}
	db_finalize(st);
	st = NULL;
	if (e != TL_OK)
		goto out;
	if (n == 0) {
		e = clear_computed(db, case_id, now_ms);
		goto out;
	}
	if (n > AWARD_MAX_REPORTS) {
		log_warn("case %s: more than %d reports; the award is not computed automatically", case_id,
		         AWARD_MAX_REPORTS);
		e = clear_computed(db, case_id, now_ms);
		goto out;
	}
	if ((e = award_compute(&s->core->rules, &v, reps, n, res)) != TL_OK) {
		log_warn("case %s: award not computed (%s)", case_id, tl_strerror(e));
		e = clear_computed(db, case_id, now_ms);
		goto out;
	}
	if (award_trace_format(&res->trace, trace, sizeof(trace) - 80) != TL_OK)
		snprintf(trace, sizeof(trace), "award: %lld fen\n", (long long)res->total_fen);
	snprintf(trace + strlen(trace), sizeof(trace) - strlen(trace),
	         "note: the verdict event carries no confiscation amount; 0 used\n");
	if ((e = clear_computed(db, case_id, now_ms)) != TL_OK)
		goto out;
	for (size_t i = 0; i < res->n_shares; i++)
		if ((e = sqlv_run(db, "INSERT INTO case_shares (case_id, idx, report_id, fen, kind)"
		                      " VALUES (?1, ?2, ?3, ?4, ?5);", "titit", case_id, (int64_t)i,
		                  res->shares[i].report_id, res->shares[i].fen,
		                  award_share_kind_name(res->shares[i].kind))) != TL_OK)
			goto out;
	e = sqlv_run(db, "UPDATE cases SET computed_fen = ?2, trace = ?3, updated_ms = ?4 WHERE case_id = ?1;", "titi",
	             case_id, res->total_fen, trace, now_ms);
out:
	db_finalize(st);
	free(reps);
	free(res);
	return e;
}

/* Commits or rolls back; a failed commit is the caller's error. */
static enum tl_err
finish(struct db *db, enum tl_err e)
{
	if (e == TL_OK && (e = db_commit(db)) == TL_OK)
		return TL_OK;
	db_rollback(db);
	return e;
}

/* Opens the transaction for a message that sql (?1 = key) finds when it
 * was applied before.  *dup: it was, and the transaction is closed again;
 * an error closes it too. */
static enum tl_err
begin_once(struct db *db, const char *sql, const char *key, bool *dup)
{
	struct db_stmt *st;
	enum tl_err e;

	*dup = false;
	if ((e = db_begin(db)) != TL_OK)
		return e;
	if ((e = sqlv_prep(db, &st, sql, "t", key)) != TL_OK)
		return finish(db, e);
	e = db_step(st, dup);
	db_finalize(st);
	if (e != TL_OK)
		return finish(db, e);
	if (*dup)
		db_rollback(db);
	return TL_OK;
}

/* Ends the transaction of a message that changed something: committed
 * (CASES_APPLIED, case_id kept) unless e says otherwise. */
static enum tl_err
finish_applied(struct db *db, enum tl_err e, enum cases_outcome *out, char case_id[ID_HEX_LEN + 1])
{
	if ((e = finish(db, e)) == TL_OK)
		*out = CASES_APPLIED;
	else
		case_id[0] = '\0';
	return e;
}

/* ---- leads ---- */

enum tl_err
cases_apply_lead(struct payouts_svc *s, const struct wire_lead *m, int64_t now_ms, enum cases_outcome *out,
                 char case_id[ID_HEX_LEN + 1])
{
	struct db *db = s->db;
	struct db_stmt *st;
	bool row = false, seen = false;
	enum tl_err e;

	*out = CASES_REJECTED;
	case_id[0] = '\0';
	if (!id_valid(m->lead_id) || !id_valid(m->report_id) || !district_valid(m->district) ||
	    strlen(m->status_key) != STATUS_KEY_LEN)
		return TL_OK;
	if ((e = db_begin(db)) != TL_OK)
		return e;
	if ((e = sqlv_prep(db, &st, "SELECT seen, case_id FROM leads WHERE lead_id = ?1;", "t", m->lead_id)) != TL_OK)
		return finish(db, e);
	if ((e = db_step(st, &row)) == TL_OK && row) {
		seen = db_col_int64(st, 0) != 0;
		col_copy(st, 1, case_id, ID_HEX_LEN + 1);
	}
	db_finalize(st);
	if (e != TL_OK)
		return finish(db, e);
	if (seen) {
		*out = CASES_DUPLICATE;
		case_id[0] = '\0';
		db_rollback(db);
		return TL_OK;
	}
	if (row) {
		e = sqlv_run(db, "UPDATE leads SET report_id = ?2, district = ?3, received_ms = ?4, status_key = ?5,"
		                 " seen = 1 WHERE lead_id = ?1;", "tttit", m->lead_id, m->report_id, m->district,
		             m->received_ms, m->status_key);
	} else {
		snprintf(case_id, ID_HEX_LEN + 1, "%s", m->lead_id);
		e = sqlv_run(db, "INSERT INTO leads (lead_id, report_id, district, received_ms, status_key, case_id,"
		                 " seen, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?1, 1, ?6);", "tttiti", m->lead_id,
		             m->report_id, m->district, m->received_ms, m->status_key, now_ms);
	}
	if (e == TL_ECONFLICT) {
		/* Another lead already carries this report id: not ours to fix. */
		log_warn("lead %s: report id already belongs to another lead; rejected", m->lead_id);
		db_rollback(db);
		case_id[0] = '\0';
		return TL_OK;
	}
	if (e == TL_OK)
		e = ensure_case(db, case_id, m->district, now_ms);
	if (e == TL_OK)
		e = recompute(s, case_id, now_ms);
	return finish_applied(db, e, out, case_id);
}

/* ---- events ---- */

static enum tl_err
apply_merge(struct payouts_svc *s, const struct wire_event *m, const char *survivor, int64_t now_ms)
{
	struct db *db = s->db;
	struct db_stmt *st;
	char other_case[ID_HEX_LEN + 1] = "";
	bool row;
	enum tl_err e;

	if ((e = sqlv_prep(db, &st, "SELECT case_id FROM leads WHERE lead_id = ?1;", "t", m->other_lead)) != TL_OK)
		return e;
	if ((e = db_step(st, &row)) == TL_OK && row)
		col_copy(st, 0, other_case, sizeof(other_case));
	db_finalize(st);
	if (e != TL_OK)
		return e;
	if (!row)
		/* The absorbed lead is not here yet: it joins when it arrives. */
		e = sqlv_run(db, "INSERT INTO leads (lead_id, district, case_id, created_ms) VALUES (?1, ?2, ?3, ?4);",
		             "ttti", m->other_lead, m->district, survivor, now_ms);
	else if (strcmp(other_case, survivor) != 0) {
		if ((e = sqlv_run(db, "UPDATE leads SET case_id = ?2 WHERE case_id = ?1;", "tt", other_case, survivor)) ==
		    TL_OK &&
		    (e = sqlv_run(db, "UPDATE cases SET merged_into = ?2, updated_ms = ?3 WHERE case_id = ?1;", "tti",
		                  other_case, survivor, now_ms)) == TL_OK)
			e = clear_computed(db, other_case, now_ms);
	}
	if (e == TL_OK)
		e = recompute(s, survivor, now_ms);
	return e;
}

static enum tl_err
apply_verdict(struct payouts_svc *s, const struct wire_event *m, const char *case_id, int64_t now_ms)
{
	struct db *db = s->db;
	enum tl_err e;

	if (m->substantiated) {
		enum award_tier tier;
		int year = cases_cst_year(m->at_ms);

		if (award_tier_from_production(m->production, &tier) != TL_OK || year < 2000 || year > 2999)
			return TL_EPROTO;
		e = sqlv_run(db, "UPDATE cases SET state = 'substantiated', production = ?2, furnaces = ?3,"
		                 " capacity_tpy = ?4, seized_kg = ?5, fines_fen = ?6, agencies = ?7,"
		                 " first_received_ms = ?8, verdict_at_ms = ?9, budget_year = ?10, updated_ms = ?11"
		                 " WHERE case_id = ?1;", "ttiiiiiiiii", case_id, m->production, (int64_t)m->furnaces,
		             m->capacity_tpy, m->seized_kg, m->fines_fen, (int64_t)m->agencies, m->first_received_ms,
		             m->at_ms, (int64_t)year, now_ms);
	} else {
		e = sqlv_run(db, "UPDATE cases SET state = 'unfounded', production = NULL, furnaces = NULL,"
		                 " capacity_tpy = NULL, seized_kg = NULL, fines_fen = NULL, agencies = ?2,"
		                 " first_received_ms = ?3, verdict_at_ms = ?4, budget_year = NULL, updated_ms = ?5"
		                 " WHERE case_id = ?1;", "tiiii", case_id, (int64_t)m->agencies, m->first_received_ms,
		             m->at_ms, now_ms);
	}
	return e == TL_OK ? recompute(s, case_id, now_ms) : e;
}

enum tl_err
cases_apply_event(struct payouts_svc *s, const struct wire_event *m, int64_t now_ms, enum cases_outcome *out,
                  char case_id[ID_HEX_LEN + 1])
{
	struct db *db = s->db;
	char award_id[ID_HEX_LEN + 1];
	bool dup, live = false;
	enum tl_err e;

	*out = CASES_REJECTED;
	case_id[0] = '\0';
	if (!m->event_id[0] || !id_valid(m->lead_id) || !district_valid(m->district) ||
	    (m->type == WIRE_EV_MERGED && (!id_valid(m->other_lead) || strcmp(m->other_lead, m->lead_id) == 0)) ||
	    (m->type == WIRE_EV_TRANSFER_ACCEPTED && !district_valid(m->to_district)))
		return TL_OK;
	if ((e = begin_once(db, "SELECT 1 FROM events_applied WHERE event_id = ?1;", m->event_id, &dup)) != TL_OK)
		return e;
	if (dup) {
		*out = CASES_DUPLICATE;
		return TL_OK;
	}
	if ((e = ensure_lead(db, m->lead_id, m->district, now_ms, case_id)) != TL_OK)
		goto done;
	switch (m->type) {
	case WIRE_EV_CLAIMED:
		e = sqlv_run(db, "UPDATE cases SET state = 'investigating', updated_ms = ?2"
		                 " WHERE case_id = ?1 AND state = 'open';", "ti", case_id, now_ms);
		break;
	case WIRE_EV_TRANSFER_ACCEPTED:
		e = sqlv_run(db, "UPDATE cases SET district = ?2, updated_ms = ?3 WHERE case_id = ?1;", "tti", case_id,
		             m->to_district, now_ms);
		break;
	case WIRE_EV_MERGED:
		e = apply_merge(s, m, case_id, now_ms);
		break;
	case WIRE_EV_VERDICT:
	case WIRE_EV_REOPENED:
		if ((e = live_award(db, case_id, award_id, NULL, &live)) != TL_OK)
			break;
		if (live) {
			/* The proposal is the record now; a reviewer must look. */
			log_warn("case %s: %s event %s ignored: award %s is already proposed", case_id,
			         wire_event_type_name(m->type), m->event_id, award_id);
			break;
		}
		if (m->type == WIRE_EV_VERDICT)
			e = apply_verdict(s, m, case_id, now_ms);
		else if ((e = sqlv_run(db, "UPDATE cases SET state = 'investigating', reopens = reopens + 1,"
		                           " updated_ms = ?2 WHERE case_id = ?1;", "ti", case_id, now_ms)) == TL_OK)
			e = recompute(s, case_id, now_ms);
		break;
	default:
		break; /* nothing payouts keeps */
	}
	if (e == TL_OK)
		e = sqlv_run(db, "INSERT INTO events_applied (event_id, case_id, type, at_ms, applied_ms)"
		                 " VALUES (?1, ?2, ?3, ?4, ?5);", "tttii", m->event_id, case_id,
		             wire_event_type_name(m->type), m->at_ms, now_ms);
done:
	if (e == TL_EPROTO) {
		log_warn("event %s: unusable verdict; rejected", m->event_id);
		db_rollback(db);
		case_id[0] = '\0';
		return TL_OK;
	}
	return finish_applied(db, e, out, case_id);
}

/* ---- claims ---- */

enum tl_err
cases_apply_eligibility(struct payouts_svc *s, const struct wire_eligibility *m, int64_t now_ms,
                        enum cases_outcome *out, char case_id[ID_HEX_LEN + 1])
{
	struct db *db = s->db;
	struct db_stmt *st;
	bool dup, row;
	enum tl_err e;

	*out = CASES_REJECTED;
	case_id[0] = '\0';
	if (!id_valid(m->claim_id) || !id_valid(m->report_id) || (m->eligible && !id_valid(m->payee_ref)) ||
	    (!m->eligible && !wire_refusal_valid(m->reason)))
		return TL_OK;
	if ((e = begin_once(db, "SELECT 1 FROM claims WHERE claim_id = ?1;", m->claim_id, &dup)) != TL_OK)
		return e;
	if (dup) {
		*out = CASES_DUPLICATE;
		return TL_OK;
	}
	if ((e = sqlv_run(db, "INSERT INTO claims (claim_id, report_id, payee_ref, eligible, reason, at_ms, received_ms)"
	                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7);", "tttitii", m->claim_id, m->report_id,
	                  m->payee_ref, (int64_t)(m->eligible ? 1 : 0), m->eligible ? "" : m->reason, m->at_ms,
	                  now_ms)) != TL_OK)
		return finish(db, e);
	if ((e = sqlv_prep(db, &st, "SELECT case_id FROM leads WHERE report_id = ?1;", "t", m->report_id)) != TL_OK)
		return finish(db, e);
	if ((e = db_step(st, &row)) == TL_OK && row)
		col_copy(st, 0, case_id, ID_HEX_LEN + 1);
	db_finalize(st);
	return finish_applied(db, e, out, case_id);
}

enum tl_err
cases_latest_claim(struct db *db, const char *report_id, struct cases_claim_row *out)
{
	struct db_stmt *st;
	bool row;
	enum tl_err e;

	memset(out, 0, sizeof(*out));
	if ((e = sqlv_prep(db, &st, "SELECT claim_id, payee_ref, eligible, reason, at_ms FROM claims"
	                            " WHERE report_id = ?1 ORDER BY at_ms DESC, rowid DESC LIMIT 1;", "t",
	                   report_id)) != TL_OK)
		return e;
	if ((e = db_step(st, &row)) == TL_OK) {
		if (row) {
			col_copy(st, 0, out->claim_id, sizeof(out->claim_id));
			col_copy(st, 1, out->payee_ref, sizeof(out->payee_ref));
			out->eligible = db_col_int64(st, 2) != 0;
			col_copy(st, 3, out->reason, sizeof(out->reason));
			out->at_ms = db_col_int64(st, 4);
		} else {
			e = TL_ENOTFOUND;
		}
	}
	db_finalize(st);
	return e;
}

enum tl_err
cases_approved_at(struct db *db, const char *award_id, int64_t *out)
{
	struct db_stmt *st;
	bool row;
	enum tl_err e;

	*out = 0;
	if ((e = sqlv_prep(db, &st, "SELECT max(at) FROM approvals WHERE award_id = ?1 AND decision = 'approve';", "t",
	                   award_id)) != TL_OK)
		return e;
	if ((e = db_step(st, &row)) == TL_OK) {
		if (row && db_col_text(st, 0))
			*out = db_col_int64(st, 0);
		else
			e = TL_ENOTFOUND;
	}
	db_finalize(st);
	return e;
}

enum tl_err
payouts_claim_mark_rejected(struct payouts_svc *s, const char *report_id, int64_t now_ms)
{
	struct cases_claim_row c;
	char case_id[ID_HEX_LEN + 1];
	enum tl_err e;

	if (!id_valid(report_id))
		return TL_EINVAL;
	if ((e = cases_of_report(s, report_id, case_id)) != TL_OK ||
	    (e = cases_latest_claim(s->db, report_id, &c)) != TL_OK)
		return e;
	if ((e = sqlv_run(s->db, "UPDATE claims SET eligible = 0, reason = 'bank_rejected' WHERE claim_id = ?1;", "t",
	                  c.claim_id)) != TL_OK)
		return e;
	if (payouts_status_sync_case(s, case_id, now_ms) != TL_OK)
		log_warn("case %s: status sync after a bank rejection failed; the scanner retries", case_id);
	return TL_OK;
}

enum tl_err
cases_of_report(struct payouts_svc *s, const char *report_id, char case_id[ID_HEX_LEN + 1])
{
	struct db_stmt *st;
	bool row;
	enum tl_err e;

	case_id[0] = '\0';
	if ((e = sqlv_prep(s->db, &st, "SELECT case_id FROM leads WHERE report_id = ?1 OR lead_id = ?1;", "t",
	                   report_id)) != TL_OK)
		return e;
	if ((e = db_step(st, &row)) == TL_OK) {
		if (row)
			col_copy(st, 0, case_id, ID_HEX_LEN + 1);
		else
			e = TL_ENOTFOUND;
	}
	db_finalize(st);
	return e;
}

/* ---- status ---- */

int
cases_status_rank(const char *s)
{
	static const struct {
		const char *name;
		int rank;
	} r[] = {
		{ "received", 0 },       { "investigating", 1 },  { "verified", 2 }, { "unfounded", 2 },
		{ "award_approved", 3 }, { "claim_received", 4 }, { "claim_refused", 4 }, { "paid", 5 },
		{ "forfeited", 5 },
	};

	for (size_t i = 0; s && i < TL_ARRAY_LEN(r); i++)
		if (strcmp(s, r[i].name) == 0)
			return r[i].rank;
	return -1;
}

bool
cases_status_derive(const struct cases_status_in *in, int64_t claim_window_ms, int64_t now_ms,
                    struct wire_status *out)
{
	const char *st;

	memset(out, 0, sizeof(*out));
	out->updated_ms = now_ms;
	if (strcmp(in->case_state, "investigating") == 0)
		st = "investigating";
	else if (strcmp(in->case_state, "unfounded") == 0)
		st = "unfounded";
	else if (strcmp(in->case_state, "substantiated") != 0)
		return false; /* open: still "received", intake's value */
	else if (!in->award_live || !in->has_share)
		st = "verified";
	else if (in->share == SHARE_PAID)
		st = "paid";
	else if (in->share == SHARE_FORFEITED)
		st = "forfeited";
	else if (in->claim == CASES_CLAIM_ELIGIBLE)
		st = "claim_received";
	else if (in->claim == CASES_CLAIM_REFUSED)
		st = "claim_refused";
	else
		st = "award_approved";
	snprintf(out->status, sizeof(out->status), "%s", st);
	if (in->award_live && in->has_share && strcmp(st, "verified") != 0) {
		out->amount_fen = in->share_fen;
		if (strcmp(st, "award_approved") == 0 || strcmp(st, "claim_refused") == 0)
			out->claim_by_ms = in->approved_ms + claim_window_ms;
		if (strcmp(st, "claim_refused") == 0)
			snprintf(out->reason, sizeof(out->reason), "%s",
			         in->claim_reason && wire_refusal_valid(in->claim_reason) ? in->claim_reason
			                                                                   : "invalid_payee");
	}
	return true;
}

/* What one report's row says and needs. */
struct lead_row {
	char lead_id[ID_HEX_LEN + 1];
	char report_id[ID_HEX_LEN + 1];
	char status_key[STATUS_KEY_LEN + 1];
	bool has_last;
	struct wire_status last;
	bool dirty;
};

struct share_row {
	char report_id[ID_HEX_LEN + 1];
	int64_t fen;
	enum share_state state;
};

/* Everything the case contributes to its reports' status. */
struct case_ctx {
	char state[16];
	int reopens;
	bool award_live;
	char award_id[ID_HEX_LEN + 1];
	int64_t approved_ms;
	size_t n_shares;
	struct share_row shares[AWARD_MAX_REPORTS];
};

static enum tl_err
load_case_ctx(struct db *db, const char *case_id, struct case_ctx *c)
{
	struct db_stmt *st;
	enum award_status as = AWARD_PROPOSED;
	bool row, live;
	enum tl_err e;

	memset(c, 0, sizeof(*c));
	if ((e = sqlv_prep(db, &st, "SELECT state, reopens FROM cases WHERE case_id = ?1;", "t", case_id)) != TL_OK)
		return e;
	if ((e = db_step(st, &row)) == TL_OK && row) {
		col_copy(st, 0, c->state, sizeof(c->state));
		c->reopens = (int)db_col_int64(st, 1);
	}
	db_finalize(st);
	if (e != TL_OK)
		return e;
	if (!row)
		return TL_ENOTFOUND;
	if ((e = live_award(db, case_id, c->award_id, &as, &live)) != TL_OK)
		return e;
	if (!live || as == AWARD_PROPOSED)
		return TL_OK;
	c->award_live = true;
	if ((e = cases_approved_at(db, c->award_id, &c->approved_ms)) != TL_OK)
		return e;
	if ((e = sqlv_prep(db, &st, "SELECT report_id, fen, state FROM shares WHERE award_id = ?1 ORDER BY idx;", "t",
	                   c->award_id)) != TL_OK)
		return e;
	while ((e = db_step(st, &row)) == TL_OK && row && c->n_shares < AWARD_MAX_REPORTS) {
		struct share_row *r = &c->shares[c->n_shares++];
		const char *ss = db_col_text(st, 2);
		col_copy(st, 0, r->report_id, sizeof(r->report_id));
		r->fen = db_col_int64(st, 1);
		r->state = ss && strcmp(ss, "paid") == 0        ? SHARE_PAID
		           : ss && strcmp(ss, "forfeited") == 0 ? SHARE_FORFEITED
		                                                : SHARE_OPEN;
	}
	db_finalize(st);
	return e;
}

static enum tl_err
derive_for(struct payouts_svc *s, const struct case_ctx *c, const char *report_id, int64_t now_ms,
           struct wire_status *out, bool *has)
{
	struct cases_status_in in = { .case_state = c->state, .award_live = c->award_live,
		                      .approved_ms = c->approved_ms };
	struct cases_claim_row cl;
	enum tl_err e;

	for (size_t i = 0; i < c->n_shares; i++)
		if (strcmp(c->shares[i].report_id, report_id) == 0) {
			in.has_share = true;
			in.share_fen = c->shares[i].fen;
			in.share = c->shares[i].state;
		}
	e = cases_latest_claim(s->db, report_id, &cl);
	if (e == TL_OK) {
		in.claim = cl.eligible ? CASES_CLAIM_ELIGIBLE : CASES_CLAIM_REFUSED;
		in.claim_reason = cl.reason;
	} else if (e != TL_ENOTFOUND) {
		return e;
	}
	*has = cases_status_derive(&in, s->cfg->claim_window_s * 1000, now_ms, out);
	return TL_OK;
}

static bool
same_status(const struct wire_status *a, const struct wire_status *b)
{
	return strcmp(a->status, b->status) == 0 && a->amount_fen == b->amount_fen &&
	       a->claim_by_ms == b->claim_by_ms && strcmp(a->reason, b->reason) == 0;
}

static enum tl_err
kv_put(struct payouts_svc *s, const char *key, const void *val, size_t len)
{
	struct bus_kv *kv;

	if (s->status_put)
		return s->status_put(s->status_ctx, key, val, len);
	if (!(kv = payouts_svc_status_kv(s)))
		return TL_EUNAVAIL;
	return bus_kv_put(kv, key, val, len, NULL);
}

static enum tl_err
kv_get(struct payouts_svc *s, const char *key, struct buf *val)
{
	struct bus_kv *kv;

	if (s->status_get)
		return s->status_get(s->status_ctx, key, val);
	if (!(kv = payouts_svc_status_kv(s)))
		return TL_EUNAVAIL;
	return bus_kv_get(kv, key, val, NULL);
}

static enum tl_err
save_last(struct db *db, const char *lead_id, const struct wire_status *w, bool dirty)
{
	if (!w)
		return sqlv_run(db, "UPDATE leads SET dirty = ?2 WHERE lead_id = ?1;", "ti", lead_id, (int64_t)dirty);
	return sqlv_run(db, "UPDATE leads SET last_status = ?2, last_amount_fen = ?3, last_claim_by_ms = ?4,"
	                    " last_reason = ?5, dirty = ?6 WHERE lead_id = ?1;", "ttiiti", lead_id, w->status,
	                w->amount_fen, w->claim_by_ms, w->reason, (int64_t)dirty);
}

/* Writes one report's status if it changed and does not move backwards.
 * *failed tells the caller a write is pending (row marked dirty). */
static enum tl_err
sync_one(struct payouts_svc *s, const struct case_ctx *c, struct lead_row *r, int64_t now_ms, bool *failed)
{
	struct wire_status want, cur;
	struct buf b;
	bool has;
	enum tl_err e, pe;

	*failed = false;
	if ((e = derive_for(s, c, r->report_id, now_ms, &want, &has)) != TL_OK || !has)
		return e;
	if (!r->has_last) {
		/* No record of a write (a new or rebuilt database): what is in
		 * the bucket already may be ahead of what we know, e.g. an award
		 * approved in a database that was lost. */
		buf_init(&b, WIRE_MAX_MSG);
		pe = kv_get(s, r->status_key, &b);
		if (pe == TL_OK && wire_status_decode(b.data ? b.data : "", b.len, &cur) == TL_OK) {
			if (cases_status_rank(cur.status) > cases_status_rank(want.status) || same_status(&cur, &want)) {
				buf_free(&b);
				r->has_last = true;
				r->last = cur;
				return save_last(s->db, r->lead_id, &cur, false);
			}
		} else if (pe == TL_EDENIED) {
			if (!s->status_get_denied_logged)
				log_warn("TL_STATUS cannot be read by this NATS user; statuses are written without"
				         " checking the bucket first");
			s->status_get_denied_logged = true;
		} else if (pe != TL_OK && pe != TL_ENOTFOUND) {
			buf_free(&b);
			*failed = true;
			return save_last(s->db, r->lead_id, NULL, true);
		}
		buf_free(&b);
	} else {
		int rw = cases_status_rank(want.status), rl = cases_status_rank(r->last.status);
		bool reopened = strcmp(want.status, "investigating") == 0 && c->reopens > 0 &&
		                (strcmp(r->last.status, "verified") == 0 || strcmp(r->last.status, "unfounded") == 0);

		if (same_status(&want, &r->last) || (rw < rl && !reopened)) {
			if (r->dirty)
				return save_last(s->db, r->lead_id, NULL, false);
			return TL_OK;
		}
	}
	buf_init(&b, WIRE_MAX_MSG);
	if ((e = wire_status_encode(&want, &b)) != TL_OK) {
		buf_free(&b);
		return e;
	}
	pe = kv_put(s, r->status_key, b.data, b.len);
	buf_free(&b);
	if (pe != TL_OK) {
		*failed = true;
		return save_last(s->db, r->lead_id, NULL, true);
	}
	log_info("report %s: status %s", r->report_id, want.status);
	r->has_last = true;
	r->last = want;
	return save_last(s->db, r->lead_id, &want, false);
}

enum tl_err
payouts_status_sync_case(struct payouts_svc *s, const char *case_id, int64_t now_ms)
{
	struct case_ctx *c = NULL;
	struct lead_row *rows = NULL;
	struct db_stmt *st = NULL;
	size_t n = 0, cap = 0;
	bool row;
	int failures = 0;
	enum tl_err e;

	if (!case_id || !id_valid(case_id))
		return TL_EINVAL;
	if (!(c = malloc(sizeof(*c))))
		return TL_ENOMEM;
	if ((e = load_case_ctx(s->db, case_id, c)) != TL_OK)
		goto out;
	if ((e = sqlv_prep(s->db, &st, "SELECT lead_id, report_id, status_key, last_status, last_amount_fen,"
	                               " last_claim_by_ms, last_reason, dirty FROM leads"
	                               " WHERE case_id = ?1 AND seen = 1 ORDER BY lead_id;", "t", case_id)) != TL_OK)
		goto out;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		struct lead_row *r;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct lead_row *nr = realloc(rows, ncap * sizeof(*nr));
			if (!nr) {
				e = TL_ENOMEM;
				goto out;
			}
			rows = nr;
			cap = ncap;
		}
		r = &rows[n++];
		memset(r, 0, sizeof(*r));
		col_copy(st, 0, r->lead_id, sizeof(r->lead_id));
		col_copy(st, 1, r->report_id, sizeof(r->report_id));
		col_copy(st, 2, r->status_key, sizeof(r->status_key));
		r->has_last = db_col_text(st, 3) != NULL;
		col_copy(st, 3, r->last.status, sizeof(r->last.status));
		r->last.amount_fen = db_col_int64(st, 4);
		r->last.claim_by_ms = db_col_int64(st, 5);
		col_copy(st, 6, r->last.reason, sizeof(r->last.reason));
		r->dirty = db_col_int64(st, 7) != 0;
	}
	db_finalize(st);
	st = NULL;
	if (e != TL_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		bool failed;
		if ((e = sync_one(s, c, &rows[i], now_ms, &failed)) != TL_OK)
			goto out;
		failures += failed;
	}
	if (failures)
		log_warn("case %s: %d status write(s) pending (TL_STATUS unavailable); retried by the scanner",
		         case_id, failures);
out:
	db_finalize(st);
	free(rows);
	free(c);
	return e;
}

/* ---- views ---- */

enum tl_err
cases_get(struct payouts_svc *s, const char *case_id, int64_t now_ms, struct cases_view *v)
{
	struct db *db = s->db;
	struct db_stmt *st = NULL;
	struct case_ctx *c = NULL;
	bool row, live;
	enum tl_err e;

	memset(v, 0, sizeof(*v));
	if (!id_valid(case_id))
		return TL_EINVAL;
	if ((e = sqlv_prep(db, &st, "SELECT district, state, merged_into, reopens, production, furnaces,"
	                            " capacity_tpy, seized_kg, fines_fen, agencies, first_received_ms, verdict_at_ms,"
	                            " budget_year, computed_fen, trace FROM cases WHERE case_id = ?1;", "t",
	                   case_id)) != TL_OK)
		return e;
	if ((e = db_step(st, &row)) == TL_OK && !row)
		e = TL_ENOTFOUND;
	if (e != TL_OK)
		goto out;
	snprintf(v->case_id, sizeof(v->case_id), "%s", case_id);
	col_copy(st, 0, v->district, sizeof(v->district));
	col_copy(st, 1, v->state, sizeof(v->state));
	col_copy(st, 2, v->merged_into, sizeof(v->merged_into));
	v->reopens = (int)db_col_int64(st, 3);
	v->has_verdict = db_col_text(st, 11) != NULL;
	col_copy(st, 4, v->production, sizeof(v->production));
	v->furnaces = (int)db_col_int64(st, 5);
	v->capacity_tpy = db_col_int64(st, 6);
	v->seized_kg = db_col_int64(st, 7);
	v->fines_fen = db_col_int64(st, 8);
	v->agencies = (int)db_col_int64(st, 9);
	v->first_received_ms = db_col_int64(st, 10);
	v->verdict_at_ms = db_col_int64(st, 11);
	v->budget_year = (int)db_col_int64(st, 12);
	v->has_computed = db_col_text(st, 13) != NULL;
	v->computed_fen = db_col_int64(st, 13);
	col_copy(st, 14, v->trace, sizeof(v->trace));
	db_finalize(st);
	st = NULL;
	if ((e = live_award(db, case_id, v->award_id, NULL, &live)) != TL_OK)
		goto out;
	if ((e = sqlv_prep(db, &st, "SELECT report_id, fen, kind FROM case_shares WHERE case_id = ?1 ORDER BY idx;", "t",
	                   case_id)) != TL_OK)
		goto out;
	while ((e = db_step(st, &row)) == TL_OK && row && v->n_shares < AWARD_MAX_REPORTS) {
		struct award_share *sh = &v->shares[v->n_shares++];
		const char *k = db_col_text(st, 2);
		col_copy(st, 0, sh->report_id, sizeof(sh->report_id));
		sh->fen = db_col_int64(st, 1);
		sh->kind = k && strcmp(k, "first") == 0          ? AWARD_SHARE_FIRST
		           : k && strcmp(k, "simultaneous") == 0 ? AWARD_SHARE_SIMULTANEOUS
		                                                 : AWARD_SHARE_DISCRETIONARY;
	}
	db_finalize(st);
	st = NULL;
	if (e != TL_OK)
		goto out;
	if (!(c = malloc(sizeof(*c)))) {
		e = TL_ENOMEM;
		goto out;
	}
	if ((e = load_case_ctx(db, case_id, c)) != TL_OK)
		goto out;
	if ((e = sqlv_prep(db, &st, "SELECT lead_id, report_id, received_ms, last_status, dirty FROM leads"
	                            " WHERE case_id = ?1 ORDER BY received_ms, report_id, lead_id;", "t",
	                   case_id)) != TL_OK)
		goto out;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		struct cases_report *r;
		if (v->n_reports == AWARD_MAX_REPORTS) {
			e = TL_ETOOBIG;
			goto out;
		}
		r = &v->reports[v->n_reports++];
		col_copy(st, 0, r->lead_id, sizeof(r->lead_id));
		col_copy(st, 1, r->report_id, sizeof(r->report_id));
		r->received_ms = db_col_int64(st, 2);
		col_copy(st, 3, r->last_status, sizeof(r->last_status));
		r->dirty = db_col_int64(st, 4) != 0;
	}
	db_finalize(st);
	st = NULL;
	if (e != TL_OK)
		goto out;
	for (size_t i = 0; i < v->n_reports; i++) {
		struct cases_report *r = &v->reports[i];
		if (r->report_id[0] &&
		    (e = derive_for(s, c, r->report_id, now_ms, &r->status, &r->has_status)) != TL_OK)
			goto out;
	}
out:
	db_finalize(st);
	free(c);
	return e;
}

enum tl_err
cases_list(struct payouts_svc *s, const char *district, const char *state, size_t max,
           struct cases_summary **out, size_t *n)
{
	struct db_stmt *st = NULL;
	struct cases_summary *v = NULL;
	const char *d = district && strcmp(district, "all") != 0 ? district : NULL;
	bool row;
	enum tl_err e;

	*out = NULL;
	*n = 0;
	if (max == 0)
		return TL_OK;
	if (!(v = calloc(max, sizeof(*v))))
		return TL_ENOMEM;
	if ((e = sqlv_prep(s->db, &st, "SELECT c.case_id, c.district, c.state, c.verdict_at_ms, c.budget_year,"
	                               " c.computed_fen, (SELECT count(*) FROM leads l WHERE l.case_id = c.case_id"
	                               " AND l.seen = 1), (SELECT a.award_id FROM awards a WHERE a.case_id = c.case_id"
	                               " AND a.status NOT IN ('rejected','void'))"
	                               " FROM cases c WHERE c.merged_into IS NULL AND (?1 IS NULL OR c.district = ?1)"
	                               " AND (?2 IS NULL OR c.state = ?2)"
	                               " ORDER BY c.verdict_at_ms IS NULL, c.verdict_at_ms DESC, c.case_id LIMIT ?3;",
	                   "tti", d, state, (int64_t)max)) != TL_OK)
		goto out;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		struct cases_summary *c = &v[(*n)++];
		col_copy(st, 0, c->case_id, sizeof(c->case_id));
		col_copy(st, 1, c->district, sizeof(c->district));
		col_copy(st, 2, c->state, sizeof(c->state));
		c->verdict_at_ms = db_col_int64(st, 3);
		c->budget_year = (int)db_col_int64(st, 4);
		c->computed_fen = db_col_int64(st, 5);
		c->reports = (int)db_col_int64(st, 6);
		col_copy(st, 7, c->award_id, sizeof(c->award_id));
	}
out:
	db_finalize(st);
	if (e != TL_OK) {
		free(v);
		*n = 0;
		return e;
	}
	*out = v;
	return TL_OK;
}

enum tl_err
cases_dirty(struct payouts_svc *s, size_t max, char (*ids)[ID_HEX_LEN + 1], size_t *n)
{
	struct db_stmt *st;
	bool row;
	enum tl_err e;

	*n = 0;
	if ((e = sqlv_prep(s->db, &st, "SELECT DISTINCT case_id FROM leads WHERE dirty = 1 LIMIT ?1;", "i",
	                   (int64_t)max)) != TL_OK)
		return e;
	while ((e = db_step(st, &row)) == TL_OK && row && *n < max)
		col_copy(st, 0, ids[(*n)++], ID_HEX_LEN + 1);
	db_finalize(st);
	return e;
}
