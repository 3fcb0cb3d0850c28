/*
 * sync/plan: the drift comparison rules of spec/agent.md § Drift, plans and
 * their JSON and text forms.
 */
#include "ks_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "sync/plan.h"

static json_t *js(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, 0, &je);
	if (!v)
		fail_msg("bad test JSON: %s (%s)", je.text, text);
	return v;
}

/* The real API server's answer to creating a Deployment (with the capture's
 * trailer after the JSON). */
static json_t *fixture_deployment(void)
{
	char *path = ks_xasprintf("%s/../shared/fixtures/kube-observed/"
				  "dep-create.json",
				  ks_test_source_dir());
	json_error_t je;
	json_t *v = json_load_file(path, JSON_DISABLE_EOF_CHECK, &je);
	if (!v) {
		free(path);
		path = ks_xstrdup("/work/shared/fixtures/kube-observed/"
				  "dep-create.json");
		v = json_load_file(path, JSON_DISABLE_EOF_CHECK, &je);
	}
	if (!v)
		fail_msg("%s: %s", path, je.text);
	free(path);
	return v;
}

static const char *desired_web =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
	"{\"name\":\"web\",\"namespace\":\"default\",\"labels\":{\"app\":"
	"\"web\"}},\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":"
	"{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":"
	"\"web\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":"
	"\"nginx:1\"}]}}}}";

static json_t *diff(const json_t *d, const json_t *l, const json_t *ptrs)
{
	json_t *out = NULL;
	ks_error err;
	if (ks_sync_diff(&out, d, l, ptrs, &err))
		fail_msg("diff: %s", err.msg);
	return out;
}

static void assert_fields(const json_t *fields, const char *want)
{
	char *got = json_dumps(fields, JSON_COMPACT);
	assert_string_equal(got, want);
	free(got);
}

static void server_defaults_are_not_drift(void **state)
{
	(void)state;
	json_t *live = fixture_deployment();
	json_t *d = js(desired_web);
	json_t *f = diff(d, live, NULL);
	assert_fields(f, "[]");
	json_decref(f);
	/* the live object missing: nothing to compare field by field */
	f = diff(d, NULL, NULL);
	assert_fields(f, "[]");
	json_decref(f);
	json_decref(d);
	json_decref(live);
}

static void scaled_and_retagged_show_exact_paths(void **state)
{
	(void)state;
	json_t *live = fixture_deployment();
	json_t *d = js(desired_web);
	json_object_set_new(json_object_get(live, "spec"), "replicas",
			    json_integer(7));
	json_t *c0 = json_array_get(
		json_object_get(
			json_object_get(
				json_object_get(json_object_get(live, "spec"),
						"template"),
				"spec"),
			"containers"),
		0);
	json_object_set_new(c0, "image", json_string("nginx:2"));
	json_t *f = diff(d, live, NULL);
	assert_fields(f, "[{\"path\":\"spec.replicas\",\"desired\":2,\"live\":"
			 "7},{\"path\":\"spec.template.spec.containers[name=c]"
			 ".image\",\"desired\":\"nginx:1\",\"live\":\"nginx:2\""
			 "}]");
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_sync_field_text(&b, json_array_get(f, 0), false);
	assert_string_equal(b.data, "2 -> 7");
	ks_buf_release(&b);
	ks_sync_field_text(&b, json_array_get(f, 1), true);
	assert_string_equal(b.data, "\"nginx:2\" -> \"nginx:1\"");
	ks_buf_release(&b);
	json_decref(f);
	json_decref(d);
	json_decref(live);
}

static void lists_match_by_key_not_position(void **state)
{
	(void)state;
	json_t *d = js("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		       "\"metadata\":{\"name\":\"w\"},\"spec\":{\"template\":"
		       "{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":"
		       "\"a:1\",\"env\":[{\"name\":\"X\",\"value\":\"1\"}]},{"
		       "\"name\":\"b\",\"image\":\"b:1\"}]}}}}");
	/* live: containers swapped, a sidecar someone else added, env with a
	 * second variable added by another manager */
	json_t *l = js("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		       "\"metadata\":{\"name\":\"w\"},\"spec\":{\"template\":"
		       "{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":"
		       "\"b:1\"},{\"name\":\"mesh\",\"image\":\"m\"},{\"name\":"
		       "\"a\",\"image\":\"a:1\",\"env\":[{\"name\":\"Y\","
		       "\"value\":\"2\"},{\"name\":\"X\",\"value\":\"1\"}]}]}}}"
		       "}");
	json_t *f = diff(d, l, NULL);
	assert_fields(f, "[]");
	json_decref(f);
	/* b missing from live: the whole element is drift */
	json_t *spec = json_object_get(
		json_object_get(json_object_get(l, "spec"), "template"),
		"spec");
	json_array_remove(json_object_get(spec, "containers"), 0);
	f = diff(d, l, NULL);
	assert_fields(f, "[{\"path\":\"spec.template.spec.containers[name=b]\","
			 "\"desired\":{\"image\":\"b:1\",\"name\":\"b\"}}]");
	json_decref(f);
	json_decref(d);
	json_decref(l);
}

static void quantities_compare_by_value(void **state)
{
	(void)state;
	json_t *d = js("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		       "\"metadata\":{\"name\":\"w\"},\"spec\":{\"template\":"
		       "{\"spec\":{\"containers\":[{\"name\":\"a\","
		       "\"resources\":{\"requests\":{\"cpu\":\"1000m\","
		       "\"memory\":\"1Gi\"},\"limits\":{\"cpu\":2,\"memory\":"
		       "\"4096Mi\"}}}]}}}}");
	json_t *l = js("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		       "\"metadata\":{\"name\":\"w\"},\"spec\":{\"template\":"
		       "{\"spec\":{\"containers\":[{\"name\":\"a\","
		       "\"resources\":{\"requests\":{\"cpu\":\"1\","
		       "\"memory\":\"1024Mi\"},\"limits\":{\"cpu\":\"2\","
		       "\"memory\":\"4Gi\"}}}]}}}}");
	json_t *f = diff(d, l, NULL);
	assert_fields(f, "[]");
	json_decref(f);
	json_t *lim = json_object_get(
		json_object_get(
			json_array_get(
				json_object_get(
					json_object_get(
						json_object_get(
							json_object_get(l,
									"spec"),
							"template"),
						"spec"),
					"containers"),
				0),
			"resources"),
		"limits");
	json_object_set_new(lim, "memory", json_string("2Gi"));
	f = diff(d, l, NULL);
	assert_fields(f, "[{\"path\":\"spec.template.spec.containers[name=a]"
			 ".resources.limits.memory\",\"desired\":\"4096Mi\","
			 "\"live\":\"2Gi\"}]");
	json_decref(f);
	json_decref(d);
	json_decref(l);
	/* outside quantity fields, "1" and "1.0" are different strings */
	d = js("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{"
	       "\"name\":\"c\"},\"data\":{\"v\":\"1\"}}");
	l = js("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{"
	       "\"name\":\"c\"},\"data\":{\"v\":\"1.0\"}}");
	f = diff(d, l, NULL);
	assert_int_equal(json_array_size(f), 1);
	json_decref(f);
	json_decref(d);
	json_decref(l);
}

static void service_ports_by_port_and_protocol(void **state)
{
	(void)state;
	json_t *d =
		js("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\""
		   ":{\"name\":\"s\",\"labels\":{\"app.kubernetes.io/name\":"
		   "\"x\"}},\"spec\":{\"ports\":[{\"name\":\"p\",\"port\":"
		   "80,\"targetPort\":8080}]}}");
	json_t *l =
		js("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\""
		   ":{\"name\":\"s\",\"labels\":{\"app.kubernetes.io/name\":"
		   "\"y\"}},\"spec\":{\"clusterIP\":\"10.0.0.1\",\"ports\":"
		   "[{\"name\":\"p\",\"port\":80,\"protocol\":\"TCP\","
		   "\"targetPort\":9090}]}}");
	json_t *f = diff(d, l, NULL);
	assert_fields(f, "[{\"path\":\"metadata.labels[\\\"app.kubernetes.io/"
			 "name\\\"]\",\"desired\":\"x\",\"live\":\"y\"},{"
			 "\"path\":\"spec.ports[port=80,protocol=TCP]."
			 "targetPort\",\"desired\":8080,\"live\":9090}]");
	json_decref(f);
	json_decref(d);
	json_decref(l);
}

static void ignored_pointers_and_dropped_fields(void **state)
{
	(void)state;
	json_t *rules = js("[{\"group\":\"apps\",\"kind\":\"Deployment\","
			   "\"jsonPointers\":[\"/spec/replicas\"]},{\"kind\":"
			   "\"ConfigMap\",\"jsonPointers\":[\"/data/x\"]}]");
	json_t *d = js(desired_web);
	json_t *ptrs = ks_sync_ignored_pointers(rules, d);
	assert_fields(ptrs, "[\"/spec/replicas\"]");
	json_t *applied = ks_sync_applied_form(d, ptrs);
	assert_null(
		json_object_get(json_object_get(applied, "spec"), "replicas"));
	/* kusync owned replicas and a label before; live has replicas 7
	 * (an autoscaler) and the old label */
	json_t *live = fixture_deployment();
	json_object_set_new(json_object_get(live, "spec"), "replicas",
			    json_integer(7));
	json_t *md = json_object_get(live, "metadata");
	json_object_set_new(json_object_get(md, "labels"), "old",
			    json_string("x"));
	json_t *mf = json_object_get(md, "managedFields");
	json_array_append_new(
		mf, js("{\"manager\":\"kusync\",\"operation\":\"Apply\","
		       "\"apiVersion\":\"apps/v1\",\"fieldsType\":\"FieldsV1\","
		       "\"fieldsV1\":{\"f:metadata\":{\"f:labels\":{\"f:app\":"
		       "{},\"f:old\":{}}},\"f:spec\":{\"f:replicas\":{}}}}"));
	json_t *f = diff(applied, live, ptrs);
	/* replicas is ignored; the label kusync no longer sets is what apply
	 * will remove */
	assert_fields(f, "[{\"path\":\"metadata.labels.old\",\"live\":\"x\"}]");
	json_decref(f);
	json_decref(applied);
	json_decref(ptrs);
	/* without the rule replicas is drift */
	f = diff(d, live, NULL);
	assert_int_equal(json_array_size(f), 2);
	json_decref(f);
	json_decref(live);
	json_decref(d);
	json_decref(rules);
}

static void secret_values_never_shown(void **state)
{
	(void)state;
	json_t *d = js("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\""
		       ":{\"name\":\"s\"},\"data\":{\"password\":\"YQ==\","
		       "\"user\":\"dXNlcg==\"}}");
	json_t *l = js("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\""
		       ":{\"name\":\"s\"},\"data\":{\"password\":\"Yg==\","
		       "\"user\":\"dXNlcg==\"}}");
	json_t *f = diff(d, l, NULL);
	/* sha256("YQ==") starts ff6c0e5a, sha256("Yg==") 60f07bd9 */
	assert_fields(f, "[{\"path\":\"data.password\",\"desired\":"
			 "\"sha256:ff6c0e5a\",\"live\":\"sha256:60f07bd9\","
			 "\"secret\":true}]");
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_sync_field_text(&b, json_array_get(f, 0), false);
	assert_string_equal(b.data,
			    "(changed, sha256:ff6c0e5a -> sha256:60f07bd9)");
	ks_buf_release(&b);
	json_decref(f);
	json_decref(d);
	json_decref(l);
}

static const char *spec_text =
	"{\"apps\":[{\"name\":\"demo-prod-web\",\"project\":\"demo\","
	"\"stack\":\"prod\"}],\"resources\":["
	"{\"id\":\"v1:Namespace:demo-prod\",\"attributes\":{\"apiVersion\":"
	"\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"demo-prod\","
	"\"labels\":{\"app.kubernetes.io/managed-by\":\"kusync\"}}},"
	"\"extensions\":{}},"
	"{\"id\":\"v1:ConfigMap:demo-prod:cfg\",\"attributes\":{\"apiVersion\":"
	"\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cfg\","
	"\"namespace\":\"demo-prod\",\"labels\":{\"kusync.io/app\":"
	"\"demo-prod-web\",\"kusync.io/stack\":\"demo-prod\"}},\"data\":{\"a\":"
	"\"1\"}},\"dependsOn\":[\"v1:Namespace:demo-prod\"],\"extensions\":{"
	"\"kusync.io/app\":\"demo-prod-web\"}},"
	"{\"id\":\"apps/v1:Deployment:demo-prod:web\",\"attributes\":{"
	"\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{"
	"\"name\":\"web\",\"namespace\":\"demo-prod\",\"labels\":{"
	"\"kusync.io/app\":\"demo-prod-web\",\"kusync.io/stack\":\"demo-prod\""
	"}},\"spec\":{\"replicas\":2}},\"dependsOn\":[\"v1:ConfigMap:demo-prod:"
	"cfg\"],\"extensions\":{\"kusync.io/app\":\"demo-prod-web\"}}]}";

static const char *live_text =
	"[{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":"
	"\"demo-prod\",\"uid\":\"u1\",\"labels\":{\"app.kubernetes.io/"
	"managed-by\":\"kusync\"}},\"status\":{\"phase\":\"Active\"}},"
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{"
	"\"name\":\"web\",\"namespace\":\"demo-prod\",\"generation\":3,"
	"\"labels\":{\"kusync.io/app\":\"demo-prod-web\",\"kusync.io/stack\":"
	"\"demo-prod\"}},\"spec\":{\"replicas\":7}},"
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
	"\"old\",\"namespace\":\"demo-prod\",\"labels\":{\"kusync.io/app\":"
	"\"demo-prod-web\",\"kusync.io/stack\":\"demo-prod\"}}},"
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
	"\"kept\",\"namespace\":\"demo-prod\",\"annotations\":{"
	"\"kusync.io/prune\":\"false\"},\"labels\":{\"kusync.io/app\":"
	"\"demo-prod-web\",\"kusync.io/stack\":\"demo-prod\"}}},"
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
	"\"owned\",\"namespace\":\"demo-prod\",\"ownerReferences\":[{\"kind\":"
	"\"X\"}],\"labels\":{\"kusync.io/app\":\"demo-prod-web\","
	"\"kusync.io/stack\":\"demo-prod\"}}},"
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
	"\"gone-app\",\"namespace\":\"demo-prod\",\"labels\":{"
	"\"kusync.io/app\":\"demo-prod-old\",\"kusync.io/stack\":\"demo-prod\""
	"}}},"
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
	"\"other-stack\",\"namespace\":\"demo-dev\",\"labels\":{"
	"\"kusync.io/app\":\"demo-dev-web\",\"kusync.io/stack\":\"demo-dev\""
	"}}}]";

static ks_sync_plan *make_plan_opts(bool prune, bool by_app)
{
	json_t *spec = js(spec_text);
	json_t *live = js(live_text);
	ks_sync_plan *p = NULL;
	ks_error err;
	assert_int_equal(ks_sync_plan_scope(&p, spec, &err), 0);
	assert_int_equal(p->nstacks, 1);
	assert_string_equal(p->stacks[0], "demo-prod");
	ks_sync_plan_opts o = {.prune = prune, .by_app = by_app};
	assert_int_equal(ks_sync_plan_build(p, spec, live, &o, &err), 0);
	json_decref(spec);
	json_decref(live);
	return p;
}

static ks_sync_plan *make_plan(bool prune)
{
	return make_plan_opts(prune, false);
}

/* The agent plans one app at a time: another app of the same stack
 * (demo-prod-old's ConfigMap) is not this plan's to delete. */
static void plan_by_app_leaves_other_apps(void **state)
{
	(void)state;
	ks_sync_plan *p = make_plan_opts(true, true);
	assert_int_equal(p->nitems, 5);
	assert_string_equal(p->items[3].id, "v1:ConfigMap:demo-prod:old");
	assert_int_equal(p->items[3].action, KS_ACT_DELETE);
	assert_string_equal(p->items[4].id, "v1:ConfigMap:demo-prod:kept");
	for (size_t i = 0; i < p->nitems; i++)
		assert_string_equal(p->items[i].app, "demo-prod-web");
	assert_int_equal(p->napps, 1);
	ks_sync_plan_free(p);
}

static void plan_actions_and_dependencies(void **state)
{
	(void)state;
	ks_sync_plan *p = make_plan(true);
	/* namespace, configmap, deployment, then old (delete), kept
	 * (orphan), gone-app (delete, under its own app); "owned" has an
	 * owner, "other-stack" another stack */
	assert_int_equal(p->nitems, 6);
	assert_int_equal(p->items[0].action, KS_ACT_UNCHANGED);
	assert_string_equal(p->items[0].app, "demo-prod-web");
	assert_int_equal(p->items[1].action, KS_ACT_CREATE);
	assert_int_equal(p->items[2].action, KS_ACT_UPDATE);
	assert_int_equal(p->items[1].ndeps, 1);
	assert_int_equal(p->items[1].deps[0], 0);
	/* the deployment waits for the configmap (dependsOn) and its
	 * namespace (implicit) */
	assert_int_equal(p->items[2].ndeps, 2);
	assert_int_equal(p->items[2].deps[0], 1);
	assert_int_equal(p->items[2].deps[1], 0);
	assert_string_equal(p->items[3].id, "v1:ConfigMap:demo-prod:old");
	assert_int_equal(p->items[3].action, KS_ACT_DELETE);
	assert_string_equal(p->items[4].id, "v1:ConfigMap:demo-prod:kept");
	assert_int_equal(p->items[4].action, KS_ACT_ORPHAN);
	assert_string_equal(p->items[5].app, "demo-prod-old");
	assert_int_equal(p->items[5].action, KS_ACT_DELETE);
	assert_true(ks_sync_plan_has_changes(p));

	json_t *j = ks_sync_plan_json(p);
	char *s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(
		s,
		"{\"apps\":[{\"app\":\"demo-prod-web\",\"actions\":[{\"id\":"
		"\"v1:Namespace:demo-prod\",\"action\":\"unchanged\","
		"\"fields\":[]},{\"id\":\"v1:ConfigMap:demo-prod:cfg\","
		"\"action\":\"create\",\"fields\":[]},{\"id\":\"apps/v1:"
		"Deployment:demo-prod:web\",\"action\":\"update\",\"fields\":"
		"[{\"path\":\"spec.replicas\",\"desired\":2,\"live\":7}]},{"
		"\"id\":\"v1:ConfigMap:demo-prod:old\",\"action\":\"delete\","
		"\"fields\":[]}]},{\"app\":\"demo-prod-old\",\"actions\":[{"
		"\"id\":\"v1:ConfigMap:demo-prod:gone-app\",\"action\":"
		"\"delete\",\"fields\":[]}]}]}");
	free(s);
	json_decref(j);

	ks_buf b;
	ks_buf_init(&b, 0);
	ks_sync_plan_text(&b, p);
	assert_string_equal(
		b.data,
		"app demo-prod-web\n"
		"  + create    v1:ConfigMap:demo-prod:cfg\n"
		"  ~ update    apps/v1:Deployment:demo-prod:web\n"
		"      spec.replicas  7 -> 2\n"
		"  - delete    v1:ConfigMap:demo-prod:old\n"
		"  ? orphan    v1:ConfigMap:demo-prod:kept (annotated "
		"kusync.io/prune: \"false\")\n"
		"app demo-prod-old\n"
		"  - delete    v1:ConfigMap:demo-prod:gone-app\n"
		"plan: 1 to create, 1 to update, 2 to delete, 1 unchanged, 1 "
		"orphaned\n");
	ks_buf_release(&b);
	ks_sync_plan_free(p);

	/* without prune nothing is deleted */
	p = make_plan(false);
	assert_int_equal(p->items[3].action, KS_ACT_ORPHAN);
	assert_int_equal(p->items[5].action, KS_ACT_ORPHAN);
	ks_sync_plan_free(p);
}

static void drift_report_json_and_text(void **state)
{
	(void)state;
	ks_sync_plan *p = make_plan(false);
	json_t *d = ks_sync_drift_json(p, "2026-11-25T08:00:00Z");
	assert_int_equal(ks_sync_drift_count(d), 5);
	json_t *a0 = json_array_get(json_object_get(d, "apps"), 0);
	assert_true(json_is_null(json_object_get(a0, "release")));
	assert_string_equal(json_string_value(json_object_get(a0, "checkedAt")),
			    "2026-11-25T08:00:00Z");
	json_t *r = json_object_get(a0, "resources");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(r, 0), "state")),
			    "missing");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(r, 1), "state")),
			    "modified");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(r, 2), "state")),
			    "orphan");
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_sync_drift_text(&b, d);
	assert_string_equal(
		b.data,
		"RESOURCE                          STATE     FIELD          "
		"DESIRED -> LIVE\n"
		"v1:ConfigMap:demo-prod:cfg        missing\n"
		"apps/v1:Deployment:demo-prod:web  modified  spec.replicas  "
		"2 -> 7\n"
		"v1:ConfigMap:demo-prod:old        orphan\n"
		"v1:ConfigMap:demo-prod:kept       orphan\n"
		"v1:ConfigMap:demo-prod:gone-app   orphan\n");
	ks_buf_release(&b);
	json_decref(d);
	ks_sync_plan_free(p);

	json_t *empty = js("{\"apps\":[{\"app\":\"x\",\"resources\":[]}]}");
	ks_buf_init(&b, 0);
	ks_sync_drift_text(&b, empty);
	assert_string_equal(b.data, "no drift\n");
	ks_buf_release(&b);
	json_decref(empty);
}

static void cells_apply_in_order(void **state)
{
	(void)state;
	json_t *spec = js(
		"{\"apps\":[{\"name\":\"s-p-w\",\"project\":\"s\",\"stack\":"
		"\"p\",\"cells\":[{\"zone\":\"A\",\"cell\":\"Z2\"},{\"zone\":"
		"\"B\",\"cell\":\"Z1\"}]}],\"resources\":["
		"{\"id\":\"apps/v1:Deployment:n:w-z1\",\"extensions\":{"
		"\"kusync.io/app\":\"s-p-w\"},\"attributes\":{\"apiVersion\":"
		"\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
		"\"w-z1\",\"namespace\":\"n\",\"labels\":{\"kusync.io/cell\":"
		"\"Z1\"}}}},"
		"{\"id\":\"apps/v1:Deployment:n:w-z2\",\"extensions\":{"
		"\"kusync.io/app\":\"s-p-w\"},\"attributes\":{\"apiVersion\":"
		"\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
		"\"w-z2\",\"namespace\":\"n\",\"labels\":{\"kusync.io/cell\":"
		"\"Z2\"}}}}]}");
	ks_sync_plan *p = NULL;
	ks_error err;
	assert_int_equal(ks_sync_plan_scope(&p, spec, &err), 0);
	json_t *live = json_array();
	assert_int_equal(ks_sync_plan_build(p, spec, live, NULL, &err), 0);
	/* Z2 is the app's first cell: w-z1 (cell Z1, second) waits for it */
	assert_int_equal(p->items[0].ndeps, 1);
	assert_int_equal(p->items[0].deps[0], 1);
	assert_int_equal(p->items[1].ndeps, 0);
	ks_sync_plan_free(p);
	json_decref(live);
	json_decref(spec);
}

static int plan_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(server_defaults_are_not_drift),
		cmocka_unit_test(scaled_and_retagged_show_exact_paths),
		cmocka_unit_test(lists_match_by_key_not_position),
		cmocka_unit_test(quantities_compare_by_value),
		cmocka_unit_test(service_ports_by_port_and_protocol),
		cmocka_unit_test(ignored_pointers_and_dropped_fields),
		cmocka_unit_test(secret_values_never_shown),
		cmocka_unit_test(plan_actions_and_dependencies),
		cmocka_unit_test(plan_by_app_leaves_other_apps),
		cmocka_unit_test(drift_report_json_and_text),
		cmocka_unit_test(cells_apply_in_order),
	};
	return cmocka_run_group_tests_name("sync/plan", tests, NULL, NULL);
}

KS_TEST_GROUP(plan_tests)
