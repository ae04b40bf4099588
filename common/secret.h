/*
 * secret.h - key files and secret memory.
 *
 * Key files hold hex text (64 hex chars for a 32-byte key, 128 for a
 * 64-byte Ed25519 secret key) with an optional trailing newline.  A secret
 * key file must be a regular file (no symlink) owned by the running user
 * and not readable or writable by group or others; anything else is refused
 * with a message naming the file and the problem.  Public key files only
 * need to exist.
 *
 * Secrets are returned in sodium_malloc memory (guard pages, mlocked) and
 * must be released with secret_free(), which wipes them.  Thread-safe once
 * secret_init() has run.
 */
#ifndef TL_SECRET_H
#define TL_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include "err.h"

/* sodium_init() once; disables core dumps for this process. */
enum tl_err secret_init(void) __attribute__((warn_unused_result));

/* Checks a secret key file's type, owner and mode without reading it.
 * On failure writes a human message into why. */
enum tl_err secret_check_file(const char *path, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* Reads exactly len bytes (hex-encoded in the file) into new sodium_malloc
 * memory.  Checks the file as secret_check_file() does. */
enum tl_err secret_load(const char *path, size_t len, unsigned char **out, char *why, size_t whylen)
	__attribute__((warn_unused_result));
/* Reads a public value (hex) into out[0..len). */
enum tl_err public_load(const char *path, unsigned char *out, size_t len, char *why, size_t whylen)
	__attribute__((warn_unused_result));
/* Reads a secret text (password) file, trailing newline removed, into
 * sodium_malloc memory; NUL-terminated. */
enum tl_err secret_load_text(const char *path, char **out, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* Writes data as hex to a new file with the given mode (0600 for secrets,
 * 0644 for public keys); refuses to overwrite an existing file. */
enum tl_err key_write(const char *path, const unsigned char *data, size_t len, unsigned mode)
	__attribute__((warn_unused_result));

/* Frees memory jansson allocated (json_dumps results): through jansson's
 * configured allocator, which secret_init() makes wipe-on-free. */
void secret_json_free(void *p);

/* Wipes and frees sodium_malloc memory; NULL is fine. */
void secret_free(void *p);

#endif
