/*
 * Exec credential plugins (client.authentication.k8s.io): running the
 * command and reading the ExecCredential it prints.
 */
#include "sync/kube.h"
#include "core/base64.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sync/internal.h"
#include "core/banned.h"

#define MAX_PLUGIN_OUTPUT (1u << 20)

extern char **environ;

void ks_kube_cred_release(ks_kube_cred *c)
{
	if (!c)
		return;
	free(c->token);
	free(c->cert_pem);
	free(c->key_pem);
	memset(c, 0, sizeof(*c));
}

int ks_kube_cred_parse(ks_kube_cred *out, const char *text, size_t len,
		       const char *command, ks_error *err)
{
	json_error_t je;
	json_t *v = json_loadb(text, len, 0, &je);
	if (!v)
		return ks_error_set(
			err, KS_EENV,
			"exec plugin \"%s\": output is not JSON: %s", command,
			je.text);
	int rc = 0;
	const char *kind = json_string_value(json_object_get(v, "kind"));
	const json_t *st = json_object_get(v, "status");
	if (!kind || strcmp(kind, "ExecCredential") || !json_is_object(st)) {
		rc = ks_error_set(err, KS_EENV,
				  "exec plugin \"%s\": output is not an "
				  "ExecCredential with a status",
				  command);
		goto out;
	}
	const char *tok = json_string_value(json_object_get(st, "token"));
	const char *cert =
		json_string_value(json_object_get(st, "clientCertificateData"));
	const char *key =
		json_string_value(json_object_get(st, "clientKeyData"));
	if (!(tok && *tok) && !(cert && key)) {
		rc = ks_error_set(err, KS_EENV,
				  "exec plugin \"%s\": the credential has "
				  "neither a token nor a client certificate "
				  "and key",
				  command);
		goto out;
	}
	if (!cert != !key) {
		rc = ks_error_set(err, KS_EENV,
				  "exec plugin \"%s\": clientCertificateData "
				  "and clientKeyData must come together",
				  command);
		goto out;
	}
	const char *exp =
		json_string_value(json_object_get(st, "expirationTimestamp"));
	int64_t expires = 0;
	if (exp && *exp) {
		expires = ks_sync_parse_time(exp);
		if (expires < 0) {
			rc = ks_error_set(err, KS_EENV,
					  "exec plugin \"%s\": "
					  "expirationTimestamp \"%s\" is not "
					  "an RFC 3339 time",
					  command, exp);
			goto out;
		}
	}
	memset(out, 0, sizeof(*out));
	out->token = tok && *tok ? ks_xstrdup(tok) : NULL;
	out->cert_pem = cert ? ks_xstrdup(cert) : NULL;
	out->key_pem = key ? ks_xstrdup(key) : NULL;
	out->expires = expires;
out:
	json_decref(v);
	return rc;
}

/* The KUBERNETES_EXEC_INFO document. */
static char *exec_info(const ks_kube_config *cfg)
{
	json_t *spec = json_pack("{s:b}", "interactive", 0);
	if (cfg->exec->provide_cluster_info) {
		json_t *cl =
			json_pack("{s:s, s:b}", "server", cfg->server,
				  "insecure-skip-tls-verify", cfg->insecure);
		if (cfg->ca_pem) {
			char *b = ks_base64_encode(cfg->ca_pem, cfg->ca_len);
			json_object_set_new(cl, "certificate-authority-data",
					    json_string(b));
			free(b);
		}
		if (cfg->tls_server_name)
			json_object_set_new(cl, "tls-server-name",
					    json_string(cfg->tls_server_name));
		json_object_set_new(spec, "cluster", cl);
	}
	json_t *doc = json_pack("{s:s, s:s, s:o}", "apiVersion",
				cfg->exec->api_version, "kind",
				"ExecCredential", "spec", spec);
	char *s = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return s;
}

/* The full path of CMD: as given when it has a '/', else found in $PATH. */
static char *find_command(const char *cmd)
{
	if (strchr(cmd, '/'))
		return ks_xstrdup(cmd);
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *e = strchr(path, ':');
		size_t len = e ? (size_t)(e - path) : strlen(path);
		char *full = ks_xasprintf("%.*s/%s", (int)len, path, cmd);
		if (access(full, X_OK) == 0)
			return full;
		free(full);
		path += len + (e ? 1 : 0);
	}
	return NULL;
}

/* environ + the plugin's env + KUBERNETES_EXEC_INFO, built before fork so
 * the child only calls async-signal-safe functions. */
static char **build_env(const ks_kube_exec *ex, const char *info)
{
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **envp = ks_xcalloc(n + ex->nenv + 2, sizeof(*envp));
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "KUBERNETES_EXEC_INFO=", 21))
			envp[m++] = ks_xstrdup(environ[i]);
	for (size_t i = 0; i < ex->nenv; i++)
		envp[m++] = ks_xstrdup(ex->env[i]);
	envp[m++] = ks_xasprintf("KUBERNETES_EXEC_INFO=%s", info);
	return envp;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Reads the child's stdout and stderr until both close or the deadline. */
static int collect(int outfd, int errfd, ks_buf *out, ks_buf *errb,
		   int64_t deadline)
{
	struct pollfd p[2] = {{outfd, POLLIN, 0}, {errfd, POLLIN, 0}};
	int open_fds = 2;
	char chunk[4096];
	while (open_fds > 0) {
		int64_t left = deadline - ks_sync_now_ms();
		if (left <= 0)
			return KS_ELIMIT;
		int r = poll(p, 2, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return KS_EIO;
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			ssize_t n = read(p[i].fd, chunk, sizeof(chunk));
			if (n <= 0) {
				p[i].fd = -1;
				open_fds--;
				continue;
			}
			/* Past the cap output is dropped; the JSON then fails
			 * to parse, which is reported. */
			ks_buf_append(i == 0 ? out : errb, chunk, (size_t)n);
		}
	}
	return 0;
}

static const char *last_line(ks_buf *b)
{
	if (!b->data)
		return "";
	while (b->len &&
	       (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r'))
		b->data[--b->len] = '\0';
	const char *nl = strrchr(b->data, '\n');
	return nl ? nl + 1 : b->data;
}

int ks_kube_exec_run(ks_kube_cred *out, const ks_kube_config *cfg,
		     unsigned timeout_ms, ks_error *err)
{
	const ks_kube_exec *ex = cfg->exec;
	const char *hint = ex->install_hint ? ex->install_hint : "";
	char *full = find_command(ex->command);
	if (!full)
		return ks_error_set(
			err, KS_EENV,
			"exec plugin \"%s\": not found in $PATH%s%s",
			ex->command, *hint ? "; " : "", hint);
	char *info = exec_info(cfg);
	char **envp = build_env(ex, info);
	free(info);
	char **argv = ks_xcalloc(ex->nargs + 2, sizeof(*argv));
	argv[0] = ex->command;
	for (size_t i = 0; i < ex->nargs; i++)
		argv[i + 1] = ex->args[i];
	int op[2], ep[2];
	int rc = 0;
	if (pipe(op) != 0 || pipe(ep) != 0) {
		rc = ks_error_set(err, KS_EENV, "exec plugin \"%s\": pipe: %s",
				  ex->command, strerror(errno));
		goto out_nopipe;
	}
	pid_t pid = fork();
	if (pid < 0) {
		rc = ks_error_set(err, KS_EENV, "exec plugin \"%s\": fork: %s",
				  ex->command, strerror(errno));
		goto out;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(op[1], 1);
		dup2(ep[1], 2);
		close(op[0]);
		close(ep[0]);
		execve(full, argv, envp);
		_exit(127);
	}
	close(op[1]);
	close(ep[1]);
	op[1] = ep[1] = -1;
	ks_buf ob, eb;
	ks_buf_init(&ob, MAX_PLUGIN_OUTPUT);
	ks_buf_init(&eb, 64 * 1024);
	int crc = collect(op[0], ep[0], &ob, &eb,
			  ks_sync_now_ms() + (timeout_ms ? timeout_ms : 30000));
	if (crc)
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (crc) {
		rc = ks_error_set(err, KS_EENV,
				  "exec plugin \"%s\": no credential within "
				  "%u ms",
				  ex->command, timeout_ms);
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		const char *line = last_line(&eb);
		rc = ks_error_set(err, KS_EENV,
				  "exec plugin \"%s\" failed (exit %d)%s%s%s%s",
				  ex->command,
				  WIFEXITED(status) ? WEXITSTATUS(status) : -1,
				  *line ? ": " : "", line, *hint ? "; " : "",
				  hint);
	} else {
		rc = ks_kube_cred_parse(out, ob.data ? ob.data : "", ob.len,
					ex->command, err);
	}
	ks_buf_release(&ob);
	ks_buf_release(&eb);
out:
	for (int i = 0; i < 2; i++) {
		if (op[i] >= 0)
			close(op[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
out_nopipe:
	free(argv);
	free_strv(envp);
	free(full);
	return rc;
}
