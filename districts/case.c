#include "compat.h"
#include "case.h"
#include "district.h"
#include "log.h"
#include "timefmt.h"

#include <pthread.h>
#include <sodium.h>

/* Schema of the district node database.  Append steps; never edit a
 * released one.  Tip text lives in `reports` only; events and history hold
 * ids and codes (the same JSON that goes to TL_EVENTS). */
static const struct db_migration case_steps[] = {
	{ "cases, reports, findings, history, outbox, offers",
	  "CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);"
	  "CREATE TABLE cases ("
	  " lead_id TEXT PRIMARY KEY CHECK (length(lead_id) = 32),"
	  " district TEXT NOT NULL,"      /* the district that holds the case now */
	  " origin TEXT NOT NULL,"        /* the district the lead was routed to */
	  " lead_json TEXT NOT NULL,"     /* the lead as received: travels with a transfer */
	  " state TEXT NOT NULL CHECK (state IN"
	  "  ('new','claimed','xfer_out','transferred','closed','merged')),"
	  " holder TEXT, lease_until INTEGER, last_activity INTEGER,"
	  " clock_start INTEGER NOT NULL," /* deadlines count from here; survives transfers */
	  " opened_at INTEGER NOT NULL,"
	  " first_claim_at INTEGER, first_finding_at INTEGER,"
	  " transfers INTEGER NOT NULL DEFAULT 0,"
	  " xfer_to TEXT, xfer_deadline INTEGER, xfer_reason TEXT,"
	  " merged_into TEXT,"
	  " verdict TEXT CHECK (verdict IS NULL OR verdict IN ('substantiated','unfounded')),"
	  " furnaces INTEGER, capacity_tpy INTEGER, production TEXT, seized_kg INTEGER,"
	  " fines_fen INTEGER, signed_off_by TEXT, verdict_notes TEXT, closed_at INTEGER,"
	  " ev_seq INTEGER NOT NULL DEFAULT 0,"
	  " flags INTEGER NOT NULL DEFAULT 0" /* overdue/idle events already published */
	  ");"
	  "CREATE INDEX cases_queue ON cases (district, state);"
	  "CREATE TABLE reports ("
	  " lead_id TEXT PRIMARY KEY CHECK (length(lead_id) = 32)," /* the lead it came in as */
	  " case_id TEXT NOT NULL REFERENCES cases (lead_id),"
	  " report_id TEXT NOT NULL, channel TEXT NOT NULL, received_at INTEGER NOT NULL,"
	  " text TEXT NOT NULL, location TEXT, category TEXT, has_contact INTEGER NOT NULL"
	  ");"
	  "CREATE INDEX reports_case ON reports (case_id);"
	  "CREATE TABLE findings ("
	  " id INTEGER PRIMARY KEY,"
	  " lead_id TEXT NOT NULL REFERENCES cases (lead_id),"
	  " agency TEXT NOT NULL, check_kind TEXT NOT NULL, result TEXT NOT NULL,"
	  " checked_at INTEGER NOT NULL, who TEXT NOT NULL, details TEXT, evidence TEXT,"
	  " recorded_by TEXT NOT NULL, recorded_at INTEGER NOT NULL"
	  ");"
	  "CREATE INDEX findings_lead ON findings (lead_id);"
	  "CREATE TABLE history ("
	  " lead_id TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, type TEXT NOT NULL,"
	  " actor TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (lead_id, seq)"
	  ") WITHOUT ROWID;"
	  "CREATE TABLE outbox ("
	  " id INTEGER PRIMARY KEY,"
	  " msg_id TEXT NOT NULL UNIQUE, district TEXT NOT NULL, subject TEXT NOT NULL,"
	  " body TEXT NOT NULL, created_at INTEGER NOT NULL, sent_at INTEGER"
	  ");"
	  "CREATE INDEX outbox_unsent ON outbox (sent_at, id);"
	  "CREATE TABLE offers ("
	  " lead_id TEXT NOT NULL, to_district TEXT NOT NULL, transfer_n INTEGER NOT NULL,"
	  " from_district TEXT NOT NULL, reason_code TEXT NOT NULL, offered_at INTEGER NOT NULL,"
	  " deadline INTEGER NOT NULL, clock_start INTEGER NOT NULL, lead_json TEXT NOT NULL,"
	  " state TEXT NOT NULL CHECK (state IN ('pending','accepted','refused')),"
	  " decided_by TEXT, decided_at INTEGER,"
	  " PRIMARY KEY (lead_id, to_district, transfer_n)"
	  ");" },
	/* Rebuilding from TL_EVENTS (docs/districts.md): every event this
	 * database reflects, by event id, so that none is applied twice; own
	 * events go in as they are emitted.  stream_seq is the TL_EVENTS
	 * sequence it was applied from (0 for own events). */
	{ "applied events",
	  "CREATE TABLE applied ("
	  " event_id TEXT PRIMARY KEY, stream_seq INTEGER NOT NULL DEFAULT 0"
	  ") WITHOUT ROWID;" },
};

enum {
	FLAG_CLAIM = 1, FLAG_FINDING = 2, FLAG_VERDICT = 4, FLAG_TRANSFER = 8, FLAG_IDLE = 16,
};

struct case_node {
	struct db *db;
	struct case_cfg cfg;
	struct case_port port;
	pthread_mutex_t lock;
	char epoch[17]; /* random per database: keeps event ids unique after a rebuild */
	/* Per served district (cfg.districts order): rebuilding from
	 * TL_EVENTS; set while meta 'rebuild.<code>' exists. */
	bool rebuild[CASE_MAX_DISTRICTS];
};

/* A case row, as the actions need it. */
struct crow {
	char lead_id[ID_HEX_LEN + 1];
	char district[7], origin[7], state[16];
	char holder[WIRE_ACTOR_MAX + 1];
	int64_t lease_until, last_activity, clock_start, opened_at;
	int64_t first_claim_at, first_finding_at; /* 0 = not yet */
	int transfers;
	char xfer_to[7];
	int64_t xfer_deadline;
	char merged_into[ID_HEX_LEN + 1];
	char verdict[16];
	uint64_t ev_seq;
	int64_t flags;
	int64_t received_at; /* earliest report */
};

static const char *const role_names[] = { "responder", "supervisor", "city_office" };

const char *
case_role_name(enum case_role r)
{
	return (unsigned)r < TL_ARRAY_LEN(role_names) ? role_names[r] : "?";
}

static int64_t
now_ms(struct case_node *n)
{
	return n->port.now_ms ? n->port.now_ms(n->port.ctx) : time_now_ms();
}

bool
case_serves(const struct case_node *n, const char *district)
{
	if (!district)
		return false;
	for (size_t i = 0; i < n->cfg.ndistricts; i++)
		if (strcmp(n->cfg.districts[i], district) == 0)
			return true;
	return false;
}

/* Lock held (or the node not shared yet). */
static bool
rebuilding_locked(const struct case_node *n, const char *district)
{
	for (size_t i = 0; district && i < n->cfg.ndistricts; i++)
		if (strcmp(n->cfg.districts[i], district) == 0)
			return n->rebuild[i];
	return false;
}

static void
copy(char *dst, size_t dstsz, const char *src)
{
	snprintf(dst, dstsz, "%s", src ? src : "");
}

/* ---- SQL helpers: types is one letter per parameter, t = text (NULL ok),
 * i = int64_t, n = NULL. ---- */

static enum tl_err
bindv(struct db_stmt *st, const char *types, va_list ap)
{
	enum tl_err e = TL_OK;

	for (int i = 0; types[i] && e == TL_OK; i++) {
		switch (types[i]) {
		case 't': e = db_bind_text(st, i + 1, va_arg(ap, const char *)); break;
		case 'i': e = db_bind_int64(st, i + 1, va_arg(ap, int64_t)); break;
		case 'n': e = db_bind_null(st, i + 1); break;
		default: e = TL_EINVAL; break;
		}
	}
	return e;
}

static enum tl_err
query(struct case_node *n, struct db_stmt **st, const char *sql, const char *types, ...)
{
	va_list ap;
	enum tl_err e;

	if ((e = db_prepare(n->db, sql, st)) != TL_OK)
		return e;
	va_start(ap, types);
	e = bindv(*st, types, ap);
	va_end(ap);
	if (e != TL_OK) {
		db_finalize(*st);
		*st = NULL;
	}
	return e;
}

static enum tl_err
sqlx(struct case_node *n, const char *sql, const char *types, ...)
{
	struct db_stmt *st = NULL;
	va_list ap;
	enum tl_err e;

	if ((e = db_prepare(n->db, sql, &st)) != TL_OK)
		return e;
	va_start(ap, types);
	e = bindv(st, types, ap);
	va_end(ap);
	if (e == TL_OK)
		e = db_step(st, NULL);
	db_finalize(st);
	return e;
}

static int64_t
col_i64_or0(struct db_stmt *st, int c)
{
	return db_col_text(st, c) ? db_col_int64(st, c) : 0;
}

#define CROW_COLS \
	"c.lead_id, c.district, c.origin, c.state, c.holder, c.lease_until, c.last_activity," \
	" c.clock_start, c.opened_at, c.first_claim_at, c.first_finding_at, c.transfers, c.xfer_to," \
	" c.xfer_deadline, c.merged_into, c.verdict, c.ev_seq, c.flags," \
	" (SELECT min(received_at) FROM reports r WHERE r.case_id = c.lead_id)"

static void
crow_read(struct db_stmt *st, struct crow *r)
{
	memset(r, 0, sizeof(*r));
	copy(r->lead_id, sizeof(r->lead_id), db_col_text(st, 0));
	copy(r->district, sizeof(r->district), db_col_text(st, 1));
	copy(r->origin, sizeof(r->origin), db_col_text(st, 2));
	copy(r->state, sizeof(r->state), db_col_text(st, 3));
	copy(r->holder, sizeof(r->holder), db_col_text(st, 4));
	r->lease_until = col_i64_or0(st, 5);
	r->last_activity = col_i64_or0(st, 6);
	r->clock_start = db_col_int64(st, 7);
	r->opened_at = db_col_int64(st, 8);
	r->first_claim_at = col_i64_or0(st, 9);
	r->first_finding_at = col_i64_or0(st, 10);
	r->transfers = (int)db_col_int64(st, 11);
	copy(r->xfer_to, sizeof(r->xfer_to), db_col_text(st, 12));
	r->xfer_deadline = col_i64_or0(st, 13);
	copy(r->merged_into, sizeof(r->merged_into), db_col_text(st, 14));
	copy(r->verdict, sizeof(r->verdict), db_col_text(st, 15));
	r->ev_seq = (uint64_t)db_col_int64(st, 16);
	r->flags = db_col_int64(st, 17);
	r->received_at = col_i64_or0(st, 18);
}

static enum tl_err
load_case(struct case_node *n, const char *lead_id, struct crow *r)
{
	struct db_stmt *st = NULL;
	bool row = false;
	enum tl_err e;

	if (!lead_id || !id_valid(lead_id))
		return TL_EINVAL;
	if ((e = query(n, &st, "SELECT " CROW_COLS " FROM cases c WHERE c.lead_id = ?", "t", lead_id)) != TL_OK)
		return e;
	if ((e = db_step(st, &row)) == TL_OK && row)
		crow_read(st, r);
	db_finalize(st);
	if (e == TL_OK && (!row || !case_serves(n, r->district)))
		e = TL_ENOTFOUND;
	return e;
}

/* ---- roles ---- */

static bool
is_city(const struct case_actor *a)
{
	return a->role == CASE_CITY_OFFICE && strcmp(a->district, DISTRICT_CITY) == 0;
}

/* Supervisor powers: a supervisor in its district, the city office on
 * the triage code. */
static bool
is_super(const struct case_actor *a)
{
	return a->role == CASE_SUPERVISOR || is_city(a);
}

static enum tl_err
check_actor(struct case_node *n, const struct case_actor *a)
{
	if (!a || !wire_actor_valid(a->user) || (unsigned)a->role > CASE_CITY_OFFICE ||
	    !district_valid(a->district))
		return TL_EINVAL;
	if (!case_serves(n, a->district))
		return TL_EDENIED;
	/* The city office role exists only on the triage node's code. */
	if (a->role == CASE_CITY_OFFICE && strcmp(a->district, DISTRICT_CITY) != 0)
		return TL_EDENIED;
	return TL_OK;
}

/* May the actor act on this case at all? */
static enum tl_err
check_case_access(const struct case_actor *a, const struct crow *r)
{
	return strcmp(a->district, r->district) == 0 ? TL_OK : TL_EDENIED;
}

static bool
is_open(const struct crow *r)
{
	return strcmp(r->state, "new") == 0 || strcmp(r->state, "claimed") == 0;
}

static bool
holds(const struct case_actor *a, const struct crow *r, int64_t now)
{
	return strcmp(r->state, "claimed") == 0 && strcmp(r->holder, a->user) == 0 && r->lease_until > now;
}

/* ---- events: written to history + outbox in the caller's transaction ---- */

static void
event_init(struct wire_event *ev, enum wire_event_type t, const struct case_actor *a)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = t;
	if (a) {
		copy(ev->actor, sizeof(ev->actor), a->user);
		copy(ev->role, sizeof(ev->role), case_role_name(a->role));
	} else {
		copy(ev->role, sizeof(ev->role), "system");
	}
}

static enum tl_err
outbox_add(struct case_node *n, const char *msg_id, const char *district, const char *subject,
           const char *body, int64_t now)
{
	return sqlx(n, "INSERT OR IGNORE INTO outbox (msg_id, district, subject, body, created_at)"
	               " VALUES (?, ?, ?, ?, ?)", "tttti",
	            msg_id, district, subject, body, now);
}

static enum tl_err
emit(struct case_node *n, struct crow *r, struct wire_event *ev, int64_t now)
{
	char subject[160];
	struct buf body;
	enum tl_err e;

	buf_init(&body, WIRE_MAX_MSG);
	r->ev_seq++;
	ev->seq = r->ev_seq;
	ev->at_ms = now;
	copy(ev->lead_id, sizeof(ev->lead_id), r->lead_id);
	copy(ev->district, sizeof(ev->district), r->district);
	snprintf(ev->event_id, sizeof(ev->event_id), "%s:%s:%llu", r->lead_id, n->epoch,
	         (unsigned long long)ev->seq);
	if ((e = wire_event_encode(ev, &body)) != TL_OK ||
	    (e = wire_subject_event(r->district, r->lead_id, ev->type, subject, sizeof(subject))) != TL_OK)
		goto out;
	/* The district condition keeps a refusal's stub row (answer_transfer)
	 * from touching the sender's case in a shared database. */
	if ((e = sqlx(n, "UPDATE cases SET ev_seq = ? WHERE lead_id = ? AND district = ?", "itt",
	              (int64_t)r->ev_seq, r->lead_id, r->district)) != TL_OK ||
	    (e = sqlx(n, "INSERT INTO history (lead_id, seq, at, type, actor, body) VALUES (?, ?, ?, ?, ?, ?)",
	              "tiittt", r->lead_id, (int64_t)ev->seq, now, wire_event_type_name(ev->type),
	              ev->actor, buf_str(&body))) != TL_OK)
		goto out;
	/* Own events come back while a rebuild reads TL_EVENTS: known. */
	if ((e = sqlx(n, "INSERT OR IGNORE INTO applied (event_id) VALUES (?)", "t", ev->event_id)) != TL_OK)
		goto out;
	e = outbox_add(n, ev->event_id, r->district, subject, buf_str(&body), now);
	/* Ids only: the reason and all text stay out of the log. */
	if (e == TL_OK)
		log_info("event lead=%s district=%s seq=%llu type=%s actor=%s", r->lead_id, r->district,
		         (unsigned long long)ev->seq, wire_event_type_name(ev->type),
		         ev->actor[0] ? ev->actor : "-");
out:
	buf_free(&body);
	return e;
}

enum tl_err
case_flush(struct case_node *n, int *published, int *left)
{
	struct db_stmt *st = NULL;
	int done = 0, remaining = 0;
	bool row;
	enum tl_err e, pe = TL_OK;

	if ((e = query(n, &st, "SELECT id, msg_id, district, subject, body FROM outbox"
	                       " WHERE sent_at IS NULL ORDER BY id LIMIT 500", "")) != TL_OK)
		return e;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		const char *body = db_col_text(st, 4);
		int64_t id = db_col_int64(st, 0);

		/* Another process of the same database may serve other districts
		 * (tl-district-ctl connects only as its own district). */
		if (!case_serves(n, db_col_text(st, 2)))
			continue;
		if (pe != TL_OK) {
			remaining++;
			continue;
		}
		/* In order: a reader must never see "released" before "claimed".
		 * The first failure stops the flush; the scanner retries. */
		pe = n->port.publish(n->port.ctx, db_col_text(st, 2), db_col_text(st, 3), body, strlen(body),
		                     db_col_text(st, 1));
		if (pe != TL_OK) {
			remaining++;
			continue;
		}
		if ((e = sqlx(n, "UPDATE outbox SET sent_at = ? WHERE id = ?", "ii", now_ms(n), id)) != TL_OK)
			break;
		done++;
	}
	db_finalize(st);
	if (published)
		*published = done;
	if (left)
		*left = remaining;
	if (pe != TL_OK)
		log_warn("event publish failed (%s); %d event(s) wait in the outbox", tl_strerror(pe), remaining);
	return e;
}

/* ---- claims in TL_CLAIMS ---- */

/* NEW: claim unless someone else holds a live lease.  TAKEOVER: claim
 * whoever holds it.  RENEW/RELEASE: only the live holder.  EXPIRE: free a
 * lease that ran out.  FREE: free it whoever holds it (the case left the
 * queue: transfer, merge, verdict). */
enum kv_op { KV_NEW, KV_TAKEOVER, KV_RENEW, KV_RELEASE, KV_EXPIRE, KV_FREE };

/* Reads the claim and writes its successor with compare-and-set.  prev
 * gets the previous live holder ("" if none). */
static enum tl_err
kv_claim(struct case_node *n, const char *district, const char *lead_id, enum kv_op op,
         const char *user, int64_t now, int64_t until, char prev[WIRE_ACTOR_MAX + 1])
{
	char key[64];
	struct buf cur, val;
	struct wire_claim c, nc;
	uint64_t rev = 0, nrev = 0;
	bool exists, held_live;
	enum tl_err e;

	buf_init(&cur, 4096);
	buf_init(&val, 4096);
	prev[0] = '\0';
	memset(&c, 0, sizeof(c));
	if ((e = wire_claim_key(district, lead_id, key, sizeof(key))) != TL_OK)
		goto out;
	e = n->port.kv_get(n->port.ctx, district, key, &cur, &rev);
	if (e != TL_OK && e != TL_ENOTFOUND)
		goto out;
	exists = e == TL_OK;
	/* A value we cannot read is treated as a free claim, but still
	 * replaced with CAS on its revision. */
	if (exists && wire_claim_decode(buf_str(&cur), cur.len, &c) != TL_OK)
		memset(&c, 0, sizeof(c));
	held_live = exists && c.held && c.expires_ms > now;
	if (exists && c.held)
		copy(prev, WIRE_ACTOR_MAX + 1, c.holder);
	e = TL_ECONFLICT;
	switch (op) {
	case KV_NEW:
		if (held_live && strcmp(c.holder, user) != 0) {
			e = TL_EEXIST;
			goto out;
		}
		break;
	case KV_TAKEOVER:
		break;
	case KV_RENEW:
	case KV_RELEASE:
		if (!held_live || strcmp(c.holder, user) != 0)
			goto out;
		break;
	case KV_FREE:
		if (!exists || !c.held) {
			e = TL_OK;
			goto out;
		}
		break;
	case KV_EXPIRE:
		if (!exists || !c.held) {
			e = TL_OK; /* already free */
			goto out;
		}
		if (held_live)
			goto out; /* renewed elsewhere */
		break;
	}
	memset(&nc, 0, sizeof(nc));
	copy(nc.lead_id, sizeof(nc.lead_id), lead_id);
	copy(nc.district, sizeof(nc.district), district);
	nc.held = op == KV_NEW || op == KV_TAKEOVER || op == KV_RENEW;
	if (nc.held) {
		copy(nc.holder, sizeof(nc.holder), user);
		nc.since_ms = op == KV_RENEW ? c.since_ms : now;
		nc.expires_ms = until;
	}
	if ((e = wire_claim_encode(&nc, &val)) != TL_OK)
		goto out;
	if (exists)
		e = n->port.kv_update(n->port.ctx, district, key, val.data, val.len, rev, &nrev);
	else
		e = n->port.kv_create(n->port.ctx, district, key, val.data, val.len, &nrev);
	/* Lost the race to another replica. */
	if (e == TL_EEXIST || e == TL_ECONFLICT)
		e = op == KV_NEW ? TL_EEXIST : TL_ECONFLICT;
out:
	buf_free(&cur);
	buf_free(&val);
	return e;
}

/* ---- open / close ---- */

enum tl_err
case_open(struct db *db, const struct case_cfg *cfg, const struct case_port *port, struct case_node **out)
{
	struct case_node *n;
	struct db_stmt *st = NULL;
	bool row = false;
	enum tl_err e;

	*out = NULL;
	if (!cfg->ndistricts || cfg->ndistricts > CASE_MAX_DISTRICTS || !port->publish || !port->kv_get ||
	    !port->kv_create || !port->kv_update)
		return TL_EINVAL;
	for (size_t i = 0; i < cfg->ndistricts; i++)
		if (!district_valid(cfg->districts[i]))
			return TL_EINVAL;
	if (!(n = calloc(1, sizeof(*n))))
		return TL_ENOMEM;
	n->db = db;
	n->cfg = *cfg;
	n->port = *port;
	if (n->cfg.lease_ms <= 0) n->cfg.lease_ms = 72LL * 3600 * 1000;
	if (n->cfg.idle_ms <= 0) n->cfg.idle_ms = 48LL * 3600 * 1000;
	if (n->cfg.claim_days <= 0) n->cfg.claim_days = 1;
	if (n->cfg.finding_days <= 0) n->cfg.finding_days = 30;
	if (n->cfg.verdict_days <= 0) n->cfg.verdict_days = 90;
	if (n->cfg.transfer_days <= 0) n->cfg.transfer_days = 2;
	if (n->cfg.max_transfers <= 0) n->cfg.max_transfers = 2;
	pthread_mutex_init(&n->lock, NULL);
	if ((e = db_migrate(db, "districts", case_steps, TL_ARRAY_LEN(case_steps), NULL)) != TL_OK)
		goto fail;
	if ((e = query(n, &st, "SELECT v FROM meta WHERE k = 'epoch'", "")) != TL_OK)
		goto fail;
	if ((e = db_step(st, &row)) == TL_OK && row)
		copy(n->epoch, sizeof(n->epoch), db_col_text(st, 0));
	db_finalize(st);
	if (e != TL_OK)
		goto fail;
	if (!row) {
		unsigned char r[8];
		randombytes_buf(r, sizeof(r));
		for (size_t i = 0; i < sizeof(r); i++)
			snprintf(n->epoch + 2 * i, 3, "%02x", r[i]);
		if ((e = sqlx(n, "INSERT INTO meta (k, v) VALUES ('epoch', ?)", "t", n->epoch)) != TL_OK)
			goto fail;
		/* A new database: whatever TL_EVENTS holds for our districts is
		 * work this database lost; the node rebuilds it (case_apply_event). */
		for (size_t i = 0; n->cfg.rebuild_new && i < n->cfg.ndistricts; i++)
			if ((e = sqlx(n, "INSERT OR IGNORE INTO meta (k, v) VALUES ('rebuild.' || ?, '1')", "t",
			              n->cfg.districts[i])) != TL_OK)
				goto fail;
	}
	for (size_t i = 0; i < n->cfg.ndistricts; i++) {
		if ((e = query(n, &st, "SELECT 1 FROM meta WHERE k = 'rebuild.' || ?", "t", n->cfg.districts[i])) != TL_OK)
			goto fail;
		row = false;
		e = db_step(st, &row);
		db_finalize(st);
		if (e != TL_OK)
			goto fail;
		n->rebuild[i] = row;
	}
	*out = n;
	return TL_OK;
fail:
	case_close(n);
	return e;
}

void
case_close(struct case_node *n)
{
	if (!n)
		return;
	pthread_mutex_destroy(&n->lock);
	free(n);
}

/* Commit or roll back; the caller holds the lock. */
static enum tl_err
finish(struct case_node *n, enum tl_err e)
{
	if (e == TL_OK)
		e = db_commit(n->db);
	if (e != TL_OK)
		db_rollback(n->db);
	return e;
}

static void
flush_quietly(struct case_node *n)
{
	if (case_flush(n, NULL, NULL) != TL_OK)
		log_warn("outbox flush failed; the scanner will retry");
}

/* ---- ingestion ---- */

static enum tl_err
insert_case(struct case_node *n, const struct wire_lead *l, const char *district, const char *lead_json,
            int transfers, int64_t clock_start, int64_t now)
{
	enum tl_err e;

	if ((e = sqlx(n, "INSERT INTO cases (lead_id, district, origin, lead_json, state, clock_start,"
	                 " opened_at, transfers) VALUES (?, ?, ?, ?, 'new', ?, ?, ?)",
	              "ttttiii", l->lead_id, district, l->district, lead_json, clock_start, now,
	              (int64_t)transfers)) != TL_OK)
		return e;
	return sqlx(n, "INSERT OR IGNORE INTO reports (lead_id, case_id, report_id, channel, received_at,"
	               " text, location, category, has_contact) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	            "ttttittti", l->lead_id, l->lead_id, l->report_id,
	            l->channel, l->received_ms, l->text, l->location, l->category, (int64_t)l->has_contact);
}

static bool
exists_case(struct case_node *n, const char *lead_id, enum tl_err *e)
{
	struct db_stmt *st = NULL;
	bool row = false;

	if ((*e = query(n, &st, "SELECT 1 FROM cases WHERE lead_id = ?", "t", lead_id)) != TL_OK)
		return false;
	*e = db_step(st, &row);
	db_finalize(st);
	return row;
}

enum tl_err
case_ingest_lead(struct case_node *n, const char *subject, const char *data, size_t len,
                 enum case_ingest *out)
{
	struct wire_lead l;
	struct crow r;
	struct wire_event ev;
	char want[64], *json = NULL;
	bool decoded = false;
	int64_t now;
	enum tl_err e;

	*out = CASE_IN_REJECT;
	pthread_mutex_lock(&n->lock);
	now = now_ms(n);
	if (wire_lead_decode(data, len, &l) != TL_OK) {
		log_warn("lead rejected: undecodable (%zu bytes)", len);
		e = TL_OK;
		goto out;
	}
	decoded = true;
	/* The subject is what the server authorised intake to publish; the
	 * payload must agree with it and be for a district we serve. */
	if (wire_subject_lead(l.district, want, sizeof(want)) != TL_OK ||
	    (subject && strcmp(subject, want) != 0) || !case_serves(n, l.district)) {
		log_warn("lead rejected: lead=%s district=%s does not match its subject", l.lead_id, l.district);
		e = TL_OK;
		goto out;
	}
	if ((e = db_begin(n->db)) != TL_OK)
		goto out;
	if (exists_case(n, l.lead_id, &e) || e != TL_OK) {
		db_rollback(n->db);
		if (e == TL_OK)
			*out = CASE_IN_DUP;
		goto out;
	}
	if (!(json = strndup(data, len))) {
		db_rollback(n->db);
		e = TL_ENOMEM;
		goto out;
	}
	/* The deadline clock starts when the reporter reported, not when the
	 * node got round to it. */
	e = insert_case(n, &l, l.district, json, 0, l.received_ms, now);
	/* While rebuilding, the case's own "opened" comes back from TL_EVENTS
	 * (a case that has none gets a new one when the rebuild ends). */
	if (e == TL_OK && !rebuilding_locked(n, l.district) && (e = load_case(n, l.lead_id, &r)) == TL_OK) {
		event_init(&ev, WIRE_EV_OPENED, NULL);
		e = emit(n, &r, &ev, now);
	}
	if ((e = finish(n, e)) == TL_OK) {
		*out = CASE_IN_NEW;
		log_info("case opened lead=%s district=%s", l.lead_id, l.district);
		flush_quietly(n);
	}
out:
	free(json);
	if (decoded)
		wire_lead_free(&l);
	pthread_mutex_unlock(&n->lock);
	return e;
}

/* Splits "tl.xfer.<a>.<b>.<lead>" into its three tokens. */
static bool
parse_xfer_subject(const char *s, char a[7], char b[7], char lead[ID_HEX_LEN + 1])
{
	const char *p = "tl.xfer.";

	if (!s || strncmp(s, p, strlen(p)) != 0 || strlen(s) != strlen(p) + 6 + 1 + 6 + 1 + ID_HEX_LEN)
		return false;
	s += strlen(p);
	memcpy(a, s, 6);
	a[6] = '\0';
	memcpy(b, s + 7, 6);
	b[6] = '\0';
	memcpy(lead, s + 14, ID_HEX_LEN);
	lead[ID_HEX_LEN] = '\0';
	return s[6] == '.' && s[13] == '.' && district_valid(a) && district_valid(b) && id_valid(lead);
}

enum tl_err
case_ingest_xfer(struct case_node *n, const char *subject, const char *data, size_t len,
                 enum case_ingest *out)
{
	struct wire_xfer x;
	struct wire_lead l;
	char rcpt[7], sender[7], lead[ID_HEX_LEN + 1];
	bool decoded = false, lead_ok = false;
	enum tl_err e = TL_OK;

	*out = CASE_IN_REJECT;
	pthread_mutex_lock(&n->lock);
	if (!parse_xfer_subject(subject, rcpt, sender, lead) || wire_xfer_decode(data, len, &x) != TL_OK) {
		log_warn("transfer message rejected: undecodable (%zu bytes)", len);
		goto out;
	}
	decoded = true;
	/* The subject's second token is the publisher, which its NATS user
	 * proves; the body must tell the same story. */
	if (strcmp(x.lead_id, lead) != 0 || !case_serves(n, rcpt) ||
	    (!x.reply && (strcmp(x.to_district, rcpt) != 0 || strcmp(x.from_district, sender) != 0)) ||
	    (x.reply && (strcmp(x.from_district, rcpt) != 0 || strcmp(x.to_district, sender) != 0))) {
		log_warn("transfer message rejected: lead=%s subject and body disagree", lead);
		goto out;
	}
	if (!x.reply) {
		if (wire_lead_decode(x.lead, strlen(x.lead), &l) != TL_OK) {
			log_warn("transfer offer rejected: lead=%s carries an invalid lead", lead);
			goto out;
		}
		lead_ok = true;
		if (strcmp(l.lead_id, x.lead_id) != 0) {
			log_warn("transfer offer rejected: lead=%s carries another lead", lead);
			goto out;
		}
		e = sqlx(n, "INSERT OR IGNORE INTO offers (lead_id, to_district, transfer_n, from_district,"
		            " reason_code, offered_at, deadline, clock_start, lead_json, state)"
		            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
		         "ttittiiit", x.lead_id, x.to_district, (int64_t)x.transfer_n, x.from_district,
		         x.reason_code, x.at_ms, x.deadline_ms, x.clock_start_ms, x.lead);
		if (e == TL_OK) {
			*out = db_changes(n->db) ? CASE_IN_NEW : CASE_IN_DUP;
			log_info("transfer offer lead=%s from=%s to=%s n=%d", x.lead_id, x.from_district,
			         x.to_district, x.transfer_n);
		}
	} else {
		/* Settles our outgoing transfer.  Matching on transfer_n makes a
		 * stale or replayed reply a no-op. */
		if (x.accepted)
			e = sqlx(n, "UPDATE cases SET state = 'transferred', holder = NULL, lease_until = NULL"
			            " WHERE lead_id = ? AND district = ? AND state = 'xfer_out' AND transfers = ?"
			            " AND xfer_to = ?",
			         "ttit", x.lead_id, x.from_district, (int64_t)x.transfer_n, x.to_district);
		else
			e = sqlx(n, "UPDATE cases SET state = 'new', holder = NULL, lease_until = NULL,"
			            " xfer_to = NULL, xfer_deadline = NULL, xfer_reason = NULL,"
			            " flags = flags & ~8"
			            " WHERE lead_id = ? AND district = ? AND state = 'xfer_out' AND transfers = ?"
			            " AND xfer_to = ?",
			         "ttit", x.lead_id, x.from_district, (int64_t)x.transfer_n, x.to_district);
		/* While rebuilding, the reply may come before the event that put
		 * the case in xfer_out: have it redelivered later. */
		if (e == TL_OK && !db_changes(n->db) && rebuilding_locked(n, x.from_district)) {
			e = TL_EUNAVAIL;
			goto out;
		}
		if (e == TL_OK) {
			*out = db_changes(n->db) ? CASE_IN_NEW : CASE_IN_DUP;
			log_info("transfer reply lead=%s from=%s to=%s n=%d %s", x.lead_id, x.from_district,
			         x.to_district, x.transfer_n, x.accepted ? "accepted" : "refused");
		}
	}
out:
	if (lead_ok)
		wire_lead_free(&l);
	if (decoded)
		wire_xfer_free(&x);
	pthread_mutex_unlock(&n->lock);
	return e;
}

/* ---- claim family ---- */

/* While the node rebuilds the district from TL_EVENTS, nobody acts on its
 * cases: an action now would race the events still coming back.  Read from
 * the database, so that every process (tl-district-ctl too) sees the end. */
static enum tl_err
check_not_rebuilding(struct case_node *n, const char *district)
{
	struct db_stmt *st = NULL;
	bool row = false;
	enum tl_err e;

	if ((e = query(n, &st, "SELECT 1 FROM meta WHERE k = 'rebuild.' || ?", "t", district)) != TL_OK)
		return e;
	e = db_step(st, &row);
	db_finalize(st);
	return e == TL_OK && row ? TL_EUNAVAIL : e;
}

/* Common preamble: lock held by caller; loads the case and checks access. */
static enum tl_err
prepare(struct case_node *n, const struct case_actor *a, const char *lead_id, struct crow *r)
{
	enum tl_err e;

	if ((e = check_actor(n, a)) != TL_OK || (e = check_not_rebuilding(n, a->district)) != TL_OK ||
	    (e = load_case(n, lead_id, r)) != TL_OK)
		return e;
	return check_case_access(a, r);
}

/* Best effort: free a claim we just took when the database refused it. */
static void
undo_claim(struct case_node *n, const struct crow *r, const char *user, int64_t now)
{
	char prev[WIRE_ACTOR_MAX + 1];

	if (kv_claim(n, r->district, r->lead_id, KV_RELEASE, user, now, 0, prev) != TL_OK)
		log_warn("claim on lead=%s could not be undone; its lease will expire", r->lead_id);
}

enum tl_err
case_claim(struct case_node *n, const struct case_actor *a, const char *lead_id)
{
	struct crow r;
	struct wire_event ev;
	char prev[WIRE_ACTOR_MAX + 1];
	int64_t now, until;
	enum tl_err e;

	pthread_mutex_lock(&n->lock);
	now = now_ms(n);
	until = now + n->cfg.lease_ms;
	if ((e = prepare(n, a, lead_id, &r)) != TL_OK)
		goto out;
	if (!is_open(&r)) {
		e = TL_ECONFLICT;
		goto out;
	}
	if (strcmp(r.state, "claimed") == 0 && r.lease_until > now && strcmp(r.holder, a->user) != 0) {
		e = TL_EEXIST;
		goto out;
	}
	/* TL_CLAIMS decides; the database only mirrors the winner. */
	if ((e = kv_claim(n, r.district, r.lead_id, KV_NEW, a->user, now, until, prev)) != TL_OK)
		goto out;
	if ((e = db_begin(n->db)) != TL_OK) {
		undo_claim(n, &r, a->user, now);
		goto out;
	}
	e = sqlx(n, "UPDATE cases SET state = 'claimed', holder = ?, lease_until = ?, last_activity = ?,"
	            " first_claim_at = coalesce(first_claim_at, ?), flags = flags & ~16 WHERE lead_id = ?",
	         "tiiit", a->user, until, now, now, r.lead_id);
	if (e == TL_OK) {
		event_init(&ev, WIRE_EV_CLAIMED, a);
		copy(ev.holder, sizeof(ev.holder), a->user);
		ev.lease_until_ms = until;
		e = emit(n, &r, &ev, now);
	}
	if ((e = finish(n, e)) != TL_OK) {
		undo_claim(n, &r, a->user, now);
		goto out;
	}
	flush_quietly(n);
out:
	pthread_mutex_unlock(&n->lock);
	return e;
}

/* Extends the actor's lease (activity).  No event: renewals are frequent
 * and carry no information for readers. */
static enum tl_err
renew_locked(struct case_node *n, const struct case_actor *a, struct crow *r, int64_t now)
{
	char prev[WIRE_ACTOR_MAX + 1];
	int64_t until = now + n->cfg.lease_ms;
	enum tl_err e;

	if (!holds(a, r, now))
		return TL_ECONFLICT;
	if ((e = kv_claim(n, r->district, r->lead_id, KV_RENEW, a->user, now, until, prev)) != TL_OK)
		return e;
	r->lease_until = until;
	return sqlx(n, "UPDATE cases SET lease_until = ?, last_activity = ?, flags = flags & ~16"
	               " WHERE lead_id = ?", "iit", until, now, r->lead_id);
}

enum tl_err
case_renew(struct case_node *n, const struct case_actor *a, const char *lead_id)
{
	struct crow r;
	enum tl_err e;

	pthread_mutex_lock(&n->lock);
	if ((e = prepare(n, a, lead_id, &r)) == TL_OK)
		e = renew_locked(n, a, &r, now_ms(n));
	pthread_mutex_unlock(&n->lock);
	return e;
}

enum tl_err
case_release(struct case_node *n, const struct case_actor *a, const char *lead_id)
{
	struct crow r;
	struct wire_event ev;
	char prev[WIRE_ACTOR_MAX + 1];
	int64_t now;
	enum tl_err e;

	pthread_mutex_lock(&n->lock);
	now = now_ms(n);
	if ((e = prepare(n, a, lead_id, &r)) != TL_OK)
		goto out;
	if (!holds(a, &r, now)) {
		e = TL_ECONFLICT;
		goto out;
	}
	if ((e = kv_claim(n, r.district, r.lead_id, KV_RELEASE, a->user, now, 0, prev)) != TL_OK)
		goto out;
	if ((e = db_begin(n->db)) != TL_OK)
		goto out;
	e = sqlx(n, "UPDATE cases SET state = 'new', holder = NULL, lease_until = NULL WHERE lead_id = ?",
	         "t", r.lead_id);
	if (e == TL_OK) {
		event_init(&ev, WIRE_EV_RELEASED, a);
		copy(ev.prev_holder, sizeof(ev.prev_holder), a->user);
		e = emit(n, &r, &ev, now);
	}
	if ((e = finish(n, e)) == TL_OK)
		flush_quietly(n);
out:
	pthread_mutex_unlock(&n->lock);
	return e;
}

static bool
reason_ok(const char *reason)
{
	size_t len;

	if (!reason)
		return false;
	len = strlen(reason);
	return len > 0 && len <= WIRE_REASON_MAX;
}

enum tl_err
case_take_over(struct case_node *n, const struct case_actor *a, const char *lead_id, const char *reason)
{
	struct crow r;
	struct wire_event ev;
	char prev[WIRE_ACTOR_MAX + 1];
	int64_t now, until;
	enum tl_err e;

	pthread_mutex_lock(&n->lock);
	now = now_ms(n);
	until = now + n->cfg.lease_ms;
	if ((e = prepare(n, a, lead_id, &r)) != TL_OK)
		goto out;
	if (!is_super(a)) {
		e = TL_EDENIED;
		goto out;
	}
	if (!reason_ok(reason)) {
		e = TL_EINVAL;
		goto out;
	}
	if (!is_open(&r)) {
		e = TL_ECONFLICT;
		goto out;
	}
	if ((e = kv_claim(n, r.district, r.lead_id, KV_TAKEOVER, a->user, now, until, prev)) != TL_OK)
		goto out;
	if ((e = db_begin(n->db)) != TL_OK)
		goto out;
	e = sqlx(n, "UPDATE cases SET state = 'claimed', holder = ?, lease_until = ?, last_activity = ?,"
	            " first_claim_at = coalesce(first_claim_at, ?), flags = flags & ~16 WHERE lead_id = ?",
	         "tiiit", a->user, until, now, now, r.lead_id);
	if (e == TL_OK) {
		event_init(&ev, WIRE_EV_TAKEN_OVER, a);
		copy(ev.holder, sizeof(ev.holder), a->user);
		copy(ev.prev_holder, sizeof(ev.prev_holder), prev[0] ? prev : r.holder);
		ev.lease_until_ms = until;
		ev.reason = (char *)reason;
		e = emit(n, &r, &ev, now);
	}
	if ((e = finish(n, e)) == TL_OK)
		flush_quietly(n);
out:
	pthread_mutex_unlock(&n->lock);
	return e;
}

/* The actor may work on the case: holds the claim, or is a supervisor on
 * an open case.  Renews the holder's lease (activity). */
static enum tl_err
may_work(struct case_node *n, const struct case_actor *a, struct crow *r, int64_t now)
{
	if (!is_open(r))
		return TL_ECONFLICT;
	if (holds(a, r, now))
		return renew_locked(n, a, r, now);
	if (is_super(a))
		return TL_OK;
	return strcmp(r->state, "claimed") == 0 && r->lease_until > now ? TL_EEXIST : TL_ECONFLICT;
}

static bool
text_ok(const char *s, size_t max, bool required)
{
	if (!s)
		return !required;
	return strlen(s) <= max && (!required || s[0]);
}

enum tl_err
case_record_finding(struct case_node *n, const struct case_actor *a, const char *lead_id,
                    const struct case_finding *f)
{
	struct crow r;
	struct wire_event ev;
	int64_t now;
	int evidence = 0;
	enum tl_err e;

	pthread_mutex_lock(&n->lock);
	now = now_ms(n);
	if ((e = prepare(n, a, lead_id, &r)) != TL_OK)
		goto out;
	if (!f || !wire_agency_valid(f->agency) || !wire_check_valid(f->check) ||
	    !wire_result_valid(f->result) || f->checked_ms <= 0 || f->checked_ms > now + 86400000LL ||
	    !text_ok(f->who, CASE_MAX_WHO, true) || !text_ok(f->details, CASE_MAX_DETAILS, false) ||
	    !text_ok(f->evidence, CASE_MAX_EVIDENCE, false)) {
		e = TL_EINVAL;
		goto out;
	}
	if (f->evidence)
		for (const char *p = f->evidence; *p;) {
			const char *nl = strchr(p, '\n');
			size_t l = nl ? (size_t)(nl - p) : strlen(p);
			if (l)
				evidence++;
			p += l + (nl ? 1 : 0);
		}
	if ((e = db_begin(n->db)) != TL_OK)
		goto out;
	if ((e = may_work(n, a, &r, now)) != TL_OK)
		goto done;
	e = sqlx(n, "INSERT INTO findings (lead_id, agency, check_kind, result, checked_at, who, details,"
	            " evidence, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	         "ttttitttti", r.lead_id, f->agency, f->check, f->result, f->checked_ms, f->who, f->details,
	         f->evidence, a->user, now);
	if (e == TL_OK)
		e = sqlx(n, "UPDATE cases SET first_finding_at = coalesce(first_finding_at, ?),"
		            " last_activity = ? WHERE lead_id = ?", "iit", now, now, r.lead_id);
	if (e == TL_OK) {
		event_init(&ev, WIRE_EV_FINDING_RECORDED, a);
		copy(ev.agency, sizeof(ev.agency), f->agency);
		copy(ev.check, sizeof(ev.check), f->check);
		copy(ev.result, sizeof(ev.result), f->result);
		ev.checked_ms = f->checked_ms;
		ev.evidence_count = evidence > 1000 ? 1000 : evidence;
		e = emit(n, &r, &ev, now);
	}
done:
	if ((e = finish(n, e)) == TL_OK)
		flush_quietly(n);
out:
	pthread_mutex_unlock(&n->lock);
	return e;
}

/* ---- transfers ---- */

static enum tl_err
lead_json_of(struct case_node *n, const char *lead_id, char **out)
{
	struct db_stmt *st = NULL;
	bool row = false;
	enum tl_err e;

	*out = NULL;
	if ((e = query(n, &st, "SELECT lead_json FROM cases WHERE lead_id = ?", "t", lead_id)) != TL_OK)
		return e;
	if ((e = db_step(st, &row)) == TL_OK && row && !(*out = strdup(db_col_text(st, 0))))
		e = TL_ENOMEM;
	db_finalize(st);
	return e == TL_OK && !row ? TL_ENOTFOUND : e;
}

enum tl_err
case_request_transfer(struct case_node *n, const struct case_actor *a, const char *lead_id,
                      const char *to, const char *reason_code, const char *reason)
{
	struct crow r;
	struct wire_event ev;
	struct wire_xfer x;
	struct buf body;
	char subject[160], msg_id[96], prev[WIRE_ACTOR_MAX + 1], *lead_json = NULL;
	const char *dest = to;
	int64_t now, deadline;
	int nth;
	enum tl_err e;

	buf_init(&body, WIRE_MAX_MSG);
	pthread_mutex_lock(&n->lock);
	now = now_ms(n);
	if ((e = prepare(n, a, lead_id, &r)) != TL_OK)
		goto out;
	if (!district_valid(to) || !wire_xfer_reason_valid(reason_code) ||
	    (reason && !text_ok(reason, WIRE_REASON_MAX, false))) {
		e = TL_EINVAL;
		goto out;
	}
	/* Two transfers are enough: a third goes to the city office, which
	 * decides (and may itself transfer anywhere). */
	nth = r.transfers + 1;
	if (r.transfers >= n->cfg.max_transfers && strcmp(r.district, DISTRICT_CITY) != 0)
		dest = DISTRICT_CITY;
	if (strcmp(dest, r.district) == 0) {
		e = TL_EINVAL;
		goto out;
	}
	/* The offer carries the case's own lead message (reports merged into
	 * it stay in this database: docs/districts.md, "not done"). */
	if ((e = lead_json_of(n, r.lead_id, &lead_json)) != TL_OK)
		goto out;
	if ((e = db_begin(n->db)) != TL_OK)
		goto out;
	if ((e = may_work(n, a, &r, now)) != TL_OK)
		goto done;
	/* The claim ends here: whoever gets the case back claims it anew. */
	if (strcmp(r.state, "claimed") == 0 &&
	    (e = kv_claim(n, r.district, r.lead_id, KV_FREE, a->user, now, 0, prev)) != TL_OK)
		goto done;
	deadline = cal_add_working_days(n->cfg.cal, now, n->cfg.transfer_days);
	e = sqlx(n, "UPDATE cases SET state = 'xfer_out', holder = NULL, lease_until = NULL,"
	            " transfers = ?, xfer_to = ?, xfer_deadline = ?, xfer_reason = ?, flags = flags & ~8"
	            " WHERE lead_id = ?", "ititt", (int64_t)nth, dest, deadline, reason_code, r.lead_id);
	if (e == TL_OK) {
		event_init(&ev, WIRE_EV_TRANSFER_REQUESTED, a);
		copy(ev.from_district, sizeof(ev.from_district), r.district);
		copy(ev.to_district, sizeof(ev.to_district), dest);
		copy(ev.reason_code, sizeof(ev.reason_code), dest != to ? "city_decision" : reason_code);
		ev.transfer_n = nth;
		ev.deadline_ms = deadline;
		ev.reason = (char *)reason;
		e = emit(n, &r, &ev, now);
	}
	if (e == TL_OK) {
		memset(&x, 0, sizeof(x));
		copy(x.lead_id, sizeof(x.lead_id), r.lead_id);
		copy(x.from_district, sizeof(x.from_district), r.district);
		copy(x.to_district, sizeof(x.to_district), dest);
		x.transfer_n = nth;
		x.at_ms = now;
		copy(x.actor, sizeof(x.actor), a->user);
		copy(x.reason_code, sizeof(x.reason_code), dest != to ? "city_decision" : reason_code);
		x.deadline_ms = deadline;
		x.clock_start_ms = r.clock_start;
		x.lead = lead_json;
		/* A derived id: the lead's own id is in the dedup window already. */
		snprintf(msg_id, sizeof(msg_id), "%s:xfer:%d:%s", r.lead_id, nth, n->epoch);
		if ((e = wire_xfer_encode(&x, &body)) == TL_OK &&
		    (e = wire_subject_xfer(dest, r.district, r.lead_id, subject, sizeof(subject))) == TL_OK)
			e = outbox_add(n, msg_id, r.district, subject, buf_str(&body), now);
	}
done:
	if ((e = finish(n, e)) == TL_OK)
		flush_quietly(n);
out:
	free(lead_json);
	buf_free(&body);
	pthread_mutex_unlock(&n->lock);
	return e;
}

struct offer {
	char from[7];
	int nth;
	int64_t deadline, clock_start;
	char reason_code[WIRE_CODE_LEN + 1];
	char *lead_json;
};

static enum tl_err
load_offer(struct case_node *n, const char *lead_id, const char *to, struct offer *o)
{
	struct db_stmt *st = NULL;
	bool row = false;
	enum tl_err e;

	memset(o, 0, sizeof(*o));
	if ((e = query(n, &st, "SELECT from_district, transfer_n, deadline, clock_start, reason_code, lead_json"
	                       " FROM offers WHERE lead_id = ? AND to_district = ? AND state = 'pending'"
	                       " ORDER BY transfer_n DESC LIMIT 1", "tt", lead_id, to)) != TL_OK)
		return e;
	if ((e = db_step(st, &row)) == TL_OK && row) {
		copy(o->from, sizeof(o->from), db_col_text(st, 0));
		o->nth = (int)db_col_int64(st, 1);
		o->deadline = db_col_int64(st, 2);
		o->clock_start = db_col_int64(st, 3);
		copy(o->reason_code, sizeof(o->reason_code), db_col_text(st, 4));
		if (!(o->lead_json = strdup(db_col_text(st, 5))))
			e = TL_ENOMEM;
	}
	db_finalize(st);
	return e == TL_OK && !row ? TL_ENOTFOUND : e;
}

static enum tl_err
answer_transfer(struct case_node *n, const struct case_actor *a, const char *lead_id, bool accept,
                const char *reason)
{
	struct offer o;
	struct wire_lead l;
	struct wire_event ev;
	struct wire_xfer x;
	struct crow r;
	struct buf body;
	char subject[160], msg_id[96];
	bool lead_ok = false, existed;
	int64_t now;
	enum tl_err e;

	buf_init(&body, WIRE_MAX_MSG);
	memset(&o, 0, sizeof(o));
	pthread_mutex_lock(&n->lock);
	now = now_ms(n);
	if ((e = check_actor(n, a)) != TL_OK || (e = check_not_rebuilding(n, a->district)) != TL_OK)
		goto out;
	if (!lead_id || !id_valid(lead_id) || (reason && !text_ok(reason, WIRE_REASON_MAX, false))) {
		e = TL_EINVAL;
		goto out;
	}
	if ((e = load_offer(n, lead_id, a->district, &o)) != TL_OK)
		goto out;
	if (wire_lead_decode(o.lead_json, strlen(o.lead_json), &l) != TL_OK) {
		e = TL_EPROTO;
		goto out;
	}
	lead_ok = true;
	if ((e = db_begin(n->db)) != TL_OK)
		goto out;
	e = sqlx(n, "UPDATE offers SET state = ?, decided_by = ?, decided_at = ?"
	            " WHERE lead_id = ? AND to_district = ? AND transfer_n = ? AND state = 'pending'",
	         "ttitti", accept ? "accepted" : "refused", a->user, now, lead_id, a->district, (int64_t)o.nth);
	if (e == TL_OK && db_changes(n->db) != 1)
		e = TL_ECONFLICT;
	if (e != TL_OK)
		goto done;
	if (accept) {
		/* The same database may hold the sender's row (one process serving
		 * both districts, or a lead coming back): move it rather than
		 * duplicate it.  The clock carries over. */
		existed = exists_case(n, lead_id, &e);
		if (e == TL_OK && existed)
			e = sqlx(n, "UPDATE cases SET district = ?, state = 'new', holder = NULL, lease_until = NULL,"
			            " transfers = ?, xfer_to = NULL, xfer_deadline = NULL, xfer_reason = NULL,"
			            " clock_start = ?, flags = 0 WHERE lead_id = ?",
			         "tiit", a->district, (int64_t)o.nth, o.clock_start, lead_id);
		else if (e == TL_OK)
			e = insert_case(n, &l, a->district, o.lead_json, o.nth, o.clock_start, now);
	}
	if (e == TL_OK) {
		/* The event goes on the receiving district's subject: it is this
		 * district's decision.  A refused lead has no case here, so the
		 * event is written against a stub row view. */
		if (accept) {
			e = load_case(n, lead_id, &r);
		} else {
			memset(&r, 0, sizeof(r));
			copy(r.lead_id, sizeof(r.lead_id), lead_id);
			copy(r.district, sizeof(r.district), a->district);
			r.ev_seq = (uint64_t)o.nth * 1000000; /* disjoint from case seqs */
		}
	}
	if (e == TL_OK) {
		event_init(&ev, accept ? WIRE_EV_TRANSFER_ACCEPTED : WIRE_EV_TRANSFER_REFUSED, a);
		copy(ev.from_district, sizeof(ev.from_district), o.from);
		copy(ev.to_district, sizeof(ev.to_district), a->district);
		copy(ev.reason_code, sizeof(ev.reason_code), o.reason_code);
		ev.transfer_n = o.nth;
		ev.reason = accept ? NULL : (char *)reason;
		e = emit(n, &r, &ev, now);
	}
	if (e == TL_OK) {
		memset(&x, 0, sizeof(x));
		x.reply = true;
		x.accepted = accept;
		copy(x.lead_id, sizeof(x.lead_id), lead_id);
		copy(x.from_district, sizeof(x.from_district), o.from);
		copy(x.to_district, sizeof(x.to_district), a->district);
		x.transfer_n = o.nth;
		x.at_ms = now;
		copy(x.actor, sizeof(x.actor), a->user);
		snprintf(msg_id, sizeof(msg_id), "%s:xrep:%d:%s", lead_id, o.nth, n->epoch);
		if ((e = wire_xfer_encode(&x, &body)) == TL_OK &&
		    (e = wire_subject_xfer(o.from, a->district, lead_id, subject, sizeof(subject))) == TL_OK)
			e = outbox_add(n, msg_id, a->district, subject, buf_str(&body), now);
	}
done:
	if ((e = finish(n, e)) == TL_OK)
		flush_quietly(n);
out:
	if (lead_ok)
		wire_lead_free(&l);
	free(o.lead_json);
	buf_free(&body);
	pthread_mutex_unlock(&n->lock);
	return e;
}

enum tl_err
case_accept_transfer(struct case_node *n, const struct case_actor *a, const char *lead_id)
{
	return answer_transfer(n, a, lead_id, true, NULL);
}

enum tl_err
case_refuse_transfer(struct case_node *n, const struct case_actor *a, const char *lead_id, const char *reason)
{
	return answer_transfer(n, a, lead_id, false, reason);
}

/* ---- merge ---- */

enum tl_err
case_merge(struct case_node *n, const struct case_actor *a, const char *lead_a, const char *lead_b,
           char *survivor)
{
	struct crow ra, rb, *keep, *gone;
	struct wire_event ev;
	char prev[WIRE_ACTOR_MAX + 1];
	int64_t now;
	enum tl_err e;

	pthread_mutex_lock(&n->lock);
	now = now_ms(n);
	if ((e = prepare(n, a, lead_a, &ra)) != TL_OK || (e = prepare(n, a, lead_b, &rb)) != TL_OK)
		goto out;
	if (strcmp(ra.lead_id, rb.lead_id) == 0) {
		e = TL_EINVAL;
		goto out;
	}
	if (!is_open(&ra) || !is_open(&rb)) {
		e = TL_ECONFLICT;
		goto out;
	}
	/* Someone else's live claim on either side blocks a responder. */
	if (!is_super(a) && ((strcmp(ra.state, "claimed") == 0 && ra.lease_until > now && !holds(a, &ra, now)) ||
	                     (strcmp(rb.state, "claimed") == 0 && rb.lease_until > now && !holds(a, &rb, now)))) {
		e = TL_EEXIST;
		goto out;
	}
	/* The earliest report keeps priority for the award. */
	if (ra.received_at < rb.received_at ||
	    (ra.received_at == rb.received_at && strcmp(ra.lead_id, rb.lead_id) < 0)) {
		keep = &ra;
		gone = &rb;
	} else {
		keep = &rb;
		gone = &ra;
	}
	if (strcmp(gone->state, "claimed") == 0 &&
	    kv_claim(n, gone->district, gone->lead_id, KV_FREE, a->user, now, 0, prev) != TL_OK)
		log_warn("claim on merged lead=%s not freed; it will expire", gone->lead_id);
	if ((e = db_begin(n->db)) != TL_OK)
		goto out;
	e = sqlx(n, "UPDATE reports SET case_id = ? WHERE case_id = ?", "tt", keep->lead_id, gone->lead_id);
	if (e == TL_OK)
		e = sqlx(n, "UPDATE findings SET lead_id = ? WHERE lead_id = ?", "tt", keep->lead_id, gone->lead_id);
	if (e == TL_OK)
		e = sqlx(n, "UPDATE cases SET state = 'merged', merged_into = ?, holder = NULL,"
		            " lease_until = NULL WHERE lead_id = ?", "tt", keep->lead_id, gone->lead_id);
	/* The survivor inherits the earlier clock and the earlier finding. */
	if (e == TL_OK)
		e = sqlx(n, "UPDATE cases SET clock_start = min(clock_start, ?), last_activity = ? WHERE lead_id = ?",
		         "iit", gone->clock_start, now, keep->lead_id);
	if (e == TL_OK && gone->first_finding_at &&
	    (!keep->first_finding_at || gone->first_finding_at < keep->first_finding_at))
		e = sqlx(n, "UPDATE cases SET first_finding_at = ? WHERE lead_id = ?", "it",
		         gone->first_finding_at, keep->lead_id);
	if (e == TL_OK) {
		event_init(&ev, WIRE_EV_MERGED, a);
		copy(ev.other_lead, sizeof(ev.other_lead), gone->lead_id);
		e = emit(n, keep, &ev, now);
	}
	if ((e = finish(n, e)) == TL_OK) {
		if (survivor)
			copy(survivor, ID_HEX_LEN + 1, keep->lead_id);
		flush_quietly(n);
	}
out:
	pthread_mutex_unlock(&n->lock);
	return e;
}

/* ---- verdict, reopen ---- */

static int
count_agencies(struct case_node *n, const char *lead_id, enum tl_err *e)
{
	struct db_stmt *st = NULL;
	bool row = false;
	int c = 0;

	if ((*e = query(n, &st, "SELECT count(DISTINCT agency) FROM findings WHERE lead_id = ?", "t", lead_id)) != TL_OK)
		return 0;
	if ((*e = db_step(st, &row)) == TL_OK && row)
		c = (int)db_col_int64(st, 0);
	db_finalize(st);
	return c;
}

enum tl_err
case_record_verdict(struct case_node *n, const struct case_actor *a, const char *lead_id,
                    const struct case_verdict *v)
{
	struct crow r;
	struct wire_event ev;
	char prev[WIRE_ACTOR_MAX + 1];
	int64_t now;
	int agencies;
	enum tl_err e;

	pthread_mutex_lock(&n->lock);
	now = now_ms(n);
	if ((e = prepare(n, a, lead_id, &r)) != TL_OK)
		goto out;
	if (!v || (v->notes && !text_ok(v->notes, CASE_MAX_DETAILS, false))) {
		e = TL_EINVAL;
		goto out;
	}
	if (v->substantiated &&
	    (v->furnaces < 0 || v->furnaces > 10000 || v->capacity_tpy < 0 || v->capacity_tpy > 1000000000LL ||
	     !wire_production_valid(v->production) || v->seized_kg < 0 || v->seized_kg > 1000000000000LL ||
	     v->fines_fen < 0 || v->fines_fen > WIRE_MAX_FEN)) {
		e = TL_EINVAL;
		goto out;
	}
	/* "Unfounded" closes a citizen's report for good: a supervisor signs
	 * it off, and a second agency must have looked. */
	if (!v->substantiated && !is_super(a)) {
		e = TL_EDENIED;
		goto out;
	}
	if ((e = db_begin(n->db)) != TL_OK)
		goto out;
	if ((e = may_work(n, a, &r, now)) != TL_OK)
		goto done;
	agencies = count_agencies(n, r.lead_id, &e);
	if (e != TL_OK)
		goto done;
	if (!v->substantiated && agencies < 2) {
		e = TL_ECONFLICT;
		goto done;
	}
	e = sqlx(n, "UPDATE cases SET state = 'closed', verdict = ?, furnaces = ?, capacity_tpy = ?,"
	            " production = ?, seized_kg = ?, fines_fen = ?, signed_off_by = ?, verdict_notes = ?,"
	            " closed_at = ?, holder = NULL, lease_until = NULL, last_activity = ? WHERE lead_id = ?",
	         "tiitiittiit", v->substantiated ? "substantiated" : "unfounded",
	         (int64_t)(v->substantiated ? v->furnaces : 0), v->substantiated ? v->capacity_tpy : 0,
	         v->substantiated ? v->production : NULL, v->substantiated ? v->seized_kg : 0,
	         v->substantiated ? v->fines_fen : 0, v->substantiated ? NULL : a->user, v->notes, now, now,
	         r.lead_id);
	if (e == TL_OK) {
		event_init(&ev, WIRE_EV_VERDICT, a);
		ev.substantiated = v->substantiated;
		ev.agencies = agencies > 7 ? 7 : agencies;
		ev.first_received_ms = r.received_at;
		if (v->substantiated) {
			ev.furnaces = v->furnaces;
			ev.capacity_tpy = v->capacity_tpy;
			copy(ev.production, sizeof(ev.production), v->production);
			ev.seized_kg = v->seized_kg;
			ev.fines_fen = v->fines_fen;
		} else {
			copy(ev.signed_off_by, sizeof(ev.signed_off_by), a->user);
		}
		e = emit(n, &r, &ev, now);
	}
done:
	if ((e = finish(n, e)) == TL_OK) {
		/* The claim is over; freeing it is bookkeeping, not a decision. */
		if (r.holder[0] && kv_claim(n, r.district, r.lead_id, KV_FREE, a->user, now, 0, prev) != TL_OK)
			log_warn("claim on closed lead=%s not freed; it will expire", r.lead_id);
		flush_quietly(n);
	}
out:
	pthread_mutex_unlock(&n->lock);
	return e;
}

enum tl_err
case_reopen(struct case_node *n, const struct case_actor *a, const char *lead_id, const char *reason)
{
	struct crow r;
	struct wire_event ev;
	int64_t now;
	enum tl_err e;

	pthread_mutex_lock(&n->lock);
	now = now_ms(n);
	if ((e = prepare(n, a, lead_id, &r)) != TL_OK)
		goto out;
	if (!is_super(a)) {
		e = TL_EDENIED;
		goto out;
	}
	if (!reason_ok(reason)) {
		e = TL_EINVAL;
		goto out;
	}
	if (strcmp(r.state, "closed") != 0) {
		e = TL_ECONFLICT;
		goto out;
	}
	if ((e = db_begin(n->db)) != TL_OK)
		goto out;
	/* The old verdict stays in the history; the clock does not restart. */
	e = sqlx(n, "UPDATE cases SET state = 'new', verdict = NULL, furnaces = NULL, capacity_tpy = NULL,"
	            " production = NULL, seized_kg = NULL, fines_fen = NULL, signed_off_by = NULL,"
	            " closed_at = NULL, flags = flags & ~4, last_activity = ? WHERE lead_id = ?",
	         "it", now, r.lead_id);
	if (e == TL_OK) {
		event_init(&ev, WIRE_EV_REOPENED, a);
		ev.reason = (char *)reason;
		e = emit(n, &r, &ev, now);
	}
	if ((e = finish(n, e)) == TL_OK)
		flush_quietly(n);
out:
	pthread_mutex_unlock(&n->lock);
	return e;
}

/* ---- deadlines, queues ---- */

/* Fills due/overdue/idle of a summary from a case row. */
static void
deadlines(struct case_node *n, const struct crow *r, int64_t now, struct case_summary *s)
{
	struct { int64_t due; const char *step; bool pending; } d[4];
	bool open = is_open(r), out = strcmp(r->state, "xfer_out") == 0;

	s->due_ms = 0;
	s->due_step[0] = '\0';
	s->overdue = s->idle = false;
	if (!open && !out)
		return;
	d[0].due = cal_add_working_days(n->cfg.cal, r->clock_start, n->cfg.claim_days);
	d[0].step = "claim";
	d[0].pending = !r->first_claim_at;
	d[1].due = cal_add_working_days(n->cfg.cal, r->clock_start, n->cfg.finding_days);
	d[1].step = "finding";
	d[1].pending = !r->first_finding_at;
	d[2].due = cal_add_working_days(n->cfg.cal, r->clock_start, n->cfg.verdict_days);
	d[2].step = "verdict";
	d[2].pending = true;
	d[3].due = r->xfer_deadline;
	d[3].step = "transfer";
	d[3].pending = out;
	for (int i = 0; i < 4; i++) {
		if (!d[i].pending)
			continue;
		if (!s->due_ms || d[i].due < s->due_ms) {
			s->due_ms = d[i].due;
			copy(s->due_step, sizeof(s->due_step), d[i].step);
		}
		if (d[i].due < now)
			s->overdue = true;
	}
	s->idle = strcmp(r->state, "claimed") == 0 && r->last_activity &&
	          now - r->last_activity > n->cfg.idle_ms;
}

static void
summary_of(struct case_node *n, const struct crow *r, int64_t now, struct case_summary *s)
{
	memset(s, 0, sizeof(*s));
	copy(s->lead_id, sizeof(s->lead_id), r->lead_id);
	copy(s->district, sizeof(s->district), r->district);
	copy(s->state, sizeof(s->state), r->state);
	copy(s->holder, sizeof(s->holder), r->holder);
	s->received_ms = r->received_at;
	s->lease_until_ms = r->lease_until;
	s->transfers = r->transfers;
	deadlines(n, r, now, s);
}

static enum tl_err
append(struct case_summary **v, size_t *nv, size_t *cap, const struct case_summary *s)
{
	if (*nv >= CASE_MAX_LIST)
		return TL_ETOOBIG;
	if (*nv == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct case_summary *p = realloc(*v, nc * sizeof(*p));
		if (!p)
			return TL_ENOMEM;
		*v = p;
		*cap = nc;
	}
	(*v)[(*nv)++] = *s;
	return TL_OK;
}

static enum tl_err
counts(struct case_node *n, struct case_summary *s)
{
	struct db_stmt *st = NULL;
	bool row = false;
	enum tl_err e;

	if ((e = query(n, &st, "SELECT (SELECT count(*) FROM reports WHERE case_id = ?),"
	                       " (SELECT count(*) FROM findings WHERE lead_id = ?)", "tt",
	               s->lead_id, s->lead_id)) != TL_OK)
		return e;
	if ((e = db_step(st, &row)) == TL_OK && row) {
		s->reports = (int)db_col_int64(st, 0);
		s->findings = (int)db_col_int64(st, 1);
	}
	db_finalize(st);
	return e;
}

enum tl_err
case_list(struct case_node *n, const struct case_actor *a, enum case_queue q, struct case_summary **out,
          size_t *count)
{
	struct db_stmt *st = NULL;
	struct case_summary s, *v = NULL;
	size_t nv = 0, cap = 0;
	bool row, board;
	int64_t now;
	enum tl_err e;

	*out = NULL;
	*count = 0;
	pthread_mutex_lock(&n->lock);
	now = now_ms(n);
	if ((e = check_actor(n, a)) != TL_OK)
		goto out;
	/* The city office reads every served district's board. */
	board = a->role == CASE_CITY_OFFICE && (q == CASE_Q_ALL || q == CASE_Q_OVERDUE);
	if (q == CASE_Q_INCOMING) {
		e = query(n, &st, "SELECT o.lead_id, o.from_district, o.deadline, o.transfer_n,"
		                  " (SELECT min(received_at) FROM reports r WHERE r.case_id = o.lead_id)"
		                  " FROM offers o WHERE o.to_district = ? AND o.state = 'pending'"
		                  " ORDER BY o.offered_at", "t", a->district);
		while (e == TL_OK && (e = db_step(st, &row)) == TL_OK && row) {
			memset(&s, 0, sizeof(s));
			copy(s.lead_id, sizeof(s.lead_id), db_col_text(st, 0));
			copy(s.district, sizeof(s.district), db_col_text(st, 1));
			copy(s.state, sizeof(s.state), "offered");
			s.due_ms = db_col_int64(st, 2);
			copy(s.due_step, sizeof(s.due_step), "transfer");
			s.overdue = s.due_ms < now;
			s.transfers = (int)db_col_int64(st, 3);
			s.received_ms = col_i64_or0(st, 4);
			e = append(&v, &nv, &cap, &s);
		}
		goto done;
	}
	e = query(n, &st, "SELECT " CROW_COLS " FROM cases c WHERE (c.district = ? OR ?)"
	                  " ORDER BY c.clock_start, c.lead_id", "ti", a->district, (int64_t)board);
	while (e == TL_OK && (e = db_step(st, &row)) == TL_OK && row) {
		struct crow r;
		bool want;

		crow_read(st, &r);
		if (!case_serves(n, r.district))
			continue;
		summary_of(n, &r, now, &s);
		switch (q) {
		case CASE_Q_NEW: want = strcmp(r.state, "new") == 0; break;
		case CASE_Q_MINE: want = strcmp(r.state, "claimed") == 0 && strcmp(r.holder, a->user) == 0; break;
		case CASE_Q_OVERDUE: want = s.overdue || s.idle; break;
		default: want = true; break;
		}
		if (want)
			e = append(&v, &nv, &cap, &s);
	}
done:
	db_finalize(st);
	for (size_t i = 0; e == TL_OK && i < nv; i++)
		if (strcmp(v[i].state, "offered") != 0)
			e = counts(n, &v[i]);
	if (e == TL_OK) {
		*out = v;
		*count = nv;
		v = NULL;
	}
out:
	free(v);
	pthread_mutex_unlock(&n->lock);
	return e;
}

void
case_list_free(struct case_summary *list)
{
	free(list);
}

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

enum tl_err
case_get(struct case_node *n, const struct case_actor *a, const char *lead_id, struct case_view *out)
{
	struct db_stmt *st = NULL;
	struct crow r;
	bool row;
	size_t cap;
	enum tl_err e;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&n->lock);
	if ((e = check_actor(n, a)) != TL_OK || (e = load_case(n, lead_id, &r)) != TL_OK)
		goto out;
	if (a->role != CASE_CITY_OFFICE && (e = check_case_access(a, &r)) != TL_OK)
		goto out;
	summary_of(n, &r, now_ms(n), &out->s);
	if ((e = counts(n, &out->s)) != TL_OK)
		goto out;
	copy(out->origin, sizeof(out->origin), r.origin);
	copy(out->merged_into, sizeof(out->merged_into), r.merged_into);
	copy(out->xfer_to, sizeof(out->xfer_to), r.xfer_to);
	out->xfer_deadline_ms = r.xfer_deadline;
	copy(out->verdict, sizeof(out->verdict), r.verdict);

	cap = 0;
	if ((e = query(n, &st, "SELECT p.lead_id, p.report_id, p.channel, p.received_at, p.text, p.location,"
	                       " c.lead_json FROM reports p LEFT JOIN cases c ON c.lead_id = p.lead_id"
	                       " WHERE p.case_id = ? ORDER BY p.received_at, p.lead_id", "t", r.lead_id)) != TL_OK)
		goto out;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		struct case_report *p;
		if (out->nreports == cap) {
			cap = cap ? cap * 2 : 4;
			if (!(p = realloc(out->reports, cap * sizeof(*p)))) {
				e = TL_ENOMEM;
				break;
			}
			out->reports = p;
		}
		p = &out->reports[out->nreports++];
		memset(p, 0, sizeof(*p));
		copy(p->lead_id, sizeof(p->lead_id), db_col_text(st, 0));
		copy(p->report_id, sizeof(p->report_id), db_col_text(st, 1));
		copy(p->channel, sizeof(p->channel), db_col_text(st, 2));
		p->received_ms = db_col_int64(st, 3);
		p->text = dup_or_null(db_col_text(st, 4));
		p->location = dup_or_null(db_col_text(st, 5));
		{
			/* Route and redaction counts for the console. */
			const char *js = db_col_text(st, 6);
			struct wire_lead wl;
			if (js && wire_lead_decode(js, strlen(js), &wl) == TL_OK) {
				p->has_meta = true;
				copy(p->route_rule, sizeof(p->route_rule), wl.route_rule);
				p->route_confidence = wl.route_confidence;
				memcpy(p->redactions, wl.redactions, sizeof(p->redactions));
				wire_lead_free(&wl);
			}
		}
	}
	db_finalize(st);
	st = NULL;
	if (e != TL_OK)
		goto out;

	cap = 0;
	if ((e = query(n, &st, "SELECT id, agency, check_kind, result, checked_at, recorded_at, recorded_by,"
	                       " who, details, evidence FROM findings WHERE lead_id = ? ORDER BY id",
	               "t", r.lead_id)) != TL_OK)
		goto out;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		struct case_finding_row *p;
		if (out->nfindings == cap) {
			cap = cap ? cap * 2 : 4;
			if (!(p = realloc(out->findings, cap * sizeof(*p)))) {
				e = TL_ENOMEM;
				break;
			}
			out->findings = p;
		}
		p = &out->findings[out->nfindings++];
		memset(p, 0, sizeof(*p));
		p->id = db_col_int64(st, 0);
		copy(p->agency, sizeof(p->agency), db_col_text(st, 1));
		copy(p->check, sizeof(p->check), db_col_text(st, 2));
		copy(p->result, sizeof(p->result), db_col_text(st, 3));
		p->checked_ms = db_col_int64(st, 4);
		p->recorded_ms = db_col_int64(st, 5);
		copy(p->recorded_by, sizeof(p->recorded_by), db_col_text(st, 6));
		p->who = dup_or_null(db_col_text(st, 7));
		p->details = dup_or_null(db_col_text(st, 8));
		p->evidence = dup_or_null(db_col_text(st, 9));
	}
	db_finalize(st);
	st = NULL;
	if (e != TL_OK)
		goto out;

	cap = 0;
	if ((e = query(n, &st, "SELECT seq, at, type, actor, body FROM history WHERE lead_id = ? ORDER BY seq",
	               "t", r.lead_id)) != TL_OK)
		goto out;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		struct case_history *p;
		if (out->nhistory == cap) {
			cap = cap ? cap * 2 : 8;
			if (!(p = realloc(out->history, cap * sizeof(*p)))) {
				e = TL_ENOMEM;
				break;
			}
			out->history = p;
		}
		p = &out->history[out->nhistory++];
		memset(p, 0, sizeof(*p));
		p->seq = (uint64_t)db_col_int64(st, 0);
		p->at_ms = db_col_int64(st, 1);
		copy(p->type, sizeof(p->type), db_col_text(st, 2));
		copy(p->actor, sizeof(p->actor), db_col_text(st, 3));
		p->event = dup_or_null(db_col_text(st, 4));
	}
	db_finalize(st);
	st = NULL;
out:
	if (e != TL_OK)
		case_view_free(out);
	pthread_mutex_unlock(&n->lock);
	return e;
}

void
case_view_free(struct case_view *v)
{
	for (size_t i = 0; i < v->nreports; i++) {
		free(v->reports[i].text);
		free(v->reports[i].location);
	}
	for (size_t i = 0; i < v->nfindings; i++) {
		free(v->findings[i].who);
		free(v->findings[i].details);
		free(v->findings[i].evidence);
	}
	for (size_t i = 0; i < v->nhistory; i++)
		free(v->history[i].event);
	free(v->reports);
	free(v->findings);
	free(v->history);
	memset(v, 0, sizeof(*v));
}

/* ---- the scanner ---- */

/* Open cases to look at; collected first so that no statement is live
 * while the port (KV) is called and transactions run. */
static enum tl_err
open_cases(struct case_node *n, struct crow **out, size_t *nout)
{
	struct db_stmt *st = NULL;
	struct crow *v = NULL, *p;
	size_t nv = 0, cap = 0;
	bool row;
	enum tl_err e;

	if ((e = query(n, &st, "SELECT " CROW_COLS " FROM cases c WHERE c.state IN ('new','claimed','xfer_out')"
	                       " ORDER BY c.clock_start LIMIT 20000", "")) != TL_OK)
		return e;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		if (nv == cap) {
			cap = cap ? cap * 2 : 64;
			if (!(p = realloc(v, cap * sizeof(*p)))) {
				e = TL_ENOMEM;
				break;
			}
			v = p;
		}
		crow_read(st, &v[nv]);
		if (case_serves(n, v[nv].district))
			nv++;
	}
	db_finalize(st);
	if (e != TL_OK) {
		free(v);
		return e;
	}
	*out = v;
	*nout = nv;
	return TL_OK;
}

static enum tl_err
expire_lease(struct case_node *n, struct crow *r, int64_t now, bool *done)
{
	struct wire_event ev;
	char prev[WIRE_ACTOR_MAX + 1];
	enum tl_err e;

	*done = false;
	e = kv_claim(n, r->district, r->lead_id, KV_EXPIRE, r->holder, now, 0, prev);
	if (e == TL_ECONFLICT) {
		/* Renewed by another replica: leave it; the next renew here will
		 * mirror it. */
		return TL_OK;
	}
	if (e != TL_OK)
		return e;
	if ((e = db_begin(n->db)) != TL_OK)
		return e;
	e = sqlx(n, "UPDATE cases SET state = 'new', holder = NULL, lease_until = NULL"
	            " WHERE lead_id = ? AND state = 'claimed' AND lease_until <= ?", "ti", r->lead_id, now);
	if (e == TL_OK && db_changes(n->db) == 1) {
		event_init(&ev, WIRE_EV_LEASE_EXPIRED, NULL);
		copy(ev.prev_holder, sizeof(ev.prev_holder), r->holder);
		e = emit(n, r, &ev, now);
		*done = e == TL_OK;
	}
	e = finish(n, e);
	if (e == TL_OK && *done) {
		log_info("lease expired lead=%s district=%s", r->lead_id, r->district);
		copy(r->state, sizeof(r->state), "new");
		r->holder[0] = '\0';
	}
	return e;
}

static enum tl_err
flag(struct case_node *n, struct crow *r, int64_t bit, enum wire_event_type t, const char *step,
     int64_t due, int64_t now)
{
	struct wire_event ev;
	enum tl_err e;

	if ((e = db_begin(n->db)) != TL_OK)
		return e;
	e = sqlx(n, "UPDATE cases SET flags = flags | ? WHERE lead_id = ? AND (flags & ?) = 0", "iti", bit,
	         r->lead_id, bit);
	if (e == TL_OK && db_changes(n->db) == 1) {
		event_init(&ev, t, NULL);
		if (t == WIRE_EV_OVERDUE) {
			copy(ev.step, sizeof(ev.step), step);
			ev.deadline_ms = due;
		} else {
			copy(ev.prev_holder, sizeof(ev.prev_holder), r->holder);
		}
		e = emit(n, r, &ev, now);
	}
	return finish(n, e);
}

enum tl_err
case_scan(struct case_node *n, struct case_scan_stats *st)
{
	struct crow *v = NULL;
	size_t nv = 0;
	int64_t now;
	enum tl_err e;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&n->lock);
	now = now_ms(n);
	if ((e = open_cases(n, &v, &nv)) != TL_OK)
		goto out;
	for (size_t i = 0; i < nv && e == TL_OK; i++) {
		struct crow *r = &v[i];
		struct case_summary s;
		bool done;
		static const struct { int64_t bit; const char *step; } steps[] = {
			{ FLAG_CLAIM, "claim" }, { FLAG_FINDING, "finding" }, { FLAG_VERDICT, "verdict" },
			{ FLAG_TRANSFER, "transfer" },
		};

		/* A case being rebuilt is not flagged or expired until its events
		 * are all back (they may hold the flag already). */
		if (rebuilding_locked(n, r->district))
			continue;
		if (strcmp(r->state, "claimed") == 0 && r->lease_until <= now) {
			enum tl_err ke = expire_lease(n, r, now, &done);
			if (ke == TL_EIO) {
				e = ke;
				break;
			}
			if (ke != TL_OK)
				log_warn("lease of lead=%s not expired yet (%s)", r->lead_id, tl_strerror(ke));
			st->leases_expired += done;
		}
		summary_of(n, r, now, &s);
		/* Each step is flagged once: compute which steps are late. */
		for (size_t k = 0; k < TL_ARRAY_LEN(steps) && e == TL_OK; k++) {
			int64_t due;
			bool pending;

			if (r->flags & steps[k].bit)
				continue;
			switch (steps[k].bit) {
			case FLAG_CLAIM:
				due = cal_add_working_days(n->cfg.cal, r->clock_start, n->cfg.claim_days);
				pending = !r->first_claim_at && strcmp(r->state, "xfer_out") != 0;
				break;
			case FLAG_FINDING:
				due = cal_add_working_days(n->cfg.cal, r->clock_start, n->cfg.finding_days);
				pending = !r->first_finding_at;
				break;
			case FLAG_VERDICT:
				due = cal_add_working_days(n->cfg.cal, r->clock_start, n->cfg.verdict_days);
				pending = true;
				break;
			default:
				due = r->xfer_deadline;
				pending = strcmp(r->state, "xfer_out") == 0;
				break;
			}
			if (pending && due < now) {
				e = flag(n, r, steps[k].bit, WIRE_EV_OVERDUE, steps[k].step, due, now);
				st->overdue += e == TL_OK;
			}
		}
		if (e == TL_OK && s.idle && !(r->flags & FLAG_IDLE)) {
			e = flag(n, r, FLAG_IDLE, WIRE_EV_IDLE, NULL, 0, now);
			st->idle += e == TL_OK;
		}
	}
	if (e == TL_OK)
		e = case_flush(n, &st->published, &st->unpublished);
out:
	free(v);
	pthread_mutex_unlock(&n->lock);
	return e;
}

/* ---- rebuilding from TL_EVENTS ---- */

bool
case_rebuilding(struct case_node *n, const char *district)
{
	bool r;

	pthread_mutex_lock(&n->lock);
	r = rebuilding_locked(n, district);
	pthread_mutex_unlock(&n->lock);
	return r;
}

static int64_t
step_flag(const char *step)
{
	return strcmp(step, "claim") == 0     ? FLAG_CLAIM
	     : strcmp(step, "finding") == 0   ? FLAG_FINDING
	     : strcmp(step, "verdict") == 0   ? FLAG_VERDICT
	     : strcmp(step, "transfer") == 0  ? FLAG_TRANSFER
	                                      : 0;
}

/* The receiving side of an accepted transfer: what answer_transfer did,
 * from the stored offer (TL_XFER is replayed too). */
static enum tl_err
apply_accept(struct case_node *n, const struct wire_event *ev)
{
	struct offer o;
	struct wire_lead l;
	struct db_stmt *st = NULL;
	bool row = false, existed;
	enum tl_err e;

	memset(&o, 0, sizeof(o));
	if ((e = query(n, &st, "SELECT clock_start, lead_json FROM offers WHERE lead_id = ? AND to_district = ?"
	                       " AND transfer_n = ?", "tti", ev->lead_id, ev->district,
	               (int64_t)ev->transfer_n)) != TL_OK)
		return e;
	if ((e = db_step(st, &row)) == TL_OK && row) {
		o.clock_start = db_col_int64(st, 0);
		if (!(o.lead_json = strdup(db_col_text(st, 1))))
			e = TL_ENOMEM;
	}
	db_finalize(st);
	if (e != TL_OK)
		goto out;
	if (!row) {
		e = TL_ENOTFOUND; /* the offer is not back yet */
		goto out;
	}
	if (wire_lead_decode(o.lead_json, strlen(o.lead_json), &l) != TL_OK) {
		e = TL_EPROTO;
		goto out;
	}
	e = sqlx(n, "UPDATE offers SET state = 'accepted', decided_by = ?, decided_at = ? WHERE lead_id = ?"
	            " AND to_district = ? AND transfer_n = ?", "titti", ev->actor, ev->at_ms, ev->lead_id,
	         ev->district, (int64_t)ev->transfer_n);
	existed = e == TL_OK && exists_case(n, ev->lead_id, &e);
	/* One database serving both sides: the sender's transfer_requested
	 * (read by the sender district's consumer) must be back first. */
	if (e == TL_OK && existed) {
		struct crow r;

		if ((e = load_case(n, ev->lead_id, &r)) == TL_ENOTFOUND)
			e = TL_OK;
		else if (e == TL_OK && strcmp(r.district, ev->from_district) == 0 &&
		         (strcmp(r.state, "xfer_out") != 0 || r.transfers != ev->transfer_n))
			e = TL_ENOTFOUND;
	}
	if (e == TL_OK && existed)
		e = sqlx(n, "UPDATE cases SET district = ?, state = 'new', holder = NULL, lease_until = NULL,"
		            " transfers = ?, xfer_to = NULL, xfer_deadline = NULL, xfer_reason = NULL,"
		            " clock_start = ?, flags = 0 WHERE lead_id = ?",
		         "tiit", ev->district, (int64_t)ev->transfer_n, o.clock_start, ev->lead_id);
	else if (e == TL_OK)
		e = insert_case(n, &l, ev->district, o.lead_json, ev->transfer_n, o.clock_start, ev->at_ms);
	wire_lead_free(&l);
out:
	free(o.lead_json);
	return e;
}

/* One event's change to the case row (and findings, offers).  The case
 * exists in ev->district unless the type says otherwise. */
static enum tl_err
apply_change(struct case_node *n, const struct wire_event *ev, const struct crow *r)
{
	int64_t at = ev->at_ms;
	const char *id = ev->lead_id;

	switch (ev->type) {
	case WIRE_EV_OPENED:
		return TL_OK;
	case WIRE_EV_CLAIMED:
	case WIRE_EV_TAKEN_OVER:
		return sqlx(n, "UPDATE cases SET state = 'claimed', holder = ?, lease_until = ?, last_activity = ?,"
		               " first_claim_at = coalesce(first_claim_at, ?), flags = flags & ~16 WHERE lead_id = ?",
		            "tiiit", ev->holder, ev->lease_until_ms, at, at, id);
	case WIRE_EV_RELEASED:
	case WIRE_EV_LEASE_EXPIRED:
		return sqlx(n, "UPDATE cases SET state = 'new', holder = NULL, lease_until = NULL WHERE lead_id = ?",
		            "t", id);
	case WIRE_EV_FINDING_RECORDED: {
		/* The event carries codes only: who checked, the details and the
		 * evidence references were in the lost database. */
		enum tl_err e = sqlx(n, "INSERT INTO findings (lead_id, agency, check_kind, result, checked_at, who,"
		                        " recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, '', ?, ?)",
		                     "ttttiti", id, ev->agency, ev->check, ev->result, ev->checked_ms, ev->actor, at);
		if (e == TL_OK)
			e = sqlx(n, "UPDATE cases SET first_finding_at = coalesce(first_finding_at, ?),"
			            " last_activity = ? WHERE lead_id = ?", "iit", at, at, id);
		return e;
	}
	case WIRE_EV_TRANSFER_REQUESTED:
		return sqlx(n, "UPDATE cases SET state = 'xfer_out', holder = NULL, lease_until = NULL,"
		               " transfers = ?, xfer_to = ?, xfer_deadline = ?, xfer_reason = ?, flags = flags & ~8"
		               " WHERE lead_id = ? AND district = ?",
		            "itittt", (int64_t)ev->transfer_n, ev->to_district, ev->deadline_ms, ev->reason_code,
		            id, ev->district);
	case WIRE_EV_TRANSFER_ACCEPTED:
		return apply_accept(n, ev);
	case WIRE_EV_TRANSFER_REFUSED:
		return sqlx(n, "UPDATE offers SET state = 'refused', decided_by = ?, decided_at = ? WHERE lead_id = ?"
		               " AND to_district = ? AND transfer_n = ?", "titti", ev->actor, at, id, ev->district,
		            (int64_t)ev->transfer_n);
	case WIRE_EV_MERGED: {
		struct crow g;
		enum tl_err e = load_case(n, ev->other_lead, &g);

		if (e != TL_OK)
			return e;
		e = sqlx(n, "UPDATE reports SET case_id = ? WHERE case_id = ?", "tt", id, g.lead_id);
		if (e == TL_OK)
			e = sqlx(n, "UPDATE findings SET lead_id = ? WHERE lead_id = ?", "tt", id, g.lead_id);
		if (e == TL_OK)
			e = sqlx(n, "UPDATE cases SET state = 'merged', merged_into = ?, holder = NULL,"
			            " lease_until = NULL WHERE lead_id = ?", "tt", id, g.lead_id);
		if (e == TL_OK)
			e = sqlx(n, "UPDATE cases SET clock_start = min(clock_start, ?), last_activity = ? WHERE lead_id = ?",
			         "iit", g.clock_start, at, id);
		if (e == TL_OK && g.first_finding_at && (!r->first_finding_at || g.first_finding_at < r->first_finding_at))
			e = sqlx(n, "UPDATE cases SET first_finding_at = ? WHERE lead_id = ?", "it", g.first_finding_at, id);
		return e;
	}
	case WIRE_EV_VERDICT:
		/* verdict_notes were in the lost database only. */
		return sqlx(n, "UPDATE cases SET state = 'closed', verdict = ?, furnaces = ?, capacity_tpy = ?,"
		               " production = ?, seized_kg = ?, fines_fen = ?, signed_off_by = ?, closed_at = ?,"
		               " holder = NULL, lease_until = NULL, last_activity = ? WHERE lead_id = ?",
		            "tiitiitiit", ev->substantiated ? "substantiated" : "unfounded", (int64_t)ev->furnaces,
		            ev->capacity_tpy, ev->substantiated ? ev->production : NULL, ev->seized_kg, ev->fines_fen,
		            ev->substantiated ? NULL : ev->signed_off_by, at, at, id);
	case WIRE_EV_REOPENED:
		return sqlx(n, "UPDATE cases SET state = 'new', verdict = NULL, furnaces = NULL, capacity_tpy = NULL,"
		            " production = NULL, seized_kg = NULL, fines_fen = NULL, signed_off_by = NULL,"
		            " closed_at = NULL, flags = flags & ~4, last_activity = ? WHERE lead_id = ?", "it", at, id);
	case WIRE_EV_OVERDUE:
		return sqlx(n, "UPDATE cases SET flags = flags | ? WHERE lead_id = ?", "it", step_flag(ev->step), id);
	case WIRE_EV_IDLE:
		return sqlx(n, "UPDATE cases SET flags = flags | ? WHERE lead_id = ?", "it", (int64_t)FLAG_IDLE, id);
	case WIRE_EV_NTYPES_:
		break;
	}
	return TL_EINVAL;
}

enum tl_err
case_apply_event(struct case_node *n, const char *subject, const char *data, size_t len, uint64_t stream_seq,
                 enum case_ingest *out)
{
	struct wire_event ev;
	struct crow r;
	char want[160], *body = NULL;
	bool decoded = false, here = false;
	enum tl_err e = TL_OK;

	*out = CASE_IN_REJECT;
	pthread_mutex_lock(&n->lock);
	if (wire_event_decode(data, len, &ev) != TL_OK) {
		log_warn("event rejected: undecodable (%zu bytes)", len);
		goto out;
	}
	decoded = true;
	if (wire_subject_event(ev.district, ev.lead_id, ev.type, want, sizeof(want)) != TL_OK ||
	    (subject && strcmp(subject, want) != 0) || !case_serves(n, ev.district)) {
		log_warn("event rejected: lead=%s district=%s does not match its subject", ev.lead_id, ev.district);
		goto out;
	}
	if (!(body = strndup(data, len))) {
		e = TL_ENOMEM;
		goto out;
	}
	if ((e = db_begin(n->db)) != TL_OK)
		goto out;
	/* Idempotent on the event id: an event already reflected (applied
	 * before, or our own) is skipped. */
	if ((e = sqlx(n, "INSERT OR IGNORE INTO applied (event_id, stream_seq) VALUES (?, ?)", "ti", ev.event_id,
	              (int64_t)stream_seq)) != TL_OK)
		goto done;
	if (!db_changes(n->db)) {
		*out = CASE_IN_DUP;
		goto done;
	}
	memset(&r, 0, sizeof(r));
	e = load_case(n, ev.lead_id, &r);
	if (e == TL_OK)
		here = strcmp(r.district, ev.district) == 0;
	else if (e == TL_ENOTFOUND)
		e = TL_OK;
	if (e != TL_OK)
		goto done;
	/* Not here yet (its lead or offer comes later): the caller retries. */
	if (!here && ev.type != WIRE_EV_TRANSFER_ACCEPTED && ev.type != WIRE_EV_TRANSFER_REFUSED) {
		e = TL_ENOTFOUND;
		goto done;
	}
	if ((e = apply_change(n, &ev, &r)) != TL_OK)
		goto done;
	/* The history gets the event exactly as published; the case's counter
	 * continues after it (new events carry this database's epoch). */
	e = sqlx(n, "INSERT OR IGNORE INTO history (lead_id, seq, at, type, actor, body) VALUES (?, ?, ?, ?, ?, ?)",
	         "tiittt", ev.lead_id, (int64_t)ev.seq, ev.at_ms, wire_event_type_name(ev.type), ev.actor, body);
	if (e == TL_OK)
		e = sqlx(n, "UPDATE cases SET ev_seq = max(ev_seq, ?) WHERE lead_id = ? AND district = ?", "itt",
		         (int64_t)ev.seq, ev.lead_id, ev.district);
	if (e == TL_OK)
		*out = CASE_IN_NEW;
done:
	e = finish(n, e);
	if (e != TL_OK)
		*out = CASE_IN_REJECT;
	else if (*out == CASE_IN_NEW)
		log_info("event applied lead=%s district=%s seq=%llu type=%s", ev.lead_id, ev.district,
		         (unsigned long long)ev.seq, wire_event_type_name(ev.type));
out:
	free(body);
	if (decoded)
		wire_event_free(&ev);
	pthread_mutex_unlock(&n->lock);
	return e;
}

enum tl_err
case_rebuild_done(struct case_node *n, const char *district, int *opened)
{
	struct db_stmt *st = NULL;
	char (*ids)[ID_HEX_LEN + 1] = NULL;
	size_t nids = 0, cap = 0;
	bool row;
	int64_t now;
	enum tl_err e;

	*opened = 0;
	pthread_mutex_lock(&n->lock);
	now = now_ms(n);
	if (!rebuilding_locked(n, district)) {
		e = TL_OK;
		goto out;
	}
	/* Cases whose events were all lost (or that came in during the
	 * rebuild) get their "opened" now, under this database's epoch. */
	if ((e = query(n, &st, "SELECT lead_id FROM cases WHERE district = ? AND ev_seq = 0", "t", district)) != TL_OK)
		goto out;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		if (nids == cap) {
			void *p;
			cap = cap ? cap * 2 : 16;
			if (!(p = realloc(ids, cap * sizeof(*ids)))) {
				e = TL_ENOMEM;
				break;
			}
			ids = p;
		}
		copy(ids[nids++], ID_HEX_LEN + 1, db_col_text(st, 0));
	}
	db_finalize(st);
	if (e != TL_OK || (e = db_begin(n->db)) != TL_OK)
		goto out;
	for (size_t i = 0; i < nids && e == TL_OK; i++) {
		struct crow r;
		struct wire_event ev;

		if ((e = load_case(n, ids[i], &r)) == TL_OK) {
			event_init(&ev, WIRE_EV_OPENED, NULL);
			e = emit(n, &r, &ev, now);
		}
	}
	if (e == TL_OK)
		e = sqlx(n, "DELETE FROM meta WHERE k = 'rebuild.' || ?", "t", district);
	if ((e = finish(n, e)) != TL_OK)
		goto out;
	for (size_t i = 0; i < n->cfg.ndistricts; i++)
		if (strcmp(n->cfg.districts[i], district) == 0)
			n->rebuild[i] = false;
	*opened = (int)nids;
	flush_quietly(n);
out:
	free(ids);
	pthread_mutex_unlock(&n->lock);
	return e;
}
