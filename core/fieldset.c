#include "core/fieldset.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "core/patch.h"
#include "core/banned.h"

/*
 * A field set is a trie of path elements. A node is a member when the path
 * from the root to it is in the set; nodes that are neither members nor
 * have children are dropped. Children are kept sorted as the API server
 * prints them: field names, then keys, then values, then indexes.
 */
struct fnode {
	char *pe; /* "f:spec", "k:{...}", "v:...", "i:0"; NULL at the root */
	bool member;
	struct fnode **kids;
	size_t nkids;
};

struct ks_fieldset {
	struct fnode *root;
};

#define MAX_DEPTH 128

static struct fnode *fnode_new(const char *pe)
{
	struct fnode *n = ks_xcalloc(1, sizeof(*n));
	n->pe = pe ? ks_xstrdup(pe) : NULL;
	return n;
}

static void fnode_free(struct fnode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		fnode_free(n->kids[i]);
	free(n->kids);
	free(n->pe);
	free(n);
}

static int pe_rank(const char *pe)
{
	switch (pe[0]) {
	case 'f':
		return 0;
	case 'k':
		return 1;
	case 'v':
		return 2;
	default:
		return 3;
	}
}

static int pe_cmp(const char *a, const char *b)
{
	int ra = pe_rank(a), rb = pe_rank(b);
	if (ra != rb)
		return ra - rb;
	return strcmp(a, b);
}

/* The child with element pe: its index, or where it would go (*found
 * false). */
static size_t fnode_find(const struct fnode *n, const char *pe, bool *found)
{
	size_t lo = 0, hi = n->nkids;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = pe_cmp(n->kids[mid]->pe, pe);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static struct fnode *fnode_get(const struct fnode *n, const char *pe)
{
	bool found;
	size_t at = fnode_find(n, pe, &found);
	return found ? n->kids[at] : NULL;
}

/* The child with element pe, created if missing. */
static struct fnode *fnode_child(struct fnode *n, const char *pe)
{
	bool found;
	size_t at = fnode_find(n, pe, &found);
	if (found)
		return n->kids[at];
	n->kids = ks_xrealloc(n->kids, (n->nkids + 1) * sizeof(*n->kids));
	memmove(n->kids + at + 1, n->kids + at,
		(n->nkids - at) * sizeof(*n->kids));
	n->kids[at] = fnode_new(pe);
	n->nkids++;
	return n->kids[at];
}

/* Drops empty descendants; returns whether n itself is empty. */
static bool fnode_prune(struct fnode *n)
{
	size_t o = 0;
	for (size_t i = 0; i < n->nkids; i++) {
		if (fnode_prune(n->kids[i]))
			fnode_free(n->kids[i]);
		else
			n->kids[o++] = n->kids[i];
	}
	n->nkids = o;
	return !n->member && n->nkids == 0;
}

static ks_fieldset *set_wrap(struct fnode *root)
{
	ks_fieldset *s = ks_xcalloc(1, sizeof(*s));
	s->root = root;
	fnode_prune(root);
	return s;
}

ks_fieldset *ks_fieldset_new(void)
{
	return set_wrap(fnode_new(NULL));
}

void ks_fieldset_free(ks_fieldset *s)
{
	if (!s)
		return;
	fnode_free(s->root);
	free(s);
}

bool ks_fieldset_empty(const ks_fieldset *s)
{
	return !s->root->member && s->root->nkids == 0;
}

/* ---- set algebra ---- */

enum setop { OP_UNION, OP_DIFF, OP_INTER };

/* a op b as a new tree; either may be NULL (the empty set). */
static struct fnode *fnode_op(const struct fnode *a, const struct fnode *b,
			      enum setop op, const char *pe)
{
	struct fnode *r = fnode_new(pe);
	bool am = a && a->member, bm = b && b->member;
	r->member = op == OP_UNION  ? am || bm
		    : op == OP_DIFF ? am && !bm
				    : am && bm;
	for (size_t i = 0; a && i < a->nkids; i++) {
		const struct fnode *ak = a->kids[i];
		const struct fnode *bk = b ? fnode_get(b, ak->pe) : NULL;
		if (op == OP_INTER && !bk)
			continue;
		struct fnode *k = fnode_op(ak, bk, op, ak->pe);
		struct fnode *slot = fnode_child(r, ak->pe);
		slot->member = k->member;
		slot->kids = k->kids;
		slot->nkids = k->nkids;
		k->kids = NULL;
		k->nkids = 0;
		fnode_free(k);
	}
	for (size_t i = 0; op == OP_UNION && b && i < b->nkids; i++) {
		const struct fnode *bk = b->kids[i];
		if (a && fnode_get(a, bk->pe))
			continue;
		struct fnode *k = fnode_op(NULL, bk, op, bk->pe);
		struct fnode *slot = fnode_child(r, bk->pe);
		slot->member = k->member;
		slot->kids = k->kids;
		slot->nkids = k->nkids;
		k->kids = NULL;
		k->nkids = 0;
		fnode_free(k);
	}
	return r;
}

ks_fieldset *ks_fieldset_union(const ks_fieldset *a, const ks_fieldset *b)
{
	return set_wrap(fnode_op(a->root, b->root, OP_UNION, NULL));
}

ks_fieldset *ks_fieldset_difference(const ks_fieldset *a, const ks_fieldset *b)
{
	return set_wrap(fnode_op(a->root, b->root, OP_DIFF, NULL));
}

ks_fieldset *ks_fieldset_intersection(const ks_fieldset *a,
				      const ks_fieldset *b)
{
	return set_wrap(fnode_op(a->root, b->root, OP_INTER, NULL));
}

static ks_fieldset *set_copy(const ks_fieldset *s)
{
	return set_wrap(fnode_op(s->root, NULL, OP_UNION, NULL));
}

/* Replaces *a with *a op b. */
static void set_apply(ks_fieldset **a, const ks_fieldset *b, enum setop op)
{
	ks_fieldset *r = set_wrap(fnode_op((*a)->root, b->root, op, NULL));
	ks_fieldset_free(*a);
	*a = r;
}

/* ---- fieldsV1 ---- */

static bool valid_pe(const char *k)
{
	return strlen(k) >= 2 && k[1] == ':' && strchr("fkvi", k[0]);
}

static int fnode_from_json(struct fnode *n, const json_t *v, ks_error *err)
{
	if (!json_is_object(v))
		return ks_error_set(err, KS_EINVAL,
				    "fieldsV1: expected an object at \"%s\"",
				    n->pe ? n->pe : "(root)");
	if (json_object_size(v) == 0 && n->pe)
		n->member = true;
	const char *k;
	json_t *c;
	json_object_foreach((json_t *)v, k, c)
	{
		if (!strcmp(k, ".")) {
			n->member = true;
			continue;
		}
		if (!valid_pe(k))
			return ks_error_set(err, KS_EINVAL,
					    "fieldsV1: invalid path element "
					    "\"%s\"",
					    k);
		int rc = fnode_from_json(fnode_child(n, k), c, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int ks_fieldset_from_fields_v1(ks_fieldset **out, const json_t *fields_v1,
			       ks_error *err)
{
	struct fnode *root = fnode_new(NULL);
	int rc = fnode_from_json(root, fields_v1, err);
	if (rc < 0) {
		fnode_free(root);
		return rc;
	}
	*out = set_wrap(root);
	return 0;
}

static json_t *fnode_to_json(const struct fnode *n)
{
	json_t *o = json_object();
	if (n->member && n->nkids && n->pe)
		json_object_set_new(o, ".", json_object());
	for (size_t i = 0; i < n->nkids; i++)
		json_object_set_new(o, n->kids[i]->pe,
				    fnode_to_json(n->kids[i]));
	return o;
}

json_t *ks_fieldset_to_fields_v1(const ks_fieldset *s)
{
	return fnode_to_json(s->root);
}

/* ---- printed paths ---- */

static void print_pe(ks_buf *b, const char *pe)
{
	const char *body = pe + 2;
	if (pe[0] == 'f') {
		ks_buf_printf(b, ".%s", body);
		return;
	}
	if (pe[0] == 'i') {
		ks_buf_printf(b, "[%s]", body);
		return;
	}
	if (pe[0] == 'v') {
		ks_buf_printf(b, "[=%s]", body);
		return;
	}
	json_t *k = json_loads(body, 0, NULL);
	if (!json_is_object(k)) {
		ks_buf_printf(b, "[%s]", body);
		json_decref(k);
		return;
	}
	/* json_loads keeps document order; keys are printed sorted. */
	char *sorted = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(k);
	k = json_loads(sorted, 0, NULL);
	free(sorted);
	ks_buf_puts(b, "[");
	const char *name;
	json_t *v;
	bool first = true;
	json_object_foreach(k, name, v)
	{
		char *vs = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		ks_buf_printf(b, "%s%s=%s", first ? "" : ",", name, vs);
		free(vs);
		first = false;
	}
	ks_buf_puts(b, "]");
	json_decref(k);
}

static void collect_paths(const struct fnode *n, ks_buf *prefix, json_t *out)
{
	size_t len = prefix->len;
	if (n->pe)
		print_pe(prefix, n->pe);
	if (n->member)
		json_array_append_new(out, json_string(prefix->data));
	for (size_t i = 0; i < n->nkids; i++)
		collect_paths(n->kids[i], prefix, out);
	prefix->len = len;
	if (prefix->data)
		prefix->data[len] = 0;
}

static int strcmp_json(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
		      json_string_value(*(json_t *const *)b));
}

json_t *ks_fieldset_paths(const ks_fieldset *s)
{
	json_t *out = json_array();
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_buf_puts(&b, "");
	collect_paths(s->root, &b, out);
	ks_buf_release(&b);
	size_t n = json_array_size(out);
	json_t **items = ks_xmalloc((n ? n : 1) * sizeof(*items));
	for (size_t i = 0; i < n; i++)
		items[i] = json_incref(json_array_get(out, i));
	qsort(items, n, sizeof(*items), strcmp_json);
	json_array_clear(out);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(out, items[i]);
	free(items);
	return out;
}

bool ks_fieldset_has(const ks_fieldset *s, const char *path)
{
	json_t *paths = ks_fieldset_paths(s);
	bool found = false;
	for (size_t i = 0; i < json_array_size(paths) && !found; i++)
		found = !strcmp(json_string_value(json_array_get(paths, i)),
				path);
	json_decref(paths);
	return found;
}

/* ---- walking objects ---- */

/* What the walkers share: merge keys on or off, and the write's scope. */
typedef struct walk {
	bool builtin;
	ks_fieldset_scope scope;
} walk;

static const char *const server_meta[] = {
	"name",
	"namespace",
	"uid",
	"resourceVersion",
	"generation",
	"creationTimestamp",
	"selfLink",
	"managedFields",
	"deletionTimestamp",
	"deletionGracePeriodSeconds",
	"clusterName",
};

/* Whether the field `key` under the dotted path `parent` is outside the
 * write (server-managed, or out of scope). */
static bool skipped(const walk *w, const char *parent, const char *key)
{
	if (!*parent) {
		if (!strcmp(key, "apiVersion") || !strcmp(key, "kind"))
			return true;
		if (w->scope == KS_SCOPE_MAIN && !strcmp(key, "status"))
			return true;
		if (w->scope == KS_SCOPE_STATUS && strcmp(key, "status") != 0)
			return true;
		return false;
	}
	if (strcmp(parent, "metadata") != 0)
		return false;
	for (size_t i = 0; i < sizeof(server_meta) / sizeof(*server_meta); i++)
		if (!strcmp(key, server_meta[i]))
			return true;
	return false;
}

static char *dotted(const char *parent, const char *key)
{
	return *parent ? ks_xasprintf("%s.%s", parent, key) : ks_xstrdup(key);
}

/* Maps that built-in types declare atomic (structType/mapType=atomic):
 * owned and replaced as a whole. */
static bool atomic_map(const walk *w, const char *dpath)
{
	static const char *const suffixes[] = {"selector", "nodeSelector",
					       "labelSelector",
					       "namespaceSelector"};
	if (!w->builtin)
		return false;
	if (!strcmp(dpath, "spec.selector"))
		return true;
	size_t pl = strlen(dpath);
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(*suffixes); i++) {
		size_t sl = strlen(suffixes[i]);
		if (sl <= pl && !strcmp(dpath + pl - sl, suffixes[i]) &&
		    (sl == pl || dpath[pl - sl - 1] == '.'))
			return true;
	}
	return false;
}

/* The list strategy at dpath, if every element of list fits it. */
static const ks_list_key *list_kind(const walk *w, const char *dpath,
				    const json_t *list)
{
	const ks_list_key *k = w->builtin ? ks_list_merge_key(dpath) : NULL;
	if (!k || !json_is_array(list))
		return NULL;
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *e = json_array_get(list, i);
		if (k->type == KS_LIST_SET &&
		    (json_is_object(e) || json_is_array(e)))
			return NULL;
		if (k->type != KS_LIST_MAP)
			continue;
		if (!json_is_object(e))
			return NULL;
		for (int j = 0; j < k->nkeys; j++)
			if (!json_object_get(e, k->keys[j]) && !k->defaults[j])
				return NULL;
	}
	return k;
}

/* The path element of a list item ("k:{...}" or "v:..."), heap string. */
static char *item_pe(const ks_list_key *k, const json_t *e)
{
	if (k->type == KS_LIST_SET) {
		char *v = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
		char *pe = ks_xasprintf("v:%s", v);
		free(v);
		return pe;
	}
	json_t *key = json_object();
	for (int j = 0; j < k->nkeys; j++) {
		json_t *v = json_object_get(e, k->keys[j]);
		json_object_set_new(key, k->keys[j],
				    v ? json_deep_copy(v)
				      : json_string(k->defaults[j]));
	}
	char *s = json_dumps(key, JSON_COMPACT | JSON_SORT_KEYS);
	char *pe = ks_xasprintf("k:%s", s);
	free(s);
	json_decref(key);
	return pe;
}

/* Index of the element of list whose item_pe is pe, or -1. */
static long find_item(const ks_list_key *k, const json_t *list, const char *pe)
{
	for (size_t i = 0; i < json_array_size(list); i++) {
		char *p = item_pe(k, json_array_get(list, i));
		bool eq = !strcmp(p, pe);
		free(p);
		if (eq)
			return (long)i;
	}
	return -1;
}

/* Whether pe's items are unique in list (else the list is atomic). */
static bool items_unique(const ks_list_key *k, const json_t *list)
{
	for (size_t i = 0; i < json_array_size(list); i++) {
		char *p = item_pe(k, json_array_get(list, i));
		long at = find_item(k, list, p);
		free(p);
		if (at != (long)i)
			return false;
	}
	return true;
}

static const ks_list_key *keyed_list(const walk *w, const char *dpath,
				     const json_t *list)
{
	const ks_list_key *k = list_kind(w, dpath, list);
	return k && items_unique(k, list) ? k : NULL;
}

/*
 * Adds the fields of v at node n. `all` is the compare walker's "added"
 * mode, in which non-empty objects are members too (except the structs
 * named spec, metadata, status, template and strategy, which the API server
 * sees as present even in an empty object, being non-pointer Go structs);
 * otherwise apply's ToFieldSet rules hold. Atomic maps are members
 * as a whole.
 */
static void add_value(const walk *w, struct fnode *n, const json_t *v,
		      const char *dpath, int depth, bool all);

static void add_object(const walk *w, struct fnode *n, const json_t *v,
		       const char *dpath, int depth, bool all)
{
	const char *k;
	json_t *c;
	json_object_foreach((json_t *)v, k, c)
	{
		if (skipped(w, dpath, k))
			continue;
		char *pe = ks_xasprintf("f:%s", k);
		char *dp = dotted(dpath, k);
		add_value(w, fnode_child(n, pe), c, dp, depth + 1, all);
		free(pe);
		free(dp);
	}
}

static bool always_present(const char *dpath, int depth)
{
	const char *last = strrchr(dpath, '.');
	last = last ? last + 1 : dpath;
	(void)depth;
	return !strcmp(last, "spec") || !strcmp(last, "metadata") ||
	       !strcmp(last, "status") || !strcmp(last, "template") ||
	       !strcmp(last, "strategy");
}

static void add_value(const walk *w, struct fnode *n, const json_t *v,
		      const char *dpath, int depth, bool all)
{
	if (depth >= MAX_DEPTH) {
		n->member = true;
		return;
	}
	if (json_is_object(v) && atomic_map(w, dpath)) {
		n->member = true;
		return;
	}
	if (json_is_object(v)) {
		if (json_object_size(v) == 0 ||
		    (all && !always_present(dpath, depth)))
			n->member = true;
		add_object(w, n, v, dpath, depth, all);
		return;
	}
	const ks_list_key *k = keyed_list(w, dpath, v);
	if (!k) {
		n->member = true;
		return;
	}
	if (all)
		n->member = json_array_size(v) > 0 ? n->member : true;
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *e = json_array_get(v, i);
		char *pe = item_pe(k, e);
		struct fnode *c = fnode_child(n, pe);
		free(pe);
		c->member = true;
		if (k->type == KS_LIST_MAP)
			add_object(w, c, e, dpath, depth + 1, all);
	}
}

static walk walk_for(const json_t *obj, ks_fieldset_scope scope)
{
	walk w = {.scope = scope};
	w.builtin = ks_smp_supported(
		json_string_value(json_object_get(obj, "apiVersion")),
		json_string_value(json_object_get(obj, "kind")));
	return w;
}

static ks_fieldset *set_of_object(const walk *w, const json_t *obj)
{
	struct fnode *root = fnode_new(NULL);
	add_object(w, root, obj, "", 0, false);
	return set_wrap(root);
}

int ks_fieldset_from_object(ks_fieldset **out, const json_t *obj,
			    ks_fieldset_scope scope, ks_error *err)
{
	if (!json_is_object(obj))
		return ks_error_set(err, KS_EINVAL,
				    "field set: the object is not a JSON "
				    "object");
	walk w = walk_for(obj, scope);
	*out = set_of_object(&w, obj);
	return 0;
}

/* ---- extracting ---- */

static json_t *extract_value(const walk *w, const json_t *v,
			     const struct fnode *n, const char *dpath);

static json_t *extract_object(const walk *w, const json_t *v,
			      const struct fnode *n, const char *dpath)
{
	json_t *res = json_object();
	for (size_t i = 0; i < n->nkids; i++) {
		const struct fnode *k = n->kids[i];
		if (k->pe[0] != 'f')
			continue;
		const json_t *c = json_object_get(v, k->pe + 2);
		if (!c)
			continue;
		char *dp = dotted(dpath, k->pe + 2);
		json_object_set_new(res, k->pe + 2, extract_value(w, c, k, dp));
		free(dp);
	}
	return res;
}

/* A keyed element's extract, with its key fields. */
static json_t *extract_item(const walk *w, const ks_list_key *k,
			    const json_t *e, const struct fnode *n,
			    const char *dpath)
{
	if ((n->member && !n->nkids) || k->type != KS_LIST_MAP)
		return json_deep_copy(e);
	json_t *res = extract_object(w, e, n, dpath);
	for (int j = 0; j < k->nkeys; j++) {
		json_t *kv = json_object_get(e, k->keys[j]);
		if (kv)
			json_object_set(res, k->keys[j], kv);
	}
	return res;
}

static json_t *extract_value(const walk *w, const json_t *v,
			     const struct fnode *n, const char *dpath)
{
	if (n->member && !n->nkids)
		return json_deep_copy(v);
	if (json_is_object(v))
		return extract_object(w, v, n, dpath);
	const ks_list_key *k = keyed_list(w, dpath, v);
	if (!k)
		return json_deep_copy(v);
	json_t *res = json_array();
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *e = json_array_get(v, i);
		char *pe = item_pe(k, e);
		const struct fnode *kn = fnode_get(n, pe);
		free(pe);
		if (kn)
			json_array_append_new(res,
					      extract_item(w, k, e, kn, dpath));
	}
	return res;
}

json_t *ks_fieldset_extract(const ks_fieldset *s, const json_t *obj)
{
	walk w = walk_for(obj, KS_SCOPE_ALL);
	if (!json_is_object(obj))
		return json_object();
	return extract_object(&w, obj, s->root, "");
}

/* ---- comparing two objects ---- */

typedef struct cmp {
	const walk *w;
	struct fnode *added, *modified, *removed;
	const char *pes[MAX_DEPTH];
	int depth;
} cmp;

/* The node at the current path in tree t, created on the way. */
static struct fnode *cmp_node(cmp *c, struct fnode *t)
{
	for (int i = 0; i < c->depth; i++)
		t = fnode_child(t, c->pes[i]);
	return t;
}

static void cmp_value(cmp *c, const json_t *l, const json_t *r,
		      const char *dpath);

static void cmp_push(cmp *c, const char *pe)
{
	c->pes[c->depth++] = pe;
}

static void cmp_objects(cmp *c, const json_t *l, const json_t *r,
			const char *dpath)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)r, k, v)
	{
		if (skipped(c->w, dpath, k))
			continue;
		char *pe = ks_xasprintf("f:%s", k);
		char *dp = dotted(dpath, k);
		cmp_push(c, pe);
		cmp_value(c, json_object_get(l, k), v, dp);
		c->depth--;
		free(pe);
		free(dp);
	}
	json_object_foreach((json_t *)l, k, v)
	{
		if (skipped(c->w, dpath, k) || json_object_get(r, k))
			continue;
		char *pe = ks_xasprintf("f:%s", k);
		char *dp = dotted(dpath, k);
		cmp_push(c, pe);
		cmp_value(c, v, NULL, dp);
		c->depth--;
		free(pe);
		free(dp);
	}
}

/* Keyed lists on both sides: items matched by key. */
static void cmp_lists(cmp *c, const ks_list_key *k, const json_t *l,
		      const json_t *r, const char *dpath)
{
	for (size_t i = 0; i < json_array_size(r); i++) {
		const json_t *re = json_array_get(r, i);
		char *pe = item_pe(k, re);
		long at = find_item(k, l, pe);
		const json_t *le =
			at < 0 ? NULL : json_array_get(l, (size_t)at);
		cmp_push(c, pe);
		if (!le)
			add_value(c->w, cmp_node(c, c->added), re, dpath,
				  c->depth, true);
		if (!le)
			cmp_node(c, c->added)->member = true;
		else if (k->type == KS_LIST_MAP)
			cmp_objects(c, le, re, dpath);
		c->depth--;
		free(pe);
	}
	for (size_t i = 0; i < json_array_size(l); i++) {
		const json_t *le = json_array_get(l, i);
		char *pe = item_pe(k, le);
		if (find_item(k, r, pe) < 0) {
			cmp_push(c, pe);
			add_value(c->w, cmp_node(c, c->removed), le, dpath,
				  c->depth, true);
			cmp_node(c, c->removed)->member = true;
			c->depth--;
		}
		free(pe);
	}
}

static void cmp_value(cmp *c, const json_t *l, const json_t *r,
		      const char *dpath)
{
	if (c->depth >= MAX_DEPTH - 1) {
		if (!ks_json_equal(l, r))
			cmp_node(c, c->modified)->member = true;
		return;
	}
	if (!l || !r) {
		struct fnode *t = l ? c->removed : c->added;
		add_value(c->w, cmp_node(c, t), l ? l : r, dpath, c->depth,
			  true);
		return;
	}
	if (json_is_object(l) && json_is_object(r) &&
	    !atomic_map(c->w, dpath)) {
		cmp_objects(c, l, r, dpath);
		return;
	}
	const ks_list_key *kl = keyed_list(c->w, dpath, l);
	const ks_list_key *kr = keyed_list(c->w, dpath, r);
	if (kl && kr) {
		cmp_lists(c, kl, l, r, dpath);
		return;
	}
	if (!ks_json_equal(l, r))
		cmp_node(c, c->modified)->member = true;
}

typedef struct diff {
	ks_fieldset *added, *modified, *removed;
} diff;

static void diff_release(diff *d)
{
	ks_fieldset_free(d->added);
	ks_fieldset_free(d->modified);
	ks_fieldset_free(d->removed);
}

/* What changed from l (NULL: nothing) to r, within w's scope. */
static void diff_objects(diff *d, const walk *w, const json_t *l,
			 const json_t *r)
{
	cmp c = {.w = w,
		 .added = fnode_new(NULL),
		 .modified = fnode_new(NULL),
		 .removed = fnode_new(NULL)};
	json_t *empty = json_object();
	cmp_objects(&c, l ? l : empty, r ? r : empty, "");
	json_decref(empty);
	d->added = set_wrap(c.added);
	d->modified = set_wrap(c.modified);
	d->removed = set_wrap(c.removed);
}

/* ---- managedFields entries ---- */

typedef struct entry {
	char *manager, *operation, *api_version, *time, *subresource;
	ks_fieldset *set;
} entry;

typedef struct entries {
	entry *v;
	size_t n;
} entries;

static void entries_release(entries *es)
{
	for (size_t i = 0; i < es->n; i++) {
		entry *e = &es->v[i];
		free(e->manager);
		free(e->operation);
		free(e->api_version);
		free(e->time);
		free(e->subresource);
		ks_fieldset_free(e->set);
	}
	free(es->v);
	es->v = NULL;
	es->n = 0;
}

static char *dup_member(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? ks_xstrdup(s) : NULL;
}

static int entries_load(entries *es, const json_t *mf, ks_error *err)
{
	es->v = NULL;
	es->n = 0;
	for (size_t i = 0; i < json_array_size(mf); i++) {
		const json_t *o = json_array_get(mf, i);
		ks_fieldset *set = NULL;
		const json_t *f = json_object_get(o, "fieldsV1");
		int rc = 0;
		if (f)
			rc = ks_fieldset_from_fields_v1(&set, f, err);
		else
			set = ks_fieldset_new();
		if (rc == 0 &&
		    !json_string_value(json_object_get(o, "manager")))
			rc = ks_error_set(err, KS_EINVAL,
					  "managedFields[%zu]: missing manager",
					  i);
		if (rc < 0) {
			ks_fieldset_free(set);
			entries_release(es);
			return rc;
		}
		es->v = ks_xrealloc(es->v, (es->n + 1) * sizeof(*es->v));
		entry *e = &es->v[es->n++];
		e->manager = dup_member(o, "manager");
		e->operation = dup_member(o, "operation");
		e->api_version = dup_member(o, "apiVersion");
		e->time = dup_member(o, "time");
		e->subresource = dup_member(o, "subresource");
		e->set = set;
	}
	return 0;
}

static bool str_eq(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

/* The entry of (manager, operation, subresource), created if asked. */
static entry *entries_find(entries *es, const char *manager,
			   const char *operation, const char *subresource,
			   bool create)
{
	for (size_t i = 0; i < es->n; i++)
		if (str_eq(es->v[i].manager, manager) &&
		    str_eq(es->v[i].operation, operation) &&
		    str_eq(es->v[i].subresource, subresource))
			return &es->v[i];
	if (!create)
		return NULL;
	es->v = ks_xrealloc(es->v, (es->n + 1) * sizeof(*es->v));
	entry *e = &es->v[es->n++];
	memset(e, 0, sizeof(*e));
	e->manager = ks_xstrdup(manager);
	e->operation = ks_xstrdup(operation);
	e->subresource =
		subresource && *subresource ? ks_xstrdup(subresource) : NULL;
	e->set = ks_fieldset_new();
	return e;
}

static bool sets_equal(const ks_fieldset *a, const ks_fieldset *b)
{
	json_t *ja = ks_fieldset_to_fields_v1(a),
	       *jb = ks_fieldset_to_fields_v1(b);
	bool eq = json_equal(ja, jb);
	json_decref(ja);
	json_decref(jb);
	return eq;
}

/*
 * Sets the entry's apiVersion, and its time when its fields changed (the
 * API server keeps the time of a write that changed nothing for the
 * manager); before is the entry's set before the write.
 */
static void entry_stamp(entry *e, const ks_fieldset *before,
			const char *api_version, const char *now)
{
	free(e->api_version);
	e->api_version = api_version ? ks_xstrdup(api_version) : NULL;
	if (e->time && sets_equal(before, e->set))
		return;
	free(e->time);
	if (now) {
		e->time = ks_xstrdup(now);
		return;
	}
	char buf[32];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	e->time = ks_xstrdup(buf);
}

/* The API server's order: Apply before Update, then by time, manager,
 * apiVersion and subresource. */
static int entry_cmp(const void *pa, const void *pb)
{
	const entry *a = pa, *b = pb;
	int c;
	const char *fa[] = {a->operation, a->time, a->manager, a->api_version,
			    a->subresource};
	const char *fb[] = {b->operation, b->time, b->manager, b->api_version,
			    b->subresource};
	for (size_t i = 0; i < 5; i++)
		if ((c = strcmp(fa[i] ? fa[i] : "", fb[i] ? fb[i] : "")) != 0)
			return c;
	return 0;
}

static json_t *entries_to_json(entries *es)
{
	qsort(es->v, es->n, sizeof(*es->v), entry_cmp);
	json_t *out = json_array();
	for (size_t i = 0; i < es->n; i++) {
		entry *e = &es->v[i];
		if (ks_fieldset_empty(e->set))
			continue;
		json_t *o = json_object();
		json_object_set_new(o, "manager", json_string(e->manager));
		if (e->operation)
			json_object_set_new(o, "operation",
					    json_string(e->operation));
		if (e->api_version)
			json_object_set_new(o, "apiVersion",
					    json_string(e->api_version));
		if (e->time)
			json_object_set_new(o, "time", json_string(e->time));
		json_object_set_new(o, "fieldsType", json_string("FieldsV1"));
		json_object_set_new(o, "fieldsV1",
				    ks_fieldset_to_fields_v1(e->set));
		if (e->subresource)
			json_object_set_new(o, "subresource",
					    json_string(e->subresource));
		json_array_append_new(out, o);
	}
	return out;
}

int ks_fieldset_of_manager(ks_fieldset **out, const json_t *managed_fields,
			   const char *manager, const char *operation,
			   const char *subresource, ks_error *err)
{
	entries es;
	int rc = entries_load(&es, managed_fields, err);
	if (rc < 0)
		return rc;
	ks_fieldset *s = ks_fieldset_new();
	for (size_t i = 0; i < es.n; i++) {
		entry *e = &es.v[i];
		if (str_eq(e->manager, manager) &&
		    (!operation || str_eq(e->operation, operation)) &&
		    str_eq(e->subresource, subresource))
			set_apply(&s, e->set, OP_UNION);
	}
	entries_release(&es);
	*out = s;
	return 0;
}

static ks_fieldset_scope scope_of(const ks_ssa_opts *o)
{
	if (o->subresource && !strcmp(o->subresource, "status"))
		return KS_SCOPE_STATUS;
	return o->status_subresource ? KS_SCOPE_MAIN : KS_SCOPE_ALL;
}

/* ---- update ---- */

/* The managedFields a write starts from (see the header). */
static const json_t *base_managed(const json_t *old_obj, const json_t *new_obj,
				  bool *reset)
{
	const json_t *nm = json_object_get(json_object_get(new_obj, "metadata"),
					   "managedFields");
	*reset = false;
	if (json_array_size(nm) == 1 &&
	    json_object_size(json_array_get(nm, 0)) == 0) {
		*reset = true;
		return NULL;
	}
	if (json_array_size(nm) > 0)
		return nm;
	return json_object_get(json_object_get(old_obj, "metadata"),
			       "managedFields");
}

int ks_fieldset_update_managed(json_t **out, const json_t *old_obj,
			       const json_t *new_obj, const ks_ssa_opts *opts,
			       ks_error *err)
{
	bool reset;
	const json_t *mf = base_managed(old_obj, new_obj, &reset);
	entries es;
	int rc = entries_load(&es, mf, err);
	if (rc < 0 &&
	    mf != json_object_get(json_object_get(old_obj, "metadata"),
				  "managedFields"))
		rc = entries_load(
			&es,
			json_object_get(json_object_get(old_obj, "metadata"),
					"managedFields"),
			err);
	if (rc < 0)
		return rc;
	walk w = walk_for(new_obj, scope_of(opts));
	diff d;
	diff_objects(&d, &w, old_obj, new_obj);
	ks_fieldset *changed = ks_fieldset_union(d.added, d.modified);
	entry *self = entries_find(&es, opts->manager, "Update",
				   opts->subresource, true);
	for (size_t i = 0; i < es.n; i++) {
		if (&es.v[i] == self)
			continue;
		set_apply(&es.v[i].set, changed, OP_DIFF);
		set_apply(&es.v[i].set, d.removed, OP_DIFF);
	}
	ks_fieldset *before = set_copy(self->set);
	set_apply(&self->set, d.removed, OP_DIFF);
	set_apply(&self->set, changed, OP_UNION);
	const char *av = opts->api_version ? opts->api_version
					   : json_string_value(json_object_get(
						     new_obj, "apiVersion"));
	entry_stamp(self, before, av, opts->now);
	ks_fieldset_free(before);
	*out = entries_to_json(&es);
	ks_fieldset_free(changed);
	diff_release(&d);
	entries_release(&es);
	return 0;
}

/* ---- apply ---- */

/* live merged with config (new value): maps recursively, keyed lists by
 * key, set lists as sets, the rest replaced; null removes. */
static json_t *ssa_merge(const walk *w, const json_t *l, const json_t *r,
			 const char *dpath);

static json_t *ssa_merge_object(const walk *w, const json_t *l, const json_t *r,
				const char *dpath)
{
	json_t *res = json_is_object(l) ? json_deep_copy(l) : json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)r, k, v)
	{
		if (json_is_null(v)) {
			json_object_del(res, k);
			continue;
		}
		char *dp = dotted(dpath, k);
		json_object_set_new(
			res, k, ssa_merge(w, json_object_get(res, k), v, dp));
		free(dp);
	}
	return res;
}

static json_t *ssa_merge_list(const walk *w, const ks_list_key *k,
			      const json_t *l, const json_t *r,
			      const char *dpath)
{
	json_t *res = json_deep_copy(l);
	for (size_t i = 0; i < json_array_size(r); i++) {
		const json_t *re = json_array_get(r, i);
		char *pe = item_pe(k, re);
		long at = find_item(k, res, pe);
		free(pe);
		if (k->type == KS_LIST_SET) {
			if (at < 0)
				json_array_append_new(res, json_deep_copy(re));
			continue;
		}
		json_t *le = at < 0 ? NULL : json_array_get(res, (size_t)at);
		json_t *m = ssa_merge(w, le, re, dpath);
		if (at < 0)
			json_array_append_new(res, m);
		else
			json_array_set_new(res, (size_t)at, m);
	}
	return res;
}

static json_t *ssa_merge(const walk *w, const json_t *l, const json_t *r,
			 const char *dpath)
{
	if (json_is_object(r) && !atomic_map(w, dpath))
		return ssa_merge_object(w, l, r, dpath);
	if (json_is_object(r))
		return ssa_merge_object(w, NULL, r, dpath);
	if (json_is_array(r) && json_is_array(l)) {
		const ks_list_key *kl = keyed_list(w, dpath, l);
		const ks_list_key *kr = keyed_list(w, dpath, r);
		if (kl && kr)
			return ssa_merge_list(w, kr, l, r, dpath);
	}
	return json_deep_copy(r);
}

/* The applied configuration reduced to the write's scope. */
static json_t *scoped_config(const json_t *applied, ks_fieldset_scope scope)
{
	json_t *c = json_deep_copy(applied);
	if (scope == KS_SCOPE_MAIN)
		json_object_del(c, "status");
	if (scope != KS_SCOPE_STATUS)
		return c;
	json_t *s = json_object();
	json_t *st = json_object_get(c, "status");
	if (st)
		json_object_set(s, "status", st);
	json_decref(c);
	return s;
}

/*
 * Prune: removes from v the fields marked in rm (what this manager applied
 * last time and no longer applies) unless some manager owns them or a field
 * below them (own, the union of every manager's set). A map or list that
 * the removals leave empty goes too, unless it is owned itself.
 */
static void prune_value(const walk *w, json_t *v, const struct fnode *rm,
			const struct fnode *own, const char *dpath);

static bool is_empty_container(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v) == 0) ||
	       (json_is_array(v) && json_array_size(v) == 0);
}

/* Prunes child c (element pe) of a container; returns whether the caller
 * should remove it. */
static bool prune_child(const walk *w, json_t *c, const struct fnode *rk,
			const struct fnode *own, const char *pe,
			const char *dpath)
{
	const struct fnode *ok = own ? fnode_get(own, pe) : NULL;
	if (rk->member && !ok)
		return true;
	bool was_empty = is_empty_container(c);
	prune_value(w, c, rk, ok, dpath);
	return !was_empty && is_empty_container(c) && !(ok && ok->member);
}

static void prune_object(const walk *w, json_t *obj, const struct fnode *rm,
			 const struct fnode *own, const char *dpath)
{
	for (size_t i = 0; i < rm->nkids; i++) {
		const struct fnode *rk = rm->kids[i];
		if (rk->pe[0] != 'f')
			continue;
		const char *name = rk->pe + 2;
		json_t *c = json_object_get(obj, name);
		if (!c)
			continue;
		char *dp = dotted(dpath, name);
		if (prune_child(w, c, rk, own, rk->pe, dp))
			json_object_del(obj, name);
		free(dp);
	}
}

static void prune_value(const walk *w, json_t *v, const struct fnode *rm,
			const struct fnode *own, const char *dpath)
{
	if (json_is_object(v)) {
		prune_object(w, v, rm, own, dpath);
		return;
	}
	const ks_list_key *k = keyed_list(w, dpath, v);
	if (!k)
		return;
	for (size_t i = json_array_size(v); i-- > 0;) {
		json_t *e = json_array_get(v, i);
		char *pe = item_pe(k, e);
		const struct fnode *rk = fnode_get(rm, pe);
		const struct fnode *ok = own ? fnode_get(own, pe) : NULL;
		if (rk && rk->member && !ok)
			json_array_remove(v, i);
		else if (rk && k->type == KS_LIST_MAP)
			prune_object(w, e, rk, ok, dpath);
		free(pe);
	}
}

/* How the API server names a manager in conflicts. */
static char *manager_label(const entry *e)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_buf_printf(&b, "\"%s\"", e->manager);
	if (e->subresource)
		ks_buf_printf(&b, " with subresource \"%s\"", e->subresource);
	if (str_eq(e->operation, "Update"))
		ks_buf_printf(&b, " using %s",
			      e->api_version ? e->api_version : "");
	return ks_buf_detach(&b, NULL);
}

static int label_cmp(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(json_string_value(json_object_get(x, "label")),
		       json_string_value(json_object_get(y, "label")));
	if (c)
		return c;
	return strcmp(json_string_value(json_object_get(x, "field")),
		      json_string_value(json_object_get(y, "field")));
}

/* Sorts conflicts by manager label then path, drops the helper "label". */
static json_t *sort_conflicts(json_t *list)
{
	size_t n = json_array_size(list);
	json_t **items = ks_xmalloc((n ? n : 1) * sizeof(*items));
	for (size_t i = 0; i < n; i++)
		items[i] = json_incref(json_array_get(list, i));
	qsort(items, n, sizeof(*items), label_cmp);
	json_array_clear(list);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, items[i]);
	free(items);
	return list;
}

static void conflict_message(ks_buf *b, const json_t *list)
{
	size_t n = json_array_size(list);
	if (n == 1) {
		const json_t *c = json_array_get(list, 0);
		ks_buf_printf(
			b, "Apply failed with 1 conflict: conflict with %s: %s",
			json_string_value(json_object_get(c, "label")),
			json_string_value(json_object_get(c, "field")));
		return;
	}
	ks_buf_printf(b, "Apply failed with %zu conflicts: ", n);
	const char *prev = NULL;
	for (size_t i = 0; i < n; i++) {
		const json_t *c = json_array_get(list, i);
		const char *label =
			json_string_value(json_object_get(c, "label"));
		if (!prev || strcmp(prev, label) != 0)
			ks_buf_printf(b,
				      "%sconflicts with %s:", prev ? "\n" : "",
				      label);
		ks_buf_printf(b, "\n- %s",
			      json_string_value(json_object_get(c, "field")));
		prev = label;
	}
}

/* Adds e's conflicting fields (set c) to list. */
static void add_conflicts(json_t *list, const entry *e, const ks_fieldset *c)
{
	json_t *paths = ks_fieldset_paths(c);
	char *label = manager_label(e);
	for (size_t i = 0; i < json_array_size(paths); i++) {
		json_t *o = json_object();
		json_object_set_new(o, "manager", json_string(e->manager));
		if (e->operation)
			json_object_set_new(o, "operation",
					    json_string(e->operation));
		if (e->api_version)
			json_object_set_new(o, "apiVersion",
					    json_string(e->api_version));
		if (e->subresource)
			json_object_set_new(o, "subresource",
					    json_string(e->subresource));
		json_object_set(o, "field", json_array_get(paths, i));
		json_object_set_new(o, "message",
				    json_sprintf("conflict with %s", label));
		json_object_set_new(o, "label", json_string(label));
		json_array_append_new(list, o);
	}
	free(label);
	json_decref(paths);
}

/*
 * Takes the changed fields away from other managers, or, without force,
 * reports them as conflicts (KS_ECONFLICT).
 */
static int resolve_conflicts(entries *es, const entry *self,
			     const ks_fieldset *changed, const diff *d,
			     bool force, json_t **conflicts, ks_error *err)
{
	json_t *list = json_array();
	for (size_t i = 0; i < es->n; i++) {
		entry *e = &es->v[i];
		if (e == self)
			continue;
		ks_fieldset *c = ks_fieldset_intersection(e->set, changed);
		if (!ks_fieldset_empty(c))
			add_conflicts(list, e, c);
		ks_fieldset_free(c);
	}
	if (json_array_size(list) && !force) {
		sort_conflicts(list);
		ks_buf b;
		ks_buf_init(&b, 0);
		conflict_message(&b, list);
		ks_error_set(err, KS_ECONFLICT, "%s", b.data);
		ks_buf_release(&b);
		for (size_t i = 0; i < json_array_size(list); i++)
			json_object_del(json_array_get(list, i), "label");
		if (conflicts)
			*conflicts = list;
		else
			json_decref(list);
		return KS_ECONFLICT;
	}
	json_decref(list);
	for (size_t i = 0; i < es->n; i++) {
		if (&es->v[i] == self)
			continue;
		set_apply(&es->v[i].set, changed, OP_DIFF);
		set_apply(&es->v[i].set, d->removed, OP_DIFF);
	}
	return 0;
}

static ks_fieldset *union_of_all(const entries *es)
{
	ks_fieldset *all = ks_fieldset_new();
	for (size_t i = 0; i < es->n; i++)
		set_apply(&all, es->v[i].set, OP_UNION);
	return all;
}

static int check_applied(const json_t *applied, const ks_ssa_opts *opts,
			 ks_error *err)
{
	if (!opts || !opts->manager || !*opts->manager)
		return ks_error_set(err, KS_EINVAL,
				    "fieldManager: Required value: is required "
				    "for apply patch");
	if (!json_is_object(applied))
		return ks_error_set(err, KS_EINVAL,
				    "apply: the configuration is not an "
				    "object");
	if (json_object_get(json_object_get(applied, "metadata"),
			    "managedFields"))
		return ks_error_set(err, KS_EINVAL,
				    "metadata.managedFields must be nil");
	return 0;
}

int ks_ssa_apply(json_t **out_obj, json_t **out_managed_fields,
		 json_t **conflicts, const json_t *live, const json_t *applied,
		 const ks_ssa_opts *opts, ks_error *err)
{
	int rc = check_applied(applied, opts, err);
	if (rc < 0)
		return rc;
	entries es;
	rc = entries_load(&es,
			  json_object_get(json_object_get(live, "metadata"),
					  "managedFields"),
			  err);
	if (rc < 0)
		return rc;
	ks_fieldset_scope scope = scope_of(opts);
	walk w = walk_for(applied, scope);
	json_t *config = scoped_config(applied, scope);
	json_t *merged = ssa_merge(&w, live, config, "");
	ks_fieldset *newset = set_of_object(&w, config);
	diff d;
	diff_objects(&d, &w, live, merged);
	ks_fieldset *changed = ks_fieldset_union(d.added, d.modified);
	entry *self = entries_find(&es, opts->manager, "Apply",
				   opts->subresource, true);
	rc = resolve_conflicts(&es, self, changed, &d, opts->force, conflicts,
			       err);
	if (rc < 0)
		goto out;
	ks_fieldset *last = self->set;
	self->set = newset;
	newset = NULL;
	ks_fieldset *gone = ks_fieldset_difference(last, self->set);
	ks_fieldset *owned = union_of_all(&es);
	prune_value(&w, merged, gone->root, owned->root, "");
	ks_fieldset_free(gone);
	ks_fieldset_free(owned);
	const char *av = opts->api_version ? opts->api_version
					   : json_string_value(json_object_get(
						     applied, "apiVersion"));
	entry_stamp(self, last, av, opts->now);
	ks_fieldset_free(last);
	json_t *mf = entries_to_json(&es);
	json_t *md = json_object_get(merged, "metadata");
	if (!json_is_object(md)) {
		md = json_object();
		json_object_set_new(merged, "metadata", md);
	}
	json_object_set(md, "managedFields", mf);
	if (out_managed_fields)
		*out_managed_fields = mf;
	else
		json_decref(mf);
	*out_obj = merged;
	merged = NULL;
out:
	json_decref(merged);
	json_decref(config);
	ks_fieldset_free(newset);
	ks_fieldset_free(changed);
	diff_release(&d);
	entries_release(&es);
	return rc;
}
