/*
 * buf.h - bounded, growable, always NUL-terminated byte buffer.
 *
 * Every buffer has a mandatory maximum size set at init; an append past it
 * fails with TL_ETOOBIG and leaves the buffer unchanged.  A buffer made with
 * buf_init_secret() wipes its memory with sodium_memzero on reset, growth and
 * free, for plaintext identity and key material.
 *
 * Ownership: the buffer owns b->data until buf_detach() hands it to the
 * caller (who then frees it with free(), after wiping it if it was secret).
 * Not thread-safe; one owner at a time.
 */
#ifndef TL_BUF_H
#define TL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "err.h"

struct buf {
	char *data; /* NUL-terminated; NULL until the first append */
	size_t len;
	size_t cap;
	size_t max; /* hard limit on len */
	bool secret;
};

void buf_init(struct buf *b, size_t max);
void buf_init_secret(struct buf *b, size_t max);
enum tl_err buf_append(struct buf *b, const void *p, size_t n) __attribute__((warn_unused_result));
enum tl_err buf_append_str(struct buf *b, const char *s) __attribute__((warn_unused_result));
enum tl_err buf_append_char(struct buf *b, char c) __attribute__((warn_unused_result));
enum tl_err buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), warn_unused_result));
/* Appends everything f yields until EOF; TL_ETOOBIG as soon as it would
 * pass the maximum (the rest is not read), TL_EIO on a read error. */
enum tl_err buf_read_file(struct buf *b, FILE *f) __attribute__((warn_unused_result));
/* Empties the buffer, keeping its memory (wiped if secret). */
void buf_reset(struct buf *b);
/* Frees (and wipes if secret) and returns the buffer to its empty state. */
void buf_free(struct buf *b);
/* Returns the data ("" allocated if empty) and leaves b empty; caller frees. */
char *buf_detach(struct buf *b, size_t *len);
/* Returns the data or "" if nothing was appended; never NULL. */
const char *buf_str(const struct buf *b);

#endif
