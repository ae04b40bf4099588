/*
 * bus.h - the only module that calls nats.c.
 *
 * Wraps connection, JetStream publish with Nats-Msg-Id, pull consumers,
 * key-value buckets and the admin calls that create streams.  natsStatus
 * values are translated to enum tl_err here and nowhere else:
 *   connection down / no responders / timeout -> TL_EUNAVAIL or TL_ETIMEOUT
 *   KV create on an existing key             -> TL_EEXIST
 *   KV update with a stale revision          -> TL_ECONFLICT
 *   missing key / message                    -> TL_ENOTFOUND
 *   permissions violation                    -> TL_EDENIED
 *
 * Thread-safety: a struct bus may be shared by threads (nats.c connections
 * are thread-safe); a consumer and its messages belong to one thread.
 * Ownership: every *_free/close accepts NULL.  Fetched messages must be
 * acked, nak'd or terminated before bus_batch_free().
 */
#ifndef TL_BUS_H
#define TL_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "err.h"

struct bus;
struct bus_kv;
struct bus_consumer;
struct bus_msg;

struct bus_opts {
	const char *url;          /* "nats://127.0.0.1:4222"; comma-separated for a cluster */
	const char *user;         /* NULL for no auth */
	const char *password;
	const char *name;         /* connection name shown by the server */
	const char *inbox_prefix; /* per-user inbox prefix, e.g. "_INBOX_intake" */
	int timeout_ms;           /* JetStream API and publish ack wait; default 5000 */
	bool retry_on_failed_connect; /* start even if NATS is down (daemons) */
	/* Write each publish to the socket in the calling thread instead of
	 * waking nats.c's flusher thread: fewer context switches per round
	 * trip for request/response-heavy daemons (intake).  Default false. */
	bool send_asap;
};

/* Optional, before the first bus_connect(): initialises nats.c with the
 * given mutex spin count (0 = never spin).  nats.c spins up to 2000 times
 * on a contended lock by default; with many threads publishing on one
 * connection on a 2-core machine that spinning burns the CPU the lock
 * holder needs.  Without this call nats.c uses its default.  Added for
 * tipline-intake (16 HTTP threads on one connection). */
enum tl_err bus_init(int64_t lock_spin) __attribute__((warn_unused_result));
enum tl_err bus_connect(const struct bus_opts *o, struct bus **out) __attribute__((warn_unused_result));
void bus_close(struct bus *b);
bool bus_connected(struct bus *b);
/* Last asynchronous error seen (permissions violations arrive this way). */
enum tl_err bus_last_async_error(struct bus *b);

/* JetStream publish; waits for the stream's ack.  msg_id sets Nats-Msg-Id;
 * *duplicate (may be NULL) tells whether the stream already had it. */
enum tl_err bus_publish(struct bus *b, const char *subject, const void *data, size_t len,
                        const char *msg_id, bool *duplicate) __attribute__((warn_unused_result));

/* Asynchronous JetStream publish, for bulk work (benchmark baselines,
 * replays) where a per-message round trip would dominate.  Queues the
 * message and returns; at most 4000 publishes are in flight (a full window
 * blocks up to the bus timeout).  Thread-safe, but callers should not mix
 * it with bus_publish_async_wait() from several threads.  Added for
 * bench/intake (bench_jspub). */
enum tl_err bus_publish_async(struct bus *b, const char *subject, const void *data, size_t len,
                              const char *msg_id) __attribute__((warn_unused_result));
/* Waits until every queued async publish is acknowledged or has failed,
 * at most timeout_ms.  *failed (may be NULL) gets the number of async
 * publishes that failed since the previous call.  TL_ETIMEOUT if some are
 * still pending. */
enum tl_err bus_publish_async_wait(struct bus *b, int timeout_ms, uint64_t *failed)
	__attribute__((warn_unused_result));

/* ---- admin: streams, consumers, buckets (idempotent "ensure") ---- */
enum bus_retention { BUS_LIMITS, BUS_WORKQUEUE, BUS_INTEREST };
struct bus_stream_cfg {
	const char *name;
	const char *const *subjects;
	int nsubjects;
	enum bus_retention retention;
	int64_t max_age_ms;      /* 0 = unlimited */
	int64_t dup_window_ms;   /* Nats-Msg-Id dedup window */
	int64_t max_msg_size;    /* bytes; 0 = server default */
	int replicas;
};
enum tl_err bus_stream_ensure(struct bus *b, const struct bus_stream_cfg *c) __attribute__((warn_unused_result));
/* TL_OK and message count if the stream exists, TL_ENOTFOUND otherwise. */
enum tl_err bus_stream_info(struct bus *b, const char *stream, uint64_t *msgs, uint64_t *first_seq,
                            uint64_t *last_seq) __attribute__((warn_unused_result));
/* Reads one stored message by sequence (TL_ENOTFOUND if deleted/absent). */
enum tl_err bus_stream_get(struct bus *b, const char *stream, uint64_t seq, struct buf *data,
                           char *subject, size_t subjlen) __attribute__((warn_unused_result));
enum tl_err bus_stream_purge(struct bus *b, const char *stream) __attribute__((warn_unused_result));

struct bus_consumer_cfg {
	const char *stream;
	const char *durable;
	const char *filter;   /* subject filter, or NULL */
	int64_t ack_wait_ms;
	int max_deliver;      /* -1 unlimited */
	int max_ack_pending;  /* 0 = server default */
};
enum tl_err bus_consumer_ensure(struct bus *b, const struct bus_consumer_cfg *c) __attribute__((warn_unused_result));
/* Deletes a durable (TL_ENOTFOUND if it does not exist).  With
 * bus_consumer_ensure() after it, a consumer starts again from the first
 * message of a limits stream: `tipline streams replay` uses this to
 * rebuild a district database.  Added for districts/. */
enum tl_err bus_consumer_delete(struct bus *b, const char *stream, const char *durable)
	__attribute__((warn_unused_result));

struct bus_kv_cfg {
	const char *bucket;
	int history;
	int64_t ttl_ms; /* 0 = keep forever */
	int replicas;
};
enum tl_err bus_kv_ensure(struct bus *b, const struct bus_kv_cfg *c) __attribute__((warn_unused_result));

/* ---- pull consumers ---- */
/* Binds to an existing durable (created by bus_consumer_ensure). */
enum tl_err bus_consumer_bind(struct bus *b, const char *stream, const char *durable,
                              struct bus_consumer **out) __attribute__((warn_unused_result));
void bus_consumer_free(struct bus_consumer *c);

struct bus_batch {
	struct bus_msg **msgs;
	int count;
	void *list_; /* owned natsMsgList */
};
/* Waits up to timeout_ms for up to max messages.  An empty wait is TL_OK
 * with count 0, not an error. */
enum tl_err bus_fetch(struct bus_consumer *c, int max, int timeout_ms, struct bus_batch *out)
	__attribute__((warn_unused_result));
void bus_batch_free(struct bus_batch *bt);

const char *bus_msg_data(const struct bus_msg *m, size_t *len);
const char *bus_msg_subject(const struct bus_msg *m);
/* Delivery count (1 on first delivery) and stream sequence. */
enum tl_err bus_msg_meta(struct bus_msg *m, uint64_t *stream_seq, uint64_t *delivered);
enum tl_err bus_msg_ack(struct bus_msg *m) __attribute__((warn_unused_result)); /* waits for the server */
enum tl_err bus_msg_nak(struct bus_msg *m, int64_t delay_ms) __attribute__((warn_unused_result));
enum tl_err bus_msg_term(struct bus_msg *m) __attribute__((warn_unused_result));
enum tl_err bus_msg_in_progress(struct bus_msg *m) __attribute__((warn_unused_result));

/* ---- key-value ---- */
enum tl_err bus_kv_open(struct bus *b, const char *bucket, struct bus_kv **out) __attribute__((warn_unused_result));
void bus_kv_close(struct bus_kv *kv);
enum tl_err bus_kv_get(struct bus_kv *kv, const char *key, struct buf *val, uint64_t *rev)
	__attribute__((warn_unused_result));
enum tl_err bus_kv_put(struct bus_kv *kv, const char *key, const void *val, size_t len, uint64_t *rev)
	__attribute__((warn_unused_result));
enum tl_err bus_kv_create(struct bus_kv *kv, const char *key, const void *val, size_t len, uint64_t *rev)
	__attribute__((warn_unused_result));
enum tl_err bus_kv_update(struct bus_kv *kv, const char *key, const void *val, size_t len,
                          uint64_t last_rev, uint64_t *rev) __attribute__((warn_unused_result));
enum tl_err bus_kv_delete(struct bus_kv *kv, const char *key) __attribute__((warn_unused_result));

/* ---- core request/reply (no JetStream; issue 5's payee reveal) ----
 *
 * bus_request() publishes data on subject with a reply inbox under the
 * connection's inbox_prefix and waits up to timeout_ms for one answer:
 * TL_ETIMEOUT when nobody answered in time (or no responder), TL_EUNAVAIL
 * when not connected.  The reply is copied into *reply (reset first; may
 * be a secret buffer).
 *
 * A responder subscribes synchronously and polls from its own loop:
 * bus_sub_next() waits up to timeout_ms (TL_ETIMEOUT when nothing came)
 * and hands out a message the caller answers with bus_respond() and
 * releases with bus_msg_free().  A message without a reply subject is
 * answered with TL_EINVAL by bus_respond(). */
struct bus_sub;
enum tl_err bus_request(struct bus *b, const char *subject, const void *data, size_t len,
                        int timeout_ms, struct buf *reply) __attribute__((warn_unused_result));
enum tl_err bus_sub_sync(struct bus *b, const char *subject, struct bus_sub **out)
	__attribute__((warn_unused_result));
enum tl_err bus_sub_next(struct bus_sub *s, int timeout_ms, struct bus_msg **out)
	__attribute__((warn_unused_result));
enum tl_err bus_respond(struct bus *b, struct bus_msg *m, const void *data, size_t len)
	__attribute__((warn_unused_result));
void bus_msg_free(struct bus_msg *m);
void bus_sub_free(struct bus_sub *s);

/* Releases nats.c library threads; call once at process exit. */
void bus_shutdown(void);

#endif
