/*
 * fuzz_audit.c - the audit chain's line parser and verifier on arbitrary
 * bytes (common/audit.h).
 *
 * Every input is run through audit_verify_mem() as a whole chain, against
 * a fixed public key (the key of the saved corpus, so that seeds reach the
 * signature check and the links after it), and each of its lines through
 * audit_parse_line().  Invariants: the report is self-consistent (a broken
 * chain names a link right after the entries that verified; a good one has
 * a 64-hex head); whatever parses re-parses to the same fields.
 * Replayed over tests/fuzz/corpus/audit/ by ctest in every build.
 */
#include "compat.h"
#include "audit.h"

#include <sodium.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Public half of the Ed25519 key seeded with 32 bytes of 0x01, which signed
 * the corpus seeds (made with `tipline audit append` and that key). */
static unsigned char pk[AUDIT_PK_BYTES];

static void
check_line(const char *p, size_t n)
{
	static struct audit_entry a, b;
	char why[96];

	if (audit_parse_line(p, n, &a, why, sizeof(why)) != TL_OK) {
		if (why[0] == '\0')
			abort();
		return;
	}
	if (audit_parse_line(p, n, &b, why, sizeof(why)) != TL_OK || a.seq != b.seq ||
	    a.time_ms != b.time_ms || strcmp(a.actor, b.actor) != 0 || strcmp(a.object, b.object) != 0 ||
	    a.canon_len >= a.signed_len || a.signed_len >= n)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool inited;
	const char *p = (const char *)data;
	struct audit_report r;
	enum tl_err e;

	if (!inited) {
		unsigned char seed[crypto_sign_SEEDBYTES], sk[AUDIT_SK_BYTES];
		if (sodium_init() < 0)
			abort();
		memset(seed, 1, sizeof(seed));
		crypto_sign_seed_keypair(pk, sk, seed);
		sodium_memzero(sk, sizeof(sk));
		inited = true;
	}
	e = audit_verify_mem(p, size, pk, &r);
	if (e == TL_OK) {
		if (r.fault != AUDIT_FAULT_NONE || strlen(r.head) != AUDIT_HASH_HEX)
			abort();
	} else if (e == TL_EPROTO) {
		if (r.fault == AUDIT_FAULT_NONE || r.bad_entry != r.entries + 1 || r.why[0] == '\0')
			abort();
	} else {
		abort();
	}
	for (size_t off = 0; off < size;) {
		const char *nl = memchr(p + off, '\n', size - off);
		size_t n = nl ? (size_t)(nl - (p + off)) : size - off;
		check_line(p + off, n);
		off += n + 1;
	}
	return 0;
}
