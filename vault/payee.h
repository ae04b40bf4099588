/*
 * payee.h - what the vault checks about a claimant's payee details: the
 * formats (ID number with its GB 11643 check digit, mobile phone, account,
 * name, bank), the exclusion hash of an ID number, and the exclusion list
 * of officials and violators' legal representatives (docs/vault.md).
 *
 * The exclusion list file holds one hash per line: 64 lowercase hex
 * characters, the keyed BLAKE2b-256 (the vault's exclusion key) of the
 * normalised 18-character ID number; blank lines and lines starting with
 * '#' are ignored.  Only `tipline-vault exclusion-hash` makes such lines,
 * so no ID number of an excluded person is stored anywhere in clear.
 *
 * Everything here handles identity: callers wipe what they pass in, and
 * nothing is logged except counts, line numbers and file names.
 * Validation and hashing are pure and thread-safe; a struct payee_excl
 * belongs to one thread at a time (the caller's lock).
 */
#ifndef TL_VAULT_PAYEE_H
#define TL_VAULT_PAYEE_H

#include <stdbool.h>
#include <stddef.h>
#include "err.h"
#include "wire.h"

#define PAYEE_ID_LEN 18
#define PAYEE_EXCL_KEY_LEN 32
#define PAYEE_EXCL_HASH_LEN 32
#define PAYEE_EXCL_HEX_LEN 64
#define PAYEE_EXCL_MAX 1000000  /* hashes in one exclusion file */

/* Why a claim is not eligible (the wire reason codes). */
enum payee_verdict {
	PAYEE_OK,
	PAYEE_INVALID_ID,    /* "invalid_id" */
	PAYEE_INVALID_PAYEE, /* "invalid_payee" */
	PAYEE_EXCLUDED,      /* "excluded" */
};
const char *payee_verdict_reason(enum payee_verdict v); /* "" for PAYEE_OK */

/* Normalises an ID number into out (PAYEE_ID_LEN + 1): surrounding ASCII
 * spaces dropped, a lower-case x upper-cased.  TL_EINVAL unless the result
 * is a valid ID number by common/idnum (idnum_valid: 17 digits and a digit
 * or X, GB 11643 check digit, first digit 1-8, a birth date that exists). */
enum tl_err payee_id_normalise(const char *in, char out[PAYEE_ID_LEN + 1])
	__attribute__((warn_unused_result));

/* Normalises every field of p in place (trims, upper-case X, spaces and
 * dashes dropped from account and phone) and checks the formats:
 * PAYEE_INVALID_ID for the ID number, PAYEE_INVALID_PAYEE for any other
 * field (name 1..30 characters without digits, bank 2..60 characters,
 * account 12..30 digits, phone 11 digits starting with 1), else PAYEE_OK.
 * TL_ENOMEM only on allocation failure. */
enum tl_err payee_check(struct wire_payee *p, enum payee_verdict *v) __attribute__((warn_unused_result));

/* Keyed hash of a normalised ID number. */
void payee_excl_hash(const unsigned char key[PAYEE_EXCL_KEY_LEN], const char id[PAYEE_ID_LEN + 1],
                     unsigned char out[PAYEE_EXCL_HASH_LEN]);

/* The exclusion list, read from path and read again whenever the file's
 * modification time, size or inode changes. */
struct payee_excl;
enum tl_err payee_excl_new(const char *path, struct payee_excl **out) __attribute__((warn_unused_result));
void payee_excl_free(struct payee_excl *x);
/* Re-reads the file if it changed, then looks hash up.  TL_EIO (file gone
 * or unreadable) or TL_EPROTO (a malformed line; why names file and line):
 * the caller must not decide the claim now. */
enum tl_err payee_excl_contains(struct payee_excl *x, const unsigned char hash[PAYEE_EXCL_HASH_LEN],
                                bool *found, char *why, size_t whylen)
	__attribute__((warn_unused_result));
/* Number of hashes currently loaded (after the last successful read). */
size_t payee_excl_count(const struct payee_excl *x);

#endif
