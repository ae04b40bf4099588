/*
 * fuzz_http_form - the url-encoded form parser every console POST goes
 * through.  Beyond "no crash": a successful parse yields at most the asked
 * number of fields, each name non-empty, and every name and value valid
 * UTF-8 without NUL, and no single-valued name twice.
 */
#include "compat.h"
#include "http.h"
#include "utf8.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const multi[] = { "report", NULL };
	struct http_form f;

	if (http_form_parse((const char *)data, size, 8192, 32, multi, &f) == TL_OK) {
		if (f.n > 32)
			abort();
		for (size_t i = 0; i < f.n; i++) {
			if (!f.f[i].name[0] || !utf8_valid(f.f[i].name, strlen(f.f[i].name), NULL) ||
			    strlen(f.f[i].value) != f.f[i].value_len ||
			    !utf8_valid(f.f[i].value, f.f[i].value_len, NULL))
				abort();
			for (size_t j = 0; j < i; j++)
				if (strcmp(f.f[i].name, f.f[j].name) == 0 && strcmp(f.f[i].name, "report") != 0)
					abort();
		}
	}
	http_form_free(&f);
	return 0;
}
