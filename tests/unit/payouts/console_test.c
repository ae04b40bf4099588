/*
 * console_test.c - the finance console (payouts/console.h) driven through
 * fconsole_handle() with a real payouts service in a temporary database:
 * yuan parsing and formatting, login, roles and scopes (404 for another
 * district's case and award, the same page as a missing one), CSRF
 * refusals that change nothing, the cap on a manual amount, propose ->
 * approve -> approve with the city rule, budget exhaustion with its
 * amounts, a wrong signing password, escaping of every reflected reason,
 * and the read-only pages (budgets, ledger with its check).
 */
#include "compat.h"
#include "approval.h"
#include "audit.h"
#include "auth.h"
#include "cases.h"
#include "console.h"
#include "db.h"
#include "export.h"
#include "ids.h"
#include "log.h"
#include "payouts.h"
#include "staffkey.h"
#include "staffweb.h"
#include "svc.h"
#include "timefmt.h"
#include "wire.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>
#include <unistd.h>

#define PW "correct-horse-battery-9"
#define D_A "120118" /* 静海区 */
#define D_B "120101"
#define XSS_SCRIPT "<script>alert(1)</script>"
#define XSS_IMG "\"><img src=x onerror=alert(2)>"
#define XSS_JS "javascript:alert(3)"

struct fx {
	char dir[64], dbpath[128], auditpath[128];
	struct payouts_cfg cfg;
	struct payouts_svc svc;
	struct fconsole *c;
	char case_a[ID_HEX_LEN + 1], case_a2[ID_HEX_LEN + 1], case_b[ID_HEX_LEN + 1];
	char case_c[ID_HEX_LEN + 1], report_c[ID_HEX_LEN + 1];
	int year;
	unsigned char export_sk[crypto_box_SECRETKEYBYTES];
};

static struct fx *F;

static enum tl_err
status_put_stub(void *ctx, const char *key, const void *val, size_t len)
{
	(void)ctx;
	(void)key;
	(void)val;
	(void)len;
	return TL_OK;
}

static enum tl_err
status_get_stub(void *ctx, const char *key, struct buf *val)
{
	(void)ctx;
	(void)key;
	(void)val;
	return TL_ENOTFOUND;
}

/* A substantiated case in district d with one report; fines decide the
 * amount (running tier: 100,000 yuan + 5 % of fines). */
static void
make_case_r(const char *d, int64_t fines_fen, char case_id[ID_HEX_LEN + 1], char report_id[ID_HEX_LEN + 1])
{
	struct wire_lead l;
	struct wire_event ev;
	enum cases_outcome out;
	char cid[ID_HEX_LEN + 1];
	int64_t now = time_now_ms();

	memset(&l, 0, sizeof(l));
	id_new(l.lead_id);
	id_new(l.report_id);
	snprintf(l.district, sizeof(l.district), "%s", d);
	snprintf(l.channel, sizeof(l.channel), "web");
	l.received_ms = now - 86400000;
	l.text = (char *)"x";
	snprintf(l.route_rule, sizeof(l.route_rule), "explicit");
	for (int i = 0; i < STATUS_KEY_LEN; i++)
		l.status_key[i] = "0123456789abcdef"[randombytes_uniform(16)];
	pthread_mutex_lock(&F->svc.lock);
	assert_int_equal(cases_apply_lead(&F->svc, &l, now, &out, cid), TL_OK);
	memset(&ev, 0, sizeof(ev));
	ev.type = WIRE_EV_VERDICT;
	snprintf(ev.event_id, sizeof(ev.event_id), "%s:1:1", l.lead_id);
	snprintf(ev.lead_id, sizeof(ev.lead_id), "%s", l.lead_id);
	snprintf(ev.district, sizeof(ev.district), "%s", d);
	ev.seq = 1;
	ev.at_ms = now;
	snprintf(ev.actor, sizeof(ev.actor), "resp.li");
	snprintf(ev.role, sizeof(ev.role), "responder");
	ev.substantiated = true;
	ev.furnaces = 2;
	ev.capacity_tpy = 30000;
	snprintf(ev.production, sizeof(ev.production), "running");
	ev.seized_kg = 1200;
	ev.fines_fen = fines_fen;
	ev.agencies = 2;
	ev.first_received_ms = l.received_ms;
	assert_int_equal(cases_apply_event(&F->svc, &ev, now, &out, cid), TL_OK);
	assert_int_equal(out, CASES_APPLIED);
	pthread_mutex_unlock(&F->svc.lock);
	snprintf(case_id, ID_HEX_LEN + 1, "%s", l.lead_id);
	if (report_id)
		snprintf(report_id, ID_HEX_LEN + 1, "%s", l.report_id);
}

static void
make_case(const char *d, int64_t fines_fen, char case_id[ID_HEX_LEN + 1])
{
	make_case_r(d, fines_fen, case_id, NULL);
}

static void
add_user(const char *name, enum auth_role role, const char *scope)
{
	pthread_mutex_lock(&F->svc.lock);
	assert_int_equal(auth_user_add(F->svc.db, name, role, scope, PW), TL_OK);
	if (role == AUTH_ROLE_FINANCE_APPROVER)
		assert_int_equal(staffkey_create(F->svc.core, name,
		                                 strcmp(scope, "120000") == 0 ? STAFF_CITY : STAFF_DISTRICT, PW,
		                                 time_now_ms(), NULL),
		                 TL_OK);
	pthread_mutex_unlock(&F->svc.lock);
}

static int
setup(void **state)
{
	struct auth_config ac;
	unsigned char dbkey[DB_KEY_LEN], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	struct award_rules rules;
	struct fconsole_opts o;
	enum ledger_outcome lo;
	char tid[ID_HEX_LEN + 1];

	(void)state;
	assert_true(sodium_init() >= 0);
	auth_config_default(&ac);
	ac.opslimit = crypto_pwhash_OPSLIMIT_MIN;
	ac.memlimit = crypto_pwhash_MEMLIMIT_MIN;
	assert_int_equal(auth_init(&ac), TL_OK);
	staffkey_set_cost(crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
	F = calloc(1, sizeof(*F));
	assert_non_null(F);
	snprintf(F->dir, sizeof(F->dir), "/tmp/tl_fconsole_test.XXXXXX");
	assert_non_null(mkdtemp(F->dir));
	snprintf(F->dbpath, sizeof(F->dbpath), "%s/payouts.db", F->dir);
	snprintf(F->auditpath, sizeof(F->auditpath), "%s/audit.tla", F->dir);
	F->cfg.export_dir = F->dir;
	pthread_mutex_init(&F->svc.lock, NULL);
	F->svc.cfg = &F->cfg;
	randombytes_buf(dbkey, sizeof(dbkey));
	award_rules_default(&rules);
	assert_int_equal(db_open(F->dbpath, dbkey, DB_CREATE, &F->svc.db), TL_OK);
	assert_int_equal(db_exec(F->svc.db, "PRAGMA synchronous = OFF;"), TL_OK);
	assert_int_equal(payouts_open(F->svc.db, &rules, &F->svc.core), TL_OK);
	assert_int_equal(cases_migrate(F->svc.db), TL_OK);
	assert_int_equal(staffkey_migrate(F->svc.db), TL_OK);
	assert_int_equal(export_migrate(F->svc.db), TL_OK);
	crypto_sign_keypair(pk, sk);
	assert_int_equal(audit_open(F->auditpath, "payouts", sk, &F->svc.audit), TL_OK);
	sodium_memzero(sk, sizeof(sk));
	F->svc.status_put = status_put_stub;
	F->svc.status_get = status_get_stub;
	memset(&o, 0, sizeof(o));
	o.svc = &F->svc;
	assert_int_equal(fconsole_open(&o, &F->c), TL_OK);

	add_user("prop.a", AUTH_ROLE_FINANCE_PROPOSER, D_A);
	add_user("prop.b", AUTH_ROLE_FINANCE_PROPOSER, D_B);
	add_user("appr.a1", AUTH_ROLE_FINANCE_APPROVER, D_A);
	add_user("appr.a2", AUTH_ROLE_FINANCE_APPROVER, D_A);
	add_user("appr.b", AUTH_ROLE_FINANCE_APPROVER, D_B);
	add_user("appr.city", AUTH_ROLE_FINANCE_APPROVER, "120000");
	add_user("pay.a", AUTH_ROLE_FINANCE_PAYER, D_A);
	add_user("audit", AUTH_ROLE_AUDITOR, "all");

	/* 1,000,000 yuan of fines: 100,000 + 50,000 = 150,000 yuan, above the
	 * 100,000 yuan dual-approval threshold. */
	make_case(D_A, 100000000, F->case_a);
	make_case(D_A, 100000000, F->case_a2);
	make_case(D_B, 0, F->case_b);
	/* 100,000 yuan (the threshold): one approval; paid through a batch. */
	make_case_r(D_B, 0, F->case_c, F->report_c);
	F->year = cases_cst_year(time_now_ms());
	/* Enough for one award of 150,000 yuan, not for two. */
	id_new(tid);
	pthread_mutex_lock(&F->svc.lock);
	assert_int_equal(payouts_fund_budget(F->svc.core, D_A, F->year, 20000000, tid, time_now_ms(), &lo), TL_OK);
	id_new(tid);
	assert_int_equal(payouts_fund_budget(F->svc.core, D_B, F->year, 10000000, tid, time_now_ms(), &lo), TL_OK);
	pthread_mutex_unlock(&F->svc.lock);
	crypto_box_keypair(F->svc.export_pk, F->export_sk);
	add_user("pay.b", AUTH_ROLE_FINANCE_PAYER, D_B);
	*state = F;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[160];

	(void)state;
	fconsole_close(F->c);
	payouts_svc_close(&F->svc);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", F->dir);
	free(F);
	return 0;
}

/* ---- a tiny client ---- */

struct res {
	unsigned status;
	char *body;
	char location[256];
	char cookie[160];
	char ctype[64];
	char disposition[128];
};

static void
res_free(struct res *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static struct res
call(const char *method, const char *path, const char *cookie, const char *body)
{
	struct staffweb_req req;
	struct staffweb_resp resp;
	struct res r;

	memset(&req, 0, sizeof(req));
	memset(&r, 0, sizeof(r));
	req.method = method;
	req.path = path;
	req.cookie = cookie;
	req.body = body ? body : "";
	req.body_len = body ? strlen(body) : 0;
	req.content_type = body ? "application/x-www-form-urlencoded" : NULL;
	staffweb_resp_init(&resp);
	fconsole_handle(F->c, &req, &resp);
	r.status = resp.status;
	r.body = strndup(resp.body.len ? (const char *)resp.body.data : "", resp.body.len);
	assert_non_null(r.body);
	snprintf(r.location, sizeof(r.location), "%s", resp.location);
	snprintf(r.ctype, sizeof(r.ctype), "%s", resp.content_type);
	snprintf(r.disposition, sizeof(r.disposition), "%s", resp.disposition);
	if (resp.set_cookie.len) {
		const char *s = (const char *)resp.set_cookie.data;
		size_t n = strcspn(s, ";");
		snprintf(r.cookie, sizeof(r.cookie), "%.*s", (int)n, s);
	}
	staffweb_resp_free(&resp);
	return r;
}

static void
login(const char *name, char cookie[160])
{
	char body[128];
	struct res r;

	snprintf(body, sizeof(body), "name=%s&password=%s", name, PW);
	r = call("POST", "/login", NULL, body);
	assert_int_equal(r.status, 303);
	assert_string_equal(r.location, "/");
	assert_true(strncmp(r.cookie, "tl_session=", 11) == 0);
	snprintf(cookie, 160, "%s", r.cookie);
	res_free(&r);
}

/* The CSRF token of the first form on the page at path. */
static void
csrf_of(const char *cookie, const char *path, char out[AUTH_TOKEN_HEX + 1])
{
	struct res r = call("GET", path, cookie, NULL);
	const char *p;

	assert_int_equal(r.status, 200);
	p = strstr(r.body, "name=\"csrf\" value=\"");
	assert_non_null(p);
	p += strlen("name=\"csrf\" value=\"");
	snprintf(out, AUTH_TOKEN_HEX + 1, "%.*s", AUTH_TOKEN_HEX, p);
	res_free(&r);
}

/* A hidden field's value on the page (first occurrence). */
static void
hidden_of(const char *cookie, const char *path, const char *name, char out[ID_HEX_LEN + 1])
{
	struct res r = call("GET", path, cookie, NULL);
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "name=\"%s\" value=\"", name);
	p = strstr(r.body, pat);
	assert_non_null(p);
	p += strlen(pat);
	snprintf(out, ID_HEX_LEN + 1, "%.*s", ID_HEX_LEN, p);
	res_free(&r);
}

static int64_t
count(const char *sql, const char *arg)
{
	struct db_stmt *st = NULL;
	bool row = false;
	int64_t n = -1;

	pthread_mutex_lock(&F->svc.lock);
	assert_int_equal(db_prepare(F->svc.db, sql, &st), TL_OK);
	if (arg)
		assert_int_equal(db_bind_text(st, 1, arg), TL_OK);
	assert_int_equal(db_step(st, &row), TL_OK);
	assert_true(row);
	n = db_col_int64(st, 0);
	db_finalize(st);
	pthread_mutex_unlock(&F->svc.lock);
	return n;
}

static void
assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle)) {
		fprintf(stderr, "page does not contain \"%s\":\n%s\n", needle, hay);
		fail();
	}
}

static void
assert_not_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle)) {
		fprintf(stderr, "page contains \"%s\"\n", needle);
		fail();
	}
}

/* ---- pure helpers ---- */

static void
test_yuan_parse(void **state)
{
	static const struct {
		const char *in;
		enum tl_err e;
		int64_t fen;
	} cases[] = {
		{ "12345.67", TL_OK, 1234567 }, { "12345", TL_OK, 1234500 }, { "12345.6", TL_OK, 1234560 },
		{ "0.05", TL_OK, 5 }, { "1,234.50", TL_OK, 123450 }, { "500,000.00", TL_OK, 50000000 },
		{ "500000", TL_OK, 50000000 }, { "500000.01", TL_ETOOBIG, 0 }, { "600000", TL_ETOOBIG, 0 },
		{ "99999999999999999999999999", TL_ETOOBIG, 0 }, { "", TL_EINVAL, 0 }, { "-1", TL_EINVAL, 0 },
		{ "+1", TL_EINVAL, 0 }, { "1.234", TL_EINVAL, 0 }, { "1e5", TL_EINVAL, 0 }, { "12,34", TL_EINVAL, 0 },
		{ "1234,567", TL_EINVAL, 0 }, { ",123", TL_EINVAL, 0 }, { ".5", TL_EINVAL, 0 }, { "5.", TL_EINVAL, 0 },
		{ " 5", TL_EINVAL, 0 }, { "5 ", TL_EINVAL, 0 }, { "1.2.3", TL_EINVAL, 0 }, { "１２", TL_EINVAL, 0 },
		{ "0x10", TL_EINVAL, 0 }, { "1,000,0000", TL_EINVAL, 0 },
	};
	(void)state;
	for (size_t i = 0; i < TL_ARRAY_LEN(cases); i++) {
		int64_t fen = -1;
		enum tl_err e = staffweb_parse_yuan(cases[i].in, MONEY_HARD_CAP_FEN, &fen);
		if (e != cases[i].e || (e == TL_OK && fen != cases[i].fen)) {
			fprintf(stderr, "\"%s\": %s %lld\n", cases[i].in, tl_strerror(e), (long long)fen);
			fail();
		}
		if (e != TL_OK)
			assert_int_equal(fen, 0);
	}
}

static void
test_yuan_fmt(void **state)
{
	static const struct {
		int64_t fen;
		const char *out;
	} cases[] = {
		{ 0, "0.00" }, { 5, "0.05" }, { 100, "1.00" }, { 123456, "1,234.56" }, { 1234567, "12,345.67" },
		{ 50000000, "500,000.00" }, { -5, "-0.05" }, { -123456789, "-1,234,567.89" },
		{ INT64_MAX, "92,233,720,368,547,758.07" }, { INT64_MIN, "-92,233,720,368,547,758.08" },
	};
	char out[STAFFWEB_YUAN_LEN];

	(void)state;
	for (size_t i = 0; i < TL_ARRAY_LEN(cases); i++) {
		staffweb_fmt_yuan(cases[i].fen, out);
		assert_string_equal(out, cases[i].out);
	}
}

/* ---- pages ---- */

static void
test_anonymous(void **state)
{
	struct res r;

	(void)state;
	r = call("GET", "/healthz", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	res_free(&r);
	r = call("GET", "/", NULL, NULL);
	assert_int_equal(r.status, 303);
	assert_string_equal(r.location, "/login");
	res_free(&r);
	r = call("GET", "/award/0123456789abcdef0123456789abcdef", "tl_session=00", NULL);
	assert_int_equal(r.status, 303);
	res_free(&r);
	r = call("GET", "/login", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "name=\"password\"");
	res_free(&r);
	r = call("POST", "/login", NULL, "name=prop.a&password=wrong-password-1");
	assert_int_equal(r.status, 401);
	assert_contains(r.body, "用户名或密码错误");
	assert_string_equal(r.cookie, "");
	res_free(&r);
	r = call("GET", "/static/console.css", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_contains(r.ctype, "text/css");
	res_free(&r);
}

static void
test_scope_and_roles(void **state)
{
	char pa[160], pb[160], pay[160], ab[160];
	struct res r1, r2;
	char path[96];

	(void)state;
	login("prop.a", pa);
	login("prop.b", pb);
	login("pay.a", pay);
	login("appr.b", ab);
	/* The proposer's queue lists the district's cases only. */
	r1 = call("GET", "/", pa, NULL);
	assert_int_equal(r1.status, 200);
	assert_contains(r1.body, F->case_a);
	assert_not_contains(r1.body, F->case_b);
	assert_contains(r1.body, "150,000.00");
	res_free(&r1);
	/* Another district's case answers like a missing one. */
	snprintf(path, sizeof(path), "/case/%s", F->case_a);
	r1 = call("GET", path, pb, NULL);
	r2 = call("GET", "/case/0123456789abcdef0123456789abcdef", pb, NULL);
	assert_int_equal(r1.status, 404);
	assert_int_equal(r2.status, 404);
	assert_string_equal(r1.body, r2.body);
	res_free(&r1);
	res_free(&r2);
	r1 = call("GET", "/case/not-an-id", pb, NULL);
	assert_int_equal(r1.status, 404);
	res_free(&r1);
	/* The case page of one's own district shows the facts and the trace. */
	r1 = call("GET", path, pa, NULL);
	assert_int_equal(r1.status, 200);
	assert_contains(r1.body, "仍在生产");
	assert_contains(r1.body, "1,000,000.00"); /* fines */
	assert_contains(r1.body, "name=\"award_id\"");
	assert_contains(r1.body, "提交奖励提议");
	res_free(&r1);
	/* An approver sees it but gets no propose form. */
	r1 = call("GET", path, ab, NULL);
	assert_int_equal(r1.status, 404); /* appr.b is 120101 */
	res_free(&r1);
	/* Only payers and auditors read the ledger and batches. */
	r1 = call("GET", "/ledger", pa, NULL);
	assert_int_equal(r1.status, 403);
	res_free(&r1);
	r1 = call("GET", "/batches", pa, NULL);
	assert_int_equal(r1.status, 403);
	res_free(&r1);
	r1 = call("GET", "/ledger", pay, NULL);
	assert_int_equal(r1.status, 200);
	assert_contains(r1.body, "账本一致");
	res_free(&r1);
	r1 = call("GET", "/budgets", pay, NULL);
	assert_int_equal(r1.status, 200);
	assert_contains(r1.body, "200,000.00");
	res_free(&r1);
}

static void
test_propose_refusals(void **state)
{
	char pa[160], csrf[AUTH_TOKEN_HEX + 1], aid[ID_HEX_LEN + 1], path[96], body[1024];
	struct res r;

	(void)state;
	login("prop.a", pa);
	snprintf(path, sizeof(path), "/case/%s", F->case_a);
	csrf_of(pa, path, csrf);
	hidden_of(pa, path, "award_id", aid);
	snprintf(path, sizeof(path), "/case/%s/propose", F->case_a);
	/* No CSRF token: refused before anything else, nothing stored. */
	snprintf(body, sizeof(body), "award_id=%s&amount_mode=computed", aid);
	r = call("POST", path, pa, body);
	assert_int_equal(r.status, 403);
	assert_contains(r.body, "安全校验失败");
	res_free(&r);
	/* Above the cap. */
	snprintf(body, sizeof(body), "csrf=%s&award_id=%s&amount_mode=manual&amount_yuan=500000.01&reason=x", csrf, aid);
	r = call("POST", path, pa, body);
	assert_int_equal(r.status, 400);
	assert_contains(r.body, "上限 500,000.00 元");
	res_free(&r);
	/* Manual without a reason. */
	snprintf(body, sizeof(body), "csrf=%s&award_id=%s&amount_mode=manual&amount_yuan=1000", csrf, aid);
	r = call("POST", path, pa, body);
	assert_int_equal(r.status, 400);
	assert_contains(r.body, "必须说明理由");
	res_free(&r);
	/* Markup in the reflected amount and reason is escaped. */
	snprintf(body, sizeof(body),
	         "csrf=%s&award_id=%s&amount_mode=manual&amount_yuan=%%3Cscript%%3E&reason="
	         "%%3Cscript%%3Ealert(1)%%3C%%2Fscript%%3E%%22%%3E%%3Cimg+src%%3Dx+onerror%%3Dalert(2)%%3E",
	         csrf, aid);
	r = call("POST", path, pa, body);
	assert_int_equal(r.status, 400);
	assert_contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;");
	assert_contains(r.body, "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;");
	assert_not_contains(r.body, "<script");
	assert_not_contains(r.body, "<img");
	res_free(&r);
	/* A proposer of another district: 404, as for a missing case. */
	{
		char pb[160], csrf_b[AUTH_TOKEN_HEX + 1];
		login("prop.b", pb);
		csrf_of(pb, "/", csrf_b);
		snprintf(body, sizeof(body), "csrf=%s&award_id=%s&amount_mode=computed", csrf_b, aid);
		r = call("POST", path, pb, body);
		assert_int_equal(r.status, 404);
		res_free(&r);
	}
	assert_int_equal(count("SELECT count(*) FROM awards", NULL), 0);
}

static void
test_propose_approve(void **state)
{
	char pa[160], a1[160], a2[160], city[160], aud[160];
	char csrf[AUTH_TOKEN_HEX + 1], aid[ID_HEX_LEN + 1], path[96], apath[96], body[1024];
	struct res r;

	(void)state;
	login("prop.a", pa);
	login("appr.a1", a1);
	login("appr.a2", a2);
	login("appr.city", city);
	login("audit", aud);
	snprintf(path, sizeof(path), "/case/%s", F->case_a);
	csrf_of(pa, path, csrf);
	hidden_of(pa, path, "award_id", aid);
	snprintf(path, sizeof(path), "/case/%s/propose", F->case_a);
	snprintf(body, sizeof(body), "csrf=%s&award_id=%s&amount_mode=computed&reason=", csrf, aid);
	r = call("POST", path, pa, body);
	assert_int_equal(r.status, 303);
	snprintf(apath, sizeof(apath), "/award/%s", aid);
	assert_string_equal(r.location, apath);
	res_free(&r);
	/* The same form again: idempotent, still one award. */
	r = call("POST", path, pa, body);
	assert_int_equal(r.status, 303);
	res_free(&r);
	assert_int_equal(count("SELECT count(*) FROM awards", NULL), 1);

	/* The approver's queue lists it; the page has the decision form. */
	r = call("GET", "/", a1, NULL);
	assert_contains(r.body, aid);
	res_free(&r);
	r = call("GET", apath, a1, NULL);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "输入登录密码以签名确认");
	assert_contains(r.body, "150,000.00");
	assert_contains(r.body, "批准并签名");
	res_free(&r);
	/* A proposer cannot decide. */
	csrf_of(pa, apath, csrf);
	snprintf(body, sizeof(body), "csrf=%s&decision=approve&password=%s", csrf, PW);
	snprintf(path, sizeof(path), "/award/%s/decide", aid);
	r = call("POST", path, pa, body);
	assert_int_equal(r.status, 403);
	res_free(&r);
	/* Wrong password: nothing recorded; the reason comes back escaped. */
	csrf_of(a1, apath, csrf);
	snprintf(body, sizeof(body),
	         "csrf=%s&decision=approve&password=not-my-password-1&reason=%%3Cscript%%3Ealert(1)%%3C%%2Fscript%%3E",
	         csrf);
	r = call("POST", path, a1, body);
	assert_int_equal(r.status, 403);
	assert_contains(r.body, "登录密码不正确");
	assert_contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;");
	assert_not_contains(r.body, "<script");
	res_free(&r);
	/* No password at all; no CSRF token. */
	snprintf(body, sizeof(body), "csrf=%s&decision=approve&password=", csrf);
	r = call("POST", path, a1, body);
	assert_int_equal(r.status, 400);
	res_free(&r);
	snprintf(body, sizeof(body), "decision=approve&password=%s", PW);
	r = call("POST", path, a1, body);
	assert_int_equal(r.status, 403);
	assert_contains(r.body, "安全校验失败");
	res_free(&r);
	assert_int_equal(count("SELECT count(*) FROM approvals", NULL), 0);

	/* First district approval. */
	snprintf(body, sizeof(body), "csrf=%s&decision=approve&password=%s&reason=%%E6%%A0%%B8%%E5%%AE%%9E", csrf, PW);
	r = call("POST", path, a1, body);
	assert_int_equal(r.status, 303);
	res_free(&r);
	/* Twice: already decided. */
	r = call("POST", path, a1, body);
	assert_int_equal(r.status, 409);
	assert_contains(r.body, "只能决定一次");
	res_free(&r);
	/* A second district approver cannot complete it: a city approver is
	 * needed. */
	csrf_of(a2, apath, csrf);
	snprintf(body, sizeof(body), "csrf=%s&decision=approve&password=%s", csrf, PW);
	r = call("POST", path, a2, body);
	assert_int_equal(r.status, 403);
	assert_contains(r.body, "市级审批人");
	res_free(&r);
	assert_int_equal(count("SELECT count(*) FROM approvals", NULL), 1);
	/* The city approver completes it. */
	csrf_of(city, apath, csrf);
	snprintf(body, sizeof(body), "csrf=%s&decision=approve&password=%s", csrf, PW);
	r = call("POST", path, city, body);
	assert_int_equal(r.status, 303);
	res_free(&r);
	assert_int_equal(count("SELECT count(*) FROM awards WHERE status = 'approved'", NULL), 1);
	r = call("GET", apath, aud, NULL);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "已批准");
	assert_contains(r.body, "appr.city");
	assert_contains(r.body, "市级");
	assert_contains(r.body, "尚未认领");
	assert_not_contains(r.body, "批准并签名");
	res_free(&r);
	r = call("GET", "/budgets", aud, NULL);
	assert_contains(r.body, "50,000.00"); /* 200,000 - 150,000 left */
	res_free(&r);
}

static void
test_budget_and_reject(void **state)
{
	char pa[160], a1[160], city[160], pay[160];
	char csrf[AUTH_TOKEN_HEX + 1], aid[ID_HEX_LEN + 1], path[96], apath[96], body[1024];
	struct res r;

	(void)state;
	login("prop.a", pa);
	login("appr.a1", a1);
	login("appr.city", city);
	login("pay.a", pay);
	snprintf(path, sizeof(path), "/case/%s", F->case_a2);
	csrf_of(pa, path, csrf);
	hidden_of(pa, path, "award_id", aid);
	snprintf(path, sizeof(path), "/case/%s/propose", F->case_a2);
	snprintf(body, sizeof(body), "csrf=%s&award_id=%s&amount_mode=computed", csrf, aid);
	r = call("POST", path, pa, body);
	assert_int_equal(r.status, 303);
	res_free(&r);
	snprintf(apath, sizeof(apath), "/award/%s", aid);
	snprintf(path, sizeof(path), "/award/%s/decide", aid);
	csrf_of(a1, apath, csrf);
	snprintf(body, sizeof(body), "csrf=%s&decision=approve&password=%s", csrf, PW);
	r = call("POST", path, a1, body);
	assert_int_equal(r.status, 303);
	res_free(&r);
	/* 50,000 yuan left, 150,000 needed. */
	csrf_of(city, apath, csrf);
	snprintf(body, sizeof(body), "csrf=%s&decision=approve&password=%s", csrf, PW);
	r = call("POST", path, city, body);
	assert_int_equal(r.status, 409);
	assert_contains(r.body, "预算不足");
	assert_contains(r.body, "剩余 50,000.00 元");
	assert_contains(r.body, "需要 150,000.00 元");
	res_free(&r);
	assert_int_equal(count("SELECT count(*) FROM approvals WHERE award_id = ?1", aid), 1);
	/* Rejection needs a reason; one with markup is shown escaped. */
	snprintf(body, sizeof(body), "csrf=%s&decision=reject&password=%s&reason=", csrf, PW);
	r = call("POST", path, city, body);
	assert_int_equal(r.status, 400);
	res_free(&r);
	snprintf(body, sizeof(body),
	         "csrf=%s&decision=reject&password=%s&reason=%%22%%3E%%3Cimg+src%%3Dx+onerror%%3Dalert(2)%%3E+"
	         "javascript%%3Aalert(3)",
	         csrf, PW);
	r = call("POST", path, city, body);
	assert_int_equal(r.status, 303);
	res_free(&r);
	r = call("GET", apath, pay, NULL);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "已驳回");
	assert_contains(r.body, "&quot;&gt;&lt;img src=x onerror=alert(2)&gt; javascript:alert(3)");
	assert_not_contains(r.body, "<img");
	assert_not_contains(r.body, "href=\"javascript:");
	res_free(&r);
	r = call("GET", "/ledger", pay, NULL);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "账本一致");
	assert_contains(r.body, "批准预留");
	res_free(&r);
}


/* The vault, as far as a batch needs it: one sealed blob per share. */
static enum tl_err
fake_reveal(void *ctx, const struct wire_reveal_req *req, struct wire_reveal_rep *rep, char *why, size_t whylen)
{
	static const char payee[] = "{\"claim_id\":\"x\"}";

	(void)ctx;
	(void)why;
	(void)whylen;
	memset(rep, 0, sizeof(*rep));
	snprintf(rep->request_id, sizeof(rep->request_id), "%s", req->request_id);
	rep->ok = true;
	for (size_t i = 0; i < req->n_shares; i++) {
		struct wire_reveal_row *r = &rep->rows[i];
		r->share_idx = req->shares[i].share_idx;
		snprintf(r->report_id, sizeof(r->report_id), "%s", req->shares[i].report_id);
		snprintf(r->payee_ref, sizeof(r->payee_ref), "%s", req->shares[i].payee_ref);
		r->sealed_len = crypto_box_SEALBYTES + sizeof(payee) - 1;
		r->sealed = malloc(r->sealed_len);
		assert_non_null(r->sealed);
		crypto_box_seal(r->sealed, (const unsigned char *)payee, sizeof(payee) - 1, F->svc.export_pk);
		rep->n_rows++;
	}
	return TL_OK;
}

static void
test_batch(void **state)
{
	char pb[160], ab[160], payb[160], paya[160], aud[160];
	char csrf[AUTH_TOKEN_HEX + 1], aid[ID_HEX_LEN + 1], bid[ID_HEX_LEN + 1], path[160], bpath[96], body[512];
	char why[256], file[PATH_MAX];
	struct wire_eligibility el;
	struct export_hooks h;
	enum cases_outcome out;
	char cid[ID_HEX_LEN + 1];
	size_t rows = 0;
	struct res r;
	FILE *f;
	long flen;

	(void)state;
	login("prop.b", pb);
	login("appr.b", ab);
	login("pay.b", payb);
	login("pay.a", paya);
	login("audit", aud);
	snprintf(path, sizeof(path), "/case/%s", F->case_c);
	csrf_of(pb, path, csrf);
	hidden_of(pb, path, "award_id", aid);
	snprintf(path, sizeof(path), "/case/%s/propose", F->case_c);
	snprintf(body, sizeof(body), "csrf=%s&award_id=%s&amount_mode=computed", csrf, aid);
	r = call("POST", path, pb, body);
	assert_int_equal(r.status, 303);
	res_free(&r);
	snprintf(path, sizeof(path), "/award/%s", aid);
	csrf_of(ab, path, csrf);
	snprintf(path, sizeof(path), "/award/%s/decide", aid);
	snprintf(body, sizeof(body), "csrf=%s&decision=approve&password=%s", csrf, PW);
	r = call("POST", path, ab, body);
	assert_int_equal(r.status, 303);
	res_free(&r);

	/* Nothing ready before the reporter's claim is found eligible. */
	r = call("GET", "/", payb, NULL);
	assert_contains(r.body, "目前没有可导出的付款");
	res_free(&r);
	memset(&el, 0, sizeof(el));
	id_new(el.claim_id);
	snprintf(el.report_id, sizeof(el.report_id), "%s", F->report_c);
	id_new(el.payee_ref);
	el.eligible = true;
	el.at_ms = time_now_ms();
	pthread_mutex_lock(&F->svc.lock);
	assert_int_equal(cases_apply_eligibility(&F->svc, &el, time_now_ms(), &out, cid), TL_OK);
	pthread_mutex_unlock(&F->svc.lock);
	r = call("GET", "/", payb, NULL);
	assert_contains(r.body, aid);
	assert_contains(r.body, "100,000.00");
	res_free(&r);
	snprintf(path, sizeof(path), "/award/%s", aid);
	r = call("GET", path, payb, NULL);
	assert_contains(r.body, "已认领，资格审核通过");
	res_free(&r);

	memset(&h, 0, sizeof(h));
	h.reveal = fake_reveal;
	assert_int_equal(export_batch_with(&F->svc, &h, "pay.b", D_B, time_now_ms(), bid, &rows, why, sizeof(why)), TL_OK);
	assert_int_equal(rows, 1);
	snprintf(bpath, sizeof(bpath), "/batch/%s", bid);

	/* Visible to its district's payer and the auditor; another district
	 * gets the 404 of a missing batch. */
	r = call("GET", "/batches", payb, NULL);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, bid);
	assert_contains(r.body, "tipline payfile open");
	res_free(&r);
	r = call("GET", "/batches", paya, NULL);
	assert_not_contains(r.body, bid);
	res_free(&r);
	r = call("GET", bpath, paya, NULL);
	assert_int_equal(r.status, 404);
	res_free(&r);
	r = call("GET", bpath, payb, NULL);
	assert_int_equal(r.status, 200);
	assert_contains(r.body, "确认银行已付款");
	assert_contains(r.body, "银行退回");
	assert_contains(r.body, "下载加密付款文件");
	res_free(&r);
	r = call("GET", bpath, aud, NULL);
	assert_int_equal(r.status, 200);
	assert_not_contains(r.body, "确认银行已付款");
	res_free(&r);

	/* The file: the sealed bytes on disk, as octet-stream. */
	{
		struct export_batch b;
		struct export_row *er = NULL;
		size_t n = 0;
		char fpath[120];
		assert_int_equal(export_batch_get(&F->svc, bid, &b, &er, &n), TL_OK);
		free(er);
		snprintf(file, sizeof(file), "%s/%s", F->dir, b.file_name);
		snprintf(fpath, sizeof(fpath), "%s/file", bpath);
		f = fopen(file, "rb");
		assert_non_null(f);
		assert_int_equal(fseek(f, 0, SEEK_END), 0);
		flen = ftell(f);
		fclose(f);
		assert_true(flen > 0);
		r = call("GET", fpath, payb, NULL);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.ctype, "application/octet-stream");
		/* Saved, never rendered, under a name that says what opens it. */
		assert_contains(r.disposition, "attachment; filename=\"batch-");
		assert_contains(r.disposition, ".tlpay\"");
		res_free(&r);
		r = call("GET", fpath, pb, NULL);
		assert_int_equal(r.status, 403);
		res_free(&r);
	}

	/* Only a payer confirms; without the token nothing is paid. */
	snprintf(path, sizeof(path), "%s/confirm", bpath);
	csrf_of(aud, "/", csrf);
	snprintf(body, sizeof(body), "csrf=%s", csrf);
	r = call("POST", path, aud, body);
	assert_int_equal(r.status, 403);
	res_free(&r);
	r = call("POST", path, payb, "x=1");
	assert_int_equal(r.status, 403);
	res_free(&r);
	assert_int_equal(count("SELECT count(*) FROM transfers WHERE kind = 'pay'", NULL), 0);
	csrf_of(payb, bpath, csrf);
	snprintf(body, sizeof(body), "csrf=%s", csrf);
	r = call("POST", path, payb, body);
	assert_int_equal(r.status, 303);
	res_free(&r);
	assert_int_equal(count("SELECT count(*) FROM transfers WHERE kind = 'pay'", NULL), 1);
	r = call("GET", bpath, payb, NULL);
	assert_contains(r.body, "已确认付款");
	assert_contains(r.body, "已付款");
	assert_not_contains(r.body, "确认银行已付款");
	res_free(&r);
	/* Confirming again pays nothing twice. */
	r = call("POST", path, payb, body);
	assert_true(r.status == 303 || r.status == 409);
	res_free(&r);
	assert_int_equal(count("SELECT count(*) FROM transfers WHERE kind = 'pay'", NULL), 1);
	snprintf(path, sizeof(path), "/award/%s", aid);
	r = call("GET", path, aud, NULL);
	assert_contains(r.body, "已付款");
	res_free(&r);
	r = call("GET", "/ledger", payb, NULL);
	assert_contains(r.body, "账本一致");
	assert_contains(r.body, "付款");
	res_free(&r);
}

static void
test_logout(void **state)
{
	char pa[160], csrf[AUTH_TOKEN_HEX + 1], body[128];
	struct res r;

	(void)state;
	login("prop.a", pa);
	csrf_of(pa, "/", csrf);
	r = call("POST", "/logout", pa, "x=1");
	assert_int_equal(r.status, 403);
	res_free(&r);
	snprintf(body, sizeof(body), "csrf=%s", csrf);
	r = call("POST", "/logout", pa, body);
	assert_int_equal(r.status, 303);
	assert_string_equal(r.location, "/login");
	res_free(&r);
	r = call("GET", "/", pa, NULL);
	assert_int_equal(r.status, 303);
	res_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yuan_parse),
		cmocka_unit_test(test_yuan_fmt),
		cmocka_unit_test(test_anonymous),
		cmocka_unit_test(test_scope_and_roles),
		cmocka_unit_test(test_propose_refusals),
		cmocka_unit_test(test_propose_approve),
		cmocka_unit_test(test_budget_and_reject),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_logout),
	};

	log_init("console_test", LOG_WARN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
