#include "compat.h"
#include "internal.h"
#include "log.h"
#include "num.h"
#include "pseudonym.h"
#include "secret.h"
#include "timefmt.h"
#include "wire.h"

#include <sodium.h>

/* Schema of the vault database.  Append steps; never edit a released one.
 * Identity columns are plain TEXT: the whole file (and its WAL) is
 * encrypted by SQLCipher, and nothing of it ever leaves the vault. */
static const struct db_migration vault_steps[] = {
	{ "deposits, reporter keys, rejections",
	  "CREATE TABLE deposits ("
	  " report_id TEXT PRIMARY KEY CHECK (length(report_id) = 32),"
	  " channel TEXT NOT NULL,"
	  " received_at INTEGER NOT NULL," /* ms since the epoch, from the sealed identity */
	  " stored_at INTEGER NOT NULL,"
	  " status_key TEXT NOT NULL CHECK (length(status_key) = 64),"
	  " name TEXT, phone TEXT, email TEXT, id_number TEXT, wechat TEXT,"
	  " text TEXT NOT NULL,"
	  " location TEXT,"
	  " channel_msg_id TEXT,"
	  " pseudonym TEXT CHECK (pseudonym IS NULL OR length(pseudonym) = 64),"
	  " pseudonym_kind TEXT,"
	  " stream_seq INTEGER NOT NULL"
	  ");"
	  "CREATE INDEX deposits_pseudonym ON deposits (pseudonym);"
	  "CREATE TABLE reporter_keys ("
	  " pseudonym TEXT NOT NULL CHECK (length(pseudonym) = 64),"
	  " kind TEXT NOT NULL CHECK (kind IN ('id_number','phone','email','wechat')),"
	  " report_id TEXT NOT NULL REFERENCES deposits (report_id),"
	  " PRIMARY KEY (pseudonym, report_id)"
	  ") WITHOUT ROWID;"
	  "CREATE INDEX reporter_keys_report ON reporter_keys (report_id);"
	  "CREATE TABLE rejected ("
	  " id INTEGER PRIMARY KEY,"
	  " stream_seq INTEGER NOT NULL,"
	  " digest TEXT NOT NULL," /* keyed hash of the raw message: dedups redeliveries */
	  " reason TEXT NOT NULL CHECK (reason IN"
	  "  ('subject','envelope','open','identity','mismatch','store')),"
	  " report_id TEXT," /* from the envelope when it was readable */
	  " delivered INTEGER NOT NULL,"
	  " rejected_at INTEGER NOT NULL,"
	  " UNIQUE (stream_seq, digest)"
	  ");" },
	/* Issue 5: a claim names its report by status key (the keyed hash of
	 * the receipt); the payee it carries gets a random payee_ref, the
	 * only name anything outside the vault ever uses for it.  A report
	 * may be claimed several times (after a refusal): the latest claim by
	 * received_at counts.  claim_id UNIQUE makes a redelivery idempotent.
	 * rejected gains the claim reasons (SQLite cannot alter a CHECK, so
	 * the table is rebuilt) and the claim id of a rejected claim. */
	{ "award claims: payees, claim rejections",
	  "CREATE INDEX deposits_status_key ON deposits (status_key);"
	  "CREATE TABLE payees ("
	  " payee_ref TEXT PRIMARY KEY CHECK (length(payee_ref) = 32),"
	  " claim_id TEXT NOT NULL UNIQUE CHECK (length(claim_id) = 32),"
	  " report_id TEXT NOT NULL REFERENCES deposits (report_id),"
	  " name TEXT NOT NULL, id_number TEXT NOT NULL, bank TEXT NOT NULL,"
	  " account TEXT NOT NULL, phone TEXT NOT NULL,"
	  " received_at INTEGER NOT NULL," /* ms, when intake took the claim */
	  " stored_at INTEGER NOT NULL,"
	  " eligible INTEGER NOT NULL CHECK (eligible IN (0, 1)),"
	  " reason TEXT CHECK ((eligible = 1 AND reason IS NULL) OR"
	  "  (eligible = 0 AND reason IN ('excluded','invalid_id','invalid_payee'))),"
	  " stream_seq INTEGER NOT NULL"
	  ");"
	  "CREATE INDEX payees_report ON payees (report_id, received_at);"
	  "CREATE TABLE rejected2 ("
	  " id INTEGER PRIMARY KEY,"
	  " stream_seq INTEGER NOT NULL,"
	  " digest TEXT NOT NULL,"
	  " reason TEXT NOT NULL CHECK (reason IN"
	  "  ('subject','envelope','open','identity','mismatch','store','unknown_receipt','payee')),"
	  " report_id TEXT,"
	  " claim_id TEXT CHECK (claim_id IS NULL OR length(claim_id) = 32),"
	  " delivered INTEGER NOT NULL,"
	  " rejected_at INTEGER NOT NULL,"
	  " UNIQUE (stream_seq, digest)"
	  ");"
	  "INSERT INTO rejected2 (id, stream_seq, digest, reason, report_id, delivered, rejected_at)"
	  " SELECT id, stream_seq, digest, reason, report_id, delivered, rejected_at FROM rejected;"
	  "DROP TABLE rejected;"
	  "ALTER TABLE rejected2 RENAME TO rejected;" },
};

static const char *const reason_names[] = {
	[VAULT_R_NONE] = "none",         [VAULT_R_SUBJECT] = "subject",
	[VAULT_R_ENVELOPE] = "envelope", [VAULT_R_OPEN] = "open",
	[VAULT_R_IDENTITY] = "identity", [VAULT_R_MISMATCH] = "mismatch",
	[VAULT_R_STORE] = "store",       [VAULT_R_UNKNOWN_RECEIPT] = "unknown_receipt",
	[VAULT_R_PAYEE] = "payee",
};

const char *
vault_reason_name(enum vault_reason r)
{
	return (unsigned)r < TL_ARRAY_LEN(reason_names) ? reason_names[r] : "?";
}

enum tl_err
vault_open(struct db *db, struct vault_keys *keys, struct vault **out)
{
	struct vault *v = calloc(1, sizeof(*v));
	enum tl_err e;

	*out = NULL;
	if (!v)
		return TL_ENOMEM;
	v->db = db;
	v->keys = keys;
	if (pthread_mutex_init(&v->lock, NULL) != 0) {
		free(v);
		return TL_ENOMEM;
	}
	if ((e = db_migrate(db, "vault", vault_steps, TL_ARRAY_LEN(vault_steps), NULL)) != TL_OK)
		goto fail;
	/* INSERT OR IGNORE: a redelivered deposit (crash between COMMIT and
	 * ack, or an intake retry) leaves the first copy untouched. */
	if ((e = db_prepare(db,
	                    "INSERT OR IGNORE INTO deposits (report_id, channel, received_at, stored_at,"
	                    " status_key, name, phone, email, id_number, wechat, text, location,"
	                    " channel_msg_id, pseudonym, pseudonym_kind, stream_seq)"
	                    " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16);",
	                    &v->ins_deposit)) != TL_OK ||
	    (e = db_prepare(db,
	                    "INSERT OR IGNORE INTO reporter_keys (pseudonym, kind, report_id)"
	                    " VALUES (?1, ?2, ?3);",
	                    &v->ins_key)) != TL_OK ||
	    (e = db_prepare(db,
	                    "INSERT OR IGNORE INTO rejected (stream_seq, digest, reason, report_id,"
	                    " delivered, rejected_at, claim_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7);",
	                    &v->ins_reject)) != TL_OK ||
	    (e = vault_claim_prepare(v)) != TL_OK)
		goto fail;
	*out = v;
	return TL_OK;
fail:
	vault_close(v);
	return e;
}

void
vault_close(struct vault *v)
{
	if (!v)
		return;
	db_finalize(v->ins_deposit);
	db_finalize(v->ins_key);
	db_finalize(v->ins_reject);
	vault_claim_finalize(v);
	payee_excl_free(v->excl);
	secret_free(v->excl_key);
	free(v->approvers_file);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

/* ---- one deposit ---- */

/* Opens the sealed identity.  TL_ECRYPTO if it does not open with our
 * key (tampered, or sealed to another key). */
static enum tl_err
open_sealed(struct vault_keys *k, const struct wire_deposit *d, unsigned char **pt, size_t *ptlen)
{
	size_t n = d->sealed_len - crypto_box_SEALBYTES; /* decode guarantees > SEALBYTES */
	unsigned char *p = sodium_malloc(n);
	int rc;

	*pt = NULL;
	if (!p)
		return TL_ENOMEM;
	sodium_mprotect_readonly(k->box_sk);
	rc = crypto_box_seal_open(p, d->sealed, d->sealed_len, k->box_pk, k->box_sk);
	sodium_mprotect_noaccess(k->box_sk);
	if (rc != 0) {
		sodium_free(p);
		return TL_ECRYPTO;
	}
	*pt = p;
	*ptlen = n;
	return TL_OK;
}

static enum tl_err
bind_deposit(struct vault *v, const struct wire_deposit *d, const struct wire_identity *id,
             const struct pseud_set *ps, uint64_t seq)
{
	struct db_stmt *st = v->ins_deposit;
	const char *pseud = ps->strongest >= 0 ? ps->hex[ps->strongest] : NULL;
	const char *kind = ps->strongest >= 0 ? pseud_kind_name((enum pseud_kind)ps->strongest) : NULL;
	enum tl_err e;

	if ((e = db_bind_text(st, 1, d->report_id)) != TL_OK ||
	    (e = db_bind_text(st, 2, id->channel)) != TL_OK ||
	    (e = db_bind_int64(st, 3, id->received_ms)) != TL_OK ||
	    (e = db_bind_int64(st, 4, time_now_ms())) != TL_OK ||
	    (e = db_bind_text(st, 5, d->status_key)) != TL_OK ||
	    (e = db_bind_text(st, 6, id->contact.name)) != TL_OK ||
	    (e = db_bind_text(st, 7, id->contact.phone)) != TL_OK ||
	    (e = db_bind_text(st, 8, id->contact.email)) != TL_OK ||
	    (e = db_bind_text(st, 9, id->contact.id_number)) != TL_OK ||
	    (e = db_bind_text(st, 10, id->contact.wechat)) != TL_OK ||
	    (e = db_bind_text(st, 11, id->text)) != TL_OK ||
	    (e = db_bind_text(st, 12, id->location)) != TL_OK ||
	    (e = db_bind_text(st, 13, id->channel_msg_id)) != TL_OK ||
	    (e = db_bind_text(st, 14, pseud)) != TL_OK || (e = db_bind_text(st, 15, kind)) != TL_OK ||
	    (e = db_bind_int64(st, 16, seq > INT64_MAX ? INT64_MAX : (int64_t)seq)) != TL_OK)
		return e;
	return TL_OK;
}

/* Inserts the deposit and its reporter keys under a savepoint, so that a
 * row refused by a constraint is undone alone and rejected, not retried. */
static enum tl_err
insert(struct vault *v, struct vault_item *it, const struct wire_deposit *d,
       const struct wire_identity *id)
{
	struct pseud_set ps;
	enum tl_err e;
	bool fresh;

	sodium_mprotect_readonly(v->keys->pseud);
	pseud_from_contact(v->keys->pseud, &id->contact, &ps);
	sodium_mprotect_noaccess(v->keys->pseud);
	if ((e = db_savepoint(v->db, "deposit")) != TL_OK)
		return e;
	if ((e = bind_deposit(v, d, id, &ps, it->stream_seq)) != TL_OK ||
	    (e = db_step(v->ins_deposit, NULL)) != TL_OK)
		goto out;
	fresh = db_changes(v->db) == 1;
	for (int k = 0; fresh && k < PSEUD_NKINDS; k++) {
		if (!ps.has[k])
			continue;
		db_reset(v->ins_key);
		if ((e = db_bind_text(v->ins_key, 1, ps.hex[k])) != TL_OK ||
		    (e = db_bind_text(v->ins_key, 2, pseud_kind_name((enum pseud_kind)k))) != TL_OK ||
		    (e = db_bind_text(v->ins_key, 3, d->report_id)) != TL_OK ||
		    (e = db_step(v->ins_key, NULL)) != TL_OK)
			goto out;
	}
	it->outcome = fresh ? VAULT_STORED : VAULT_DUPLICATE;
out:
	db_reset(v->ins_deposit);
	db_reset(v->ins_key);
	if (e == TL_OK)
		e = db_release(v->db, "deposit");
	else
		db_rollback_to(v->db, "deposit");
	if (e == TL_ECONFLICT) {
		it->outcome = VAULT_REJECTED;
		it->reason = VAULT_R_STORE;
		e = TL_OK;
	}
	sodium_memzero(&ps, sizeof(ps));
	return e;
}

/* Decides one item.  Returns TL_OK when the item has an outcome (stored,
 * duplicate, or to be rejected); anything else aborts the batch. */
static enum tl_err
process(struct vault *v, struct vault_item *it)
{
	struct wire_deposit d;
	struct wire_identity id;
	unsigned char *pt = NULL;
	size_t ptlen = 0;
	enum tl_err e;

	memset(&id, 0, sizeof(id));
	it->outcome = VAULT_REJECTED;
	it->reason = VAULT_R_NONE;
	it->report_id[0] = '\0';
	it->claim = it->fresh = false;
	it->claim_id[0] = '\0';
	if (it->subject && v->payees && strcmp(it->subject, WIRE_SUBJ_DEPOSIT_CLAIM) == 0)
		return vault_claim_process(v, it);
	if (it->subject && strcmp(it->subject, WIRE_SUBJ_DEPOSIT_REPORT) != 0) {
		it->reason = VAULT_R_SUBJECT;
		return TL_OK;
	}
	if ((e = wire_deposit_decode(it->data, it->len, &d)) != TL_OK) {
		it->reason = VAULT_R_ENVELOPE;
		return e == TL_ENOMEM ? e : TL_OK;
	}
	memcpy(it->report_id, d.report_id, sizeof(it->report_id));
	if ((e = open_sealed(v->keys, &d, &pt, &ptlen)) != TL_OK) {
		it->reason = VAULT_R_OPEN;
		e = e == TL_ENOMEM ? e : TL_OK;
		goto out;
	}
	if ((e = wire_identity_decode((const char *)pt, ptlen, &id)) != TL_OK) {
		it->reason = VAULT_R_IDENTITY;
		e = e == TL_ENOMEM ? e : TL_OK;
		goto out;
	}
	/* The envelope is routing metadata written by intake next to the
	 * sealed box; only the sealed copy is authoritative.  If they
	 * disagree, something upstream is broken or forging: keep neither. */
	if (strcmp(id.report_id, d.report_id) != 0 || strcmp(id.channel, d.channel) != 0) {
		it->reason = VAULT_R_MISMATCH;
		e = TL_OK;
		goto out;
	}
	e = insert(v, it, &d, &id);
out:
	wire_identity_free(&id);
	if (pt)
		sodium_free(pt); /* wipes the plaintext identity */
	wire_deposit_free(&d);
	return e;
}

static enum tl_err
record_reject(struct vault *v, struct vault_item *it)
{
	struct db_stmt *st = v->ins_reject;
	unsigned char h[16];
	char digest[2 * sizeof(h) + 1];
	enum tl_err e;

	/* A keyed digest tells a redelivery of the same poison message from a
	 * different message at a reused sequence, without keeping content. */
	sodium_mprotect_readonly(v->keys->pseud);
	crypto_generichash(h, sizeof(h), (const unsigned char *)it->data, it->len, v->keys->pseud,
	                   PSEUD_KEY_LEN);
	sodium_mprotect_noaccess(v->keys->pseud);
	hex_encode(h, sizeof(h), digest);
	if ((e = db_bind_int64(st, 1, it->stream_seq > INT64_MAX ? INT64_MAX : (int64_t)it->stream_seq)) ==
	            TL_OK &&
	    (e = db_bind_text(st, 2, digest)) == TL_OK &&
	    (e = db_bind_text(st, 3, vault_reason_name(it->reason))) == TL_OK &&
	    (e = db_bind_text(st, 4, it->report_id[0] ? it->report_id : NULL)) == TL_OK &&
	    (e = db_bind_int64(st, 5, it->delivered > INT64_MAX ? INT64_MAX : (int64_t)it->delivered)) ==
	            TL_OK &&
	    (e = db_bind_int64(st, 6, time_now_ms())) == TL_OK &&
	    (e = db_bind_text(st, 7, it->claim && it->claim_id[0] ? it->claim_id : NULL)) == TL_OK &&
	    (e = db_step(st, NULL)) == TL_OK)
		it->fresh = db_changes(v->db) == 1;
	db_reset(st);
	return e;
}

static enum tl_err store_batch(struct vault *v, struct vault_item *items, size_t n);

enum tl_err
vault_store_batch(struct vault *v, struct vault_item *items, size_t n)
{
	enum tl_err e;

	pthread_mutex_lock(&v->lock);
	e = store_batch(v, items, n);
	pthread_mutex_unlock(&v->lock);
	/* Audit after COMMIT and outside the database lock: an entry never
	 * describes something that was rolled back. */
	for (size_t i = 0; e == TL_OK && i < n; i++)
		if (items[i].claim)
			vault_claim_audit(v, &items[i]);
	return e;
}

static enum tl_err
store_batch(struct vault *v, struct vault_item *items, size_t n)
{
	enum tl_err e;
	size_t i;

	for (i = 0; i < n; i++)
		items[i].outcome = VAULT_RETRY;
	if (n == 0)
		return TL_OK;
	if ((e = db_begin(v->db)) != TL_OK)
		goto fail;
	for (i = 0; i < n; i++) {
		if ((e = process(v, &items[i])) != TL_OK)
			goto fail;
		if (items[i].outcome == VAULT_REJECTED && (e = record_reject(v, &items[i])) != TL_OK)
			goto fail;
	}
	/* Durable before anything is acked: a crash after COMMIT redelivers
	 * deposits that INSERT OR IGNORE then recognises. */
	if ((e = db_commit(v->db)) != TL_OK)
		goto fail;
	for (i = 0; i < n; i++) {
		if (items[i].claim)
			continue; /* claim.c logs its own */
		if (items[i].outcome == VAULT_REJECTED)
			log_warn("deposit rejected seq=%llu reason=%s report=%s delivered=%llu",
			         (unsigned long long)items[i].stream_seq,
			         vault_reason_name(items[i].reason),
			         items[i].report_id[0] ? items[i].report_id : "-",
			         (unsigned long long)items[i].delivered);
		else
			log_debug("deposit %s seq=%llu report=%s",
			          items[i].outcome == VAULT_STORED ? "stored" : "duplicate",
			          (unsigned long long)items[i].stream_seq, items[i].report_id);
	}
	return TL_OK;
fail:
	db_rollback(v->db);
	for (i = 0; i < n; i++) {
		items[i].outcome = VAULT_RETRY;
		items[i].fresh = false;
	}
	if (e == TL_EIO || db_failed(v->db))
		return TL_EIO;
	log_warn("deposit batch of %zu not stored (%s); will retry", n, tl_strerror(e));
	return e;
}
