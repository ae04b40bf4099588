/*
 * utf8.h - strict UTF-8 validation and code point iteration.
 *
 * Strict means RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF.  Embedded NUL bytes are rejected too, because every text field
 * in Tipline ends up in C strings and JSON.  Pure functions, thread-safe.
 */
#ifndef TL_UTF8_H
#define TL_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True if s[0..len) is valid UTF-8 without NUL; *nchars gets the code point
 * count when non-NULL. */
bool utf8_valid(const char *s, size_t len, size_t *nchars);

/* Decodes one code point at s[*i] (must be valid), advances *i. Returns the
 * code point, or -1 on an invalid sequence (then *i advances by one). */
int32_t utf8_next(const char *s, size_t len, size_t *i);

/* Encodes cp into out (at least 4 bytes); returns bytes written (0 if cp is
 * invalid). */
size_t utf8_encode(uint32_t cp, char *out);

#endif
