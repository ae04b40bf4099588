#include "compat.h"
#include "buf.h"
#include "cli.h"

enum tl_err
read_stdin_bounded(char **out, size_t *len, size_t max)
{
	struct buf b;
	enum tl_err e;

	buf_init(&b, max);
	if ((e = buf_read_file(&b, stdin)) != TL_OK) {
		buf_free(&b);
		return e;
	}
	if (!(*out = buf_detach(&b, len)))
		return TL_ENOMEM;
	return TL_OK;
}
