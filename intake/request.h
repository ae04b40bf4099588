/*
 * request.h - validation of the JSON report API's request body
 * (POST /api/v1/reports) and of its headers' values.
 *
 * Strict on purpose: a whistleblower API that silently ignores a misspelt
 * field ("locaton") loses information the reporter believed they gave, so
 * unknown fields are rejected with an error naming them.  Accepted body:
 *
 *   { "text": string (required; 1-20000 characters after trimming),
 *     "location": string <= 1 KiB, "district": "120116" (one of the 17),
 *     "category": string <= 64 characters,
 *     "contact": { "name","phone","email","id_number","wechat": strings <= 1 KiB } }
 *
 * JSON null means "absent" for optional fields.  Duplicate keys are
 * rejected (a second "district" must not be a trick).
 *
 * request_parse() is pure (bytes in, struct out) and fuzzed
 * (tests/fuzz/fuzz_intake_req.c).  On success the struct owns copies of
 * every string; request_free() wipes and frees them, because contact
 * fields and text are identity.  Thread-safe.
 */
#ifndef TL_INTAKE_REQUEST_H
#define TL_INTAKE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "wire.h"

#define REQ_MAX_CATEGORY_CHARS 64
#define REQ_MAX_IDEM_KEY 200

enum req_code {
	REQ_OK = 0,
	REQ_INVALID_JSON,     /* 400: not JSON, not an object, duplicate keys */
	REQ_INVALID_UTF8,     /* 400 */
	REQ_UNKNOWN_FIELD,    /* 400, field named */
	REQ_INVALID_FIELD,    /* 400: wrong JSON type, field named */
	REQ_FIELD_TOO_LONG,   /* 400, field named */
	REQ_MISSING_TEXT,     /* 400 */
	REQ_EMPTY_TEXT,       /* 400: only whitespace */
	REQ_TEXT_TOO_LONG,    /* 400: over 20000 characters */
	REQ_UNKNOWN_DISTRICT, /* 400 */
	REQ_NCODES
};

struct req_error {
	enum req_code code;
	char field[72]; /* "location", "contact.phone", or the unknown name (truncated) */
};

struct intake_request {
	char *text;     /* trimmed */
	size_t text_len;
	char *location; /* NULL if absent or empty */
	char *category; /* NULL if absent or empty */
	char district[7]; /* "" if absent */
	struct wire_contact contact; /* NULL members if absent */
	bool has_contact;
};

/* Parses and validates body[0..len).  On REQ_OK, *out owns its strings. */
enum req_code request_parse(const char *body, size_t len, struct intake_request *out,
                            struct req_error *err);
void request_free(struct intake_request *r);

/* "invalid_json", ... (stable API error codes). */
const char *req_code_name(enum req_code c);
/* Simplified Chinese message for the reporter. */
const char *req_code_message(enum req_code c);

/* True for "application/json" with an optional "charset=utf-8"
 * parameter (case-insensitive, optional spaces). */
bool request_content_type_ok(const char *ct);
/* True for 1-200 printable ASCII characters. */
bool request_idem_key_ok(const char *k);

/* {"error":code,"message":msg[,"field":field]} into out. */
enum tl_err request_error_json(const char *code, const char *message, const char *field,
                               struct buf *out) __attribute__((warn_unused_result));

/* The 400 body for a request_parse() failure, naming the field. */
enum tl_err request_error_body(const struct req_error *err, struct buf *out)
	__attribute__((warn_unused_result));

#endif
