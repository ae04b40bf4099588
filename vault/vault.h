/*
 * vault.h - the vault's core: configuration, keys, the deposit store and
 * the bus consumer loop.  Everything of tipline-vault except main.c, in the
 * static library tl_vault_core so that tests drive it directly.
 *
 * The vault is the sole holder of the sealed-box secret key, the database
 * key and the pseudonym key.  It opens each deposit from TL_DEPOSITS,
 * checks it like hostile input, and stores the reporter's identity and
 * original tip in its SQLCipher database, idempotently on report_id.  A
 * deposit that cannot be opened or parsed is recorded in `rejected` (stream
 * sequence, reason class, time - never its contents) and terminated, so it
 * is never redelivered forever.
 *
 * Award claims (tl.deposit.claim, docs/award-flow.md) arrive on the same
 * consumer: the vault opens the payee details, checks their formats and
 * the exclusion list, stores them under a fresh payee_ref and publishes
 * the eligibility on tl.payee.result.  A second thread answers payee
 * reveal requests on tl.vault.reveal (docs/vault.md).
 *
 * Ownership: vault_keys_* return sodium_malloc memory kept PROT_NONE except
 * while a deposit is being opened; vault_keys_free() wipes it.  struct
 * vault borrows its db, keys and audit handle (the caller closes/frees them
 * after vault_close()).
 * Thread-safety: vault_store_batch() and vault_reveal() may run on two
 * threads: a mutex inside struct vault serialises every use of the one
 * database handle.  Everything else is startup/shutdown only.
 */
#ifndef TL_VAULT_H
#define TL_VAULT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include "bus.h"
#include "db.h"
#include "err.h"
#include "ids.h"
#include "wire.h"

/* ---- configuration ---- */

struct vault_cfg {
	char *database;
	char *database_key;
	char *box_secret_key;
	char *box_public_key;
	char *pseudonym_key;
	int64_t fetch_batch;
	/* [payees] (issue 5) */
	char *approvers_file;       /* lines "staff_id level pubkey_hex64" */
	char *exclusion_file;       /* lines of exclusion hashes */
	char *exclusion_key;        /* secret file: keyed hash of ID numbers */
	char *export_public_key;    /* public file: finance export X25519 key */
	int64_t dual_threshold_fen; /* default 10000000 */
	char *audit_log;            /* the vault's audit chain (tla1) */
	char *audit_secret_key;     /* secret file: Ed25519 audit key */
	char *nats_url;
	char *nats_user;
	char *nats_password_file;
	char *log_level;
};

/* cfg_load() with the vault schema, plus value checks (log level). */
enum tl_err vault_cfg_load(const char *path, struct vault_cfg *c, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void vault_cfg_free(struct vault_cfg *c);

/* ---- keys ---- */

struct vault_keys {
	unsigned char *box_sk;  /* crypto_box_SECRETKEYBYTES, sodium_malloc, PROT_NONE at rest */
	unsigned char *pseud;   /* PSEUD_KEY_LEN, sodium_malloc, PROT_NONE at rest */
	unsigned char box_pk[crypto_box_PUBLICKEYBYTES];
};

/* Loads the sealed-box keypair and the pseudonym key, and checks that the
 * public key belongs to the secret key. */
enum tl_err vault_keys_load(const char *box_sk_path, const char *box_pk_path, const char *pseud_path,
                            struct vault_keys **out, char *why, size_t whylen)
	__attribute__((warn_unused_result));
/* Copies given keys (tests, tools). */
enum tl_err vault_keys_new(const unsigned char *box_sk, const unsigned char *box_pk,
                           const unsigned char *pseud, struct vault_keys **out)
	__attribute__((warn_unused_result));
void vault_keys_free(struct vault_keys *k);

/* ---- the store ---- */

struct vault;

/* Applies the vault schema and prepares statements. */
enum tl_err vault_open(struct db *db, struct vault_keys *keys, struct vault **out)
	__attribute__((warn_unused_result));
void vault_close(struct vault *v);

enum vault_outcome {
	VAULT_RETRY,     /* nothing decided (batch failed): nak */
	VAULT_STORED,    /* new deposit committed: ack */
	VAULT_DUPLICATE, /* report_id already stored: ack */
	VAULT_REJECTED,  /* recorded in `rejected`: term */
};

enum vault_reason {
	VAULT_R_NONE,
	VAULT_R_SUBJECT,  /* not tl.deposit.report */
	VAULT_R_ENVELOPE, /* deposit JSON invalid (version, type, fields) */
	VAULT_R_OPEN,     /* sealed box does not open with our key */
	VAULT_R_IDENTITY, /* sealed identity JSON invalid */
	VAULT_R_MISMATCH, /* identity's report_id or channel differs from the envelope's */
	VAULT_R_STORE,    /* the row violates a schema constraint */
	VAULT_R_UNKNOWN_RECEIPT, /* claim: no deposit has its status key */
	VAULT_R_PAYEE,    /* claim: sealed payee JSON invalid */
};
const char *vault_reason_name(enum vault_reason r);

struct vault_item {
	/* in */
	const char *subject; /* NULL skips the subject check (tests) */
	const char *data;
	size_t len;
	uint64_t stream_seq;
	uint64_t delivered;
	/* out: valid only when vault_store_batch() returned TL_OK */
	enum vault_outcome outcome;
	enum vault_reason reason;
	char report_id[ID_HEX_LEN + 1]; /* "" if the envelope was unreadable */
	/* out, claims only (subject tl.deposit.claim): */
	bool claim;
	bool fresh;                     /* first time decided (audit it) */
	char claim_id[ID_HEX_LEN + 1];  /* "" if the envelope was unreadable */
	/* the result to publish when outcome is STORED or DUPLICATE */
	struct wire_eligibility elig;
};

/* Opens, checks and stores n deposits in one transaction (synchronous=FULL
 * makes the COMMIT durable before anything is acked).  TL_OK: every item
 * has its outcome.  TL_EIO: fatal, exit without acking.  Any other error:
 * transient, nothing was stored, every outcome is VAULT_RETRY. */
enum tl_err vault_store_batch(struct vault *v, struct vault_item *items, size_t n)
	__attribute__((warn_unused_result));

/* ---- payee claims and reveal (issue 5) ---- */

struct audit;
/* What the vault needs to decide claims and answer reveals.  Strings and
 * the key are copied; audit is borrowed (NULL: nothing is audited, tests
 * only). */
struct vault_payees {
	const char *exclusion_file;
	const unsigned char *exclusion_key; /* PAYEE_EXCL_KEY_LEN bytes */
	const char *approvers_file;
	unsigned char export_pk[crypto_box_PUBLICKEYBYTES];
	int64_t dual_threshold_fen;
	struct audit *audit;
};
/* Until this is called, claims are rejected like any unknown subject and
 * reveals answer "internal". */
enum tl_err vault_payees_attach(struct vault *v, const struct vault_payees *p)
	__attribute__((warn_unused_result));

/* The approvers file: one "staff_id level pubkey_hex64" per line, level
 * "district" or "city", '#' comments.  Checks the whole file; why names
 * the line of the first problem.  (Used by -n.) */
enum tl_err vault_approvers_check(const char *path, size_t *count, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* Answers one tl.vault.reveal request (docs/award-flow.md): reply gets the
 * encoded wire_reveal_rep, ok with one sealed row per share, or ok=false
 * with an error code.  Every outcome is audited before the reply exists.
 * Returns TL_EIO only on a fatal database error (the reply then says
 * "internal"); otherwise TL_OK with *reply filled.  Thread-safe. */
enum tl_err vault_reveal(struct vault *v, const char *data, size_t len, struct buf *reply)
	__attribute__((warn_unused_result));

/* ---- the consumer loop ---- */

struct vault_run_opts {
	int batch;        /* messages per fetch (config fetch_batch) */
	int fetch_ms;     /* how long one fetch waits; bounds shutdown latency */
	int64_t nak_delay_ms;
};

/* Binds the durable consumer (retrying with backoff until it exists) and
 * processes batches until *stop becomes non-zero, finishing the batch in
 * hand.  A claim is acked only after its row is committed and its
 * eligibility published (Nats-Msg-Id "elig:<claim_id>").  With payees
 * attached, a second thread answers tl.vault.reveal meanwhile.  Returns TL_OK on a requested stop, TL_EIO on a fatal database
 * error (the caller exits non-zero). */
enum tl_err vault_run(struct vault *v, struct bus *b, const struct vault_run_opts *o,
                      volatile sig_atomic_t *stop) __attribute__((warn_unused_result));

#endif
