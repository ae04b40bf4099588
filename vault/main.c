/*
 * tipline-vault - stores sealed reporter identities from TL_DEPOSITS in the
 * encrypted vault database.  Wiring only: arguments, config, keys, the
 * database and the bus; the work is in tl_vault_core (vault.h).
 *
 *   tipline-vault -c FILE [-n]
 *   tipline-vault -c FILE exclusion-hash  < id-numbers > hash-lines
 *
 * -n checks the configuration, the key files and the approvers file,
 * prints "config ok" and exits 0, or prints the problem and exits 1.
 *
 * exclusion-hash reads ID numbers, one per line, and prints the line the
 * exclusion file needs for each (keyed hash with [payees] exclusion_key),
 * so that the officials' and legal representatives' ID numbers are never
 * stored anywhere in clear.  Nothing is printed unless every line is a
 * valid 18-character ID number.
 */
#include "compat.h"
#include "audit.h"
#include "daemon.h"
#include "bus.h"
#include "num.h"
#include "payee.h"
#include "db.h"
#include "log.h"
#include "secret.h"
#include "vault.h"

#include <getopt.h>
#include <signal.h>

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: tipline-vault -c CONFIG [-n]\n"
	           "       tipline-vault -c CONFIG exclusion-hash <ID-NUMBERS >HASH-LINES\n"
	           "  -c CONFIG  configuration file (INI)\n"
	           "  -n         check the configuration and keys, print \"config ok\", exit\n"
	           "  exclusion-hash  print the exclusion-file line for each ID number on stdin\n");
}

#define EXCL_INPUT_LINE_MAX 256

/* Reads every line first and prints only when all are valid, so a typo
 * never leaves half a list appended to the exclusion file. */
static int
exclusion_hash(const unsigned char key[PAYEE_EXCL_KEY_LEN])
{
	char line[EXCL_INPUT_LINE_MAX + 2], id[PAYEE_ID_LEN + 1];
	unsigned char h[PAYEE_EXCL_HASH_LEN];
	struct buf out;
	size_t lineno = 0, n = 0, bad = 0;
	int rc = 1;

	buf_init(&out, (size_t)PAYEE_EXCL_MAX * (PAYEE_EXCL_HEX_LEN + 1));
	while (fgets(line, sizeof(line), stdin)) {
		size_t len = strlen(line), start = 0;
		char hex[PAYEE_EXCL_HEX_LEN + 1];

		lineno++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			fprintf(stderr, "tipline-vault: line %zu: too long\n", lineno);
			goto out;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
		                   line[len - 1] == '\t'))
			line[--len] = '\0';
		while (line[start] == ' ' || line[start] == '\t')
			start++;
		if (line[start] == '\0' || line[start] == '#')
			continue;
		/* The message names the line, never its content. */
		if (payee_id_normalise(line + start, id) != TL_OK) {
			fprintf(stderr,
			        "tipline-vault: line %zu: not a valid 18-character ID number "
			        "(17 digits and a check digit or X, first digit 1-8, a real birth date)\n",
			        lineno);
			bad++;
			continue;
		}
		payee_excl_hash(key, id, h);
		hex_encode(h, sizeof(h), hex);
		if (buf_printf(&out, "%s\n", hex) != TL_OK) {
			fprintf(stderr, "tipline-vault: more than %d ID numbers\n", PAYEE_EXCL_MAX);
			goto out;
		}
		n++;
	}
	if (ferror(stdin)) {
		fprintf(stderr, "tipline-vault: cannot read stdin\n");
		goto out;
	}
	if (bad) {
		fprintf(stderr, "tipline-vault: %zu invalid line(s); nothing printed\n", bad);
		goto out;
	}
	if (n && fwrite(out.data, 1, out.len, stdout) != out.len) {
		fprintf(stderr, "tipline-vault: cannot write stdout\n");
		goto out;
	}
	if (fflush(stdout) != 0)
		goto out;
	rc = 0;
out:
	sodium_memzero(line, sizeof(line));
	sodium_memzero(id, sizeof(id));
	sodium_memzero(h, sizeof(h));
	buf_free(&out);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *cfgpath = NULL;
	bool check_only = false, excl_tool = false;
	unsigned char *excl_key = NULL, *audit_sk = NULL;
	struct audit *audit = NULL;
	struct vault_payees vp = { 0 };
	size_t napprovers = 0;
	struct vault_cfg cfg;
	struct vault_keys *keys = NULL;
	unsigned char *dbkey = NULL;
	char *nats_pw = NULL;
	struct db *db = NULL;
	struct vault *v = NULL;
	struct bus *b = NULL;
	struct bus_opts bo = { 0 };
	struct vault_run_opts ro = { 0 };
	bool cfg_loaded = false, bus_used = false;
	char why[1024];
	int c, rc = 1;
	enum tl_err e;

	while ((c = getopt(argc, argv, "c:nh")) != -1) {
		switch (c) {
		case 'c': cfgpath = optarg; break;
		case 'n': check_only = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 == argc && strcmp(argv[optind], "exclusion-hash") == 0 && !check_only) {
		excl_tool = true;
		optind++;
	}
	if (!cfgpath || optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("vault", LOG_INFO);
	if (secret_init() != TL_OK) {
		fprintf(stderr, "tipline-vault: cannot initialise libsodium\n");
		return 1;
	}
	if (vault_cfg_load(cfgpath, &cfg, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "tipline-vault: %s\n", why);
		return 1;
	}
	cfg_loaded = true;
	log_init("vault", (enum log_level)log_level_parse(cfg.log_level));

	/* Load every key now, -n included, so that a bad key file is found by
	 * the check and not at 3 a.m. */
	if ((e = vault_keys_load(cfg.box_secret_key, cfg.box_public_key, cfg.pseudonym_key, &keys, why,
	                         sizeof(why))) != TL_OK ||
	    (e = secret_load(cfg.database_key, DB_KEY_LEN, &dbkey, why, sizeof(why))) != TL_OK ||
	    (e = secret_load_text(cfg.nats_password_file, &nats_pw, why, sizeof(why))) != TL_OK ||
	    (e = secret_load(cfg.exclusion_key, PAYEE_EXCL_KEY_LEN, &excl_key, why, sizeof(why))) != TL_OK ||
	    (e = secret_load(cfg.audit_secret_key, AUDIT_SK_BYTES, &audit_sk, why, sizeof(why))) != TL_OK ||
	    (e = public_load(cfg.export_public_key, vp.export_pk, sizeof(vp.export_pk), why, sizeof(why))) !=
	            TL_OK) {
		fprintf(stderr, "tipline-vault: %s: %s\n", cfgpath, why);
		goto out;
	}
	if (excl_tool) {
		rc = exclusion_hash(excl_key);
		goto out;
	}
	if ((e = vault_approvers_check(cfg.approvers_file, &napprovers, why, sizeof(why))) != TL_OK) {
		fprintf(stderr, "tipline-vault: %s: %s\n", cfgpath, why);
		goto out;
	}
	if (check_only) {
		printf("config ok\n");
		rc = 0;
		goto out;
	}
	if (daemon_stop_signals(on_signal) != 0) {
		log_err("cannot install signal handlers");
		goto out;
	}

	e = db_open(cfg.database, dbkey, DB_CREATE, &db);
	secret_free(dbkey); /* SQLCipher keeps its own (wiped) copy */
	dbkey = NULL;
	if (e != TL_OK) {
		log_err("cannot open the vault database %s (%s); refusing to start", cfg.database,
		        tl_strerror(e));
		goto out;
	}
	if ((e = vault_open(db, keys, &v)) != TL_OK) {
		log_err("cannot prepare the vault database (%s)", tl_strerror(e));
		goto out;
	}
	if ((e = audit_open(cfg.audit_log, "vault", audit_sk, &audit)) != TL_OK) {
		log_err("cannot open the audit chain %s (%s); refusing to start%s", cfg.audit_log,
		        tl_strerror(e), e == TL_EPROTO ? " (run `tipline audit verify`)" : "");
		goto out;
	}
	secret_free(audit_sk); /* audit_open keeps its own copy */
	audit_sk = NULL;
	vp.exclusion_file = cfg.exclusion_file;
	vp.exclusion_key = excl_key;
	vp.approvers_file = cfg.approvers_file;
	vp.dual_threshold_fen = cfg.dual_threshold_fen;
	vp.audit = audit;
	if ((e = vault_payees_attach(v, &vp)) != TL_OK) {
		log_err("cannot set up claims and reveal (%s)", tl_strerror(e));
		goto out;
	}
	secret_free(excl_key);
	excl_key = NULL;

	bo.url = cfg.nats_url;
	bo.user = cfg.nats_user;
	bo.password = nats_pw;
	bo.name = "tipline-vault";
	bo.inbox_prefix = "_INBOX_vault";
	bo.retry_on_failed_connect = true;
	bus_used = true;
	e = bus_connect(&bo, &b);
	secret_free(nats_pw);
	nats_pw = NULL;
	if (e != TL_OK) {
		log_err("cannot connect to NATS at %s (%s)", cfg.nats_url, tl_strerror(e));
		goto out;
	}
	log_info("vault started: database %s, batch %lld, %zu approvers", cfg.database,
	         (long long)cfg.fetch_batch, napprovers);

	ro.batch = (int)cfg.fetch_batch;
	ro.fetch_ms = 1000;
	ro.nak_delay_ms = 2000;
	e = vault_run(v, b, &ro, &stop_requested);
	if (e == TL_OK) {
		log_info("vault stopping on request");
		rc = 0;
	} else {
		log_err("vault stopping: %s", tl_strerror(e));
	}
out:
	vault_close(v);
	audit_close(audit);
	db_close(db);
	bus_close(b);
	if (bus_used)
		bus_shutdown(); /* joins nats.c's library threads */
	secret_free(dbkey);
	secret_free(nats_pw);
	secret_free(excl_key);
	secret_free(audit_sk);
	sodium_memzero(&vp, sizeof(vp));
	vault_keys_free(keys);
	if (cfg_loaded)
		vault_cfg_free(&cfg);
	return rc;
}
