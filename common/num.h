/*
 * num.h - checked integer parsing; the only way Tipline turns text into
 * numbers (atoi/atol are banned).  Accepts plain decimal only: no sign for
 * unsigned, no leading '+', no whitespace, no trailing garbage, no
 * overflow.  Pure, thread-safe.
 */
#ifndef TL_NUM_H
#define TL_NUM_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

enum tl_err num_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
	__attribute__((warn_unused_result));
enum tl_err num_parse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
	__attribute__((warn_unused_result));

/* Lowercase hex encoding; out must hold 2*len+1 bytes. */
void hex_encode(const unsigned char *in, size_t len, char *out);
/* Strict hex decoding of exactly 2*outlen characters (either case). */
enum tl_err hex_decode(const char *in, size_t inlen, unsigned char *out, size_t outlen)
	__attribute__((warn_unused_result));

#endif
