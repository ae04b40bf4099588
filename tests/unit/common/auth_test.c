/*
 * auth_test.c - staff users, logins, lock-out, sessions, CSRF and the
 * hashing cap on a temporary SQLCipher database; and the console HTTP
 * helpers (session cookie, page headers, form parsing).
 *
 * Most tests use libsodium's minimum Argon2id cost so that the suite stays
 * fast under ASan; the timing and concurrency tests use INTERACTIVE, the
 * production default, because they are about the cost itself.
 */
#include "compat.h"
#include "auth.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "timefmt.h"

#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <sodium.h>
#include <unistd.h>

#define T0 INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */
#define MIN_MS INT64_C(60000)
#define PW "correct horse battery 钢"
#define PW2 "another long passphrase"

struct fx {
	char dir[64];
	char path[128];
	unsigned char key[DB_KEY_LEN];
	struct db *db;
};

static void
fast_config(struct auth_config *c)
{
	auth_config_default(c);
	c->opslimit = crypto_pwhash_OPSLIMIT_MIN;
	c->memlimit = crypto_pwhash_MEMLIMIT_MIN;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct auth_config c;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tl_auth_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
	randombytes_buf(f->key, sizeof(f->key));
	assert_int_equal(db_open(f->path, f->key, DB_CREATE, &f->db), TL_OK);
	assert_int_equal(auth_migrate(f->db), TL_OK);
	assert_int_equal(auth_migrate(f->db), TL_OK); /* idempotent */
	fast_config(&c);
	assert_int_equal(auth_init(&c), TL_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[160];
	const char *sfx[] = { "", "-wal", "-shm", "-journal" };

	db_close(f->db);
	for (size_t i = 0; i < TL_ARRAY_LEN(sfx); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static int64_t
count(struct db *db, const char *sql, const char *arg)
{
	struct db_stmt *st;
	bool row;
	int64_t n = -1;

	assert_int_equal(db_prepare(db, sql, &st), TL_OK);
	if (arg)
		assert_int_equal(db_bind_text(st, 1, arg), TL_OK);
	assert_int_equal(db_step(st, &row), TL_OK);
	if (row)
		n = db_col_int64(st, 0);
	db_finalize(st);
	return n;
}

static int64_t
events(struct db *db, const char *ev)
{
	return count(db, "SELECT count(*) FROM auth_events WHERE event = ?1;", ev);
}

static void
login_ok(struct db *db, const char *name, const char *pw, int64_t now, char tok[AUTH_TOKEN_HEX + 1],
         char csrf[AUTH_TOKEN_HEX + 1])
{
	assert_int_equal(auth_login(db, name, pw, now, tok, csrf), TL_OK);
	assert_int_equal(strlen(tok), AUTH_TOKEN_HEX);
	assert_int_equal(strlen(csrf), AUTH_TOKEN_HEX);
}

static void
login_denied(struct db *db, const char *name, const char *pw, int64_t now)
{
	char tok[AUTH_TOKEN_HEX + 1], csrf[AUTH_TOKEN_HEX + 1];

	assert_int_equal(auth_login(db, name, pw, now, tok, csrf), TL_EDENIED);
	assert_string_equal(tok, ""); /* nothing handed out on failure */
	assert_string_equal(csrf, "");
}

static void
test_roles(void **state)
{
	enum auth_role r;

	for (int i = AUTH_ROLE_NONE + 1; i < AUTH_ROLE_MAX_; i++) {
		assert_int_equal(auth_role_parse(auth_role_name((enum auth_role)i), &r), TL_OK);
		assert_int_equal(r, i);
		assert_true(strlen(auth_role_label_zh(r)) > 0);
	}
	assert_int_equal(auth_role_parse("finance_approver", &r), TL_OK);
	assert_int_equal(r, AUTH_ROLE_FINANCE_APPROVER);
	assert_int_equal(auth_role_parse("admin", &r), TL_EINVAL);
	assert_int_equal(auth_role_parse("", &r), TL_EINVAL);
	assert_int_equal(auth_role_parse(NULL, &r), TL_EINVAL);
	assert_string_equal(auth_role_name(AUTH_ROLE_NONE), "");
	assert_string_equal(auth_role_name((enum auth_role)99), "");
}

static void
test_user_add_rules(void **state)
{
	struct fx *f = *state;

	assert_int_equal(auth_user_add(f->db, "zhang.wei", AUTH_ROLE_RESPONDER, "120101", PW), TL_OK);
	assert_int_equal(auth_user_add(f->db, "zhang.wei", AUTH_ROLE_RESPONDER, "120101", PW), TL_EEXIST);
	assert_int_equal(auth_user_add(f->db, "Zhang", AUTH_ROLE_RESPONDER, "120101", PW), TL_EINVAL);
	assert_int_equal(auth_user_add(f->db, "a b", AUTH_ROLE_RESPONDER, "120101", PW), TL_EINVAL);
	assert_int_equal(auth_user_add(f->db, "", AUTH_ROLE_RESPONDER, "120101", PW), TL_EINVAL);
	assert_int_equal(auth_user_add(f->db, "x", AUTH_ROLE_NONE, "120101", PW), TL_EINVAL);
	assert_int_equal(auth_user_add(f->db, "x", AUTH_ROLE_RESPONDER, "999999", PW), TL_EINVAL);
	assert_int_equal(auth_user_add(f->db, "x", AUTH_ROLE_RESPONDER, "all", PW), TL_EINVAL);
	assert_int_equal(auth_user_add(f->db, "x", AUTH_ROLE_RESPONDER, "120101", "short"), TL_EINVAL);
	assert_int_equal(auth_user_add(f->db, "x", AUTH_ROLE_RESPONDER, "120101", "钢钢钢钢钢钢钢钢钢钢钢"),
	                 TL_EINVAL); /* 11 characters, 33 bytes: counted in characters */
	assert_int_equal(auth_user_add(f->db, "x", AUTH_ROLE_RESPONDER, "120101", "bad utf8 \xff\xfe long"),
	                 TL_EINVAL);
	assert_int_equal(auth_user_add(f->db, "city1", AUTH_ROLE_CITY_OFFICE, "120000", PW), TL_OK);
	assert_int_equal(auth_user_add(f->db, "fin1", AUTH_ROLE_FINANCE_APPROVER, "all", PW), TL_OK);
	assert_int_equal(count(f->db, "SELECT count(*) FROM auth_users;", NULL), 3);
	assert_int_equal(events(f->db, "user_added"), 3);
}

static void
test_login_session_csrf(void **state)
{
	struct fx *f = *state;
	char tok[AUTH_TOKEN_HEX + 1], csrf[AUTH_TOKEN_HEX + 1], tok2[AUTH_TOKEN_HEX + 1],
		csrf2[AUTH_TOKEN_HEX + 1];
	struct auth_session s;

	assert_int_equal(auth_user_add(f->db, "li.na", AUTH_ROLE_SUPERVISOR, "120116", PW), TL_OK);
	login_ok(f->db, "li.na", PW, T0, tok, csrf);
	assert_string_not_equal(tok, csrf);
	/* Names are case-insensitive at login. */
	login_ok(f->db, "Li.Na", PW, T0, tok2, csrf2);
	assert_string_not_equal(tok, tok2);
	assert_string_not_equal(csrf, csrf2);

	assert_int_equal(auth_session_check(f->db, tok, T0 + 1000, &s), TL_OK);
	assert_string_equal(s.user.name, "li.na");
	assert_int_equal(s.user.role, AUTH_ROLE_SUPERVISOR);
	assert_string_equal(s.user.scope, "120116");
	assert_string_equal(s.csrf, csrf);
	assert_int_equal(s.created_ms, T0);
	assert_int_equal(auth_csrf_check(&s, csrf), TL_OK);
	assert_int_equal(auth_csrf_check(&s, csrf2), TL_EDENIED); /* another session's token */
	assert_int_equal(auth_csrf_check(&s, ""), TL_EDENIED);
	assert_int_equal(auth_csrf_check(&s, NULL), TL_EDENIED);
	csrf[10] ^= 1;
	assert_int_equal(auth_csrf_check(&s, csrf), TL_EDENIED);
	csrf[AUTH_TOKEN_HEX - 1] = '\0';
	assert_int_equal(auth_csrf_check(&s, csrf), TL_EDENIED); /* too short */
	auth_session_wipe(&s);

	/* Only a hash of the token is stored. */
	assert_int_equal(count(f->db, "SELECT count(*) FROM auth_sessions WHERE id_hash = ?1;", tok), 0);
	assert_int_equal(count(f->db, "SELECT count(*) FROM auth_sessions;", NULL), 2);

	/* Malformed or unknown tokens. */
	assert_int_equal(auth_session_check(f->db, "", T0, &s), TL_EDENIED);
	assert_int_equal(auth_session_check(f->db, NULL, T0, &s), TL_EDENIED);
	assert_int_equal(auth_session_check(f->db, "zz", T0, &s), TL_EDENIED);
	{
		char up[AUTH_TOKEN_HEX + 1];
		memcpy(up, tok, sizeof(up));
		for (size_t i = 0; i < AUTH_TOKEN_HEX; i++)
			if (up[i] >= 'a' && up[i] <= 'f')
				up[i] = (char)(up[i] - 'a' + 'A');
		if (strcmp(up, tok) != 0)
			assert_int_equal(auth_session_check(f->db, up, T0, &s), TL_EDENIED);
		memset(up, 'a', AUTH_TOKEN_HEX);
		assert_int_equal(auth_session_check(f->db, up, T0, &s), TL_EDENIED);
	}

	/* Logout ends just that session, and is idempotent. */
	assert_int_equal(auth_logout(f->db, tok, T0 + 2000), TL_OK);
	assert_int_equal(auth_session_check(f->db, tok, T0 + 3000, &s), TL_EDENIED);
	assert_int_equal(auth_logout(f->db, tok, T0 + 4000), TL_OK);
	assert_int_equal(auth_logout(f->db, "garbage", T0 + 4000), TL_OK);
	assert_int_equal(auth_session_check(f->db, tok2, T0 + 3000, &s), TL_OK);
	assert_int_equal(events(f->db, "logout"), 1);
	assert_int_equal(events(f->db, "login_ok"), 2);
	auth_session_wipe(&s);
	auth_secret_wipe(tok, sizeof(tok));
	auth_secret_wipe(tok2, sizeof(tok2));
}

static void
test_wrong_password_and_unknown_user(void **state)
{
	struct fx *f = *state;
	char big[AUTH_PASSWORD_MAX + 2];

	assert_int_equal(auth_user_add(f->db, "wang", AUTH_ROLE_RESPONDER, "120103", PW), TL_OK);
	login_denied(f->db, "wang", "wrong password here", T0);
	login_denied(f->db, "nobody", PW, T0);
	login_denied(f->db, "bad name!", PW, T0);
	login_denied(f->db, "", PW, T0);
	login_denied(f->db, NULL, PW, T0);
	login_denied(f->db, "wang", "", T0);
	login_denied(f->db, "wang", NULL, T0);
	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	login_denied(f->db, "wang", big, T0);
	assert_int_equal(events(f->db, "login_bad_password"), 2);
	assert_int_equal(events(f->db, "login_unknown_user"), 4);
	/* Unknown users are recorded without a user (and without the name). */
	assert_int_equal(count(f->db, "SELECT count(*) FROM auth_events WHERE event = ?1 AND user_id IS NULL;",
	                       "login_unknown_user"), 4);
	/* Failures were counted for the known user only. */
	assert_int_equal(count(f->db, "SELECT failed FROM auth_users WHERE name = ?1;", "wang"), 2);
	/* A success clears the count. */
	{
		char tok[AUTH_TOKEN_HEX + 1], csrf[AUTH_TOKEN_HEX + 1];
		login_ok(f->db, "wang", PW, T0, tok, csrf);
	}
	assert_int_equal(count(f->db, "SELECT failed FROM auth_users WHERE name = ?1;", "wang"), 0);
}

static void
test_lockout(void **state)
{
	struct fx *f = *state;
	char tok[AUTH_TOKEN_HEX + 1], csrf[AUTH_TOKEN_HEX + 1];

	assert_int_equal(auth_user_add(f->db, "zhao", AUTH_ROLE_RESPONDER, "120104", PW), TL_OK);
	for (int i = 0; i < 5; i++)
		login_denied(f->db, "zhao", "not the password", T0 + i * 1000);
	assert_int_equal(events(f->db, "lockout"), 1);
	/* Locked: even the right password is refused, with the same answer. */
	login_denied(f->db, "zhao", PW, T0 + 5 * MIN_MS);
	login_denied(f->db, "zhao", PW, T0 + 14 * MIN_MS);
	assert_int_equal(events(f->db, "login_locked"), 2);
	/* Failures while locked do not extend the lock. */
	login_denied(f->db, "zhao", "not the password", T0 + 10 * MIN_MS);
	/* 15 minutes after the fifth failure the lock is gone. */
	login_ok(f->db, "zhao", PW, T0 + 4000 + 15 * MIN_MS + 1, tok, csrf);

	/* Four failures, a success, four more: no lock (consecutive only). */
	for (int i = 0; i < 4; i++)
		login_denied(f->db, "zhao", "not the password", T0 + 20 * MIN_MS);
	login_ok(f->db, "zhao", PW, T0 + 20 * MIN_MS, tok, csrf);
	for (int i = 0; i < 4; i++)
		login_denied(f->db, "zhao", "not the password", T0 + 20 * MIN_MS);
	login_ok(f->db, "zhao", PW, T0 + 20 * MIN_MS, tok, csrf);
	assert_int_equal(events(f->db, "lockout"), 1);

	/* An administrator can lift a lock early. */
	for (int i = 0; i < 5; i++)
		login_denied(f->db, "zhao", "not the password", T0 + 30 * MIN_MS);
	login_denied(f->db, "zhao", PW, T0 + 31 * MIN_MS);
	assert_int_equal(auth_user_unlock(f->db, "zhao"), TL_OK);
	login_ok(f->db, "zhao", PW, T0 + 31 * MIN_MS, tok, csrf);
	assert_int_equal(auth_user_unlock(f->db, "nobody"), TL_ENOTFOUND);
}

static void
test_lockout_configurable(void **state)
{
	struct fx *f = *state;
	struct auth_config c;
	char tok[AUTH_TOKEN_HEX + 1], csrf[AUTH_TOKEN_HEX + 1];

	fast_config(&c);
	c.max_failures = 2;
	c.lockout_ms = 1 * MIN_MS;
	assert_int_equal(auth_init(&c), TL_OK);
	assert_int_equal(auth_user_add(f->db, "sun", AUTH_ROLE_AUDITOR, "all", PW), TL_OK);
	login_denied(f->db, "sun", "nope nope nope", T0);
	login_denied(f->db, "sun", "nope nope nope", T0);
	login_denied(f->db, "sun", PW, T0 + MIN_MS - 1);
	login_ok(f->db, "sun", PW, T0 + MIN_MS, tok, csrf);
	c.max_failures = 0;
	assert_int_equal(auth_init(&c), TL_ECONFIG);
	fast_config(&c);
	c.opslimit = 0;
	assert_int_equal(auth_init(&c), TL_ECONFIG);
	fast_config(&c);
	assert_int_equal(auth_init(&c), TL_OK);
}

static void
test_disabled_user(void **state)
{
	struct fx *f = *state;
	char tok[AUTH_TOKEN_HEX + 1], csrf[AUTH_TOKEN_HEX + 1];
	struct auth_session s;

	assert_int_equal(auth_user_add(f->db, "qian", AUTH_ROLE_FINANCE_PAYER, "all", PW), TL_OK);
	login_ok(f->db, "qian", PW, T0, tok, csrf);
	assert_int_equal(auth_user_disable(f->db, "qian"), TL_OK);
	/* The live session died with the account. */
	assert_int_equal(auth_session_check(f->db, tok, T0 + 1000, &s), TL_EDENIED);
	login_denied(f->db, "qian", PW, T0 + 2000);
	assert_int_equal(events(f->db, "login_disabled"), 1);
	assert_int_equal(auth_user_disable(f->db, "nobody"), TL_ENOTFOUND);
	assert_int_equal(auth_user_enable(f->db, "qian"), TL_OK);
	login_ok(f->db, "qian", PW, T0 + 3000, tok, csrf);
}

static void
test_session_expiry(void **state)
{
	struct fx *f = *state;
	char tok[AUTH_TOKEN_HEX + 1], csrf[AUTH_TOKEN_HEX + 1];
	struct auth_session s;
	int64_t t;

	assert_int_equal(auth_user_add(f->db, "zhou", AUTH_ROLE_RESPONDER, "120110", PW), TL_OK);

	/* Idle timeout (30 min), renewed by use. */
	login_ok(f->db, "zhou", PW, T0, tok, csrf);
	assert_int_equal(auth_session_check(f->db, tok, T0 + 29 * MIN_MS, &s), TL_OK);
	assert_int_equal(auth_session_check(f->db, tok, T0 + 58 * MIN_MS, &s), TL_OK);
	assert_int_equal(auth_session_check(f->db, tok, T0 + 88 * MIN_MS, &s), TL_EDENIED);
	/* ...and once expired it stays gone (the row was deleted). */
	assert_int_equal(auth_session_check(f->db, tok, T0 + 59 * MIN_MS, &s), TL_EDENIED);
	assert_int_equal(events(f->db, "session_expired"), 1);

	/* Absolute lifetime (12 h), however busy the user is. */
	login_ok(f->db, "zhou", PW, T0, tok, csrf);
	for (t = T0 + 20 * MIN_MS; t < T0 + 12 * 60 * MIN_MS; t += 20 * MIN_MS)
		assert_int_equal(auth_session_check(f->db, tok, t, &s), TL_OK);
	assert_int_equal(s.expires_ms, T0 + 12 * 60 * MIN_MS);
	assert_int_equal(auth_session_check(f->db, tok, T0 + 12 * 60 * MIN_MS, &s), TL_EDENIED);
	auth_session_wipe(&s);
}

static void
test_session_cap_and_passwd(void **state)
{
	struct fx *f = *state;
	char tok[6][AUTH_TOKEN_HEX + 1], csrf[AUTH_TOKEN_HEX + 1];
	struct auth_session s;

	assert_int_equal(auth_user_add(f->db, "wu", AUTH_ROLE_FINANCE_PROPOSER, "all", PW), TL_OK);
	for (int i = 0; i < 6; i++)
		login_ok(f->db, "wu", PW, T0 + i, tok[i], csrf);
	/* At most 4 sessions per user: the two oldest were dropped. */
	assert_int_equal(auth_session_check(f->db, tok[0], T0 + 10, &s), TL_EDENIED);
	assert_int_equal(auth_session_check(f->db, tok[1], T0 + 10, &s), TL_EDENIED);
	for (int i = 2; i < 6; i++)
		assert_int_equal(auth_session_check(f->db, tok[i], T0 + 10, &s), TL_OK);

	/* A new password ends every session and replaces the old one. */
	assert_int_equal(auth_user_passwd(f->db, "wu", "short"), TL_EINVAL);
	assert_int_equal(auth_user_passwd(f->db, "nobody", PW2), TL_ENOTFOUND);
	assert_int_equal(auth_user_passwd(f->db, "wu", PW2), TL_OK);
	for (int i = 2; i < 6; i++)
		assert_int_equal(auth_session_check(f->db, tok[i], T0 + 20, &s), TL_EDENIED);
	login_denied(f->db, "wu", PW, T0 + 30);
	login_ok(f->db, "wu", PW2, T0 + 40, tok[0], csrf);
	assert_int_equal(events(f->db, "password_changed"), 1);
	auth_session_wipe(&s);
}

static bool
file_contains(const char *path, const void *needle, size_t n)
{
	FILE *fp = fopen(path, "rb");
	struct buf b;
	bool hit;

	if (!fp)
		return false;
	buf_init(&b, 64 << 20);
	assert_int_equal(buf_read_file(&b, fp), TL_OK);
	fclose(fp);
	hit = b.len >= n && memmem(b.data, b.len, needle, n) != NULL;
	buf_free(&b);
	return hit;
}

static void
test_password_storage(void **state)
{
	struct fx *f = *state;
	char tok[AUTH_TOKEN_HEX + 1], csrf[AUTH_TOKEN_HEX + 1], p[160];
	struct db_stmt *st;
	bool row;
	const char *needle = "plaintext-canary-password-9X";

	assert_int_equal(auth_user_add(f->db, "zheng", AUTH_ROLE_AUDITOR, "all", needle), TL_OK);
	login_ok(f->db, "zheng", needle, T0, tok, csrf);
	login_denied(f->db, "zheng", "plaintext-canary-wrong-7Q", T0);

	assert_int_equal(db_prepare(f->db, "SELECT pwhash FROM auth_users WHERE name = 'zheng';", &st), TL_OK);
	assert_int_equal(db_step(st, &row), TL_OK);
	assert_true(row);
	assert_string_not_equal(db_col_text(st, 0), needle);
	assert_null(strstr(db_col_text(st, 0), needle));
	assert_int_equal(strncmp(db_col_text(st, 0), "$argon2id$", 10), 0);
	db_finalize(st);
	/* Nothing in the events table mentions the password. */
	assert_int_equal(count(f->db, "SELECT count(*) FROM auth_events WHERE event LIKE '%canary%';", NULL), 0);

	/* The files on disk hold neither passwords nor the session token. */
	assert_int_equal(db_exec(f->db, "PRAGMA wal_checkpoint(FULL);"), TL_OK);
	snprintf(p, sizeof(p), "%s", f->path);
	assert_false(file_contains(p, needle, strlen(needle)));
	assert_false(file_contains(p, "plaintext-canary-wrong", 22));
	assert_false(file_contains(p, tok, AUTH_TOKEN_HEX));
	assert_false(file_contains(p, "zheng", 5)); /* encrypted at rest at all */
	snprintf(p, sizeof(p), "%s-wal", f->path);
	assert_false(file_contains(p, needle, strlen(needle)));
	assert_false(file_contains(p, tok, AUTH_TOKEN_HEX));
}

static void
test_rehash_on_login(void **state)
{
	struct fx *f = *state;
	struct auth_config c;
	char tok[AUTH_TOKEN_HEX + 1], csrf[AUTH_TOKEN_HEX + 1], before[200], after[200];
	struct db_stmt *st;
	bool row;

	assert_int_equal(auth_user_add(f->db, "feng", AUTH_ROLE_RESPONDER, "120111", PW), TL_OK);
	assert_int_equal(db_prepare(f->db, "SELECT pwhash FROM auth_users WHERE name = 'feng';", &st), TL_OK);
	assert_int_equal(db_step(st, &row), TL_OK);
	snprintf(before, sizeof(before), "%s", db_col_text(st, 0));
	db_reset(st);
	/* Raise the cost: the next successful login upgrades the hash. */
	fast_config(&c);
	c.opslimit = crypto_pwhash_OPSLIMIT_MIN + 1;
	assert_int_equal(auth_init(&c), TL_OK);
	login_denied(f->db, "feng", "wrong wrong wrong", T0); /* a failure does not */
	assert_int_equal(db_step(st, &row), TL_OK);
	assert_string_equal(db_col_text(st, 0), before);
	db_reset(st);
	login_ok(f->db, "feng", PW, T0, tok, csrf);
	assert_int_equal(db_step(st, &row), TL_OK);
	snprintf(after, sizeof(after), "%s", db_col_text(st, 0));
	db_finalize(st);
	assert_string_not_equal(before, after);
	assert_int_equal(crypto_pwhash_str_needs_rehash(before, c.opslimit, c.memlimit), 1);
	assert_int_equal(crypto_pwhash_str_needs_rehash(after, c.opslimit, c.memlimit), 0);
	assert_int_equal(events(f->db, "rehashed"), 1);
	login_ok(f->db, "feng", PW, T0 + 1, tok, csrf);
	assert_int_equal(events(f->db, "rehashed"), 1);
	fast_config(&c);
	assert_int_equal(auth_init(&c), TL_OK);
}

/* ---- the hashing cap (INTERACTIVE cost: ~0.1 s per hash) ---- */

struct racer {
	struct fx *f;
	pthread_barrier_t *bar;
	enum tl_err rc;
	int64_t ms;
};

static void *
race_login(void *arg)
{
	struct racer *r = arg;
	struct db *db;
	char tok[AUTH_TOKEN_HEX + 1], csrf[AUTH_TOKEN_HEX + 1];
	int64_t t;

	/* One connection per thread (db.h's rule). */
	if (db_open(r->f->path, r->f->key, 0, &db) != TL_OK) {
		r->rc = TL_EIO;
		return NULL;
	}
	pthread_barrier_wait(r->bar);
	t = time_mono_ms();
	r->rc = auth_login(db, "hu", PW, T0, tok, csrf);
	r->ms = time_mono_ms() - t;
	auth_secret_wipe(tok, sizeof(tok));
	auth_secret_wipe(csrf, sizeof(csrf));
	db_close(db);
	return NULL;
}

static void
race(struct fx *f, size_t n, int *ok, int *busy, struct racer *r)
{
	pthread_t th[8];
	pthread_barrier_t bar;

	assert_true(n <= 8);
	pthread_barrier_init(&bar, NULL, (unsigned)n);
	for (size_t i = 0; i < n; i++) {
		r[i].f = f;
		r[i].bar = &bar;
		r[i].rc = TL_EINVAL;
		assert_int_equal(pthread_create(&th[i], NULL, race_login, &r[i]), 0);
	}
	*ok = *busy = 0;
	for (size_t i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		if (r[i].rc == TL_OK)
			(*ok)++;
		else if (r[i].rc == TL_EUNAVAIL)
			(*busy)++;
		else
			fail_msg("thread %zu: %s", i, tl_strerror(r[i].rc));
	}
	pthread_barrier_destroy(&bar);
}

static void
test_hash_concurrency_cap(void **state)
{
	struct fx *f = *state;
	struct auth_config c;
	struct auth_stats st;
	struct racer r[4];
	int ok, busy;

	auth_config_default(&c); /* INTERACTIVE: each hash takes real time */
	c.hash_slots = 1;
	c.hash_wait_ms = 20;
	assert_int_equal(auth_init(&c), TL_OK);
	assert_int_equal(auth_user_add(f->db, "hu", AUTH_ROLE_RESPONDER, "120112", PW), TL_OK);

	/* Four at once, one slot, 20 ms patience: the first hashes, the ones
	 * that cannot get the slot in time are told to come back. */
	race(f, 4, &ok, &busy, r);
	assert_true(ok >= 1);
	assert_true(busy >= 1);
	for (int i = 0; i < 4; i++)
		if (r[i].rc == TL_EUNAVAIL)
			assert_true(r[i].ms < 1000); /* gave up near the bound, not after a hash */
	auth_stats_get(&st);
	assert_int_equal(st.peak_concurrent, 1);
	assert_true(st.busy >= 1);

	/* With enough patience both wait their turn and succeed, still one
	 * hash at a time. */
	c.hash_wait_ms = 5000;
	assert_int_equal(auth_init(&c), TL_OK);
	race(f, 2, &ok, &busy, r);
	assert_int_equal(ok, 2);
	assert_int_equal(busy, 0);
	auth_stats_get(&st);
	assert_int_equal(st.peak_concurrent, 1);
	assert_int_equal(st.busy, 0);

	/* Unknown users cost the same Argon2id work as known ones. */
	{
		int64_t t, known, unknown;
		t = time_mono_ms();
		login_denied(f->db, "hu", "wrong wrong wrong", T0);
		known = time_mono_ms() - t;
		t = time_mono_ms();
		login_denied(f->db, "no.such.user", "wrong wrong wrong", T0);
		unknown = time_mono_ms() - t;
		print_message("argon2id interactive: known user %lld ms, unknown user %lld ms\n",
		              (long long)known, (long long)unknown);
		assert_true(known >= 20); /* a real hash ran */
		assert_true(unknown * 2 >= known);
		assert_true(unknown <= known * 3 + 50);
	}
	auth_stats_get(&st);
	assert_true(st.hashes >= 2);
	fast_config(&c);
	assert_int_equal(auth_init(&c), TL_OK);
}

/* ---- console HTTP helpers ---- */

static void
test_cookies_and_headers(void **state)
{
	struct buf b;
	char v[80];
	const struct http_hdr *h;
	size_t n;
	bool csp = false;

	buf_init_secret(&b, 512);
	assert_int_equal(http_cookie_session(&b, "abc123", false), TL_OK);
	assert_string_equal(buf_str(&b), "tl_session=abc123; Path=/; HttpOnly; SameSite=Strict");
	buf_reset(&b);
	assert_int_equal(http_cookie_session(&b, "abc123", true), TL_OK);
	assert_string_equal(buf_str(&b), "tl_session=abc123; Path=/; HttpOnly; SameSite=Strict; Secure");
	buf_reset(&b);
	assert_int_equal(http_cookie_session(&b, "a;b", true), TL_EINVAL);
	assert_int_equal(http_cookie_session(&b, "a b", true), TL_EINVAL);
	assert_int_equal(http_cookie_session(&b, "", true), TL_EINVAL);
	assert_int_equal(http_cookie_session(&b, NULL, true), TL_EINVAL);
	assert_int_equal(http_cookie_session_clear(&b, true), TL_OK);
	assert_non_null(strstr(buf_str(&b), "Max-Age=0"));
	assert_non_null(strstr(buf_str(&b), "tl_session=;"));
	buf_free(&b);

	assert_int_equal(http_cookie_parse("tl_session=abc", "tl_session", v, sizeof(v)), TL_OK);
	assert_string_equal(v, "abc");
	assert_int_equal(http_cookie_parse("a=1; tl_session=\"xyz\" ;b=2", "tl_session", v, sizeof(v)), TL_OK);
	assert_string_equal(v, "xyz");
	assert_int_equal(http_cookie_parse("x_tl_session=1; tl_session_old=2", "tl_session", v, sizeof(v)),
	                 TL_ENOTFOUND);
	assert_int_equal(http_cookie_parse(NULL, "tl_session", v, sizeof(v)), TL_ENOTFOUND);
	assert_int_equal(http_cookie_parse("", "tl_session", v, sizeof(v)), TL_ENOTFOUND);
	/* Two of ours (cookie tossing): refuse. */
	assert_int_equal(http_cookie_parse("tl_session=a; tl_session=b", "tl_session", v, sizeof(v)), TL_EINVAL);
	assert_string_equal(v, "");
	assert_int_equal(http_cookie_parse("tl_session=a\"b", "tl_session", v, sizeof(v)), TL_EINVAL);
	assert_int_equal(http_cookie_parse("tl_session=0123456789", "tl_session", v, 5), TL_ETOOBIG);
	/* Other cookies' oddities are not our business. */
	assert_int_equal(http_cookie_parse("junk; =x; a=\"; tl_session=ok", "tl_session", v, sizeof(v)), TL_OK);
	assert_string_equal(v, "ok");

	h = http_html_headers(&n);
	assert_true(n >= 6);
	for (size_t i = 0; i < n; i++)
		if (strcmp(h[i].name, "Content-Security-Policy") == 0) {
			csp = true;
			assert_string_equal(h[i].value,
			                    "default-src 'none'; style-src 'self'; img-src 'self'; "
			                    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
		}
	assert_true(csp);
	assert_true(http_form_content_type_ok("application/x-www-form-urlencoded"));
	assert_true(http_form_content_type_ok("Application/X-WWW-Form-Urlencoded; charset=UTF-8"));
	assert_false(http_form_content_type_ok("application/x-www-form-urlencodedX"));
	assert_false(http_form_content_type_ok("multipart/form-data; boundary=x"));
	assert_false(http_form_content_type_ok(NULL));
}

static enum tl_err
parse(const char *body, struct http_form *fm)
{
	static const char *const multi[] = { "agency", NULL };

	return http_form_parse(body, strlen(body), 4096, 16, multi, fm);
}

static void
test_form_parse(void **state)
{
	struct http_form fm;
	char big[5000];

	assert_int_equal(parse("name=zhang.wei&password=p%40ss+w%C3%B6rd%26%3D&csrf=ab", &fm), TL_OK);
	assert_int_equal(fm.n, 3);
	assert_string_equal(http_form_get(&fm, "name"), "zhang.wei");
	assert_string_equal(http_form_get(&fm, "password"), "p@ss wörd&=");
	assert_int_equal(fm.f[1].value_len, strlen("p@ss wörd&="));
	assert_null(http_form_get(&fm, "missing"));
	http_form_free(&fm);
	assert_int_equal(fm.n, 0);

	/* Chinese text, empty values, a name without '=', empty segments. */
	assert_int_equal(parse("note=%E6%BB%A8%E6%B5%B7%E6%96%B0%E5%8C%BA&empty=&flag&&x=1&", &fm), TL_OK);
	assert_int_equal(fm.n, 4);
	assert_string_equal(http_form_get(&fm, "note"), "滨海新区");
	assert_string_equal(http_form_get(&fm, "empty"), "");
	assert_string_equal(http_form_get(&fm, "flag"), "");
	http_form_free(&fm);
	assert_int_equal(parse("", &fm), TL_OK);
	assert_int_equal(fm.n, 0);
	http_form_free(&fm);

	/* Multi-valued keys may repeat; others may not. */
	assert_int_equal(parse("agency=gongan&agency=huanbao&lead=1", &fm), TL_OK);
	assert_int_equal(fm.n, 3);
	http_form_free(&fm);
	assert_int_equal(parse("amount=1&amount=500000", &fm), TL_EINVAL);
	assert_int_equal(fm.n, 0);
	assert_int_equal(parse("csrf=a&x=1&csrf=b", &fm), TL_EINVAL);
	assert_int_equal(parse("csrf=a&cs%72f=b", &fm), TL_EINVAL); /* same name once decoded */

	/* Bad percent-escapes. */
	assert_int_equal(parse("a=%", &fm), TL_EINVAL);
	assert_int_equal(parse("a=%4", &fm), TL_EINVAL);
	assert_int_equal(parse("a=%zz", &fm), TL_EINVAL);
	assert_int_equal(parse("a=%G0", &fm), TL_EINVAL);
	assert_int_equal(parse("%=1", &fm), TL_EINVAL);
	/* Invalid UTF-8 or NUL after decoding. */
	assert_int_equal(parse("a=%FF", &fm), TL_EINVAL);
	assert_int_equal(parse("a=%C0%AF", &fm), TL_EINVAL);
	assert_int_equal(parse("a=%ED%A0%80", &fm), TL_EINVAL);
	assert_int_equal(parse("a=x%00y", &fm), TL_EINVAL);
	assert_int_equal(parse("a%00b=1", &fm), TL_EINVAL);
	assert_int_equal(http_form_parse("a=\xff", 3, 100, 4, NULL, &fm), TL_EINVAL);
	/* Empty names. */
	assert_int_equal(parse("=1", &fm), TL_EINVAL);
	/* Oversize body and too many fields. */
	memset(big, 'a', sizeof(big) - 1);
	big[0] = 'k';
	big[1] = '=';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(parse(big, &fm), TL_ETOOBIG);
	assert_int_equal(parse("a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11&l=12&m=13&n=14&o=15&p=16",
	                       &fm), TL_OK);
	http_form_free(&fm);
	assert_int_equal(parse("a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11&l=12&m=13&n=14&o=15&p=16&q=17",
	                       &fm), TL_ETOOBIG);
	assert_int_equal(http_form_parse("a=1", 3, 100, HTTP_FORM_MAX_FIELDS + 1, NULL, &fm), TL_EINVAL);
	http_form_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles),
		cmocka_unit_test_setup_teardown(test_user_add_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_login_session_csrf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_password_and_unknown_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lockout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lockout_configurable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disabled_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_cap_and_passwd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_storage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rehash_on_login, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hash_concurrency_cap, setup, teardown),
		cmocka_unit_test(test_cookies_and_headers),
		cmocka_unit_test(test_form_parse),
	};

	if (sodium_init() < 0)
		return 1;
	log_init("auth_test", LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
