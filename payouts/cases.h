/*
 * cases.h - payouts' record of leads, cases, verdicts and claims, built
 * from TL_LEADS, TL_EVENTS and TL_PAYEES, and the reporter status derived
 * from it (docs/award-flow.md section 2).
 *
 * Schema "cases" in the payouts database (db_migrate steps of its own):
 *   leads           one row per lead: ids, district, received time, the
 *                   status key, the case it belongs to after merges, the
 *                   status last written to TL_STATUS and a dirty flag.
 *                   Never tip text or location.
 *   cases           state open/investigating/substantiated/unfounded, the
 *                   verdict's facts, the budget year (the verdict's year in
 *                   China Standard Time) and the computed award with its
 *                   trace; case_shares holds the computed split.
 *   events_applied  event ids already applied (idempotency).
 *   claims          eligibility results from the vault; the latest per
 *                   report (by time) counts.
 *
 * The streams are separate, so a case's events may arrive before its
 * lead: an event or a merge for an unknown lead creates a placeholder row
 * that the lead fills in later.  Applying the same message twice is a
 * duplicate, never a second change.  Once an award for the case is live
 * (proposed or further, not rejected or void), later verdicts and reopens
 * leave the case as it is and log a warning with the ids.
 *
 * Every function here expects the caller to hold svc->lock.  The apply
 * functions run one BEGIN IMMEDIATE transaction each and report which
 * case's statuses may have changed; the caller syncs it after acking.
 * Ownership: every struct is a caller-owned value; cases_list() allocates
 * an array the caller frees with free().
 */
#ifndef TL_PAYOUTS_CASES_H
#define TL_PAYOUTS_CASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "approval.h"
#include "award.h"
#include "db.h"
#include "err.h"
#include "ids.h"
#include "svc.h"
#include "wire.h"

#define CASES_SCHEMA "cases"
#define CASES_TRACE_MAX 1024
/* payee_ref of a proposal: the payee is fixed per share by each reporter's
 * own claim (the vault's payee reference of the eligible claim), so the
 * award itself names none. */
#define CASES_PAYEE_REF "per_share_claim"

enum tl_err cases_migrate(struct db *db) __attribute__((warn_unused_result));

enum cases_outcome { CASES_APPLIED, CASES_DUPLICATE, CASES_REJECTED };

/* A decoded lead: ids, district, time and status key are kept, nothing
 * else.  case_id gets the case to sync ("" when nothing changed). */
enum tl_err cases_apply_lead(struct payouts_svc *s, const struct wire_lead *m, int64_t now_ms,
                             enum cases_outcome *out, char case_id[ID_HEX_LEN + 1])
	__attribute__((warn_unused_result));
enum tl_err cases_apply_event(struct payouts_svc *s, const struct wire_event *m, int64_t now_ms,
                              enum cases_outcome *out, char case_id[ID_HEX_LEN + 1])
	__attribute__((warn_unused_result));
enum tl_err cases_apply_eligibility(struct payouts_svc *s, const struct wire_eligibility *m,
                                    int64_t now_ms, enum cases_outcome *out,
                                    char case_id[ID_HEX_LEN + 1]) __attribute__((warn_unused_result));

/* ---- reporter status ---- */

enum cases_claim { CASES_CLAIM_NONE, CASES_CLAIM_ELIGIBLE, CASES_CLAIM_REFUSED };

/* Everything one report's status depends on. */
struct cases_status_in {
	const char *case_state;   /* open, investigating, substantiated, unfounded */
	bool award_live;          /* the case's award is approved, paid or forfeited */
	bool has_share;           /* this report has a share of it */
	int64_t share_fen;
	enum share_state share;
	int64_t approved_ms;      /* the final approval */
	enum cases_claim claim;   /* the report's latest claim */
	const char *claim_reason; /* excluded, invalid_id, invalid_payee, bank_rejected */
};
/* Fills out (updated_ms = now_ms) and returns true, or returns false for
 * "received": payouts never writes that one (intake does). */
bool cases_status_derive(const struct cases_status_in *in, int64_t claim_window_ms, int64_t now_ms,
                         struct wire_status *out);
/* Order used to never move a status backwards: received 0, investigating
 * 1, verified/unfounded 2, award_approved 3, claim_received/claim_refused
 * 4, paid/forfeited 5; -1 for anything else. */
int cases_status_rank(const char *status);

/* ---- views (ctl, console) ---- */

struct cases_report {
	char lead_id[ID_HEX_LEN + 1];
	char report_id[ID_HEX_LEN + 1]; /* "" while only events named the lead */
	int64_t received_ms;
	bool has_status;                /* false: received (not payouts' to write) */
	struct wire_status status;      /* derived now */
	char last_status[32];           /* last written to TL_STATUS, "" if none */
	bool dirty;                     /* a write is pending */
};

struct cases_view {
	char case_id[ID_HEX_LEN + 1];
	char district[7];
	char state[16];
	char merged_into[ID_HEX_LEN + 1]; /* "" unless merged into another case */
	int reopens;
	bool has_verdict;
	char production[24];
	int furnaces, agencies;
	int64_t capacity_tpy, seized_kg, fines_fen, first_received_ms, verdict_at_ms;
	int budget_year;
	bool has_computed;                /* substantiated with at least one known report */
	int64_t computed_fen;
	size_t n_shares;
	struct award_share shares[AWARD_MAX_REPORTS];
	char trace[CASES_TRACE_MAX];
	char award_id[ID_HEX_LEN + 1];    /* the live award, "" if none */
	size_t n_reports;
	struct cases_report reports[AWARD_MAX_REPORTS];
};
/* TL_ENOTFOUND for an unknown case, TL_ETOOBIG for more than
 * AWARD_MAX_REPORTS reports. */
enum tl_err cases_get(struct payouts_svc *s, const char *case_id, int64_t now_ms, struct cases_view *out)
	__attribute__((warn_unused_result));
/* The case a report or lead belongs to (after merges). */
enum tl_err cases_of_report(struct payouts_svc *s, const char *report_id, char case_id[ID_HEX_LEN + 1])
	__attribute__((warn_unused_result));

struct cases_summary {
	char case_id[ID_HEX_LEN + 1];
	char district[7];
	char state[16];
	int64_t verdict_at_ms;
	int budget_year;
	int64_t computed_fen; /* 0 when not computed */
	int reports;
	char award_id[ID_HEX_LEN + 1]; /* the live award, "" if none */
};
/* Cases of one district (NULL or "all": every district) in one state
 * (NULL: every state), newest verdict first, at most max rows. */
enum tl_err cases_list(struct payouts_svc *s, const char *district, const char *state, size_t max,
                       struct cases_summary **out, size_t *n) __attribute__((warn_unused_result));

/* Leads whose status write is pending: their cases (distinct), at most
 * max, into ids (caller-sized). */
enum tl_err cases_dirty(struct payouts_svc *s, size_t max, char (*ids)[ID_HEX_LEN + 1], size_t *n)
	__attribute__((warn_unused_result));

/* The latest claim of a report: eligible, payee reference, time.
 * TL_ENOTFOUND when none. */
struct cases_claim_row {
	char claim_id[ID_HEX_LEN + 1];
	char payee_ref[ID_HEX_LEN + 1];
	bool eligible;
	char reason[24];
	int64_t at_ms;
};
enum tl_err cases_latest_claim(struct db *db, const char *report_id, struct cases_claim_row *out)
	__attribute__((warn_unused_result));

/* The final approval time of an approved award (max approval time of its
 * "approve" decisions); TL_ENOTFOUND when it has none. */
enum tl_err cases_approved_at(struct db *db, const char *award_id, int64_t *out)
	__attribute__((warn_unused_result));

/* The year of ms in China Standard Time (UTC+8), the budget year. */
int cases_cst_year(int64_t ms);

#endif
