#include "compat.h"
#include "vault.h"
#include "cfg.h"
#include "log.h"

/* The whole tipline-vault configuration.  Secrets appear only as paths to
 * key files; cfg_load() checks their owner and mode. */
static const struct cfg_key vault_schema[] = {
	{ "vault", "database", CFG_PATH, NULL, offsetof(struct vault_cfg, database), 0, 0 },
	{ "vault", "database_key", CFG_SECRET_FILE, NULL, offsetof(struct vault_cfg, database_key), 0, 0 },
	{ "vault", "box_secret_key", CFG_SECRET_FILE, NULL, offsetof(struct vault_cfg, box_secret_key), 0, 0 },
	{ "vault", "box_public_key", CFG_PUBLIC_FILE, NULL, offsetof(struct vault_cfg, box_public_key), 0, 0 },
	{ "vault", "pseudonym_key", CFG_SECRET_FILE, NULL, offsetof(struct vault_cfg, pseudonym_key), 0, 0 },
	{ "vault", "fetch_batch", CFG_INT, "64", offsetof(struct vault_cfg, fetch_batch), 1, 1024 },
	/* Award claims and payee reveal (docs/vault.md, docs/award-flow.md). */
	{ "payees", "approvers_file", CFG_FILE, NULL, offsetof(struct vault_cfg, approvers_file), 0, 0 },
	{ "payees", "exclusion_file", CFG_FILE, NULL, offsetof(struct vault_cfg, exclusion_file), 0, 0 },
	{ "payees", "exclusion_key", CFG_SECRET_FILE, NULL, offsetof(struct vault_cfg, exclusion_key), 0, 0 },
	{ "payees", "export_public_key", CFG_PUBLIC_FILE, NULL, offsetof(struct vault_cfg, export_public_key), 0, 0 },
	{ "payees", "dual_approval_threshold_fen", CFG_INT, "10000000",
	  offsetof(struct vault_cfg, dual_threshold_fen), 1, 50000000 },
	{ "payees", "audit_log", CFG_PATH, NULL, offsetof(struct vault_cfg, audit_log), 0, 0 },
	{ "payees", "audit_secret_key", CFG_SECRET_FILE, NULL, offsetof(struct vault_cfg, audit_secret_key), 0, 0 },
	{ "nats", "url", CFG_STR, "nats://127.0.0.1:4222", offsetof(struct vault_cfg, nats_url), 0, 0 },
	{ "nats", "user", CFG_STR, "vault", offsetof(struct vault_cfg, nats_user), 0, 0 },
	{ "nats", "password_file", CFG_SECRET_FILE, NULL, offsetof(struct vault_cfg, nats_password_file), 0, 0 },
	{ "log", "level", CFG_STR, "info", offsetof(struct vault_cfg, log_level), 0, 0 },
};

enum tl_err
vault_cfg_load(const char *path, struct vault_cfg *c, char *err, size_t errlen)
{
	enum tl_err e;

	memset(c, 0, sizeof(*c));
	if ((e = cfg_load(path, vault_schema, TL_ARRAY_LEN(vault_schema), c, err, errlen)) != TL_OK)
		return e;
	if (log_level_parse(c->log_level) < 0) {
		snprintf(err, errlen, "%s: [log] level = \"%s\": expected debug, info, warn or error", path,
		         c->log_level);
		vault_cfg_free(c);
		return TL_ECONFIG;
	}
	return TL_OK;
}

void
vault_cfg_free(struct vault_cfg *c)
{
	cfg_free(vault_schema, TL_ARRAY_LEN(vault_schema), c);
}
