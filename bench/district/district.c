/*
 * bench_district - the district node's two hot paths against raw JetStream
 * baselines, in one run on one nats-server (bench/district/run.sh sets the
 * server up).  The real code of tl_districts_core runs in this process, on
 * the districts' own NATS users and a SQLCipher database with the node's
 * pragmas (WAL, synchronous=FULL):
 *
 *  0. publishes N leads for each of two districts A and B (realistic
 *     redacted Chinese text, 2-4 sentences, as intake writes them) as
 *     admin, asynchronously;
 *  1. raw baseline: a second durable on TL_LEADS (A's filter, the settings
 *     of district-A) pulled in batches of fetch_batch, each message acked
 *     synchronously - the same messages, so the same sizes;
 *  2. core loop, interleaved with 1 in chunks of 10 batches so that both
 *     see the same load: district-B's own durable pulled in the same
 *     batches, each lead through case_ingest_lead() (decode, insert, event
 *     into the outbox, COMMIT, event publish) and acked - the body of
 *     districts/run.c pump() without the node's transfer poll;
 *  3. node_run() - tipline-district's own loop - on A: consumer thread,
 *     pump() of leads then of transfers, scanner.  The clock stops when
 *     TL_EVENTS holds the N "opened" events, each published right after
 *     its lead's commit (polled every 10 ms); the case count is checked;
 *  4. raw baseline again after node_run, on B's leads (a third durable);
 *  5. claims, in chunks of 200, interleaved: raw create-only kv_create of
 *     fresh TL_CLAIMS keys with a claim value of the real size, through the
 *     core's own case_port; raw kv_get (absent) + kv_create, the two KV
 *     round trips of a first claim; case_claim() as a responder on A's
 *     cases (kv_get, create-only kv_create, UPDATE + event, COMMIT, event
 *     publish).
 *
 * usage: bench_district -c DISTRICT_INI -a ADMIN_PWFILE [-d CODE_A] [-D CODE_B] [-n LEADS] [-k CLAIMS]
 * The config's database is A's; B's goes next to it (".core").  Codes
 * default to the config's first two districts.  Output: one "district ..."
 * line per measurement, then "ratio ..." lines (real / raw throughput).
 */
#include "compat.h"
#include "bus.h"
#include "case.h"
#include "db.h"
#include "district.h"
#include "ids.h"
#include "log.h"
#include "node.h"
#include "num.h"
#include "redact.h"
#include "secret.h"
#include "timefmt.h"
#include "wire.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <time.h>

#define RAW_DURABLE "bench-raw"

static const char *const places[] = {
	"静海区大邱庄镇", "滨海新区塘沽", "滨海新区大港", "北辰区双口镇", "西青区张家窝镇",
	"津南区八里台镇", "东丽区军粮城", "武清区杨村",   "宝坻区大口屯镇", "蓟州区邦均镇",
};
static const char *const facts[] = {
	"有一家没有手续的小钢厂，用中频炉把废钢熔化后直接浇铸成钢坯，冒黑烟，夜里十点以后开工。",
	"厂区大门常关，院里堆着大量废钢和钢坯，经常有大货车半夜拉货出去，怀疑是地条钢。",
	"村里一个废弃仓库被人租下来改成了炼钢作坊，用电量特别大，附近居民反映噪音和粉尘严重。",
	"这家企业表面上做铸件，实际用工频炉生产建筑用钢，产品没有质量证明，销往周边工地。",
	"去年被查处过一次，今年换了个名字又开起来了，设备就藏在后院的彩钢房里。",
};
static const char *const cats[] = { "地条钢", "中频炉", "违法生产", "环境污染" };

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void
pick(struct buf *b, const char *const *list, size_t n, bool *ok)
{
	if (buf_append_str(b, list[randombytes_uniform((uint32_t)n)]) != TL_OK)
		*ok = false;
}

/* One lead as intake publishes it after redaction. */
static enum tl_err
make_lead(const char *district, char id[ID_HEX_LEN + 1], struct buf *out)
{
	struct wire_lead l;
	struct buf text, loc;
	bool ok = true;
	uint32_t nfacts = 2 + randombytes_uniform(3);
	enum tl_err e;

	memset(&l, 0, sizeof(l));
	buf_init(&text, 64 * 1024);
	buf_init(&loc, 1024);
	id_new(l.lead_id);
	id_new(l.report_id);
	snprintf(l.district, sizeof(l.district), "%s", district);
	snprintf(l.channel, sizeof(l.channel), "web");
	l.received_ms = time_now_ms();
	pick(&loc, places, TL_ARRAY_LEN(places), &ok);
	if (buf_append_str(&text, buf_str(&loc)) != TL_OK || buf_append_str(&text, "附近，") != TL_OK)
		ok = false;
	for (uint32_t i = 0; i < nfacts; i++)
		pick(&text, facts, TL_ARRAY_LEN(facts), &ok);
	if (buf_printf(&text, " 我是附近的村民%s，电话%s，可以联系我。", redact_type_placeholder(REDACT_NAME),
	               redact_type_placeholder(REDACT_MOBILE)) != TL_OK)
		ok = false;
	l.text = (char *)(uintptr_t)buf_str(&text);
	l.location = (char *)(uintptr_t)buf_str(&loc);
	l.category = (char *)(uintptr_t)cats[randombytes_uniform(TL_ARRAY_LEN(cats))];
	snprintf(l.route_rule, sizeof(l.route_rule), "location");
	l.route_confidence = 90;
	l.redactions[REDACT_NAME] = 1;
	l.redactions[REDACT_MOBILE] = 1;
	l.has_contact = randombytes_uniform(2) != 0;
	for (size_t i = 0; i < STATUS_KEY_LEN; i++)
		l.status_key[i] = "0123456789abcdef"[randombytes_uniform(16)];
	e = ok ? wire_lead_encode(&l, out) : TL_ENOMEM;
	memcpy(id, l.lead_id, ID_HEX_LEN + 1);
	buf_free(&text);
	buf_free(&loc);
	return e;
}

struct runner {
	struct case_node *cn;
	struct node_bus *nb;
	const struct node_cfg *cfg;
	volatile sig_atomic_t stop;
	enum tl_err result;
};

static void *
runner_main(void *arg)
{
	struct runner *r = arg;

	r->result = node_run(r->cn, r->nb, r->cfg, &r->stop);
	return NULL;
}

static uint64_t
stream_count(struct bus *admin, const char *stream)
{
	uint64_t msgs = 0, first = 0, last = 0;

	if (bus_stream_info(admin, stream, &msgs, &first, &last) != TL_OK)
		return 0;
	return msgs;
}

/* Publishes n leads for district code, asynchronously; ids[i] gets each
 * lead id, *bytes the total payload. */
static enum tl_err
publish_leads(struct bus *admin, const char *code, uint64_t n, char (*ids)[ID_HEX_LEN + 1], uint64_t *bytes)
{
	struct buf msg;
	char subject[64];
	uint64_t failed = 0;
	enum tl_err e;

	*bytes = 0;
	if ((e = wire_subject_lead(code, subject, sizeof(subject))) != TL_OK)
		return e;
	buf_init(&msg, WIRE_MAX_MSG);
	for (uint64_t i = 0; i < n; i++) {
		buf_reset(&msg);
		if ((e = make_lead(code, ids[i], &msg)) != TL_OK ||
		    (e = bus_publish_async(admin, subject, msg.data, msg.len, ids[i])) != TL_OK)
			break;
		*bytes += msg.len;
	}
	buf_free(&msg);
	if (e == TL_OK && ((e = bus_publish_async_wait(admin, 60000, &failed)) == TL_OK && failed))
		e = TL_EIO;
	return e;
}

/* The same settings as a district's own durable (cli/cmd_streams.c). */
static enum tl_err
raw_durable(struct bus *admin, const char *durable, const char *code)
{
	struct bus_consumer_cfg c = { 0 };
	char filter[64];

	snprintf(filter, sizeof(filter), "tl.lead.%s", code);
	c.stream = WIRE_STREAM_LEADS;
	c.durable = durable;
	c.filter = filter;
	c.ack_wait_ms = 30 * 1000;
	c.max_deliver = -1;
	c.max_ack_pending = 1000;
	return bus_consumer_ensure(admin, &c);
}

/* Pulls count messages from a bound durable in batches and settles each;
 * adds the time taken to *secs.  With cn == NULL: raw, every message
 * acked.  With cn: the body of districts/run.c pump() for leads -
 * case_ingest_lead(), then ack (NEW, DUP), term (REJECT) or nak (error) -
 * without the node's transfer poll between batches. */
static enum tl_err
consume(struct bus_consumer *c, struct case_node *cn, uint64_t count, int batch, double *secs, uint64_t *stored)
{
	uint64_t got = 0;
	double t0 = now_s();
	enum tl_err e = TL_OK;

	while (got < count) {
		struct bus_batch bt;
		int want = count - got < (uint64_t)batch ? (int)(count - got) : batch;

		if ((e = bus_fetch(c, want, 500, &bt)) != TL_OK)
			break;
		if (bt.count == 0 && now_s() - t0 > 90) {
			e = TL_ETIMEOUT;
			break;
		}
		for (int i = 0; i < bt.count; i++) {
			struct bus_msg *m = bt.msgs[i];
			enum case_ingest out = CASE_IN_NEW;
			const char *data;
			size_t len;
			enum tl_err ie = TL_OK;

			data = bus_msg_data(m, &len);
			if (cn)
				ie = case_ingest_lead(cn, bus_msg_subject(m), data, len, &out);
			if (ie == TL_EIO) {
				e = ie;
				break;
			}
			if (ie != TL_OK)
				e = bus_msg_nak(m, 2000);
			else if (out == CASE_IN_REJECT)
				e = bus_msg_term(m);
			else
				e = bus_msg_ack(m);
			if (e != TL_OK)
				break;
			if (ie == TL_OK && out == CASE_IN_NEW)
				(*stored)++;
			got++;
		}
		bus_batch_free(&bt);
		if (e != TL_OK)
			break;
	}
	*secs += now_s() - t0;
	return e;
}

static enum tl_err
count_cases(struct db *db, const char *district, int64_t *n)
{
	struct db_stmt *st = NULL;
	bool row = false;
	enum tl_err e;

	*n = -1;
	if ((e = db_prepare(db, "SELECT count(*) FROM cases WHERE district = ?", &st)) != TL_OK)
		return e;
	if ((e = db_bind_text(st, 1, district)) == TL_OK && (e = db_step(st, &row)) == TL_OK && row)
		*n = db_col_int64(st, 0);
	db_finalize(st);
	return e;
}

/* A case node for cfg's districts on its own database file and its own
 * district connections, as tipline-district sets one up. */
struct node {
	struct node_cfg cfg; /* a shallow copy: strings belong to the loaded config */
	struct case_cfg cc;
	struct case_port port;
	struct node_bus *nb;
	struct db *db;
	struct case_node *cn;
};

static enum tl_err
node_open(struct node *nd, const struct node_cfg *cfg, const char *code, const char *dbpath)
{
	unsigned char *key = NULL;
	char why[1024];
	enum tl_err e;

	memset(nd, 0, sizeof(*nd));
	nd->cfg = *cfg;
	nd->cfg.codes[0] = code;
	nd->cfg.ncodes = 1;
	if ((e = secret_load(cfg->database_key, DB_KEY_LEN, &key, why, sizeof(why))) != TL_OK) {
		fprintf(stderr, "bench_district: %s\n", why);
		return e;
	}
	e = db_open(dbpath, key, DB_CREATE, &nd->db);
	secret_free(key);
	if (e != TL_OK) {
		fprintf(stderr, "bench_district: %s: %s\n", dbpath, tl_strerror(e));
		return e;
	}
	if ((e = node_bus_open(&nd->cfg, false, &nd->nb, why, sizeof(why))) != TL_OK) {
		fprintf(stderr, "bench_district: %s\n", why);
		return e;
	}
	node_case_cfg(&nd->cfg, &nd->cc);
	node_bus_port(nd->nb, &nd->port);
	if ((e = case_open(nd->db, &nd->cc, &nd->port, &nd->cn)) != TL_OK)
		fprintf(stderr, "bench_district: case_open: %s\n", tl_strerror(e));
	return e;
}

static void
node_free(struct node *nd)
{
	case_close(nd->cn);
	node_bus_close(nd->nb);
	db_close(nd->db);
	memset(nd, 0, sizeof(*nd));
}

/* A connection as the district's own NATS user (node_bus_open does the
 * same for the node; the core loop needs the bus itself). */
static enum tl_err
district_connect(const struct node_cfg *cfg, const char *code, struct bus **out)
{
	struct bus_opts o = { 0 };
	char user[32], inbox[40], path[4096], why[1024], *pw = NULL;
	enum tl_err e;

	node_user_name(code, user, sizeof(user));
	snprintf(inbox, sizeof(inbox), "_INBOX_district_%s", code);
	snprintf(path, sizeof(path), "%s/nats-%s.pw", cfg->nats_password_dir, user);
	if ((e = secret_load_text(path, &pw, why, sizeof(why))) != TL_OK) {
		fprintf(stderr, "bench_district: %s\n", why);
		return e;
	}
	o.url = cfg->nats_url;
	o.user = user;
	o.password = pw;
	o.name = "bench_district-core";
	o.inbox_prefix = inbox;
	e = bus_connect(&o, out);
	secret_free(pw);
	return e;
}

/* n create-only writes of fresh TL_CLAIMS keys with a claim value of the
 * size the core writes, through the core's own case_port; with get, each
 * preceded by a kv_get of the (absent) key, as a first claim does.  Adds
 * the time taken to *secs. */
static void
raw_kv(const struct case_port *port, const char *code, const char *user, int64_t lease_ms, uint64_t n, bool get,
       double *secs, uint64_t *failed)
{
	struct wire_claim wc;
	struct buf val, cur;
	char key[128], id[ID_HEX_LEN + 1];
	uint64_t rev;
	double t0;

	memset(&wc, 0, sizeof(wc));
	snprintf(wc.district, sizeof(wc.district), "%s", code);
	snprintf(wc.holder, sizeof(wc.holder), "%s", user);
	wc.held = true;
	buf_init(&val, 4096);
	buf_init(&cur, 4096);
	t0 = now_s();
	for (uint64_t i = 0; i < n; i++) {
		id_new(id);
		memcpy(wc.lead_id, id, sizeof(id));
		wc.since_ms = time_now_ms();
		wc.expires_ms = wc.since_ms + lease_ms;
		buf_reset(&val);
		buf_reset(&cur);
		if (wire_claim_key(code, id, key, sizeof(key)) != TL_OK ||
		    (get && port->kv_get(port->ctx, code, key, &cur, &rev) != TL_ENOTFOUND) ||
		    wire_claim_encode(&wc, &val) != TL_OK ||
		    port->kv_create(port->ctx, code, key, val.data, val.len, &rev) != TL_OK)
			(*failed)++;
	}
	*secs += now_s() - t0;
	buf_free(&val);
	buf_free(&cur);
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: bench_district -c DISTRICT_INI -a ADMIN_PWFILE [-d CODE] [-D CODE2] [-n LEADS] [-k CLAIMS]\n");
}

int
main(int argc, char **argv)
{
	const char *cfgpath = NULL, *adminpw = NULL, *code = NULL, *code2 = NULL;
	uint64_t nleads = 5000, nclaims = 2000, ev0, bytes = 0, bytes2 = 0, stored_core = 0, dummy = 0;
	uint64_t claim_fail = 0, kv_fail = 0;
	struct node_cfg cfg;
	struct node nd_core, nd_run;
	struct bus *admin = NULL, *dbus = NULL;
	struct bus_consumer *raw_c = NULL, *core_c = NULL;
	struct bus_opts o = { 0 };
	struct runner rn;
	pthread_t tid;
	char (*ids)[ID_HEX_LEN + 1] = NULL, (*ids2)[ID_HEX_LEN + 1] = NULL;
	char why[1024], durable[48], corepath[4200], *pw = NULL;
	bool cfg_loaded = false;
	double t0, t_pub, t_raw1 = 0, t_raw2 = 0, t_core = 0, t_node, t_kv1 = 0, t_kvgc = 0, t_claim = 0;
	int64_t stored = -1;
	int c, rc = 1, batch;
	enum tl_err e;

	memset(&nd_core, 0, sizeof(nd_core));
	memset(&nd_run, 0, sizeof(nd_run));
	while ((c = getopt(argc, argv, "c:a:d:D:n:k:h")) != -1) {
		switch (c) {
		case 'c': cfgpath = optarg; break;
		case 'a': adminpw = optarg; break;
		case 'd': code = optarg; break;
		case 'D': code2 = optarg; break;
		case 'n':
			if (num_parse_u64(optarg, strlen(optarg), 1000000, &nleads) != TL_OK || !nleads) return 2;
			break;
		case 'k':
			if (num_parse_u64(optarg, strlen(optarg), 1000000, &nclaims) != TL_OK) return 2;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!cfgpath || !adminpw || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (nclaims > nleads)
		nclaims = nleads;
	log_init("bench-district", LOG_WARN); /* the core logs every case at info */
	if (secret_init() != TL_OK)
		return 1;
	if (node_cfg_load(cfgpath, &cfg, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "bench_district: %s\n", why);
		return 1;
	}
	cfg_loaded = true;
	if (!code)
		code = cfg.codes[0];
	if (!code2 && cfg.ncodes > 1)
		code2 = cfg.codes[1];
	if (!code2 || strcmp(code, code2) == 0 || !district_valid(code) || !district_valid(code2)) {
		fprintf(stderr, "bench_district: need two different districts (-d, -D)\n");
		goto out;
	}
	batch = (int)cfg.fetch_batch;
	if (!(ids = calloc(nleads, sizeof(*ids))) || !(ids2 = calloc(nleads, sizeof(*ids2))))
		goto out;

	/* ---- admin connection, raw durables, 2 x N leads ---- */
	if (secret_load_text(adminpw, &pw, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "bench_district: %s\n", why);
		goto out;
	}
	o.url = cfg.nats_url;
	o.user = "admin";
	o.password = pw;
	o.name = "bench_district";
	o.timeout_ms = 10000;
	if ((e = bus_connect(&o, &admin)) != TL_OK) {
		fprintf(stderr, "bench_district: connect as admin: %s\n", tl_strerror(e));
		goto out;
	}
	if ((e = raw_durable(admin, RAW_DURABLE, code)) != TL_OK ||
	    (e = raw_durable(admin, RAW_DURABLE "-2", code2)) != TL_OK) {
		fprintf(stderr, "bench_district: raw durables: %s\n", tl_strerror(e));
		goto out;
	}
	t0 = now_s();
	if ((e = publish_leads(admin, code, nleads, ids, &bytes)) != TL_OK ||
	    (e = publish_leads(admin, code2, nleads, ids2, &bytes2)) != TL_OK) {
		fprintf(stderr, "bench_district: publishing leads: %s\n", tl_strerror(e));
		goto out;
	}
	t_pub = now_s() - t0;
	printf("district leads=%llu+%llu districts=%s,%s avg_bytes=%llu publish_seconds=%.3f publish_rate=%.0f\n",
	       (unsigned long long)nleads, (unsigned long long)nleads, code, code2,
	       (unsigned long long)((bytes + bytes2) / (2 * nleads)), t_pub, 2.0 * (double)nleads / t_pub);
	fflush(stdout);

	/* ---- 1+2. raw pull + ack of the first district's leads, interleaved
	 * in chunks of 10 batches with the core loop on the second district's
	 * (so that both see the same load from the rest of the machine) ---- */
	snprintf(corepath, sizeof(corepath), "%s.core", cfg.database);
	if (node_open(&nd_core, &cfg, code2, corepath) != TL_OK)
		goto out;
	if ((e = district_connect(&cfg, code2, &dbus)) != TL_OK) {
		fprintf(stderr, "bench_district: connect as district-%s: %s\n", code2, tl_strerror(e));
		goto out;
	}
	node_lead_consumer(code2, durable, sizeof(durable));
	if ((e = bus_consumer_bind(admin, WIRE_STREAM_LEADS, RAW_DURABLE, &raw_c)) != TL_OK ||
	    (e = bus_consumer_bind(dbus, WIRE_STREAM_LEADS, durable, &core_c)) != TL_OK) {
		fprintf(stderr, "bench_district: binding consumers: %s\n", tl_strerror(e));
		goto out;
	}
	for (uint64_t done = 0; done < nleads;) {
		uint64_t n = nleads - done < (uint64_t)batch * 10 ? nleads - done : (uint64_t)batch * 10;

		if ((e = consume(raw_c, NULL, n, batch, &t_raw1, &dummy)) != TL_OK) {
			fprintf(stderr, "bench_district: raw consume: %s\n", tl_strerror(e));
			goto out;
		}
		if ((e = consume(core_c, nd_core.cn, n, batch, &t_core, &stored_core)) != TL_OK) {
			fprintf(stderr, "bench_district: core loop: %s\n", tl_strerror(e));
			goto out;
		}
		done += n;
	}
	printf("district raw_consume msgs=%llu batch=%d seconds=%.3f rate=%.0f\n", (unsigned long long)nleads, batch,
	       t_raw1, (double)nleads / t_raw1);
	printf("district core_loop leads=%llu stored=%llu batch=%d seconds=%.3f rate=%.0f\n",
	       (unsigned long long)nleads, (unsigned long long)stored_core, batch, t_core, (double)nleads / t_core);
	fflush(stdout);
	log_init("bench-district", LOG_ERR); /* "nats disconnected" on close is noise */
	bus_consumer_free(raw_c);
	bus_consumer_free(core_c);
	raw_c = core_c = NULL;
	bus_close(dbus);
	dbus = NULL;
	node_free(&nd_core);
	log_init("bench-district", LOG_WARN);

	/* ---- 3. node_run on the first district ---- */
	if (node_open(&nd_run, &cfg, code, cfg.database) != TL_OK)
		goto out;
	ev0 = stream_count(admin, WIRE_STREAM_EVENTS);
	memset(&rn, 0, sizeof(rn));
	rn.cn = nd_run.cn;
	rn.nb = nd_run.nb;
	rn.cfg = &nd_run.cfg;
	t0 = now_s();
	if (pthread_create(&tid, NULL, runner_main, &rn) != 0)
		goto out;
	for (;;) {
		uint64_t ev = stream_count(admin, WIRE_STREAM_EVENTS);

		t_node = now_s() - t0;
		if (ev >= ev0 + nleads || t_node > 90)
			break;
		sleep_ms(10);
	}
	rn.stop = 1;
	pthread_join(tid, NULL);
	if (rn.result != TL_OK) {
		fprintf(stderr, "bench_district: node_run: %s\n", tl_strerror(rn.result));
		goto out;
	}
	(void)count_cases(nd_run.db, code, &stored);
	printf("district node_run leads=%llu stored=%lld batch=%d seconds=%.3f rate=%.0f\n",
	       (unsigned long long)nleads, (long long)stored, batch, t_node, (double)nleads / t_node);
	fflush(stdout);
	if (stored != (int64_t)nleads || stored_core != nleads) {
		fprintf(stderr, "bench_district: stored %lld (node_run) and %llu (core loop) of %llu leads\n",
		        (long long)stored, (unsigned long long)stored_core, (unsigned long long)nleads);
		goto out;
	}

	/* ---- 4. raw pull + ack (after), on the second district's leads ---- */
	if ((e = bus_consumer_bind(admin, WIRE_STREAM_LEADS, RAW_DURABLE "-2", &raw_c)) != TL_OK ||
	    (e = consume(raw_c, NULL, nleads, batch, &t_raw2, &dummy)) != TL_OK) {
		fprintf(stderr, "bench_district: raw consume: %s\n", tl_strerror(e));
		goto out;
	}
	printf("district raw_consume_after msgs=%llu batch=%d seconds=%.3f rate=%.0f\n", (unsigned long long)nleads,
	       batch, t_raw2, (double)nleads / t_raw2);
	fflush(stdout);

	if (nclaims) {
		struct case_actor a = { .user = "bench.responder", .role = CASE_RESPONDER, .district = code };

		/* ---- 5. raw KV create, raw KV get + create and case_claim,
		 * interleaved in chunks of 200 ---- */
		for (uint64_t done = 0; done < nclaims;) {
			uint64_t n = nclaims - done < 200 ? nclaims - done : 200;

			raw_kv(&nd_run.port, code, a.user, nd_run.cc.lease_ms, n, false, &t_kv1, &kv_fail);
			raw_kv(&nd_run.port, code, a.user, nd_run.cc.lease_ms, n, true, &t_kvgc, &kv_fail);
			t0 = now_s();
			for (uint64_t i = done; i < done + n; i++)
				if ((e = case_claim(nd_run.cn, &a, ids[i])) != TL_OK && claim_fail++ == 0)
					fprintf(stderr, "bench_district: claim %s: %s\n", ids[i], tl_strerror(e));
			t_claim += now_s() - t0;
			done += n;
		}
		printf("district raw_kv_create keys=%llu seconds=%.3f rate=%.0f failed=%llu\n",
		       (unsigned long long)nclaims, t_kv1, (double)nclaims / t_kv1, (unsigned long long)kv_fail);
		printf("district raw_kv_get_create pairs=%llu seconds=%.3f rate=%.0f failed=%llu\n",
		       (unsigned long long)nclaims, t_kvgc, (double)nclaims / t_kvgc, (unsigned long long)kv_fail);
		printf("district claim claims=%llu seconds=%.3f rate=%.0f failed=%llu\n", (unsigned long long)nclaims,
		       t_claim, (double)nclaims / t_claim, (unsigned long long)claim_fail);
	}

	/* node_run against both raw runs (before and after it, total / total);
	 * the core loop and the claims against their interleaved baselines. */
	printf("ratio node_run/raw_consume=%.3f core_loop/raw_consume=%.3f\n", (t_raw1 + t_raw2) / 2 / t_node,
	       t_raw1 / t_core);
	if (nclaims)
		printf("ratio claim/raw_kv_create=%.3f claim/raw_kv_get_create=%.3f\n", t_kv1 / t_claim,
		       t_kvgc / t_claim);
	rc = claim_fail || kv_fail ? 1 : 0;
out:
	log_init("bench-district", LOG_ERR); /* "nats disconnected" on close is noise */
	bus_consumer_free(raw_c);
	bus_consumer_free(core_c);
	bus_close(dbus);
	node_free(&nd_core);
	node_free(&nd_run);
	bus_close(admin);
	bus_shutdown();
	secret_free(pw);
	free(ids);
	free(ids2);
	if (cfg_loaded)
		node_cfg_free(&cfg);
	return rc;
}
