/*
 * fuzz_route.c - route_decide on arbitrary location and text bytes.
 *
 * The first byte picks the fields: bit 0 explicit code from the next six
 * bytes, bit 1 coordinates from the next two bytes, the rest is split in
 * two at the first NUL into location and text.  Every input must give a
 * valid district code and a confidence in 0..100.
 */
#include "compat.h"
#include "district.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct route_gazetteer *gaz;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct route_input in;
	struct route_result r;
	char code[7];
	const uint8_t *p = data, *end = data + size, *nul;
	uint8_t flags;

	if (!gaz && route_gazetteer_load(NULL, &gaz) != TL_OK)
		abort();
	if (size == 0 || size > 256 * 1024)
		return 0;
	memset(&in, 0, sizeof(in));
	flags = *p++;
	if ((flags & 1) && end - p >= 6) {
		memcpy(code, p, 6);
		code[6] = '\0';
		in.district = code;
		p += 6;
	}
	if ((flags & 2) && end - p >= 2) {
		in.has_coords = true;
		in.lat = 38.5 + p[0] * (2.0 / 255);
		in.lon = 116.6 + p[1] * (1.6 / 255);
		p += 2;
	}
	nul = memchr(p, 0, (size_t)(end - p));
	in.location = (const char *)p;
	in.location_len = nul ? (size_t)(nul - p) : (size_t)(end - p);
	if (nul) {
		in.text = (const char *)nul + 1;
		in.text_len = (size_t)(end - nul - 1);
	}
	if (route_decide(gaz, &in, &r) != TL_OK || !district_valid(r.district) || r.confidence < 0 ||
	    r.confidence > 100)
		abort();
	return 0;
}
