/*
 * config.c - see config.h.
 */
#include "compat.h"
#include "config.h"
#include "cfg.h"
#include "secret.h"

#include <sodium.h>

#define OFF(f) offsetof(struct intake_cfg, f)

static const struct cfg_key schema[] = {
	{ "intake", "listen_address", CFG_STR, "127.0.0.1", OFF(listen_address), 0, 0 },
	{ "intake", "listen_port", CFG_INT, "8080", OFF(listen_port), 0, 65535 },
	{ "intake", "max_body_bytes", CFG_INT, "262144", OFF(max_body_bytes), 1024, 4 * 1024 * 1024 },
	{ "intake", "threads", CFG_INT, "16", OFF(threads), 1, 256 },
	{ "intake", "vault_public_key", CFG_PUBLIC_FILE, NULL, OFF(vault_public_key), 0, 0 },
	{ "intake", "intake_key", CFG_SECRET_FILE, NULL, OFF(intake_key), 0, 0 },
	{ "intake", "gazetteer", CFG_FILE, TL_DATADIR "/tianjin-gazetteer.tsv", OFF(gazetteer), 0, 0 },
	{ "intake", "receipt_lookups_per_minute", CFG_INT, "30", OFF(receipt_lookups_per_minute), 1, 100000 },
	{ "intake", "claim_posts_per_minute", CFG_INT, "10", OFF(claim_posts_per_minute), 1, 100000 },
	{ "intake", "claim_posts_per_receipt_per_minute", CFG_INT, "5",
	  OFF(claim_posts_per_receipt_per_minute), 1, 100000 },
	{ "intake", "cookie_secure", CFG_BOOL, "true", OFF(cookie_secure), 0, 0 },
	{ "intake", "trusted_proxies", CFG_STR, "", OFF(trusted_proxies), 0, 0 },
	{ "nats", "url", CFG_STR, "nats://127.0.0.1:4222", OFF(nats_url), 0, 0 },
	{ "nats", "user", CFG_STR, "intake", OFF(nats_user), 0, 0 },
	{ "nats", "password_file", CFG_SECRET_FILE, NULL, OFF(nats_password_file), 0, 0 },
	{ "log", "level", CFG_STR, "info", OFF(log_level), 0, 0 },
};

enum tl_err
intake_cfg_load(const char *path, struct intake_cfg *c, char *err, size_t errlen)
{
	char why[160];
	enum tl_err e;

	memset(c, 0, sizeof(*c));
	if ((e = cfg_load(path, schema, TL_ARRAY_LEN(schema), c, err, errlen)) != TL_OK)
		return e;
	if (clientaddr_trust_parse(c->trusted_proxies, &c->trusted, why, sizeof(why)) != TL_OK) {
		snprintf(err, errlen, "%s: [intake] trusted_proxies: %s", path, why);
		intake_cfg_free(c);
		return TL_EINVAL;
	}
	return TL_OK;
}

void
intake_cfg_free(struct intake_cfg *c)
{
	cfg_free(schema, TL_ARRAY_LEN(schema), c);
}

enum tl_err
intake_keys_load(const struct intake_cfg *c, struct intake_keys *k, char *err, size_t errlen)
{
	unsigned char *master = NULL;
	enum tl_err e;

	memset(k, 0, sizeof(*k));
	if ((e = public_load(c->vault_public_key, k->vault_pk, sizeof(k->vault_pk), err, errlen)) != TL_OK)
		goto fail;
	if ((e = secret_load(c->intake_key, 32, &master, err, errlen)) != TL_OK)
		goto fail;
	if (!(k->sub = sodium_malloc(96))) {
		e = TL_ENOMEM;
		snprintf(err, errlen, "out of secure memory");
		goto fail;
	}
	if (crypto_kdf_derive_from_key(k->sub, 32, INTAKE_KDF_STATUS, INTAKE_KDF_CONTEXT, master) != 0 ||
	    crypto_kdf_derive_from_key(k->sub + 32, 32, INTAKE_KDF_IDS, INTAKE_KDF_CONTEXT, master) != 0 ||
	    crypto_kdf_derive_from_key(k->sub + 64, 32, INTAKE_KDF_RATELIMIT, INTAKE_KDF_CONTEXT, master) != 0) {
		e = TL_ECRYPTO;
		snprintf(err, errlen, "key derivation failed");
		goto fail;
	}
	secret_free(master);
	master = NULL;
	if ((e = secret_load_text(c->nats_password_file, &k->nats_password, err, errlen)) != TL_OK)
		goto fail;
	return TL_OK;
fail:
	secret_free(master);
	intake_keys_free(k);
	return e;
}

void
intake_keys_free(struct intake_keys *k)
{
	secret_free(k->sub);
	secret_free(k->nats_password);
	sodium_memzero(k, sizeof(*k));
}
