#include "compat.h"
#include "awardsig.h"
#include "num.h"

#define HEADER "tipline award decision v1"

static const char *const decision_names[] = { "approve", "reject" };
static const char *const kind_names[] = { "first", "simultaneous", "discretionary" };

const char *
awardsig_decision_name(enum awardsig_decision d)
{
	return (unsigned)d < TL_ARRAY_LEN(decision_names) ? decision_names[d] : "?";
}

const char *
awardsig_kind_name(enum awardsig_kind k)
{
	return (unsigned)k < TL_ARRAY_LEN(kind_names) ? kind_names[k] : "?";
}

static bool
ref_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '@' || c == '-' || c == ':';
}

static bool
ref_valid_n(const char *s, size_t n)
{
	if (n == 0 || n > AWARDSIG_REF_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!ref_char(s[i]))
			return false;
	return true;
}

bool
awardsig_ref_valid(const char *s)
{
	return s && ref_valid_n(s, strnlen(s, AWARDSIG_REF_MAX + 1));
}

/* Lowercase hex only: the canonical text never carries upper case. */
static bool
hexid_valid_n(const char *s, size_t n)
{
	if (n != AWARDSIG_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool
hexid_valid(const char *s)
{
	return hexid_valid_n(s, strnlen(s, AWARDSIG_ID_LEN + 1));
}

static bool
district_valid_n(const char *s, size_t n)
{
	if (n != 6)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

enum tl_err
awardsig_validate(const struct awardsig *a, char *why, size_t whylen)
{
	int64_t sum = 0;

	if ((unsigned)a->decision > AWARDSIG_REJECT) {
		tl_why(why, whylen, "decision is neither approve nor reject");
		return TL_EINVAL;
	}
	if (!hexid_valid(a->award_id) || !hexid_valid(a->case_id)) {
		tl_why(why, whylen, "award_id and case_id must be 32 lowercase hex characters");
		return TL_EINVAL;
	}
	if (a->version < 1 || a->version > AWARDSIG_VERSION_MAX) {
		tl_why(why, whylen, "version must be 1..%d", AWARDSIG_VERSION_MAX);
		return TL_EINVAL;
	}
	if (!district_valid_n(a->district, strnlen(a->district, sizeof(a->district))) ||
	    a->budget_year < 2000 || a->budget_year > 2999) {
		tl_why(why, whylen, "district must be 6 digits and budget_year 2000..2999");
		return TL_EINVAL;
	}
	if (a->total_fen <= 0 || a->computed_fen < 0) {
		tl_why(why, whylen, "total_fen must be positive and computed_fen not negative");
		return TL_EINVAL;
	}
	if (a->total_fen > AWARDSIG_CAP_FEN || a->computed_fen > AWARDSIG_CAP_FEN) {
		tl_why(why, whylen, "amount above the cap of %lld fen per tip", (long long)AWARDSIG_CAP_FEN);
		return TL_ETOOBIG;
	}
	if (!awardsig_ref_valid(a->payee_ref) || !awardsig_ref_valid(a->proposer)) {
		tl_why(why, whylen, "payee_ref and proposer must be 1..%d characters of [A-Za-z0-9._@:-]",
		    AWARDSIG_REF_MAX);
		return TL_EINVAL;
	}
	if (a->required_approvals < 1 || a->required_approvals > 2) {
		tl_why(why, whylen, "required_approvals must be 1 or 2");
		return TL_EINVAL;
	}
	if (a->n_shares < 1 || a->n_shares > AWARDSIG_MAX_SHARES) {
		tl_why(why, whylen, "an award has 1..%d shares", AWARDSIG_MAX_SHARES);
		return TL_EINVAL;
	}
	for (size_t i = 0; i < a->n_shares; i++) {
		const struct awardsig_share *s = &a->shares[i];

		if (!hexid_valid(s->report_id) || (unsigned)s->kind > AWARDSIG_DISCRETIONARY) {
			tl_why(why, whylen, "share %zu: malformed report id or kind", i);
			return TL_EINVAL;
		}
		if (s->fen <= 0 || s->fen > AWARDSIG_CAP_FEN) {
			tl_why(why, whylen, "share %zu: amount must be 1..%lld fen", i,
			    (long long)AWARDSIG_CAP_FEN);
			return s->fen > 0 ? TL_ETOOBIG : TL_EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(a->shares[j].report_id, s->report_id) == 0) {
				tl_why(why, whylen, "share %zu: report %s has two shares", i, s->report_id);
				return TL_EINVAL;
			}
		/* Both operands are <= the cap, so 64 of them cannot overflow. */
		sum += s->fen;
	}
	if (sum != a->total_fen) {
		tl_why(why, whylen, "shares sum to %lld fen, not total_fen %lld", (long long)sum,
		    (long long)a->total_fen);
		return TL_EINVAL;
	}
	return TL_OK;
}

struct out {
	char *p;
	size_t cap, len;
	bool overflow;
};

static void put(struct out *o, const char *fmt, ...) TL_PRINTF(2, 3);
static void
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->overflow = true;
		return;
	}
	o->len += (size_t)n;
}

enum tl_err
awardsig_format(const struct awardsig *a, char *out, size_t outlen, size_t *len, char *why,
                size_t whylen)
{
	struct out o = { out, outlen, 0, false };
	enum tl_err e;

	if (outlen == 0)
		return TL_ETOOBIG;
	out[0] = '\0';
	if ((e = awardsig_validate(a, why, whylen)) != TL_OK)
		return e;
	put(&o, HEADER "\n");
	put(&o, "decision=%s\n", awardsig_decision_name(a->decision));
	put(&o, "award_id=%s\nversion=%d\ncase_id=%s\n", a->award_id, a->version, a->case_id);
	put(&o, "district=%s\nbudget_year=%d\n", a->district, a->budget_year);
	put(&o, "computed_fen=%lld\ntotal_fen=%lld\n", (long long)a->computed_fen,
	    (long long)a->total_fen);
	put(&o, "payee_ref=%s\nproposer=%s\n", a->payee_ref, a->proposer);
	put(&o, "required_approvals=%d\nneed_city=%d\n", a->required_approvals, a->need_city ? 1 : 0);
	put(&o, "shares=%zu\n", a->n_shares);
	for (size_t i = 0; i < a->n_shares; i++)
		put(&o, "share=%zu,%s,%lld,%s\n", i, a->shares[i].report_id, (long long)a->shares[i].fen,
		    awardsig_kind_name(a->shares[i].kind));
	if (o.overflow) {
		out[0] = '\0';
		tl_why(why, whylen, "canonical text longer than %zu bytes", outlen - 1);
		return TL_ETOOBIG;
	}
	*len = o.len;
	return TL_OK;
}

/* ---- parsing ---- */

struct lines {
	const char *p, *end;
	int no; /* 1-based number of the line last taken */
};

/* Takes the next line (without its LF).  false at the end of the text. */
static bool
next_line(struct lines *l, const char **s, size_t *n)
{
	const char *nl;

	if (l->p >= l->end)
		return false;
	nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
	/* The caller checked that the text ends in LF, so nl exists. */
	*s = l->p;
	*n = (size_t)(nl - l->p);
	l->p = nl + 1;
	l->no++;
	return true;
}

/* Decimal without sign or leading zero, within [min, max]. */
static bool
dec(const char *s, size_t n, int64_t min, int64_t max, int64_t *v)
{
	if (n == 0 || (n > 1 && s[0] == '0') || s[0] < '0' || s[0] > '9')
		return false;
	return num_parse_i64(s, n, min, max, v) == TL_OK;
}

/* Takes the line "key=value"; *v and *vn get the value. */
static bool
keyed(struct lines *l, const char *key, const char **v, size_t *vn, char *why, size_t whylen)
{
	size_t kn = strlen(key), n;
	const char *s;

	if (!next_line(l, &s, &n)) {
		tl_why(why, whylen, "line %d: missing (expected %s=)", l->no + 1, key);
		return false;
	}
	if (n <= kn || memcmp(s, key, kn) != 0 || s[kn] != '=') {
		tl_why(why, whylen, "line %d: expected %s=", l->no, key);
		return false;
	}
	*v = s + kn + 1;
	*vn = n - kn - 1;
	return true;
}

static bool
keyed_int(struct lines *l, const char *key, int64_t min, int64_t max, int64_t *out, char *why,
          size_t whylen)
{
	const char *v;
	size_t n;

	if (!keyed(l, key, &v, &n, why, whylen))
		return false;
	if (!dec(v, n, min, max, out)) {
		tl_why(why, whylen, "line %d: %s must be a decimal number in %lld..%lld", l->no, key,
		    (long long)min, (long long)max);
		return false;
	}
	return true;
}

static bool
keyed_hexid(struct lines *l, const char *key, char out[AWARDSIG_ID_LEN + 1], char *why, size_t whylen)
{
	const char *v;
	size_t n;

	if (!keyed(l, key, &v, &n, why, whylen))
		return false;
	if (!hexid_valid_n(v, n)) {
		tl_why(why, whylen, "line %d: %s must be 32 lowercase hex characters", l->no, key);
		return false;
	}
	memcpy(out, v, n);
	out[n] = '\0';
	return true;
}

static bool
keyed_ref(struct lines *l, const char *key, char out[AWARDSIG_REF_MAX + 1], char *why, size_t whylen)
{
	const char *v;
	size_t n;

	if (!keyed(l, key, &v, &n, why, whylen))
		return false;
	if (!ref_valid_n(v, n)) {
		tl_why(why, whylen, "line %d: %s must be 1..%d characters of [A-Za-z0-9._@:-]", l->no, key,
		    AWARDSIG_REF_MAX);
		return false;
	}
	memcpy(out, v, n);
	out[n] = '\0';
	return true;
}

/* "share=<idx>,<report_id>,<fen>,<kind>" */
static bool
share_line(struct lines *l, size_t idx, struct awardsig_share *sh, char *why, size_t whylen)
{
	const char *v, *f[4];
	size_t n, fn[4], k = 0, start = 0;
	int64_t x;

	if (!keyed(l, "share", &v, &n, why, whylen))
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && v[i] != ',')
			continue;
		if (k == 4) {
			tl_why(why, whylen, "line %d: a share has exactly four fields", l->no);
			return false;
		}
		f[k] = v + start;
		fn[k++] = i - start;
		start = i + 1;
	}
	if (k != 4) {
		tl_why(why, whylen, "line %d: a share has exactly four fields", l->no);
		return false;
	}
	if (!dec(f[0], fn[0], 0, AWARDSIG_MAX_SHARES - 1, &x) || (size_t)x != idx) {
		tl_why(why, whylen, "line %d: share index must be %zu (in order from 0)", l->no, idx);
		return false;
	}
	if (!hexid_valid_n(f[1], fn[1])) {
		tl_why(why, whylen, "line %d: share report id must be 32 lowercase hex characters", l->no);
		return false;
	}
	memcpy(sh->report_id, f[1], fn[1]);
	sh->report_id[fn[1]] = '\0';
	if (!dec(f[2], fn[2], 1, AWARDSIG_CAP_FEN, &sh->fen)) {
		tl_why(why, whylen, "line %d: share amount must be 1..%lld fen", l->no,
		    (long long)AWARDSIG_CAP_FEN);
		return false;
	}
	for (int kind = AWARDSIG_FIRST; kind <= AWARDSIG_DISCRETIONARY; kind++)
		if (fn[3] == strlen(kind_names[kind]) && memcmp(f[3], kind_names[kind], fn[3]) == 0) {
			sh->kind = (enum awardsig_kind)kind;
			return true;
		}
	tl_why(why, whylen, "line %d: share kind must be first, simultaneous or discretionary", l->no);
	return false;
}

static bool
parse_lines(struct lines *l, struct awardsig *a, char *why, size_t whylen)
{
	const char *s, *v;
	size_t n;
	int64_t x;

	if (!next_line(l, &s, &n) || n != strlen(HEADER) || memcmp(s, HEADER, n) != 0) {
		tl_why(why, whylen, "line 1: expected \"" HEADER "\"");
		return false;
	}
	if (!keyed(l, "decision", &v, &n, why, whylen))
		return false;
	if (n == 7 && memcmp(v, "approve", 7) == 0) {
		a->decision = AWARDSIG_APPROVE;
	} else if (n == 6 && memcmp(v, "reject", 6) == 0) {
		a->decision = AWARDSIG_REJECT;
	} else {
		tl_why(why, whylen, "line %d: decision must be approve or reject", l->no);
		return false;
	}
	if (!keyed_hexid(l, "award_id", a->award_id, why, whylen) ||
	    !keyed_int(l, "version", 1, AWARDSIG_VERSION_MAX, &x, why, whylen))
		return false;
	a->version = (int)x;
	if (!keyed_hexid(l, "case_id", a->case_id, why, whylen) || !keyed(l, "district", &v, &n, why, whylen))
		return false;
	if (!district_valid_n(v, n)) {
		tl_why(why, whylen, "line %d: district must be 6 digits", l->no);
		return false;
	}
	memcpy(a->district, v, n);
	a->district[n] = '\0';
	if (!keyed_int(l, "budget_year", 2000, 2999, &x, why, whylen))
		return false;
	a->budget_year = (int)x;
	if (!keyed_int(l, "computed_fen", 0, AWARDSIG_CAP_FEN, &a->computed_fen, why, whylen) ||
	    !keyed_int(l, "total_fen", 1, AWARDSIG_CAP_FEN, &a->total_fen, why, whylen) ||
	    !keyed_ref(l, "payee_ref", a->payee_ref, why, whylen) ||
	    !keyed_ref(l, "proposer", a->proposer, why, whylen) ||
	    !keyed_int(l, "required_approvals", 1, 2, &x, why, whylen))
		return false;
	a->required_approvals = (int)x;
	if (!keyed_int(l, "need_city", 0, 1, &x, why, whylen))
		return false;
	a->need_city = x == 1;
	if (!keyed_int(l, "shares", 1, AWARDSIG_MAX_SHARES, &x, why, whylen))
		return false;
	a->n_shares = (size_t)x;
	for (size_t i = 0; i < a->n_shares; i++)
		if (!share_line(l, i, &a->shares[i], why, whylen))
			return false;
	if (next_line(l, &s, &n)) {
		tl_why(why, whylen, "line %d: unexpected line after the last share", l->no);
		return false;
	}
	return true;
}

enum tl_err
awardsig_parse(const char *text, size_t len, struct awardsig *out, char *why, size_t whylen)
{
	struct lines l = { text, text + len, 0 };
	char *again = NULL;
	size_t again_len;
	char sub[160];
	enum tl_err e = TL_EPROTO;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > AWARDSIG_TEXT_MAX) {
		tl_why(why, whylen, "award text must be 1..%d bytes", AWARDSIG_TEXT_MAX);
		return TL_EPROTO;
	}
	if (text[len - 1] != '\n') {
		tl_why(why, whylen, "award text must end with a line feed");
		return TL_EPROTO;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)text[i] < 0x20 ? text[i] != '\n' : (unsigned char)text[i] > 0x7e) {
			tl_why(why, whylen, "byte %zu: only printable ASCII and line feeds are allowed", i);
			return TL_EPROTO;
		}
	if (!parse_lines(&l, out, why, whylen))
		goto fail;
	if (awardsig_validate(out, sub, sizeof(sub)) != TL_OK) {
		tl_why(why, whylen, "%s", sub);
		goto fail;
	}
	/* Belt and braces: a text is accepted only if it is exactly what
	 * awardsig_format() writes for the parsed values, so no two texts can
	 * ever stand for the same award. */
	if (!(again = malloc(AWARDSIG_TEXT_MAX + 1))) {
		e = TL_ENOMEM;
		goto fail;
	}
	if (awardsig_format(out, again, AWARDSIG_TEXT_MAX + 1, &again_len, sub, sizeof(sub)) != TL_OK ||
	    again_len != len || memcmp(again, text, len) != 0) {
		tl_why(why, whylen, "award text is not in canonical form");
		goto fail;
	}
	free(again);
	return TL_OK;
fail:
	free(again);
	memset(out, 0, sizeof(*out));
	return e;
}

/* ---- the approval rule ---- */

enum tl_err
awardsig_rules_check(const struct awardsig *a, int64_t dual_threshold_fen,
                     const struct awardsig_approver *ap, size_t n, char *why, size_t whylen)
{
	int required;
	bool need_city, have_city = false;
	char sub[160];

	if (awardsig_validate(a, sub, sizeof(sub)) != TL_OK) {
		tl_why(why, whylen, "%s", sub);
		return TL_EDENIED;
	}
	if (a->decision != AWARDSIG_APPROVE) {
		tl_why(why, whylen, "the decision is not an approval");
		return TL_EDENIED;
	}
	if (n == 0 || n > AWARDSIG_MAX_APPROVERS) {
		tl_why(why, whylen, "an approval needs 1..%d approvers, got %zu", AWARDSIG_MAX_APPROVERS, n);
		return TL_EDENIED;
	}
	for (size_t i = 0; i < n; i++) {
		if (!awardsig_ref_valid(ap[i].staff_id)) {
			tl_why(why, whylen, "approver %zu has a malformed staff id", i);
			return TL_EDENIED;
		}
		if (strcmp(ap[i].staff_id, a->proposer) == 0) {
			tl_why(why, whylen, "the proposer %s cannot approve their own award", a->proposer);
			return TL_EDENIED;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(ap[j].staff_id, ap[i].staff_id) == 0) {
				tl_why(why, whylen, "approver %s counted twice", ap[i].staff_id);
				return TL_EDENIED;
			}
		if (ap[i].level == AWARDSIG_CITY)
			have_city = true;
	}
	/* The amount decides, whatever the text claims; the text may only
	 * make the requirement stricter. */
	required = a->total_fen > dual_threshold_fen ? 2 : 1;
	if (a->required_approvals > required)
		required = a->required_approvals;
	need_city = a->total_fen > dual_threshold_fen || a->need_city;
	if ((int)n < required) {
		tl_why(why, whylen, "%lld fen needs %d distinct approvers, got %zu", (long long)a->total_fen,
		    required, n);
		return TL_EDENIED;
	}
	if (need_city && !have_city) {
		tl_why(why, whylen, "%lld fen needs a city-level approver", (long long)a->total_fen);
		return TL_EDENIED;
	}
	return TL_OK;
}
