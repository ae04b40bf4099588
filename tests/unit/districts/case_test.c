/*
 * case_test.c - the district case core against a temporary SQLCipher
 * database and a fake bus (in-memory KV with revisions, a list of
 * published messages, a settable clock).  Two nodes may share the fake
 * bus: that is how replicas and transfers between districts are tested.
 */
#include "compat.h"
#include "calendar.h"
#include "case.h"
#include "db.h"
#include "log.h"
#include "secret.h"
#include "timefmt.h"
#include "wire.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>
#include <unistd.h>

#define D1 "120101"
#define D2 "120102"
#define D3 "120103"
#define HOUR (3600LL * 1000)
#define DAY (24 * HOUR)
/* 2026-11-23 (a Monday) 10:00 CST */
#define MON10 1795399200000LL

/* ---- the fake bus ---- */

#define MAX_KV 64
#define MAX_PUB 512

struct kvent {
	char key[64];
	char *val;
	uint64_t rev;
};

struct pub {
	char district[8];
	char subject[160];
	char msg_id[100];
	char *body;
};

struct fakebus {
	int64_t now;
	bool down; /* publishes and KV calls fail with TL_EUNAVAIL */
	struct kvent kv[MAX_KV];
	int nkv;
	uint64_t rev;
	struct pub pubs[MAX_PUB];
	int npub;
};

static int64_t
fb_now(void *ctx)
{
	return ((struct fakebus *)ctx)->now;
}

static enum tl_err
fb_publish(void *ctx, const char *district, const char *subject, const void *data, size_t len,
           const char *msg_id)
{
	struct fakebus *fb = ctx;
	struct pub *p;

	if (fb->down)
		return TL_EUNAVAIL;
	/* Nats-Msg-Id dedup, like the stream's window. */
	for (int i = 0; i < fb->npub; i++)
		if (strcmp(fb->pubs[i].msg_id, msg_id) == 0)
			return TL_OK;
	assert_true(fb->npub < MAX_PUB);
	p = &fb->pubs[fb->npub++];
	snprintf(p->district, sizeof(p->district), "%s", district);
	snprintf(p->subject, sizeof(p->subject), "%s", subject);
	snprintf(p->msg_id, sizeof(p->msg_id), "%s", msg_id);
	p->body = strndup(data, len);
	/* A district publishes only on its own subjects. */
	if (strncmp(subject, "tl.event.", 9) == 0)
		assert_memory_equal(subject + 9, district, 6);
	else
		assert_memory_equal(subject + 15, district, 6);
	return TL_OK;
}

static struct kvent *
fb_find(struct fakebus *fb, const char *key)
{
	for (int i = 0; i < fb->nkv; i++)
		if (strcmp(fb->kv[i].key, key) == 0)
			return &fb->kv[i];
	return NULL;
}

static enum tl_err
fb_kv_get(void *ctx, const char *district, const char *key, struct buf *val, uint64_t *rev)
{
	struct fakebus *fb = ctx;
	struct kvent *k;

	if (fb->down)
		return TL_EUNAVAIL;
	assert_memory_equal(key, district, 6);
	if (!(k = fb_find(fb, key)))
		return TL_ENOTFOUND;
	buf_reset(val);
	assert_int_equal(buf_append_str(val, k->val), TL_OK);
	*rev = k->rev;
	return TL_OK;
}

static enum tl_err
fb_kv_create(void *ctx, const char *district, const char *key, const void *val, size_t len, uint64_t *rev)
{
	struct fakebus *fb = ctx;
	struct kvent *k;

	if (fb->down)
		return TL_EUNAVAIL;
	assert_memory_equal(key, district, 6);
	if (fb_find(fb, key))
		return TL_EEXIST;
	assert_true(fb->nkv < MAX_KV);
	k = &fb->kv[fb->nkv++];
	snprintf(k->key, sizeof(k->key), "%s", key);
	k->val = strndup(val, len);
	k->rev = *rev = ++fb->rev;
	return TL_OK;
}

static enum tl_err
fb_kv_update(void *ctx, const char *district, const char *key, const void *val, size_t len,
             uint64_t last, uint64_t *rev)
{
	struct fakebus *fb = ctx;
	struct kvent *k;

	if (fb->down)
		return TL_EUNAVAIL;
	assert_memory_equal(key, district, 6);
	if (!(k = fb_find(fb, key)) || k->rev != last)
		return TL_ECONFLICT;
	free(k->val);
	k->val = strndup(val, len);
	k->rev = *rev = ++fb->rev;
	return TL_OK;
}

/* ---- fixture: up to three nodes on one fake bus ---- */

struct node {
	char path[160];
	struct db *db;
	struct case_node *cn;
};

struct fx {
	char dir[64];
	unsigned char key[DB_KEY_LEN];
	struct fakebus fb;
	struct case_port port;
	struct cal cal;
	struct node n[3];
	bool rebuild_new; /* node_open: a new database rebuilds from TL_EVENTS */
};

static void
node_open(struct fx *f, int i, const char *const *districts, size_t nd)
{
	struct case_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	for (size_t k = 0; k < nd; k++)
		cfg.districts[k] = districts[k];
	cfg.ndistricts = nd;
	cfg.lease_ms = 72 * HOUR;
	cfg.idle_ms = 48 * HOUR;
	cfg.cal = &f->cal;
	cfg.rebuild_new = f->rebuild_new;
	char dir[64];

	memcpy(dir, f->dir, sizeof(dir)); /* snprintf must not read from the struct it writes */
	snprintf(f->n[i].path, sizeof(f->n[i].path), "%s/node%d.db", dir, i);
	assert_int_equal(db_open(f->n[i].path, f->key, DB_CREATE, &f->n[i].db), TL_OK);
	assert_int_equal(case_open(f->n[i].db, &cfg, &f->port, &f->n[i].cn), TL_OK);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	static const char *const d1[] = { D1 }, *const d2[] = { D2, "120000" };

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tl_case_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	randombytes_buf(f->key, sizeof(f->key));
	f->fb.now = MON10;
	f->port.ctx = &f->fb;
	f->port.now_ms = fb_now;
	f->port.publish = fb_publish;
	f->port.kv_get = fb_kv_get;
	f->port.kv_create = fb_kv_create;
	f->port.kv_update = fb_kv_update;
	node_open(f, 0, d1, 1);
	node_open(f, 1, d1, 1); /* a replica of district 1 with its own database */
	node_open(f, 2, d2, 2); /* district 2 plus the city triage code */
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[200];
	const char *sfx[] = { "", "-wal", "-shm" };

	for (int i = 0; i < 3; i++) {
		case_close(f->n[i].cn);
		db_close(f->n[i].db);
		for (size_t k = 0; k < TL_ARRAY_LEN(sfx); k++) {
			snprintf(p, sizeof(p), "%s%s", f->n[i].path, sfx[k]);
			unlink(p);
		}
	}
	for (int i = 0; i < f->fb.nkv; i++)
		free(f->fb.kv[i].val);
	for (int i = 0; i < f->fb.npub; i++)
		free(f->fb.pubs[i].body);
	cal_free(&f->cal);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Builds a lead for district d, received at t; lead id into id. */
static void
make_lead(const char *d, int64_t t, char id[ID_HEX_LEN + 1], struct buf *out)
{
	struct wire_lead l;

	memset(&l, 0, sizeof(l));
	id_new(l.lead_id);
	id_new(l.report_id);
	snprintf(l.district, sizeof(l.district), "%s", d);
	snprintf(l.channel, sizeof(l.channel), "web");
	l.received_ms = t;
	l.text = "LEADTEXT 某厂夜间用中频炉炼钢";
	snprintf(l.route_rule, sizeof(l.route_rule), "explicit");
	l.route_confidence = 100;
	memset(l.status_key, 'a', STATUS_KEY_LEN);
	buf_init(out, WIRE_MAX_MSG);
	assert_int_equal(wire_lead_encode(&l, out), TL_OK);
	memcpy(id, l.lead_id, ID_HEX_LEN + 1);
}

/* Ingests a new lead into node i; returns its id in id. */
static void
add_lead(struct fx *f, int i, const char *d, int64_t t, char id[ID_HEX_LEN + 1])
{
	struct buf b;
	char subj[32];
	enum case_ingest out;

	make_lead(d, t, id, &b);
	snprintf(subj, sizeof(subj), "tl.lead.%s", d);
	assert_int_equal(case_ingest_lead(f->n[i].cn, subj, b.data, b.len, &out), TL_OK);
	assert_int_equal(out, CASE_IN_NEW);
	buf_free(&b);
}

static const struct pub *
last_pub(struct fx *f, const char *type_suffix)
{
	for (int i = f->fb.npub - 1; i >= 0; i--) {
		size_t sl = strlen(f->fb.pubs[i].subject), tl = strlen(type_suffix);
		if (sl > tl && strcmp(f->fb.pubs[i].subject + sl - tl, type_suffix) == 0)
			return &f->fb.pubs[i];
	}
	return NULL;
}

static int
count_pubs(struct fx *f, const char *type_suffix)
{
	int c = 0;

	for (int i = 0; i < f->fb.npub; i++) {
		size_t sl = strlen(f->fb.pubs[i].subject), tl = strlen(type_suffix);
		if (sl > tl && strcmp(f->fb.pubs[i].subject + sl - tl, type_suffix) == 0)
			c++;
	}
	return c;
}

/* Delivers every tl.xfer message published since *from to node i. */
static void
deliver_xfers(struct fx *f, int *from, int i)
{
	for (; *from < f->fb.npub; (*from)++) {
		const struct pub *p = &f->fb.pubs[*from];
		enum case_ingest out;
		if (strncmp(p->subject, "tl.xfer.", 8) != 0)
			continue;
		char rcpt[7];
		memcpy(rcpt, p->subject + 8, 6);
		rcpt[6] = '\0';
		if (!case_serves(f->n[i].cn, rcpt))
			continue;
		assert_int_equal(case_ingest_xfer(f->n[i].cn, p->subject, p->body, strlen(p->body), &out), TL_OK);
		assert_int_not_equal(out, CASE_IN_REJECT);
	}
}

static void
get_state(struct fx *f, int i, const struct case_actor *a, const char *id, char state[16])
{
	struct case_view v;

	assert_int_equal(case_get(f->n[i].cn, a, id, &v), TL_OK);
	memcpy(state, v.s.state, 16);
	case_view_free(&v);
}

static const struct case_actor alice = { "alice", CASE_RESPONDER, D1 };
static const struct case_actor bob = { "bob", CASE_RESPONDER, D1 };
static const struct case_actor sue = { "sue.sup", CASE_SUPERVISOR, D1 };
static const struct case_actor carol = { "carol", CASE_RESPONDER, D2 };
static const struct case_actor city = { "city1", CASE_CITY_OFFICE, "120000" };

/* ---- tests ---- */

static void
test_ingest_idempotent(void **state)
{
	struct fx *f = *state;
	struct buf b;
	char id[ID_HEX_LEN + 1];
	enum case_ingest out;
	struct case_summary *v;
	size_t nv;

	make_lead(D1, MON10 - HOUR, id, &b);
	assert_int_equal(case_ingest_lead(f->n[0].cn, "tl.lead." D1, b.data, b.len, &out), TL_OK);
	assert_int_equal(out, CASE_IN_NEW);
	assert_int_equal(case_ingest_lead(f->n[0].cn, "tl.lead." D1, b.data, b.len, &out), TL_OK);
	assert_int_equal(out, CASE_IN_DUP);
	/* Subject and payload disagree, or a district we do not serve. */
	assert_int_equal(case_ingest_lead(f->n[0].cn, "tl.lead." D2, b.data, b.len, &out), TL_OK);
	assert_int_equal(out, CASE_IN_REJECT);
	assert_int_equal(case_ingest_lead(f->n[0].cn, "tl.lead." D1, "{\"v\":1}", 7, &out), TL_OK);
	assert_int_equal(out, CASE_IN_REJECT);
	buf_free(&b);
	assert_int_equal(case_list(f->n[0].cn, &alice, CASE_Q_NEW, &v, &nv), TL_OK);
	assert_int_equal(nv, 1);
	assert_string_equal(v[0].lead_id, id);
	assert_int_equal(v[0].reports, 1);
	assert_string_equal(v[0].due_step, "claim");
	case_list_free(v);
	/* One "opened" event, with no tip text in it. */
	assert_int_equal(count_pubs(f, ".opened"), 1);
	assert_null(strstr(last_pub(f, ".opened")->body, "LEADTEXT"));
	/* Another district's responder sees nothing of it. */
	assert_int_equal(case_claim(f->n[0].cn, &carol, id), TL_EDENIED);
}

static void
test_claim_exclusive_across_replicas(void **state)
{
	struct fx *f = *state;
	struct buf b;
	char id[ID_HEX_LEN + 1], st[16];
	enum case_ingest out;
	struct wire_event ev;
	const struct pub *p;

	make_lead(D1, MON10, id, &b);
	/* Both replicas have the lead (each its own database). */
	assert_int_equal(case_ingest_lead(f->n[0].cn, "tl.lead." D1, b.data, b.len, &out), TL_OK);
	assert_int_equal(case_ingest_lead(f->n[1].cn, "tl.lead." D1, b.data, b.len, &out), TL_OK);
	buf_free(&b);
	assert_int_equal(case_claim(f->n[0].cn, &alice, id), TL_OK);
	/* Replica 1's database still says "new": the KV refuses bob. */
	assert_int_equal(case_claim(f->n[1].cn, &bob, id), TL_EEXIST);
	get_state(f, 1, &bob, id, st);
	assert_string_equal(st, "new");
	/* Claiming again is a renew for the holder. */
	assert_int_equal(case_claim(f->n[0].cn, &alice, id), TL_OK);
	assert_int_equal(case_claim(f->n[0].cn, &bob, id), TL_EEXIST);
	p = last_pub(f, ".claimed");
	assert_non_null(p);
	assert_int_equal(wire_event_decode(p->body, strlen(p->body), &ev), TL_OK);
	assert_string_equal(ev.holder, "alice");
	assert_int_equal(ev.lease_until_ms, MON10 + 72 * HOUR);
	assert_string_equal(p->msg_id, ev.event_id);
	wire_event_free(&ev);
	/* Release; then bob wins on the replica. */
	assert_int_equal(case_release(f->n[0].cn, &bob, id), TL_ECONFLICT);
	assert_int_equal(case_release(f->n[0].cn, &alice, id), TL_OK);
	assert_int_equal(case_claim(f->n[1].cn, &bob, id), TL_OK);
	assert_int_equal(count_pubs(f, ".released"), 1);
}

static void
test_lease_expiry_and_renew(void **state)
{
	struct fx *f = *state;
	char id[ID_HEX_LEN + 1], st[16];
	struct case_scan_stats ss;

	add_lead(f, 0, D1, MON10, id);
	assert_int_equal(case_claim(f->n[0].cn, &alice, id), TL_OK);
	f->fb.now += 70 * HOUR;
	assert_int_equal(case_renew(f->n[0].cn, &alice, id), TL_OK);
	f->fb.now += 70 * HOUR; /* 140 h after the claim: still inside the renewed lease */
	assert_int_equal(case_scan(f->n[0].cn, &ss), TL_OK);
	assert_int_equal(ss.leases_expired, 0);
	get_state(f, 0, &alice, id, st);
	assert_string_equal(st, "claimed");
	f->fb.now += 3 * HOUR;
	assert_int_equal(case_claim(f->n[0].cn, &bob, id), TL_OK); /* expired lease: claimable */
	f->fb.now += 73 * HOUR;
	assert_int_equal(case_scan(f->n[0].cn, &ss), TL_OK);
	assert_int_equal(ss.leases_expired, 1);
	get_state(f, 0, &alice, id, st);
	assert_string_equal(st, "new");
	assert_int_equal(count_pubs(f, ".lease_expired"), 1);
	assert_int_equal(case_renew(f->n[0].cn, &bob, id), TL_ECONFLICT);
	assert_int_equal(case_claim(f->n[0].cn, &alice, id), TL_OK);
}

static void
test_take_over(void **state)
{
	struct fx *f = *state;
	char id[ID_HEX_LEN + 1];
	struct wire_event ev;
	const struct pub *p;

	add_lead(f, 0, D1, MON10, id);
	assert_int_equal(case_claim(f->n[0].cn, &alice, id), TL_OK);
	assert_int_equal(case_take_over(f->n[0].cn, &bob, id, "stalled"), TL_EDENIED);
	assert_int_equal(case_take_over(f->n[0].cn, &sue, id, ""), TL_EINVAL);
	assert_int_equal(case_take_over(f->n[0].cn, &sue, id, NULL), TL_EINVAL);
	assert_int_equal(case_take_over(f->n[0].cn, &sue, id, "no activity for a week"), TL_OK);
	p = last_pub(f, ".taken_over");
	assert_int_equal(wire_event_decode(p->body, strlen(p->body), &ev), TL_OK);
	assert_string_equal(ev.holder, "sue.sup");
	assert_string_equal(ev.prev_holder, "alice");
	assert_string_equal(ev.reason, "no activity for a week");
	assert_string_equal(ev.role, "supervisor");
	wire_event_free(&ev);
	assert_int_equal(case_renew(f->n[0].cn, &alice, id), TL_ECONFLICT);
}

static void
finding(struct fx *f, int i, const struct case_actor *a, const char *id, const char *agency, enum tl_err want)
{
	struct case_finding fd = { agency, "site_visit", "not_found", 0, "王某, 李某", "furnace site checked",
		                   "photo-001\nphoto-002\n", };

	fd.checked_ms = f->fb.now - HOUR;
	assert_int_equal(case_record_finding(f->n[i].cn, a, id, &fd), want);
}

static void
test_findings_verdict_reopen(void **state)
{
	struct fx *f = *state;
	char id[ID_HEX_LEN + 1], id2[ID_HEX_LEN + 1], st[16];
	struct case_verdict un = { 0 }, sub = { true, 3, 50000, "idle_restartable", 12000, 150000000, "ok" };
	struct case_view v;
	struct wire_event ev;
	const struct pub *p;

	add_lead(f, 0, D1, MON10, id);
	finding(f, 0, &alice, id, "grid", TL_ECONFLICT); /* not claimed by anybody */
	assert_int_equal(case_claim(f->n[0].cn, &alice, id), TL_OK);
	finding(f, 0, &bob, id, "grid", TL_EEXIST);
	finding(f, 0, &alice, id, "nosuch", TL_EINVAL);
	finding(f, 0, &alice, id, "grid", TL_OK);
	p = last_pub(f, ".finding_recorded");
	assert_int_equal(wire_event_decode(p->body, strlen(p->body), &ev), TL_OK);
	assert_string_equal(ev.agency, "grid");
	assert_int_equal(ev.evidence_count, 2);
	assert_null(strstr(p->body, "王某")); /* finding text stays home */
	wire_event_free(&ev);
	/* Unfounded: a supervisor, and two agencies. */
	assert_int_equal(case_record_verdict(f->n[0].cn, &alice, id, &un), TL_EDENIED);
	assert_int_equal(case_record_verdict(f->n[0].cn, &sue, id, &un), TL_ECONFLICT);
	finding(f, 0, &alice, id, "grid", TL_OK);
	assert_int_equal(case_record_verdict(f->n[0].cn, &sue, id, &un), TL_ECONFLICT);
	finding(f, 0, &alice, id, "samr", TL_OK);
	assert_int_equal(case_record_verdict(f->n[0].cn, &sue, id, &un), TL_OK);
	get_state(f, 0, &alice, id, st);
	assert_string_equal(st, "closed");
	p = last_pub(f, ".verdict");
	assert_int_equal(wire_event_decode(p->body, strlen(p->body), &ev), TL_OK);
	assert_false(ev.substantiated);
	assert_int_equal(ev.agencies, 2);
	assert_string_equal(ev.signed_off_by, "sue.sup");
	assert_int_equal(ev.first_received_ms, MON10);
	wire_event_free(&ev);
	/* Closed: no more work; a supervisor reopens with a reason. */
	finding(f, 0, &alice, id, "env", TL_ECONFLICT);
	assert_int_equal(case_reopen(f->n[0].cn, &alice, id, "new evidence"), TL_EDENIED);
	assert_int_equal(case_reopen(f->n[0].cn, &sue, id, ""), TL_EINVAL);
	assert_int_equal(case_reopen(f->n[0].cn, &sue, id, "new evidence"), TL_OK);
	assert_int_equal(case_reopen(f->n[0].cn, &sue, id, "again"), TL_ECONFLICT);
	get_state(f, 0, &alice, id, st);
	assert_string_equal(st, "new");

	/* Substantiated, with the numbers, by the claim holder. */
	add_lead(f, 0, D1, MON10, id2);
	assert_int_equal(case_claim(f->n[0].cn, &bob, id2), TL_OK);
	sub.production = "exploded";
	assert_int_equal(case_record_verdict(f->n[0].cn, &bob, id2, &sub), TL_EINVAL);
	sub.production = "idle_restartable";
	sub.fines_fen = -1;
	assert_int_equal(case_record_verdict(f->n[0].cn, &bob, id2, &sub), TL_EINVAL);
	sub.fines_fen = 150000000;
	assert_int_equal(case_record_verdict(f->n[0].cn, &alice, id2, &sub), TL_EEXIST);
	assert_int_equal(case_record_verdict(f->n[0].cn, &bob, id2, &sub), TL_OK);
	p = last_pub(f, ".verdict");
	assert_int_equal(wire_event_decode(p->body, strlen(p->body), &ev), TL_OK);
	assert_true(ev.substantiated);
	assert_int_equal(ev.furnaces, 3);
	assert_int_equal(ev.fines_fen, 150000000);
	assert_string_equal(ev.production, "idle_restartable");
	wire_event_free(&ev);
	/* The history keeps every step. */
	assert_int_equal(case_get(f->n[0].cn, &sue, id, &v), TL_OK);
	assert_int_equal(v.nfindings, 3);
	assert_true(v.nhistory >= 7);
	assert_string_equal(v.history[0].type, "opened");
	assert_string_equal(v.history[v.nhistory - 1].type, "reopened");
	assert_string_equal(v.reports[0].text, "LEADTEXT 某厂夜间用中频炉炼钢");
	case_view_free(&v);
}

static void
test_transfer_refused_then_accepted(void **state)
{
	struct fx *f = *state;
	char id[ID_HEX_LEN + 1], st[16];
	struct case_summary *v;
	size_t nv;
	struct case_view cv;
	int cursor = 0;
	const struct pub *p;

	add_lead(f, 0, D1, MON10 - 5 * DAY, id);
	cursor = f->fb.npub;
	assert_int_equal(case_claim(f->n[0].cn, &alice, id), TL_OK);
	assert_int_equal(case_request_transfer(f->n[0].cn, &alice, id, D2, "bogus", NULL), TL_EINVAL);
	assert_int_equal(case_request_transfer(f->n[0].cn, &alice, id, D1, "wrong_district", NULL), TL_EINVAL);
	assert_int_equal(case_request_transfer(f->n[0].cn, &alice, id, D2, "site_elsewhere", "site is in 河东"), TL_OK);
	get_state(f, 0, &alice, id, st);
	assert_string_equal(st, "xfer_out");
	assert_int_equal(case_claim(f->n[0].cn, &alice, id), TL_ECONFLICT); /* no actions while pending */
	p = last_pub(f, id);
	assert_non_null(p);
	assert_int_equal(strncmp(p->subject, "tl.xfer." D2 "." D1 ".", 22), 0);
	deliver_xfers(f, &cursor, 2);
	assert_int_equal(case_list(f->n[2].cn, &carol, CASE_Q_INCOMING, &v, &nv), TL_OK);
	assert_int_equal(nv, 1);
	assert_string_equal(v[0].lead_id, id);
	case_list_free(v);
	/* Only the receiving district answers. */
	assert_int_equal(case_refuse_transfer(f->n[0].cn, &alice, id, "no"), TL_ENOTFOUND);
	assert_int_equal(case_refuse_transfer(f->n[2].cn, &carol, id, "not ours either"), TL_OK);
	assert_int_equal(case_accept_transfer(f->n[2].cn, &carol, id), TL_ENOTFOUND);
	assert_int_equal(count_pubs(f, ".transfer_refused"), 1);
	deliver_xfers(f, &cursor, 0);
	get_state(f, 0, &alice, id, st);
	assert_string_equal(st, "new"); /* back in our queue */

	/* Second attempt: accepted. */
	assert_int_equal(case_claim(f->n[0].cn, &alice, id), TL_OK);
	assert_int_equal(case_request_transfer(f->n[0].cn, &alice, id, D2, "site_elsewhere", NULL), TL_OK);
	deliver_xfers(f, &cursor, 2);
	assert_int_equal(case_accept_transfer(f->n[2].cn, &carol, id), TL_OK);
	deliver_xfers(f, &cursor, 0);
	get_state(f, 0, &alice, id, st);
	assert_string_equal(st, "transferred");
	assert_int_equal(case_get(f->n[2].cn, &carol, id, &cv), TL_OK);
	assert_string_equal(cv.s.state, "new");
	assert_string_equal(cv.s.district, D2);
	assert_string_equal(cv.origin, D1);
	assert_int_equal(cv.s.transfers, 2);
	/* The clock carried over: the claim deadline of a 5-day-old lead has passed. */
	assert_true(cv.s.overdue);
	case_view_free(&cv);
	assert_int_equal(count_pubs(f, ".transfer_accepted"), 1);
	/* Replays are no-ops. */
	cursor = 0;
	deliver_xfers(f, &cursor, 0);
	cursor = 0;
	deliver_xfers(f, &cursor, 2);
	get_state(f, 0, &alice, id, st);
	assert_string_equal(st, "transferred");

	/* A third transfer goes to the city office for a decision. */
	assert_int_equal(case_claim(f->n[2].cn, &carol, id), TL_OK);
	assert_int_equal(case_request_transfer(f->n[2].cn, &carol, id, D3, "site_elsewhere", NULL), TL_OK);
	p = last_pub(f, id);
	assert_int_equal(strncmp(p->subject, "tl.xfer.120000." D2 ".", 22), 0);
	deliver_xfers(f, &cursor, 2);
	assert_int_equal(case_accept_transfer(f->n[2].cn, &city, id), TL_OK);
	assert_int_equal(case_get(f->n[2].cn, &city, id, &cv), TL_OK);
	assert_string_equal(cv.s.district, "120000");
	case_view_free(&cv);
	/* The city decides where it goes, past the limit. */
	assert_int_equal(case_claim(f->n[2].cn, &city, id), TL_OK);
	assert_int_equal(case_request_transfer(f->n[2].cn, &city, id, D3, "city_decision", NULL), TL_OK);
	p = last_pub(f, id);
	assert_int_equal(strncmp(p->subject, "tl.xfer." D3 ".120000.", 22), 0);
}

static void
test_merge_earliest_wins(void **state)
{
	struct fx *f = *state;
	char a[ID_HEX_LEN + 1], b[ID_HEX_LEN + 1], surv[ID_HEX_LEN + 1], st[16];
	struct case_view v;

	add_lead(f, 0, D1, MON10, a);
	add_lead(f, 0, D1, MON10 - DAY, b); /* reported a day earlier */
	assert_int_equal(case_claim(f->n[0].cn, &alice, a), TL_OK);
	finding(f, 0, &alice, a, "police", TL_OK);
	assert_int_equal(case_claim(f->n[0].cn, &bob, b), TL_OK);
	assert_int_equal(case_merge(f->n[0].cn, &alice, a, b, surv), TL_EEXIST); /* bob's claim */
	assert_int_equal(case_merge(f->n[0].cn, &sue, a, a, surv), TL_EINVAL);
	assert_int_equal(case_merge(f->n[0].cn, &sue, a, b, surv), TL_OK);
	assert_string_equal(surv, b);
	get_state(f, 0, &alice, a, st);
	assert_string_equal(st, "merged");
	assert_int_equal(case_get(f->n[0].cn, &alice, b, &v), TL_OK);
	assert_int_equal(v.nreports, 2);
	assert_string_equal(v.reports[0].lead_id, b); /* earliest first */
	assert_int_equal(v.nfindings, 1);
	case_view_free(&v);
	assert_int_equal(case_merge(f->n[0].cn, &sue, a, b, surv), TL_ECONFLICT);
	assert_int_equal(count_pubs(f, ".merged"), 1);
}

static void
test_deadlines_and_idle(void **state)
{
	struct fx *f = *state;
	char id[ID_HEX_LEN + 1], id2[ID_HEX_LEN + 1];
	struct case_scan_stats ss;
	struct case_summary *v;
	size_t nv;
	struct wire_event ev;
	const struct pub *p;
	int64_t fri10 = MON10 + 4 * DAY;

	/* Friday 10:00: claim due at the end of Monday. */
	add_lead(f, 0, D1, fri10, id);
	f->fb.now = fri10 + 2 * DAY; /* Sunday */
	assert_int_equal(case_scan(f->n[0].cn, &ss), TL_OK);
	assert_int_equal(ss.overdue, 0);
	f->fb.now = fri10 + 4 * DAY; /* Tuesday 10:00 */
	assert_int_equal(case_scan(f->n[0].cn, &ss), TL_OK);
	assert_int_equal(ss.overdue, 1);
	assert_int_equal(case_scan(f->n[0].cn, &ss), TL_OK);
	assert_int_equal(ss.overdue, 0); /* flagged once */
	p = last_pub(f, ".overdue");
	assert_int_equal(wire_event_decode(p->body, strlen(p->body), &ev), TL_OK);
	assert_string_equal(ev.step, "claim");
	/* 2026-11-30 24:00 CST = 2026-11-30T16:00Z */
	assert_int_equal(ev.deadline_ms, fri10 + 3 * DAY + 14 * HOUR);
	wire_event_free(&ev);
	assert_int_equal(case_list(f->n[0].cn, &alice, CASE_Q_OVERDUE, &v, &nv), TL_OK);
	assert_int_equal(nv, 1);
	case_list_free(v);
	/* Claimed but idle. */
	add_lead(f, 0, D1, f->fb.now, id2);
	assert_int_equal(case_claim(f->n[0].cn, &alice, id2), TL_OK);
	f->fb.now += 49 * HOUR;
	assert_int_equal(case_scan(f->n[0].cn, &ss), TL_OK);
	assert_int_equal(ss.idle, 1);
	assert_int_equal(count_pubs(f, ".idle"), 1);
	/* The city office sees every district's board; a district only its own. */
	assert_int_equal(case_list(f->n[2].cn, &city, CASE_Q_ALL, &v, &nv), TL_OK);
	case_list_free(v);
}

static void
test_calendar(void **state)
{
	struct fx *f = *state;
	char path[128], why[256];
	FILE *fp;
	struct cal c;

	(void)f;
	/* Weekends only. */
	assert_false(cal_is_working_day(NULL, cal_day_of(MON10 + 5 * DAY)));
	assert_true(cal_is_working_day(NULL, cal_day_of(MON10)));
	assert_int_equal(cal_add_working_days(NULL, MON10, 0), MON10 + 14 * HOUR);
	assert_int_equal(cal_add_working_days(NULL, MON10, 5), MON10 + 7 * DAY + 14 * HOUR);
	/* A holiday on Tuesday and a worked Saturday. */
	snprintf(path, sizeof(path), "%s/hol.txt", f->dir);
	assert_non_null(fp = fopen(path, "w"));
	fprintf(fp, "# test\n2026-11-24 holiday\n2026-11-28 workday\n");
	fclose(fp);
	assert_int_equal(cal_load(path, &c, why, sizeof(why)), TL_OK);
	assert_int_equal(cal_add_working_days(&c, MON10, 1), MON10 + 2 * DAY + 14 * HOUR);
	assert_int_equal(cal_add_working_days(&c, MON10, 4), MON10 + 5 * DAY + 14 * HOUR);
	cal_free(&c);
	assert_non_null(fp = fopen(path, "w"));
	fprintf(fp, "2026-11-24 holidayz\n");
	fclose(fp);
	assert_int_equal(cal_load(path, &c, why, sizeof(why)), TL_ECONFIG);
	assert_non_null(strstr(why, ":1:"));
	unlink(path);
	/* The shipped file parses. */
	assert_int_equal(cal_load("data/holidays-cn.txt", &c, why, sizeof(why)), TL_OK);
	assert_false(cal_is_working_day(&c, cal_day_of(MON10 - 53 * DAY))); /* 2026-10-01, a Thursday */
	assert_true(cal_is_working_day(&c, cal_day_of(MON10 - 44 * DAY)));  /* 2026-10-10, a worked Saturday */
	cal_free(&c);
}

static void
test_outbox_survives_bus_down(void **state)
{
	struct fx *f = *state;
	char id[ID_HEX_LEN + 1];
	int pubd = 0, left = 0, before;
	struct case_scan_stats ss;

	add_lead(f, 0, D1, MON10, id);
	before = count_pubs(f, ".claimed");
	assert_int_equal(case_claim(f->n[0].cn, &alice, id), TL_OK);
	f->fb.down = true;
	/* The claim store is down: nothing changes. */
	assert_int_equal(case_release(f->n[0].cn, &alice, id), TL_EUNAVAIL);
	/* Work that needs no KV goes on; events wait in the outbox. */
	finding(f, 0, &sue, id, "env", TL_OK);
	assert_int_equal(count_pubs(f, ".finding_recorded"), 0);
	assert_int_equal(case_flush(f->n[0].cn, &pubd, &left), TL_OK);
	assert_int_equal(left, 1);
	f->fb.down = false;
	assert_int_equal(case_scan(f->n[0].cn, &ss), TL_OK);
	assert_int_equal(ss.published, 1);
	assert_int_equal(count_pubs(f, ".finding_recorded"), 1);
	assert_int_equal(count_pubs(f, ".claimed"), before + 1);
}

/* Prints a case view without the free text events do not carry. */
static void
view_text(struct fx *f, int i, const struct case_actor *a, const char *id, char *out, size_t outlen)
{
	struct case_view v;
	size_t o = 0;

	assert_int_equal(case_get(f->n[i].cn, a, id, &v), TL_OK);
	o += (size_t)snprintf(out + o, outlen - o, "%s %s %s holder=%s due=%lld/%s overdue=%d f=%d r=%d t=%d v=%s\n",
	                      v.s.lead_id, v.s.district, v.s.state, v.s.holder, (long long)v.s.due_ms,
	                      v.s.due_step, v.s.overdue, v.s.findings, v.s.reports, v.s.transfers, v.verdict);
	for (size_t k = 0; k < v.nfindings && o < outlen; k++)
		o += (size_t)snprintf(out + o, outlen - o, "finding %s %s %s %lld %lld %s\n", v.findings[k].agency,
		                      v.findings[k].check, v.findings[k].result, (long long)v.findings[k].checked_ms,
		                      (long long)v.findings[k].recorded_ms, v.findings[k].recorded_by);
	for (size_t k = 0; k < v.nhistory && o < outlen; k++)
		o += (size_t)snprintf(out + o, outlen - o, "event %llu %s %s\n", (unsigned long long)v.history[k].seq,
		                      v.history[k].type, v.history[k].event);
	assert_true(o < outlen);
	case_view_free(&v);
}

static void
test_rebuild_from_events(void **state)
{
	struct fx *f = *state;
	static const char *const d1[] = { D1 };
	struct case_verdict un = { 0 };
	struct buf lead[2];
	char id[2][ID_HEX_LEN + 1], subj[160], before[2][8192], after[8192];
	const char *const *ds = d1;
	int npub, opened;
	enum case_ingest out;

	/* Node 0 works on two cases; node 1's database is lost. */
	for (int k = 0; k < 2; k++) {
		make_lead(D1, MON10, id[k], &lead[k]);
		assert_int_equal(case_ingest_lead(f->n[0].cn, "tl.lead." D1, lead[k].data, lead[k].len, &out), TL_OK);
	}
	assert_int_equal(case_claim(f->n[0].cn, &alice, id[0]), TL_OK);
	finding(f, 0, &alice, id[0], "grid", TL_OK);
	finding(f, 0, &alice, id[0], "samr", TL_OK);
	assert_int_equal(case_record_verdict(f->n[0].cn, &sue, id[0], &un), TL_OK);
	assert_int_equal(case_reopen(f->n[0].cn, &sue, id[0], "new evidence"), TL_OK);
	assert_int_equal(case_claim(f->n[0].cn, &bob, id[0]), TL_OK);
	assert_int_equal(case_claim(f->n[0].cn, &alice, id[1]), TL_OK);
	assert_int_equal(case_take_over(f->n[0].cn, &sue, id[1], "holder on leave"), TL_OK);
	for (int k = 0; k < 2; k++)
		view_text(f, 0, &sue, id[k], before[k], sizeof(before[k]));

	/* Node 0's database is lost; a new one (rebuild_new) takes its place. */
	case_close(f->n[0].cn);
	db_close(f->n[0].db);
	unlink(f->n[0].path);
	f->rebuild_new = true;
	node_open(f, 0, ds, 1);
	assert_true(case_rebuilding(f->n[0].cn, D1));
	/* Nobody acts while rebuilding. */
	assert_int_equal(case_claim(f->n[0].cn, &alice, id[1]), TL_EUNAVAIL);
	npub = f->fb.npub;
	/* An event whose lead is not back yet waits. */
	assert_int_equal(case_apply_event(f->n[0].cn, f->fb.pubs[0].subject, f->fb.pubs[0].body,
	                                  strlen(f->fb.pubs[0].body), 1, &out), TL_ENOTFOUND);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(case_ingest_lead(f->n[0].cn, "tl.lead." D1, lead[k].data, lead[k].len, &out), TL_OK);
		assert_int_equal(out, CASE_IN_NEW);
		buf_free(&lead[k]);
	}
	/* Every event, twice: the second time each one is known. */
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < npub; i++) {
			const struct pub *p = &f->fb.pubs[i];
			assert_int_equal(case_apply_event(f->n[0].cn, p->subject, p->body, strlen(p->body),
			                                  (uint64_t)i + 1, &out), TL_OK);
			assert_int_equal(out, round == 0 ? CASE_IN_NEW : CASE_IN_DUP);
		}
	/* Another district's event, or one whose subject lies: rejected. */
	snprintf(subj, sizeof(subj), "tl.event.%s.%s.opened", D2, id[0]);
	assert_int_equal(case_apply_event(f->n[0].cn, subj, f->fb.pubs[0].body, strlen(f->fb.pubs[0].body), 99, &out),
	                 TL_OK);
	assert_int_equal(out, CASE_IN_REJECT);
	assert_int_equal(case_rebuild_done(f->n[0].cn, D1, &opened), TL_OK);
	assert_int_equal(opened, 0);
	assert_false(case_rebuilding(f->n[0].cn, D1));
	/* Same cases, findings (codes), holders, verdicts and history; nothing
	 * was published again. */
	assert_int_equal(f->fb.npub, npub);
	for (int k = 0; k < 2; k++) {
		view_text(f, 0, &sue, id[k], after, sizeof(after));
		assert_string_equal(after, before[k]);
	}
	/* Work goes on: the next event continues the sequence, under a new epoch. */
	assert_int_equal(case_release(f->n[0].cn, &bob, id[0]), TL_OK);
	assert_int_equal(f->fb.npub, npub + 1);
	assert_non_null(strstr(f->fb.pubs[npub].body, "\"seq\":8"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ingest_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_exclusive_across_replicas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lease_expiry_and_renew, setup, teardown),
		cmocka_unit_test_setup_teardown(test_take_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_findings_verdict_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transfer_refused_then_accepted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_earliest_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadlines_and_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_calendar, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_survives_bus_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_from_events, setup, teardown),
	};

	log_init("case_test", LOG_ERR);
	if (secret_init() != TL_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
