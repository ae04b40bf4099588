/*
 * log.h - one-line structured logging to stderr.
 *
 * Lines look like: 2026-11-27T08:52:01.123Z vault info deposit stored report=ab12...
 * RULE: never pass identity fields (names, phones, ID numbers, emails,
 * OpenIDs, IPs, bank data) or tip text to any log function.  Log ids,
 * counts, sizes and error names only.  The canary tests grep the logs.
 *
 * Thread-safe: each line is written with a single write(2).
 */
#ifndef TL_LOG_H
#define TL_LOG_H

#include <stdarg.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERR };

/* Sets the program name shown on every line and the minimum level. */
void log_init(const char *prog, enum log_level min);
/* Parses "debug", "info", "warn", "error"; returns -1 on anything else. */
int log_level_parse(const char *s);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)

/* Startup-only: log and exit(1).  Library code never calls this. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* An invariant broke: log and abort(). */
#define BUG(...) tl_bug(__FILE__, __LINE__, __VA_ARGS__)
void tl_bug(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));

#endif
