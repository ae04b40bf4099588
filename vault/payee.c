#include "compat.h"
#include "payee.h"
#include "idnum.h"
#include "num.h"
#include "utf8.h"

#include <sodium.h>
#include <sys/stat.h>

/* Longest exclusion-file line we read (a hash is 64 characters; comments
 * may be longer but not unbounded). */
#define EXCL_LINE_MAX 1024

const char *
payee_verdict_reason(enum payee_verdict v)
{
	switch (v) {
	case PAYEE_INVALID_ID: return "invalid_id";
	case PAYEE_INVALID_PAYEE: return "invalid_payee";
	case PAYEE_EXCLUDED: return "excluded";
	case PAYEE_OK:
	default: return "";
	}
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Removes leading and trailing ASCII whitespace in place. */
static void
trim(char *s)
{
	size_t n = strlen(s), start = 0;

	while (n > 0 && is_space(s[n - 1]))
		n--;
	while (start < n && is_space(s[start]))
		start++;
	memmove(s, s + start, n - start);
	s[n - start] = '\0';
}

/* Removes every character of drop in place. */
static void
squeeze(char *s, const char *drop)
{
	size_t n = 0;

	for (char *p = s; *p; p++)
		if (!strchr(drop, *p))
			s[n++] = *p;
	s[n] = '\0';
}

enum tl_err
payee_id_normalise(const char *in, char out[PAYEE_ID_LEN + 1])
{
	size_t n = 0;

	out[0] = '\0';
	if (!in)
		return TL_EINVAL;
	for (const char *p = in; *p; p++) {
		if (*p == ' ')
			continue;
		if (n == PAYEE_ID_LEN)
			goto bad;
		out[n++] = *p == 'x' ? 'X' : *p;
	}
	out[n] = '\0';
	if (!idnum_valid(out, n))
		goto bad;
	return TL_OK;
bad:
	sodium_memzero(out, PAYEE_ID_LEN + 1);
	return TL_EINVAL;
}

static bool
all_digits(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

/* min..max code points, no control characters, and (for names) no digits,
 * ASCII or full-width. */
static bool
text_ok(const char *s, size_t min, size_t max, bool no_digits)
{
	size_t len = strlen(s), nch = 0, i = 0;

	if (!utf8_valid(s, len, &nch) || nch < min || nch > max)
		return false;
	while (i < len) {
		int32_t cp = utf8_next(s, len, &i);

		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0x2028 || cp == 0x2029)
			return false;
		if (no_digits && ((cp >= '0' && cp <= '9') || (cp >= 0xFF10 && cp <= 0xFF19)))
			return false;
	}
	return true;
}

enum tl_err
payee_check(struct wire_payee *p, enum payee_verdict *v)
{
	char id[PAYEE_ID_LEN + 1];
	char *fields[] = { p->name, p->id_number, p->bank, p->account, p->phone };

	*v = PAYEE_INVALID_PAYEE;
	for (size_t i = 0; i < TL_ARRAY_LEN(fields); i++) {
		if (!fields[i])
			return TL_OK;
		trim(fields[i]);
	}
	/* People write account and phone numbers in groups. */
	squeeze(p->account, " -");
	squeeze(p->phone, " -");
	if (payee_id_normalise(p->id_number, id) != TL_OK) {
		*v = PAYEE_INVALID_ID;
		return TL_OK;
	}
	/* The normalised form is never longer than the input. */
	memcpy(p->id_number, id, sizeof(id));
	sodium_memzero(id, sizeof(id));
	if (!text_ok(p->name, 1, 30, true) || !text_ok(p->bank, 2, 60, false) ||
	    !all_digits(p->account, 12, 30) || !all_digits(p->phone, 11, 11) || p->phone[0] != '1')
		return TL_OK;
	*v = PAYEE_OK;
	return TL_OK;
}

void
payee_excl_hash(const unsigned char key[PAYEE_EXCL_KEY_LEN], const char id[PAYEE_ID_LEN + 1],
                unsigned char out[PAYEE_EXCL_HASH_LEN])
{
	crypto_generichash(out, PAYEE_EXCL_HASH_LEN, (const unsigned char *)id, PAYEE_ID_LEN, key,
	                   PAYEE_EXCL_KEY_LEN);
}

/* ---- the exclusion list ---- */

struct payee_excl {
	char *path;
	bool loaded;
	struct stat st; /* of the file as last read */
	unsigned char (*h)[PAYEE_EXCL_HASH_LEN];
	size_t n;
};

static int
cmp_hash(const void *a, const void *b)
{
	return memcmp(a, b, PAYEE_EXCL_HASH_LEN);
}

enum tl_err
payee_excl_new(const char *path, struct payee_excl **out)
{
	struct payee_excl *x = calloc(1, sizeof(*x));

	*out = NULL;
	if (!x || !(x->path = strdup(path))) {
		free(x);
		return TL_ENOMEM;
	}
	*out = x;
	return TL_OK;
}

void
payee_excl_free(struct payee_excl *x)
{
	if (!x)
		return;
	free(x->h);
	free(x->path);
	free(x);
}

size_t
payee_excl_count(const struct payee_excl *x)
{
	return x->loaded ? x->n : 0;
}

static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static enum tl_err
excl_read(struct payee_excl *x, const struct stat *st, char *why, size_t whylen)
{
	FILE *f = fopen(x->path, "re");
	unsigned char (*h)[PAYEE_EXCL_HASH_LEN] = NULL;
	size_t n = 0, cap = 0, lineno = 0;
	char line[EXCL_LINE_MAX + 2];
	enum tl_err e = TL_OK;

	if (!f) {
		snprintf(why, whylen, "%s: cannot open the exclusion list: %s", x->path, strerror(errno));
		return TL_EIO;
	}
	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);

		lineno++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			snprintf(why, whylen, "%s line %zu: longer than %d bytes", x->path, lineno,
			         EXCL_LINE_MAX);
			e = TL_EPROTO;
			goto out;
		}
		trim(line);
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (n == PAYEE_EXCL_MAX) {
			snprintf(why, whylen, "%s: more than %d hashes", x->path, PAYEE_EXCL_MAX);
			e = TL_ETOOBIG;
			goto out;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			void *p = realloc(h, nc * sizeof(*h));
			if (!p) {
				e = TL_ENOMEM;
				goto out;
			}
			h = p;
			cap = nc;
		}
		if (strlen(line) != PAYEE_EXCL_HEX_LEN ||
		    hex_decode(line, PAYEE_EXCL_HEX_LEN, h[n], PAYEE_EXCL_HASH_LEN) != TL_OK) {
			snprintf(why, whylen,
			         "%s line %zu: expected a 64-character hex hash from `tipline-vault "
			         "exclusion-hash` (or a # comment)",
			         x->path, lineno);
			e = TL_EPROTO;
			goto out;
		}
		n++;
	}
	if (ferror(f)) {
		snprintf(why, whylen, "%s: read error", x->path);
		e = TL_EIO;
		goto out;
	}
	if (n > 1)
		qsort(h, n, sizeof(*h), cmp_hash);
	free(x->h);
	x->h = h;
	x->n = n;
	x->st = *st;
	x->loaded = true;
	h = NULL;
out:
	free(h);
	fclose(f);
	return e;
}

enum tl_err
payee_excl_contains(struct payee_excl *x, const unsigned char hash[PAYEE_EXCL_HASH_LEN], bool *found,
                    char *why, size_t whylen)
{
	struct stat st;
	enum tl_err e;

	*found = false;
	if (stat(x->path, &st) != 0) {
		snprintf(why, whylen, "%s: cannot read the exclusion list: %s", x->path, strerror(errno));
		return TL_EIO;
	}
	if (!x->loaded || !same_file(&st, &x->st)) {
		if ((e = excl_read(x, &st, why, whylen)) != TL_OK) {
			/* Never decide against a list we could not read whole. */
			x->loaded = false;
			return e;
		}
	}
	*found = x->n > 0 && bsearch(hash, x->h, x->n, sizeof(*x->h), cmp_hash) != NULL;
	return TL_OK;
}
