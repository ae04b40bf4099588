/*
 * bus_itest - drives common/bus against a real nats-server given as argv[1]
 * and checks the error mapping that the daemons rely on: dedup by
 * Nats-Msg-Id, KV create-only (TL_EEXIST), KV compare-and-set
 * (TL_ECONFLICT), missing keys (TL_ENOTFOUND), fetch/ack/term on a
 * work-queue stream, and TL_EUNAVAIL when nothing is connected.
 */
#include "compat.h"
#include "bus.h"
#include "secret.h"

static int failures;

#define CHECK(cond, what)                                                    \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, what); \
			failures++;                                          \
		}                                                            \
	} while (0)

int
main(int argc, char **argv)
{
	struct bus_opts o = { .url = argc > 1 ? argv[1] : "nats://127.0.0.1:4222", .name = "bus_itest" };
	struct bus *b = NULL, *down = NULL;
	struct bus_kv *kv = NULL;
	struct bus_consumer *c = NULL;
	struct bus_batch bt;
	struct buf v;
	uint64_t rev = 0, rev2 = 0, msgs = 0, seq, delivered;
	bool dup = true;
	static const char *const subj[] = { "t.wq.>" };
	struct bus_stream_cfg sc = { .name = "T_WQ", .subjects = subj, .nsubjects = 1,
	                             .retention = BUS_WORKQUEUE, .dup_window_ms = 60000 };
	struct bus_consumer_cfg cc = { .stream = "T_WQ", .durable = "w", .filter = "t.wq.>",
	                               .ack_wait_ms = 30000, .max_deliver = -1 };
	struct bus_kv_cfg kc = { .bucket = "T_KV", .history = 5 };

	if (secret_init() != TL_OK)
		return 1;
	buf_init(&v, 4096);
	CHECK(bus_connect(&o, &b) == TL_OK, "connect");
	if (!b)
		return 1;
	CHECK(bus_connected(b), "connected");
	CHECK(bus_stream_ensure(b, &sc) == TL_OK, "stream ensure");
	CHECK(bus_stream_ensure(b, &sc) == TL_OK, "stream ensure is idempotent");
	CHECK(bus_consumer_ensure(b, &cc) == TL_OK, "consumer ensure");
	CHECK(bus_consumer_ensure(b, &cc) == TL_OK, "consumer ensure is idempotent");
	CHECK(bus_kv_ensure(b, &kc) == TL_OK, "kv ensure");

	/* Publish dedup by Nats-Msg-Id. */
	CHECK(bus_publish(b, "t.wq.a", "one", 3, "id-1", &dup) == TL_OK && !dup, "first publish");
	CHECK(bus_publish(b, "t.wq.a", "one", 3, "id-1", &dup) == TL_OK && dup, "second is duplicate");
	CHECK(bus_publish(b, "t.wq.b", "two", 3, "id-2", &dup) == TL_OK && !dup, "other id");
	CHECK(bus_stream_info(b, "T_WQ", &msgs, NULL, NULL) == TL_OK && msgs == 2, "two stored");
	CHECK(bus_stream_info(b, "NOPE", &msgs, NULL, NULL) == TL_ENOTFOUND, "missing stream");
	CHECK(bus_publish(b, "nobody.listens", "x", 1, NULL, NULL) == TL_EUNAVAIL,
	      "publish to a subject with no stream is 'unavailable'");

	/* Fetch, ack one, terminate the other: the work queue empties. */
	CHECK(bus_consumer_bind(b, "T_WQ", "w", &c) == TL_OK, "bind");
	CHECK(bus_fetch(c, 10, 2000, &bt) == TL_OK && bt.count == 2, "fetch two");
	if (bt.count == 2) {
		size_t len;
		const char *d = bus_msg_data(bt.msgs[0], &len);
		CHECK(len == 3 && memcmp(d, "one", 3) == 0, "payload");
		CHECK(strcmp(bus_msg_subject(bt.msgs[0]), "t.wq.a") == 0, "subject");
		CHECK(bus_msg_meta(bt.msgs[0], &seq, &delivered) == TL_OK && seq == 1 && delivered == 1, "meta");
		CHECK(bus_msg_ack(bt.msgs[0]) == TL_OK, "ack");
		CHECK(bus_msg_term(bt.msgs[1]) == TL_OK, "term");
	}
	bus_batch_free(&bt);
	CHECK(bus_fetch(c, 10, 300, &bt) == TL_OK && bt.count == 0, "empty fetch is not an error");
	bus_batch_free(&bt);
	CHECK(bus_stream_info(b, "T_WQ", &msgs, NULL, NULL) == TL_OK && msgs == 0, "queue empty");

	/* KV semantics the claim and status code depends on. */
	CHECK(bus_kv_open(b, "T_KV", &kv) == TL_OK, "kv open");
	CHECK(bus_kv_get(kv, "k", &v, &rev) == TL_ENOTFOUND, "missing key");
	CHECK(bus_kv_create(kv, "k", "a", 1, &rev) == TL_OK && rev > 0, "create");
	CHECK(bus_kv_create(kv, "k", "b", 1, &rev2) == TL_EEXIST, "create twice is EEXIST");
	CHECK(bus_kv_update(kv, "k", "c", 1, rev, &rev2) == TL_OK && rev2 > rev, "update with right rev");
	CHECK(bus_kv_update(kv, "k", "d", 1, rev, NULL) == TL_ECONFLICT, "stale rev is ECONFLICT");
	CHECK(bus_kv_get(kv, "k", &v, &rev) == TL_OK && rev == rev2 && strcmp(buf_str(&v), "c") == 0,
	      "get latest");
	CHECK(bus_kv_put(kv, "k", "e", 1, &rev) == TL_OK && rev > rev2, "put");
	CHECK(bus_kv_delete(kv, "k") == TL_OK, "delete");
	CHECK(bus_kv_get(kv, "k", &v, NULL) == TL_ENOTFOUND, "deleted key is not found");

	/* Nothing listening: connect fails clearly, a retrying connection
	 * reports 'unavailable' instead of queueing publishes. */
	{
		struct bus_opts d = { .url = "nats://127.0.0.1:1", .name = "down" };
		CHECK(bus_connect(&d, &down) == TL_EUNAVAIL, "connect to nothing is EUNAVAIL");
		d.retry_on_failed_connect = true;
		CHECK(bus_connect(&d, &down) == TL_OK, "retrying connect starts");
		CHECK(!bus_connected(down), "not connected");
		CHECK(bus_publish(down, "t.wq.a", "x", 1, "id-9", NULL) == TL_EUNAVAIL,
		      "publish while disconnected is EUNAVAIL");
	}

	bus_kv_close(kv);
	bus_consumer_free(c);
	bus_close(down);
	bus_close(b);
	buf_free(&v);
	bus_shutdown();
	if (failures) {
		fprintf(stderr, "%d bus checks failed\n", failures);
		return 1;
	}
	printf("bus checks passed\n");
	return 0;
}
