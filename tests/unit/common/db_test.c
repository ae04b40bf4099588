/*
 * db_test.c - the SQLCipher opener: keys, refusals, pragmas, migrations.
 */
#include <sqlite3.h>

#include "compat.h"
#include "db.h"
#include "log.h"

#include <setjmp.h>
#include <cmocka.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
	char dir[64];
	char path[128];
	unsigned char key[DB_KEY_LEN];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/tl_db_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/t.db", f->dir);
	randombytes_buf(f->key, sizeof(f->key));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char p[160];
	const char *sfx[] = { "", "-wal", "-shm", "-journal" };

	for (size_t i = 0; i < TL_ARRAY_LEN(sfx); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static const struct db_migration steps[] = {
	{ "notes table", "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE);" },
	{ "notes index", "CREATE INDEX notes_body ON notes(body);" },
	{ "tags table", "CREATE TABLE tags(note INTEGER NOT NULL REFERENCES notes(id), tag TEXT);" },
};

static void
insert_note(struct db *db, const char *body, enum tl_err want)
{
	struct db_stmt *st;

	assert_int_equal(db_prepare(db, "INSERT INTO notes(body) VALUES (?1);", &st), TL_OK);
	assert_int_equal(db_bind_text(st, 1, body), TL_OK);
	assert_int_equal(db_step(st, NULL), want);
	db_finalize(st);
}

static int64_t
count_notes(struct db *db)
{
	struct db_stmt *st;
	bool row;
	int64_t n;

	assert_int_equal(db_prepare(db, "SELECT count(*) FROM notes;", &st), TL_OK);
	assert_int_equal(db_step(st, &row), TL_OK);
	assert_true(row);
	n = db_col_int64(st, 0);
	db_finalize(st);
	return n;
}

static void
test_create_and_reopen(void **state)
{
	struct fx *f = *state;
	struct db *db = NULL;
	struct stat st;
	int v = -1;

	assert_int_equal(db_open(f->path, f->key, 0, &db), TL_ENOTFOUND);
	assert_int_equal(db_open(f->path, f->key, DB_CREATE, &db), TL_OK);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(db_migrate(db, "test", steps, 2, &v), TL_OK);
	assert_int_equal(v, 2);
	assert_int_equal(db_begin(db), TL_OK);
	insert_note(db, "first", TL_OK);
	insert_note(db, "second", TL_OK);
	assert_int_equal(db_commit(db), TL_OK);
	db_close(db);

	db = NULL;
	assert_int_equal(db_open(f->path, f->key, 0, &db), TL_OK);
	assert_int_equal(count_notes(db), 2);
	db_close(db);
}

static void
test_wrong_key(void **state)
{
	struct fx *f = *state;
	unsigned char other[DB_KEY_LEN];
	struct db *db = NULL;

	assert_int_equal(db_open(f->path, f->key, DB_CREATE, &db), TL_OK);
	assert_int_equal(db_migrate(db, "test", steps, 1, NULL), TL_OK);
	db_close(db);
	memcpy(other, f->key, sizeof(other));
	other[7] ^= 0x01;
	db = NULL;
	assert_int_equal(db_open(f->path, other, 0, &db), TL_ECRYPTO);
	assert_null(db);
	/* Still fine with the right key afterwards. */
	assert_int_equal(db_open(f->path, f->key, 0, &db), TL_OK);
	db_close(db);
}

static void
test_plaintext_refused(void **state)
{
	struct fx *f = *state;
	struct db *db = NULL;
	sqlite3 *h = NULL;

	/* An unkeyed SQLCipher connection writes an ordinary SQLite file. */
	assert_int_equal(sqlite3_open(f->path, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "CREATE TABLE t(x); INSERT INTO t VALUES ('plain');", NULL,
	                              NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(db_open(f->path, f->key, DB_CREATE, &db), TL_EDENIED);
	assert_null(db);
}

static void
test_not_a_database(void **state)
{
	struct fx *f = *state;
	struct db *db = NULL;
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	for (int i = 0; i < 4096; i++)
		fputc(i * 7, fp);
	fclose(fp);
	assert_int_equal(db_open(f->path, f->key, 0, &db), TL_ECRYPTO);
}

/* True if needle occurs anywhere in the file. */
static bool
file_contains(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "rb");
	size_t nl = strlen(needle), n;
	char *data;
	bool found = false;

	if (!fp)
		return false;
	data = malloc(16 << 20);
	assert_non_null(data);
	n = fread(data, 1, 16 << 20, fp);
	fclose(fp);
	for (size_t i = 0; i + nl <= n && !found; i++)
		found = memcmp(data + i, needle, nl) == 0;
	free(data);
	return found;
}

static void
test_file_is_encrypted(void **state)
{
	struct fx *f = *state;
	struct db *db = NULL;
	char wal[160], marker[64], head[16];
	FILE *fp;

	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_int_equal(db_open(f->path, f->key, DB_CREATE, &db), TL_OK);
	assert_int_equal(db_migrate(db, "test", steps, 1, NULL), TL_OK);
	assert_int_equal(db_begin(db), TL_OK);
	for (int i = 0; i < 200; i++) {
		snprintf(marker, sizeof(marker), "CANARY-13800138000-%d", i);
		insert_note(db, marker, TL_OK);
	}
	assert_int_equal(db_commit(db), TL_OK);
	/* Before and after a checkpoint: neither the WAL nor the main file
	 * may show the plaintext. */
	assert_false(file_contains(wal, "CANARY-13800138000"));
	assert_int_equal(db_exec(db, "PRAGMA wal_checkpoint(TRUNCATE);"), TL_OK);
	db_close(db);
	assert_false(file_contains(f->path, "CANARY-13800138000"));
	assert_false(file_contains(f->path, "CREATE TABLE"));
	fp = fopen(f->path, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(head, 1, sizeof(head), fp), sizeof(head));
	fclose(fp);
	assert_memory_not_equal(head, "SQLite format 3", 16);
}

static void
test_migrations_idempotent(void **state)
{
	struct fx *f = *state;
	struct db *db = NULL;
	int v = -1;

	assert_int_equal(db_open(f->path, f->key, DB_CREATE, &db), TL_OK);
	assert_int_equal(db_migrate(db, "test", steps, 2, &v), TL_OK);
	assert_int_equal(v, 2);
	/* Running again does nothing (CREATE TABLE would fail if re-run). */
	assert_int_equal(db_migrate(db, "test", steps, 2, &v), TL_OK);
	assert_int_equal(v, 2);
	/* A new step is applied alone. */
	assert_int_equal(db_migrate(db, "test", steps, 3, &v), TL_OK);
	assert_int_equal(v, 3);
	/* Another service's schema is independent. */
	assert_int_equal(db_migrate(db, "other", steps + 2, 0, &v), TL_OK);
	assert_int_equal(v, 0);
	/* An older program against a newer schema refuses. */
	assert_int_equal(db_migrate(db, "test", steps, 1, &v), TL_ECONFIG);
	db_close(db);

	db = NULL;
	assert_int_equal(db_open(f->path, f->key, 0, &db), TL_OK);
	assert_int_equal(db_migrate(db, "test", steps, 3, &v), TL_OK);
	assert_int_equal(v, 3);
	db_close(db);
}

static void
test_failed_migration_rolls_back(void **state)
{
	struct fx *f = *state;
	static const struct db_migration bad[] = {
		{ "ok", "CREATE TABLE a(x);" },
		{ "broken", "CREATE TABLE b(y); CREATE TABLE a(x);" },
	};
	struct db *db = NULL;
	struct db_stmt *st;
	bool row;
	int v = -1;

	assert_int_equal(db_open(f->path, f->key, DB_CREATE, &db), TL_OK);
	assert_int_not_equal(db_migrate(db, "bad", bad, 2, &v), TL_OK);
	/* Step 1 stays applied; step 2's table b was rolled back with it. */
	assert_int_equal(db_prepare(db, "SELECT count(*) FROM sqlite_master WHERE name = 'b';", &st),
	                 TL_OK);
	assert_int_equal(db_step(st, &row), TL_OK);
	assert_true(row);
	assert_int_equal(db_col_int64(st, 0), 0);
	db_finalize(st);
	assert_int_equal(db_migrate(db, "bad", bad, 1, &v), TL_OK);
	assert_int_equal(v, 1);
	db_close(db);
}

static void
test_transactions_and_constraints(void **state)
{
	struct fx *f = *state;
	struct db *db = NULL;

	assert_int_equal(db_open(f->path, f->key, DB_CREATE, &db), TL_OK);
	assert_int_equal(db_migrate(db, "test", steps, 3, NULL), TL_OK);
	assert_int_equal(db_begin(db), TL_OK);
	insert_note(db, "kept", TL_OK);
	assert_int_equal(db_savepoint(db, "one"), TL_OK);
	insert_note(db, "dropped", TL_OK);
	db_rollback_to(db, "one");
	insert_note(db, "kept", TL_ECONFLICT); /* UNIQUE */
	assert_int_equal(db_commit(db), TL_OK);
	assert_int_equal(count_notes(db), 1);

	assert_int_equal(db_begin(db), TL_OK);
	insert_note(db, "rolled back", TL_OK);
	db_rollback(db);
	db_rollback(db); /* harmless without a transaction */
	assert_int_equal(count_notes(db), 1);

	/* foreign_keys=ON is in force. */
	assert_int_equal(db_exec(db, "INSERT INTO tags VALUES (999, 'x');"), TL_ECONFLICT);
	assert_int_equal(db_savepoint(db, "Bad; DROP"), TL_EINVAL);
	assert_false(db_failed(db));
	db_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plaintext_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_is_encrypted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrations_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_migration_rolls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transactions_and_constraints, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	log_init("db_test", LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
