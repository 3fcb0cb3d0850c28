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

/* Go-style durations: "90s", "10m", "1h30m", "250ms", "1.5h"; units ns, us,
 * ms, s, m, h. Negative or unit-less values (other than "0") are refused. */
int ks_duration_parse(const char *s, int64_t *out_ms);
/* Formats milliseconds the way a person writes them: "10m", "1h30m", "90s"
 * -> "1m30s", "250ms". */
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

int ks_quantity_parse(const char *s, ks_quantity *q);
/* The API server's canonical text: "4096Mi" -> "4Gi", "1000m" -> "1",
 * "0.5Gi" -> "512Mi", "1.5" -> "1500m". */
int ks_quantity_format(const ks_quantity *q, char *out, size_t outlen);
/* Compares by value: <0, 0, >0. */
int ks_quantity_cmp(const ks_quantity *a, const ks_quantity *b);
/* Parses and formats in one step; KS_EINVAL when not a quantity. */
int ks_quantity_canonical(const char *in, char *out, size_t outlen);

/* Five-field cron (minute hour day-of-month month day-of-week) with lists,
 * ranges, steps, '*', '?', month and weekday names, and the @yearly,
 * @annually, @monthly, @weekly, @daily, @midnight and @hourly macros, as a
 * CronJob accepts them. On error WHY gets the reason. */
int ks_cron_check(const char *expr, char *why, size_t whylen);

/* Names. */
bool ks_is_dns1123_label(const char *s);     /* <= 63, [a-z0-9]([-a-z0-9]*[a-z0-9])? */
bool ks_is_dns1123_subdomain(const char *s); /* <= 253, dot-separated labels */
bool ks_is_dns1035_label(const char *s);     /* <= 63, starts with a letter */
/* NULL when K is a valid label (or annotation) key, else the reason. */
const char *ks_label_key_problem(const char *k);
/* NULL when V is a valid label value (<= 63, alnum at both ends, [-_.]). */
const char *ks_label_value_problem(const char *v);
/* ^[-._a-zA-Z][-._a-zA-Z0-9]*$ */
bool ks_is_env_name(const char *s);

/* The candidate closest to WORD when it is close enough to be a likely typo
 * (edit distance at most 2, or a case-insensitive match), else NULL. */
const char *ks_did_you_mean(const char *word, const char *const *candidates,
			    size_t n);

#endif
