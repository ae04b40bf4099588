/*
 * request.c - see request.h.  jansson parses; everything else (types,
 * sizes, trimming, district codes, unknown fields) is checked here, in
 * document order, so the first problem in the body is the one reported.
 */
#include "compat.h"
#include "secret.h"
#include "request.h"
#include "jsonbody.h"
#include "district.h"
#include "utf8.h"

#include <jansson.h>
#include <sodium.h>

static const struct {
	const char *name, *message;
} codes[REQ_NCODES] = {
	[REQ_OK] = { "ok", "" },
	[REQ_INVALID_JSON] = { "invalid_json", "请求内容不是有效的 JSON 对象。" },
	[REQ_INVALID_UTF8] = { "invalid_utf8", "请求内容不是有效的 UTF-8 编码。" },
	[REQ_UNKNOWN_FIELD] = { "unknown_field", "请求包含不支持的字段" },
	[REQ_INVALID_FIELD] = { "invalid_field", "字段类型不正确" },
	[REQ_FIELD_TOO_LONG] = { "field_too_long", "字段内容过长" },
	[REQ_MISSING_TEXT] = { "missing_text", "缺少举报内容（text 字段）。" },
	[REQ_EMPTY_TEXT] = { "empty_text", "举报内容不能为空。" },
	[REQ_TEXT_TOO_LONG] = { "text_too_long", "举报内容不能超过 20000 个字。" },
	[REQ_UNKNOWN_DISTRICT] = { "unknown_district",
	                           "所选区县代码无效，请填写天津市各区的六位行政区划代码（如 120116）。" },
};

const char *
req_code_name(enum req_code c)
{
	return (unsigned)c < REQ_NCODES ? codes[c].name : "invalid_request";
}

const char *
req_code_message(enum req_code c)
{
	return (unsigned)c < REQ_NCODES ? codes[c].message : "请求无效。";
}

/* ---- helpers ---- */

_Static_assert(sizeof(((struct req_error *)0)->field) > JSONBODY_FIELD_MAX, "req_error.field");

static enum req_code
fail(struct req_error *err, enum req_code c, const char *field)
{
	err->code = c;
	err->field[0] = '\0';
	if (field)
		jsonbody_field(err->field, field);
	return c;
}

static char *
dup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
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

/* An optional string field: NULL/absent and "" (after trimming) give
 * *out = NULL.  max_bytes bounds the raw value; max_chars (0: none) the
 * trimmed character count. */
static enum req_code
opt_str(json_t *v, const char *field, size_t max_bytes, size_t max_chars, char **out,
        struct req_error *err)
{
	const char *s;
	size_t n, nchars = 0;

	*out = NULL;
	if (!v || json_is_null(v))
		return REQ_OK;
	if (!json_is_string(v))
		return fail(err, REQ_INVALID_FIELD, field);
	if (json_string_length(v) > max_bytes)
		return fail(err, REQ_FIELD_TOO_LONG, field);
	/* jansson has checked UTF-8; NUL (\u0000) is rejected without
	 * JSON_ALLOW_NUL, but check anyway: C strings follow. */
	if (!utf8_valid(json_string_value(v), json_string_length(v), NULL))
		return fail(err, REQ_INVALID_UTF8, field);
	s = jsonbody_trim(json_string_value(v), json_string_length(v), &n);
	if (max_chars && (!utf8_valid(s, n, &nchars) || nchars > max_chars))
		return fail(err, REQ_FIELD_TOO_LONG, field);
	if (n == 0)
		return REQ_OK;
	if (!(*out = dup_n(s, n)))
		return fail(err, REQ_INVALID_JSON, NULL); /* out of memory: caller maps */
	return REQ_OK;
}

static enum req_code
parse_contact(json_t *c, struct intake_request *r, struct req_error *err)
{
	static const char *const names[] = { "name", "phone", "email", "id_number", "wechat" };
	char **slots[] = { &r->contact.name, &r->contact.phone, &r->contact.email,
	                   &r->contact.id_number, &r->contact.wechat };
	char field[80];
	const char *k;
	json_t *v;
	enum req_code rc;

	if (!c || json_is_null(c))
		return REQ_OK;
	if (!json_is_object(c))
		return fail(err, REQ_INVALID_FIELD, "contact");
	json_object_foreach(c, k, v) {
		size_t i;
		for (i = 0; i < TL_ARRAY_LEN(names); i++)
			if (strcmp(k, names[i]) == 0)
				break;
		snprintf(field, sizeof(field), "contact.%s", k);
		if (i == TL_ARRAY_LEN(names))
			return fail(err, REQ_UNKNOWN_FIELD, field);
		if ((rc = opt_str(v, field, WIRE_MAX_FIELD_BYTES, 0, slots[i], err)) != REQ_OK)
			return rc;
		if (*slots[i])
			r->has_contact = true;
	}
	return REQ_OK;
}

enum req_code
request_parse(const char *body, size_t len, struct intake_request *out, struct req_error *err)
{
	static const char *const known[] = { "text", "location", "district", "category", "contact" };
	json_t *j = NULL, *v;
	const char *k, *s;
	size_t n, nchars;
	enum jsonbody_err jr;
	enum req_code rc = REQ_OK;

	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	if ((jr = jsonbody_load(body, len, &j)) != JSONBODY_OK)
		return fail(err, jr == JSONBODY_INVALID_UTF8 ? REQ_INVALID_UTF8 : REQ_INVALID_JSON, NULL);
	/* Unknown fields first, in document order. */
	json_object_foreach(j, k, v) {
		size_t i;
		for (i = 0; i < TL_ARRAY_LEN(known); i++)
			if (strcmp(k, known[i]) == 0)
				break;
		if (i == TL_ARRAY_LEN(known)) {
			rc = fail(err, REQ_UNKNOWN_FIELD, k);
			goto out;
		}
	}

	v = json_object_get(j, "text");
	if (!v || json_is_null(v)) {
		rc = fail(err, REQ_MISSING_TEXT, "text");
		goto out;
	}
	if (!json_is_string(v)) {
		rc = fail(err, REQ_INVALID_FIELD, "text");
		goto out;
	}
	s = jsonbody_trim(json_string_value(v), json_string_length(v), &n);
	if (!utf8_valid(s, n, &nchars)) {
		rc = fail(err, REQ_INVALID_UTF8, "text");
		goto out;
	}
	if (nchars == 0) {
		rc = fail(err, REQ_EMPTY_TEXT, "text");
		goto out;
	}
	if (nchars > WIRE_MAX_TEXT_CHARS || n > WIRE_MAX_TEXT_BYTES) {
		rc = fail(err, REQ_TEXT_TOO_LONG, "text");
		goto out;
	}
	if (!(out->text = dup_n(s, n))) {
		rc = fail(err, REQ_INVALID_JSON, NULL);
		goto out;
	}
	out->text_len = n;

	if ((rc = opt_str(json_object_get(j, "location"), "location", WIRE_MAX_FIELD_BYTES, 0,
	                  &out->location, err)) != REQ_OK ||
	    (rc = opt_str(json_object_get(j, "category"), "category", WIRE_MAX_FIELD_BYTES,
	                  REQ_MAX_CATEGORY_CHARS, &out->category, err)) != REQ_OK)
		goto out;

	v = json_object_get(j, "district");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v)) {
			rc = fail(err, REQ_INVALID_FIELD, "district");
			goto out;
		}
		s = jsonbody_trim(json_string_value(v), json_string_length(v), &n);
		if (n > 0) {
			if (n != DISTRICT_CODE_LEN || memchr(s, '\0', n) ||
			    (memcpy(out->district, s, n), out->district[n] = '\0', !district_valid(out->district))) {
				out->district[0] = '\0';
				rc = fail(err, REQ_UNKNOWN_DISTRICT, "district");
				goto out;
			}
		}
	}
	rc = parse_contact(json_object_get(j, "contact"), out, err);
out:
	jsonbody_free(j);
	if (rc != REQ_OK)
		request_free(out);
	return rc;
}

void
request_free(struct intake_request *r)
{
	free_wipe(&r->text);
	free_wipe(&r->location);
	free_wipe(&r->category);
	free_wipe(&r->contact.name);
	free_wipe(&r->contact.phone);
	free_wipe(&r->contact.email);
	free_wipe(&r->contact.id_number);
	free_wipe(&r->contact.wechat);
	r->text_len = 0;
	r->district[0] = '\0';
	r->has_contact = false;
}

/* ---- headers ---- */

static bool
ieq(const char *a, size_t alen, const char *b)
{
	size_t bl = strlen(b);

	if (alen != bl)
		return false;
	for (size_t i = 0; i < alen; i++) {
		char x = a[i], y = b[i];
		if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

bool
request_content_type_ok(const char *ct)
{
	const char *semi, *p, *e;
	size_t n;

	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t') ct++;
	semi = strchr(ct, ';');
	n = semi ? (size_t)(semi - ct) : strlen(ct);
	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
	if (!ieq(ct, n, "application/json"))
		return false;
	if (!semi)
		return true;
	/* Exactly one parameter, charset=utf-8 (optionally quoted). */
	p = semi + 1;
	while (*p == ' ' || *p == '\t') p++;
	e = p + strlen(p);
	while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
	return ieq(p, (size_t)(e - p), "charset=utf-8") || ieq(p, (size_t)(e - p), "charset=\"utf-8\"");
}

bool
request_idem_key_ok(const char *k)
{
	size_t n;

	if (!k)
		return false;
	n = strlen(k);
	if (n == 0 || n > REQ_MAX_IDEM_KEY)
		return false;
	for (size_t i = 0; i < n; i++)
		if (k[i] < 0x20 || k[i] > 0x7e)
			return false;
	return true;
}

/* ---- error bodies ---- */

enum tl_err
request_error_json(const char *code, const char *message, const char *field, struct buf *out)
{
	json_t *o = json_object();
	enum tl_err e = TL_ENOMEM;
	char *s = NULL;

	if (!o)
		return TL_ENOMEM;
	if (json_object_set_new(o, "error", json_string(code)) != 0 ||
	    json_object_set_new(o, "message", json_string(message)) != 0 ||
	    (field && field[0] && json_object_set_new(o, "field", json_string(field)) != 0))
		goto out;
	if (!(s = json_dumps(o, JSON_COMPACT)))
		goto out;
	buf_reset(out);
	e = buf_append_str(out, s);
out:
	secret_json_free(s);
	json_decref(o);
	return e;
}

enum tl_err
request_error_body(const struct req_error *err, struct buf *out)
{
	char msg[256];
	const char *m = req_code_message(err->code);

	switch (err->code) {
	case REQ_UNKNOWN_FIELD:
	case REQ_INVALID_FIELD:
	case REQ_FIELD_TOO_LONG:
		/* json_string() escapes it; the name is the client's own. */
		snprintf(msg, sizeof(msg), "%s：%s", m, err->field);
		m = msg;
		break;
	default:
		break;
	}
	return request_error_json(req_code_name(err->code), m, err->field, out);
}
