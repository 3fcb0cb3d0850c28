/*
 * PolicySets: the built-in sets against tests/cel/builtin/cases.yaml (a
 * passing and a failing object for every rule), malformed policy files
 * with their positions, and the Spec check.
 */
#include "ks_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/mem.h"
#include "core/patch.h"
#include "core/yaml.h"
#include "policies/policy.h"

static ks_policy_registry *builtin(void)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/policies/builtin", ks_test_source_dir());
	ks_policy_registry *r = ks_policy_registry_new();
	ks_errlist *errs = ks_errlist_new();
	int rc = ks_policy_load_dir(r, dir, errs);
	if (rc)
		ks_errlist_print(errs, stderr, 50);
	assert_int_equal(rc, 0);
	ks_errlist_free(errs);
	return r;
}

static size_t count_rule(const ks_policy_report *rep, const char *rule)
{
	size_t n = 0;
	for (size_t i = 0; i < rep->n; i++)
		if (!strcmp(rep->v[i].rule, rule))
			n++;
	return n;
}

/* Runs SET on OBJ with RESOURCES (OBJ first, then the named bases). */
static void run_one(const ks_policy_set *set, json_t *obj, json_t *bases,
		    json_t *resnames, ks_policy_report *rep)
{
	json_t *objs = json_pack("[O]", obj);
	json_t *res = json_pack("[O]", obj);
	size_t i;
	json_t *n;
	json_array_foreach(resnames, i, n)
	{
		json_t *b = json_object_get(bases, json_string_value(n));
		assert_non_null(b);
		json_array_append(res, b);
	}
	ks_policy_check_objects(set, 1, objs, NULL, res, rep);
	json_decref(objs);
	json_decref(res);
}

typedef struct covered {
	char key[200];
	int pass, fail;
} covered;

static void builtin_rules_pass_and_fail(void **state)
{
	(void)state;
	ks_policy_registry *r = builtin();
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/cel/builtin/cases.yaml",
		 ks_test_source_dir());
	ks_errlist *errs = ks_errlist_new();
	ks_doc *doc = NULL;
	if (ks_yaml_load_file(&doc, path, NULL, KS_YAML_SINGLE, errs))
		ks_errlist_print(errs, stderr, 50);
	assert_non_null(doc);
	json_t *bases = json_object_get(ks_doc_root(doc), "bases");
	json_t *cases = json_object_get(ks_doc_root(doc), "cases");
	assert_true(json_array_size(cases) >= 20);

	/* every base passes every built-in set */
	const char *bname;
	json_t *base;
	const char *const *names = ks_policy_names(r);
	json_object_foreach(bases, bname, base)
	{
		for (const char *const *n = names; *n; n++) {
			ks_policy_report rep;
			ks_policy_report_init(&rep);
			run_one(ks_policy_find(r, *n), base, bases, NULL, &rep);
			for (size_t i = 0; i < rep.n; i++)
				fprintf(stderr, "base %s: %s/%s: %s\n", bname,
					rep.v[i].set, rep.v[i].rule,
					rep.v[i].message);
			assert_int_equal(rep.n, 0);
			ks_policy_report_release(&rep);
		}
	}

	covered cov[100];
	size_t ncov = 0;
	size_t i;
	json_t *c;
	int failures = 0, checks = 0;
	json_array_foreach(cases, i, c)
	{
		const char *set = json_string_value(json_object_get(c, "set"));
		const char *rule =
			json_string_value(json_object_get(c, "rule"));
		json_t *b = json_object_get(
			bases, json_string_value(json_object_get(c, "base")));
		const ks_policy_set *s = ks_policy_find(r, set);
		assert_non_null(s);
		assert_non_null(b);
		char key[200];
		snprintf(key, sizeof(key), "%s/%s", set, rule);
		size_t k;
		for (k = 0; k < ncov; k++)
			if (!strcmp(cov[k].key, key))
				break;
		if (k == ncov) {
			assert_true(ncov < 100);
			memset(&cov[ncov], 0, sizeof(cov[ncov]));
			snprintf(cov[ncov].key, sizeof(cov[ncov].key), "%s",
				 key);
			ncov++;
		}
		for (int want_fail = 0; want_fail < 2; want_fail++) {
			json_t *patches =
				json_object_get(c, want_fail ? "fail" : "pass");
			size_t j;
			json_t *patch;
			json_array_foreach(patches, j, patch)
			{
				json_t *obj = NULL;
				ks_merge_patch(&obj, b, patch);
				ks_policy_report rep;
				ks_policy_report_init(&rep);
				run_one(s, obj, bases,
					json_object_get(c, "resources"), &rep);
				size_t got = count_rule(&rep, rule);
				checks++;
				if ((got > 0) != want_fail) {
					failures++;
					fprintf(stderr,
						"cases.yaml case %zu (%s) "
						"%s[%zu]: "
						"%zu violations\n",
						i, key,
						want_fail ? "fail" : "pass", j,
						got);
					for (size_t v = 0; v < rep.n; v++)
						fprintf(stderr, "  %s: %s\n",
							rep.v[v].rule,
							rep.v[v].message);
				}
				if (want_fail)
					cov[k].fail++;
				else
					cov[k].pass++;
				ks_policy_report_release(&rep);
				json_decref(obj);
			}
		}
	}
	print_message("built-in rules: %d checks, %d failed\n", checks,
		      failures);
	assert_int_equal(failures, 0);

	/* every built-in rule has a passing and a failing object */
	for (const char *const *n = names; *n; n++) {
		const ks_policy_set *s = ks_policy_find(r, *n);
		for (size_t k = 0; k < ks_policy_rule_count(s); k++) {
			char key[200];
			snprintf(key, sizeof(key), "%s/%s", *n,
				 ks_policy_rule_name(s, k));
			size_t m;
			for (m = 0; m < ncov; m++)
				if (!strcmp(cov[m].key, key))
					break;
			if (m == ncov || !cov[m].pass || !cov[m].fail)
				fprintf(stderr,
					"no pass and fail case for %s\n", key);
			assert_true(m < ncov && cov[m].pass && cov[m].fail);
		}
	}
	assert_non_null(ks_policy_find(r, "release-strategy-check"));
	assert_non_null(ks_policy_find(r, "resource-specification"));
	assert_non_null(ks_policy_find(r, "pod-security-baseline"));
	ks_doc_free(doc);
	ks_errlist_free(errs);
	ks_policy_registry_free(r);
}

static void malformed_policy_files(void **state)
{
	(void)state;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/tests/cel/policies-malformed",
		 ks_test_source_dir());
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	int n = 0, bad = 0;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 5, ".yaml"))
			continue;
		char path[8192];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *fp = fopen(path, "r");
		assert_non_null(fp);
		char first[512] = "";
		assert_non_null(fgets(first, sizeof(first), fp));
		fclose(fp);
		first[strcspn(first, "\n")] = 0;
		assert_true(!strncmp(first, "# want:", 7));
		const char *want = first[7] == ' ' ? first + 8 : first + 7;
		ks_policy_registry *r = ks_policy_registry_new();
		ks_errlist *errs = ks_errlist_new();
		int rc = ks_policy_load_file(r, path, 0, errs);
		n++;
		ks_errlist_sort(errs);
		const char *got =
			ks_errlist_count(errs) ? ks_errlist_get(errs, 0) : "";
		/* "PATH:LINE:COL: message": compare what follows PATH: */
		const char *rest = !strncmp(got, path, strlen(path))
					   ? got + strlen(path) + 1
					   : got;
		if (rc != KS_EINVAL || !ks_errlist_count(errs) ||
		    strncmp(rest, want, strlen(want)) ||
		    ks_policy_find(r, "bad")) {
			bad++;
			fprintf(stderr, "%s: got \"%s\", want \"%s\"\n",
				e->d_name, rest, want);
		}
		ks_errlist_free(errs);
		ks_policy_registry_free(r);
	}
	closedir(d);
	print_message("malformed policy files: %d, %d wrong\n", n, bad);
	assert_true(n >= 12);
	assert_int_equal(bad, 0);
}

static void spec_check_and_unknown_sets(void **state)
{
	(void)state;
	ks_policy_registry *r = builtin();
	json_t *spec = json_loads(
		"{\"apps\":[{\"name\":\"a\",\"policysets\":{"
		"\"release-strategy-check\":{\"kind\":\"mandatory\"},"
		"\"resource-specification\":{\"kind\":\"advisory\"}}},"
		"{\"name\":\"b\",\"policysets\":{\"no-such-set\":{\"kind\":"
		"\"mandatory\"}}}],"
		"\"resources\":["
		"{\"id\":\"apps/v1:Deployment:ns:a\",\"attributes\":{"
		"\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		"\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\"},"
		"\"spec\":{\"replicas\":1,\"template\":{\"spec\":{"
		"\"containers\":[{\"name\":\"c\",\"image\":\"x:latest\"}]}}}},"
		"\"extensions\":{\"kusync.io/app\":\"a\"}},"
		"{\"id\":\"v1:Pod:ns:p\",\"attributes\":{\"apiVersion\":\"v1\","
		"\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":{"
		"\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}},"
		"\"extensions\":{\"kusync.io/app\":\"other\"}}]}",
		0, NULL);
	assert_non_null(spec);
	ks_policy_report rep;
	ks_policy_report_init(&rep);
	ks_errlist *errs = ks_errlist_new();
	assert_int_equal(ks_policy_check_spec(r, spec, &rep, errs), KS_EINVAL);
	assert_int_equal(ks_errlist_count(errs), 1);
	assert_string_equal(ks_errlist_get(errs, 0),
			    "b: unknown policy set \"no-such-set\"");
	/* app a's Deployment: no readiness probe, latest image (mandatory);
	 * no requests or limits (advisory); the Pod of another app is not
	 * checked */
	assert_int_equal(count_rule(&rep, "readiness-probe"), 1);
	assert_int_equal(count_rule(&rep, "image-pinned"), 1);
	assert_int_equal(count_rule(&rep, "requests-and-limits"), 1);
	assert_int_equal(rep.n, 3);
	for (size_t i = 0; i < rep.n; i++) {
		assert_string_equal(rep.v[i].object, "ns/a");
		assert_string_equal(rep.v[i].kind, "Deployment");
		assert_int_equal(
			rep.v[i].mandatory,
			!!strcmp(rep.v[i].set, "resource-specification"));
	}
	assert_true(ks_policy_report_blocks(&rep));
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_policy_report_text(&b, &rep);
	assert_non_null(strstr(b.data,
			       "release-strategy-check/image-pinned Deployment "
			       "ns/a: images not pinned to a tag or digest (or "
			       "using latest): c=x:latest (mandatory)\n"));
	ks_buf_release(&b);
	ks_policy_report_release(&rep);
	ks_errlist_free(errs);
	json_decref(spec);
	ks_policy_registry_free(r);
}

static void evaluation_errors_fail_the_rule(void **state)
{
	(void)state;
	char path[] = "/tmp/ks-policy-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char text[] =
		"apiVersion: kusync.io/v1\nkind: PolicySet\n"
		"metadata: {name: t}\nspec:\n  rules:\n"
		"    - name: strict\n      validate: object.spec.replicas > 1\n"
		"    - name: not-bool\n      validate: object.metadata.name\n"
		"    - name: msg\n      match: {kinds: [Pod], namespaces: "
		"[a]}\n"
		"      validate: 'false'\n"
		"      messageExpression: \"'pod ' + object.metadata.name\"\n";
	assert_int_equal(write(fd, text, sizeof(text) - 1),
			 (ssize_t)(sizeof(text) - 1));
	close(fd);
	ks_policy_registry *r = ks_policy_registry_new();
	ks_errlist *errs = ks_errlist_new();
	assert_int_equal(ks_policy_load_file(r, path, 0, errs), 0);
	unlink(path);
	const ks_policy_set *s = ks_policy_find(r, "t");
	assert_non_null(s);
	json_t *objs = json_loads(
		"[{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\","
		"\"namespace\":\"a\"}},{\"kind\":\"Pod\",\"metadata\":{"
		"\"name\":\"q\",\"namespace\":\"b\"}}]",
		0, NULL);
	ks_policy_report rep;
	ks_policy_report_init(&rep);
	ks_policy_check_objects(s, 0, objs, NULL, NULL, &rep);
	/* strict and not-bool fail on both pods, msg on a/p only */
	assert_int_equal(rep.n, 5);
	assert_int_equal(rep.evaluated, 5);
	assert_string_equal(rep.v[0].message,
			    "evaluation error: no such key: spec");
	assert_string_equal(rep.v[1].message,
			    "validate gave a string, not a bool");
	assert_string_equal(rep.v[2].message, "pod p");
	assert_false(ks_policy_report_blocks(&rep));
	ks_policy_report_release(&rep);
	json_decref(objs);
	ks_errlist_free(errs);
	ks_policy_registry_free(r);
}

static int policy_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(builtin_rules_pass_and_fail),
		cmocka_unit_test(malformed_policy_files),
		cmocka_unit_test(spec_check_and_unknown_sets),
		cmocka_unit_test(evaluation_errors_fail_the_rule),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}

KS_TEST_GROUP(policy_tests)
