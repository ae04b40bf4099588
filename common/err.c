#include "compat.h"

#include <stdarg.h>
#include <stdio.h>

const char *
tl_strerror(enum tl_err e)
{
	switch (e) {
	case TL_OK: return "success";
	case TL_ENOMEM: return "out of memory";
	case TL_EINVAL: return "invalid input";
	case TL_ETOOBIG: return "limit exceeded";
	case TL_EPROTO: return "malformed message";
	case TL_EIO: return "I/O error";
	case TL_ECRYPTO: return "cryptographic failure";
	case TL_EDB: return "database error";
	case TL_EBUS: return "message bus error";
	case TL_EDENIED: return "permission denied";
	case TL_ENOTFOUND: return "not found";
	case TL_EEXIST: return "already exists";
	case TL_EUNAVAIL: return "service unavailable";
	case TL_ECONFIG: return "configuration error";
	case TL_ETIMEOUT: return "timed out";
	case TL_ECONFLICT: return "concurrent update conflict";
	case TL_ERR_MAX_: break;
	}
	return "unknown error";
}

void
tl_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || whylen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}
