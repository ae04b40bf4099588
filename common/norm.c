#include "compat.h"
#include "norm.h"
#include "utf8.h"

/*
 * Single pass.  Unchanged bytes are copied in bulk (memcpy of the pending
 * run) and only characters that change are touched one by one, so plain
 * Chinese text costs little more than a validation pass.
 */

struct nstate {
	const unsigned char *in;
	size_t len;
	char *out;
	size_t olen;
	size_t copy_from; /* start of the pending unchanged run in `in` */
	struct norm_mark *marks;
	size_t nmarks, cap;
	enum tl_err err;
};

int
norm_digit_value(uint32_t cp)
{
	switch (cp) {
	case 0x96F6: /* 零 */
	case 0x3007: /* 〇 */
	case 0x6D1E: /* 洞 */
	case 0x24EA: /* ⓪ */
		return 0;
	case 0x4E00: /* 一 */
	case 0x5E7A: /* 幺 */
		return 1;
	case 0x4E8C: /* 二 */
	case 0x4E24: /* 两 */
		return 2;
	case 0x4E09: return 3; /* 三 */
	case 0x56DB: return 4; /* 四 */
	case 0x4E94: return 5; /* 五 */
	case 0x516D: return 6; /* 六 */
	case 0x4E03: /* 七 */
	case 0x62D0: /* 拐 */
		return 7;
	case 0x516B: return 8; /* 八 */
	case 0x4E5D: /* 九 */
	case 0x52FE: /* 勾 */
		return 9;
	default:
		break;
	}
	if (cp >= 0x2460 && cp <= 0x2468) /* ①..⑨ */
		return (int)(cp - 0x2460 + 1);
	if (cp >= 0x2776 && cp <= 0x277E) /* ❶..❾ */
		return (int)(cp - 0x2776 + 1);
	return -1;
}

/* Records that from normalised offset n the original offset is o. */
static void
mark(struct nstate *st, size_t n, size_t o)
{
	struct norm_mark *m;

	if (st->err)
		return;
	m = &st->marks[st->nmarks - 1];
	if (m->o - m->n == o - n) /* same distance: the old mark still holds */
		return;
	if (m->n == n) {
		m->o = o;
		return;
	}
	if (st->nmarks == st->cap) {
		size_t ncap = st->cap * 2;
		struct norm_mark *p = realloc(st->marks, ncap * sizeof(*p));
		if (!p) {
			st->err = TL_ENOMEM;
			return;
		}
		st->marks = p;
		st->cap = ncap;
	}
	st->marks[st->nmarks].n = n;
	st->marks[st->nmarks].o = o;
	st->nmarks++;
}

static void
flush(struct nstate *st, size_t upto)
{
	size_t n = upto - st->copy_from;

	if (n) {
		memcpy(st->out + st->olen, st->in + st->copy_from, n);
		st->olen += n;
	}
}

/* Replaces in[i..i+ilen) by rep[0..rlen). */
static void
replace(struct nstate *st, size_t i, size_t ilen, const char *rep, size_t rlen)
{
	flush(st, i);
	if (rlen)
		memcpy(st->out + st->olen, rep, rlen);
	st->olen += rlen;
	st->copy_from = i + ilen;
	mark(st, st->olen, i + ilen);
}

/* ASCII for a full-width form, or 0 to keep the character. */
static char
fold_fullwidth(uint32_t cp)
{
	if (cp < 0xFF01 || cp > 0xFF5E)
		return 0;
	switch (cp) {
	case 0xFF01: /* ！ */
	case 0xFF08: /* （ */
	case 0xFF09: /* ） */
	case 0xFF0C: /* ， */
	case 0xFF1A: /* ： */
	case 0xFF1B: /* ； */
	case 0xFF1F: /* ？ */
		return 0;
	default:
		return (char)(cp - 0xFF01 + 0x21);
	}
}

static bool
is_dash(uint32_t cp)
{
	return (cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212 || cp == 0xFE58 || cp == 0xFE63;
}

/* No-break and fixed-width spaces: text copied from web pages and office
 * documents puts them between digit groups ("138\u00a00013\u00a08000"). */
static bool
is_other_space(uint32_t cp)
{
	return cp == 0x00A0 || (cp >= 0x2002 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F;
}

static bool
is_zero_width(uint32_t cp)
{
	return (cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 || cp == 0xFEFF || cp == 0x00AD;
}

/* Decodes at i (i < len); *n gets the byte length; -1 for invalid. */
static int32_t
decode(const struct nstate *st, size_t i, size_t *n)
{
	size_t j = i;
	int32_t cp = utf8_next((const char *)st->in, st->len, &j);

	*n = j - i;
	return cp;
}

/* Digit value of the character at i, folding full-width digits; -1 if none. */
static int
digit_at(const struct nstate *st, size_t i, size_t *n)
{
	int32_t cp;

	if (st->in[i] < 0x80) {
		*n = 1;
		return (st->in[i] >= '0' && st->in[i] <= '9') ? st->in[i] - '0' : -1;
	}
	cp = decode(st, i, n);
	if (cp < 0)
		return -1;
	if (cp >= 0xFF10 && cp <= 0xFF19)
		return (int)(cp - 0xFF10);
	return norm_digit_value((uint32_t)cp);
}

/* One separator character allowed between digit groups of a spoken run.
 * Callers say 幺三九…两幺零两 and ASR writes 一三六、零二零二 for the pauses;
 * *filler tells that it is a hesitation word (嗯), only allowed next to a
 * pause mark. */
static bool
run_sep_char(const struct nstate *st, size_t i, size_t *n, bool *filler)
{
	int32_t cp;

	*filler = false;
	if (st->in[i] == ' ' || st->in[i] == '-' || st->in[i] == ',') {
		*n = 1;
		return true;
	}
	if (st->in[i] < 0x80)
		return false;
	cp = decode(st, i, n);
	if (cp == 0x55EF || cp == 0x5443) { /* 嗯 呃 */
		*filler = true;
		return true;
	}
	return cp == 0x3000 || cp == 0xFF0C || cp == 0xFF0D || cp == 0x3001 || cp == 0x2026 ||
	       is_dash((uint32_t)cp) || is_other_space((uint32_t)cp);
}

/* A pause between digit groups: one to five separator characters (such as
 * "……嗯……"), not only fillers, followed by a digit.  Returns its length or 0.
 * Bounded, so the run stays linear. */
static size_t
run_sep_at(const struct nstate *st, size_t i)
{
	size_t j = i, n, k = 0;
	bool filler, marks = false;

	while (j < st->len && k < 5 && run_sep_char(st, j, &n, &filler)) {
		marks = marks || !filler;
		j += n;
		k++;
	}
	if (j == i || !marks || j >= st->len)
		return 0;
	if (digit_at(st, j, &n) < 0)
		return 0;
	return j - i;
}

/*
 * At a spoken or circled digit: decides whether the run it starts is a
 * number (>= 5 digits, counting ASCII digits just written before it) and
 * if so rewrites it as ASCII.  Returns the input offset to continue from;
 * either way the run is consumed, so every byte is looked at a bounded
 * number of times.
 */
static size_t
spoken_run(struct nstate *st, size_t i)
{
	size_t j = i, end = i, n, before = 0, digits = 0, group = 0;
	size_t singles_end = 0, singles_digits = 0;
	bool singles = false;
	int d;

	/* ASCII digits just before the run count towards its length: first the
	 * pending (not yet copied) input, then what was already written. */
	bool stop = false;
	for (size_t k = i; k > st->copy_from && before < 16 && i - k < 64; k--) {
		unsigned char c = st->in[k - 1];
		if (c >= '0' && c <= '9')
			before++;
		else if (c != ' ' && c != '-') {
			stop = true;
			break;
		}
	}
	for (size_t k = st->olen; !stop && k > 0 && before < 16 && st->olen - k < 64; k--) {
		char c = st->out[k - 1];
		if (c >= '0' && c <= '9')
			before++;
		else if (c != ' ' && c != '-')
			break;
	}
	while (j < st->len) {
		d = digit_at(st, j, &n);
		if (d >= 0) {
			j += n;
			end = j;
			digits++;
			group++;
			continue;
		}
		/* A separator only inside a number whose groups are real groups,
		 * so that "一、二、三" style lists stay text.  Single digits read
		 * out one by one ("幺，三，八，…") are a number only when there are
		 * at least seven of them (checked below). */
		if (group >= 1 && (n = run_sep_at(st, j)) != 0) {
			if (group == 1 && !singles) {
				singles = true;
				singles_end = end;
				singles_digits = digits;
			}
			j += n;
			group = 0;
			continue;
		}
		break;
	}
	if (singles && digits < 7) {
		end = singles_end;
		digits = singles_digits;
	}
	if (digits + before < 5) {
		/* Not a number: leave it as text, but fold what folds. */
		return i;
	}
	flush(st, i);
	st->copy_from = i;
	for (j = i; j < end;) {
		char ch;
		d = digit_at(st, j, &n);
		if (d >= 0) {
			ch = (char)('0' + d);
			replace(st, j, n, &ch, 1);
			j += n;
			continue;
		}
		/* A whole pause ("……嗯……") becomes one separator, so that the
		 * digit matchers see ordinary groups; a dash in it wins. */
		ch = ' ';
		for (size_t k = j; k < end && digit_at(st, k, &n) < 0; k += n)
			if (st->in[k] == '-' || (st->in[k] >= 0x80 && n == 3 &&
			    is_dash((uint32_t)decode(st, k, &n))))
				ch = '-';
		for (bool first = true; j < end && digit_at(st, j, &n) < 0; first = false) {
			replace(st, j, n, &ch, first ? 1 : 0);
			j += n;
		}
	}
	return end;
}

enum tl_err
norm_run(const char *in, size_t len, unsigned flags, struct norm_text *out)
{
	struct nstate st;
	size_t i = 0;
	static const char fffd[3] = { (char)0xEF, (char)0xBF, (char)0xBD };

	memset(out, 0, sizeof(*out));
	memset(&st, 0, sizeof(st));
	if (!in && len)
		return TL_EINVAL;
	if (len > (SIZE_MAX - 1) / 3)
		return TL_ETOOBIG;
	st.in = (const unsigned char *)(in ? in : "");
	st.len = len;
	st.out = malloc(len * 3 + 1);
	st.cap = 16;
	st.marks = malloc(st.cap * sizeof(*st.marks));
	if (!st.out || !st.marks) {
		st.err = TL_ENOMEM;
		goto done;
	}
	st.marks[0].n = st.marks[0].o = 0;
	st.nmarks = 1;

	while (i < len) {
		unsigned char c = st.in[i];
		size_t n;
		int32_t cp;

		if (c < 0x80) {
			/* ASCII passes through; only NUL is replaced, because every
			 * consumer treats the text as a C string. */
			if (c == 0) {
				replace(&st, i, 1, fffd, 3);
				i++;
				continue;
			}
			i++;
			while (i + 8 <= len) {
				uint64_t w;
				memcpy(&w, st.in + i, 8);
				if ((w & 0x8080808080808080ULL) ||
				    ((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL))
					break;
				i += 8;
			}
			continue;
		}
		/* Common CJK (U+4E00..U+9FFF, lead E4..E9) with valid trailers
		 * needs no change unless it is a spoken digit. */
		if (c >= 0xE4 && c <= 0xE9 && i + 2 < len && (st.in[i + 1] & 0xC0) == 0x80 &&
		    (st.in[i + 2] & 0xC0) == 0x80) {
			if (flags & NORM_SPOKEN_DIGITS) {
				cp = ((c & 0x0F) << 12) | ((st.in[i + 1] & 0x3F) << 6) | (st.in[i + 2] & 0x3F);
				if (norm_digit_value((uint32_t)cp) >= 0) {
					size_t next = spoken_run(&st, i);
					if (next != i) {
						i = next;
						continue;
					}
				}
			}
			i += 3;
			continue;
		}
		cp = decode(&st, i, &n);
		if (cp < 0) {
			replace(&st, i, n, fffd, 3);
		} else if (fold_fullwidth((uint32_t)cp)) {
			char a = fold_fullwidth((uint32_t)cp);
			if ((flags & NORM_SPOKEN_DIGITS) && a >= '0' && a <= '9') {
				/* A full-width digit may start a mixed spoken run. */
				size_t next = spoken_run(&st, i);
				if (next != i) {
					i = next;
					continue;
				}
			}
			replace(&st, i, n, &a, 1);
		} else if (cp == 0x3000 || is_other_space((uint32_t)cp)) {
			replace(&st, i, n, " ", 1);
		} else if (is_zero_width((uint32_t)cp)) {
			replace(&st, i, n, NULL, 0);
		} else if (is_dash((uint32_t)cp)) {
			replace(&st, i, n, "-", 1);
		} else if ((flags & NORM_SPOKEN_DIGITS) && norm_digit_value((uint32_t)cp) >= 0) {
			size_t next = spoken_run(&st, i);
			if (next != i) {
				i = next;
				continue;
			}
		}
		i += n;
	}
	flush(&st, len);
	if (st.err)
		goto done;
	st.out[st.olen] = '\0';
	out->s = st.out;
	out->len = st.olen;
	out->in_len = len;
	out->marks = st.marks;
	out->nmarks = st.nmarks;
	return TL_OK;
done:
	free(st.out);
	free(st.marks);
	return st.err;
}

void
norm_free(struct norm_text *t)
{
	if (!t)
		return;
	free(t->s);
	free(t->marks);
	memset(t, 0, sizeof(*t));
}

static size_t
apply(const struct norm_text *t, size_t k, size_t n)
{
	size_t o = t->marks[k].o + (n - t->marks[k].n);

	return o > t->in_len ? t->in_len : o;
}

size_t
norm_to_orig(const struct norm_text *t, size_t n)
{
	size_t lo = 0, hi = t->nmarks;

	/* Last mark with marks[k].n <= n; marks[0].n == 0. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->marks[mid].n <= n)
			lo = mid;
		else
			hi = mid;
	}
	return apply(t, lo, n);
}

size_t
norm_to_orig_seq(const struct norm_text *t, size_t *k, size_t n)
{
	if (*k >= t->nmarks)
		*k = 0;
	if (t->marks[*k].n > n)
		*k = 0; /* misuse: restart rather than misreport */
	while (*k + 1 < t->nmarks && t->marks[*k + 1].n <= n)
		(*k)++;
	return apply(t, *k, n);
}
