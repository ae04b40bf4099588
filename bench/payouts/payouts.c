/*
 * bench_payouts - the payouts ledger against raw SQLCipher inserts, in one
 * run on one machine (bench/README.md, section "payouts").
 *
 * Two databases in a fresh folder, both opened through common/db with the
 * same 32-byte key and the same pragmas (SQLCipher, WAL,
 * synchronous=FULL):
 *   ledger  the payouts schema (payouts_migrate); each transfer through
 *           ledger_post(): its own BEGIN IMMEDIATE, the idempotency look-up
 *           of the client-chosen id, both balances, the INSERT whose
 *           trigger moves the accounts' posted totals, COMMIT;
 *   raw     one table with the transfers' columns and its UNIQUE id; each
 *           row one BEGIN IMMEDIATE, INSERT, COMMIT: the same rows with
 *           the same durability and nothing else.
 * The two run interleaved in chunks of 100 so that both see the same
 * machine load; then every id is posted again (the retry path: answered
 * LEDGER_EXISTS, nothing written).  Last, payouts_confirm_share() on
 * approved one-share awards: the per-share payment, which re-verifies the
 * approval signature and moves the award to paid.
 * Three rounds, each in new databases; the summary gives the medians.
 *
 * usage: bench_payouts [-n TRANSFERS] [-k CONFIRMS] [-d DIR]
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
#include "secret.h"
#include "timefmt.h"

#include <getopt.h>
#include <sodium.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 3
#define CHUNK 100
#define DISTRICT "120116"
#define YEAR 2026

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
check(enum tl_err e, const char *what)
{
	if (e != TL_OK) {
		fprintf(stderr, "bench_payouts: %s: %s\n", what, tl_strerror(e));
		exit(1);
	}
}

static void
remove_db(const char *path)
{
	char p[512];
	const char *sfx[] = { "", "-wal", "-shm" };

	for (size_t i = 0; i < TL_ARRAY_LEN(sfx); i++) {
		(void)snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		(void)unlink(p);
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median3(double v[ROUNDS])
{
	double c[ROUNDS];

	memcpy(c, v, sizeof(c));
	qsort(c, ROUNDS, sizeof(c[0]), cmp_double);
	return c[ROUNDS / 2];
}

struct round {
	double ledger, raw, retry, confirm;
};

static void
raw_insert(struct db *db, struct db_stmt *st, const struct ledger_transfer *t, int64_t at)
{
	check(db_begin(db), "raw begin");
	db_reset(st);
	check(db_bind_text(st, 1, t->id), "raw bind");
	check(db_bind_text(st, 2, t->debit), "raw bind");
	check(db_bind_text(st, 3, t->credit), "raw bind");
	check(db_bind_int64(st, 4, t->amount_fen), "raw bind");
	check(db_bind_null(st, 5), "raw bind");
	check(db_bind_text(st, 6, ledger_kind_name(t->kind)), "raw bind");
	check(db_bind_int64(st, 7, at), "raw bind");
	check(db_bind_null(st, 8), "raw bind");
	check(db_step(st, NULL), "raw insert");
	check(db_commit(db), "raw commit");
}

/* k approved one-share awards (one district approver, below the
 * two-approver threshold), as approval.c stores them. */
static void
make_awards(struct payouts *p, size_t k, char (*ids)[ID_HEX_LEN + 1])
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char why[256];

	crypto_sign_keypair(pk, sk);
	check(payouts_staff_register(p, "fin.approver", STAFF_DISTRICT, pk, 1), "staff");
	for (size_t i = 0; i < k; i++) {
		struct award_proposal a;
		struct award_record r;
		unsigned char sig[APPROVAL_SIG_LEN];
		enum award_status st;

		memset(&a, 0, sizeof(a));
		id_new(ids[i]);
		(void)snprintf(a.award_id, sizeof(a.award_id), "%s", ids[i]);
		id_new(a.case_id);
		(void)snprintf(a.district, sizeof(a.district), DISTRICT);
		a.budget_year = YEAR;
		a.computed_fen = a.total_fen = 500000;
		a.n_shares = 1;
		id_new(a.shares[0].report_id);
		a.shares[0].fen = 500000;
		a.shares[0].kind = AWARD_SHARE_FIRST;
		(void)snprintf(a.payee_ref, sizeof(a.payee_ref), "per_share_claim");
		(void)snprintf(a.proposer, sizeof(a.proposer), "fin.maker");
		check(award_propose(p, &a, 2, why, sizeof(why)), "propose");
		check(award_load(p, ids[i], &r), "load");
		check(approval_sign(&r, APPROVAL_APPROVE, sk, sig), "sign");
		check(approval_decide(p, ids[i], "fin.approver", APPROVAL_APPROVE, sig, "ok", 3, &st, why,
		                      sizeof(why)),
		      "approve");
	}
	sodium_memzero(sk, sizeof(sk));
}

static void
one_round(const char *dir, int round, size_t n, size_t k, struct round *out)
{
	unsigned char key[DB_KEY_LEN];
	char lpath[512], rpath[512], fid[ID_HEX_LEN + 1], why[256];
	struct db *ldb = NULL, *rdb = NULL;
	struct payouts *p = NULL;
	struct award_rules rules;
	struct db_stmt *st = NULL;
	struct ledger_transfer *t = calloc(n, sizeof(*t));
	char (*awards)[ID_HEX_LEN + 1] = calloc(k ? k : 1, sizeof(*awards));
	struct ledger_transfer fund = { .kind = LEDGER_FUND, .amount_fen = INT64_C(1000000000000) };
	enum ledger_outcome o;
	double tl = 0, tr = 0, t0;

	if (!t || !awards)
		check(TL_ENOMEM, "alloc");
	randombytes_buf(key, sizeof(key));
	(void)snprintf(lpath, sizeof(lpath), "%s/ledger-%d.db", dir, round);
	(void)snprintf(rpath, sizeof(rpath), "%s/raw-%d.db", dir, round);
	remove_db(lpath);
	remove_db(rpath);
	check(db_open(lpath, key, DB_CREATE, &ldb), "open ledger db");
	check(db_open(rpath, key, DB_CREATE, &rdb), "open raw db");
	award_rules_default(&rules);
	check(payouts_open(ldb, &rules, &p), "payouts schema");
	check(db_exec(rdb, "CREATE TABLE raw (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
	                   " debit TEXT NOT NULL, credit TEXT NOT NULL, amount_fen INTEGER NOT NULL,"
	                   " award_id TEXT, kind TEXT NOT NULL, at INTEGER NOT NULL, share_idx INTEGER);"),
	      "raw schema");
	check(db_prepare(rdb, "INSERT INTO raw (id, debit, credit, amount_fen, award_id, kind, at, share_idx)"
	                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8);", &st), "raw prepare");

	/* Accounts and one large budget, so every transfer below is a
	 * budget-to-payable style move of an ordinary size. */
	check(ledger_account_name(LEDGER_ACC_FUNDING, DISTRICT, YEAR, fund.debit), "account");
	check(ledger_account_name(LEDGER_ACC_BUDGET, DISTRICT, YEAR, fund.credit), "account");
	check(ledger_account_open(ldb, fund.debit, LEDGER_ACC_FUNDING), "account");
	check(ledger_account_open(ldb, fund.credit, LEDGER_ACC_BUDGET), "account");
	id_new(fid);
	(void)snprintf(fund.id, sizeof(fund.id), "%s", fid);
	check(ledger_post(ldb, &fund, 1, &o), "fund");
	for (size_t i = 0; i < n; i++) {
		t[i] = fund;
		id_new(t[i].id); /* the client-chosen idempotency key */
		t[i].amount_fen = 100000 + (int64_t)(i % 5000);
	}

	for (size_t c = 0; c < n; c += CHUNK) {
		size_t end = c + CHUNK < n ? c + CHUNK : n;

		t0 = now_s();
		for (size_t i = c; i < end; i++) {
			check(ledger_post(ldb, &t[i], 2, &o), "ledger_post");
			if (o != LEDGER_CREATED)
				check(TL_ECONFLICT, "ledger_post answered exists for a new id");
		}
		tl += now_s() - t0;
		t0 = now_s();
		for (size_t i = c; i < end; i++)
			raw_insert(rdb, st, &t[i], 2);
		tr += now_s() - t0;
	}
	out->ledger = (double)n / tl;
	out->raw = (double)n / tr;

	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		check(ledger_post(ldb, &t[i], 3, &o), "ledger_post retry");
		if (o != LEDGER_EXISTS)
			check(TL_ECONFLICT, "a retry posted a second transfer");
	}
	out->retry = (double)n / (now_s() - t0);
	check(ledger_check(ldb, why, sizeof(why)), "ledger_check after the transfers");

	out->confirm = 0;
	if (k > 0) {
		make_awards(p, k, awards);
		t0 = now_s();
		for (size_t i = 0; i < k; i++) {
			char tid[LEDGER_ID_LEN + 1];

			ledger_id_derive(awards[i], "pay:bench:0", tid);
			if (payouts_confirm_share(p, awards[i], 0, tid, 4, &o, why, sizeof(why)) != TL_OK) {
				fprintf(stderr, "bench_payouts: confirm: %s\n", why);
				exit(1);
			}
		}
		out->confirm = (double)k / (now_s() - t0);
		if (ledger_check(ldb, why, sizeof(why)) != TL_OK) {
			fprintf(stderr, "bench_payouts: ledger_check after the confirmations: %s\n", why);
			exit(1);
		}
	}

	db_finalize(st);
	payouts_close(p);
	db_close(ldb);
	db_close(rdb);
	remove_db(lpath);
	remove_db(rpath);
	sodium_memzero(key, sizeof(key));
	free(t);
	free(awards);
}

int
main(int argc, char **argv)
{
	uint64_t n = 2000, k = 300;
	char dir[256] = "";
	struct round r[ROUNDS];
	double v[ROUNDS], ratio[ROUNDS];
	bool own_dir = false;
	int c;

	while ((c = getopt(argc, argv, "n:k:d:h")) != -1) {
		switch (c) {
		case 'n':
			if (num_parse_u64(optarg, strlen(optarg), 10000000, &n) != TL_OK || n == 0)
				goto usage;
			break;
		case 'k':
			if (num_parse_u64(optarg, strlen(optarg), 100000, &k) != TL_OK)
				goto usage;
			break;
		case 'd': (void)snprintf(dir, sizeof(dir), "%s", optarg); break;
		default: goto usage;
		}
	}
	log_init("bench_payouts", LOG_WARN);
	check(secret_init(), "libsodium");
	if (!dir[0]) {
		(void)snprintf(dir, sizeof(dir), "/tmp/bench_payouts.XXXXXX");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
		own_dir = true;
	}
	printf("bench_payouts: %llu transfers, %llu confirmations per round, %d rounds, folder %s\n",
	       (unsigned long long)n, (unsigned long long)k, ROUNDS, dir);
	for (int i = 0; i < ROUNDS; i++) {
		one_round(dir, i, (size_t)n, (size_t)k, &r[i]);
		ratio[i] = r[i].ledger / r[i].raw;
		printf("round %d: ledger_post %.0f transfers/s, raw insert %.0f rows/s, ratio %.3f; "
		       "retry (exists) %.0f/s; confirm_share %.0f/s\n",
		       i + 1, r[i].ledger, r[i].raw, ratio[i], r[i].retry, r[i].confirm);
		fflush(stdout);
	}
	for (int i = 0; i < ROUNDS; i++)
		v[i] = r[i].ledger;
	printf("summary: ledger_post median %.0f transfers/s", median3(v));
	for (int i = 0; i < ROUNDS; i++)
		v[i] = r[i].raw;
	printf(", raw insert median %.0f rows/s", median3(v));
	printf(", ratio median %.3f (runs %.3f, %.3f, %.3f)", median3(ratio), ratio[0], ratio[1], ratio[2]);
	for (int i = 0; i < ROUNDS; i++)
		v[i] = r[i].retry;
	printf(", retry median %.0f/s", median3(v));
	for (int i = 0; i < ROUNDS; i++)
		v[i] = r[i].confirm;
	printf(", confirm_share median %.0f/s\n", median3(v));
	if (own_dir)
		(void)rmdir(dir);
	return 0;
usage:
	fprintf(stderr, "usage: bench_payouts [-n TRANSFERS] [-k CONFIRMS] [-d DIR]\n");
	return 2;
}
