/*
 * bench_jspub - the baseline for bench/intake: publishes N messages of B
 * bytes to a JetStream subject with common/bus's asynchronous publish
 * (each with its own Nats-Msg-Id, as intake's are), waits for every ack,
 * and prints the rate.  Same server, same stream settings, same message
 * size as the intake run, so the ratio says what intake's HTTP, JSON,
 * redaction, sealing and per-report round trips cost.
 *
 * usage: bench_jspub -s URL [-u USER -p PWFILE] [-n COUNT] [-b BYTES] [-S SUBJECT]
 * Output (one line): "jspub msgs=N bytes=B seconds=S rate=R failed=F"
 */
#include "compat.h"
#include "bus.h"
#include "secret.h"
#include "num.h"
#include "timefmt.h"

#include <getopt.h>
#include <sodium.h>
#include <time.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	const char *url = "nats://127.0.0.1:4222", *user = NULL, *pwfile = NULL,
	           *subject = "tl.lead.120000";
	uint64_t count = 10000, bytes = 1200, failed = 0;
	struct bus_opts o = { 0 };
	struct bus *b = NULL;
	char *pw = NULL, why[256], id[64], run[17];
	unsigned char rnd[8];
	char *payload = NULL;
	double t0, t1;
	int c, rc = 1;
	enum tl_err e;

	while ((c = getopt(argc, argv, "s:u:p:n:b:S:")) != -1) {
		switch (c) {
		case 's': url = optarg; break;
		case 'u': user = optarg; break;
		case 'p': pwfile = optarg; break;
		case 'S': subject = optarg; break;
		case 'n':
			if (num_parse_u64(optarg, strlen(optarg), 100000000, &count) != TL_OK) return 2;
			break;
		case 'b':
			if (num_parse_u64(optarg, strlen(optarg), 1000000, &bytes) != TL_OK) return 2;
			break;
		default:
			fprintf(stderr, "usage: bench_jspub -s URL [-u USER -p PWFILE] [-n N] [-b BYTES] [-S SUBJECT]\n");
			return 2;
		}
	}
	if (secret_init() != TL_OK)
		return 1;
	if (pwfile && secret_load_text(pwfile, &pw, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "bench_jspub: %s\n", why);
		return 1;
	}
	o.url = url;
	o.user = user;
	o.password = pw;
	o.name = "bench_jspub";
	o.timeout_ms = 10000;
	if ((e = bus_connect(&o, &b)) != TL_OK) {
		fprintf(stderr, "bench_jspub: connect: %s\n", tl_strerror(e));
		goto out;
	}
	/* A JSON-ish payload of the requested size (content does not matter to
	 * JetStream, but keep it printable like a lead). */
	if (!(payload = malloc(bytes + 1)))
		goto out;
	for (uint64_t i = 0; i < bytes; i++)
		payload[i] = (char)('a' + i % 26);
	payload[bytes] = '\0';
	randombytes_buf(rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(run + 2 * i, 3, "%02x", rnd[i]);

	t0 = now();
	for (uint64_t i = 0; i < count; i++) {
		snprintf(id, sizeof(id), "bench-%s-%llu", run, (unsigned long long)i);
		if ((e = bus_publish_async(b, subject, payload, bytes, id)) != TL_OK) {
			fprintf(stderr, "bench_jspub: publish %llu: %s\n", (unsigned long long)i, tl_strerror(e));
			goto out;
		}
	}
	if ((e = bus_publish_async_wait(b, 60000, &failed)) != TL_OK) {
		fprintf(stderr, "bench_jspub: waiting for acks: %s\n", tl_strerror(e));
		goto out;
	}
	t1 = now();
	printf("jspub msgs=%llu bytes=%llu seconds=%.3f rate=%.0f failed=%llu\n", (unsigned long long)count,
	       (unsigned long long)bytes, t1 - t0, (double)count / (t1 - t0), (unsigned long long)failed);
	rc = failed ? 1 : 0;
out:
	free(payload);
	bus_close(b);
	secret_free(pw);
	bus_shutdown();
	return rc;
}
