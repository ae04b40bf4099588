#include "compat.h"
#include "vault.h"
#include "log.h"
#include "wire.h"

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

	if (!(items = calloc((size_t)batch, sizeof(*items))))
		return TL_ENOMEM;
	if ((e = bind_consumer(b, stop, &c)) != TL_OK || *stop)
		goto out;
	while (!*stop) {
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
		settle(&bt, items, o->nak_delay_ms > 0 ? o->nak_delay_ms : 2000, counts);
		log_info("batch of %d: stored=%d duplicate=%d rejected=%d retry=%d", bt.count,
		         counts[VAULT_STORED], counts[VAULT_DUPLICATE], counts[VAULT_REJECTED],
		         counts[VAULT_RETRY]);
		bus_batch_free(&bt);
		e = TL_OK;
	}
	e = TL_OK;
out:
	bus_consumer_free(c);
	free(items);
	return e;
}
