/*
 * tipline keygen DIR: creates every key and password a Tipline node needs.
 *
 * Never overwrites: an existing file is reported as "kept", so running it
 * again (make run, the test harness) is harmless and cannot destroy the
 * vault's keys.  DIR is created 0700; an existing DIR that group or others
 * can enter is refused, because the secret files inside would only be as
 * private as the folder around them.
 */
#include "compat.h"
#include "cli.h"
#include "secret.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYGEN_KEY_LEN 32
#define KEYGEN_PW_LEN 32

/* Raw 32-byte secrets, written as hex, mode 0600. */
static const char *const secret_keys[] = {
	"vault-db.key",        /* SQLCipher key of the vault database */
	"vault-pseudonym.key", /* keyed hash for reporter pseudonyms */
	"intake.key",          /* intake's receipt / idempotency hashing key */
	"nats-store.key",      /* JetStream encryption at rest (nats-server only) */
	"district-db.key",     /* SQLCipher key of the district node's case database */
	"payouts-db.key",      /* SQLCipher key of the payouts database (ledger, awards) */
	/* Keyed hash of ID numbers on the vault's exclusion list (officials,
	 * violators' legal representatives): the list is kept as hashes only. */
	"vault-exclusion.key",
};

/* NATS passwords, one per user of the server config. */
static const char *const passwords[] = {
	"nats-admin.pw",
	"nats-intake.pw",
	"nats-vault.pw",
	"nats-payouts.pw",
	/* One user per district and for the city triage code (district-<code>,
	 * see districts/node.h): a node acting for district A holds only A's
	 * password, so it can never read B's leads or publish B's events. */
	"nats-district-120101.pw", "nats-district-120102.pw", "nats-district-120103.pw",
	"nats-district-120104.pw", "nats-district-120105.pw", "nats-district-120106.pw",
	"nats-district-120110.pw", "nats-district-120111.pw", "nats-district-120112.pw",
	"nats-district-120113.pw", "nats-district-120114.pw", "nats-district-120115.pw",
	"nats-district-120116.pw", "nats-district-120117.pw", "nats-district-120118.pw",
	"nats-district-120119.pw", "nats-district-120000.pw",
};

static int
path_join(char *out, size_t outlen, const char *dir, const char *name)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= outlen) {
		fprintf(stderr, "tipline keygen: path too long: %s/%s\n", dir, name);
		return -1;
	}
	return 0;
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static void
report(const char *what, const char *path)
{
	printf("%-8s %s\n", what, path);
}

/* Creates DIR 0700, or checks that an existing one is private to us. */
static int
prepare_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0) {
		report("created", dir);
		return 0;
	}
	if (errno != EEXIST) {
		fprintf(stderr, "tipline keygen: cannot create %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "tipline keygen: %s exists and is not a directory\n", dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		fprintf(stderr, "tipline keygen: %s is owned by uid %u, not by the running user\n", dir,
		        (unsigned)st.st_uid);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		fprintf(stderr, "tipline keygen: %s has mode %03o; group and others must have no access"
		                " (chmod 700 %s)\n", dir, (unsigned)(st.st_mode & 0777), dir);
		return -1;
	}
	return 0;
}

/* Writes text to a new file with the given mode; refuses to overwrite. */
static enum tl_err
text_write(const char *path, const char *text, size_t len, mode_t mode)
{
	enum tl_err e = TL_OK;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0)
		return errno == EEXIST ? TL_EEXIST : TL_EIO;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0)
		e = TL_EIO;
	if (close(fd) != 0)
		e = TL_EIO;
	return e;
}

static int
make_secret(const char *dir, const char *name)
{
	char path[4096];
	unsigned char *k = NULL;
	enum tl_err e;

	if (path_join(path, sizeof(path), dir, name) != 0)
		return -1;
	if (exists(path)) {
		report("kept", path);
		return 0;
	}
	if (!(k = sodium_malloc(KEYGEN_KEY_LEN)))
		return -1;
	randombytes_buf(k, KEYGEN_KEY_LEN);
	e = key_write(path, k, KEYGEN_KEY_LEN, 0600);
	secret_free(k);
	if (e != TL_OK) {
		fprintf(stderr, "tipline keygen: %s: %s\n", path, tl_strerror(e));
		return -1;
	}
	report("created", path);
	return 0;
}

static int
make_password(const char *dir, const char *name)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	char path[4096], *pw = NULL;
	enum tl_err e;

	if (path_join(path, sizeof(path), dir, name) != 0)
		return -1;
	if (exists(path)) {
		report("kept", path);
		return 0;
	}
	if (!(pw = sodium_malloc(KEYGEN_PW_LEN + 1)))
		return -1;
	/* Alphanumeric only, so the password survives nats-server's config
	 * variable substitution and shell environments without quoting.
	 * randombytes_uniform has no modulo bias. */
	for (size_t i = 0; i < KEYGEN_PW_LEN; i++)
		pw[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
	pw[KEYGEN_PW_LEN] = '\n';
	e = text_write(path, pw, KEYGEN_PW_LEN + 1, 0600);
	secret_free(pw);
	if (e != TL_OK) {
		fprintf(stderr, "tipline keygen: %s: %s\n", path, tl_strerror(e));
		return -1;
	}
	report("created", path);
	return 0;
}

/* A key pair kind: sizes, how to mint a pair, and how to derive (and so
 * check) the public key from a surviving secret key. */
struct pair_kind {
	const char *what;
	size_t sk_len, pk_len;
	int (*keypair)(unsigned char *pk, unsigned char *sk);
	int (*derive)(unsigned char *pk, const unsigned char *sk);
};

static int
box_derive(unsigned char *pk, const unsigned char *sk)
{
	return crypto_scalarmult_base(pk, sk);
}

/* An Ed25519 secret key is seed || public key: rebuild it from the seed
 * and insist it matches, so a damaged file is refused, not re-published. */
static int
sign_derive(unsigned char *pk, const unsigned char *sk)
{
	unsigned char seed[crypto_sign_SEEDBYTES], *sk2 = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	int rc = -1;

	if (!sk2)
		return -1;
	crypto_sign_ed25519_sk_to_seed(seed, sk);
	if (crypto_sign_seed_keypair(pk, sk2, seed) == 0 &&
	    sodium_memcmp(sk, sk2, crypto_sign_SECRETKEYBYTES) == 0)
		rc = 0;
	sodium_memzero(seed, sizeof(seed));
	secret_free(sk2);
	return rc;
}

static const struct pair_kind box_kind = { "X25519", crypto_box_SECRETKEYBYTES,
	                                   crypto_box_PUBLICKEYBYTES, crypto_box_keypair, box_derive };
static const struct pair_kind sign_kind = { "Ed25519", crypto_sign_SECRETKEYBYTES,
	                                    crypto_sign_PUBLICKEYBYTES, crypto_sign_keypair, sign_derive };

/* One key pair in dir.  If only the secret key survives, the public key is
 * derived again.  A public key without its secret key is an operator
 * mistake we will not paper over by minting a new pair, unless the secret
 * key's place is on another machine (sk_elsewhere: the finance export
 * key), where the lone public key is the expected state. */
static int
make_pair(const char *dir, const char *skname, const char *pkname, const struct pair_kind *k,
          bool sk_elsewhere)
{
	char skpath[4096], pkpath[4096], why[512];
	unsigned char *sk = NULL, pk[64];
	bool have_sk, have_pk;
	enum tl_err e;
	int rc = -1;

	if (k->pk_len > sizeof(pk) || path_join(skpath, sizeof(skpath), dir, skname) != 0 ||
	    path_join(pkpath, sizeof(pkpath), dir, pkname) != 0)
		return -1;
	have_sk = exists(skpath);
	have_pk = exists(pkpath);
	if (have_sk && have_pk) {
		report("kept", skpath);
		report("kept", pkpath);
		return 0;
	}
	if (have_pk && sk_elsewhere) {
		report("kept", pkpath);
		printf("         (%s is not here: kept on another machine)\n", skname);
		return 0;
	}
	if (have_pk) {
		fprintf(stderr, "tipline keygen: %s exists without %s; restore the secret key or"
		                " remove the public key\n", pkpath, skpath);
		return -1;
	}
	if (have_sk) {
		if ((e = secret_load(skpath, k->sk_len, &sk, why, sizeof(why))) != TL_OK) {
			fprintf(stderr, "tipline keygen: %s\n", why);
			goto out;
		}
		if (k->derive(pk, sk) != 0) {
			fprintf(stderr, "tipline keygen: %s: invalid %s secret key\n", skpath, k->what);
			goto out;
		}
		report("kept", skpath);
	} else {
		if (!(sk = sodium_malloc(k->sk_len)) || k->keypair(pk, sk) != 0)
			goto out;
		if ((e = key_write(skpath, sk, k->sk_len, 0600)) != TL_OK) {
			fprintf(stderr, "tipline keygen: %s: %s\n", skpath, tl_strerror(e));
			goto out;
		}
		report("created", skpath);
	}
	if ((e = key_write(pkpath, pk, k->pk_len, 0644)) != TL_OK) {
		fprintf(stderr, "tipline keygen: %s: %s\n", pkpath, tl_strerror(e));
		goto out;
	}
	report("created", pkpath);
	rc = 0;
out:
	secret_free(sk);
	return rc;
}

/* Ed25519 audit-chain signing pairs, one per service that keeps an audit
 * chain (common/audit.h). */
static const char *const audit_services[] = { "vault", "payouts" };

static int
make_sign_pair(const char *dir, const char *service)
{
	char skname[64], pkname[64];

	if ((size_t)snprintf(skname, sizeof(skname), "audit-%s.key", service) >= sizeof(skname) ||
	    (size_t)snprintf(pkname, sizeof(pkname), "audit-%s.pub", service) >= sizeof(pkname))
		return -1;
	return make_pair(dir, skname, pkname, &sign_kind, false);
}

int
cmd_keygen(int argc, char **argv)
{
	const char *dir;
	int rc = 0;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("usage: tipline keygen DIR\n\n"
		       "Creates DIR (mode 0700) and every missing key and password in it:\n"
		       "  vault-box.key/.pub  vault's crypto_box key pair (intake seals to .pub)\n"
		       "  vault-db.key        vault database (SQLCipher) key\n"
		       "  vault-pseudonym.key vault's reporter pseudonym key\n"
		       "  intake.key          intake's receipt and idempotency hashing key\n"
		       "  nats-store.key      JetStream encryption-at-rest key (nats-server)\n"
		       "  vault-exclusion.key vault's key for hashing excluded ID numbers\n"
		       "  district-db.key     district node case database (SQLCipher) key\n"
		       "  payouts-db.key      payouts database (SQLCipher) key\n"
		       "  finance-export.key/.pub\n"
		       "                      X25519 pair for payment batches: vault and payouts\n"
		       "                      seal to .pub; move .key to the finance officer's\n"
		       "                      machine and delete it here (a lone .pub is kept)\n"
		       "  audit-vault.key/.pub, audit-payouts.key/.pub\n"
		       "                      Ed25519 audit-chain signing pairs (docs/audit.md)\n"
		       "  nats-*.pw           NATS passwords for admin, intake, vault, payouts and\n"
		       "                      district-<code> (16 districts + 120000)\n"
		       "Existing files are never overwritten.  See docs/keys.md.\n");
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: tipline keygen DIR\n");
		return 2;
	}
	dir = argv[1];
	if (prepare_dir(dir) != 0)
		return 1;
	if (make_pair(dir, "vault-box.key", "vault-box.pub", &box_kind, false) != 0)
		rc = 1;
	/* The vault seals revealed payee details, and payouts the batch files,
	 * to finance-export.pub; only the finance officer's machine keeps the
	 * secret key (docs/keys.md), so once it has been moved there keygen
	 * must keep working with the public key alone. */
	if (make_pair(dir, "finance-export.key", "finance-export.pub", &box_kind, true) != 0)
		rc = 1;
	for (size_t i = 0; i < TL_ARRAY_LEN(audit_services); i++)
		if (make_sign_pair(dir, audit_services[i]) != 0)
			rc = 1;
	for (size_t i = 0; i < TL_ARRAY_LEN(secret_keys); i++)
		if (make_secret(dir, secret_keys[i]) != 0)
			rc = 1;
	for (size_t i = 0; i < TL_ARRAY_LEN(passwords); i++)
		if (make_password(dir, passwords[i]) != 0)
			rc = 1;
	return rc;
}
