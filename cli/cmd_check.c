/*
 * tipline check FILE: checks a daemon's config file by handing it to the
 * daemon itself (tipline-<daemon> -n -c FILE).
 *
 * Each daemon owns its schema (unknown keys are errors, files and key
 * modes are checked), so the only honest check is the daemon's own; a copy
 * of the schemas here would drift.  The daemon is chosen from the file's
 * first known section and looked up next to this binary in a build tree
 * (build/cli/tipline -> build/<daemon>/tipline-<daemon>), then beside it
 * (an installed bin/ dir), then in PATH.
 */
#include "compat.h"
#include "cli.h"

#include <libgen.h>
#include <unistd.h>

static const char *const daemons[] = { "intake", "vault", "district", "payouts", "mail" };

/* Finds the first "[name]" section naming a known daemon. */
static const char *
detect_daemon(const char *path)
{
	char line[512];
	const char *found = NULL;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "tipline check: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = line, *end;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '[' || !(end = strchr(p, ']')))
			continue;
		*end = '\0';
		for (size_t i = 0; i < TL_ARRAY_LEN(daemons); i++)
			if (strcmp(p + 1, daemons[i]) == 0)
				found = daemons[i];
	}
	fclose(f);
	if (!found)
		fprintf(stderr, "tipline check: %s: no [intake], [vault], [district], [payouts] or [mail]"
		                " section; cannot tell which daemon it configures\n", path);
	return found;
}

int
cmd_check(int argc, char **argv)
{
	char self[4096], cand[4096 + 64], prog[64];
	const char *daemon;
	char *dir;
	ssize_t n;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("usage: tipline check FILE\n\n"
		       "Runs tipline-<daemon> -n -c FILE for the daemon the file configures.\n");
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: tipline check FILE\n");
		return 2;
	}
	if (!(daemon = detect_daemon(argv[1])))
		return 2;
	snprintf(prog, sizeof(prog), "tipline-%s", daemon);
	char *const args[] = { prog, "-n", "-c", argv[1], NULL };

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0 && (size_t)n < sizeof(self) - 1) {
		self[n] = '\0';
		dir = dirname(self);
		/* The build tree's folder is the source folder: "districts" for
		 * tipline-district, the daemon's name for the others. */
		snprintf(cand, sizeof(cand), "%s/../%s%s/%s", dir, daemon,
		         strcmp(daemon, "district") == 0 ? "s" : "", prog);
		if (access(cand, X_OK) == 0)
			execv(cand, args);
		snprintf(cand, sizeof(cand), "%s/%s", dir, prog);
		if (access(cand, X_OK) == 0)
			execv(cand, args);
	}
	execvp(prog, args);
	fprintf(stderr, "tipline check: cannot run %s (%s); build it, or run %s -n -c %s yourself\n",
	        prog, strerror(errno), prog, argv[1]);
	return 2;
}
