/*
 * tl-district-ctl - one case action through the district core, as one
 * console replica would do it: the node's database (a second process on
 * the same WAL database is fine) and the acting district's own NATS user.
 * For operators' scripts and the integration tests; the console calls the
 * same functions (case.h).
 *
 *   tl-district-ctl -c CONFIG -d DISTRICT -u USER [-r ROLE] ACTION [ARGS]
 *
 * ROLE: responder (default), supervisor, city_office.  ACTIONS:
 *   list new|mine|overdue|incoming|all     get LEAD         dump
 *   claim LEAD   renew LEAD   release LEAD   takeover LEAD REASON
 *   finding LEAD AGENCY CHECK RESULT WHO [EVIDENCE]
 *   transfer LEAD TO REASON_CODE [REASON]   accept LEAD   refuse LEAD [REASON]
 *   merge LEAD_A LEAD_B
 *   verdict LEAD substantiated FURNACES CAPACITY_TPY PRODUCTION SEIZED_KG FINES_FEN
 *   verdict LEAD unfounded
 *   reopen LEAD REASON     scan
 *
 * Exit status: 0 done, 3 claimed by someone else (TL_EEXIST), 4 wrong state
 * (TL_ECONFLICT), 5 denied, 6 not found, 2 usage, 1 anything else.
 * Output never includes tip text except for `get` (the console's view).
 */
#include "compat.h"
#include "case.h"
#include "db.h"
#include "district.h"
#include "log.h"
#include "node.h"
#include "num.h"
#include "secret.h"
#include "timefmt.h"

#include <getopt.h>

static void
usage(FILE *f)
{
	fprintf(f, "usage: tl-district-ctl -c CONFIG -d DISTRICT -u USER [-r ROLE] ACTION [ARGS]\n"
	           "  (see the comment at the top of districts/ctl.c for actions)\n");
}

static int
status_of(enum tl_err e)
{
	switch (e) {
	case TL_OK: return 0;
	case TL_EEXIST: return 3;
	case TL_ECONFLICT: return 4;
	case TL_EDENIED: return 5;
	case TL_ENOTFOUND: return 6;
	default: return 1;
	}
}

static bool
parse_i64(const char *s, int64_t *v)
{
	return num_parse_i64(s, strlen(s), 0, INT64_MAX, v) == TL_OK;
}

static void
print_summary(const struct case_summary *s)
{
	char due[RFC3339_LEN + 1] = "-";

	if (s->due_ms)
		time_format_rfc3339(s->due_ms, due);
	printf("%s %s %s holder=%s due=%s/%s overdue=%d idle=%d reports=%d findings=%d transfers=%d\n",
	       s->lead_id, s->district, s->state, s->holder[0] ? s->holder : "-",
	       s->due_step[0] ? s->due_step : "-", due, s->overdue, s->idle, s->reports, s->findings,
	       s->transfers);
}

/* "dump": lead_id district state report_ids..., sorted; compared by the
 * rebuild test before and after a replay. */
static enum tl_err
dump(struct case_node *cn, const struct case_actor *a)
{
	struct case_summary *v = NULL;
	size_t nv = 0;
	enum tl_err e = case_list(cn, a, CASE_Q_ALL, &v, &nv);

	for (size_t i = 0; e == TL_OK && i < nv; i++) {
		struct case_view cv;
		if ((e = case_get(cn, a, v[i].lead_id, &cv)) != TL_OK)
			break;
		printf("%s %s %s", v[i].lead_id, v[i].district, v[i].state);
		for (size_t k = 0; k < cv.nreports; k++)
			printf(" %s@%lld", cv.reports[k].report_id, (long long)cv.reports[k].received_ms);
		printf("\n");
		case_view_free(&cv);
	}
	case_list_free(v);
	return e;
}

static enum tl_err
run(struct case_node *cn, const struct case_actor *a, int argc, char **argv, int *usage_err)
{
	const char *act = argv[0];
	enum tl_err e = TL_EINVAL;

	*usage_err = 0;
#define NEED(k) do { if (argc < (k) + 1) { *usage_err = 1; return TL_EINVAL; } } while (0)
	if (strcmp(act, "list") == 0) {
		static const char *const qn[] = { "new", "mine", "overdue", "incoming", "all" };
		struct case_summary *v = NULL;
		size_t nv = 0, q;

		NEED(1);
		for (q = 0; q < TL_ARRAY_LEN(qn); q++)
			if (strcmp(argv[1], qn[q]) == 0)
				break;
		if (q == TL_ARRAY_LEN(qn)) {
			*usage_err = 1;
			return TL_EINVAL;
		}
		if ((e = case_list(cn, a, (enum case_queue)q, &v, &nv)) == TL_OK)
			for (size_t i = 0; i < nv; i++)
				print_summary(&v[i]);
		case_list_free(v);
	} else if (strcmp(act, "get") == 0) {
		struct case_view cv;

		NEED(1);
		if ((e = case_get(cn, a, argv[1], &cv)) == TL_OK) {
			print_summary(&cv.s);
			printf("origin=%s verdict=%s merged_into=%s xfer_to=%s\n", cv.origin,
			       cv.verdict[0] ? cv.verdict : "-", cv.merged_into[0] ? cv.merged_into : "-",
			       cv.xfer_to[0] ? cv.xfer_to : "-");
			for (size_t i = 0; i < cv.nreports; i++)
				printf("report %s %s %lld\n", cv.reports[i].lead_id, cv.reports[i].report_id,
				       (long long)cv.reports[i].received_ms);
			for (size_t i = 0; i < cv.nfindings; i++)
				printf("finding %s %s %s by=%s\n", cv.findings[i].agency, cv.findings[i].check,
				       cv.findings[i].result, cv.findings[i].recorded_by);
			for (size_t i = 0; i < cv.nhistory; i++)
				printf("event %llu %s %s\n", (unsigned long long)cv.history[i].seq, cv.history[i].type,
				       cv.history[i].actor[0] ? cv.history[i].actor : "-");
			case_view_free(&cv);
		}
	} else if (strcmp(act, "dump") == 0) {
		e = dump(cn, a);
	} else if (strcmp(act, "claim") == 0) {
		NEED(1);
		e = case_claim(cn, a, argv[1]);
	} else if (strcmp(act, "renew") == 0) {
		NEED(1);
		e = case_renew(cn, a, argv[1]);
	} else if (strcmp(act, "release") == 0) {
		NEED(1);
		e = case_release(cn, a, argv[1]);
	} else if (strcmp(act, "takeover") == 0) {
		NEED(2);
		e = case_take_over(cn, a, argv[1], argv[2]);
	} else if (strcmp(act, "finding") == 0) {
		struct case_finding f = { 0 };

		NEED(5);
		f.agency = argv[2];
		f.check = argv[3];
		f.result = argv[4];
		f.who = argv[5];
		f.evidence = argc > 6 ? argv[6] : NULL;
		f.checked_ms = time_now_ms();
		e = case_record_finding(cn, a, argv[1], &f);
	} else if (strcmp(act, "transfer") == 0) {
		NEED(3);
		e = case_request_transfer(cn, a, argv[1], argv[2], argv[3], argc > 4 ? argv[4] : NULL);
	} else if (strcmp(act, "accept") == 0) {
		NEED(1);
		e = case_accept_transfer(cn, a, argv[1]);
	} else if (strcmp(act, "refuse") == 0) {
		NEED(1);
		e = case_refuse_transfer(cn, a, argv[1], argc > 2 ? argv[2] : NULL);
	} else if (strcmp(act, "merge") == 0) {
		char survivor[ID_HEX_LEN + 1];

		NEED(2);
		if ((e = case_merge(cn, a, argv[1], argv[2], survivor)) == TL_OK)
			printf("%s\n", survivor);
	} else if (strcmp(act, "verdict") == 0) {
		struct case_verdict v = { 0 };
		int64_t fur;

		NEED(2);
		if (strcmp(argv[2], "substantiated") == 0) {
			NEED(7);
			v.substantiated = true;
			if (!parse_i64(argv[3], &fur) || fur > 10000 || !parse_i64(argv[4], &v.capacity_tpy) ||
			    !parse_i64(argv[6], &v.seized_kg) || !parse_i64(argv[7], &v.fines_fen)) {
				*usage_err = 1;
				return TL_EINVAL;
			}
			v.furnaces = (int)fur;
			v.production = argv[5];
		} else if (strcmp(argv[2], "unfounded") != 0) {
			*usage_err = 1;
			return TL_EINVAL;
		}
		e = case_record_verdict(cn, a, argv[1], &v);
	} else if (strcmp(act, "reopen") == 0) {
		NEED(2);
		e = case_reopen(cn, a, argv[1], argv[2]);
	} else if (strcmp(act, "scan") == 0) {
		struct case_scan_stats st;

		if ((e = case_scan(cn, &st)) == TL_OK)
			printf("leases_expired=%d overdue=%d idle=%d published=%d unpublished=%d\n",
			       st.leases_expired, st.overdue, st.idle, st.published, st.unpublished);
	} else {
		*usage_err = 1;
	}
#undef NEED
	return e;
}

int
main(int argc, char **argv)
{
	const char *cfgpath = NULL, *district = NULL, *user = NULL, *role = "responder";
	struct node_cfg cfg;
	struct case_cfg cc;
	struct case_port port;
	struct case_actor a;
	struct case_node *cn = NULL;
	struct node_bus *nb = NULL;
	unsigned char *dbkey = NULL;
	struct db *db = NULL;
	bool cfg_loaded = false, served = false;
	char why[1024];
	int c, rc = 1, uerr = 0;
	enum tl_err e;

	while ((c = getopt(argc, argv, "+c:d:u:r:h")) != -1) {
		switch (c) {
		case 'c': cfgpath = optarg; break;
		case 'd': district = optarg; break;
		case 'u': user = optarg; break;
		case 'r': role = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!cfgpath || !district || !user || optind >= argc) {
		usage(stderr);
		return 2;
	}
	memset(&a, 0, sizeof(a));
	a.user = user;
	a.district = district;
	if (strcmp(role, "responder") == 0) a.role = CASE_RESPONDER;
	else if (strcmp(role, "supervisor") == 0) a.role = CASE_SUPERVISOR;
	else if (strcmp(role, "city_office") == 0) a.role = CASE_CITY_OFFICE;
	else {
		usage(stderr);
		return 2;
	}
	log_init("district-ctl", LOG_ERR); /* "nats disconnected" at exit is noise here */
	if (secret_init() != TL_OK)
		return 1;
	if (node_cfg_load(cfgpath, &cfg, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "tl-district-ctl: %s\n", why);
		return 1;
	}
	cfg_loaded = true;
	/* Act as one district only: its own NATS user, nothing else.  The
	 * city office reads every district the node serves. */
	for (size_t i = 0; i < cfg.ncodes; i++)
		if (strcmp(cfg.codes[i], district) == 0) {
			served = true;
			if (a.role != CASE_CITY_OFFICE) {
				cfg.codes[0] = cfg.codes[i];
				cfg.ncodes = 1;
			}
			break;
		}
	if (!served) {
		fprintf(stderr, "tl-district-ctl: %s does not serve %s\n", cfgpath, district);
		rc = 5;
		goto out;
	}
	if ((e = secret_load(cfg.database_key, DB_KEY_LEN, &dbkey, why, sizeof(why))) != TL_OK) {
		fprintf(stderr, "tl-district-ctl: %s\n", why);
		goto out;
	}
	e = db_open(cfg.database, dbkey, DB_CREATE, &db);
	secret_free(dbkey);
	dbkey = NULL;
	if (e != TL_OK) {
		fprintf(stderr, "tl-district-ctl: %s: %s\n", cfg.database, tl_strerror(e));
		goto out;
	}
	if (a.role == CASE_CITY_OFFICE) {
		/* Reading the board needs no NATS; acting does, as 120000. */
		cfg.codes[0] = DISTRICT_CITY;
		cfg.ncodes = 1;
	}
	if ((e = node_bus_open(&cfg, false, &nb, why, sizeof(why))) != TL_OK) {
		fprintf(stderr, "tl-district-ctl: %s\n", why);
		goto out;
	}
	if (a.role == CASE_CITY_OFFICE) {
		/* Serve (read) every district of the config again. */
		struct node_cfg full;
		if (node_cfg_load(cfgpath, &full, why, sizeof(why)) != TL_OK)
			goto out;
		node_case_cfg(&full, &cc);
		cc.cal = &cfg.cal;
		node_cfg_free(&full);
		/* district codes are static strings: still valid */
	} else {
		node_case_cfg(&cfg, &cc);
	}
	node_bus_port(nb, &port);
	if ((e = case_open(db, &cc, &port, &cn)) != TL_OK) {
		fprintf(stderr, "tl-district-ctl: %s\n", tl_strerror(e));
		goto out;
	}
	e = run(cn, &a, argc - optind, argv + optind, &uerr);
	if (uerr) {
		usage(stderr);
		rc = 2;
		goto out;
	}
	rc = status_of(e);
	if (e != TL_OK)
		fprintf(stderr, "tl-district-ctl: %s: %s\n", argv[optind], tl_strerror(e));
out:
	case_close(cn);
	node_bus_close(nb);
	db_close(db);
	bus_shutdown();
	secret_free(dbkey);
	if (cfg_loaded)
		node_cfg_free(&cfg);
	return rc;
}
