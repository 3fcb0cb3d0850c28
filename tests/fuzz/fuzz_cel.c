/*
 * Fuzzes the CEL compiler and evaluator: the input is an expression over
 * the variables object, app and resources (fixed small JSON values). It
 * must compile or report an error with a position, and evaluate to a value
 * or an error value within the cost budget; never crash, hang or leak.
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/mem.h"
#include "policies/cel.h"

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
