#include "core/patch.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/banned.h"

/*
 * The merge keys of built-in kinds, after the patchMergeKey / listMapKeys
 * markers of k8s.io/api. A suffix matches a whole number of path segments at
 * the end of the path; a leading '^' anchors it at the root. The first
 * matching rule wins, so longer suffixes come first.
 */
struct key_rule {
	const char *suffix;
	ks_list_key key;
};

#define KEY1(k)                                                                \
	{                                                                      \
		KS_LIST_MAP, 1, {k, NULL},                                     \
		{                                                              \
			NULL, NULL                                             \
		}                                                              \
	}
#define PORTKEY(k)                                                             \
	{                                                                      \
		KS_LIST_MAP, 2, {k, "protocol"},                               \
		{                                                              \
			NULL, "TCP"                                            \
		}                                                              \
	}

static const struct key_rule key_rules[] = {
	{"containers.ports", PORTKEY("containerPort")},
	{"initContainers.ports", PORTKEY("containerPort")},
	{"ephemeralContainers.ports", PORTKEY("containerPort")},
	{"^spec.ports", PORTKEY("port")},
	{"containers.env", KEY1("name")},
	{"initContainers.env", KEY1("name")},
	{"ephemeralContainers.env", KEY1("name")},
	{"volumeMounts", KEY1("mountPath")},
	{"volumeDevices", KEY1("devicePath")},
	{"containers.resizePolicy", KEY1("resourceName")},
	{"containers", KEY1("name")},
	{"initContainers", KEY1("name")},
	{"ephemeralContainers", KEY1("name")},
	{"spec.volumes", KEY1("name")},
	{"imagePullSecrets", KEY1("name")},
	{"hostAliases", KEY1("ip")},
	{"topologySpreadConstraints",
	 {KS_LIST_MAP, 2, {"topologyKey", "whenUnsatisfiable"}, {NULL, NULL}}},
	{"schedulingGates", KEY1("name")},
	{"spec.resourceClaims", KEY1("name")},
	{"conditions", KEY1("type")},
	{"status.podIPs", KEY1("ip")},
	{"status.hostIPs", KEY1("ip")},
	{"metadata.ownerReferences", KEY1("uid")},
	{"metadata.finalizers", {KS_LIST_SET, 0, {NULL, NULL}, {NULL, NULL}}},
	{"^secrets", KEY1("name")},
	{"^webhooks", KEY1("name")},
};

static bool suffix_matches(const char *path, const char *suffix)
{
	if (suffix[0] == '^')
		return strcmp(path, suffix + 1) == 0;
	size_t pl = strlen(path), sl = strlen(suffix);
	if (sl > pl || strcmp(path + pl - sl, suffix) != 0)
		return false;
	return sl == pl || path[pl - sl - 1] == '.';
}

const ks_list_key *ks_list_merge_key(const char *path)
{
	if (!path)
		return NULL;
	for (size_t i = 0; i < sizeof(key_rules) / sizeof(key_rules[0]); i++)
		if (suffix_matches(path, key_rules[i].suffix))
			return &key_rules[i].key;
	return NULL;
}

/* Whether a key value (or the default when v is NULL) equals another. */
static bool key_values_equal(const json_t *va, const char *da, const json_t *vb,
			     const char *db)
{
	if (va && vb)
		return ks_json_equal(va, vb);
	const char *sa = va ? json_string_value(va) : da;
	const char *sb = vb ? json_string_value(vb) : db;
	return sa && sb && strcmp(sa, sb) == 0;
}

bool ks_list_key_match(const ks_list_key *k, const json_t *a, const json_t *b)
{
	if (!k || k->type != KS_LIST_MAP || !json_is_object(a) ||
	    !json_is_object(b))
		return false;
	for (int i = 0; i < k->nkeys; i++) {
		const json_t *va = json_object_get(a, k->keys[i]);
		const json_t *vb = json_object_get(b, k->keys[i]);
		if (!va && !vb && !k->defaults[i])
			return false;
		if (!key_values_equal(va, k->defaults[i], vb, k->defaults[i]))
			return false;
	}
	return true;
}

static const char *const builtin_groups[] = {
	"apps",
	"batch",
	"autoscaling",
	"policy",
	"networking.k8s.io",
	"rbac.authorization.k8s.io",
	"storage.k8s.io",
	"coordination.k8s.io",
	"discovery.k8s.io",
	"apiextensions.k8s.io",
	"admissionregistration.k8s.io",
	"scheduling.k8s.io",
	"node.k8s.io",
	"certificates.k8s.io",
	"events.k8s.io",
	"apiregistration.k8s.io",
	"flowcontrol.apiserver.k8s.io",
	"authentication.k8s.io",
	"authorization.k8s.io",
	"resource.k8s.io",
	"internal.apiserver.k8s.io",
};

bool ks_smp_supported(const char *api_version, const char *kind)
{
	(void)kind;
	if (!api_version)
		return false;
	const char *slash = strchr(api_version, '/');
	if (!slash)
		return strcmp(api_version, "v1") == 0;
	size_t n = (size_t)(slash - api_version);
	for (size_t i = 0; i < sizeof(builtin_groups) / sizeof(*builtin_groups);
	     i++)
		if (strlen(builtin_groups[i]) == n &&
		    memcmp(builtin_groups[i], api_version, n) == 0)
			return true;
	return false;
}

bool ks_json_equal(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return a == b;
	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b) &&
		       (!json_is_integer(a) || !json_is_integer(b) ||
			json_integer_value(a) == json_integer_value(b));
	if (json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_object(a)) {
		if (json_object_size(a) != json_object_size(b))
			return false;
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)a, k, v)
		{
			if (!ks_json_equal(v, json_object_get(b, k)))
				return false;
		}
		return true;
	}
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!ks_json_equal(json_array_get(a, i),
					   json_array_get(b, i)))
				return false;
		return true;
	}
	return json_equal(a, b);
}

/* ---- RFC 7386 ---- */

/* Merges patch into target, which it owns and may change; returns the
 * result (owned). */
static json_t *merge_steal(json_t *target, const json_t *patch)
{
	if (!json_is_object(patch)) {
		json_decref(target);
		return json_deep_copy(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		target = json_object();
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)patch, k, v)
	{
		if (json_is_null(v)) {
			json_object_del(target, k);
			continue;
		}
		json_t *child = json_object_get(target, k);
		json_incref(child);
		json_object_set_new(target, k, merge_steal(child, v));
	}
	return target;
}

int ks_merge_patch(json_t **out, const json_t *target, const json_t *patch)
{
	*out = merge_steal(target ? json_deep_copy(target) : NULL, patch);
	return 0;
}

/* ---- JSON pointers and RFC 6902 ---- */

typedef struct pointer {
	char **tok;
	size_t n;
} pointer;

static void pointer_release(pointer *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->tok[i]);
	free(p->tok);
	p->tok = NULL;
	p->n = 0;
}

/* Splits and unescapes a pointer; -1 when it is malformed. */
static int pointer_parse(pointer *p, const char *s)
{
	p->tok = NULL;
	p->n = 0;
	if (!s)
		return -1;
	if (!*s)
		return 0;
	if (*s != '/')
		return -1;
	while (*s == '/') {
		s++;
		size_t len = strcspn(s, "/");
		char *t = ks_xmalloc(len + 1);
		size_t o = 0;
		for (size_t i = 0; i < len; i++) {
			if (s[i] != '~') {
				t[o++] = s[i];
				continue;
			}
			if (i + 1 < len &&
			    (s[i + 1] == '0' || s[i + 1] == '1')) {
				t[o++] = s[i + 1] == '0' ? '~' : '/';
				i++;
				continue;
			}
			free(t);
			pointer_release(p);
			return -1;
		}
		t[o] = 0;
		p->tok = ks_xrealloc(p->tok, (p->n + 1) * sizeof(*p->tok));
		p->tok[p->n++] = t;
		s += len;
	}
	return 0;
}

/* An array index token: digits without a leading zero; -1 otherwise. */
static long array_index(const char *t)
{
	if (!*t || (t[0] == '0' && t[1]) ||
	    strspn(t, "0123456789") != strlen(t) || strlen(t) > 9)
		return -1;
	return strtol(t, NULL, 10);
}

/* The value at the first n tokens of p, borrowed; NULL if absent. */
static json_t *pointer_walk(json_t *doc, const pointer *p, size_t n)
{
	json_t *cur = doc;
	for (size_t i = 0; i < n && cur; i++) {
		if (json_is_object(cur)) {
			cur = json_object_get(cur, p->tok[i]);
		} else if (json_is_array(cur)) {
			long idx = array_index(p->tok[i]);
			cur = idx < 0 ? NULL : json_array_get(cur, (size_t)idx);
		} else {
			cur = NULL;
		}
	}
	return cur;
}

json_t *ks_json_pointer_get(const json_t *doc, const char *ptr)
{
	pointer p;
	if (!doc || pointer_parse(&p, ptr) < 0)
		return NULL;
	json_t *v = pointer_walk((json_t *)doc, &p, p.n);
	pointer_release(&p);
	return v;
}

typedef struct jp_ctx {
	json_t *doc; /* owned */
	size_t index;
	const char *op;
	const char *path;
	ks_error *err;
} jp_ctx;

static int jp_fail(jp_ctx *c, const char *what)
{
	return ks_error_set(c->err, KS_EINVAL,
			    "json patch operation %zu (%s) at \"%s\": %s",
			    c->index, c->op, c->path, what);
}

/* Adds (steals) v at p. */
static int jp_add(jp_ctx *c, const pointer *p, json_t *v)
{
	if (p->n == 0) {
		json_decref(c->doc);
		c->doc = v;
		return 0;
	}
	json_t *parent = pointer_walk(c->doc, p, p->n - 1);
	const char *last = p->tok[p->n - 1];
	if (json_is_object(parent)) {
		json_object_set_new(parent, last, v);
		return 0;
	}
	if (json_is_array(parent)) {
		if (strcmp(last, "-") == 0) {
			json_array_append_new(parent, v);
			return 0;
		}
		long idx = array_index(last);
		if (idx >= 0 && (size_t)idx <= json_array_size(parent)) {
			json_array_insert_new(parent, (size_t)idx, v);
			return 0;
		}
		json_decref(v);
		return jp_fail(c, "array index out of range");
	}
	json_decref(v);
	return jp_fail(c, "parent path does not exist");
}

/* Removes the value at p; *removed gets it (a reference) if non-NULL. */
static int jp_remove(jp_ctx *c, const pointer *p, json_t **removed)
{
	if (p->n == 0)
		return jp_fail(c, "cannot remove the whole document");
	json_t *parent = pointer_walk(c->doc, p, p->n - 1);
	const char *last = p->tok[p->n - 1];
	json_t *v = NULL;
	if (json_is_object(parent)) {
		v = json_object_get(parent, last);
		if (v) {
			json_incref(v);
			json_object_del(parent, last);
		}
	} else if (json_is_array(parent)) {
		long idx = array_index(last);
		v = idx < 0 ? NULL : json_array_get(parent, (size_t)idx);
		if (v) {
			json_incref(v);
			json_array_remove(parent, (size_t)idx);
		}
	}
	if (!v)
		return jp_fail(c, "path does not exist");
	if (removed)
		*removed = v;
	else
		json_decref(v);
	return 0;
}

static bool is_proper_prefix(const pointer *a, const pointer *b)
{
	if (a->n >= b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->tok[i], b->tok[i]) != 0)
			return false;
	return true;
}

/* Runs one operation whose path is parsed into p. */
static int jp_run(jp_ctx *c, const json_t *op, const pointer *p)
{
	const json_t *value = json_object_get(op, "value");
	const char *from_s = json_string_value(json_object_get(op, "from"));
	bool needs_value = !strcmp(c->op, "add") || !strcmp(c->op, "replace") ||
			   !strcmp(c->op, "test");
	if (needs_value && !value)
		return jp_fail(c, "missing \"value\"");
	if (!strcmp(c->op, "add"))
		return jp_add(c, p, json_deep_copy(value));
	if (!strcmp(c->op, "remove"))
		return jp_remove(c, p, NULL);
	if (!strcmp(c->op, "replace")) {
		if (!pointer_walk(c->doc, p, p->n))
			return jp_fail(c, "path does not exist");
		if (p->n > 0) {
			int rc = jp_remove(c, p, NULL);
			if (rc < 0)
				return rc;
		}
		return jp_add(c, p, json_deep_copy(value));
	}
	if (!strcmp(c->op, "test")) {
		const json_t *cur = pointer_walk(c->doc, p, p->n);
		if (!cur)
			return jp_fail(c, "path does not exist");
		if (!ks_json_equal(cur, value))
			return jp_fail(c, "value differs");
		return 0;
	}
	bool move = !strcmp(c->op, "move");
	if (!move && strcmp(c->op, "copy") != 0)
		return jp_fail(c, "unknown operation");
	pointer from;
	if (!from_s || pointer_parse(&from, from_s) < 0)
		return jp_fail(c, "missing or malformed \"from\"");
	int rc = 0;
	json_t *v = NULL;
	if (move && is_proper_prefix(&from, p)) {
		rc = jp_fail(c, "cannot move a value into one of its children");
	} else if (move) {
		rc = jp_remove(c, &from, &v);
	} else {
		json_t *src = pointer_walk(c->doc, &from, from.n);
		if (src)
			v = json_deep_copy(src);
		else
			rc = jp_fail(c, "\"from\" path does not exist");
	}
	pointer_release(&from);
	if (rc < 0)
		return rc;
	return jp_add(c, p, v);
}

int ks_json_patch(json_t **out, const json_t *target, const json_t *ops,
		  ks_error *err)
{
	if (!json_is_array(ops))
		return ks_error_set(err, KS_EINVAL,
				    "json patch: expected an array of "
				    "operations");
	jp_ctx c = {.doc = target ? json_deep_copy(target) : json_null(),
		    .err = err};
	int rc = 0;
	for (size_t i = 0; i < json_array_size(ops) && rc == 0; i++) {
		const json_t *op = json_array_get(ops, i);
		c.index = i;
		c.op = json_string_value(json_object_get(op, "op"));
		c.path = json_string_value(json_object_get(op, "path"));
		if (!c.op)
			c.op = "?";
		if (!c.path) {
			c.path = "";
			rc = jp_fail(&c,
				     json_is_object(op)
					     ? "missing \"path\""
					     : "operation is not an object");
			break;
		}
		pointer p;
		if (pointer_parse(&p, c.path) < 0) {
			rc = jp_fail(&c, "malformed JSON pointer");
			break;
		}
		rc = jp_run(&c, op, &p);
		pointer_release(&p);
	}
	if (rc < 0) {
		json_decref(c.doc);
		return rc;
	}
	*out = c.doc;
	return 0;
}

/* ---- strategic merge patch ---- */

#define DELETE_PRIMITIVE "$deleteFromPrimitiveList/"
#define SET_ORDER "$setElementOrder/"

typedef struct smp_ctx {
	ks_error *err;
} smp_ctx;

static int smp_map(smp_ctx *c, json_t *tgt, const json_t *patch,
		   const char *path);

static char *child_path(const char *path, const char *key)
{
	return *path ? ks_xasprintf("%s.%s", path, key) : ks_xstrdup(key);
}

static const char *patch_directive(const json_t *v)
{
	return json_string_value(json_object_get(v, "$patch"));
}

/* A patch value applied onto nothing: the value with directives and nulls
 * taken out (owned). */
static int smp_fresh(smp_ctx *c, const json_t *patch, const char *path,
		     json_t **out);

static int smp_fresh_list(smp_ctx *c, const json_t *patch, const char *path,
			  json_t **out)
{
	json_t *res = json_array();
	for (size_t i = 0; i < json_array_size(patch); i++) {
		const json_t *e = json_array_get(patch, i);
		const char *d = json_is_object(e) ? patch_directive(e) : NULL;
		if (d && (!strcmp(d, "delete") || !strcmp(d, "replace")))
			continue;
		json_t *n = NULL;
		int rc = smp_fresh(c, e, path, &n);
		if (rc < 0) {
			json_decref(res);
			return rc;
		}
		json_array_append_new(res, n);
	}
	*out = res;
	return 0;
}

static int smp_fresh(smp_ctx *c, const json_t *patch, const char *path,
		     json_t **out)
{
	if (json_is_array(patch))
		return smp_fresh_list(c, patch, path, out);
	if (!json_is_object(patch)) {
		*out = json_deep_copy(patch);
		return 0;
	}
	json_t *res = json_object();
	int rc = smp_map(c, res, patch, path);
	if (rc < 0) {
		json_decref(res);
		return rc;
	}
	*out = res;
	return 0;
}

/* The element of list matching e under key k (keys[0] only), or -1. */
static long find_keyed(const json_t *list, const ks_list_key *k,
		       const json_t *e)
{
	const json_t *want = json_object_get(e, k->keys[0]);
	if (!want)
		return -1;
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *have =
			json_object_get(json_array_get(list, i), k->keys[0]);
		if (have && ks_json_equal(have, want))
			return (long)i;
	}
	return -1;
}

static long find_value(const json_t *list, const json_t *v)
{
	for (size_t i = 0; i < json_array_size(list); i++)
		if (ks_json_equal(json_array_get(list, i), v))
			return (long)i;
	return -1;
}

/* Merges a keyed patch list into tgt (an array we own). */
static int smp_keyed_list(smp_ctx *c, json_t *tgt, const json_t *patch,
			  const ks_list_key *k, const char *path)
{
	for (size_t i = 0; i < json_array_size(patch); i++) {
		const json_t *e = json_array_get(patch, i);
		if (!json_is_object(e) || !json_object_get(e, k->keys[0]))
			return ks_error_set(c->err, KS_EINVAL,
					    "strategic merge patch: %s: list "
					    "element lacks merge key \"%s\"",
					    path, k->keys[0]);
		long at = find_keyed(tgt, k, e);
		const char *d = patch_directive(e);
		if (d && !strcmp(d, "delete")) {
			if (at >= 0)
				json_array_remove(tgt, (size_t)at);
			continue;
		}
		if (at < 0) {
			json_t *n = NULL;
			int rc = smp_fresh(c, e, path, &n);
			if (rc < 0)
				return rc;
			json_array_append_new(tgt, n);
			continue;
		}
		json_t *cur = json_array_get(tgt, (size_t)at);
		int rc = smp_map(c, cur, e, path);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Applies one list-valued patch member to tgt[key]. */
static int smp_list_member(smp_ctx *c, json_t *tgt, const char *key,
			   const json_t *patch, const char *path)
{
	const ks_list_key *k = ks_list_merge_key(path);
	bool replace = false;
	for (size_t i = 0; i < json_array_size(patch); i++) {
		const json_t *e = json_array_get(patch, i);
		const char *d = json_is_object(e) ? patch_directive(e) : NULL;
		if (d && !strcmp(d, "replace"))
			replace = true;
	}
	json_t *cur = json_object_get(tgt, key);
	if (!k || replace || !json_is_array(cur)) {
		json_t *n = NULL;
		int rc = smp_fresh_list(c, patch, path, &n);
		if (rc < 0)
			return rc;
		json_object_set_new(tgt, key, n);
		return 0;
	}
	if (k->type == KS_LIST_SET) {
		for (size_t i = 0; i < json_array_size(patch); i++) {
			const json_t *e = json_array_get(patch, i);
			if (find_value(cur, e) < 0)
				json_array_append_new(cur, json_deep_copy(e));
		}
		return 0;
	}
	return smp_keyed_list(c, cur, patch, k, path);
}

static int smp_delete_primitives(json_t *tgt, const char *field,
				 const json_t *values)
{
	json_t *cur = json_object_get(tgt, field);
	if (!json_is_array(cur))
		return 0;
	for (size_t i = json_array_size(cur); i-- > 0;)
		if (find_value(values, json_array_get(cur, i)) >= 0)
			json_array_remove(cur, i);
	return 0;
}

/* Reorders tgt[field] after $setElementOrder: listed elements first, in the
 * listed order, then the others as they were. */
static void smp_set_order(json_t *tgt, const char *field, const json_t *order,
			  const char *path)
{
	json_t *cur = json_object_get(tgt, field);
	if (!json_is_array(cur) || !json_is_array(order))
		return;
	char *p = child_path(path, field);
	const ks_list_key *k = ks_list_merge_key(p);
	free(p);
	json_t *res = json_array();
	json_t *rest = json_copy(cur);
	for (size_t i = 0; i < json_array_size(order); i++) {
		const json_t *o = json_array_get(order, i);
		long at = k && k->type == KS_LIST_MAP ? find_keyed(rest, k, o)
						      : find_value(rest, o);
		if (at < 0)
			continue;
		json_array_append(res, json_array_get(rest, (size_t)at));
		json_array_remove(rest, (size_t)at);
	}
	json_array_extend(res, rest);
	json_decref(rest);
	json_object_set_new(tgt, field, res);
}

static void smp_retain_keys(json_t *tgt, const json_t *keys)
{
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(tgt, tmp, k, v)
	{
		bool keep = false;
		for (size_t i = 0; i < json_array_size(keys) && !keep; i++) {
			const char *want =
				json_string_value(json_array_get(keys, i));
			keep = want && !strcmp(want, k);
		}
		if (!keep)
			json_object_del(tgt, k);
	}
}

/* Applies one member of a patch map to tgt. */
static int smp_member(smp_ctx *c, json_t *tgt, const char *key, const json_t *v,
		      const char *path)
{
	if (!strncmp(key, DELETE_PRIMITIVE, strlen(DELETE_PRIMITIVE)))
		return smp_delete_primitives(tgt,
					     key + strlen(DELETE_PRIMITIVE), v);
	if (key[0] == '$')
		return 0;
	if (json_is_null(v)) {
		json_object_del(tgt, key);
		return 0;
	}
	char *p = child_path(path, key);
	int rc = 0;
	json_t *cur = json_object_get(tgt, key);
	const char *d = json_is_object(v) ? patch_directive(v) : NULL;
	if (d && !strcmp(d, "delete")) {
		json_object_del(tgt, key);
	} else if (json_is_object(v) && json_is_object(cur)) {
		rc = smp_map(c, cur, v, p);
	} else if (json_is_array(v)) {
		rc = smp_list_member(c, tgt, key, v, p);
	} else {
		json_t *n = NULL;
		rc = smp_fresh(c, v, p, &n);
		if (rc == 0)
			json_object_set_new(tgt, key, n);
	}
	free(p);
	return rc;
}

static int smp_map(smp_ctx *c, json_t *tgt, const json_t *patch,
		   const char *path)
{
	const char *d = patch_directive(patch);
	if (d && strcmp(d, "replace") && strcmp(d, "merge") &&
	    strcmp(d, "delete"))
		return ks_error_set(c->err, KS_EINVAL,
				    "strategic merge patch: %s: unknown $patch "
				    "value \"%s\"",
				    *path ? path : "(root)", d);
	if (d && (!strcmp(d, "replace") || !strcmp(d, "delete")))
		json_object_clear(tgt);
	if (d && !strcmp(d, "delete"))
		return 0;
	const json_t *retain = json_object_get(patch, "$retainKeys");
	if (retain && !json_is_array(retain))
		return ks_error_set(c->err, KS_EINVAL,
				    "strategic merge patch: %s: $retainKeys "
				    "must be a list",
				    *path ? path : "(root)");
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)patch, k, v)
	{
		int rc = smp_member(c, tgt, k, v, path);
		if (rc < 0)
			return rc;
	}
	json_object_foreach((json_t *)patch, k, v)
	{
		if (!strncmp(k, SET_ORDER, strlen(SET_ORDER)))
			smp_set_order(tgt, k + strlen(SET_ORDER), v, path);
	}
	if (retain)
		smp_retain_keys(tgt, retain);
	return 0;
}

int ks_strategic_merge_patch(json_t **out, const json_t *target,
			     const json_t *patch, const char *api_version,
			     const char *kind, ks_error *err)
{
	if (!ks_smp_supported(api_version, kind))
		return ks_error_set(err, KS_EINVAL,
				    "strategic merge patch is not supported "
				    "for %s",
				    kind	  ? kind
				    : api_version ? api_version
						  : "(unknown)");
	if (!json_is_object(patch))
		return ks_error_set(err, KS_EINVAL,
				    "strategic merge patch: the patch must be "
				    "an object");
	smp_ctx c = {.err = err};
	json_t *res =
		json_is_object(target) ? json_deep_copy(target) : json_object();
	int rc = smp_map(&c, res, patch, "");
	if (rc < 0) {
		json_decref(res);
		return rc;
	}
	*out = res;
	return 0;
}
