/*
 * api.c - see api.h.
 */
#include "compat.h"
#include "secret.h"
#include "api.h"
#include "clientaddr.h"
#include "ids.h"
#include "log.h"
#include "num.h"
#include "pages.h"
#include "request.h"
#include "status.h"
#include "timefmt.h"
#include "wire.h"

#include <jansson.h>
#include <sodium.h>

#define RECEIPTS_PREFIX "/api/v1/receipts/"
#define CLAIM_SUFFIX "/claim"
#define RECEIPT_MAX_INPUT STATUS_RECEIPT_MAX_INPUT
/* The per-receipt claim bucket of malformed receipts. */
#define DUMMY_RECEIPT "0000000000000000"

static const double publish_bounds[] = { 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025,
                                         0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };

enum tl_err
intake_api_metrics_init(struct intake_api *api)
{
	api->m_requests = metrics_counter(api->metrics, "tipline_http_requests_total",
	                                  "HTTP requests by route and status", "route,status");
	api->m_accepted = metrics_counter(api->metrics, "tipline_reports_accepted_total",
	                                  "Reports acknowledged by JetStream and answered 201", NULL);
	api->m_publish = metrics_histogram(api->metrics, "tipline_publish_seconds",
	                                   "Latency of one JetStream publish or KV write",
	                                   publish_bounds, TL_ARRAY_LEN(publish_bounds));
	api->m_connected = metrics_gauge(api->metrics, "tipline_nats_connected",
	                                 "1 when the NATS connection is up");
	api->m_claims = metrics_counter(api->metrics, "tipline_claims_submitted_total",
	                                "Award claims acknowledged by JetStream and answered 202", NULL);
	return api->m_requests && api->m_accepted && api->m_publish && api->m_connected && api->m_claims
	               ? TL_OK
	               : TL_ENOMEM;
}

/* ---- responses ---- */

static void
error(struct http_response *resp, unsigned status, const char *code, const char *message)
{
	resp->status = status;
	if (request_error_json(code, message, NULL, &resp->body) != TL_OK)
		buf_reset(&resp->body);
}

static void
unavailable(struct http_response *resp)
{
	error(resp, 503, "unavailable", "系统暂时无法受理，您的举报尚未提交，请稍后重试。");
	resp->retry_after_s = 5;
}

static void
internal(struct http_response *resp)
{
	error(resp, 500, "internal_error", "系统内部错误，您的举报尚未提交，请稍后重试。");
}

static void
method_not_allowed(struct http_response *resp, const char *allow)
{
	error(resp, 405, "method_not_allowed", "不支持该请求方法。");
	snprintf(resp->allow, sizeof(resp->allow), "%s", allow);
}

/* Serialises o into the (secret) response body and wipes jansson's copy. */
static void
send_json(struct http_response *resp, unsigned status, json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	if (!s) {
		internal(resp);
		return;
	}
	buf_reset(&resp->body);
	if (buf_append_str(&resp->body, s) != TL_OK)
		internal(resp);
	else
		resp->status = status;
	sodium_memzero(s, strlen(s));
	secret_json_free(s);
}

static bool
is_get(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

/* ---- POST /api/v1/reports ---- */

static void
post_report(struct intake_api *api, const struct http_request *req, struct http_response *resp,
            const char **what)
{
	struct intake_request ir;
	struct req_error rerr;
	struct report r;
	struct pipeline_result res;
	const char *idem;
	char shown[RECEIPT_SHOWN_LEN + 1];
	json_t *o = NULL;
	enum req_code rc;
	enum tl_err e;

	memset(&ir, 0, sizeof(ir));
	memset(&res, 0, sizeof(res));
	*what = "ok";
	if (strcmp(req->method, "POST") != 0) {
		method_not_allowed(resp, "POST");
		*what = "method_not_allowed";
		return;
	}
	if (!request_content_type_ok(http_header(req, "Content-Type"))) {
		error(resp, 415, "unsupported_media_type",
		      "请求类型必须是 application/json（UTF-8 编码）。");
		*what = "unsupported_media_type";
		return;
	}
	if (req->body_too_big) {
		char msg[128];
		snprintf(msg, sizeof(msg), "请求内容过大，上限为 %zu 字节。", api->max_body);
		error(resp, 413, "payload_too_large", msg);
		*what = "payload_too_large";
		return;
	}
	idem = http_header(req, "Idempotency-Key");
	if (idem && !request_idem_key_ok(idem)) {
		error(resp, 400, "invalid_idempotency_key",
		      "Idempotency-Key 必须是 1 到 200 个可打印 ASCII 字符。");
		*what = "invalid_idempotency_key";
		return;
	}
	if ((rc = request_parse(req->body, req->body_len, &ir, &rerr)) != REQ_OK) {
		resp->status = 400;
		if (request_error_body(&rerr, &resp->body) != TL_OK)
			internal(resp);
		*what = req_code_name(rc);
		return;
	}

	memset(&r, 0, sizeof(r));
	r.channel = "api";
	r.received_ms = time_now_ms();
	r.contact = ir.contact;
	r.text = ir.text;
	r.text_len = ir.text_len;
	r.location = ir.location;
	r.location_len = ir.location ? strlen(ir.location) : 0;
	r.district = ir.district[0] ? ir.district : NULL;
	r.category = ir.category;
	r.channel_msg_id = idem;
	if (idem) {
		r.idem_key = idem;
		r.idem_key_len = strlen(idem);
		r.idem_content = req->body;
		r.idem_content_len = req->body_len;
	}
	e = pipeline_submit(&api->pl, &r, &res);
	switch (e) {
	case TL_OK:
		break;
	case TL_ECONFLICT:
		error(resp, 422, "idempotency_key_reused",
		      "该 Idempotency-Key 已用于内容不同的另一份举报；新的举报请使用新的 Idempotency-Key。");
		*what = "idempotency_key_reused";
		goto out;
	case TL_EINVAL:
	case TL_ETOOBIG:
		error(resp, 400, "invalid_report", "举报内容无法处理，请检查后重试。");
		*what = "invalid_report";
		goto out;
	case TL_ENOMEM:
	case TL_ECRYPTO:
		internal(resp);
		*what = tl_strerror(e);
		goto out;
	default:
		/* Bus down, timeout, refusal: nothing was acknowledged. */
		unavailable(resp);
		*what = tl_strerror(e);
		goto out;
	}
	receipt_show(res.receipt, shown);
	if (!(o = json_object()) || json_object_set_new(o, "receipt", json_string(shown)) != 0 ||
	    json_object_set_new(o, "report_id", json_string(res.report_id)) != 0 ||
	    json_object_set_new(o, "district", json_string(res.district)) != 0) {
		internal(resp);
		goto out;
	}
	send_json(resp, 201, o);
	metric_inc(api->m_accepted, NULL);
	log_info("report accepted report=%s lead=%s district=%s rule=%s replay=%s", res.report_id,
	         res.lead_id, res.district, res.route_rule, res.replayed ? "yes" : "no");
out:
	if (o) {
		json_t *s = json_object_get(o, "receipt");
		if (s)
			sodium_memzero((char *)(uintptr_t)json_string_value(s), json_string_length(s));
		json_decref(o);
	}
	sodium_memzero(shown, sizeof(shown));
	sodium_memzero(&res, sizeof(res));
	request_free(&ir);
}

/* ---- GET /api/v1/receipts/{receipt} ---- */

enum tl_err
intake_url_decode(const char *s, char *out, size_t outlen)
{
	size_t n = 0;

	for (; *s; s++) {
		char c = *s;
		if (c == '%') {
			unsigned char v;
			if (!s[1] || !s[2] || hex_decode(s + 1, 2, &v, 1) != TL_OK)
				return TL_EINVAL;
			c = (char)v;
			s += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (n + 1 >= outlen)
			return TL_ETOOBIG;
		out[n++] = c;
	}
	out[n] = '\0';
	return TL_OK;
}

/* The status as JSON: what the /status page says, for programs. */
static enum tl_err
status_json(const struct wire_status *st, int64_t now_ms, json_t **out)
{
	char t[RFC3339_LEN + 1], yuan[STATUS_YUAN_MAX];
	struct buf msg;
	json_t *o;
	enum tl_err e = TL_ENOMEM;

	*out = NULL;
	buf_init(&msg, 4096);
	if (!(o = json_object()))
		goto out;
	time_format_rfc3339(st->updated_ms, t);
	if (json_object_set_new(o, "status", json_string(st->status)) != 0 ||
	    json_object_set_new(o, "updated_at", json_string(t)) != 0)
		goto out;
	if (st->amount_fen > 0) {
		status_yuan(st->amount_fen, false, yuan);
		if (json_object_set_new(o, "amount_fen", json_integer(st->amount_fen)) != 0 ||
		    json_object_set_new(o, "amount_yuan", json_string(yuan)) != 0)
			goto out;
	}
	if (st->claim_by_ms > 0) {
		time_format_rfc3339(st->claim_by_ms, t);
		if (json_object_set_new(o, "claim_by", json_string(t)) != 0)
			goto out;
	}
	if (st->reason[0] && json_object_set_new(o, "reason", json_string(st->reason)) != 0)
		goto out;
	if (json_object_set_new(o, "claim_open", json_boolean(status_claim_open(st, now_ms))) != 0)
		goto out;
	if ((e = status_message_zh(st, now_ms, &msg)) != TL_OK)
		goto out;
	e = TL_ENOMEM;
	if (json_object_set_new(o, "message", json_string(buf_str(&msg))) != 0)
		goto out;
	*out = o;
	o = NULL;
	e = TL_OK;
out:
	json_decref(o);
	buf_free(&msg);
	return e;
}

static void
get_receipt(struct intake_api *api, const struct http_request *req, struct http_response *resp,
            const char *raw, const char **what)
{
	char input[RECEIPT_MAX_INPUT + 1], digits[RECEIPT_DIGITS + 1];
	struct wire_status st;
	unsigned retry = 0;
	bool wellformed;
	json_t *o = NULL;
	enum tl_err e;

	*what = "ok";
	if (!is_get(req->method)) {
		method_not_allowed(resp, "GET, HEAD");
		*what = "method_not_allowed";
		return;
	}
	if (api->rl && !ratelimit_take(api->rl, req->client_addr, req->client_addr_len,
	                               time_mono_ms(), &retry)) {
		error(resp, 429, "rate_limited", "查询过于频繁，请稍后再试。");
		resp->retry_after_s = retry;
		*what = "rate_limited";
		return;
	}
	/* Malformed and unknown receipts take the same path to the same
	 * answer: hash something, look it up, say 404. */
	wellformed = strlen(raw) <= RECEIPT_MAX_INPUT &&
	             intake_url_decode(raw, input, sizeof(input)) == TL_OK &&
	             status_receipt_parse(input, digits);
	e = status_lookup(&api->pl, digits, wellformed, &st);
	if (e == TL_OK) {
		if (status_json(&st, time_now_ms(), &o) == TL_OK)
			send_json(resp, 200, o);
		else
			internal(resp);
	} else if (e == TL_ENOTFOUND) {
		error(resp, 404, "receipt_not_found", "未找到该回执号，请核对后重试。");
		*what = "receipt_not_found";
	} else {
		error(resp, 503, "unavailable", "暂时无法查询，请稍后重试。");
		resp->retry_after_s = 5;
		*what = tl_strerror(e);
	}
	json_decref(o);
	sodium_memzero(input, sizeof(input));
	sodium_memzero(digits, sizeof(digits));
}

/* ---- claims ---- */

enum intake_claim_outcome
intake_claim_run(struct intake_api *api, const char *digits, bool wellformed,
                 const struct claim_input *in, const char *idem_key, struct claim_result *res,
                 unsigned *retry_after_s)
{
	enum tl_err e;

	memset(res, 0, sizeof(*res));
	*retry_after_s = 0;
	/* Per receipt, so that many addresses cannot flood one reporter's
	 * vault queue; malformed receipts share the dummy's bucket. */
	if (api->claim_receipt_rl &&
	    !ratelimit_take(api->claim_receipt_rl, wellformed ? digits : DUMMY_RECEIPT, RECEIPT_DIGITS,
	                    time_mono_ms(), retry_after_s))
		return ICO_RATE_LIMITED;
	e = claim_submit(&api->pl, digits, wellformed, in, idem_key, time_now_ms(), res);
	switch (e) {
	case TL_OK:
		metric_inc(api->m_claims, NULL);
		log_info("claim submitted claim=%s", res->claim_id);
		return ICO_SUBMITTED;
	case TL_ENOTFOUND:
		return ICO_NOT_FOUND;
	case TL_ECONFLICT:
		return ICO_CONFLICT;
	case TL_ENOMEM:
	case TL_ECRYPTO:
	case TL_EINVAL:
	case TL_ETOOBIG:
		log_err("claim failed: %s", tl_strerror(e));
		return ICO_INTERNAL;
	default:
		log_warn("claim not published: %s", tl_strerror(e));
		return ICO_UNAVAILABLE;
	}
}

static void
post_claim(struct intake_api *api, const struct http_request *req, struct http_response *resp,
           const char *raw, const char **what)
{
	char input[RECEIPT_MAX_INPUT + 1], digits[RECEIPT_DIGITS + 1] = "";
	struct claim_input in;
	struct claim_errors errs;
	struct claim_result res;
	const char *idem;
	unsigned retry = 0;
	bool wellformed;
	json_t *o = NULL;

	memset(&in, 0, sizeof(in));
	*what = "ok";
	if (strcmp(req->method, "POST") != 0) {
		method_not_allowed(resp, "POST");
		*what = "method_not_allowed";
		return;
	}
	if (api->claim_rl && !ratelimit_take(api->claim_rl, req->client_addr, req->client_addr_len,
	                                     time_mono_ms(), &retry)) {
		error(resp, 429, "rate_limited", "提交过于频繁，请稍后再试。");
		resp->retry_after_s = retry;
		*what = "rate_limited";
		return;
	}
	if (!request_content_type_ok(http_header(req, "Content-Type"))) {
		error(resp, 415, "unsupported_media_type",
		      "请求类型必须是 application/json（UTF-8 编码）。");
		*what = "unsupported_media_type";
		return;
	}
	if (req->body_too_big) {
		char msg[128];
		snprintf(msg, sizeof(msg), "请求内容过大，上限为 %zu 字节。", api->max_body);
		error(resp, 413, "payload_too_large", msg);
		*what = "payload_too_large";
		return;
	}
	idem = http_header(req, "Idempotency-Key");
	if (idem && !request_idem_key_ok(idem)) {
		error(resp, 400, "invalid_idempotency_key",
		      "Idempotency-Key 必须是 1 到 200 个可打印 ASCII 字符。");
		*what = "invalid_idempotency_key";
		return;
	}
	if (claim_parse_json(req->body, req->body_len, &in, &errs) != CLAIM_OK) {
		resp->status = 400;
		if (claim_error_body(&errs, &resp->body) != TL_OK)
			internal(resp);
		*what = claim_code_name(errs.code);
		goto out;
	}
	wellformed = strlen(raw) <= RECEIPT_MAX_INPUT &&
	             intake_url_decode(raw, input, sizeof(input)) == TL_OK &&
	             status_receipt_parse(input, digits);
	switch (intake_claim_run(api, digits, wellformed, &in, idem, &res, &retry)) {
	case ICO_SUBMITTED:
		if ((o = json_object()) && json_object_set_new(o, "status", json_string("claim_submitted")) == 0 &&
		    json_object_set_new(o, "message", json_string("已提交，正在核验。核验结果请凭回执号查询。")) == 0)
			send_json(resp, 202, o);
		else
			internal(resp);
		*what = "claim_submitted";
		break;
	case ICO_NOT_FOUND:
		error(resp, 404, "receipt_not_found", "未找到该回执号，请核对后重试。");
		*what = "receipt_not_found";
		break;
	case ICO_CONFLICT:
		error(resp, 409, claim_state_code(res.state), claim_state_message(res.state));
		*what = claim_state_code(res.state);
		break;
	case ICO_RATE_LIMITED:
		error(resp, 429, "rate_limited", "该回执号的领奖申请提交过于频繁，请稍后再试。");
		resp->retry_after_s = retry ? retry : 1;
		*what = "rate_limited";
		break;
	case ICO_UNAVAILABLE:
		error(resp, 503, "unavailable", "系统暂时无法受理，您的领奖申请尚未提交，请稍后重试。");
		resp->retry_after_s = 5;
		*what = "unavailable";
		break;
	default:
		error(resp, 500, "internal_error", "系统内部错误，您的领奖申请尚未提交，请稍后重试。");
		*what = "internal_error";
		break;
	}
out:
	json_decref(o);
	claim_input_free(&in);
	sodium_memzero(input, sizeof(input));
	sodium_memzero(digits, sizeof(digits));
}

/* ---- health and metrics ---- */

static void
get_health(struct intake_api *api, const struct http_request *req, struct http_response *resp)
{
	char why[128] = "";
	enum tl_err e = TL_OK;
	json_t *o = json_object();

	if (!is_get(req->method)) {
		json_decref(o);
		method_not_allowed(resp, "GET, HEAD");
		return;
	}
	if (api->nb)
		e = natsbus_health(api->nb, api->health_cache_ms, why, sizeof(why));
	if (!o) {
		internal(resp);
		return;
	}
	if (e == TL_OK) {
		json_object_set_new(o, "status", json_string("ok"));
		send_json(resp, 200, o);
	} else {
		json_object_set_new(o, "status", json_string("unavailable"));
		json_object_set_new(o, "failed", json_string(why));
		send_json(resp, 503, o);
		resp->retry_after_s = 5;
	}
	json_decref(o);
}

static void
get_metrics(struct intake_api *api, const struct http_request *req, struct http_response *resp)
{
	if (!is_get(req->method)) {
		method_not_allowed(resp, "GET, HEAD");
		return;
	}
	if (api->nb)
		metric_set(api->m_connected, natsbus_connected(api->nb) ? 1 : 0);
	buf_reset(&resp->body);
	if (metrics_render(api->metrics, &resp->body) != TL_OK) {
		internal(resp);
		return;
	}
	resp->status = 200;
	/* Prometheus parses by this type; JSON would be a lie here. */
	snprintf(resp->content_type, sizeof(resp->content_type), "text/plain; version=0.0.4; charset=utf-8");
}

void
intake_api_handle(void *cls, const struct http_request *orig, struct http_response *resp)
{
	struct intake_api *api = cls;
	const char *route = "other", *what = "ok";
	char status[8];
	int64_t t0 = time_mono_ms();
	struct http_request creq = *orig;
	const struct http_request *req = &creq;
	struct clientaddr ca;

	/* Every rate limiter below (and in pages.c) keys on client_addr:
	 * behind our proxy that has to be the reporter, not the proxy. */
	clientaddr_derive(&api->trusted, orig->client_addr, orig->client_addr_len,
	                  http_header(orig, "X-Forwarded-For"), &ca);
	memcpy(creq.client_addr, ca.addr, sizeof(creq.client_addr));
	creq.client_addr_len = ca.len;
	sodium_memzero(&ca, sizeof(ca));

	if (strcmp(req->path, "/api/v1/reports") == 0) {
		route = "reports";
		post_report(api, req, resp, &what);
	} else if (strncmp(req->path, RECEIPTS_PREFIX, strlen(RECEIPTS_PREFIX)) == 0) {
		const char *raw = req->path + strlen(RECEIPTS_PREFIX);
		size_t n = strlen(raw), sl = strlen(CLAIM_SUFFIX);
		if (n > sl && strcmp(raw + n - sl, CLAIM_SUFFIX) == 0) {
			char rcpt[RECEIPT_MAX_INPUT + 1];
			route = "claims";
			/* A spelling too long for a receipt takes the malformed
			 * path ("!" never parses). */
			if (n - sl > RECEIPT_MAX_INPUT)
				snprintf(rcpt, sizeof(rcpt), "!");
			else
				snprintf(rcpt, sizeof(rcpt), "%.*s", (int)(n - sl), raw);
			post_claim(api, req, resp, rcpt, &what);
			sodium_memzero(rcpt, sizeof(rcpt));
		} else {
			route = "receipts";
			get_receipt(api, req, resp, raw, &what);
		}
	} else if (strcmp(req->path, "/status") == 0 || strncmp(req->path, "/status/", 8) == 0) {
		route = strcmp(req->path, "/status/claim") == 0 ? "status_claim" : "status";
		intake_pages_handle(api, req, resp, &what);
	} else if (strcmp(req->path, "/favicon.ico") == 0 &&
	           (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)) {
		/* Browsers ask for it on every /status page: no icon, and 204
		 * rather than a 404 in every reporter's console. */
		route = "status";
		resp->status = 204;
	} else if (strcmp(req->path, "/healthz") == 0) {
		route = "healthz";
		get_health(api, req, resp);
	} else if (strcmp(req->path, "/metrics") == 0) {
		route = "metrics";
		get_metrics(api, req, resp);
	} else {
		error(resp, 404, "not_found", "请求的地址不存在。");
		what = "not_found";
	}
	snprintf(status, sizeof(status), "%u", resp->status);
	metric_inc(api->m_requests, (const char *const[]){ route, status });
	/* Route and outcome only: the receipt route's path is a secret. */
	if (resp->status >= 400 || strcmp(route, "reports") == 0 || strcmp(route, "claims") == 0)
		log_msg(resp->status >= 500 ? LOG_WARN : resp->status == 201 ? LOG_DEBUG : LOG_INFO,
		        "http route=%s status=%u result=%s ms=%lld", route, resp->status, what,
		        (long long)(time_mono_ms() - t0));
	sodium_memzero(creq.client_addr, sizeof(creq.client_addr));
}
