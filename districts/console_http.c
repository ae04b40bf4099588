/*
 * console_http.c - the console's libmicrohttpd listener (see console.h).
 *
 * Why not http_server_start() from common/http: struct http_response has
 * no way to send Location or Set-Cookie, and handlers cannot read the query
 * string.  Until common/http grows those (see docs/console.md, "Open
 * items"), this file is a small MHD front with the same rules as
 * common/http.c: bound address only, thread pool with epoll, body cap
 * checked against Content-Length and while streaming, secret (wiped)
 * bodies, the HTML security headers from http_html_headers() on every
 * response, and MHD diagnostics logged without their arguments.
 */
#include "compat.h"
#include "console.h"
#include "http.h"
#include "log.h"
#include "num.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/socket.h>
#include <microhttpd.h>

#define DISCARD_FACTOR 16

struct console_http {
	struct MHD_Daemon *d;
	struct console *c;
};

struct req_state {
	struct buf body;
	bool too_big;
	size_t discarded;
};

static bool
add_header(struct MHD_Response *r, const char *k, const char *v)
{
	return MHD_add_response_header(r, k, v) == MHD_YES;
}

static enum MHD_Result
respond(struct console_http *h, struct MHD_Connection *conn, struct req_state *st, const char *url,
        const char *method)
{
	struct console_req req;
	struct console_resp resp;
	struct MHD_Response *r = NULL;
	const struct http_hdr *hdrs;
	enum MHD_Result ret = MHD_NO;
	size_t nh;
	char ra[16];

	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = url;
	req.query_sort = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "sort");
	req.query_tab = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "tab");
	req.cookie = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE);
	req.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	req.body_too_big = st->too_big;
	req.body = st->too_big ? "" : buf_str(&st->body);
	req.body_len = st->too_big ? 0 : st->body.len;
	console_resp_init(&resp);

	console_handle(h->c, &req, &resp);

	r = MHD_create_response_from_buffer(resp.body.len, resp.body.data ? resp.body.data : (char *)"",
	                                    MHD_RESPMEM_MUST_COPY);
	if (!r)
		goto out;
	hdrs = http_html_headers(&nh);
	for (size_t i = 0; i < nh; i++) {
		const char *v = hdrs[i].value;
		if (strcasecmp(hdrs[i].name, "Content-Type") == 0 && resp.content_type[0])
			v = resp.content_type;
		if (!add_header(r, hdrs[i].name, v))
			goto out;
	}
	if (resp.location[0] && !add_header(r, MHD_HTTP_HEADER_LOCATION, resp.location))
		goto out;
	if (resp.set_cookie.len && !add_header(r, MHD_HTTP_HEADER_SET_COOKIE, buf_str(&resp.set_cookie)))
		goto out;
	if (resp.retry_after_s) {
		snprintf(ra, sizeof(ra), "%u", resp.retry_after_s);
		if (!add_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra))
			goto out;
	}
	if (resp.allow[0] && !add_header(r, MHD_HTTP_HEADER_ALLOW, resp.allow))
		goto out;
	ret = MHD_queue_response(conn, resp.status, r);
out:
	if (r)
		MHD_destroy_response(r);
	console_resp_free(&resp);
	buf_free(&st->body);
	return ret;
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
          const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	struct console_http *h = cls;
	struct req_state *st = *req_cls;

	(void)version;
	if (!st) {
		const char *cl;
		uint64_t n;

		if (!(st = calloc(1, sizeof(*st))))
			return MHD_NO;
		buf_init_secret(&st->body, CONSOLE_MAX_BODY);
		*req_cls = st;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && (num_parse_u64(cl, strlen(cl), UINT64_MAX, &n) != TL_OK || n > CONSOLE_MAX_BODY)) {
			st->too_big = true;
			return respond(h, conn, st, url, method);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!st->too_big && buf_append(&st->body, upload_data, *upload_data_size) != TL_OK) {
			st->too_big = true;
			buf_free(&st->body);
		}
		if (st->too_big) {
			st->discarded += *upload_data_size;
			if (st->discarded > (size_t)CONSOLE_MAX_BODY * DISCARD_FACTOR)
				return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	return respond(h, conn, st, url, method);
}

static void
completed_cb(void *cls, struct MHD_Connection *conn, void **req_cls, enum MHD_RequestTerminationCode toe)
{
	struct req_state *st = *req_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (st) {
		buf_free(&st->body);
		free(st);
		*req_cls = NULL;
	}
}

static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char line[160];
	size_t n;

	(void)cls;
	(void)ap;
	snprintf(line, sizeof(line), "%s", fmt);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
		line[--n] = '\0';
	log_warn("console http: %s", line);
}

enum tl_err
console_listen(struct console *c, const char *address, uint16_t port, unsigned threads,
               struct console_http **out)
{
	struct console_http *h;
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

	*out = NULL;
	if (!address || threads == 0)
		return TL_EINVAL;
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, address, &((struct sockaddr_in *)(void *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *a = (struct sockaddr_in *)(void *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, address, &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)(void *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		flags |= MHD_USE_IPv6;
	} else {
		return TL_EINVAL;
	}
	if (!(h = calloc(1, sizeof(*h))))
		return TL_ENOMEM;
	h->c = c;
	h->d = MHD_start_daemon(flags, port, NULL, NULL, access_cb, h,
	                        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, h,
	                        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	                        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(threads > 1 ? threads : 0),
	                        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
	                        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
	                        MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
	                        MHD_OPTION_NOTIFY_COMPLETED, completed_cb, h,
	                        MHD_OPTION_END);
	if (!h->d) {
		log_err("console: cannot listen on %s port %u", address, (unsigned)port);
		free(h);
		return TL_EIO;
	}
	*out = h;
	return TL_OK;
}

uint16_t
console_http_port(const struct console_http *h)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);

	return i ? i->port : 0;
}

void
console_http_stop(struct console_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
