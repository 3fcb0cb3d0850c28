/*
 * Go-style durations (time.ParseDuration), kept in milliseconds.
 */
#include "core/values.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/banned.h"

#define NS_PER_MS 1000000LL

/* -Wpedantic objects to i128 unless marked as an extension. */
__extension__ typedef __int128 i128;

struct unit {
	const char *name;
	int64_t ns;
};

/* Longer names first so that "ms" is not read as "m". */
static const struct unit units[] = {
	{"ns", 1LL},
	{"us", 1000LL},
	{"\xc2\xb5s", 1000LL}, /* U+00B5 micro sign */
	{"\xce\xbcs", 1000LL}, /* U+03BC Greek small letter mu */
	{"ms", 1000000LL},
	{"s", 1000000000LL},
	{"m", 60LL * 1000000000LL},
	{"h", 3600LL * 1000000000LL},
};

static const struct unit *match_unit(const char *s, size_t *len)
{
	const struct unit *best = NULL;
	size_t best_len = 0;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t n = strlen(units[i].name);
		if (n > best_len && strncmp(s, units[i].name, n) == 0) {
			best = &units[i];
			best_len = n;
		}
	}
	*len = best_len;
	return best;
}

/*
 * Reads one "<number><unit>" at *p and adds it to *total (nanoseconds, capped
 * at INT64_MAX as Go caps it). Fraction digits beyond 18 are ignored: they
 * are worth less than a nanosecond.
 */
static int parse_component(const char **p, i128 *total)
{
	const char *s = *p;
	i128 ip = 0, fp = 0, scale = 1;
	int ndig = 0;
	while (*s >= '0' && *s <= '9') {
		ip = ip * 10 + (*s - '0');
		if (ip > INT64_MAX)
			return KS_EINVAL;
		s++;
		ndig++;
	}
	if (*s == '.') {
		s++;
		for (int k = 0; *s >= '0' && *s <= '9'; s++, k++, ndig++) {
			if (k >= 18)
				continue;
			fp = fp * 10 + (*s - '0');
			scale *= 10;
		}
	}
	if (ndig == 0)
		return KS_EINVAL;
	size_t ulen;
	const struct unit *u = match_unit(s, &ulen);
	if (!u)
		return KS_EINVAL;
	s += ulen;
	*total += ip * u->ns + fp * u->ns / scale;
	if (*total > INT64_MAX)
		return KS_EINVAL;
	*p = s;
	return 0;
}

int ks_duration_parse(const char *s, int64_t *out_ms)
{
	const char *p = s;
	if (*p == '+')
		p++;
	if (strcmp(p, "0") == 0) {
		*out_ms = 0;
		return 0;
	}
	if (*p == '\0')
		return KS_EINVAL;
	i128 ns = 0;
	while (*p) {
		int rc = parse_component(&p, &ns);
		if (rc < 0)
			return rc;
	}
	int64_t ms = (int64_t)(ns / NS_PER_MS);
	if (ns != 0 && ms == 0)
		return KS_EINVAL;
	*out_ms = ms;
	return 0;
}

void ks_duration_format(int64_t ms, char *out, size_t outlen)
{
	if (outlen == 0)
		return;
	if (ms == 0) {
		snprintf(out, outlen, "0s");
		return;
	}
	const char *sign = ms < 0 ? "-" : "";
	uint64_t v = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
	if (v < 1000) {
		snprintf(out, outlen, "%s%llums", sign, (unsigned long long)v);
		return;
	}
	unsigned long long h = v / 3600000, m = v / 60000 % 60,
			   sec = v / 1000 % 60, frac = v % 1000;
	char hbuf[32] = "", mbuf[8] = "", sbuf[16] = "";
	if (h)
		snprintf(hbuf, sizeof(hbuf), "%lluh", h);
	if (m)
		snprintf(mbuf, sizeof(mbuf), "%llum", m);
	if (frac) {
		/* Go's style: "1.5s", trailing zeros dropped. */
		int digits = 3;
		while (frac % 10 == 0) {
			frac /= 10;
			digits--;
		}
		snprintf(sbuf, sizeof(sbuf), "%llu.%0*llus", sec, digits, frac);
	} else if (sec) {
		snprintf(sbuf, sizeof(sbuf), "%llus", sec);
	}
	snprintf(out, outlen, "%s%s%s%s", sign, hbuf, mbuf, sbuf);
}
