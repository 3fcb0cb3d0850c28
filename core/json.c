#include "core/json.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "core/error.h"
#include "core/banned.h"

/*
 * A JSON writer of our own rather than json_dumpb: jansson prints reals with
 * %.17g (0.1 comes out as 0.10000000000000001) and cannot sort keys
 * byte-wise with lengths, and canonical JSON wants ECMAScript number text.
 */

struct writer {
	ks_buf *out;
	bool canonical; /* sorted keys, no whitespace, ES number text */
	int rc;
};

static void put(struct writer *w, const char *s, size_t n)
{
	if (!w->rc)
		w->rc = ks_buf_append(w->out, s, n);
}

static void puts_(struct writer *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_string(struct writer *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	put(w, "\"", 1);
	size_t run = 0; /* bytes copied as they are */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7] = "\\";
		size_t elen = 2;
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			if (c >= 0x20) {
				run++;
				continue;
			}
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		put(w, s + i - run, run);
		run = 0;
		put(w, esc, elen);
	}
	put(w, s + n - run, run);
	put(w, "\"", 1);
}

/* The shortest %.*e text that reads back as D: digits in DIG (no point),
 * returns the decimal exponent. */
static int shortest_digits(double d, char dig[32])
{
	char tmp[40];
	for (int prec = 0; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	/* tmp is d[.ddd]e[+-]xx */
	size_t k = 0;
	const char *p = tmp;
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			dig[k++] = *p;
	while (k > 1 && dig[k - 1] == '0')
		k--;
	dig[k] = '\0';
	return (int)strtol(p + 1, NULL, 10);
}

/*
 * Formats a finite double as ECMAScript's Number.prototype.toString does
 * (RFC 8785 section 3.2.2.3), from its shortest round-trip digits.
 */
static void format_es(double d, char *buf, size_t size)
{
	char dig[32], t[64];
	size_t o = 0;
	if (d == 0) {
		snprintf(buf, size, "0");
		return;
	}
	if (d < 0)
		t[o++] = '-';
	int e = shortest_digits(fabs(d), dig);
	int k = (int)strlen(dig);
	int n = e + 1;
	if (k <= n && n <= 21) {
		memcpy(t + o, dig, (size_t)k);
		o += (size_t)k;
		for (int i = k; i < n; i++)
			t[o++] = '0';
	} else if (0 < n && n <= 21) {
		memcpy(t + o, dig, (size_t)n);
		o += (size_t)n;
		t[o++] = '.';
		memcpy(t + o, dig + n, (size_t)(k - n));
		o += (size_t)(k - n);
	} else if (-6 < n && n <= 0) {
		t[o++] = '0';
		t[o++] = '.';
		for (int i = n; i < 0; i++)
			t[o++] = '0';
		memcpy(t + o, dig, (size_t)k);
		o += (size_t)k;
	} else {
		t[o++] = dig[0];
		if (k > 1) {
			t[o++] = '.';
			memcpy(t + o, dig + 1, (size_t)(k - 1));
			o += (size_t)(k - 1);
		}
		o += (size_t)snprintf(t + o, sizeof(t) - o, "e%c%d",
				      n - 1 < 0 ? '-' : '+', abs(n - 1));
	}
	t[o] = '\0';
	snprintf(buf, size, "%s", t);
}

void ks_json_format_real(double d, char *buf, size_t size)
{
	format_es(d, buf, size);
	/* Keep it a real when read back. */
	if (!strpbrk(buf, ".e")) {
		size_t l = strlen(buf);
		if (l + 2 < size)
			memcpy(buf + l, ".0", 3);
	}
}

static int cmp_keys(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	return strcmp(*x, *y);
}

static void write_value(struct writer *w, const json_t *v, int depth);

static void newline(struct writer *w, int depth)
{
	if (w->canonical)
		return;
	static const char spaces[] = "\n                                "
				     "                                ";
	size_t want = 1 + 2 * (size_t)depth;
	if (want < sizeof(spaces)) {
		put(w, spaces, want);
		return;
	}
	put(w, "\n", 1);
	for (int i = 0; i < depth; i++)
		put(w, "  ", 2);
}

static void write_member(struct writer *w, const char *key, size_t klen,
			 const json_t *value, bool first, int depth)
{
	if (!first)
		put(w, ",", 1);
	newline(w, depth + 1);
	put_string(w, key, klen);
	puts_(w, w->canonical ? ":" : ": ");
	write_value(w, value, depth + 1);
}

static void write_object(struct writer *w, const json_t *v, int depth)
{
	size_t n = json_object_size(v);
	if (!n) {
		puts_(w, "{}");
		return;
	}
	put(w, "{", 1);
	if (w->canonical) {
		const char **keys = malloc(n * sizeof(*keys));
		if (!keys)
			abort();
		size_t i = 0;
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x) keys[i++] = k;
		qsort(keys, n, sizeof(*keys), cmp_keys);
		for (i = 0; i < n; i++)
			write_member(w, keys[i], strlen(keys[i]),
				     json_object_get(v, keys[i]), i == 0,
				     depth);
		free(keys);
	} else {
		const char *k;
		json_t *x;
		bool first = true;
		size_t klen;
		json_object_keylen_foreach((json_t *)v, k, klen, x)
		{
			write_member(w, k, klen, x, first, depth);
			first = false;
		}
	}
	newline(w, depth);
	put(w, "}", 1);
}

static void write_array(struct writer *w, const json_t *v, int depth)
{
	size_t n = json_array_size(v);
	if (!n) {
		puts_(w, "[]");
		return;
	}
	put(w, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			put(w, ",", 1);
		newline(w, depth + 1);
		write_value(w, json_array_get(v, i), depth + 1);
	}
	newline(w, depth);
	put(w, "]", 1);
}

static void write_value(struct writer *w, const json_t *v, int depth)
{
	char num[64];
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		write_object(w, v, depth);
		break;
	case JSON_ARRAY:
		write_array(w, v, depth);
		break;
	case JSON_STRING:
		put_string(w, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		puts_(w, num);
		break;
	case JSON_REAL:
		if (w->canonical)
			format_es(json_real_value(v), num, sizeof(num));
		else
			ks_json_format_real(json_real_value(v), num,
					    sizeof(num));
		puts_(w, num);
		break;
	case JSON_TRUE:
		puts_(w, "true");
		break;
	case JSON_FALSE:
		puts_(w, "false");
		break;
	case JSON_NULL:
		puts_(w, "null");
		break;
	}
}

int ks_json_pretty(ks_buf *out, const json_t *v)
{
	struct writer w = {out, false, 0};
	if (v)
		write_value(&w, v, 0);
	else
		puts_(&w, "null");
	put(&w, "\n", 1);
	return w.rc;
}

char *ks_json_canonical(const json_t *v, size_t *len)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	struct writer w = {&b, true, 0};
	if (v)
		write_value(&w, v, 0);
	else
		puts_(&w, "null");
	return ks_buf_detach(&b, len);
}

void ks_sha256_hex(const void *p, size_t n, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256(p, n, md);
	for (size_t i = 0; i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}
