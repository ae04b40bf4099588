#include "compat.h"
#include "buf.h"

#include <sodium.h>

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
buf_init_secret(struct buf *b, size_t max)
{
	buf_init(b, max);
	b->secret = true;
}

static enum tl_err
buf_grow(struct buf *b, size_t need)
{
	size_t ncap;
	char *p;

	if (need + 1 <= b->cap)
		return TL_OK;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need + 1)
		ncap *= 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	if (b->secret) {
		/* realloc could leave a plaintext copy behind: copy and wipe. */
		p = malloc(ncap);
		if (!p)
			return TL_ENOMEM;
		if (b->data) {
			memcpy(p, b->data, b->len + 1);
			sodium_memzero(b->data, b->cap);
			free(b->data);
		}
	} else {
		p = realloc(b->data, ncap);
		if (!p)
			return TL_ENOMEM;
	}
	b->data = p;
	b->cap = ncap;
	return TL_OK;
}

enum tl_err
buf_append(struct buf *b, const void *p, size_t n)
{
	enum tl_err e;

	if (n > b->max || b->len > b->max - n)
		return TL_ETOOBIG;
	if ((e = buf_grow(b, b->len + n)) != TL_OK)
		return e;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return TL_OK;
}

enum tl_err
buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

enum tl_err
buf_append_char(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

enum tl_err
buf_printf(struct buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;
	enum tl_err e;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return TL_EINVAL;
	if ((size_t)n < sizeof(small)) {
		e = buf_append(b, small, (size_t)n);
		if (b->secret)
			sodium_memzero(small, sizeof(small));
		return e;
	}
	if ((size_t)n > b->max || b->len > b->max - (size_t)n)
		return TL_ETOOBIG;
	if ((e = buf_grow(b, b->len + (size_t)n)) != TL_OK)
		return e;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return TL_OK;
}

enum tl_err
buf_read_file(struct buf *b, FILE *f)
{
	char chunk[16384];
	size_t r;
	enum tl_err e;

	while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if ((e = buf_append(b, chunk, r)) != TL_OK)
			return e;
	}
	return ferror(f) ? TL_EIO : TL_OK;
}

void
buf_reset(struct buf *b)
{
	if (b->data) {
		if (b->secret)
			sodium_memzero(b->data, b->cap);
		b->data[0] = '\0';
	}
	b->len = 0;
}

void
buf_free(struct buf *b)
{
	if (b->data && b->secret)
		sodium_memzero(b->data, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *
buf_detach(struct buf *b, size_t *len)
{
	char *p = b->data;

	if (!p)
		p = calloc(1, 1);
	if (len)
		*len = p ? b->len : 0;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

const char *
buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}
