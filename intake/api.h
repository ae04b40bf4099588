/*
 * api.h - tipline-intake's HTTP routes (the handler given to common/http):
 *
 *   POST /api/v1/reports              -> pipeline_submit, 201 with receipt
 *   GET  /api/v1/receipts/{receipt}   -> TL_STATUS lookup, rate-limited
 *   POST /api/v1/receipts/{receipt}/claim -> claim_submit, 202
 *   GET  /status[?receipt=]           -> Chinese status page (pages.c)
 *   GET  /status/claim?receipt=, POST /status/claim -> claim form (pages.c)
 *   GET  /status/style.css
 *   GET  /healthz                     -> NATS + streams
 *   GET  /metrics                     -> Prometheus text
 *
 * Every answer is JSON {"error","message"} on failure, with Chinese
 * messages for reporters.  Logs carry report ids, districts, status codes
 * and durations only: never addresses, identity, text, receipts or
 * idempotency keys (the receipt route's path is never logged).
 *
 * Thread-safety: intake_api_handle() runs on all of MHD's pool threads at
 * once; struct intake_api is read-only after setup and its parts
 * (pipeline, natsbus, ratelimit, metrics) are thread-safe.
 */
#ifndef TL_INTAKE_API_H
#define TL_INTAKE_API_H

#include <stdbool.h>
#include <stddef.h>
#include "http.h"
#include "metrics.h"
#include "claim.h"
#include "natsbus.h"
#include "clientaddr.h"
#include "pipeline.h"
#include "ratelimit.h"

struct intake_api {
	struct pipeline pl;           /* pl.bus is the natsbus (or a fake in tests) */
	struct natsbus *nb;           /* NULL in tests: health/receipts use pl.bus */
	struct ratelimit *rl;
	struct metrics *metrics;
	struct metric *m_requests, *m_accepted, *m_publish, *m_connected;
	size_t max_body;
	int64_t health_cache_ms;
	/* Claims: every post takes a token from claim_rl (per client
	 * address); a valid claim also from claim_receipt_rl (per receipt).
	 * NULL: no limit (tests). */
	struct ratelimit *claim_rl, *claim_receipt_rl;
	struct metric *m_claims;
	struct intake_pages *pages;   /* NULL: the pages answer 500 */
	bool cookie_secure;           /* Secure on the form's CSRF cookie */
	/* [intake] trusted_proxies: whose X-Forwarded-For names the client
	 * a request is rate-limited under (clientaddr.h).  Empty: nobody's. */
	struct clientaddr_trust trusted;
};

/* Outcome of a claim, shared by the API and the form. */
enum intake_claim_outcome {
	ICO_SUBMITTED,
	ICO_NOT_FOUND,     /* unknown or malformed receipt */
	ICO_CONFLICT,      /* not open: res->state */
	ICO_RATE_LIMITED,  /* per receipt; *retry_after_s set */
	ICO_UNAVAILABLE,   /* NATS down or refused: nothing published */
	ICO_INTERNAL,
};
enum intake_claim_outcome intake_claim_run(struct intake_api *api, const char *digits,
                                           bool wellformed, const struct claim_input *in,
                                           const char *idem_key, struct claim_result *res,
                                           unsigned *retry_after_s);

struct intake_pages;

/* Registers the metric families on api->metrics (must be set). */
enum tl_err intake_api_metrics_init(struct intake_api *api) __attribute__((warn_unused_result));

void intake_api_handle(void *cls, const struct http_request *req, struct http_response *resp);

/* Percent-decodes s into out (NUL-terminated); TL_EINVAL on a bad escape,
 * TL_ETOOBIG if it does not fit. */
enum tl_err intake_url_decode(const char *s, char *out, size_t outlen)
	__attribute__((warn_unused_result));

#endif
