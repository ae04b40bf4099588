/*
 * svc.h - the tipline-payouts process: the state its threads share (the
 * NATS ingest loop, the claim-window scanner and the finance console) and
 * the business actions the console and tl-payouts-ctl call.
 *
 * One struct db per process (db.h's rule): every call that touches db or
 * core holds svc->lock.  Slow work that needs no database (Argon2id to
 * unlock a signing key, the vault round trip of an export) runs outside it.
 *
 * The tables behind these functions, and which file owns each:
 *   schema.c   (tl_payouts_core)  staff keys, awards, shares, approvals,
 *                                 accounts, transfers (docs/payouts.md)
 *   cases.c    schema "cases"     leads, cases, events_applied, claims
 *   staffkey.c schema "staffkeys" approvers' password-sealed signing keys
 *   export.c   schema "batches"   batches, batch_rows
 *   users in the same database through common/auth (schema "auth")
 * docs/award-flow.md is the contract with intake and the vault.
 */
#ifndef TL_PAYOUTS_SVC_H
#define TL_PAYOUTS_SVC_H

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include "approval.h"
#include "audit.h"
#include "auth.h"
#include "bus.h"
#include "db.h"
#include "err.h"
#include "ids.h"
#include "payouts.h"

struct payouts_cfg {
	char *database;          /* [payouts] database */
	char *database_key;      /* [payouts] database_key (secret file) */
	char *rules;             /* [payouts] rules (award-rules.ini) */
	char *export_public_key; /* [payouts] export_public_key (finance export X25519 pk) */
	char *export_dir;        /* [payouts] export_dir: sealed batch files */
	char *audit_log;         /* [payouts] audit_log (tla1 chain file) */
	char *audit_secret_key;  /* [payouts] audit_secret_key (Ed25519 sk) */
	int64_t claim_window_s;  /* [payouts] claim_window_seconds, default 5184000 (60 days) */
	int64_t scan_interval_ms; /* [payouts] scan_interval_ms, default 1000 */
	int64_t reveal_timeout_ms; /* [payouts] reveal_timeout_ms, default 5000 */
	char *listen_address;    /* [console] listen_address, default 127.0.0.1 */
	int64_t listen_port;     /* [console] listen_port, default 8091 */
	bool cookie_secure;      /* [console] cookie_secure, default true (HTTPS proxy in front) */
	char *nats_url;          /* [nats] url */
	char *nats_user;         /* [nats] user, default payouts */
	char *nats_password_file; /* [nats] password_file */
	char *log_level;         /* [log] level */
};

struct payouts_svc {
	const struct payouts_cfg *cfg;
	pthread_mutex_t lock; /* guards db and core */
	struct db *db;
	struct payouts *core;
	struct bus *bus;      /* NULL in offline tools (no NATS) */
	struct bus_kv *status; /* KV TL_STATUS; NULL when bus is NULL */
	struct audit *audit;  /* this service's chain; audit_append has its own mutex */
	unsigned char export_pk[crypto_box_PUBLICKEYBYTES];
	/* TL_STATUS access; tests set these to an in-memory map.  NULL: the
	 * bucket through payouts_svc_status_kv().  get answers TL_ENOTFOUND
	 * for a missing key. */
	enum tl_err (*status_put)(void *ctx, const char *key, const void *val, size_t len);
	enum tl_err (*status_get)(void *ctx, const char *key, struct buf *val);
	void *status_ctx;
	bool status_get_denied_logged; /* warned once that reads are not allowed */
};

/* ---- config.c ---- */

/* Reads the daemon's INI file (common/cfg: unknown keys are errors,
 * relative paths are resolved against the file's folder).  err names the
 * file and key.  payouts_cfg_free() accepts a zeroed struct. */
enum tl_err payouts_cfg_load(const char *path, struct payouts_cfg *c, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void payouts_cfg_free(struct payouts_cfg *c);

/* ---- run.c: opening the service and the daemon's loops ---- */

enum {
	PAYOUTS_SVC_CREATE = 1u << 0, /* create the database file if missing */
	PAYOUTS_SVC_AUDIT = 1u << 1,  /* open the audit chain (one process at a time) */
	PAYOUTS_SVC_BUS = 1u << 2,    /* connect to NATS as [nats] user, open TL_STATUS */
};
/* Fills *s: the database (key file, payouts_open() with the rules file,
 * the cases/staffkeys/auth schemas), the export public key, and as flags
 * say the audit chain and NATS.  A NATS server that is down is not an
 * error (the connection retries in the background; s->status stays NULL
 * until the bucket can be opened, see payouts_svc_status_kv()).  why says
 * what failed, naming the file. */
enum tl_err payouts_svc_open(struct payouts_svc *s, const struct payouts_cfg *cfg, unsigned flags,
                             char *why, size_t whylen) __attribute__((warn_unused_result));
void payouts_svc_close(struct payouts_svc *s);
/* Opens KV TL_STATUS on first use (caller holds svc->lock); NULL while
 * NATS or the bucket is unavailable. */
struct bus_kv *payouts_svc_status_kv(struct payouts_svc *s);
/* The daemon: ingest loop on the three durables, scanner every
 * cfg->scan_interval_ms, until *stop.  TL_EIO after a fatal database
 * error (the process must exit), TL_OK on a requested stop. */
enum tl_err payouts_run(struct payouts_svc *s, volatile sig_atomic_t *stop) __attribute__((warn_unused_result));

struct payouts_scan_stats {
	int forfeited; /* shares forfeited in this pass */
	int synced;    /* cases whose dirty statuses were written */
	int failed;    /* forfeits or writes that failed (retried next pass) */
};
/* One scanner pass: forfeits every open share of an approved award whose
 * claim window ended at or before now_ms without an eligible claim
 * (audited "forfeit"), then retries statuses left dirty.  Takes the lock. */
enum tl_err payouts_scan(struct payouts_svc *s, int64_t now_ms, struct payouts_scan_stats *st)
	__attribute__((warn_unused_result));

/* ---- cases.c: what the ingest loop builds (caller holds svc->lock) ---- */

/* Recomputes the reporter status of every report on the case from the
 * database and writes TL_STATUS for each one whose value changed since
 * the last write (docs/award-flow.md section 2).  Safe to call after any
 * action; a NATS failure leaves the row marked dirty for the scanner to
 * retry, and is not an error of the action. */
enum tl_err payouts_status_sync_case(struct payouts_svc *s, const char *case_id, int64_t now_ms)
	__attribute__((warn_unused_result));
/* The bank returned a payment: the report's latest claim becomes refused
 * with reason "bank_rejected", so it is not exported again until the
 * reporter claims anew.  TL_ENOTFOUND for an unknown report. */
enum tl_err payouts_claim_mark_rejected(struct payouts_svc *s, const char *report_id,
                                        int64_t now_ms) __attribute__((warn_unused_result));

/* ---- actions.c: the finance staff's decisions (each takes the lock) ---- */

/* A console user's role and scope (common/auth's tables in the same
 * database).  TL_ENOTFOUND for an unknown user, TL_EDENIED for a disabled
 * one.  Caller holds svc->lock. */
enum tl_err payouts_staff_user(struct payouts_svc *s, const char *name, enum auth_role *role,
                               char scope[AUTH_SCOPE_MAX + 1]) __attribute__((warn_unused_result));
/* Whether a staff scope covers a district: its own code, or the city
 * (120000) and "all", which cover every district. */
bool payouts_scope_covers(const char *scope, const char *district);

/* Proposes the award of a substantiated case.  award_id is client-chosen
 * (hex32, a hidden form field made when the form was shown) so that a
 * resubmitted form is idempotent.  total_fen 0 = the computed amount and
 * split; otherwise a manual amount (<= cap, reason required) re-split
 * equally over the computed sharers.  Audited ("propose"). */
enum tl_err payouts_propose(struct payouts_svc *s, const char *case_id, const char *award_id,
                            const char *proposer, int64_t total_fen, const char *reason,
                            int64_t now_ms, char *why, size_t whylen)
	__attribute__((warn_unused_result));
/* An approver's decision: unlocks the approver's signing key with the
 * password they typed again (TL_EDENIED if wrong), signs the award's
 * canonical bytes, records the decision (all rules of approval.h apply),
 * audits "approve"/"reject", and on final approval syncs the reporters'
 * status (award_approved with the claim deadline). */
enum tl_err payouts_decide(struct payouts_svc *s, const char *award_id, const char *staff,
                           enum approval_decision d, const char *password, const char *reason,
                           int64_t now_ms, enum award_status *status, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* ---- export.c: payment batches (each takes the lock when it needs it) ---- */

#define PAYOUTS_BATCH_PATH_MAX PATH_MAX
/* Collects every share that is approved, unsettled, has an eligible claim
 * and is in no open batch (district "all" or one code), asks the vault to
 * reveal each payee (presenting the signed approvals), and writes the
 * batch file sealed to the export key (docs/award-flow.md).  Audited
 * ("export", and "reveal" per award).  TL_ENOTFOUND when nothing is ready. */
enum tl_err payouts_batch_export(struct payouts_svc *s, const char *payer, const char *district,
                                 int64_t now_ms, char batch_id[ID_HEX_LEN + 1],
                                 size_t *rows, char *why, size_t whylen)
	__attribute__((warn_unused_result));
/* The bank confirmed a batch: each row not returned gets its pay transfer
 * (idempotent ids derived from batch, award and share), statuses become
 * paid.  Safe to repeat and to resume after a crash.  Audited ("confirm"). */
enum tl_err payouts_batch_confirm(struct payouts_svc *s, const char *payer, const char *batch_id,
                                  int64_t now_ms, char *why, size_t whylen)
	__attribute__((warn_unused_result));
/* The bank returned one row before confirmation: no money moves; the row
 * is marked returned and the reporter's claim refused ("bank_rejected").
 * Audited ("bank_reject"). */
enum tl_err payouts_batch_return_row(struct payouts_svc *s, const char *payer,
                                     const char *batch_id, const char *award_id, int share_idx,
                                     int64_t now_ms, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* ---- console.c: the finance console (docs/finance-console.md) ---- */
struct http_server;
/* Starts the console on cfg->listen_address:listen_port; its handlers use
 * svc (taking svc->lock around database work). */
enum tl_err payouts_console_start(struct payouts_svc *s, struct http_server **out)
	__attribute__((warn_unused_result));
void payouts_console_stop(struct http_server *srv);

#endif
