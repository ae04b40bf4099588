#include "compat.h"
#include "vault.h"
#include "pseudonym.h"
#include "secret.h"

#include <sodium.h>

/* Keys stay PROT_NONE at rest so that a stray read (an overflow elsewhere
 * in the process) faults instead of leaking them; store.c opens them
 * read-only only around crypto_box_seal_open and the pseudonym hash. */
static void
lock_keys(struct vault_keys *k)
{
	sodium_mprotect_noaccess(k->box_sk);
	sodium_mprotect_noaccess(k->pseud);
}

void
vault_keys_free(struct vault_keys *k)
{
	if (!k)
		return;
	/* sodium_free() needs write access to wipe; it handles PROT_NONE
	 * regions itself by unprotecting first. */
	secret_free(k->box_sk);
	secret_free(k->pseud);
	sodium_memzero(k, sizeof(*k));
	free(k);
}

enum tl_err
vault_keys_new(const unsigned char *box_sk, const unsigned char *box_pk, const unsigned char *pseud,
               struct vault_keys **out)
{
	struct vault_keys *k = calloc(1, sizeof(*k));

	*out = NULL;
	if (!k)
		return TL_ENOMEM;
	k->box_sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
	k->pseud = sodium_malloc(PSEUD_KEY_LEN);
	if (!k->box_sk || !k->pseud) {
		vault_keys_free(k);
		return TL_ENOMEM;
	}
	memcpy(k->box_sk, box_sk, crypto_box_SECRETKEYBYTES);
	memcpy(k->pseud, pseud, PSEUD_KEY_LEN);
	memcpy(k->box_pk, box_pk, sizeof(k->box_pk));
	lock_keys(k);
	*out = k;
	return TL_OK;
}

enum tl_err
vault_keys_load(const char *box_sk_path, const char *box_pk_path, const char *pseud_path,
                struct vault_keys **out, char *why, size_t whylen)
{
	struct vault_keys *k = calloc(1, sizeof(*k));
	unsigned char derived[crypto_box_PUBLICKEYBYTES];
	enum tl_err e;

	*out = NULL;
	if (!k)
		return TL_ENOMEM;
	if ((e = secret_load(box_sk_path, crypto_box_SECRETKEYBYTES, &k->box_sk, why, whylen)) != TL_OK ||
	    (e = public_load(box_pk_path, k->box_pk, sizeof(k->box_pk), why, whylen)) != TL_OK ||
	    (e = secret_load(pseud_path, PSEUD_KEY_LEN, &k->pseud, why, whylen)) != TL_OK)
		goto fail;
	/* A public key from another keypair would make intake seal deposits
	 * that this vault can never open: refuse at startup instead. */
	if (crypto_scalarmult_base(derived, k->box_sk) != 0 ||
	    sodium_memcmp(derived, k->box_pk, sizeof(derived)) != 0) {
		snprintf(why, whylen, "%s does not belong to %s (the public key is not the secret key's)",
		         box_pk_path, box_sk_path);
		e = TL_ECONFIG;
		goto fail;
	}
	sodium_memzero(derived, sizeof(derived));
	lock_keys(k);
	*out = k;
	return TL_OK;
fail:
	sodium_memzero(derived, sizeof(derived));
	vault_keys_free(k);
	return e;
}
