/*
 * http.h - a small JSON-API server on libmicrohttpd, shared by intake and
 * (later) the district and finance consoles.
 *
 * What it does for every request, so that handlers cannot forget:
 *   - buffers the body into a secret (wiped) buffer with a hard cap, checked
 *     both against Content-Length before reading and while streaming
 *     chunked bodies; a request over the cap reaches the handler with
 *     body_too_big set and no body;
 *   - adds the security headers (Cache-Control: no-store, nosniff,
 *     Referrer-Policy: no-referrer, a strict CSP, Content-Type defaulting to
 *     application/json; charset=utf-8) to every response, error or not;
 *   - binds only the configured address; thread pool with epoll; connection
 *     timeout, memory limit and connection limit;
 *   - routes libmicrohttpd's own diagnostics through log.h without their
 *     arguments, because those can contain client addresses.
 *
 * The handler runs once per request, after the whole body has arrived, on
 * one of the pool's threads: it must be thread-safe and may block (each
 * pool thread serves its connections in turn).
 *
 * Ownership: the request and its body belong to the server and are valid
 * only during the handler call.  The handler fills the response struct;
 * the server copies it out (MHD_RESPMEM_MUST_COPY) and wipes it.
 */
#ifndef TL_HTTP_H
#define TL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "err.h"

#define HTTP_MAX_CLIENT_ADDR 16

struct http_server;

struct http_request {
	const char *method;
	const char *path;   /* path as received, without the query string */
	const char *body;   /* NUL-terminated; "" when there is none */
	size_t body_len;
	bool body_too_big;  /* over max_body: body is empty */
	/* Raw client address (4 bytes IPv4, 16 IPv6): for rate limiting by
	 * keyed hash only.  Never log or store it. */
	unsigned char client_addr[HTTP_MAX_CLIENT_ADDR];
	size_t client_addr_len;
	void *conn_; /* private */
};

/* A request header's value, or NULL. */
const char *http_header(const struct http_request *r, const char *name);
/* A query-string argument's (decoded) value, or NULL. */
const char *http_query(const struct http_request *r, const char *name);

struct http_response {
	unsigned status;
	struct buf body;          /* handler appends; initialised by the server */
	char content_type[64];    /* empty: application/json; charset=utf-8 */
	unsigned retry_after_s;   /* > 0 adds Retry-After */
	char allow[64];           /* non-empty adds Allow (for 405) */
	char location[256];       /* non-empty adds Location (redirects) */
	char disposition[128];    /* non-empty adds Content-Disposition (downloads) */
	struct buf set_cookie;    /* non-empty adds Set-Cookie; secret, initialised by the server */
};

typedef void (*http_handler_fn)(void *cls, const struct http_request *req, struct http_response *resp);

struct http_opts {
	const char *address;      /* numeric IPv4 or IPv6 address to bind */
	uint16_t port;            /* 0 picks a free port (see http_server_port) */
	unsigned threads;         /* thread pool size, >= 1 */
	size_t max_body;          /* bytes */
	size_t max_response;      /* bytes, default 1 MiB */
	unsigned timeout_s;       /* idle connection timeout, default 15 */
	size_t conn_memory;       /* per-connection pool, default 128 KiB */
	unsigned conn_limit;      /* default 1024 */
	const char *csp;          /* NULL: "default-src 'none'; frame-ancestors 'none'" */
	bool html;                /* pages: http_html_headers() instead of the API headers,
	                             content_type defaults to HTML (csp is then ignored) */
	http_handler_fn handler;
	void *cls;
};

enum tl_err http_server_start(const struct http_opts *o, struct http_server **out)
	__attribute__((warn_unused_result));
uint16_t http_server_port(const struct http_server *s);
/* Stops accepting, waits for in-flight handlers, frees. NULL is fine. */
void http_server_stop(struct http_server *s);

/* ---- HTML consoles: cookies, page headers, url-encoded forms ----
 * Added for the staff consoles (see docs/auth.md).  Pure functions of their
 * inputs (no libmicrohttpd state) except http_cookie_get(); thread-safe. */

#define HTTP_SESSION_COOKIE "tl_session"
#define HTTP_COOKIE_MAX 256 /* longest cookie value accepted */

/* Strict CSP for server-rendered pages with no script at all. */
#define HTTP_HTML_CSP                                                                  \
	"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; " \
	"frame-ancestors 'none'; base-uri 'none'"
#define HTTP_HTML_CONTENT_TYPE "text/html; charset=utf-8"

struct http_hdr {
	const char *name;
	const char *value;
};

/* The headers every HTML page carries: Content-Type, the CSP above,
 * X-Frame-Options DENY, Referrer-Policy no-referrer, Cache-Control
 * no-store, X-Content-Type-Options nosniff.  Static; *n gets the count.
 * (http_server already sends all but Content-Type on every response; start
 * it with opts.csp = HTTP_HTML_CSP for a console.) */
const struct http_hdr *http_html_headers(size_t *n);

/* Appends the value of a Set-Cookie header (without "Set-Cookie: ") for
 * the session cookie: "tl_session=<token>; Path=/; HttpOnly;
 * SameSite=Strict" and "; Secure" when secure.  The token must be 1..
 * HTTP_COOKIE_MAX cookie-octets (RFC 6265) with no ';', else TL_EINVAL.
 * out should be a secret buf: it holds the token. */
enum tl_err http_cookie_session(struct buf *out, const char *token, bool secure)
	__attribute__((warn_unused_result));
/* The same cookie emptied and expired (Max-Age=0), for logout. */
enum tl_err http_cookie_session_clear(struct buf *out, bool secure) __attribute__((warn_unused_result));

/* Finds cookie name in a Cookie header value ("a=1; b=2") and copies its
 * value (surrounding double quotes removed) into out[outlen].
 *   TL_ENOTFOUND  absent (or header NULL)
 *   TL_EINVAL     present twice (cookie tossing from a sibling host) or
 *                 malformed
 *   TL_ETOOBIG    value does not fit in outlen (or over HTTP_COOKIE_MAX)
 * out is wiped on failure. */
enum tl_err http_cookie_parse(const char *header, const char *name, char *out, size_t outlen)
	__attribute__((warn_unused_result));
/* http_cookie_parse() on the request's Cookie header. */
enum tl_err http_cookie_get(const struct http_request *r, const char *name, char *out, size_t outlen)
	__attribute__((warn_unused_result));

/* True for "application/x-www-form-urlencoded" with optional parameters
 * (e.g. "; charset=UTF-8"), case-insensitive. */
bool http_form_content_type_ok(const char *content_type);

#define HTTP_FORM_MAX_FIELDS 64

struct http_form_field {
	const char *name;  /* decoded, NUL-terminated, valid UTF-8 */
	const char *value; /* decoded, NUL-terminated, valid UTF-8 */
	size_t value_len;
};

/* A parsed application/x-www-form-urlencoded body.  Owns a decoded copy
 * that may hold passwords: http_form_free() wipes it. */
struct http_form {
	struct http_form_field f[HTTP_FORM_MAX_FIELDS];
	size_t n;
	char *mem_;
	size_t mem_len_;
};

/* Parses body[0..len) ("+" is a space, %XX escapes).  Names listed in multi
 * (NULL-terminated, may be NULL) may repeat; any other repeated name is
 * TL_EINVAL, so a smuggled second "amount" or "csrf" cannot slip past a
 * check that looked at the first.
 *   TL_ETOOBIG  len > max_len or more than max_fields fields
 *               (max_fields <= HTTP_FORM_MAX_FIELDS)
 *   TL_EINVAL   bad %-escape, empty name, invalid UTF-8 or NUL after
 *               decoding, duplicate single-valued name
 * Empty segments ("a=1&&b=2", a trailing "&") are skipped.  On error *out
 * is empty (and needs no free, though http_form_free() is harmless). */
enum tl_err http_form_parse(const char *body, size_t len, size_t max_len, size_t max_fields,
                            const char *const *multi, struct http_form *out)
	__attribute__((warn_unused_result));
/* The first value of name, or NULL. */
const char *http_form_get(const struct http_form *f, const char *name);
/* Wipes and frees; the struct is then empty.  NULL is fine. */
void http_form_free(struct http_form *f);

#endif
