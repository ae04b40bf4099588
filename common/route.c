#include "compat.h"
#include "route.h"
#include "district.h"
#include "norm.h"
#include "utf8.h"


/*
 * Place names are matched leftmost-longest over the width-folded text,
 * through an open-addressing table keyed by the first code point of each
 * name (names with the same first character are tried longest first).
 * Each match gets a role from the words around it - the site ("厂在…",
 * "位于…", "…的钢厂"), where the reporter lives ("我住在…", "我家在…") or
 * where goods go ("运往…") - and the district with the best role, then the
 * most evidence, wins.  Linear in the text: each position tries the few
 * names that start with its character, and the role windows are bounded.
 */

#define GAZ_MAX_FILE (4u * 1024 * 1024)
#define GAZ_MAX_ENTRIES 20000u
#define GAZ_MAX_NAME 96u
#define ROUTE_MAX_TEXT (4u * 1024 * 1024)
#define ROLE_WINDOW 36 /* bytes: twelve CJK characters */
#define COORD_MAX_KM 30.0

enum gaz_kind { K_DISTRICT, K_SHORT, K_FORMER, K_TOWN, K_SUBDISTRICT, K_AREA, K_BLOCK };

struct gaz_entry {
	uint32_t name_off; /* into names */
	uint16_t name_len;
	uint8_t kind;
	uint8_t conf;
	bool risky;
	bool has_coords;
	char code[7];
	double lat, lon;
};

struct gaz_slot {
	uint32_t cp;    /* first code point; 0 = empty */
	uint32_t first; /* index into order[] */
	uint32_t count;
};

struct route_gazetteer {
	char *names;
	struct gaz_entry *e;
	size_t n;
	uint32_t *order; /* entry indices grouped by first code point, longest first */
	struct gaz_slot *slots;
	size_t nslots; /* power of two */
};

const char *
route_rule_name(enum route_rule r)
{
	switch (r) {
	case ROUTE_EXPLICIT: return "explicit";
	case ROUTE_LOCATION: return "location";
	case ROUTE_TEXT: return "text";
	case ROUTE_COORDS: return "coords";
	case ROUTE_DEFAULT: return "default";
	}
	return "unknown";
}

/* ---- loading ---- */

static int
kind_parse(const char *s)
{
	static const char *const k[] = { "district", "short", "former", "town", "subdistrict", "area", "block" };

	for (size_t i = 0; i < TL_ARRAY_LEN(k); i++)
		if (strcmp(s, k[i]) == 0)
			return (int)i;
	return -1;
}

static bool
parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return false;
	*out = v;
	return true;
}

static bool
parse_conf(const char *s, uint8_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 100)
		return false;
	*out = (uint8_t)v;
	return true;
}

/* Splits line (NUL-terminated, modified) at tabs into at most max fields. */
static size_t
split_tabs(char *line, char **f, size_t max)
{
	size_t n = 0;

	f[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == '\t') {
			*p = '\0';
			f[n++] = p + 1;
		}
	return n;
}

static uint32_t
first_cp(const char *s, size_t len)
{
	size_t i = 0;
	int32_t cp = utf8_next(s, len, &i);

	return cp > 0 ? (uint32_t)cp : 0;
}

static size_t
slot_of(const struct route_gazetteer *g, uint32_t cp)
{
	size_t i = (cp * 2654435761u) & (g->nslots - 1);

	while (g->slots[i].cp && g->slots[i].cp != cp)
		i = (i + 1) & (g->nslots - 1);
	return i;
}

static int
cmp_order(const void *a, const void *b, void *arg)
{
	const struct route_gazetteer *g = arg;
	const struct gaz_entry *x = &g->e[*(const uint32_t *)a], *y = &g->e[*(const uint32_t *)b];
	uint32_t cx = first_cp(g->names + x->name_off, x->name_len);
	uint32_t cy = first_cp(g->names + y->name_off, y->name_len);

	if (cx != cy)
		return cx < cy ? -1 : 1;
	if (x->name_len != y->name_len)
		return x->name_len > y->name_len ? -1 : 1;
	return 0;
}

static enum tl_err
build_index(struct route_gazetteer *g)
{
	size_t nslots = 64;

	if (!(g->order = malloc((g->n ? g->n : 1) * sizeof(*g->order))))
		return TL_ENOMEM;
	for (size_t i = 0; i < g->n; i++)
		g->order[i] = (uint32_t)i;
	qsort_r(g->order, g->n, sizeof(*g->order), cmp_order, g);
	while (nslots < g->n * 2)
		nslots *= 2;
	if (!(g->slots = calloc(nslots, sizeof(*g->slots))))
		return TL_ENOMEM;
	g->nslots = nslots;
	for (size_t i = 0; i < g->n;) {
		const struct gaz_entry *e = &g->e[g->order[i]];
		uint32_t cp = first_cp(g->names + e->name_off, e->name_len);
		size_t j = i, s;
		while (j < g->n) {
			const struct gaz_entry *f = &g->e[g->order[j]];
			if (first_cp(g->names + f->name_off, f->name_len) != cp)
				break;
			j++;
		}
		s = slot_of(g, cp);
		g->slots[s].cp = cp;
		g->slots[s].first = (uint32_t)i;
		g->slots[s].count = (uint32_t)(j - i);
		i = j;
	}
	return TL_OK;
}

enum tl_err
route_gazetteer_load(const char *path, struct route_gazetteer **out)
{
	FILE *f = NULL;
	char *data = NULL, *line, *next;
	struct route_gazetteer *g = NULL;
	size_t len, cap_e = 0, names_len = 0;
	long n;
	enum tl_err e = TL_OK;
	unsigned lineno = 0;

	if (!out)
		return TL_EINVAL;
	*out = NULL;
	if (!path)
		path = TL_DATADIR "/tianjin-gazetteer.tsv";
	if (!(f = fopen(path, "rb")))
		return errno == ENOENT ? TL_ENOTFOUND : TL_EIO;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		e = TL_EIO;
		goto fail;
	}
	if ((size_t)n > GAZ_MAX_FILE) {
		e = TL_ETOOBIG;
		goto fail;
	}
	len = (size_t)n;
	if (!(data = malloc(len + 1)) || !(g = calloc(1, sizeof(*g))) || !(g->names = malloc(len + 1))) {
		e = TL_ENOMEM;
		goto fail;
	}
	if (fread(data, 1, len, f) != len) {
		e = TL_EIO;
		goto fail;
	}
	data[len] = '\0';
	if (!utf8_valid(data, len, NULL)) {
		e = TL_ECONFIG;
		goto fail;
	}
	for (line = data; line && *line; line = next) {
		char *fld[8];
		size_t nf, nl;
		struct gaz_entry *ent;
		int kind;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		nl = strlen(line);
		if (nl && line[nl - 1] == '\r')
			line[--nl] = '\0';
		if (nl == 0 || line[0] == '#')
			continue;
		nf = split_tabs(line, fld, TL_ARRAY_LEN(fld));
		if (nf != 7 || (kind = kind_parse(fld[2])) < 0 || strlen(fld[0]) == 0 ||
		    strlen(fld[0]) > GAZ_MAX_NAME || strlen(fld[1]) != 6 ||
		    (strcmp(fld[1], "000000") != 0 && !district_valid(fld[1])) ||
		    (strcmp(fld[4], "-") != 0 && strcmp(fld[4], "R") != 0)) {
			fprintf(stderr, "%s:%u: bad gazetteer line\n", path, lineno);
			e = TL_ECONFIG;
			goto fail;
		}
		if (g->n == GAZ_MAX_ENTRIES) {
			e = TL_ETOOBIG;
			goto fail;
		}
		if (g->n == cap_e) {
			size_t nc = cap_e ? cap_e * 2 : 256;
			struct gaz_entry *p = realloc(g->e, nc * sizeof(*p));
			if (!p) {
				e = TL_ENOMEM;
				goto fail;
			}
			g->e = p;
			cap_e = nc;
		}
		ent = &g->e[g->n];
		memset(ent, 0, sizeof(*ent));
		ent->kind = (uint8_t)kind;
		ent->risky = fld[4][0] == 'R';
		memcpy(ent->code, fld[1], 7);
		if (!parse_conf(fld[3], &ent->conf)) {
			fprintf(stderr, "%s:%u: bad confidence\n", path, lineno);
			e = TL_ECONFIG;
			goto fail;
		}
		if (strcmp(fld[5], "-") != 0 || strcmp(fld[6], "-") != 0) {
			if (!parse_double(fld[5], -90, 90, &ent->lat) || !parse_double(fld[6], -180, 180, &ent->lon)) {
				fprintf(stderr, "%s:%u: bad coordinates\n", path, lineno);
				e = TL_ECONFIG;
				goto fail;
			}
			ent->has_coords = true;
		}
		/* Names are stored width-folded, as the text they are matched
		 * against will be. */
		{
			struct norm_text nt;
			if ((e = norm_run(fld[0], strlen(fld[0]), 0, &nt)) != TL_OK)
				goto fail;
			ent->name_off = (uint32_t)names_len;
			ent->name_len = (uint16_t)nt.len;
			memcpy(g->names + names_len, nt.s, nt.len);
			names_len += nt.len;
			norm_free(&nt);
		}
		g->n++;
	}
	if ((e = build_index(g)) != TL_OK)
		goto fail;
	free(data);
	fclose(f);
	*out = g;
	return TL_OK;
fail:
	free(data);
	if (f)
		fclose(f);
	route_gazetteer_free(g);
	return e;
}

void
route_gazetteer_free(struct route_gazetteer *g)
{
	if (!g)
		return;
	free(g->names);
	free(g->e);
	free(g->order);
	free(g->slots);
	free(g);
}

/* ---- matching ---- */

enum role { ROLE_HOME, ROLE_TRANSIT, ROLE_NEUTRAL, ROLE_SITE };

struct tally {
	char code[7];
	int best_role;
	int best_conf; /* best entry confidence at best_role */
	int sum;
	int count;
	size_t first;
};

static bool
ends_with(const char *s, size_t p, const char *lit)
{
	size_t l = strlen(lit);

	return p >= l && memcmp(s + p - l, lit, l) == 0;
}

static bool
clause_end_before(const char *s, size_t p)
{
	char b = s[p - 1];

	if (b == '\n' || b == '!' || b == '?' || b == ';' || b == ',')
		return true;
	if (p < 3 || ((unsigned char)s[p - 3] != 0xE3 && (unsigned char)s[p - 3] != 0xEF))
		return false;
	return ends_with(s, p, "。") || ends_with(s, p, "！") || ends_with(s, p, "？") ||
	       ends_with(s, p, "；") || ends_with(s, p, "，");
}

struct marker {
	const char *s;
	size_t n;
};
#define M(lit) { lit, sizeof(lit) - 1 }

static bool
ends_with_m(const char *s, size_t p, const struct marker *m)
{
	return p >= m->n && s[p - 1] == m->s[m->n - 1] && memcmp(s + p - m->n, m->s, m->n) == 0;
}

static bool
starts_with_m(const char *s, size_t n, size_t p, const struct marker *m)
{
	return n - p >= m->n && s[p] == m->s[0] && memcmp(s + p, m->s, m->n) == 0;
}

static const struct marker site_before[] = {
	M("厂在"), M("厂址"), M("位于"), M("地址"), M("地点"), M("坐落"), M("设在"), M("开在"), M("藏在"), M("建在"), M("窝点"),
	M("厂区在"), M("厂子在"), M("车间在"), M("厂房在"), M("场地在"), M("位置"), M("所在地"), M("就在"), M("举报"), M("生产地"),
	M("钢厂在"), M("工厂在"), M("炼钢"), M("企业在"), M("公司在"), M("作坊在"), M("在"), M("定位"),
};
static const struct marker home_before[] = {
	M("我住在"), M("我家在"), M("住在"), M("家住"), M("居住在"), M("居住"), M("本人住"), M("户籍"), M("老家"), M("住址"),
	M("我是"), M("现居"), M("我在"), M("本人在"), M("我们村在"), M("我住"), M("家在"),
};
static const struct marker transit_before[] = {
	M("运往"), M("运到"), M("卖到"), M("发往"), M("送到"), M("拉到"), M("销往"), M("来自"), M("从"), M("卖给"), M("发到"),
	M("转移到"), M("拉去"), M("运去"), M("送往"), M("搬到"), M("流向"), M("销售到"),
};
static const struct marker site_after[] = {
	M("厂"), M("公司"), M("钢铁"), M("炼钢"), M("中频炉"), M("工频炉"), M("生产"), M("窝点"), M("铸造"), M("轧钢"), M("企业"),
	M("车间"), M("作坊"), M("厂房"), M("冶炼"), M("电炉"), M("有个"), M("有一"), M("有家"), M("那个"), M("一家"),
};
static const struct marker home_after[] = { M("人"), M("的人"), M("居民"), M("村民"), M("住户") };

/* Nearest marker among lists ending within ROLE_WINDOW before p (same clause). */
static int
role_before(const char *s, size_t p)
{
	size_t lo = p > ROLE_WINDOW ? p - ROLE_WINDOW : 0;

	for (size_t e = p; e > lo; e--) {
		size_t best = 0;
		int role = -1;

		if ((s[e] & 0xC0) == 0x80 && e != p)
			continue;
		if (clause_end_before(s, e))
			break;
		/* at one end position the longest marker wins ("我住在" over "在") */
		for (size_t i = 0; i < TL_ARRAY_LEN(home_before); i++)
			if (home_before[i].n > best && ends_with_m(s, e, &home_before[i])) {
				best = home_before[i].n;
				role = ROLE_HOME;
			}
		for (size_t i = 0; i < TL_ARRAY_LEN(transit_before); i++)
			if (transit_before[i].n > best && ends_with_m(s, e, &transit_before[i])) {
				best = transit_before[i].n;
				role = ROLE_TRANSIT;
			}
		for (size_t i = 0; i < TL_ARRAY_LEN(site_before); i++)
			if (site_before[i].n > best && ends_with_m(s, e, &site_before[i])) {
				best = site_before[i].n;
				role = ROLE_SITE;
			}
		if (role >= 0) {
			/* a bare "在" only says "somewhere": "我在" is home, "厂在" site */
			if (role == ROLE_SITE && best == 3 && ends_with(s, e, "在"))
				return ROLE_NEUTRAL;
			return role;
		}
	}
	return -1;
}

/* Markers right after the place, skipping further place names that
 * belong to it ("静海区大邱庄镇的钢厂") is left to the caller. */
static int
role_after(const char *s, size_t n, size_t p)
{
	size_t hi = p + ROLE_WINDOW < n ? p + ROLE_WINDOW : n;

	for (size_t i = 0; i < TL_ARRAY_LEN(home_after); i++)
		if (starts_with_m(s, n, p, &home_after[i]))
			return ROLE_HOME;
	for (size_t q = p; q < hi; q++) {
		if ((s[q] & 0xC0) == 0x80)
			continue;
		if (q > p && clause_end_before(s, q))
			break;
		for (size_t i = 0; i < TL_ARRAY_LEN(site_after); i++)
			if (starts_with_m(s, n, q, &site_after[i]))
				return ROLE_SITE;
	}
	return -1;
}

struct analysis {
	struct tally t[17];
	size_t nt;
	int matches;
};

static void
tally_add(struct analysis *a, const struct gaz_entry *e, int role, size_t pos)
{
	struct tally *t = NULL;

	for (size_t i = 0; i < a->nt; i++)
		if (memcmp(a->t[i].code, e->code, 7) == 0)
			t = &a->t[i];
	if (!t) {
		if (a->nt == TL_ARRAY_LEN(a->t))
			return;
		t = &a->t[a->nt++];
		memset(t, 0, sizeof(*t));
		memcpy(t->code, e->code, 7);
		t->best_role = -1;
		t->first = pos;
	}
	if (role > t->best_role) {
		t->best_role = role;
		t->best_conf = e->conf;
	} else if (role == t->best_role && e->conf > t->best_conf) {
		t->best_conf = e->conf;
	}
	t->sum += e->conf;
	t->count++;
	a->matches++;
}

static void
analyse(const struct route_gazetteer *g, const char *s, size_t n, struct analysis *a)
{
	size_t p = 0;
	int chain_role = -1; /* role carried along "静海区大邱庄镇…" */
	size_t chain_end = SIZE_MAX;

	memset(a, 0, sizeof(*a));
	while (p < n) {
		size_t q = p, ci;
		int32_t cp = utf8_next(s, n, &q);
		const struct gaz_entry *hit = NULL;

		if (cp <= 0) {
			p = q;
			continue;
		}
		ci = slot_of(g, (uint32_t)cp);
		if (g->slots[ci].cp == (uint32_t)cp) {
			const struct gaz_slot *sl = &g->slots[ci];
			for (uint32_t k = 0; k < sl->count; k++) {
				const struct gaz_entry *e = &g->e[g->order[sl->first + k]];
				const char *nm = g->names + e->name_off;
				if (e->name_len > n - p || s[p + e->name_len - 1] != nm[e->name_len - 1] ||
				    memcmp(s + p, nm, e->name_len) != 0)
					continue;
				if (e->risky && !ends_with(s, p, "天津") && !ends_with(s, p, "天津市"))
					continue;
				hit = e;
				break;
			}
		}
		if (!hit) {
			p = q;
			continue;
		}
		if (hit->kind != K_BLOCK) {
			size_t end = p + hit->name_len;
			int rb = role_before(s, p), ra = role_after(s, n, end), role;
			/* Places written one after another share the first one's role. */
			if (rb < 0 && chain_end == p)
				rb = chain_role;
			if (rb == ROLE_HOME || rb == ROLE_TRANSIT)
				role = rb;
			else if (ra == ROLE_HOME)
				role = ROLE_HOME;
			else if (rb == ROLE_SITE || ra == ROLE_SITE)
				role = ROLE_SITE;
			else
				role = ROLE_NEUTRAL;
			tally_add(a, hit, role, p);
			chain_role = role;
			chain_end = end;
		}
		p += hit->name_len;
	}
}

/* The district the analysis points to; false if none. */
static bool
decide(const struct analysis *a, struct route_result *out)
{
	const struct tally *best = NULL;
	int conf;
	bool conflict = false;

	for (size_t i = 0; i < a->nt; i++) {
		const struct tally *t = &a->t[i];
		if (!best || t->best_role > best->best_role ||
		    (t->best_role == best->best_role &&
		     (t->best_conf > best->best_conf ||
		      (t->best_conf == best->best_conf && (t->sum > best->sum ||
		                                           (t->sum == best->sum && t->first < best->first))))))
			best = t;
	}
	if (!best)
		return false;
	for (size_t i = 0; i < a->nt; i++)
		if (&a->t[i] != best && a->t[i].best_role == best->best_role)
			conflict = true;
	conf = best->best_conf;
	if (best->count > 1)
		conf += 5;
	if (conflict)
		conf -= 25;
	else if (a->nt > 1)
		conf -= 5; /* another district named, but in a weaker role */
	if (best->best_role == ROLE_HOME || best->best_role == ROLE_TRANSIT)
		conf -= 20; /* only where the reporter lives, or where goods went */
	if (conf > 99)
		conf = 99;
	if (conf < 10)
		conf = 10;
	memcpy(out->district, best->code, 7);
	out->confidence = conf;
	return true;
}

static bool
route_by_text(const struct route_gazetteer *g, const char *s, size_t n, struct route_result *out)
{
	struct norm_text nt;
	struct analysis a;
	bool ok;

	if (!s || n == 0)
		return false;
	if (n > ROUTE_MAX_TEXT)
		n = ROUTE_MAX_TEXT; /* a place name is never that far in */
	if (norm_run(s, n, 0, &nt) != TL_OK)
		return false;
	analyse(g, nt.s, nt.len, &a);
	ok = decide(&a, out);
	norm_free(&nt);
	return ok;
}

/* ---- coordinates ---- */

/* Squared distance in km^2, equirectangular: ample at city scale.  No
 * libm: cos of the mean latitude by its Taylor series, good to 1e-4 for
 * the latitudes of Tianjin. */
static double
km2_between(double lat1, double lon1, double lat2, double lon2)
{
	double a = (lat1 + lat2) * 0.5 * 3.14159265358979323846 / 180.0, a2 = a * a;
	double c = 1 - a2 / 2 + a2 * a2 / 24 - a2 * a2 * a2 / 720 + a2 * a2 * a2 * a2 / 40320;
	double x = (lon2 - lon1) * c * 111.195, y = (lat2 - lat1) * 111.195;

	return x * x + y * y;
}

static bool
route_by_coords(const struct route_gazetteer *g, double lat, double lon, struct route_result *out)
{
	const struct gaz_entry *best = NULL;
	double bd = 1e9, other = 1e9;

	if (!(lat >= 38.5 && lat <= 40.4 && lon >= 116.6 && lon <= 118.2))
		return false; /* outside Tianjin's bounding box */
	for (size_t i = 0; i < g->n; i++) {
		const struct gaz_entry *e = &g->e[i];
		double d;
		if (!e->has_coords || e->kind == K_BLOCK)
			continue;
		if ((d = km2_between(lat, lon, e->lat, e->lon)) < bd) {
			bd = d;
			best = e;
		}
	}
	for (size_t i = 0; best && i < g->n; i++) {
		const struct gaz_entry *e = &g->e[i];
		double d;
		if (!e->has_coords || e->kind == K_BLOCK || memcmp(e->code, best->code, 7) == 0)
			continue;
		if ((d = km2_between(lat, lon, e->lat, e->lon)) < other)
			other = d;
	}
	if (!best || bd > COORD_MAX_KM * COORD_MAX_KM)
		return false;
	memcpy(out->district, best->code, 7);
	/* Confident when the nearest centre is close and clearly nearer than
	 * any other district's. */
	out->confidence = 75;
	if (other < bd * 2.25) /* 1.5 times the distance */
		out->confidence = 55;
	if (bd > 100) /* 10 km */
		out->confidence -= 15;
	return true;
}

/* ---- the decision ---- */

static const struct {
	const char *old, *now;
} retired[] = {
	{ "120107", "120116" }, { "120108", "120116" }, { "120109", "120116" },
	{ "120221", "120117" }, { "120222", "120114" }, { "120223", "120118" },
	{ "120224", "120115" }, { "120225", "120119" },
};

enum tl_err
route_decide(const struct route_gazetteer *g, const struct route_input *in, struct route_result *out)
{
	if (!g || !in || !out)
		return TL_EINVAL;
	memset(out, 0, sizeof(*out));
	if (in->district) {
		if (district_valid(in->district) && strcmp(in->district, DISTRICT_CITY) != 0) {
			memcpy(out->district, in->district, 7);
			out->rule = ROUTE_EXPLICIT;
			out->confidence = 100;
			return TL_OK;
		}
		/* Old forms and ID-card prefixes still carry retired codes. */
		for (size_t i = 0; i < TL_ARRAY_LEN(retired); i++)
			if (strcmp(in->district, retired[i].old) == 0) {
				memcpy(out->district, retired[i].now, 7);
				out->rule = ROUTE_EXPLICIT;
				out->confidence = 95;
				return TL_OK;
			}
	}
	if (route_by_text(g, in->location, in->location_len, out)) {
		out->rule = ROUTE_LOCATION;
		return TL_OK;
	}
	if (route_by_text(g, in->text, in->text_len, out)) {
		out->rule = ROUTE_TEXT;
		out->confidence = out->confidence * 9 / 10;
		return TL_OK;
	}
	if (in->has_coords && route_by_coords(g, in->lat, in->lon, out)) {
		out->rule = ROUTE_COORDS;
		return TL_OK;
	}
	memcpy(out->district, DISTRICT_CITY, 7);
	out->rule = ROUTE_DEFAULT;
	out->confidence = 0;
	return TL_OK;
}
