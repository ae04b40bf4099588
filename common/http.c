/*
 * http.c - see http.h.  The only file (with its users' main()s) that knows
 * libmicrohttpd.  MHD result codes are translated here.
 */
#include <microhttpd.h>

#include "compat.h"
#include "http.h"
#include "log.h"
#include "num.h"
#include "utf8.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <strings.h>
#include <sys/socket.h>

/* A chunked upload over the cap is read and discarded so that the client
 * gets a clean 413; past this many times the cap we just drop it. */
#define DISCARD_FACTOR 16

struct http_server {
	struct MHD_Daemon *d;
	struct http_opts o;
	char *csp;
};

struct req_state {
	struct buf body;
	bool too_big;
	size_t discarded;
};

const char *
http_header(const struct http_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn_, MHD_HEADER_KIND, name);
}

const char *
http_query(const struct http_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn_, MHD_GET_ARGUMENT_KIND, name);
}

static bool
add_header(struct MHD_Response *r, const char *k, const char *v)
{
	return MHD_add_response_header(r, k, v) == MHD_YES;
}

/* The fixed headers of every response: the API set, or for consoles the
 * page set of http_html_headers() with the handler's content type. */
static bool
add_base_headers(const struct http_server *s, struct MHD_Response *r, const struct http_response *resp)
{
	if (s->o.html) {
		size_t nh;
		const struct http_hdr *h = http_html_headers(&nh);
		for (size_t i = 0; i < nh; i++) {
			const char *v = h[i].value;
			if (strcasecmp(h[i].name, "Content-Type") == 0 && resp->content_type[0])
				v = resp->content_type;
			if (!add_header(r, h[i].name, v))
				return false;
		}
		return true;
	}
	return add_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	                  resp->content_type[0] ? resp->content_type : "application/json; charset=utf-8") &&
	       add_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") &&
	       add_header(r, "X-Content-Type-Options", "nosniff") &&
	       add_header(r, "Referrer-Policy", "no-referrer") &&
	       add_header(r, "X-Frame-Options", "DENY") &&
	       add_header(r, "Content-Security-Policy", s->csp);
}

static enum MHD_Result
respond(struct http_server *s, struct MHD_Connection *c, struct req_state *st, const char *url,
        const char *method)
{
	struct http_request req;
	struct http_response resp;
	struct MHD_Response *r = NULL;
	const union MHD_ConnectionInfo *ci;
	enum MHD_Result ret = MHD_NO;
	char ra[16];

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.method = method;
	req.path = url;
	req.body_too_big = st->too_big;
	req.body = st->too_big ? "" : buf_str(&st->body);
	req.body_len = st->too_big ? 0 : st->body.len;
	req.conn_ = c;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET) {
			memcpy(req.client_addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
			req.client_addr_len = 4;
		} else if (sa->sa_family == AF_INET6) {
			memcpy(req.client_addr, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
			req.client_addr_len = 16;
		}
	}
	buf_init_secret(&resp.body, s->o.max_response);
	buf_init_secret(&resp.set_cookie, 4096);
	resp.status = 500;

	s->o.handler(s->o.cls, &req, &resp);

	r = MHD_create_response_from_buffer(resp.body.len, resp.body.data ? resp.body.data : (char *)"",
	                                    MHD_RESPMEM_MUST_COPY);
	if (!r)
		goto out;
	if (!add_base_headers(s, r, &resp))
		goto out;
	if (resp.disposition[0] &&
	    !add_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, resp.disposition))
		goto out;
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
	ret = MHD_queue_response(c, resp.status, r);
out:
	if (r)
		MHD_destroy_response(r);
	buf_free(&resp.body);
	buf_free(&resp.set_cookie);
	/* The request body may hold identity: wipe it as soon as it is used. */
	buf_free(&st->body);
	return ret;
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *c, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	struct http_server *s = cls;
	struct req_state *st = *req_cls;

	if (!st) {
		const char *cl;
		uint64_t n;

		if (!(st = calloc(1, sizeof(*st))))
			return MHD_NO;
		buf_init_secret(&st->body, s->o.max_body);
		*req_cls = st;
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && (num_parse_u64(cl, strlen(cl), UINT64_MAX, &n) != TL_OK || n > s->o.max_body)) {
			/* Answer before reading anything; MHD then closes. */
			st->too_big = true;
			return respond(s, c, st, url, method);
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
			if (st->discarded > s->o.max_body * DISCARD_FACTOR)
				return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	return respond(s, c, st, url, method);
}

static void
completed_cb(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe)
{
	struct req_state *st = *req_cls;

	if (st) {
		buf_free(&st->body);
		free(st);
		*req_cls = NULL;
	}
}

/* MHD's messages may carry client addresses in their arguments, so only the
 * format string (a constant) is logged. */
static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char line[160];
	size_t n;

	snprintf(line, sizeof(line), "%s", fmt);
	n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
		line[--n] = '\0';
	log_warn("http: %s", line);
}

enum tl_err
http_server_start(const struct http_opts *o, struct http_server **out)
{
	struct http_server *s;
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	socklen_t sl;

	if (!o->address || !o->handler || o->max_body == 0 || o->threads == 0)
		return TL_EINVAL;
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, o->address, &((struct sockaddr_in *)(void *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *a = (struct sockaddr_in *)(void *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(o->port);
		sl = sizeof(*a);
	} else if (inet_pton(AF_INET6, o->address, &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)(void *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(o->port);
		sl = sizeof(*a);
		flags |= MHD_USE_IPv6;
	} else {
		return TL_EINVAL;
	}
	(void)sl;
	if (!(s = calloc(1, sizeof(*s))))
		return TL_ENOMEM;
	s->o = *o;
	if (!s->o.max_response) s->o.max_response = 1024 * 1024;
	if (!s->o.timeout_s) s->o.timeout_s = 15;
	if (!s->o.conn_memory) s->o.conn_memory = 128 * 1024;
	if (!s->o.conn_limit) s->o.conn_limit = 1024;
	s->csp = strdup(o->csp ? o->csp
	                       : "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
	if (!s->csp) {
		free(s);
		return TL_ENOMEM;
	}
	s->o.csp = s->csp;
	s->d = MHD_start_daemon(
		flags, o->port, NULL, NULL, access_cb, s,
		/* First, so that MHD never prints with its own logger. */
		MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(s->o.threads > 1 ? s->o.threads : 0),
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->o.timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)s->o.conn_memory,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->o.conn_limit,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
		MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s,
		MHD_OPTION_END);
	if (!s->d) {
		log_err("http: cannot listen on %s port %u", o->address, (unsigned)o->port);
		free(s->csp);
		free(s);
		return TL_EIO;
	}
	*out = s;
	return TL_OK;
}

uint16_t
http_server_port(const struct http_server *s)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);

	return i ? i->port : 0;
}

void
http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	free(s->csp);
	free(s);
}

/* ---- HTML consoles: cookies, page headers, url-encoded forms ---- */

static const struct http_hdr html_headers[] = {
	{ "Content-Type", HTTP_HTML_CONTENT_TYPE },
	{ "Content-Security-Policy", HTTP_HTML_CSP },
	{ "X-Frame-Options", "DENY" },
	{ "Referrer-Policy", "no-referrer" },
	{ "Cache-Control", "no-store" },
	{ "X-Content-Type-Options", "nosniff" },
};

const struct http_hdr *
http_html_headers(size_t *n)
{
	*n = TL_ARRAY_LEN(html_headers);
	return html_headers;
}

/* RFC 6265 cookie-octet: visible ASCII except DQUOTE, comma, semicolon and
 * backslash. */
static bool
cookie_octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
	       (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

enum tl_err
http_cookie_session(struct buf *out, const char *token, bool secure)
{
	size_t n = token ? strnlen(token, HTTP_COOKIE_MAX + 1) : 0;
	enum tl_err e;

	if (n == 0 || n > HTTP_COOKIE_MAX)
		return TL_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!cookie_octet((unsigned char)token[i]))
			return TL_EINVAL;
	/* HttpOnly: no script can read it (there is none, but defence in
	 * depth); SameSite=Strict: no cross-site request carries it, the
	 * first CSRF barrier; Path=/ so that every console page sees it. */
	if ((e = buf_append_str(out, HTTP_SESSION_COOKIE "=")) != TL_OK ||
	    (e = buf_append(out, token, n)) != TL_OK ||
	    (e = buf_append_str(out, "; Path=/; HttpOnly; SameSite=Strict")) != TL_OK)
		return e;
	return secure ? buf_append_str(out, "; Secure") : TL_OK;
}

enum tl_err
http_cookie_session_clear(struct buf *out, bool secure)
{
	enum tl_err e;

	if ((e = buf_append_str(out, HTTP_SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; "
	                             "SameSite=Strict")) != TL_OK)
		return e;
	return secure ? buf_append_str(out, "; Secure") : TL_OK;
}

enum tl_err
http_cookie_parse(const char *header, const char *name, char *out, size_t outlen)
{
	const char *p = header;
	size_t nlen = name ? strlen(name) : 0;
	bool found = false;
	enum tl_err e = TL_ENOTFOUND;

	if (outlen)
		out[0] = '\0';
	if (!header || nlen == 0 || outlen == 0)
		return header ? TL_EINVAL : TL_ENOTFOUND;
	while (*p) {
		const char *seg, *eq, *end, *v, *ve;

		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		if (!*p)
			break;
		seg = p;
		while (*p && *p != ';')
			p++;
		end = p;
		while (end > seg && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		eq = memchr(seg, '=', (size_t)(end - seg));
		if (!eq || (size_t)(eq - seg) != nlen || memcmp(seg, name, nlen) != 0)
			continue; /* someone else's cookie, or not a pair: not ours to judge */
		if (found) {
			e = TL_EINVAL; /* two of ours: refuse to guess which is real */
			goto fail;
		}
		found = true;
		v = eq + 1;
		ve = end;
		if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
			v++;
			ve--;
		}
		if ((size_t)(ve - v) > HTTP_COOKIE_MAX || (size_t)(ve - v) >= outlen) {
			e = TL_ETOOBIG;
			goto fail;
		}
		for (const char *q = v; q < ve; q++)
			if (!cookie_octet((unsigned char)*q)) {
				e = TL_EINVAL;
				goto fail;
			}
		memcpy(out, v, (size_t)(ve - v));
		out[ve - v] = '\0';
		e = TL_OK;
	}
	return e;
fail:
	sodium_memzero(out, outlen);
	return e;
}

enum tl_err
http_cookie_get(const struct http_request *r, const char *name, char *out, size_t outlen)
{
	return http_cookie_parse(http_header(r, MHD_HTTP_HEADER_COOKIE), name, out, outlen);
}

bool
http_form_content_type_ok(const char *ct)
{
	static const char want[] = "application/x-www-form-urlencoded";
	size_t n = sizeof(want) - 1;

	if (!ct || strncasecmp(ct, want, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes s[0..len) into dst (NUL-terminated); *dlen gets the length. */
static enum tl_err
form_decode(const char *s, size_t len, char *dst, size_t *dlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '+') {
			dst[o++] = ' ';
		} else if (s[i] == '%') {
			int hi, lo;
			if (i + 2 >= len)
				return TL_EINVAL; /* "%" or "%A" at the end */
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return TL_EINVAL;
			dst[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			dst[o++] = s[i];
		}
	}
	dst[o] = '\0';
	*dlen = o;
	/* utf8_valid() also refuses NUL: a "%00" must not cut a field short
	 * in one place and not in another. */
	return utf8_valid(dst, o, NULL) ? TL_OK : TL_EINVAL;
}

static bool
form_multi(const char *const *multi, const char *name)
{
	for (; multi && *multi; multi++)
		if (strcmp(*multi, name) == 0)
			return true;
	return false;
}

enum tl_err
http_form_parse(const char *body, size_t len, size_t max_len, size_t max_fields,
                const char *const *multi, struct http_form *out)
{
	size_t pos = 0, used = 0, cap;
	enum tl_err e = TL_OK;

	memset(out, 0, sizeof(*out));
	if (max_fields > HTTP_FORM_MAX_FIELDS || (!body && len))
		return TL_EINVAL;
	if (len > max_len || len > SIZE_MAX / 2 - 2)
		return TL_ETOOBIG;
	/* Each "name=value" decodes to at most its own length plus two NULs,
	 * and segments are at least one byte apart: 2 * len + 2 is enough. */
	cap = 2 * len + 2;
	if (!(out->mem_ = malloc(cap)))
		return TL_ENOMEM;
	out->mem_len_ = cap;
	while (pos < len) {
		const char *seg = body + pos, *amp, *eq;
		size_t slen, nlen, vlen;
		char *nm, *val;

		amp = memchr(seg, '&', len - pos);
		slen = amp ? (size_t)(amp - seg) : len - pos;
		pos += slen + 1;
		if (slen == 0)
			continue;
		if (out->n == max_fields) {
			e = TL_ETOOBIG;
			goto fail;
		}
		eq = memchr(seg, '=', slen);
		nlen = eq ? (size_t)(eq - seg) : slen;
		nm = out->mem_ + used;
		if ((e = form_decode(seg, nlen, nm, &nlen)) != TL_OK)
			goto fail;
		if (nlen == 0) {
			e = TL_EINVAL;
			goto fail;
		}
		used += nlen + 1;
		val = out->mem_ + used;
		vlen = 0;
		if (eq && (e = form_decode(eq + 1, slen - (size_t)(eq + 1 - seg), val, &vlen)) != TL_OK)
			goto fail;
		if (!eq)
			val[0] = '\0';
		used += vlen + 1;
		if (!form_multi(multi, nm))
			for (size_t i = 0; i < out->n; i++)
				if (strcmp(out->f[i].name, nm) == 0) {
					e = TL_EINVAL;
					goto fail;
				}
		out->f[out->n].name = nm;
		out->f[out->n].value = val;
		out->f[out->n].value_len = vlen;
		out->n++;
	}
	return TL_OK;
fail:
	http_form_free(out);
	return e;
}

const char *
http_form_get(const struct http_form *f, const char *name)
{
	for (size_t i = 0; f && name && i < f->n; i++)
		if (strcmp(f->f[i].name, name) == 0)
			return f->f[i].value;
	return NULL;
}

void
http_form_free(struct http_form *f)
{
	if (!f)
		return;
	if (f->mem_) {
		sodium_memzero(f->mem_, f->mem_len_);
		free(f->mem_);
	}
	memset(f, 0, sizeof(*f));
}
