/*
 * staffweb.c - see staffweb.h.
 */
#include "compat.h"
#include "staffweb.h"
#include "district.h"
#include "log.h"

#include <sodium.h>
#include <time.h>

const char *
staffweb_query(const struct staffweb_req *r, const char *name)
{
	return r->query ? r->query(r->query_cls, name) : NULL;
}

void
staffweb_resp_init(struct staffweb_resp *r)
{
	memset(r, 0, sizeof(*r));
	r->status = 500;
	buf_init_secret(&r->body, STAFFWEB_MAX_PAGE);
	buf_init_secret(&r->set_cookie, 512);
}

void
staffweb_resp_free(struct staffweb_resp *r)
{
	buf_free(&r->body);
	buf_free(&r->set_cookie);
}

void
staffweb_resp_to_http(struct staffweb_resp *r, struct http_response *out)
{
	/* Hand the (secret) buffers over rather than copying page and cookie. */
	buf_free(&out->body);
	out->body = r->body;
	buf_init_secret(&r->body, 0);
	buf_free(&out->set_cookie);
	out->set_cookie = r->set_cookie;
	buf_init_secret(&r->set_cookie, 0);
	out->status = r->status;
	snprintf(out->content_type, sizeof(out->content_type), "%s",
	         r->content_type[0] ? r->content_type : HTTP_HTML_CONTENT_TYPE);
	snprintf(out->location, sizeof(out->location), "%s", r->location);
	snprintf(out->disposition, sizeof(out->disposition), "%s", r->disposition);
	snprintf(out->allow, sizeof(out->allow), "%s", r->allow);
	out->retry_after_s = r->retry_after_s;
}

static const char *
http_query_cb(const void *cls, const char *name)
{
	return http_query(cls, name);
}

void
staffweb_req_from_http(const struct http_request *h, struct staffweb_req *r)
{
	memset(r, 0, sizeof(*r));
	r->method = h->method;
	r->path = h->path;
	r->cookie = http_header(h, "Cookie");
	r->content_type = http_header(h, "Content-Type");
	r->body = h->body;
	r->body_len = h->body_len;
	r->body_too_big = h->body_too_big;
	r->query = http_query_cb;
	r->query_cls = h;
}

void
staffweb_http_opts(struct http_opts *o, const char *address, uint16_t port, unsigned threads,
                   http_handler_fn handler, void *cls)
{
	memset(o, 0, sizeof(*o));
	o->address = address;
	o->port = port;
	o->threads = threads;
	o->max_body = STAFFWEB_MAX_BODY;
	o->max_response = STAFFWEB_MAX_PAGE;
	o->timeout_s = 30;
	o->conn_limit = 256;
	o->html = true;
	o->handler = handler;
	o->cls = cls;
}

void
staffweb_ctx_init(struct staffweb_ctx *x, const struct staffweb_site *site,
                  const struct staffweb_req *req, struct staffweb_resp *resp, int64_t now_ms)
{
	memset(x, 0, sizeof(*x));
	x->site = site;
	x->req = req;
	x->resp = resp;
	x->now_ms = now_ms;
}

void
staffweb_ctx_done(struct staffweb_ctx *x)
{
	http_form_free(&x->form);
	auth_session_wipe(&x->s);
	sodium_memzero(x->token, sizeof(x->token));
	x->have_session = false;
}

bool
staffweb_is_get(const char *m)
{
	return m && (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0);
}

bool
staffweb_id_ok(const char *s, size_t len)
{
	if (!s || len != 32)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static const char *
lname(const struct staffweb_ctx *x)
{
	return x->site->log_name ? x->site->log_name : "console";
}

const struct tl_embedded_file *
staffweb_embedded(const struct tl_embedded_file *files, size_t nfiles, const char *name)
{
	for (size_t i = 0; i < nfiles; i++)
		if (files[i].name && strcmp(files[i].name, name) == 0)
			return &files[i];
	return NULL;
}

enum tl_err
staffweb_templates(const struct tl_embedded_file *files, size_t nfiles, const char *const *names, size_t n,
                   struct html_tmpl **out, const char *log_name)
{
	const struct tl_embedded_file *f;
	char err[256];
	enum tl_err e;

	for (size_t i = 0; i < n; i++) {
		if (!(f = staffweb_embedded(files, nfiles, names[i]))) {
			log_err("%s: template %s is not embedded", log_name, names[i]);
			return TL_ECONFIG;
		}
		if ((e = html_tmpl_compile((const char *)f->data, f->len, &out[i], err, sizeof(err))) != TL_OK) {
			log_err("%s: template %s: %s", log_name, names[i], err);
			return e;
		}
	}
	return TL_OK;
}

/* ---- pages ---- */

void
staffweb_redirect(struct staffweb_ctx *x, const char *to)
{
	buf_reset(&x->resp->body);
	x->resp->status = 303;
	snprintf(x->resp->location, sizeof(x->resp->location), "%s", to);
}

void
staffweb_render(struct staffweb_ctx *x, unsigned status, const struct staffweb_part *parts, size_t n)
{
	struct buf *b = &x->resp->body;
	enum tl_err e = TL_EINVAL;

	buf_reset(b);
	if (n == 0)
		goto fail;
	if ((e = html_render(x->site->head, parts[0].v, b)) != TL_OK)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if ((e = html_render(parts[i].t, parts[i].v, b)) != TL_OK)
			goto fail;
	if ((e = html_render(x->site->foot, parts[0].v, b)) != TL_OK)
		goto fail;
	x->resp->status = status;
	return;
fail:
	log_err("%s: rendering failed (%s)", lname(x), tl_strerror(e));
	buf_reset(b);
	x->resp->status = 500;
	snprintf(x->resp->content_type, sizeof(x->resp->content_type), "text/plain; charset=utf-8");
	if (buf_append_str(b, "页面生成失败，请稍后重试。\n") != TL_OK)
		buf_reset(b);
}

static const char *
scope_label(const char *scope)
{
	const struct district *d;

	if (strcmp(scope, "all") == 0)
		return "全市";
	d = district_find(scope);
	return d ? d->name : scope;
}

enum tl_err
staffweb_base_vars(struct staffweb_ctx *x, const char *title, const char *error, const char *notice,
                   struct html_vars **out)
{
	struct html_vars *v = NULL;
	enum tl_err e;

	*out = NULL;
	if ((e = html_vars_new(STAFFWEB_VARS_MAX, &v)) != TL_OK)
		return e;
	if ((e = html_vars_set(v, "title", title)) != TL_OK ||
	    (e = html_vars_set(v, "error", error ? error : "")) != TL_OK ||
	    (e = html_vars_set(v, "notice", notice ? notice : "")) != TL_OK)
		goto fail;
	if (x->have_session) {
		if ((e = html_vars_set(v, "user", x->s.user.name)) != TL_OK ||
		    (e = html_vars_set(v, "role_label", auth_role_label_zh(x->s.user.role))) != TL_OK ||
		    (e = html_vars_set(v, "scope_name", scope_label(x->s.user.scope))) != TL_OK ||
		    (e = html_vars_set(v, "csrf", x->s.csrf)) != TL_OK)
			goto fail;
	} else if ((e = html_vars_set(v, "user", "")) != TL_OK || (e = html_vars_set(v, "csrf", "")) != TL_OK ||
	           (e = html_vars_set(v, "role_label", "")) != TL_OK ||
	           (e = html_vars_set(v, "scope_name", "")) != TL_OK) {
		goto fail;
	}
	*out = v;
	return TL_OK;
fail:
	html_vars_free(v);
	return e;
}

void
staffweb_message(struct staffweb_ctx *x, unsigned status, const char *title, const char *message)
{
	struct html_vars *v = NULL;
	struct staffweb_part p;

	if (staffweb_base_vars(x, title, NULL, NULL, &v) != TL_OK ||
	    html_vars_set(v, "message", message) != TL_OK) {
		html_vars_free(v);
		buf_reset(&x->resp->body);
		x->resp->status = 500;
		return;
	}
	p.t = x->site->error;
	p.v = v;
	staffweb_render(x, status, &p, 1);
	html_vars_free(v);
}

void
staffweb_internal(struct staffweb_ctx *x)
{
	staffweb_message(x, 500, "系统错误", "系统内部错误，操作可能未完成。请刷新页面确认后再试。");
}

void
staffweb_fatal(struct staffweb_ctx *x)
{
	log_err("%s: fatal database error; stopping", lname(x));
	if (x->site->fatal)
		x->site->fatal(x->site->fatal_cls);
	staffweb_message(x, 503, "服务暂停", "数据库发生严重错误，本服务正在重启，操作未完成。请稍后再试。");
	x->resp->retry_after_s = 30;
}

void
staffweb_method_not_allowed(struct staffweb_ctx *x, const char *allow)
{
	snprintf(x->resp->allow, sizeof(x->resp->allow), "%s", allow);
	staffweb_message(x, 405, "请求无效", "不支持该请求方法，请使用页面上的链接和按钮。");
}

void
staffweb_static(struct staffweb_ctx *x, const void *data, size_t len, const char *content_type)
{
	snprintf(x->resp->content_type, sizeof(x->resp->content_type), "%s", content_type);
	buf_reset(&x->resp->body);
	x->resp->status = buf_append(&x->resp->body, data, len) == TL_OK ? 200 : 500;
}

void
staffweb_stylesheet(struct staffweb_ctx *x)
{
	const struct staffweb_site *s = x->site;

	staffweb_static(x, s->css_common, s->css_common_len, "text/css; charset=utf-8");
	if (x->resp->status == 200 && s->css_own_len > 0 &&
	    buf_append(&x->resp->body, s->css_own, s->css_own_len) != TL_OK) {
		buf_reset(&x->resp->body);
		x->resp->status = 500;
	}
}

/* ---- sessions and forms ---- */

bool
staffweb_session(struct staffweb_ctx *x)
{
	struct db *db;
	enum tl_err e;

	e = http_cookie_parse(x->req->cookie, HTTP_SESSION_COOKIE, x->token, sizeof(x->token));
	if (e == TL_OK) {
		db = x->site->db.get(x->site->db.cls);
		e = auth_session_check(db, x->token, x->now_ms, &x->s);
		x->site->db.put(x->site->db.cls, db);
	}
	if (e == TL_EUNAVAIL) {
		staffweb_message(x, 503, "系统繁忙", "系统繁忙，请稍后再试。");
		x->resp->retry_after_s = 2;
		return false;
	}
	if (e == TL_EIO) {
		staffweb_fatal(x);
		return false;
	}
	if (e != TL_OK) {
		staffweb_redirect(x, "/login");
		if (x->req->cookie && http_cookie_session_clear(&x->resp->set_cookie, x->site->cookie_secure) != TL_OK)
			buf_reset(&x->resp->set_cookie);
		return false;
	}
	x->have_session = true;
	return true;
}

bool
staffweb_form(struct staffweb_ctx *x, bool csrf)
{
	static const char *const multi[] = { NULL };
	enum tl_err e;

	if (x->req->body_too_big) {
		staffweb_message(x, 413, "内容过长", "提交的内容过长，操作未执行。");
		return false;
	}
	if (!http_form_content_type_ok(x->req->content_type)) {
		staffweb_message(x, 415, "请求无效", "请求格式无效，操作未执行。请在页面上使用表单提交。");
		return false;
	}
	http_form_free(&x->form);
	e = http_form_parse(x->req->body ? x->req->body : "", x->req->body_len, STAFFWEB_MAX_BODY,
	                    STAFFWEB_FORM_FIELDS, multi, &x->form);
	if (e != TL_OK) {
		staffweb_message(x, 400, "请求无效", "表单内容无效（重复字段、编码错误或字段过多），操作未执行。");
		return false;
	}
	if (csrf && (!x->have_session || auth_csrf_check(&x->s, http_form_get(&x->form, "csrf")) != TL_OK)) {
		staffweb_message(x, 403, "请求已失效",
		                 "安全校验失败（表单令牌缺失或不正确），操作未执行。请返回页面刷新后重试。");
		return false;
	}
	return true;
}

bool
staffweb_post_form(struct staffweb_ctx *x)
{
	if (strcmp(x->req->method, "POST") != 0) {
		snprintf(x->resp->allow, sizeof(x->resp->allow), "POST");
		staffweb_message(x, 405, "请求无效", "请使用页面上的按钮提交操作。");
		return false;
	}
	return staffweb_form(x, true);
}

const char *
staffweb_field(const struct staffweb_ctx *x, const char *name)
{
	const char *v = http_form_get(&x->form, name);
	return v ? v : "";
}

static void
login_page(struct staffweb_ctx *x, unsigned status, const char *error, const char *name)
{
	struct html_vars *v = NULL;
	struct staffweb_part p;

	if (staffweb_base_vars(x, "登录", error, NULL, &v) != TL_OK ||
	    html_vars_set(v, "name", name ? name : "") != TL_OK) {
		html_vars_free(v);
		staffweb_internal(x);
		return;
	}
	p.t = x->site->login;
	p.v = v;
	staffweb_render(x, status, &p, 1);
	html_vars_free(v);
}

void
staffweb_login(struct staffweb_ctx *x)
{
	char token[AUTH_TOKEN_HEX + 1], csrf[AUTH_TOKEN_HEX + 1];
	const char *name, *pw;
	struct db *db;
	enum tl_err e;

	if (staffweb_is_get(x->req->method)) {
		login_page(x, 200, NULL, NULL);
		return;
	}
	if (strcmp(x->req->method, "POST") != 0) {
		staffweb_method_not_allowed(x, "GET, POST");
		return;
	}
	if (!staffweb_form(x, false))
		return;
	name = http_form_get(&x->form, "name");
	pw = http_form_get(&x->form, "password");
	if (!name || !pw || !name[0] || !pw[0]) {
		login_page(x, 400, "请输入用户名和密码。", name);
		return;
	}
	token[0] = csrf[0] = '\0';
	db = x->site->db.get(x->site->db.cls);
	e = auth_login(db, name, pw, x->now_ms, token, csrf);
	x->site->db.put(x->site->db.cls, db);
	auth_secret_wipe(csrf, sizeof(csrf));
	switch (e) {
	case TL_OK:
		break;
	case TL_EDENIED:
		log_info("%s: login refused", lname(x));
		login_page(x, 401, "用户名或密码错误，或账户已被暂时锁定。", name);
		goto out;
	case TL_EUNAVAIL:
		login_page(x, 503, "系统繁忙，请稍后再试。", name);
		x->resp->retry_after_s = 3;
		goto out;
	case TL_EIO:
		staffweb_fatal(x);
		goto out;
	default:
		staffweb_internal(x);
		goto out;
	}
	if (http_cookie_session(&x->resp->set_cookie, token, x->site->cookie_secure) != TL_OK) {
		staffweb_internal(x);
		goto out;
	}
	log_info("%s: login user=%s", lname(x), name);
	staffweb_redirect(x, x->site->home ? x->site->home : "/");
out:
	auth_secret_wipe(token, sizeof(token));
}

void
staffweb_logout(struct staffweb_ctx *x)
{
	struct db *db;
	enum tl_err e;

	if (strcmp(x->req->method, "POST") != 0) {
		snprintf(x->resp->allow, sizeof(x->resp->allow), "POST");
		staffweb_message(x, 405, "请求无效", "请使用页面上的“退出登录”按钮。");
		return;
	}
	if (!staffweb_session(x) || !staffweb_form(x, true))
		return;
	db = x->site->db.get(x->site->db.cls);
	e = auth_logout(db, x->token, x->now_ms);
	x->site->db.put(x->site->db.cls, db);
	if (e != TL_OK) {
		if (e == TL_EIO)
			staffweb_fatal(x);
		else
			staffweb_internal(x);
		return;
	}
	log_info("%s: logout user=%s", lname(x), x->s.user.name);
	buf_reset(&x->resp->set_cookie);
	if (http_cookie_session_clear(&x->resp->set_cookie, x->site->cookie_secure) != TL_OK)
		buf_reset(&x->resp->set_cookie);
	staffweb_redirect(x, "/login");
}

/* ---- formatting ---- */

void
staffweb_fmt_time(int64_t ms, char out[STAFFWEB_TIME_LEN])
{
	time_t t;
	struct tm tm;

	if (ms <= 0) {
		snprintf(out, STAFFWEB_TIME_LEN, "—");
		return;
	}
	/* Beijing time has no daylight saving: a fixed UTC+8. */
	t = (time_t)(ms / 1000) + 8 * 3600;
	if (!gmtime_r(&t, &tm)) {
		snprintf(out, STAFFWEB_TIME_LEN, "—");
		return;
	}
	snprintf(out, STAFFWEB_TIME_LEN, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min);
}

void
staffweb_fmt_yuan(int64_t fen, char out[STAFFWEB_YUAN_LEN])
{
	char digits[24];
	uint64_t u, y;
	unsigned f;
	size_t n, o = 0;
	int w;

	/* Through uint64 so that INT64_MIN does not overflow on negation. */
	u = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
	y = u / 100;
	f = (unsigned)(u % 100);
	w = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)y);
	n = w > 0 ? (size_t)w : 0;
	if (fen < 0)
		out[o++] = '-';
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	snprintf(out + o, STAFFWEB_YUAN_LEN - o, ".%02u", f);
}

enum tl_err
staffweb_parse_yuan(const char *s, int64_t max_fen, int64_t *fen)
{
	int64_t y = 0, f = 0;
	int dec = -1, group = -1, digits = 0;
	bool too_big = false;

	*fen = 0;
	if (!s || !*s)
		return TL_EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p == ',') {
			/* Thousands separators only between correctly grouped
			 * digits of the integer part. */
			if (dec >= 0 || digits == 0 || (group >= 0 && group != 3) || (group < 0 && digits > 3))
				return TL_EINVAL;
			group = 0;
			continue;
		}
		if (*p == '.') {
			if (dec >= 0 || digits == 0 || (group >= 0 && group != 3))
				return TL_EINVAL;
			dec = 0;
			continue;
		}
		if (*p < '0' || *p > '9')
			return TL_EINVAL;
		if (dec >= 0) {
			if (++dec > 2)
				return TL_EINVAL;
			f = f * 10 + (*p - '0');
			continue;
		}
		digits++;
		if (group >= 0)
			group++;
		/* Keep scanning for syntax errors, but stop growing y once it
		 * is beyond any amount: 10^15 yuan is far above every cap. */
		if (y > INT64_C(1000000000000000))
			too_big = true;
		else
			y = y * 10 + (*p - '0');
	}
	if (digits == 0 || dec == 0 || (group >= 0 && group != 3))
		return TL_EINVAL;
	if (dec == 1)
		f *= 10;
	if (too_big || y > (INT64_MAX - f) / 100)
		return TL_ETOOBIG;
	*fen = y * 100 + f;
	if (*fen > max_fen) {
		*fen = 0;
		return TL_ETOOBIG;
	}
	return TL_OK;
}
