#include "compat.h"
#include "internal.h"
#include "audit.h"
#include "awardsig.h"
#include "log.h"
#include "num.h"

#include <sodium.h>

#define APPROVERS_MAX 4096
#define APPROVERS_LINE_MAX 512

/* ---- the approvers file ---- */

struct approver {
	char staff_id[AWARDSIG_REF_MAX + 1];
	enum awardsig_level level;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
};

struct approvers {
	struct approver *a;
	size_t n;
};

static void
approvers_free(struct approvers *ap)
{
	free(ap->a);
	ap->a = NULL;
	ap->n = 0;
}

/* Splits line into at most max whitespace-separated fields in place. */
static size_t
fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			*p++ = '\0';
		if (!*p)
			return n;
		if (n == max)
			return max + 1;
		f[n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			p++;
	}
}

/* Read afresh for every request: the file is small, and a removed
 * approver must stop counting at once. */
static enum tl_err
approvers_load(const char *path, struct approvers *ap, char *why, size_t whylen)
{
	FILE *f = fopen(path, "re");
	char line[APPROVERS_LINE_MAX + 2], *fl[3];
	size_t cap = 0, lineno = 0, nf;
	enum tl_err e = TL_EPROTO;

	memset(ap, 0, sizeof(*ap));
	if (!f) {
		snprintf(why, whylen, "%s: cannot open the approvers file: %s", path, strerror(errno));
		return TL_EIO;
	}
	while (fgets(line, sizeof(line), f)) {
		struct approver *x;
		size_t len = strlen(line);

		lineno++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			snprintf(why, whylen, "%s line %zu: longer than %d bytes", path, lineno,
			         APPROVERS_LINE_MAX);
			goto fail;
		}
		nf = fields(line, fl, 3);
		if (nf == 0 || fl[0][0] == '#')
			continue;
		if (nf != 3) {
			snprintf(why, whylen, "%s line %zu: expected \"staff_id level pubkey_hex64\"", path,
			         lineno);
			goto fail;
		}
		if (ap->n == APPROVERS_MAX) {
			snprintf(why, whylen, "%s: more than %d approvers", path, APPROVERS_MAX);
			goto fail;
		}
		if (ap->n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			void *p = realloc(ap->a, nc * sizeof(*ap->a));
			if (!p) {
				e = TL_ENOMEM;
				goto fail;
			}
			ap->a = p;
			cap = nc;
		}
		x = &ap->a[ap->n];
		if (!awardsig_ref_valid(fl[0])) {
			snprintf(why, whylen, "%s line %zu: staff id must be 1..%d characters of [A-Za-z0-9._@:-]",
			         path, lineno, AWARDSIG_REF_MAX);
			goto fail;
		}
		snprintf(x->staff_id, sizeof(x->staff_id), "%s", fl[0]);
		if (strcmp(fl[1], "district") == 0) {
			x->level = AWARDSIG_DISTRICT;
		} else if (strcmp(fl[1], "city") == 0) {
			x->level = AWARDSIG_CITY;
		} else {
			snprintf(why, whylen, "%s line %zu: level must be district or city", path, lineno);
			goto fail;
		}
		if (strlen(fl[2]) != 2 * crypto_sign_PUBLICKEYBYTES ||
		    hex_decode(fl[2], strlen(fl[2]), x->pk, sizeof(x->pk)) != TL_OK) {
			snprintf(why, whylen, "%s line %zu: public key must be 64 hex characters", path, lineno);
			goto fail;
		}
		for (size_t i = 0; i < ap->n; i++)
			if (strcmp(ap->a[i].staff_id, x->staff_id) == 0) {
				snprintf(why, whylen, "%s line %zu: staff id %s listed twice", path, lineno,
				         x->staff_id);
				goto fail;
			}
		ap->n++;
	}
	if (ferror(f)) {
		snprintf(why, whylen, "%s: read error", path);
		e = TL_EIO;
		goto fail;
	}
	fclose(f);
	return TL_OK;
fail:
	fclose(f);
	approvers_free(ap);
	return e;
}

enum tl_err
vault_approvers_check(const char *path, size_t *count, char *why, size_t whylen)
{
	struct approvers ap;
	enum tl_err e;

	if ((e = approvers_load(path, &ap, why, whylen)) != TL_OK)
		return e;
	*count = ap.n;
	approvers_free(&ap);
	return TL_OK;
}

static const struct approver *
approver_find(const struct approvers *ap, const char *id)
{
	for (size_t i = 0; i < ap->n; i++)
		if (strcmp(ap->a[i].staff_id, id) == 0)
			return &ap->a[i];
	return NULL;
}

/* ---- one request ---- */

struct reveal {
	struct wire_reveal_req req;
	struct wire_reveal_rep rep;
	struct awardsig award;
	struct approvers ap;
	struct awardsig_approver who[WIRE_MAX_APPROVALS];
	char actor[AUDIT_ACTOR_MAX + 1];
	char object[AUDIT_OBJECT_MAX + 1];
	char why[512];
};

/* "a.li+c.wang": the approvers whose signatures verified, as the actor of
 * the audit entries; "payouts" if they do not fit the token. */
static void
actor_join(struct reveal *r, size_t n)
{
	size_t len = 0;

	r->actor[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int k = snprintf(r->actor + len, sizeof(r->actor) - len, "%s%s", i ? "+" : "",
		                 r->who[i].staff_id);
		if (k < 0 || (size_t)k >= sizeof(r->actor) - len) {
			snprintf(r->actor, sizeof(r->actor), "payouts");
			return;
		}
		len += (size_t)k;
	}
	if (len == 0)
		snprintf(r->actor, sizeof(r->actor), "payouts");
}

/* The approvals: every staff id listed, every signature good over the
 * exact text.  Returns the error code or NULL. */
static const char *
check_signatures(struct reveal *r, const char *approvers_file)
{
	const char *text = r->req.award;
	size_t len = strlen(text);
	enum tl_err e;

	if ((e = approvers_load(approvers_file, &r->ap, r->why, sizeof(r->why))) != TL_OK) {
		log_err("reveal: %s", r->why);
		return "internal";
	}
	for (size_t i = 0; i < r->req.n_approvals; i++) {
		const struct wire_approval_sig *s = &r->req.approvals[i];
		const struct approver *a = approver_find(&r->ap, s->staff_id);

		if (!a) {
			snprintf(r->why, sizeof(r->why), "approver %s is not in the approvers file",
			         s->staff_id);
			return "signature";
		}
		if (crypto_sign_verify_detached(s->sig, (const unsigned char *)text, len, a->pk) != 0) {
			snprintf(r->why, sizeof(r->why), "the signature of %s does not verify", s->staff_id);
			return "signature";
		}
		r->who[i].staff_id = a->staff_id;
		r->who[i].level = a->level;
	}
	return NULL;
}

/* Every requested share must be one the approvers signed, once. */
static const char *
check_shares(struct reveal *r)
{
	bool seen[AWARDSIG_MAX_SHARES] = { false };

	for (size_t i = 0; i < r->req.n_shares; i++) {
		const struct wire_reveal_share *s = &r->req.shares[i];

		if (s->share_idx < 0 || (size_t)s->share_idx >= r->award.n_shares ||
		    strcmp(r->award.shares[s->share_idx].report_id, s->report_id) != 0) {
			snprintf(r->why, sizeof(r->why), "share %d of report %s is not in the signed award",
			         s->share_idx, s->report_id);
			return "rules";
		}
		if (seen[s->share_idx]) {
			snprintf(r->why, sizeof(r->why), "share %d requested twice", s->share_idx);
			return "bad_request";
		}
		seen[s->share_idx] = true;
	}
	return NULL;
}

/* Looks up one share's payee and seals it to the export key.  Returns the
 * error code or NULL; *e gets a database error. */
static const char *
seal_row(struct vault *v, struct reveal *r, const struct wire_reveal_share *s,
         struct wire_reveal_row *row, enum tl_err *e)
{
	struct db_stmt *st = v->find_payee;
	struct wire_payee p;
	struct buf plain;
	const char *code = NULL, *latest;
	bool found = false;

	memset(&p, 0, sizeof(p));
	buf_init_secret(&plain, WIRE_MAX_MSG);
	if ((*e = db_bind_text(st, 1, s->payee_ref)) != TL_OK || (*e = db_step(st, &found)) != TL_OK) {
		code = "internal";
		goto out;
	}
	latest = found ? db_col_text(st, 8) : NULL;
	if (!found || strcmp(db_col_text(st, 0), s->report_id) != 0 || !latest ||
	    strcmp(latest, s->payee_ref) != 0) {
		snprintf(r->why, sizeof(r->why), "payee %s is not the latest claim of report %s",
		         s->payee_ref, s->report_id);
		code = "unknown_payee";
		goto out;
	}
	if (db_col_int64(st, 1) != 1) {
		snprintf(r->why, sizeof(r->why), "payee %s is not eligible", s->payee_ref);
		code = "not_eligible";
		goto out;
	}
	snprintf(p.claim_id, sizeof(p.claim_id), "%s", db_col_text(st, 2));
	if (!(p.name = strdup(db_col_text(st, 3))) || !(p.id_number = strdup(db_col_text(st, 4))) ||
	    !(p.bank = strdup(db_col_text(st, 5))) || !(p.account = strdup(db_col_text(st, 6))) ||
	    !(p.phone = strdup(db_col_text(st, 7)))) {
		*e = TL_ENOMEM;
		code = "internal";
		goto out;
	}
	db_reset(st);
	if ((*e = wire_payee_encode(&p, &plain)) != TL_OK) {
		code = "internal";
		goto out;
	}
	row->sealed_len = plain.len + crypto_box_SEALBYTES;
	if (!(row->sealed = malloc(row->sealed_len)) ||
	    crypto_box_seal(row->sealed, (const unsigned char *)plain.data, plain.len, v->export_pk) != 0) {
		free(row->sealed);
		row->sealed = NULL;
		row->sealed_len = 0;
		*e = TL_ECRYPTO;
		code = "internal";
		goto out;
	}
	row->share_idx = s->share_idx;
	memcpy(row->report_id, s->report_id, sizeof(row->report_id));
	memcpy(row->payee_ref, s->payee_ref, sizeof(row->payee_ref));
out:
	db_reset(st);
	/* The strdup'ed copies are identity: wire_payee_free wipes them. */
	wire_payee_free(&p);
	buf_free(&plain);
	return code;
}

static const char *
seal_rows(struct vault *v, struct reveal *r, enum tl_err *e)
{
	const char *code = NULL;

	*e = TL_OK;
	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; !code && i < r->req.n_shares; i++) {
		code = seal_row(v, r, &r->req.shares[i], &r->rep.rows[i], e);
		if (!code)
			r->rep.n_rows = i + 1;
	}
	pthread_mutex_unlock(&v->lock);
	return code;
}

static void
audit_refusal(struct vault *v, struct reveal *r, const char *code)
{
	enum tl_err e;

	log_warn("reveal refused: request=%s award=%s error=%s (%s)",
	         r->req.request_id[0] ? r->req.request_id : "-",
	         r->award.award_id[0] ? r->award.award_id : "-", code, r->why[0] ? r->why : "-");
	if (v->audit && (e = audit_append(v->audit, r->actor, "reveal_refused", r->object, code)) != TL_OK)
		log_err("audit chain: cannot append reveal_refused (%s)", tl_strerror(e));
}

/* One audit entry per revealed share, all before the reply exists: a
 * reveal that cannot be recorded does not happen. */
static const char *
audit_reveal(struct vault *v, struct reveal *r)
{
	char object[AUDIT_OBJECT_MAX + 1];
	enum tl_err e;

	if (!v->audit)
		return NULL;
	for (size_t i = 0; i < r->rep.n_rows; i++) {
		snprintf(object, sizeof(object), "award:%s,share:%d,report:%s,batch:%s", r->award.award_id,
		         r->rep.rows[i].share_idx, r->rep.rows[i].report_id, r->req.batch_id);
		if ((e = audit_append(v->audit, r->actor, "reveal", object, NULL)) != TL_OK) {
			log_err("audit chain: cannot append reveal (%s); refusing the reveal", tl_strerror(e));
			snprintf(r->why, sizeof(r->why), "audit chain unavailable");
			return "internal";
		}
	}
	return NULL;
}

enum tl_err
vault_reveal(struct vault *v, const char *data, size_t len, struct buf *reply)
{
	struct reveal *r = calloc(1, sizeof(*r));
	const char *code = NULL;
	enum tl_err e = TL_OK, dbe = TL_OK;

	buf_reset(reply);
	if (!r)
		return TL_ENOMEM;
	snprintf(r->actor, sizeof(r->actor), "payouts");
	snprintf(r->object, sizeof(r->object), "request:unknown");
	memset(r->rep.request_id, '0', ID_HEX_LEN);
	if (!v->payees) {
		snprintf(r->why, sizeof(r->why), "payee reveal is not configured");
		code = "internal";
		goto done;
	}
	if (wire_reveal_req_decode(data, len, &r->req) != TL_OK) {
		snprintf(r->why, sizeof(r->why), "malformed request");
		code = "bad_request";
		goto done;
	}
	memcpy(r->rep.request_id, r->req.request_id, sizeof(r->rep.request_id));
	snprintf(r->object, sizeof(r->object), "request:%s", r->req.request_id);
	if (awardsig_parse(r->req.award, strlen(r->req.award), &r->award, r->why, sizeof(r->why)) !=
	    TL_OK) {
		code = "bad_request";
		goto done;
	}
	snprintf(r->object, sizeof(r->object), "award:%s", r->award.award_id);
	if (r->award.decision != AWARDSIG_APPROVE) {
		snprintf(r->why, sizeof(r->why), "the signed decision is not an approval");
		code = "bad_request";
		goto done;
	}
	if ((code = check_signatures(r, v->approvers_file)))
		goto done;
	actor_join(r, r->req.n_approvals);
	if (awardsig_rules_check(&r->award, v->dual_threshold_fen, r->who, r->req.n_approvals, r->why,
	                         sizeof(r->why)) != TL_OK) {
		code = "rules";
		goto done;
	}
	if ((code = check_shares(r)))
		goto done;
	if ((code = seal_rows(v, r, &dbe)))
		goto done;
	if ((code = audit_reveal(v, r)))
		goto done;
	r->rep.ok = true;
	log_info("reveal: request=%s award=%s batch=%s shares=%zu by %s", r->req.request_id,
	         r->award.award_id, r->req.batch_id, r->rep.n_rows, r->actor);
done:
	if (code) {
		wire_reveal_rep_free(&r->rep);
		r->rep.ok = false;
		snprintf(r->rep.error, sizeof(r->rep.error), "%s", code);
		audit_refusal(v, r, code);
	}
	if ((e = wire_reveal_rep_encode(&r->rep, reply)) != TL_OK)
		log_err("reveal: cannot encode the reply (%s)", tl_strerror(e));
	wire_reveal_rep_free(&r->rep);
	wire_reveal_req_free(&r->req);
	approvers_free(&r->ap);
	free(r);
	if (dbe == TL_EIO || db_failed(v->db))
		return TL_EIO;
	return e;
}
