/*
 * tipline stream-dump: prints every stored message of a stream, one per
 * line as "<seq> <subject> <data>".  For operators inspecting what a
 * stream really holds, and for the canary tests, which scan every stream's
 * raw data for planted identities.
 */
#include "compat.h"
#include "bus.h"
#include "cli.h"
#include "secret.h"

#include <getopt.h>

int
cmd_stream_dump(int argc, char **argv)
{
	const char *url = "nats://127.0.0.1:4222", *user = NULL, *pwfile = NULL, *stream = NULL;
	struct bus_opts o = { 0 };
	struct bus *b = NULL;
	struct buf data;
	char *pw = NULL, why[512], subj[256];
	uint64_t msgs, first, last;
	int c, rc = 1;
	enum tl_err e;

	while ((c = getopt(argc, argv, "s:u:p:h")) != -1) {
		switch (c) {
		case 's': url = optarg; break;
		case 'u': user = optarg; break;
		case 'p': pwfile = optarg; break;
		default:
			fprintf(stderr, "usage: tipline stream-dump [-s URL] [-u USER -p PASSWORD_FILE] STREAM\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: tipline stream-dump [-s URL] [-u USER -p PASSWORD_FILE] STREAM\n");
		return 2;
	}
	stream = argv[optind];
	if (pwfile && secret_load_text(pwfile, &pw, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "tipline stream-dump: %s\n", why);
		return 1;
	}
	o.url = url;
	o.user = user;
	o.password = pw;
	o.name = "tipline-stream-dump";
	buf_init(&data, 2 * 1024 * 1024);
	if ((e = bus_connect(&o, &b)) != TL_OK) {
		fprintf(stderr, "tipline stream-dump: connect %s: %s\n", url, tl_strerror(e));
		goto out;
	}
	if ((e = bus_stream_info(b, stream, &msgs, &first, &last)) != TL_OK) {
		fprintf(stderr, "tipline stream-dump: stream %s: %s\n", stream, tl_strerror(e));
		goto out;
	}
	for (uint64_t seq = first; msgs > 0 && seq <= last; seq++) {
		e = bus_stream_get(b, stream, seq, &data, subj, sizeof(subj));
		if (e == TL_ENOTFOUND)
			continue; /* acked out of a work queue, or deleted */
		if (e != TL_OK) {
			fprintf(stderr, "tipline stream-dump: seq %llu: %s\n", (unsigned long long)seq,
			        tl_strerror(e));
			goto out;
		}
		printf("%llu %s %s\n", (unsigned long long)seq, subj, buf_str(&data));
	}
	rc = 0;
out:
	buf_free(&data);
	bus_close(b);
	secret_free(pw);
	bus_shutdown();
	return rc;
}
