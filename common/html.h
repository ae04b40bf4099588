/*
 * html.h - escaping and a tiny context-checked template renderer for the
 * staff consoles' server-rendered pages.
 *
 * Escaping: html_escape() makes untrusted text inert in element content and
 * in quoted attribute values: & < > " ' become entities, invalid UTF-8 and
 * C0 controls (other than tab, LF, CR) become U+FFFD, NUL bytes are dropped.
 *
 * Templates are UTF-8 text with these tags and nothing else:
 *   {{name}}            a variable, ALWAYS escaped for where it stands
 *   {{#name}}...{{/name}}  a section: repeated once per row if name is a
 *                       list, once if it is a non-empty value, else skipped
 *   {{^name}}...{{/name}}  inverted: rendered once if name is missing, an
 *                       empty list or an empty value
 * There is no raw output tag ({{{name}}} is a compile error): trusted,
 * program-built markup goes straight into the output buf with
 * html_append_raw(), never through a variable.
 *
 * html_tmpl_compile() runs a small HTML tokenizer over the template and
 * refuses placeholders where escaping alone cannot make them safe: inside
 * <script>/<style>, comments, tag or attribute names, unquoted attribute
 * values, event handlers (on*), style= and srcdoc=.  In a URL attribute
 * (href, src, action, formaction, ...) a placeholder at the start of the
 * value must be an http(s) or relative URL, anything else (javascript:,
 * data:, "//host") renders as "#invalid-url"; a placeholder later in a URL
 * value is percent-encoded as one URL component.
 *
 * Variables are strict (a {{name}} with no value set is TL_EINVAL at render
 * time, so typos show in tests); sections are lenient (missing = empty).
 *
 * Bounds: template HTML_TMPL_MAX bytes, section nesting HTML_MAX_DEPTH,
 * variables by the max_bytes given to html_vars_new(), output by the
 * destination buf's maximum (TL_ETOOBIG; the buf then holds a partial page
 * that the caller must not send).
 *
 * Ownership: a compiled template is immutable and may be shared by threads;
 * free it with html_tmpl_free().  struct html_vars trees belong to one thread;
 * html_vars_free() on the root frees (and wipes) every row and value.
 */
#ifndef TL_HTML_H
#define TL_HTML_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "err.h"

#define HTML_TMPL_MAX (256 * 1024)
#define HTML_MAX_DEPTH 8
#define HTML_NAME_MAX 64
#define HTML_INVALID_URL "#invalid-url"

/* Appends s[0..len) escaped for element content or a quoted attribute. */
enum tl_err html_escape(struct buf *out, const char *s, size_t len) __attribute__((warn_unused_result));
/* Appends a trusted, program-built fragment as is.  Never pass user data. */
enum tl_err html_append_raw(struct buf *out, const char *trusted) __attribute__((warn_unused_result));
/* True if s is a URL allowed at the start of href/src/action: http://,
 * https://, or relative ("/x" but not "//x" or "/\x", "?x", "#x", "x/y"),
 * with no control characters or whitespace. */
bool html_url_allowed(const char *s, size_t len);
/* Appends s as a single percent-encoded URL component (RFC 3986
 * unreserved characters kept, invalid UTF-8 encoded as U+FFFD). */
enum tl_err html_url_component(struct buf *out, const char *s, size_t len)
	__attribute__((warn_unused_result));

struct html_tmpl;

/* Compiles src[0..len).  On TL_EINVAL/TL_ETOOBIG writes a message with the
 * line number into err (may be NULL). */
enum tl_err html_tmpl_compile(const char *src, size_t len, struct html_tmpl **out, char *err,
                              size_t errlen) __attribute__((warn_unused_result));
void html_tmpl_free(struct html_tmpl *t);

struct html_vars;

/* A root scope holding at most max_bytes of names, values and rows. */
enum tl_err html_vars_new(size_t max_bytes, struct html_vars **out) __attribute__((warn_unused_result));
/* Frees a root scope and everything under it; NULL is fine. */
void html_vars_free(struct html_vars *root);
/* Sets a value (copied).  Names are [A-Za-z0-9_], 1..HTML_NAME_MAX; setting
 * the same name twice in one scope is TL_EEXIST. */
enum tl_err html_vars_set(struct html_vars *v, const char *name, const char *value)
	__attribute__((warn_unused_result));
enum tl_err html_vars_setn(struct html_vars *v, const char *name, const char *value, size_t len)
	__attribute__((warn_unused_result));
enum tl_err html_vars_setf(struct html_vars *v, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), warn_unused_result));
/* "1" or "": for {{#name}} / {{^name}} conditionals. */
enum tl_err html_vars_set_bool(struct html_vars *v, const char *name, bool on)
	__attribute__((warn_unused_result));
/* Declares list as a (possibly empty) list; idempotent for lists. */
enum tl_err html_vars_list(struct html_vars *v, const char *list) __attribute__((warn_unused_result));
/* Appends a row to list (creating it) and returns the row's scope, owned
 * by the root.  Lookups in a row fall back to the enclosing scopes. */
enum tl_err html_vars_add_row(struct html_vars *v, const char *list, struct html_vars **row)
	__attribute__((warn_unused_result));

/* Renders t with v (may be NULL for templates without tags) into out. */
enum tl_err html_render(const struct html_tmpl *t, const struct html_vars *v, struct buf *out)
	__attribute__((warn_unused_result));

#endif
