/*
 * payfile.h - the payment batch file: what tipline-payouts writes for the
 * finance officer and `tipline payfile open` reads on the officer's
 * machine (docs/payfile.md).
 *
 * Layout (bytes):
 *   "TLPAYFILE1\n"
 *   "key " + PAYFILE_KEYID_HEX lowercase hex + "\n"   which export key
 *   crypto_box_seal(JSON, finance export public key)   to the end
 * The key line is a hint for a clear "wrong key" message; it is also
 * repeated inside the sealed JSON and compared, so changing it is an
 * error like any other changed byte.  The JSON:
 *   {"v":1,"type":"payfile","batch_id","created_at","scope","key_id",
 *    "row_count","total_fen","rows":[{"award_id","share_idx","district",
 *    "amount_fen","report_id","sealed_payee"}]}
 * sealed_payee is base64 of the vault's crypto_box_seal of the wire_payee
 * JSON to the same export key, passed through untouched: payouts never
 * sees a payee in clear.  The reader checks every bound, the row count,
 * that the rows sum to total_fen, that no share appears twice, and opens
 * and decodes every payee.
 *
 * Ownership: struct payfile owns rows (malloc'd array) and, in each row,
 * sealed (malloc'd) and the decoded payee; payfile_free() releases all of
 * it and wipes the payees.  Needs secret_init().  Thread-safe.
 */
#ifndef TL_PAYFILE_H
#define TL_PAYFILE_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "err.h"
#include "ids.h"
#include "wire.h"

#define PAYFILE_MAGIC "TLPAYFILE1\n"
#define PAYFILE_KEYID_HEX 16
#define PAYFILE_MAX_ROWS 2000
#define PAYFILE_SEALED_MAX 4096            /* bytes of one sealed payee */
#define PAYFILE_MAX_BYTES (16 * 1024 * 1024) /* the whole file */
#define PAYFILE_SCOPE_ALL "all"

struct payfile_row {
	char award_id[ID_HEX_LEN + 1];
	int share_idx;      /* 0..63 */
	char district[7];   /* the district that pays */
	int64_t amount_fen; /* 1..MONEY_HARD_CAP_FEN */
	char report_id[ID_HEX_LEN + 1];
	unsigned char *sealed; /* the vault's seal of the payee */
	size_t sealed_len;
	struct wire_payee payee; /* filled by payfile_open() only */
};

struct payfile {
	char batch_id[ID_HEX_LEN + 1];
	int64_t created_ms;
	char scope[7]; /* a district code or "all" */
	int64_t total_fen;
	size_t n_rows; /* 1..PAYFILE_MAX_ROWS */
	struct payfile_row *rows;
};

/* The short fingerprint of an export public key shown in the key line. */
void payfile_key_id(const unsigned char pk[crypto_box_PUBLICKEYBYTES],
                    char out[PAYFILE_KEYID_HEX + 1]);

/* Writes the file's bytes into out (reset first).  Refuses (TL_EINVAL,
 * reason in why) what the reader would refuse: no rows, a bad id or
 * amount, a share twice, a total that is not the sum of the rows. */
enum tl_err payfile_seal(const struct payfile *pf, const unsigned char pk[crypto_box_PUBLICKEYBYTES],
                         struct buf *out, char *why, size_t whylen) __attribute__((warn_unused_result));

/* Opens a file's bytes with the export secret key.  Errors, with a
 * sentence in why for the finance officer:
 *   TL_EPROTO   not a payment file, truncated, or its content is invalid
 *               (row count, total, bounds, a payee that does not decode)
 *   TL_ECRYPTO  another key's file, or the bytes were altered
 * On error *out is empty. */
enum tl_err payfile_open(const void *data, size_t len, const unsigned char sk[crypto_box_SECRETKEYBYTES],
                         struct payfile *out, char *why, size_t whylen) __attribute__((warn_unused_result));

void payfile_free(struct payfile *pf);

#endif
