/*
 * Fuzzes the CEL compiler and evaluator: the input is an expression over
 * the variables object, app and resources (fixed small JSON values). It
 * must compile or report an error with a position, and evaluate to a value
 * or an error value within the cost budget; never crash, hang or leak.
 * An input that starts with "apiVersion" is a PolicySet file instead: it
 * loads or gives errors, and a loaded set runs over the object.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "policies/cel.h"
#include "policies/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ks_cel_ctx *ctx;
	static json_t *vars[3];
	static const char *const names[] = {"object", "app", "resources"};
	if (!ctx) {
		ctx = ks_cel_ctx_new();
		ks_cel_ctx_set_limit(ctx, 100000);
		vars[0] = json_loads(
			"{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"w\","
			"\"labels\":{\"a\":\"b\"}},\"spec\":{\"replicas\":2,"
			"\"ratio\":0.5,\"list\":[1,\"x\",null,true,[]]}}",
			0, NULL);
		vars[1] =
			json_loads("{\"name\":\"app\",\"cells\":[]}", 0, NULL);
		vars[2] = json_loads("[{\"kind\":\"Service\"}]", 0, NULL);
	}
	if (size >= 10 && !memcmp(data, "apiVersion", 10)) {
		ks_policy_registry *r = ks_policy_registry_new();
		ks_errlist *errs = ks_errlist_new();
		if (ks_policy_load_buffer(r, "fuzz.yaml", (const char *)data,
					  size, 0, errs) == 0) {
			if (ks_errlist_count(errs))
				abort();
			const char *const *set_names = ks_policy_names(r);
			json_t *objs = json_pack("[O]", vars[0]);
			ks_policy_report rep;
			ks_policy_report_init(&rep);
			ks_policy_check_objects(ks_policy_find(r, set_names[0]),
						1, objs, vars[1], vars[2],
						&rep);
			ks_policy_report_release(&rep);
			json_decref(objs);
		} else if (!ks_errlist_count(errs)) {
			abort(); /* a failure always says why */
		}
		ks_errlist_free(errs);
		ks_policy_registry_free(r);
		return 0;
	}
	ks_cel_program *p = NULL;
	ks_cel_pos pos;
	ks_error err = {0};
	if (ks_cel_compile(&p, (const char *)data, size, names, 3, &pos,
			   &err)) {
		if (pos.line == 0 || pos.col == 0)
			abort(); /* every compile error has a position */
		return 0;
	}
	ks_cel_value v = ks_cel_eval(ctx, p, vars, 3);
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_cel_value_format(&b, &v);
	if (v.kind != KS_CEL_ERROR && ks_cel_value_to_json(&b, &v))
		abort();
	ks_buf_release(&b);
	json_decref(ks_cel_value_to_jansson(&v));
	ks_cel_program_free(p);
	return 0;
}
