/*
 * The CEL evaluator: a walk over the checked tree. Values are small structs
 * passed by value; aggregates from the input stay jansson values (no copy),
 * and what evaluation builds lives in the context's blocks, dropped as a
 * whole when the next evaluation starts.
 */
#include "policies/cel_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/banned.h"

struct cel_block {
	cel_block *next;
	size_t size;
	_Alignas(16) char data[];
};

#define CEL_BLOCK_MIN (64u << 10)
#define CEL_DEFAULT_LIMIT 10000000u

ks_cel_ctx *ks_cel_ctx_new(void)
{
	ks_cel_ctx *c = ks_xcalloc(1, sizeof(*c));
	c->limit = CEL_DEFAULT_LIMIT;
	c->blocks = ks_xmalloc(sizeof(cel_block) + CEL_BLOCK_MIN);
	c->blocks->next = NULL;
	c->blocks->size = CEL_BLOCK_MIN;
	c->cur = c->blocks->data;
	c->left = CEL_BLOCK_MIN;
	c->mctx = pcre2_match_context_create(NULL);
	if (!c->mctx)
		abort();
	/* Bounds on backtracking: a pattern that explodes stops with an
	 * error well under a second. */
	pcre2_set_match_limit(c->mctx, 200000);
	pcre2_set_depth_limit(c->mctx, 10000);
	c->md = pcre2_match_data_create(1, NULL);
	if (!c->md)
		abort();
	return c;
}

void ks_cel_ctx_free(ks_cel_ctx *c)
{
	if (!c)
		return;
	cel_block *b = c->blocks;
	while (b) {
		cel_block *nx = b->next;
		free(b);
		b = nx;
	}
	for (int i = 0; i < CEL_RE_CACHE; i++) {
		free(c->cache[i].pat);
		pcre2_code_free(c->cache[i].re);
	}
	pcre2_match_data_free(c->md);
	pcre2_match_context_free(c->mctx);
	free(c->slots);
	free(c);
}

void ks_cel_ctx_set_limit(ks_cel_ctx *c, uint64_t limit)
{
	c->limit = limit;
}

static void ctx_reset(ks_cel_ctx *c)
{
	cel_block *b = c->blocks->next;
	while (b) {
		cel_block *nx = b->next;
		free(b);
		b = nx;
	}
	c->blocks->next = NULL;
	c->cur = c->blocks->data;
	c->left = c->blocks->size;
	c->cost = 0;
}

void *cel_alloc(ks_cel_ctx *c, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (n > c->left) {
		size_t sz = n > CEL_BLOCK_MIN ? n : CEL_BLOCK_MIN;
		cel_block *b = ks_xmalloc(sizeof(cel_block) + sz);
		b->size = sz;
		/* Keep the first block first: it is the one reset keeps. */
		b->next = c->blocks->next;
		c->blocks->next = b;
		c->cur = b->data;
		c->left = sz;
	}
	void *p = c->cur;
	c->cur += n;
	c->left -= n;
	return p;
}

ks_cel_value cel_error(ks_cel_ctx *c, unsigned col, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t n = strlen(msg);
	struct ks_cel_err *e = cel_alloc(c, sizeof(*e) + n + 1);
	char *m = (char *)(e + 1);
	memcpy(m, msg, n + 1);
	e->msg = m;
	e->col = col;
	ks_cel_value v = {.kind = KS_CEL_ERROR};
	v.v.err = e;
	return v;
}

ks_cel_value cel_no_overload(ks_cel_ctx *c, const cel_node *n, const char *op,
			     const ks_cel_value *a, const ks_cel_value *b)
{
	if (b)
		return cel_error(c, n->col, "no such overload: %s(%s, %s)", op,
				 ks_cel_kind_name((ks_cel_kind)a->kind),
				 ks_cel_kind_name((ks_cel_kind)b->kind));
	return cel_error(c, n->col, "no such overload: %s(%s)", op,
			 ks_cel_kind_name((ks_cel_kind)a->kind));
}

const char *ks_cel_error_message(const ks_cel_value *v)
{
	if (v->kind != KS_CEL_ERROR || !v->v.err)
		return "";
	return v->v.err->msg;
}

unsigned ks_cel_error_col(const ks_cel_value *v)
{
	if (v->kind != KS_CEL_ERROR || !v->v.err)
		return 0;
	return v->v.err->col;
}

ks_cel_value cel_json_value(const json_t *j)
{
	ks_cel_value v = {.kind = KS_CEL_NULL};
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		v.kind = KS_CEL_MAP;
		v.json = 1;
		v.v.json = j;
		break;
	case JSON_ARRAY:
		v.kind = KS_CEL_LIST;
		v.json = 1;
		v.v.json = j;
		break;
	case JSON_STRING:
		v = cel_str(KS_CEL_STRING, json_string_value(j),
			    json_string_length(j));
		break;
	case JSON_INTEGER:
		v = cel_int((int64_t)json_integer_value(j));
		break;
	case JSON_REAL:
		v = cel_double(json_real_value(j));
		break;
	case JSON_TRUE:
		v = cel_bool(1);
		break;
	case JSON_FALSE:
		v = cel_bool(0);
		break;
	case JSON_NULL:
		break;
	}
	return v;
}

size_t cel_list_size(const ks_cel_value *l)
{
	return l->json ? json_array_size(l->v.json) : l->v.list->n;
}

ks_cel_value cel_list_get(const ks_cel_value *l, size_t i)
{
	if (l->json)
		return cel_json_value(json_array_get(l->v.json, i));
	return l->v.list->items[i];
}

size_t cel_map_size(const ks_cel_value *m)
{
	return m->json ? json_object_size(m->v.json) : m->v.map->n;
}

/* Numeric keys match across int, uint and double (langdef: map lookups use
 * numeric equality); key kinds a map cannot hold are an error. */
static int key_ok(const ks_cel_value *k)
{
	switch (k->kind) {
	case KS_CEL_INT:
	case KS_CEL_UINT:
	case KS_CEL_DOUBLE:
	case KS_CEL_STRING:
	case KS_CEL_BOOL:
		return 1;
	default:
		return 0;
	}
}

ks_cel_value cel_map_find(ks_cel_ctx *c, const ks_cel_value *m,
			  const ks_cel_value *key, int *found)
{
	*found = 0;
	ks_cel_value none = {.kind = KS_CEL_NULL};
	if (!key_ok(key))
		return cel_error(c, 0, "unsupported key type: %s",
				 ks_cel_kind_name((ks_cel_kind)key->kind));
	if (m->json) {
		if (key->kind != KS_CEL_STRING)
			return none;
		json_t *j = json_object_getn(m->v.json, key->v.s, key->aux);
		if (!j)
			return none;
		*found = 1;
		return cel_json_value(j);
	}
	const struct ks_cel_map *mp = m->v.map;
	for (size_t i = 0; i < mp->n; i++) {
		if (cel_equals(c, &mp->keys[i], key).v.b) {
			*found = 1;
			return mp->vals[i];
		}
	}
	return none;
}

/* Compares an int with a double exactly. */
static int cmp_int_double(int64_t i, double d)
{
	if (isnan(d))
		return 3;
	if (d >= 9223372036854775808.0)
		return -1;
	if (d < -9223372036854775808.0)
		return 1;
	double t = trunc(d);
	int64_t ti = (int64_t)t;
	if (i != ti)
		return i < ti ? -1 : 1;
	if (d > t)
		return -1;
	if (d < t)
		return 1;
	return 0;
}

static int cmp_uint_double(uint64_t u, double d)
{
	if (isnan(d))
		return 3;
	if (d >= 18446744073709551616.0)
		return -1;
	if (d < 0)
		return 1;
	double t = trunc(d);
	uint64_t tu = (uint64_t)t;
	if (u != tu)
		return u < tu ? -1 : 1;
	return d > t ? -1 : 0;
}

static int cmp_num(const ks_cel_value *a, const ks_cel_value *b)
{
	int ka = a->kind, kb = b->kind;
	if (ka == KS_CEL_INT && kb == KS_CEL_INT)
		return (a->v.i > b->v.i) - (a->v.i < b->v.i);
	if (ka == KS_CEL_UINT && kb == KS_CEL_UINT)
		return (a->v.u > b->v.u) - (a->v.u < b->v.u);
	if (ka == KS_CEL_DOUBLE && kb == KS_CEL_DOUBLE) {
		if (isnan(a->v.d) || isnan(b->v.d))
			return 3;
		return (a->v.d > b->v.d) - (a->v.d < b->v.d);
	}
	if (ka == KS_CEL_INT && kb == KS_CEL_UINT) {
		if (a->v.i < 0)
			return -1;
		uint64_t x = (uint64_t)a->v.i;
		return (x > b->v.u) - (x < b->v.u);
	}
	if (ka == KS_CEL_UINT && kb == KS_CEL_INT) {
		int r = cmp_num(b, a);
		return -r;
	}
	if (ka == KS_CEL_INT)
		return cmp_int_double(a->v.i, b->v.d);
	if (ka == KS_CEL_UINT)
		return cmp_uint_double(a->v.u, b->v.d);
	/* a is a double */
	int r = kb == KS_CEL_INT ? cmp_int_double(b->v.i, a->v.d)
				 : cmp_uint_double(b->v.u, a->v.d);
	return r == 3 ? 3 : -r;
}

static int is_num(int k)
{
	return k == KS_CEL_INT || k == KS_CEL_UINT || k == KS_CEL_DOUBLE;
}

static int cmp_bytes(const ks_cel_value *a, const ks_cel_value *b)
{
	size_t n = a->aux < b->aux ? a->aux : b->aux;
	int r = n ? memcmp(a->v.s, b->v.s, n) : 0;
	if (r)
		return r < 0 ? -1 : 1;
	return (a->aux > b->aux) - (a->aux < b->aux);
}

int cel_compare(const ks_cel_value *a, const ks_cel_value *b)
{
	if (is_num(a->kind) && is_num(b->kind))
		return cmp_num(a, b);
	if (a->kind != b->kind)
		return 2;
	switch (a->kind) {
	case KS_CEL_BOOL:
		return (a->v.b > b->v.b) - (a->v.b < b->v.b);
	case KS_CEL_STRING: /* UTF-8 byte order is code point order */
	case KS_CEL_BYTES:
		return cmp_bytes(a, b);
	case KS_CEL_DURATION:
		return (a->v.i > b->v.i) - (a->v.i < b->v.i);
	case KS_CEL_TIMESTAMP:
		if (a->v.i != b->v.i)
			return a->v.i < b->v.i ? -1 : 1;
		return (a->aux > b->aux) - (a->aux < b->aux);
	default:
		return 2;
	}
}

static int equal_values(ks_cel_ctx *c, const ks_cel_value *a,
			const ks_cel_value *b);

static int equal_maps(ks_cel_ctx *c, const ks_cel_value *a,
		      const ks_cel_value *b)
{
	size_t n = cel_map_size(a);
	if (n != cel_map_size(b))
		return 0;
	if (a->json) {
		const char *k;
		size_t klen;
		json_t *v;
		json_object_keylen_foreach((json_t *)a->v.json, k, klen, v)
		{
			ks_cel_value key = cel_str(KS_CEL_STRING, k, klen);
			int found;
			ks_cel_value bv = cel_map_find(c, b, &key, &found);
			ks_cel_value av = cel_json_value(v);
			if (!found || !equal_values(c, &av, &bv))
				return 0;
		}
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		int found;
		ks_cel_value bv =
			cel_map_find(c, b, &a->v.map->keys[i], &found);
		if (!found || !equal_values(c, &a->v.map->vals[i], &bv))
			return 0;
	}
	return 1;
}

static int equal_values(ks_cel_ctx *c, const ks_cel_value *a,
			const ks_cel_value *b)
{
	if (is_num(a->kind) && is_num(b->kind)) {
		if (a->kind == KS_CEL_DOUBLE && b->kind == KS_CEL_DOUBLE &&
		    isnan(a->v.d) && isnan(b->v.d))
			return 0;
		return cmp_num(a, b) == 0;
	}
	if (a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case KS_CEL_NULL:
		return 1;
	case KS_CEL_BOOL:
		return a->v.b == b->v.b;
	case KS_CEL_STRING:
	case KS_CEL_BYTES:
		return a->aux == b->aux &&
		       (!a->aux || !memcmp(a->v.s, b->v.s, a->aux));
	case KS_CEL_TYPE:
		return a->aux == b->aux;
	case KS_CEL_DURATION:
		return a->v.i == b->v.i;
	case KS_CEL_TIMESTAMP:
		return a->v.i == b->v.i && a->aux == b->aux;
	case KS_CEL_LIST: {
		size_t n = cel_list_size(a);
		if (n != cel_list_size(b))
			return 0;
		for (size_t i = 0; i < n; i++) {
			ks_cel_value x = cel_list_get(a, i);
			ks_cel_value y = cel_list_get(b, i);
			if (!equal_values(c, &x, &y))
				return 0;
		}
		return 1;
	}
	case KS_CEL_MAP:
		return equal_maps(c, a, b);
	default:
		return 0;
	}
}

/* NaN is not equal to itself (IEEE, as cel-go and the current langdef);
 * values of different kinds are unequal, numbers compare by value. */
ks_cel_value cel_equals(ks_cel_ctx *c, const ks_cel_value *a,
			const ks_cel_value *b)
{
	return cel_bool(equal_values(c, a, b));
}

/* ---- evaluation ---- */

static ks_cel_value ev(ks_cel_ctx *c, const cel_node *n);

static const char *const binop_names[] = {
	[B_ADD] = "_+_", [B_SUB] = "_-_", [B_MUL] = "_*_", [B_DIV] = "_/_",
	[B_MOD] = "_%_", [B_EQ] = "_==_", [B_NE] = "_!=_", [B_LT] = "_<_",
	[B_LE] = "_<=_", [B_GT] = "_>_",  [B_GE] = "_>=_", [B_IN] = "@in",
};

#define NS_PER_SEC 1000000000LL

static ks_cel_value ts_value(ks_cel_ctx *c, const cel_node *n, int64_t sec,
			     int64_t nanos)
{
	sec += nanos / NS_PER_SEC;
	nanos %= NS_PER_SEC;
	if (nanos < 0) {
		nanos += NS_PER_SEC;
		sec--;
	}
	if (sec < CEL_MIN_TS || sec > CEL_MAX_TS)
		return cel_error(c, n->col, "timestamp overflow");
	ks_cel_value v = {.kind = KS_CEL_TIMESTAMP};
	v.v.i = sec;
	v.aux = (uint32_t)nanos;
	return v;
}

static ks_cel_value dur_value(int64_t ns)
{
	ks_cel_value v = {.kind = KS_CEL_DURATION};
	v.v.i = ns;
	return v;
}

static ks_cel_value concat(ks_cel_ctx *c, const cel_node *n,
			   const ks_cel_value *a, const ks_cel_value *b)
{
	size_t len = (size_t)a->aux + b->aux;
	if (len > (16u << 20))
		return cel_error(c, n->col, "string too long");
	c->cost += len / 64;
	char *s = cel_alloc(c, len + 1);
	if (a->aux)
		memcpy(s, a->v.s, a->aux);
	if (b->aux)
		memcpy(s + a->aux, b->v.s, b->aux);
	s[len] = 0;
	return cel_str(a->kind, s, len);
}

static ks_cel_value list_concat(ks_cel_ctx *c, const cel_node *n,
				const ks_cel_value *a, const ks_cel_value *b)
{
	size_t na = cel_list_size(a), nb = cel_list_size(b);
	if (na + nb > (1u << 24))
		return cel_error(c, n->col, "list too long");
	c->cost += na + nb;
	struct ks_cel_list *l = cel_alloc(c, sizeof(*l));
	l->n = na + nb;
	l->items = cel_alloc(c, (l->n ? l->n : 1) * sizeof(ks_cel_value));
	for (size_t i = 0; i < na; i++)
		l->items[i] = cel_list_get(a, i);
	for (size_t i = 0; i < nb; i++)
		l->items[na + i] = cel_list_get(b, i);
	ks_cel_value v = {.kind = KS_CEL_LIST};
	v.v.list = l;
	return v;
}

static ks_cel_value add(ks_cel_ctx *c, const cel_node *n, const ks_cel_value *a,
			const ks_cel_value *b)
{
	int ka = a->kind, kb = b->kind;
	if (ka == KS_CEL_INT && kb == KS_CEL_INT) {
		int64_t r;
		if (__builtin_add_overflow(a->v.i, b->v.i, &r))
			return cel_error(c, n->col, "integer overflow");
		return cel_int(r);
	}
	if (ka == KS_CEL_UINT && kb == KS_CEL_UINT) {
		uint64_t r;
		if (__builtin_add_overflow(a->v.u, b->v.u, &r))
			return cel_error(c, n->col,
					 "unsigned integer overflow");
		return cel_uint(r);
	}
	if (ka == KS_CEL_DOUBLE && kb == KS_CEL_DOUBLE)
		return cel_double(a->v.d + b->v.d);
	if ((ka == KS_CEL_STRING || ka == KS_CEL_BYTES) && ka == kb)
		return concat(c, n, a, b);
	if (ka == KS_CEL_LIST && kb == KS_CEL_LIST)
		return list_concat(c, n, a, b);
	if (ka == KS_CEL_DURATION && kb == KS_CEL_DURATION) {
		int64_t r;
		if (__builtin_add_overflow(a->v.i, b->v.i, &r))
			return cel_error(c, n->col, "duration overflow");
		return dur_value(r);
	}
	if (ka == KS_CEL_TIMESTAMP && kb == KS_CEL_DURATION)
		return ts_value(c, n, a->v.i + b->v.i / NS_PER_SEC,
				(int64_t)a->aux + b->v.i % NS_PER_SEC);
	if (ka == KS_CEL_DURATION && kb == KS_CEL_TIMESTAMP)
		return add(c, n, b, a);
	return cel_no_overload(c, n, "_+_", a, b);
}

static ks_cel_value sub(ks_cel_ctx *c, const cel_node *n, const ks_cel_value *a,
			const ks_cel_value *b)
{
	int ka = a->kind, kb = b->kind;
	if (ka == KS_CEL_INT && kb == KS_CEL_INT) {
		int64_t r;
		if (__builtin_sub_overflow(a->v.i, b->v.i, &r))
			return cel_error(c, n->col, "integer overflow");
		return cel_int(r);
	}
	if (ka == KS_CEL_UINT && kb == KS_CEL_UINT) {
		if (b->v.u > a->v.u)
			return cel_error(c, n->col,
					 "unsigned integer overflow");
		return cel_uint(a->v.u - b->v.u);
	}
	if (ka == KS_CEL_DOUBLE && kb == KS_CEL_DOUBLE)
		return cel_double(a->v.d - b->v.d);
	if (ka == KS_CEL_DURATION && kb == KS_CEL_DURATION) {
		int64_t r;
		if (__builtin_sub_overflow(a->v.i, b->v.i, &r))
			return cel_error(c, n->col, "duration overflow");
		return dur_value(r);
	}
	if (ka == KS_CEL_TIMESTAMP && kb == KS_CEL_DURATION)
		return ts_value(c, n, a->v.i - b->v.i / NS_PER_SEC,
				(int64_t)a->aux - b->v.i % NS_PER_SEC);
	if (ka == KS_CEL_TIMESTAMP && kb == KS_CEL_TIMESTAMP) {
		int64_t ds = a->v.i - b->v.i, r;
		if (__builtin_mul_overflow(ds, NS_PER_SEC, &r) ||
		    __builtin_add_overflow(r, (int64_t)a->aux - b->aux, &r))
			return cel_error(c, n->col, "duration overflow");
		return dur_value(r);
	}
	return cel_no_overload(c, n, "_-_", a, b);
}

static ks_cel_value mul(ks_cel_ctx *c, const cel_node *n, const ks_cel_value *a,
			const ks_cel_value *b)
{
	int ka = a->kind, kb = b->kind;
	if (ka == KS_CEL_INT && kb == KS_CEL_INT) {
		int64_t r;
		if (__builtin_mul_overflow(a->v.i, b->v.i, &r))
			return cel_error(c, n->col, "integer overflow");
		return cel_int(r);
	}
	if (ka == KS_CEL_UINT && kb == KS_CEL_UINT) {
		uint64_t r;
		if (__builtin_mul_overflow(a->v.u, b->v.u, &r))
			return cel_error(c, n->col,
					 "unsigned integer overflow");
		return cel_uint(r);
	}
	if (ka == KS_CEL_DOUBLE && kb == KS_CEL_DOUBLE)
		return cel_double(a->v.d * b->v.d);
	return cel_no_overload(c, n, "_*_", a, b);
}

static ks_cel_value divmod(ks_cel_ctx *c, const cel_node *n,
			   const ks_cel_value *a, const ks_cel_value *b,
			   int mod)
{
	int ka = a->kind, kb = b->kind;
	const char *zero = mod ? "modulus by zero" : "division by zero";
	if (ka == KS_CEL_INT && kb == KS_CEL_INT) {
		if (b->v.i == 0)
			return cel_error(c, n->col, "%s", zero);
		if (a->v.i == INT64_MIN && b->v.i == -1)
			return cel_error(c, n->col, "integer overflow");
		return cel_int(mod ? a->v.i % b->v.i : a->v.i / b->v.i);
	}
	if (ka == KS_CEL_UINT && kb == KS_CEL_UINT) {
		if (b->v.u == 0)
			return cel_error(c, n->col, "%s", zero);
		return cel_uint(mod ? a->v.u % b->v.u : a->v.u / b->v.u);
	}
	if (!mod && ka == KS_CEL_DOUBLE && kb == KS_CEL_DOUBLE)
		return cel_double(a->v.d / b->v.d);
	return cel_no_overload(c, n, mod ? "_%_" : "_/_", a, b);
}

static ks_cel_value in_op(ks_cel_ctx *c, const cel_node *n,
			  const ks_cel_value *a, const ks_cel_value *b)
{
	if (b->kind == KS_CEL_LIST) {
		size_t len = cel_list_size(b);
		c->cost += len;
		for (size_t i = 0; i < len; i++) {
			ks_cel_value x = cel_list_get(b, i);
			if (equal_values(c, a, &x))
				return cel_bool(1);
		}
		return cel_bool(0);
	}
	if (b->kind == KS_CEL_MAP) {
		int found;
		ks_cel_value r = cel_map_find(c, b, a, &found);
		if (r.kind == KS_CEL_ERROR)
			return cel_error(c, n->col, "%s",
					 ks_cel_error_message(&r));
		return cel_bool(found);
	}
	return cel_no_overload(c, n, "@in", a, b);
}

static ks_cel_value binop(ks_cel_ctx *c, const cel_node *n)
{
	ks_cel_value a = ev(c, n->args[0]);
	if (a.kind == KS_CEL_ERROR)
		return a;
	ks_cel_value b = ev(c, n->args[1]);
	if (b.kind == KS_CEL_ERROR)
		return b;
	int r;
	switch (n->sub) {
	case B_ADD:
		return add(c, n, &a, &b);
	case B_SUB:
		return sub(c, n, &a, &b);
	case B_MUL:
		return mul(c, n, &a, &b);
	case B_DIV:
		return divmod(c, n, &a, &b, 0);
	case B_MOD:
		return divmod(c, n, &a, &b, 1);
	case B_EQ:
		return cel_bool(equal_values(c, &a, &b));
	case B_NE:
		return cel_bool(!equal_values(c, &a, &b));
	case B_IN:
		return in_op(c, n, &a, &b);
	default:
		break;
	}
	r = cel_compare(&a, &b);
	if (r == 2)
		return cel_no_overload(c, n, binop_names[n->sub], &a, &b);
	if (r == 3)
		return cel_bool(0);
	switch (n->sub) {
	case B_LT:
		return cel_bool(r < 0);
	case B_LE:
		return cel_bool(r <= 0);
	case B_GT:
		return cel_bool(r > 0);
	default:
		return cel_bool(r >= 0);
	}
}

/* && and || over n operands: a deciding operand wins whatever errors the
 * others gave; else the first error; else the other boolean. */
static ks_cel_value logic(ks_cel_ctx *c, const cel_node *n, int is_and)
{
	ks_cel_value err = {.kind = KS_CEL_NULL};
	for (unsigned i = 0; i < n->nargs; i++) {
		ks_cel_value v = ev(c, n->args[i]);
		if (v.kind == KS_CEL_BOOL) {
			if (v.v.b != is_and)
				return v;
			continue;
		}
		if (err.kind == KS_CEL_ERROR)
			continue;
		err = v.kind == KS_CEL_ERROR
			      ? v
			      : cel_no_overload(c, n, is_and ? "_&&_" : "_||_",
						&v, NULL);
	}
	if (err.kind == KS_CEL_ERROR)
		return err;
	return cel_bool(is_and);
}

static ks_cel_value select_field(ks_cel_ctx *c, const cel_node *n, int has)
{
	if (n->path) {
		/* x.a.b.c over JSON: walk it directly; anything unusual
		 * (not JSON, a missing step) takes the general way below
		 * for the right error at the right node. */
		const ks_cel_value *root = &c->slots[n->slot];
		if (root->kind == KS_CEL_MAP && root->json) {
			const json_t *j = root->v.json;
			unsigned i;
			for (i = 0; i + 1 < n->npath && j; i++)
				j = json_object_getn(j, n->path[i].v.s,
						     n->path[i].aux);
			if (j && json_is_object(j)) {
				const json_t *f = json_object_getn(
					j, n->lit.v.s, n->lit.aux);
				if (has)
					return cel_bool(f != NULL);
				if (f)
					return cel_json_value(f);
			}
		}
	}
	ks_cel_value o = ev(c, n->args[0]);
	if (o.kind == KS_CEL_ERROR)
		return o;
	if (o.kind != KS_CEL_MAP)
		return cel_error(c, n->col,
				 has ? "invalid type for has(): %s"
				     : "type '%s' does not support field "
				       "selection",
				 ks_cel_kind_name((ks_cel_kind)o.kind));
	int found;
	ks_cel_value v = cel_map_find(c, &o, &n->lit, &found);
	if (has)
		return cel_bool(found);
	if (!found)
		return cel_error(c, n->col, "no such key: %.*s",
				 (int)n->lit.aux, n->lit.v.s);
	return v;
}

/* A list index: int, uint, or a double with no fraction. */
static int list_index(const ks_cel_value *k, size_t n, size_t *out)
{
	int64_t i;
	if (k->kind == KS_CEL_INT) {
		i = k->v.i;
	} else if (k->kind == KS_CEL_UINT) {
		if (k->v.u > (uint64_t)INT64_MAX)
			return -1;
		i = (int64_t)k->v.u;
	} else if (k->kind == KS_CEL_DOUBLE) {
		if (!(k->v.d >= -9.2e18 && k->v.d <= 9.2e18) ||
		    trunc(k->v.d) != k->v.d)
			return -2;
		i = (int64_t)k->v.d;
	} else {
		return -2;
	}
	if (i < 0 || (uint64_t)i >= n)
		return -1;
	*out = (size_t)i;
	return 0;
}

static ks_cel_value index_op(ks_cel_ctx *c, const cel_node *n)
{
	ks_cel_value o = ev(c, n->args[0]);
	if (o.kind == KS_CEL_ERROR)
		return o;
	ks_cel_value k = ev(c, n->args[1]);
	if (k.kind == KS_CEL_ERROR)
		return k;
	if (o.kind == KS_CEL_LIST) {
		size_t i;
		int r = list_index(&k, cel_list_size(&o), &i);
		if (r == -2)
			return cel_no_overload(c, n, "_[_]", &o, &k);
		if (r < 0) {
			ks_buf b;
			ks_buf_init(&b, 0);
			ks_cel_value_format(&b, &k);
			ks_cel_value e = cel_error(
				c, n->col, "index out of range: %s", b.data);
			ks_buf_release(&b);
			return e;
		}
		return cel_list_get(&o, i);
	}
	if (o.kind == KS_CEL_MAP) {
		int found;
		ks_cel_value v = cel_map_find(c, &o, &k, &found);
		if (v.kind == KS_CEL_ERROR)
			return cel_error(c, n->col, "%s",
					 ks_cel_error_message(&v));
		if (!found) {
			ks_buf b;
			ks_buf_init(&b, 200);
			ks_cel_value_format(&b, &k);
			ks_cel_value e =
				cel_error(c, n->col, "no such key: %s", b.data);
			ks_buf_release(&b);
			return e;
		}
		return v;
	}
	return cel_no_overload(c, n, "_[_]", &o, &k);
}

static ks_cel_value make_list(ks_cel_ctx *c, const cel_node *n)
{
	struct ks_cel_list *l = cel_alloc(c, sizeof(*l));
	l->n = n->nargs;
	l->items =
		cel_alloc(c, (n->nargs ? n->nargs : 1) * sizeof(ks_cel_value));
	for (unsigned i = 0; i < n->nargs; i++) {
		ks_cel_value v = ev(c, n->args[i]);
		if (v.kind == KS_CEL_ERROR)
			return v;
		l->items[i] = v;
	}
	ks_cel_value v = {.kind = KS_CEL_LIST};
	v.v.list = l;
	return v;
}

static ks_cel_value make_map(ks_cel_ctx *c, const cel_node *n)
{
	struct ks_cel_map *m = cel_alloc(c, sizeof(*m));
	size_t np = n->nargs / 2;
	m->keys = cel_alloc(c, (np ? np : 1) * sizeof(ks_cel_value));
	m->vals = cel_alloc(c, (np ? np : 1) * sizeof(ks_cel_value));
	m->n = 0;
	ks_cel_value mv = {.kind = KS_CEL_MAP};
	mv.v.map = m;
	for (size_t i = 0; i < np; i++) {
		ks_cel_value k = ev(c, n->args[2 * i]);
		if (k.kind == KS_CEL_ERROR)
			return k;
		ks_cel_value v = ev(c, n->args[2 * i + 1]);
		if (v.kind == KS_CEL_ERROR)
			return v;
		if (k.kind == KS_CEL_DOUBLE || !key_ok(&k))
			return cel_error(c, n->args[2 * i]->col,
					 "unsupported key type: %s",
					 ks_cel_kind_name((ks_cel_kind)k.kind));
		int found;
		cel_map_find(c, &mv, &k, &found);
		if (found)
			return cel_error(c, n->args[2 * i]->col,
					 "repeated key in map literal");
		m->keys[m->n] = k;
		m->vals[m->n] = v;
		m->n++;
	}
	c->cost += np * np / 8;
	return mv;
}

/* Iteration over a list's elements or a map's keys. */
typedef struct range_it {
	const ks_cel_value *r;
	size_t i, n;
	void *jit;
} range_it;

static int range_next(range_it *it, ks_cel_value *out)
{
	if (it->i >= it->n)
		return 0;
	if (it->r->kind == KS_CEL_LIST) {
		*out = cel_list_get(it->r, it->i);
	} else if (it->r->json) {
		if (it->i == 0)
			it->jit = json_object_iter((json_t *)it->r->v.json);
		*out = cel_str(KS_CEL_STRING, json_object_iter_key(it->jit),
			       json_object_iter_key_len(it->jit));
		it->jit =
			json_object_iter_next((json_t *)it->r->v.json, it->jit);
	} else {
		*out = it->r->v.map->keys[it->i];
	}
	it->i++;
	return 1;
}

static ks_cel_value limit_error(ks_cel_ctx *c, const cel_node *n)
{
	return cel_error(c, n->col, "evaluation cost limit exceeded");
}

static ks_cel_value compre_bool(ks_cel_ctx *c, const cel_node *n, range_it *it)
{
	int m = n->sub;
	ks_cel_value err = {.kind = KS_CEL_NULL}, x;
	size_t count = 0;
	while (range_next(it, &x)) {
		if (c->cost > c->limit)
			return limit_error(c, n);
		c->slots[n->slot] = x;
		ks_cel_value v = ev(c, n->args[1]);
		if (v.kind == KS_CEL_BOOL) {
			if (m == M_ALL && !v.v.b)
				return v;
			if (m == M_EXISTS && v.v.b)
				return v;
			if (m == M_EXISTS_ONE && v.v.b)
				count++;
			continue;
		}
		if (v.kind != KS_CEL_ERROR)
			v = cel_no_overload(c, n,
					    n->sub == M_ALL	 ? "all"
					    : n->sub == M_EXISTS ? "exists"
								 : "exists_one",
					    &v, NULL);
		if (m == M_EXISTS_ONE)
			return v;
		if (err.kind != KS_CEL_ERROR)
			err = v;
	}
	if (err.kind == KS_CEL_ERROR)
		return err;
	if (m == M_EXISTS_ONE)
		return cel_bool(count == 1);
	return cel_bool(m == M_ALL);
}

static ks_cel_value compre_list(ks_cel_ctx *c, const cel_node *n, range_it *it)
{
	struct ks_cel_list *l = cel_alloc(c, sizeof(*l));
	l->n = 0;
	l->items = cel_alloc(c, (it->n ? it->n : 1) * sizeof(ks_cel_value));
	ks_cel_value x;
	while (range_next(it, &x)) {
		if (c->cost > c->limit)
			return limit_error(c, n);
		c->slots[n->slot] = x;
		if (n->sub != M_MAP) {
			ks_cel_value p = ev(c, n->args[1]);
			if (p.kind == KS_CEL_ERROR)
				return p;
			if (p.kind != KS_CEL_BOOL)
				return cel_no_overload(c, n, "filter", &p,
						       NULL);
			if (!p.v.b)
				continue;
		}
		ks_cel_value v = x;
		if (n->sub != M_FILTER) {
			v = ev(c, n->args[n->sub == M_MAP ? 1 : 2]);
			if (v.kind == KS_CEL_ERROR)
				return v;
		}
		l->items[l->n++] = v;
	}
	ks_cel_value r = {.kind = KS_CEL_LIST};
	r.v.list = l;
	return r;
}

static ks_cel_value compre(ks_cel_ctx *c, const cel_node *n)
{
	ks_cel_value r = ev(c, n->args[0]);
	if (r.kind == KS_CEL_ERROR)
		return r;
	range_it it = {.r = &r};
	if (r.kind == KS_CEL_LIST)
		it.n = cel_list_size(&r);
	else if (r.kind == KS_CEL_MAP)
		it.n = cel_map_size(&r);
	else
		return cel_error(c, n->col,
				 "expression of type '%s' cannot be the range "
				 "of a comprehension",
				 ks_cel_kind_name((ks_cel_kind)r.kind));
	c->cost += it.n;
	if (n->sub == M_ALL || n->sub == M_EXISTS || n->sub == M_EXISTS_ONE)
		return compre_bool(c, n, &it);
	return compre_list(c, n, &it);
}

static ks_cel_value call(ks_cel_ctx *c, const cel_node *n)
{
	ks_cel_value args[4];
	for (unsigned i = 0; i < n->nargs; i++) {
		args[i] = ev(c, n->args[i]);
		if (args[i].kind == KS_CEL_ERROR)
			return args[i];
	}
	return cel_call(c, n, args);
}

static ks_cel_value ev(ks_cel_ctx *c, const cel_node *n)
{
	if (++c->cost > c->limit)
		return limit_error(c, n);
	switch (n->op) {
	case N_LIT:
		return n->lit;
	case N_VAR: {
		ks_cel_value v = c->slots[n->slot];
		if (v.kind == KS_CEL_ERROR && !v.v.err)
			return cel_error(c, n->col, "no such attribute '%s'",
					 n->name);
		return v;
	}
	case N_SELECT:
		return select_field(c, n, 0);
	case N_HAS:
		return select_field(c, n, 1);
	case N_INDEX:
		return index_op(c, n);
	case N_CALL:
		return call(c, n);
	case N_LIST:
		return make_list(c, n);
	case N_MAP:
		return make_map(c, n);
	case N_AND:
		return logic(c, n, 1);
	case N_OR:
		return logic(c, n, 0);
	case N_NOT: {
		ks_cel_value v = ev(c, n->args[0]);
		if (v.kind == KS_CEL_BOOL)
			return cel_bool(!v.v.b);
		if (v.kind == KS_CEL_ERROR)
			return v;
		return cel_no_overload(c, n, "!_", &v, NULL);
	}
	case N_NEG: {
		ks_cel_value v = ev(c, n->args[0]);
		if (v.kind == KS_CEL_INT) {
			if (v.v.i == INT64_MIN)
				return cel_error(c, n->col, "integer overflow");
			return cel_int(-v.v.i);
		}
		if (v.kind == KS_CEL_DOUBLE)
			return cel_double(-v.v.d);
		if (v.kind == KS_CEL_ERROR)
			return v;
		return cel_no_overload(c, n, "-_", &v, NULL);
	}
	case N_COND: {
		ks_cel_value v = ev(c, n->args[0]);
		if (v.kind == KS_CEL_BOOL)
			return ev(c, n->args[v.v.b ? 1 : 2]);
		if (v.kind == KS_CEL_ERROR)
			return v;
		return cel_no_overload(c, n, "_?_:_", &v, NULL);
	}
	case N_BINOP:
		return binop(c, n);
	case N_COMPRE:
		return compre(c, n);
	}
	return cel_error(c, n->col, "internal error: bad node");
}

ks_cel_value ks_cel_eval(ks_cel_ctx *c, const ks_cel_program *p,
			 json_t *const *vars, size_t nvars)
{
	ctx_reset(c);
	if (c->nslots < p->nslots) {
		free(c->slots);
		c->slots = ks_xcalloc((size_t)p->nslots, sizeof(*c->slots));
		c->nslots = p->nslots;
	}
	if (nvars != p->nvars)
		return cel_error(c, 0, "wrong number of variables");
	for (size_t i = 0; i < nvars; i++) {
		if (vars[i]) {
			c->slots[i] = cel_json_value(vars[i]);
		} else {
			c->slots[i].kind = KS_CEL_ERROR;
			c->slots[i].v.err = NULL;
		}
	}
	ks_cel_value v = ev(c, p->root);
	if (c->cost > c->limit && v.kind != KS_CEL_ERROR)
		return limit_error(c, p->root);
	return v;
}
