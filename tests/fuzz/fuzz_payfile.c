/*
 * fuzz_payfile.c - the batch file reader (common/payfile.c).
 *
 * A seal cannot be forged by a fuzzer, so the input's first byte picks
 * what the rest is:
 *   'F'   a whole file, opened as it is (magic, key line, truncation);
 *   other the batch document, sealed here to a fixed test key with the
 *         right header, so that the JSON parser, the bounds, the row
 *         count and total checks and the payee decoding are reached.
 * Payees inside a document may be sealed to the same fixed key (the
 * corpus holds some); whatever opens must pass payfile_seal() again,
 * byte for byte the same rows: the writer accepts exactly what the
 * reader accepts.
 * Replayed over tests/fuzz/corpus/payfile/ by ctest in every build.
 */
#include "compat.h"
#include "buf.h"
#include "payfile.h"
#include "secret.h"

#include <sodium.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fixed test key pair: seed "tipline fuzz payfile key seed 01". */
static unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];

static void
keys(void)
{
	static bool done;
	static const unsigned char seed[crypto_box_SEEDBYTES] = "tipline fuzz payfile key seed 01";

	if (done)
		return;
	if (secret_init() != TL_OK)
		abort();
	crypto_box_seed_keypair(pk, sk, seed);
	done = true;
}

static void
check(const void *file, size_t len)
{
	struct payfile pf, again;
	struct buf out;
	char why[512];

	if (payfile_open(file, len, sk, &pf, why, sizeof(why)) != TL_OK) {
		if (!why[0] || pf.rows || pf.n_rows)
			abort(); /* an error always explains itself and leaves nothing */
		return;
	}
	buf_init(&out, PAYFILE_MAX_BYTES);
	if (payfile_seal(&pf, pk, &out, why, sizeof(why)) != TL_OK ||
	    payfile_open(out.data, out.len, sk, &again, why, sizeof(why)) != TL_OK ||
	    again.n_rows != pf.n_rows || again.total_fen != pf.total_fen)
		abort();
	for (size_t i = 0; i < pf.n_rows; i++)
		if (strcmp(again.rows[i].award_id, pf.rows[i].award_id) != 0 ||
		    again.rows[i].amount_fen != pf.rows[i].amount_fen ||
		    strcmp(again.rows[i].payee.name, pf.rows[i].payee.name) != 0)
			abort();
	payfile_free(&again);
	payfile_free(&pf);
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char kid[PAYFILE_KEYID_HEX + 1], line[32];
	unsigned char *sealed;
	struct buf file;

	keys();
	if (size == 0 || size > 1024 * 1024)
		return 0;
	if (data[0] == 'F') {
		check(data + 1, size - 1);
		return 0;
	}
	if (!(sealed = malloc(size - 1 + crypto_box_SEALBYTES)))
		return 0;
	crypto_box_seal(sealed, data + 1, size - 1, pk);
	payfile_key_id(pk, kid);
	(void)snprintf(line, sizeof(line), "key %s\n", kid);
	buf_init(&file, PAYFILE_MAX_BYTES);
	if (buf_append_str(&file, PAYFILE_MAGIC) == TL_OK && buf_append_str(&file, line) == TL_OK &&
	    buf_append(&file, sealed, size - 1 + crypto_box_SEALBYTES) == TL_OK)
		check(file.data, file.len);
	buf_free(&file);
	free(sealed);
	return 0;
}
