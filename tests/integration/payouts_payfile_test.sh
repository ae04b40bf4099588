#!/usr/bin/env bash
# `tipline payfile open` on the finance officer's machine (docs/payfile.md),
# on batch files made by itest_payouts_payfile exactly as payouts writes
# them (no daemons needed):
#   - CSV: header, one line per row with the payee opened from its seal,
#     amounts in yuan from integer fen, a spreadsheet formula in a payee
#     field defused, mode 0600, the summary line;
#   - never overwrites; "-o -" writes to stdout and creates nothing; the
#     default output is the batch file's name with .csv;
#   - pain.001.001.03: well-formed XML with the counts, control sum,
#     EndToEndIds and CNY amounts; a batch spanning two districts and a
#     missing debtor account are refused;
#   - refused with a clear message and no output: a wrong key, a key file
#     readable by others, a truncated file, a changed byte, a forged total,
#     a file that is not a batch; an empty batch is never written.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "${TL_SRC_DIR:-.}/tests/lib.sh"

MK=$TL_BUILD_DIR/tests/itest_payouts_payfile
tl_need "$TL_BIN_CLI" "$MK"
T=$(mktemp -d "${TMPDIR:-/tmp}/tipline-test.XXXXXX")
chmod 700 "$T"
trap 'rm -rf "$T"' EXIT
"$TL_BIN_CLI" keygen "$T/keys" >/dev/null || tl_fail "keygen"
"$TL_BIN_CLI" keygen "$T/other" >/dev/null || tl_fail "keygen (other)"
KEY=$T/keys/finance-export.key
PUB=$T/keys/finance-export.pub
mkdir -m 700 "$T/out"
cd "$T/out"

open_ok() { # open_ok FILE [args]: must succeed
	local f=$1
	shift
	"$TL_BIN_CLI" payfile open "$f" -k "$KEY" "$@" >"$T/stdout" 2>"$T/stderr" ||
		tl_fail "payfile open $f $*: $(cat "$T/stderr")"
}
open_bad() { # open_bad WHAT NEEDLE FILE [args]: must fail, say NEEDLE, write nothing
	local what=$1 needle=$2 f=$3 before
	shift 3
	before=$(ls -A "$T/out" | sort)
	if "$TL_BIN_CLI" payfile open "$f" "$@" >"$T/stdout" 2>"$T/stderr"; then
		tl_fail "$what: the file opened"
	fi
	tl_assert_contains "$(cat "$T/stderr")" "$needle" "$what: message"
	tl_assert_eq "$before" "$(ls -A "$T/out" | sort)" "$what: files in the output folder"
}

# ---- CSV ------------------------------------------------------------------------
batch=$("$MK" make "$PUB" "$T/b.tlpay" 3 120116,120115) || tl_fail "make"
open_ok "$T/b.tlpay" -o "$T/out/b.csv"
tl_assert_eq 600 "$(stat -c %a "$T/out/b.csv")" "CSV mode"
tl_assert_contains "$(cat "$T/stdout")" "batch $batch (all): 3 rows, total 3703.71 yuan" "summary line"
mapfile -t L <"$T/out/b.csv"
tl_assert_eq 4 "${#L[@]}" "CSV lines"
tl_assert_eq $'\xef\xbb\xbf批次号,奖励编号,份额,付款区县,金额(元),收款人,身份证号,开户行,账号,手机号\r' "${L[0]}" "header"
[[ ${L[1]} =~ ^$batch,[0-9a-f]{32},0,120116,1234.56,甄付鹊子,120111198002297714,\"鹊桥银行,\ 津南支行\",6222880055556600000,13900001110$'\r'$ ]] ||
	tl_fail "row 1: ${L[1]}"
[[ ${L[2]} =~ ^$batch,[0-9a-f]{32},1,120115,1234.57,甄付鹊丑,[0-9X]{18},\"\'=HYPERLINK\(\"\"http://x\"\",\"\"银行\"\"\)\",6222880055556600001, ]] ||
	tl_fail "row 2 (the formula must be defused): ${L[2]}"
[[ ${L[3]} == *",120116,1234.58,甄付鹊寅,"* ]] || tl_fail "row 3: ${L[3]}"

open_bad "an existing output" "never overwritten" "$T/b.tlpay" -k "$KEY" -o "$T/out/b.csv"
tl_assert_eq 4 "$(wc -l <"$T/out/b.csv")" "the existing output is untouched"

open_ok "$T/b.tlpay" -o -
tl_assert_contains "$(cat "$T/stdout")" "甄付鹊寅" "stdout output"
tl_assert_contains "$(cat "$T/stderr")" "3 rows" "summary on stderr with -o -"
[[ ! -e $T/out/- ]] || tl_fail "-o - created a file named -"

cp "$T/b.tlpay" "$T/batch-$batch.tlpay"
open_ok "$T/batch-$batch.tlpay"
[[ -f $T/out/batch-$batch.csv ]] || tl_fail "no default output batch-$batch.csv in the current folder"

# ---- pain.001 ---------------------------------------------------------------------
open_bad "pain.001 over two districts" "several districts" "$T/b.tlpay" -k "$KEY" --format pain001 \
	--debtor-name "天津市津南区财政局" --debtor-account 1234567890
"$MK" make "$PUB" "$T/one.tlpay" 2 120112 >/dev/null || tl_fail "make one-district"
rc=0
"$TL_BIN_CLI" payfile open "$T/one.tlpay" -k "$KEY" --format pain001 -o "$T/out/x.xml" 2>"$T/stderr" || rc=$?
tl_assert_eq 2 "$rc" "pain.001 without a debtor account"
tl_assert_contains "$(cat "$T/stderr")" "--debtor-account" "missing debtor message"
open_ok "$T/one.tlpay" --format pain001 --debtor-name "天津市津南区财政局 <专户>" --debtor-account 1234567890 \
	-o "$T/out/one.xml"
tl_assert_eq 600 "$(stat -c %a "$T/out/one.xml")" "XML mode"
python3 - "$T/out/one.xml" <<'PY' || tl_fail "pain.001 content"
import re, sys, xml.etree.ElementTree as ET
ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
root = ET.parse(sys.argv[1]).getroot()
g = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", ns)
assert g.find("p:NbOfTxs", ns).text == "2"
assert g.find("p:CtrlSum", ns).text == "2469.13"
pi = root.find("p:CstmrCdtTrfInitn/p:PmtInf", ns)
assert pi.find("p:Dbtr/p:Nm", ns).text == "天津市津南区财政局 <专户>"
txs = pi.findall("p:CdtTrfTxInf", ns)
assert len(txs) == 2
amts = sorted(t.find("p:Amt/p:InstdAmt", ns).text for t in txs)
assert amts == ["1234.56", "1234.57"], amts
for t in txs:
    assert t.find("p:Amt/p:InstdAmt", ns).get("Ccy") == "CNY"
    e2e = t.find("p:PmtId/p:EndToEndId", ns).text
    assert re.fullmatch(r"[0-9a-f]{32}-[0-9]{1,2}", e2e) and len(e2e) <= 35, e2e
    assert t.find("p:CdtrAcct/p:Id/p:Othr/p:Id", ns).text.startswith("62228800555566")
    assert t.find("p:Cdtr/p:Id/p:PrvtId/p:Othr/p:SchmeNm/p:Cd", ns).text == "NIDN"
    assert t.find("p:Cdtr/p:CtctDtls/p:MobNb", ns).text == "+86-13900001110"
names = sorted(t.find("p:Cdtr/p:Nm", ns).text for t in txs)
assert names == sorted(["甄付鹊子", "甄付鹊丑"]), names
PY

# ---- refusals -------------------------------------------------------------------
open_bad "wrong key" "wrong key" "$T/b.tlpay" -k "$T/other/finance-export.key" -o "$T/out/w.csv"
cp "$KEY" "$T/loose.key"
chmod 644 "$T/loose.key"
open_bad "a key readable by others" "loose.key" "$T/b.tlpay" -k "$T/loose.key" -o "$T/out/w.csv"
size=$(stat -c %s "$T/b.tlpay")
head -c $((size - 100)) "$T/b.tlpay" >"$T/trunc.tlpay"
open_bad "a truncated file" "truncated or altered" "$T/trunc.tlpay" -k "$KEY" -o "$T/out/w.csv"
head -c 20 "$T/b.tlpay" >"$T/stub.tlpay"
open_bad "a stub" "truncated" "$T/stub.tlpay" -k "$KEY" -o "$T/out/w.csv"
for off in 3 15 40 $((size / 2)) $((size - 1)); do
	python3 - "$T/b.tlpay" "$T/flip.tlpay" "$off" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[int(sys.argv[3])] ^= 0x10
open(sys.argv[2], "wb").write(b)
PY
	open_bad "byte $off changed" "tipline payfile: $T/flip.tlpay: " "$T/flip.tlpay" -k "$KEY" -o "$T/out/w.csv"
done
"$MK" forge-total "$KEY" "$T/b.tlpay" "$T/forged.tlpay" || tl_fail "forge"
open_bad "a forged total" "does not equal the sum of the rows" "$T/forged.tlpay" -k "$KEY" -o "$T/out/w.csv"
printf 'id,name\n1,x\n' >"$T/plain.csv"
open_bad "not a batch file" "not a Tipline payment file" "$T/plain.csv" -k "$KEY" -o "$T/out/w.csv"
open_bad "a missing file" "No such file" "$T/none.tlpay" -k "$KEY" -o "$T/out/w.csv"
rc=0
"$MK" make "$PUB" "$T/empty.tlpay" 0 >/dev/null 2>"$T/stderr" || rc=$?
tl_assert_eq 1 "$rc" "making an empty batch"
tl_assert_contains "$(cat "$T/stderr")" "no rows" "empty batch message"
[[ ! -e $T/empty.tlpay ]] || tl_fail "an empty batch file was written"
tl_pass
