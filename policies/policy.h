/*
 * PolicySets: named lists of CEL rules over Kubernetes objects, loaded from
 * YAML files, and the check that runs them over a rendered Spec or plain
 * manifests.
 *
 *   apiVersion: kusync.io/v1
 *   kind: PolicySet
 *   metadata: {name: release-strategy-check}
 *   spec:
 *     variables:                       # optional, as in a
 *       - name: podSpec                # ValidatingAdmissionPolicy:
 *         expression: "object.spec"    # variables.podSpec in rules
 *     rules:
 *       - name: min-replicas
 *         match:                       # all optional; empty matches all
 *           kinds: [Deployment, CollaSet]
 *           namespaces: [prod]
 *           labelSelector: {matchLabels: {tier: web}}
 *         validate: "object.spec.replicas >= 2"
 *         message: "at least 2 replicas"            # or:
 *         messageExpression: "'has ' + string(object.spec.replicas)"
 *
 * Rules see `object` (the Kubernetes object), `app` (the Spec's app entry,
 * null for plain manifests), `resources` (the Kubernetes objects of the same
 * app, or every manifest) and `variables`. A rule passes when validate is
 * true; false fails it with its message; an evaluation error fails it too,
 * with the error as the message (a policy that cannot decide does not let
 * a release through).
 */
#ifndef KS_POLICIES_POLICY_H
#define KS_POLICIES_POLICY_H

#include <jansson.h>
#include <stddef.h>

#include "core/error.h"
#include "core/mem.h"

typedef struct ks_policy_set ks_policy_set;
typedef struct ks_policy_registry ks_policy_registry;

ks_policy_registry *ks_policy_registry_new(void);
void ks_policy_registry_free(ks_policy_registry *r);

/*
 * Loads one PolicySet file. Every problem (YAML, shape, a CEL compile error
 * in validate, messageExpression or a variable) goes to ERRS as
 * FILE:LINE:COL: message, and nothing of the file is kept; returns
 * KS_EINVAL then. A set whose name is already loaded replaces it when
 * REPLACE is set (a user's folder overrides a built-in), else is an error.
 */
int ks_policy_load_file(ks_policy_registry *r, const char *path, int replace,
			ks_errlist *errs);

/* The same for a file's contents (the agent reads policy folders from a
 * Git tree); NAME is the file name used in messages. */
int ks_policy_load_buffer(ks_policy_registry *r, const char *name,
			  const char *text, size_t len, int replace,
			  ks_errlist *errs);

/* Loads every *.yaml and *.yml file of DIR in name order (not recursive),
 * with ks_policy_load_file(..., replace=1, ...). KS_EIO when DIR cannot be
 * read. */
int ks_policy_load_dir(ks_policy_registry *r, const char *dir,
		       ks_errlist *errs);

/* The folder of the built-in sets: $KUSYNC_BUILTIN_POLICIES when set,
 * else policies/builtin of the source tree kusync was built from. */
const char *ks_policy_builtin_dir(void);

/* Loads the built-in sets (ks_policy_load_dir of ks_policy_builtin_dir). */
int ks_policy_load_builtin(ks_policy_registry *r, ks_errlist *errs);

/* A loaded set by name (borrowed), or NULL. */
const ks_policy_set *ks_policy_find(const ks_policy_registry *r,
				    const char *name);
/* The names of the loaded sets, sorted (borrowed, NULL-terminated). */
const char *const *ks_policy_names(ks_policy_registry *r);
size_t ks_policy_rule_count(const ks_policy_set *s);
/* The name of rule I (borrowed). */
const char *ks_policy_rule_name(const ks_policy_set *s, size_t i);

/* One failed rule on one object. */
typedef struct ks_policy_violation {
	char *set;
	char *rule;
	char *kind;   /* the object's kind */
	char *object; /* namespace/name, or name for cluster objects */
	char *message;
	int mandatory;
} ks_policy_violation;

typedef struct ks_policy_report {
	ks_policy_violation *v;
	size_t n, alloc;
	size_t evaluated; /* rule evaluations (matching rule x object) */
} ks_policy_report;

void ks_policy_report_init(ks_policy_report *rep);
void ks_policy_report_release(ks_policy_report *rep);
/* True when a mandatory rule failed. */
int ks_policy_report_blocks(const ks_policy_report *rep);
/* Text: one line per violation,
 * `SET/RULE KIND OBJECT: MESSAGE (mandatory|advisory)`. */
void ks_policy_report_text(ks_buf *out, const ks_policy_report *rep);
/* JSON: {"violations": [{set, rule, kind, object, message, mandatory}],
 * "evaluated": N, "blocked": bool}, a new reference. */
json_t *ks_policy_report_json(const ks_policy_report *rep);

/*
 * Runs SET over OBJECTS (a JSON array of Kubernetes objects, borrowed),
 * with APP (borrowed, may be NULL for null) and RESOURCES (the array the
 * rules see as `resources`; NULL means OBJECTS). Appends violations.
 */
void ks_policy_check_objects(const ks_policy_set *set, int mandatory,
			     const json_t *objects, const json_t *app,
			     const json_t *resources, ks_policy_report *rep);

/*
 * Runs each app's policy sets (apps[].policysets: name -> {kind}) over the
 * Kubernetes objects of that app's resources in SPEC. An unknown set name
 * goes to ERRS (`app "NAME": unknown policy set "X"`) and the function
 * returns KS_EINVAL after checking the rest.
 */
int ks_policy_check_spec(const ks_policy_registry *r, const json_t *spec,
			 ks_policy_report *rep, ks_errlist *errs);

#endif
