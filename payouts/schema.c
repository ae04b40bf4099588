#include "compat.h"
#include "payouts.h"

/* Schema of the payouts database.  Append steps; never edit a released
 * one.  SQLCipher 3.4.1 is SQLite 3.15: no UPSERT, RETURNING or STRICT,
 * but CHECK, partial indexes and RAISE(ABORT) triggers work.
 * 50000000 is MONEY_HARD_CAP_FEN (500,000 yuan). */
static const struct db_migration payouts_steps[] = {
	{ "staff keys, awards, shares, approvals, ledger",
	  /* Approvers' Ed25519 public keys; the secret keys never come here. */
	  "CREATE TABLE staff ("
	  " staff_id TEXT PRIMARY KEY CHECK (length(staff_id) BETWEEN 1 AND 64),"
	  " level TEXT NOT NULL CHECK (level IN ('district','city')),"
	  " pk TEXT NOT NULL CHECK (length(pk) = 64),"
	  " created_at INTEGER NOT NULL);"
	  "CREATE TRIGGER staff_no_delete BEFORE DELETE ON staff"
	  " BEGIN SELECT RAISE(ABORT, 'staff keys are never deleted'); END;"
	  /* A swapped public key would let a forged signature verify. */
	  "CREATE TRIGGER staff_fixed BEFORE UPDATE ON staff"
	  " BEGIN SELECT RAISE(ABORT, 'staff keys are immutable; register a new staff id'); END;"

	  /* Ledger accounts with TigerBeetle-style posted totals.  Every
	   * account except a funding source must keep credits >= debits. */
	  "CREATE TABLE accounts ("
	  " name TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),"
	  " kind TEXT NOT NULL CHECK (kind IN ('funding','budget','payable','paid')),"
	  " debits_fen INTEGER NOT NULL DEFAULT 0 CHECK (debits_fen >= 0),"
	  " credits_fen INTEGER NOT NULL DEFAULT 0 CHECK (credits_fen >= 0),"
	  " CHECK (kind = 'funding' OR credits_fen >= debits_fen));"
	  "CREATE TRIGGER accounts_no_delete BEFORE DELETE ON accounts"
	  " BEGIN SELECT RAISE(ABORT, 'accounts are never deleted'); END;"
	  "CREATE TRIGGER accounts_fixed BEFORE UPDATE OF name, kind ON accounts"
	  " BEGIN SELECT RAISE(ABORT, 'account name and kind are immutable'); END;"

	  "CREATE TABLE transfers ("
	  " seq INTEGER PRIMARY KEY,"
	  " id TEXT NOT NULL UNIQUE CHECK (length(id) = 32),"
	  " debit TEXT NOT NULL REFERENCES accounts (name),"
	  " credit TEXT NOT NULL REFERENCES accounts (name),"
	  " amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),"
	  " award_id TEXT CHECK (award_id IS NULL OR length(award_id) = 32),"
	  " kind TEXT NOT NULL CHECK (kind IN ('fund','reserve','pay','return','forfeit','void')),"
	  " at INTEGER NOT NULL,"
	  " CHECK (debit <> credit),"
	  " CHECK (kind = 'fund' OR (award_id IS NOT NULL AND amount_fen <= 50000000)));"
	  "CREATE INDEX transfers_award ON transfers (award_id, kind);"
	  "CREATE INDEX transfers_debit ON transfers (debit);"
	  "CREATE INDEX transfers_credit ON transfers (credit);"
	  "CREATE TRIGGER transfers_no_update BEFORE UPDATE ON transfers"
	  " BEGIN SELECT RAISE(ABORT, 'transfers are immutable; post a correcting transfer'); END;"
	  "CREATE TRIGGER transfers_no_delete BEFORE DELETE ON transfers"
	  " BEGIN SELECT RAISE(ABORT, 'transfers are never deleted'); END;"
	  /* Posting is one statement: the totals move with the row, in the
	   * same transaction, and the accounts CHECK refuses an overdraft. */
	  "CREATE TRIGGER transfers_post AFTER INSERT ON transfers BEGIN"
	  " UPDATE accounts SET debits_fen = debits_fen + NEW.amount_fen WHERE name = NEW.debit;"
	  " UPDATE accounts SET credits_fen = credits_fen + NEW.amount_fen WHERE name = NEW.credit;"
	  " END;"

	  "CREATE TABLE awards ("
	  " award_id TEXT PRIMARY KEY CHECK (length(award_id) = 32),"
	  " version INTEGER NOT NULL CHECK (version >= 1),"
	  " case_id TEXT NOT NULL CHECK (length(case_id) = 32),"
	  " district TEXT NOT NULL CHECK (length(district) = 6),"
	  " budget_year INTEGER NOT NULL CHECK (budget_year BETWEEN 2000 AND 2999),"
	  " total_fen INTEGER NOT NULL CHECK (total_fen > 0 AND total_fen <= 50000000),"
	  " computed_fen INTEGER NOT NULL CHECK (computed_fen >= 0 AND computed_fen <= 50000000),"
	  " payee_ref TEXT NOT NULL CHECK (length(payee_ref) BETWEEN 1 AND 64),"
	  " proposer TEXT NOT NULL CHECK (length(proposer) BETWEEN 1 AND 64),"
	  " reason TEXT NOT NULL,"
	  " required_approvals INTEGER NOT NULL CHECK (required_approvals IN (1, 2)),"
	  " need_city INTEGER NOT NULL CHECK (need_city IN (0, 1)),"
	  " status TEXT NOT NULL CHECK (status IN"
	  "  ('proposed','approved','rejected','paid','forfeited','void')),"
	  " created_at INTEGER NOT NULL,"
	  " decided_at INTEGER,"
	  " CHECK (required_approvals = 2 OR need_city = 0));"
	  /* One live award per case: a rejected or voided proposal may be
	   * followed by a new version, nothing else. */
	  "CREATE UNIQUE INDEX awards_one_per_case ON awards (case_id)"
	  " WHERE status NOT IN ('rejected','void');"
	  "CREATE TRIGGER awards_born_proposed BEFORE INSERT ON awards WHEN NEW.status <> 'proposed'"
	  " BEGIN SELECT RAISE(ABORT, 'an award starts as proposed'); END;"
	  "CREATE TRIGGER awards_immutable BEFORE UPDATE OF award_id, version, case_id, district,"
	  " budget_year, total_fen, computed_fen, payee_ref, proposer, reason, required_approvals,"
	  " need_city, created_at ON awards"
	  " BEGIN SELECT RAISE(ABORT, 'an award is immutable after proposal'); END;"
	  "CREATE TRIGGER awards_transition BEFORE UPDATE OF status ON awards WHEN NOT ("
	  " (OLD.status = 'proposed' AND NEW.status IN ('approved','rejected')) OR"
	  " (OLD.status = 'approved' AND NEW.status IN ('paid','forfeited','void')))"
	  " BEGIN SELECT RAISE(ABORT, 'illegal award status transition'); END;"
	  "CREATE TRIGGER awards_approvals BEFORE UPDATE OF status ON awards"
	  " WHEN NEW.status = 'approved' AND ("
	  "  (SELECT count(*) FROM approvals WHERE award_id = NEW.award_id AND decision = 'approve')"
	  "   < NEW.required_approvals OR"
	  "  (NEW.need_city = 1 AND NOT EXISTS (SELECT 1 FROM approvals a JOIN staff s"
	  "   ON s.staff_id = a.approver WHERE a.award_id = NEW.award_id"
	  "   AND a.decision = 'approve' AND s.level = 'city')))"
	  " BEGIN SELECT RAISE(ABORT, 'not enough approvals'); END;"
	  "CREATE TRIGGER awards_paid_once BEFORE UPDATE OF status ON awards"
	  " WHEN NEW.status = 'paid' AND (SELECT count(*) FROM transfers"
	  "  WHERE award_id = NEW.award_id AND kind = 'pay') <> 1"
	  " BEGIN SELECT RAISE(ABORT, 'paid needs exactly one payment transfer'); END;"
	  "CREATE TRIGGER awards_no_delete BEFORE DELETE ON awards"
	  " BEGIN SELECT RAISE(ABORT, 'awards are never deleted'); END;"

	  "CREATE TABLE shares ("
	  " award_id TEXT NOT NULL REFERENCES awards (award_id),"
	  " idx INTEGER NOT NULL CHECK (idx BETWEEN 0 AND 63),"
	  " report_id TEXT NOT NULL CHECK (length(report_id) = 32),"
	  " fen INTEGER NOT NULL CHECK (fen > 0 AND fen <= 50000000),"
	  " kind TEXT NOT NULL CHECK (kind IN ('first','simultaneous','discretionary')),"
	  " PRIMARY KEY (award_id, idx),"
	  " UNIQUE (award_id, report_id)) WITHOUT ROWID;"
	  "CREATE TRIGGER shares_only_while_new BEFORE INSERT ON shares WHEN"
	  " (SELECT status FROM awards WHERE award_id = NEW.award_id) IS NOT 'proposed' OR"
	  " EXISTS (SELECT 1 FROM approvals WHERE award_id = NEW.award_id)"
	  " BEGIN SELECT RAISE(ABORT, 'shares are fixed once an award is proposed'); END;"
	  "CREATE TRIGGER shares_no_update BEFORE UPDATE ON shares"
	  " BEGIN SELECT RAISE(ABORT, 'shares are immutable'); END;"
	  "CREATE TRIGGER shares_no_delete BEFORE DELETE ON shares"
	  " BEGIN SELECT RAISE(ABORT, 'shares are never deleted'); END;"

	  "CREATE TABLE approvals ("
	  " award_id TEXT NOT NULL REFERENCES awards (award_id),"
	  " approver TEXT NOT NULL REFERENCES staff (staff_id),"
	  " decision TEXT NOT NULL CHECK (decision IN ('approve','reject')),"
	  " sig TEXT NOT NULL CHECK (length(sig) = 128),"
	  " reason TEXT,"
	  " at INTEGER NOT NULL,"
	  " PRIMARY KEY (award_id, approver)) WITHOUT ROWID;"
	  "CREATE TRIGGER approvals_not_maker BEFORE INSERT ON approvals WHEN NEW.approver ="
	  " (SELECT proposer FROM awards WHERE award_id = NEW.award_id)"
	  " BEGIN SELECT RAISE(ABORT, 'maker cannot approve own award'); END;"
	  "CREATE TRIGGER approvals_only_proposed BEFORE INSERT ON approvals WHEN"
	  " (SELECT status FROM awards WHERE award_id = NEW.award_id) IS NOT 'proposed'"
	  " BEGIN SELECT RAISE(ABORT, 'award is not awaiting approval'); END;"
	  "CREATE TRIGGER approvals_no_update BEFORE UPDATE ON approvals"
	  " BEGIN SELECT RAISE(ABORT, 'approvals are immutable'); END;"
	  "CREATE TRIGGER approvals_no_delete BEFORE DELETE ON approvals"
	  " BEGIN SELECT RAISE(ABORT, 'approvals are never deleted'); END;" },

	{ "per-share settlement",
	  /* Each reporter claims on their own, so each share is settled on its
	   * own: paid (one pay transfer of its fen) or forfeited (one forfeit
	   * transfer of its fen, back to the budget). */
	  "ALTER TABLE shares ADD COLUMN state TEXT NOT NULL DEFAULT 'open'"
	  " CHECK (state IN ('open','paid','forfeited'));"
	  "ALTER TABLE shares ADD COLUMN settled_at INTEGER;"
	  "ALTER TABLE transfers ADD COLUMN share_idx INTEGER"
	  " CHECK (share_idx IS NULL OR share_idx BETWEEN 0 AND 63);"
	  /* A share is settled at most once, whatever the C code does. */
	  "CREATE UNIQUE INDEX transfers_one_per_share ON transfers (award_id, share_idx)"
	  " WHERE share_idx IS NOT NULL;"

	  /* Step 1 froze every column of a share; now only the settlement
	   * columns may move, and only open -> paid | forfeited. */
	  "DROP TRIGGER shares_no_update;"
	  "CREATE TRIGGER shares_immutable BEFORE UPDATE OF award_id, idx, report_id, fen, kind"
	  " ON shares BEGIN SELECT RAISE(ABORT, 'shares are immutable'); END;"
	  "CREATE TRIGGER shares_settle_once BEFORE UPDATE OF state, settled_at ON shares"
	  " WHEN NOT (OLD.state = 'open' AND NEW.state IN ('paid','forfeited')"
	  "  AND NEW.settled_at IS NOT NULL)"
	  " BEGIN SELECT RAISE(ABORT, 'a share is settled once: open -> paid or forfeited'); END;"
	  "CREATE TRIGGER shares_settle_approved BEFORE UPDATE OF state ON shares WHEN"
	  " (SELECT status FROM awards WHERE award_id = NEW.award_id) IS NOT 'approved'"
	  " BEGIN SELECT RAISE(ABORT, 'only a share of an approved award is settled'); END;"
	  "CREATE TRIGGER shares_paid_transfer BEFORE UPDATE OF state ON shares"
	  " WHEN NEW.state = 'paid' AND (SELECT count(*) FROM transfers WHERE award_id = NEW.award_id"
	  "  AND share_idx = NEW.idx AND kind = 'pay' AND amount_fen = NEW.fen) <> 1"
	  " BEGIN SELECT RAISE(ABORT, 'a paid share needs exactly one pay transfer of its fen'); END;"
	  "CREATE TRIGGER shares_forfeit_transfer BEFORE UPDATE OF state ON shares"
	  " WHEN NEW.state = 'forfeited' AND (SELECT count(*) FROM transfers"
	  "  WHERE award_id = NEW.award_id AND share_idx = NEW.idx AND kind = 'forfeit'"
	  "  AND amount_fen = NEW.fen) <> 1"
	  " BEGIN SELECT RAISE(ABORT, 'a forfeited share needs exactly one forfeit transfer of its fen');"
	  " END;"

	  /* Settlement transfers: pay and forfeit name one open share of an
	   * approved award and move exactly its fen; other kinds name none. */
	  "CREATE TRIGGER transfers_share_kind BEFORE INSERT ON transfers"
	  " WHEN (NEW.kind IN ('pay','forfeit')) <> (NEW.share_idx IS NOT NULL)"
	  " BEGIN SELECT RAISE(ABORT, 'pay and forfeit settle one share, other kinds name none'); END;"
	  "CREATE TRIGGER transfers_share_amount BEFORE INSERT ON transfers"
	  " WHEN NEW.share_idx IS NOT NULL AND (SELECT fen FROM shares WHERE award_id = NEW.award_id"
	  "  AND idx = NEW.share_idx) IS NOT NEW.amount_fen"
	  " BEGIN SELECT RAISE(ABORT, 'a settlement moves exactly its share'); END;"
	  "CREATE TRIGGER transfers_share_open BEFORE INSERT ON transfers"
	  " WHEN NEW.share_idx IS NOT NULL AND ((SELECT state FROM shares WHERE award_id = NEW.award_id"
	  "  AND idx = NEW.share_idx) IS NOT 'open' OR"
	  "  (SELECT status FROM awards WHERE award_id = NEW.award_id) IS NOT 'approved')"
	  " BEGIN SELECT RAISE(ABORT, 'only an open share of an approved award is settled'); END;"
	  /* The whole award goes back only while nobody has been paid or
	   * forfeited: a settled share is never returned twice over. */
	  "CREATE TRIGGER transfers_return_unsettled BEFORE INSERT ON transfers"
	  " WHEN NEW.kind = 'return' AND ((SELECT status FROM awards WHERE award_id = NEW.award_id)"
	  "  IS NOT 'approved' OR EXISTS (SELECT 1 FROM shares WHERE award_id = NEW.award_id"
	  "  AND state <> 'open'))"
	  " BEGIN SELECT RAISE(ABORT, 'only an approved award with no settled share is returned'); END;"

	  /* The award's status follows its shares. */
	  "DROP TRIGGER awards_paid_once;"
	  "CREATE TRIGGER awards_paid_settled BEFORE UPDATE OF status ON awards"
	  " WHEN NEW.status = 'paid' AND (EXISTS (SELECT 1 FROM shares WHERE award_id = NEW.award_id"
	  "  AND state = 'open') OR NOT EXISTS (SELECT 1 FROM shares WHERE award_id = NEW.award_id"
	  "  AND state = 'paid'))"
	  " BEGIN SELECT RAISE(ABORT, 'paid needs every share settled and at least one paid'); END;"
	  "CREATE TRIGGER awards_forfeited_settled BEFORE UPDATE OF status ON awards"
	  " WHEN NEW.status = 'forfeited' AND EXISTS (SELECT 1 FROM shares"
	  "  WHERE award_id = NEW.award_id AND state <> 'forfeited')"
	  " BEGIN SELECT RAISE(ABORT, 'forfeited needs every share forfeited'); END;"
	  "CREATE TRIGGER awards_void_returned BEFORE UPDATE OF status ON awards"
	  " WHEN NEW.status = 'void' AND (EXISTS (SELECT 1 FROM shares WHERE award_id = NEW.award_id"
	  "  AND state <> 'open') OR (SELECT count(*) FROM transfers WHERE award_id = NEW.award_id"
	  "  AND kind = 'return' AND amount_fen = (SELECT amount_fen FROM transfers"
	  "  WHERE award_id = NEW.award_id AND kind = 'reserve')) <> 1)"
	  " BEGIN SELECT RAISE(ABORT, 'void needs no settled share and one return of the reservation'); END;" },
};

enum tl_err
payouts_migrate(struct db *db)
{
	return db_migrate(db, "payouts", payouts_steps, TL_ARRAY_LEN(payouts_steps), NULL);
}

enum tl_err
payouts_open(struct db *db, const struct award_rules *rules, struct payouts **out)
{
	struct payouts *p;
	enum tl_err e;

	*out = NULL;
	if (rules->cap_fen <= 0 || rules->cap_fen > MONEY_HARD_CAP_FEN)
		return TL_ECONFIG;
	if ((e = payouts_migrate(db)) != TL_OK)
		return e;
	if (!(p = calloc(1, sizeof(*p))))
		return TL_ENOMEM;
	p->db = db;
	p->rules = *rules;
	*out = p;
	return TL_OK;
}

void
payouts_close(struct payouts *p)
{
	free(p);
}
