/*
 * fuzz_awardsig.c - the canonical award text parser (common/awardsig.h),
 * which the vault runs on text that arrives from payouts before it checks
 * any signature.
 *
 * Invariants: a text that parses is exactly what awardsig_format() writes
 * for the parsed values (so no two texts stand for one award), its amounts
 * are within the cap and its shares sum to the total; a refusal always
 * says why; the rule check never crashes and never accepts the proposer.
 * Replayed over tests/fuzz/corpus/awardsig/ by ctest in every build.
 */
#include "compat.h"
#include "awardsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct awardsig a;
	static char out[AWARDSIG_TEXT_MAX + 1];
	char why[200] = "";
	struct awardsig_approver ap[2] = { { "c.wang", AWARDSIG_CITY }, { NULL, AWARDSIG_DISTRICT } };
	size_t len = 0;
	int64_t sum = 0;

	if (awardsig_parse((const char *)data, size, &a, why, sizeof(why)) != TL_OK) {
		if (why[0] == '\0')
			abort();
		return 0;
	}
	if (awardsig_format(&a, out, sizeof(out), &len, why, sizeof(why)) != TL_OK || len != size ||
	    memcmp(out, data, size) != 0)
		abort();
	if (a.total_fen <= 0 || a.total_fen > AWARDSIG_CAP_FEN || a.n_shares == 0 ||
	    a.n_shares > AWARDSIG_MAX_SHARES)
		abort();
	for (size_t i = 0; i < a.n_shares; i++)
		sum += a.shares[i].fen;
	if (sum != a.total_fen)
		abort();
	ap[1].staff_id = a.proposer;
	if (awardsig_rules_check(&a, 10000000, ap, 2, why, sizeof(why)) == TL_OK)
		abort();
	/* One city approver is enough exactly when the amount allows it. */
	if ((awardsig_rules_check(&a, 10000000, ap, 1, why, sizeof(why)) == TL_OK) !=
	    (a.decision == AWARDSIG_APPROVE && a.total_fen <= 10000000 && a.required_approvals == 1 &&
	     strcmp(a.proposer, "c.wang") != 0))
		abort();
	return 0;
}
