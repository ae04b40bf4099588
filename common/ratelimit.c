/*
 * ratelimit.c - see ratelimit.h.  Open addressing over a fixed table with
 * a short probe window; the hash is keyed so that a client cannot choose
 * addresses that collide into one probe window on purpose.
 */
#include "compat.h"
#include "ratelimit.h"

#include <pthread.h>
#include <sodium.h>

#define PROBE 8
#define HASH_LEN 16

struct slot {
	unsigned char h[HASH_LEN];
	bool used;
	double tokens;
	int64_t last_ms;
};

struct ratelimit {
	pthread_mutex_t lock;
	unsigned char key[32];
	double per_ms;
	double burst;
	struct slot slots[RATELIMIT_SLOTS];
};

enum tl_err
ratelimit_new(const unsigned char key[32], unsigned per_minute, struct ratelimit **out)
{
	struct ratelimit *r;

	if (per_minute == 0)
		return TL_EINVAL;
	if (!(r = calloc(1, sizeof(*r))))
		return TL_ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	memcpy(r->key, key, sizeof(r->key));
	r->burst = per_minute;
	r->per_ms = per_minute / 60000.0;
	*out = r;
	return TL_OK;
}

void
ratelimit_free(struct ratelimit *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	sodium_memzero(r, sizeof(*r));
	free(r);
}

bool
ratelimit_take(struct ratelimit *r, const void *client, size_t len, int64_t now_ms,
               unsigned *retry_after_s)
{
	unsigned char h[HASH_LEN];
	struct slot *s = NULL, *oldest = NULL;
	size_t base;
	bool ok;

	crypto_generichash(h, sizeof(h), client, len, r->key, sizeof(r->key));
	base = ((size_t)h[0] | (size_t)h[1] << 8 | (size_t)h[2] << 16) % RATELIMIT_SLOTS;

	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < PROBE; i++) {
		struct slot *c = &r->slots[(base + i) % RATELIMIT_SLOTS];
		if (c->used && sodium_memcmp(c->h, h, sizeof(h)) == 0) {
			s = c;
			break;
		}
		if (!oldest || !c->used || (oldest->used && c->last_ms < oldest->last_ms))
			oldest = c;
	}
	if (!s) {
		s = oldest;
		memcpy(s->h, h, sizeof(h));
		s->used = true;
		s->tokens = r->burst;
		s->last_ms = now_ms;
	}
	if (now_ms > s->last_ms) {
		s->tokens += (double)(now_ms - s->last_ms) * r->per_ms;
		if (s->tokens > r->burst)
			s->tokens = r->burst;
		s->last_ms = now_ms;
	}
	ok = s->tokens >= 1.0;
	if (ok)
		s->tokens -= 1.0;
	else if (retry_after_s) {
		double wait_ms = (1.0 - s->tokens) / r->per_ms;
		unsigned secs = (unsigned)(wait_ms / 1000.0) + 1;
		*retry_after_s = secs;
	}
	pthread_mutex_unlock(&r->lock);
	sodium_memzero(h, sizeof(h));
	return ok;
}
