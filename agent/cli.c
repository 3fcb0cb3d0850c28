#include "agent/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agent/gitsrc.h"
#include "core/banned.h"

static const char usage_version[] = "usage: kusync version\n"
				    "\n"
				    "Prints the version of kusync.\n";

static int cmd_help(int argc, char **argv);

static const char usage_help[] = "usage: kusync help [COMMAND]\n"
				 "\n"
				 "Lists the commands, or shows one command's "
				 "usage.\n";

static const ks_command commands[] = {
	{"render", "render AppConfigurations into Kubernetes objects",
	 ks_usage_render, ks_cmd_render},
#ifdef KS_HAVE_POLICIES
	{"eval", "evaluate one CEL expression", ks_usage_eval, ks_cmd_eval},
	{"check", "run policy sets on rendered apps or manifests",
	 ks_usage_check, ks_cmd_check},
#endif
#ifdef KS_HAVE_SYNC
	{"preview", "show what apply would change in the cluster",
	 ks_usage_preview, ks_cmd_preview},
	{"apply", "apply stacks to the cluster (server-side apply)",
	 ks_usage_apply, ks_cmd_apply},
	{"drift", "compare the cluster with what the stacks render to",
	 ks_usage_drift, ks_cmd_drift},
	{"agent", "run the GitOps agent (sources, webhooks, API, drift)",
	 ks_usage_agent, ks_cmd_agent},
	{"status", "show the agent's apps and releases", ks_usage_status,
	 ks_cmd_status},
	{"approve", "approve a release awaiting approval", ks_usage_approve,
	 ks_cmd_approve},
	{"rollback", "roll an app back to an earlier release",
	 ks_usage_rollback, ks_cmd_rollback},
	{"sync", "make the agent reconcile an app now", ks_usage_sync,
	 ks_cmd_sync},
	{"suspend", "stop reconciling an app", ks_usage_suspend,
	 ks_cmd_suspend},
	{"resume", "resume reconciling an app", ks_usage_resume, ks_cmd_resume},
#endif
#ifdef KS_HAVE_DEVCLUSTER
	{"devcluster", "run a local Kubernetes API server for trying kusync",
	 ks_usage_devcluster, ks_cmd_devcluster},
#endif
	{"version", "print the version", usage_version, ks_cmd_version},
	{"help", "list commands or show a command's usage", usage_help,
	 cmd_help},
	/* Hidden (a name starting with "__"): internal helpers. */
	{"__git-fetch", "", "", ks_cmd_git_fetch},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

void ks_cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("kusync: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *ks_cli_flag_value(int argc, char **argv, int *i, const char *s,
			      const char *l, int *missing)
{
	const char *arg = argv[*i];
	size_t ll = strlen(l);
	if (!strncmp(arg, l, ll) && arg[ll] == '=')
		return arg + ll + 1;
	if ((!s || strcmp(arg, s)) && strcmp(arg, l))
		return NULL;
	if (*i + 1 >= argc) {
		*missing = 1;
		return NULL;
	}
	return argv[++*i];
}

int ks_cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return 0;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return 1;
	}
	return 0;
}

static const ks_command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void print_overview(FILE *fp)
{
	fputs("usage: kusync <command> [flags]\n\n"
	      "kusync renders KusionStack AppConfigurations kept in Git into "
	      "Kubernetes objects\nand keeps a cluster in agreement with "
	      "them.\n\nCommands:\n",
	      fp);
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strncmp(commands[i].name, "__", 2))
			fprintf(fp, "  %-12s %s\n", commands[i].name,
				commands[i].summary);
	fputs("\nRun 'kusync help COMMAND' or 'kusync COMMAND --help' for a "
	      "command's flags.\n",
	      fp);
}

static int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		print_overview(stdout);
		return KS_EXIT_OK;
	}
	const char *name = argv[1];
	if (!strcmp(name, "-h") || !strcmp(name, "--help"))
		name = "help";
	const ks_command *c = find_command(name);
	if (!c) {
		ks_cli_error("unknown command \"%s\"; run 'kusync help'", name);
		return KS_EXIT_USAGE;
	}
	fputs(c->usage, stdout);
	return KS_EXIT_OK;
}

int ks_cmd_version(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fputs(usage_version, stderr);
		return KS_EXIT_USAGE;
	}
	printf("kusync %s\n", KS_VERSION);
	return KS_EXIT_OK;
}

int ks_cli_main(int argc, char **argv)
{
	if (argc < 2) {
		print_overview(stderr);
		return KS_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
		print_overview(stdout);
		return KS_EXIT_OK;
	}
	if (!strcmp(name, "--version"))
		name = "version";
	const ks_command *c = find_command(name);
	if (!c) {
		ks_cli_error("unknown command \"%s\"; run 'kusync help'", name);
		return KS_EXIT_USAGE;
	}
	if (c->run != cmd_help && ks_cli_wants_help(argc - 1, argv + 1)) {
		fputs(c->usage, stdout);
		return KS_EXIT_OK;
	}
	return c->run(argc - 1, argv + 1);
}
