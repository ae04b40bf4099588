/*
 * internal.h - struct vault, shared by the files of tl_vault_core only
 * (store.c: deposits and the batch transaction; claim.c: award claims;
 * reveal.c: payee reveal).  Not for tests or other programs.
 */
#ifndef TL_VAULT_INTERNAL_H
#define TL_VAULT_INTERNAL_H

#include <pthread.h>
#include "payee.h"
#include "vault.h"

struct vault {
	struct db *db;
	struct vault_keys *keys;
	/* Serialises every use of db and of the statements below between the
	 * consumer thread and the reveal thread (db.h: one handle per
	 * process). */
	pthread_mutex_t lock;
	struct db_stmt *ins_deposit, *ins_key, *ins_reject;
	/* claims */
	struct db_stmt *find_claim, *find_deposit, *ins_payee;
	/* reveal */
	struct db_stmt *find_payee;
	/* payees (NULL until vault_payees_attach) */
	bool payees;
	struct payee_excl *excl;
	unsigned char *excl_key; /* sodium_malloc, PROT_NONE at rest */
	char *approvers_file;
	unsigned char export_pk[crypto_box_PUBLICKEYBYTES];
	int64_t dual_threshold_fen;
	struct audit *audit;
};

/* claim.c: decides one tl.deposit.claim inside the batch transaction.
 * TL_OK when the item has an outcome (stored, duplicate, rejected, or
 * retry for this item alone); anything else aborts the batch. */
enum tl_err vault_claim_process(struct vault *v, struct vault_item *it)
	__attribute__((warn_unused_result));
/* claim.c: after COMMIT, the claim's audit entry (fresh outcomes only). */
void vault_claim_audit(struct vault *v, const struct vault_item *it);
/* claim.c / reveal.c: statement preparation. */
enum tl_err vault_claim_prepare(struct vault *v) __attribute__((warn_unused_result));
void vault_claim_finalize(struct vault *v);

#endif
