#include "compat.h"
#include "cli.h"
#include "redact.h"
#include "utf8.h"

#include <jansson.h>

/*
 * tipline redact [--json] < text
 *
 * Lets an operator see what a lead will look like.  Plain mode prints only
 * the redacted text; --json adds types, counts and original byte offsets
 * (never the removed values).
 */

#define REDACT_MAX_INPUT (1024 * 1024)

static void
usage(void)
{
	fputs("用法: tipline redact [--json] < 文本\n"
	      "  从标准输入读取举报文本（UTF-8，最多 1 MiB），输出脱敏后的文本。\n"
	      "  --json  以 JSON 输出脱敏文本、各类型计数和位置（不含被删除的内容）。\n",
	      stderr);
}

static int
print_json(const struct redact_result *r)
{
	json_t *root = json_object(), *spans = json_array(), *counts = json_object();
	char *s = NULL;
	int rc = 1;

	if (!root || !spans || !counts)
		goto done;
	for (size_t i = 0; i < r->nspans; i++) {
		json_t *o = json_pack("{s:s, s:I, s:I}", "type", redact_type_name(r->spans[i].type),
		                      "start", (json_int_t)r->spans[i].start, "end",
		                      (json_int_t)r->spans[i].end);
		if (!o || json_array_append_new(spans, o) != 0)
			goto done;
	}
	for (int t = 0; t < REDACT_NTYPES; t++)
		if (r->counts[t] &&
		    json_object_set_new(counts, redact_type_name((enum redact_type)t),
		                        json_integer(r->counts[t])) != 0)
			goto done;
	if (json_object_set_new(root, "v", json_integer(1)) != 0 ||
	    json_object_set_new(root, "text", json_stringn(r->text, r->len)) != 0 ||
	    json_object_set(root, "counts", counts) != 0 || json_object_set(root, "spans", spans) != 0)
		goto done;
	if (!(s = json_dumps(root, JSON_INDENT(2))))
		goto done;
	puts(s);
	rc = 0;
done:
	if (rc)
		fputs("tipline redact: 无法生成 JSON 输出\n", stderr);
	free(s);
	json_decref(counts);
	json_decref(spans);
	json_decref(root);
	return rc;
}

int
cmd_redact(int argc, char **argv)
{
	bool json = false;
	char *in = NULL;
	size_t len = 0;
	struct redact_result r;
	enum tl_err e;
	int rc = 1;

	memset(&r, 0, sizeof(r));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage();
			return 0;
		} else {
			fprintf(stderr, "tipline redact: 未知参数 %s\n", argv[i]);
			usage();
			return 2;
		}
	}
	e = read_stdin_bounded(&in, &len, REDACT_MAX_INPUT);
	if (e == TL_ETOOBIG) {
		fputs("tipline redact: 输入超过 1 MiB 上限，已拒绝\n", stderr);
		goto done;
	}
	if (e != TL_OK) {
		fprintf(stderr, "tipline redact: 读取标准输入失败 (%s)\n", tl_strerror(e));
		goto done;
	}
	/* The library would replace bad bytes with U+FFFD; an operator checking
	 * a lead wants to know the input itself is broken. */
	if (!utf8_valid(in, len, NULL)) {
		fputs("tipline redact: 输入不是有效的 UTF-8（或含 NUL 字节），已拒绝\n", stderr);
		goto done;
	}
	if ((e = redact_text(in, len, &r)) != TL_OK) {
		fprintf(stderr, "tipline redact: 脱敏失败 (%s)\n", tl_strerror(e));
		goto done;
	}
	if (json) {
		rc = print_json(&r);
	} else {
		fwrite(r.text, 1, r.len, stdout);
		if (r.len == 0 || r.text[r.len - 1] != '\n')
			putchar('\n');
		rc = 0;
	}
	if (fflush(stdout) != 0)
		rc = 1;
done:
	redact_result_free(&r);
	free(in);
	return rc;
}
