/*
 * wire.h - every NATS subject, stream and bucket name, and every message
 * that travels between Tipline processes.
 *
 * Business code never builds JSON or subject strings by hand: it fills a
 * struct and calls wire_*_encode(), or calls wire_*_decode() on bytes from
 * the bus.  Messages are JSON objects with "v":1 and "type".  Decoders treat
 * their input as hostile: they check the version, the type, every field's
 * JSON type, id formats, string lengths (WIRE_MAX_*) and UTF-8, and reject
 * unknown channels and districts with TL_EPROTO.  Encode/decode are pure
 * (bytes in, struct out), so they are fuzzed and golden-tested.
 *
 * Ownership: decoded structs own their strings; release them with the
 * matching wire_*_free(), which wipes identity fields.
 * Thread-safe.
 */
#ifndef TL_WIRE_H
#define TL_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "err.h"
#include "ids.h"
#include "redact.h"

#define WIRE_VERSION 1

/* Streams, subjects, buckets, consumers. */
#define WIRE_STREAM_DEPOSITS "TL_DEPOSITS"
#define WIRE_STREAM_LEADS "TL_LEADS"
#define WIRE_STREAM_EVENTS "TL_EVENTS"
#define WIRE_SUBJ_DEPOSITS_ALL "tl.deposit.>"
#define WIRE_SUBJ_DEPOSIT_REPORT "tl.deposit.report"
#define WIRE_SUBJ_LEADS_ALL "tl.lead.>"
#define WIRE_SUBJ_EVENTS_ALL "tl.event.>"
#define WIRE_KV_STATUS "TL_STATUS"
#define WIRE_KV_CLAIMS "TL_CLAIMS"
#define WIRE_KV_IDEM "TL_IDEM"
#define WIRE_CONSUMER_VAULT "vault"

/* Bounds.  A report body is at most 256 KiB by default; the sealed deposit
 * grows by base64 and the envelope, so messages may be up to 1 MiB. */
#define WIRE_MAX_MSG (1024 * 1024)
#define WIRE_MAX_TEXT_CHARS 20000
#define WIRE_MAX_TEXT_BYTES (WIRE_MAX_TEXT_CHARS * 4)
#define WIRE_MAX_FIELD_BYTES 1024 /* location, category, contact fields */
#define WIRE_MAX_MSGID_BYTES 200
#define WIRE_CHANNEL_LEN 15

/* "tl.lead.<district>" into out. */
enum tl_err wire_subject_lead(const char *district, char *out, size_t outlen)
	__attribute__((warn_unused_result));
/* True for "web", "api", "hotline", "email", "wechat". */
bool wire_channel_valid(const char *ch);

/* What a reporter may tell us about themselves.  Every field optional. */
struct wire_contact {
	char *name, *phone, *email, *id_number, *wechat;
};

/* The plaintext that is sealed to the vault key.  Never published,
 * logged or stored outside the vault. */
struct wire_identity {
	char report_id[ID_HEX_LEN + 1];
	char channel[WIRE_CHANNEL_LEN + 1];
	int64_t received_ms;
	struct wire_contact contact;
	char *text;           /* the original, unredacted tip */
	char *location;       /* the original location field */
	char *channel_msg_id; /* the channel's own id (may be identifying) */
};

/* tl.deposit.report: the sealed identity plus routing metadata. */
struct wire_deposit {
	char report_id[ID_HEX_LEN + 1];
	char channel[WIRE_CHANNEL_LEN + 1];
	int64_t received_ms;
	char status_key[STATUS_KEY_LEN + 1];
	unsigned char *sealed; /* crypto_box_seal(identity JSON) */
	size_t sealed_len;
};

/* tl.lead.<district>: what a district sees. */
struct wire_lead {
	char lead_id[ID_HEX_LEN + 1];
	char report_id[ID_HEX_LEN + 1];
	char district[7];
	char channel[WIRE_CHANNEL_LEN + 1];
	int64_t received_ms;
	char *text;     /* redacted */
	char *location; /* redacted, may be NULL */
	char *category; /* may be NULL */
	char route_rule[16];
	int route_confidence;
	unsigned redactions[REDACT_NTYPES];
	bool has_contact; /* the reporter left contact details (in the vault) */
	char status_key[STATUS_KEY_LEN + 1];
};

/* TL_STATUS value: what a reporter may see about their receipt. */
struct wire_status {
	char status[32]; /* "received", ... */
	int64_t updated_ms;
};

enum tl_err wire_identity_encode(const struct wire_identity *m, struct buf *out)
	__attribute__((warn_unused_result));
enum tl_err wire_identity_decode(const char *data, size_t len, struct wire_identity *m)
	__attribute__((warn_unused_result));
void wire_identity_free(struct wire_identity *m);

enum tl_err wire_deposit_encode(const struct wire_deposit *m, struct buf *out)
	__attribute__((warn_unused_result));
enum tl_err wire_deposit_decode(const char *data, size_t len, struct wire_deposit *m)
	__attribute__((warn_unused_result));
void wire_deposit_free(struct wire_deposit *m);

enum tl_err wire_lead_encode(const struct wire_lead *m, struct buf *out)
	__attribute__((warn_unused_result));
enum tl_err wire_lead_decode(const char *data, size_t len, struct wire_lead *m)
	__attribute__((warn_unused_result));
void wire_lead_free(struct wire_lead *m);

enum tl_err wire_status_encode(const struct wire_status *m, struct buf *out)
	__attribute__((warn_unused_result));
enum tl_err wire_status_decode(const char *data, size_t len, struct wire_status *m)
	__attribute__((warn_unused_result));

#endif
