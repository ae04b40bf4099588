/*
 * fuzz_wireevent.c - the district messages of common/wire.c (case events,
 * TL_CLAIMS values, transfer offers/replies) over arbitrary bytes.  Each
 * input goes to all three decoders; whatever decodes is re-encoded and
 * must decode to the same thing.  Replayed over corpus/wireevent/ by ctest.
 */
#include "compat.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_event(const char *p, size_t n)
{
	struct wire_event a, b;
	struct buf out;

	if (wire_event_decode(p, n, &a) != TL_OK)
		return;
	buf_init(&out, WIRE_MAX_MSG);
	if (wire_event_encode(&a, &out) == TL_OK) {
		if (wire_event_decode(out.data, out.len, &b) != TL_OK)
			abort();
		if (a.type != b.type || a.seq != b.seq || strcmp(a.event_id, b.event_id) != 0 ||
		    a.at_ms != b.at_ms || a.fines_fen != b.fines_fen || strcmp(a.holder, b.holder) != 0)
			abort();
		wire_event_free(&b);
	}
	wire_event_free(&a);
	buf_free(&out);
}

static void
check_claim(const char *p, size_t n)
{
	struct wire_claim a, b;
	struct buf out;

	if (wire_claim_decode(p, n, &a) != TL_OK)
		return;
	buf_init(&out, WIRE_MAX_MSG);
	if (wire_claim_encode(&a, &out) != TL_OK || wire_claim_decode(out.data, out.len, &b) != TL_OK ||
	    a.held != b.held || a.expires_ms != b.expires_ms || strcmp(a.holder, b.holder) != 0)
		abort();
	buf_free(&out);
}

static void
check_xfer(const char *p, size_t n)
{
	struct wire_xfer a, b;
	struct buf out;

	if (wire_xfer_decode(p, n, &a) != TL_OK)
		return;
	buf_init(&out, WIRE_MAX_MSG);
	if (wire_xfer_encode(&a, &out) == TL_OK) {
		if (wire_xfer_decode(out.data, out.len, &b) != TL_OK || a.reply != b.reply ||
		    a.transfer_n != b.transfer_n || (a.lead && strcmp(a.lead, b.lead) != 0))
			abort();
		wire_xfer_free(&b);
	}
	wire_xfer_free(&a);
	buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;

	check_event(p, size);
	check_claim(p, size);
	check_xfer(p, size);
	return 0;
}
