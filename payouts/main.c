/*
 * tipline-payouts - the system of record for verified cases and awards:
 * ingests leads, case events and eligibility results, keeps the
 * reporters' TL_STATUS current, forfeits lapsed claims and serves the
 * finance console.  Wiring only; the work is in tl_payouts_svc (svc.h).
 *
 *   tipline-payouts -c FILE [-n]
 *   tipline-payouts -c FILE user add NAME ROLE SCOPE
 *   tipline-payouts -c FILE user disable|enable|unlock|passwd NAME
 *   tipline-payouts -c FILE budget fund DISTRICT YEAR YUAN SEQ
 *   tipline-payouts -c FILE budget show [DISTRICT [YEAR]]
 *
 * -n checks the configuration, the rules file and every key file, prints
 * "config ok" and exits 0, or prints the problem and exits 1.
 */
#include "compat.h"
#include "admin.h"
#include "daemon.h"
#include "log.h"
#include "secret.h"
#include "svc.h"

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
	fprintf(f, "usage: tipline-payouts -c CONFIG [-n]\n"
	           "       tipline-payouts -c CONFIG user add NAME ROLE SCOPE\n"
	           "       tipline-payouts -c CONFIG user disable|enable|unlock|passwd NAME\n"
	           "       tipline-payouts -c CONFIG user approvers   (the vault's approvers file)\n"
	           "       tipline-payouts -c CONFIG budget fund DISTRICT YEAR YUAN SEQ\n"
	           "       tipline-payouts -c CONFIG budget show [DISTRICT [YEAR]]\n"
	           "  -c CONFIG  configuration file (INI)\n"
	           "  -n         check the configuration and keys, print \"config ok\", exit\n"
	           "  ROLE       finance_proposer, finance_approver, finance_payer or auditor\n"
	           "  SCOPE      a district code (120101 ... 120119), 120000 for the city, or all\n"
	           "             (approvers: a district code or 120000, which makes them city-level)\n"
	           "  SEQ        1 for a year's first funding, 2 for the next, ...: repeating the\n"
	           "             same command funds once\n"
	           "  Passwords are read from standard input (one line each), or prompted for on a\n"
	           "  terminal.  `user add` of an approver prints \"NAME LEVEL PUBKEY\" for the\n"
	           "  vault's approvers file.\n");
}

/* Every file the daemon needs, loaded once so that -n finds a bad one. */
static enum tl_err
check_files(const struct payouts_cfg *c, char *why, size_t whylen)
{
	struct award_rules rules;
	unsigned char *k = NULL, pk[crypto_box_PUBLICKEYBYTES];
	char *pw = NULL;
	enum tl_err e;

	if ((e = award_rules_load(c->rules, &rules, why, whylen)) != TL_OK ||
	    (e = public_load(c->export_public_key, pk, sizeof(pk), why, whylen)) != TL_OK)
		return e;
	if ((e = secret_load(c->database_key, DB_KEY_LEN, &k, why, whylen)) != TL_OK)
		return e;
	secret_free(k);
	if ((e = secret_load(c->audit_secret_key, AUDIT_SK_BYTES, &k, why, whylen)) != TL_OK)
		return e;
	secret_free(k);
	if ((e = secret_load_text(c->nats_password_file, &pw, why, whylen)) != TL_OK)
		return e;
	secret_free(pw);
	return TL_OK;
}

int
main(int argc, char **argv)
{
	const char *cfgpath = NULL;
	bool check_only = false, cfg_loaded = false, svc_open = false;
	struct payouts_cfg cfg;
	struct payouts_svc svc;
	struct http_server *console = NULL;
	char why[1024];
	int c, rc = 1;
	enum tl_err e;

	memset(&cfg, 0, sizeof(cfg));
	while ((c = getopt(argc, argv, "+c:nh")) != -1) {
		switch (c) {
		case 'c': cfgpath = optarg; break;
		case 'n': check_only = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!cfgpath || (check_only && optind != argc) ||
	    (optind != argc && strcmp(argv[optind], "user") != 0 && strcmp(argv[optind], "budget") != 0)) {
		usage(stderr);
		return 2;
	}
	log_init("payouts", LOG_INFO);
	if (secret_init() != TL_OK) {
		fprintf(stderr, "tipline-payouts: cannot initialise libsodium\n");
		return 1;
	}
	if (payouts_cfg_load(cfgpath, &cfg, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "tipline-payouts: %s\n", why);
		return 1;
	}
	cfg_loaded = true;
	log_init("payouts", (enum log_level)log_level_parse(cfg.log_level));
	if ((e = check_files(&cfg, why, sizeof(why))) != TL_OK) {
		fprintf(stderr, "tipline-payouts: %s: %s\n", cfgpath, why);
		goto out;
	}
	if (check_only) {
		printf("config ok\n");
		rc = 0;
		goto out;
	}
	if ((e = auth_init(NULL)) != TL_OK) {
		fprintf(stderr, "tipline-payouts: cannot initialise the user module (%s)\n", tl_strerror(e));
		goto out;
	}
	if (optind != argc) {
		/* Admin commands: the database only (the daemon may be running;
		 * WAL lets both write). */
		if ((e = payouts_svc_open(&svc, &cfg, PAYOUTS_SVC_CREATE, why, sizeof(why))) != TL_OK) {
			fprintf(stderr, "tipline-payouts: %s\n", why);
			goto out;
		}
		svc_open = true;
		if (strcmp(argv[optind], "user") == 0)
			rc = payouts_admin_user(&svc, argc - optind - 1, argv + optind + 1);
		else
			rc = payouts_admin_budget(&svc, argc - optind - 1, argv + optind + 1);
		if (rc == 2)
			usage(stderr);
		goto out;
	}
	if (daemon_stop_signals(on_signal) != 0) {
		log_err("cannot install signal handlers");
		goto out;
	}
	if ((e = payouts_svc_open(&svc, &cfg, PAYOUTS_SVC_CREATE | PAYOUTS_SVC_AUDIT | PAYOUTS_SVC_BUS, why,
	                          sizeof(why))) != TL_OK) {
		log_err("%s; refusing to start", why);
		goto out;
	}
	svc_open = true;
	if (cfg.listen_port > 0) {
		if ((e = payouts_console_start(&svc, &console)) != TL_OK) {
			log_err("cannot start the finance console on %s port %lld (%s)", cfg.listen_address,
			        (long long)cfg.listen_port, tl_strerror(e));
			goto out;
		}
		log_info("finance console on %s port %lld", cfg.listen_address, (long long)cfg.listen_port);
	}
	log_info("payouts started: database %s, claim window %llds, scan every %lld ms", cfg.database,
	         (long long)cfg.claim_window_s, (long long)cfg.scan_interval_ms);
	e = payouts_run(&svc, &stop_requested);
	if (e == TL_OK) {
		log_info("payouts stopping on request");
		rc = 0;
	} else {
		log_err("payouts stopping: %s", tl_strerror(e));
	}
out:
	if (console)
		payouts_console_stop(console);
	if (svc_open) {
		bool bus = svc.bus != NULL;
		payouts_svc_close(&svc);
		if (bus)
			bus_shutdown();
	}
	if (cfg_loaded)
		payouts_cfg_free(&cfg);
	return rc;
}
