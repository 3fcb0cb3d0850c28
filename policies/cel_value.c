/*
 * CEL values out: type names, JSON text, CEL source text, jansson values.
 */
#include "policies/cel_internal.h"
#include "core/base64.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/banned.h"

const char *ks_cel_kind_name(ks_cel_kind k)
{
	static const char *const names[] = {
		[KS_CEL_NULL] = "null_type",
		[KS_CEL_BOOL] = "bool",
		[KS_CEL_INT] = "int",
		[KS_CEL_UINT] = "uint",
		[KS_CEL_DOUBLE] = "double",
		[KS_CEL_STRING] = "string",
		[KS_CEL_BYTES] = "bytes",
		[KS_CEL_LIST] = "list",
		[KS_CEL_MAP] = "map",
		[KS_CEL_TYPE] = "type",
		[KS_CEL_DURATION] = "google.protobuf.Duration",
		[KS_CEL_TIMESTAMP] = "google.protobuf.Timestamp",
		[KS_CEL_ERROR] = "error",
	};
	if ((unsigned)k > KS_CEL_ERROR)
		return "unknown";
	return names[k];
}

static void put_json_string(ks_buf *b, const char *s, size_t n)
{
	ks_buf_puts(b, "\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		switch (ch) {
		case '"':
			ks_buf_puts(b, "\\\"");
			break;
		case '\\':
			ks_buf_puts(b, "\\\\");
			break;
		case '\n':
			ks_buf_puts(b, "\\n");
			break;
		case '\r':
			ks_buf_puts(b, "\\r");
			break;
		case '\t':
			ks_buf_puts(b, "\\t");
			break;
		default:
			if (ch < 0x20)
				ks_buf_printf(b, "\\u%04x", ch);
			else
				ks_buf_append(b, &s[i], 1);
		}
	}
	ks_buf_puts(b, "\"");
}

/* A double that reads back as a double: always a '.' or an exponent. */
static void double_text(ks_buf *b, double d)
{
	size_t start = b->len;
	cel_format_double(b, d);
	const char *s = b->data + start;
	if (!strpbrk(s, ".eEIN"))
		ks_buf_puts(b, ".0");
}

static int to_json(ks_buf *b, const ks_cel_value *v);

static void json_key(ks_buf *b, const ks_cel_value *k)
{
	if (k->kind == KS_CEL_STRING) {
		put_json_string(b, k->v.s, k->aux);
		return;
	}
	ks_buf t;
	ks_buf_init(&t, 0);
	ks_cel_value_format(&t, k);
	put_json_string(b, t.data, t.len);
	ks_buf_release(&t);
}

static int to_json(ks_buf *b, const ks_cel_value *v)
{
	switch (v->kind) {
	case KS_CEL_NULL:
		ks_buf_puts(b, "null");
		return 0;
	case KS_CEL_BOOL:
		ks_buf_puts(b, v->v.b ? "true" : "false");
		return 0;
	case KS_CEL_INT:
		ks_buf_printf(b, "%lld", (long long)v->v.i);
		return 0;
	case KS_CEL_UINT:
		ks_buf_printf(b, "%llu", (unsigned long long)v->v.u);
		return 0;
	case KS_CEL_DOUBLE:
		if (isnan(v->v.d) || isinf(v->v.d)) {
			ks_buf_puts(b, "\"");
			cel_format_double(b, v->v.d);
			ks_buf_puts(b, "\"");
		} else {
			double_text(b, v->v.d);
		}
		return 0;
	case KS_CEL_STRING:
		put_json_string(b, v->v.s, v->aux);
		return 0;
	case KS_CEL_BYTES: {
		char *enc = ks_base64_encode(v->v.s, v->aux);
		ks_buf_printf(b, "\"%s\"", enc);
		free(enc);
		return 0;
	}
	case KS_CEL_TYPE:
		put_json_string(b, ks_cel_kind_name((ks_cel_kind)v->aux),
				strlen(ks_cel_kind_name((ks_cel_kind)v->aux)));
		return 0;
	case KS_CEL_DURATION:
		ks_buf_puts(b, "\"");
		cel_format_duration_go(b, v->v.i);
		ks_buf_puts(b, "\"");
		return 0;
	case KS_CEL_TIMESTAMP:
		ks_buf_puts(b, "\"");
		cel_format_timestamp(b, v->v.i, v->aux);
		ks_buf_puts(b, "\"");
		return 0;
	case KS_CEL_LIST: {
		size_t n = cel_list_size(v);
		ks_buf_puts(b, "[");
		for (size_t i = 0; i < n; i++) {
			ks_cel_value x = cel_list_get(v, i);
			if (i)
				ks_buf_puts(b, ",");
			to_json(b, &x);
		}
		ks_buf_puts(b, "]");
		return 0;
	}
	case KS_CEL_MAP: {
		ks_buf_puts(b, "{");
		if (v->json) {
			const char *k;
			size_t kl;
			json_t *x;
			int first = 1;
			json_object_keylen_foreach((json_t *)v->v.json, k, kl,
						   x)
			{
				if (!first)
					ks_buf_puts(b, ",");
				first = 0;
				put_json_string(b, k, kl);
				ks_buf_puts(b, ":");
				ks_cel_value xv = cel_json_value(x);
				to_json(b, &xv);
			}
		} else {
			for (size_t i = 0; i < v->v.map->n; i++) {
				if (i)
					ks_buf_puts(b, ",");
				json_key(b, &v->v.map->keys[i]);
				ks_buf_puts(b, ":");
				to_json(b, &v->v.map->vals[i]);
			}
		}
		ks_buf_puts(b, "}");
		return 0;
	}
	default:
		return KS_EINVAL;
	}
}

int ks_cel_value_to_json(ks_buf *out, const ks_cel_value *v)
{
	if (v->kind == KS_CEL_ERROR)
		return KS_EINVAL;
	return to_json(out, v);
}

static void cel_string_text(ks_buf *b, const char *s, size_t n, int bytes)
{
	ks_buf_puts(b, bytes ? "b\"" : "\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			ks_buf_printf(b, "\\%c", ch);
		else if (ch == '\n')
			ks_buf_puts(b, "\\n");
		else if (ch < 0x20 || ch == 0x7f || (bytes && ch >= 0x80))
			ks_buf_printf(b, "\\x%02x", ch);
		else
			ks_buf_append(b, &s[i], 1);
	}
	ks_buf_puts(b, "\"");
}

void ks_cel_value_format(ks_buf *b, const ks_cel_value *v)
{
	switch (v->kind) {
	case KS_CEL_UINT:
		ks_buf_printf(b, "%lluu", (unsigned long long)v->v.u);
		return;
	case KS_CEL_DOUBLE:
		if (isnan(v->v.d))
			ks_buf_puts(b, "double(\"NaN\")");
		else if (isinf(v->v.d))
			ks_buf_puts(b, v->v.d < 0 ? "double(\"-Infinity\")"
						  : "double(\"Infinity\")");
		else
			double_text(b, v->v.d);
		return;
	case KS_CEL_STRING:
	case KS_CEL_BYTES:
		cel_string_text(b, v->v.s, v->aux, v->kind == KS_CEL_BYTES);
		return;
	case KS_CEL_TYPE:
		ks_buf_puts(b, ks_cel_kind_name((ks_cel_kind)v->aux));
		return;
	case KS_CEL_DURATION:
		ks_buf_puts(b, "duration(\"");
		cel_format_duration_proto(b, v->v.i);
		ks_buf_puts(b, "\")");
		return;
	case KS_CEL_TIMESTAMP:
		ks_buf_puts(b, "timestamp(\"");
		cel_format_timestamp(b, v->v.i, v->aux);
		ks_buf_puts(b, "\")");
		return;
	case KS_CEL_ERROR:
		ks_buf_puts(b, "error(");
		cel_string_text(b, ks_cel_error_message(v),
				strlen(ks_cel_error_message(v)), 0);
		ks_buf_puts(b, ")");
		return;
	case KS_CEL_LIST: {
		size_t n = cel_list_size(v);
		ks_buf_puts(b, "[");
		for (size_t i = 0; i < n; i++) {
			ks_cel_value x = cel_list_get(v, i);
			if (i)
				ks_buf_puts(b, ", ");
			ks_cel_value_format(b, &x);
		}
		ks_buf_puts(b, "]");
		return;
	}
	case KS_CEL_MAP:
		if (!v->json) {
			ks_buf_puts(b, "{");
			for (size_t i = 0; i < v->v.map->n; i++) {
				if (i)
					ks_buf_puts(b, ", ");
				ks_cel_value_format(b, &v->v.map->keys[i]);
				ks_buf_puts(b, ": ");
				ks_cel_value_format(b, &v->v.map->vals[i]);
			}
			ks_buf_puts(b, "}");
			return;
		}
		{
			const char *k;
			size_t kl;
			json_t *x;
			int first = 1;
			ks_buf_puts(b, "{");
			json_object_keylen_foreach((json_t *)v->v.json, k, kl,
						   x)
			{
				if (!first)
					ks_buf_puts(b, ", ");
				first = 0;
				cel_string_text(b, k, kl, 0);
				ks_buf_puts(b, ": ");
				ks_cel_value xv = cel_json_value(x);
				ks_cel_value_format(b, &xv);
			}
			ks_buf_puts(b, "}");
		}
		return;
	default:
		to_json(b, v);
	}
}

json_t *ks_cel_value_to_jansson(const ks_cel_value *v)
{
	if (v->kind == KS_CEL_ERROR)
		return NULL;
	if (v->json) /* input values are never modified: share them */
		return json_incref((json_t *)v->v.json);
	switch (v->kind) {
	case KS_CEL_NULL:
		return json_null();
	case KS_CEL_BOOL:
		return json_boolean(v->v.b);
	case KS_CEL_INT:
		return json_integer(v->v.i);
	case KS_CEL_UINT:
		if (v->v.u <= (uint64_t)INT64_MAX)
			return json_integer((json_int_t)v->v.u);
		return json_real((double)v->v.u);
	case KS_CEL_DOUBLE:
		if (isnan(v->v.d) || isinf(v->v.d))
			break;
		return json_real(v->v.d);
	case KS_CEL_STRING:
		return json_stringn(v->v.s, v->aux);
	case KS_CEL_LIST: {
		json_t *a = json_array();
		for (size_t i = 0; i < v->v.list->n; i++) {
			json_t *x =
				ks_cel_value_to_jansson(&v->v.list->items[i]);
			json_array_append_new(a, x ? x : json_null());
		}
		return a;
	}
	case KS_CEL_MAP: {
		json_t *o = json_object();
		for (size_t i = 0; i < v->v.map->n; i++) {
			ks_buf k;
			ks_buf_init(&k, 0);
			const ks_cel_value *key = &v->v.map->keys[i];
			if (key->kind == KS_CEL_STRING)
				ks_buf_append(&k, key->v.s, key->aux);
			else
				ks_cel_value_format(&k, key);
			json_t *x = ks_cel_value_to_jansson(&v->v.map->vals[i]);
			json_object_setn_new(o, k.data ? k.data : "", k.len,
					     x ? x : json_null());
			ks_buf_release(&k);
		}
		return o;
	}
	default:
		break;
	}
	/* bytes, durations, timestamps, types, NaN: their JSON text. */
	ks_buf b;
	ks_buf_init(&b, 0);
	to_json(&b, v);
	json_t *r = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
	ks_buf_release(&b);
	return r;
}
