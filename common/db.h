/*
 * db.h - the only SQLCipher opener, and the only place SQLite result codes
 * become enum tl_err.
 *
 * db_open() keys the database with a raw 32-byte key (no passphrase KDF),
 * refuses plaintext files, refuses to run against plain SQLite, and sets
 * the pragmas every Tipline database uses: cipher_page_size 4096, WAL,
 * synchronous=FULL, foreign_keys, secure_delete, in-memory temp store.
 * db_migrate() applies a service's ordered schema steps exactly once.
 *
 * Error mapping (what callers act on):
 *   TL_EDENIED  the file is a plaintext SQLite database: refuse to start
 *   TL_ECRYPTO  wrong key, or not a Tipline database
 *   TL_ECONFIG  the linked library is not SQLCipher, or the schema on disk
 *               is newer than this program
 *   TL_ENOTFOUND the file does not exist and DB_CREATE was not given
 *   TL_EUNAVAIL busy/locked: transient, retry the transaction later
 *   TL_ECONFLICT a constraint (UNIQUE, CHECK, FOREIGN KEY) refused a row
 *   TL_EIO      disk I/O error, disk full or corruption.  FATAL: the handle
 *               is poisoned (every later call returns TL_EIO); the daemon
 *               must exit and let a fresh process run WAL recovery, never
 *               retry on the same handle (fsyncgate).
 *   TL_EDB      any other SQLite error
 * Messages that explain a refusal name the file and are logged with
 * log_err(); they never contain row data.
 *
 * Ownership: struct db owns the connection; statements from db_prepare()
 * are owned by the caller and released with db_finalize() before
 * db_close().  Text returned by db_col_text() is valid until the next
 * step/reset/finalize of that statement.
 * Thread-safety: one struct db per thread (SQLCipher is built
 * serialized-threadsafe, but transactions are per connection).
 *
 * RULE: open a database file at most once per process, and never open()/
 * close() it (or its -wal/-shm) by other means while it is open: POSIX
 * record locks are per process, so closing any descriptor of the file drops
 * SQLite's locks too, and another process may then delete the live WAL.
 */
#ifndef TL_DB_H
#define TL_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define DB_KEY_LEN 32

enum {
	DB_CREATE = 1u << 0, /* create the file (mode 0600) if it does not exist */
};

struct db;
struct db_stmt; /* a sqlite3_stmt; opaque so callers never see SQLite */

/* One schema step.  Steps are applied in array order; step i (0-based)
 * brings the schema to version i + 1.  Never edit or reorder a released
 * step: append a new one. */
struct db_migration {
	const char *what; /* short description, logged when applied */
	const char *sql;  /* one or more statements */
};

enum tl_err db_open(const char *path, const unsigned char key[DB_KEY_LEN], unsigned flags,
                    struct db **out) __attribute__((warn_unused_result));
/* Closes and frees; NULL is fine.  Finalize statements first. */
void db_close(struct db *db);

/* Brings service's schema up to n steps inside one IMMEDIATE transaction
 * per step.  Idempotent.  *version (may be NULL) gets the final version. */
enum tl_err db_migrate(struct db *db, const char *service, const struct db_migration *steps,
                       size_t n, int *version) __attribute__((warn_unused_result));

/* Runs SQL without parameters or results (DDL, pragmas). */
enum tl_err db_exec(struct db *db, const char *sql) __attribute__((warn_unused_result));

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK.  db_commit() returns TL_EIO on a
 * durable-write failure (see above); db_rollback() is safe to call when no
 * transaction is open and on every error path. */
enum tl_err db_begin(struct db *db) __attribute__((warn_unused_result));
enum tl_err db_commit(struct db *db) __attribute__((warn_unused_result));
void db_rollback(struct db *db);
/* Named savepoints inside a transaction (name is a fixed identifier). */
enum tl_err db_savepoint(struct db *db, const char *name) __attribute__((warn_unused_result));
enum tl_err db_release(struct db *db, const char *name) __attribute__((warn_unused_result));
void db_rollback_to(struct db *db, const char *name);

/* Prepared statements.  Bind indexes are 1-based; a NULL string binds
 * SQL NULL. */
enum tl_err db_prepare(struct db *db, const char *sql, struct db_stmt **out)
	__attribute__((warn_unused_result));
void db_finalize(struct db_stmt *st);
/* Resets for re-execution and clears bindings. */
void db_reset(struct db_stmt *st);
enum tl_err db_bind_text(struct db_stmt *st, int idx, const char *s) __attribute__((warn_unused_result));
enum tl_err db_bind_int64(struct db_stmt *st, int idx, int64_t v) __attribute__((warn_unused_result));
enum tl_err db_bind_null(struct db_stmt *st, int idx) __attribute__((warn_unused_result));
/* Steps once: TL_OK with *row true when a row is available, false when
 * the statement is done.  row may be NULL for statements without rows. */
enum tl_err db_step(struct db_stmt *st, bool *row) __attribute__((warn_unused_result));
int64_t db_col_int64(struct db_stmt *st, int col);
const char *db_col_text(struct db_stmt *st, int col); /* NULL for SQL NULL */
/* Rows changed by the last INSERT/UPDATE/DELETE on this connection. */
int db_changes(struct db *db);

/* True once a fatal I/O error has been seen on this handle. */
bool db_failed(const struct db *db);

#endif
