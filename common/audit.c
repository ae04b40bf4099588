#include "compat.h"
#include "audit.h"
#include "num.h"
#include "timefmt.h"

#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define AUDIT_TAG "tla1"
#define AUDIT_NFIELDS 11
#define AUDIT_SEQ_MAX ((uint64_t)1 << 62)

enum { F_TAG, F_SEQ, F_TIME, F_SERVICE, F_ACTOR, F_ACTION, F_OBJECT, F_REASON, F_PREV, F_HASH, F_SIG };

struct audit {
	pthread_mutex_t mu;
	int fd;
	bool broken;                  /* a failed write left the file in doubt */
	uint64_t seq;                 /* last seq written */
	off_t size;                   /* file size after the last good append */
	unsigned char prev[AUDIT_HASH_BYTES];
	unsigned char *sk;            /* sodium_malloc, no-access except while signing */
	char service[AUDIT_SERVICE_MAX + 1];
};

const char *
audit_fault_str(enum audit_fault f)
{
	switch (f) {
	case AUDIT_FAULT_NONE: return "ok";
	case AUDIT_FAULT_PARSE: return "parse error";
	case AUDIT_FAULT_TOOLONG: return "line too long";
	case AUDIT_FAULT_TRUNCATED: return "truncated last line";
	case AUDIT_FAULT_SEQ: return "seq gap";
	case AUDIT_FAULT_PREV: return "prev-hash mismatch";
	case AUDIT_FAULT_HASH: return "entry hash mismatch";
	case AUDIT_FAULT_SIG: return "bad signature";
	}
	return "unknown";
}

static bool
token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == ':' || c == ',' || c == '@' || c == '=' || c == '/' || c == '+' ||
	       c == '-';
}

/* TL_OK if s[0..len) is a token of at most max characters. */
static enum tl_err
token_check(const char *s, size_t len, size_t max)
{
	if (len == 0)
		return TL_EINVAL;
	if (len > max)
		return TL_ETOOBIG;
	for (size_t i = 0; i < len; i++)
		if (!token_char(s[i]))
			return TL_EINVAL;
	return TL_OK;
}

static bool
lower_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static enum tl_err
parse_fail(char *why, size_t whylen, const char *msg)
{
	if (why && whylen)
		snprintf(why, whylen, "%s", msg);
	return TL_EPROTO;
}

enum tl_err
audit_parse_line(const char *line, size_t len, struct audit_entry *e, char *why, size_t whylen)
{
	static const size_t maxes[] = {
		[F_SERVICE] = AUDIT_SERVICE_MAX, [F_ACTOR] = AUDIT_ACTOR_MAX, [F_ACTION] = AUDIT_ACTION_MAX,
		[F_OBJECT] = AUDIT_OBJECT_MAX, [F_REASON] = AUDIT_REASON_MAX,
	};
	static const char *const names[] = {
		"tag", "seq", "time", "service", "actor", "action", "object", "reason", "prev", "hash", "sig",
	};
	size_t start[AUDIT_NFIELDS], flen[AUDIT_NFIELDS], nf = 0, from = 0;
	char msg[96];
	char tbuf[RFC3339_LEN + 1];

	memset(e, 0, sizeof(*e));
	if (len >= AUDIT_LINE_MAX)
		return parse_fail(why, whylen, "line too long");
	if (len == 0)
		return parse_fail(why, whylen, "empty line");
	for (size_t i = 0; i <= len; i++) {
		if (i < len && line[i] != '\t')
			continue;
		if (nf == AUDIT_NFIELDS)
			return parse_fail(why, whylen, "too many fields");
		start[nf] = from;
		flen[nf] = i - from;
		if (flen[nf] == 0) {
			snprintf(msg, sizeof(msg), "empty %s field", names[nf]);
			return parse_fail(why, whylen, msg);
		}
		nf++;
		from = i + 1;
	}
	if (nf != AUDIT_NFIELDS)
		return parse_fail(why, whylen, "too few fields");
	memcpy(e->text, line, len);
	e->text[len] = '\0';
	for (size_t f = 0; f < AUDIT_NFIELDS; f++)
		e->text[start[f] + flen[f]] = '\0'; /* the TAB after each field, or the end */

	if (flen[F_TAG] != 4 || memcmp(line, AUDIT_TAG, 4) != 0)
		return parse_fail(why, whylen, "unknown version tag");
	/* seq: decimal, no leading zero, >= 1 */
	{
		const char *s = line + start[F_SEQ];
		for (size_t i = 0; i < flen[F_SEQ]; i++)
			if (s[i] < '0' || s[i] > '9')
				return parse_fail(why, whylen, "bad seq");
		if (s[0] == '0' || num_parse_u64(s, flen[F_SEQ], AUDIT_SEQ_MAX, &e->seq) != TL_OK)
			return parse_fail(why, whylen, "bad seq");
	}
	/* time: exactly the form we write, and it must round-trip */
	{
		const char *s = e->text + start[F_TIME];
		if (flen[F_TIME] != RFC3339_LEN)
			return parse_fail(why, whylen, "bad time");
		for (size_t i = 0; i < RFC3339_LEN; i++)
			if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
				return parse_fail(why, whylen, "bad time");
		if (time_parse_rfc3339(s, &e->time_ms) != TL_OK)
			return parse_fail(why, whylen, "bad time");
		time_format_rfc3339(e->time_ms, tbuf);
		if (memcmp(tbuf, s, RFC3339_LEN) != 0)
			return parse_fail(why, whylen, "bad time");
	}
	for (size_t f = F_SERVICE; f <= F_REASON; f++) {
		if (token_check(line + start[f], flen[f], maxes[f]) != TL_OK) {
			snprintf(msg, sizeof(msg), "bad %s field", names[f]);
			return parse_fail(why, whylen, msg);
		}
	}
	if (flen[F_PREV] != AUDIT_HASH_HEX || !lower_hex(line + start[F_PREV], flen[F_PREV]) ||
	    hex_decode(line + start[F_PREV], flen[F_PREV], e->prev, sizeof(e->prev)) != TL_OK)
		return parse_fail(why, whylen, "bad prev field");
	if (flen[F_HASH] != AUDIT_HASH_HEX || !lower_hex(line + start[F_HASH], flen[F_HASH]) ||
	    hex_decode(line + start[F_HASH], flen[F_HASH], e->hash, sizeof(e->hash)) != TL_OK)
		return parse_fail(why, whylen, "bad hash field");
	if (flen[F_SIG] != 2 * sizeof(e->sig) || !lower_hex(line + start[F_SIG], flen[F_SIG]) ||
	    hex_decode(line + start[F_SIG], flen[F_SIG], e->sig, sizeof(e->sig)) != TL_OK)
		return parse_fail(why, whylen, "bad sig field");
	e->service = e->text + start[F_SERVICE];
	e->actor = e->text + start[F_ACTOR];
	e->action = e->text + start[F_ACTION];
	e->object = e->text + start[F_OBJECT];
	e->reason = e->text + start[F_REASON];
	e->canon_len = start[F_PREV] + flen[F_PREV];
	e->signed_len = start[F_HASH] + flen[F_HASH];
	return TL_OK;
}

/* Checks what the line proves about itself: hash and signature.  line is
 * the original text (TABs intact). */
static enum audit_fault
entry_check_crypto(const char *line, const struct audit_entry *e, const unsigned char *pk)
{
	unsigned char h[AUDIT_HASH_BYTES];

	crypto_generichash(h, sizeof(h), (const unsigned char *)line, e->canon_len, NULL, 0);
	if (sodium_memcmp(h, e->hash, sizeof(h)) != 0)
		return AUDIT_FAULT_HASH;
	if (crypto_sign_verify_detached(e->sig, (const unsigned char *)line, e->signed_len, pk) != 0)
		return AUDIT_FAULT_SIG;
	return AUDIT_FAULT_NONE;
}

/* ---- verification ---------------------------------------------------- */

struct vstate {
	const unsigned char *pk;
	struct audit_report *r;
	unsigned char prev[AUDIT_HASH_BYTES];
	uint64_t line;      /* lines completed */
	char buf[AUDIT_LINE_MAX];
	size_t len;         /* bytes of the current line so far */
	bool toolong;
	bool stop;
	struct audit_entry e;
};

static void
vs_init(struct vstate *vs, const unsigned char *pk, struct audit_report *r)
{
	memset(r, 0, sizeof(*r));
	memset(vs->prev, 0, sizeof(vs->prev));
	vs->pk = pk;
	vs->r = r;
	vs->line = 0;
	vs->len = 0;
	vs->toolong = false;
	vs->stop = false;
	hex_encode(vs->prev, sizeof(vs->prev), r->head);
}

static void
vs_break(struct vstate *vs, enum audit_fault f, const char *detail)
{
	struct audit_report *r = vs->r;

	r->fault = f;
	r->bad_entry = r->entries + 1;
	r->bad_line = vs->line + 1;
	if (detail && *detail && strcmp(detail, audit_fault_str(f)) != 0)
		snprintf(r->why, sizeof(r->why), "%s: %s", audit_fault_str(f), detail);
	else
		snprintf(r->why, sizeof(r->why), "%s", audit_fault_str(f));
	vs->stop = true;
}

/* One complete line (without its LF). */
static void
vs_line(struct vstate *vs, const char *line, size_t len)
{
	struct audit_report *r = vs->r;
	uint64_t want = r->entries + 1;
	enum audit_fault f;
	char why[120];

	if (audit_parse_line(line, len, &vs->e, why, sizeof(why)) != TL_OK) {
		vs_break(vs, AUDIT_FAULT_PARSE, why);
		return;
	}
	if (vs->e.seq != want) {
		snprintf(why, sizeof(why), "expected seq %llu, found %llu", (unsigned long long)want,
		         (unsigned long long)vs->e.seq);
		vs_break(vs, AUDIT_FAULT_SEQ, why);
		return;
	}
	if (sodium_memcmp(vs->e.prev, vs->prev, sizeof(vs->prev)) != 0) {
		vs_break(vs, AUDIT_FAULT_PREV,
		         want == 1 ? "first entry must have an all-zero prev"
		                   : "does not match the previous entry's hash");
		return;
	}
	if ((f = entry_check_crypto(line, &vs->e, vs->pk)) != AUDIT_FAULT_NONE) {
		vs_break(vs, f, f == AUDIT_FAULT_SIG ? "entry altered, or signed by another key"
		                                     : "entry altered");
		return;
	}
	memcpy(vs->prev, vs->e.hash, sizeof(vs->prev));
	r->entries = want;
	hex_encode(vs->prev, sizeof(vs->prev), r->head);
	vs->line++;
}

static void
vs_feed(struct vstate *vs, const char *p, size_t n)
{
	while (n > 0 && !vs->stop) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;

		if (!vs->toolong) {
			if (vs->len + take >= AUDIT_LINE_MAX) {
				vs->toolong = true;
			} else {
				memcpy(vs->buf + vs->len, p, take);
				vs->len += take;
			}
		}
		if (!nl)
			return;
		if (vs->toolong) {
			vs_break(vs, AUDIT_FAULT_TOOLONG, "longer than the line limit");
			return;
		}
		vs_line(vs, vs->buf, vs->len);
		vs->len = 0;
		p = nl + 1;
		n -= take + 1;
	}
}

static enum tl_err
vs_finish(struct vstate *vs)
{
	if (!vs->stop && (vs->len > 0 || vs->toolong))
		vs_break(vs, AUDIT_FAULT_TRUNCATED, "no newline at end of file (interrupted append?)");
	return vs->r->fault == AUDIT_FAULT_NONE ? TL_OK : TL_EPROTO;
}

enum tl_err
audit_verify_mem(const char *data, size_t len, const unsigned char *pk, struct audit_report *r)
{
	struct vstate *vs = malloc(sizeof(*vs));
	enum tl_err e;

	if (!vs) {
		memset(r, 0, sizeof(*r));
		snprintf(r->why, sizeof(r->why), "out of memory");
		return TL_ENOMEM;
	}
	vs_init(vs, pk, r);
	vs_feed(vs, data, len);
	e = vs_finish(vs);
	free(vs);
	return e;
}

enum tl_err
audit_verify(const char *path, const unsigned char *pk, struct audit_report *r)
{
	struct vstate *vs = NULL;
	char *chunk = NULL;
	enum tl_err e = TL_OK;
	ssize_t n;
	int fd;

	memset(r, 0, sizeof(*r));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(r->why, sizeof(r->why), "cannot open: %s", strerror(errno));
		return errno == ENOENT ? TL_ENOTFOUND : TL_EIO;
	}
	if (!(vs = malloc(sizeof(*vs))) || !(chunk = malloc(65536))) {
		snprintf(r->why, sizeof(r->why), "out of memory");
		e = TL_ENOMEM;
		goto cleanup;
	}
	vs_init(vs, pk, r);
	while (!vs->stop) {
		n = read(fd, chunk, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(r->why, sizeof(r->why), "read error: %s", strerror(errno));
			e = TL_EIO;
			goto cleanup;
		}
		if (n == 0)
			break;
		vs_feed(vs, chunk, (size_t)n);
	}
	e = vs_finish(vs);
cleanup:
	free(chunk);
	free(vs);
	close(fd);
	return e;
}

/* ---- appending -------------------------------------------------------- */

static void
fsync_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	size_t n;
	int fd;

	if (!slash) {
		dir[0] = '.';
		dir[1] = '\0';
	} else {
		n = slash == path ? 1 : (size_t)(slash - path);
		if (n >= sizeof(dir))
			return;
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* Recovers seq and prev from the last line; verifies that line. */
static enum tl_err
read_tail(struct audit *a, const unsigned char *pk)
{
	char buf[AUDIT_LINE_MAX + 1];
	struct audit_entry *e = NULL;
	struct stat st;
	size_t k, start;
	ssize_t n;
	enum tl_err err = TL_OK;

	if (fstat(a->fd, &st) != 0)
		return TL_EIO;
	if (!S_ISREG(st.st_mode))
		return TL_EINVAL;
	a->size = st.st_size;
	a->seq = 0;
	memset(a->prev, 0, sizeof(a->prev));
	if (st.st_size == 0)
		return TL_OK;
	k = st.st_size > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)st.st_size;
	n = pread(a->fd, buf, k, st.st_size - (off_t)k);
	if (n != (ssize_t)k)
		return TL_EIO;
	if (buf[k - 1] != '\n')
		return TL_EPROTO; /* interrupted append: an operator must look */
	start = k - 1;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	if (start == 0 && k < (size_t)st.st_size && k == sizeof(buf))
		return TL_EPROTO; /* last line longer than any entry */
	if (!(e = malloc(sizeof(*e))))
		return TL_ENOMEM;
	if (audit_parse_line(buf + start, k - 1 - start, e, NULL, 0) != TL_OK ||
	    entry_check_crypto(buf + start, e, pk) != AUDIT_FAULT_NONE) {
		err = TL_EPROTO;
		goto cleanup;
	}
	if (e->seq == 1 && !sodium_is_zero(e->prev, sizeof(e->prev))) {
		err = TL_EPROTO;
		goto cleanup;
	}
	a->seq = e->seq;
	memcpy(a->prev, e->hash, sizeof(a->prev));
cleanup:
	free(e);
	return err;
}

enum tl_err
audit_open(const char *path, const char *service, const unsigned char *sk, struct audit **out)
{
	struct audit *a = NULL;
	unsigned char pk[AUDIT_PK_BYTES];
	enum tl_err e;
	size_t slen;

	*out = NULL;
	if (!path || !service || !sk)
		return TL_EINVAL;
	slen = strlen(service);
	if ((e = token_check(service, slen, AUDIT_SERVICE_MAX)) != TL_OK)
		return e;
	if (!(a = calloc(1, sizeof(*a))))
		return TL_ENOMEM;
	a->fd = -1;
	memcpy(a->service, service, slen + 1);
	if (pthread_mutex_init(&a->mu, NULL) != 0) {
		free(a);
		return TL_ENOMEM;
	}
	if (!(a->sk = sodium_malloc(AUDIT_SK_BYTES))) {
		e = TL_ENOMEM;
		goto cleanup;
	}
	memcpy(a->sk, sk, AUDIT_SK_BYTES);
	crypto_sign_ed25519_sk_to_pk(pk, a->sk);
	sodium_mprotect_noaccess(a->sk);
	a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (a->fd < 0) {
		e = errno == ENOENT ? TL_ENOTFOUND : errno == EACCES ? TL_EDENIED : TL_EIO;
		goto cleanup;
	}
	if (flock(a->fd, LOCK_EX | LOCK_NB) != 0) {
		e = errno == EWOULDBLOCK ? TL_EUNAVAIL : TL_EIO;
		goto cleanup;
	}
	if ((e = read_tail(a, pk)) != TL_OK)
		goto cleanup;
	if (a->size == 0)
		fsync_parent(path);
	*out = a;
	return TL_OK;
cleanup:
	audit_close(a);
	return e;
}

static enum tl_err
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return TL_EIO;
		p += w;
		n -= (size_t)w;
	}
	return TL_OK;
}

enum tl_err
audit_append(struct audit *a, const char *actor, const char *action, const char *object,
             const char *reason)
{
	char line[AUDIT_LINE_MAX + 1], ts[RFC3339_LEN + 1], prevhex[AUDIT_HASH_HEX + 1];
	char hashhex[AUDIT_HASH_HEX + 1], sighex[2 * crypto_sign_BYTES + 1];
	unsigned char h[AUDIT_HASH_BYTES], sig[crypto_sign_BYTES];
	size_t canon, len;
	enum tl_err e;
	int n;

	if (!a || !actor || !action || !object)
		return TL_EINVAL;
	if (!reason)
		reason = "-";
	if ((e = token_check(actor, strlen(actor), AUDIT_ACTOR_MAX)) != TL_OK ||
	    (e = token_check(action, strlen(action), AUDIT_ACTION_MAX)) != TL_OK ||
	    (e = token_check(object, strlen(object), AUDIT_OBJECT_MAX)) != TL_OK ||
	    (e = token_check(reason, strlen(reason), AUDIT_REASON_MAX)) != TL_OK)
		return e;

	pthread_mutex_lock(&a->mu);
	if (a->broken) {
		e = TL_EIO;
		goto cleanup;
	}
	if (a->seq >= AUDIT_SEQ_MAX) {
		e = TL_ETOOBIG;
		goto cleanup;
	}
	time_format_rfc3339(time_now_ms(), ts);
	hex_encode(a->prev, sizeof(a->prev), prevhex);
	n = snprintf(line, sizeof(line), AUDIT_TAG "\t%llu\t%s\t%s\t%s\t%s\t%s\t%s\t%s",
	             (unsigned long long)(a->seq + 1), ts, a->service, actor, action, object, reason,
	             prevhex);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		e = TL_ETOOBIG;
		goto cleanup;
	}
	canon = (size_t)n;
	crypto_generichash(h, sizeof(h), (const unsigned char *)line, canon, NULL, 0);
	hex_encode(h, sizeof(h), hashhex);
	n = snprintf(line + canon, sizeof(line) - canon, "\t%s", hashhex);
	if (n < 0 || (size_t)n >= sizeof(line) - canon) {
		e = TL_ETOOBIG;
		goto cleanup;
	}
	len = canon + (size_t)n;
	sodium_mprotect_readonly(a->sk);
	n = crypto_sign_detached(sig, NULL, (const unsigned char *)line, len, a->sk);
	sodium_mprotect_noaccess(a->sk);
	if (n != 0) {
		e = TL_ECRYPTO;
		goto cleanup;
	}
	hex_encode(sig, sizeof(sig), sighex);
	n = snprintf(line + len, sizeof(line) - len, "\t%s\n", sighex);
	if (n < 0 || (size_t)n >= sizeof(line) - len || len + (size_t)n > AUDIT_LINE_MAX - 1) {
		e = TL_ETOOBIG;
		goto cleanup;
	}
	len += (size_t)n;
	if (write_all(a->fd, line, len) != TL_OK) {
		/* Cut the partial line off so the chain stays appendable. */
		if (ftruncate(a->fd, a->size) != 0 || fsync(a->fd) != 0)
			a->broken = true;
		e = TL_EIO;
		goto cleanup;
	}
	if (fsync(a->fd) != 0) {
		/* After a failed fsync the page cache state is unknown. */
		a->broken = true;
		e = TL_EIO;
		goto cleanup;
	}
	a->size += (off_t)len;
	a->seq++;
	memcpy(a->prev, h, sizeof(a->prev));
	e = TL_OK;
cleanup:
	pthread_mutex_unlock(&a->mu);
	return e;
}

uint64_t
audit_seq(struct audit *a)
{
	uint64_t s;

	pthread_mutex_lock(&a->mu);
	s = a->seq;
	pthread_mutex_unlock(&a->mu);
	return s;
}

void
audit_close(struct audit *a)
{
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd); /* releases the flock */
	if (a->sk) {
		sodium_mprotect_readwrite(a->sk);
		sodium_free(a->sk); /* wipes */
	}
	pthread_mutex_destroy(&a->mu);
	sodium_memzero(a, sizeof(*a));
	free(a);
}
