#include "compat.h"
#include "num.h"

enum tl_err
num_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return TL_EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned d;
		if (s[i] < '0' || s[i] > '9')
			return TL_EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return TL_ETOOBIG;
		v = v * 10 + d;
	}
	if (v > max)
		return TL_ETOOBIG;
	*out = v;
	return TL_OK;
}

enum tl_err
num_parse_i64(const char *s, size_t len, int64_t min, int64_t max, int64_t *out)
{
	uint64_t mag;
	bool neg = false;
	enum tl_err e;

	if (len > 0 && s[0] == '-') {
		neg = true;
		s++;
		len--;
	}
	if ((e = num_parse_u64(s, len, neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX,
	                       &mag)) != TL_OK)
		return e;
	int64_t v = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
	if (v < min || v > max)
		return TL_ETOOBIG;
	*out = v;
	return TL_OK;
}

void
hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

enum tl_err
hex_decode(const char *in, size_t inlen, unsigned char *out, size_t outlen)
{
	if (inlen != 2 * outlen)
		return TL_EINVAL;
	for (size_t i = 0; i < outlen; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return TL_EINVAL;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return TL_OK;
}
