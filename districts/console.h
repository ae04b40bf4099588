/*
 * console.h - the district responder console inside tipline-district:
 * server-rendered HTML in Simplified Chinese, no JavaScript, every action a
 * POST form with a CSRF token answered by 303 (or the page again with a
 * Chinese error message).  See docs/console.md.
 *
 * Layers:
 *   console_handle()   request in, response out; no sockets (unit tests
 *                      call it directly).  What every staff console shares
 *                      (sessions, forms and CSRF, login and logout, page
 *                      assembly, message pages, times and amounts) is
 *                      common/staffweb; this console adds its routes, its
 *                      roles and district scope, and its pages.  Every
 *                      case read and action goes through districts/case.h
 *                      (which enforces roles and district scope), every
 *                      lead value through common/html escaping.
 *   console_listen()   the libmicrohttpd listener around it
 *                      (console_http.c).
 *
 * Thread-safety: console_handle() is called from the listener's pool
 * threads.  Users and sessions live in the console's own SQLCipher file
 * (users_database, same key as the case database): db.h allows a file to
 * be opened once per process, and the case database's one connection
 * belongs to the case node.  That one users connection serves one auth
 * call at a time (a mutex); case calls go through the case node's own lock.
 *
 * Never logged: tip text, form contents, passwords, tokens, client
 * addresses.  Logged: user name, lead id, action, outcome.
 */
#ifndef TL_DISTRICTS_CONSOLE_H
#define TL_DISTRICTS_CONSOLE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "case.h"
#include "db.h"
#include "err.h"
#include "staffweb.h"

struct console_opts {
	const char *db_path;             /* the console's users database ([console] users_database) */
	const unsigned char *db_key;     /* DB_KEY_LEN bytes; copied */
	struct case_node *cases;         /* borrowed; outlives the console */
	bool cookie_secure;              /* add "Secure" to the session cookie */
	int64_t session_idle_ms;
	int64_t session_lifetime_ms;
	unsigned threads;                /* listener threads */
	volatile sig_atomic_t *fatal;    /* set to 1 on a fatal database error */
	volatile sig_atomic_t *stop;     /* also set to 1 then (stops the node) */
	int64_t (*now_ms)(void);         /* NULL: wall clock (tests inject) */
};

struct console;

/* Opens the users connection, migrates the auth schema, compiles the
 * embedded templates.  auth_init() must have run. */
enum tl_err console_open(const struct console_opts *o, struct console **out)
	__attribute__((warn_unused_result));
void console_close(struct console *c);

/* One request (common/staffweb's transport-independent pair). */
void console_handle(struct console *c, const struct staffweb_req *req, struct staffweb_resp *resp);

/* ---- listener (console_http.c) ---- */

struct console_http;
/* Binds address:port (port 0 picks one) and serves c with o->threads
 * threads. */
enum tl_err console_listen(struct console *c, const char *address, uint16_t port, unsigned threads,
                           struct console_http **out) __attribute__((warn_unused_result));
uint16_t console_http_port(const struct console_http *h);
void console_http_stop(struct console_http *h);

#endif
