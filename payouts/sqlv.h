/*
 * sqlv.h - payouts' SQL with its parameters given inline.  types names
 * them in order: 't' a const char * (NULL binds NULL), 'i' an int64_t.
 * Nothing else may appear in types.
 *
 * A prepared statement belongs to the caller (db_finalize); after an error
 * *st is NULL.  The caller holds whatever lock guards db.
 */
#ifndef TL_PAYOUTS_SQLV_H
#define TL_PAYOUTS_SQLV_H

#include <stdarg.h>
#include "db.h"

enum tl_err sqlv_prep(struct db *db, struct db_stmt **st, const char *sql, const char *types, ...)
	__attribute__((warn_unused_result));
enum tl_err sqlv_vprep(struct db *db, struct db_stmt **st, const char *sql, const char *types, va_list ap)
	__attribute__((warn_unused_result));

/* Prepares, steps once and finalizes: a statement that returns no rows. */
enum tl_err sqlv_run(struct db *db, const char *sql, const char *types, ...)
	__attribute__((warn_unused_result));

#endif
