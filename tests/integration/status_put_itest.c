/*
 * status_put_itest - plays payouts' part for intake's status and claim
 * tests: writes a TL_STATUS value for a receipt, and opens what intake
 * sealed into a claim as the vault would.
 *
 *   itest_status_put put URL USER PWFILE INTAKE_KEYFILE RECEIPT STATUS AMOUNT_FEN CLAIM_BY REASON
 *       CLAIM_BY: 0 (none), +S / -S (seconds from now), or ms since the epoch;
 *       REASON: "-" for none.  Writes with bus_kv_put (payouts overwrites).
 *   itest_status_put key INTAKE_KEYFILE RECEIPT
 *       prints the receipt's status key
 *   itest_status_put open VAULT_SK_FILE VAULT_PK_FILE < payclaim JSON
 *       decodes a tl.deposit.claim message, opens its seal, checks the
 *       payee decodes with the same claim id, and prints
 *       "claim_id status_key" and then the payee JSON on a second line.
 *
 * The status key is derived as intake/config.c does (crypto_kdf subkey 1,
 * context "tlintake", then receipt_status_key); the test links only
 * tlcommon, so the two constants are repeated here.
 */
#include "compat.h"
#include "bus.h"
#include "ids.h"
#include "num.h"
#include "secret.h"
#include "timefmt.h"
#include "wire.h"

#include <sodium.h>

#define INTAKE_KDF_STATUS 1
#define INTAKE_KDF_CONTEXT "tlintake"

static int
status_key_of(const char *keyfile, const char *receipt, char out[STATUS_KEY_LEN + 1])
{
	unsigned char *master = NULL, sub[32];
	char digits[RECEIPT_DIGITS + 1], why[256];

	if (receipt_parse(receipt, strlen(receipt), digits) != TL_OK) {
		fprintf(stderr, "bad receipt\n");
		return -1;
	}
	if (secret_load(keyfile, 32, &master, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "%s\n", why);
		return -1;
	}
	crypto_kdf_derive_from_key(sub, sizeof(sub), INTAKE_KDF_STATUS, INTAKE_KDF_CONTEXT, master);
	secret_free(master);
	receipt_status_key(sub, digits, out);
	sodium_memzero(sub, sizeof(sub));
	return 0;
}

static int
cmd_put(char **a)
{
	const char *url = a[0], *user = a[1], *pwfile = a[2], *keyfile = a[3], *receipt = a[4];
	const char *status = a[5], *amount = a[6], *claim_by = a[7], *reason = a[8];
	char key[STATUS_KEY_LEN + 1], why[256], *pw = NULL;
	struct wire_status st;
	struct bus_opts o;
	struct bus *b = NULL;
	struct bus_kv *kv = NULL;
	struct buf val;
	int64_t n;
	int rc = 1;
	enum tl_err e;

	buf_init(&val, 4096);
	memset(&st, 0, sizeof(st));
	snprintf(st.status, sizeof(st.status), "%s", status);
	st.updated_ms = time_now_ms();
	if (num_parse_i64(amount, strlen(amount), 0, INT64_MAX, &st.amount_fen) != TL_OK) {
		fprintf(stderr, "bad amount\n");
		goto out;
	}
	if (claim_by[0] == '+' || claim_by[0] == '-') {
		if (num_parse_i64(claim_by + 1, strlen(claim_by + 1), 0, 1000000000, &n) != TL_OK) {
			fprintf(stderr, "bad claim_by\n");
			goto out;
		}
		st.claim_by_ms = st.updated_ms + (claim_by[0] == '+' ? n : -n) * 1000;
	} else if (num_parse_i64(claim_by, strlen(claim_by), 0, INT64_MAX, &st.claim_by_ms) != TL_OK) {
		fprintf(stderr, "bad claim_by\n");
		goto out;
	}
	if (strcmp(reason, "-") != 0)
		snprintf(st.reason, sizeof(st.reason), "%s", reason);
	if ((e = wire_status_encode(&st, &val)) != TL_OK) {
		fprintf(stderr, "wire_status_encode: %s\n", tl_strerror(e));
		goto out;
	}
	if (status_key_of(keyfile, receipt, key) != 0)
		goto out;
	if (secret_load_text(pwfile, &pw, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "%s\n", why);
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.url = url;
	o.user = user;
	o.password = pw;
	o.name = "itest-status-put";
	o.timeout_ms = 5000;
	if ((e = bus_connect(&o, &b)) != TL_OK || (e = bus_kv_open(b, WIRE_KV_STATUS, &kv)) != TL_OK ||
	    (e = bus_kv_put(kv, key, val.data, val.len, NULL)) != TL_OK) {
		fprintf(stderr, "put: %s\n", tl_strerror(e));
		goto out;
	}
	rc = 0;
out:
	bus_kv_close(kv);
	bus_close(b);
	secret_free(pw);
	buf_free(&val);
	return rc;
}

static int
cmd_open(char **a)
{
	unsigned char *sk = NULL, pk[32];
	struct wire_payclaim pc;
	struct wire_payee payee;
	struct buf in;
	char why[256], *plain = NULL;
	size_t plen;
	int rc = 1;

	memset(&pc, 0, sizeof(pc));
	memset(&payee, 0, sizeof(payee));
	buf_init(&in, 1 << 20);
	if (secret_load(a[0], 32, &sk, why, sizeof(why)) != TL_OK ||
	    public_load(a[1], pk, sizeof(pk), why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "%s\n", why);
		goto out;
	}
	if (buf_read_file(&in, stdin) != TL_OK || !in.data) {
		fprintf(stderr, "cannot read stdin\n");
		goto out;
	}
	while (in.len && (in.data[in.len - 1] == '\n' || in.data[in.len - 1] == '\r'))
		in.data[--in.len] = '\0';
	if (wire_payclaim_decode(in.data, in.len, &pc) != TL_OK || pc.sealed_len < crypto_box_SEALBYTES) {
		fprintf(stderr, "not a payclaim\n");
		goto out;
	}
	plen = pc.sealed_len - crypto_box_SEALBYTES;
	if (!(plain = calloc(1, plen + 1)) ||
	    crypto_box_seal_open((unsigned char *)plain, pc.sealed, pc.sealed_len, pk, sk) != 0) {
		fprintf(stderr, "cannot open the seal\n");
		goto out;
	}
	if (wire_payee_decode(plain, plen, &payee) != TL_OK || strcmp(payee.claim_id, pc.claim_id) != 0) {
		fprintf(stderr, "sealed payee does not decode or names another claim\n");
		goto out;
	}
	printf("%s %s\n%s\n", pc.claim_id, pc.status_key, plain);
	rc = 0;
out:
	if (plain)
		sodium_memzero(plain, plen);
	free(plain);
	wire_payee_free(&payee);
	wire_payclaim_free(&pc);
	secret_free(sk);
	buf_free(&in);
	return rc;
}

int
main(int argc, char **argv)
{
	char key[STATUS_KEY_LEN + 1];

	if (secret_init() != TL_OK)
		return 1;
	if (argc == 11 && strcmp(argv[1], "put") == 0)
		return cmd_put(argv + 2);
	if (argc == 4 && strcmp(argv[1], "key") == 0) {
		if (status_key_of(argv[2], argv[3], key) != 0)
			return 1;
		printf("%s\n", key);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "open") == 0)
		return cmd_open(argv + 2);
	fprintf(stderr, "usage: itest_status_put put URL USER PWFILE INTAKE_KEYFILE RECEIPT STATUS "
	                "AMOUNT_FEN CLAIM_BY REASON\n"
	                "       itest_status_put key INTAKE_KEYFILE RECEIPT\n"
	                "       itest_status_put open VAULT_SK_FILE VAULT_PK_FILE < payclaim\n");
	return 2;
}
