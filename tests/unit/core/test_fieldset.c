#include "ks_test.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/fieldset.h"
#include "core/mem.h"
#include "core/patch.h"

static json_t *J(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
	if (!v)
		fail_msg("bad test JSON: %s: %s", je.text, text);
	return v;
}

static void assert_json(const json_t *v, const char *want)
{
	json_t *w = J(want);
	if (!ks_json_equal(v, w)) {
		char *got = json_dumps(v, JSON_SORT_KEYS | JSON_ENCODE_ANY);
		fail_msg("got %s\nwant %s", got, want);
	}
	json_decref(w);
}

/* The set's printed paths joined by spaces, for compact assertions. */
static char *paths_of(const ks_fieldset *s)
{
	json_t *p = ks_fieldset_paths(s);
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_buf_puts(&b, "");
	for (size_t i = 0; i < json_array_size(p); i++)
		ks_buf_printf(&b, "%s%s", i ? " " : "",
			      json_string_value(json_array_get(p, i)));
	json_decref(p);
	return ks_buf_detach(&b, NULL);
}

static void check_paths(const ks_fieldset *s, const char *want)
{
	char *got = paths_of(s);
	if (strcmp(got, want) != 0)
		fail_msg("got  %s\nwant %s", got, want);
	free(got);
}

static ks_fieldset *set_of(const char *obj, ks_fieldset_scope scope)
{
	json_t *o = J(obj);
	ks_fieldset *s = NULL;
	ks_error err = {0};
	assert_int_equal(ks_fieldset_from_object(&s, o, scope, &err), 0);
	json_decref(o);
	return s;
}

static const char deploy[] =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	"\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
	"\"uid\":\"u\",\"resourceVersion\":\"5\",\"labels\":{\"app\":\"web\"}},"
	"\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":"
	"\"web\"}},"
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
	"\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":\"app:1\","
	"\"args\":[\"-v\"],\"ports\":[{\"containerPort\":80}],"
	"\"resources\":{}}]}}},"
	"\"status\":{\"replicas\":2}}";

static void object_field_set_follows_ssa_rules(void **state)
{
	(void)state;
	ks_fieldset *s = set_of(deploy, KS_SCOPE_MAIN);
	check_paths(s,
		    ".metadata.labels.app .spec.replicas .spec.selector "
		    ".spec.template.metadata.labels.app "
		    ".spec.template.spec.containers[name=\"app\"] "
		    ".spec.template.spec.containers[name=\"app\"].args "
		    ".spec.template.spec.containers[name=\"app\"].image "
		    ".spec.template.spec.containers[name=\"app\"].name "
		    ".spec.template.spec.containers[name=\"app\"].ports"
		    "[containerPort=80,protocol=\"TCP\"] "
		    ".spec.template.spec.containers[name=\"app\"].ports"
		    "[containerPort=80,protocol=\"TCP\"].containerPort "
		    ".spec.template.spec.containers[name=\"app\"].resources");
	assert_true(ks_fieldset_has(s, ".spec.replicas"));
	assert_false(ks_fieldset_has(s, ".spec"));
	assert_false(ks_fieldset_has(s, ".metadata.name"));
	ks_fieldset_free(s);

	s = set_of(deploy, KS_SCOPE_STATUS);
	check_paths(s, ".status.replicas");
	ks_fieldset_free(s);
	s = set_of(deploy, KS_SCOPE_ALL);
	assert_true(ks_fieldset_has(s, ".status.replicas"));
	ks_fieldset_free(s);
}

static void custom_resources_have_atomic_lists(void **state)
{
	(void)state;
	ks_fieldset *s = set_of("{\"apiVersion\":\"example.com/v1\","
				"\"kind\":\"Widget\",\"spec\":{\"containers\":"
				"[{\"name\":\"a\"}]}}",
				KS_SCOPE_ALL);
	check_paths(s, ".spec.containers");
	ks_fieldset_free(s);
}

static void fields_v1_round_trip(void **state)
{
	(void)state;
	/* From a real server's Deployment (dep-create.json), abridged. */
	const char *f =
		"{\"f:metadata\":{\"f:labels\":{\".\":{},\"f:app\":{}}},"
		"\"f:spec\":{\"f:replicas\":{},\"f:selector\":{},"
		"\"f:strategy\":{\"f:rollingUpdate\":{\".\":{},"
		"\"f:maxSurge\":{}},\"f:type\":{}},"
		"\"f:template\":{\"f:spec\":{\"f:containers\":{"
		"\"k:{\\\"name\\\":\\\"c\\\"}\":{\".\":{},\"f:image\":{},"
		"\"f:name\":{}}}}}}}";
	json_t *in = J(f);
	ks_fieldset *s = NULL;
	ks_error err = {0};
	assert_int_equal(ks_fieldset_from_fields_v1(&s, in, &err), 0);
	assert_true(ks_fieldset_has(s, ".metadata.labels"));
	assert_true(ks_fieldset_has(s, ".metadata.labels.app"));
	assert_false(ks_fieldset_has(s, ".spec.strategy"));
	assert_true(ks_fieldset_has(s, ".spec.strategy.rollingUpdate"));
	assert_true(ks_fieldset_has(
		s, ".spec.template.spec.containers[name=\"c\"].image"));
	json_t *out = ks_fieldset_to_fields_v1(s);
	assert_true(ks_json_equal(in, out));
	char *dump = json_dumps(out, JSON_COMPACT);
	/* "." first, then fields in order. */
	assert_non_null(
		strstr(dump, "{\".\":{},\"f:image\":{},\"f:name\":{}}"));
	free(dump);
	json_decref(out);
	json_decref(in);
	ks_fieldset_free(s);

	in = J("{\"f:a\":{\"x:b\":{}}}");
	assert_int_equal(ks_fieldset_from_fields_v1(&s, in, &err), KS_EINVAL);
	assert_non_null(strstr(err.msg, "\"x:b\""));
	json_decref(in);
}

static void extract_owned_fields(void **state)
{
	(void)state;
	json_t *applied =
		J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		  "\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":2,"
		  "\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\","
		  "\"image\":\"app:1\"}]}}}}");
	ks_fieldset *s = NULL;
	ks_error err = {0};
	assert_int_equal(
		ks_fieldset_from_object(&s, applied, KS_SCOPE_MAIN, &err), 0);
	/* The live object has defaults and a second container nobody
	 * applied. */
	json_t *live =
		J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		  "\"metadata\":{\"name\":\"web\",\"uid\":\"u\"},"
		  "\"spec\":{\"replicas\":3,\"revisionHistoryLimit\":10,"
		  "\"template\":{\"spec\":{\"dnsPolicy\":\"ClusterFirst\","
		  "\"containers\":[{\"name\":\"istio\",\"image\":\"i\"},"
		  "{\"name\":\"app\",\"image\":\"app:1\","
		  "\"imagePullPolicy\":\"Always\"}]}}},\"status\":{}}");
	json_t *x = ks_fieldset_extract(s, live);
	assert_json(x, "{\"spec\":{\"replicas\":3,\"template\":{\"spec\":"
		       "{\"containers\":[{\"name\":\"app\",\"image\":"
		       "\"app:1\"}]}}}}");
	json_t *y = ks_fieldset_extract(s, applied);
	/* Only replicas differs: that is the drift. */
	json_object_set_new(json_object_get(x, "spec"), "replicas",
			    json_integer(2));
	assert_true(ks_json_equal(x, y));
	json_decref(x);
	json_decref(y);
	json_decref(live);
	json_decref(applied);
	ks_fieldset_free(s);
}

static void set_algebra(void **state)
{
	(void)state;
	ks_fieldset *a =
		set_of("{\"data\":{\"a\":\"1\",\"b\":\"2\"}}", KS_SCOPE_ALL);
	ks_fieldset *b =
		set_of("{\"data\":{\"b\":\"2\",\"c\":\"3\"}}", KS_SCOPE_ALL);
	ks_fieldset *u = ks_fieldset_union(a, b);
	ks_fieldset *d = ks_fieldset_difference(a, b);
	ks_fieldset *i = ks_fieldset_intersection(a, b);
	check_paths(u, ".data.a .data.b .data.c");
	check_paths(d, ".data.a");
	check_paths(i, ".data.b");
	ks_fieldset *e = ks_fieldset_difference(i, b);
	assert_true(ks_fieldset_empty(e));
	json_t *f = ks_fieldset_to_fields_v1(e);
	assert_json(f, "{}");
	json_decref(f);
	ks_fieldset_free(a);
	ks_fieldset_free(b);
	ks_fieldset_free(u);
	ks_fieldset_free(d);
	ks_fieldset_free(i);
	ks_fieldset_free(e);
}

/* Creates a ConfigMap as "curl" would with a POST (an Update entry). */
static json_t *cm_created_by_curl(const char *data)
{
	char *text = ks_xasprintf("{\"apiVersion\":\"v1\",\"kind\":"
				  "\"ConfigMap\",\"metadata\":{\"name\":"
				  "\"cm\",\"namespace\":\"default\"},"
				  "\"data\":%s}",
				  data);
	json_t *obj = J(text);
	free(text);
	ks_ssa_opts o = {.manager = "curl", .now = "2026-11-25T08:00:00Z"};
	json_t *mf = NULL;
	ks_error err = {0};
	assert_int_equal(ks_fieldset_update_managed(&mf, NULL, obj, &o, &err),
			 0);
	json_object_set_new(json_object_get(obj, "metadata"), "managedFields",
			    mf);
	return obj;
}

static const char *const cm_apply_b3 =
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
	"{\"name\":\"cm\"},\"data\":{\"b\":\"3\"}}";

static void update_records_created_fields(void **state)
{
	(void)state;
	json_t *live = cm_created_by_curl("{\"a\":\"1\",\"b\":\"2\"}");
	assert_json(json_object_get(json_object_get(live, "metadata"),
				    "managedFields"),
		    "[{\"manager\":\"curl\",\"operation\":\"Update\","
		    "\"apiVersion\":\"v1\",\"time\":\"2026-11-25T08:00:00Z\","
		    "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:data\":{"
		    "\".\":{},\"f:a\":{},\"f:b\":{}}}}]");
	json_decref(live);
}

static void apply_conflicts_like_the_server(void **state)
{
	(void)state;
	json_t *live = cm_created_by_curl("{\"a\":\"1\",\"b\":\"2\"}");
	json_t *cfg = J(cm_apply_b3);
	ks_ssa_opts o = {.manager = "kusync", .now = "2026-11-25T09:00:00Z"};
	json_t *out = NULL, *mf = NULL, *conflicts = NULL;
	ks_error err = {0};
	assert_int_equal(
		ks_ssa_apply(&out, &mf, &conflicts, live, cfg, &o, &err),
		KS_ECONFLICT);
	assert_null(out);
	assert_string_equal(err.msg, "Apply failed with 1 conflict: conflict "
				     "with \"curl\" using v1: .data.b");
	assert_json(conflicts,
		    "[{\"manager\":\"curl\",\"operation\":\"Update\","
		    "\"apiVersion\":\"v1\",\"field\":\".data.b\","
		    "\"message\":\"conflict with \\\"curl\\\" using v1\"}]");
	json_decref(conflicts);

	/* force takes .data.b over; curl keeps .data.a. */
	o.force = true;
	assert_int_equal(ks_ssa_apply(&out, &mf, NULL, live, cfg, &o, &err), 0);
	assert_json(json_object_get(out, "data"), "{\"a\":\"1\",\"b\":\"3\"}");
	assert_json(mf,
		    "[{\"manager\":\"kusync\",\"operation\":\"Apply\","
		    "\"apiVersion\":\"v1\",\"time\":\"2026-11-25T09:00:00Z\","
		    "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:data\":"
		    "{\"f:b\":{}}}},"
		    "{\"manager\":\"curl\",\"operation\":\"Update\","
		    "\"apiVersion\":\"v1\",\"time\":\"2026-11-25T08:00:00Z\","
		    "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:data\":{"
		    "\".\":{},\"f:a\":{}}}}]");
	assert_true(
		json_equal(mf, json_object_get(json_object_get(out, "metadata"),
					       "managedFields")));
	json_decref(out);
	json_decref(mf);
	json_decref(cfg);

	/* Applying the value another manager set is no conflict. */
	cfg = J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
		"{\"name\":\"cm\"},\"data\":{\"b\":\"2\"}}");
	o.force = false;
	assert_int_equal(ks_ssa_apply(&out, NULL, NULL, live, cfg, &o, &err),
			 0);
	json_t *mfo = json_object_get(json_object_get(out, "metadata"),
				      "managedFields");
	assert_int_equal(json_array_size(mfo), 2);
	json_decref(out);
	json_decref(cfg);
	json_decref(live);
}

static void several_conflicts_are_grouped_by_manager(void **state)
{
	(void)state;
	json_t *live = cm_created_by_curl("{\"a\":\"1\",\"b\":\"2\"}");
	json_t *cfg = J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
			"\"metadata\":{\"name\":\"cm\"},\"data\":{\"b\":\"x\","
			"\"a\":\"y\"}}");
	ks_ssa_opts o = {.manager = "kusync"};
	json_t *out = NULL, *conflicts = NULL;
	ks_error err = {0};
	assert_int_equal(
		ks_ssa_apply(&out, NULL, &conflicts, live, cfg, &o, &err),
		KS_ECONFLICT);
	assert_string_equal(err.msg,
			    "Apply failed with 2 conflicts: conflicts with "
			    "\"curl\" using v1:\n- .data.a\n- .data.b");
	assert_int_equal(json_array_size(conflicts), 2);
	json_decref(conflicts);
	json_decref(cfg);
	json_decref(live);
}

/* Applies cfg as manager onto *live (replaced by the result). */
static void apply_ok(json_t **live, const char *cfg, const char *manager)
{
	json_t *c = J(cfg), *out = NULL;
	ks_ssa_opts o = {.manager = manager, .now = "2026-11-25T10:00:00Z"};
	ks_error err = {0};
	int rc = ks_ssa_apply(&out, NULL, NULL, *live, c, &o, &err);
	if (rc != 0)
		fail_msg("apply failed: %s", err.msg);
	json_decref(c);
	json_decref(*live);
	*live = out;
}

static void apply_removes_fields_it_no_longer_applies(void **state)
{
	(void)state;
	json_t *live = NULL;
	apply_ok(&live,
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
		 "{\"name\":\"cm\",\"labels\":{\"x\":\"1\"}},\"data\":{\"a\":"
		 "\"1\",\"b\":\"2\",\"c\":\"3\"}}",
		 "kusync");
	/* Another applier shares .data.c. */
	apply_ok(&live,
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
		 "{\"name\":\"cm\"},\"data\":{\"c\":\"3\"}}",
		 "other");
	apply_ok(&live,
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
		 "{\"name\":\"cm\"},\"data\":{\"a\":\"1\"}}",
		 "kusync");
	assert_json(json_object_get(live, "data"), "{\"a\":\"1\",\"c\":\"3\"}");
	/* The labels map emptied by the removal goes too. */
	assert_null(
		json_object_get(json_object_get(live, "metadata"), "labels"));
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(live, "metadata"), "name")),
			    "cm");
	json_decref(live);
}

static void reapply_keeps_the_entry_time(void **state)
{
	(void)state;
	const char *cfg = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
			  "\"metadata\":{\"name\":\"cm\"},\"data\":{\"a\":"
			  "\"1\"}}";
	json_t *live = NULL, *c = J(cfg), *out = NULL;
	ks_ssa_opts o = {.manager = "m", .now = "2026-11-25T08:00:00Z"};
	ks_error err = {0};
	assert_int_equal(ks_ssa_apply(&live, NULL, NULL, NULL, c, &o, &err), 0);
	o.now = "2026-11-25T09:00:00Z";
	assert_int_equal(ks_ssa_apply(&out, NULL, NULL, live, c, &o, &err), 0);
	const json_t *e =
		json_array_get(json_object_get(json_object_get(out, "metadata"),
					       "managedFields"),
			       0);
	assert_string_equal(json_string_value(json_object_get(e, "time")),
			    "2026-11-25T08:00:00Z");
	json_decref(out);
	json_object_set_new(json_object_get(c, "data"), "b", json_string("2"));
	assert_int_equal(ks_ssa_apply(&out, NULL, NULL, live, c, &o, &err), 0);
	e = json_array_get(json_object_get(json_object_get(out, "metadata"),
					   "managedFields"),
			   0);
	assert_string_equal(json_string_value(json_object_get(e, "time")),
			    "2026-11-25T09:00:00Z");
	json_decref(out);
	json_decref(live);
	json_decref(c);
}

static void apply_merges_and_prunes_keyed_lists(void **state)
{
	(void)state;
	json_t *live = J(deploy);
	json_object_del(live, "status");
	/* The server defaulted a field nobody applied. */
	json_t *c0 = json_array_get(
		json_object_get(
			json_object_get(
				json_object_get(json_object_get(live, "spec"),
						"template"),
				"spec"),
			"containers"),
		0);
	json_object_set_new(c0, "imagePullPolicy", json_string("IfNotPresent"));
	json_t *cfg = J(deploy);
	json_object_del(cfg, "status");
	char *text = json_dumps(cfg, JSON_COMPACT);
	apply_ok(&live, text, "kusync");
	free(text);
	json_decref(cfg);
	apply_ok(&live,
		 "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		 "\"metadata\":{\"name\":\"web\"},\"spec\":{\"template\":{"
		 "\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":"
		 "\"app:2\"},{\"name\":\"side\",\"image\":\"s:1\"}]}}}}",
		 "kusync");
	const json_t *spec = json_object_get(live, "spec");
	assert_null(json_object_get(spec, "replicas"));
	assert_null(json_object_get(spec, "selector"));
	assert_json(
		json_object_get(
			json_object_get(json_object_get(spec, "template"),
					"spec"),
			"containers"),
		"[{\"name\":\"app\",\"image\":\"app:2\",\"imagePullPolicy\":"
		"\"IfNotPresent\"},{\"name\":\"side\",\"image\":\"s:1\"}]");
	/* Dropping a container removes it whole. */
	apply_ok(&live,
		 "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		 "\"metadata\":{\"name\":\"web\"},\"spec\":{\"template\":{"
		 "\"spec\":{\"containers\":[{\"name\":\"side\",\"image\":"
		 "\"s:1\"}]}}}}",
		 "kusync");
	spec = json_object_get(live, "spec");
	assert_json(json_object_get(
			    json_object_get(json_object_get(spec, "template"),
					    "spec"),
			    "containers"),
		    "[{\"name\":\"side\",\"image\":\"s:1\"}]");
	json_decref(live);
}

static void apply_ignores_status_of_main_resource(void **state)
{
	(void)state;
	json_t *live = NULL, *out = NULL;
	json_t *cfg = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
			"\"metadata\":{\"name\":\"d\"},\"spec\":{\"replicas\":"
			"1},\"status\":{\"replicas\":42}}");
	ks_ssa_opts o = {.manager = "m",
			 .status_subresource = true,
			 .now = "2026-11-25T08:00:00Z"};
	ks_error err = {0};
	assert_int_equal(ks_ssa_apply(&out, NULL, NULL, live, cfg, &o, &err),
			 0);
	assert_null(json_object_get(out, "status"));
	live = out;
	o.subresource = "status";
	assert_int_equal(ks_ssa_apply(&out, NULL, NULL, live, cfg, &o, &err),
			 0);
	assert_json(json_object_get(out, "status"), "{\"replicas\":42}");
	assert_json(json_object_get(out, "spec"), "{\"replicas\":1}");
	const json_t *mf = json_object_get(json_object_get(out, "metadata"),
					   "managedFields");
	assert_int_equal(json_array_size(mf), 2);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(mf, 1), "subresource")),
			    "status");
	json_decref(out);
	json_decref(live);
	json_decref(cfg);
}

static void update_moves_ownership_to_the_writer(void **state)
{
	(void)state;
	json_t *old = cm_created_by_curl("{\"a\":\"1\",\"b\":\"2\"}");
	json_t *new = json_deep_copy(old);
	json_t *data = json_object_get(new, "data");
	json_object_set_new(data, "a", json_string("9"));
	json_object_del(data, "b");
	ks_ssa_opts o = {.manager = "kubectl-edit",
			 .now = "2026-11-25T09:00:00Z"};
	json_t *mf = NULL;
	ks_error err = {0};
	assert_int_equal(ks_fieldset_update_managed(&mf, old, new, &o, &err),
			 0);
	assert_json(mf,
		    "[{\"manager\":\"curl\",\"operation\":\"Update\","
		    "\"apiVersion\":\"v1\",\"time\":\"2026-11-25T08:00:00Z\","
		    "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:data\":{}}},"
		    "{\"manager\":\"kubectl-edit\",\"operation\":\"Update\","
		    "\"apiVersion\":\"v1\",\"time\":\"2026-11-25T09:00:00Z\","
		    "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:data\":{"
		    "\"f:a\":{}}}}]");
	json_decref(mf);

	/* A client that sends [{}] resets managedFields. */
	json_object_set_new(json_object_get(new, "metadata"), "managedFields",
			    J("[{}]"));
	assert_int_equal(ks_fieldset_update_managed(&mf, old, new, &o, &err),
			 0);
	assert_int_equal(json_array_size(mf), 1);
	json_decref(mf);
	json_decref(old);
	json_decref(new);
}

static void of_manager_reads_entries(void **state)
{
	(void)state;
	json_t *live = cm_created_by_curl("{\"a\":\"1\"}");
	const json_t *mf = json_object_get(json_object_get(live, "metadata"),
					   "managedFields");
	ks_fieldset *s = NULL;
	ks_error err = {0};
	assert_int_equal(
		ks_fieldset_of_manager(&s, mf, "curl", "Update", NULL, &err),
		0);
	check_paths(s, ".data .data.a");
	ks_fieldset_free(s);
	assert_int_equal(
		ks_fieldset_of_manager(&s, mf, "curl", "Apply", NULL, &err), 0);
	assert_true(ks_fieldset_empty(s));
	ks_fieldset_free(s);
	json_decref(live);
}

static int fieldset_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(object_field_set_follows_ssa_rules),
		cmocka_unit_test(custom_resources_have_atomic_lists),
		cmocka_unit_test(fields_v1_round_trip),
		cmocka_unit_test(set_algebra),
		cmocka_unit_test(extract_owned_fields),
		cmocka_unit_test(update_records_created_fields),
		cmocka_unit_test(apply_conflicts_like_the_server),
		cmocka_unit_test(several_conflicts_are_grouped_by_manager),
		cmocka_unit_test(apply_removes_fields_it_no_longer_applies),
		cmocka_unit_test(reapply_keeps_the_entry_time),
		cmocka_unit_test(apply_merges_and_prunes_keyed_lists),
		cmocka_unit_test(apply_ignores_status_of_main_resource),
		cmocka_unit_test(update_moves_ownership_to_the_writer),
		cmocka_unit_test(of_manager_reads_entries),
	};
	return cmocka_run_group_tests_name("fieldset", tests, NULL, NULL);
}
KS_TEST_GROUP(fieldset_tests)
