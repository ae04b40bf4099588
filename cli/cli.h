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

#endif
