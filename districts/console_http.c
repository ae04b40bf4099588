/*
 * console_http.c - serves the console through common/http (see console.h).
 *
 * The server there owns the libmicrohttpd rules (bound address only,
 * thread pool with epoll, body cap checked against Content-Length and while
 * streaming, wiped request and response bodies, MHD diagnostics logged
 * without their arguments); with html set it puts the page security headers
 * of http_html_headers() on every response.  This file only translates a
 * request into a console_req and a console_resp back.
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
	struct console_req req;
	struct console_resp resp;

	memset(&req, 0, sizeof(req));
	req.method = hreq->method;
	req.path = hreq->path;
	req.query_sort = http_query(hreq, "sort");
	req.query_tab = http_query(hreq, "tab");
	req.cookie = http_header(hreq, "Cookie");
	req.content_type = http_header(hreq, "Content-Type");
	req.body_too_big = hreq->body_too_big;
	req.body = hreq->body;
	req.body_len = hreq->body_len;
	console_resp_init(&resp);

	console_handle(h->c, &req, &resp);

	/* Hand the (secret) buffers over rather than copying page and cookie. */
	buf_free(&hresp->body);
	hresp->body = resp.body;
	buf_init_secret(&resp.body, 0);
	buf_free(&hresp->set_cookie);
	hresp->set_cookie = resp.set_cookie;
	buf_init_secret(&resp.set_cookie, 0);
	hresp->status = resp.status;
	snprintf(hresp->content_type, sizeof(hresp->content_type), "%s", resp.content_type);
	snprintf(hresp->location, sizeof(hresp->location), "%s", resp.location);
	snprintf(hresp->allow, sizeof(hresp->allow), "%s", resp.allow);
	hresp->retry_after_s = resp.retry_after_s;
	console_resp_free(&resp);
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
	memset(&o, 0, sizeof(o));
	o.address = address;
	o.port = port;
	o.threads = threads;
	o.max_body = CONSOLE_MAX_BODY;
	o.max_response = CONSOLE_MAX_PAGE;
	o.timeout_s = 30;
	o.conn_limit = 256;
	o.html = true;
	o.handler = serve;
	o.cls = h;
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
