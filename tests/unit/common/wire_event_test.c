/*
 * wire_event_test.c - the district messages in common/wire.c: case events,
 * TL_CLAIMS values and transfer offers/replies.  Round trips for every
 * event type, then one rejection per way a sender could lie.
 */
#include "compat.h"
#include "wire.h"

#include <dirent.h>
#include <setjmp.h>
#include <cmocka.h>

#define LID "fedcba9876543210fedcba9876543210"
#define OID "0123456789abcdef0123456789abcdef"
#define T0_MS 1795769521123LL
#define HDR "{\"v\":1,\"type\":\"event\",\"ev\":1,\"event_id\":\"" LID ":ab:3\",\"lead_id\":\"" LID "\"," \
	    "\"district\":\"120118\",\"seq\":3,\"at\":\"2026-11-27T08:52:01.123Z\",\"role\":\"supervisor\","

static void
base(struct wire_event *e, enum wire_event_type t)
{
	memset(e, 0, sizeof(*e));
	e->type = t;
	snprintf(e->event_id, sizeof(e->event_id), "%s:0011223344556677:%d", LID, 3);
	memcpy(e->lead_id, LID, sizeof(e->lead_id));
	snprintf(e->district, sizeof(e->district), "120118");
	e->seq = 3;
	e->at_ms = T0_MS;
	snprintf(e->actor, sizeof(e->actor), "resp.li");
	snprintf(e->role, sizeof(e->role), "responder");
	snprintf(e->holder, sizeof(e->holder), "resp.li");
	snprintf(e->prev_holder, sizeof(e->prev_holder), "resp.wang");
	e->lease_until_ms = T0_MS + 1000;
	e->reason = "stalled for a week";
	snprintf(e->from_district, sizeof(e->from_district), "120118");
	snprintf(e->to_district, sizeof(e->to_district), "120116");
	snprintf(e->reason_code, sizeof(e->reason_code), "site_elsewhere");
	e->transfer_n = 1;
	e->deadline_ms = T0_MS + 2000;
	snprintf(e->agency, sizeof(e->agency), "grid");
	snprintf(e->check, sizeof(e->check), "power_use");
	snprintf(e->result, sizeof(e->result), "confirmed");
	e->checked_ms = T0_MS - 1000;
	e->evidence_count = 2;
	memcpy(e->other_lead, OID, sizeof(e->other_lead));
	e->substantiated = true;
	e->furnaces = 2;
	e->capacity_tpy = 30000;
	snprintf(e->production, sizeof(e->production), "running");
	e->seized_kg = 5000;
	e->fines_fen = 123456789;
	e->agencies = 2;
	e->first_received_ms = T0_MS - 5000;
	snprintf(e->step, sizeof(e->step), "claim");
}

static void
test_roundtrip_every_type(void **state)
{
	(void)state;
	for (int t = 0; t < WIRE_EV_NTYPES_; t++) {
		struct wire_event e, d;
		struct buf b;
		char subj[160];

		base(&e, (enum wire_event_type)t);
		buf_init(&b, WIRE_MAX_MSG);
		assert_int_equal(wire_event_encode(&e, &b), TL_OK);
		assert_int_equal(wire_event_decode(b.data, b.len, &d), TL_OK);
		assert_int_equal(d.type, t);
		assert_string_equal(d.event_id, e.event_id);
		assert_int_equal(d.seq, 3);
		assert_int_equal(d.at_ms, T0_MS);
		assert_string_equal(d.actor, "resp.li");
		if (t == WIRE_EV_VERDICT) {
			assert_true(d.substantiated);
			assert_int_equal(d.fines_fen, 123456789);
			assert_int_equal(d.capacity_tpy, 30000);
		}
		if (t == WIRE_EV_TAKEN_OVER)
			assert_string_equal(d.reason, "stalled for a week");
		if (t == WIRE_EV_CLAIMED)
			assert_null(strstr(b.data, "reason")); /* fields of other types stay out */
		wire_event_free(&d);
		buf_free(&b);
		assert_int_equal(wire_subject_event("120118", LID, (enum wire_event_type)t, subj, sizeof(subj)), TL_OK);
		assert_int_equal(strncmp(subj, "tl.event.120118." LID ".", 16 + 33), 0);
		assert_string_equal(subj + 16 + 33, wire_event_type_name((enum wire_event_type)t));
	}
}

static void
test_encode_refuses_invalid(void **state)
{
	struct wire_event e;
	struct buf b;

	(void)state;
	buf_init(&b, WIRE_MAX_MSG);
	base(&e, WIRE_EV_TAKEN_OVER);
	e.reason = NULL; /* a takeover needs its reason */
	assert_int_not_equal(wire_event_encode(&e, &b), TL_OK);
	base(&e, WIRE_EV_VERDICT);
	e.substantiated = false;
	e.agencies = 1; /* unfounded needs a second agency */
	snprintf(e.signed_off_by, sizeof(e.signed_off_by), "sup.zhang");
	assert_int_not_equal(wire_event_encode(&e, &b), TL_OK);
	e.agencies = 2;
	assert_int_equal(wire_event_encode(&e, &b), TL_OK);
	e.signed_off_by[0] = '\0'; /* and a supervisor */
	assert_int_not_equal(wire_event_encode(&e, &b), TL_OK);
	base(&e, WIRE_EV_FINDING_RECORDED);
	snprintf(e.agency, sizeof(e.agency), "mafia");
	assert_int_not_equal(wire_event_encode(&e, &b), TL_OK);
	base(&e, WIRE_EV_CLAIMED);
	snprintf(e.actor, sizeof(e.actor), "bad actor");
	assert_int_not_equal(wire_event_encode(&e, &b), TL_OK);
	base(&e, WIRE_EV_VERDICT);
	e.fines_fen = -1;
	assert_int_not_equal(wire_event_encode(&e, &b), TL_OK);
	buf_free(&b);
}

static enum tl_err
dec(const char *s)
{
	struct wire_event e;
	enum tl_err r = wire_event_decode(s, strlen(s), &e);

	if (r == TL_OK)
		wire_event_free(&e);
	return r;
}

static void
test_decode_rejects(void **state)
{
	(void)state;
	assert_int_equal(dec(HDR "\"event\":\"opened\"}"), TL_OK);
	assert_int_equal(dec(HDR "\"event\":\"opened\",\"x\":1}"), TL_EPROTO);      /* unknown key */
	assert_int_equal(dec(HDR "\"event\":\"exploded\"}"), TL_EPROTO);            /* unknown type */
	assert_int_equal(dec(HDR "\"event\":\"taken_over\",\"holder\":\"a\",\"lease_until\":"
	                         "\"2026-11-27T08:52:01.123Z\"}"), TL_EPROTO);      /* no reason */
	assert_int_equal(dec(HDR "\"event\":\"taken_over\",\"holder\":\"a\",\"reason\":\"\",\"lease_until\":"
	                         "\"2026-11-27T08:52:01.123Z\"}"), TL_EPROTO);      /* empty reason */
	assert_int_equal(dec(HDR "\"event\":\"transfer_requested\",\"from\":\"120118\",\"to\":\"120118\","
	                         "\"reason_code\":\"other\",\"transfer_n\":1,\"deadline\":"
	                         "\"2026-11-27T08:52:01.123Z\"}"), TL_EPROTO);      /* to itself */
	assert_int_equal(dec(HDR "\"event\":\"verdict\",\"verdict\":\"unfounded\",\"agencies\":1,"
	                         "\"signed_off_by\":\"s\",\"first_received_at\":\"2026-11-27T08:52:01.123Z\"}"),
	                 TL_EPROTO);                                                /* one agency */
	assert_int_equal(dec(HDR "\"event\":\"verdict\",\"verdict\":\"unfounded\",\"agencies\":2,"
	                         "\"signed_off_by\":\"s\",\"first_received_at\":\"2026-11-27T08:52:01.123Z\"}"),
	                 TL_OK);
	assert_int_equal(dec(HDR "\"event\":\"verdict\",\"verdict\":\"substantiated\",\"agencies\":1,"
	                         "\"first_received_at\":\"2026-11-27T08:52:01.123Z\",\"furnaces\":1,"
	                         "\"capacity_tpy\":1,\"production\":\"running\",\"seized_kg\":0,"
	                         "\"fines_fen\":1.5}"), TL_EPROTO);                 /* fen is an integer */
	assert_int_equal(dec(HDR "\"event\":\"merged\",\"other_lead\":\"" LID "\"}"), TL_EPROTO); /* itself */
	assert_int_equal(dec(HDR "\"event\":\"overdue\",\"step\":\"nap\",\"deadline\":"
	                         "\"2026-11-27T08:52:01.123Z\"}"), TL_EPROTO);
	/* event_id must belong to the lead */
	assert_int_equal(dec("{\"v\":1,\"type\":\"event\",\"ev\":1,\"event_id\":\"" OID ":ab:3\",\"lead_id\":\""
	                     LID "\",\"district\":\"120118\",\"seq\":3,\"at\":\"2026-11-27T08:52:01.123Z\","
	                     "\"role\":\"system\",\"event\":\"opened\"}"), TL_EPROTO);
	assert_int_equal(dec("{\"v\":1,\"type\":\"event\",\"ev\":2,\"event_id\":\"" LID ":ab:3\",\"lead_id\":\""
	                     LID "\",\"district\":\"120118\",\"seq\":3,\"at\":\"2026-11-27T08:52:01.123Z\","
	                     "\"role\":\"system\",\"event\":\"opened\"}"), TL_EPROTO);   /* schema v2 */
	assert_int_equal(dec("{\"v\":1,\"type\":\"event\",\"ev\":1,\"event_id\":\"" LID ":ab:3\",\"lead_id\":\""
	                     LID "\",\"district\":\"120199\",\"seq\":3,\"at\":\"2026-11-27T08:52:01.123Z\","
	                     "\"role\":\"system\",\"event\":\"opened\"}"), TL_EPROTO);   /* district */
}

static void
test_subjects_and_keys(void **state)
{
	char s[160];

	(void)state;
	assert_int_equal(wire_subject_xfer("120116", "120118", LID, s, sizeof(s)), TL_OK);
	assert_string_equal(s, "tl.xfer.120116.120118." LID);
	assert_int_equal(wire_subject_xfer("120116", "120116", LID, s, sizeof(s)), TL_EINVAL);
	assert_int_equal(wire_subject_xfer("120116", "999999", LID, s, sizeof(s)), TL_EINVAL);
	assert_int_equal(wire_subject_event("120116", "*", WIRE_EV_OPENED, s, sizeof(s)), TL_EINVAL);
	assert_int_equal(wire_claim_key("120116", LID, s, sizeof(s)), TL_OK);
	assert_string_equal(s, "120116." LID);
	assert_int_equal(wire_claim_key("120116", LID, s, 10), TL_ETOOBIG);
	assert_true(wire_actor_valid("resp.li@jinghai"));
	assert_false(wire_actor_valid("a b"));
	assert_false(wire_actor_valid(""));
	assert_false(wire_actor_valid("tl.event.>"  "x*"));
}

static void
test_claim_and_xfer(void **state)
{
	struct wire_claim c, dc;
	struct wire_xfer x, dx;
	struct buf b;

	(void)state;
	buf_init(&b, WIRE_MAX_MSG);
	memset(&c, 0, sizeof(c));
	memcpy(c.lead_id, LID, sizeof(c.lead_id));
	snprintf(c.district, sizeof(c.district), "120118");
	c.held = true;
	snprintf(c.holder, sizeof(c.holder), "resp.li");
	c.since_ms = T0_MS;
	c.expires_ms = T0_MS + 3600000;
	assert_int_equal(wire_claim_encode(&c, &b), TL_OK);
	assert_int_equal(wire_claim_decode(b.data, b.len, &dc), TL_OK);
	assert_true(dc.held);
	assert_int_equal(dc.expires_ms, c.expires_ms);
	c.held = false;
	assert_int_equal(wire_claim_encode(&c, &b), TL_OK);
	assert_null(strstr(b.data, "holder"));
	assert_int_equal(wire_claim_decode(b.data, b.len, &dc), TL_OK);
	assert_false(dc.held);
	{
		const char *no_holder = "{\"v\":1,\"type\":\"claim\",\"lead_id\":\"" LID "\",\"district\":"
		                        "\"120118\",\"held\":true}";
		assert_int_equal(wire_claim_decode(no_holder, strlen(no_holder), &dc), TL_EPROTO);
	}

	memset(&x, 0, sizeof(x));
	memcpy(x.lead_id, LID, sizeof(x.lead_id));
	snprintf(x.from_district, sizeof(x.from_district), "120118");
	snprintf(x.to_district, sizeof(x.to_district), "120116");
	x.transfer_n = 2;
	x.at_ms = T0_MS;
	snprintf(x.actor, sizeof(x.actor), "resp.li");
	snprintf(x.reason_code, sizeof(x.reason_code), "wrong_district");
	x.deadline_ms = T0_MS + 1;
	x.clock_start_ms = T0_MS - 1;
	x.lead = "{\"v\":1}";
	assert_int_equal(wire_xfer_encode(&x, &b), TL_OK);
	assert_int_equal(wire_xfer_decode(b.data, b.len, &dx), TL_OK);
	assert_false(dx.reply);
	assert_string_equal(dx.lead, "{\"v\":1}");
	assert_int_equal(dx.clock_start_ms, T0_MS - 1);
	wire_xfer_free(&dx);
	x.reply = true;
	x.accepted = true;
	assert_int_equal(wire_xfer_encode(&x, &b), TL_OK);
	assert_null(strstr(b.data, "\"lead\""));
	assert_int_equal(wire_xfer_decode(b.data, b.len, &dx), TL_OK);
	assert_true(dx.reply);
	assert_true(dx.accepted);
	wire_xfer_free(&dx);
	/* A reply may not smuggle an offer's fields, nor an offer miss its lead. */
	{
		const char *smuggle = "{\"v\":1,\"type\":\"xfer_reply\",\"lead_id\":\"" LID "\",\"from\":\"120118\","
		                      "\"to\":\"120116\",\"transfer_n\":1,\"at\":\"2026-11-27T08:52:01.123Z\","
		                      "\"actor\":\"a\",\"accepted\":true,\"lead\":\"x\"}";
		assert_int_equal(wire_xfer_decode(smuggle, strlen(smuggle), &dx), TL_EPROTO);
	}
	x.reply = false;
	x.lead = NULL;
	assert_int_not_equal(wire_xfer_encode(&x, &b), TL_OK);
	buf_free(&b);
}

/* The fuzz seeds must be what they claim: good_*.json decode, bad_* do not
 * (ctest runs from the source root). */
static void
test_fuzz_corpus_seeds(void **state)
{
	const char *dir = "tests/fuzz/corpus/wireevent";
	DIR *d = opendir(dir);
	struct dirent *de;
	int checked = 0;

	(void)state;
	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[512], buf[8192];
		struct wire_event e;
		struct wire_claim c;
		struct wire_xfer x;
		size_t n;
		bool ok;
		FILE *f;

		if (!strstr(de->d_name, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		assert_non_null(f = fopen(path, "r"));
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		ok = false;
		if (wire_event_decode(buf, n, &e) == TL_OK) {
			ok = true;
			wire_event_free(&e);
		}
		if (wire_claim_decode(buf, n, &c) == TL_OK)
			ok = true;
		if (wire_xfer_decode(buf, n, &x) == TL_OK) {
			ok = true;
			wire_xfer_free(&x);
		}
		if (ok != (strncmp(de->d_name, "bad_", 4) != 0))
			fail_msg("%s: decodes=%d", de->d_name, ok);
		checked++;
	}
	closedir(d);
	assert_true(checked >= 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_type),
		cmocka_unit_test(test_encode_refuses_invalid),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_subjects_and_keys),
		cmocka_unit_test(test_claim_and_xfer),
		cmocka_unit_test(test_fuzz_corpus_seeds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
