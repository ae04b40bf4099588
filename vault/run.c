#include "compat.h"
#include "internal.h"
#include "log.h"
#include "wire.h"

#include <pthread.h>
#include <time.h>

#define VAULT_MAX_BATCH 1024

/* Sleeps up to ms, waking early when a stop is requested. */
static void
nap(int ms, volatile sig_atomic_t *stop)
{
	while (ms > 0 && !*stop) {
		int step = ms < 100 ? ms : 100;
		struct timespec ts = { 0, (long)step * 1000000L };
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* The durable is created by `tipline streams setup`; the vault may start
 * first (or NATS may still be coming up), so wait for it with backoff. */
static enum tl_err
bind_consumer(struct bus *b, volatile sig_atomic_t *stop, struct bus_consumer **out)
{
	int delay = 250, attempt = 0;
	enum tl_err e;

	for (;;) {
		e = bus_consumer_bind(b, WIRE_STREAM_DEPOSITS, WIRE_CONSUMER_VAULT, out);
		if (e == TL_OK) {
			log_info("bound consumer %s/%s", WIRE_STREAM_DEPOSITS, WIRE_CONSUMER_VAULT);
			return TL_OK;
		}
		attempt++;
		log_warn("consumer %s/%s not available (%s), attempt %d; retrying in %d ms "
		         "(has `tipline streams setup` run?)",
		         WIRE_STREAM_DEPOSITS, WIRE_CONSUMER_VAULT, tl_strerror(e), attempt, delay);
		nap(delay, stop);
		if (*stop)
			return TL_OK;
		delay = delay < 5000 ? delay * 2 : 5000;
	}
}

/* Publishes each decided claim's eligibility (again, for a redelivery:
 * the stream drops the copy by its Nats-Msg-Id).  A claim whose publish
 * is not acknowledged is nak'd instead of acked, so it comes back and is
 * published then; nothing is lost between COMMIT and ack. */
static void
publish_results(struct bus *b, struct vault_item *items, int n)
{
	struct buf out;
	char msg_id[ID_HEX_LEN + 8];

	buf_init(&out, WIRE_MAX_MSG);
	for (int i = 0; i < n; i++) {
		struct vault_item *it = &items[i];
		bool dup = false;
		enum tl_err e;

		if (!it->claim || (it->outcome != VAULT_STORED && it->outcome != VAULT_DUPLICATE))
			continue;
		buf_reset(&out);
		snprintf(msg_id, sizeof(msg_id), "elig:%s", it->claim_id);
		if ((e = wire_eligibility_encode(&it->elig, &out)) != TL_OK ||
		    (e = bus_publish(b, WIRE_SUBJ_PAYEE_RESULT, out.data, out.len, msg_id, &dup)) != TL_OK) {
			log_warn("claim %s: eligibility not published (%s); will retry", it->claim_id,
			         tl_strerror(e));
			it->outcome = VAULT_RETRY;
		}
	}
	buf_free(&out);
}

/* ---- the reveal responder ---- */

struct responder {
	struct vault *v;
	struct bus *b;
	volatile sig_atomic_t *stop;
	volatile sig_atomic_t fatal; /* a fatal database error: the vault exits */
	pthread_t thread;
	bool running;
};

static void
serve_one(struct responder *r, struct bus_sub *sub)
{
	struct bus_msg *m = NULL;
	struct buf reply;
	const char *data;
	size_t len;
	enum tl_err e;

	if ((e = bus_sub_next(sub, 500, &m)) != TL_OK) {
		if (e != TL_ETIMEOUT) {
			log_warn("reveal subscription: %s", tl_strerror(e));
			nap(500, r->stop);
		}
		return;
	}
	buf_init(&reply, WIRE_MAX_MSG);
	data = bus_msg_data(m, &len);
	if (vault_reveal(r->v, data, len, &reply) == TL_EIO)
		r->fatal = 1;
	if (reply.len > 0 && (e = bus_respond(r->b, m, reply.data, reply.len)) != TL_OK)
		log_warn("reveal: cannot send the reply (%s)", tl_strerror(e));
	buf_free(&reply);
	bus_msg_free(m);
}

static void *
responder_main(void *arg)
{
	struct responder *r = arg;
	struct bus_sub *sub = NULL;
	int delay = 250;
	enum tl_err e;

	while (!*r->stop && !r->fatal) {
		if (!sub) {
			if ((e = bus_sub_sync(r->b, WIRE_SUBJ_VAULT_REVEAL, &sub)) != TL_OK) {
				log_warn("cannot subscribe to %s (%s); retrying", WIRE_SUBJ_VAULT_REVEAL,
				         tl_strerror(e));
				nap(delay, r->stop);
				delay = delay < 5000 ? delay * 2 : 5000;
				continue;
			}
			log_info("answering payee reveal requests on %s", WIRE_SUBJ_VAULT_REVEAL);
		}
		serve_one(r, sub);
	}
	bus_sub_free(sub);
	return NULL;
}

/* Tells the server what became of each message.  Ack failures only mean a
 * redelivery later, which the store recognises as a duplicate. */
static void
settle(struct bus_batch *bt, struct vault_item *items, int64_t nak_delay_ms, int counts[4])
{
	for (int i = 0; i < bt->count; i++) {
		struct bus_msg *m = bt->msgs[i];
		enum tl_err e;

		counts[items[i].outcome]++;
		switch (items[i].outcome) {
		case VAULT_STORED:
		case VAULT_DUPLICATE:
			e = bus_msg_ack(m);
			break;
		case VAULT_REJECTED:
			e = bus_msg_term(m);
			break;
		case VAULT_RETRY:
		default:
			e = bus_msg_nak(m, nak_delay_ms);
			break;
		}
		if (e != TL_OK)
			log_warn("settling seq=%llu failed (%s); it will be redelivered",
			         (unsigned long long)items[i].stream_seq, tl_strerror(e));
	}
}

enum tl_err
vault_run(struct vault *v, struct bus *b, const struct vault_run_opts *o, volatile sig_atomic_t *stop)
{
	struct bus_consumer *c = NULL;
	struct vault_item *items = NULL;
	int batch = o->batch > 0 && o->batch <= VAULT_MAX_BATCH ? o->batch : 64;
	int fetch_ms = o->fetch_ms > 0 ? o->fetch_ms : 1000;
	int fetch_errors = 0;
	enum tl_err e;

	struct responder resp = { .v = v, .b = b, .stop = stop };

	if (!(items = calloc((size_t)batch, sizeof(*items))))
		return TL_ENOMEM;
	if (v->payees) {
		if (pthread_create(&resp.thread, NULL, responder_main, &resp) != 0) {
			log_err("cannot start the reveal thread");
			e = TL_ENOMEM;
			goto out;
		}
		resp.running = true;
	}
	if ((e = bind_consumer(b, stop, &c)) != TL_OK || *stop)
		goto out;
	while (!*stop) {
		if (resp.fatal) {
			log_err("fatal database error while answering a reveal; exiting");
			e = TL_EIO;
			goto out;
		}
		struct bus_batch bt;
		int counts[4] = { 0 };

		e = bus_fetch(c, batch, fetch_ms, &bt);
		if (e != TL_OK) {
			/* Disconnected or the server is busy: nats.c reconnects in
			 * the background; say so once in a while, not every time. */
			if (fetch_errors++ % 20 == 0)
				log_warn("fetch failed (%s); retrying", tl_strerror(e));
			nap(500, stop);
			continue;
		}
		fetch_errors = 0;
		if (bt.count == 0) {
			bus_batch_free(&bt);
			continue;
		}
		for (int i = 0; i < bt.count; i++) {
			struct vault_item *it = &items[i];
			memset(it, 0, sizeof(*it));
			it->subject = bus_msg_subject(bt.msgs[i]);
			it->data = bus_msg_data(bt.msgs[i], &it->len);
			if (bus_msg_meta(bt.msgs[i], &it->stream_seq, &it->delivered) != TL_OK)
				it->stream_seq = it->delivered = 0;
		}
		e = vault_store_batch(v, items, (size_t)bt.count);
		if (e == TL_EIO) {
			/* Nothing is acked: after AckWait the server redelivers to
			 * the restarted vault. */
			log_err("fatal database error with %d deposits in hand; exiting", bt.count);
			bus_batch_free(&bt);
			goto out;
		}
		publish_results(b, items, bt.count);
		settle(&bt, items, o->nak_delay_ms > 0 ? o->nak_delay_ms : 2000, counts);
		log_info("batch of %d: stored=%d duplicate=%d rejected=%d retry=%d", bt.count,
		         counts[VAULT_STORED], counts[VAULT_DUPLICATE], counts[VAULT_REJECTED],
		         counts[VAULT_RETRY]);
		bus_batch_free(&bt);
		e = TL_OK;
	}
	e = TL_OK;
out:
	if (resp.running) {
		/* The responder polls *stop; make sure it sees one. */
		if (e != TL_OK)
			*stop = 1;
		pthread_join(resp.thread, NULL);
	}
	bus_consumer_free(c);
	free(items);
	return e;
}
