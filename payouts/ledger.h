/*
 * ledger.h - the double-entry ledger of award money (TigerBeetle-style).
 *
 * Accounts (names are data, built by the helpers below):
 *   funding:<district>:<year>  where a district's annual award budget comes
 *                              from (may go "negative": it is the source)
 *   budget:<district>:<year>   the budget still free; credits >= debits
 *   payable:<district>         approved, not yet paid awards
 *   paid:<district>            money that left for reporters
 * Transfers are immutable: one debit account, one credit account, amount
 * fen > 0, a client-chosen 128-bit id (32 hex) that is the idempotency
 * key, the award it belongs to, and a kind:
 *   fund     funding -> budget     annual budget
 *   reserve  budget  -> payable    on final approval (the award's total)
 *   pay      payable -> paid       the bank paid one share
 *   forfeit  payable -> budget     one share's claim period lapsed
 *   return   payable -> budget     the whole award is voided before any
 *                                  share was settled
 * pay and forfeit settle exactly one share (has_share, share_idx) and
 * move exactly its fen; every other kind names no share.
 * Posting the same id again is LEDGER_EXISTS when every field matches and
 * TL_EEXIST ("exists with different fields") otherwise: never a second
 * entry.  ledger_post() runs its own BEGIN IMMEDIATE transaction (the
 * database is WAL + synchronous=FULL, see db.h); ledger_post_in_tx() is
 * for callers that hold one already.
 *
 * Thread-safety: as struct db.  Nothing returned is allocated.
 */
#ifndef TL_PAYOUTS_LEDGER_H
#define TL_PAYOUTS_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "db.h"
#include "err.h"

#define LEDGER_ID_LEN 32
#define LEDGER_ACCOUNT_MAX 64
#define LEDGER_SHARES_MAX 64 /* = AWARD_MAX_REPORTS; the schema's idx BETWEEN 0 AND 63 */

enum ledger_kind { LEDGER_FUND, LEDGER_RESERVE, LEDGER_PAY, LEDGER_RETURN, LEDGER_FORFEIT };
enum ledger_account_kind { LEDGER_ACC_FUNDING, LEDGER_ACC_BUDGET, LEDGER_ACC_PAYABLE, LEDGER_ACC_PAID };
enum ledger_outcome { LEDGER_CREATED, LEDGER_EXISTS };

struct ledger_transfer {
	char id[LEDGER_ID_LEN + 1];
	char debit[LEDGER_ACCOUNT_MAX + 1];
	char credit[LEDGER_ACCOUNT_MAX + 1];
	int64_t amount_fen;
	char award_id[LEDGER_ID_LEN + 1]; /* "" for kind fund */
	enum ledger_kind kind;
	/* A flag rather than a -1 sentinel so that a zero-initialised
	 * transfer names no share instead of share 0. */
	bool has_share; /* set exactly for pay and forfeit */
	int share_idx;  /* 0..LEDGER_SHARES_MAX-1 when has_share */
};

const char *ledger_kind_name(enum ledger_kind k);

/* Account names; district is a 6-digit code.  TL_EINVAL otherwise. */
enum tl_err ledger_account_name(enum ledger_account_kind kind, const char *district, int year,
                                char out[LEDGER_ACCOUNT_MAX + 1]) __attribute__((warn_unused_result));
/* Creates the account if missing (idempotent); TL_ECONFLICT if it exists
 * with another kind.  Works inside or outside a transaction. */
enum tl_err ledger_account_open(struct db *db, const char *name, enum ledger_account_kind kind)
	__attribute__((warn_unused_result));
/* Posted totals; TL_ENOTFOUND for an unknown account. */
enum tl_err ledger_balance(struct db *db, const char *name, int64_t *debits, int64_t *credits)
	__attribute__((warn_unused_result));

/* Deterministic transfer id for a step of an award ("reserve", "return",
 * ...), so that a retry after a crash reuses the same idempotency key. */
void ledger_id_derive(const char *award_id, const char *step, char out[LEDGER_ID_LEN + 1]);

enum tl_err ledger_post(struct db *db, const struct ledger_transfer *t, int64_t now_ms,
                        enum ledger_outcome *out) __attribute__((warn_unused_result));
enum tl_err ledger_post_in_tx(struct db *db, const struct ledger_transfer *t, int64_t now_ms,
                              enum ledger_outcome *out) __attribute__((warn_unused_result));
/* Looks a transfer up by id; TL_ENOTFOUND if absent. */
enum tl_err ledger_get(struct db *db, const char *id, struct ledger_transfer *out)
	__attribute__((warn_unused_result));

/* Proves the ledger consistent; TL_OK, or TL_ECONFLICT with the first
 * inconsistency named in why (checked in this order):
 *   - each account's posted totals equal the sums of its transfers
 *   - total debits == total credits over all accounts
 *   - no account but a funding source has debits > credits
 *   - no transfer names a missing award; pay and forfeit transfers name
 *     an existing share of their award, other kinds none
 *   - every award's shares sum to its total
 *   - every award that reached approval has exactly one reserve of its
 *     total; proposed/rejected awards have none
 *   - no award has paid, forfeited and returned more than it reserved
 *   - every paid share has exactly one pay transfer of its fen, every
 *     forfeited share exactly one forfeit of its fen, an open share none
 *   - a paid award has every share settled and at least one paid, a
 *     forfeited award every share forfeited, an approved award may have
 *     some settled, any other award none
 *   - a void award has exactly one return of its total, others none */
enum tl_err ledger_check(struct db *db, char *why, size_t whylen) __attribute__((warn_unused_result));

#endif
