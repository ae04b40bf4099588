/*
 * norm.h - text normalisation before matching, with a map back to the
 * original bytes.
 *
 * Used by redaction and routing so that "１３８－００１３" and "138-0013"
 * look the same to the matchers.  What it does (DESIGN.md D.9):
 *   - folds full-width ASCII (U+FF01..FF5E) to ASCII, except the full-width
 *     punctuation that is ordinary Chinese punctuation (！，：；？（）), which
 *     operators expect to see unchanged;
 *   - U+3000 becomes a space; zero-width characters and the soft hyphen are
 *     removed; dash variants become '-';
 *   - invalid UTF-8 and NUL become U+FFFD;
 *   - with NORM_SPOKEN_DIGITS, runs of spoken or circled digits (幺三八…,
 *     ①②③…) of at least five digits become ASCII digits, so that hotline
 *     transcripts expose their numbers to the digit matchers.
 *
 * The map is sparse: one mark wherever the distance between normalised and
 * original offsets changes, so unchanged text costs nothing.
 * Ownership: norm_free() releases what norm_run() filled in.  Pure and
 * thread-safe.
 */
#ifndef TL_NORM_H
#define TL_NORM_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

enum { NORM_SPOKEN_DIGITS = 1u << 0 };

/* From normalised offset n onwards (until the next mark), the original
 * offset is o + (x - n). */
struct norm_mark {
	size_t n, o;
};

struct norm_text {
	char *s;     /* NUL-terminated normalised text, valid UTF-8 */
	size_t len;
	size_t in_len;
	struct norm_mark *marks;
	size_t nmarks;
};

/* Normalises in[0..len).  Output is at most 3 * len bytes. */
enum tl_err norm_run(const char *in, size_t len, unsigned flags, struct norm_text *out)
	__attribute__((warn_unused_result));
void norm_free(struct norm_text *t);

/* Original offset of normalised offset n (n <= t->len). */
size_t norm_to_orig(const struct norm_text *t, size_t n);

/* Monotone variant: *k is a cursor that starts at 0; queries must not go
 * backwards.  Linear over a whole pass instead of a search per query. */
size_t norm_to_orig_seq(const struct norm_text *t, size_t *k, size_t n);

/* The spoken/circled digit value of code point cp, or -1. */
int norm_digit_value(uint32_t cp);

#endif
