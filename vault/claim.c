#include "compat.h"
#include "internal.h"
#include "audit.h"
#include "log.h"
#include "num.h"
#include "secret.h"
#include "timefmt.h"

#include <sodium.h>

enum tl_err
vault_claim_prepare(struct vault *v)
{
	enum tl_err e;

	if ((e = db_prepare(v->db,
	                    "SELECT payee_ref, report_id, eligible, reason, received_at FROM payees"
	                    " WHERE claim_id = ?1;",
	                    &v->find_claim)) != TL_OK ||
	    (e = db_prepare(v->db,
	                    "SELECT report_id FROM deposits WHERE status_key = ?1"
	                    " ORDER BY received_at, report_id LIMIT 1;",
	                    &v->find_deposit)) != TL_OK ||
	    (e = db_prepare(v->db,
	                    "INSERT INTO payees (payee_ref, claim_id, report_id, name, id_number, bank,"
	                    " account, phone, received_at, stored_at, eligible, reason, stream_seq)"
	                    " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13);",
	                    &v->ins_payee)) != TL_OK ||
	    /* The latest claim of the payee's report, by when intake took it
	     * (rowid breaks a tie in arrival order). */
	    (e = db_prepare(v->db,
	                    "SELECT p.report_id, p.eligible, p.claim_id, p.name, p.id_number, p.bank,"
	                    " p.account, p.phone,"
	                    " (SELECT q.payee_ref FROM payees q WHERE q.report_id = p.report_id"
	                    "  ORDER BY q.received_at DESC, q.rowid DESC LIMIT 1)"
	                    " FROM payees p WHERE p.payee_ref = ?1;",
	                    &v->find_payee)) != TL_OK)
		return e;
	return TL_OK;
}

void
vault_claim_finalize(struct vault *v)
{
	db_finalize(v->find_claim);
	db_finalize(v->find_deposit);
	db_finalize(v->ins_payee);
	db_finalize(v->find_payee);
	v->find_claim = v->find_deposit = v->ins_payee = v->find_payee = NULL;
}

enum tl_err
vault_payees_attach(struct vault *v, const struct vault_payees *p)
{
	enum tl_err e;

	if (v->payees || !p->exclusion_file || !p->exclusion_key || !p->approvers_file ||
	    p->dual_threshold_fen <= 0)
		return TL_EINVAL;
	if ((e = payee_excl_new(p->exclusion_file, &v->excl)) != TL_OK)
		goto fail;
	if (!(v->approvers_file = strdup(p->approvers_file)) ||
	    !(v->excl_key = sodium_malloc(PAYEE_EXCL_KEY_LEN))) {
		e = TL_ENOMEM;
		goto fail;
	}
	memcpy(v->excl_key, p->exclusion_key, PAYEE_EXCL_KEY_LEN);
	sodium_mprotect_noaccess(v->excl_key);
	memcpy(v->export_pk, p->export_pk, sizeof(v->export_pk));
	v->dual_threshold_fen = p->dual_threshold_fen;
	v->audit = p->audit;
	v->payees = true;
	return TL_OK;
fail:
	payee_excl_free(v->excl);
	v->excl = NULL;
	free(v->approvers_file);
	v->approvers_file = NULL;
	secret_free(v->excl_key);
	v->excl_key = NULL;
	return e;
}

/* A redelivered claim: the stored decision, to publish again. */
static enum tl_err
find_claim(struct vault *v, struct vault_item *it, bool *found)
{
	struct db_stmt *st = v->find_claim;
	struct wire_eligibility *el = &it->elig;
	const char *reason;
	enum tl_err e;

	*found = false;
	if ((e = db_bind_text(st, 1, it->claim_id)) != TL_OK || (e = db_step(st, found)) != TL_OK ||
	    !*found)
		goto out;
	snprintf(el->payee_ref, sizeof(el->payee_ref), "%s", db_col_text(st, 0));
	snprintf(el->report_id, sizeof(el->report_id), "%s", db_col_text(st, 1));
	el->eligible = db_col_int64(st, 2) == 1;
	reason = db_col_text(st, 3);
	snprintf(el->reason, sizeof(el->reason), "%s", reason ? reason : "");
	el->at_ms = db_col_int64(st, 4);
	memcpy(el->claim_id, it->claim_id, sizeof(el->claim_id));
	memcpy(it->report_id, el->report_id, sizeof(it->report_id));
out:
	db_reset(st);
	return e;
}

static enum tl_err
find_deposit(struct vault *v, const char *status_key, char report_id[ID_HEX_LEN + 1], bool *found)
{
	struct db_stmt *st = v->find_deposit;
	enum tl_err e;

	*found = false;
	if ((e = db_bind_text(st, 1, status_key)) == TL_OK && (e = db_step(st, found)) == TL_OK && *found)
		snprintf(report_id, ID_HEX_LEN + 1, "%s", db_col_text(st, 0));
	db_reset(st);
	return e;
}

/* Opens a sealed box with the vault key.  TL_ECRYPTO if it does not open
 * (tampered, truncated, or sealed to another key). */
static enum tl_err
open_box(struct vault_keys *k, const unsigned char *sealed, size_t len, unsigned char **pt,
         size_t *ptlen)
{
	unsigned char *p;
	int rc;

	*pt = NULL;
	if (!sealed || len <= crypto_box_SEALBYTES)
		return TL_ECRYPTO;
	if (!(p = sodium_malloc(len - crypto_box_SEALBYTES)))
		return TL_ENOMEM;
	sodium_mprotect_readonly(k->box_sk);
	rc = crypto_box_seal_open(p, sealed, len, k->box_pk, k->box_sk);
	sodium_mprotect_noaccess(k->box_sk);
	if (rc != 0) {
		sodium_free(p);
		return TL_ECRYPTO;
	}
	*pt = p;
	*ptlen = len - crypto_box_SEALBYTES;
	return TL_OK;
}

/* Format checks, then the exclusion list.  TL_OK with *verdict, or the
 * list's error (the claim cannot be decided now). */
static enum tl_err
decide(struct vault *v, struct wire_payee *p, enum payee_verdict *verdict)
{
	unsigned char h[PAYEE_EXCL_HASH_LEN];
	char why[512];
	bool excluded = false;
	enum tl_err e;

	if ((e = payee_check(p, verdict)) != TL_OK || *verdict != PAYEE_OK)
		return e;
	/* payee_check() left the ID number normalised (18 characters). */
	sodium_mprotect_readonly(v->excl_key);
	payee_excl_hash(v->excl_key, p->id_number, h);
	sodium_mprotect_noaccess(v->excl_key);
	e = payee_excl_contains(v->excl, h, &excluded, why, sizeof(why));
	sodium_memzero(h, sizeof(h));
	if (e != TL_OK) {
		log_err("exclusion list unusable, claims wait until it is fixed: %s", why);
		return e;
	}
	if (excluded)
		*verdict = PAYEE_EXCLUDED;
	return TL_OK;
}

static enum tl_err
insert_payee(struct vault *v, struct vault_item *it, const struct wire_payclaim *c,
             const struct wire_payee *p, enum payee_verdict verdict, const char *payee_ref)
{
	struct db_stmt *st = v->ins_payee;
	const char *reason = verdict == PAYEE_OK ? NULL : payee_verdict_reason(verdict);
	enum tl_err e;

	if ((e = db_savepoint(v->db, "claim")) != TL_OK)
		return e;
	if ((e = db_bind_text(st, 1, payee_ref)) == TL_OK &&
	    (e = db_bind_text(st, 2, c->claim_id)) == TL_OK &&
	    (e = db_bind_text(st, 3, it->report_id)) == TL_OK &&
	    (e = db_bind_text(st, 4, p->name)) == TL_OK &&
	    (e = db_bind_text(st, 5, p->id_number)) == TL_OK &&
	    (e = db_bind_text(st, 6, p->bank)) == TL_OK &&
	    (e = db_bind_text(st, 7, p->account)) == TL_OK &&
	    (e = db_bind_text(st, 8, p->phone)) == TL_OK &&
	    (e = db_bind_int64(st, 9, c->received_ms)) == TL_OK &&
	    (e = db_bind_int64(st, 10, time_now_ms())) == TL_OK &&
	    (e = db_bind_int64(st, 11, verdict == PAYEE_OK)) == TL_OK &&
	    (e = db_bind_text(st, 12, reason)) == TL_OK &&
	    (e = db_bind_int64(st, 13, it->stream_seq > INT64_MAX ? INT64_MAX : (int64_t)it->stream_seq)) ==
	            TL_OK)
		e = db_step(st, NULL);
	db_reset(st);
	if (e == TL_OK)
		return db_release(v->db, "claim");
	db_rollback_to(v->db, "claim");
	return e;
}

enum tl_err
vault_claim_process(struct vault *v, struct vault_item *it)
{
	struct wire_payclaim c;
	struct wire_payee p;
	unsigned char *pt = NULL;
	size_t ptlen = 0;
	enum payee_verdict verdict = PAYEE_INVALID_PAYEE;
	char payee_ref[ID_HEX_LEN + 1];
	bool found;
	enum tl_err e;

	memset(&c, 0, sizeof(c));
	memset(&p, 0, sizeof(p));
	memset(&it->elig, 0, sizeof(it->elig));
	it->claim = true;
	it->outcome = VAULT_REJECTED;
	if ((e = wire_payclaim_decode(it->data, it->len, &c)) != TL_OK) {
		it->reason = VAULT_R_ENVELOPE;
		return e == TL_ENOMEM ? e : TL_OK;
	}
	memcpy(it->claim_id, c.claim_id, sizeof(it->claim_id));
	if ((e = find_claim(v, it, &found)) != TL_OK)
		goto out;
	if (found) {
		it->outcome = VAULT_DUPLICATE;
		goto out;
	}
	if ((e = find_deposit(v, c.status_key, it->report_id, &found)) != TL_OK)
		goto out;
	if (!found) {
		it->reason = VAULT_R_UNKNOWN_RECEIPT;
		goto out;
	}
	if ((e = open_box(v->keys, c.sealed, c.sealed_len, &pt, &ptlen)) != TL_OK) {
		it->reason = VAULT_R_OPEN;
		e = e == TL_ENOMEM ? e : TL_OK;
		goto out;
	}
	if ((e = wire_payee_decode((const char *)pt, ptlen, &p)) != TL_OK) {
		it->reason = VAULT_R_PAYEE;
		e = e == TL_ENOMEM ? e : TL_OK;
		goto out;
	}
	/* Only the sealed copy is authoritative; an envelope that disagrees
	 * with it was forged or broken upstream. */
	if (strcmp(p.claim_id, c.claim_id) != 0) {
		it->reason = VAULT_R_MISMATCH;
		goto out;
	}
	if ((e = decide(v, &p, &verdict)) != TL_OK) {
		if (e == TL_ENOMEM)
			goto out;
		it->outcome = VAULT_RETRY; /* this claim only; the batch goes on */
		e = TL_OK;
		goto out;
	}
	id_new(payee_ref);
	e = insert_payee(v, it, &c, &p, verdict, payee_ref);
	if (e == TL_ECONFLICT) {
		it->reason = VAULT_R_STORE;
		e = TL_OK;
		goto out;
	}
	if (e != TL_OK)
		goto out;
	memcpy(it->elig.claim_id, c.claim_id, sizeof(it->elig.claim_id));
	memcpy(it->elig.report_id, it->report_id, sizeof(it->elig.report_id));
	memcpy(it->elig.payee_ref, payee_ref, sizeof(it->elig.payee_ref));
	it->elig.eligible = verdict == PAYEE_OK;
	snprintf(it->elig.reason, sizeof(it->elig.reason), "%s", payee_verdict_reason(verdict));
	/* When intake took the claim, not when the vault got round to it: the
	 * latest claim (and the claim deadline) is judged by that time, the
	 * same way on both sides. */
	it->elig.at_ms = c.received_ms;
	it->outcome = VAULT_STORED;
	it->fresh = true;
out:
	wire_payee_free(&p);
	if (pt)
		sodium_free(pt); /* wipes the plaintext payee */
	wire_payclaim_free(&c);
	return e;
}

void
vault_claim_audit(struct vault *v, const struct vault_item *it)
{
	char object[AUDIT_OBJECT_MAX + 1];
	const char *action, *reason;
	enum tl_err e;

	switch (it->outcome) {
	case VAULT_STORED:
	case VAULT_DUPLICATE:
		log_info("claim %s %s report=%s eligible=%s%s%s seq=%llu", it->claim_id,
		         it->outcome == VAULT_STORED ? "decided" : "already decided", it->report_id,
		         it->elig.eligible ? "yes" : "no", it->elig.eligible ? "" : " reason=",
		         it->elig.reason, (unsigned long long)it->stream_seq);
		action = it->elig.eligible ? "claim_eligible" : "claim_refused";
		reason = it->elig.eligible ? NULL : it->elig.reason;
		snprintf(object, sizeof(object), "claim:%s,report:%s", it->claim_id, it->report_id);
		break;
	case VAULT_REJECTED:
		log_warn("claim rejected seq=%llu reason=%s claim=%s report=%s delivered=%llu",
		         (unsigned long long)it->stream_seq, vault_reason_name(it->reason),
		         it->claim_id[0] ? it->claim_id : "-", it->report_id[0] ? it->report_id : "-",
		         (unsigned long long)it->delivered);
		action = "claim_rejected";
		reason = vault_reason_name(it->reason);
		if (it->claim_id[0])
			snprintf(object, sizeof(object), "claim:%s", it->claim_id);
		else
			snprintf(object, sizeof(object), "seq:%llu", (unsigned long long)it->stream_seq);
		break;
	case VAULT_RETRY:
	default:
		log_warn("claim %s seq=%llu not decided yet; will retry", it->claim_id[0] ? it->claim_id : "-",
		         (unsigned long long)it->stream_seq);
		return;
	}
	if (!it->fresh || !v->audit)
		return;
	if ((e = audit_append(v->audit, "system", action, object, reason)) != TL_OK)
		log_err("audit chain: cannot append %s for claim %s (%s)", action,
		        it->claim_id[0] ? it->claim_id : "-", tl_strerror(e));
}
