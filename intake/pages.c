/*
 * pages.c - see pages.h.
 */
#include "compat.h"
#include "pages.h"
#include "claim.h"
#include "html.h"
#include "log.h"
#include "num.h"
#include "status.h"
#include "timefmt.h"
#include "web_intake.h"

#include <sodium.h>
#include <strings.h>

#define VARS_MAX (64 * 1024)
#define CSRF_BYTES 32
#define CSRF_HEX (2 * CSRF_BYTES)
#define CSRF_MAX_AGE_S 7200
#define FORM_MAX_FIELDS 16

enum tmpl { T_HEAD, T_FOOT, T_LOOKUP, T_STATUS, T_CLAIM, T_DONE, T_MESSAGE, T_COUNT };

static const char *const tmpl_files[T_COUNT] = {
	"head.html", "foot.html", "lookup.html", "status.html", "claim.html", "done.html", "message.html",
};

struct intake_pages {
	struct html_tmpl *t[T_COUNT];
	const unsigned char *css;
	size_t css_len;
};

static const struct tl_embedded_file *
embedded(const char *name)
{
	for (size_t i = 0; i < web_intake_files_count; i++)
		if (web_intake_files[i].name && strcmp(web_intake_files[i].name, name) == 0)
			return &web_intake_files[i];
	return NULL;
}

enum tl_err
intake_pages_new(struct intake_pages **out, char *err, size_t errlen)
{
	struct intake_pages *p;
	const struct tl_embedded_file *f;
	char why[256];
	enum tl_err e;

	*out = NULL;
	if (!(p = calloc(1, sizeof(*p))))
		return TL_ENOMEM;
	for (int i = 0; i < T_COUNT; i++) {
		if (!(f = embedded(tmpl_files[i]))) {
			snprintf(err, errlen, "template %s is not embedded", tmpl_files[i]);
			e = TL_ECONFIG;
			goto fail;
		}
		if ((e = html_tmpl_compile((const char *)f->data, f->len, &p->t[i], why, sizeof(why))) != TL_OK) {
			snprintf(err, errlen, "template %s: %s", tmpl_files[i], why);
			goto fail;
		}
	}
	if (!(f = embedded("style.css"))) {
		snprintf(err, errlen, "style.css is not embedded");
		e = TL_ECONFIG;
		goto fail;
	}
	p->css = f->data;
	p->css_len = f->len;
	*out = p;
	return TL_OK;
fail:
	intake_pages_free(p);
	return e;
}

void
intake_pages_free(struct intake_pages *p)
{
	if (!p)
		return;
	for (int i = 0; i < T_COUNT; i++)
		html_tmpl_free(p->t[i]);
	free(p);
}

/* ---- rendering ---- */

static void
plain_500(struct http_response *resp)
{
	buf_reset(&resp->body);
	resp->status = 500;
	snprintf(resp->content_type, sizeof(resp->content_type), "text/plain; charset=utf-8");
	if (buf_append_str(&resp->body, "页面生成失败，请稍后重试。\n") != TL_OK)
		buf_reset(&resp->body);
}

/* head + t + foot with v; any failure is a plain 500, never half a page. */
static void
render(struct intake_api *api, struct http_response *resp, unsigned status, enum tmpl t,
       const struct html_vars *v)
{
	struct buf *b = &resp->body;
	const struct intake_pages *p = api->pages;
	enum tl_err e = TL_EINVAL;

	buf_reset(b);
	if (!p || (e = html_render(p->t[T_HEAD], v, b)) != TL_OK ||
	    (e = html_render(p->t[t], v, b)) != TL_OK || (e = html_render(p->t[T_FOOT], v, b)) != TL_OK) {
		log_err("pages: rendering %s failed (%s)", tmpl_files[t], tl_strerror(e));
		plain_500(resp);
		return;
	}
	resp->status = status;
	snprintf(resp->content_type, sizeof(resp->content_type), "%s", HTTP_HTML_CONTENT_TYPE);
}

static void
message_page(struct intake_api *api, struct http_response *resp, unsigned status, const char *title,
             const char *message, const char *back, const char *back_label)
{
	struct html_vars *v = NULL;

	if (html_vars_new(VARS_MAX, &v) != TL_OK || html_vars_set(v, "title", title) != TL_OK ||
	    html_vars_set(v, "message", message) != TL_OK ||
	    html_vars_set(v, "kind", status < 300 ? "notice" : "error") != TL_OK ||
	    html_vars_set(v, "back", back ? back : "") != TL_OK ||
	    html_vars_set(v, "back_label", back_label ? back_label : "") != TL_OK) {
		html_vars_free(v);
		plain_500(resp);
		return;
	}
	render(api, resp, status, T_MESSAGE, v);
	html_vars_free(v);
}

/* The receipt form; not_found adds the one "未找到" line.  Nothing of the
 * request is on it, so every unknown receipt gets the same bytes. */
static void
lookup_page(struct intake_api *api, struct http_response *resp, bool not_found)
{
	struct html_vars *v = NULL;

	if (html_vars_new(VARS_MAX, &v) != TL_OK ||
	    html_vars_set(v, "title", not_found ? "未找到" : "查询举报进度") != TL_OK ||
	    html_vars_set_bool(v, "not_found", not_found) != TL_OK) {
		html_vars_free(v);
		plain_500(resp);
		return;
	}
	render(api, resp, not_found ? 404 : 200, T_LOOKUP, v);
	html_vars_free(v);
}

static void
method_not_allowed(struct intake_api *api, struct http_response *resp, const char *allow)
{
	message_page(api, resp, 405, "不支持的请求", "不支持该请求方法。", "/status", "返回查询页面");
	snprintf(resp->allow, sizeof(resp->allow), "%s", allow);
}

static void
rate_limited(struct intake_api *api, struct http_response *resp, unsigned retry)
{
	message_page(api, resp, 429, "请稍后再试", "操作过于频繁，请稍后再试。", NULL, NULL);
	resp->retry_after_s = retry ? retry : 1;
}

static void
unavailable(struct intake_api *api, struct http_response *resp, const char *message)
{
	message_page(api, resp, 503, "暂时无法处理", message, NULL, NULL);
	resp->retry_after_s = 5;
}

static bool
is_get(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

/* "/status?receipt=<digits>" or "/status/claim?receipt=<digits>". */
static void
link_to(char *out, size_t outlen, const char *page, const char *digits)
{
	snprintf(out, outlen, "%s?receipt=%s", page, digits);
}

/* A token from the client's bucket in rl (none: no limit); false with
 * the 429 page set. */
static bool
take_token(struct intake_api *api, struct ratelimit *rl, const struct http_request *req,
           struct http_response *resp, const char **what)
{
	unsigned retry = 0;

	if (!rl || ratelimit_take(rl, req->client_addr, req->client_addr_len, time_mono_ms(), &retry))
		return true;
	rate_limited(api, resp, retry);
	*what = "rate_limited";
	return false;
}

/* The receipt's status into *st; false with the page set when the receipt
 * is unknown or the store cannot answer (busy: what the reporter reads
 * then). */
static bool
look_up(struct intake_api *api, struct http_response *resp, const char *digits, bool wellformed,
        struct wire_status *st, const char *busy, const char **what)
{
	enum tl_err e = status_lookup(&api->pl, digits, wellformed, st);

	if (e == TL_ENOTFOUND) {
		lookup_page(api, resp, true);
		*what = "receipt_not_found";
	} else if (e != TL_OK) {
		unavailable(api, resp, busy);
		*what = tl_strerror(e);
	}
	return e == TL_OK;
}

/* ---- GET /status ---- */

static void
status_page(struct intake_api *api, const struct http_request *req, struct http_response *resp,
            const char **what)
{
	const char *q = http_query(req, "receipt");
	char digits[RECEIPT_DIGITS + 1] = "", shown[RECEIPT_SHOWN_LEN + 1], date[STATUS_DATE_MAX];
	struct wire_status st;
	struct html_vars *v = NULL;
	struct buf msg;
	bool wellformed;

	if (!is_get(req->method)) {
		method_not_allowed(api, resp, "GET, HEAD");
		*what = "method_not_allowed";
		return;
	}
	if (!q || !q[0]) {
		lookup_page(api, resp, false);
		return;
	}
	/* The API's bucket: a page must not be a way around its limit. */
	if (!take_token(api, api->rl, req, resp, what))
		return;
	wellformed = status_receipt_parse(q, digits);
	if (!look_up(api, resp, digits, wellformed, &st, "暂时无法查询，请稍后重试。", what))
		goto out;
	buf_init(&msg, 4096);
	receipt_show(digits, shown);
	status_date_zh(st.updated_ms, date);
	if (status_message_zh(&st, time_now_ms(), &msg) != TL_OK || html_vars_new(VARS_MAX, &v) != TL_OK ||
	    html_vars_set(v, "title", "举报进度") != TL_OK ||
	    html_vars_set(v, "receipt_shown", shown) != TL_OK || html_vars_set(v, "receipt", digits) != TL_OK ||
	    html_vars_set(v, "label", status_label_zh(st.status)) != TL_OK ||
	    html_vars_set(v, "message", buf_str(&msg)) != TL_OK ||
	    html_vars_set_bool(v, "claim_open", status_claim_open(&st, time_now_ms())) != TL_OK ||
	    html_vars_set(v, "updated", date) != TL_OK)
		plain_500(resp);
	else
		render(api, resp, 200, T_STATUS, v);
	html_vars_free(v);
	buf_free(&msg);
	sodium_memzero(shown, sizeof(shown));
out:
	sodium_memzero(digits, sizeof(digits));
}

/* ---- the claim form ---- */

struct form_state {
	const char *digits;
	const char *csrf;
	const struct wire_status *st; /* NULL: no status line */
	const struct claim_errors *errs; /* NULL: a fresh form */
	const char *bank;             /* refilled after an error, else "" */
};

static const char *const field_labels[CF_N] = { "收款人姓名", "身份证号码", "开户银行", "银行账号",
	                                         "手机号码" };

static void
claim_form(struct intake_api *api, struct http_response *resp, unsigned status,
           const struct form_state *fs)
{
	char shown[RECEIPT_SHOWN_LEN + 1];
	struct html_vars *v = NULL, *row;
	struct buf msg;
	enum tl_err e;

	buf_init(&msg, 4096);
	receipt_show(fs->digits, shown);
	if (fs->st && (e = status_message_zh(fs->st, time_now_ms(), &msg)) != TL_OK)
		goto fail;
	if ((e = html_vars_new(VARS_MAX, &v)) != TL_OK || (e = html_vars_set(v, "title", "填写领奖信息")) != TL_OK ||
	    (e = html_vars_set(v, "receipt_shown", shown)) != TL_OK ||
	    (e = html_vars_set(v, "receipt", fs->digits)) != TL_OK ||
	    (e = html_vars_set(v, "csrf", fs->csrf)) != TL_OK ||
	    (e = html_vars_set(v, "message", buf_str(&msg))) != TL_OK ||
	    (e = html_vars_set(v, "bank", fs->bank ? fs->bank : "")) != TL_OK ||
	    (e = html_vars_set_bool(v, "errors", fs->errs != NULL)) != TL_OK ||
	    (e = html_vars_list(v, "error_list")) != TL_OK)
		goto fail;
	for (int f = 0; fs->errs && f < CF_N; f++) {
		if (fs->errs->per[f] == CLAIM_OK)
			continue;
		if ((e = html_vars_add_row(v, "error_list", &row)) != TL_OK ||
		    (e = html_vars_set(row, "field_label", field_labels[f])) != TL_OK ||
		    (e = html_vars_set(row, "text", claim_code_message(fs->errs->per[f]))) != TL_OK)
			goto fail;
	}
	render(api, resp, status, T_CLAIM, v);
	goto out;
fail:
	plain_500(resp);
out:
	html_vars_free(v);
	buf_free(&msg);
	sodium_memzero(shown, sizeof(shown));
}

static enum tl_err
csrf_cookie(struct intake_api *api, struct http_response *resp, const char *token)
{
	buf_reset(&resp->set_cookie);
	return buf_printf(&resp->set_cookie, "%s=%s; Path=/status/claim; Max-Age=%d; HttpOnly; SameSite=Strict%s",
	                  PAGES_CSRF_COOKIE, token, CSRF_MAX_AGE_S, api->cookie_secure ? "; Secure" : "");
}

static void
not_open_page(struct intake_api *api, struct http_response *resp, enum claim_state s, const char *digits)
{
	char back[64];

	link_to(back, sizeof(back), "/status", digits);
	message_page(api, resp, 409, "暂不能申领", claim_state_message(s), back, "查看进度");
}

/* false with the page set unless the receipt may claim now. */
static bool
claim_open(struct intake_api *api, struct http_response *resp, const struct wire_status *st,
           const char *digits, const char **what)
{
	enum claim_state cs = claim_state_of(st, time_now_ms());

	if (cs == CLAIM_STATE_OPEN)
		return true;
	not_open_page(api, resp, cs, digits);
	*what = claim_state_code(cs);
	return false;
}

/* GET /status/claim?receipt= */
static void
claim_get(struct intake_api *api, const struct http_request *req, struct http_response *resp,
          const char **what)
{
	const char *q = http_query(req, "receipt");
	char digits[RECEIPT_DIGITS + 1] = "", csrf[CSRF_HEX + 1];
	unsigned char raw[CSRF_BYTES];
	struct wire_status st;
	struct form_state fs;
	bool wellformed;

	csrf[0] = '\0';
	if (!q || !q[0]) {
		resp->status = 303;
		snprintf(resp->location, sizeof(resp->location), "/status");
		return;
	}
	if (!take_token(api, api->rl, req, resp, what))
		return;
	wellformed = status_receipt_parse(q, digits);
	if (!look_up(api, resp, digits, wellformed, &st, "暂时无法查询，请稍后重试。", what) ||
	    !claim_open(api, resp, &st, digits, what))
		goto out;
	randombytes_buf(raw, sizeof(raw));
	hex_encode(raw, sizeof(raw), csrf);
	sodium_memzero(raw, sizeof(raw));
	if (csrf_cookie(api, resp, csrf) != TL_OK) {
		plain_500(resp);
		goto out;
	}
	memset(&fs, 0, sizeof(fs));
	fs.digits = digits;
	fs.csrf = csrf;
	fs.st = &st;
	claim_form(api, resp, 200, &fs);
out:
	sodium_memzero(csrf, sizeof(csrf));
	sodium_memzero(digits, sizeof(digits));
}

/* "scheme://host[:port]" (or a URL starting so) names host, the request's
 * Host header. */
static bool
names_host(const char *url, const char *host)
{
	const char *h = strstr(url, "://");
	size_t n;

	if (!h || !host)
		return false;
	h += 3;
	n = strcspn(h, "/?#");
	return n == strlen(host) && strncasecmp(h, host, n) == 0;
}

static bool
same_origin(const struct http_request *req)
{
	const char *site = http_header(req, "Sec-Fetch-Site");
	const char *origin = http_header(req, "Origin");
	const char *referer = http_header(req, "Referer");
	const char *host = http_header(req, "Host");

	if (site && strcmp(site, "same-origin") != 0)
		return false;
	if (origin && strcmp(origin, "null") != 0 && !names_host(origin, host))
		return false;
	if (referer && !names_host(referer, host))
		return false;
	return true;
}

static bool
csrf_ok(const struct http_request *req, const char *field)
{
	char cookie[HTTP_COOKIE_MAX + 1];
	bool ok;

	if (!field || strlen(field) != CSRF_HEX)
		return false;
	if (http_cookie_get(req, PAGES_CSRF_COOKIE, cookie, sizeof(cookie)) != TL_OK)
		return false;
	ok = strlen(cookie) == CSRF_HEX && sodium_memcmp(cookie, field, CSRF_HEX) == 0;
	for (size_t i = 0; ok && i < CSRF_HEX; i++)
		ok = (field[i] >= '0' && field[i] <= '9') || (field[i] >= 'a' && field[i] <= 'f');
	sodium_memzero(cookie, sizeof(cookie));
	return ok;
}

/* POST /status/claim */
static void
claim_post(struct intake_api *api, const struct http_request *req, struct http_response *resp,
           const char **what)
{
	static const char *const allowed[] = { "receipt", "csrf", "name", "id_number", "bank", "account", "phone" };
	struct http_form form;
	struct claim_input in;
	struct claim_errors errs;
	struct claim_result res;
	struct wire_status st;
	struct form_state fs;
	const char *raw[CF_N], *csrf, *q;
	size_t lens[CF_N];
	char digits[RECEIPT_DIGITS + 1] = "", back[64], idem[CSRF_HEX + 8];
	unsigned retry = 0;
	bool wellformed;

	memset(&form, 0, sizeof(form));
	memset(&in, 0, sizeof(in));
	idem[0] = '\0';
	if (!take_token(api, api->claim_rl, req, resp, what))
		return;
	if (req->body_too_big) {
		message_page(api, resp, 413, "提交内容过大", "提交的内容过大，请检查后重新填写。", "/status",
		             "返回查询页面");
		*what = "payload_too_large";
		return;
	}
	if (!http_form_content_type_ok(http_header(req, "Content-Type"))) {
		message_page(api, resp, 415, "无法处理", "请通过领奖页面的表单提交。", "/status", "返回查询页面");
		*what = "unsupported_media_type";
		return;
	}
	if (!same_origin(req)) {
		message_page(api, resp, 403, "请求来源不明",
		             "该请求不是从本网站的领奖页面提交的，已拒绝。请打开领奖页面重新填写。", "/status",
		             "返回查询页面");
		*what = "cross_origin";
		return;
	}
	if (http_form_parse(req->body, req->body_len, api->max_body, FORM_MAX_FIELDS, NULL, &form) != TL_OK) {
		message_page(api, resp, 400, "表单内容无效",
		             "提交的表单内容无效（可能含有无法识别的字符），请重新打开领奖页面填写。", "/status",
		             "返回查询页面");
		*what = "invalid_form";
		return;
	}
	for (size_t i = 0; i < form.n; i++) {
		size_t k;
		for (k = 0; k < TL_ARRAY_LEN(allowed); k++)
			if (strcmp(form.f[i].name, allowed[k]) == 0)
				break;
		if (k == TL_ARRAY_LEN(allowed)) {
			message_page(api, resp, 400, "表单内容无效", "表单包含不支持的字段，请重新打开领奖页面填写。",
			             "/status", "返回查询页面");
			*what = "unknown_field";
			goto out;
		}
	}
	q = http_form_get(&form, "receipt");
	wellformed = q && status_receipt_parse(q, digits);
	csrf = http_form_get(&form, "csrf");
	if (!csrf_ok(req, csrf)) {
		char again[64];
		link_to(again, sizeof(again), "/status/claim", digits);
		message_page(api, resp, 403, "页面已过期",
		             "页面已过期或不是从本网站打开的，信息未提交。请重新打开领奖页面填写。",
		             wellformed ? again : "/status", wellformed ? "重新打开领奖页面" : "返回查询页面");
		*what = "csrf_failed";
		goto out;
	}
	/* Where the claim stands first: a reporter should not type everything
	 * again only to hear that the window has closed. */
	if (!look_up(api, resp, digits, wellformed, &st, "系统暂时无法受理，您的领奖申请尚未提交，请稍后重试。",
	             what) ||
	    !claim_open(api, resp, &st, digits, what))
		goto out;
	for (int f = 0; f < CF_N; f++) {
		raw[f] = http_form_get(&form, claim_field_name((enum claim_field)f));
		lens[f] = raw[f] ? strlen(raw[f]) : 0;
	}
	if (claim_validate(raw, lens, &in, &errs) != CLAIM_OK) {
		memset(&fs, 0, sizeof(fs));
		fs.digits = digits;
		fs.csrf = csrf;
		fs.st = &st;
		fs.errs = &errs;
		/* Only the bank comes back: it names no one.  Bounded by the
		 * field cap, escaped by the template. */
		fs.bank = raw[CF_BANK] && lens[CF_BANK] <= CLAIM_FIELD_MAX_BYTES ? raw[CF_BANK] : "";
		claim_form(api, resp, 400, &fs);
		*what = claim_code_name(errs.code);
		goto out;
	}
	/* The form's token is this page's idempotency key: a double click or
	 * a resubmitted page is one claim. */
	snprintf(idem, sizeof(idem), "form:%s", csrf);
	switch (intake_claim_run(api, digits, wellformed, &in, idem, &res, &retry)) {
	case ICO_SUBMITTED: {
		struct html_vars *v = NULL;
		if (html_vars_new(VARS_MAX, &v) != TL_OK || html_vars_set(v, "title", "已提交") != TL_OK ||
		    html_vars_set(v, "receipt", digits) != TL_OK)
			plain_500(resp);
		else
			render(api, resp, 202, T_DONE, v);
		html_vars_free(v);
		*what = "claim_submitted";
		break;
	}
	case ICO_NOT_FOUND:
		lookup_page(api, resp, true);
		*what = "receipt_not_found";
		break;
	case ICO_CONFLICT:
		not_open_page(api, resp, res.state, digits);
		*what = claim_state_code(res.state);
		break;
	case ICO_RATE_LIMITED:
		link_to(back, sizeof(back), "/status", digits);
		message_page(api, resp, 429, "请稍后再试", "该回执号的领奖申请提交过于频繁，请稍后再试。", back,
		             "查看进度");
		resp->retry_after_s = retry ? retry : 1;
		*what = "rate_limited";
		break;
	case ICO_UNAVAILABLE:
		unavailable(api, resp, "系统暂时无法受理，您的领奖申请尚未提交，请稍后重试。");
		*what = "unavailable";
		break;
	default:
		message_page(api, resp, 500, "系统错误", "系统内部错误，您的领奖申请尚未提交，请稍后重试。", NULL,
		             NULL);
		*what = "internal_error";
		break;
	}
out:
	claim_input_free(&in);
	http_form_free(&form);
	sodium_memzero(idem, sizeof(idem));
	sodium_memzero(digits, sizeof(digits));
	sodium_memzero(&st, sizeof(st));
}

static void
css(struct intake_api *api, const struct http_request *req, struct http_response *resp)
{
	if (!is_get(req->method)) {
		method_not_allowed(api, resp, "GET, HEAD");
		return;
	}
	if (!api->pages) {
		plain_500(resp);
		return;
	}
	buf_reset(&resp->body);
	if (buf_append(&resp->body, api->pages->css, api->pages->css_len) != TL_OK) {
		plain_500(resp);
		return;
	}
	resp->status = 200;
	snprintf(resp->content_type, sizeof(resp->content_type), "text/css; charset=utf-8");
}

void
intake_pages_handle(struct intake_api *api, const struct http_request *req, struct http_response *resp,
                    const char **what)
{
	*what = "ok";
	if (strcmp(req->path, "/status") == 0 || strcmp(req->path, "/status/") == 0) {
		status_page(api, req, resp, what);
	} else if (strcmp(req->path, "/status/claim") == 0) {
		if (is_get(req->method))
			claim_get(api, req, resp, what);
		else if (strcmp(req->method, "POST") == 0)
			claim_post(api, req, resp, what);
		else {
			method_not_allowed(api, resp, "GET, HEAD, POST");
			*what = "method_not_allowed";
		}
	} else if (strcmp(req->path, "/status/style.css") == 0) {
		css(api, req, resp);
	} else {
		message_page(api, resp, 404, "页面不存在", "请求的页面不存在。", "/status", "返回查询页面");
		*what = "not_found";
	}
}
