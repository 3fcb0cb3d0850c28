/* `kusync agent -c FILE`: the long-running GitOps agent (agent/daemon.c). */
#include "agent/cli.h"

#include <stdio.h>
#include <string.h>

#include "agent/config.h"
#include "agent/daemon.h"
#include "core/error.h"
#include "core/log.h"

#include "core/banned.h"

const char ks_usage_agent[] =
	"usage: kusync agent -c AGENT_CONFIG [--log-format text|json] "
	"[--log-level error|warn|info|debug]\n"
	"\n"
	"Runs the agent: follows the configured Git sources, reconciles their "
	"apps\ninto the cluster, serves webhooks, the HTTP API, metrics and "
	"the dashboard.\nStops cleanly on SIGTERM or SIGINT.\n"
	"\n"
	"  -c, --config FILE   the agent configuration (docs/agent.md)\n"
	"  --log-format F      text (default) or json lines, on stderr\n"
	"  --log-level L       error, warn, info (default) or debug\n"
	"\n"
	"Exit codes: 0 after a clean shutdown, 2 for an invalid configuration "
	"(or\ntwo sources defining one app at start), 3 when the cluster, the "
	"state or the\nlisten address cannot be used.\n";

static int parse_level(const char *s, enum ks_log_level *out)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i])) {
			*out = (enum ks_log_level)i;
			return 0;
		}
	return -1;
}

int ks_cmd_agent(int argc, char **argv)
{
	const char *config = NULL;
	ks_logger log = {KS_LOG_INFO, 0, stderr};
	for (int i = 1; i < argc; i++) {
		int missing = 0;
		const char *v;
		if ((v = ks_cli_flag_value(argc, argv, &i, "-c", "--config",
					   &missing))) {
			config = v;
		} else if ((v = ks_cli_flag_value(argc, argv, &i, NULL,
						  "--log-format", &missing))) {
			if (strcmp(v, "text") && strcmp(v, "json")) {
				ks_cli_error("agent: --log-format must be text "
					     "or json, not \"%s\"",
					     v);
				return KS_EXIT_USAGE;
			}
			log.json = !strcmp(v, "json");
		} else if ((v = ks_cli_flag_value(argc, argv, &i, NULL,
						  "--log-level", &missing))) {
			if (parse_level(v, &log.level)) {
				ks_cli_error("agent: --log-level must be "
					     "error, warn, info or debug, not "
					     "\"%s\"",
					     v);
				return KS_EXIT_USAGE;
			}
		} else if (missing) {
			ks_cli_error("agent: %s needs a value", argv[i]);
			return KS_EXIT_USAGE;
		} else {
			ks_cli_error("agent: unexpected argument \"%s\"",
				     argv[i]);
			fputs(ks_usage_agent, stderr);
			return KS_EXIT_USAGE;
		}
	}
	if (!config) {
		ks_cli_error("agent: -c AGENT_CONFIG is required");
		fputs(ks_usage_agent, stderr);
		return KS_EXIT_USAGE;
	}
	ks_agent_config *cfg = NULL;
	ks_errlist *errs = ks_errlist_new();
	if (ks_agent_config_load(&cfg, config, errs)) {
		ks_errlist_print(errs, stderr, KS_ERRLIST_LIMIT);
		if (!ks_errlist_count(errs))
			ks_cli_error("agent: cannot load \"%s\"", config);
		ks_errlist_free(errs);
		return KS_EXIT_USAGE;
	}
	ks_errlist_free(errs);
	return ks_daemon_run(cfg, &log);
}
