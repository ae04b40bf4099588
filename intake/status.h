/*
 * status.h - what a reporter is told about a receipt: the TL_STATUS lookup
 * shared by the JSON API, the /status page and claims, and the Chinese
 * wording, money and dates for each status value (docs/award-flow.md
 * section 2).
 *
 * Malformed and unknown receipts take the same path: status_lookup() with
 * wellformed false hashes a fixed dummy receipt, does the same KV read and
 * answers TL_ENOTFOUND, so neither answer nor timing tells them apart.
 *
 * Money is integer fen; yuan strings are made with integer arithmetic.
 * Dates for people are Beijing dates (UTC+8, no daylight saving).
 * Pure except status_lookup(); thread-safe.
 */
#ifndef TL_INTAKE_STATUS_H
#define TL_INTAKE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "err.h"
#include "ids.h"
#include "pipeline.h"
#include "wire.h"

/* Longest receipt input looked at (spaces, dashes, %20 spellings). */
#define STATUS_RECEIPT_MAX_INPUT 64
/* The reminder "距截止还有 N 天" shows when fewer days than this remain. */
#define STATUS_REMINDER_DAYS 14
#define STATUS_YUAN_MAX 32 /* "-92,233,720,368,547,758.08" fits */
#define STATUS_DATE_MAX 64

/* Parses a receipt as typed (decoded already); false if malformed. */
bool status_receipt_parse(const char *input, char digits[RECEIPT_DIGITS + 1]);

/* TL_OK with *st for a known receipt; TL_ENOTFOUND for unknown, malformed
 * (wellformed false) or undecodable values; bus errors otherwise. */
enum tl_err status_lookup(const struct pipeline *p, const char digits[RECEIPT_DIGITS + 1],
                          bool wellformed, struct wire_status *st)
	__attribute__((warn_unused_result));

/* 1234567 -> "12345.67" (grouped: "12,345.67"). */
void status_yuan(int64_t fen, bool grouped, char out[STATUS_YUAN_MAX]);
/* "2026年3月1日" for the Beijing date of ms. */
void status_date_zh(int64_t ms, char out[STATUS_DATE_MAX]);
/* Whole days left until claim_by, rounded up; 0 when it has passed. */
int64_t status_days_left(int64_t claim_by_ms, int64_t now_ms);

/* The short label of a status value ("已受理", ...), "" if unknown. */
const char *status_label_zh(const char *status);
/* The refusal reason in words ("身份证号码有误", ...), "" if unknown. */
const char *status_reason_zh(const char *reason);
/* True when the reporter may claim now: award_approved or claim_refused
 * and now_ms <= claim_by_ms. */
bool status_claim_open(const struct wire_status *st, int64_t now_ms);

/* The full sentence(s) for the reporter, e.g. "奖励已批准：金额
 * 123,456.78 元。请在 2026年3月1日前领取。距截止还有 9 天。" */
enum tl_err status_message_zh(const struct wire_status *st, int64_t now_ms, struct buf *out)
	__attribute__((warn_unused_result));

#endif
