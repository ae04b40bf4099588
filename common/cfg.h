/*
 * cfg.h - INI configuration with one schema per daemon.
 *
 * Each daemon describes every key it accepts in a table of struct cfg_key
 * (section, name, type, default, where to store it).  cfg_load() rejects
 * unknown sections and keys, repeated keys, values of the wrong type or out
 * of range, missing required keys, missing files, and secret key files that
 * are readable by others; the message in err names the file, line and key.
 *
 * Relative file paths are resolved against the config file's directory, so
 * a config works wherever the daemon is started from.  Secrets are never
 * inline: only paths to key files.
 *
 * Ownership: strings are malloc'd into the caller's struct; cfg_free()
 * releases them.  Not thread-safe (startup only).
 */
#ifndef TL_CFG_H
#define TL_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"

enum cfg_type {
	CFG_STR,         /* char * */
	CFG_INT,         /* int64_t, within [min, max] */
	CFG_BOOL,        /* bool: true/false/yes/no/on/off/1/0 */
	CFG_FILE,        /* char *, path of a readable file */
	CFG_PUBLIC_FILE, /* char *, path of a public key file */
	CFG_SECRET_FILE, /* char *, path of a secret file: owner-only mode */
	CFG_PATH,        /* char *, path that need not exist yet (data dirs, DB files) */
};

struct cfg_key {
	const char *section;
	const char *name;
	enum cfg_type type;
	const char *def; /* default as text; NULL means required */
	size_t off;      /* offsetof() the field in the daemon's struct */
	int64_t min, max;
};

enum tl_err cfg_load(const char *path, const struct cfg_key *schema, size_t n, void *out,
                     char *err, size_t errlen) __attribute__((warn_unused_result));
void cfg_free(const struct cfg_key *schema, size_t n, void *out);

#endif
