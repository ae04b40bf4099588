#include "compat.h"
#include "ids.h"
#include "num.h"

#include <sodium.h>

void
id_new(char out[ID_HEX_LEN + 1])
{
	unsigned char b[16];

	randombytes_buf(b, sizeof(b));
	hex_encode(b, sizeof(b), out);
}

void
id_derive(const unsigned char key[32], const char *label, const void *seed, size_t seedlen,
          char out[ID_HEX_LEN + 1])
{
	crypto_generichash_state st;
	unsigned char b[16];

	crypto_generichash_init(&st, key, 32, sizeof(b));
	crypto_generichash_update(&st, (const unsigned char *)label, strlen(label) + 1);
	crypto_generichash_update(&st, seed, seedlen);
	crypto_generichash_final(&st, b, sizeof(b));
	hex_encode(b, sizeof(b), out);
}

bool
id_valid(const char *s)
{
	size_t i;

	for (i = 0; i < ID_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[i] == '\0';
}

/* 16 uniform digits from random bytes: rejection sampling per digit keeps
 * every receipt equally likely (bytes >= 250 are skipped). */
static void
digits_from(const unsigned char *b, size_t blen, char out[RECEIPT_DIGITS + 1])
{
	size_t n = 0;

	for (size_t i = 0; i < blen && n < RECEIPT_DIGITS; i++)
		if (b[i] < 250)
			out[n++] = (char)('0' + b[i] % 10);
	/* 64 bytes make running short astronomically unlikely; stay total. */
	while (n < RECEIPT_DIGITS)
		out[n++] = '0';
	out[RECEIPT_DIGITS] = '\0';
}

void
receipt_new(char out[RECEIPT_DIGITS + 1])
{
	unsigned char b[64];

	randombytes_buf(b, sizeof(b));
	digits_from(b, sizeof(b), out);
	sodium_memzero(b, sizeof(b));
}

void
receipt_derive(const unsigned char key[32], const void *seed, size_t seedlen,
               char out[RECEIPT_DIGITS + 1])
{
	crypto_generichash_state st;
	unsigned char b[64];

	crypto_generichash_init(&st, key, 32, sizeof(b));
	crypto_generichash_update(&st, (const unsigned char *)"receipt", 8);
	crypto_generichash_update(&st, seed, seedlen);
	crypto_generichash_final(&st, b, sizeof(b));
	digits_from(b, sizeof(b), out);
	sodium_memzero(b, sizeof(b));
}

void
receipt_show(const char digits[RECEIPT_DIGITS + 1], char out[RECEIPT_SHOWN_LEN + 1])
{
	size_t o = 0;

	for (size_t i = 0; i < RECEIPT_DIGITS; i++) {
		if (i && i % 4 == 0)
			out[o++] = ' ';
		out[o++] = digits[i];
	}
	out[o] = '\0';
}

enum tl_err
receipt_parse(const char *in, size_t len, char digits[RECEIPT_DIGITS + 1])
{
	size_t n = 0;

	if (len > 64)
		return TL_EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c >= '0' && c <= '9') {
			if (n == RECEIPT_DIGITS)
				return TL_EINVAL;
			digits[n++] = c;
		} else if ((c == ' ' || c == '-') && n > 0 && n % 4 == 0 && i + 1 < len &&
		           in[i + 1] >= '0' && in[i + 1] <= '9') {
			continue; /* a single separator between groups of four */
		} else {
			return TL_EINVAL;
		}
	}
	if (n != RECEIPT_DIGITS)
		return TL_EINVAL;
	digits[n] = '\0';
	return TL_OK;
}

void
receipt_status_key(const unsigned char key[32], const char digits[RECEIPT_DIGITS + 1],
                   char out[STATUS_KEY_LEN + 1])
{
	unsigned char h[32];

	crypto_generichash(h, sizeof(h), (const unsigned char *)digits, RECEIPT_DIGITS, key, 32);
	hex_encode(h, sizeof(h), out);
}
