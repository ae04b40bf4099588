/*
 * itest_vault_claim - publishes one award claim on tl.deposit.claim, as
 * intake would: the payee details sealed to the vault's public key.
 * For tests/integration/vault_claim_test.sh and vault_reveal_test.sh.
 *
 *   itest_vault_claim -s URL -u USER -p PWFILE -k VAULT_PUB -K STATUS_KEY
 *                     [-c CLAIM_ID] [-m MSG_ID] [-g] NAME ID_NUMBER BANK ACCOUNT PHONE
 *
 * -c reuses a claim id (a redelivery), -m overrides the Nats-Msg-Id
 * (default "claim:<claim_id>"; another id gets past the stream's dedup
 * window, as a redelivery after it would), -g seals random bytes instead
 * of the payee (a seal that does not open).  Prints the claim id.
 */
#include "compat.h"
#include "bus.h"
#include "ids.h"
#include "secret.h"
#include "timefmt.h"
#include "wire.h"

#include <getopt.h>
#include <sodium.h>

int
main(int argc, char **argv)
{
	const char *url = NULL, *user = NULL, *pwfile = NULL, *pubfile = NULL, *skey = NULL,
	           *cid = NULL, *msgid = NULL;
	bool garbage = false;
	unsigned char pk[crypto_box_PUBLICKEYBYTES];
	struct wire_payclaim c;
	struct wire_payee p;
	struct buf plain, out;
	struct bus_opts o = { 0 };
	struct bus *b = NULL;
	char *pw = NULL, why[512], mid[ID_HEX_LEN + 16];
	bool dup = false;
	int opt, rc = 1;
	enum tl_err e;

	while ((opt = getopt(argc, argv, "s:u:p:k:K:c:m:g")) != -1) {
		switch (opt) {
		case 's': url = optarg; break;
		case 'u': user = optarg; break;
		case 'p': pwfile = optarg; break;
		case 'k': pubfile = optarg; break;
		case 'K': skey = optarg; break;
		case 'c': cid = optarg; break;
		case 'm': msgid = optarg; break;
		case 'g': garbage = true; break;
		default: return 2;
		}
	}
	if (!url || !pubfile || !skey || argc - optind != 5) {
		fprintf(stderr, "usage: itest_vault_claim -s URL -u USER -p PWFILE -k VAULT_PUB -K STATUS_KEY "
		                "[-c CLAIM_ID] [-m MSG_ID] [-g] NAME ID BANK ACCOUNT PHONE\n");
		return 2;
	}
	if (secret_init() != TL_OK || public_load(pubfile, pk, sizeof(pk), why, sizeof(why)) != TL_OK ||
	    (pwfile && secret_load_text(pwfile, &pw, why, sizeof(why)) != TL_OK)) {
		fprintf(stderr, "itest_vault_claim: %s\n", why);
		return 1;
	}
	memset(&c, 0, sizeof(c));
	memset(&p, 0, sizeof(p));
	buf_init_secret(&plain, WIRE_MAX_MSG);
	buf_init(&out, WIRE_MAX_MSG);
	if (cid)
		snprintf(c.claim_id, sizeof(c.claim_id), "%s", cid);
	else
		id_new(c.claim_id);
	snprintf(c.status_key, sizeof(c.status_key), "%s", skey);
	c.received_ms = time_now_ms();
	memcpy(p.claim_id, c.claim_id, sizeof(p.claim_id));
	p.name = argv[optind];
	p.id_number = argv[optind + 1];
	p.bank = argv[optind + 2];
	p.account = argv[optind + 3];
	p.phone = argv[optind + 4];
	if ((e = wire_payee_encode(&p, &plain)) != TL_OK) {
		fprintf(stderr, "itest_vault_claim: payee: %s\n", tl_strerror(e));
		goto out;
	}
	c.sealed_len = plain.len + crypto_box_SEALBYTES;
	if (!(c.sealed = malloc(c.sealed_len)))
		goto out;
	if (garbage)
		randombytes_buf(c.sealed, c.sealed_len);
	else if (crypto_box_seal(c.sealed, (const unsigned char *)plain.data, plain.len, pk) != 0)
		goto out;
	if ((e = wire_payclaim_encode(&c, &out)) != TL_OK) {
		fprintf(stderr, "itest_vault_claim: payclaim: %s\n", tl_strerror(e));
		goto out;
	}
	o.url = url;
	o.user = user;
	o.password = pw;
	o.name = "itest-vault-claim";
	if ((e = bus_connect(&o, &b)) != TL_OK) {
		fprintf(stderr, "itest_vault_claim: connect: %s\n", tl_strerror(e));
		goto out;
	}
	snprintf(mid, sizeof(mid), "%s", msgid ? msgid : "");
	if (!msgid)
		snprintf(mid, sizeof(mid), "claim:%s", c.claim_id);
	if ((e = bus_publish(b, WIRE_SUBJ_DEPOSIT_CLAIM, out.data, out.len, mid, &dup)) != TL_OK) {
		fprintf(stderr, "itest_vault_claim: publish: %s\n", tl_strerror(e));
		goto out;
	}
	printf("%s\n", c.claim_id);
	rc = 0;
out:
	bus_close(b);
	bus_shutdown();
	free(c.sealed);
	buf_free(&plain);
	buf_free(&out);
	secret_free(pw);
	return rc;
}
