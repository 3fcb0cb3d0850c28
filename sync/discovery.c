/*
 * The discovery cache: kind -> resource, per group/version, refreshed when a
 * kind is missing.
 */
#include "sync/kube.h"

#include <stdlib.h>
#include <string.h>

#include "sync/client_internal.h"
#include "core/banned.h"

void ks_kube_discovery_release(ks_kube_client *c)
{
	for (size_t i = 0; i < c->ndisc; i++) {
		free(c->disc[i].api_version);
		free(c->disc[i].kind);
		free(c->disc[i].name);
	}
	free(c->disc);
	for (size_t i = 0; i < c->nfetched; i++)
		free(c->fetched_gv[i]);
	free(c->fetched_gv);
}

static unsigned verb_bits(const json_t *verbs)
{
	static const char *const names[] = {
		"get",	  "list",  "watch",  "create",
		"update", "patch", "delete", "deletecollection"};
	unsigned bits = 0;
	size_t i;
	const json_t *v;
	json_array_foreach(verbs, i, v)
	{
		const char *s = json_string_value(v);
		for (unsigned k = 0; s && k < 8; k++)
			if (!strcmp(s, names[k]))
				bits |= 1u << k;
	}
	return bits;
}

/* Under c->mu. */
static struct ks_disc_entry *find_locked(ks_kube_client *c, const char *gv,
					 const char *kind)
{
	for (size_t i = 0; i < c->ndisc; i++)
		if (!strcmp(c->disc[i].api_version, gv) &&
		    !strcmp(c->disc[i].kind, kind))
			return &c->disc[i];
	return NULL;
}

static void mark_fetched_locked(ks_kube_client *c, const char *gv)
{
	for (size_t i = 0; i < c->nfetched; i++)
		if (!strcmp(c->fetched_gv[i], gv))
			return;
	c->fetched_gv =
		ks_xrealloc(c->fetched_gv, (c->nfetched + 1) * sizeof(char *));
	c->fetched_gv[c->nfetched++] = ks_xstrdup(gv);
}

int ks_kube_discovery_add(ks_kube_client *c, const json_t *list, ks_error *err)
{
	const char *gv =
		json_string_value(json_object_get(list, "groupVersion"));
	const json_t *res = json_object_get(list, "resources");
	if (!gv || !json_is_array(res))
		return ks_error_set(err, KS_EENV,
				    "discovery: not an APIResourceList");
	pthread_mutex_lock(&c->mu);
	size_t i;
	const json_t *r;
	json_array_foreach(res, i, r)
	{
		const char *name =
			json_string_value(json_object_get(r, "name"));
		const char *kind =
			json_string_value(json_object_get(r, "kind"));
		if (!name || !kind || strchr(name, '/'))
			continue;
		struct ks_disc_entry *e = find_locked(c, gv, kind);
		/* Callers hold borrowed pointers to an entry's strings, so an
		 * existing entry keeps them (a kind does not change its plural
		 * within a group/version); only its flags are refreshed. */
		if (!e) {
			if (c->ndisc == c->adisc) {
				c->adisc = c->adisc ? 2 * c->adisc : 64;
				c->disc = ks_xrealloc(
					c->disc, c->adisc * sizeof(*c->disc));
			}
			e = &c->disc[c->ndisc++];
			e->api_version = ks_xstrdup(gv);
			e->kind = ks_xstrdup(kind);
			e->name = ks_xstrdup(name);
		}
		e->namespaced = json_is_true(json_object_get(r, "namespaced"));
		e->verbs = verb_bits(json_object_get(r, "verbs"));
	}
	mark_fetched_locked(c, gv);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

static bool lookup(ks_kube_client *c, const char *gv, const char *kind,
		   ks_kube_resource *out, bool *fetched)
{
	pthread_mutex_lock(&c->mu);
	struct ks_disc_entry *e = find_locked(c, gv, kind);
	if (e) {
		out->api_version = e->api_version;
		out->kind = e->kind;
		out->name = e->name;
		out->namespaced = e->namespaced;
		out->verbs = e->verbs;
	}
	*fetched = false;
	for (size_t i = 0; i < c->nfetched; i++)
		if (!strcmp(c->fetched_gv[i], gv))
			*fetched = true;
	pthread_mutex_unlock(&c->mu);
	return e != NULL;
}

int ks_kube_discover(ks_kube_client *c, const char *api_version,
		     const char *kind, ks_kube_resource *out, ks_error *err)
{
	bool fetched;
	if (lookup(c, api_version, kind, out, &fetched))
		return 0;
	char *path = strchr(api_version, '/')
			     ? ks_xasprintf("/apis/%s", api_version)
			     : ks_xasprintf("/api/%s", api_version);
	char what[300];
	snprintf(what, sizeof(what), "discovery of \"%s\"", api_version);
	ks_kube_req req = {.method = "GET", .path = path, .what = what};
	ks_kube_resp resp;
	int rc = ks_kube_request(c, &req, &resp, err);
	free(path);
	if (rc == KS_ENOTFOUND) {
		rc = ks_error_set(err, KS_ENOTFOUND,
				  "the server does not serve \"%s\" (no "
				  "resource for kind \"%s\")",
				  api_version, kind);
	} else if (!rc) {
		rc = ks_kube_discovery_add(c, resp.json, err);
	}
	ks_kube_resp_release(&resp);
	if (rc)
		return rc;
	if (lookup(c, api_version, kind, out, &fetched))
		return 0;
	return ks_error_set(err, KS_ENOTFOUND,
			    "no resource for kind \"%s\" in \"%s\"", kind,
			    api_version);
}

char *ks_kube_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = ks_xmalloc(3 * n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '~') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
	return out;
}

char *ks_kube_path(const ks_kube_resource *r, const char *ns, const char *name)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_buf_printf(&b, "%s/%s",
		      strchr(r->api_version, '/') ? "/apis" : "/api",
		      r->api_version);
	if (r->namespaced && ns && *ns) {
		char *e = ks_kube_escape(ns);
		ks_buf_printf(&b, "/namespaces/%s", e);
		free(e);
	}
	ks_buf_printf(&b, "/%s", r->name);
	if (name) {
		char *e = ks_kube_escape(name);
		ks_buf_printf(&b, "/%s", e);
		free(e);
	}
	return ks_buf_detach(&b, NULL);
}

int ks_kube_list(ks_kube_client *c, const ks_kube_resource *r, const char *ns,
		 const char *label_selector, json_t **out, ks_error *err)
{
	char *base = ks_kube_path(r, ns, NULL);
	char *sel = label_selector ? ks_kube_escape(label_selector) : NULL;
	json_t *items = json_array();
	char *cont = NULL;
	int rc = 0;
	char what[300];
	snprintf(what, sizeof(what), "list %s", r->name);
	for (int page = 0; page < 100000; page++) {
		char *path = ks_xasprintf(
			"%s?limit=500%s%s%s%s", base,
			sel ? "&labelSelector=" : "", sel ? sel : "",
			cont ? "&continue=" : "", cont ? cont : "");
		ks_kube_req req = {.method = "GET", .path = path, .what = what};
		ks_kube_resp resp;
		rc = ks_kube_request(c, &req, &resp, err);
		free(path);
		free(cont);
		cont = NULL;
		const json_t *its = json_object_get(resp.json, "items");
		if (!rc && !resp.json)
			rc = ks_error_set(err, KS_EENV,
					  "%s: the answer is not JSON "
					  "(garbled, cut short or a web page)",
					  what);
		else if (!rc && !json_is_array(its))
			rc = ks_error_set(err, KS_EENV,
					  "%s: the answer is not a list", what);
		if (!rc) {
			size_t i;
			json_t *it;
			json_array_foreach(its, i, it)
			{
				/* An item without a name could not be told
				 * apart, and deleting it would address the
				 * whole collection: refuse the answer. */
				const char *nm =
					json_string_value(json_object_get(
						json_object_get(it, "metadata"),
						"name"));
				if (!json_is_object(it) || !nm || !*nm) {
					rc = ks_error_set(err, KS_EENV,
							  "%s: item %zu has no "
							  "metadata.name",
							  what, i);
					break;
				}
				json_t *o = json_deep_copy(it);
				json_object_set_new(
					o, "apiVersion",
					json_string(r->api_version));
				json_object_set_new(o, "kind",
						    json_string(r->kind));
				json_array_append_new(items, o);
			}
			const char *next = json_string_value(json_object_get(
				json_object_get(resp.json, "metadata"),
				"continue"));
			if (!rc && next && *next)
				cont = ks_kube_escape(next);
		}
		ks_kube_resp_release(&resp);
		if (rc || !cont)
			break;
	}
	free(cont);
	free(base);
	free(sel);
	if (rc) {
		json_decref(items);
		return rc;
	}
	*out = items;
	return 0;
}
