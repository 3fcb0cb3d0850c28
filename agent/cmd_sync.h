/*
 * What `kusync preview`, `kusync apply` and `kusync drift` share: their
 * flags, rendering the stacks, reaching the cluster and planning. Private
 * to agent/cmd_preview.c, cmd_apply.c and cmd_drift.c.
 */
#ifndef KS_AGENT_CMD_SYNC_H
#define KS_AGENT_CMD_SYNC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sync/kube.h"
#include "sync/plan.h"

enum {
	KS_SYNCFLAG_OUTPUT = 1 << 0,
	KS_SYNCFLAG_PRUNE = 1 << 1,
	KS_SYNCFLAG_WAIT = 1 << 2,     /* --wait and --timeout */
	KS_SYNCFLAG_POLICIES = 1 << 3, /* --skip-policies */
};

typedef struct ks_sync_cli {
	const char *command; /* "preview", ... for messages */
	const char *kubeconfig;
	const char *context;
	const char *workspace;
	const char *output; /* "text" or "json" */
	bool prune;
	bool wait;
	bool skip_policies;
	int64_t timeout_ms;
	const char **dirs;
	size_t ndirs;
	/* filled by ks_sync_cli_plan */
	json_t *spec;
	ks_kube_client *client;
	ks_sync_plan *plan;
} ks_sync_cli;

/* Parses the flags ALLOWED permits. Returns -1 to go on, or an exit code
 * (usage errors are reported). */
int ks_sync_cli_parse(ks_sync_cli *o, int argc, char **argv, unsigned allowed);

/* Renders, connects and plans (with o->prune). Returns -1 to go on, or an
 * exit code after reporting the error. */
int ks_sync_cli_plan(ks_sync_cli *o);

/* Frees what parse and plan made. */
void ks_sync_cli_release(ks_sync_cli *o);

/* Writes BUF to stdout; KS_EXIT_ENV when that fails, else -1. */
int ks_sync_cli_write(const ks_buf *b);

#endif
