/*
 * console_http.c - serves the console through common/http (see console.h).
 *
 * The server there owns the libmicrohttpd rules (bound address only,
 * thread pool with epoll, body cap checked against Content-Length and while
 * streaming, wiped request and response bodies, MHD diagnostics logged
 * without their arguments); with html set it puts the page security headers
 * of http_html_headers() on every response.  This file only hands each
 * request to console_handle() through common/staffweb's request and
 * response.
 */
#include "compat.h"
#include "console.h"
#include "http.h"

struct console_http {
	struct http_server *s;
	struct console *c;
};

static void
serve(void *cls, const struct http_request *hreq, struct http_response *hresp)
{
	struct console_http *h = cls;
	struct staffweb_req req;
	struct staffweb_resp resp;

	staffweb_req_from_http(hreq, &req);
	staffweb_resp_init(&resp);
	console_handle(h->c, &req, &resp);
	staffweb_resp_to_http(&resp, hresp);
	staffweb_resp_free(&resp);
}

enum tl_err
console_listen(struct console *c, const char *address, uint16_t port, unsigned threads,
               struct console_http **out)
{
	struct console_http *h;
	struct http_opts o;
	enum tl_err e;

	*out = NULL;
	if (!address || threads == 0)
		return TL_EINVAL;
	if (!(h = calloc(1, sizeof(*h))))
		return TL_ENOMEM;
	h->c = c;
	staffweb_http_opts(&o, address, port, threads, serve, h);
	if ((e = http_server_start(&o, &h->s)) != TL_OK) {
		free(h);
		return e;
	}
	*out = h;
	return TL_OK;
}

uint16_t
console_http_port(const struct console_http *h)
{
	return http_server_port(h->s);
}

void
console_http_stop(struct console_http *h)
{
	if (!h)
		return;
	http_server_stop(h->s);
	free(h);
}
