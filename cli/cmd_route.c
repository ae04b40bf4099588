#include "compat.h"
#include "cli.h"
#include "district.h"
#include "route.h"
#include "utf8.h"

/*
 * tipline route [--gazetteer PATH] [--district CODE] [--location TEXT]
 *               [--coords LAT,LON] < text
 *
 * Prints the six-digit district code on the first line, then
 * "rule=<rule> confidence=<0-100>", so an operator can see why a lead went
 * where it went.  Standard input is the tip text (or a location
 * description); it may be empty when the options say enough.
 */

#define ROUTE_MAX_INPUT (1024 * 1024)

static void
usage(void)
{
	fputs("用法: tipline route [--gazetteer 路径] [--district 区划代码] [--location 地点]\n"
	      "                    [--coords 纬度,经度] < 举报文本\n"
	      "  输出第一行为六位区划代码，第二行为 rule=<规则> confidence=<0-100>。\n",
	      stderr);
}

static bool
parse_coords(const char *s, double *lat, double *lon)
{
	char *end;

	errno = 0;
	*lat = strtod(s, &end);
	if (errno || end == s || (*end != ',' && *end != ' '))
		return false;
	s = end + 1;
	while (*s == ' ')
		s++;
	*lon = strtod(s, &end);
	if (errno || end == s || *end)
		return false;
	return *lat >= -90 && *lat <= 90 && *lon >= -180 && *lon <= 180;
}

int
cmd_route(int argc, char **argv)
{
	const char *gaz_path = TL_DATADIR "/tianjin-gazetteer.tsv";
	struct route_gazetteer *g = NULL;
	struct route_input in;
	struct route_result r;
	char *text = NULL;
	size_t len = 0;
	enum tl_err e;
	int rc = 1;

	memset(&in, 0, sizeof(in));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_val = i + 1 < argc;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage();
			return 0;
		} else if (!strcmp(a, "--gazetteer") && has_val) {
			gaz_path = argv[++i];
		} else if (!strcmp(a, "--district") && has_val) {
			in.district = argv[++i];
		} else if (!strcmp(a, "--location") && has_val) {
			in.location = argv[++i];
			in.location_len = strlen(in.location);
			if (!utf8_valid(in.location, in.location_len, NULL)) {
				fputs("tipline route: --location 不是有效的 UTF-8\n", stderr);
				return 1;
			}
		} else if (!strcmp(a, "--coords") && has_val) {
			if (!parse_coords(argv[++i], &in.lat, &in.lon)) {
				fprintf(stderr, "tipline route: 坐标格式应为 纬度,经度，例如 38.82,116.93\n");
				return 2;
			}
			in.has_coords = true;
		} else {
			fprintf(stderr, "tipline route: 未知参数或缺少参数值 %s\n", a);
			usage();
			return 2;
		}
	}
	if ((e = read_stdin_bounded(&text, &len, 1024 * 1024)) != TL_OK) {
		fprintf(stderr, "tipline route: %s\n",
		        e == TL_ETOOBIG ? "输入超过 1 MiB 上限，已拒绝" : "读取标准输入失败");
		goto done;
	}
	if (!utf8_valid(text, len, NULL)) {
		fputs("tipline route: 输入不是有效的 UTF-8（或含 NUL 字节），已拒绝\n", stderr);
		goto done;
	}
	in.text = text;
	in.text_len = len;
	if ((e = route_gazetteer_load(gaz_path, &g)) != TL_OK) {
		fprintf(stderr, "tipline route: 无法加载地名表 %s (%s)\n", gaz_path, tl_strerror(e));
		goto done;
	}
	if ((e = route_decide(g, &in, &r)) != TL_OK) {
		fprintf(stderr, "tipline route: 分派失败 (%s)\n", tl_strerror(e));
		goto done;
	}
	if (in.district && r.rule != ROUTE_EXPLICIT)
		fprintf(stderr, "tipline route: 区划代码 %s 无效，已忽略\n", in.district);
	printf("%s\nrule=%s confidence=%d\n", r.district, route_rule_name(r.rule), r.confidence);
	rc = fflush(stdout) == 0 ? 0 : 1;
done:
	route_gazetteer_free(g);
	free(text);
	return rc;
}
