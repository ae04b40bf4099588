/*
 * ledger_test.c - the double-entry ledger: idempotent transfers, overdraft,
 * ledger_check naming the first inconsistency, and a kill -9 harness
 * (notes/storage-crypto-http.md §4.3) over real payment confirmations.
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

/* Proposes award number i (below the dual threshold) and approves it. */
static void
approved_award(struct fx *f, unsigned i, int64_t amount, char award_id[AWARD_ID_LEN + 1])
{
	struct award_proposal a = { 0 };
	struct award_record r;
	unsigned char sig[APPROVAL_SIG_LEN];
	enum award_status st;
	char why[256];

	snprintf(a.award_id, sizeof(a.award_id), "a%031x", i);
	snprintf(a.case_id, sizeof(a.case_id), "c%031x", i);
	snprintf(a.district, sizeof(a.district), DISTRICT);
	a.budget_year = YEAR;
	a.computed_fen = a.total_fen = amount;
	a.n_shares = 1;
	snprintf(a.shares[0].report_id, sizeof(a.shares[0].report_id), "e%031x", i);
	a.shares[0].fen = amount;
	a.shares[0].kind = AWARD_SHARE_FIRST;
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
	struct ledger_transfer t = { .kind = LEDGER_PAY }, got;
	char aw[AWARD_ID_LEN + 1];
	enum ledger_outcome out;
	int64_t dr, cr;

	fund(f, 1000000);
	approved_award(f, 1, 300000, aw);
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
	assert_int_equal(ledger_balance(f->db, "paid:" DISTRICT, &dr, &cr), TL_OK);
	assert_int_equal(cr, 300000);
	/* The award row still says approved while a pay transfer exists:
	 * ledger_check names exactly that. */
	{
		char why[256];
		assert_int_equal(ledger_check(f->db, why, sizeof(why)), TL_ECONFLICT);
		assert_non_null(strstr(why, aw));
		assert_non_null(strstr(why, "payment"));
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
	approved_award(f, 2, 200000, aw); /* budget now 0 */
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

/* ---- kill -9 harness ---- */

#define KILLS 30
#define AWARDS 1500
#define AMOUNT 1000

static void
pay_id(const char *award_id, char out[LEDGER_ID_LEN + 1])
{
	/* The disbursement's idempotency key is derived, so the writer that
	 * restarts after a kill reuses it for the same award. */
	ledger_id_derive(award_id, "pay", out);
}

/* Child: confirms payments for unpaid awards in order, acking each
 * transfer id through the pipe only after the COMMIT returned. */
static void __attribute__((noreturn))
writer(struct fx *f, int fd)
{
	struct db *db = NULL;
	struct payouts *p = NULL;
	struct db_stmt *st = NULL;
	char ids[AWARDS][AWARD_ID_LEN + 1];
	size_t n = 0;
	bool row;

	if (db_open(f->path, f->dbkey, 0, &db) != TL_OK || payouts_open(db, &f->rules, &p) != TL_OK)
		_exit(2);
	/* Re-confirm the last paid award first: the ack of a commit may have
	 * been lost in the previous kill; the answer must be "exists". */
	if (db_prepare(db, "SELECT award_id FROM transfers WHERE kind = 'pay' ORDER BY seq DESC LIMIT 1;",
	               &st) != TL_OK)
		_exit(3);
	while (n < AWARDS && db_step(st, &row) == TL_OK && row)
		snprintf(ids[n++], AWARD_ID_LEN + 1, "%s", db_col_text(st, 0));
	db_finalize(st);
	if (db_prepare(db, "SELECT award_id FROM awards WHERE status = 'approved' ORDER BY award_id;",
	               &st) != TL_OK)
		_exit(3);
	while (n < AWARDS && db_step(st, &row) == TL_OK && row)
		snprintf(ids[n++], AWARD_ID_LEN + 1, "%s", db_col_text(st, 0));
	db_finalize(st);
	for (size_t i = 0; i < n; i++) {
		char tid[LEDGER_ID_LEN + 1], why[256], line[LEDGER_ID_LEN + 2];
		enum ledger_outcome out;

		pay_id(ids[i], tid);
		if (payouts_confirm_payment(p, ids[i], tid, time_now_ms(), &out, why, sizeof(why)) != TL_OK)
			_exit(4);
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

	assert_int_equal(db_prepare(f->db, "SELECT count(*) FROM transfers WHERE id = ?1 AND kind = 'pay';",
	                            &st),
	                 TL_OK);
	assert_int_equal(db_bind_text(st, 1, tid), TL_OK);
	assert_int_equal(db_step(st, &row), TL_OK);
	*n = db_col_int64(st, 0);
	db_finalize(st);
}

static void
test_kill9(void **state)
{
	struct fx *f = *state;
	static char acked[AWARDS * 2][LEDGER_ID_LEN + 1];
	size_t nacked = 0;
	int interrupted = 0;
	char aw[AWARD_ID_LEN + 1], why[256];
	int64_t t0 = time_mono_ms();

	/* Setup without fsync per commit (it is not under test); the
	 * writer reopens with the production pragmas (synchronous=FULL). */
	assert_int_equal(db_exec(f->db, "PRAGMA synchronous = OFF;"), TL_OK);
	fund(f, (int64_t)AWARDS * AMOUNT);
	for (unsigned i = 0; i < AWARDS; i++)
		approved_award(f, 1000 + i, AMOUNT, aw);
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
		/* Every acked id names a distinct paid award: duplicates in the
		 * ack list are the re-confirmations that answered "exists". */
		struct db_stmt *st = NULL;
		bool row;
		assert_int_equal(db_prepare(f->db, "SELECT count(*) FROM awards WHERE status = 'paid';", &st),
		                 TL_OK);
		assert_int_equal(db_step(st, &row), TL_OK);
		assert_true(db_col_int64(st, 0) > 0);
		/* Most kills must land while the writer works, or the harness
		 * proves nothing. */
		assert_true(interrupted >= KILLS / 2);
		print_message("kill -9: %d kills (%d mid-run), %zu acks, %lld awards paid, %lld ms\n", KILLS, interrupted, nacked,
		              (long long)db_col_int64(st, 0), (long long)(time_mono_ms() - t0));
		db_finalize(st);
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
		cmocka_unit_test_setup_teardown(test_kill9, setup, teardown),
	};

	log_init("ledger_test", LOG_ERR);
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
