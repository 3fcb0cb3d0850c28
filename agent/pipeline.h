/*
 * The release pipeline of one app (spec/agent.md § Per commit, § Releases
 * and state, § Health, § Drift; issue 7): pre-check, preview, approval,
 * deploy cell by cell with a release check per cell, prune, rollback.
 *
 * A release is a JSON object (the record of agent-plan.md § Runtime model)
 * that the caller owns; these functions update it in place and write every
 * transition to the store (ks_store_put) BEFORE acting on it, then call
 * env->on_change. So a release found in the store in any phase can be
 * handed to ks_pipeline_run again after a crash and it goes on from there.
 *
 * Everything here blocks (Kubernetes requests, health polling): call it
 * from a worker thread, one call per app at a time (the daemon guarantees
 * that). Nothing here keeps state between calls.
 *
 * Choices where the spec is silent (also in docs/pipeline.md):
 * - An app without cells deploys in one batch whose cell entry is
 *   {"zone": "", "cell": "", "phase": ...}.
 * - Resources without a kusync.io/cell label (Namespaces, Services,
 *   ConfigMaps shared by the cells) go with the first cell.
 * - A failed first release (no previous succeeded one) with
 *   rollbackIfFailed deletes nothing: as with Argo CD, there is nothing to
 *   go back to, so the objects stay for inspection and the release stays
 *   Failed, its message saying nothing was reverted (RolledBack would
 *   claim an older version runs).
 * - A rollback re-applies the previous release's resources of the touched
 *   cells plus its shared ones, in one batch, then checks their health
 *   (same timeout); what the failed release added is not pruned. A
 *   rollback whose check fails ends Failed ("rollback to release N
 *   failed: ...").
 * - Between Failed and RollingBack the release carries "rollbackPending":
 *   true, so a crash there still rolls back on resume.
 */
#ifndef KS_AGENT_PIPELINE_H
#define KS_AGENT_PIPELINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/config.h"
#include "core/error.h"
#include "core/log.h"
#include "policies/policy.h"
#include "sync/kube.h"

typedef struct ks_store ks_store;
typedef struct ks_metrics ks_metrics;

typedef struct ks_pipeline_env {
	ks_kube_client *kube;
	ks_store *store;
	const ks_agent_source *source; /* namespaces, prune, ignore */
	/* built-ins + config folders, loaded once; NULL: no policy check */
	const ks_policy_registry *policies;
	const volatile int *cancel; /* shutdown: stop between requests; NULL */
	/* After each stored transition (worker thread; RELEASE borrowed for
	 * the call: copy what you keep). May be NULL. */
	void (*on_change)(void *ud, const json_t *release);
	void *ud;
	ks_metrics *metrics;  /* may be NULL */
	const ks_logger *log; /* may be NULL */
	unsigned poll_ms;     /* health polling interval; 0 = 500 ms */
	/*
	 * The preview's live objects from the caller's cache: a new array of
	 * the objects labelled kusync.io/app=APP, full (apiVersion, kind,
	 * metadata.managedFields) as sync/watch.h ks_watch_objects gives
	 * them, or NULL when the cache is not complete (not synced): then
	 * they are listed from the cluster as without a cache. Spec objects
	 * the cache lacks (Namespaces, objects without the label) are read
	 * with one GET each. Called on the worker thread with UD. May be
	 * NULL.
	 */
	json_t *(*live)(void *ud, const char *app);
	/*
	 * RELEASE (ks_pipeline_run) is new and not stored yet: it is stored
	 * with its first transition instead of before it (one durable write
	 * less before the first apply; nothing is acted on in between: the
	 * pre-check and the preview only read), or as it is (Pending) when
	 * the run stops before any transition.
	 */
	bool fresh;
} ks_pipeline_env;

/* Phase names, as stored in release.phase. */
#define KS_PHASE_PENDING "Pending"
#define KS_PHASE_WAITING "WaitingForDependencies"
#define KS_PHASE_BLOCKED "Blocked"
#define KS_PHASE_AWAITING "AwaitingApproval"
#define KS_PHASE_DEPLOYING "Deploying"
#define KS_PHASE_CHECKING "Checking"
#define KS_PHASE_SUCCEEDED "Succeeded"
#define KS_PHASE_FAILED "Failed"
#define KS_PHASE_ROLLINGBACK "RollingBack"
#define KS_PHASE_ROLLEDBACK "RolledBack"
#define KS_PHASE_SUPERSEDED "Superseded"

/* Whether PHASE is final (Blocked, Succeeded, Failed, RolledBack,
 * Superseded): ks_pipeline_run does nothing more with such a release. */
bool ks_pipeline_phase_final(const char *phase);

/* Whether ks_pipeline_run has nothing more to do with RELEASE: its phase
 * is final, except a Failed release whose rollback was decided but not yet
 * begun (release.rollbackPending: a crash between the two transitions),
 * which ks_pipeline_run takes on to RollingBack. On restart, resume every
 * release for which this is false. */
bool ks_pipeline_release_final(const json_t *release);

/* Whether PHASE is one that acts on the cluster (Deploying, Checking,
 * RollingBack): a newer spec waits for it to end. */
bool ks_pipeline_phase_active(const char *phase);

/*
 * A new release record in phase Pending (a new reference): app, number,
 * commit, source, specHash, appConfig (SUBSPEC's apps[0], copied),
 * resources (SUBSPEC's resources, copied), cells from appConfig.cells
 * ({"zone", "cell", "phase": "Pending"}), empty approvals, policy,
 * waitingFor, touchedCells, startedAt now. Not stored. SPEC_HASH may be
 * NULL (then computed: ks_sha256_hex of the canonical resources array).
 */
json_t *ks_pipeline_release_new(const char *app, int number, const char *commit,
				const char *source, const char *spec_hash,
				const json_t *subspec);

/*
 * Runs RELEASE (owned by the caller, updated in place) from its current
 * phase as far as it can go without the loop:
 *
 *   Pending -> pre-check: allow-list (every namespaced resource in one of
 *   env->source's namespaces), no cluster-scoped kind but Namespace,
 *   policies (mandatory violations -> Blocked; advisory recorded in
 *   release.policy), dependencies (DEPS: array of {"app", "phase" (latest
 *   release's, or null), "commit", "healthy"}: all Succeeded and healthy
 *   -> go on; one Failed/Blocked/RolledBack -> Failed "dependency X
 *   failed"; else WaitingForDependencies with waitingFor, and return) ->
 *   preview (release.plan) -> AwaitingApproval (manualApprove without an
 *   approval: return) or Deploying -> per cell Deploying/Checking (health
 *   until appConfig.pipeline.deploy.timeout, default 5m) -> prune ->
 *   Succeeded | Failed (-> RollingBack -> RolledBack when
 *   rollbackIfFailed: PREVIOUS, the last Succeeded release or NULL, is
 *   re-applied to the touched cells only). A release with rollbackOf (a
 *   manual rollback) never waits for an approval.
 *
 * Stored transitions, in order: [WaitingForDependencies]
 * [AwaitingApproval, then Deploying stored by ks_pipeline_approve] then per
 * cell Deploying (not stored again when the record already says so),
 * Checking (the cell's phase
 * goes Deploying, Checking, Succeeded; touchedCells grows), then
 * Succeeded; or after a failed cell Failed (+ rollbackPending),
 * RollingBack, RolledBack. Blocked, Failed (dependency) and Succeeded set
 * finishedAt. The preview plan is stored with the next transition.
 *
 * WaitingForDependencies and Pending are both entered from the start
 * (the loop calls again when deps change). Deploying, Checking and
 * RollingBack resume: the current cell is applied again (server-side
 * apply is idempotent) and the run goes on. A final phase returns at once.
 *
 * Metrics (env->metrics): kusync_release_phase{app,phase} is 1 for the
 * current phase and 0 for the others after every transition;
 * kusync_sync_total{app,result} counts the releases that ended, result
 * the lowercase final phase ("succeeded", "failed", "rolledback",
 * "blocked"). Both are defined here (defining again is a no-op).
 *
 * Returns 0 whenever the release reached a phase (even Failed or
 * Blocked: see release.phase and release.message); a negative code when it
 * could not go on (store write failed, cancelled: KS_ERROR "cancelled";
 * cluster unreachable during preview: KS_EENV), with the release left in
 * its last stored phase so a later call resumes.
 */
int ks_pipeline_run(const ks_pipeline_env *env, json_t *release,
		    const json_t *previous, const json_t *deps, ks_error *err);

/*
 * Records an approval on RELEASE, which must be AwaitingApproval:
 * appends {who, via, at, comment} to release.approvals and moves it to
 * Deploying its first cell, stores that (one write: the approval and the
 * transition it causes; on_change is called), then appends {at, who, via,
 * what: "approve", app, release, comment} to the audit log. The caller
 * then calls ks_pipeline_run to deploy (as it would to resume a release
 * found in Deploying). KS_ECONFLICT (release untouched) when it is not
 * awaiting approval. COMMENT may be NULL ("").
 */
int ks_pipeline_approve(const ks_pipeline_env *env, json_t *release,
			const char *who, const char *via, const char *comment,
			ks_error *err);

/*
 * Marks RELEASE (Pending, WaitingForDependencies or AwaitingApproval)
 * Superseded by release number BY_NUMBER (message "superseded by release
 * N", finishedAt) and stores it. KS_ECONFLICT when it is in another phase.
 */
int ks_pipeline_supersede(const ks_pipeline_env *env, json_t *release,
			  int by_number, ks_error *err);

/*
 * A manual rollback: a new release record NUMBER (*out, a new reference)
 * with TARGET's resources, specHash, appConfig, commit and source,
 * rollbackOf: TARGET's number, approvals none needed (the spec was
 * approved before), phase Deploying (pre-check and approval are skipped),
 * cells reset. Stores it and audits {what: "rollback", who, via, app,
 * release: NUMBER, comment: "to release T" or "to release T: COMMENT"}.
 * WHO and VIA may be NULL ("system", "api"); COMMENT may be NULL or "".
 * The caller runs it with ks_pipeline_run.
 */
int ks_pipeline_rollback_release(const ks_pipeline_env *env,
				 const json_t *target, int number,
				 const char *who, const char *via,
				 const char *comment, json_t **out,
				 ks_error *err);

/*
 * Drift of RELEASE (its resources) against LIVE (the watch cache's copies
 * of the app's objects): *report gets the drift report of spec/agent.md §
 * Drift for this one app ({"app", "release", "commit", "checkedAt",
 * "resources"}); a Job listed in release.completedJobs that is missing is
 * not drift. With HEAL, the modified and missing objects are re-applied
 * (server-side apply) and *HEALED (may be NULL) gets how many; the report
 * then has "healed": N. Orphans are reported, never deleted here.
 */
int ks_pipeline_drift(const ks_pipeline_env *env, const json_t *release,
		      const json_t *live, bool heal, json_t **report,
		      unsigned *healed, ks_error *err);

#endif
