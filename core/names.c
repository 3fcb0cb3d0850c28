/*
 * Kubernetes name validators (DNS-1123 and DNS-1035 names, label keys and
 * values, environment variable names) and the "did you mean" hint.
 */
#include "core/values.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/banned.h"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
	return is_alpha(c) || is_digit(c);
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over (s, n), with no length limit; FOLD
 * lets upper case pass as lower case. */
static bool dns_label_chars(const char *s, size_t n, bool fold)
{
	for (size_t i = 0; i < n; i++) {
		char c = fold ? lower(s[i]) : s[i];
		bool end = i == 0 || i + 1 == n;
		if (!is_lower_alnum(c) && (end || c != '-'))
			return false;
	}
	return n > 0;
}

bool ks_is_dns1123_label(const char *s)
{
	size_t n = strlen(s);
	return n <= 63 && dns_label_chars(s, n, false);
}

/* Kubernetes limits only the total length of a subdomain, not its labels. */
static bool dns_subdomain(const char *s, size_t n, bool fold)
{
	if (n == 0 || n > 253)
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (!dns_label_chars(s + start, i - start, fold))
			return false;
		start = i + 1;
	}
	return true;
}

bool ks_is_dns1123_subdomain(const char *s)
{
	return dns_subdomain(s, strlen(s), false);
}

bool ks_is_dns1035_label(const char *s)
{
	size_t n = strlen(s);
	return n <= 63 && dns_label_chars(s, n, false) && s[0] >= 'a' &&
	       s[0] <= 'z';
}

static const char qualified_chars_problem[] =
	"must consist of alphanumeric characters, '-', '_' or '.', and must "
	"start and end with an alphanumeric character";

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] over (s, n), n > 0. */
static bool qualified_chars(const char *s, size_t n)
{
	if (!is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' &&
		    s[i] != '.')
			return false;
	return true;
}

static const char *key_problem(const char *k, bool fold)
{
	const char *slash = strchr(k, '/');
	const char *name = k;
	if (slash) {
		size_t plen = (size_t)(slash - k);
		if (strchr(slash + 1, '/'))
			return "must have at most one '/' (an optional DNS "
			       "subdomain prefix and a name, like "
			       "'example.com/my-name')";
		if (plen == 0)
			return "prefix before '/' must not be empty";
		if (plen > 253)
			return "prefix before '/' must be 253 characters or "
			       "less";
		if (!dns_subdomain(k, plen, fold))
			return "prefix before '/' must be a DNS subdomain: "
			       "lowercase alphanumeric characters, '-' or '.', "
			       "starting and ending with an alphanumeric "
			       "character";
		name = slash + 1;
	}
	size_t n = strlen(name);
	if (n == 0)
		return slash ? "name after '/' must not be empty"
			     : "must not be empty";
	if (n > 63)
		return slash ? "name after '/' must be 63 characters or less"
			     : "must be 63 characters or less";
	if (!qualified_chars(name, n))
		return qualified_chars_problem;
	return NULL;
}

const char *ks_label_key_problem(const char *k)
{
	return key_problem(k, false);
}

const char *ks_annotation_key_problem(const char *k)
{
	return key_problem(k, true);
}

const char *ks_label_value_problem(const char *v)
{
	size_t n = strlen(v);
	if (n > 63)
		return "must be 63 characters or less";
	if (n > 0 && !qualified_chars(v, n))
		return qualified_chars_problem;
	return NULL;
}

static bool env_first(char c)
{
	return is_alpha(c) || c == '-' || c == '.' || c == '_';
}

bool ks_is_env_name(const char *s)
{
	if (!env_first(s[0]))
		return false;
	for (size_t i = 1; s[i]; i++)
		if (!env_first(s[i]) && !is_digit(s[i]))
			return false;
	return true;
}

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;
	return m < c ? m : c;
}

/*
 * Optimal string alignment distance (Levenshtein plus transposition of
 * neighbours), ignoring case. Three rows: two back for transpositions.
 */
static size_t edit_distance(const char *a, size_t n, const char *b, size_t m)
{
	size_t *rows = ks_xmalloc(3 * (m + 1) * sizeof(*rows));
	size_t *pp = rows, *p = rows + m + 1, *c = rows + 2 * (m + 1);
	for (size_t j = 0; j <= m; j++)
		p[j] = j;
	for (size_t i = 1; i <= n; i++) {
		c[0] = i;
		for (size_t j = 1; j <= m; j++) {
			size_t cost = lower(a[i - 1]) != lower(b[j - 1]);
			c[j] = min3(p[j] + 1, c[j - 1] + 1, p[j - 1] + cost);
			if (i > 1 && j > 1 &&
			    lower(a[i - 1]) == lower(b[j - 2]) &&
			    lower(a[i - 2]) == lower(b[j - 1]) &&
			    pp[j - 2] + 1 < c[j])
				c[j] = pp[j - 2] + 1;
		}
		size_t *t = pp;
		pp = p;
		p = c;
		c = t;
	}
	size_t d = p[m];
	free(rows);
	return d;
}

const char *ks_did_you_mean(const char *word, const char *const *candidates,
			    size_t n)
{
	size_t wlen = strlen(word);
	size_t limit = wlen / 2 < 2 ? wlen / 2 : 2;
	const char *best = NULL;
	size_t best_d = 0;
	for (size_t i = 0; i < n; i++) {
		const char *cand = candidates[i];
		if (!cand)
			continue;
		size_t clen = strlen(cand);
		size_t diff = clen > wlen ? clen - wlen : wlen - clen;
		if (diff > limit)
			continue;
		size_t d = edit_distance(word, wlen, cand, clen);
		if (d <= limit && (!best || d < best_d)) {
			best = cand;
			best_d = d;
		}
	}
	return best;
}
