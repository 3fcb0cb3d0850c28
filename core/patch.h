/*
 * Patching Kubernetes objects held as jansson values: JSON merge patch
 * (RFC 7386), JSON patch (RFC 6902) and Kubernetes strategic merge patch,
 * plus the table of list merge keys that strategic merge patch, server-side
 * apply field sets (core/fieldset.h) and drift detection share.
 *
 * Every function here borrows its inputs (they are never modified) and hands
 * back a new reference in *out, which the caller json_decref()s. *out is set
 * only on success.
 */
#ifndef KS_CORE_PATCH_H
#define KS_CORE_PATCH_H

#include <jansson.h>
#include <stdbool.h>

#include "core/error.h"

/*
 * How the elements of a list at a given path are told apart.
 *
 * KS_LIST_ATOMIC: the list is one value (replaced as a whole by patches,
 * owned as a whole by a field manager).
 * KS_LIST_MAP: elements are objects identified by one or two key fields
 * (containers by "name", Service ports by "port" and "protocol"). An element
 * that lacks a key field is treated as having defaults[i] (NULL: the key is
 * required). Strategic merge patch matches on keys[0] alone, as Kubernetes'
 * patchMergeKey does; server-side apply and drift use all keys.
 * KS_LIST_SET: elements are scalars merged as a set (metadata.finalizers).
 */
typedef enum ks_list_type {
	KS_LIST_ATOMIC = 0,
	KS_LIST_MAP,
	KS_LIST_SET,
} ks_list_type;

typedef struct ks_list_key {
	ks_list_type type;
	int nkeys;		 /* 1 or 2 for KS_LIST_MAP, else 0 */
	const char *keys[2];	 /* key field names, keys[1] may be NULL */
	const char *defaults[2]; /* value of a missing key field, or NULL */
} ks_list_key;

/*
 * The merge strategy of the list at `path`, a dotted path of field names from
 * the object root with list positions left out, e.g.
 * "spec.template.spec.containers" or "spec.template.spec.containers.ports".
 * Matching is by path suffix, so a Pod's "spec.containers", a Deployment's
 * "spec.template.spec.containers" and a CronJob's
 * "spec.jobTemplate.spec.template.spec.containers" all give {name}. Returns a
 * pointer into a static table, or NULL for an atomic list (or an unknown
 * path). Only meaningful for built-in kinds (see ks_smp_supported): custom
 * resources have no merge keys without their schema.
 */
const ks_list_key *ks_list_merge_key(const char *path);

/*
 * Whether list elements a and b (objects) have the same key under k (all
 * of k's keys compared, missing ones taken from k->defaults). Two elements
 * missing a required key never match.
 */
bool ks_list_key_match(const ks_list_key *k, const json_t *a, const json_t *b);

/*
 * Whether the kind supports strategic merge patch: the built-in groups
 * (core v1, apps/v1, batch/v1, coordination.k8s.io/v1, discovery.k8s.io/v1,
 * networking.k8s.io/v1, policy/v1, rbac.authorization.k8s.io/v1,
 * storage.k8s.io/v1, autoscaling/v1 and v2, apiextensions.k8s.io/v1,
 * admissionregistration.k8s.io/v1, scheduling.k8s.io/v1, node.k8s.io/v1,
 * certificates.k8s.io/v1, events.k8s.io/v1, apiregistration.k8s.io/v1,
 * flowcontrol). Custom resources answer false (a real server says 415).
 * kind may be NULL (the group/version decides).
 */
bool ks_smp_supported(const char *api_version, const char *kind);

/*
 * RFC 7386 JSON merge patch: objects merge recursively, a null member
 * deletes the key, any non-object patch replaces the target. target may be
 * NULL (absent). Cannot fail; returns 0.
 */
int ks_merge_patch(json_t **out, const json_t *target, const json_t *patch);

/*
 * RFC 6902 JSON patch: ops is an array of {op, path, value|from}; op is one
 * of add, remove, replace, move, copy, test. Paths are JSON pointers (RFC
 * 6901) with ~0 and ~1 escapes; "-" appends to an array in add (and as the
 * target of move/copy). The operations are all or nothing: on error
 * (KS_EINVAL) *out is untouched and err says which operation failed (0-based
 * index), e.g. `json patch operation 1 (test) at "/data/a": value differs`.
 */
int ks_json_patch(json_t **out, const json_t *target, const json_t *ops,
		  ks_error *err);

/*
 * Deep equality as JSON means it: like json_equal, except that numbers
 * compare by value (1 equals 1.0). NULL equals only NULL.
 */
bool ks_json_equal(const json_t *a, const json_t *b);

/*
 * Resolves a JSON pointer ("" is the whole document, "/spec/replicas",
 * "/metadata/labels/app.kubernetes.io~1name") in doc. Returns a borrowed
 * reference, or NULL when a step does not exist or pointer is malformed.
 */
json_t *ks_json_pointer_get(const json_t *doc, const char *pointer);

/*
 * Kubernetes strategic merge patch of a built-in kind (api_version and kind
 * pick the merge keys; both are also used to refuse custom resources with
 * KS_EINVAL "strategic merge patch is not supported for <kind>").
 * Semantics as in k8s.io/apimachinery/pkg/util/strategicpatch:
 *  - maps merge recursively, null deletes a key;
 *  - lists with a merge key (ks_list_merge_key) merge element-wise by key:
 *    patch elements replace/merge into the matching target element, new
 *    elements are appended; an element {"<key>": v, "$patch": "delete"}
 *    deletes the matching element;
 *  - KS_LIST_SET lists (finalizers) are merged as sets;
 *  - other lists are replaced;
 *  - directives: "$patch": "replace" in a map (the map replaces the target
 *    map, minus the directive) or as a list element (the list replaces),
 *    "$patch": "delete" in a map (deletes it), "$patch": "merge" (default),
 *    "$deleteFromPrimitiveList/<field>": [values] removes scalars,
 *    "$setElementOrder/<field>": [...] orders the resulting list,
 *    "$retainKeys": [keys] drops target keys not listed.
 * Errors (KS_EINVAL) are for malformed directives, e.g. an unknown $patch
 * value.
 */
int ks_strategic_merge_patch(json_t **out, const json_t *target,
			     const json_t *patch, const char *api_version,
			     const char *kind, ks_error *err);

#endif
