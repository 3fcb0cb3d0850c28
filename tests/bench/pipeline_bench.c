/*
 * Pipeline latencies (issue 7's goals) against an in-process devcluster:
 *
 *   approve -> first apply: from the call to ks_pipeline_approve (then
 *     ks_pipeline_run on the same thread) to the first server-side apply
 *     request (PATCH ...fieldManager=kusync) the devcluster receives. Goal
 *     under 50 ms. Includes storing the approval, the audit entry and the
 *     Deploying transition (local store, fsync'd), listing the live
 *     objects and planning.
 *   degraded -> rollback apply: from the health GET whose answer was the
 *     Degraded verdict to the rollback's first apply request. Goal under
 *     100 ms. Includes storing Failed and RollingBack and the plan of the
 *     previous release.
 *
 * The devcluster's request log (stderr, written as each request arrives)
 * is read through a pipe by a thread that stamps every line with the
 * monotonic clock: that is "the request seen by the devcluster".
 *
 * Usage: pipeline_bench [ITERATIONS]   (default 30; prints p50/p99)
 * KS_BENCH_TRACE=1 prints the requests between each approval and its first
 * apply; KS_BENCH_QPS sets the client's rate limit (default 10000).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "agent/pipeline.h"
#include "agent/store.h"
#include "core/mem.h"
#include "devcluster/devcluster.h"
#include "sync/kube.h"
#include "sync/plan.h"

#define NS "demo-bench"
#define MAX_EVENTS 200000

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- the request log ---- */

struct event {
	double t;
	char method[8];
	char target[240];
};

static struct event *events;
static size_t nevents;
static pthread_mutex_t ev_mu = PTHREAD_MUTEX_INITIALIZER;
static int saved_stderr = -1;

static void *log_reader(void *arg)
{
	FILE *in = fdopen((int)(intptr_t)arg, "r");
	char line[4096];
	while (in && fgets(line, sizeof(line), in)) {
		double t = now_ms();
		char date[64], method[16], target[1024];
		if (sscanf(line, "devcluster: %63s %15s %1023s", date, method,
			   target) != 3) {
			if (write(saved_stderr, line, strlen(line)) < 0)
				break;
			continue;
		}
		pthread_mutex_lock(&ev_mu);
		if (nevents < MAX_EVENTS) {
			struct event *e = &events[nevents++];
			e->t = t;
			snprintf(e->method, sizeof(e->method), "%.7s", method);
			snprintf(e->target, sizeof(e->target), "%.239s",
				 target);
		}
		pthread_mutex_unlock(&ev_mu);
	}
	if (in)
		fclose(in);
	return NULL;
}

/* The time of the first apply request after T0 (-1 when none). */
static double first_apply_after(double t0)
{
	double r = -1;
	pthread_mutex_lock(&ev_mu);
	for (size_t i = 0; i < nevents; i++)
		if (events[i].t >= t0 && !strcmp(events[i].method, "PATCH") &&
		    strstr(events[i].target, "fieldManager=kusync")) {
			r = events[i].t;
			break;
		}
	pthread_mutex_unlock(&ev_mu);
	return r;
}

/* The time of the last GET of an object named NAME before T1. */
static double last_get_before(double t1, const char *name)
{
	double r = -1;
	pthread_mutex_lock(&ev_mu);
	for (size_t i = 0; i < nevents; i++) {
		if (events[i].t > t1)
			break;
		const char *slash = strrchr(events[i].target, '/');
		if (!strcmp(events[i].method, "GET") && slash &&
		    !strcmp(slash + 1, name))
			r = events[i].t;
	}
	pthread_mutex_unlock(&ev_mu);
	return r;
}

/* ---- devcluster on a loop thread ---- */

static uv_loop_t loop;
static uv_async_t stop_async;
static ks_devcluster *dc;

static void on_stop(uv_async_t *a)
{
	ks_devcluster_stop(dc);
	uv_close((uv_handle_t *)a, NULL);
}

static void *loop_thread(void *arg)
{
	(void)arg;
	uv_run(&loop, UV_RUN_DEFAULT);
	return NULL;
}

/* ---- releases ---- */

static double failed_at;

static void on_change(void *ud, const json_t *rel)
{
	(void)ud;
	if (!strcmp(json_string_value(json_object_get(rel, "phase")),
		    "Failed") &&
	    failed_at < 0)
		failed_at = now_ms();
}

static void add_res(json_t *spec, json_t *attrs, const char *app)
{
	char *id = ks_sync_object_id(attrs);
	json_t *r =
		json_pack("{s:s, s:s, s:o, s:[s], s:{s:s}}", "id", id, "type",
			  "Kubernetes", "attributes", attrs, "dependsOn",
			  "v1:Namespace:" NS, "extensions", KS_LABEL_APP, app);
	if (!strcmp(json_string_value(json_object_get(attrs, "kind")),
		    "Namespace"))
		json_object_set_new(r, "dependsOn", json_array());
	json_array_append_new(json_object_get(spec, "resources"), r);
	free(id);
}

/* An app of one Deployment plus a ConfigMap, behind manual approval. */
static json_t *make_spec(const char *app, const char *image, bool approve)
{
	json_t *spec = json_pack(
		"{s:[{s:s, s:s, s:s, s:s, s:s, s:[], s:{s:{s:b, s:b, s:s}}, "
		"s:{}, s:[]}], s:[]}",
		"apps", "name", app, "project", "b", "stack", "s", "app",
		app + 4, "namespace", NS, "cells", "pipeline", "deploy",
		"manualApprove", approve, "rollbackIfFailed", 1, "timeout",
		"30s", "policysets", "dependedApps", "resources");
	json_t *labels =
		json_pack("{s:s, s:s, s:s}", KS_LABEL_MANAGED_BY, "kusync",
			  KS_LABEL_APP, app, KS_LABEL_STACK, "b-s");
	add_res(spec,
		json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "apiVersion", "v1",
			  "kind", "Namespace", "metadata", "name", NS, "labels",
			  KS_LABEL_MANAGED_BY, "kusync"),
		app);
	add_res(spec,
		json_pack("{s:s, s:s, s:{s:s, s:s, s:O}, s:{s:s}}",
			  "apiVersion", "v1", "kind", "ConfigMap", "metadata",
			  "name", app, "namespace", NS, "labels", labels,
			  "data", "k", image),
		app);
	add_res(spec,
		json_pack("{s:s, s:s, s:{s:s, s:s, s:O}, s:{s:i, s:i, "
			  "s:{s:{s:s}}, s:{s:{s:{s:s}}, s:{s:[{s:s, "
			  "s:s}]}}}}",
			  "apiVersion", "apps/v1", "kind", "Deployment",
			  "metadata", "name", app, "namespace", NS, "labels",
			  labels, "spec", "replicas", 1,
			  "progressDeadlineSeconds", 1, "selector",
			  "matchLabels", "app", app, "template", "metadata",
			  "labels", "app", app, "spec", "containers", "name",
			  "web", "image", image),
		app);
	json_decref(labels);
	return spec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, size_t n, double goal)
{
	if (!n) {
		printf("%-32s no samples\n", what);
		return;
	}
	qsort(v, n, sizeof(double), cmp_double);
	size_t i99 = (size_t)((double)n * 0.99 + 0.999999);
	if (i99 < 1)
		i99 = 1;
	double p50 = v[n / 2], p99 = v[i99 - 1];
	printf("%-32s n=%zu p50=%.2f ms p99=%.2f ms max=%.2f ms (goal < %.0f "
	       "ms: %s)\n",
	       what, n, p50, p99, v[n - 1], goal,
	       p99 < goal ? "met" : "missed");
}

static int run_one(const ks_pipeline_env *env, json_t *rel, const json_t *prev)
{
	ks_error err;
	int rc = ks_pipeline_run(env, rel, prev, NULL, &err);
	if (rc)
		fprintf(stderr, "pipeline_bench: run: %s\n", err.msg);
	return rc;
}

int main(int argc, char **argv)
{
	int iters = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 30;
	if (iters < 1)
		iters = 30;
	events = ks_xcalloc(MAX_EVENTS, sizeof(*events));
	int fds[2];
	if (pipe(fds))
		return 1;
	saved_stderr = dup(2);
	dup2(fds[1], 2);
	close(fds[1]);
	setvbuf(stderr, NULL, _IOLBF, 0);
	pthread_t reader;
	pthread_create(&reader, NULL, log_reader, (void *)(intptr_t)fds[0]);

	ks_error err;
	uv_loop_init(&loop);
	uv_async_init(&loop, &stop_async, on_stop);
	ks_devcluster_opts o = {.listen = "127.0.0.1:0",
				.rollout_delay_ms = 20,
				.time_scale = 10,
				.fail_images = "fail"};
	if (ks_devcluster_start(&dc, &loop, &o, &err)) {
		dprintf(saved_stderr, "devcluster: %s\n", err.msg);
		return 1;
	}
	char tmpl[] = "/tmp/ks-pipeline-bench-XXXXXX";
	char *dir = mkdtemp(tmpl);
	char kc[300], store_dir[300];
	snprintf(kc, sizeof(kc), "%s/kubeconfig", dir);
	snprintf(store_dir, sizeof(store_dir), "%s/state", dir);
	ks_devcluster_write_kubeconfig(dc, kc, &err);
	pthread_t lt;
	pthread_create(&lt, NULL, loop_thread, NULL);
	ks_kube_config *cfg = NULL;
	ks_kube_client *kube = NULL;
	/* An idle agent starts a release with a full rate-limit bucket; this
	 * loop never idles, so the client-side limit (50 qps, burst 100 by
	 * default) would measure itself: raised here (KS_BENCH_QPS). */
	ks_kube_client_opts copts;
	ks_kube_client_opts_default(&copts);
	copts.qps = getenv("KS_BENCH_QPS")
			    ? strtod(getenv("KS_BENCH_QPS"), NULL)
			    : 10000;
	copts.burst = (int)copts.qps;
	ks_store *store = NULL;
	if (ks_kube_config_load(&cfg, kc, NULL, &err) ||
	    ks_kube_client_new(&kube, cfg, &copts, &err) ||
	    ks_store_open_local(&store, store_dir, 5, &err)) {
		dprintf(saved_stderr, "pipeline_bench: %s\n", err.msg);
		return 1;
	}
	ks_kube_config_free(cfg);
	char *glob = ks_xstrdup("demo-*");
	ks_agent_source src = {.name = ks_xstrdup("bench"),
			       .namespaces = &glob,
			       .nnamespaces = 1,
			       .prune = true};
	ks_pipeline_env env = {.kube = kube,
			       .store = store,
			       .source = &src,
			       .on_change = on_change,
			       .poll_ms = 20};

	double *approve = ks_xcalloc((size_t)iters, sizeof(double));
	double *rollback = ks_xcalloc((size_t)iters, sizeof(double));
	double *failed_rb = ks_xcalloc((size_t)iters, sizeof(double));
	size_t na = 0, nr = 0, nf = 0;
	for (int i = 0; i < iters; i++) {
		char app[32];
		snprintf(app, sizeof(app), "b-s-a%d", i);
		/* approve -> first apply */
		json_t *spec = make_spec(app, "nginx:1.0", true);
		json_t *r1 = ks_pipeline_release_new(app, 1, "c1", "bench",
						     NULL, spec);
		json_decref(spec);
		if (run_one(&env, r1, NULL))
			return 1;
		double t0 = now_ms();
		if (ks_pipeline_approve(&env, r1, "bench", "api", NULL, &err)) {
			dprintf(saved_stderr, "approve: %s\n", err.msg);
			return 1;
		}
		if (run_one(&env, r1, NULL))
			return 1;
		double t1 = first_apply_after(t0);
		if (getenv("KS_BENCH_TRACE")) {
			pthread_mutex_lock(&ev_mu);
			for (size_t k = 0; k < nevents; k++)
				if (events[k].t >= t0 && events[k].t <= t1)
					dprintf(saved_stderr, "+%.2f %s %s\n",
						events[k].t - t0,
						events[k].method,
						events[k].target);
			pthread_mutex_unlock(&ev_mu);
		}
		if (t1 >= 0)
			approve[na++] = t1 - t0;
		/* degraded -> rollback apply */
		spec = make_spec(app, "fail:2.0", false);
		json_t *r2 = ks_pipeline_release_new(app, 2, "c2", "bench",
						     NULL, spec);
		json_decref(spec);
		failed_at = -1;
		if (run_one(&env, r2, r1))
			return 1;
		const char *ph =
			json_string_value(json_object_get(r2, "phase"));
		if (strcmp(ph, "RolledBack"))
			dprintf(saved_stderr, "release 2 of %s ended %s: %s\n",
				app, ph,
				json_string_value(
					json_object_get(r2, "message")));
		double tr = first_apply_after(failed_at);
		double tv = last_get_before(failed_at, app);
		if (tr >= 0 && tv >= 0)
			rollback[nr++] = tr - tv;
		if (tr >= 0)
			failed_rb[nf++] = tr - failed_at;
		json_decref(r1);
		json_decref(r2);
	}
	report("approve -> first apply", approve, na, 50);
	report("degraded GET -> rollback apply", rollback, nr, 100);
	report("Failed stored -> rollback apply", failed_rb, nf, 100);

	ks_kube_client_free(kube);
	ks_store_free(store);
	uv_async_send(&stop_async);
	pthread_join(lt, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	fflush(stderr);
	dup2(saved_stderr, 2);
	pthread_join(reader, NULL);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		return 1;
	free(glob);
	free(src.name);
	free(approve);
	free(rollback);
	free(failed_rb);
	free(events);
	return 0;
}
