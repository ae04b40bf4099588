/*
 * compat.h - the first include of every Tipline .c file.
 *
 * Pulls in the standard headers every module uses, the project error enum,
 * and banned.h last so that unsafe calls fail to compile.  Third-party
 * headers (nats, jansson, sqlite3, microhttpd) must be included *before*
 * compat.h only if they use a banned name in a macro; none do today.
 */
#ifndef TL_COMPAT_H
#define TL_COMPAT_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define TL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define TL_WUR __attribute__((warn_unused_result))
#define TL_PRINTF(f, a) __attribute__((format(printf, f, a)))

#include "banned.h"

#endif
