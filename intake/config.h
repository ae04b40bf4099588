/*
 * config.h - tipline-intake's configuration schema and key material.
 *
 * The intake key (32 bytes, secret key file) is never used directly: three
 * subkeys are derived with crypto_kdf_derive_from_key (context "tlintake"):
 *   1 receipt status keys (receipt_status_key)   - shared with payouts,
 *                                                   which updates TL_STATUS
 *   2 idempotent ids, receipts and TL_IDEM keys
 *   3 rate-limit bucket hashing of client addresses
 * so that a leak of one use's key does not expose the others.
 *
 * Ownership: intake_cfg strings belong to the struct (intake_cfg_free);
 * intake_keys live in sodium_malloc memory (intake_keys_free wipes).
 * Startup only; not thread-safe.
 */
#ifndef TL_INTAKE_CONFIG_H
#define TL_INTAKE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "clientaddr.h"
#include "err.h"

struct intake_cfg {
	char *listen_address;
	int64_t listen_port;
	int64_t max_body_bytes;
	int64_t threads;
	char *vault_public_key;
	char *intake_key;
	char *gazetteer;
	int64_t receipt_lookups_per_minute;
	int64_t claim_posts_per_minute;             /* per client address */
	int64_t claim_posts_per_receipt_per_minute; /* per receipt, valid claims only */
	bool cookie_secure;                         /* Secure on the claim form's CSRF cookie */
	/* Peers whose X-Forwarded-For names the client to rate-limit
	 * (clientaddr.h); the text as configured and its parsed form. */
	char *trusted_proxies;
	struct clientaddr_trust trusted;
	char *nats_url;
	char *nats_user;
	char *nats_password_file;
	char *log_level;
};

enum { INTAKE_KDF_STATUS = 1, INTAKE_KDF_IDS = 2, INTAKE_KDF_RATELIMIT = 3 };
#define INTAKE_KDF_CONTEXT "tlintake"

struct intake_keys {
	unsigned char vault_pk[32];
	unsigned char *sub;  /* sodium_malloc: 3 x 32 bytes, status/ids/ratelimit */
	char *nats_password; /* sodium_malloc text */
};
#define INTAKE_KEY_STATUS(k) ((k)->sub)
#define INTAKE_KEY_IDS(k) ((k)->sub + 32)
#define INTAKE_KEY_RATELIMIT(k) ((k)->sub + 64)

/* Loads and checks the file; err gets the message naming file/line/key. */
enum tl_err intake_cfg_load(const char *path, struct intake_cfg *c, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void intake_cfg_free(struct intake_cfg *c);

/* Reads the vault public key, the intake key (deriving the subkeys, then
 * wiping the master) and the NATS password. */
enum tl_err intake_keys_load(const struct intake_cfg *c, struct intake_keys *k, char *err,
                             size_t errlen) __attribute__((warn_unused_result));
void intake_keys_free(struct intake_keys *k);

#endif
