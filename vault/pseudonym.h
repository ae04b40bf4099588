/*
 * pseudonym.h - reporter pseudonyms: "the same reporter" without "who".
 *
 * A pseudonym is a keyed BLAKE2b (crypto_generichash, 32-byte output, the
 * vault's pseudonym key) over a domain tag, the identifier kind and the
 * identifier in normalised form, as 64 lowercase hex characters.  Equal
 * identifiers written differently ("+86 138-0013-8000", "13800138000")
 * give the same pseudonym; different kinds never collide.  Without the key
 * a pseudonym cannot be tested against a guessed phone number; with it,
 * low-entropy identifiers can be brute-forced, so the key never leaves the
 * vault (docs/vault.md).
 *
 * Kinds are ordered strongest first: the pseudonym of a deposit is that of
 * its strongest usable identifier (ID number > phone > email > WeChat).
 *
 * Pure and thread-safe.  Normalised identifiers are identity: callers wipe
 * the buffers they pass in (sodium_memzero) when done.
 */
#ifndef TL_VAULT_PSEUDONYM_H
#define TL_VAULT_PSEUDONYM_H

#include <stdbool.h>
#include <stddef.h>
#include "err.h"
#include "wire.h"

#define PSEUD_KEY_LEN 32
#define PSEUD_HEX_LEN 64
#define PSEUD_NORM_MAX 256 /* longest normalised identifier, bytes incl. NUL */

enum pseud_kind {
	PSEUD_ID_NUMBER, /* 18 (or old 15) character resident ID, X upper-cased */
	PSEUD_PHONE,     /* mainland mobile as 11 digits; other numbers digits only */
	PSEUD_EMAIL,     /* trimmed, ASCII lower-cased */
	PSEUD_WECHAT,    /* trimmed, ASCII lower-cased */
	PSEUD_NKINDS
};

/* "id_number", "phone", "email", "wechat" (the reporter_keys.kind values). */
const char *pseud_kind_name(enum pseud_kind k);

/* Normalises in into out (NUL-terminated).  TL_EINVAL if the value is not a
 * usable identifier of that kind (then no pseudonym is made for it). */
enum tl_err pseud_normalise(enum pseud_kind k, const char *in, char *out, size_t outlen)
	__attribute__((warn_unused_result));

/* Normalises raw and hashes it.  TL_EINVAL as above. */
enum tl_err pseud_compute(const unsigned char key[PSEUD_KEY_LEN], enum pseud_kind k, const char *raw,
                          char out[PSEUD_HEX_LEN + 1]) __attribute__((warn_unused_result));

/* Every usable identifier of a contact, and which one names the reporter. */
struct pseud_set {
	bool has[PSEUD_NKINDS];
	char hex[PSEUD_NKINDS][PSEUD_HEX_LEN + 1];
	int strongest; /* index into hex, or -1 when the reporter is anonymous */
};

void pseud_from_contact(const unsigned char key[PSEUD_KEY_LEN], const struct wire_contact *c,
                        struct pseud_set *out);

#endif
