/*
 * pages.h - the reporter's Chinese HTML pages, served by intake next to
 * the JSON API: no script, no external asset, the strict page CSP
 * (HTTP_HTML_CSP, set on the whole server by main.c), templates and CSS
 * from web/intake embedded at build time.
 *
 *   GET  /status                  the receipt form
 *   GET  /status?receipt=...      the status in words (404 "未找到" page,
 *                                 the same for unknown and malformed
 *                                 receipts; rate-limited with the API)
 *   GET  /status/claim?receipt=   the claim form (only while a claim is
 *                                 open); sets the CSRF cookie
 *   POST /status/claim            url-encoded form -> intake_claim_run
 *   GET  /status/style.css
 *
 * CSRF (there is no login): double submit - a random 256-bit token in an
 * HttpOnly SameSite=Strict cookie (Path=/status/claim, Secure unless
 * cookie_secure=false) that the form repeats in a hidden field; the POST
 * needs both, equal.  In addition Sec-Fetch-Site, when the browser sends
 * it, must be same-origin, and Origin (unless "null", which browsers send
 * under our Referrer-Policy: no-referrer) and Referer, when present, must
 * name the Host the request was sent to.  The token doubles as the
 * claim's idempotency key, so a form submitted twice is one claim.
 *
 * Payee details are never put back into a page: after a validation error
 * the form comes back with only the bank refilled.
 *
 * Thread-safe: the compiled templates are immutable.
 */
#ifndef TL_INTAKE_PAGES_H
#define TL_INTAKE_PAGES_H

#include "api.h"
#include "http.h"

#define PAGES_CSRF_COOKIE "tl_claim_csrf"

struct intake_pages;

/* Compiles the embedded templates; err gets the template's problem. */
enum tl_err intake_pages_new(struct intake_pages **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void intake_pages_free(struct intake_pages *p);

/* Serves the paths above (path starts with "/status"); *what gets the
 * outcome for the log and metrics (a fixed word, never input). */
void intake_pages_handle(struct intake_api *api, const struct http_request *req,
                         struct http_response *resp, const char **what);

#endif
