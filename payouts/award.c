#include "compat.h"
#include "award.h"
#include "ids.h"
#include "num.h"

#include <ini.h>

static const char *const tier_names[AWARD_TIER_COUNT_] = {
	[AWARD_TIER_RUNNING] = "running",
	[AWARD_TIER_IDLE] = "idle_restartable",
	[AWARD_TIER_PRODUCTS] = "products",
};

const char *
award_tier_name(enum award_tier t)
{
	return (unsigned)t < AWARD_TIER_COUNT_ ? tier_names[t] : "?";
}

const char *
award_share_kind_name(enum award_share_kind k)
{
	switch (k) {
	case AWARD_SHARE_FIRST:
		return "first";
	case AWARD_SHARE_SIMULTANEOUS:
		return "simultaneous";
	case AWARD_SHARE_DISCRETIONARY:
		return "discretionary";
	}
	return "?";
}

enum tl_err
award_tier_from_production(const char *production, enum award_tier *out)
{
	if (!production)
		return TL_EINVAL;
	if (strcmp(production, "running") == 0)
		*out = AWARD_TIER_RUNNING;
	else if (strcmp(production, "idle_restartable") == 0)
		*out = AWARD_TIER_IDLE;
	else if (strcmp(production, "dismantled") == 0)
		*out = AWARD_TIER_PRODUCTS; /* the plant is gone: only products/sales were found */
	else
		return TL_EINVAL;
	return TL_OK;
}

void
award_rules_default(struct award_rules *r)
{
	/* The Xingtai 2017 amounts (100k / 50k yuan) and the national
	 * 5 % / 3 % / 1 % of fines with floors 5k / 3k / 1k yuan. */
	memset(r, 0, sizeof(*r));
	r->tier[AWARD_TIER_RUNNING] = (struct award_tier_rule){ 10000000, 500000, 500, 500 };
	r->tier[AWARD_TIER_IDLE] = (struct award_tier_rule){ 5000000, 300000, 300, 300 };
	r->tier[AWARD_TIER_PRODUCTS] = (struct award_tier_rule){ 1000000, 100000, 100, 100 };
	r->cap_fen = MONEY_HARD_CAP_FEN;
	r->window_ms = INT64_C(24) * 3600 * 1000;
	r->dual_threshold_fen = 10000000;
}

/* ---- rules file ---- */

enum { K_BASE, K_FLOOR, K_FINES, K_CONF, K_NTIER };
enum { G_CAP, G_WINDOW, G_DUAL, K_NGLOBAL };

struct parse {
	struct award_rules *r;
	bool seen_tier[AWARD_TIER_COUNT_][K_NTIER];
	bool seen_global[K_NGLOBAL];
	char *err;
	size_t errlen;
	bool failed;
};

static const char *const tier_keys[K_NTIER] = { "base_fen", "floor_fen", "fines_bp",
	                                        "confiscation_bp" };
static const char *const global_keys[K_NGLOBAL] = { "cap_fen", "simultaneous_window_hours",
	                                            "dual_approval_threshold_fen" };

static int
fail(struct parse *p, const char *fmt, ...) TL_PRINTF(2, 3);
static int
fail(struct parse *p, const char *fmt, ...)
{
	va_list ap;

	if (!p->failed && p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err, p->errlen, fmt, ap);
		va_end(ap);
	}
	p->failed = true;
	return 0; /* inih: stop at the first error */
}

static int
on_value(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	int64_t v;

	if (p->failed)
		return 0;
	if (strcmp(section, "award") == 0) {
		for (size_t k = 0; k < K_NGLOBAL; k++) {
			if (strcmp(name, global_keys[k]) != 0)
				continue;
			if (p->seen_global[k])
				return fail(p, "[award] %s given twice", name);
			p->seen_global[k] = true;
			if (k == G_WINDOW) {
				/* At most a year: a "simultaneous" window longer than
				 * that would make every later report a co-reporter. */
				if (num_parse_i64(value, strlen(value), 0, 366 * 24, &v) != TL_OK)
					return fail(p, "[award] %s: want hours 0..8784", name);
				p->r->window_ms = v * 3600 * 1000;
			} else {
				if (num_parse_i64(value, strlen(value), 0, MONEY_HARD_CAP_FEN, &v) != TL_OK)
					return fail(p, "[award] %s: want fen 0..%lld (the hard cap)", name,
					            (long long)MONEY_HARD_CAP_FEN);
				if (k == G_CAP)
					p->r->cap_fen = v;
				else
					p->r->dual_threshold_fen = v;
			}
			return 1;
		}
		return fail(p, "[award]: unknown key %s", name);
	}
	if (strncmp(section, "tier.", 5) == 0) {
		for (size_t t = 0; t < AWARD_TIER_COUNT_; t++) {
			if (strcmp(section + 5, tier_names[t]) != 0)
				continue;
			for (size_t k = 0; k < K_NTIER; k++) {
				struct award_tier_rule *tr = &p->r->tier[t];
				int64_t max = k == K_BASE || k == K_FLOOR ? MONEY_HARD_CAP_FEN : MONEY_BP_MAX;

				if (strcmp(name, tier_keys[k]) != 0)
					continue;
				if (p->seen_tier[t][k])
					return fail(p, "[%s] %s given twice", section, name);
				p->seen_tier[t][k] = true;
				if (num_parse_i64(value, strlen(value), 0, max, &v) != TL_OK)
					return fail(p, "[%s] %s: want an integer 0..%lld", section, name,
					            (long long)max);
				if (k == K_BASE)
					tr->base_fen = v;
				else if (k == K_FLOOR)
					tr->floor_fen = v;
				else if (k == K_FINES)
					tr->fines_bp = v;
				else
					tr->confiscation_bp = v;
				return 1;
			}
			return fail(p, "[%s]: unknown key %s", section, name);
		}
	}
	return fail(p, "unknown section [%s]", section);
}

/* Cross-key rules, checked once everything is read. */
static enum tl_err
check_rules(struct parse *p)
{
	struct award_rules *r = p->r;

	for (size_t k = 0; k < K_NGLOBAL; k++)
		if (!p->seen_global[k])
			return fail(p, "[award] %s is required", global_keys[k]), TL_ECONFIG;
	for (size_t t = 0; t < AWARD_TIER_COUNT_; t++)
		for (size_t k = 0; k < K_NTIER; k++)
			if (!p->seen_tier[t][k])
				return fail(p, "[tier.%s] %s is required", tier_names[t], tier_keys[k]),
				       TL_ECONFIG;
	if (r->cap_fen <= 0)
		return fail(p, "[award] cap_fen must be > 0"), TL_ECONFIG;
	for (size_t t = 0; t < AWARD_TIER_COUNT_; t++) {
		/* A base or floor above the cap would be a rule that always
		 * exceeds it: refuse the file instead of clamping silently. */
		if (r->tier[t].base_fen > r->cap_fen || r->tier[t].floor_fen > r->cap_fen)
			return fail(p, "[tier.%s] base_fen/floor_fen above cap_fen %lld", tier_names[t],
			            (long long)r->cap_fen),
			       TL_ECONFIG;
	}
	return TL_OK;
}

static enum tl_err
finish(struct parse *p, int rc, const char *what)
{
	if (p->failed)
		return TL_ECONFIG;
	if (rc < 0) {
		fail(p, "%s: cannot read", what);
		return TL_ECONFIG;
	}
	if (rc > 0) {
		fail(p, "%s: line %d: syntax error", what, rc);
		return TL_ECONFIG;
	}
	return check_rules(p);
}

enum tl_err
award_rules_parse(const char *text, struct award_rules *r, char *err, size_t errlen)
{
	struct award_rules tmp;
	struct parse p = { .r = &tmp, .err = err, .errlen = errlen };
	enum tl_err e;

	memset(&tmp, 0, sizeof(tmp));
	if (err && errlen)
		err[0] = '\0';
	e = finish(&p, ini_parse_string(text, on_value, &p), "rules");
	if (e == TL_OK)
		*r = tmp; /* all or nothing */
	return e;
}

enum tl_err
award_rules_load(const char *path, struct award_rules *r, char *err, size_t errlen)
{
	struct award_rules tmp;
	struct parse p = { .r = &tmp, .err = err, .errlen = errlen };
	enum tl_err e;
	FILE *f;
	int rc;

	memset(&tmp, 0, sizeof(tmp));
	if (err && errlen)
		err[0] = '\0';
	if (!(f = fopen(path, "re"))) {
		fail(&p, "%s: %s", path, strerror(errno));
		return TL_ECONFIG;
	}
	rc = ini_parse_file(f, on_value, &p);
	fclose(f);
	e = finish(&p, rc, path);
	if (e == TL_OK)
		*r = tmp;
	else if (err && errlen && strncmp(err, path, strlen(path)) != 0) {
		/* Put the file name in front so the operator knows which file. */
		char msg[256];
		snprintf(msg, sizeof(msg), "%s", err);
		snprintf(err, errlen, "%s: %s", path, msg);
	}
	return e;
}

/* ---- amount ---- */

enum tl_err
award_amount(const struct award_rules *r, const struct award_verdict *v, struct award_trace *t)
{
	const struct award_tier_rule *tr;
	int64_t cap, sum;

	memset(t, 0, sizeof(*t));
	if ((unsigned)v->tier >= AWARD_TIER_COUNT_ || v->fines_fen < 0 || v->confiscated_fen < 0)
		return TL_EINVAL;
	tr = &r->tier[v->tier];
	cap = r->cap_fen < MONEY_HARD_CAP_FEN ? r->cap_fen : MONEY_HARD_CAP_FEN;
	t->tier = v->tier;
	t->base_fen = tr->base_fen;
	t->fines_fen = v->fines_fen;
	t->fines_bp = tr->fines_bp;
	t->confiscated_fen = v->confiscated_fen;
	t->confiscation_bp = tr->confiscation_bp;
	t->floor_fen = tr->floor_fen;
	t->cap_fen = cap;
	if (!money_bp(v->fines_fen, tr->fines_bp, &t->fines_part_fen) ||
	    !money_bp(v->confiscated_fen, tr->confiscation_bp, &t->confiscation_part_fen) ||
	    !money_add(tr->base_fen, t->fines_part_fen, &sum) ||
	    !money_add(sum, t->confiscation_part_fen, &sum))
		return TL_ETOOBIG;
	t->subtotal_fen = sum;
	if (sum < tr->floor_fen) {
		sum = tr->floor_fen;
		t->floor_applied = true;
	}
	if (sum > cap) {
		sum = cap;
		t->cap_applied = true;
	}
	t->total_fen = sum;
	return TL_OK;
}

/* ---- split ---- */

static int
report_cmp(const void *a, const void *b)
{
	const struct award_report *x = a, *y = b;

	if (x->received_ms != y->received_ms)
		return x->received_ms < y->received_ms ? -1 : 1;
	return strcmp(x->report_id, y->report_id);
}

enum tl_err
award_split(int64_t total, const struct award_report *sorted, size_t k, struct award_share *out)
{
	int64_t q, rem;

	if (k == 0 || k > AWARD_MAX_REPORTS || total <= 0 || total > MONEY_HARD_CAP_FEN)
		return TL_EINVAL;
	q = total / (int64_t)k;
	rem = total % (int64_t)k;
	for (size_t i = 0; i < k; i++) {
		snprintf(out[i].report_id, sizeof(out[i].report_id), "%s", sorted[i].report_id);
		/* One extra fen to each of the rem earliest, so the shares sum
		 * exactly to the total and the order is reproducible. */
		out[i].fen = q + ((int64_t)i < rem ? 1 : 0);
		out[i].kind = i == 0 ? AWARD_SHARE_FIRST : AWARD_SHARE_SIMULTANEOUS;
	}
	return TL_OK;
}

enum tl_err
award_compute(const struct award_rules *r, const struct award_verdict *v,
              const struct award_report *reports, size_t n, struct award_result *out)
{
	struct award_report sorted[AWARD_MAX_REPORTS];
	size_t k;
	enum tl_err e;

	memset(out, 0, sizeof(*out));
	if (n == 0)
		return TL_EINVAL;
	if (n > AWARD_MAX_REPORTS)
		return TL_ETOOBIG;
	for (size_t i = 0; i < n; i++) {
		if (!id_valid(reports[i].report_id) || reports[i].received_ms < 0)
			return TL_EINVAL;
		sorted[i] = reports[i];
	}
	qsort(sorted, n, sizeof(sorted[0]), report_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(sorted[i].report_id, sorted[i - 1].report_id) == 0 &&
		    sorted[i].received_ms == sorted[i - 1].received_ms)
			return TL_EINVAL;
	/* Adjacent after sorting only when the times match; a repeated id with
	 * different times is also a caller bug. */
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(sorted[i].report_id, sorted[j].report_id) == 0)
				return TL_EINVAL;
	if ((e = award_amount(r, v, &out->trace)) != TL_OK)
		return e;
	out->total_fen = out->trace.total_fen;
	for (k = 1; k < n; k++) {
		int64_t gap;

		if (__builtin_sub_overflow(sorted[k].received_ms, sorted[0].received_ms, &gap) ||
		    gap > r->window_ms)
			break;
	}
	out->trace.reporters = n;
	out->trace.simultaneous = k;
	out->trace.later = n - k;
	if (out->total_fen == 0)
		return TL_OK; /* a zero rule: nothing to share */
	if ((e = award_split(out->total_fen, sorted, k, out->shares)) != TL_OK)
		return e;
	out->n_shares = k;
	return TL_OK;
}

enum tl_err
award_trace_format(const struct award_trace *t, char *out, size_t outlen)
{
	int n = snprintf(out, outlen,
	                 "rule: tier %s\n"
	                 "base: %lld fen\n"
	                 "fines: %lld fen x %lld bp = %lld fen\n"
	                 "confiscations: %lld fen x %lld bp = %lld fen\n"
	                 "subtotal: %lld fen\n"
	                 "floor: %lld fen%s\n"
	                 "cap: %lld fen%s\n"
	                 "award: %lld fen\n"
	                 "reporters: %zu (sharing: %zu, later without share: %zu)\n",
	                 award_tier_name(t->tier), (long long)t->base_fen, (long long)t->fines_fen,
	                 (long long)t->fines_bp, (long long)t->fines_part_fen,
	                 (long long)t->confiscated_fen, (long long)t->confiscation_bp,
	                 (long long)t->confiscation_part_fen, (long long)t->subtotal_fen,
	                 (long long)t->floor_fen, t->floor_applied ? " (applied)" : "",
	                 (long long)t->cap_fen, t->cap_applied ? " (applied)" : "",
	                 (long long)t->total_fen, t->reporters, t->simultaneous, t->later);

	return n < 0 || (size_t)n >= outlen ? TL_ETOOBIG : TL_OK;
}
