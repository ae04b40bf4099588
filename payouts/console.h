/*
 * console.h - the finance console of tipline-payouts: server-rendered
 * Simplified Chinese HTML, no JavaScript, every action a POST form with the
 * session's CSRF token answered by 303 (or the page again with a Chinese
 * message).  See docs/finance-console.md for pages, roles and form fields.
 *
 * Layers:
 *   fconsole_handle()   request in, response out, no sockets (unit tests
 *                       call it directly).  Logins, sessions and forms go
 *                       through common/staffweb (shared with the district
 *                       console), pages through common/html templates
 *                       (web/payouts, embedded at build time), decisions
 *                       through svc.h's actions.
 *   console_http.c      payouts_console_start()/stop() (svc.h) around it.
 *
 * Roles (common/auth):  finance_proposer (a district), finance_approver (a
 * district, or 120000 for the city level), finance_payer (a district or
 * "all"), auditor (all; read only).  Scope is enforced here on every read
 * and action: an award or case outside the user's scope answers the same
 * 404 as one that does not exist.
 *
 * Locking: every database read holds svc->lock; the actions take it
 * themselves (payouts_decide unlocks the signing key with Argon2id outside
 * it).  auth_login() hashes inside its own database call, so a login holds
 * svc->lock for one Argon2id run (about 0.1 s; see the report in
 * docs/finance-console.md).
 *
 * Never shown or logged: payee identity (the console never has it),
 * passwords, tokens, form contents.  Logged: user, award/case/batch id,
 * action, outcome.
 */
#ifndef TL_PAYOUTS_CONSOLE_H
#define TL_PAYOUTS_CONSOLE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include "err.h"
#include "staffweb.h"
#include "svc.h"

#define FCONSOLE_LEDGER_PAGE 50 /* transfers per /ledger page */

struct fconsole_opts {
	struct payouts_svc *svc;         /* borrowed; outlives the console */
	bool cookie_secure;              /* add "Secure" to the session cookie */
	volatile sig_atomic_t *fatal;    /* set to 1 on a fatal database error (may be NULL) */
	int64_t (*now_ms)(void);         /* NULL: wall clock (tests inject) */
};

struct fconsole;

/* Migrates the auth schema (under svc->lock) and compiles the embedded
 * templates.  auth_init() must have run. */
enum tl_err fconsole_open(const struct fconsole_opts *o, struct fconsole **out)
	__attribute__((warn_unused_result));
void fconsole_close(struct fconsole *c);

/* One request, transport-independent; thread-safe. */
void fconsole_handle(struct fconsole *c, const struct staffweb_req *req, struct staffweb_resp *resp);

#endif
