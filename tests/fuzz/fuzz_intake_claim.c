/*
 * fuzz_intake_claim.c - claim_parse_json() on arbitrary bytes: it must
 * never crash or leak, and a body it accepts must keep the claim rules
 * (name 1-30 characters without digits, an ID number whose check digit
 * holds, 12-30 account digits, an 11-digit mobile number starting with 1,
 * a 2-60 character bank).  A refused body always has an error body.
 */
#include "compat.h"
#include "claim.h"
#include "secret.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
all_digits(const char *s)
{
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct claim_input in;
	struct claim_errors err;
	struct buf b;
	size_t n;

	if (!ready) {
		if (secret_init() != TL_OK)
			__builtin_trap();
		ready = true;
	}
	if (size > 300 * 1024)
		return 0;
	if (claim_parse_json((const char *)data, size, &in, &err) == CLAIM_OK) {
		const char *name = in.f[CF_NAME], *bank = in.f[CF_BANK];
		const char *acc = in.f[CF_ACCOUNT], *phone = in.f[CF_PHONE];
		if (!utf8_valid(name, strlen(name), &n) || n < 1 || n > CLAIM_NAME_MAX_CHARS ||
		    strpbrk(name, "0123456789"))
			__builtin_trap();
		if (!utf8_valid(bank, strlen(bank), &n) || n < CLAIM_BANK_MIN_CHARS || n > CLAIM_BANK_MAX_CHARS)
			__builtin_trap();
		if (!claim_id_number_valid(in.f[CF_ID_NUMBER], strlen(in.f[CF_ID_NUMBER])))
			__builtin_trap();
		if (!all_digits(acc) || strlen(acc) < CLAIM_ACCOUNT_MIN_DIGITS ||
		    strlen(acc) > CLAIM_ACCOUNT_MAX_DIGITS)
			__builtin_trap();
		if (!all_digits(phone) || strlen(phone) != 11 || phone[0] != '1')
			__builtin_trap();
		claim_input_free(&in);
	} else {
		if (in.mem)
			__builtin_trap();
		buf_init(&b, 4096);
		if (claim_error_body(&err, &b) != TL_OK)
			__builtin_trap();
		buf_free(&b);
	}
	return 0;
}
