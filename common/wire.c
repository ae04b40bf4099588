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

static const char *const statuses[] = {
	"received", "under_investigation", "verified", "unfounded", "award_approved",
	"claim_received", "paid", "forfeited",
};

static bool
status_valid(const char *s)
{
	for (size_t i = 0; i < TL_ARRAY_LEN(statuses); i++)
		if (strcmp(s, statuses[i]) == 0)
			return true;
	return false;
}

enum tl_err
wire_status_encode(const struct wire_status *m, struct buf *out)
{
	json_t *o = header("status");
	enum tl_err e = TL_EINVAL;

	if (!o)
		return TL_ENOMEM;
	if (!status_valid(m->status) || !set_str(o, "status", m->status) ||
	    !set_time(o, "updated_at", m->updated_ms))
		goto out;
	e = dump(o, out);
out:
	json_decref(o);
	return e;
}

enum tl_err
wire_status_decode(const char *data, size_t len, struct wire_status *m)
{
	json_t *j;
	enum tl_err e;

	memset(m, 0, sizeof(*m));
	if ((e = load(data, len, "status", &j)) != TL_OK)
		return e;
	if (get_fixed(j, "status", m->status, sizeof(m->status)) != TL_OK || !status_valid(m->status) ||
	    get_time(j, "updated_at", &m->updated_ms) != TL_OK)
		e = TL_EPROTO;
	json_decref(j);
	return e;
}
