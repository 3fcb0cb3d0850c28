/*
 * Drift latency of the watch cache (sync/watch.h): the time from sending a
 * PATCH of a labelled ConfigMap to the watch callback for its app, against
 * an in-process devcluster over loopback HTTP. Prints p50, p99 and max over
 * N changes (default 100). Goal: p99 well under a second (the agent's drift
 * detection rides on it).
 *
 *   drift_latency [N]
 */
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "devcluster/devcluster.h"
#include "sync/kube.h"
#include "sync/watch.h"
#include "core/banned.h"

struct dc {
	uv_loop_t loop;
	uv_async_t stop;
	ks_devcluster *dc;
	pthread_t thread;
};

static void on_stop(uv_async_t *a)
{
	struct dc *d = a->data;
	ks_devcluster_stop(d->dc);
	uv_close((uv_handle_t *)&d->stop, NULL);
}

static void *run(void *arg)
{
	struct dc *d = arg;
	uv_run(&d->loop, UV_RUN_DEFAULT);
	return NULL;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static unsigned long calls;

static void on_change(void *ud, const char *app)
{
	(void)ud;
	if (strcmp(app, "bench"))
		return;
	pthread_mutex_lock(&mu);
	calls++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int kube_send(ks_kube_client *c, const char *method, const char *path,
		     const char *ctype, const char *body)
{
	ks_kube_req r = {.method = method,
			 .path = path,
			 .content_type = ctype,
			 .body = body,
			 .body_len = strlen(body)};
	ks_kube_resp resp;
	ks_error err;
	int rc = ks_kube_request(c, &r, &resp, &err);
	if (rc)
		fprintf(stderr, "drift_latency: %s\n", err.msg);
	ks_kube_resp_release(&resp);
	return rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100;
	if (n < 1)
		n = 100;
	struct dc d;
	memset(&d, 0, sizeof(d));
	uv_loop_init(&d.loop);
	uv_async_init(&d.loop, &d.stop, on_stop);
	d.stop.data = &d;
	ks_devcluster_opts o = {.listen = "127.0.0.1:0", .quiet = true};
	ks_error err;
	if (ks_devcluster_start(&d.dc, &d.loop, &o, &err)) {
		fprintf(stderr, "drift_latency: devcluster: %s\n", err.msg);
		return 1;
	}
	char url[128];
	snprintf(url, sizeof(url), "%s", ks_devcluster_url(d.dc));
	pthread_create(&d.thread, NULL, run, &d);

	ks_kube_config cfg = {.server = url,
			      .namespace = (char *)(uintptr_t) "default"};
	ks_kube_client *c;
	if (ks_kube_client_new(&c, &cfg, NULL, &err))
		return 1;
	if (kube_send(c, "POST", "/api/v1/namespaces/default/configmaps", NULL,
		      "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
		      "\"metadata\":"
		      "{\"name\":\"bench\",\"labels\":{\"kusync.io/app\":"
		      "\"bench\"}},\"data\":{\"x\":\"0\"}}"))
		return 1;
	json_t *kinds =
		json_pack("[s, s]", "v1:ConfigMap", "apps/v1:Deployment");
	ks_watch *w;
	if (ks_watch_start(&w, c, kinds, 0, on_change, NULL, &err)) {
		fprintf(stderr, "drift_latency: %s\n", err.msg);
		return 1;
	}
	json_decref(kinds);
	double t0 = now_ms();
	while (!ks_watch_synced(w) && now_ms() - t0 < 10000) {
		struct timespec ts = {0, 1000000L};
		nanosleep(&ts, NULL);
	}
	double synced_ms = now_ms() - t0;

	double *lat = calloc((size_t)n, sizeof(double));
	long done = 0, lost = 0;
	for (long i = 0; i < n; i++) {
		char body[128];
		snprintf(body, sizeof(body), "{\"data\":{\"x\":\"%ld\"}}",
			 i + 1);
		pthread_mutex_lock(&mu);
		unsigned long before = calls;
		pthread_mutex_unlock(&mu);
		double start = now_ms();
		if (kube_send(c, "PATCH",
			      "/api/v1/namespaces/default/configmaps/bench",
			      "application/merge-patch+json", body))
			return 1;
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 5;
		pthread_mutex_lock(&mu);
		int rc = 0;
		while (calls == before && rc == 0)
			rc = pthread_cond_timedwait(&cv, &mu, &dl);
		bool seen = calls != before;
		pthread_mutex_unlock(&mu);
		if (!seen) {
			lost++;
			continue;
		}
		lat[done++] = now_ms() - start;
	}
	ks_watch_stop(w);
	ks_kube_client_free(c);
	uv_async_send(&d.stop);
	pthread_join(d.thread, NULL);
	uv_run(&d.loop, UV_RUN_DEFAULT);
	uv_loop_close(&d.loop);

	if (!done) {
		fprintf(stderr, "drift_latency: no change was seen\n");
		free(lat);
		return 1;
	}
	qsort(lat, (size_t)done, sizeof(double), cmp_double);
	size_t p99 = (size_t)((double)done * 0.99);
	if (p99 >= (size_t)done)
		p99 = (size_t)done - 1;
	printf("drift latency (PATCH sent -> watch callback), %ld changes, "
	       "in-process devcluster over loopback:\n",
	       done);
	printf("  first LIST synced after %.1f ms\n", synced_ms);
	printf("  p50 %.2f ms  p99 %.2f ms  max %.2f ms  (lost %ld)\n",
	       lat[done / 2], lat[p99], lat[done - 1], lost);
	free(lat);
	return lost ? 1 : 0;
}
