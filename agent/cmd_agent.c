/* `kusync agent -c FILE`: the long-running GitOps agent (agent/daemon.c). */
#include "agent/cli.h"

#include <stdio.h>

#include "core/banned.h"

const char ks_usage_agent[] =
	"usage: kusync agent -c AGENT_CONFIG [--log-format text|json] "
	"[--log-level error|warn|info|debug]\n"
	"\n"
	"Runs the agent: follows the configured Git sources, reconciles their "
	"apps\ninto the cluster, serves webhooks, the HTTP API, metrics and "
	"the dashboard.\n";

int ks_cmd_agent(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ks_cli_error("agent: not built yet");
	return KS_EXIT_ENV;
}
