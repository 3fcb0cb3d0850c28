#include "agent/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/cmd_sync.h"
#include "core/error.h"
#include "core/json.h"
#include "core/mem.h"
#include "sync/sync.h"
#include "core/banned.h"

const char ks_usage_drift[] =
	"usage: kusync drift [--kubeconfig FILE] [--context NAME] "
	"[-w WORKSPACE]\n"
	"                    [-o text|json] STACK_DIR...\n"
	"\n"
	"Compares what is live in the cluster with what the stack folders "
	"render to:\nfields kusync sets that differ (modified), objects "
	"missing, and orphans\n(objects of these stacks' apps that the Spec "
	"no longer has). Server defaults,\nstatus and fields other managers "
	"own are not drift; Secret values are shown\nonly as hashes.\n"
	"\n"
	"  --kubeconfig FILE      else $KUBECONFIG, ~/.kube/config, "
	"in-cluster\n"
	"  --context NAME         a kubeconfig context other than the current "
	"one\n"
	"  -w, --workspace FILE   platform defaults (the workspace)\n"
	"  -o, --output FORMAT    text (default: one aligned line per field) "
	"or json\n"
	"\n"
	"Exit codes: 0 no drift, 1 drift, 2 invalid input, 3 cluster "
	"unreachable or\nrefused.\n";

int ks_cmd_drift(int argc, char **argv)
{
	ks_sync_cli o = {.command = "drift"};
	int rc = ks_sync_cli_parse(&o, argc, argv, KS_SYNCFLAG_OUTPUT);
	if (rc < 0)
		rc = ks_sync_cli_plan(&o);
	if (rc >= 0) {
		ks_sync_cli_release(&o);
		return rc;
	}
	char now[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *d = ks_sync_drift_json(o.plan, now);
	ks_buf b;
	ks_buf_init(&b, 0);
	if (!strcmp(o.output, "json")) {
		json_t *apps = json_object_get(d, "apps");
		/* one app: its report; several: {"apps": [...]} */
		ks_json_pretty(&b, json_array_size(apps) == 1
					   ? json_array_get(apps, 0)
					   : d);
	} else {
		ks_sync_drift_text(&b, d);
	}
	rc = ks_sync_cli_write(&b);
	ks_buf_release(&b);
	if (rc < 0)
		rc = ks_sync_drift_count(d) ? KS_EXIT_FINDINGS : KS_EXIT_OK;
	json_decref(d);
	ks_sync_cli_release(&o);
	return rc;
}
