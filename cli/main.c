/*
 * tipline - the one admin command: keys, streams, config checks, redaction
 * and routing previews.  Each subcommand lives in cli/cmd_<name>.c.
 */
#include "compat.h"
#include "cli.h"
#include "log.h"
#include "secret.h"

struct cmd {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
};

static const struct cmd cmds[] = {
	{ "keygen", cmd_keygen, "generate development or production keys into a folder" },
	{ "streams", cmd_streams, "create or check the JetStream streams, consumers and buckets" },
	{ "check", cmd_check, "check a daemon's config file (like tipline-<daemon> -n)" },
	{ "redact", cmd_redact, "print the redacted form of text read on stdin" },
	{ "route", cmd_route, "print the district a location or tip is routed to" },
	{ "stream-dump", cmd_stream_dump, "print every message stored in a stream (operators, tests)" },
	{ "audit", cmd_audit, "verify hash-chained, signed audit logs (audit verify CHAIN...)" },
	{ "payfile", cmd_payfile, "open a sealed payment batch for the bank (payfile open FILE -k KEY)" },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: tipline <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < TL_ARRAY_LEN(cmds); i++)
		fprintf(f, "  %-12s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\n'tipline <command> -h' describes a command.\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	log_init("tipline", LOG_WARN);
	if (secret_init() != TL_OK) {
		fprintf(stderr, "tipline: cannot initialise libsodium\n");
		return 1;
	}
	for (size_t i = 0; i < TL_ARRAY_LEN(cmds); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "tipline: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return 2;
}
