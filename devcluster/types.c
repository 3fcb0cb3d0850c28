/*
 * The resource types devcluster serves, discovery and the minimal OpenAPI
 * v3 that kubectl apply needs.
 */
#include "devcluster/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#include "core/mem.h"
#include "core/banned.h"

struct builtin {
	const char *group, *version, *resource, *kind, *short_names;
	bool namespaced, all, status, scale, generation, create_on_update,
		require_rv, builtin;
	const char *fields;
	const char *hash;
};

#define OBJ_FIELDS "spec status"

/* clang-format off */
static const struct builtin builtins[] = {
	{"", "v1", "namespaces", "Namespace", "ns", false, false, true, false, false, false, false, true, OBJ_FIELDS, "Q3oi5N2YM8M="},
	{"", "v1", "configmaps", "ConfigMap", "cm", true, false, false, false, false, false, false, true, "data binaryData immutable", "qFsyl6wFWjQ="},
	{"", "v1", "endpoints", "Endpoints", "ep", true, false, false, false, false, true, false, true, "subsets", "fWeeMqaN/OA="},
	{"", "v1", "events", "Event", "ev", true, false, false, false, false, true, false, true, "involvedObject reason message source firstTimestamp lastTimestamp count type eventTime series action related reportingComponent reportingInstance", "r2yiGXH7wu8="},
	{"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", "pvc", true, false, true, false, false, false, false, true, OBJ_FIELDS, "QWTyNDq0dC4="},
	{"", "v1", "pods", "Pod", "po", true, true, true, false, false, false, false, true, OBJ_FIELDS, "xPOwRZ+Yhw8="},
	{"", "v1", "secrets", "Secret", "", true, false, false, false, false, false, false, true, "data stringData type immutable", "S6u1pOWzb84="},
	{"", "v1", "serviceaccounts", "ServiceAccount", "sa", true, false, false, false, false, false, false, true, "secrets imagePullSecrets automountServiceAccountToken", "pbx9ZvyFpBE="},
	{"", "v1", "services", "Service", "svc", true, true, true, false, false, true, false, true, OBJ_FIELDS, "0/CO1lhkEBI="},
	{"apps", "v1", "daemonsets", "DaemonSet", "ds", true, true, true, false, true, false, false, true, OBJ_FIELDS, "dd7pWHUlMKQ="},
	{"apps", "v1", "deployments", "Deployment", "deploy", true, true, true, true, true, false, false, true, OBJ_FIELDS, "8aSe+NMegvE="},
	{"apps", "v1", "replicasets", "ReplicaSet", "rs", true, true, true, true, true, false, false, true, OBJ_FIELDS, "P1RzHs8/mWQ="},
	{"apps", "v1", "statefulsets", "StatefulSet", "sts", true, true, true, true, true, false, false, true, OBJ_FIELDS, "H+vl74LkKdo="},
	{"batch", "v1", "cronjobs", "CronJob", "cj", true, true, true, false, true, false, false, true, OBJ_FIELDS, "sd5LIXh4Fjs="},
	{"batch", "v1", "jobs", "Job", "", true, true, true, false, true, false, false, true, OBJ_FIELDS, "mudhfqk/qZY="},
	{"coordination.k8s.io", "v1", "leases", "Lease", "", true, false, false, false, false, true, true, true, "spec", "gqkMMb/YqFM="},
	{"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", "", true, false, false, false, false, false, false, true, "addressType endpoints ports", "Nx3SIv6I0mE="},
	{"networking.k8s.io", "v1", "ingresses", "Ingress", "ing", true, false, true, false, true, false, false, true, OBJ_FIELDS, "39NQlfNR+bo="},
	{"apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", "crd,crds", false, false, true, false, true, false, false, true, OBJ_FIELDS, "jfWCUB31mvA="},
	{"apps.kusionstack.io", "v1alpha1", "collasets", "CollaSet", "cls", true, false, true, false, true, false, false, false, NULL, NULL},
	{"apps.kusionstack.io", "v1alpha1", "podtransitionrules", "PodTransitionRule", "rules", true, false, true, false, true, false, false, false, NULL, NULL},
	{"monitoring.coreos.com", "v1", "servicemonitors", "ServiceMonitor", "smon", true, false, false, false, true, false, false, false, NULL, NULL},
	{"monitoring.coreos.com", "v1", "podmonitors", "PodMonitor", "pmon", true, false, false, false, true, false, false, false, NULL, NULL},
};
/* clang-format on */

static char *make_hash(const char *group, const char *version, const char *kind)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				  "qrstuvwxyz0123456789+/";
	char *s = ks_xasprintf("%s/%s/%s", group, version, kind);
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)s, strlen(s), md);
	free(s);
	/* eight bytes of the digest in base64, like the real hash's shape */
	unsigned char b[9] = {0};
	memcpy(b, md, 8);
	char out[13];
	int o = 0;
	for (int i = 0; i < 9; i += 3) {
		unsigned v = ((unsigned)b[i] << 16) |
			     ((unsigned)b[i + 1] << 8) | b[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
		out[o++] = b64[v & 63];
	}
	out[11] = '=';
	out[12] = '\0';
	return ks_xstrdup(out);
}

static dc_type *type_new(const char *group, const char *version,
			 const char *resource, const char *kind)
{
	dc_type *t = ks_xcalloc(1, sizeof(*t));
	t->group = ks_xstrdup(group);
	t->version = ks_xstrdup(version);
	t->resource = ks_xstrdup(resource);
	t->kind = ks_xstrdup(kind);
	t->api_version = *group ? ks_xasprintf("%s/%s", group, version)
				: ks_xstrdup(version);
	t->objects = json_object();
	return t;
}

static void type_free(dc_type *t)
{
	if (!t)
		return;
	free(t->group);
	free(t->version);
	free(t->resource);
	free(t->kind);
	free(t->singular);
	free(t->short_names);
	free(t->api_version);
	free(t->hash);
	json_decref(t->objects);
	free(t);
}

static void add_type(ks_devcluster *dc, dc_type *t)
{
	dc->types =
		ks_xrealloc(dc->types, (dc->ntypes + 1) * sizeof(dc_type *));
	dc->types[dc->ntypes++] = t;
}

void dc_types_init(ks_devcluster *dc)
{
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		const struct builtin *b = &builtins[i];
		dc_type *t =
			type_new(b->group, b->version, b->resource, b->kind);
		t->short_names = ks_xstrdup(b->short_names);
		t->namespaced = b->namespaced;
		t->all_category = b->all;
		t->status_sub = b->status;
		t->scale_sub = b->scale;
		t->generation = b->generation;
		t->create_on_update = b->create_on_update;
		t->require_rv = b->require_rv;
		t->builtin = b->builtin;
		t->fields = b->fields;
		if (b->builtin) {
			t->singular = ks_xstrdup("");
		} else {
			/* kinds of well-known CRDs: singular is the lower
			 * kind, as a CRD's names say */
			char *s = ks_xstrdup(b->kind);
			for (char *p = s; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
			t->singular = s;
		}
		t->hash = b->hash ? ks_xstrdup(b->hash)
				  : make_hash(b->group, b->version, b->kind);
		add_type(dc, t);
	}
}

void dc_types_free(ks_devcluster *dc)
{
	for (size_t i = 0; i < dc->ntypes; i++)
		type_free(dc->types[i]);
	free(dc->types);
	dc->types = NULL;
	dc->ntypes = 0;
}

dc_type *dc_type_find(ks_devcluster *dc, const char *group, const char *version,
		      const char *resource)
{
	for (size_t i = 0; i < dc->ntypes; i++) {
		dc_type *t = dc->types[i];
		if (!strcmp(t->group, group) && !strcmp(t->version, version) &&
		    !strcmp(t->resource, resource))
			return t;
	}
	return NULL;
}

dc_type *dc_type_by_kind(ks_devcluster *dc, const char *api_version,
			 const char *kind)
{
	for (size_t i = 0; i < dc->ntypes; i++) {
		dc_type *t = dc->types[i];
		if (!strcmp(t->api_version, api_version) &&
		    !strcmp(t->kind, kind))
			return t;
	}
	return NULL;
}

bool dc_gv_exists(ks_devcluster *dc, const char *group, const char *version)
{
	for (size_t i = 0; i < dc->ntypes; i++)
		if (!strcmp(dc->types[i]->group, group) &&
		    !strcmp(dc->types[i]->version, version))
			return true;
	return false;
}

char *dc_type_qualified(const dc_type *t)
{
	if (!*t->group)
		return ks_xstrdup(t->resource);
	return ks_xasprintf("%s.%s", t->resource, t->group);
}

/* ---- CRDs ---- */

static bool crd_established(const json_t *crd)
{
	json_t *conds =
		json_object_get(json_object_get(crd, "status"), "conditions");
	size_t i;
	json_t *c;
	json_array_foreach(conds, i, c)
	{
		if (!strcmp(dc_jstr(c, "type"), "Established") &&
		    !strcmp(dc_jstr(c, "status"), "True"))
			return true;
	}
	return false;
}

static void remove_type_at(ks_devcluster *dc, size_t i)
{
	dc_type *t = dc->types[i];
	dc_watches_drop_type(dc, t);
	type_free(t);
	memmove(&dc->types[i], &dc->types[i + 1],
		(dc->ntypes - i - 1) * sizeof(dc_type *));
	dc->ntypes--;
	dc->types_gen++;
}

static bool version_served(const json_t *spec, const char *ver)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(spec, "versions"), i, v)
	{
		if (!strcmp(dc_jstr(v, "name"), ver) &&
		    json_is_true(json_object_get(v, "served")))
			return true;
	}
	return false;
}

static void crd_version_type(ks_devcluster *dc, const json_t *spec,
			     const json_t *v)
{
	const char *group = dc_jstr(spec, "group");
	json_t *names = json_object_get(spec, "names");
	const char *plural = dc_jstr(names, "plural");
	const char *ver = dc_jstr(v, "name");
	dc_type *t = dc_type_find(dc, group, ver, plural);
	if (t && !t->custom)
		return; /* a built-in of the same name wins */
	if (!t) {
		t = type_new(group, ver, plural, dc_jstr(names, "kind"));
		t->custom = true;
		t->generation = true;
		t->hash = make_hash(group, ver, t->kind);
		add_type(dc, t);
		dc->types_gen++;
	}
	const char *scope = dc_jstr(spec, "scope");
	t->namespaced = strcmp(scope, "Cluster") != 0;
	free(t->singular);
	t->singular = ks_xstrdup(dc_jstr(names, "singular"));
	ks_buf sn;
	ks_buf_init(&sn, 0);
	size_t j;
	json_t *s;
	json_array_foreach(json_object_get(names, "shortNames"), j, s)
	{
		if (sn.len)
			ks_buf_puts(&sn, ",");
		ks_buf_puts(&sn, dc_str(s));
	}
	free(t->short_names);
	t->short_names = ks_buf_detach(&sn, NULL);
	t->all_category = false;
	json_array_foreach(json_object_get(names, "categories"), j, s)
	{
		if (!strcmp(dc_str(s), "all"))
			t->all_category = true;
	}
	json_t *sub = json_object_get(v, "subresources");
	t->status_sub = json_object_get(sub, "status") != NULL;
	t->scale_sub = json_object_get(sub, "scale") != NULL;
}

void dc_types_crd_changed(ks_devcluster *dc, const json_t *crd, bool deleted)
{
	json_t *spec = json_object_get(crd, "spec");
	const char *group = dc_jstr(spec, "group");
	const char *plural = dc_jstr(json_object_get(spec, "names"), "plural");
	if (!*group || !*plural)
		return;
	bool live = !deleted && crd_established(crd);
	for (size_t i = 0; i < dc->ntypes;) {
		dc_type *t = dc->types[i];
		if (t->custom && !strcmp(t->group, group) &&
		    !strcmp(t->resource, plural) &&
		    (!live || !version_served(spec, t->version)))
			remove_type_at(dc, i);
		else
			i++;
	}
	if (!live)
		return;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(spec, "versions"), i, v)
	{
		if (json_is_true(json_object_get(v, "served")))
			crd_version_type(dc, spec, v);
	}
}

/* ---- discovery ---- */

json_t *dc_discovery_api(ks_devcluster *dc)
{
	(void)dc;
	return json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions",
			 "versions", "v1", "serverAddressByClientCIDRs",
			 "clientCIDR", "0.0.0.0/0", "serverAddress",
			 dc->url + (strncmp(dc->url, "https", 5) ? 7 : 8));
}

/* The groups in first-seen order, each once, with its versions. */
static json_t *group_json(ks_devcluster *dc, const char *group)
{
	json_t *versions = json_array();
	for (size_t i = 0; i < dc->ntypes; i++) {
		dc_type *t = dc->types[i];
		if (strcmp(t->group, group))
			continue;
		bool seen = false;
		size_t j;
		json_t *v;
		json_array_foreach(versions, j, v)
		{
			if (!strcmp(json_string_value(
					    json_object_get(v, "version")),
				    t->version))
				seen = true;
		}
		if (!seen)
			json_array_append_new(versions,
					      json_pack("{s:s, s:s}",
							"groupVersion",
							t->api_version,
							"version", t->version));
	}
	if (json_array_size(versions) == 0) {
		json_decref(versions);
		return NULL;
	}
	json_t *pref = json_deep_copy(json_array_get(versions, 0));
	return json_pack("{s:s, s:o, s:o}", "name", group, "versions", versions,
			 "preferredVersion", pref);
}

json_t *dc_discovery_apis(ks_devcluster *dc)
{
	json_t *groups = json_array();
	json_t *seen = json_object();
	for (size_t i = 0; i < dc->ntypes; i++) {
		dc_type *t = dc->types[i];
		if (!*t->group || json_object_get(seen, t->group))
			continue;
		json_object_set_new(seen, t->group, json_true());
		json_array_append_new(groups, group_json(dc, t->group));
	}
	json_decref(seen);
	return json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList",
			 "apiVersion", "v1", "groups", groups);
}

json_t *dc_discovery_group(ks_devcluster *dc, const char *group)
{
	json_t *g = group_json(dc, group);
	if (!g)
		return NULL;
	json_t *out =
		json_pack("{s:s, s:s}", "kind", "APIGroup", "apiVersion", "v1");
	json_object_update(out, g);
	json_decref(g);
	return out;
}

static json_t *verbs_json(const dc_type *t)
{
	if (t->custom || !t->builtin)
		return json_pack("[s,s,s,s,s,s,s,s]", "delete",
				 "deletecollection", "get", "list", "patch",
				 "create", "update", "watch");
	if (!strcmp(t->resource, "namespaces"))
		return json_pack("[s,s,s,s,s,s,s]", "create", "delete", "get",
				 "list", "patch", "update", "watch");
	return json_pack("[s,s,s,s,s,s,s,s]", "create", "delete",
			 "deletecollection", "get", "list", "patch", "update",
			 "watch");
}

static json_t *split_commas(const char *s)
{
	json_t *a = json_array();
	while (s && *s) {
		const char *c = strchr(s, ',');
		size_t n = c ? (size_t)(c - s) : strlen(s);
		json_array_append_new(a, json_stringn(s, n));
		s = c ? c + 1 : NULL;
	}
	return a;
}

json_t *dc_discovery_resources(ks_devcluster *dc, const char *group,
			       const char *version)
{
	if (!dc_gv_exists(dc, group, version))
		return NULL;
	json_t *res = json_array();
	for (size_t i = 0; i < dc->ntypes; i++) {
		dc_type *t = dc->types[i];
		if (strcmp(t->group, group) || strcmp(t->version, version))
			continue;
		json_t *r = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name",
				      t->resource, "singularName", t->singular,
				      "namespaced", t->namespaced, "kind",
				      t->kind, "verbs", verbs_json(t));
		if (t->short_names && *t->short_names)
			json_object_set_new(r, "shortNames",
					    split_commas(t->short_names));
		if (t->all_category)
			json_object_set_new(r, "categories",
					    json_pack("[s]", "all"));
		json_object_set_new(r, "storageVersionHash",
				    json_string(t->hash));
		json_array_append_new(res, r);
		if (t->scale_sub)
			json_array_append_new(
				res,
				json_pack("{s:s+, s:s, s:b, s:s, s:s, s:s, "
					  "s:[s,s,s]}",
					  "name", t->resource, "/scale",
					  "singularName", "", "namespaced",
					  t->namespaced, "group", "autoscaling",
					  "version", "v1", "kind", "Scale",
					  "verbs", "get", "patch", "update"));
		if (t->status_sub)
			json_array_append_new(
				res,
				json_pack("{s:s+, s:s, s:b, s:s, "
					  "s:[s,s,s]}",
					  "name", t->resource, "/status",
					  "singularName", "", "namespaced",
					  t->namespaced, "kind", t->kind,
					  "verbs", "get", "patch", "update"));
	}
	return json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList",
			 "apiVersion", "v1", "groupVersion",
			 dc_gv_string(group, version), "resources", res);
}

/* ---- OpenAPI v3 ---- */

static char *gv_path(const char *group, const char *version)
{
	if (!*group)
		return ks_xasprintf("api/%s", version);
	return ks_xasprintf("apis/%s/%s", group, version);
}

json_t *dc_openapi_index(ks_devcluster *dc)
{
	json_t *paths = json_object();
	for (size_t i = 0; i < dc->ntypes; i++) {
		dc_type *t = dc->types[i];
		char *p = gv_path(t->group, t->version);
		if (!json_object_get(paths, p)) {
			/* the hash changes when the group's types change */
			char *url = ks_xasprintf("/openapi/v3/%s?hash=%zu-%u",
						 p, dc->ntypes, dc->types_gen);
			json_object_set_new(
				paths, p,
				json_pack("{s:s}", "serverRelativeURL", url));
			free(url);
		}
		free(p);
	}
	return json_pack("{s:o}", "paths", paths);
}

static json_t *openapi_op(const dc_type *t, const char *action)
{
	return json_pack("{s:[{s:s, s:s, s:{s:s, s:b}}], s:s, "
			 "s:{s:s, s:s, s:s}, s:{}}",
			 "parameters", "name", "fieldValidation", "in", "query",
			 "schema", "type", "string", "uniqueItems", 1,
			 "x-kubernetes-action", action,
			 "x-kubernetes-group-version-kind", "group", t->group,
			 "version", t->version, "kind", t->kind, "responses");
}

json_t *dc_openapi_doc(ks_devcluster *dc, const char *group,
		       const char *version)
{
	if (!dc_gv_exists(dc, group, version))
		return NULL;
	json_t *paths = json_object();
	char *base = gv_path(group, version);
	for (size_t i = 0; i < dc->ntypes; i++) {
		dc_type *t = dc->types[i];
		if (strcmp(t->group, group) || strcmp(t->version, version))
			continue;
		char *coll =
			t->namespaced
				? ks_xasprintf("/%s/namespaces/{namespace}/%s",
					       base, t->resource)
				: ks_xasprintf("/%s/%s", base, t->resource);
		char *item = ks_xasprintf("%s/{name}", coll);
		json_object_set_new(paths, item,
				    json_pack("{s:o, s:o}", "patch",
					      openapi_op(t, "patch"), "put",
					      openapi_op(t, "put")));
		json_object_set_new(
			paths, coll,
			json_pack("{s:o}", "post", openapi_op(t, "post")));
		free(coll);
		free(item);
	}
	free(base);
	return json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:{}}}", "openapi",
			 "3.0.0", "info", "title", "Kubernetes", "version",
			 "v1.30.0", "paths", paths, "components", "schemas");
}
