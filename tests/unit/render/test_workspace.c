/*
 * The workspace: loading with positions, defaults without one, and the
 * per-project overlay of named blocks over the default block.
 */
#include "ks_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "render/internal.h"

struct wsfile {
	char dir[64];
	char path[96];
};

static void write_ws(struct wsfile *f, const char *yaml)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/ks-ws-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/ws.yaml", f->dir);
	FILE *fp = fopen(f->path, "w");
	assert_non_null(fp);
	fputs(yaml, fp);
	fclose(fp);
}

static void remove_ws(struct wsfile *f)
{
	unlink(f->path);
	rmdir(f->dir);
}

/* Loads YAML; returns the sorted errors with the temp path replaced by
 * "ws.yaml" (a heap string), and *out on success. */
static char *load(ks_arena *a, const char *yaml, ks_workspace **out)
{
	struct wsfile f;
	write_ws(&f, yaml);
	ks_errlist *errs = ks_errlist_new();
	*out = NULL;
	int rc = ks_workspace_load(out, a, f.path, errs);
	ks_errlist_sort(errs);
	ks_buf b;
	ks_buf_init(&b, 0);
	size_t pl = strlen(f.path);
	for (size_t i = 0; i < ks_errlist_count(errs); i++) {
		const char *line = ks_errlist_get(errs, i);
		assert_memory_equal(line, f.path, pl);
		ks_buf_printf(&b, "%sws.yaml%s", i ? "\n" : "", line + pl);
	}
	assert_int_equal(rc == 0, ks_errlist_count(errs) == 0);
	ks_errlist_free(errs);
	remove_ws(&f);
	char *s = ks_buf_detach(&b, NULL);
	return s ? s : ks_xstrdup("");
}

static void no_workspace_defaults(void **state)
{
	(void)state;
	ks_workspace_view v;
	ks_workspace_view_for(NULL, "shop", &v);
	assert_int_equal(v.service_type, KS_ST_DEPLOYMENT);
	assert_int_equal(v.service_replicas, 2);
	assert_int_equal(v.job_replicas, 1);
	assert_null(v.port_type);
	assert_false(v.opsRule.present);
	assert_false(v.has_monitoring);
	assert_false(v.operatorMode);
	assert_string_equal(v.scheme, "http");
	assert_string_equal(v.interval, "30s");
	assert_string_equal(v.timeout, "15s");
	assert_null(v.namespace_name);
	assert_string_equal(v.mysql_username, "root");
	assert_string_equal(v.postgres_username, "root");
	assert_int_equal(v.mysql_size, 10);
	assert_int_equal(v.postgres_size, 10);

	ks_arena *a = ks_arena_new();
	ks_app app = {0};
	app.project = "shop";
	app.stack = "prod";
	assert_string_equal(ks_app_namespace(a, &app, &v), "shop-prod");
	ks_arena_free(a);
}

static void named_block_overlays_default_key_by_key(void **state)
{
	(void)state;
	ks_arena *a = ks_arena_new();
	ks_workspace *ws;
	char *errs = load(a,
			  "modules:\n"
			  "  service:\n"
			  "    default: {type: CollaSet, replicas: 3}\n"
			  "    gold:\n"
			  "      projectSelector: [bank, shop]\n"
			  "      replicas: 5\n"
			  "      labels: {tier: gold}\n"
			  "  port:\n"
			  "    default: {type: alicloud}\n"
			  "  opsRule:\n"
			  "    default: {}\n"
			  "  monitoring:\n"
			  "    default: {operatorMode: true, interval: 1m}\n"
			  "  namespace:\n"
			  "    default: {name: apps}\n"
			  "  mysql:\n"
			  "    default: {username: admin}\n",
			  &ws);
	assert_string_equal(errs, "");
	free(errs);
	assert_non_null(ws);

	ks_workspace_view v;
	ks_workspace_view_for(ws, "shop", &v);
	assert_int_equal(v.service_type, KS_ST_COLLASET); /* from default */
	assert_int_equal(v.service_replicas, 5);	  /* from gold */
	assert_int_equal(v.service_labels.n, 1);
	assert_string_equal(v.service_labels.items[0].key, "tier");
	assert_int_equal(v.job_replicas, 1);
	assert_string_equal(v.port_type, "alicloud");
	assert_true(v.opsRule.present);
	assert_true(v.opsRule.is_percent);
	assert_int_equal(v.opsRule.value, 25);
	assert_true(v.has_monitoring);
	assert_true(v.operatorMode);
	assert_false(v.podMonitor);
	assert_string_equal(v.interval, "1m");
	assert_string_equal(v.timeout, "15s");
	assert_string_equal(v.namespace_name, "apps");
	assert_string_equal(v.mysql_username, "admin");
	assert_int_equal(v.mysql_size, 10);
	assert_string_equal(v.postgres_username, "root");

	ks_app app = {0};
	app.project = "shop";
	app.stack = "prod";
	assert_string_equal(ks_app_namespace(a, &app, &v), "apps");

	ks_workspace_view_for(ws, "other", &v);
	assert_int_equal(v.service_replicas, 3);
	assert_int_equal(v.service_labels.n, 0);
	ks_arena_free(a);
}

static void first_selecting_block_wins(void **state)
{
	(void)state;
	ks_arena *a = ks_arena_new();
	ks_workspace *ws;
	char *errs = load(a,
			  "modules:\n"
			  "  job:\n"
			  "    default: {replicas: 1}\n"
			  "    first: {projectSelector: [shop], replicas: 4}\n"
			  "    second: {projectSelector: [shop], replicas: 9}\n"
			  "  opsRule:\n"
			  "    default: {maxUnavailable: 2}\n",
			  &ws);
	assert_string_equal(errs, "");
	free(errs);
	ks_workspace_view v;
	ks_workspace_view_for(ws, "shop", &v);
	assert_int_equal(v.job_replicas, 4);
	assert_true(v.opsRule.present);
	assert_false(v.opsRule.is_percent);
	assert_int_equal(v.opsRule.value, 2);
	ks_arena_free(a);
}

static void empty_workspace_has_no_modules(void **state)
{
	(void)state;
	ks_arena *a = ks_arena_new();
	ks_workspace *ws;
	char *errs = load(a, "# nothing yet\n", &ws);
	assert_string_equal(errs, "");
	free(errs);
	ks_workspace_view v;
	ks_workspace_view_for(ws, "shop", &v);
	assert_false(v.has_monitoring);
	assert_int_equal(v.service_replicas, 2);
	ks_arena_free(a);
}

static void errors_with_positions(void **state)
{
	(void)state;
	ks_arena *a = ks_arena_new();
	ks_workspace *ws;
	char *errs = load(a,
			  "modules:\n"
			  "  servce: {}\n"
			  "  port:\n"
			  "    default: {type: gcp}\n"
			  "    eu:\n"
			  "      labels: {kusync.io/x: y}\n"
			  "  monitoring:\n"
			  "    default: {timeout: 45s}\n"
			  "    fast:\n"
			  "      projectSelector: [shop]\n"
			  "      interval: 10s\n"
			  "      replicas: 2\n"
			  "runtimes: {}\n",
			  &ws);
	assert_string_equal(
		errs,
		"ws.yaml:2:3: modules.servce: unknown field (did you mean "
		"\"service\"?)\n"
		"ws.yaml:4:21: modules.port.default.type: expected aws or "
		"alicloud, got \"gcp\"\n"
		"ws.yaml:5:5: modules.port.eu: missing required field "
		"\"projectSelector\"\n"
		"ws.yaml:6:16: modules.port.eu.labels.kusync.io/x: "
		"\"kusync.io/x\" is reserved for kusync (ownership labels and "
		"annotations cannot be set by users)\n"
		"ws.yaml:8:24: modules.monitoring.default: the timeout 45s is "
		"longer than the interval 30s\n"
		"ws.yaml:11:17: modules.monitoring.fast: the timeout 45s is "
		"longer than the interval 10s\n"
		"ws.yaml:12:7: modules.monitoring.fast.replicas: unknown "
		"field\n"
		"ws.yaml:13:1: runtimes: unknown field");
	free(errs);
	assert_null(ws);
	ks_arena_free(a);
}

static void value_checks(void **state)
{
	(void)state;
	ks_arena *a = ks_arena_new();
	ks_workspace *ws;
	char *errs = load(a,
			  "modules:\n"
			  "  service: {default: {replicas: -2}}\n"
			  "  namespace: {default: {name: Apps}}\n"
			  "  monitoring: {default: {interval: 30, scheme: "
			  "ftp}}\n"
			  "  postgres: {default: {size: 0}}\n",
			  &ws);
	assert_string_equal(
		errs,
		"ws.yaml:2:33: modules.service.default.replicas: expected an "
		"integer >= 0, got -2\n"
		"ws.yaml:3:31: modules.namespace.default.name: \"Apps\" is not "
		"a valid namespace name (a DNS-1123 label: lowercase letters, "
		"digits and '-', at most 63)\n"
		"ws.yaml:4:36: modules.monitoring.default.interval: \"30\" is "
		"not a duration (like 90s, 10m, 1h)\n"
		"ws.yaml:4:48: modules.monitoring.default.scheme: expected "
		"http or https, got \"ftp\"\n"
		"ws.yaml:5:30: modules.postgres.default.size: expected an "
		"integer from 1 to 1048576, got 0");
	free(errs);
	ks_arena_free(a);
}

static int workspace_group(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_workspace_defaults),
		cmocka_unit_test(named_block_overlays_default_key_by_key),
		cmocka_unit_test(first_selecting_block_wins),
		cmocka_unit_test(empty_workspace_has_no_modules),
		cmocka_unit_test(errors_with_positions),
		cmocka_unit_test(value_checks),
	};
	return cmocka_run_group_tests_name("render/workspace", tests, NULL,
					   NULL);
}
KS_TEST_GROUP(workspace_group)
