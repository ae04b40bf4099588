#include "compat.h"
#include "staffkey.h"
#include "log.h"
#include "num.h"
#include "secret.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static const struct db_migration staffkey_steps[] = {
	{ "approvers' password-sealed signing keys",
	  "CREATE TABLE staffkeys ("
	  " staff_id TEXT PRIMARY KEY CHECK (length(staff_id) BETWEEN 1 AND 64),"
	  " pk TEXT NOT NULL CHECK (length(pk) = 64),"
	  " salt TEXT NOT NULL CHECK (length(salt) = 32),"
	  " opslimit INTEGER NOT NULL CHECK (opslimit >= 1),"
	  " memlimit INTEGER NOT NULL CHECK (memlimit >= 8192),"
	  " nonce TEXT NOT NULL CHECK (length(nonce) = 48),"
	  " box TEXT NOT NULL CHECK (length(box) = 160),"
	  " created_ms INTEGER NOT NULL,"
	  " updated_ms INTEGER NOT NULL) WITHOUT ROWID;" },
};

enum tl_err
staffkey_migrate(struct db *db)
{
	return db_migrate(db, STAFFKEY_SCHEMA, staffkey_steps, TL_ARRAY_LEN(staffkey_steps), NULL);
}

/* Bounds a stored cost must respect, so a tampered row cannot make the
 * daemon burn a gigabyte per approval attempt. */
#define COST_OPS_MAX 16ULL
#define COST_MEM_MAX ((size_t)1 << 30)

static unsigned long long g_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
static size_t g_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
static atomic_long g_live;

void
staffkey_set_cost(unsigned long long opslimit, size_t memlimit)
{
	g_ops = opslimit;
	g_mem = memlimit;
}

long
staffkey_live_secrets(void)
{
	return atomic_load(&g_live);
}

/* ---- Argon2id slots: each run takes memlimit bytes of RAM ---- */

static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slot_cond = PTHREAD_COND_INITIALIZER;
static int slots_used;
#define SLOTS_MAX 2
#define SLOT_WAIT_MS 3000

static bool
slot_take(void)
{
	struct timespec until;
	bool ok = true;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += SLOT_WAIT_MS / 1000;
	pthread_mutex_lock(&slot_lock);
	while (slots_used >= SLOTS_MAX && ok)
		ok = pthread_cond_timedwait(&slot_cond, &slot_lock, &until) == 0 || slots_used < SLOTS_MAX;
	if (ok)
		slots_used++;
	pthread_mutex_unlock(&slot_lock);
	return ok;
}

static void
slot_give(void)
{
	pthread_mutex_lock(&slot_lock);
	slots_used--;
	pthread_cond_signal(&slot_cond);
	pthread_mutex_unlock(&slot_lock);
}

/* Derives the sealing key into sodium_malloc memory. */
static enum tl_err
derive(const char *password, const unsigned char *salt, unsigned long long ops, size_t mem, unsigned char **key)
{
	unsigned char *k;
	int rc;

	*key = NULL;
	if (!password || ops < crypto_pwhash_OPSLIMIT_MIN || ops > COST_OPS_MAX || mem < crypto_pwhash_MEMLIMIT_MIN ||
	    mem > COST_MEM_MAX)
		return TL_EINVAL;
	if (!(k = sodium_malloc(crypto_secretbox_KEYBYTES)))
		return TL_ENOMEM;
	if (!slot_take()) {
		secret_free(k);
		return TL_EUNAVAIL;
	}
	rc = crypto_pwhash(k, crypto_secretbox_KEYBYTES, password, strlen(password), salt, ops, mem,
	                   crypto_pwhash_ALG_ARGON2ID13);
	slot_give();
	if (rc != 0) {
		secret_free(k);
		return TL_ENOMEM; /* libsodium could not get the memory */
	}
	*key = k;
	return TL_OK;
}

/* Seals sk under password with a fresh salt and nonce at today's cost. */
static enum tl_err
seal(struct staffkey_sealed *k, const unsigned char *sk, const char *password)
{
	unsigned char *key;
	enum tl_err e;

	randombytes_buf(k->salt, sizeof(k->salt));
	randombytes_buf(k->nonce, sizeof(k->nonce));
	k->opslimit = g_ops;
	k->memlimit = g_mem;
	if ((e = derive(password, k->salt, k->opslimit, k->memlimit, &key)) != TL_OK)
		return e;
	crypto_secretbox_easy(k->box, sk, crypto_sign_SECRETKEYBYTES, k->nonce, key);
	secret_free(key);
	return TL_OK;
}

/* Opens the sealed key into new sodium_malloc memory, checking that it
 * belongs to the stored public key. */
static enum tl_err
unseal(const struct staffkey_sealed *k, const char *password, unsigned char **sk_out)
{
	unsigned char *key = NULL, *sk = NULL, pk[crypto_sign_PUBLICKEYBYTES];
	enum tl_err e;

	*sk_out = NULL;
	if ((e = derive(password, k->salt, k->opslimit, k->memlimit, &key)) != TL_OK)
		return e;
	if (!(sk = sodium_malloc(crypto_sign_SECRETKEYBYTES))) {
		secret_free(key);
		return TL_ENOMEM;
	}
	atomic_fetch_add(&g_live, 1);
	if (crypto_secretbox_open_easy(sk, k->box, sizeof(k->box), k->nonce, key) != 0) {
		e = TL_EDENIED;
	} else if (crypto_sign_ed25519_sk_to_pk(pk, sk) != 0 || sodium_memcmp(pk, k->pk, sizeof(pk)) != 0) {
		e = TL_ECRYPTO;
	}
	secret_free(key);
	if (e != TL_OK) {
		secret_free(sk);
		atomic_fetch_sub(&g_live, 1);
		return e;
	}
	*sk_out = sk;
	return TL_OK;
}

static void
unsealed_free(unsigned char *sk)
{
	if (!sk)
		return;
	secret_free(sk);
	atomic_fetch_sub(&g_live, 1);
}

/* ---- rows ---- */

static enum tl_err
store(struct db *db, const struct staffkey_sealed *k, int64_t now_ms, bool update)
{
	char pk[65], salt[33], nonce[49], box[161];
	struct db_stmt *st = NULL;
	enum tl_err e;

	hex_encode(k->pk, sizeof(k->pk), pk);
	hex_encode(k->salt, sizeof(k->salt), salt);
	hex_encode(k->nonce, sizeof(k->nonce), nonce);
	hex_encode(k->box, sizeof(k->box), box);
	e = db_prepare(db, update ? "UPDATE staffkeys SET salt = ?3, opslimit = ?4, memlimit = ?5, nonce = ?6,"
	                            " box = ?7, updated_ms = ?8 WHERE staff_id = ?1 AND pk = ?2;"
	                          : "INSERT INTO staffkeys (staff_id, pk, salt, opslimit, memlimit, nonce, box,"
	                            " created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8);",
	               &st);
	if (e == TL_OK && (e = db_bind_text(st, 1, k->staff_id)) == TL_OK && (e = db_bind_text(st, 2, pk)) == TL_OK &&
	    (e = db_bind_text(st, 3, salt)) == TL_OK && (e = db_bind_int64(st, 4, (int64_t)k->opslimit)) == TL_OK &&
	    (e = db_bind_int64(st, 5, (int64_t)k->memlimit)) == TL_OK && (e = db_bind_text(st, 6, nonce)) == TL_OK &&
	    (e = db_bind_text(st, 7, box)) == TL_OK && (e = db_bind_int64(st, 8, now_ms)) == TL_OK)
		e = db_step(st, NULL);
	db_finalize(st);
	if (e == TL_OK && update && db_changes(db) != 1)
		e = TL_ECONFLICT; /* the key changed under us */
	sodium_memzero(box, sizeof(box));
	return e;
}

enum tl_err
staffkey_load(struct db *db, const char *staff_id, struct staffkey_sealed *k)
{
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	memset(k, 0, sizeof(*k));
	if (!staff_id || strlen(staff_id) == 0 || strlen(staff_id) > APPROVAL_STAFF_MAX)
		return TL_EINVAL;
	if ((e = db_prepare(db, "SELECT pk, salt, opslimit, memlimit, nonce, box FROM staffkeys WHERE staff_id = ?1;",
	                    &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, staff_id)) != TL_OK || (e = db_step(st, &row)) != TL_OK)
		goto out;
	if (!row) {
		e = TL_ENOTFOUND;
		goto out;
	}
	snprintf(k->staff_id, sizeof(k->staff_id), "%s", staff_id);
	k->opslimit = (unsigned long long)db_col_int64(st, 2);
	k->memlimit = (size_t)db_col_int64(st, 3);
	if (hex_decode(db_col_text(st, 0), 64, k->pk, sizeof(k->pk)) != TL_OK ||
	    hex_decode(db_col_text(st, 1), 32, k->salt, sizeof(k->salt)) != TL_OK ||
	    hex_decode(db_col_text(st, 4), 48, k->nonce, sizeof(k->nonce)) != TL_OK ||
	    hex_decode(db_col_text(st, 5), 160, k->box, sizeof(k->box)) != TL_OK)
		e = TL_ECRYPTO;
out:
	db_finalize(st);
	if (e != TL_OK)
		sodium_memzero(k, sizeof(*k));
	return e;
}

bool
staffkey_exists(struct db *db, const char *staff_id)
{
	struct staffkey_sealed k;
	bool ok = staffkey_load(db, staff_id, &k) == TL_OK;

	sodium_memzero(&k, sizeof(k));
	return ok;
}

enum tl_err
staffkey_create(struct payouts *core, const char *staff_id, enum staff_level level, const char *password,
                int64_t now_ms, unsigned char pk_out[crypto_sign_PUBLICKEYBYTES])
{
	struct staffkey_sealed k;
	unsigned char *sk = NULL;
	struct db_stmt *st = NULL;
	enum tl_err e;

	memset(&k, 0, sizeof(k));
	if (!staff_id || strlen(staff_id) == 0 || strlen(staff_id) > APPROVAL_STAFF_MAX || !password)
		return TL_EINVAL;
	if (staffkey_exists(core->db, staff_id))
		return TL_EEXIST;
	snprintf(k.staff_id, sizeof(k.staff_id), "%s", staff_id);
	if (!(sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)))
		return TL_ENOMEM;
	atomic_fetch_add(&g_live, 1);
	crypto_sign_keypair(k.pk, sk);
	e = seal(&k, sk, password);
	unsealed_free(sk);
	if (e != TL_OK)
		goto out;
	/* Stored first: if registering fails, the row is removed again and
	 * the staff id stays free.  The other order could leave a registered
	 * public key whose secret nobody holds, burning the id for good. */
	if ((e = store(core->db, &k, now_ms, false)) != TL_OK)
		goto out;
	if ((e = payouts_staff_register(core, staff_id, level, k.pk, now_ms)) != TL_OK) {
		if (db_prepare(core->db, "DELETE FROM staffkeys WHERE staff_id = ?1;", &st) == TL_OK &&
		    db_bind_text(st, 1, staff_id) == TL_OK && db_step(st, NULL) == TL_OK)
			log_info("staff %s: signing key not registered (%s); removed again", staff_id, tl_strerror(e));
		db_finalize(st);
		goto out;
	}
	if (pk_out)
		memcpy(pk_out, k.pk, sizeof(k.pk));
out:
	sodium_memzero(&k, sizeof(k));
	return e;
}

enum tl_err
staffkey_sign(const struct staffkey_sealed *k, const char *password, const struct award_record *r,
              enum approval_decision d, unsigned char sig[APPROVAL_SIG_LEN])
{
	unsigned char *sk = NULL;
	enum tl_err e;

	if ((e = unseal(k, password, &sk)) != TL_OK)
		return e;
	e = approval_sign(r, d, sk, sig);
	unsealed_free(sk);
	return e;
}

enum tl_err
staffkey_rewrap(struct db *db, const char *staff_id, const char *old_password, const char *new_password,
                int64_t now_ms)
{
	struct staffkey_sealed k, nk;
	unsigned char *sk = NULL;
	enum tl_err e;

	if (!new_password)
		return TL_EINVAL;
	if ((e = staffkey_load(db, staff_id, &k)) != TL_OK)
		return e;
	if ((e = unseal(&k, old_password, &sk)) != TL_OK)
		goto out;
	nk = k;
	e = seal(&nk, sk, new_password);
	unsealed_free(sk);
	if (e == TL_OK)
		e = store(db, &nk, now_ms, true);
	sodium_memzero(&nk, sizeof(nk));
out:
	sodium_memzero(&k, sizeof(k));
	return e;
}
