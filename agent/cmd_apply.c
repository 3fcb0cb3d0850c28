#include "agent/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cmd_sync.h"
#include "core/error.h"
#include "core/mem.h"
#include "sync/sync.h"
#include "core/banned.h"

const char ks_usage_apply[] =
	"usage: kusync apply [--kubeconfig FILE] [--context NAME] "
	"[-w WORKSPACE]\n"
	"                    [--prune] [--wait] [--timeout D] STACK_DIR...\n"
	"\n"
	"Renders the stacks and applies them to the cluster with server-side "
	"apply\n(field manager kusync), in dependsOn order. Secrets annotated "
	"kusync.io/generate:\npassword get a random password once, at "
	"creation.\n"
	"\n"
	"  --kubeconfig FILE      else $KUBECONFIG, ~/.kube/config, "
	"in-cluster\n"
	"  --context NAME         a kubeconfig context other than the current "
	"one\n"
	"  -w, --workspace FILE   platform defaults (the workspace)\n"
	"  --prune                delete objects of these stacks' apps that "
	"the Spec no\n"
	"                         longer has (never Namespaces, never objects "
	"annotated\n"
	"                         kusync.io/prune: \"false\")\n"
	"  --wait                 wait until every applied resource is "
	"healthy\n"
	"  --timeout D            how long --wait waits (default 5m)\n"
	"\n"
	"A failure names the object and the API server's message; what "
	"depends on it is\nskipped, independent resources are still applied, "
	"and running apply again\nconverges. Exit codes: 0 applied (and "
	"healthy with --wait), 1 some resource\nfailed or is not healthy, 2 "
	"invalid input, 3 cluster unreachable or refused.\n";

int ks_cmd_apply(int argc, char **argv)
{
	ks_sync_cli o = {.command = "apply"};
	int rc = ks_sync_cli_parse(&o, argc, argv,
				   KS_SYNCFLAG_PRUNE | KS_SYNCFLAG_WAIT);
	if (rc < 0)
		rc = ks_sync_cli_plan(&o);
	if (rc >= 0) {
		ks_sync_cli_release(&o);
		return rc;
	}
	ks_sync_apply_opts ao = {
		.parallel = 4,
		.wait = o.wait,
		.timeout_ms = o.timeout_ms,
		.progress = isatty(2) ? stderr : NULL,
	};
	json_t *report = NULL;
	ks_error err;
	int arc = ks_sync_apply(o.client, o.plan, &ao, &report, &err);
	size_t counts[4] = {0}; /* created, updated, deleted, unchanged */
	ks_buf b;
	ks_buf_init(&b, 0);
	size_t i;
	const json_t *e;
	json_array_foreach(report, i, e)
	{
		const char *res =
			json_string_value(json_object_get(e, "result"));
		const char *act =
			json_string_value(json_object_get(e, "action"));
		const char *msg =
			json_string_value(json_object_get(e, "message"));
		if (msg)
			ks_cli_error("%s", msg);
		if (!strcmp(act, "create") && strcmp(res, "failed") &&
		    strcmp(res, "skipped"))
			counts[0]++;
		else if (!strcmp(act, "update") && strcmp(res, "failed") &&
			 strcmp(res, "skipped"))
			counts[1]++;
		else if (!strcmp(res, "deleted"))
			counts[2]++;
		else if (!strcmp(act, "unchanged"))
			counts[3]++;
		/* an unchanged resource is listed only when its health says
		 * something (--wait): degraded, not healthy in time */
		if (strcmp(act, "unchanged") ||
		    (strcmp(res, "unchanged") && strcmp(res, "healthy")))
			ks_buf_printf(
				&b, "%-9s %s\n", res,
				json_string_value(json_object_get(e, "id")));
	}
	ks_buf_printf(&b,
		      "apply: %zu created, %zu updated, %zu deleted, %zu "
		      "unchanged\n",
		      counts[0], counts[1], counts[2], counts[3]);
	rc = ks_sync_cli_write(&b);
	ks_buf_release(&b);
	json_decref(report);
	if (rc < 0) {
		if (!arc)
			rc = KS_EXIT_OK;
		else if (arc == KS_EENV)
			rc = KS_EXIT_ENV;
		else
			rc = KS_EXIT_FINDINGS;
		if (arc)
			ks_cli_error("%s", err.msg);
	}
	ks_sync_cli_release(&o);
	return rc;
}
