/*
 * A registry of metrics rendered in the Prometheus text exposition format
 * 0.0.4 (GET /metrics). Thread-safe: one mutex guards the registry, so
 * workers may count while the loop renders.
 *
 * A metric is defined once (name, type, help, buckets) and then has series,
 * one per distinct label set. Label sets are given as a NULL-terminated
 * list of "key", "value" pairs after the number; the order of the pairs
 * does not matter (they are sorted by key). Rendering is deterministic:
 * metrics sorted by name, series by their label text.
 *
 * Using an undefined name, or a name with another type's operation, is a
 * programming error (assert); a bad label key likewise.
 */
#ifndef KS_AGENT_METRICS_H
#define KS_AGENT_METRICS_H

#include <stddef.h>

#include "core/mem.h"

typedef struct ks_metrics ks_metrics;

ks_metrics *ks_metrics_new(void);
/* Accepts NULL. */
void ks_metrics_free(ks_metrics *m);

/*
 * Defines NAME with HELP and TYPE, one of "counter", "gauge", "histogram".
 * BUCKETS (NB upper bounds, ascending, copied) for histograms; NULL: the
 * default 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60
 * seconds. Defining a name again with the same type is a no-op.
 */
void ks_metrics_define(ks_metrics *m, const char *name, const char *type,
		       const char *help, const double *buckets, size_t nb);

/*
 * Counters and gauges: adds V to the series of NAME with the labels that
 * follow ("k", "v", ..., NULL; just NULL for none), created at 0. Label
 * values are escaped on output (\\, \", \n). A counter only grows: V must
 * not be negative. Label keys are Prometheus names other than "le".
 */
void ks_metrics_add(ks_metrics *m, const char *name, double v, ...)
	__attribute__((sentinel));
/* Gauges: sets the series to V. */
void ks_metrics_set(ks_metrics *m, const char *name, double v, ...)
	__attribute__((sentinel));
/* Histograms: records one observation V. */
void ks_metrics_observe(ks_metrics *m, const char *name, double v, ...)
	__attribute__((sentinel));

/* Removes every series of NAME whose labels include K=V (an app gone). */
void ks_metrics_forget(ks_metrics *m, const char *name, const char *k,
		       const char *v);

/*
 * The value of NAME's series with exactly the given labels (counters and
 * gauges; a histogram's count), 0 when it has none. For tests.
 */
double ks_metrics_get(ks_metrics *m, const char *name, ...)
	__attribute__((sentinel));

/*
 * Appends the exposition text to OUT: per metric "# HELP", "# TYPE", then
 * its series; histograms as NAME_bucket{...,le="B"} (cumulative, ending
 * with le="+Inf"), NAME_sum, NAME_count. Numbers are printed so integers
 * read as integers ("3", not "3.000000"); others with up to 17 significant
 * digits. A metric without series prints only its HELP and TYPE lines.
 */
void ks_metrics_write(ks_metrics *m, ks_buf *out);

#endif
