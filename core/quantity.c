/*
 * Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource):
 * parsing with the API server's rounding, its canonical text, and
 * comparison by value.
 *
 * Internally a quantity is handled as a count of nano-units in an __int128:
 * every quantity we accept has at most nine fraction digits (finer ones
 * round up, away from zero, as Kubernetes rounds them) and an integer part
 * that fits an int64, so the count stays below 2^63 * 10^9.
 */
#include "core/values.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/banned.h"

/* -Wpedantic objects to __int128 unless marked as an extension. */
__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 i128;

#define MAX_DIGITS 38
#define MAX_EXPONENT 1000

/* 10^n for 0 <= n <= 38. */
static u128 pow10_u128(int n)
{
	u128 r = 1;
	while (n-- > 0)
		r *= 10;
	return r;
}

/* The largest count of nano-units we accept: INT64_MAX units. */
static u128 nano_limit(void)
{
	return (u128)INT64_MAX * 1000000000u;
}

struct suffix {
	const char *name;
	int exp10;
	int exp2;
	enum ks_quantity_format format;
};

static const struct suffix suffixes[] = {
	{"n", -9, 0, KS_QTY_DECIMAL_SI}, {"u", -6, 0, KS_QTY_DECIMAL_SI},
	{"m", -3, 0, KS_QTY_DECIMAL_SI}, {"", 0, 0, KS_QTY_DECIMAL_SI},
	{"k", 3, 0, KS_QTY_DECIMAL_SI},	 {"M", 6, 0, KS_QTY_DECIMAL_SI},
	{"G", 9, 0, KS_QTY_DECIMAL_SI},	 {"T", 12, 0, KS_QTY_DECIMAL_SI},
	{"P", 15, 0, KS_QTY_DECIMAL_SI}, {"E", 18, 0, KS_QTY_DECIMAL_SI},
	{"Ki", 0, 10, KS_QTY_BINARY_SI}, {"Mi", 0, 20, KS_QTY_BINARY_SI},
	{"Gi", 0, 30, KS_QTY_BINARY_SI}, {"Ti", 0, 40, KS_QTY_BINARY_SI},
	{"Pi", 0, 50, KS_QTY_BINARY_SI}, {"Ei", 0, 60, KS_QTY_BINARY_SI},
};

/* "e3", "E-2", "e+6": an integer exponent, capped in magnitude. */
static int parse_exponent(const char *s, int *exp10)
{
	int sign = 1;
	long v = 0;
	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	if (*s == '\0')
		return KS_EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return KS_EINVAL;
		if (v < 100000)
			v = v * 10 + (*s - '0');
	}
	if (v > MAX_EXPONENT)
		v = MAX_EXPONENT;
	*exp10 = (int)(sign * v);
	return 0;
}

static int parse_suffix(const char *s, int *exp10, int *exp2,
			enum ks_quantity_format *format)
{
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if (strcmp(s, suffixes[i].name) == 0) {
			*exp10 = suffixes[i].exp10;
			*exp2 = suffixes[i].exp2;
			*format = suffixes[i].format;
			return 0;
		}
	}
	if (s[0] != 'e' && s[0] != 'E')
		return KS_EINVAL;
	*exp2 = 0;
	*format = KS_QTY_DECIMAL_EXP;
	return parse_exponent(s + 1, exp10);
}

/*
 * ceil(d * 2^exp2 / 10^q) for q <= 38, or KS_EINVAL past the limit. The
 * remainder is doubled bit by bit (long division in base 2) so that nothing
 * overflows.
 */
static int scale_down(u128 d, int exp2, int q, u128 *out)
{
	u128 den = pow10_u128(q);
	u128 quot = d / den, rem = d % den, frac = 0;
	for (int i = 0; i < exp2; i++) {
		if (quot > nano_limit())
			return KS_EINVAL;
		quot <<= 1;
		rem <<= 1;
		frac <<= 1;
		if (rem >= den) {
			rem -= den;
			frac |= 1;
		}
	}
	quot += frac + (rem != 0);
	if (quot > nano_limit())
		return KS_EINVAL;
	*out = quot;
	return 0;
}

static int scale_up(u128 d, int exp2, int p, u128 *out)
{
	for (int i = 0; i < p; i++) {
		if (d > nano_limit() / 10)
			return KS_EINVAL;
		d *= 10;
	}
	for (int i = 0; i < exp2; i++) {
		if (d > nano_limit() / 2)
			return KS_EINVAL;
		d <<= 1;
	}
	*out = d;
	return 0;
}

/*
 * Turns the digits D with exponent p (value D * 10^(p-9) * 2^exp2) into a
 * count of nano-units, rounding up.
 */
static int to_nano(u128 d, int p, int exp2, u128 *out)
{
	if (d == 0) {
		*out = 0;
		return 0;
	}
	if (p >= 0)
		return scale_up(d, exp2, p, out);
	if (-p > MAX_DIGITS) {
		/* With no binary factor D < 10^38 < 10^-p: a positive value
		 * below one nano-unit. Binary quantities with over 47
		 * fraction digits are refused rather than computed. */
		if (exp2 > 0)
			return KS_EINVAL;
		*out = 1;
		return 0;
	}
	return scale_down(d, exp2, -p, out);
}

/* Stores +-NANO (nano-units) as the smallest int64 mantissa and scale. */
static int from_nano(u128 nano, bool negative, enum ks_quantity_format format,
		     ks_quantity *q)
{
	int scale = -9;
	if (nano == 0) {
		scale = 0;
	} else {
		while (nano % 10 == 0) {
			nano /= 10;
			scale++;
		}
	}
	if (nano > (u128)INT64_MAX)
		return KS_EINVAL;
	q->value = negative ? -(int64_t)nano : (int64_t)nano;
	q->scale = scale;
	q->format = format;
	return 0;
}

int ks_quantity_parse(const char *s, ks_quantity *q)
{
	const char *p = s;
	bool negative = false;
	if (*p == '+' || *p == '-')
		negative = *p++ == '-';
	u128 d = 0;
	int sig = 0, frac = 0, ndig = 0;
	bool dot = false;
	for (;; p++) {
		if (*p == '.' && !dot) {
			dot = true;
			continue;
		}
		if (*p < '0' || *p > '9')
			break;
		ndig++;
		if (dot)
			frac++;
		if (d == 0 && *p == '0')
			continue;
		if (++sig > MAX_DIGITS)
			return KS_EINVAL;
		d = d * 10 + (u128)(*p - '0');
	}
	if (ndig == 0)
		return KS_EINVAL;
	int exp10, exp2;
	enum ks_quantity_format format;
	if (parse_suffix(p, &exp10, &exp2, &format) < 0)
		return KS_EINVAL;
	u128 nano;
	if (to_nano(d, exp10 - frac + 9, exp2, &nano) < 0)
		return KS_EINVAL;
	ks_quantity r;
	if (from_nano(nano, negative, format, &r) < 0)
		return KS_EINVAL;
	*q = r;
	return 0;
}

/* |q| in nano-units; false when it does not fit (a hand-made quantity). */
static bool abs_nano(const ks_quantity *q, u128 *out)
{
	if (q->scale < -9)
		return false;
	u128 v = q->value < 0 ? (u128)0 - (u128)(i128)q->value : (u128)q->value;
	for (int i = -9; i < q->scale; i++) {
		if (v > ((u128)1 << 120))
			return false;
		v *= 10;
	}
	*out = v;
	return true;
}

int ks_quantity_cmp(const ks_quantity *a, const ks_quantity *b)
{
	int sa = (a->value > 0) - (a->value < 0);
	int sb = (b->value > 0) - (b->value < 0);
	if (sa != sb || sa == 0)
		return sa - sb;
	u128 na, nb;
	bool oka = abs_nano(a, &na), okb = abs_nano(b, &nb);
	int mag;
	if (oka && okb)
		mag = (na > nb) - (na < nb);
	else
		mag = oka ? -1 : okb ? 1 : 0;
	return sa * mag;
}

/* Appends the decimal digits of V to OUT at *len (room for 40 is there). */
static void put_u128(char *buf, size_t *len, u128 v)
{
	char tmp[41];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	while (n)
		buf[(*len)++] = tmp[--n];
}

static const char *decimal_suffix(int exp)
{
	static const char *const names[] = {"n", "u", "m", "",	"k",
					    "M", "G", "T", "P", "E"};
	if (exp < -9 || exp > 18 || exp % 3 != 0)
		return NULL;
	return names[(exp + 9) / 3];
}

/*
 * NANO (nano-units, nonzero) written as a mantissa and a power of 1000,
 * the way AsCanonicalBytes does: factors of ten move into the exponent,
 * which is then lowered to a multiple of three.
 */
static void decimal_form(u128 nano, u128 *mant, int *exp)
{
	int e = -9;
	while (nano % 10 == 0) {
		nano /= 10;
		e++;
	}
	while (e % 3 != 0) {
		nano *= 10;
		e--;
	}
	*mant = nano;
	*exp = e;
}

int ks_quantity_format(const ks_quantity *q, char *out, size_t outlen)
{
	u128 nano;
	if (!abs_nano(q, &nano))
		return KS_EINVAL;
	char buf[64];
	size_t len = 0;
	if (nano == 0) {
		buf[len++] = '0';
		goto done;
	}
	if (q->value < 0)
		buf[len++] = '-';
	enum ks_quantity_format format = q->format;
	u128 units = nano / 1000000000u;
	bool integral = nano % 1000000000u == 0;
	if (format == KS_QTY_BINARY_SI && (!integral || units < 1024))
		format = KS_QTY_DECIMAL_SI;
	if (format == KS_QTY_BINARY_SI) {
		static const char *const bin[] = {"",	"Ki", "Mi", "Gi",
						  "Ti", "Pi", "Ei"};
		int e = 0;
		while (units >= 1024 && units % 1024 == 0 && e < 6) {
			units /= 1024;
			e++;
		}
		put_u128(buf, &len, units);
		memcpy(buf + len, bin[e], strlen(bin[e]));
		len += strlen(bin[e]);
		goto done;
	}
	u128 mant;
	int exp;
	decimal_form(nano, &mant, &exp);
	put_u128(buf, &len, mant);
	const char *suf = decimal_suffix(exp);
	if (format == KS_QTY_DECIMAL_SI && suf) {
		memcpy(buf + len, suf, strlen(suf));
		len += strlen(suf);
	} else if (exp != 0) {
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "e%d",
					exp);
	}
done:
	if (len + 1 > outlen)
		return KS_ELIMIT;
	memcpy(out, buf, len);
	out[len] = '\0';
	return 0;
}

int ks_quantity_canonical(const char *in, char *out, size_t outlen)
{
	ks_quantity q;
	int rc = ks_quantity_parse(in, &q);
	if (rc < 0)
		return rc;
	return ks_quantity_format(&q, out, outlen);
}

/*
 * Kubernetes' ParseQuantity keeps the text it was given when its fast path
 * finds the number canonical already; this repeats that test on the
 * spelling of S (which parsed). NUM is the integer part without leading
 * zeros ("0" when none remain), DENOM the fraction digits.
 */
static bool server_keeps_text(const char *s)
{
	const char *p = s;
	if (*p == '+' || *p == '-')
		p++;
	while (*p == '0')
		p++;
	const char *num = p;
	while (*p >= '0' && *p <= '9')
		p++;
	size_t nlen = (size_t)(p - num);
	const char *denom = p;
	size_t dlen = 0;
	if (*p == '.') {
		denom = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		dlen = (size_t)(p - denom);
	}
	int exp10, exp2;
	enum ks_quantity_format format;
	if (parse_suffix(p, &exp10, &exp2, &format) < 0)
		return false;
	if (nlen == 0)
		return false; /* shifted starts with '0' */
	if (format == KS_QTY_BINARY_SI) {
		int precision = 15 - (int)nlen - exp2 * 3 / 10 - 1;
		if (dlen > 0 || precision < 0)
			return false;
		int64_t value = 0;
		for (size_t i = 0; i < nlen; i++)
			value = value * 10 + (num[i] - '0');
		return (value & 7) != 0;
	}
	if (18 - (int)(nlen + dlen) < 0)
		return false;
	int scale = exp10 - (int)dlen;
	if (scale < -9 || scale % 3 != 0)
		return false;
	/* The last three digits of num + denom must not all be zero. */
	size_t zeros = 0;
	for (size_t i = dlen; i > 0 && zeros < 3 && denom[i - 1] == '0'; i--)
		zeros++;
	if (zeros == dlen)
		for (size_t i = nlen; i > 0 && zeros < 3 && num[i - 1] == '0';
		     i--)
			zeros++;
	return zeros < 3;
}

int ks_quantity_server_text(const char *in, char *out, size_t outlen)
{
	ks_quantity q;
	int rc = ks_quantity_parse(in, &q);
	if (rc < 0)
		return rc;
	if (!server_keeps_text(in))
		return ks_quantity_format(&q, out, outlen);
	size_t n = strlen(in);
	if (n + 1 > outlen)
		return KS_ELIMIT;
	memcpy(out, in, n + 1);
	return 0;
}

int ks_quantity_scaled(const ks_quantity *q, int32_t scale, int64_t *out)
{
	u128 nano, r;
	if (!abs_nano(q, &nano))
		return KS_ELIMIT;
	int shift = scale + 9;
	if (shift > MAX_DIGITS) {
		r = nano != 0;
	} else if (shift >= 0) {
		u128 den = pow10_u128(shift);
		r = nano / den + (nano % den != 0);
	} else {
		r = nano;
		for (int i = 0; i < -shift && r; i++) {
			if (r > (u128)INT64_MAX)
				return KS_ELIMIT;
			r *= 10;
		}
	}
	if (r > (u128)INT64_MAX)
		return KS_ELIMIT;
	*out = q->value < 0 ? -(int64_t)r : (int64_t)r;
	return 0;
}
