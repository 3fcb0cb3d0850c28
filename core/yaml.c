#include "core/yaml.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <yaml.h>

#include "core/banned.h"

/*
 * The reader turns libyaml's events into jansson values with an explicit
 * stack of open containers (so hostile nesting cannot overflow the C stack)
 * and records every member's position in the document's side table.
 *
 * Errors come in two kinds. Structural ones (libyaml errors, nesting, node
 * count, non-scalar keys, multiple documents) stop the parse at once.
 * Errors in one value (a duplicate key, an unknown tag, an integer out of
 * range) are reported and the value dropped, so that one run reports all of
 * them; the parse still fails at the end.
 */

#define TAG_PREFIX "tag:yaml.org,2002:"

struct anchor {
	char *name;
	json_t *v;	/* a reference */
	uint64_t nodes; /* nodes in the subtree, alias expansions included */
	char *text;	/* a scalar's text (for an alias used as a key) */
	char *raw;	/* ks_node_info.raw of a scalar */
	unsigned char style;
};

struct frame {
	json_t *v;
	bool is_map;
	bool have_key;
	bool skip; /* the current member's value is dropped (duplicate) */
	char *key; /* heap; the member waiting for its value */
	ks_mark key_mark;
	ks_mark start;
	char *anchor; /* heap; registered when the container ends */
	uint64_t nodes_at_start;
};

typedef struct parser {
	const char *buf;
	size_t len;
	const char *file;
	unsigned flags;
	ks_errlist *errs;
	int nerr;
	bool fatal;

	struct frame *stack;
	size_t depth, stack_alloc;
	uint64_t nodes;

	struct anchor *anchors;
	size_t nanchors, anchors_alloc;
	size_t *anchor_slots; /* open addressing, index + 1; 0 = empty */
	size_t nanchor_slots;

	ks_doc *doc; /* the document being built */
	json_t *root;
	ks_mark root_mark;
	bool root_set;
	bool root_empty; /* the root is the empty plain scalar */

	ks_doc **docs;
	size_t ndocs, docs_alloc;
	size_t docs_seen;
} parser;

static ks_mark to_mark(yaml_mark_t m)
{
	return (ks_mark){(unsigned)m.line + 1, (unsigned)m.column + 1};
}

static void perr(parser *p, ks_mark at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void perr(parser *p, ks_mark at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ks_errlist_vadd(p->errs, p->file, at.line, at.col, fmt, ap);
	va_end(ap);
	p->nerr++;
}

/* Length in bytes of the line break at s (libyaml's set: \r\n, \r, \n, NEL,
 * LS, PS), or 0. */
static size_t break_len(const unsigned char *s, size_t n)
{
	if (n >= 2 && s[0] == '\r' && s[1] == '\n')
		return 2;
	if (s[0] == '\r' || s[0] == '\n')
		return 1;
	if (n >= 2 && s[0] == 0xc2 && s[1] == 0x85)
		return 2;
	if (n >= 3 && s[0] == 0xe2 && s[1] == 0x80 &&
	    (s[2] == 0xa8 || s[2] == 0xa9))
		return 3;
	return 0;
}

/* The position of byte OFFSET of the input, counted as libyaml counts. */
static ks_mark mark_of_offset(const char *buf, size_t len, size_t offset)
{
	const unsigned char *s = (const unsigned char *)buf;
	ks_mark m = {1, 1};
	if (offset > len)
		offset = len;
	size_t i = 0;
	if (len >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
		i = 3;
	while (i < offset) {
		size_t b = break_len(s + i, len - i);
		if (b) {
			m.line++;
			m.col = 1;
			i += b;
			continue;
		}
		i++;
		while (i < offset && (s[i] & 0xc0) == 0x80)
			i++;
		m.col++;
	}
	return m;
}

/* The byte at line:col (1-based, characters), or -1. */
static int byte_at_mark(const char *buf, size_t len, ks_mark at)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0;
	if (len >= 3 && s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)
		i = 3;
	for (unsigned line = 1; line < at.line && i < len;) {
		size_t b = break_len(s + i, len - i);
		if (b) {
			line++;
			i += b;
		} else {
			i++;
		}
	}
	for (unsigned col = 1; col < at.col && i < len; col++) {
		i++;
		while (i < len && (s[i] & 0xc0) == 0x80)
			i++;
	}
	return i < len ? s[i] : -1;
}

static void libyaml_error(parser *p, const yaml_parser_t *yp)
{
	const char *problem = yp->problem ? yp->problem : "cannot parse YAML";
	if (yp->error == YAML_READER_ERROR) {
		ks_mark at = mark_of_offset(p->buf, p->len, yp->problem_offset);
		if (yp->problem_value != -1)
			perr(p, at, "%s (#x%X)", problem,
			     (unsigned)yp->problem_value);
		else
			perr(p, at, "%s", problem);
		return;
	}
	if (yp->error == YAML_MEMORY_ERROR) {
		perr(p, (ks_mark){0, 0}, "out of memory parsing YAML");
		return;
	}
	ks_mark at = to_mark(yp->problem_mark);
	const char *hint = "";
	if (byte_at_mark(p->buf, p->len, at) == '\t')
		hint = " (tabs are not allowed for indentation)";
	if (yp->context) {
		ks_mark cm = to_mark(yp->context_mark);
		if (cm.line != at.line || cm.col != at.col)
			perr(p, at, "%s%s %s (started at %u:%u)", problem, hint,
			     yp->context, cm.line, cm.col);
		else
			perr(p, at, "%s%s %s", problem, hint, yp->context);
	} else {
		perr(p, at, "%s%s", problem, hint);
	}
}

/* Anchors: an open-addressing index over the entries; a redefined anchor
 * points at its newest entry. */
static uint64_t hash_name(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static size_t *anchor_slot(const parser *p, const char *name)
{
	size_t mask = p->nanchor_slots - 1;
	for (size_t i = (size_t)hash_name(name) & mask;; i = (i + 1) & mask) {
		size_t *s = &p->anchor_slots[i];
		if (!*s || strcmp(p->anchors[*s - 1].name, name) == 0)
			return s;
	}
}

static void anchors_grow(parser *p)
{
	size_t n = p->nanchor_slots ? p->nanchor_slots * 2 : 32;
	free(p->anchor_slots);
	p->anchor_slots = ks_xcalloc(n, sizeof(*p->anchor_slots));
	p->nanchor_slots = n;
	for (size_t i = 0; i < p->nanchors; i++)
		*anchor_slot(p, p->anchors[i].name) = i + 1;
}

static void anchor_add(parser *p, const char *name, json_t *v, uint64_t nodes,
		       const char *text, const char *raw, unsigned char style)
{
	if (p->nanchors == p->anchors_alloc) {
		p->anchors_alloc = p->anchors_alloc ? p->anchors_alloc * 2 : 16;
		p->anchors = ks_xrealloc(
			p->anchors, p->anchors_alloc * sizeof(*p->anchors));
	}
	if ((p->nanchors + 1) * 2 > p->nanchor_slots)
		anchors_grow(p);
	struct anchor *a = &p->anchors[p->nanchors];
	a->name = ks_xstrdup(name);
	a->v = json_incref(v);
	a->nodes = nodes;
	a->text = text ? ks_xstrdup(text) : NULL;
	a->raw = raw ? ks_xstrdup(raw) : NULL;
	a->style = style;
	*anchor_slot(p, name) = ++p->nanchors;
}

static const struct anchor *anchor_find(const parser *p, const char *name)
{
	if (!p->nanchors)
		return NULL;
	size_t s = *anchor_slot(p, name);
	return s ? &p->anchors[s - 1] : NULL;
}

static void anchors_clear(parser *p)
{
	for (size_t i = 0; i < p->nanchors; i++) {
		struct anchor *a = &p->anchors[i];
		free(a->name);
		json_decref(a->v);
		free(a->text);
		free(a->raw);
	}
	p->nanchors = 0;
	if (p->anchor_slots)
		memset(p->anchor_slots, 0,
		       p->nanchor_slots * sizeof(*p->anchor_slots));
}

static void frame_release(struct frame *f)
{
	json_decref(f->v);
	free(f->key);
	free(f->anchor);
}

/* Drops everything of the document being built. */
static void doc_abandon(parser *p)
{
	while (p->depth)
		frame_release(&p->stack[--p->depth]);
	json_decref(p->root);
	p->root = NULL;
	p->root_set = false;
	ks_doc_free(p->doc);
	p->doc = NULL;
	anchors_clear(p);
}

/*
 * Scalars by the YAML 1.2 core schema.
 */
static bool all_digits(const char *s, const char *digits)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr(digits, *s))
			return false;
	return true;
}

static bool is_null_text(const char *s)
{
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") ||
	       !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int bool_text(const char *s)
{
	if (!strcasecmp(s, "true"))
		return 1;
	if (!strcasecmp(s, "false"))
		return 0;
	return -1;
}

/* Integer forms: 1 = matched (value in *out), 0 = not an integer, -1 = an
 * integer that does not fit int64. */
static int int_text(const char *s, json_int_t *out)
{
	int base = 10;
	const char *digits = s;
	bool neg = false;
	if (s[0] == '0' && s[1] == 'o' && all_digits(s + 2, "01234567")) {
		base = 8;
		digits = s + 2;
	} else if (s[0] == '0' && s[1] == 'x' &&
		   all_digits(s + 2, "0123456789abcdefABCDEF")) {
		base = 16;
		digits = s + 2;
	} else {
		if (*digits == '-' || *digits == '+') {
			neg = *digits == '-';
			digits++;
		}
		if (!all_digits(digits, "0123456789"))
			return 0;
	}
	uint64_t v = 0;
	const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
	for (const char *c = digits; *c; c++) {
		unsigned d = *c <= '9'	 ? (unsigned)(*c - '0')
			     : *c >= 'a' ? (unsigned)(*c - 'a' + 10)
					 : (unsigned)(*c - 'A' + 10);
		if (v > (limit - d) / (unsigned)base)
			return -1;
		v = v * (unsigned)base + d;
	}
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN
						    : -(json_int_t)v;
	else
		*out = (json_int_t)v;
	return 1;
}

static const char *skip_digits(const char *s)
{
	while (*s >= '0' && *s <= '9')
		s++;
	return s;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool float_syntax(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (*s == '.') {
		const char *e = skip_digits(s + 1);
		if (e == s + 1)
			return false;
		s = e;
	} else {
		const char *e = skip_digits(s);
		if (e == s)
			return false;
		s = e;
		if (*s == '.')
			s = skip_digits(s + 1);
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		const char *e = skip_digits(s);
		if (e == s)
			return false;
		s = e;
	}
	return !*s;
}

static bool special_float(const char *s)
{
	const char *t = s;
	if (*t == '-' || *t == '+')
		t++;
	if (!strcmp(t, ".inf") || !strcmp(t, ".Inf") || !strcmp(t, ".INF"))
		return true;
	return t == s &&
	       (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN"));
}

enum resolved { R_STRING, R_NULL, R_BOOL, R_INT, R_FLOAT, R_ERROR };

/* Builds the value of a plain scalar (or of one tagged TAG, NULL for none).
 * Reports and returns NULL on a bad value. */
static json_t *resolve(parser *p, const char *s, size_t len, const char *tag,
		       bool plain, ks_mark at)
{
	const char *t = tag ? tag + strlen(TAG_PREFIX) : NULL;
	if ((!tag && !plain) || (t && !strcmp(t, "str"))) {
		json_t *v = json_stringn(s, len);
		if (!v)
			perr(p, at, "string is not valid UTF-8");
		return v;
	}
	if (strlen(s) != len) {
		if (!t)
			return json_stringn(s, len);
		perr(p, at, "invalid !!%s value", t);
		return NULL;
	}
	if ((!t || !strcmp(t, "null")) && is_null_text(s))
		return json_null();
	int b = bool_text(s);
	if ((!t || !strcmp(t, "bool")) && b >= 0)
		return json_boolean(b);
	json_int_t i;
	int ir = int_text(s, &i);
	if (ir < 0 && (!t || !strcmp(t, "int") || !strcmp(t, "float"))) {
		if (t && !strcmp(t, "float"))
			return json_real(strtod(s, NULL));
		perr(p, at, "integer out of range");
		return NULL;
	}
	if (ir > 0 && (!t || !strcmp(t, "int")))
		return json_integer(i);
	if (ir > 0 && !strcmp(t, "float"))
		return json_real((double)i);
	if ((!t || !strcmp(t, "float")) &&
	    (float_syntax(s) || special_float(s))) {
		if (special_float(s)) {
			perr(p, at,
			     "infinite and NaN numbers (\"%s\") cannot be "
			     "represented in JSON",
			     s);
			return NULL;
		}
		errno = 0;
		double d = strtod(s, NULL);
		if (!isfinite(d)) {
			perr(p, at, "number out of range");
			return NULL;
		}
		return json_real(d);
	}
	if (!t)
		return json_stringn(s, len);
	perr(p, at, "invalid !!%s value \"%s\"", t, s);
	return NULL;
}

static bool known_scalar_tag(const char *tag)
{
	static const char *const names[] = {"str", "int", "bool", "null",
					    "float"};
	if (strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)) != 0)
		return false;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(tag + strlen(TAG_PREFIX), names[i]))
			return true;
	return false;
}

/* Shortens tag:yaml.org,2002:x to !!x for messages. */
static void report_tag(parser *p, ks_mark at, const char *tag, const char *what)
{
	if (!strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX)))
		perr(p, at, "unsupported tag \"!!%s\" on a %s",
		     tag + strlen(TAG_PREFIX), what);
	else
		perr(p, at, "unsupported tag \"%s\" on a %s", tag, what);
}

static bool count_nodes(parser *p, uint64_t n, ks_mark at)
{
	p->nodes += n;
	if (p->nodes <= KS_YAML_MAX_NODES)
		return true;
	perr(p, at, "too many nodes (alias expansion?)");
	p->fatal = true;
	return false;
}

/*
 * Places a finished value V (stolen; NULL when its error was reported) in
 * the open container, or makes it the root.
 */
static void attach(parser *p, json_t *v, const ks_node_info *info)
{
	if (!p->depth) {
		p->root = v;
		p->root_mark = info->value;
		p->root_set = true;
		return;
	}
	struct frame *f = &p->stack[p->depth - 1];
	if (!f->is_map) {
		if (!v)
			v = json_null();
		json_array_append_new(f->v, v);
		ks_doc_note_index(p->doc, f->v, json_array_size(f->v) - 1,
				  info);
		return;
	}
	if (!f->skip && v) {
		ks_node_info in = *info;
		in.key = f->key_mark;
		if (json_object_set_new(f->v, f->key, v) == 0)
			ks_doc_note_key(p->doc, f->v, f->key, &in);
		else
			perr(p, in.key, "mapping key is not valid UTF-8");
	} else {
		json_decref(v);
	}
	free(f->key);
	f->key = NULL;
	f->have_key = false;
	f->skip = false;
}

/* Takes a scalar's text as the key of the open mapping. */
static void take_key(parser *p, struct frame *f, const char *s, size_t len,
		     ks_mark at)
{
	f->have_key = true;
	f->key_mark = at;
	f->skip = false;
	if (strlen(s) != len) {
		perr(p, at, "mapping key contains a NUL character");
		f->skip = true;
		f->key = ks_xstrdup("");
		return;
	}
	f->key = ks_xstrndup(s, len);
	if (!json_object_get(f->v, f->key))
		return;
	const ks_node_info *first = ks_doc_key_info(p->doc, f->v, f->key);
	perr(p, at, "duplicate key \"%s\" (first at %u:%u)", f->key,
	     first ? first->key.line : 0, first ? first->key.col : 0);
	f->skip = true;
}

static bool wants_key(const parser *p)
{
	return p->depth && p->stack[p->depth - 1].is_map &&
	       !p->stack[p->depth - 1].have_key;
}

static void on_scalar(parser *p, const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	const char *anchor = (const char *)ev->data.scalar.anchor;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	ks_mark at = to_mark(ev->start_mark);
	if (tag && !strcmp(tag, "!"))
		tag = TAG_PREFIX "str"; /* the non-specific tag */
	if (!count_nodes(p, 1, at))
		return;
	if (tag && !known_scalar_tag(tag)) {
		report_tag(p, at, tag, "scalar");
		tag = NULL;
		if (wants_key(p)) {
			take_key(p, &p->stack[p->depth - 1], s, len, at);
			p->stack[p->depth - 1].skip = true;
		} else {
			ks_node_info in = {at, at, NULL, 0};
			attach(p, NULL, &in);
		}
		return;
	}
	if (wants_key(p)) {
		take_key(p, &p->stack[p->depth - 1], s, len, at);
		if (anchor)
			anchor_add(p, anchor, NULL, 1, s, NULL,
				   plain ? KS_STYLE_PLAIN : KS_STYLE_QUOTED);
		return;
	}
	json_t *v = resolve(p, s, len, tag, plain, at);
	ks_node_info in = {at, at, NULL,
			   plain ? KS_STYLE_PLAIN : KS_STYLE_QUOTED};
	if (plain && v && !json_is_string(v))
		in.raw = s;
	if (!p->depth && plain && !tag && !anchor && len == 0)
		p->root_empty = true;
	if (anchor && v)
		anchor_add(p, anchor, v, 1, s, in.raw, in.style);
	attach(p, v, &in);
}

static void on_alias(parser *p, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	ks_mark at = to_mark(ev->start_mark);
	const struct anchor *a = anchor_find(p, name);
	if (!a) {
		perr(p, at, "unknown anchor \"%s\"", name);
		p->fatal = true;
		return;
	}
	if (!count_nodes(p, a->nodes, at))
		return;
	if (wants_key(p)) {
		if (!a->text) {
			perr(p, at, "mapping keys must be scalars");
			p->fatal = true;
			return;
		}
		take_key(p, &p->stack[p->depth - 1], a->text, strlen(a->text),
			 at);
		return;
	}
	json_t *v = a->v ? json_incref(a->v) : NULL;
	if (!v) {
		/* An anchored key used as a value: resolve its text now. */
		v = resolve(p, a->text, strlen(a->text), NULL,
			    a->style == KS_STYLE_PLAIN, at);
	}
	ks_node_info in = {at, at, a->raw, a->style};
	attach(p, v, &in);
}

static void on_start(parser *p, const yaml_event_t *ev, bool is_map)
{
	ks_mark at = to_mark(ev->start_mark);
	const char *tag = (const char *)(is_map ? ev->data.mapping_start.tag
						: ev->data.sequence_start.tag);
	const char *anchor =
		(const char *)(is_map ? ev->data.mapping_start.anchor
				      : ev->data.sequence_start.anchor);
	if (wants_key(p)) {
		perr(p, at, "mapping keys must be scalars");
		p->fatal = true;
		return;
	}
	if (p->depth >= KS_YAML_MAX_DEPTH) {
		perr(p, at, "nesting deeper than %d levels", KS_YAML_MAX_DEPTH);
		p->fatal = true;
		return;
	}
	if (!count_nodes(p, 1, at))
		return;
	if (tag && strcmp(tag, "!") != 0 &&
	    strcmp(tag, is_map ? TAG_PREFIX "map" : TAG_PREFIX "seq") != 0)
		report_tag(p, at, tag, is_map ? "mapping" : "sequence");
	if (p->depth == p->stack_alloc) {
		p->stack_alloc = p->stack_alloc ? p->stack_alloc * 2 : 16;
		p->stack = ks_xrealloc(p->stack,
				       p->stack_alloc * sizeof(*p->stack));
	}
	struct frame *f = &p->stack[p->depth++];
	memset(f, 0, sizeof(*f));
	f->v = is_map ? json_object() : json_array();
	f->is_map = is_map;
	f->start = at;
	f->anchor = anchor ? ks_xstrdup(anchor) : NULL;
	f->nodes_at_start = p->nodes;
}

static void on_end(parser *p)
{
	struct frame f = p->stack[--p->depth];
	if (f.anchor)
		anchor_add(p, f.anchor, f.v, p->nodes - f.nodes_at_start + 1,
			   NULL, NULL, KS_STYLE_NONE);
	free(f.anchor);
	free(f.key);
	ks_node_info in = {f.start, f.start, NULL, KS_STYLE_NONE};
	attach(p, f.v, &in);
}

static void on_document_start(parser *p, const yaml_event_t *ev)
{
	if ((p->flags & KS_YAML_SINGLE) && p->docs_seen) {
		perr(p, to_mark(ev->start_mark),
		     "multi-document files are not supported here");
		p->fatal = true;
		return;
	}
	p->docs_seen++;
	p->doc = ks_doc_new(p->file);
	p->root = NULL;
	p->root_set = false;
	p->root_empty = false;
	p->nodes = 0;
}

static void keep_doc(parser *p, ks_doc *d)
{
	if (p->ndocs == p->docs_alloc) {
		p->docs_alloc = p->docs_alloc ? p->docs_alloc * 2 : 4;
		p->docs =
			ks_xrealloc(p->docs, p->docs_alloc * sizeof(*p->docs));
	}
	p->docs[p->ndocs++] = d;
}

static void on_document_end(parser *p)
{
	ks_doc *d = p->doc;
	p->doc = NULL;
	if (p->root_empty) {
		json_decref(p->root);
		ks_doc_set_root(d, NULL, (ks_mark){0, 0});
	} else {
		ks_doc_set_root(d, p->root, p->root_mark);
	}
	p->root = NULL;
	p->root_set = false;
	anchors_clear(p);
	keep_doc(p, d);
}

static void handle(parser *p, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		on_document_start(p, ev);
		break;
	case YAML_DOCUMENT_END_EVENT:
		on_document_end(p);
		break;
	case YAML_SCALAR_EVENT:
		on_scalar(p, ev);
		break;
	case YAML_ALIAS_EVENT:
		on_alias(p, ev);
		break;
	case YAML_SEQUENCE_START_EVENT:
		on_start(p, ev, false);
		break;
	case YAML_MAPPING_START_EVENT:
		on_start(p, ev, true);
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		on_end(p);
		break;
	default:
		break;
	}
}

/* Runs libyaml over the input, collecting documents in p->docs. */
static int parse_stream(parser *p)
{
	yaml_parser_t yp;
	if (!yaml_parser_initialize(&yp)) {
		perr(p, (ks_mark){0, 0}, "out of memory parsing YAML");
		return KS_EINVAL;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)p->buf,
				     p->len);
	bool done = false;
	while (!done && !p->fatal) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&yp, &ev)) {
			libyaml_error(p, &yp);
			p->fatal = true;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		handle(p, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&yp);
	doc_abandon(p);
	free(p->stack);
	free(p->anchors);
	free(p->anchor_slots);
	if (!p->nerr)
		return 0;
	for (size_t i = 0; i < p->ndocs; i++)
		ks_doc_free(p->docs[i]);
	free(p->docs);
	p->docs = NULL;
	p->ndocs = 0;
	return KS_EINVAL;
}

static void parser_init(parser *p, const char *buf, size_t len,
			const char *file, unsigned flags, ks_errlist *errs)
{
	memset(p, 0, sizeof(*p));
	p->buf = buf ? buf : ""; /* libyaml asserts on a NULL input */
	len = buf ? len : 0;
	p->len = len;
	p->file = file ? file : "";
	p->flags = flags;
	p->errs = errs;
}

int ks_yaml_parse(ks_doc **out, const char *buf, size_t len, const char *file,
		  unsigned flags, ks_errlist *errs)
{
	parser p;
	parser_init(&p, buf, len, file, flags, errs);
	int rc = parse_stream(&p);
	if (rc < 0)
		return rc;
	ks_doc *d = NULL;
	for (size_t i = 0; i < p.ndocs; i++) {
		if (!d && ks_doc_root(p.docs[i]))
			d = p.docs[i];
		else
			ks_doc_free(p.docs[i]);
	}
	free(p.docs);
	*out = d ? d : ks_doc_new(p.file);
	return 0;
}

int ks_yaml_parse_all(ks_doc ***out, size_t *n, const char *buf, size_t len,
		      const char *file, ks_errlist *errs)
{
	parser p;
	parser_init(&p, buf, len, file, 0, errs);
	int rc = parse_stream(&p);
	if (rc < 0)
		return rc;
	size_t kept = 0;
	for (size_t i = 0; i < p.ndocs; i++) {
		if (ks_doc_root(p.docs[i]))
			p.docs[kept++] = p.docs[i];
		else
			ks_doc_free(p.docs[i]);
	}
	if (!kept) {
		free(p.docs);
		p.docs = NULL;
	}
	*out = p.docs ? p.docs : ks_xcalloc(1, sizeof(ks_doc *));
	*n = kept;
	return 0;
}

int ks_yaml_load_file(ks_doc **out, const char *path, const char *display,
		      unsigned flags, ks_errlist *errs)
{
	const char *name = display ? display : path;
	struct stat st;
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uintmax_t)st.st_size > KS_YAML_MAX_FILE) {
		ks_errlist_add(errs, name, 0, 0,
			       "file is too large (%jd bytes, the limit is "
			       "16 MiB)",
			       (intmax_t)st.st_size);
		return KS_EINVAL;
	}
	char *buf = NULL;
	size_t len = 0;
	ks_error err = {0};
	int rc = ks_read_file(path, KS_YAML_MAX_FILE, &buf, &len, &err);
	if (rc == KS_ELIMIT) {
		/* Not a regular file (a pipe) that kept going. */
		ks_errlist_add(errs, name, 0, 0,
			       "file is too large (more than %u bytes, the "
			       "limit is 16 MiB)",
			       (unsigned)KS_YAML_MAX_FILE);
		return KS_EINVAL;
	}
	if (rc < 0) {
		/* ks_read_file's message starts with the path. */
		const char *msg = err.msg;
		size_t plen = strlen(path);
		if (!strncmp(msg, path, plen) && !strncmp(msg + plen, ": ", 2))
			msg += plen + 2;
		ks_errlist_add(errs, name, 0, 0, "%s", msg);
		return rc;
	}
	rc = ks_yaml_parse(out, buf, len, name, flags, errs);
	free(buf);
	return rc;
}
