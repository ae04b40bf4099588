/*
 * ratelimit.h - per-client token buckets kept only in memory.
 *
 * Clients are identified by a caller-supplied opaque value (intake passes
 * the raw IP address bytes); the limiter stores only a keyed BLAKE2b hash
 * of it, under a key the caller derives and keeps (e.g. a KDF subkey), so
 * the table never holds an address and is never persisted or logged.
 *
 * The table is bounded (RATELIMIT_SLOTS); when full, the stalest bucket is
 * recycled, which at worst forgets a client's history (fails open for one
 * client, never crashes or grows).  Rate is `per_minute` tokens per
 * minute with a burst of `per_minute`.
 *
 * Thread-safe (one mutex).  ratelimit_free() wipes the table and the key.
 */
#ifndef TL_RATELIMIT_H
#define TL_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define RATELIMIT_SLOTS 4096

struct ratelimit;

enum tl_err ratelimit_new(const unsigned char key[32], unsigned per_minute, struct ratelimit **out)
	__attribute__((warn_unused_result));
void ratelimit_free(struct ratelimit *r);

/* Takes one token for the client at monotonic time now_ms.  Returns true if
 * allowed; otherwise false and *retry_after_s (may be NULL) says when the
 * next token is due (at least 1). */
bool ratelimit_take(struct ratelimit *r, const void *client, size_t len, int64_t now_ms,
                    unsigned *retry_after_s);

#endif
