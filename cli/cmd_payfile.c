/*
 * tipline payfile open FILE -k KEY [-o OUT] [--format csv|pain001]
 *                  [--debtor-name NAME --debtor-account ACCOUNT [--debtor-bank BANK]]
 *   Opens a payment batch file written by tipline-payouts (common/payfile.h)
 *   with the finance export secret key, on the finance officer's machine,
 *   and writes the bank upload: CSV (default) or ISO 20022
 *   pain.001.001.03 XML.  The output holds payee identity: it is created
 *   with mode 0600 and never overwrites a file; stdout only with "-o -".
 *   docs/payfile.md is the officer's guide.
 */
#include "compat.h"
#include "buf.h"
#include "cli.h"
#include "payfile.h"
#include "secret.h"
#include "timefmt.h"
#include "utf8.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define OUT_MAX (64u * 1024 * 1024)

enum fmt { FMT_CSV, FMT_PAIN001 };

struct opts {
	const char *in, *key, *out;
	enum fmt fmt;
	const char *debtor_name, *debtor_account, *debtor_bank;
};

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: tipline payfile open FILE -k KEY [-o OUT] [--format csv|pain001]\n"
	        "                         [--debtor-name NAME --debtor-account ACCOUNT [--debtor-bank BANK]]\n"
	        "\n"
	        "Opens a sealed payment batch (downloaded from the finance console) with the\n"
	        "finance export secret key (finance-export.key) and writes the bank upload:\n"
	        "  csv      UTF-8 CSV with a header row (default)\n"
	        "  pain001  ISO 20022 pain.001.001.03 credit transfers; needs the paying\n"
	        "           account (--debtor-name, --debtor-account) and a one-district batch\n"
	        "OUT defaults to the batch file's name with .csv or .xml, in the current\n"
	        "folder.  The output is created with mode 0600 and never overwrites a file;\n"
	        "\"-o -\" writes to stdout.  See docs/payfile.md.\n");
}

/* "12345" fen -> "123.45" */
static void
yuan(int64_t fen, char *out, size_t outlen)
{
	(void)snprintf(out, outlen, "%lld.%02lld", (long long)(fen / 100), (long long)(fen % 100));
}

/* ---- CSV ---- */

/* One cell: a leading = + - @ TAB or CR would make a spreadsheet run the
 * payee's text as a formula, so such cells get a leading apostrophe; a
 * cell with a separator, quote or line break is quoted (RFC 4180). */
static enum tl_err
csv_cell(struct buf *b, const char *s, bool last)
{
	bool quote = strpbrk(s, ",\"\r\n") != NULL;
	enum tl_err e = TL_OK;

	if (quote)
		e = buf_append_char(b, '"');
	if (e == TL_OK && strchr("=+-@\t\r", s[0]) && s[0] != '\0')
		e = buf_append_char(b, '\'');
	for (const char *p = s; e == TL_OK && *p; p++) {
		if (*p == '"')
			e = buf_append_char(b, '"');
		if (e == TL_OK)
			e = buf_append_char(b, *p);
	}
	if (e == TL_OK && quote)
		e = buf_append_char(b, '"');
	if (e == TL_OK)
		e = last ? buf_append_str(b, "\r\n") : buf_append_char(b, ',');
	return e;
}

static enum tl_err
write_csv(const struct payfile *pf, struct buf *b)
{
	static const char *const head[] = { "批次号", "奖励编号", "份额", "付款区县", "金额(元)",
		                            "收款人", "身份证号", "开户行", "账号", "手机号" };
	enum tl_err e;

	/* The BOM lets spreadsheet programs in zh-CN locales read UTF-8. */
	if ((e = buf_append_str(b, "\xEF\xBB\xBF")) != TL_OK)
		return e;
	for (size_t i = 0; i < TL_ARRAY_LEN(head); i++)
		if ((e = csv_cell(b, head[i], i + 1 == TL_ARRAY_LEN(head))) != TL_OK)
			return e;
	for (size_t i = 0; i < pf->n_rows; i++) {
		const struct payfile_row *r = &pf->rows[i];
		char idx[8], amt[32];

		(void)snprintf(idx, sizeof(idx), "%d", r->share_idx);
		yuan(r->amount_fen, amt, sizeof(amt));
		if ((e = csv_cell(b, pf->batch_id, false)) != TL_OK ||
		    (e = csv_cell(b, r->award_id, false)) != TL_OK ||
		    (e = csv_cell(b, idx, false)) != TL_OK || (e = csv_cell(b, r->district, false)) != TL_OK ||
		    (e = csv_cell(b, amt, false)) != TL_OK ||
		    (e = csv_cell(b, r->payee.name, false)) != TL_OK ||
		    (e = csv_cell(b, r->payee.id_number, false)) != TL_OK ||
		    (e = csv_cell(b, r->payee.bank, false)) != TL_OK ||
		    (e = csv_cell(b, r->payee.account, false)) != TL_OK ||
		    (e = csv_cell(b, r->payee.phone, true)) != TL_OK)
			return e;
	}
	return TL_OK;
}

/* ---- pain.001.001.03 ---- */

/* XML 1.0 cannot carry C0 control characters other than TAB/LF/CR, and
 * the bank's schema wants single-line names: refuse them all. */
static bool
xml_text_ok(const char *s, size_t max_chars)
{
	size_t n;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return utf8_valid(s, strlen(s), &n) && n >= 1 && n <= max_chars;
}

static enum tl_err
xml_esc(struct buf *b, const char *s)
{
	enum tl_err e = TL_OK;

	for (const char *p = s; e == TL_OK && *p; p++) {
		switch (*p) {
		case '&': e = buf_append_str(b, "&amp;"); break;
		case '<': e = buf_append_str(b, "&lt;"); break;
		case '>': e = buf_append_str(b, "&gt;"); break;
		case '"': e = buf_append_str(b, "&quot;"); break;
		case '\'': e = buf_append_str(b, "&apos;"); break;
		default: e = buf_append_char(b, *p); break;
		}
	}
	return e;
}

/* <tag>escaped text</tag> */
static enum tl_err
xml_el(struct buf *b, const char *indent, const char *tag, const char *text)
{
	enum tl_err e;

	if ((e = buf_printf(b, "%s<%s>", indent, tag)) != TL_OK || (e = xml_esc(b, text)) != TL_OK)
		return e;
	return buf_printf(b, "</%s>\n", tag);
}

/* A mainland mobile number as pain.001's PhoneNumber (+86-...), or false. */
static bool
mobile(const char *phone, char out[20])
{
	size_t n = strlen(phone);

	if (n != 11 || phone[0] != '1' || strspn(phone, "0123456789") != n)
		return false;
	(void)snprintf(out, 20, "+86-%s", phone);
	return true;
}

static enum tl_err
check_pain001(const struct payfile *pf, const struct opts *o)
{
	for (size_t i = 1; i < pf->n_rows; i++)
		if (strcmp(pf->rows[i].district, pf->rows[0].district) != 0) {
			fprintf(stderr, "tipline payfile: this batch pays from several districts (%s, %s); "
			                "pain.001 has one paying account per file: export one district per "
			                "batch, or use --format csv\n",
			        pf->rows[0].district, pf->rows[i].district);
			return TL_EINVAL;
		}
	if (!xml_text_ok(o->debtor_name, 140) || !xml_text_ok(o->debtor_account, 34) ||
	    (o->debtor_bank && !xml_text_ok(o->debtor_bank, 140))) {
		fprintf(stderr, "tipline payfile: --debtor-name/--debtor-bank must be 1..140 characters "
		                "and --debtor-account 1..34, without control characters\n");
		return TL_EINVAL;
	}
	for (size_t i = 0; i < pf->n_rows; i++) {
		const struct wire_payee *p = &pf->rows[i].payee;

		if (!xml_text_ok(p->name, 140) || !xml_text_ok(p->bank, 140) ||
		    !xml_text_ok(p->account, 34) || !xml_text_ok(p->id_number, 35)) {
			fprintf(stderr, "tipline payfile: row %zu (award %s share %d): a payee field is too "
			                "long or has control characters for pain.001; use --format csv\n",
			        i + 1, pf->rows[i].award_id, pf->rows[i].share_idx);
			return TL_EINVAL;
		}
	}
	return TL_OK;
}

static enum tl_err
write_pain001(const struct payfile *pf, const struct opts *o, struct buf *b)
{
	char created[RFC3339_LEN + 1], today[RFC3339_LEN + 1], total[32];
	enum tl_err e;

	if ((e = check_pain001(pf, o)) != TL_OK)
		return e;
	time_format_rfc3339(pf->created_ms, created);
	time_format_rfc3339(time_now_ms(), today);
	today[10] = '\0';
	yuan(pf->total_fen, total, sizeof(total));
	if ((e = buf_printf(b,
	                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	                    "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.03\">\n"
	                    " <CstmrCdtTrfInitn>\n"
	                    "  <GrpHdr>\n"
	                    "   <MsgId>%s</MsgId>\n"
	                    "   <CreDtTm>%.19s</CreDtTm>\n"
	                    "   <NbOfTxs>%zu</NbOfTxs>\n"
	                    "   <CtrlSum>%s</CtrlSum>\n"
	                    "   <InitgPty>\n",
	                    pf->batch_id, created, pf->n_rows, total)) != TL_OK ||
	    (e = xml_el(b, "    ", "Nm", o->debtor_name)) != TL_OK ||
	    (e = buf_printf(b,
	                    "   </InitgPty>\n"
	                    "  </GrpHdr>\n"
	                    "  <PmtInf>\n"
	                    "   <PmtInfId>%s</PmtInfId>\n"
	                    "   <PmtMtd>TRF</PmtMtd>\n"
	                    "   <NbOfTxs>%zu</NbOfTxs>\n"
	                    "   <CtrlSum>%s</CtrlSum>\n"
	                    "   <ReqdExctnDt>%s</ReqdExctnDt>\n"
	                    "   <Dbtr>\n",
	                    pf->batch_id, pf->n_rows, total, today)) != TL_OK ||
	    (e = xml_el(b, "    ", "Nm", o->debtor_name)) != TL_OK ||
	    (e = buf_append_str(b, "   </Dbtr>\n   <DbtrAcct>\n    <Id>\n     <Othr>\n")) != TL_OK ||
	    (e = xml_el(b, "      ", "Id", o->debtor_account)) != TL_OK ||
	    (e = buf_append_str(b, "     </Othr>\n    </Id>\n    <Ccy>CNY</Ccy>\n   </DbtrAcct>\n"
	                           "   <DbtrAgt>\n    <FinInstnId>\n")) != TL_OK)
		return e;
	if (o->debtor_bank)
		e = xml_el(b, "     ", "Nm", o->debtor_bank);
	else
		e = buf_append_str(b, "     <Othr>\n      <Id>NOTPROVIDED</Id>\n     </Othr>\n");
	if (e != TL_OK ||
	    (e = buf_append_str(b, "    </FinInstnId>\n   </DbtrAgt>\n   <ChrgBr>SLEV</ChrgBr>\n")) != TL_OK)
		return e;
	for (size_t i = 0; i < pf->n_rows; i++) {
		const struct payfile_row *r = &pf->rows[i];
		char amt[32], mob[20];

		yuan(r->amount_fen, amt, sizeof(amt));
		/* EndToEndId (max 35): the 32-hex award id, '-', the share. */
		if ((e = buf_printf(b,
		                    "   <CdtTrfTxInf>\n"
		                    "    <PmtId>\n"
		                    "     <InstrId>%s-%d</InstrId>\n"
		                    "     <EndToEndId>%s-%d</EndToEndId>\n"
		                    "    </PmtId>\n"
		                    "    <Amt>\n"
		                    "     <InstdAmt Ccy=\"CNY\">%s</InstdAmt>\n"
		                    "    </Amt>\n"
		                    "    <CdtrAgt>\n"
		                    "     <FinInstnId>\n",
		                    r->award_id, r->share_idx, r->award_id, r->share_idx, amt)) != TL_OK ||
		    (e = xml_el(b, "      ", "Nm", r->payee.bank)) != TL_OK ||
		    (e = buf_append_str(b, "     </FinInstnId>\n    </CdtrAgt>\n    <Cdtr>\n")) != TL_OK ||
		    (e = xml_el(b, "     ", "Nm", r->payee.name)) != TL_OK ||
		    (e = buf_append_str(b, "     <Id>\n      <PrvtId>\n       <Othr>\n")) != TL_OK ||
		    (e = xml_el(b, "        ", "Id", r->payee.id_number)) != TL_OK ||
		    (e = buf_append_str(b, "        <SchmeNm>\n         <Cd>NIDN</Cd>\n        </SchmeNm>\n"
		                           "       </Othr>\n      </PrvtId>\n     </Id>\n")) != TL_OK)
			return e;
		if (mobile(r->payee.phone, mob) &&
		    (e = buf_printf(b, "     <CtctDtls>\n      <MobNb>%s</MobNb>\n     </CtctDtls>\n", mob)) !=
		            TL_OK)
			return e;
		if ((e = buf_append_str(b, "    </Cdtr>\n    <CdtrAcct>\n     <Id>\n      <Othr>\n")) != TL_OK ||
		    (e = xml_el(b, "       ", "Id", r->payee.account)) != TL_OK ||
		    (e = buf_printf(b,
		                    "      </Othr>\n     </Id>\n    </CdtrAcct>\n"
		                    "    <RmtInf>\n     <Ustrd>举报奖励 %s-%d</Ustrd>\n    </RmtInf>\n"
		                    "   </CdtTrfTxInf>\n",
		                    r->award_id, r->share_idx)) != TL_OK)
			return e;
	}
	return buf_append_str(b, "  </PmtInf>\n </CstmrCdtTrfInitn>\n</Document>\n");
}

/* ---- files ---- */

static enum tl_err
read_input(const char *path, struct buf *b)
{
	FILE *f = fopen(path, "rb");
	enum tl_err e;

	if (!f) {
		fprintf(stderr, "tipline payfile: %s: %s\n", path, strerror(errno));
		return TL_EIO;
	}
	e = buf_read_file(b, f);
	fclose(f);
	if (e == TL_ETOOBIG)
		fprintf(stderr, "tipline payfile: %s: larger than a payment file can be (%d bytes)\n",
		        path, PAYFILE_MAX_BYTES);
	else if (e != TL_OK)
		fprintf(stderr, "tipline payfile: %s: cannot read it\n", path);
	return e;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static enum tl_err
write_output(const char *path, const struct buf *b)
{
	int fd;

	if (strcmp(path, "-") == 0) {
		if (write_all(STDOUT_FILENO, buf_str(b), b->len) != 0) {
			fprintf(stderr, "tipline payfile: writing to stdout failed\n");
			return TL_EIO;
		}
		return TL_OK;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			fprintf(stderr, "tipline payfile: %s exists; it is never overwritten (remove it or "
			                "choose another name with -o)\n", path);
		else
			fprintf(stderr, "tipline payfile: %s: %s\n", path, strerror(errno));
		return TL_EIO;
	}
	/* The umask may have narrowed 0600 already; it can never widen it. */
	if (write_all(fd, buf_str(b), b->len) != 0 || fsync(fd) != 0) {
		fprintf(stderr, "tipline payfile: %s: %s; the partial file was removed\n", path,
		        strerror(errno));
		close(fd);
		(void)unlink(path);
		return TL_EIO;
	}
	if (close(fd) != 0) {
		fprintf(stderr, "tipline payfile: %s: %s\n", path, strerror(errno));
		(void)unlink(path);
		return TL_EIO;
	}
	return TL_OK;
}

/* FILE's base name with its last extension replaced by ext. */
static int
default_out(const char *in, const char *ext, char *out, size_t outlen)
{
	const char *base = strrchr(in, '/'), *dot;
	size_t n;

	base = base ? base + 1 : in;
	dot = strrchr(base, '.');
	n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	if (n == 0 || (size_t)snprintf(out, outlen, "%.*s%s", (int)n, base, ext) >= outlen)
		return -1;
	return 0;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 1;
		} else if ((strcmp(a, "-k") == 0 || strcmp(a, "--key") == 0) && v) {
			o->key = v;
			i++;
		} else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && v) {
			o->out = v;
			i++;
		} else if (strcmp(a, "--format") == 0 && v) {
			if (strcmp(v, "csv") == 0)
				o->fmt = FMT_CSV;
			else if (strcmp(v, "pain001") == 0)
				o->fmt = FMT_PAIN001;
			else {
				fprintf(stderr, "tipline payfile: unknown format \"%s\" (csv or pain001)\n", v);
				return 2;
			}
			i++;
		} else if (strcmp(a, "--debtor-name") == 0 && v) {
			o->debtor_name = v;
			i++;
		} else if (strcmp(a, "--debtor-account") == 0 && v) {
			o->debtor_account = v;
			i++;
		} else if (strcmp(a, "--debtor-bank") == 0 && v) {
			o->debtor_bank = v;
			i++;
		} else if (a[0] != '-' && !o->in) {
			o->in = a;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!o->in || !o->key) {
		usage(stderr);
		return 2;
	}
	if (o->fmt == FMT_PAIN001 && (!o->debtor_name || !o->debtor_account)) {
		fprintf(stderr, "tipline payfile: --format pain001 needs --debtor-name and "
		                "--debtor-account (the district's paying account)\n");
		return 2;
	}
	return 0;
}

static int
payfile_open_cmd(int argc, char **argv)
{
	struct opts o;
	struct buf in, out;
	struct payfile pf;
	unsigned char *sk = NULL;
	char why[512], outpath[4096], total[32];
	enum tl_err e;
	int rc;

	if ((rc = parse_opts(argc, argv, &o)) != 0)
		return rc == 1 ? 0 : rc;
	rc = 1;
	memset(&pf, 0, sizeof(pf));
	buf_init(&in, PAYFILE_MAX_BYTES);
	buf_init_secret(&out, OUT_MAX);
	if (!o.out) {
		if (default_out(o.in, o.fmt == FMT_CSV ? ".csv" : ".xml", outpath, sizeof(outpath)) != 0) {
			fprintf(stderr, "tipline payfile: cannot name the output; use -o\n");
			goto cleanup;
		}
		o.out = outpath;
	}
	if (secret_load(o.key, crypto_box_SECRETKEYBYTES, &sk, why, sizeof(why)) != TL_OK) {
		fprintf(stderr, "tipline payfile: %s\n", why);
		goto cleanup;
	}
	if (read_input(o.in, &in) != TL_OK)
		goto cleanup;
	if ((e = payfile_open(in.data ? in.data : "", in.len, sk, &pf, why, sizeof(why))) != TL_OK) {
		fprintf(stderr, "tipline payfile: %s: %s\n", o.in, why);
		goto cleanup;
	}
	e = o.fmt == FMT_CSV ? write_csv(&pf, &out) : write_pain001(&pf, &o, &out);
	if (e != TL_OK) {
		if (e != TL_EINVAL)
			fprintf(stderr, "tipline payfile: cannot build the output: %s\n", tl_strerror(e));
		goto cleanup;
	}
	if (write_output(o.out, &out) != TL_OK)
		goto cleanup;
	yuan(pf.total_fen, total, sizeof(total));
	fprintf(strcmp(o.out, "-") == 0 ? stderr : stdout,
	        "batch %s (%s): %zu rows, total %s yuan -> %s\n", pf.batch_id, pf.scope, pf.n_rows,
	        total, strcmp(o.out, "-") == 0 ? "stdout" : o.out);
	rc = 0;
cleanup:
	payfile_free(&pf);
	buf_free(&in);
	buf_free(&out);
	secret_free(sk);
	return rc;
}

int
cmd_payfile(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "open") == 0)
		return payfile_open_cmd(argc - 1, argv + 1);
	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
