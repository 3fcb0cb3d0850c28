/*
 * Plans: what applying a Spec would change in a cluster, resource by
 * resource, with the field differences; and the drift report, which is the
 * same comparison read the other way.
 *
 * Everything here is pure: live objects come in as values (fetched by
 * sync/sync.h), so the comparison rules can be tested without a cluster.
 *
 * Comparison rules (spec/agent.md § Drift): only the fields kusync sets
 * (the desired object's field set, core/fieldset.h) plus the fields the
 * live object says kusync applied before and no longer does (those apply
 * would remove); keyed lists matched by their keys (core/patch.h's table);
 * quantities by value; status, server metadata and ignoreDifferences
 * pointers left out; Secret data shown only as hashes.
 */
#ifndef KS_SYNC_PLAN_H
#define KS_SYNC_PLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/error.h"
#include "core/mem.h"

/* The field manager of kusync's applies, and of generated passwords. */
#define KS_SYNC_MANAGER "kusync"
#define KS_SYNC_GENERATE_MANAGER "kusync-generate"

/* Labels and annotations kusync reads. */
#define KS_LABEL_APP "kusync.io/app"
#define KS_LABEL_STACK "kusync.io/stack"
#define KS_LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define KS_LABEL_CELL "kusync.io/cell"
#define KS_ANN_GENERATE "kusync.io/generate"
#define KS_ANN_PRUNE "kusync.io/prune"
#define KS_ANN_REPLACE "kusync.io/replace-on-immutable"

/*
 * The id of an object, apiVersion:kind[:namespace]:name (the Spec's
 * resource ids). A new string; NULL when obj lacks apiVersion, kind or
 * name.
 */
char *ks_sync_object_id(const json_t *obj);

/*
 * The JSON pointers of RULES (ignoreDifferences entries: {group?, kind,
 * name?, namespace?, jsonPointers: [...]}) that apply to OBJ. A new array
 * (empty when none apply). RULES may be NULL.
 */
json_t *ks_sync_ignored_pointers(const json_t *rules, const json_t *obj);

/*
 * What kusync applies for a desired object: a deep copy of OBJ without
 * status, without server-set metadata, and without the fields at POINTERS
 * (may be NULL), so that kusync does not own them.
 */
json_t *ks_sync_applied_form(const json_t *obj, const json_t *pointers);

/*
 * The field differences between DESIRED (an applied form) and LIVE (NULL:
 * the object does not exist, then there are none), as a new array of
 * {"path", "desired", "live"} entries in the order of the desired object
 * (a side that has no value at that path has no member). A field kusync
 * applied before (LIVE's managedFields, manager "kusync", operation Apply)
 * that DESIRED lacks appears with "live" only. POINTERS (may be NULL) are
 * left out on the live side too. For Secrets, values under data and
 * stringData are replaced by "sha256:<first 8 hex digits>" and the entry
 * gets "secret": true.
 *
 * Paths are dotted; a keyed list element is written [key=value] (two keys
 * [port=80,protocol=TCP]), other list elements [index]; a field name that
 * holds '.', '[', ']' or '"' is quoted:
 * metadata.labels["app.kubernetes.io/name"].
 */
int ks_sync_diff(json_t **out, const json_t *desired, const json_t *live,
		 const json_t *pointers, ks_error *err);

/*
 * Writes one field entry as text: `PATH  DESIRED -> LIVE` parts, JSON
 * compact values, "(absent)" for a missing side, and for secret entries
 * `(changed, sha256:1234abcd -> sha256:9876fedc)`. Used by preview (desired
 * is what apply would set: `live -> desired` reads better there, so
 * TO_DESIRED swaps the sides).
 */
void ks_sync_field_text(ks_buf *out, const json_t *field, bool to_desired);

/* Actions of a plan. */
typedef enum ks_sync_action {
	KS_ACT_CREATE,
	KS_ACT_UPDATE,
	KS_ACT_UNCHANGED,
	KS_ACT_DELETE,
	KS_ACT_ORPHAN, /* left in place: no --prune, or prune: "false" */
} ks_sync_action;

const char *ks_sync_action_name(ks_sync_action a);

/* One resource of a plan. Fields are owned by the plan. */
typedef struct ks_sync_item {
	char *id;
	char *app; /* the app it belongs to ("" for none) */
	ks_sync_action action;
	json_t *desired; /* the applied form; NULL for delete/orphan */
	json_t *live;	 /* NULL when missing */
	json_t *fields;	 /* array of field entries */
	size_t *deps;	 /* indexes of items this one waits for */
	size_t ndeps;
	/* the subset of deps from the app's previous cell: with --wait they
	 * must be healthy first */
	size_t *cell_deps;
	size_t ncell_deps;
	bool generate; /* kusync.io/generate: password Secret */
	char *why;     /* why an orphan is kept, or NULL */
} ks_sync_item;

typedef struct ks_sync_plan {
	ks_sync_item *items;
	size_t nitems;
	char **apps; /* the Spec's apps, in order */
	size_t napps;
	char **stacks; /* <project>-<stack> of the Spec's apps, unique */
	size_t nstacks;
} ks_sync_plan;

typedef struct ks_sync_plan_opts {
	bool prune;	      /* objects to delete become KS_ACT_DELETE */
	const json_t *ignore; /* ignoreDifferences rules, or NULL */
	/* Leftovers are only the objects whose kusync.io/app is one of the
	 * Spec's apps (the agent plans one app of a stack at a time; the
	 * stack's other apps are not leftovers). */
	bool by_app;
} ks_sync_plan_opts;

/*
 * Reads the Spec's apps and stacks into an empty plan (no items), so the
 * caller knows which stacks to list before planning.
 */
int ks_sync_plan_scope(ks_sync_plan **out, const json_t *spec, ks_error *err);

/*
 * Plans SPEC against LIVE (an array of live objects with apiVersion and
 * kind: what the cluster holds of the Spec's kinds with the stacks'
 * ownership labels, plus the Namespaces): each Spec resource becomes
 * create (no live object), update (field differences) or unchanged; each
 * live object with kusync.io/stack of a planned stack that the Spec lacks,
 * with no ownerReferences and not a Namespace, becomes delete (with
 * opts->prune, unless annotated kusync.io/prune: "false") or orphan.
 * Dependencies come from dependsOn, plus each namespaced resource's
 * Namespace when the Spec has it, plus, for an app with cells, the
 * previous cell's resources (label kusync.io/cell) for each cell's. PLAN is
 * filled in (it must come from ks_sync_plan_scope on the same Spec). KS_EINVAL
 * for a malformed Spec.
 */
int ks_sync_plan_build(ks_sync_plan *plan, const json_t *spec,
		       const json_t *live, const ks_sync_plan_opts *opts,
		       ks_error *err);

void ks_sync_plan_free(ks_sync_plan *p);

/* Whether the plan changes anything (create, update or delete). */
bool ks_sync_plan_has_changes(const ks_sync_plan *p);

/*
 * The preview JSON: {"apps": [{"app", "actions": [{"id", "action",
 * "fields"}]}]} (orphans are left out: apply leaves them alone).
 */
json_t *ks_sync_plan_json(const ks_sync_plan *p);

/* The preview as text for people: per app a line, then one line per
 * resource with a sign (+ create, ~ update, - delete, = unchanged, ?
 * orphan) and its fields indented and aligned; a summary at the end. */
void ks_sync_plan_text(ks_buf *out, const ks_sync_plan *p);

/*
 * The drift reports of a plan: for each app {"app", "release": null,
 * "commit": null, "checkedAt", "resources": [{"id", "state":
 * "modified"|"missing"|"orphan", "fields"}]} (only resources that drifted).
 * NOW is the RFC 3339 time to put in checkedAt. A new {"apps": [...]}.
 */
json_t *ks_sync_drift_json(const ks_sync_plan *p, const char *now);

/* Number of drifted resources in a drift JSON ({"apps": [...]}). */
size_t ks_sync_drift_count(const json_t *drift);

/* The drift as aligned text, one line per field (RESOURCE STATE FIELD
 * DESIRED LIVE), or "no drift". */
void ks_sync_drift_text(ks_buf *out, const json_t *drift);

#endif
