#include "compat.h"
#include "log.h"

#include <time.h>
#include <unistd.h>

static const char *log_prog = "tipline";
static enum log_level log_min = LOG_INFO;

void
log_init(const char *prog, enum log_level min)
{
	log_prog = prog;
	log_min = min;
}

int
log_level_parse(const char *s)
{
	if (strcmp(s, "debug") == 0) return LOG_DEBUG;
	if (strcmp(s, "info") == 0) return LOG_INFO;
	if (strcmp(s, "warn") == 0) return LOG_WARN;
	if (strcmp(s, "error") == 0) return LOG_ERR;
	return -1;
}

static const char *
level_name(enum log_level l)
{
	switch (l) {
	case LOG_DEBUG: return "debug";
	case LOG_INFO: return "info";
	case LOG_WARN: return "warn";
	case LOG_ERR: return "error";
	}
	return "?";
}

void
log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	int n, m;

	if (lvl < log_min)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s ",
	             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	             tm.tm_sec, ts.tv_nsec / 1000000, log_prog, level_name(lvl));
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2; /* truncated, marked below */
	line[n++] = '\n';
	/* One write per line keeps lines from different threads whole. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}

void
tl_bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	log_msg(LOG_ERR, "BUG at %s:%d", file, line);
	va_start(ap, fmt);
	log_vmsg(LOG_ERR, fmt, ap);
	va_end(ap);
	abort();
}
