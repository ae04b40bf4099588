/*
 * wire_test.c - golden, round-trip and rejection tests for every message
 * in common/wire.c.  The decoders face bytes from the bus as hostile
 * input; each rejection case here is one way a sender could lie.
 */
#include "compat.h"
#include "wire.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>

#define RID "0123456789abcdef0123456789abcdef"
#define LID "fedcba9876543210fedcba9876543210"
#define SKEY "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define T0 "2026-11-27T08:52:01.123Z"
#define T0_MS 1795769521123LL

/* A valid identity message, with one field replaced by the test. */
static const char *identity_ok =
	"{\"v\":1,\"type\":\"identity\",\"report_id\":\"" RID "\",\"channel\":\"wechat\","
	"\"received_at\":\"" T0 "\",\"text\":\"静海有地条钢\",\"location\":\"静海区\","
	"\"channel_msg_id\":\"m1\",\"contact\":{\"name\":\"张三\",\"phone\":\"13800138000\","
	"\"email\":\"z@example.cn\",\"id_number\":\"12010119800101123X\",\"wechat\":\"wxid_z\"}}";

static const char *lead_ok =
	"{\"v\":1,\"type\":\"lead\",\"lead_id\":\"" LID "\",\"report_id\":\"" RID "\","
	"\"district\":\"120118\",\"channel\":\"web\",\"received_at\":\"" T0 "\","
	"\"text\":\"[手机号] 静海有地条钢\",\"status_key\":\"" SKEY "\",\"has_contact\":true,"
	"\"route\":{\"rule\":\"place\",\"confidence\":90},\"redactions\":{\"mobile\":1}}";

static const char *status_ok = "{\"v\":1,\"type\":\"status\",\"status\":\"received\",\"updated_at\":\"" T0 "\"}";

/* ---- helpers ---- */

static char *
replace(const char *src, const char *from, const char *to)
{
	const char *p = strstr(src, from);
	size_t n;
	char *r;

	assert_non_null(p);
	n = strlen(src) - strlen(from) + strlen(to) + 1;
	r = malloc(n);
	assert_non_null(r);
	snprintf(r, n, "%.*s%s%s", (int)(p - src), src, to, p + strlen(from));
	return r;
}

static enum tl_err
dec_identity(const char *s, size_t len)
{
	struct wire_identity m;
	enum tl_err e = wire_identity_decode(s, len, &m);

	if (e == TL_OK)
		wire_identity_free(&m);
	return e;
}

static enum tl_err
dec_lead(const char *s, size_t len)
{
	struct wire_lead m;
	enum tl_err e = wire_lead_decode(s, len, &m);

	if (e == TL_OK)
		wire_lead_free(&m);
	return e;
}

static enum tl_err
dec_status(const char *s, size_t len)
{
	struct wire_status m;

	return wire_status_decode(s, len, &m);
}

static enum tl_err
dec_deposit(const char *s, size_t len)
{
	struct wire_deposit m;
	enum tl_err e = wire_deposit_decode(s, len, &m);

	if (e == TL_OK)
		wire_deposit_free(&m);
	return e;
}

typedef enum tl_err (*decoder)(const char *, size_t);

/* Replacing from by to in good must make dec reject it. */
static void
reject(decoder dec, const char *good, const char *from, const char *to)
{
	char *bad = replace(good, from, to);
	enum tl_err e = dec(bad, strlen(bad));

	if (e == TL_OK)
		fail_msg("accepted: %s", bad);
	assert_int_equal(e, TL_EPROTO);
	free(bad);
}

static void
accept(decoder dec, const char *good, const char *from, const char *to)
{
	char *s = replace(good, from, to);
	enum tl_err e = dec(s, strlen(s));

	if (e != TL_OK)
		fail_msg("rejected (%s): %s", tl_strerror(e), s);
	free(s);
}

/* A JSON string value of n bytes of 'x' (or of a multi-byte char). */
static char *
long_string(size_t n, const char *unit)
{
	size_t ul = strlen(unit), count = n / ul;
	char *s = malloc(count * ul + 3);

	assert_non_null(s);
	s[0] = '"';
	for (size_t i = 0; i < count; i++)
		memcpy(s + 1 + i * ul, unit, ul);
	s[1 + count * ul] = '"';
	s[2 + count * ul] = '\0';
	return s;
}

/* ---- golden ---- */

static void
test_golden_identity_decode(void **state)
{
	struct wire_identity m;

	assert_int_equal(wire_identity_decode(identity_ok, strlen(identity_ok), &m), TL_OK);
	assert_string_equal(m.report_id, RID);
	assert_string_equal(m.channel, "wechat");
	assert_int_equal(m.received_ms, T0_MS);
	assert_string_equal(m.text, "静海有地条钢");
	assert_string_equal(m.location, "静海区");
	assert_string_equal(m.channel_msg_id, "m1");
	assert_string_equal(m.contact.name, "张三");
	assert_string_equal(m.contact.phone, "13800138000");
	assert_string_equal(m.contact.email, "z@example.cn");
	assert_string_equal(m.contact.id_number, "12010119800101123X");
	assert_string_equal(m.contact.wechat, "wxid_z");
	wire_identity_free(&m);
	assert_null(m.text);
	assert_null(m.contact.name);
}

static void
test_golden_encode(void **state)
{
	struct wire_status st = { .status = "verified", .updated_ms = T0_MS };
	struct wire_identity id;
	struct buf b;

	buf_init(&b, WIRE_MAX_MSG);
	assert_int_equal(wire_status_encode(&st, &b), TL_OK);
	assert_string_equal(buf_str(&b),
	                    "{\"v\":1,\"type\":\"status\",\"status\":\"verified\",\"updated_at\":\"" T0 "\"}");

	memset(&id, 0, sizeof(id));
	memcpy(id.report_id, RID, sizeof(id.report_id));
	memcpy(id.channel, "web", 4);
	id.received_ms = T0_MS;
	id.text = (char *)"t";
	id.contact.phone = (char *)"13800138000";
	assert_int_equal(wire_identity_encode(&id, &b), TL_OK);
	/* Absent fields are omitted, not null; the contact object is always there. */
	assert_string_equal(buf_str(&b),
	                    "{\"v\":1,\"type\":\"identity\",\"report_id\":\"" RID "\",\"channel\":\"web\","
	                    "\"received_at\":\"" T0 "\",\"text\":\"t\",\"contact\":{\"phone\":\"13800138000\"}}");
	buf_free(&b);
}

/* ---- round trips ---- */

static void
test_roundtrip_identity(void **state)
{
	struct wire_identity a, b;
	struct buf out;

	assert_int_equal(wire_identity_decode(identity_ok, strlen(identity_ok), &a), TL_OK);
	buf_init_secret(&out, WIRE_MAX_MSG);
	assert_int_equal(wire_identity_encode(&a, &out), TL_OK);
	assert_int_equal(wire_identity_decode(out.data, out.len, &b), TL_OK);
	assert_string_equal(a.report_id, b.report_id);
	assert_string_equal(a.channel, b.channel);
	assert_int_equal(a.received_ms, b.received_ms);
	assert_string_equal(a.text, b.text);
	assert_string_equal(a.location, b.location);
	assert_string_equal(a.channel_msg_id, b.channel_msg_id);
	assert_string_equal(a.contact.name, b.contact.name);
	assert_string_equal(a.contact.phone, b.contact.phone);
	assert_string_equal(a.contact.email, b.contact.email);
	assert_string_equal(a.contact.id_number, b.contact.id_number);
	assert_string_equal(a.contact.wechat, b.contact.wechat);
	wire_identity_free(&a);
	wire_identity_free(&b);
	buf_free(&out);
}

static void
test_roundtrip_deposit(void **state)
{
	struct wire_deposit a, b;
	unsigned char sealed[200];
	struct buf out;

	memset(&a, 0, sizeof(a));
	memcpy(a.report_id, RID, sizeof(a.report_id));
	memcpy(a.channel, "hotline", 8);
	memcpy(a.status_key, SKEY, sizeof(a.status_key));
	a.received_ms = T0_MS;
	randombytes_buf(sealed, sizeof(sealed));
	a.sealed = sealed;
	a.sealed_len = sizeof(sealed);
	buf_init(&out, WIRE_MAX_MSG);
	assert_int_equal(wire_deposit_encode(&a, &out), TL_OK);
	assert_int_equal(wire_deposit_decode(out.data, out.len, &b), TL_OK);
	assert_string_equal(b.report_id, RID);
	assert_string_equal(b.channel, "hotline");
	assert_string_equal(b.status_key, SKEY);
	assert_int_equal(b.received_ms, T0_MS);
	assert_int_equal(b.sealed_len, sizeof(sealed));
	assert_memory_equal(b.sealed, sealed, sizeof(sealed));
	wire_deposit_free(&b);
	assert_null(b.sealed);
	/* An empty sealed box cannot be encoded. */
	a.sealed_len = 0;
	assert_int_not_equal(wire_deposit_encode(&a, &out), TL_OK);
	buf_free(&out);
}

static void
test_roundtrip_lead(void **state)
{
	struct wire_lead a, b;
	struct buf out;

	assert_int_equal(wire_lead_decode(lead_ok, strlen(lead_ok), &a), TL_OK);
	assert_string_equal(a.district, "120118");
	assert_int_equal(a.redactions[REDACT_MOBILE], 1);
	assert_int_equal(a.route_confidence, 90);
	assert_true(a.has_contact);
	assert_null(a.location);
	a.location = strdup("静海区[已删除]");
	a.category = strdup("steel");
	a.redactions[REDACT_EMAIL] = 3;
	buf_init(&out, WIRE_MAX_MSG);
	assert_int_equal(wire_lead_encode(&a, &out), TL_OK);
	assert_int_equal(wire_lead_decode(out.data, out.len, &b), TL_OK);
	assert_string_equal(a.lead_id, b.lead_id);
	assert_string_equal(a.report_id, b.report_id);
	assert_string_equal(a.district, b.district);
	assert_string_equal(a.channel, b.channel);
	assert_int_equal(a.received_ms, b.received_ms);
	assert_string_equal(a.text, b.text);
	assert_string_equal(a.location, b.location);
	assert_string_equal(a.category, b.category);
	assert_string_equal(a.route_rule, b.route_rule);
	assert_int_equal(a.route_confidence, b.route_confidence);
	assert_memory_equal(a.redactions, b.redactions, sizeof(a.redactions));
	assert_int_equal(a.has_contact, b.has_contact);
	assert_string_equal(a.status_key, b.status_key);
	wire_lead_free(&a);
	wire_lead_free(&b);
	buf_free(&out);
}

static void
test_roundtrip_status(void **state)
{
	static const char *all[] = { "received", "investigating", "verified", "unfounded" };
	struct wire_status a = { 0 }, b;
	struct buf out;

	buf_init(&out, 4096);
	for (size_t i = 0; i < TL_ARRAY_LEN(all); i++) {
		snprintf(a.status, sizeof(a.status), "%s", all[i]);
		a.updated_ms = T0_MS + (int64_t)i;
		assert_int_equal(wire_status_encode(&a, &out), TL_OK);
		assert_int_equal(wire_status_decode(out.data, out.len, &b), TL_OK);
		assert_string_equal(a.status, b.status);
		assert_int_equal(a.updated_ms, b.updated_ms);
	}
	snprintf(a.status, sizeof(a.status), "hacked");
	assert_int_not_equal(wire_status_encode(&a, &out), TL_OK);
	buf_free(&out);
}

/* ---- rejections ---- */

static void
test_reject_version_and_type(void **state)
{
	reject(dec_identity, identity_ok, "\"v\":1", "\"v\":2");
	reject(dec_identity, identity_ok, "\"v\":1", "\"v\":\"1\"");
	reject(dec_identity, identity_ok, "\"v\":1", "\"v\":1.0");
	reject(dec_identity, identity_ok, "\"v\":1,", "");
	reject(dec_identity, identity_ok, "\"type\":\"identity\"", "\"type\":\"deposit\"");
	reject(dec_identity, identity_ok, "\"type\":\"identity\",", "");
	reject(dec_lead, lead_ok, "\"v\":1", "\"v\":0");
	reject(dec_lead, lead_ok, "\"type\":\"lead\"", "\"type\":\"Lead\"");
	reject(dec_status, status_ok, "\"v\":1", "\"v\":null");
	reject(dec_status, status_ok, "\"type\":\"status\"", "\"type\":\"identity\"");
	/* a valid message of another type is not this type */
	assert_int_equal(dec_lead(status_ok, strlen(status_ok)), TL_EPROTO);
	assert_int_equal(dec_deposit(identity_ok, strlen(identity_ok)), TL_EPROTO);
}

static void
test_reject_duplicate_keys(void **state)
{
	reject(dec_lead, lead_ok, "\"district\":\"120118\"",
	       "\"district\":\"120118\",\"district\":\"120000\"");
	reject(dec_identity, identity_ok, "\"v\":1", "\"v\":1,\"v\":1");
	reject(dec_identity, identity_ok, "\"name\":\"张三\"", "\"name\":\"张三\",\"name\":\"x\"");
}

static void
test_reject_syntax(void **state)
{
	static const char *bad[] = { "", "[]", "null", "1", "\"x\"", "{", "{}", "{\"v\":1}" };

	for (size_t i = 0; i < TL_ARRAY_LEN(bad); i++) {
		assert_int_equal(dec_identity(bad[i], strlen(bad[i])), TL_EPROTO);
		assert_int_equal(dec_deposit(bad[i], strlen(bad[i])), TL_EPROTO);
		assert_int_equal(dec_lead(bad[i], strlen(bad[i])), TL_EPROTO);
		assert_int_equal(dec_status(bad[i], strlen(bad[i])), TL_EPROTO);
	}
	/* trailing garbage after the object */
	reject(dec_status, status_ok, "\"}", "\"} x");
	reject(dec_status, status_ok, "\"}", "\"}{}");
	/* a length that cuts the message short */
	assert_int_equal(dec_status(status_ok, strlen(status_ok) - 1), TL_EPROTO);
}

static void
test_reject_bad_ids(void **state)
{
	reject(dec_identity, identity_ok, RID, "0123456789ABCDEF0123456789ABCDEF");
	reject(dec_identity, identity_ok, RID, "0123456789abcdef0123456789abcde");
	reject(dec_identity, identity_ok, RID, "0123456789abcdef0123456789abcdef0");
	reject(dec_identity, identity_ok, RID, "0123456789abcdef0123456789abcdeg");
	reject(dec_identity, identity_ok, "\"" RID "\"", "12345");
	reject(dec_lead, lead_ok, LID, "../../etc/passwd0123456789abcdef");
	reject(dec_lead, lead_ok, SKEY, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	reject(dec_lead, lead_ok, SKEY, "aaaa");
}

static void
test_reject_district_channel(void **state)
{
	reject(dec_lead, lead_ok, "120118", "120199");
	reject(dec_lead, lead_ok, "120118", "12011");
	reject(dec_lead, lead_ok, "120118", "1201180");
	reject(dec_lead, lead_ok, "\"120118\"", "120118");
	reject(dec_lead, lead_ok, "120118", "120223"); /* retired 静海县 code */
	accept(dec_lead, lead_ok, "120118", "120000");
	reject(dec_lead, lead_ok, "\"channel\":\"web\"", "\"channel\":\"sms\"");
	reject(dec_lead, lead_ok, "\"channel\":\"web\"", "\"channel\":\"WEB\"");
	reject(dec_identity, identity_ok, "\"channel\":\"wechat\"", "\"channel\":\"wechatwechatwechat\"");
	reject(dec_identity, identity_ok, "\"channel\":\"wechat\"", "\"channel\":\"\"");
	assert_true(wire_channel_valid("email"));
	assert_false(wire_channel_valid("fax"));
}

static void
test_reject_types_and_ranges(void **state)
{
	reject(dec_identity, identity_ok, "\"text\":\"静海有地条钢\"", "\"text\":42");
	reject(dec_identity, identity_ok, "\"text\":\"静海有地条钢\",", "");
	reject(dec_identity, identity_ok, "\"contact\":{", "\"contact\":[],\"x\":{");
	reject(dec_identity, identity_ok, "\"phone\":\"13800138000\"", "\"phone\":13800138000");
	reject(dec_identity, identity_ok, T0, "2026-11-27 08:52:01");
	reject(dec_identity, identity_ok, T0, "2026-11-27T08:52:01+08:00");
	reject(dec_lead, lead_ok, "\"has_contact\":true", "\"has_contact\":1");
	reject(dec_lead, lead_ok, "\"confidence\":90", "\"confidence\":101");
	reject(dec_lead, lead_ok, "\"confidence\":90", "\"confidence\":-1");
	reject(dec_lead, lead_ok, "\"mobile\":1", "\"mobile\":-1");
	reject(dec_lead, lead_ok, "\"mobile\":1", "\"mobile\":\"1\"");
	reject(dec_lead, lead_ok, "\"route\":{\"rule\":\"place\",\"confidence\":90}", "\"route\":null");
	reject(dec_lead, lead_ok, "\"rule\":\"place\"", "\"rule\":\"aaaaaaaaaaaaaaaaaaaa\"");
	reject(dec_status, status_ok, "received", "hacked");
	/* optional fields may be null or absent */
	accept(dec_identity, identity_ok, "\"location\":\"静海区\"", "\"location\":null");
	accept(dec_identity, identity_ok, "\"location\":\"静海区\",", "");
	accept(dec_identity, identity_ok, "\"channel_msg_id\":\"m1\",\"contact\":{\"name\":\"张三\",",
	       "\"contact\":{");
}

static void
test_reject_oversize(void **state)
{
	char *big, *msg, *frm;

	/* text: the limit is accepted, one byte more is not */
	big = long_string(WIRE_MAX_TEXT_BYTES, "x");
	accept(dec_identity, identity_ok, "\"静海有地条钢\"", big);
	free(big);
	big = long_string(WIRE_MAX_TEXT_BYTES + 1, "x");
	reject(dec_identity, identity_ok, "\"静海有地条钢\"", big);
	free(big);
	/* contact fields, counted in bytes (3 per CJK character) */
	big = long_string(WIRE_MAX_FIELD_BYTES + 3, "张");
	reject(dec_identity, identity_ok, "\"张三\"", big);
	free(big);
	big = long_string(WIRE_MAX_MSGID_BYTES + 1, "m");
	reject(dec_identity, identity_ok, "\"m1\"", big);
	free(big);
	big = long_string(WIRE_MAX_FIELD_BYTES + 1, "c");
	frm = replace(lead_ok, "\"has_contact\"", "\"category\":X,\"has_contact\"");
	msg = replace(frm, "X", big);
	assert_int_equal(dec_lead(msg, strlen(msg)), TL_EPROTO);
	free(msg);
	free(frm);
	free(big);
	/* the whole message */
	big = long_string(WIRE_MAX_MSG, "x");
	reject(dec_status, status_ok, "\"received\"", big);
	free(big);
	assert_int_equal(dec_status(status_ok, WIRE_MAX_MSG + 1), TL_EPROTO);
}

static void
test_reject_bad_utf8_and_nul(void **state)
{
	struct wire_identity id;
	struct buf b;

	reject(dec_identity, identity_ok, "静海有地条钢", "\xe9\x9d");      /* truncated */
	reject(dec_identity, identity_ok, "静海有地条钢", "\xff\xfe");      /* never valid */
	reject(dec_identity, identity_ok, "静海有地条钢", "\xc0\xaf");      /* overlong '/' */
	reject(dec_identity, identity_ok, "静海有地条钢", "\xed\xa0\x80");  /* surrogate */
	reject(dec_identity, identity_ok, "静海有地条钢", "a\\u0000b");     /* NUL escape */
	reject(dec_identity, identity_ok, "张三", "\\ud800");               /* lone surrogate escape */
	reject(dec_lead, lead_ok, "静海有地条钢", "\x80");
	/* a raw NUL byte inside the message */
	{
		char raw[64] = "{\"v\":1,\"type\":\"status\",\"status\":\"rec";
		size_t n = strlen(raw);
		raw[n++] = '\0';
		memcpy(raw + n, "eived\"}", 8);
		assert_int_equal(dec_status(raw, n + 7), TL_EPROTO);
	}
	/* Encoding refuses invalid UTF-8 instead of publishing it. */
	memset(&id, 0, sizeof(id));
	memcpy(id.report_id, RID, sizeof(id.report_id));
	memcpy(id.channel, "web", 4);
	id.text = (char *)"bad \xff text";
	buf_init(&b, WIRE_MAX_MSG);
	assert_int_not_equal(wire_identity_encode(&id, &b), TL_OK);
	buf_free(&b);
}

static void
test_reject_bad_sealed(void **state)
{
	struct wire_deposit a;
	unsigned char sealed[crypto_box_SEALBYTES + 1];
	struct buf out;
	char *good;

	memset(&a, 0, sizeof(a));
	memcpy(a.report_id, RID, sizeof(a.report_id));
	memcpy(a.channel, "web", 4);
	memcpy(a.status_key, SKEY, sizeof(a.status_key));
	a.received_ms = T0_MS;
	memset(sealed, 7, sizeof(sealed));
	a.sealed = sealed;
	a.sealed_len = sizeof(sealed);
	buf_init(&out, WIRE_MAX_MSG);
	assert_int_equal(wire_deposit_encode(&a, &out), TL_OK);
	assert_int_equal(dec_deposit(out.data, out.len), TL_OK);
	good = strdup(out.data);
	/* not base64, base64 with spaces, empty, a number */
	reject(dec_deposit, good, "\"sealed\":\"", "\"sealed\":\"!!!!");
	reject(dec_deposit, good, "\"sealed\":\"", "\"sealed\":\"BwcH BwcH");
	reject(dec_deposit, good, "\"sealed\":\"", "\"sealed\":\"\",\"x\":\"");
	reject(dec_deposit, good, "\"status_key\":\"", "\"status_key\":\"A");
	free(good);
	/* a box too short to hold anything */
	a.sealed_len = crypto_box_SEALBYTES;
	assert_int_equal(wire_deposit_encode(&a, &out), TL_OK);
	assert_int_equal(dec_deposit(out.data, out.len), TL_EPROTO);
	buf_free(&out);
}

static void
test_subjects(void **state)
{
	char s[32];

	assert_int_equal(wire_subject_lead("120116", s, sizeof(s)), TL_OK);
	assert_string_equal(s, "tl.lead.120116");
	assert_int_equal(wire_subject_lead("120000", s, sizeof(s)), TL_OK);
	assert_int_equal(wire_subject_lead("*", s, sizeof(s)), TL_EINVAL);
	assert_int_equal(wire_subject_lead(">", s, sizeof(s)), TL_EINVAL);
	assert_int_equal(wire_subject_lead("120116.x", s, sizeof(s)), TL_EINVAL);
	assert_int_equal(wire_subject_lead("120116", s, 8), TL_ETOOBIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_identity_decode),
		cmocka_unit_test(test_golden_encode),
		cmocka_unit_test(test_roundtrip_identity),
		cmocka_unit_test(test_roundtrip_deposit),
		cmocka_unit_test(test_roundtrip_lead),
		cmocka_unit_test(test_roundtrip_status),
		cmocka_unit_test(test_reject_version_and_type),
		cmocka_unit_test(test_reject_duplicate_keys),
		cmocka_unit_test(test_reject_syntax),
		cmocka_unit_test(test_reject_bad_ids),
		cmocka_unit_test(test_reject_district_channel),
		cmocka_unit_test(test_reject_types_and_ranges),
		cmocka_unit_test(test_reject_oversize),
		cmocka_unit_test(test_reject_bad_utf8_and_nul),
		cmocka_unit_test(test_reject_bad_sealed),
		cmocka_unit_test(test_subjects),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
