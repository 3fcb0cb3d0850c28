/*
 * The metrics registry: a flat list of metrics, each with a flat list of
 * series. The numbers involved are small (apps x phases), so lookups are
 * linear scans; rendering sorts copies of the pointers.
 */
#include "agent/metrics.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/banned.h"

typedef enum mtype { M_COUNTER, M_GAUGE, M_HISTOGRAM } mtype;

typedef struct label {
	char *k, *v;
} label;

typedef struct series {
	label *labels; /* sorted by key */
	size_t nlabels;
	char *text;	   /* k="escaped v",... (no braces), "" when none */
	double value;	   /* counter, gauge; histogram: sum */
	uint64_t count;	   /* histogram */
	uint64_t *buckets; /* histogram: per bucket, not cumulative */
} series;

typedef struct metric {
	char *name, *help;
	mtype type;
	double *bounds;
	size_t nbounds;
	series **series;
	size_t nseries, aseries;
} metric;

struct ks_metrics {
	pthread_mutex_t mu;
	metric **metrics;
	size_t n, alloc;
};

static const double default_buckets[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

ks_metrics *ks_metrics_new(void)
{
	ks_metrics *m = ks_xcalloc(1, sizeof(*m));
	pthread_mutex_init(&m->mu, NULL);
	return m;
}

static void series_free(series *s)
{
	for (size_t i = 0; i < s->nlabels; i++) {
		free(s->labels[i].k);
		free(s->labels[i].v);
	}
	free(s->labels);
	free(s->text);
	free(s->buckets);
	free(s);
}

void ks_metrics_free(ks_metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		metric *d = m->metrics[i];
		for (size_t j = 0; j < d->nseries; j++)
			series_free(d->series[j]);
		free(d->series);
		free(d->bounds);
		free(d->name);
		free(d->help);
		free(d);
	}
	free(m->metrics);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* used in assertions only: unused when NDEBUG removes them */
__attribute__((unused)) static bool valid_name(const char *s, bool colon)
{
	if (!*s)
		return false;
	for (const char *c = s; *c; c++) {
		bool alpha = (*c >= 'a' && *c <= 'z') ||
			     (*c >= 'A' && *c <= 'Z') || *c == '_' ||
			     (colon && *c == ':');
		if (!alpha && !(c > s && *c >= '0' && *c <= '9'))
			return false;
	}
	return true;
}

static metric *find(ks_metrics *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->metrics[i]->name, name) == 0)
			return m->metrics[i];
	return NULL;
}

void ks_metrics_define(ks_metrics *m, const char *name, const char *type,
		       const char *help, const double *buckets, size_t nb)
{
	assert(valid_name(name, true));
	mtype t = M_COUNTER;
	if (strcmp(type, "gauge") == 0)
		t = M_GAUGE;
	else if (strcmp(type, "histogram") == 0)
		t = M_HISTOGRAM;
	else
		assert(strcmp(type, "counter") == 0);
	pthread_mutex_lock(&m->mu);
	metric *d = find(m, name);
	if (d) {
		assert(d->type == t);
		pthread_mutex_unlock(&m->mu);
		return;
	}
	d = ks_xcalloc(1, sizeof(*d));
	d->name = ks_xstrdup(name);
	d->help = ks_xstrdup(help ? help : "");
	d->type = t;
	if (t == M_HISTOGRAM) {
		if (!buckets) {
			buckets = default_buckets;
			nb = sizeof(default_buckets) / sizeof(*default_buckets);
		}
		d->bounds = ks_xcalloc(nb ? nb : 1, sizeof(double));
		for (size_t i = 0; i < nb; i++) {
			assert(i == 0 || buckets[i] > buckets[i - 1]);
			d->bounds[i] = buckets[i];
		}
		d->nbounds = nb;
	}
	if (m->n == m->alloc) {
		m->alloc = m->alloc ? 2 * m->alloc : 16;
		m->metrics =
			ks_xrealloc(m->metrics, m->alloc * sizeof(*m->metrics));
	}
	m->metrics[m->n++] = d;
	pthread_mutex_unlock(&m->mu);
}

/* ---- numbers and escaping ---- */

/* V as Prometheus reads it: integers without a fraction, others with the
 * fewest digits that read back exactly. */
static void put_number(ks_buf *out, double v)
{
	if (isnan(v)) {
		ks_buf_puts(out, "NaN");
		return;
	}
	if (isinf(v)) {
		ks_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == 0) {
		ks_buf_puts(out, "0");
		return;
	}
	if (v == floor(v) && fabs(v) < 1e15) {
		ks_buf_printf(out, "%.0f", v);
		return;
	}
	char buf[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	ks_buf_puts(out, buf);
}

/* Label values escape \, " and newline; HELP text only \ and newline. */
static void put_escaped(ks_buf *out, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			ks_buf_puts(out, "\\\\");
		else if (*s == '\n')
			ks_buf_puts(out, "\\n");
		else if (quote && *s == '"')
			ks_buf_puts(out, "\\\"");
		else
			ks_buf_append(out, s, 1);
	}
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const label *)a)->k, ((const label *)b)->k);
}

/* Collects the "k", "v", ..., NULL list into sorted LABELS and TEXT. */
static void collect_labels(va_list ap, label **labels, size_t *n, char **text)
{
	label *l = NULL;
	size_t cnt = 0, alloc = 0;
	const char *k;
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);
		assert(valid_name(k, false) && strcmp(k, "le") != 0);
		if (cnt == alloc) {
			alloc = alloc ? 2 * alloc : 4;
			l = ks_xrealloc(l, alloc * sizeof(*l));
		}
		l[cnt].k = ks_xstrdup(k);
		l[cnt].v = ks_xstrdup(v ? v : "");
		cnt++;
	}
	if (cnt)
		qsort(l, cnt, sizeof(*l), label_cmp);
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_buf_puts(&b, "");
	for (size_t i = 0; i < cnt; i++) {
		ks_buf_printf(&b, "%s%s=\"", i ? "," : "", l[i].k);
		put_escaped(&b, l[i].v, true);
		ks_buf_puts(&b, "\"");
	}
	*text = ks_buf_detach(&b, NULL);
	*labels = l;
	*n = cnt;
}

static void free_labels(label *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(l[i].k);
		free(l[i].v);
	}
	free(l);
}

/* The series of D with labels TEXT, created when CREATE (taking LABELS);
 * otherwise the caller keeps LABELS. */
static series *get_series(metric *d, label **labels, size_t nlabels,
			  char **text, bool create)
{
	for (size_t i = 0; i < d->nseries; i++)
		if (strcmp(d->series[i]->text, *text) == 0)
			return d->series[i];
	if (!create)
		return NULL;
	series *s = ks_xcalloc(1, sizeof(*s));
	s->labels = *labels;
	s->nlabels = nlabels;
	s->text = *text;
	*labels = NULL;
	*text = NULL;
	if (d->type == M_HISTOGRAM)
		s->buckets = ks_xcalloc(d->nbounds + 1, sizeof(uint64_t));
	if (d->nseries == d->aseries) {
		d->aseries = d->aseries ? 2 * d->aseries : 8;
		d->series =
			ks_xrealloc(d->series, d->aseries * sizeof(*d->series));
	}
	d->series[d->nseries++] = s;
	return s;
}

typedef enum op { OP_ADD, OP_SET, OP_OBSERVE } op;

static void update(ks_metrics *m, const char *name, op o, double v, va_list ap)
{
	label *labels;
	size_t n;
	char *text;
	collect_labels(ap, &labels, &n, &text);
	pthread_mutex_lock(&m->mu);
	metric *d = find(m, name);
	assert(d && "metric not defined");
	if (!d)
		goto out;
	assert(o != OP_SET || d->type == M_GAUGE);
	assert(o != OP_OBSERVE || d->type == M_HISTOGRAM);
	assert(o != OP_ADD || d->type != M_HISTOGRAM);
	assert(d->type != M_COUNTER || v >= 0);
	if ((o == OP_OBSERVE) != (d->type == M_HISTOGRAM))
		goto out;
	series *s = get_series(d, &labels, n, &text, true);
	if (o == OP_ADD) {
		s->value += v;
	} else if (o == OP_SET) {
		s->value = v;
	} else if (!isnan(v)) {
		size_t i = 0;
		while (i < d->nbounds && v > d->bounds[i])
			i++;
		s->buckets[i]++; /* index nbounds: only +Inf */
		s->count++;
		s->value += v;
	}
out:
	pthread_mutex_unlock(&m->mu);
	free_labels(labels, labels ? n : 0);
	free(text);
}

void ks_metrics_add(ks_metrics *m, const char *name, double v, ...)
{
	va_list ap;
	va_start(ap, v);
	update(m, name, OP_ADD, v, ap);
	va_end(ap);
}

void ks_metrics_set(ks_metrics *m, const char *name, double v, ...)
{
	va_list ap;
	va_start(ap, v);
	update(m, name, OP_SET, v, ap);
	va_end(ap);
}

void ks_metrics_observe(ks_metrics *m, const char *name, double v, ...)
{
	va_list ap;
	va_start(ap, v);
	update(m, name, OP_OBSERVE, v, ap);
	va_end(ap);
}

double ks_metrics_get(ks_metrics *m, const char *name, ...)
{
	va_list ap;
	va_start(ap, name);
	label *labels;
	size_t n;
	char *text;
	collect_labels(ap, &labels, &n, &text);
	va_end(ap);
	double v = 0;
	pthread_mutex_lock(&m->mu);
	metric *d = find(m, name);
	series *s = d ? get_series(d, &labels, n, &text, false) : NULL;
	if (s)
		v = d->type == M_HISTOGRAM ? (double)s->count : s->value;
	pthread_mutex_unlock(&m->mu);
	free_labels(labels, n);
	free(text);
	return v;
}

static bool has_label(const series *s, const char *k, const char *v)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (strcmp(s->labels[i].k, k) == 0 &&
		    strcmp(s->labels[i].v, v) == 0)
			return true;
	return false;
}

void ks_metrics_forget(ks_metrics *m, const char *name, const char *k,
		       const char *v)
{
	pthread_mutex_lock(&m->mu);
	metric *d = find(m, name);
	if (d) {
		size_t j = 0;
		for (size_t i = 0; i < d->nseries; i++) {
			if (has_label(d->series[i], k, v))
				series_free(d->series[i]);
			else
				d->series[j++] = d->series[i];
		}
		d->nseries = j;
	}
	pthread_mutex_unlock(&m->mu);
}

/* ---- exposition ---- */

static int metric_cmp(const void *a, const void *b)
{
	return strcmp((*(metric *const *)a)->name, (*(metric *const *)b)->name);
}

static int series_cmp(const void *a, const void *b)
{
	return strcmp((*(series *const *)a)->text, (*(series *const *)b)->text);
}

/* NAME{TEXT} or NAME{TEXT,le="B"}, then " ". */
static void put_series_name(ks_buf *out, const char *name, const char *suffix,
			    const char *text, const double *le, bool inf)
{
	ks_buf_printf(out, "%s%s", name, suffix);
	if (!*text && !le && !inf) {
		ks_buf_puts(out, " ");
		return;
	}
	ks_buf_printf(out, "{%s", text);
	if (le || inf) {
		ks_buf_puts(out, *text ? ",le=\"" : "le=\"");
		if (le)
			put_number(out, *le);
		else
			ks_buf_puts(out, "+Inf");
		ks_buf_puts(out, "\"");
	}
	ks_buf_puts(out, "} ");
}

static void write_histogram(ks_buf *out, const metric *d, const series *s)
{
	uint64_t cum = 0;
	for (size_t i = 0; i < d->nbounds; i++) {
		cum += s->buckets[i];
		put_series_name(out, d->name, "_bucket", s->text, &d->bounds[i],
				false);
		ks_buf_printf(out, "%llu\n", (unsigned long long)cum);
	}
	put_series_name(out, d->name, "_bucket", s->text, NULL, true);
	ks_buf_printf(out, "%llu\n", (unsigned long long)s->count);
	put_series_name(out, d->name, "_sum", s->text, NULL, false);
	put_number(out, s->value);
	ks_buf_puts(out, "\n");
	put_series_name(out, d->name, "_count", s->text, NULL, false);
	ks_buf_printf(out, "%llu\n", (unsigned long long)s->count);
}

static void write_metric(ks_buf *out, metric *d)
{
	static const char *const types[] = {"counter", "gauge", "histogram"};
	ks_buf_printf(out, "# HELP %s ", d->name);
	put_escaped(out, d->help, false);
	ks_buf_printf(out, "\n# TYPE %s %s\n", d->name, types[d->type]);
	if (d->nseries > 1)
		qsort(d->series, d->nseries, sizeof(*d->series), series_cmp);
	for (size_t i = 0; i < d->nseries; i++) {
		const series *s = d->series[i];
		if (d->type == M_HISTOGRAM) {
			write_histogram(out, d, s);
			continue;
		}
		put_series_name(out, d->name, "", s->text, NULL, false);
		put_number(out, s->value);
		ks_buf_puts(out, "\n");
	}
}

void ks_metrics_write(ks_metrics *m, ks_buf *out)
{
	pthread_mutex_lock(&m->mu);
	if (m->n > 1)
		qsort(m->metrics, m->n, sizeof(*m->metrics), metric_cmp);
	for (size_t i = 0; i < m->n; i++)
		write_metric(out, m->metrics[i]);
	pthread_mutex_unlock(&m->mu);
}
