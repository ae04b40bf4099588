/*
 * fuzz_intake_req.c - request_parse() on arbitrary bytes: it must never
 * crash, leak or accept a body that breaks its own promises (text present,
 * valid UTF-8, within limits, district valid).
 */
#include "compat.h"
#include "district.h"
#include "request.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct intake_request r;
	struct req_error err;
	struct buf b;
	size_t n;

	if (size > 300 * 1024)
		return 0;
	if (request_parse((const char *)data, size, &r, &err) == REQ_OK) {
		if (!r.text || r.text_len == 0 || !utf8_valid(r.text, r.text_len, &n) || n > 20000)
			__builtin_trap();
		if (r.district[0] && !district_valid(r.district))
			__builtin_trap();
		if (r.location && strlen(r.location) > 1024)
			__builtin_trap();
		request_free(&r);
	} else {
		buf_init(&b, 4096);
		if (request_error_body(&err, &b) != TL_OK)
			__builtin_trap();
		buf_free(&b);
	}
	return 0;
}
