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

struct http_response {
	unsigned status;
	struct buf body;          /* handler appends; initialised by the server */
	char content_type[64];    /* empty: application/json; charset=utf-8 */
	unsigned retry_after_s;   /* > 0 adds Retry-After */
	char allow[64];           /* non-empty adds Allow (for 405) */
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
	http_handler_fn handler;
	void *cls;
};

enum tl_err http_server_start(const struct http_opts *o, struct http_server **out)
	__attribute__((warn_unused_result));
uint16_t http_server_port(const struct http_server *s);
/* Stops accepting, waits for in-flight handlers, frees. NULL is fine. */
void http_server_stop(struct http_server *s);

#endif
