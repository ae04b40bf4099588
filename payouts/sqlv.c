/*
 * sqlv.c - see sqlv.h.
 */
#include "compat.h"
#include "sqlv.h"

enum tl_err
sqlv_vprep(struct db *db, struct db_stmt **st, const char *sql, const char *types, va_list ap)
{
	enum tl_err e;
	int idx = 1;

	*st = NULL;
	if ((e = db_prepare(db, sql, st)) != TL_OK)
		return e;
	for (const char *t = types; *t && e == TL_OK; t++, idx++) {
		if (*t == 't')
			e = db_bind_text(*st, idx, va_arg(ap, const char *));
		else
			e = db_bind_int64(*st, idx, va_arg(ap, int64_t));
	}
	if (e != TL_OK) {
		db_finalize(*st);
		*st = NULL;
	}
	return e;
}

enum tl_err
sqlv_prep(struct db *db, struct db_stmt **st, const char *sql, const char *types, ...)
{
	va_list ap;
	enum tl_err e;

	va_start(ap, types);
	e = sqlv_vprep(db, st, sql, types, ap);
	va_end(ap);
	return e;
}

enum tl_err
sqlv_run(struct db *db, const char *sql, const char *types, ...)
{
	struct db_stmt *st;
	va_list ap;
	enum tl_err e;

	va_start(ap, types);
	e = sqlv_vprep(db, &st, sql, types, ap);
	va_end(ap);
	if (e == TL_OK)
		e = db_step(st, NULL);
	db_finalize(st);
	return e;
}
