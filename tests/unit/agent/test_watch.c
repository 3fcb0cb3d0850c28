/* The watch cache against an in-process devcluster: labelled objects show
 * up, change and vanish as the cluster changes; a server that goes away and
 * comes back is resumed, one that lost our resourceVersion (410) re-listed;
 * an unserved kind is picked up at a resync; stopping is prompt. */
#include "ks_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/http.h"
#include "dc_thread.h"
#include "sync/plan.h"
#include "sync/watch.h"

/* ---- helpers ---- */

struct calls {
	pthread_mutex_t mu;
	json_t *count; /* app -> number of callbacks */
	unsigned total;
};

static void on_change(void *ud, const char *app)
{
	struct calls *c = ud;
	pthread_mutex_lock(&c->mu);
	json_int_t n = json_integer_value(json_object_get(c->count, app));
	json_object_set_new(c->count, app, json_integer(n + 1));
	c->total++;
	pthread_mutex_unlock(&c->mu);
}

static void calls_init(struct calls *c)
{
	pthread_mutex_init(&c->mu, NULL);
	c->count = json_object();
	c->total = 0;
}

static void calls_release(struct calls *c)
{
	json_decref(c->count);
	pthread_mutex_destroy(&c->mu);
}

static json_int_t calls_of(struct calls *c, const char *app)
{
	pthread_mutex_lock(&c->mu);
	json_int_t n = json_integer_value(json_object_get(c->count, app));
	pthread_mutex_unlock(&c->mu);
	return n;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap(void)
{
	struct timespec ts = {0, 10 * 1000000L};
	nanosleep(&ts, NULL);
}

/* Whether APP got at least MIN callbacks within 5 s (a callback follows
 * the cache change it reports, so it may come a moment after the change
 * is visible). */
static bool got_calls(struct calls *c, const char *app, json_int_t min)
{
	int64_t t0 = now_ms();
	while (calls_of(c, app) < min && now_ms() - t0 < 5000)
		nap();
	return calls_of(c, app) >= min;
}

static void req(ks_kube_client *c, const char *method, const char *path,
		const char *ctype, const char *body, long want)
{
	ks_kube_req r = {.method = method,
			 .path = path,
			 .content_type = ctype,
			 .body = body,
			 .body_len = body ? strlen(body) : 0};
	ks_kube_resp resp;
	ks_error err;
	int rc = ks_kube_request(c, &r, &resp, &err);
	if (rc || resp.status != want)
		fprintf(stderr, "%s %s: %ld %s\n", method, path, resp.status,
			rc ? err.msg : "");
	assert_int_equal(resp.status, want);
	ks_kube_resp_release(&resp);
}

static void create_cm(ks_kube_client *c, const char *name, const char *app,
		      const char *value)
{
	char body[512];
	if (app)
		snprintf(body, sizeof(body),
			 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
			 "\"metadata\":{\"name\":\"%s\",\"labels\":{"
			 "\"kusync.io/app\":\"%s\"}},\"data\":{\"x\":\"%s\"}}",
			 name, app, value);
	else
		snprintf(body, sizeof(body),
			 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
			 "\"metadata\":{\"name\":\"%s\"},\"data\":{\"x\":\"%"
			 "s\"}}",
			 name, value);
	req(c, "POST", "/api/v1/namespaces/default/configmaps", NULL, body,
	    201);
}

static void patch_cm(ks_kube_client *c, const char *name, const char *patch)
{
	char path[256];
	snprintf(path, sizeof(path), "/api/v1/namespaces/default/configmaps/%s",
		 name);
	req(c, "PATCH", path, "application/merge-patch+json", patch, 200);
}

/* The object of APP in the cache whose kind and name are given, or NULL
 * (a new reference). */
static json_t *find(ks_watch *w, const char *app, const char *kind,
		    const char *name)
{
	json_t *objs = ks_watch_objects(w, app);
	json_t *found = NULL;
	size_t i;
	json_t *o;
	json_array_foreach(objs, i, o)
	{
		const char *k = json_string_value(json_object_get(o, "kind"));
		const char *n = json_string_value(json_object_get(
			json_object_get(o, "metadata"), "name"));
		if (k && n && !strcmp(k, kind) && !strcmp(n, name))
			found = json_incref(o);
	}
	json_decref(objs);
	return found;
}

/* The data.x of the ConfigMap NAME of APP, or "" when absent (static). */
static const char *cm_x(ks_watch *w, const char *app, const char *name)
{
	static char buf[128];
	json_t *o = find(w, app, "ConfigMap", name);
	const char *x = json_string_value(
		json_object_get(json_object_get(o, "data"), "x"));
	snprintf(buf, sizeof(buf), "%s", x ? x : "");
	json_decref(o);
	return buf;
}

/* Waits up to MS for the ConfigMap's data.x to be WANT ("" = absent);
 * returns the milliseconds it took, or -1. */
static int64_t wait_cm(ks_watch *w, const char *app, const char *name,
		       const char *want, int64_t ms)
{
	int64_t t0 = now_ms();
	while (now_ms() - t0 < ms) {
		if (!strcmp(cm_x(w, app, name), want))
			return now_ms() - t0;
		nap();
	}
	fprintf(stderr, "%s/%s: x is \"%s\", want \"%s\"\n", app, name,
		cm_x(w, app, name), want);
	return -1;
}

static bool wait_synced(ks_watch *w, int64_t ms)
{
	int64_t t0 = now_ms();
	while (now_ms() - t0 < ms) {
		if (ks_watch_synced(w))
			return true;
		nap();
	}
	return false;
}

/* The watch of the running test, stopped by the teardown when the test
 * failed before stopping it (its threads would go on calling back into a
 * finished test). */
static ks_watch *live_watch;

static int start_watch(ks_watch **out, ks_kube_client *c, const json_t *kinds,
		       int64_t resync_ms, ks_watch_cb cb, void *ud,
		       ks_error *err)
{
	int rc = ks_watch_start(out, c, kinds, resync_ms, cb, ud, err);
	if (rc == 0)
		live_watch = *out;
	return rc;
}

static void stop_promptly(ks_watch *w)
{
	int64_t t0 = now_ms();
	if (w == live_watch)
		live_watch = NULL;
	ks_watch_stop(w);
	int64_t took = now_ms() - t0;
	if (took >= 1500)
		fprintf(stderr, "stop took %lld ms\n", (long long)took);
	assert_true(took < 1500);
}

static ks_kube_client *client_for(const char *url)
{
	ks_kube_config cfg = {.server = (char *)(uintptr_t)url,
			      .namespace = (char *)(uintptr_t) "default"};
	ks_kube_client *c;
	ks_error err;
	assert_int_equal(ks_kube_client_new(&c, &cfg, NULL, &err), 0);
	return c;
}

/* ---- tests ---- */

static void watch_follows_labelled_objects(void **state)
{
	(void)state;
	ks_dc_thread t;
	ks_dc_thread_start(&t, NULL);
	static struct calls calls; /* the watch's threads write it */
	calls_init(&calls);
	ks_kube_client *c = t.client;
	create_cm(c, "before", "shop", "1");
	create_cm(c, "plain", NULL, "1");

	json_t *kinds =
		json_pack("[s, {s:s, s:s}]", "v1:ConfigMap", "apiVersion",
			  "apps/v1", "kind", "Deployment");
	ks_watch *w;
	ks_error err;
	assert_int_equal(start_watch(&w, c, kinds, 0, on_change, &calls, &err),
			 0);
	json_decref(kinds);
	assert_true(wait_synced(w, 5000));

	/* the first LIST: with apiVersion and kind, and a callback */
	json_t *o = find(w, "shop", "ConfigMap", "before");
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "apiVersion")),
			    "v1");
	assert_non_null(json_object_get(json_object_get(o, "metadata"),
					"resourceVersion"));
	json_decref(o);
	assert_true(got_calls(&calls, "shop", 1));

	/* a new labelled object appears within a second */
	json_int_t before = calls_of(&calls, "shop");
	create_cm(c, "new", "shop", "a");
	int64_t took = wait_cm(w, "shop", "new", "a", 5000);
	assert_true(took >= 0);
	assert_true(took < 1000);
	assert_true(got_calls(&calls, "shop", before + 1));

	/* a Deployment of another app */
	req(c, "POST", "/apis/apps/v1/namespaces/default/deployments", NULL,
	    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	    "\"metadata\":{\"name\":\"web\",\"labels\":{\"kusync.io/app\":"
	    "\"web\"}},\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":"
	    "{\"a\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"a\":"
	    "\"web\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":"
	    "\"nginx\"}]}}}}",
	    201);
	int64_t t0 = now_ms();
	while (!(o = find(w, "web", "Deployment", "web")) &&
	       now_ms() - t0 < 5000)
		nap();
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "apiVersion")),
			    "apps/v1");
	json_decref(o);
	assert_true(got_calls(&calls, "web", 1));

	/* an unlabelled object never shows (events arrive in order: once
	 * the marker is seen, the unlabelled one was handled) */
	create_cm(c, "plain2", NULL, "1");
	create_cm(c, "marker", "shop", "m");
	assert_true(wait_cm(w, "shop", "marker", "m", 5000) >= 0);
	assert_string_equal(cm_x(w, "shop", "plain"), "");
	assert_string_equal(cm_x(w, "shop", "plain2"), "");
	assert_int_equal(calls_of(&calls, ""), 0);

	/* a modification */
	patch_cm(c, "new", "{\"data\":{\"x\":\"b\"}}");
	assert_true(wait_cm(w, "shop", "new", "b", 5000) >= 0);

	/* moving an object to another app notifies both */
	before = calls_of(&calls, "shop");
	patch_cm(c, "marker",
		 "{\"metadata\":{\"labels\":{\"kusync.io/app\":\"other\"}}}");
	assert_true(wait_cm(w, "other", "marker", "m", 5000) >= 0);
	assert_string_equal(cm_x(w, "shop", "marker"), "");
	assert_true(got_calls(&calls, "shop", before + 1));

	/* losing the label removes it */
	patch_cm(c, "marker",
		 "{\"metadata\":{\"labels\":{\"kusync.io/app\":null}}}");
	assert_true(wait_cm(w, "other", "marker", "", 5000) >= 0);

	/* a delete */
	before = calls_of(&calls, "shop");
	req(c, "DELETE", "/api/v1/namespaces/default/configmaps/before", NULL,
	    NULL, 200);
	assert_true(wait_cm(w, "shop", "before", "", 5000) >= 0);
	assert_true(got_calls(&calls, "shop", before + 1));
	json_t *objs = ks_watch_objects(w, "shop");
	assert_int_equal(json_array_size(objs), 1); /* "new" */
	json_decref(objs);
	objs = ks_watch_objects(w, "nobody");
	assert_int_equal(json_array_size(objs), 0);
	json_decref(objs);

	stop_promptly(w);
	calls_release(&calls);
	ks_dc_thread_stop(&t);
}

/* More objects than a LIST page holds: every page is read, and the watch
 * starts from the list's resourceVersion (no object is missed or
 * doubled). */
static void first_list_reads_every_page(void **state)
{
	(void)state;
	ks_dc_thread t;
	ks_dc_thread_start(&t, NULL);
	/* without the client's rate limit, to fill the cluster quickly */
	ks_kube_client_opts opts;
	ks_kube_client_opts_default(&opts);
	opts.qps = 0;
	ks_kube_config cfg = {.server = t.url,
			      .namespace = (char *)(uintptr_t) "default"};
	ks_kube_client *c;
	ks_error err;
	assert_int_equal(ks_kube_client_new(&c, &cfg, &opts, &err), 0);
	char name[32];
	for (int i = 0; i < 1100; i++) {
		snprintf(name, sizeof(name), "cm-%04d", i);
		create_cm(c, name, i % 2 ? "odd" : "even", "1");
	}
	json_t *kinds = json_pack("[s]", "v1:ConfigMap");
	ks_watch *w;
	assert_int_equal(start_watch(&w, c, kinds, 0, NULL, NULL, &err), 0);
	json_decref(kinds);
	assert_true(wait_synced(w, 10000));
	json_t *objs = ks_watch_objects(w, "odd");
	assert_int_equal(json_array_size(objs), 550);
	/* sorted by id */
	const char *first = json_string_value(json_object_get(
		json_object_get(json_array_get(objs, 0), "metadata"), "name"));
	assert_string_equal(first, "cm-0001");
	json_decref(objs);
	objs = ks_watch_objects(w, "even");
	assert_int_equal(json_array_size(objs), 550);
	json_decref(objs);
	create_cm(c, "cm-late", "odd", "1");
	assert_true(wait_cm(w, "odd", "cm-late", "1", 5000) >= 0);
	objs = ks_watch_objects(w, "odd");
	assert_int_equal(json_array_size(objs), 551);
	json_decref(objs);
	stop_promptly(w);
	ks_kube_client_free(c);
	ks_dc_thread_stop(&t);
}

/* Starts a devcluster with a state file on PORT (0: any). */
static void start_dc(ks_dc_thread *t, const char *state, int port)
{
	char listen[64];
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	ks_devcluster_opts o = {
		.listen = listen, .quiet = true, .state_file = state};
	ks_dc_thread_start(t, &o);
}

static int port_of(const char *url)
{
	const char *colon = strrchr(url, ':');
	return colon ? (int)strtol(colon + 1, NULL, 10) : 0;
}

/* Rewrites the saved state as if the cluster had moved on while we were
 * away: resourceVersion + 100, ConfigMap NAME's x set to X, GONE deleted;
 * none of it in any event log. */
static void edit_state(const char *state, const char *name, const char *x,
		       const char *gone)
{
	json_error_t je;
	json_t *root = json_load_file(state, 0, &je);
	assert_non_null(root);
	json_int_t rv =
		json_integer_value(json_object_get(root, "resourceVersion"));
	assert_true(rv > 0);
	json_object_set_new(root, "resourceVersion", json_integer(rv + 100));
	json_t *objs = json_object_get(root, "objects");
	bool changed = false;
	for (size_t i = 0; i < json_array_size(objs);) {
		json_t *o = json_array_get(objs, i);
		const char *n = json_string_value(json_object_get(
			json_object_get(o, "metadata"), "name"));
		const char *k = json_string_value(json_object_get(o, "kind"));
		if (n && k && !strcmp(k, "ConfigMap") && !strcmp(n, gone)) {
			json_array_remove(objs, i);
			continue;
		}
		if (n && k && !strcmp(k, "ConfigMap") && !strcmp(n, name)) {
			json_object_set_new(json_object_get(o, "data"), "x",
					    json_string(x));
			char rvs[32];
			snprintf(rvs, sizeof(rvs), "%lld",
				 (long long)(rv + 100));
			json_object_set_new(json_object_get(o, "metadata"),
					    "resourceVersion",
					    json_string(rvs));
			changed = true;
		}
		i++;
	}
	assert_true(changed);
	assert_int_equal(json_dump_file(root, state, JSON_COMPACT), 0);
	json_decref(root);
}

static void watch_survives_restarts_and_410(void **state)
{
	(void)state;
	char dir[] = "/tmp/ks-watch-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char statef[128];
	snprintf(statef, sizeof(statef), "%s/state.json", dir);

	ks_dc_thread t;
	start_dc(&t, statef, 0);
	int port = port_of(t.url);
	ks_kube_client *c = client_for(t.url);
	create_cm(c, "c1", "shop", "1");
	create_cm(c, "c2", "shop", "2");

	static struct calls calls; /* the watch's threads write it */
	calls_init(&calls);
	json_t *kinds = json_pack("[s]", "v1:ConfigMap");
	ks_watch *w;
	ks_error err;
	assert_int_equal(start_watch(&w, c, kinds, 0, on_change, &calls, &err),
			 0);
	json_decref(kinds);
	assert_true(wait_synced(w, 5000));
	assert_string_equal(cm_x(w, "shop", "c1"), "1");

	/* the server goes away and comes back on the same port: the watch
	 * reconnects and sees what happens next */
	ks_dc_thread_stop(&t);
	start_dc(&t, statef, port);
	create_cm(c, "c3", "shop", "3");
	assert_true(wait_cm(w, "shop", "c3", "3", 10000) >= 0);
	assert_string_equal(cm_x(w, "shop", "c1"), "1");

	/* away again; meanwhile the cluster moved on beyond any event log
	 * (c1 changed, c2 deleted): the resumed watch gets 410 Gone, and only
	 * a new LIST can see those changes */
	ks_dc_thread_stop(&t);
	edit_state(statef, "c1", "offline", "c2");
	json_int_t before = calls_of(&calls, "shop");
	start_dc(&t, statef, port);
	assert_true(wait_cm(w, "shop", "c1", "offline", 10000) >= 0);
	assert_true(wait_cm(w, "shop", "c2", "", 5000) >= 0);
	assert_string_equal(cm_x(w, "shop", "c3"), "3");
	assert_true(got_calls(&calls, "shop", before + 1));
	/* and it watches again after the re-list */
	create_cm(c, "c4", "shop", "4");
	assert_true(wait_cm(w, "shop", "c4", "4", 5000) >= 0);

	stop_promptly(w);
	calls_release(&calls);
	ks_kube_client_free(c);
	ks_dc_thread_stop(&t);
	unlink(statef);
	rmdir(dir);
}

static void unserved_kind_is_picked_up_at_resync(void **state)
{
	(void)state;
	ks_dc_thread t;
	ks_dc_thread_start(&t, NULL);
	ks_kube_client *c = t.client;
	json_t *kinds = json_pack("[s]", "example.com/v1:Widget");
	ks_watch *w;
	ks_error err;
	assert_int_equal(start_watch(&w, c, kinds, 300, NULL, NULL, &err), 0);
	json_decref(kinds);
	/* not served: synced, nothing cached, and said so */
	assert_true(wait_synced(w, 5000));
	json_t *st = ks_watch_status(w);
	assert_int_equal(json_array_size(st), 1);
	json_t *st0 = json_array_get(st, 0);
	assert_string_equal(json_string_value(json_object_get(st0, "kind")),
			    "example.com/v1:Widget");
	assert_true(json_is_false(json_object_get(st0, "served")));
	assert_true(json_is_true(json_object_get(st0, "synced")));
	assert_non_null(strstr(json_string_value(json_object_get(st0, "error")),
			       "does not serve \"example.com/v1:Widget\""));
	json_decref(st);

	req(c, "POST",
	    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", NULL,
	    "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":"
	    "\"CustomResourceDefinition\",\"metadata\":{\"name\":"
	    "\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
	    "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"widgets\","
	    "\"singular\":\"widget\",\"kind\":\"Widget\"},\"versions\":[{"
	    "\"name\":\"v1\",\"served\":true,\"storage\":true,\"schema\":{"
	    "\"openAPIV3Schema\":{\"type\":\"object\","
	    "\"x-kubernetes-preserve-unknown-fields\":true}}}]}}",
	    201);
	req(c, "POST", "/apis/example.com/v1/namespaces/default/widgets", NULL,
	    "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\","
	    "\"metadata\":{\"name\":\"w1\",\"labels\":{\"kusync.io/app\":"
	    "\"shop\"}},\"spec\":{\"size\":1}}",
	    201);
	json_t *o = NULL;
	int64_t t0 = now_ms();
	while (!(o = find(w, "shop", "Widget", "w1")) && now_ms() - t0 < 5000)
		nap();
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "apiVersion")),
			    "example.com/v1");
	json_decref(o);
	st = ks_watch_status(w);
	st0 = json_array_get(st, 0);
	assert_true(json_is_true(json_object_get(st0, "served")));
	assert_true(json_is_null(json_object_get(st0, "error")));
	assert_int_equal(json_integer_value(json_object_get(st0, "objects")),
			 1);
	json_decref(st);

	/* once served it is watched, not only re-listed */
	req(c, "PATCH", "/apis/example.com/v1/namespaces/default/widgets/w1",
	    "application/merge-patch+json", "{\"spec\":{\"size\":2}}", 200);
	t0 = now_ms();
	json_int_t size = 0;
	while (size != 2 && now_ms() - t0 < 5000) {
		o = find(w, "shop", "Widget", "w1");
		size = json_integer_value(
			json_object_get(json_object_get(o, "spec"), "size"));
		json_decref(o);
		nap();
	}
	assert_int_equal(size, 2);
	stop_promptly(w);
	ks_dc_thread_stop(&t);
}

/* A listener that never accepts: requests hang until stopped. */
static int blackhole(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	socklen_t len = sizeof(a);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void stop_is_prompt_when_the_server_hangs_or_is_gone(void **state)
{
	(void)state;
	int port;
	int fd = blackhole(&port);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	ks_kube_client *c = client_for(url);
	json_t *kinds =
		json_pack("[s, s]", "v1:ConfigMap", "apps/v1:Deployment");
	ks_watch *w;
	ks_error err;
	assert_int_equal(start_watch(&w, c, kinds, 0, NULL, NULL, &err), 0);
	struct timespec ts = {0, 300 * 1000000L};
	nanosleep(&ts, NULL);
	assert_false(ks_watch_synced(w));
	stop_promptly(w);
	close(fd);

	/* nothing listens any more: connections are refused, the watch backs
	 * off and says why */
	assert_int_equal(start_watch(&w, c, kinds, 0, NULL, NULL, &err), 0);
	nanosleep(&ts, NULL);
	assert_false(ks_watch_synced(w));
	json_t *st = ks_watch_status(w);
	assert_int_equal(json_array_size(st), 2);
	const char *e1 = json_string_value(
		json_object_get(json_array_get(st, 1), "error"));
	assert_non_null(e1);
	assert_non_null(strstr(e1, url));
	json_decref(st);
	stop_promptly(w);
	json_decref(kinds);
	ks_kube_client_free(c);
}

/* ---- a scripted API server: bookmarks, split lines, ERROR 410 ---- */

struct script {
	pthread_mutex_t mu;
	unsigned lists;
	char watch_rvs[8][32]; /* resourceVersion of each watch */
	unsigned watches;
	ks_http_exchange *held; /* the last watch, kept open */
	bool quiet;		/* watches stay open and silent; lists change */
	uv_loop_t loop;
	uv_async_t stop;
	ks_http_server *http;
	pthread_t thread;
	int port;
};

static void send_json(ks_http_exchange *ex, int status, const char *body)
{
	ks_http_header h = {"Content-Type", "application/json"};
	ks_http_respond(ex, status, &h, 1, body, strlen(body));
}

static void held_closed(void *ud)
{
	struct script *sc = ud;
	if (sc->held)
		ks_http_drop(sc->held);
	sc->held = NULL;
}

static void stream_lines(ks_http_exchange *ex, const char *const *chunks)
{
	ks_http_header h = {"Content-Type", "application/json"};
	ks_http_stream_begin(ex, 200, &h, 1);
	for (size_t i = 0; chunks[i]; i++)
		ks_http_stream_write(ex, chunks[i], strlen(chunks[i]));
}

#define CM_A(x, rv)                                                            \
	"{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\","             \
	"\"resourceVersion\":\"" rv "\",\"labels\":{\"kusync.io/app\":"        \
	"\"shop\"}},\"data\":{\"x\":\"" x "\"}}"

#define CM_B                                                                   \
	"{\"metadata\":{\"name\":\"b\",\"namespace\":\"default\","             \
	"\"resourceVersion\":\"8\",\"labels\":{\"kusync.io/app\":"             \
	"\"gone\"}},\"data\":{\"x\":\"b\"}}"

static void script_handler(void *ud, const ks_http_request *r,
			   ks_http_exchange *ex)
{
	struct script *sc = ud;
	if (!strcmp(r->path, "/api/v1")) {
		send_json(ex, 200,
			  "{\"kind\":\"APIResourceList\",\"groupVersion\":"
			  "\"v1\",\"resources\":[{\"name\":\"configmaps\","
			  "\"namespaced\":true,\"kind\":\"ConfigMap\","
			  "\"verbs\":[\"get\",\"list\",\"watch\"]}]}");
		return;
	}
	if (strcmp(r->path, "/api/v1/configmaps")) {
		send_json(ex, 404, "{}");
		return;
	}
	char *watch = ks_http_query_get(r->query, "watch");
	char *rv = ks_http_query_get(r->query, "resourceVersion");
	char *sel = ks_http_query_get(r->query, "labelSelector");
	bool selected = sel && !strcmp(sel, "kusync.io/app");
	free(sel);
	pthread_mutex_lock(&sc->mu);
	unsigned n;
	if (!watch) {
		n = ++sc->lists;
		pthread_mutex_unlock(&sc->mu);
		if (!selected)
			send_json(ex, 400, "{}");
		else if (n == 1 && sc->quiet)
			send_json(ex, 200,
				  "{\"kind\":\"ConfigMapList\",\"apiVersion\":"
				  "\"v1\",\"metadata\":{\"resourceVersion\":"
				  "\"10\"},\"items\":[" CM_A("1", "9") "," CM_B
								       "]}");
		else if (n == 1)
			send_json(ex, 200,
				  "{\"kind\":\"ConfigMapList\",\"apiVersion\":"
				  "\"v1\",\"metadata\":{\"resourceVersion\":"
				  "\"10\"},\"items\":[" CM_A("1", "9") "]}");
		else
			send_json(ex, 200,
				  "{\"kind\":\"ConfigMapList\",\"apiVersion\":"
				  "\"v1\",\"metadata\":{\"resourceVersion\":"
				  "\"50\"},\"items\":[" CM_A("relisted",
							     "45") "]}");
		free(rv);
		return;
	}
	n = sc->watches++;
	if (n < 8)
		snprintf(sc->watch_rvs[n], sizeof(sc->watch_rvs[n]), "%s",
			 rv ? rv : "");
	pthread_mutex_unlock(&sc->mu);
	free(watch);
	free(rv);
	if (sc->quiet) {
		const char *const chunks[] = {"", NULL};
		stream_lines(ex, chunks);
		if (sc->held)
			ks_http_drop(sc->held);
		sc->held = ex;
		ks_http_on_close(ex, held_closed, sc);
	} else if (n == 0) {
		/* a new object, its line split over two chunks, a bookmark,
		 * and the end of the stream */
		const char *const chunks[] = {
			"{\"type\":\"ADDED\",\"object\":{\"apiVersion\":\"v1\","
			"\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"b\","
			"\"namespace\":\"default\",\"resourceVersion\":\"11\","
			"\"labe",
			"ls\":{\"kusync.io/app\":\"shop\"}},\"data\":{\"x\":"
			"\"b\"}}}\n{\"type\":\"BOOKMARK\",\"object\":{\"kind\":"
			"\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{"
			"\"resourceVersion\":\"20\",\"creationTimestamp\":"
			"null}}}\n",
			NULL};
		stream_lines(ex, chunks);
		ks_http_stream_end(ex);
	} else if (n == 1) {
		const char *const chunks[] = {
			"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
			"\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
			"\"Failure\",\"message\":\"The resourceVersion for the "
			"provided watch is too old.\",\"reason\":\"Expired\","
			"\"code\":410}}\n",
			NULL};
		stream_lines(ex, chunks);
		ks_http_stream_end(ex);
	} else {
		const char *const chunks[] = {"", NULL};
		stream_lines(ex, chunks);
		if (sc->held)
			ks_http_drop(sc->held);
		sc->held = ex;
		ks_http_on_close(ex, held_closed, sc);
	}
}

static void script_on_stop(uv_async_t *a)
{
	struct script *sc = a->data;
	ks_http_server_close(sc->http, NULL, NULL);
	uv_close((uv_handle_t *)&sc->stop, NULL);
}

static void *script_run(void *arg)
{
	struct script *sc = arg;
	uv_run(&sc->loop, UV_RUN_DEFAULT);
	return NULL;
}

static struct script *live_script;

static ks_kube_client *script_start(struct script *sc, bool quiet)
{
	memset(sc, 0, sizeof(*sc));
	live_script = sc;
	sc->quiet = quiet;
	pthread_mutex_init(&sc->mu, NULL);
	assert_int_equal(uv_loop_init(&sc->loop), 0);
	uv_async_init(&sc->loop, &sc->stop, script_on_stop);
	sc->stop.data = sc;
	sc->http = ks_http_server_new(&sc->loop, NULL, script_handler, sc);
	ks_error err;
	assert_int_equal(ks_http_server_listen(sc->http, "127.0.0.1:0", &err),
			 0);
	sc->port = ks_http_server_port(sc->http);
	assert_int_equal(pthread_create(&sc->thread, NULL, script_run, sc), 0);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", sc->port);
	return client_for(url);
}

static void script_halt(struct script *sc)
{
	live_script = NULL;
	uv_async_send(&sc->stop);
	pthread_join(sc->thread, NULL);
	assert_int_equal(uv_loop_close(&sc->loop), 0);
	pthread_mutex_destroy(&sc->mu);
}

static void script_stop(struct script *sc, ks_kube_client *c)
{
	ks_kube_client_free(c);
	script_halt(sc);
}

static void watch_resumes_from_bookmarks_and_relists_on_410(void **state)
{
	(void)state;
	static struct script sc; /* its loop thread outlives a failure */
	ks_kube_client *c = script_start(&sc, false);
	ks_error err;
	static struct calls calls; /* the watch's threads write it */
	calls_init(&calls);
	json_t *kinds = json_pack("[s]", "v1:ConfigMap");
	ks_watch *w;
	assert_int_equal(start_watch(&w, c, kinds, 0, on_change, &calls, &err),
			 0);
	json_decref(kinds);

	/* the third watch is the one after the re-list */
	int64_t t0 = now_ms();
	for (;;) {
		pthread_mutex_lock(&sc.mu);
		unsigned n = sc.watches;
		pthread_mutex_unlock(&sc.mu);
		if (n >= 3 || now_ms() - t0 > 5000)
			break;
		nap();
	}
	assert_true(wait_cm(w, "shop", "a", "relisted", 5000) >= 0);
	/* b came from the first stream only; the re-list lost it */
	assert_string_equal(cm_x(w, "shop", "b"), "");
	json_t *o = find(w, "shop", "ConfigMap", "a");
	assert_string_equal(json_string_value(json_object_get(o, "kind")),
			    "ConfigMap");
	json_decref(o);

	pthread_mutex_lock(&sc.mu);
	assert_int_equal(sc.lists, 2);
	assert_int_equal(sc.watches, 3);
	assert_string_equal(sc.watch_rvs[0], "10"); /* the list's */
	assert_string_equal(sc.watch_rvs[1], "20"); /* the bookmark's */
	assert_string_equal(sc.watch_rvs[2], "50"); /* the re-list's */
	pthread_mutex_unlock(&sc.mu);
	/* a (list 1), b (stream), a and b (re-list) */
	assert_true(got_calls(&calls, "shop", 3));

	stop_promptly(w);
	calls_release(&calls);
	script_stop(&sc, c);
}

/* The periodic re-LIST catches what the watch never said (a missed
 * event): changed objects are replaced, vanished ones removed, and their
 * apps notified. */
static void resync_replaces_the_cache(void **state)
{
	(void)state;
	static struct script sc; /* its loop thread outlives a failure */
	ks_kube_client *c = script_start(&sc, true);
	static struct calls calls; /* the watch's threads write it */
	calls_init(&calls);
	json_t *kinds = json_pack("[s]", "v1:ConfigMap");
	ks_watch *w;
	ks_error err;
	assert_int_equal(
		start_watch(&w, c, kinds, 300, on_change, &calls, &err), 0);
	json_decref(kinds);
	assert_true(wait_synced(w, 5000));
	/* the first list may already have been replaced by the second */
	assert_true(wait_cm(w, "shop", "a", "relisted", 5000) >= 0);
	assert_string_equal(cm_x(w, "gone", "b"), "");
	/* a added then changed, b added then vanished (the callbacks come
	 * just after the cache changed) */
	int64_t t1 = now_ms();
	while ((calls_of(&calls, "shop") < 2 || calls_of(&calls, "gone") < 2) &&
	       now_ms() - t1 < 5000)
		nap();
	json_int_t shop = calls_of(&calls, "shop");
	json_int_t gone = calls_of(&calls, "gone");
	assert_int_equal(shop, 2);
	assert_int_equal(gone, 2);
	/* later re-lists find nothing new: no more callbacks */
	int64_t t0 = now_ms();
	for (;;) {
		pthread_mutex_lock(&sc.mu);
		unsigned lists = sc.lists;
		pthread_mutex_unlock(&sc.mu);
		if (lists >= 4 || now_ms() - t0 > 5000)
			break;
		nap();
	}
	pthread_mutex_lock(&sc.mu);
	assert_true(sc.lists >= 4);
	/* each re-list ended the watch before it and began a new one */
	assert_true(sc.watches >= 3);
	pthread_mutex_unlock(&sc.mu);
	assert_int_equal(calls_of(&calls, "shop"), shop);
	assert_int_equal(calls_of(&calls, "gone"), gone);
	stop_promptly(w);
	calls_release(&calls);
	script_stop(&sc, c);
}

/* GET of PATH as a parsed object (a new reference). */
static json_t *get_obj(ks_kube_client *c, const char *path)
{
	ks_kube_req r = {.method = "GET", .path = path};
	ks_kube_resp resp;
	ks_error err;
	assert_int_equal(ks_kube_request(c, &r, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	json_t *o = json_incref(resp.json);
	ks_kube_resp_release(&resp);
	assert_non_null(o);
	return o;
}

static size_t managers(const json_t *obj, const char *name)
{
	size_t n = 0, i;
	json_t *e;
	json_array_foreach(json_object_get(json_object_get(obj, "metadata"),
					   "managedFields"),
			   i, e)
	{
		const char *m =
			json_string_value(json_object_get(e, "manager"));
		if (!name || (m && !strcmp(m, name)))
			n++;
	}
	return n;
}

static void cache_keeps_what_drift_and_health_read(void **state)
{
	(void)state;
	ks_dc_thread t;
	ks_dc_thread_start(&t, NULL);
	ks_kube_client *c = t.client;
	const char *cm = "/api/v1/namespaces/default/configmaps/kept";
	const char *dep = "/apis/apps/v1/namespaces/default/deployments/kept";
	const char *apply = "application/apply-patch+yaml";
	char path[256];
	snprintf(path, sizeof(path), "%s?fieldManager=kusync&force=true", cm);
	req(c, "PATCH", path, apply,
	    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
	    "{\"name\":\"kept\",\"labels\":{\"kusync.io/app\":\"trim\"}},"
	    "\"data\":{\"x\":\"1\"}}",
	    201);
	snprintf(path, sizeof(path), "%s?fieldManager=other&force=true", cm);
	req(c, "PATCH", path, apply,
	    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
	    "{\"name\":\"kept\"},\"data\":{\"y\":\"2\"}}",
	    200);
	snprintf(path, sizeof(path), "%s?fieldManager=kusync&force=true", dep);
	req(c, "PATCH", path, apply,
	    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	    "\"metadata\":{\"name\":\"kept\",\"labels\":{\"kusync.io/app\":"
	    "\"trim\"}},\"spec\":{\"replicas\":1,\"selector\":{"
	    "\"matchLabels\":{\"a\":\"kept\"}},\"template\":{\"metadata\":{"
	    "\"labels\":{\"a\":\"kept\"}},\"spec\":{\"containers\":[{"
	    "\"name\":\"c\",\"image\":\"nginx\"}]}}}}",
	    201);
	/* what the server holds: two managers of the ConfigMap, a status of
	 * the Deployment */
	json_t *scm = get_obj(c, cm);
	assert_int_equal(managers(scm, NULL), 2);
	json_decref(scm);
	json_t *sdep = get_obj(c, dep);
	assert_non_null(json_object_get(sdep, "status"));
	json_decref(sdep);

	json_t *kinds =
		json_pack("[s, s]", "v1:ConfigMap", "apps/v1:Deployment");
	ks_watch *w;
	ks_error err;
	assert_int_equal(start_watch(&w, c, kinds, 0, NULL, NULL, &err), 0);
	json_decref(kinds);
	assert_true(wait_synced(w, 5000));
	/* from the LIST, then from a watch event: the same trimming */
	for (int round = 0; round < 2; round++) {
		json_t *o = find(w, "trim", "ConfigMap", "kept");
		assert_non_null(o);
		assert_int_equal(managers(o, NULL), 1);
		assert_int_equal(managers(o, KS_SYNC_MANAGER), 1);
		json_t *data = json_object_get(o, "data");
		assert_string_equal(
			json_string_value(json_object_get(data, "x")), "1");
		assert_string_equal(
			json_string_value(json_object_get(data, "y")), "2");
		json_decref(o);
		o = find(w, "trim", "Deployment", "kept");
		assert_non_null(o);
		assert_non_null(json_object_get(o, "status"));
		assert_int_equal(managers(o, KS_SYNC_MANAGER), 1);
		json_decref(o);
		if (round)
			break;
		patch_cm(c, "kept", "{\"data\":{\"x\":\"3\"}}");
		assert_true(wait_cm(w, "trim", "kept", "3", 5000) >= 0);
		snprintf(path, sizeof(path),
			 "%s?fieldManager=kusync&force=true", cm);
		req(c, "PATCH", path, apply,
		    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
		    "\"metadata\":{\"name\":\"kept\",\"labels\":{"
		    "\"kusync.io/app\":\"trim\"}},\"data\":{\"x\":\"1\"}}",
		    200);
		assert_true(wait_cm(w, "trim", "kept", "1", 5000) >= 0);
	}
	stop_promptly(w);
	ks_dc_thread_stop(&t);
}

static void malformed_kinds_are_refused(void **state)
{
	(void)state;
	ks_kube_client *c = client_for("http://127.0.0.1:1");
	const char *bad[] = {"[\"ConfigMap\"]",
			     "[\":ConfigMap\"]",
			     "[\"v1:\"]",
			     "[{\"kind\":\"ConfigMap\"}]",
			     "[1]",
			     "{}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		json_t *k = json_loads(bad[i], JSON_DECODE_ANY, NULL);
		assert_non_null(k);
		ks_watch *w = (ks_watch *)1;
		ks_error err;
		assert_int_equal(start_watch(&w, c, k, 0, NULL, NULL, &err),
				 KS_EINVAL);
		assert_null(w);
		json_decref(k);
	}
	/* an empty watch is synced at once and can grow */
	json_t *none = json_array();
	ks_watch *w;
	ks_error err;
	assert_int_equal(start_watch(&w, c, none, 0, NULL, NULL, &err), 0);
	assert_true(ks_watch_synced(w));
	json_t *bad1 = json_pack("[s]", "v1");
	assert_int_equal(ks_watch_add_kinds(w, bad1, &err), KS_EINVAL);
	json_decref(bad1);
	json_decref(none);
	stop_promptly(w);
	ks_kube_client_free(c);
}

/* Whatever a failed test left running is stopped before the next test. */
static int teardown(void **state)
{
	if (live_watch) {
		ks_watch_stop(live_watch);
		live_watch = NULL;
	}
	if (live_script)
		script_halt(live_script);
	return ks_dc_thread_teardown(state);
}

static int watch_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(watch_follows_labelled_objects,
					  teardown),
		cmocka_unit_test_teardown(first_list_reads_every_page,
					  teardown),
		cmocka_unit_test_teardown(watch_survives_restarts_and_410,
					  teardown),
		cmocka_unit_test_teardown(unserved_kind_is_picked_up_at_resync,
					  teardown),
		cmocka_unit_test_teardown(
			watch_resumes_from_bookmarks_and_relists_on_410,
			teardown),
		cmocka_unit_test_teardown(resync_replaces_the_cache, teardown),
		cmocka_unit_test_teardown(
			stop_is_prompt_when_the_server_hangs_or_is_gone,
			teardown),
		cmocka_unit_test_teardown(
			cache_keeps_what_drift_and_health_read, teardown),
		cmocka_unit_test_teardown(malformed_kinds_are_refused,
					  teardown),
	};
	return cmocka_run_group_tests_name("agent/watch", tests, NULL, NULL);
}
KS_TEST_GROUP(watch_tests)
