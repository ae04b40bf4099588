#include "compat.h"
#include "approval.h"
#include "awardsig.h"
#include "ids.h"
#include "log.h"
#include "money.h"
#include "num.h"

static const char *const status_names[] = {
	[AWARD_PROPOSED] = "proposed", [AWARD_APPROVED] = "approved",   [AWARD_REJECTED] = "rejected",
	[AWARD_PAID] = "paid",         [AWARD_FORFEITED] = "forfeited", [AWARD_VOID] = "void",
};

const char *
award_status_name(enum award_status s)
{
	return (unsigned)s < TL_ARRAY_LEN(status_names) ? status_names[s] : "?";
}

static bool
status_parse(const char *s, enum award_status *out)
{
	for (size_t i = 0; s && i < TL_ARRAY_LEN(status_names); i++)
		if (strcmp(s, status_names[i]) == 0) {
			*out = (enum award_status)i;
			return true;
		}
	return false;
}

/* The spellings of the shares.state column (schema step 2). */
static const char *const share_state_names[] = {
	[SHARE_OPEN] = "open", [SHARE_PAID] = "paid", [SHARE_FORFEITED] = "forfeited",
};

const char *
share_state_name(enum share_state s)
{
	return (unsigned)s < TL_ARRAY_LEN(share_state_names) ? share_state_names[s] : "?";
}

static bool
share_state_parse(const char *s, enum share_state *out)
{
	for (size_t i = 0; s && i < TL_ARRAY_LEN(share_state_names); i++)
		if (strcmp(s, share_state_names[i]) == 0) {
			*out = (enum share_state)i;
			return true;
		}
	return false;
}

_Static_assert(AWARD_MAX_REPORTS == LEDGER_SHARES_MAX, "a transfer can name every share");

/* Staff ids and payee references: the charset of wire.h actors, so they
 * can never break the line format of award_canonical(). */
static bool
ref_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '@' || c == '-' || c == ':'))
			return false;
	}
	return true;
}

static bool
district_ok(const char *d)
{
	if (strlen(d) != 6)
		return false;
	for (size_t i = 0; i < 6; i++)
		if (d[i] < '0' || d[i] > '9')
			return false;
	return true;
}

static bool
share_kind_parse(const char *s, enum award_share_kind *out)
{
	for (int k = AWARD_SHARE_FIRST; s && k <= AWARD_SHARE_DISCRETIONARY; k++)
		if (strcmp(s, award_share_kind_name((enum award_share_kind)k)) == 0) {
			*out = (enum award_share_kind)k;
			return true;
		}
	return false;
}

/* ---- staff ---- */

enum tl_err
payouts_staff_register(struct payouts *p, const char *staff_id, enum staff_level level,
                       const unsigned char pk[crypto_sign_PUBLICKEYBYTES], int64_t now_ms)
{
	char hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
	const char *lv = level == STAFF_CITY ? "city" : "district";
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	if (!ref_ok(staff_id, APPROVAL_STAFF_MAX) || (level != STAFF_CITY && level != STAFF_DISTRICT))
		return TL_EINVAL;
	hex_encode(pk, crypto_sign_PUBLICKEYBYTES, hex);
	if ((e = db_begin(p->db)) != TL_OK)
		return e;
	if ((e = db_prepare(p->db, "SELECT level, pk FROM staff WHERE staff_id = ?1;", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, staff_id)) != TL_OK || (e = db_step(st, &row)) != TL_OK)
		goto cleanup;
	if (row) {
		/* Same key and level again: a retried registration. */
		e = strcmp(db_col_text(st, 0), lv) == 0 && strcmp(db_col_text(st, 1), hex) == 0
		            ? TL_OK
		            : TL_EEXIST;
		goto cleanup;
	}
	db_finalize(st);
	st = NULL;
	if ((e = db_prepare(p->db, "INSERT INTO staff (staff_id, level, pk, created_at)"
	                           " VALUES (?1, ?2, ?3, ?4);", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, staff_id)) != TL_OK || (e = db_bind_text(st, 2, lv)) != TL_OK ||
	    (e = db_bind_text(st, 3, hex)) != TL_OK || (e = db_bind_int64(st, 4, now_ms)) != TL_OK ||
	    (e = db_step(st, NULL)) != TL_OK)
		goto cleanup;
cleanup:
	db_finalize(st);
	if (e == TL_OK)
		e = db_commit(p->db);
	if (e != TL_OK)
		db_rollback(p->db);
	return e;
}

/* ---- proposals ---- */

void
award_proposal_from_result(const struct award_result *r, struct award_proposal *out)
{
	out->computed_fen = r->total_fen;
	out->total_fen = r->total_fen;
	out->n_shares = r->n_shares;
	for (size_t i = 0; i < r->n_shares && i < AWARD_MAX_REPORTS; i++)
		out->shares[i] = r->shares[i];
}

static enum tl_err
check_proposal(const struct payouts *p, const struct award_proposal *a, char *why, size_t whylen)
{
	int64_t cap = p->rules.cap_fen < MONEY_HARD_CAP_FEN ? p->rules.cap_fen : MONEY_HARD_CAP_FEN;
	int64_t sum = 0;

	if (!id_valid(a->award_id) || !id_valid(a->case_id) || !district_ok(a->district) ||
	    a->budget_year < 2000 || a->budget_year > 2999) {
		tl_why(why, whylen, "malformed award, case id, district or budget year");
		return TL_EINVAL;
	}
	if (!ref_ok(a->payee_ref, APPROVAL_PAYEE_MAX) || !ref_ok(a->proposer, APPROVAL_STAFF_MAX)) {
		tl_why(why, whylen, "malformed payee reference or proposer");
		return TL_EINVAL;
	}
	if (a->total_fen <= 0 || a->computed_fen < 0) {
		tl_why(why, whylen, "award amount must be positive");
		return TL_EINVAL;
	}
	if (a->total_fen > cap || a->computed_fen > cap) {
		tl_why(why, whylen, "award of %lld fen exceeds the cap of %lld fen per tip",
		    (long long)a->total_fen, (long long)cap);
		return TL_ETOOBIG;
	}
	if (a->total_fen != a->computed_fen && !a->reason[0]) {
		tl_why(why, whylen, "an amount different from the computed %lld fen needs a reason",
		    (long long)a->computed_fen);
		return TL_EINVAL;
	}
	if (a->n_shares == 0 || a->n_shares > AWARD_MAX_REPORTS) {
		tl_why(why, whylen, "an award needs 1..%d shares", AWARD_MAX_REPORTS);
		return TL_EINVAL;
	}
	for (size_t i = 0; i < a->n_shares; i++) {
		const struct award_share *s = &a->shares[i];

		if (!id_valid(s->report_id) || s->fen <= 0 ||
		    (unsigned)s->kind > AWARD_SHARE_DISCRETIONARY) {
			tl_why(why, whylen, "share %zu is malformed", i);
			return TL_EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(a->shares[j].report_id, s->report_id) == 0) {
				tl_why(why, whylen, "report %s has two shares", s->report_id);
				return TL_EINVAL;
			}
		if (!money_add(sum, s->fen, &sum)) {
			tl_why(why, whylen, "shares overflow");
			return TL_ETOOBIG;
		}
	}
	if (sum != a->total_fen) {
		tl_why(why, whylen, "shares sum to %lld fen, not the award's %lld fen", (long long)sum,
		    (long long)a->total_fen);
		return TL_EINVAL;
	}
	return TL_OK;
}

static bool
same_proposal(const struct award_proposal *x, const struct award_proposal *y)
{
	if (strcmp(x->case_id, y->case_id) != 0 || strcmp(x->district, y->district) != 0 ||
	    x->budget_year != y->budget_year || x->computed_fen != y->computed_fen ||
	    x->total_fen != y->total_fen || x->n_shares != y->n_shares ||
	    strcmp(x->payee_ref, y->payee_ref) != 0 || strcmp(x->proposer, y->proposer) != 0 ||
	    strcmp(x->reason, y->reason) != 0)
		return false;
	for (size_t i = 0; i < x->n_shares; i++)
		if (strcmp(x->shares[i].report_id, y->shares[i].report_id) != 0 ||
		    x->shares[i].fen != y->shares[i].fen || x->shares[i].kind != y->shares[i].kind)
			return false;
	return true;
}

enum tl_err
award_load(struct payouts *p, const char *award_id, struct award_record *out)
{
	struct db_stmt *st = NULL;
	struct award_proposal *a = &out->a;
	bool row;
	enum tl_err e;

	memset(out, 0, sizeof(*out));
	if (!id_valid(award_id))
		return TL_EINVAL;
	if ((e = db_prepare(p->db, "SELECT award_id, version, case_id, district, budget_year, total_fen,"
	                           " computed_fen, payee_ref, proposer, reason, required_approvals,"
	                           " need_city, status FROM awards WHERE award_id = ?1;", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, award_id)) != TL_OK || (e = db_step(st, &row)) != TL_OK)
		goto cleanup;
	if (!row) {
		e = TL_ENOTFOUND;
		goto cleanup;
	}
	snprintf(a->award_id, sizeof(a->award_id), "%s", db_col_text(st, 0));
	out->version = (int)db_col_int64(st, 1);
	snprintf(a->case_id, sizeof(a->case_id), "%s", db_col_text(st, 2));
	snprintf(a->district, sizeof(a->district), "%s", db_col_text(st, 3));
	a->budget_year = (int)db_col_int64(st, 4);
	a->total_fen = db_col_int64(st, 5);
	a->computed_fen = db_col_int64(st, 6);
	snprintf(a->payee_ref, sizeof(a->payee_ref), "%s", db_col_text(st, 7));
	snprintf(a->proposer, sizeof(a->proposer), "%s", db_col_text(st, 8));
	snprintf(a->reason, sizeof(a->reason), "%s", db_col_text(st, 9));
	out->required_approvals = (int)db_col_int64(st, 10);
	out->need_city = db_col_int64(st, 11) != 0;
	if (!status_parse(db_col_text(st, 12), &out->status)) {
		e = TL_EDB;
		goto cleanup;
	}
	db_finalize(st);
	st = NULL;
	if ((e = db_prepare(p->db, "SELECT report_id, fen, kind, state FROM shares WHERE award_id = ?1"
	                           " ORDER BY idx;", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, award_id)) != TL_OK)
		goto cleanup;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		struct award_share *s;

		if (a->n_shares >= AWARD_MAX_REPORTS) {
			e = TL_ETOOBIG;
			goto cleanup;
		}
		s = &a->shares[a->n_shares++];
		snprintf(s->report_id, sizeof(s->report_id), "%s", db_col_text(st, 0));
		s->fen = db_col_int64(st, 1);
		if (!share_kind_parse(db_col_text(st, 2), &s->kind) ||
		    !share_state_parse(db_col_text(st, 3), &out->share_state[a->n_shares - 1])) {
			e = TL_EDB;
			goto cleanup;
		}
	}
cleanup:
	db_finalize(st);
	return e;
}

enum tl_err
award_propose(struct payouts *p, const struct award_proposal *a, int64_t now_ms, char *why,
              size_t whylen)
{
	struct award_record old;
	struct db_stmt *st = NULL;
	int64_t version = 0;
	int required;
	bool row;
	enum tl_err e;

	tl_why(why, whylen, "ok");
	if ((e = check_proposal(p, a, why, whylen)) != TL_OK)
		return e;
	required = a->total_fen > p->rules.dual_threshold_fen ? 2 : 1;
	if ((e = db_begin(p->db)) != TL_OK)
		return e;
	e = award_load(p, a->award_id, &old);
	if (e == TL_OK) {
		/* The console retried a submission whose answer it lost. */
		if (same_proposal(&old.a, a)) {
			e = TL_OK;
		} else {
			tl_why(why, whylen, "award %s exists with different content", a->award_id);
			e = TL_EEXIST;
		}
		goto cleanup;
	}
	if (e != TL_ENOTFOUND)
		goto cleanup;
	if ((e = db_prepare(p->db, "SELECT count(*) FROM awards WHERE case_id = ?1;", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, a->case_id)) != TL_OK || (e = db_step(st, &row)) != TL_OK)
		goto cleanup;
	version = db_col_int64(st, 0) + 1;
	db_finalize(st);
	st = NULL;
	if ((e = db_prepare(p->db,
	                    "INSERT INTO awards (award_id, version, case_id, district, budget_year,"
	                    " total_fen, computed_fen, payee_ref, proposer, reason, required_approvals,"
	                    " need_city, status, created_at)"
	                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'proposed', ?13);",
	                    &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, a->award_id)) != TL_OK ||
	    (e = db_bind_int64(st, 2, version)) != TL_OK ||
	    (e = db_bind_text(st, 3, a->case_id)) != TL_OK ||
	    (e = db_bind_text(st, 4, a->district)) != TL_OK ||
	    (e = db_bind_int64(st, 5, a->budget_year)) != TL_OK ||
	    (e = db_bind_int64(st, 6, a->total_fen)) != TL_OK ||
	    (e = db_bind_int64(st, 7, a->computed_fen)) != TL_OK ||
	    (e = db_bind_text(st, 8, a->payee_ref)) != TL_OK ||
	    (e = db_bind_text(st, 9, a->proposer)) != TL_OK ||
	    (e = db_bind_text(st, 10, a->reason)) != TL_OK ||
	    (e = db_bind_int64(st, 11, required)) != TL_OK ||
	    (e = db_bind_int64(st, 12, required == 2)) != TL_OK ||
	    (e = db_bind_int64(st, 13, now_ms)) != TL_OK)
		goto cleanup;
	if ((e = db_step(st, NULL)) != TL_OK) {
		if (e == TL_ECONFLICT)
			tl_why(why, whylen, "case %s already has a live award (one award per case)",
			    a->case_id);
		goto cleanup;
	}
	db_finalize(st);
	st = NULL;
	if ((e = db_prepare(p->db, "INSERT INTO shares (award_id, idx, report_id, fen, kind)"
	                           " VALUES (?1, ?2, ?3, ?4, ?5);", &st)) != TL_OK)
		goto cleanup;
	for (size_t i = 0; i < a->n_shares; i++) {
		db_reset(st);
		if ((e = db_bind_text(st, 1, a->award_id)) != TL_OK ||
		    (e = db_bind_int64(st, 2, (int64_t)i)) != TL_OK ||
		    (e = db_bind_text(st, 3, a->shares[i].report_id)) != TL_OK ||
		    (e = db_bind_int64(st, 4, a->shares[i].fen)) != TL_OK ||
		    (e = db_bind_text(st, 5, award_share_kind_name(a->shares[i].kind))) != TL_OK ||
		    (e = db_step(st, NULL)) != TL_OK)
			goto cleanup;
	}
cleanup:
	db_finalize(st);
	if (e == TL_OK)
		e = db_commit(p->db);
	if (e != TL_OK)
		db_rollback(p->db);
	return e;
}

/* ---- canonical bytes and signatures ---- */

/* One formatter for the signed text: common/awardsig, which the vault
 * also parses, so the bytes an approver signs and the bytes the vault
 * verifies cannot drift apart. */
enum tl_err
award_canonical(const struct award_record *r, enum approval_decision d, char *out, size_t outlen,
                size_t *len)
{
	const struct award_proposal *a = &r->a;
	struct awardsig *sig;
	char why[160];
	enum tl_err e;

	if (outlen == 0)
		return TL_ETOOBIG;
	out[0] = '\0';
	if (a->n_shares > AWARDSIG_MAX_SHARES)
		return TL_ETOOBIG;
	/* ~4 KiB: on the heap, the console's threads have small stacks. */
	if (!(sig = calloc(1, sizeof(*sig))))
		return TL_ENOMEM;
	sig->decision = d == APPROVAL_APPROVE ? AWARDSIG_APPROVE : AWARDSIG_REJECT;
	snprintf(sig->award_id, sizeof(sig->award_id), "%s", a->award_id);
	sig->version = r->version;
	snprintf(sig->case_id, sizeof(sig->case_id), "%s", a->case_id);
	snprintf(sig->district, sizeof(sig->district), "%s", a->district);
	sig->budget_year = a->budget_year;
	sig->computed_fen = a->computed_fen;
	sig->total_fen = a->total_fen;
	snprintf(sig->payee_ref, sizeof(sig->payee_ref), "%s", a->payee_ref);
	snprintf(sig->proposer, sizeof(sig->proposer), "%s", a->proposer);
	sig->required_approvals = r->required_approvals;
	sig->need_city = r->need_city;
	sig->n_shares = a->n_shares;
	for (size_t i = 0; i < a->n_shares; i++) {
		snprintf(sig->shares[i].report_id, sizeof(sig->shares[i].report_id), "%s", a->shares[i].report_id);
		sig->shares[i].fen = a->shares[i].fen;
		sig->shares[i].kind = a->shares[i].kind == AWARD_SHARE_FIRST          ? AWARDSIG_FIRST
		                      : a->shares[i].kind == AWARD_SHARE_SIMULTANEOUS ? AWARDSIG_SIMULTANEOUS
		                                                                      : AWARDSIG_DISCRETIONARY;
	}
	/* A record that does not make a valid signed text (it never should:
	 * award_propose checks the same fields) is not signable: TL_EINVAL. */
	e = awardsig_format(sig, out, outlen, len, why, sizeof(why));
	free(sig);
	return e;
}

enum tl_err
approval_sign(const struct award_record *r, enum approval_decision d,
              const unsigned char sk[crypto_sign_SECRETKEYBYTES], unsigned char sig[APPROVAL_SIG_LEN])
{
	char msg[APPROVAL_CANON_MAX];
	size_t len;
	enum tl_err e;

	if ((e = award_canonical(r, d, msg, sizeof(msg), &len)) != TL_OK)
		return e;
	return crypto_sign_detached(sig, NULL, (const unsigned char *)msg, len, sk) == 0 ? TL_OK
	                                                                                 : TL_ECRYPTO;
}

static enum tl_err
verify_sig(const struct award_record *r, enum approval_decision d, const unsigned char *sig,
           const char *pk_hex)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	char msg[APPROVAL_CANON_MAX];
	size_t len;
	enum tl_err e;

	if (!pk_hex || hex_decode(pk_hex, strlen(pk_hex), pk, sizeof(pk)) != TL_OK)
		return TL_ECRYPTO;
	if ((e = award_canonical(r, d, msg, sizeof(msg), &len)) != TL_OK)
		return e;
	return crypto_sign_verify_detached(sig, (const unsigned char *)msg, len, pk) == 0 ? TL_OK
	                                                                                  : TL_ECRYPTO;
}

/* ---- budget ---- */

enum tl_err
payouts_budget_remaining(struct payouts *p, const char *district, int year, int64_t *out)
{
	char acc[LEDGER_ACCOUNT_MAX + 1];
	int64_t dr, cr;
	enum tl_err e;

	*out = 0;
	if ((e = ledger_account_name(LEDGER_ACC_BUDGET, district, year, acc)) != TL_OK)
		return e;
	e = ledger_balance(p->db, acc, &dr, &cr);
	if (e == TL_ENOTFOUND)
		return TL_OK; /* never funded: nothing left */
	if (e == TL_OK)
		*out = cr - dr;
	return e;
}

/* Opens every account a district/year needs, inside the caller's tx. */
static enum tl_err
open_accounts(struct payouts *p, const char *district, int year)
{
	static const enum ledger_account_kind kinds[] = { LEDGER_ACC_FUNDING, LEDGER_ACC_BUDGET,
		                                          LEDGER_ACC_PAYABLE, LEDGER_ACC_PAID };
	char acc[LEDGER_ACCOUNT_MAX + 1];
	enum tl_err e;

	for (size_t i = 0; i < TL_ARRAY_LEN(kinds); i++)
		if ((e = ledger_account_name(kinds[i], district, year, acc)) != TL_OK ||
		    (e = ledger_account_open(p->db, acc, kinds[i])) != TL_OK)
			return e;
	return TL_OK;
}

enum tl_err
payouts_fund_budget(struct payouts *p, const char *district, int year, int64_t amount_fen,
                    const char *transfer_id, int64_t now_ms, enum ledger_outcome *out)
{
	struct ledger_transfer t = { .amount_fen = amount_fen, .kind = LEDGER_FUND };
	enum tl_err e;

	if (!transfer_id || !id_valid(transfer_id))
		return TL_EINVAL;
	snprintf(t.id, sizeof(t.id), "%s", transfer_id);
	if ((e = ledger_account_name(LEDGER_ACC_FUNDING, district, year, t.debit)) != TL_OK ||
	    (e = ledger_account_name(LEDGER_ACC_BUDGET, district, year, t.credit)) != TL_OK)
		return e;
	if ((e = db_begin(p->db)) != TL_OK)
		return e;
	if ((e = open_accounts(p, district, year)) == TL_OK &&
	    (e = ledger_post_in_tx(p->db, &t, now_ms, out)) == TL_OK)
		e = db_commit(p->db);
	if (e != TL_OK)
		db_rollback(p->db);
	return e;
}

/* ---- decisions ---- */

struct staff_row {
	bool found;
	bool city;
	char pk[2 * crypto_sign_PUBLICKEYBYTES + 1];
};

static enum tl_err
staff_get(struct payouts *p, const char *staff_id, struct staff_row *out)
{
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	memset(out, 0, sizeof(*out));
	if ((e = db_prepare(p->db, "SELECT level, pk FROM staff WHERE staff_id = ?1;", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, staff_id)) != TL_OK || (e = db_step(st, &row)) != TL_OK)
		goto cleanup;
	if (row) {
		out->found = true;
		out->city = strcmp(db_col_text(st, 0), "city") == 0;
		snprintf(out->pk, sizeof(out->pk), "%s", db_col_text(st, 1));
	}
cleanup:
	db_finalize(st);
	return e;
}

static enum tl_err
set_status(struct payouts *p, const char *award_id, enum award_status s, int64_t now_ms)
{
	struct db_stmt *st = NULL;
	enum tl_err e;

	if ((e = db_prepare(p->db, "UPDATE awards SET status = ?2, decided_at = ?3 WHERE award_id = ?1;",
	                    &st)) == TL_OK &&
	    (e = db_bind_text(st, 1, award_id)) == TL_OK &&
	    (e = db_bind_text(st, 2, award_status_name(s))) == TL_OK &&
	    (e = db_bind_int64(st, 3, now_ms)) == TL_OK)
		e = db_step(st, NULL);
	db_finalize(st);
	return e;
}

/* Reserves the award's total from its district budget (budget -> payable). */
static enum tl_err
reserve(struct payouts *p, const struct award_record *r, int64_t now_ms, char *why, size_t whylen)
{
	const struct award_proposal *a = &r->a;
	struct ledger_transfer t = { .amount_fen = a->total_fen, .kind = LEDGER_RESERVE };
	enum ledger_outcome out;
	int64_t left;
	enum tl_err e;

	if ((e = open_accounts(p, a->district, a->budget_year)) != TL_OK ||
	    (e = payouts_budget_remaining(p, a->district, a->budget_year, &left)) != TL_OK)
		return e;
	if (left < a->total_fen) {
		tl_why(why, whylen,
		    "budget exhausted: district %s has %lld fen left in its %d award budget, "
		    "award %s needs %lld fen; approval refused",
		    a->district, (long long)left, a->budget_year, a->award_id, (long long)a->total_fen);
		return TL_EDENIED;
	}
	ledger_id_derive(a->award_id, "reserve", t.id);
	snprintf(t.award_id, sizeof(t.award_id), "%s", a->award_id);
	if ((e = ledger_account_name(LEDGER_ACC_BUDGET, a->district, a->budget_year, t.debit)) != TL_OK ||
	    (e = ledger_account_name(LEDGER_ACC_PAYABLE, a->district, 0, t.credit)) != TL_OK)
		return e;
	return ledger_post_in_tx(p->db, &t, now_ms, &out);
}

/* Approvals so far: how many approve, and whether one is city-level. */
static enum tl_err
approvals_so_far(struct payouts *p, const char *award_id, int *n, bool *city, bool *by_staff,
                 const char *staff_id)
{
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	*n = 0;
	*city = *by_staff = false;
	if ((e = db_prepare(p->db, "SELECT a.approver, a.decision, s.level FROM approvals a"
	                           " JOIN staff s ON s.staff_id = a.approver WHERE a.award_id = ?1;",
	                    &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, award_id)) != TL_OK)
		goto cleanup;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		if (strcmp(db_col_text(st, 0), staff_id) == 0)
			*by_staff = true;
		if (strcmp(db_col_text(st, 1), "approve") == 0) {
			(*n)++;
			if (strcmp(db_col_text(st, 2), "city") == 0)
				*city = true;
		}
	}
cleanup:
	db_finalize(st);
	return e;
}

enum tl_err
approval_decide(struct payouts *p, const char *award_id, const char *staff_id,
                enum approval_decision d, const unsigned char sig[APPROVAL_SIG_LEN],
                const char *reason, int64_t now_ms, enum award_status *status, char *why,
                size_t whylen)
{
	char sighex[2 * APPROVAL_SIG_LEN + 1];
	struct award_record r;
	struct staff_row sr;
	struct db_stmt *st = NULL;
	int n;
	bool city, decided;
	enum tl_err e;

	tl_why(why, whylen, "ok");
	if (!id_valid(award_id) || !ref_ok(staff_id, APPROVAL_STAFF_MAX) ||
	    (d != APPROVAL_APPROVE && d != APPROVAL_REJECT) ||
	    (reason && strlen(reason) > APPROVAL_REASON_MAX)) {
		tl_why(why, whylen, "malformed decision");
		return TL_EINVAL;
	}
	if ((e = db_begin(p->db)) != TL_OK)
		return e;
	if ((e = award_load(p, award_id, &r)) != TL_OK) {
		tl_why(why, whylen, "award %s: %s", award_id, tl_strerror(e));
		goto cleanup;
	}
	if (r.status != AWARD_PROPOSED) {
		tl_why(why, whylen, "award %s is %s, not awaiting approval", award_id,
		    award_status_name(r.status));
		e = TL_EDENIED;
		goto cleanup;
	}
	if (strcmp(staff_id, r.a.proposer) == 0) {
		tl_why(why, whylen, "%s proposed award %s and cannot approve or reject it", staff_id,
		    award_id);
		e = TL_EDENIED;
		goto cleanup;
	}
	if ((e = staff_get(p, staff_id, &sr)) != TL_OK)
		goto cleanup;
	if (!sr.found) {
		tl_why(why, whylen, "%s has no registered signing key", staff_id);
		e = TL_ENOTFOUND;
		goto cleanup;
	}
	if ((e = verify_sig(&r, d, sig, sr.pk)) != TL_OK) {
		tl_why(why, whylen, "signature of %s does not verify for award %s version %d", staff_id,
		    award_id, r.version);
		goto cleanup;
	}
	if ((e = approvals_so_far(p, award_id, &n, &city, &decided, staff_id)) != TL_OK)
		goto cleanup;
	if (decided) {
		tl_why(why, whylen, "%s has already decided on award %s", staff_id, award_id);
		e = TL_EEXIST;
		goto cleanup;
	}
	if (d == APPROVAL_APPROVE) {
		n++;
		city = city || sr.city;
		/* Completing the pair without a city-level approver would leave
		 * an award that can never be approved: refuse it now. */
		if (r.need_city && n >= r.required_approvals && !city) {
			tl_why(why, whylen,
			    "award %s (%lld fen) is above the dual-approval threshold of %lld fen: "
			    "one of the two approvers must be city-level",
			    award_id, (long long)r.a.total_fen, (long long)p->rules.dual_threshold_fen);
			e = TL_EDENIED;
			goto cleanup;
		}
	}
	hex_encode(sig, APPROVAL_SIG_LEN, sighex);
	if ((e = db_prepare(p->db, "INSERT INTO approvals (award_id, approver, decision, sig, reason, at)"
	                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6);", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, award_id)) != TL_OK ||
	    (e = db_bind_text(st, 2, staff_id)) != TL_OK ||
	    (e = db_bind_text(st, 3, d == APPROVAL_APPROVE ? "approve" : "reject")) != TL_OK ||
	    (e = db_bind_text(st, 4, sighex)) != TL_OK ||
	    (e = db_bind_text(st, 5, reason)) != TL_OK || (e = db_bind_int64(st, 6, now_ms)) != TL_OK ||
	    (e = db_step(st, NULL)) != TL_OK)
		goto cleanup;
	if (d == APPROVAL_REJECT) {
		/* Nothing was reserved yet (reservation happens on final
		 * approval), so a rejection moves no money. */
		e = set_status(p, award_id, AWARD_REJECTED, now_ms);
		r.status = AWARD_REJECTED;
	} else if (n >= r.required_approvals) {
		if ((e = reserve(p, &r, now_ms, why, whylen)) != TL_OK)
			goto cleanup;
		e = set_status(p, award_id, AWARD_APPROVED, now_ms);
		r.status = AWARD_APPROVED;
	}
cleanup:
	db_finalize(st);
	if (e == TL_OK)
		e = db_commit(p->db);
	if (e != TL_OK)
		db_rollback(p->db);
	else if (status)
		*status = r.status;
	return e;
}

/* Runs inside the caller's transaction when there is one. */
enum tl_err
approval_verify(struct payouts *p, const char *award_id, char *why, size_t whylen)
{
	unsigned char sig[APPROVAL_SIG_LEN];
	struct award_record r;
	struct db_stmt *st = NULL;
	int n = 0;
	bool city = false, row;
	enum tl_err e;

	if ((e = award_load(p, award_id, &r)) != TL_OK) {
		tl_why(why, whylen, "award %s: %s", award_id, tl_strerror(e));
		return e;
	}
	if ((e = db_prepare(p->db, "SELECT a.approver, a.sig, s.level, s.pk FROM approvals a"
	                           " JOIN staff s ON s.staff_id = a.approver"
	                           " WHERE a.award_id = ?1 AND a.decision = 'approve'"
	                           " ORDER BY a.approver;", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, award_id)) != TL_OK)
		goto cleanup;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		const char *who = db_col_text(st, 0), *sh = db_col_text(st, 1);

		if (strcmp(who, r.a.proposer) == 0) {
			tl_why(why, whylen, "award %s: approval by its proposer %s", award_id, who);
			e = TL_EDENIED;
			goto cleanup;
		}
		if (!sh || hex_decode(sh, strlen(sh), sig, sizeof(sig)) != TL_OK ||
		    verify_sig(&r, APPROVAL_APPROVE, sig, db_col_text(st, 3)) != TL_OK) {
			tl_why(why, whylen,
			    "award %s: the approval signature of %s does not match the award as stored; "
			    "refusing to pay",
			    award_id, who);
			e = TL_ECRYPTO;
			goto cleanup;
		}
		n++;
		if (strcmp(db_col_text(st, 2), "city") == 0)
			city = true;
	}
	if (e != TL_OK)
		goto cleanup;
	/* The rule is re-derived from the amount, not only read from the row,
	 * so a row edited to need fewer approvals does not pass. */
	if (n < r.required_approvals || (r.a.total_fen > p->rules.dual_threshold_fen && n < 2) ||
	    ((r.need_city || r.a.total_fen > p->rules.dual_threshold_fen) && !city)) {
		tl_why(why, whylen, "award %s: %d valid approval(s)%s; not enough to pay", award_id, n,
		    city ? "" : ", none city-level");
		e = TL_EDENIED;
	}
cleanup:
	db_finalize(st);
	return e;
}

/* ---- settlement ---- */

/* The settlement transfer already posted for one share, if any. */
static enum tl_err
share_transfer(struct payouts *p, const char *award_id, int idx, struct ledger_transfer *out,
               bool *found)
{
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	*found = false;
	if ((e = db_prepare(p->db, "SELECT id FROM transfers WHERE award_id = ?1 AND share_idx = ?2;",
	                    &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, award_id)) != TL_OK || (e = db_bind_int64(st, 2, idx)) != TL_OK ||
	    (e = db_step(st, &row)) != TL_OK || !row)
		goto cleanup;
	{
		char id[LEDGER_ID_LEN + 1];

		snprintf(id, sizeof(id), "%s", db_col_text(st, 0));
		db_finalize(st);
		st = NULL;
		if ((e = ledger_get(p->db, id, out)) == TL_OK)
			*found = true;
	}
cleanup:
	db_finalize(st);
	return e;
}

/* After a share was settled: once none is open the award follows. */
static enum tl_err
award_follow_shares(struct payouts *p, const char *award_id, int64_t now_ms)
{
	struct db_stmt *st = NULL;
	int64_t open, paid;
	bool row;
	enum tl_err e;

	if ((e = db_prepare(p->db, "SELECT coalesce(sum(state = 'open'), 0),"
	                           " coalesce(sum(state = 'paid'), 0) FROM shares WHERE award_id = ?1;",
	                    &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, award_id)) != TL_OK || (e = db_step(st, &row)) != TL_OK)
		goto cleanup;
	open = db_col_int64(st, 0);
	paid = db_col_int64(st, 1);
	db_finalize(st);
	st = NULL;
	if (open == 0)
		e = set_status(p, award_id, paid > 0 ? AWARD_PAID : AWARD_FORFEITED, now_ms);
cleanup:
	db_finalize(st);
	return e;
}

static enum tl_err
settle_share(struct payouts *p, const char *award_id, int idx, enum ledger_kind kind,
             const char *transfer_id, int64_t now_ms, enum ledger_outcome *out, char *why,
             size_t whylen)
{
	const enum share_state to = kind == LEDGER_PAY ? SHARE_PAID : SHARE_FORFEITED;
	struct ledger_transfer t = { .kind = kind, .has_share = true, .share_idx = idx }, old;
	struct award_record r;
	struct db_stmt *st = NULL;
	bool found;
	enum tl_err e;

	tl_why(why, whylen, "ok");
	if (!transfer_id || !id_valid(transfer_id) || !award_id || !id_valid(award_id)) {
		tl_why(why, whylen, "malformed award or transfer id");
		return TL_EINVAL;
	}
	if (idx < 0 || idx >= AWARD_MAX_REPORTS) {
		tl_why(why, whylen, "share index %d out of range", idx);
		return TL_EINVAL;
	}
	if ((e = db_begin(p->db)) != TL_OK)
		return e;
	if ((e = award_load(p, award_id, &r)) != TL_OK) {
		tl_why(why, whylen, "award %s: %s", award_id, tl_strerror(e));
		goto cleanup;
	}
	if ((size_t)idx >= r.a.n_shares) {
		tl_why(why, whylen, "award %s has no share %d (it has %zu)", award_id, idx, r.a.n_shares);
		e = TL_ENOTFOUND;
		goto cleanup;
	}
	snprintf(t.id, sizeof(t.id), "%s", transfer_id);
	snprintf(t.award_id, sizeof(t.award_id), "%s", award_id);
	t.amount_fen = r.a.shares[idx].fen;
	if ((e = ledger_account_name(LEDGER_ACC_PAYABLE, r.a.district, 0, t.debit)) != TL_OK ||
	    (e = ledger_account_name(kind == LEDGER_PAY ? LEDGER_ACC_PAID : LEDGER_ACC_BUDGET,
	                             r.a.district, r.a.budget_year, t.credit)) != TL_OK)
		goto cleanup;
	if (r.share_state[idx] != SHARE_OPEN) {
		if ((e = share_transfer(p, award_id, idx, &old, &found)) != TL_OK)
			goto cleanup;
		/* Only the very same transfer is a harmless retry (the answer to
		 * the first call was lost); anything else would settle the same
		 * money twice. */
		if (found && r.share_state[idx] == to && strcmp(old.id, transfer_id) == 0 &&
		    old.kind == kind && old.amount_fen == t.amount_fen &&
		    strcmp(old.debit, t.debit) == 0 && strcmp(old.credit, t.credit) == 0) {
			*out = LEDGER_EXISTS;
			goto cleanup;
		}
		tl_why(why, whylen, "share %d of award %s is already %s by transfer %s; refusing to %s it",
		    idx, award_id, share_state_name(r.share_state[idx]), found ? old.id : "(missing)",
		    kind == LEDGER_PAY ? "pay" : "forfeit");
		e = TL_EDENIED;
		goto cleanup;
	}
	if (r.status != AWARD_APPROVED) {
		tl_why(why, whylen, "award %s is %s, not approved; share %d cannot be settled", award_id,
		    award_status_name(r.status), idx);
		e = TL_EDENIED;
		goto cleanup;
	}
	/* Never trust the status column alone: the signatures must still
	 * match the award as stored, byte for byte.  A forfeit checks too: a
	 * share amount raised behind the signatures would otherwise move
	 * other awards' payable money into the budget. */
	if ((e = approval_verify(p, award_id, why, whylen)) != TL_OK)
		goto cleanup;
	if ((e = ledger_post_in_tx(p->db, &t, now_ms, out)) != TL_OK) {
		tl_why(why, whylen, "award %s share %d: ledger refused transfer %s: %s%s", award_id, idx,
		    transfer_id, tl_strerror(e),
		    e == TL_EEXIST ? " (the id is already used by another transfer)" : "");
		goto cleanup;
	}
	if (*out == LEDGER_EXISTS) {
		/* The id names an identical transfer yet the share is open: the
		 * database contradicts itself, so do not build on it. */
		tl_why(why, whylen, "award %s share %d is open but transfer %s already exists", award_id,
		    idx, transfer_id);
		e = TL_ECONFLICT;
		goto cleanup;
	}
	if ((e = db_prepare(p->db, "UPDATE shares SET state = ?3, settled_at = ?4"
	                           " WHERE award_id = ?1 AND idx = ?2 AND state = 'open';", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, award_id)) != TL_OK || (e = db_bind_int64(st, 2, idx)) != TL_OK ||
	    (e = db_bind_text(st, 3, share_state_name(to))) != TL_OK ||
	    (e = db_bind_int64(st, 4, now_ms)) != TL_OK || (e = db_step(st, NULL)) != TL_OK)
		goto cleanup;
	if (db_changes(p->db) != 1) {
		e = TL_ECONFLICT;
		goto cleanup;
	}
	e = award_follow_shares(p, award_id, now_ms);
cleanup:
	db_finalize(st);
	if (e == TL_OK)
		e = db_commit(p->db);
	if (e != TL_OK)
		db_rollback(p->db);
	return e;
}

enum tl_err
payouts_confirm_share(struct payouts *p, const char *award_id, int share_idx,
                      const char *transfer_id, int64_t now_ms, enum ledger_outcome *out, char *why,
                      size_t whylen)
{
	return settle_share(p, award_id, share_idx, LEDGER_PAY, transfer_id, now_ms, out, why,
	                    whylen);
}

enum tl_err
payouts_forfeit_share(struct payouts *p, const char *award_id, int share_idx,
                      const char *transfer_id, int64_t now_ms, enum ledger_outcome *out, char *why,
                      size_t whylen)
{
	return settle_share(p, award_id, share_idx, LEDGER_FORFEIT, transfer_id, now_ms, out, why,
	                    whylen);
}

enum tl_err
payouts_share_state(struct payouts *p, const char *award_id, int share_idx, enum share_state *out)
{
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	if (!award_id || !id_valid(award_id) || share_idx < 0 || share_idx >= AWARD_MAX_REPORTS)
		return TL_EINVAL;
	if ((e = db_prepare(p->db, "SELECT state FROM shares WHERE award_id = ?1 AND idx = ?2;", &st)) !=
	            TL_OK ||
	    (e = db_bind_text(st, 1, award_id)) != TL_OK ||
	    (e = db_bind_int64(st, 2, share_idx)) != TL_OK || (e = db_step(st, &row)) != TL_OK)
		goto cleanup;
	if (!row)
		e = TL_ENOTFOUND;
	else if (!share_state_parse(db_col_text(st, 0), out))
		e = TL_EDB;
cleanup:
	db_finalize(st);
	return e;
}

enum tl_err
payouts_release(struct payouts *p, const char *award_id, enum release_reason rr,
                const char *transfer_id, int64_t now_ms, enum ledger_outcome *out, char *why,
                size_t whylen)
{
	struct ledger_transfer t = { .kind = LEDGER_RETURN }, old, res;
	struct award_record r;
	char rid[LEDGER_ID_LEN + 1];
	size_t settled = 0;
	enum tl_err e;

	tl_why(why, whylen, "ok");
	if (rr != RELEASE_BANK_REJECTED || !transfer_id || !id_valid(transfer_id) || !award_id ||
	    !id_valid(award_id)) {
		tl_why(why, whylen, "malformed release");
		return TL_EINVAL;
	}
	if ((e = db_begin(p->db)) != TL_OK)
		return e;
	if ((e = award_load(p, award_id, &r)) != TL_OK) {
		tl_why(why, whylen, "award %s: %s", award_id, tl_strerror(e));
		goto cleanup;
	}
	snprintf(t.id, sizeof(t.id), "%s", transfer_id);
	snprintf(t.award_id, sizeof(t.award_id), "%s", award_id);
	if ((e = ledger_account_name(LEDGER_ACC_PAYABLE, r.a.district, 0, t.debit)) != TL_OK ||
	    (e = ledger_account_name(LEDGER_ACC_BUDGET, r.a.district, r.a.budget_year, t.credit)) !=
	            TL_OK)
		goto cleanup;
	/* What goes back is what was reserved, read from the reserve
	 * transfer rather than the award row: voiding needs no signature
	 * check because it can only return this award's own money. */
	ledger_id_derive(award_id, "reserve", rid);
	if ((e = ledger_get(p->db, rid, &res)) != TL_OK && e != TL_ENOTFOUND)
		goto cleanup;
	t.amount_fen = e == TL_OK ? res.amount_fen : 0;
	e = TL_OK;
	if (r.status == AWARD_VOID) {
		e = ledger_get(p->db, transfer_id, &old);
		if (e == TL_OK && old.kind == LEDGER_RETURN && strcmp(old.award_id, award_id) == 0 &&
		    old.amount_fen == t.amount_fen && strcmp(old.debit, t.debit) == 0 &&
		    strcmp(old.credit, t.credit) == 0) {
			*out = LEDGER_EXISTS;
			goto cleanup;
		}
		tl_why(why, whylen, "award %s is already void by another transfer", award_id);
		e = e == TL_OK ? TL_EEXIST : TL_EDENIED;
		goto cleanup;
	}
	if (r.status != AWARD_APPROVED) {
		tl_why(why, whylen, "award %s is %s, not approved", award_id, award_status_name(r.status));
		e = TL_EDENIED;
		goto cleanup;
	}
	for (size_t i = 0; i < r.a.n_shares; i++)
		settled += r.share_state[i] != SHARE_OPEN;
	if (settled) {
		tl_why(why, whylen,
		    "award %s has %zu settled share(s); it can no longer be voided as a whole "
		    "(settle the remaining shares one by one)",
		    award_id, settled);
		e = TL_EDENIED;
		goto cleanup;
	}
	if ((e = ledger_post_in_tx(p->db, &t, now_ms, out)) != TL_OK) {
		tl_why(why, whylen, "award %s: ledger refused transfer %s: %s", award_id, transfer_id,
		    tl_strerror(e));
		goto cleanup;
	}
	e = set_status(p, award_id, AWARD_VOID, now_ms);
cleanup:
	if (e == TL_OK)
		e = db_commit(p->db);
	if (e != TL_OK)
		db_rollback(p->db);
	return e;
}
