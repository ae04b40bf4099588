/*
 * auth.h - staff users, password logins, sessions and CSRF for the district
 * and finance consoles, stored in the service's own SQLCipher database.
 *
 * Part of tl_db (it uses common/db), so only services that already link
 * SQLCipher get it.  See docs/auth.md for the policy behind the numbers.
 *
 * Passwords: crypto_pwhash_str (Argon2id), INTERACTIVE cost by default;
 * hashes are upgraded on the next successful login when the configured
 * cost changes (crypto_pwhash_str_needs_rehash).  Every Argon2id run in the
 * process passes through one counting semaphore (default 2 at once), so
 * logins cannot exhaust CPU or RAM: a caller that cannot get a slot within
 * hash_wait_ms gets TL_EUNAVAIL (answer 503 with Retry-After).
 *
 * auth_login() answers TL_EDENIED alike, after the same Argon2id work, for
 * an unknown user, a wrong password, a disabled user and a locked-out user,
 * so that user names cannot be probed.  The audit table records which of
 * these it was (never the password, the attempted name of an unknown user,
 * or any client address).
 *
 * Sessions: the token is 32 random bytes (64 hex characters in the cookie);
 * the database keeps only its BLAKE2b-256 hash.  A session dies after
 * idle_ms without use or lifetime_ms after login, whichever is first, and
 * when its user is disabled or changes password.  The CSRF token is a keyed
 * BLAKE2b of the session token (per session, never stored).
 *
 * Threads: auth_init() once at startup (after secret_init()), before any
 * other call and while no other auth call runs.  After that every function
 * is thread-safe given one struct db per thread (db.h's rule).
 *
 * Secrets: passwords are only read; tokens handed out live in caller memory
 * the caller must wipe (auth_secret_wipe() / sodium_memzero) after use.
 */
#ifndef TL_AUTH_H
#define TL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "db.h"
#include "err.h"

#define AUTH_NAME_MAX 32          /* login names: [a-z0-9._-], first [a-z0-9] */
#define AUTH_SCOPE_MAX 16         /* a district code (120000 = city), or "all" */
#define AUTH_PASSWORD_MIN 12      /* characters (code points) */
#define AUTH_PASSWORD_MAX 1024    /* bytes */
#define AUTH_TOKEN_BYTES 32
#define AUTH_TOKEN_HEX (AUTH_TOKEN_BYTES * 2) /* cookie / form field length */

enum auth_role {
	AUTH_ROLE_NONE = 0,
	AUTH_ROLE_RESPONDER,         /* district responder */
	AUTH_ROLE_SUPERVISOR,        /* district supervisor */
	AUTH_ROLE_CITY_OFFICE,       /* 市领导小组办公室 */
	AUTH_ROLE_FINANCE_PROPOSER,
	AUTH_ROLE_FINANCE_APPROVER,
	AUTH_ROLE_FINANCE_PAYER,
	AUTH_ROLE_AUDITOR,
	AUTH_ROLE_MAX_
};

/* "responder", "supervisor", "city_office", "finance_proposer",
 * "finance_approver", "finance_payer", "auditor"; "" for anything else. */
const char *auth_role_name(enum auth_role r);
/* Chinese label for pages, e.g. "区级核查员"; "" for anything else. */
const char *auth_role_label_zh(enum auth_role r);
enum tl_err auth_role_parse(const char *s, enum auth_role *out) __attribute__((warn_unused_result));

struct auth_config {
	unsigned max_failures;        /* consecutive failures before lock-out; 5 */
	int64_t lockout_ms;           /* 15 min */
	int64_t idle_ms;              /* session idle timeout; 30 min */
	int64_t lifetime_ms;          /* session absolute lifetime; 12 h */
	unsigned max_sessions;        /* per user; older ones are dropped; 4 */
	unsigned long long opslimit;  /* Argon2id; crypto_pwhash_OPSLIMIT_INTERACTIVE */
	size_t memlimit;              /* crypto_pwhash_MEMLIMIT_INTERACTIVE (64 MiB) */
	unsigned hash_slots;          /* concurrent Argon2id runs; 2 */
	int64_t hash_wait_ms;         /* longest wait for a slot; 3000 */
	int64_t events_max;           /* login events kept (oldest dropped); 1,000,000 */
};

/* The defaults above. */
void auth_config_default(struct auth_config *c);

/* Sets the process-wide configuration (NULL: defaults) and prepares the
 * dummy hash used for unknown users (one Argon2id run).  May be called
 * again (tests) when no other auth call is in progress. */
enum tl_err auth_init(const struct auth_config *c) __attribute__((warn_unused_result));

/* The auth schema as db_migrate() steps, versioned under the service name
 * AUTH_SCHEMA ("auth") in the same database:
 *     db_migrate(db, AUTH_SCHEMA, steps, n, NULL)
 * auth_migrate() does exactly that.  Only ever appended to. */
#define AUTH_SCHEMA "auth"
const struct db_migration *auth_migrations(size_t *n);
enum tl_err auth_migrate(struct db *db) __attribute__((warn_unused_result));

/* ---- users (admin operations; times from the wall clock) ---- */

/* TL_EEXIST if the name is taken; TL_EINVAL for a bad name, role or scope,
 * or a password shorter than AUTH_PASSWORD_MIN characters / not UTF-8.
 * The scope is a current district code (district_valid(), 120000 for the
 * city) or "all"; responders and supervisors need a district code;
 * TL_EUNAVAIL if no hashing slot was free in time. */
enum tl_err auth_user_add(struct db *db, const char *name, enum auth_role role, const char *scope,
                          const char *password) __attribute__((warn_unused_result));
/* Disabling also ends all of the user's sessions.  TL_ENOTFOUND. */
enum tl_err auth_user_disable(struct db *db, const char *name) __attribute__((warn_unused_result));
enum tl_err auth_user_enable(struct db *db, const char *name) __attribute__((warn_unused_result));
/* New password; clears failures and lock-out; ends all sessions. */
enum tl_err auth_user_passwd(struct db *db, const char *name, const char *password)
	__attribute__((warn_unused_result));
/* Clears failures and lock-out (an administrator vouched for the user). */
enum tl_err auth_user_unlock(struct db *db, const char *name) __attribute__((warn_unused_result));

/* ---- passwords typed again inside a session (the finance console's
 * signing) ----
 * A wrong one counts exactly like a failed login (same counter, same
 * lock-out), so a stolen session cannot be used to guess the password
 * without limit; the failure that locks the user also ends all of their
 * sessions.  Recorded as login_bad_password / lockout in auth_events.
 * *locked (may be NULL): this failure locked the user.  TL_ENOTFOUND. */
enum tl_err auth_user_reauth_failed(struct db *db, const char *name, int64_t now_ms, bool *locked)
	__attribute__((warn_unused_result));
/* TL_OK if the user may act now; TL_EDENIED if disabled or locked out;
 * TL_ENOTFOUND. */
enum tl_err auth_user_usable(struct db *db, const char *name, int64_t now_ms)
	__attribute__((warn_unused_result));

struct auth_user {
	int64_t id;
	char name[AUTH_NAME_MAX + 1];
	enum auth_role role;
	char scope[AUTH_SCOPE_MAX + 1];
};

/* ---- logins and sessions ---- */

/* On TL_OK fills token_out (the cookie value) and csrf_out (for forms),
 * both NUL-terminated hex; the caller wipes them after use.
 *   TL_EDENIED   unknown user, wrong password, disabled or locked out
 *   TL_EUNAVAIL  hashing slots busy (or the database busy): try later
 *   others       database failures */
enum tl_err auth_login(struct db *db, const char *name, const char *password, int64_t now_ms,
                       char token_out[AUTH_TOKEN_HEX + 1], char csrf_out[AUTH_TOKEN_HEX + 1])
	__attribute__((warn_unused_result));

struct auth_session {
	struct auth_user user;
	int64_t created_ms;
	int64_t expires_ms;              /* absolute end */
	char csrf[AUTH_TOKEN_HEX + 1];   /* secret: wipe with auth_session_wipe() */
};

/* Checks a cookie token; on TL_OK renews the idle timer and fills *out.
 * TL_EDENIED for a malformed, unknown, expired or disabled-user session
 * (an expired one is deleted). */
enum tl_err auth_session_check(struct db *db, const char *token, int64_t now_ms,
                               struct auth_session *out) __attribute__((warn_unused_result));
/* Ends the session (idempotent: an unknown token is TL_OK). */
enum tl_err auth_logout(struct db *db, const char *token, int64_t now_ms)
	__attribute__((warn_unused_result));
/* TL_OK if form_token equals the session's CSRF token (constant time),
 * TL_EDENIED otherwise (NULL, wrong length, mismatch). */
enum tl_err auth_csrf_check(const struct auth_session *s, const char *form_token)
	__attribute__((warn_unused_result));
void auth_session_wipe(struct auth_session *s);
/* sodium_memzero for token/csrf buffers. */
void auth_secret_wipe(char *s, size_t len);

/* Counters for tests and metrics. */
struct auth_stats {
	uint64_t hashes;          /* Argon2id runs */
	uint64_t busy;            /* slot waits that timed out */
	unsigned peak_concurrent; /* most Argon2id runs seen at once */
};
void auth_stats_get(struct auth_stats *out);

#endif
