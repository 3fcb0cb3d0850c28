/*
 * Fuzzes the whole render of one in-memory stack: the input is the contents
 * of one AppConfiguration file. Render must either produce a Spec that
 * writes out in every format, or report errors; never crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "render/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char project[] = "name: fuzz\n";
	static const char stack[] = "name: dev\n";
	ks_render_file file = {"app.yaml", (const char *)data, size};
	ks_render_stack st = {
		.dir = "fuzz/dev",
		.files = &file,
		.nfiles = 1,
		.project_yaml = project,
		.project_yaml_len = sizeof(project) - 1,
		.stack_yaml = stack,
		.stack_yaml_len = sizeof(stack) - 1,
	};
	ks_render_opts opts = {0};
	ks_errlist *errs = ks_errlist_new();
	json_t *spec = NULL;
	if (ks_render(&spec, &st, 1, &opts, errs) == 0) {
		if (ks_errlist_count(errs))
			abort(); /* success with errors is a contract breach */
		for (int f = KS_OUT_SPEC; f <= KS_OUT_MANIFESTS; f++) {
			ks_buf b;
			ks_buf_init(&b, 0);
			ks_render_write(&b, spec, (enum ks_render_format)f);
			ks_buf_release(&b);
		}
		json_decref(spec);
	} else if (!ks_errlist_count(errs)) {
		abort(); /* a failure must say why */
	}
	ks_errlist_free(errs);
	return 0;
}
