/*
 * fuzz_payouts_rules - the award rules file parser.  A rules file is
 * operator input that decides public money: whatever it says, a parse that
 * succeeds must never allow an award above the hard cap, for any verdict.
 */
#include "compat.h"
#include "award.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct award_rules r;
	struct award_trace t;
	char err[256], *text;

	if (size > 65536 || !(text = malloc(size + 1)))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (award_rules_parse(text, &r, err, sizeof(err)) == TL_OK) {
		static const int64_t amounts[] = { 0, 1, 100000000, INT64_MAX / 2 };
		if (r.cap_fen > MONEY_HARD_CAP_FEN || r.cap_fen < 0)
			abort();
		for (int tier = 0; tier < AWARD_TIER_COUNT_; tier++)
			for (size_t a = 0; a < TL_ARRAY_LEN(amounts); a++) {
				struct award_verdict v = { (enum award_tier)tier, amounts[a], amounts[a] };
				if (award_amount(&r, &v, &t) == TL_OK &&
				    (t.total_fen > MONEY_HARD_CAP_FEN || t.total_fen < 0))
					abort();
			}
	}
	free(text);
	return 0;
}
