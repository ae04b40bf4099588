/*
 * natsbus.h - intake's side of the bus: struct pipeline_bus over common/bus,
 * plus the health check and receipt lookups.
 *
 * Intake publishes from many HTTP threads, three blocking round trips per
 * report; on one connection they queue on its mutex, so natsbus spreads
 * them over a few connections (each thread sticks to one).
 *
 * Key-value buckets are opened lazily (intake starts even when NATS is
 * down: retry_on_failed_connect) and kept for the life of the process.
 * Every call first checks that the connection is up and fails at once with
 * TL_EUNAVAIL otherwise, so a client hears "503, try again" immediately
 * instead of after a timeout.  Each bus round trip is timed into the
 * publish histogram.
 *
 * Thread-safe.  Ownership: the caller owns the buses and closes them after
 * natsbus_free().
 */
#ifndef TL_INTAKE_NATSBUS_H
#define TL_INTAKE_NATSBUS_H

#include <stdbool.h>
#include <stddef.h>
#include "bus.h"
#include "metrics.h"
#include "pipeline.h"

struct natsbus;

#define NATSBUS_MAX_CONN 8

/* buses[0..n) are connections to the same servers (n <= NATSBUS_MAX_CONN). */
enum tl_err natsbus_new(struct bus *const *buses, int n, struct metric *publish_seconds,
                        struct natsbus **out) __attribute__((warn_unused_result));
/* Closes the buckets, not the buses. */
void natsbus_free(struct natsbus *nb);

/* The pipeline's view of this bus. */
struct pipeline_bus natsbus_iface(struct natsbus *nb);

bool natsbus_connected(struct natsbus *nb);
/* TL_OK if connected and both streams exist (stream checks cached for
 * cache_ms); otherwise the error and a short English reason in why. */
enum tl_err natsbus_health(struct natsbus *nb, int64_t cache_ms, char *why, size_t whylen);

#endif
