/*
 * err.h - the one project error enum.
 *
 * Every fallible function returns enum tl_err (TL_OK == 0) and hands results
 * back through out-parameters.  Library status codes (natsStatus, SQLite rc,
 * MHD results, sodium -1) are translated to these exactly once, in the module
 * that calls the library.  tl_strerror() never returns NULL.
 */
#ifndef TL_ERR_H
#define TL_ERR_H

enum tl_err {
	TL_OK = 0,
	TL_ENOMEM,    /* allocation failed */
	TL_EINVAL,    /* invalid argument or input */
	TL_ETOOBIG,   /* a bound was exceeded */
	TL_EPROTO,    /* malformed message or wrong version */
	TL_EIO,       /* file or socket I/O */
	TL_ECRYPTO,   /* sealing, opening, signing failed */
	TL_EDB,       /* database error */
	TL_EBUS,      /* NATS/JetStream error */
	TL_EDENIED,   /* permission or authorisation refused */
	TL_ENOTFOUND, /* no such key, record or file */
	TL_EEXIST,    /* already exists (create-only conflict) */
	TL_EUNAVAIL,  /* dependency down, try again later */
	TL_ECONFIG,   /* bad configuration */
	TL_ETIMEOUT,  /* timed out */
	TL_ECONFLICT, /* compare-and-set lost */
	TL_ERR_MAX_
};

const char *tl_strerror(enum tl_err e);

#include <stddef.h>
/* Formats an error's explanation into why[whylen] (the "why" out-parameter
 * many functions take); does nothing when why is NULL or whylen 0. */
void tl_why(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
