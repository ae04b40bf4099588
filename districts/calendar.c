#include "compat.h"
#include "calendar.h"
#include "num.h"

#define DAY_MS (86400LL * 1000)
#define CST_OFFSET_MS (8LL * 3600 * 1000)

int64_t
cal_day_of(int64_t ms)
{
	int64_t t = ms + CST_OFFSET_MS;

	/* Floor division: instants before 1970 are not expected, but a
	 * negative remainder must not round towards zero. */
	return t >= 0 ? t / DAY_MS : -((-t + DAY_MS - 1) / DAY_MS);
}

static bool
listed(const int64_t *v, size_t n, int64_t day)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] == day)
			return true;
		if (v[mid] < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool
cal_is_working_day(const struct cal *c, int64_t day)
{
	/* 1970-01-01 was a Thursday: (day + 3) % 7 gives 0 = Monday. */
	int64_t wd = ((day % 7) + 7 + 3) % 7;

	if (c && listed(c->workdays, c->nworkdays, day))
		return true;
	if (wd >= 5)
		return false;
	return !(c && listed(c->holidays, c->nholidays, day));
}

int64_t
cal_add_working_days(const struct cal *c, int64_t start_ms, int n)
{
	int64_t day = cal_day_of(start_ms);
	int guard = 0;

	while (n > 0 && guard++ < 100000) {
		day++;
		if (cal_is_working_day(c, day))
			n--;
	}
	return (day + 1) * DAY_MS - CST_OFFSET_MS;
}

/* Days from civil date (Howard Hinnant's algorithm), proleptic Gregorian. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static enum tl_err
push(int64_t **v, size_t *n, int64_t day)
{
	int64_t *p;

	if (*n >= CAL_MAX_DAYS)
		return TL_ETOOBIG;
	if (!(p = realloc(*v, (*n + 1) * sizeof(*p))))
		return TL_ENOMEM;
	p[(*n)++] = day;
	*v = p;
	return TL_OK;
}

enum tl_err
cal_load(const char *path, struct cal *c, char *why, size_t whylen)
{
	char line[256];
	int lineno = 0;
	FILE *f;
	enum tl_err e = TL_OK;

	memset(c, 0, sizeof(*c));
	if (!(f = fopen(path, "r"))) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return TL_ECONFIG;
	}
	while (fgets(line, sizeof(line), f)) {
		uint64_t y, m, d;
		char *p = line, *kind;
		size_t len;

		lineno++;
		len = strlen(line);
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		/* "YYYY-MM-DD holiday|workday" exactly. */
		if (len < 12 || p[4] != '-' || p[7] != '-' || p[10] != ' ' ||
		    num_parse_u64(p, 4, 9999, &y) != TL_OK || num_parse_u64(p + 5, 2, 12, &m) != TL_OK ||
		    num_parse_u64(p + 8, 2, 31, &d) != TL_OK || y < 2000 || m < 1 || d < 1) {
			e = TL_ECONFIG;
			break;
		}
		kind = p + 11;
		if (strcmp(kind, "holiday") == 0)
			e = push(&c->holidays, &c->nholidays, days_from_civil((int64_t)y, (unsigned)m, (unsigned)d));
		else if (strcmp(kind, "workday") == 0)
			e = push(&c->workdays, &c->nworkdays, days_from_civil((int64_t)y, (unsigned)m, (unsigned)d));
		else
			e = TL_ECONFIG;
		if (e != TL_OK)
			break;
	}
	fclose(f);
	if (e != TL_OK) {
		snprintf(why, whylen, "%s:%d: expected \"YYYY-MM-DD holiday\" or \"YYYY-MM-DD workday\"%s",
		         path, lineno, e == TL_ETOOBIG ? " (too many lines)" : "");
		cal_free(c);
		return e == TL_ENOMEM ? e : TL_ECONFIG;
	}
	if (c->holidays)
		qsort(c->holidays, c->nholidays, sizeof(int64_t), cmp_i64);
	if (c->workdays)
		qsort(c->workdays, c->nworkdays, sizeof(int64_t), cmp_i64);
	return TL_OK;
}

void
cal_free(struct cal *c)
{
	free(c->holidays);
	free(c->workdays);
	memset(c, 0, sizeof(*c));
}
