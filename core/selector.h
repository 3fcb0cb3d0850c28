/*
 * Kubernetes label selectors (the `labelSelector` query parameter and the
 * LabelSelector objects of workloads) and the field selectors every type
 * supports (`metadata.name`, `metadata.namespace`).
 */
#ifndef KS_CORE_SELECTOR_H
#define KS_CORE_SELECTOR_H

#include <jansson.h>
#include <stdbool.h>

#include "core/error.h"

typedef struct ks_selector ks_selector;

/*
 * Parses a label selector as kube-apiserver does
 * (k8s.io/apimachinery/pkg/labels): comma-separated requirements `k=v`,
 * `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>N`, `k<N`,
 * with optional whitespace. Keys and values are validated as label keys and
 * values. The empty string selects everything. On error returns KS_EINVAL
 * and err->msg is the server's message, e.g.
 * `unable to parse requirement: found '=', expected: identifier`; a server
 * answers it as 400 BadRequest. The caller frees *out with ks_selector_free.
 */
int ks_selector_parse(ks_selector **out, const char *text, ks_error *err);

/*
 * Builds a selector from a LabelSelector object ({"matchLabels": {...},
 * "matchExpressions": [{"key", "operator": In|NotIn|Exists|DoesNotExist,
 * "values"}]}), as metav1.LabelSelectorAsSelector does: an empty object
 * selects everything; sel may not be NULL (a nil LabelSelector selects
 * nothing: the caller decides). KS_EINVAL for an unknown operator or
 * missing/extra values.
 */
int ks_selector_from_label_selector(ks_selector **out, const json_t *sel,
				    ks_error *err);

/*
 * Whether an object's labels (a JSON object of strings, or NULL for none)
 * satisfy every requirement. `k!=v` and `k notin (...)` match objects that
 * lack k.
 */
bool ks_selector_matches(const ks_selector *sel, const json_t *labels);

/* Whether the selector has no requirements (selects everything). */
bool ks_selector_empty(const ks_selector *sel);

/*
 * The selector in the server's canonical string form (requirements sorted by
 * key, values sorted: `app=web,tier in (a,b)`), usable as a labelSelector
 * query parameter. The caller frees the string.
 */
char *ks_selector_string(const ks_selector *sel);

/* Frees the selector. Accepts NULL. */
void ks_selector_free(ks_selector *sel);

typedef struct ks_field_selector ks_field_selector;

/*
 * Parses a field selector: comma-separated `field=value`, `field==value`,
 * `field!=value` with field metadata.name or metadata.namespace (values may
 * escape `\`, `,` and `=` with a backslash). Errors (KS_EINVAL) carry the
 * server's 400 message: `"data.a" is not a known field selector: only
 * "metadata.name", "metadata.namespace"` or
 * `invalid selector: 'x'; can't understand 'x'`.
 */
int ks_field_selector_parse(ks_field_selector **out, const char *text,
			    ks_error *err);

/* Whether the object (its metadata.name / metadata.namespace; a missing
 * one counts as "") satisfies the selector. */
bool ks_field_selector_matches(const ks_field_selector *sel, const json_t *obj);

/* Frees the selector. Accepts NULL. */
void ks_field_selector_free(ks_field_selector *sel);

#endif
