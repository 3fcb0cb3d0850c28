/*
 * The release pipeline (agent/pipeline.h) against an in-process devcluster
 * and a local store: pre-check, approval, cell-by-cell deploy, release
 * check, rollback, resume, drift and heal.
 */
#include "ks_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dc_thread.h"

#include "agent/metrics.h"
#include "agent/pipeline.h"
#include "agent/store.h"
#include "core/mem.h"
#include "render/render.h"
#include "sync/plan.h"

#define NS "demo-t1"

typedef struct fx {
	ks_dc_thread dc;
	char dir[128];
	ks_store *store;
	ks_agent_source src;
	char *globs[1];
	ks_policy_registry *pol;
	ks_metrics *metrics;
	ks_pipeline_env env;
	json_t *phases;	  /* phases seen by on_change */
	json_t *stored;	  /* the stored record's phase at each on_change */
	size_t cancel_at; /* set *cancel after this many transitions */
	volatile int *cancel;
	int live_calls;		/* calls of cache_live */
	bool live_none;		/* cache_live: no cache */
	const char *live_image; /* cache_live: the Deployment's image */
} fx;

static void on_change(void *ud, const json_t *rel)
{
	fx *f = ud;
	const char *ph = json_string_value(json_object_get(rel, "phase"));
	json_array_append_new(f->phases, json_string(ph));
	/* Stored before acted on: the store already holds this phase. */
	json_t *list = NULL;
	ks_error err;
	assert_int_equal(
		ks_store_list(f->store,
			      json_string_value(json_object_get(rel, "app")),
			      &list, NULL, &err),
		0);
	json_int_t n = json_integer_value(json_object_get(rel, "number"));
	size_t i;
	const json_t *r;
	const char *found = "";
	json_array_foreach(list, i, r)
	{
		if (json_integer_value(json_object_get(r, "number")) == n)
			found = json_string_value(json_object_get(r, "phase"));
	}
	json_array_append_new(f->stored, json_string(found));
	json_decref(list);
	if (f->cancel_at && json_array_size(f->phases) == f->cancel_at)
		*f->cancel = 1;
}

static int setup(void **state)
{
	fx *f = ks_xcalloc(1, sizeof(*f));
	ks_devcluster_opts o = {.listen = "127.0.0.1:0",
				.quiet = true,
				.rollout_delay_ms = 30,
				.time_scale = 1,
				.fail_images = "fail"};
	ks_dc_thread_start(&f->dc, &o);
	const char *tmp = getenv("TMPDIR");
	snprintf(f->dir, sizeof(f->dir), "%s/ks-pipeline-XXXXXX",
		 tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	ks_error err;
	assert_int_equal(ks_store_open_local(&f->store, f->dir, 20, &err), 0);
	f->globs[0] = ks_xstrdup("demo-*");
	f->src.name = ks_xstrdup("demo");
	f->src.namespaces = f->globs;
	f->src.nnamespaces = 1;
	f->src.prune = true;
	f->pol = ks_policy_registry_new();
	ks_errlist *errs = ks_errlist_new();
	assert_int_equal(ks_policy_load_builtin(f->pol, errs), 0);
	ks_errlist_free(errs);
	f->metrics = ks_metrics_new();
	f->phases = json_array();
	f->stored = json_array();
	f->env = (ks_pipeline_env){
		.kube = f->dc.client,
		.store = f->store,
		.source = &f->src,
		.policies = f->pol,
		.on_change = on_change,
		.ud = f,
		.metrics = f->metrics,
		.poll_ms = 50,
	};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	ks_dc_thread_stop(&f->dc);
	ks_store_free(f->store);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f->globs[0]);
	free(f->src.name);
	ks_policy_registry_free(f->pol);
	ks_metrics_free(f->metrics);
	json_decref(f->phases);
	json_decref(f->stored);
	free(f);
	return 0;
}

/* ---- sub-specs ---- */

typedef struct app_def {
	const char *name; /* "t-s-<app>" */
	const char *ns;
	const char *cells[4]; /* NULL-terminated; none: one batch */
	const char *images[4];
	bool approve, rollback;
	const char *policyset; /* mandatory set, or NULL */
	const char *deps[3];
} app_def;

static json_t *labels(const char *app, const char *cell)
{
	json_t *l = json_pack("{s:s, s:s, s:s}", KS_LABEL_MANAGED_BY, "kusync",
			      KS_LABEL_APP, app, KS_LABEL_STACK, "t-s");
	if (cell)
		json_object_set_new(l, KS_LABEL_CELL, json_string(cell));
	return l;
}

static void add_res(json_t *spec, json_t *attrs, const char *app)
{
	char *id = ks_sync_object_id(attrs);
	const char *ns = json_string_value(json_object_get(
		json_object_get(attrs, "metadata"), "namespace"));
	json_t *deps = json_array();
	if (ns) {
		char *nsid = ks_xasprintf("v1:Namespace:%s", ns);
		json_array_append_new(deps, json_string(nsid));
		free(nsid);
	}
	json_t *r = json_pack("{s:s, s:s, s:o, s:o, s:{s:s}}", "id", id, "type",
			      "Kubernetes", "attributes", attrs, "dependsOn",
			      deps, "extensions", KS_LABEL_APP, app);
	json_array_append_new(json_object_get(spec, "resources"), r);
	free(id);
}

static json_t *deployment(const char *app, const char *ns, const char *name,
			  const char *cell, const char *image)
{
	return json_pack(
		"{s:s, s:s, s:{s:s, s:s, s:o}, s:{s:i, s:i, s:{s:{s:s}}, "
		"s:{s:{s:{s:s}}, s:{s:[{s:s, s:s, s:{s:{s:s, s:i}}}]}}}}",
		"apiVersion", "apps/v1", "kind", "Deployment", "metadata",
		"name", name, "namespace", ns, "labels", labels(app, cell),
		"spec", "replicas", 2, "progressDeadlineSeconds", 1, "selector",
		"matchLabels", "app", name, "template", "metadata", "labels",
		"app", name, "spec", "containers", "name", "web", "image",
		image, "readinessProbe", "httpGet", "path", "/", "port", 80);
}

static json_t *configmap(const char *app, const char *ns, const char *name)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:{s:s}}", "apiVersion",
			 "v1", "kind", "ConfigMap", "metadata", "name", name,
			 "namespace", ns, "labels", labels(app, NULL), "data",
			 "k", "v");
}

static json_t *make_spec(const app_def *d)
{
	const char *ns = d->ns ? d->ns : NS;
	json_t *cells = json_array();
	for (size_t i = 0; d->cells[i]; i++)
		json_array_append_new(cells,
				      json_pack("{s:s, s:s}", "zone", "z1",
						"cell", d->cells[i]));
	json_t *pol = json_object();
	if (d->policyset)
		json_object_set_new(pol, d->policyset,
				    json_pack("{s:s}", "kind", "mandatory"));
	json_t *deps = json_array();
	for (size_t i = 0; d->deps[i]; i++)
		json_array_append_new(deps, json_string(d->deps[i]));
	json_t *app = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:o, s:{s:{s:b, s:b, s:s}}, s:o, "
		"s:o}",
		"name", d->name, "project", "t", "stack", "s", "app",
		d->name + 4, "namespace", ns, "cells", cells, "pipeline",
		"deploy", "manualApprove", d->approve, "rollbackIfFailed",
		d->rollback, "timeout", "20s", "policysets", pol,
		"dependedApps", deps);
	json_t *spec = json_pack("{s:[o], s:[]}", "apps", app, "resources");
	add_res(spec,
		json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "apiVersion", "v1",
			  "kind", "Namespace", "metadata", "name", ns, "labels",
			  KS_LABEL_MANAGED_BY, "kusync"),
		d->name);
	char name[128];
	snprintf(name, sizeof(name), "%s-config", d->name);
	add_res(spec, configmap(d->name, ns, name), d->name);
	if (!d->cells[0]) {
		add_res(spec,
			deployment(d->name, ns, d->name, NULL,
				   d->images[0] ? d->images[0] : "nginx:1.0"),
			d->name);
		return spec;
	}
	for (size_t i = 0; d->cells[i]; i++) {
		snprintf(name, sizeof(name), "%s-%s", d->name, d->cells[i]);
		add_res(spec,
			deployment(d->name, ns, name, d->cells[i],
				   d->images[i] ? d->images[i] : "nginx:1.0"),
			d->name);
	}
	return spec;
}

static json_t *new_release(fx *f, const json_t *spec, int number)
{
	const char *app = json_string_value(json_object_get(
		json_array_get(json_object_get(spec, "apps"), 0), "name"));
	json_t *rel = ks_pipeline_release_new(app, number, "c0ffee", "demo",
					      NULL, spec);
	ks_error err;
	assert_int_equal(ks_store_put(f->store, rel, &err), 0);
	return rel;
}

static const char *phase(const json_t *rel)
{
	return json_string_value(json_object_get(rel, "phase"));
}

static const char *msg(const json_t *rel)
{
	const char *m = json_string_value(json_object_get(rel, "message"));
	return m ? m : "";
}

static int run(fx *f, json_t *rel, const json_t *prev, const json_t *deps)
{
	ks_error err;
	int rc = ks_pipeline_run(&f->env, rel, prev, deps, &err);
	if (rc)
		fprintf(stderr, "run: %s\n", err.msg);
	return rc;
}

/* The live object, or NULL. */
static json_t *get_obj(fx *f, const char *av, const char *kind, const char *ns,
		       const char *name)
{
	ks_kube_resource r;
	ks_error err;
	assert_int_equal(ks_kube_discover(f->dc.client, av, kind, &r, &err), 0);
	char *path = ks_kube_path(&r, ns, name);
	ks_kube_req req = {.method = "GET", .path = path};
	ks_kube_resp resp;
	int rc = ks_kube_request(f->dc.client, &req, &resp, &err);
	free(path);
	json_t *o = rc ? NULL : json_incref(resp.json);
	ks_kube_resp_release(&resp);
	return o;
}

static const char *image_of(const json_t *dep)
{
	return json_string_value(json_object_get(
		json_array_get(
			json_object_get(
				json_object_get(
					json_object_get(
						json_object_get(dep, "spec"),
						"template"),
					"spec"),
				"containers"),
			0),
		"image"));
}

static char *dep_image(fx *f, const char *name)
{
	json_t *d = get_obj(f, "apps/v1", "Deployment", NS, name);
	if (!d)
		return ks_xstrdup("(missing)");
	char *s = ks_xstrdup(image_of(d));
	json_decref(d);
	return s;
}

static void assert_phases(fx *f, const char *const *want)
{
	size_t n = 0;
	while (want[n])
		n++;
	char *got = json_dumps(f->phases, JSON_COMPACT);
	if (json_array_size(f->phases) != n)
		fprintf(stderr, "phases: %s\n", got);
	assert_int_equal(json_array_size(f->phases), n);
	for (size_t i = 0; i < n; i++) {
		const char *p = json_string_value(json_array_get(f->phases, i));
		if (strcmp(p, want[i]))
			fprintf(stderr, "phases: %s\n", got);
		assert_string_equal(p, want[i]);
		assert_string_equal(
			json_string_value(json_array_get(f->stored, i)), p);
	}
	free(got);
	json_array_clear(f->phases);
	json_array_clear(f->stored);
}

static json_t *stored_release(fx *f, const char *app, int number);

/* ---- tests ---- */

static void simple_app_succeeds(void **state)
{
	fx *f = *state;
	app_def d = {.name = "t-s-web"};
	json_t *spec = make_spec(&d);
	json_t *rel = new_release(f, spec, 1);
	assert_int_equal(run(f, rel, NULL, NULL), 0);
	assert_string_equal(phase(rel), "Succeeded");
	const char *seq[] = {"Deploying", "Checking", "Succeeded", NULL};
	assert_phases(f, seq);
	assert_non_null(json_object_get(rel, "finishedAt"));
	/* the preview planned creations */
	json_t *acts = json_object_get(
		json_array_get(
			json_object_get(json_object_get(rel, "plan"), "apps"),
			0),
		"actions");
	assert_int_equal(json_array_size(acts), 3);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(acts, 2), "action")),
			    "create");
	json_t *cell = json_array_get(json_object_get(rel, "cells"), 0);
	assert_string_equal(json_string_value(json_object_get(cell, "cell")),
			    "");
	assert_string_equal(json_string_value(json_object_get(cell, "phase")),
			    "Succeeded");
	char *img = dep_image(f, "t-s-web");
	assert_string_equal(img, "nginx:1.0");
	free(img);
	/* metrics */
	assert_true(ks_metrics_get(f->metrics, "kusync_release_phase", "app",
				   "t-s-web", "phase", "Succeeded",
				   NULL) == 1.0);
	assert_true(ks_metrics_get(f->metrics, "kusync_release_phase", "app",
				   "t-s-web", "phase", "Checking",
				   NULL) == 0.0);
	assert_true(ks_metrics_get(f->metrics, "kusync_sync_total", "app",
				   "t-s-web", "result", "succeeded",
				   NULL) == 1.0);
	/* running a final release again does nothing */
	assert_int_equal(run(f, rel, NULL, NULL), 0);
	assert_int_equal(json_array_size(f->phases), 0);
	json_decref(rel);
	json_decref(spec);
}

static void manual_approval(void **state)
{
	fx *f = *state;
	app_def d = {.name = "t-s-web", .approve = true};
	json_t *spec = make_spec(&d);
	json_t *rel = new_release(f, spec, 1);
	ks_error err;
	assert_int_equal(run(f, rel, NULL, NULL), 0);
	assert_string_equal(phase(rel), "AwaitingApproval");
	assert_true(json_is_object(json_object_get(rel, "plan")));
	/* nothing deployed yet */
	json_t *ns = get_obj(f, "v1", "Namespace", NULL, NS);
	assert_null(ns);
	/* running again without an approval keeps it waiting */
	assert_int_equal(run(f, rel, NULL, NULL), 0);
	assert_string_equal(phase(rel), "AwaitingApproval");
	assert_int_equal(ks_pipeline_approve(&f->env, rel, "alice", "cli",
					     "ship it", &err),
			 0);
	/* the approval and its transition were stored together */
	assert_string_equal(phase(rel), "Deploying");
	json_t *st = stored_release(f, "t-s-web", 1);
	assert_string_equal(phase(st), "Deploying");
	assert_int_equal(json_array_size(json_object_get(st, "approvals")), 1);
	json_decref(st);
	json_t *a = json_array_get(json_object_get(rel, "approvals"), 0);
	assert_string_equal(json_string_value(json_object_get(a, "who")),
			    "alice");
	assert_string_equal(json_string_value(json_object_get(a, "via")),
			    "cli");
	assert_non_null(json_string_value(json_object_get(a, "at")));
	assert_int_equal(run(f, rel, NULL, NULL), 0);
	assert_string_equal(phase(rel), "Succeeded");
	const char *seq[] = {"AwaitingApproval", "Deploying", "Checking",
			     "Succeeded", NULL};
	assert_phases(f, seq);
	/* approving what is not awaiting approval is a conflict */
	assert_int_equal(
		ks_pipeline_approve(&f->env, rel, "bob", "api", NULL, &err),
		KS_ECONFLICT);
	assert_int_equal(json_array_size(json_object_get(rel, "approvals")), 1);
	json_t *audit = NULL;
	assert_int_equal(ks_store_audit_list(f->store, &audit, &err), 0);
	assert_int_equal(json_array_size(audit), 1);
	json_t *e = json_array_get(audit, 0);
	assert_string_equal(json_string_value(json_object_get(e, "what")),
			    "approve");
	assert_string_equal(json_string_value(json_object_get(e, "who")),
			    "alice");
	assert_string_equal(json_string_value(json_object_get(e, "app")),
			    "t-s-web");
	assert_int_equal(json_integer_value(json_object_get(e, "release")), 1);
	json_decref(audit);
	json_decref(rel);
	json_decref(spec);
}

static void namespace_outside_allow_list_blocks(void **state)
{
	fx *f = *state;
	app_def d = {.name = "t-s-web", .ns = "other"};
	json_t *spec = make_spec(&d);
	json_t *rel = new_release(f, spec, 1);
	assert_int_equal(run(f, rel, NULL, NULL), 0);
	assert_string_equal(phase(rel), "Blocked");
	assert_non_null(strstr(msg(rel), "namespace \"other\" is not allowed"));
	const char *seq[] = {"Blocked", NULL};
	assert_phases(f, seq);
	json_t *ns = get_obj(f, "v1", "Namespace", NULL, "other");
	assert_null(ns);
	assert_true(ks_metrics_get(f->metrics, "kusync_sync_total", "app",
				   "t-s-web", "result", "blocked",
				   NULL) == 1.0);
	json_decref(rel);
	json_decref(spec);
}

static void cluster_scoped_kind_blocks(void **state)
{
	fx *f = *state;
	app_def d = {.name = "t-s-web"};
	json_t *spec = make_spec(&d);
	add_res(spec,
		json_pack("{s:s, s:s, s:{s:s, s:o}, s:[]}", "apiVersion",
			  "rbac.authorization.k8s.io/v1", "kind", "ClusterRole",
			  "metadata", "name", "wide", "labels",
			  labels("t-s-web", NULL), "rules"),
		"t-s-web");
	json_t *rel = new_release(f, spec, 1);
	assert_int_equal(run(f, rel, NULL, NULL), 0);
	assert_string_equal(phase(rel), "Blocked");
	assert_non_null(
		strstr(msg(rel),
		       "\"rbac.authorization.k8s.io/v1:ClusterRole:wide\" is "
		       "cluster-scoped"));
	json_decref(rel);
	json_decref(spec);
}

static void mandatory_policy_blocks(void **state)
{
	fx *f = *state;
	app_def d = {.name = "t-s-web",
		     .policyset = "release-strategy-check",
		     .images = {"nginx:latest"}};
	json_t *spec = make_spec(&d);
	json_t *rel = new_release(f, spec, 1);
	assert_int_equal(run(f, rel, NULL, NULL), 0);
	assert_string_equal(phase(rel), "Blocked");
	assert_non_null(
		strstr(msg(rel), "release-strategy-check/image-pinned"));
	json_t *pol = json_object_get(rel, "policy");
	bool seen = false;
	size_t i;
	json_t *v;
	json_array_foreach(pol, i, v)
	{
		if (!strcmp(json_string_value(json_object_get(v, "rule")),
			    "image-pinned")) {
			seen = true;
			assert_true(
				json_is_true(json_object_get(v, "mandatory")));
			assert_string_equal(
				json_string_value(json_object_get(v, "set")),
				"release-strategy-check");
			assert_string_equal(
				json_string_value(json_object_get(v, "kind")),
				"Deployment");
			assert_string_equal(
				json_string_value(json_object_get(v, "object")),
				NS "/t-s-web");
		}
	}
	assert_true(seen);
	assert_null(get_obj(f, "v1", "Namespace", NULL, NS));
	json_decref(rel);
	json_decref(spec);

	/* the same app pinned passes the set */
	app_def ok = {.name = "t-s-web",
		      .policyset = "release-strategy-check",
		      .images = {"nginx:1.25.4"}};
	spec = make_spec(&ok);
	rel = new_release(f, spec, 2);
	assert_int_equal(run(f, rel, NULL, NULL), 0);
	assert_string_equal(phase(rel), "Succeeded");
	json_decref(rel);
	json_decref(spec);
}

static void dependencies_wait_then_go(void **state)
{
	fx *f = *state;
	app_def d = {.name = "t-s-web", .deps = {"t-s-db", "t-s-cache"}};
	json_t *spec = make_spec(&d);
	json_t *rel = new_release(f, spec, 1);
	json_t *deps = json_pack("[{s:s, s:s, s:s, s:b}, {s:s, s:n}]", "app",
				 "t-s-db", "phase", "Succeeded", "commit", "c",
				 "healthy", 1, "app", "t-s-cache", "phase");
	assert_int_equal(run(f, rel, NULL, deps), 0);
	assert_string_equal(phase(rel), "WaitingForDependencies");
	json_t *w = json_object_get(rel, "waitingFor");
	assert_int_equal(json_array_size(w), 1);
	assert_string_equal(json_string_value(json_array_get(w, 0)),
			    "t-s-cache");
	assert_non_null(strstr(msg(rel), "t-s-cache"));
	/* asked again with nothing new: no new transition stored */
	assert_int_equal(run(f, rel, NULL, deps), 0);
	const char *seq[] = {"WaitingForDependencies", NULL};
	assert_phases(f, seq);
	/* the dependency deployed but is not healthy yet: still waiting */
	json_decref(deps);
	deps = json_pack("[{s:s, s:s, s:b}, {s:s, s:s, s:b}]", "app", "t-s-db",
			 "phase", "Succeeded", "healthy", 1, "app", "t-s-cache",
			 "phase", "Succeeded", "healthy", 0);
	assert_int_equal(run(f, rel, NULL, deps), 0);
	assert_string_equal(phase(rel), "WaitingForDependencies");
	json_decref(deps);
	deps = json_pack("[{s:s, s:s, s:b}, {s:s, s:s, s:b}]", "app", "t-s-db",
			 "phase", "Succeeded", "healthy", 1, "app", "t-s-cache",
			 "phase", "Succeeded", "healthy", 1);
	assert_int_equal(run(f, rel, NULL, deps), 0);
	assert_string_equal(phase(rel), "Succeeded");
	assert_int_equal(json_array_size(json_object_get(rel, "waitingFor")),
			 0);
	json_decref(deps);
	json_decref(rel);
	json_decref(spec);
}

static void failed_dependency_fails(void **state)
{
	fx *f = *state;
	app_def d = {.name = "t-s-web", .deps = {"t-s-db"}};
	json_t *spec = make_spec(&d);
	json_t *rel = new_release(f, spec, 1);
	json_t *deps = json_pack("[{s:s, s:s, s:b}]", "app", "t-s-db", "phase",
				 "RolledBack", "healthy", 1);
	assert_int_equal(run(f, rel, NULL, deps), 0);
	assert_string_equal(phase(rel), "Failed");
	assert_non_null(strstr(msg(rel), "dependency \"t-s-db\" failed"));
	assert_null(get_obj(f, "v1", "Namespace", NULL, NS));
	const char *seq[] = {"Failed", NULL};
	assert_phases(f, seq);
	json_decref(deps);
	json_decref(rel);
	json_decref(spec);
}

static const char *const three[] = {"c1", "c2", "c3", NULL};

static json_t *first_release(fx *f, bool rollback)
{
	app_def d = {.name = "t-s-web", .rollback = rollback};
	memcpy(d.cells, three, sizeof(three));
	json_t *spec = make_spec(&d);
	json_t *rel = new_release(f, spec, 1);
	json_decref(spec);
	assert_int_equal(run(f, rel, NULL, NULL), 0);
	assert_string_equal(phase(rel), "Succeeded");
	const char *seq[] = {"Deploying", "Checking", "Deploying", "Checking",
			     "Deploying", "Checking", "Succeeded", NULL};
	assert_phases(f, seq);
	return rel;
}

static const char *kusync_time(const json_t *obj)
{
	size_t i;
	const json_t *m;
	json_array_foreach(json_object_get(json_object_get(obj, "metadata"),
					   "managedFields"),
			   i, m)
	{
		if (!strcmp(json_string_value(json_object_get(m, "manager")),
			    "kusync"))
			return json_string_value(json_object_get(m, "time"));
	}
	return NULL;
}

static void failing_cell_rolls_back_touched_cells(void **state)
{
	fx *f = *state;
	json_t *prev = first_release(f, true);
	/* someone scaled cell 3 by hand: a rollback that re-applied cell 3
	 * would undo that too */
	ks_error err;
	const char *patch = "{\"spec\":{\"replicas\":3}}";
	ks_kube_req req = {
		.method = "PATCH",
		.path = "/apis/apps/v1/namespaces/" NS
			"/deployments/t-s-web-c3?fieldManager=kubectl",
		.content_type = "application/merge-patch+json",
		.body = patch,
		.body_len = strlen(patch)};
	ks_kube_resp resp;
	assert_int_equal(ks_kube_request(f->dc.client, &req, &resp, &err), 0);
	ks_kube_resp_release(&resp);
	json_t *c3 = get_obj(f, "apps/v1", "Deployment", NS, "t-s-web-c3");
	assert_non_null(c3);
	json_int_t gen3 = json_integer_value(
		json_object_get(json_object_get(c3, "metadata"), "generation"));
	char *time3 = ks_xstrdup(kusync_time(c3));
	json_decref(c3);

	app_def d = {.name = "t-s-web",
		     .rollback = true,
		     .images = {"nginx:2.0", "fail:2.0", "nginx:2.0"}};
	memcpy(d.cells, three, sizeof(three));
	json_t *spec = make_spec(&d);
	json_t *rel = new_release(f, spec, 2);
	/* a second apply must not land in the same second as the first
	 * for the managedFields time comparison to mean anything */
	sleep(1);
	assert_int_equal(run(f, rel, prev, NULL), 0);
	assert_string_equal(phase(rel), "RolledBack");
	const char *seq[] = {"Deploying",  "Checking", "Deploying",
			     "Checking",   "Failed",   "RollingBack",
			     "RolledBack", NULL};
	assert_phases(f, seq);
	assert_non_null(strstr(msg(rel), "cell \"c2\""));
	assert_non_null(strstr(msg(rel), "t-s-web-c2\" is degraded"));
	assert_non_null(strstr(msg(rel), "rolled back to release 1"));
	assert_int_equal(json_integer_value(json_object_get(rel, "rollbackOf")),
			 1);
	json_t *touched = json_object_get(rel, "touchedCells");
	assert_int_equal(json_array_size(touched), 2);
	assert_string_equal(json_string_value(json_array_get(touched, 0)),
			    "c1");
	assert_string_equal(json_string_value(json_array_get(touched, 1)),
			    "c2");
	json_t *cells = json_object_get(rel, "cells");
	const char *cph[] = {"RolledBack", "RolledBack", "Pending"};
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(json_string_value(json_object_get(
					    json_array_get(cells, i), "phase")),
				    cph[i]);
	for (size_t i = 0; i < 3; i++) {
		char name[64];
		snprintf(name, sizeof(name), "t-s-web-%s", three[i]);
		char *img = dep_image(f, name);
		assert_string_equal(img, "nginx:1.0");
		free(img);
	}
	/* cell 3 was never patched */
	c3 = get_obj(f, "apps/v1", "Deployment", NS, "t-s-web-c3");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(c3, "spec"), "replicas")),
			 3);
	assert_int_equal(
		json_integer_value(json_object_get(
			json_object_get(c3, "metadata"), "generation")),
		gen3);
	assert_string_equal(kusync_time(c3), time3);
	json_decref(c3);
	/* cell 1 was: changed, then changed back */
	json_t *c1 = get_obj(f, "apps/v1", "Deployment", NS, "t-s-web-c1");
	assert_true(json_integer_value(json_object_get(
			    json_object_get(c1, "metadata"), "generation")) ==
		    3);
	json_decref(c1);
	assert_true(ks_metrics_get(f->metrics, "kusync_sync_total", "app",
				   "t-s-web", "result", "rolledback",
				   NULL) == 1.0);
	free(time3);
	json_decref(rel);
	json_decref(spec);
	json_decref(prev);
}

static void no_rollback_stays_failed(void **state)
{
	fx *f = *state;
	json_t *prev = first_release(f, false);
	app_def d = {.name = "t-s-web",
		     .images = {"nginx:2.0", "fail:2.0", "nginx:2.0"}};
	memcpy(d.cells, three, sizeof(three));
	json_t *spec = make_spec(&d);
	json_t *rel = new_release(f, spec, 2);
	assert_int_equal(run(f, rel, prev, NULL), 0);
	assert_string_equal(phase(rel), "Failed");
	const char *seq[] = {"Deploying", "Checking", "Deploying",
			     "Checking",  "Failed",   NULL};
	assert_phases(f, seq);
	assert_null(json_object_get(rel, "rollbackPending"));
	assert_true(ks_pipeline_release_final(rel));
	const char *want[] = {"nginx:2.0", "fail:2.0", "nginx:1.0"};
	for (size_t i = 0; i < 3; i++) {
		char name[64];
		snprintf(name, sizeof(name), "t-s-web-%s", three[i]);
		char *img = dep_image(f, name);
		assert_string_equal(img, want[i]);
		free(img);
	}
	json_t *cells = json_object_get(rel, "cells");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(cells, 1), "phase")),
			    "Failed");
	json_decref(rel);
	json_decref(spec);
	json_decref(prev);
}

static void first_release_failing_has_nothing_to_revert(void **state)
{
	fx *f = *state;
	app_def d = {
		.name = "t-s-web", .rollback = true, .images = {"fail:1.0"}};
	json_t *spec = make_spec(&d);
	json_t *rel = new_release(f, spec, 1);
	assert_int_equal(run(f, rel, NULL, NULL), 0);
	assert_string_equal(phase(rel), "Failed");
	assert_non_null(strstr(msg(rel), "nothing was reverted"));
	const char *seq[] = {"Deploying", "Checking", "Failed", NULL};
	assert_phases(f, seq);
	assert_true(ks_pipeline_release_final(rel));
	/* the objects stay for inspection */
	char *img = dep_image(f, "t-s-web");
	assert_string_equal(img, "fail:1.0");
	free(img);
	json_decref(rel);
	json_decref(spec);
}

/* The stored record of release NUMBER of APP (a new reference). */
static json_t *stored_release(fx *f, const char *app, int number)
{
	json_t *list = NULL, *out = NULL;
	ks_error err;
	assert_int_equal(ks_store_list(f->store, app, &list, NULL, &err), 0);
	size_t i;
	json_t *r;
	json_array_foreach(list, i, r)
	{
		if (json_integer_value(json_object_get(r, "number")) == number)
			out = json_incref(r);
	}
	json_decref(list);
	assert_non_null(out);
	return out;
}

/* A crash after each stored transition in turn (the run stops at the next
 * cancellation point, as a killed agent would have stopped somewhere
 * after storing): the release read back from the store converges, and
 * nothing was applied twice (generations stay 1). */
static void resume_after_a_crash_in_each_phase(void **state)
{
	fx *f = *state;
	volatile int cancel = 0;
	f->env.cancel = &cancel;
	for (int k = 1; k <= 6; k++) {
		char app[32];
		snprintf(app, sizeof(app), "t-s-w%d", k);
		app_def d = {.name = app};
		memcpy(d.cells, three, sizeof(three));
		json_t *spec = make_spec(&d);
		json_t *rel = new_release(f, spec, 1);
		json_decref(spec);
		f->cancel_at = k;
		f->cancel = &cancel;
		ks_error err;
		int rc = ks_pipeline_run(&f->env, rel, NULL, NULL, &err);
		assert_true(rc == 0 || rc == KS_ERROR);
		size_t seen = json_array_size(f->phases);
		assert_true(seen >= (size_t)k);
		const char *last =
			json_string_value(json_array_get(f->phases, seen - 1));
		json_decref(rel);
		rel = stored_release(f, app, 1);
		assert_string_equal(phase(rel), last);
		if (rc == KS_ERROR) {
			assert_string_equal(err.msg, "cancelled");
			assert_false(ks_pipeline_release_final(rel));
		}
		f->cancel_at = 0;
		cancel = 0;
		assert_int_equal(run(f, rel, NULL, NULL), 0);
		assert_string_equal(phase(rel), "Succeeded");
		json_t *cells = json_object_get(rel, "cells");
		for (size_t i = 0; i < 3; i++) {
			assert_string_equal(
				json_string_value(json_object_get(
					json_array_get(cells, i), "phase")),
				"Succeeded");
			char name[64];
			snprintf(name, sizeof(name), "%s-%s", app, three[i]);
			json_t *dep =
				get_obj(f, "apps/v1", "Deployment", NS, name);
			assert_non_null(dep);
			assert_int_equal(
				json_integer_value(json_object_get(
					json_object_get(dep, "metadata"),
					"generation")),
				1);
			json_decref(dep);
		}
		assert_int_equal(
			json_array_size(json_object_get(rel, "touchedCells")),
			3);
		json_array_clear(f->phases);
		json_array_clear(f->stored);
		json_decref(rel);
	}
	f->env.cancel = NULL;
}

static void resume_pending_rollback(void **state)
{
	fx *f = *state;
	json_t *prev = first_release(f, true);
	app_def d = {.name = "t-s-web",
		     .rollback = true,
		     .images = {"nginx:2.0", "nginx:2.0", "nginx:2.0"}};
	memcpy(d.cells, three, sizeof(three));
	json_t *spec = make_spec(&d);
	json_t *rel = new_release(f, spec, 2);
	/* a crash after storing Failed, before RollingBack: cell 1 had the
	 * new image */
	ks_error err;
	json_t *c1 = deployment("t-s-web", NS, "t-s-web-c1", "c1", "nginx:2.0");
	char *body = json_dumps(c1, JSON_COMPACT);
	ks_kube_req req = {.method = "PATCH",
			   .path = "/apis/apps/v1/namespaces/" NS
				   "/deployments/"
				   "t-s-web-c1?fieldManager=kusync&force=true",
			   .content_type = "application/apply-patch+yaml",
			   .body = body,
			   .body_len = strlen(body)};
	ks_kube_resp resp;
	assert_int_equal(ks_kube_request(f->dc.client, &req, &resp, &err), 0);
	ks_kube_resp_release(&resp);
	free(body);
	json_decref(c1);
	json_object_set_new(rel, "phase", json_string("Failed"));
	json_object_set_new(rel, "rollbackPending", json_true());
	json_object_set_new(rel, "message", json_string("cell \"c1\": bad"));
	json_object_set_new(rel, "touchedCells", json_pack("[s]", "c1"));
	json_object_set_new(json_array_get(json_object_get(rel, "cells"), 0),
			    "phase", json_string("Failed"));
	assert_int_equal(ks_store_put(f->store, rel, &err), 0);
	assert_false(ks_pipeline_release_final(rel));
	assert_int_equal(run(f, rel, prev, NULL), 0);
	assert_string_equal(phase(rel), "RolledBack");
	const char *seq[] = {"RollingBack", "RolledBack", NULL};
	assert_phases(f, seq);
	char *img = dep_image(f, "t-s-web-c1");
	assert_string_equal(img, "nginx:1.0");
	free(img);
	json_decref(rel);
	json_decref(spec);
	json_decref(prev);
}

static void supersede_and_manual_rollback(void **state)
{
	fx *f = *state;
	ks_error err;
	app_def d = {.name = "t-s-web", .approve = true};
	json_t *spec = make_spec(&d);
	json_t *r1 = new_release(f, spec, 1);
	assert_int_equal(run(f, r1, NULL, NULL), 0);
	assert_int_equal(
		ks_pipeline_approve(&f->env, r1, "alice", "api", "", &err), 0);
	assert_int_equal(run(f, r1, NULL, NULL), 0);
	assert_string_equal(phase(r1), "Succeeded");
	assert_int_equal(ks_pipeline_supersede(&f->env, r1, 2, &err),
			 KS_ECONFLICT);

	app_def d2 = {
		.name = "t-s-web", .approve = true, .images = {"nginx:2.0"}};
	json_t *spec2 = make_spec(&d2);
	json_t *r2 = new_release(f, spec2, 2);
	assert_int_equal(run(f, r2, r1, NULL), 0);
	assert_string_equal(phase(r2), "AwaitingApproval");
	assert_int_equal(ks_pipeline_supersede(&f->env, r2, 3, &err), 0);
	assert_string_equal(phase(r2), "Superseded");
	assert_non_null(strstr(msg(r2), "superseded by release 3"));
	assert_int_equal(
		ks_pipeline_approve(&f->env, r2, "alice", "api", "", &err),
		KS_ECONFLICT);

	json_t *r3 = new_release(f, spec2, 3);
	assert_int_equal(run(f, r3, r1, NULL), 0);
	assert_int_equal(
		ks_pipeline_approve(&f->env, r3, "bob", "webhook", NULL, &err),
		0);
	assert_int_equal(run(f, r3, r1, NULL), 0);
	assert_string_equal(phase(r3), "Succeeded");
	char *img = dep_image(f, "t-s-web");
	assert_string_equal(img, "nginx:2.0");
	free(img);

	/* back to release 1: no approval asked */
	json_t *r4 = NULL;
	assert_int_equal(ks_pipeline_rollback_release(&f->env, r1, 4, "carol",
						      "cli", "bad 2.0", &r4,
						      &err),
			 0);
	assert_string_equal(phase(r4), "Deploying");
	assert_int_equal(json_integer_value(json_object_get(r4, "rollbackOf")),
			 1);
	assert_string_equal(json_string_value(json_object_get(r4, "specHash")),
			    json_string_value(json_object_get(r1, "specHash")));
	assert_int_equal(run(f, r4, r3, NULL), 0);
	assert_string_equal(phase(r4), "Succeeded");
	img = dep_image(f, "t-s-web");
	assert_string_equal(img, "nginx:1.0");
	free(img);
	json_t *audit = NULL;
	assert_int_equal(ks_store_audit_list(f->store, &audit, &err), 0);
	json_t *last = json_array_get(audit, json_array_size(audit) - 1);
	assert_string_equal(json_string_value(json_object_get(last, "what")),
			    "rollback");
	assert_string_equal(json_string_value(json_object_get(last, "who")),
			    "carol");
	assert_int_equal(json_integer_value(json_object_get(last, "release")),
			 4);
	assert_string_equal(json_string_value(json_object_get(last, "comment")),
			    "to release 1: bad 2.0");
	json_decref(audit);
	json_decref(r1);
	json_decref(r2);
	json_decref(r3);
	json_decref(r4);
	json_decref(spec);
	json_decref(spec2);
}

static void prune_deletes_what_the_release_dropped(void **state)
{
	fx *f = *state;
	app_def d = {.name = "t-s-web"};
	json_t *spec = make_spec(&d);
	json_t *extra = configmap("t-s-web", NS, "extra");
	add_res(spec, extra, "t-s-web");
	json_t *keep = configmap("t-s-web", NS, "keep");
	json_object_set_new(json_object_get(keep, "metadata"), "annotations",
			    json_pack("{s:s}", KS_ANN_PRUNE, "false"));
	add_res(spec, keep, "t-s-web");
	json_t *r1 = new_release(f, spec, 1);
	assert_int_equal(run(f, r1, NULL, NULL), 0);
	assert_string_equal(phase(r1), "Succeeded");
	json_t *o = get_obj(f, "v1", "ConfigMap", NS, "extra");
	assert_non_null(o);
	json_decref(o);
	json_t *spec2 = make_spec(&d);
	json_t *r2 = new_release(f, spec2, 2);
	assert_int_equal(run(f, r2, r1, NULL), 0);
	assert_string_equal(phase(r2), "Succeeded");
	assert_null(get_obj(f, "v1", "ConfigMap", NS, "extra"));
	o = get_obj(f, "v1", "ConfigMap", NS, "keep");
	assert_non_null(o);
	json_decref(o);
	o = get_obj(f, "v1", "Namespace", NULL, NS);
	assert_non_null(o);
	json_decref(o);
	json_decref(r1);
	json_decref(r2);
	json_decref(spec);
	json_decref(spec2);
}

/* The app's live objects, as the watch cache would hold them. */
static json_t *live_of(fx *f, const char *app)
{
	static const char *const kinds[][2] = {{"apps/v1", "Deployment"},
					       {"v1", "ConfigMap"},
					       {"batch/v1", "Job"}};
	json_t *all = json_array();
	char *sel = ks_xasprintf("%s=%s", KS_LABEL_APP, app);
	for (size_t i = 0; i < 3; i++) {
		ks_kube_resource r;
		ks_error err;
		json_t *items = NULL;
		assert_int_equal(ks_kube_discover(f->dc.client, kinds[i][0],
						  kinds[i][1], &r, &err),
				 0);
		assert_int_equal(
			ks_kube_list(f->dc.client, &r, NULL, sel, &items, &err),
			0);
		json_array_extend(all, items);
		json_decref(items);
	}
	free(sel);
	return all;
}

static void drift_report_and_heal(void **state)
{
	fx *f = *state;
	ks_error err;
	app_def d = {.name = "t-s-web"};
	json_t *spec = make_spec(&d);
	json_t *job = json_pack(
		"{s:s, s:s, s:{s:s, s:s, s:o}, s:{s:{s:{s:s, s:[{s:s, "
		"s:s}]}}}}",
		"apiVersion", "batch/v1", "kind", "Job", "metadata", "name",
		"migrate", "namespace", NS, "labels", labels("t-s-web", NULL),
		"spec", "template", "spec", "restartPolicy", "Never",
		"containers", "name", "m", "image", "busybox:1.36");
	add_res(spec, job, "t-s-web");
	json_t *rel = new_release(f, spec, 7);
	json_object_set_new(rel, "commit", json_string("abc1234"));
	assert_int_equal(run(f, rel, NULL, NULL), 0);
	assert_string_equal(phase(rel), "Succeeded");
	json_t *jobs = json_object_get(rel, "completedJobs");
	assert_int_equal(json_array_size(jobs), 1);
	assert_string_equal(json_string_value(json_array_get(jobs, 0)),
			    "batch/v1:Job:" NS ":migrate");

	/* no drift right after the release */
	json_t *live = live_of(f, "t-s-web");
	json_t *rep = NULL;
	unsigned healed = 99;
	assert_int_equal(ks_pipeline_drift(&f->env, rel, live, false, &rep,
					   &healed, &err),
			 0);
	json_decref(live);
	if (json_array_size(json_object_get(rep, "resources"))) {
		char *s = json_dumps(rep, JSON_COMPACT);
		fprintf(stderr, "unexpected drift: %s\n", s);
		free(s);
	}
	assert_int_equal(json_array_size(json_object_get(rep, "resources")), 0);
	assert_string_equal(json_string_value(json_object_get(rep, "app")),
			    "t-s-web");
	assert_int_equal(json_integer_value(json_object_get(rep, "release")),
			 7);
	assert_string_equal(json_string_value(json_object_get(rep, "commit")),
			    "abc1234");
	assert_int_equal(healed, 0);
	json_decref(rep);

	/* kubectl patch deploy t-s-web -p '{"spec":{"replicas":5}}', and
	 * the finished Job's TTL deleted it */
	const char *patch = "{\"spec\":{\"replicas\":5}}";
	ks_kube_req req = {.method = "PATCH",
			   .path = "/apis/apps/v1/namespaces/" NS
				   "/deployments/t-s-web?fieldManager=kubectl",
			   .content_type = "application/merge-patch+json",
			   .body = patch,
			   .body_len = strlen(patch)};
	ks_kube_resp resp;
	assert_int_equal(ks_kube_request(f->dc.client, &req, &resp, &err), 0);
	ks_kube_resp_release(&resp);
	ks_kube_req del = {.method = "DELETE",
			   .path = "/apis/batch/v1/namespaces/" NS
				   "/jobs/migrate"};
	assert_int_equal(ks_kube_request(f->dc.client, &del, &resp, &err), 0);
	ks_kube_resp_release(&resp);

	live = live_of(f, "t-s-web");
	assert_int_equal(ks_pipeline_drift(&f->env, rel, live, false, &rep,
					   &healed, &err),
			 0);
	json_decref(live);
	json_t *res = json_object_get(rep, "resources");
	assert_int_equal(json_array_size(res), 1);
	json_t *e = json_array_get(res, 0);
	assert_string_equal(json_string_value(json_object_get(e, "id")),
			    "apps/v1:Deployment:" NS ":t-s-web");
	assert_string_equal(json_string_value(json_object_get(e, "state")),
			    "modified");
	json_t *fld = json_array_get(json_object_get(e, "fields"), 0);
	assert_string_equal(json_string_value(json_object_get(fld, "path")),
			    "spec.replicas");
	assert_int_equal(json_integer_value(json_object_get(fld, "desired")),
			 2);
	assert_int_equal(json_integer_value(json_object_get(fld, "live")), 5);
	assert_null(json_object_get(rep, "healed"));
	json_decref(rep);

	/* heal */
	live = live_of(f, "t-s-web");
	assert_int_equal(ks_pipeline_drift(&f->env, rel, live, true, &rep,
					   &healed, &err),
			 0);
	json_decref(live);
	assert_int_equal(healed, 1);
	assert_int_equal(json_integer_value(json_object_get(rep, "healed")), 1);
	json_decref(rep);
	json_t *dep = get_obj(f, "apps/v1", "Deployment", NS, "t-s-web");
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(dep, "spec"), "replicas")),
			 2);
	json_decref(dep);
	/* the Job was not re-created */
	assert_null(get_obj(f, "batch/v1", "Job", NS, "migrate"));
	live = live_of(f, "t-s-web");
	assert_int_equal(ks_pipeline_drift(&f->env, rel, live, false, &rep,
					   &healed, &err),
			 0);
	json_decref(live);
	assert_int_equal(json_array_size(json_object_get(rep, "resources")), 0);
	json_decref(rep);
	json_decref(rel);
	json_decref(spec);
}

static void cancelled_run_stops_resumable(void **state)
{
	fx *f = *state;
	volatile int cancel = 1;
	f->env.cancel = &cancel;
	app_def d = {.name = "t-s-web"};
	json_t *spec = make_spec(&d);
	json_t *rel = new_release(f, spec, 1);
	ks_error err;
	assert_int_equal(ks_pipeline_run(&f->env, rel, NULL, NULL, &err),
			 KS_ERROR);
	assert_string_equal(err.msg, "cancelled");
	assert_false(ks_pipeline_release_final(rel));
	cancel = 0;
	assert_int_equal(run(f, rel, NULL, NULL), 0);
	assert_string_equal(phase(rel), "Succeeded");
	f->env.cancel = NULL;
	json_decref(rel);
	json_decref(spec);
}

/* env.live for the tests: the app's objects as a watch cache holds them,
 * with the Deployment's image replaced by f->live_image (a cache that
 * lags, so the test sees which source the preview read) and without the
 * ConfigMaps (a cache that lacks an object: the preview must GET it). */
static json_t *cache_live(void *ud, const char *app)
{
	fx *f = ud;
	f->live_calls++;
	if (f->live_none)
		return NULL;
	json_t *all = live_of(f, app), *out = json_array();
	size_t i;
	json_t *o;
	json_array_foreach(all, i, o)
	{
		const char *kind =
			json_string_value(json_object_get(o, "kind"));
		if (!strcmp(kind, "ConfigMap"))
			continue;
		if (!strcmp(kind, "Deployment") && f->live_image) {
			json_t *c = json_array_get(
				json_object_get(
					json_object_get(
						json_object_get(
							json_object_get(o,
									"spec"),
							"template"),
						"spec"),
					"containers"),
				0);
			json_object_set_new(c, "image",
					    json_string(f->live_image));
		}
		json_array_append(out, o);
	}
	json_decref(all);
	return out;
}

/* The preview's action for the object whose id ends with SUFFIX. */
static const char *plan_action(const json_t *rel, const char *suffix)
{
	const json_t *acts = json_object_get(
		json_array_get(
			json_object_get(json_object_get(rel, "plan"), "apps"),
			0),
		"actions");
	size_t i;
	const json_t *a;
	json_array_foreach(acts, i, a)
	{
		const char *id = json_string_value(json_object_get(a, "id"));
		size_t n = strlen(id), m = strlen(suffix);
		if (n >= m && !strcmp(id + n - m, suffix))
			return json_string_value(json_object_get(a, "action"));
	}
	return "(none)";
}

static void preview_reads_the_callers_cache(void **state)
{
	fx *f = *state;
	app_def d = {.name = "t-s-web"};
	json_t *spec = make_spec(&d);
	json_t *rel = new_release(f, spec, 1);
	assert_int_equal(run(f, rel, NULL, NULL), 0);
	assert_string_equal(phase(rel), "Succeeded");
	json_decref(rel);

	/* A cache that says the image is another: the preview plans an
	 * update, so it read the cache; the ConfigMap the cache lacks and
	 * the Namespace (never in it: no app label) were read by GET, so
	 * they are unchanged rather than created. */
	f->env.live = cache_live;
	f->live_image = "stale:0";
	rel = new_release(f, spec, 2);
	assert_int_equal(run(f, rel, NULL, NULL), 0);
	assert_string_equal(phase(rel), "Succeeded");
	assert_int_equal(f->live_calls, 1);
	assert_string_equal(plan_action(rel, ":Deployment:" NS ":t-s-web"),
			    "update");
	assert_string_equal(
		plan_action(rel, ":ConfigMap:" NS ":t-s-web-config"),
		"unchanged");
	assert_string_equal(plan_action(rel, "v1:Namespace:" NS), "unchanged");
	json_decref(rel);

	/* No cache (not synced): the cluster is listed, the plan is true. */
	f->live_none = true;
	rel = new_release(f, spec, 3);
	assert_int_equal(run(f, rel, NULL, NULL), 0);
	assert_int_equal(f->live_calls, 2);
	assert_string_equal(plan_action(rel, ":Deployment:" NS ":t-s-web"),
			    "unchanged");
	f->env.live = NULL;
	json_decref(rel);
	json_decref(spec);
}

static void fresh_release_is_stored_with_its_first_transition(void **state)
{
	fx *f = *state;
	app_def d = {.name = "t-s-web"};
	json_t *spec = make_spec(&d);
	json_t *list = NULL;
	ks_error err;

	/* Stored first as Deploying (on_change checks the store holds each
	 * phase it reports): Pending never needed a write of its own. */
	json_t *rel = ks_pipeline_release_new("t-s-web", 1, "c0ffee", "demo",
					      NULL, spec);
	f->env.fresh = true;
	assert_int_equal(run(f, rel, NULL, NULL), 0);
	const char *seq[] = {"Deploying", "Checking", "Succeeded", NULL};
	assert_phases(f, seq);
	json_t *st = stored_release(f, "t-s-web", 1);
	assert_string_equal(phase(st), "Succeeded");
	assert_non_null(json_object_get(st, "plan"));
	json_decref(st);
	json_decref(rel);

	/* A run that stops before any transition still leaves the release
	 * on record, Pending, resumable. */
	volatile int cancel = 1;
	f->env.cancel = &cancel;
	rel = ks_pipeline_release_new("t-s-web", 2, "c0ffee", "demo", NULL,
				      spec);
	assert_int_equal(ks_pipeline_run(&f->env, rel, NULL, NULL, &err),
			 KS_ERROR);
	assert_string_equal(err.msg, "cancelled");
	const char *pend[] = {"Pending", NULL};
	assert_phases(f, pend);
	st = stored_release(f, "t-s-web", 2);
	assert_string_equal(phase(st), "Pending");
	json_decref(st);
	cancel = 0;
	f->env.fresh = false;
	assert_int_equal(run(f, rel, NULL, NULL), 0);
	assert_string_equal(phase(rel), "Succeeded");
	f->env.cancel = NULL;
	assert_int_equal(ks_store_list(f->store, "t-s-web", &list, NULL, &err),
			 0);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	json_decref(rel);
	json_decref(spec);
}

/* The sub-spec of APP in a rendered Spec, as the agent splits it: the
 * app's resources plus the Namespaces they live in. */
static json_t *split_app(const json_t *spec, const char *app)
{
	json_t *out = json_pack("{s:[], s:[]}", "apps", "resources");
	size_t i;
	const json_t *a, *r;
	json_array_foreach(json_object_get(spec, "apps"), i, a)
	{
		if (!strcmp(json_string_value(json_object_get(a, "name")), app))
			json_array_append(json_object_get(out, "apps"),
					  (json_t *)a);
	}
	json_t *nss = json_object();
	json_array_foreach(json_object_get(spec, "resources"), i, r)
	{
		const json_t *md = json_object_get(
			json_object_get(r, "attributes"), "metadata");
		const char *owner = json_string_value(json_object_get(
			json_object_get(md, "labels"), KS_LABEL_APP));
		if (!owner || strcmp(owner, app))
			continue;
		const char *ns =
			json_string_value(json_object_get(md, "namespace"));
		if (ns)
			json_object_set_new(nss, ns, json_true());
	}
	json_array_foreach(json_object_get(spec, "resources"), i, r)
	{
		const json_t *at = json_object_get(r, "attributes");
		const json_t *md = json_object_get(at, "metadata");
		const char *owner = json_string_value(json_object_get(
			json_object_get(md, "labels"), KS_LABEL_APP));
		const char *kind =
			json_string_value(json_object_get(at, "kind"));
		bool mine = owner && !strcmp(owner, app);
		bool ns = kind && !strcmp(kind, "Namespace") &&
			  json_object_get(nss,
					  json_string_value(
						  json_object_get(md, "name")));
		if (mine || ns)
			json_array_append(json_object_get(out, "resources"),
					  (json_t *)r);
	}
	json_decref(nss);
	return out;
}

/* The demo's helloworld as rendered: approval, its dependency, its
 * mandatory policy set, and three cells deployed in order. */
static void rendered_demo_helloworld(void **state)
{
	fx *f = *state;
	char dir[1024], ws[1024];
	snprintf(dir, sizeof(dir), "%s/examples/demo/prod",
		 ks_test_source_dir());
	snprintf(ws, sizeof(ws), "%s/examples/workspace.yaml",
		 ks_test_source_dir());
	const char *dirs[] = {dir};
	json_t *spec = NULL;
	ks_errlist *errs = ks_errlist_new();
	int rc = ks_render_dirs(&spec, dirs, 1, ws, errs);
	if (rc)
		ks_errlist_print(errs, stderr, 10);
	assert_int_equal(rc, 0);
	ks_errlist_free(errs);
	json_t *sub = split_app(spec, "demo-prod-helloworld");
	json_decref(spec);
	json_t *rel = new_release(f, sub, 1);
	json_t *deps =
		json_pack("[{s:s, s:s, s:b}]", "app", "demo-prod-api-server",
			  "phase", "Succeeded", "healthy", 1);
	assert_int_equal(run(f, rel, NULL, deps), 0);
	if (strcmp(phase(rel), "AwaitingApproval"))
		fprintf(stderr, "%s: %s\n", phase(rel), msg(rel));
	assert_string_equal(phase(rel), "AwaitingApproval");
	ks_error err;
	assert_int_equal(
		ks_pipeline_approve(&f->env, rel, "alice", "api", NULL, &err),
		0);
	assert_int_equal(run(f, rel, NULL, deps), 0);
	if (strcmp(phase(rel), "Succeeded"))
		fprintf(stderr, "%s: %s\n", phase(rel), msg(rel));
	assert_string_equal(phase(rel), "Succeeded");
	const char *seq[] = {"AwaitingApproval", "Deploying", "Checking",
			     "Deploying",	 "Checking",  "Deploying",
			     "Checking",	 "Succeeded", NULL};
	assert_phases(f, seq);
	json_t *cells = json_object_get(rel, "cells");
	const char *names[] = {"GZ99S", "RZ99K", "GZ20W"};
	for (size_t i = 0; i < 3; i++) {
		json_t *c = json_array_get(cells, i);
		assert_string_equal(
			json_string_value(json_object_get(c, "cell")),
			names[i]);
		assert_string_equal(
			json_string_value(json_object_get(c, "phase")),
			"Succeeded");
		char name[64];
		snprintf(name, sizeof(name), "demo-prod-helloworld-%c%c%c%c%c",
			 names[i][0] | 0x20, names[i][1] | 0x20, names[i][2],
			 names[i][3], names[i][4] | 0x20);
		json_t *d =
			get_obj(f, "apps/v1", "Deployment", "demo-prod", name);
		assert_non_null(d);
		json_decref(d);
	}
	/* advisory results are kept; nothing mandatory failed */
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(rel, "policy"), i, v)
		assert_false(json_is_true(json_object_get(v, "mandatory")));
	json_decref(deps);
	json_decref(rel);
	json_decref(sub);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static int pipeline_tests(void)
{
	const struct CMUnitTest tests[] = {
		T(simple_app_succeeds),
		T(manual_approval),
		T(namespace_outside_allow_list_blocks),
		T(cluster_scoped_kind_blocks),
		T(mandatory_policy_blocks),
		T(dependencies_wait_then_go),
		T(failed_dependency_fails),
		T(failing_cell_rolls_back_touched_cells),
		T(no_rollback_stays_failed),
		T(first_release_failing_has_nothing_to_revert),
		T(resume_after_a_crash_in_each_phase),
		T(resume_pending_rollback),
		T(supersede_and_manual_rollback),
		T(prune_deletes_what_the_release_dropped),
		T(drift_report_and_heal),
		T(cancelled_run_stops_resumable),
		T(rendered_demo_helloworld),
		T(preview_reads_the_callers_cache),
		T(fresh_release_is_stored_with_its_first_transition),
	};
	return cmocka_run_group_tests_name("agent/pipeline", tests, NULL, NULL);
}
KS_TEST_GROUP(pipeline_tests)
