/*
 * pipeline.c - see pipeline.h.
 *
 * Order matters: the deposit (sealed identity) is published before the lead
 * so that a district can never hold a lead whose reporter the vault does
 * not know; the status entry is written last, so a receipt that answers
 * "received" always has both messages behind it.
 */
#include "compat.h"
#include "pipeline.h"
#include "district.h"
#include "log.h"
#include "num.h"
#include "redact.h"
#include "timefmt.h"

#include <sodium.h>

#define HASH_LEN 32

/* Keyed hash of (label, channel, key): the TL_IDEM key.  The idempotency key
 * itself may be identifying (clients put anything there) and is never
 * stored. */
static void
idem_hash(const struct pipeline *p, const struct report *r, unsigned char out[HASH_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, p->ids_key, PIPELINE_KEY_BYTES, HASH_LEN);
	crypto_generichash_update(&st, (const unsigned char *)"tl-idem-key", 12);
	crypto_generichash_update(&st, (const unsigned char *)r->channel, strlen(r->channel) + 1);
	crypto_generichash_update(&st, (const unsigned char *)r->idem_key, r->idem_key_len);
	crypto_generichash_final(&st, out, HASH_LEN);
}

/* Keyed, so that TL_IDEM does not hold a plain hash of a body that
 * contains identity (a guessable body could be confirmed from it). */
static void
content_hash(const struct pipeline *p, const struct report *r, unsigned char out[HASH_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, p->ids_key, PIPELINE_KEY_BYTES, HASH_LEN);
	crypto_generichash_update(&st, (const unsigned char *)"tl-idem-body", 13);
	crypto_generichash_update(&st, r->idem_content, r->idem_content_len);
	crypto_generichash_final(&st, out, HASH_LEN);
}

static bool
report_valid(const struct report *r)
{
	size_t n;

	if (!r->channel || !wire_channel_valid(r->channel) || !r->text || r->text_len == 0 ||
	    r->text_len > WIRE_MAX_TEXT_BYTES || strlen(r->text) != r->text_len)
		return false;
	if (r->location && (r->location_len > WIRE_MAX_FIELD_BYTES || strlen(r->location) != r->location_len))
		return false;
	if (r->district && !district_valid(r->district))
		return false;
	if (r->category && strlen(r->category) > WIRE_MAX_FIELD_BYTES)
		return false;
	if (r->channel_msg_id && strlen(r->channel_msg_id) > WIRE_MAX_MSGID_BYTES)
		return false;
	if (r->idem_key && (r->idem_key_len == 0 || r->idem_key_len > WIRE_MAX_MSGID_BYTES))
		return false;
	n = r->idem_key ? 1 : 0;
	return n == 0 || r->idem_content != NULL;
}

enum tl_err
pipeline_seal(const struct pipeline *p, const struct buf *plain, unsigned char **sealed,
              size_t *sealed_len)
{
	unsigned char *c;

	*sealed = NULL;
	*sealed_len = 0;
	if (!plain->data || plain->len == 0 || plain->len > SIZE_MAX - crypto_box_SEALBYTES)
		return TL_EINVAL;
	if (!(c = malloc(plain->len + crypto_box_SEALBYTES)))
		return TL_ENOMEM;
	if (crypto_box_seal(c, (const unsigned char *)plain->data, plain->len, p->vault_pk) != 0) {
		free(c);
		return TL_ECRYPTO;
	}
	*sealed = c;
	*sealed_len = plain->len + crypto_box_SEALBYTES;
	return TL_OK;
}

/* Seals the identity to the vault key.  The plaintext lives only in a
 * secret buffer that is wiped on every path. */
static enum tl_err
seal_identity(const struct pipeline *p, const struct report *r, const char *report_id,
              unsigned char **sealed, size_t *sealed_len)
{
	struct wire_identity id;
	struct buf plain;
	enum tl_err e;

	memset(&id, 0, sizeof(id));
	buf_init_secret(&plain, WIRE_MAX_MSG);
	snprintf(id.report_id, sizeof(id.report_id), "%s", report_id);
	snprintf(id.channel, sizeof(id.channel), "%s", r->channel);
	id.received_ms = r->received_ms;
	/* Borrowed pointers: wire_identity_encode only reads them. */
	id.contact = r->contact;
	id.text = (char *)(uintptr_t)r->text;
	id.location = (char *)(uintptr_t)r->location;
	id.channel_msg_id = (char *)(uintptr_t)r->channel_msg_id;
	if ((e = wire_identity_encode(&id, &plain)) == TL_OK)
		e = pipeline_seal(p, &plain, sealed, sealed_len);
	buf_free(&plain);
	sodium_memzero(&id, sizeof(id));
	return e;
}

static void
add_counts(unsigned *sum, const struct redact_result *r)
{
	for (int t = 0; t < REDACT_NTYPES; t++)
		sum[t] += r->counts[t];
}

/* Returns TL_OK with *done set when an earlier attempt under the same key
 * finished, TL_OK with !*done when this attempt must (re)publish. */
static enum tl_err
idem_claim(const struct pipeline *p, const struct report *r, const char *status_key, bool *done)
{
	unsigned char kh[HASH_LEN], ch[HASH_LEN];
	char key[2 * HASH_LEN + 1], val[2 * HASH_LEN + 1];
	struct buf got;
	enum tl_err e;

	*done = false;
	idem_hash(p, r, kh);
	content_hash(p, r, ch);
	hex_encode(kh, sizeof(kh), key);
	hex_encode(ch, sizeof(ch), val);
	buf_init(&got, 256);
	e = p->bus.kv_create(p->bus.cls, WIRE_KV_IDEM, key, val, strlen(val));
	if (e == TL_OK)
		goto out;
	if (e != TL_EEXIST)
		goto out;
	/* The key was used before: same content is a retry, other content is
	 * a client bug that must not silently return someone else's receipt. */
	if ((e = p->bus.kv_get(p->bus.cls, WIRE_KV_IDEM, key, &got)) != TL_OK) {
		if (e == TL_ENOTFOUND)
			e = TL_EUNAVAIL; /* raced with a delete; let the client retry */
		goto out;
	}
	if (got.len != strlen(val) || sodium_memcmp(got.data, val, got.len) != 0) {
		e = TL_ECONFLICT;
		goto out;
	}
	e = p->bus.kv_get(p->bus.cls, WIRE_KV_STATUS, status_key, &got);
	if (e == TL_OK)
		*done = true;
	else if (e == TL_ENOTFOUND)
		e = TL_OK; /* the earlier attempt stopped half-way: finish it */
out:
	buf_free(&got);
	return e;
}

enum tl_err
pipeline_submit(const struct pipeline *p, const struct report *r, struct pipeline_result *out)
{
	struct redact_result rt, rl, rc;
	struct route_input ri;
	struct route_result rr;
	struct wire_deposit dep;
	struct wire_lead lead;
	struct wire_status st;
	struct buf msg;
	char status_key[STATUS_KEY_LEN + 1], subject[64], msg_id[ID_HEX_LEN + 8];
	bool done = false;
	enum tl_err e;

	memset(out, 0, sizeof(*out));
	memset(&rt, 0, sizeof(rt));
	memset(&rl, 0, sizeof(rl));
	memset(&rc, 0, sizeof(rc));
	memset(&dep, 0, sizeof(dep));
	memset(&lead, 0, sizeof(lead));
	buf_init(&msg, WIRE_MAX_MSG);
	if (!report_valid(r)) {
		e = TL_EINVAL;
		goto out;
	}

	/* Ids and receipt: derived for idempotent channels, random otherwise. */
	if (r->idem_key) {
		unsigned char seed[2 * HASH_LEN];
		idem_hash(p, r, seed);
		content_hash(p, r, seed + HASH_LEN);
		id_derive(p->ids_key, "report", seed, sizeof(seed), out->report_id);
		id_derive(p->ids_key, "lead", seed, sizeof(seed), out->lead_id);
		receipt_derive(p->ids_key, seed, sizeof(seed), out->receipt);
		sodium_memzero(seed, sizeof(seed));
	} else {
		id_new(out->report_id);
		id_new(out->lead_id);
		receipt_new(out->receipt);
	}
	receipt_status_key(p->status_key, out->receipt, status_key);

	/* Redact and route before anything is published: a failure here must
	 * leave no trace on the bus. */
	if ((e = redact_text(r->text, r->text_len, &rt)) != TL_OK ||
	    (r->location && (e = redact_text(r->location, r->location_len, &rl)) != TL_OK) ||
	    (r->category && (e = redact_text(r->category, strlen(r->category), &rc)) != TL_OK))
		goto out;
	memset(&ri, 0, sizeof(ri));
	ri.district = r->district;
	ri.location = r->location;
	ri.location_len = r->location ? r->location_len : 0;
	ri.text = rt.text;
	ri.text_len = rt.len;
	ri.has_coords = r->has_coords;
	ri.lat = r->lat;
	ri.lon = r->lon;
	if ((e = route_decide(p->gaz, &ri, &rr)) != TL_OK)
		goto out;
	if (!district_valid(rr.district)) {
		e = TL_EINVAL;
		goto out;
	}
	snprintf(out->district, sizeof(out->district), "%s", rr.district);
	snprintf(out->route_rule, sizeof(out->route_rule), "%s", route_rule_name(rr.rule));

	if (r->idem_key) {
		if ((e = idem_claim(p, r, status_key, &done)) != TL_OK)
			goto out;
		if (done) {
			out->replayed = true;
			goto out;
		}
	}

	/* 1. tl.deposit.report: the sealed identity. */
	snprintf(dep.report_id, sizeof(dep.report_id), "%s", out->report_id);
	snprintf(dep.channel, sizeof(dep.channel), "%s", r->channel);
	dep.received_ms = r->received_ms;
	snprintf(dep.status_key, sizeof(dep.status_key), "%s", status_key);
	if ((e = seal_identity(p, r, out->report_id, &dep.sealed, &dep.sealed_len)) != TL_OK ||
	    (e = wire_deposit_encode(&dep, &msg)) != TL_OK)
		goto out;
	snprintf(msg_id, sizeof(msg_id), "dep-%s", out->report_id);
	if ((e = p->bus.publish(p->bus.cls, WIRE_SUBJ_DEPOSIT_REPORT, msg.data, msg.len, msg_id)) != TL_OK)
		goto out;

	/* 2. tl.lead.<district>: what the district may see. */
	snprintf(lead.lead_id, sizeof(lead.lead_id), "%s", out->lead_id);
	snprintf(lead.report_id, sizeof(lead.report_id), "%s", out->report_id);
	snprintf(lead.district, sizeof(lead.district), "%s", rr.district);
	snprintf(lead.channel, sizeof(lead.channel), "%s", r->channel);
	lead.received_ms = r->received_ms;
	lead.text = rt.text;
	lead.location = rl.text && rl.len ? rl.text : NULL;
	lead.category = rc.text && rc.len ? rc.text : NULL;
	snprintf(lead.route_rule, sizeof(lead.route_rule), "%s", route_rule_name(rr.rule));
	lead.route_confidence = rr.confidence;
	add_counts(lead.redactions, &rt);
	add_counts(lead.redactions, &rl);
	add_counts(lead.redactions, &rc);
	lead.has_contact = r->contact.name || r->contact.phone || r->contact.email ||
	                   r->contact.id_number || r->contact.wechat;
	snprintf(lead.status_key, sizeof(lead.status_key), "%s", status_key);
	if ((e = wire_lead_encode(&lead, &msg)) != TL_OK ||
	    (e = wire_subject_lead(rr.district, subject, sizeof(subject))) != TL_OK)
		goto out;
	snprintf(msg_id, sizeof(msg_id), "lead-%s", out->lead_id);
	if ((e = p->bus.publish(p->bus.cls, subject, msg.data, msg.len, msg_id)) != TL_OK)
		goto out;

	/* 3. TL_STATUS[status_key] = received.  Create-only: a random receipt
	 * that collides must never overwrite another reporter's status. */
	memset(&st, 0, sizeof(st));
	snprintf(st.status, sizeof(st.status), "received");
	st.updated_ms = time_now_ms();
	if ((e = wire_status_encode(&st, &msg)) != TL_OK)
		goto out;
	e = p->bus.kv_create(p->bus.cls, WIRE_KV_STATUS, status_key, msg.data, msg.len);
	if (e == TL_EEXIST && r->idem_key)
		e = TL_OK; /* a concurrent retry of the same report finished first */
	else if (e == TL_EEXIST)
		log_err("report=%s receipt collision on a random receipt; asking the client to retry",
		        out->report_id);
out:
	if (e != TL_OK)
		sodium_memzero(out->receipt, sizeof(out->receipt));
	sodium_memzero(status_key, sizeof(status_key));
	wire_deposit_free(&dep);
	if (rt.text || rt.spans)
		redact_result_free(&rt);
	if (rl.text || rl.spans)
		redact_result_free(&rl);
	if (rc.text || rc.spans)
		redact_result_free(&rc);
	buf_free(&msg);
	return e;
}
