/*
 * api_test.c - tipline-intake's HTTP surface over a real libmicrohttpd
 * server on a loopback port, with the bus faked: status codes, error
 * bodies, security headers, body limits (Content-Length and chunked),
 * receipts (found / unknown / malformed alike), rate limiting, 503 with
 * Retry-After, metrics - and that no error publishes anything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "compat.h"
#include "api.h"
#include "pages.h"
#include "secret.h"
#include "timefmt.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_BODY 4096

struct fake {
	int published;
	enum tl_err fail; /* returned by every write when set */
	char keys[64][160];
	char vals[64][256];
	int nkv;
};

static enum tl_err
f_publish(void *cls, const char *subject, const void *data, size_t len, const char *msg_id)
{
	struct fake *f = cls;

	if (f->fail)
		return f->fail;
	f->published++;
	return TL_OK;
}

static enum tl_err
f_kv_create(void *cls, const char *bucket, const char *key, const void *val, size_t len)
{
	struct fake *f = cls;

	if (f->fail)
		return f->fail;
	for (int i = 0; i < f->nkv; i++)
		if (strncmp(f->keys[i], key, sizeof(f->keys[i])) == 0)
			return TL_EEXIST;
	assert_true(f->nkv < 64 && len < 256);
	snprintf(f->keys[f->nkv], sizeof(f->keys[0]), "%s", key);
	memcpy(f->vals[f->nkv], val, len);
	f->vals[f->nkv++][len] = '\0';
	return TL_OK;
}

static enum tl_err
f_kv_get(void *cls, const char *bucket, const char *key, struct buf *val)
{
	struct fake *f = cls;

	for (int i = 0; i < f->nkv; i++)
		if (strcmp(f->keys[i], key) == 0) {
			buf_reset(val);
			return buf_append_str(val, f->vals[i]);
		}
	return TL_ENOTFOUND;
}

struct ctx {
	struct fake f;
	struct intake_api api;
	struct http_server *srv;
	struct route_gazetteer *gaz;
	unsigned char keys[96];
	uint16_t port;
};

static struct ctx *C;

static int
setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct http_opts ho;
	unsigned char sk[32];

	assert_int_equal(secret_init(), TL_OK);
	crypto_box_keypair(c->api.pl.vault_pk, sk);
	randombytes_buf(c->keys, sizeof(c->keys));
	assert_int_equal(route_gazetteer_load(TL_DATADIR "/tianjin-gazetteer.tsv", &c->gaz), TL_OK);
	c->api.pl.status_key = c->keys;
	c->api.pl.ids_key = c->keys + 32;
	c->api.pl.gaz = c->gaz;
	c->api.pl.bus = (struct pipeline_bus){ &c->f, f_publish, f_kv_create, f_kv_get };
	c->api.max_body = MAX_BODY;
	assert_non_null(c->api.metrics = metrics_new());
	assert_int_equal(intake_api_metrics_init(&c->api), TL_OK);
	assert_int_equal(ratelimit_new(c->keys + 64, 5, &c->api.rl), TL_OK);
	assert_int_equal(ratelimit_new(c->keys + 64, 20, &c->api.claim_rl), TL_OK);
	assert_int_equal(ratelimit_new(c->keys + 64, 3, &c->api.claim_receipt_rl), TL_OK);
	{
		char err[256];
		assert_int_equal(intake_pages_new(&c->api.pages, err, sizeof(err)), TL_OK);
	}
	memset(&ho, 0, sizeof(ho));
	ho.address = "127.0.0.1";
	ho.threads = 2;
	ho.max_body = MAX_BODY;
	ho.handler = intake_api_handle;
	ho.cls = &c->api;
	assert_int_equal(http_server_start(&ho, &c->srv), TL_OK);
	c->port = http_server_port(c->srv);
	assert_true(c->port > 0);
	C = c;
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct ctx *c = *state;

	http_server_stop(c->srv);
	ratelimit_free(c->api.rl);
	ratelimit_free(c->api.claim_rl);
	ratelimit_free(c->api.claim_receipt_rl);
	intake_pages_free(c->api.pages);
	metrics_free(c->api.metrics);
	route_gazetteer_free(c->gaz);
	free(c);
	return 0;
}

struct resp {
	int status;
	char head[4096];
	char *body;
};

/* Sends raw bytes, reads until the server closes (Connection: close). */
static void
raw(const char *req, size_t len, struct resp *r)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(C->port) };
	static char in[256 * 1024];
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char *sep;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	for (size_t off = 0; off < len;) {
		n = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break; /* the server may answer 413 and close early */
		off += (size_t)n;
	}
	while (got < sizeof(in) - 1 && (n = recv(fd, in + got, sizeof(in) - 1 - got, 0)) > 0)
		got += (size_t)n;
	in[got] = '\0';
	close(fd);
	assert_true(sscanf(in, "HTTP/1.1 %d", &r->status) == 1);
	sep = strstr(in, "\r\n\r\n");
	assert_non_null(sep);
	snprintf(r->head, sizeof(r->head), "%.*s", (int)(sep - in), in);
	r->body = sep + 4;
}

static void
http(const char *method, const char *path, const char *ctype, const char *extra, const char *body,
     struct resp *r)
{
	static char req[64 * 1024];
	int n = snprintf(req, sizeof(req),
	                 "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%s%s"
	                 "Content-Length: %zu\r\n\r\n%s",
	                 method, path, ctype ? "Content-Type: " : "", ctype ? ctype : "",
	                 ctype ? "\r\n" : "", extra ? extra : "", body ? strlen(body) : 0, body ? body : "");
	assert_true(n > 0 && (size_t)n < sizeof(req));
	raw(req, (size_t)n, r);
}

static void
post(const char *body, const char *extra, struct resp *r)
{
	http("POST", "/api/v1/reports", "application/json; charset=utf-8", extra, body, r);
}

static void
assert_error(struct resp *r, int status, const char *code)
{
	char want[64];

	if (r->status != status)
		fail_msg("status %d, want %d; body %s", r->status, status, r->body);
	snprintf(want, sizeof(want), "\"error\":\"%s\"", code);
	if (!strstr(r->body, want))
		fail_msg("body %s lacks %s", r->body, want);
	assert_non_null(strstr(r->body, "\"message\":\""));
}

static void
assert_security_headers(struct resp *r)
{
	assert_non_null(strstr(r->head, "Cache-Control: no-store"));
	assert_non_null(strstr(r->head, "X-Content-Type-Options: nosniff"));
	assert_non_null(strstr(r->head, "Referrer-Policy: no-referrer"));
	assert_non_null(strstr(r->head, "Content-Security-Policy: default-src 'none'"));
}

static void
test_errors_publish_nothing(void **state)
{
	struct ctx *c = *state;
	struct resp r;
	char big[MAX_BODY + 200];

	http("GET", "/nope", NULL, NULL, NULL, &r);
	assert_error(&r, 404, "not_found");
	assert_security_headers(&r);
	assert_non_null(strstr(r.head, "Content-Type: application/json; charset=utf-8"));
	http("GET", "/api/v1/reports", NULL, NULL, NULL, &r);
	assert_error(&r, 405, "method_not_allowed");
	assert_non_null(strstr(r.head, "Allow: POST"));
	http("PUT", "/api/v1/reports", "application/json", NULL, "{\"text\":\"a\"}", &r);
	assert_error(&r, 405, "method_not_allowed");
	http("POST", "/api/v1/reports", "text/plain", NULL, "{\"text\":\"a\"}", &r);
	assert_error(&r, 415, "unsupported_media_type");
	http("POST", "/api/v1/reports", NULL, NULL, "{\"text\":\"a\"}", &r);
	assert_error(&r, 415, "unsupported_media_type");
	post("{\"text\":", NULL, &r);
	assert_error(&r, 400, "invalid_json");
	post("{\"text\":\"\xff\"}", NULL, &r);
	assert_error(&r, 400, "invalid_utf8");
	post("{\"location\":\"x\"}", NULL, &r);
	assert_error(&r, 400, "missing_text");
	post("{\"text\":\"   \"}", NULL, &r);
	assert_error(&r, 400, "empty_text");
	post("{\"text\":7}", NULL, &r);
	assert_error(&r, 400, "invalid_field");
	assert_non_null(strstr(r.body, "\"field\":\"text\""));
	post("{\"text\":\"a\",\"colour\":1}", NULL, &r);
	assert_error(&r, 400, "unknown_field");
	assert_non_null(strstr(r.body, "colour"));
	post("{\"text\":\"a\",\"district\":\"110000\"}", NULL, &r);
	assert_error(&r, 400, "unknown_district");
	post("{\"text\":\"a\"}", "Idempotency-Key: \x01\r\n", &r);
	assert_error(&r, 400, "invalid_idempotency_key");

	/* Too big by Content-Length... */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "{\"text\":\"", 9);
	post(big, NULL, &r);
	assert_error(&r, 413, "payload_too_large");
	assert_security_headers(&r);
	/* ...and while streaming a chunked body. */
	{
		static char req[3 * MAX_BODY];
		int n = snprintf(req, sizeof(req),
		                 "POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		                 "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
		for (int i = 0; i < 5; i++)
			n += snprintf(req + n, sizeof(req) - (size_t)n, "400\r\n%.*s\r\n", 1024, big);
		n += snprintf(req + n, sizeof(req) - (size_t)n, "0\r\n\r\n");
		raw(req, (size_t)n, &r);
		assert_error(&r, 413, "payload_too_large");
	}
	assert_int_equal(c->f.published, 0);
	assert_int_equal(c->f.nkv, 0);
}

static void
test_accept_and_lookup(void **state)
{
	struct ctx *c = *state;
	struct resp r;
	char receipt[32], path[128], dashed[32], body404[512];
	const char *p;

	post("{\"text\":\"宝坻区有人用中频炉炼地条钢。\",\"district\":\"120115\"}", NULL, &r);
	if (r.status != 201)
		fail_msg("status %d body %s", r.status, r.body);
	assert_security_headers(&r);
	assert_int_equal(c->f.published, 2);
	assert_non_null(strstr(r.body, "\"district\":\"120115\""));
	assert_non_null(p = strstr(r.body, "\"receipt\":\""));
	p += strlen("\"receipt\":\"");
	snprintf(receipt, sizeof(receipt), "%.19s", p);
	assert_true(receipt[4] == ' ' && receipt[9] == ' ' && receipt[14] == ' ');

	/* With %20, with dashes, compact: all the same receipt. */
	snprintf(path, sizeof(path), "/api/v1/receipts/%.4s%%20%.4s%%20%.4s%%20%.4s", receipt,
	         receipt + 5, receipt + 10, receipt + 15);
	http("GET", path, NULL, NULL, NULL, &r);
	if (r.status != 200)
		fail_msg("status %d body %s", r.status, r.body);
	assert_non_null(strstr(r.body, "\"status\":\"received\""));
	assert_non_null(strstr(r.body, "\"updated_at\":\""));
	snprintf(dashed, sizeof(dashed), "%.4s-%.4s-%.4s-%.4s", receipt, receipt + 5, receipt + 10,
	         receipt + 15);
	snprintf(path, sizeof(path), "/api/v1/receipts/%s", dashed);
	http("GET", path, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);

	/* Unknown and malformed: the same 404 body. */
	http("GET", "/api/v1/receipts/0000-0000-0000-0001", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	snprintf(body404, sizeof(body404), "%s", r.body);
	http("GET", "/api/v1/receipts/not-a-receipt", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, body404);
	/* Fifth lookup in this minute is the last one allowed (limit 5). */
	http("GET", "/api/v1/receipts/%zz", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, body404);
	http("GET", "/api/v1/receipts/1", NULL, NULL, NULL, &r);
	assert_error(&r, 429, "rate_limited");
	assert_non_null(strstr(r.head, "Retry-After: "));
}

static void
test_unavailable(void **state)
{
	struct ctx *c = *state;
	struct resp r;

	c->f.fail = TL_EUNAVAIL;
	post("{\"text\":\"河西区有地条钢\"}", NULL, &r);
	assert_error(&r, 503, "unavailable");
	assert_non_null(strstr(r.head, "Retry-After: 5"));
	assert_int_equal(c->f.published, 0);
	c->f.fail = TL_OK;
}

static void
test_idempotency_http(void **state)
{
	struct ctx *c = *state;
	struct resp r;
	char first[512];

	post("{\"text\":\"北辰区某厂\"}", "Idempotency-Key: abc-1\r\n", &r);
	assert_int_equal(r.status, 201);
	snprintf(first, sizeof(first), "%s", r.body);
	post("{\"text\":\"北辰区某厂\"}", "Idempotency-Key: abc-1\r\n", &r);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.body, first);
	assert_int_equal(c->f.published, 2);
	post("{\"text\":\"北辰区另一厂\"}", "Idempotency-Key: abc-1\r\n", &r);
	assert_error(&r, 422, "idempotency_key_reused");
	assert_int_equal(c->f.published, 2);
}

static void
test_metrics_health(void **state)
{
	struct resp r;

	post("{\"text\":\"东丽区\"}", NULL, &r);
	http("GET", "/healthz", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"status\":\"ok\"}");
	http("GET", "/metrics", NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "Content-Type: text/plain; version=0.0.4"));
	assert_non_null(strstr(r.body, "tipline_http_requests_total{route=\"reports\",status=\"201\"} 1"));
	assert_non_null(strstr(r.body, "tipline_reports_accepted_total 1"));
	assert_non_null(strstr(r.body, "# TYPE tipline_publish_seconds histogram"));
	assert_non_null(strstr(r.body, "tipline_nats_connected"));
}

/* Replaces the fake's TL_STATUS value for digits. */
static void
set_status(struct ctx *c, const char *digits, const char *status, int64_t amount, int64_t claim_by)
{
	char key[STATUS_KEY_LEN + 1];
	struct wire_status st;
	struct buf b;

	memset(&st, 0, sizeof(st));
	snprintf(st.status, sizeof(st.status), "%s", status);
	st.updated_ms = time_now_ms();
	st.amount_fen = amount;
	st.claim_by_ms = claim_by;
	buf_init(&b, 4096);
	assert_int_equal(wire_status_encode(&st, &b), TL_OK);
	receipt_status_key(c->keys, digits, key);
	for (int i = 0; i < c->f.nkv; i++)
		if (strcmp(c->f.keys[i], key) == 0) {
			snprintf(c->f.vals[i], sizeof(c->f.vals[i]), "%s", buf_str(&b));
			buf_free(&b);
			return;
		}
	fail_msg("no status for the receipt");
}

#define CLAIM_BODY                                                                          \
	"{\"name\":\"甄金丝雀\",\"id_number\":\"11010519491231002X\",\"bank\":\"雀鸟银行\"," \
	"\"account\":\"6222880012345678901\",\"phone\":\"13987654321\"}"

static void
test_claim_http(void **state)
{
	struct ctx *c = *state;
	struct resp r;
	char digits[RECEIPT_DIGITS + 1], path[128];
	const char *p;
	int before;

	post("{\"text\":\"北辰区有地条钢\"}", NULL, &r);
	assert_int_equal(r.status, 201);
	assert_non_null(p = strstr(r.body, "\"receipt\":\""));
	assert_int_equal(receipt_parse(p + 11, 19, digits), TL_OK);
	snprintf(path, sizeof(path), "/api/v1/receipts/%s/claim", digits);
	before = c->f.published;

	http("POST", path, "application/json", NULL, CLAIM_BODY, &r);
	assert_error(&r, 409, "claim_not_open");
	set_status(c, digits, "award_approved", 12345678, time_now_ms() + 86400000);
	http("POST", path, "application/json", NULL, "{\"name\":\"甄3\"}", &r);
	assert_error(&r, 400, "invalid_name");
	assert_null(strstr(r.body, "甄3"));
	http("GET", path, NULL, NULL, NULL, &r);
	assert_error(&r, 405, "method_not_allowed");
	http("POST", "/api/v1/receipts/1234/claim", "application/json", NULL, CLAIM_BODY, &r);
	assert_error(&r, 404, "receipt_not_found");
	assert_int_equal(c->f.published, before);

	http("POST", path, "application/json", NULL, CLAIM_BODY, &r);
	if (r.status != 202)
		fail_msg("status %d body %s", r.status, r.body);
	assert_non_null(strstr(r.body, "\"status\":\"claim_submitted\""));
	assert_null(strstr(r.body, "甄金丝雀"));
	assert_int_equal(c->f.published, before + 1);

	/* The receipt's JSON and page now speak of the award. */
	snprintf(path, sizeof(path), "/api/v1/receipts/%s", digits);
	http("GET", path, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"amount_yuan\":\"123456.78\""));
	assert_non_null(strstr(r.body, "\"claim_open\":true"));
	snprintf(path, sizeof(path), "/status?receipt=%s", digits);
	http("GET", path, NULL, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "Content-Type: text/html; charset=utf-8"));
	assert_non_null(strstr(r.body, "金额 123,456.78 元"));

	/* NATS down: 503, nothing published. */
	snprintf(path, sizeof(path), "/api/v1/receipts/%s/claim", digits);
	c->f.fail = TL_EUNAVAIL;
	http("POST", path, "application/json", NULL, CLAIM_BODY, &r);
	assert_error(&r, 503, "unavailable");
	assert_non_null(strstr(r.head, "Retry-After: 5"));
	c->f.fail = TL_OK;
	/* Three valid posts a minute per receipt: the 409, the 202 and the
	 * 503 took them (the invalid body did not). */
	http("POST", path, "application/json", NULL, CLAIM_BODY, &r);
	assert_error(&r, 429, "rate_limited");
	assert_non_null(strstr(r.head, "Retry-After: "));
	assert_int_equal(c->f.published, before + 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_errors_publish_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accept_and_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unavailable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotency_http, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_health, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_http, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
