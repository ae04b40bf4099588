/*
 * timefmt.h - wall-clock time in int64 milliseconds (UTC) and RFC 3339.
 * JSON carries "2026-11-27T08:52:01.123Z"; everything inside is int64 ms.
 * Pure and thread-safe.
 */
#ifndef TL_TIMEFMT_H
#define TL_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define RFC3339_LEN 24 /* "YYYY-MM-DDTHH:MM:SS.mmmZ" */

int64_t time_now_ms(void);
int64_t time_mono_ms(void);
void time_format_rfc3339(int64_t ms, char out[RFC3339_LEN + 1]);
/* Accepts "YYYY-MM-DDTHH:MM:SS[.fff]Z" (UTC only). */
enum tl_err time_parse_rfc3339(const char *s, int64_t *ms) __attribute__((warn_unused_result));

#endif
