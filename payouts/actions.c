#include "compat.h"
#include "svc.h"
#include "cases.h"
#include "district.h"
#include "log.h"
#include "staffkey.h"

bool
payouts_scope_covers(const char *scope, const char *district)
{
	if (!scope || !district)
		return false;
	return strcmp(scope, "all") == 0 || strcmp(scope, DISTRICT_CITY) == 0 || strcmp(scope, district) == 0;
}

enum tl_err
payouts_staff_user(struct payouts_svc *s, const char *name, enum auth_role *role, char scope[AUTH_SCOPE_MAX + 1])
{
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	*role = AUTH_ROLE_NONE;
	scope[0] = '\0';
	if (!name || !name[0] || strlen(name) > AUTH_NAME_MAX)
		return TL_ENOTFOUND;
	/* common/auth has no lookup by name; its table is in this database. */
	if ((e = db_prepare(s->db, "SELECT role, scope, disabled FROM auth_users WHERE name = ?1;", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, name)) != TL_OK || (e = db_step(st, &row)) != TL_OK)
		goto out;
	if (!row) {
		e = TL_ENOTFOUND;
		goto out;
	}
	if (auth_role_parse(db_col_text(st, 0), role) != TL_OK) {
		e = TL_ENOTFOUND;
		goto out;
	}
	snprintf(scope, AUTH_SCOPE_MAX + 1, "%s", db_col_text(st, 1) ? db_col_text(st, 1) : "");
	if (db_col_int64(st, 2) != 0)
		e = TL_EDENIED;
out:
	db_finalize(st);
	return e;
}

/* Checks that name is an enabled user with role, whose scope covers
 * district; why says what is wrong. */
static enum tl_err
check_staff(struct payouts_svc *s, const char *name, enum auth_role want, const char *district, char *scope,
            char *why, size_t whylen)
{
	enum auth_role role;
	enum tl_err e = payouts_staff_user(s, name, &role, scope);

	if (e == TL_ENOTFOUND) {
		tl_why(why, whylen, "%s is not a finance user", name ? name : "?");
		return TL_EDENIED;
	}
	if (e == TL_EDENIED) {
		tl_why(why, whylen, "user %s is disabled", name);
		return TL_EDENIED;
	}
	if (e != TL_OK) {
		tl_why(why, whylen, "cannot look up user %s (%s)", name, tl_strerror(e));
		return e;
	}
	if (role != want) {
		tl_why(why, whylen, "%s is a %s, not a %s", name, auth_role_name(role), auth_role_name(want));
		return TL_EDENIED;
	}
	/* An approver's level comes from a district code; "all" has none. */
	if (want == AUTH_ROLE_FINANCE_APPROVER && strcmp(scope, "all") == 0) {
		tl_why(why, whylen, "approver %s has scope \"all\"; an approver needs a district or the city (120000)",
		    name);
		return TL_EDENIED;
	}
	if (!payouts_scope_covers(scope, district)) {
		tl_why(why, whylen, "%s works for district %s and cannot act on an award of district %s", name, scope,
		    district);
		return TL_EDENIED;
	}
	return TL_OK;
}

static enum tl_err
audit(struct payouts_svc *s, const char *actor, const char *action, const char *award_id, const char *case_id,
      const char *reason)
{
	char object[AUDIT_OBJECT_MAX + 1];

	if (case_id)
		snprintf(object, sizeof(object), "award:%s,case:%s", award_id, case_id);
	else
		snprintf(object, sizeof(object), "award:%s", award_id);
	return audit_append(s->audit, actor, action, object, reason);
}

static bool
reason_ok(const char *r)
{
	/* Stored with the award and shown on the console; no control
	 * characters that could break a page or a log. */
	if (!r)
		return true;
	if (strlen(r) > APPROVAL_REASON_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)r; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

enum tl_err
payouts_propose(struct payouts_svc *s, const char *case_id, const char *award_id, const char *proposer,
                int64_t total_fen, const char *reason, int64_t now_ms, char *why, size_t whylen)
{
	struct cases_view *v = NULL;
	struct award_proposal *a = NULL;
	struct award_record *old = NULL;
	struct award_report sharers[AWARD_MAX_REPORTS];
	char scope[AUTH_SCOPE_MAX + 1];
	bool manual = total_fen != 0, existed;
	enum tl_err e;

	tl_why(why, whylen, "ok");
	if (!case_id || !id_valid(case_id) || !award_id || !id_valid(award_id)) {
		tl_why(why, whylen, "malformed case or award id");
		return TL_EINVAL;
	}
	if (total_fen < 0 || total_fen > MONEY_HARD_CAP_FEN) {
		tl_why(why, whylen, "award of %lld fen is outside 1 .. %lld fen (the cap per tip)", (long long)total_fen,
		    (long long)MONEY_HARD_CAP_FEN);
		return total_fen < 0 ? TL_EINVAL : TL_ETOOBIG;
	}
	if (!reason_ok(reason) || (manual && (!reason || !reason[0]))) {
		tl_why(why, whylen, manual ? "a manual amount needs a reason (at most %d bytes, one line)"
		                        : "the reason must be at most %d bytes on one line",
		    APPROVAL_REASON_MAX);
		return TL_EINVAL;
	}
	if (!s->audit) {
		tl_why(why, whylen, "the audit chain is not open; nothing was recorded");
		return TL_EUNAVAIL;
	}
	if (!(v = malloc(sizeof(*v))) || !(a = calloc(1, sizeof(*a))) || !(old = malloc(sizeof(*old)))) {
		free(v);
		free(a);
		return TL_ENOMEM;
	}
	pthread_mutex_lock(&s->lock);
	if ((e = cases_get(s, case_id, now_ms, v)) != TL_OK) {
		tl_why(why, whylen, e == TL_ENOTFOUND ? "case %s is unknown" : "case %s cannot be read (%s)", case_id,
		    tl_strerror(e));
		goto out;
	}
	if ((e = check_staff(s, proposer, AUTH_ROLE_FINANCE_PROPOSER, v->district, scope, why, whylen)) != TL_OK)
		goto out;
	if (v->merged_into[0]) {
		tl_why(why, whylen, "case %s was merged into case %s; propose there", case_id, v->merged_into);
		e = TL_EDENIED;
		goto out;
	}
	if (strcmp(v->state, "substantiated") != 0) {
		tl_why(why, whylen, "case %s is %s, not substantiated", case_id, v->state);
		e = TL_EDENIED;
		goto out;
	}
	if (!v->has_computed || v->n_shares == 0) {
		tl_why(why, whylen, "case %s has no computed award yet (its reports have not arrived)", case_id);
		e = TL_EDENIED;
		goto out;
	}
	snprintf(a->award_id, sizeof(a->award_id), "%s", award_id);
	snprintf(a->case_id, sizeof(a->case_id), "%s", case_id);
	snprintf(a->district, sizeof(a->district), "%s", v->district);
	a->budget_year = v->budget_year;
	a->computed_fen = v->computed_fen;
	a->total_fen = manual ? total_fen : v->computed_fen;
	a->n_shares = v->n_shares;
	memcpy(a->shares, v->shares, v->n_shares * sizeof(v->shares[0]));
	if (manual && total_fen != v->computed_fen) {
		/* The same sharers, re-split equally (fen remainders to the
		 * earliest, as the engine does). */
		for (size_t i = 0; i < v->n_shares; i++) {
			snprintf(sharers[i].report_id, sizeof(sharers[i].report_id), "%s", v->shares[i].report_id);
			sharers[i].received_ms = (int64_t)i;
		}
		if ((e = award_split(total_fen, sharers, v->n_shares, a->shares)) != TL_OK) {
			tl_why(why, whylen, "%lld fen cannot be split among %zu reporters", (long long)total_fen,
			    v->n_shares);
			goto out;
		}
		for (size_t i = 0; i < v->n_shares; i++)
			a->shares[i].kind = v->shares[i].kind;
	}
	snprintf(a->payee_ref, sizeof(a->payee_ref), "%s", CASES_PAYEE_REF);
	snprintf(a->proposer, sizeof(a->proposer), "%s", proposer);
	snprintf(a->reason, sizeof(a->reason), "%s", reason ? reason : "");
	existed = award_load(s->core, award_id, old) == TL_OK;
	if ((e = award_propose(s->core, a, now_ms, why, whylen)) != TL_OK)
		goto out;
	if (existed)
		goto out; /* a resubmitted form: recorded and audited the first time */
	if ((e = audit(s, proposer, "propose", award_id, case_id,
	               manual && total_fen != v->computed_fen ? "manual_amount" : "-")) != TL_OK) {
		log_err("award %s proposed but the audit chain write failed (%s)", award_id, tl_strerror(e));
		tl_why(why, whylen, "award %s was recorded but the audit chain could not be written (%s)", award_id,
		    tl_strerror(e));
		goto out;
	}
	log_info("award %s proposed for case %s by %s: %lld fen%s", award_id, case_id, proposer,
	         (long long)a->total_fen, manual && total_fen != v->computed_fen ? " (manual amount)" : "");
out:
	pthread_mutex_unlock(&s->lock);
	free(v);
	free(a);
	free(old);
	return e;
}

enum tl_err
payouts_decide(struct payouts_svc *s, const char *award_id, const char *staff, enum approval_decision d,
               const char *password, const char *reason, int64_t now_ms, enum award_status *status, char *why,
               size_t whylen)
{
	struct award_record *r = NULL;
	struct staffkey_sealed k;
	unsigned char sig[APPROVAL_SIG_LEN];
	char scope[AUTH_SCOPE_MAX + 1];
	const char *action = d == APPROVAL_APPROVE ? "approve" : "reject";
	enum award_status st = AWARD_PROPOSED;
	enum tl_err e;

	tl_why(why, whylen, "ok");
	memset(&k, 0, sizeof(k));
	if (!award_id || !id_valid(award_id) || (d != APPROVAL_APPROVE && d != APPROVAL_REJECT)) {
		tl_why(why, whylen, "malformed award id or decision");
		return TL_EINVAL;
	}
	if (!reason_ok(reason) || (d == APPROVAL_REJECT && (!reason || !reason[0]))) {
		tl_why(why, whylen, d == APPROVAL_REJECT ? "a rejection needs a reason (at most %d bytes, one line)"
		                                      : "the reason must be at most %d bytes on one line",
		    APPROVAL_REASON_MAX);
		return TL_EINVAL;
	}
	if (!password || !password[0]) {
		tl_why(why, whylen, "type your password to sign the decision");
		return TL_EDENIED;
	}
	if (!s->audit) {
		tl_why(why, whylen, "the audit chain is not open; nothing was recorded");
		return TL_EUNAVAIL;
	}
	if (!(r = malloc(sizeof(*r))))
		return TL_ENOMEM;
	pthread_mutex_lock(&s->lock);
	if ((e = award_load(s->core, award_id, r)) != TL_OK) {
		tl_why(why, whylen, e == TL_ENOTFOUND ? "award %s is unknown" : "award %s cannot be read (%s)", award_id,
		    tl_strerror(e));
		pthread_mutex_unlock(&s->lock);
		goto out;
	}
	if ((e = check_staff(s, staff, AUTH_ROLE_FINANCE_APPROVER, r->a.district, scope, why, whylen)) == TL_OK &&
	    strcmp(staff, r->a.proposer) == 0) {
		tl_why(why, whylen, "%s proposed award %s and cannot approve or reject it", staff, award_id);
		e = TL_EDENIED;
	}
	if (e == TL_OK && r->status != AWARD_PROPOSED) {
		tl_why(why, whylen, "award %s is %s, not awaiting approval", award_id, award_status_name(r->status));
		e = TL_EDENIED;
	}
	/* Locked out by wrong passwords (at login or here): no signing, not
	 * even with the right one, until the lock-out ends. */
	if (e == TL_OK && auth_user_usable(s->db, staff, now_ms) == TL_EDENIED) {
		tl_why(why, whylen, "user %s is locked out after too many wrong passwords; nothing was signed", staff);
		e = TL_EDENIED;
	}
	if (e == TL_OK && (e = staffkey_load(s->db, staff, &k)) != TL_OK) {
		tl_why(why, whylen, e == TL_ENOTFOUND ? "%s has no signing key" : "the signing key of %s cannot be read",
		    staff);
		e = e == TL_ENOTFOUND ? TL_EDENIED : e;
	}
	pthread_mutex_unlock(&s->lock);
	if (e != TL_OK)
		goto out;

	/* Argon2id takes a while and needs no database: outside the lock. */
	if ((e = staffkey_sign(&k, password, r, d, sig)) != TL_OK) {
		bool locked = false;

		if (e == TL_EDENIED) {
			/* Counts like a failed login: a stolen session cannot be
			 * used to guess the signing password without limit. */
			pthread_mutex_lock(&s->lock);
			if (auth_user_reauth_failed(s->db, staff, now_ms, &locked) != TL_OK)
				log_err("award %s: the wrong password of %s could not be counted", award_id, staff);
			pthread_mutex_unlock(&s->lock);
		}
		if (e == TL_EDENIED && locked)
			tl_why(why, whylen, "wrong password: the decision was not signed, and user %s is now locked out",
			    staff);
		else if (e == TL_EDENIED)
			tl_why(why, whylen, "wrong password: the decision was not signed");
		else if (e == TL_EUNAVAIL)
			tl_why(why, whylen, "too many signatures at once; try again in a moment");
		else
			tl_why(why, whylen, "the signing key of %s cannot be used (%s)", staff, tl_strerror(e));
		log_warn("award %s: %s by %s not signed (%s)", award_id, action, staff, tl_strerror(e));
		goto out;
	}

	pthread_mutex_lock(&s->lock);
	if ((e = approval_decide(s->core, award_id, staff, d, sig, reason, now_ms, &st, why, whylen)) != TL_OK) {
		log_info("award %s: %s by %s refused: %s", award_id, action, staff, why ? why : "");
		pthread_mutex_unlock(&s->lock);
		goto out;
	}
	if ((e = audit(s, staff, action, award_id, r->a.case_id, "-")) != TL_OK) {
		log_err("award %s: %s by %s recorded but the audit chain write failed (%s)", award_id, action, staff,
		        tl_strerror(e));
		tl_why(why, whylen, "the decision was recorded but the audit chain could not be written (%s)",
		    tl_strerror(e));
	}
	log_info("award %s: %s by %s; award is %s", award_id, action, staff, award_status_name(st));
	if (st == AWARD_APPROVED && payouts_status_sync_case(s, r->a.case_id, now_ms) != TL_OK)
		log_warn("case %s: status sync after approval failed; the scanner retries", r->a.case_id);
	pthread_mutex_unlock(&s->lock);
	if (status)
		*status = st;
out:
	sodium_memzero(&k, sizeof(k));
	sodium_memzero(sig, sizeof(sig));
	free(r);
	return e;
}
