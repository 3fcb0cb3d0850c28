/*
 * The agent's configuration file (spec/agent.md § Agent configuration):
 * loaded once at start, validated completely, then immutable. Every
 * problem is reported with FILE:LINE:COL and the agent refuses to start
 * on any of them. Secrets are read from the files the config names; the
 * config itself never holds one, and no secret is ever part of a message.
 *
 * Relative paths in the file (workspace, policies, cacheDir, state.path,
 * tokenFile, passwordFile, sshKeyFile, knownHostsFile, secretFile,
 * kubeconfig) are resolved against the config file's folder; a leading
 * "~/" against $HOME.
 */
#ifndef KS_AGENT_CONFIG_H
#define KS_AGENT_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum ks_role {
	KS_ROLE_NONE = 0,
	KS_ROLE_VIEWER = 1,
	KS_ROLE_APPROVER = 2,
	KS_ROLE_ADMIN = 3,
} ks_role;

const char *ks_role_name(ks_role r);

typedef enum ks_webhook_provider {
	KS_WEBHOOK_NONE = 0, /* no webhook: POST /hooks/<source> gets 404 */
	KS_WEBHOOK_GITHUB,
	KS_WEBHOOK_GITLAB,
	KS_WEBHOOK_GITEA,
	KS_WEBHOOK_GENERIC,
} ks_webhook_provider;

const char *ks_webhook_provider_name(ks_webhook_provider p);

typedef struct ks_agent_token {
	char *name;
	char *token; /* the secret, read from tokenFile (trailing newline and
			spaces stripped; an empty file is an error) */
	ks_role role;
} ks_agent_token;

typedef struct ks_agent_source {
	char *name;   /* DNS-1123 label, unique */
	char *url;    /* https://, http://, ssh://, git://, file:// */
	char *ref;    /* default refs/heads/main */
	char **paths; /* stack folders inside the repository, at least one */
	size_t npaths;
	int64_t interval_ms;	  /* default 60 s; 0 = webhooks only */
	int64_t fetch_timeout_ms; /* default 60 s */
	/* credentials, all optional (NULL) */
	char *username;		/* default "git" for ssh, none for https */
	char *password;		/* from passwordFile or tokenFile */
	char *ssh_key_file;	/* resolved path */
	char *known_hosts_file; /* resolved path; required with ssh_key_file */
	ks_webhook_provider webhook;
	char *webhook_secret; /* from secretFile; required with a webhook */
	size_t webhook_secret_len;
	char **approvers; /* logins whose merge-request approvals count */
	size_t napprovers;
	char **namespaces; /* glob patterns (fnmatch), at least one */
	size_t nnamespaces;
	bool drift_heal;   /* drift.mode: heal (default report) */
	int64_t resync_ms; /* drift.resync, default 10 min */
	bool prune;	   /* default true */
	json_t *ignore;	   /* ignoreDifferences: array (maybe empty), as
			      sync/plan.h's ks_sync_plan_opts.ignore wants */
	unsigned line;	   /* where the source's entry starts */
} ks_agent_source;

typedef struct ks_agent_config {
	char *path;   /* the config file as given */
	char *listen; /* default 127.0.0.1:8080 */
	/* cluster */
	char *kubeconfig; /* NULL: $KUBECONFIG, ~/.kube/config (sync's
			     rules) */
	char *context;	  /* NULL: current context */
	bool in_cluster;
	double qps;	 /* default 50 */
	int burst;	 /* default 100 */
	char *workspace; /* resolved path or NULL */
	char **policies; /* resolved folders */
	size_t npolicies;
	char *cache_dir; /* default <state.path>/git (local state), else
			    /var/cache/kusync */
	/* state */
	bool state_kubernetes; /* backend: kubernetes (default local) */
	char *state_path;      /* default /var/lib/kusync */
	char *state_namespace; /* default kusync */
	int history_limit;     /* default 20, >= 1 */
	/* kusync's own choices (documented in docs/agent.md) */
	unsigned max_parallel_apps;    /* apps reconciled at once; default 4 */
	unsigned max_parallel_fetches; /* default 4 */
	ks_agent_token *tokens;
	size_t ntokens;
	ks_agent_source *sources;
	size_t nsources;
} ks_agent_config;

/*
 * Loads and validates PATH. On any problem every message goes to ERRS
 * ("FILE:LINE:COL: message": unknown keys with a did-you-mean, wrong
 * types, bad durations, names, URLs, duplicate source names and token
 * names, duplicate tokens, a secret given inline such as `password:` or
 * `token:` or `secret:` instead of the *File key, unreadable secret files
 * named by path only, a webhook without secretFile, sshKeyFile without
 * knownHostsFile, a source without namespaces or paths) and KS_EINVAL is
 * returned with *out untouched.
 */
int ks_agent_config_load(ks_agent_config **out, const char *path,
			 ks_errlist *errs);

void ks_agent_config_free(ks_agent_config *c);

/* The source named NAME, or NULL. */
const ks_agent_source *ks_agent_config_source(const ks_agent_config *c,
					      const char *name);

/* The role of bearer token TOKEN (constant-time comparison against every
 * configured token), KS_ROLE_NONE when it matches none. *NAME (may be
 * NULL) gets the token's configured name, borrowed. */
ks_role ks_agent_config_auth(const ks_agent_config *c, const char *token,
			     const char **name);

/* Whether namespace NS matches one of SRC's namespace globs. */
bool ks_agent_source_allows(const ks_agent_source *src, const char *ns);

#endif
