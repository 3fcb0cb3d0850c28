#include "ks_test.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/patch.h"

/* Parses a JSON literal; the test fails on a typo. */
static json_t *J(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
	if (!v)
		fail_msg("bad test JSON: %s: %s", je.text, text);
	return v;
}

/* Asserts that v equals the JSON literal want, printing both otherwise. */
static void assert_json(const json_t *v, const char *want)
{
	json_t *w = J(want);
	if (!ks_json_equal(v, w)) {
		char *got = json_dumps(v, JSON_SORT_KEYS | JSON_ENCODE_ANY);
		fail_msg("got %s\nwant %s", got, want);
	}
	json_decref(w);
}

static void check_merge(const char *target, const char *patch, const char *want)
{
	json_t *t = J(target), *p = J(patch), *out = NULL;
	char *before = json_dumps(t, JSON_SORT_KEYS | JSON_ENCODE_ANY);
	assert_int_equal(ks_merge_patch(&out, t, p), 0);
	assert_json(out, want);
	char *after = json_dumps(t, JSON_SORT_KEYS | JSON_ENCODE_ANY);
	assert_string_equal(before, after);
	free(before);
	free(after);
	json_decref(t);
	json_decref(p);
	json_decref(out);
}

/* The examples of RFC 7386 appendix A. */
static void merge_patch_rfc7386_examples(void **state)
{
	(void)state;
	check_merge("{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
	check_merge("{\"a\":\"b\"}", "{\"b\":\"c\"}",
		    "{\"a\":\"b\",\"b\":\"c\"}");
	check_merge("{\"a\":\"b\"}", "{\"a\":null}", "{}");
	check_merge("{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}",
		    "{\"b\":\"c\"}");
	check_merge("{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
	check_merge("{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}");
	check_merge("{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
		    "{\"a\":{\"b\":\"d\"}}");
	check_merge("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
	check_merge("[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]");
	check_merge("{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]");
	check_merge("{\"a\":\"foo\"}", "null", "null");
	check_merge("{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
	check_merge("[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}");
	check_merge("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}",
		    "{\"a\":{\"bb\":{}}}");
}

static void merge_patch_null_target(void **state)
{
	(void)state;
	json_t *p = J("{\"data\":{\"a\":\"1\",\"b\":null}}"), *out = NULL;
	assert_int_equal(ks_merge_patch(&out, NULL, p), 0);
	assert_json(out, "{\"data\":{\"a\":\"1\"}}");
	json_decref(p);
	json_decref(out);
}

/* Runs a JSON patch expected to succeed. */
static void check_jp(const char *target, const char *ops, const char *want)
{
	json_t *t = J(target), *o = J(ops), *out = NULL;
	ks_error err = {0};
	int rc = ks_json_patch(&out, t, o, &err);
	if (rc != 0)
		fail_msg("json patch failed: %s", err.msg);
	assert_json(out, want);
	json_decref(t);
	json_decref(o);
	json_decref(out);
}

/* Runs a JSON patch expected to fail; its message must contain want. */
static void check_jp_fails(const char *target, const char *ops,
			   const char *want)
{
	json_t *t = J(target), *o = J(ops), *out = NULL;
	ks_error err = {0};
	assert_int_equal(ks_json_patch(&out, t, o, &err), KS_EINVAL);
	assert_null(out);
	if (!strstr(err.msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
	json_decref(t);
	json_decref(o);
}

static void json_patch_operations(void **state)
{
	(void)state;
	check_jp("{\"foo\":\"bar\"}",
		 "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\"}]",
		 "{\"foo\":\"bar\",\"baz\":\"qux\"}");
	check_jp("{\"foo\":[\"bar\",\"baz\"]}",
		 "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":\"qux\"}]",
		 "{\"foo\":[\"bar\",\"qux\",\"baz\"]}");
	check_jp("{\"foo\":[\"bar\"]}",
		 "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":\"z\"}]",
		 "{\"foo\":[\"bar\",\"z\"]}");
	check_jp("{\"foo\":[\"bar\",\"qux\",\"baz\"]}",
		 "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]",
		 "{\"foo\":[\"bar\",\"baz\"]}");
	check_jp("{\"baz\":\"qux\",\"foo\":\"bar\"}",
		 "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":\"boo\"}]",
		 "{\"baz\":\"boo\",\"foo\":\"bar\"}");
	check_jp("{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},"
		 "\"qux\":{\"corge\":\"grault\"}}",
		 "[{\"op\":\"move\",\"from\":\"/foo/waldo\","
		 "\"path\":\"/qux/thud\"}]",
		 "{\"foo\":{\"bar\":\"baz\"},"
		 "\"qux\":{\"corge\":\"grault\",\"thud\":\"fred\"}}");
	check_jp("{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}",
		 "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]",
		 "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}");
	check_jp("{\"a\":{\"b\":[1]}}",
		 "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/c\"},"
		 "{\"op\":\"add\",\"path\":\"/c/b/-\",\"value\":2}]",
		 "{\"a\":{\"b\":[1]},\"c\":{\"b\":[1,2]}}");
	check_jp("{\"a\":1}",
		 "[{\"op\":\"test\",\"path\":\"/a\",\"value\":1.0},"
		 "{\"op\":\"replace\",\"path\":\"\",\"value\":[true]}]",
		 "[true]");
}

static void json_patch_pointer_escapes(void **state)
{
	(void)state;
	check_jp("{\"metadata\":{\"labels\":{\"app.kubernetes.io/name\":\"x\","
		 "\"a~b\":\"y\"}}}",
		 "[{\"op\":\"replace\","
		 "\"path\":\"/metadata/labels/app.kubernetes.io~1name\","
		 "\"value\":\"web\"},"
		 "{\"op\":\"remove\",\"path\":\"/metadata/labels/a~0b\"}]",
		 "{\"metadata\":{\"labels\":{\"app.kubernetes.io/name\":"
		 "\"web\"}}}");
	json_t *doc = J("{\"a/b\":{\"c~\":[5,6]}}");
	assert_json(ks_json_pointer_get(doc, "/a~1b/c~0/1"), "6");
	assert_null(ks_json_pointer_get(doc, "/a~1b/c~0/01"));
	assert_null(ks_json_pointer_get(doc, "/a~2b"));
	assert_null(ks_json_pointer_get(doc, "a"));
	assert_ptr_equal(ks_json_pointer_get(doc, ""), doc);
	json_decref(doc);
}

static void json_patch_errors_name_op_and_path(void **state)
{
	(void)state;
	check_jp_fails(
		"{\"data\":{\"a\":\"1\"}}",
		"[{\"op\":\"add\",\"path\":\"/data/b\",\"value\":\"2\"},"
		"{\"op\":\"test\",\"path\":\"/data/a\",\"value\":\"2\"}]",
		"json patch operation 1 (test) at \"/data/a\": value "
		"differs");
	check_jp_fails("{}", "[{\"op\":\"remove\",\"path\":\"/x\"}]",
		       "operation 0 (remove) at \"/x\": path does not exist");
	check_jp_fails("{}",
		       "[{\"op\":\"replace\",\"path\":\"/x\",\"value\":1}]",
		       "path does not exist");
	check_jp_fails("{\"a\":[]}",
		       "[{\"op\":\"add\",\"path\":\"/a/1\",\"value\":1}]",
		       "array index out of range");
	check_jp_fails("{}", "[{\"op\":\"add\",\"path\":\"/a/b\",\"value\":1}]",
		       "parent path does not exist");
	check_jp_fails("{\"a\":{}}",
		       "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b\"}]",
		       "cannot move");
	check_jp_fails("{}", "[{\"op\":\"frob\",\"path\":\"/a\"}]",
		       "(frob) at \"/a\": unknown operation");
	check_jp_fails("{}", "[{\"op\":\"add\",\"path\":\"/a\"}]",
		       "missing \"value\"");
	check_jp_fails("{}", "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]",
		       "malformed JSON pointer");
	check_jp_fails("{}", "{\"op\":\"add\"}", "expected an array");
}

/* Runs an SMP on an apps/v1 Deployment-shaped or v1 object. */
static void check_smp(const char *api_version, const char *target,
		      const char *patch, const char *want)
{
	json_t *t = J(target), *p = J(patch), *out = NULL;
	ks_error err = {0};
	int rc = ks_strategic_merge_patch(&out, t, p, api_version, "X", &err);
	if (rc != 0)
		fail_msg("smp failed: %s", err.msg);
	assert_json(out, want);
	json_decref(t);
	json_decref(p);
	json_decref(out);
}

static const char *const deploy =
	"{\"spec\":{\"replicas\":1,\"template\":{\"spec\":{"
	"\"tolerations\":[{\"key\":\"a\"}],"
	"\"containers\":["
	"{\"name\":\"app\",\"image\":\"app:1\",\"env\":["
	"{\"name\":\"X\",\"value\":\"1\"},{\"name\":\"Y\",\"value\":\"2\"}],"
	"\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}]},"
	"{\"name\":\"side\",\"image\":\"side:1\"}]}}}}";

static void smp_merges_containers_and_env_by_name(void **state)
{
	(void)state;
	check_smp("apps/v1", deploy,
		  "{\"spec\":{\"template\":{\"spec\":{\"containers\":["
		  "{\"name\":\"app\",\"image\":\"app:2\",\"env\":["
		  "{\"name\":\"Y\",\"value\":\"3\"},{\"name\":\"Z\","
		  "\"value\":\"4\"}],"
		  "\"ports\":[{\"containerPort\":80,\"name\":\"http\"}]}]}}}}",
		  "{\"spec\":{\"replicas\":1,\"template\":{\"spec\":{"
		  "\"tolerations\":[{\"key\":\"a\"}],"
		  "\"containers\":["
		  "{\"name\":\"app\",\"image\":\"app:2\",\"env\":["
		  "{\"name\":\"X\",\"value\":\"1\"},{\"name\":\"Y\",\"value\":"
		  "\"3\"},"
		  "{\"name\":\"Z\",\"value\":\"4\"}],"
		  "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\","
		  "\"name\":\"http\"}]},"
		  "{\"name\":\"side\",\"image\":\"side:1\"}]}}}}");
}

static void smp_lists_without_keys_are_replaced(void **state)
{
	(void)state;
	check_smp("apps/v1",
		  "{\"spec\":{\"tolerations\":[{\"key\":\"a\"}],"
		  "\"args\":[\"x\"]}}",
		  "{\"spec\":{\"tolerations\":[{\"key\":\"b\"}]}}",
		  "{\"spec\":{\"tolerations\":[{\"key\":\"b\"}],"
		  "\"args\":[\"x\"]}}");
}

static void smp_delete_and_replace_directives(void **state)
{
	(void)state;
	check_smp("apps/v1", deploy,
		  "{\"spec\":{\"replicas\":null,\"template\":{\"spec\":{"
		  "\"containers\":[{\"name\":\"side\",\"$patch\":\"delete\"},"
		  "{\"name\":\"app\",\"env\":[{\"$patch\":\"replace\"},"
		  "{\"name\":\"W\",\"value\":\"9\"}]}]}}}}",
		  "{\"spec\":{\"template\":{\"spec\":{"
		  "\"tolerations\":[{\"key\":\"a\"}],"
		  "\"containers\":["
		  "{\"name\":\"app\",\"image\":\"app:1\",\"env\":["
		  "{\"name\":\"W\",\"value\":\"9\"}],"
		  "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}]}"
		  "]}}}}");
	check_smp("v1", "{\"spec\":{\"a\":1,\"b\":{\"c\":2,\"d\":3}}}",
		  "{\"spec\":{\"b\":{\"$patch\":\"replace\",\"e\":4}}}",
		  "{\"spec\":{\"a\":1,\"b\":{\"e\":4}}}");
	check_smp("v1", "{\"spec\":{\"a\":1,\"b\":{\"c\":2}}}",
		  "{\"spec\":{\"b\":{\"$patch\":\"delete\"}}}",
		  "{\"spec\":{\"a\":1}}");
}

static void smp_finalizers_merge_as_set(void **state)
{
	(void)state;
	check_smp("v1", "{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}",
		  "{\"metadata\":{\"finalizers\":[\"b\",\"c\"]}}",
		  "{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"c\"]}}");
	check_smp("v1", "{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"c\"]}}",
		  "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":"
		  "[\"b\"]}}",
		  "{\"metadata\":{\"finalizers\":[\"a\",\"c\"]}}");
}

static void smp_set_element_order_and_retain_keys(void **state)
{
	(void)state;
	check_smp(
		"v1",
		"{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"},"
		"{\"name\":\"c\"}]}}",
		"{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"c\"},"
		"{\"name\":\"a\"}],\"containers\":[{\"name\":\"c\","
		"\"image\":\"i\"}]}}",
		"{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"},"
		"{\"name\":\"a\"},{\"name\":\"b\"}]}}");
	check_smp("apps/v1",
		  "{\"spec\":{\"strategy\":{\"type\":\"RollingUpdate\","
		  "\"rollingUpdate\":{\"maxSurge\":1}}}}",
		  "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],"
		  "\"type\":\"Recreate\"}}}",
		  "{\"spec\":{\"strategy\":{\"type\":\"Recreate\"}}}");
}

static void smp_service_ports_by_port(void **state)
{
	(void)state;
	check_smp("v1",
		  "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":8080},"
		  "{\"port\":443}]}}",
		  "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":9090},"
		  "{\"port\":53,\"protocol\":\"UDP\"}]}}",
		  "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":9090},"
		  "{\"port\":443},{\"port\":53,\"protocol\":\"UDP\"}]}}");
}

static void smp_refuses_custom_resources_and_bad_directives(void **state)
{
	(void)state;
	json_t *t = J("{}"), *p = J("{\"spec\":{\"$patch\":\"frob\"}}");
	json_t *out = NULL;
	ks_error err = {0};
	assert_int_equal(ks_strategic_merge_patch(&out, t, p, "example.com/v1",
						  "Widget", &err),
			 KS_EINVAL);
	assert_non_null(strstr(err.msg, "not supported for Widget"));
	assert_int_equal(
		ks_strategic_merge_patch(&out, t, p, "v1", "ConfigMap", &err),
		KS_EINVAL);
	assert_non_null(strstr(err.msg, "unknown $patch value \"frob\""));
	assert_null(out);
	json_decref(t);
	json_decref(p);
}

static void merge_key_table(void **state)
{
	(void)state;
	const ks_list_key *k =
		ks_list_merge_key("spec.template.spec.containers");
	assert_non_null(k);
	assert_int_equal(k->type, KS_LIST_MAP);
	assert_int_equal(k->nkeys, 1);
	assert_string_equal(k->keys[0], "name");
	k = ks_list_merge_key("spec.jobTemplate.spec.template.spec."
			      "initContainers.ports");
	assert_non_null(k);
	assert_int_equal(k->nkeys, 2);
	assert_string_equal(k->keys[0], "containerPort");
	assert_string_equal(k->keys[1], "protocol");
	assert_string_equal(k->defaults[1], "TCP");
	k = ks_list_merge_key("spec.ports");
	assert_string_equal(k->keys[0], "port");
	k = ks_list_merge_key("spec.template.spec.containers.volumeMounts");
	assert_string_equal(k->keys[0], "mountPath");
	k = ks_list_merge_key("spec.containers.env");
	assert_string_equal(k->keys[0], "name");
	k = ks_list_merge_key("spec.template.spec.volumes");
	assert_string_equal(k->keys[0], "name");
	k = ks_list_merge_key("status.conditions");
	assert_string_equal(k->keys[0], "type");
	k = ks_list_merge_key("metadata.ownerReferences");
	assert_string_equal(k->keys[0], "uid");
	assert_int_equal(ks_list_merge_key("metadata.finalizers")->type,
			 KS_LIST_SET);
	assert_null(ks_list_merge_key("spec.template.spec.tolerations"));
	assert_null(ks_list_merge_key("spec.template.spec.containers.args"));
	/* Only whole segments match, and "^spec.ports" only at the root. */
	assert_null(ks_list_merge_key("spec.mycontainers"));
	assert_null(ks_list_merge_key("spec.ingress.ports"));
}

static void list_key_match_uses_defaults(void **state)
{
	(void)state;
	const ks_list_key *k = ks_list_merge_key("spec.ports");
	json_t *a = J("{\"port\":80}");
	json_t *b = J("{\"port\":80,\"protocol\":\"TCP\"}");
	json_t *c = J("{\"port\":80,\"protocol\":\"UDP\"}");
	json_t *d = J("{\"protocol\":\"TCP\"}");
	assert_true(ks_list_key_match(k, a, b));
	assert_false(ks_list_key_match(k, a, c));
	assert_false(ks_list_key_match(k, d, d));
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(d);
}

static void smp_supported_kinds(void **state)
{
	(void)state;
	assert_true(ks_smp_supported("v1", "ConfigMap"));
	assert_true(ks_smp_supported("apps/v1", "Deployment"));
	assert_true(ks_smp_supported("coordination.k8s.io/v1", "Lease"));
	assert_true(ks_smp_supported("apiextensions.k8s.io/v1",
				     "CustomResourceDefinition"));
	assert_false(ks_smp_supported("example.com/v1", "Widget"));
	assert_false(
		ks_smp_supported("gateway.networking.k8s.io/v1", "Gateway"));
	assert_false(ks_smp_supported("appsx/v1", "Deployment"));
	assert_false(ks_smp_supported("v2", NULL));
}

static int patch_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(merge_patch_rfc7386_examples),
		cmocka_unit_test(merge_patch_null_target),
		cmocka_unit_test(json_patch_operations),
		cmocka_unit_test(json_patch_pointer_escapes),
		cmocka_unit_test(json_patch_errors_name_op_and_path),
		cmocka_unit_test(smp_merges_containers_and_env_by_name),
		cmocka_unit_test(smp_lists_without_keys_are_replaced),
		cmocka_unit_test(smp_delete_and_replace_directives),
		cmocka_unit_test(smp_finalizers_merge_as_set),
		cmocka_unit_test(smp_set_element_order_and_retain_keys),
		cmocka_unit_test(smp_service_ports_by_port),
		cmocka_unit_test(
			smp_refuses_custom_resources_and_bad_directives),
		cmocka_unit_test(merge_key_table),
		cmocka_unit_test(list_key_match_uses_defaults),
		cmocka_unit_test(smp_supported_kinds),
	};
	return cmocka_run_group_tests_name("patch", tests, NULL, NULL);
}
KS_TEST_GROUP(patch_tests)
