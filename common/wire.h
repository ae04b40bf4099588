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

/* TL_STATUS value: what a reporter may see about their receipt
 * (docs/award-flow.md section 2).  status is one of "received",
 * "investigating", "verified", "unfounded", "award_approved",
 * "claim_received", "claim_refused", "paid", "forfeited".  amount_fen is
 * required (> 0) for award_approved, claim_received, claim_refused, paid and
 * forfeited and must be 0 otherwise; claim_by_ms is required for
 * award_approved and claim_refused and 0 otherwise; reason is required for
 * claim_refused ("excluded", "invalid_id", "invalid_payee",
 * "bank_rejected") and "" otherwise.  The decoder enforces all of it. */
struct wire_status {
	char status[32];
	int64_t updated_ms;
	int64_t amount_fen;
	int64_t claim_by_ms;
	char reason[24];
};
bool wire_status_valid(const char *s);
bool wire_refusal_valid(const char *s); /* the claim_refused reasons above */

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

/* ==== District case events, claims and transfers (issue 4) ====
 *
 * Added for tipline-district; documented in docs/events.md.  Same rules as
 * above: strict decoders, bounded fields, "v":1.  Events carry ids, codes
 * and numbers only - never tip text, finding text or identity - because
 * every district's events are readable by payouts and the city office. */

#define WIRE_STREAM_XFER "TL_XFER"
#define WIRE_SUBJ_XFER_ALL "tl.xfer.>"
#define WIRE_EVENT_VERSION 1     /* "ev" field: the event schema's own version */
#define WIRE_ACTOR_MAX 64        /* user ids: [A-Za-z0-9._@-], 1..64 */
#define WIRE_REASON_MAX 1000     /* bytes of a supervisor's free-text reason */
#define WIRE_CODE_LEN 23         /* enum-like codes ("wrong_district") */
#define WIRE_MAX_FEN 100000000000000LL /* 1e12 yuan: far above any fine */

enum wire_event_type {
	WIRE_EV_CLAIMED,
	WIRE_EV_RELEASED,
	WIRE_EV_TAKEN_OVER,
	WIRE_EV_FINDING_RECORDED,
	WIRE_EV_TRANSFER_REQUESTED,
	WIRE_EV_TRANSFER_ACCEPTED,
	WIRE_EV_TRANSFER_REFUSED,
	WIRE_EV_MERGED,
	WIRE_EV_VERDICT,
	WIRE_EV_REOPENED,
	WIRE_EV_LEASE_EXPIRED, /* a claim ran out; the lead is back in the queue */
	WIRE_EV_OVERDUE,       /* a step's deadline passed */
	WIRE_EV_IDLE,          /* claimed, but no activity for too long */
	WIRE_EV_OPENED,        /* a case was created from a lead or a transfer */
	WIRE_EV_NTYPES_
};
const char *wire_event_type_name(enum wire_event_type t);
/* Returns TL_EINVAL for an unknown name. */
enum tl_err wire_event_type_parse(const char *s, enum wire_event_type *t)
	__attribute__((warn_unused_result));

/* Validators for the code sets used in events (also used by districts/). */
bool wire_actor_valid(const char *s);
bool wire_agency_valid(const char *s);      /* miit ndrc samr police env grid steel */
bool wire_check_valid(const char *s);       /* site_visit power_use product_sampling ... */
bool wire_result_valid(const char *s);      /* confirmed not_found inconclusive */
bool wire_xfer_reason_valid(const char *s); /* wrong_district site_elsewhere ... */
bool wire_production_valid(const char *s);  /* running idle_restartable dismantled */
bool wire_step_valid(const char *s);        /* claim finding verdict transfer */

/* "tl.event.<district>.<lead_id>.<type>" */
enum tl_err wire_subject_event(const char *district, const char *lead_id, enum wire_event_type t,
                               char *out, size_t outlen) __attribute__((warn_unused_result));
/* "tl.xfer.<to>.<from>.<lead_id>": transfer offers and replies.  The
 * receiving district's consumer filters on tl.xfer.<to>.>; a district user
 * may publish only tl.xfer.*.<itself>.*, so the subject proves the sender. */
enum tl_err wire_subject_xfer(const char *to, const char *from, const char *lead_id, char *out,
                              size_t outlen) __attribute__((warn_unused_result));
/* TL_CLAIMS key "<district>.<lead_id>". */
enum tl_err wire_claim_key(const char *district, const char *lead_id, char *out, size_t outlen)
	__attribute__((warn_unused_result));

/* tl.event.<district>.<lead_id>.<type>.  Which optional fields are required
 * depends on the type (docs/events.md); the decoder enforces it. */
struct wire_event {
	enum wire_event_type type;
	char event_id[96];           /* "<lead_id>:<node epoch>:<seq>", also the Nats-Msg-Id */
	char lead_id[ID_HEX_LEN + 1];
	char district[7];            /* the district that holds the case */
	uint64_t seq;                /* per-case event counter, from 1 */
	int64_t at_ms;
	char actor[WIRE_ACTOR_MAX + 1]; /* "" for the node itself (scanner) */
	char role[16];               /* responder, supervisor, city_office, system */
	/* claims */
	char holder[WIRE_ACTOR_MAX + 1];      /* claimed, taken_over */
	char prev_holder[WIRE_ACTOR_MAX + 1]; /* taken_over, released, lease_expired */
	int64_t lease_until_ms;               /* claimed, taken_over */
	char *reason;                         /* taken_over, reopened, transfer_*: free text, may be NULL */
	/* transfers */
	char from_district[7], to_district[7];
	char reason_code[WIRE_CODE_LEN + 1];
	int transfer_n;                       /* 1, 2, ...: which transfer of this lead */
	int64_t deadline_ms;                  /* transfer_requested: answer by; overdue: was due */
	/* findings */
	char agency[WIRE_CODE_LEN + 1], check[WIRE_CODE_LEN + 1], result[WIRE_CODE_LEN + 1];
	int64_t checked_ms;
	int evidence_count;
	/* merge: this lead (the survivor) absorbed other_lead */
	char other_lead[ID_HEX_LEN + 1];
	/* verdict */
	bool substantiated;
	int furnaces;
	int64_t capacity_tpy;     /* tonnes per year */
	char production[WIRE_CODE_LEN + 1];
	int64_t seized_kg;
	int64_t fines_fen;
	char signed_off_by[WIRE_ACTOR_MAX + 1]; /* unfounded: the supervisor */
	int agencies;             /* distinct agencies with findings */
	int64_t first_received_ms; /* earliest report on the case (award priority) */
	/* overdue / idle */
	char step[WIRE_CODE_LEN + 1];
};

enum tl_err wire_event_encode(const struct wire_event *m, struct buf *out)
	__attribute__((warn_unused_result));
enum tl_err wire_event_decode(const char *data, size_t len, struct wire_event *m)
	__attribute__((warn_unused_result));
void wire_event_free(struct wire_event *m);

/* TL_CLAIMS value.  held=false marks a released or expired claim, so that
 * the next claim is a CAS update on its revision. */
struct wire_claim {
	char lead_id[ID_HEX_LEN + 1];
	char district[7];
	bool held;
	char holder[WIRE_ACTOR_MAX + 1];
	int64_t since_ms, expires_ms;
};
enum tl_err wire_claim_encode(const struct wire_claim *m, struct buf *out)
	__attribute__((warn_unused_result));
enum tl_err wire_claim_decode(const char *data, size_t len, struct wire_claim *m)
	__attribute__((warn_unused_result));

/* tl.xfer.<to>.<from>.<lead>: an offer (carries the lead message itself, as
 * the sender received it, plus the carried-over deadline clock) or the
 * receiver's reply. */
struct wire_xfer {
	bool reply;                  /* false: "xfer_offer", true: "xfer_reply" */
	char lead_id[ID_HEX_LEN + 1];
	char from_district[7], to_district[7];
	int transfer_n;
	int64_t at_ms;
	char actor[WIRE_ACTOR_MAX + 1];
	/* offer */
	char reason_code[WIRE_CODE_LEN + 1];
	int64_t deadline_ms;         /* the receiver must answer by */
	int64_t clock_start_ms;      /* deadlines count from here; never restarts */
	char *lead;                  /* the wire_lead JSON; decoded by the receiver */
	/* reply */
	bool accepted;
};
enum tl_err wire_xfer_encode(const struct wire_xfer *m, struct buf *out)
	__attribute__((warn_unused_result));
enum tl_err wire_xfer_decode(const char *data, size_t len, struct wire_xfer *m)
	__attribute__((warn_unused_result));
void wire_xfer_free(struct wire_xfer *m);

/* ==== Award claims, eligibility and payee reveal (issue 5) ====
 *
 * docs/award-flow.md is the contract.  wire_payee is identity: it only ever
 * travels sealed (to the vault key from intake, to the finance export key
 * from the vault), and wire_payee_free() wipes it. */

#define WIRE_SUBJ_DEPOSIT_CLAIM "tl.deposit.claim"
#define WIRE_STREAM_PAYEES "TL_PAYEES"
#define WIRE_SUBJ_PAYEES_ALL "tl.payee.>"
#define WIRE_SUBJ_PAYEE_RESULT "tl.payee.result"
#define WIRE_SUBJ_VAULT_REVEAL "tl.vault.reveal"
#define WIRE_CONSUMER_PAYOUTS_LEADS "payouts-leads"
#define WIRE_CONSUMER_PAYOUTS_EVENTS "payouts-events"
#define WIRE_CONSUMER_PAYOUTS_PAYEES "payouts-payees"
#define WIRE_PAYEE_FIELD_MAX 200   /* bytes of each payee field */
#define WIRE_AWARD_TEXT_MAX 8192   /* the canonical award text */
#define WIRE_MAX_APPROVALS 8
#define WIRE_MAX_SHARES 64
#define WIRE_SIG_LEN 64            /* Ed25519 signature bytes */

/* The payee details a reporter gives with a claim.  All fields required,
 * UTF-8, 1..WIRE_PAYEE_FIELD_MAX bytes; formats (ID number check digit,
 * account digits, phone) are checked by intake and again by the vault, not
 * here. */
struct wire_payee {
	char claim_id[ID_HEX_LEN + 1];
	char *name, *id_number, *bank, *account, *phone;
};
enum tl_err wire_payee_encode(const struct wire_payee *m, struct buf *out)
	__attribute__((warn_unused_result));
enum tl_err wire_payee_decode(const char *data, size_t len, struct wire_payee *m)
	__attribute__((warn_unused_result));
void wire_payee_free(struct wire_payee *m);

/* tl.deposit.claim: Nats-Msg-Id "claim:<claim_id>". */
struct wire_payclaim {
	char claim_id[ID_HEX_LEN + 1];
	char status_key[STATUS_KEY_LEN + 1];
	int64_t received_ms;
	unsigned char *sealed; /* crypto_box_seal(wire_payee JSON, vault key) */
	size_t sealed_len;
};
enum tl_err wire_payclaim_encode(const struct wire_payclaim *m, struct buf *out)
	__attribute__((warn_unused_result));
enum tl_err wire_payclaim_decode(const char *data, size_t len, struct wire_payclaim *m)
	__attribute__((warn_unused_result));
void wire_payclaim_free(struct wire_payclaim *m);

/* tl.payee.result: Nats-Msg-Id "elig:<claim_id>".  reason is "" when
 * eligible, else "excluded", "invalid_id" or "invalid_payee". */
struct wire_eligibility {
	char claim_id[ID_HEX_LEN + 1];
	char report_id[ID_HEX_LEN + 1];
	char payee_ref[ID_HEX_LEN + 1];
	bool eligible;
	char reason[24];
	int64_t at_ms;
};
enum tl_err wire_eligibility_encode(const struct wire_eligibility *m, struct buf *out)
	__attribute__((warn_unused_result));
enum tl_err wire_eligibility_decode(const char *data, size_t len, struct wire_eligibility *m)
	__attribute__((warn_unused_result));

struct wire_approval_sig {
	char staff_id[WIRE_ACTOR_MAX + 1];
	unsigned char sig[WIRE_SIG_LEN];
};
struct wire_reveal_share {
	int share_idx;
	char report_id[ID_HEX_LEN + 1];
	char payee_ref[ID_HEX_LEN + 1];
};
/* tl.vault.reveal request. */
struct wire_reveal_req {
	char request_id[ID_HEX_LEN + 1];
	char batch_id[ID_HEX_LEN + 1];
	char *award;                 /* canonical text, 1..WIRE_AWARD_TEXT_MAX bytes */
	size_t n_approvals;          /* 1..WIRE_MAX_APPROVALS */
	struct wire_approval_sig approvals[WIRE_MAX_APPROVALS];
	size_t n_shares;             /* 1..WIRE_MAX_SHARES */
	struct wire_reveal_share shares[WIRE_MAX_SHARES];
};
enum tl_err wire_reveal_req_encode(const struct wire_reveal_req *m, struct buf *out)
	__attribute__((warn_unused_result));
enum tl_err wire_reveal_req_decode(const char *data, size_t len, struct wire_reveal_req *m)
	__attribute__((warn_unused_result));
void wire_reveal_req_free(struct wire_reveal_req *m);

struct wire_reveal_row {
	int share_idx;
	char report_id[ID_HEX_LEN + 1];
	char payee_ref[ID_HEX_LEN + 1];
	unsigned char *sealed; /* crypto_box_seal(wire_payee JSON, finance export key) */
	size_t sealed_len;
};
/* The vault's answer.  ok=false carries error (a code: "bad_request",
 * "signature", "rules", "unknown_payee", "not_eligible", "internal") and
 * no rows; ok=true carries one row per requested share and error "". */
struct wire_reveal_rep {
	char request_id[ID_HEX_LEN + 1];
	bool ok;
	char error[24];
	size_t n_rows;
	struct wire_reveal_row rows[WIRE_MAX_SHARES];
};
enum tl_err wire_reveal_rep_encode(const struct wire_reveal_rep *m, struct buf *out)
	__attribute__((warn_unused_result));
enum tl_err wire_reveal_rep_decode(const char *data, size_t len, struct wire_reveal_rep *m)
	__attribute__((warn_unused_result));
void wire_reveal_rep_free(struct wire_reveal_rep *m);

#endif
