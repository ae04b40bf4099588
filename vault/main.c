/*
 * tipline-vault - stores sealed reporter identities from TL_DEPOSITS in the
 * encrypted vault database.  Wiring only: arguments, config, keys, the
 * database and the bus; the work is in tl_vault_core (vault.h).
 *
 *   tipline-vault -c FILE [-n]
 *
 * -n checks the configuration and the key files, prints "config ok" and
 * exits 0, or prints the problem and exits 1.
 */
#include "compat.h"
#include "daemon.h"
#include "bus.h"
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
	           "  -c CONFIG  configuration file (INI)\n"
	           "  -n         check the configuration and keys, print \"config ok\", exit\n");
}

int
main(int argc, char **argv)
{
	const char *cfgpath = NULL;
	bool check_only = false;
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
	    (e = secret_load_text(cfg.nats_password_file, &nats_pw, why, sizeof(why))) != TL_OK) {
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
	log_info("vault started: database %s, batch %lld", cfg.database, (long long)cfg.fetch_batch);

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
	db_close(db);
	bus_close(b);
	if (bus_used)
		bus_shutdown(); /* joins nats.c's library threads */
	secret_free(dbkey);
	secret_free(nats_pw);
	vault_keys_free(keys);
	if (cfg_loaded)
		vault_cfg_free(&cfg);
	return rc;
}
