/*
 * auth.c - see auth.h and docs/auth.md.  All SQL goes through common/db;
 * all Argon2id runs go through slot_acquire()/slot_release().
 */
#include "compat.h"
#include "auth.h"
#include "district.h"
#include "log.h"
#include "timefmt.h"
#include "utf8.h"

#include <pthread.h>
#include <sodium.h>
#include <time.h>

#define HASH_HEX (crypto_generichash_BYTES * 2) /* 32-byte BLAKE2b as hex */
#define CSRF_LABEL "tipline csrf v1"

/* ---- roles ---- */

static const struct {
	const char *name;
	const char *zh;
} roles[AUTH_ROLE_MAX_] = {
	[AUTH_ROLE_NONE] = { "", "" },
	[AUTH_ROLE_RESPONDER] = { "responder", "区级核查员" },
	[AUTH_ROLE_SUPERVISOR] = { "supervisor", "区级主管" },
	[AUTH_ROLE_CITY_OFFICE] = { "city_office", "市领导小组办公室" },
	[AUTH_ROLE_FINANCE_PROPOSER] = { "finance_proposer", "财务经办" },
	[AUTH_ROLE_FINANCE_APPROVER] = { "finance_approver", "财务审批" },
	[AUTH_ROLE_FINANCE_PAYER] = { "finance_payer", "财务出纳" },
	[AUTH_ROLE_AUDITOR] = { "auditor", "审计" },
};

const char *
auth_role_name(enum auth_role r)
{
	return (r > AUTH_ROLE_NONE && r < AUTH_ROLE_MAX_) ? roles[r].name : "";
}

const char *
auth_role_label_zh(enum auth_role r)
{
	return (r > AUTH_ROLE_NONE && r < AUTH_ROLE_MAX_) ? roles[r].zh : "";
}

enum tl_err
auth_role_parse(const char *s, enum auth_role *out)
{
	*out = AUTH_ROLE_NONE;
	if (!s)
		return TL_EINVAL;
	for (int r = AUTH_ROLE_NONE + 1; r < AUTH_ROLE_MAX_; r++)
		if (strcmp(s, roles[r].name) == 0) {
			*out = (enum auth_role)r;
			return TL_OK;
		}
	return TL_EINVAL;
}

/* ---- configuration and the hashing semaphore ---- */

static struct auth_config g_cfg;
static bool g_ready;
/* Verified against for unknown users so that they cost the same Argon2id
 * time as known ones (made at auth_init with the current parameters). */
static char g_dummy[crypto_pwhash_STRBYTES];

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv;
static pthread_once_t g_cv_once = PTHREAD_ONCE_INIT;
static unsigned g_inuse;
static struct auth_stats g_stats;

static void
cv_init(void)
{
	pthread_condattr_t a;

	/* Monotonic, so that a wall-clock step cannot stretch the wait. */
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&g_cv, &a);
	pthread_condattr_destroy(&a);
}

void
auth_config_default(struct auth_config *c)
{
	memset(c, 0, sizeof(*c));
	c->max_failures = 5;
	c->lockout_ms = 15 * 60 * 1000;
	c->idle_ms = 30 * 60 * 1000;
	c->lifetime_ms = 12 * 60 * 60 * 1000;
	c->max_sessions = 4;
	c->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
	c->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
	c->hash_slots = 2;
	c->hash_wait_ms = 3000;
	c->events_max = 1000000;
}

enum tl_err
auth_init(const struct auth_config *c)
{
	struct auth_config cfg;
	unsigned char pw[16];
	int rc;

	if (sodium_init() < 0)
		return TL_ECRYPTO;
	pthread_once(&g_cv_once, cv_init);
	if (c)
		cfg = *c;
	else
		auth_config_default(&cfg);
	if (cfg.max_failures < 1 || cfg.lockout_ms < 0 || cfg.idle_ms <= 0 || cfg.lifetime_ms <= 0 ||
	    cfg.max_sessions < 1 || cfg.hash_slots < 1 || cfg.hash_slots > 64 || cfg.hash_wait_ms < 0 ||
	    cfg.events_max < 1 || cfg.opslimit < crypto_pwhash_OPSLIMIT_MIN ||
	    cfg.opslimit > crypto_pwhash_OPSLIMIT_MAX || cfg.memlimit < crypto_pwhash_MEMLIMIT_MIN ||
	    cfg.memlimit > crypto_pwhash_MEMLIMIT_MAX)
		return TL_ECONFIG;
	randombytes_buf(pw, sizeof(pw));
	rc = crypto_pwhash_str(g_dummy, (const char *)pw, sizeof(pw), cfg.opslimit, cfg.memlimit);
	sodium_memzero(pw, sizeof(pw));
	if (rc != 0)
		return TL_ENOMEM; /* Argon2 fails only when it cannot get its memory */
	pthread_mutex_lock(&g_mu);
	g_cfg = cfg;
	g_inuse = 0;
	memset(&g_stats, 0, sizeof(g_stats));
	g_ready = true;
	pthread_mutex_unlock(&g_mu);
	return TL_OK;
}

void
auth_stats_get(struct auth_stats *out)
{
	pthread_mutex_lock(&g_mu);
	*out = g_stats;
	pthread_mutex_unlock(&g_mu);
}

static enum tl_err
slot_acquire(void)
{
	struct timespec deadline;
	enum tl_err e = TL_OK;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)(g_cfg.hash_wait_ms / 1000);
	deadline.tv_nsec += (long)(g_cfg.hash_wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&g_mu);
	while (g_inuse >= g_cfg.hash_slots) {
		if (pthread_cond_timedwait(&g_cv, &g_mu, &deadline) != 0 && g_inuse >= g_cfg.hash_slots) {
			g_stats.busy++;
			e = TL_EUNAVAIL;
			goto out;
		}
	}
	g_inuse++;
	g_stats.hashes++;
	if (g_inuse > g_stats.peak_concurrent)
		g_stats.peak_concurrent = g_inuse;
out:
	pthread_mutex_unlock(&g_mu);
	return e;
}

static void
slot_release(void)
{
	pthread_mutex_lock(&g_mu);
	g_inuse--;
	pthread_cond_signal(&g_cv);
	pthread_mutex_unlock(&g_mu);
}

static enum tl_err
pw_hash(const char *pw, char out[crypto_pwhash_STRBYTES])
{
	enum tl_err e;
	int rc;

	if ((e = slot_acquire()) != TL_OK)
		return e;
	rc = crypto_pwhash_str(out, pw, strlen(pw), g_cfg.opslimit, g_cfg.memlimit);
	slot_release();
	return rc == 0 ? TL_OK : TL_ENOMEM;
}

/* *ok is true only for a match.  TL_EUNAVAIL if no slot was free. */
static enum tl_err
pw_verify(const char *hash, const char *pw, bool *ok)
{
	enum tl_err e;

	*ok = false;
	if ((e = slot_acquire()) != TL_OK)
		return e;
	*ok = crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
	slot_release();
	return TL_OK;
}

/* ---- schema ---- */

static const struct db_migration migrations[] = {
	{ "staff users, sessions, login events",
	  "CREATE TABLE auth_users("
	  " id INTEGER PRIMARY KEY,"
	  " name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 32),"
	  " role TEXT NOT NULL CHECK (role IN ('responder','supervisor','city_office',"
	  "  'finance_proposer','finance_approver','finance_payer','auditor')),"
	  " scope TEXT NOT NULL CHECK (length(scope) BETWEEN 1 AND 16),"
	  " pwhash TEXT NOT NULL CHECK (pwhash LIKE '$argon2id$%'),"
	  " disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),"
	  " failed INTEGER NOT NULL DEFAULT 0 CHECK (failed >= 0),"
	  " locked_until INTEGER NOT NULL DEFAULT 0,"
	  " created_at INTEGER NOT NULL,"
	  " updated_at INTEGER NOT NULL,"
	  " password_changed_at INTEGER NOT NULL,"
	  " last_login_at INTEGER);"
	  /* id_hash: hex BLAKE2b-256 of the token; the token itself is never
	   * stored, so a copy of the database cannot be used to log in. */
	  "CREATE TABLE auth_sessions("
	  " id_hash TEXT PRIMARY KEY CHECK (length(id_hash) = 64),"
	  " user_id INTEGER NOT NULL REFERENCES auth_users(id),"
	  " created_at INTEGER NOT NULL,"
	  " last_seen INTEGER NOT NULL,"
	  " expires_at INTEGER NOT NULL) WITHOUT ROWID;"
	  "CREATE INDEX auth_sessions_user ON auth_sessions(user_id, created_at);"
	  /* No password, no attempted name for unknown users, no address. */
	  "CREATE TABLE auth_events("
	  " id INTEGER PRIMARY KEY,"
	  " at INTEGER NOT NULL,"
	  " user_id INTEGER,"
	  " event TEXT NOT NULL CHECK (event IN ('login_ok','login_bad_password',"
	  "  'login_unknown_user','login_disabled','login_locked','lockout','logout',"
	  "  'session_expired','user_added','user_disabled','user_enabled',"
	  "  'password_changed','user_unlocked','rehashed')));"
	  "CREATE INDEX auth_events_user ON auth_events(user_id, at);" },
};

const struct db_migration *
auth_migrations(size_t *n)
{
	*n = TL_ARRAY_LEN(migrations);
	return migrations;
}

enum tl_err
auth_migrate(struct db *db)
{
	return db_migrate(db, AUTH_SCHEMA, migrations, TL_ARRAY_LEN(migrations), NULL);
}

/* ---- small SQL helpers ---- */

/* Runs one statement without result rows.  types: 't' const char *,
 * 'i' int64_t, 'n' SQL NULL (no argument). */
static enum tl_err
run(struct db *db, const char *sql, const char *types, ...)
{
	struct db_stmt *st = NULL;
	va_list ap;
	enum tl_err e;
	int idx = 1;

	if ((e = db_prepare(db, sql, &st)) != TL_OK)
		return e;
	va_start(ap, types);
	for (const char *t = types; *t && e == TL_OK; t++, idx++) {
		if (*t == 't')
			e = db_bind_text(st, idx, va_arg(ap, const char *));
		else if (*t == 'i')
			e = db_bind_int64(st, idx, va_arg(ap, int64_t));
		else
			e = db_bind_null(st, idx);
	}
	va_end(ap);
	if (e == TL_OK)
		e = db_step(st, NULL);
	db_finalize(st);
	return e;
}

/* user_id < 0 records NULL (unknown user). */
static enum tl_err
event_add(struct db *db, int64_t now, int64_t user_id, const char *ev)
{
	enum tl_err e;

	if (user_id < 0)
		e = run(db, "INSERT INTO auth_events(at, user_id, event) VALUES (?1, ?2, ?3);", "int", now,
		        ev);
	else
		e = run(db, "INSERT INTO auth_events(at, user_id, event) VALUES (?1, ?2, ?3);", "iit", now,
		        user_id, ev);
	if (e != TL_OK)
		return e;
	/* Bounded: a flood of failed logins cannot grow the table forever. */
	return run(db, "DELETE FROM auth_events WHERE id <= (SELECT max(id) FROM auth_events) - ?1;", "i",
	           g_cfg.events_max);
}

/* ---- validation ---- */

static bool
name_valid(const char *s)
{
	size_t n = s ? strnlen(s, AUTH_NAME_MAX + 1) : 0;

	if (n == 0 || n > AUTH_NAME_MAX)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool
scope_valid(enum auth_role role, const char *scope)
{
	if (!scope || strnlen(scope, AUTH_SCOPE_MAX + 1) > AUTH_SCOPE_MAX)
		return false;
	if (district_valid(scope))
		return true;
	/* District staff always belong to one district (or the city node). */
	return strcmp(scope, "all") == 0 && role != AUTH_ROLE_RESPONDER && role != AUTH_ROLE_SUPERVISOR;
}

static enum tl_err
password_policy(const char *pw)
{
	size_t len, chars;

	if (!pw)
		return TL_EINVAL;
	len = strnlen(pw, AUTH_PASSWORD_MAX + 1);
	if (len > AUTH_PASSWORD_MAX)
		return TL_ETOOBIG;
	if (!utf8_valid(pw, len, &chars) || chars < AUTH_PASSWORD_MIN)
		return TL_EINVAL;
	return TL_OK;
}

/* ---- tokens ---- */

static void
to_hex(const unsigned char *b, size_t n, char *out)
{
	sodium_bin2hex(out, n * 2 + 1, b, n);
}

/* Exactly 64 lowercase hex characters (what we hand out) -> 32 bytes. */
static bool
token_parse(const char *tok, unsigned char raw[AUTH_TOKEN_BYTES])
{
	size_t n, bin;

	if (!tok)
		return false;
	n = strnlen(tok, AUTH_TOKEN_HEX + 1);
	if (n != AUTH_TOKEN_HEX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((tok[i] >= '0' && tok[i] <= '9') || (tok[i] >= 'a' && tok[i] <= 'f')))
			return false;
	return sodium_hex2bin(raw, AUTH_TOKEN_BYTES, tok, n, NULL, &bin, NULL) == 0 &&
	       bin == AUTH_TOKEN_BYTES;
}

static void
token_id_hash(const unsigned char raw[AUTH_TOKEN_BYTES], char out[HASH_HEX + 1])
{
	unsigned char h[crypto_generichash_BYTES];

	crypto_generichash(h, sizeof(h), raw, AUTH_TOKEN_BYTES, NULL, 0);
	to_hex(h, sizeof(h), out);
}

/* The CSRF token is a keyed hash of the session token: unique per session,
 * unguessable without the cookie, and nothing extra to store or leak. */
static void
token_csrf(const unsigned char raw[AUTH_TOKEN_BYTES], char out[AUTH_TOKEN_HEX + 1])
{
	unsigned char h[AUTH_TOKEN_BYTES];

	crypto_generichash(h, sizeof(h), (const unsigned char *)CSRF_LABEL, strlen(CSRF_LABEL), raw,
	                   AUTH_TOKEN_BYTES);
	to_hex(h, sizeof(h), out);
	sodium_memzero(h, sizeof(h));
}

void
auth_secret_wipe(char *s, size_t len)
{
	if (s)
		sodium_memzero(s, len);
}

void
auth_session_wipe(struct auth_session *s)
{
	if (s)
		sodium_memzero(s, sizeof(*s));
}

/* ---- users ---- */

struct urow {
	int64_t id;
	char pwhash[crypto_pwhash_STRBYTES];
	bool disabled;
	int64_t failed;
	int64_t locked_until;
};

/* TL_ENOTFOUND if there is no such user. */
static enum tl_err
user_read(struct db *db, const char *name, struct urow *u)
{
	struct db_stmt *st = NULL;
	const char *h;
	bool row;
	enum tl_err e;

	memset(u, 0, sizeof(*u));
	if ((e = db_prepare(db, "SELECT id, pwhash, disabled, failed, locked_until FROM auth_users"
	                        " WHERE name = ?1;", &st)) != TL_OK)
		return e;
	if ((e = db_bind_text(st, 1, name)) != TL_OK || (e = db_step(st, &row)) != TL_OK)
		goto out;
	if (!row) {
		e = TL_ENOTFOUND;
		goto out;
	}
	u->id = db_col_int64(st, 0);
	h = db_col_text(st, 1);
	if (!h || strlen(h) >= sizeof(u->pwhash)) {
		e = TL_EDB;
		goto out;
	}
	memcpy(u->pwhash, h, strlen(h) + 1);
	u->disabled = db_col_int64(st, 2) != 0;
	u->failed = db_col_int64(st, 3);
	u->locked_until = db_col_int64(st, 4);
out:
	db_finalize(st);
	return e;
}

enum tl_err
auth_user_add(struct db *db, const char *name, enum auth_role role, const char *scope,
              const char *password)
{
	char hash[crypto_pwhash_STRBYTES];
	struct urow u;
	int64_t now = time_now_ms();
	enum tl_err e;

	memset(&u, 0, sizeof(u));
	if (!g_ready)
		return TL_ECONFIG;
	if (!name_valid(name) || role <= AUTH_ROLE_NONE || role >= AUTH_ROLE_MAX_ ||
	    !scope_valid(role, scope))
		return TL_EINVAL;
	if ((e = password_policy(password)) != TL_OK)
		return e;
	/* Hash outside the transaction: it takes ~0.1 s and needs no lock. */
	if ((e = pw_hash(password, hash)) != TL_OK)
		goto out;
	if ((e = db_begin(db)) != TL_OK)
		goto out;
	e = run(db, "INSERT INTO auth_users(name, role, scope, pwhash, created_at, updated_at,"
	            " password_changed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5);",
	        "tttti", name, auth_role_name(role), scope, hash, now);
	if (e == TL_ECONFLICT)
		e = TL_EEXIST;
	if (e == TL_OK && (e = user_read(db, name, &u)) == TL_OK)
		e = event_add(db, now, u.id, "user_added");
	if (e == TL_OK)
		e = db_commit(db);
	if (e != TL_OK)
		db_rollback(db);
out:
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(&u, sizeof(u));
	return e;
}

/* Runs an UPDATE on the named user, then sessions/event bookkeeping. */
static enum tl_err
user_change(struct db *db, const char *name, const char *sql_update, const char *hash,
            bool end_sessions, const char *ev)
{
	struct urow u;
	int64_t now = time_now_ms();
	enum tl_err e;

	if (!g_ready)
		return TL_ECONFIG;
	if (!name_valid(name))
		return TL_ENOTFOUND;
	if ((e = db_begin(db)) != TL_OK)
		return e;
	if ((e = user_read(db, name, &u)) != TL_OK)
		goto out;
	if (hash)
		e = run(db, sql_update, "iit", u.id, now, hash);
	else
		e = run(db, sql_update, "ii", u.id, now);
	if (e == TL_OK && end_sessions)
		e = run(db, "DELETE FROM auth_sessions WHERE user_id = ?1;", "i", u.id);
	if (e == TL_OK)
		e = event_add(db, now, u.id, ev);
	if (e == TL_OK)
		e = db_commit(db);
out:
	if (e != TL_OK)
		db_rollback(db);
	sodium_memzero(&u, sizeof(u));
	return e;
}

enum tl_err
auth_user_disable(struct db *db, const char *name)
{
	return user_change(db, name, "UPDATE auth_users SET disabled = 1, updated_at = ?2 WHERE id = ?1;",
	                   NULL, true, "user_disabled");
}

enum tl_err
auth_user_enable(struct db *db, const char *name)
{
	return user_change(db, name,
	                   "UPDATE auth_users SET disabled = 0, failed = 0, locked_until = 0,"
	                   " updated_at = ?2 WHERE id = ?1;",
	                   NULL, false, "user_enabled");
}

enum tl_err
auth_user_unlock(struct db *db, const char *name)
{
	return user_change(db, name,
	                   "UPDATE auth_users SET failed = 0, locked_until = 0, updated_at = ?2"
	                   " WHERE id = ?1;",
	                   NULL, false, "user_unlocked");
}

enum tl_err
auth_user_reauth_failed(struct db *db, const char *name, int64_t now, bool *locked)
{
	struct urow u;
	bool locks = false;
	enum tl_err e;

	if (locked)
		*locked = false;
	if (!g_ready)
		return TL_ECONFIG;
	if (!name_valid(name))
		return TL_ENOTFOUND;
	if ((e = db_begin(db)) != TL_OK)
		return e;
	if ((e = user_read(db, name, &u)) != TL_OK)
		goto out;
	/* The same counting as a failed login (auth_login). */
	locks = u.failed + 1 >= (int64_t)g_cfg.max_failures;
	e = run(db, "UPDATE auth_users SET"
	            " failed = CASE WHEN failed + 1 >= ?2 THEN 0 ELSE failed + 1 END,"
	            " locked_until = CASE WHEN failed + 1 >= ?2 THEN ?3 ELSE locked_until END"
	            " WHERE id = ?1;",
	        "iii", u.id, (int64_t)g_cfg.max_failures, now + g_cfg.lockout_ms);
	if (e == TL_OK)
		e = event_add(db, now, u.id, "login_bad_password");
	if (e == TL_OK && locks) {
		/* Whoever holds a session of this user is out too. */
		if ((e = run(db, "DELETE FROM auth_sessions WHERE user_id = ?1;", "i", u.id)) == TL_OK)
			e = event_add(db, now, u.id, "lockout");
		log_warn("auth: user id %lld locked out for %lld s after %u wrong passwords", (long long)u.id,
		         (long long)(g_cfg.lockout_ms / 1000), g_cfg.max_failures);
	}
	if (e == TL_OK)
		e = db_commit(db);
out:
	if (e != TL_OK)
		db_rollback(db);
	else if (locked)
		*locked = locks;
	sodium_memzero(&u, sizeof(u));
	return e;
}

enum tl_err
auth_user_usable(struct db *db, const char *name, int64_t now)
{
	struct urow u;
	enum tl_err e;

	if (!name_valid(name))
		return TL_ENOTFOUND;
	if ((e = user_read(db, name, &u)) == TL_OK && (u.disabled || u.locked_until > now))
		e = TL_EDENIED;
	sodium_memzero(&u, sizeof(u));
	return e;
}

enum tl_err
auth_user_passwd(struct db *db, const char *name, const char *password)
{
	char hash[crypto_pwhash_STRBYTES];
	enum tl_err e;

	if (!g_ready)
		return TL_ECONFIG;
	if ((e = password_policy(password)) != TL_OK)
		return e;
	if ((e = pw_hash(password, hash)) != TL_OK)
		goto out;
	/* A new password ends every session: whoever knew the old one is out. */
	e = user_change(db, name,
	                "UPDATE auth_users SET pwhash = ?3, failed = 0, locked_until = 0,"
	                " updated_at = ?2, password_changed_at = ?2 WHERE id = ?1;",
	                hash, true, "password_changed");
out:
	sodium_memzero(hash, sizeof(hash));
	return e;
}

/* ---- login ---- */

enum outcome { O_OK, O_BAD, O_UNKNOWN, O_DISABLED, O_LOCKED };

static const char *const outcome_event[] = {
	[O_OK] = "login_ok",
	[O_BAD] = "login_bad_password",
	[O_UNKNOWN] = "login_unknown_user",
	[O_DISABLED] = "login_disabled",
	[O_LOCKED] = "login_locked",
};

static enum outcome
classify(const struct urow *u, bool found, bool match, int64_t now)
{
	if (!found)
		return O_UNKNOWN;
	if (u->disabled)
		return O_DISABLED;
	if (u->locked_until > now)
		return O_LOCKED;
	return match ? O_OK : O_BAD;
}

static enum tl_err
session_create(struct db *db, int64_t user_id, int64_t now, char token_out[AUTH_TOKEN_HEX + 1],
               char csrf_out[AUTH_TOKEN_HEX + 1])
{
	unsigned char raw[AUTH_TOKEN_BYTES];
	char idh[HASH_HEX + 1];
	enum tl_err e;

	randombytes_buf(raw, sizeof(raw));
	token_id_hash(raw, idh);
	e = run(db, "INSERT INTO auth_sessions(id_hash, user_id, created_at, last_seen, expires_at)"
	            " VALUES (?1, ?2, ?3, ?3, ?4);",
	        "tiii", idh, user_id, now, now + g_cfg.lifetime_ms);
	/* Keep the newest max_sessions of this user; drop older ones. */
	if (e == TL_OK)
		e = run(db, "DELETE FROM auth_sessions WHERE user_id = ?1 AND id_hash NOT IN"
		            " (SELECT id_hash FROM auth_sessions WHERE user_id = ?1"
		            "  ORDER BY created_at DESC, id_hash LIMIT ?2);",
		        "ii", user_id, (int64_t)g_cfg.max_sessions);
	/* Housekeeping for everyone: sessions past either limit. */
	if (e == TL_OK)
		e = run(db, "DELETE FROM auth_sessions WHERE expires_at <= ?1 OR last_seen <= ?2;", "ii", now,
		        now - g_cfg.idle_ms);
	if (e == TL_OK) {
		to_hex(raw, sizeof(raw), token_out);
		token_csrf(raw, csrf_out);
	}
	sodium_memzero(raw, sizeof(raw));
	return e;
}

enum tl_err
auth_login(struct db *db, const char *name, const char *password, int64_t now,
           char token_out[AUTH_TOKEN_HEX + 1], char csrf_out[AUTH_TOKEN_HEX + 1])
{
	char lname[AUTH_NAME_MAX + 1];
	char newhash[crypto_pwhash_STRBYTES];
	struct urow u, cur;
	bool found = false, match = false, rehash = false, in_tx = false;
	enum outcome o;
	size_t n;
	enum tl_err e;

	memset(token_out, 0, AUTH_TOKEN_HEX + 1);
	memset(csrf_out, 0, AUTH_TOKEN_HEX + 1);
	memset(&u, 0, sizeof(u));
	memset(&cur, 0, sizeof(cur));
	memset(lname, 0, sizeof(lname));
	newhash[0] = '\0';
	if (!g_ready)
		return TL_ECONFIG;
	if (!password || strnlen(password, AUTH_PASSWORD_MAX + 1) > AUTH_PASSWORD_MAX)
		return TL_EDENIED; /* no user has such a password; not worth a hash */
	/* Names are case-insensitive for people typing them; stored lower. */
	n = name ? strnlen(name, AUTH_NAME_MAX + 1) : 0;
	if (n <= AUTH_NAME_MAX) {
		for (size_t i = 0; i < n; i++)
			lname[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] - 'A' + 'a') : name[i];
		if (name_valid(lname)) {
			e = user_read(db, lname, &u);
			if (e == TL_OK)
				found = true;
			else if (e != TL_ENOTFOUND)
				goto out;
		}
	}
	/* The same Argon2id work whatever the user's state, so that timing
	 * tells nothing about whether the name exists. */
	if ((e = pw_verify(found ? u.pwhash : g_dummy, password, &match)) != TL_OK)
		goto out;
	o = classify(&u, found, match, now);
	if (o == O_OK &&
	    crypto_pwhash_str_needs_rehash(u.pwhash, g_cfg.opslimit, g_cfg.memlimit) != 0) {
		/* Upgrade to the configured cost; if no slot is free, next time. */
		rehash = pw_hash(password, newhash) == TL_OK;
	}

	if ((e = db_begin(db)) != TL_OK)
		goto out;
	in_tx = true;
	if (found) {
		/* Re-read under the write lock: another login, an admin or a
		 * password change may have raced with the hashing above. */
		if ((e = user_read(db, lname, &cur)) == TL_ENOTFOUND) {
			found = false;
			o = O_UNKNOWN;
		} else if (e != TL_OK) {
			goto out;
		} else {
			bool same = cur.id == u.id && strcmp(cur.pwhash, u.pwhash) == 0;
			o = classify(&cur, true, match && same, now);
		}
	}
	if (o == O_OK) {
		e = run(db, rehash ? "UPDATE auth_users SET failed = 0, locked_until = 0, last_login_at = ?2,"
		                     " pwhash = ?3, updated_at = ?2 WHERE id = ?1;"
		                   : "UPDATE auth_users SET failed = 0, locked_until = 0, last_login_at = ?2"
		                     " WHERE id = ?1;",
		        rehash ? "iit" : "ii", cur.id, now, newhash);
		if (e == TL_OK && rehash)
			e = event_add(db, now, cur.id, "rehashed");
		if (e == TL_OK)
			e = session_create(db, cur.id, now, token_out, csrf_out);
	} else if (o == O_BAD) {
		/* Counted in SQL so that concurrent failures all count; the
		 * counter restarts once the lock-out is set. */
		bool locks = cur.failed + 1 >= (int64_t)g_cfg.max_failures;
		e = run(db, "UPDATE auth_users SET"
		            " failed = CASE WHEN failed + 1 >= ?2 THEN 0 ELSE failed + 1 END,"
		            " locked_until = CASE WHEN failed + 1 >= ?2 THEN ?3 ELSE locked_until END"
		            " WHERE id = ?1;",
		        "iii", cur.id, (int64_t)g_cfg.max_failures, now + g_cfg.lockout_ms);
		if (e == TL_OK && locks) {
			e = event_add(db, now, cur.id, "lockout");
			log_warn("auth: user id %lld locked out for %lld s after %u failed logins",
			         (long long)cur.id, (long long)(g_cfg.lockout_ms / 1000), g_cfg.max_failures);
		}
	}
	if (e == TL_OK)
		e = event_add(db, now, found ? cur.id : -1, outcome_event[o]);
	if (e == TL_OK)
		e = db_commit(db);
	in_tx = false;
	if (e == TL_OK && o != O_OK)
		e = TL_EDENIED;
out:
	if (in_tx)
		db_rollback(db);
	if (e != TL_OK) {
		sodium_memzero(token_out, AUTH_TOKEN_HEX + 1);
		sodium_memzero(csrf_out, AUTH_TOKEN_HEX + 1);
	}
	sodium_memzero(lname, sizeof(lname)); /* may be a password typed in the wrong box */
	sodium_memzero(newhash, sizeof(newhash));
	sodium_memzero(&u, sizeof(u));
	sodium_memzero(&cur, sizeof(cur));
	return e;
}

/* ---- sessions ---- */

enum tl_err
auth_session_check(struct db *db, const char *token, int64_t now, struct auth_session *out)
{
	unsigned char raw[AUTH_TOKEN_BYTES];
	char idh[HASH_HEX + 1];
	struct db_stmt *st = NULL;
	bool row, in_tx = false;
	int64_t uid = 0, created = 0, last = 0, expires = 0;
	enum tl_err e;

	memset(out, 0, sizeof(*out));
	if (!g_ready)
		return TL_ECONFIG;
	if (!token_parse(token, raw)) {
		e = TL_EDENIED;
		goto out;
	}
	token_id_hash(raw, idh);
	if ((e = db_begin(db)) != TL_OK)
		goto out;
	in_tx = true;
	if ((e = db_prepare(db, "SELECT s.user_id, s.created_at, s.last_seen, s.expires_at,"
	                        " u.name, u.role, u.scope, u.disabled"
	                        " FROM auth_sessions s JOIN auth_users u ON u.id = s.user_id"
	                        " WHERE s.id_hash = ?1;", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, idh)) != TL_OK || (e = db_step(st, &row)) != TL_OK)
		goto out;
	if (!row) {
		e = TL_EDENIED;
		goto out;
	}
	uid = db_col_int64(st, 0);
	created = db_col_int64(st, 1);
	last = db_col_int64(st, 2);
	expires = db_col_int64(st, 3);
	{
		const char *nm = db_col_text(st, 4), *rl = db_col_text(st, 5), *sc = db_col_text(st, 6);
		bool disabled = db_col_int64(st, 7) != 0;
		bool expired = now >= expires || now - last >= g_cfg.idle_ms;

		if (expired || disabled || !nm || !sc || auth_role_parse(rl, &out->user.role) != TL_OK ||
		    strlen(nm) > AUTH_NAME_MAX || strlen(sc) > AUTH_SCOPE_MAX) {
			db_finalize(st);
			st = NULL;
			e = run(db, "DELETE FROM auth_sessions WHERE id_hash = ?1;", "t", idh);
			if (e == TL_OK && expired)
				e = event_add(db, now, uid, "session_expired");
			if (e == TL_OK)
				e = db_commit(db);
			in_tx = false;
			if (e == TL_OK)
				e = TL_EDENIED;
			goto out;
		}
		memcpy(out->user.name, nm, strlen(nm) + 1);
		memcpy(out->user.scope, sc, strlen(sc) + 1);
	}
	db_finalize(st);
	st = NULL;
	/* Renew the idle timer (never backwards if clocks disagree). */
	if ((e = run(db, "UPDATE auth_sessions SET last_seen = max(last_seen, ?2) WHERE id_hash = ?1;",
	             "ti", idh, now)) != TL_OK)
		goto out;
	e = db_commit(db);
	in_tx = false;
	if (e != TL_OK)
		goto out;
	out->user.id = uid;
	out->created_ms = created;
	out->expires_ms = expires;
	token_csrf(raw, out->csrf);
out:
	db_finalize(st);
	if (in_tx)
		db_rollback(db);
	if (e != TL_OK)
		auth_session_wipe(out);
	sodium_memzero(raw, sizeof(raw));
	return e;
}

enum tl_err
auth_logout(struct db *db, const char *token, int64_t now)
{
	unsigned char raw[AUTH_TOKEN_BYTES];
	char idh[HASH_HEX + 1];
	struct db_stmt *st = NULL;
	bool row, in_tx = false;
	int64_t uid = -1;
	enum tl_err e = TL_OK;

	if (!token_parse(token, raw))
		return TL_OK; /* nothing to end */
	token_id_hash(raw, idh);
	sodium_memzero(raw, sizeof(raw));
	if ((e = db_begin(db)) != TL_OK)
		goto out;
	in_tx = true;
	if ((e = db_prepare(db, "SELECT user_id FROM auth_sessions WHERE id_hash = ?1;", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, idh)) != TL_OK || (e = db_step(st, &row)) != TL_OK)
		goto out;
	if (row)
		uid = db_col_int64(st, 0);
	db_finalize(st);
	st = NULL;
	if (uid >= 0) {
		if ((e = run(db, "DELETE FROM auth_sessions WHERE id_hash = ?1;", "t", idh)) != TL_OK ||
		    (e = event_add(db, now, uid, "logout")) != TL_OK)
			goto out;
	}
	e = db_commit(db);
	in_tx = false;
out:
	db_finalize(st);
	if (in_tx)
		db_rollback(db);
	return e;
}

enum tl_err
auth_csrf_check(const struct auth_session *s, const char *form_token)
{
	/* Lengths are public (always 64); only the content is compared in
	 * constant time. */
	if (!s || !form_token || s->csrf[0] == '\0' ||
	    strnlen(form_token, AUTH_TOKEN_HEX + 1) != AUTH_TOKEN_HEX)
		return TL_EDENIED;
	return sodium_memcmp(s->csrf, form_token, AUTH_TOKEN_HEX) == 0 ? TL_OK : TL_EDENIED;
}
