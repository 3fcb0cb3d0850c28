/*
 * Plans and drift reports from a Spec and live objects.
 */
#include "sync/plan.h"

#include <stdlib.h>
#include <string.h>

#include "sync/internal.h"
#include "core/banned.h"

const char *ks_sync_action_name(ks_sync_action a)
{
	switch (a) {
	case KS_ACT_CREATE:
		return "create";
	case KS_ACT_UPDATE:
		return "update";
	case KS_ACT_UNCHANGED:
		return "unchanged";
	case KS_ACT_DELETE:
		return "delete";
	case KS_ACT_ORPHAN:
		return "orphan";
	}
	return "?";
}

static void add_unique(char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i], s))
			return;
	*v = ks_xrealloc(*v, (*n + 1) * sizeof(char *));
	(*v)[(*n)++] = ks_xstrdup(s);
}

void ks_sync_plan_free(ks_sync_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nitems; i++) {
		ks_sync_item *it = &p->items[i];
		free(it->id);
		free(it->app);
		json_decref(it->desired);
		json_decref(it->live);
		json_decref(it->fields);
		free(it->deps);
		free(it->cell_deps);
		free(it->why);
	}
	free(p->items);
	for (size_t i = 0; i < p->napps; i++)
		free(p->apps[i]);
	free(p->apps);
	for (size_t i = 0; i < p->nstacks; i++)
		free(p->stacks[i]);
	free(p->stacks);
	free(p);
}

int ks_sync_plan_scope(ks_sync_plan **out, const json_t *spec, ks_error *err)
{
	const json_t *apps = json_object_get(spec, "apps");
	if (!json_is_object(spec) ||
	    !json_is_array(json_object_get(spec, "resources")))
		return ks_error_set(err, KS_EINVAL,
				    "the Spec has no resources list");
	ks_sync_plan *p = ks_xcalloc(1, sizeof(*p));
	size_t i;
	const json_t *a;
	json_array_foreach(apps, i, a)
	{
		const char *name =
			json_string_value(json_object_get(a, "name"));
		const char *proj =
			json_string_value(json_object_get(a, "project"));
		const char *stack =
			json_string_value(json_object_get(a, "stack"));
		if (!name || !proj || !stack) {
			ks_sync_plan_free(p);
			return ks_error_set(err, KS_EINVAL,
					    "the Spec's app %zu lacks name, "
					    "project or stack",
					    i);
		}
		add_unique(&p->apps, &p->napps, name);
		char *st = ks_xasprintf("%s-%s", proj, stack);
		add_unique(&p->stacks, &p->nstacks, st);
		free(st);
	}
	*out = p;
	return 0;
}

static ks_sync_item *new_item(ks_sync_plan *p)
{
	p->items = ks_xrealloc(p->items, (p->nitems + 1) * sizeof(*p->items));
	ks_sync_item *it = &p->items[p->nitems++];
	memset(it, 0, sizeof(*it));
	return it;
}

static const char *label(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(
		json_object_get(json_object_get(obj, "metadata"), "labels"),
		key));
}

static const char *annotation(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(
		json_object_get(json_object_get(obj, "metadata"),
				"annotations"),
		key));
}

static const char *obj_namespace(const json_t *obj)
{
	return json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "namespace"));
}

static bool is_namespace(const json_t *obj)
{
	const char *k = json_string_value(json_object_get(obj, "kind"));
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));
	return k && av && !strcmp(k, "Namespace") && !strcmp(av, "v1");
}

static bool in_list(char **v, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

static int plan_resource(ks_sync_plan *p, const json_t *res,
			 const json_t *live_by_id,
			 const ks_sync_plan_opts *opts, ks_error *err)
{
	const char *id = json_string_value(json_object_get(res, "id"));
	const json_t *attrs = json_object_get(res, "attributes");
	if (!id || !json_is_object(attrs))
		return ks_error_set(err, KS_EINVAL,
				    "the Spec has a resource without id or "
				    "attributes");
	const char *app = json_string_value(json_object_get(
		json_object_get(res, "extensions"), KS_LABEL_APP));
	json_t *ptrs = ks_sync_ignored_pointers(opts->ignore, attrs);
	ks_sync_item *it = new_item(p);
	it->id = ks_xstrdup(id);
	it->app = ks_xstrdup(app ? app : "");
	it->desired = ks_sync_applied_form(attrs, ptrs);
	const char *gen = annotation(attrs, KS_ANN_GENERATE);
	it->generate = gen && !strcmp(gen, "password");
	json_t *live = json_object_get(live_by_id, id);
	it->live = json_incref(live);
	int rc = ks_sync_diff(&it->fields, it->desired, live, ptrs, err);
	json_decref(ptrs);
	if (rc) {
		it->fields = json_array();
		return rc;
	}
	if (!live)
		it->action = KS_ACT_CREATE;
	else if (json_array_size(it->fields))
		it->action = KS_ACT_UPDATE;
	else
		it->action = KS_ACT_UNCHANGED;
	return 0;
}

static void add_dep(ks_sync_item *it, size_t j)
{
	for (size_t k = 0; k < it->ndeps; k++)
		if (it->deps[k] == j)
			return;
	it->deps = ks_xrealloc(it->deps, (it->ndeps + 1) * sizeof(size_t));
	it->deps[it->ndeps++] = j;
}

static void link_deps(ks_sync_plan *p, const json_t *resources,
		      const json_t *index)
{
	size_t i;
	const json_t *res;
	json_array_foreach(resources, i, res)
	{
		ks_sync_item *it = &p->items[i];
		size_t k;
		const json_t *d;
		json_array_foreach(json_object_get(res, "dependsOn"), k, d)
		{
			const json_t *j = json_object_get(
				index, json_string_value(d)
					       ? json_string_value(d)
					       : "");
			if (j && (size_t)json_integer_value(j) != i)
				add_dep(it, (size_t)json_integer_value(j));
		}
		const char *ns = obj_namespace(it->desired);
		if (ns && *ns) {
			char *nsid = ks_xasprintf("v1:Namespace:%s", ns);
			const json_t *j = json_object_get(index, nsid);
			if (j && (size_t)json_integer_value(j) != i)
				add_dep(it, (size_t)json_integer_value(j));
			free(nsid);
		}
	}
}

/* The position of CELL among APP's cells in the Spec, or -1. */
static int cell_rank(const json_t *spec, const char *app, const char *cell)
{
	size_t i, k;
	const json_t *a, *c;
	json_array_foreach(json_object_get(spec, "apps"), i, a)
	{
		const char *name =
			json_string_value(json_object_get(a, "name"));
		if (!name || strcmp(name, app))
			continue;
		json_array_foreach(json_object_get(a, "cells"), k, c)
		{
			const char *cn =
				json_string_value(json_object_get(c, "cell"));
			if (cn && !strcmp(cn, cell))
				return (int)k;
		}
	}
	return -1;
}

/* Cells deploy in order (spec/agent.md: one-shot apply "still applies
 * cells in order"): what belongs to cell k of an app waits for what
 * belongs to its cell k-1. */
static void link_cells(ks_sync_plan *p, const json_t *spec)
{
	int *rank = ks_xcalloc(p->nitems ? p->nitems : 1, sizeof(int));
	for (size_t i = 0; i < p->nitems; i++) {
		const char *cell =
			p->items[i].desired
				? label(p->items[i].desired, KS_LABEL_CELL)
				: NULL;
		rank[i] = cell ? cell_rank(spec, p->items[i].app, cell) : -1;
	}
	for (size_t i = 0; i < p->nitems; i++) {
		if (rank[i] <= 0)
			continue;
		for (size_t j = 0; j < p->nitems; j++)
			if (rank[j] == rank[i] - 1 &&
			    !strcmp(p->items[j].app, p->items[i].app)) {
				ks_sync_item *it = &p->items[i];
				add_dep(it, j);
				it->cell_deps = ks_xrealloc(
					it->cell_deps,
					(it->ncell_deps + 1) * sizeof(size_t));
				it->cell_deps[it->ncell_deps++] = j;
			}
	}
	free(rank);
}

/* A Namespace belongs to no app; it is shown under the first app that has
 * something in it. */
static void assign_namespaces(ks_sync_plan *p)
{
	for (size_t i = 0; i < p->nitems; i++) {
		ks_sync_item *it = &p->items[i];
		if (*it->app || !it->desired || !is_namespace(it->desired))
			continue;
		const char *name = json_string_value(json_object_get(
			json_object_get(it->desired, "metadata"), "name"));
		for (size_t j = 0; name && j < p->nitems; j++) {
			const char *ns =
				p->items[j].desired
					? obj_namespace(p->items[j].desired)
					: NULL;
			if (ns && !strcmp(ns, name) && *p->items[j].app) {
				free(it->app);
				it->app = ks_xstrdup(p->items[j].app);
				break;
			}
		}
	}
}

static void plan_leftover(ks_sync_plan *p, const json_t *obj, const char *id,
			  const ks_sync_plan_opts *opts)
{
	const char *stack = label(obj, KS_LABEL_STACK);
	const char *app = label(obj, KS_LABEL_APP);
	if (!app || !in_list(p->stacks, p->nstacks, stack) || is_namespace(obj))
		return;
	if (opts->by_app && !in_list(p->apps, p->napps, app))
		return;
	const json_t *owners = json_object_get(json_object_get(obj, "metadata"),
					       "ownerReferences");
	if (json_array_size(owners))
		return;
	ks_sync_item *it = new_item(p);
	it->id = ks_xstrdup(id);
	it->app = ks_xstrdup(app);
	it->live = json_incref((json_t *)obj);
	it->fields = json_array();
	const char *keep = annotation(obj, KS_ANN_PRUNE);
	if (keep && !strcmp(keep, "false")) {
		it->action = KS_ACT_ORPHAN;
		it->why = ks_xstrdup("annotated kusync.io/prune: \"false\"");
	} else if (opts->prune) {
		it->action = KS_ACT_DELETE;
	} else {
		it->action = KS_ACT_ORPHAN;
		it->why = ks_xstrdup("not in the Spec (apply --prune deletes "
				     "it)");
	}
	add_unique(&p->apps, &p->napps, app);
}

int ks_sync_plan_build(ks_sync_plan *p, const json_t *spec, const json_t *live,
		       const ks_sync_plan_opts *opts, ks_error *err)
{
	ks_sync_plan_opts none = {0};
	if (!opts)
		opts = &none;
	const json_t *resources = json_object_get(spec, "resources");
	json_t *live_by_id = json_object();
	size_t i;
	const json_t *o;
	json_array_foreach(live, i, o)
	{
		char *id = ks_sync_object_id(o);
		if (id && !json_object_get(live_by_id, id))
			json_object_set(live_by_id, id, (json_t *)o);
		free(id);
	}
	json_t *index = json_object();
	int rc = 0;
	const json_t *res;
	json_array_foreach(resources, i, res)
	{
		rc = plan_resource(p, res, live_by_id, opts, err);
		if (rc)
			goto out;
		json_object_set_new(index, p->items[i].id,
				    json_integer((json_int_t)i));
	}
	link_deps(p, resources, index);
	link_cells(p, spec);
	assign_namespaces(p);
	const char *id;
	json_object_foreach(live_by_id, id, o)
	{
		if (!json_object_get(index, id))
			plan_leftover(p, o, id, opts);
	}
out:
	json_decref(index);
	json_decref(live_by_id);
	return rc;
}

bool ks_sync_plan_has_changes(const ks_sync_plan *p)
{
	for (size_t i = 0; i < p->nitems; i++) {
		ks_sync_action a = p->items[i].action;
		if (a == KS_ACT_CREATE || a == KS_ACT_UPDATE ||
		    a == KS_ACT_DELETE)
			return true;
	}
	return false;
}

json_t *ks_sync_plan_json(const ks_sync_plan *p)
{
	json_t *apps = json_array();
	for (size_t a = 0; a < p->napps; a++) {
		json_t *actions = json_array();
		for (size_t i = 0; i < p->nitems; i++) {
			const ks_sync_item *it = &p->items[i];
			if (strcmp(it->app, p->apps[a]) ||
			    it->action == KS_ACT_ORPHAN)
				continue;
			json_array_append_new(
				actions,
				json_pack("{s:s, s:s, s:O}", "id", it->id,
					  "action",
					  ks_sync_action_name(it->action),
					  "fields", it->fields));
		}
		json_array_append_new(apps,
				      json_pack("{s:s, s:o}", "app", p->apps[a],
						"actions", actions));
	}
	return json_pack("{s:o}", "apps", apps);
}

static char sign_of(ks_sync_action a)
{
	switch (a) {
	case KS_ACT_CREATE:
		return '+';
	case KS_ACT_UPDATE:
		return '~';
	case KS_ACT_DELETE:
		return '-';
	case KS_ACT_ORPHAN:
		return '?';
	default:
		return '=';
	}
}

static void fields_text(ks_buf *out, const json_t *fields, const char *indent,
			bool to_desired)
{
	size_t w = 0, i;
	const json_t *f;
	json_array_foreach(fields, i, f)
	{
		size_t n =
			strlen(json_string_value(json_object_get(f, "path")));
		if (n > w)
			w = n;
	}
	json_array_foreach(fields, i, f)
	{
		ks_buf_printf(out, "%s%-*s  ", indent, (int)w,
			      json_string_value(json_object_get(f, "path")));
		ks_sync_field_text(out, f, to_desired);
		ks_buf_puts(out, "\n");
	}
}

void ks_sync_plan_text(ks_buf *out, const ks_sync_plan *p)
{
	size_t counts[5] = {0};
	for (size_t i = 0; i < p->nitems; i++)
		counts[p->items[i].action]++;
	for (size_t a = 0; a < p->napps; a++) {
		bool header = false;
		for (size_t i = 0; i < p->nitems; i++) {
			const ks_sync_item *it = &p->items[i];
			if (strcmp(it->app, p->apps[a]) ||
			    it->action == KS_ACT_UNCHANGED)
				continue;
			if (!header) {
				ks_buf_printf(out, "app %s\n", p->apps[a]);
				header = true;
			}
			ks_buf_printf(out, "  %c %-9s %s", sign_of(it->action),
				      ks_sync_action_name(it->action), it->id);
			if (it->why)
				ks_buf_printf(out, " (%s)", it->why);
			ks_buf_puts(out, "\n");
			fields_text(out, it->fields, "      ", true);
		}
	}
	if (!ks_sync_plan_has_changes(p)) {
		ks_buf_printf(out, "no changes (%zu unchanged",
			      counts[KS_ACT_UNCHANGED]);
		if (counts[KS_ACT_ORPHAN])
			ks_buf_printf(out, ", %zu orphaned",
				      counts[KS_ACT_ORPHAN]);
		ks_buf_puts(out, ")\n");
		return;
	}
	ks_buf_printf(out,
		      "plan: %zu to create, %zu to update, %zu to delete, %zu "
		      "unchanged",
		      counts[KS_ACT_CREATE], counts[KS_ACT_UPDATE],
		      counts[KS_ACT_DELETE], counts[KS_ACT_UNCHANGED]);
	if (counts[KS_ACT_ORPHAN])
		ks_buf_printf(out, ", %zu orphaned", counts[KS_ACT_ORPHAN]);
	ks_buf_puts(out, "\n");
}

json_t *ks_sync_drift_json(const ks_sync_plan *p, const char *now)
{
	json_t *apps = json_array();
	for (size_t a = 0; a < p->napps; a++) {
		json_t *res = json_array();
		for (size_t i = 0; i < p->nitems; i++) {
			const ks_sync_item *it = &p->items[i];
			if (strcmp(it->app, p->apps[a]))
				continue;
			const char *state = NULL;
			if (it->action == KS_ACT_UPDATE)
				state = "modified";
			else if (it->action == KS_ACT_CREATE)
				state = "missing";
			else if (it->action == KS_ACT_DELETE ||
				 it->action == KS_ACT_ORPHAN)
				state = "orphan";
			if (!state)
				continue;
			json_array_append_new(res,
					      json_pack("{s:s, s:s, s:O}", "id",
							it->id, "state", state,
							"fields", it->fields));
		}
		json_array_append_new(
			apps, json_pack("{s:s, s:n, s:n, s:s, s:o}", "app",
					p->apps[a], "release", "commit",
					"checkedAt", now, "resources", res));
	}
	return json_pack("{s:o}", "apps", apps);
}

size_t ks_sync_drift_count(const json_t *drift)
{
	size_t n = 0, i;
	const json_t *a;
	json_array_foreach(json_object_get(drift, "apps"), i, a) n +=
		json_array_size(json_object_get(a, "resources"));
	return n;
}

struct row {
	const char *id, *state, *path;
	char *change;
};

void ks_sync_drift_text(ks_buf *out, const json_t *drift)
{
	size_t nrows = 0, cap = 16;
	struct row *rows = ks_xcalloc(cap, sizeof(*rows));
	size_t w[3] = {strlen("RESOURCE"), strlen("STATE"), strlen("FIELD")};
	size_t i, j, k;
	const json_t *a, *r, *f;
	json_array_foreach(json_object_get(drift, "apps"), i, a)
	{
		json_array_foreach(json_object_get(a, "resources"), j, r)
		{
			const json_t *fields = json_object_get(r, "fields");
			size_t n = json_array_size(fields)
					   ? json_array_size(fields)
					   : 1;
			for (k = 0; k < n; k++) {
				if (nrows == cap) {
					cap *= 2;
					rows = ks_xrealloc(rows,
							   cap * sizeof(*rows));
				}
				struct row *row = &rows[nrows++];
				row->id = json_string_value(
					json_object_get(r, "id"));
				row->state = json_string_value(
					json_object_get(r, "state"));
				f = json_array_get(fields, k);
				row->path =
					f ? json_string_value(
						    json_object_get(f, "path"))
					  : "";
				row->change = NULL;
				if (f) {
					ks_buf b;
					ks_buf_init(&b, 0);
					ks_sync_field_text(&b, f, false);
					row->change = ks_buf_detach(&b, NULL);
				}
				const char *cols[3] = {row->id, row->state,
						       row->path};
				for (int c = 0; c < 3; c++)
					if (strlen(cols[c]) > w[c])
						w[c] = strlen(cols[c]);
			}
		}
	}
	if (!nrows) {
		ks_buf_puts(out, "no drift\n");
		free(rows);
		return;
	}
	ks_buf_printf(out, "%-*s  %-*s  %-*s  DESIRED -> LIVE\n", (int)w[0],
		      "RESOURCE", (int)w[1], "STATE", (int)w[2], "FIELD");
	for (i = 0; i < nrows; i++) {
		if (rows[i].change)
			ks_buf_printf(out, "%-*s  %-*s  %-*s  %s\n", (int)w[0],
				      rows[i].id, (int)w[1], rows[i].state,
				      (int)w[2], rows[i].path, rows[i].change);
		else
			ks_buf_printf(out, "%-*s  %s\n", (int)w[0], rows[i].id,
				      rows[i].state);
		free(rows[i].change);
	}
	free(rows);
}
