/*
 * CEL: the conformance files of tests/cel/conformance, plus limits, error
 * positions, reuse and the JSON output.
 */
#include "ks_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/mem.h"
#include "policies/cel.h"

#define MAX_VARS 16

typedef struct suite {
	const char *file;
	char *names[MAX_VARS];
	json_t *vals[MAX_VARS];
	size_t nvars;
	int passed, failed;
	ks_cel_ctx *ctx;
} suite;

static void fail_case(suite *s, int line, const char *expr, const char *what)
{
	s->failed++;
	fprintf(stderr, "%s:%d: %s\n    expr: %s\n", s->file, line, what, expr);
}

/* Evaluates SRC in the suite's environment into its CEL text. Returns 0,
 * or -1 with the compile error in out. */
static int eval_text(suite *s, const char *src, ks_buf *out, int *is_error)
{
	ks_cel_program *p = NULL;
	ks_cel_pos pos;
	ks_error err = {0};
	*is_error = 0;
	if (ks_cel_compile(&p, src, strlen(src), (const char *const *)s->names,
			   s->nvars, &pos, &err)) {
		ks_buf_printf(out, "%u:%u: %s", pos.line, pos.col, err.msg);
		return -1;
	}
	ks_cel_value v = ks_cel_eval(s->ctx, p, s->vals, s->nvars);
	if (v.kind == KS_CEL_ERROR) {
		*is_error = 1;
		ks_buf_puts(out, ks_cel_error_message(&v));
	} else {
		ks_cel_value_format(out, &v);
	}
	ks_cel_program_free(p);
	return 0;
}

static void set_var(suite *s, char *spec, int line)
{
	char *eq = strchr(spec, '=');
	assert_non_null(eq);
	char *name = spec;
	*eq = 0;
	while (*name == ' ')
		name++;
	char *end = name + strlen(name);
	while (end > name && end[-1] == ' ')
		*--end = 0;
	json_error_t jerr;
	json_t *j = json_loads(eq + 1, JSON_DECODE_ANY, &jerr);
	if (!j) {
		fprintf(stderr, "%s:%d: bad JSON: %s\n", s->file, line,
			jerr.text);
		fail();
	}
	for (size_t i = 0; i < s->nvars; i++) {
		if (!strcmp(s->names[i], name)) {
			json_decref(s->vals[i]);
			s->vals[i] = j;
			return;
		}
	}
	assert_true(s->nvars < MAX_VARS);
	s->names[s->nvars] = ks_xstrdup(name);
	s->vals[s->nvars++] = j;
}

/* Finds the last occurrence of SEP in LINE. */
static char *rfind(char *line, const char *sep)
{
	char *last = NULL, *p = line;
	while ((p = strstr(p, sep))) {
		last = p;
		p++;
	}
	return last;
}

static void run_case(suite *s, char *line, int lineno)
{
	char *sep_val = rfind(line, " ==> ");
	char *sep_cmp = rfind(line, " !!compile ");
	char *sep_err = rfind(line, " !! ");
	if (sep_cmp && (!sep_err || sep_cmp > sep_err)) {
		*sep_cmp = 0;
		const char *want = sep_cmp + strlen(" !!compile ");
		ks_buf got;
		ks_buf_init(&got, 0);
		int is_err;
		if (eval_text(s, line, &got, &is_err) == 0) {
			char msg[600];
			snprintf(msg, sizeof(msg),
				 "compiled, want compile error \"%s\" (got %s)",
				 want, got.data);
			fail_case(s, lineno, line, msg);
		} else if (!strstr(got.data, want)) {
			char msg[600];
			snprintf(msg, sizeof(msg),
				 "compile error \"%s\", want \"%s\"", got.data,
				 want);
			fail_case(s, lineno, line, msg);
		} else {
			s->passed++;
		}
		ks_buf_release(&got);
		return;
	}
	if (sep_err && (!sep_val || sep_err > sep_val)) {
		*sep_err = 0;
		const char *want = sep_err + strlen(" !! ");
		ks_buf got;
		ks_buf_init(&got, 0);
		int is_err;
		int rc = eval_text(s, line, &got, &is_err);
		if (rc || !is_err || !strstr(got.data, want)) {
			char msg[600];
			snprintf(msg, sizeof(msg),
				 "got %s%s, want error \"%s\"",
				 rc	  ? "compile error "
				 : is_err ? "error "
					  : "",
				 got.data, want);
			fail_case(s, lineno, line, msg);
		} else {
			s->passed++;
		}
		ks_buf_release(&got);
		return;
	}
	if (!sep_val) {
		fail_case(s, lineno, line, "no ==>, !! or !!compile");
		return;
	}
	*sep_val = 0;
	const char *want_src = sep_val + strlen(" ==> ");
	ks_buf got, want;
	ks_buf_init(&got, 0);
	ks_buf_init(&want, 0);
	int e1, e2;
	int r1 = eval_text(s, line, &got, &e1);
	int r2 = eval_text(s, want_src, &want, &e2);
	if (r2 || e2) {
		char msg[600];
		snprintf(msg, sizeof(msg), "bad expected value: %s", want.data);
		fail_case(s, lineno, line, msg);
	} else if (r1 || e1 || strcmp(got.data, want.data)) {
		char msg[900];
		snprintf(msg, sizeof(msg), "got %s%s, want %s",
			 r1   ? "compile error "
			 : e1 ? "error "
			      : "",
			 got.data, want.data);
		fail_case(s, lineno, line, msg);
	} else {
		s->passed++;
	}
	ks_buf_release(&got);
	ks_buf_release(&want);
}

static void run_file(const char *path, const char *name, int *passed,
		     int *failed)
{
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	suite s = {.file = name, .ctx = ks_cel_ctx_new()};
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0;
	while ((n = getline(&line, &cap, fp)) >= 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (n == 0 || line[0] == '#')
			continue;
		if (!strncmp(line, "@var ", 5)) {
			set_var(&s, line + 5, lineno);
			continue;
		}
		run_case(&s, line, lineno);
	}
	free(line);
	fclose(fp);
	for (size_t i = 0; i < s.nvars; i++) {
		free(s.names[i]);
		json_decref(s.vals[i]);
	}
	ks_cel_ctx_free(s.ctx);
	print_message("conformance %-20s %4d passed, %d failed\n", name,
		      s.passed, s.failed);
	*passed += s.passed;
	*failed += s.failed;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void conformance(void **state)
{
	(void)state;
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/tests/cel/conformance",
		 ks_test_source_dir());
	DIR *d = opendir(dir);
	assert_non_null(d);
	char *names[64];
	size_t nn = 0;
	struct dirent *e;
	while ((e = readdir(d)) && nn < 64) {
		size_t l = strlen(e->d_name);
		if (l > 4 && !strcmp(e->d_name + l - 4, ".txt"))
			names[nn++] = ks_xstrdup(e->d_name);
	}
	closedir(d);
	qsort(names, nn, sizeof(*names), by_name);
	int passed = 0, failed = 0;
	for (size_t i = 0; i < nn; i++) {
		char path[8192];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		run_file(path, names[i], &passed, &failed);
		free(names[i]);
	}
	print_message("conformance total %d passed, %d failed\n", passed,
		      failed);
	assert_true(nn >= 8);
	assert_true(passed >= 300);
	assert_int_equal(failed, 0);
}

/* ---- limits and positions ---- */

static int compile(const char *src, ks_cel_pos *pos, ks_error *err)
{
	static const char *const names[] = {"x"};
	ks_cel_program *p = NULL;
	int rc = ks_cel_compile(&p, src, strlen(src), names, 1, pos, err);
	ks_cel_program_free(p);
	return rc;
}

static void syntax_error_positions(void **state)
{
	(void)state;
	ks_cel_pos pos;
	ks_error err = {0};
	assert_int_equal(compile("1 + ", &pos, &err), KS_EINVAL);
	assert_int_equal(pos.line, 1);
	assert_int_equal(pos.col, 5);
	assert_int_equal(compile("(1 + 2", &pos, &err), KS_EINVAL);
	assert_int_equal(pos.col, 7);
	assert_int_equal(compile("1 +\n  foo(2)", &pos, &err), KS_EINVAL);
	assert_int_equal(pos.line, 2);
	assert_int_equal(pos.col, 3);
	assert_non_null(strstr(err.msg, "undeclared reference to 'foo'"));
	/* columns count characters, not bytes */
	assert_int_equal(compile("'ééé' + )", &pos, &err), KS_EINVAL);
	assert_int_equal(pos.col, 9);
	assert_int_equal(compile("size(1, 2)", &pos, &err), KS_EINVAL);
	assert_int_equal(pos.col, 1);
	assert_non_null(strstr(err.msg, "no matching overload"));
	assert_int_equal(compile("'a'.matches('[')", &pos, &err), KS_EINVAL);
	assert_int_equal(pos.col, 13);
}

static char *repeat(const char *head, const char *unit, size_t n,
		    const char *tail)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_buf_puts(&b, head);
	for (size_t i = 0; i < n; i++)
		ks_buf_puts(&b, unit);
	ks_buf_puts(&b, tail);
	return ks_buf_detach(&b, NULL);
}

static void deep_nesting_is_an_error(void **state)
{
	(void)state;
	ks_cel_pos pos;
	ks_error err = {0};
	const char *units[][3] = {
		{"", "(", "1"},	   {"", "[", "1"},    {"", "-", "x"},
		{"", "!", "true"}, {"1", " + 1", ""}, {"", "{'a': ", "1"},
		{"x", ".a", ""},   {"x", "[0]", ""},  {"", "size(", "1"},
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		char *src =
			repeat(units[i][0], units[i][1], 15000, units[i][2]);
		int rc = compile(src, &pos, &err);
		if (rc != KS_ELIMIT)
			fprintf(stderr, "%s: %s\n", units[i][1], err.msg);
		assert_int_equal(rc, KS_ELIMIT);
		assert_non_null(strstr(err.msg, "nests too deeply"));
		free(src);
	}
	/* within the limit it works */
	char *ok = repeat("", "(", 150, "1");
	char *ok2 = repeat(ok, ")", 150, "");
	assert_int_equal(compile(ok2, &pos, &err), 0);
	free(ok);
	free(ok2);
	/* && and || chains are flat, so long ones are fine */
	char *chain = repeat("true", " && true", 10000, "");
	assert_int_equal(compile(chain, &pos, &err), 0);
	free(chain);
}

static void long_expressions(void **state)
{
	(void)state;
	ks_cel_pos pos;
	ks_error err = {0};
	/* a 100,000-character list literal compiles and evaluates */
	char *src = repeat("[1", ",1", 49998, "]");
	assert_int_equal(strlen(src), 99999);
	ks_cel_program *p = NULL;
	assert_int_equal(
		ks_cel_compile(&p, src, strlen(src), NULL, 0, &pos, &err), 0);
	ks_cel_ctx *c = ks_cel_ctx_new();
	ks_cel_value v = ks_cel_eval(c, p, NULL, 0);
	assert_int_equal(v.kind, KS_CEL_LIST);
	ks_cel_program_free(p);
	free(src);
	/* one byte more than the cap is refused */
	src = repeat("'", "a", KS_CEL_MAX_EXPR - 2, "'");
	assert_int_equal(compile(src, &pos, &err), 0);
	free(src);
	src = repeat("'", "a", KS_CEL_MAX_EXPR - 1, "'");
	assert_int_equal(compile(src, &pos, &err), KS_ELIMIT);
	free(src);
	ks_cel_ctx_free(c);
}

static ks_cel_value eval1(ks_cel_ctx *c, ks_cel_program **p, const char *src)
{
	ks_cel_pos pos;
	ks_error err = {0};
	assert_int_equal(
		ks_cel_compile(p, src, strlen(src), NULL, 0, &pos, &err), 0);
	return ks_cel_eval(c, *p, NULL, 0);
}

static void regex_bomb_is_bounded(void **state)
{
	(void)state;
	ks_cel_ctx *c = ks_cel_ctx_new();
	ks_cel_program *p = NULL;
	char *src = repeat("'", "a", 5000, "!'.matches('^(a+)+$')");
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ks_cel_value v = eval1(c, &p, src);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) +
		      (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* either PCRE2 sees through it or the match limit stops it */
	assert_true(v.kind == KS_CEL_ERROR || v.kind == KS_CEL_BOOL);
	if (v.kind == KS_CEL_BOOL)
		assert_false(v.v.b);
	assert_true(secs < 2.0);
	ks_cel_program_free(p);
	free(src);
	/* nested macros that would take exponential time hit the budget */
	p = NULL;
	ks_cel_ctx_set_limit(c, 1000000);
	src = repeat("", "[0,1,2,3,4,5,6,7,8,9].exists(x, ", 8, "false");
	char *src2 = repeat(src, ")", 8, "");
	v = eval1(c, &p, src2);
	assert_int_equal(v.kind, KS_CEL_ERROR);
	assert_non_null(strstr(ks_cel_error_message(&v), "cost limit"));
	ks_cel_program_free(p);
	free(src);
	free(src2);
	ks_cel_ctx_free(c);
}

static void compile_once_eval_many(void **state)
{
	(void)state;
	const char *names[] = {"object"};
	ks_cel_program *p = NULL;
	ks_cel_pos pos;
	ks_error err = {0};
	const char *src = "object.spec.replicas >= 2 && "
			  "object.metadata.name.startsWith('web')";
	assert_int_equal(
		ks_cel_compile(&p, src, strlen(src), names, 1, &pos, &err), 0);
	ks_cel_ctx *c = ks_cel_ctx_new();
	for (int i = 0; i < 1000; i++) {
		json_t *o = json_pack("{s:{s:i},s:{s:s}}", "spec", "replicas",
				      i % 4, "metadata", "name",
				      i % 2 ? "web-1" : "db");
		ks_cel_value v = ks_cel_eval(c, p, &o, 1);
		assert_int_equal(v.kind, KS_CEL_BOOL);
		assert_int_equal(v.v.b, (i % 4 >= 2) && (i % 2));
		json_decref(o);
	}
	/* an unbound variable is an error value */
	json_t *none = NULL;
	ks_cel_value v = ks_cel_eval(c, p, &none, 1);
	assert_int_equal(v.kind, KS_CEL_ERROR);
	assert_non_null(strstr(ks_cel_error_message(&v), "no such attribute"));
	ks_cel_ctx_free(c);
	ks_cel_program_free(p);
}

static void json_output(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{"1", "1"},
		{"1u", "1"},
		{"1.0", "1.0"},
		{"1.5", "1.5"},
		{"1e100", "1e+100"},
		{"0.1", "0.1"},
		{"-0.0", "-0.0"},
		{"1.0/0.0", "\"Infinity\""},
		{"0.0/0.0", "\"NaN\""},
		{"'a\"b\\n'", "\"a\\\"b\\n\""},
		{"b'hello'", "\"aGVsbG8=\""},
		{"b'\\xff\\xfe'", "\"//4=\""},
		{"duration('3723s')", "\"1h2m3s\""},
		{"duration('1.5s')", "\"1.5s\""},
		{"duration('0s')", "\"0s\""},
		{"duration('-90m')", "\"-1h30m0s\""},
		{"duration('1500us')", "\"1.5ms\""},
		{"timestamp('2020-01-02T03:04:05.5+01:00')",
		 "\"2020-01-02T02:04:05.5Z\""},
		{"int", "\"int\""},
		{"type(duration('1s'))", "\"google.protobuf.Duration\""},
		{"[1, 'a', null, true]", "[1,\"a\",null,true]"},
		{"{'a': 1, 2: 'b', true: [], 3u: {}}",
		 "{\"a\":1,\"2\":\"b\",\"true\":[],\"3u\":{}}"},
	};
	ks_cel_ctx *c = ks_cel_ctx_new();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ks_cel_program *p = NULL;
		ks_cel_value v = eval1(c, &p, cases[i][0]);
		ks_buf b;
		ks_buf_init(&b, 0);
		assert_int_equal(ks_cel_value_to_json(&b, &v), 0);
		if (strcmp(b.data, cases[i][1]))
			fprintf(stderr, "%s: got %s want %s\n", cases[i][0],
				b.data, cases[i][1]);
		assert_string_equal(b.data, cases[i][1]);
		ks_buf_release(&b);
		ks_cel_program_free(p);
	}
	ks_cel_ctx_free(c);
}

static int cel_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(conformance),
		cmocka_unit_test(syntax_error_positions),
		cmocka_unit_test(deep_nesting_is_an_error),
		cmocka_unit_test(long_expressions),
		cmocka_unit_test(regex_bomb_is_bounded),
		cmocka_unit_test(compile_once_eval_many),
		cmocka_unit_test(json_output),
	};
	return cmocka_run_group_tests_name("cel", tests, NULL, NULL);
}

KS_TEST_GROUP(cel_tests)
