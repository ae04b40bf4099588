/*
 * jsonbody.h - what the two JSON bodies intake accepts, reports
 * (request.c) and award claims (claim.c), check the same way: loading,
 * trimming, naming a field in an error, and wiping.
 *
 * Both bodies hold identity, so a loaded document is always released with
 * jsonbody_free(), never json_decref() alone.  Pure and thread-safe.
 */
#ifndef TL_INTAKE_JSONBODY_H
#define TL_INTAKE_JSONBODY_H

#include <stddef.h>
#include <jansson.h>

enum jsonbody_err {
	JSONBODY_OK,
	JSONBODY_INVALID_JSON, /* empty, not JSON, not an object, duplicate keys */
	JSONBODY_INVALID_UTF8,
};

/* Parses body[0..len) into an object (*out, NULL on failure).  Invalid
 * UTF-8 is told apart from bad JSON: the sender deserves to hear which. */
enum jsonbody_err jsonbody_load(const char *body, size_t len, json_t **out);

/* Wipes every string in j, then releases it. */
void jsonbody_free(json_t *j);

/* The valid UTF-8 s[0..len) without white space (ASCII, no-break,
 * ideographic, BOM, line separators) at either end. */
const char *jsonbody_trim(const char *s, size_t len, size_t *outlen);

/* Copies a field name into an error's field (JSONBODY_FIELD_MAX + 1 bytes
 * at least), cut at a character boundary: the name may be the client's. */
#define JSONBODY_FIELD_MAX 64
void jsonbody_field(char *out, const char *name);

#endif
