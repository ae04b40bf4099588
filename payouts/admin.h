/*
 * admin.h - the administrator's subcommands of tipline-payouts (users and
 * budgets) and the password prompt they share with tl-payouts-ctl.
 *
 *   user add NAME ROLE SCOPE        finance_proposer, finance_approver,
 *                                   finance_payer or auditor; approvers
 *                                   also get a signing key and the line
 *                                   "NAME LEVEL PUBKEYHEX" for the vault's
 *                                   approvers file is printed
 *   user disable|enable|unlock NAME
 *   user passwd NAME                approvers: old password, then new
 *   budget fund DISTRICT YEAR YUAN SEQ
 *   budget show [DISTRICT [YEAR]]
 *
 * Each returns the process exit status (0 ok, 1 failed, 2 usage) and
 * prints its own messages.
 */
#ifndef TL_PAYOUTS_ADMIN_H
#define TL_PAYOUTS_ADMIN_H

#include <stdbool.h>
#include "svc.h"

int payouts_admin_user(struct payouts_svc *s, int argc, char **argv);
int payouts_admin_budget(struct payouts_svc *s, int argc, char **argv);

/* Reads one password: a line from stdin, or on a terminal a prompt (twice
 * when confirm).  Returns sodium_malloc'd text (secret_free()) or NULL
 * after printing why. */
char *payouts_read_password(const char *prompt, bool confirm);

/* Parses "12345" or "12345.6" / "12345.67" yuan into fen (> 0). */
bool payouts_parse_yuan(const char *s, int64_t *fen);

#endif
