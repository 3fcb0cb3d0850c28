/*
 * CEL's standard functions: size, the string tests, matches (PCRE2 with
 * match limits), the conversions, durations and timestamps with their
 * getters, and a few string helpers Kubernetes' CEL also has (lowerAscii,
 * upperAscii, trim, split, join, indexOf, replace).
 */
#include "policies/cel_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/values.h"
#include "core/banned.h"

#define NS_PER_SEC 1000000000LL

static ks_cel_value overload(ks_cel_ctx *c, const cel_node *n,
			     const ks_cel_value *args)
{
	return cel_no_overload(c, n, n->name, &args[0],
			       n->nargs > 1 ? &args[1] : NULL);
}

/* ---- strings ---- */

static const char *find_sub(const char *h, size_t hn, const char *nd, size_t nn)
{
	if (nn == 0)
		return h;
	if (nn > hn)
		return NULL;
	for (size_t i = 0; i + nn <= hn; i++)
		if (h[i] == nd[0] && !memcmp(h + i, nd, nn))
			return h + i;
	return NULL;
}

static int both_strings(const ks_cel_value *a)
{
	return a[0].kind == KS_CEL_STRING && a[1].kind == KS_CEL_STRING;
}

static ks_cel_value string_test(ks_cel_ctx *c, const cel_node *n,
				const ks_cel_value *a)
{
	if (!both_strings(a))
		return overload(c, n, a);
	const char *s = a[0].v.s, *t = a[1].v.s;
	size_t sn = a[0].aux, tn = a[1].aux;
	c->cost += sn / 64;
	switch (n->fn) {
	case F_CONTAINS:
		return cel_bool(find_sub(s, sn, t, tn) != NULL);
	case F_STARTS_WITH:
		return cel_bool(tn <= sn && (!tn || !memcmp(s, t, tn)));
	default:
		return cel_bool(tn <= sn &&
				(!tn || !memcmp(s + sn - tn, t, tn)));
	}
}

pcre2_code *cel_regex_compile(const char *pat, size_t len, char *msg,
			      size_t msglen)
{
	int ec;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len,
				       PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C, &ec,
				       &off, NULL);
	if (!re) {
		PCRE2_UCHAR8 buf[200];
		pcre2_get_error_message(ec, buf, sizeof(buf));
		snprintf(msg, msglen, "invalid regular expression: %s", buf);
	}
	return re;
}

static pcre2_code *cached_regex(ks_cel_ctx *c, const char *pat, size_t len,
				char *msg, size_t msglen)
{
	for (int i = 0; i < CEL_RE_CACHE; i++)
		if (c->cache[i].re && c->cache[i].len == len &&
		    !memcmp(c->cache[i].pat, pat, len))
			return c->cache[i].re;
	pcre2_code *re = cel_regex_compile(pat, len, msg, msglen);
	if (!re)
		return NULL;
	unsigned k = c->cache_next++ % CEL_RE_CACHE;
	free(c->cache[k].pat);
	pcre2_code_free(c->cache[k].re);
	c->cache[k].pat = ks_xstrndup(pat, len);
	c->cache[k].len = len;
	c->cache[k].re = re;
	return re;
}

static ks_cel_value matches(ks_cel_ctx *c, const cel_node *n,
			    const ks_cel_value *a)
{
	if (!both_strings(a))
		return overload(c, n, a);
	pcre2_code *re = n->re;
	if (!re) {
		char msg[300];
		re = cached_regex(c, a[1].v.s, a[1].aux, msg, sizeof(msg));
		if (!re)
			return cel_error(c, n->col, "%s", msg);
	}
	int rc = pcre2_match(re, (PCRE2_SPTR)a[0].v.s, a[0].aux, 0, 0, c->md,
			     c->mctx);
	if (rc >= 0)
		return cel_bool(1);
	if (rc == PCRE2_ERROR_NOMATCH)
		return cel_bool(0);
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	    rc == PCRE2_ERROR_HEAPLIMIT)
		return cel_error(c, n->col,
				 "regular expression match limit exceeded");
	return cel_error(c, n->col, "regular expression match failed (%d)", rc);
}

static ks_cel_value size_of(ks_cel_ctx *c, const cel_node *n,
			    const ks_cel_value *a)
{
	switch (a->kind) {
	case KS_CEL_STRING:
		return cel_int((int64_t)cel_utf8_count(a->v.s, a->aux));
	case KS_CEL_BYTES:
		return cel_int((int64_t)a->aux);
	case KS_CEL_LIST:
		return cel_int((int64_t)cel_list_size(a));
	case KS_CEL_MAP:
		return cel_int((int64_t)cel_map_size(a));
	default:
		return overload(c, n, a);
	}
}

static char *dup_str(ks_cel_ctx *c, const char *s, size_t n)
{
	char *d = cel_alloc(c, n + 1);
	if (n)
		memcpy(d, s, n);
	d[n] = 0;
	return d;
}

static ks_cel_value from_buf(ks_cel_ctx *c, int kind, ks_buf *b)
{
	ks_cel_value v = cel_str(
		kind, dup_str(c, b->data ? b->data : "", b->len), b->len);
	ks_buf_release(b);
	return v;
}

static ks_cel_value ascii_case(ks_cel_ctx *c, const ks_cel_value *a, int upper)
{
	char *d = dup_str(c, a->v.s, a->aux);
	for (size_t i = 0; i < a->aux; i++) {
		if (upper && d[i] >= 'a' && d[i] <= 'z')
			d[i] = (char)(d[i] - 32);
		else if (!upper && d[i] >= 'A' && d[i] <= 'Z')
			d[i] = (char)(d[i] + 32);
	}
	return cel_str(KS_CEL_STRING, d, a->aux);
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
	       ch == '\v' || ch == '\f';
}

static ks_cel_value trim(const ks_cel_value *a)
{
	const char *s = a->v.s;
	size_t n = a->aux;
	while (n && is_space(*s)) {
		s++;
		n--;
	}
	while (n && is_space(s[n - 1]))
		n--;
	return cel_str(KS_CEL_STRING, s, n);
}

static ks_cel_value new_list(ks_cel_ctx *c, size_t n, struct ks_cel_list **out)
{
	struct ks_cel_list *l = cel_alloc(c, sizeof(*l));
	l->n = 0;
	l->items = cel_alloc(c, (n ? n : 1) * sizeof(ks_cel_value));
	*out = l;
	ks_cel_value v = {.kind = KS_CEL_LIST};
	v.v.list = l;
	return v;
}

static ks_cel_value split(ks_cel_ctx *c, const ks_cel_value *a)
{
	const char *s = a[0].v.s, *sep = a[1].v.s;
	size_t n = a[0].aux, sn = a[1].aux;
	struct ks_cel_list *l;
	ks_cel_value v = new_list(c, n + 1, &l);
	if (sn == 0) {
		/* One element per code point, as Go's strings.Split. */
		size_t i = 0;
		while (i < n) {
			size_t j = i + 1;
			while (j < n && ((unsigned char)s[j] & 0xC0) == 0x80)
				j++;
			l->items[l->n++] = cel_str(KS_CEL_STRING, s + i, j - i);
			i = j;
		}
		return v;
	}
	const char *p = s, *end = s + n, *f;
	while ((f = find_sub(p, (size_t)(end - p), sep, sn))) {
		l->items[l->n++] = cel_str(KS_CEL_STRING, p, (size_t)(f - p));
		p = f + sn;
	}
	l->items[l->n++] = cel_str(KS_CEL_STRING, p, (size_t)(end - p));
	return v;
}

static ks_cel_value join(ks_cel_ctx *c, const cel_node *n,
			 const ks_cel_value *a)
{
	if (a[0].kind != KS_CEL_LIST ||
	    (n->nargs > 1 && a[1].kind != KS_CEL_STRING))
		return overload(c, n, a);
	ks_buf b;
	ks_buf_init(&b, 16u << 20);
	size_t len = cel_list_size(&a[0]);
	for (size_t i = 0; i < len; i++) {
		ks_cel_value x = cel_list_get(&a[0], i);
		if (x.kind != KS_CEL_STRING) {
			ks_buf_release(&b);
			return cel_no_overload(c, n, "join", &x, NULL);
		}
		if ((i && n->nargs > 1 &&
		     ks_buf_append(&b, a[1].v.s, a[1].aux)) ||
		    ks_buf_append(&b, x.v.s, x.aux)) {
			ks_buf_release(&b);
			return cel_error(c, n->col, "string too long");
		}
	}
	c->cost += b.len / 64;
	return from_buf(c, KS_CEL_STRING, &b);
}

static ks_cel_value replace(ks_cel_ctx *c, const cel_node *n,
			    const ks_cel_value *a)
{
	if (a[2].kind != KS_CEL_STRING || !both_strings(a))
		return overload(c, n, a);
	ks_buf b;
	ks_buf_init(&b, 16u << 20);
	const char *p = a[0].v.s, *end = p + a[0].aux, *f;
	int bad = 0;
	if (a[1].aux == 0) {
		ks_buf_release(&b);
		return a[0];
	}
	while ((f = find_sub(p, (size_t)(end - p), a[1].v.s, a[1].aux))) {
		bad |= ks_buf_append(&b, p, (size_t)(f - p));
		bad |= ks_buf_append(&b, a[2].v.s, a[2].aux);
		p = f + a[1].aux;
	}
	bad |= ks_buf_append(&b, p, (size_t)(end - p));
	if (bad) {
		ks_buf_release(&b);
		return cel_error(c, n->col, "string too long");
	}
	c->cost += b.len / 64;
	return from_buf(c, KS_CEL_STRING, &b);
}

static ks_cel_value string_ext(ks_cel_ctx *c, const cel_node *n,
			       const ks_cel_value *a)
{
	if (n->fn == F_JOIN)
		return join(c, n, a);
	if (n->fn == F_REPLACE)
		return replace(c, n, a);
	if (a[0].kind != KS_CEL_STRING ||
	    (n->nargs > 1 && a[1].kind != KS_CEL_STRING))
		return overload(c, n, a);
	c->cost += a[0].aux / 64;
	switch (n->fn) {
	case F_LOWER_ASCII:
		return ascii_case(c, a, 0);
	case F_UPPER_ASCII:
		return ascii_case(c, a, 1);
	case F_TRIM:
		return trim(a);
	case F_SPLIT:
		return split(c, a);
	default: { /* F_INDEX_OF: in code points */
		const char *f =
			find_sub(a[0].v.s, a[0].aux, a[1].v.s, a[1].aux);
		if (!f)
			return cel_int(-1);
		return cel_int((int64_t)cel_utf8_count(a[0].v.s,
						       (size_t)(f - a[0].v.s)));
	}
	}
}

/* ---- number text ---- */

void cel_format_double(ks_buf *b, double d)
{
	char s[40];
	if (isnan(d)) {
		ks_buf_puts(b, "NaN");
		return;
	}
	if (isinf(d)) {
		ks_buf_puts(b, d < 0 ? "-Infinity" : "Infinity");
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	ks_buf_puts(b, s);
}

/* Parses a whole string as a decimal integer (optional sign). */
static int parse_int_text(const ks_cel_value *a, int64_t *out)
{
	char buf[32];
	if (a->aux == 0 || a->aux >= sizeof(buf))
		return -1;
	memcpy(buf, a->v.s, a->aux);
	buf[a->aux] = 0;
	char *end;
	errno = 0;
	if (!((buf[0] >= '0' && buf[0] <= '9') || buf[0] == '-' ||
	      buf[0] == '+'))
		return -1;
	long long v = strtoll(buf, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static int parse_uint_text(const ks_cel_value *a, uint64_t *out)
{
	char buf[32];
	if (a->aux == 0 || a->aux >= sizeof(buf))
		return -1;
	memcpy(buf, a->v.s, a->aux);
	buf[a->aux] = 0;
	if (!(buf[0] >= '0' && buf[0] <= '9') && buf[0] != '+')
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static ks_cel_value to_int(ks_cel_ctx *c, const cel_node *n,
			   const ks_cel_value *a)
{
	int64_t i;
	switch (a->kind) {
	case KS_CEL_INT:
		return *a;
	case KS_CEL_UINT:
		if (a->v.u > (uint64_t)INT64_MAX)
			return cel_error(c, n->col, "int range error");
		return cel_int((int64_t)a->v.u);
	case KS_CEL_DOUBLE:
		/* The range is open at both ends, as in cel-go: -2^63 as a
		 * double is refused too. */
		if (!(a->v.d > -9223372036854775808.0 &&
		      a->v.d < 9223372036854775808.0))
			return cel_error(c, n->col, "int range error");
		return cel_int((int64_t)a->v.d);
	case KS_CEL_STRING:
		if (parse_int_text(a, &i))
			return cel_error(c, n->col,
					 "cannot convert string to int");
		return cel_int(i);
	case KS_CEL_TIMESTAMP:
		return cel_int(a->v.i);
	default:
		return overload(c, n, a);
	}
}

static ks_cel_value to_uint(ks_cel_ctx *c, const cel_node *n,
			    const ks_cel_value *a)
{
	uint64_t u;
	switch (a->kind) {
	case KS_CEL_UINT:
		return *a;
	case KS_CEL_INT:
		if (a->v.i < 0)
			return cel_error(c, n->col, "uint range error");
		return cel_uint((uint64_t)a->v.i);
	case KS_CEL_DOUBLE:
		/* Negative values are refused, as cel-go does, even
		 * those that would truncate to 0. */
		if (!(a->v.d >= 0.0 && a->v.d < 18446744073709551616.0))
			return cel_error(c, n->col, "uint range error");
		return cel_uint((uint64_t)a->v.d);
	case KS_CEL_STRING:
		if (parse_uint_text(a, &u))
			return cel_error(c, n->col,
					 "cannot convert string to uint");
		return cel_uint(u);
	default:
		return overload(c, n, a);
	}
}

static ks_cel_value to_double(ks_cel_ctx *c, const cel_node *n,
			      const ks_cel_value *a)
{
	switch (a->kind) {
	case KS_CEL_DOUBLE:
		return *a;
	case KS_CEL_INT:
		return cel_double((double)a->v.i);
	case KS_CEL_UINT:
		return cel_double((double)a->v.u);
	case KS_CEL_STRING: {
		char buf[64];
		if (a->aux == 0 || a->aux >= sizeof(buf))
			return cel_error(c, n->col,
					 "cannot convert string to double");
		memcpy(buf, a->v.s, a->aux);
		buf[a->aux] = 0;
		char *end;
		double d = strtod(buf, &end);
		if (*end || is_space(buf[0]))
			return cel_error(c, n->col,
					 "cannot convert string to double");
		return cel_double(d);
	}
	default:
		return overload(c, n, a);
	}
}

static ks_cel_value to_string(ks_cel_ctx *c, const cel_node *n,
			      const ks_cel_value *a)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	switch (a->kind) {
	case KS_CEL_STRING:
		return *a;
	case KS_CEL_BYTES:
		if (!cel_utf8_valid(a->v.s, a->aux))
			return cel_error(c, n->col,
					 "invalid UTF-8 in bytes, cannot "
					 "convert to string");
		return cel_str(KS_CEL_STRING, a->v.s, a->aux);
	case KS_CEL_INT:
		ks_buf_printf(&b, "%lld", (long long)a->v.i);
		break;
	case KS_CEL_UINT:
		ks_buf_printf(&b, "%llu", (unsigned long long)a->v.u);
		break;
	case KS_CEL_DOUBLE:
		if (isnan(a->v.d))
			ks_buf_puts(&b, "NaN");
		else if (isinf(a->v.d))
			ks_buf_puts(&b, a->v.d < 0 ? "-Inf" : "+Inf");
		else
			cel_format_double(&b, a->v.d);
		break;
	case KS_CEL_BOOL:
		ks_buf_puts(&b, a->v.b ? "true" : "false");
		break;
	case KS_CEL_DURATION:
		cel_format_duration_proto(&b, a->v.i);
		break;
	case KS_CEL_TIMESTAMP:
		cel_format_timestamp(&b, a->v.i, a->aux);
		break;
	default:
		return overload(c, n, a);
	}
	return from_buf(c, KS_CEL_STRING, &b);
}

static ks_cel_value to_bool(ks_cel_ctx *c, const cel_node *n,
			    const ks_cel_value *a)
{
	static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const f[] = {"0",	 "f",	  "F",
					"FALSE", "false", "False"};
	if (a->kind == KS_CEL_BOOL)
		return *a;
	if (a->kind != KS_CEL_STRING)
		return overload(c, n, a);
	for (size_t i = 0; i < 6; i++) {
		if (strlen(t[i]) == a->aux && !memcmp(t[i], a->v.s, a->aux))
			return cel_bool(1);
		if (strlen(f[i]) == a->aux && !memcmp(f[i], a->v.s, a->aux))
			return cel_bool(0);
	}
	return cel_error(c, n->col, "cannot convert string to bool");
}

/* ---- time ---- */

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yy + (*m <= 2);
}

static int num(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30,
				 31, 31, 30, 31, 30, 31};
	return m == 2 && leap(y) ? 29 : dm[m - 1];
}

int cel_parse_timestamp(const char *s, size_t n, int64_t *sec, uint32_t *nanos)
{
	int Y, M, D, h, mi, se;
	if (n < 20 || num(s, 4, &Y) || s[4] != '-' || num(s + 5, 2, &M) ||
	    s[7] != '-' || num(s + 8, 2, &D) ||
	    (s[10] != 'T' && s[10] != 't') || num(s + 11, 2, &h) ||
	    s[13] != ':' || num(s + 14, 2, &mi) || s[16] != ':' ||
	    num(s + 17, 2, &se))
		return -1;
	if (M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 ||
	    mi > 59 || se > 59 || Y < 1)
		return -1;
	size_t i = 19;
	uint32_t ns = 0;
	if (i < n && s[i] == '.') {
		i++;
		int nd = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (nd < 9) {
				ns = ns * 10 + (uint32_t)(s[i] - '0');
				nd++;
			} else {
				return -1;
			}
			i++;
		}
		if (!nd)
			return -1;
		while (nd++ < 9)
			ns *= 10;
	}
	int64_t off = 0;
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i + 6 == n && (s[i] == '+' || s[i] == '-')) {
		int oh, om;
		if (num(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
		    num(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		off = (oh * 60 + om) * 60;
		if (s[i] == '-')
			off = -off;
		i += 6;
	} else {
		return -1;
	}
	if (i != n)
		return -1;
	int64_t t = days_from_civil(Y, (unsigned)M, (unsigned)D) * 86400 +
		    h * 3600 + mi * 60 + se - off;
	if (t < CEL_MIN_TS || t > CEL_MAX_TS)
		return -1;
	*sec = t;
	*nanos = ns;
	return 0;
}

void cel_format_timestamp(ks_buf *b, int64_t sec, uint32_t nanos)
{
	int64_t days = sec / 86400, rem = sec % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	ks_buf_printf(b, "%04lld-%02u-%02uT%02d:%02d:%02d", (long long)y, m, d,
		      (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
	if (nanos) {
		char f[16];
		snprintf(f, sizeof(f), "%09u", nanos);
		int l = 9;
		while (f[l - 1] == '0')
			l--;
		ks_buf_printf(b, ".%.*s", l, f);
	}
	ks_buf_puts(b, "Z");
}

int cel_parse_duration(const char *s, size_t n, int64_t *out)
{
	static const struct {
		const char *u;
		int64_t ns;
	} units[] = {{"ns", 1},
		     {"us", 1000},
		     {"\xc2\xb5s", 1000},
		     {"\xce\xbcs", 1000},
		     {"ms", 1000000},
		     {"s", NS_PER_SEC},
		     {"m", 60 * NS_PER_SEC},
		     {"h", 3600 * NS_PER_SEC}};
	size_t i = 0;
	int neg = 0;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	if (i == n)
		return -1;
	if (n - i == 1 && s[i] == '0') {
		*out = 0;
		return 0;
	}
	/* Accumulate in long double-free integer arithmetic: whole part
	 * times unit plus fraction digits scaled. */
	int64_t total = 0;
	while (i < n) {
		uint64_t whole = 0;
		int nd = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (whole > (UINT64_MAX - 9) / 10)
				return -1;
			whole = whole * 10 + (uint64_t)(s[i++] - '0');
			nd++;
		}
		uint64_t frac = 0, scale = 1;
		int nf = 0;
		if (i < n && s[i] == '.') {
			i++;
			while (i < n && s[i] >= '0' && s[i] <= '9') {
				if (scale < 1000000000000000000ULL) {
					frac = frac * 10 +
					       (uint64_t)(s[i] - '0');
					scale *= 10;
				}
				i++;
				nf++;
			}
		}
		if (!nd && !nf)
			return -1;
		size_t k;
		int64_t unit = 0;
		for (k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
			size_t ul = strlen(units[k].u);
			/* "m" must not take the m of "ms" */
			if (n - i >= ul && !memcmp(s + i, units[k].u, ul) &&
			    !(ul == 1 && units[k].u[0] == 'm' && n - i >= 2 &&
			      s[i + 1] == 's')) {
				unit = units[k].ns;
				i += ul;
				break;
			}
		}
		if (!unit)
			return -1;
		int64_t part;
		if (whole > (uint64_t)INT64_MAX ||
		    __builtin_mul_overflow((int64_t)whole, unit, &part))
			return -1;
		part += (int64_t)((long double)frac * unit / scale);
		if (__builtin_add_overflow(total, part, &total))
			return -1;
	}
	*out = neg ? -total : total;
	return 0;
}

static void put_frac(ks_buf *b, uint64_t v, int digits)
{
	char f[24];
	snprintf(f, sizeof(f), "%0*llu", digits, (unsigned long long)v);
	int l = digits;
	while (l > 0 && f[l - 1] == '0')
		l--;
	if (l)
		ks_buf_printf(b, ".%.*s", l, f);
}

void cel_format_duration_go(ks_buf *b, int64_t ns)
{
	if (ns == 0) {
		ks_buf_puts(b, "0s");
		return;
	}
	uint64_t u = ns < 0 ? (uint64_t)(-(ns + 1)) + 1 : (uint64_t)ns;
	if (ns < 0)
		ks_buf_puts(b, "-");
	if (u < 1000) {
		ks_buf_printf(b, "%lluns", (unsigned long long)u);
	} else if (u < 1000000) {
		ks_buf_printf(b, "%llu", (unsigned long long)(u / 1000));
		put_frac(b, u % 1000, 3);
		ks_buf_puts(b, "\xc2\xb5s");
	} else if (u < 1000000000) {
		ks_buf_printf(b, "%llu", (unsigned long long)(u / 1000000));
		put_frac(b, u % 1000000, 6);
		ks_buf_puts(b, "ms");
	} else {
		uint64_t s = u / 1000000000, h = s / 3600, m = s / 60 % 60;
		if (h)
			ks_buf_printf(b, "%lluh", (unsigned long long)h);
		if (h || m)
			ks_buf_printf(b, "%llum", (unsigned long long)m);
		ks_buf_printf(b, "%llu", (unsigned long long)(s % 60));
		put_frac(b, u % 1000000000, 9);
		ks_buf_puts(b, "s");
	}
}

void cel_format_duration_proto(ks_buf *b, int64_t ns)
{
	uint64_t u = ns < 0 ? (uint64_t)(-(ns + 1)) + 1 : (uint64_t)ns;
	if (ns < 0)
		ks_buf_puts(b, "-");
	ks_buf_printf(b, "%llu", (unsigned long long)(u / 1000000000));
	put_frac(b, u % 1000000000, 9);
	ks_buf_puts(b, "s");
}

static ks_cel_value to_duration(ks_cel_ctx *c, const cel_node *n,
				const ks_cel_value *a)
{
	if (a->kind == KS_CEL_DURATION)
		return *a;
	if (a->kind != KS_CEL_STRING)
		return overload(c, n, a);
	int64_t ns;
	if (cel_parse_duration(a->v.s, a->aux, &ns))
		return cel_error(c, n->col, "invalid duration: \"%.*s\"",
				 (int)(a->aux > 100 ? 100 : a->aux), a->v.s);
	ks_cel_value v = {.kind = KS_CEL_DURATION};
	v.v.i = ns;
	return v;
}

static ks_cel_value to_timestamp(ks_cel_ctx *c, const cel_node *n,
				 const ks_cel_value *a)
{
	ks_cel_value v = {.kind = KS_CEL_TIMESTAMP};
	if (a->kind == KS_CEL_TIMESTAMP)
		return *a;
	if (a->kind == KS_CEL_INT) {
		if (a->v.i < CEL_MIN_TS || a->v.i > CEL_MAX_TS)
			return cel_error(c, n->col, "timestamp overflow");
		v.v.i = a->v.i;
		return v;
	}
	if (a->kind != KS_CEL_STRING)
		return overload(c, n, a);
	int64_t s;
	uint32_t ns;
	if (cel_parse_timestamp(a->v.s, a->aux, &s, &ns))
		return cel_error(c, n->col, "invalid timestamp: \"%.*s\"",
				 (int)(a->aux > 100 ? 100 : a->aux), a->v.s);
	v.v.i = s;
	v.aux = ns;
	return v;
}

/* "UTC", "Z" or a fixed offset "+HH:MM" / "-HH:MM"; seconds east. */
static int parse_tz(const ks_cel_value *tz, int64_t *off)
{
	const char *s = tz->v.s;
	size_t n = tz->aux;
	if ((n == 3 && !memcmp(s, "UTC", 3)) || (n == 1 && s[0] == 'Z')) {
		*off = 0;
		return 0;
	}
	int h, m;
	if (n == 6 && (s[0] == '+' || s[0] == '-') && !num(s + 1, 2, &h) &&
	    s[3] == ':' && !num(s + 4, 2, &m) && h < 24 && m < 60) {
		*off = (h * 60 + m) * 60 * (s[0] == '-' ? -1 : 1);
		return 0;
	}
	return -1;
}

static ks_cel_value duration_getter(ks_cel_ctx *c, const cel_node *n,
				    const ks_cel_value *a)
{
	int64_t ns = a->v.i;
	switch (n->fn) {
	case F_GET_HOURS:
		return cel_int(ns / (3600 * NS_PER_SEC));
	case F_GET_MINUTES:
		return cel_int(ns / (60 * NS_PER_SEC));
	case F_GET_SECONDS:
		return cel_int(ns / NS_PER_SEC);
	case F_GET_MILLISECONDS:
		return cel_int(ns / 1000000);
	default:
		return overload(c, n, a);
	}
}

static ks_cel_value time_getter(ks_cel_ctx *c, const cel_node *n,
				const ks_cel_value *a)
{
	if (a[0].kind == KS_CEL_DURATION && n->nargs == 1)
		return duration_getter(c, n, a);
	if (a[0].kind != KS_CEL_TIMESTAMP ||
	    (n->nargs > 1 && a[1].kind != KS_CEL_STRING))
		return overload(c, n, a);
	int64_t off = 0;
	if (n->nargs > 1 && parse_tz(&a[1], &off))
		return cel_error(c, n->col, "unsupported time zone: %.*s",
				 (int)(a[1].aux > 60 ? 60 : a[1].aux),
				 a[1].v.s);
	int64_t t = a[0].v.i + off;
	int64_t days = t / 86400, rem = t % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	switch (n->fn) {
	case F_GET_FULL_YEAR:
		return cel_int(y);
	case F_GET_MONTH:
		return cel_int(m - 1);
	case F_GET_DAY_OF_YEAR:
		return cel_int(days - days_from_civil(y, 1, 1));
	case F_GET_DAY_OF_MONTH:
		return cel_int(d - 1);
	case F_GET_DATE:
		return cel_int(d);
	case F_GET_DAY_OF_WEEK: /* 1970-01-01 was a Thursday (4) */
		return cel_int(((days % 7) + 11) % 7);
	case F_GET_HOURS:
		return cel_int(rem / 3600);
	case F_GET_MINUTES:
		return cel_int(rem / 60 % 60);
	case F_GET_SECONDS:
		return cel_int(rem % 60);
	default:
		return cel_int(a[0].aux / 1000000);
	}
}

/* Kubernetes quantities, as approximate doubles (Kubernetes' CEL has a
 * Quantity type; here quantity() gives its asApproximateFloat()). */
static int quantity_of(const ks_cel_value *a, double *out)
{
	if (a->kind == KS_CEL_INT) {
		*out = (double)a->v.i;
		return 0;
	}
	if (a->kind == KS_CEL_DOUBLE) {
		*out = a->v.d;
		return 0;
	}
	if (a->kind != KS_CEL_STRING || a->aux == 0 || a->aux > 63)
		return -1;
	char buf[64];
	memcpy(buf, a->v.s, a->aux);
	buf[a->aux] = 0;
	ks_quantity q;
	if (ks_quantity_parse(buf, &q))
		return -1;
	*out = (double)q.value * pow(10.0, q.scale);
	return 0;
}

static ks_cel_value quantity_fn(ks_cel_ctx *c, const cel_node *n,
				const ks_cel_value *a)
{
	double x, y;
	if (n->fn == F_IS_QUANTITY) {
		if (a[0].kind != KS_CEL_STRING)
			return overload(c, n, a);
		return cel_bool(quantity_of(&a[0], &x) == 0);
	}
	if (n->fn == F_QUANTITY) {
		if (a[0].kind != KS_CEL_STRING && a[0].kind != KS_CEL_INT &&
		    a[0].kind != KS_CEL_DOUBLE)
			return overload(c, n, a);
		if (quantity_of(&a[0], &x))
			return cel_error(c, n->col, "invalid quantity");
		return cel_double(x);
	}
	if (a[0].kind != KS_CEL_DOUBLE)
		return overload(c, n, a);
	if (n->fn == F_AS_APPROX)
		return a[0];
	if (a[1].kind != KS_CEL_DOUBLE)
		return overload(c, n, a);
	x = a[0].v.d;
	y = a[1].v.d;
	if (n->fn == F_IS_LESS_THAN)
		return cel_bool(x < y);
	if (n->fn == F_IS_GREATER_THAN)
		return cel_bool(x > y);
	return cel_int((x > y) - (x < y));
}

ks_cel_value cel_call(ks_cel_ctx *c, const cel_node *n, ks_cel_value *a)
{
	switch (n->fn) {
	case F_QUANTITY:
	case F_IS_QUANTITY:
	case F_AS_APPROX:
	case F_IS_LESS_THAN:
	case F_IS_GREATER_THAN:
	case F_COMPARE_TO:
		return quantity_fn(c, n, a);
	case F_SIZE:
		return size_of(c, n, &a[0]);
	case F_CONTAINS:
	case F_STARTS_WITH:
	case F_ENDS_WITH:
		return string_test(c, n, a);
	case F_MATCHES:
		return matches(c, n, a);
	case F_INT:
		return to_int(c, n, a);
	case F_UINT:
		return to_uint(c, n, a);
	case F_DOUBLE:
		return to_double(c, n, a);
	case F_STRING:
		return to_string(c, n, a);
	case F_BYTES:
		if (a->kind == KS_CEL_BYTES)
			return *a;
		if (a->kind == KS_CEL_STRING)
			return cel_str(KS_CEL_BYTES, a->v.s, a->aux);
		return overload(c, n, a);
	case F_BOOL:
		return to_bool(c, n, a);
	case F_TYPE:
		return cel_type(a->kind);
	case F_DYN:
		return *a;
	case F_DURATION:
		return to_duration(c, n, a);
	case F_TIMESTAMP:
		return to_timestamp(c, n, a);
	case F_GET_FULL_YEAR:
	case F_GET_MONTH:
	case F_GET_DAY_OF_YEAR:
	case F_GET_DAY_OF_MONTH:
	case F_GET_DATE:
	case F_GET_DAY_OF_WEEK:
	case F_GET_HOURS:
	case F_GET_MINUTES:
	case F_GET_SECONDS:
	case F_GET_MILLISECONDS:
		return time_getter(c, n, a);
	default:
		return string_ext(c, n, a);
	}
}
