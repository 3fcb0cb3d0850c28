/*
 * ks_render over in-memory stacks (and one folder on disk): stack loading,
 * app names, duplicate apps, dependency resolution and cycles, the
 * monitoring rule that needs the workspace, and the apps[] entries.
 */
#include "ks_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "render/render.h"

#define APP(name)                                                              \
	name ":\n"                                                             \
	     "  workload:\n"                                                   \
	     "    containers:\n"                                               \
	     "      web: {image: nginx:1}\n"

struct tstack {
	const char *dir;
	const char *project_yaml, *stack_yaml;
	ks_render_file files[4];
	size_t nfiles;
};

/* Renders the stacks; returns the sorted error lines (heap) and *out. */
static char *render(const struct tstack *ts, size_t n, const char *ws,
		    json_t **out)
{
	ks_render_stack st[4];
	memset(st, 0, sizeof(st));
	for (size_t i = 0; i < n; i++) {
		st[i].dir = ts[i].dir;
		st[i].files = ts[i].files;
		st[i].nfiles = ts[i].nfiles;
		st[i].project_yaml = ts[i].project_yaml;
		st[i].project_yaml_len =
			ts[i].project_yaml ? strlen(ts[i].project_yaml) : 0;
		st[i].stack_yaml = ts[i].stack_yaml;
		st[i].stack_yaml_len =
			ts[i].stack_yaml ? strlen(ts[i].stack_yaml) : 0;
	}
	ks_render_opts opts = {ws};
	ks_errlist *errs = ks_errlist_new();
	*out = NULL;
	int rc = ks_render(out, st, n, &opts, errs);
	assert_int_equal(rc == 0, ks_errlist_count(errs) == 0);
	if (rc)
		assert_null(*out);
	ks_errlist_sort(errs);
	ks_buf b;
	ks_buf_init(&b, 0);
	for (size_t i = 0; i < ks_errlist_count(errs); i++)
		ks_buf_printf(&b, "%s%s", i ? "\n" : "",
			      ks_errlist_get(errs, i));
	ks_errlist_free(errs);
	char *s = ks_buf_detach(&b, NULL);
	return s ? s : ks_xstrdup("");
}

static struct tstack one(const char *app_yaml)
{
	struct tstack t = {"shop/prod",
			   "name: shop\n",
			   "name: prod\n",
			   {{"app.yaml", app_yaml, strlen(app_yaml)}},
			   1};
	return t;
}

static void expect_render_errors(const char *app_yaml, const char *want)
{
	struct tstack t = one(app_yaml);
	json_t *out;
	char *got = render(&t, 1, NULL, &out);
	if (strcmp(got, want))
		print_error("want:\n%s\ngot:\n%s\n", want, got);
	assert_string_equal(got, want);
	free(got);
}

/* ---- stacks and files -------------------------------------------------- */

static void empty_file_and_root_shape(void **state)
{
	(void)state;
	expect_render_errors("", "shop/prod/app.yaml: file is empty");
	expect_render_errors("# only a comment\n",
			     "shop/prod/app.yaml: file is empty");
	expect_render_errors("- a\n- b\n",
			     "shop/prod/app.yaml:1:1: expected a mapping of "
			     "app names to AppConfigurations");
}

static void app_names(void **state)
{
	(void)state;
	expect_render_errors(APP("Hello_World"),
			     "shop/prod/app.yaml:1:1: \"Hello_World\" is not "
			     "a valid app name (a DNS-1123 label: lowercase "
			     "letters, digits and '-', at most 63)");
	expect_render_errors(
		APP("a-very-long-application-name-that-will-not-fit-in-63-"
		    "chars"),
		"shop/prod/app.yaml:1:1: "
		"a-very-long-application-name-that-will-not-fit-in-63-chars: "
		"the app's full name "
		"\"shop-prod-a-very-long-application-name-that-will-not-fit-"
		"in-63-chars\" (project \"shop\" + stack \"prod\" + app "
		"\"a-very-long-application-name-that-will-not-fit-in-63-"
		"chars\") is 68 characters long, more than 63");
}

static void same_app_in_two_files(void **state)
{
	(void)state;
	struct tstack t = one(APP("hello"));
	const char *b = "# again\n" APP("hello");
	t.files[1] = (ks_render_file){"b.yaml", b, strlen(b)};
	t.nfiles = 2;
	json_t *out;
	char *got = render(&t, 1, NULL, &out);
	/* app.yaml sorts before b.yaml, so b.yaml's is the second. */
	assert_string_equal(got, "shop/prod/b.yaml:2:1: hello: app \"hello\" "
				 "is already defined at "
				 "shop/prod/app.yaml:1:1");
	free(got);
}

static void project_and_stack_files(void **state)
{
	(void)state;
	struct tstack t = one(APP("hello"));
	t.project_yaml = NULL;
	t.stack_yaml = "name: Prod\nnmae: x\n";
	json_t *out;
	char *got = render(&t, 1, NULL, &out);
	assert_string_equal(got,
			    "shop/prod/stack.yaml:1:7: name: \"Prod\" is not a "
			    "valid stack name (a DNS-1123 label: lowercase "
			    "letters, digits and '-', at most 63)\n"
			    "shop/prod/stack.yaml:2:1: nmae: unknown field "
			    "(did you mean \"name\"?)\n"
			    "shop/project.yaml: no such file");
	free(got);
	t = one(APP("hello"));
	t.project_yaml = "description: the shop\n";
	got = render(&t, 1, NULL, &out);
	assert_string_equal(got, "shop/project.yaml:1:1: missing required "
				 "field \"name\"");
	free(got);
}

static void stack_given_twice(void **state)
{
	(void)state;
	struct tstack t[2] = {one(APP("hello")), one(APP("hello"))};
	t[1].dir = "shop/prod/";
	json_t *out;
	char *got = render(t, 2, NULL, &out);
	assert_string_equal(got, "shop/prod/: the same stack as shop/prod "
				 "(project \"shop\", stack \"prod\"); give "
				 "each stack once");
	free(got);
}

static void kcl_files_are_read_and_validated(void **state)
{
	(void)state;
	const char *k = "import catalog.models.schema.v1 as ac\n"
			"import catalog.models.schema.v1.workload as wl\n"
			"import catalog.models.schema.v1.workload.container "
			"as c\n"
			"\n"
			"hello: ac.AppConfiguration {\n"
			"    workload: wl.Service {\n"
			"        containers: {\n"
			"            \"web\": c.Container {\n"
			"                image: \"nginx:1\"\n"
			"            }\n"
			"        }\n"
			"        replicas: \"two\"\n"
			"    }\n"
			"}\n";
	struct tstack t = one(APP("other"));
	t.files[1] = (ks_render_file){"main.k", k, strlen(k)};
	t.nfiles = 2;
	json_t *out;
	char *got = render(&t, 1, NULL, &out);
	assert_string_equal(got, "shop/prod/main.k:12:19: "
				 "hello.workload.replicas: expected an "
				 "integer, got \"two\"");
	free(got);
}

static void non_app_files_are_skipped(void **state)
{
	(void)state;
	struct tstack t = one(APP("hello"));
	t.files[1] = (ks_render_file){"stack.yaml", "junk: [", 7};
	t.files[2] = (ks_render_file){"README.md", "# hi", 4};
	t.files[3] = (ks_render_file){"kcl.mod", "[package]", 9};
	t.nfiles = 4;
	json_t *out;
	char *got = render(&t, 1, NULL, &out);
	assert_string_equal(got, "");
	free(got);
	assert_int_equal(json_array_size(json_object_get(out, "apps")), 1);
	json_decref(out);
}

static void missing_folder_on_disk(void **state)
{
	(void)state;
	const char *dirs[] = {"/nonexistent/kusync/prod"};
	ks_errlist *errs = ks_errlist_new();
	json_t *out = NULL;
	assert_int_equal(ks_render_dirs(&out, dirs, 1, NULL, errs), KS_EINVAL);
	assert_null(out);
	assert_int_equal(ks_errlist_count(errs), 1);
	assert_string_equal(ks_errlist_get(errs, 0),
			    "/nonexistent/kusync/prod: cannot read the stack "
			    "folder: No such file or directory");
	ks_errlist_free(errs);
}

static void write_file(const char *path, const char *s)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(s, fp);
	fclose(fp);
}

static void folder_on_disk(void **state)
{
	(void)state;
	char root[] = "/tmp/ks-render-XXXXXX";
	assert_non_null(mkdtemp(root));
	char *stack = ks_xasprintf("%s/prod", root);
	char *p[6] = {
		ks_xasprintf("%s/project.yaml", root),
		ks_xasprintf("%s/stack.yaml", stack),
		ks_xasprintf("%s/b.yaml", stack),
		ks_xasprintf("%s/a.yml", stack),
		ks_xasprintf("%s/notes.txt", stack),
		ks_xasprintf("%s/c.yaml", stack),
	};
	assert_int_equal(mkdir(stack, 0700), 0);
	write_file(p[0], "name: shop\n");
	write_file(p[1], "name: prod\n");
	write_file(p[2], APP("zeta"));
	write_file(p[3], APP("alpha"));
	write_file(p[4], "not yaml: [");
	write_file(p[5], "beta:\n  workload: {}\n");
	const char *dirs[] = {stack};
	ks_errlist *errs = ks_errlist_new();
	json_t *out = NULL;
	assert_int_equal(ks_render_dirs(&out, dirs, 1, NULL, errs), KS_EINVAL);
	assert_int_equal(ks_errlist_count(errs), 1);
	char *want = ks_xasprintf("%s/c.yaml:2:3: beta.workload: missing "
				  "required field \"containers\"",
				  stack);
	assert_string_equal(ks_errlist_get(errs, 0), want);
	free(want);
	ks_errlist_free(errs);

	write_file(p[5], APP("beta"));
	errs = ks_errlist_new();
	assert_int_equal(ks_render_dirs(&out, dirs, 1, NULL, errs), 0);
	json_t *apps = json_object_get(out, "apps");
	assert_int_equal(json_array_size(apps), 3);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(apps, 0), "name")),
			    "shop-prod-alpha");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(apps, 2), "name")),
			    "shop-prod-zeta");
	json_decref(out);
	ks_errlist_free(errs);
	for (int i = 0; i < 6; i++) {
		unlink(p[i]);
		free(p[i]);
	}
	rmdir(stack);
	rmdir(root);
	free(stack);
}

/* ---- dependencies ------------------------------------------------------ */

static void dependency_unknown_and_self(void **state)
{
	(void)state;
	expect_render_errors(
		APP("a") "  dependency:\n"
			 "    dependedApps: [nope, a, shop/prod/a, "
			 "shop/prod/zz]\n",
		"shop/prod/app.yaml:6:20: "
		"a.dependency.dependedApps[0]: no app \"nope\" in "
		"this stack (shop/prod); name another stack's "
		"app as project/stack/app\n"
		"shop/prod/app.yaml:6:26: "
		"a.dependency.dependedApps[1]: an app cannot "
		"depend on itself\n"
		"shop/prod/app.yaml:6:29: "
		"a.dependency.dependedApps[2]: an app cannot "
		"depend on itself\n"
		"shop/prod/app.yaml:6:42: "
		"a.dependency.dependedApps[3]: no app \"zz\" in "
		"stack shop/prod");
}

static void dependency_cycle(void **state)
{
	(void)state;
	expect_render_errors(
		APP("a") "  dependency:\n"
			 "    dependedApps: [b]\n" APP(
				 "b") "  dependency:\n"
				      "    dependedApps: [c]\n" APP(
					      "c") "  dependency:\n"
						   "    "
						   "dependedApps:"
						   " [a]\n",
		"shop/prod/app.yaml:18:20: "
		"c.dependency.dependedApps[0]: dependency cycle: "
		"shop-prod-a -> shop-prod-b -> shop-prod-c -> "
		"shop-prod-a");
}

static void dependency_across_stacks(void **state)
{
	(void)state;
	const char *prod = APP("web") "  dependency:\n"
				      "    dependedApps: [api, shop/dev/db, "
				      "bank/prod/ledger]\n" APP("api");
	const char *dev = APP("db") "  dependency:\n"
				    "    dependedApps: [shop/prod/web]\n";
	struct tstack t[2] = {
		{"shop/prod",
		 "name: shop\n",
		 "name: prod\n",
		 {{"app.yaml", prod, strlen(prod)}},
		 1},
		{"shop/dev",
		 "name: shop\n",
		 "name: dev\n",
		 {{"app.yaml", dev, strlen(dev)}},
		 1},
	};
	json_t *out;
	char *got = render(t, 2, NULL, &out);
	/* db -> shop/prod/web -> shop/dev/db: a cycle across stacks, found
	 * (depth first, apps by full name) at web's entry. */
	assert_string_equal(got, "shop/prod/app.yaml:6:25: "
				 "web.dependency.dependedApps[1]: dependency "
				 "cycle: shop-dev-db -> shop-prod-web -> "
				 "shop-dev-db");
	free(got);

	/* Without the back edge: resolved full names, and a reference to a
	 * stack outside the render is taken as is. */
	dev = APP("db");
	t[1].files[0] = (ks_render_file){"app.yaml", dev, strlen(dev)};
	got = render(t, 2, NULL, &out);
	assert_string_equal(got, "");
	free(got);
	json_t *apps = json_object_get(out, "apps");
	assert_int_equal(json_array_size(apps), 3);
	/* sorted by full name: shop-dev-db, shop-prod-api, shop-prod-web */
	json_t *web = json_array_get(apps, 2);
	assert_string_equal(json_string_value(json_object_get(web, "name")),
			    "shop-prod-web");
	json_t *deps = json_object_get(web, "dependedApps");
	assert_int_equal(json_array_size(deps), 3);
	assert_string_equal(json_string_value(json_array_get(deps, 0)),
			    "shop-prod-api");
	assert_string_equal(json_string_value(json_array_get(deps, 1)),
			    "shop-dev-db");
	assert_string_equal(json_string_value(json_array_get(deps, 2)),
			    "bank-prod-ledger");
	json_decref(out);
}

/* ---- monitoring and the workspace -------------------------------------- */

static void monitoring_needs_path_and_port_without_operator_mode(void **state)
{
	(void)state;
	expect_render_errors(APP("hello") "  monitoring:\n"
					  "    path: /metrics\n",
			     "shop/prod/app.yaml:5:3: hello.monitoring: "
			     "missing required field \"port\" (needed unless "
			     "the workspace sets monitoring operatorMode: "
			     "true)");

	char dir[] = "/tmp/ks-wsr-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *ws = ks_xasprintf("%s/ws.yaml", dir);
	write_file(ws, "modules:\n"
		       "  monitoring:\n"
		       "    default: {operatorMode: true}\n");
	struct tstack t = one(APP("hello") "  monitoring: {}\n");
	json_t *out;
	char *got = render(&t, 1, ws, &out);
	assert_string_equal(got, "");
	free(got);
	json_decref(out);

	write_file(ws, "modules:\n"
		       "  monitoring:\n"
		       "    default: {operatorMode: maybe}\n");
	got = render(&t, 1, ws, &out);
	char *want = ks_xasprintf("%s:3:29: "
				  "modules.monitoring.default.operatorMode: "
				  "expected true or false, got \"maybe\"",
				  ws);
	assert_string_equal(got, want);
	free(want);
	free(got);
	unlink(ws);
	rmdir(dir);
	free(ws);
}

/* ---- the apps[] entries ------------------------------------------------ */

static void apps_entry_shape(void **state)
{
	(void)state;
	struct tstack t =
		one(APP("hello") "  topologies:\n"
				 "    ZoneA: {cells: [GZ99S, RZ99K]}\n"
				 "  pipeline:\n"
				 "    deploy: {manualApprove: true, "
				 "timeout: 600s}\n"
				 "  policysets:\n"
				 "    release-strategy-check: {kind: "
				 "mandatory}\n");
	json_t *out;
	char *got = render(&t, 1, NULL, &out);
	assert_string_equal(got, "");
	free(got);
	json_t *want = json_loads(
		"{\"name\": \"shop-prod-hello\", \"project\": \"shop\", "
		"\"stack\": \"prod\", \"app\": \"hello\", "
		"\"namespace\": \"shop-prod\", "
		"\"cells\": [{\"zone\": \"ZoneA\", \"cell\": \"GZ99S\"}, "
		"{\"zone\": \"ZoneA\", \"cell\": \"RZ99K\"}], "
		"\"pipeline\": {\"deploy\": {\"manualApprove\": true, "
		"\"rollbackIfFailed\": false, \"timeout\": \"10m\"}}, "
		"\"policysets\": {\"release-strategy-check\": "
		"{\"kind\": \"mandatory\"}}, "
		"\"dependedApps\": []}",
		0, NULL);
	assert_non_null(want);
	json_t *app = json_array_get(json_object_get(out, "apps"), 0);
	if (!json_equal(app, want)) {
		char *s = json_dumps(app, JSON_SORT_KEYS);
		print_error("got %s\n", s);
		free(s);
	}
	assert_true(json_equal(app, want));
	json_decref(want);

	/* The Namespace comes first, once. */
	json_t *res = json_object_get(out, "resources");
	assert_true(json_array_size(res) >= 2);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(res, 0), "id")),
			    "v1:Namespace:shop-prod");
	assert_string_not_equal(json_string_value(json_object_get(
					json_array_get(res, 1), "id")),
				"v1:Namespace:shop-prod");
	json_decref(out);
}

static void defaults_in_apps_entry(void **state)
{
	(void)state;
	struct tstack t = one(APP("hello"));
	json_t *out;
	char *got = render(&t, 1, NULL, &out);
	assert_string_equal(got, "");
	free(got);
	json_t *app = json_array_get(json_object_get(out, "apps"), 0);
	json_t *want = json_loads(
		"{\"deploy\": {\"manualApprove\": false, "
		"\"rollbackIfFailed\": false, \"timeout\": \"10m\"}}",
		0, NULL);
	assert_true(json_equal(json_object_get(app, "pipeline"), want));
	json_decref(want);
	assert_int_equal(json_array_size(json_object_get(app, "cells")), 0);
	assert_int_equal(json_object_size(json_object_get(app, "policysets")),
			 0);
	json_decref(out);
}

static int render_group(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_file_and_root_shape),
		cmocka_unit_test(app_names),
		cmocka_unit_test(same_app_in_two_files),
		cmocka_unit_test(project_and_stack_files),
		cmocka_unit_test(stack_given_twice),
		cmocka_unit_test(kcl_files_are_read_and_validated),
		cmocka_unit_test(non_app_files_are_skipped),
		cmocka_unit_test(missing_folder_on_disk),
		cmocka_unit_test(folder_on_disk),
		cmocka_unit_test(dependency_unknown_and_self),
		cmocka_unit_test(dependency_cycle),
		cmocka_unit_test(dependency_across_stacks),
		cmocka_unit_test(
			monitoring_needs_path_and_port_without_operator_mode),
		cmocka_unit_test(apps_entry_shape),
		cmocka_unit_test(defaults_in_apps_entry),
	};
	return cmocka_run_group_tests_name("render/load+render", tests, NULL,
					   NULL);
}
KS_TEST_GROUP(render_group)
