/*
 * jsonbody.c - see jsonbody.h: what intake's two JSON bodies (reports and
 * award claims) share.
 */
#include "compat.h"
#include "jsonbody.h"
#include "utf8.h"

#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

void
jsonbody_field(char *out, const char *name)
{
	size_t n = strlen(name), i = 0;

	while (i < n && i < JSONBODY_FIELD_MAX) {
		size_t j = i;
		if (utf8_next(name, n, &j) < 0 || j > JSONBODY_FIELD_MAX)
			break;
		i = j;
	}
	memcpy(out, name, i);
	out[i] = '\0';
}

static bool
is_space_cp(int32_t cp)
{
	return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0x00A0 || cp == 0x3000 ||
	       cp == 0xFEFF || cp == 0x2028 || cp == 0x2029;
}

const char *
jsonbody_trim(const char *s, size_t len, size_t *outlen)
{
	size_t start = 0, end = len, i;

	while (start < len) {
		i = start;
		if (!is_space_cp(utf8_next(s, len, &i)))
			break;
		start = i;
	}
	/* Walk forward remembering the end of the last non-space character:
	 * UTF-8 cannot be decoded backwards with utf8_next. */
	end = start;
	for (i = start; i < len;) {
		int32_t cp = utf8_next(s, len, &i);
		if (!is_space_cp(cp))
			end = i;
	}
	*outlen = end - start;
	return s + start;
}

/* jansson frees without wiping. */
static void
wipe_json(json_t *j, int depth)
{
	const char *k;
	json_t *v;
	size_t i;

	if (!j || depth > 64)
		return;
	if (json_is_string(j)) {
		sodium_memzero((char *)(uintptr_t)json_string_value(j), json_string_length(j));
	} else if (json_is_object(j)) {
		json_object_foreach(j, k, v)
			wipe_json(v, depth + 1);
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			wipe_json(v, depth + 1);
	}
}

void
jsonbody_free(json_t *j)
{
	if (j) {
		wipe_json(j, 0);
		json_decref(j);
	}
}

enum jsonbody_err
jsonbody_load(const char *body, size_t len, json_t **out)
{
	json_error_t jerr;

	*out = NULL;
	if (len == 0)
		return JSONBODY_INVALID_JSON;
	/* jansson would reject invalid UTF-8 as a syntax error. */
	if (!utf8_valid(body, len, NULL))
		return JSONBODY_INVALID_UTF8;
	*out = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	/* Its message may quote the body. */
	sodium_memzero(&jerr, sizeof(jerr));
	if (*out && json_is_object(*out))
		return JSONBODY_OK;
	jsonbody_free(*out);
	*out = NULL;
	return JSONBODY_INVALID_JSON;
}
