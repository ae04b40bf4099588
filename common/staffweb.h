/*
 * staffweb.h - the parts every staff console shares (district console,
 * finance console): a transport-independent request and response, the
 * session from the cookie, url-encoded forms with the CSRF check, the login
 * and logout handlers, page assembly (head + parts + foot) with the common
 * variables, Chinese message pages, the shared stylesheet, templates from
 * an embedded table, Beijing time and yuan amounts.
 *
 * What stays in each console: its routes, its templates, its roles and
 * scopes, and how it reaches its users database.  The console hands that
 * last part over as a pair of callbacks (struct staffweb_dbref) that lend
 * a struct db for one auth call and take it back: the district console
 * lends a connection from its pool, the finance console its one database
 * under svc->lock.  Every auth call below runs between one get and one put.
 *
 * Part of tl_http (it builds on http.h's cookie and form helpers) but it
 * also calls common/auth (tl_db): only services that link both use it.
 *
 * Templates the site provides (compiled by the console):
 *   head   gets title, error, notice, user (empty when logged out),
 *          role_label, scope_name, csrf
 *   foot   the same variables
 *   error  plus message
 *   login  plus name (what was typed, for a retry)
 *
 * Never logged here: passwords, tokens, form contents, client addresses.
 * Ownership: a struct staffweb_ctx lives on the handler's stack;
 * staffweb_ctx_done() wipes the session, token and form.
 */
#ifndef TL_STAFFWEB_H
#define TL_STAFFWEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "auth.h"
#include "buf.h"
#include "err.h"
#include "html.h"
#include "http.h"

#define STAFFWEB_MAX_BODY (64 * 1024)
#define STAFFWEB_MAX_PAGE (4 * 1024 * 1024)
#define STAFFWEB_VARS_MAX (8u * 1024 * 1024)
#define STAFFWEB_FORM_FIELDS 32

struct staffweb_req {
	const char *method;
	const char *path;          /* without the query string */
	const char *cookie;        /* Cookie header, NULL if absent */
	const char *content_type;  /* Content-Type header, NULL if absent */
	const char *body;          /* NUL-terminated */
	size_t body_len;
	bool body_too_big;
	/* Query-string lookup (NULL: no query arguments at all). */
	const char *(*query)(const void *cls, const char *name);
	const void *query_cls;
};

/* The request's query argument name, or NULL. */
const char *staffweb_query(const struct staffweb_req *r, const char *name);

struct staffweb_resp {
	unsigned status;
	struct buf body;           /* secret buf, STAFFWEB_MAX_PAGE */
	char content_type[64];     /* empty: text/html; charset=utf-8 */
	char location[256];        /* non-empty: Location (303) */
	char disposition[128];     /* non-empty: Content-Disposition (downloads) */
	struct buf set_cookie;     /* non-empty: Set-Cookie value (secret) */
	unsigned retry_after_s;
	char allow[32];
};

void staffweb_resp_init(struct staffweb_resp *r);
void staffweb_resp_free(struct staffweb_resp *r);
/* Moves the response into common/http's (the server wipes both bufs). */
void staffweb_resp_to_http(struct staffweb_resp *r, struct http_response *out);
/* Fills r from an http_request (query through http_query). */
void staffweb_req_from_http(const struct http_request *h, struct staffweb_req *r);

/* The common/http options a staff console serves with: the body and page
 * caps above, the idle timeout and connection limit, html mode (the page
 * security headers on every response). */
void staffweb_http_opts(struct http_opts *o, const char *address, uint16_t port, unsigned threads,
                        http_handler_fn handler, void *cls);

/* Lends the users database for one auth call.  get may block; put must
 * be called exactly once per get. */
struct staffweb_dbref {
	struct db *(*get)(void *cls);
	void (*put)(void *cls, struct db *db);
	void *cls;
};

/* A file embedded at build time: cmake/embed.cmake's table entry, defined
 * here under the same guard so that either header may come first. */
#ifndef TL_EMBEDDED_FILE_DEFINED
#define TL_EMBEDDED_FILE_DEFINED
struct tl_embedded_file {
	const char *name;
	const unsigned char *data; /* NUL-terminated */
	size_t len;                /* without the NUL */
};
#endif

/* The file called name in an embedded table, or NULL. */
const struct tl_embedded_file *staffweb_embedded(const struct tl_embedded_file *files, size_t nfiles,
                                                 const char *name);
/* Compiles the templates names[0..n) of an embedded table into out[0..n)
 * (each freed with html_tmpl_free, also after a failure).  TL_ECONFIG when
 * one is not embedded; the reason is logged with log_name. */
enum tl_err staffweb_templates(const struct tl_embedded_file *files, size_t nfiles, const char *const *names,
                               size_t n, struct html_tmpl **out, const char *log_name)
	__attribute__((warn_unused_result));

/* One console's fixed setup. */
struct staffweb_site {
	const struct html_tmpl *head, *foot, *error, *login;
	struct staffweb_dbref db;
	bool cookie_secure;        /* add "Secure" to the session cookie */
	const char *home;          /* where a login lands, e.g. "/" */
	/* Called once a database call returned TL_EIO: the process must stop
	 * (db.h).  May be NULL. */
	void (*fatal)(void *cls);
	void *fatal_cls;
	const char *log_name;      /* prefix of log lines, e.g. "console" */
	/* The stylesheet staffweb_stylesheet() serves: the rules every console
	 * shares (web/common/console.css, embedded by each console) and then
	 * the console's own, which may be empty (NULL, 0). */
	const void *css_common, *css_own;
	size_t css_common_len, css_own_len;
};

struct staffweb_ctx {
	const struct staffweb_site *site;
	const struct staffweb_req *req;
	struct staffweb_resp *resp;
	int64_t now_ms;
	bool have_session;
	struct auth_session s;     /* valid when have_session */
	struct http_form form;     /* valid after staffweb_form() */
	char token[HTTP_COOKIE_MAX + 1];
};

void staffweb_ctx_init(struct staffweb_ctx *x, const struct staffweb_site *site,
                       const struct staffweb_req *req, struct staffweb_resp *resp, int64_t now_ms);
void staffweb_ctx_done(struct staffweb_ctx *x);

bool staffweb_is_get(const char *method);
/* 32 lowercase hex characters (the id format of leads, cases, awards). */
bool staffweb_id_ok(const char *s, size_t len);

/* ---- pages ---- */

struct staffweb_part {
	const struct html_tmpl *t;
	const struct html_vars *v;
};

/* head (with parts[0].v), the parts, foot (with parts[0].v) into the
 * response with status.  A rendering failure becomes a plain 500, never a
 * partial page. */
void staffweb_render(struct staffweb_ctx *x, unsigned status, const struct staffweb_part *parts,
                     size_t n);
/* A new root scope with title, error (may be NULL), notice (may be NULL)
 * and, with a session, user, role_label, scope_name and csrf. */
enum tl_err staffweb_base_vars(struct staffweb_ctx *x, const char *title, const char *error,
                               const char *notice, struct html_vars **out)
	__attribute__((warn_unused_result));
/* The error template with title and message. */
void staffweb_message(struct staffweb_ctx *x, unsigned status, const char *title, const char *message);
void staffweb_internal(struct staffweb_ctx *x);
/* A fatal database error: tells the site (which stops the process) and
 * answers 503. */
void staffweb_fatal(struct staffweb_ctx *x);
void staffweb_redirect(struct staffweb_ctx *x, const char *to);
/* 405 with Allow and a message. */
void staffweb_method_not_allowed(struct staffweb_ctx *x, const char *allow);
/* A static asset with its content type. */
void staffweb_static(struct staffweb_ctx *x, const void *data, size_t len, const char *content_type);
/* The site's stylesheet (css_common then css_own) as text/css. */
void staffweb_stylesheet(struct staffweb_ctx *x);

/* ---- sessions and forms ---- */

/* Loads the session from the cookie.  false: the response is set (303 to
 * /login clearing a stale cookie, or 503). */
bool staffweb_session(struct staffweb_ctx *x);
/* Parses the url-encoded body (no repeated field) and, when csrf, checks
 * the session's CSRF token first of all.  false: the response is set
 * (413, 415, 400, or 403 "安全校验失败"). */
bool staffweb_form(struct staffweb_ctx *x, bool csrf);
/* An action: POST only (else 405 with Allow: POST), then the form with
 * its CSRF check.  false: the response is set. */
bool staffweb_post_form(struct staffweb_ctx *x);
/* The form field, or "" when absent. */
const char *staffweb_field(const struct staffweb_ctx *x, const char *name);

/* GET /login (the form) and POST /login (name, password): 303 to
 * site->home with the session cookie, or the form again with the one
 * message for every refusal (401), 400, or 503 with Retry-After. */
void staffweb_login(struct staffweb_ctx *x);
/* POST /logout (csrf): ends the session, clears the cookie, 303 /login. */
void staffweb_logout(struct staffweb_ctx *x);

/* ---- formatting ---- */

#define STAFFWEB_TIME_LEN 64
/* "YYYY-MM-DD HH:MM" in Beijing time (UTC+8); "—" for ms <= 0. */
void staffweb_fmt_time(int64_t ms, char out[STAFFWEB_TIME_LEN]);

#define STAFFWEB_YUAN_LEN 40
/* fen as yuan with two decimals and thousands separators:
 * 1234567 -> "12,345.67", -5 -> "-0.05".  Integer arithmetic only. */
void staffweb_fmt_yuan(int64_t fen, char out[STAFFWEB_YUAN_LEN]);
/* Parses a yuan amount typed by staff ("12345.67", "12345", "12345.6",
 * "12,345.67"; no sign, at most two decimals, at least one digit) into fen
 * with integer arithmetic.  TL_EINVAL for anything else, TL_ETOOBIG above
 * max_fen. */
enum tl_err staffweb_parse_yuan(const char *s, int64_t max_fen, int64_t *fen)
	__attribute__((warn_unused_result));

#endif
