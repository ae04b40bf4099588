#include "compat.h"
#include "node.h"
#include "log.h"
#include "secret.h"
#include "timefmt.h"
#include "wire.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

struct node_conn {
	const char *code;
	struct bus *b;
	struct bus_kv *kv; /* TL_CLAIMS, opened on first use */
	pthread_mutex_t kv_lock;
};

struct node_bus {
	struct node_conn conns[CASE_MAX_DISTRICTS];
	size_t n;
};

/* ---- connections ---- */

enum tl_err
node_bus_open(const struct node_cfg *c, bool retry, struct node_bus **out, char *why, size_t whylen)
{
	struct node_bus *nb = calloc(1, sizeof(*nb));
	enum tl_err e = TL_OK;

	*out = NULL;
	if (!nb)
		return TL_ENOMEM;
	for (size_t i = 0; i < c->ncodes; i++) {
		struct node_conn *nc = &nb->conns[nb->n];
		struct bus_opts o = { 0 };
		char user[32], inbox[40], pwpath[4096], *pw = NULL, name[48];

		nc->code = c->codes[i];
		pthread_mutex_init(&nc->kv_lock, NULL);
		nb->n++;
		node_user_name(nc->code, user, sizeof(user));
		/* A per-district inbox prefix: pull deliveries ride on inboxes,
		 * and another district must not be able to subscribe to ours. */
		snprintf(inbox, sizeof(inbox), "_INBOX_district_%s", nc->code);
		snprintf(name, sizeof(name), "tipline-district-%s", nc->code);
		if ((size_t)snprintf(pwpath, sizeof(pwpath), "%s/nats-%s.pw", c->nats_password_dir, user) >=
		    sizeof(pwpath)) {
			snprintf(why, whylen, "password_dir too long");
			e = TL_ECONFIG;
			break;
		}
		if ((e = secret_load_text(pwpath, &pw, why, whylen)) != TL_OK)
			break;
		o.url = c->nats_url;
		o.user = user;
		o.password = pw;
		o.name = name;
		o.inbox_prefix = inbox;
		o.retry_on_failed_connect = retry;
		e = bus_connect(&o, &nc->b);
		secret_free(pw);
		if (e != TL_OK) {
			snprintf(why, whylen, "connect to %s as %s: %s", c->nats_url, user, tl_strerror(e));
			break;
		}
	}
	if (e != TL_OK) {
		node_bus_close(nb);
		return e;
	}
	*out = nb;
	return TL_OK;
}

void
node_bus_close(struct node_bus *nb)
{
	if (!nb)
		return;
	for (size_t i = 0; i < nb->n; i++) {
		bus_kv_close(nb->conns[i].kv);
		bus_close(nb->conns[i].b);
		pthread_mutex_destroy(&nb->conns[i].kv_lock);
	}
	free(nb);
}

static struct node_conn *
conn_of(struct node_bus *nb, const char *code)
{
	for (size_t i = 0; i < nb->n; i++)
		if (strcmp(nb->conns[i].code, code) == 0)
			return &nb->conns[i];
	return NULL;
}

static enum tl_err
kv_of(struct node_bus *nb, const char *code, struct bus_kv **out)
{
	struct node_conn *nc = conn_of(nb, code);
	enum tl_err e = TL_OK;

	if (!nc)
		return TL_EDENIED;
	pthread_mutex_lock(&nc->kv_lock);
	if (!nc->kv)
		e = bus_kv_open(nc->b, WIRE_KV_CLAIMS, &nc->kv);
	*out = nc->kv;
	pthread_mutex_unlock(&nc->kv_lock);
	/* A missing bucket or a closed connection is "try again later". */
	return e == TL_OK ? TL_OK : e == TL_EDENIED ? e : TL_EUNAVAIL;
}

static enum tl_err
port_publish(void *ctx, const char *district, const char *subject, const void *data, size_t len,
             const char *msg_id)
{
	struct node_conn *nc = conn_of(ctx, district);

	if (!nc)
		return TL_EDENIED;
	return bus_publish(nc->b, subject, data, len, msg_id, NULL);
}

static enum tl_err
port_kv_get(void *ctx, const char *district, const char *key, struct buf *val, uint64_t *rev)
{
	struct bus_kv *kv;
	enum tl_err e = kv_of(ctx, district, &kv);

	return e == TL_OK ? bus_kv_get(kv, key, val, rev) : e;
}

static enum tl_err
port_kv_create(void *ctx, const char *district, const char *key, const void *val, size_t len, uint64_t *rev)
{
	struct bus_kv *kv;
	enum tl_err e = kv_of(ctx, district, &kv);

	return e == TL_OK ? bus_kv_create(kv, key, val, len, rev) : e;
}

static enum tl_err
port_kv_update(void *ctx, const char *district, const char *key, const void *val, size_t len,
               uint64_t last_rev, uint64_t *rev)
{
	struct bus_kv *kv;
	enum tl_err e = kv_of(ctx, district, &kv);

	return e == TL_OK ? bus_kv_update(kv, key, val, len, last_rev, rev) : e;
}

void
node_bus_port(struct node_bus *nb, struct case_port *out)
{
	memset(out, 0, sizeof(*out));
	out->ctx = nb;
	out->now_ms = NULL; /* wall clock */
	out->publish = port_publish;
	out->kv_get = port_kv_get;
	out->kv_create = port_kv_create;
	out->kv_update = port_kv_update;
}

/* ---- consumer threads ---- */

struct worker {
	pthread_t tid;
	bool started;
	struct case_node *cn;
	struct node_conn *nc;
	int batch;
	volatile sig_atomic_t *stop;
	atomic_int *fatal;
};

static bool
stopping(const struct worker *w)
{
	return *w->stop || atomic_load(w->fatal);
}

static void
nap(const struct worker *w, int ms)
{
	while (ms > 0 && !stopping(w)) {
		int step = ms < 100 ? ms : 100;
		struct timespec ts = { 0, (long)step * 1000000L };
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* The durables are created by `tipline streams setup`; wait for them. */
static enum tl_err
bind_wait(struct worker *w, const char *stream, const char *durable, struct bus_consumer **out)
{
	int delay = 250, attempt = 0;
	enum tl_err e;

	while (!stopping(w)) {
		if ((e = bus_consumer_bind(w->nc->b, stream, durable, out)) == TL_OK) {
			log_info("bound consumer %s/%s", stream, durable);
			return TL_OK;
		}
		if (attempt++ % 10 == 0)
			log_warn("consumer %s/%s not available (%s); retrying (has `tipline streams setup` run?)",
			         stream, durable, tl_strerror(e));
		nap(w, delay);
		delay = delay < 5000 ? delay * 2 : 5000;
	}
	return TL_EUNAVAIL;
}

/* Fetches one batch and hands each message to the core; acks only after
 * the core committed.  Returns TL_EIO on a fatal database error. */
static enum tl_err
pump(struct worker *w, struct bus_consumer *c, bool xfer, int timeout_ms, int *errors, int *got)
{
	struct bus_batch bt;
	int counts[3] = { 0 };
	enum tl_err e;

	*got = 0;
	if ((e = bus_fetch(c, w->batch, timeout_ms, &bt)) != TL_OK) {
		if ((*errors)++ % 20 == 0)
			log_warn("district %s: fetch failed (%s); retrying", w->nc->code, tl_strerror(e));
		nap(w, 500);
		return TL_OK;
	}
	*errors = 0;
	*got = bt.count;
	for (int i = 0; i < bt.count; i++) {
		struct bus_msg *m = bt.msgs[i];
		enum case_ingest out = CASE_IN_REJECT;
		const char *data;
		size_t len;
		enum tl_err se;

		data = bus_msg_data(m, &len);
		e = xfer ? case_ingest_xfer(w->cn, bus_msg_subject(m), data, len, &out)
		         : case_ingest_lead(w->cn, bus_msg_subject(m), data, len, &out);
		if (e == TL_EIO) {
			/* Nothing more is acked: the restarted node gets them again. */
			log_err("district %s: fatal database error; stopping", w->nc->code);
			bus_batch_free(&bt);
			return e;
		}
		if (e != TL_OK)
			se = bus_msg_nak(m, 2000);
		else if (out == CASE_IN_REJECT)
			se = bus_msg_term(m);
		else
			se = bus_msg_ack(m);
		if (e == TL_OK)
			counts[out]++;
		if (se != TL_OK)
			log_warn("district %s: settling a message failed (%s); it will be redelivered", w->nc->code,
			         tl_strerror(se));
	}
	if (bt.count)
		log_info("district %s: %s batch of %d: new=%d duplicate=%d rejected=%d", w->nc->code,
		         xfer ? "transfer" : "lead", bt.count, counts[CASE_IN_NEW], counts[CASE_IN_DUP],
		         counts[CASE_IN_REJECT]);
	bus_batch_free(&bt);
	return TL_OK;
}

/* Rebuilding: one batch of the district's own events, applied in stream
 * order.  An event whose case is not here yet stops the batch: it and the
 * rest are handed back (nak, no delay, so that they come again first and
 * in order) while leads are still coming in; once leads and transfers are
 * drained (leads_idle) and it came ten times, it has no case to go to and
 * is terminated.  *got counts the events fetched (held ones too). */
static enum tl_err
pump_events(struct worker *w, struct bus_consumer *c, bool leads_idle, int timeout_ms, int *errors, int *got)
{
	struct bus_batch bt;
	int counts[3] = { 0 }, orphans = 0;
	bool hold = false;
	enum tl_err e;

	*got = 0;
	if ((e = bus_fetch(c, w->batch, timeout_ms, &bt)) != TL_OK) {
		if ((*errors)++ % 20 == 0)
			log_warn("district %s: event fetch failed (%s); retrying", w->nc->code, tl_strerror(e));
		nap(w, 500);
		return TL_OK;
	}
	*errors = 0;
	*got = bt.count;
	for (int i = 0; i < bt.count; i++) {
		struct bus_msg *m = bt.msgs[i];
		enum case_ingest out = CASE_IN_REJECT;
		uint64_t sseq = 0, delivered = 0;
		const char *data;
		size_t len;
		enum tl_err se;

		if (hold) {
			se = bus_msg_nak(m, 0);
			goto settled;
		}
		data = bus_msg_data(m, &len);
		(void)bus_msg_meta(m, &sseq, &delivered);
		e = case_apply_event(w->cn, bus_msg_subject(m), data, len, sseq, &out);
		if (e == TL_EIO) {
			log_err("district %s: fatal database error; stopping", w->nc->code);
			bus_batch_free(&bt);
			return e;
		}
		/* Another district's consumer (transfers, one database for
		 * both) may still be catching up: give it a few rounds. */
		if (e == TL_ENOTFOUND && leads_idle && delivered >= 10) {
			orphans++;
			log_warn("district %s: event seq=%llu has no case here; skipped", w->nc->code,
			         (unsigned long long)sseq);
			se = bus_msg_term(m);
		} else if (e != TL_OK) {
			hold = true;
			se = bus_msg_nak(m, 0);
		} else {
			counts[out]++;
			se = out == CASE_IN_REJECT ? bus_msg_term(m) : bus_msg_ack(m);
		}
settled:
		if (se != TL_OK)
			log_warn("district %s: settling an event failed (%s); it will be redelivered", w->nc->code,
			         tl_strerror(se));
	}
	if (bt.count)
		log_info("district %s: rebuild batch of %d: applied=%d known=%d rejected=%d orphaned=%d held=%s",
		         w->nc->code, bt.count, counts[CASE_IN_NEW], counts[CASE_IN_DUP], counts[CASE_IN_REJECT],
		         orphans, hold ? "yes" : "no");
	bus_batch_free(&bt);
	return TL_OK;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct bus_consumer *leads = NULL, *xfers = NULL, *events = NULL;
	char dl[48], dx[48], de[48];
	int lerr = 0, xerr = 0, eerr = 0, quiet = 0;
	bool rebuild = case_rebuilding(w->cn, w->nc->code);

	node_lead_consumer(w->nc->code, dl, sizeof(dl));
	node_xfer_consumer(w->nc->code, dx, sizeof(dx));
	node_event_consumer(w->nc->code, de, sizeof(de));
	if (bind_wait(w, WIRE_STREAM_LEADS, dl, &leads) != TL_OK ||
	    bind_wait(w, WIRE_STREAM_XFER, dx, &xfers) != TL_OK ||
	    (rebuild && bind_wait(w, WIRE_STREAM_EVENTS, de, &events) != TL_OK))
		goto out;
	if (rebuild) {
		int egot = 0;

		/* Before the first lead: a new node whose district has no events
		 * yet (a new deployment) has nothing to rebuild. */
		if (pump_events(w, events, false, 1000, &eerr, &egot) == TL_EIO) {
			atomic_store(w->fatal, 1);
			goto out;
		}
		if (egot == 0 && eerr == 0)
			quiet = 3;
		else
			log_info("district %s: new database; rebuilding cases from %s", w->nc->code,
			         WIRE_STREAM_EVENTS);
	}
	while (!stopping(w)) {
		int got = 0, xgot = 0, egot = 0, opened = 0;

		if (rebuild) {
			/* Leads first, then the events that refer to them.  The rebuild
			 * ends after a few rounds in which nothing came in at all. */
			enum tl_err e;

			if (quiet < 3) {
				e = pump(w, leads, false, 200, &lerr, &got);
				if (e == TL_OK)
					e = pump(w, xfers, true, 50, &xerr, &xgot);
				if (e == TL_OK)
					e = pump_events(w, events, got == 0 && xgot == 0, 100, &eerr, &egot);
				if (e == TL_EIO) {
					atomic_store(w->fatal, 1);
					break;
				}
				quiet = got || xgot || egot || lerr || xerr || eerr ? 0 : quiet + 1;
				continue;
			}
			if ((e = case_rebuild_done(w->cn, w->nc->code, &opened)) == TL_EIO) {
				atomic_store(w->fatal, 1);
				break;
			}
			if (e != TL_OK) {
				log_warn("district %s: ending the rebuild failed (%s); retrying", w->nc->code,
				         tl_strerror(e));
				continue;
			}
			log_info("district %s: rebuild from %s done (%d case(s) without events reopened)",
			         w->nc->code, WIRE_STREAM_EVENTS, opened);
			rebuild = false;
			bus_consumer_free(events);
			events = NULL;
			continue;
		}

		/* While leads are flowing, only glance at transfers: a full 100 ms
		 * wait after every batch cost more than half of the consume rate
		 * (bench/district).  An idle queue waits on transfers as before. */
		if (pump(w, leads, false, 500, &lerr, &got) == TL_EIO ||
		    pump(w, xfers, true, got > 0 ? 5 : 100, &xerr, &xgot) == TL_EIO) {
			atomic_store(w->fatal, 1);
			break;
		}
	}
out:
	bus_consumer_free(leads);
	bus_consumer_free(xfers);
	bus_consumer_free(events);
	return NULL;
}

enum tl_err
node_run(struct case_node *cn, struct node_bus *nb, const struct node_cfg *c, volatile sig_atomic_t *stop)
{
	struct worker w[CASE_MAX_DISTRICTS];
	atomic_int fatal = 0;
	int64_t next_scan = 0;
	enum tl_err e = TL_OK;

	memset(w, 0, sizeof(w));
	for (size_t i = 0; i < nb->n; i++) {
		w[i].cn = cn;
		w[i].nc = &nb->conns[i];
		w[i].batch = (int)c->fetch_batch;
		w[i].stop = stop;
		w[i].fatal = &fatal;
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]) != 0) {
			log_err("cannot start the consumer thread for %s", nb->conns[i].code);
			atomic_store(&fatal, 1);
			break;
		}
		w[i].started = true;
	}
	/* The scanner runs here: lease expiry, overdue/idle flags, and the
	 * outbox retry when NATS was down. */
	while (!*stop && !atomic_load(&fatal)) {
		struct timespec ts = { 0, 100 * 1000000L };
		int64_t now = time_mono_ms();

		if (now >= next_scan) {
			struct case_scan_stats st;

			next_scan = now + c->scan_seconds * 1000;
			e = case_scan(cn, &st);
			if (e == TL_EIO) {
				atomic_store(&fatal, 1);
				break;
			}
			if (e != TL_OK)
				log_warn("deadline scan failed (%s)", tl_strerror(e));
			else if (st.leases_expired || st.overdue || st.idle || st.unpublished)
				log_info("scan: leases_expired=%d overdue=%d idle=%d published=%d unpublished=%d",
				         st.leases_expired, st.overdue, st.idle, st.published, st.unpublished);
			e = TL_OK;
		}
		nanosleep(&ts, NULL);
	}
	for (size_t i = 0; i < nb->n; i++)
		if (w[i].started)
			pthread_join(w[i].tid, NULL);
	return atomic_load(&fatal) ? TL_EIO : e;
}
