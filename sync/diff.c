/*
 * Field differences between what kusync applies and what is live.
 */
#include "sync/plan.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/fieldset.h"
#include "core/patch.h"
#include "core/values.h"
#include "sync/internal.h"
#include "core/banned.h"

char *ks_sync_object_id(const json_t *obj)
{
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const json_t *md = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	if (!av || !kind || !name)
		return NULL;
	if (ns && *ns)
		return ks_xasprintf("%s:%s:%s:%s", av, kind, ns, name);
	return ks_xasprintf("%s:%s:%s", av, kind, name);
}

static char *group_of(const char *api_version)
{
	const char *slash = strchr(api_version, '/');
	return slash ? ks_xstrndup(api_version, (size_t)(slash - api_version))
		     : ks_xstrdup("");
}

static bool rule_field_matches(const json_t *rule, const char *key,
			       const char *value)
{
	const char *want = json_string_value(json_object_get(rule, key));
	if (!want)
		return true;
	return value && !strcmp(want, value);
}

json_t *ks_sync_ignored_pointers(const json_t *rules, const json_t *obj)
{
	json_t *out = json_array();
	const char *av = json_string_value(json_object_get(obj, "apiVersion"));
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const json_t *md = json_object_get(obj, "metadata");
	if (!av || !kind)
		return out;
	char *group = group_of(av);
	size_t i;
	const json_t *r;
	json_array_foreach(rules, i, r)
	{
		if (!rule_field_matches(r, "group", group) ||
		    !rule_field_matches(r, "kind", kind) ||
		    !json_object_get(r, "kind") ||
		    !rule_field_matches(
			    r, "name",
			    json_string_value(json_object_get(md, "name"))) ||
		    !rule_field_matches(r, "namespace",
					json_string_value(json_object_get(
						md, "namespace"))))
			continue;
		size_t k;
		const json_t *p;
		json_array_foreach(json_object_get(r, "jsonPointers"), k, p)
		{
			if (json_is_string(p))
				json_array_append(out, (json_t *)p);
		}
	}
	free(group);
	return out;
}

/* Removes the value at POINTER from DOC (in place); nothing when absent. */
static void remove_pointer(json_t *doc, const char *pointer)
{
	if (!pointer || pointer[0] != '/')
		return;
	json_t *cur = doc;
	const char *p = pointer + 1;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		/* unescape ~1 and ~0 */
		char *tok = ks_xmalloc(n + 1);
		size_t o = 0;
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '~' && i + 1 < n && p[i + 1] == '1') {
				tok[o++] = '/';
				i++;
			} else if (p[i] == '~' && i + 1 < n &&
				   p[i + 1] == '0') {
				tok[o++] = '~';
				i++;
			} else {
				tok[o++] = p[i];
			}
		}
		tok[o] = '\0';
		json_t *next = NULL;
		size_t idx = 0;
		bool is_idx = false;
		if (json_is_object(cur)) {
			next = json_object_get(cur, tok);
		} else if (json_is_array(cur)) {
			char *end;
			unsigned long v = strtoul(tok, &end, 10);
			if (*tok && !*end && v < json_array_size(cur)) {
				idx = v;
				is_idx = true;
				next = json_array_get(cur, idx);
			}
		}
		if (!next) {
			free(tok);
			return;
		}
		if (!slash) {
			if (is_idx)
				json_array_remove(cur, idx);
			else
				json_object_del(cur, tok);
			free(tok);
			return;
		}
		free(tok);
		cur = next;
		p = slash + 1;
	}
}

json_t *ks_sync_applied_form(const json_t *obj, const json_t *pointers)
{
	json_t *o = json_deep_copy(obj);
	json_object_del(o, "status");
	json_t *md = json_object_get(o, "metadata");
	static const char *const server_md[] = {"uid",
						"resourceVersion",
						"generation",
						"creationTimestamp",
						"selfLink",
						"managedFields",
						"deletionTimestamp",
						"deletionGracePeriodSeconds"};
	for (size_t i = 0; i < sizeof(server_md) / sizeof(server_md[0]); i++)
		json_object_del(md, server_md[i]);
	size_t i;
	const json_t *p;
	json_array_foreach(pointers, i, p)
		remove_pointer(o, json_string_value(p));
	return o;
}

/* ---- the walk ---- */

struct diff_ctx {
	bool builtin;
	bool secret;
	json_t *out;
};

static bool plain_name(const char *k)
{
	if (!*k)
		return false;
	for (const char *p = k; *p; p++)
		if (*p == '.' || *p == '[' || *p == ']' || *p == '"')
			return false;
	return true;
}

static char *child_path(const char *path, const char *key)
{
	if (plain_name(key))
		return *path ? ks_xasprintf("%s.%s", path, key)
			     : ks_xstrdup(key);
	json_t *s = json_string(key);
	char *q = json_dumps(s, JSON_ENCODE_ANY);
	json_decref(s);
	char *r = ks_xasprintf("%s[%s]", path, q);
	free(q);
	return r;
}

static char *child_listpath(const char *lp, const char *key)
{
	return *lp ? ks_xasprintf("%s.%s", lp, key) : ks_xstrdup(key);
}

static void scalar_text(ks_buf *b, const json_t *v)
{
	if (json_is_string(v)) {
		ks_buf_puts(b, json_string_value(v));
	} else if (json_is_integer(v)) {
		ks_buf_printf(b, "%" JSON_INTEGER_FORMAT,
			      json_integer_value(v));
	} else {
		char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		ks_buf_puts(b, s ? s : "");
		free(s);
	}
}

/* "[name=api]" or "[port=80,protocol=TCP]" for a keyed element. */
static char *key_segment(const ks_list_key *k, const json_t *el)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_buf_puts(&b, "[");
	for (int i = 0; i < k->nkeys && k->keys[i]; i++) {
		const json_t *v = json_object_get(el, k->keys[i]);
		ks_buf_printf(&b, "%s%s=", i ? "," : "", k->keys[i]);
		if (v)
			scalar_text(&b, v);
		else if (k->defaults[i])
			ks_buf_puts(&b, k->defaults[i]);
	}
	ks_buf_puts(&b, "]");
	return ks_buf_detach(&b, NULL);
}

static bool is_empty_value(const json_t *v)
{
	return json_is_null(v) ||
	       (json_is_string(v) && !*json_string_value(v)) ||
	       (json_is_object(v) && !json_object_size(v)) ||
	       (json_is_array(v) && !json_array_size(v));
}

/* The dotted segment BACK places from the end of LP (0: the last) into
 * SEG; "" when there is none. */
static void segment_at(const char *lp, int back, char *seg, size_t n)
{
	const char *end = lp + strlen(lp);
	const char *p = end;
	for (int i = 0; i <= back; i++) {
		if (i)
			end = p - 1;
		if (end <= lp) {
			seg[0] = '\0';
			return;
		}
		p = end;
		while (p > lp && p[-1] != '.')
			p--;
	}
	snprintf(seg, n, "%.*s", (int)(end - p), p);
}

static bool quantity_path(const char *lp)
{
	static const char *const parents[] = {"requests",
					      "limits",
					      "hard",
					      "capacity",
					      "allocatable",
					      "max",
					      "min",
					      "default",
					      "defaultRequest",
					      "maxLimitRequestRatio",
					      "overhead"};
	char last[64], parent[64];
	segment_at(lp, 0, last, sizeof(last));
	segment_at(lp, 1, parent, sizeof(parent));
	if (!strcmp(last, "sizeLimit") || !strcmp(last, "storage"))
		return true;
	for (size_t i = 0; i < sizeof(parents) / sizeof(parents[0]); i++)
		if (!strcmp(parent, parents[i]))
			return true;
	return false;
}

static bool quantity_of(const json_t *v, ks_quantity *q)
{
	char buf[64];
	const char *s;
	if (json_is_string(v))
		s = json_string_value(v);
	else if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		s = buf;
	} else if (json_is_real(v)) {
		snprintf(buf, sizeof(buf), "%.15g", json_real_value(v));
		s = buf;
	} else
		return false;
	return ks_quantity_parse(s, q) == 0;
}

static bool values_equal(const char *lp, const json_t *d, const json_t *l)
{
	if (ks_json_equal(d, l))
		return true;
	if (!l && d && is_empty_value(d))
		return true;
	if (!d || !l)
		return false;
	ks_quantity qd, ql;
	if (quantity_path(lp) && quantity_of(d, &qd) && quantity_of(l, &ql))
		return ks_quantity_cmp(&qd, &ql) == 0;
	return false;
}

static json_t *masked(const json_t *v)
{
	if (!v)
		return NULL;
	char *s = json_is_string(v)
			  ? NULL
			  : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	const char *text = s ? s : json_string_value(v);
	char hex[65];
	ks_sync_sha256_hex(text, strlen(text), hex);
	free(s);
	char out[32];
	snprintf(out, sizeof(out), "sha256:%.8s", hex);
	return json_string(out);
}

static void emit(struct diff_ctx *c, const char *path, const json_t *d,
		 const json_t *l)
{
	json_t *e = json_pack("{s:s}", "path", path);
	bool secret = c->secret && (!strncmp(path, "data.", 5) ||
				    !strncmp(path, "data[", 5) ||
				    !strncmp(path, "stringData", 10));
	if (secret) {
		if (d)
			json_object_set_new(e, "desired", masked(d));
		if (l)
			json_object_set_new(e, "live", masked(l));
		json_object_set_new(e, "secret", json_true());
	} else {
		if (d)
			json_object_set(e, "desired", (json_t *)d);
		if (l)
			json_object_set(e, "live", (json_t *)l);
	}
	json_array_append_new(c->out, e);
}

static void walk(struct diff_ctx *c, const char *path, const char *lp,
		 const json_t *d, const json_t *l);

static bool set_equal(const json_t *a, const json_t *b)
{
	size_t i, j;
	const json_t *x, *y;
	json_array_foreach(a, i, x)
	{
		bool found = false;
		json_array_foreach(b, j, y) if (ks_json_equal(x, y)) found =
			true;
		if (!found)
			return false;
	}
	json_array_foreach(b, i, x)
	{
		bool found = false;
		json_array_foreach(a, j, y) if (ks_json_equal(x, y)) found =
			true;
		if (!found)
			return false;
	}
	return true;
}

static void walk_keyed(struct diff_ctx *c, const char *path, const char *lp,
		       const ks_list_key *k, const json_t *d, const json_t *l)
{
	size_t nl = json_array_size(l);
	bool *used = ks_xcalloc(nl ? nl : 1, sizeof(bool));
	size_t i, j;
	const json_t *de, *le;
	json_array_foreach(d, i, de)
	{
		const json_t *match = NULL;
		json_array_foreach(l, j, le)
		{
			if (!used[j] && ks_list_key_match(k, de, le)) {
				match = le;
				used[j] = true;
				break;
			}
		}
		char *seg = key_segment(k, de);
		char *p = ks_xasprintf("%s%s", path, seg);
		/* A key field the desired element leaves to its default
		 * (a port's protocol) is not a difference. */
		json_t *lm = match ? json_copy((json_t *)match) : NULL;
		for (int q = 0; lm && q < k->nkeys && k->keys[q]; q++)
			if (!json_object_get(de, k->keys[q]))
				json_object_del(lm, k->keys[q]);
		walk(c, p, lp, de, lm);
		json_decref(lm);
		free(p);
		free(seg);
	}
	json_array_foreach(l, j, le)
	{
		if (used[j])
			continue;
		char *seg = key_segment(k, le);
		char *p = ks_xasprintf("%s%s", path, seg);
		walk(c, p, lp, NULL, le);
		free(p);
		free(seg);
	}
	free(used);
}

static void walk_list(struct diff_ctx *c, const char *path, const char *lp,
		      const json_t *d, const json_t *l)
{
	const ks_list_key *k = c->builtin ? ks_list_merge_key(lp) : NULL;
	if (k && k->type == KS_LIST_MAP) {
		walk_keyed(c, path, lp, k, d, l);
		return;
	}
	if (k && k->type == KS_LIST_SET) {
		if (!set_equal(d, l))
			emit(c, path, d, l);
		return;
	}
	if (json_array_size(d) != json_array_size(l)) {
		emit(c, path, d, l);
		return;
	}
	size_t i;
	const json_t *de;
	json_array_foreach(d, i, de)
	{
		char *p = ks_xasprintf("%s[%zu]", path, i);
		walk(c, p, lp, de, json_array_get(l, i));
		free(p);
	}
}

static void walk(struct diff_ctx *c, const char *path, const char *lp,
		 const json_t *d, const json_t *l)
{
	if (d && l && json_is_object(d) && json_is_object(l)) {
		const char *key;
		const json_t *v;
		json_object_foreach((json_t *)d, key, v)
		{
			char *p = child_path(path, key);
			char *q = child_listpath(lp, key);
			walk(c, p, q, v, json_object_get(l, key));
			free(p);
			free(q);
		}
		json_object_foreach((json_t *)l, key, v)
		{
			if (json_object_get(d, key))
				continue;
			char *p = child_path(path, key);
			emit(c, p, NULL, v);
			free(p);
		}
		return;
	}
	if (d && l && json_is_array(d) && json_is_array(l)) {
		walk_list(c, path, lp, d, l);
		return;
	}
	if (!values_equal(lp, d, l))
		emit(c, path, d, l);
}

static void remove_pointers(json_t *o, const json_t *pointers)
{
	size_t i;
	const json_t *p;
	json_array_foreach(pointers, i, p)
		remove_pointer(o, json_string_value(p));
}

int ks_sync_diff(json_t **out, const json_t *desired, const json_t *live,
		 const json_t *pointers, ks_error *err)
{
	json_t *fields = json_array();
	if (!live) {
		*out = fields;
		return 0;
	}
	ks_fieldset *fs = NULL, *owned = NULL, *all = NULL;
	json_t *dx = NULL, *lx = NULL;
	int rc = ks_fieldset_from_object(&fs, desired, KS_SCOPE_MAIN, err);
	if (rc)
		goto out;
	const json_t *mf = json_object_get(json_object_get(live, "metadata"),
					   "managedFields");
	rc = ks_fieldset_of_manager(&owned, mf, KS_SYNC_MANAGER, "Apply", NULL,
				    err);
	if (rc)
		goto out;
	all = ks_fieldset_union(fs, owned);
	dx = ks_fieldset_extract(fs, desired);
	lx = ks_fieldset_extract(all, live);
	remove_pointers(lx, pointers);
	const char *av =
		json_string_value(json_object_get(desired, "apiVersion"));
	const char *kind = json_string_value(json_object_get(desired, "kind"));
	struct diff_ctx c = {
		.builtin = av && ks_smp_supported(av, kind),
		.secret = av && kind && !strcmp(av, "v1") &&
			  !strcmp(kind, "Secret"),
		.out = fields,
	};
	walk(&c, "", "", dx, lx);
out:
	ks_fieldset_free(fs);
	ks_fieldset_free(owned);
	ks_fieldset_free(all);
	json_decref(dx);
	json_decref(lx);
	if (rc) {
		json_decref(fields);
		return rc;
	}
	*out = fields;
	return 0;
}

static void value_text(ks_buf *b, const json_t *v)
{
	if (!v) {
		ks_buf_puts(b, "(absent)");
		return;
	}
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	ks_buf_puts(b, s ? s : "");
	free(s);
}

void ks_sync_field_text(ks_buf *out, const json_t *field, bool to_desired)
{
	const json_t *d = json_object_get(field, "desired");
	const json_t *l = json_object_get(field, "live");
	const json_t *from = to_desired ? l : d;
	const json_t *to = to_desired ? d : l;
	if (json_is_true(json_object_get(field, "secret"))) {
		ks_buf_printf(out, "(changed, %s -> %s)",
			      from ? json_string_value(from) : "(absent)",
			      to ? json_string_value(to) : "(absent)");
		return;
	}
	value_text(out, from);
	ks_buf_puts(out, " -> ");
	value_text(out, to);
}
