/*
 * tl-vault-devpub - development and test helper for the vault (not
 * installed, never in production).
 *
 *   tl-vault-devpub [-s URL] [-u USER -p PWFILE] -S
 *       ensure TL_DEPOSITS and the durable "vault" like `tipline streams
 *       setup` would (for hand testing without the CLI)
 *   tl-vault-devpub [-s URL] [-u USER -p PWFILE] -k VAULT_PUB [-n N] [-t TAG]
 *       seal and publish N synthetic deposits; prints each report_id
 *   tl-vault-devpub [-s URL] [-u USER -p PWFILE] -r
 *       publish stdin, unchanged, to tl.deposit.report (a poison message)
 *
 * Synthetic identities carry TAG in the name and text so that log canary
 * checks can grep for it.
 */
#include "compat.h"
#include "bus.h"
#include "ids.h"
#include "num.h"
#include "secret.h"
#include "timefmt.h"
#include "wire.h"

#include <getopt.h>
#include <sodium.h>
#include <unistd.h>

static int
setup_streams(struct bus *b)
{
	static const char *const subj[] = { WIRE_SUBJ_DEPOSITS_ALL };
	struct bus_stream_cfg sc = { 0 };
	struct bus_consumer_cfg cc = { 0 };

	sc.name = WIRE_STREAM_DEPOSITS;
	sc.subjects = subj;
	sc.nsubjects = 1;
	sc.retention = BUS_WORKQUEUE;
	sc.dup_window_ms = 120000;
	sc.max_msg_size = WIRE_MAX_MSG + 4096;
	cc.stream = WIRE_STREAM_DEPOSITS;
	cc.durable = WIRE_CONSUMER_VAULT;
	cc.ack_wait_ms = 30000;
	cc.max_deliver = -1;
	if (bus_stream_ensure(b, &sc) != TL_OK || bus_consumer_ensure(b, &cc) != TL_OK)
		return 1;
	return 0;
}

static int
publish_one(struct bus *b, const unsigned char pk[crypto_box_PUBLICKEYBYTES], const char *tag, int i)
{
	struct wire_identity id;
	struct wire_deposit d;
	struct buf plain, out;
	char name[64], phone[32], text[128], msgid[64];
	unsigned char key[32];
	char receipt[RECEIPT_DIGITS + 1];
	int rc = 1;

	memset(&id, 0, sizeof(id));
	memset(&d, 0, sizeof(d));
	buf_init_secret(&plain, WIRE_MAX_MSG);
	buf_init(&out, WIRE_MAX_MSG);
	id_new(id.report_id);
	snprintf(id.channel, sizeof(id.channel), "web");
	id.received_ms = time_now_ms();
	snprintf(name, sizeof(name), "%s-name-%d", tag, i);
	snprintf(phone, sizeof(phone), "138%08d", i);
	snprintf(text, sizeof(text), "%s-text-%d 静海区 地条钢 中频炉", tag, i);
	id.contact.name = name;
	id.contact.phone = phone;
	id.text = text;
	memcpy(d.report_id, id.report_id, sizeof(d.report_id));
	memcpy(d.channel, id.channel, sizeof(d.channel));
	d.received_ms = id.received_ms;
	randombytes_buf(key, sizeof(key));
	receipt_new(receipt);
	receipt_status_key(key, receipt, d.status_key);
	if (wire_identity_encode(&id, &plain) != TL_OK)
		goto out;
	d.sealed_len = plain.len + crypto_box_SEALBYTES;
	if (!(d.sealed = malloc(d.sealed_len)) ||
	    crypto_box_seal(d.sealed, (const unsigned char *)plain.data, plain.len, pk) != 0 ||
	    wire_deposit_encode(&d, &out) != TL_OK)
		goto out;
	snprintf(msgid, sizeof(msgid), "devpub-%s", id.report_id);
	if (bus_publish(b, WIRE_SUBJ_DEPOSIT_REPORT, out.data, out.len, msgid, NULL) != TL_OK)
		goto out;
	printf("%s\n", id.report_id);
	rc = 0;
out:
	free(d.sealed);
	buf_free(&plain);
	buf_free(&out);
	return rc;
}

static int
publish_raw(struct bus *b)
{
	struct buf in;
	char chunk[4096];
	size_t n;
	int rc = 1;

	buf_init(&in, WIRE_MAX_MSG);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		if (buf_append(&in, chunk, n) != TL_OK)
			goto out;
	if (bus_publish(b, WIRE_SUBJ_DEPOSIT_REPORT, in.len ? in.data : "", in.len, NULL, NULL) == TL_OK)
		rc = 0;
out:
	buf_free(&in);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *url = "nats://127.0.0.1:4222", *user = NULL, *pwfile = NULL, *pkfile = NULL;
	const char *tag = "DEVPUB";
	unsigned char pk[crypto_box_PUBLICKEYBYTES];
	struct bus_opts o = { 0 };
	struct bus *b = NULL;
	char *pw = NULL, why[512];
	bool setup = false, raw = false;
	int c, n = 1, rc = 1;

	while ((c = getopt(argc, argv, "s:u:p:k:n:t:Sr")) != -1) {
		switch (c) {
		case 's': url = optarg; break;
		case 'u': user = optarg; break;
		case 'p': pwfile = optarg; break;
		case 'k': pkfile = optarg; break;
		case 'n': {
			uint64_t v;
			if (num_parse_u64(optarg, strlen(optarg), 1000000, &v) != TL_OK)
				return 2;
			n = (int)v;
			break;
		}
		case 't': tag = optarg; break;
		case 'S': setup = true; break;
		case 'r': raw = true; break;
		default: return 2;
		}
	}
	if (secret_init() != TL_OK)
		return 1;
	if (!setup && !raw && !pkfile) {
		fprintf(stderr, "tl-vault-devpub: -S, -r or -k VAULT_PUB is required\n");
		return 2;
	}
	if (pkfile && public_load(pkfile, pk, sizeof(pk), why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "tl-vault-devpub: %s\n", why);
		return 1;
	}
	if (pwfile && secret_load_text(pwfile, &pw, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "tl-vault-devpub: %s\n", why);
		return 1;
	}
	o.url = url;
	o.user = user;
	o.password = pw;
	o.name = "tl-vault-devpub";
	if (bus_connect(&o, &b) != TL_OK) {
		fprintf(stderr, "tl-vault-devpub: cannot connect to %s\n", url);
		goto out;
	}
	if (setup)
		rc = setup_streams(b);
	else if (raw)
		rc = publish_raw(b);
	else
		for (int i = 0, r = 0; i < n && r == 0; i++)
			rc = r = publish_one(b, pk, tag, i);
out:
	bus_close(b);
	secret_free(pw);
	bus_shutdown();
	return rc;
}
