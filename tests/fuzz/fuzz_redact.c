/*
 * fuzz_redact.c - redact_text on arbitrary bytes.
 *
 * Checks the invariants that hold for every input: the call succeeds, the
 * text is NUL-terminated at len and valid UTF-8, spans are sorted, disjoint
 * and inside the input, counts add up to the spans, and no span leaves an
 * ASCII digit of its own run visible right at its edge.
 */
#include "compat.h"
#include "redact.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct redact_result r;
	unsigned total = 0;

	if (size > 256 * 1024)
		return 0;
	if (redact_text((const char *)data, size, &r) != TL_OK)
		abort();
	if (!r.text || r.text[r.len] != '\0' || strlen(r.text) != r.len || !utf8_valid(r.text, r.len, NULL))
		abort();
	for (size_t i = 0; i < r.nspans; i++) {
		const struct redact_span *s = &r.spans[i];
		if (s->start >= s->end || s->end > size || (unsigned)s->type >= REDACT_NTYPES)
			abort();
		if (i && r.spans[i - 1].end > s->start)
			abort();
		/* a redacted number never ends in the middle of its digit run */
		if (s->type != REDACT_NAME && s->type != REDACT_PLATE && s->end < size &&
		    s->end > 0 && data[s->end - 1] >= '0' && data[s->end - 1] <= '9' &&
		    data[s->end] >= '0' && data[s->end] <= '9')
			abort();
	}
	for (int t = 0; t < REDACT_NTYPES; t++)
		total += r.counts[t];
	if (total != r.nspans)
		abort();
	redact_result_free(&r);
	return 0;
}
