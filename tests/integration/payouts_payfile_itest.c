/*
 * itest_payouts_payfile - makes payment batch files for
 * payouts_payfile_test.sh, as tipline-payouts and the vault would (rows
 * whose payees are sealed to the finance export key, the whole sealed
 * again), and a forged one.
 *
 *   make PUBFILE OUT N [DISTRICT,...]
 *       N rows, payee i named from the canary list, amounts 123456 + i
 *       fen; rows cycle over the districts (default 120116); scope "all"
 *       when more than one district is given.  Prints the batch id.
 *   forge-total SKFILE IN OUT
 *       opens IN, adds one fen to its stated total, seals it again to the
 *       same key (what anyone holding the public key could do).
 */
#include "compat.h"
#include "buf.h"
#include "ids.h"
#include "payfile.h"
#include "secret.h"
#include "wire.h"

#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <unistd.h>

static const char *const names[] = { "甄付鹊子", "甄付鹊丑", "甄付鹊寅", "甄付鹊卯" };

static int
write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		return 1;
	}
	return 0;
}

static int
make(const char *pubfile, const char *out, int n, const char *districts)
{
	unsigned char pk[crypto_box_PUBLICKEYBYTES];
	char why[256], d[7][16];
	struct payfile pf;
	struct buf file;
	size_t nd = 0;
	int rc = 1;

	if (public_load(pubfile, pk, sizeof(pk), why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "%s\n", why);
		return 1;
	}
	for (const char *p = districts; *p && nd < 7; nd++) {
		size_t k = strcspn(p, ",");

		(void)snprintf(d[nd], sizeof(d[nd]), "%.*s", (int)k, p);
		p += k + (p[k] == ',');
	}
	memset(&pf, 0, sizeof(pf));
	id_new(pf.batch_id);
	(void)snprintf(pf.scope, sizeof(pf.scope), "%.6s", nd > 1 ? PAYFILE_SCOPE_ALL : d[0]);
	pf.created_ms = INT64_C(1795000000000);
	pf.n_rows = (size_t)n;
	if (n > 0 && !(pf.rows = calloc((size_t)n, sizeof(*pf.rows))))
		return 1;
	for (int i = 0; i < n; i++) {
		struct payfile_row *r = &pf.rows[i];
		char acct[32];
		struct wire_payee p = { .name = (char *)names[i % 4], .id_number = "120111198002297714",
			                .bank = i == 1 ? "=HYPERLINK(\"http://x\",\"银行\")" : "鹊桥银行, 津南支行",
			                .account = acct, .phone = "13900001110" };
		struct buf b;

		(void)snprintf(acct, sizeof(acct), "62228800555566%05d", i);
		id_new(p.claim_id);
		id_new(r->award_id);
		r->share_idx = i % 3;
		(void)snprintf(r->district, sizeof(r->district), "%.6s", d[(size_t)i % nd]);
		r->amount_fen = 123456 + i;
		id_new(r->report_id);
		buf_init_secret(&b, 8192);
		if (wire_payee_encode(&p, &b) != TL_OK)
			return 1;
		r->sealed_len = b.len + crypto_box_SEALBYTES;
		if (!(r->sealed = malloc(r->sealed_len)) ||
		    crypto_box_seal(r->sealed, (const unsigned char *)b.data, b.len, pk) != 0)
			return 1;
		buf_free(&b);
		pf.total_fen += r->amount_fen;
	}
	buf_init(&file, PAYFILE_MAX_BYTES);
	if (payfile_seal(&pf, pk, &file, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "refused: %s\n", why);
		goto out;
	}
	if ((rc = write_file(out, file.data, file.len)) == 0)
		printf("%s\n", pf.batch_id);
out:
	buf_free(&file);
	payfile_free(&pf);
	return rc;
}

static int
forge_total(const char *skfile, const char *in, const char *out)
{
	const size_t hlen = strlen(PAYFILE_MAGIC) + 4 + PAYFILE_KEYID_HEX + 1;
	unsigned char *sk = NULL, pk[crypto_box_PUBLICKEYBYTES];
	char why[256], *doc = NULL;
	unsigned char *plain = NULL, *sealed = NULL;
	struct buf b, o;
	json_t *j = NULL;
	FILE *f;
	size_t plen, dlen;
	int rc = 1;

	buf_init(&b, PAYFILE_MAX_BYTES);
	buf_init(&o, PAYFILE_MAX_BYTES);
	if (secret_load(skfile, crypto_box_SECRETKEYBYTES, &sk, why, sizeof(why)) != TL_OK ||
	    !(f = fopen(in, "rb"))) {
		fprintf(stderr, "cannot read the key or %s\n", in);
		goto out;
	}
	if (buf_read_file(&b, f) != TL_OK || b.len <= hlen + crypto_box_SEALBYTES) {
		fclose(f);
		goto out;
	}
	fclose(f);
	crypto_scalarmult_base(pk, sk);
	plen = b.len - hlen - crypto_box_SEALBYTES;
	if (!(plain = malloc(plen)) ||
	    crypto_box_seal_open(plain, (unsigned char *)b.data + hlen, b.len - hlen, pk, sk) != 0 ||
	    !(j = json_loadb((const char *)plain, plen, 0, NULL)))
		goto out;
	json_object_set_new(j, "total_fen",
	                    json_integer(json_integer_value(json_object_get(j, "total_fen")) + 1));
	if (!(doc = json_dumps(j, JSON_COMPACT)))
		goto out;
	dlen = strlen(doc);
	if (!(sealed = malloc(dlen + crypto_box_SEALBYTES)) ||
	    crypto_box_seal(sealed, (const unsigned char *)doc, dlen, pk) != 0 ||
	    buf_append(&o, b.data, hlen) != TL_OK ||
	    buf_append(&o, sealed, dlen + crypto_box_SEALBYTES) != TL_OK)
		goto out;
	rc = write_file(out, o.data, o.len);
out:
	secret_json_free(doc);
	json_decref(j);
	free(plain);
	free(sealed);
	secret_free(sk);
	buf_free(&b);
	buf_free(&o);
	return rc;
}

int
main(int argc, char **argv)
{
	if (secret_init() != TL_OK)
		return 1;
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "make") == 0)
		return make(argv[2], argv[3], (int)strtol(argv[4], NULL, 10), argc == 6 ? argv[5] : "120116");
	if (argc == 5 && strcmp(argv[1], "forge-total") == 0)
		return forge_total(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: itest_payouts_payfile make PUBFILE OUT N [DISTRICT,...] | "
	                "forge-total SKFILE IN OUT\n");
	return 2;
}
