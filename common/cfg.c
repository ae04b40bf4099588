#include "compat.h"
#include "cfg.h"
#include "num.h"
#include "secret.h"

#include <ini.h>
#include <libgen.h>
#include <unistd.h>

#define CFG_MAX_KEYS 128

struct cfg_state {
	const struct cfg_key *schema;
	size_t n;
	void *out;
	const char *path;
	char *dir;
	bool seen[CFG_MAX_KEYS];
	char *err;
	size_t errlen;
	bool failed;
};

static bool
parse_bool(const char *v, bool *b)
{
	static const char *yes[] = { "true", "yes", "on", "1" };
	static const char *no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < TL_ARRAY_LEN(yes); i++) {
		if (strcmp(v, yes[i]) == 0) { *b = true; return true; }
		if (strcmp(v, no[i]) == 0) { *b = false; return true; }
	}
	return false;
}

static char *
resolve_path(const char *dir, const char *v)
{
	size_t n;
	char *p;

	if (v[0] == '/' || !dir)
		return strdup(v);
	n = strlen(dir) + strlen(v) + 2;
	if (!(p = malloc(n)))
		return NULL;
	snprintf(p, n, "%s/%s", dir, v);
	return p;
}

/* Stores one value; writes a message and returns false on error. */
static bool
store(struct cfg_state *st, const struct cfg_key *k, const char *v)
{
	char *field = (char *)st->out + k->off;
	char why[512];

	switch (k->type) {
	case CFG_INT: {
		int64_t x;
		if (num_parse_i64(v, strlen(v), k->min, k->max, &x) != TL_OK) {
			snprintf(st->err, st->errlen, "[%s] %s = \"%s\": expected a whole number from %lld to %lld",
			         k->section, k->name, v, (long long)k->min, (long long)k->max);
			return false;
		}
		memcpy(field, &x, sizeof(x));
		return true;
	}
	case CFG_BOOL: {
		bool b;
		if (!parse_bool(v, &b)) {
			snprintf(st->err, st->errlen, "[%s] %s = \"%s\": expected true or false",
			         k->section, k->name, v);
			return false;
		}
		memcpy(field, &b, sizeof(b));
		return true;
	}
	case CFG_STR: {
		char *s = strdup(v);
		char *old;
		if (!s)
			return false;
		memcpy(&old, field, sizeof(old));
		free(old);
		memcpy(field, &s, sizeof(s));
		return true;
	}
	case CFG_FILE:
	case CFG_PUBLIC_FILE:
	case CFG_SECRET_FILE:
	case CFG_PATH: {
		char *p = resolve_path(st->dir, v), *old;
		if (!p)
			return false;
		if (k->type == CFG_SECRET_FILE) {
			if (secret_check_file(p, why, sizeof(why)) != TL_OK) {
				snprintf(st->err, st->errlen, "[%s] %s: %s", k->section, k->name, why);
				free(p);
				return false;
			}
		} else if (k->type != CFG_PATH && access(p, R_OK) != 0) {
			snprintf(st->err, st->errlen, "[%s] %s: %s: %s", k->section, k->name, p,
			         strerror(errno));
			free(p);
			return false;
		}
		memcpy(&old, field, sizeof(old));
		free(old);
		memcpy(field, &p, sizeof(p));
		return true;
	}
	}
	return false;
}

static int
on_value(void *user, const char *section, const char *name, const char *value)
{
	struct cfg_state *st = user;

	if (st->failed)
		return 0;
	for (size_t i = 0; i < st->n; i++) {
		const struct cfg_key *k = &st->schema[i];
		if (strcmp(k->section, section) != 0 || strcmp(k->name, name) != 0)
			continue;
		if (st->seen[i]) {
			snprintf(st->err, st->errlen, "[%s] %s is set twice", section, name);
			st->failed = true;
			return 0;
		}
		st->seen[i] = true;
		if (!store(st, k, value)) {
			st->failed = true;
			return 0;
		}
		return 1;
	}
	snprintf(st->err, st->errlen, "unknown key \"%s\" in section [%s]", name, section);
	st->failed = true;
	return 0;
}


enum tl_err
cfg_load(const char *path, const struct cfg_key *schema, size_t n, void *out, char *err, size_t errlen)
{
	struct cfg_state st;
	char *pathcopy;
	FILE *f;
	int rc;

	if (n > CFG_MAX_KEYS)
		return TL_EINVAL;
	memset(&st, 0, sizeof(st));
	st.schema = schema;
	st.n = n;
	st.out = out;
	st.path = path;
	st.err = err;
	st.errlen = errlen;
	err[0] = '\0';
	if (!(f = fopen(path, "r"))) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return TL_ECONFIG;
	}
	if (!(pathcopy = strdup(path))) {
		fclose(f);
		return TL_ENOMEM;
	}
	st.dir = dirname(pathcopy);
	rc = ini_parse_file(f, on_value, &st);
	fclose(f);
	if (rc != 0 || st.failed) {
		/* inih reports the first failing line; put file and line in front. */
		char msg[512];
		snprintf(msg, sizeof(msg), "%s", st.failed ? err : "syntax error");
		snprintf(err, errlen, "%s:%d: %s", path, rc, msg);
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		if (st.seen[i])
			continue;
		if (!schema[i].def) {
			snprintf(err, errlen, "%s: missing required key \"%s\" in section [%s]", path,
			         schema[i].name, schema[i].section);
			goto fail;
		}
		if (!store(&st, &schema[i], schema[i].def)) {
			char msg[512];
			snprintf(msg, sizeof(msg), "%s", err);
			snprintf(err, errlen, "%s: %s", path, msg);
			goto fail;
		}
	}
	free(pathcopy);
	return TL_OK;
fail:
	free(pathcopy);
	cfg_free(schema, n, out);
	return TL_ECONFIG;
}

void
cfg_free(const struct cfg_key *schema, size_t n, void *out)
{
	for (size_t i = 0; i < n; i++) {
		char *p;
		if (schema[i].type == CFG_INT || schema[i].type == CFG_BOOL)
			continue;
		memcpy(&p, (char *)out + schema[i].off, sizeof(p));
		free(p);
		p = NULL;
		memcpy((char *)out + schema[i].off, &p, sizeof(p));
	}
}
