/*
 * clientaddr.h - which client address a request is rate-limited under.
 *
 * In production intake sits behind a TLS reverse proxy on loopback, so
 * every socket peer is the proxy.  For peers listed in [intake]
 * trusted_proxies, the client is the right-most X-Forwarded-For entry that
 * is not itself a trusted proxy: entries to its left were written by the
 * client and prove nothing.  A peer not in the list never has the header
 * honoured, so a client cannot choose its own bucket.  Anything unexpected
 * on the way (a malformed or empty entry, too many entries) counts the
 * request under the peer address: garbage is never trusted.
 *
 * Addresses are raw bytes as in struct http_request.client_addr (4 bytes
 * IPv4, 16 IPv6); an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is reduced
 * to its 4-byte IPv4 form so that one client has one bucket however it
 * connects.  The result is for the keyed rate-limit hash only: never log
 * or store it.
 *
 * Ownership: plain values, no allocation.  Pure and thread-safe; intake's
 * list lives in struct intake_api (api.h), filled from the config.
 */
#ifndef TL_INTAKE_CLIENTADDR_H
#define TL_INTAKE_CLIENTADDR_H

#include <stdbool.h>
#include <stddef.h>
#include "err.h"
#include "http.h"

#define CLIENTADDR_MAX_PROXIES 32
/* X-Forwarded-For entries examined from the right; a chain longer than
 * this through trusted proxies is not a real deployment. */
#define CLIENTADDR_MAX_HOPS 16
/* Longest textual address inet_pton can accept (INET6_ADDRSTRLEN - 1). */
#define CLIENTADDR_MAX_TEXT 45

struct clientaddr {
	unsigned char addr[HTTP_MAX_CLIENT_ADDR];
	size_t len; /* 4 or 16 */
};

struct clientaddr_trust {
	size_t n;
	struct clientaddr proxy[CLIENTADDR_MAX_PROXIES];
};

/* Parses a comma-separated list of IPv4/IPv6 addresses (spaces around
 * entries allowed; empty or blank text = trust nobody).  TL_EINVAL on an
 * entry that is not an address, an empty entry or more than
 * CLIENTADDR_MAX_PROXIES entries, with the reason in err; *t is then
 * empty. */
enum tl_err clientaddr_trust_parse(const char *list, struct clientaddr_trust *t, char *err,
                                   size_t errlen) __attribute__((warn_unused_result));

/* Parses one address (no spaces) into *out, reducing IPv4-mapped IPv6
 * to IPv4.  False if s is not a numeric address. */
bool clientaddr_parse(const char *s, size_t len, struct clientaddr *out)
	__attribute__((warn_unused_result));

/* The address to rate-limit under: peer (peer_len 4 or 16) unless it is
 * trusted and xff (the X-Forwarded-For value, may be NULL) names a
 * client as described above. */
void clientaddr_derive(const struct clientaddr_trust *t, const unsigned char *peer, size_t peer_len,
                       const char *xff, struct clientaddr *out);

#endif
