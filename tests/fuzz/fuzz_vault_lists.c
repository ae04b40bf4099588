/*
 * fuzz_vault_lists.c - the two files people write for the vault: the
 * approvers file ("staff_id level pubkey_hex64" lines) and the exclusion
 * list (keyed-hash lines), both with '#' comments.  Each input is written
 * to a private temporary file and read by the vault's own loaders; they
 * must accept or refuse it with a message, never crash, and a refused
 * exclusion list must never answer "not on the list" (the vault may not
 * decide a claim against a list it could not read whole).
 * Replayed over tests/fuzz/corpus/vault_lists/.
 */
#include "compat.h"
#include "payee.h"
#include "secret.h"
#include "vault.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void
cleanup(void)
{
	unlink(path);
}

static bool
put(const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	bool ok;

	if (!f)
		return false;
	ok = fwrite(data, 1, size, f) == size;
	return fclose(f) == 0 && ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char zero[PAYEE_EXCL_HASH_LEN];
	struct payee_excl *x = NULL;
	char why[256];
	size_t count = 0;
	bool found = true;
	enum tl_err e;

	if (!path[0]) {
		int fd;

		if (secret_init() != TL_OK)
			abort();
		snprintf(path, sizeof(path), "/tmp/fuzz_vault_lists.XXXXXX");
		if ((fd = mkstemp(path)) < 0)
			abort();
		close(fd);
		atexit(cleanup);
	}
	if (size > 1 << 20 || !put(data, size))
		return 0;
	why[0] = '\0';
	e = vault_approvers_check(path, &count, why, sizeof(why));
	if (e != TL_OK && !why[0])
		abort(); /* a refusal always says why */
	if (payee_excl_new(path, &x) == TL_OK) {
		why[0] = '\0';
		e = payee_excl_contains(x, zero, &found, why, sizeof(why));
		if (e != TL_OK && !why[0] && e != TL_EIO)
			abort();
		payee_excl_free(x);
	}
	return 0;
}
