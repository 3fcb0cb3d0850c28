/*
 * The KCL reader: golden parses of each construct (values and positions,
 * written by hand from the KCL text), and malformed inputs with their exact
 * positions and messages.
 */
#include "ks_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/mem.h"
#include "core/yaml.h"
#include "render/internal.h"

#define HDR                                                                    \
	"import catalog.models.schema.v1 as ac\n"                              \
	"import catalog.models.schema.v1.workload as wl\n"                     \
	"import catalog.models.schema.v1.workload.container as c\n"            \
	"import catalog.models.schema.v1.workload.container.probe as p\n"      \
	"import catalog.models.schema.v1.workload.network as n\n"

/* Parses SRC, which must succeed; returns the document. */
static ks_doc *parse_ok(const char *src)
{
	ks_errlist *errs = ks_errlist_new();
	ks_doc *d = NULL;
	int rc = ks_kcl_parse(&d, src, strlen(src), "t.k", errs);
	if (rc != 0) {
		ks_errlist_print(errs, stderr, 10);
		fail_msg("parse failed for:\n%s", src);
	}
	assert_int_equal(ks_errlist_count(errs), 0);
	ks_errlist_free(errs);
	return d;
}

/* The root of SRC as compact ordered JSON (a heap string). */
static char *json_of(const char *src)
{
	ks_doc *d = parse_ok(src);
	char *s =
		json_dumps(ks_doc_root(d), JSON_COMPACT | JSON_PRESERVE_ORDER |
						   JSON_ENCODE_ANY);
	ks_doc_free(d);
	return s;
}

static void assert_json(const char *src, const char *want)
{
	char *got = json_of(src);
	if (strcmp(got, want) != 0)
		fail_msg("for:\n%s\ngot  %s\nwant %s", src, got, want);
	free(got);
}

/* Parses SRC, which must fail; returns the first error line (sorted) as a
 * heap string, and checks that *out was left alone. */
static char *parse_err(const char *src, size_t len)
{
	ks_errlist *errs = ks_errlist_new();
	ks_doc *d = (ks_doc *)(void *)0x1;
	int rc = ks_kcl_parse(&d, src, len, "t.k", errs);
	assert_int_equal(rc, KS_EINVAL);
	assert_ptr_equal(d, (void *)0x1);
	assert_true(ks_errlist_count(errs) > 0);
	ks_errlist_sort(errs);
	char *s = strdup(ks_errlist_get(errs, 0));
	ks_errlist_free(errs);
	return s;
}

static void helloworld_as_in_the_talk(void **state)
{
	(void)state;
	assert_json(
		HDR
		"\n"
		"# the talk's app\n"
		"helloworld: ac.AppConfiguration {\n"
		"    workload: wl.Service {\n"
		"        containers: {\n"
		"            \"nginx\": c.Container {\n"
		"                image: \"nginx:v1\"\n"
		"                command: [\"/bin/sh\", \"-c\", \"echo hi\"]\n"
		"                env: {\"key\": \"value\"}\n"
		"                readinessProbe: p.Probe {\n"
		"                    probeHandler: p.Http {\n"
		"                        url: \"http://localhost:80\"\n"
		"                    }\n"
		"                }\n"
		"            }\n"
		"        }\n"
		"        replicas: 2\n"
		"        ports: [n.Port {port: 80, targetPort: 8080, "
		"exposeInternet: True}]\n"
		"    }\n"
		"}\n",
		"{\"helloworld\":{\"workload\":{\"_type\":\"Service\","
		"\"containers\":{\"nginx\":{\"image\":\"nginx:v1\","
		"\"command\":[\"/bin/sh\",\"-c\",\"echo hi\"],"
		"\"env\":{\"key\":\"value\"},\"readinessProbe\":"
		"{\"probeHandler\":{\"_type\":\"Http\",\"url\":"
		"\"http://localhost:80\"}}}},\"replicas\":2,\"ports\":"
		"[{\"port\":80,\"targetPort\":8080,\"exposeInternet\":"
		"true}]}}}");
}

static void positions_and_styles(void **state)
{
	(void)state;
	const char *src = "import models.schema.v1 as ac\n"
			  "import models.schema.v1.workload as wl\n"
			  "\n"
			  "app = ac.AppConfiguration {\n"
			  "  workload: wl.Job {\n"
			  "    replicas: 0x1F,  schedule: '0 * * * *'\n"
			  "    labels = {\"a\": -2.5, b: None}\n"
			  "  }\n"
			  "  \"annotations\": {x: False}\n"
			  "}\n";
	ks_doc *d = parse_ok(src);
	json_t *root = ks_doc_root(d);
	assert_int_equal(ks_doc_root_mark(d).line, 4);
	assert_int_equal(ks_doc_root_mark(d).col, 1);

	const ks_node_info *i = ks_doc_key_info(d, root, "app");
	assert_non_null(i);
	assert_int_equal(i->key.line, 4);
	assert_int_equal(i->key.col, 1);
	assert_int_equal(i->value.line, 4);
	assert_int_equal(i->value.col, 7);

	json_t *app = json_object_get(root, "app");
	json_t *wl = json_object_get(app, "workload");
	i = ks_doc_key_info(d, app, "workload");
	assert_int_equal(i->key.line, 5);
	assert_int_equal(i->key.col, 3);
	assert_int_equal(i->value.col, 13);
	/* _type sits first and points at the schema name. */
	assert_string_equal(json_object_iter_key(json_object_iter(wl)),
			    "_type");
	assert_string_equal(json_string_value(json_object_get(wl, "_type")),
			    "Job");
	i = ks_doc_key_info(d, wl, "_type");
	assert_int_equal(i->value.line, 5);
	assert_int_equal(i->value.col, 13);

	assert_int_equal(json_integer_value(json_object_get(wl, "replicas")),
			 31);
	i = ks_doc_key_info(d, wl, "replicas");
	assert_int_equal(i->key.line, 6);
	assert_int_equal(i->key.col, 5);
	assert_int_equal(i->value.col, 15);
	assert_int_equal(i->style, KS_STYLE_PLAIN);
	assert_string_equal(i->raw, "0x1F");

	i = ks_doc_key_info(d, wl, "schedule");
	assert_int_equal(i->key.col, 22);
	assert_int_equal(i->value.col, 32);
	assert_int_equal(i->style, KS_STYLE_QUOTED);
	assert_null(i->raw);

	json_t *labels = json_object_get(wl, "labels");
	i = ks_doc_key_info(d, labels, "a");
	assert_int_equal(i->key.line, 7);
	assert_int_equal(i->key.col, 15);
	assert_int_equal(i->value.col, 20);
	assert_string_equal(i->raw, "-2.5");
	assert_true(json_real_value(json_object_get(labels, "a")) == -2.5);
	i = ks_doc_key_info(d, labels, "b");
	assert_true(json_is_null(json_object_get(labels, "b")));
	assert_string_equal(i->raw, "null");

	i = ks_doc_key_info(d, app, "annotations");
	assert_int_equal(i->key.line, 9);
	assert_int_equal(i->key.col, 3);
	json_t *ann = json_object_get(app, "annotations");
	i = ks_doc_key_info(d, ann, "x");
	assert_string_equal(i->raw, "false");
	assert_int_equal(i->style, KS_STYLE_PLAIN);
	ks_doc_free(d);
}

static void list_items_have_positions(void **state)
{
	(void)state;
	const char *src = "a: {cells: [\n"
			  "    \"GZ99S\"\n"
			  "    'RZ99K', 7]}\n";
	ks_doc *d = parse_ok(src);
	json_t *a = json_object_get(ks_doc_root(d), "a");
	json_t *cells = json_object_get(a, "cells");
	assert_int_equal(json_array_size(cells), 3);
	const ks_node_info *i = ks_doc_index_info(d, cells, 0);
	assert_int_equal(i->value.line, 2);
	assert_int_equal(i->value.col, 5);
	assert_int_equal(i->style, KS_STYLE_QUOTED);
	i = ks_doc_index_info(d, cells, 1);
	assert_int_equal(i->value.line, 3);
	assert_int_equal(i->value.col, 5);
	i = ks_doc_index_info(d, cells, 2);
	assert_int_equal(i->value.col, 14);
	assert_string_equal(i->raw, "7");
	ks_doc_free(d);
}

static void columns_count_characters(void **state)
{
	(void)state;
	/* "é" is two bytes, one column. */
	const char *src = "a: {x: \"\xc3\xa9\xc3\xa9\", y: 1}\n";
	ks_doc *d = parse_ok(src);
	json_t *a = json_object_get(ks_doc_root(d), "a");
	const ks_node_info *i = ks_doc_key_info(d, a, "y");
	assert_int_equal(i->key.col, 14);
	assert_int_equal(i->value.col, 17);
	ks_doc_free(d);
}

static void separators_and_layout(void **state)
{
	(void)state;
	/* Layout inside brackets does not matter; commas and line breaks
	 * both separate; trailing commas are fine. */
	assert_json("a: {\n"
		    "\t\tx: 1, y: 2,\n"
		    "z:\n"
		    "      3\n"
		    "     w = [1,\n"
		    "2\n"
		    "  3,]\n"
		    "   }\n"
		    "b = {}\n",
		    "{\"a\":{\"x\":1,\"y\":2,\"z\":3,\"w\":[1,2,3]},\"b\":{}}");
	assert_json("a: {} # trailing comment\n# last\n", "{\"a\":{}}");
	assert_json("a: {x: [1\n-2\n+3]}", "{\"a\":{\"x\":[1,-2,3]}}");
	assert_json("a: {x: [], y: [[1], {}]}",
		    "{\"a\":{\"x\":[],\"y\":[[1],{}]}}");
	/* CRLF line ends and a byte order mark. */
	assert_json("\xEF\xBB\xBF"
		    "a: {\r\n x: 1\r\n y: 2\r\n}\r\n",
		    "{\"a\":{\"x\":1,\"y\":2}}");
}

static void strings(void **state)
{
	(void)state;
	assert_json("a: {s: 'it\\'s'}", "{\"a\":{\"s\":\"it's\"}}");
	assert_json("a: {s: \"q\\\"uote\\\\ \\n\\t\\x41\\u00e9\\101 \\d\"}",
		    "{\"a\":{\"s\":\"q\\\"uote\\\\ \\n\\tA\xc3\xa9"
		    "A \\\\d\"}}");
	assert_json("a: {s: \"\"\"line1\n  \"quoted\" line2\\\nsame\"\"\"}",
		    "{\"a\":{\"s\":\"line1\\n  \\\"quoted\\\" line2same\"}}");
	assert_json("a: {s: '''x\ny'''}", "{\"a\":{\"s\":\"x\\ny\"}}");
	assert_json("a: {s: r\"\\d+${x}\\\"\"}",
		    "{\"a\":{\"s\":\"\\\\d+${x}\\\\\\\"\"}}");
	assert_json("a: {s: \"$5 {x}\"}", "{\"a\":{\"s\":\"$5 {x}\"}}");
	/* KCL keywords that name attributes in configs. */
	assert_json("a: {protocol: 1, type: 2, rule: 3, schema: 4, import: 5, "
		    "True: 6}",
		    "{\"a\":{\"protocol\":1,\"type\":2,\"rule\":3,"
		    "\"schema\":4,\"import\":5,\"True\":6}}");
	assert_json("a: {\"\": \"\", '#': \"#\"}",
		    "{\"a\":{\"\":\"\",\"#\":\"#\"}}");
}

static void numbers(void **state)
{
	(void)state;
	assert_json("a: {d: 0644, h: 0x10, o: 0o17, b: 0b101, n: -7, p: +3}",
		    "{\"a\":{\"d\":644,\"h\":16,\"o\":15,\"b\":5,\"n\":-7,"
		    "\"p\":3}}");
	assert_json("a: {f: 1.5, e: 1e3, g: .5, m: -0.25}",
		    "{\"a\":{\"f\":1.5,\"e\":1000.0,\"g\":0.5,\"m\":-0.25}}");
	/* Unit suffixes stay the text KCL prints. */
	assert_json(
		"a: {mem: 512Mi, cpu: 250m, k: 1K}",
		"{\"a\":{\"mem\":\"512Mi\",\"cpu\":\"250m\",\"k\":\"1K\"}}");
	assert_json(
		"a: {big: 9223372036854775807, small: -9223372036854775808}",
		"{\"a\":{\"big\":9223372036854775807,"
		"\"small\":-9223372036854775808}}");
	ks_doc *d = parse_ok("a: {mem: 512Mi, v: 8.0, t: True}\n");
	json_t *a = json_object_get(ks_doc_root(d), "a");
	const ks_node_info *i = ks_doc_key_info(d, a, "mem");
	assert_int_equal(i->style, KS_STYLE_PLAIN);
	assert_null(i->raw);
	i = ks_doc_key_info(d, a, "v");
	assert_string_equal(i->raw, "8.0");
	i = ks_doc_key_info(d, a, "t");
	assert_string_equal(i->raw, "true");
	ks_doc_free(d);
}

static void schemas_and_unions(void **state)
{
	(void)state;
	/* Bare schema names, unions on each union field, non-union schemas
	 * without _type; a plain block where a schema is expected. */
	assert_json(
		"import models.schema.v1.accessories.mysql\n"
		"a: AppConfiguration {\n"
		"  workload: Job {containers: {m: Container {\n"
		"    livenessProbe: Probe {probeHandler: Exec {command: "
		"[\"true\"]}}\n"
		"    startupProbe: {probeHandler: Tcp {url: \"h:1\"}}\n"
		"    lifecycle: Lifecycle {preStop: Http {url: \"u\"}, "
		"postStart: Exec {}}\n"
		"    files: {\"/a/b\": FileSpec {content: \"x\"}}\n"
		"  }}}\n"
		"  database: {db: mysql.MySQL {type: \"local\"}, pg: "
		"PostgreSQL {}}\n"
		"  opsRule: OpsRule {maxUnavailable: \"30%\"}\n"
		"  monitoring: Prometheus {path: \"/m\"}\n"
		"  topologies: {ZoneA: Topology {cells: [\"C1\"]}}\n"
		"  pipeline: Pipeline {deploy: Deploy {manualApprove: True}}\n"
		"  policysets: {p1: PolicySet {kind: \"advisory\"}}\n"
		"  dependency: Dependency {dependedApps: [\"b\"]}\n"
		"}\n",
		"{\"a\":{\"workload\":{\"_type\":\"Job\",\"containers\":"
		"{\"m\":{\"livenessProbe\":{\"probeHandler\":{\"_type\":"
		"\"Exec\",\"command\":[\"true\"]}},\"startupProbe\":"
		"{\"probeHandler\":{\"_type\":\"Tcp\",\"url\":\"h:1\"}},"
		"\"lifecycle\":{\"preStop\":{\"_type\":\"Http\",\"url\":"
		"\"u\"},\"postStart\":{\"_type\":\"Exec\"}},\"files\":"
		"{\"/a/b\":{\"content\":\"x\"}}}}},\"database\":{\"db\":"
		"{\"_type\":\"MySQL\",\"type\":\"local\"},\"pg\":{\"_type\":"
		"\"PostgreSQL\"}},\"opsRule\":{\"maxUnavailable\":\"30%\"},"
		"\"monitoring\":{\"path\":\"/m\"},\"topologies\":{\"ZoneA\":"
		"{\"cells\":[\"C1\"]}},\"pipeline\":{\"deploy\":"
		"{\"manualApprove\":true}},\"policysets\":{\"p1\":{\"kind\":"
		"\"advisory\"}},\"dependency\":{\"dependedApps\":[\"b\"]}}}");
	/* A plain workload block is a Service without _type, as in YAML. */
	assert_json("a: {workload: {containers: {m: Container {}}}}",
		    "{\"a\":{\"workload\":{\"containers\":{\"m\":{}}}}}");
	/* Unknown fields take any known schema (the validator reports the
	 * key itself). */
	assert_json("import x.y as wl\na: {workloda: wl.Service {}}",
		    "{\"a\":{\"workloda\":{}}}");
	/* Two apps, and an import whose alias is its last part. */
	assert_json("import models.schema.v1\n"
		    "a: v1.AppConfiguration {}\nb = v1.AppConfiguration {}\n",
		    "{\"a\":{},\"b\":{}}");
}

static void empty_files_have_no_root(void **state)
{
	(void)state;
	ks_doc *d = parse_ok("# nothing\nimport a.b as c\n\n");
	assert_null(ks_doc_root(d));
	ks_doc_free(d);
	d = parse_ok("");
	assert_null(ks_doc_root(d));
	ks_doc_free(d);
}

struct bad {
	const char *src;
	const char *err;
};

static const struct bad bad_inputs[] = {
	/* unclosed and mismatched brackets */
	{"a: AppConfiguration {\n  workload: {\n}\n",
	 "t.k:1:21: \"{\" is never closed"},
	{"a: {x: [1, 2\n", "t.k:1:8: \"[\" is never closed"},
	{"a: {x: [1, 2}\n",
	 "t.k:1:13: expected \"]\" to close the \"[\" at 1:8, got \"}\""},
	{"a: {x: 1]\n",
	 "t.k:1:9: expected \"}\" to close the \"{\" at 1:4, got \"]\""},
	{"a: {}\n}\n",
	 "t.k:2:1: expected a statement (name: value, name = value or import), "
	 "got \"}\""},
	/* separators and layout */
	{"a: {x: 1 y: 2}\n",
	 "t.k:1:10: expected \",\" or a line break between entries, got \"y\""},
	{"a: {}\n  b: {}\n",
	 "t.k:2:3: unexpected indentation (top-level statements start in "
	 "column 1)"},
	{"a: {}\n\tb: {}\n",
	 "t.k:2:2: unexpected tab before a top-level statement (statements "
	 "start in column 1)"},
	{"a: {} b: {}\n",
	 "t.k:1:7: expected a line break after the statement, got \"b\""},
	{"a:\n  {}\n", "t.k:2:3: expected a value on the same line, got \"{\""},
	{"a {}\n", "t.k:1:3: expected \":\" or \"=\" after \"a\", got \"{\""},
	{"a: {x 1}\n",
	 "t.k:1:7: expected \":\" or \"=\" after the key \"x\", got \"1\""},
	{"a: {x: }\n", "t.k:1:8: expected a value, got \"}\""},
	{"a: {1: 2}\n",
	 "t.k:1:5: expected a key (a name or a string), got \"1\""},
	/* schemas */
	{HDR "a: ac.AppConfiguration {workload: n.Port {}}\n",
	 "t.k:6:35: a.workload: expected Service or Job, got Port"},
	{HDR "a: wl.Service {}\n",
	 "t.k:6:4: a: expected AppConfiguration, got Service"},
	{"a: {workload: {containers: {m: Port {}}}}\n",
	 "t.k:1:32: a.workload.containers.m: expected Container, got Port"},
	{"a: {workload: Service {ports: [Container {}]}}\n",
	 "t.k:1:32: a.workload.ports[0]: expected Port, got Container"},
	{"a: {workload: {containers: {m: {readinessProbe: {probeHandler: "
	 "Probe {}}}}}}\n",
	 "t.k:1:64: a.workload.containers.m.readinessProbe.probeHandler: "
	 "expected Http, Exec or Tcp, got Probe"},
	{"a: {labels: Container {}}\n",
	 "t.k:1:13: a.labels: expected plain values, got schema Container"},
	{"a: {topologies: Topology {}}\n",
	 "t.k:1:17: a.topologies: expected a block of name: Topology, got "
	 "Topology"},
	{"a: ac.Foo {}\n",
	 "t.k:1:4: unknown module alias \"ac\" (no import line names it)"},
	{"import x as ac\na: ac.Foo {}\n", "t.k:2:4: unknown schema \"Foo\""},
	{"a: {workload: Servcie {}}\n",
	 "t.k:1:15: unknown schema \"Servcie\" (did you mean \"Service\"?)"},
	{"a: a.b.C {}\n",
	 "t.k:1:4: expected a schema as alias.Schema, got \"a.b.C\""},
	/* duplicates */
	{"a: {x: 1\n  x: 2}\n", "t.k:2:3: duplicate key \"x\" (first at 1:5)"},
	{"a: {}\na = {}\n", "t.k:2:1: duplicate key \"a\" (first at 1:1)"},
	{"a: {workload: Service {_type: \"Job\"}}\n",
	 "t.k:1:24: duplicate key \"_type\" (first at 1:15)"},
	/* refused constructs */
	{"a: {x: lambda x: x}\n",
	 "t.k:1:8: lambda expressions are not supported"},
	{"a: {x: [i for i in [1]]}\n",
	 "t.k:1:11: for comprehensions are not supported"},
	{"a: {if True: x: 1}\n", "t.k:1:5: if in configs is not supported"},
	{"a: {x: 1 if True else 2}\n",
	 "t.k:1:10: conditional expressions (if ... else) are not supported"},
	{"a: {x: \"${name}\"}\n",
	 "t.k:1:9: string interpolation (${...}) is not supported; a raw "
	 "string r\"...\" keeps ${ as written"},
	{"schema App:\n    x: int\n",
	 "t.k:1:1: schema definitions are not supported"},
	{"mixin M:\n    x: 1\n",
	 "t.k:1:1: mixin definitions are not supported"},
	{"a: {x: 1} | {y: 2}\n",
	 "t.k:1:11: the | union operator on configs is not supported; write "
	 "one block"},
	{"a: {x: 1 + 2}\n",
	 "t.k:1:10: operators (\"+\") are not supported; write the value "
	 "itself"},
	{"a: {x: y}\n",
	 "t.k:1:8: names as values are not supported (\"y\"); write the "
	 "value itself"},
	{"a: {x: f(1)}\n", "t.k:1:9: calls are not supported (\"f(...)\")"},
	{"a: {**b}\n", "t.k:1:5: unpacking (**) is not supported"},
	{"a: {x: 1\n  **b}\n", "t.k:2:3: unpacking (**) is not supported"},
	{"a: {x: [1\n  *b]}\n", "t.k:2:3: unpacking (*) is not supported"},
	{"a: {x.y: 1}\n",
	 "t.k:1:6: dotted keys (a.b: value) are not supported; nest the "
	 "blocks instead"},
	{"a: {x += [1]}\n", "t.k:1:7: the \"+=\" operator is not supported"},
	{"a: {x: Undefined}\n",
	 "t.k:1:8: Undefined is not supported; leave the field out"},
	{"if True:\n    a = 1\n", "t.k:1:1: if statements are not supported"},
	{"a = {}\nif True:\n    a = 1\n",
	 "t.k:2:1: if statements are not supported"},
	{"a = {}\nfor x in []:\n    a = 1\n",
	 "t.k:2:1: for loops are not supported"},
	{"a: {x: 1\n  if True: y: 1}\n",
	 "t.k:2:3: if in configs is not supported"},
	{"a: {x: [1\n  for i in []]}\n",
	 "t.k:2:3: for comprehensions are not supported"},
	{"a: {x: {b: 1}\n  | {c: 2}}\n",
	 "t.k:2:3: the | union operator on configs is not supported; write one "
	 "block"},
	{"a: {x: (1)}\n",
	 "t.k:1:8: parenthesized expressions are not supported"},
	/* strings */
	{"a: {x: \"abc}\n",
	 "t.k:1:8: unterminated string (a line break inside a quoted string; "
	 "use triple quotes for text of several lines)"},
	{"a: {x: '''abc}\n", "t.k:1:8: unterminated string"},
	{"a: {x: \"\\x4\"}\n",
	 "t.k:1:9: invalid escape: \\x needs 2 hex digits"},
	{"a: {x: \"\\0\"}\n",
	 "t.k:1:9: strings may not contain NUL characters"},
	{"a: {x: \"\\ud800\"}\n",
	 "t.k:1:9: invalid escape: U+D800 is not a character"},
	/* numbers */
	{"a: {x: 12q}\n",
	 "t.k:1:10: unsupported unit suffix \"q\" (KCL's are n, u, m, k, K, "
	 "M, G, T, P, Ki, Mi, Gi, Ti, Pi)"},
	{"a: {x: 1.5Gi}\n",
	 "t.k:1:11: a unit suffix goes only after a decimal integer"},
	{"a: {x: 1_000}\n",
	 "t.k:1:9: digit separators (_) in numbers are not supported"},
	{"a: {x: 0x}\n", "t.k:1:8: invalid number: no digits after \"0x\""},
	{"a: {x: 99999999999999999999}\n",
	 "t.k:1:8: integer out of range: 99999999999999999999"},
	{"a: {x: 1e999}\n", "t.k:1:8: number out of range: 1e999"},
	{"a: {x: - }\n",
	 "t.k:1:10: expected a number after the sign, got \"}\""},
	/* garbage */
	{"a: {x: 1}\n\x01\n", "t.k:2:1: unexpected control character 0x01"},
	{"a: {x: \"\xff\"}\n", "t.k:1:9: invalid UTF-8 (byte 0xff)"},
	{"a: {x: 1} # \xc3\x28\n", "t.k:1:13: invalid UTF-8 (byte 0xc3)"},
	{"a: {x: \xc3\xa9}\n",
	 "t.k:1:8: unexpected character \"\xc3\xa9\" outside a string"},
	{"a: {x: 1;}\n", "t.k:1:9: unexpected character \";\""},
	{"\"a\": {}\n",
	 "t.k:1:1: expected a statement (name: value, name = value or import), "
	 "got a string"},
	{"import\n",
	 "t.k:2:1: expected a module path after \"import\", got the "
	 "end of the file"},
	{"import a as x\nimport b as x\n",
	 "t.k:2:13: alias \"x\" already names module \"a\""},
};

static void malformed_inputs(void **state)
{
	(void)state;
	size_t n = sizeof(bad_inputs) / sizeof(bad_inputs[0]);
	size_t wrong = 0;
	assert_true(n >= 25);
	for (size_t i = 0; i < n; i++) {
		const char *src = bad_inputs[i].src;
		char *got = parse_err(src, strlen(src));
		if (strcmp(got, bad_inputs[i].err) != 0) {
			print_error("for:\n%s\ngot  %s\nwant %s\n", src, got,
				    bad_inputs[i].err);
			wrong++;
		}
		free(got);
	}
	assert_int_equal(wrong, 0);
}

static void nul_byte_in_source(void **state)
{
	(void)state;
	char *got = parse_err("a: {x: 1}\n\0b", 12);
	assert_string_equal(got, "t.k:2:1: unexpected control character 0x00");
	free(got);
	got = parse_err("a: {x: \"a\0b\"}", 13);
	assert_string_equal(got,
			    "t.k:1:10: strings may not contain NUL characters");
	free(got);
}

static void errors_after_semantic_ones_are_collected(void **state)
{
	(void)state;
	const char *src = "a: {x: 1, x: 2}\nb: Port {}\nc: Nope {}\n";
	ks_errlist *errs = ks_errlist_new();
	ks_doc *d = NULL;
	assert_int_equal(ks_kcl_parse(&d, src, strlen(src), "t.k", errs),
			 KS_EINVAL);
	assert_null(d);
	ks_errlist_sort(errs);
	assert_int_equal(ks_errlist_count(errs), 3);
	assert_string_equal(ks_errlist_get(errs, 0),
			    "t.k:1:11: duplicate key \"x\" (first at 1:5)");
	assert_string_equal(ks_errlist_get(errs, 1),
			    "t.k:2:4: b: expected AppConfiguration, got Port");
	assert_string_equal(ks_errlist_get(errs, 2),
			    "t.k:3:4: unknown schema \"Nope\"");
	ks_errlist_free(errs);
}

static void deep_nesting_is_an_error(void **state)
{
	(void)state;
	size_t n = 100000;
	char *src = malloc(4 + 2 * n + 2);
	memcpy(src, "a: ", 3);
	for (size_t i = 0; i < n; i++)
		src[3 + i] = '[';
	for (size_t i = 0; i < n; i++)
		src[3 + n + i] = ']';
	src[3 + 2 * n] = '\0';
	char *got = parse_err(src, 3 + 2 * n);
	assert_string_equal(got, "t.k:1:204: nesting deeper than 200 levels");
	free(got);
	/* 200 levels are fine. */
	for (size_t i = 0; i < 200; i++)
		src[3 + i] = '[';
	for (size_t i = 0; i < 200; i++)
		src[203 + i] = ']';
	src[403] = '\0';
	ks_doc *d = parse_ok(src);
	ks_doc_free(d);
	free(src);
}

/* Drops `_type: Service`, which the YAML form may leave out, from every
 * app's workload. */
static void drop_service_type(json_t *root)
{
	const char *app;
	json_t *v;
	json_object_foreach(root, app, v)
	{
		json_t *wl = json_object_get(v, "workload");
		json_t *t = json_object_get(wl, "_type");
		if (t && strcmp(json_string_value(t), "Service") == 0)
			json_object_del(wl, "_type");
	}
}

/* Every non-string scalar must carry the same raw text in both forms (the
 * validator takes it as written where a string is wanted). */
static void same_raws(const ks_doc *y, const json_t *yv, const ks_doc *k,
		      const json_t *kv)
{
	if (json_is_object(yv)) {
		const char *key;
		json_t *c;
		json_object_foreach((json_t *)yv, key, c)
		{
			const ks_node_info *yi = ks_doc_key_info(y, yv, key);
			const ks_node_info *ki = ks_doc_key_info(k, kv, key);
			assert_non_null(yi);
			assert_non_null(ki);
			assert_true(ki->key.line > 0 && ki->value.line > 0);
			if (!json_is_string(c) && yi->raw) {
				assert_non_null(ki->raw);
				assert_string_equal(yi->raw, ki->raw);
			}
			same_raws(y, c, k, json_object_get(kv, key));
		}
	} else if (json_is_array(yv)) {
		for (size_t i = 0; i < json_array_size(yv); i++) {
			const ks_node_info *yi = ks_doc_index_info(y, yv, i);
			const ks_node_info *ki = ks_doc_index_info(k, kv, i);
			assert_non_null(yi);
			assert_non_null(ki);
			json_t *c = json_array_get(yv, i);
			if (!json_is_string(c) && yi->raw) {
				assert_non_null(ki->raw);
				assert_string_equal(yi->raw, ki->raw);
			}
			same_raws(y, c, k, json_array_get(kv, i));
		}
	}
}

/* Parses every app file of DIR with SUFFIX into one merged object; the
 * documents go to DOCS (the caller frees them). */
static json_t *load_stack(const char *dir, const char *suffix, ks_doc **docs,
			  size_t *ndocs)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	json_t *all = json_object();
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name), sl = strlen(suffix);
		if (n <= sl || strcmp(e->d_name + n - sl, suffix) != 0 ||
		    strcmp(e->d_name, "stack.yaml") == 0)
			continue;
		char *path = ks_xasprintf("%s/%s", dir, e->d_name);
		char *buf = NULL;
		size_t len = 0;
		ks_error err = {0};
		assert_int_equal(ks_read_file(path, 1 << 20, &buf, &len, &err),
				 0);
		ks_errlist *errs = ks_errlist_new();
		ks_doc *doc = NULL;
		int rc = strcmp(suffix, ".k") == 0
				 ? ks_kcl_parse(&doc, buf, len, path, errs)
				 : ks_yaml_parse(&doc, buf, len, path, 0, errs);
		if (rc != 0)
			ks_errlist_print(errs, stderr, 10);
		assert_int_equal(rc, 0);
		json_object_update(all, ks_doc_root(doc));
		docs[(*ndocs)++] = doc;
		ks_errlist_free(errs);
		free(buf);
		free(path);
	}
	closedir(d);
	return all;
}

static void twins_read_alike(void **state)
{
	(void)state;
	static const char *const stacks[] = {"demo/prod", "shop/dev"};
	for (size_t s = 0; s < sizeof(stacks) / sizeof(stacks[0]); s++) {
		char *kdir = ks_xasprintf("%s/tests/kcl/twin-kcl/%s",
					  ks_test_source_dir(), stacks[s]);
		char *ydir = ks_xasprintf("%s/tests/kcl/twin-yaml/%s",
					  ks_test_source_dir(), stacks[s]);
		ks_doc *kd[8], *yd[8];
		size_t nk = 0, ny = 0;
		json_t *k = load_stack(kdir, ".k", kd, &nk);
		json_t *y = load_stack(ydir, ".yaml", yd, &ny);
		assert_true(nk > 0 && ny > 0);
		assert_true(json_object_size(k) > 0);
		/* Positions and raws, app by app, before _type is dropped. */
		const char *app;
		json_t *yv;
		json_object_foreach(y, app, yv)
		{
			const ks_doc *ydoc = NULL, *kdoc = NULL;
			for (size_t i = 0; i < ny; i++)
				if (ks_doc_key_info(yd[i], ks_doc_root(yd[i]),
						    app))
					ydoc = yd[i];
			for (size_t i = 0; i < nk; i++)
				if (ks_doc_key_info(kd[i], ks_doc_root(kd[i]),
						    app))
					kdoc = kd[i];
			assert_non_null(ydoc);
			assert_non_null(kdoc);
			same_raws(ydoc, yv, kdoc, json_object_get(k, app));
		}
		json_t *kc = json_deep_copy(k), *yc = json_deep_copy(y);
		drop_service_type(kc);
		drop_service_type(yc);
		if (!json_equal(kc, yc)) {
			char *a = json_dumps(yc, JSON_PRESERVE_ORDER);
			char *b = json_dumps(kc, JSON_PRESERVE_ORDER);
			fail_msg("%s: the twins differ\nyaml %s\nkcl  %s",
				 stacks[s], a, b);
		}
		json_decref(kc);
		json_decref(yc);
		json_decref(k);
		json_decref(y);
		for (size_t i = 0; i < nk; i++)
			ks_doc_free(kd[i]);
		for (size_t i = 0; i < ny; i++)
			ks_doc_free(yd[i]);
		free(kdir);
		free(ydir);
	}
}

static int kcl_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(helloworld_as_in_the_talk),
		cmocka_unit_test(positions_and_styles),
		cmocka_unit_test(list_items_have_positions),
		cmocka_unit_test(columns_count_characters),
		cmocka_unit_test(separators_and_layout),
		cmocka_unit_test(strings),
		cmocka_unit_test(numbers),
		cmocka_unit_test(schemas_and_unions),
		cmocka_unit_test(empty_files_have_no_root),
		cmocka_unit_test(malformed_inputs),
		cmocka_unit_test(nul_byte_in_source),
		cmocka_unit_test(errors_after_semantic_ones_are_collected),
		cmocka_unit_test(deep_nesting_is_an_error),
		cmocka_unit_test(twins_read_alike),
	};
	return cmocka_run_group_tests_name("render/kcl", tests, NULL, NULL);
}
KS_TEST_GROUP(kcl_tests)
