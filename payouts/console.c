/*
 * console.c - the finance console's pages and actions; see console.h and
 * docs/finance-console.md.
 */
#include "compat.h"
#include "console.h"
#include "audit.h"
#include "auth.h"
#include "cases.h"
#include "district.h"
#include "export.h"
#include "html.h"
#include "ids.h"
#include "ledger.h"
#include "log.h"
#include "num.h"
#include "secret.h"
#include "sqlv.h"
#include "timefmt.h"
#include "web_payouts.h"
#include "web_payouts_common.h"

#include <errno.h>
#include <sodium.h>

#define LIST_MAX 500 /* rows on one list page */

enum tmpl_id {
	T_HEAD, T_FOOT, T_LOGIN, T_ERROR, T_HOME, T_CASE, T_AWARD, T_BUDGETS, T_BATCHES, T_BATCH, T_LEDGER,
	T_AUDIT, T_COUNT
};
static const char *const tmpl_files[T_COUNT] = {
	"head.html", "foot.html", "login.html", "error.html", "home.html", "case.html",
	"award.html", "budgets.html", "batches.html", "batch.html", "ledger.html", "audit.html",
};

struct fconsole {
	struct fconsole_opts o;
	struct payouts_svc *svc;
	struct html_tmpl *t[T_COUNT];
	struct staffweb_site site;
	/* The audit chain's public key, derived from the service's own signing
	 * key at start: the /audit page verifies the chain with it. */
	bool have_audit_pk;
	unsigned char audit_pk[AUDIT_PK_BYTES];
};

/* ---- labels (zh-CN) ---- */

struct label {
	const char *v, *l;
};

static const struct label award_statuses[] = {
	{ "proposed", "待审批" }, { "approved", "已批准" }, { "rejected", "已驳回" },
	{ "paid", "已付款" }, { "forfeited", "逾期未认领，已退回预算" }, { "void", "已作废" },
};
static const struct label share_kinds[] = {
	{ "first", "首位举报人" }, { "simultaneous", "同时举报" }, { "discretionary", "酌情增发" },
};
static const struct label share_states[] = {
	{ "open", "未结算" }, { "paid", "已付款" }, { "forfeited", "逾期未认领" },
};
static const struct label claim_reasons[] = {
	{ "excluded", "不符合领奖条件" }, { "invalid_id", "身份证号无效" },
	{ "invalid_payee", "收款信息无效" }, { "bank_rejected", "银行退回" },
};
static const struct label productions[] = {
	{ "running", "仍在生产" }, { "idle_restartable", "停产但可复产" },
	{ "dismantled", "已拆除（仅查获产品或销售）" },
};
static const struct label case_states[] = {
	{ "open", "待核查" }, { "investigating", "核查中" }, { "substantiated", "查证属实" },
	{ "unfounded", "查无实据" }, { "merged", "已合并" },
};
static const struct label decisions[] = { { "approve", "批准" }, { "reject", "驳回" } };
static const struct label levels[] = { { "district", "区级" }, { "city", "市级" } };
static const struct label account_kinds[] = {
	{ "funding", "预算来源" }, { "budget", "预算" }, { "payable", "应付（已批准待付）" }, { "paid", "已付" },
};
static const struct label transfer_kinds[] = {
	{ "fund", "拨入预算" }, { "reserve", "批准预留" }, { "pay", "付款" },
	{ "forfeit", "逾期退回预算" }, { "return", "作废退回预算" },
};
static const struct label batch_states[] = {
	{ "preparing", "正在导出" }, { "exported", "已导出，待确认付款" }, { "confirmed", "已确认付款" },
	{ "abandoned", "导出未完成，已作废" },
};
static const struct label row_states[] = {
	{ "pending", "正在导出" }, { "exported", "待确认" }, { "paid", "已付款" }, { "returned", "银行退回" },
	{ "abandoned", "已作废" },
};

static const char *
label_of(const struct label *t, size_t n, const char *v)
{
	if (!v)
		return "";
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].v, v) == 0)
			return t[i].l;
	return v;
}
#define LABEL(tab, v) label_of(tab, TL_ARRAY_LEN(tab), v)

static const char *
district_label(const char *code)
{
	const struct district *d;

	if (strcmp(code, "all") == 0)
		return "全市";
	d = district_find(code);
	return d ? d->name : code;
}

/* ---- open / close ---- */

static struct db *
lock_db(void *cls)
{
	struct fconsole *c = cls;

	pthread_mutex_lock(&c->svc->lock);
	return c->svc->db;
}

static void
unlock_db(void *cls, struct db *db)
{
	struct fconsole *c = cls;

	(void)db;
	pthread_mutex_unlock(&c->svc->lock);
}

static void
on_fatal(void *cls)
{
	struct fconsole *c = cls;

	/* db.h: after TL_EIO the process must exit and let a fresh one run
	 * WAL recovery.  The daemon's main loop stops on SIGTERM. */
	if (c->o.fatal)
		*c->o.fatal = 1;
	else
		raise(SIGTERM);
}

enum tl_err
fconsole_open(const struct fconsole_opts *o, struct fconsole **out)
{
	struct fconsole *c;
	const struct tl_embedded_file *f;
	enum tl_err e = TL_OK;

	*out = NULL;
	if (!o->svc || !o->svc->db)
		return TL_EINVAL;
	if (!(c = calloc(1, sizeof(*c))))
		return TL_ENOMEM;
	c->o = *o;
	c->svc = o->svc;
	pthread_mutex_lock(&c->svc->lock);
	e = auth_migrate(c->svc->db);
	pthread_mutex_unlock(&c->svc->lock);
	if (e != TL_OK) {
		log_err("finance console: auth schema: %s", tl_strerror(e));
		goto fail;
	}
	if ((e = staffweb_templates(web_payouts_files, web_payouts_files_count, tmpl_files, T_COUNT, c->t,
	                            "finance console")) != TL_OK)
		goto fail;
	if (!(f = staffweb_embedded(web_payouts_files, web_payouts_files_count, "console.css"))) {
		e = TL_ECONFIG;
		goto fail;
	}
	c->site.css_common = web_payouts_common_console_css;
	c->site.css_common_len = web_payouts_common_console_css_len;
	c->site.css_own = f->data;
	c->site.css_own_len = f->len;
	c->site.head = c->t[T_HEAD];
	c->site.foot = c->t[T_FOOT];
	c->site.error = c->t[T_ERROR];
	c->site.login = c->t[T_LOGIN];
	c->site.db.get = lock_db;
	c->site.db.put = unlock_db;
	c->site.db.cls = c;
	c->site.cookie_secure = o->cookie_secure;
	c->site.home = "/";
	c->site.fatal = on_fatal;
	c->site.fatal_cls = c;
	c->site.log_name = "finance console";
	if (c->svc->cfg && c->svc->cfg->audit_secret_key) {
		unsigned char *sk = NULL;
		char err[256];

		if (secret_load(c->svc->cfg->audit_secret_key, AUDIT_SK_BYTES, &sk, err, sizeof(err)) == TL_OK) {
			crypto_sign_ed25519_sk_to_pk(c->audit_pk, sk);
			c->have_audit_pk = true;
		} else {
			log_warn("finance console: audit key unreadable (%s); /audit cannot verify", err);
		}
		secret_free(sk);
	}
	*out = c;
	return TL_OK;
fail:
	fconsole_close(c);
	return e;
}

void
fconsole_close(struct fconsole *c)
{
	if (!c)
		return;
	for (int i = 0; i < T_COUNT; i++)
		html_tmpl_free(c->t[i]);
	free(c);
}

/* ---- request context ---- */

struct ctx {
	struct fconsole *c;
	struct staffweb_ctx w;
	const struct auth_user *u; /* after need_user() */
	bool locked;
};

static int64_t
now_ms(const struct fconsole *c)
{
	return c->o.now_ms ? c->o.now_ms() : time_now_ms();
}

static void
lock(struct ctx *x)
{
	pthread_mutex_lock(&x->c->svc->lock);
	x->locked = true;
}

static void
unlock(struct ctx *x)
{
	if (x->locked) {
		x->locked = false;
		pthread_mutex_unlock(&x->c->svc->lock);
	}
}

static struct db *
DB(struct ctx *x)
{
	return x->c->svc->db;
}

static bool
is_role(const struct ctx *x, enum auth_role r)
{
	return x->u && x->u->role == r;
}

/* Does the user's scope cover district?  The auditor sees everything;
 * otherwise the rule of the actions (payouts_scope_covers: its own
 * district, or the city level 120000 and "all", which cover every
 * district), so that the pages never offer what the action refuses. */
static bool
covers(const struct ctx *x, const char *district)
{
	if (!x->u)
		return false;
	return x->u->role == AUTH_ROLE_AUDITOR || payouts_scope_covers(x->u->scope, district);
}

/* The district a list is limited to, or NULL for every district. */
static const char *
scope_filter(const struct ctx *x)
{
	if (x->u->role == AUTH_ROLE_AUDITOR || strcmp(x->u->scope, "all") == 0 ||
	    strcmp(x->u->scope, DISTRICT_CITY) == 0)
		return NULL;
	return x->u->scope;
}

/* Loads the session and checks the role is a finance role.  false: the
 * response is set. */
static bool
need_user(struct ctx *x)
{
	if (!staffweb_session(&x->w))
		return false;
	switch (x->w.s.user.role) {
	case AUTH_ROLE_FINANCE_PROPOSER:
	case AUTH_ROLE_FINANCE_APPROVER:
	case AUTH_ROLE_FINANCE_PAYER:
	case AUTH_ROLE_AUDITOR:
		x->u = &x->w.s.user;
		return true;
	default:
		staffweb_message(&x->w, 403, "无权访问", "您的账户不是财务人员或审计人员，不能使用财务审批台。");
		return false;
	}
}

static void
page_db_error(struct ctx *x, enum tl_err e)
{
	unlock(x);
	if (e == TL_EIO)
		staffweb_fatal(&x->w);
	else if (e == TL_EUNAVAIL) {
		staffweb_message(&x->w, 503, "系统繁忙", "数据库繁忙，请稍后再试。");
		x->w.resp->retry_after_s = 2;
	} else
		staffweb_internal(&x->w);
}

static void
not_found(struct ctx *x, const char *what)
{
	/* The same answer for "does not exist" and "outside your scope", so
	 * that ids of other districts cannot be probed. */
	char msg[128];

	unlock(x);
	snprintf(msg, sizeof(msg), "%s不存在，或不属于您的辖区。", what);
	staffweb_message(&x->w, 404, "未找到", msg);
}

static void
forbidden(struct ctx *x, const char *msg)
{
	unlock(x);
	staffweb_message(&x->w, 403, "无权操作", msg);
}

/* A new page scope with the common variables and the navigation. */
static enum tl_err
page_vars(struct ctx *x, const char *title, const char *error, const char *notice, struct html_vars **v)
{
	enum tl_err e;

	if ((e = staffweb_base_vars(&x->w, title, error, notice, v)) != TL_OK)
		return e;
	e = html_vars_set_bool(*v, "nav_money", is_role(x, AUTH_ROLE_FINANCE_PAYER) || is_role(x, AUTH_ROLE_AUDITOR));
	if (e == TL_OK)
		e = html_vars_set_bool(*v, "nav_audit", is_role(x, AUTH_ROLE_AUDITOR));
	if (e != TL_OK) {
		html_vars_free(*v);
		*v = NULL;
	}
	return e;
}

/* The page t with v, or the error page for e; the lock is let go first. */
static void
finish_page(struct ctx *x, enum tl_err e, unsigned status, enum tmpl_id t, const struct html_vars *v)
{
	struct staffweb_part p = { x->c->t[t], v };

	unlock(x);
	if (e != TL_OK)
		page_db_error(x, e);
	else
		staffweb_render(&x->w, status, &p, 1);
}

static void
redirect_to(struct ctx *x, const char *prefix, const char *id)
{
	char loc[64];

	snprintf(loc, sizeof(loc), "%s%s", prefix, id);
	staffweb_redirect(&x->w, loc);
}

static enum tl_err
set_yuan(struct html_vars *v, const char *name, int64_t fen)
{
	char y[STAFFWEB_YUAN_LEN];

	staffweb_fmt_yuan(fen, y);
	return html_vars_set(v, name, y);
}

static enum tl_err
set_time(struct html_vars *v, const char *name, int64_t ms)
{
	char t[STAFFWEB_TIME_LEN];

	staffweb_fmt_time(ms, t);
	return html_vars_set(v, name, t);
}

static enum tl_err
set_id(struct html_vars *v, const char *name, const char *short_name, const char *id)
{
	enum tl_err e;

	if ((e = html_vars_set(v, name, id)) != TL_OK)
		return e;
	return html_vars_setn(v, short_name, id, strlen(id) < 8 ? strlen(id) : 8);
}

static const char *
col(struct db_stmt *st, int i)
{
	const char *s = db_col_text(st, i);
	return s ? s : "";
}

/* Fills the row r of a list from the current result of st. */
typedef enum tl_err (*row_fn)(struct ctx *x, struct db_stmt *st, struct html_vars *r, void *cls);

/* A row of list in v for each result of sql (parameters as in sqlv.h),
 * filled by fill; then has, unless NULL, says whether any came. */
static enum tl_err
list_rows(struct ctx *x, struct html_vars *v, const char *list, const char *has, row_fn fill, void *cls,
          const char *sql, const char *types, ...)
{
	struct db_stmt *st = NULL;
	struct html_vars *r;
	size_t n = 0;
	bool row;
	va_list ap;
	enum tl_err e;

	if ((e = html_vars_list(v, list)) != TL_OK)
		return e;
	va_start(ap, types);
	e = sqlv_vprep(DB(x), &st, sql, types, ap);
	va_end(ap);
	while (e == TL_OK && (e = db_step(st, &row)) == TL_OK && row) {
		if ((e = html_vars_add_row(v, list, &r)) != TL_OK || (e = fill(x, st, r, cls)) != TL_OK)
			break;
		n++;
	}
	if (e == TL_OK && has)
		e = html_vars_set_bool(v, has, n > 0);
	db_finalize(st);
	return e;
}

/* ---- the award's rules, as the console explains them ---- */

static int64_t
cap_fen(const struct ctx *x)
{
	int64_t cap = x->c->svc->core->rules.cap_fen;
	return cap > 0 && cap < MONEY_HARD_CAP_FEN ? cap : MONEY_HARD_CAP_FEN;
}

/* The staff level recorded with the approver's signing key; without one,
 * what the scope says. */
static enum tl_err
staff_is_city(struct ctx *x, const char *staff, bool *city)
{
	struct db_stmt *st = NULL;
	bool row = false;
	enum tl_err e;

	*city = strcmp(x->u->scope, DISTRICT_CITY) == 0 || strcmp(x->u->scope, "all") == 0;
	if ((e = db_prepare(DB(x), "SELECT level FROM staff WHERE staff_id = ?1", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, staff)) != TL_OK || (e = db_step(st, &row)) != TL_OK)
		goto out;
	if (row)
		*city = strcmp(col(st, 0), "city") == 0;
out:
	db_finalize(st);
	return e;
}

/* ---- / (waiting for me) ---- */

static enum tl_err
home_case_row(struct html_vars *v, const struct cases_summary *l, const struct cases_view *cv)
{
	struct html_vars *r;
	enum tl_err e;

	if ((e = html_vars_add_row(v, "case", &r)) != TL_OK || (e = set_id(r, "case_id", "short_id", l->case_id)) != TL_OK ||
	    (e = html_vars_set(r, "district_name", district_label(l->district))) != TL_OK ||
	    (e = html_vars_set(r, "production", LABEL(productions, cv->production))) != TL_OK ||
	    (e = cv->has_computed ? set_yuan(r, "computed", cv->computed_fen) : html_vars_set(r, "computed", "—")) != TL_OK ||
	    (e = set_time(r, "at", l->verdict_at_ms)) != TL_OK)
		return e;
	return html_vars_setf(r, "reports", "%d", l->reports);
}

static enum tl_err
home_proposer(struct ctx *x, struct html_vars *v)
{
	struct cases_summary *l = NULL;
	size_t n = 0, shown = 0;
	enum tl_err e;

	if ((e = cases_list(x->c->svc, scope_filter(x), "substantiated", LIST_MAX, &l, &n)) != TL_OK)
		return e;
	if ((e = html_vars_list(v, "case")) != TL_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct cases_view *cv;

		if (l[i].award_id[0] || !covers(x, l[i].district))
			continue;
		/* The production tier is in the full view only. */
		if (!(cv = calloc(1, sizeof(*cv)))) {
			e = TL_ENOMEM;
			goto out;
		}
		e = cases_get(x->c->svc, l[i].case_id, x->w.now_ms, cv);
		if (e == TL_OK)
			e = home_case_row(v, &l[i], cv);
		free(cv);
		if (e != TL_OK)
			goto out;
		shown++;
	}
	e = html_vars_set_bool(v, "has_cases", shown > 0);
out:
	free(l);
	return e;
}

/* An award in a list: the query's first columns are award_id, district,
 * total_fen, proposer and created_at. */
static enum tl_err
award_summary(struct db_stmt *st, struct html_vars *r)
{
	enum tl_err e;

	if ((e = set_id(r, "award_id", "short_id", col(st, 0))) != TL_OK ||
	    (e = html_vars_set(r, "district_name", district_label(col(st, 1)))) != TL_OK ||
	    (e = set_yuan(r, "total", db_col_int64(st, 2))) != TL_OK ||
	    (e = html_vars_set(r, "proposer", col(st, 3))) != TL_OK)
		return e;
	return set_time(r, "at", db_col_int64(st, 4));
}

static enum tl_err
approver_row(struct ctx *x, struct db_stmt *st, struct html_vars *r, void *cls)
{
	int64_t req = db_col_int64(st, 5), have = db_col_int64(st, 7);
	enum tl_err e;

	(void)x;
	(void)cls;
	if ((e = award_summary(st, r)) != TL_OK)
		return e;
	return html_vars_setf(r, "progress", "已批准 %lld / 需 %lld 人%s", (long long)have, (long long)req,
	                      db_col_int64(st, 6) ? "（含市级）" : "");
}

static enum tl_err
home_approver(struct ctx *x, struct html_vars *v)
{
	static const char sql[] =
		"SELECT a.award_id, a.district, a.total_fen, a.proposer, a.created_at, a.required_approvals,"
		" a.need_city, (SELECT count(*) FROM approvals p WHERE p.award_id = a.award_id"
		"  AND p.decision = 'approve')"
		" FROM awards a WHERE a.status = 'proposed' AND a.proposer <> ?1"
		" AND NOT EXISTS (SELECT 1 FROM approvals p WHERE p.award_id = a.award_id AND p.approver = ?1)"
		" AND (?2 IS NULL OR a.district = ?2) ORDER BY a.created_at, a.award_id LIMIT ?3";

	return list_rows(x, v, "award", "has_awards", approver_row, NULL, sql, "tti", x->u->name, scope_filter(x),
	                 (int64_t)LIST_MAX);
}

static enum tl_err
auditor_row(struct ctx *x, struct db_stmt *st, struct html_vars *r, void *cls)
{
	enum tl_err e;

	(void)x;
	(void)cls;
	if ((e = award_summary(st, r)) != TL_OK)
		return e;
	return html_vars_set(r, "status", LABEL(award_statuses, col(st, 5)));
}

static enum tl_err
home_auditor(struct ctx *x, struct html_vars *v)
{
	static const char sql[] = "SELECT award_id, district, total_fen, proposer, created_at, status FROM awards"
	                          " ORDER BY created_at DESC, award_id LIMIT ?1";

	return list_rows(x, v, "allaward", "has_all", auditor_row, NULL, sql, "i", (int64_t)LIST_MAX);
}

static enum tl_err home_payer(struct ctx *x, struct html_vars *v);

static void
page_home(struct ctx *x)
{
	struct html_vars *v = NULL;
	enum tl_err e;

	if ((e = page_vars(x, "待我处理", NULL, NULL, &v)) != TL_OK ||
	    (e = html_vars_set_bool(v, "is_proposer", is_role(x, AUTH_ROLE_FINANCE_PROPOSER))) != TL_OK ||
	    (e = html_vars_set_bool(v, "is_approver", is_role(x, AUTH_ROLE_FINANCE_APPROVER))) != TL_OK ||
	    (e = html_vars_set_bool(v, "is_payer", is_role(x, AUTH_ROLE_FINANCE_PAYER))) != TL_OK ||
	    (e = html_vars_set_bool(v, "is_auditor", is_role(x, AUTH_ROLE_AUDITOR))) != TL_OK)
		goto out;
	lock(x);
	if (is_role(x, AUTH_ROLE_FINANCE_PROPOSER))
		e = home_proposer(x, v);
	else if (is_role(x, AUTH_ROLE_FINANCE_APPROVER))
		e = home_approver(x, v);
	else if (is_role(x, AUTH_ROLE_FINANCE_PAYER))
		e = home_payer(x, v);
	else
		e = home_auditor(x, v);
out:
	finish_page(x, e, 200, T_HOME, v);
	html_vars_free(v);
}

/* ---- /case/<id> ---- */

/* What was typed into a refused propose form, shown again. */
struct propose_form {
	const char *mode, *amount, *reason;
};

static enum tl_err
case_award_row(struct ctx *x, struct db_stmt *st, struct html_vars *r, void *cls)
{
	enum tl_err e;

	(void)x;
	(void)cls;
	if ((e = set_id(r, "award_id", "short_id", col(st, 0))) != TL_OK ||
	    (e = html_vars_setf(r, "version", "%lld", (long long)db_col_int64(st, 1))) != TL_OK ||
	    (e = set_yuan(r, "total", db_col_int64(st, 2))) != TL_OK ||
	    (e = html_vars_set(r, "status", LABEL(award_statuses, col(st, 3)))) != TL_OK)
		return e;
	return html_vars_set(r, "proposer", col(st, 4));
}

static enum tl_err
case_awards(struct ctx *x, const char *case_id, struct html_vars *v)
{
	static const char sql[] = "SELECT award_id, version, total_fen, status, proposer FROM awards"
	                          " WHERE case_id = ?1 ORDER BY version";

	return list_rows(x, v, "award", "has_awards", case_award_row, NULL, sql, "t", case_id);
}

static enum tl_err
case_vars(struct ctx *x, const struct cases_view *cv, const struct propose_form *pf, struct html_vars *v)
{
	bool proposer = is_role(x, AUTH_ROLE_FINANCE_PROPOSER);
	bool substantiated = strcmp(cv->state, "substantiated") == 0;
	bool can = proposer && substantiated && cv->has_computed && !cv->award_id[0];
	char new_id[ID_HEX_LEN + 1];
	const char *note = "";
	const char *mode = pf && strcmp(pf->mode, "manual") == 0 ? "manual" : "computed";
	enum tl_err e;

	if (proposer && !can) {
		if (cv->award_id[0])
			note = "该案件已有有效的奖励提议，不能再次提议。";
		else if (!substantiated)
			note = "该案件尚未查证属实，不能提议奖励。";
		else
			note = "该案件的奖励金额尚未计算（缺少举报记录），暂不能提议。";
	}
	id_new(new_id);
	if ((e = set_id(v, "case_id", "short_id", cv->case_id)) != TL_OK ||
	    (e = html_vars_set(v, "district", cv->district)) != TL_OK ||
	    (e = html_vars_set(v, "district_name", district_label(cv->district))) != TL_OK ||
	    (e = html_vars_set(v, "verdict", LABEL(case_states, cv->state))) != TL_OK ||
	    (e = cv->has_verdict ? set_time(v, "verdict_at", cv->verdict_at_ms) : html_vars_set(v, "verdict_at", "")) != TL_OK ||
	    (e = html_vars_set(v, "production", cv->has_verdict ? LABEL(productions, cv->production) : "—")) != TL_OK ||
	    (e = html_vars_setf(v, "furnaces", "%d", cv->furnaces)) != TL_OK ||
	    (e = html_vars_setf(v, "capacity", "%lld", (long long)cv->capacity_tpy)) != TL_OK ||
	    (e = html_vars_setf(v, "seized", "%lld", (long long)cv->seized_kg)) != TL_OK ||
	    (e = set_yuan(v, "fines", cv->fines_fen)) != TL_OK ||
	    (e = html_vars_setf(v, "agencies", "%d 个部门参与核查", cv->agencies)) != TL_OK ||
	    (e = set_time(v, "first_report", cv->first_received_ms)) != TL_OK ||
	    (e = html_vars_setf(v, "reports", "%zu", cv->n_reports)) != TL_OK ||
	    (e = cv->n_reports > 1 ? html_vars_setf(v, "merged", "%zu", cv->n_reports - 1) : html_vars_set(v, "merged", "")) != TL_OK ||
	    (e = cv->has_computed ? set_yuan(v, "computed", cv->computed_fen) : html_vars_set(v, "computed", "—")) != TL_OK ||
	    (e = html_vars_set(v, "trace", cv->trace[0] ? cv->trace : "（尚未计算）")) != TL_OK ||
	    (e = html_vars_set_bool(v, "can_propose", can)) != TL_OK ||
	    (e = html_vars_set(v, "propose_note", note)) != TL_OK ||
	    (e = html_vars_set(v, "new_award_id", new_id)) != TL_OK ||
	    (e = html_vars_set_bool(v, "mode_computed", strcmp(mode, "computed") == 0)) != TL_OK ||
	    (e = html_vars_set_bool(v, "mode_manual", strcmp(mode, "manual") == 0)) != TL_OK ||
	    (e = html_vars_set(v, "amount_yuan", pf ? pf->amount : "")) != TL_OK ||
	    (e = html_vars_set(v, "reason", pf ? pf->reason : "")) != TL_OK ||
	    (e = set_yuan(v, "cap", cap_fen(x))) != TL_OK ||
	    (e = set_yuan(v, "dual_threshold", x->c->svc->core->rules.dual_threshold_fen)) != TL_OK)
		return e;
	return case_awards(x, cv->case_id, v);
}

/* The case, read under the lock, which stays held; NULL with the response
 * set when it is missing, outside the user's scope or unreadable. */
static struct cases_view *
lock_case(struct ctx *x, const char *case_id)
{
	struct cases_view *cv = calloc(1, sizeof(*cv));
	enum tl_err e;

	if (!cv) {
		staffweb_internal(&x->w);
		return NULL;
	}
	lock(x);
	e = cases_get(x->c->svc, case_id, x->w.now_ms, cv);
	if (e == TL_OK && covers(x, cv->district))
		return cv;
	if (e == TL_OK || e == TL_ENOTFOUND)
		not_found(x, "案件");
	else
		page_db_error(x, e);
	free(cv);
	return NULL;
}

static void
page_case(struct ctx *x, const char *case_id, unsigned status, const char *error, const struct propose_form *pf)
{
	struct cases_view *cv;
	struct html_vars *v = NULL;
	enum tl_err e;

	if (!(cv = lock_case(x, case_id)))
		return;
	if ((e = page_vars(x, "案件详情", error, NULL, &v)) == TL_OK)
		e = case_vars(x, cv, pf, v);
	finish_page(x, e, status, T_CASE, v);
	html_vars_free(v);
	free(cv);
}

/* ---- /award/<id> ---- */

static enum tl_err
award_shares(struct ctx *x, const struct award_record *ar, struct html_vars *v)
{
	static const char sql[] = "SELECT idx, state, settled_at FROM shares WHERE award_id = ?1 ORDER BY idx";
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	if ((e = html_vars_list(v, "share")) != TL_OK || (e = db_prepare(DB(x), sql, &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, ar->a.award_id)) != TL_OK)
		goto out;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		int64_t idx = db_col_int64(st, 0), settled = db_col_int64(st, 2);
		const struct award_share *sh;
		struct cases_claim_row cl;
		struct html_vars *r;
		char claim[96], settle[96], at[STAFFWEB_TIME_LEN];
		enum tl_err ce;

		if (idx < 0 || (size_t)idx >= ar->a.n_shares)
			continue;
		sh = &ar->a.shares[idx];
		ce = cases_latest_claim(DB(x), sh->report_id, &cl);
		if (ce == TL_ENOTFOUND)
			snprintf(claim, sizeof(claim), "尚未认领");
		else if (ce != TL_OK) {
			e = ce;
			goto out;
		} else if (cl.eligible)
			snprintf(claim, sizeof(claim), "已认领，资格审核通过");
		else
			snprintf(claim, sizeof(claim), "已认领，未通过（%s）", LABEL(claim_reasons, cl.reason));
		staffweb_fmt_time(settled, at);
		if (settled > 0)
			snprintf(settle, sizeof(settle), "%s（%s）", LABEL(share_states, col(st, 1)), at);
		else
			snprintf(settle, sizeof(settle), "%s", LABEL(share_states, col(st, 1)));
		if ((e = html_vars_add_row(v, "share", &r)) != TL_OK ||
		    (e = html_vars_setf(r, "idx", "%lld", (long long)idx + 1)) != TL_OK ||
		    (e = html_vars_setn(r, "report_short", sh->report_id, 8)) != TL_OK ||
		    (e = html_vars_set(r, "kind", LABEL(share_kinds, award_share_kind_name(sh->kind)))) != TL_OK ||
		    (e = set_yuan(r, "amount", sh->fen)) != TL_OK || (e = html_vars_set(r, "claim", claim)) != TL_OK ||
		    (e = html_vars_set(r, "settlement", settle)) != TL_OK)
			goto out;
	}
out:
	db_finalize(st);
	return e;
}

/* What the approvals so far say, counted while they are listed. */
struct approvals_seen {
	bool mine, city_approved;
	int approves;
};

static enum tl_err
approval_row(struct ctx *x, struct db_stmt *st, struct html_vars *r, void *cls)
{
	struct approvals_seen *a = cls;
	enum tl_err e;

	if (strcmp(col(st, 0), x->u->name) == 0)
		a->mine = true;
	if (strcmp(col(st, 2), "approve") == 0) {
		a->approves++;
		if (strcmp(col(st, 1), "city") == 0)
			a->city_approved = true;
	}
	if ((e = html_vars_set(r, "approver", col(st, 0))) != TL_OK ||
	    (e = html_vars_set(r, "level", LABEL(levels, col(st, 1)))) != TL_OK ||
	    (e = html_vars_set(r, "decision", LABEL(decisions, col(st, 2)))) != TL_OK ||
	    (e = html_vars_set(r, "reason", col(st, 3))) != TL_OK)
		return e;
	return set_time(r, "at", db_col_int64(st, 4));
}

/* Approvals into v; *mine gets whether the user has decided. */
static enum tl_err
award_approvals(struct ctx *x, const char *award_id, struct html_vars *v, bool *mine, int *approves,
                bool *city_approved)
{
	static const char sql[] = "SELECT a.approver, s.level, a.decision, a.reason, a.at FROM approvals a"
	                          " LEFT JOIN staff s ON s.staff_id = a.approver WHERE a.award_id = ?1"
	                          " ORDER BY a.at, a.approver";
	struct approvals_seen a = { false, false, 0 };
	enum tl_err e;

	e = list_rows(x, v, "approval", "has_approvals", approval_row, &a, sql, "t", award_id);
	*mine = a.mine;
	*approves = a.approves;
	*city_approved = a.city_approved;
	return e;
}

static enum tl_err
award_times(struct ctx *x, const char *award_id, int64_t *created, int64_t *decided)
{
	struct db_stmt *st = NULL;
	bool row = false;
	enum tl_err e;

	*created = *decided = 0;
	if ((e = db_prepare(DB(x), "SELECT created_at, decided_at FROM awards WHERE award_id = ?1", &st)) == TL_OK &&
	    (e = db_bind_text(st, 1, award_id)) == TL_OK && (e = db_step(st, &row)) == TL_OK && row) {
		*created = db_col_int64(st, 0);
		*decided = db_col_int64(st, 1);
	}
	db_finalize(st);
	return e;
}

/* The award, read under the lock, which stays held; NULL with the
 * response set when it is missing, outside the user's scope or
 * unreadable. */
static struct award_record *
lock_award(struct ctx *x, const char *award_id)
{
	struct award_record *ar = calloc(1, sizeof(*ar));
	enum tl_err e;

	if (!ar) {
		staffweb_internal(&x->w);
		return NULL;
	}
	lock(x);
	e = award_load(x->c->svc->core, award_id, ar);
	if (e == TL_OK && covers(x, ar->a.district))
		return ar;
	if (e == TL_OK || e == TL_ENOTFOUND)
		not_found(x, "奖励");
	else
		page_db_error(x, e);
	free(ar);
	return NULL;
}

static void
page_award(struct ctx *x, const char *award_id, unsigned status, const char *error, const char *decide_reason)
{
	struct award_record *ar;
	struct html_vars *v = NULL;
	int64_t created, decided;
	bool mine = false, city = false;
	int approves = 0;
	const char *note = "";
	char rule[256], thr[STAFFWEB_YUAN_LEN];
	enum tl_err e;

	if (!(ar = lock_award(x, award_id)))
		return;
	if ((e = page_vars(x, "奖励详情", error, NULL, &v)) != TL_OK ||
	    (e = award_times(x, award_id, &created, &decided)) != TL_OK ||
	    (e = award_shares(x, ar, v)) != TL_OK || (e = award_approvals(x, award_id, v, &mine, &approves, &city)) != TL_OK)
		goto out;
	staffweb_fmt_yuan(x->c->svc->core->rules.dual_threshold_fen, thr);
	if (ar->required_approvals >= 2)
		snprintf(rule, sizeof(rule), "金额超过 %s 元：需两名不同审批人批准，其中一名须为市级审批人（提议人不能审批）", thr);
	else
		snprintf(rule, sizeof(rule), "金额不超过 %s 元：一名审批人批准即可（提议人不能审批）", thr);
	if (is_role(x, AUTH_ROLE_FINANCE_APPROVER)) {
		if (strcmp(ar->a.proposer, x->u->name) == 0)
			note = "您是该奖励的提议人，不能审批自己提议的奖励。";
		else if (mine)
			note = "您已对该奖励作出决定。";
		else if (ar->status != AWARD_PROPOSED)
			note = "该奖励已不在待审批状态。";
	}
	if ((e = set_id(v, "award_id", "short_id", ar->a.award_id)) != TL_OK ||
	    (e = html_vars_setf(v, "version", "%d", ar->version)) != TL_OK ||
	    (e = html_vars_set(v, "case_id", ar->a.case_id)) != TL_OK ||
	    (e = html_vars_set(v, "district", ar->a.district)) != TL_OK ||
	    (e = html_vars_set(v, "district_name", district_label(ar->a.district))) != TL_OK ||
	    (e = html_vars_setf(v, "budget_year", "%d", ar->a.budget_year)) != TL_OK ||
	    (e = html_vars_set(v, "status", LABEL(award_statuses, award_status_name(ar->status)))) != TL_OK ||
	    (e = decided > 0 ? set_time(v, "decided", decided) : html_vars_set(v, "decided", "")) != TL_OK ||
	    (e = set_yuan(v, "computed", ar->a.computed_fen)) != TL_OK || (e = set_yuan(v, "total", ar->a.total_fen)) != TL_OK ||
	    (e = html_vars_set_bool(v, "manual", ar->a.total_fen != ar->a.computed_fen)) != TL_OK ||
	    (e = html_vars_set(v, "reason", ar->a.reason)) != TL_OK ||
	    (e = html_vars_set(v, "proposer", ar->a.proposer)) != TL_OK || (e = set_time(v, "created", created)) != TL_OK ||
	    (e = html_vars_set(v, "rule_text", rule)) != TL_OK ||
	    (e = html_vars_set_bool(v, "can_decide", is_role(x, AUTH_ROLE_FINANCE_APPROVER) && !note[0] &&
	                                                 ar->status == AWARD_PROPOSED)) != TL_OK ||
	    (e = html_vars_set(v, "decide_note", note)) != TL_OK)
		goto out;
	e = html_vars_set(v, "decide_reason", decide_reason ? decide_reason : "");
out:
	finish_page(x, e, status, T_AWARD, v);
	html_vars_free(v);
	free(ar);
}

/* ---- /budgets ---- */

static enum tl_err
sum_query(struct ctx *x, const char *sql, const char *a, const char *b, int64_t n, int64_t *out)
{
	struct db_stmt *st = NULL;
	bool row = false;
	enum tl_err e;

	*out = 0;
	if ((e = db_prepare(DB(x), sql, &st)) == TL_OK && (e = db_bind_text(st, 1, a)) == TL_OK &&
	    (!b || (e = db_bind_text(st, 2, b)) == TL_OK) && (n < 0 || (e = db_bind_int64(st, 3, n)) == TL_OK) &&
	    (e = db_step(st, &row)) == TL_OK && row)
		*out = db_col_int64(st, 0);
	db_finalize(st);
	return e;
}

static void
page_budgets(struct ctx *x)
{
	static const char sql[] = "SELECT name, credits_fen - debits_fen FROM accounts WHERE kind = 'budget'"
	                          " ORDER BY name";
	struct db_stmt *st = NULL;
	struct html_vars *v = NULL;
	bool row;
	size_t n = 0;
	enum tl_err e;

	if ((e = page_vars(x, "奖励预算", NULL, NULL, &v)) != TL_OK || (e = html_vars_list(v, "budget")) != TL_OK)
		goto out;
	lock(x);
	if ((e = db_prepare(DB(x), sql, &st)) != TL_OK)
		goto out;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		const char *name = col(st, 0);
		char district[8], year_s[8];
		int64_t year, remaining = db_col_int64(st, 1), funded, paid;
		struct html_vars *r;

		/* budget:<district>:<year> (ledger_account_name). */
		if (strlen(name) != 18 || strncmp(name, "budget:", 7) != 0 || name[13] != ':')
			continue;
		memcpy(district, name + 7, 6);
		district[6] = '\0';
		memcpy(year_s, name + 14, 4);
		year_s[4] = '\0';
		if (!covers(x, district) || num_parse_i64(year_s, 4, 2000, 2999, &year) != TL_OK)
			continue;
		if ((e = sum_query(x, "SELECT coalesce(sum(amount_fen), 0) FROM transfers WHERE kind = 'fund' AND credit = ?1",
		                   name, NULL, -1, &funded)) != TL_OK ||
		    (e = sum_query(x, "SELECT coalesce(sum(t.amount_fen), 0) FROM transfers t JOIN awards a"
		                      " ON a.award_id = t.award_id WHERE t.kind = 'pay' AND a.district = ?1"
		                      " AND a.budget_year = ?3",
		                   district, NULL, year, &paid)) != TL_OK)
			goto out;
		/* What left the budget is either still payable or paid. */
		if ((e = html_vars_add_row(v, "budget", &r)) != TL_OK || (e = html_vars_set(r, "district", district)) != TL_OK ||
		    (e = html_vars_set(r, "district_name", district_label(district))) != TL_OK ||
		    (e = html_vars_set(r, "year", year_s)) != TL_OK || (e = set_yuan(r, "funded", funded)) != TL_OK ||
		    (e = set_yuan(r, "reserved", funded - remaining - paid)) != TL_OK ||
		    (e = set_yuan(r, "paid", paid)) != TL_OK || (e = set_yuan(r, "remaining", remaining)) != TL_OK)
			goto out;
		n++;
	}
	if (e == TL_OK)
		e = html_vars_set_bool(v, "has_budgets", n > 0);
out:
	db_finalize(st);
	finish_page(x, e, 200, T_BUDGETS, v);
	html_vars_free(v);
}

/* ---- /ledger ---- */

/* SQL fragment matching an account of district ?1: funding/budget names
 * carry ":<d>:", payable/paid names end in ":<d>". */
#define ACCOUNT_OF(colname) \
	"(?1 IS NULL OR " colname " LIKE '%:' || ?1 || ':%' OR " colname " LIKE '%:' || ?1)"

static enum tl_err
account_row(struct ctx *x, struct db_stmt *st, struct html_vars *r, void *cls)
{
	int64_t d = db_col_int64(st, 2), c = db_col_int64(st, 3);
	enum tl_err e;

	(void)x;
	(void)cls;
	if ((e = html_vars_set(r, "name", col(st, 0))) != TL_OK ||
	    (e = html_vars_set(r, "kind", LABEL(account_kinds, col(st, 1)))) != TL_OK ||
	    (e = set_yuan(r, "debits", d)) != TL_OK || (e = set_yuan(r, "credits", c)) != TL_OK)
		return e;
	return set_yuan(r, "balance", c - d);
}

static void
page_ledger(struct ctx *x)
{
	static const char acc_sql[] = "SELECT name, kind, debits_fen, credits_fen FROM accounts WHERE "
	                              ACCOUNT_OF("name") " ORDER BY kind, name";
	static const char tr_sql[] = "SELECT debit, credit, amount_fen, award_id, kind, at, share_idx FROM transfers"
	                             " WHERE " ACCOUNT_OF("debit") " OR " ACCOUNT_OF("credit")
	                             " ORDER BY seq DESC LIMIT ?2 OFFSET ?3";
	const char *ps = staffweb_query(x->w.req, "page");
	struct db_stmt *st = NULL;
	struct html_vars *v = NULL;
	char why[512];
	int64_t page = 1;
	size_t n = 0;
	bool row, more = false;
	enum tl_err e, ce;

	if (!is_role(x, AUTH_ROLE_FINANCE_PAYER) && !is_role(x, AUTH_ROLE_AUDITOR)) {
		forbidden(x, "只有付款人员和审计人员可以查看账本。");
		return;
	}
	if (ps && num_parse_i64(ps, strlen(ps), 1, 1000000, &page) != TL_OK)
		page = 1;
	if ((e = page_vars(x, "账本", NULL, NULL, &v)) != TL_OK || (e = html_vars_list(v, "transfer")) != TL_OK)
		goto out;
	lock(x);
	why[0] = '\0';
	ce = ledger_check(DB(x), why, sizeof(why));
	if (ce == TL_EIO) {
		e = ce;
		goto out;
	}
	if ((e = html_vars_set_bool(v, "check_ok", ce == TL_OK)) != TL_OK ||
	    (e = html_vars_set(v, "check_why", ce == TL_ECONFLICT ? why : tl_strerror(ce))) != TL_OK ||
	    (e = list_rows(x, v, "account", NULL, account_row, NULL, acc_sql, "t", scope_filter(x))) != TL_OK ||
	    (e = sqlv_prep(DB(x), &st, tr_sql, "tii", scope_filter(x), (int64_t)FCONSOLE_LEDGER_PAGE + 1,
	                   (page - 1) * FCONSOLE_LEDGER_PAGE)) != TL_OK)
		goto out;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		struct html_vars *r;
		const char *aw = col(st, 3);

		if (n == FCONSOLE_LEDGER_PAGE) {
			more = true;
			break;
		}
		if ((e = html_vars_add_row(v, "transfer", &r)) != TL_OK || (e = set_time(r, "at", db_col_int64(st, 5))) != TL_OK ||
		    (e = html_vars_set(r, "kind", LABEL(transfer_kinds, col(st, 4)))) != TL_OK ||
		    (e = html_vars_set(r, "debit", col(st, 0))) != TL_OK || (e = html_vars_set(r, "credit", col(st, 1))) != TL_OK ||
		    (e = set_yuan(r, "amount", db_col_int64(st, 2))) != TL_OK ||
		    (e = set_id(r, "award_id", "award_short", aw)) != TL_OK ||
		    (e = db_col_text(st, 6) ? html_vars_setf(r, "share", "%lld", (long long)db_col_int64(st, 6) + 1)
		                             : html_vars_set(r, "share", "")) != TL_OK)
			goto out;
		n++;
	}
	if (e != TL_OK || (e = html_vars_set_bool(v, "has_transfers", n > 0)) != TL_OK ||
	    (e = html_vars_setf(v, "page", "%lld", (long long)page)) != TL_OK ||
	    (e = page > 1 ? html_vars_setf(v, "prev", "%lld", (long long)page - 1) : html_vars_set(v, "prev", "")) != TL_OK)
		goto out;
	e = more ? html_vars_setf(v, "next", "%lld", (long long)page + 1) : html_vars_set(v, "next", "");
out:
	db_finalize(st);
	finish_page(x, e, 200, T_LEDGER, v);
	html_vars_free(v);
}

/* ---- actions ---- */

static bool
need_post(struct ctx *x)
{
	return staffweb_post_form(&x->w);
}

/* Reasons are stored with the award and signed: one line, no control
 * characters (actions.c refuses them too; here the message is Chinese). */
static bool
reason_one_line(const char *r)
{
	for (const unsigned char *p = (const unsigned char *)r; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static void
do_propose(struct ctx *x, const char *case_id)
{
	struct propose_form pf;
	const char *award_id;
	struct cases_view *cv = NULL;
	int64_t total = 0;
	char why[512], msg[768], cap[STAFFWEB_YUAN_LEN];
	enum tl_err e;

	if (!need_post(x))
		return;
	pf.mode = staffweb_field(&x->w, "amount_mode");
	pf.amount = staffweb_field(&x->w, "amount_yuan");
	pf.reason = staffweb_field(&x->w, "reason");
	award_id = staffweb_field(&x->w, "award_id");
	if (!is_role(x, AUTH_ROLE_FINANCE_PROPOSER)) {
		forbidden(x, "只有财务提议人员可以提议奖励，操作未执行。");
		return;
	}
	/* Scope before anything about the input: another district's case
	 * answers like a missing one. */
	if (!(cv = lock_case(x, case_id)))
		return;
	unlock(x);
	staffweb_fmt_yuan(cap_fen(x), cap);
	if (!staffweb_id_ok(award_id, strlen(award_id))) {
		page_case(x, case_id, 400, "表单已失效（缺少提议编号），请刷新页面后重新提交。", &pf);
		goto out;
	}
	if (strlen(pf.reason) > APPROVAL_REASON_MAX || !reason_one_line(pf.reason)) {
		page_case(x, case_id, 400, "理由须为一行，不超过 255 字节（约 85 个汉字），未提交。", &pf);
		goto out;
	}
	if (strcmp(pf.mode, "manual") == 0) {
		e = staffweb_parse_yuan(pf.amount, cap_fen(x), &total);
		if (e == TL_ETOOBIG) {
			snprintf(msg, sizeof(msg), "手工金额超过每条举报的奖励上限 %s 元，未提交。", cap);
			page_case(x, case_id, 400, msg, &pf);
			goto out;
		}
		if (e != TL_OK || total <= 0) {
			page_case(x, case_id, 400, "手工金额格式无效：请填写大于 0 的金额，以元为单位，最多两位小数（例如 12345.67）。", &pf);
			goto out;
		}
		if (!pf.reason[0]) {
			page_case(x, case_id, 400, "填写手工金额时必须说明理由，未提交。", &pf);
			goto out;
		}
	} else if (strcmp(pf.mode, "computed") != 0) {
		page_case(x, case_id, 400, "请选择按计算金额或手工金额。", &pf);
		goto out;
	}
	why[0] = '\0';
	e = payouts_propose(x->c->svc, case_id, award_id, x->u->name, total, pf.reason, x->w.now_ms, why, sizeof(why));
	if (e == TL_OK) {
		log_info("finance console: user=%s case=%s award=%s action=propose ok", x->u->name, case_id, award_id);
		redirect_to(x, "/award/", award_id);
		goto out;
	}
	log_info("finance console: user=%s case=%s award=%s action=propose refused (%s)", x->u->name, case_id, award_id,
	         tl_strerror(e));
	switch (e) {
	case TL_ETOOBIG:
		snprintf(msg, sizeof(msg), "金额超过每条举报的奖励上限 %s 元，未提交。", cap);
		page_case(x, case_id, 400, msg, &pf);
		break;
	case TL_EEXIST:
		page_case(x, case_id, 409, "该案件已有有效的奖励提议（或此表单已以不同内容提交过），未提交。请刷新页面查看。", &pf);
		break;
	case TL_ECONFLICT:
	case TL_EDENIED:
		snprintf(msg, sizeof(msg), "案件当前状态不允许提议奖励，未提交。（%s）", why);
		page_case(x, case_id, e == TL_EDENIED ? 403 : 409, msg, &pf);
		break;
	case TL_EINVAL:
		snprintf(msg, sizeof(msg), "提议内容无效，未提交。（%s）", why);
		page_case(x, case_id, 400, msg, &pf);
		break;
	case TL_ENOTFOUND:
		not_found(x, "案件");
		break;
	case TL_EIO:
		staffweb_fatal(&x->w);
		break;
	case TL_EUNAVAIL:
		page_case(x, case_id, 503, "系统繁忙，未提交，请稍后重试。", &pf);
		x->w.resp->retry_after_s = 2;
		break;
	default:
		page_case(x, case_id, 500, "系统内部错误，提议可能未完成，请刷新页面确认。", &pf);
		break;
	}
out:
	unlock(x);
	free(cv);
}

static bool
contains(const char *hay, const char *needle)
{
	return hay && strstr(hay, needle) != NULL;
}

/* Checks the decision against the rules before any key is unlocked, so
 * that each refusal gets its own Chinese message.  payouts_decide()
 * checks all of it again under the lock (the real gate).  Returns 0 when
 * the decision may go ahead, else the HTTP status with msg set.  Caller
 * holds the lock. */
static unsigned
decide_precheck(struct ctx *x, const struct award_record *ar, enum approval_decision d, char *msg, size_t msglen)
{
	struct html_vars *scratch = NULL;
	bool mine = false, city_done = false, me_city = false;
	int approves = 0;
	enum tl_err e;

	if (strcmp(ar->a.proposer, x->u->name) == 0) {
		snprintf(msg, msglen, "您是该奖励的提议人，不能审批自己提议的奖励（提议与审批须由不同人员完成），操作未执行。");
		return 403;
	}
	if ((e = html_vars_new(STAFFWEB_VARS_MAX, &scratch)) != TL_OK ||
	    (e = award_approvals(x, ar->a.award_id, scratch, &mine, &approves, &city_done)) != TL_OK ||
	    (e = staff_is_city(x, x->u->name, &me_city)) != TL_OK) {
		html_vars_free(scratch);
		snprintf(msg, msglen, "系统内部错误，操作未执行。");
		return e == TL_EIO ? 503 : 500;
	}
	html_vars_free(scratch);
	if (mine) {
		snprintf(msg, msglen, "您已对该奖励作出过决定，每位审批人只能决定一次，操作未执行。");
		return 409;
	}
	if (ar->status != AWARD_PROPOSED) {
		snprintf(msg, msglen, "该奖励当前状态为“%s”，已不再接受审批，操作未执行。",
		         LABEL(award_statuses, award_status_name(ar->status)));
		return 409;
	}
	if (d != APPROVAL_APPROVE)
		return 0;
	if (ar->need_city && !me_city && !city_done && approves + 1 >= ar->required_approvals) {
		char thr[STAFFWEB_YUAN_LEN];
		staffweb_fmt_yuan(x->c->svc->core->rules.dual_threshold_fen, thr);
		snprintf(msg, msglen,
		         "该奖励金额超过 %s 元，须两名审批人批准且其中一名为市级审批人；已有的批准均非市级，"
		         "本次批准须由市级审批人作出，操作未执行。",
		         thr);
		return 403;
	}
	if (approves + 1 >= ar->required_approvals && (!ar->need_city || me_city || city_done)) {
		int64_t left = 0;
		e = payouts_budget_remaining(x->c->svc->core, ar->a.district, ar->a.budget_year, &left);
		if (e == TL_OK || e == TL_ENOTFOUND) {
			if (e == TL_ENOTFOUND)
				left = 0;
			if (left < ar->a.total_fen) {
				char l[STAFFWEB_YUAN_LEN], t[STAFFWEB_YUAN_LEN];
				staffweb_fmt_yuan(left, l);
				staffweb_fmt_yuan(ar->a.total_fen, t);
				snprintf(msg, msglen,
				         "预算不足：%s %d 年度奖励预算剩余 %s 元，本奖励需要 %s 元，批准未执行。",
				         district_label(ar->a.district), ar->a.budget_year, l, t);
				return 409;
			}
		}
	}
	return 0;
}

static void
do_decide(struct ctx *x, const char *award_id)
{
	struct award_record *ar = NULL;
	const char *dec, *pw, *reason;
	enum approval_decision d;
	enum award_status st = AWARD_PROPOSED;
	char why[512], msg[768];
	unsigned status;
	enum tl_err e;

	if (!need_post(x))
		return;
	dec = staffweb_field(&x->w, "decision");
	pw = staffweb_field(&x->w, "password");
	reason = staffweb_field(&x->w, "reason");
	if (!is_role(x, AUTH_ROLE_FINANCE_APPROVER)) {
		forbidden(x, "只有财务审批人员可以审批奖励，操作未执行。");
		return;
	}
	if (!(ar = lock_award(x, award_id)))
		return;
	unlock(x);
	if (strcmp(dec, "approve") == 0)
		d = APPROVAL_APPROVE;
	else if (strcmp(dec, "reject") == 0)
		d = APPROVAL_REJECT;
	else {
		page_award(x, award_id, 400, "请选择“批准并签名”或“驳回并签名”。", reason);
		goto out;
	}
	if (strlen(reason) > APPROVAL_REASON_MAX || !reason_one_line(reason)) {
		page_award(x, award_id, 400, "理由须为一行，不超过 255 字节（约 85 个汉字），操作未执行。", reason);
		goto out;
	}
	if (d == APPROVAL_REJECT && !reason[0]) {
		page_award(x, award_id, 400, "驳回必须填写理由，操作未执行。", reason);
		goto out;
	}
	if (!pw[0]) {
		page_award(x, award_id, 400, "请输入登录密码以签名确认，操作未执行。", reason);
		goto out;
	}
	lock(x);
	status = decide_precheck(x, ar, d, msg, sizeof(msg));
	unlock(x);
	if (status) {
		log_info("finance console: user=%s award=%s action=%s refused (precheck %u)", x->u->name, award_id, dec,
		         status);
		page_award(x, award_id, status, msg, reason);
		goto out;
	}
	why[0] = '\0';
	/* Argon2id (the signing key) runs inside, outside svc->lock. */
	e = payouts_decide(x->c->svc, award_id, x->u->name, d, pw, reason[0] ? reason : NULL, x->w.now_ms, &st, why,
	                   sizeof(why));
	if (e == TL_OK) {
		log_info("finance console: user=%s award=%s action=%s ok status=%s", x->u->name, award_id, dec,
		         award_status_name(st));
		redirect_to(x, "/award/", award_id);
		goto out;
	}
	log_info("finance console: user=%s award=%s action=%s refused (%s)", x->u->name, award_id, dec, tl_strerror(e));
	switch (e) {
	case TL_EDENIED:
		if (contains(why, "locked out"))
			/* The lock-out ended this session too: the next click
			 * lands on the login page. */
			page_award(x, award_id, 403,
			           "密码错误次数过多，您的账号已被暂时锁定，操作未执行。请稍后重新登录，或联系系统管理员解锁。",
			           reason);
		else if (contains(why, "wrong password"))
			page_award(x, award_id, 403, "登录密码不正确，无法解锁您的签名密钥，操作未执行。", reason);
		else if (contains(why, "signing key"))
			page_award(x, award_id, 403, "您的签名密钥尚未登记或无法使用，不能审批。请联系系统管理员。", reason);
		else if (contains(why, "budget")) {
			snprintf(msg, sizeof(msg), "预算不足，批准未执行。（%s）", why);
			page_award(x, award_id, 409, msg, reason);
		} else if (contains(why, "city")) {
			snprintf(msg, sizeof(msg), "须有一名市级审批人批准，本次批准未执行。（%s）", why);
			page_award(x, award_id, 403, msg, reason);
		} else if (contains(why, "maker") || contains(why, "own") || contains(why, "proposer")) {
			page_award(x, award_id, 403, "您是该奖励的提议人，不能审批自己提议的奖励，操作未执行。", reason);
		} else {
			snprintf(msg, sizeof(msg), "审批规则不允许此操作，未执行。（%s）", why);
			page_award(x, award_id, 403, msg, reason);
		}
		break;
	case TL_EEXIST:
	case TL_ECONFLICT:
		page_award(x, award_id, 409, "该奖励已有您的决定或已不在待审批状态，操作未执行。", reason);
		break;
	case TL_ETOOBIG:
		page_award(x, award_id, 409, "奖励金额超过每条举报的上限 500,000.00 元，不能批准。", reason);
		break;
	case TL_ENOTFOUND:
		page_award(x, award_id, 403, "您的签名密钥尚未登记，不能审批。请联系系统管理员。", reason);
		break;
	case TL_ECRYPTO:
		page_award(x, award_id, 500, "签名失败，操作未执行。请联系系统管理员。", reason);
		break;
	case TL_EUNAVAIL:
		page_award(x, award_id, 503, "系统繁忙（密码校验排队已满），操作未执行，请稍后重试。", reason);
		x->w.resp->retry_after_s = 3;
		break;
	case TL_EIO:
		staffweb_fatal(&x->w);
		break;
	default:
		page_award(x, award_id, 500, "系统内部错误，操作可能未完成，请刷新页面确认。", reason);
		break;
	}
out:
	unlock(x);
	free(ar);
}

/* ---- batches (export.h; its functions take svc->lock themselves) ---- */

static bool
batch_visible(const struct ctx *x, const char *scope)
{
	const char *f = scope_filter(x);
	return !f || strcmp(f, scope) == 0;
}

/* What every view of a batch shows of it. */
static enum tl_err
batch_vars(struct html_vars *v, const struct export_batch *b)
{
	enum tl_err e;

	if ((e = set_id(v, "batch_id", "short_id", b->batch_id)) != TL_OK ||
	    (e = html_vars_set(v, "district_name", district_label(b->scope))) != TL_OK ||
	    (e = set_time(v, "at", b->exported_ms ? b->exported_ms : b->created_ms)) != TL_OK ||
	    (e = html_vars_setf(v, "rows", "%lld", (long long)b->row_count)) != TL_OK)
		return e;
	return set_yuan(v, "total", b->total_fen);
}

/* Shares ready for export: approved award, share open, in no live batch
 * row, latest claim eligible. */
static enum tl_err
home_payer_ready(struct ctx *x, struct html_vars *v)
{
	static const char sql[] =
		"SELECT a.award_id, a.district, s.report_id, s.fen FROM awards a JOIN shares s"
		" ON s.award_id = a.award_id WHERE a.status = 'approved' AND s.state = 'open'"
		" AND (?1 IS NULL OR a.district = ?1) AND NOT EXISTS (SELECT 1 FROM batch_rows r"
		"  WHERE r.award_id = s.award_id AND r.share_idx = s.idx"
		"  AND r.state IN ('pending','exported','paid'))"
		" ORDER BY a.created_at, a.award_id, s.idx LIMIT ?2";
	struct db_stmt *st = NULL;
	struct html_vars *r = NULL;
	char cur[ID_HEX_LEN + 1] = "", curd[8] = "";
	int64_t amount = 0, shares = 0;
	size_t n = 0;
	bool row;
	enum tl_err e;

	if ((e = html_vars_list(v, "readyrow")) != TL_OK || (e = db_prepare(DB(x), sql, &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, scope_filter(x))) != TL_OK || (e = db_bind_int64(st, 2, 64 * LIST_MAX)) != TL_OK)
		goto out;
	for (;;) {
		struct cases_claim_row cl;
		bool flush;
		enum tl_err ce = TL_ENOTFOUND;

		if ((e = db_step(st, &row)) != TL_OK)
			goto out;
		flush = !row || strcmp(cur, col(st, 0)) != 0;
		if (flush && cur[0] && shares > 0) {
			if ((e = html_vars_add_row(v, "readyrow", &r)) != TL_OK ||
			    (e = set_id(r, "award_id", "short_id", cur)) != TL_OK ||
			    (e = html_vars_set(r, "district_name", district_label(curd))) != TL_OK ||
			    (e = html_vars_setf(r, "shares", "%lld", (long long)shares)) != TL_OK ||
			    (e = set_yuan(r, "amount", amount)) != TL_OK)
				goto out;
			n++;
		}
		if (!row)
			break;
		if (flush) {
			snprintf(cur, sizeof(cur), "%s", col(st, 0));
			snprintf(curd, sizeof(curd), "%s", col(st, 1));
			amount = shares = 0;
		}
		ce = cases_latest_claim(DB(x), col(st, 2), &cl);
		if (ce != TL_OK && ce != TL_ENOTFOUND) {
			e = ce;
			goto out;
		}
		if (ce == TL_OK && cl.eligible) {
			amount += db_col_int64(st, 3);
			shares++;
		}
	}
	e = html_vars_set_bool(v, "has_ready", n > 0);
out:
	db_finalize(st);
	return e;
}

/* Caller holds the lock; it is dropped for export_batches_list(). */
static enum tl_err
home_payer(struct ctx *x, struct html_vars *v)
{
	struct export_batch *b = NULL;
	size_t n = 0, shown = 0;
	enum tl_err e;

	if ((e = home_payer_ready(x, v)) != TL_OK)
		return e;
	unlock(x);
	e = export_batches_list(x->c->svc, LIST_MAX, &b, &n);
	lock(x);
	if (e != TL_OK || (e = html_vars_list(v, "batch")) != TL_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct html_vars *r;
		if (strcmp(b[i].state, "exported") != 0 || !batch_visible(x, b[i].scope))
			continue;
		if ((e = html_vars_add_row(v, "batch", &r)) != TL_OK || (e = batch_vars(r, &b[i])) != TL_OK)
			goto out;
		shown++;
	}
	e = html_vars_set_bool(v, "has_pending", shown > 0);
out:
	free(b);
	return e;
}

static bool
money_role(struct ctx *x)
{
	if (is_role(x, AUTH_ROLE_FINANCE_PAYER) || is_role(x, AUTH_ROLE_AUDITOR))
		return true;
	forbidden(x, "只有付款人员和审计人员可以查看付款批次。");
	return false;
}

static void
page_batches(struct ctx *x, unsigned status, const char *error)
{
	struct export_batch *b = NULL;
	struct html_vars *v = NULL;
	size_t n = 0, shown = 0;
	bool payer = is_role(x, AUTH_ROLE_FINANCE_PAYER);
	enum tl_err e;

	if (!money_role(x))
		return;
	if ((e = export_batches_list(x->c->svc, LIST_MAX, &b, &n)) != TL_OK ||
	    (e = page_vars(x, "付款批次", error, NULL, &v)) != TL_OK || (e = html_vars_list(v, "batch")) != TL_OK ||
	    (e = html_vars_list(v, "district_opt")) != TL_OK || (e = html_vars_set_bool(v, "can_export", payer)) != TL_OK)
		goto out;
	if (payer) {
		struct html_vars *r;
		const char *f = scope_filter(x);
		if (!f) {
			size_t nall;
			const struct district *all = district_all(&nall);
			if ((e = html_vars_add_row(v, "district_opt", &r)) != TL_OK || (e = html_vars_set(r, "v", "all")) != TL_OK ||
			    (e = html_vars_set(r, "l", "全市（所有辖区）")) != TL_OK)
				goto out;
			for (size_t i = 0; i < nall; i++)
				if ((e = html_vars_add_row(v, "district_opt", &r)) != TL_OK ||
				    (e = html_vars_set(r, "v", all[i].code)) != TL_OK || (e = html_vars_set(r, "l", all[i].name)) != TL_OK)
					goto out;
		} else if ((e = html_vars_add_row(v, "district_opt", &r)) != TL_OK || (e = html_vars_set(r, "v", f)) != TL_OK ||
		           (e = html_vars_set(r, "l", district_label(f))) != TL_OK) {
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct html_vars *r;
		if (!batch_visible(x, b[i].scope))
			continue;
		if ((e = html_vars_add_row(v, "batch", &r)) != TL_OK || (e = batch_vars(r, &b[i])) != TL_OK ||
		    (e = html_vars_set(r, "state", LABEL(batch_states, b[i].state))) != TL_OK ||
		    (e = html_vars_set(r, "payer", b[i].payer)) != TL_OK)
			goto out;
		shown++;
	}
	e = html_vars_set_bool(v, "has_batches", shown > 0);
out:
	finish_page(x, e, status, T_BATCHES, v);
	html_vars_free(v);
	free(b);
}

/* Loads a batch the user may see.  false: the response is set. */
static bool
load_batch(struct ctx *x, const char *batch_id, struct export_batch *b, struct export_row **rows, size_t *n)
{
	enum tl_err e;

	*rows = NULL;
	*n = 0;
	e = export_batch_get(x->c->svc, batch_id, b, rows, n);
	if (e == TL_ENOTFOUND || (e == TL_OK && !batch_visible(x, b->scope))) {
		free(*rows);
		*rows = NULL;
		not_found(x, "付款批次");
		return false;
	}
	if (e != TL_OK) {
		page_db_error(x, e);
		return false;
	}
	return true;
}

static void
page_batch(struct ctx *x, const char *batch_id, unsigned status, const char *error)
{
	struct export_batch b;
	struct export_row *rows = NULL;
	struct html_vars *v = NULL;
	size_t n = 0;
	bool payer = is_role(x, AUTH_ROLE_FINANCE_PAYER), exported;
	enum tl_err e;

	if (!money_role(x) || !load_batch(x, batch_id, &b, &rows, &n))
		return;
	exported = strcmp(b.state, "exported") == 0;
	if ((e = page_vars(x, "付款批次详情", error, NULL, &v)) != TL_OK || (e = batch_vars(v, &b)) != TL_OK ||
	    (e = html_vars_set(v, "state", LABEL(batch_states, b.state))) != TL_OK ||
	    (e = html_vars_set(v, "payer", b.payer)) != TL_OK ||
	    (e = b.confirmed_ms > 0 ? set_time(v, "confirmed", b.confirmed_ms) : html_vars_set(v, "confirmed", "")) != TL_OK ||
	    (e = html_vars_set_bool(v, "can_download", b.file_name[0] && (exported || strcmp(b.state, "confirmed") == 0))) != TL_OK ||
	    (e = html_vars_set_bool(v, "can_confirm", payer && exported)) != TL_OK || (e = html_vars_list(v, "row")) != TL_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct html_vars *r;
		if ((e = html_vars_add_row(v, "row", &r)) != TL_OK ||
		    (e = set_id(r, "award_id", "award_short", rows[i].award_id)) != TL_OK ||
		    (e = html_vars_setf(r, "share", "%d", rows[i].share_idx + 1)) != TL_OK ||
		    (e = html_vars_setf(r, "share_idx", "%d", rows[i].share_idx)) != TL_OK ||
		    (e = set_yuan(r, "amount", rows[i].amount_fen)) != TL_OK ||
		    (e = html_vars_set(r, "state", LABEL(row_states, rows[i].state))) != TL_OK ||
		    (e = html_vars_set_bool(r, "can_return", payer && exported && strcmp(rows[i].state, "exported") == 0)) != TL_OK)
			goto out;
	}
out:
	finish_page(x, e, status, T_BATCH, v);
	html_vars_free(v);
	free(rows);
}

#define BATCH_FILE_MAX (STAFFWEB_MAX_PAGE - 1024)

static void
get_batch_file(struct ctx *x, const char *batch_id)
{
	struct export_batch b;
	struct export_row *rows = NULL;
	size_t n = 0, got = 0;
	char path[PATH_MAX];
	unsigned char chunk[8192];
	FILE *f = NULL;
	int w;

	if (!money_role(x) || !load_batch(x, batch_id, &b, &rows, &n))
		return;
	free(rows);
	if (!b.file_name[0] || strchr(b.file_name, '/') || b.file_name[0] == '.' ||
	    (strcmp(b.state, "exported") != 0 && strcmp(b.state, "confirmed") != 0)) {
		staffweb_message(&x->w, 404, "未找到", "该批次没有可下载的付款文件。");
		return;
	}
	w = snprintf(path, sizeof(path), "%s/%s", x->c->svc->cfg->export_dir, b.file_name);
	if (w < 0 || (size_t)w >= sizeof(path) || !(f = fopen(path, "rb"))) {
		log_err("finance console: batch %s: its file cannot be opened", batch_id);
		staffweb_message(&x->w, 500, "文件不可用", "付款文件无法读取，请联系系统管理员。");
		return;
	}
	buf_reset(&x->w.resp->body);
	for (;;) {
		size_t r = fread(chunk, 1, sizeof(chunk), f);
		if (r == 0)
			break;
		got += r;
		if (got > BATCH_FILE_MAX || buf_append(&x->w.resp->body, chunk, r) != TL_OK) {
			fclose(f);
			log_err("finance console: batch %s: file too large to serve", batch_id);
			staffweb_message(&x->w, 500, "文件过大", "付款文件过大，无法通过网页下载，请联系系统管理员。");
			return;
		}
	}
	if (ferror(f)) {
		fclose(f);
		staffweb_message(&x->w, 500, "文件不可用", "付款文件读取失败，请联系系统管理员。");
		return;
	}
	fclose(f);
	log_info("finance console: user=%s batch=%s action=download", x->u->name, batch_id);
	x->w.resp->status = 200;
	snprintf(x->w.resp->content_type, sizeof(x->w.resp->content_type), "application/octet-stream");
	/* A download, never rendered: the name says what opens it. */
	snprintf(x->w.resp->disposition, sizeof(x->w.resp->disposition),
	         "attachment; filename=\"batch-%s.tlpay\"", batch_id);
}

/* After the action what on a batch: back to the batch, or why not. */
static void
batch_outcome(struct ctx *x, const char *batch_id, enum tl_err e, const char *why, const char *what)
{
	char msg[768];

	switch (e) {
	case TL_OK:
		redirect_to(x, "/batch/", batch_id);
		break;
	case TL_ENOTFOUND:
		snprintf(msg, sizeof(msg), "%s未执行：找不到对应的批次或付款记录。（%s）", what, why);
		page_batch(x, batch_id, 404, msg);
		break;
	case TL_EDENIED:
	case TL_ECONFLICT:
	case TL_EEXIST:
		snprintf(msg, sizeof(msg), "%s未执行：批次当前状态不允许此操作。（%s）", what, why);
		page_batch(x, batch_id, 409, msg);
		break;
	case TL_ECRYPTO:
		snprintf(msg, sizeof(msg), "%s未执行：审批签名校验失败，已停止付款。请联系审计人员。（%s）", what, why);
		page_batch(x, batch_id, 409, msg);
		break;
	case TL_EUNAVAIL:
		snprintf(msg, sizeof(msg), "%s未执行：系统繁忙，请稍后重试。", what);
		page_batch(x, batch_id, 503, msg);
		x->w.resp->retry_after_s = 3;
		break;
	case TL_EIO:
		staffweb_fatal(&x->w);
		break;
	default:
		snprintf(msg, sizeof(msg), "%s可能未完成：系统内部错误（%s）。请刷新页面确认；重复确认不会重复付款。", what, why);
		page_batch(x, batch_id, 500, msg);
		break;
	}
}

static bool
payer_for_batch(struct ctx *x, const char *batch_id)
{
	struct export_batch b;
	struct export_row *rows = NULL;
	size_t n = 0;

	if (!is_role(x, AUTH_ROLE_FINANCE_PAYER)) {
		forbidden(x, "只有付款人员可以办理付款，操作未执行。");
		return false;
	}
	if (!load_batch(x, batch_id, &b, &rows, &n))
		return false;
	free(rows);
	return true;
}

static void
do_confirm(struct ctx *x, const char *batch_id)
{
	char why[512];
	enum tl_err e;

	if (!need_post(x) || !payer_for_batch(x, batch_id))
		return;
	why[0] = '\0';
	e = payouts_batch_confirm(x->c->svc, x->u->name, batch_id, x->w.now_ms, why, sizeof(why));
	log_info("finance console: user=%s batch=%s action=confirm %s", x->u->name, batch_id,
	         e == TL_OK ? "ok" : tl_strerror(e));
	batch_outcome(x, batch_id, e, why, "确认付款");
}

static void
do_return(struct ctx *x, const char *batch_id)
{
	const char *award_id, *idx_s;
	int64_t idx;
	char why[512];
	enum tl_err e;

	if (!need_post(x) || !payer_for_batch(x, batch_id))
		return;
	award_id = staffweb_field(&x->w, "award_id");
	idx_s = staffweb_field(&x->w, "share_idx");
	if (!staffweb_id_ok(award_id, strlen(award_id)) ||
	    num_parse_i64(idx_s, strlen(idx_s), 0, AWARD_MAX_REPORTS - 1, &idx) != TL_OK) {
		page_batch(x, batch_id, 400, "请在批次页面上点击对应一笔的“银行退回”按钮。");
		return;
	}
	why[0] = '\0';
	e = payouts_batch_return_row(x->c->svc, x->u->name, batch_id, award_id, (int)idx, x->w.now_ms, why, sizeof(why));
	log_info("finance console: user=%s batch=%s award=%s share=%lld action=bank_reject %s", x->u->name, batch_id,
	         award_id, (long long)idx, e == TL_OK ? "ok" : tl_strerror(e));
	batch_outcome(x, batch_id, e, why, "登记银行退回");
}

static void
do_export(struct ctx *x)
{
	const char *district;
	const char *f;
	char why[512], msg[768], batch_id[ID_HEX_LEN + 1];
	size_t rows = 0;
	enum tl_err e;

	if (!need_post(x))
		return;
	if (!is_role(x, AUTH_ROLE_FINANCE_PAYER)) {
		forbidden(x, "只有付款人员可以导出付款批次，操作未执行。");
		return;
	}
	district = staffweb_field(&x->w, "district");
	f = scope_filter(x);
	if (!(strcmp(district, "all") == 0 || district_valid(district)) || (f && strcmp(district, f) != 0)) {
		page_batches(x, 400, "请选择您负责的辖区后再导出。");
		return;
	}
	why[0] = '\0';
	batch_id[0] = '\0';
	e = payouts_batch_export(x->c->svc, x->u->name, district, x->w.now_ms, batch_id, &rows, why, sizeof(why));
	log_info("finance console: user=%s district=%s action=export %s", x->u->name, district,
	         e == TL_OK ? "ok" : tl_strerror(e));
	switch (e) {
	case TL_OK:
		redirect_to(x, "/batch/", batch_id);
		return;
	case TL_ENOTFOUND:
		page_batches(x, 409, "当前没有可导出的付款（须为已批准、举报人已认领且资格审核通过、尚未列入其他批次的份额），未生成批次。");
		return;
	case TL_EUNAVAIL:
	case TL_ETIMEOUT:
		snprintf(msg, sizeof(msg), "金库暂时无法响应或另一次导出正在进行，未生成批次，请稍后重试。（%s）", why);
		page_batches(x, 503, msg);
		x->w.resp->retry_after_s = 5;
		return;
	case TL_EIO:
		staffweb_fatal(&x->w);
		return;
	default:
		snprintf(msg, sizeof(msg), "导出失败，未生成批次。（%s）", why);
		page_batches(x, e == TL_EDENIED || e == TL_ECRYPTO ? 409 : 500, msg);
		return;
	}
}

/* ---- routing ---- */

/* "/prefix/<id>" or "/prefix/<id>/<rest>": the id (copied) and rest
 * ("" when absent).  false for a malformed id. */
static bool
split_path(const char *p, const char *prefix, char id[ID_HEX_LEN + 1], const char **rest)
{
	size_t pl = strlen(prefix), idlen;
	const char *s, *slash;

	if (strncmp(p, prefix, pl) != 0)
		return false;
	s = p + pl;
	slash = strchr(s, '/');
	idlen = slash ? (size_t)(slash - s) : strlen(s);
	if (!staffweb_id_ok(s, idlen))
		return false;
	memcpy(id, s, ID_HEX_LEN);
	id[ID_HEX_LEN] = '\0';
	*rest = slash ? slash + 1 : "";
	return true;
}

/* ---- /audit ---- */

#define AUDIT_PAGE_ENTRIES 100
#define AUDIT_TAIL_BYTES (128 * 1024) /* enough for the last AUDIT_PAGE_ENTRIES lines */

/* The last entries of the chain, newest first, read from the file's tail
 * (the chain grows for years; verification reads it all, the listing
 * need not). */
static enum tl_err
audit_tail(struct ctx *x, const char *path, struct html_vars *v, size_t *n)
{
	char *buf = NULL, *lines[AUDIT_PAGE_ENTRIES];
	size_t len = 0, k = 0;
	long size;
	FILE *f;
	enum tl_err e = TL_OK;

	(void)x;
	*n = 0;
	if (!(f = fopen(path, "rb")))
		return errno == ENOENT ? TL_OK : TL_EIO;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, size > AUDIT_TAIL_BYTES ? size - AUDIT_TAIL_BYTES : 0, SEEK_SET) != 0 ||
	    !(buf = malloc(AUDIT_TAIL_BYTES + 1))) {
		fclose(f);
		free(buf);
		return TL_EIO;
	}
	len = fread(buf, 1, AUDIT_TAIL_BYTES, f);
	fclose(f);
	buf[len] = '\0';
	/* Whole lines only: the first one may have been cut by the seek. */
	for (char *p = size > AUDIT_TAIL_BYTES ? strchr(buf, '\n') : buf; p && *p;) {
		char *nl;

		if (*p == '\n')
			p++;
		if (!*p || !(nl = strchr(p, '\n')))
			break;
		*nl = '\0';
		lines[k % AUDIT_PAGE_ENTRIES] = p;
		k++;
		p = nl + 1;
	}
	for (size_t i = 0; i < k && i < AUDIT_PAGE_ENTRIES && e == TL_OK; i++) {
		const char *line = lines[(k - 1 - i) % AUDIT_PAGE_ENTRIES];
		struct audit_entry *ent = malloc(sizeof(*ent));
		struct html_vars *r;
		char why[128];

		if (!ent) {
			e = TL_ENOMEM;
			break;
		}
		if (audit_parse_line(line, strlen(line), ent, why, sizeof(why)) == TL_OK &&
		    (e = html_vars_add_row(v, "entry", &r)) == TL_OK &&
		    (e = html_vars_setf(r, "seq", "%llu", (unsigned long long)ent->seq)) == TL_OK &&
		    (e = set_time(r, "at", ent->time_ms)) == TL_OK && (e = html_vars_set(r, "actor", ent->actor)) == TL_OK &&
		    (e = html_vars_set(r, "action", ent->action)) == TL_OK &&
		    (e = html_vars_set(r, "object", ent->object)) == TL_OK)
			e = html_vars_set(r, "reason", strcmp(ent->reason, "-") == 0 ? "" : ent->reason);
		free(ent);
		(*n)++;
	}
	free(buf);
	return e;
}

static void
page_audit(struct ctx *x)
{
	const char *path = x->c->svc->cfg ? x->c->svc->cfg->audit_log : NULL;
	struct audit_report rep;
	struct html_vars *v = NULL;
	size_t n = 0;
	enum tl_err e, ve = TL_ENOTFOUND;

	if (!is_role(x, AUTH_ROLE_AUDITOR)) {
		forbidden(x, "只有审计人员可以查看审计链。");
		return;
	}
	memset(&rep, 0, sizeof(rep));
	snprintf(rep.why, sizeof(rep.why), "audit key unavailable");
	/* Verification reads the whole chain without the database lock: the
	 * chain has its own writer lock and is only ever appended to. */
	if (path && x->c->have_audit_pk)
		ve = audit_verify(path, x->c->audit_pk, &rep);
	if ((e = page_vars(x, "审计链", NULL, NULL, &v)) != TL_OK || (e = html_vars_list(v, "entry")) != TL_OK)
		goto out;
	if ((e = html_vars_set_bool(v, "chain_ok", ve == TL_OK)) != TL_OK ||
	    (e = html_vars_setf(v, "entries", "%llu", (unsigned long long)rep.entries)) != TL_OK ||
	    (e = html_vars_set(v, "head", rep.head[0] ? rep.head : "-")) != TL_OK ||
	    (e = ve == TL_EPROTO ? html_vars_setf(v, "chain_why", "第 %llu 条记录（第 %llu 行）：%s",
	                                         (unsigned long long)rep.bad_entry,
	                                         (unsigned long long)rep.bad_line, rep.why)
	                         : html_vars_set(v, "chain_why", rep.why)) != TL_OK)
		goto out;
	if (path && (e = audit_tail(x, path, v, &n)) != TL_OK)
		goto out;
	e = html_vars_set_bool(v, "has_entries", n > 0);
out:
	finish_page(x, e, 200, T_AUDIT, v);
	html_vars_free(v);
}

static void
route(struct ctx *x, const char *p)
{
	char id[ID_HEX_LEN + 1];
	const char *rest;
	bool get = staffweb_is_get(x->w.req->method);

	if (strcmp(p, "/") == 0 && get)
		page_home(x);
	else if (strcmp(p, "/budgets") == 0 && get)
		page_budgets(x);
	else if (strcmp(p, "/ledger") == 0 && get)
		page_ledger(x);
	else if (strcmp(p, "/audit") == 0 && get)
		page_audit(x);
	else if (strcmp(p, "/batches") == 0 && get)
		page_batches(x, 200, NULL);
	else if (strcmp(p, "/batches/export") == 0)
		do_export(x);
	else if (strncmp(p, "/case/", 6) == 0) {
		if (!split_path(p, "/case/", id, &rest))
			not_found(x, "案件");
		else if (!rest[0] && get)
			page_case(x, id, 200, NULL, NULL);
		else if (strcmp(rest, "propose") == 0)
			do_propose(x, id);
		else
			not_found(x, "案件");
	} else if (strncmp(p, "/award/", 7) == 0) {
		if (!split_path(p, "/award/", id, &rest))
			not_found(x, "奖励");
		else if (!rest[0] && get)
			page_award(x, id, 200, NULL, NULL);
		else if (strcmp(rest, "decide") == 0)
			do_decide(x, id);
		else
			not_found(x, "奖励");
	} else if (strncmp(p, "/batch/", 7) == 0) {
		if (!split_path(p, "/batch/", id, &rest))
			not_found(x, "付款批次");
		else if (!rest[0] && get)
			page_batch(x, id, 200, NULL);
		else if (strcmp(rest, "file") == 0 && get)
			get_batch_file(x, id);
		else if (strcmp(rest, "confirm") == 0)
			do_confirm(x, id);
		else if (strcmp(rest, "return") == 0)
			do_return(x, id);
		else
			not_found(x, "付款批次");
	} else {
		staffweb_message(&x->w, 404, "未找到", "页面不存在。");
	}
}

void
fconsole_handle(struct fconsole *c, const struct staffweb_req *req, struct staffweb_resp *resp)
{
	struct ctx x;
	const char *p = req->path ? req->path : "";

	memset(&x, 0, sizeof(x));
	x.c = c;
	staffweb_ctx_init(&x.w, &c->site, req, resp, now_ms(c));
	if (strcmp(p, "/healthz") == 0 && staffweb_is_get(req->method)) {
		staffweb_static(&x.w, "ok\n", 3, "text/plain; charset=utf-8");
	} else if (strcmp(p, "/static/console.css") == 0 && staffweb_is_get(req->method)) {
		staffweb_stylesheet(&x.w);
	} else if (strcmp(p, "/favicon.ico") == 0 && staffweb_is_get(req->method)) {
		/* No icon; 204 keeps browsers from logging a 404. */
		buf_reset(&resp->body);
		resp->status = 204;
	} else if (strcmp(p, "/login") == 0) {
		staffweb_login(&x.w);
	} else if (strcmp(p, "/logout") == 0) {
		staffweb_logout(&x.w);
	} else if (need_user(&x)) {
		route(&x, p);
	}
	unlock(&x);
	staffweb_ctx_done(&x.w);
}
