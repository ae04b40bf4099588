#include <sqlite3.h>

#include "compat.h"
#include "db.h"
#include "log.h"
#include "num.h"
#include "timefmt.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

/* The first 16 bytes of every plaintext SQLite 3 file.  An encrypted
 * SQLCipher file starts with its random salt instead. */
static const char plain_header[16] = "SQLite format 3";

#define DB_PAGE_SIZE "4096"
#define DB_BUSY_MS 5000

struct db {
	sqlite3 *h;
	char *path;
	bool failed; /* a fatal I/O error was seen: the handle is poisoned */
};

struct db_stmt {
	sqlite3_stmt *s;
	struct db *db;
};

/* The one translation of SQLite result codes. */
static enum tl_err
xlate(struct db *db, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return TL_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return TL_EUNAVAIL;
	case SQLITE_CONSTRAINT:
		return TL_ECONFLICT;
	case SQLITE_NOMEM:
		return TL_ENOMEM;
	case SQLITE_TOOBIG:
		return TL_ETOOBIG;
	case SQLITE_NOTADB:
		return TL_ECRYPTO;
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CORRUPT:
		/* Linux may drop dirty pages after a failed write-back, so a
		 * retried fsync can "succeed" with the data gone.  Poison the
		 * handle; the daemon restarts and WAL recovery runs. */
		if (db && !db->failed) {
			db->failed = true;
			log_err("database %s: fatal I/O error (%s); the process must restart",
			        db->path, sqlite3_errstr(rc));
		}
		return TL_EIO;
	default:
		return TL_EDB;
	}
}

bool
db_failed(const struct db *db)
{
	return db->failed;
}

/* Reads up to 16 bytes of the file's head; *n gets how many. */
static enum tl_err
read_head(int fd, unsigned char head[16], size_t *n)
{
	ssize_t r;

	*n = 0;
	while (*n < 16 && (r = pread(fd, head + *n, 16 - *n, (off_t)*n)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return TL_EIO;
		}
		*n += (size_t)r;
	}
	return TL_OK;
}

/* Opens (or creates with mode 0600) the file ourselves before SQLite does,
 * so that a plaintext file is refused before any key is used on it and a
 * new file is never world-readable (SQLite gives -wal/-shm the same mode). */
static enum tl_err
precheck(const char *path, unsigned flags, bool *fresh)
{
	unsigned char head[16];
	struct stat st;
	size_t n;
	int fd;
	enum tl_err e;

	*fresh = false;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && (flags & DB_CREATE)) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			log_err("database %s: cannot create: %s", path, strerror(errno));
			return TL_EIO;
		}
		close(fd);
		*fresh = true;
		return TL_OK;
	}
	if (fd < 0) {
		log_err("database %s: %s", path, strerror(errno));
		return errno == ENOENT ? TL_ENOTFOUND : errno == ELOOP ? TL_EDENIED : TL_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		log_err("database %s: not a regular file", path);
		close(fd);
		return TL_EDENIED;
	}
	e = read_head(fd, head, &n);
	close(fd);
	if (e != TL_OK) {
		log_err("database %s: cannot read: %s", path, strerror(errno));
		return e;
	}
	if (n == 16 && memcmp(head, plain_header, 16) == 0) {
		log_err("database %s is a plaintext (unencrypted) SQLite file; refusing to use it. "
		        "Tipline databases must be encrypted with SQLCipher", path);
		return TL_EDENIED;
	}
	*fresh = n == 0;
	return TL_OK;
}

/* After open: the file on disk must not have become plaintext (a typo'd
 * key pragma, or a plain libsqlite3 that won the symbol race). */
static enum tl_err
postcheck(const char *path)
{
	unsigned char head[16];
	size_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	enum tl_err e;

	if (fd < 0)
		return TL_EIO;
	e = read_head(fd, head, &n);
	close(fd);
	if (e != TL_OK)
		return e;
	if (n == 16 && memcmp(head, plain_header, 16) == 0) {
		log_err("database %s was written in plaintext: encryption is not active; refusing", path);
		return TL_ECONFIG;
	}
	return TL_OK;
}

/* Runs a statement expected to return one text row, copying it into out. */
static enum tl_err
query_text(struct db *db, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *s = NULL;
	enum tl_err e;
	int rc;

	out[0] = '\0';
	if ((rc = sqlite3_prepare_v2(db->h, sql, -1, &s, NULL)) != SQLITE_OK)
		return xlate(db, rc);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		if (t)
			snprintf(out, outlen, "%s", (const char *)t);
		e = TL_OK;
	} else if (rc == SQLITE_DONE) {
		e = TL_ENOTFOUND;
	} else {
		e = xlate(db, rc);
	}
	sqlite3_finalize(s);
	return e;
}

/* Hands the raw key to SQLCipher as "x'<64 hex>'", which skips the
 * passphrase KDF.  sqlite3_key() rather than PRAGMA key: the pragma's SQL
 * text would be copied into statement memory that SQLite frees without
 * wiping, whereas the codec wipes its own copies. */
static enum tl_err
apply_key(struct db *db, const unsigned char key[DB_KEY_LEN])
{
	const size_t len = 2 + 2 * DB_KEY_LEN + 1; /* x' + hex + ' */
	char *k = sodium_malloc(len + 1);
	int rc;

	if (!k)
		return TL_ENOMEM;
	k[0] = 'x';
	k[1] = '\'';
	hex_encode(key, DB_KEY_LEN, k + 2);
	k[len - 1] = '\'';
	k[len] = '\0';
	rc = sqlite3_key(db->h, k, (int)len);
	sodium_free(k); /* wipes */
	return rc == SQLITE_OK ? TL_OK : TL_ECRYPTO;
}

static enum tl_err
setup(struct db *db, const unsigned char key[DB_KEY_LEN], bool fresh)
{
	char v[64];
	enum tl_err e;
	int rc;

	sqlite3_extended_result_codes(db->h, 1);
	/* Plain SQLite ignores unknown pragmas, so a missing answer here means
	 * nothing would be encrypted. */
	if (query_text(db, "PRAGMA cipher_version;", v, sizeof(v)) != TL_OK || v[0] == '\0') {
		log_err("database %s: the SQLite library in use is not SQLCipher "
		        "(PRAGMA cipher_version is empty); refusing to run unencrypted", db->path);
		return TL_ECONFIG;
	}
	if ((e = apply_key(db, key)) != TL_OK) {
		log_err("database %s: cannot set the key", db->path);
		return e;
	}
	/* SQLCipher 3 does not record the page size: it must be set before the
	 * first access on every open, and the same on every open. */
	if ((rc = sqlite3_exec(db->h, "PRAGMA cipher_page_size = " DB_PAGE_SIZE ";", NULL, NULL, NULL)) !=
	    SQLITE_OK)
		return xlate(db, rc);
	/* The first statement that reads the file is where a wrong key shows. */
	rc = sqlite3_exec(db->h, "SELECT count(*) FROM sqlite_master;", NULL, NULL, NULL);
	if ((rc & 0xff) == SQLITE_NOTADB) {
		log_err("database %s: wrong key or not a Tipline database "
		        "(check database_key; the file is not readable with it)", db->path);
		return TL_ECRYPTO;
	}
	if (rc != SQLITE_OK)
		return xlate(db, rc);
	sqlite3_busy_timeout(db->h, DB_BUSY_MS);
	if ((e = query_text(db, "PRAGMA journal_mode = WAL;", v, sizeof(v))) != TL_OK)
		return e;
	if (strcmp(v, "wal") != 0) {
		log_err("database %s: cannot switch to WAL (journal_mode is %s)", db->path, v);
		return TL_EDB;
	}
	/* synchronous=FULL: every COMMIT fsyncs the WAL, so an acked deposit
	 * or payment survives a power cut, not just a process crash.
	 * temp_store=MEMORY keeps sort/temp data out of plaintext temp files. */
	rc = sqlite3_exec(db->h,
	                  "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
	                  "PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY;",
	                  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return xlate(db, rc);
	if (query_text(db, "PRAGMA synchronous;", v, sizeof(v)) != TL_OK || strcmp(v, "2") != 0) {
		log_err("database %s: synchronous=FULL did not take effect", db->path);
		return TL_EDB;
	}
	rc = sqlite3_exec(db->h,
	                  "CREATE TABLE IF NOT EXISTS tl_schema("
	                  " service TEXT NOT NULL, version INTEGER NOT NULL,"
	                  " what TEXT NOT NULL, applied_at INTEGER NOT NULL,"
	                  " PRIMARY KEY (service, version)) WITHOUT ROWID;"
	                  "CREATE TABLE IF NOT EXISTS tl_meta("
	                  " key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
	                  "INSERT OR IGNORE INTO tl_meta VALUES ('format', 'sqlcipher3 raw-key page" DB_PAGE_SIZE "');",
	                  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return xlate(db, rc);
	if (fresh) {
		/* Move the first pages into the main file now so that the header
		 * check in db_open() sees what is really on disk. */
		rc = sqlite3_exec(db->h, "PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return xlate(db, rc);
	}
	return TL_OK;
}

static enum tl_err
connect(const char *path, const unsigned char key[DB_KEY_LEN], bool fresh, struct db **out)
{
	struct db *db;
	enum tl_err e;
	int rc;

	*out = NULL;
	if (!(db = calloc(1, sizeof(*db))) || !(db->path = strdup(path))) {
		free(db);
		return TL_ENOMEM;
	}
	rc = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_err("database %s: cannot open: %s", path, sqlite3_errstr(rc));
		e = xlate(db, rc);
		goto fail;
	}
	if ((e = setup(db, key, fresh)) != TL_OK)
		goto fail;
	*out = db;
	return TL_OK;
fail:
	db_close(db);
	return e;
}

enum tl_err
db_open(const char *path, const unsigned char key[DB_KEY_LEN], unsigned flags, struct db **out)
{
	struct db *db = NULL;
	bool fresh;
	enum tl_err e;

	*out = NULL;
	if ((e = precheck(path, flags, &fresh)) != TL_OK)
		return e;
	if ((e = connect(path, key, fresh, &db)) != TL_OK)
		return e;
	if (fresh) {
		/* The header of a new file is checked with a plain open().  Closing
		 * that descriptor would silently drop every POSIX lock this process
		 * holds on the file, SQLite's included; another process (the
		 * sqlcipher shell, a backup) would then believe it is the last
		 * connection and delete the WAL that our handle is still writing.
		 * So close our connection first and check between connections. */
		db_close(db);
		db = NULL;
		if ((e = postcheck(path)) != TL_OK)
			return e;
		if ((e = connect(path, key, false, &db)) != TL_OK)
			return e;
	}
	*out = db;
	return TL_OK;
}

void
db_close(struct db *db)
{
	if (!db)
		return;
	if (db->h && sqlite3_close(db->h) != SQLITE_OK)
		log_err("database %s: close with unfinalized statements", db->path);
	free(db->path);
	free(db);
}

enum tl_err
db_exec(struct db *db, const char *sql)
{
	if (db->failed)
		return TL_EIO;
	return xlate(db, sqlite3_exec(db->h, sql, NULL, NULL, NULL));
}

enum tl_err
db_begin(struct db *db)
{
	return db_exec(db, "BEGIN IMMEDIATE;");
}

enum tl_err
db_commit(struct db *db)
{
	enum tl_err e = db_exec(db, "COMMIT;");

	/* A busy COMMIT leaves the transaction open; the caller rolls back. */
	return e;
}

void
db_rollback(struct db *db)
{
	if (db->h && !sqlite3_get_autocommit(db->h))
		(void)sqlite3_exec(db->h, "ROLLBACK;", NULL, NULL, NULL);
}

/* Savepoint names are compile-time identifiers, never data. */
static bool
ident_ok(const char *name)
{
	if (!*name || strlen(name) > 32)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
			return false;
	return true;
}

static enum tl_err
exec_named(struct db *db, const char *verb, const char *name)
{
	char sql[80];

	if (!ident_ok(name))
		return TL_EINVAL;
	snprintf(sql, sizeof(sql), "%s %s;", verb, name);
	return db_exec(db, sql);
}

enum tl_err
db_savepoint(struct db *db, const char *name)
{
	return exec_named(db, "SAVEPOINT", name);
}

enum tl_err
db_release(struct db *db, const char *name)
{
	return exec_named(db, "RELEASE", name);
}

void
db_rollback_to(struct db *db, const char *name)
{
	(void)exec_named(db, "ROLLBACK TO", name);
	(void)exec_named(db, "RELEASE", name);
}

enum tl_err
db_prepare(struct db *db, const char *sql, struct db_stmt **out)
{
	struct db_stmt *st;
	int rc;

	*out = NULL;
	if (db->failed)
		return TL_EIO;
	if (!(st = calloc(1, sizeof(*st))))
		return TL_ENOMEM;
	st->db = db;
	if ((rc = sqlite3_prepare_v2(db->h, sql, -1, &st->s, NULL)) != SQLITE_OK) {
		log_err("database %s: prepare failed: %s", db->path, sqlite3_errmsg(db->h));
		free(st);
		return xlate(db, rc);
	}
	*out = st;
	return TL_OK;
}

void
db_finalize(struct db_stmt *st)
{
	if (!st)
		return;
	sqlite3_finalize(st->s);
	free(st);
}

void
db_reset(struct db_stmt *st)
{
	sqlite3_reset(st->s);
	sqlite3_clear_bindings(st->s);
}

enum tl_err
db_bind_text(struct db_stmt *st, int idx, const char *s)
{
	/* SQLITE_TRANSIENT: SQLite copies; the caller may wipe its string. */
	if (!s)
		return xlate(st->db, sqlite3_bind_null(st->s, idx));
	return xlate(st->db, sqlite3_bind_text(st->s, idx, s, -1, SQLITE_TRANSIENT));
}

enum tl_err
db_bind_int64(struct db_stmt *st, int idx, int64_t v)
{
	return xlate(st->db, sqlite3_bind_int64(st->s, idx, v));
}

enum tl_err
db_bind_null(struct db_stmt *st, int idx)
{
	return xlate(st->db, sqlite3_bind_null(st->s, idx));
}

enum tl_err
db_step(struct db_stmt *st, bool *row)
{
	int rc;

	if (row)
		*row = false;
	if (st->db->failed)
		return TL_EIO;
	rc = sqlite3_step(st->s);
	if (rc == SQLITE_ROW) {
		if (row)
			*row = true;
		return TL_OK;
	}
	if (rc == SQLITE_DONE)
		return TL_OK;
	/* The extended code from step is the precise one with _v2 statements. */
	return xlate(st->db, rc);
}

int64_t
db_col_int64(struct db_stmt *st, int col)
{
	return sqlite3_column_int64(st->s, col);
}

const char *
db_col_text(struct db_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(st->s, col);
}

int
db_changes(struct db *db)
{
	return sqlite3_changes(db->h);
}

/* ---- migrations ---- */

static enum tl_err
schema_version(struct db *db, const char *service, int *version)
{
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	*version = 0;
	if ((e = db_prepare(db, "SELECT coalesce(max(version), 0) FROM tl_schema WHERE service = ?1;",
	                    &st)) != TL_OK)
		return e;
	if ((e = db_bind_text(st, 1, service)) == TL_OK && (e = db_step(st, &row)) == TL_OK && row)
		*version = (int)db_col_int64(st, 0);
	db_finalize(st);
	return e;
}

static enum tl_err
apply_step(struct db *db, const char *service, int version, const struct db_migration *m)
{
	struct db_stmt *st = NULL;
	bool applied = false;
	int current;
	enum tl_err e;

	if ((e = db_begin(db)) != TL_OK)
		return e;
	/* Re-read inside the write lock: another process may have migrated. */
	if ((e = schema_version(db, service, &current)) != TL_OK)
		goto out;
	if (current < version) {
		if ((e = db_exec(db, m->sql)) != TL_OK) {
			log_err("database %s: migration %s %d (%s) failed: %s", db->path, service,
			        version, m->what, sqlite3_errmsg(db->h));
			goto out;
		}
		if ((e = db_prepare(db, "INSERT INTO tl_schema (service, version, what, applied_at)"
		                        " VALUES (?1, ?2, ?3, ?4);", &st)) != TL_OK ||
		    (e = db_bind_text(st, 1, service)) != TL_OK ||
		    (e = db_bind_int64(st, 2, version)) != TL_OK ||
		    (e = db_bind_text(st, 3, m->what)) != TL_OK ||
		    (e = db_bind_int64(st, 4, time_now_ms())) != TL_OK ||
		    (e = db_step(st, NULL)) != TL_OK)
			goto out;
		applied = true;
	}
	e = db_commit(db);
out:
	db_finalize(st);
	if (e != TL_OK)
		db_rollback(db);
	else if (applied)
		log_info("database schema %s: applied step %d (%s)", service, version, m->what);
	return e;
}

enum tl_err
db_migrate(struct db *db, const char *service, const struct db_migration *steps, size_t n,
           int *version)
{
	int current;
	enum tl_err e;

	if (n > INT32_MAX)
		return TL_EINVAL;
	if ((e = schema_version(db, service, &current)) != TL_OK)
		return e;
	if ((size_t)current > n) {
		log_err("database %s: schema %s is at version %d but this program knows only %zu steps; "
		        "refusing to run an older program on a newer database", db->path, service,
		        current, n);
		return TL_ECONFIG;
	}
	for (size_t i = (size_t)current; i < n; i++)
		if ((e = apply_step(db, service, (int)i + 1, &steps[i])) != TL_OK)
			return e;
	if (version)
		*version = (int)n;
	return TL_OK;
}
