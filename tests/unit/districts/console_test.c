/*
 * console_test.c - the district console's request handler (console.h)
 * without sockets: a real case core on a temporary SQLCipher database with
 * an in-memory claim store, a users database, an injected clock.
 *
 * Covers what the shell tests cannot reach cheaply: session idle and
 * absolute timeouts, redaction summary text, escaping of every lead field,
 * CSRF refusals leaving the case untouched, the same 404 for another
 * district's case and a missing one, and a few thousand garbage requests
 * that must each get a well-formed answer (ASan/UBSan build: no crash, no
 * leak).
 */
#include "compat.h"
#include "auth.h"
#include "case.h"
#include "console.h"
#include "db.h"
#include "http.h"
#include "ids.h"
#include "log.h"
#include "secret.h"
#include "wire.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>
#include <unistd.h>

#define D1 "120118"
#define D2 "120101"
#define MIN (60LL * 1000)
#define HOUR (60 * MIN)
#define PW "correct-horse-battery-1"
/* 2026-11-23 (a Monday) 10:00 CST */
#define T0 1795399200000LL

static int64_t clock_ms = T0;
static int64_t
fake_now(void)
{
	return clock_ms;
}
static int64_t
port_now(void *ctx)
{
	(void)ctx;
	return clock_ms;
}

/* ---- an in-memory claim store ---- */

#define MAX_KV 64
struct kvent {
	char key[64];
	char *val;
	uint64_t rev;
};
static struct kvent kv[MAX_KV];
static int nkv;
static uint64_t kvrev;

static enum tl_err
fk_publish(void *ctx, const char *district, const char *subject, const void *data, size_t len, const char *id)
{
	(void)ctx, (void)district, (void)subject, (void)data, (void)len, (void)id;
	return TL_OK;
}
static struct kvent *
fk_find(const char *key)
{
	for (int i = 0; i < nkv; i++)
		if (strcmp(kv[i].key, key) == 0)
			return &kv[i];
	return NULL;
}
static enum tl_err
fk_get(void *ctx, const char *district, const char *key, struct buf *val, uint64_t *rev)
{
	struct kvent *k = fk_find(key);
	(void)ctx, (void)district;
	if (!k)
		return TL_ENOTFOUND;
	buf_reset(val);
	if (buf_append_str(val, k->val) != TL_OK)
		return TL_ENOMEM;
	*rev = k->rev;
	return TL_OK;
}
static enum tl_err
fk_create(void *ctx, const char *district, const char *key, const void *val, size_t len, uint64_t *rev)
{
	(void)ctx, (void)district;
	if (fk_find(key))
		return TL_EEXIST;
	assert_true(nkv < MAX_KV);
	snprintf(kv[nkv].key, sizeof(kv[nkv].key), "%s", key);
	kv[nkv].val = strndup(val, len);
	kv[nkv].rev = *rev = ++kvrev;
	nkv++;
	return TL_OK;
}
static enum tl_err
fk_update(void *ctx, const char *district, const char *key, const void *val, size_t len, uint64_t last,
          uint64_t *rev)
{
	struct kvent *k = fk_find(key);
	(void)ctx, (void)district;
	if (!k || k->rev != last)
		return TL_ECONFLICT;
	free(k->val);
	k->val = strndup(val, len);
	k->rev = *rev = ++kvrev;
	return TL_OK;
}

/* ---- fixture ---- */

struct fx {
	char dir[64], cases_path[128], users_path[128];
	unsigned char key[DB_KEY_LEN];
	struct db *cases_db, *users_db;
	struct case_node *cn;
	struct case_port port;
	struct console *con;
	char lead1[ID_HEX_LEN + 1], lead2[ID_HEX_LEN + 1];
};

static const char *const XSS_TEXT =
	"某厂夜间炼钢 <script>alert(1)</script> \"><img src=x onerror=alert(1)> <a href=\"javascript:alert(3)\">x</a>";

static void
ingest(struct fx *f, const char *district, const char *text, const char *location, char id[ID_HEX_LEN + 1])
{
	struct wire_lead l;
	struct buf b;
	char subject[32];
	enum case_ingest out;

	memset(&l, 0, sizeof(l));
	id_new(l.lead_id);
	id_new(l.report_id);
	snprintf(l.district, sizeof(l.district), "%s", district);
	snprintf(l.channel, sizeof(l.channel), "wechat");
	l.received_ms = clock_ms;
	l.text = (char *)(uintptr_t)text;
	l.location = (char *)(uintptr_t)location;
	snprintf(l.route_rule, sizeof(l.route_rule), "text");
	l.route_confidence = 70;
	l.redactions[REDACT_MOBILE] = 2;
	l.redactions[REDACT_ID18] = 1;
	memset(l.status_key, 'a', STATUS_KEY_LEN);
	buf_init(&b, WIRE_MAX_MSG);
	assert_int_equal(wire_lead_encode(&l, &b), TL_OK);
	snprintf(subject, sizeof(subject), "tl.lead.%s", district);
	assert_int_equal(case_ingest_lead(f->cn, subject, b.data, b.len, &out), TL_OK);
	assert_int_equal(out, CASE_IN_NEW);
	memcpy(id, l.lead_id, ID_HEX_LEN + 1);
	buf_free(&b);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct auth_config ac;
	struct case_cfg cc;
	struct console_opts co;
	char dir[64];

	assert_non_null(f);
	clock_ms = T0;
	snprintf(f->dir, sizeof(f->dir), "/tmp/tl_console_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	memcpy(dir, f->dir, sizeof(dir));
	snprintf(f->cases_path, sizeof(f->cases_path), "%s/cases.db", dir);
	snprintf(f->users_path, sizeof(f->users_path), "%s/cases.db-users", dir);
	randombytes_buf(f->key, sizeof(f->key));
	auth_config_default(&ac);
	ac.opslimit = crypto_pwhash_OPSLIMIT_MIN;
	ac.memlimit = crypto_pwhash_MEMLIMIT_MIN;
	assert_int_equal(auth_init(&ac), TL_OK);

	f->port.now_ms = port_now;
	f->port.publish = fk_publish;
	f->port.kv_get = fk_get;
	f->port.kv_create = fk_create;
	f->port.kv_update = fk_update;
	memset(&cc, 0, sizeof(cc));
	cc.districts[0] = D1;
	cc.districts[1] = D2;
	cc.ndistricts = 2;
	cc.lease_ms = 72 * HOUR;
	cc.idle_ms = 48 * HOUR;
	cc.claim_days = 1;
	cc.finding_days = 30;
	cc.verdict_days = 90;
	cc.transfer_days = 2;
	cc.max_transfers = 2;
	assert_int_equal(db_open(f->cases_path, f->key, DB_CREATE, &f->cases_db), TL_OK);
	assert_int_equal(case_open(f->cases_db, &cc, &f->port, &f->cn), TL_OK);

	/* Users, as `tipline-district user add` makes them (another process
	 * in real life: here closed before the console opens the file). */
	assert_int_equal(db_open(f->users_path, f->key, DB_CREATE, &f->users_db), TL_OK);
	assert_int_equal(auth_migrate(f->users_db), TL_OK);
	assert_int_equal(auth_user_add(f->users_db, "resp.li", AUTH_ROLE_RESPONDER, D1, PW), TL_OK);
	assert_int_equal(auth_user_add(f->users_db, "sup.wu", AUTH_ROLE_SUPERVISOR, D1, PW), TL_OK);
	assert_int_equal(auth_user_add(f->users_db, "resp.hp", AUTH_ROLE_RESPONDER, D2, PW), TL_OK);
	assert_int_equal(auth_user_add(f->users_db, "fin.x", AUTH_ROLE_FINANCE_PAYER, "all", PW), TL_OK);
	db_close(f->users_db);
	f->users_db = NULL;

	memset(&co, 0, sizeof(co));
	co.db_path = f->users_path;
	co.db_key = f->key;
	co.cases = f->cn;
	co.cookie_secure = true;
	co.session_idle_ms = ac.idle_ms;
	co.session_lifetime_ms = ac.lifetime_ms;
	co.threads = 2;
	co.now_ms = fake_now;
	assert_int_equal(console_open(&co, &f->con), TL_OK);

	ingest(f, D1, XSS_TEXT, "\"><script>alert('loc')</script>", f->lead1);
	ingest(f, D2, "和平区某仓库存放地条钢", NULL, f->lead2);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[200];

	console_close(f->con);
	case_close(f->cn);
	db_close(f->cases_db);
	for (int i = 0; i < nkv; i++)
		free(kv[i].val);
	nkv = 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* ---- requests ---- */

struct answer {
	unsigned status;
	char *body;
	char location[256];
	char cookie[512];
};

static void
answer_free(struct answer *a)
{
	free(a->body);
	memset(a, 0, sizeof(*a));
}

static struct answer
call(struct fx *f, const char *method, const char *path, const char *cookie, const char *body)
{
	struct staffweb_req rq;
	struct staffweb_resp rs;
	struct answer a;

	memset(&rq, 0, sizeof(rq));
	memset(&a, 0, sizeof(a));
	rq.method = method;
	rq.path = path;
	rq.cookie = cookie;
	rq.content_type = body ? "application/x-www-form-urlencoded" : NULL;
	rq.body = body ? body : "";
	rq.body_len = strlen(rq.body);
	staffweb_resp_init(&rs);
	console_handle(f->con, &rq, &rs);
	a.status = rs.status;
	a.body = strdup(buf_str(&rs.body));
	snprintf(a.location, sizeof(a.location), "%s", rs.location);
	snprintf(a.cookie, sizeof(a.cookie), "%s", buf_str(&rs.set_cookie));
	staffweb_resp_free(&rs);
	assert_non_null(a.body);
	return a;
}

/* Logs in; cookie gets "tl_session=<token>". */
static void
login(struct fx *f, const char *name, char cookie[128])
{
	char body[128];
	struct answer a;

	snprintf(body, sizeof(body), "name=%s&password=%s", name, PW);
	a = call(f, "POST", "/login", NULL, body);
	assert_int_equal(a.status, 303);
	assert_string_equal(a.location, "/");
	assert_non_null(strstr(a.cookie, "HttpOnly"));
	assert_non_null(strstr(a.cookie, "SameSite=Strict"));
	assert_non_null(strstr(a.cookie, "Secure"));
	snprintf(cookie, 128, "%.*s", (int)strcspn(a.cookie, ";"), a.cookie);
	answer_free(&a);
}

/* The CSRF token in a page. */
static void
csrf_of(const char *page, char out[AUTH_TOKEN_HEX + 1])
{
	const char *p = strstr(page, "name=\"csrf\" value=\"");

	assert_non_null(p);
	p += strlen("name=\"csrf\" value=\"");
	memcpy(out, p, AUTH_TOKEN_HEX);
	out[AUTH_TOKEN_HEX] = '\0';
}

static const char *
state_of(struct fx *f, const char *lead)
{
	static char st[16];
	struct case_view cv;
	struct case_actor a = { "sup.wu", CASE_SUPERVISOR, D1 };

	assert_int_equal(case_get(f->cn, &a, lead, &cv), TL_OK);
	snprintf(st, sizeof(st), "%s", cv.s.state);
	case_view_free(&cv);
	return st;
}

/* ---- tests ---- */

static void
test_escaping_and_summary(void **state)
{
	struct fx *f = *state;
	char cookie[128], path[64];
	struct answer a;

	login(f, "resp.li", cookie);
	snprintf(path, sizeof(path), "/case/%s", f->lead1);
	a = call(f, "GET", path, cookie, NULL);
	assert_int_equal(a.status, 200);
	assert_non_null(strstr(a.body, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(a.body, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
	assert_non_null(strstr(a.body, "&lt;a href=&quot;javascript:alert(3)&quot;&gt;"));
	assert_non_null(strstr(a.body, "&quot;&gt;&lt;script&gt;alert(&#39;loc&#39;)") ?
	                    strstr(a.body, "&quot;&gt;&lt;script&gt;alert(&#39;loc&#39;)") :
	                    strstr(a.body, "&quot;&gt;&lt;script&gt;alert(&#x27;loc&#x27;)"));
	assert_null(strstr(a.body, "<script"));
	assert_null(strstr(a.body, "<img"));
	assert_null(strstr(a.body, "href=\"javascript:"));
	/* Counts per type in Chinese, route rule and confidence. */
	assert_non_null(strstr(a.body, "已移除 1 个身份证号，已移除 2 个手机号"));
	assert_non_null(strstr(a.body, "举报内容中的地名，置信度 70%"));
	assert_non_null(strstr(a.body, "微信公众号"));
	answer_free(&a);

	/* The queue lists the 120118 lead and not the 120101 one. */
	a = call(f, "GET", "/", cookie, NULL);
	assert_int_equal(a.status, 200);
	assert_non_null(strstr(a.body, f->lead1));
	assert_null(strstr(a.body, f->lead2));
	answer_free(&a);
}

static void
test_csrf_refusals_change_nothing(void **state)
{
	struct fx *f = *state;
	char cookie[128], path[64], csrf[AUTH_TOKEN_HEX + 1], body[256];
	struct answer a;

	login(f, "resp.li", cookie);
	a = call(f, "GET", "/", cookie, NULL);
	csrf_of(a.body, csrf);
	answer_free(&a);
	snprintf(path, sizeof(path), "/case/%s/claim", f->lead1);

	a = call(f, "POST", path, cookie, "x=1");
	assert_int_equal(a.status, 403);
	assert_non_null(strstr(a.body, "安全校验失败"));
	answer_free(&a);
	snprintf(body, sizeof(body), "csrf=%.63s%c", csrf, csrf[63] == '0' ? '1' : '0');
	a = call(f, "POST", path, cookie, body);
	assert_int_equal(a.status, 403);
	answer_free(&a);
	snprintf(body, sizeof(body), "csrf=%s&csrf=%s", csrf, csrf);
	a = call(f, "POST", path, cookie, body);
	assert_int_equal(a.status, 400);
	answer_free(&a);
	/* Without a session at all: to the login page. */
	snprintf(body, sizeof(body), "csrf=%s", csrf);
	a = call(f, "POST", path, NULL, body);
	assert_int_equal(a.status, 303);
	assert_string_equal(a.location, "/login");
	answer_free(&a);
	assert_string_equal(state_of(f, f->lead1), "new");
	assert_int_equal(nkv, 0);

	a = call(f, "POST", path, cookie, body);
	assert_int_equal(a.status, 303);
	assert_string_equal(state_of(f, f->lead1), "claimed");
	answer_free(&a);
}

static void
test_other_district_is_not_found(void **state)
{
	struct fx *f = *state;
	char cookie[128], path[64], csrf[AUTH_TOKEN_HEX + 1], body[128];
	struct answer a, b;

	login(f, "resp.li", cookie);
	snprintf(path, sizeof(path), "/case/%s", f->lead2);
	a = call(f, "GET", path, cookie, NULL);
	b = call(f, "GET", "/case/0123456789abcdef0123456789abcdef", cookie, NULL);
	assert_int_equal(a.status, 404);
	assert_int_equal(b.status, 404);
	assert_string_equal(a.body, b.body);
	csrf_of(a.body, csrf);
	answer_free(&a);
	answer_free(&b);
	snprintf(path, sizeof(path), "/case/%s/claim", f->lead2);
	snprintf(body, sizeof(body), "csrf=%s", csrf);
	a = call(f, "POST", path, cookie, body);
	assert_int_equal(a.status, 404);
	answer_free(&a);
	b = call(f, "POST", "/case/0123456789abcdef0123456789abcdef/claim", cookie, body);
	assert_int_equal(b.status, 404);
	answer_free(&b);
	assert_int_equal(nkv, 0);
}

static void
test_non_district_role_refused(void **state)
{
	struct fx *f = *state;
	char cookie[128];
	struct answer a;

	login(f, "fin.x", cookie);
	a = call(f, "GET", "/", cookie, NULL);
	assert_int_equal(a.status, 403);
	answer_free(&a);
}

static void
test_session_timeouts(void **state)
{
	struct fx *f = *state;
	char cookie[128];
	struct answer a;

	/* Idle: 30 min without a request. */
	login(f, "resp.li", cookie);
	clock_ms += 29 * MIN;
	a = call(f, "GET", "/", cookie, NULL);
	assert_int_equal(a.status, 200);
	answer_free(&a);
	clock_ms += 31 * MIN;
	a = call(f, "GET", "/", cookie, NULL);
	assert_int_equal(a.status, 303);
	assert_string_equal(a.location, "/login");
	assert_non_null(strstr(a.cookie, "Max-Age=0"));
	answer_free(&a);

	/* Absolute: 12 h after login, however active. */
	login(f, "resp.li", cookie);
	for (int i = 0; i < 12 * 3; i++) {
		clock_ms += 20 * MIN;
		a = call(f, "GET", "/board", cookie, NULL);
		if (i < 12 * 3 - 1)
			assert_int_equal(a.status, 200);
		else
			assert_int_equal(a.status, 303);
		answer_free(&a);
	}
}

static void
test_login_failure_and_lockout(void **state)
{
	struct fx *f = *state;
	struct answer a;
	char body[128];

	for (int i = 0; i < 5; i++) {
		a = call(f, "POST", "/login", NULL, "name=sup.wu&password=wrong-password-1");
		assert_int_equal(a.status, 401);
		assert_non_null(strstr(a.body, "用户名或密码错误"));
		assert_string_equal(a.cookie, "");
		answer_free(&a);
	}
	snprintf(body, sizeof(body), "name=sup.wu&password=%s", PW);
	a = call(f, "POST", "/login", NULL, body);
	assert_int_equal(a.status, 401);
	answer_free(&a);
	/* The typed name comes back escaped. */
	a = call(f, "POST", "/login", NULL, "name=%22%3E%3Cscript%3E&password=x");
	assert_int_equal(a.status, 401);
	assert_null(strstr(a.body, "<script"));
	assert_non_null(strstr(a.body, "&quot;&gt;&lt;script&gt;"));
	answer_free(&a);
}

static void
test_action_messages(void **state)
{
	struct fx *f = *state;
	char cookie[128], sup[128], path[64], csrf[AUTH_TOKEN_HEX + 1], scsrf[AUTH_TOKEN_HEX + 1], body[256];
	struct answer a;

	login(f, "resp.li", cookie);
	login(f, "sup.wu", sup);
	a = call(f, "GET", "/", cookie, NULL);
	csrf_of(a.body, csrf);
	answer_free(&a);
	a = call(f, "GET", "/", sup, NULL);
	csrf_of(a.body, scsrf);
	answer_free(&a);

	snprintf(path, sizeof(path), "/case/%s/claim", f->lead1);
	snprintf(body, sizeof(body), "csrf=%s", csrf);
	a = call(f, "POST", path, cookie, body);
	assert_int_equal(a.status, 303);
	answer_free(&a);
	/* The supervisor claims it too: taken. */
	snprintf(body, sizeof(body), "csrf=%s", scsrf);
	a = call(f, "POST", path, sup, body);
	assert_int_equal(a.status, 409);
	assert_non_null(strstr(a.body, "已被其他人认领"));
	answer_free(&a);
	/* Take-over without a reason. */
	snprintf(path, sizeof(path), "/case/%s/takeover", f->lead1);
	snprintf(body, sizeof(body), "csrf=%s&reason=", scsrf);
	a = call(f, "POST", path, sup, body);
	assert_int_equal(a.status, 400);
	assert_non_null(strstr(a.body, "必须填写理由"));
	answer_free(&a);
	/* "Unfounded" by a responder: the core refuses. */
	snprintf(path, sizeof(path), "/case/%s/verdict", f->lead1);
	snprintf(body, sizeof(body), "csrf=%s&outcome=unfounded", csrf);
	a = call(f, "POST", path, cookie, body);
	assert_int_equal(a.status, 403);
	answer_free(&a);
	/* A finding with a bad date, then a good one, then GET is not an action. */
	snprintf(path, sizeof(path), "/case/%s/finding", f->lead1);
	snprintf(body, sizeof(body), "csrf=%s&agency=samr&check=site_visit&result=confirmed&who=x&checked=2026-13-01", csrf);
	a = call(f, "POST", path, cookie, body);
	assert_int_equal(a.status, 400);
	assert_non_null(strstr(a.body, "核查日期无效"));
	answer_free(&a);
	snprintf(body, sizeof(body),
	         "csrf=%s&agency=samr&check=site_visit&result=confirmed&who=%%3Cb%%3E&details=%%3Ci%%3Ex&checked=2026-11-20",
	         csrf);
	a = call(f, "POST", path, cookie, body);
	assert_int_equal(a.status, 303);
	answer_free(&a);
	a = call(f, "GET", path, cookie, NULL);
	assert_int_equal(a.status, 405);
	answer_free(&a);
	snprintf(path, sizeof(path), "/case/%s", f->lead1);
	a = call(f, "GET", path, cookie, NULL);
	assert_non_null(strstr(a.body, "&lt;b&gt;"));
	assert_non_null(strstr(a.body, "&lt;i&gt;x"));
	assert_null(strstr(a.body, "<b>"));
	answer_free(&a);
}

/* Garbage in every position: each request gets a complete answer with a
 * sensible status, and the sanitizers see nothing. */
static void
test_garbage_requests(void **state)
{
	struct fx *f = *state;
	static const char *const methods[] = { "GET", "POST", "HEAD", "PUT", "DELETE", "", "get" };
	static const char *const actions[] = { "claim", "renew", "release", "takeover", "reopen", "finding",
		                               "transfer", "accept", "refuse", "merge", "verdict", "", "x", "claim/x" };
	static const char *const fields[] = { "csrf", "reason", "agency", "check", "result", "who", "details",
		                              "evidence", "checked", "to", "reason_code", "other", "outcome",
		                              "furnaces", "capacity_tpy", "production", "seized_kg", "fines_yuan",
		                              "notes", "name", "password" };
	static const char alphabet[] = "%0aZ&=+-.:/<>\"'\xe4\xb8\xad\xff\x01 9";
	char cookie[128], csrf[AUTH_TOKEN_HEX + 1];
	struct answer a;

	login(f, "sup.wu", cookie);
	a = call(f, "GET", "/", cookie, NULL);
	csrf_of(a.body, csrf);
	answer_free(&a);
	for (int i = 0; i < 1500; i++) {
		char path[128], body[1024];
		size_t n = 0;
		uint32_t r = randombytes_uniform(100);
		const char *lead = r < 40 ? f->lead1 : r < 60 ? f->lead2 : "zz";

		if (randombytes_uniform(4) == 0)
			snprintf(path, sizeof(path), "/%c%s", "cbt/"[randombytes_uniform(4)], lead);
		else
			snprintf(path, sizeof(path), "/case/%s/%s", lead, actions[randombytes_uniform(TL_ARRAY_LEN(actions))]);
		if (randombytes_uniform(3))
			n += (size_t)snprintf(body + n, sizeof(body) - n, "csrf=%s", csrf);
		for (uint32_t k = randombytes_uniform(6); k > 0 && n < sizeof(body) - 64; k--) {
			n += (size_t)snprintf(body + n, sizeof(body) - n, "%s%s=", n ? "&" : "",
			                      fields[randombytes_uniform(TL_ARRAY_LEN(fields))]);
			for (uint32_t m = randombytes_uniform(20); m > 0 && n < sizeof(body) - 2; m--)
				body[n++] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
			body[n] = '\0';
		}
		body[n] = '\0';
		a = call(f, methods[randombytes_uniform(TL_ARRAY_LEN(methods))], path,
		         randombytes_uniform(10) ? cookie : "tl_session=x; tl_session=y", body);
		switch (a.status) {
		case 200: case 303: case 400: case 403: case 404: case 405: case 409: case 413: case 415: case 503:
			break;
		default:
			fail_msg("status %u for %s", a.status, path);
		}
		if (a.status == 303)
			assert_true(a.location[0] == '/');
		else
			assert_non_null(strstr(a.body, "</html>"));
		answer_free(&a);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_escaping_and_summary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_csrf_refusals_change_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_district_is_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_non_district_role_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_login_failure_and_lockout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_action_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_requests, setup, teardown),
	};

	log_init("console_test", LOG_ERR);
	if (secret_init() != TL_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
