#include "compat.h"
#include "wire.h"
#include "district.h"
#include "timefmt.h"
#include "utf8.h"

#include <jansson.h>
#include <sodium.h>

static const char *const channels[] = { "web", "api", "hotline", "email", "wechat" };

bool
wire_channel_valid(const char *ch)
{
	for (size_t i = 0; i < TL_ARRAY_LEN(channels); i++)
		if (strcmp(ch, channels[i]) == 0)
			return true;
	return false;
}

enum tl_err
wire_subject_lead(const char *district, char *out, size_t outlen)
{
	if (!district_valid(district))
		return TL_EINVAL;
	if ((size_t)snprintf(out, outlen, "tl.lead.%s", district) >= outlen)
		return TL_ETOOBIG;
	return TL_OK;
}

/* ---- encoding helpers ---- */

/* Dumps j into out (compact, UTF-8).  out may be a secret buffer. */
static enum tl_err
dump(json_t *j, struct buf *out)
{
	size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
	enum tl_err e;

	if (n == 0)
		return TL_EINVAL;
	if (n > WIRE_MAX_MSG)
		return TL_ETOOBIG;
	buf_reset(out);
	/* Reserve n bytes, then let jansson write into them. */
	if ((e = buf_append(out, "", 0)) != TL_OK)
		return e;
	{
		char *tmp = malloc(n);
		if (!tmp)
			return TL_ENOMEM;
		if (json_dumpb(j, tmp, n, JSON_COMPACT) != n) {
			free(tmp);
			return TL_EINVAL;
		}
		e = buf_append(out, tmp, n);
		sodium_memzero(tmp, n);
		free(tmp);
	}
	return e;
}

/* Adds a string field; NULL values are omitted.  Fails on invalid UTF-8. */
static bool
set_str(json_t *o, const char *k, const char *v)
{
	json_t *s;

	if (!v)
		return true;
	if (!(s = json_string(v)))
		return false;
	return json_object_set_new(o, k, s) == 0;
}

static bool
set_time(json_t *o, const char *k, int64_t ms)
{
	char t[RFC3339_LEN + 1];

	time_format_rfc3339(ms, t);
	return set_str(o, k, t);
}

static json_t *
header(const char *type)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (json_object_set_new(o, "v", json_integer(WIRE_VERSION)) != 0 || !set_str(o, "type", type)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- decoding helpers ---- */

static enum tl_err
load(const char *data, size_t len, const char *type, json_t **out)
{
	json_error_t jerr;
	json_t *j, *v, *t;

	if (len == 0 || len > WIRE_MAX_MSG)
		return TL_EPROTO;
	/* JSON_REJECT_DUPLICATES: two "district" keys must not be a trick. */
	j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return TL_EPROTO;
	v = json_object_get(j, "v");
	t = json_object_get(j, "type");
	if (!json_is_object(j) || !json_is_integer(v) || json_integer_value(v) != WIRE_VERSION ||
	    !json_is_string(t) || strcmp(json_string_value(t), type) != 0) {
		json_decref(j);
		return TL_EPROTO;
	}
	*out = j;
	return TL_OK;
}

/* Copies an optional (or required) string field of at most max bytes. */
static enum tl_err
get_str(json_t *o, const char *k, bool required, size_t max, char **out)
{
	json_t *s = json_object_get(o, k);
	size_t n;

	*out = NULL;
	if (!s || json_is_null(s))
		return required ? TL_EPROTO : TL_OK;
	if (!json_is_string(s))
		return TL_EPROTO;
	n = json_string_length(s);
	/* jansson has validated UTF-8 and, without JSON_ALLOW_NUL, NULs. */
	if (n > max)
		return TL_EPROTO;
	if (!(*out = strdup(json_string_value(s))))
		return TL_ENOMEM;
	return TL_OK;
}

static enum tl_err
get_fixed(json_t *o, const char *k, char *out, size_t outsz)
{
	json_t *s = json_object_get(o, k);

	if (!json_is_string(s) || json_string_length(s) >= outsz)
		return TL_EPROTO;
	memcpy(out, json_string_value(s), json_string_length(s) + 1);
	return TL_OK;
}

static enum tl_err
get_id(json_t *o, const char *k, char out[ID_HEX_LEN + 1])
{
	if (get_fixed(o, k, out, ID_HEX_LEN + 1) != TL_OK || !id_valid(out))
		return TL_EPROTO;
	return TL_OK;
}

static enum tl_err
get_status_key(json_t *o, char out[STATUS_KEY_LEN + 1])
{
	if (get_fixed(o, "status_key", out, STATUS_KEY_LEN + 1) != TL_OK ||
	    strlen(out) != STATUS_KEY_LEN)
		return TL_EPROTO;
	for (size_t i = 0; i < STATUS_KEY_LEN; i++)
		if (!((out[i] >= '0' && out[i] <= '9') || (out[i] >= 'a' && out[i] <= 'f')))
			return TL_EPROTO;
	return TL_OK;
}

static enum tl_err
get_time(json_t *o, const char *k, int64_t *ms)
{
	json_t *s = json_object_get(o, k);

	if (!json_is_string(s) || time_parse_rfc3339(json_string_value(s), ms) != TL_OK)
		return TL_EPROTO;
	return TL_OK;
}

static enum tl_err
get_channel(json_t *o, char out[WIRE_CHANNEL_LEN + 1])
{
	if (get_fixed(o, "channel", out, WIRE_CHANNEL_LEN + 1) != TL_OK || !wire_channel_valid(out))
		return TL_EPROTO;
	return TL_OK;
}

static void
free_wipe(char **p)
{
	if (*p) {
		sodium_memzero(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

/* ---- identity ---- */

enum tl_err
wire_identity_encode(const struct wire_identity *m, struct buf *out)
{
	json_t *o = header("identity"), *c = json_object();
	enum tl_err e = TL_EINVAL;

	if (!o || !c)
		goto out;
	if (!set_str(o, "report_id", m->report_id) || !set_str(o, "channel", m->channel) ||
	    !set_time(o, "received_at", m->received_ms) || !set_str(o, "text", m->text) ||
	    !set_str(o, "location", m->location) || !set_str(o, "channel_msg_id", m->channel_msg_id) ||
	    !set_str(c, "name", m->contact.name) || !set_str(c, "phone", m->contact.phone) ||
	    !set_str(c, "email", m->contact.email) || !set_str(c, "id_number", m->contact.id_number) ||
	    !set_str(c, "wechat", m->contact.wechat))
		goto out;
	if (json_object_set(o, "contact", c) != 0)
		goto out;
	e = dump(o, out);
out:
	json_decref(c);
	json_decref(o);
	return e;
}

enum tl_err
wire_identity_decode(const char *data, size_t len, struct wire_identity *m)
{
	json_t *j, *c;
	enum tl_err e;

	memset(m, 0, sizeof(*m));
	if ((e = load(data, len, "identity", &j)) != TL_OK)
		return e;
	c = json_object_get(j, "contact");
	if ((e = get_id(j, "report_id", m->report_id)) != TL_OK ||
	    (e = get_channel(j, m->channel)) != TL_OK ||
	    (e = get_time(j, "received_at", &m->received_ms)) != TL_OK ||
	    (e = get_str(j, "text", true, WIRE_MAX_TEXT_BYTES, &m->text)) != TL_OK ||
	    (e = get_str(j, "location", false, WIRE_MAX_FIELD_BYTES, &m->location)) != TL_OK ||
	    (e = get_str(j, "channel_msg_id", false, WIRE_MAX_MSGID_BYTES, &m->channel_msg_id)) != TL_OK)
		goto fail;
	if (c && !json_is_object(c)) {
		e = TL_EPROTO;
		goto fail;
	}
	if (c && ((e = get_str(c, "name", false, WIRE_MAX_FIELD_BYTES, &m->contact.name)) != TL_OK ||
	          (e = get_str(c, "phone", false, WIRE_MAX_FIELD_BYTES, &m->contact.phone)) != TL_OK ||
	          (e = get_str(c, "email", false, WIRE_MAX_FIELD_BYTES, &m->contact.email)) != TL_OK ||
	          (e = get_str(c, "id_number", false, WIRE_MAX_FIELD_BYTES, &m->contact.id_number)) != TL_OK ||
	          (e = get_str(c, "wechat", false, WIRE_MAX_FIELD_BYTES, &m->contact.wechat)) != TL_OK))
		goto fail;
	json_decref(j);
	return TL_OK;
fail:
	json_decref(j);
	wire_identity_free(m);
	return e;
}

void
wire_identity_free(struct wire_identity *m)
{
	free_wipe(&m->contact.name);
	free_wipe(&m->contact.phone);
	free_wipe(&m->contact.email);
	free_wipe(&m->contact.id_number);
	free_wipe(&m->contact.wechat);
	free_wipe(&m->text);
	free_wipe(&m->location);
	free_wipe(&m->channel_msg_id);
}

/* ---- deposit ---- */

enum tl_err
wire_deposit_encode(const struct wire_deposit *m, struct buf *out)
{
	json_t *o = header("deposit");
	size_t b64len = sodium_base64_encoded_len(m->sealed_len, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = NULL;
	enum tl_err e = TL_EINVAL;

	if (!o)
		return TL_ENOMEM;
	if (m->sealed_len == 0 || b64len > WIRE_MAX_MSG) {
		e = TL_ETOOBIG;
		goto out;
	}
	if (!(b64 = malloc(b64len))) {
		e = TL_ENOMEM;
		goto out;
	}
	sodium_bin2base64(b64, b64len, m->sealed, m->sealed_len, sodium_base64_VARIANT_ORIGINAL);
	if (!set_str(o, "report_id", m->report_id) || !set_str(o, "channel", m->channel) ||
	    !set_time(o, "received_at", m->received_ms) || !set_str(o, "status_key", m->status_key) ||
	    !set_str(o, "sealed", b64))
		goto out;
	e = dump(o, out);
out:
	free(b64);
	json_decref(o);
	return e;
}

enum tl_err
wire_deposit_decode(const char *data, size_t len, struct wire_deposit *m)
{
	json_t *j, *s;
	size_t b64len, binlen;
	enum tl_err e;

	memset(m, 0, sizeof(*m));
	if ((e = load(data, len, "deposit", &j)) != TL_OK)
		return e;
	if ((e = get_id(j, "report_id", m->report_id)) != TL_OK ||
	    (e = get_channel(j, m->channel)) != TL_OK ||
	    (e = get_time(j, "received_at", &m->received_ms)) != TL_OK ||
	    (e = get_status_key(j, m->status_key)) != TL_OK)
		goto fail;
	s = json_object_get(j, "sealed");
	if (!json_is_string(s) || (b64len = json_string_length(s)) == 0) {
		e = TL_EPROTO;
		goto fail;
	}
	if (!(m->sealed = malloc(b64len))) {
		e = TL_ENOMEM;
		goto fail;
	}
	if (sodium_base642bin(m->sealed, b64len, json_string_value(s), b64len, NULL, &binlen, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    binlen <= crypto_box_SEALBYTES) {
		e = TL_EPROTO;
		goto fail;
	}
	m->sealed_len = binlen;
	json_decref(j);
	return TL_OK;
fail:
	json_decref(j);
	wire_deposit_free(m);
	return e;
}

void
wire_deposit_free(struct wire_deposit *m)
{
	free(m->sealed);
	m->sealed = NULL;
	m->sealed_len = 0;
}

/* ---- lead ---- */

enum tl_err
wire_lead_encode(const struct wire_lead *m, struct buf *out)
{
	json_t *o = header("lead"), *r = json_object(), *route = json_object();
	enum tl_err e = TL_EINVAL;

	if (!o || !r || !route)
		goto out;
	for (int t = 0; t < REDACT_NTYPES; t++)
		if (m->redactions[t] &&
		    json_object_set_new(r, redact_type_name((enum redact_type)t),
		                        json_integer(m->redactions[t])) != 0)
			goto out;
	if (!set_str(route, "rule", m->route_rule) ||
	    json_object_set_new(route, "confidence", json_integer(m->route_confidence)) != 0)
		goto out;
	if (!set_str(o, "lead_id", m->lead_id) || !set_str(o, "report_id", m->report_id) ||
	    !set_str(o, "district", m->district) || !set_str(o, "channel", m->channel) ||
	    !set_time(o, "received_at", m->received_ms) || !set_str(o, "text", m->text) ||
	    !set_str(o, "location", m->location) || !set_str(o, "category", m->category) ||
	    !set_str(o, "status_key", m->status_key) ||
	    json_object_set_new(o, "has_contact", json_boolean(m->has_contact)) != 0 ||
	    json_object_set(o, "route", route) != 0 || json_object_set(o, "redactions", r) != 0)
		goto out;
	e = dump(o, out);
out:
	json_decref(route);
	json_decref(r);
	json_decref(o);
	return e;
}

enum tl_err
wire_lead_decode(const char *data, size_t len, struct wire_lead *m)
{
	json_t *j, *route, *r, *conf, *hc;
	enum tl_err e;

	memset(m, 0, sizeof(*m));
	if ((e = load(data, len, "lead", &j)) != TL_OK)
		return e;
	if ((e = get_id(j, "lead_id", m->lead_id)) != TL_OK ||
	    (e = get_id(j, "report_id", m->report_id)) != TL_OK ||
	    (e = get_fixed(j, "district", m->district, sizeof(m->district))) != TL_OK ||
	    (e = get_channel(j, m->channel)) != TL_OK ||
	    (e = get_time(j, "received_at", &m->received_ms)) != TL_OK ||
	    (e = get_status_key(j, m->status_key)) != TL_OK ||
	    (e = get_str(j, "text", true, WIRE_MAX_TEXT_BYTES * 2, &m->text)) != TL_OK ||
	    (e = get_str(j, "location", false, WIRE_MAX_FIELD_BYTES * 2, &m->location)) != TL_OK ||
	    (e = get_str(j, "category", false, WIRE_MAX_FIELD_BYTES, &m->category)) != TL_OK)
		goto fail;
	e = TL_EPROTO;
	if (!district_valid(m->district))
		goto fail;
	hc = json_object_get(j, "has_contact");
	if (!json_is_boolean(hc))
		goto fail;
	m->has_contact = json_is_true(hc);
	route = json_object_get(j, "route");
	if (!json_is_object(route) ||
	    get_fixed(route, "rule", m->route_rule, sizeof(m->route_rule)) != TL_OK)
		goto fail;
	conf = json_object_get(route, "confidence");
	if (!json_is_integer(conf) || json_integer_value(conf) < 0 || json_integer_value(conf) > 100)
		goto fail;
	m->route_confidence = (int)json_integer_value(conf);
	r = json_object_get(j, "redactions");
	if (!json_is_object(r))
		goto fail;
	for (int t = 0; t < REDACT_NTYPES; t++) {
		json_t *c = json_object_get(r, redact_type_name((enum redact_type)t));
		if (!c)
			continue;
		if (!json_is_integer(c) || json_integer_value(c) < 0 || json_integer_value(c) > 100000)
			goto fail;
		m->redactions[t] = (unsigned)json_integer_value(c);
	}
	json_decref(j);
	return TL_OK;
fail:
	json_decref(j);
	wire_lead_free(m);
	return e;
}

void
wire_lead_free(struct wire_lead *m)
{
	free(m->text);
	free(m->location);
	free(m->category);
	m->text = m->location = m->category = NULL;
}

/* ---- status ---- */

/* ==== district events, claims, transfers ==== */

static const char *const event_names[WIRE_EV_NTYPES_] = {
	[WIRE_EV_CLAIMED] = "claimed",
	[WIRE_EV_RELEASED] = "released",
	[WIRE_EV_TAKEN_OVER] = "taken_over",
	[WIRE_EV_FINDING_RECORDED] = "finding_recorded",
	[WIRE_EV_TRANSFER_REQUESTED] = "transfer_requested",
	[WIRE_EV_TRANSFER_ACCEPTED] = "transfer_accepted",
	[WIRE_EV_TRANSFER_REFUSED] = "transfer_refused",
	[WIRE_EV_MERGED] = "merged",
	[WIRE_EV_VERDICT] = "verdict",
	[WIRE_EV_REOPENED] = "reopened",
	[WIRE_EV_LEASE_EXPIRED] = "lease_expired",
	[WIRE_EV_OVERDUE] = "overdue",
	[WIRE_EV_IDLE] = "idle",
	[WIRE_EV_OPENED] = "opened",
};

const char *
wire_event_type_name(enum wire_event_type t)
{
	return (unsigned)t < WIRE_EV_NTYPES_ ? event_names[t] : "?";
}

enum tl_err
wire_event_type_parse(const char *s, enum wire_event_type *t)
{
	for (int i = 0; i < WIRE_EV_NTYPES_; i++)
		if (strcmp(s, event_names[i]) == 0) {
			*t = (enum wire_event_type)i;
			return TL_OK;
		}
	return TL_EINVAL;
}

static bool
in_set(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return true;
	return false;
}

/* The seven agencies of the joint response mechanism (plan, 四(三)2):
 * 工信 发改 市场监管 公安 环保 国网电力 钢协. */
static const char *const agencies[] = { "miit", "ndrc", "samr", "police", "env", "grid", "steel" };
static const char *const checks[] = { "site_visit", "power_use", "product_sampling",
	                               "document_review", "interview", "market_check", "other" };
static const char *const results[] = { "confirmed", "not_found", "inconclusive" };
static const char *const xfer_reasons[] = { "wrong_district", "site_elsewhere", "cross_district",
	                                     "city_decision", "other" };
static const char *const productions[] = { "running", "idle_restartable", "dismantled" };
static const char *const steps[] = { "claim", "finding", "verdict", "transfer" };
static const char *const roles[] = { "responder", "supervisor", "city_office", "system" };

bool wire_agency_valid(const char *s) { return s && in_set(s, agencies, TL_ARRAY_LEN(agencies)); }
bool wire_check_valid(const char *s) { return s && in_set(s, checks, TL_ARRAY_LEN(checks)); }
bool wire_result_valid(const char *s) { return s && in_set(s, results, TL_ARRAY_LEN(results)); }
bool wire_xfer_reason_valid(const char *s) { return s && in_set(s, xfer_reasons, TL_ARRAY_LEN(xfer_reasons)); }
bool wire_production_valid(const char *s) { return s && in_set(s, productions, TL_ARRAY_LEN(productions)); }
bool wire_step_valid(const char *s) { return s && in_set(s, steps, TL_ARRAY_LEN(steps)); }
static bool role_valid(const char *s) { return in_set(s, roles, TL_ARRAY_LEN(roles)); }

bool
wire_actor_valid(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n > WIRE_ACTOR_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '@' || c == '-'))
			return false;
	}
	return true;
}

enum tl_err
wire_subject_event(const char *district, const char *lead_id, enum wire_event_type t, char *out,
                   size_t outlen)
{
	if (!district_valid(district) || !id_valid(lead_id) || (unsigned)t >= WIRE_EV_NTYPES_)
		return TL_EINVAL;
	if ((size_t)snprintf(out, outlen, "tl.event.%s.%s.%s", district, lead_id, event_names[t]) >= outlen)
		return TL_ETOOBIG;
	return TL_OK;
}

enum tl_err
wire_subject_xfer(const char *to, const char *from, const char *lead_id, char *out, size_t outlen)
{
	if (!district_valid(to) || !district_valid(from) || strcmp(to, from) == 0 || !id_valid(lead_id))
		return TL_EINVAL;
	if ((size_t)snprintf(out, outlen, "tl.xfer.%s.%s.%s", to, from, lead_id) >= outlen)
		return TL_ETOOBIG;
	return TL_OK;
}

enum tl_err
wire_claim_key(const char *district, const char *lead_id, char *out, size_t outlen)
{
	if (!district_valid(district) || !id_valid(lead_id))
		return TL_EINVAL;
	if ((size_t)snprintf(out, outlen, "%s.%s", district, lead_id) >= outlen)
		return TL_ETOOBIG;
	return TL_OK;
}

static bool
set_int(json_t *o, const char *k, int64_t v)
{
	return json_object_set_new(o, k, json_integer(v)) == 0;
}

/* Required integer within [min, max]. */
static enum tl_err
get_int(json_t *o, const char *k, int64_t min, int64_t max, int64_t *out)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return TL_EPROTO;
	*out = json_integer_value(v);
	return TL_OK;
}

/* Required fixed string that must pass a validator. */
static enum tl_err
get_checked(json_t *o, const char *k, char *out, size_t outsz, bool (*ok)(const char *))
{
	if (get_fixed(o, k, out, outsz) != TL_OK || !ok(out))
		return TL_EPROTO;
	return TL_OK;
}

static bool
is_district(const char *s)
{
	return district_valid(s);
}

static bool
is_id(const char *s)
{
	return id_valid(s);
}

/* Rejects keys outside the allowed list: an event that grew a field we do
 * not know is a schema change, which must come with a new "ev". */
static bool
only_keys(json_t *o, const char *const *keys, size_t n)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v) {
		(void)v;
		if (!in_set(k, keys, n))
			return false;
	}
	return true;
}

static const char *const event_keys[] = {
	"v", "type", "ev", "event", "event_id", "lead_id", "district", "seq", "at", "actor", "role",
	"holder", "prev_holder", "lease_until", "reason", "from", "to", "reason_code", "transfer_n",
	"deadline", "agency", "check", "result", "checked_at", "evidence_count", "other_lead",
	"verdict", "furnaces", "capacity_tpy", "production", "seized_kg", "fines_fen",
	"signed_off_by", "agencies", "first_received_at", "step",
};

/* Which fields each type carries (beyond the common header). */
enum {
	F_HOLDER = 1u << 0, F_PREV = 1u << 1, F_LEASE = 1u << 2, F_REASON = 1u << 3,
	F_XFER = 1u << 4, F_DEADLINE = 1u << 5, F_FINDING = 1u << 6, F_OTHER = 1u << 7,
	F_VERDICT = 1u << 8, F_STEP = 1u << 9, F_REASON_REQ = 1u << 10,
};
static const unsigned event_fields[WIRE_EV_NTYPES_] = {
	[WIRE_EV_CLAIMED] = F_HOLDER | F_LEASE,
	[WIRE_EV_RELEASED] = F_PREV,
	[WIRE_EV_TAKEN_OVER] = F_HOLDER | F_PREV | F_LEASE | F_REASON | F_REASON_REQ,
	[WIRE_EV_FINDING_RECORDED] = F_FINDING,
	[WIRE_EV_TRANSFER_REQUESTED] = F_XFER | F_DEADLINE | F_REASON,
	[WIRE_EV_TRANSFER_ACCEPTED] = F_XFER,
	[WIRE_EV_TRANSFER_REFUSED] = F_XFER | F_REASON,
	[WIRE_EV_MERGED] = F_OTHER,
	[WIRE_EV_VERDICT] = F_VERDICT,
	[WIRE_EV_REOPENED] = F_REASON | F_REASON_REQ,
	[WIRE_EV_LEASE_EXPIRED] = F_PREV,
	[WIRE_EV_OVERDUE] = F_STEP | F_DEADLINE,
	[WIRE_EV_IDLE] = F_PREV,
	[WIRE_EV_OPENED] = 0,
};

enum tl_err
wire_event_encode(const struct wire_event *m, struct buf *out)
{
	json_t *o = header("event");
	unsigned f;
	enum tl_err e = TL_EINVAL;

	if (!o)
		return TL_ENOMEM;
	if ((unsigned)m->type >= WIRE_EV_NTYPES_ || !id_valid(m->lead_id) || !district_valid(m->district) ||
	    m->seq == 0 || !role_valid(m->role) || (m->actor[0] && !wire_actor_valid(m->actor)))
		goto out;
	f = event_fields[m->type];
	if (!set_int(o, "ev", WIRE_EVENT_VERSION) || !set_str(o, "event", event_names[m->type]) ||
	    !set_str(o, "event_id", m->event_id) || !set_str(o, "lead_id", m->lead_id) ||
	    !set_str(o, "district", m->district) || !set_int(o, "seq", (int64_t)m->seq) ||
	    !set_time(o, "at", m->at_ms) || !set_str(o, "role", m->role) ||
	    (m->actor[0] && !set_str(o, "actor", m->actor)))
		goto out;
	if ((f & F_HOLDER) && !set_str(o, "holder", m->holder))
		goto out;
	if ((f & F_PREV) && m->prev_holder[0] && !set_str(o, "prev_holder", m->prev_holder))
		goto out;
	if ((f & F_LEASE) && !set_time(o, "lease_until", m->lease_until_ms))
		goto out;
	if ((f & F_REASON_REQ) && (!m->reason || !m->reason[0]))
		goto out;
	if ((f & F_REASON) && m->reason &&
	    (strlen(m->reason) > WIRE_REASON_MAX || !set_str(o, "reason", m->reason)))
		goto out;
	if ((f & F_XFER) && (!set_str(o, "from", m->from_district) || !set_str(o, "to", m->to_district) ||
	                     !set_str(o, "reason_code", m->reason_code) ||
	                     !set_int(o, "transfer_n", m->transfer_n)))
		goto out;
	if ((f & F_DEADLINE) && !set_time(o, "deadline", m->deadline_ms))
		goto out;
	if ((f & F_FINDING) && (!set_str(o, "agency", m->agency) || !set_str(o, "check", m->check) ||
	                        !set_str(o, "result", m->result) ||
	                        !set_time(o, "checked_at", m->checked_ms) ||
	                        !set_int(o, "evidence_count", m->evidence_count)))
		goto out;
	if ((f & F_OTHER) && !set_str(o, "other_lead", m->other_lead))
		goto out;
	if (f & F_VERDICT) {
		if (!set_str(o, "verdict", m->substantiated ? "substantiated" : "unfounded") ||
		    !set_int(o, "agencies", m->agencies) ||
		    !set_time(o, "first_received_at", m->first_received_ms))
			goto out;
		if (m->substantiated &&
		    (!set_int(o, "furnaces", m->furnaces) || !set_int(o, "capacity_tpy", m->capacity_tpy) ||
		     !set_str(o, "production", m->production) || !set_int(o, "seized_kg", m->seized_kg) ||
		     !set_int(o, "fines_fen", m->fines_fen)))
			goto out;
		if (!m->substantiated && !set_str(o, "signed_off_by", m->signed_off_by))
			goto out;
	}
	if ((f & F_STEP) && !set_str(o, "step", m->step))
		goto out;
	/* Round-trip through our own decoder: never publish what a reader
	 * would reject. */
	if ((e = dump(o, out)) == TL_OK) {
		struct wire_event chk;
		if ((e = wire_event_decode(buf_str(out), out->len, &chk)) != TL_OK)
			e = TL_EINVAL;
		else
			wire_event_free(&chk);
	}
out:
	json_decref(o);
	return e;
}

enum tl_err
wire_event_decode(const char *data, size_t len, struct wire_event *m)
{
	char name[WIRE_CODE_LEN + 1], vstr[16];
	json_t *j;
	int64_t n;
	unsigned f;
	enum tl_err e;

	memset(m, 0, sizeof(*m));
	if ((e = load(data, len, "event", &j)) != TL_OK)
		return e;
	e = TL_EPROTO;
	if (!only_keys(j, event_keys, TL_ARRAY_LEN(event_keys)) ||
	    get_int(j, "ev", WIRE_EVENT_VERSION, WIRE_EVENT_VERSION, &n) != TL_OK ||
	    get_fixed(j, "event", name, sizeof(name)) != TL_OK ||
	    wire_event_type_parse(name, &m->type) != TL_OK ||
	    get_fixed(j, "event_id", m->event_id, sizeof(m->event_id)) != TL_OK ||
	    get_id(j, "lead_id", m->lead_id) != TL_OK ||
	    get_checked(j, "district", m->district, sizeof(m->district), is_district) != TL_OK ||
	    get_int(j, "seq", 1, INT64_MAX, &n) != TL_OK ||
	    get_time(j, "at", &m->at_ms) != TL_OK ||
	    get_checked(j, "role", m->role, sizeof(m->role), role_valid) != TL_OK)
		goto fail;
	m->seq = (uint64_t)n;
	/* The event id starts with the lead id; the rest is the node's. */
	if (strncmp(m->event_id, m->lead_id, ID_HEX_LEN) != 0 || m->event_id[ID_HEX_LEN] != ':')
		goto fail;
	if (json_object_get(j, "actor") &&
	    get_checked(j, "actor", m->actor, sizeof(m->actor), wire_actor_valid) != TL_OK)
		goto fail;
	f = event_fields[m->type];
	if ((f & F_HOLDER) && get_checked(j, "holder", m->holder, sizeof(m->holder), wire_actor_valid) != TL_OK)
		goto fail;
	if ((f & F_PREV) && json_object_get(j, "prev_holder") &&
	    get_checked(j, "prev_holder", m->prev_holder, sizeof(m->prev_holder), wire_actor_valid) != TL_OK)
		goto fail;
	if ((f & F_LEASE) && get_time(j, "lease_until", &m->lease_until_ms) != TL_OK)
		goto fail;
	if ((f & F_REASON) && get_str(j, "reason", (f & F_REASON_REQ) != 0, WIRE_REASON_MAX, &m->reason) != TL_OK)
		goto fail;
	if ((f & F_REASON_REQ) && m->reason[0] == '\0')
		goto fail;
	if (f & F_XFER) {
		if (get_checked(j, "from", m->from_district, sizeof(m->from_district), is_district) != TL_OK ||
		    get_checked(j, "to", m->to_district, sizeof(m->to_district), is_district) != TL_OK ||
		    strcmp(m->from_district, m->to_district) == 0 ||
		    get_checked(j, "reason_code", m->reason_code, sizeof(m->reason_code),
		                wire_xfer_reason_valid) != TL_OK ||
		    get_int(j, "transfer_n", 1, 1000, &n) != TL_OK)
			goto fail;
		m->transfer_n = (int)n;
	}
	if ((f & F_DEADLINE) && get_time(j, "deadline", &m->deadline_ms) != TL_OK)
		goto fail;
	if (f & F_FINDING) {
		if (get_checked(j, "agency", m->agency, sizeof(m->agency), wire_agency_valid) != TL_OK ||
		    get_checked(j, "check", m->check, sizeof(m->check), wire_check_valid) != TL_OK ||
		    get_checked(j, "result", m->result, sizeof(m->result), wire_result_valid) != TL_OK ||
		    get_time(j, "checked_at", &m->checked_ms) != TL_OK ||
		    get_int(j, "evidence_count", 0, 1000, &n) != TL_OK)
			goto fail;
		m->evidence_count = (int)n;
	}
	if ((f & F_OTHER) && (get_checked(j, "other_lead", m->other_lead, sizeof(m->other_lead), is_id) != TL_OK ||
	                      strcmp(m->other_lead, m->lead_id) == 0))
		goto fail;
	if (f & F_VERDICT) {
		if (get_fixed(j, "verdict", vstr, sizeof(vstr)) != TL_OK ||
		    get_int(j, "agencies", 0, 7, &n) != TL_OK ||
		    get_time(j, "first_received_at", &m->first_received_ms) != TL_OK)
			goto fail;
		m->agencies = (int)n;
		if (strcmp(vstr, "substantiated") == 0) {
			m->substantiated = true;
			if (get_int(j, "furnaces", 0, 10000, &n) != TL_OK)
				goto fail;
			m->furnaces = (int)n;
			if (get_int(j, "capacity_tpy", 0, 1000000000LL, &m->capacity_tpy) != TL_OK ||
			    get_checked(j, "production", m->production, sizeof(m->production),
			                wire_production_valid) != TL_OK ||
			    get_int(j, "seized_kg", 0, 1000000000000LL, &m->seized_kg) != TL_OK ||
			    get_int(j, "fines_fen", 0, WIRE_MAX_FEN, &m->fines_fen) != TL_OK ||
			    json_object_get(j, "signed_off_by"))
				goto fail;
		} else if (strcmp(vstr, "unfounded") == 0) {
			/* Unfounded needs a second agency and a supervisor. */
			if (m->agencies < 2 ||
			    get_checked(j, "signed_off_by", m->signed_off_by, sizeof(m->signed_off_by),
			                wire_actor_valid) != TL_OK ||
			    json_object_get(j, "furnaces") || json_object_get(j, "fines_fen"))
				goto fail;
		} else {
			goto fail;
		}
	}
	if ((f & F_STEP) && get_checked(j, "step", m->step, sizeof(m->step), wire_step_valid) != TL_OK)
		goto fail;
	json_decref(j);
	return TL_OK;
fail:
	json_decref(j);
	wire_event_free(m);
	return e == TL_OK ? TL_EPROTO : e;
}

void
wire_event_free(struct wire_event *m)
{
	free(m->reason);
	m->reason = NULL;
}

/* ---- claims ---- */

enum tl_err
wire_claim_encode(const struct wire_claim *m, struct buf *out)
{
	json_t *o = header("claim");
	enum tl_err e = TL_EINVAL;

	if (!o)
		return TL_ENOMEM;
	if (!id_valid(m->lead_id) || !district_valid(m->district) ||
	    (m->held && !wire_actor_valid(m->holder)))
		goto out;
	if (!set_str(o, "lead_id", m->lead_id) || !set_str(o, "district", m->district) ||
	    json_object_set_new(o, "held", json_boolean(m->held)) != 0)
		goto out;
	if (m->held && (!set_str(o, "holder", m->holder) || !set_time(o, "since", m->since_ms) ||
	                !set_time(o, "expires", m->expires_ms)))
		goto out;
	e = dump(o, out);
out:
	json_decref(o);
	return e;
}

enum tl_err
wire_claim_decode(const char *data, size_t len, struct wire_claim *m)
{
	static const char *const keys[] = { "v", "type", "lead_id", "district", "held", "holder",
		                            "since", "expires" };
	json_t *j, *h;
	enum tl_err e;

	memset(m, 0, sizeof(*m));
	if ((e = load(data, len, "claim", &j)) != TL_OK)
		return e;
	e = TL_EPROTO;
	h = json_object_get(j, "held");
	if (!only_keys(j, keys, TL_ARRAY_LEN(keys)) || get_id(j, "lead_id", m->lead_id) != TL_OK ||
	    get_checked(j, "district", m->district, sizeof(m->district), is_district) != TL_OK ||
	    !json_is_boolean(h))
		goto out;
	m->held = json_is_true(h);
	if (m->held && (get_checked(j, "holder", m->holder, sizeof(m->holder), wire_actor_valid) != TL_OK ||
	                get_time(j, "since", &m->since_ms) != TL_OK ||
	                get_time(j, "expires", &m->expires_ms) != TL_OK))
		goto out;
	e = TL_OK;
out:
	json_decref(j);
	if (e != TL_OK)
		memset(m, 0, sizeof(*m));
	return e;
}

/* ---- transfers ---- */

enum tl_err
wire_xfer_encode(const struct wire_xfer *m, struct buf *out)
{
	json_t *o = header(m->reply ? "xfer_reply" : "xfer_offer");
	enum tl_err e = TL_EINVAL;

	if (!o)
		return TL_ENOMEM;
	if (!id_valid(m->lead_id) || !district_valid(m->from_district) ||
	    !district_valid(m->to_district) || strcmp(m->from_district, m->to_district) == 0 ||
	    m->transfer_n < 1 || !wire_actor_valid(m->actor))
		goto out;
	if (!set_str(o, "lead_id", m->lead_id) || !set_str(o, "from", m->from_district) ||
	    !set_str(o, "to", m->to_district) || !set_int(o, "transfer_n", m->transfer_n) ||
	    !set_time(o, "at", m->at_ms) || !set_str(o, "actor", m->actor))
		goto out;
	if (m->reply) {
		if (json_object_set_new(o, "accepted", json_boolean(m->accepted)) != 0)
			goto out;
	} else {
		if (!m->lead || !wire_xfer_reason_valid(m->reason_code) ||
		    !set_str(o, "reason_code", m->reason_code) || !set_time(o, "deadline", m->deadline_ms) ||
		    !set_time(o, "clock_start", m->clock_start_ms) || !set_str(o, "lead", m->lead))
			goto out;
	}
	e = dump(o, out);
out:
	json_decref(o);
	return e;
}

enum tl_err
wire_xfer_decode(const char *data, size_t len, struct wire_xfer *m)
{
	static const char *const offer_keys[] = { "v", "type", "lead_id", "from", "to", "transfer_n",
		                                  "at", "actor", "reason_code", "deadline",
		                                  "clock_start", "lead" };
	static const char *const reply_keys[] = { "v", "type", "lead_id", "from", "to", "transfer_n",
		                                  "at", "actor", "accepted" };
	json_t *j = NULL, *a;
	int64_t n;
	enum tl_err e;

	memset(m, 0, sizeof(*m));
	/* The type decides the schema; try the offer first. */
	if ((e = load(data, len, "xfer_offer", &j)) != TL_OK) {
		if ((e = load(data, len, "xfer_reply", &j)) != TL_OK)
			return e;
		m->reply = true;
	}
	e = TL_EPROTO;
	if (get_id(j, "lead_id", m->lead_id) != TL_OK ||
	    get_checked(j, "from", m->from_district, sizeof(m->from_district), is_district) != TL_OK ||
	    get_checked(j, "to", m->to_district, sizeof(m->to_district), is_district) != TL_OK ||
	    strcmp(m->from_district, m->to_district) == 0 ||
	    get_int(j, "transfer_n", 1, 1000, &n) != TL_OK || get_time(j, "at", &m->at_ms) != TL_OK ||
	    get_checked(j, "actor", m->actor, sizeof(m->actor), wire_actor_valid) != TL_OK)
		goto fail;
	m->transfer_n = (int)n;
	if (m->reply) {
		a = json_object_get(j, "accepted");
		if (!only_keys(j, reply_keys, TL_ARRAY_LEN(reply_keys)) || !json_is_boolean(a))
			goto fail;
		m->accepted = json_is_true(a);
	} else {
		if (!only_keys(j, offer_keys, TL_ARRAY_LEN(offer_keys)) ||
		    get_checked(j, "reason_code", m->reason_code, sizeof(m->reason_code),
		                wire_xfer_reason_valid) != TL_OK ||
		    get_time(j, "deadline", &m->deadline_ms) != TL_OK ||
		    get_time(j, "clock_start", &m->clock_start_ms) != TL_OK ||
		    get_str(j, "lead", true, WIRE_MAX_MSG / 2, &m->lead) != TL_OK)
			goto fail;
	}
	json_decref(j);
	return TL_OK;
fail:
	json_decref(j);
	wire_xfer_free(m);
	return e;
}

void
wire_xfer_free(struct wire_xfer *m)
{
	free(m->lead);
	m->lead = NULL;
}

/* ==== reporter status (TL_STATUS) ==== */

static const char *const statuses[] = {
	"received", "investigating", "verified", "unfounded", "award_approved",
	"claim_received", "claim_refused", "paid", "forfeited",
};
static const char *const refusals[] = { "excluded", "invalid_id", "invalid_payee", "bank_rejected" };
static const char *const ineligible[] = { "excluded", "invalid_id", "invalid_payee" };
static const char *const reveal_errors[] = {
	"bad_request", "signature", "rules", "unknown_payee", "not_eligible", "internal",
};

bool wire_status_valid(const char *s) { return s && in_set(s, statuses, TL_ARRAY_LEN(statuses)); }
bool wire_refusal_valid(const char *s) { return s && in_set(s, refusals, TL_ARRAY_LEN(refusals)); }

/* Which extra fields a status carries: the decoder requires exactly these,
 * so a reader can rely on an amount being there when it says "paid". */
static void
status_needs(const char *st, bool *amount, bool *claim_by, bool *reason)
{
	*amount = strcmp(st, "award_approved") == 0 || strcmp(st, "claim_received") == 0 ||
	          strcmp(st, "claim_refused") == 0 || strcmp(st, "paid") == 0 ||
	          strcmp(st, "forfeited") == 0;
	*claim_by = strcmp(st, "award_approved") == 0 || strcmp(st, "claim_refused") == 0;
	*reason = strcmp(st, "claim_refused") == 0;
}

static bool
status_fields_ok(const struct wire_status *m)
{
	bool amount, claim_by, reason;

	if (!wire_status_valid(m->status) || m->updated_ms < 0)
		return false;
	status_needs(m->status, &amount, &claim_by, &reason);
	if (amount ? (m->amount_fen <= 0 || m->amount_fen > WIRE_MAX_FEN) : m->amount_fen != 0)
		return false;
	if (claim_by ? m->claim_by_ms <= 0 : m->claim_by_ms != 0)
		return false;
	if (reason ? !wire_refusal_valid(m->reason) : m->reason[0] != '\0')
		return false;
	return true;
}

enum tl_err
wire_status_encode(const struct wire_status *m, struct buf *out)
{
	json_t *o;
	enum tl_err e = TL_EINVAL;

	if (!status_fields_ok(m))
		return TL_EINVAL;
	if (!(o = header("status")))
		return TL_ENOMEM;
	if (!set_str(o, "status", m->status) || !set_time(o, "updated_at", m->updated_ms))
		goto out;
	if (m->amount_fen && !set_int(o, "amount_fen", m->amount_fen))
		goto out;
	if (m->claim_by_ms && !set_time(o, "claim_by", m->claim_by_ms))
		goto out;
	if (m->reason[0] && !set_str(o, "reason", m->reason))
		goto out;
	e = dump(o, out);
out:
	json_decref(o);
	return e;
}

static const char *const status_keys[] = { "v", "type", "status", "updated_at", "amount_fen",
	                                   "claim_by", "reason" };

enum tl_err
wire_status_decode(const char *data, size_t len, struct wire_status *m)
{
	json_t *j;
	enum tl_err e;

	memset(m, 0, sizeof(*m));
	if ((e = load(data, len, "status", &j)) != TL_OK)
		return e;
	e = TL_EPROTO;
	if (!only_keys(j, status_keys, TL_ARRAY_LEN(status_keys)) ||
	    get_fixed(j, "status", m->status, sizeof(m->status)) != TL_OK ||
	    get_time(j, "updated_at", &m->updated_ms) != TL_OK)
		goto out;
	if (json_object_get(j, "amount_fen") &&
	    get_int(j, "amount_fen", 1, WIRE_MAX_FEN, &m->amount_fen) != TL_OK)
		goto out;
	if (json_object_get(j, "claim_by") && get_time(j, "claim_by", &m->claim_by_ms) != TL_OK)
		goto out;
	if (json_object_get(j, "reason") && get_fixed(j, "reason", m->reason, sizeof(m->reason)) != TL_OK)
		goto out;
	if (status_fields_ok(m))
		e = TL_OK;
out:
	json_decref(j);
	if (e != TL_OK)
		memset(m, 0, sizeof(*m));
	return e;
}

/* ==== award claims, eligibility, payee reveal ==== */

/* base64 (original variant) of bin into a new string; NULL on failure. */
static char *
b64_new(const unsigned char *bin, size_t len)
{
	size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *b = NULL;

	if (len == 0 || n > WIRE_MAX_MSG || !(b = malloc(n)))
		return NULL;
	sodium_bin2base64(b, n, bin, len, sodium_base64_VARIANT_ORIGINAL);
	return b;
}

/* Decodes a required base64 field holding a sealed box (longer than the
 * seal overhead).  *bin is malloc'd. */
static enum tl_err
get_sealed(json_t *o, const char *k, unsigned char **bin, size_t *binlen)
{
	json_t *s = json_object_get(o, k);
	size_t n;

	*bin = NULL;
	*binlen = 0;
	if (!json_is_string(s) || (n = json_string_length(s)) == 0 || n > WIRE_MAX_MSG)
		return TL_EPROTO;
	if (!(*bin = malloc(n)))
		return TL_ENOMEM;
	if (sodium_base642bin(*bin, n, json_string_value(s), n, NULL, binlen, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    *binlen <= crypto_box_SEALBYTES) {
		free(*bin);
		*bin = NULL;
		*binlen = 0;
		return TL_EPROTO;
	}
	return TL_OK;
}

static bool
set_sealed(json_t *o, const char *k, const unsigned char *bin, size_t len)
{
	char *b;
	bool ok;

	if (len <= crypto_box_SEALBYTES || !(b = b64_new(bin, len)))
		return false;
	ok = set_str(o, k, b);
	free(b);
	return ok;
}

static bool
payee_field_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n <= WIRE_PAYEE_FIELD_MAX && utf8_valid(s, n, NULL);
}

static const char *const payee_keys[] = { "v", "type", "claim_id", "name", "id_number", "bank",
	                                  "account", "phone" };

enum tl_err
wire_payee_encode(const struct wire_payee *m, struct buf *out)
{
	json_t *o;
	enum tl_err e = TL_EINVAL;

	if (!id_valid(m->claim_id) || !payee_field_ok(m->name) || !payee_field_ok(m->id_number) ||
	    !payee_field_ok(m->bank) || !payee_field_ok(m->account) || !payee_field_ok(m->phone))
		return TL_EINVAL;
	/* jansson's allocator wipes on free (secret_init), as for identities. */
	if (!(o = header("payee")))
		return TL_ENOMEM;
	if (!set_str(o, "claim_id", m->claim_id) || !set_str(o, "name", m->name) ||
	    !set_str(o, "id_number", m->id_number) || !set_str(o, "bank", m->bank) ||
	    !set_str(o, "account", m->account) || !set_str(o, "phone", m->phone))
		goto out;
	e = dump(o, out);
out:
	json_decref(o);
	return e;
}

enum tl_err
wire_payee_decode(const char *data, size_t len, struct wire_payee *m)
{
	json_t *j;
	enum tl_err e;

	memset(m, 0, sizeof(*m));
	if ((e = load(data, len, "payee", &j)) != TL_OK)
		return e;
	if (!only_keys(j, payee_keys, TL_ARRAY_LEN(payee_keys)) ||
	    (e = get_id(j, "claim_id", m->claim_id)) != TL_OK ||
	    (e = get_str(j, "name", true, WIRE_PAYEE_FIELD_MAX, &m->name)) != TL_OK ||
	    (e = get_str(j, "id_number", true, WIRE_PAYEE_FIELD_MAX, &m->id_number)) != TL_OK ||
	    (e = get_str(j, "bank", true, WIRE_PAYEE_FIELD_MAX, &m->bank)) != TL_OK ||
	    (e = get_str(j, "account", true, WIRE_PAYEE_FIELD_MAX, &m->account)) != TL_OK ||
	    (e = get_str(j, "phone", true, WIRE_PAYEE_FIELD_MAX, &m->phone)) != TL_OK ||
	    !payee_field_ok(m->name) || !payee_field_ok(m->id_number) || !payee_field_ok(m->bank) ||
	    !payee_field_ok(m->account) || !payee_field_ok(m->phone)) {
		if (e == TL_OK)
			e = TL_EPROTO;
		json_decref(j);
		wire_payee_free(m);
		return e;
	}
	json_decref(j);
	return TL_OK;
}

void
wire_payee_free(struct wire_payee *m)
{
	free_wipe(&m->name);
	free_wipe(&m->id_number);
	free_wipe(&m->bank);
	free_wipe(&m->account);
	free_wipe(&m->phone);
}

static const char *const payclaim_keys[] = { "v", "type", "claim_id", "status_key", "received_at",
	                                     "sealed" };

enum tl_err
wire_payclaim_encode(const struct wire_payclaim *m, struct buf *out)
{
	json_t *o;
	enum tl_err e = TL_EINVAL;

	if (!id_valid(m->claim_id) || strlen(m->status_key) != STATUS_KEY_LEN || !m->sealed)
		return TL_EINVAL;
	if (!(o = header("payclaim")))
		return TL_ENOMEM;
	if (!set_str(o, "claim_id", m->claim_id) || !set_str(o, "status_key", m->status_key) ||
	    !set_time(o, "received_at", m->received_ms) ||
	    !set_sealed(o, "sealed", m->sealed, m->sealed_len))
		goto out;
	e = dump(o, out);
out:
	json_decref(o);
	return e;
}

enum tl_err
wire_payclaim_decode(const char *data, size_t len, struct wire_payclaim *m)
{
	json_t *j;
	enum tl_err e;

	memset(m, 0, sizeof(*m));
	if ((e = load(data, len, "payclaim", &j)) != TL_OK)
		return e;
	if (!only_keys(j, payclaim_keys, TL_ARRAY_LEN(payclaim_keys)))
		e = TL_EPROTO;
	else if ((e = get_id(j, "claim_id", m->claim_id)) == TL_OK &&
	         (e = get_status_key(j, m->status_key)) == TL_OK &&
	         (e = get_time(j, "received_at", &m->received_ms)) == TL_OK)
		e = get_sealed(j, "sealed", &m->sealed, &m->sealed_len);
	json_decref(j);
	if (e != TL_OK)
		wire_payclaim_free(m);
	return e;
}

void
wire_payclaim_free(struct wire_payclaim *m)
{
	free(m->sealed);
	m->sealed = NULL;
	m->sealed_len = 0;
}

static const char *const elig_keys[] = { "v", "type", "claim_id", "report_id", "payee_ref",
	                                 "eligible", "reason", "at" };

static bool
elig_ok(const struct wire_eligibility *m)
{
	if (!id_valid(m->claim_id) || !id_valid(m->report_id) || !id_valid(m->payee_ref))
		return false;
	return m->eligible ? m->reason[0] == '\0' : in_set(m->reason, ineligible, TL_ARRAY_LEN(ineligible));
}

enum tl_err
wire_eligibility_encode(const struct wire_eligibility *m, struct buf *out)
{
	json_t *o;
	enum tl_err e = TL_EINVAL;

	if (!elig_ok(m))
		return TL_EINVAL;
	if (!(o = header("eligibility")))
		return TL_ENOMEM;
	if (!set_str(o, "claim_id", m->claim_id) || !set_str(o, "report_id", m->report_id) ||
	    !set_str(o, "payee_ref", m->payee_ref) ||
	    json_object_set_new(o, "eligible", json_boolean(m->eligible)) != 0 ||
	    (!m->eligible && !set_str(o, "reason", m->reason)) || !set_time(o, "at", m->at_ms))
		goto out;
	e = dump(o, out);
out:
	json_decref(o);
	return e;
}

enum tl_err
wire_eligibility_decode(const char *data, size_t len, struct wire_eligibility *m)
{
	json_t *j, *b;
	enum tl_err e;

	memset(m, 0, sizeof(*m));
	if ((e = load(data, len, "eligibility", &j)) != TL_OK)
		return e;
	e = TL_EPROTO;
	b = json_object_get(j, "eligible");
	if (!only_keys(j, elig_keys, TL_ARRAY_LEN(elig_keys)) || !json_is_boolean(b) ||
	    get_id(j, "claim_id", m->claim_id) != TL_OK || get_id(j, "report_id", m->report_id) != TL_OK ||
	    get_id(j, "payee_ref", m->payee_ref) != TL_OK || get_time(j, "at", &m->at_ms) != TL_OK)
		goto out;
	m->eligible = json_is_true(b);
	if (json_object_get(j, "reason") && get_fixed(j, "reason", m->reason, sizeof(m->reason)) != TL_OK)
		goto out;
	if (elig_ok(m))
		e = TL_OK;
out:
	json_decref(j);
	if (e != TL_OK)
		memset(m, 0, sizeof(*m));
	return e;
}

static bool
sig_hex_get(json_t *o, unsigned char sig[WIRE_SIG_LEN])
{
	json_t *s = json_object_get(o, "sig");
	size_t binlen = 0;

	if (!json_is_string(s) || json_string_length(s) != 2 * WIRE_SIG_LEN)
		return false;
	for (const char *p = json_string_value(s); *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return sodium_hex2bin(sig, WIRE_SIG_LEN, json_string_value(s), 2 * WIRE_SIG_LEN, NULL, &binlen,
	                      NULL) == 0 &&
	       binlen == WIRE_SIG_LEN;
}

static const char *const revreq_keys[] = { "v", "type", "request_id", "batch_id", "award",
	                                   "approvals", "shares" };
static const char *const approval_keys[] = { "staff_id", "sig" };
static const char *const rshare_keys[] = { "share_idx", "report_id", "payee_ref" };

static bool
award_text_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n <= WIRE_AWARD_TEXT_MAX && utf8_valid(s, n, NULL);
}

enum tl_err
wire_reveal_req_encode(const struct wire_reveal_req *m, struct buf *out)
{
	json_t *o, *arr = NULL, *it;
	char hex[2 * WIRE_SIG_LEN + 1];
	enum tl_err e = TL_EINVAL;

	if (!id_valid(m->request_id) || !id_valid(m->batch_id) || !award_text_ok(m->award) ||
	    m->n_approvals == 0 || m->n_approvals > WIRE_MAX_APPROVALS || m->n_shares == 0 ||
	    m->n_shares > WIRE_MAX_SHARES)
		return TL_EINVAL;
	if (!(o = header("reveal_req")))
		return TL_ENOMEM;
	if (!set_str(o, "request_id", m->request_id) || !set_str(o, "batch_id", m->batch_id) ||
	    !set_str(o, "award", m->award) || !(arr = json_array()))
		goto out;
	for (size_t i = 0; i < m->n_approvals; i++) {
		if (!wire_actor_valid(m->approvals[i].staff_id) || !(it = json_object()))
			goto out;
		sodium_bin2hex(hex, sizeof(hex), m->approvals[i].sig, WIRE_SIG_LEN);
		if (json_array_append_new(arr, it) != 0 || !set_str(it, "staff_id", m->approvals[i].staff_id) ||
		    !set_str(it, "sig", hex))
			goto out;
	}
	if (json_object_set_new(o, "approvals", arr) != 0) {
		arr = NULL;
		goto out;
	}
	if (!(arr = json_array()))
		goto out;
	for (size_t i = 0; i < m->n_shares; i++) {
		const struct wire_reveal_share *sh = &m->shares[i];

		if (sh->share_idx < 0 || sh->share_idx >= WIRE_MAX_SHARES || !id_valid(sh->report_id) ||
		    !id_valid(sh->payee_ref) || !(it = json_object()))
			goto out;
		if (json_array_append_new(arr, it) != 0 || !set_int(it, "share_idx", sh->share_idx) ||
		    !set_str(it, "report_id", sh->report_id) || !set_str(it, "payee_ref", sh->payee_ref))
			goto out;
	}
	if (json_object_set_new(o, "shares", arr) != 0) {
		arr = NULL;
		goto out;
	}
	arr = NULL;
	e = dump(o, out);
out:
	json_decref(arr);
	json_decref(o);
	return e;
}

enum tl_err
wire_reveal_req_decode(const char *data, size_t len, struct wire_reveal_req *m)
{
	json_t *j, *arr, *it;
	size_t i;
	enum tl_err e;

	memset(m, 0, sizeof(*m));
	if ((e = load(data, len, "reveal_req", &j)) != TL_OK)
		return e;
	if (!only_keys(j, revreq_keys, TL_ARRAY_LEN(revreq_keys)) ||
	    get_id(j, "request_id", m->request_id) != TL_OK || get_id(j, "batch_id", m->batch_id) != TL_OK) {
		e = TL_EPROTO;
		goto out;
	}
	if ((e = get_str(j, "award", true, WIRE_AWARD_TEXT_MAX, &m->award)) != TL_OK)
		goto out;
	e = TL_EPROTO;
	if (!award_text_ok(m->award))
		goto out;
	arr = json_object_get(j, "approvals");
	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > WIRE_MAX_APPROVALS)
		goto out;
	json_array_foreach(arr, i, it) {
		if (!json_is_object(it) || !only_keys(it, approval_keys, TL_ARRAY_LEN(approval_keys)) ||
		    get_fixed(it, "staff_id", m->approvals[i].staff_id, sizeof(m->approvals[i].staff_id)) != TL_OK ||
		    !wire_actor_valid(m->approvals[i].staff_id) || !sig_hex_get(it, m->approvals[i].sig))
			goto out;
	}
	m->n_approvals = json_array_size(arr);
	arr = json_object_get(j, "shares");
	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > WIRE_MAX_SHARES)
		goto out;
	json_array_foreach(arr, i, it) {
		int64_t idx;

		if (!json_is_object(it) || !only_keys(it, rshare_keys, TL_ARRAY_LEN(rshare_keys)) ||
		    get_int(it, "share_idx", 0, WIRE_MAX_SHARES - 1, &idx) != TL_OK ||
		    get_id(it, "report_id", m->shares[i].report_id) != TL_OK ||
		    get_id(it, "payee_ref", m->shares[i].payee_ref) != TL_OK)
			goto out;
		m->shares[i].share_idx = (int)idx;
	}
	m->n_shares = json_array_size(arr);
	e = TL_OK;
out:
	json_decref(j);
	if (e != TL_OK)
		wire_reveal_req_free(m);
	return e;
}

void
wire_reveal_req_free(struct wire_reveal_req *m)
{
	free(m->award);
	m->award = NULL;
}

static const char *const revrep_keys[] = { "v", "type", "request_id", "ok", "error", "rows" };
static const char *const row_keys[] = { "share_idx", "report_id", "payee_ref", "sealed" };

enum tl_err
wire_reveal_rep_encode(const struct wire_reveal_rep *m, struct buf *out)
{
	json_t *o, *arr = NULL, *it;
	enum tl_err e = TL_EINVAL;

	if (!id_valid(m->request_id) || m->n_rows > WIRE_MAX_SHARES ||
	    (m->ok ? (m->n_rows == 0 || m->error[0] != '\0')
	           : (m->n_rows != 0 || !in_set(m->error, reveal_errors, TL_ARRAY_LEN(reveal_errors)))))
		return TL_EINVAL;
	if (!(o = header("reveal_rep")))
		return TL_ENOMEM;
	if (!set_str(o, "request_id", m->request_id) ||
	    json_object_set_new(o, "ok", json_boolean(m->ok)) != 0 ||
	    (!m->ok && !set_str(o, "error", m->error)) || !(arr = json_array()))
		goto out;
	for (size_t i = 0; i < m->n_rows; i++) {
		const struct wire_reveal_row *r = &m->rows[i];

		if (r->share_idx < 0 || r->share_idx >= WIRE_MAX_SHARES || !id_valid(r->report_id) ||
		    !id_valid(r->payee_ref) || !(it = json_object()))
			goto out;
		if (json_array_append_new(arr, it) != 0 || !set_int(it, "share_idx", r->share_idx) ||
		    !set_str(it, "report_id", r->report_id) || !set_str(it, "payee_ref", r->payee_ref) ||
		    !set_sealed(it, "sealed", r->sealed, r->sealed_len))
			goto out;
	}
	if (json_object_set_new(o, "rows", arr) != 0) {
		arr = NULL;
		goto out;
	}
	arr = NULL;
	e = dump(o, out);
out:
	json_decref(arr);
	json_decref(o);
	return e;
}

enum tl_err
wire_reveal_rep_decode(const char *data, size_t len, struct wire_reveal_rep *m)
{
	json_t *j, *arr, *it, *ok;
	size_t i;
	enum tl_err e;

	memset(m, 0, sizeof(*m));
	if ((e = load(data, len, "reveal_rep", &j)) != TL_OK)
		return e;
	e = TL_EPROTO;
	ok = json_object_get(j, "ok");
	arr = json_object_get(j, "rows");
	if (!only_keys(j, revrep_keys, TL_ARRAY_LEN(revrep_keys)) || !json_is_boolean(ok) ||
	    get_id(j, "request_id", m->request_id) != TL_OK || !json_is_array(arr) ||
	    json_array_size(arr) > WIRE_MAX_SHARES)
		goto out;
	m->ok = json_is_true(ok);
	if (json_object_get(j, "error") && get_fixed(j, "error", m->error, sizeof(m->error)) != TL_OK)
		goto out;
	if (m->ok ? (m->error[0] != '\0' || json_array_size(arr) == 0)
	          : (!in_set(m->error, reveal_errors, TL_ARRAY_LEN(reveal_errors)) || json_array_size(arr) != 0))
		goto out;
	json_array_foreach(arr, i, it) {
		struct wire_reveal_row *r = &m->rows[i];
		int64_t idx;

		if (!json_is_object(it) || !only_keys(it, row_keys, TL_ARRAY_LEN(row_keys)) ||
		    get_int(it, "share_idx", 0, WIRE_MAX_SHARES - 1, &idx) != TL_OK ||
		    get_id(it, "report_id", r->report_id) != TL_OK ||
		    get_id(it, "payee_ref", r->payee_ref) != TL_OK)
			goto out;
		r->share_idx = (int)idx;
		m->n_rows = i + 1;
		if ((e = get_sealed(it, "sealed", &r->sealed, &r->sealed_len)) != TL_OK)
			goto out;
		e = TL_EPROTO;
	}
	m->n_rows = json_array_size(arr);
	e = TL_OK;
out:
	json_decref(j);
	if (e != TL_OK)
		wire_reveal_rep_free(m);
	return e;
}

void
wire_reveal_rep_free(struct wire_reveal_rep *m)
{
	for (size_t i = 0; i < m->n_rows && i < WIRE_MAX_SHARES; i++) {
		free(m->rows[i].sealed);
		m->rows[i].sealed = NULL;
		m->rows[i].sealed_len = 0;
	}
	m->n_rows = 0;
}
