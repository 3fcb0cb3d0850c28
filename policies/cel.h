/*
 * CEL, the Common Expression Language, as kusync's policies use it.
 *
 * The language is the one of cel-spec's langdef.md: literals (int, uint with
 * a u suffix, double, strings with escapes, raw and triple-quoted forms,
 * bytes, bool, null), lists and maps, field selection and indexing, has(),
 * in, arithmetic that reports overflow as an error, heterogeneous numeric
 * equality and ordering, && and || that absorb errors commutatively, the
 * ternary, the macros all, exists, exists_one, map and filter, and the
 * standard functions (size, contains, startsWith, endsWith, matches, the
 * conversions int, uint, double, string, bytes, bool, type, dyn, duration,
 * timestamp and the timestamp and duration getters).
 *
 * Where kusync differs, and why:
 * - JSON input integers become CEL int and JSON reals double (Kubernetes'
 *   CEL does the same; langdef maps every JSON number to double), so
 *   `object.spec.replicas + 1` is an int.
 * - Regular expressions are PCRE2 (not RE2) with a match limit: a pattern
 *   that backtracks without end is an error value, not a hang.
 * - Durations are int64 nanoseconds (about +-292 years); timestamps run
 *   from year 1 to 9999. Time zones in the getters are "UTC" and fixed
 *   offsets ("+05:30"); long names are an error.
 * - No protobuf messages: `M{...}` is a syntax error, no unknowns.
 * - Extensions Kubernetes' CEL also has: lowerAscii, upperAscii, trim,
 *   split, join, indexOf, replace on strings, and quantity(), isQuantity(),
 *   with isLessThan, isGreaterThan, compareTo, asApproximateFloat; here a
 *   quantity is its approximate value as a double ("1Gi" is 1073741824.0),
 *   not a type of its own.
 *
 * An expression is compiled once (parsed and checked against the declared
 * variable names: unknown functions, wrong arity, undeclared names and bad
 * literal regexes are compile errors with a position) and evaluated many
 * times. Evaluation never fails as a C call: errors (no such key, division
 * by zero, overflow, no such overload) are values of kind KS_CEL_ERROR.
 *
 * Limits: an expression of at most KS_CEL_MAX_EXPR bytes, nested at most
 * KS_CEL_MAX_DEPTH deep (deeper is a compile error, never a stack overflow),
 * and an evaluation cost budget per evaluation (see ks_cel_ctx_set_limit).
 */
#ifndef KS_POLICIES_CEL_H
#define KS_POLICIES_CEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/mem.h"

#define KS_CEL_MAX_EXPR 100000
#define KS_CEL_MAX_DEPTH 200
#define KS_CEL_MAX_VARS 64

typedef enum ks_cel_kind {
	KS_CEL_NULL,
	KS_CEL_BOOL,
	KS_CEL_INT,
	KS_CEL_UINT,
	KS_CEL_DOUBLE,
	KS_CEL_STRING,
	KS_CEL_BYTES,
	KS_CEL_LIST,
	KS_CEL_MAP,
	KS_CEL_TYPE,
	KS_CEL_DURATION,
	KS_CEL_TIMESTAMP,
	KS_CEL_ERROR,
} ks_cel_kind;

struct ks_cel_list;
struct ks_cel_map;
struct ks_cel_err;

/*
 * A value. Small values live inline; strings, lists and maps point either
 * into the JSON input (borrowed) or into the evaluation context's memory,
 * so a result is valid until the next evaluation on the same context.
 */
typedef struct ks_cel_value {
	uint8_t kind; /* ks_cel_kind */
	uint8_t json; /* list or map: 1 when v.json is a jansson value */
	uint16_t pad;
	uint32_t aux; /* string/bytes length; timestamp nanos; type's kind */
	union {
		int b;
		int64_t i; /* int; duration nanoseconds; timestamp seconds */
		uint64_t u;
		double d;
		const char *s; /* string (UTF-8) or bytes, not NUL-terminated */
		const json_t *json;
		const struct ks_cel_list *list;
		const struct ks_cel_map *map;
		const struct ks_cel_err *err;
	} v;
} ks_cel_value;

/* Where a compile error is: 1-based line and column (in characters) within
 * the expression text. */
typedef struct ks_cel_pos {
	unsigned line;
	unsigned col;
} ks_cel_pos;

typedef struct ks_cel_program ks_cel_program;
typedef struct ks_cel_ctx ks_cel_ctx;

/*
 * Compiles EXPR (LEN bytes, need not be NUL-terminated) with the variables
 * NAMES[0..NVARS-1] declared; at evaluation the i-th variable's value is
 * the i-th element of the array given to ks_cel_eval. On success *out is a
 * new program (ks_cel_program_free). On failure returns KS_EINVAL (syntax
 * or check error) or KS_ELIMIT (too long, too deep), with the message in
 * err (no position in it) and the position in *pos.
 */
int ks_cel_compile(ks_cel_program **out, const char *expr, size_t len,
		   const char *const *names, size_t nvars, ks_cel_pos *pos,
		   ks_error *err);
void ks_cel_program_free(ks_cel_program *p);

/* An evaluation context: scratch memory reused across evaluations, the
 * regex cache and the cost budget. One per thread. */
ks_cel_ctx *ks_cel_ctx_new(void);
void ks_cel_ctx_free(ks_cel_ctx *c);
/* Sets the cost budget of one evaluation (roughly: nodes visited plus
 * elements copied); past it the result is an error. Default 10,000,000. */
void ks_cel_ctx_set_limit(ks_cel_ctx *c, uint64_t limit);

/*
 * Evaluates P with VARS (borrowed; NVARS must equal the number declared;
 * a NULL entry is an unbound variable, an error if read). The result is
 * valid until the next ks_cel_eval on C or ks_cel_ctx_free.
 */
ks_cel_value ks_cel_eval(ks_cel_ctx *c, const ks_cel_program *p,
			 json_t *const *vars, size_t nvars);

/* The message of an error value (borrowed). */
const char *ks_cel_error_message(const ks_cel_value *v);
/* The column (1-based, 0 = unknown) of the expression that raised it. */
unsigned ks_cel_error_col(const ks_cel_value *v);

/* The name of a kind's type, as type() shows it: "int", "list",
 * "google.protobuf.Duration"; "error" for errors. */
const char *ks_cel_kind_name(ks_cel_kind k);

/*
 * Writes V as JSON: int and uint as numbers, double as a number that always
 * has a '.' or an exponent (1.0), NaN and infinities as the strings "NaN",
 * "Infinity", "-Infinity" (langdef's JSON mapping), bytes as base64,
 * durations as Go-style text ("1h2m3.5s"), timestamps as RFC 3339 in UTC,
 * types as their name, map keys that are not strings as their text.
 * Returns KS_EINVAL for an error value (nothing written).
 */
int ks_cel_value_to_json(ks_buf *out, const ks_cel_value *v);

/*
 * Writes V as CEL source text that evaluates back to an identical value:
 * 1, 1u, 1.0, "s", b"\xff", [1, 2], {"a": 1}, int, duration("1s"),
 * timestamp("2020-01-01T00:00:00Z"); an error as `error("message")`.
 * Distinct values of distinct kinds always print differently, so tests
 * compare values by this text.
 */
void ks_cel_value_format(ks_buf *out, const ks_cel_value *v);

/* Converts V into a new jansson value (NULL for errors), with the mapping
 * of ks_cel_value_to_json. Lists and maps that came from the input JSON are
 * shared (a new reference to them), not copied: treat the result as
 * read-only. */
json_t *ks_cel_value_to_jansson(const ks_cel_value *v);

#endif
