#include "compat.h"
#include "utf8.h"

int32_t
utf8_next(const char *str, size_t len, size_t *i)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t p = *i;
	uint32_t cp;
	unsigned need, k;
	unsigned char c = s[p];

	if (c < 0x80) {
		*i = p + 1;
		return c;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		cp = c & 0x07;
	} else {
		*i = p + 1;
		return -1;
	}
	if (len - p <= need) {
		*i = p + 1;
		return -1;
	}
	for (k = 1; k <= need; k++) {
		if ((s[p + k] & 0xC0) != 0x80) {
			*i = p + 1;
			return -1;
		}
		cp = (cp << 6) | (s[p + k] & 0x3F);
	}
	/* Overlong, surrogate and range checks. */
	if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF)) {
		*i = p + 1;
		return -1;
	}
	*i = p + need + 1;
	return (int32_t)cp;
}

bool
utf8_valid(const char *s, size_t len, size_t *nchars)
{
	size_t i = 0, n = 0;
	const unsigned char *u = (const unsigned char *)s;

	while (i < len) {
		/* ASCII fast path: 8 bytes at a time. */
		while (i + 8 <= len) {
			uint64_t w;
			memcpy(&w, u + i, 8);
			if (w & 0x8080808080808080ULL)
				break;
			/* NUL check: any zero byte in w */
			if ((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL)
				return false;
			i += 8;
			n += 8;
		}
		if (i >= len)
			break;
		if (u[i] == 0)
			return false;
		if (utf8_next(s, len, &i) < 0)
			return false;
		n++;
	}
	if (nchars)
		*nchars = n;
	return true;
}

size_t
utf8_encode(uint32_t cp, char *out)
{
	unsigned char *o = (unsigned char *)out;

	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp >= 0xD800 && cp <= 0xDFFF)
		return 0;
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	if (cp <= 0x10FFFF) {
		o[0] = (unsigned char)(0xF0 | (cp >> 18));
		o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[3] = (unsigned char)(0x80 | (cp & 0x3F));
		return 4;
	}
	return 0;
}
