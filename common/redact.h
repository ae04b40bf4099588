/*
 * redact.h - removes what identifies a reporter (or another private person)
 * from tip text, keeping what an investigator needs.
 *
 * The one interface every channel uses: intake, the mail adapter and the
 * `tipline redact` CLI.  Input is UTF-8 (invalid sequences are replaced by
 * U+FFFD, never passed through).  Output text is normalised (full-width
 * folded, zero-width removed) with each removed span replaced by a typed
 * placeholder such as "[手机号]".
 *
 * The result carries types, counts and offsets only, never the removed
 * values, so it may be logged or published.  Linear in the input size.
 * Thread-safe: no global mutable state.
 * Ownership: redact_result_free() releases everything in the result.
 */
#ifndef TL_REDACT_H
#define TL_REDACT_H

#include <stddef.h>
#include "err.h"

enum redact_type {
	REDACT_ID18,     /* 18-digit resident ID */
	REDACT_ID15,     /* 15-digit old ID */
	REDACT_MOBILE,   /* mainland mobile */
	REDACT_LANDLINE, /* fixed line */
	REDACT_BANKCARD, /* 16-19 digit card */
	REDACT_EMAIL,
	REDACT_WECHAT,   /* WeChat ID after a keyword */
	REDACT_QQ,       /* QQ number after a keyword */
	REDACT_NAME,     /* self-identified name */
	REDACT_URL,      /* URL with a personal token */
	REDACT_PLATE,    /* the reporter's own licence plate */
	REDACT_NTYPES
};

struct redact_span {
	size_t start, end; /* byte offsets into the ORIGINAL input */
	enum redact_type type;
};

struct redact_result {
	char *text; /* NUL-terminated redacted text */
	size_t len;
	unsigned counts[REDACT_NTYPES];
	struct redact_span *spans; /* in input order */
	size_t nspans;
};

/* Redacts in[0..len).  On success *out owns its memory. */
enum tl_err redact_text(const char *in, size_t len, struct redact_result *out)
	__attribute__((warn_unused_result));
void redact_result_free(struct redact_result *r);

/* Stable English name ("mobile") used in JSON and metrics. */
const char *redact_type_name(enum redact_type t);
/* The placeholder written into the text ("[手机号]"). */
const char *redact_type_placeholder(enum redact_type t);

#endif
