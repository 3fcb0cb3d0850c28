#include "agent/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "policies/cel.h"
#include "core/banned.h"

const char ks_usage_eval[] =
	"usage: kusync eval EXPR [--var NAME=JSON]...\n"
	"\n"
	"Evaluates one CEL expression and prints its value as JSON on one "
	"line.\n"
	"\n"
	"  --var NAME=JSON   binds the variable NAME to a JSON value (JSON "
	"integers\n"
	"                    are CEL int, other numbers double)\n"
	"\n"
	"Output: int and uint as numbers, double always with a '.' or an "
	"exponent\n"
	"(1.0), NaN and infinities as \"NaN\", \"Infinity\", \"-Infinity\", "
	"bytes as\nbase64, durations as \"1h2m3s\", timestamps as RFC 3339 in "
	"UTC, types as\ntheir name. Exit codes: 0 a value, 1 an evaluation "
	"error (on stderr), 2 a\nsyntax or check error (with its line and "
	"column) or bad usage.\n";

static int valid_name(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int ok = c == '_' || (c >= 'a' && c <= 'z') ||
			 (c >= 'A' && c <= 'Z') || (i && c >= '0' && c <= '9');
		if (!ok)
			return 0;
	}
	return 1;
}

typedef struct eval_vars {
	char *names[KS_CEL_MAX_VARS];
	json_t *vals[KS_CEL_MAX_VARS];
	size_t n;
} eval_vars;

static int add_var(eval_vars *v, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq || !valid_name(arg, (size_t)(eq - arg))) {
		ks_cli_error("--var wants NAME=JSON with NAME an identifier, "
			     "got \"%s\"",
			     arg);
		return -1;
	}
	size_t nl = (size_t)(eq - arg);
	for (size_t i = 0; i < v->n; i++) {
		if (strlen(v->names[i]) == nl &&
		    !memcmp(v->names[i], arg, nl)) {
			ks_cli_error("variable \"%.*s\" given twice", (int)nl,
				     arg);
			return -1;
		}
	}
	if (v->n >= KS_CEL_MAX_VARS) {
		ks_cli_error("too many variables (at most %d)",
			     KS_CEL_MAX_VARS);
		return -1;
	}
	json_error_t jerr;
	json_t *j = json_loads(eq + 1, JSON_DECODE_ANY, &jerr);
	if (!j) {
		ks_cli_error("--var %.*s: invalid JSON at column %d: %s",
			     (int)nl, arg, jerr.column, jerr.text);
		return -1;
	}
	v->names[v->n] = ks_xstrndup(arg, nl);
	v->vals[v->n] = j;
	v->n++;
	return 0;
}

static int run(const char *expr, eval_vars *v)
{
	ks_cel_program *prog = NULL;
	ks_cel_pos pos;
	ks_error err = {0};
	if (ks_cel_compile(&prog, expr, strlen(expr),
			   (const char *const *)v->names, v->n, &pos, &err)) {
		ks_cli_error("%u:%u: %s", pos.line, pos.col, err.msg);
		return KS_EXIT_USAGE;
	}
	ks_cel_ctx *ctx = ks_cel_ctx_new();
	ks_cel_value r = ks_cel_eval(ctx, prog, v->vals, v->n);
	int rc = KS_EXIT_OK;
	if (r.kind == KS_CEL_ERROR) {
		unsigned col = ks_cel_error_col(&r);
		if (col)
			ks_cli_error("evaluation error at column %u: %s", col,
				     ks_cel_error_message(&r));
		else
			ks_cli_error("evaluation error: %s",
				     ks_cel_error_message(&r));
		rc = KS_EXIT_FINDINGS;
	} else {
		ks_buf b;
		ks_buf_init(&b, 0);
		ks_cel_value_to_json(&b, &r);
		fwrite(b.data, 1, b.len, stdout);
		fputc('\n', stdout);
		ks_buf_release(&b);
	}
	ks_cel_ctx_free(ctx);
	ks_cel_program_free(prog);
	return rc;
}

int ks_cmd_eval(int argc, char **argv)
{
	eval_vars v = {0};
	const char *expr = NULL;
	int rc = KS_EXIT_USAGE, rest = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!rest && !strcmp(a, "--")) {
			rest = 1;
		} else if (!rest && !strcmp(a, "--var")) {
			if (i + 1 >= argc) {
				ks_cli_error("flag --var needs a value");
				goto out;
			}
			if (add_var(&v, argv[++i]))
				goto out;
		} else if (!rest && !strncmp(a, "--var=", 6)) {
			if (add_var(&v, a + 6))
				goto out;
		} else if (!rest && a[0] == '-' && a[1] == '-' && !expr) {
			ks_cli_error(
				"unknown flag %s; run 'kusync eval --help'", a);
			goto out;
		} else if (!expr) {
			expr = a;
		} else {
			ks_cli_error("one expression only (quote it); run "
				     "'kusync eval --help'");
			goto out;
		}
	}
	if (!expr) {
		fputs(ks_usage_eval, stderr);
		goto out;
	}
	rc = run(expr, &v);
out:
	for (size_t i = 0; i < v.n; i++) {
		free(v.names[i]);
		json_decref(v.vals[i]);
	}
	return rc;
}
