#include "compat.h"
#include "svc.h"
#include "cfg.h"
#include "log.h"

/* The whole tipline-payouts configuration (docs/configuration.md).
 * Secrets appear only as paths: the database key, the audit signing key
 * and the NATS password. */
static const struct cfg_key payouts_schema[] = {
	{ "payouts", "database", CFG_PATH, NULL, offsetof(struct payouts_cfg, database), 0, 0 },
	{ "payouts", "database_key", CFG_SECRET_FILE, NULL, offsetof(struct payouts_cfg, database_key), 0, 0 },
	{ "payouts", "rules", CFG_FILE, NULL, offsetof(struct payouts_cfg, rules), 0, 0 },
	{ "payouts", "export_public_key", CFG_PUBLIC_FILE, NULL, offsetof(struct payouts_cfg, export_public_key),
	  0, 0 },
	{ "payouts", "export_dir", CFG_PATH, NULL, offsetof(struct payouts_cfg, export_dir), 0, 0 },
	{ "payouts", "audit_log", CFG_PATH, NULL, offsetof(struct payouts_cfg, audit_log), 0, 0 },
	{ "payouts", "audit_secret_key", CFG_SECRET_FILE, NULL, offsetof(struct payouts_cfg, audit_secret_key),
	  0, 0 },
	/* 60 days by default; tests shorten it to seconds. */
	{ "payouts", "claim_window_seconds", CFG_INT, "5184000", offsetof(struct payouts_cfg, claim_window_s), 1,
	  315360000 },
	{ "payouts", "scan_interval_ms", CFG_INT, "1000", offsetof(struct payouts_cfg, scan_interval_ms), 10,
	  3600000 },
	{ "payouts", "reveal_timeout_ms", CFG_INT, "5000", offsetof(struct payouts_cfg, reveal_timeout_ms), 100,
	  600000 },
	{ "console", "listen_address", CFG_STR, "127.0.0.1", offsetof(struct payouts_cfg, listen_address), 0, 0 },
	/* 0 = no console (a second daemon on the same host in tests). */
	{ "console", "listen_port", CFG_INT, "8091", offsetof(struct payouts_cfg, listen_port), 0, 65535 },
	/* The console listens on loopback behind the TLS proxy, so the listen
	 * address says nothing about how the browser reached it: Secure
	 * unless the operator says this is the plain-HTTP development setup. */
	{ "console", "cookie_secure", CFG_BOOL, "true", offsetof(struct payouts_cfg, cookie_secure), 0, 0 },
	{ "nats", "url", CFG_STR, "nats://127.0.0.1:4222", offsetof(struct payouts_cfg, nats_url), 0, 0 },
	{ "nats", "user", CFG_STR, "payouts", offsetof(struct payouts_cfg, nats_user), 0, 0 },
	{ "nats", "password_file", CFG_SECRET_FILE, NULL, offsetof(struct payouts_cfg, nats_password_file), 0, 0 },
	{ "log", "level", CFG_STR, "info", offsetof(struct payouts_cfg, log_level), 0, 0 },
};

enum tl_err
payouts_cfg_load(const char *path, struct payouts_cfg *c, char *err, size_t errlen)
{
	enum tl_err e;

	memset(c, 0, sizeof(*c));
	if ((e = cfg_load(path, payouts_schema, TL_ARRAY_LEN(payouts_schema), c, err, errlen)) != TL_OK)
		return e;
	if (log_level_parse(c->log_level) < 0) {
		snprintf(err, errlen, "%s: [log] level = \"%s\": expected debug, info, warn or error", path,
		         c->log_level);
		payouts_cfg_free(c);
		return TL_ECONFIG;
	}
	if (!c->nats_user[0]) {
		snprintf(err, errlen, "%s: [nats] user must not be empty", path);
		payouts_cfg_free(c);
		return TL_ECONFIG;
	}
	return TL_OK;
}

void
payouts_cfg_free(struct payouts_cfg *c)
{
	cfg_free(payouts_schema, TL_ARRAY_LEN(payouts_schema), c);
	memset(c, 0, sizeof(*c));
}
