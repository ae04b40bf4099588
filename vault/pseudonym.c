#include "compat.h"
#include "pseudonym.h"
#include "num.h"
#include "utf8.h"

#include <sodium.h>

/* Changing this tag (or any normalisation rule) changes every pseudonym:
 * bump the version and document the migration in docs/vault.md. */
#define PSEUD_TAG "tipline/reporter-pseudonym/v1"

static const char *const kind_names[PSEUD_NKINDS] = { "id_number", "phone", "email", "wechat" };

const char *
pseud_kind_name(enum pseud_kind k)
{
	return (unsigned)k < PSEUD_NKINDS ? kind_names[k] : "?";
}

/* Reporters type on phones with Chinese IMEs: fold full-width ASCII and
 * the ideographic space, drop zero-width characters and soft hyphens, and
 * make dash variants '-'.  Other non-ASCII code points are kept.  Trims
 * ASCII whitespace at both ends. */
static enum tl_err
fold(const char *in, char *out, size_t outlen)
{
	size_t len = strlen(in), i = 0, n = 0, start = 0;

	if (!utf8_valid(in, len, NULL))
		return TL_EINVAL;
	while (i < len) {
		int32_t cp = utf8_next(in, len, &i);
		char enc[4];
		size_t k;

		if (cp < 0)
			return TL_EINVAL;
		if (cp >= 0xFF01 && cp <= 0xFF5E)
			cp -= 0xFEE0;
		else if (cp == 0x3000 || cp == '\t' || cp == '\r' || cp == '\n')
			cp = ' ';
		else if (cp == 0x200B || cp == 0x200C || cp == 0x200D || cp == 0xFEFF || cp == 0x00AD)
			continue;
		else if ((cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212)
			cp = '-';
		k = utf8_encode((uint32_t)cp, enc);
		if (k == 0 || n + k >= outlen)
			return TL_EINVAL;
		memcpy(out + n, enc, k);
		n += k;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	while (start < n && out[start] == ' ')
		start++;
	memmove(out, out + start, n - start);
	n -= start;
	out[n] = '\0';
	return n > 0 ? TL_OK : TL_EINVAL;
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void
lower_ascii(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Mainland numbers end up in domestic form whatever the country-code and
 * separator style: a mobile as its 11 digits, a landline with its trunk
 * '0' and area code ("+86 22 2345 6789" and "022-2345-6789" agree).  Other
 * international numbers keep '+' and their digits.  Letters make the value
 * unusable. */
static enum tl_err
norm_phone(char *s)
{
	char d[PSEUD_NORM_MAX];
	const char *p = s, *r;
	size_t n = 0, rn;
	bool intl = false;
	enum tl_err e = TL_EINVAL;

	if (*p == '+') {
		intl = true;
		p++;
	}
	for (; *p; p++) {
		if (is_digit(*p)) {
			if (n + 2 >= sizeof(d))
				goto out;
			d[n++] = *p;
		} else if (*p != ' ' && *p != '-' && *p != '(' && *p != ')' && *p != '.') {
			goto out;
		}
	}
	d[n] = '\0';
	r = d;
	if (!intl && n > 2 && memcmp(d, "00", 2) == 0) {
		intl = true; /* 00 is the international prefix dialled from China */
		r += 2;
	}
	rn = strlen(r);
	if (intl && rn > 2 && memcmp(r, "86", 2) == 0) {
		r += 2;
		rn -= 2;
		intl = false;
		if (!(rn == 11 && r[0] == '1') && r[0] != '0') {
			/* landline: put back the domestic trunk prefix */
			if (rn < 5 || rn > 11)
				goto out;
			s[0] = '0';
			memcpy(s + 1, r, rn + 1);
			e = TL_OK;
			goto out;
		}
	} else if (!intl && rn == 13 && memcmp(r, "861", 3) == 0) {
		r += 2; /* "8613800138000": a mobile with the country code, no '+' */
		rn -= 2;
	}
	if (intl) {
		if (rn < 5 || rn > 15)
			goto out;
		s[0] = '+';
		memcpy(s + 1, r, rn + 1);
	} else {
		if (rn < 5 || rn > 12)
			goto out;
		memmove(s, r, rn + 1);
	}
	e = TL_OK;
out:
	sodium_memzero(d, sizeof(d));
	return e;
}

static enum tl_err
norm_email(char *s)
{
	const char *at = strchr(s, '@');

	lower_ascii(s);
	if (!at || at == s || at[1] == '\0' || strchr(at + 1, '@') || strchr(s, ' ') ||
	    strlen(s) > 254)
		return TL_EINVAL;
	return TL_OK;
}

static enum tl_err
norm_wechat(char *s)
{
	lower_ascii(s);
	if (strchr(s, ' ') || strlen(s) > 64)
		return TL_EINVAL;
	return TL_OK;
}

/* 18 characters (17 digits and a digit or X) or the old 15 digits;
 * spaces are dropped, a lower-case x is upper-cased.  The checksum is not
 * enforced: a mistyped ID still names the same (mistyping) reporter. */
static enum tl_err
norm_id_number(char *s)
{
	size_t n = 0;

	for (char *p = s; *p; p++)
		if (*p != ' ')
			s[n++] = *p;
	s[n] = '\0';
	if (n == 18 && (s[17] == 'x' || s[17] == 'X'))
		s[17] = 'X';
	if (n != 15 && n != 18)
		return TL_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]) && !(i == 17 && s[i] == 'X'))
			return TL_EINVAL;
	return TL_OK;
}

enum tl_err
pseud_normalise(enum pseud_kind k, const char *in, char *out, size_t outlen)
{
	enum tl_err e;

	if (!in || (unsigned)k >= PSEUD_NKINDS)
		return TL_EINVAL;
	if ((e = fold(in, out, outlen)) != TL_OK)
		goto fail;
	switch (k) {
	case PSEUD_ID_NUMBER: e = norm_id_number(out); break;
	case PSEUD_PHONE: e = norm_phone(out); break;
	case PSEUD_EMAIL: e = norm_email(out); break;
	case PSEUD_WECHAT: e = norm_wechat(out); break;
	default: e = TL_EINVAL; break;
	}
	if (e == TL_OK)
		return TL_OK;
fail:
	sodium_memzero(out, outlen);
	return e;
}

enum tl_err
pseud_compute(const unsigned char key[PSEUD_KEY_LEN], enum pseud_kind k, const char *raw,
              char out[PSEUD_HEX_LEN + 1])
{
	crypto_generichash_state st;
	unsigned char h[PSEUD_HEX_LEN / 2];
	char norm[PSEUD_NORM_MAX];
	const char *kn = pseud_kind_name(k);
	enum tl_err e;

	if ((e = pseud_normalise(k, raw, norm, sizeof(norm))) != TL_OK)
		return e;
	/* NUL separators make (kind, value) unambiguous. */
	crypto_generichash_init(&st, key, PSEUD_KEY_LEN, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)PSEUD_TAG, sizeof(PSEUD_TAG));
	crypto_generichash_update(&st, (const unsigned char *)kn, strlen(kn) + 1);
	crypto_generichash_update(&st, (const unsigned char *)norm, strlen(norm));
	crypto_generichash_final(&st, h, sizeof(h));
	hex_encode(h, sizeof(h), out);
	sodium_memzero(norm, sizeof(norm));
	sodium_memzero(&st, sizeof(st));
	return TL_OK;
}

void
pseud_from_contact(const unsigned char key[PSEUD_KEY_LEN], const struct wire_contact *c,
                   struct pseud_set *out)
{
	const char *raw[PSEUD_NKINDS] = { c->id_number, c->phone, c->email, c->wechat };

	memset(out, 0, sizeof(*out));
	out->strongest = -1;
	for (int k = 0; k < PSEUD_NKINDS; k++) {
		if (!raw[k] || pseud_compute(key, (enum pseud_kind)k, raw[k], out->hex[k]) != TL_OK)
			continue;
		out->has[k] = true;
		if (out->strongest < 0)
			out->strongest = k;
	}
}
