/*
 * Parsers and validators for the value types of Kubernetes and of the
 * AppConfiguration model. Each returns 0 when valid; problems come back as a
 * short lowercase phrase suitable after "FIELD: ".
 */
#ifndef KS_CORE_VALUES_H
#define KS_CORE_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Go-style durations: "90s", "10m", "1h30m", "250ms", "1.5h"; units ns, us
 * (or µs), ms, s, m, h. Negative or unit-less values (other than "0") are
 * refused (KS_EINVAL), as are empty strings, spaces, values past Go's limit
 * (2^63-1 ns, about 292 years) and nonzero durations under 1ms. Sub-ms parts
 * are truncated ("1500us" is 1ms). *out_ms is set only on success. */
int ks_duration_parse(const char *s, int64_t *out_ms);

/* Microseconds since the epoch of an RFC 3339 time as the API server and
 * Git hosts write them ("2006-01-02T15:04:05Z", with an optional fraction
 * of up to 6 digits counted, more ignored, and "Z" or a "+hh:mm" offset;
 * a space may stand for the "T"); -1 when malformed or before 1970. */
int64_t ks_time_parse_us(const char *s);
/* Formats milliseconds the way a person writes them: "10m", "1h30m", "90s"
 * -> "1m30s", "250ms", "1.5s", "0s"; ks_duration_parse reads it back.
 * Truncates to OUTLEN (32 bytes always suffice). */
void ks_duration_format(int64_t ms, char *out, size_t outlen);

/*
 * Kubernetes resource quantities ("500m", "2", "512Mi", "1.5Gi", "1e3").
 * The value is value * 10^scale exactly (binary suffixes are multiplied
 * out), with scale >= -9; format remembers the family of the suffix so the
 * canonical form can be written as the API server writes it.
 */
enum ks_quantity_format {
	KS_QTY_DECIMAL_SI,
	KS_QTY_BINARY_SI,
	KS_QTY_DECIMAL_EXP,
};

typedef struct ks_quantity {
	int64_t value;
	int32_t scale;
	enum ks_quantity_format format;
} ks_quantity;

/*
 * Parses S (sign, digits with an optional fraction, a suffix) into *Q with
 * the smallest mantissa: "500m" is {5, -1}, "1.5Gi" {1610612736, 0}, "1e3"
 * {1, 3}. Digits finer than 1n round up, away from zero, as Kubernetes
 * rounds them. KS_EINVAL for malformed text, and for values Kubernetes would
 * keep but we do not: beyond INT64_MAX units ("8Ei", "1e19"), more than 38
 * significant digits, or a mantissa that does not fit an int64. Stricter
 * than Kubernetes also for "", ".", "+", "Ki" (no digit at all), which it
 * reads as 0. *q is set only on success.
 */
int ks_quantity_parse(const char *s, ks_quantity *q);
/* The API server's canonical text (Quantity.CanonicalizeBytes): "4096Mi" ->
 * "4Gi", "1000m" -> "1", "0.5Gi" -> "512Mi", "1.5" -> "1500m", "1e3" ->
 * "1e3", zero -> "0". KS_ELIMIT when OUTLEN is too small (48 bytes always
 * suffice), KS_EINVAL for a hand-made Q with scale < -9. */
int ks_quantity_format(const ks_quantity *q, char *out, size_t outlen);
/* Compares by value: <0, 0, >0. */
int ks_quantity_cmp(const ks_quantity *a, const ks_quantity *b);
/* Parses and formats in one step; KS_EINVAL when not a quantity. */
int ks_quantity_canonical(const char *in, char *out, size_t outlen);
/*
 * What a real API server writes back for IN: Kubernetes keeps the original
 * text when its parser deems it canonical already (then "+5", "05", "1.500",
 * "1E3" come back as sent), else the canonical form ("4096Mi" -> "4Gi").
 * For a fake API server; drift compares values, not text.
 */
int ks_quantity_server_text(const char *in, char *out, size_t outlen);
/*
 * The value in units of 10^SCALE, rounded up (away from zero) like
 * Quantity.ScaledValue: scale -3 gives millis ("1.5" -> 1500, "1n" -> 1),
 * 0 whole units. KS_ELIMIT when it does not fit an int64.
 */
int ks_quantity_scaled(const ks_quantity *q, int32_t scale, int64_t *out);

/* Five-field cron (minute hour day-of-month month day-of-week) with lists,
 * ranges, steps, '*', '?', month and weekday names, and the @yearly,
 * @annually, @monthly, @weekly, @daily, @midnight and @hourly macros, as a
 * CronJob accepts them (robfig/cron v3): day of week is 0-6 (7 is refused,
 * as the API server refuses it), '?' is allowed in every field, "@every" and
 * any "TZ" (TZ=, CRON_TZ=) are refused. On error returns KS_EINVAL and WHY
 * (may be NULL) gets the reason, e.g. `field 2 (hour): 25 is out of range
 * 0-23`; 160 bytes hold any reason with a short token. */
int ks_cron_check(const char *expr, char *why, size_t whylen);

/* Names. */
bool ks_is_dns1123_label(
	const char *s); /* <= 63, [a-z0-9]([-a-z0-9]*[a-z0-9])? */
bool ks_is_dns1123_subdomain(const char *s); /* <= 253, dot-separated labels */
bool ks_is_dns1035_label(const char *s);     /* <= 63, starts with a letter */
/* NULL when K is a valid label key (an optional DNS-1123 subdomain prefix
 * of at most 253 and '/', then a name of at most 63), else the reason, a
 * static string such as "must be 63 characters or less". */
const char *ks_label_key_problem(const char *k);
/* The same for annotation keys, which Kubernetes checks after lower-casing
 * them: "Example.com/Key" is a valid annotation key but not a label key. */
const char *ks_annotation_key_problem(const char *k);
/* NULL when V is a valid label value (<= 63, alnum at both ends, [-_.]). */
const char *ks_label_value_problem(const char *v);
/* ^[-._a-zA-Z][-._a-zA-Z0-9]*$ */
bool ks_is_env_name(const char *s);

/* The candidate closest to WORD when it is close enough to be a likely typo,
 * else NULL (borrowed from CANDIDATES). Distance is Damerau-Levenshtein
 * (adjacent transpositions count one) ignoring case, at most 2 and at most
 * half the length of WORD; a case-insensitive match is distance 0. Ties go
 * to the earlier candidate; NULL entries are skipped. */
const char *ks_did_you_mean(const char *word, const char *const *candidates,
			    size_t n);

#endif
