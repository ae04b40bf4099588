/*
 * tipline streams setup|check: the JetStream layout every Tipline process
 * relies on, declared once here.
 *
 * setup creates or updates (idempotently) the streams, the durable
 * consumers of the vault, the districts and payouts, and the KV buckets;
 * check only looks and reports what is missing; replay resets one node's
 * durables so that it reads its streams again from the start.  Both need the NATS admin user: daemons' users may not create
 * anything (their allow-lists stop at STREAM.INFO and their own consumer).
 * Names come from wire.h so that nothing here can drift from the code that
 * publishes and consumes.
 */
#include "compat.h"
#include "bus.h"
#include "cli.h"
#include "district.h"
#include "num.h"
#include "secret.h"
#include "wire.h"

#include <getopt.h>

#define MIN_MS (60 * 1000LL)
#define HOUR_MS (60 * MIN_MS)

static const char *const deposit_subjects[] = { WIRE_SUBJ_DEPOSITS_ALL };
static const char *const lead_subjects[] = { WIRE_SUBJ_LEADS_ALL };
static const char *const event_subjects[] = { WIRE_SUBJ_EVENTS_ALL };
static const char *const xfer_subjects[] = { WIRE_SUBJ_XFER_ALL };
static const char *const payee_subjects[] = { WIRE_SUBJ_PAYEES_ALL };

/* Streams.  The dedup window covers a channel's longest realistic retry
 * (WeChat resends within seconds, an MTA requeues for minutes), so a retry
 * inside it can never create a second report. */
static const struct bus_stream_cfg streams[] = {
	/* Sealed deposits: the vault is the only reader; a work queue deletes
	 * each one as soon as the vault has stored and acked it. */
	{ .name = WIRE_STREAM_DEPOSITS, .subjects = deposit_subjects, .nsubjects = 1,
	  .retention = BUS_WORKQUEUE, .dup_window_ms = 10 * MIN_MS, .max_msg_size = WIRE_MAX_MSG },
	/* Sanitized leads: limits retention so that a district node (and the
	 * city triage node) can replay its district from the start. */
	{ .name = WIRE_STREAM_LEADS, .subjects = lead_subjects, .nsubjects = 1,
	  .retention = BUS_LIMITS, .dup_window_ms = 10 * MIN_MS, .max_msg_size = WIRE_MAX_MSG },
	/* Case and award events, read by payouts and the districts. */
	{ .name = WIRE_STREAM_EVENTS, .subjects = event_subjects, .nsubjects = 1,
	  .retention = BUS_LIMITS, .dup_window_ms = 10 * MIN_MS, .max_msg_size = WIRE_MAX_MSG },
	/* Transfers between districts (tl.xfer.<to>.<from>.<lead>): offers
	 * and replies, each read by its recipient district's durable.  A
	 * stream of its own so that a district user never needs publish
	 * rights on tl.lead.> (docs/districts.md). */
	{ .name = WIRE_STREAM_XFER, .subjects = xfer_subjects, .nsubjects = 1,
	  .retention = BUS_LIMITS, .dup_window_ms = 10 * MIN_MS, .max_msg_size = WIRE_MAX_MSG },
	/* The vault's eligibility results for payee claims (tl.payee.result,
	 * ids and a verdict only, never payee details).  Limits retention, not
	 * a work queue: payouts rebuilds its database by replaying them. */
	{ .name = WIRE_STREAM_PAYEES, .subjects = payee_subjects, .nsubjects = 1,
	  .retention = BUS_LIMITS, .dup_window_ms = 10 * MIN_MS, .max_msg_size = WIRE_MAX_MSG },
};

/* Per district (16 + the city triage code): a durable on TL_LEADS filtered
 * on its own leads, one on TL_XFER for transfers addressed to it, and one on
 * TL_EVENTS for its own events (read only to rebuild a lost case database).
 * Names must match districts/node.h (district-<code>, district-<code>-xfer,
 * district-<code>-events) and the NATS users' allow-lists
 * (scripts/devenv.sh, deploy/nats). */
#define NDISTRICT_CONSUMERS (3 * 17)
struct district_consumers {
	char durable[NDISTRICT_CONSUMERS][32];
	char filter[NDISTRICT_CONSUMERS][32];
	struct bus_consumer_cfg c[NDISTRICT_CONSUMERS];
	size_t n;
};

static void
district_consumers(struct district_consumers *dc, const char *only)
{
	size_t nd;
	const struct district *d = district_all(&nd);

	memset(dc, 0, sizeof(*dc));
	for (size_t i = 0; i < nd && dc->n + 3 <= NDISTRICT_CONSUMERS; i++) {
		size_t k = dc->n;

		if (only && strcmp(only, d[i].code) != 0)
			continue;
		snprintf(dc->durable[k], sizeof(dc->durable[k]), "district-%s", d[i].code);
		snprintf(dc->filter[k], sizeof(dc->filter[k]), "tl.lead.%s", d[i].code);
		snprintf(dc->durable[k + 1], sizeof(dc->durable[k + 1]), "district-%s-xfer", d[i].code);
		snprintf(dc->filter[k + 1], sizeof(dc->filter[k + 1]), "tl.xfer.%s.>", d[i].code);
		snprintf(dc->durable[k + 2], sizeof(dc->durable[k + 2]), "district-%s-events", d[i].code);
		snprintf(dc->filter[k + 2], sizeof(dc->filter[k + 2]), "tl.event.%s.>", d[i].code);
		for (size_t j = k; j < k + 3; j++) {
			dc->c[j].stream = j == k ? WIRE_STREAM_LEADS : j == k + 1 ? WIRE_STREAM_XFER : WIRE_STREAM_EVENTS;
			dc->c[j].durable = dc->durable[j];
			dc->c[j].filter = dc->filter[j];
			/* Never give up on a lead: a node that is down or failing
			 * gets it when it is back. */
			dc->c[j].ack_wait_ms = 30 * 1000;
			dc->c[j].max_deliver = -1;
			dc->c[j].max_ack_pending = 1000;
		}
		dc->n += 3;
	}
}

static const struct bus_consumer_cfg consumers[] = {
	/* max_deliver -1: a deposit must never be dropped because the vault was
	 * down or failing; it stays until stored. */
	{ .stream = WIRE_STREAM_DEPOSITS, .durable = WIRE_CONSUMER_VAULT,
	  .filter = WIRE_SUBJ_DEPOSITS_ALL, .ack_wait_ms = 30 * 1000, .max_deliver = -1,
	  .max_ack_pending = 1000 },
};

/* tipline-payouts reads every district's leads and events and the vault's
 * eligibility results (docs/award-flow.md section 1).  Like the district
 * durables they never give up on a message: a verdict or a claim result
 * must reach the ledger however long payouts was down.  Names must match
 * the payouts user's allow-list (scripts/devenv.sh, deploy/nats). */
static const struct bus_consumer_cfg payouts_consumers[] = {
	{ .stream = WIRE_STREAM_LEADS, .durable = WIRE_CONSUMER_PAYOUTS_LEADS,
	  .filter = WIRE_SUBJ_LEADS_ALL, .ack_wait_ms = 30 * 1000, .max_deliver = -1,
	  .max_ack_pending = 1000 },
	{ .stream = WIRE_STREAM_EVENTS, .durable = WIRE_CONSUMER_PAYOUTS_EVENTS,
	  .filter = WIRE_SUBJ_EVENTS_ALL, .ack_wait_ms = 30 * 1000, .max_deliver = -1,
	  .max_ack_pending = 1000 },
	{ .stream = WIRE_STREAM_PAYEES, .durable = WIRE_CONSUMER_PAYOUTS_PAYEES,
	  .filter = WIRE_SUBJ_PAYEES_ALL, .ack_wait_ms = 30 * 1000, .max_deliver = -1,
	  .max_ack_pending = 1000 },
};

/* Every durable setup creates and check looks for. */
#define NALL_CONSUMERS (TL_ARRAY_LEN(consumers) + TL_ARRAY_LEN(payouts_consumers) + NDISTRICT_CONSUMERS)
static size_t
all_consumers(struct district_consumers *dc, const struct bus_consumer_cfg **all)
{
	size_t n = 0;

	district_consumers(dc, NULL);
	for (size_t i = 0; i < TL_ARRAY_LEN(consumers); i++)
		all[n++] = &consumers[i];
	for (size_t i = 0; i < TL_ARRAY_LEN(payouts_consumers); i++)
		all[n++] = &payouts_consumers[i];
	for (size_t i = 0; i < dc->n; i++)
		all[n++] = &dc->c[i];
	return n;
}

static const struct bus_kv_cfg buckets[] = {
	{ .bucket = WIRE_KV_STATUS, .history = 5 },
	{ .bucket = WIRE_KV_CLAIMS, .history = 10 },
	/* Idempotency keys only need to outlive a client's retries. */
	{ .bucket = WIRE_KV_IDEM, .history = 1, .ttl_ms = 24 * HOUR_MS },
};

struct streams_opts {
	const char *url;
	const char *user;
	const char *pwfile;
	int replicas;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: tipline streams setup|check [-s URL] [-u USER -p PASSWORD_FILE] [--replicas N]\n"
	           "       tipline streams replay DISTRICT|payouts [-s URL] [-u USER -p PASSWORD_FILE]\n"
	           "\n"
	           "  setup   create or update streams %s, %s, %s, %s, %s,\n"
	           "          the consumer %s/%s,\n"
	           "          the district consumers district-<code>, district-<code>-xfer and\n"
	           "          district-<code>-events,\n"
	           "          the payouts consumers %s/%s, %s/%s,\n"
	           "          %s/%s\n"
	           "          and the KV buckets %s, %s, %s (idempotent)\n"
	           "  check   report what is missing; exit 1 if anything is\n"
	           "  replay  delete and recreate the consumers of one node, so that it\n"
	           "          receives every stored message again: DISTRICT (its leads,\n"
	           "          transfers and events; docs/districts.md) or payouts (all leads,\n"
	           "          events and payee results; docs/payouts.md).  Stop the node first.\n"
	           "\n"
	           "  -s URL            NATS server(s), comma-separated (default nats://127.0.0.1:4222)\n"
	           "  -u USER           NATS user (the admin user)\n"
	           "  -p FILE           file holding that user's password (mode 0600)\n"
	           "  --replicas N      stream and bucket replicas, 1..5 (3 in a cluster)\n",
	        WIRE_STREAM_DEPOSITS, WIRE_STREAM_LEADS, WIRE_STREAM_EVENTS, WIRE_STREAM_XFER,
	        WIRE_STREAM_PAYEES, WIRE_STREAM_DEPOSITS, WIRE_CONSUMER_VAULT,
	        WIRE_STREAM_LEADS, WIRE_CONSUMER_PAYOUTS_LEADS, WIRE_STREAM_EVENTS,
	        WIRE_CONSUMER_PAYOUTS_EVENTS, WIRE_STREAM_PAYEES, WIRE_CONSUMER_PAYOUTS_PAYEES,
	        WIRE_KV_STATUS, WIRE_KV_CLAIMS, WIRE_KV_IDEM);
}

static const char *
retention_name(enum bus_retention r)
{
	return r == BUS_WORKQUEUE ? "work-queue" : r == BUS_INTEREST ? "interest" : "limits";
}

static int
do_setup(struct bus *b, int replicas)
{
	enum tl_err e;
	int rc = 0;

	for (size_t i = 0; i < TL_ARRAY_LEN(streams); i++) {
		struct bus_stream_cfg c = streams[i];

		c.replicas = replicas;
		if ((e = bus_stream_ensure(b, &c)) != TL_OK) {
			fprintf(stderr, "stream   %-14s FAILED: %s\n", c.name, tl_strerror(e));
			rc = 1;
			continue;
		}
		printf("stream   %-14s ok (%s, %s, dedup %llds, max msg %lld bytes, R%d)\n", c.name,
		       c.subjects[0], retention_name(c.retention), (long long)(c.dup_window_ms / 1000),
		       (long long)c.max_msg_size, replicas);
	}
	struct district_consumers dc;
	const struct bus_consumer_cfg *all[NALL_CONSUMERS];
	size_t nall = all_consumers(&dc, all);

	for (size_t i = 0; i < nall; i++) {
		const struct bus_consumer_cfg *c = all[i];

		if ((e = bus_consumer_ensure(b, c)) != TL_OK) {
			fprintf(stderr, "consumer %s/%s FAILED: %s\n", c->stream, c->durable, tl_strerror(e));
			rc = 1;
			continue;
		}
		printf("consumer %s/%s ok (filter %s, explicit ack, ack wait %llds, max deliver %d,"
		       " max ack pending %d)\n", c->stream, c->durable, c->filter,
		       (long long)(c->ack_wait_ms / 1000), c->max_deliver, c->max_ack_pending);
	}
	for (size_t i = 0; i < TL_ARRAY_LEN(buckets); i++) {
		struct bus_kv_cfg c = buckets[i];

		c.replicas = replicas;
		if ((e = bus_kv_ensure(b, &c)) != TL_OK) {
			fprintf(stderr, "kv       %-14s FAILED: %s\n", c.bucket, tl_strerror(e));
			rc = 1;
			continue;
		}
		if (c.ttl_ms)
			printf("kv       %-14s ok (history %d, ttl %lldh, R%d)\n", c.bucket, c.history,
			       (long long)(c.ttl_ms / HOUR_MS), replicas);
		else
			printf("kv       %-14s ok (history %d, R%d)\n", c.bucket, c.history, replicas);
	}
	return rc;
}

/* Prints one line for a stream-backed object; returns 1 if it is missing
 * (or cannot be looked at). */
static int
check_stream(struct bus *b, const char *kind, const char *label, const char *stream)
{
	uint64_t msgs = 0;
	enum tl_err e = bus_stream_info(b, stream, &msgs, NULL, NULL);

	if (e == TL_OK) {
		printf("%-8s %-14s ok (%llu messages)\n", kind, label, (unsigned long long)msgs);
		return 0;
	}
	printf("%-8s %-14s %s\n", kind, label, e == TL_ENOTFOUND ? "MISSING" : tl_strerror(e));
	return 1;
}

/* Deletes and recreates the given durables.  Stop the node first: a bound
 * node would keep pulling from the old consumer's position until it
 * rebinds. */
static int
reset_consumers(struct bus *b, const struct bus_consumer_cfg *const *cs, size_t n)
{
	enum tl_err e;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		const struct bus_consumer_cfg *c = cs[i];

		e = bus_consumer_delete(b, c->stream, c->durable);
		if (e != TL_OK && e != TL_ENOTFOUND) {
			fprintf(stderr, "consumer %s/%s: delete FAILED: %s\n", c->stream, c->durable,
			        tl_strerror(e));
			rc = 1;
			continue;
		}
		if ((e = bus_consumer_ensure(b, c)) != TL_OK) {
			fprintf(stderr, "consumer %s/%s: create FAILED: %s\n", c->stream, c->durable,
			        tl_strerror(e));
			rc = 1;
			continue;
		}
		printf("consumer %s/%s reset: delivers from the first stored message\n", c->stream,
		       c->durable);
	}
	return rc;
}

/* target: a district code, or "payouts". */
static int
do_replay(struct bus *b, const char *target)
{
	struct district_consumers dc;
	const struct bus_consumer_cfg *cs[NDISTRICT_CONSUMERS + TL_ARRAY_LEN(payouts_consumers)];
	size_t n = 0;

	if (strcmp(target, "payouts") == 0) {
		for (size_t i = 0; i < TL_ARRAY_LEN(payouts_consumers); i++)
			cs[n++] = &payouts_consumers[i];
	} else {
		district_consumers(&dc, target);
		for (size_t i = 0; i < dc.n; i++)
			cs[n++] = &dc.c[i];
	}
	return reset_consumers(b, cs, n);
}

static int
do_check(struct bus *b)
{
	char kvstream[64];
	int missing = 0;
	enum tl_err e;

	for (size_t i = 0; i < TL_ARRAY_LEN(streams); i++)
		missing += check_stream(b, "stream", streams[i].name, streams[i].name);
	struct district_consumers dc;
	const struct bus_consumer_cfg *all[NALL_CONSUMERS];
	size_t nall = all_consumers(&dc, all);

	for (size_t i = 0; i < nall; i++) {
		const struct bus_consumer_cfg *c = all[i];
		struct bus_consumer *bc = NULL;

		/* Binding looks the durable up on the server and fails if it does
		 * not exist; it creates nothing (bus.h has no consumer-info call). */
		e = bus_consumer_bind(b, c->stream, c->durable, &bc);
		bus_consumer_free(bc);
		printf("consumer %s/%s %s\n", c->stream, c->durable,
		       e == TL_OK ? "ok" : e == TL_ENOTFOUND || e == TL_EBUS ? "MISSING" : tl_strerror(e));
		missing += e != TL_OK;
	}
	for (size_t i = 0; i < TL_ARRAY_LEN(buckets); i++) {
		/* A KV bucket is the stream KV_<bucket>. */
		snprintf(kvstream, sizeof(kvstream), "KV_%s", buckets[i].bucket);
		missing += check_stream(b, "kv", buckets[i].bucket, kvstream);
	}
	if (missing)
		printf("%d missing; run 'tipline streams setup'\n", missing);
	else
		printf("all streams, consumers and buckets present\n");
	return missing ? 1 : 0;
}

int
cmd_streams(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "replicas", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct streams_opts so = { .url = "nats://127.0.0.1:4222", .replicas = 1 };
	struct bus_opts o = { 0 };
	struct bus *b = NULL;
	const char *action, *code = NULL;
	char *pw = NULL, why[512];
	uint64_t n;
	int c, rc = 1;
	enum tl_err e;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	action = argv[1];
	if (strcmp(action, "setup") != 0 && strcmp(action, "check") != 0 && strcmp(action, "replay") != 0) {
		fprintf(stderr, "tipline streams: unknown action \"%s\"\n", action);
		usage(stderr);
		return 2;
	}
	argc--;
	argv++;
	if (strcmp(action, "replay") == 0) {
		if (argc < 2 || (!district_valid(argv[1]) && strcmp(argv[1], "payouts") != 0)) {
			fprintf(stderr, "tipline streams replay: expected a district code or \"payouts\"\n");
			return 2;
		}
		code = argv[1];
		argc--;
		argv++;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:u:p:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': so.url = optarg; break;
		case 'u': so.user = optarg; break;
		case 'p': so.pwfile = optarg; break;
		case 'r':
			if (num_parse_u64(optarg, strlen(optarg), 5, &n) != TL_OK || n < 1) {
				fprintf(stderr, "tipline streams: --replicas must be 1..5\n");
				return 2;
			}
			so.replicas = (int)n;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || (so.pwfile && !so.user)) {
		usage(stderr);
		return 2;
	}
	if (so.pwfile && secret_load_text(so.pwfile, &pw, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "tipline streams: %s\n", why);
		return 1;
	}
	o.url = so.url;
	o.user = so.user;
	o.password = pw;
	o.name = "tipline-streams";
	if ((e = bus_connect(&o, &b)) != TL_OK) {
		fprintf(stderr, "tipline streams: connect %s: %s\n", so.url, tl_strerror(e));
		goto out;
	}
	rc = strcmp(action, "setup") == 0 ? do_setup(b, so.replicas)
	   : code                         ? do_replay(b, code)
	                                  : do_check(b);
out:
	bus_close(b);
	secret_free(pw);
	bus_shutdown();
	return rc;
}
