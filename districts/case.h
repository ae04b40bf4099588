/*
 * case.h - the district case core: every action a responder, supervisor or
 * the city office can take on a lead, and the queues they look at.
 *
 * This is the API the district console calls.  The caller (console, CLI,
 * test) authenticates the user and passes who they are as struct
 * case_actor; this module enforces what that role may do in that district:
 *
 *   responder    claim/renew/release, record findings, request transfer,
 *                accept/refuse incoming transfers, merge, substantiated verdict
 *   supervisor   everything a responder may, plus take_over (with a reason),
 *                the "unfounded" verdict (its sign-off) and reopen
 *   city_office  acts like a supervisor on the city triage code 120000 and
 *                may read (never act on) every district's cases and board
 *
 * State lives in the node's SQLCipher database (one per process, holding
 * every district the process serves).  Exclusive claims live in the KV
 * bucket TL_CLAIMS (create-only / revision compare-and-set), so that any
 * number of console processes on the same district agree on who holds a
 * lead.  Every change is written, in the same transaction, to an outbox of
 * events that case_flush() publishes to TL_EVENTS with Nats-Msg-Id = the
 * event id; nothing is lost if NATS is down or the process dies.
 *
 * The outside world (clock, publish, KV) comes in through struct case_port
 * so that tests run the core against fakes.
 *
 * Errors every action may return:
 *   TL_EINVAL    bad argument (unknown agency, district, missing reason...)
 *   TL_EDENIED   the role may not do this, or the case is not in the
 *                actor's district
 *   TL_ENOTFOUND no such case (or offer) in a district this node serves
 *   TL_EEXIST    someone else holds the claim
 *   TL_ECONFLICT the case is not in a state that allows this (closed,
 *                merged, transfer pending, not claimed by the actor...)
 *   TL_EUNAVAIL  the claim store (NATS) is down; nothing changed
 *   TL_EIO       fatal database error: the process must exit
 *
 * Thread-safety: a struct case_node may be used from several threads; each
 * call takes the node's lock.  Ownership: results (lists, views) belong to
 * the caller and are released with the matching *_free().  Text in views is
 * the redacted lead text: show it, never log it.
 */
#ifndef TL_DISTRICTS_CASE_H
#define TL_DISTRICTS_CASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "calendar.h"
#include "db.h"
#include "err.h"
#include "ids.h"
#include "wire.h"

#define CASE_MAX_DISTRICTS 17
#define CASE_MAX_WHO 200        /* bytes: who checked (names of inspectors) */
#define CASE_MAX_DETAILS 8000   /* bytes: what was checked / notes */
#define CASE_MAX_EVIDENCE 4000  /* bytes: evidence references, one per line */
#define CASE_MAX_LIST 5000      /* rows a queue returns at most */

enum case_role { CASE_RESPONDER, CASE_SUPERVISOR, CASE_CITY_OFFICE };
const char *case_role_name(enum case_role r);

struct case_actor {
	const char *user;     /* user id, wire_actor_valid(); logged and published */
	enum case_role role;
	const char *district; /* the console's district (120000 for the city office) */
};

/* What the core needs from outside.  district selects the connection (each
 * district has its own NATS user).  All but now_ms may return TL_EUNAVAIL. */
struct case_port {
	void *ctx;
	int64_t (*now_ms)(void *ctx);
	enum tl_err (*publish)(void *ctx, const char *district, const char *subject, const void *data,
	                       size_t len, const char *msg_id);
	enum tl_err (*kv_get)(void *ctx, const char *district, const char *key, struct buf *val,
	                      uint64_t *rev);
	enum tl_err (*kv_create)(void *ctx, const char *district, const char *key, const void *val,
	                         size_t len, uint64_t *rev);
	enum tl_err (*kv_update)(void *ctx, const char *district, const char *key, const void *val,
	                         size_t len, uint64_t last_rev, uint64_t *rev);
};

struct case_cfg {
	const char *districts[CASE_MAX_DISTRICTS]; /* served codes */
	size_t ndistricts;
	int64_t lease_ms;        /* claim lease (default 72 h), renewed by activity */
	int64_t idle_ms;         /* "claimed but idle" flag after this long without activity */
	int claim_days;          /* working days to the first claim (default 1) */
	int finding_days;        /* working days to the first finding (default 30) */
	int verdict_days;        /* working days to the verdict (default 90) */
	int transfer_days;       /* working days the receiver has to answer (default 2) */
	int max_transfers;       /* after this many, a transfer goes to 120000 (default 2) */
	const struct cal *cal;   /* holidays; NULL = weekends only */
	/* A database this case_open() creates empty is rebuilt from TL_EVENTS
	 * (case_rebuilding()).  tipline-district sets it; tests and tools that
	 * do not read TL_EVENTS leave it off. */
	bool rebuild_new;
};

struct case_node;

/* Applies the schema, prepares the node.  db, cfg->cal and port must
 * outlive the node. */
enum tl_err case_open(struct db *db, const struct case_cfg *cfg, const struct case_port *port,
                      struct case_node **out) __attribute__((warn_unused_result));
void case_close(struct case_node *n);
bool case_serves(const struct case_node *n, const char *district);

/* ---- input from the bus ---- */

enum case_ingest { CASE_IN_NEW, CASE_IN_DUP, CASE_IN_REJECT };

/* A lead from tl.lead.<district>: stored idempotently on lead_id.  TL_OK
 * with *out set means: commit done (NEW/DUP: ack; REJECT: terminate).
 * Any other error: nothing stored, redeliver later; TL_EIO is fatal. */
enum tl_err case_ingest_lead(struct case_node *n, const char *subject, const char *data, size_t len,
                             enum case_ingest *out) __attribute__((warn_unused_result));
/* A message from tl.xfer.<to>.<from>.<lead>: an offer becomes an incoming
 * transfer awaiting accept/refuse; a reply settles our outgoing transfer. */
enum tl_err case_ingest_xfer(struct case_node *n, const char *subject, const char *data, size_t len,
                             enum case_ingest *out) __attribute__((warn_unused_result));

/* ---- rebuilding a lost database from TL_EVENTS (docs/districts.md) ----
 *
 * A database created empty rebuilds every served district: until
 * case_rebuild_done(), leads come in without an "opened" event of their own
 * (the original comes back from TL_EVENTS), the scanner leaves the
 * district's cases alone, every action on them fails with TL_EUNAVAIL
 * (queues and views work), and the node feeds the district's events
 * (tl.event.<code>.>, in stream order) to case_apply_event(). */
bool case_rebuilding(struct case_node *n, const char *district);
/* Applies one event from tl.event.<district>.<lead>.<type> to the case,
 * idempotently on its event_id (recorded with stream_seq): NEW applied,
 * DUP already reflected (also our own events), REJECT undecodable or not
 * ours.  TL_ENOTFOUND: the case (its lead, or the offer an accepted
 * transfer came from) is not here yet; retry after more leads came in.
 * Applying publishes nothing.  Free text that events do not carry (who
 * checked, finding details and evidence, verdict notes) is not restored. */
enum tl_err case_apply_event(struct case_node *n, const char *subject, const char *data, size_t len,
                             uint64_t stream_seq, enum case_ingest *out) __attribute__((warn_unused_result));
/* Ends the district's rebuild: cases without any event get "opened"
 * (*opened counts them), the scanner resumes. */
enum tl_err case_rebuild_done(struct case_node *n, const char *district, int *opened)
	__attribute__((warn_unused_result));

/* ---- actions ---- */

enum tl_err case_claim(struct case_node *n, const struct case_actor *a, const char *lead_id)
	__attribute__((warn_unused_result));
enum tl_err case_renew(struct case_node *n, const struct case_actor *a, const char *lead_id)
	__attribute__((warn_unused_result));
enum tl_err case_release(struct case_node *n, const struct case_actor *a, const char *lead_id)
	__attribute__((warn_unused_result));
/* Supervisor only; reason is mandatory and goes into the event (never
 * into the log). */
enum tl_err case_take_over(struct case_node *n, const struct case_actor *a, const char *lead_id,
                           const char *reason) __attribute__((warn_unused_result));

struct case_finding {
	const char *agency;   /* wire_agency_valid(): miit ndrc samr police env grid steel */
	const char *check;    /* wire_check_valid(): site_visit power_use product_sampling ... */
	const char *result;   /* confirmed, not_found, inconclusive */
	int64_t checked_ms;   /* when the check took place */
	const char *who;      /* inspectors, free text */
	const char *details;  /* what was checked and seen, free text (may be NULL) */
	const char *evidence; /* evidence references, one per line (may be NULL) */
};
/* The holder of the claim (or a supervisor). */
enum tl_err case_record_finding(struct case_node *n, const struct case_actor *a, const char *lead_id,
                                const struct case_finding *f) __attribute__((warn_unused_result));

/* Offers the case to district `to` with a reason code; the receiving
 * district must accept or refuse.  After cfg->max_transfers transfers the
 * offer goes to the city triage code 120000 instead (the event says so).
 * The case stays with us (state xfer_out, no actions) until the answer. */
enum tl_err case_request_transfer(struct case_node *n, const struct case_actor *a, const char *lead_id,
                                  const char *to, const char *reason_code, const char *reason)
	__attribute__((warn_unused_result));
enum tl_err case_accept_transfer(struct case_node *n, const struct case_actor *a, const char *lead_id)
	__attribute__((warn_unused_result));
enum tl_err case_refuse_transfer(struct case_node *n, const struct case_actor *a, const char *lead_id,
                                 const char *reason) __attribute__((warn_unused_result));

/* Two leads about the same site become one case: the one whose earliest
 * report is older survives (award priority), the other is marked merged
 * into it and every report and finding moves over.  *survivor (33 bytes,
 * may be NULL) gets the surviving lead id. */
enum tl_err case_merge(struct case_node *n, const struct case_actor *a, const char *lead_a,
                       const char *lead_b, char *survivor) __attribute__((warn_unused_result));

struct case_verdict {
	bool substantiated;
	int furnaces;            /* substantiated: furnace count */
	int64_t capacity_tpy;    /* tonnes per year */
	const char *production;  /* running, idle_restartable, dismantled */
	int64_t seized_kg;       /* products seized */
	int64_t fines_fen;       /* integer fen */
	const char *notes;       /* free text, stays in the database (may be NULL) */
};
/* Substantiated: the claim holder or a supervisor.  Unfounded: needs
 * findings from two distinct agencies, and the actor must be a supervisor
 * (the call is the sign-off). */
enum tl_err case_record_verdict(struct case_node *n, const struct case_actor *a, const char *lead_id,
                                const struct case_verdict *v) __attribute__((warn_unused_result));
/* Supervisor only, with a reason: the case goes back to the queue. */
enum tl_err case_reopen(struct case_node *n, const struct case_actor *a, const char *lead_id,
                        const char *reason) __attribute__((warn_unused_result));

/* ---- queues and views ---- */

enum case_queue {
	CASE_Q_NEW,      /* open, unclaimed */
	CASE_Q_MINE,     /* claimed by the actor */
	CASE_Q_OVERDUE,  /* a deadline passed (or claimed but idle) */
	CASE_Q_INCOMING, /* transfer offers awaiting our answer */
	CASE_Q_ALL,      /* everything in the district (city office: every district) */
};

struct case_summary {
	char lead_id[ID_HEX_LEN + 1];
	char district[7];
	char state[16];          /* new claimed xfer_out transferred closed merged offered */
	char holder[WIRE_ACTOR_MAX + 1];
	int64_t received_ms;     /* earliest report */
	int64_t lease_until_ms;
	int64_t due_ms;          /* the next deadline (0 if none) */
	char due_step[16];       /* claim finding verdict transfer, "" if none */
	bool overdue;
	bool idle;
	int reports;
	int findings;
	int transfers;
};

/* The city office with CASE_Q_ALL/OVERDUE gets every served district (the
 * city's deadline board). */
enum tl_err case_list(struct case_node *n, const struct case_actor *a, enum case_queue q,
                      struct case_summary **out, size_t *count) __attribute__((warn_unused_result));
void case_list_free(struct case_summary *list);

struct case_report {
	char lead_id[ID_HEX_LEN + 1];  /* the lead it came in as */
	char report_id[ID_HEX_LEN + 1];
	char channel[WIRE_CHANNEL_LEN + 1];
	int64_t received_ms;
	char *text;                    /* redacted */
	char *location;                /* redacted, may be NULL */
	/* From the lead as received (added for the console): how intake
	 * routed it and how many items of each type it redacted.  has_meta
	 * is false if the stored lead could not be read back. */
	bool has_meta;
	char route_rule[16];
	int route_confidence;
	unsigned redactions[REDACT_NTYPES];
};

struct case_finding_row {
	int64_t id;
	char agency[WIRE_CODE_LEN + 1], check[WIRE_CODE_LEN + 1], result[WIRE_CODE_LEN + 1];
	int64_t checked_ms, recorded_ms;
	char recorded_by[WIRE_ACTOR_MAX + 1];
	char *who, *details, *evidence;
};

struct case_history {
	uint64_t seq;
	int64_t at_ms;
	char type[WIRE_CODE_LEN + 1];
	char actor[WIRE_ACTOR_MAX + 1];
	char *event; /* the event JSON exactly as published */
};

struct case_view {
	struct case_summary s;
	char origin[7];
	char merged_into[ID_HEX_LEN + 1];
	char xfer_to[7];
	int64_t xfer_deadline_ms;
	char verdict[16];        /* "", substantiated, unfounded */
	struct case_report *reports;
	size_t nreports;
	struct case_finding_row *findings;
	size_t nfindings;
	struct case_history *history;
	size_t nhistory;
};

enum tl_err case_get(struct case_node *n, const struct case_actor *a, const char *lead_id,
                     struct case_view *out) __attribute__((warn_unused_result));
void case_view_free(struct case_view *v);

/* ---- background ---- */

struct case_scan_stats {
	int leases_expired;
	int overdue;
	int idle;
	int published;
	int unpublished; /* still in the outbox (NATS down) */
};
/* Expires leases, flags overdue/idle cases (each once per step), then
 * flushes the outbox.  Run every scan interval. */
enum tl_err case_scan(struct case_node *n, struct case_scan_stats *st) __attribute__((warn_unused_result));
/* Publishes unsent events in order; *left gets how many remain. */
enum tl_err case_flush(struct case_node *n, int *published, int *left) __attribute__((warn_unused_result));

#endif
