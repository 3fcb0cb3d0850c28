/*
 * CronJob schedules, checked the way the API server checks them: it parses
 * with robfig/cron v3's standard parser (five fields, day of week 0-6) and
 * refuses TZ= and CRON_TZ= prefixes, which spec.timeZone replaces.
 */
#include "core/values.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/banned.h"

struct cron_field {
	const char *name;
	int min, max;
	const char *const *names; /* indexed from min, or NULL */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may",
					  "jun", "jul", "aug", "sep", "oct",
					  "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed",
					"thu", "fri", "sat", NULL};

static const struct cron_field fields[5] = {
	{"minute", 0, 59, NULL},	  {"hour", 0, 23, NULL},
	{"day of month", 1, 31, NULL},	  {"month", 1, 12, month_names},
	{"day of week", 0, 6, dow_names},
};

static const char *const macros[] = {"@yearly", "@annually", "@monthly",
				     "@weekly", "@daily",    "@midnight",
				     "@hourly", NULL};

static int fail(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t whylen, const char *fmt, ...)
{
	if (why && whylen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return KS_EINVAL;
}

/* Why a token is refused, written into WHY by the field checker. */
struct field_ctx {
	int index; /* 1-based */
	const struct cron_field *f;
	char *why;
	size_t whylen;
};

#define FIELD_FAIL(c, fmt, ...)                                                \
	fail((c)->why, (c)->whylen, "field %d (%s): " fmt, (c)->index,         \
	     (c)->f->name, __VA_ARGS__)

/* A non-negative decimal integer or, where the field has them, a name. */
static int parse_value(const struct field_ctx *c, const char *s, size_t n,
		       int *out)
{
	if (n == 0)
		return FIELD_FAIL(c, "%s", "a value is missing");
	if (c->f->names) {
		for (int i = 0; c->f->names[i]; i++) {
			if (n == 3 && strncasecmp(s, c->f->names[i], 3) == 0) {
				*out = c->f->min + i;
				return 0;
			}
		}
	}
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return FIELD_FAIL(c, "\"%.*s\" is not a number%s",
					  (int)n, s,
					  c->f->names ? " or a name" : "");
		v = v * 10 + (s[i] - '0');
		if (v > 1000000)
			return FIELD_FAIL(c, "%.*s is out of range %d-%d",
					  (int)n, s, c->f->min, c->f->max);
	}
	*out = (int)v;
	return 0;
}

static int check_bound(const struct field_ctx *c, int v)
{
	if (v >= c->f->min && v <= c->f->max)
		return 0;
	if (c->f->names == dow_names && v == 7)
		return FIELD_FAIL(c, "%d is out of range %d-%d (Sunday is 0)",
				  v, c->f->min, c->f->max);
	return FIELD_FAIL(c, "%d is out of range %d-%d", v, c->f->min,
			  c->f->max);
}

/* The "/STEP" of item (S, N): digits only, positive (robfig reads steps
 * with Atoi, so names are not steps; a step past the range is fine). */
static int check_step(const struct field_ctx *c, const char *s, size_t n,
		      const char *st, size_t sn)
{
	if (memchr(st, '/', sn))
		return FIELD_FAIL(c, "\"%.*s\" has more than one '/'", (int)n,
				  s);
	if (sn == 0)
		return FIELD_FAIL(c, "\"%.*s\" has no step after '/'", (int)n,
				  s);
	for (size_t i = 0; i < sn; i++)
		if (st[i] < '0' || st[i] > '9')
			return FIELD_FAIL(c, "step \"%.*s\" is not a number",
					  (int)sn, st);
	size_t zeros = 0;
	while (zeros < sn && st[zeros] == '0')
		zeros++;
	if (zeros == sn)
		return FIELD_FAIL(c, "step in \"%.*s\" must be positive",
				  (int)n, s);
	return 0;
}

/* One list item: "*", "?", "N", "N-M", each optionally "/STEP". */
static int check_item(const struct field_ctx *c, const char *s, size_t n)
{
	const char *slash = memchr(s, '/', n);
	size_t rn = slash ? (size_t)(slash - s) : n;
	if (slash && check_step(c, s, n, slash + 1, n - rn - 1) < 0)
		return KS_EINVAL;
	if (rn == 1 && (s[0] == '*' || s[0] == '?'))
		return 0;
	const char *dash = memchr(s, '-', rn);
	int lo, hi;
	if (parse_value(c, s, dash ? (size_t)(dash - s) : rn, &lo) < 0)
		return KS_EINVAL;
	if (check_bound(c, lo) < 0)
		return KS_EINVAL;
	if (!dash)
		return 0;
	const char *hs = dash + 1;
	size_t hn = rn - (size_t)(dash - s) - 1;
	if (memchr(hs, '-', hn))
		return FIELD_FAIL(c, "\"%.*s\" has more than one '-'", (int)rn,
				  s);
	if (parse_value(c, hs, hn, &hi) < 0 || check_bound(c, hi) < 0)
		return KS_EINVAL;
	if (lo > hi)
		return FIELD_FAIL(c, "range \"%.*s\" starts after it ends",
				  (int)rn, s);
	return 0;
}

static int check_field(const struct field_ctx *c, const char *s, size_t n)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != ',')
			continue;
		if (i == start)
			return FIELD_FAIL(c, "%s", "empty item in list");
		if (check_item(c, s + start, i - start) < 0)
			return KS_EINVAL;
		start = i + 1;
	}
	return 0;
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
	       ch == '\v' || ch == '\f';
}

int ks_cron_check(const char *expr, char *why, size_t whylen)
{
	if (why && whylen)
		why[0] = '\0';
	if (expr[0] == '\0')
		return fail(why, whylen, "empty schedule");
	/* The API server refuses "TZ" anywhere in the schedule. */
	if (strstr(expr, "TZ"))
		return fail(why, whylen,
			    "TZ= and CRON_TZ= are not allowed in a schedule; "
			    "set the time zone with timeZone instead");
	if (expr[0] == '@') {
		for (int i = 0; macros[i]; i++)
			if (strcmp(expr, macros[i]) == 0)
				return 0;
		return fail(why, whylen,
			    "unknown macro \"%s\" (expected @yearly, "
			    "@annually, @monthly, @weekly, @daily, @midnight "
			    "or @hourly)",
			    expr);
	}
	const char *tok[6];
	size_t len[6];
	int nf = 0;
	for (const char *p = expr; *p;) {
		while (is_space(*p))
			p++;
		if (!*p)
			break;
		const char *start = p;
		while (*p && !is_space(*p))
			p++;
		if (nf < 6) {
			tok[nf] = start;
			len[nf] = (size_t)(p - start);
		}
		nf++;
	}
	if (nf != 5)
		return fail(why, whylen,
			    "expected 5 fields (minute hour day-of-month month "
			    "day-of-week), found %d",
			    nf);
	for (int i = 0; i < 5; i++) {
		struct field_ctx c = {i + 1, &fields[i], why, whylen};
		if (check_field(&c, tok[i], len[i]) < 0)
			return KS_EINVAL;
	}
	return 0;
}
