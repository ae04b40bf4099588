/*
 * fuzz_intake_xff.c - intake's X-Forwarded-For walk (intake/clientaddr.c)
 * over arbitrary header values, from a trusted peer (the case where the
 * header is read at all).  Whatever the header holds, the derived address
 * is a 4- or 16-byte address; an input the walk cannot read must fall back
 * to the peer itself.  The first input line, if it parses, is also tried
 * as a trusted_proxies list.  Replayed over tests/fuzz/corpus/intake_xff/.
 */
#include "compat.h"
#include "clientaddr.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char peer[4] = { 127, 0, 0, 1 };
	struct clientaddr_trust t, t2;
	struct clientaddr out;
	char err[160], *s;
	const char *nl;

	if (size > 1 << 20 || !(s = malloc(size + 1)))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (clientaddr_trust_parse("127.0.0.1, ::1", &t, err, sizeof(err)) != TL_OK)
		abort();
	clientaddr_derive(&t, peer, sizeof(peer), s, &out);
	if (out.len != 4 && out.len != 16)
		abort();
	/* An untrusted peer never has its header read. */
	memset(&t2, 0, sizeof(t2));
	clientaddr_derive(&t2, peer, sizeof(peer), s, &out);
	if (out.len != 4 || memcmp(out.addr, peer, 4) != 0)
		abort();
	if ((nl = memchr(s, '\n', size)) != NULL) {
		char *line = strndup(s, (size_t)(nl - s));
		if (line && clientaddr_trust_parse(line, &t2, err, sizeof(err)) == TL_OK &&
		    t2.n > CLIENTADDR_MAX_PROXIES)
			abort();
		free(line);
	}
	free(s);
	return 0;
}
