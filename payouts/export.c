#include "compat.h"
#include "export.h"
#include "sqlv.h"
#include "approval.h"
#include "awardsig.h"
#include "cases.h"
#include "district.h"
#include "ledger.h"
#include "log.h"
#include "num.h"
#include "payfile.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Schema "batches".  Append steps; never edit a released one.
 * 50000000 is MONEY_HARD_CAP_FEN. */
static const struct db_migration export_steps[] = {
	{ "payment batches and their rows",
	  "CREATE TABLE batches ("
	  " batch_id TEXT PRIMARY KEY CHECK (length(batch_id) = 32),"
	  " created_ms INTEGER NOT NULL,"
	  " payer TEXT NOT NULL CHECK (length(payer) BETWEEN 1 AND 64),"
	  " scope TEXT NOT NULL CHECK (scope = 'all' OR length(scope) = 6),"
	  " state TEXT NOT NULL CHECK (state IN ('preparing','exported','confirmed','abandoned')),"
	  " file_name TEXT,"
	  " file_hash TEXT CHECK (file_hash IS NULL OR length(file_hash) = 64),"
	  " row_count INTEGER NOT NULL CHECK (row_count >= 1),"
	  " total_fen INTEGER NOT NULL CHECK (total_fen >= 1),"
	  " exported_ms INTEGER,"
	  " confirmed_ms INTEGER,"
	  " error TEXT NOT NULL DEFAULT '') WITHOUT ROWID;"
	  "CREATE INDEX batches_state ON batches (state);"
	  "CREATE TRIGGER batches_born_preparing BEFORE INSERT ON batches WHEN NEW.state <> 'preparing'"
	  " BEGIN SELECT RAISE(ABORT, 'a batch starts as preparing'); END;"
	  "CREATE TRIGGER batches_transition BEFORE UPDATE OF state ON batches WHEN NOT ("
	  " (OLD.state = 'preparing' AND NEW.state IN ('exported','abandoned')) OR"
	  " (OLD.state = 'exported' AND NEW.state = 'confirmed'))"
	  " BEGIN SELECT RAISE(ABORT, 'illegal batch state transition'); END;"
	  "CREATE TRIGGER batches_fixed BEFORE UPDATE OF batch_id, created_ms, payer, scope, row_count,"
	  " total_fen ON batches"
	  " BEGIN SELECT RAISE(ABORT, 'a batch is immutable'); END;"
	  "CREATE TRIGGER batches_no_delete BEFORE DELETE ON batches"
	  " BEGIN SELECT RAISE(ABORT, 'batches are never deleted'); END;"

	  "CREATE TABLE batch_rows ("
	  " batch_id TEXT NOT NULL REFERENCES batches (batch_id),"
	  " award_id TEXT NOT NULL CHECK (length(award_id) = 32),"
	  " share_idx INTEGER NOT NULL CHECK (share_idx BETWEEN 0 AND 63),"
	  " report_id TEXT NOT NULL CHECK (length(report_id) = 32),"
	  " district TEXT NOT NULL CHECK (length(district) = 6),"
	  " claim_id TEXT NOT NULL CHECK (length(claim_id) = 32),"
	  " payee_ref TEXT NOT NULL CHECK (length(payee_ref) = 32),"
	  " amount_fen INTEGER NOT NULL CHECK (amount_fen > 0 AND amount_fen <= 50000000),"
	  " state TEXT NOT NULL CHECK (state IN ('pending','exported','paid','returned','abandoned')),"
	  " transfer_id TEXT CHECK (transfer_id IS NULL OR length(transfer_id) = 32),"
	  " settled_ms INTEGER,"
	  " CHECK ((state = 'paid') = (transfer_id IS NOT NULL)),"
	  " PRIMARY KEY (batch_id, award_id, share_idx)) WITHOUT ROWID;"
	  /* The bank must never receive the same share twice. */
	  "CREATE UNIQUE INDEX batch_rows_one_live ON batch_rows (award_id, share_idx)"
	  " WHERE state IN ('pending','exported','paid');"
	  "CREATE TRIGGER batch_rows_born_pending BEFORE INSERT ON batch_rows WHEN NEW.state <> 'pending'"
	  " BEGIN SELECT RAISE(ABORT, 'a batch row starts as pending'); END;"
	  "CREATE TRIGGER batch_rows_transition BEFORE UPDATE OF state ON batch_rows WHEN NOT ("
	  " (OLD.state = 'pending' AND NEW.state IN ('exported','abandoned')) OR"
	  " (OLD.state = 'exported' AND NEW.state IN ('paid','returned')))"
	  " BEGIN SELECT RAISE(ABORT, 'illegal batch row transition'); END;"
	  "CREATE TRIGGER batch_rows_fixed BEFORE UPDATE OF batch_id, award_id, share_idx, report_id,"
	  " district, claim_id, payee_ref, amount_fen ON batch_rows"
	  " BEGIN SELECT RAISE(ABORT, 'a batch row is immutable'); END;"
	  "CREATE TRIGGER batch_rows_no_delete BEFORE DELETE ON batch_rows"
	  " BEGIN SELECT RAISE(ABORT, 'batch rows are never deleted'); END;" },
};

enum tl_err
export_migrate(struct db *db)
{
	return db_migrate(db, EXPORT_SCHEMA, export_steps, TL_ARRAY_LEN(export_steps), NULL);
}

static void
audit_note(struct payouts_svc *s, const char *actor, const char *action, const char *object,
           const char *reason)
{
	enum tl_err e;

	if (!s->audit)
		return;
	/* The action itself is done and durable; a failing chain is a disk
	 * problem the operator must see, not a reason to undo a payment. */
	if ((e = audit_append(s->audit, actor, action, object, reason)) != TL_OK)
		log_err("audit: cannot append %s %s: %s", action, object, tl_strerror(e));
}

static void
transfer_id_for(const char *batch_id, const char *award_id, int idx, char out[LEDGER_ID_LEN + 1])
{
	char step[64];

	(void)snprintf(step, sizeof(step), "pay:%s:%d", batch_id, idx);
	ledger_id_derive(award_id, step, out);
}

static void
col_copy(struct db_stmt *st, int col, char *out, size_t outlen)
{
	const char *t = db_col_text(st, col);

	(void)snprintf(out, outlen, "%s", t ? t : "");
}

/* Room for element n of v, an array of *cap elements of size bytes that
 * doubles from first: v, perhaps moved, or NULL when memory ran out (v
 * is still valid then). */
static void *
grow(void *v, size_t n, size_t *cap, size_t size, size_t first)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return v;
	ncap = *cap ? 2 * *cap : first;
	if (!(nv = realloc(v, ncap * size)))
		return NULL;
	*cap = ncap;
	return nv;
}

/* The rows a query collected in v, or, after an error, none (v freed). */
static void *
rows_or_free(enum tl_err e, void *v, size_t *n)
{
	if (e == TL_OK)
		return v;
	free(v);
	*n = 0;
	return NULL;
}

/* ---- files ---- */

static enum tl_err
join(const char *dir, const char *name, char *out, size_t outlen)
{
	if ((size_t)snprintf(out, outlen, "%s/%s", dir, name) >= outlen)
		return TL_ETOOBIG;
	return TL_OK;
}

static void
file_names(const char *batch_id, char name[96], char tmp[96])
{
	(void)snprintf(name, 96, EXPORT_FILE_PREFIX "%s" EXPORT_FILE_SUFFIX, batch_id);
	(void)snprintf(tmp, 96, "." EXPORT_FILE_PREFIX "%s" EXPORT_FILE_SUFFIX ".tmp", batch_id);
}

static void
hash_hex(const void *data, size_t len, char out[65])
{
	unsigned char h[32];

	crypto_generichash(h, sizeof(h), data, len, NULL, 0);
	hex_encode(h, sizeof(h), out);
}

static enum tl_err
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return TL_EIO;
	rc = fsync(fd);
	close(fd);
	return rc == 0 ? TL_OK : TL_EIO;
}

/* Writes data to a new file (0600, never over an existing one) and makes
 * it durable before returning. */
static enum tl_err
write_new(const char *path, const void *data, size_t len)
{
	const char *p = data;
	int fd;

	(void)unlink(path); /* a temporary name left by a dead export */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return TL_EIO;
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	return close(fd) == 0 ? TL_OK : TL_EIO;
fail:
	close(fd);
	(void)unlink(path);
	return TL_EIO;
}

/* The hash of a file's content, or false if it cannot be read. */
static bool
file_hash(const char *path, char out[65])
{
	struct buf b;
	FILE *f = fopen(path, "rb");
	bool ok;

	if (!f)
		return false;
	buf_init(&b, PAYFILE_MAX_BYTES);
	ok = buf_read_file(&b, f) == TL_OK;
	fclose(f);
	if (ok)
		hash_hex(b.data ? b.data : "", b.len, out);
	buf_free(&b);
	return ok;
}

/* The export lock: held by exactly one export (any process) at a time. */
static enum tl_err
export_lock(const char *dir, int *fd, char *why, size_t whylen)
{
	char path[PATH_MAX];
	struct stat st;

	*fd = -1;
	if (!dir || !dir[0] || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		tl_why(why, whylen, "export_dir %s is not a folder", dir ? dir : "(unset)");
		return TL_ECONFIG;
	}
	if (join(dir, ".export.lock", path, sizeof(path)) != TL_OK)
		return TL_ETOOBIG;
	if ((*fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		tl_why(why, whylen, "cannot open %s: %s", path, strerror(errno));
		return TL_EIO;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
		tl_why(why, whylen, "another export is running; try again when it has finished");
		close(*fd);
		*fd = -1;
		return TL_EUNAVAIL;
	}
	return TL_OK;
}

static void
export_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

/* ---- recovery (caller holds the export lock, not svc->lock) ---- */

struct stuck {
	char batch_id[ID_HEX_LEN + 1];
	char file_hash[65];
};

static enum tl_err
set_batch_state(struct db *db, const char *batch_id, const char *from, const char *to,
                const char *error, int64_t now_ms)
{
	enum tl_err e;

	if ((e = db_begin(db)) != TL_OK)
		return e;
	if ((e = sqlv_run(db, "UPDATE batch_rows SET state = ?3 WHERE batch_id = ?1 AND state = ?2;",
	                  "ttt", batch_id, from, strcmp(to, "abandoned") == 0 ? "abandoned" : "exported")) !=
	            TL_OK ||
	    (e = sqlv_run(db,
	                  "UPDATE batches SET state = ?2, error = ?3,"
	                  " exported_ms = CASE WHEN ?2 = 'exported' THEN ?4 ELSE exported_ms END"
	                  " WHERE batch_id = ?1 AND state = 'preparing';",
	                  "ttti", batch_id, to, error, now_ms)) != TL_OK) {
		db_rollback(db);
		return e;
	}
	return db_commit(db);
}

/* Abandons a preparing batch: its rows are free for the next export. */
static enum tl_err
abandon(struct payouts_svc *s, const char *batch_id, const char *code, int64_t now_ms)
{
	enum tl_err e;

	pthread_mutex_lock(&s->lock);
	e = set_batch_state(s->db, batch_id, "pending", "abandoned", code, now_ms);
	pthread_mutex_unlock(&s->lock);
	if (e != TL_OK)
		log_err("batch %s: cannot mark it abandoned: %s (the next export retries)", batch_id,
		        tl_strerror(e));
	return e;
}

static void
remove_temporaries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX];

	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n > 4 && de->d_name[0] == '.' && strcmp(de->d_name + n - 4, ".tmp") == 0 &&
		    strncmp(de->d_name + 1, EXPORT_FILE_PREFIX, strlen(EXPORT_FILE_PREFIX)) == 0 &&
		    join(dir, de->d_name, path, sizeof(path)) == TL_OK)
			(void)unlink(path);
	}
	closedir(d);
}

static enum tl_err
recover_locked(struct payouts_svc *s, int64_t now_ms, char *why, size_t whylen)
{
	const char *dir = s->cfg->export_dir;
	struct stuck *v = NULL;
	size_t n = 0, cap = 0;
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	pthread_mutex_lock(&s->lock);
	if ((e = export_migrate(s->db)) == TL_OK &&
	    (e = db_prepare(s->db, "SELECT batch_id, file_hash FROM batches WHERE state = 'preparing';",
	                    &st)) == TL_OK) {
		while ((e = db_step(st, &row)) == TL_OK && row) {
			struct stuck *nv = grow(v, n, &cap, sizeof(*v), 4);

			if (!nv) {
				e = TL_ENOMEM;
				break;
			}
			v = nv;
			col_copy(st, 0, v[n].batch_id, sizeof(v[n].batch_id));
			col_copy(st, 1, v[n].file_hash, sizeof(v[n].file_hash));
			n++;
		}
	}
	db_finalize(st);
	pthread_mutex_unlock(&s->lock);
	if (e != TL_OK) {
		tl_why(why, whylen, "cannot list unfinished batches: %s", tl_strerror(e));
		free(v);
		return e;
	}
	for (size_t i = 0; i < n && e == TL_OK; i++) {
		char name[96], tmp[96], path[PATH_MAX], have[65];
		char object[80];
		bool complete;

		file_names(v[i].batch_id, name, tmp);
		if ((e = join(dir, name, path, sizeof(path))) != TL_OK)
			break;
		/* The file got its final name only after it and its hash were
		 * durable, so an intact file with that hash is the batch. */
		complete = v[i].file_hash[0] && file_hash(path, have) && strcmp(have, v[i].file_hash) == 0;
		(void)snprintf(object, sizeof(object), "batch:%s", v[i].batch_id);
		if (complete) {
			(void)fsync_dir(dir);
			pthread_mutex_lock(&s->lock);
			e = set_batch_state(s->db, v[i].batch_id, "pending", "exported", "", now_ms);
			pthread_mutex_unlock(&s->lock);
			if (e == TL_OK) {
				log_warn("batch %s: completed after an interrupted export", v[i].batch_id);
				audit_note(s, "system", "export", object, "recovered");
			}
		} else {
			(void)unlink(path);
			if ((e = abandon(s, v[i].batch_id, "interrupted", now_ms)) == TL_OK) {
				log_warn("batch %s: abandoned after an interrupted export; its shares are free "
				         "again", v[i].batch_id);
				audit_note(s, "system", "export_abandoned", object, "interrupted");
			}
		}
		if (e != TL_OK)
			tl_why(why, whylen, "cannot finish interrupted batch %s: %s", v[i].batch_id,
			    tl_strerror(e));
	}
	free(v);
	remove_temporaries(dir);
	return e;
}

enum tl_err
export_recover(struct payouts_svc *s, int64_t now_ms, char *why, size_t whylen)
{
	int fd;
	enum tl_err e;

	if ((e = export_lock(s->cfg->export_dir, &fd, why, whylen)) != TL_OK)
		return e;
	e = recover_locked(s, now_ms, why, whylen);
	export_unlock(fd);
	return e;
}

/* ---- export ---- */

struct cand {
	char award_id[ID_HEX_LEN + 1];
	int idx;
	char report_id[ID_HEX_LEN + 1];
	char district[7];
	int64_t fen;
	char claim_id[ID_HEX_LEN + 1];
	char payee_ref[ID_HEX_LEN + 1];
};

/* One vault request per award; rows [first, first + n) of the batch. */
struct job {
	struct wire_reveal_req req;
	size_t first, n;
};

struct batch_work {
	struct cand *c;
	size_t n, cap;
	struct job *jobs;
	size_t njobs;
	struct payfile pf;
};

static void
work_free(struct batch_work *w)
{
	for (size_t i = 0; i < w->njobs; i++)
		wire_reveal_req_free(&w->jobs[i].req);
	free(w->jobs);
	free(w->c);
	payfile_free(&w->pf);
	memset(w, 0, sizeof(*w));
}

/* Shares ready to pay: the award approved, the share open, in no live
 * batch, and the report's latest claim eligible. */
static enum tl_err
select_candidates(struct payouts_svc *s, const char *scope, struct batch_work *w)
{
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	/* The latest claim per report is cases_latest_claim()'s: by time,
	 * then by arrival; it is read again below through that function. */
	if ((e = db_prepare(s->db,
	                    "SELECT s.award_id, s.idx, s.report_id, a.district, s.fen, c.claim_id,"
	                    " c.payee_ref FROM shares s"
	                    " JOIN awards a ON a.award_id = s.award_id"
	                    " JOIN claims c ON c.rowid = (SELECT c2.rowid FROM claims c2"
	                    "  WHERE c2.report_id = s.report_id ORDER BY c2.at_ms DESC, c2.rowid DESC"
	                    "  LIMIT 1)"
	                    " WHERE a.status = 'approved' AND s.state = 'open' AND c.eligible = 1"
	                    " AND (?1 = 'all' OR a.district = ?1)"
	                    " AND NOT EXISTS (SELECT 1 FROM batch_rows r WHERE r.award_id = s.award_id"
	                    "  AND r.share_idx = s.idx AND r.state IN ('pending','exported','paid'))"
	                    " ORDER BY a.district, a.created_at, s.award_id, s.idx;",
	                    &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, scope)) != TL_OK)
		goto cleanup;
	while (w->n < PAYFILE_MAX_ROWS && (e = db_step(st, &row)) == TL_OK && row) {
		struct cand *nc = grow(w->c, w->n, &w->cap, sizeof(*nc), 16), *c;

		if (!nc) {
			e = TL_ENOMEM;
			goto cleanup;
		}
		w->c = nc;
		c = &w->c[w->n];
		memset(c, 0, sizeof(*c));
		col_copy(st, 0, c->award_id, sizeof(c->award_id));
		c->idx = (int)db_col_int64(st, 1);
		col_copy(st, 2, c->report_id, sizeof(c->report_id));
		col_copy(st, 3, c->district, sizeof(c->district));
		c->fen = db_col_int64(st, 4);
		col_copy(st, 5, c->claim_id, sizeof(c->claim_id));
		col_copy(st, 6, c->payee_ref, sizeof(c->payee_ref));
		w->n++;
	}
	db_finalize(st);
	st = NULL;
	if (e != TL_OK)
		goto cleanup;
	/* The same questions through the owners' functions: a share the
	 * ledger does not call open, or a claim cases.c does not call the
	 * latest eligible one, is not paid on the strength of a join. */
	for (size_t i = 0; i < w->n; i++) {
		struct cases_claim_row cl;
		enum share_state ss;

		if ((e = cases_latest_claim(s->db, w->c[i].report_id, &cl)) != TL_OK ||
		    (e = payouts_share_state(s->core, w->c[i].award_id, w->c[i].idx, &ss)) != TL_OK)
			goto cleanup;
		if (!cl.eligible || strcmp(cl.claim_id, w->c[i].claim_id) != 0 ||
		    strcmp(cl.payee_ref, w->c[i].payee_ref) != 0 || !id_valid(cl.payee_ref) ||
		    ss != SHARE_OPEN) {
			log_err("award %s share %d: the export query and the claim/share records disagree; "
			        "nothing exported", w->c[i].award_id, w->c[i].idx);
			e = TL_ECONFLICT;
			goto cleanup;
		}
	}
cleanup:
	db_finalize(st);
	return e;
}

/* The approvals the approvers signed, as the vault wants them. */
static enum tl_err
load_approvals(struct payouts_svc *s, const char *award_id, struct wire_reveal_req *q)
{
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	if ((e = db_prepare(s->db, "SELECT approver, sig FROM approvals WHERE award_id = ?1"
	                           " AND decision = 'approve' ORDER BY at, approver;", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, award_id)) != TL_OK)
		goto cleanup;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		struct wire_approval_sig *a;
		const char *sig = db_col_text(st, 1);

		if (q->n_approvals == WIRE_MAX_APPROVALS) {
			e = TL_ETOOBIG;
			goto cleanup;
		}
		a = &q->approvals[q->n_approvals++];
		col_copy(st, 0, a->staff_id, sizeof(a->staff_id));
		if (!sig || hex_decode(sig, strlen(sig), a->sig, sizeof(a->sig)) != TL_OK) {
			e = TL_EDB;
			goto cleanup;
		}
	}
	if (e == TL_OK && q->n_approvals == 0)
		e = TL_ENOTFOUND;
cleanup:
	db_finalize(st);
	return e;
}

/* Groups the candidates per award into vault requests. */
static enum tl_err
build_jobs(struct payouts_svc *s, const char *batch_id, struct batch_work *w, char *why, size_t whylen)
{
	char canon[APPROVAL_CANON_MAX];
	enum tl_err e;

	if (!(w->jobs = calloc(w->n, sizeof(*w->jobs))))
		return TL_ENOMEM;
	for (size_t i = 0; i < w->n;) {
		struct job *j = &w->jobs[w->njobs++];
		struct award_record r;
		size_t len;

		j->first = i;
		while (i < w->n && strcmp(w->c[i].award_id, w->c[j->first].award_id) == 0)
			i++;
		j->n = i - j->first;
		id_new(j->req.request_id);
		(void)snprintf(j->req.batch_id, sizeof(j->req.batch_id), "%s", batch_id);
		if ((e = award_load(s->core, w->c[j->first].award_id, &r)) != TL_OK ||
		    (e = award_canonical(&r, APPROVAL_APPROVE, canon, sizeof(canon), &len)) != TL_OK) {
			tl_why(why, whylen, "award %s: cannot rebuild the signed text: %s",
			    w->c[j->first].award_id, tl_strerror(e));
			return e;
		}
		if (!(j->req.award = strdup(canon)))
			return TL_ENOMEM;
		if ((e = load_approvals(s, w->c[j->first].award_id, &j->req)) != TL_OK) {
			tl_why(why, whylen, "award %s: cannot load its approvals: %s", w->c[j->first].award_id,
			    tl_strerror(e));
			return e;
		}
		for (size_t k = 0; k < j->n; k++) {
			const struct cand *c = &w->c[j->first + k];
			struct wire_reveal_share *sh = &j->req.shares[j->req.n_shares++];

			sh->share_idx = c->idx;
			(void)snprintf(sh->report_id, sizeof(sh->report_id), "%s", c->report_id);
			(void)snprintf(sh->payee_ref, sizeof(sh->payee_ref), "%s", c->payee_ref);
		}
	}
	return TL_OK;
}

static enum tl_err
insert_batch(struct payouts_svc *s, const char *batch_id, const char *payer, const char *scope,
             const struct batch_work *w, int64_t total, int64_t now_ms)
{
	struct db_stmt *st = NULL;
	enum tl_err e;

	if ((e = db_begin(s->db)) != TL_OK)
		return e;
	if ((e = sqlv_run(s->db,
	                  "INSERT INTO batches (batch_id, created_ms, payer, scope, state, row_count,"
	                  " total_fen) VALUES (?1, ?2, ?3, ?4, 'preparing', ?5, ?6);",
	                  "tittii", batch_id, now_ms, payer, scope, (int64_t)w->n, total)) != TL_OK)
		goto cleanup;
	if ((e = db_prepare(s->db,
	                    "INSERT INTO batch_rows (batch_id, award_id, share_idx, report_id, district,"
	                    " claim_id, payee_ref, amount_fen, state)"
	                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending');",
	                    &st)) != TL_OK)
		goto cleanup;
	for (size_t i = 0; i < w->n; i++) {
		const struct cand *c = &w->c[i];

		db_reset(st);
		if ((e = db_bind_text(st, 1, batch_id)) != TL_OK ||
		    (e = db_bind_text(st, 2, c->award_id)) != TL_OK ||
		    (e = db_bind_int64(st, 3, c->idx)) != TL_OK ||
		    (e = db_bind_text(st, 4, c->report_id)) != TL_OK ||
		    (e = db_bind_text(st, 5, c->district)) != TL_OK ||
		    (e = db_bind_text(st, 6, c->claim_id)) != TL_OK ||
		    (e = db_bind_text(st, 7, c->payee_ref)) != TL_OK ||
		    (e = db_bind_int64(st, 8, c->fen)) != TL_OK || (e = db_step(st, NULL)) != TL_OK)
			goto cleanup;
	}
cleanup:
	db_finalize(st);
	if (e == TL_OK)
		e = db_commit(s->db);
	if (e != TL_OK)
		db_rollback(s->db);
	return e;
}

static enum tl_err
bus_reveal(void *ctx, const struct wire_reveal_req *req, struct wire_reveal_rep *rep, char *why,
           size_t whylen)
{
	struct payouts_svc *s = ctx;
	struct buf q, a;
	int64_t timeout = s->cfg->reveal_timeout_ms > 0 ? s->cfg->reveal_timeout_ms : 5000;
	enum tl_err e;

	if (!s->bus) {
		tl_why(why, whylen, "no NATS connection to ask the vault");
		return TL_EUNAVAIL;
	}
	buf_init(&q, WIRE_MAX_MSG);
	buf_init(&a, WIRE_MAX_MSG);
	if ((e = wire_reveal_req_encode(req, &q)) != TL_OK) {
		tl_why(why, whylen, "cannot encode the reveal request: %s", tl_strerror(e));
		goto out;
	}
	e = bus_request(s->bus, WIRE_SUBJ_VAULT_REVEAL, q.data, q.len, (int)timeout, &a);
	if (e == TL_ETIMEOUT) {
		tl_why(why, whylen, "the vault did not answer within %lld ms", (long long)timeout);
		goto out;
	}
	if (e != TL_OK) {
		tl_why(why, whylen, "cannot reach the vault: %s", tl_strerror(e));
		goto out;
	}
	if ((e = wire_reveal_rep_decode(a.data ? a.data : "", a.len, rep)) != TL_OK)
		tl_why(why, whylen, "the vault's answer is malformed");
out:
	buf_free(&q);
	buf_free(&a);
	return e;
}

/* The answer must be for this request and name exactly its shares. */
static bool
reply_matches(const struct job *j, const struct wire_reveal_rep *rep)
{
	if (strcmp(rep->request_id, j->req.request_id) != 0 || rep->n_rows != j->req.n_shares)
		return false;
	for (size_t i = 0; i < rep->n_rows; i++) {
		const struct wire_reveal_row *r = &rep->rows[i];
		size_t k;

		for (k = 0; k < j->req.n_shares; k++)
			if (j->req.shares[k].share_idx == r->share_idx)
				break;
		if (k == j->req.n_shares || strcmp(j->req.shares[k].report_id, r->report_id) != 0 ||
		    strcmp(j->req.shares[k].payee_ref, r->payee_ref) != 0 ||
		    r->sealed_len <= crypto_box_SEALBYTES || r->sealed_len > PAYFILE_SEALED_MAX)
			return false;
		for (size_t m = 0; m < i; m++)
			if (rep->rows[m].share_idx == r->share_idx)
				return false;
	}
	return true;
}

/* Moves each revealed payee seal into its payfile row. */
static void
take_rows(struct batch_work *w, const struct job *j, struct wire_reveal_rep *rep)
{
	for (size_t i = 0; i < rep->n_rows; i++)
		for (size_t k = j->first; k < j->first + j->n; k++)
			if (w->c[k].idx == rep->rows[i].share_idx) {
				w->pf.rows[k].sealed = rep->rows[i].sealed;
				w->pf.rows[k].sealed_len = rep->rows[i].sealed_len;
				rep->rows[i].sealed = NULL;
				rep->rows[i].sealed_len = 0;
			}
}

static bool
payer_valid(const char *p)
{
	return p && awardsig_ref_valid(p) && strlen(p) <= 64;
}

enum tl_err
export_batch_with(struct payouts_svc *s, const struct export_hooks *h, const char *payer,
                  const char *district, int64_t now_ms, char batch_id[ID_HEX_LEN + 1], size_t *rows,
                  char *why, size_t whylen)
{
	const char *dir = s->cfg->export_dir;
	export_reveal_fn reveal = h && h->reveal ? h->reveal : bus_reveal;
	void *ctx = h && h->reveal ? h->ctx : s;
	enum export_stop stop = h ? h->stop : EXPORT_STOP_NONE;
	struct batch_work w;
	struct buf file;
	char name[96], tmp[96], path[PATH_MAX], tpath[PATH_MAX], hash[65], object[96];
	int64_t total = 0;
	int lockfd = -1;
	enum tl_err e;

	memset(&w, 0, sizeof(w));
	buf_init(&file, PAYFILE_MAX_BYTES);
	batch_id[0] = '\0';
	if (rows)
		*rows = 0;
	tl_why(why, whylen, "ok");
	if (!payer_valid(payer) || !district ||
	    (strcmp(district, PAYFILE_SCOPE_ALL) != 0 && !district_valid(district))) {
		tl_why(why, whylen, "invalid payer or district (a district code or \"all\")");
		return TL_EINVAL;
	}
	if ((e = export_lock(dir, &lockfd, why, whylen)) != TL_OK)
		return e;
	if ((e = recover_locked(s, now_ms, why, whylen)) != TL_OK)
		goto out;

	/* 1. Under the lock: pick the shares and book them into a preparing
	 * batch, so no other export can take them. */
	id_new(batch_id);
	pthread_mutex_lock(&s->lock);
	e = select_candidates(s, district, &w);
	if (e == TL_OK && w.n > 0) {
		for (size_t i = 0; i < w.n; i++)
			total += w.c[i].fen;
		if ((e = build_jobs(s, batch_id, &w, why, whylen)) == TL_OK)
			e = insert_batch(s, batch_id, payer, district, &w, total, now_ms);
		else
			log_err("batch %s: %s", batch_id, why);
	}
	pthread_mutex_unlock(&s->lock);
	if (e != TL_OK) {
		if (strcmp(why, "ok") == 0)
			tl_why(why, whylen, "cannot prepare the batch: %s", tl_strerror(e));
		batch_id[0] = '\0';
		goto out;
	}
	if (w.n == 0) {
		tl_why(why, whylen, "nothing is ready to pay in %s: no approved share with an eligible "
		                 "claim outside another batch",
		    strcmp(district, "all") == 0 ? "any district" : district);
		batch_id[0] = '\0';
		e = TL_ENOTFOUND;
		goto out;
	}
	(void)snprintf(object, sizeof(object), "batch:%s", batch_id);
	if (stop == EXPORT_STOP_PREPARED)
		goto crash;

	/* 2. Without the lock: the vault reveals each award's payees. */
	(void)snprintf(w.pf.batch_id, sizeof(w.pf.batch_id), "%s", batch_id);
	(void)snprintf(w.pf.scope, sizeof(w.pf.scope), "%s", district);
	w.pf.created_ms = now_ms;
	w.pf.total_fen = total;
	if (!(w.pf.rows = calloc(w.n, sizeof(*w.pf.rows)))) {
		e = TL_ENOMEM;
		goto fail;
	}
	w.pf.n_rows = w.n;
	for (size_t i = 0; i < w.n; i++) {
		struct payfile_row *r = &w.pf.rows[i];

		(void)snprintf(r->award_id, sizeof(r->award_id), "%s", w.c[i].award_id);
		r->share_idx = w.c[i].idx;
		(void)snprintf(r->district, sizeof(r->district), "%s", w.c[i].district);
		r->amount_fen = w.c[i].fen;
		(void)snprintf(r->report_id, sizeof(r->report_id), "%s", w.c[i].report_id);
	}
	for (size_t i = 0; i < w.njobs; i++) {
		struct job *j = &w.jobs[i];
		struct wire_reveal_rep rep;
		char vwhy[160] = "", aobj[160];
		const char *award = w.c[j->first].award_id;

		memset(&rep, 0, sizeof(rep));
		(void)snprintf(aobj, sizeof(aobj), "batch:%s,award:%s", batch_id, award);
		e = reveal(ctx, &j->req, &rep, vwhy, sizeof(vwhy));
		if (e == TL_OK && !rep.ok) {
			tl_why(why, whylen, "the vault refused to reveal the payees of award %s (vault error "
			                 "\"%s\"); batch %s abandoned, nothing was exported",
			    award, rep.error, batch_id);
			audit_note(s, payer, "reveal_refused", aobj, rep.error[0] ? rep.error : "-");
			e = TL_EDENIED;
		} else if (e == TL_OK && !reply_matches(j, &rep)) {
			tl_why(why, whylen, "the vault's answer for award %s does not match the request; "
			                 "batch %s abandoned, nothing was exported", award, batch_id);
			e = TL_EPROTO;
		} else if (e != TL_OK) {
			tl_why(why, whylen, "award %s: %s; batch %s abandoned, nothing was exported", award,
			    vwhy, batch_id);
		}
		if (e == TL_OK) {
			take_rows(&w, j, &rep);
			audit_note(s, payer, "reveal", aobj, NULL);
		}
		wire_reveal_rep_free(&rep);
		if (e != TL_OK) {
			log_warn("batch %s: reveal for award %s failed: %s", batch_id, award, tl_strerror(e));
			goto fail;
		}
	}

	/* 3. The file: sealed, durable under a temporary name, its hash
	 * recorded, then renamed; only then is the batch exported. */
	file_names(batch_id, name, tmp);
	if ((e = payfile_seal(&w.pf, s->export_pk, &file, why, whylen)) != TL_OK ||
	    (e = join(dir, name, path, sizeof(path))) != TL_OK ||
	    (e = join(dir, tmp, tpath, sizeof(tpath))) != TL_OK)
		goto fail;
	if ((e = write_new(tpath, file.data, file.len)) != TL_OK) {
		tl_why(why, whylen, "cannot write %s: %s", tpath, strerror(errno));
		goto fail;
	}
	hash_hex(file.data, file.len, hash);
	pthread_mutex_lock(&s->lock);
	e = sqlv_run(s->db, "UPDATE batches SET file_name = ?2, file_hash = ?3"
	                    " WHERE batch_id = ?1 AND state = 'preparing';", "ttt", batch_id, name, hash);
	pthread_mutex_unlock(&s->lock);
	if (e != TL_OK) {
		tl_why(why, whylen, "cannot record the batch file: %s", tl_strerror(e));
		(void)unlink(tpath);
		goto fail;
	}
	if (stop == EXPORT_STOP_TMP)
		goto crash;
	if (rename(tpath, path) != 0 || fsync_dir(dir) != TL_OK) {
		tl_why(why, whylen, "cannot move the batch file into place in %s: %s", dir, strerror(errno));
		(void)unlink(tpath);
		(void)unlink(path);
		e = TL_EIO;
		goto fail;
	}
	if (stop == EXPORT_STOP_RENAMED)
		goto crash;
	pthread_mutex_lock(&s->lock);
	e = set_batch_state(s->db, batch_id, "pending", "exported", "", now_ms);
	pthread_mutex_unlock(&s->lock);
	if (e != TL_OK) {
		/* The file is in place with its hash recorded: the next export's
		 * recovery completes this batch rather than paying it twice. */
		tl_why(why, whylen, "batch %s was written but not yet marked exported (%s); the next "
		                 "export or confirm completes it", batch_id, tl_strerror(e));
		goto out;
	}
	audit_note(s, payer, "export", object, NULL);
	log_info("batch %s exported: %zu rows, %lld fen, scope %s, file %s", batch_id, w.n,
	         (long long)total, district, name);
	if (rows)
		*rows = w.n;
	tl_why(why, whylen, "batch %s: %zu rows, total %lld fen, file %s", batch_id, w.n,
	    (long long)total, name);
	e = TL_OK;
	goto out;
fail:
	(void)abandon(s, batch_id, e == TL_EDENIED ? "vault_refused" : "failed", now_ms);
	audit_note(s, payer, "export_abandoned", object, e == TL_EDENIED ? "vault_refused" : "failed");
	goto out;
crash:
	/* Test hook: stop as a killed process would, leaving the state as is. */
	tl_why(why, whylen, "stopped at test point %d", (int)stop);
	e = TL_EIO;
out:
	export_unlock(lockfd);
	work_free(&w);
	buf_free(&file);
	return e;
}

enum tl_err
payouts_batch_export(struct payouts_svc *s, const char *payer, const char *district, int64_t now_ms,
                     char batch_id[ID_HEX_LEN + 1], size_t *rows, char *why, size_t whylen)
{
	return export_batch_with(s, NULL, payer, district, now_ms, batch_id, rows, why, whylen);
}

/* ---- confirm and return ---- */

struct brow {
	char award_id[ID_HEX_LEN + 1];
	int idx;
	char report_id[ID_HEX_LEN + 1];
	char claim_id[ID_HEX_LEN + 1];
	char state[12];
};

static enum tl_err
batch_state(struct db *db, const char *batch_id, char state[12], char error[32])
{
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	if ((e = db_prepare(db, "SELECT state, error FROM batches WHERE batch_id = ?1;", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, batch_id)) != TL_OK || (e = db_step(st, &row)) != TL_OK)
		goto cleanup;
	if (!row) {
		e = TL_ENOTFOUND;
		goto cleanup;
	}
	col_copy(st, 0, state, 12);
	if (error)
		col_copy(st, 1, error, 32);
cleanup:
	db_finalize(st);
	return e;
}

static enum tl_err
load_brows(struct db *db, const char *batch_id, struct brow **out, size_t *n)
{
	struct db_stmt *st = NULL;
	struct brow *v = NULL;
	size_t cap = 0;
	bool row;
	enum tl_err e;

	*out = NULL;
	*n = 0;
	if ((e = db_prepare(db, "SELECT award_id, share_idx, report_id, claim_id, state FROM batch_rows"
	                        " WHERE batch_id = ?1 ORDER BY district, award_id, share_idx;", &st)) !=
	            TL_OK ||
	    (e = db_bind_text(st, 1, batch_id)) != TL_OK)
		goto cleanup;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		struct brow *nv = grow(v, *n, &cap, sizeof(*v), 16);

		if (!nv) {
			e = TL_ENOMEM;
			goto cleanup;
		}
		v = nv;
		col_copy(st, 0, v[*n].award_id, sizeof(v[*n].award_id));
		v[*n].idx = (int)db_col_int64(st, 1);
		col_copy(st, 2, v[*n].report_id, sizeof(v[*n].report_id));
		col_copy(st, 3, v[*n].claim_id, sizeof(v[*n].claim_id));
		col_copy(st, 4, v[*n].state, sizeof(v[*n].state));
		(*n)++;
	}
cleanup:
	db_finalize(st);
	*out = rows_or_free(e, v, n);
	return e;
}

/* Brings every reporter of the batch's cases up to date in TL_STATUS. */
static void
sync_cases(struct payouts_svc *s, const char *batch_id, int64_t now_ms)
{
	struct db_stmt *st = NULL;
	char (*ids)[ID_HEX_LEN + 1] = NULL;
	size_t n = 0, cap = 0;
	bool row;

	if (db_prepare(s->db, "SELECT DISTINCT a.case_id FROM batch_rows r JOIN awards a"
	                      " ON a.award_id = r.award_id WHERE r.batch_id = ?1;", &st) != TL_OK ||
	    db_bind_text(st, 1, batch_id) != TL_OK)
		goto cleanup;
	while (db_step(st, &row) == TL_OK && row) {
		char (*nv)[ID_HEX_LEN + 1] = grow(ids, n, &cap, sizeof(*ids), 8);

		if (!nv)
			break;
		ids = nv;
		col_copy(st, 0, ids[n], sizeof(ids[n]));
		n++;
	}
	db_finalize(st);
	st = NULL;
	for (size_t i = 0; i < n; i++)
		if (payouts_status_sync_case(s, ids[i], now_ms) != TL_OK)
			log_warn("case %s: status sync after batch %s failed; the scanner retries", ids[i],
			         batch_id);
cleanup:
	db_finalize(st);
	free(ids);
}

enum tl_err
payouts_batch_confirm(struct payouts_svc *s, const char *payer, const char *batch_id, int64_t now_ms,
                      char *why, size_t whylen)
{
	char state[12], error[32], object[80], first[384] = "";
	struct brow *r = NULL;
	size_t n = 0, paid = 0, failed = 0, returned = 0;
	enum tl_err e, fe = TL_OK;
	bool changed = false;

	tl_why(why, whylen, "ok");
	if (!payer_valid(payer) || !batch_id || !id_valid(batch_id)) {
		tl_why(why, whylen, "invalid payer or batch id");
		return TL_EINVAL;
	}
	pthread_mutex_lock(&s->lock);
	if ((e = export_migrate(s->db)) == TL_OK)
		e = batch_state(s->db, batch_id, state, error);
	pthread_mutex_unlock(&s->lock);
	if (e == TL_OK && strcmp(state, "preparing") == 0) {
		/* Either an export is writing it now (then wait) or one died. */
		if ((e = export_recover(s, now_ms, why, whylen)) == TL_EUNAVAIL) {
			tl_why(why, whylen, "batch %s is still being exported; confirm it when the file is ready",
			    batch_id);
			return e;
		}
		pthread_mutex_lock(&s->lock);
		if (e == TL_OK)
			e = batch_state(s->db, batch_id, state, error);
		pthread_mutex_unlock(&s->lock);
	}
	if (e == TL_ENOTFOUND) {
		tl_why(why, whylen, "no batch %s", batch_id);
		return e;
	}
	if (e != TL_OK) {
		if (strcmp(why, "ok") == 0)
			tl_why(why, whylen, "batch %s: %s", batch_id, tl_strerror(e));
		return e;
	}
	if (strcmp(state, "abandoned") == 0) {
		tl_why(why, whylen, "batch %s was abandoned (%s) and never handed to the bank; there is "
		                 "nothing to confirm", batch_id, error);
		return TL_EDENIED;
	}
	pthread_mutex_lock(&s->lock);
	e = load_brows(s->db, batch_id, &r, &n);
	pthread_mutex_unlock(&s->lock);
	if (e != TL_OK) {
		tl_why(why, whylen, "batch %s: cannot read its rows: %s", batch_id, tl_strerror(e));
		return e;
	}
	/* One share at a time, each durable on its own: the derived transfer
	 * id makes a rerun after a crash find what was already paid. */
	for (size_t i = 0; i < n; i++) {
		char tid[LEDGER_ID_LEN + 1], rwhy[256] = "";
		enum ledger_outcome out;

		if (strcmp(r[i].state, "returned") == 0)
			returned++;
		if (strcmp(r[i].state, "paid") == 0)
			paid++;
		if (strcmp(r[i].state, "exported") != 0)
			continue;
		transfer_id_for(batch_id, r[i].award_id, r[i].idx, tid);
		pthread_mutex_lock(&s->lock);
		e = payouts_confirm_share(s->core, r[i].award_id, r[i].idx, tid, now_ms, &out, rwhy,
		                          sizeof(rwhy));
		if (e == TL_OK)
			e = sqlv_run(s->db,
			             "UPDATE batch_rows SET state = 'paid', transfer_id = ?4, settled_ms = ?5"
			             " WHERE batch_id = ?1 AND award_id = ?2 AND share_idx = ?3"
			             " AND state = 'exported';",
			             "ttiti", batch_id, r[i].award_id, (int64_t)r[i].idx, tid, now_ms);
		pthread_mutex_unlock(&s->lock);
		if (e == TL_OK) {
			paid++;
			changed = true;
			continue;
		}
		if (db_failed(s->db)) {
			tl_why(why, whylen, "batch %s: database I/O failure while confirming (%s); restart "
			                 "and confirm again", batch_id, tl_strerror(e));
			free(r);
			return TL_EIO;
		}
		failed++;
		if (fe == TL_OK) {
			fe = e;
			(void)snprintf(first, sizeof(first), "award %s share %d: %s", r[i].award_id, r[i].idx,
			               rwhy[0] ? rwhy : tl_strerror(e));
		}
		log_warn("batch %s: award %s share %d not confirmed: %s", batch_id, r[i].award_id,
		         r[i].idx, tl_strerror(e));
	}
	pthread_mutex_lock(&s->lock);
	if (failed == 0 && strcmp(state, "exported") == 0) {
		e = sqlv_run(s->db, "UPDATE batches SET state = 'confirmed', confirmed_ms = ?2"
		                    " WHERE batch_id = ?1 AND state = 'exported';", "ti", batch_id, now_ms);
		if (e == TL_OK)
			changed = true;
	}
	/* Also after a rerun that changed nothing: a crash may have come
	 * between the payment and the status write. */
	sync_cases(s, batch_id, now_ms);
	pthread_mutex_unlock(&s->lock);
	(void)snprintf(object, sizeof(object), "batch:%s", batch_id);
	if (changed)
		audit_note(s, payer, "confirm", object, failed ? "partial" : NULL);
	if (failed) {
		tl_why(why, whylen, "batch %s: %zu row(s) paid, %zu returned, %zu could not be confirmed; "
		                 "first: %s", batch_id, paid, returned, failed, first);
		free(r);
		return fe;
	}
	if (e != TL_OK) {
		tl_why(why, whylen, "batch %s: rows paid but the batch state was not saved (%s); confirm "
		                 "again", batch_id, tl_strerror(e));
		free(r);
		return e;
	}
	tl_why(why, whylen, "batch %s %s: %zu row(s) paid, %zu returned", batch_id,
	    changed ? "confirmed" : "was already confirmed", paid, returned);
	free(r);
	return TL_OK;
}

enum tl_err
payouts_batch_return_row(struct payouts_svc *s, const char *payer, const char *batch_id,
                         const char *award_id, int share_idx, int64_t now_ms, char *why,
                         size_t whylen)
{
	struct db_stmt *st = NULL;
	struct cases_claim_row cl;
	char state[12] = "", report[ID_HEX_LEN + 1] = "", claim[ID_HEX_LEN + 1] = "", object[160];
	bool row;
	enum tl_err e;

	tl_why(why, whylen, "ok");
	if (!payer_valid(payer) || !batch_id || !id_valid(batch_id) || !award_id ||
	    !id_valid(award_id) || share_idx < 0 || share_idx > 63) {
		tl_why(why, whylen, "invalid payer, batch, award or share");
		return TL_EINVAL;
	}
	pthread_mutex_lock(&s->lock);
	if ((e = export_migrate(s->db)) != TL_OK ||
	    (e = db_prepare(s->db, "SELECT state, report_id, claim_id FROM batch_rows WHERE batch_id = ?1"
	                           " AND award_id = ?2 AND share_idx = ?3;", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, batch_id)) != TL_OK || (e = db_bind_text(st, 2, award_id)) != TL_OK ||
	    (e = db_bind_int64(st, 3, share_idx)) != TL_OK || (e = db_step(st, &row)) != TL_OK)
		goto unlock;
	if (!row) {
		tl_why(why, whylen, "batch %s has no row for award %s share %d", batch_id, award_id, share_idx);
		e = TL_ENOTFOUND;
		goto unlock;
	}
	col_copy(st, 0, state, sizeof(state));
	col_copy(st, 1, report, sizeof(report));
	col_copy(st, 2, claim, sizeof(claim));
	db_finalize(st);
	st = NULL;
	if (strcmp(state, "returned") == 0) {
		tl_why(why, whylen, "award %s share %d was already returned in batch %s", award_id, share_idx,
		    batch_id);
		e = TL_OK;
		goto unlock;
	}
	if (strcmp(state, "exported") != 0) {
		tl_why(why, whylen, "award %s share %d in batch %s is %s; only an exported, unconfirmed row "
		                 "can be returned%s", award_id, share_idx, batch_id, state,
		    strcmp(state, "paid") == 0 ? " (its payment is already confirmed in the ledger)" : "");
		e = TL_EDENIED;
		goto unlock;
	}
	/* The claim first, then the row: a crash in between leaves a row that
	 * a retry returns, and the share cannot be exported again to the same
	 * payee meanwhile.  Only the claim this row was paid to is refused: a
	 * newer claim by the reporter stands. */
	e = cases_latest_claim(s->db, report, &cl);
	if (e == TL_OK && strcmp(cl.claim_id, claim) == 0 && cl.eligible)
		e = payouts_claim_mark_rejected(s, report, now_ms);
	else if (e == TL_ENOTFOUND || e == TL_OK)
		e = TL_OK;
	if (e != TL_OK) {
		tl_why(why, whylen, "award %s share %d: cannot mark the claim refused: %s", award_id,
		    share_idx, tl_strerror(e));
		goto unlock;
	}
	if ((e = sqlv_run(s->db, "UPDATE batch_rows SET state = 'returned', settled_ms = ?4"
	                         " WHERE batch_id = ?1 AND award_id = ?2 AND share_idx = ?3"
	                         " AND state = 'exported';",
	                  "ttii", batch_id, award_id, (int64_t)share_idx, now_ms)) != TL_OK) {
		tl_why(why, whylen, "award %s share %d: cannot mark the row returned: %s", award_id,
		    share_idx, tl_strerror(e));
		goto unlock;
	}
	pthread_mutex_unlock(&s->lock);
	(void)snprintf(object, sizeof(object), "batch:%s,award:%s,share:%d", batch_id, award_id,
	               share_idx);
	audit_note(s, payer, "bank_reject", object, NULL);
	tl_why(why, whylen, "award %s share %d returned; the reporter may claim again", award_id,
	    share_idx);
	return TL_OK;
unlock:
	db_finalize(st);
	pthread_mutex_unlock(&s->lock);
	return e;
}

/* ---- views ---- */

static const char batch_cols[] =
	"SELECT b.batch_id, b.created_ms, coalesce(b.exported_ms, 0), coalesce(b.confirmed_ms, 0),"
	" b.payer, b.scope, b.state, coalesce(b.file_name, ''), coalesce(b.file_hash, ''),"
	" b.row_count, b.total_fen,"
	" (SELECT count(*) FROM batch_rows r WHERE r.batch_id = b.batch_id AND r.state = 'paid'),"
	" (SELECT count(*) FROM batch_rows r WHERE r.batch_id = b.batch_id AND r.state = 'returned'),"
	" b.error FROM batches b";

static void
batch_fill(struct db_stmt *st, struct export_batch *b)
{
	memset(b, 0, sizeof(*b));
	col_copy(st, 0, b->batch_id, sizeof(b->batch_id));
	b->created_ms = db_col_int64(st, 1);
	b->exported_ms = db_col_int64(st, 2);
	b->confirmed_ms = db_col_int64(st, 3);
	col_copy(st, 4, b->payer, sizeof(b->payer));
	col_copy(st, 5, b->scope, sizeof(b->scope));
	col_copy(st, 6, b->state, sizeof(b->state));
	col_copy(st, 7, b->file_name, sizeof(b->file_name));
	col_copy(st, 8, b->file_hash, sizeof(b->file_hash));
	b->row_count = db_col_int64(st, 9);
	b->total_fen = db_col_int64(st, 10);
	b->rows_paid = db_col_int64(st, 11);
	b->rows_returned = db_col_int64(st, 12);
	col_copy(st, 13, b->error, sizeof(b->error));
}

enum tl_err
export_batches_list(struct payouts_svc *s, size_t max, struct export_batch **out, size_t *n)
{
	char sql[sizeof(batch_cols) + 64];
	struct db_stmt *st = NULL;
	struct export_batch *v;
	bool row;
	enum tl_err e;

	*out = NULL;
	*n = 0;
	if (max == 0)
		return TL_OK;
	if (!(v = calloc(max, sizeof(*v))))
		return TL_ENOMEM;
	(void)snprintf(sql, sizeof(sql), "%s ORDER BY b.created_ms DESC, b.batch_id LIMIT ?1;", batch_cols);
	pthread_mutex_lock(&s->lock);
	if ((e = export_migrate(s->db)) == TL_OK && (e = db_prepare(s->db, sql, &st)) == TL_OK &&
	    (e = db_bind_int64(st, 1, (int64_t)max)) == TL_OK)
		while (*n < max && (e = db_step(st, &row)) == TL_OK && row)
			batch_fill(st, &v[(*n)++]);
	db_finalize(st);
	pthread_mutex_unlock(&s->lock);
	*out = rows_or_free(e, v, n);
	return e;
}

enum tl_err
export_batch_get(struct payouts_svc *s, const char *batch_id, struct export_batch *b,
                 struct export_row **rows, size_t *n)
{
	char sql[sizeof(batch_cols) + 64];
	struct db_stmt *st = NULL;
	struct export_row *v = NULL;
	size_t cap = 0;
	bool row;
	enum tl_err e;

	*rows = NULL;
	*n = 0;
	if (!batch_id || !id_valid(batch_id))
		return TL_ENOTFOUND;
	(void)snprintf(sql, sizeof(sql), "%s WHERE b.batch_id = ?1;", batch_cols);
	pthread_mutex_lock(&s->lock);
	if ((e = export_migrate(s->db)) != TL_OK || (e = db_prepare(s->db, sql, &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, batch_id)) != TL_OK || (e = db_step(st, &row)) != TL_OK)
		goto cleanup;
	if (!row) {
		e = TL_ENOTFOUND;
		goto cleanup;
	}
	batch_fill(st, b);
	db_finalize(st);
	st = NULL;
	if ((e = db_prepare(s->db, "SELECT award_id, share_idx, report_id, district, amount_fen, state,"
	                           " coalesce(transfer_id, '') FROM batch_rows WHERE batch_id = ?1"
	                           " ORDER BY district, award_id, share_idx;", &st)) != TL_OK ||
	    (e = db_bind_text(st, 1, batch_id)) != TL_OK)
		goto cleanup;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		struct export_row *nv = grow(v, *n, &cap, sizeof(*v), 16), *x;

		if (!nv) {
			e = TL_ENOMEM;
			goto cleanup;
		}
		v = nv;
		x = &v[(*n)++];
		memset(x, 0, sizeof(*x));
		col_copy(st, 0, x->award_id, sizeof(x->award_id));
		x->share_idx = (int)db_col_int64(st, 1);
		col_copy(st, 2, x->report_id, sizeof(x->report_id));
		col_copy(st, 3, x->district, sizeof(x->district));
		x->amount_fen = db_col_int64(st, 4);
		col_copy(st, 5, x->state, sizeof(x->state));
		col_copy(st, 6, x->transfer_id, sizeof(x->transfer_id));
	}
cleanup:
	db_finalize(st);
	pthread_mutex_unlock(&s->lock);
	*rows = rows_or_free(e, v, n);
	return e;
}
