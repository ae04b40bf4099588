#include "compat.h"
#include "svc.h"
#include "cases.h"
#include "export.h"
#include "log.h"
#include "secret.h"
#include "staffkey.h"
#include "timefmt.h"
#include "wire.h"

#include <time.h>

/* ---- opening ---- */

enum tl_err
payouts_svc_open(struct payouts_svc *s, const struct payouts_cfg *cfg, unsigned flags, char *why, size_t whylen)
{
	struct award_rules rules;
	unsigned char *key = NULL;
	char *pw = NULL;
	char err[512];
	enum tl_err e;

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	pthread_mutex_init(&s->lock, NULL);
	if ((e = award_rules_load(cfg->rules, &rules, err, sizeof(err))) != TL_OK) {
		snprintf(why, whylen, "%s", err);
		goto fail;
	}
	if ((e = public_load(cfg->export_public_key, s->export_pk, sizeof(s->export_pk), why, whylen)) != TL_OK)
		goto fail;
	if ((e = secret_load(cfg->database_key, DB_KEY_LEN, &key, why, whylen)) != TL_OK)
		goto fail;
	e = db_open(cfg->database, key, (flags & PAYOUTS_SVC_CREATE) ? DB_CREATE : 0, &s->db);
	secret_free(key); /* SQLCipher keeps its own copy */
	key = NULL;
	if (e != TL_OK) {
		snprintf(why, whylen, "cannot open the payouts database %s (%s)", cfg->database, tl_strerror(e));
		goto fail;
	}
	if ((e = payouts_open(s->db, &rules, &s->core)) != TL_OK || (e = cases_migrate(s->db)) != TL_OK ||
	    (e = staffkey_migrate(s->db)) != TL_OK || (e = auth_migrate(s->db)) != TL_OK ||
	    (e = export_migrate(s->db)) != TL_OK) {
		snprintf(why, whylen, "cannot prepare the payouts database %s (%s)", cfg->database, tl_strerror(e));
		goto fail;
	}
	if (flags & PAYOUTS_SVC_AUDIT) {
		if ((e = secret_load(cfg->audit_secret_key, AUDIT_SK_BYTES, &key, why, whylen)) != TL_OK)
			goto fail;
		e = audit_open(cfg->audit_log, "payouts", key, &s->audit);
		secret_free(key);
		key = NULL;
		if (e != TL_OK) {
			snprintf(why, whylen, "cannot open the audit chain %s (%s%s)", cfg->audit_log, tl_strerror(e),
			         e == TL_EUNAVAIL ? ": another process, such as the running tipline-payouts, holds it"
			         : e == TL_EPROTO ? ": run `tipline audit verify`"
			                          : "");
			goto fail;
		}
	}
	if (flags & PAYOUTS_SVC_BUS) {
		struct bus_opts o = { 0 };

		if ((e = secret_load_text(cfg->nats_password_file, &pw, why, whylen)) != TL_OK)
			goto fail;
		o.url = cfg->nats_url;
		o.user = cfg->nats_user;
		o.password = pw;
		o.name = "tipline-payouts";
		o.inbox_prefix = "_INBOX_payouts";
		o.retry_on_failed_connect = true;
		e = bus_connect(&o, &s->bus);
		secret_free(pw);
		pw = NULL;
		if (e != TL_OK) {
			snprintf(why, whylen, "cannot connect to NATS at %s as %s (%s)", cfg->nats_url, cfg->nats_user,
			         tl_strerror(e));
			goto fail;
		}
	}
	return TL_OK;
fail:
	secret_free(key);
	secret_free(pw);
	payouts_svc_close(s);
	return e;
}

void
payouts_svc_close(struct payouts_svc *s)
{
	if (!s)
		return;
	bus_kv_close(s->status);
	bus_close(s->bus);
	audit_close(s->audit);
	payouts_close(s->core);
	db_close(s->db);
	pthread_mutex_destroy(&s->lock);
	s->status = NULL;
	s->bus = NULL;
	s->audit = NULL;
	s->core = NULL;
	s->db = NULL;
}

struct bus_kv *
payouts_svc_status_kv(struct payouts_svc *s)
{
	static int64_t next_warn;
	enum tl_err e;

	if (s->status || !s->bus)
		return s->status;
	if ((e = bus_kv_open(s->bus, WIRE_KV_STATUS, &s->status)) != TL_OK) {
		int64_t now = time_mono_ms();
		if (now >= next_warn) {
			log_warn("KV %s not available (%s); status writes wait", WIRE_KV_STATUS, tl_strerror(e));
			next_warn = now + 30000;
		}
		s->status = NULL;
	}
	return s->status;
}

/* ---- scanner ---- */

#define SCAN_AWARDS_MAX 256
#define SCAN_DIRTY_MAX 64

struct due_award {
	char award_id[ID_HEX_LEN + 1];
	char case_id[ID_HEX_LEN + 1];
};

static enum tl_err
approved_awards(struct db *db, struct due_award *out, size_t max, size_t *n)
{
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	*n = 0;
	if ((e = db_prepare(db, "SELECT award_id, case_id FROM awards WHERE status = 'approved'"
	                        " ORDER BY decided_at, award_id LIMIT ?1;", &st)) != TL_OK ||
	    (e = db_bind_int64(st, 1, (int64_t)max)) != TL_OK)
		goto out;
	while ((e = db_step(st, &row)) == TL_OK && row && *n < max) {
		snprintf(out[*n].award_id, sizeof(out[*n].award_id), "%s", db_col_text(st, 0));
		snprintf(out[*n].case_id, sizeof(out[*n].case_id), "%s", db_col_text(st, 1));
		(*n)++;
	}
out:
	db_finalize(st);
	return e;
}

/* The open shares of an award, by index and report. */
static enum tl_err
open_shares(struct db *db, const char *award_id, int *idx, char (*reports)[ID_HEX_LEN + 1], size_t *n)
{
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	*n = 0;
	/* A share booked in a live payment batch (pending or exported) is
	 * with the bank: it is settled by confirm or freed by a bank return,
	 * never forfeited behind the payer's back, even if the reporter filed a
	 * newer (refused) claim meanwhile. */
	if ((e = db_prepare(db, "SELECT s.idx, s.report_id FROM shares s WHERE s.award_id = ?1"
	                        " AND s.state = 'open' AND NOT EXISTS (SELECT 1 FROM batch_rows r"
	                        "  WHERE r.award_id = s.award_id AND r.share_idx = s.idx"
	                        "  AND r.state IN ('pending','exported'))"
	                        " ORDER BY s.idx;", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, award_id)) != TL_OK)
		goto out;
	while ((e = db_step(st, &row)) == TL_OK && row && *n < AWARD_MAX_REPORTS) {
		idx[*n] = (int)db_col_int64(st, 0);
		snprintf(reports[*n], ID_HEX_LEN + 1, "%s", db_col_text(st, 1));
		(*n)++;
	}
out:
	db_finalize(st);
	return e;
}

/* Forfeits the lapsed shares of one approved award. */
static enum tl_err
forfeit_award(struct payouts_svc *s, const struct due_award *a, int64_t now_ms, struct payouts_scan_stats *st,
              bool *changed)
{
	int idx[AWARD_MAX_REPORTS];
	char reports[AWARD_MAX_REPORTS][ID_HEX_LEN + 1];
	int64_t approved_ms;
	size_t n;
	enum tl_err e;

	*changed = false;
	if ((e = cases_approved_at(s->db, a->award_id, &approved_ms)) != TL_OK)
		return e == TL_ENOTFOUND ? TL_OK : e;
	if (approved_ms + s->cfg->claim_window_s * 1000 > now_ms)
		return TL_OK;
	if ((e = open_shares(s->db, a->award_id, idx, reports, &n)) != TL_OK)
		return e;
	for (size_t i = 0; i < n; i++) {
		struct cases_claim_row c;
		char step[32], tid[LEDGER_ID_LEN + 1], why[256], object[AUDIT_OBJECT_MAX + 1];
		enum ledger_outcome out;

		e = cases_latest_claim(s->db, reports[i], &c);
		if (e == TL_OK && c.eligible)
			continue; /* claimed in time: payment pending, not forfeited */
		if (e != TL_OK && e != TL_ENOTFOUND)
			return e;
		/* Derived id: a retry after a crash posts the same transfer. */
		snprintf(step, sizeof(step), "forfeit-share-%d", idx[i]);
		ledger_id_derive(a->award_id, step, tid);
		e = payouts_forfeit_share(s->core, a->award_id, idx[i], tid, now_ms, &out, why, sizeof(why));
		if (e == TL_EIO)
			return e;
		if (e != TL_OK) {
			log_warn("award %s share %d: forfeit failed: %s", a->award_id, idx[i], why);
			st->failed++;
			continue;
		}
		*changed = true;
		if (out == LEDGER_EXISTS)
			continue;
		st->forfeited++;
		log_info("award %s share %d (report %s): claim window ended; forfeited, transfer %s", a->award_id,
		         idx[i], reports[i], tid);
		snprintf(object, sizeof(object), "award:%s,share:%d,transfer:%s", a->award_id, idx[i], tid);
		if ((e = audit_append(s->audit, "system", "forfeit", object, "claim_window")) != TL_OK) {
			log_err("award %s share %d: forfeited but the audit chain write failed (%s)", a->award_id, idx[i],
			        tl_strerror(e));
			return e;
		}
	}
	return TL_OK;
}

enum tl_err
payouts_scan(struct payouts_svc *s, int64_t now_ms, struct payouts_scan_stats *st)
{
	struct due_award *aw = NULL;
	char (*dirty)[ID_HEX_LEN + 1] = NULL;
	size_t n = 0, nd = 0;
	enum tl_err e;

	memset(st, 0, sizeof(*st));
	if (!(aw = calloc(SCAN_AWARDS_MAX, sizeof(*aw))) || !(dirty = calloc(SCAN_DIRTY_MAX, sizeof(*dirty)))) {
		free(aw);
		return TL_ENOMEM;
	}
	pthread_mutex_lock(&s->lock);
	if (s->audit && (e = approved_awards(s->db, aw, SCAN_AWARDS_MAX, &n)) != TL_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		bool changed;
		if ((e = forfeit_award(s, &aw[i], now_ms, st, &changed)) != TL_OK) {
			if (e == TL_EIO || db_failed(s->db))
				goto out;
			log_warn("award %s: claim-window check failed (%s)", aw[i].award_id, tl_strerror(e));
			st->failed++;
			continue;
		}
		if (changed && payouts_status_sync_case(s, aw[i].case_id, now_ms) != TL_OK)
			st->failed++;
	}
	if ((e = cases_dirty(s, SCAN_DIRTY_MAX, dirty, &nd)) != TL_OK)
		goto out;
	for (size_t i = 0; i < nd; i++) {
		if ((e = payouts_status_sync_case(s, dirty[i], now_ms)) != TL_OK) {
			if (e == TL_EIO || db_failed(s->db))
				goto out;
			st->failed++;
			continue;
		}
		st->synced++;
	}
	e = TL_OK;
out:
	pthread_mutex_unlock(&s->lock);
	free(aw);
	free(dirty);
	return db_failed(s->db) ? TL_EIO : e;
}

/* ---- ingest ---- */

enum feed { FEED_LEADS, FEED_EVENTS, FEED_PAYEES, FEED_N_ };

static const struct {
	const char *stream, *durable, *what;
} feeds[FEED_N_] = {
	[FEED_LEADS] = { WIRE_STREAM_LEADS, WIRE_CONSUMER_PAYOUTS_LEADS, "lead" },
	[FEED_EVENTS] = { WIRE_STREAM_EVENTS, WIRE_CONSUMER_PAYOUTS_EVENTS, "event" },
	[FEED_PAYEES] = { WIRE_STREAM_PAYEES, WIRE_CONSUMER_PAYOUTS_PAYEES, "eligibility" },
};

struct feed_state {
	struct bus_consumer *c;
	int64_t next_bind_ms;
	int bind_delay_ms;
	int bind_attempts;
	int fetch_errors;
	uint64_t applied, duplicate, rejected;
};

static void
nap(volatile sig_atomic_t *stop, int ms)
{
	while (ms > 0 && !*stop) {
		int step = ms < 100 ? ms : 100;
		struct timespec ts = { 0, (long)step * 1000000L };
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* Decodes and applies one message in one transaction.  *out REJECTED for
 * a message the decoder (or the subject check) refuses. */
static enum tl_err
apply_msg(struct payouts_svc *s, enum feed f, const char *subject, const char *data, size_t len, int64_t now_ms,
          enum cases_outcome *out, char case_id[ID_HEX_LEN + 1])
{
	char want[256];
	enum tl_err e = TL_OK;

	*out = CASES_REJECTED;
	case_id[0] = '\0';
	if (f == FEED_LEADS) {
		struct wire_lead m;
		if (wire_lead_decode(data, len, &m) != TL_OK)
			return TL_OK;
		/* The subject names the district the lead was routed to. */
		if (wire_subject_lead(m.district, want, sizeof(want)) == TL_OK && subject && strcmp(subject, want) == 0) {
			pthread_mutex_lock(&s->lock);
			e = cases_apply_lead(s, &m, now_ms, out, case_id);
			pthread_mutex_unlock(&s->lock);
		}
		wire_lead_free(&m);
	} else if (f == FEED_EVENTS) {
		struct wire_event m;
		if (wire_event_decode(data, len, &m) != TL_OK)
			return TL_OK;
		/* A district can publish only on its own subjects, so the subject
		 * is the proof of who sent the event. */
		if (wire_subject_event(m.district, m.lead_id, m.type, want, sizeof(want)) == TL_OK && subject &&
		    strcmp(subject, want) == 0) {
			pthread_mutex_lock(&s->lock);
			e = cases_apply_event(s, &m, now_ms, out, case_id);
			pthread_mutex_unlock(&s->lock);
		}
		wire_event_free(&m);
	} else {
		struct wire_eligibility m;
		if (wire_eligibility_decode(data, len, &m) != TL_OK)
			return TL_OK;
		if (subject && strcmp(subject, WIRE_SUBJ_PAYEE_RESULT) == 0) {
			pthread_mutex_lock(&s->lock);
			e = cases_apply_eligibility(s, &m, now_ms, out, case_id);
			pthread_mutex_unlock(&s->lock);
		}
	}
	return e;
}

/* One fetch from one feed.  TL_EIO on a fatal database error. */
static enum tl_err
pump(struct payouts_svc *s, enum feed f, struct feed_state *fs, int timeout_ms, volatile sig_atomic_t *stop,
     int *got)
{
	struct bus_batch bt;
	enum tl_err e;

	*got = 0;
	if ((e = bus_fetch(fs->c, 64, timeout_ms, &bt)) != TL_OK) {
		if (fs->fetch_errors++ % 20 == 0)
			log_warn("%s fetch failed (%s); retrying", feeds[f].durable, tl_strerror(e));
		nap(stop, 500);
		return TL_OK;
	}
	fs->fetch_errors = 0;
	*got = bt.count;
	for (int i = 0; i < bt.count; i++) {
		struct bus_msg *m = bt.msgs[i];
		enum cases_outcome out = CASES_REJECTED;
		char case_id[ID_HEX_LEN + 1];
		uint64_t sseq = 0, delivered = 0;
		const char *data;
		size_t len;
		enum tl_err se;

		data = bus_msg_data(m, &len);
		(void)bus_msg_meta(m, &sseq, &delivered);
		e = apply_msg(s, f, bus_msg_subject(m), data, len, time_now_ms(), &out, case_id);
		if (e == TL_EIO || db_failed(s->db)) {
			/* Nothing more is acked: the restarted daemon gets them again. */
			log_err("fatal database error applying %s seq=%llu; stopping", feeds[f].what,
			        (unsigned long long)sseq);
			bus_batch_free(&bt);
			return TL_EIO;
		}
		if (e != TL_OK) {
			log_warn("%s seq=%llu not applied (%s); redelivered later", feeds[f].what,
			         (unsigned long long)sseq, tl_strerror(e));
			se = bus_msg_nak(m, 2000);
		} else if (out == CASES_REJECTED) {
			fs->rejected++;
			log_warn("%s seq=%llu malformed or inconsistent; terminated (%llu so far)", feeds[f].what,
			         (unsigned long long)sseq, (unsigned long long)fs->rejected);
			se = bus_msg_term(m);
		} else {
			if (out == CASES_APPLIED)
				fs->applied++;
			else
				fs->duplicate++;
			se = bus_msg_ack(m);
		}
		if (se != TL_OK)
			log_warn("settling %s seq=%llu failed (%s); it will be redelivered", feeds[f].what,
			         (unsigned long long)sseq, tl_strerror(se));
		if (e == TL_OK && case_id[0]) {
			pthread_mutex_lock(&s->lock);
			se = payouts_status_sync_case(s, case_id, time_now_ms());
			pthread_mutex_unlock(&s->lock);
			if (se != TL_OK)
				log_warn("case %s: status sync failed (%s)", case_id, tl_strerror(se));
		}
	}
	bus_batch_free(&bt);
	return TL_OK;
}

/* Binds a durable when due; `tipline streams setup` creates them, and it
 * may run after the daemon starts. */
static void
try_bind(struct payouts_svc *s, enum feed f, struct feed_state *fs, int64_t now)
{
	enum tl_err e;

	if (fs->c || now < fs->next_bind_ms)
		return;
	if ((e = bus_consumer_bind(s->bus, feeds[f].stream, feeds[f].durable, &fs->c)) == TL_OK) {
		log_info("bound consumer %s/%s", feeds[f].stream, feeds[f].durable);
		return;
	}
	fs->c = NULL;
	if (fs->bind_attempts++ % 10 == 0)
		log_warn("consumer %s/%s not available (%s); retrying (has `tipline streams setup` run?)",
		         feeds[f].stream, feeds[f].durable, tl_strerror(e));
	fs->bind_delay_ms = fs->bind_delay_ms ? (fs->bind_delay_ms < 5000 ? fs->bind_delay_ms * 2 : 5000) : 250;
	fs->next_bind_ms = now + fs->bind_delay_ms;
}

enum tl_err
payouts_run(struct payouts_svc *s, volatile sig_atomic_t *stop)
{
	struct feed_state fs[FEED_N_];
	int64_t next_scan = 0;
	enum tl_err e = TL_OK;

	memset(fs, 0, sizeof(fs));
	while (!*stop) {
		int64_t now = time_mono_ms();
		int busy = 0, bound = 0;

		for (int f = 0; f < FEED_N_ && !*stop; f++) {
			int got = 0;
			try_bind(s, (enum feed)f, &fs[f], now);
			if (!fs[f].c)
				continue;
			bound++;
			if ((e = pump(s, (enum feed)f, &fs[f], busy ? 10 : 200, stop, &got)) != TL_OK)
				goto out;
			busy += got;
		}
		if (!bound)
			nap(stop, 250);
		now = time_mono_ms();
		if (now >= next_scan && !*stop) {
			struct payouts_scan_stats st;

			next_scan = now + s->cfg->scan_interval_ms;
			e = payouts_scan(s, time_now_ms(), &st);
			if (e == TL_EIO)
				goto out;
			if (e != TL_OK)
				log_warn("scan failed (%s)", tl_strerror(e));
			else if (st.forfeited || st.synced || st.failed)
				log_info("scan: forfeited=%d synced=%d failed=%d", st.forfeited, st.synced, st.failed);
			e = TL_OK;
		}
	}
out:
	for (int f = 0; f < FEED_N_; f++) {
		if (fs[f].applied || fs[f].duplicate || fs[f].rejected)
			log_info("%s: applied=%llu duplicate=%llu rejected=%llu", feeds[f].durable,
			         (unsigned long long)fs[f].applied, (unsigned long long)fs[f].duplicate,
			         (unsigned long long)fs[f].rejected);
		bus_consumer_free(fs[f].c);
	}
	return e;
}
