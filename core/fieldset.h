/*
 * Server-side apply field sets: which fields of an object a field manager
 * owns, in the shape of metadata.managedFields[].fieldsV1, and the apply and
 * update algorithms that maintain them (after sigs.k8s.io/structured-merge-
 * diff, without schemas: list merge keys come from core/patch.h's table).
 *
 * A field set is a set of paths. A path is a sequence of elements, each one
 * of: a field name ("f:spec"), a keyed list element
 * ("k:{\"name\":\"nginx\"}", the key fields as compact JSON with sorted
 * keys), a set element ("v:\"foo\"") or a list index ("i:0"). In fieldsV1 a
 * path that is in the set and has no sub-paths is `{}`; one that is in the
 * set and has sub-paths carries a "." member.
 *
 * Paths print as the API server prints them in conflicts: `.data.b`,
 * `.spec.template.spec.containers[name="nginx"].image`,
 * `.spec.ports[port=80,protocol="TCP"]`, `.metadata.finalizers[="x"]`.
 */
#ifndef KS_CORE_FIELDSET_H
#define KS_CORE_FIELDSET_H

#include <jansson.h>
#include <stdbool.h>

#include "core/error.h"

typedef struct ks_fieldset ks_fieldset;

/* An empty set; ks_fieldset_free frees it. */
ks_fieldset *ks_fieldset_new(void);
/* Accepts NULL. */
void ks_fieldset_free(ks_fieldset *s);

/*
 * Reads a fieldsV1 object. KS_EINVAL (with err) when it is not an object of
 * objects or a key lacks an f:/k:/v:/i: prefix.
 */
int ks_fieldset_from_fields_v1(ks_fieldset **out, const json_t *fields_v1,
			       ks_error *err);

/* The set as a fieldsV1 object (new reference; {} for the empty set). */
json_t *ks_fieldset_to_fields_v1(const ks_fieldset *s);

bool ks_fieldset_empty(const ks_fieldset *s);

/*
 * Whether the printed path (".data.b", ".spec.containers[name=\"a\"]") is a
 * member of the set. For tests and diagnostics.
 */
bool ks_fieldset_has(const ks_fieldset *s, const char *path);

/* Every member path in printed form, sorted, as a new JSON array. */
json_t *ks_fieldset_paths(const ks_fieldset *s);

/* New sets; the inputs are borrowed. */
ks_fieldset *ks_fieldset_union(const ks_fieldset *a, const ks_fieldset *b);
ks_fieldset *ks_fieldset_difference(const ks_fieldset *a, const ks_fieldset *b);
ks_fieldset *ks_fieldset_intersection(const ks_fieldset *a,
				      const ks_fieldset *b);

/*
 * Which part of an object a write covers. KS_SCOPE_MAIN leaves out `status`
 * (a main-resource write of a kind that has a status subresource),
 * KS_SCOPE_STATUS keeps only `status` (a write to /status), KS_SCOPE_ALL
 * keeps both (a kind without a status subresource).
 */
typedef enum ks_fieldset_scope {
	KS_SCOPE_ALL = 0,
	KS_SCOPE_MAIN,
	KS_SCOPE_STATUS,
} ks_fieldset_scope;

/*
 * The fields an applied configuration sets: every scalar, null, empty object
 * and atomic list is a member; keyed list elements and set elements are
 * members and keyed elements are descended into; non-empty objects are not
 * members themselves. apiVersion, kind and the server-managed metadata
 * (name, namespace, uid, resourceVersion, generation, creationTimestamp,
 * selfLink, managedFields, deletionTimestamp, deletionGracePeriodSeconds)
 * are left out. Merge keys apply when the object's apiVersion/kind is a
 * built-in (ks_smp_supported); otherwise every list is atomic. Built-ins'
 * atomic maps (spec.selector, nodeSelector, labelSelector,
 * namespaceSelector) are members as a whole, as the API server has them.
 */
int ks_fieldset_from_object(ks_fieldset **out, const json_t *obj,
			    ks_fieldset_scope scope, ks_error *err);

/*
 * The part of obj that the set covers (SMD's ExtractItems): a member path
 * brings its whole value, a path with members below brings just those;
 * keyed list elements keep their key fields so they can be matched. With
 * the set of what kusync applied, ks_json_equal on the extracts of the
 * applied and the live object tells drift in the owned fields only. List
 * keys follow obj's apiVersion/kind as in ks_fieldset_from_object. Returns a
 * new reference ({} when nothing is covered).
 */
json_t *ks_fieldset_extract(const ks_fieldset *s, const json_t *obj);

/*
 * The set of the managedFields entry with this manager and operation
 * ("Apply" or "Update"; NULL: any operation, union) and subresource (NULL or
 * "" for the main resource). An empty set if there is none. managed_fields
 * may be NULL.
 */
int ks_fieldset_of_manager(ks_fieldset **out, const json_t *managed_fields,
			   const char *manager, const char *operation,
			   const char *subresource, ks_error *err);

/* How one write is recorded. */
typedef struct ks_ssa_opts {
	const char *manager;	 /* required (fieldManager) */
	const char *api_version; /* for the entry; NULL: the object's */
	const char *subresource; /* NULL for the main resource, or "status" */
	bool status_subresource; /* the kind has a /status subresource */
	bool force;		 /* apply: take over conflicting fields */
	const char *now;	 /* entry time, RFC3339 seconds; NULL: now */
} ks_ssa_opts;

/*
 * Server-side apply of `applied` (the apply-patch body, a full object
 * configuration) onto `live` (NULL when the object does not exist yet).
 *
 * The result *out_obj is live with the applied configuration merged in
 * (maps recursively, keyed lists by key, set lists as sets, everything else
 * replaced; a null in the configuration removes the field), and with the
 * fields removed that this manager applied last time (its Apply entry in
 * live's managedFields), that it no longer applies, and that no other
 * manager owns. Writes are scoped (see ks_fieldset_scope): with
 * status_subresource a main-resource apply ignores `status`, and an apply
 * to "status" ignores everything but `status`. metadata.managedFields of
 * *out_obj is set to the new list, which is also returned in
 * *out_managed_fields if that is not NULL. Server-set metadata (uid,
 * resourceVersion, ...) is kept from live; the caller fills it in on create.
 *
 * Conflicts: a field owned by another manager entry (any operation, and the
 * same manager name under another operation counts as another manager)
 * whose value the apply changes. Without force the result is KS_ECONFLICT,
 * err->msg is the API server's message (`Apply failed with 1 conflict:
 * conflict with "curl" using v1: .data.b`, or for several
 * `Apply failed with 2 conflicts: conflicts with "curl" using v1:\n- .data.a
 * \n- .data.b`), and *conflicts (if conflicts is not NULL) gets a new array
 * of {"manager", "operation", "apiVersion", "subresource"?, "field"
 * (".data.b"), "message" ("conflict with \"curl\" using v1")}, one per
 * field, ready for details.causes. With force the fields move to this
 * manager. Outputs are set only on success (conflicts only on conflict).
 * KS_EINVAL for a missing manager (err->msg "fieldManager: Required value:
 * is required for apply patch"), or an applied configuration that is not
 * an object or has managedFields. The entry's time changes only when its
 * fields do, as on a real server; entries are ordered Apply first, then by
 * time and manager.
 */
int ks_ssa_apply(json_t **out_obj, json_t **out_managed_fields,
		 json_t **conflicts, const json_t *live, const json_t *applied,
		 const ks_ssa_opts *opts, ks_error *err);

/*
 * Records a non-apply write (POST, PUT, PATCH other than apply) by
 * opts->manager that turned old_obj (NULL on create) into new_obj: the
 * manager's Update entry gains every field the write added or changed and
 * loses the fields it removed, other managers lose the fields it changed or
 * removed, entries left empty disappear. The starting list is new_obj's
 * metadata.managedFields when the client sent a non-empty one (a client may
 * edit managedFields, as kubectl does when it migrates to server-side
 * apply), [{}] resets it to empty, otherwise old_obj's. *out is a new
 * managedFields array (the caller stores it in the object). A map the
 * write creates is owned itself (fieldsV1 "."), except the structs named
 * spec, metadata, status, template and strategy, which a real server sees
 * as always present.
 */
int ks_fieldset_update_managed(json_t **out, const json_t *old_obj,
			       const json_t *new_obj, const ks_ssa_opts *opts,
			       ks_error *err);

#endif
