/*
 * devcluster internals: defaults, names, strict fields, CRD types in
 * discovery, fault rules.
 */
#include "ks_test.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "devcluster/internal.h"

static int setup(void **state)
{
	ks_devcluster *dc = ks_xcalloc(1, sizeof(*dc));
	snprintf(dc->url, sizeof(dc->url), "http://127.0.0.1:1234");
	dc_types_init(dc);
	*state = dc;
	return 0;
}

static int teardown(void **state)
{
	ks_devcluster *dc = *state;
	dc_types_free(dc);
	dc_faults_free(dc);
	free(dc);
	return 0;
}

static json_t *parse(const char *s)
{
	json_error_t e;
	json_t *v = json_loads(s, 0, &e);
	if (!v)
		fail_msg("bad test json: %s", e.text);
	return v;
}

static void deployment_defaults_and_quantities(void **state)
{
	ks_devcluster *dc = *state;
	dc_type *t = dc_type_find(dc, "apps", "v1", "deployments");
	assert_non_null(t);
	json_t *d = parse("{\"metadata\":{\"name\":\"web\"},\"spec\":{"
			  "\"template\":{\"spec\":{\"containers\":[{\"name\":"
			  "\"c\",\"image\":\"nginx\",\"resources\":{\"limits\":"
			  "{\"memory\":\"4096Mi\",\"cpu\":2}}}]}}}}");
	dc_apply_defaults(dc, t, d);
	json_t *spec = json_object_get(d, "spec");
	assert_int_equal(json_integer_value(json_object_get(spec, "replicas")),
			 1);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_object_get(spec, "strategy"),
					"rollingUpdate"),
			"maxSurge")),
		"25%");
	json_t *c = json_array_get(
		json_object_get(
			json_object_get(json_object_get(spec, "template"),
					"spec"),
			"containers"),
		0);
	/* an untagged image is pulled Always */
	assert_string_equal(dc_jstr(c, "imagePullPolicy"), "Always");
	json_t *lim =
		json_object_get(json_object_get(c, "resources"), "limits");
	assert_string_equal(dc_jstr(lim, "memory"), "4Gi");
	assert_string_equal(dc_jstr(lim, "cpu"), "2");
	assert_true(json_is_null(json_object_get(
		json_object_get(json_object_get(spec, "template"), "metadata"),
		"creationTimestamp")));
	json_decref(d);
}

static void service_defaults(void **state)
{
	ks_devcluster *dc = *state;
	dc_type *t = dc_type_find(dc, "", "v1", "services");
	json_t *s = parse("{\"metadata\":{\"name\":\"s\"},\"spec\":{\"type\":"
			  "\"NodePort\",\"ports\":[{\"port\":80}]}}");
	dc_apply_defaults(dc, t, s);
	json_t *spec = json_object_get(s, "spec");
	json_t *p = json_array_get(json_object_get(spec, "ports"), 0);
	assert_string_equal(dc_jstr(p, "protocol"), "TCP");
	assert_int_equal(json_integer_value(json_object_get(p, "targetPort")),
			 80);
	assert_true(json_integer_value(json_object_get(p, "nodePort")) >=
		    30000);
	assert_string_equal(dc_jstr(spec, "sessionAffinity"), "None");
	assert_true(strncmp(dc_jstr(spec, "clusterIP"), "10.96.", 6) == 0);
	json_decref(s);
}

static void names_and_strict_fields(void **state)
{
	ks_devcluster *dc = *state;
	dc_type *cm = dc_type_find(dc, "", "v1", "configmaps");
	dc_type *ns = dc_type_find(dc, "", "v1", "namespaces");
	dc_type *svc = dc_type_find(dc, "", "v1", "services");
	assert_null(dc_name_problem(cm, "a.b-c"));
	assert_non_null(dc_name_problem(cm, "Bad_Name"));
	assert_non_null(dc_name_problem(ns, "a.b"));
	assert_non_null(dc_name_problem(svc, "1abc"));
	json_t *o = parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
			  "\"metadata\":{},\"data\":{},\"dataa\":1}");
	assert_string_equal(dc_unknown_field(cm, o), "dataa");
	json_object_del(o, "dataa");
	assert_null(dc_unknown_field(cm, o));
	json_decref(o);
	/* custom resources are not checked */
	dc_type *sm = dc_type_find(dc, "monitoring.coreos.com", "v1",
				   "servicemonitors");
	o = parse("{\"whatever\":1}");
	assert_null(dc_unknown_field(sm, o));
	json_decref(o);
}

static void crd_types_come_and_go(void **state)
{
	ks_devcluster *dc = *state;
	json_t *crd = parse(
		"{\"spec\":{\"group\":\"example.com\",\"scope\":\"Namespaced\","
		"\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\","
		"\"kind\":\"Widget\",\"shortNames\":[\"wd\"]},\"versions\":[{"
		"\"name\":\"v1\",\"served\":true,\"storage\":true,"
		"\"subresources\":{\"status\":{}}}]},\"status\":{"
		"\"conditions\":"
		"[{\"type\":\"Established\",\"status\":\"True\"}]}}");
	assert_null(dc_discovery_resources(dc, "example.com", "v1"));
	dc_types_crd_changed(dc, crd, false);
	json_t *r = dc_discovery_resources(dc, "example.com", "v1");
	assert_non_null(r);
	json_t *res = json_object_get(r, "resources");
	assert_int_equal(json_array_size(res), 2);
	json_t *w = json_array_get(res, 0);
	assert_string_equal(dc_jstr(w, "name"), "widgets");
	assert_string_equal(dc_jstr(w, "singularName"), "widget");
	assert_string_equal(dc_jstr(json_array_get(res, 1), "name"),
			    "widgets/status");
	json_decref(r);
	/* an update keeps the type (and its objects) */
	dc_type *t = dc_type_find(dc, "example.com", "v1", "widgets");
	json_object_set_new(t->objects, "default/a", json_object());
	dc_types_crd_changed(dc, crd, false);
	assert_ptr_equal(dc_type_find(dc, "example.com", "v1", "widgets"), t);
	assert_int_equal(json_object_size(t->objects), 1);
	dc_types_crd_changed(dc, crd, true);
	assert_null(dc_type_find(dc, "example.com", "v1", "widgets"));
	json_decref(crd);
}

static void fault_rules(void **state)
{
	ks_devcluster *dc = *state;
	ks_error err;
	assert_int_equal(dc_faults_set(dc,
				       "verb=get,resource=pods,error=429; "
				       "latency=2s,rate=0.5\nresource=x,"
				       "drop=1,count=3",
				       &err),
			 0);
	json_t *j = dc_faults_json(dc);
	json_t *f = json_object_get(j, "faults");
	assert_int_equal(json_array_size(f), 3);
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(f, 0), "retryAfter")),
			 1);
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(f, 1), "latencyMs")),
			 2000);
	json_decref(j);
	assert_int_equal(dc_faults_set(dc, "error=200", &err), KS_EINVAL);
	assert_int_equal(dc_faults_set(dc, "verb=get", &err), KS_EINVAL);
	assert_non_null(strstr(err.msg, "needs latency, error or drop"));
	assert_int_equal(dc_faults_set(dc, "rate=2,error=500", &err),
			 KS_EINVAL);
	/* a bad rule leaves the old ones in place */
	j = dc_faults_json(dc);
	assert_int_equal(json_array_size(json_object_get(j, "faults")), 3);
	json_decref(j);
	assert_int_equal(dc_faults_set(dc, "", &err), 0);
	assert_null(dc->faults);
}

static int devcluster_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			deployment_defaults_and_quantities, setup, teardown),
		cmocka_unit_test_setup_teardown(service_defaults, setup,
						teardown),
		cmocka_unit_test_setup_teardown(names_and_strict_fields, setup,
						teardown),
		cmocka_unit_test_setup_teardown(crd_types_come_and_go, setup,
						teardown),
		cmocka_unit_test_setup_teardown(fault_rules, setup, teardown),
	};
	return cmocka_run_group_tests_name("devcluster", tests, NULL, NULL);
}
KS_TEST_GROUP(devcluster_tests)
