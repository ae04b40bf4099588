/*
 * metrics.c - see metrics.h.  Small fixed arrays instead of hash tables:
 * a handful of families with a few dozen series each is all a daemon has,
 * and a linear scan under the family's mutex is cheaper than hashing.
 */
#include "compat.h"
#include "metrics.h"

#include <math.h>
#include <pthread.h>

enum mkind { M_COUNTER, M_GAUGE, M_HISTOGRAM };

struct series {
	char values[METRICS_MAX_LABELS][METRICS_MAX_LABEL_VALUE + 1];
	double v;
};

struct metric {
	struct metric *next;
	enum mkind kind;
	char *name, *help;
	char labels[METRICS_MAX_LABELS][32];
	size_t nlabels;
	pthread_mutex_t lock;
	/* counters and gauges */
	struct series series[METRICS_MAX_SERIES];
	size_t nseries;
	/* histograms */
	double bounds[METRICS_MAX_BUCKETS];
	size_t nbounds;
	unsigned long long buckets[METRICS_MAX_BUCKETS + 1]; /* non-cumulative; last is +Inf */
	double sum;
	unsigned long long count;
};

struct metrics {
	struct metric *head, *tail;
};

struct metrics *
metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

void
metrics_free(struct metrics *m)
{
	struct metric *f, *next;

	if (!m)
		return;
	for (f = m->head; f; f = next) {
		next = f->next;
		pthread_mutex_destroy(&f->lock);
		free(f->name);
		free(f->help);
		free(f);
	}
	free(m);
}

static bool
name_ok(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static struct metric *
add_family(struct metrics *m, enum mkind kind, const char *name, const char *help, const char *labels)
{
	struct metric *f;

	if (!m || !name || !help || !name_ok(name, strlen(name)))
		return NULL;
	if (!(f = calloc(1, sizeof(*f))))
		return NULL;
	f->kind = kind;
	if (!(f->name = strdup(name)) || !(f->help = strdup(help)))
		goto fail;
	for (const char *p = labels; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (f->nlabels == METRICS_MAX_LABELS || n >= sizeof(f->labels[0]) || !name_ok(p, n))
			goto fail;
		memcpy(f->labels[f->nlabels], p, n);
		f->labels[f->nlabels++][n] = '\0';
		p = comma ? comma + 1 : p + n;
	}
	pthread_mutex_init(&f->lock, NULL);
	if (m->tail)
		m->tail->next = f;
	else
		m->head = f;
	m->tail = f;
	return f;
fail:
	free(f->name);
	free(f->help);
	free(f);
	return NULL;
}

struct metric *
metrics_counter(struct metrics *m, const char *name, const char *help, const char *labels)
{
	return add_family(m, M_COUNTER, name, help, labels);
}

struct metric *
metrics_gauge(struct metrics *m, const char *name, const char *help)
{
	return add_family(m, M_GAUGE, name, help, NULL);
}

struct metric *
metrics_histogram(struct metrics *m, const char *name, const char *help, const double *bounds,
                  size_t nbounds)
{
	struct metric *f;

	if (nbounds == 0 || nbounds > METRICS_MAX_BUCKETS)
		return NULL;
	for (size_t i = 1; i < nbounds; i++)
		if (!(bounds[i] > bounds[i - 1]))
			return NULL;
	if (!(f = add_family(m, M_HISTOGRAM, name, help, NULL)))
		return NULL;
	memcpy(f->bounds, bounds, nbounds * sizeof(*bounds));
	f->nbounds = nbounds;
	return f;
}

/* Finds or creates the series; falls back to the "other" series when the
 * table is full.  Called with f->lock held. */
static struct series *
find_series(struct metric *f, const char *const *values)
{
	size_t i, l;

	for (i = 0; i < f->nseries; i++) {
		for (l = 0; l < f->nlabels; l++)
			if (strncmp(f->series[i].values[l], values ? values[l] : "",
			            METRICS_MAX_LABEL_VALUE) != 0)
				break;
		if (l == f->nlabels)
			return &f->series[i];
	}
	if (f->nseries == METRICS_MAX_SERIES) {
		/* The last slot becomes the overflow bucket. */
		struct series *o = &f->series[METRICS_MAX_SERIES - 1];
		for (l = 0; l < f->nlabels; l++)
			snprintf(o->values[l], sizeof(o->values[l]), "other");
		return o;
	}
	struct series *s = &f->series[f->nseries++];
	for (l = 0; l < f->nlabels; l++)
		snprintf(s->values[l], sizeof(s->values[l]), "%s", values && values[l] ? values[l] : "");
	return s;
}

void
metric_add(struct metric *c, const char *const *values, double v)
{
	if (!c || c->kind != M_COUNTER || !(v >= 0))
		return;
	pthread_mutex_lock(&c->lock);
	find_series(c, values)->v += v;
	pthread_mutex_unlock(&c->lock);
}

void
metric_inc(struct metric *c, const char *const *values)
{
	metric_add(c, values, 1);
}

void
metric_set(struct metric *g, double v)
{
	if (!g || g->kind != M_GAUGE)
		return;
	pthread_mutex_lock(&g->lock);
	find_series(g, NULL)->v = v;
	pthread_mutex_unlock(&g->lock);
}

void
metric_observe(struct metric *h, double v)
{
	size_t i;

	if (!h || h->kind != M_HISTOGRAM || isnan(v))
		return;
	pthread_mutex_lock(&h->lock);
	for (i = 0; i < h->nbounds && v > h->bounds[i]; i++)
		;
	h->buckets[i]++;
	h->sum += v;
	h->count++;
	pthread_mutex_unlock(&h->lock);
}

/* Label values are escaped as the exposition format requires. */
static enum tl_err
append_escaped(struct buf *out, const char *s)
{
	enum tl_err e = TL_OK;

	for (; *s && e == TL_OK; s++) {
		if (*s == '\\' || *s == '"')
			e = buf_printf(out, "\\%c", *s);
		else if (*s == '\n')
			e = buf_append_str(out, "\\n");
		else
			e = buf_append_char(out, *s);
	}
	return e;
}

static enum tl_err
render_labels(struct buf *out, const struct metric *f, const struct series *s)
{
	enum tl_err e;

	if (f->nlabels == 0)
		return TL_OK;
	if ((e = buf_append_char(out, '{')) != TL_OK)
		return e;
	for (size_t l = 0; l < f->nlabels; l++) {
		if ((e = buf_printf(out, "%s%s=\"", l ? "," : "", f->labels[l])) != TL_OK ||
		    (e = append_escaped(out, s->values[l])) != TL_OK ||
		    (e = buf_append_char(out, '"')) != TL_OK)
			return e;
	}
	return buf_append_char(out, '}');
}

static enum tl_err
render_family(struct metric *f, struct buf *out)
{
	static const char *const kinds[] = { "counter", "gauge", "histogram" };
	enum tl_err e;

	if ((e = buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
	                    kinds[f->kind])) != TL_OK)
		return e;
	if (f->kind == M_HISTOGRAM) {
		unsigned long long cum = 0;
		for (size_t i = 0; i <= f->nbounds; i++) {
			cum += f->buckets[i];
			if (i < f->nbounds)
				e = buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", f->name, f->bounds[i], cum);
			else
				e = buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", f->name, cum);
			if (e != TL_OK)
				return e;
		}
		return buf_printf(out, "%s_sum %.9g\n%s_count %llu\n", f->name, f->sum, f->name, f->count);
	}
	if (f->nseries == 0 && f->nlabels == 0)
		return buf_printf(out, "%s 0\n", f->name);
	for (size_t i = 0; i < f->nseries; i++) {
		if ((e = buf_append_str(out, f->name)) != TL_OK ||
		    (e = render_labels(out, f, &f->series[i])) != TL_OK ||
		    (e = buf_printf(out, " %.17g\n", f->series[i].v)) != TL_OK)
			return e;
	}
	return TL_OK;
}

enum tl_err
metrics_render(struct metrics *m, struct buf *out)
{
	enum tl_err e = TL_OK;

	for (struct metric *f = m->head; f && e == TL_OK; f = f->next) {
		pthread_mutex_lock(&f->lock);
		e = render_family(f, out);
		pthread_mutex_unlock(&f->lock);
	}
	return e;
}
