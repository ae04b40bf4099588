/*
 * cli.h - subcommands of the `tipline` admin command.
 *
 * Each cmd_* gets argv starting at the subcommand name and returns the
 * process exit status (0 ok, 1 failure, 2 usage).
 */
#ifndef TL_CLI_H
#define TL_CLI_H

int cmd_redact(int argc, char **argv);
int cmd_route(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_streams(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_vault(int argc, char **argv);
int cmd_stream_dump(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_payfile(int argc, char **argv);

/* Reads all of stdin (at most max bytes) into a new NUL-terminated string
 * the caller frees; TL_ETOOBIG past max. */
#include <stddef.h>
#include "err.h"
enum tl_err read_stdin_bounded(char **out, size_t *len, size_t max);

#endif
