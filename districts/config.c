#include "compat.h"
#include "node.h"
#include "cfg.h"
#include "district.h"
#include "log.h"

#include <libgen.h>

/* The whole tipline-district configuration.  Secrets appear only as paths
 * (the database key file; the folder of NATS password files). */
static const struct cfg_key node_schema[] = {
	{ "district", "districts", CFG_STR, NULL, offsetof(struct node_cfg, districts), 0, 0 },
	{ "district", "database", CFG_PATH, NULL, offsetof(struct node_cfg, database), 0, 0 },
	{ "district", "database_key", CFG_SECRET_FILE, NULL, offsetof(struct node_cfg, database_key), 0, 0 },
	{ "district", "lease_seconds", CFG_INT, "259200", offsetof(struct node_cfg, lease_seconds), 1, 31536000 },
	{ "district", "idle_seconds", CFG_INT, "172800", offsetof(struct node_cfg, idle_seconds), 1, 31536000 },
	{ "district", "claim_days", CFG_INT, "1", offsetof(struct node_cfg, claim_days), 1, 365 },
	{ "district", "finding_days", CFG_INT, "30", offsetof(struct node_cfg, finding_days), 1, 365 },
	{ "district", "verdict_days", CFG_INT, "90", offsetof(struct node_cfg, verdict_days), 1, 365 },
	{ "district", "transfer_days", CFG_INT, "2", offsetof(struct node_cfg, transfer_days), 1, 365 },
	{ "district", "max_transfers", CFG_INT, "2", offsetof(struct node_cfg, max_transfers), 1, 10 },
	{ "district", "holidays", CFG_STR, "", offsetof(struct node_cfg, holidays), 0, 0 },
	{ "district", "scan_seconds", CFG_INT, "60", offsetof(struct node_cfg, scan_seconds), 1, 3600 },
	{ "district", "fetch_batch", CFG_INT, "64", offsetof(struct node_cfg, fetch_batch), 1, 1024 },
	{ "nats", "url", CFG_STR, "nats://127.0.0.1:4222", offsetof(struct node_cfg, nats_url), 0, 0 },
	{ "nats", "password_dir", CFG_PATH, NULL, offsetof(struct node_cfg, nats_password_dir), 0, 0 },
	{ "log", "level", CFG_STR, "info", offsetof(struct node_cfg, log_level), 0, 0 },
	/* The responder console (docs/console.md). */
	{ "console", "listen_address", CFG_STR, "127.0.0.1", offsetof(struct node_cfg, console_address), 0, 0 },
	{ "console", "listen_port", CFG_INT, "0", offsetof(struct node_cfg, console_port), 0, 65535 },
	{ "console", "users_database", CFG_PATH, "", offsetof(struct node_cfg, console_users_db), 0, 0 },
	{ "console", "cookie_secure", CFG_BOOL, "true", offsetof(struct node_cfg, console_cookie_secure), 0, 0 },
	{ "console", "session_idle_seconds", CFG_INT, "1800", offsetof(struct node_cfg, console_idle_seconds), 60, 86400 },
	{ "console", "session_lifetime_seconds", CFG_INT, "43200", offsetof(struct node_cfg, console_lifetime_seconds),
	  300, 604800 },
	{ "console", "threads", CFG_INT, "4", offsetof(struct node_cfg, console_threads), 1, 16 },
};

static enum tl_err
parse_codes(const char *path, struct node_cfg *c, char *err, size_t errlen)
{
	const char *p = c->districts;
	size_t nall;
	const struct district *all = district_all(&nall);

	c->ncodes = 0;
	if (strcmp(p, "all") == 0) {
		for (size_t i = 0; i < nall && i < CASE_MAX_DISTRICTS; i++)
			c->codes[c->ncodes++] = all[i].code;
		return TL_OK;
	}
	while (*p) {
		char code[8];
		size_t len = strcspn(p, ",");
		const struct district *d;

		while (len && p[0] == ' ') {
			p++;
			len--;
		}
		if (len >= sizeof(code))
			goto bad;
		memcpy(code, p, len);
		code[len] = '\0';
		while (len && code[len - 1] == ' ')
			code[--len] = '\0';
		if (!(d = district_find(code)))
			goto bad;
		for (size_t i = 0; i < c->ncodes; i++)
			if (strcmp(c->codes[i], d->code) == 0)
				goto bad;
		if (c->ncodes == CASE_MAX_DISTRICTS)
			goto bad;
		c->codes[c->ncodes++] = d->code; /* static storage */
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	if (c->ncodes)
		return TL_OK;
bad:
	snprintf(err, errlen, "%s: [district] districts = \"%s\": expected \"all\" or a comma-separated list of"
	                      " distinct district codes (120101 ... 120119, 120000)", path, c->districts);
	return TL_ECONFIG;
}

enum tl_err
node_cfg_load(const char *path, struct node_cfg *c, char *err, size_t errlen)
{
	char why[512], *hpath = NULL, *pathcopy = NULL;
	enum tl_err e;

	memset(c, 0, sizeof(*c));
	if ((e = cfg_load(path, node_schema, TL_ARRAY_LEN(node_schema), c, err, errlen)) != TL_OK)
		return e;
	e = TL_ECONFIG;
	if (log_level_parse(c->log_level) < 0) {
		snprintf(err, errlen, "%s: [log] level = \"%s\": expected debug, info, warn or error", path,
		         c->log_level);
		goto fail;
	}
	if ((e = parse_codes(path, c, err, errlen)) != TL_OK)
		goto fail;
	e = TL_ECONFIG;
	/* Unset (the default "" resolves to the config folder, "dir/"):
	 * next to the case database. */
	if (!c->console_users_db[0] || c->console_users_db[strlen(c->console_users_db) - 1] == '/') {
		size_t n = strlen(c->database) + sizeof("-users");
		char *u = malloc(n);
		if (!u) {
			e = TL_ENOMEM;
			goto fail;
		}
		snprintf(u, n, "%s-users", c->database);
		free(c->console_users_db);
		c->console_users_db = u;
	}
	if (c->console_idle_seconds > c->console_lifetime_seconds) {
		snprintf(err, errlen, "%s: [console] session_idle_seconds must not exceed session_lifetime_seconds", path);
		goto fail;
	}
	if (c->finding_days > c->verdict_days || c->claim_days > c->verdict_days) {
		snprintf(err, errlen, "%s: [district] claim_days and finding_days must not exceed verdict_days", path);
		goto fail;
	}
	if (c->holidays[0]) {
		/* Relative to the config file, like every other path. */
		if (c->holidays[0] == '/') {
			hpath = strdup(c->holidays);
		} else if ((pathcopy = strdup(path))) {
			const char *dir = dirname(pathcopy);
			size_t n = strlen(dir) + strlen(c->holidays) + 2;
			if ((hpath = malloc(n)))
				snprintf(hpath, n, "%s/%s", dir, c->holidays);
		}
		if (!hpath) {
			e = TL_ENOMEM;
			goto fail;
		}
		if (cal_load(hpath, &c->cal, why, sizeof(why)) != TL_OK) {
			snprintf(err, errlen, "%s: [district] holidays: %s", path, why);
			goto fail;
		}
	}
	free(hpath);
	free(pathcopy);
	return TL_OK;
fail:
	free(hpath);
	free(pathcopy);
	node_cfg_free(c);
	return e;
}

void
node_cfg_free(struct node_cfg *c)
{
	cal_free(&c->cal);
	cfg_free(node_schema, TL_ARRAY_LEN(node_schema), c);
}

void
node_case_cfg(const struct node_cfg *c, struct case_cfg *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < c->ncodes; i++)
		out->districts[i] = c->codes[i];
	out->ndistricts = c->ncodes;
	out->lease_ms = c->lease_seconds * 1000;
	out->idle_ms = c->idle_seconds * 1000;
	out->claim_days = (int)c->claim_days;
	out->finding_days = (int)c->finding_days;
	out->verdict_days = (int)c->verdict_days;
	out->transfer_days = (int)c->transfer_days;
	out->max_transfers = (int)c->max_transfers;
	out->cal = &c->cal;
}

void
node_user_name(const char *code, char *out, size_t outlen)
{
	snprintf(out, outlen, "district-%s", code);
}

void
node_lead_consumer(const char *code, char *out, size_t outlen)
{
	snprintf(out, outlen, "district-%s", code);
}

void
node_xfer_consumer(const char *code, char *out, size_t outlen)
{
	snprintf(out, outlen, "district-%s-xfer", code);
}

void
node_event_consumer(const char *code, char *out, size_t outlen)
{
	snprintf(out, outlen, "district-%s-events", code);
}
