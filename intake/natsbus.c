/*
 * natsbus.c - see natsbus.h.
 */
#include "compat.h"
#include "natsbus.h"
#include "log.h"
#include "timefmt.h"
#include "wire.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

struct conn {
	struct bus *b;
	struct bus_kv *status, *idem; /* opened lazily, under natsbus.lock */
};

struct natsbus {
	struct conn conns[NATSBUS_MAX_CONN];
	int n;
	atomic_uint next; /* round-robin assignment of threads to connections */
	struct metric *publish_seconds;
	pthread_mutex_t lock; /* guards the lazy buckets and the health cache */
	int64_t health_at_ms;
	enum tl_err health;
	char health_why[96];
};

/* Each thread keeps using the connection it was first given, so that its
 * round trips stay ordered on one socket and threads spread evenly. */
static _Thread_local int thread_slot = -1;

static struct conn *
my_conn(struct natsbus *nb)
{
	if (thread_slot < 0)
		thread_slot = (int)(atomic_fetch_add(&nb->next, 1) % (unsigned)nb->n);
	return &nb->conns[thread_slot % nb->n];
}

enum tl_err
natsbus_new(struct bus *const *buses, int n, struct metric *publish_seconds, struct natsbus **out)
{
	struct natsbus *nb;

	if (n < 1 || n > NATSBUS_MAX_CONN)
		return TL_EINVAL;
	if (!(nb = calloc(1, sizeof(*nb))))
		return TL_ENOMEM;
	for (int i = 0; i < n; i++)
		nb->conns[i].b = buses[i];
	nb->n = n;
	atomic_init(&nb->next, 0);
	nb->publish_seconds = publish_seconds;
	nb->health_at_ms = INT64_MIN / 2;
	pthread_mutex_init(&nb->lock, NULL);
	*out = nb;
	return TL_OK;
}

void
natsbus_free(struct natsbus *nb)
{
	if (!nb)
		return;
	for (int i = 0; i < nb->n; i++) {
		bus_kv_close(nb->conns[i].status);
		bus_kv_close(nb->conns[i].idem);
	}
	pthread_mutex_destroy(&nb->lock);
	free(nb);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static enum tl_err
get_kv(struct natsbus *nb, struct conn *c, const char *bucket, struct bus_kv **out)
{
	struct bus_kv **slot;
	enum tl_err e = TL_OK;

	if (strcmp(bucket, WIRE_KV_STATUS) == 0)
		slot = &c->status;
	else if (strcmp(bucket, WIRE_KV_IDEM) == 0)
		slot = &c->idem;
	else
		return TL_EINVAL;
	pthread_mutex_lock(&nb->lock);
	if (!*slot) {
		e = bus_kv_open(c->b, bucket, slot);
		if (e != TL_OK) {
			log_warn("cannot open kv bucket %s: %s", bucket, tl_strerror(e));
			*slot = NULL;
			/* Missing bucket or no permission: a deployment problem the
			 * client can only wait out. */
			e = TL_EUNAVAIL;
		}
	}
	*out = *slot;
	pthread_mutex_unlock(&nb->lock);
	return e;
}

static enum tl_err
nb_publish(void *cls, const char *subject, const void *data, size_t len, const char *msg_id)
{
	struct natsbus *nb = cls;
	struct conn *c = my_conn(nb);
	double t0;
	enum tl_err e;

	if (!bus_connected(c->b))
		return TL_EUNAVAIL;
	t0 = now_s();
	e = bus_publish(c->b, subject, data, len, msg_id, NULL);
	metric_observe(nb->publish_seconds, now_s() - t0);
	return e;
}

static enum tl_err
nb_kv_create(void *cls, const char *bucket, const char *key, const void *val, size_t len)
{
	struct natsbus *nb = cls;
	struct conn *c = my_conn(nb);
	struct bus_kv *kv;
	double t0;
	enum tl_err e;

	if (!bus_connected(c->b))
		return TL_EUNAVAIL;
	if ((e = get_kv(nb, c, bucket, &kv)) != TL_OK)
		return e;
	t0 = now_s();
	e = bus_kv_create(kv, key, val, len, NULL);
	metric_observe(nb->publish_seconds, now_s() - t0);
	return e;
}

static enum tl_err
nb_kv_get(void *cls, const char *bucket, const char *key, struct buf *val)
{
	struct natsbus *nb = cls;
	struct conn *c = my_conn(nb);
	struct bus_kv *kv;
	enum tl_err e;

	if (!bus_connected(c->b))
		return TL_EUNAVAIL;
	if ((e = get_kv(nb, c, bucket, &kv)) != TL_OK)
		return e;
	return bus_kv_get(kv, key, val, NULL);
}

struct pipeline_bus
natsbus_iface(struct natsbus *nb)
{
	struct pipeline_bus pb = {
		.cls = nb,
		.publish = nb_publish,
		.kv_create = nb_kv_create,
		.kv_get = nb_kv_get,
	};
	return pb;
}

/* All of them: a report may be sent on any. */
bool
natsbus_connected(struct natsbus *nb)
{
	for (int i = 0; i < nb->n; i++)
		if (!bus_connected(nb->conns[i].b))
			return false;
	return true;
}

enum tl_err
natsbus_health(struct natsbus *nb, int64_t cache_ms, char *why, size_t whylen)
{
	static const char *const streams[] = { WIRE_STREAM_DEPOSITS, WIRE_STREAM_LEADS };
	int64_t now = time_mono_ms();
	enum tl_err e = TL_OK;

	if (!natsbus_connected(nb)) {
		snprintf(why, whylen, "nats: not connected");
		return TL_EUNAVAIL;
	}
	pthread_mutex_lock(&nb->lock);
	if (now - nb->health_at_ms < cache_ms) {
		e = nb->health;
		snprintf(why, whylen, "%s", nb->health_why);
		pthread_mutex_unlock(&nb->lock);
		return e;
	}
	pthread_mutex_unlock(&nb->lock);

	/* Outside the lock: a slow stream info must not block publishers
	 * that need a bucket handle. */
	why[0] = '\0';
	for (size_t i = 0; i < TL_ARRAY_LEN(streams) && e == TL_OK; i++) {
		e = bus_stream_info(nb->conns[0].b, streams[i], NULL, NULL, NULL);
		if (e == TL_ENOTFOUND)
			snprintf(why, whylen, "stream %s: missing", streams[i]);
		else if (e != TL_OK)
			snprintf(why, whylen, "stream %s: %s", streams[i], tl_strerror(e));
	}
	pthread_mutex_lock(&nb->lock);
	nb->health = e;
	nb->health_at_ms = now;
	snprintf(nb->health_why, sizeof(nb->health_why), "%s", why);
	pthread_mutex_unlock(&nb->lock);
	return e;
}
