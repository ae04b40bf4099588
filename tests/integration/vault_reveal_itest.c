/*
 * itest_vault_reveal - plays tipline-payouts towards the vault's payee
 * reveal, for tests/integration/vault_reveal_test.sh.
 *
 *   itest_vault_reveal keypair FILE
 *       writes an Ed25519 secret key (hex, mode 0600) to FILE, prints the
 *       public key as hex (for the approvers file)
 *   itest_vault_reveal award -o FILE -i AWARD_ID -c CASE_ID -T TOTAL_FEN
 *                      -P PROPOSER REPORT_ID...
 *       writes the canonical award text (decision approve, equal split,
 *       the first report first) with common/awardsig
 *   itest_vault_reveal request -s URL -u USER -p PWFILE -a AWARD_FILE
 *                      [-S SIGNED_FILE] [-X EXPORT_SK -x EXPORT_PK]
 *                      -A STAFF=SKFILE... -r IDX,REPORT_ID,PAYEE_REF...
 *       signs SIGNED_FILE (default AWARD_FILE) as each approver, asks the
 *       vault on tl.vault.reveal and prints "ok N" or "refused CODE"; with
 *       -X/-x each row is opened with the finance export key and printed
 *       as "row IDX REPORT_ID name=... id=... account=...".
 */
#include "compat.h"
#include "awardsig.h"
#include "bus.h"
#include "ids.h"
#include "num.h"
#include "secret.h"
#include "wire.h"

#include <getopt.h>
#include <sodium.h>

static int
read_text(const char *path, char **out)
{
	FILE *f = fopen(path, "r");
	struct buf b;

	if (!f) {
		perror(path);
		return 1;
	}
	buf_init(&b, AWARDSIG_TEXT_MAX + 1);
	if (buf_read_file(&b, f) != TL_OK) {
		fclose(f);
		buf_free(&b);
		return 1;
	}
	fclose(f);
	*out = buf_detach(&b, NULL);
	return 0;
}

static int
cmd_keypair(int argc, char **argv)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char hex[2 * crypto_sign_PUBLICKEYBYTES + 1];

	if (argc != 2)
		return 2;
	crypto_sign_keypair(pk, sk);
	if (key_write(argv[1], sk, sizeof(sk), 0600) != TL_OK) {
		fprintf(stderr, "itest_vault_reveal: cannot write %s\n", argv[1]);
		return 1;
	}
	sodium_memzero(sk, sizeof(sk));
	hex_encode(pk, sizeof(pk), hex);
	printf("%s\n", hex);
	return 0;
}

static int
cmd_award(int argc, char **argv)
{
	struct awardsig a;
	char text[AWARDSIG_TEXT_MAX + 1], why[256];
	const char *out = NULL;
	size_t len, n;
	int64_t total = 0;
	FILE *f;
	int c;

	memset(&a, 0, sizeof(a));
	a.decision = AWARDSIG_APPROVE;
	a.version = 1;
	a.budget_year = 2026;
	snprintf(a.district, sizeof(a.district), "120118");
	snprintf(a.payee_ref, sizeof(a.payee_ref), "claims");
	while ((c = getopt(argc, argv, "o:i:c:T:P:")) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'i': snprintf(a.award_id, sizeof(a.award_id), "%s", optarg); break;
		case 'c': snprintf(a.case_id, sizeof(a.case_id), "%s", optarg); break;
		case 'T':
			if (num_parse_i64(optarg, strlen(optarg), 1, INT64_MAX, &total) != TL_OK)
				return 2;
			break;
		case 'P': snprintf(a.proposer, sizeof(a.proposer), "%s", optarg); break;
		default: return 2;
		}
	}
	n = (size_t)(argc - optind);
	if (!out || n == 0 || n > AWARDSIG_MAX_SHARES)
		return 2;
	a.computed_fen = a.total_fen = total;
	a.required_approvals = total > 10000000 ? 2 : 1;
	a.need_city = total > 10000000;
	a.n_shares = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(a.shares[i].report_id, sizeof(a.shares[i].report_id), "%s", argv[optind + (int)i]);
		a.shares[i].fen = total / (int64_t)n + ((int64_t)i < total % (int64_t)n ? 1 : 0);
		a.shares[i].kind = i == 0 ? AWARDSIG_FIRST : AWARDSIG_SIMULTANEOUS;
	}
	if (awardsig_format(&a, text, sizeof(text), &len, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "itest_vault_reveal: award: %s\n", why);
		return 1;
	}
	if (!(f = fopen(out, "w")) || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		perror(out);
		return 1;
	}
	return 0;
}

static void
print_row(const struct wire_reveal_row *r, const unsigned char *xsk, const unsigned char *xpk)
{
	unsigned char *pt;
	struct wire_payee p;

	if (!xsk) {
		printf("row %d %s\n", r->share_idx, r->report_id);
		return;
	}
	if (r->sealed_len <= crypto_box_SEALBYTES || !(pt = malloc(r->sealed_len))) {
		printf("row %d %s unopenable\n", r->share_idx, r->report_id);
		return;
	}
	if (crypto_box_seal_open(pt, r->sealed, r->sealed_len, xpk, xsk) != 0 ||
	    wire_payee_decode((const char *)pt, r->sealed_len - crypto_box_SEALBYTES, &p) != TL_OK) {
		printf("row %d %s unopenable\n", r->share_idx, r->report_id);
	} else {
		printf("row %d %s name=%s id=%s account=%s\n", r->share_idx, r->report_id, p.name,
		       p.id_number, p.account);
		wire_payee_free(&p);
	}
	sodium_memzero(pt, r->sealed_len);
	free(pt);
}

static int
cmd_request(int argc, char **argv)
{
	const char *url = NULL, *user = NULL, *pwfile = NULL, *award_file = NULL, *signed_file = NULL,
	           *xsk_file = NULL, *xpk_file = NULL;
	char *award = NULL, *signed_text = NULL, *pw = NULL, why[512];
	unsigned char *xsk = NULL, xpk[crypto_box_PUBLICKEYBYTES];
	struct wire_reveal_req *req = calloc(1, sizeof(*req));
	struct wire_reveal_rep *rep = calloc(1, sizeof(*rep));
	unsigned char *sks[WIRE_MAX_APPROVALS] = { NULL };
	struct bus_opts o = { 0 };
	struct bus *b = NULL;
	struct buf msg, reply;
	int c, rc = 1;
	enum tl_err e;

	buf_init(&msg, WIRE_MAX_MSG);
	buf_init(&reply, WIRE_MAX_MSG);
	if (!req || !rep)
		goto out;
	id_new(req->request_id);
	id_new(req->batch_id);
	while ((c = getopt(argc, argv, "s:u:p:a:S:X:x:A:r:")) != -1) {
		switch (c) {
		case 's': url = optarg; break;
		case 'u': user = optarg; break;
		case 'p': pwfile = optarg; break;
		case 'a': award_file = optarg; break;
		case 'S': signed_file = optarg; break;
		case 'X': xsk_file = optarg; break;
		case 'x': xpk_file = optarg; break;
		case 'A': {
			char *eq = strchr(optarg, '=');
			struct wire_approval_sig *s = &req->approvals[req->n_approvals];

			if (!eq || req->n_approvals == WIRE_MAX_APPROVALS)
				goto usage;
			*eq = '\0';
			snprintf(s->staff_id, sizeof(s->staff_id), "%s", optarg);
			/* Signed below, once the text is known. */
			if (secret_load(eq + 1, crypto_sign_SECRETKEYBYTES, &sks[req->n_approvals], why,
			                sizeof(why)) != TL_OK) {
				fprintf(stderr, "itest_vault_reveal: %s\n", why);
				goto out;
			}
			req->n_approvals++;
			break;
		}
		case 'r': {
			struct wire_reveal_share *s = &req->shares[req->n_shares];
			char rid[ID_HEX_LEN + 1], ref[ID_HEX_LEN + 1];
			int idx;

			if (req->n_shares == WIRE_MAX_SHARES ||
			    sscanf(optarg, "%d,%32[^,],%32s", &idx, rid, ref) != 3)
				goto usage;
			s->share_idx = idx;
			snprintf(s->report_id, sizeof(s->report_id), "%s", rid);
			snprintf(s->payee_ref, sizeof(s->payee_ref), "%s", ref);
			req->n_shares++;
			break;
		}
		default: goto usage;
		}
	}
	if (!url || !award_file || req->n_approvals == 0 || req->n_shares == 0 || optind != argc)
		goto usage;
	if (read_text(award_file, &award) || read_text(signed_file ? signed_file : award_file, &signed_text))
		goto out;
	for (size_t i = 0; i < req->n_approvals; i++)
		crypto_sign_detached(req->approvals[i].sig, NULL, (const unsigned char *)signed_text,
		                     strlen(signed_text), sks[i]);
	req->award = award;
	if ((xsk_file || xpk_file) &&
	    (!xsk_file || !xpk_file ||
	     secret_load(xsk_file, crypto_box_SECRETKEYBYTES, &xsk, why, sizeof(why)) != TL_OK ||
	     public_load(xpk_file, xpk, sizeof(xpk), why, sizeof(why)) != TL_OK)) {
		fprintf(stderr, "itest_vault_reveal: export key: %s\n", why);
		goto out;
	}
	if (pwfile && secret_load_text(pwfile, &pw, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "itest_vault_reveal: %s\n", why);
		goto out;
	}
	if ((e = wire_reveal_req_encode(req, &msg)) != TL_OK) {
		fprintf(stderr, "itest_vault_reveal: encode: %s\n", tl_strerror(e));
		goto out;
	}
	o.url = url;
	o.user = user;
	o.password = pw;
	o.name = "itest-vault-reveal";
	o.inbox_prefix = user && strcmp(user, "payouts") == 0 ? "_INBOX_payouts" : NULL;
	if ((e = bus_connect(&o, &b)) != TL_OK) {
		fprintf(stderr, "itest_vault_reveal: connect: %s\n", tl_strerror(e));
		goto out;
	}
	if ((e = bus_request(b, WIRE_SUBJ_VAULT_REVEAL, msg.data, msg.len, 20000, &reply)) != TL_OK) {
		fprintf(stderr, "itest_vault_reveal: request: %s\n", tl_strerror(e));
		goto out;
	}
	if ((e = wire_reveal_rep_decode(reply.data, reply.len, rep)) != TL_OK ||
	    strcmp(rep->request_id, req->request_id) != 0) {
		fprintf(stderr, "itest_vault_reveal: bad reply\n");
		goto out;
	}
	if (rep->ok) {
		printf("ok %zu\n", rep->n_rows);
		for (size_t i = 0; i < rep->n_rows; i++)
			print_row(&rep->rows[i], xsk, xpk);
	} else {
		printf("refused %s\n", rep->error);
	}
	rc = 0;
	goto out;
usage:
	fprintf(stderr, "itest_vault_reveal request: bad arguments\n");
	rc = 2;
out:
	bus_close(b);
	if (rep)
		wire_reveal_rep_free(rep);
	free(rep);
	free(req);
	free(award);
	free(signed_text);
	for (size_t i = 0; i < WIRE_MAX_APPROVALS; i++)
		secret_free(sks[i]);
	secret_free(xsk);
	secret_free(pw);
	buf_free(&msg);
	buf_free(&reply);
	return rc;
}

int
main(int argc, char **argv)
{
	int rc;

	if (argc < 2 || secret_init() != TL_OK) {
		fprintf(stderr, "usage: itest_vault_reveal keypair|award|request ...\n");
		return 2;
	}
	if (strcmp(argv[1], "keypair") == 0)
		return cmd_keypair(argc - 1, argv + 1);
	if (strcmp(argv[1], "award") == 0)
		return cmd_award(argc - 1, argv + 1);
	if (strcmp(argv[1], "request") == 0) {
		rc = cmd_request(argc - 1, argv + 1);
		bus_shutdown();
		return rc;
	}
	fprintf(stderr, "usage: itest_vault_reveal keypair|award|request ...\n");
	return 2;
}
