/*
 * money.h - overflow-checked arithmetic on int64 fen.
 *
 * Money in Tipline is always int64_t fen (1 yuan = 100 fen), never floating
 * point; percentages are basis points (1 bp = 0.01 %).  Every helper returns
 * false on overflow or a negative operand and leaves *out untouched, so a
 * caller can never carry on with a wrapped amount.  Pure, thread-safe.
 */
#ifndef TL_PAYOUTS_MONEY_H
#define TL_PAYOUTS_MONEY_H

#include <stdbool.h>
#include <stdint.h>

/* The hard cap per tip (500,000 yuan).  No rules file, manual edit or
 * approval can exceed it; the payouts schema repeats it as a CHECK. */
#define MONEY_HARD_CAP_FEN INT64_C(50000000)
#define MONEY_BP_MAX 10000 /* 100 % */

static inline bool
money_add(int64_t a, int64_t b, int64_t *out)
{
	int64_t r;

	if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &r))
		return false;
	*out = r;
	return true;
}

/* amount * bp / 10000, rounded down (in the payer's favour, so that a
 * rounding never lifts an award above what the rule says). */
static inline bool
money_bp(int64_t amount, int64_t bp, int64_t *out)
{
	int64_t r;

	if (amount < 0 || bp < 0 || bp > MONEY_BP_MAX || __builtin_mul_overflow(amount, bp, &r))
		return false;
	*out = r / MONEY_BP_MAX;
	return true;
}

#endif
