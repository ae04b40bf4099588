/*
 * audit.h - append-only, hash-chained, Ed25519-signed audit log.
 *
 * Each service (vault, payouts, ...) appends its security-relevant actions
 * (approve, reject, reveal, export, confirm, login, ...) to its own chain
 * file; `tipline audit verify` checks a chain end to end and names the
 * first broken link.  docs/audit.md is the operator's view.
 *
 * File format (version tag "tla1"): UTF-8-free ASCII text, one entry per
 * line, eleven fields separated by exactly one TAB, the line ending in
 * exactly one LF (no CR, no blank lines, no comments):
 *
 *   tla1 seq time service actor action object reason prev hash sig
 *
 *   seq      decimal, 1 for the first entry, +1 per line, no leading zero
 *   time     "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, always 24 characters)
 *   service  token, at most AUDIT_SERVICE_MAX chars ("vault", "payouts")
 *   actor    token, at most AUDIT_ACTOR_MAX (staff user name or id,
 *            "system" for the daemon itself)
 *   action   token, at most AUDIT_ACTION_MAX ("approve", "reveal", ...)
 *   object   token, at most AUDIT_OBJECT_MAX: the ids acted on, e.g.
 *            "payout:0af3...,tip:91c2..."
 *   reason   token, at most AUDIT_REASON_MAX: a short reason CODE
 *            ("dup", "over_cap"), or "-" for none
 *   prev     hash of the previous entry, 64 lowercase hex; 64 '0' for seq 1
 *   hash     BLAKE2b-256 (crypto_generichash, unkeyed) of the canonical
 *            bytes: the line from "tla1" up to and including prev, i.e.
 *            the first nine fields joined by TAB.  Because prev is inside,
 *            each hash covers the previous entry and, transitively, the
 *            whole chain before it.
 *   sig      Ed25519 detached signature (128 lowercase hex) by the
 *            service's audit key over the canonical bytes followed by
 *            TAB and the hash field, i.e. everything before the last TAB.
 *
 * A token is 1..max characters from [A-Za-z0-9._:,@=/+-].  No spaces, no
 * TABs, no non-ASCII.
 *
 * RULE: never put identity (names, phone numbers, ID numbers, e-mail
 * addresses, OpenIDs, IPs, bank data) or tip text into any field.  Record
 * ids (tip, payout, lead, receipt-hash prefixes), staff user names,
 * action names and reason codes only.  The token alphabet rejects free
 * text and Chinese names, but it cannot tell a phone number from an id:
 * callers must pass ids.
 *
 * Ownership and threads: struct audit is opaque; audit_open() copies the
 * secret key into its own sodium_malloc memory (kept no-access except
 * while signing) and audit_close() wipes it.  audit_append() may be called
 * from many threads on one handle (a mutex serialises appends); a second
 * process appending to the same file is refused by an exclusive flock.
 * audit_verify() and audit_parse_line() are pure apart from reading the
 * file.  Every function needs secret_init() (sodium_init) to have run.
 */
#ifndef TL_AUDIT_H
#define TL_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define AUDIT_LINE_MAX 1024 /* bytes, including the LF */
#define AUDIT_SERVICE_MAX 32
#define AUDIT_ACTOR_MAX 64
#define AUDIT_ACTION_MAX 32
#define AUDIT_OBJECT_MAX 256
#define AUDIT_REASON_MAX 64
#define AUDIT_HASH_BYTES 32
#define AUDIT_HASH_HEX (2 * AUDIT_HASH_BYTES)
#define AUDIT_PK_BYTES 32
#define AUDIT_SK_BYTES 64

struct audit;

/* One parsed line.  The strings point into a copy inside the struct. */
struct audit_entry {
	uint64_t seq;
	int64_t time_ms;
	const char *service, *actor, *action, *object, *reason; /* reason "-" = none */
	unsigned char prev[AUDIT_HASH_BYTES];
	unsigned char hash[AUDIT_HASH_BYTES];
	unsigned char sig[64];
	size_t canon_len;  /* bytes of the line that are hashed */
	size_t signed_len; /* bytes of the line that are signed */
	char text[AUDIT_LINE_MAX + 1]; /* the line, TABs replaced by NULs */
};

enum audit_fault {
	AUDIT_FAULT_NONE = 0,
	AUDIT_FAULT_PARSE,     /* not a well-formed entry line */
	AUDIT_FAULT_TOOLONG,   /* longer than AUDIT_LINE_MAX */
	AUDIT_FAULT_TRUNCATED, /* last line has no LF: an interrupted append */
	AUDIT_FAULT_SEQ,       /* seq is not previous + 1 (gap, reorder, duplicate) */
	AUDIT_FAULT_PREV,      /* prev is not the previous entry's hash */
	AUDIT_FAULT_HASH,      /* hash does not match the canonical bytes */
	AUDIT_FAULT_SIG,       /* Ed25519 signature does not verify */
};

struct audit_report {
	uint64_t entries;                 /* entries that verified */
	char head[AUDIT_HASH_HEX + 1];    /* hash of the last good entry (zeros if none) */
	enum audit_fault fault;           /* NONE when the chain verified */
	uint64_t bad_entry;               /* entry number (expected seq) of the first broken link */
	uint64_t bad_line;                /* its 1-based line number */
	char why[160];                    /* human reason, e.g. "bad signature" */
};

/* Opens (creating 0640 if missing) the chain at path for appending as
 * service, signing with sk (AUDIT_SK_BYTES, an Ed25519 secret key; copied).
 * Reads the last line to recover seq and prev hash; a last line that does
 * not parse, lacks its LF, or whose hash or signature does not verify
 * under sk's public key gives TL_EPROTO (run `tipline audit verify`).
 * TL_EUNAVAIL if another process holds the chain open. */
enum tl_err audit_open(const char *path, const char *service, const unsigned char *sk,
                       struct audit **out) __attribute__((warn_unused_result));

/* Appends one entry and fsyncs it before returning.  reason may be NULL.
 * TL_EINVAL/TL_ETOOBIG for a field outside the token rules; TL_EIO on a
 * write failure (the partial line is cut off again; if that fails too the
 * handle refuses further appends).  Thread-safe. */
enum tl_err audit_append(struct audit *a, const char *actor, const char *action, const char *object,
                         const char *reason) __attribute__((warn_unused_result));

/* Seq of the last entry written (0 for an empty chain). */
uint64_t audit_seq(struct audit *a);

/* Closes the file and wipes the key; NULL is fine. */
void audit_close(struct audit *a);

/* Verifies the chain at path end to end against pk (AUDIT_PK_BYTES).
 * TL_OK: every line verified (r->entries, r->head).  TL_EPROTO: r names
 * the first broken link.  TL_ENOTFOUND / TL_EIO: the file cannot be read
 * (r->why says so). */
enum tl_err audit_verify(const char *path, const unsigned char *pk, struct audit_report *r)
	__attribute__((warn_unused_result));
/* The same over a chain held in memory (tests, fuzzing). */
enum tl_err audit_verify_mem(const char *data, size_t len, const unsigned char *pk,
                             struct audit_report *r) __attribute__((warn_unused_result));

/* Strictly parses one line (without its LF); checks syntax only, not the
 * hash or signature.  TL_EPROTO with a reason in why. */
enum tl_err audit_parse_line(const char *line, size_t len, struct audit_entry *e, char *why,
                             size_t whylen) __attribute__((warn_unused_result));

const char *audit_fault_str(enum audit_fault f);

#endif
