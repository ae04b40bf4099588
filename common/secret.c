#include "compat.h"
#include "secret.h"
#include "num.h"

#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYFILE_MAX 1024

/* jansson copies every string it parses or builds, identity fields
 * included; these allocators wipe each block before freeing it.  The size
 * lives in a header sized to keep malloc's alignment. */
#define JSON_HDR sizeof(max_align_t)

static void *
json_wipe_malloc(size_t n)
{
	unsigned char *p;

	if (n > SIZE_MAX - JSON_HDR || !(p = malloc(n + JSON_HDR)))
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + JSON_HDR;
}

static void
json_wipe_free(void *q)
{
	unsigned char *p;
	size_t n;

	if (!q)
		return;
	p = (unsigned char *)q - JSON_HDR;
	memcpy(&n, p, sizeof(n));
	sodium_memzero(p, n + JSON_HDR);
	free(p);
}

enum tl_err
secret_init(void)
{
	struct rlimit rl = { 0, 0 };

	if (sodium_init() < 0)
		return TL_ECRYPTO;
	json_set_alloc_funcs(json_wipe_malloc, json_wipe_free);
	/* A core dump would write key material and plaintext identity to disk. */
	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)prctl(PR_SET_DUMPABLE, 0);
	return TL_OK;
}

static enum tl_err
check_fd(int fd, const char *path, bool secret, char *why, size_t whylen)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		snprintf(why, whylen, "%s: cannot stat: %s", path, strerror(errno));
		return TL_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s: not a regular file", path);
		return TL_EDENIED;
	}
	if (secret && st.st_uid != geteuid()) {
		snprintf(why, whylen, "%s: owned by uid %u, not by the running user (uid %u)", path,
		         (unsigned)st.st_uid, (unsigned)geteuid());
		return TL_EDENIED;
	}
	if (secret && (st.st_mode & 077) != 0) {
		snprintf(why, whylen, "%s: mode %03o lets group or others read it; chmod 600", path,
		         (unsigned)(st.st_mode & 0777));
		return TL_EDENIED;
	}
	return TL_OK;
}

static enum tl_err
open_key(const char *path, bool secret, int *fdp, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	enum tl_err e;

	if (fd < 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? TL_ENOTFOUND : errno == ELOOP ? TL_EDENIED : TL_EIO;
	}
	if ((e = check_fd(fd, path, secret, why, whylen)) != TL_OK) {
		close(fd);
		return e;
	}
	*fdp = fd;
	return TL_OK;
}

enum tl_err
secret_check_file(const char *path, char *why, size_t whylen)
{
	int fd;
	enum tl_err e = open_key(path, true, &fd, why, whylen);

	if (e == TL_OK)
		close(fd);
	return e;
}

/* Reads the whole (small) file into a sodium_malloc buffer. */
static enum tl_err
read_small(int fd, const char *path, char **out, size_t *outlen, char *why, size_t whylen)
{
	char *p = sodium_malloc(KEYFILE_MAX + 1);
	size_t n = 0;
	ssize_t r;

	if (!p)
		return TL_ENOMEM;
	while ((r = read(fd, p + n, KEYFILE_MAX + 1 - n)) > 0) {
		n += (size_t)r;
		if (n > KEYFILE_MAX)
			break;
	}
	if (r < 0 || n > KEYFILE_MAX) {
		snprintf(why, whylen, "%s: %s", path, r < 0 ? strerror(errno) : "file too large");
		sodium_free(p);
		return r < 0 ? TL_EIO : TL_ETOOBIG;
	}
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	p[n] = '\0';
	*out = p;
	*outlen = n;
	return TL_OK;
}

static enum tl_err
load_hex(const char *path, bool secret, unsigned char *dst, size_t len, char *why, size_t whylen)
{
	int fd;
	char *txt = NULL;
	size_t n;
	enum tl_err e;

	if ((e = open_key(path, secret, &fd, why, whylen)) != TL_OK)
		return e;
	e = read_small(fd, path, &txt, &n, why, whylen);
	close(fd);
	if (e != TL_OK)
		return e;
	if (hex_decode(txt, n, dst, len) != TL_OK) {
		snprintf(why, whylen, "%s: expected %zu hex characters", path, 2 * len);
		e = TL_EINVAL;
	}
	sodium_free(txt);
	return e;
}

enum tl_err
secret_load(const char *path, size_t len, unsigned char **out, char *why, size_t whylen)
{
	unsigned char *k = sodium_malloc(len);
	enum tl_err e;

	if (!k)
		return TL_ENOMEM;
	if ((e = load_hex(path, true, k, len, why, whylen)) != TL_OK) {
		sodium_free(k);
		return e;
	}
	*out = k;
	return TL_OK;
}

enum tl_err
public_load(const char *path, unsigned char *out, size_t len, char *why, size_t whylen)
{
	return load_hex(path, false, out, len, why, whylen);
}

enum tl_err
secret_load_text(const char *path, char **out, char *why, size_t whylen)
{
	int fd;
	size_t n;
	enum tl_err e;

	if ((e = open_key(path, true, &fd, why, whylen)) != TL_OK)
		return e;
	e = read_small(fd, path, out, &n, why, whylen);
	close(fd);
	if (e == TL_OK && n == 0) {
		snprintf(why, whylen, "%s: empty", path);
		sodium_free(*out);
		*out = NULL;
		e = TL_EINVAL;
	}
	return e;
}

enum tl_err
key_write(const char *path, const unsigned char *data, size_t len, unsigned mode)
{
	char *hex = sodium_malloc(2 * len + 2);
	int fd;
	enum tl_err e = TL_OK;

	if (!hex)
		return TL_ENOMEM;
	hex_encode(data, len, hex);
	hex[2 * len] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
	if (fd < 0) {
		e = errno == EEXIST ? TL_EEXIST : TL_EIO;
		goto out;
	}
	if (write(fd, hex, 2 * len + 1) != (ssize_t)(2 * len + 1) || fsync(fd) != 0)
		e = TL_EIO;
	if (close(fd) != 0)
		e = TL_EIO;
out:
	sodium_free(hex);
	return e;
}

void
secret_json_free(void *p)
{
	json_free_t ff = NULL;

	json_get_alloc_funcs(NULL, &ff);
	if (ff)
		ff(p);
	else
		free(p);
}

void
secret_free(void *p)
{
	if (p)
		sodium_free(p); /* sodium_free wipes before unmapping */
}
