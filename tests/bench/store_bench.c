/*
 * The local release store's cost per operation, for a release of a
 * synthetic 100-resource app (34 Deployments, 33 Services, 33 ConfigMaps,
 * with a plan as large as the resources, as the pipeline stores it):
 *
 *   put            a new Succeeded release (gzip, temp file, fsync, rename,
 *                  folder fsync; pruning past historyLimit 20 reads
 *                  nothing, the new release being the rollback target)
 *   put (failed)   a new Failed release while the last Succeeded one is
 *                  older than the history: pruning reads back the history
 *                  to find it (the worst case)
 *   list           all 20 releases of the app, newest first
 *   read (1)       the one release of another app (reading one record)
 *   baseline       the same gzip'd bytes written by hand the same durable
 *                  way (open, write, fsync, rename, folder fsync): what
 *                  this disk allows a durable put, side by side
 *
 * Median and p99 over N runs (default 200) of each, in milliseconds.
 * Usage: store_bench [RUNS] [DIR]  (DIR: where to write; default $TMPDIR).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "agent/store.h"
#include "core/error.h"

#define APP "bench-prod-web"
#define HISTORY 20

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static json_t *resource(int i)
{
	char name[64];
	snprintf(name, sizeof name, "web-%03d", i);
	json_t *labels = json_pack("{s:s, s:s, s:s}", "kusync.io/app", APP,
				   "app.kubernetes.io/name", name,
				   "app.kubernetes.io/part-of", "bench");
	json_t *meta = json_pack("{s:s, s:s, s:o}", "name", name, "namespace",
				 "bench-prod", "labels", labels);
	switch (i % 3) {
	case 0:
		return json_pack(
			"{s:s, s:s, s:o, s:{s:i, s:{s:{s:s}}, s:{s:{s:{s:s}}, "
			"s:{s:[{s:s, s:s, s:[{s:i, s:s}], s:[{s:s, s:s}, "
			"{s:s, s:s}], s:{s:{s:s, s:s}, s:{s:s, s:s}}, "
			"s:{s:{s:s, s:i}}}]}}}}",
			"apiVersion", "apps/v1", "kind", "Deployment",
			"metadata", meta, "spec", "replicas", 3, "selector",
			"matchLabels", "app.kubernetes.io/name", name,
			"template", "metadata", "labels",
			"app.kubernetes.io/name", name, "spec", "containers",
			"name", "main", "image",
			"registry.example.com/team/web:1.24.3", "ports",
			"containerPort", 8080, "protocol", "TCP", "env", "name",
			"LOG_LEVEL", "value", "info", "name", "REGION", "value",
			"eu-west-1", "resources", "requests", "cpu", "250m",
			"memory", "256Mi", "limits", "cpu", "1", "memory",
			"512Mi", "readinessProbe", "httpGet", "path",
			"/healthz", "port", 8080);
	case 1:
		return json_pack("{s:s, s:s, s:o, s:{s:s, s:{s:s}, s:[{s:s, "
				 "s:i, s:i, s:s}]}}",
				 "apiVersion", "v1", "kind", "Service",
				 "metadata", meta, "spec", "type", "ClusterIP",
				 "selector", "app.kubernetes.io/name", name,
				 "ports", "name", "http", "port", 80,
				 "targetPort", 8080, "protocol", "TCP");
	default:
		return json_pack("{s:s, s:s, s:o, s:{s:s, s:s, s:s}}",
				 "apiVersion", "v1", "kind", "ConfigMap",
				 "metadata", meta, "data", "app.yaml",
				 "server:\n  port: 8080\n  timeout: 30s\n",
				 "feature-flags", "new-ui=true,beta=false",
				 "owner", "team-web@example.com");
	}
}

/* A release record as the pipeline stores it, NUMBER and PHASE given. */
static json_t *release(json_t *resources, long long number, const char *phase)
{
	char commit[41];
	snprintf(commit, sizeof commit, "%040llx", number * 7919);
	json_t *plan = json_array();
	size_t i;
	json_t *r;
	json_array_foreach(resources, i, r)
	{
		json_array_append_new(plan,
				      json_pack("{s:s, s:O, s:O}", "action",
						"update", "object",
						json_object_get(r, "metadata"),
						"after", r));
	}
	return json_pack(
		"{s:s, s:I, s:s, s:s, s:s, s:{s:s, s:[s], s:{s:b, s:b, s:s}}, "
		"s:O, s:o, s:s, s:[{s:s, s:s, s:s}], s:[], s:[], s:s, s:s, "
		"s:s}",
		"app", APP, "number", (json_int_t)number, "commit", commit,
		"specHash",
		"3f8a2b1c9d0e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f"
		"9",
		"source", "demo", "appConfig", "namespace", "bench-prod",
		"cells", "default", "pipeline", "manualApprove", 0,
		"rollbackIfFailed", 1, "timeout", "10m", "resources", resources,
		"plan", plan, "phase", phase, "cells", "zone", "", "cell",
		"default", "phase", phase, "approvals", "policy", "startedAt",
		"2026-11-25T12:00:00Z", "finishedAt", "2026-11-25T12:01:00Z",
		"message", "");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	int p99 = (int)((double)n * 0.99 + 0.999999) - 1;
	if (p99 >= n)
		p99 = n - 1;
	printf("  %-14s median %8.3f ms   p99 %8.3f ms   max %8.3f ms\n", what,
	       v[n / 2], v[p99], v[n - 1]);
}

static void die(const char *what, const ks_error *err)
{
	fprintf(stderr, "store_bench: %s: %s\n", what, err->msg);
	exit(1);
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 200;
	if (runs < 1)
		runs = 200;
	const char *base = argc > 2 ? argv[2] : getenv("TMPDIR");
	char dir[512];
	snprintf(dir, sizeof dir, "%s/ks-store-bench-XXXXXX",
		 base ? base : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	ks_store *s;
	ks_error err;
	if (ks_store_open_local(&s, dir, HISTORY, &err))
		die("open", &err);

	json_t *resources = json_array();
	for (int i = 0; i < 100; i++)
		json_array_append_new(resources, resource(i));
	json_t *sample = release(resources, 1, "Succeeded");
	size_t jsonlen = json_dumpb(sample, NULL, 0, JSON_COMPACT);
	json_decref(sample);

	double *put = calloc((size_t)runs, sizeof *put);
	double *putf = calloc((size_t)runs, sizeof *putf);
	double *list = calloc((size_t)runs, sizeof *list);
	long long number = 0;
	size_t listed = 0;
	for (int i = 0; i < runs; i++) {
		json_t *r = release(resources, ++number, "Succeeded");
		double t0 = now_ms();
		if (ks_store_put(s, r, &err))
			die("put", &err);
		put[i] = now_ms() - t0;
		json_decref(r);
	}
	for (int i = 0; i < runs; i++) {
		json_t *arr;
		double t0 = now_ms();
		if (ks_store_list(s, APP, &arr, NULL, &err))
			die("list", &err);
		list[i] = now_ms() - t0;
		listed = json_array_size(arr);
		json_decref(arr);
	}
	/* The last Succeeded release is now number RUNS; Failed ones pile up
	 * on top until it is older than the history, and then every put
	 * reads the history back to find it. */
	for (int i = 0; i < HISTORY; i++) {
		json_t *r = release(resources, ++number, "Failed");
		if (ks_store_put(s, r, &err))
			die("put", &err);
		json_decref(r);
	}
	for (int i = 0; i < runs; i++) {
		json_t *r = release(resources, ++number, "Failed");
		double t0 = now_ms();
		if (ks_store_put(s, r, &err))
			die("put", &err);
		putf[i] = now_ms() - t0;
		json_decref(r);
	}

	char gzpath[700];
	snprintf(gzpath, sizeof gzpath, "%s/releases/%s/%lld.json.gz", dir, APP,
		 number);
	FILE *f = fopen(gzpath, "rb");
	long gzlen = -1;
	if (f && fseek(f, 0, SEEK_END) == 0)
		gzlen = ftell(f);
	if (f)
		fclose(f);

	/* one record of another app, read back */
	double *read1 = calloc((size_t)runs, sizeof *read1);
	json_t *one = release(resources, 1, "Succeeded");
	json_object_set_new(one, "app", json_string(APP "-one"));
	if (ks_store_put(s, one, &err))
		die("put", &err);
	json_decref(one);
	for (int i = 0; i < runs; i++) {
		json_t *arr;
		double t0 = now_ms();
		if (ks_store_list(s, APP "-one", &arr, NULL, &err))
			die("read", &err);
		read1[i] = now_ms() - t0;
		if (json_array_size(arr) != 1)
			die("read", &err);
		json_decref(arr);
	}
	/* the baseline: the record's bytes written durably by hand */
	double *base_w = calloc((size_t)runs, sizeof *base_w);
	char *bytes = NULL;
	f = fopen(gzpath, "rb");
	if (f && gzlen > 0) {
		bytes = malloc((size_t)gzlen);
		if (fread(bytes, 1, (size_t)gzlen, f) != (size_t)gzlen)
			gzlen = -1;
	}
	if (f)
		fclose(f);
	for (int i = 0; i < runs && bytes && gzlen > 0; i++) {
		char tmp[760], dst[760];
		snprintf(tmp, sizeof tmp, "%s/baseline.tmp", dir);
		snprintf(dst, sizeof dst, "%s/baseline-%d.json.gz", dir, i);
		double t0 = now_ms();
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, bytes, (size_t)gzlen) != gzlen ||
		    fsync(fd) || close(fd) || rename(tmp, dst)) {
			perror("baseline");
			return 1;
		}
		int dfd = open(dir, O_RDONLY | O_DIRECTORY);
		if (dfd < 0 || fsync(dfd) || close(dfd)) {
			perror("baseline");
			return 1;
		}
		base_w[i] = now_ms() - t0;
	}
	free(bytes);

	printf("store (local, %s): 100-resource release, %zu bytes of JSON, "
	       "%ld gzip'd; historyLimit %d; %d runs\n",
	       dir, jsonlen, gzlen, HISTORY, runs);
	report("put", put, runs);
	report("put (failed)", putf, runs);
	char what[32];
	snprintf(what, sizeof what, "list (%zu)", listed);
	report(what, list, runs);
	report("read (1)", read1, runs);
	report("baseline", base_w, runs);
	printf("  put / baseline (medians): the store's gzip, JSON and "
	       "pruning on top of the disk's durable write\n");
	free(read1);
	free(base_w);

	free(put);
	free(putf);
	free(list);
	json_decref(resources);
	ks_store_free(s);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
