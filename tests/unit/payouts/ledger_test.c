/*
 * ledger_test.c - the double-entry ledger: idempotent transfers, overdraft,
 * ledger_check naming the first inconsistency (also for planted transfers),
 * and a kill -9 harness (notes/storage-crypto-http.md §4.3) over real
 * per-share payments and forfeits.
 */
#include "compat.h"
#include "approval.h"
#include "award.h"
#include "db.h"
#include "ids.h"
#include "ledger.h"
#include "log.h"
#include "num.h"
#include "payouts.h"
#include "timefmt.h"

#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DISTRICT "120118"
#define YEAR 2026

struct fx {
	char dir[64], path[128];
	unsigned char dbkey[DB_KEY_LEN];
	struct award_rules rules;
	struct db *db;
	struct payouts *p;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
};

static void
fx_open(struct fx *f)
{
	assert_int_equal(db_open(f->path, f->dbkey, DB_CREATE, &f->db), TL_OK);
	assert_int_equal(payouts_open(f->db, &f->rules, &f->p), TL_OK);
}

static void
fx_close(struct fx *f)
{
	payouts_close(f->p);
	db_close(f->db);
	f->p = NULL;
	f->db = NULL;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tl_ledger_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/payouts.db", f->dir);
	randombytes_buf(f->dbkey, sizeof(f->dbkey));
	award_rules_default(&f->rules);
	crypto_sign_keypair(f->pk, f->sk);
	fx_open(f);
	assert_int_equal(payouts_staff_register(f->p, "fin.wang", STAFF_DISTRICT, f->pk, 1), TL_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[160];
	const char *sfx[] = { "", "-wal", "-shm" };

	fx_close(f);
	for (size_t i = 0; i < TL_ARRAY_LEN(sfx); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
fund(struct fx *f, int64_t amount)
{
	char id[ID_HEX_LEN + 1];
	enum ledger_outcome out;

	id_new(id);
	assert_int_equal(payouts_fund_budget(f->p, DISTRICT, YEAR, amount, id, 1, &out), TL_OK);
	assert_int_equal(out, LEDGER_CREATED);
}

/* Proposes award number i (below the dual threshold), split equally over
 * n reporters, and approves it. */
static void
approved_award(struct fx *f, unsigned i, int64_t amount, size_t n, char award_id[AWARD_ID_LEN + 1])
{
	struct award_proposal a = { 0 };
	struct award_report rep[4];
	struct award_record r;
	unsigned char sig[APPROVAL_SIG_LEN];
	enum award_status st;
	char why[256];

	assert_true(n >= 1 && n <= TL_ARRAY_LEN(rep));
	snprintf(a.award_id, sizeof(a.award_id), "a%031x", i);
	snprintf(a.case_id, sizeof(a.case_id), "c%031x", i);
	snprintf(a.district, sizeof(a.district), DISTRICT);
	a.budget_year = YEAR;
	a.computed_fen = a.total_fen = amount;
	for (size_t k = 0; k < n; k++) {
		snprintf(rep[k].report_id, sizeof(rep[k].report_id), "e%015x%016zx", i, k);
		rep[k].received_ms = (int64_t)k;
	}
	assert_int_equal(award_split(amount, rep, n, a.shares), TL_OK);
	a.n_shares = n;
	snprintf(a.payee_ref, sizeof(a.payee_ref), "payee:%u", i);
	snprintf(a.proposer, sizeof(a.proposer), "fin.li");
	assert_int_equal(award_propose(f->p, &a, 2, why, sizeof(why)), TL_OK);
	assert_int_equal(award_load(f->p, a.award_id, &r), TL_OK);
	assert_int_equal(approval_sign(&r, APPROVAL_APPROVE, f->sk, sig), TL_OK);
	assert_int_equal(approval_decide(f->p, a.award_id, "fin.wang", APPROVAL_APPROVE, sig, NULL, 3,
	                                 &st, why, sizeof(why)),
	                 TL_OK);
	assert_int_equal(st, AWARD_APPROVED);
	snprintf(award_id, AWARD_ID_LEN + 1, "%s", a.award_id);
}

static void
confirm(struct fx *f, const char *award_id, int idx)
{
	char tid[ID_HEX_LEN + 1], why[256];
	enum ledger_outcome out;

	id_new(tid);
	if (payouts_confirm_share(f->p, award_id, idx, tid, 4, &out, why, sizeof(why)) != TL_OK)
		fail_msg("confirm %s share %d: %s", award_id, idx, why);
}

static void
check_ok(struct fx *f)
{
	char why[256];
	enum tl_err e = ledger_check(f->db, why, sizeof(why));

	if (e != TL_OK)
		fail_msg("ledger_check: %s (%s)", tl_strerror(e), why);
}

static void
test_idempotent_transfer(void **state)
{
	struct fx *f = *state;
	struct ledger_transfer t = { .kind = LEDGER_PAY, .has_share = true, .share_idx = 0 }, got;
	char aw[AWARD_ID_LEN + 1];
	enum ledger_outcome out;
	int64_t dr, cr;

	fund(f, 1000000);
	approved_award(f, 1, 300000, 1, aw);
	/* Post the payment directly through the ledger, twice. */
	id_new(t.id);
	assert_int_equal(ledger_account_name(LEDGER_ACC_PAYABLE, DISTRICT, 0, t.debit), TL_OK);
	assert_int_equal(ledger_account_name(LEDGER_ACC_PAID, DISTRICT, 0, t.credit), TL_OK);
	t.amount_fen = 300000;
	snprintf(t.award_id, sizeof(t.award_id), "%s", aw);
	assert_int_equal(ledger_post(f->db, &t, 5, &out), TL_OK);
	assert_int_equal(out, LEDGER_CREATED);
	assert_int_equal(ledger_post(f->db, &t, 6, &out), TL_OK);
	assert_int_equal(out, LEDGER_EXISTS);
	assert_int_equal(ledger_get(f->db, t.id, &got), TL_OK);
	assert_int_equal(got.amount_fen, 300000);
	assert_int_equal(ledger_balance(f->db, t.credit, &dr, &cr), TL_OK);
	assert_int_equal(cr, 300000); /* one entry, not two */
	/* Same id, one fen more: exists with different fields. */
	t.amount_fen = 300001;
	assert_int_equal(ledger_post(f->db, &t, 7, &out), TL_EEXIST);
	t.amount_fen = 300000;
	snprintf(t.credit, sizeof(t.credit), "budget:%s:%d", DISTRICT, YEAR);
	assert_int_equal(ledger_post(f->db, &t, 7, &out), TL_EEXIST);
	snprintf(t.credit, sizeof(t.credit), "paid:%s", DISTRICT);
	t.share_idx = 1;
	assert_int_equal(ledger_post(f->db, &t, 7, &out), TL_EEXIST);
	assert_int_equal(ledger_balance(f->db, "paid:" DISTRICT, &dr, &cr), TL_OK);
	assert_int_equal(cr, 300000);
	/* The share still says open while a pay transfer for it exists:
	 * ledger_check names exactly that share. */
	{
		char why[256];
		assert_int_equal(ledger_check(f->db, why, sizeof(why)), TL_ECONFLICT);
		assert_non_null(strstr(why, aw));
		assert_non_null(strstr(why, "share 0 (open"));
		assert_non_null(strstr(why, "1 pay transfers"));
	}
}

static void
test_transfer_validation(void **state)
{
	struct fx *f = *state;
	struct ledger_transfer t = { .kind = LEDGER_RESERVE };
	char aw[AWARD_ID_LEN + 1];
	enum ledger_outcome out;

	fund(f, 200000);
	approved_award(f, 2, 200000, 1, aw); /* budget now 0 */
	id_new(t.id);
	snprintf(t.debit, sizeof(t.debit), "budget:%s:%d", DISTRICT, YEAR);
	snprintf(t.credit, sizeof(t.credit), "payable:%s", DISTRICT);
	snprintf(t.award_id, sizeof(t.award_id), "%s", aw);
	t.amount_fen = 1;
	/* Overdraft of a budget: refused, nothing written. */
	assert_int_equal(ledger_post(f->db, &t, 1, &out), TL_EDENIED);
	assert_int_equal(ledger_get(f->db, t.id, &(struct ledger_transfer){ 0 }), TL_ENOTFOUND);
	t.amount_fen = 0;
	assert_int_equal(ledger_post(f->db, &t, 1, &out), TL_EINVAL);
	t.amount_fen = -5;
	assert_int_equal(ledger_post(f->db, &t, 1, &out), TL_EINVAL);
	t.amount_fen = MONEY_HARD_CAP_FEN + 1;
	assert_int_equal(ledger_post(f->db, &t, 1, &out), TL_EINVAL);
	t.amount_fen = 1;
	snprintf(t.credit, sizeof(t.credit), "%s", t.debit);
	assert_int_equal(ledger_post(f->db, &t, 1, &out), TL_EINVAL);
	snprintf(t.credit, sizeof(t.credit), "payable:999999");
	assert_int_equal(ledger_post(f->db, &t, 1, &out), TL_EINVAL);
	snprintf(t.id, sizeof(t.id), "not-hex");
	assert_int_equal(ledger_post(f->db, &t, 1, &out), TL_EINVAL);
	/* A pay or forfeit settles one share; other kinds name none. */
	id_new(t.id);
	snprintf(t.credit, sizeof(t.credit), "payable:%s", DISTRICT);
	t.has_share = true;
	assert_int_equal(ledger_post(f->db, &t, 1, &out), TL_EINVAL);
	t.kind = LEDGER_PAY;
	t.has_share = false;
	snprintf(t.debit, sizeof(t.debit), "payable:%s", DISTRICT);
	snprintf(t.credit, sizeof(t.credit), "paid:%s", DISTRICT);
	assert_int_equal(ledger_post(f->db, &t, 1, &out), TL_EINVAL);
	t.has_share = true;
	t.share_idx = LEDGER_SHARES_MAX;
	assert_int_equal(ledger_post(f->db, &t, 1, &out), TL_EINVAL);
	assert_int_equal(ledger_get(f->db, t.id, &(struct ledger_transfer){ 0 }), TL_ENOTFOUND);
	/* The schema refuses the same things without the C checks. */
	assert_int_equal(db_exec(f->db, "INSERT INTO transfers (id, debit, credit, amount_fen, award_id,"
	                                " kind, at) VALUES ('00000000000000000000000000000001',"
	                                " 'payable:120118', 'paid:120118', 50000001,"
	                                " 'a0000000000000000000000000000002', 'pay', 1);"),
	                 TL_ECONFLICT);
	assert_int_equal(db_exec(f->db, "UPDATE transfers SET amount_fen = amount_fen + 1;"), TL_ECONFLICT);
	assert_int_equal(db_exec(f->db, "DELETE FROM transfers;"), TL_ECONFLICT);
	assert_int_equal(db_exec(f->db, "UPDATE accounts SET debits_fen = debits_fen + 1"
	                                " WHERE name = 'budget:120118:2026';"),
	                 TL_ECONFLICT); /* overdraft CHECK */
	check_ok(f);
	assert_int_equal(ledger_account_open(f->db, "budget:120118:2026", LEDGER_ACC_PAID), TL_ECONFLICT);
}

static void
test_check_names_inconsistency(void **state)
{
	struct fx *f = *state;
	char why[256];

	fund(f, 500000);
	check_ok(f);
	/* Someone with the key edits a posted total (the triggers allow
	 * raising credits): the check names the account. */
	assert_int_equal(db_exec(f->db, "UPDATE accounts SET credits_fen = credits_fen + 7"
	                                " WHERE name = 'budget:120118:2026';"),
	                 TL_OK);
	assert_int_equal(ledger_check(f->db, why, sizeof(why)), TL_ECONFLICT);
	assert_non_null(strstr(why, "budget:120118:2026"));
	assert_non_null(strstr(why, "credits"));
}

/* An insider drops the guards and books a second payment of a paid
 * share: the accounts still balance, so only the per-share check sees it. */
static void
test_check_detects_planted_pay(void **state)
{
	struct fx *f = *state;
	char aw[AWARD_ID_LEN + 1], why[256], sql[512];

	fund(f, 1000000);
	approved_award(f, 3, 1000, 2, aw);
	confirm(f, aw, 0);
	check_ok(f);
	/* With the guards in place the plant is refused. */
	snprintf(sql, sizeof(sql),
	         "INSERT INTO transfers (id, debit, credit, amount_fen, award_id, kind, at, share_idx)"
	         " VALUES ('00000000000000000000000000000077', 'payable:%s', 'paid:%s', 500, '%s',"
	         " 'pay', 5, 0);",
	         DISTRICT, DISTRICT, aw);
	assert_int_equal(db_exec(f->db, sql), TL_ECONFLICT);
	assert_int_equal(db_exec(f->db, "DROP TRIGGER transfers_share_open;"
	                                "DROP INDEX transfers_one_per_share;"),
	                 TL_OK);
	assert_int_equal(db_exec(f->db, sql), TL_OK);
	assert_int_equal(ledger_check(f->db, why, sizeof(why)), TL_ECONFLICT);
	assert_non_null(strstr(why, aw));
	assert_non_null(strstr(why, "share 0 (paid, 500 fen): 2 pay transfers (1000 fen)"));
}

/* A planted payment larger than what is left of the award's reservation:
 * named as taking out more than was reserved. */
static void
test_check_detects_overpaid_award(void **state)
{
	struct fx *f = *state;
	char aw[AWARD_ID_LEN + 1], other[AWARD_ID_LEN + 1], why[256], sql[512];

	fund(f, 1000000);
	approved_award(f, 4, 1000, 1, aw);
	approved_award(f, 5, 5000, 1, other); /* its reservation keeps payable in credit */
	confirm(f, aw, 0);
	check_ok(f);
	assert_int_equal(db_exec(f->db, "DROP TRIGGER transfers_share_open;"
	                                "DROP INDEX transfers_one_per_share;"),
	                 TL_OK);
	snprintf(sql, sizeof(sql),
	         "INSERT INTO transfers (id, debit, credit, amount_fen, award_id, kind, at, share_idx)"
	         " VALUES ('00000000000000000000000000000078', 'payable:%s', 'paid:%s', 1000, '%s',"
	         " 'pay', 5, 0);",
	         DISTRICT, DISTRICT, aw);
	assert_int_equal(db_exec(f->db, sql), TL_OK);
	assert_int_equal(ledger_check(f->db, why, sizeof(why)), TL_ECONFLICT);
	assert_non_null(strstr(why, aw));
	assert_non_null(strstr(why, "2000 fen paid, forfeited or returned exceed its reservation of 1000"));
	assert_null(strstr(why, other));
}

/* ---- kill -9 harness ---- */

#define KILLS 30
#define AWARDS 1500
#define AMOUNT 1000 /* two shares of 500 fen */
#define SHARES (AWARDS * 2)

struct step {
	char award_id[AWARD_ID_LEN + 1];
	int idx;
};

/* Share 1 of every award with an even last id digit lapses: the harness
 * settles both ways from its very first awards on. */
static bool
forfeits(const struct step *s)
{
	return s->idx == 1 && strchr("02468ace", s->award_id[AWARD_ID_LEN - 1]) != NULL;
}

static void
step_id(const struct step *s, char out[LEDGER_ID_LEN + 1])
{
	char name[32];

	/* The idempotency key is derived, so the writer that restarts after a
	 * kill reuses it for the same share. */
	snprintf(name, sizeof(name), "%s:%d", forfeits(s) ? "forfeit" : "pay", s->idx);
	ledger_id_derive(s->award_id, name, out);
}

/* Child: settles the open shares of approved awards in order, acking each
 * transfer id through the pipe only after the COMMIT returned. */
static void __attribute__((noreturn))
writer(struct fx *f, int fd)
{
	static struct step steps[SHARES + 1];
	struct db *db = NULL;
	struct payouts *p = NULL;
	struct db_stmt *st = NULL;
	size_t n = 0, resettle;
	bool row;

	if (db_open(f->path, f->dbkey, 0, &db) != TL_OK || payouts_open(db, &f->rules, &p) != TL_OK)
		_exit(2);
	/* Re-settle the last settled share first: the ack of a commit may have
	 * been lost in the previous kill; the answer must be "exists". */
	if (db_prepare(db, "SELECT award_id, share_idx FROM transfers WHERE share_idx IS NOT NULL"
	                   " ORDER BY seq DESC LIMIT 1;", &st) != TL_OK)
		_exit(3);
	while (n < TL_ARRAY_LEN(steps) && db_step(st, &row) == TL_OK && row) {
		snprintf(steps[n].award_id, AWARD_ID_LEN + 1, "%s", db_col_text(st, 0));
		steps[n++].idx = (int)db_col_int64(st, 1);
	}
	db_finalize(st);
	resettle = n;
	if (db_prepare(db, "SELECT s.award_id, s.idx FROM shares s JOIN awards w"
	                   " ON w.award_id = s.award_id WHERE w.status = 'approved' AND s.state = 'open'"
	                   " ORDER BY s.award_id, s.idx;", &st) != TL_OK)
		_exit(3);
	while (n < TL_ARRAY_LEN(steps) && db_step(st, &row) == TL_OK && row) {
		snprintf(steps[n].award_id, AWARD_ID_LEN + 1, "%s", db_col_text(st, 0));
		steps[n++].idx = (int)db_col_int64(st, 1);
	}
	db_finalize(st);
	for (size_t i = 0; i < n; i++) {
		char tid[LEDGER_ID_LEN + 1], why[256], line[LEDGER_ID_LEN + 2];
		enum ledger_outcome out;
		enum tl_err e;

		step_id(&steps[i], tid);
		e = forfeits(&steps[i]) ? payouts_forfeit_share(p, steps[i].award_id, steps[i].idx, tid,
		                                                time_now_ms(), &out, why, sizeof(why))
		                        : payouts_confirm_share(p, steps[i].award_id, steps[i].idx, tid,
		                                                time_now_ms(), &out, why, sizeof(why));
		if (e != TL_OK)
			_exit(4);
		if (i < resettle && out != LEDGER_EXISTS)
			_exit(6);
		snprintf(line, sizeof(line), "%s\n", tid);
		if (write(fd, line, LEDGER_ID_LEN + 1) != LEDGER_ID_LEN + 1)
			_exit(5);
	}
	/* _exit: no atexit/LSan run in a child that shares the parent's heap. */
	_exit(0);
}

static void
count_transfer(struct fx *f, const char *tid, int64_t *n)
{
	struct db_stmt *st = NULL;
	bool row;

	assert_int_equal(db_prepare(f->db, "SELECT count(*) FROM transfers WHERE id = ?1"
	                                   " AND kind IN ('pay','forfeit') AND share_idx IS NOT NULL;",
	                            &st),
	                 TL_OK);
	assert_int_equal(db_bind_text(st, 1, tid), TL_OK);
	assert_int_equal(db_step(st, &row), TL_OK);
	*n = db_col_int64(st, 0);
	db_finalize(st);
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_kill9(void **state)
{
	struct fx *f = *state;
	static char acked[SHARES + KILLS][LEDGER_ID_LEN + 1];
	size_t nacked = 0;
	int interrupted = 0;
	char aw[AWARD_ID_LEN + 1], why[256];
	int64_t t0 = time_mono_ms();

	/* Setup without fsync per commit (it is not under test); the
	 * writer reopens with the production pragmas (synchronous=FULL). */
	assert_int_equal(db_exec(f->db, "PRAGMA synchronous = OFF;"), TL_OK);
	fund(f, (int64_t)AWARDS * AMOUNT);
	for (unsigned i = 0; i < AWARDS; i++)
		approved_award(f, 1000 + i, AMOUNT, 2, aw);
	fx_close(f);

	for (int k = 0; k < KILLS; k++) {
		int fds[2], status;
		pid_t pid;
		char buf[4096];
		static char partial[LEDGER_ID_LEN + 2];
		size_t plen = 0;
		ssize_t r;
		struct timespec ts;

		assert_int_equal(pipe(fds), 0);
		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			writer(f, fds[1]);
		}
		close(fds[1]);
		/* 2..41 ms: most kills land inside a commit's fsync. */
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(2 + randombytes_uniform(40)) * 1000000L;
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (WIFSIGNALED(status))
			interrupted++;
		if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) &&
		    !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			fail_msg("writer failed: status %d", status);
		while ((r = read(fds[0], buf, sizeof(buf))) > 0) {
			for (ssize_t i = 0; i < r; i++) {
				if (buf[i] != '\n') {
					if (plen < LEDGER_ID_LEN)
						partial[plen++] = buf[i];
					continue;
				}
				assert_int_equal(plen, LEDGER_ID_LEN);
				assert_true(nacked < TL_ARRAY_LEN(acked));
				memcpy(acked[nacked], partial, LEDGER_ID_LEN);
				acked[nacked++][LEDGER_ID_LEN] = '\0';
				plen = 0;
			}
		}
		close(fds[0]);

		/* Recovery: reopen (WAL recovery runs), then prove the ledger. */
		fx_open(f);
		{
			struct db_stmt *st = NULL;
			bool row;
			assert_int_equal(db_prepare(f->db, "PRAGMA integrity_check;", &st), TL_OK);
			assert_int_equal(db_step(st, &row), TL_OK);
			assert_true(row);
			assert_string_equal(db_col_text(st, 0), "ok");
			db_finalize(st);
		}
		if (ledger_check(f->db, why, sizeof(why)) != TL_OK)
			fail_msg("after kill %d: %s", k, why);
		for (size_t i = 0; i < nacked; i++) {
			int64_t n;
			count_transfer(f, acked[i], &n);
			if (n != 1)
				fail_msg("after kill %d: acked transfer %s present %lld times", k, acked[i],
				         (long long)n);
		}
		fx_close(f);
	}
	fx_open(f);
	{
		/* Duplicates in the ack list are the re-settlements that answered
		 * "exists".  Every settled share was acked, except at most the
		 * one whose commit the last kill beat to the ack. */
		struct db_stmt *st = NULL;
		bool row;
		size_t distinct = 0;
		int64_t settled, paid, forfeited, awards_paid;

		qsort(acked, nacked, sizeof(acked[0]), id_cmp);
		for (size_t i = 0; i < nacked; i++)
			distinct += i == 0 || strcmp(acked[i], acked[i - 1]) != 0;
		assert_int_equal(db_prepare(f->db, "SELECT (SELECT count(*) FROM transfers"
		                                   " WHERE share_idx IS NOT NULL),"
		                                   " (SELECT count(*) FROM shares WHERE state = 'paid'),"
		                                   " (SELECT count(*) FROM shares WHERE state = 'forfeited'),"
		                                   " (SELECT count(*) FROM awards WHERE status = 'paid');",
		                            &st),
		                 TL_OK);
		assert_int_equal(db_step(st, &row), TL_OK);
		settled = db_col_int64(st, 0);
		paid = db_col_int64(st, 1);
		forfeited = db_col_int64(st, 2);
		awards_paid = db_col_int64(st, 3);
		db_finalize(st);
		if (!(settled >= (int64_t)distinct && settled <= (int64_t)distinct + 1))
			fail_msg("%lld settled shares but %zu distinct acks", (long long)settled, distinct);
		assert_int_equal(paid + forfeited, settled);
		/* Both kinds of settlement and whole awards must have happened,
		 * and most kills must land while the writer works, or the harness
		 * proves nothing. */
		assert_true(paid > 0 && forfeited > 0 && awards_paid > 0);
		assert_true(interrupted >= KILLS / 2);
		print_message("kill -9: %d kills (%d mid-run), %zu acks, %lld shares paid, %lld forfeited, "
		              "%lld awards paid, %lld ms\n",
		              KILLS, interrupted, nacked, (long long)paid, (long long)forfeited,
		              (long long)awards_paid, (long long)(time_mono_ms() - t0));
	}
	check_ok(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_idempotent_transfer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transfer_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_names_inconsistency, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_detects_planted_pay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_detects_overpaid_award, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill9, setup, teardown),
	};

	log_init("ledger_test", LOG_ERR);
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
