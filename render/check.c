#include "render/check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/values.h"
#include "core/banned.h"

/* One error is one line of valid UTF-8: control characters become '?',
 * and a multi-byte character cut by truncation is dropped. */
static void one_line(char *msg, size_t size, int n)
{
	size_t len = strlen(msg);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)msg[i];
		if (ch < 0x20 || ch == 0x7f)
			msg[i] = '?';
	}
	if (n < 0 || (size_t)n < size)
		return;
	size_t end = len;
	while (end > 0 && ((unsigned char)msg[end - 1] & 0xC0) == 0x80)
		end--;
	if (end > 0 && ((unsigned char)msg[end - 1] & 0x80))
		end--; /* the lead byte of the cut character */
	msg[end] = '\0';
}

void ks_verr(ks_vctx *c, ks_mark m, const char *path, const char *fmt, ...)
{
	char msg[1536], line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	int n = path && *path
			? snprintf(line, sizeof(line), "%s: %s", path, msg)
			: snprintf(line, sizeof(line), "%s", msg);
	one_line(line, sizeof(line), n);
	ks_errlist_add(c->errs, c->file, m.line, m.line ? m.col : 0, "%s",
		       line);
	c->nerr++;
}

ks_vnode ks_vroot(const json_t *v, const char *path, ks_mark key, ks_mark val)
{
	ks_vnode n = {v, path, key, val, NULL};
	return n;
}

/* PARENT SEP KEY in the arena; paths are built for every node visited, so
 * this avoids printf's formatting cost. */
static const char *join_path(ks_arena *a, const char *parent, char sep,
			     const char *key)
{
	size_t lp = strlen(parent), lk = strlen(key);
	char *s = ks_arena_alloc(a, lp + lk + 2);
	memcpy(s, parent, lp);
	s[lp] = sep;
	memcpy(s + lp + 1, key, lk);
	s[lp + lk + 1] = '\0';
	return s;
}

ks_vnode ks_vchild(ks_vctx *c, const ks_vnode *p, const char *key)
{
	ks_vnode n = {NULL, NULL, p->key, p->key, NULL};
	n.path = p->path && *p->path ? join_path(c->a, p->path, '.', key)
				     : ks_arena_strdup(c->a, key);
	if (!p->v || !json_is_object(p->v))
		return n;
	n.v = json_object_get(p->v, key);
	if (!n.v)
		return n;
	const ks_node_info *in = ks_doc_key_info(c->doc, p->v, key);
	if (in) {
		n.key = in->key;
		n.val = in->value;
		n.raw = in->raw;
	} else {
		n.val = p->val;
	}
	return n;
}

ks_vnode ks_vitem(ks_vctx *c, const ks_vnode *p, size_t i)
{
	ks_vnode n = {NULL, NULL, p->val, p->val, NULL};
	n.path = ks_arena_printf(c->a, "%s[%zu]", p->path, i);
	if (!p->v || !json_is_array(p->v))
		return n;
	n.v = json_array_get(p->v, i);
	const ks_node_info *in = ks_doc_index_info(c->doc, p->v, i);
	if (in) {
		n.key = in->key;
		n.val = in->value;
		n.raw = in->raw;
		if (!n.key.line)
			n.key = n.val;
	}
	return n;
}

bool ks_vset(const ks_vnode *n)
{
	return n->v && !json_is_null(n->v);
}

/* Copies S for a message: at most 60 characters, control characters as
 * '?', so one error stays one line. */
static const char *quote_text(ks_vctx *c, const char *s)
{
	size_t len = strlen(s), max = 60;
	size_t n = len > max ? max : len;
	while (n < len && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--; /* do not cut a UTF-8 character */
	char *q = ks_arena_alloc(c->a, n + 6);
	size_t j = 0;
	q[j++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		q[j++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	if (len > max) {
		memcpy(q + j, "...", 3);
		j += 3;
	}
	q[j++] = '"';
	q[j] = '\0';
	return q;
}

const char *ks_vdescribe(ks_vctx *c, const ks_vnode *n)
{
	const json_t *v = n->v;
	if (!v || json_is_null(v))
		return "null";
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "a mapping";
	case JSON_ARRAY:
		return "a list";
	case JSON_STRING:
		return quote_text(c, json_string_value(v));
	case JSON_INTEGER:
		if (n->raw)
			return quote_text(c, n->raw);
		return ks_arena_printf(c->a, "%" PRId64,
				       (int64_t)json_integer_value(v));
	case JSON_REAL:
		if (n->raw)
			return quote_text(c, n->raw);
		return ks_arena_printf(c->a, "%g", json_real_value(v));
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	default:
		return "null";
	}
}

/* Numbers and booleans are described without quotes: "got 2.5". */
static const char *describe_bare(ks_vctx *c, const ks_vnode *n)
{
	const char *d = ks_vdescribe(c, n);
	if (n->v && (json_is_number(n->v)) && d[0] == '"')
		return ks_arena_strndup(c->a, d + 1, strlen(d) - 2);
	return d;
}

static void expected(ks_vctx *c, const ks_vnode *n, const char *what)
{
	ks_verr(c, n->val, n->path, "expected %s, got %s", what,
		describe_bare(c, n));
}

bool ks_vmapping(ks_vctx *c, const ks_vnode *n)
{
	if (n->v && json_is_object(n->v))
		return true;
	expected(c, n, "a mapping");
	return false;
}

bool ks_vlist(ks_vctx *c, const ks_vnode *n)
{
	if (n->v && json_is_array(n->v))
		return true;
	expected(c, n, "a list");
	return false;
}

const char *ks_vstring(ks_vctx *c, const ks_vnode *n)
{
	const json_t *v = n->v;
	if (v && json_is_string(v))
		return ks_arena_strndup(c->a, json_string_value(v),
					json_string_length(v));
	if (v && (json_is_number(v) || json_is_boolean(v))) {
		if (n->raw)
			return ks_arena_strdup(c->a, n->raw);
		if (json_is_integer(v))
			return ks_arena_printf(c->a, "%" PRId64,
					       (int64_t)json_integer_value(v));
		if (json_is_real(v))
			return ks_arena_printf(c->a, "%.17g",
					       json_real_value(v));
		return json_is_true(v) ? "true" : "false";
	}
	expected(c, n, "a string");
	return NULL;
}

bool ks_vint(ks_vctx *c, const ks_vnode *n, int64_t *out)
{
	if (n->v && json_is_integer(n->v)) {
		*out = (int64_t)json_integer_value(n->v);
		return true;
	}
	expected(c, n, "an integer");
	return false;
}

bool ks_vint_range(ks_vctx *c, const ks_vnode *n, int64_t lo, int64_t hi,
		   int64_t *out)
{
	int64_t v;
	if (!ks_vint(c, n, &v))
		return false;
	if (v >= lo && v <= hi) {
		*out = v;
		return true;
	}
	if (v < lo && hi >= INT32_MAX)
		ks_verr(c, n->val, n->path,
			"expected an integer >= %" PRId64 ", got %" PRId64, lo,
			v);
	else
		ks_verr(c, n->val, n->path,
			"expected an integer from %" PRId64 " to %" PRId64
			", got %" PRId64,
			lo, hi, v);
	return false;
}

bool ks_vbool(ks_vctx *c, const ks_vnode *n, bool *out)
{
	if (n->v && json_is_boolean(n->v)) {
		*out = json_is_true(n->v);
		return true;
	}
	expected(c, n, "true or false");
	return false;
}

/* "A, B or C" */
static const char *alternatives(ks_vctx *c, const char *const *allowed,
				size_t n)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	for (size_t i = 0; i < n; i++) {
		if (i)
			ks_buf_puts(&b, i + 1 == n ? " or " : ", ");
		ks_buf_puts(&b, allowed[i]);
	}
	const char *s = ks_arena_strdup(c->a, b.data ? b.data : "");
	ks_buf_release(&b);
	return s;
}

int ks_venum(ks_vctx *c, const ks_vnode *n, const char *const *allowed,
	     size_t nallowed)
{
	if (n->v && json_is_string(n->v)) {
		const char *s = json_string_value(n->v);
		for (size_t i = 0; i < nallowed; i++)
			if (!strcmp(s, allowed[i]))
				return (int)i;
	}
	expected(c, n, alternatives(c, allowed, nallowed));
	return -1;
}

unsigned ks_vknown(ks_vctx *c, const ks_vnode *n, const char *const *known,
		   size_t nknown)
{
	unsigned bad = 0;
	const char *key;
	json_t *v;
	if (!n->v || !json_is_object(n->v))
		return 0;
	json_object_foreach((json_t *)n->v, key, v)
	{
		size_t i;
		for (i = 0; i < nknown; i++)
			if (!strcmp(key, known[i]))
				break;
		if (i < nknown)
			continue;
		ks_vnode k = ks_vchild(c, n, key);
		const char *hint = ks_did_you_mean(key, known, nknown);
		if (hint)
			ks_verr(c, k.key, k.path,
				"unknown field (did you mean \"%s\"?)", hint);
		else
			ks_verr(c, k.key, k.path, "unknown field");
		bad++;
	}
	return bad;
}

ks_vnode ks_vrequired(ks_vctx *c, const ks_vnode *p, const char *key)
{
	ks_vnode n = ks_vchild(c, p, key);
	if (!n.v && p->v && json_is_object(p->v))
		ks_verr(c, p->key, p->path, "missing required field \"%s\"",
			key);
	return n;
}

bool ks_vstrlist(ks_vctx *c, const ks_vnode *n, ks_strlist *out)
{
	out->items = NULL;
	out->n = 0;
	if (!ks_vlist(c, n))
		return false;
	size_t len = json_array_size(n->v);
	bool ok = true;
	out->items = ks_arena_alloc(c->a, (len + 1) * sizeof(*out->items));
	for (size_t i = 0; i < len; i++) {
		ks_vnode it = ks_vitem(c, n, i);
		const char *s = ks_vstring(c, &it);
		if (!s) {
			ok = false;
			continue;
		}
		out->items[out->n++] = s;
	}
	return ok;
}

static bool reserved_label(const char *k)
{
	return !strncmp(k, "kusync.io/", 10) ||
	       !strcmp(k, "app.kubernetes.io/managed-by") ||
	       !strcmp(k, "app.kubernetes.io/instance");
}

bool ks_vlabels(ks_vctx *c, const ks_vnode *n, bool annotations, ks_strmap *out)
{
	out->items = NULL;
	out->n = 0;
	if (!ks_vmapping(c, n))
		return false;
	unsigned before = c->nerr;
	size_t len = json_object_size(n->v);
	out->items = ks_arena_alloc(c->a, (len + 1) * sizeof(*out->items));
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)n->v, key, v)
	{
		ks_vnode it = ks_vchild(c, n, key);
		const char *why = ks_label_key_problem(key);
		if (why) {
			ks_verr(c, it.key, it.path, "invalid %s key: %s",
				annotations ? "annotation" : "label", why);
			continue;
		}
		if (reserved_label(key)) {
			ks_verr(c, it.key, it.path,
				"\"%s\" is reserved for kusync (ownership "
				"labels and annotations cannot be set by "
				"users)",
				key);
			continue;
		}
		const char *s = json_is_null(v) ? "" : ks_vstring(c, &it);
		if (!s)
			continue;
		if (!annotations && (why = ks_label_value_problem(s))) {
			ks_verr(c, it.val, it.path,
				"invalid label value %s: %s", quote_text(c, s),
				why);
			continue;
		}
		out->items[out->n].key = ks_arena_strdup(c->a, key);
		out->items[out->n].value = s;
		out->n++;
	}
	return c->nerr == before;
}

bool ks_vintorpct(ks_vctx *c, const ks_vnode *n, ks_intorpct *out)
{
	static const char want[] =
		"expected an integer >= 0 or a percentage \"N%%\" (0-100), "
		"got %s";
	memset(out, 0, sizeof(*out));
	if (n->v && json_is_integer(n->v)) {
		int64_t v = (int64_t)json_integer_value(n->v);
		if (v < 0)
			goto bad;
		out->present = true;
		out->value = v;
		return true;
	}
	if (n->v && json_is_string(n->v)) {
		const char *s = json_string_value(n->v);
		size_t len = strlen(s);
		if (len < 2 || len > 4 || s[len - 1] != '%')
			goto bad;
		int64_t v = 0;
		for (size_t i = 0; i + 1 < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				goto bad;
			v = v * 10 + (s[i] - '0');
		}
		if (v > 100)
			goto bad;
		out->present = true;
		out->is_percent = true;
		out->value = v;
		return true;
	}
bad:
	ks_verr(c, n->val, n->path, want, describe_bare(c, n));
	return false;
}

bool ks_vduration(ks_vctx *c, const ks_vnode *n, int64_t *ms, const char **text)
{
	const char *s = ks_vstring(c, n);
	if (!s)
		return false;
	int64_t v;
	if (ks_duration_parse(s, &v) < 0 || v <= 0) {
		ks_verr(c, n->val, n->path,
			"%s is not a duration (like 90s, 10m, 1h)",
			quote_text(c, s));
		return false;
	}
	*ms = v;
	if (text)
		*text = s;
	return true;
}

char *ks_vjoin(ks_arena *a, const char *dir, const char *name)
{
	size_t len = strlen(dir);
	if (!len)
		return ks_arena_strdup(a, name);
	if (dir[len - 1] == '/')
		return ks_arena_printf(a, "%s%s", dir, name);
	return ks_arena_printf(a, "%s/%s", dir, name);
}
