/*
 * claim.h - a reporter's award claim: the payee details' validation (pure,
 * fuzzed by tests/fuzz/fuzz_intake_claim.c) and the submission
 * (docs/award-flow.md sections 2-3):
 *
 *   receipt -> TL_STATUS lookup -> only award_approved / claim_refused
 *   before claim_by -> wire_payee sealed to the vault key ->
 *   wire_payclaim on tl.deposit.claim (Nats-Msg-Id "claim:<claim_id>"),
 *   acknowledged by JetStream.
 *
 * The payee details are identity.  They exist in clear only in one
 * sodium_malloc block owned by struct claim_input (wiped by
 * claim_input_free()) and in the secret buffer that is sealed; nothing of
 * them is logged, stored, published in clear or echoed back.  Error
 * reports name the field and the rule, never the value.
 *
 * Thread-safe: no state besides the caller's structs.
 */
#ifndef TL_INTAKE_CLAIM_H
#define TL_INTAKE_CLAIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "ids.h"
#include "pipeline.h"
#include "wire.h"

enum claim_field { CF_NAME, CF_ID_NUMBER, CF_BANK, CF_ACCOUNT, CF_PHONE, CF_N };

#define CLAIM_NAME_MAX_CHARS 30
#define CLAIM_BANK_MIN_CHARS 2
#define CLAIM_BANK_MAX_CHARS 60
#define CLAIM_ACCOUNT_MIN_DIGITS 12
#define CLAIM_ACCOUNT_MAX_DIGITS 30
/* The raw bytes a field may have before any rule looks at it. */
#define CLAIM_FIELD_MAX_BYTES WIRE_PAYEE_FIELD_MAX

enum claim_code {
	CLAIM_OK = 0,
	CLAIM_INVALID_JSON,     /* not JSON, not an object, duplicate keys */
	CLAIM_INVALID_UTF8,     /* body or a field is not UTF-8 */
	CLAIM_UNKNOWN_FIELD,    /* named */
	CLAIM_INVALID_FIELD,    /* not a string, named */
	CLAIM_MISSING_FIELD,    /* absent, null or blank, named */
	CLAIM_FIELD_TOO_LONG,   /* over CLAIM_FIELD_MAX_BYTES, named */
	CLAIM_INVALID_NAME,     /* 1-30 characters, no digits or control characters */
	CLAIM_INVALID_ID,       /* 18 characters, GB 11643 date and check digit */
	CLAIM_INVALID_BANK,     /* 2-60 characters, no control characters */
	CLAIM_INVALID_ACCOUNT,  /* 12-30 digits once spaces are removed */
	CLAIM_INVALID_PHONE,    /* 11 digits starting with 1 (spaces, dashes removed) */
	CLAIM_NCODES
};

/* The normalised payee details: trimmed name and bank, ID number with an
 * upper-case X, account and phone digits only. */
struct claim_input {
	char *mem;             /* sodium_malloc; every f[] points into it */
	const char *f[CF_N];
};

struct claim_errors {
	enum claim_code code;       /* the first problem in field order */
	char field[72];             /* its field name ("" for the whole body) */
	enum claim_code per[CF_N];  /* each known field's own result (form page) */
};

/* "name", "id_number", "bank", "account", "phone". */
const char *claim_field_name(enum claim_field f);
/* Stable API code ("invalid_id_number", ...) and Chinese message. */
const char *claim_code_name(enum claim_code c);
const char *claim_code_message(enum claim_code c);

/* GB 11643-1999: 17 digits, a date of birth that exists (1900 .. this
 * century), and the ISO 7064 MOD 11-2 check character (digit or X/x). */
bool claim_id_number_valid(const char *s, size_t len);

/* Validates raw[i][0..len[i]) for each field (raw[i] NULL = missing).  On
 * CLAIM_OK, *out owns the normalised values; otherwise *out is empty and
 * err says why (err->per for every field). */
enum claim_code claim_validate(const char *const raw[CF_N], const size_t len[CF_N],
                               struct claim_input *out, struct claim_errors *err);

/* The JSON API body {"name","id_number","bank","account","phone"}; strict
 * (unknown fields, duplicate keys and non-string values are errors). */
enum claim_code claim_parse_json(const char *body, size_t len, struct claim_input *out,
                                 struct claim_errors *err);

void claim_input_free(struct claim_input *in);

/* {"error","message"[,"field"]} for a failed validation. */
enum tl_err claim_error_body(const struct claim_errors *err, struct buf *out)
	__attribute__((warn_unused_result));

/* ---- submission ---- */

/* Where a receipt's award stands for a claim at time now. */
enum claim_state {
	CLAIM_STATE_OPEN,          /* award_approved / claim_refused, now <= claim_by */
	CLAIM_STATE_NOT_YET,       /* received, investigating, verified */
	CLAIM_STATE_NO_AWARD,      /* unfounded */
	CLAIM_STATE_RECEIVED,      /* claim_received: already being checked */
	CLAIM_STATE_PAID,          /* paid */
	CLAIM_STATE_CLOSED,        /* forfeited, or the window has passed */
};
enum claim_state claim_state_of(const struct wire_status *st, int64_t now_ms);
/* 409 code and Chinese message for a state other than OPEN. */
const char *claim_state_code(enum claim_state s);
const char *claim_state_message(enum claim_state s);

struct claim_result {
	char claim_id[ID_HEX_LEN + 1];
	enum claim_state state; /* with TL_ECONFLICT */
};

/* Looks up the receipt's status (digits already parsed, or wellformed
 * false for a dummy lookup that ends in TL_ENOTFOUND), checks the window,
 * seals and publishes.  idem_key (NULL: random claim id) derives the claim
 * id from a keyed hash of (receipt, key, the normalised details), so a
 * retry of the same claim is the same message (JetStream dedups on
 * Nats-Msg-Id) and a different claim under the same key is a new one.
 *   TL_OK          published and acknowledged
 *   TL_ENOTFOUND   unknown (or malformed) receipt
 *   TL_ECONFLICT   the claim is not open: out->state says why
 *   TL_EUNAVAIL / TL_ETIMEOUT / TL_EBUS / TL_EDENIED   bus trouble (503)
 *   TL_ECRYPTO / TL_ENOMEM / TL_EINVAL */
enum tl_err claim_submit(const struct pipeline *p, const char digits[RECEIPT_DIGITS + 1],
                         bool wellformed, const struct claim_input *in, const char *idem_key,
                         int64_t now_ms, struct claim_result *out)
	__attribute__((warn_unused_result));

#endif
