/*
 * The kusync command line. Each command is a function in agent/cmd_*.c
 * registered in the table in agent/cli.c.
 *
 * Exit codes (spec/agent.md): 0 ok, 1 findings, 2 invalid input or usage,
 * 3 environment failure.
 */
#ifndef KS_AGENT_CLI_H
#define KS_AGENT_CLI_H

enum {
	KS_EXIT_OK = 0,
	KS_EXIT_FINDINGS = 1,
	KS_EXIT_USAGE = 2,
	KS_EXIT_ENV = 3,
};

typedef struct ks_command {
	const char *name;
	const char *summary; /* one line for `kusync help` */
	const char *usage;   /* the full --help text */
	int (*run)(int argc, char **argv);
} ks_command;

int ks_cli_main(int argc, char **argv);

/* Prints "kusync: <message>" to stderr. */
void ks_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The value of the flag at argv[*i] when it is SHORT (may be NULL) or LONG,
 * given as "-o X", "--output X" or "--output=X"; advances *i past a separate
 * value. NULL when argv[*i] is another flag, or (with *missing set) when the
 * value is missing.
 */
const char *ks_cli_flag_value(int argc, char **argv, int *i, const char *s,
			      const char *l, int *missing);

/* True when argv holds -h or --help before a "--". */
int ks_cli_wants_help(int argc, char **argv);

int ks_cmd_render(int argc, char **argv);
int ks_cmd_version(int argc, char **argv);
int ks_cmd_devcluster(int argc, char **argv);
int ks_cmd_eval(int argc, char **argv);
int ks_cmd_check(int argc, char **argv);

extern const char ks_usage_render[];
extern const char ks_usage_devcluster[];
extern const char ks_usage_eval[];
extern const char ks_usage_check[];

int ks_cmd_preview(int argc, char **argv);
int ks_cmd_apply(int argc, char **argv);
int ks_cmd_drift(int argc, char **argv);
extern const char ks_usage_preview[];
extern const char ks_usage_apply[];
extern const char ks_usage_drift[];

int ks_cmd_agent(int argc, char **argv);
extern const char ks_usage_agent[];

/* The agent's client commands (agent/cmd_client.c). */
int ks_cmd_status(int argc, char **argv);
int ks_cmd_approve(int argc, char **argv);
int ks_cmd_rollback(int argc, char **argv);
int ks_cmd_sync(int argc, char **argv);
int ks_cmd_suspend(int argc, char **argv);
int ks_cmd_resume(int argc, char **argv);
extern const char ks_usage_status[];
extern const char ks_usage_approve[];
extern const char ks_usage_rollback[];
extern const char ks_usage_sync[];
extern const char ks_usage_suspend[];
extern const char ks_usage_resume[];

#endif
