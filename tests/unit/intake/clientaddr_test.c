/*
 * clientaddr_test.c - which address a request is rate-limited under behind
 * a reverse proxy: the trusted_proxies list as configured (good and bad
 * values), and X-Forwarded-For honoured only from a trusted peer, walked
 * from the right, never trusting a spoofed or malformed entry, bounded on
 * long headers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "compat.h"
#include "clientaddr.h"
#include "config.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

static struct clientaddr
addr(const char *s)
{
	struct clientaddr a;

	assert_true(clientaddr_parse(s, strlen(s), &a));
	return a;
}

static void
trust(struct clientaddr_trust *t, const char *list)
{
	char err[160] = "";

	if (clientaddr_trust_parse(list, t, err, sizeof(err)) != TL_OK)
		fail_msg("trust list \"%s\" refused: %s", list, err);
}

/* The address derived for peer/xff, as text, compared with want. */
static void
derive(const struct clientaddr_trust *t, const char *peer, const char *xff, const char *want)
{
	struct clientaddr p = addr(peer), out;
	char text[64] = "?";

	clientaddr_derive(t, p.addr, p.len, xff, &out);
	assert_true(out.len == 4 || out.len == 16);
	inet_ntop(out.len == 4 ? AF_INET : AF_INET6, out.addr, text, sizeof(text));
	if (strcmp(text, want) != 0)
		fail_msg("peer %s, X-Forwarded-For \"%s\": got %s, want %s", peer, xff ? xff : "(none)",
		         text, want);
}

static void
test_parse_list(void **state)
{
	struct clientaddr_trust t;
	struct clientaddr a;
	char err[160], big[4096];
	size_t n = 0;

	(void)state;
	trust(&t, "");
	assert_int_equal(t.n, 0);
	trust(&t, "   ");
	assert_int_equal(t.n, 0);
	trust(&t, "127.0.0.1");
	assert_int_equal(t.n, 1);
	a = addr("127.0.0.1");
	assert_int_equal(t.proxy[0].len, 4);
	assert_memory_equal(t.proxy[0].addr, a.addr, 4);
	trust(&t, " 127.0.0.1 ,::1,\t10.1.2.3 ");
	assert_int_equal(t.n, 3);
	assert_int_equal(t.proxy[1].len, 16);
	/* A mapped address is the IPv4 address it maps. */
	trust(&t, "::ffff:127.0.0.1");
	assert_int_equal(t.proxy[0].len, 4);
	assert_memory_equal(t.proxy[0].addr, a.addr, 4);

	const char *bad[] = { "localhost", "127.0.0.1,", ",127.0.0.1", "127.0.0.1,,::1",
		              "127.0.0.1/8", "127.0.0.1:80", "[::1]", "fe80::1%eth0",
		              "256.0.0.1", "1.2.3", "127.0.0.1 10.0.0.1" };
	for (size_t i = 0; i < TL_ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		if (clientaddr_trust_parse(bad[i], &t, err, sizeof(err)) != TL_EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(t.n, 0);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(clientaddr_trust_parse("127.0.0.1, nope", &t, err, sizeof(err)), TL_EINVAL);
	assert_non_null(strstr(err, "\"nope\""));

	/* Bounded: one more than the limit is refused, the limit is not. */
	for (int i = 0; i < CLIENTADDR_MAX_PROXIES; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s10.0.0.%d", i ? "," : "", i + 1);
	trust(&t, big);
	assert_int_equal(t.n, CLIENTADDR_MAX_PROXIES);
	snprintf(big + n, sizeof(big) - n, ",10.0.1.1");
	assert_int_equal(clientaddr_trust_parse(big, &t, err, sizeof(err)), TL_EINVAL);
	assert_non_null(strstr(err, "more than"));
}

static void
test_untrusted_peer(void **state)
{
	struct clientaddr_trust none, t;

	(void)state;
	trust(&none, "");
	trust(&t, "127.0.0.1");
	/* Nobody trusted: the header never counts. */
	derive(&none, "127.0.0.1", "1.2.3.4", "127.0.0.1");
	/* A client straight on the socket cannot pick its own bucket. */
	derive(&t, "9.9.9.9", "1.2.3.4", "9.9.9.9");
	derive(&t, "9.9.9.9", "127.0.0.1", "9.9.9.9");
	derive(&none, "2001:db8::9", "1.2.3.4", "2001:db8::9");
}

static void
test_trusted_peer(void **state)
{
	struct clientaddr_trust t;

	(void)state;
	trust(&t, "127.0.0.1, ::1");
	derive(&t, "127.0.0.1", NULL, "127.0.0.1");
	derive(&t, "127.0.0.1", "1.2.3.4", "1.2.3.4");
	derive(&t, "127.0.0.1", "1.2.3.4, 127.0.0.1", "1.2.3.4");
	derive(&t, "127.0.0.1", "1.2.3.4,127.0.0.1,::1", "1.2.3.4");
	/* What the client itself wrote is left of its address: ignored. */
	derive(&t, "127.0.0.1", "6.6.6.6, 1.2.3.4", "1.2.3.4");
	derive(&t, "127.0.0.1", "127.0.0.1, 1.2.3.4", "1.2.3.4");
	derive(&t, "127.0.0.1", "garbage, x, 1.2.3.4", "1.2.3.4");
	derive(&t, "127.0.0.1", ", 1.2.3.4", "1.2.3.4");
	/* Spaces and tabs around entries. */
	derive(&t, "127.0.0.1", "  1.2.3.4  ", "1.2.3.4");
	derive(&t, "127.0.0.1", "6.6.6.6 ,\t1.2.3.4\t, 127.0.0.1 ", "1.2.3.4");
	/* IPv6 clients and an IPv6 proxy. */
	derive(&t, "::1", "2001:db8::1", "2001:db8::1");
	derive(&t, "127.0.0.1", "2001:db8::1, ::1", "2001:db8::1");
	/* A dual-stack listener sees the proxy as a mapped address; the
	 * client's mapped form is its IPv4 bucket. */
	derive(&t, "::ffff:127.0.0.1", "::ffff:1.2.3.4", "1.2.3.4");
}

static void
test_garbage_is_the_peer(void **state)
{
	struct clientaddr_trust t;

	(void)state;
	trust(&t, "127.0.0.1");
	derive(&t, "127.0.0.1", "x", "127.0.0.1");
	derive(&t, "127.0.0.1", "", "127.0.0.1");
	derive(&t, "127.0.0.1", "   ", "127.0.0.1");
	derive(&t, "127.0.0.1", "1.2.3.4,", "127.0.0.1");
	derive(&t, "127.0.0.1", "1.2.3.4, , 127.0.0.1", "127.0.0.1");
	derive(&t, "127.0.0.1", "1.2.3.4, x", "127.0.0.1");
	derive(&t, "127.0.0.1", "1.2.3.4:5678", "127.0.0.1");
	derive(&t, "127.0.0.1", "[2001:db8::1]", "127.0.0.1");
	derive(&t, "127.0.0.1", "unknown", "127.0.0.1");
	derive(&t, "127.0.0.1", "1.2.3.4 5.6.7.8", "127.0.0.1");
	/* Only our own proxies in the chain: nobody else to blame. */
	derive(&t, "127.0.0.1", "127.0.0.1", "127.0.0.1");
	derive(&t, "127.0.0.1", "127.0.0.1, 127.0.0.1", "127.0.0.1");
}

static void
test_bounded(void **state)
{
	struct clientaddr_trust t;
	size_t cap = 256 * 1024, n = 0;
	char *h = malloc(cap);

	(void)state;
	assert_non_null(h);
	trust(&t, "127.0.0.1");

	/* A huge header of client-written junk: only the right end counts. */
	memset(h, 'a', cap - 64);
	n = cap - 64;
	snprintf(h + n, cap - n, ", 1.2.3.4");
	derive(&t, "127.0.0.1", h, "1.2.3.4");
	/* One overlong entry, no commas at all. */
	memset(h, '1', cap - 1);
	h[cap - 1] = '\0';
	derive(&t, "127.0.0.1", h, "127.0.0.1");
	/* An address padded past any textual address length. */
	snprintf(h, cap, "0000000000000000000000000000000000000000000001.2.3.4");
	derive(&t, "127.0.0.1", h, "127.0.0.1");

	/* Many entries: the client is found at the right end... */
	n = 0;
	for (int i = 0; i < 10000; i++)
		n += (size_t)snprintf(h + n, cap - n, "%d.%d.%d.%d, ", i & 255, (i >> 8) & 255, 1, 1);
	snprintf(h + n, cap - n, "1.2.3.4");
	derive(&t, "127.0.0.1", h, "1.2.3.4");
	/* ...and a chain of trusted hops longer than the walk's bound falls
	 * back to the peer instead of reaching the spoofable left end. */
	n = (size_t)snprintf(h, cap, "6.6.6.6");
	for (int i = 0; i < CLIENTADDR_MAX_HOPS; i++)
		n += (size_t)snprintf(h + n, cap - n, ", 127.0.0.1");
	derive(&t, "127.0.0.1", h, "127.0.0.1");
	/* One hop fewer is within the bound. */
	n = (size_t)snprintf(h, cap, "6.6.6.6");
	for (int i = 0; i < CLIENTADDR_MAX_HOPS - 1; i++)
		n += (size_t)snprintf(h + n, cap - n, ", 127.0.0.1");
	derive(&t, "127.0.0.1", h, "6.6.6.6");
	free(h);
}

/* A peer without an address (no socket address from the server) stays
 * without one and is never matched against the list. */
static void
test_no_peer(void **state)
{
	struct clientaddr_trust t;
	struct clientaddr out;

	(void)state;
	trust(&t, "127.0.0.1");
	clientaddr_derive(&t, NULL, 0, "1.2.3.4", &out);
	assert_int_equal(out.len, 0);
}

/* intake_cfg_load: the key's default, a good value installed for the
 * handler, a bad value refused naming the key. */
static void
write_cfg(const char *dir, const char *ini, const char *extra)
{
	FILE *f = fopen(ini, "w");

	assert_non_null(f);
	fprintf(f, "[intake]\nvault_public_key = %s/vault.pub\nintake_key = %s/intake.key\n"
	           "gazetteer = %s/gaz.tsv\n%s[nats]\npassword_file = %s/nats.pw\n",
	        dir, dir, dir, extra, dir);
	fclose(f);
}

static void
test_config(void **state)
{
	char dir[] = "/tmp/clientaddr_test.XXXXXX", ini[128], p[128], err[512];
	const char *files[] = { "vault.pub", "intake.key", "gaz.tsv", "nats.pw" };
	struct intake_cfg c;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	for (size_t i = 0; i < TL_ARRAY_LEN(files); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		assert_non_null(f = fopen(p, "w"));
		fputs("x\n", f);
		fclose(f);
		assert_int_equal(chmod(p, 0600), 0);
	}
	snprintf(ini, sizeof(ini), "%s/intake.ini", dir);

	write_cfg(dir, ini, "");
	if (intake_cfg_load(ini, &c, err, sizeof(err)) != TL_OK)
		fail_msg("%s", err);
	assert_int_equal(c.trusted.n, 0);
	intake_cfg_free(&c);

	write_cfg(dir, ini, "trusted_proxies = 127.0.0.1, ::1\n");
	if (intake_cfg_load(ini, &c, err, sizeof(err)) != TL_OK)
		fail_msg("%s", err);
	assert_int_equal(c.trusted.n, 2);
	derive(&c.trusted, "::1", "1.2.3.4", "1.2.3.4");
	intake_cfg_free(&c);

	write_cfg(dir, ini, "trusted_proxies = 127.0.0.1, nginx\n");
	assert_int_equal(intake_cfg_load(ini, &c, err, sizeof(err)), TL_EINVAL);
	assert_non_null(strstr(err, "trusted_proxies"));
	assert_non_null(strstr(err, "nginx"));

	for (size_t i = 0; i < TL_ARRAY_LEN(files); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	unlink(ini);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_list),
		cmocka_unit_test(test_untrusted_peer),
		cmocka_unit_test(test_trusted_peer),
		cmocka_unit_test(test_garbage_is_the_peer),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_no_peer),
		cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
