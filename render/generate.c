/*
 * ks_app -> the Spec resources of one app: the shared helpers of the
 * generators, name checks, and the final step that orders the resources
 * and fills id, dependsOn and extensions (spec/appconfiguration.md
 * § Rendering).
 */
#include "render/gen.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/values.h"
#include "core/banned.h"

/* The dependsOn order of spec/appconfiguration.md; kinds not listed come
 * after all of these. */
static const char *const kind_order[] = {
	"Namespace",
	"ResourceQuota",
	"StorageClass",
	"CustomResourceDefinition",
	"ServiceAccount",
	"Role",
	"ClusterRole",
	"RoleBinding",
	"ClusterRoleBinding",
	"ConfigMap",
	"Secret",
	"Endpoints",
	"Service",
	"LimitRange",
	"PriorityClass",
	"PersistentVolume",
	"PersistentVolumeClaim",
	"PodTransitionRule",
	"Deployment",
	"CollaSet",
	"StatefulSet",
	"Job",
	"CronJob",
	"PodDisruptionBudget",
	"ServiceMonitor",
	"PodMonitor",
};

#define NKINDS (sizeof(kind_order) / sizeof(kind_order[0]))

int ks_kind_rank(const char *kind)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (kind && !strcmp(kind, kind_order[i]))
			return (int)i;
	return (int)NKINDS;
}

char *ks_resource_id(const char *api_version, const char *kind, const char *ns,
		     const char *name)
{
	if (ns && *ns)
		return ks_xasprintf("%s:%s:%s:%s", api_version, kind, ns, name);
	return ks_xasprintf("%s:%s:%s", api_version, kind, name);
}

/* Go's schema.GroupVersionKind.String(): "apps/v1, Kind=Deployment", and
 * "/v1, Kind=Namespace" for the core group. */
static json_t *gvk_string(const char *api_version, const char *kind)
{
	const char *slash = strchr(api_version, '/');
	char *s = ks_xasprintf("%s%s, Kind=%s", slash ? "" : "/", api_version,
			       kind);
	json_t *v = json_string(s);
	free(s);
	return v;
}

json_t *ks_generate_namespace(const char *ns)
{
	char *id = ks_resource_id("v1", "Namespace", NULL, ns);
	json_t *attrs =
		json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "apiVersion", "v1",
			  "kind", "Namespace", "metadata", "name", ns, "labels",
			  "app.kubernetes.io/managed-by", "kusync");
	json_t *ext = json_object();
	json_object_set_new(ext, "GVK", gvk_string("v1", "Namespace"));
	json_t *r =
		json_pack("{s:s, s:s, s:o, s:o}", "id", id, "type",
			  "Kubernetes", "attributes", attrs, "extensions", ext);
	free(id);
	return r;
}

/* ---- helpers shared by the generators --------------------------------- */

void gen_add(ks_gen *g, json_t *attrs)
{
	if (g->nres == g->alloc) {
		g->alloc = g->alloc ? g->alloc * 2 : 16;
		g->res = ks_xrealloc(g->res, g->alloc * sizeof(*g->res));
	}
	const char *kind = json_string_value(json_object_get(attrs, "kind"));
	g->res[g->nres].attrs = attrs;
	g->res[g->nres].rank = ks_kind_rank(kind);
	g->res[g->nres].seq = g->nres;
	g->res[g->nres].id = NULL;
	g->nres++;
}

void gen_error(ks_gen *g, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ks_errlist_add(g->errs, g->app->where.file, g->app->where.mark.line,
		       g->app->where.mark.col, "%s: %s", g->app->name, msg);
	g->nerrors++;
}

char *gen_parts(const ks_gen *g, const char *extra)
{
	return ks_xasprintf("project \"%s\", stack \"%s\", app \"%s\"%s%s",
			    g->app->project, g->app->stack, g->app->name,
			    extra ? ", " : "", extra ? extra : "");
}

static bool check_length(ks_gen *g, const char *what, const char *name,
			 size_t max, const char *extra)
{
	if (strlen(name) <= max)
		return true;
	char *parts = gen_parts(g, extra);
	gen_error(g, "%s \"%s\" is longer than %zu characters (%s)", what, name,
		  max, parts);
	free(parts);
	return false;
}

static void report_shape(ks_gen *g, const char *what, const char *name,
			 const char *rule, const char *extra)
{
	char *parts = gen_parts(g, extra);
	gen_error(g, "%s \"%s\" is not %s (%s)", what, name, rule, parts);
	free(parts);
}

bool gen_check_dns1035(ks_gen *g, const char *what, const char *name,
		       const char *extra)
{
	if (!check_length(g, what, name, 63, extra))
		return false;
	if (ks_is_dns1035_label(name))
		return true;
	report_shape(g, what, name,
		     "a DNS-1035 label (lowercase letters, digits and '-', "
		     "starting with a letter)",
		     extra);
	return false;
}

bool gen_check_subdomain(ks_gen *g, const char *what, const char *name,
			 size_t max, const char *extra)
{
	if (!check_length(g, what, name, max, extra))
		return false;
	if (ks_is_dns1123_subdomain(name))
		return true;
	report_shape(g, what, name, "a DNS-1123 subdomain", extra);
	return false;
}

bool gen_check_dns1123_label(ks_gen *g, const char *what, const char *name,
			     const char *extra)
{
	if (!check_length(g, what, name, 63, extra))
		return false;
	if (ks_is_dns1123_label(name))
		return true;
	report_shape(g, what, name, "a DNS-1123 label", extra);
	return false;
}

json_t *gen_strmap(const ks_strmap *m)
{
	json_t *o = json_object();
	for (size_t i = 0; m && i < m->n; i++)
		json_object_set_new(o, m->items[i].key,
				    json_string(m->items[i].value));
	return o;
}

static int str_cmp(const void *pa, const void *pb)
{
	const char *const *a = pa, *const *b = pb;
	return strcmp(*a, *b);
}

json_t *gen_sorted(json_t *obj)
{
	size_t n = json_object_size(obj);
	const char **keys = ks_xcalloc(n + 1, sizeof(*keys));
	size_t i = 0;
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
	{
		(void)v;
		keys[i++] = k;
	}
	qsort(keys, n, sizeof(*keys), str_cmp);
	json_t *out = json_object();
	for (i = 0; i < n; i++)
		json_object_set(out, keys[i], json_object_get(obj, keys[i]));
	free(keys);
	json_decref(obj);
	return out;
}

json_t *gen_app_labels(const ks_gen *g)
{
	/* sorted by key, as every label map */
	return json_pack("{s:s, s:s, s:s}", "app.kubernetes.io/instance",
			 g->app->fullname, "app.kubernetes.io/name",
			 g->app->name, "app.kubernetes.io/part-of",
			 g->app->project);
}

json_t *gen_owner_labels(const ks_gen *g)
{
	return json_pack("{s:s, s:s, s:s}", "app.kubernetes.io/managed-by",
			 "kusync", "kusync.io/app", g->app->fullname,
			 "kusync.io/stack", g->stack_label);
}

json_t *gen_meta(const ks_gen *g, const char *name, const json_t *extra_labels,
		 const json_t *extra_ann)
{
	json_t *labels = gen_strmap(&g->app->labels);
	if (extra_labels)
		json_object_update(labels, (json_t *)extra_labels);
	json_t *owner = gen_owner_labels(g);
	json_object_update(labels, owner);
	json_decref(owner);
	json_t *ann = gen_strmap(&g->app->annotations);
	if (extra_ann)
		json_object_update(ann, (json_t *)extra_ann);
	json_t *m = json_object();
	json_object_set_new(m, "name", json_string(name));
	json_object_set_new(m, "namespace", json_string(g->ns));
	json_object_set_new(m, "labels", gen_sorted(labels));
	if (json_object_size(ann))
		json_object_set_new(m, "annotations", gen_sorted(ann));
	else
		json_decref(ann);
	return m;
}

json_t *gen_object(const char *api_version, const char *kind, json_t *meta)
{
	json_t *o = json_object();
	json_object_set_new(o, "apiVersion", json_string(api_version));
	json_object_set_new(o, "kind", json_string(kind));
	json_object_set_new(o, "metadata", meta);
	return o;
}

json_t *gen_env_secret(const char *name, const char *secret, const char *key)
{
	return json_pack("{s:s, s:{s:{s:s, s:s}}}", "name", name, "valueFrom",
			 "secretKeyRef", "name", secret, "key", key);
}

/* ---- ordering, ids and dependsOn -------------------------------------- */

static int res_cmp(const void *pa, const void *pb)
{
	const struct gen_res *a = pa, *b = pb;
	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static char *attrs_id(const json_t *attrs)
{
	const json_t *meta = json_object_get(attrs, "metadata");
	return ks_resource_id(
		json_string_value(json_object_get(attrs, "apiVersion")),
		json_string_value(json_object_get(attrs, "kind")),
		json_string_value(json_object_get(meta, "namespace")),
		json_string_value(json_object_get(meta, "name")));
}

/* Sorts the resources and gives each its id; two resources of the app
 * with one id (a workload secret named like a database's, say) would
 * overwrite each other in the cluster: an error. */
static void order(ks_gen *g)
{
	qsort(g->res, g->nres, sizeof(*g->res), res_cmp);
	for (size_t i = 0; i < g->nres; i++) {
		g->res[i].id = attrs_id(g->res[i].attrs);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(g->res[j].id, g->res[i].id))
				continue;
			char *parts = gen_parts(g, NULL);
			gen_error(g, "two resources have the id \"%s\" (%s)",
				  g->res[i].id, parts);
			free(parts);
			break;
		}
	}
}

/* Appends the entries to OUT, each depending on the Namespace and on
 * every earlier-ranked resource of the app. */
static void emit(ks_gen *g, json_t *out)
{
	char *ns_id = ks_resource_id("v1", "Namespace", NULL, g->ns);
	for (size_t i = 0; i < g->nres; i++) {
		json_t *attrs = g->res[i].attrs;
		json_t *deps = json_array();
		json_array_append_new(deps, json_string(ns_id));
		for (size_t j = 0; j < i && g->res[j].rank < g->res[i].rank;
		     j++)
			json_array_append_new(deps, json_string(g->res[j].id));
		const char *av =
			json_string_value(json_object_get(attrs, "apiVersion"));
		const char *kind =
			json_string_value(json_object_get(attrs, "kind"));
		json_t *ext = json_object();
		json_object_set_new(ext, "GVK", gvk_string(av, kind));
		json_object_set_new(ext, "kusync.io/app",
				    json_string(g->app->fullname));
		json_array_append_new(
			out, json_pack("{s:s, s:s, s:o, s:o, s:o}", "id",
				       g->res[i].id, "type", "Kubernetes",
				       "attributes", attrs, "dependsOn", deps,
				       "extensions", ext));
		g->res[i].attrs = NULL;
	}
	free(ns_id);
}

static const ks_workspace_view *default_view(void)
{
	static const ks_workspace_view v = {
		.service_type = KS_ST_DEPLOYMENT,
		.service_replicas = 2,
		.job_replicas = 1,
		.interval = "30s",
		.timeout = "15s",
		.scheme = "http",
		.mysql_username = "root",
		.postgres_username = "root",
		.mysql_size = 10,
		.postgres_size = 10,
	};
	return &v;
}

static void choose_opsrule(ks_gen *g)
{
	if (g->app->opsRule.present)
		g->opsrule = g->app->opsRule;
	else if (g->app->workload.kind == KS_WL_SERVICE &&
		 g->ws->opsRule.present)
		g->opsrule = g->ws->opsRule;
}

int ks_generate_app(json_t *resources, const ks_app *app,
		    const ks_workspace_view *ws, const char *ns,
		    ks_errlist *errs)
{
	ks_gen g;
	memset(&g, 0, sizeof(g));
	g.app = app;
	g.ws = ws ? ws : default_view();
	g.ns = ns;
	g.errs = errs;
	char *stack_label = ks_xasprintf("%s-%s", app->project, app->stack);
	g.stack_label = stack_label;
	const char *why = ks_label_value_problem(stack_label);
	if (why) {
		char *parts = gen_parts(&g, NULL);
		gen_error(&g, "label value \"%s\" of kusync.io/stack %s (%s)",
			  stack_label, why, parts);
		free(parts);
	}
	choose_opsrule(&g);
	gen_monitoring_prepare(&g);
	gen_databases(&g);
	gen_workloads(&g);
	gen_services(&g);
	gen_secrets(&g);
	gen_monitors(&g);
	order(&g);
	if (!g.nerrors)
		emit(&g, resources);
	for (size_t i = 0; i < g.nres; i++) {
		json_decref(g.res[i].attrs);
		free(g.res[i].id);
	}
	free(g.res);
	json_decref(g.mon_labels);
	json_decref(g.mon_annotations);
	free(stack_label);
	return g.nerrors ? KS_EINVAL : 0;
}
