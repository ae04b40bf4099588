/*
 * tipline-district - the district responder node (and, with district
 * 120000, the city triage node).  Wiring only: arguments, config, the case
 * database, one NATS connection per served district; the work is in
 * tl_districts_core (case.h, node.h).
 *
 *   tipline-district -c FILE [-n]
 *
 * -n checks the configuration, the database key and every district's NATS
 * password file, prints "config ok" and exits 0, or prints the problem and
 * exits 1.
 */
#include "compat.h"
#include "case.h"
#include "db.h"
#include "log.h"
#include "node.h"
#include "secret.h"

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
	fprintf(f, "usage: tipline-district -c CONFIG [-n]\n"
	           "  -c CONFIG  configuration file (INI)\n"
	           "  -n         check the configuration and keys, print \"config ok\", exit\n");
}

static int
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* Every district's password file must be loadable: checked by -n too. */
static enum tl_err
check_passwords(const struct node_cfg *c, char *why, size_t whylen)
{
	for (size_t i = 0; i < c->ncodes; i++) {
		char user[32], path[4096], *pw = NULL;
		enum tl_err e;

		node_user_name(c->codes[i], user, sizeof(user));
		snprintf(path, sizeof(path), "%s/nats-%s.pw", c->nats_password_dir, user);
		if ((e = secret_load_text(path, &pw, why, whylen)) != TL_OK)
			return e;
		secret_free(pw);
	}
	return TL_OK;
}

int
main(int argc, char **argv)
{
	const char *cfgpath = NULL;
	bool check_only = false, cfg_loaded = false, bus_used = false;
	struct node_cfg cfg;
	struct case_cfg cc;
	struct case_port port;
	struct case_node *cn = NULL;
	struct node_bus *nb = NULL;
	unsigned char *dbkey = NULL;
	struct db *db = NULL;
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
	log_init("district", LOG_INFO);
	if (secret_init() != TL_OK) {
		fprintf(stderr, "tipline-district: cannot initialise libsodium\n");
		return 1;
	}
	if (node_cfg_load(cfgpath, &cfg, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "tipline-district: %s\n", why);
		return 1;
	}
	cfg_loaded = true;
	log_init("district", (enum log_level)log_level_parse(cfg.log_level));
	if ((e = secret_load(cfg.database_key, DB_KEY_LEN, &dbkey, why, sizeof(why))) != TL_OK ||
	    (e = check_passwords(&cfg, why, sizeof(why))) != TL_OK) {
		fprintf(stderr, "tipline-district: %s: %s\n", cfgpath, why);
		goto out;
	}
	if (check_only) {
		printf("config ok\n");
		rc = 0;
		goto out;
	}
	if (install_signals() != 0) {
		log_err("cannot install signal handlers");
		goto out;
	}
	e = db_open(cfg.database, dbkey, DB_CREATE, &db);
	secret_free(dbkey);
	dbkey = NULL;
	if (e != TL_OK) {
		log_err("cannot open the case database %s (%s); refusing to start", cfg.database, tl_strerror(e));
		goto out;
	}
	bus_used = true;
	if ((e = node_bus_open(&cfg, true, &nb, why, sizeof(why))) != TL_OK) {
		log_err("NATS: %s", why);
		goto out;
	}
	node_case_cfg(&cfg, &cc);
	node_bus_port(nb, &port);
	if ((e = case_open(db, &cc, &port, &cn)) != TL_OK) {
		log_err("cannot prepare the case database (%s)", tl_strerror(e));
		goto out;
	}
	log_info("district node started: %zu district(s) (%s), database %s, lease %llds", cfg.ncodes,
	         cfg.districts, cfg.database, (long long)cfg.lease_seconds);
	e = node_run(cn, nb, &cfg, &stop_requested);
	if (e == TL_OK) {
		log_info("district node stopping on request");
		rc = 0;
	} else {
		log_err("district node stopping: %s", tl_strerror(e));
	}
out:
	case_close(cn);
	node_bus_close(nb);
	db_close(db);
	if (bus_used)
		bus_shutdown();
	secret_free(dbkey);
	if (cfg_loaded)
		node_cfg_free(&cfg);
	return rc;
}
