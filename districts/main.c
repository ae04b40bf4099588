/*
 * tipline-district - the district responder node (and, with district
 * 120000, the city triage node).  Wiring only: arguments, config, the case
 * database, one NATS connection per served district; the work is in
 * tl_districts_core (case.h, node.h).
 *
 *   tipline-district -c FILE [-n]
 *   tipline-district -c FILE user add NAME ROLE DISTRICT
 *   tipline-district -c FILE user disable|enable|unlock NAME
 *   tipline-district -c FILE user passwd NAME
 *
 * -n checks the configuration, the database key and every district's NATS
 * password file, prints "config ok" and exits 0, or prints the problem and
 * exits 1.
 *
 * With [console] listen_port set, the node also serves the responder
 * console (console.h, docs/console.md).  The console's users live in the
 * node's own SQLCipher database, so they are managed here ("user ...")
 * rather than by the tipline CLI, which does not link SQLCipher.
 */
#include "compat.h"
#include "daemon.h"
#include "auth.h"
#include "case.h"
#include "console.h"
#include "db.h"
#include "log.h"
#include "node.h"
#include "secret.h"

#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <termios.h>
#include <unistd.h>

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
	           "       tipline-district -c CONFIG user add NAME ROLE DISTRICT\n"
	           "       tipline-district -c CONFIG user disable|enable|unlock|passwd NAME\n"
	           "  -c CONFIG  configuration file (INI)\n"
	           "  -n         check the configuration and keys, print \"config ok\", exit\n"
	           "  ROLE       responder, supervisor or city_office\n"
	           "  DISTRICT   a district code (120101 ... 120119), 120000 for the city office\n"
	           "  The password is read from standard input (one line), or prompted for\n"
	           "  twice when standard input is a terminal.\n");
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

/* Reads a password: prompted twice (echo off) on a terminal, else one
 * line from stdin.  Returns a secret_alloc'd string or NULL. */
static char *
read_password(void)
{
	char *a = NULL, *b = NULL;
	bool tty = isatty(STDIN_FILENO);
	struct termios old, quiet;
	size_t len;

	if (!(a = sodium_malloc(AUTH_PASSWORD_MAX + 2)) || !(b = sodium_malloc(AUTH_PASSWORD_MAX + 2)))
		goto fail;
	for (int round = 0; round < (tty ? 2 : 1); round++) {
		char *dst = round ? b : a;
		if (tty) {
			fprintf(stderr, round ? "repeat password: " : "password: ");
			if (tcgetattr(STDIN_FILENO, &old) != 0)
				goto fail;
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		}
		dst[0] = '\0';
		if (!fgets(dst, AUTH_PASSWORD_MAX + 2, stdin))
			dst[0] = '\0';
		if (tty) {
			(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
			fputc('\n', stderr);
		}
		len = strlen(dst);
		if (len > AUTH_PASSWORD_MAX) {
			fprintf(stderr, "tipline-district: password longer than %d bytes\n", AUTH_PASSWORD_MAX);
			goto fail;
		}
		while (len && (dst[len - 1] == '\n' || dst[len - 1] == '\r'))
			dst[--len] = '\0';
	}
	if (tty && strcmp(a, b) != 0) {
		fprintf(stderr, "tipline-district: the passwords differ\n");
		goto fail;
	}
	secret_free(b);
	return a;
fail:
	secret_free(a);
	secret_free(b);
	return NULL;
}

static int
user_command(struct db *db, int argc, char **argv)
{
	const char *verb = argc > 0 ? argv[0] : "";
	char *pw = NULL;
	enum tl_err e;
	int rc = 1;

	if ((e = auth_init(NULL)) != TL_OK || (e = auth_migrate(db)) != TL_OK) {
		fprintf(stderr, "tipline-district: cannot prepare the user tables (%s)\n", tl_strerror(e));
		return 1;
	}
	if (strcmp(verb, "add") == 0 && argc == 4) {
		enum auth_role role;
		if (auth_role_parse(argv[2], &role) != TL_OK ||
		    (role != AUTH_ROLE_RESPONDER && role != AUTH_ROLE_SUPERVISOR && role != AUTH_ROLE_CITY_OFFICE)) {
			fprintf(stderr, "tipline-district: role must be responder, supervisor or city_office\n");
			return 2;
		}
		if (!(pw = read_password()))
			return 1;
		e = auth_user_add(db, argv[1], role, argv[3], pw);
	} else if (strcmp(verb, "passwd") == 0 && argc == 2) {
		if (!(pw = read_password()))
			return 1;
		e = auth_user_passwd(db, argv[1], pw);
	} else if (strcmp(verb, "disable") == 0 && argc == 2) {
		e = auth_user_disable(db, argv[1]);
	} else if (strcmp(verb, "enable") == 0 && argc == 2) {
		e = auth_user_enable(db, argv[1]);
	} else if (strcmp(verb, "unlock") == 0 && argc == 2) {
		e = auth_user_unlock(db, argv[1]);
	} else {
		usage(stderr);
		return 2;
	}
	secret_free(pw);
	switch (e) {
	case TL_OK:
		printf("user %s: %s ok\n", argv[1], verb);
		rc = 0;
		break;
	case TL_EEXIST: fprintf(stderr, "tipline-district: user %s already exists\n", argv[1]); break;
	case TL_ENOTFOUND: fprintf(stderr, "tipline-district: no user %s\n", argv[1]); break;
	case TL_EINVAL:
		fprintf(stderr, "tipline-district: invalid name, role, district or password (names: a-z 0-9 . _ -,"
		                " at most %d; passwords: at least %d characters)\n", AUTH_NAME_MAX, AUTH_PASSWORD_MIN);
		break;
	default: fprintf(stderr, "tipline-district: %s failed (%s)\n", verb, tl_strerror(e)); break;
	}
	return rc;
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
	struct console *con = NULL;
	struct console_http *web = NULL;
	static volatile sig_atomic_t console_fatal;
	char why[1024];
	int c, rc = 1;
	enum tl_err e;

	while ((c = getopt(argc, argv, "+c:nh")) != -1) {
		switch (c) {
		case 'c': cfgpath = optarg; break;
		case 'n': check_only = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!cfgpath || (optind != argc && strcmp(argv[optind], "user") != 0) || (check_only && optind != argc)) {
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
	if (optind != argc) {
		e = db_open(cfg.console_users_db, dbkey, DB_CREATE, &db);
		if (e != TL_OK) {
			fprintf(stderr, "tipline-district: cannot open %s (%s)\n", cfg.console_users_db, tl_strerror(e));
			goto out;
		}
		rc = user_command(db, argc - optind - 1, argv + optind + 1);
		goto out;
	}
	if (daemon_stop_signals(on_signal) != 0) {
		log_err("cannot install signal handlers");
		goto out;
	}
	e = db_open(cfg.database, dbkey, DB_CREATE, &db);
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
	cc.rebuild_new = true; /* a lost database comes back from TL_EVENTS */
	node_bus_port(nb, &port);
	if ((e = case_open(db, &cc, &port, &cn)) != TL_OK) {
		log_err("cannot prepare the case database (%s)", tl_strerror(e));
		goto out;
	}
	if (cfg.console_port > 0) {
		struct auth_config ac;
		struct console_opts co;

		auth_config_default(&ac);
		ac.idle_ms = cfg.console_idle_seconds * 1000;
		ac.lifetime_ms = cfg.console_lifetime_seconds * 1000;
		memset(&co, 0, sizeof(co));
		co.db_path = cfg.console_users_db;
		co.db_key = dbkey;
		co.cases = cn;
		co.cookie_secure = cfg.console_cookie_secure;
		co.session_idle_ms = ac.idle_ms;
		co.session_lifetime_ms = ac.lifetime_ms;
		co.threads = (unsigned)cfg.console_threads;
		co.fatal = &console_fatal;
		co.stop = &stop_requested;
		if ((e = auth_init(&ac)) != TL_OK || (e = console_open(&co, &con)) != TL_OK ||
		    (e = console_listen(con, cfg.console_address, (uint16_t)cfg.console_port, co.threads, &web)) != TL_OK) {
			log_err("cannot start the console on %s port %lld (%s)", cfg.console_address,
			        (long long)cfg.console_port, tl_strerror(e));
			goto out;
		}
		log_info("console listening on %s port %u%s", cfg.console_address, (unsigned)console_http_port(web),
		         cfg.console_cookie_secure ? "" : " (cookie_secure=false: development only)");
	}
	secret_free(dbkey);
	dbkey = NULL;
	log_info("district node started: %zu district(s) (%s), database %s, lease %llds", cfg.ncodes,
	         cfg.districts, cfg.database, (long long)cfg.lease_seconds);
	e = node_run(cn, nb, &cfg, &stop_requested);
	if (e == TL_OK && console_fatal)
		e = TL_EIO;
	if (e == TL_OK) {
		log_info("district node stopping on request");
		rc = 0;
	} else {
		log_err("district node stopping: %s", tl_strerror(e));
	}
out:
	console_http_stop(web);
	console_close(con);
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
