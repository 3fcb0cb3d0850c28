#include "agent/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/cmd_sync.h"
#include "core/error.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/values.h"
#include "render/render.h"
#include "sync/sync.h"
#include "core/banned.h"

const char ks_usage_preview[] =
	"usage: kusync preview [--kubeconfig FILE] [--context NAME] "
	"[-w WORKSPACE]\n"
	"                      [-o text|json] [--prune] STACK_DIR...\n"
	"\n"
	"Shows what 'kusync apply' would change in the cluster: per resource "
	"create,\nupdate (with the fields: live -> desired), delete or "
	"unchanged. Only the\nfields kusync sets are compared.\n"
	"\n"
	"  --kubeconfig FILE      else $KUBECONFIG, ~/.kube/config, "
	"in-cluster\n"
	"  --context NAME         a kubeconfig context other than the current "
	"one\n"
	"  -w, --workspace FILE   platform defaults (the workspace)\n"
	"  -o, --output FORMAT    text (default) or json\n"
	"  --prune                show the deletions 'apply --prune' would "
	"make\n"
	"\n"
	"Exit codes: 0 no changes, 1 changes, 2 invalid input, 3 cluster "
	"unreachable\nor refused.\n";

int ks_sync_cli_parse(ks_sync_cli *o, int argc, char **argv, unsigned allowed)
{
	o->output = "text";
	o->dirs = ks_xcalloc((size_t)argc + 1, sizeof(*o->dirs));
	for (int i = 1; i < argc; i++) {
		int missing = 0;
		const char *v;
		const char *arg = argv[i];
		if ((v = ks_cli_flag_value(argc, argv, &i, NULL, "--kubeconfig",
					   &missing))) {
			o->kubeconfig = v;
		} else if (!missing &&
			   (v = ks_cli_flag_value(argc, argv, &i, NULL,
						  "--context", &missing))) {
			o->context = v;
		} else if (!missing &&
			   (v = ks_cli_flag_value(argc, argv, &i, "-w",
						  "--workspace", &missing))) {
			o->workspace = v;
		} else if (!missing && (allowed & KS_SYNCFLAG_OUTPUT) &&
			   (v = ks_cli_flag_value(argc, argv, &i, "-o",
						  "--output", &missing))) {
			if (strcmp(v, "text") && strcmp(v, "json")) {
				ks_cli_error("unknown output format \"%s\" "
					     "(want text or json)",
					     v);
				return KS_EXIT_USAGE;
			}
			o->output = v;
		} else if (!missing && (allowed & KS_SYNCFLAG_WAIT) &&
			   (v = ks_cli_flag_value(argc, argv, &i, NULL,
						  "--timeout", &missing))) {
			if (ks_duration_parse(v, &o->timeout_ms)) {
				ks_cli_error("--timeout: \"%s\" is not a "
					     "duration (like 90s, 5m)",
					     v);
				return KS_EXIT_USAGE;
			}
		} else if (missing) {
			ks_cli_error("flag %s needs a value", arg);
			return KS_EXIT_USAGE;
		} else if ((allowed & KS_SYNCFLAG_PRUNE) &&
			   !strcmp(arg, "--prune")) {
			o->prune = true;
		} else if ((allowed & KS_SYNCFLAG_WAIT) &&
			   !strcmp(arg, "--wait")) {
			o->wait = true;
		} else if ((allowed & KS_SYNCFLAG_POLICIES) &&
			   !strcmp(arg, "--skip-policies")) {
			o->skip_policies = true;
		} else if (!strcmp(arg, "--")) {
			for (i++; i < argc; i++)
				o->dirs[o->ndirs++] = argv[i];
		} else if (arg[0] == '-' && arg[1]) {
			ks_cli_error("unknown flag %s; run 'kusync %s --help'",
				     arg, o->command);
			return KS_EXIT_USAGE;
		} else {
			o->dirs[o->ndirs++] = arg;
		}
	}
	if (!o->ndirs) {
		ks_cli_error("no stack folder given; run 'kusync %s --help'",
			     o->command);
		return KS_EXIT_USAGE;
	}
	return -1;
}

static int exit_for(int rc)
{
	return rc == KS_EINVAL ? KS_EXIT_USAGE : KS_EXIT_ENV;
}

int ks_sync_cli_plan(ks_sync_cli *o)
{
	ks_errlist *errs = ks_errlist_new();
	if (ks_render_dirs(&o->spec, o->dirs, o->ndirs, o->workspace, errs) <
		    0 ||
	    ks_errlist_count(errs)) {
		ks_errlist_print(errs, stderr, KS_ERRLIST_LIMIT);
		ks_errlist_free(errs);
		return KS_EXIT_USAGE;
	}
	ks_errlist_free(errs);
	ks_error err;
	ks_kube_config *cfg = NULL;
	int rc = ks_kube_config_load(&cfg, o->kubeconfig, o->context, &err);
	if (rc) {
		ks_cli_error("%s", err.msg);
		return KS_EXIT_ENV;
	}
	rc = ks_kube_client_new(&o->client, cfg, NULL, &err);
	ks_kube_config_free(cfg);
	if (rc) {
		ks_cli_error("%s", err.msg);
		return KS_EXIT_ENV;
	}
	rc = ks_sync_plan_scope(&o->plan, o->spec, &err);
	if (rc) {
		ks_cli_error("%s", err.msg);
		return KS_EXIT_USAGE;
	}
	json_t *live = NULL;
	rc = ks_sync_fetch_live(o->client, o->plan, o->spec, &live, &err);
	if (rc) {
		ks_cli_error("%s", err.msg);
		return KS_EXIT_ENV;
	}
	ks_sync_plan_opts po = {.prune = o->prune};
	rc = ks_sync_plan_build(o->plan, o->spec, live, &po, &err);
	json_decref(live);
	if (rc) {
		ks_cli_error("%s", err.msg);
		return exit_for(rc);
	}
	return -1;
}

void ks_sync_cli_release(ks_sync_cli *o)
{
	ks_sync_plan_free(o->plan);
	ks_kube_client_free(o->client);
	json_decref(o->spec);
	free(o->dirs);
}

int ks_sync_cli_write(const ks_buf *b)
{
	if (b->len &&
	    (fwrite(b->data, 1, b->len, stdout) != b->len || fflush(stdout))) {
		ks_cli_error("writing the output failed");
		return KS_EXIT_ENV;
	}
	return -1;
}

int ks_cmd_preview(int argc, char **argv)
{
	ks_sync_cli o = {.command = "preview"};
	int rc = ks_sync_cli_parse(&o, argc, argv,
				   KS_SYNCFLAG_OUTPUT | KS_SYNCFLAG_PRUNE);
	if (rc < 0)
		rc = ks_sync_cli_plan(&o);
	if (rc < 0) {
		ks_buf b;
		ks_buf_init(&b, 0);
		if (!strcmp(o.output, "json")) {
			json_t *j = ks_sync_plan_json(o.plan);
			ks_json_pretty(&b, j);
			json_decref(j);
		} else {
			ks_sync_plan_text(&b, o.plan);
		}
		rc = ks_sync_cli_write(&b);
		ks_buf_release(&b);
		if (rc < 0)
			rc = ks_sync_plan_has_changes(o.plan) ? KS_EXIT_FINDINGS
							      : KS_EXIT_OK;
	}
	ks_sync_cli_release(&o);
	return rc;
}
