#include "compat.h"

#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

#include "district.h"
#include "route.h"

#define CASES "tests/data/route/cases.tsv"

static struct route_gazetteer *gaz;

static int
setup(void **state)
{
	(void)state;
	return route_gazetteer_load(NULL, &gaz) == TL_OK ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	route_gazetteer_free(gaz);
	return 0;
}

static struct route_result
route_text(const char *text)
{
	struct route_input in;
	struct route_result r;

	memset(&in, 0, sizeof(in));
	in.text = text;
	in.text_len = strlen(text);
	assert_int_equal(route_decide(gaz, &in, &r), TL_OK);
	return r;
}

static void
test_rules(void **state)
{
	struct route_input in;
	struct route_result r;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.district = "120118";
	in.text = "厂在滨海新区";
	in.text_len = strlen(in.text);
	assert_int_equal(route_decide(gaz, &in, &r), TL_OK);
	assert_string_equal(r.district, "120118");
	assert_int_equal(r.rule, ROUTE_EXPLICIT);
	assert_int_equal(r.confidence, 100);

	in.district = "120199"; /* not a district: ignored */
	assert_int_equal(route_decide(gaz, &in, &r), TL_OK);
	assert_string_equal(r.district, "120116");
	assert_int_equal(r.rule, ROUTE_TEXT);

	in.district = "120109"; /* 大港区, retired */
	assert_int_equal(route_decide(gaz, &in, &r), TL_OK);
	assert_string_equal(r.district, "120116");
	assert_int_equal(r.rule, ROUTE_EXPLICIT);

	in.district = NULL;
	in.location = "静海县";
	in.location_len = strlen(in.location);
	assert_int_equal(route_decide(gaz, &in, &r), TL_OK);
	assert_string_equal(r.district, "120118");
	assert_int_equal(r.rule, ROUTE_LOCATION);

	memset(&in, 0, sizeof(in));
	in.has_coords = true;
	in.lat = 38.82;
	in.lon = 116.93;
	assert_int_equal(route_decide(gaz, &in, &r), TL_OK);
	assert_string_equal(r.district, "120118");
	assert_int_equal(r.rule, ROUTE_COORDS);

	in.lat = 31.23; /* Shanghai */
	in.lon = 121.47;
	assert_int_equal(route_decide(gaz, &in, &r), TL_OK);
	assert_string_equal(r.district, DISTRICT_CITY);
	assert_int_equal(r.rule, ROUTE_DEFAULT);

	assert_string_equal(route_rule_name(ROUTE_LOCATION), "location");
	assert_string_equal(route_rule_name(ROUTE_DEFAULT), "default");
	assert_int_equal(route_decide(NULL, &in, &r), TL_EINVAL);
}

static void
test_ambiguous_names(void **state)
{
	(void)state;
	assert_string_equal(route_text("钢坯从河北省沧州运来").district, DISTRICT_CITY);
	assert_string_equal(route_text("天津河北有个厂").district, "120105");
	assert_string_equal(route_text("河北区有个厂").district, "120105");
	assert_string_equal(route_text("为了和平").district, DISTRICT_CITY);
	assert_string_equal(route_text("河西务镇有个厂").district, "120114");
	assert_string_equal(route_text("我住在河西区，厂在西青区张家窝镇").district, "120111");
	assert_string_equal(route_text("厂在西青区张家窝镇，我住在河西区").district, "120111");
	assert_string_equal(route_text("我家在静海，厂在塘沽").district, "120116");
	assert_string_equal(route_text("厂在静海，钢坯运往武清").district, "120118");
}

static void
test_every_district_named(void **state)
{
	size_t n;
	const struct district *d = district_all(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		char text[64];
		struct route_result r;
		if (strcmp(d[i].code, DISTRICT_CITY) == 0)
			continue;
		assert_true(snprintf(text, sizeof(text), "厂在%s", d[i].name) < (int)sizeof(text));
		r = route_text(text);
		assert_string_equal(r.district, d[i].code);
		assert_true(r.confidence >= 70);
	}
}

static void
test_load_errors(void **state)
{
	struct route_gazetteer *g = (struct route_gazetteer *)1;
	char path[] = "/tmp/tl_gaz_XXXXXX";
	int fd;
	static const char bad[] = "# header\n静海\t120118\tshort\t80\t-\t-\t-\n大港\t120199\tformer\t80\t-\t-\t-\n";

	(void)state;
	assert_int_equal(route_gazetteer_load("/nonexistent/gaz.tsv", &g), TL_ENOTFOUND);
	assert_null(g);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bad, sizeof(bad) - 1), (ssize_t)(sizeof(bad) - 1));
	close(fd);
	assert_int_equal(route_gazetteer_load(path, &g), TL_ECONFIG);
	assert_null(g);
	unlink(path);
}

static void
test_large_text(void **state)
{
	const size_t n = 1024 * 1024;
	char *buf = malloc(n + 1);
	static const char piece[] = "静海大邱庄河北省和平\xff天津河北，我住在";

	(void)state;
	assert_non_null(buf);
	for (size_t i = 0; i < n; i++)
		buf[i] = piece[i % (sizeof(piece) - 1)];
	buf[n] = '\0';
	{
		struct route_result r = route_text(buf);
		assert_true(district_valid(r.district));
	}
	free(buf);
}

static char *
slurp(const char *path)
{
	char full[4096];
	const char *src = getenv("TL_SRC_DIR");
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	long n;

	if (!f && src && snprintf(full, sizeof(full), "%s/%s", src, path) < (int)sizeof(full))
		f = fopen(full, "rb");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (p = malloc((size_t)n + 1)) != NULL) {
		if (fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		} else {
			p[n] = '\0';
		}
	}
	fclose(f);
	return p;
}

static const char *
field(char *f)
{
	return strcmp(f, "-") == 0 ? NULL : f;
}

static void
test_labelled(void **state)
{
	char *data = slurp(CASES), *line, *next;
	unsigned total = 0, ok = 0, seen[17] = { 0 };
	size_t nd;
	const struct district *all = district_all(&nd);
	bool verbose = getenv("TL_ROUTE_VERBOSE") != NULL;

	(void)state;
	assert_non_null(data);
	for (line = data; line && *line; line = next) {
		char *f[5] = { 0 };
		size_t k = 0;
		struct route_input in;
		struct route_result r;
		const char *coords;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		f[k++] = line;
		for (char *p = line; *p && k < 5; p++)
			if (*p == '\t') {
				*p = '\0';
				f[k++] = p + 1;
			}
		assert_int_equal(k, 5);
		memset(&in, 0, sizeof(in));
		in.district = field(f[1]);
		if ((in.location = field(f[2])) != NULL)
			in.location_len = strlen(in.location);
		if ((in.text = field(f[3])) != NULL)
			in.text_len = strlen(in.text);
		if ((coords = field(f[4])) != NULL) {
			char *end;
			in.lat = strtod(coords, &end);
			assert_true(*end == ',');
			in.lon = strtod(end + 1, NULL);
			in.has_coords = true;
		}
		assert_int_equal(route_decide(gaz, &in, &r), TL_OK);
		total++;
		if (strcmp(r.district, f[0]) == 0)
			ok++;
		else if (verbose)
			fprintf(stderr, "want %s got %s (%s %d): loc=%s text=%s coords=%s\n", f[0], r.district,
			        route_rule_name(r.rule), r.confidence, f[2], f[3], f[4]);
		for (size_t i = 0; i < nd; i++)
			if (strcmp(all[i].code, f[0]) == 0)
				seen[i]++;
	}
	printf("routing set: %u cases, accuracy %.2f%% (%u/%u)\n", total, 100.0 * ok / total, ok, total);
	assert_true(total >= 150);
	for (size_t i = 0; i < nd; i++)
		assert_true(seen[i] >= 3); /* every district, and the city code, several times */
	assert_true(ok * 100 >= total * 95);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_ambiguous_names),
		cmocka_unit_test(test_every_district_named),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_large_text),
		cmocka_unit_test(test_labelled),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
