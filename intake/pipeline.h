/*
 * pipeline.h - the one path every channel's report takes:
 *
 *   struct report -> redact (text, location, category) -> route ->
 *   seal identity to the vault key -> publish tl.deposit.report ->
 *   publish tl.lead.<district> -> create TL_STATUS[status_key] = received
 *
 * and only then tells the caller the receipt.  The JSON API uses it today;
 * the email and WeChat adapters will call the same function.
 *
 * Idempotency: when the channel gives an idempotency key (HTTP
 * Idempotency-Key, WeChat MsgId, Message-ID), report_id, lead_id and the
 * receipt are derived from keyed hashes of (channel, key) and of the
 * request content, the Nats-Msg-Ids are derived from those ids (JetStream
 * dedups a retry), and TL_IDEM[keyed hash of the key] is created holding
 * the keyed content hash, so the same key with other content is refused
 * (TL_ECONFLICT) before anything is published.  A retry of a finished
 * report (its status exists) publishes nothing and returns the same
 * receipt.  Without a key everything is random.
 *
 * The bus is reached only through struct pipeline_bus, so tests can run
 * the pipeline against a fake and see exactly what would be published.
 *
 * Errors: TL_ECONFLICT (idempotency key reused with other content),
 * TL_EUNAVAIL / TL_ETIMEOUT / TL_EBUS / TL_EDENIED / TL_EEXIST (bus
 * trouble: the caller should say "try again"; nothing is acknowledged),
 * TL_EINVAL / TL_ETOOBIG (bad report), TL_ECRYPTO / TL_ENOMEM.
 *
 * Thread-safety: pipeline_submit() may run on many threads at once over
 * one struct pipeline (read-only after setup) if the bus callbacks are
 * thread-safe.  The receipt in the result is secret: the caller shows it
 * once and wipes it (sodium_memzero).  Plaintext identity exists only in
 * secret buffers inside pipeline_submit() and is wiped before it returns.
 */
#ifndef TL_INTAKE_PIPELINE_H
#define TL_INTAKE_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "err.h"
#include "ids.h"
#include "route.h"
#include "wire.h"

#define PIPELINE_KEY_BYTES 32

/* The bus as the pipeline needs it.  Every callback must be thread-safe
 * if the pipeline is shared between threads. */
struct pipeline_bus {
	void *cls;
	/* JetStream publish; returns after the stream's ack. */
	enum tl_err (*publish)(void *cls, const char *subject, const void *data, size_t len,
	                       const char *msg_id);
	/* Create-only put: TL_EEXIST if the key exists. */
	enum tl_err (*kv_create)(void *cls, const char *bucket, const char *key, const void *val,
	                         size_t len);
	/* TL_ENOTFOUND if absent. */
	enum tl_err (*kv_get)(void *cls, const char *bucket, const char *key, struct buf *val);
};

struct pipeline {
	unsigned char vault_pk[32];          /* crypto_box public key of the vault */
	const unsigned char *status_key;     /* subkey for receipt_status_key() */
	const unsigned char *ids_key;        /* subkey for idempotent ids/receipts */
	const struct route_gazetteer *gaz;   /* may be NULL only in tests */
	struct pipeline_bus bus;
};

struct report {
	const char *channel;           /* "api", "web", "hotline", "email", "wechat" */
	int64_t received_ms;
	struct wire_contact contact;   /* borrowed; NULL members are absent */
	const char *text;              /* required, valid UTF-8 */
	size_t text_len;
	const char *location;          /* NULL if none */
	size_t location_len;
	const char *district;          /* explicit valid choice, or NULL */
	const char *category;          /* NULL if none */
	const char *channel_msg_id;    /* sealed only; NULL if none */
	bool has_coords;
	double lat, lon;
	/* Idempotency (optional): the channel's key and the bytes that must be
	 * identical for a retry (the HTTP body). */
	const char *idem_key;
	size_t idem_key_len;
	const void *idem_content;
	size_t idem_content_len;
};

struct pipeline_result {
	char report_id[ID_HEX_LEN + 1];
	char lead_id[ID_HEX_LEN + 1];
	char district[7];
	char route_rule[16];
	char receipt[RECEIPT_DIGITS + 1]; /* secret: show once, then wipe */
	bool replayed;                    /* an idempotent retry of a finished report */
};

enum tl_err pipeline_submit(const struct pipeline *p, const struct report *r,
                            struct pipeline_result *out) __attribute__((warn_unused_result));

/* crypto_box_seal of plain (a secret buffer the caller wipes) to the vault
 * key: the one way intake hands identity on (report identities here, payee
 * details in claim.c).  *sealed is malloc'd; the caller frees it. */
enum tl_err pipeline_seal(const struct pipeline *p, const struct buf *plain, unsigned char **sealed,
                          size_t *sealed_len) __attribute__((warn_unused_result));

#endif
