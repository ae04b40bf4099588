/*
 * export_test.c - payment batches (payouts/export.c): selection of the
 * shares ready to pay, the vault round trip (a fake vault here; the real
 * one in tests/integration/payouts_export_test.sh), the sealed file, the
 * crash points of an export, confirmation exactly once, bank returns.
 */
#include "compat.h"
#include "approval.h"
#include "audit.h"
#include "award.h"
#include "cases.h"
#include "db.h"
#include "export.h"
#include "ids.h"
#include "ledger.h"
#include "payfile.h"
#include "secret.h"
#include "svc.h"

#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define D1 "120116"
#define D2 "120115"
#define YEAR 2026
#define CANARY "甄测试"

enum { MAKER, APPROVER, CITY, NSTAFF };
enum fake_mode { FAKE_OK, FAKE_REFUSE, FAKE_TIMEOUT, FAKE_WRONG_ROWS };

struct fake_vault {
	unsigned char pk[crypto_box_PUBLICKEYBYTES];
	enum fake_mode mode;
	int calls;
	size_t approvals_seen;
};

struct fx {
	char dir[64], dbpath[128], exdir[128], auditpath[128];
	unsigned char dbkey[DB_KEY_LEN];
	unsigned char xsk[crypto_box_SECRETKEYBYTES];
	unsigned char staff_sk[NSTAFF][crypto_sign_SECRETKEYBYTES];
	struct payouts_cfg cfg;
	struct payouts_svc s;
	struct fake_vault vault;
	struct export_hooks hooks;
	unsigned seq;
	char why[1024];
};

static const char *const staff_ids[NSTAFF] = { "fin.maker", "fin.approver", "city.approver" };

static void
sql(struct fx *f, const char *fmt, ...)
{
	char q[2048];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	if (db_exec(f->s.db, q) != TL_OK)
		fail_msg("SQL failed: %s", q);
}

static int64_t
count(struct fx *f, const char *fmt, ...)
{
	char q[1024];
	struct db_stmt *st = NULL;
	bool row;
	int64_t n;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	assert_int_equal(db_prepare(f->s.db, q, &st), TL_OK);
	assert_int_equal(db_step(st, &row), TL_OK);
	assert_true(row);
	n = db_col_int64(st, 0);
	db_finalize(st);
	return n;
}

static void
text_of(struct fx *f, char *out, size_t outlen, const char *fmt, ...)
{
	char q[1024];
	struct db_stmt *st = NULL;
	bool row;
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	assert_int_equal(db_prepare(f->s.db, q, &st), TL_OK);
	assert_int_equal(db_step(st, &row), TL_OK);
	assert_true(row);
	(void)snprintf(out, outlen, "%s", db_col_text(st, 0) ? db_col_text(st, 0) : "");
	db_finalize(st);
}

/* What the vault does on an approved reveal: each payee sealed to the
 * export key.  The claim id inside tells the test whose payee it is. */
static enum tl_err
fake_reveal(void *ctx, const struct wire_reveal_req *req, struct wire_reveal_rep *rep, char *why,
            size_t whylen)
{
	struct fake_vault *v = ctx;

	v->calls++;
	v->approvals_seen += req->n_approvals;
	memset(rep, 0, sizeof(*rep));
	if (v->mode == FAKE_TIMEOUT) {
		(void)snprintf(why, whylen, "the vault did not answer within 5000 ms");
		return TL_ETIMEOUT;
	}
	(void)snprintf(rep->request_id, sizeof(rep->request_id), "%s", req->request_id);
	if (v->mode == FAKE_REFUSE) {
		(void)snprintf(rep->error, sizeof(rep->error), "signature");
		return TL_OK;
	}
	assert_non_null(strstr(req->award, "decision=approve\n"));
	rep->ok = true;
	for (size_t i = 0; i < req->n_shares; i++) {
		struct wire_reveal_row *r = &rep->rows[rep->n_rows++];
		char name[64];
		struct wire_payee p = { .name = name, .id_number = "11010519491231002X",
			                .bank = "中国工商银行", .account = "6222020302001234567",
			                .phone = "13800138000" };
		struct buf b;

		(void)snprintf(name, sizeof(name), CANARY "%d", req->shares[i].share_idx);
		/* The claim id field carries the payee_ref so the test can map
		 * each payee back to the claim it came from. */
		(void)snprintf(p.claim_id, sizeof(p.claim_id), "%s", req->shares[i].payee_ref);
		r->share_idx = req->shares[i].share_idx + (v->mode == FAKE_WRONG_ROWS ? 1 : 0);
		(void)snprintf(r->report_id, sizeof(r->report_id), "%s", req->shares[i].report_id);
		(void)snprintf(r->payee_ref, sizeof(r->payee_ref), "%s", req->shares[i].payee_ref);
		buf_init_secret(&b, 8192);
		assert_int_equal(wire_payee_encode(&p, &b), TL_OK);
		r->sealed_len = b.len + crypto_box_SEALBYTES;
		r->sealed = malloc(r->sealed_len);
		assert_non_null(r->sealed);
		assert_int_equal(crypto_box_seal(r->sealed, (const unsigned char *)b.data, b.len, v->pk), 0);
		buf_free(&b);
	}
	return TL_OK;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct award_rules rules;
	unsigned char ask[crypto_sign_SECRETKEYBYTES], apk[crypto_sign_PUBLICKEYBYTES];
	char tid[ID_HEX_LEN + 1];
	enum ledger_outcome out;

	assert_non_null(f);
	assert_int_equal(secret_init(), TL_OK);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tl_export_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->dbpath, sizeof(f->dbpath), "%s/payouts.db", f->dir);
	snprintf(f->exdir, sizeof(f->exdir), "%s/export", f->dir);
	snprintf(f->auditpath, sizeof(f->auditpath), "%s/payouts.audit", f->dir);
	assert_int_equal(mkdir(f->exdir, 0700), 0);
	randombytes_buf(f->dbkey, sizeof(f->dbkey));
	award_rules_default(&rules);

	f->cfg.export_dir = f->exdir;
	f->cfg.reveal_timeout_ms = 5000;
	f->cfg.claim_window_s = 5184000;
	f->s.cfg = &f->cfg;
	pthread_mutex_init(&f->s.lock, NULL);
	assert_int_equal(db_open(f->dbpath, f->dbkey, DB_CREATE, &f->s.db), TL_OK);
	assert_int_equal(db_exec(f->s.db, "PRAGMA synchronous = OFF;"), TL_OK);
	assert_int_equal(payouts_open(f->s.db, &rules, &f->s.core), TL_OK);
	assert_int_equal(cases_migrate(f->s.db), TL_OK);
	assert_int_equal(export_migrate(f->s.db), TL_OK);
	crypto_sign_keypair(apk, ask);
	assert_int_equal(audit_open(f->auditpath, "payouts", ask, &f->s.audit), TL_OK);
	crypto_box_keypair(f->s.export_pk, f->xsk);
	memcpy(f->vault.pk, f->s.export_pk, sizeof(f->vault.pk));
	f->hooks.reveal = fake_reveal;
	f->hooks.ctx = &f->vault;

	for (int i = 0; i < NSTAFF; i++) {
		unsigned char pk[crypto_sign_PUBLICKEYBYTES];

		crypto_sign_keypair(pk, f->staff_sk[i]);
		assert_int_equal(payouts_staff_register(f->s.core, staff_ids[i],
		                                        i == CITY ? STAFF_CITY : STAFF_DISTRICT, pk, 1),
		                 TL_OK);
	}
	id_new(tid);
	assert_int_equal(payouts_fund_budget(f->s.core, D1, YEAR, 100000000, tid, 1, &out), TL_OK);
	id_new(tid);
	assert_int_equal(payouts_fund_budget(f->s.core, D2, YEAR, 100000000, tid, 1, &out), TL_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	DIR *d;
	struct dirent *de;
	char p[512];

	audit_close(f->s.audit);
	payouts_close(f->s.core);
	db_close(f->s.db);
	pthread_mutex_destroy(&f->s.lock);
	if ((d = opendir(f->exdir))) {
		while ((de = readdir(d)))
			if (de->d_name[0] != '.' || strlen(de->d_name) > 2) {
				if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
					continue;
				snprintf(p, sizeof(p), "%s/%s", f->exdir, de->d_name);
				unlink(p);
			}
		closedir(d);
	}
	rmdir(f->exdir);
	if ((d = opendir(f->dir))) {
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
				snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
				unlink(p);
			}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

struct award_made {
	char award_id[ID_HEX_LEN + 1];
	char case_id[ID_HEX_LEN + 1];
	size_t n;
	char report[4][ID_HEX_LEN + 1];
	char claim[4][ID_HEX_LEN + 1];
	int64_t fen[4];
};

/* Adds an eligible (or refused) claim for a report at time at. */
static void
add_claim(struct fx *f, const char *report, bool eligible, int64_t at, char claim[ID_HEX_LEN + 1])
{
	id_new(claim);
	sql(f, "INSERT INTO claims (claim_id, report_id, payee_ref, eligible, reason, at_ms, received_ms)"
	       " VALUES ('%s', '%s', '%s', %d, '%s', %lld, %lld);",
	    claim, report, claim, eligible ? 1 : 0, eligible ? "" : "excluded", (long long)at,
	    (long long)at);
}

/* A substantiated case in district with n reporters, its award of total
 * fen proposed and approved (two approvers, one city-level, above the
 * threshold), and each reporter's claim (eligible unless told). */
static void
make_award(struct fx *f, const char *district, int64_t total, size_t n, bool claims,
           struct award_made *m)
{
	struct award_proposal a;
	struct award_report rep[4];
	struct award_record r;
	unsigned char sig[APPROVAL_SIG_LEN];
	enum award_status st;
	const int who[2] = { APPROVER, CITY };

	memset(m, 0, sizeof(*m));
	memset(&a, 0, sizeof(a));
	f->seq++;
	id_new(m->award_id);
	id_new(m->case_id);
	m->n = n;
	sql(f, "INSERT INTO cases (case_id, district, state, created_ms, updated_ms)"
	       " VALUES ('%s', '%s', 'substantiated', 1, 1);", m->case_id, district);
	for (size_t i = 0; i < n; i++) {
		char lead[ID_HEX_LEN + 1], key[ID_HEX_LEN + 1];

		id_new(m->report[i]);
		id_new(lead);
		id_new(key);
		sql(f, "INSERT INTO leads (lead_id, report_id, district, received_ms, status_key, case_id,"
		       " seen, created_ms) VALUES ('%s', '%s', '%s', %zu, '%s%s', '%s', 1, 1);",
		    lead, m->report[i], district, i + 1, key, key, m->case_id);
		(void)snprintf(rep[i].report_id, sizeof(rep[i].report_id), "%s", m->report[i]);
		rep[i].received_ms = (int64_t)i + 1;
	}
	(void)snprintf(a.award_id, sizeof(a.award_id), "%s", m->award_id);
	(void)snprintf(a.case_id, sizeof(a.case_id), "%s", m->case_id);
	(void)snprintf(a.district, sizeof(a.district), "%s", district);
	a.budget_year = YEAR;
	a.computed_fen = a.total_fen = total;
	assert_int_equal(award_split(total, rep, n, a.shares), TL_OK);
	a.n_shares = n;
	for (size_t i = 0; i < n; i++)
		m->fen[i] = a.shares[i].fen;
	(void)snprintf(a.payee_ref, sizeof(a.payee_ref), "%s", CASES_PAYEE_REF);
	(void)snprintf(a.proposer, sizeof(a.proposer), "%s", staff_ids[MAKER]);
	assert_int_equal(award_propose(f->s.core, &a, 2, f->why, sizeof(f->why)), TL_OK);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(award_load(f->s.core, m->award_id, &r), TL_OK);
		if (r.status == AWARD_APPROVED)
			break;
		assert_int_equal(approval_sign(&r, APPROVAL_APPROVE, f->staff_sk[who[k]], sig), TL_OK);
		if (approval_decide(f->s.core, m->award_id, staff_ids[who[k]], APPROVAL_APPROVE, sig, "ok",
		                    3 + k, &st, f->why, sizeof(f->why)) != TL_OK)
			fail_msg("approve: %s", f->why);
	}
	assert_int_equal(award_load(f->s.core, m->award_id, &r), TL_OK);
	assert_int_equal(r.status, AWARD_APPROVED);
	for (size_t i = 0; claims && i < n; i++)
		add_claim(f, m->report[i], true, 100 + (int64_t)f->seq, m->claim[i]);
}

static enum tl_err
export(struct fx *f, const char *district, char batch[ID_HEX_LEN + 1], size_t *rows)
{
	return export_batch_with(&f->s, &f->hooks, "payer.zhou", district, 1000,
	                         batch, rows, f->why, sizeof(f->why));
}

static enum tl_err
confirm(struct fx *f, const char *batch)
{
	return payouts_batch_confirm(&f->s, "payer.zhou", batch, 2000, f->why, sizeof(f->why));
}

static void
ledger_ok(struct fx *f)
{
	char why[512];

	if (ledger_check(f->s.db, why, sizeof(why)) != TL_OK)
		fail_msg("ledger_check: %s", why);
}

/* The bytes of the batch's file. */
static void
read_batch_file(struct fx *f, const char *batch, struct buf *b)
{
	char path[256];
	struct stat st;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/batch-%s.tlpay", f->exdir, batch);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_non_null(fp = fopen(path, "rb"));
	buf_init(b, PAYFILE_MAX_BYTES);
	assert_int_equal(buf_read_file(b, fp), TL_OK);
	fclose(fp);
}

/* Files in the export folder, the lock file aside. */
static int
files_in_export(struct fx *f)
{
	DIR *d = opendir(f->exdir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    strcmp(de->d_name, ".export.lock") != 0)
			n++;
	closedir(d);
	return n;
}

/* No share is in two live rows; every share of the award paid at most once. */
static void
invariants(struct fx *f)
{
	assert_int_equal(count(f, "SELECT count(*) FROM (SELECT award_id, share_idx FROM batch_rows"
	                          " WHERE state IN ('pending','exported','paid')"
	                          " GROUP BY award_id, share_idx HAVING count(*) > 1);"),
	                 0);
	assert_int_equal(count(f, "SELECT count(*) FROM (SELECT award_id, share_idx FROM transfers"
	                          " WHERE kind = 'pay' GROUP BY award_id, share_idx HAVING count(*) > 1);"),
	                 0);
	ledger_ok(f);
}

static void
test_export_and_confirm(void **state)
{
	struct fx *f = *state;
	struct award_made a, b;
	char batch[ID_HEX_LEN + 1], again[ID_HEX_LEN + 1];
	size_t rows = 0;
	struct buf file, audit;
	struct payfile pf;
	char why[256];
	FILE *fp;

	make_award(f, D1, 300001, 3, true, &a);   /* one approval suffices */
	make_award(f, D1, 20000000, 1, true, &b); /* above the threshold: two */
	assert_int_equal(export(f, "all", batch, &rows), TL_OK);
	assert_int_equal(rows, 4);
	assert_true(id_valid(batch));
	assert_int_equal(f->vault.calls, 2); /* one request per award */
	assert_int_equal(f->vault.approvals_seen, 1 + 2);

	/* The file opens with the export key to exactly the rows and payees. */
	read_batch_file(f, batch, &file);
	assert_null(memmem(file.data, file.len, CANARY, strlen(CANARY)));
	assert_null(memmem(file.data, file.len, a.award_id, ID_HEX_LEN));
	assert_int_equal(payfile_open(file.data, file.len, f->xsk, &pf, why, sizeof(why)), TL_OK);
	assert_string_equal(pf.batch_id, batch);
	assert_int_equal(pf.n_rows, 4);
	assert_int_equal(pf.total_fen, 300001 + 20000000);
	for (size_t i = 0; i < pf.n_rows; i++) {
		const struct payfile_row *r = &pf.rows[i];
		const struct award_made *m = strcmp(r->award_id, a.award_id) == 0 ? &a : &b;

		assert_true(strcmp(r->award_id, a.award_id) == 0 || strcmp(r->award_id, b.award_id) == 0);
		assert_string_equal(r->report_id, m->report[r->share_idx]);
		assert_int_equal(r->amount_fen, m->fen[r->share_idx]);
		assert_string_equal(r->payee.claim_id, m->claim[r->share_idx]);
		assert_non_null(strstr(r->payee.name, CANARY));
	}
	payfile_free(&pf);
	buf_free(&file);
	assert_int_equal(count(f, "SELECT count(*) FROM batches WHERE batch_id = '%s' AND state = 'exported'"
	                          " AND row_count = 4 AND total_fen = %d;", batch, 300001 + 20000000),
	                 1);

	/* Everything is booked: a second export finds nothing and writes nothing. */
	assert_int_equal(export(f, "all", again, &rows), TL_ENOTFOUND);
	assert_non_null(strstr(f->why, "nothing is ready"));
	assert_int_equal(files_in_export(f), 1);

	assert_int_equal(confirm(f, batch), TL_OK);
	assert_int_equal(count(f, "SELECT count(*) FROM batch_rows WHERE batch_id = '%s' AND state = 'paid'"
	                          " AND transfer_id IS NOT NULL;", batch),
	                 4);
	assert_int_equal(count(f, "SELECT count(*) FROM transfers WHERE kind = 'pay';"), 4);
	assert_int_equal(count(f, "SELECT count(*) FROM awards WHERE status = 'paid';"), 2);
	assert_int_equal(count(f, "SELECT count(*) FROM batches WHERE state = 'confirmed';"), 1);
	invariants(f);

	/* Confirming again changes nothing. */
	assert_int_equal(confirm(f, batch), TL_OK);
	assert_non_null(strstr(f->why, "already confirmed"));
	assert_int_equal(count(f, "SELECT count(*) FROM transfers WHERE kind = 'pay';"), 4);
	invariants(f);

	/* A paid row cannot be returned. */
	assert_int_equal(payouts_batch_return_row(&f->s, "payer.zhou", batch, a.award_id, 0, 3000,
	                                          f->why, sizeof(f->why)),
	                 TL_EDENIED);
	assert_non_null(strstr(f->why, "paid"));

	/* The audit chain names the actions and ids, never a payee. */
	assert_non_null(fp = fopen(f->auditpath, "rb"));
	buf_init(&audit, 1 << 20);
	assert_int_equal(buf_read_file(&audit, fp), TL_OK);
	fclose(fp);
	assert_non_null(strstr(audit.data, "\treveal\tbatch:"));
	assert_non_null(strstr(audit.data, "\texport\tbatch:"));
	assert_non_null(strstr(audit.data, "\tconfirm\tbatch:"));
	assert_null(strstr(audit.data, CANARY));
	{
		/* exactly one confirm: the second one changed nothing */
		const char *p = strstr(audit.data, "\tconfirm\t");
		assert_null(strstr(p + 1, "\tconfirm\t"));
	}
	buf_free(&audit);
}

static void
test_only_eligible_claims(void **state)
{
	struct fx *f = *state;
	struct award_made none, refused, later, ok;
	char batch[ID_HEX_LEN + 1], c[ID_HEX_LEN + 1];
	size_t rows = 0;

	make_award(f, D1, 100000, 1, false, &none);   /* never claimed */
	make_award(f, D1, 100000, 1, false, &refused);
	add_claim(f, refused.report[0], false, 50, c); /* excluded */
	make_award(f, D1, 100000, 1, false, &later);
	add_claim(f, later.report[0], true, 50, c);
	add_claim(f, later.report[0], false, 60, c);  /* a later claim was refused */
	assert_int_equal(export(f, "all", batch, &rows), TL_ENOTFOUND);
	assert_int_equal(f->vault.calls, 0);
	assert_int_equal(count(f, "SELECT count(*) FROM batches;"), 0);
	assert_int_equal(files_in_export(f), 0);

	make_award(f, D1, 100000, 1, true, &ok);
	assert_int_equal(export(f, "all", batch, &rows), TL_OK);
	assert_int_equal(rows, 1);
	assert_int_equal(count(f, "SELECT count(*) FROM batch_rows WHERE award_id = '%s';", ok.award_id), 1);
}

static void
test_district_scope(void **state)
{
	struct fx *f = *state;
	struct award_made a, b;
	char b1[ID_HEX_LEN + 1], b2[ID_HEX_LEN + 1];
	size_t rows = 0;

	make_award(f, D1, 100000, 2, true, &a);
	make_award(f, D2, 100000, 1, true, &b);
	assert_int_equal(export(f, D2, b1, &rows), TL_OK);
	assert_int_equal(rows, 1);
	assert_int_equal(count(f, "SELECT count(*) FROM batch_rows WHERE batch_id = '%s' AND district = '%s';",
	                       b1, D2),
	                 1);
	assert_int_equal(export(f, D2, b2, &rows), TL_ENOTFOUND);
	assert_int_equal(export(f, "all", b2, &rows), TL_OK);
	assert_int_equal(rows, 2);
	assert_int_equal(count(f, "SELECT count(*) FROM batch_rows WHERE batch_id = '%s' AND award_id = '%s';",
	                       b2, a.award_id),
	                 2);
	assert_int_equal(export(f, "120199", b2, &rows), TL_EINVAL);
	assert_int_equal(export_batch_with(&f->s, &f->hooks, "bad payer!", "all", 1, b2, &rows, f->why,
	                                   sizeof(f->why)),
	                 TL_EINVAL);
}

static void
check_abandoned_then_retry(struct fx *f, const char *needle)
{
	char batch[ID_HEX_LEN + 1], state[16];
	size_t rows = 0;

	assert_int_equal(count(f, "SELECT count(*) FROM batches WHERE state = 'abandoned';"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM batch_rows WHERE state = 'abandoned';"), 2);
	assert_int_equal(count(f, "SELECT count(*) FROM batch_rows WHERE state <> 'abandoned';"), 0);
	assert_int_equal(files_in_export(f), 0);
	text_of(f, state, sizeof(state), "SELECT error FROM batches;");
	assert_string_equal(state, needle);

	/* The shares were freed: the next export takes them. */
	f->vault.mode = FAKE_OK;
	assert_int_equal(export(f, "all", batch, &rows), TL_OK);
	assert_int_equal(rows, 2);
	invariants(f);
}

static void
test_vault_refuses(void **state)
{
	struct fx *f = *state;
	struct award_made a;
	char batch[ID_HEX_LEN + 1];
	size_t rows = 0;

	make_award(f, D1, 100000, 2, true, &a);
	f->vault.mode = FAKE_REFUSE;
	assert_int_equal(export(f, "all", batch, &rows), TL_EDENIED);
	assert_non_null(strstr(f->why, a.award_id));
	assert_non_null(strstr(f->why, "\"signature\""));
	assert_non_null(strstr(f->why, "nothing was exported"));
	check_abandoned_then_retry(f, "vault_refused");
}

static void
test_vault_timeout(void **state)
{
	struct fx *f = *state;
	struct award_made a;
	char batch[ID_HEX_LEN + 1];
	size_t rows = 0;

	make_award(f, D1, 100000, 2, true, &a);
	f->vault.mode = FAKE_TIMEOUT;
	assert_int_equal(export(f, "all", batch, &rows), TL_ETIMEOUT);
	assert_non_null(strstr(f->why, a.award_id));
	assert_non_null(strstr(f->why, "did not answer"));
	check_abandoned_then_retry(f, "failed");
}

static void
test_vault_wrong_rows(void **state)
{
	struct fx *f = *state;
	struct award_made a;
	char batch[ID_HEX_LEN + 1];
	size_t rows = 0;

	make_award(f, D1, 100000, 2, true, &a);
	f->vault.mode = FAKE_WRONG_ROWS;
	assert_int_equal(export(f, "all", batch, &rows), TL_EPROTO);
	assert_non_null(strstr(f->why, "does not match"));
	check_abandoned_then_retry(f, "failed");
}

/* An export killed at each point: the next run abandons or completes the
 * batch, never both, and no share ends up in two live batches. */
static void
test_crash_points(void **state)
{
	struct fx *f = *state;
	const enum export_stop stops[] = { EXPORT_STOP_PREPARED, EXPORT_STOP_TMP, EXPORT_STOP_RENAMED };

	for (size_t k = 0; k < TL_ARRAY_LEN(stops); k++) {
		struct award_made a;
		char dead[ID_HEX_LEN + 1], next[ID_HEX_LEN + 1];
		size_t rows = 0;

		make_award(f, D1, 100000, 2, true, &a);
		f->hooks.stop = stops[k];
		assert_int_equal(export(f, "all", dead, &rows), TL_EIO);
		f->hooks.stop = EXPORT_STOP_NONE;
		assert_int_equal(count(f, "SELECT count(*) FROM batches WHERE batch_id = '%s'"
		                          " AND state = 'preparing';", dead),
		                 1);
		/* A confirm of the dead batch first finishes the recovery. */
		if (stops[k] == EXPORT_STOP_RENAMED) {
			assert_int_equal(export(f, "all", next, &rows), TL_ENOTFOUND);
			assert_int_equal(count(f, "SELECT count(*) FROM batches WHERE batch_id = '%s'"
			                          " AND state = 'exported';", dead),
			                 1);
			assert_int_equal(confirm(f, dead), TL_OK);
		} else {
			assert_int_equal(confirm(f, dead), TL_EDENIED);
			assert_non_null(strstr(f->why, "abandoned"));
			assert_int_equal(count(f, "SELECT count(*) FROM batches WHERE batch_id = '%s'"
			                          " AND state = 'abandoned';", dead),
			                 1);
			assert_int_equal(export(f, "all", next, &rows), TL_OK);
			assert_int_equal(rows, 2);
			assert_int_equal(confirm(f, next), TL_OK);
		}
		/* No temporary file is left behind; one file per exported batch. */
		assert_int_equal(files_in_export(f), (int)count(f, "SELECT count(*) FROM batches"
		                                                   " WHERE state IN ('exported','confirmed');"));
		assert_int_equal(count(f, "SELECT count(*) FROM shares WHERE award_id = '%s'"
		                          " AND state = 'paid';", a.award_id),
		                 2);
		invariants(f);
	}
}

static void
test_return_row(void **state)
{
	struct fx *f = *state;
	struct award_made a;
	char batch[ID_HEX_LEN + 1], b2[ID_HEX_LEN + 1], c[ID_HEX_LEN + 1];
	struct cases_claim_row cl;
	size_t rows = 0;

	make_award(f, D1, 100000, 2, true, &a);
	assert_int_equal(export(f, "all", batch, &rows), TL_OK);
	assert_int_equal(payouts_batch_return_row(&f->s, "payer.zhou", batch, a.award_id, 1, 1500,
	                                          f->why, sizeof(f->why)),
	                 TL_OK);
	assert_int_equal(cases_latest_claim(f->s.db, a.report[1], &cl), TL_OK);
	assert_false(cl.eligible);
	assert_string_equal(cl.reason, "bank_rejected");
	/* Returning twice is harmless; an unknown row is not found. */
	assert_int_equal(payouts_batch_return_row(&f->s, "payer.zhou", batch, a.award_id, 1, 1500,
	                                          f->why, sizeof(f->why)),
	                 TL_OK);
	assert_int_equal(payouts_batch_return_row(&f->s, "payer.zhou", batch, a.award_id, 5, 1500,
	                                          f->why, sizeof(f->why)),
	                 TL_ENOTFOUND);

	assert_int_equal(confirm(f, batch), TL_OK);
	assert_int_equal(count(f, "SELECT count(*) FROM shares WHERE award_id = '%s' AND state = 'paid';",
	                       a.award_id),
	                 1);
	assert_int_equal(count(f, "SELECT count(*) FROM shares WHERE award_id = '%s' AND idx = 1"
	                          " AND state = 'open';", a.award_id),
	                 1);
	/* Not exported again until the reporter claims anew ... */
	assert_int_equal(export(f, "all", b2, &rows), TL_ENOTFOUND);
	add_claim(f, a.report[1], true, 5000, c);
	/* ... then exported to the new claim, and paid once. */
	assert_int_equal(export(f, "all", b2, &rows), TL_OK);
	assert_int_equal(rows, 1);
	assert_int_equal(count(f, "SELECT count(*) FROM batch_rows WHERE batch_id = '%s' AND claim_id = '%s';",
	                       b2, c),
	                 1);
	assert_int_equal(confirm(f, b2), TL_OK);
	assert_int_equal(count(f, "SELECT count(*) FROM awards WHERE award_id = '%s' AND status = 'paid';",
	                       a.award_id),
	                 1);
	invariants(f);
}

static void
test_confirm_refusals(void **state)
{
	struct fx *f = *state;
	struct award_made a;
	char batch[ID_HEX_LEN + 1], unknown[ID_HEX_LEN + 1];
	size_t rows = 0;

	id_new(unknown);
	assert_int_equal(confirm(f, unknown), TL_ENOTFOUND);
	assert_int_equal(confirm(f, "not-an-id"), TL_EINVAL);

	/* An award changed behind its signatures is not paid. */
	make_award(f, D1, 100000, 2, true, &a);
	assert_int_equal(export(f, "all", batch, &rows), TL_OK);
	sql(f, "DROP TRIGGER shares_immutable;");
	sql(f, "UPDATE shares SET fen = fen + 1 WHERE award_id = '%s' AND idx = 0;", a.award_id);
	assert_int_not_equal(confirm(f, batch), TL_OK);
	assert_non_null(strstr(f->why, a.award_id));
	assert_int_equal(count(f, "SELECT count(*) FROM transfers WHERE kind = 'pay';"), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM batch_rows WHERE state = 'exported';"), 2);
	assert_int_equal(count(f, "SELECT count(*) FROM batches WHERE state = 'exported';"), 1);
}

static void
test_export_lock(void **state)
{
	struct fx *f = *state;
	struct award_made a;
	char batch[ID_HEX_LEN + 1], path[256];
	size_t rows = 0;
	int fd;

	make_award(f, D1, 100000, 1, true, &a);
	snprintf(path, sizeof(path), "%s/.export.lock", f->exdir);
	assert_true((fd = open(path, O_RDWR | O_CREAT, 0600)) >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	assert_int_equal(export(f, "all", batch, &rows), TL_EUNAVAIL);
	assert_non_null(strstr(f->why, "another export is running"));
	close(fd);
	assert_int_equal(export(f, "all", batch, &rows), TL_OK);

	/* No export folder: a configuration error, nothing booked. */
	f->cfg.export_dir = "/nonexistent/tipline-export";
	make_award(f, D1, 100000, 1, true, &a);
	assert_int_equal(export(f, "all", batch, &rows), TL_ECONFIG);
	f->cfg.export_dir = f->exdir;
	assert_int_equal(count(f, "SELECT count(*) FROM batches;"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_export_and_confirm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_eligible_claims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_district_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vault_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vault_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vault_wrong_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_points, setup, teardown),
		cmocka_unit_test_setup_teardown(test_return_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_confirm_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_lock, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
