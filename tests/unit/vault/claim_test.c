/*
 * claim_test.c - award claims and payee reveal in the vault core, without
 * NATS: sealed claims in, payee rows, eligibility and rejections out;
 * signed reveal requests in, sealed rows or refusal codes out, each one in
 * the audit chain.
 */
#include "compat.h"
#include "audit.h"
#include "awardsig.h"
#include "db.h"
#include "num.h"
#include "payee.h"
#include "pseudonym.h"
#include "secret.h"
#include "vault.h"
#include "wire.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#define GOOD_ID "11010519491231002X"
#define OTHER_ID "120118198001011231"
#define THRESHOLD 10000000

struct staff {
	const char *id, *level;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
};

struct fx {
	char dir[64], path[128], excl[128], appr[128], audit_path[128];
	unsigned char dbkey[DB_KEY_LEN];
	unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
	unsigned char xpk[crypto_box_PUBLICKEYBYTES], xsk[crypto_box_SECRETKEYBYTES]; /* finance export */
	unsigned char pseud[PSEUD_KEY_LEN], exkey[PAYEE_EXCL_KEY_LEN];
	unsigned char apk[AUDIT_PK_BYTES], ask[AUDIT_SK_BYTES];
	struct vault_keys *keys;
	struct db *db;
	struct vault *v;
	struct audit *audit;
	struct staff st[4]; /* proposer, district, district, city */
	uint64_t seq;
};

enum { MAKER, D1, D2, CITY };

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
write_approvers(struct fx *f, int skip)
{
	char hex[2 * crypto_sign_PUBLICKEYBYTES + 1], line[256];
	FILE *o = fopen(f->appr, "w");

	assert_non_null(o);
	fputs("# staff_id level pubkey\n\n", o);
	for (int i = 0; i < 4; i++) {
		if (i == skip)
			continue;
		hex_encode(f->st[i].pk, sizeof(f->st[i].pk), hex);
		snprintf(line, sizeof(line), "%s %s %s\n", f->st[i].id, f->st[i].level, hex);
		fputs(line, o);
	}
	assert_int_equal(fclose(o), 0);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct vault_payees vp;
	static const char *ids[] = { "fin.li", "fin.wang", "fin.zhao", "city.chen" };

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tl_vault_claim.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/vault.db", f->dir);
	snprintf(f->excl, sizeof(f->excl), "%s/exclusions.txt", f->dir);
	snprintf(f->appr, sizeof(f->appr), "%s/approvers.txt", f->dir);
	snprintf(f->audit_path, sizeof(f->audit_path), "%s/audit.tla", f->dir);
	randombytes_buf(f->dbkey, sizeof(f->dbkey));
	randombytes_buf(f->pseud, sizeof(f->pseud));
	randombytes_buf(f->exkey, sizeof(f->exkey));
	crypto_box_keypair(f->pk, f->sk);
	crypto_box_keypair(f->xpk, f->xsk);
	crypto_sign_keypair(f->apk, f->ask);
	for (int i = 0; i < 4; i++) {
		f->st[i].id = ids[i];
		f->st[i].level = i == CITY ? "city" : "district";
		crypto_sign_keypair(f->st[i].pk, f->st[i].sk);
	}
	write_file(f->excl, "# officials\n");
	write_approvers(f, -1);
	assert_int_equal(vault_keys_new(f->sk, f->pk, f->pseud, &f->keys), TL_OK);
	assert_int_equal(db_open(f->path, f->dbkey, DB_CREATE, &f->db), TL_OK);
	assert_int_equal(db_exec(f->db, "PRAGMA synchronous = OFF;"), TL_OK);
	assert_int_equal(vault_open(f->db, f->keys, &f->v), TL_OK);
	assert_int_equal(audit_open(f->audit_path, "vault", f->ask, &f->audit), TL_OK);
	memset(&vp, 0, sizeof(vp));
	vp.exclusion_file = f->excl;
	vp.exclusion_key = f->exkey;
	vp.approvers_file = f->appr;
	memcpy(vp.export_pk, f->xpk, sizeof(vp.export_pk));
	vp.dual_threshold_fen = THRESHOLD;
	vp.audit = f->audit;
	assert_int_equal(vault_payees_attach(f->v, &vp), TL_OK);
	f->seq = 100;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[160];
	const char *files[] = { "vault.db", "vault.db-wal", "vault.db-shm", "exclusions.txt",
		                "approvers.txt", "audit.tla" };

	vault_close(f->v);
	audit_close(f->audit);
	db_close(f->db);
	vault_keys_free(f->keys);
	for (size_t i = 0; i < TL_ARRAY_LEN(files); i++) {
		snprintf(p, sizeof(p), "%s/%s", f->dir, files[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* ---- building messages ---- */

static void
seal(const unsigned char *pk, const char *pt, size_t len, unsigned char **out, size_t *outlen)
{
	*outlen = len + crypto_box_SEALBYTES;
	*out = malloc(*outlen);
	assert_non_null(*out);
	assert_int_equal(crypto_box_seal(*out, (const unsigned char *)pt, len, pk), 0);
}

/* Stores a deposit whose status key is n repeated; returns its report id. */
static void
deposit(struct fx *f, char key_char, char rid[ID_HEX_LEN + 1])
{
	struct wire_identity id;
	struct wire_deposit d;
	struct vault_item it;
	struct buf plain, out;

	memset(&id, 0, sizeof(id));
	memset(&d, 0, sizeof(d));
	buf_init_secret(&plain, WIRE_MAX_MSG);
	buf_init(&out, WIRE_MAX_MSG);
	id_new(d.report_id);
	memcpy(rid, d.report_id, ID_HEX_LEN + 1);
	snprintf(d.channel, sizeof(d.channel), "web");
	d.received_ms = 1700000000000;
	memset(d.status_key, key_char, STATUS_KEY_LEN);
	memcpy(id.report_id, d.report_id, sizeof(id.report_id));
	memcpy(id.channel, d.channel, sizeof(id.channel));
	id.received_ms = d.received_ms;
	id.text = (char *)"静海区某厂生产地条钢";
	assert_int_equal(wire_identity_encode(&id, &plain), TL_OK);
	seal(f->pk, plain.data, plain.len, &d.sealed, &d.sealed_len);
	assert_int_equal(wire_deposit_encode(&d, &out), TL_OK);
	memset(&it, 0, sizeof(it));
	it.subject = WIRE_SUBJ_DEPOSIT_REPORT;
	it.data = out.data;
	it.len = out.len;
	it.stream_seq = f->seq++;
	it.delivered = 1;
	assert_int_equal(vault_store_batch(f->v, &it, 1), TL_OK);
	assert_int_equal(it.outcome, VAULT_STORED);
	free(d.sealed);
	buf_free(&plain);
	buf_free(&out);
}

struct payee_spec {
	const char *name, *id_number, *bank, *account, *phone;
	const char *raw;             /* sealed instead of payee JSON */
	const char *inner_claim_id;  /* NULL: the envelope's */
	bool garbage_seal;
};

static const struct payee_spec good = { "王小明", GOOD_ID, "中国工商银行天津分行", "6222 0202 0011 2233 445",
	                                "138-0013-8000", NULL, NULL, false };

/* Builds a claim for status key char k into out; claim id in cid. */
static void
claim_msg(struct fx *f, char k, const struct payee_spec *s, struct buf *out, char cid[ID_HEX_LEN + 1],
          int64_t received_ms)
{
	struct wire_payclaim c;
	struct wire_payee p;
	struct buf plain;

	memset(&c, 0, sizeof(c));
	memset(&p, 0, sizeof(p));
	buf_init_secret(&plain, WIRE_MAX_MSG);
	id_new(c.claim_id);
	memcpy(cid, c.claim_id, ID_HEX_LEN + 1);
	memset(c.status_key, k, STATUS_KEY_LEN);
	c.received_ms = received_ms;
	snprintf(p.claim_id, sizeof(p.claim_id), "%s", s->inner_claim_id ? s->inner_claim_id : c.claim_id);
	p.name = (char *)s->name;
	p.id_number = (char *)s->id_number;
	p.bank = (char *)s->bank;
	p.account = (char *)s->account;
	p.phone = (char *)s->phone;
	if (s->raw)
		assert_int_equal(buf_append_str(&plain, s->raw), TL_OK);
	else
		assert_int_equal(wire_payee_encode(&p, &plain), TL_OK);
	if (s->garbage_seal) {
		c.sealed_len = plain.len + crypto_box_SEALBYTES;
		c.sealed = malloc(c.sealed_len);
		assert_non_null(c.sealed);
		randombytes_buf(c.sealed, c.sealed_len);
	} else {
		seal(f->pk, plain.data, plain.len, &c.sealed, &c.sealed_len);
	}
	buf_init(out, WIRE_MAX_MSG);
	assert_int_equal(wire_payclaim_encode(&c, out), TL_OK);
	free(c.sealed);
	buf_free(&plain);
}

/* Runs one claim message through the store; returns the item. */
static struct vault_item
run_claim(struct fx *f, const struct buf *msg, uint64_t seq)
{
	struct vault_item it;

	memset(&it, 0, sizeof(it));
	it.subject = WIRE_SUBJ_DEPOSIT_CLAIM;
	it.data = msg->data;
	it.len = msg->len;
	it.stream_seq = seq;
	it.delivered = 1;
	assert_int_equal(vault_store_batch(f->v, &it, 1), TL_OK);
	return it;
}

static struct vault_item
claim(struct fx *f, char k, const struct payee_spec *s, char cid[ID_HEX_LEN + 1], int64_t at)
{
	struct buf msg;
	struct vault_item it;

	claim_msg(f, k, s, &msg, cid, at);
	it = run_claim(f, &msg, f->seq++);
	buf_free(&msg);
	return it;
}

static int64_t
count(struct fx *f, const char *sql)
{
	struct db_stmt *st;
	bool row;
	int64_t n;

	assert_int_equal(db_prepare(f->db, sql, &st), TL_OK);
	assert_int_equal(db_step(st, &row), TL_OK);
	assert_true(row);
	n = db_col_int64(st, 0);
	db_finalize(st);
	return n;
}

static char *
read_all(const char *path)
{
	FILE *fp = fopen(path, "r");
	struct buf b;

	assert_non_null(fp);
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_read_file(&b, fp), TL_OK);
	fclose(fp);
	return buf_detach(&b, NULL);
}

static char *
excl_line(struct fx *f, const char *id)
{
	char norm[PAYEE_ID_LEN + 1];
	unsigned char h[PAYEE_EXCL_HASH_LEN];
	static char hex[PAYEE_EXCL_HEX_LEN + 2];

	assert_int_equal(payee_id_normalise(id, norm), TL_OK);
	payee_excl_hash(f->exkey, norm, h);
	hex_encode(h, sizeof(h), hex);
	hex[PAYEE_EXCL_HEX_LEN] = '\n';
	hex[PAYEE_EXCL_HEX_LEN + 1] = '\0';
	return hex;
}

/* ---- formats ---- */

static void
test_id_numbers(void **state)
{
	char out[PAYEE_ID_LEN + 1];

	(void)state;
	assert_int_equal(payee_id_normalise(GOOD_ID, out), TL_OK);
	assert_int_equal(payee_id_normalise("11010519491231002x", out), TL_OK);
	assert_string_equal(out, GOOD_ID);
	assert_int_equal(payee_id_normalise(" 120118198001011231 ", out), TL_OK);
	assert_int_equal(payee_id_normalise("120118198001011232", out), TL_EINVAL); /* check digit */
	assert_int_equal(payee_id_normalise("110105194912310021", out), TL_EINVAL);
	assert_int_equal(payee_id_normalise("12011819800101123", out), TL_EINVAL);   /* 17 */
	assert_int_equal(payee_id_normalise("1201181980010112311", out), TL_EINVAL); /* 19 */
	assert_int_equal(payee_id_normalise("12011819800101X231", out), TL_EINVAL);
	assert_int_equal(payee_id_normalise("", out), TL_EINVAL);
}

static void
check_one(const struct payee_spec *s, enum payee_verdict want)
{
	struct wire_payee p;
	enum payee_verdict v;

	memset(&p, 0, sizeof(p));
	p.name = strdup(s->name);
	p.id_number = strdup(s->id_number);
	p.bank = strdup(s->bank);
	p.account = strdup(s->account);
	p.phone = strdup(s->phone);
	assert_int_equal(payee_check(&p, &v), TL_OK);
	if (v != want)
		fail_msg("payee %s/%s/%s/%s: verdict %d, want %d", s->name, s->bank, s->account, s->phone, v,
		         want);
	if (want == PAYEE_OK) {
		assert_string_equal(p.account, "6222020200112233445");
		assert_string_equal(p.phone, "13800138000");
	}
	wire_payee_free(&p);
}

static void
test_payee_formats(void **state)
{
	struct payee_spec s;

	(void)state;
	check_one(&good, PAYEE_OK);
	s = good;
	s.id_number = "11010519491231002x";
	check_one(&s, PAYEE_OK);
	s.id_number = "110105194912310021";
	check_one(&s, PAYEE_INVALID_ID);
	s = good;
	s.name = "王小明2";
	check_one(&s, PAYEE_INVALID_PAYEE);
	s.name = "王小明２";
	check_one(&s, PAYEE_INVALID_PAYEE);
	s.name = "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一";
	check_one(&s, PAYEE_INVALID_PAYEE);
	s = good;
	s.bank = "行";
	check_one(&s, PAYEE_INVALID_PAYEE);
	s = good;
	s.account = "12345678901";
	check_one(&s, PAYEE_INVALID_PAYEE);
	s.account = "1234567890123456789012345678901";
	check_one(&s, PAYEE_INVALID_PAYEE);
	s.account = "62220202001122334a";
	check_one(&s, PAYEE_INVALID_PAYEE);
	s = good;
	s.phone = "1380013800";
	check_one(&s, PAYEE_INVALID_PAYEE);
	s.phone = "23800138000";
	check_one(&s, PAYEE_INVALID_PAYEE);
}

/* ---- claims ---- */

static void
test_claim_eligible_and_redelivered(void **state)
{
	struct fx *f = *state;
	char rid[ID_HEX_LEN + 1], cid[ID_HEX_LEN + 1];
	struct buf msg;
	struct vault_item it, again;

	deposit(f, 'a', rid);
	claim_msg(f, 'a', &good, &msg, cid, 1700000100000);
	it = run_claim(f, &msg, 500);
	assert_int_equal(it.outcome, VAULT_STORED);
	assert_true(it.claim);
	assert_true(it.elig.eligible);
	assert_string_equal(it.elig.reason, "");
	assert_string_equal(it.elig.claim_id, cid);
	assert_string_equal(it.elig.report_id, rid);
	assert_true(id_valid(it.elig.payee_ref));
	assert_int_equal(it.elig.at_ms, 1700000100000);
	/* A redelivery republishes the same decision and stores nothing. */
	again = run_claim(f, &msg, 500);
	assert_int_equal(again.outcome, VAULT_DUPLICATE);
	assert_memory_equal(&again.elig, &it.elig, sizeof(it.elig));
	assert_int_equal(count(f, "SELECT count(*) FROM payees;"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM payees WHERE account = '6222020200112233445'"
	                          " AND id_number = '11010519491231002X' AND eligible = 1;"),
	                 1);
	buf_free(&msg);
}

static void
test_claim_refusals(void **state)
{
	struct fx *f = *state;
	char rid[ID_HEX_LEN + 1], cid[ID_HEX_LEN + 1];
	struct payee_spec s = good;
	struct vault_item it;
	char *lines;

	deposit(f, 'b', rid);
	s.id_number = "110105194912310021";
	it = claim(f, 'b', &s, cid, 1);
	assert_int_equal(it.outcome, VAULT_STORED);
	assert_false(it.elig.eligible);
	assert_string_equal(it.elig.reason, "invalid_id");
	s = good;
	s.phone = "12345";
	it = claim(f, 'b', &s, cid, 2);
	assert_false(it.elig.eligible);
	assert_string_equal(it.elig.reason, "invalid_payee");
	/* On the exclusion list (lower-case x typed by the claimant). */
	write_file(f->excl, "# officials\n");
	{
		char text[256];
		snprintf(text, sizeof(text), "# legal representative\n%s", excl_line(f, GOOD_ID));
		write_file(f->excl, text);
	}
	s = good;
	s.id_number = "11010519491231002x";
	it = claim(f, 'b', &s, cid, 3);
	assert_false(it.elig.eligible);
	assert_string_equal(it.elig.reason, "excluded");
	/* Someone else is still eligible. */
	s.id_number = OTHER_ID;
	it = claim(f, 'b', &s, cid, 4);
	assert_true(it.elig.eligible);
	assert_int_equal(count(f, "SELECT count(*) FROM payees WHERE report_id IS NOT NULL;"), 4);
	/* The list changed on disk: read again, no longer excluded. */
	write_file(f->excl, "# emptied\n\n");
	s.id_number = GOOD_ID;
	it = claim(f, 'b', &s, cid, 5);
	assert_true(it.elig.eligible);
	/* A broken list decides nothing: the claim waits. */
	write_file(f->excl, "not-a-hash\n");
	it = claim(f, 'b', &good, cid, 6);
	assert_int_equal(it.outcome, VAULT_RETRY);
	unlink(f->excl);
	it = claim(f, 'b', &good, cid, 7);
	assert_int_equal(it.outcome, VAULT_RETRY);
	assert_int_equal(count(f, "SELECT count(*) FROM payees;"), 5);
	/* Every decision is in the audit chain, with ids and codes only. */
	audit_close(f->audit);
	f->audit = NULL;
	lines = read_all(f->audit_path);
	assert_non_null(strstr(lines, "\tclaim_refused\tclaim:"));
	assert_non_null(strstr(lines, "\texcluded\t"));
	assert_non_null(strstr(lines, "\tinvalid_id\t"));
	assert_non_null(strstr(lines, "\tclaim_eligible\tclaim:"));
	assert_null(strstr(lines, "1201181980"));
	assert_null(strstr(lines, "13800138000"));
	free(lines);
	{
		struct audit_report r;
		assert_int_equal(audit_verify(f->audit_path, f->apk, &r), TL_OK);
		assert_int_equal(r.entries, 5);
	}
}

static void
test_claim_rejections(void **state)
{
	struct fx *f = *state;
	char rid[ID_HEX_LEN + 1], cid[ID_HEX_LEN + 1];
	struct payee_spec s = good;
	struct vault_item it;

	deposit(f, 'c', rid);
	/* No deposit has this status key. */
	it = claim(f, 'd', &good, cid, 1);
	assert_int_equal(it.outcome, VAULT_REJECTED);
	assert_string_equal(vault_reason_name(it.reason), "unknown_receipt");
	/* A seal that does not open. */
	s.garbage_seal = true;
	it = claim(f, 'c', &s, cid, 2);
	assert_int_equal(it.outcome, VAULT_REJECTED);
	assert_string_equal(vault_reason_name(it.reason), "open");
	/* Opens, but is not payee JSON. */
	s = good;
	s.raw = "{\"v\":1,\"type\":\"payee\"}";
	it = claim(f, 'c', &s, cid, 3);
	assert_int_equal(it.outcome, VAULT_REJECTED);
	assert_string_equal(vault_reason_name(it.reason), "payee");
	/* The sealed claim id is not the envelope's. */
	s = good;
	s.inner_claim_id = "0123456789abcdef0123456789abcdef";
	it = claim(f, 'c', &s, cid, 4);
	assert_int_equal(it.outcome, VAULT_REJECTED);
	assert_string_equal(vault_reason_name(it.reason), "mismatch");
	/* Not a claim envelope at all. */
	{
		struct buf junk;
		buf_init(&junk, 100);
		assert_int_equal(buf_append_str(&junk, "{\"v\":1}"), TL_OK);
		it = run_claim(f, &junk, 999);
		assert_int_equal(it.outcome, VAULT_REJECTED);
		assert_string_equal(vault_reason_name(it.reason), "envelope");
		buf_free(&junk);
	}
	assert_int_equal(count(f, "SELECT count(*) FROM payees;"), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM rejected;"), 5);
	assert_int_equal(count(f, "SELECT count(*) FROM rejected WHERE reason = 'unknown_receipt'"
	                          " AND claim_id IS NOT NULL;"),
	                 1);
}

/* ---- reveal ---- */

struct award_fx {
	struct awardsig a;
	char text[AWARDSIG_TEXT_MAX + 1];
	size_t len;
};

static void
award_make(struct award_fx *w, int64_t total, const char *r0, const char *r1)
{
	char why[200];

	memset(w, 0, sizeof(*w));
	w->a.decision = AWARDSIG_APPROVE;
	id_new(w->a.award_id);
	w->a.version = 1;
	id_new(w->a.case_id);
	snprintf(w->a.district, sizeof(w->a.district), "120118");
	w->a.budget_year = 2026;
	w->a.computed_fen = w->a.total_fen = total;
	snprintf(w->a.payee_ref, sizeof(w->a.payee_ref), "claims");
	snprintf(w->a.proposer, sizeof(w->a.proposer), "fin.li");
	w->a.required_approvals = total > THRESHOLD ? 2 : 1;
	w->a.need_city = total > THRESHOLD;
	w->a.n_shares = r1 ? 2 : 1;
	snprintf(w->a.shares[0].report_id, sizeof(w->a.shares[0].report_id), "%s", r0);
	w->a.shares[0].fen = r1 ? total - total / 2 : total;
	w->a.shares[0].kind = AWARDSIG_FIRST;
	if (r1) {
		snprintf(w->a.shares[1].report_id, sizeof(w->a.shares[1].report_id), "%s", r1);
		w->a.shares[1].fen = total / 2;
		w->a.shares[1].kind = AWARDSIG_SIMULTANEOUS;
	}
	assert_int_equal(awardsig_format(&w->a, w->text, sizeof(w->text), &w->len, why, sizeof(why)), TL_OK);
}

/* Sends a request signed by the given staff over text and returns the
 * decoded reply. */
static void
reveal(struct fx *f, const char *text, const int *who, size_t n, const struct wire_reveal_share *sh,
       size_t nsh, struct wire_reveal_rep *rep)
{
	struct wire_reveal_req req;
	struct buf msg, reply;

	memset(&req, 0, sizeof(req));
	id_new(req.request_id);
	id_new(req.batch_id);
	req.award = (char *)text;
	req.n_approvals = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(req.approvals[i].staff_id, sizeof(req.approvals[i].staff_id), "%s", f->st[who[i]].id);
		crypto_sign_detached(req.approvals[i].sig, NULL, (const unsigned char *)text, strlen(text),
		                     f->st[who[i]].sk);
	}
	req.n_shares = nsh;
	memcpy(req.shares, sh, nsh * sizeof(*sh));
	buf_init(&msg, WIRE_MAX_MSG);
	buf_init(&reply, WIRE_MAX_MSG);
	assert_int_equal(wire_reveal_req_encode(&req, &msg), TL_OK);
	assert_int_equal(vault_reveal(f->v, msg.data, msg.len, &reply), TL_OK);
	assert_int_equal(wire_reveal_rep_decode(reply.data, reply.len, rep), TL_OK);
	assert_string_equal(rep->request_id, req.request_id);
	buf_free(&msg);
	buf_free(&reply);
}

static void
expect_refusal(struct fx *f, const char *text, const int *who, size_t n,
               const struct wire_reveal_share *sh, size_t nsh, const char *code)
{
	struct wire_reveal_rep rep;

	reveal(f, text, who, n, sh, nsh, &rep);
	if (rep.ok || strcmp(rep.error, code) != 0)
		fail_msg("expected refusal %s, got ok=%d error=%s", code, rep.ok, rep.error);
	assert_int_equal(rep.n_rows, 0);
	wire_reveal_rep_free(&rep);
}

static void
share(struct wire_reveal_share *s, int idx, const char *rid, const char *ref)
{
	s->share_idx = idx;
	snprintf(s->report_id, sizeof(s->report_id), "%s", rid);
	snprintf(s->payee_ref, sizeof(s->payee_ref), "%s", ref);
}

static void
test_reveal(void **state)
{
	struct fx *f = *state;
	char r0[ID_HEX_LEN + 1], r1[ID_HEX_LEN + 1], cid[ID_HEX_LEN + 1];
	char ref0[ID_HEX_LEN + 1], ref1_old[ID_HEX_LEN + 1], ref1[ID_HEX_LEN + 1], ref_bad[ID_HEX_LEN + 1];
	struct payee_spec s = good;
	struct vault_item it;
	struct award_fx big, small;
	struct wire_reveal_share sh[2];
	struct wire_reveal_rep rep;
	const int d1_city[] = { D1, CITY }, d1_d2[] = { D1, D2 }, city[] = { CITY }, d1[] = { D1 },
	          maker_city[] = { MAKER, CITY }, d1_d1[] = { D1, D1 };
	char *chain;

	deposit(f, 'e', r0);
	deposit(f, 'f', r1);
	it = claim(f, 'e', &good, cid, 10);
	memcpy(ref0, it.elig.payee_ref, sizeof(ref0));
	s.id_number = OTHER_ID;
	s.name = "李四";
	it = claim(f, 'f', &s, cid, 10);
	memcpy(ref1_old, it.elig.payee_ref, sizeof(ref1_old));
	s.account = "622202020011223344556";
	it = claim(f, 'f', &s, cid, 20); /* the reporter claims again: this one counts */
	memcpy(ref1, it.elig.payee_ref, sizeof(ref1));

	award_make(&big, 20000000, r0, r1);
	share(&sh[0], 0, r0, ref0);
	share(&sh[1], 1, r1, ref1);
	reveal(f, big.text, d1_city, 2, sh, 2, &rep);
	assert_true(rep.ok);
	assert_int_equal(rep.n_rows, 2);
	for (size_t i = 0; i < 2; i++) {
		unsigned char *pt = malloc(rep.rows[i].sealed_len);
		struct wire_payee p;

		assert_non_null(pt);
		assert_int_equal(rep.rows[i].share_idx, (int)i);
		assert_int_equal(crypto_box_seal_open(pt, rep.rows[i].sealed, rep.rows[i].sealed_len, f->xpk,
		                                      f->xsk),
		                 0);
		assert_int_equal(wire_payee_decode((const char *)pt, rep.rows[i].sealed_len - crypto_box_SEALBYTES,
		                                   &p),
		                 TL_OK);
		assert_string_equal(p.name, i == 0 ? "王小明" : "李四");
		assert_string_equal(p.id_number, i == 0 ? GOOD_ID : OTHER_ID);
		assert_string_equal(p.account, i == 0 ? "6222020200112233445" : "622202020011223344556");
		/* Sealed to the export key only: the vault's own key cannot open it. */
		assert_int_not_equal(crypto_box_seal_open(pt, rep.rows[i].sealed, rep.rows[i].sealed_len,
		                                          f->pk, f->sk),
		                     0);
		wire_payee_free(&p);
		free(pt);
	}
	wire_reveal_rep_free(&rep);

	/* Tampered amount: the signatures are over the original text. */
	{
		char t[AWARDSIG_TEXT_MAX + 1];
		struct wire_reveal_req req;
		struct buf msg, reply;
		char *p;

		memcpy(t, big.text, big.len + 1);
		memset(&req, 0, sizeof(req));
		id_new(req.request_id);
		id_new(req.batch_id);
		req.n_approvals = 2;
		for (int i = 0; i < 2; i++) {
			snprintf(req.approvals[i].staff_id, sizeof(req.approvals[i].staff_id), "%s",
			         f->st[d1_city[i]].id);
			crypto_sign_detached(req.approvals[i].sig, NULL, (const unsigned char *)big.text, big.len,
			                     f->st[d1_city[i]].sk);
		}
		p = strstr(t, "share=1,");
		assert_non_null(p);
		p = strstr(p, ",10000000,");
		assert_non_null(p);
		memcpy(p, ",10000001,", 10);
		p = strstr(t, "share=0,");
		p = strstr(p, ",10000000,");
		memcpy(p, ",09999999,", 10); /* keeps the sum; not canonical either */
		req.award = t;
		req.n_shares = 2;
		memcpy(req.shares, sh, sizeof(sh));
		buf_init(&msg, WIRE_MAX_MSG);
		buf_init(&reply, WIRE_MAX_MSG);
		assert_int_equal(wire_reveal_req_encode(&req, &msg), TL_OK);
		assert_int_equal(vault_reveal(f->v, msg.data, msg.len, &reply), TL_OK);
		assert_int_equal(wire_reveal_rep_decode(reply.data, reply.len, &rep), TL_OK);
		assert_false(rep.ok);
		assert_string_equal(rep.error, "bad_request");
		buf_free(&msg);
		buf_free(&reply);
	}
	{
		/* A canonical text with a changed amount, signed over the old one. */
		struct award_fx moved = big;
		char why[200];
		struct wire_reveal_req req;
		struct buf msg, reply;

		moved.a.shares[0].fen += 1;
		moved.a.total_fen += 1;
		moved.a.computed_fen += 1;
		assert_int_equal(awardsig_format(&moved.a, moved.text, sizeof(moved.text), &moved.len, why,
		                                 sizeof(why)),
		                 TL_OK);
		memset(&req, 0, sizeof(req));
		id_new(req.request_id);
		id_new(req.batch_id);
		req.award = moved.text;
		req.n_approvals = 2;
		for (int i = 0; i < 2; i++) {
			snprintf(req.approvals[i].staff_id, sizeof(req.approvals[i].staff_id), "%s",
			         f->st[d1_city[i]].id);
			crypto_sign_detached(req.approvals[i].sig, NULL, (const unsigned char *)big.text, big.len,
			                     f->st[d1_city[i]].sk);
		}
		req.n_shares = 2;
		memcpy(req.shares, sh, sizeof(sh));
		buf_init(&msg, WIRE_MAX_MSG);
		buf_init(&reply, WIRE_MAX_MSG);
		assert_int_equal(wire_reveal_req_encode(&req, &msg), TL_OK);
		assert_int_equal(vault_reveal(f->v, msg.data, msg.len, &reply), TL_OK);
		assert_int_equal(wire_reveal_rep_decode(reply.data, reply.len, &rep), TL_OK);
		assert_false(rep.ok);
		assert_string_equal(rep.error, "signature");
		buf_free(&msg);
		buf_free(&reply);
	}
	/* Self-approval, one approver above the threshold, no city approver,
	 * the same approver twice. */
	expect_refusal(f, big.text, maker_city, 2, sh, 2, "rules");
	expect_refusal(f, big.text, city, 1, sh, 2, "rules");
	expect_refusal(f, big.text, d1_d2, 2, sh, 2, "rules");
	expect_refusal(f, big.text, d1_d1, 2, sh, 2, "rules");
	/* Unknown staff: removed from the approvers file. */
	write_approvers(f, D2);
	{
		const int d2_city[] = { D2, CITY };
		expect_refusal(f, big.text, d2_city, 2, sh, 2, "signature");
	}
	write_approvers(f, -1);
	/* payee_ref that is not the report's latest claim. */
	share(&sh[1], 1, r1, ref1_old);
	expect_refusal(f, big.text, d1_city, 2, sh, 2, "unknown_payee");
	/* ...or another report's payee. */
	share(&sh[1], 1, r1, ref0);
	expect_refusal(f, big.text, d1_city, 2, sh, 2, "unknown_payee");
	/* A share the approvers did not sign. */
	share(&sh[1], 1, r0, ref0);
	expect_refusal(f, big.text, d1_city, 2, sh, 2, "rules");
	share(&sh[1], 1, r1, ref1);
	/* Not eligible: the latest claim of r0 is on the exclusion list. */
	write_file(f->excl, excl_line(f, GOOD_ID));
	it = claim(f, 'e', &good, cid, 30);
	assert_string_equal(it.elig.reason, "excluded");
	memcpy(ref_bad, it.elig.payee_ref, sizeof(ref_bad));
	share(&sh[0], 0, r0, ref_bad);
	expect_refusal(f, big.text, d1_city, 2, sh, 2, "not_eligible");
	/* ...and the older eligible claim no longer counts. */
	share(&sh[0], 0, r0, ref0);
	expect_refusal(f, big.text, d1_city, 2, sh, 2, "unknown_payee");
	/* A small award: one district approver is enough, one share only. */
	award_make(&small, 500000, r1, NULL);
	share(&sh[0], 0, r1, ref1);
	reveal(f, small.text, d1, 1, sh, 1, &rep);
	assert_true(rep.ok);
	assert_int_equal(rep.n_rows, 1);
	wire_reveal_rep_free(&rep);
	/* Garbage request. */
	{
		struct buf reply;
		buf_init(&reply, WIRE_MAX_MSG);
		assert_int_equal(vault_reveal(f->v, "{]", 2, &reply), TL_OK);
		assert_int_equal(wire_reveal_rep_decode(reply.data, reply.len, &rep), TL_OK);
		assert_false(rep.ok);
		assert_string_equal(rep.error, "bad_request");
		buf_free(&reply);
	}

	/* The chain: reveals with the approvers as actor, every refusal with
	 * its code, no identity, and it verifies. */
	audit_close(f->audit);
	f->audit = NULL;
	chain = read_all(f->audit_path);
	assert_non_null(strstr(chain, "\tfin.wang+city.chen\treveal\taward:"));
	assert_non_null(strstr(chain, "\tfin.wang\treveal\taward:"));
	assert_non_null(strstr(chain, "\treveal_refused\taward:"));
	assert_non_null(strstr(chain, "\tsignature\t"));
	assert_non_null(strstr(chain, "\trules\t"));
	assert_non_null(strstr(chain, "\tunknown_payee\t"));
	assert_non_null(strstr(chain, "\tnot_eligible\t"));
	assert_non_null(strstr(chain, "\tbad_request\t"));
	assert_null(strstr(chain, "6222020200112233445"));
	assert_null(strstr(chain, "110105194912"));
	free(chain);
	{
		struct audit_report r;
		assert_int_equal(audit_verify(f->audit_path, f->apk, &r), TL_OK);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_numbers),
		cmocka_unit_test(test_payee_formats),
		cmocka_unit_test_setup_teardown(test_claim_eligible_and_redelivered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_rejections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reveal, setup, teardown),
	};

	if (secret_init() != TL_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
