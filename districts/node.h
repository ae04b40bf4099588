/*
 * node.h - tipline-district around the case core: configuration, one NATS
 * connection per served district (each with its own user), the consumer
 * threads and the deadline scanner.  Everything of tipline-district except
 * main.c, in tl_districts_core, so that tests and tl-district-ctl use it.
 *
 * Ownership: struct node_cfg strings are freed by node_cfg_free(); struct
 * node_bus owns its connections and KV handles.
 * Thread-safety: node_bus is shared by the consumer threads (nats.c
 * connections are thread-safe; each consumer belongs to one thread).
 */
#ifndef TL_DISTRICTS_NODE_H
#define TL_DISTRICTS_NODE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include "bus.h"
#include "case.h"
#include "err.h"

struct node_cfg {
	char *districts;          /* "120116", "120101,120102", or "all" (16 + 120000) */
	char *database;
	char *database_key;
	int64_t lease_seconds;    /* claim lease (default 259200 = 72 h) */
	int64_t idle_seconds;     /* "claimed but idle" after (default 172800 = 48 h) */
	int64_t claim_days, finding_days, verdict_days, transfer_days, max_transfers;
	char *holidays;           /* holiday file, "" for weekends only */
	int64_t scan_seconds;     /* deadline scanner period */
	int64_t fetch_batch;
	char *nats_url;
	char *nats_password_dir;  /* holds nats-district-<code>.pw for each served code */
	char *log_level;
	/* [console] (docs/console.md); listen_port 0 = no console */
	char *console_address;
	char *console_users_db;   /* "" = <database>-users */
	int64_t console_port;
	bool console_cookie_secure;
	int64_t console_idle_seconds, console_lifetime_seconds, console_threads;
	/* parsed */
	const char *codes[CASE_MAX_DISTRICTS];
	size_t ncodes;
	struct cal cal;
};

enum tl_err node_cfg_load(const char *path, struct node_cfg *c, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void node_cfg_free(struct node_cfg *c);
/* case_cfg from the node config (borrows c). */
void node_case_cfg(const struct node_cfg *c, struct case_cfg *out);

/* NATS user, inbox prefix and consumer names of a district. */
void node_user_name(const char *code, char *out, size_t outlen);        /* district-120116 */
void node_lead_consumer(const char *code, char *out, size_t outlen);    /* district-120116 */
void node_xfer_consumer(const char *code, char *out, size_t outlen);    /* district-120116-xfer */
/* On TL_EVENTS, filter tl.event.<code>.>: read only to rebuild a lost
 * database (case_apply_event). */
void node_event_consumer(const char *code, char *out, size_t outlen);   /* district-120116-events */

struct node_bus;

/* Connects once per served district as district-<code>, with the password
 * from password_dir/nats-district-<code>.pw. */
enum tl_err node_bus_open(const struct node_cfg *c, bool retry_on_failed_connect, struct node_bus **out,
                          char *why, size_t whylen) __attribute__((warn_unused_result));
void node_bus_close(struct node_bus *nb);
/* The case_port that publishes and claims through these connections. */
void node_bus_port(struct node_bus *nb, struct case_port *out);

/* Runs the consumer threads (TL_LEADS and TL_XFER per district) and the
 * scanner until *stop; TL_EIO on a fatal database error. */
enum tl_err node_run(struct case_node *cn, struct node_bus *nb, const struct node_cfg *c,
                     volatile sig_atomic_t *stop) __attribute__((warn_unused_result));

#endif
