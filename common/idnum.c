/*
 * idnum.c - see idnum.h.
 */
#include "compat.h"
#include "idnum.h"

char
idnum_check_char(const char *d)
{
	/* Weight of digit i is 2^(17-i) mod 11; the check character makes the
	 * weighted sum 1 mod 11, written X where that needs a 10. */
	static const int w[17] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 };
	static const char chk[] = "10X98765432";
	int sum = 0;

	for (int i = 0; i < 17; i++) {
		if (d[i] < '0' || d[i] > '9')
			return '\0';
		sum += (d[i] - '0') * w[i];
	}
	return chk[sum % 11];
}

bool
idnum_check_ok(const char *s)
{
	char c = idnum_check_char(s);

	return c != '\0' && c == (s[17] == 'x' ? 'X' : s[17]);
}

static int
two(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

static bool
date_exists(int y, int m, int d)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (y < 1900 || y > 2099 || m < 1 || m > 12 || d < 1)
		return false;
	return d <= mdays[m - 1] + (m == 2 && leap ? 1 : 0);
}

bool
idnum_valid(const char *s, size_t len)
{
	/* The check comes first: it also proves s[0..17) are digits, which
	 * the region and date reads rely on. */
	if (!s || len != IDNUM_LEN || !idnum_check_ok(s))
		return false;
	if (s[0] < '1' || s[0] > '8')
		return false;
	return date_exists(two(s + 6) * 100 + two(s + 8), two(s + 10), two(s + 12));
}
