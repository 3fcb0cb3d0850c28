/*
 * Reading kubeconfig files from disk (YAML), kept apart from the resolution
 * in kubeconfig.c so that the latter can be tested without files.
 */
#include "sync/kube.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/doc.h"
#include "core/yaml.h"
#include "sync/internal.h"
#include "core/banned.h"

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return ks_xstrdup(".");
	if (slash == path)
		return ks_xstrdup("/");
	return ks_xstrndup(path, (size_t)(slash - path));
}

static int load_files(ks_kube_config **out, char **paths, size_t n,
		      const char *context, ks_error *err)
{
	ks_doc **docs = ks_xcalloc(n, sizeof(*docs));
	const json_t **roots = ks_xcalloc(n, sizeof(*roots));
	char **dirs = ks_xcalloc(n, sizeof(*dirs));
	size_t m = 0;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		struct stat st;
		/* kubectl skips entries of $KUBECONFIG that do not exist. */
		if (stat(paths[i], &st) != 0)
			continue;
		ks_errlist *errs = ks_errlist_new();
		if (ks_yaml_load_file(&docs[m], paths[i], NULL, 0, errs)) {
			const char *first = ks_errlist_count(errs)
						    ? ks_errlist_get(errs, 0)
						    : paths[i];
			rc = ks_error_set(err, KS_EINVAL, "kubeconfig %s",
					  first);
		} else {
			roots[m] = ks_doc_root(docs[m]);
			dirs[m] = dir_of(paths[i]);
			m++;
		}
		ks_errlist_free(errs);
	}
	if (!rc && m == 0)
		rc = ks_error_set(err, KS_EENV, "no kubeconfig file found (%s)",
				  n ? paths[0] : "");
	if (!rc)
		rc = ks_kube_config_from_json(
			out, roots, (const char *const *)dirs, m, context, err);
	for (size_t i = 0; i < m; i++) {
		ks_doc_free(docs[i]);
		free(dirs[i]);
	}
	free(docs);
	free(roots);
	free(dirs);
	return rc;
}

int ks_kube_config_load(ks_kube_config **out, const char *kubeconfig,
			const char *context, ks_error *err)
{
	char **paths = NULL;
	size_t n = 0;
	int rc;
	const char *env = getenv("KUBECONFIG");
	if (kubeconfig && *kubeconfig) {
		struct stat st;
		if (stat(kubeconfig, &st) != 0)
			return ks_error_set(err, KS_EENV,
					    "kubeconfig \"%s\" does not exist",
					    kubeconfig);
		paths = ks_xcalloc(1, sizeof(*paths));
		paths[n++] = ks_xstrdup(kubeconfig);
	} else if (env && *env) {
		paths = ks_xcalloc(strlen(env) + 1, sizeof(*paths));
		const char *p = env;
		while (*p) {
			const char *e = strchr(p, ':');
			size_t len = e ? (size_t)(e - p) : strlen(p);
			if (len)
				paths[n++] = ks_xstrndup(p, len);
			p += len + (e ? 1 : 0);
		}
	} else {
		const char *home = getenv("HOME");
		char *def = ks_xasprintf("%s/.kube/config", home ? home : "");
		struct stat st;
		if (home && stat(def, &st) == 0) {
			paths = ks_xcalloc(1, sizeof(*paths));
			paths[n++] = def;
		} else {
			free(def);
			rc = ks_kube_config_in_cluster(out, NULL, err);
			if (rc)
				ks_error_set(err, KS_EENV,
					     "no cluster configured: no "
					     "--kubeconfig, $KUBECONFIG or "
					     "~/.kube/config, and not in a "
					     "cluster");
			return rc;
		}
	}
	rc = load_files(out, paths, n, context, err);
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return rc;
}
