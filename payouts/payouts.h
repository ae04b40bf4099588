/*
 * payouts.h - the payouts database: schema, open/close.
 *
 * One SQLCipher database (common/db) holds staff public keys, awards and
 * their shares, approvals and the double-entry ledger.  The schema repeats
 * the money rules as constraints and triggers (defence in depth, notes
 * §5.3): the hard cap as a CHECK, maker-cannot-approve, the status state
 * machine, immutable amounts and shares, no DELETE, no UPDATE of
 * transfers.  Anyone holding the database key can drop a trigger, so the
 * real gate is approval.c re-verifying the Ed25519 signatures before it
 * pays.
 *
 * Ownership: struct payouts borrows the struct db (the caller closes it
 * after payouts_close) and copies the rules.  One struct payouts per
 * thread, like struct db.
 */
#ifndef TL_PAYOUTS_PAYOUTS_H
#define TL_PAYOUTS_PAYOUTS_H

#include "award.h"
#include "db.h"
#include "err.h"

struct payouts {
	struct db *db;
	struct award_rules rules;
};

/* Migrates the schema and wraps db. */
enum tl_err payouts_open(struct db *db, const struct award_rules *rules, struct payouts **out)
	__attribute__((warn_unused_result));
void payouts_close(struct payouts *p);

/* The schema steps, for tools that only need the tables (ledger tests). */
enum tl_err payouts_migrate(struct db *db) __attribute__((warn_unused_result));

#endif
