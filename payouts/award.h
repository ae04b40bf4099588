/*
 * award.h - the award engine: rules file, amount for a verdict, and who
 * gets what share.
 *
 * Pure computation, no database: the daemon feeds it a substantiated
 * verdict and the case's reports (after merges) and stores what it returns
 * as a proposal (approval.h).  Everything is int64 fen with checked
 * arithmetic; percentages are basis points.  The result carries a trace
 * (rule, base, percentage parts, floor, cap) for the finance console.
 *
 * Amount:  subtotal = base + fines * fines_bp/10000 + confiscated *
 *          confiscation_bp/10000;  raised to the tier's floor;  lowered to
 *          the cap (min of the configured cap and MONEY_HARD_CAP_FEN).
 * Split:   reports sorted by (received time, report id); the first is the
 *          first reporter; every report received within the simultaneous
 *          window of the first shares equally; the fen remainder goes one
 *          fen each to the earliest of them.  Later reports get nothing
 *          (an approver may add a discretionary share, approval.h).
 *
 * Ownership: all structs are caller-owned values; nothing is allocated.
 * Thread-safe once the rules are loaded.
 */
#ifndef TL_PAYOUTS_AWARD_H
#define TL_PAYOUTS_AWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "money.h"

#define AWARD_ID_LEN 32     /* 128-bit ids as lowercase hex */
#define AWARD_MAX_REPORTS 64 /* reports on one case the engine accepts */

enum award_tier {
	AWARD_TIER_RUNNING,  /* plant found producing */
	AWARD_TIER_IDLE,     /* idle but restartable */
	AWARD_TIER_PRODUCTS, /* plant gone: products or sales only */
	AWARD_TIER_COUNT_
};

struct award_tier_rule {
	int64_t base_fen;
	int64_t floor_fen;
	int64_t fines_bp;        /* of fines_fen, 0..10000 */
	int64_t confiscation_bp; /* of confiscated_fen, 0..10000 */
};

struct award_rules {
	struct award_tier_rule tier[AWARD_TIER_COUNT_];
	int64_t cap_fen;            /* <= MONEY_HARD_CAP_FEN */
	int64_t window_ms;          /* simultaneous-report window */
	int64_t dual_threshold_fen; /* above this: two approvers, one at city level */
};

/* Defaults used when no rules file is given (documented in docs/payouts.md). */
void award_rules_default(struct award_rules *r);
/* Parses a rules file / string (format in docs/payouts.md).  Every key is
 * required, unknown sections or keys are errors, and any rule that could
 * exceed the hard cap is refused; err names the line or key. */
enum tl_err award_rules_load(const char *path, struct award_rules *r, char *err, size_t errlen)
	__attribute__((warn_unused_result));
enum tl_err award_rules_parse(const char *text, struct award_rules *r, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* "running" / "idle_restartable" / "dismantled" (wire.h production codes). */
enum tl_err award_tier_from_production(const char *production, enum award_tier *out)
	__attribute__((warn_unused_result));
const char *award_tier_name(enum award_tier t);

struct award_verdict {
	enum award_tier tier;
	int64_t fines_fen;       /* >= 0 */
	int64_t confiscated_fen; /* >= 0; 0 when the verdict gives none */
};

struct award_report {
	char report_id[AWARD_ID_LEN + 1];
	int64_t received_ms;
};

enum award_share_kind { AWARD_SHARE_FIRST, AWARD_SHARE_SIMULTANEOUS, AWARD_SHARE_DISCRETIONARY };
const char *award_share_kind_name(enum award_share_kind k);

struct award_share {
	char report_id[AWARD_ID_LEN + 1];
	int64_t fen;
	enum award_share_kind kind;
};

struct award_trace {
	enum award_tier tier;
	int64_t base_fen, fines_fen, fines_bp, fines_part_fen;
	int64_t confiscated_fen, confiscation_bp, confiscation_part_fen;
	int64_t subtotal_fen, floor_fen, cap_fen;
	bool floor_applied, cap_applied;
	int64_t total_fen;
	size_t reporters, simultaneous, later; /* later reports: no automatic share */
};

struct award_result {
	int64_t total_fen;
	size_t n_shares;
	struct award_share shares[AWARD_MAX_REPORTS]; /* in payout order */
	struct award_trace trace;
};

/* Amount only (no reporters). */
enum tl_err award_amount(const struct award_rules *r, const struct award_verdict *v,
                         struct award_trace *trace) __attribute__((warn_unused_result));
/* Amount and split.  TL_EINVAL for negative inputs, bad or duplicate report
 * ids, no reports; TL_ETOOBIG for more than AWARD_MAX_REPORTS or an input
 * whose arithmetic would overflow. */
enum tl_err award_compute(const struct award_rules *r, const struct award_verdict *v,
                          const struct award_report *reports, size_t n, struct award_result *out)
	__attribute__((warn_unused_result));
/* Splits total among the first k entries of sorted reports (remainder one
 * fen each to the earliest).  Exposed for the console's "re-split". */
enum tl_err award_split(int64_t total, const struct award_report *sorted, size_t k,
                        struct award_share *out) __attribute__((warn_unused_result));

/* Human-readable trace for the console (English, one step per line). */
enum tl_err award_trace_format(const struct award_trace *t, char *out, size_t outlen)
	__attribute__((warn_unused_result));

#endif
