/*
 * ids.h - report/lead ids, receipts and their keyed hashes.
 *
 * Ids are 128-bit random values as 32 lowercase hex characters.  A receipt
 * is 16 random digits shown to the reporter as "1234 5678 9012 3456"; it is
 * never stored or published in clear: only receipt_status_key(), a keyed
 * BLAKE2b of the digits, is used as its key in TL_STATUS.
 * Thread-safe (randombytes_buf after sodium_init).
 */
#ifndef TL_IDS_H
#define TL_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include "err.h"

#define ID_HEX_LEN 32
#define RECEIPT_DIGITS 16
#define RECEIPT_SHOWN_LEN 19 /* with three spaces */
#define STATUS_KEY_LEN 64    /* hex of a 32-byte keyed hash */

void id_new(char out[ID_HEX_LEN + 1]);
/* Deterministic id from a 32-byte key and a seed (for idempotent retries). */
void id_derive(const unsigned char key[32], const char *label, const void *seed, size_t seedlen,
               char out[ID_HEX_LEN + 1]);
bool id_valid(const char *s);

void receipt_new(char out[RECEIPT_DIGITS + 1]);
void receipt_derive(const unsigned char key[32], const void *seed, size_t seedlen,
                    char out[RECEIPT_DIGITS + 1]);
/* "1234567890123456" -> "1234 5678 9012 3456" */
void receipt_show(const char digits[RECEIPT_DIGITS + 1], char out[RECEIPT_SHOWN_LEN + 1]);
/* Accepts 16 digits with optional spaces or dashes between groups; fills
 * digits.  Returns TL_EINVAL otherwise. */
enum tl_err receipt_parse(const char *in, size_t len, char digits[RECEIPT_DIGITS + 1])
	__attribute__((warn_unused_result));
void receipt_status_key(const unsigned char key[32], const char digits[RECEIPT_DIGITS + 1],
                        char out[STATUS_KEY_LEN + 1]);

#endif
