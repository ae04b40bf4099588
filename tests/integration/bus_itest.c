/*
 * bus_itest - drives common/bus against a real nats-server given as argv[1]
 * and checks the error mapping that the daemons rely on: dedup by
 * Nats-Msg-Id, KV create-only (TL_EEXIST), KV compare-and-set
 * (TL_ECONFLICT), missing keys (TL_ENOTFOUND), fetch/ack/term on a
 * work-queue stream, TL_EUNAVAIL when nothing is connected, and core
 * request/reply (round trip, a reply above 100 KB, TL_ETIMEOUT without a
 * responder, replies only on the requester's own inbox prefix).
 *
 *   itest_bus URL
 *   itest_bus --reqrep URL REQ_USER REQ_PWFILE REQ_PREFIX RESP_USER RESP_PWFILE
 *             RESP_PREFIX SUBJECT ok|timeout
 *   itest_bus --pull URL USER PWFILE PREFIX STREAM DURABLE
 *   itest_bus --kv URL USER PWFILE PREFIX BUCKET KEY
 * The --reqrep form checks one request/reply between two restricted users
 * (payouts asking the vault): "ok" when the responder's answer must reach
 * the requester, "timeout" when the server must stop it.  --pull binds a
 * durable as USER, fetches at least one message and acks it; --kv puts
 * and reads back KEY: they prove that a daemon's allow-list covers what
 * its code does, since a denial shows only as a timeout.
 */
#include "compat.h"
#include "bus.h"
#include "secret.h"

#include <pthread.h>

static int failures;

#define CHECK(cond, what)                                                    \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, what); \
			failures++;                                          \
		}                                                            \
	} while (0)

#define BIG_REPLY 150000 /* above the 100 KB a reveal of many shares may reach */

/* Answers requests on its subscription until it receives "stop":
 * "big" -> BIG_REPLY bytes, "silent" -> no answer, anything else -> "re:"
 * and the request. */
struct responder {
	struct bus *b;
	struct bus_sub *sub;
	int served;
	int errors;
};

static void *
respond_loop(void *arg)
{
	struct responder *r = arg;
	static char big[BIG_REPLY];
	int idle = 0;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	while (idle < 20) {
		struct bus_msg *m = NULL;
		enum tl_err e = bus_sub_next(r->sub, 500, &m);
		const char *d;
		size_t len;
		char out[300];

		if (e == TL_ETIMEOUT) {
			idle++;
			continue;
		}
		if (e != TL_OK) {
			r->errors++;
			break;
		}
		idle = 0;
		d = bus_msg_data(m, &len);
		if (len == 4 && memcmp(d, "stop", 4) == 0) {
			bus_msg_free(m);
			break;
		}
		if (len == 3 && memcmp(d, "big", 3) == 0)
			e = bus_respond(r->b, m, big, sizeof(big));
		else if (len == 6 && memcmp(d, "silent", 6) == 0)
			e = TL_OK;
		else if (len < sizeof(out) - 3) {
			memcpy(out, "re:", 3);
			memcpy(out + 3, d, len);
			e = bus_respond(r->b, m, out, len + 3);
		} else
			e = TL_EINVAL;
		if (e != TL_OK)
			r->errors++;
		r->served++;
		bus_msg_free(m);
	}
	return NULL;
}

static enum tl_err
connect_as(const char *url, const char *user, const char *pwfile, const char *prefix,
           char **pw, struct bus **out)
{
	struct bus_opts o = { .url = url, .user = user, .name = user, .inbox_prefix = prefix };
	char why[512];

	if (secret_load_text(pwfile, pw, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "%s\n", why);
		return TL_EIO;
	}
	o.password = *pw;
	return bus_connect(&o, out);
}

/* One request from a restricted requester to a restricted responder. */
static int
reqrep_main(char **argv)
{
	const char *url = argv[0], *subject = argv[7];
	bool want_ok = strcmp(argv[8], "ok") == 0;
	char *rqpw = NULL, *rspw = NULL;
	struct bus *rq = NULL, *rs = NULL;
	struct responder r = { 0 };
	struct buf reply;
	pthread_t t;
	bool started = false;
	enum tl_err e;

	buf_init(&reply, 1 << 20);
	CHECK(want_ok || strcmp(argv[8], "timeout") == 0, "expectation is ok or timeout");
	CHECK(connect_as(url, argv[1], argv[2], argv[3], &rqpw, &rq) == TL_OK, "requester connects");
	CHECK(connect_as(url, argv[4], argv[5], argv[6], &rspw, &rs) == TL_OK, "responder connects");
	if (!rq || !rs)
		goto out;
	r.b = rs;
	CHECK(bus_sub_sync(rs, subject, &r.sub) == TL_OK, "responder subscribes");
	if (!r.sub)
		goto out;
	started = pthread_create(&t, NULL, respond_loop, &r) == 0;
	CHECK(started, "responder thread");
	if (!started)
		goto out;
	e = bus_request(rq, subject, "ping", 4, 3000, &reply);
	if (want_ok) {
		CHECK(e == TL_OK, "the answer reaches the requester's inbox");
		CHECK(strcmp(buf_str(&reply), "re:ping") == 0, "the answer is the responder's");
		e = bus_request(rq, subject, "big", 3, 3000, &reply);
		CHECK(e == TL_OK && reply.len == BIG_REPLY, "a reply above 100 KB arrives whole");
	} else {
		CHECK(e == TL_ETIMEOUT, "the server stops the answer: the requester times out");
	}
	/* "stop" gets no answer; its timeout also gives the server's
	 * permission error time to reach the responder. */
	CHECK(bus_request(rq, subject, "stop", 4, 1000, &reply) == TL_ETIMEOUT, "stop is not answered");
	pthread_join(t, NULL);
	CHECK(r.errors == 0, "responder saw no local error");
	CHECK(r.served == (want_ok ? 2 : 1), "every request reached the responder");
	if (!want_ok)
		CHECK(bus_last_async_error(rs) == TL_EDENIED, "the responder was told it may not answer");
	else
		CHECK(bus_last_async_error(rs) == TL_OK && bus_last_async_error(rq) == TL_OK,
		      "no permission error on either side");
out:
	bus_sub_free(r.sub);
	bus_close(rs);
	bus_close(rq);
	secret_free(rqpw);
	secret_free(rspw);
	buf_free(&reply);
	bus_shutdown();
	if (failures) {
		fprintf(stderr, "%d request/reply checks failed\n", failures);
		return 1;
	}
	printf("request/reply checks passed (%s)\n", argv[8]);
	return 0;
}

/* As a restricted user: bind a durable, fetch, ack. */
static int
pull_main(char **argv)
{
	char *pw = NULL;
	struct bus *b = NULL;
	struct bus_consumer *c = NULL;
	struct bus_batch bt = { 0 };

	CHECK(connect_as(argv[0], argv[1], argv[2], argv[3], &pw, &b) == TL_OK, "connect");
	if (b)
		CHECK(bus_consumer_bind(b, argv[4], argv[5], &c) == TL_OK, "bind");
	if (c) {
		CHECK(bus_fetch(c, 10, 3000, &bt) == TL_OK && bt.count > 0, "fetch delivers a stored message");
		for (int i = 0; i < bt.count; i++)
			CHECK(bus_msg_ack(bt.msgs[i]) == TL_OK, "ack");
		bus_batch_free(&bt);
		CHECK(bus_last_async_error(b) == TL_OK, "no permission error");
	}
	bus_consumer_free(c);
	bus_close(b);
	secret_free(pw);
	bus_shutdown();
	if (failures) {
		fprintf(stderr, "%d pull checks failed as %s on %s/%s\n", failures, argv[1], argv[4], argv[5]);
		return 1;
	}
	printf("pull %s/%s as %s passed\n", argv[4], argv[5], argv[1]);
	return 0;
}

/* As a restricted user: put a key, read it back. */
static int
kv_main(char **argv)
{
	char *pw = NULL;
	struct bus *b = NULL;
	struct bus_kv *kv = NULL;
	struct buf v;
	uint64_t rev = 0, rev2 = 0;

	buf_init(&v, 4096);
	CHECK(connect_as(argv[0], argv[1], argv[2], argv[3], &pw, &b) == TL_OK, "connect");
	if (b)
		CHECK(bus_kv_open(b, argv[4], &kv) == TL_OK, "kv open");
	if (kv) {
		CHECK(bus_kv_put(kv, argv[5], "itest", 5, &rev) == TL_OK && rev > 0, "put");
		CHECK(bus_kv_get(kv, argv[5], &v, &rev2) == TL_OK && rev2 == rev &&
		      strcmp(buf_str(&v), "itest") == 0, "get returns the put value");
		CHECK(bus_last_async_error(b) == TL_OK, "no permission error");
	}
	bus_kv_close(kv);
	bus_close(b);
	secret_free(pw);
	buf_free(&v);
	bus_shutdown();
	if (failures) {
		fprintf(stderr, "%d kv checks failed as %s on %s\n", failures, argv[1], argv[4]);
		return 1;
	}
	printf("kv %s as %s passed\n", argv[4], argv[1]);
	return 0;
}

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
	if (argc == 11 && strcmp(argv[1], "--reqrep") == 0)
		return reqrep_main(argv + 2);
	if (argc == 8 && strcmp(argv[1], "--pull") == 0)
		return pull_main(argv + 2);
	if (argc == 8 && strcmp(argv[1], "--kv") == 0)
		return kv_main(argv + 2);
	if (argc > 2) {
		fprintf(stderr, "usage: itest_bus URL | --reqrep URL REQ_USER REQ_PWFILE REQ_PREFIX"
		                " RESP_USER RESP_PWFILE RESP_PREFIX SUBJECT ok|timeout\n"
		                "     | --pull URL USER PWFILE PREFIX STREAM DURABLE\n"
		                "     | --kv URL USER PWFILE PREFIX BUCKET KEY\n");
		return 2;
	}
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

	/* Core request/reply.  The requester has its own inbox prefix, as
	 * every restricted daemon does; b answers from a second thread. */
	{
		struct bus_opts ro = { .url = o.url, .name = "bus_itest_rq", .inbox_prefix = "_INBOX_rq" };
		struct bus *rq = NULL;
		struct bus_sub *sniff = NULL;
		struct bus_msg *m = NULL;
		struct responder r = { .b = b };
		struct buf reply, small;
		pthread_t t;
		bool started = false;
		size_t len;

		buf_init(&reply, 1 << 20);
		buf_init(&small, 1000);
		CHECK(bus_connect(&ro, &rq) == TL_OK, "requester connect");
		CHECK(bus_request(rq, "t.rr", "x", 1, 300, &reply) == TL_ETIMEOUT,
		      "request with no responder is ETIMEOUT");
		CHECK(bus_sub_sync(b, "t.rr", &r.sub) == TL_OK, "responder subscribes");
		/* Sees every reply sent to the requester's inbox prefix: proves
		 * the inbox is under _INBOX_rq, and yields a message that has no
		 * reply subject of its own. */
		CHECK(bus_sub_sync(b, "_INBOX_rq.>", &sniff) == TL_OK, "inbox sniffer subscribes");
		if (rq && r.sub)
			started = pthread_create(&t, NULL, respond_loop, &r) == 0;
		CHECK(started, "responder thread");
		if (started) {
			CHECK(bus_request(rq, "t.rr", "hello", 5, 3000, &reply) == TL_OK &&
			      strcmp(buf_str(&reply), "re:hello") == 0, "round trip");
			CHECK(bus_request(rq, "t.rr", "big", 3, 3000, &reply) == TL_OK && reply.len == BIG_REPLY &&
			      reply.data[0] == 'a' && reply.data[BIG_REPLY - 1] == (char)('a' + (BIG_REPLY - 1) % 26),
			      "a reply above 100 KB arrives whole");
			CHECK(bus_request(rq, "t.rr", "big", 3, 3000, &small) == TL_ETOOBIG && small.len == 0,
			      "a reply above the caller's buffer limit is ETOOBIG, nothing kept");
			CHECK(bus_request(rq, "t.rr", "silent", 6, 300, &reply) == TL_ETIMEOUT && reply.len == 0,
			      "a responder that does not answer is ETIMEOUT");
			CHECK(bus_request(rq, "t.rr", "again", 5, 3000, &reply) == TL_OK &&
			      strcmp(buf_str(&reply), "re:again") == 0, "later requests still work");
			CHECK(bus_request(rq, "t.rr", "stop", 4, 300, &reply) == TL_ETIMEOUT, "stop");
			pthread_join(t, NULL);
			CHECK(r.errors == 0 && r.served == 5, "responder served every request");
		}
		CHECK(bus_sub_next(sniff, 2000, &m) == TL_OK && m, "the reply went to _INBOX_rq.*");
		if (m) {
			CHECK(strncmp(bus_msg_subject(m), "_INBOX_rq.", 10) == 0, "reply subject prefix");
			const char *d = bus_msg_data(m, &len);
			CHECK(len == 8 && memcmp(d, "re:hello", 8) == 0, "sniffed payload");
			CHECK(bus_respond(b, m, "x", 1) == TL_EINVAL, "respond to a message without reply is EINVAL");
			bus_msg_free(m);
		}
		bus_msg_free(NULL);
		bus_sub_free(NULL);
		bus_sub_free(sniff);
		bus_sub_free(r.sub);
		bus_close(rq);
		buf_free(&small);
		buf_free(&reply);
	}

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
		{
			struct buf rb;

			buf_init(&rb, 100);
			CHECK(bus_request(down, "t.rr", "x", 1, 300, &rb) == TL_EUNAVAIL,
			      "request while disconnected is EUNAVAIL");
			buf_free(&rb);
		}
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
