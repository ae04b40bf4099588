/*
 * export.h - payment batches inside tipline-payouts: the schema and views
 * behind svc.h's payouts_batch_export/confirm/return_row, for the console,
 * tl-payouts-ctl and tests.
 *
 * Schema "batches" (db_migrate steps of its own, in the payouts database):
 *   batches     batch_id, created_ms, payer, scope (a district or "all"),
 *               state preparing -> exported -> confirmed, or
 *               preparing -> abandoned; file_name (in export_dir),
 *               file_hash (BLAKE2b-256 hex of the file, known before the
 *               file gets its final name), row_count, total_fen, times.
 *   batch_rows  one share of an award per row: report, district, the
 *               claim and vault payee reference it is paid to, amount,
 *               state pending (batch preparing) -> exported -> paid |
 *               returned, or pending -> abandoned; transfer_id once paid.
 * A share is in at most one live row (pending, exported or paid): a
 * partial unique index, so the bank can never receive a share twice.
 *
 * Crash safety: an export holds an exclusive flock on
 * <export_dir>/.export.lock for its whole run (kill -9 releases it), so a
 * batch found "preparing" while holding that lock belongs to a dead
 * export: it is completed (its file exists with the recorded hash) or
 * abandoned (rows freed), never both, at the start of the next export or
 * confirm.  Confirm pays row by row with transfer ids derived from batch,
 * award and share, so a rerun after kill -9 finds the same ids
 * (LEDGER_EXISTS) and only marks what was not yet marked.
 *
 * Every function here takes svc->lock itself, except export_migrate.
 */
#ifndef TL_PAYOUTS_EXPORT_H
#define TL_PAYOUTS_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "ids.h"
#include "svc.h"
#include "wire.h"

#define EXPORT_SCHEMA "batches"
#define EXPORT_FILE_PREFIX "batch-"
#define EXPORT_FILE_SUFFIX ".tlpay"

enum tl_err export_migrate(struct db *db) __attribute__((warn_unused_result));

/* The vault round trip, replaceable for tests.  Fills rep from req; a
 * refusal is TL_OK with rep->ok false.  why explains a transport error. */
typedef enum tl_err (*export_reveal_fn)(void *ctx, const struct wire_reveal_req *req,
                                        struct wire_reveal_rep *rep, char *why, size_t whylen);

/* Points where a test export stops as if the process died there. */
enum export_stop {
	EXPORT_STOP_NONE,
	EXPORT_STOP_PREPARED,  /* batch and rows inserted, vault not asked */
	EXPORT_STOP_TMP,       /* file written under its temporary name, hash recorded */
	EXPORT_STOP_RENAMED,   /* file has its final name, batch not yet exported */
};

struct export_hooks {
	export_reveal_fn reveal; /* NULL: the vault over NATS (tl.vault.reveal) */
	void *ctx;
	enum export_stop stop;
};

/* payouts_batch_export() with hooks (NULL = production behaviour). */
enum tl_err export_batch_with(struct payouts_svc *s, const struct export_hooks *h, const char *payer,
                              const char *district, int64_t now_ms, char batch_id[ID_HEX_LEN + 1],
                              size_t *rows, char *why, size_t whylen) __attribute__((warn_unused_result));

/* Finishes or abandons batches a dead export left "preparing".
 * TL_EUNAVAIL when an export is running right now. */
enum tl_err export_recover(struct payouts_svc *s, int64_t now_ms, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* ---- views ---- */

struct export_batch {
	char batch_id[ID_HEX_LEN + 1];
	int64_t created_ms, exported_ms, confirmed_ms;
	char payer[65];
	char scope[7];
	char state[12];
	char file_name[96];
	char file_hash[65];
	int64_t row_count, total_fen;
	int64_t rows_paid, rows_returned; /* counted from batch_rows */
	char error[32];                   /* why it was abandoned (a code), "" otherwise */
};

struct export_row {
	char award_id[ID_HEX_LEN + 1];
	int share_idx;
	char report_id[ID_HEX_LEN + 1];
	char district[7];
	int64_t amount_fen;
	char state[12];
	char transfer_id[ID_HEX_LEN + 1]; /* "" until paid */
};

/* Newest first, at most max; *out is malloc'd (free()). */
enum tl_err export_batches_list(struct payouts_svc *s, size_t max, struct export_batch **out, size_t *n)
	__attribute__((warn_unused_result));
/* One batch and its rows (malloc'd, free()); TL_ENOTFOUND. */
enum tl_err export_batch_get(struct payouts_svc *s, const char *batch_id, struct export_batch *b,
                             struct export_row **rows, size_t *n) __attribute__((warn_unused_result));

#endif
