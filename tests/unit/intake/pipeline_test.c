/*
 * pipeline_test.c - the intake pipeline against a fake bus: what is
 * published, in which order, with which ids; that identity only travels
 * sealed; that nothing is acknowledged when any step fails; idempotency.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "compat.h"
#include "pipeline.h"
#include "district.h"
#include "secret.h"
#include "wire.h"

#include <sodium.h>

#define MAX_OPS 32

struct op {
	char kind[8]; /* "pub", "create", "get" */
	char subject[128];
	char msg_id[128];
	struct buf data;
};

struct kvent {
	char key[160];
	struct buf val;
};

struct fake {
	struct op ops[MAX_OPS];
	int nops;
	int fail_at;          /* 1-based index of the write op that fails; 0: none */
	int writes;
	enum tl_err fail_with;
	struct kvent kv[MAX_OPS];
	int nkv;
	int published;        /* successful publishes (the "stream") */
};

static struct op *
record(struct fake *f, const char *kind, const char *subject, const char *msg_id, const void *d, size_t n)
{
	struct op *o = &f->ops[f->nops++];

	assert_true(f->nops <= MAX_OPS);
	snprintf(o->kind, sizeof(o->kind), "%s", kind);
	snprintf(o->subject, sizeof(o->subject), "%s", subject);
	snprintf(o->msg_id, sizeof(o->msg_id), "%s", msg_id ? msg_id : "");
	buf_init(&o->data, 2 * 1024 * 1024);
	if (d)
		assert_int_equal(buf_append(&o->data, d, n), TL_OK);
	return o;
}

static enum tl_err
f_publish(void *cls, const char *subject, const void *data, size_t len, const char *msg_id)
{
	struct fake *f = cls;

	record(f, "pub", subject, msg_id, data, len);
	if (++f->writes == f->fail_at)
		return f->fail_with;
	f->published++;
	return TL_OK;
}

static struct kvent *
kv_find(struct fake *f, const char *bucket, const char *key)
{
	char k[160];

	snprintf(k, sizeof(k), "%s/%s", bucket, key);
	for (int i = 0; i < f->nkv; i++)
		if (strcmp(f->kv[i].key, k) == 0)
			return &f->kv[i];
	return NULL;
}

static enum tl_err
f_kv_create(void *cls, const char *bucket, const char *key, const void *val, size_t len)
{
	struct fake *f = cls;
	struct kvent *e;

	record(f, "create", bucket, key, val, len);
	if (++f->writes == f->fail_at)
		return f->fail_with;
	if (kv_find(f, bucket, key))
		return TL_EEXIST;
	e = &f->kv[f->nkv++];
	snprintf(e->key, sizeof(e->key), "%s/%s", bucket, key);
	buf_init(&e->val, 4096);
	assert_int_equal(buf_append(&e->val, val, len), TL_OK);
	return TL_OK;
}

static enum tl_err
f_kv_get(void *cls, const char *bucket, const char *key, struct buf *val)
{
	struct fake *f = cls;
	struct kvent *e = kv_find(f, bucket, key);

	record(f, "get", bucket, key, NULL, 0);
	if (!e)
		return TL_ENOTFOUND;
	buf_reset(val);
	return buf_append(val, e->val.data, e->val.len);
}

static void
fake_clear_ops(struct fake *f)
{
	for (int i = 0; i < f->nops; i++)
		buf_free(&f->ops[i].data);
	f->nops = 0;
	f->writes = 0;
}

static void
fake_free(struct fake *f)
{
	fake_clear_ops(f);
	for (int i = 0; i < f->nkv; i++)
		buf_free(&f->kv[i].val);
	f->nkv = 0;
}

struct ctx {
	struct fake f;
	struct pipeline p;
	unsigned char vault_sk[32];
	unsigned char keys[64];
	struct route_gazetteer *gaz;
};

static int
setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	assert_int_equal(secret_init(), TL_OK);
	crypto_box_keypair(c->p.vault_pk, c->vault_sk);
	randombytes_buf(c->keys, sizeof(c->keys));
	assert_int_equal(route_gazetteer_load(TL_DATADIR "/tianjin-gazetteer.tsv", &c->gaz), TL_OK);
	c->p.status_key = c->keys;
	c->p.ids_key = c->keys + 32;
	c->p.gaz = c->gaz;
	c->p.bus.cls = &c->f;
	c->p.bus.publish = f_publish;
	c->p.bus.kv_create = f_kv_create;
	c->p.bus.kv_get = f_kv_get;
	c->f.fail_with = TL_EUNAVAIL;
	*state = c;
	return 0;
}

static int
teardown(void **state)
{
	struct ctx *c = *state;

	fake_free(&c->f);
	route_gazetteer_free(c->gaz);
	free(c);
	return 0;
}

static const char TEXT[] = "静海区大邱庄镇有一家地条钢作坊，夜里开工。我叫王小明，电话13912345678。";

static void
report_init(struct report *r)
{
	memset(r, 0, sizeof(*r));
	r->channel = "api";
	r->received_ms = 1795000000000;
	r->text = TEXT;
	r->text_len = strlen(TEXT);
	r->location = "静海区大邱庄镇";
	r->location_len = strlen(r->location);
	r->category = "地条钢";
	r->contact.name = "王小明";
	r->contact.phone = "13912345678";
}

static void
test_happy_path(void **state)
{
	struct ctx *c = *state;
	struct report r;
	struct pipeline_result res;
	struct wire_deposit dep;
	struct wire_lead lead;
	struct wire_identity id;
	struct wire_status st;
	unsigned char *plain;
	char subj[32], mid[64], sk[STATUS_KEY_LEN + 1];

	report_init(&r);
	assert_int_equal(pipeline_submit(&c->p, &r, &res), TL_OK);
	assert_true(id_valid(res.report_id));
	assert_true(district_valid(res.district));
	assert_int_equal(strlen(res.receipt), RECEIPT_DIGITS);
	assert_false(res.replayed);

	/* Exactly: deposit, lead, status create. */
	assert_int_equal(c->f.nops, 3);
	assert_string_equal(c->f.ops[0].kind, "pub");
	assert_string_equal(c->f.ops[0].subject, WIRE_SUBJ_DEPOSIT_REPORT);
	snprintf(mid, sizeof(mid), "dep-%s", res.report_id);
	assert_string_equal(c->f.ops[0].msg_id, mid);
	assert_string_equal(c->f.ops[1].kind, "pub");
	snprintf(subj, sizeof(subj), "tl.lead.%s", res.district);
	assert_string_equal(c->f.ops[1].subject, subj);
	snprintf(mid, sizeof(mid), "lead-%s", res.lead_id);
	assert_string_equal(c->f.ops[1].msg_id, mid);
	assert_string_equal(c->f.ops[2].kind, "create");
	assert_string_equal(c->f.ops[2].subject, WIRE_KV_STATUS);
	receipt_status_key(c->p.status_key, res.receipt, sk);
	assert_string_equal(c->f.ops[2].msg_id, sk);
	assert_int_equal(wire_status_decode(c->f.ops[2].data.data, c->f.ops[2].data.len, &st), TL_OK);
	assert_string_equal(st.status, "received");

	/* Nothing identifying in clear on the bus; the receipt nowhere. */
	for (int i = 0; i < c->f.nops; i++) {
		const char *d = buf_str(&c->f.ops[i].data);
		assert_null(strstr(d, "13912345678"));
		assert_null(strstr(d, "王小明"));
		assert_null(strstr(d, res.receipt));
	}

	/* The deposit opens with the vault key to the whole identity. */
	assert_int_equal(wire_deposit_decode(c->f.ops[0].data.data, c->f.ops[0].data.len, &dep), TL_OK);
	assert_string_equal(dep.report_id, res.report_id);
	assert_string_equal(dep.status_key, sk);
	plain = malloc(dep.sealed_len);
	assert_int_equal(crypto_box_seal_open(plain, dep.sealed, dep.sealed_len, c->p.vault_pk, c->vault_sk), 0);
	assert_int_equal(wire_identity_decode((char *)plain, dep.sealed_len - crypto_box_SEALBYTES, &id), TL_OK);
	assert_string_equal(id.text, TEXT);
	assert_string_equal(id.contact.phone, "13912345678");
	assert_string_equal(id.contact.name, "王小明");
	assert_string_equal(id.report_id, res.report_id);
	wire_identity_free(&id);
	free(plain);
	wire_deposit_free(&dep);

	/* The lead: redacted, routed, counted. */
	assert_int_equal(wire_lead_decode(c->f.ops[1].data.data, c->f.ops[1].data.len, &lead), TL_OK);
	assert_string_equal(lead.report_id, res.report_id);
	assert_string_equal(lead.lead_id, res.lead_id);
	assert_string_equal(lead.district, res.district);
	assert_string_equal(lead.status_key, sk);
	assert_true(lead.has_contact);
	assert_true(lead.redactions[REDACT_MOBILE] >= 1);
	assert_non_null(strstr(lead.text, "地条钢"));
	assert_string_equal(res.district, "120118"); /* 静海 */
	wire_lead_free(&lead);
}

static void
test_explicit_district(void **state)
{
	struct ctx *c = *state;
	struct report r;
	struct pipeline_result res;

	report_init(&r);
	r.district = "120116";
	assert_int_equal(pipeline_submit(&c->p, &r, &res), TL_OK);
	assert_string_equal(res.district, "120116");
	assert_string_equal(res.route_rule, "explicit");
	assert_string_equal(c->f.ops[1].subject, "tl.lead.120116");
}

/* Any failing step: an error, no later step, no receipt. */
static void
test_failures_stop(void **state)
{
	struct ctx *c = *state;
	struct report r;
	struct pipeline_result res;

	for (int at = 1; at <= 3; at++) {
		fake_clear_ops(&c->f);
		c->f.fail_at = at;
		report_init(&r);
		assert_int_equal(pipeline_submit(&c->p, &r, &res), TL_EUNAVAIL);
		assert_int_equal(c->f.nops, at);
		assert_string_equal(res.receipt, "");
	}
	c->f.fail_at = 0;
}

static void
test_invalid_report(void **state)
{
	struct ctx *c = *state;
	struct report r;
	struct pipeline_result res;

	report_init(&r);
	r.district = "999999";
	assert_int_equal(pipeline_submit(&c->p, &r, &res), TL_EINVAL);
	report_init(&r);
	r.channel = "fax";
	assert_int_equal(pipeline_submit(&c->p, &r, &res), TL_EINVAL);
	report_init(&r);
	r.text_len = 0;
	assert_int_equal(pipeline_submit(&c->p, &r, &res), TL_EINVAL);
	assert_int_equal(c->f.nops, 0);
}

static void
test_idempotency(void **state)
{
	struct ctx *c = *state;
	struct report r;
	struct pipeline_result a, b;
	const char *body = "{\"text\":\"same\"}", *other = "{\"text\":\"other\"}";
	int pubs;

	report_init(&r);
	r.idem_key = "retry-123";
	r.idem_key_len = strlen(r.idem_key);
	r.idem_content = body;
	r.idem_content_len = strlen(body);
	assert_int_equal(pipeline_submit(&c->p, &r, &a), TL_OK);
	assert_false(a.replayed);
	/* idem create, deposit, lead, status */
	assert_int_equal(c->f.nops, 4);
	assert_string_equal(c->f.ops[0].kind, "create");
	assert_string_equal(c->f.ops[0].subject, WIRE_KV_IDEM);
	/* The TL_IDEM key is a hash, not the client's key. */
	assert_null(strstr(c->f.ops[0].msg_id, "retry-123"));
	assert_int_equal(strlen(c->f.ops[0].msg_id), 64);
	pubs = c->f.published;

	/* Retry: same receipt and ids, nothing published. */
	fake_clear_ops(&c->f);
	r.received_ms += 1000;
	assert_int_equal(pipeline_submit(&c->p, &r, &b), TL_OK);
	assert_true(b.replayed);
	assert_string_equal(a.receipt, b.receipt);
	assert_string_equal(a.report_id, b.report_id);
	assert_string_equal(a.lead_id, b.lead_id);
	assert_int_equal(c->f.published, pubs);

	/* Same key, other body: refused before any publish. */
	fake_clear_ops(&c->f);
	r.idem_content = other;
	r.idem_content_len = strlen(other);
	assert_int_equal(pipeline_submit(&c->p, &r, &b), TL_ECONFLICT);
	assert_int_equal(c->f.published, pubs);
	for (int i = 0; i < c->f.nops; i++)
		assert_string_not_equal(c->f.ops[i].kind, "pub");

	/* Another channel with the same key is another report. */
	fake_clear_ops(&c->f);
	r.channel = "web";
	assert_int_equal(pipeline_submit(&c->p, &r, &b), TL_OK);
	assert_string_not_equal(a.receipt, b.receipt);
}

/* A retry after a half-finished attempt republishes the same ids (JetStream
 * dedups them) and finishes. */
static void
test_idempotent_resume(void **state)
{
	struct ctx *c = *state;
	struct report r;
	struct pipeline_result a, b;
	const char *body = "{\"text\":\"resume\"}";
	char dep1[128], lead1[128];

	report_init(&r);
	r.idem_key = "resume-1";
	r.idem_key_len = strlen(r.idem_key);
	r.idem_content = body;
	r.idem_content_len = strlen(body);
	fake_clear_ops(&c->f);
	c->f.fail_at = 3; /* idem ok, deposit ok, lead fails */
	assert_int_equal(pipeline_submit(&c->p, &r, &a), TL_EUNAVAIL);
	snprintf(dep1, sizeof(dep1), "%s", c->f.ops[1].msg_id);
	snprintf(lead1, sizeof(lead1), "%s", c->f.ops[2].msg_id);
	c->f.fail_at = 0;
	fake_clear_ops(&c->f);
	assert_int_equal(pipeline_submit(&c->p, &r, &b), TL_OK);
	assert_false(b.replayed);
	/* create (exists) -> get idem -> get status (absent) -> dep -> lead -> status */
	assert_int_equal(c->f.nops, 6);
	assert_string_equal(c->f.ops[3].msg_id, dep1);
	assert_string_equal(c->f.ops[4].msg_id, lead1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_happy_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_explicit_district, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_report, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotency, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotent_resume, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
