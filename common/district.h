/*
 * district.h - the 16 Tianjin districts and the city triage code.
 *
 * Codes are GB/T 2260 six-digit strings; 120000 is the city triage node.
 * Static table; thread-safe; returned strings are static.
 */
#ifndef TL_DISTRICT_H
#define TL_DISTRICT_H

#include <stdbool.h>
#include <stddef.h>

#define DISTRICT_CITY "120000"
#define DISTRICT_CODE_LEN 6

struct district {
	const char *code;  /* "120116" */
	const char *name;  /* "滨海新区" */
	const char *short_name; /* "滨海" */
};

/* All 17 entries (16 districts, then the city triage code). */
const struct district *district_all(size_t *n);
/* The entry for a current code, or NULL (retired codes are not valid here). */
const struct district *district_find(const char *code);
/* True if s is exactly one of the 17 current codes. */
bool district_valid(const char *s);

#endif
