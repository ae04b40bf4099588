/*
 * calendar.h - the working-day calendar that district deadlines count on.
 *
 * Days are China Standard Time (UTC+8, no DST) calendar days.  A day is a
 * working day if it is Monday..Friday and not listed as a holiday, or if
 * it is listed as an adjusted working day (调休: a weekend day worked to
 * bridge a holiday).  The list comes from a data file (data/holidays-cn.txt):
 *
 *   # comment
 *   2026-10-01 holiday
 *   2026-10-10 workday
 *
 * Ownership: struct cal is plain data; cal_free() releases its list.
 * Pure and thread-safe once loaded.
 */
#ifndef TL_DISTRICTS_CALENDAR_H
#define TL_DISTRICTS_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define CAL_MAX_DAYS 4096

struct cal {
	int64_t *holidays; /* CST day numbers (days since 1970-01-01 CST), sorted */
	size_t nholidays;
	int64_t *workdays; /* adjusted working days, sorted */
	size_t nworkdays;
};

/* Loads a holiday file; on a bad line names it in why. */
enum tl_err cal_load(const char *path, struct cal *c, char *why, size_t whylen)
	__attribute__((warn_unused_result));
void cal_free(struct cal *c);

int64_t cal_day_of(int64_t ms);          /* CST day number of a UTC instant */
bool cal_is_working_day(const struct cal *c, int64_t day);
/* The end (24:00 CST) of the n-th working day after the day of start_ms.
 * n = 0 means the end of start's own day.  c may be NULL (weekends only). */
int64_t cal_add_working_days(const struct cal *c, int64_t start_ms, int n);

#endif
