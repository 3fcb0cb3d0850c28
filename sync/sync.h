/*
 * Talking to the cluster about a plan: reading what is live, applying,
 * pruning, and health.
 */
#ifndef KS_SYNC_SYNC_H
#define KS_SYNC_SYNC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "sync/kube.h"
#include "sync/plan.h"

/*
 * What the cluster holds for the plan's stacks (PLAN from
 * ks_sync_plan_scope): one LIST per resource type, cluster-wide, with the
 * label selector kusync.io/stack in (...), for every kind of the Spec and
 * the kinds kusync renders (ConfigMap, Secret, Service, Deployment, ...)
 * that the server serves, plus the Namespaces labelled
 * app.kubernetes.io/managed-by=kusync. *out is a new array of objects.
 * Failures as ks_kube_request (a Spec kind the server does not serve is
 * skipped: applying it will say so).
 */
int ks_sync_fetch_live(ks_kube_client *c, const ks_sync_plan *scope,
		       const json_t *spec, json_t **out, ks_error *err);

/* Health (spec/agent.md § Health). */
typedef enum ks_health {
	KS_HEALTHY,
	KS_PROGRESSING,
	KS_DEGRADED,
	KS_MISSING,
} ks_health;

const char *ks_health_name(ks_health h);

/*
 * The health of a live object (NULL: KS_MISSING). WHY (may be NULL) gets a
 * short reason when it is not healthy: "2 of 3 updated replicas are
 * available", "deployment exceeded its progress deadline".
 */
ks_health ks_sync_health(const json_t *live, char *why, size_t whylen);

typedef struct ks_sync_apply_opts {
	unsigned parallel;  /* resources applied at once; default 4 */
	bool wait;	    /* run health checks after applying */
	int64_t timeout_ms; /* for wait; default 5 minutes */
	unsigned poll_ms;   /* health polling interval; default 1000 */
	FILE *progress;	    /* a line per stage, or NULL */
} ks_sync_apply_opts;

/*
 * Applies PLAN: every create and update item by server-side apply (field
 * manager kusync, force) in dependency order, items whose dependencies are
 * done in parallel (at most opts->parallel); Secrets annotated
 * kusync.io/generate: password are first created under the field manager
 * kusync-generate with a random password from the CSPRNG (the same value
 * for a database's two Secrets) and never written again; a Job whose
 * template changed (or an object annotated kusync.io/replace-on-immutable)
 * is deleted and created again when the server refuses the change as
 * immutable. Then, when nothing failed, delete items are deleted. With
 * opts->wait, the applied objects are polled until all are healthy, one
 * is degraded, or the timeout passes.
 *
 * *report (always set) is a new array of {"id", "action", "result":
 * "applied"|"created"|"unchanged"|"deleted"|"failed"|"skipped"|"healthy"|
 * "degraded"|"timeout", "message"?}. A failure names the object and the
 * API server's message; its dependants are skipped, independent work goes
 * on. Returns 0 when everything succeeded (and was healthy with wait),
 * KS_ERROR when some resource failed (see the report), KS_EENV when the
 * cluster could not be reached at all.
 */
int ks_sync_apply(ks_kube_client *c, ks_sync_plan *plan,
		  const ks_sync_apply_opts *opts, json_t **report,
		  ks_error *err);

/* A random password of LEN characters (letters and digits) from the
 * CSPRNG; a new string. */
char *ks_sync_password(size_t len);

#endif
