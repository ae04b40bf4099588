/*
 * console.c - see console.h and docs/console.md.
 */
#include "compat.h"
#include "console.h"
#include "auth.h"
#include "district.h"
#include "html.h"
#include "ids.h"
#include "log.h"
#include "redact.h"
#include "timefmt.h"
#include "wire.h"
#include "web_district.h"
#include "web_district_common.h"

#include <pthread.h>
#include <sodium.h>
#include <time.h>

enum tmpl_id { T_HEAD, T_FOOT, T_LOGIN, T_QUEUE, T_ROWS, T_CASE, T_TRANSFERS, T_BOARD, T_ERROR, T_COUNT };
static const char *const tmpl_files[T_COUNT] = {
	"head.html", "foot.html", "login.html", "queue.html", "rows.html",
	"case.html", "transfers.html", "board.html", "error.html",
};

struct console {
	struct console_opts o;
	unsigned char key[DB_KEY_LEN];
	struct db *users;      /* lent to common/staffweb under mu */
	pthread_mutex_t mu;
	struct html_tmpl *t[T_COUNT];
	struct staffweb_site site;
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

static int64_t
now_ms(const struct console *c)
{
	return c->o.now_ms ? c->o.now_ms() : time_now_ms();
}

/* ---- open / close ---- */

/* common/staffweb borrows the users connection for one auth call. */
static struct db *
users_get(void *cls)
{
	struct console *c = cls;

	pthread_mutex_lock(&c->mu);
	return c->users;
}

static void
users_put(void *cls, struct db *db)
{
	struct console *c = cls;

	(void)db;
	pthread_mutex_unlock(&c->mu);
}

/* db.h: after a fatal database error the process must exit (the node's
 * main loop watches these flags). */
static void
on_fatal(void *cls)
{
	struct console *c = cls;

	if (c->o.fatal)
		*c->o.fatal = 1;
	if (c->o.stop)
		*c->o.stop = 1;
}

enum tl_err
console_open(const struct console_opts *o, struct console **out)
{
	struct console *c;
	enum tl_err e;

	*out = NULL;
	if (!o->db_path || !o->db_key || !o->cases)
		return TL_EINVAL;
	if (!(c = calloc(1, sizeof(*c))))
		return TL_ENOMEM;
	c->o = *o;
	memcpy(c->key, o->db_key, DB_KEY_LEN);
	c->o.db_key = NULL;
	pthread_mutex_init(&c->mu, NULL);
	/* One connection, lent to one thread at a time (db.h: one struct db
	 * per thread, and a file opened at most once per process). */
	if ((e = db_open(o->db_path, c->key, DB_CREATE, &c->users)) != TL_OK ||
	    (e = auth_migrate(c->users)) != TL_OK ||
	    (e = staffweb_templates(web_district_files, web_district_files_count, tmpl_files, T_COUNT, c->t,
	                            "console")) != TL_OK)
		goto fail;
	c->site.head = c->t[T_HEAD];
	c->site.foot = c->t[T_FOOT];
	c->site.error = c->t[T_ERROR];
	c->site.login = c->t[T_LOGIN];
	c->site.db.get = users_get;
	c->site.db.put = users_put;
	c->site.db.cls = c;
	c->site.cookie_secure = o->cookie_secure;
	c->site.home = "/";
	c->site.fatal = on_fatal;
	c->site.fatal_cls = c;
	c->site.log_name = "console";
	c->site.css_common = web_district_common_console_css;
	c->site.css_common_len = web_district_common_console_css_len;
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
	db_close(c->users);
	sodium_memzero(c->key, sizeof(c->key));
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* ---- request context ---- */

struct ctx {
	struct console *c;
	struct staffweb_ctx w;
	struct case_actor actor;   /* after need_session() */
};

/* head + the templates ids + foot, all with v. */
static void
render(struct ctx *x, unsigned status, const enum tmpl_id *ids, size_t n, const struct html_vars *v)
{
	struct staffweb_part parts[4];

	n = n < TL_ARRAY_LEN(parts) ? n : TL_ARRAY_LEN(parts);
	for (size_t i = 0; i < n; i++) {
		parts[i].t = x->c->t[ids[i]];
		parts[i].v = v;
	}
	staffweb_render(&x->w, status, parts, n);
}

/* ---- sessions ---- */

/* Loads the session and the case actor it stands for.  false: the
 * response is set (a redirect to /login, 403 or 503). */
static bool
need_session(struct ctx *x)
{
	const struct auth_user *u;

	if (!staffweb_session(&x->w))
		return false;
	u = &x->w.s.user;
	x->actor.user = u->name;
	switch (u->role) {
	case AUTH_ROLE_RESPONDER: x->actor.role = CASE_RESPONDER; break;
	case AUTH_ROLE_SUPERVISOR: x->actor.role = CASE_SUPERVISOR; break;
	case AUTH_ROLE_CITY_OFFICE: x->actor.role = CASE_CITY_OFFICE; break;
	default:
		staffweb_message(&x->w, 403, "无权访问", "您的账户不是区级处置人员，不能使用本处置台。");
		return false;
	}
	x->actor.district = strcmp(u->scope, "all") == 0 ? DISTRICT_CITY : u->scope;
	if (!case_serves(x->c->o.cases, x->actor.district)) {
		staffweb_message(&x->w, 403, "辖区不符", "本节点不负责您账户所属的辖区，请使用本辖区的处置台地址。");
		return false;
	}
	return true;
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

		staffweb_fmt_time(l[i].received_ms, rec);
		staffweb_fmt_time(l[i].due_ms, due);
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
		staffweb_fatal(&x->w);
	else if (e == TL_EDENIED)
		staffweb_message(&x->w, 403, "无权访问", "您的角色无权查看该列表。");
	else
		staffweb_internal(&x->w);
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
	const char *tab = staffweb_query(x->w.req, "tab");

	for (size_t i = 0; i < TL_ARRAY_LEN(tabs); i++)
		if (tab && strcmp(tab, tabs[i].key) == 0)
			which = i;
	if ((e = staffweb_base_vars(&x->w, "线索队列", NULL, NULL, &v)) != TL_OK)
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

		if ((e = html_vars_new(STAFFWEB_VARS_MAX, &bv)) != TL_OK ||
		    (e = board_vars(x, bv, staffweb_query(x->w.req, "sort"))) != TL_OK) {
			html_vars_free(bv);
			goto fail;
		}
		{
			const struct staffweb_part parts[] = {
				{ x->c->t[T_QUEUE], v }, { x->c->t[T_ROWS], v }, { x->c->t[T_BOARD], bv }, { x->c->t[T_ROWS], bv },
			};
			staffweb_render(&x->w, 200, parts, TL_ARRAY_LEN(parts));
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

	if ((e = staffweb_base_vars(&x->w, "期限看板", NULL, NULL, &v)) != TL_OK ||
	    (e = board_vars(x, v, staffweb_query(x->w.req, "sort"))) != TL_OK) {
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

	if ((e = staffweb_base_vars(&x->w, "移交收件箱", error, NULL, &v)) != TL_OK ||
	    (e = case_list(x->c->o.cases, &x->actor, CASE_Q_INCOMING, &l, &n)) != TL_OK ||
	    (e = html_vars_set(v, "district_name", district_label(x->actor.district))) != TL_OK ||
	    (e = html_vars_list(v, "offer")) != TL_OK) {
		list_failed(x, e);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct html_vars *r;
		char rec[64], due[64];

		staffweb_fmt_time(l[i].received_ms, rec);
		staffweb_fmt_time(l[i].due_ms, due);
		if ((e = html_vars_add_row(v, "offer", &r)) != TL_OK || (e = html_vars_set(r, "lead_id", l[i].lead_id)) != TL_OK ||
		    (e = html_vars_set(r, "from", district_label(l[i].district))) != TL_OK ||
		    (e = html_vars_setf(r, "transfer_n", "%d", l[i].transfers)) != TL_OK ||
		    (e = html_vars_set(r, "received", rec)) != TL_OK || (e = html_vars_set(r, "due", due)) != TL_OK ||
		    (e = html_vars_set_bool(r, "overdue", l[i].overdue)) != TL_OK) {
			staffweb_internal(&x->w);
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

	staffweb_fmt_time(s->lease_until_ms, t1);
	staffweb_fmt_time(s->due_ms, t2);
	if (s->due_ms > 0)
		snprintf(txt, sizeof(txt), "%s（%s）", t2, LABEL(steps, s->due_step));
	else
		snprintf(txt, sizeof(txt), "—");
	now = (time_t)(x->w.now_ms / 1000) + 8 * 3600;
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
	staffweb_fmt_time(cv->xfer_deadline_ms, t1);
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
		staffweb_fmt_time(rp->received_ms, rec);
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

		staffweb_fmt_time(f->checked_ms, ck);
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

		staffweb_fmt_time(h->at_ms, at);
		if ((e = html_vars_add_row(v, "history", &r)) != TL_OK ||
		    (e = html_vars_setf(r, "seq", "%llu", (unsigned long long)h->seq)) != TL_OK ||
		    (e = html_vars_set(r, "at", at)) != TL_OK ||
		    (e = html_vars_set(r, "type", LABEL(events, h->type))) != TL_OK ||
		    (e = html_vars_set(r, "actor", h->actor[0] ? h->actor : "系统")) != TL_OK)
			return e;
	}
	return TL_OK;
}

static void
not_found(struct ctx *x)
{
	/* The same answer for "no such case" and "not your district", so
	 * that a responder cannot probe other districts' lead ids. */
	staffweb_message(&x->w, 404, "未找到", "线索不存在，或不属于您的辖区。");
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
	if ((e = staffweb_base_vars(&x->w, "线索详情", error, NULL, &v)) != TL_OK || (e = case_vars(x, &cv, v)) != TL_OK) {
		staffweb_internal(&x->w);
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
field(const struct ctx *x, const char *name)
{
	return staffweb_field(&x->w, name);
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

/* Yuan (common/staffweb's syntax) -> fen; empty is 0. */
static bool
yuan_field(struct ctx *x, const char *name, int64_t *fen)
{
	const char *s = field(x, name);

	*fen = 0;
	return !*s || staffweb_parse_yuan(s, WIRE_MAX_FEN, fen) == TL_OK;
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
		*ms = x->w.now_ms;
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
	return *ms <= x->w.now_ms + 86400000LL;
}

static void
do_action(struct ctx *x, const char *lead_id, const char *action)
{
	struct case_node *cn = x->c->o.cases;
	char survivor[ID_HEX_LEN + 1] = "", loc[64];
	const char *bad = NULL;
	bool xfer_answer = strcmp(action, "accept") == 0 || strcmp(action, "refuse") == 0;
	enum tl_err e;

	if (!staffweb_post_form(&x->w))
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
		const char *to = field(x, "to"), *rc = field(x, "reason_code");
		const char *reason = field(x, "reason");
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
		if (!staffweb_id_ok(other, strlen(other)) || strcmp(other, lead_id) == 0) {
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
		staffweb_redirect(&x->w, loc);
		return;
	}
	log_info("console: user=%s lead=%s action=%s refused (%s)", x->actor.user, lead_id, action, tl_strerror(e));
	if (e == TL_EIO) {
		staffweb_fatal(&x->w);
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
			x->w.resp->retry_after_s = 5;
		return;
	}
	{
		struct err_text et = action_error(e);
		page_case(x, lead_id, et.status, et.msg);
		if (et.status == 503)
			x->w.resp->retry_after_s = 5;
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
console_handle(struct console *c, const struct staffweb_req *req, struct staffweb_resp *resp)
{
	struct ctx x;
	const char *p = req->path ? req->path : "";
	bool get = staffweb_is_get(req->method);

	memset(&x, 0, sizeof(x));
	x.c = c;
	staffweb_ctx_init(&x.w, &c->site, req, resp, now_ms(c));
	if (strcmp(p, "/static/console.css") == 0 && get) {
		staffweb_stylesheet(&x.w);
	} else if (strcmp(p, "/favicon.ico") == 0 && get) {
		/* No icon; 204 keeps browsers from logging a 404. */
		buf_reset(&resp->body);
		resp->status = 204;
	} else if (strcmp(p, "/login") == 0) {
		staffweb_login(&x.w);
	} else if (strcmp(p, "/logout") == 0) {
		staffweb_logout(&x.w);
	} else if (!need_session(&x)) {
		/* response set */
	} else if (strcmp(p, "/") == 0 && get) {
		page_queue(&x);
	} else if (strcmp(p, "/transfers") == 0 && get) {
		page_transfers(&x, 200, NULL);
	} else if (strcmp(p, "/board") == 0 && get) {
		page_board(&x);
	} else if (strncmp(p, "/case/", 6) == 0) {
		const char *id = p + 6, *slash = strchr(id, '/');
		size_t idlen = slash ? (size_t)(slash - id) : strlen(id);
		char lead[ID_HEX_LEN + 1];

		if (!staffweb_id_ok(id, idlen)) {
			not_found(&x);
		} else {
			memcpy(lead, id, ID_HEX_LEN);
			lead[ID_HEX_LEN] = '\0';
			if (!slash && get)
				page_case(&x, lead, 200, NULL);
			else if (slash && slash[1] && !strchr(slash + 1, '/'))
				do_action(&x, lead, slash + 1);
			else
				not_found(&x);
		}
	} else {
		staffweb_message(&x.w, 404, "未找到", "页面不存在。");
	}
	staffweb_ctx_done(&x.w);
}
