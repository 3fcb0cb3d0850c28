/*
 * kubeconfig resolution: merging documents, picking a context, decoding
 * inline data and reading referenced files.
 */
#include "sync/kube.h"
#include "core/base64.h"

#include <stdlib.h>
#include <string.h>

#include "sync/internal.h"
#include "core/banned.h"

#define MAX_REF_FILE (4u << 20)

void ks_kube_config_free(ks_kube_config *c)
{
	if (!c)
		return;
	free(c->context);
	free(c->server);
	free(c->ca_pem);
	free(c->cert_pem);
	free(c->key_pem);
	free(c->token);
	free(c->token_file);
	free(c->username);
	free(c->password);
	free(c->tls_server_name);
	free(c->proxy_url);
	free(c->namespace);
	free(c->impersonate_user);
	for (size_t i = 0; i < c->nimpersonate_groups; i++)
		free(c->impersonate_groups[i]);
	free(c->impersonate_groups);
	if (c->exec) {
		free(c->exec->command);
		for (size_t i = 0; i < c->exec->nargs; i++)
			free(c->exec->args[i]);
		free(c->exec->args);
		for (size_t i = 0; i < c->exec->nenv; i++)
			free(c->exec->env[i]);
		free(c->exec->env);
		free(c->exec->api_version);
		free(c->exec->install_hint);
		free(c->exec);
	}
	free(c);
}

/* One kubeconfig document and the folder its relative paths start from. */
struct source {
	const json_t *doc;
	const char *dir;
};

/* The first entry named NAME in LIST (clusters, users or contexts) across
 * the documents, and which document it came from. */
static const json_t *find_named(const struct source *src, size_t n,
				const char *list, const char *field,
				const char *name, size_t *which)
{
	for (size_t i = 0; i < n; i++) {
		const json_t *arr = json_object_get(src[i].doc, list);
		size_t k;
		const json_t *e;
		json_array_foreach(arr, k, e)
		{
			const char *nm =
				json_string_value(json_object_get(e, "name"));
			if (nm && !strcmp(nm, name)) {
				*which = i;
				return json_object_get(e, field);
			}
		}
	}
	return NULL;
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && *s ? s : NULL;
}

static bool flag(const json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

char *ks_sync_resolve_path(const char *dir, const char *path)
{
	if (path[0] == '/' || !dir || !*dir)
		return ks_xstrdup(path);
	if (path[0] == '~' && path[1] == '/') {
		const char *home = getenv("HOME");
		if (home)
			return ks_xasprintf("%s%s", home, path + 1);
	}
	return ks_xasprintf("%s/%s", dir, path);
}

/* Fills *pem from FIELD-data (base64) or FIELD (a file, resolved against
 * DIR); the inline data wins, as in client-go. */
static int load_pem(const json_t *o, const char *field, const char *dir,
		    const char *owner, char **pem, size_t *len, ks_error *err)
{
	char key[64];
	snprintf(key, sizeof(key), "%s-data", field);
	const char *data = str(o, key);
	if (data) {
		if (ks_base64_decode(data, pem, len))
			return ks_error_set(err, KS_EINVAL,
					    "%s: %s is not valid base64", owner,
					    key);
		return 0;
	}
	const char *file = str(o, field);
	if (!file)
		return 0;
	char *path = ks_sync_resolve_path(dir, file);
	ks_error e2;
	int rc = ks_read_file(path, MAX_REF_FILE, pem, len, &e2);
	if (rc)
		ks_error_set(err, KS_EIO, "%s: %s: %s", owner, field, e2.msg);
	free(path);
	return rc ? KS_EIO : 0;
}

static char **string_list(const json_t *arr, size_t *n)
{
	*n = 0;
	if (!json_is_array(arr) || !json_array_size(arr))
		return NULL;
	char **v = ks_xcalloc(json_array_size(arr), sizeof(*v));
	size_t i;
	const json_t *e;
	json_array_foreach(arr, i, e)
	{
		if (json_is_string(e))
			v[(*n)++] = ks_xstrdup(json_string_value(e));
	}
	return v;
}

static int load_exec(ks_kube_config *c, const json_t *ex, const char *dir,
		     const char *owner, ks_error *err)
{
	const char *cmd = str(ex, "command");
	if (!cmd)
		return ks_error_set(err, KS_EINVAL,
				    "%s: exec: command is "
				    "required",
				    owner);
	ks_kube_exec *e = ks_xcalloc(1, sizeof(*e));
	c->exec = e;
	/* client-go resolves a relative command only when it names a path
	 * ("./bin/cred"); a bare name is looked up in $PATH. */
	e->command = strchr(cmd, '/') ? ks_sync_resolve_path(dir, cmd)
				      : ks_xstrdup(cmd);
	e->args = string_list(json_object_get(ex, "args"), &e->nargs);
	const json_t *env = json_object_get(ex, "env");
	if (json_array_size(env)) {
		e->env = ks_xcalloc(json_array_size(env), sizeof(*e->env));
		size_t i;
		const json_t *v;
		json_array_foreach(env, i, v)
		{
			const char *nm = str(v, "name");
			const char *val =
				json_string_value(json_object_get(v, "value"));
			if (nm)
				e->env[e->nenv++] = ks_xasprintf(
					"%s=%s", nm, val ? val : "");
		}
	}
	const char *av = str(ex, "apiVersion");
	e->api_version =
		ks_xstrdup(av ? av : "client.authentication.k8s.io/v1");
	e->provide_cluster_info = flag(ex, "provideClusterInfo");
	const char *hint = str(ex, "installHint");
	e->install_hint = hint ? ks_xstrdup(hint) : NULL;
	return 0;
}

static int load_cluster(ks_kube_config *c, const json_t *cl, const char *dir,
			const char *name, ks_error *err)
{
	char owner[300];
	snprintf(owner, sizeof(owner), "cluster \"%s\"", name);
	const char *server = str(cl, "server");
	if (!server)
		return ks_error_set(err, KS_EINVAL, "%s: server is required",
				    owner);
	size_t n = strlen(server);
	while (n > 0 && server[n - 1] == '/')
		n--;
	c->server = ks_xstrndup(server, n);
	c->insecure = flag(cl, "insecure-skip-tls-verify");
	c->disable_compression = flag(cl, "disable-compression");
	const char *sni = str(cl, "tls-server-name");
	c->tls_server_name = sni ? ks_xstrdup(sni) : NULL;
	const char *proxy = str(cl, "proxy-url");
	c->proxy_url = proxy ? ks_xstrdup(proxy) : NULL;
	return load_pem(cl, "certificate-authority", dir, owner, &c->ca_pem,
			&c->ca_len, err);
}

static int load_user(ks_kube_config *c, const json_t *u, const char *dir,
		     const char *name, ks_error *err)
{
	char owner[300];
	snprintf(owner, sizeof(owner), "user \"%s\"", name);
	int rc = load_pem(u, "client-certificate", dir, owner, &c->cert_pem,
			  &c->cert_len, err);
	if (!rc)
		rc = load_pem(u, "client-key", dir, owner, &c->key_pem,
			      &c->key_len, err);
	if (rc)
		return rc;
	if (!c->cert_pem != !c->key_pem)
		return ks_error_set(err, KS_EINVAL,
				    "%s: client-certificate and client-key "
				    "must be given together",
				    owner);
	const char *tok = str(u, "token");
	c->token = tok ? ks_xstrdup(tok) : NULL;
	const char *tf = str(u, "tokenFile");
	if (tf && !tok)
		c->token_file = ks_sync_resolve_path(dir, tf);
	const char *user = str(u, "username");
	if (user) {
		if (tok || tf)
			return ks_error_set(err, KS_EINVAL,
					    "%s: more than one authentication "
					    "method found (token and basic "
					    "auth); only one is allowed",
					    owner);
		c->username = ks_xstrdup(user);
		const char *pw = str(u, "password");
		c->password = ks_xstrdup(pw ? pw : "");
	}
	const char *as = str(u, "as");
	c->impersonate_user = as ? ks_xstrdup(as) : NULL;
	c->impersonate_groups = string_list(json_object_get(u, "as-groups"),
					    &c->nimpersonate_groups);
	const json_t *ex = json_object_get(u, "exec");
	if (json_is_object(ex))
		return load_exec(c, ex, dir, owner, err);
	if (json_object_get(u, "auth-provider") && !c->token &&
	    !c->token_file && !c->cert_pem && !c->username)
		return ks_error_set(err, KS_EINVAL,
				    "%s: auth-provider is not supported; use "
				    "an exec credential plugin",
				    owner);
	return 0;
}

int ks_kube_config_from_json(ks_kube_config **out, const json_t *const *docs,
			     const char *const *dirs, size_t ndocs,
			     const char *context, ks_error *err)
{
	struct source *src = ks_xcalloc(ndocs ? ndocs : 1, sizeof(*src));
	size_t n = 0;
	for (size_t i = 0; i < ndocs; i++) {
		if (!json_is_object(docs[i]))
			continue;
		src[n].doc = docs[i];
		src[n].dir = dirs ? dirs[i] : NULL;
		n++;
	}
	ks_kube_config *c = ks_xcalloc(1, sizeof(*c));
	int rc = 0;
	const char *ctx = context && *context ? context : NULL;
	for (size_t i = 0; !ctx && i < n; i++)
		ctx = str(src[i].doc, "current-context");
	if (!ctx) {
		rc = ks_error_set(err, KS_EENV,
				  "no context chosen: the kubeconfig has no "
				  "current-context and --context was not "
				  "given");
		goto out;
	}
	size_t which = 0;
	const json_t *cx =
		find_named(src, n, "contexts", "context", ctx, &which);
	if (!json_is_object(cx)) {
		rc = ks_error_set(err, KS_EINVAL,
				  "context \"%s\" not found in the kubeconfig",
				  ctx);
		goto out;
	}
	c->context = ks_xstrdup(ctx);
	const char *ns = str(cx, "namespace");
	c->namespace = ks_xstrdup(ns ? ns : "default");
	const char *cname = str(cx, "cluster");
	const char *uname = str(cx, "user");
	const json_t *cl =
		cname ? find_named(src, n, "clusters", "cluster", cname, &which)
		      : NULL;
	if (!json_is_object(cl)) {
		rc = ks_error_set(err, KS_EINVAL,
				  "context \"%s\": cluster \"%s\" not found",
				  ctx, cname ? cname : "");
		goto out;
	}
	rc = load_cluster(c, cl, src[which].dir, cname, err);
	if (rc)
		goto out;
	if (uname) {
		const json_t *u =
			find_named(src, n, "users", "user", uname, &which);
		if (!json_is_object(u)) {
			rc = ks_error_set(err, KS_EINVAL,
					  "context \"%s\": user \"%s\" not "
					  "found",
					  ctx, uname);
			goto out;
		}
		rc = load_user(c, u, src[which].dir, uname, err);
	}
out:
	free(src);
	if (rc) {
		ks_kube_config_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int ks_kube_config_in_cluster(ks_kube_config **out, const char *sa_dir,
			      ks_error *err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	if (!host || !*host || !port || !*port)
		return ks_error_set(err, KS_EENV,
				    "not running in a cluster: "
				    "KUBERNETES_SERVICE_HOST and "
				    "KUBERNETES_SERVICE_PORT must be set");
	if (!sa_dir)
		sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
	ks_kube_config *c = ks_xcalloc(1, sizeof(*c));
	c->in_cluster = true;
	bool v6 = strchr(host, ':') != NULL;
	c->server = ks_xasprintf("https://%s%s%s:%s", v6 ? "[" : "", host,
				 v6 ? "]" : "", port);
	c->token_file = ks_xasprintf("%s/token", sa_dir);
	char *path = ks_xasprintf("%s/ca.crt", sa_dir);
	ks_error e2;
	int rc = ks_read_file(path, MAX_REF_FILE, &c->ca_pem, &c->ca_len, &e2);
	free(path);
	if (rc) {
		ks_kube_config_free(c);
		return ks_error_set(err, KS_EENV,
				    "in-cluster certificate authority: %s",
				    e2.msg);
	}
	path = ks_xasprintf("%s/namespace", sa_dir);
	char *ns = NULL;
	size_t nslen = 0;
	if (!ks_read_file(path, 4096, &ns, &nslen, &e2)) {
		while (nslen && (ns[nslen - 1] == '\n' || ns[nslen - 1] == ' '))
			ns[--nslen] = '\0';
	}
	free(path);
	c->namespace = ns && *ns ? ns : ks_xstrdup("default");
	if (ns && !*ns)
		free(ns);
	*out = c;
	return 0;
}
