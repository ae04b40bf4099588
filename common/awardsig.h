/*
 * awardsig.h - the canonical text of an award decision, which finance
 * approvers sign (Ed25519) and the vault verifies before it reveals a
 * payee (docs/award-flow.md, docs/payouts.md section 4).
 *
 * The text is UTF-8-free ASCII, one "key=value\n" per line, in this exact
 * order (every value from a restricted character set, so the encoding is
 * unambiguous):
 *
 *   tipline award decision v1
 *   decision=approve|reject
 *   award_id=<hex32>            version=<1..1000000>      case_id=<hex32>
 *   district=<6 digits>         budget_year=<2000..2999>
 *   computed_fen=<0..cap>       total_fen=<1..cap>
 *   payee_ref=<ref>             proposer=<ref>
 *   required_approvals=<1|2>    need_city=<0|1>
 *   shares=<1..AWARDSIG_MAX_SHARES>
 *   share=<idx>,<report_id hex32>,<fen 1..cap>,<first|simultaneous|discretionary>
 *
 * (one field per line; decimal numbers without sign or leading zeros; a ref
 * is 1..AWARDSIG_REF_MAX characters of [A-Za-z0-9._@:-]).  Share indices
 * run 0..n-1 in order, report ids are distinct and the shares sum to
 * total_fen.  awardsig_format() writes byte-for-byte what payouts'
 * award_canonical() writes; awardsig_parse() accepts exactly the texts
 * awardsig_format() can produce and nothing else.
 *
 * Pure, thread-safe; all structs are caller-owned values.
 */
#ifndef TL_AWARDSIG_H
#define TL_AWARDSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define AWARDSIG_CAP_FEN INT64_C(50000000) /* the hard cap per tip (500,000 yuan) */
#define AWARDSIG_MAX_SHARES 64
#define AWARDSIG_MAX_APPROVERS 8
#define AWARDSIG_REF_MAX 64     /* payee_ref, proposer, staff ids */
#define AWARDSIG_ID_LEN 32      /* lowercase hex ids */
#define AWARDSIG_TEXT_MAX 8192  /* the longest text (64 shares fit easily) */
#define AWARDSIG_VERSION_MAX 1000000

enum awardsig_decision { AWARDSIG_APPROVE, AWARDSIG_REJECT };
enum awardsig_kind { AWARDSIG_FIRST, AWARDSIG_SIMULTANEOUS, AWARDSIG_DISCRETIONARY };
enum awardsig_level { AWARDSIG_DISTRICT, AWARDSIG_CITY };

struct awardsig_share {
	char report_id[AWARDSIG_ID_LEN + 1];
	int64_t fen;
	enum awardsig_kind kind;
};

struct awardsig {
	enum awardsig_decision decision;
	char award_id[AWARDSIG_ID_LEN + 1];
	int version;
	char case_id[AWARDSIG_ID_LEN + 1];
	char district[7];
	int budget_year;
	int64_t computed_fen;
	int64_t total_fen;
	char payee_ref[AWARDSIG_REF_MAX + 1];
	char proposer[AWARDSIG_REF_MAX + 1];
	int required_approvals;
	bool need_city;
	size_t n_shares;
	struct awardsig_share shares[AWARDSIG_MAX_SHARES];
};

/* "approve"/"reject", "first"/"simultaneous"/"discretionary". */
const char *awardsig_decision_name(enum awardsig_decision d);
const char *awardsig_kind_name(enum awardsig_kind k);
/* True for 1..AWARDSIG_REF_MAX characters of [A-Za-z0-9._@:-]. */
bool awardsig_ref_valid(const char *s);

/* Checks every field as awardsig_parse() would (why says which). */
enum tl_err awardsig_validate(const struct awardsig *a, char *why, size_t whylen)
	__attribute__((warn_unused_result));

/* Writes the canonical text of a (validated first: TL_EINVAL / TL_ETOOBIG
 * with why) into out, NUL-terminated; *len excludes the NUL.  TL_ETOOBIG
 * when outlen is too small. */
enum tl_err awardsig_format(const struct awardsig *a, char *out, size_t outlen, size_t *len,
                            char *why, size_t whylen) __attribute__((warn_unused_result));

/* Parses text[0..len) strictly (see above).  TL_EPROTO with a message in
 * why naming the line on any deviation: a missing, extra, reordered or
 * repeated line, a character outside a field's set, a number out of range
 * or with a leading zero, a share out of order, shares not summing to the
 * total, an amount above the cap. */
enum tl_err awardsig_parse(const char *text, size_t len, struct awardsig *out, char *why,
                           size_t whylen) __attribute__((warn_unused_result));

/* One approver whose signature over the text has been verified. */
struct awardsig_approver {
	const char *staff_id;
	enum awardsig_level level;
};

/* The approval rule, re-derived from the amount and not only from the
 * text's own required_approvals/need_city (the stricter of the two wins):
 * decision approve; 1..AWARDSIG_MAX_APPROVERS distinct approvers, none of
 * them the proposer; at least one up to dual_threshold_fen and at least
 * two above it, one of them city-level; total within the hard cap and
 * equal to the sum of the shares.  TL_EDENIED with why when refused. */
enum tl_err awardsig_rules_check(const struct awardsig *a, int64_t dual_threshold_fen,
                                 const struct awardsig_approver *ap, size_t n, char *why,
                                 size_t whylen) __attribute__((warn_unused_result));

#endif
