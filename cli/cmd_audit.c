/*
 * tipline audit verify [--pubkey FILE] CHAIN...
 *   Checks each hash-chained audit file end to end (common/audit.h) and
 *   prints "ok: N entries, head <hash>" or "BROKEN at entry N (line L):
 *   <reason>".  Exit 0 when every chain verifies, 1 otherwise, 2 on usage.
 *   Without --pubkey the key is /etc/tipline/<service>/keys/audit-<service>.pub,
 *   <service> taken from the chain's first entry.
 *
 * tipline audit append --key FILE [--service NAME] [--reason CODE]
 *                      CHAIN ACTOR ACTION OBJECT
 *   Hidden (not in the help): appends one entry signed with the secret key
 *   FILE, for operators' drills and the integration test.  The service
 *   defaults to NAME in the key file name audit-NAME.key.
 */
#include "compat.h"
#include "audit.h"
#include "cli.h"
#include "secret.h"

#include <sodium.h>

#define AUDIT_DEFAULT_KEYDIR "/etc/tipline"

static void
verify_usage(FILE *f)
{
	fprintf(f, "usage: tipline audit verify [--pubkey FILE] CHAIN...\n\n"
	           "Verifies each audit chain end to end: sequence, hash links and Ed25519\n"
	           "signatures.  Prints \"ok: N entries, head <hash>\" or \"BROKEN at entry N\n"
	           "(line L): <reason>\" per chain and exits 1 if any chain is broken.\n"
	           "Without --pubkey the key is " AUDIT_DEFAULT_KEYDIR "/<service>/keys/audit-<service>.pub,\n"
	           "<service> taken from the chain's first entry.  See docs/audit.md.\n");
}

/* The service named by the chain's first line, for the default key path. */
static int
first_service(const char *chain, char *out, size_t outlen)
{
	char line[AUDIT_LINE_MAX + 1], why[96];
	struct audit_entry *e = NULL;
	FILE *f = fopen(chain, "r");
	size_t n;
	int rc = -1;

	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f))
		goto cleanup;
	n = strlen(line);
	if (n == 0 || line[n - 1] != '\n')
		goto cleanup;
	if (!(e = malloc(sizeof(*e))))
		goto cleanup;
	if (audit_parse_line(line, n - 1, e, why, sizeof(why)) != TL_OK)
		goto cleanup;
	if ((size_t)snprintf(out, outlen, "%s", e->service) >= outlen)
		goto cleanup;
	rc = 0;
cleanup:
	free(e);
	fclose(f);
	return rc;
}

static int
verify_one(const char *chain, const char *pubpath)
{
	unsigned char pk[AUDIT_PK_BYTES];
	char why[512], defpath[4096], service[AUDIT_SERVICE_MAX + 1];
	struct audit_report r;
	enum tl_err e;

	if (!pubpath) {
		if (first_service(chain, service, sizeof(service)) != 0) {
			fprintf(stderr, "%s: cannot tell the service from the first entry; use --pubkey\n",
			        chain);
			return 1;
		}
		if ((size_t)snprintf(defpath, sizeof(defpath), AUDIT_DEFAULT_KEYDIR "/%s/keys/audit-%s.pub",
		                     service, service) >= sizeof(defpath))
			return 1;
		pubpath = defpath;
	}
	if (public_load(pubpath, pk, sizeof(pk), why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "%s: %s\n", chain, why);
		return 1;
	}
	e = audit_verify(chain, pk, &r);
	if (e == TL_OK) {
		printf("%s: ok: %llu entries, head %s\n", chain, (unsigned long long)r.entries, r.head);
		return 0;
	}
	if (e == TL_EPROTO) {
		printf("%s: BROKEN at entry %llu (line %llu): %s\n", chain,
		       (unsigned long long)r.bad_entry, (unsigned long long)r.bad_line, r.why);
		return 1;
	}
	fprintf(stderr, "%s: %s (%s)\n", chain, r.why, tl_strerror(e));
	return 1;
}

static int
cmd_audit_verify(int argc, char **argv)
{
	const char *pubpath = NULL;
	int i = 1, rc = 0;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			verify_usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--pubkey") == 0 && i + 1 < argc) {
			pubpath = argv[++i];
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			verify_usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		verify_usage(stderr);
		return 2;
	}
	for (; i < argc; i++)
		if (verify_one(argv[i], pubpath) != 0)
			rc = 1;
	return rc;
}

/* "…/audit-NAME.key" -> NAME */
static int
service_from_key(const char *keypath, char *out, size_t outlen)
{
	const char *base = strrchr(keypath, '/');
	size_t n;

	base = base ? base + 1 : keypath;
	n = strlen(base);
	if (strncmp(base, "audit-", 6) != 0 || n <= 10 || strcmp(base + n - 4, ".key") != 0 ||
	    n - 10 >= outlen)
		return -1;
	memcpy(out, base + 6, n - 10);
	out[n - 10] = '\0';
	return 0;
}

static int
cmd_audit_append(int argc, char **argv)
{
	const char *keypath = NULL, *service = NULL, *reason = NULL;
	char svc[AUDIT_SERVICE_MAX + 1], why[512];
	unsigned char *sk = NULL;
	struct audit *a = NULL;
	enum tl_err e;
	int i = 1, rc = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			keypath = argv[++i];
		else if (strcmp(argv[i], "--service") == 0 && i + 1 < argc)
			service = argv[++i];
		else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc)
			reason = argv[++i];
		else
			goto usage;
	}
	if (!keypath || argc - i != 4)
		goto usage;
	if (!service) {
		if (service_from_key(keypath, svc, sizeof(svc)) != 0) {
			fprintf(stderr, "tipline audit append: name the service with --service\n");
			return 2;
		}
		service = svc;
	}
	if (secret_load(keypath, AUDIT_SK_BYTES, &sk, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "tipline audit append: %s\n", why);
		goto cleanup;
	}
	if ((e = audit_open(argv[i], service, sk, &a)) != TL_OK) {
		fprintf(stderr, "tipline audit append: %s: %s%s\n", argv[i], tl_strerror(e),
		        e == TL_EPROTO ? " (the last entry does not verify; run tipline audit verify)" : "");
		goto cleanup;
	}
	if ((e = audit_append(a, argv[i + 1], argv[i + 2], argv[i + 3], reason)) != TL_OK) {
		fprintf(stderr, "tipline audit append: %s: %s\n", argv[i], tl_strerror(e));
		goto cleanup;
	}
	printf("appended entry %llu\n", (unsigned long long)audit_seq(a));
	rc = 0;
cleanup:
	audit_close(a);
	secret_free(sk);
	return rc;
usage:
	fprintf(stderr, "usage: tipline audit append --key FILE [--service NAME] [--reason CODE]"
	                " CHAIN ACTOR ACTION OBJECT\n");
	return 2;
}

int
cmd_audit(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return cmd_audit_verify(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "append") == 0)
		return cmd_audit_append(argc - 1, argv + 1);
	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		verify_usage(stdout);
		return 0;
	}
	verify_usage(stderr);
	return 2;
}
