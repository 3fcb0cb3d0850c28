#include "agent/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/cmd_sync.h"
#include "core/error.h"
#include "core/mem.h"
#include "sync/sync.h"
#ifdef KS_HAVE_POLICIES
#include "policies/policy.h"
#endif
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
	"  --skip-policies        apply even when an app's mandatory policy "
	"sets fail\n"
	"\n"
	"A failure names the object and the API server's message; what "
	"depends on it is\nskipped, independent resources are still applied, "
	"and running apply again\nconverges. Exit codes: 0 applied (and "
	"healthy with --wait), 1 some resource\nfailed or is not healthy, 2 "
	"invalid input, 3 cluster unreachable or refused.\n";

/* Runs the apps' policy sets (the built-in ones) over the Spec: advisory
 * violations are printed, mandatory ones refuse the apply unless SKIP.
 * Returns -1 to go on, or an exit code. */
static int check_policies(const json_t *spec, bool skip)
{
#ifdef KS_HAVE_POLICIES
	ks_policy_registry *reg = ks_policy_registry_new();
	ks_errlist *errs = ks_errlist_new();
	ks_policy_report rep;
	ks_policy_report_init(&rep);
	int rc = -1;
	if (ks_policy_load_builtin(reg, errs) ||
	    ks_policy_check_spec(reg, spec, &rep, errs) ||
	    ks_errlist_count(errs)) {
		ks_errlist_print(errs, stderr, KS_ERRLIST_LIMIT);
		rc = KS_EXIT_USAGE;
		goto out;
	}
	if (rep.n) {
		ks_buf b;
		ks_buf_init(&b, 0);
		ks_policy_report_text(&b, &rep);
		fputs(b.data ? b.data : "", stderr);
		ks_buf_release(&b);
	}
	if (ks_policy_report_blocks(&rep)) {
		if (skip) {
			ks_cli_error("mandatory policy violations ignored "
				     "(--skip-policies)");
		} else {
			ks_cli_error("apply refused: mandatory policy "
				     "violations (--skip-policies applies "
				     "anyway)");
			rc = KS_EXIT_FINDINGS;
		}
	}
out:
	ks_policy_report_release(&rep);
	ks_errlist_free(errs);
	ks_policy_registry_free(reg);
	return rc;
#else
	(void)spec;
	(void)skip;
	return -1;
#endif
}

int ks_cmd_apply(int argc, char **argv)
{
	ks_sync_cli o = {.command = "apply"};
	int rc = ks_sync_cli_parse(&o, argc, argv,
				   KS_SYNCFLAG_PRUNE | KS_SYNCFLAG_WAIT |
					   KS_SYNCFLAG_POLICIES);
	if (rc < 0)
		rc = ks_sync_cli_plan(&o);
	if (rc < 0)
		rc = check_policies(o.spec, o.skip_policies);
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
	unsigned long retries = ks_kube_client_retries(o.client);
	if (retries)
		ks_buf_printf(&b,
			      "apply: %lu request%s retried (429, 5xx or "
			      "connection errors)\n",
			      retries, retries == 1 ? "" : "s");
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
