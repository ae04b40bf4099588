#include "compat.h"
#include "redact.h"
#include "idnum.h"
#include "norm.h"

#include <pthread.h>

/*
 * How it works (docs/redaction-routing.md has the policy):
 *
 * 1. norm_run() folds widths, drops zero-width characters and turns spoken
 *    digit runs into ASCII, keeping a map to the original offsets.
 * 2. One forward scan over the normalised text.  Only a few things start a
 *    candidate: an ASCII digit or letter, '+' or '(' before a digit, and
 *    five CJK trigger characters of self-identification phrases.  Context
 *    ("电话", "订单号", "我的车牌") is found by looking back a bounded window
 *    from the candidate, through an index of keywords by their last byte,
 *    so every byte is examined a bounded number of times: linear.
 * 3. The placeholders are written in one pass and the spans translated to
 *    original offsets with a monotone cursor.
 *
 * Classification is by structure (length, prefixes, a plausible birth
 * date); checksums only matter where a keep-context would otherwise win.
 */

/* Prototype for the test hook (tests/unit/common/redact_test.c declares it
 * too): the work counter is an instruction-free proxy for run time, used to
 * prove linearity without timing. */
enum tl_err redact_text_counted(const char *in, size_t len, struct redact_result *out,
                                uint64_t *work);

#define LOOKBACK 36 /* bytes: twelve CJK characters */

enum kw_class { KW_PHONE, KW_ID, KW_BANK, KW_QQ, KW_WECHAT, KW_KEEP, KW_HOTLINE, KW_OWN, KW_BLOCK, KW_NONE };

struct kw {
	const char *w;
	unsigned char cls;
};

/* ASCII keywords are lower case and match case-insensitively. */
static const struct kw keywords[] = {
	{ "电话", KW_PHONE }, { "手机", KW_PHONE }, { "手机号", KW_PHONE }, { "号码", KW_PHONE },
	{ "手机号码", KW_PHONE }, { "电话号码", KW_PHONE }, { "联系方式", KW_PHONE },
	{ "联系我", KW_PHONE }, { "座机", KW_PHONE }, { "固话", KW_PHONE }, { "致电", KW_PHONE },
	{ "拨打", KW_PHONE }, { "打给", KW_PHONE }, { "回电", KW_PHONE }, { "来电", KW_PHONE },
	{ "电联", KW_PHONE }, { "联系", KW_PHONE }, { "tel", KW_PHONE }, { "phone", KW_PHONE },
	{ "mobile", KW_PHONE }, { "手机号是", KW_PHONE }, { "小号", KW_PHONE }, { "打我", KW_PHONE },
	{ "身份证", KW_ID }, { "身份证号", KW_ID }, { "身份证号码", KW_ID }, { "证件号", KW_ID },
	{ "证件号码", KW_ID }, { "身份号", KW_ID }, { "身份证编号", KW_ID }, { "公民身份号码", KW_ID },
	{ "sfz", KW_ID },
	{ "银行卡", KW_BANK }, { "银行卡号", KW_BANK }, { "卡号", KW_BANK }, { "账号", KW_BANK },
	{ "帐号", KW_BANK }, { "账户", KW_BANK }, { "帐户", KW_BANK }, { "账户号", KW_BANK },
	{ "帐户号", KW_BANK }, { "开户", KW_BANK }, { "收款", KW_BANK }, { "银行账号", KW_BANK },
	{ "qq", KW_QQ }, { "扣扣", KW_QQ }, { "q号", KW_QQ }, { "企鹅", KW_QQ }, { "企鹅号", KW_QQ },
	{ "qq号", KW_QQ }, { "qq群", KW_QQ }, { "qq号码", KW_QQ }, { "微信号码", KW_WECHAT },
	/* Longer words that end like a keyword but say nothing about the number. */
	{ "来电人", KW_BLOCK }, { "联系人", KW_BLOCK }, { "来电时间", KW_BLOCK }, { "联系时间", KW_BLOCK },
	{ "微信", KW_WECHAT }, { "微信号", KW_WECHAT }, { "vx", KW_WECHAT }, { "wx", KW_WECHAT },
	{ "v信", KW_WECHAT }, { "薇信", KW_WECHAT }, { "威信", KW_WECHAT }, { "加我", KW_WECHAT },
	{ "绿泡泡", KW_WECHAT }, { "weixin", KW_WECHAT }, { "wechat", KW_WECHAT }, { "加v", KW_WECHAT },
	{ "vx号", KW_WECHAT }, { "微", KW_WECHAT }, { "wei xin", KW_WECHAT },
	/* "V：zjh_1975": a bare V only with its colon, so "10kV" says nothing. */
	{ "v:", KW_WECHAT }, { "v：", KW_WECHAT },
	/* Other social handles identify the reporter just as well; they are
	 * reported as [微信号] because the API has no separate type. */
	{ "抖音", KW_WECHAT }, { "抖音号", KW_WECHAT }, { "快手号", KW_WECHAT },
	{ "电表号", KW_KEEP }, { "电表", KW_KEEP }, { "表号", KW_KEEP }, { "户号", KW_KEEP },
	{ "用电户号", KW_KEEP }, { "订单号", KW_KEEP }, { "订单", KW_KEEP }, { "单号", KW_KEEP },
	{ "编号", KW_KEEP }, { "合同号", KW_KEEP }, { "发票号", KW_KEEP }, { "发票", KW_KEEP },
	{ "运单号", KW_KEEP }, { "流水号", KW_KEEP }, { "炉号", KW_KEEP }, { "批号", KW_KEEP },
	{ "批次号", KW_KEEP }, { "工单号", KW_KEEP }, { "客户号", KW_KEEP }, { "客户编号", KW_KEEP },
	{ "信用代码", KW_KEEP }, { "注册号", KW_KEEP }, { "税号", KW_KEEP }, { "许可证号", KW_KEEP },
	{ "备案号", KW_KEEP }, { "案号", KW_KEEP }, { "文号", KW_KEEP }, { "磅单", KW_KEEP },
	{ "磅单号", KW_KEEP }, { "提单号", KW_KEEP }, { "柜号", KW_KEEP }, { "型号", KW_KEEP },
	{ "炉次", KW_KEEP }, { "批次", KW_KEEP }, { "执照号", KW_KEEP }, { "证书编号", KW_KEEP },
	{ "快递单号", KW_KEEP }, { "用户编号", KW_KEEP }, { "合同编号", KW_KEEP }, { "交易单号", KW_KEEP },
	{ "热线", KW_HOTLINE }, { "举报电话", KW_HOTLINE }, { "举报热线", KW_HOTLINE },
	{ "监督电话", KW_HOTLINE }, { "投诉电话", KW_HOTLINE }, { "服务电话", KW_HOTLINE },
	{ "服务热线", KW_HOTLINE }, { "热线电话", KW_HOTLINE }, { "值班电话", KW_HOTLINE },
	{ "公开电话", KW_HOTLINE }, { "客服电话", KW_HOTLINE }, { "举报专线", KW_HOTLINE },
	{ "我的车", KW_OWN }, { "我的车牌", KW_OWN }, { "我车牌", KW_OWN }, { "本人车辆", KW_OWN },
	{ "本人的车", KW_OWN }, { "本人车牌", KW_OWN }, { "我家的车", KW_OWN }, { "我家车", KW_OWN },
	{ "自家车", KW_OWN }, { "自己的车", KW_OWN }, { "我开的", KW_OWN }, { "我名下", KW_OWN },
	{ "本人名下", KW_OWN }, { "我的车辆", KW_OWN }, { "我开", KW_OWN }, { "本人驾驶", KW_OWN },
	{ "我驾驶", KW_OWN }, { "我的货车", KW_OWN }, { "我的私家车", KW_OWN }, { "本人的车辆", KW_OWN },
	{ "我车", KW_OWN }, { "我的小车", KW_OWN }, { "本人车", KW_OWN }, { "我的是", KW_OWN },
	{ "我自己的", KW_OWN }, { "本人的", KW_OWN },
};

#define NKW TL_ARRAY_LEN(keywords)

/* Keywords chained by their last byte, built once and read-only after. */
static struct {
	uint16_t head[256];
	uint16_t next[NKW];
	unsigned char len[NKW];
} kwi;
static pthread_once_t kwi_once = PTHREAD_ONCE_INIT;

static unsigned char
lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static void
kwi_build(void)
{
	for (size_t b = 0; b < 256; b++)
		kwi.head[b] = UINT16_MAX;
	for (size_t k = NKW; k-- > 0;) {
		size_t l = strlen(keywords[k].w);
		unsigned char last = (unsigned char)keywords[k].w[l - 1];
		kwi.len[k] = (unsigned char)l;
		kwi.next[k] = kwi.head[last];
		kwi.head[last] = (uint16_t)k;
	}
}

static const char *const type_names[REDACT_NTYPES] = {
	"id18", "id15", "mobile", "landline", "bankcard", "email",
	"wechat", "qq", "name", "url", "plate",
};
static const char *const placeholders[REDACT_NTYPES] = {
	"[身份证号]", "[身份证号]", "[手机号]", "[固定电话]", "[银行卡号]", "[邮箱]",
	"[微信号]", "[QQ号]", "[姓名]", "[链接]", "[车牌号]",
};

const char *
redact_type_name(enum redact_type t)
{
	return (unsigned)t < REDACT_NTYPES ? type_names[t] : "unknown";
}

const char *
redact_type_placeholder(enum redact_type t)
{
	return (unsigned)t < REDACT_NTYPES ? placeholders[t] : "[已删除]";
}

struct group {
	size_t s, e;   /* digits s..e in the normalised text */
	unsigned nd;
	char sep;      /* separator before this group: 0, ' ', '-', '.', '/' */
};

struct rctx {
	const unsigned char *s;
	size_t n;
	struct redact_span *sp; /* normalised offsets while scanning */
	size_t nsp, cap;
	struct group *g;
	size_t ng, gcap;
	size_t email_fail_until;
	uint64_t work;
	enum tl_err err;
};

static size_t pinyin_name(const struct rctx *c, size_t q);

/* The three bytes at p as one integer, to compare CJK characters cheaply. */
static inline uint32_t
u24(const unsigned char *p)
{
	return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

#define U24(lit) ((((uint32_t)(unsigned char)(lit)[0]) << 16) | \
                  (((uint32_t)(unsigned char)(lit)[1]) << 8) | (unsigned char)(lit)[2])

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(unsigned char c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }
static bool is_alnum(unsigned char c) { return is_digit(c) || is_alpha(c); }

static bool
at(const struct rctx *c, size_t p, const char *lit)
{
	size_t l = strlen(lit);

	return p <= c->n && c->n - p >= l && memcmp(c->s + p, lit, l) == 0;
}

static bool
ends_with(const struct rctx *c, size_t p, const char *lit)
{
	size_t l = strlen(lit);

	return p >= l && memcmp(c->s + p - l, lit, l) == 0;
}

/* Code point at p and its length; the text is valid UTF-8 after norm_run. */
static uint32_t
cp_at(const struct rctx *c, size_t p, size_t *len)
{
	const unsigned char *s = c->s + p;

	if (p >= c->n) {
		*len = 0;
		return 0;
	}
	if (s[0] < 0x80) {
		*len = 1;
		return s[0];
	}
	if (s[0] < 0xE0) {
		*len = 2;
		return ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
	}
	if (s[0] < 0xF0) {
		*len = 3;
		return ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
	}
	*len = 4;
	return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
	       ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

static void
add_span(struct rctx *c, size_t s, size_t e, enum redact_type t)
{
	if (c->err || e <= s)
		return;
	/* Spans arrive nearly in order; merge anything overlapping the tail so
	 * the list stays sorted and disjoint. */
	while (c->nsp > 0 && s < c->sp[c->nsp - 1].end) {
		struct redact_span *l = &c->sp[c->nsp - 1];
		if (l->start < s)
			s = l->start;
		if (l->end > e)
			e = l->end;
		t = l->type;
		c->nsp--;
	}
	if (c->nsp == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 16;
		struct redact_span *p = realloc(c->sp, ncap * sizeof(*p));
		if (!p) {
			c->err = TL_ENOMEM;
			return;
		}
		c->sp = p;
		c->cap = ncap;
	}
	c->sp[c->nsp].start = s;
	c->sp[c->nsp].end = e;
	c->sp[c->nsp].type = t;
	c->nsp++;
}

/* True if a clause ends at p (the character before p ends a sentence).
 * With comma, a comma also counts. */
static bool
clause_break_before(const struct rctx *c, size_t p, bool comma)
{
	unsigned char b = c->s[p - 1];

	if (b == '\n' || b == '!' || b == '?' || b == ';' || (comma && b == ','))
		return true;
	if (p < 3 || b < 0x80)
		return false;
	return ends_with(c, p, "。") || ends_with(c, p, "！") || ends_with(c, p, "？") ||
	       ends_with(c, p, "；") || (comma && ends_with(c, p, "，"));
}

/*
 * The nearest keyword ending within LOOKBACK bytes before pos, in the same
 * clause, among the classes in mask.  At one end position the longest
 * keyword wins ("账户号" over "户号").  Returns KW_NONE if none.
 */
static int
kw_before(struct rctx *c, size_t pos, unsigned mask, bool comma_breaks, size_t *kstart)
{
	size_t lo = pos > LOOKBACK ? pos - LOOKBACK : 0;

	pthread_once(&kwi_once, kwi_build);
	for (size_t e = pos; e > lo; e--) {
		int best = -1;
		size_t blen = 0;

		c->work++;
		if (e < c->n && (c->s[e] & 0xC0) == 0x80)
			continue; /* not a character boundary */
		if (clause_break_before(c, e, comma_breaks))
			break; /* keywords of another sentence say nothing here */
		for (uint16_t k = kwi.head[lower(c->s[e - 1])]; k != UINT16_MAX; k = kwi.next[k]) {
			size_t l = kwi.len[k];
			const unsigned char *w = (const unsigned char *)keywords[k].w;
			size_t i;

			c->work++;
			if (l > e || l <= blen || !(mask & (1u << keywords[k].cls)))
				continue;
			for (i = 0; i < l; i++)
				if (lower(c->s[e - l + i]) != w[i])
					break;
			if (i < l)
				continue;
			/* ASCII keywords must not be the tail of a longer word. */
			if (w[0] < 0x80 && e - l > 0 && is_alpha(c->s[e - l - 1]))
				continue;
			best = (int)k;
			blen = l;
		}
		if (best >= 0) {
			if (kstart)
				*kstart = e - blen;
			return keywords[best].cls == KW_BLOCK ? KW_NONE : keywords[best].cls;
		}
	}
	return KW_NONE;
}

#define MASK_NUM ((1u << KW_PHONE) | (1u << KW_ID) | (1u << KW_BANK) | (1u << KW_QQ) | \
                  (1u << KW_WECHAT) | (1u << KW_KEEP) | (1u << KW_HOTLINE) | (1u << KW_BLOCK))

/* ---- numbers ---- */

static const char *const service_numbers[] = {
	"110", "119", "120", "122", "12345", "12388", "12315", "12369", "12366", "12310",
	"12319", "12320", "12333", "12350", "12358", "12365", "12395", "12123", "95598",
	"12348", "12337", "12380", "12381",
};

/* Looser than idnum_valid() on purpose: a day the month lacks or a wrong
 * check digit is a typo'd ID, and a typo'd ID still identifies someone. */
static bool
date_ok(const char *d, bool two_digit_year)
{
	int y, m, dd;

	if (two_digit_year) {
		y = 1900 + (d[0] - '0') * 10 + (d[1] - '0');
		d += 2;
	} else {
		y = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
		d += 4;
		if (y < 1900 || y > 2039)
			return false;
	}
	m = (d[0] - '0') * 10 + (d[1] - '0');
	dd = (d[2] - '0') * 10 + (d[3] - '0');
	(void)y;
	return m >= 1 && m <= 12 && dd >= 1 && dd <= 31;
}

static bool
region_ok(const char *d)
{
	return d[0] >= '1' && d[0] <= '8';
}

static bool
is_mobile(const char *d, size_t nd)
{
	return nd == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9';
}

/* A group that identifies someone on its own, which must not be glued to
 * its neighbours ("订单 12345678 13800138000"). */
static bool
strong_alone(const char *d, size_t nd, bool x)
{
	if (x)
		return nd == 18;
	if (is_mobile(d, nd))
		return true;
	if (nd == 18 && region_ok(d) && date_ok(d + 6, false))
		return true;
	return nd >= 16 && nd <= 19;
}

/*
 * Classifies a digit string (d may end in X for an 18-character ID).
 * Returns a redact_type or -1 to keep it.
 */
static int
classify(const char *d, size_t nd, int ctx, bool plus, bool x)
{
	if (ctx == KW_KEEP) {
		/* Enterprise order/meter numbers stay; only a checksum-valid ID
		 * number is too specific to be anything else. */
		if (nd == 18 && region_ok(d) && date_ok(d + 6, false) && idnum_check_ok(d))
			return REDACT_ID18;
		return -1;
	}
	if (x)
		return nd == 18 ? REDACT_ID18 : -1;
	if (nd == 10 && (!memcmp(d, "400", 3) || !memcmp(d, "800", 3)))
		return -1; /* enterprise service numbers identify the company */
	if (!plus && nd <= 5)
		for (size_t i = 0; i < TL_ARRAY_LEN(service_numbers); i++)
			if (strlen(service_numbers[i]) == nd && memcmp(d, service_numbers[i], nd) == 0)
				return -1;
	if (plus || (nd >= 12 && d[0] == '8' && d[1] == '6') ||
	    (nd >= 14 && memcmp(d, "0086", 4) == 0)) {
		const char *r = d;
		size_t rn = nd;
		if (rn >= 4 && memcmp(r, "0086", 4) == 0) {
			r += 4;
			rn -= 4;
		} else if (rn >= 2 && r[0] == '8' && r[1] == '6') {
			r += 2;
			rn -= 2;
		}
		if (is_mobile(r, rn))
			return REDACT_MOBILE;
		if (rn >= 9 && rn <= 12 && r[0] >= '2' && r[0] <= '9')
			return REDACT_LANDLINE;
		if (rn >= 10 && rn <= 12 && r[0] == '0')
			return REDACT_LANDLINE;
		if (plus)
			return rn >= 7 ? REDACT_LANDLINE : -1;
	}
	if (nd == 18 && region_ok(d) && date_ok(d + 6, false))
		return REDACT_ID18;
	if (nd >= 16 && nd <= 19)
		return REDACT_BANKCARD;
	if (nd == 15 && region_ok(d) && date_ok(d + 6, true))
		return REDACT_ID15;
	if (ctx == KW_ID && nd >= 15 && nd <= 18)
		return nd == 15 ? REDACT_ID15 : REDACT_ID18;
	if (ctx == KW_BANK && nd >= 12 && nd <= 19)
		return REDACT_BANKCARD;
	if (is_mobile(d, nd))
		return REDACT_MOBILE;
	if (ctx == KW_HOTLINE)
		return -1; /* published hotlines and service numbers */
	if (d[0] == '0' && d[1] != '0' && nd >= 10 && nd <= 12)
		return REDACT_LANDLINE;
	if (ctx == KW_QQ && nd >= 5 && nd <= 11 && d[0] != '0')
		return REDACT_QQ;
	if (ctx == KW_WECHAT && nd >= 5 && nd <= 11)
		return REDACT_WECHAT;
	if (ctx == KW_PHONE) {
		if (nd >= 7 && nd <= 8 && d[0] != '0' && d[0] != '1' &&
		    !(nd == 8 && (d[0] == '2' || d[0] == '1') && date_ok(d, false)))
			return REDACT_LANDLINE; /* but not a compact date, 20230512 */
		if (nd >= 10 && nd <= 12 && d[0] == '1' && d[1] >= '3' && d[1] <= '9')
			return REDACT_MOBILE; /* a digit too many or too few */
		if (nd >= 9 && nd <= 12 && d[0] == '0')
			return REDACT_LANDLINE;
	}
	return -1;
}

static bool
push_group(struct rctx *c, size_t s, size_t e, char sep)
{
	if (c->ng == c->gcap) {
		size_t ncap = c->gcap ? c->gcap * 2 : 16;
		struct group *p = realloc(c->g, ncap * sizeof(*p));
		if (!p) {
			c->err = TL_ENOMEM;
			return false;
		}
		c->g = p;
		c->gcap = ncap;
	}
	c->g[c->ng].s = s;
	c->g[c->ng].e = e;
	c->g[c->ng].nd = (unsigned)(e - s);
	c->g[c->ng].sep = sep;
	c->ng++;
	return true;
}

static unsigned
group_value(const struct rctx *c, const struct group *g)
{
	unsigned v = 0;

	for (size_t i = g->s; i < g->e && i - g->s < 4; i++)
		v = v * 10 + (unsigned)(c->s[i] - '0');
	return v;
}

/* "86" / "0086" before a number. */
static bool
country_code(const struct rctx *c, const struct group *g)
{
	return (g->nd == 2 && !memcmp(c->s + g->s, "86", 2)) ||
	       (g->nd == 4 && !memcmp(c->s + g->s, "0086", 4));
}

/*
 * Whether groups i..j could be one number as people write them: up to
 * three groups (3-4-4, 6-8-4), spaced single digits, or equal middle
 * groups (4-4-4-4-3, 6-4-4-4).  "138-0013-8000/139-0013-9000" is two.
 */
static bool
groups_plausible(const struct rctx *c, size_t i, size_t j)
{
	const struct group *g = c->g;
	bool ones = true;

	if (j > i && country_code(c, &g[i]))
		i++;
	if (j - i + 1 <= 3)
		return true;
	for (size_t k = i; k <= j; k++)
		ones = ones && g[k].nd == 1;
	if (ones)
		return true;
	for (size_t k = i + 2; k < j; k++)
		if (g[k].nd != g[i + 1].nd)
			return false;
	return true;
}

/* The groups from j up to the next line break (at most four) spell a
 * mobile number on their own: "电话138\n138 0013 8000" is a false start
 * followed by the number, not one long number. */
static bool
line_is_mobile(const struct rctx *c, size_t j)
{
	char d[12];
	size_t nd = 0;

	for (size_t k = j; k < c->ng && k < j + 4; k++) {
		if (k > j && c->g[k].sep == '\n')
			break;
		if (nd + c->g[k].nd > 11)
			return false;
		memcpy(d + nd, c->s + c->g[k].s, c->g[k].nd);
		nd += c->g[k].nd;
	}
	return is_mobile(d, nd);
}

/* Groups i..i+2 form a date like 2023-05-12 or 2023.5.12. */
static bool
is_date(const struct rctx *c, size_t i)
{
	const struct group *g = &c->g[i];
	unsigned y, m, d;

	if (i + 2 >= c->ng || g[0].nd != 4 || g[1].nd < 1 || g[1].nd > 2 || g[2].nd < 1 ||
	    g[2].nd > 2 || g[1].sep != g[2].sep || g[1].sep == ' ')
		return false;
	y = group_value(c, &g[0]);
	m = group_value(c, &g[1]);
	d = group_value(c, &g[2]);
	return y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static bool
close_paren_at(const struct rctx *c, size_t q, size_t *len)
{
	if (q < c->n && c->s[q] == ')') {
		*len = 1;
		return true;
	}
	if (at(c, q, "）")) {
		*len = 3;
		return true;
	}
	return false;
}

/*
 * A run of digit groups starting at p ('+', '(' / '（' or a digit).  Groups
 * are joined by at most three separator bytes (spaces with one '-', '.' or
 * '/'), which covers "138 0013 8000", "022-2345-6789", "(022) 2345 6789".
 * Returns the end of the run.
 */
static size_t
scan_number(struct rctx *c, size_t p)
{
	size_t q = p, end, pl;
	bool plus = false, paren = false, x = false, glued;
	int ctx = -2; /* not looked up yet */
	char buf[24];
	unsigned total = 0;

	c->ng = 0;
	if (c->s[q] == '+') {
		plus = true;
		q++;
	} else if (c->s[q] == '(') {
		paren = true;
		q++;
	} else if (at(c, q, "（")) {
		paren = true;
		q += 3;
	}
	if (paren && q < c->n && c->s[q] == '+') {
		plus = true; /* "(+86)" */
		q++;
	}
	for (char sep = 0;;) {
		size_t gs = q, t, sp = 0;
		while (q < c->n && is_digit(c->s[q]))
			q++;
		c->work += q - gs;
		if (!push_group(c, gs, q, sep))
			return c->n;
		total += (unsigned)(q - gs);
		if (paren && c->ng == 1) {
			if (!close_paren_at(c, q, &pl))
				break;
			q += pl;
			paren = false;
			if (q < c->n && (c->s[q] == ' ' || c->s[q] == '-'))
				q++;
			if (q < c->n && is_digit(c->s[q])) {
				sep = '-';
				continue;
			}
			break;
		}
		if (q < c->n && (c->s[q] == 'X' || c->s[q] == 'x') && total == 17 &&
		    !(q + 1 < c->n && is_alnum(c->s[q + 1]))) {
			x = true;
			q++;
			break;
		}
		t = q;
		while (t < c->n && (c->s[t] == ' ' || c->s[t] == '\t') && sp < 2) {
			t++;
			sp++;
		}
		/* one line break: a number wrapped by a mail client or an ASR
		 * segment boundary */
		if (sp == 0 && t < c->n && c->s[t] == '\r')
			t++;
		if (sp == 0 && t < c->n && c->s[t] == '\n')
			t++;
		sep = t > q ? (c->s[t - 1] == '\n' ? '\n' : ' ') : 0;
		if (t < c->n && (c->s[t] == '-' || c->s[t] == '.' || c->s[t] == '/')) {
			sep = (char)c->s[t];
			t++;
			if (t < c->n && c->s[t] == ' ')
				t++;
		}
		/* "+86 (138) 0013 8000": the first group after a country code may
		 * be in brackets. */
		if (plus && c->ng == 1 && country_code(c, &c->g[0]) && t < c->n && c->s[t] == '(' &&
		    t + 1 < c->n && is_digit(c->s[t + 1])) {
			size_t r = t + 1;
			while (r < c->n && is_digit(c->s[r]) && r - t <= 4)
				r++;
			if (r < c->n && c->s[r] == ')') {
				c->work += r - t;
				if (!push_group(c, t + 1, r, ' '))
					return c->n;
				total += (unsigned)(r - t - 1);
				q = r + 1;
				t = q;
				while (t < c->n && c->s[t] == ' ' && t - q < 2)
					t++;
				if (t == q || t >= c->n || !is_digit(c->s[t]))
					break;
				sep = ' ';
				q = t;
				continue;
			}
		}
		if (t == q || t - q > 3 || t >= c->n || !is_digit(c->s[t]))
			break;
		/* "3.5吨" and "1/2" are not numbers anyone can be reached at;
		 * keep '.' and '/' joins for longer groups only. */
		q = t;
	}
	end = q;
	glued = end < c->n && is_alpha(c->s[end]);

	for (size_t i = 0, consumed = 0; i < c->ng;) {
		size_t best_j = SIZE_MAX, nd = 0;
		int best_t = -1;

		/* a new line starts a number of its own */
		if (i > 0 && c->g[i].sep == '\n' && consumed < i)
			consumed = i;

		if (is_date(c, i)) {
			i += 3;
			consumed = i;
			continue;
		}
		for (size_t j = i; j < c->ng; j++) {
			const struct group *g = &c->g[j];
			bool xj = x && j == c->ng - 1;
			int t;

			if (nd + g->nd > 22)
				break;
			/* a line break ends a number that is already complete */
			if (j > i && g->sep == '\n' && (best_t >= 0 || line_is_mobile(c, j)))
				break;
			if (j > i && is_date(c, j))
				break;
			if (j > i && g->nd <= 19 && g->nd >= 11 &&
			    strong_alone((const char *)c->s + g->s, g->nd, xj) &&
			    !(j == i + 1 && country_code(c, &c->g[i])))
				break;
			memcpy(buf + nd, c->s + g->s, g->nd);
			nd += g->nd;
			if (xj)
				buf[nd++] = 'X';
			if (nd < 5 && !plus)
				continue;
			if (ctx == -2)
				ctx = kw_before(c, p, MASK_NUM, false, NULL);
			/* after a line break the keyword belongs to the line before */
			t = classify(buf, nd, (ctx == KW_NONE || (i > 0 && c->g[i].sep == '\n')) ? -1 : ctx,
			             plus && i == 0, xj);
			/* 3-4-2-2 and similar: eleven digits that make a mobile
			 * number are one whatever the grouping. */
			if (t >= 0 && j > i + 2 && !groups_plausible(c, i, j) &&
			    !(t == REDACT_MOBILE && nd == 11 && j - i <= 4))
				t = -1;
			/* A window that starts inside an unclaimed number ("400-800-1234"
			 * read from its second group) must stand on its own. */
			if (t >= 0 && i > consumed && !(j == i && strong_alone(buf, nd, xj)))
				t = -1;
			if (glued && j == c->ng - 1 && t >= 0 &&
			    !(t == REDACT_MOBILE && nd == 11) && t != REDACT_ID18)
				t = -1; /* "5000kVA", "2023ABC": part of a word */
			if (t >= 0) {
				best_j = j;
				best_t = t;
			}
			if (j == i && nd >= 11 && strong_alone(buf, nd, xj))
				break; /* keep a complete identifier to itself */
		}
		if (best_t < 0) {
			i++;
			continue;
		}
		consumed = best_j + 1;
		{
			size_t s = c->g[i].s, e = c->g[best_j].e;
			if (i == 0)
				s = p;
			if (x && best_j == c->ng - 1)
				e = end;
			/* An extension belongs to the number: 022-2345-6789-801. */
			if (best_t == REDACT_LANDLINE && best_j + 1 < c->ng &&
			    c->g[best_j + 1].sep == '-' && c->g[best_j + 1].nd <= 5) {
				best_j++;
				e = c->g[best_j].e;
			}
			add_span(c, s, e, (enum redact_type)best_t);
		}
		i = best_j + 1;
		consumed = i;
	}
	return end;
}

/* ---- email ---- */

static bool
local_char(unsigned char b)
{
	return is_alnum(b) || b == '.' || b == '_' || b == '%' || b == '+' || b == '-';
}

static const char *const tlds[] = {
	"com", "cn", "net", "org", "edu", "gov", "top", "vip", "cc", "info", "biz", "me",
	"io", "hk", "tw", "co", "xyz", "mobi", "name", "club", "ltd", "site", "online",
};

/* An obfuscated '@' at q; *len gets its length. */
static bool
at_marker(const struct rctx *c, size_t q, size_t *len, bool *obf)
{
	size_t sp = (q < c->n && c->s[q] == ' ') ? 1 : 0;
	size_t r = q + sp;
	static const char *const m[] = { "艾特", "(at)", "[at]", "at", "#", "圈a", "圈" };

	*obf = false;
	if (r < c->n && c->s[r] == '@') {
		*len = sp + 1;
		if (r + 1 < c->n && c->s[r + 1] == ' ')
			(*len)++;
		return true;
	}
	for (size_t i = 0; i < TL_ARRAY_LEN(m); i++) {
		size_t l = strlen(m[i]);
		if (!at(c, r, m[i]))
			continue;
		if (m[i][0] == 'a' && (sp == 0 || r + l >= c->n || c->s[r + l] != ' '))
			continue; /* bare "at" only as a spoken word */
		if (m[i][0] == '#' && sp)
			continue;
		*len = sp + l;
		if (r + l < c->n && c->s[r + l] == ' ')
			(*len)++;
		*obf = true;
		return true;
	}
	return false;
}

static bool
dot_marker(const struct rctx *c, size_t q, size_t *len, bool *obf)
{
	size_t sp = (q < c->n && c->s[q] == ' ') ? 1 : 0;
	size_t r = q + sp;
	static const char *const m[] = { "点", "dot", "(dot)", "[dot]", "。" };

	if (r < c->n && c->s[r] == '.') {
		*len = sp + 1;
		if (r + 1 < c->n && c->s[r + 1] == ' ')
			(*len)++;
		return true;
	}
	for (size_t i = 0; i < TL_ARRAY_LEN(m); i++) {
		size_t l = strlen(m[i]);
		if (!at(c, r, m[i]))
			continue;
		if (m[i][0] == 'd' && (sp == 0 || r + l >= c->n || c->s[r + l] != ' '))
			continue;
		*len = sp + l;
		if (r + l < c->n && c->s[r + l] == ' ')
			(*len)++;
		*obf = true;
		return true;
	}
	return false;
}

/* Tries an email address whose local part starts at p; returns its end or 0. */
static size_t
try_email(struct rctx *c, size_t p)
{
	size_t q = p, lend, ml, labels = 0, last_s = 0, last_e = 0, dend = 0;
	bool obf = false, o;

	if (p < c->email_fail_until)
		return 0;
	while (q < c->n && local_char(c->s[q]))
		q++;
	c->work += q - p;
	lend = q;
	while (lend > p && !is_alnum(c->s[lend - 1]))
		lend--;
	if (lend == p || lend - p > 64 || !at_marker(c, lend, &ml, &o))
		goto fail;
	obf = o;
	q = lend + ml;
	for (;;) {
		size_t ls = q;
		while (q < c->n && (is_alnum(c->s[q]) || c->s[q] == '-') && q - ls <= 63)
			q++;
		c->work += q - ls;
		if (q == ls || c->s[ls] == '-' || c->s[q - 1] == '-') {
			if (labels >= 1 && q == ls && (at(c, q, "中国") || at(c, q, "公司") || at(c, q, "网络"))) {
				last_s = q;
				last_e = q + 6;
				labels++;
				dend = last_e;
			}
			break;
		}
		labels++;
		last_s = ls;
		last_e = q;
		dend = q;
		if (!dot_marker(c, q, &ml, &o))
			break;
		if (o)
			obf = true;
		q += ml;
	}
	if (labels < 2 || dend == 0)
		goto fail;
	if (last_e - last_s == 6 && c->s[last_s] >= 0x80)
		return dend; /* .中国 .公司 */
	{
		size_t tl = last_e - last_s;
		bool alpha = tl >= 2;
		for (size_t i = last_s; i < last_e; i++)
			if (!is_alpha(c->s[i]))
				alpha = false;
		if (!alpha)
			goto fail;
		if (obf) {
			bool known = false;
			for (size_t i = 0; i < TL_ARRAY_LEN(tlds) && !known; i++) {
				size_t k = strlen(tlds[i]), j;
				if (k != tl)
					continue;
				for (j = 0; j < k; j++)
					if (lower(c->s[last_s + j]) != (unsigned char)tlds[i][j])
						break;
				known = j == k;
			}
			if (!known)
				goto fail;
		}
	}
	return dend;
fail:
	/* Every start inside the same local part meets the same marker. */
	c->email_fail_until = lend > p ? lend : p + 1;
	return 0;
}

/* ---- words: URLs, WeChat, QQ prefixes, plates ---- */

static const char *const url_keys[] = {
	"token", "access_token", "openid", "open_id", "unionid", "uid", "userid", "user_id",
	"user", "uname", "username", "phone", "mobile", "tel", "email", "mail", "sid",
	"session", "sessionid", "ticket", "auth", "key", "idcard", "sfz", "name", "wxid",
	"passport", "account", "acct", "sign", "signature",
};

static bool
url_char(unsigned char b)
{
	return b > 0x20 && b < 0x7F && b != '"' && b != '<' && b != '>' && b != '\\' &&
	       b != '^' && b != '`' && b != '{' && b != '|' && b != '}';
}

/* A URL at p; redacts it when it carries a personal token.  Returns end. */
static size_t
scan_url(struct rctx *c, size_t p)
{
	size_t q = p, alnum = 0, digits = 0, letters = 0;
	bool personal = false, in_query = false;

	while (q < c->n && url_char(c->s[q]))
		q++;
	c->work += q - p;
	while (q > p && strchr(".,;:!?)]'", c->s[q - 1]))
		q--;
	for (size_t i = p; i <= q; i++) {
		unsigned char b = i < q ? c->s[i] : '/';
		if (is_alnum(b) || b == '_' || b == '-') {
			alnum++;
			digits += is_digit(b);
			letters += is_alpha(b);
			if (digits >= 11 && letters == 0)
				personal = true; /* a phone or ID number in the path */
			continue;
		}
		/* end of a token: opaque mixed tokens are session or user ids */
		if (alnum >= 20 && digits >= 4 && letters >= 4)
			personal = true;
		alnum = digits = letters = 0;
		if (b == '?' || b == '&' || b == ';')
			in_query = true;
		if (in_query && (b == '?' || b == '&' || b == ';')) {
			size_t ks = i + 1, ke = ks;
			while (ke < q && c->s[ke] != '=' && c->s[ke] != '&')
				ke++;
			for (size_t k = 0; k < TL_ARRAY_LEN(url_keys); k++) {
				size_t l = strlen(url_keys[k]), j;
				if (l != ke - ks)
					continue;
				for (j = 0; j < l; j++)
					if (lower(c->s[ks + j]) != (unsigned char)url_keys[k][j])
						break;
				if (j == l)
					personal = true;
			}
		}
	}
	if (personal)
		add_span(c, p, q, REDACT_URL);
	return q;
}

static const char province_chars[] =
	"京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";

static bool
plate_letter(unsigned char b)
{
	b = (unsigned char)(b & ~32u);
	return b >= 'A' && b <= 'Z' && b != 'I' && b != 'O';
}

/* Province character before the letter at p (with an optional separator);
 * returns its offset or SIZE_MAX. */
static size_t
plate_province(const struct rctx *c, size_t p)
{
	size_t q = p;

	if (q >= 1 && c->s[q - 1] == ' ')
		q--;
	if (q < 3)
		return SIZE_MAX;
	for (size_t i = 0; i + 3 <= sizeof(province_chars) - 1; i += 3)
		if (memcmp(c->s + q - 3, province_chars + i, 3) == 0)
			return q - 3;
	return SIZE_MAX;
}

/* End of a plate whose letter is at p, or 0. */
static size_t
plate_end(const struct rctx *c, size_t p)
{
	static const char *const seps[] = { "·", "•", "・", " ", "-", "." };
	static const char *const tails[] = { "挂", "学", "警", "港", "澳", "领", "试", "超" };
	size_t q = p + 1, k = 0, s = q;

	if (!plate_letter(c->s[p]))
		return 0;
	for (size_t i = 0; i < TL_ARRAY_LEN(seps); i++)
		if (at(c, q, seps[i])) {
			q += strlen(seps[i]);
			break;
		}
	s = q;
	while (q < c->n && k < 6 && (is_digit(c->s[q]) || plate_letter(c->s[q]))) {
		q++;
		k++;
	}
	if (k == 4) {
		for (size_t i = 0; i < TL_ARRAY_LEN(tails); i++)
			if (at(c, q, tails[i]))
				return q + 3;
		return 0;
	}
	if (k < 5 || (q < c->n && is_alnum(c->s[q])))
		return 0;
	/* a serial is mostly digits; "津A·BCDEF" is not a plate */
	{
		size_t d = 0;
		for (size_t i = s; i < q; i++)
			d += is_digit(c->s[i]);
		if (d < 3)
			return 0;
	}
	return q;
}

static const char *const wechat_stop[] = {
	"wechat", "weixin", "gongzhonghao", "official", "account", "mp",
};

static bool
word_is(const struct rctx *c, size_t s, size_t e, const char *w)
{
	size_t l = strlen(w);

	if (e - s != l)
		return false;
	for (size_t i = 0; i < l; i++)
		if (lower(c->s[s + i]) != (unsigned char)w[i])
			return false;
	return true;
}

static size_t
scan_word(struct rctx *c, size_t p)
{
	size_t q = p, a = p, prov, pe;
	size_t letters = 0, digits = 0, other = 0;

	/* Licence plate: province character + letter + serial. */
	if ((prov = plate_province(c, p)) != SIZE_MAX && (pe = plate_end(c, p)) != 0) {
		static const char *const own_after[] = {
			"是我的", "是我家的", "是本人的", "（我的）", "(我的)", "是我自己的", "是我开的",
			"（本人）", "(本人)", "是我车",
		};
		bool own = kw_before(c, prov, 1u << KW_OWN, true, NULL) == KW_OWN;
		for (size_t i = 0; i < TL_ARRAY_LEN(own_after) && !own; i++)
			own = at(c, pe, own_after[i]) ||
			      (pe < c->n && c->s[pe] == ' ' && at(c, pe + 1, own_after[i]));
		if (own)
			add_span(c, prov, pe, REDACT_PLATE);
		return pe;
	}
	while (q < c->n && (is_alnum(c->s[q]) || c->s[q] == '_' || c->s[q] == '-')) {
		letters += is_alpha(c->s[q]);
		digits += is_digit(c->s[q]);
		other += !is_alnum(c->s[q]);
		q++;
	}
	c->work += q - p;
	while (q > p && c->s[q - 1] == '-')
		q--;
	if ((q - p >= 4 && word_is(c, p, p + 4, "http") && (at(c, p + 4, "://") || at(c, p + 4, "s://"))) ||
	    (q - p == 3 && word_is(c, p, q, "www") && at(c, q, ".")))
		return scan_url(c, p);
	if (q - p >= 9 && word_is(c, p, p + 5, "wxid_")) {
		add_span(c, p, q, REDACT_WECHAT);
		return q;
	}
	/* A WeChat OpenID ("o" + 27) is a stable pseudonym of the reporter. */
	if (q - p == 28 && c->s[p] == 'o' && digits >= 2 && letters >= 10) {
		add_span(c, p, q, REDACT_WECHAT);
		return q;
	}
	/* Letters glued to a number: "QQ123456789", "vx13800138000", "tel022…". */
	while (a < q && is_alpha(c->s[a]))
		a++;
	if (a < q && a - p <= 3 && other == 0) {
		size_t b = a;
		int ctx = -1, t;
		while (b < q && is_digit(c->s[b]))
			b++;
		if (b == q) {
			if (word_is(c, p, a, "qq") || word_is(c, p, a, "q"))
				ctx = KW_QQ;
			else if (word_is(c, p, a, "vx") || word_is(c, p, a, "wx") || word_is(c, p, a, "v"))
				ctx = KW_WECHAT;
			else if (word_is(c, p, a, "tel"))
				ctx = KW_PHONE;
			else if (word_is(c, p, a, "id") || word_is(c, p, a, "sfz"))
				ctx = KW_ID;
			if (ctx >= 0 && q - a <= 19) {
				t = classify((const char *)c->s + a, q - a, ctx, false, false);
				if (t >= 0)
					add_span(c, a, q, (enum redact_type)t);
				return q;
			}
		}
	}
	/* "我vxzhang_88": the keyword glued to the ID.  Only with a digit or
	 * '_' in the rest, so that English words starting "wx" stay. */
	if (q - p >= 8 && q - p <= 22 && (word_is(c, p, p + 2, "vx") || word_is(c, p, p + 2, "wx")) &&
	    is_alpha(c->s[p + 2]) && (p == 0 || !is_alpha(c->s[p - 1]))) {
		bool mark = false;
		for (size_t i = p + 2; i < q; i++)
			mark = mark || is_digit(c->s[i]) || c->s[i] == '_';
		if (mark) {
			add_span(c, p + 2, q, REDACT_WECHAT);
			return q;
		}
	}
	/* "My name is Chen Ming", "Reporter: Liu Yang" */
	if ((word_is(c, p, q, "name") && p >= 3 && word_is(c, p - 3, p - 1, "my") && at(c, q, " is ")) ||
	    (word_is(c, p, q, "reporter") && (at(c, q, ": ") || at(c, q, ":")))) {
		size_t r = q + (c->s[q] == ':' ? 1 : 4), e;
		if (r < c->n && c->s[r] == ' ')
			r++;
		if ((e = pinyin_name(c, r)) != 0) {
			add_span(c, r, e, REDACT_NAME);
			return e;
		}
	}
	/* A WeChat ID after its keyword. */
	if (is_alpha(c->s[p]) && q - p >= 6 && q - p <= 20) {
		bool stop = false;
		for (size_t i = 0; i < TL_ARRAY_LEN(wechat_stop); i++)
			stop = stop || word_is(c, p, q, wechat_stop[i]);
		if (!stop && kw_before(c, p, 1u << KW_WECHAT | 1u << KW_QQ | 1u << KW_PHONE, false, NULL) ==
		                 KW_WECHAT) {
			add_span(c, p, q, REDACT_WECHAT);
			return q;
		}
	}
	/* Unified social credit codes and order numbers mix letters and digits
	 * and stay; a mobile or ID number hidden inside a word does not. */
	if (!(q - p == 18 && letters > 0 && digits >= 8)) {
		for (size_t i = p; i < q;) {
			size_t j = i;
			while (j < q && is_digit(c->s[j]))
				j++;
			if (j > i) {
				const char *d = (const char *)c->s + i;
				bool xx = (j - i == 17 && j < q && (c->s[j] == 'X' || c->s[j] == 'x'));
				if (is_mobile(d, j - i))
					add_span(c, i, j, REDACT_MOBILE);
				else if (xx || (j - i == 18 && region_ok(d) && date_ok(d + 6, false) &&
				                idnum_check_ok(d)))
					add_span(c, i, j + xx, REDACT_ID18);
				i = j + 1;
			} else {
				i++;
			}
		}
	}
	return q > p ? q : p + 1;
}

/* ---- names ---- */

static const char surnames[] =
	"王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏"
	"吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱"
	"严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁"
	"尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时"
	"穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾"
	"隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝郜";
static const char *const compound_surnames[] = {
	"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
	"宇文", "令狐", "夏侯", "端木", "司徒", "南宫", "西门", "独孤",
};
/* Characters that cannot continue a given name: they end it. */
static const char name_stop[] =
	"的是在住了和也都不我你他她们这那啊呢吧吗哦嗯说给把被让叫姓名号年月日岁人某今男女于向就要从对已以曾";
/* Further words that follow a name in a self-introduction. */
static const char after_name[] = "举反居工目特家现身电手联系实想发来一先同老";
/* A name candidate with these is a place ("王庄村", "杨柳青镇"). */
static const char place_chars[] = "村庄镇乡街区县市路厂屯沽坨营港湾堡站寺洼里桥口河店园场";
/* Function words that follow 本人/我是 and happen to be surnames too. */
static const char not_after_trigger[] = "车于向常曾和从将经原明上下前后今也都就与对自多最还又才刚以因能会可要想已早晚并而但该此";

static bool
in_set(const char *set, size_t setlen, const unsigned char *ch, size_t l)
{
	uint32_t v;

	if (l != 3)
		return false;
	v = u24(ch);
	for (size_t i = 0; i + 3 <= setlen; i += 3)
		if (U24(set + i) == v)
			return true;
	return false;
}

#define IN(set, ch, l) in_set(set, sizeof(set) - 1, ch, l)

static bool
is_han(uint32_t cp)
{
	return cp >= 0x4E00 && cp <= 0x9FFF;
}

/* After a name: punctuation, space, ASCII, end, or a word that follows a
 * name in self-introductions. */
static bool
name_boundary(const struct rctx *c, size_t q)
{
	size_t l;
	uint32_t cp = cp_at(c, q, &l);

	if (q >= c->n || !is_han(cp))
		return true;
	return IN(name_stop, c->s + q, l) || IN(after_name, c->s + q, l);
}

enum name_mode { NAME_STRICT, NAME_LENIENT, NAME_SURNAME };

/* A name starting at q; returns its end or 0. */
static size_t
parse_name(struct rctx *c, size_t q, enum name_mode mode)
{
	size_t l, sl = 0, r, ends[3], ne = 0;
	uint32_t cp;
	static const char *const titles[] = { "先生", "女士", "小姐", "师傅", "老师", "大姐", "大哥" };

	/* "老张", "小王": a surname alone, only if nothing follows it */
	if ((at(c, q, "老") || at(c, q, "小")) && IN(surnames, c->s + q + 3, 3) &&
	    name_boundary(c, q + 6) && mode != NAME_SURNAME)
		return q + 6;
	for (size_t i = 0; i < TL_ARRAY_LEN(compound_surnames); i++)
		if (at(c, q, compound_surnames[i]))
			sl = 6;
	cp = cp_at(c, q, &l);
	if (!sl && is_han(cp) && IN(surnames, c->s + q, l))
		sl = 3;
	if (!sl)
		return 0;
	if (mode != NAME_LENIENT && sl == 3 && IN(not_after_trigger, c->s + q, 3))
		return 0;
	r = q + sl;
	if (mode == NAME_SURNAME)
		return r;
	for (size_t i = 0; i < TL_ARRAY_LEN(titles); i++)
		if (at(c, r, titles[i]))
			return r; /* "王先生": the surname goes, the title stays */
	for (int k = 0; k < 2; k++) {
		cp = cp_at(c, r, &l);
		c->work++;
		if (r >= c->n || !is_han(cp) || IN(name_stop, c->s + r, l))
			break;
		if (IN(place_chars, c->s + r, l))
			return 0;
		r += l;
		ends[ne++] = r;
	}
	if (ne == 0)
		return 0;
	/* a place name right after ("王庄村" seen as 王庄 + 村) */
	if (r < c->n && IN(place_chars, c->s + r, 3) && c->s[r] >= 0x80)
		return 0;
	if (mode == NAME_STRICT) {
		while (ne > 0 && !name_boundary(c, ends[ne - 1]))
			ne--;
		if (ne == 0)
			return 0;
	}
	return ends[ne - 1];
}

/* Skips ":", "：", spaces and "是/叫/为/系" between a trigger and the name;
 * *colon tells whether an explicit label separator was seen. */
static size_t
skip_fillers(const struct rctx *c, size_t q, bool *colon)
{
	for (int k = 0; k < 4 && q < c->n; k++) {
		if (c->s[q] == ':' || c->s[q] == ' ') {
			*colon = *colon || c->s[q] == ':';
			q++;
		} else if (at(c, q, "：")) {
			*colon = true;
			q += 3;
		} else if (at(c, q, "是") || at(c, q, "叫") || at(c, q, "为") || at(c, q, "系")) {
			q += 3;
		} else if (at(c, q, "姓名")) {
			*colon = true;
			q += 6;
		} else if (at(c, q, "自称")) {
			q += 6; /* 来电人自称王建平 */
		} else if ((at(c, q, "（") || c->s[q] == '(') && k == 0) {
			/* "举报人（实名）：": a short remark in brackets */
			size_t r = q + (c->s[q] == '(' ? 1 : 3), lim = r + 15;
			while (r < c->n && r < lim && !at(c, r, "）") && c->s[r] != ')')
				r++;
			if (r >= c->n || r >= lim)
				break;
			q = r + (c->s[r] == ')' ? 1 : 3);
		} else {
			break;
		}
	}
	return q;
}

/* A name in pinyin at q ("Wang Jianguo"); returns its end or 0. */
static size_t
pinyin_name(const struct rctx *c, size_t q)
{
	size_t r = q, words = 0, last = q;

	while (words < 3 && r < c->n && c->s[r] >= 'A' && c->s[r] <= 'Z') {
		r++;
		while (r < c->n && c->s[r] >= 'a' && c->s[r] <= 'z')
			r++;
		words++;
		last = r;
		if (r < c->n && c->s[r] == ' ' && r + 1 < c->n && c->s[r + 1] >= 'A' && c->s[r + 1] <= 'Z')
			r++;
		else
			break;
	}
	if (last - q >= 2 && last - q <= 40 && !(last < c->n && is_alnum(c->s[last])))
		return last;
	return 0;
}

/* True at q if a name may end here in a self-introduction that names the
 * reporter in passing: punctuation, a space, a line end or the end. */
static bool
name_end_punct(const struct rctx *c, size_t q)
{
	return q >= c->n || c->s[q] == ',' || c->s[q] == '.' || c->s[q] == ' ' || c->s[q] == '\n' ||
	       c->s[q] == '\r' || at(c, q, "，") || at(c, q, "。") || at(c, q, "、") || at(c, q, "！");
}

/*
 * "我是静海区大邱庄镇的村民田宝山，…", "我是网格员刘艳，…": the reporter
 * describes themselves first and gives the name at the end of the clause.
 * Looks ahead from q, within the clause and a bounded window, for "的" or
 * a role word, and takes a name right after it that ends the clause.
 */
static size_t
name_after_role(struct rctx *c, size_t q, size_t *ns)
{
	static const char *const roles[] = {
		"村民", "居民", "市民", "老师", "教师", "网格员", "职工", "工人", "员工", "调度",
		"司机", "农民", "党员", "代表", "医生", "退休工人", "业主", "群众",
	};
	/* first characters of the roles: a cheap filter before the list */
	static const char role_first[] = "村居市老教网职工员调司农党代医退业群";
	size_t lim = q + 72 < c->n ? q + 72 : c->n;

	for (size_t r = q; r < lim;) {
		size_t l, after = 0, e;
		cp_at(c, r, &l);
		c->work++;
		if (l == 0 || clause_break_before(c, r + l, true) || c->s[r] == ':')
			return 0;
		if (l != 3) {
			r += l;
			continue;
		}
		if (at(c, r, "："))
			return 0;
		if (at(c, r, "的"))
			after = r + 3;
		else if (IN(role_first, c->s + r, 3))
			for (size_t i = 0; i < TL_ARRAY_LEN(roles) && !after; i++)
				if (at(c, r, roles[i]))
					after = r + strlen(roles[i]);
		if (after) {
			/* lenient: the role word already says a person follows,
			 * so 于海洋 is a name here, not the preposition 于 */
			e = parse_name(c, after, NAME_LENIENT);
			if (e && name_end_punct(c, e)) {
				*ns = after;
				return e;
			}
		}
		r += l;
	}
	return 0;
}

static size_t
scan_name(struct rctx *c, size_t p)
{
	size_t q = p + 3, e;
	enum name_mode mode = NAME_STRICT;
	bool colon = false;
	const unsigned char *t = c->s + p;

	if (!memcmp(t, "叫", 3)) {
		/* "免贵姓杨，叫杨树林": a comma right after a self-given surname */
		/* also "我姓张，弓长张，叫张德华" */
		bool after_self = c->nsp > 0 && c->sp[c->nsp - 1].type == REDACT_NAME &&
		                  (ends_with(c, p, "，") || ends_with(c, p, ",")) &&
		                  p - c->sp[c->nsp - 1].end <= 18;
		/* "你叫我老王就行" */
		if (at(c, q, "我") && (at(c, q + 3, "老") || at(c, q + 3, "小")) &&
		    (e = parse_name(c, q + 3, NAME_LENIENT)) != 0 && e == q + 9) {
			add_span(c, q + 3, e, REDACT_NAME);
			return e;
		}
		/* a nickname (小名叫王二) is someone else's, usually the boss's */
		if (ends_with(c, p, "小名") || ends_with(c, p, "外号") || ends_with(c, p, "绰号"))
			return 0;
		if (!(ends_with(c, p, "我") || ends_with(c, p, "俺") || ends_with(c, p, "名字") ||
		      ends_with(c, p, "本人") || ends_with(c, p, "名") || after_self))
			return 0;
		mode = NAME_LENIENT;
	} else if (!memcmp(t, "人", 3)) {
		if (!(ends_with(c, p, "本") || ends_with(c, p, "举报") || ends_with(c, p, "联系") ||
		      ends_with(c, p, "来电") || ends_with(c, p, "投诉") || ends_with(c, p, "反映") ||
		      ends_with(c, p, "申领") || ends_with(c, p, "申请") || ends_with(c, p, "收款") ||
		      ends_with(c, p, "开户")))
			return 0;
		if (ends_with(c, p, "本") && ends_with(c, p - 3, "日"))
			return 0; /* 日本人 */
	} else if (!memcmp(t, "是", 3)) {
		if (ends_with(c, p, "名字") || ends_with(c, p, "姓名"))
			mode = NAME_LENIENT;
		else if (!ends_with(c, p, "我") || ends_with(c, p, "自我"))
			return 0;
	} else if (!memcmp(t, "名", 3)) {
		if (!(ends_with(c, p, "姓") || ends_with(c, p, "署") || ends_with(c, p, "户")))
			return 0; /* 姓名, 署名, 户名/开户名 */
		mode = NAME_LENIENT;
	} else if (!memcmp(t, "款", 3)) {
		if (!ends_with(c, p, "落"))
			return 0; /* 落款：林晓燕 */
		mode = NAME_LENIENT;
	} else if (!memcmp(t, "我", 3)) {
		/* "我张三，在…": only at the start of a clause, a name followed by
		 * punctuation, and not "我方/我们/我家…". */
		static const char not_after_wo[] = "方们家国司市区校厂单局院部所村镇省爸妈哥姐弟妹爱老儿女";
		size_t l2;
		if (p > 0 && !clause_break_before(c, p, true) && !ends_with(c, p, "：") &&
		    !ends_with(c, p, ":") && !ends_with(c, p, " ") && !ends_with(c, p, "，"))
			return 0;
		if (IN(not_after_wo, c->s + q, 3))
			return 0;
		e = parse_name(c, q, NAME_STRICT);
		if (!e)
			return 0;
		cp_at(c, e, &l2);
		if (!(at(c, e, "，") || at(c, e, ",") || at(c, e, " ") || at(c, e, "。")))
			return 0;
		add_span(c, q, e, REDACT_NAME);
		return e;
	} else if (!memcmp(t, "姓", 3)) {
		if (!(ends_with(c, p, "我") || ends_with(c, p, "本人") || ends_with(c, p, "免贵")) ||
		    at(c, q, "名"))
			return 0;
		mode = NAME_SURNAME;
	} else {
		return 0;
	}
	q = skip_fillers(c, q, &colon);
	if (colon && mode == NAME_STRICT)
		mode = NAME_LENIENT;
	if (mode == NAME_LENIENT && q < c->n && c->s[q] >= 'A' && c->s[q] <= 'Z' &&
	    (e = pinyin_name(c, q)) != 0) {
		add_span(c, q, e, REDACT_NAME);
		return e;
	}
	e = parse_name(c, q, mode);
	if (!e && (!memcmp(t, "是", 3) || (!memcmp(t, "人", 3) && ends_with(c, p, "本"))) &&
	    mode == NAME_STRICT) {
		size_t ns;
		/* "我是赵，赵钱孙李的赵": the surname alone */
		if (!memcmp(t, "是", 3) && IN(surnames, c->s + q, 3) &&
		    !IN(not_after_trigger, c->s + q, 3) && name_end_punct(c, q + 3) && q + 3 < c->n &&
		    c->s[q + 3] != ' ') {
			add_span(c, q, q + 3, REDACT_NAME);
			return q + 3;
		}
		if ((e = name_after_role(c, q, &ns)) != 0) {
			add_span(c, ns, e, REDACT_NAME);
			return e;
		}
		return 0;
	}
	if (!e)
		return 0;
	add_span(c, q, e, REDACT_NAME);
	return e;
}

/*
 * A signature: a line holding only a name, right after a line that closes
 * a letter ("--", "——", "此致敬礼", "Best regards,").  Returns the end of
 * the name or 0.  Looks at a bounded stretch on either side.
 */
static size_t
signature_name(struct rctx *c, size_t q)
{
	static const char *const closers[] = {
		"--", "——", "—", "敬礼！", "敬礼!", "敬礼", "此致敬礼", "此致", "best regards,",
		"regards,", "best regards", "thanks,", "谢谢！", "谢谢",
	};
	size_t ls = q - 1, e;
	bool closer = false;
	unsigned char last;

	/* the previous line, without trailing spaces */
	while (ls > 0 && c->s[ls - 1] == ' ')
		ls--;
	/* most lines end in none of the closers' last bytes: - — ！ ! 礼 致 , s 谢 */
	last = ls > 0 ? c->s[ls - 1] : 0;
	if (!(last == '-' || last == '!' || last == ',' || last == 's' || last >= 0x80))
		return 0;
	if (last >= 0x80 && !(ends_with(c, ls, "—") || ends_with(c, ls, "！") ||
	                      ends_with(c, ls, "礼") || ends_with(c, ls, "致") || ends_with(c, ls, "谢")))
		return 0;
	for (size_t i = 0; i < TL_ARRAY_LEN(closers) && !closer; i++) {
		size_t l = strlen(closers[i]);
		if (ls >= l && (ls == l || c->s[ls - l - 1] == '\n' || c->s[ls - l - 1] == ' ') &&
		    word_is(c, ls - l, ls, closers[i]))
			closer = true;
	}
	c->work += 8;
	if (!closer)
		return 0;
	while (q < c->n && c->s[q] == ' ')
		q++;
	if (q < c->n && c->s[q] >= 'A' && c->s[q] <= 'Z')
		e = pinyin_name(c, q);
	else
		e = parse_name(c, q, NAME_LENIENT);
	if (!e || !(e >= c->n || c->s[e] == '\n' || c->s[e] == '\r' || c->s[e] == ' '))
		return 0;
	add_span(c, q, e, REDACT_NAME);
	return e;
}

/*
 * A name the reporter gave once ("我叫刘志远") is theirs wherever it occurs
 * again, in a signature or a later sentence.  Run only when a name was
 * found: strstr finds the occurrences of at most NREPEAT names (each list
 * comes out sorted), and one merge folds them into the sorted span list.
 * The text is NUL-free after norm_run, so strstr sees all of it.
 */
#define NREPEAT 4

static void
repeat_names(struct rctx *c)
{
	char nm[NREPEAT][41];
	size_t nl[NREPEAT], nn = 0, nsp = c->nsp, nhits = 0, k = 0, ne = 0;
	size_t cur[NREPEAT], off[NREPEAT + 1];
	size_t *hits = NULL;
	struct redact_span *out = NULL;

	for (size_t i = 0; i < nsp && nn < NREPEAT; i++) {
		size_t l = c->sp[i].end - c->sp[i].start;
		bool dup = false;
		if (c->sp[i].type != REDACT_NAME || l < 5 || l > 40)
			continue;
		for (size_t j = 0; j < nn; j++)
			dup = dup || (nl[j] == l && !memcmp(nm[j], c->s + c->sp[i].start, l));
		if (!dup) {
			memcpy(nm[nn], c->s + c->sp[i].start, l);
			nm[nn][l] = '\0';
			nl[nn++] = l;
		}
	}
	if (nn == 0)
		return;
	/* pass 1 counts, pass 2 stores: no reallocation */
	for (int pass = 0; pass < 2; pass++) {
		size_t h = 0;
		for (size_t j = 0; j < nn; j++) {
			const char *f = (const char *)c->s;
			off[j] = h;
			while ((f = strstr(f, nm[j])) != NULL) {
				size_t at_ = (size_t)(f - (const char *)c->s), e = at_ + nl[j];
				/* ASCII names only as whole words */
				if (nm[j][0] & 0x80 ||
				    ((at_ == 0 || !is_alnum(c->s[at_ - 1])) && (e >= c->n || !is_alnum(c->s[e])))) {
					if (pass)
						hits[h] = at_;
					h++;
				}
				f += nl[j];
			}
		}
		off[nn] = h;
		c->work += c->n * nn / 16 + h;
		if (pass == 0) {
			nhits = h;
			if (h == 0)
				return;
			hits = malloc(h * sizeof(*hits));
			out = malloc((nsp + h) * sizeof(*out));
			if (!hits || !out) {
				free(hits);
				free(out);
				c->err = TL_ENOMEM;
				return;
			}
		}
	}
	for (size_t j = 0; j < nn; j++)
		cur[j] = off[j];
	for (;;) {
		size_t best = SIZE_MAX, bj = 0;
		for (size_t j = 0; j < nn; j++)
			if (cur[j] < off[j + 1] && hits[cur[j]] < best) {
				best = hits[cur[j]];
				bj = j;
			}
		if (k < nsp && c->sp[k].start <= best) {
			out[ne++] = c->sp[k++];
			continue;
		}
		if (best == SIZE_MAX)
			break;
		cur[bj]++;
		c->work++;
		/* skip occurrences inside a span already there */
		if ((ne > 0 && out[ne - 1].end > best) || (k < nsp && c->sp[k].start < best + nl[bj]))
			continue;
		out[ne].start = best;
		out[ne].end = best + nl[bj];
		out[ne].type = REDACT_NAME;
		ne++;
	}
	(void)nhits;
	free(hits);
	free(c->sp);
	c->sp = out;
	c->nsp = ne;
	c->cap = nsp + nhits;
}

/* ---- driver ---- */

static void
scan(struct rctx *c)
{
	size_t p = 0;

	while (p < c->n && !c->err) {
		unsigned char b = c->s[p];
		size_t e;

		c->work++;
		if (b < 0x80) {
			if (is_alnum(b)) {
				if ((e = try_email(c, p)) != 0) {
					/* A government mailbox (jubao@tj.gov.cn) is where the
					 * tip was sent, not who sent it. */
					if (!(e - p > 7 && word_is(c, e - 7, e, ".gov.cn")))
						add_span(c, p, e, REDACT_EMAIL);
					p = e;
				} else if (is_digit(b)) {
					p = scan_number(c, p);
				} else {
					p = scan_word(c, p);
				}
			} else if ((b == '+' || b == '(') && p + 1 < c->n && is_digit(c->s[p + 1]) &&
			           (b == '+' || c->s[p + 1] == '0')) {
				p = scan_number(c, p);
			} else if (b == '(' && at(c, p + 1, "+86")) {
				p = scan_number(c, p); /* "(+86)138…" */
			} else if (b == '\n' && (e = signature_name(c, p + 1)) != 0) {
				p = e;
			} else {
				p++;
			}
			continue;
		}
		if (b == 0xEF && at(c, p, "（") && p + 3 < c->n && c->s[p + 3] == '0') {
			p = scan_number(c, p);
			continue;
		}
		/* Name triggers 叫 人 是 名 姓 我 款 all have lead byte E4..E6. */
		if (b >= 0xE4 && b <= 0xE6 && p + 3 <= c->n) {
			uint32_t v = u24(c->s + p);
			if (v != U24("叫") && v != U24("人") && v != U24("我") && v != U24("是") &&
			    v != U24("名") && v != U24("姓") && v != U24("款"))
				goto next;
			if ((e = scan_name(c, p)) != 0) {
				p = e;
				continue;
			}
		}
	next:
		if (b < 0xE0)
			p += 2;
		else if (b < 0xF0)
			p += 3;
		else
			p += 4;
	}
}

enum tl_err
redact_text_counted(const char *in, size_t len, struct redact_result *out, uint64_t *work)
{
	struct norm_text nt;
	struct rctx c;
	enum tl_err e;
	size_t olen, k = 0, prev = 0;
	char *o = NULL;

	if (!out || (!in && len))
		return TL_EINVAL;
	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	if ((e = norm_run(in, len, NORM_SPOKEN_DIGITS, &nt)) != TL_OK)
		return e;
	c.s = (const unsigned char *)nt.s;
	c.n = nt.len;
	c.work = nt.len; /* the normalisation pass */
	scan(&c);
	if (!c.err)
		repeat_names(&c);
	if (c.err) {
		e = c.err;
		goto fail;
	}

	olen = c.n;
	for (size_t i = 0; i < c.nsp; i++) {
		olen -= c.sp[i].end - c.sp[i].start;
		olen += strlen(placeholders[c.sp[i].type]);
	}
	if (!(o = malloc(olen + 1))) {
		e = TL_ENOMEM;
		goto fail;
	}
	out->len = 0;
	for (size_t i = 0; i < c.nsp; i++) {
		struct redact_span *s = &c.sp[i];
		const char *ph = placeholders[s->type];
		size_t pl = strlen(ph);

		memcpy(o + out->len, nt.s + prev, s->start - prev);
		out->len += s->start - prev;
		memcpy(o + out->len, ph, pl);
		out->len += pl;
		prev = s->end;
		out->counts[s->type]++;
		s->start = norm_to_orig_seq(&nt, &k, s->start);
		s->end = norm_to_orig_seq(&nt, &k, s->end);
	}
	memcpy(o + out->len, nt.s + prev, c.n - prev);
	out->len += c.n - prev;
	o[out->len] = '\0';
	out->text = o;
	out->spans = c.sp;
	out->nspans = c.nsp;
	if (work)
		*work = c.work;
	free(c.g);
	norm_free(&nt);
	return TL_OK;
fail:
	free(o);
	free(c.sp);
	free(c.g);
	norm_free(&nt);
	memset(out, 0, sizeof(*out));
	return e;
}

enum tl_err
redact_text(const char *in, size_t len, struct redact_result *out)
{
	return redact_text_counted(in, len, out, NULL);
}

void
redact_result_free(struct redact_result *r)
{
	if (!r)
		return;
	free(r->text);
	free(r->spans);
	memset(r, 0, sizeof(*r));
}
