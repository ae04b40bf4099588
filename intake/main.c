/*
 * tipline-intake - the internet-facing intake daemon (DESIGN.md §2-3).
 *
 * Startup: config -> keys (vault public key, intake subkeys, NATS password)
 * -> gazetteer -> NATS (retry in the background if down) -> HTTP.  Then it
 * waits for SIGTERM/SIGINT and shuts down in reverse, wiping keys.
 * With -n it only checks the configuration and its files.
 */
#include "compat.h"
#include "api.h"
#include "bus.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "natsbus.h"
#include "pages.h"
#include "ratelimit.h"
#include "route.h"
#include "secret.h"

#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <unistd.h>

/* Enough to take the contention off one connection's lock; each is one
 * more client on the server. */
#define INTAKE_NATS_CONNECTIONS 4

static void
usage(FILE *f)
{
	fprintf(f, "usage: tipline-intake -c FILE [-n]\n"
	           "  -c FILE  configuration file\n"
	           "  -n       check the configuration and its key files, then exit\n");
}

int
main(int argc, char **argv)
{
	struct intake_cfg cfg;
	struct intake_keys keys;
	struct route_gazetteer *gaz = NULL;
	struct bus *buses[NATSBUS_MAX_CONN] = { NULL };
	int nconn = 0;
	struct natsbus *nb = NULL;
	struct http_server *srv = NULL;
	struct intake_api api;
	struct bus_opts bo;
	struct http_opts ho;
	const char *path = NULL;
	bool check = false;
	char err[512];
	sigset_t sigs;
	int opt, sig, rc = 1, lvl;
	enum tl_err e;

	memset(&cfg, 0, sizeof(cfg));
	memset(&keys, 0, sizeof(keys));
	memset(&api, 0, sizeof(api));
	while ((opt = getopt(argc, argv, "c:nh")) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'n': check = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!path || optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("intake", LOG_INFO);
	if (secret_init() != TL_OK) {
		fprintf(stderr, "tipline-intake: cannot initialise libsodium\n");
		return 1;
	}
	if (intake_cfg_load(path, &cfg, err, sizeof(err)) != TL_OK) {
		fprintf(stderr, "tipline-intake: %s\n", err);
		return 1;
	}
	if ((lvl = log_level_parse(cfg.log_level)) < 0) {
		fprintf(stderr, "tipline-intake: %s: [log] level: expected debug, info, warn or error\n", path);
		goto out;
	}
	log_init("intake", (enum log_level)lvl);
	if (intake_keys_load(&cfg, &keys, err, sizeof(err)) != TL_OK) {
		fprintf(stderr, "tipline-intake: %s\n", err);
		goto out;
	}
	if ((e = route_gazetteer_load(cfg.gazetteer, &gaz)) != TL_OK) {
		fprintf(stderr, "tipline-intake: gazetteer %s: %s\n", cfg.gazetteer, tl_strerror(e));
		goto out;
	}
	if (check) {
		printf("config ok\n");
		rc = 0;
		goto out;
	}

	/* Block the signals before any thread starts so that only sigwait()
	 * below sees them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Many pool threads share few connections: block, don't spin. */
	if ((e = bus_init(0)) != TL_OK) {
		log_err("nats init: %s", tl_strerror(e));
		goto out;
	}
	memset(&bo, 0, sizeof(bo));
	bo.url = cfg.nats_url;
	bo.user = cfg.nats_user;
	bo.password = keys.nats_password;
	bo.name = "tipline-intake";
	bo.inbox_prefix = "_INBOX_intake";
	bo.timeout_ms = 5000;
	bo.retry_on_failed_connect = true;
	bo.send_asap = true; /* 3 round trips per report: skip the flusher wakeups */
	/* A few connections, so that the pool threads' round trips do not all
	 * queue on one connection's lock (each thread sticks to one). */
	for (nconn = 0; nconn < INTAKE_NATS_CONNECTIONS && nconn < cfg.threads; nconn++) {
		if ((e = bus_connect(&bo, &buses[nconn])) != TL_OK) {
			log_err("nats connect: %s", tl_strerror(e));
			goto out;
		}
	}
	if (!(api.metrics = metrics_new()) || intake_api_metrics_init(&api) != TL_OK) {
		log_err("metrics: out of memory");
		goto out;
	}
	if ((e = natsbus_new(buses, nconn, api.m_publish, &nb)) != TL_OK ||
	    (e = ratelimit_new(INTAKE_KEY_RATELIMIT(&keys), (unsigned)cfg.receipt_lookups_per_minute,
	                       &api.rl)) != TL_OK ||
	    (e = ratelimit_new(INTAKE_KEY_RATELIMIT(&keys), (unsigned)cfg.claim_posts_per_minute,
	                       &api.claim_rl)) != TL_OK ||
	    (e = ratelimit_new(INTAKE_KEY_RATELIMIT(&keys),
	                       (unsigned)cfg.claim_posts_per_receipt_per_minute,
	                       &api.claim_receipt_rl)) != TL_OK) {
		log_err("setup: %s", tl_strerror(e));
		goto out;
	}
	if ((e = intake_pages_new(&api.pages, err, sizeof(err))) != TL_OK) {
		log_err("pages: %s", err);
		goto out;
	}
	api.cookie_secure = cfg.cookie_secure;
	api.trusted = cfg.trusted;
	memcpy(api.pl.vault_pk, keys.vault_pk, sizeof(api.pl.vault_pk));
	api.pl.status_key = INTAKE_KEY_STATUS(&keys);
	api.pl.ids_key = INTAKE_KEY_IDS(&keys);
	api.pl.gaz = gaz;
	api.pl.bus = natsbus_iface(nb);
	api.nb = nb;
	api.max_body = (size_t)cfg.max_body_bytes;
	api.health_cache_ms = 3000;

	memset(&ho, 0, sizeof(ho));
	ho.address = cfg.listen_address;
	ho.port = (uint16_t)cfg.listen_port;
	ho.threads = (unsigned)cfg.threads;
	ho.max_body = (size_t)cfg.max_body_bytes;
	ho.timeout_s = 15;
	ho.conn_memory = 128 * 1024;
	ho.conn_limit = 1024;
	/* The reporter's pages need their stylesheet and their forms; the
	 * JSON answers are not affected by either. */
	ho.csp = HTTP_HTML_CSP;
	ho.handler = intake_api_handle;
	ho.cls = &api;
	if ((e = http_server_start(&ho, &srv)) != TL_OK)
		goto out;
	log_info("listening on %s port %u threads=%u nats=%s", cfg.listen_address,
	         (unsigned)http_server_port(srv), (unsigned)cfg.threads,
	         natsbus_connected(nb) ? "connected" : "connecting");

	while (sigwait(&sigs, &sig) != 0)
		;
	log_info("signal %d: shutting down", sig);
	rc = 0;
out:
	http_server_stop(srv);
	natsbus_free(nb);
	for (int i = 0; i < NATSBUS_MAX_CONN; i++)
		bus_close(buses[i]);
	ratelimit_free(api.rl);
	ratelimit_free(api.claim_rl);
	ratelimit_free(api.claim_receipt_rl);
	intake_pages_free(api.pages);
	metrics_free(api.metrics);
	route_gazetteer_free(gaz);
	intake_keys_free(&keys);
	sodium_memzero(&api, sizeof(api));
	intake_cfg_free(&cfg);
	if (!check)
		bus_shutdown();
	return rc;
}
