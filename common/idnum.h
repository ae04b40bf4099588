/*
 * idnum.h - the resident identity number of GB 11643-1999: a six-digit
 * administrative division code (its first digit 1-8), the date of birth
 * as YYYYMMDD, a three-digit sequence number and a check character, 0-9
 * or X.  The one definition of a valid ID number: intake checks a
 * claimant's with it, the vault checks it again before it decides.
 *
 * Redaction (redact.c) asks a looser question: anything shaped like an ID
 * goes, wrong check digit and impossible day included, because a typo'd
 * ID still identifies someone.  It keeps its own shape test and takes only
 * idnum_check_ok() from here, for the places where a checksum-valid ID is
 * the only thing specific enough to remove.
 *
 * Pure and thread-safe.  Nothing here logs or keeps what it is given.
 */
#ifndef TL_IDNUM_H
#define TL_IDNUM_H

#include <stdbool.h>
#include <stddef.h>

#define IDNUM_LEN 18

/* The check character ('0'-'9' or 'X') that the 17 ASCII digits d[0..17)
 * call for; '\0' if one of them is not a digit. */
char idnum_check_char(const char *d);

/* s[0..18) is 17 ASCII digits followed by the check character they call
 * for (a lower-case x counts as X).  Says nothing of region or date. */
bool idnum_check_ok(const char *s);

/* s[0..len) is a valid ID number: exactly 18 characters, 17 digits and a
 * digit or X/x, a division code starting with 1-8, a date of birth that
 * exists (years 1900-2099, leap years counted) and the right check
 * character. */
bool idnum_valid(const char *s, size_t len);

#endif
