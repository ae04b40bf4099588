/*
 * route.h - decides which district is responsible for a lead.
 *
 * Rules, in order: an explicit valid choice by the channel; the location
 * field; the tip text; coordinates; else the city triage code 120000.
 * When several districts are named, the one attached to the site ("厂在…",
 * "位于…") wins over where the reporter lives.  The result says which rule
 * decided and how confident it is (0-100), so the city triage can see why.
 *
 * The gazetteer is loaded once at start from a data file (default
 * TL_DATADIR "/tianjin-gazetteer.tsv") and is read-only afterwards, so
 * route_decide() is thread-safe.  route_gazetteer_free() releases it.
 */
#ifndef TL_ROUTE_H
#define TL_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include "err.h"

struct route_gazetteer;

enum route_rule {
	ROUTE_EXPLICIT,
	ROUTE_LOCATION,
	ROUTE_TEXT,
	ROUTE_COORDS,
	ROUTE_DEFAULT
};

struct route_input {
	const char *district;  /* explicit six-digit choice, or NULL */
	const char *location;  /* free text, or NULL */
	size_t location_len;
	const char *text;      /* tip text, or NULL */
	size_t text_len;
	bool has_coords;
	double lat, lon;       /* WGS-84 degrees when has_coords */
};

struct route_result {
	char district[7];      /* NUL-terminated six-digit code */
	enum route_rule rule;
	int confidence;        /* 0-100 */
};

enum tl_err route_gazetteer_load(const char *path, struct route_gazetteer **out)
	__attribute__((warn_unused_result));
void route_gazetteer_free(struct route_gazetteer *g);

/* Always succeeds for valid arguments (falls back to 120000). */
enum tl_err route_decide(const struct route_gazetteer *g, const struct route_input *in,
                         struct route_result *out) __attribute__((warn_unused_result));

const char *route_rule_name(enum route_rule r); /* "explicit", "location", ... */

#endif
