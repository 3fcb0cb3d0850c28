/*
 * Orchestration: stacks -> documents -> validated apps -> cross-app checks
 * (full names, monitoring, dependencies) -> resources and the Spec.
 */
#include "render/render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/values.h"
#include "core/yaml.h"
#include "render/internal.h"
#include "core/banned.h"

/* Every app key found, valid or not (an invalid app still exists for its
 * dependents and for duplicate checks). */
struct app_slot {
	const char *project, *stack, *name, *fullname;
	ks_where where;
	bool names_ok;
	bool valid;
	ks_app app;
	int color; /* for the cycle search: 0 new, 1 on the path, 2 done */
};

struct render {
	ks_arena *a;
	ks_errlist *errs;
	struct app_slot *apps;
	size_t napps, alloc;
	ks_stack_docs *stacks;
	size_t nstacks;
	ks_workspace *ws;
	bool ws_ok;
	json_t *by_name; /* "project/stack/app" -> index in apps */
};

static struct app_slot *new_slot(struct render *r)
{
	if (r->napps == r->alloc) {
		r->alloc = r->alloc ? r->alloc * 2 : 16;
		r->apps = ks_xrealloc(r->apps, r->alloc * sizeof(*r->apps));
	}
	struct app_slot *s = &r->apps[r->napps++];
	memset(s, 0, sizeof(*s));
	return s;
}

/* Names are DNS-1123 labels, so '/' cannot occur in them. */
static void name_key(char *buf, size_t len, const char *project,
		     const char *stack, const char *name)
{
	snprintf(buf, len, "%s/%s/%s", project, stack, name);
}

static struct app_slot *find_app(struct render *r, const char *project,
				 const char *stack, const char *name)
{
	char key[512];
	name_key(key, sizeof(key), project, stack, name);
	json_t *i = json_object_get(r->by_name, key);
	return i ? &r->apps[json_integer_value(i)] : NULL;
}

static bool stack_rendered(struct render *r, const char *project,
			   const char *stack)
{
	for (size_t i = 0; i < r->nstacks; i++)
		if (r->stacks[i].names_ok &&
		    !strcmp(r->stacks[i].project, project) &&
		    !strcmp(r->stacks[i].stack, stack))
			return true;
	return false;
}

/* The apps of one document: the root maps app names to AppConfigurations. */
static void collect_doc(struct render *r, const ks_stack_docs *sd,
			const ks_doc *doc)
{
	const char *file = ks_arena_strdup(r->a, ks_doc_file(doc));
	json_t *root = ks_doc_root(doc);
	if (!json_is_object(root)) {
		ks_mark m = ks_doc_root_mark(doc);
		ks_errlist_add(r->errs, file, m.line, m.col,
			       "expected a mapping of app names to "
			       "AppConfigurations");
		return;
	}
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v)
	{
		const ks_node_info *in = ks_doc_key_info(doc, root, key);
		ks_mark km = in ? in->key : ks_doc_root_mark(doc);
		if (!ks_is_dns1123_label(key)) {
			size_t kl = strlen(key);
			char *shown = ks_arena_strndup(r->a, key,
						       kl > 100 ? 100 : kl);
			for (char *p = shown; *p; p++)
				if ((unsigned char)*p < 0x20)
					*p = '?';
			ks_errlist_add(r->errs, file, km.line, km.col,
				       "\"%s\" is not a valid app name (a "
				       "DNS-1123 label: lowercase letters, "
				       "digits and '-', at most 63)",
				       shown);
			continue;
		}
		struct app_slot *dup =
			sd->names_ok ? find_app(r, sd->project, sd->stack, key)
				     : NULL;
		if (dup) {
			ks_errlist_add(r->errs, file, km.line, km.col,
				       "%s: app \"%s\" is already defined at "
				       "%s:%u:%u",
				       key, key, dup->where.file,
				       dup->where.mark.line,
				       dup->where.mark.col);
			continue;
		}
		struct app_slot *s = new_slot(r);
		s->project = sd->project;
		s->stack = sd->stack;
		s->name = ks_arena_strdup(r->a, key);
		s->fullname = ks_arena_printf(r->a, "%s-%s-%s", sd->project,
					      sd->stack, key);
		s->where.file = file;
		s->where.mark = km;
		s->names_ok = sd->names_ok;
		if (s->names_ok) {
			char nk[512];
			name_key(nk, sizeof(nk), s->project, s->stack, s->name);
			json_object_set_new(
				r->by_name, nk,
				json_integer((json_int_t)(s - r->apps)));
		}
		s->valid =
			ks_app_validate(&s->app, r->a, doc, key, in, v,
					sd->project, sd->stack, r->errs) == 0;
	}
}

/* Full names: DNS-1123 labels of at most 63, unique across the render. */
static void check_fullnames(struct render *r)
{
	json_t *seen = json_object(); /* full name -> index in apps */
	for (size_t i = 0; i < r->napps; i++) {
		struct app_slot *s = &r->apps[i];
		if (!s->names_ok)
			continue;
		if (!ks_is_dns1123_label(s->fullname)) {
			ks_errlist_add(r->errs, s->where.file,
				       s->where.mark.line, s->where.mark.col,
				       "%s: the app's full name \"%s\" "
				       "(project \"%s\" + stack \"%s\" + app "
				       "\"%s\") is %zu characters long, more "
				       "than 63",
				       s->name, s->fullname, s->project,
				       s->stack, s->name, strlen(s->fullname));
			s->valid = false;
			continue;
		}
		json_t *j = json_object_get(seen, s->fullname);
		if (!j) {
			json_object_set_new(seen, s->fullname,
					    json_integer((json_int_t)i));
			continue;
		}
		const struct app_slot *o = &r->apps[json_integer_value(j)];
		ks_errlist_add(r->errs, s->where.file, s->where.mark.line,
			       s->where.mark.col,
			       "%s: the app's full name \"%s\" is also the "
			       "full name of the app at %s:%u:%u",
			       s->name, s->fullname, o->where.file,
			       o->where.mark.line, o->where.mark.col);
		s->valid = false;
	}
	json_decref(seen);
}

static void dep_error(struct render *r, const ks_depref *d, const char *msg)
{
	ks_errlist_add(r->errs, d->where.file, d->where.mark.line,
		       d->where.mark.col, "%s: %s", d->path, msg);
}

/* Resolves one dependedApps entry to a full name, or reports. */
static void resolve_dep(struct render *r, struct app_slot *s, ks_depref *d)
{
	const char *slash = strchr(d->text, '/');
	if (!slash) {
		if (!strcmp(d->text, s->name)) {
			dep_error(r, d, "an app cannot depend on itself");
			return;
		}
		if (!find_app(r, s->project, s->stack, d->text)) {
			dep_error(r, d,
				  ks_arena_printf(r->a,
						  "no app \"%s\" in this stack "
						  "(%s/%s); name another "
						  "stack's app as "
						  "project/stack/app",
						  d->text, s->project,
						  s->stack));
			return;
		}
		d->resolved = ks_arena_printf(r->a, "%s-%s-%s", s->project,
					      s->stack, d->text);
		return;
	}
	/* validate.c checked the form: three labels. */
	const char *slash2 = strchr(slash + 1, '/');
	char *p = ks_arena_strndup(r->a, d->text, (size_t)(slash - d->text));
	char *st =
		ks_arena_strndup(r->a, slash + 1, (size_t)(slash2 - slash - 1));
	const char *app = slash2 + 1;
	if (!strcmp(p, s->project) && !strcmp(st, s->stack) &&
	    !strcmp(app, s->name)) {
		dep_error(r, d, "an app cannot depend on itself");
		return;
	}
	if (stack_rendered(r, p, st) && !find_app(r, p, st, app)) {
		dep_error(r, d,
			  ks_arena_printf(r->a, "no app \"%s\" in stack %s/%s",
					  app, p, st));
		return;
	}
	d->resolved = ks_arena_printf(r->a, "%s-%s-%s", p, st, app);
}

/* INDEX maps full names to positions in SORTED. */
static struct app_slot *find_full(struct app_slot **sorted, const json_t *index,
				  const char *full)
{
	json_t *i = json_object_get(index, full);
	return i ? sorted[json_integer_value(i)] : NULL;
}

/* Depth first over the valid apps; PATH holds the apps on the current
 * path. A back edge is a cycle, reported at the entry that closes it. */
static void find_cycles(struct render *r, struct app_slot **sorted,
			const json_t *index, struct app_slot *s,
			struct app_slot **path, size_t depth)
{
	s->color = 1;
	path[depth] = s;
	for (size_t i = 0; i < s->app.ndeps; i++) {
		ks_depref *d = &s->app.deps[i];
		struct app_slot *t =
			d->resolved ? find_full(sorted, index, d->resolved)
				    : NULL;
		if (!t || t->color == 2)
			continue;
		if (t->color == 0) {
			find_cycles(r, sorted, index, t, path, depth + 1);
			continue;
		}
		ks_buf b;
		ks_buf_init(&b, 0);
		size_t k = depth;
		while (path[k] != t)
			k--;
		for (; k <= depth; k++)
			ks_buf_printf(&b, "%s -> ", path[k]->fullname);
		ks_buf_puts(&b, t->fullname);
		dep_error(
			r, d,
			ks_arena_printf(r->a, "dependency cycle: %s", b.data));
		ks_buf_release(&b);
	}
	s->color = 2;
}

static int slot_cmp(const void *pa, const void *pb)
{
	const struct app_slot *const *a = pa, *const *b = pb;
	return strcmp((*a)->fullname, (*b)->fullname);
}

static void check_dependencies(struct render *r, struct app_slot **sorted,
			       size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < sorted[i]->app.ndeps; j++)
			resolve_dep(r, sorted[i], &sorted[i]->app.deps[j]);
	json_t *index = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(index, sorted[i]->fullname,
				    json_integer((json_int_t)i));
	struct app_slot **path = ks_xcalloc(n + 1, sizeof(*path));
	for (size_t i = 0; i < n; i++)
		if (sorted[i]->color == 0)
			find_cycles(r, sorted, index, sorted[i], path, 0);
	free(path);
	json_decref(index);
}

/* monitoring needs path and port unless the workspace sets operatorMode. */
static void check_monitoring(struct render *r, const ks_app *app,
			     const ks_workspace_view *v)
{
	if (!app->has_monitoring || v->operatorMode)
		return;
	const char *missing[2] = {app->monitoring_path ? NULL : "path",
				  app->monitoring_port ? NULL : "port"};
	for (int i = 0; i < 2; i++)
		if (missing[i])
			ks_errlist_add(r->errs, app->monitoring_where.file,
				       app->monitoring_where.mark.line,
				       app->monitoring_where.mark.col,
				       "%s.monitoring: missing required field "
				       "\"%s\" (needed unless the workspace "
				       "sets monitoring operatorMode: true)",
				       app->name, missing[i]);
}

static json_t *app_entry(const ks_app *app, const char *ns)
{
	json_t *cells = json_array();
	for (size_t i = 0; i < app->ncells; i++)
		json_array_append_new(cells,
				      json_pack("{s:s, s:s}", "zone",
						app->cells[i].zone, "cell",
						app->cells[i].cell));
	char timeout[64];
	ks_duration_format(app->timeout_ms, timeout, sizeof(timeout));
	json_t *ps = json_object();
	for (size_t i = 0; i < app->npolicysets; i++)
		json_object_set_new(ps, app->policysets[i].name,
				    json_pack("{s:s}", "kind",
					      app->policysets[i].mandatory
						      ? "mandatory"
						      : "advisory"));
	json_t *deps = json_array();
	for (size_t i = 0; i < app->ndeps; i++)
		if (app->deps[i].resolved)
			json_array_append_new(
				deps, json_string(app->deps[i].resolved));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:{s:{s:b, s:b, "
			 "s:s}}, s:o, s:o}",
			 "name", app->fullname, "project", app->project,
			 "stack", app->stack, "app", app->name, "namespace", ns,
			 "cells", cells, "pipeline", "deploy", "manualApprove",
			 (int)app->manualApprove, "rollbackIfFailed",
			 (int)app->rollbackIfFailed, "timeout", timeout,
			 "policysets", ps, "dependedApps", deps);
}

static int str_cmp(const void *pa, const void *pb)
{
	const char *const *a = pa, *const *b = pb;
	return strcmp(*a, *b);
}

/*
 * Two apps that render the same object (the same dbKey or secret name in
 * one namespace) would fight over it in the cluster, each pruning what the
 * other applies: an error at the second app, naming the first.
 */
static void check_owners(struct render *r, json_t *owners, const ks_app *app,
			 const json_t *resources, size_t first)
{
	for (size_t k = first; k < json_array_size(resources); k++) {
		const char *id = json_string_value(
			json_object_get(json_array_get(resources, k), "id"));
		if (!id)
			continue;
		const char *other =
			json_string_value(json_object_get(owners, id));
		if (other) {
			ks_errlist_add(r->errs, app->where.file,
				       app->where.mark.line,
				       app->where.mark.col,
				       "%s: renders \"%s\", which app \"%s\" "
				       "renders too (two apps cannot own one "
				       "object)",
				       app->name, id, other);
			continue;
		}
		json_object_set_new(owners, id, json_string(app->fullname));
	}
}

/* Namespaces (sorted, once each), then each app's resources. */
static json_t *generate(struct render *r, struct app_slot **sorted, size_t n)
{
	ks_workspace_view *views =
		ks_arena_alloc(r->a, (n + 1) * sizeof(*views));
	const char **ns = ks_arena_alloc(r->a, (n + 1) * sizeof(*ns));
	const char **uniq = ks_arena_alloc(r->a, (n + 1) * sizeof(*uniq));
	for (size_t i = 0; i < n; i++) {
		ks_workspace_view_for(r->ws, sorted[i]->project, &views[i]);
		ns[i] = ks_app_namespace(r->a, &sorted[i]->app, &views[i]);
		uniq[i] = ns[i];
	}
	qsort(uniq, n, sizeof(*uniq), str_cmp);
	json_t *resources = json_array();
	json_t *apps = json_array();
	for (size_t i = 0; i < n; i++)
		if (!i || strcmp(uniq[i], uniq[i - 1]))
			json_array_append_new(resources,
					      ks_generate_namespace(uniq[i]));
	json_t *owners = json_object(); /* resource id -> app full name */
	for (size_t i = 0; i < n; i++) {
		size_t first = json_array_size(resources);
		ks_generate_app(resources, &sorted[i]->app, &views[i], ns[i],
				r->errs);
		check_owners(r, owners, &sorted[i]->app, resources, first);
		json_array_append_new(apps, app_entry(&sorted[i]->app, ns[i]));
	}
	json_decref(owners);
	return json_pack("{s:o, s:o}", "apps", apps, "resources", resources);
}

/* A stack given twice (or two folders naming the same project and stack)
 * would define each app twice: one error for the stack instead. */
static bool same_stack_as_before(struct render *r, size_t i)
{
	const ks_stack_docs *s = &r->stacks[i];
	if (!s->names_ok)
		return false;
	for (size_t j = 0; j < i; j++) {
		const ks_stack_docs *o = &r->stacks[j];
		if (!o->names_ok || strcmp(o->project, s->project) ||
		    strcmp(o->stack, s->stack))
			continue;
		ks_errlist_add(r->errs, s->dir, 0, 0,
			       "the same stack as %s (project \"%s\", stack "
			       "\"%s\"); give each stack once",
			       o->dir, s->project, s->stack);
		return true;
	}
	return false;
}

static void run(struct render *r, const ks_render_stack *stacks, size_t nstacks,
		const ks_render_opts *opts, json_t **spec)
{
	r->ws_ok = true;
	if (opts && opts->workspace_path)
		r->ws_ok = ks_workspace_load(&r->ws, r->a, opts->workspace_path,
					     r->errs) == 0;
	r->stacks = ks_xcalloc(nstacks + 1, sizeof(*r->stacks));
	r->nstacks = nstacks;
	for (size_t i = 0; i < nstacks; i++) {
		ks_stack_load(&r->stacks[i], r->a, &stacks[i], r->errs);
		if (same_stack_as_before(r, i))
			continue;
		for (size_t j = 0; j < r->stacks[i].ndocs; j++)
			collect_doc(r, &r->stacks[i], r->stacks[i].docs[j]);
	}
	check_fullnames(r);

	struct app_slot **sorted = ks_xcalloc(r->napps + 1, sizeof(*sorted));
	size_t n = 0;
	for (size_t i = 0; i < r->napps; i++)
		if (r->apps[i].valid && r->apps[i].names_ok)
			sorted[n++] = &r->apps[i];
	qsort(sorted, n, sizeof(*sorted), slot_cmp);
	check_dependencies(r, sorted, n);
	if (r->ws_ok) {
		for (size_t i = 0; i < n; i++) {
			ks_workspace_view v;
			ks_workspace_view_for(r->ws, sorted[i]->project, &v);
			check_monitoring(r, &sorted[i]->app, &v);
		}
		*spec = generate(r, sorted, n);
	}
	free(sorted);
}

int ks_render(json_t **out, const ks_render_stack *stacks, size_t nstacks,
	      const ks_render_opts *opts, ks_errlist *errs)
{
	struct render r;
	memset(&r, 0, sizeof(r));
	r.a = ks_arena_new();
	r.errs = errs;
	r.by_name = json_object();
	size_t before = ks_errlist_count(errs);
	json_t *spec = NULL;
	run(&r, stacks, nstacks, opts, &spec);
	for (size_t i = 0; i < r.nstacks; i++)
		ks_stack_docs_release(&r.stacks[i]);
	free(r.stacks);
	free(r.apps);
	json_decref(r.by_name);
	ks_arena_free(r.a);
	if (ks_errlist_count(errs) > before || !spec) {
		json_decref(spec);
		return KS_EINVAL;
	}
	*out = spec;
	return 0;
}

int ks_render_dirs(json_t **out, const char *const *dirs, size_t ndirs,
		   const char *workspace, ks_errlist *errs)
{
	ks_render_stack *st = ks_xcalloc(ndirs + 1, sizeof(*st));
	for (size_t i = 0; i < ndirs; i++)
		st[i].dir = dirs[i];
	ks_render_opts opts = {workspace};
	int rc = ks_render(out, st, ndirs, &opts, errs);
	free(st);
	return rc;
}

int ks_render_write(ks_buf *out, const json_t *spec,
		    enum ks_render_format format)
{
	if (format == KS_OUT_SPEC)
		return ks_yaml_emit(out, spec);
	if (format == KS_OUT_JSON)
		return ks_json_pretty(out, spec);
	const json_t *res = json_object_get(spec, "resources");
	size_t i;
	const json_t *v;
	json_array_foreach(res, i, v)
	{
		int rc = ks_buf_puts(out, "---\n");
		if (rc < 0)
			return rc;
		rc = ks_yaml_emit(out, json_object_get(v, "attributes"));
		if (rc < 0)
			return rc;
	}
	return 0;
}
