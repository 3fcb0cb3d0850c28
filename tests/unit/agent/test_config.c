/* The agent's configuration: read back field by field, defaults, and every
 * malformed case named at its exact position, with no secret in any
 * message. */
#include "ks_test.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config.h"
#include "core/mem.h"

static char dir[64];
static char cfgpath[128];

/* The secrets the fixture files hold: none may appear in a message. */
static const char *const secrets[] = {
	"tok-alice-123",   "tok-bob-456",    "tok-carol-789",
	"hook-secret-xyz", "pw-very-secret", "hunter2",
};

static void write_at(const char *name, const char *content)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(content, fp);
	fclose(fp);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ks-agentcfg-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cfgpath, sizeof(cfgpath), "%s/agent.yaml", dir);
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/secrets", dir);
	mkdir(sub, 0700);
	snprintf(sub, sizeof(sub), "%s/policies", dir);
	mkdir(sub, 0700);
	write_at("alice.token", "tok-alice-123\n");
	write_at("secrets/bob.token", "tok-bob-456 \r\n\n");
	write_at("carol.token", "tok-carol-789");
	write_at("alice-again.token", "tok-alice-123\n\n");
	write_at("hook.secret", "hook-secret-xyz\n");
	write_at("pw.txt", "pw-very-secret\n");
	write_at("empty.token", " \n\n");
	write_at("spaced.token", "hunter2 and more\n");
	write_at("id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\n");
	write_at("known_hosts", "git.example.com ssh-ed25519 AAAA\n");
	write_at("workspace.yaml", "modules: {}\n");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Loads YAML from agent.yaml in the fixture folder; *ERRS is the list. */
static int load(const char *yaml, ks_agent_config **cfg, ks_errlist **errs)
{
	write_at("agent.yaml", yaml);
	*errs = ks_errlist_new();
	*cfg = NULL;
	int rc = ks_agent_config_load(cfg, cfgpath, *errs);
	ks_errlist_sort(*errs);
	for (size_t i = 0; i < ks_errlist_count(*errs); i++) {
		const char *line = ks_errlist_get(*errs, i);
		for (size_t s = 0; s < sizeof(secrets) / sizeof(*secrets); s++)
			if (strstr(line, secrets[s]))
				fail_msg("a secret in a message: %s", line);
	}
	return rc;
}

static void print_errs(const ks_errlist *errs)
{
	for (size_t i = 0; i < ks_errlist_count(errs); i++)
		fprintf(stderr, "  got: %s\n", ks_errlist_get(errs, i));
}

/* YAML must fail with an error "<file>:POS: FRAGMENT..." (FRAGMENT is the
 * start of the message); with ONLY, it must be the only error. */
static void expect_err(const char *yaml, const char *pos, const char *fragment,
		       bool only)
{
	ks_agent_config *cfg = NULL;
	ks_errlist *errs = NULL;
	int rc = load(yaml, &cfg, &errs);
	char want[1024];
	snprintf(want, sizeof(want), "%s%s%s: %s", cfgpath, *pos ? ":" : "",
		 pos, fragment);
	bool found = false;
	for (size_t i = 0; i < ks_errlist_count(errs); i++)
		if (!strncmp(ks_errlist_get(errs, i), want, strlen(want)))
			found = true;
	if (rc != KS_EINVAL || cfg || !found ||
	    (only && ks_errlist_count(errs) != 1)) {
		fprintf(stderr, "want: %s\n", want);
		print_errs(errs);
		ks_agent_config_free(cfg);
		ks_errlist_free(errs);
		fail_msg("expected error not reported as the only one");
	}
	ks_errlist_free(errs);
}

#define SOURCE_HEAD                                                            \
	"sources:\n"                                                           \
	"  - name: demo\n"                                                     \
	"    url: https://git.example.com/team/config.git\n"                   \
	"    paths: [demo/prod]\n"                                             \
	"    namespaces: [demo-*]\n"

static const char full_yaml[] =
	"listen: 0.0.0.0:9090\n"
	"cluster:\n"
	"  kubeconfig: kube/config\n"
	"  context: dev\n"
	"  qps: 20.5\n"
	"  burst: 40\n"
	"workspace: workspace.yaml\n"
	"policies: [policies]\n"
	"cacheDir: ./cache\n"
	"state:\n"
	"  backend: kubernetes\n"
	"  path: /srv/kusync\n"
	"  namespace: kusync-system\n"
	"  historyLimit: 5\n"
	"maxParallelApps: 2\n"
	"maxParallelFetches: 3\n"
	"auth:\n"
	"  tokens:\n"
	"    - {name: alice, tokenFile: alice.token, role: approver}\n"
	"    - name: bob\n"
	"      tokenFile: secrets/bob.token\n"
	"      role: admin\n"
	"    - {name: carol, tokenFile: carol.token}\n"
	"sources:\n"
	"  - name: demo\n"
	"    url: ssh://git.example.com/team/config.git\n"
	"    ref: refs/heads/release\n"
	"    paths: [demo/prod, demo/staging/]\n"
	"    interval: 0\n"
	"    fetchTimeout: 90s\n"
	"    credentials:\n"
	"      sshKeyFile: id_ed25519\n"
	"      knownHostsFile: known_hosts\n"
	"    webhook: {provider: gitlab, secretFile: hook.secret}\n"
	"    approvers: [alice-gh, bob-gh]\n"
	"    namespaces: [demo-*, shared]\n"
	"    drift: {mode: heal, resync: 30m}\n"
	"    prune: false\n"
	"    ignoreDifferences:\n"
	"      - {kind: Deployment, group: apps, jsonPointers: "
	"[/spec/replicas]}\n"
	"  - name: other\n"
	"    url: https://git.example.com/other.git\n"
	"    paths: [x]\n"
	"    namespaces: [other]\n"
	"    interval: 10m\n"
	"    credentials: {username: bot, tokenFile: pw.txt}\n"
	"    webhook: {provider: generic, secretFile: hook.secret}\n";

static char *in_dir(const char *name)
{
	return ks_xasprintf("%s/%s", dir, name);
}

static void assert_path(const char *got, const char *name)
{
	char *want = in_dir(name);
	assert_string_equal(got, want);
	free(want);
}

static void full_config_reads_back(void **state)
{
	(void)state;
	ks_agent_config *c;
	ks_errlist *errs;
	int rc = load(full_yaml, &c, &errs);
	if (rc)
		print_errs(errs);
	assert_int_equal(rc, 0);
	assert_int_equal(ks_errlist_count(errs), 0);
	ks_errlist_free(errs);
	assert_string_equal(c->path, cfgpath);
	assert_string_equal(c->listen, "0.0.0.0:9090");
	assert_path(c->kubeconfig, "kube/config");
	assert_string_equal(c->context, "dev");
	assert_false(c->in_cluster);
	assert_true(c->qps == 20.5);
	assert_int_equal(c->burst, 40);
	assert_path(c->workspace, "workspace.yaml");
	assert_int_equal(c->npolicies, 1);
	assert_path(c->policies[0], "policies");
	assert_path(c->cache_dir, "cache");
	assert_true(c->state_kubernetes);
	assert_string_equal(c->state_path, "/srv/kusync");
	assert_string_equal(c->state_namespace, "kusync-system");
	assert_int_equal(c->history_limit, 5);
	assert_int_equal(c->max_parallel_apps, 2);
	assert_int_equal(c->max_parallel_fetches, 3);

	assert_int_equal(c->ntokens, 3);
	assert_string_equal(c->tokens[0].name, "alice");
	assert_string_equal(c->tokens[0].token, "tok-alice-123");
	assert_int_equal(c->tokens[0].role, KS_ROLE_APPROVER);
	assert_string_equal(c->tokens[1].name, "bob");
	/* trailing spaces and newlines go */
	assert_string_equal(c->tokens[1].token, "tok-bob-456");
	assert_int_equal(c->tokens[1].role, KS_ROLE_ADMIN);
	assert_string_equal(c->tokens[2].token, "tok-carol-789");
	assert_int_equal(c->tokens[2].role, KS_ROLE_VIEWER);

	assert_int_equal(c->nsources, 2);
	const ks_agent_source *s = &c->sources[0];
	assert_string_equal(s->name, "demo");
	assert_string_equal(s->url, "ssh://git.example.com/team/config.git");
	assert_string_equal(s->ref, "refs/heads/release");
	assert_int_equal(s->npaths, 2);
	assert_string_equal(s->paths[0], "demo/prod");
	assert_string_equal(s->paths[1], "demo/staging");
	assert_int_equal(s->interval_ms, 0);
	assert_int_equal(s->fetch_timeout_ms, 90000);
	assert_string_equal(s->username, "git"); /* ssh default */
	assert_null(s->password);
	assert_path(s->ssh_key_file, "id_ed25519");
	assert_path(s->known_hosts_file, "known_hosts");
	assert_int_equal(s->webhook, KS_WEBHOOK_GITLAB);
	assert_int_equal(s->webhook_secret_len, 15);
	assert_memory_equal(s->webhook_secret, "hook-secret-xyz", 15);
	assert_int_equal(s->napprovers, 2);
	assert_string_equal(s->approvers[1], "bob-gh");
	assert_int_equal(s->nnamespaces, 2);
	assert_string_equal(s->namespaces[0], "demo-*");
	assert_true(s->drift_heal);
	assert_int_equal(s->resync_ms, 1800000);
	assert_false(s->prune);
	assert_int_equal(json_array_size(s->ignore), 1);
	json_t *rule = json_array_get(s->ignore, 0);
	assert_string_equal(json_string_value(json_object_get(rule, "kind")),
			    "Deployment");
	assert_string_equal(json_string_value(json_object_get(rule, "group")),
			    "apps");
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(rule, "jsonPointers"), 0)),
			    "/spec/replicas");
	assert_int_equal(s->line, 25);

	s = &c->sources[1];
	assert_string_equal(s->name, "other");
	assert_string_equal(s->ref, "refs/heads/main");
	assert_int_equal(s->interval_ms, 600000);
	assert_string_equal(s->username, "bot");
	assert_string_equal(s->password, "pw-very-secret");
	assert_null(s->ssh_key_file);
	assert_int_equal(s->webhook, KS_WEBHOOK_GENERIC);
	assert_false(s->drift_heal);
	assert_true(s->prune);
	assert_int_equal(json_array_size(s->ignore), 0);
	assert_int_equal(s->line, 41);

	assert_ptr_equal(ks_agent_config_source(c, "other"), s);
	assert_null(ks_agent_config_source(c, "nope"));
	ks_agent_config_free(c);
}

static void defaults(void **state)
{
	(void)state;
	ks_agent_config *c;
	ks_errlist *errs;
	assert_int_equal(load(SOURCE_HEAD, &c, &errs), 0);
	ks_errlist_free(errs);
	assert_string_equal(c->listen, "127.0.0.1:8080");
	assert_null(c->kubeconfig);
	assert_null(c->context);
	assert_false(c->in_cluster);
	assert_true(c->qps == 50);
	assert_int_equal(c->burst, 100);
	assert_null(c->workspace);
	assert_int_equal(c->npolicies, 0);
	assert_false(c->state_kubernetes);
	assert_string_equal(c->state_path, "/var/lib/kusync");
	assert_string_equal(c->cache_dir, "/var/lib/kusync/git");
	assert_string_equal(c->state_namespace, "kusync");
	assert_int_equal(c->history_limit, 20);
	assert_int_equal(c->max_parallel_apps, 4);
	assert_int_equal(c->max_parallel_fetches, 4);
	assert_int_equal(c->ntokens, 0);
	assert_int_equal(c->nsources, 1);
	const ks_agent_source *s = &c->sources[0];
	assert_string_equal(s->ref, "refs/heads/main");
	assert_int_equal(s->interval_ms, 60000);
	assert_int_equal(s->fetch_timeout_ms, 60000);
	assert_null(s->username); /* https: none */
	assert_null(s->password);
	assert_int_equal(s->webhook, KS_WEBHOOK_NONE);
	assert_null(s->webhook_secret);
	assert_int_equal(s->napprovers, 0);
	assert_false(s->drift_heal);
	assert_int_equal(s->resync_ms, 600000);
	assert_true(s->prune);
	assert_non_null(s->ignore);
	assert_int_equal(json_array_size(s->ignore), 0);
	ks_agent_config_free(c);

	/* local state elsewhere moves the default cache with it; kubernetes
	 * state has its own default */
	assert_int_equal(load("state: {path: st}\n" SOURCE_HEAD, &c, &errs), 0);
	ks_errlist_free(errs);
	assert_path(c->state_path, "st");
	assert_path(c->cache_dir, "st/git");
	ks_agent_config_free(c);
	assert_int_equal(
		load("state: {backend: kubernetes}\n" SOURCE_HEAD, &c, &errs),
		0);
	ks_errlist_free(errs);
	assert_string_equal(c->cache_dir, "/var/cache/kusync");
	ks_agent_config_free(c);
}

static void paths_resolve_against_the_config_folder(void **state)
{
	(void)state;
	/* a relative config path from another working directory */
	char cwd[PATH_MAX];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	write_at("agent.yaml", "auth:\n  tokens: [{name: a, tokenFile: "
			       "alice.token}]\n"
			       "cacheDir: ~/c\n" SOURCE_HEAD);
	char *home = getenv("HOME") ? ks_xstrdup(getenv("HOME")) : NULL;
	setenv("HOME", "/home/someone", 1);
	assert_int_equal(chdir("/tmp"), 0);
	char rel[128];
	snprintf(rel, sizeof(rel), "%s/agent.yaml", dir + strlen("/tmp/"));
	ks_errlist *errs = ks_errlist_new();
	ks_agent_config *c = NULL;
	int rc = ks_agent_config_load(&c, rel, errs);
	assert_int_equal(chdir(cwd), 0);
	if (home)
		setenv("HOME", home, 1);
	else
		unsetenv("HOME");
	free(home);
	if (rc)
		print_errs(errs);
	assert_int_equal(rc, 0);
	ks_errlist_free(errs);
	assert_string_equal(c->tokens[0].token, "tok-alice-123");
	assert_string_equal(c->cache_dir, "/home/someone/c");
	assert_string_equal(c->path, rel);
	ks_agent_config_free(c);
}

static void auth_and_namespace_globs(void **state)
{
	(void)state;
	ks_agent_config *c;
	ks_errlist *errs;
	assert_int_equal(load(full_yaml, &c, &errs), 0);
	ks_errlist_free(errs);
	const char *who = "x";
	assert_int_equal(ks_agent_config_auth(c, "tok-bob-456 ", &who),
			 KS_ROLE_NONE);
	assert_null(who);
	assert_int_equal(ks_agent_config_auth(c, "tok-bob-456", &who),
			 KS_ROLE_ADMIN);
	assert_string_equal(who, "bob");
	assert_int_equal(ks_agent_config_auth(c, "tok-alice-123", &who),
			 KS_ROLE_APPROVER);
	assert_string_equal(who, "alice");
	assert_int_equal(ks_agent_config_auth(c, "tok-carol-789", NULL),
			 KS_ROLE_VIEWER);
	assert_int_equal(ks_agent_config_auth(c, "tok-alice-12", &who),
			 KS_ROLE_NONE);
	assert_int_equal(ks_agent_config_auth(c, "tok-alice-1234", &who),
			 KS_ROLE_NONE);
	assert_int_equal(ks_agent_config_auth(c, "", &who), KS_ROLE_NONE);
	assert_int_equal(ks_agent_config_auth(c, NULL, &who), KS_ROLE_NONE);
	assert_null(who);

	const ks_agent_source *s = ks_agent_config_source(c, "demo");
	assert_true(ks_agent_source_allows(s, "demo-prod"));
	assert_true(ks_agent_source_allows(s, "demo-"));
	assert_true(ks_agent_source_allows(s, "shared"));
	assert_false(ks_agent_source_allows(s, "demo"));
	assert_false(ks_agent_source_allows(s, "shared-2"));
	assert_false(ks_agent_source_allows(s, "kube-system"));
	assert_false(ks_agent_source_allows(s, NULL));
	ks_agent_config_free(c);
}

static void malformed_documents(void **state)
{
	(void)state;
	expect_err("", "1:1", "the agent configuration is empty", true);
	expect_err("# only a comment\n", "1:1",
		   "the agent configuration is empty", true);
	expect_err("- a\n- b\n", "1:1",
		   "expected a mapping at the top of the agent configuration, "
		   "got a list",
		   true);
	expect_err("just words\n", "1:1",
		   "expected a mapping at the top of the agent configuration, "
		   "got \"just words\"",
		   true);
	/* YAML syntax: the second line's key cannot follow a plain scalar
	 * at a deeper indentation; libyaml reports the ':' */
	expect_err("listen: a\n  b: c\n", "2:4",
		   "mapping values are not allowed", true);
	expect_err("a: [1, 2\n", "2:1",
		   "did not find expected ',' or ']' while parsing a flow "
		   "sequence (started at 1:4)",
		   true);
	expect_err(SOURCE_HEAD "---\nlisten: x:1\n", "6:1",
		   "multi-document files are not supported here", true);
	/* nesting: 300 lists deep is refused before anything else */
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_buf_puts(&b, "x: ");
	for (int i = 0; i < 300; i++)
		ks_buf_puts(&b, "[");
	/* the root mapping is level 1, so the 200th '[' (column 203) opens
	 * level 201 */
	expect_err(b.data, "1:203", "nesting deeper than 200 levels", true);
	ks_buf_release(&b);
	/* over 1 MiB: refused without being parsed */
	ks_buf_init(&b, 0);
	while (b.len <= (1u << 20))
		ks_buf_puts(&b, "# padding padding padding padding padding\n");
	ks_buf_puts(&b, SOURCE_HEAD);
	expect_err(b.data, "",
		   "file is too large for an agent configuration (the limit "
		   "is 1 MiB)",
		   true);
	ks_buf_release(&b);
}

static void malformed_top_level(void **state)
{
	(void)state;
	expect_err("listen: [a]\n" SOURCE_HEAD, "1:9",
		   "listen: expected a string, got a list", true);
	expect_err("listen: localhost\n" SOURCE_HEAD, "1:9",
		   "listen: expected HOST:PORT", true);
	expect_err("listen: 1.2.3.4:99999\n" SOURCE_HEAD, "1:9",
		   "listen: expected HOST:PORT", true);
	expect_err("sorces: []\n", "1:1",
		   "sorces: unknown field (did you mean \"sources\"?)", true);
	expect_err("frobnicate: 1\n" SOURCE_HEAD, "1:1",
		   "frobnicate: unknown field", false);
	expect_err("cluster:\n  qps: -1\n" SOURCE_HEAD, "2:8",
		   "cluster.qps: expected a number greater than 0, got -1",
		   true);
	expect_err("cluster:\n  burst: many\n" SOURCE_HEAD, "2:10",
		   "cluster.burst: expected an integer, got \"many\"", true);
	expect_err("cluster:\n  kubeconfig: k\n  inCluster: true\n" SOURCE_HEAD,
		   "3:3", "cluster.inCluster: inCluster and kubeconfig exclude",
		   true);
	expect_err("cluster: {inCluster: yes}\n" SOURCE_HEAD, "1:22",
		   "cluster.inCluster: expected true or false, got \"yes\"",
		   true);
	expect_err("state:\n  historyLimit: 0\n" SOURCE_HEAD, "2:17",
		   "state.historyLimit: expected an integer from 1 to 10000, "
		   "got 0",
		   true);
	expect_err("state:\n  backend: etcd\n" SOURCE_HEAD, "2:12",
		   "state.backend: expected local or kubernetes, got \"etcd\"",
		   true);
	expect_err("state:\n  backend: kubernets\n" SOURCE_HEAD, "2:12",
		   "state.backend: expected local or kubernetes, got "
		   "\"kubernets\" (did you mean \"kubernetes\"?)",
		   true);
	expect_err("state: {namespace: Kusync}\n" SOURCE_HEAD, "1:20",
		   "state.namespace: \"Kusync\" is not a valid namespace name",
		   true);
	expect_err("workspace: nope.yaml\n" SOURCE_HEAD, "1:12",
		   "workspace: cannot read \"", true);
	expect_err("policies: [policies, nopol]\n" SOURCE_HEAD, "1:22",
		   "policies[1]: cannot read \"", true);
	expect_err("maxParallelApps: 0\n" SOURCE_HEAD, "1:18",
		   "maxParallelApps: expected an integer from 1 to 64, got 0",
		   true);
}

static void malformed_tokens(void **state)
{
	(void)state;
	expect_err("auth:\n  tokens:\n    - {name: a, token: hunter2}\n"
		   "" SOURCE_HEAD,
		   "3:17",
		   "auth.tokens[0].token: a secret must not be written in the "
		   "configuration: put it in a file and name the file with "
		   "\"tokenFile\"",
		   true);
	expect_err("auth:\n  tokens:\n"
		   "    - {name: a, tokenFile: alice.token}\n"
		   "    - {name: a, tokenFile: carol.token}\n" SOURCE_HEAD,
		   "4:14", "auth.tokens[1].name: duplicate token name \"a\"",
		   true);
	expect_err(
		"auth:\n  tokens:\n"
		"    - {name: a, tokenFile: alice.token}\n"
		"    - {name: b, tokenFile: alice-again.token}\n" SOURCE_HEAD,
		"4:28",
		"auth.tokens[1].tokenFile: the same token as \"a\": each "
		"token must be different",
		true);
	expect_err("auth:\n  tokens:\n    - {name: a, tokenFile: missing}\n"
		   "" SOURCE_HEAD,
		   "3:28", "auth.tokens[0].tokenFile: cannot read \"", true);
	expect_err("auth:\n  tokens:\n    - {name: a, tokenFile: missing}\n"
		   "" SOURCE_HEAD,
		   "3:28", "auth.tokens[0].tokenFile: cannot read \"/", true);
	expect_err("auth:\n  tokens:\n    - {name: a, tokenFile: empty.token}\n"
		   "" SOURCE_HEAD,
		   "3:28", "auth.tokens[0].tokenFile: \"", true);
	expect_err("auth:\n  tokens:\n    - {name: a, tokenFile: "
		   "spaced.token}\n" SOURCE_HEAD,
		   "3:28",
		   "auth.tokens[0].tokenFile: the token in the file holds "
		   "spaces or control characters",
		   true);
	expect_err("auth:\n  tokens:\n    - {name: a, tokenFile: alice.token, "
		   "role: root}\n" SOURCE_HEAD,
		   "3:47",
		   "auth.tokens[0].role: expected viewer, approver or admin, "
		   "got \"root\"",
		   true);
	expect_err("auth:\n  tokens:\n    - {tokenFile: alice.token}\n"
		   "" SOURCE_HEAD,
		   "3:7", "auth.tokens[0]: missing required field \"name\"",
		   true);
	expect_err("auth:\n  tokens:\n    - {name: a}\n" SOURCE_HEAD, "3:7",
		   "auth.tokens[0]: missing required field \"tokenFile\"",
		   true);
	expect_err("auth:\n  tokens: {name: a}\n" SOURCE_HEAD, "2:11",
		   "auth.tokens: expected a list, got a mapping", true);
}

static void empty_secret_names_only_the_path(void **state)
{
	(void)state;
	char want[256];
	snprintf(want, sizeof(want),
		 "auth.tokens[0].tokenFile: \"%s/empty.token\" is empty", dir);
	expect_err("auth:\n  tokens:\n    - {name: a, tokenFile: empty.token}\n"
		   "" SOURCE_HEAD,
		   "3:28", want, true);
	snprintf(want, sizeof(want),
		 "sources[0].webhook.secretFile: cannot read "
		 "\"%s/gone.secret\": No such file or directory",
		 dir);
	expect_err(SOURCE_HEAD "    webhook: {provider: github, secretFile: "
			       "gone.secret}\n",
		   "6:45", want, true);
}

static void malformed_sources(void **state)
{
	(void)state;
	expect_err(SOURCE_HEAD "    intervall: 60s\n", "6:5",
		   "sources[0].intervall: unknown field (did you mean "
		   "\"interval\"?)",
		   true);
	expect_err(SOURCE_HEAD "    interval: 60\n", "6:15",
		   "sources[0].interval: expected a duration such as \"60s\" "
		   "or \"10m\", got 60",
		   true);
	expect_err(SOURCE_HEAD "    interval: 5 minutes\n", "6:15",
		   "sources[0].interval: expected a duration such as \"60s\" "
		   "or \"10m\", got \"5 minutes\"",
		   true);
	expect_err(SOURCE_HEAD "    fetchTimeout: 0s\n", "6:19",
		   "sources[0].fetchTimeout: must be longer than 0s", true);
	expect_err(SOURCE_HEAD "    drift: {mode: heal, resync: 1y}\n", "6:33",
		   "sources[0].drift.resync: expected a duration", true);
	expect_err(SOURCE_HEAD "    drift: {mode: fix}\n", "6:19",
		   "sources[0].drift.mode: expected report or heal, got "
		   "\"fix\"",
		   true);
	expect_err("sources:\n  - name: Demo_1\n    url: https://h/x\n"
		   "    paths: [a]\n    namespaces: [a]\n",
		   "2:11",
		   "sources[0].name: \"Demo_1\" is not a valid source name",
		   true);
	expect_err(SOURCE_HEAD "  - name: demo\n    url: https://h/x\n"
			       "    paths: [a]\n    namespaces: [a]\n",
		   "6:11",
		   "sources[1].name: duplicate source name \"demo\" (the first "
		   "is on line 2)",
		   true);
	expect_err("sources:\n  - url: https://h/x\n    paths: [a]\n"
		   "    namespaces: [a]\n",
		   "2:5", "sources[0]: missing required field \"name\"", true);
	expect_err("sources:\n  - name: demo\n    url: https://h/x\n"
		   "    paths: [a]\n",
		   "2:5", "sources[0]: missing required field \"namespaces\"",
		   true);
	expect_err("sources:\n  - name: demo\n    url: https://h/x\n"
		   "    paths: [a]\n    namespaces: []\n",
		   "5:17",
		   "sources[0].namespaces: needs at least one namespace", true);
	expect_err("sources:\n  - name: demo\n    url: https://h/x\n"
		   "    namespaces: [a]\n",
		   "2:5", "sources[0]: missing required field \"paths\"", true);
	expect_err("sources:\n  - name: demo\n    url: https://h/x\n"
		   "    paths: [a, ../up]\n    namespaces: [a]\n",
		   "4:16",
		   "sources[0].paths[1]: expected a folder inside the "
		   "repository",
		   true);
	expect_err("sources:\n  - name: demo\n    url: ftp://h/x\n"
		   "    paths: [a]\n    namespaces: [a]\n",
		   "3:10",
		   "sources[0].url: expected a URL starting with https://, "
		   "http://, ssh://, git:// or file://",
		   true);
	expect_err("sources:\n  - name: demo\n    url: https://u:hunter2@h/x\n"
		   "    paths: [a]\n    namespaces: [a]\n",
		   "3:10",
		   "sources[0].url: a password must not be written in the URL",
		   true);
	expect_err(SOURCE_HEAD "    ref: main\n", "6:10",
		   "sources[0].ref: expected a full ref such as "
		   "\"refs/heads/main\", got \"main\"",
		   true);
	expect_err(SOURCE_HEAD "    prune: maybe\n", "6:12",
		   "sources[0].prune: expected true or false, got \"maybe\"",
		   true);
	expect_err("sources:\n  - name: demo\n    url: https://h/x\n"
		   "    paths: [a]\n    namespaces: [demo-*, Prod]\n",
		   "5:26",
		   "sources[0].namespaces[1]: expected a namespace name or "
		   "glob",
		   true);
	expect_err(SOURCE_HEAD "    ignoreDifferences:\n"
			       "      - {jsonPointers: [spec]}\n",
		   "7:9",
		   "sources[0].ignoreDifferences[0]: missing required field "
		   "\"kind\"",
		   false);
	expect_err(SOURCE_HEAD "    ignoreDifferences:\n"
			       "      - {kind: X, jsonPointers: [spec]}\n",
		   "7:34",
		   "sources[0].ignoreDifferences[0].jsonPointers[0]: expected "
		   "a JSON pointer",
		   true);
	expect_err("sources: {name: demo}\n", "1:10",
		   "sources: expected a list, got a mapping", true);
}

static void malformed_credentials_and_webhooks(void **state)
{
	(void)state;
	expect_err(SOURCE_HEAD "    credentials:\n      password: hunter2\n",
		   "7:7",
		   "sources[0].credentials.password: a secret must not be "
		   "written in the configuration: put it in a file and name "
		   "the file with \"passwordFile\"",
		   true);
	expect_err(SOURCE_HEAD "    credentials: {token: hunter2}\n", "6:19",
		   "sources[0].credentials.token: a secret must not be "
		   "written",
		   true);
	expect_err(SOURCE_HEAD "    password: hunter2\n", "6:5",
		   "sources[0].password: a secret must not be written in the "
		   "configuration: put it in a file and name the file with "
		   "\"credentials.passwordFile\"",
		   true);
	expect_err(SOURCE_HEAD "    credentials: {passwordFile: nope.txt}\n",
		   "6:33",
		   "sources[0].credentials.passwordFile: cannot read \"", true);
	expect_err(SOURCE_HEAD "    credentials: {passwordFile: pw.txt, "
			       "tokenFile: pw.txt}\n",
		   "6:41",
		   "sources[0].credentials.tokenFile: passwordFile and "
		   "tokenFile exclude each other",
		   true);
	expect_err("sources:\n  - name: demo\n    url: ssh://h/x\n"
		   "    paths: [a]\n    namespaces: [a]\n"
		   "    credentials: {sshKeyFile: id_ed25519}\n",
		   "6:19",
		   "sources[0].credentials.sshKeyFile: knownHostsFile is "
		   "required with sshKeyFile",
		   true);
	expect_err(SOURCE_HEAD "    credentials: {sshKeyFile: id_ed25519, "
			       "knownHostsFile: known_hosts}\n",
		   "6:19",
		   "sources[0].credentials.sshKeyFile: sshKeyFile needs an "
		   "ssh:// url",
		   true);
	expect_err(SOURCE_HEAD "    webhook: {provider: github}\n", "6:5",
		   "sources[0].webhook: missing required field \"secretFile\" "
		   "(a webhook needs a secret)",
		   true);
	expect_err(SOURCE_HEAD "    webhook: {provider: github, secret: "
			       "hunter2}\n",
		   "6:33",
		   "sources[0].webhook.secret: a secret must not be written in "
		   "the configuration: put it in a file and name the file "
		   "with \"secretFile\"",
		   true);
	expect_err(SOURCE_HEAD "    webhook: {provider: githb, secretFile: "
			       "hook.secret}\n",
		   "6:25",
		   "sources[0].webhook.provider: expected github, gitlab, "
		   "gitea or generic, got \"githb\" (did you mean "
		   "\"github\"?)",
		   true);
	expect_err(SOURCE_HEAD "    webhook: {provider: bitbucket, "
			       "secretFile: hook.secret}\n",
		   "6:25",
		   "sources[0].webhook.provider: expected github, gitlab, "
		   "gitea or generic, got \"bitbucket\"",
		   true);
	expect_err(SOURCE_HEAD "    webhook: {secretFile: hook.secret}\n",
		   "6:5",
		   "sources[0].webhook: missing required field \"provider\"",
		   true);
}

static void more_edges(void **state)
{
	(void)state;
	ks_agent_config *c;
	ks_errlist *errs;
	/* IPv6 listen, an empty context is the current one, port 0 */
	assert_int_equal(load("listen: \"[::1]:0\"\ncluster: {context: \"\", "
			      "inCluster: true}\nmaxParallelFetches: 64\n"
			      "" SOURCE_HEAD,
			      &c, &errs),
			 0);
	ks_errlist_free(errs);
	assert_string_equal(c->listen, "[::1]:0");
	assert_null(c->context);
	assert_true(c->in_cluster);
	assert_int_equal(c->max_parallel_fetches, 64);
	ks_agent_config_free(c);

	expect_err("listen: \"[::1]8080\"\n" SOURCE_HEAD, "1:9",
		   "listen: expected HOST:PORT", true);
	expect_err("sources:\n  -\n", "2:4",
		   "sources[0]: expected a mapping, got null", true);
	expect_err("auth: [x]\n" SOURCE_HEAD, "1:7",
		   "auth: expected a mapping, got a list", true);
	expect_err(SOURCE_HEAD "    approvers: alice\n", "6:16",
		   "sources[0].approvers: expected a list, got \"alice\"",
		   true);
	expect_err("sources:\n  - name: demo\n    url: https://h/x\n"
		   "    paths: [a, a/]\n    namespaces: [a]\n",
		   "4:16", "sources[0].paths[1]: duplicate path \"a\"", true);
	expect_err("sources:\n  - name: demo\n    url: file://relative/x\n"
		   "    paths: [a]\n    namespaces: [a]\n",
		   "3:10",
		   "sources[0].url: a file:// URL needs an absolute path",
		   true);
	expect_err(SOURCE_HEAD "    credentials: {tokenfile: pw.txt}\n", "6:19",
		   "sources[0].credentials.tokenfile: unknown field (did you "
		   "mean \"tokenFile\"?)",
		   true);

	expect_err("sources:\n  - name: unknown\n    url: https://h/x\n"
		   "    paths: [a]\n    namespaces: [a]\n",
		   "2:11",
		   "sources[0].name: the source name \"unknown\" is reserved",
		   true);
	/* a long value is cut at 40 characters, not inside a character */
	expect_err("state: {backend: "
		   "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\u00e9\u00e9\"}"
		   "\n" SOURCE_HEAD,
		   "1:18",
		   "state.backend: expected local or kubernetes, got "
		   "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"",
		   true);

	/* a file that cannot be read is named with the reason */
	errs = ks_errlist_new();
	c = NULL;
	char *missing = in_dir("nope/agent.yaml");
	assert_int_equal(ks_agent_config_load(&c, missing, errs), KS_EINVAL);
	assert_null(c);
	assert_int_equal(ks_errlist_count(errs), 1);
	char want[256];
	snprintf(want, sizeof(want), "%s: No such file or directory", missing);
	assert_string_equal(ks_errlist_get(errs, 0), want);
	free(missing);
	ks_errlist_free(errs);
	errs = ks_errlist_new();
	assert_int_equal(ks_agent_config_load(&c, dir, errs), KS_EINVAL);
	snprintf(want, sizeof(want), "%s: is a directory", dir);
	assert_string_equal(ks_errlist_get(errs, 0), want);
	ks_errlist_free(errs);
}

/* Every problem is reported, not just the first. */
static void all_problems_reported(void **state)
{
	(void)state;
	ks_agent_config *c;
	ks_errlist *errs;
	assert_int_equal(load("listen: nope\nstate: {historyLimit: 0}\n"
			      "sources:\n  - name: BAD\n",
			      &c, &errs),
			 KS_EINVAL);
	assert_null(c);
	/* listen, historyLimit, name, url, paths, namespaces */
	assert_int_equal(ks_errlist_count(errs), 6);
	ks_errlist_free(errs);
}

static int config_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_config_reads_back),
		cmocka_unit_test(defaults),
		cmocka_unit_test(paths_resolve_against_the_config_folder),
		cmocka_unit_test(auth_and_namespace_globs),
		cmocka_unit_test(malformed_documents),
		cmocka_unit_test(malformed_top_level),
		cmocka_unit_test(malformed_tokens),
		cmocka_unit_test(empty_secret_names_only_the_path),
		cmocka_unit_test(malformed_sources),
		cmocka_unit_test(malformed_credentials_and_webhooks),
		cmocka_unit_test(more_edges),
		cmocka_unit_test(all_problems_reported),
	};
	return cmocka_run_group_tests_name("agent/config", tests, setup,
					   teardown);
}
KS_TEST_GROUP(config_tests)
