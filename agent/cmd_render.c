#include "agent/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "render/render.h"
#include "core/banned.h"

const char ks_usage_render[] =
	"usage: kusync render [-w WORKSPACE] [-o spec|json|manifests] "
	"STACK_DIR...\n"
	"\n"
	"Renders the AppConfigurations of each stack folder into Kubernetes "
	"objects.\n"
	"\n"
	"  -w, --workspace FILE   platform defaults (the workspace)\n"
	"  -o, --output FORMAT    spec (YAML, default), json, or manifests (a "
	"YAML stream\n"
	"                         of plain objects for kubectl apply -f -)\n"
	"\n"
	"Errors are printed as FILE:LINE:COL: message (at most 50), with exit "
	"code 2\nand nothing on standard output.\n";

int ks_cmd_render(int argc, char **argv)
{
	const char *workspace = NULL, *output = "spec";
	const char **dirs = ks_xcalloc((size_t)argc, sizeof(*dirs));
	size_t ndirs = 0;
	int rc = KS_EXIT_USAGE;

	for (int i = 1; i < argc; i++) {
		int missing = 0;
		const char *v;
		if ((v = ks_cli_flag_value(argc, argv, &i, "-w", "--workspace",
					   &missing))) {
			workspace = v;
		} else if ((v = ks_cli_flag_value(argc, argv, &i, "-o",
						  "--output", &missing))) {
			output = v;
		} else if (missing) {
			ks_cli_error("flag %s needs a value", argv[i]);
			goto out;
		} else if (!strcmp(argv[i], "--")) {
			for (i++; i < argc; i++)
				dirs[ndirs++] = argv[i];
		} else if (argv[i][0] == '-' && argv[i][1]) {
			ks_cli_error("unknown flag %s; run 'kusync render "
				     "--help'",
				     argv[i]);
			goto out;
		} else {
			dirs[ndirs++] = argv[i];
		}
	}

	enum ks_render_format fmt;
	if (!strcmp(output, "spec") || !strcmp(output, "yaml"))
		fmt = KS_OUT_SPEC;
	else if (!strcmp(output, "json"))
		fmt = KS_OUT_JSON;
	else if (!strcmp(output, "manifests"))
		fmt = KS_OUT_MANIFESTS;
	else {
		ks_cli_error("unknown output format \"%s\" (want spec, json "
			     "or manifests)",
			     output);
		goto out;
	}
	if (!ndirs) {
		ks_cli_error("no stack folder given; run 'kusync render "
			     "--help'");
		goto out;
	}

	ks_errlist *errs = ks_errlist_new();
	json_t *spec = NULL;
	if (ks_render_dirs(&spec, dirs, ndirs, workspace, errs) < 0 ||
	    ks_errlist_count(errs)) {
		ks_errlist_print(errs, stderr, KS_ERRLIST_LIMIT);
		ks_errlist_free(errs);
		json_decref(spec);
		goto out;
	}
	ks_errlist_free(errs);

	ks_buf b;
	ks_buf_init(&b, 0);
	ks_render_write(&b, spec, fmt);
	json_decref(spec);
	if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout)) {
		ks_cli_error("writing the output failed");
		ks_buf_release(&b);
		rc = KS_EXIT_ENV;
		goto out;
	}
	ks_buf_release(&b);
	rc = KS_EXIT_OK;
out:
	free(dirs);
	return rc;
}
