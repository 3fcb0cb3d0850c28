/*
 * PolicySet files and their evaluation. See policies/policy.h.
 */
#include "policies/policy.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/doc.h"
#include "core/selector.h"
#include "core/yaml.h"
#include "policies/cel.h"
#include "core/banned.h"

#define POLICY_MAX_FILE (4u << 20)

static const char *const rule_vars[] = {"object", "app", "resources",
					"variables"};
#define NRULE_VARS 4

typedef struct policy_var {
	char *name;
	ks_cel_program *prog;
} policy_var;

typedef struct policy_rule {
	char *name;
	char **kinds;
	size_t nkinds;
	char **namespaces;
	size_t nnamespaces;
	ks_selector *selector;
	ks_cel_program *validate;
	ks_cel_program *message_expr;
	char *message;
} policy_rule;

struct ks_policy_set {
	char *name;
	char *file;
	policy_rule *rules;
	size_t nrules;
	policy_var *vars;
	size_t nvars;
};

struct ks_policy_registry {
	ks_policy_set **sets;
	size_t n;
	const char **names;
};

static void rule_release(policy_rule *r)
{
	free(r->name);
	for (size_t i = 0; i < r->nkinds; i++)
		free(r->kinds[i]);
	free(r->kinds);
	for (size_t i = 0; i < r->nnamespaces; i++)
		free(r->namespaces[i]);
	free(r->namespaces);
	ks_selector_free(r->selector);
	ks_cel_program_free(r->validate);
	ks_cel_program_free(r->message_expr);
	free(r->message);
}

static void set_free(ks_policy_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nrules; i++)
		rule_release(&s->rules[i]);
	free(s->rules);
	for (size_t i = 0; i < s->nvars; i++) {
		free(s->vars[i].name);
		ks_cel_program_free(s->vars[i].prog);
	}
	free(s->vars);
	free(s->name);
	free(s->file);
	free(s);
}

ks_policy_registry *ks_policy_registry_new(void)
{
	return ks_xcalloc(1, sizeof(ks_policy_registry));
}

void ks_policy_registry_free(ks_policy_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		set_free(r->sets[i]);
	free(r->sets);
	free(r->names);
	free(r);
}

const ks_policy_set *ks_policy_find(const ks_policy_registry *r,
				    const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->sets[i]->name, name))
			return r->sets[i];
	return NULL;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *const *ks_policy_names(ks_policy_registry *r)
{
	free(r->names);
	r->names = ks_xcalloc(r->n + 1, sizeof(*r->names));
	for (size_t i = 0; i < r->n; i++)
		r->names[i] = r->sets[i]->name;
	qsort(r->names, r->n, sizeof(*r->names), by_name);
	return r->names;
}

size_t ks_policy_rule_count(const ks_policy_set *s)
{
	return s->nrules;
}

const char *ks_policy_rule_name(const ks_policy_set *s, size_t i)
{
	return i < s->nrules ? s->rules[i].name : NULL;
}

/* ---- loading ---- */

typedef struct loader {
	const char *file;
	const char *text; /* the file, for positions inside expressions */
	size_t len;
	ks_doc *doc;
	ks_errlist *errs;
	int failed;
} loader;

static void lerr(loader *l, ks_mark m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void lerr(loader *l, ks_mark m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ks_errlist_vadd(l->errs, l->file, m.line, m.col, fmt, ap);
	va_end(ap);
	l->failed = 1;
}

static ks_mark key_mark(loader *l, const json_t *obj, const char *key,
			int value)
{
	const ks_node_info *i = ks_doc_key_info(l->doc, obj, key);
	ks_mark none = {0, 0};
	if (!i)
		return none;
	return value ? i->value : i->key;
}

static ks_mark index_mark(loader *l, const json_t *arr, size_t idx)
{
	const ks_node_info *i = ks_doc_index_info(l->doc, arr, idx);
	ks_mark none = {0, 0};
	return i ? i->value : none;
}

/* Refuses keys of OBJ not in ALLOWED (NULL-terminated). */
static void only_keys(loader *l, const json_t *obj, const char *where,
		      const char *const *allowed)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v)
	{
		int ok = 0;
		for (const char *const *a = allowed; *a; a++)
			if (!strcmp(*a, k))
				ok = 1;
		if (!ok)
			lerr(l, key_mark(l, obj, k, 0),
			     "%s: unknown field \"%s\"", where, k);
	}
}

static const char *want_string(loader *l, const json_t *obj, const char *key,
			       const char *where, int required)
{
	json_t *v = json_object_get(obj, key);
	if (!v) {
		if (required)
			lerr(l, key_mark(l, obj, key, 0), "%s: missing \"%s\"",
			     where, key);
		return NULL;
	}
	if (!json_is_string(v) || !json_string_length(v)) {
		lerr(l, key_mark(l, obj, key, 1),
		     "%s.%s: expected a non-empty string", where, key);
		return NULL;
	}
	return json_string_value(v);
}

/* The text line LINE (1-based) of the file. */
static const char *line_at(loader *l, unsigned line, size_t *len)
{
	const char *p = l->text, *end = l->text + l->len;
	for (unsigned i = 1; i < line && p < end; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return NULL;
		p = nl + 1;
	}
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	*len = nl ? (size_t)(nl - p) : (size_t)(end - p);
	return p;
}

/*
 * Maps a position inside an expression to the file. The scalar starts at
 * M: a plain scalar there, a quoted one one column later, a block scalar
 * (| or >) on the next line at its indentation. Escapes and folding can
 * shift columns; the line is right for plain and block scalars.
 */
static ks_mark expr_mark(loader *l, ks_mark m, const ks_cel_pos *pos)
{
	ks_mark r = m;
	size_t n;
	const char *s = line_at(l, m.line, &n);
	char c = s && m.col >= 1 && m.col - 1 < n ? s[m.col - 1] : 0;
	if (c == '|' || c == '>') {
		size_t n2;
		const char *s2 = line_at(l, m.line + 1, &n2);
		unsigned ind = 0;
		while (s2 && ind < n2 && s2[ind] == ' ')
			ind++;
		r.line = m.line + pos->line;
		r.col = pos->line == 1 ? ind + pos->col : pos->col + ind;
		return r;
	}
	unsigned q = c == '"' || c == '\'';
	r.line = m.line + pos->line - 1;
	r.col = pos->line == 1 ? m.col + q + pos->col - 1 : pos->col;
	return r;
}

static ks_cel_program *compile_expr(loader *l, const json_t *obj,
				    const char *key, const char *where)
{
	const char *src = want_string(l, obj, key, where, 0);
	if (!src)
		return NULL;
	ks_cel_program *p = NULL;
	ks_cel_pos pos;
	ks_error err = {0};
	if (ks_cel_compile(&p, src, strlen(src), rule_vars, NRULE_VARS, &pos,
			   &err)) {
		ks_mark m = expr_mark(l, key_mark(l, obj, key, 1), &pos);
		lerr(l, m, "%s.%s: %s", where, key, err.msg);
		return NULL;
	}
	return p;
}

static char **string_list(loader *l, const json_t *obj, const char *key,
			  const char *where, size_t *n)
{
	*n = 0;
	json_t *a = json_object_get(obj, key);
	if (!a)
		return NULL;
	if (!json_is_array(a)) {
		lerr(l, key_mark(l, obj, key, 1),
		     "%s.%s: expected a list of strings", where, key);
		return NULL;
	}
	char **out = ks_xcalloc(json_array_size(a) + 1, sizeof(*out));
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		if (!json_is_string(v) || !json_string_length(v)) {
			lerr(l, index_mark(l, a, i),
			     "%s.%s[%zu]: expected a non-empty string", where,
			     key, i);
			continue;
		}
		out[(*n)++] = ks_xstrdup(json_string_value(v));
	}
	return out;
}

static void load_match(loader *l, policy_rule *r, const json_t *m,
		       const char *where)
{
	static const char *const keys[] = {"kinds", "namespaces",
					   "labelSelector", NULL};
	char w[300];
	snprintf(w, sizeof(w), "%s.match", where);
	if (!json_is_object(m)) {
		lerr(l, (ks_mark){0, 0}, "%s: expected a mapping", w);
		return;
	}
	only_keys(l, m, w, keys);
	r->kinds = string_list(l, m, "kinds", w, &r->nkinds);
	r->namespaces = string_list(l, m, "namespaces", w, &r->nnamespaces);
	json_t *sel = json_object_get(m, "labelSelector");
	if (sel) {
		ks_error err = {0};
		if (!json_is_object(sel) ||
		    ks_selector_from_label_selector(&r->selector, sel, &err))
			lerr(l, key_mark(l, m, "labelSelector", 1),
			     "%s.labelSelector: %s", w,
			     json_is_object(sel) ? err.msg
						 : "expected a LabelSelector");
	}
}

static void load_rule(loader *l, policy_rule *r, const json_t *rules,
		      size_t idx)
{
	static const char *const keys[] = {"name",
					   "match",
					   "validate",
					   "message",
					   "messageExpression",
					   "description",
					   NULL};
	char where[64];
	snprintf(where, sizeof(where), "spec.rules[%zu]", idx);
	json_t *o = json_array_get(rules, idx);
	r->name = ks_xstrdup("");
	if (!json_is_object(o)) {
		lerr(l, index_mark(l, rules, idx), "%s: expected a mapping",
		     where);
		return;
	}
	only_keys(l, o, where, keys);
	const char *name = want_string(l, o, "name", where, 1);
	if (name) {
		free(r->name);
		r->name = ks_xstrdup(name);
	}
	json_t *m = json_object_get(o, "match");
	if (m) {
		if (!json_is_object(m))
			lerr(l, key_mark(l, o, "match", 1),
			     "%s.match: expected a mapping", where);
		else
			load_match(l, r, m, where);
	}
	if (!json_object_get(o, "validate"))
		lerr(l, key_mark(l, o, "name", 0), "%s: missing \"validate\"",
		     where);
	r->validate = compile_expr(l, o, "validate", where);
	r->message_expr = compile_expr(l, o, "messageExpression", where);
	const char *msg = want_string(l, o, "message", where, 0);
	r->message = msg ? ks_xstrdup(msg) : NULL;
}

static void load_vars(loader *l, ks_policy_set *s, const json_t *spec)
{
	json_t *vars = json_object_get(spec, "variables");
	if (!vars)
		return;
	if (!json_is_array(vars)) {
		lerr(l, key_mark(l, spec, "variables", 1),
		     "spec.variables: expected a list");
		return;
	}
	s->vars = ks_xcalloc(json_array_size(vars) + 1, sizeof(*s->vars));
	size_t i;
	json_t *v;
	json_array_foreach(vars, i, v)
	{
		static const char *const keys[] = {"name", "expression", NULL};
		char where[64];
		snprintf(where, sizeof(where), "spec.variables[%zu]", i);
		if (!json_is_object(v)) {
			lerr(l, index_mark(l, vars, i),
			     "%s: expected a mapping", where);
			continue;
		}
		only_keys(l, v, where, keys);
		const char *name = want_string(l, v, "name", where, 1);
		if (!json_object_get(v, "expression"))
			lerr(l, index_mark(l, vars, i),
			     "%s: missing \"expression\"", where);
		ks_cel_program *p = compile_expr(l, v, "expression", where);
		policy_var *pv = &s->vars[s->nvars++];
		pv->name = ks_xstrdup(name ? name : "");
		pv->prog = p;
	}
}

static ks_policy_set *load_doc(loader *l)
{
	static const char *const top[] = {"apiVersion", "kind", "metadata",
					  "spec", NULL};
	static const char *const meta[] = {"name", "description", "labels",
					   "annotations", NULL};
	static const char *const spk[] = {"rules", "variables", "description",
					  NULL};
	json_t *root = ks_doc_root(l->doc);
	ks_mark rm = ks_doc_root_mark(l->doc);
	if (!json_is_object(root)) {
		lerr(l, rm, "expected a PolicySet mapping");
		return NULL;
	}
	only_keys(l, root, "PolicySet", top);
	const char *av = want_string(l, root, "apiVersion", "PolicySet", 1);
	if (av && strcmp(av, "kusync.io/v1"))
		lerr(l, key_mark(l, root, "apiVersion", 1),
		     "apiVersion: expected \"kusync.io/v1\", got \"%s\"", av);
	const char *kind = want_string(l, root, "kind", "PolicySet", 1);
	if (kind && strcmp(kind, "PolicySet"))
		lerr(l, key_mark(l, root, "kind", 1),
		     "kind: expected \"PolicySet\", got \"%s\"", kind);
	json_t *md = json_object_get(root, "metadata");
	const char *name = NULL;
	if (!json_is_object(md)) {
		lerr(l, md ? key_mark(l, root, "metadata", 1) : rm,
		     "metadata: expected a mapping with a name");
	} else {
		only_keys(l, md, "metadata", meta);
		name = want_string(l, md, "name", "metadata", 1);
	}
	json_t *spec = json_object_get(root, "spec");
	if (!json_is_object(spec)) {
		lerr(l, spec ? key_mark(l, root, "spec", 1) : rm,
		     "spec: expected a mapping with rules");
		return NULL;
	}
	only_keys(l, spec, "spec", spk);
	json_t *rules = json_object_get(spec, "rules");
	if (!json_is_array(rules) || !json_array_size(rules)) {
		lerr(l,
		     rules ? key_mark(l, spec, "rules", 1)
			   : key_mark(l, root, "spec", 0),
		     "spec.rules: expected a non-empty list of rules");
		return NULL;
	}
	ks_policy_set *s = ks_xcalloc(1, sizeof(*s));
	s->name = ks_xstrdup(name ? name : "");
	s->file = ks_xstrdup(l->file);
	load_vars(l, s, spec);
	s->rules = ks_xcalloc(json_array_size(rules), sizeof(*s->rules));
	for (size_t i = 0; i < json_array_size(rules); i++) {
		load_rule(l, &s->rules[s->nrules], rules, i);
		s->nrules++;
		for (size_t j = 0; j + 1 < s->nrules; j++)
			if (s->rules[i].name[0] &&
			    !strcmp(s->rules[j].name, s->rules[i].name))
				lerr(l, index_mark(l, rules, i),
				     "spec.rules[%zu]: duplicate rule name "
				     "\"%s\"",
				     i, s->rules[i].name);
	}
	return s;
}

static void registry_put(ks_policy_registry *r, ks_policy_set *s)
{
	for (size_t i = 0; i < r->n; i++) {
		if (!strcmp(r->sets[i]->name, s->name)) {
			set_free(r->sets[i]);
			r->sets[i] = s;
			return;
		}
	}
	r->sets = ks_xrealloc(r->sets, (r->n + 1) * sizeof(*r->sets));
	r->sets[r->n++] = s;
}

int ks_policy_load_buffer(ks_policy_registry *r, const char *name,
			  const char *text, size_t len, int replace,
			  ks_errlist *errs)
{
	loader l = {.file = name, .text = text, .len = len, .errs = errs};
	if (ks_yaml_parse(&l.doc, text, len, name, KS_YAML_SINGLE, errs))
		return KS_EINVAL;
	ks_policy_set *s = load_doc(&l);
	if (s && !l.failed && !replace && ks_policy_find(r, s->name))
		lerr(&l,
		     key_mark(&l,
			      json_object_get(ks_doc_root(l.doc), "metadata"),
			      "name", 1),
		     "policy set \"%s\" is already defined", s->name);
	ks_doc_free(l.doc);
	if (l.failed) {
		set_free(s);
		return KS_EINVAL;
	}
	registry_put(r, s);
	return 0;
}

int ks_policy_load_file(ks_policy_registry *r, const char *path, int replace,
			ks_errlist *errs)
{
	char *text = NULL;
	size_t len = 0;
	ks_error err = {0};
	if (ks_read_file(path, POLICY_MAX_FILE, &text, &len, &err)) {
		ks_errlist_add(errs, path, 0, 0, "%s", err.msg);
		return KS_EINVAL;
	}
	int rc = ks_policy_load_buffer(r, path, text, len, replace, errs);
	free(text);
	return rc;
}

int ks_policy_load_dir(ks_policy_registry *r, const char *dir, ks_errlist *errs)
{
	DIR *d = opendir(dir);
	if (!d) {
		ks_errlist_add(errs, dir, 0, 0, "cannot read policy folder");
		return KS_EIO;
	}
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] == '.')
			continue;
		if ((l > 5 && !strcmp(e->d_name + l - 5, ".yaml")) ||
		    (l > 4 && !strcmp(e->d_name + l - 4, ".yml"))) {
			names = ks_xrealloc(names, (n + 1) * sizeof(*names));
			names[n++] = ks_xstrdup(e->d_name);
		}
	}
	closedir(d);
	qsort(names, n, sizeof(*names), by_name);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		char *path = ks_xasprintf("%s/%s", dir, names[i]);
		if (ks_policy_load_file(r, path, 1, errs))
			rc = KS_EINVAL;
		free(path);
		free(names[i]);
	}
	free(names);
	return rc;
}

const char *ks_policy_builtin_dir(void)
{
	static char dir[4096];
	const char *env = getenv("KUSYNC_BUILTIN_POLICIES");
	if (env && *env)
		return env;
	/* __FILE__ is this file's path as the build gave it: absolute in
	 * CMake builds. */
	const char *f = __FILE__;
	const char *slash = strrchr(f, '/');
	size_t n = slash ? (size_t)(slash - f) : 0;
	snprintf(dir, sizeof(dir), "%.*s%sbuiltin", (int)n, f,
		 n ? "/" : "policies/");
	return dir;
}

int ks_policy_load_builtin(ks_policy_registry *r, ks_errlist *errs)
{
	return ks_policy_load_dir(r, ks_policy_builtin_dir(), errs);
}

/* ---- reports ---- */

void ks_policy_report_init(ks_policy_report *rep)
{
	memset(rep, 0, sizeof(*rep));
}

void ks_policy_report_release(ks_policy_report *rep)
{
	for (size_t i = 0; i < rep->n; i++) {
		ks_policy_violation *v = &rep->v[i];
		free(v->set);
		free(v->rule);
		free(v->kind);
		free(v->object);
		free(v->message);
	}
	free(rep->v);
	memset(rep, 0, sizeof(*rep));
}

int ks_policy_report_blocks(const ks_policy_report *rep)
{
	for (size_t i = 0; i < rep->n; i++)
		if (rep->v[i].mandatory)
			return 1;
	return 0;
}

void ks_policy_report_text(ks_buf *out, const ks_policy_report *rep)
{
	for (size_t i = 0; i < rep->n; i++) {
		const ks_policy_violation *v = &rep->v[i];
		ks_buf_printf(out, "%s/%s %s %s: %s (%s)\n", v->set, v->rule,
			      v->kind, v->object, v->message,
			      v->mandatory ? "mandatory" : "advisory");
	}
}

json_t *ks_policy_report_json(const ks_policy_report *rep)
{
	json_t *a = json_array();
	for (size_t i = 0; i < rep->n; i++) {
		const ks_policy_violation *v = &rep->v[i];
		json_array_append_new(
			a, json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "set", v->set,
				     "rule", v->rule, "kind", v->kind, "object",
				     v->object, "message", v->message,
				     "mandatory", v->mandatory));
	}
	return json_pack("{s:o,s:I,s:b}", "violations", a, "evaluated",
			 (json_int_t)rep->evaluated, "blocked",
			 ks_policy_report_blocks(rep));
}

/* ---- evaluation ---- */

static const char *obj_str(const json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(o, a);
	if (b)
		v = json_object_get(v, b);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int in_list(char *const *l, size_t n, const char *s)
{
	if (!n)
		return 1;
	if (!s)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(l[i], s))
			return 1;
	return 0;
}

static int rule_matches(const policy_rule *r, const json_t *obj)
{
	if (!in_list(r->kinds, r->nkinds, obj_str(obj, "kind", NULL)))
		return 0;
	if (!in_list(r->namespaces, r->nnamespaces,
		     obj_str(obj, "metadata", "namespace")))
		return 0;
	if (r->selector) {
		json_t *md = json_object_get(obj, "metadata");
		if (!ks_selector_matches(r->selector,
					 json_object_get(md, "labels")))
			return 0;
	}
	return 1;
}

static void add_violation(ks_policy_report *rep, const ks_policy_set *s,
			  const policy_rule *r, const json_t *obj,
			  int mandatory, char *message)
{
	if (rep->n == rep->alloc) {
		rep->alloc = rep->alloc ? rep->alloc * 2 : 16;
		rep->v = ks_xrealloc(rep->v, rep->alloc * sizeof(*rep->v));
	}
	const char *ns = obj_str(obj, "metadata", "namespace");
	const char *name = obj_str(obj, "metadata", "name");
	const char *kind = obj_str(obj, "kind", NULL);
	ks_policy_violation *v = &rep->v[rep->n++];
	v->set = ks_xstrdup(s->name);
	v->rule = ks_xstrdup(r->name);
	v->kind = ks_xstrdup(kind ? kind : "?");
	v->object = ns ? ks_xasprintf("%s/%s", ns, name ? name : "?")
		       : ks_xstrdup(name ? name : "?");
	v->message = message;
	v->mandatory = mandatory;
}

static char *rule_message(ks_cel_ctx *c, const policy_rule *r,
			  json_t *const *vars)
{
	if (r->message_expr) {
		ks_cel_value m =
			ks_cel_eval(c, r->message_expr, vars, NRULE_VARS);
		if (m.kind == KS_CEL_STRING && m.aux)
			return ks_xstrndup(m.v.s, m.aux);
	}
	if (r->message)
		return ks_xstrdup(r->message);
	return ks_xasprintf("failed rule \"%s\"", r->name);
}

/* Evaluates the set's variables for one object into a JSON object. */
static json_t *eval_vars(ks_cel_ctx *c, const ks_policy_set *s, json_t **vars)
{
	json_t *o = json_object();
	vars[3] = o;
	for (size_t i = 0; i < s->nvars; i++) {
		if (!s->vars[i].prog)
			continue;
		ks_cel_value v =
			ks_cel_eval(c, s->vars[i].prog, vars, NRULE_VARS);
		json_t *j = ks_cel_value_to_jansson(&v);
		if (j)
			json_object_set_new(o, s->vars[i].name, j);
	}
	return o;
}

static void check_object(ks_cel_ctx *c, const ks_policy_set *s, int mandatory,
			 json_t *obj, json_t *app, json_t *resources,
			 ks_policy_report *rep)
{
	json_t *vars[NRULE_VARS] = {obj, app, resources, NULL};
	json_t *varobj = NULL;
	for (size_t i = 0; i < s->nrules; i++) {
		const policy_rule *r = &s->rules[i];
		if (!r->validate || !rule_matches(r, obj))
			continue;
		if (!varobj)
			varobj = eval_vars(c, s, vars);
		rep->evaluated++;
		ks_cel_value v = ks_cel_eval(c, r->validate, vars, NRULE_VARS);
		if (v.kind == KS_CEL_BOOL && v.v.b)
			continue;
		char *msg;
		if (v.kind == KS_CEL_BOOL)
			msg = rule_message(c, r, vars);
		else if (v.kind == KS_CEL_ERROR)
			msg = ks_xasprintf("evaluation error: %s",
					   ks_cel_error_message(&v));
		else
			msg = ks_xasprintf(
				"validate gave a %s, not a bool",
				ks_cel_kind_name((ks_cel_kind)v.kind));
		add_violation(rep, s, r, obj, mandatory, msg);
	}
	json_decref(varobj);
}

static void check_objects(ks_cel_ctx *c, const ks_policy_set *set,
			  int mandatory, const json_t *objects,
			  const json_t *app, const json_t *resources,
			  ks_policy_report *rep)
{
	json_t *null = json_null();
	json_t *appv = app ? (json_t *)app : null;
	json_t *res = (json_t *)(resources ? resources : objects);
	size_t i;
	json_t *obj;
	json_array_foreach(objects, i, obj)
	{
		if (json_is_object(obj))
			check_object(c, set, mandatory, obj, appv, res, rep);
	}
}

void ks_policy_check_objects(const ks_policy_set *set, int mandatory,
			     const json_t *objects, const json_t *app,
			     const json_t *resources, ks_policy_report *rep)
{
	ks_cel_ctx *c = ks_cel_ctx_new();
	check_objects(c, set, mandatory, objects, app, resources, rep);
	ks_cel_ctx_free(c);
}

int ks_policy_check_spec(const ks_policy_registry *r, const json_t *spec,
			 ks_policy_report *rep, ks_errlist *errs)
{
	int rc = 0;
	json_t *apps = json_object_get(spec, "apps");
	json_t *resources = json_object_get(spec, "resources");
	/* The Kubernetes objects of each app, in one pass. */
	json_t *byapp = json_object();
	size_t k;
	json_t *res;
	json_array_foreach(resources, k, res)
	{
		const char *owner = obj_str(res, "extensions", "kusync.io/app");
		json_t *attrs = json_object_get(res, "attributes");
		if (!owner || !json_is_object(attrs))
			continue;
		json_t *list = json_object_get(byapp, owner);
		if (!list) {
			list = json_array();
			json_object_set_new(byapp, owner, list);
		}
		json_array_append(list, attrs);
	}
	json_t *none = json_array();
	ks_cel_ctx *c = ks_cel_ctx_new();
	size_t i;
	json_t *app;
	json_array_foreach(apps, i, app)
	{
		const char *name = obj_str(app, "name", NULL);
		json_t *sets = json_object_get(app, "policysets");
		if (!name || !json_object_size(sets))
			continue;
		json_t *objs = json_object_get(byapp, name);
		if (!objs)
			objs = none;
		const char *sname;
		json_t *sv;
		json_object_foreach(sets, sname, sv)
		{
			const ks_policy_set *s = ks_policy_find(r, sname);
			if (!s) {
				ks_errlist_add(errs, name, 0, 0,
					       "unknown policy set \"%s\"",
					       sname);
				rc = KS_EINVAL;
				continue;
			}
			const char *kind = obj_str(sv, "kind", NULL);
			int mandatory = !kind || strcmp(kind, "advisory");
			check_objects(c, s, mandatory, objs, app, objs, rep);
		}
	}
	ks_cel_ctx_free(c);
	json_decref(none);
	json_decref(byapp);
	return rc;
}
