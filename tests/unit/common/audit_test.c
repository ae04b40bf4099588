/* Unit tests for common/audit.c: the hash-chained, signed audit log. */
#include "compat.h"

#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "buf.h"
#include "secret.h"

struct fx {
	char dir[64];
	char path[128];
	unsigned char pk[AUDIT_PK_BYTES];
	unsigned char *sk;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || secret_init() != TL_OK)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/tl-audit-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/vault.audit", f->dir);
	if (!(f->sk = sodium_malloc(AUDIT_SK_BYTES)))
		return -1;
	crypto_sign_keypair(f->pk, f->sk);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[160];

	unlink(f->path);
	snprintf(p, sizeof(p), "%s/copy", f->dir);
	unlink(p);
	rmdir(f->dir);
	secret_free(f->sk);
	free(f);
	return 0;
}

static void
append_n(struct fx *f, int n)
{
	struct audit *a = NULL;
	char obj[64];

	assert_int_equal(audit_open(f->path, "vault", f->sk, &a), TL_OK);
	for (int i = 0; i < n; i++) {
		snprintf(obj, sizeof(obj), "payout:%032x", (unsigned)i);
		assert_int_equal(audit_append(a, "li.ming", i % 2 ? "approve" : "reveal", obj,
		                              i % 3 ? NULL : "dual_ok"), TL_OK);
	}
	audit_close(a);
}

static char *
slurp(const char *path, size_t *len)
{
	struct buf b;
	FILE *fp = fopen(path, "rb");

	assert_non_null(fp);
	buf_init(&b, 1 << 22);
	assert_int_equal(buf_read_file(&b, fp), TL_OK);
	fclose(fp);
	return buf_detach(&b, len);
}

static void
spill(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Offset of the start of 1-based line n. */
static size_t
line_off(const char *d, size_t len, int n)
{
	size_t off = 0;

	for (int i = 1; i < n; i++) {
		const char *nl = memchr(d + off, '\n', len - off);
		assert_non_null(nl);
		off = (size_t)(nl - d) + 1;
	}
	return off;
}

static size_t
line_len(const char *d, size_t len, size_t off)
{
	const char *nl = memchr(d + off, '\n', len - off);

	assert_non_null(nl);
	return (size_t)(nl - d) - off + 1; /* with the LF */
}

static void
expect_break(struct fx *f, enum audit_fault fault, uint64_t entry)
{
	struct audit_report r;

	assert_int_equal(audit_verify(f->path, f->pk, &r), TL_EPROTO);
	if (r.fault != fault || r.bad_entry != entry)
		fail_msg("expected %s at %llu, got %s at %llu (line %llu): %s", audit_fault_str(fault),
		         (unsigned long long)entry, audit_fault_str(r.fault),
		         (unsigned long long)r.bad_entry, (unsigned long long)r.bad_line, r.why);
	assert_int_equal(r.bad_line, entry);
	assert_int_equal(r.entries, entry - 1);
}

static void
test_append_verify(void **state)
{
	struct fx *f = *state;
	struct audit_report r;
	char *d;
	size_t len;

	append_n(f, 100);
	assert_int_equal(audit_verify(f->path, f->pk, &r), TL_OK);
	assert_int_equal(r.entries, 100);
	assert_int_equal(r.fault, AUDIT_FAULT_NONE);
	assert_int_equal(strlen(r.head), AUDIT_HASH_HEX);
	/* The memory verifier agrees, and the head is the last line's hash. */
	d = slurp(f->path, &len);
	assert_int_equal(audit_verify_mem(d, len, f->pk, &r), TL_OK);
	assert_int_equal(r.entries, 100);
	assert_non_null(strstr(d + line_off(d, len, 100), r.head));
	free(d);
}

static void
test_empty_chain(void **state)
{
	struct fx *f = *state;
	struct audit_report r;

	spill(f->path, "", 0);
	assert_int_equal(audit_verify(f->path, f->pk, &r), TL_OK);
	assert_int_equal(r.entries, 0);
	assert_int_equal(audit_verify("/nonexistent/x.audit", f->pk, &r), TL_ENOTFOUND);
}

static void
test_flip_byte(void **state)
{
	struct fx *f = *state;
	/* Field positions inside line 40: somewhere in actor, prev, hash, sig. */
	static const struct { int field; enum audit_fault fault; } cases[] = {
		{ 4, AUDIT_FAULT_HASH }, { 8, AUDIT_FAULT_PREV }, { 9, AUDIT_FAULT_HASH },
		{ 10, AUDIT_FAULT_SIG },
	};
	char *orig;
	size_t len;

	append_n(f, 100);
	orig = slurp(f->path, &len);
	for (size_t c = 0; c < TL_ARRAY_LEN(cases); c++) {
		char *d = malloc(len);
		size_t off = line_off(orig, len, 40);
		int tabs = 0;

		memcpy(d, orig, len);
		while (tabs < cases[c].field)
			if (d[off++] == '\t')
				tabs++;
		/* A byte that stays in the field's alphabet, so it still parses. */
		d[off + 1] = d[off + 1] == 'a' ? 'b' : 'a';
		spill(f->path, d, len);
		expect_break(f, cases[c].fault, 40);
		free(d);
	}
	/* A byte outside the alphabet is a parse error at that entry. */
	{
		char *d = malloc(len);
		size_t off = line_off(orig, len, 55);
		memcpy(d, orig, len);
		d[off + 20] = (char)0xe4;
		spill(f->path, d, len);
		expect_break(f, AUDIT_FAULT_PARSE, 55);
		free(d);
	}
	free(orig);
}

static void
test_delete_entry(void **state)
{
	struct fx *f = *state;
	char *d;
	size_t len, off, ll;

	append_n(f, 100);
	d = slurp(f->path, &len);
	off = line_off(d, len, 50);
	ll = line_len(d, len, off);
	memmove(d + off, d + off + ll, len - off - ll);
	spill(f->path, d, len - ll);
	expect_break(f, AUDIT_FAULT_SEQ, 50);
	free(d);
}

static void
test_reorder(void **state)
{
	struct fx *f = *state;
	char *d, *o;
	size_t len, a, la, lb;

	append_n(f, 100);
	d = slurp(f->path, &len);
	o = malloc(len);
	memcpy(o, d, len);
	a = line_off(d, len, 30);
	la = line_len(d, len, a);
	lb = line_len(d, len, a + la);
	memcpy(d + a, o + a + la, lb);
	memcpy(d + a + lb, o + a, la);
	spill(f->path, d, len);
	expect_break(f, AUDIT_FAULT_SEQ, 30);
	free(o);
	free(d);
}

static void
test_truncated(void **state)
{
	struct fx *f = *state;
	struct audit *a = NULL;
	char *d;
	size_t len;

	append_n(f, 10);
	d = slurp(f->path, &len);
	spill(f->path, d, len - 30);
	expect_break(f, AUDIT_FAULT_TRUNCATED, 10);
	/* audit_open refuses to append after a torn line. */
	assert_int_equal(audit_open(f->path, "vault", f->sk, &a), TL_EPROTO);
	assert_null(a);
	/* Only the LF missing: still truncated. */
	spill(f->path, d, len - 1);
	expect_break(f, AUDIT_FAULT_TRUNCATED, 10);
	free(d);
}

static void
test_too_long(void **state)
{
	struct fx *f = *state;
	struct buf b;
	char *d;
	size_t len;

	append_n(f, 3);
	d = slurp(f->path, &len);
	buf_init(&b, 1 << 16);
	assert_int_equal(buf_append(&b, d, len), TL_OK);
	for (int i = 0; i < 2000; i++)
		assert_int_equal(buf_append_char(&b, 'x'), TL_OK);
	assert_int_equal(buf_append_char(&b, '\n'), TL_OK);
	spill(f->path, b.data, b.len);
	expect_break(f, AUDIT_FAULT_TOOLONG, 4);
	buf_free(&b);
	free(d);
}

static void
test_wrong_key(void **state)
{
	struct fx *f = *state;
	unsigned char pk2[AUDIT_PK_BYTES], *sk2 = sodium_malloc(AUDIT_SK_BYTES);
	struct audit *a = NULL;

	assert_non_null(sk2);
	crypto_sign_keypair(pk2, sk2);
	append_n(f, 5);
	{
		struct audit_report r;
		assert_int_equal(audit_verify(f->path, pk2, &r), TL_EPROTO);
		assert_int_equal(r.fault, AUDIT_FAULT_SIG);
		assert_int_equal(r.bad_entry, 1);
	}
	/* Appending with another key to this chain is refused. */
	assert_int_equal(audit_open(f->path, "vault", sk2, &a), TL_EPROTO);
	secret_free(sk2);
}

static void
test_reopen_continue(void **state)
{
	struct fx *f = *state;
	struct audit_report r;
	struct audit *a = NULL, *b = NULL;

	append_n(f, 7);
	assert_int_equal(audit_open(f->path, "vault", f->sk, &a), TL_OK);
	assert_int_equal(audit_seq(a), 7);
	/* A second writer on the same chain is refused while a holds it. */
	assert_int_equal(audit_open(f->path, "vault", f->sk, &b), TL_EUNAVAIL);
	assert_int_equal(audit_append(a, "system", "login", "user:li.ming", "bad_pw"), TL_OK);
	audit_close(a);
	append_n(f, 5);
	assert_int_equal(audit_verify(f->path, f->pk, &r), TL_OK);
	assert_int_equal(r.entries, 13);
}

static void
test_field_rules(void **state)
{
	struct fx *f = *state;
	struct audit *a = NULL;
	char big[AUDIT_OBJECT_MAX + 2];

	assert_int_equal(audit_open(f->path, "has space", f->sk, &a), TL_EINVAL);
	assert_int_equal(audit_open(f->path, "vault", f->sk, &a), TL_OK);
	assert_int_equal(audit_append(a, "李明", "approve", "payout:1", NULL), TL_EINVAL);
	assert_int_equal(audit_append(a, "li", "approve", "tip text here", NULL), TL_EINVAL);
	assert_int_equal(audit_append(a, "li", "approve\t", "payout:1", NULL), TL_EINVAL);
	assert_int_equal(audit_append(a, "li", "approve", "payout:1\n", NULL), TL_EINVAL);
	assert_int_equal(audit_append(a, "", "approve", "payout:1", NULL), TL_EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(audit_append(a, "li", "approve", big, NULL), TL_ETOOBIG);
	big[AUDIT_OBJECT_MAX] = '\0';
	assert_int_equal(audit_append(a, "li", "approve", big, "r"), TL_OK);
	assert_int_equal(audit_seq(a), 1);
	audit_close(a);
}

static void
test_parse_strict(void **state)
{
	struct audit_entry *e = malloc(sizeof(*e));
	char why[96];
	static const char z[] = "0000000000000000000000000000000000000000000000000000000000000000";
	char line[AUDIT_LINE_MAX + 1], sig[129];

	memset(sig, 'a', 128);
	sig[128] = '\0';
	snprintf(line, sizeof(line), "tla1\t1\t2026-11-27T08:52:01.123Z\tvault\tli\tapprove\tp:1\t-\t%s\t%s\t%s",
	         z, z, sig);
	assert_int_equal(audit_parse_line(line, strlen(line), e, why, sizeof(why)), TL_OK);
	assert_int_equal(e->seq, 1);
	assert_string_equal(e->actor, "li");
	assert_string_equal(e->reason, "-");
	/* leading zero, seconds without millis, uppercase hex, extra field */
	snprintf(line, sizeof(line), "tla1\t01\t2026-11-27T08:52:01.123Z\tvault\tli\tapprove\tp:1\t-\t%s\t%s\t%s",
	         z, z, sig);
	assert_int_equal(audit_parse_line(line, strlen(line), e, why, sizeof(why)), TL_EPROTO);
	snprintf(line, sizeof(line), "tla1\t1\t2026-11-27T08:52:01Z\tvault\tli\tapprove\tp:1\t-\t%s\t%s\t%s",
	         z, z, sig);
	assert_int_equal(audit_parse_line(line, strlen(line), e, why, sizeof(why)), TL_EPROTO);
	memset(sig, 'A', 128);
	snprintf(line, sizeof(line), "tla1\t1\t2026-11-27T08:52:01.123Z\tvault\tli\tapprove\tp:1\t-\t%s\t%s\t%s",
	         z, z, sig);
	assert_int_equal(audit_parse_line(line, strlen(line), e, why, sizeof(why)), TL_EPROTO);
	memset(sig, 'a', 128);
	snprintf(line, sizeof(line), "tla1\t1\t2026-11-27T08:52:01.123Z\tvault\tli\tapprove\tp:1\t-\t%s\t%s\t%s\tx",
	         z, z, sig);
	assert_int_equal(audit_parse_line(line, strlen(line), e, why, sizeof(why)), TL_EPROTO);
	assert_string_equal(why, "too many fields");
	snprintf(line, sizeof(line), "tla1\t1\t2026-11-27T08:52:01.123Z\tvault\t\tapprove\tp:1\t-\t%s\t%s\t%s",
	         z, z, sig);
	assert_int_equal(audit_parse_line(line, strlen(line), e, why, sizeof(why)), TL_EPROTO);
	free(e);
}

struct worker {
	struct audit *a;
	int id;
	int fails;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	char actor[32], obj[64];

	snprintf(actor, sizeof(actor), "staff%d", w->id);
	for (int i = 0; i < 50; i++) {
		snprintf(obj, sizeof(obj), "payout:%d-%d", w->id, i);
		if (audit_append(w->a, actor, "confirm", obj, NULL) != TL_OK)
			w->fails++;
	}
	return NULL;
}

static void
test_concurrent(void **state)
{
	struct fx *f = *state;
	struct audit_report r;
	struct audit *a = NULL;
	pthread_t th[4];
	struct worker w[4];

	assert_int_equal(audit_open(f->path, "payouts", f->sk, &a), TL_OK);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .a = a, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].fails, 0);
	}
	assert_int_equal(audit_seq(a), 200);
	audit_close(a);
	assert_int_equal(audit_verify(f->path, f->pk, &r), TL_OK);
	assert_int_equal(r.entries, 200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flip_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reorder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_continue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_field_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_strict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
