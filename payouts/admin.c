#include "compat.h"
#include "admin.h"
#include "district.h"
#include "ledger.h"
#include "num.h"
#include "secret.h"
#include "staffkey.h"
#include "timefmt.h"

#include <termios.h>
#include <unistd.h>

char *
payouts_read_password(const char *prompt, bool confirm)
{
	char *a = NULL, *b = NULL;
	bool tty = isatty(STDIN_FILENO);
	int rounds = tty && confirm ? 2 : 1;
	struct termios old, quiet;
	size_t len;

	if (!(a = sodium_malloc(AUTH_PASSWORD_MAX + 2)) || !(b = sodium_malloc(AUTH_PASSWORD_MAX + 2)))
		goto fail;
	for (int round = 0; round < rounds; round++) {
		char *dst = round ? b : a;
		if (tty) {
			fprintf(stderr, round ? "repeat %s: " : "%s: ", prompt);
			if (tcgetattr(STDIN_FILENO, &old) != 0)
				goto fail;
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		}
		dst[0] = '\0';
		if (!fgets(dst, AUTH_PASSWORD_MAX + 2, stdin))
			dst[0] = '\0';
		if (tty) {
			(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
			fputc('\n', stderr);
		}
		len = strlen(dst);
		if (len > AUTH_PASSWORD_MAX) {
			fprintf(stderr, "%s longer than %d bytes\n", prompt, AUTH_PASSWORD_MAX);
			goto fail;
		}
		while (len && (dst[len - 1] == '\n' || dst[len - 1] == '\r'))
			dst[--len] = '\0';
	}
	if (rounds == 2 && strcmp(a, b) != 0) {
		fprintf(stderr, "the passwords differ\n");
		goto fail;
	}
	secret_free(b);
	return a;
fail:
	secret_free(a);
	secret_free(b);
	return NULL;
}

bool
payouts_parse_yuan(const char *s, int64_t *fen)
{
	const char *dot = strchr(s, '.');
	size_t ilen = dot ? (size_t)(dot - s) : strlen(s), flen = dot ? strlen(dot + 1) : 0;
	int64_t yuan, frac = 0;

	if (ilen == 0 || (dot && (flen == 0 || flen > 2)))
		return false;
	if (num_parse_i64(s, ilen, 0, INT64_MAX / 100 - 1, &yuan) != TL_OK)
		return false;
	if (dot && num_parse_i64(dot + 1, flen, 0, 99, &frac) != TL_OK)
		return false;
	if (flen == 1)
		frac *= 10;
	*fen = yuan * 100 + frac;
	return *fen > 0;
}

/* ---- users ---- */

static int
user_add(struct payouts_svc *s, const char *name, const char *role_s, const char *scope)
{
	enum auth_role role;
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	char pkhex[2 * crypto_sign_PUBLICKEYBYTES + 1];
	enum staff_level level = strcmp(scope, DISTRICT_CITY) == 0 ? STAFF_CITY : STAFF_DISTRICT;
	char *pw = NULL;
	enum tl_err e;
	int rc = 1;

	if (auth_role_parse(role_s, &role) != TL_OK ||
	    (role != AUTH_ROLE_FINANCE_PROPOSER && role != AUTH_ROLE_FINANCE_APPROVER &&
	     role != AUTH_ROLE_FINANCE_PAYER && role != AUTH_ROLE_AUDITOR)) {
		fprintf(stderr, "tipline-payouts: role must be finance_proposer, finance_approver, finance_payer or"
		                " auditor\n");
		return 2;
	}
	/* An approver's level (district or city) comes from the code. */
	if (role == AUTH_ROLE_FINANCE_APPROVER && !district_valid(scope)) {
		fprintf(stderr, "tipline-payouts: an approver's scope is a district code, or 120000 for a city-level"
		                " approver\n");
		return 2;
	}
	if (!(pw = payouts_read_password("password", true)))
		return 1;
	e = auth_user_add(s->db, name, role, scope, pw);
	if (e == TL_OK && role == AUTH_ROLE_FINANCE_APPROVER) {
		e = staffkey_create(s->core, name, level, pw, time_now_ms(), pk);
		if (e != TL_OK) {
			/* Without a key the account must not be usable. */
			if (auth_user_disable(s->db, name) != TL_OK)
				fprintf(stderr, "tipline-payouts: disabling %s failed; disable it by hand\n", name);
			fprintf(stderr, "tipline-payouts: user %s added but disabled: the signing key could not be made"
			                " (%s%s)\n", name, tl_strerror(e),
			        e == TL_EEXIST ? ": this staff id already has a registered key; choose a new name" : "");
			goto out;
		}
	}
	switch (e) {
	case TL_OK:
		printf("user %s: add ok\n", name);
		if (role == AUTH_ROLE_FINANCE_APPROVER) {
			hex_encode(pk, sizeof(pk), pkhex);
			/* One line for the vault's approvers_file. */
			printf("%s %s %s\n", name, level == STAFF_CITY ? "city" : "district", pkhex);
		}
		rc = 0;
		break;
	case TL_EEXIST: fprintf(stderr, "tipline-payouts: user %s already exists\n", name); break;
	case TL_EINVAL:
		fprintf(stderr, "tipline-payouts: invalid name, scope or password (names: a-z 0-9 . _ -, at most %d;"
		                " scope: a district code, 120000 or all; passwords: at least %d characters)\n",
		        AUTH_NAME_MAX, AUTH_PASSWORD_MIN);
		break;
	default: fprintf(stderr, "tipline-payouts: user add failed (%s)\n", tl_strerror(e)); break;
	}
out:
	secret_free(pw);
	return rc;
}

static int
user_passwd(struct payouts_svc *s, const char *name)
{
	char *old = NULL, *pw = NULL;
	bool has_key = staffkey_exists(s->db, name);
	enum tl_err e;
	int rc = 1;

	/* The signing key is sealed under the password: without the old one
	 * it stays sealed, so an approver must give it. */
	if (has_key && !(old = payouts_read_password("current password", false)))
		return 1;
	if (!(pw = payouts_read_password(has_key ? "new password" : "password", true)))
		goto out;
	if (has_key) {
		if (strlen(pw) < AUTH_PASSWORD_MIN) {
			fprintf(stderr, "tipline-payouts: passwords have at least %d characters\n", AUTH_PASSWORD_MIN);
			goto out;
		}
		e = staffkey_rewrap(s->db, name, old, pw, time_now_ms());
		if (e != TL_OK) {
			fprintf(stderr, "tipline-payouts: %s: %s; nothing changed\n", name,
			        e == TL_EDENIED ? "the current password is wrong (the signing key stays sealed under it;"
			                          " an approver who forgot it needs a new account)"
			                        : tl_strerror(e));
			goto out;
		}
	}
	e = auth_user_passwd(s->db, name, pw);
	if (e != TL_OK && has_key && staffkey_rewrap(s->db, name, pw, old, time_now_ms()) != TL_OK)
		fprintf(stderr, "tipline-payouts: %s: the signing key is now sealed under the new password\n", name);
	switch (e) {
	case TL_OK:
		printf("user %s: passwd ok%s\n", name, has_key ? " (signing key re-sealed)" : "");
		rc = 0;
		break;
	case TL_ENOTFOUND: fprintf(stderr, "tipline-payouts: no user %s\n", name); break;
	case TL_EINVAL:
		fprintf(stderr, "tipline-payouts: passwords have at least %d characters\n", AUTH_PASSWORD_MIN);
		break;
	default: fprintf(stderr, "tipline-payouts: passwd failed (%s)\n", tl_strerror(e)); break;
	}
out:
	secret_free(old);
	secret_free(pw);
	return rc;
}

/* Every enabled approver's "NAME LEVEL PUBKEY" line, the whole content of
 * the vault's approvers file: regenerate it after adding, disabling or
 * replacing an approver instead of editing it by hand. */
static int
user_approvers(struct payouts_svc *s)
{
	struct db_stmt *st = NULL;
	bool row;
	enum tl_err e;

	if ((e = db_prepare(s->db, "SELECT f.staff_id, f.level, f.pk FROM staff f"
	                           " JOIN auth_users u ON u.name = f.staff_id"
	                           " WHERE u.disabled = 0 AND u.role = 'finance_approver'"
	                           " ORDER BY f.staff_id;", &st)) != TL_OK) {
		fprintf(stderr, "tipline-payouts: cannot list approvers (%s)\n", tl_strerror(e));
		return 1;
	}
	printf("# tipline-payouts approvers for the vault's approvers_file (NAME LEVEL PUBKEY)\n");
	while ((e = db_step(st, &row)) == TL_OK && row)
		printf("%s %s %s\n", db_col_text(st, 0), db_col_text(st, 1), db_col_text(st, 2));
	db_finalize(st);
	if (e != TL_OK) {
		fprintf(stderr, "tipline-payouts: cannot list approvers (%s)\n", tl_strerror(e));
		return 1;
	}
	return 0;
}

int
payouts_admin_user(struct payouts_svc *s, int argc, char **argv)
{
	const char *verb = argc > 0 ? argv[0] : "";
	enum tl_err e;

	if (strcmp(verb, "approvers") == 0 && argc == 1)
		return user_approvers(s);
	if (strcmp(verb, "add") == 0 && argc == 4)
		return user_add(s, argv[1], argv[2], argv[3]);
	if (strcmp(verb, "passwd") == 0 && argc == 2)
		return user_passwd(s, argv[1]);
	if (argc != 2)
		return 2;
	if (strcmp(verb, "disable") == 0)
		e = auth_user_disable(s->db, argv[1]);
	else if (strcmp(verb, "enable") == 0)
		e = auth_user_enable(s->db, argv[1]);
	else if (strcmp(verb, "unlock") == 0)
		e = auth_user_unlock(s->db, argv[1]);
	else
		return 2;
	if (e == TL_OK) {
		printf("user %s: %s ok\n", argv[1], verb);
		return 0;
	}
	if (e == TL_ENOTFOUND)
		fprintf(stderr, "tipline-payouts: no user %s\n", argv[1]);
	else
		fprintf(stderr, "tipline-payouts: %s failed (%s)\n", verb, tl_strerror(e));
	return 1;
}

/* ---- budgets ---- */

/* The fund transfer's idempotency key: the same district, year, amount
 * and sequence number always give the same id, so a repeated command
 * funds once; a new sequence number funds again. */
static void
fund_id(const char *district, int year, int64_t fen, int64_t seq, char out[LEDGER_ID_LEN + 1])
{
	unsigned char h[LEDGER_ID_LEN / 2];
	char seed[128];
	int n = snprintf(seed, sizeof(seed), "tipline budget fund v1|%s|%d|%lld|%lld", district, year, (long long)fen,
	                 (long long)seq);

	crypto_generichash(h, sizeof(h), (const unsigned char *)seed, (size_t)n, NULL, 0);
	hex_encode(h, sizeof(h), out);
}

static int
budget_show(struct payouts_svc *s, const char *district, int year)
{
	struct db_stmt *st = NULL;
	bool row;
	int shown = 0;
	enum tl_err e;

	if ((e = db_prepare(s->db, "SELECT name, debits_fen, credits_fen FROM accounts WHERE kind = 'budget'"
	                           " ORDER BY name;", &st)) != TL_OK)
		goto out;
	while ((e = db_step(st, &row)) == TL_OK && row) {
		const char *name = db_col_text(st, 0);
		char d[8] = "";
		int y = 0;
		int64_t debits = db_col_int64(st, 1), credits = db_col_int64(st, 2);

		/* budget:<district>:<year> */
		if (!name || strlen(name) != strlen("budget:120000:2026"))
			continue;
		memcpy(d, name + 7, 6);
		y = (int)strtol(name + 14, NULL, 10);
		if ((district && strcmp(district, d) != 0) || (year && year != y))
			continue;
		printf("budget %s %d funded_fen=%lld used_fen=%lld remaining_fen=%lld\n", d, y, (long long)credits,
		       (long long)debits, (long long)(credits - debits));
		shown++;
	}
out:
	db_finalize(st);
	if (e != TL_OK) {
		fprintf(stderr, "tipline-payouts: budget show failed (%s)\n", tl_strerror(e));
		return 1;
	}
	if (!shown)
		printf("no budget%s%s\n", district ? " for " : "", district ? district : "");
	return 0;
}

int
payouts_admin_budget(struct payouts_svc *s, int argc, char **argv)
{
	const char *verb = argc > 0 ? argv[0] : "";
	int64_t year = 0, fen, seq;
	char tid[LEDGER_ID_LEN + 1];
	enum ledger_outcome out;
	enum tl_err e;

	if (strcmp(verb, "show") == 0 && argc <= 3) {
		if (argc >= 2 && !district_valid(argv[1])) {
			fprintf(stderr, "tipline-payouts: %s is not a district code\n", argv[1]);
			return 2;
		}
		if (argc == 3 && num_parse_i64(argv[2], strlen(argv[2]), 2000, 2999, &year) != TL_OK) {
			fprintf(stderr, "tipline-payouts: YEAR must be 2000 .. 2999\n");
			return 2;
		}
		return budget_show(s, argc >= 2 ? argv[1] : NULL, (int)year);
	}
	if (strcmp(verb, "fund") != 0 || argc != 5)
		return 2;
	if (!district_valid(argv[1])) {
		fprintf(stderr, "tipline-payouts: %s is not a district code\n", argv[1]);
		return 2;
	}
	if (num_parse_i64(argv[2], strlen(argv[2]), 2000, 2999, &year) != TL_OK) {
		fprintf(stderr, "tipline-payouts: YEAR must be 2000 .. 2999\n");
		return 2;
	}
	if (!payouts_parse_yuan(argv[3], &fen)) {
		fprintf(stderr, "tipline-payouts: YUAN must be a positive amount such as 1000000 or 2500.50\n");
		return 2;
	}
	if (num_parse_i64(argv[4], strlen(argv[4]), 1, INT64_MAX, &seq) != TL_OK) {
		fprintf(stderr, "tipline-payouts: SEQ must be a positive integer (1 for the year's first funding)\n");
		return 2;
	}
	fund_id(argv[1], (int)year, fen, seq, tid);
	e = payouts_fund_budget(s->core, argv[1], (int)year, fen, tid, time_now_ms(), &out);
	if (e != TL_OK) {
		fprintf(stderr, "tipline-payouts: funding %s %lld failed (%s%s)\n", argv[1], (long long)year,
		        tl_strerror(e), e == TL_EEXIST ? ": that sequence number was used with other values" : "");
		return 1;
	}
	printf("budget %s %lld: %s %lld fen (transfer %s)\n", argv[1], (long long)year,
	       out == LEDGER_CREATED ? "funded" : "already funded with", (long long)fen, tid);
	return budget_show(s, argv[1], (int)year);
}
