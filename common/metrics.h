/*
 * metrics.h - Prometheus counters, gauges and histograms, rendered as the
 * text exposition format (version 0.0.4) for a /metrics endpoint.
 *
 * Families are registered once at startup (metrics_counter() etc.), then
 * updated from any thread.  Labelled families keep at most
 * METRICS_MAX_SERIES label combinations; further combinations are counted
 * under the reserved value "other" so a hostile client can never grow
 * memory through label values (callers should only pass values from a
 * fixed set anyway: route names, status codes).
 *
 * Never put identity, text, receipts or addresses into label values.
 *
 * Ownership: the registry owns every family; metrics_free() releases all.
 * Thread-safety: updates and rendering may run concurrently (one mutex per
 * family); registration and metrics_free() are startup/shutdown only.
 */
#ifndef TL_METRICS_H
#define TL_METRICS_H

#include <stddef.h>
#include "buf.h"
#include "err.h"

#define METRICS_MAX_LABELS 4
#define METRICS_MAX_SERIES 64
#define METRICS_MAX_BUCKETS 16
#define METRICS_MAX_LABEL_VALUE 48

struct metrics;
struct metric;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* labels: comma-separated label names ("route,status"), or NULL for none.
 * Names must match [a-zA-Z_:][a-zA-Z0-9_:]*; returns NULL on bad input. */
struct metric *metrics_counter(struct metrics *m, const char *name, const char *help,
                               const char *labels);
struct metric *metrics_gauge(struct metrics *m, const char *name, const char *help);
/* bounds: strictly increasing upper bounds (the +Inf bucket is implicit). */
struct metric *metrics_histogram(struct metrics *m, const char *name, const char *help,
                                 const double *bounds, size_t nbounds);

/* Adds v (>= 0) to the series named by values (one per label, in the
 * registered order; NULL when the family has no labels). */
void metric_add(struct metric *c, const char *const *values, double v);
void metric_inc(struct metric *c, const char *const *values);
void metric_set(struct metric *g, double v);
void metric_observe(struct metric *h, double v);

/* Appends the whole registry in exposition format. */
enum tl_err metrics_render(struct metrics *m, struct buf *out) __attribute__((warn_unused_result));

#endif
