/*
 * staffkey.h - finance approvers' Ed25519 signing keys, kept in the
 * payouts database sealed under the approver's own password.
 *
 * Schema "staffkeys": per staff id the public key, and the secret key
 * encrypted with crypto_secretbox under a key that crypto_pwhash
 * (Argon2id, random salt, the opslimit/memlimit stored with the row)
 * derives from the password.  The public key is registered with the core
 * (payouts_staff_register), which never learns the secret.  The secret key
 * exists in clear only inside staffkey_sign(), in sodium_malloc memory,
 * for the one signature, and is wiped before it returns.
 *
 * Without the password the key cannot be recovered: an administrator's
 * password reset (no old password) leaves the key sealed under the old
 * one, and the way forward is a new approver account with a new key
 * (docs/payouts.md, "The daemon").
 *
 * Errors: TL_EDENIED wrong password; TL_ENOTFOUND no key for the staff id;
 * TL_EEXIST a key exists already; TL_ECRYPTO a stored row that does not
 * match its public key; TL_EUNAVAIL no Argon2id slot free in time.
 * Thread-safe given one struct db per thread; at most two Argon2id runs
 * at once in the process.
 */
#ifndef TL_PAYOUTS_STAFFKEY_H
#define TL_PAYOUTS_STAFFKEY_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "approval.h"
#include "db.h"
#include "err.h"
#include "payouts.h"

#define STAFFKEY_SCHEMA "staffkeys"

enum tl_err staffkey_migrate(struct db *db) __attribute__((warn_unused_result));

/* Argon2id cost for keys sealed from now on (default INTERACTIVE: the
 * approver waits for it on every approval).  Tests lower it. */
void staffkey_set_cost(unsigned long long opslimit, size_t memlimit);

/* A sealed key as stored: everything staffkey_sign() needs, so that the
 * slow part can run without the database. */
struct staffkey_sealed {
	char staff_id[APPROVAL_STAFF_MAX + 1];
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char salt[crypto_pwhash_SALTBYTES];
	unsigned long long opslimit;
	size_t memlimit;
	unsigned char nonce[crypto_secretbox_NONCEBYTES];
	unsigned char box[crypto_secretbox_MACBYTES + crypto_sign_SECRETKEYBYTES];
};

/* Makes the pair, stores it sealed under password and registers the
 * public key with the core at level.  pk (may be NULL) gets the public
 * key.  On failure nothing stays behind. */
enum tl_err staffkey_create(struct payouts *core, const char *staff_id, enum staff_level level,
                            const char *password, int64_t now_ms,
                            unsigned char pk[crypto_sign_PUBLICKEYBYTES]) __attribute__((warn_unused_result));
enum tl_err staffkey_load(struct db *db, const char *staff_id, struct staffkey_sealed *out)
	__attribute__((warn_unused_result));
bool staffkey_exists(struct db *db, const char *staff_id);

/* Opens the sealed key with password, signs the award's canonical bytes
 * for decision d (approval_sign), and wipes the key.  No database. */
enum tl_err staffkey_sign(const struct staffkey_sealed *k, const char *password,
                          const struct award_record *r, enum approval_decision d,
                          unsigned char sig[APPROVAL_SIG_LEN]) __attribute__((warn_unused_result));

/* Re-seals the key under new_password; needs the old one (TL_EDENIED
 * otherwise, and nothing changes). */
enum tl_err staffkey_rewrap(struct db *db, const char *staff_id, const char *old_password,
                            const char *new_password, int64_t now_ms) __attribute__((warn_unused_result));

/* Secret-key buffers currently unsealed (0 whenever no signature is being
 * made): lets tests prove every path wipes and frees them. */
long staffkey_live_secrets(void);

#endif
