/*
 * fuzz_wireaward.c - the issue 5 decoders (status with amounts, payee,
 * claim, eligibility, reveal request and reply) over arbitrary bytes.
 * Whatever decodes must re-encode and decode to the same values: the
 * encoders refuse exactly what the decoders refuse.
 * Replayed over tests/fuzz/corpus/wireaward/ by ctest in every build.
 */
#include "compat.h"
#include "secret.h"
#include "wire.h"

#include <sodium.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_status(const char *p, size_t n, struct buf *out)
{
	struct wire_status a, b;

	if (wire_status_decode(p, n, &a) != TL_OK)
		return;
	if (wire_status_encode(&a, out) != TL_OK || wire_status_decode(out->data, out->len, &b) != TL_OK ||
	    memcmp(&a, &b, sizeof(a)) != 0)
		abort();
}

static void
check_payee(const char *p, size_t n, struct buf *out)
{
	struct wire_payee a, b;

	if (wire_payee_decode(p, n, &a) != TL_OK)
		return;
	if (wire_payee_encode(&a, out) != TL_OK || wire_payee_decode(out->data, out->len, &b) != TL_OK ||
	    strcmp(a.name, b.name) != 0 || strcmp(a.account, b.account) != 0)
		abort();
	wire_payee_free(&a);
	wire_payee_free(&b);
}

static void
check_payclaim(const char *p, size_t n, struct buf *out)
{
	struct wire_payclaim a, b;

	if (wire_payclaim_decode(p, n, &a) != TL_OK)
		return;
	if (wire_payclaim_encode(&a, out) != TL_OK || wire_payclaim_decode(out->data, out->len, &b) != TL_OK ||
	    a.sealed_len != b.sealed_len || memcmp(a.sealed, b.sealed, a.sealed_len) != 0)
		abort();
	wire_payclaim_free(&a);
	wire_payclaim_free(&b);
}

static void
check_elig(const char *p, size_t n, struct buf *out)
{
	struct wire_eligibility a, b;

	if (wire_eligibility_decode(p, n, &a) != TL_OK)
		return;
	if (wire_eligibility_encode(&a, out) != TL_OK ||
	    wire_eligibility_decode(out->data, out->len, &b) != TL_OK || memcmp(&a, &b, sizeof(a)) != 0)
		abort();
}

static void
check_req(const char *p, size_t n, struct buf *out)
{
	struct wire_reveal_req a, b;

	if (wire_reveal_req_decode(p, n, &a) != TL_OK)
		return;
	if (wire_reveal_req_encode(&a, out) != TL_OK || wire_reveal_req_decode(out->data, out->len, &b) != TL_OK ||
	    strcmp(a.award, b.award) != 0 || a.n_shares != b.n_shares || a.n_approvals != b.n_approvals ||
	    memcmp(a.approvals, b.approvals, sizeof(a.approvals)) != 0 ||
	    memcmp(a.shares, b.shares, sizeof(a.shares)) != 0)
		abort();
	wire_reveal_req_free(&a);
	wire_reveal_req_free(&b);
}

static void
check_rep(const char *p, size_t n, struct buf *out)
{
	struct wire_reveal_rep a, b;

	if (wire_reveal_rep_decode(p, n, &a) != TL_OK)
		return;
	if (wire_reveal_rep_encode(&a, out) != TL_OK || wire_reveal_rep_decode(out->data, out->len, &b) != TL_OK ||
	    a.ok != b.ok || a.n_rows != b.n_rows || strcmp(a.error, b.error) != 0)
		abort();
	for (size_t i = 0; i < a.n_rows; i++)
		if (a.rows[i].sealed_len != b.rows[i].sealed_len ||
		    memcmp(a.rows[i].sealed, b.rows[i].sealed, a.rows[i].sealed_len) != 0)
			abort();
	wire_reveal_rep_free(&a);
	wire_reveal_rep_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	struct buf out;
	const char *p = (const char *)data;

	if (!init) {
		if (secret_init() != TL_OK)
			abort();
		init = true;
	}
	buf_init_secret(&out, 2 * WIRE_MAX_MSG);
	check_status(p, size, &out);
	check_payee(p, size, &out);
	check_payclaim(p, size, &out);
	check_elig(p, size, &out);
	check_req(p, size, &out);
	check_rep(p, size, &out);
	buf_free(&out);
	return 0;
}
