/*
 * approval.h - proposals, maker-checker approvals with Ed25519 signatures,
 * district budgets, and the money movements that follow (reserve, then
 * per share pay or forfeit, or a whole-award return).
 *
 * Flow:  award_propose()  (maker; amount <= cap, shares sum to it)
 *        approval_decide() (checkers; never the maker; each decision is a
 *                           signature over award_canonical())
 *          - at or below rules.dual_threshold_fen one approval suffices;
 *            above it two distinct approvers, at least one city-level;
 *          - the approval that completes the set reserves the total from
 *            the district's budget for the award's year (budget -> payable)
 *            in the same transaction; if the budget cannot cover it the
 *            approval is refused and nothing is recorded.
 *        payouts_confirm_share()  one reporter's share was paid by the
 *            bank: re-verifies every signature against the award as stored
 *            now, then payable -> paid of exactly that share's fen.
 *        payouts_forfeit_share()  one share's claim window lapsed:
 *            payable -> budget of that share's fen.
 *          - when every share is settled the award becomes paid (at least
 *            one share paid) or forfeited (all forfeited).
 *        payouts_release()  voids a whole approved award before any share
 *            is settled: payable -> budget of the total.
 * Every write runs in one BEGIN IMMEDIATE transaction.  Errors carry a
 * message in why (English, for the console and logs; no personal data).
 *
 * Status codes: TL_EDENIED  rule refused (self-approval, missing city
 *               approver, budget exhausted, wrong status)
 *               TL_ECRYPTO  a signature does not verify
 *               TL_EINVAL   malformed input; TL_ETOOBIG above the cap
 *               TL_EEXIST   same id, different content
 *               TL_ENOTFOUND unknown award / staff
 * Ownership: all structs are caller-owned values.
 */
#ifndef TL_PAYOUTS_APPROVAL_H
#define TL_PAYOUTS_APPROVAL_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include "award.h"
#include "err.h"
#include "ledger.h"
#include "payouts.h"

#define APPROVAL_STAFF_MAX 64
#define APPROVAL_PAYEE_MAX 64
#define APPROVAL_REASON_MAX 255
#define APPROVAL_SIG_LEN crypto_sign_BYTES
#define APPROVAL_CANON_MAX 8192

enum staff_level { STAFF_DISTRICT, STAFF_CITY };
enum approval_decision { APPROVAL_APPROVE, APPROVAL_REJECT };
enum award_status {
	AWARD_PROPOSED, AWARD_APPROVED, AWARD_REJECTED, AWARD_PAID, AWARD_FORFEITED, AWARD_VOID
};
const char *award_status_name(enum award_status s);
enum share_state { SHARE_OPEN, SHARE_PAID, SHARE_FORFEITED };
const char *share_state_name(enum share_state s);

/* Registers an approver's Ed25519 public key (idempotent for the same key;
 * TL_EEXIST if the id has another key: keys are never silently replaced). */
enum tl_err payouts_staff_register(struct payouts *p, const char *staff_id, enum staff_level level,
                                   const unsigned char pk[crypto_sign_PUBLICKEYBYTES], int64_t now_ms)
	__attribute__((warn_unused_result));

struct award_proposal {
	char award_id[AWARD_ID_LEN + 1]; /* client-chosen, persisted before the first submission */
	char case_id[AWARD_ID_LEN + 1];
	char district[7];
	int budget_year;
	int64_t computed_fen; /* what award_compute() said (for the record) */
	int64_t total_fen;    /* what is proposed; a difference needs a reason */
	size_t n_shares;
	struct award_share shares[AWARD_MAX_REPORTS]; /* must sum to total_fen */
	char payee_ref[APPROVAL_PAYEE_MAX + 1];       /* vault payee reference, [A-Za-z0-9:._-] */
	char proposer[APPROVAL_STAFF_MAX + 1];
	char reason[APPROVAL_REASON_MAX + 1];
};

/* Fills a proposal from an engine result (computed == total). */
void award_proposal_from_result(const struct award_result *r, struct award_proposal *out);

/* Records a proposal.  Resubmitting the same award_id with the same
 * content is TL_OK (idempotent); with other content TL_EEXIST. */
enum tl_err award_propose(struct payouts *p, const struct award_proposal *a, int64_t now_ms,
                          char *why, size_t whylen) __attribute__((warn_unused_result));

struct award_record {
	struct award_proposal a;
	int version;
	enum award_status status;
	int required_approvals;
	bool need_city;
	enum share_state share_state[AWARD_MAX_REPORTS]; /* per a.shares[i]; not signed */
};
enum tl_err award_load(struct payouts *p, const char *award_id, struct award_record *out)
	__attribute__((warn_unused_result));

/* The exact bytes a decision signs: a context line, the decision, then
 * every field of the award (ids, version, district, year, amounts, payee,
 * proposer, each share) one per line.  *len excludes the NUL. */
enum tl_err award_canonical(const struct award_record *r, enum approval_decision d, char *out,
                            size_t outlen, size_t *len) __attribute__((warn_unused_result));
/* Staff-client side: signs the canonical bytes with a 64-byte secret key. */
enum tl_err approval_sign(const struct award_record *r, enum approval_decision d,
                          const unsigned char sk[crypto_sign_SECRETKEYBYTES],
                          unsigned char sig[APPROVAL_SIG_LEN]) __attribute__((warn_unused_result));

/* Records one approver's signed decision; *status (may be NULL) gets the
 * award's status afterwards. */
enum tl_err approval_decide(struct payouts *p, const char *award_id, const char *staff_id,
                            enum approval_decision d, const unsigned char sig[APPROVAL_SIG_LEN],
                            const char *reason, int64_t now_ms, enum award_status *status,
                            char *why, size_t whylen) __attribute__((warn_unused_result));

/* Re-verifies, from the rows as stored now, that the approvals satisfy the
 * rules and every signature matches the award's canonical bytes. */
enum tl_err approval_verify(struct payouts *p, const char *award_id, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* Budgets. */
enum tl_err payouts_fund_budget(struct payouts *p, const char *district, int year,
                                int64_t amount_fen, const char *transfer_id, int64_t now_ms,
                                enum ledger_outcome *out) __attribute__((warn_unused_result));
enum tl_err payouts_budget_remaining(struct payouts *p, const char *district, int year,
                                     int64_t *out) __attribute__((warn_unused_result));

/* ---- per-share settlement ----
 * Each share of an approved award is settled on its own: paid (the bank
 * confirmed the payment to that reporter) or forfeited (its claim window
 * passed; the share's fen goes back to the district's budget for the
 * award's year).  The share's pay or forfeit transfer and its new state
 * are written in one transaction; the award becomes paid when every share
 * is settled and at least one was paid, forfeited when every share was
 * forfeited.
 * Both re-verify every approval signature first (approval_verify): a
 * tampered award moves no money (TL_ECRYPTO), not even back to a budget.
 * transfer_id is the idempotency key, saved by the caller before the call:
 * a retry with the same id for the same share and step answers TL_OK with
 * LEDGER_EXISTS and changes nothing; any other request for a settled
 * share (another id, or forfeiting a paid share) is TL_EDENIED; an id
 * already used by a different transfer is TL_EEXIST.
 * TL_ENOTFOUND for an unknown award or share index; TL_EDENIED when the
 * award is not approved. */
enum tl_err payouts_share_state(struct payouts *p, const char *award_id, int share_idx,
                                enum share_state *out) __attribute__((warn_unused_result));
enum tl_err payouts_confirm_share(struct payouts *p, const char *award_id, int share_idx,
                                  const char *transfer_id, int64_t now_ms,
                                  enum ledger_outcome *out, char *why, size_t whylen)
	__attribute__((warn_unused_result));
enum tl_err payouts_forfeit_share(struct payouts *p, const char *award_id, int share_idx,
                                  const char *transfer_id, int64_t now_ms,
                                  enum ledger_outcome *out, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* A lapsed claim is a per-share forfeit (above); the only whole-award
 * release left is a void before anything was settled. */
enum release_reason { RELEASE_BANK_REJECTED };
/* Voids an approved award and returns its whole total to its budget (a
 * corrected version may then be proposed).  Refused with TL_EDENIED once
 * any share is paid or forfeited.  Same idempotency as above. */
enum tl_err payouts_release(struct payouts *p, const char *award_id, enum release_reason r,
                            const char *transfer_id, int64_t now_ms, enum ledger_outcome *out,
                            char *why, size_t whylen) __attribute__((warn_unused_result));

#endif
