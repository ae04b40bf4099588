/*
 * fuzz_wire.c - every wire_*_decode over arbitrary bytes.
 *
 * The first byte picks nothing: each input is fed to all four decoders,
 * so one corpus covers them all.  Whatever decodes is re-encoded and
 * decoded again, and must come back the same (round-trip stability).
 * Replayed over tests/fuzz/corpus/wire/ by ctest in every build.
 */
#include "compat.h"
#include "wire.h"

#include <sodium.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_identity(const char *p, size_t n)
{
	struct wire_identity a, b;
	struct buf out;

	if (wire_identity_decode(p, n, &a) != TL_OK)
		return;
	buf_init_secret(&out, WIRE_MAX_MSG);
	if (wire_identity_encode(&a, &out) != TL_OK || wire_identity_decode(out.data, out.len, &b) != TL_OK)
		abort();
	if (strcmp(a.report_id, b.report_id) != 0 || strcmp(a.text, b.text) != 0 ||
	    a.received_ms != b.received_ms)
		abort();
	wire_identity_free(&b);
	wire_identity_free(&a);
	buf_free(&out);
}

static void
check_deposit(const char *p, size_t n)
{
	struct wire_deposit a, b;
	struct buf out;

	if (wire_deposit_decode(p, n, &a) != TL_OK)
		return;
	buf_init(&out, 2 * WIRE_MAX_MSG);
	if (wire_deposit_encode(&a, &out) == TL_OK) {
		if (wire_deposit_decode(out.data, out.len, &b) != TL_OK || b.sealed_len != a.sealed_len ||
		    memcmp(a.sealed, b.sealed, a.sealed_len) != 0)
			abort();
		wire_deposit_free(&b);
	}
	wire_deposit_free(&a);
	buf_free(&out);
}

static void
check_lead(const char *p, size_t n)
{
	struct wire_lead a, b;
	struct buf out;

	if (wire_lead_decode(p, n, &a) != TL_OK)
		return;
	buf_init(&out, 2 * WIRE_MAX_MSG);
	if (wire_lead_encode(&a, &out) != TL_OK || wire_lead_decode(out.data, out.len, &b) != TL_OK)
		abort();
	if (strcmp(a.district, b.district) != 0 || strcmp(a.text, b.text) != 0 ||
	    memcmp(a.redactions, b.redactions, sizeof(a.redactions)) != 0)
		abort();
	wire_lead_free(&b);
	wire_lead_free(&a);
	buf_free(&out);
}

static void
check_status(const char *p, size_t n)
{
	struct wire_status a, b;
	struct buf out;

	if (wire_status_decode(p, n, &a) != TL_OK)
		return;
	buf_init(&out, 4096);
	if (wire_status_encode(&a, &out) != TL_OK || wire_status_decode(out.data, out.len, &b) != TL_OK ||
	    strcmp(a.status, b.status) != 0)
		abort();
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool inited;
	const char *p = (const char *)data;

	if (!inited) {
		if (sodium_init() < 0)
			abort();
		inited = true;
	}
	check_identity(p, size);
	check_deposit(p, size);
	check_lead(p, size);
	check_status(p, size);
	return 0;
}
