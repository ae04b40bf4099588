/* Unit tests for the schema-driven config loader and key file checks. */
#include "compat.h"

#include <setjmp.h>
#include <cmocka.h>

#include "cfg.h"
#include "secret.h"

#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

struct conf {
	char *name;
	int64_t port;
	bool verbose;
	char *key;
	char *db;
};

static const struct cfg_key schema[] = {
	{ "svc", "name", CFG_STR, "tipline", offsetof(struct conf, name), 0, 0 },
	{ "svc", "port", CFG_INT, "8080", offsetof(struct conf, port), 1, 65535 },
	{ "svc", "verbose", CFG_BOOL, "false", offsetof(struct conf, verbose), 0, 0 },
	{ "svc", "key", CFG_SECRET_FILE, NULL, offsetof(struct conf, key), 0, 0 },
	{ "svc", "db", CFG_PATH, "data/x.db", offsetof(struct conf, db), 0, 0 },
};

static char dir[256];

static void
write_file(const char *name, const char *content, mode_t mode)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	unlink(p);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	chmod(p, mode);
}

static enum tl_err
load(const char *ini, struct conf *c, char *err, size_t errlen)
{
	char p[512];

	write_file("t.ini", ini, 0600);
	snprintf(p, sizeof(p), "%s/t.ini", dir);
	memset(c, 0, sizeof(*c));
	return cfg_load(p, schema, TL_ARRAY_LEN(schema), c, err, errlen);
}

static int
setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/tl-cfg-test-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	write_file("k.key", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 0600);
	return 0;
}

static int
teardown(void **state)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/t.ini", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/k.key", dir);
	unlink(p);
	rmdir(dir);
	return 0;
}

static void
test_good_and_defaults(void **state)
{
	struct conf c;
	char err[512], want[512];

	assert_int_equal(load("[svc]\nkey = k.key\nport = 9000\nverbose = yes\n", &c, err, sizeof(err)), TL_OK);
	assert_string_equal(c.name, "tipline");
	assert_int_equal(c.port, 9000);
	assert_true(c.verbose);
	/* Relative paths resolve against the config file's folder. */
	snprintf(want, sizeof(want), "%s/k.key", dir);
	assert_string_equal(c.key, want);
	snprintf(want, sizeof(want), "%s/data/x.db", dir);
	assert_string_equal(c.db, want);
	cfg_free(schema, TL_ARRAY_LEN(schema), &c);
	assert_null(c.name);
}

static void
test_errors(void **state)
{
	struct conf c;
	char err[512];

	assert_int_equal(load("[svc]\nkey = k.key\nbogus = 1\n", &c, err, sizeof(err)), TL_ECONFIG);
	assert_non_null(strstr(err, "unknown key \"bogus\""));
	assert_non_null(strstr(err, ":3:"));

	assert_int_equal(load("[other]\nkey = k.key\n", &c, err, sizeof(err)), TL_ECONFIG);
	assert_non_null(strstr(err, "unknown key"));

	assert_int_equal(load("[svc]\nport = 80\n", &c, err, sizeof(err)), TL_ECONFIG);
	assert_non_null(strstr(err, "missing required key \"key\""));

	assert_int_equal(load("[svc]\nkey = k.key\nport = 0\n", &c, err, sizeof(err)), TL_ECONFIG);
	assert_non_null(strstr(err, "whole number"));

	assert_int_equal(load("[svc]\nkey = k.key\nport = 80x\n", &c, err, sizeof(err)), TL_ECONFIG);
	assert_int_equal(load("[svc]\nkey = k.key\nverbose = maybe\n", &c, err, sizeof(err)), TL_ECONFIG);
	assert_non_null(strstr(err, "true or false"));

	assert_int_equal(load("[svc]\nkey = k.key\nkey = k.key\n", &c, err, sizeof(err)), TL_ECONFIG);
	assert_non_null(strstr(err, "set twice"));

	assert_int_equal(load("[svc]\nkey = missing.key\n", &c, err, sizeof(err)), TL_ECONFIG);
	assert_non_null(strstr(err, "missing.key"));

	assert_int_equal(load("[svc\nkey = k.key\n", &c, err, sizeof(err)), TL_ECONFIG);
}

static void
test_secret_file_permissions(void **state)
{
	struct conf c;
	char err[512], p[512];
	unsigned char *k = NULL;

	/* A key file that group or others can read is refused. */
	write_file("k.key", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 0644);
	assert_int_equal(load("[svc]\nkey = k.key\n", &c, err, sizeof(err)), TL_ECONFIG);
	assert_non_null(strstr(err, "chmod 600"));
	snprintf(p, sizeof(p), "%s/k.key", dir);
	assert_int_equal(secret_load(p, 32, &k, err, sizeof(err)), TL_EDENIED);

	write_file("k.key", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 0600);
	assert_int_equal(secret_load(p, 32, &k, err, sizeof(err)), TL_OK);
	assert_int_equal(k[1], 0x11);
	secret_free(k);

	/* Wrong length and non-hex are clear errors. */
	write_file("k.key", "0011\n", 0600);
	assert_int_equal(secret_load(p, 32, &k, err, sizeof(err)), TL_EINVAL);
	assert_non_null(strstr(err, "64 hex"));

	/* A symlink to a key is refused (O_NOFOLLOW). */
	{
		char l[512];
		write_file("k.key", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 0600);
		snprintf(l, sizeof(l), "%s/link.key", dir);
		unlink(l);
		assert_int_equal(symlink(p, l), 0);
		assert_int_not_equal(secret_load(l, 32, &k, err, sizeof(err)), TL_OK);
		unlink(l);
	}
}

static void
test_key_write(void **state)
{
	char p[512], err[256];
	unsigned char in[32], *out = NULL;
	struct stat st;

	randombytes_buf(in, sizeof(in));
	snprintf(p, sizeof(p), "%s/w.key", dir);
	unlink(p);
	assert_int_equal(key_write(p, in, sizeof(in), 0600), TL_OK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Never overwrites. */
	assert_int_equal(key_write(p, in, sizeof(in), 0600), TL_EEXIST);
	assert_int_equal(secret_load(p, 32, &out, err, sizeof(err)), TL_OK);
	assert_memory_equal(in, out, 32);
	secret_free(out);
	unlink(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_and_defaults),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_secret_file_permissions),
		cmocka_unit_test(test_key_write),
	};

	if (secret_init() != TL_OK)
		return 1;
	return cmocka_run_group_tests(tests, setup, teardown);
}
