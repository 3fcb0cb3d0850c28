/* The metrics registry's exposition text, compared with text written by
 * hand from the Prometheus text format 0.0.4, and its thread safety. */
#include "ks_test.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "agent/metrics.h"
#include "core/mem.h"

static void assert_text(ks_metrics *m, const char *want)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_metrics_write(m, &b);
	assert_string_equal(b.data ? b.data : "", want);
	ks_buf_release(&b);
}

static void counters_and_gauges(void **state)
{
	(void)state;
	ks_metrics *m = ks_metrics_new();
	ks_metrics_define(m, "kusync_sync_total", "counter",
			  "Syncs by app and result.", NULL, 0);
	ks_metrics_define(m, "kusync_drift_resources", "gauge",
			  "Drifted resources.", NULL, 0);
	ks_metrics_define(m, "kusync_up", "gauge", "Always 1.", NULL, 0);
	ks_metrics_define(m, "kusync_empty_total", "counter", "Never counted.",
			  NULL, 0);
	/* defining again changes nothing */
	ks_metrics_define(m, "kusync_up", "gauge", "Other help.", NULL, 0);
	ks_metrics_add(m, "kusync_sync_total", 1, "app", "b", "result", "ok",
		       NULL);
	ks_metrics_add(m, "kusync_sync_total", 2, "app", "a", "result",
		       "failed", NULL);
	ks_metrics_add(m, "kusync_sync_total", 1, "result", "ok", "app", "a",
		       NULL);
	ks_metrics_add(m, "kusync_sync_total", 1, "app", "a", "result", "ok",
		       NULL);
	ks_metrics_set(m, "kusync_drift_resources", 3, "app", "a", NULL);
	ks_metrics_set(m, "kusync_drift_resources", 0.5, "app", "b", NULL);
	ks_metrics_set(m, "kusync_drift_resources", 7, "app", "a", NULL);
	ks_metrics_set(m, "kusync_up", 1, NULL);
	assert_text(m, "# HELP kusync_drift_resources Drifted resources.\n"
		       "# TYPE kusync_drift_resources gauge\n"
		       "kusync_drift_resources{app=\"a\"} 7\n"
		       "kusync_drift_resources{app=\"b\"} 0.5\n"
		       "# HELP kusync_empty_total Never counted.\n"
		       "# TYPE kusync_empty_total counter\n"
		       "# HELP kusync_sync_total Syncs by app and result.\n"
		       "# TYPE kusync_sync_total counter\n"
		       "kusync_sync_total{app=\"a\",result=\"failed\"} 2\n"
		       "kusync_sync_total{app=\"a\",result=\"ok\"} 2\n"
		       "kusync_sync_total{app=\"b\",result=\"ok\"} 1\n"
		       "# HELP kusync_up Always 1.\n"
		       "# TYPE kusync_up gauge\n"
		       "kusync_up 1\n");
	assert_true(ks_metrics_get(m, "kusync_sync_total", "result", "ok",
				   "app", "a", NULL) == 2);
	assert_true(ks_metrics_get(m, "kusync_sync_total", "app", "a", NULL) ==
		    0);
	assert_true(ks_metrics_get(m, "kusync_nothing", NULL) == 0);
	ks_metrics_free(m);
	ks_metrics_free(NULL);
}

static void numbers(void **state)
{
	(void)state;
	ks_metrics *m = ks_metrics_new();
	ks_metrics_define(m, "g", "gauge", "Numbers.", NULL, 0);
	ks_metrics_set(m, "g", 0.1, "k", "a", NULL);
	ks_metrics_set(m, "g", 1.0 / 3, "k", "b", NULL);
	ks_metrics_set(m, "g", -2, "k", "c", NULL);
	ks_metrics_set(m, "g", 1e20, "k", "d", NULL);
	ks_metrics_set(m, "g", NAN, "k", "e", NULL);
	ks_metrics_set(m, "g", INFINITY, "k", "f", NULL);
	ks_metrics_set(m, "g", -INFINITY, "k", "g", NULL);
	ks_metrics_set(m, "g", -0.0, "k", "h", NULL);
	ks_metrics_set(m, "g", 123456789012, "k", "i", NULL);
	ks_metrics_set(m, "g", 2.5e-7, "k", "j", NULL);
	assert_text(m, "# HELP g Numbers.\n"
		       "# TYPE g gauge\n"
		       "g{k=\"a\"} 0.1\n"
		       "g{k=\"b\"} 0.3333333333333333\n"
		       "g{k=\"c\"} -2\n"
		       "g{k=\"d\"} 1e+20\n"
		       "g{k=\"e\"} NaN\n"
		       "g{k=\"f\"} +Inf\n"
		       "g{k=\"g\"} -Inf\n"
		       "g{k=\"h\"} 0\n"
		       "g{k=\"i\"} 123456789012\n"
		       "g{k=\"j\"} 2.5e-07\n");
	ks_metrics_free(m);
}

static void escaping(void **state)
{
	(void)state;
	ks_metrics *m = ks_metrics_new();
	ks_metrics_define(m, "esc_total", "counter",
			  "A \"quoted\" help\\text\nover two lines.", NULL, 0);
	ks_metrics_add(m, "esc_total", 1, "path", "C:\\dir\n\"x\"", NULL);
	ks_metrics_add(m, "esc_total", 1, "path", "", NULL);
	assert_text(m, "# HELP esc_total A \"quoted\" help\\\\text\\nover "
		       "two lines.\n"
		       "# TYPE esc_total counter\n"
		       "esc_total{path=\"\"} 1\n"
		       "esc_total{path=\"C:\\\\dir\\n\\\"x\\\"\"} 1\n");
	ks_metrics_free(m);
}

static void histograms(void **state)
{
	(void)state;
	ks_metrics *m = ks_metrics_new();
	const double b[] = {0.125, 1, 10};
	ks_metrics_define(m, "h_seconds", "histogram", "Latency.", b, 3);
	const double obs[] = {0.0625, 0.125, 0.5, 5, 100};
	for (size_t i = 0; i < 5; i++)
		ks_metrics_observe(m, "h_seconds", obs[i], "app", "x", NULL);
	ks_metrics_observe(m, "h_seconds", 2, "app", "w", NULL);
	assert_text(m, "# HELP h_seconds Latency.\n"
		       "# TYPE h_seconds histogram\n"
		       "h_seconds_bucket{app=\"w\",le=\"0.125\"} 0\n"
		       "h_seconds_bucket{app=\"w\",le=\"1\"} 0\n"
		       "h_seconds_bucket{app=\"w\",le=\"10\"} 1\n"
		       "h_seconds_bucket{app=\"w\",le=\"+Inf\"} 1\n"
		       "h_seconds_sum{app=\"w\"} 2\n"
		       "h_seconds_count{app=\"w\"} 1\n"
		       "h_seconds_bucket{app=\"x\",le=\"0.125\"} 2\n"
		       "h_seconds_bucket{app=\"x\",le=\"1\"} 3\n"
		       "h_seconds_bucket{app=\"x\",le=\"10\"} 4\n"
		       "h_seconds_bucket{app=\"x\",le=\"+Inf\"} 5\n"
		       "h_seconds_sum{app=\"x\"} 105.6875\n"
		       "h_seconds_count{app=\"x\"} 5\n");
	assert_true(ks_metrics_get(m, "h_seconds", "app", "x", NULL) == 5);
	ks_metrics_free(m);

	/* the default buckets, no labels */
	m = ks_metrics_new();
	ks_metrics_define(m, "d_seconds", "histogram", "Default buckets.", NULL,
			  0);
	ks_metrics_observe(m, "d_seconds", 0.3, NULL);
	ks_metrics_observe(m, "d_seconds", 0.005, NULL);
	assert_text(m, "# HELP d_seconds Default buckets.\n"
		       "# TYPE d_seconds histogram\n"
		       "d_seconds_bucket{le=\"0.005\"} 1\n"
		       "d_seconds_bucket{le=\"0.01\"} 1\n"
		       "d_seconds_bucket{le=\"0.025\"} 1\n"
		       "d_seconds_bucket{le=\"0.05\"} 1\n"
		       "d_seconds_bucket{le=\"0.1\"} 1\n"
		       "d_seconds_bucket{le=\"0.25\"} 1\n"
		       "d_seconds_bucket{le=\"0.5\"} 2\n"
		       "d_seconds_bucket{le=\"1\"} 2\n"
		       "d_seconds_bucket{le=\"2.5\"} 2\n"
		       "d_seconds_bucket{le=\"5\"} 2\n"
		       "d_seconds_bucket{le=\"10\"} 2\n"
		       "d_seconds_bucket{le=\"30\"} 2\n"
		       "d_seconds_bucket{le=\"60\"} 2\n"
		       "d_seconds_bucket{le=\"+Inf\"} 2\n"
		       "d_seconds_sum 0.305\n"
		       "d_seconds_count 2\n");
	ks_metrics_free(m);
}

static void forget(void **state)
{
	(void)state;
	ks_metrics *m = ks_metrics_new();
	ks_metrics_define(m, "phase", "gauge", "Phase.", NULL, 0);
	ks_metrics_define(m, "t_seconds", "histogram", "T.", (double[]){1}, 1);
	ks_metrics_set(m, "phase", 1, "app", "a", "phase", "Succeeded", NULL);
	ks_metrics_set(m, "phase", 0, "app", "a", "phase", "Failed", NULL);
	ks_metrics_set(m, "phase", 1, "app", "ab", "phase", "Failed", NULL);
	ks_metrics_set(m, "phase", 1, "phase", "a", NULL);
	ks_metrics_observe(m, "t_seconds", 0.5, "app", "a", NULL);
	ks_metrics_observe(m, "t_seconds", 0.5, "app", "b", NULL);
	ks_metrics_forget(m, "phase", "app", "a");
	ks_metrics_forget(m, "t_seconds", "app", "a");
	ks_metrics_forget(m, "phase", "app", "nothing");
	ks_metrics_forget(m, "undefined", "app", "a");
	assert_text(m, "# HELP phase Phase.\n"
		       "# TYPE phase gauge\n"
		       "phase{app=\"ab\",phase=\"Failed\"} 1\n"
		       "phase{phase=\"a\"} 1\n"
		       "# HELP t_seconds T.\n"
		       "# TYPE t_seconds histogram\n"
		       "t_seconds_bucket{app=\"b\",le=\"1\"} 1\n"
		       "t_seconds_bucket{app=\"b\",le=\"+Inf\"} 1\n"
		       "t_seconds_sum{app=\"b\"} 0.5\n"
		       "t_seconds_count{app=\"b\"} 1\n");
	/* a forgotten series starts again from zero */
	ks_metrics_set(m, "phase", 2, "app", "a", "phase", "Failed", NULL);
	assert_true(ks_metrics_get(m, "phase", "app", "a", "phase", "Failed",
				   NULL) == 2);
	ks_metrics_free(m);
}

#define THREADS 4
#define ROUNDS 20000

static void *adder(void *arg)
{
	ks_metrics *m = arg;
	for (int i = 0; i < ROUNDS; i++) {
		ks_metrics_add(m, "c_total", 1, "k", "shared", NULL);
		ks_metrics_add(m, "c_total", 0.5, "k", i % 2 ? "odd" : "even",
			       NULL);
		ks_metrics_observe(m, "o_seconds", 0.25, NULL);
		if (i % 1000 == 0) {
			ks_buf b;
			ks_buf_init(&b, 0);
			ks_metrics_write(m, &b);
			ks_buf_release(&b);
		}
	}
	return NULL;
}

static void concurrent_adds(void **state)
{
	(void)state;
	ks_metrics *m = ks_metrics_new();
	ks_metrics_define(m, "c_total", "counter", "C.", NULL, 0);
	ks_metrics_define(m, "o_seconds", "histogram", "O.", NULL, 0);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, adder, m), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_true(ks_metrics_get(m, "c_total", "k", "shared", NULL) ==
		    THREADS * ROUNDS);
	assert_true(ks_metrics_get(m, "c_total", "k", "odd", NULL) ==
		    THREADS * ROUNDS / 4);
	assert_true(ks_metrics_get(m, "o_seconds", NULL) == THREADS * ROUNDS);
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_metrics_write(m, &b);
	assert_non_null(strstr(b.data, "c_total{k=\"shared\"} 80000\n"));
	assert_non_null(strstr(b.data, "c_total{k=\"even\"} 20000\n"));
	assert_non_null(strstr(b.data, "o_seconds_sum 20000\n"));
	assert_non_null(strstr(b.data, "o_seconds_bucket{le=\"0.1\"} 0\n"));
	assert_non_null(
		strstr(b.data, "o_seconds_bucket{le=\"0.25\"} 80000\n"));
	ks_buf_release(&b);
	ks_metrics_free(m);
}

static int metrics_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counters_and_gauges),
		cmocka_unit_test(numbers),
		cmocka_unit_test(escaping),
		cmocka_unit_test(histograms),
		cmocka_unit_test(forget),
		cmocka_unit_test(concurrent_adds),
	};
	return cmocka_run_group_tests_name("agent/metrics", tests, NULL, NULL);
}
KS_TEST_GROUP(metrics_tests)
