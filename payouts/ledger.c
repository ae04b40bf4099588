#include "compat.h"
#include "ledger.h"
#include "ids.h"
#include "log.h"
#include "money.h"
#include "num.h"

#include <sodium.h>

static const char *const kind_names[] = {
	[LEDGER_FUND] = "fund",       [LEDGER_RESERVE] = "reserve", [LEDGER_PAY] = "pay",
	[LEDGER_RETURN] = "return",   [LEDGER_FORFEIT] = "forfeit",
};
static const char *const acc_kind_names[] = {
	[LEDGER_ACC_FUNDING] = "funding", [LEDGER_ACC_BUDGET] = "budget",
	[LEDGER_ACC_PAYABLE] = "payable", [LEDGER_ACC_PAID] = "paid",
};

const char *
ledger_kind_name(enum ledger_kind k)
{
	return (unsigned)k < TL_ARRAY_LEN(kind_names) ? kind_names[k] : "?";
}

static bool
kind_parse(const char *s, enum ledger_kind *out)
{
	for (size_t i = 0; s && i < TL_ARRAY_LEN(kind_names); i++)
		if (strcmp(s, kind_names[i]) == 0) {
			*out = (enum ledger_kind)i;
			return true;
		}
	return false;
}

static bool
district_ok(const char *d)
{
	if (!d || strlen(d) != 6)
		return false;
	for (size_t i = 0; i < 6; i++)
		if (d[i] < '0' || d[i] > '9')
			return false;
	return true;
}

enum tl_err
ledger_account_name(enum ledger_account_kind kind, const char *district, int year,
                    char out[LEDGER_ACCOUNT_MAX + 1])
{
	int n;

	if ((unsigned)kind >= TL_ARRAY_LEN(acc_kind_names) || !district_ok(district))
		return TL_EINVAL;
	if (kind == LEDGER_ACC_FUNDING || kind == LEDGER_ACC_BUDGET) {
		if (year < 2000 || year > 2999)
			return TL_EINVAL;
		n = snprintf(out, LEDGER_ACCOUNT_MAX + 1, "%s:%s:%d", acc_kind_names[kind], district, year);
	} else {
		n = snprintf(out, LEDGER_ACCOUNT_MAX + 1, "%s:%s", acc_kind_names[kind], district);
	}
	return n < 0 || n > LEDGER_ACCOUNT_MAX ? TL_ETOOBIG : TL_OK;
}

enum tl_err
ledger_account_open(struct db *db, const char *name, enum ledger_account_kind kind)
{
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	if ((unsigned)kind >= TL_ARRAY_LEN(acc_kind_names) || !name || !*name ||
	    strlen(name) > LEDGER_ACCOUNT_MAX)
		return TL_EINVAL;
	if ((e = db_prepare(db, "INSERT OR IGNORE INTO accounts (name, kind) VALUES (?1, ?2);", &st)) !=
	            TL_OK ||
	    (e = db_bind_text(st, 1, name)) != TL_OK ||
	    (e = db_bind_text(st, 2, acc_kind_names[kind])) != TL_OK || (e = db_step(st, NULL)) != TL_OK)
		goto cleanup;
	db_finalize(st);
	st = NULL;
	/* INSERT OR IGNORE hides an existing account of another kind. */
	if ((e = db_prepare(db, "SELECT kind FROM accounts WHERE name = ?1;", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, name)) != TL_OK || (e = db_step(st, &row)) != TL_OK)
		goto cleanup;
	if (!row || strcmp(db_col_text(st, 0), acc_kind_names[kind]) != 0)
		e = TL_ECONFLICT;
cleanup:
	db_finalize(st);
	return e;
}

enum tl_err
ledger_balance(struct db *db, const char *name, int64_t *debits, int64_t *credits)
{
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	if ((e = db_prepare(db, "SELECT debits_fen, credits_fen FROM accounts WHERE name = ?1;", &st)) !=
	            TL_OK ||
	    (e = db_bind_text(st, 1, name)) != TL_OK || (e = db_step(st, &row)) != TL_OK)
		goto cleanup;
	if (!row) {
		e = TL_ENOTFOUND;
		goto cleanup;
	}
	*debits = db_col_int64(st, 0);
	*credits = db_col_int64(st, 1);
cleanup:
	db_finalize(st);
	return e;
}

void
ledger_id_derive(const char *award_id, const char *step, char out[LEDGER_ID_LEN + 1])
{
	crypto_generichash_state h;
	unsigned char d[LEDGER_ID_LEN / 2];
	static const char ctx[] = "tipline ledger transfer id v1";

	/* Unkeyed: the id only has to be stable and collision-free, and the
	 * NUL separators keep (award, step) pairs from running together. */
	crypto_generichash_init(&h, NULL, 0, sizeof(d));
	crypto_generichash_update(&h, (const unsigned char *)ctx, sizeof(ctx));
	crypto_generichash_update(&h, (const unsigned char *)award_id, strlen(award_id) + 1);
	crypto_generichash_update(&h, (const unsigned char *)step, strlen(step) + 1);
	crypto_generichash_final(&h, d, sizeof(d));
	hex_encode(d, sizeof(d), out);
}

static bool
settles_share(enum ledger_kind k)
{
	return k == LEDGER_PAY || k == LEDGER_FORFEIT;
}

static enum tl_err
validate(const struct ledger_transfer *t)
{
	if (!id_valid(t->id) || !t->debit[0] || !t->credit[0] || strcmp(t->debit, t->credit) == 0 ||
	    t->amount_fen <= 0 || (unsigned)t->kind >= TL_ARRAY_LEN(kind_names))
		return TL_EINVAL;
	if (t->has_share != settles_share(t->kind) ||
	    (t->has_share && (t->share_idx < 0 || t->share_idx >= LEDGER_SHARES_MAX)))
		return TL_EINVAL;
	if (t->kind == LEDGER_FUND)
		return t->award_id[0] ? TL_EINVAL : TL_OK;
	/* Award money: one award never moves more than the hard cap. */
	if (!id_valid(t->award_id) || t->amount_fen > MONEY_HARD_CAP_FEN)
		return TL_EINVAL;
	return TL_OK;
}

enum tl_err
ledger_get(struct db *db, const char *id, struct ledger_transfer *out)
{
	struct db_stmt *st = NULL;
	const char *aw;
	bool row;
	enum tl_err e;

	memset(out, 0, sizeof(*out));
	if ((e = db_prepare(db, "SELECT id, debit, credit, amount_fen, award_id, kind, share_idx"
	                        " FROM transfers WHERE id = ?1;", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, id)) != TL_OK || (e = db_step(st, &row)) != TL_OK)
		goto cleanup;
	if (!row) {
		e = TL_ENOTFOUND;
		goto cleanup;
	}
	snprintf(out->id, sizeof(out->id), "%s", db_col_text(st, 0));
	snprintf(out->debit, sizeof(out->debit), "%s", db_col_text(st, 1));
	snprintf(out->credit, sizeof(out->credit), "%s", db_col_text(st, 2));
	out->amount_fen = db_col_int64(st, 3);
	aw = db_col_text(st, 4);
	snprintf(out->award_id, sizeof(out->award_id), "%s", aw ? aw : "");
	if (!kind_parse(db_col_text(st, 5), &out->kind))
		e = TL_EDB;
	if (db_col_text(st, 6)) {
		out->has_share = true;
		out->share_idx = (int)db_col_int64(st, 6);
	}
cleanup:
	db_finalize(st);
	return e;
}

enum tl_err
ledger_post_in_tx(struct db *db, const struct ledger_transfer *t, int64_t now_ms,
                  enum ledger_outcome *out)
{
	struct ledger_transfer old;
	struct db_stmt *st = NULL;
	int64_t dr, cr;
	enum tl_err e;

	if ((e = validate(t)) != TL_OK)
		return e;
	e = ledger_get(db, t->id, &old);
	if (e == TL_OK) {
		/* A retry after an unknown outcome (crash before the ack) is the
		 * normal case: answer "already done", never post twice. */
		if (strcmp(old.debit, t->debit) == 0 && strcmp(old.credit, t->credit) == 0 &&
		    old.amount_fen == t->amount_fen && strcmp(old.award_id, t->award_id) == 0 &&
		    old.kind == t->kind && old.has_share == t->has_share &&
		    (!old.has_share || old.share_idx == t->share_idx)) {
			*out = LEDGER_EXISTS;
			return TL_OK;
		}
		log_warn("ledger: transfer %s exists with different fields", t->id);
		return TL_EEXIST;
	}
	if (e != TL_ENOTFOUND)
		return e;
	/* Overdraft is refused by the accounts CHECK too; asking first gives
	 * the caller a clean TL_EDENIED instead of a constraint error. */
	if ((e = ledger_balance(db, t->credit, &dr, &cr)) != TL_OK)
		return e == TL_ENOTFOUND ? TL_EINVAL : e;
	if ((e = ledger_balance(db, t->debit, &dr, &cr)) != TL_OK)
		return e == TL_ENOTFOUND ? TL_EINVAL : e;
	if (t->kind != LEDGER_FUND && cr - dr < t->amount_fen)
		return TL_EDENIED;
	if ((e = db_prepare(db, "INSERT INTO transfers (id, debit, credit, amount_fen, award_id, kind, at,"
	                        " share_idx) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8);", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, t->id)) != TL_OK || (e = db_bind_text(st, 2, t->debit)) != TL_OK ||
	    (e = db_bind_text(st, 3, t->credit)) != TL_OK ||
	    (e = db_bind_int64(st, 4, t->amount_fen)) != TL_OK ||
	    (e = db_bind_text(st, 5, t->award_id[0] ? t->award_id : NULL)) != TL_OK ||
	    (e = db_bind_text(st, 6, ledger_kind_name(t->kind))) != TL_OK ||
	    (e = db_bind_int64(st, 7, now_ms)) != TL_OK ||
	    (e = t->has_share ? db_bind_int64(st, 8, t->share_idx) : db_bind_null(st, 8)) != TL_OK ||
	    (e = db_step(st, NULL)) != TL_OK)
		goto cleanup;
	*out = LEDGER_CREATED;
cleanup:
	db_finalize(st);
	return e;
}

enum tl_err
ledger_post(struct db *db, const struct ledger_transfer *t, int64_t now_ms, enum ledger_outcome *out)
{
	enum tl_err e;

	if ((e = db_begin(db)) != TL_OK)
		return e;
	if ((e = ledger_post_in_tx(db, t, now_ms, out)) == TL_OK)
		e = db_commit(db);
	if (e != TL_OK)
		db_rollback(db);
	return e;
}

/* ---- check ---- */

struct probe {
	const char *sql; /* returns the first offending row: (text name, int a, int b) */
	const char *what;
};

/* Each probe is a query for the first counter-example; an empty result
 * means the invariant holds.  Ordered by name so "first" is stable. */
static const struct probe probes[] = {
	{ "SELECT a.name, a.debits_fen, (SELECT coalesce(sum(amount_fen), 0) FROM transfers"
	  " WHERE debit = a.name) AS s FROM accounts a WHERE a.debits_fen <> s ORDER BY a.name LIMIT 1;",
	  "account %s: posted debits %lld fen but its transfers debit %lld fen" },
	{ "SELECT a.name, a.credits_fen, (SELECT coalesce(sum(amount_fen), 0) FROM transfers"
	  " WHERE credit = a.name) AS s FROM accounts a WHERE a.credits_fen <> s ORDER BY a.name LIMIT 1;",
	  "account %s: posted credits %lld fen but its transfers credit %lld fen" },
	{ "SELECT 'all accounts', d, c FROM (SELECT coalesce(sum(debits_fen), 0) AS d,"
	  " coalesce(sum(credits_fen), 0) AS c FROM accounts) WHERE d <> c;",
	  "%s: debits %lld fen != credits %lld fen" },
	{ "SELECT name, debits_fen, credits_fen FROM accounts WHERE kind <> 'funding'"
	  " AND debits_fen > credits_fen ORDER BY name LIMIT 1;",
	  "account %s is overdrawn: debits %lld fen > credits %lld fen" },
	{ "SELECT t.id, t.amount_fen, 0 FROM transfers t LEFT JOIN awards w ON w.award_id = t.award_id"
	  " WHERE t.kind <> 'fund' AND w.award_id IS NULL ORDER BY t.seq LIMIT 1;",
	  "transfer %s (%lld fen) names an award that does not exist (%lld)" },
	{ "SELECT t.id, t.amount_fen, coalesce(t.share_idx, -1) FROM transfers t"
	  " WHERE (t.kind IN ('pay','forfeit') AND NOT EXISTS (SELECT 1 FROM shares s"
	  " WHERE s.award_id = t.award_id AND s.idx = t.share_idx))"
	  " OR (t.kind NOT IN ('pay','forfeit') AND t.share_idx IS NOT NULL) ORDER BY t.seq LIMIT 1;",
	  "transfer %s (%lld fen) names share %lld (-1: none): a pay or forfeit settles one "
	  "existing share of its award, other kinds name none" },
	{ "SELECT w.award_id, w.total_fen, coalesce((SELECT sum(fen) FROM shares s"
	  " WHERE s.award_id = w.award_id), 0) AS s FROM awards w WHERE s <> w.total_fen"
	  " ORDER BY w.award_id LIMIT 1;",
	  "award %s: total %lld fen but its shares sum to %lld fen" },
	{ "SELECT w.award_id, (SELECT count(*) FROM transfers t WHERE t.award_id = w.award_id"
	  " AND t.kind = 'reserve') AS n, (SELECT coalesce(sum(amount_fen), 0) FROM transfers t"
	  " WHERE t.award_id = w.award_id AND t.kind = 'reserve') AS s FROM awards w"
	  " WHERE (w.status IN ('proposed','rejected') AND n <> 0) OR"
	  " (w.status NOT IN ('proposed','rejected') AND (n <> 1 OR s <> w.total_fen))"
	  " ORDER BY w.award_id LIMIT 1;",
	  "award %s: %lld reserve transfers (%lld fen) do not match its status and total" },
	/* Before the per-share probes: taking out more than was reserved is
	 * the worse finding (someone else's money left payable). */
	{ "SELECT w.award_id, (SELECT coalesce(sum(amount_fen), 0) FROM transfers t"
	  " WHERE t.award_id = w.award_id AND t.kind IN ('pay','forfeit','return')) AS o,"
	  " (SELECT coalesce(sum(amount_fen), 0) FROM transfers t WHERE t.award_id = w.award_id"
	  " AND t.kind = 'reserve') AS r FROM awards w WHERE o > r ORDER BY w.award_id LIMIT 1;",
	  "award %s: %lld fen paid, forfeited or returned exceed its reservation of %lld fen" },
	{ "SELECT s.award_id || ' share ' || s.idx || ' (' || s.state || ', ' || s.fen || ' fen)',"
	  " (SELECT count(*) FROM transfers t WHERE t.award_id = s.award_id AND t.share_idx = s.idx"
	  " AND t.kind = 'pay') AS n, (SELECT coalesce(sum(amount_fen), 0) FROM transfers t"
	  " WHERE t.award_id = s.award_id AND t.share_idx = s.idx AND t.kind = 'pay') AS m"
	  " FROM shares s WHERE (s.state = 'paid' AND (n <> 1 OR m <> s.fen))"
	  " OR (s.state <> 'paid' AND n <> 0) ORDER BY s.award_id, s.idx LIMIT 1;",
	  "award %s: %lld pay transfers (%lld fen); a paid share has exactly one of its fen, "
	  "any other share none" },
	{ "SELECT s.award_id || ' share ' || s.idx || ' (' || s.state || ', ' || s.fen || ' fen)',"
	  " (SELECT count(*) FROM transfers t WHERE t.award_id = s.award_id AND t.share_idx = s.idx"
	  " AND t.kind = 'forfeit') AS n, (SELECT coalesce(sum(amount_fen), 0) FROM transfers t"
	  " WHERE t.award_id = s.award_id AND t.share_idx = s.idx AND t.kind = 'forfeit') AS m"
	  " FROM shares s WHERE (s.state = 'forfeited' AND (n <> 1 OR m <> s.fen))"
	  " OR (s.state <> 'forfeited' AND n <> 0) ORDER BY s.award_id, s.idx LIMIT 1;",
	  "award %s: %lld forfeit transfers (%lld fen); a forfeited share has exactly one of its "
	  "fen, any other share none" },
	{ "SELECT w.award_id || ' (' || w.status || ')',"
	  " (SELECT count(*) FROM shares s WHERE s.award_id = w.award_id AND s.state = 'open') AS o,"
	  " (SELECT count(*) FROM shares s WHERE s.award_id = w.award_id AND s.state = 'paid') AS pd,"
	  " (SELECT count(*) FROM shares s WHERE s.award_id = w.award_id) AS n FROM awards w"
	  " WHERE (w.status = 'paid' AND (o <> 0 OR pd = 0))"
	  " OR (w.status = 'forfeited' AND (o <> 0 OR pd <> 0))"
	  " OR (w.status IN ('proposed','rejected','void') AND o <> n)"
	  " ORDER BY w.award_id LIMIT 1;",
	  "award %s: %lld open and %lld paid shares do not match its status" },
	{ "SELECT w.award_id, (SELECT count(*) FROM transfers t WHERE t.award_id = w.award_id"
	  " AND t.kind = 'return') AS n, (SELECT coalesce(sum(amount_fen), 0) FROM"
	  " transfers t WHERE t.award_id = w.award_id AND t.kind = 'return') AS s"
	  " FROM awards w WHERE (w.status = 'void' AND (n <> 1 OR s <> w.total_fen))"
	  " OR (w.status <> 'void' AND n <> 0) ORDER BY w.award_id LIMIT 1;",
	  "award %s: %lld return transfers (%lld fen); a void award has exactly one of its total, "
	  "any other award none" },
};

enum tl_err
ledger_check(struct db *db, char *why, size_t whylen)
{
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e = TL_OK;

	if (why && whylen)
		why[0] = '\0';
	for (size_t i = 0; i < TL_ARRAY_LEN(probes) && e == TL_OK; i++) {
		if ((e = db_prepare(db, probes[i].sql, &st)) != TL_OK ||
		    (e = db_step(st, &row)) != TL_OK)
			goto cleanup;
		if (row) {
			const char *name = db_col_text(st, 0);

			if (why && whylen) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
				snprintf(why, whylen, probes[i].what, name ? name : "?",
				         (long long)db_col_int64(st, 1), (long long)db_col_int64(st, 2));
#pragma GCC diagnostic pop
			}
			e = TL_ECONFLICT;
		}
		db_finalize(st);
		st = NULL;
	}
cleanup:
	db_finalize(st);
	return e;
}
