/*
 * clientaddr.c - see clientaddr.h.
 */
#include "compat.h"
#include "clientaddr.h"

#include <arpa/inet.h>


static const unsigned char v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static void
set_addr(struct clientaddr *out, const unsigned char *a, size_t len)
{
	memset(out, 0, sizeof(*out));
	if (len == 16 && memcmp(a, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0) {
		memcpy(out->addr, a + 12, 4);
		out->len = 4;
	} else if (len == 4 || len == 16) {
		memcpy(out->addr, a, len);
		out->len = len;
	}
}

bool
clientaddr_parse(const char *s, size_t len, struct clientaddr *out)
{
	char text[CLIENTADDR_MAX_TEXT + 1];
	unsigned char a[16];

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > CLIENTADDR_MAX_TEXT)
		return false;
	memcpy(text, s, len);
	text[len] = '\0';
	/* inet_pton would stop at neither; an embedded NUL must not pass. */
	if (strlen(text) != len)
		return false;
	if (inet_pton(AF_INET, text, a) == 1)
		set_addr(out, a, 4);
	else if (inet_pton(AF_INET6, text, a) == 1)
		set_addr(out, a, 16);
	else
		return false;
	return true;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t';
}

enum tl_err
clientaddr_trust_parse(const char *list, struct clientaddr_trust *t, char *err, size_t errlen)
{
	const char *p = list ? list : "";
	const char *q;

	memset(t, 0, sizeof(*t));
	while (is_space(*p))
		p++;
	if (!*p)
		return TL_OK;
	for (;;) {
		const char *b, *e;
		q = strchr(p, ',');
		e = q ? q : p + strlen(p);
		b = p;
		while (b < e && is_space(*b))
			b++;
		while (e > b && is_space(e[-1]))
			e--;
		if (b == e) {
			snprintf(err, errlen, "empty entry in the address list");
			goto fail;
		}
		if (t->n == CLIENTADDR_MAX_PROXIES) {
			snprintf(err, errlen, "more than %d addresses", CLIENTADDR_MAX_PROXIES);
			goto fail;
		}
		if (!clientaddr_parse(b, (size_t)(e - b), &t->proxy[t->n])) {
			snprintf(err, errlen, "\"%.*s\" is not an IPv4 or IPv6 address",
			         (int)((size_t)(e - b) > 64 ? 64 : (size_t)(e - b)), b);
			goto fail;
		}
		t->n++;
		if (!q)
			return TL_OK;
		p = q + 1;
	}
fail:
	memset(t, 0, sizeof(*t));
	return TL_EINVAL;
}

static bool
trusted(const struct clientaddr_trust *t, const struct clientaddr *a)
{
	for (size_t i = 0; t && i < t->n; i++)
		if (t->proxy[i].len == a->len && memcmp(t->proxy[i].addr, a->addr, a->len) == 0)
			return true;
	return false;
}

void
clientaddr_derive(const struct clientaddr_trust *t, const unsigned char *peer, size_t peer_len,
                  const char *xff, struct clientaddr *out)
{
	struct clientaddr cand;
	const char *end;

	set_addr(out, peer, peer_len);
	if (out->len == 0 || !xff || !trusted(t, out))
		return;
	/* From the right: each hop appends the address it was reached from,
	 * so only the entries our own proxies wrote can be believed. */
	end = xff + strlen(xff);
	for (int hop = 0; hop < CLIENTADDR_MAX_HOPS; hop++) {
		const char *b = end, *e = end;
		while (b > xff && b[-1] != ',')
			b--;
		while (b < e && is_space(*b))
			b++;
		while (e > b && is_space(e[-1]))
			e--;
		if (!clientaddr_parse(b, (size_t)(e - b), &cand))
			return; /* malformed or empty: the peer's bucket */
		if (!trusted(t, &cand)) {
			*out = cand;
			return;
		}
		/* Back over this entry and its comma; none left: every hop was a
		 * proxy of ours, so the peer is as good an answer as any. */
		while (end > xff && end[-1] != ',')
			end--;
		if (end == xff)
			return;
		end--;
	}
}

