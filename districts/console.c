/*
 * console.c - see console.h and docs/console.md.
 */
#include "compat.h"
#include "console.h"
#include "auth.h"
#include "district.h"
#include "html.h"
#include "http.h"
#include "ids.h"
#include "log.h"
#include "redact.h"
#include "secret.h"
#include "timefmt.h"
#include "wire.h"
#include "web_district.h"

#include <pthread.h>
#include <sodium.h>
#include <time.h>

#define VARS_MAX (8u * 1024 * 1024)
#define MAX_DBS 16

enum tmpl_id { T_HEAD, T_FOOT, T_LOGIN, T_QUEUE, T_ROWS, T_CASE, T_TRANSFERS, T_BOARD, T_ERROR, T_COUNT };
static const char *const tmpl_files[T_COUNT] = {
	"head.html", "foot.html", "login.html", "queue.html", "rows.html",
	"case.html", "transfers.html", "board.html", "error.html",
};

struct console {
	struct console_opts o;
	unsigned char key[DB_KEY_LEN];
	struct db *dbs[MAX_DBS];
	bool busy[MAX_DBS];
	size_t ndb;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct html_tmpl *t[T_COUNT];
	const unsigned char *css;
	size_t css_len;
};

/* ---- labels (zh-CN) ---- */

struct label {
	const char *v, *l;
};

static const struct label agencies[] = {
	{ "miit", "工信部门" }, { "ndrc", "发改部门" }, { "samr", "市场监管部门" }, { "police", "公安部门" },
	{ "env", "生态环境部门" }, { "grid", "国网电力" }, { "steel", "钢铁工业协会" },
};
static const struct label checks[] = {
	{ "site_visit", "现场检查" }, { "power_use", "用电量核查" }, { "product_sampling", "产品抽检" },
	{ "document_review", "资料审查" }, { "interview", "询问调查" }, { "market_check", "市场检查" },
	{ "other", "其他" },
};
static const struct label results[] = {
	{ "confirmed", "确认存在" }, { "not_found", "未发现" }, { "inconclusive", "无法确定" },
};
static const struct label xfer_reasons[] = {
	{ "wrong_district", "分派辖区有误" }, { "site_elsewhere", "现场位于其他辖区" },
	{ "cross_district", "跨辖区线索" }, { "city_decision", "市办决定" }, { "other", "其他" },
};
static const struct label productions[] = {
	{ "running", "仍在生产" }, { "idle_restartable", "停产但可复产" }, { "dismantled", "已拆除" },
};
static const struct label states[] = {
	{ "new", "待认领" }, { "claimed", "已认领" }, { "xfer_out", "移交待答复" },
	{ "transferred", "已移交" }, { "closed", "已结案" }, { "merged", "已合并" }, { "offered", "待接收移交" },
};
static const struct label steps[] = {
	{ "claim", "认领" }, { "finding", "首次核查" }, { "verdict", "结论" }, { "transfer", "移交答复" },
};
static const struct label events[] = {
	{ "opened", "收到线索" }, { "claimed", "认领" }, { "released", "放弃认领" },
	{ "taken_over", "主管接管" }, { "finding_recorded", "记录核查" },
	{ "transfer_requested", "申请移交" }, { "transfer_accepted", "接收移交" },
	{ "transfer_refused", "拒绝移交" }, { "merged", "合并" }, { "verdict", "作出结论" },
	{ "reopened", "重新打开" }, { "lease_expired", "认领到期" }, { "overdue", "逾期" },
	{ "idle", "认领后闲置" },
};
static const struct label rules[] = {
	{ "explicit", "举报人选择的辖区" }, { "location", "举报地点" }, { "text", "举报内容中的地名" },
	{ "coords", "地理坐标" }, { "default", "无法判断，转市级分拣" },
};
static const struct label channels[] = {
	{ "web", "网页" }, { "api", "接口" }, { "hotline", "热线电话" }, { "email", "电子邮件" }, { "wechat", "微信公众号" },
};
/* Indexed by enum redact_type. */
static const char *const redaction_nouns[REDACT_NTYPES] = {
	"身份证号", "旧版身份证号", "手机号", "固定电话", "银行卡号", "电子邮箱",
	"微信号", "QQ号", "姓名", "个人链接", "车牌号",
};

static const char *
label_of(const struct label *t, size_t n, const char *v)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].v, v) == 0)
			return t[i].l;
	return v;
}
#define LABEL(tab, v) label_of(tab, TL_ARRAY_LEN(tab), v)

static const char *
district_label(const char *code)
{
	const struct district *d = district_find(code);
	return d ? d->name : code;
}

/* Beijing time (UTC+8, no daylight saving). */
static void
fmt_time(int64_t ms, char out[64])
{
	time_t t;
	struct tm tm;

	if (ms <= 0) {
		snprintf(out, 64, "—");
		return;
	}
	t = (time_t)(ms / 1000) + 8 * 3600;
	if (!gmtime_r(&t, &tm)) {
		snprintf(out, 64, "—");
		return;
	}
	snprintf(out, 64, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	         tm.tm_min);
}

static int64_t
now_ms(const struct console *c)
{
	return c->o.now_ms ? c->o.now_ms() : time_now_ms();
}

/* ---- open / close ---- */

static struct db *
pool_get(struct console *c)
{
	struct db *db = NULL;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		for (size_t i = 0; i < c->ndb; i++)
			if (!c->busy[i]) {
				c->busy[i] = true;
				db = c->dbs[i];
				break;
			}
		if (db)
			break;
		pthread_cond_wait(&c->cv, &c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return db;
}

static void
pool_put(struct console *c, struct db *db)
{
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->ndb; i++)
		if (c->dbs[i] == db)
			c->busy[i] = false;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static const struct tl_embedded_file *
embedded(const char *name)
{
	for (size_t i = 0; i < web_district_files_count; i++)
		if (web_district_files[i].name && strcmp(web_district_files[i].name, name) == 0)
			return &web_district_files[i];
	return NULL;
}

enum tl_err
console_open(const struct console_opts *o, struct console **out)
{
	struct console *c;
	const struct tl_embedded_file *f;
	char err[256];
	enum tl_err e = TL_OK;

	*out = NULL;
	if (!o->db_path || !o->db_key || !o->cases)
		return TL_EINVAL;
	if (!(c = calloc(1, sizeof(*c))))
		return TL_ENOMEM;
	c->o = *o;
	memcpy(c->key, o->db_key, DB_KEY_LEN);
	c->o.db_key = NULL;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	/* One connection, used by one request at a time (db.h: one struct db
	 * per thread, and a file opened at most once per process). */
	c->ndb = 1;
	for (size_t i = 0; i < c->ndb; i++)
		if ((e = db_open(o->db_path, c->key, DB_CREATE, &c->dbs[i])) != TL_OK)
			goto fail;
	if ((e = auth_migrate(c->dbs[0])) != TL_OK)
		goto fail;
	for (int i = 0; i < T_COUNT; i++) {
		if (!(f = embedded(tmpl_files[i]))) {
			log_err("console: template %s is not embedded", tmpl_files[i]);
			e = TL_ECONFIG;
			goto fail;
		}
		if ((e = html_tmpl_compile((const char *)f->data, f->len, &c->t[i], err, sizeof(err))) != TL_OK) {
			log_err("console: template %s: %s", tmpl_files[i], err);
			goto fail;
		}
	}
	if (!(f = embedded("console.css"))) {
		e = TL_ECONFIG;
		goto fail;
	}
	c->css = f->data;
	c->css_len = f->len;
	*out = c;
	return TL_OK;
fail:
	console_close(c);
	return e;
}

void
console_close(struct console *c)
{
	if (!c)
		return;
	for (int i = 0; i < T_COUNT; i++)
		html_tmpl_free(c->t[i]);
	for (size_t i = 0; i < c->ndb; i++)
		db_close(c->dbs[i]);
	sodium_memzero(c->key, sizeof(c->key));
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

void
console_resp_init(struct console_resp *r)
{
	memset(r, 0, sizeof(*r));
	r->status = 500;
	buf_init_secret(&r->body, CONSOLE_MAX_PAGE);
	buf_init_secret(&r->set_cookie, 512);
}

void
console_resp_free(struct console_resp *r)
{
	buf_free(&r->body);
	buf_free(&r->set_cookie);
}

/* ---- request context ---- */

struct ctx {
	struct console *c;
	const struct console_req *req;
	struct console_resp *resp;
	struct db *db;
	bool have_session;
	struct auth_session s;
	struct case_actor actor;
	struct http_form form;
	char token[HTTP_COOKIE_MAX + 1];
};

static void
redirect(struct ctx *x, const char *to)
{
	buf_reset(&x->resp->body);
	x->resp->status = 303;
	snprintf(x->resp->location, sizeof(x->resp->location), "%s", to);
}

/* One piece of a page: a template and the variables it renders with. */
struct part {
	enum tmpl_id t;
	const struct html_vars *v;
};

/* Renders head (with the first part's vars), the parts, and the foot into
 * the response.  Any failure becomes a plain 500 page, never a partial
 * page. */
static void
render_parts(struct ctx *x, unsigned status, const struct part *parts, size_t n)
{
	struct buf *b = &x->resp->body;
	enum tl_err e;

	buf_reset(b);
	if ((e = html_render(x->c->t[T_HEAD], parts[0].v, b)) != TL_OK)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if ((e = html_render(x->c->t[parts[i].t], parts[i].v, b)) != TL_OK)
			goto fail;
	if ((e = html_render(x->c->t[T_FOOT], parts[0].v, b)) != TL_OK)
		goto fail;
	x->resp->status = status;
	return;
fail:
	log_err("console: rendering failed (%s)", tl_strerror(e));
	buf_reset(b);
	x->resp->status = 500;
	snprintf(x->resp->content_type, sizeof(x->resp->content_type), "text/plain; charset=utf-8");
	if (buf_append_str(b, "页面生成失败，请稍后重试。\n") != TL_OK)
		buf_reset(b);
}

/* head + ids + foot, all with v. */
static void
render(struct ctx *x, unsigned status, const enum tmpl_id *ids, size_t n, struct html_vars *v)
{
	struct part parts[4];

	for (size_t i = 0; i < n && i < TL_ARRAY_LEN(parts); i++) {
		parts[i].t = ids[i];
		parts[i].v = v;
	}
	render_parts(x, status, parts, n < TL_ARRAY_LEN(parts) ? n : TL_ARRAY_LEN(parts));
}

/* Common variables: title, user, csrf, error. */
static enum tl_err
base_vars(struct ctx *x, const char *title, const char *error, struct html_vars **out)
{
	struct html_vars *v = NULL;
	enum tl_err e;

	*out = NULL;
	if ((e = html_vars_new(VARS_MAX, &v)) != TL_OK)
		return e;
	if ((e = html_vars_set(v, "title", title)) != TL_OK ||
	    (e = html_vars_set(v, "error", error ? error : "")) != TL_OK ||
	    (e = html_vars_set(v, "notice", "")) != TL_OK)
		goto fail;
	if (x->have_session) {
		const char *scope = x->s.user.scope;
		if ((e = html_vars_set(v, "user", x->s.user.name)) != TL_OK ||
		    (e = html_vars_set(v, "role_label", auth_role_label_zh(x->s.user.role))) != TL_OK ||
		    (e = html_vars_set(v, "scope_name", strcmp(scope, "all") == 0 ? "全市" : district_label(scope))) !=
		        TL_OK ||
		    (e = html_vars_set(v, "csrf", x->s.csrf)) != TL_OK)
			goto fail;
	} else if ((e = html_vars_set(v, "user", "")) != TL_OK || (e = html_vars_set(v, "csrf", "")) != TL_OK) {
		goto fail;
	}
	*out = v;
	return TL_OK;
fail:
	html_vars_free(v);
	return e;
}

static void
page_message(struct ctx *x, unsigned status, const char *title, const char *message)
{
	struct html_vars *v = NULL;
	static const enum tmpl_id ids[] = { T_ERROR };

	if (base_vars(x, title, NULL, &v) != TL_OK || html_vars_set(v, "message", message) != TL_OK) {
		html_vars_free(v);
		x->resp->status = 500;
		return;
	}
	render(x, status, ids, 1, v);
	html_vars_free(v);
}

static void
internal(struct ctx *x)
{
	page_message(x, 500, "系统错误", "系统内部错误，操作可能未完成。请刷新页面确认后再试。");
}

/* A fatal database error: the process must exit (db.h). */
static void
die_fatal(struct ctx *x)
{
	log_err("console: fatal database error; stopping");
	if (x->c->o.fatal)
		*x->c->o.fatal = 1;
	if (x->c->o.stop)
		*x->c->o.stop = 1;
	page_message(x, 503, "服务暂停", "数据库发生严重错误，本服务正在重启，操作未完成。请稍后再试。");
	x->resp->retry_after_s = 30;
}

/* ---- sessions ---- */

static bool
is_get(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

/* Loads the session from the cookie.  false: the response is set (a
 * redirect to /login, or 503). */
static bool
need_session(struct ctx *x)
{
	enum tl_err e;

	e = http_cookie_parse(x->req->cookie, HTTP_SESSION_COOKIE, x->token, sizeof(x->token));
	if (e == TL_OK)
		e = auth_session_check(x->db, x->token, now_ms(x->c), &x->s);
	if (e == TL_EUNAVAIL) {
		page_message(x, 503, "系统繁忙", "系统繁忙，请稍后再试。");
		x->resp->retry_after_s = 2;
		return false;
	}
	if (e == TL_EIO) {
		die_fatal(x);
		return false;
	}
	if (e != TL_OK) {
		redirect(x, "/login");
		if (x->req->cookie && http_cookie_session_clear(&x->resp->set_cookie, x->c->o.cookie_secure) != TL_OK)
			buf_reset(&x->resp->set_cookie);
		return false;
	}
	x->have_session = true;
	x->actor.user = x->s.user.name;
	switch (x->s.user.role) {
	case AUTH_ROLE_RESPONDER: x->actor.role = CASE_RESPONDER; break;
	case AUTH_ROLE_SUPERVISOR: x->actor.role = CASE_SUPERVISOR; break;
	case AUTH_ROLE_CITY_OFFICE: x->actor.role = CASE_CITY_OFFICE; break;
	default:
		page_message(x, 403, "无权访问", "您的账户不是区级处置人员，不能使用本处置台。");
		return false;
	}
	x->actor.district = strcmp(x->s.user.scope, "all") == 0 ? DISTRICT_CITY : x->s.user.scope;
	if (!case_serves(x->c->o.cases, x->actor.district)) {
		page_message(x, 403, "辖区不符", "本节点不负责您账户所属的辖区，请使用本辖区的处置台地址。");
		return false;
	}
	return true;
}

/* Parses the form and checks the CSRF token.  false: response set. */
static bool
need_form(struct ctx *x, bool csrf)
{
	static const char *const multi[] = { NULL };
	enum tl_err e;

	if (x->req->body_too_big) {
		page_message(x, 413, "内容过长", "提交的内容过长，操作未执行。");
		return false;
	}
	if (!http_form_content_type_ok(x->req->content_type)) {
		page_message(x, 415, "请求无效", "请求格式无效，操作未执行。请在页面上使用表单提交。");
		return false;
	}
	e = http_form_parse(x->req->body, x->req->body_len, CONSOLE_MAX_BODY, 32, multi, &x->form);
	if (e != TL_OK) {
		page_message(x, 400, "请求无效", "表单内容无效（重复字段、编码错误或字段过多），操作未执行。");
		return false;
	}
	if (csrf && auth_csrf_check(&x->s, http_form_get(&x->form, "csrf")) != TL_OK) {
		page_message(x, 403, "请求已失效",
		             "安全校验失败（表单令牌缺失或不正确），操作未执行。请返回页面刷新后重试。");
		return false;
	}
	return true;
}

/* ---- /login, /logout ---- */

static void
login_page(struct ctx *x, unsigned status, const char *error, const char *name)
{
	struct html_vars *v = NULL;
	static const enum tmpl_id ids[] = { T_LOGIN };

	if (base_vars(x, "登录", error, &v) != TL_OK || html_vars_set(v, "name", name ? name : "") != TL_OK) {
		html_vars_free(v);
		internal(x);
		return;
	}
	render(x, status, ids, 1, v);
	html_vars_free(v);
}

static void
do_login(struct ctx *x)
{
	char token[AUTH_TOKEN_HEX + 1], csrf[AUTH_TOKEN_HEX + 1];
	const char *name, *pw;
	enum tl_err e;

	if (is_get(x->req->method)) {
		login_page(x, 200, NULL, NULL);
		return;
	}
	if (strcmp(x->req->method, "POST") != 0) {
		snprintf(x->resp->allow, sizeof(x->resp->allow), "GET, POST");
		page_message(x, 405, "请求无效", "不支持该请求方法。");
		return;
	}
	if (!need_form(x, false))
		return;
	name = http_form_get(&x->form, "name");
	pw = http_form_get(&x->form, "password");
	if (!name || !pw || !name[0] || !pw[0]) {
		login_page(x, 400, "请输入用户名和密码。", name);
		return;
	}
	e = auth_login(x->db, name, pw, now_ms(x->c), token, csrf);
	auth_secret_wipe(csrf, sizeof(csrf));
	switch (e) {
	case TL_OK:
		break;
	case TL_EDENIED:
		log_info("console: login refused");
		login_page(x, 401, "用户名或密码错误，或账户已被暂时锁定。", name);
		goto out;
	case TL_EUNAVAIL:
		login_page(x, 503, "系统繁忙，请稍后再试。", name);
		x->resp->retry_after_s = 3;
		goto out;
	case TL_EIO:
		die_fatal(x);
		goto out;
	default:
		internal(x);
		goto out;
	}
	if (http_cookie_session(&x->resp->set_cookie, token, x->c->o.cookie_secure) != TL_OK) {
		internal(x);
		goto out;
	}
	log_info("console: login user=%s", name);
	redirect(x, "/");
out:
	auth_secret_wipe(token, sizeof(token));
}

static void
do_logout(struct ctx *x)
{
	enum tl_err e;

	if (strcmp(x->req->method, "POST") != 0) {
		snprintf(x->resp->allow, sizeof(x->resp->allow), "POST");
		page_message(x, 405, "请求无效", "请使用页面上的“退出登录”按钮。");
		return;
	}
	if (!need_session(x) || !need_form(x, true))
		return;
	if ((e = auth_logout(x->db, x->token, now_ms(x->c))) != TL_OK) {
		if (e == TL_EIO)
			die_fatal(x);
		else
			internal(x);
		return;
	}
	log_info("console: logout user=%s", x->s.user.name);
	buf_reset(&x->resp->set_cookie);
	if (http_cookie_session_clear(&x->resp->set_cookie, x->c->o.cookie_secure) != TL_OK)
		buf_reset(&x->resp->set_cookie);
	redirect(x, "/login");
}

/* ---- lists ---- */

static enum tl_err
set_labels(struct html_vars *v, const char *list, const struct label *t, size_t n)
{
	enum tl_err e;

	if ((e = html_vars_list(v, list)) != TL_OK)
		return e;
	for (size_t i = 0; i < n; i++) {
		struct html_vars *r;
		if ((e = html_vars_add_row(v, list, &r)) != TL_OK || (e = html_vars_set(r, "v", t[i].v)) != TL_OK ||
		    (e = html_vars_set(r, "l", t[i].l)) != TL_OK)
			return e;
	}
	return TL_OK;
}

static enum tl_err
add_rows(struct html_vars *v, const struct case_summary *l, size_t n)
{
	enum tl_err e;

	if ((e = html_vars_list(v, "row")) != TL_OK || (e = html_vars_set_bool(v, "any", n > 0)) != TL_OK)
		return e;
	for (size_t i = 0; i < n; i++) {
		struct html_vars *r;
		char rec[64], due[64], duetxt[96];

		fmt_time(l[i].received_ms, rec);
		fmt_time(l[i].due_ms, due);
		if (l[i].due_ms > 0)
			snprintf(duetxt, sizeof(duetxt), "%s（%s）", due, LABEL(steps, l[i].due_step));
		else
			snprintf(duetxt, sizeof(duetxt), "—");
		if ((e = html_vars_add_row(v, "row", &r)) != TL_OK ||
		    (e = html_vars_set(r, "lead_id", l[i].lead_id)) != TL_OK ||
		    (e = html_vars_setn(r, "short_id", l[i].lead_id, 8)) != TL_OK ||
		    (e = html_vars_set(r, "district", district_label(l[i].district))) != TL_OK ||
		    (e = html_vars_set(r, "state", LABEL(states, l[i].state))) != TL_OK ||
		    (e = html_vars_set(r, "holder", l[i].holder[0] ? l[i].holder : "—")) != TL_OK ||
		    (e = html_vars_set(r, "received", rec)) != TL_OK || (e = html_vars_set(r, "due", duetxt)) != TL_OK ||
		    (e = html_vars_set_bool(r, "overdue", l[i].overdue)) != TL_OK ||
		    (e = html_vars_set_bool(r, "idle", l[i].idle)) != TL_OK ||
		    (e = html_vars_setf(r, "reports", "%d", l[i].reports)) != TL_OK ||
		    (e = html_vars_setf(r, "findings", "%d", l[i].findings)) != TL_OK)
			return e;
	}
	return TL_OK;
}

static bool
open_state(const char *s)
{
	return strcmp(s, "new") == 0 || strcmp(s, "claimed") == 0 || strcmp(s, "xfer_out") == 0 ||
	       strcmp(s, "offered") == 0;
}

/* Board order: by next deadline (overdue and soonest first), district,
 * or received time. */
static int
cmp_due(const void *a, const void *b)
{
	const struct case_summary *x = a, *y = b;
	int64_t dx = x->due_ms ? x->due_ms : INT64_MAX, dy = y->due_ms ? y->due_ms : INT64_MAX;
	if (x->overdue != y->overdue)
		return x->overdue ? -1 : 1;
	return dx < dy ? -1 : dx > dy ? 1 : strcmp(x->lead_id, y->lead_id);
}
static int
cmp_district(const void *a, const void *b)
{
	const struct case_summary *x = a, *y = b;
	int c = strcmp(x->district, y->district);
	return c ? c : cmp_due(a, b);
}
static int
cmp_received(const void *a, const void *b)
{
	const struct case_summary *x = a, *y = b;
	return x->received_ms < y->received_ms ? -1 : x->received_ms > y->received_ms ? 1 : strcmp(x->lead_id, y->lead_id);
}

static const struct label sorts[] = {
	{ "due", "按期限" }, { "district", "按辖区" }, { "received", "按收到时间" },
};

/* The deadline board into v (rows + per-district summary for the city). */
static enum tl_err
board_vars(struct ctx *x, struct html_vars *v, const char *sort)
{
	struct case_summary *l = NULL;
	size_t n = 0, k = 0;
	enum tl_err e;

	if (!sort || (strcmp(sort, "district") != 0 && strcmp(sort, "received") != 0))
		sort = "due";
	if ((e = case_list(x->c->o.cases, &x->actor, CASE_Q_ALL, &l, &n)) != TL_OK)
		return e;
	for (size_t i = 0; i < n; i++)
		if (open_state(l[i].state))
			l[k++] = l[i];
	qsort(l, k, sizeof(*l),
	      strcmp(sort, "district") == 0 ? cmp_district : strcmp(sort, "received") == 0 ? cmp_received : cmp_due);
	if ((e = html_vars_list(v, "sorts")) != TL_OK)
		goto out;
	for (size_t i = 0; i < TL_ARRAY_LEN(sorts); i++) {
		struct html_vars *r;
		if ((e = html_vars_add_row(v, "sorts", &r)) != TL_OK || (e = html_vars_set(r, "key", sorts[i].v)) != TL_OK ||
		    (e = html_vars_set(r, "label", sorts[i].l)) != TL_OK ||
		    (e = html_vars_set_bool(r, "current", strcmp(sort, sorts[i].v) == 0)) != TL_OK)
			goto out;
	}
	if ((e = html_vars_set_bool(v, "districts_summary", x->actor.role == CASE_CITY_OFFICE)) != TL_OK ||
	    (e = html_vars_list(v, "dsum")) != TL_OK)
		goto out;
	if (x->actor.role == CASE_CITY_OFFICE) {
		size_t nall;
		const struct district *all = district_all(&nall);
		for (size_t d = 0; d < nall; d++) {
			int open = 0, over = 0, idle = 0;
			struct html_vars *r;
			if (!case_serves(x->c->o.cases, all[d].code))
				continue;
			for (size_t i = 0; i < k; i++)
				if (strcmp(l[i].district, all[d].code) == 0) {
					open++;
					over += l[i].overdue;
					idle += l[i].idle;
				}
			if ((e = html_vars_add_row(v, "dsum", &r)) != TL_OK ||
			    (e = html_vars_set(r, "name", all[d].name)) != TL_OK ||
			    (e = html_vars_setf(r, "open", "%d", open)) != TL_OK ||
			    (e = html_vars_setf(r, "overdue", "%d", over)) != TL_OK ||
			    (e = html_vars_setf(r, "idle", "%d", idle)) != TL_OK)
				goto out;
		}
	}
	e = add_rows(v, l, k);
out:
	case_list_free(l);
	return e;
}

static void
list_failed(struct ctx *x, enum tl_err e)
{
	if (e == TL_EIO)
		die_fatal(x);
	else if (e == TL_EDENIED)
		page_message(x, 403, "无权访问", "您的角色无权查看该列表。");
	else
		internal(x);
}

static void
page_queue(struct ctx *x)
{
	static const struct { const char *key, *label; enum case_queue q; } tabs[] = {
		{ "new", "待认领", CASE_Q_NEW }, { "mine", "我的线索", CASE_Q_MINE }, { "overdue", "已逾期", CASE_Q_OVERDUE },
	};
	struct html_vars *v = NULL;
	struct case_summary *cur = NULL;
	size_t ncur = 0, which = 0;
	enum tl_err e;
	bool city = x->actor.role == CASE_CITY_OFFICE;

	for (size_t i = 0; i < TL_ARRAY_LEN(tabs); i++)
		if (x->req->query_tab && strcmp(x->req->query_tab, tabs[i].key) == 0)
			which = i;
	if ((e = base_vars(x, "线索队列", NULL, &v)) != TL_OK)
		goto fail;
	if ((e = html_vars_set(v, "district_name", district_label(x->actor.district))) != TL_OK ||
	    (e = html_vars_list(v, "tabs")) != TL_OK)
		goto fail;
	for (size_t i = 0; i < TL_ARRAY_LEN(tabs); i++) {
		struct case_summary *l = NULL;
		size_t n = 0;
		struct html_vars *r;

		if ((e = case_list(x->c->o.cases, &x->actor, tabs[i].q, &l, &n)) != TL_OK)
			goto fail;
		if ((e = html_vars_add_row(v, "tabs", &r)) != TL_OK || (e = html_vars_set(r, "key", tabs[i].key)) != TL_OK ||
		    (e = html_vars_set(r, "label", tabs[i].label)) != TL_OK ||
		    (e = html_vars_setf(r, "count", "%zu", n)) != TL_OK ||
		    (e = html_vars_set_bool(r, "current", i == which)) != TL_OK) {
			case_list_free(l);
			goto fail;
		}
		if (i == which) {
			cur = l;
			ncur = n;
		} else {
			case_list_free(l);
		}
	}
	if ((e = add_rows(v, cur, ncur)) != TL_OK)
		goto fail;
	if (city) {
		/* The city office sees the deadline board under its queue. */
		struct html_vars *bv = NULL;

		if ((e = html_vars_new(VARS_MAX, &bv)) != TL_OK || (e = board_vars(x, bv, x->req->query_sort)) != TL_OK) {
			html_vars_free(bv);
			goto fail;
		}
		{
			const struct part parts[] = { { T_QUEUE, v }, { T_ROWS, v }, { T_BOARD, bv }, { T_ROWS, bv } };
			render_parts(x, 200, parts, TL_ARRAY_LEN(parts));
		}
		html_vars_free(bv);
	} else {
		static const enum tmpl_id q[] = { T_QUEUE, T_ROWS };
		render(x, 200, q, 2, v);
	}
	goto out;
fail:
	list_failed(x, e);
out:
	case_list_free(cur);
	html_vars_free(v);
}

static void
page_board(struct ctx *x)
{
	static const enum tmpl_id ids[] = { T_BOARD, T_ROWS };
	struct html_vars *v = NULL;
	enum tl_err e;

	if ((e = base_vars(x, "期限看板", NULL, &v)) != TL_OK || (e = board_vars(x, v, x->req->query_sort)) != TL_OK) {
		list_failed(x, e);
		goto out;
	}
	render(x, 200, ids, 2, v);
out:
	html_vars_free(v);
}

static void
page_transfers(struct ctx *x, unsigned status, const char *error)
{
	static const enum tmpl_id ids[] = { T_TRANSFERS };
	struct html_vars *v = NULL;
	struct case_summary *l = NULL;
	size_t n = 0;
	enum tl_err e;

	if ((e = base_vars(x, "移交收件箱", error, &v)) != TL_OK ||
	    (e = case_list(x->c->o.cases, &x->actor, CASE_Q_INCOMING, &l, &n)) != TL_OK ||
	    (e = html_vars_set(v, "district_name", district_label(x->actor.district))) != TL_OK ||
	    (e = html_vars_list(v, "offer")) != TL_OK) {
		list_failed(x, e);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct html_vars *r;
		char rec[64], due[64];

		fmt_time(l[i].received_ms, rec);
		fmt_time(l[i].due_ms, due);
		if ((e = html_vars_add_row(v, "offer", &r)) != TL_OK || (e = html_vars_set(r, "lead_id", l[i].lead_id)) != TL_OK ||
		    (e = html_vars_set(r, "from", district_label(l[i].district))) != TL_OK ||
		    (e = html_vars_setf(r, "transfer_n", "%d", l[i].transfers)) != TL_OK ||
		    (e = html_vars_set(r, "received", rec)) != TL_OK || (e = html_vars_set(r, "due", due)) != TL_OK ||
		    (e = html_vars_set_bool(r, "overdue", l[i].overdue)) != TL_OK) {
			internal(x);
			goto out;
		}
	}
	render(x, status, ids, 1, v);
out:
	case_list_free(l);
	html_vars_free(v);
}

/* ---- the case page ---- */

static enum tl_err
redaction_text(const unsigned counts[REDACT_NTYPES], char *out, size_t outlen)
{
	size_t used = 0;
	bool any = false;

	out[0] = '\0';
	for (int t = 0; t < REDACT_NTYPES; t++) {
		int w;
		if (!counts[t])
			continue;
		w = snprintf(out + used, outlen - used, "%s已移除 %u 个%s", any ? "，" : "", counts[t],
		             redaction_nouns[t]);
		if (w < 0 || (size_t)w >= outlen - used)
			return TL_ETOOBIG;
		used += (size_t)w;
		any = true;
	}
	if (!any)
		snprintf(out, outlen, "未发现需要移除的个人信息");
	return TL_OK;
}

static enum tl_err
case_vars(struct ctx *x, const struct case_view *cv, struct html_vars *v)
{
	const struct case_summary *s = &cv->s;
	bool mine = strcmp(s->district, x->actor.district) == 0;
	bool sup = x->actor.role != CASE_RESPONDER;
	bool holder = s->holder[0] && strcmp(s->holder, x->actor.user) == 0;
	bool claimed = strcmp(s->state, "claimed") == 0;
	char t1[64], t2[64], today[48], txt[96];
	time_t now;
	struct tm tm;
	enum tl_err e;

	fmt_time(s->lease_until_ms, t1);
	fmt_time(s->due_ms, t2);
	if (s->due_ms > 0)
		snprintf(txt, sizeof(txt), "%s（%s）", t2, LABEL(steps, s->due_step));
	else
		snprintf(txt, sizeof(txt), "—");
	now = (time_t)(now_ms(x->c) / 1000) + 8 * 3600;
	if (gmtime_r(&now, &tm))
		snprintf(today, sizeof(today), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	else
		today[0] = '\0';
	if ((e = html_vars_set(v, "lead_id", s->lead_id)) != TL_OK ||
	    (e = html_vars_setn(v, "short_id", s->lead_id, 8)) != TL_OK ||
	    (e = html_vars_set(v, "district", s->district)) != TL_OK ||
	    (e = html_vars_set(v, "district_name", district_label(s->district))) != TL_OK ||
	    (e = html_vars_set_bool(v, "origin_differs", cv->origin[0] && strcmp(cv->origin, s->district) != 0)) != TL_OK ||
	    (e = html_vars_set(v, "origin", district_label(cv->origin))) != TL_OK ||
	    (e = html_vars_set(v, "state", LABEL(states, s->state))) != TL_OK ||
	    (e = html_vars_set_bool(v, "idle", s->idle)) != TL_OK ||
	    (e = html_vars_set_bool(v, "overdue", s->overdue)) != TL_OK ||
	    (e = html_vars_set(v, "holder", s->holder[0] ? s->holder : "无")) != TL_OK ||
	    (e = html_vars_set(v, "lease_until", claimed ? t1 : "")) != TL_OK ||
	    (e = html_vars_set(v, "due", txt)) != TL_OK ||
	    (e = html_vars_set(v, "merged_into", cv->merged_into)) != TL_OK ||
	    (e = html_vars_set(v, "xfer_to", cv->xfer_to[0] ? district_label(cv->xfer_to) : "")) != TL_OK ||
	    (e = html_vars_set(v, "today", today)) != TL_OK)
		return e;
	fmt_time(cv->xfer_deadline_ms, t1);
	if ((e = html_vars_set(v, "xfer_deadline", t1)) != TL_OK ||
	    (e = html_vars_set(v, "verdict", !cv->verdict[0] ? ""
	                                     : strcmp(cv->verdict, "substantiated") == 0 ? "查证属实"
	                                                                                : "查无实据")) != TL_OK)
		return e;
	/* Which forms to offer; the core decides in the end. */
	if ((e = html_vars_set_bool(v, "can_claim", mine && strcmp(s->state, "new") == 0)) != TL_OK ||
	    (e = html_vars_set_bool(v, "can_hold", mine && claimed && holder)) != TL_OK ||
	    (e = html_vars_set_bool(v, "can_work", mine && claimed && (holder || sup))) != TL_OK ||
	    (e = html_vars_set_bool(v, "can_take_over", mine && claimed && sup && !holder)) != TL_OK ||
	    (e = html_vars_set_bool(v, "can_reopen", mine && sup && strcmp(s->state, "closed") == 0)) != TL_OK)
		return e;
	{
		bool any = mine && (strcmp(s->state, "new") == 0 || (claimed && (holder || sup)) ||
		                    (sup && strcmp(s->state, "closed") == 0));
		if ((e = html_vars_set_bool(v, "no_action", !any)) != TL_OK)
			return e;
	}
	if ((e = set_labels(v, "agencies", agencies, TL_ARRAY_LEN(agencies))) != TL_OK ||
	    (e = set_labels(v, "checks", checks, TL_ARRAY_LEN(checks))) != TL_OK ||
	    (e = set_labels(v, "results", results, TL_ARRAY_LEN(results))) != TL_OK ||
	    (e = set_labels(v, "xfer_reasons", xfer_reasons, TL_ARRAY_LEN(xfer_reasons))) != TL_OK ||
	    (e = set_labels(v, "productions", productions, TL_ARRAY_LEN(productions))) != TL_OK ||
	    (e = html_vars_list(v, "districts")) != TL_OK)
		return e;
	{
		size_t nall;
		const struct district *all = district_all(&nall);
		for (size_t i = 0; i < nall; i++) {
			struct html_vars *r;
			if (strcmp(all[i].code, s->district) == 0)
				continue;
			if ((e = html_vars_add_row(v, "districts", &r)) != TL_OK ||
			    (e = html_vars_set(r, "v", all[i].code)) != TL_OK ||
			    (e = html_vars_set(r, "l", all[i].name)) != TL_OK)
				return e;
		}
	}
	if ((e = html_vars_list(v, "report")) != TL_OK)
		return e;
	for (size_t i = 0; i < cv->nreports; i++) {
		const struct case_report *rp = &cv->reports[i];
		struct html_vars *r;
		char red[512], rec[64];
		bool ok = rp->has_meta;

		if (!ok || redaction_text(rp->redactions, red, sizeof(red)) != TL_OK)
			snprintf(red, sizeof(red), "脱敏统计不可用");
		fmt_time(rp->received_ms, rec);
		e = html_vars_add_row(v, "report", &r);
		if (e == TL_OK && (e = html_vars_setn(r, "report_short", rp->report_id, 8)) == TL_OK &&
		    (e = html_vars_set(r, "channel", LABEL(channels, rp->channel))) == TL_OK &&
		    (e = html_vars_set(r, "received", rec)) == TL_OK &&
		    (e = html_vars_set(r, "rule", ok ? LABEL(rules, rp->route_rule) : "不可用")) == TL_OK &&
		    (e = html_vars_set(r, "redaction", red)) == TL_OK &&
		    (e = html_vars_set(r, "text", rp->text ? rp->text : "")) == TL_OK &&
		    (e = html_vars_set(r, "location", rp->location ? rp->location : "")) == TL_OK) {
			if (ok)
				e = html_vars_setf(r, "confidence", "%d", rp->route_confidence);
			else
				e = html_vars_set(r, "confidence", "");
		}
		if (e != TL_OK)
			return e;
	}
	if ((e = html_vars_list(v, "finding")) != TL_OK)
		return e;
	for (size_t i = 0; i < cv->nfindings; i++) {
		const struct case_finding_row *f = &cv->findings[i];
		struct html_vars *r;
		char ck[64];

		fmt_time(f->checked_ms, ck);
		if ((e = html_vars_add_row(v, "finding", &r)) != TL_OK ||
		    (e = html_vars_set(r, "agency", LABEL(agencies, f->agency))) != TL_OK ||
		    (e = html_vars_set(r, "check", LABEL(checks, f->check))) != TL_OK ||
		    (e = html_vars_set(r, "result", LABEL(results, f->result))) != TL_OK ||
		    (e = html_vars_set(r, "checked", ck)) != TL_OK ||
		    (e = html_vars_set(r, "recorded_by", f->recorded_by)) != TL_OK ||
		    (e = html_vars_set(r, "who", f->who ? f->who : "")) != TL_OK ||
		    (e = html_vars_set(r, "details", f->details ? f->details : "")) != TL_OK ||
		    (e = html_vars_set(r, "evidence", f->evidence ? f->evidence : "")) != TL_OK)
			return e;
	}
	if ((e = html_vars_list(v, "history")) != TL_OK)
		return e;
	for (size_t i = 0; i < cv->nhistory; i++) {
		const struct case_history *h = &cv->history[i];
		struct html_vars *r;
		char at[64];

		fmt_time(h->at_ms, at);
		if ((e = html_vars_add_row(v, "history", &r)) != TL_OK ||
		    (e = html_vars_setf(r, "seq", "%llu", (unsigned long long)h->seq)) != TL_OK ||
		    (e = html_vars_set(r, "at", at)) != TL_OK ||
		    (e = html_vars_set(r, "type", LABEL(events, h->type))) != TL_OK ||
		    (e = html_vars_set(r, "actor", h->actor[0] ? h->actor : "系统")) != TL_OK)
			return e;
	}
	return TL_OK;
}

static bool
lead_id_ok(const char *s, size_t len)
{
	if (len != ID_HEX_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static void
not_found(struct ctx *x)
{
	/* The same answer for "no such case" and "not your district", so
	 * that a responder cannot probe other districts' lead ids. */
	page_message(x, 404, "未找到", "线索不存在，或不属于您的辖区。");
}

/* Renders the case page with status and an optional error message. */
static void
page_case(struct ctx *x, const char *lead_id, unsigned status, const char *error)
{
	static const enum tmpl_id ids[] = { T_CASE };
	struct case_view cv;
	struct html_vars *v = NULL;
	enum tl_err e;

	memset(&cv, 0, sizeof(cv));
	e = case_get(x->c->o.cases, &x->actor, lead_id, &cv);
	if (e == TL_ENOTFOUND || e == TL_EDENIED) {
		not_found(x);
		return;
	}
	if (e != TL_OK) {
		list_failed(x, e);
		return;
	}
	if ((e = base_vars(x, "线索详情", error, &v)) != TL_OK || (e = case_vars(x, &cv, v)) != TL_OK) {
		internal(x);
		goto out;
	}
	render(x, status, ids, 1, v);
out:
	html_vars_free(v);
	case_view_free(&cv);
}

/* ---- actions ---- */

struct err_text {
	unsigned status;
	const char *msg;
};

static struct err_text
action_error(enum tl_err e)
{
	switch (e) {
	case TL_EINVAL: return (struct err_text){ 400, "输入无效，操作未执行：请检查必填项和填写格式。" };
	case TL_EDENIED: return (struct err_text){ 403, "您的角色无权执行此操作，操作未执行。" };
	case TL_EEXIST: return (struct err_text){ 409, "该线索已被其他人认领，操作未执行。" };
	case TL_ECONFLICT:
		return (struct err_text){ 409, "线索当前状态不允许此操作（可能已结案、已合并、正在移交、"
		                               "认领已失效，或您不是认领人），操作未执行。" };
	case TL_EUNAVAIL: return (struct err_text){ 503, "认领服务暂时不可用，操作未执行，请稍后重试。" };
	case TL_ENOTFOUND: return (struct err_text){ 404, "线索不存在，或不属于您的辖区。" };
	default: return (struct err_text){ 500, "系统内部错误，操作可能未完成，请刷新页面确认。" };
	}
}

static const char *
field(struct ctx *x, const char *name)
{
	const char *v = http_form_get(&x->form, name);
	return v ? v : "";
}

/* Non-negative integer field; empty is 0. */
static bool
int_field(struct ctx *x, const char *name, int64_t max, int64_t *out)
{
	const char *s = field(x, name);
	int64_t v = 0;

	if (!*s) {
		*out = 0;
		return true;
	}
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > max / 10)
			return false;
		v = v * 10 + (*s - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* Yuan with at most two decimals -> fen. */
static bool
yuan_field(struct ctx *x, const char *name, int64_t *fen)
{
	const char *s = field(x, name);
	int64_t y = 0, f = 0;
	int dec = -1;

	*fen = 0;
	if (!*s)
		return true;
	for (; *s; s++) {
		if (*s == '.' && dec < 0) {
			dec = 0;
			continue;
		}
		if (*s < '0' || *s > '9')
			return false;
		if (dec >= 0) {
			if (++dec > 2)
				return false;
			f = f * 10 + (*s - '0');
		} else {
			if (y > 100000000000LL)
				return false;
			y = y * 10 + (*s - '0');
		}
	}
	if (dec == 1)
		f *= 10;
	*fen = y * 100 + f;
	return true;
}

/* YYYY-MM-DD (Beijing date) -> noon Beijing time in ms; empty: now. */
static bool
date_field(struct ctx *x, const char *name, int64_t *ms)
{
	const char *s = field(x, name);
	int y, m, d;
	struct tm tm;
	time_t t;

	if (!*s) {
		*ms = now_ms(x->c);
		return true;
	}
	if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d", &y, &m, &d) != 3 || y < 2000 || y > 2100 || m < 1 ||
	    m > 12 || d < 1 || d > 31)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_hour = 12;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return false;
	*ms = ((int64_t)t - 8 * 3600) * 1000;
	return *ms <= now_ms(x->c) + 86400000LL;
}

static void
do_action(struct ctx *x, const char *lead_id, const char *action)
{
	struct case_node *cn = x->c->o.cases;
	char survivor[ID_HEX_LEN + 1] = "", loc[64];
	const char *bad = NULL;
	bool xfer_answer = strcmp(action, "accept") == 0 || strcmp(action, "refuse") == 0;
	enum tl_err e;

	if (strcmp(x->req->method, "POST") != 0) {
		snprintf(x->resp->allow, sizeof(x->resp->allow), "POST");
		page_message(x, 405, "请求无效", "请使用页面上的按钮提交操作。");
		return;
	}
	if (!need_form(x, true))
		return;
	if (strcmp(action, "claim") == 0) {
		e = case_claim(cn, &x->actor, lead_id);
	} else if (strcmp(action, "renew") == 0) {
		e = case_renew(cn, &x->actor, lead_id);
	} else if (strcmp(action, "release") == 0) {
		e = case_release(cn, &x->actor, lead_id);
	} else if (strcmp(action, "takeover") == 0) {
		const char *reason = field(x, "reason");
		if (!reason[0]) {
			bad = "主管接管必须填写理由。";
			goto invalid;
		}
		e = case_take_over(cn, &x->actor, lead_id, reason);
	} else if (strcmp(action, "reopen") == 0) {
		const char *reason = field(x, "reason");
		if (!reason[0]) {
			bad = "重新打开必须填写理由。";
			goto invalid;
		}
		e = case_reopen(cn, &x->actor, lead_id, reason);
	} else if (strcmp(action, "finding") == 0) {
		struct case_finding f;
		memset(&f, 0, sizeof(f));
		f.agency = field(x, "agency");
		f.check = field(x, "check");
		f.result = field(x, "result");
		f.who = field(x, "who");
		f.details = field(x, "details")[0] ? field(x, "details") : NULL;
		f.evidence = field(x, "evidence")[0] ? field(x, "evidence") : NULL;
		if (!wire_agency_valid(f.agency) || !wire_check_valid(f.check) || !wire_result_valid(f.result)) {
			bad = "请选择部门、核查方式和结果。";
			goto invalid;
		}
		if (!f.who[0] || strlen(f.who) > CASE_MAX_WHO) {
			bad = "请填写核查人员（不超过 200 字节）。";
			goto invalid;
		}
		if ((f.details && strlen(f.details) > CASE_MAX_DETAILS) ||
		    (f.evidence && strlen(f.evidence) > CASE_MAX_EVIDENCE)) {
			bad = "核查情况或证据编号过长。";
			goto invalid;
		}
		if (!date_field(x, "checked", &f.checked_ms)) {
			bad = "核查日期无效（格式为 年-月-日，且不能晚于今天）。";
			goto invalid;
		}
		e = case_record_finding(cn, &x->actor, lead_id, &f);
	} else if (strcmp(action, "transfer") == 0) {
		const char *to = field(x, "to"), *rc = field(x, "reason_code"), *reason = field(x, "reason");
		if (!district_valid(to) || !wire_xfer_reason_valid(rc)) {
			bad = "请选择移交的辖区和原因。";
			goto invalid;
		}
		e = case_request_transfer(cn, &x->actor, lead_id, to, rc, reason[0] ? reason : NULL);
	} else if (strcmp(action, "accept") == 0) {
		e = case_accept_transfer(cn, &x->actor, lead_id);
	} else if (strcmp(action, "refuse") == 0) {
		const char *reason = field(x, "reason");
		if (!reason[0]) {
			bad = "拒绝移交必须填写理由。";
			goto invalid;
		}
		e = case_refuse_transfer(cn, &x->actor, lead_id, reason);
	} else if (strcmp(action, "merge") == 0) {
		const char *other = field(x, "other");
		if (!lead_id_ok(other, strlen(other)) || strcmp(other, lead_id) == 0) {
			bad = "请填写另一条线索的 32 位编号。";
			goto invalid;
		}
		e = case_merge(cn, &x->actor, lead_id, other, survivor);
	} else if (strcmp(action, "verdict") == 0) {
		struct case_verdict vd;
		const char *outcome = field(x, "outcome");
		int64_t furnaces, cap, seized;
		memset(&vd, 0, sizeof(vd));
		if (strcmp(outcome, "substantiated") == 0) {
			vd.substantiated = true;
		} else if (strcmp(outcome, "unfounded") != 0) {
			bad = "请选择结论：查证属实或查无实据。";
			goto invalid;
		}
		if (!int_field(x, "furnaces", 1000, &furnaces) || !int_field(x, "capacity_tpy", 100000000, &cap) ||
		    !int_field(x, "seized_kg", 100000000000LL, &seized) || !yuan_field(x, "fines_yuan", &vd.fines_fen)) {
			bad = "数量或金额无效（请填写非负数，金额最多两位小数）。";
			goto invalid;
		}
		vd.furnaces = (int)furnaces;
		vd.capacity_tpy = cap;
		vd.seized_kg = seized;
		vd.production = field(x, "production")[0] ? field(x, "production") : NULL;
		if (vd.substantiated && !wire_production_valid(vd.production)) {
			bad = "查证属实时请选择生产状态。";
			goto invalid;
		}
		vd.notes = field(x, "notes")[0] ? field(x, "notes") : NULL;
		e = case_record_verdict(cn, &x->actor, lead_id, &vd);
	} else {
		not_found(x);
		return;
	}
	if (e == TL_OK) {
		log_info("console: user=%s lead=%s action=%s ok", x->actor.user, lead_id, action);
		if (strcmp(action, "refuse") == 0)
			snprintf(loc, sizeof(loc), "/transfers");
		else
			snprintf(loc, sizeof(loc), "/case/%s", survivor[0] ? survivor : lead_id);
		redirect(x, loc);
		return;
	}
	log_info("console: user=%s lead=%s action=%s refused (%s)", x->actor.user, lead_id, action, tl_strerror(e));
	if (e == TL_EIO) {
		die_fatal(x);
		return;
	}
	if (!xfer_answer && (e == TL_ENOTFOUND || e == TL_EDENIED)) {
		/* The case may be invisible to this actor: do not tell more. */
		struct case_view cv;
		memset(&cv, 0, sizeof(cv));
		if (case_get(cn, &x->actor, lead_id, &cv) != TL_OK) {
			not_found(x);
			return;
		}
		case_view_free(&cv);
	}
	if (xfer_answer) {
		/* An offer is not a case this district can open yet: answer
		 * on the inbox. */
		struct err_text et = action_error(e);
		page_transfers(x, et.status, et.msg);
		if (et.status == 503)
			x->resp->retry_after_s = 5;
		return;
	}
	{
		struct err_text et = action_error(e);
		page_case(x, lead_id, et.status, et.msg);
		if (et.status == 503)
			x->resp->retry_after_s = 5;
	}
	return;
invalid:
	if (xfer_answer)
		page_transfers(x, 400, bad);
	else
		page_case(x, lead_id, 400, bad);
}

/* ---- routing ---- */

void
console_handle(struct console *c, const struct console_req *req, struct console_resp *resp)
{
	struct ctx x;
	const char *p = req->path ? req->path : "";

	memset(&x, 0, sizeof(x));
	x.c = c;
	x.req = req;
	x.resp = resp;
	if (strcmp(p, "/static/console.css") == 0 && is_get(req->method)) {
		snprintf(resp->content_type, sizeof(resp->content_type), "text/css; charset=utf-8");
		buf_reset(&resp->body);
		resp->status = buf_append(&resp->body, c->css, c->css_len) == TL_OK ? 200 : 500;
		return;
	}
	if (strcmp(p, "/favicon.ico") == 0 && is_get(req->method)) {
		/* No icon; 204 keeps browsers from logging a 404. */
		buf_reset(&resp->body);
		resp->status = 204;
		return;
	}
	x.db = pool_get(c);
	if (strcmp(p, "/login") == 0) {
		do_login(&x);
	} else if (strcmp(p, "/logout") == 0) {
		do_logout(&x);
	} else if (!need_session(&x)) {
		/* response set */
	} else if (strcmp(p, "/") == 0 && is_get(req->method)) {
		page_queue(&x);
	} else if (strcmp(p, "/transfers") == 0 && is_get(req->method)) {
		page_transfers(&x, 200, NULL);
	} else if (strcmp(p, "/board") == 0 && is_get(req->method)) {
		page_board(&x);
	} else if (strncmp(p, "/case/", 6) == 0) {
		const char *id = p + 6, *slash = strchr(id, '/');
		size_t idlen = slash ? (size_t)(slash - id) : strlen(id);
		char lead[ID_HEX_LEN + 1];

		if (!lead_id_ok(id, idlen)) {
			not_found(&x);
		} else {
			memcpy(lead, id, ID_HEX_LEN);
			lead[ID_HEX_LEN] = '\0';
			if (!slash && is_get(req->method))
				page_case(&x, lead, 200, NULL);
			else if (slash && slash[1] && !strchr(slash + 1, '/'))
				do_action(&x, lead, slash + 1);
			else
				not_found(&x);
		}
	} else {
		page_message(&x, 404, "未找到", "页面不存在。");
	}
	pool_put(c, x.db);
	http_form_free(&x.form);
	auth_session_wipe(&x.s);
	sodium_memzero(x.token, sizeof(x.token));
}
