/*
 * svc_fixture.h - a struct payouts_svc over a fresh temporary database for
 * the unit tests of tl_payouts_svc (cases, staff keys, actions): default
 * award rules, every schema, an audit chain in the same folder, cheap
 * Argon2id, and TL_STATUS replaced by an in-memory map that counts
 * writes and can be switched off to play "NATS down".
 *
 * Header-only (static functions) so that each *_test.c stays one file.
 */
#ifndef TL_TEST_SVC_FIXTURE_H
#define TL_TEST_SVC_FIXTURE_H

#include "compat.h"
#include "audit.h"
#include "auth.h"
#include "cases.h"
#include "export.h"
#include "log.h"
#include "secret.h"
#include "staffkey.h"
#include "svc.h"
#include "wire.h"

#include <dirent.h>
#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

#define FX_KV_MAX 64

struct fx_kv {
	char key[STATUS_KEY_LEN + 1];
	char val[512];
	int puts; /* writes of this key */
};

struct fx {
	char dir[64], path[128], audit_path[128];
	struct payouts_cfg cfg;
	struct payouts_svc s;
	unsigned char audit_pk[AUDIT_PK_BYTES];
	struct fx_kv kv[FX_KV_MAX];
	size_t nkv;
	int puts;      /* every successful write */
	bool kv_down;  /* answers TL_EUNAVAIL */
	char why[1024];
};

static inline struct fx_kv *
fx_kv_find(struct fx *f, const char *key)
{
	for (size_t i = 0; i < f->nkv; i++)
		if (strcmp(f->kv[i].key, key) == 0)
			return &f->kv[i];
	return NULL;
}

static inline enum tl_err
fx_put(void *ctx, const char *key, const void *val, size_t len)
{
	struct fx *f = ctx;
	struct fx_kv *k;

	if (f->kv_down)
		return TL_EUNAVAIL;
	if (!(k = fx_kv_find(f, key))) {
		assert_true(f->nkv < FX_KV_MAX);
		k = &f->kv[f->nkv++];
		snprintf(k->key, sizeof(k->key), "%s", key);
	}
	assert_true(len < sizeof(k->val));
	memcpy(k->val, val, len);
	k->val[len] = '\0';
	k->puts++;
	f->puts++;
	return TL_OK;
}

static inline enum tl_err
fx_get(void *ctx, const char *key, struct buf *val)
{
	struct fx *f = ctx;
	struct fx_kv *k;

	if (f->kv_down)
		return TL_EUNAVAIL;
	if (!(k = fx_kv_find(f, key)))
		return TL_ENOTFOUND;
	return buf_append_str(val, k->val);
}

/* The status currently in the map for key ("" if none). */
static inline const char *
fx_status(struct fx *f, const char *key, struct wire_status *out)
{
	static char name[32];
	struct fx_kv *k = fx_kv_find(f, key);
	struct wire_status w;

	name[0] = '\0';
	if (!k)
		return name;
	assert_int_equal(wire_status_decode(k->val, strlen(k->val), &w), TL_OK);
	if (out)
		*out = w;
	snprintf(name, sizeof(name), "%s", w.status);
	return name;
}

static inline void
fx_open(struct fx *f, int64_t claim_window_s)
{
	struct award_rules rules;
	struct auth_config ac;
	unsigned char dbkey[DB_KEY_LEN], ask[AUDIT_SK_BYTES];

	assert_int_equal(secret_init(), TL_OK);
	auth_config_default(&ac);
	ac.opslimit = crypto_pwhash_OPSLIMIT_MIN;
	ac.memlimit = crypto_pwhash_MEMLIMIT_MIN;
	assert_int_equal(auth_init(&ac), TL_OK);
	staffkey_set_cost(crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tl_payd_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/payouts.db", f->dir);
	snprintf(f->audit_path, sizeof(f->audit_path), "%s/audit.log", f->dir);
	f->cfg.claim_window_s = claim_window_s;
	f->cfg.scan_interval_ms = 1000;
	award_rules_default(&rules);
	randombytes_buf(dbkey, sizeof(dbkey));
	memset(&f->s, 0, sizeof(f->s));
	f->s.cfg = &f->cfg;
	pthread_mutex_init(&f->s.lock, NULL);
	assert_int_equal(db_open(f->path, dbkey, DB_CREATE, &f->s.db), TL_OK);
	/* Durability is not under test here (ledger_test's kill -9 is). */
	assert_int_equal(db_exec(f->s.db, "PRAGMA synchronous = OFF;"), TL_OK);
	assert_int_equal(payouts_open(f->s.db, &rules, &f->s.core), TL_OK);
	assert_int_equal(cases_migrate(f->s.db), TL_OK);
	assert_int_equal(staffkey_migrate(f->s.db), TL_OK);
	assert_int_equal(export_migrate(f->s.db), TL_OK);
	assert_int_equal(auth_migrate(f->s.db), TL_OK);
	crypto_sign_keypair(f->audit_pk, ask);
	assert_int_equal(audit_open(f->audit_path, "payouts", ask, &f->s.audit), TL_OK);
	sodium_memzero(ask, sizeof(ask));
	f->s.status_put = fx_put;
	f->s.status_get = fx_get;
	f->s.status_ctx = f;
}

static inline void
fx_close(struct fx *f)
{
	DIR *d;
	struct dirent *de;
	char p[400];

	audit_close(f->s.audit);
	payouts_close(f->s.core);
	db_close(f->s.db);
	pthread_mutex_destroy(&f->s.lock);
	if ((d = opendir(f->dir))) {
		while ((de = readdir(d)))
			if (de->d_name[0] != '.') {
				snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
				unlink(p);
			}
		closedir(d);
	}
	rmdir(f->dir);
}

/* A deterministic 32-hex id from a small number and a tag letter. */
static inline void
fx_id(char out[ID_HEX_LEN + 1], char tag, int n)
{
	snprintf(out, ID_HEX_LEN + 1, "%c%031x", tag, (unsigned)n);
}

static inline void
fx_key(char out[STATUS_KEY_LEN + 1], int n)
{
	snprintf(out, STATUS_KEY_LEN + 1, "%064x", (unsigned)n);
}

/* Applies lead n (lead id a..., report id b..., status key n) received
 * at ms; returns the outcome and syncs its case. */
static inline enum cases_outcome
fx_lead(struct fx *f, int n, const char *district, int64_t received_ms)
{
	struct wire_lead m;
	enum cases_outcome out;
	char case_id[ID_HEX_LEN + 1];

	memset(&m, 0, sizeof(m));
	fx_id(m.lead_id, 'a', n);
	fx_id(m.report_id, 'b', n);
	snprintf(m.district, sizeof(m.district), "%s", district);
	snprintf(m.channel, sizeof(m.channel), "web");
	m.received_ms = received_ms;
	fx_key(m.status_key, n);
	assert_int_equal(cases_apply_lead(&f->s, &m, received_ms, &out, case_id), TL_OK);
	if (case_id[0])
		assert_int_equal(payouts_status_sync_case(&f->s, case_id, received_ms), TL_OK);
	return out;
}

static int fx_seq;

/* An event of type t on lead n (district, time); fill extra fields in ev
 * first with fx_event_init(). */
static inline void
fx_event_init(struct wire_event *ev, enum wire_event_type t, int lead, const char *district, int64_t at_ms)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = t;
	fx_id(ev->lead_id, 'a', lead);
	snprintf(ev->event_id, sizeof(ev->event_id), "%s:e:%d", ev->lead_id, ++fx_seq);
	snprintf(ev->district, sizeof(ev->district), "%s", district);
	ev->seq = (uint64_t)fx_seq;
	ev->at_ms = at_ms;
	snprintf(ev->role, sizeof(ev->role), "responder");
}

static inline enum cases_outcome
fx_apply(struct fx *f, const struct wire_event *ev)
{
	enum cases_outcome out;
	char case_id[ID_HEX_LEN + 1];

	assert_int_equal(cases_apply_event(&f->s, ev, ev->at_ms, &out, case_id), TL_OK);
	if (case_id[0])
		assert_int_equal(payouts_status_sync_case(&f->s, case_id, ev->at_ms), TL_OK);
	return out;
}

static inline enum cases_outcome
fx_simple(struct fx *f, enum wire_event_type t, int lead, const char *district, int64_t at_ms)
{
	struct wire_event ev;

	fx_event_init(&ev, t, lead, district, at_ms);
	return fx_apply(f, &ev);
}

/* A substantiated verdict (running plant, fines in fen) on lead n. */
static inline enum cases_outcome
fx_verdict(struct fx *f, int lead, const char *district, int64_t at_ms, int64_t fines_fen)
{
	struct wire_event ev;

	fx_event_init(&ev, WIRE_EV_VERDICT, lead, district, at_ms);
	ev.substantiated = true;
	ev.furnaces = 2;
	ev.capacity_tpy = 30000;
	snprintf(ev.production, sizeof(ev.production), "running");
	ev.seized_kg = 5000;
	ev.fines_fen = fines_fen;
	ev.agencies = 2;
	ev.first_received_ms = at_ms - 86400000;
	return fx_apply(f, &ev);
}

#endif
