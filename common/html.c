/*
 * html.c - see html.h.  The template compiler tracks just enough of the
 * HTML tokenizer (WHATWG "data", "tag", "attribute value", "comment" and
 * "rawtext" states) to know what kind of text each placeholder lands in;
 * it does not build a DOM and does not try to fix bad markup.
 */
#include "compat.h"
#include "html.h"
#include "utf8.h"

#include <ctype.h>
#include <sodium.h>
#include <strings.h>

#define FFFD "\xEF\xBF\xBD"

/* ---- escaping ---- */

/* Bytes that pass through unchanged in both element content and quoted
 * attribute values: printable ASCII except the five specials, plus tab and
 * line breaks (which matter in <textarea> and <pre>). */
static bool
plain_byte(unsigned char c)
{
	if (c == '\t' || c == '\n' || c == '\r')
		return true;
	if (c < 0x20 || c >= 0x7f)
		return false;
	return c != '&' && c != '<' && c != '>' && c != '"' && c != '\'';
}

enum tl_err
html_escape(struct buf *out, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run, j;
	enum tl_err e = TL_OK;

	while (i < len) {
		run = i;
		while (i < len && plain_byte(u[i]))
			i++;
		if (i > run && (e = buf_append(out, s + run, i - run)) != TL_OK)
			return e;
		if (i >= len)
			break;
		switch (u[i]) {
		case '\0': /* dropped: NUL has no business in a page */
			i++;
			continue;
		case '&': e = buf_append_str(out, "&amp;"); i++; break;
		case '<': e = buf_append_str(out, "&lt;"); i++; break;
		case '>': e = buf_append_str(out, "&gt;"); i++; break;
		case '"': e = buf_append_str(out, "&quot;"); i++; break;
		case '\'': e = buf_append_str(out, "&#39;"); i++; break;
		default:
			if (u[i] < 0x80) { /* other C0 controls and DEL */
				e = buf_append_str(out, FFFD);
				i++;
				break;
			}
			j = i;
			if (utf8_next(s, len, &j) < 0)
				e = buf_append_str(out, FFFD); /* j advanced by one */
			else
				e = buf_append(out, s + i, j - i);
			i = j;
			break;
		}
		if (e != TL_OK)
			return e;
	}
	return TL_OK;
}

enum tl_err
html_append_raw(struct buf *out, const char *trusted)
{
	return buf_append_str(out, trusted ? trusted : "");
}

static bool
prefix_ci(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);

	return len >= n && strncasecmp(s, p, n) == 0;
}

bool
html_url_allowed(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	if (len == 0)
		return false;
	/* Browsers strip or ignore controls and spaces inside schemes
	 * ("java\tscript:"), and treat '\' like '/' ("/\evil" = "//evil"). */
	for (size_t i = 0; i < len; i++)
		if (u[i] <= 0x20 || u[i] == 0x7f || u[i] == '\\')
			return false;
	if (prefix_ci(s, len, "https://") || prefix_ci(s, len, "http://"))
		return len > (s[4] == ':' ? 7u : 8u);
	if (s[0] == '/')
		return len == 1 || s[1] != '/'; /* "//host" leaves the site */
	/* Relative: allowed only when no ':' comes before the first '/', '?'
	 * or '#', i.e. there is no scheme at all. */
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '/' || s[i] == '?' || s[i] == '#')
			return true;
		if (s[i] == ':')
			return false;
	}
	return true;
}

enum tl_err
html_url_component(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, j;
	enum tl_err e;

	while (i < len) {
		unsigned char c = u[i];
		if (isalnum(c) && c < 0x80) {
			e = buf_append_char(out, (char)c);
			i++;
		} else if (c == '-' || c == '.' || c == '_' || c == '~') {
			e = buf_append_char(out, (char)c);
			i++;
		} else if (c == 0) {
			e = TL_OK;
			i++;
		} else {
			j = i;
			if (c >= 0x80 && utf8_next(s, len, &j) < 0) {
				e = buf_append_str(out, "%EF%BF%BD");
			} else {
				if (c < 0x80)
					j = i + 1;
				e = TL_OK;
				for (size_t k = i; k < j && e == TL_OK; k++) {
					char pct[3] = { '%', hex[u[k] >> 4], hex[u[k] & 15] };
					e = buf_append(out, pct, 3);
				}
			}
			i = j;
		}
		if (e != TL_OK)
			return e;
	}
	return TL_OK;
}

/* ---- variables ---- */

enum entry_kind { E_VALUE, E_LIST };

struct html_entry {
	struct html_entry *next;
	enum entry_kind kind;
	char *name;
	char *val; /* E_VALUE: NUL-terminated copy */
	size_t len;
	struct html_vars *rows, *last; /* E_LIST */
	size_t nrows;
};

struct html_vars {
	struct html_vars *parent; /* NULL for the root */
	struct html_vars *root;
	struct html_vars *next;   /* next row of the same list */
	struct html_entry *head;
	size_t used, max;         /* root only */
};

static bool
name_ok(const char *n, size_t len)
{
	if (len == 0 || len > HTML_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(isalnum((unsigned char)n[i]) && (unsigned char)n[i] < 0x80) && n[i] != '_')
			return false;
	return true;
}

static enum tl_err
charge(struct html_vars *v, size_t n)
{
	struct html_vars *r = v->root;

	if (n > r->max || r->used > r->max - n)
		return TL_ETOOBIG;
	r->used += n;
	return TL_OK;
}

enum tl_err
html_vars_new(size_t max_bytes, struct html_vars **out)
{
	struct html_vars *v = calloc(1, sizeof(*v));

	*out = NULL;
	if (!v)
		return TL_ENOMEM;
	v->root = v;
	v->max = max_bytes;
	*out = v;
	return TL_OK;
}

static void vars_free_scope(struct html_vars *v);

static void
entry_free(struct html_entry *en)
{
	struct html_vars *r, *rn;

	if (en->val) {
		/* Pages show case data: do not leave it in freed heap. */
		sodium_memzero(en->val, en->len);
		free(en->val);
	}
	for (r = en->rows; r; r = rn) {
		rn = r->next;
		vars_free_scope(r);
	}
	free(en->name);
	free(en);
}

static void
vars_free_scope(struct html_vars *v)
{
	struct html_entry *en, *nx;

	for (en = v->head; en; en = nx) {
		nx = en->next;
		entry_free(en);
	}
	free(v);
}

void
html_vars_free(struct html_vars *root)
{
	if (root)
		vars_free_scope(root);
}

static struct html_entry *
find_local(const struct html_vars *v, const char *name, size_t nlen)
{
	for (struct html_entry *en = v->head; en; en = en->next)
		if (strlen(en->name) == nlen && memcmp(en->name, name, nlen) == 0)
			return en;
	return NULL;
}

/* Checks the name and charges the entry plus extra bytes to the root before
 * allocating anything, so that a refused set leaves the scope unchanged. */
static enum tl_err
new_entry(struct html_vars *v, const char *name, enum entry_kind kind, size_t extra,
          struct html_entry **out)
{
	struct html_entry *en;
	size_t nlen = strlen(name);
	enum tl_err e;

	if (!name_ok(name, nlen))
		return TL_EINVAL;
	if (find_local(v, name, nlen))
		return TL_EEXIST;
	if (extra > SIZE_MAX / 2 || (e = charge(v, sizeof(*en) + nlen + 1 + extra)) != TL_OK)
		return TL_ETOOBIG;
	if (!(en = calloc(1, sizeof(*en))) || !(en->name = strdup(name))) {
		free(en);
		return TL_ENOMEM;
	}
	if (kind == E_VALUE && !(en->val = malloc(extra))) {
		free(en->name);
		free(en);
		return TL_ENOMEM;
	}
	en->kind = kind;
	en->next = v->head;
	v->head = en;
	*out = en;
	return TL_OK;
}

enum tl_err
html_vars_setn(struct html_vars *v, const char *name, const char *value, size_t len)
{
	struct html_entry *en;
	enum tl_err e;

	if (!v || !name || (!value && len))
		return TL_EINVAL;
	if (len >= SIZE_MAX / 2)
		return TL_ETOOBIG;
	if ((e = new_entry(v, name, E_VALUE, len + 1, &en)) != TL_OK)
		return e;
	if (len)
		memcpy(en->val, value, len);
	en->val[len] = '\0';
	en->len = len;
	return TL_OK;
}

enum tl_err
html_vars_set(struct html_vars *v, const char *name, const char *value)
{
	return html_vars_setn(v, name, value ? value : "", value ? strlen(value) : 0);
}

enum tl_err
html_vars_setf(struct html_vars *v, const char *name, const char *fmt, ...)
{
	char tmp[4096]; /* formatted values are small: numbers, dates, amounts */
	va_list ap;
	enum tl_err e;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		e = TL_ETOOBIG;
	else
		e = html_vars_setn(v, name, tmp, (size_t)n);
	sodium_memzero(tmp, sizeof(tmp));
	return e;
}

enum tl_err
html_vars_set_bool(struct html_vars *v, const char *name, bool on)
{
	return html_vars_set(v, name, on ? "1" : "");
}

enum tl_err
html_vars_list(struct html_vars *v, const char *list)
{
	struct html_entry *en;

	if (!v || !list)
		return TL_EINVAL;
	en = find_local(v, list, strlen(list));
	if (en)
		return en->kind == E_LIST ? TL_OK : TL_EEXIST;
	return new_entry(v, list, E_LIST, 0, &en);
}

enum tl_err
html_vars_add_row(struct html_vars *v, const char *list, struct html_vars **row)
{
	struct html_entry *en;
	struct html_vars *r;
	enum tl_err e;

	*row = NULL;
	if ((e = html_vars_list(v, list)) != TL_OK)
		return e;
	en = find_local(v, list, strlen(list));
	if ((e = charge(v, sizeof(*r))) != TL_OK)
		return e;
	if (!(r = calloc(1, sizeof(*r))))
		return TL_ENOMEM;
	r->parent = v;
	r->root = v->root;
	if (en->last)
		en->last->next = r;
	else
		en->rows = r;
	en->last = r;
	en->nrows++;
	*row = r;
	return TL_OK;
}

/* Mustache scoping: the innermost row first, then the scopes around it. */
static const struct html_entry *
lookup(const struct html_vars *v, const char *name, size_t nlen)
{
	for (; v; v = v->parent) {
		const struct html_entry *en = find_local(v, name, nlen);
		if (en)
			return en;
	}
	return NULL;
}

/* ---- templates ---- */

enum node_kind { N_TEXT, N_VAR, N_SECTION, N_INVERTED, N_END };
enum ctx { CTX_NONE, CTX_TEXT, CTX_ATTR, CTX_URL_START, CTX_URL_PART };

struct node {
	enum node_kind kind;
	enum ctx ctx;
	size_t off, len; /* literal text, or the tag's name, in t->src */
	size_t match;    /* N_SECTION/N_INVERTED: index of the N_END */
};

struct html_tmpl {
	char *src;
	struct node *nodes;
	size_t n;
};

/* Tokenizer states (a subset of the WHATWG ones; see file comment). */
enum st {
	S_DATA, S_TAG_OPEN, S_TAG_NAME, S_END_TAG, S_BEFORE_ATTR, S_ATTR_NAME, S_AFTER_ATTR_NAME,
	S_BEFORE_VALUE, S_VALUE_DQ, S_VALUE_SQ, S_VALUE_UNQ, S_MARKUP, S_COMMENT, S_BOGUS, S_RAWTEXT,
};

enum attr_class { A_PLAIN, A_URL, A_FORBIDDEN };

struct tok {
	enum st st;
	char tag[16];   /* current start tag name, lower case, truncated */
	size_t taglen;
	bool end_tag;
	char attr[24];  /* current attribute name, lower case, truncated */
	size_t attrlen;
	bool attr_long; /* name did not fit: treated as forbidden */
	size_t vallen;  /* characters of the current attribute value so far */
	char raw[8];    /* "script" or "style" while in S_RAWTEXT */
	size_t rawmatch;/* progress through "</" raw in S_RAWTEXT */
	size_t dashes;  /* for "-->" and "<!--" */
};

static enum attr_class
attr_class(const struct tok *k)
{
	static const char *const url[] = { "href", "src", "action", "formaction", "cite", "poster",
	                                   "background", "data", "codebase", "xlink:href", "ping",
	                                   "manifest", "icon", "longdesc", "usemap", "lowsrc" };
	static const char *const bad[] = { "style", "srcdoc", "srcset", "http-equiv", "content" };

	if (k->attr_long || k->attrlen < 1)
		return A_FORBIDDEN;
	if (k->attrlen >= 2 && k->attr[0] == 'o' && k->attr[1] == 'n')
		return A_FORBIDDEN; /* event handlers are script */
	for (size_t i = 0; i < TL_ARRAY_LEN(bad); i++)
		if (strcmp(k->attr, bad[i]) == 0)
			return A_FORBIDDEN;
	for (size_t i = 0; i < TL_ARRAY_LEN(url); i++)
		if (strcmp(k->attr, url[i]) == 0)
			return A_URL;
	return A_PLAIN;
}

static void
tag_end(struct tok *k)
{
	if (!k->end_tag && (strcmp(k->tag, "script") == 0 || strcmp(k->tag, "style") == 0)) {
		memcpy(k->raw, k->tag, strlen(k->tag) + 1); /* "script" or "style" */
		k->rawmatch = 0;
		k->st = S_RAWTEXT;
	} else {
		k->st = S_DATA;
	}
}

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static void
attr_start(struct tok *k, char c)
{
	k->attrlen = 0;
	k->attr_long = false;
	k->attr[0] = '\0';
	k->vallen = 0;
	if (c) {
		k->attr[k->attrlen++] = (char)tolower((unsigned char)c);
		k->attr[k->attrlen] = '\0';
	}
	k->st = S_ATTR_NAME;
}

static void
attr_push(struct tok *k, char c)
{
	if (k->attrlen + 1 >= sizeof(k->attr)) {
		k->attr_long = true;
		return;
	}
	k->attr[k->attrlen++] = (char)tolower((unsigned char)c);
	k->attr[k->attrlen] = '\0';
}

/* Feeds one byte of literal template text to the tokenizer. */
static void
tok_feed(struct tok *k, char c)
{
	switch (k->st) {
	case S_DATA:
		if (c == '<')
			k->st = S_TAG_OPEN;
		break;
	case S_TAG_OPEN:
		if (isalpha((unsigned char)c)) {
			k->end_tag = false;
			k->taglen = 0;
			k->tag[k->taglen++] = (char)tolower((unsigned char)c);
			k->tag[k->taglen] = '\0';
			k->st = S_TAG_NAME;
		} else if (c == '/') {
			k->end_tag = true;
			k->taglen = 0;
			k->tag[0] = '\0';
			k->st = S_END_TAG;
		} else if (c == '!') {
			k->dashes = 0;
			k->st = S_MARKUP;
		} else if (c == '?') {
			k->st = S_BOGUS;
		} else {
			k->st = c == '<' ? S_TAG_OPEN : S_DATA;
		}
		break;
	case S_TAG_NAME:
		if (is_ws(c) || c == '/')
			k->st = S_BEFORE_ATTR;
		else if (c == '>')
			tag_end(k);
		else if (k->taglen + 1 < sizeof(k->tag)) {
			k->tag[k->taglen++] = (char)tolower((unsigned char)c);
			k->tag[k->taglen] = '\0';
		}
		break;
	case S_END_TAG:
		if (c == '>')
			k->st = S_DATA;
		break;
	case S_BEFORE_ATTR:
		if (c == '>')
			tag_end(k);
		else if (!is_ws(c) && c != '/')
			attr_start(k, c);
		break;
	case S_ATTR_NAME:
		if (is_ws(c))
			k->st = S_AFTER_ATTR_NAME;
		else if (c == '=')
			k->st = S_BEFORE_VALUE;
		else if (c == '/')
			k->st = S_BEFORE_ATTR;
		else if (c == '>')
			tag_end(k);
		else
			attr_push(k, c);
		break;
	case S_AFTER_ATTR_NAME:
		if (c == '=')
			k->st = S_BEFORE_VALUE;
		else if (c == '>')
			tag_end(k);
		else if (c == '/')
			k->st = S_BEFORE_ATTR;
		else if (!is_ws(c))
			attr_start(k, c);
		break;
	case S_BEFORE_VALUE:
		k->vallen = 0;
		if (c == '"')
			k->st = S_VALUE_DQ;
		else if (c == '\'')
			k->st = S_VALUE_SQ;
		else if (c == '>')
			tag_end(k);
		else if (!is_ws(c)) {
			k->st = S_VALUE_UNQ;
			k->vallen = 1;
		}
		break;
	case S_VALUE_DQ:
	case S_VALUE_SQ:
		if (c == (k->st == S_VALUE_DQ ? '"' : '\''))
			k->st = S_BEFORE_ATTR;
		else
			k->vallen++;
		break;
	case S_VALUE_UNQ:
		if (is_ws(c))
			k->st = S_BEFORE_ATTR;
		else if (c == '>')
			tag_end(k);
		break;
	case S_MARKUP: /* after "<!": "--" starts a comment, anything else is bogus */
		if (c == '-' && ++k->dashes == 2) {
			k->dashes = 0;
			k->st = S_COMMENT;
		} else if (c != '-') {
			k->st = c == '>' ? S_DATA : S_BOGUS;
		}
		break;
	case S_COMMENT:
		if (c == '-')
			k->dashes++;
		else if (c == '>' && k->dashes >= 2)
			k->st = S_DATA;
		else
			k->dashes = 0;
		break;
	case S_BOGUS:
		if (c == '>')
			k->st = S_DATA;
		break;
	case S_RAWTEXT: {
		/* Looks for "</script" or "</style" (any case). */
		size_t rl = strlen(k->raw);
		char want;
		if (k->rawmatch == 0)
			want = '<';
		else if (k->rawmatch == 1)
			want = '/';
		else if (k->rawmatch - 2 < rl)
			want = k->raw[k->rawmatch - 2];
		else
			want = 0;
		if (want && tolower((unsigned char)c) == want) {
			if (++k->rawmatch == rl + 2) {
				k->end_tag = true;
				k->st = S_END_TAG;
			}
		} else {
			k->rawmatch = c == '<' ? 1 : 0;
		}
		break;
	}
	}
}

static size_t
line_of(const char *src, size_t pos)
{
	size_t line = 1;

	for (size_t i = 0; i < pos; i++)
		if (src[i] == '\n')
			line++;
	return line;
}

static enum tl_err
fail(char *err, size_t errlen, const char *src, size_t pos, const char *why)
{
	if (err && errlen)
		snprintf(err, errlen, "template line %zu: %s", line_of(src, pos), why);
	return TL_EINVAL;
}

static enum tl_err
add_node(struct html_tmpl *t, size_t *cap, enum node_kind kind, size_t off, size_t len,
         struct node **out)
{
	if (t->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 32;
		struct node *p = realloc(t->nodes, nc * sizeof(*p));
		if (!p)
			return TL_ENOMEM;
		t->nodes = p;
		*cap = nc;
	}
	memset(&t->nodes[t->n], 0, sizeof(t->nodes[t->n]));
	t->nodes[t->n].kind = kind;
	t->nodes[t->n].off = off;
	t->nodes[t->n].len = len;
	if (out)
		*out = &t->nodes[t->n];
	t->n++;
	return TL_OK;
}

/* What a section must leave unchanged so that repeating or skipping its
 * body cannot shift the context of the text after it. */
struct open_sec {
	size_t node;
	enum st st;
	char attr[24];
};

static bool
section_state_ok(enum st s)
{
	return s == S_DATA || s == S_BEFORE_ATTR || s == S_VALUE_DQ || s == S_VALUE_SQ;
}

enum tl_err
html_tmpl_compile(const char *src, size_t len, struct html_tmpl **out, char *err, size_t errlen)
{
	struct html_tmpl *t = NULL;
	struct tok k;
	struct open_sec stack[HTML_MAX_DEPTH];
	size_t depth = 0, cap = 0, i = 0, lit = 0;
	enum tl_err e = TL_OK;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (len > HTML_TMPL_MAX) {
		if (err && errlen)
			snprintf(err, errlen, "template larger than %d bytes", HTML_TMPL_MAX);
		return TL_ETOOBIG;
	}
	if (!utf8_valid(src, len, NULL))
		return fail(err, errlen, src, 0, "not valid UTF-8 (or contains NUL)");
	memset(&k, 0, sizeof(k));
	k.st = S_DATA;
	if (!(t = calloc(1, sizeof(*t))) || !(t->src = malloc(len + 1))) {
		e = TL_ENOMEM;
		goto out;
	}
	memcpy(t->src, src, len);
	t->src[len] = '\0';

	while (i < len) {
		size_t nstart, nend, close;
		char sig;
		struct node *nd;

		if (!(src[i] == '{' && i + 1 < len && src[i + 1] == '{')) {
			tok_feed(&k, src[i]);
			i++;
			continue;
		}
		if (i > lit && (e = add_node(t, &cap, N_TEXT, lit, i - lit, NULL)) != TL_OK)
			goto out;
		if (i + 2 < len && src[i + 2] == '{') {
			e = fail(err, errlen, src, i, "{{{raw}}} output is not supported; use html_append_raw()");
			goto out;
		}
		sig = i + 2 < len ? src[i + 2] : '\0';
		nstart = i + 2 + ((sig == '#' || sig == '^' || sig == '/') ? 1 : 0);
		for (close = nstart; close + 1 < len && !(src[close] == '}' && src[close + 1] == '}'); close++)
			;
		if (close + 1 >= len) {
			e = fail(err, errlen, src, i, "unterminated {{");
			goto out;
		}
		nend = close;
		if (!name_ok(src + nstart, nend - nstart)) {
			e = fail(err, errlen, src, i, "tag name must be 1-64 of [A-Za-z0-9_]");
			goto out;
		}
		if (sig == '#' || sig == '^' || sig == '/') {
			/* An attribute name ends where a section tag starts. */
			if (k.st == S_ATTR_NAME || k.st == S_AFTER_ATTR_NAME)
				k.st = S_BEFORE_ATTR;
			if (!section_state_ok(k.st)) {
				e = fail(err, errlen, src, i, "section tag inside a tag name, comment, "
				                              "script/style or unquoted attribute");
				goto out;
			}
		}
		if (sig == '#' || sig == '^') {
			if (depth == HTML_MAX_DEPTH) {
				e = fail(err, errlen, src, i, "sections nested too deeply");
				goto out;
			}
			stack[depth].node = t->n;
			stack[depth].st = k.st;
			memcpy(stack[depth].attr, k.attr, sizeof(k.attr));
			depth++;
			if ((e = add_node(t, &cap, sig == '#' ? N_SECTION : N_INVERTED, nstart, nend - nstart,
			                  NULL)) != TL_OK)
				goto out;
		} else if (sig == '/') {
			struct node *open;
			if (depth == 0) {
				e = fail(err, errlen, src, i, "{{/name}} without an open section");
				goto out;
			}
			depth--;
			open = &t->nodes[stack[depth].node];
			if (open->len != nend - nstart || memcmp(src + open->off, src + nstart, open->len) != 0) {
				e = fail(err, errlen, src, i, "{{/name}} does not match the open section");
				goto out;
			}
			if (stack[depth].st != k.st ||
			    ((k.st == S_VALUE_DQ || k.st == S_VALUE_SQ) &&
			     strcmp(stack[depth].attr, k.attr) != 0)) {
				e = fail(err, errlen, src, i, "a section must end in the same HTML context it "
				                              "started in");
				goto out;
			}
			open->match = t->n;
			if ((e = add_node(t, &cap, N_END, nstart, nend - nstart, NULL)) != TL_OK)
				goto out;
		} else {
			enum ctx c = CTX_NONE;
			if (k.st == S_DATA) {
				c = CTX_TEXT;
			} else if (k.st == S_VALUE_DQ || k.st == S_VALUE_SQ) {
				switch (attr_class(&k)) {
				case A_PLAIN: c = CTX_ATTR; break;
				case A_URL: c = k.vallen == 0 ? CTX_URL_START : CTX_URL_PART; break;
				case A_FORBIDDEN: c = CTX_NONE; break;
				}
				k.vallen++; /* the value is no longer empty */
			}
			if (c == CTX_NONE) {
				e = fail(err, errlen, src, i, "placeholder where escaping cannot make it safe "
				                              "(script/style, comment, tag or attribute name, "
				                              "unquoted value, on*/style/srcdoc attribute)");
				goto out;
			}
			if ((e = add_node(t, &cap, N_VAR, nstart, nend - nstart, &nd)) != TL_OK)
				goto out;
			nd->ctx = c;
		}
		i = close + 2;
		lit = i;
	}
	if (depth) {
		e = fail(err, errlen, src, t->nodes[stack[depth - 1].node].off, "section not closed");
		goto out;
	}
	if (len > lit && (e = add_node(t, &cap, N_TEXT, lit, len - lit, NULL)) != TL_OK)
		goto out;
	*out = t;
	t = NULL;
out:
	html_tmpl_free(t);
	return e;
}

void
html_tmpl_free(struct html_tmpl *t)
{
	if (!t)
		return;
	free(t->src);
	free(t->nodes);
	free(t);
}

static enum tl_err
emit(const struct node *nd, const struct html_entry *en, struct buf *out)
{
	switch (nd->ctx) {
	case CTX_TEXT:
	case CTX_ATTR:
		return html_escape(out, en->val, en->len);
	case CTX_URL_START:
		if (!html_url_allowed(en->val, en->len))
			return buf_append_str(out, HTML_INVALID_URL);
		return html_escape(out, en->val, en->len);
	case CTX_URL_PART:
		return html_url_component(out, en->val, en->len);
	case CTX_NONE:
		break;
	}
	return TL_EINVAL;
}

static enum tl_err
render_range(const struct html_tmpl *t, size_t from, size_t to, const struct html_vars *v,
             struct buf *out)
{
	enum tl_err e = TL_OK;

	for (size_t i = from; i < to && e == TL_OK; i++) {
		const struct node *nd = &t->nodes[i];
		const struct html_entry *en;
		bool empty;

		switch (nd->kind) {
		case N_TEXT:
			e = buf_append(out, t->src + nd->off, nd->len);
			break;
		case N_VAR:
			en = lookup(v, t->src + nd->off, nd->len);
			if (!en || en->kind != E_VALUE || !en->val)
				return TL_EINVAL;
			e = emit(nd, en, out);
			break;
		case N_SECTION:
		case N_INVERTED:
			en = lookup(v, t->src + nd->off, nd->len);
			empty = !en || (en->kind == E_LIST ? en->nrows == 0 : en->len == 0);
			if (nd->kind == N_INVERTED) {
				if (empty)
					e = render_range(t, i + 1, nd->match, v, out);
			} else if (!empty && en->kind == E_LIST) {
				for (const struct html_vars *r = en->rows; r && e == TL_OK; r = r->next)
					e = render_range(t, i + 1, nd->match, r, out);
			} else if (!empty) {
				e = render_range(t, i + 1, nd->match, v, out);
			}
			i = nd->match; /* the loop's i++ steps past the N_END */
			break;
		case N_END:
			break;
		}
	}
	return e;
}

enum tl_err
html_render(const struct html_tmpl *t, const struct html_vars *v, struct buf *out)
{
	if (!t || !out)
		return TL_EINVAL;
	return render_range(t, 0, t->n, v, out);
}
