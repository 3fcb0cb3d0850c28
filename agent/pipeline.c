/*
 * The release state machine of agent/pipeline.h. Every function that
 * changes a release's phase goes through save(), which writes the record to
 * the store before anything is done in the cluster for that phase.
 */
#include "agent/pipeline.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/metrics.h"
#include "agent/store.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/values.h"
#include "sync/plan.h"
#include "sync/sync.h"

#include "core/banned.h"

#define DEFAULT_TIMEOUT_MS (10 * 60 * 1000)
#define DEFAULT_POLL_MS 500

static const char *const all_phases[] = {
	KS_PHASE_PENDING,    KS_PHASE_WAITING,	  KS_PHASE_BLOCKED,
	KS_PHASE_AWAITING,   KS_PHASE_DEPLOYING,  KS_PHASE_CHECKING,
	KS_PHASE_SUCCEEDED,  KS_PHASE_FAILED,	  KS_PHASE_ROLLINGBACK,
	KS_PHASE_ROLLEDBACK, KS_PHASE_SUPERSEDED,
};

/* ---- small helpers ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void now_text(char out[32])
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void set_now(json_t *obj, const char *key)
{
	char t[32];
	now_text(t);
	json_object_set_new(obj, key, json_string(t));
}

static const char *str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static bool streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static const char *phase_of(const json_t *rel)
{
	const char *p = str(rel, "phase");
	return p ? p : KS_PHASE_PENDING;
}

static void set_str(json_t *obj, const char *key, const char *v)
{
	json_object_set_new(obj, key, json_string(v ? v : ""));
}

static const json_t *deploy_cfg(const json_t *rel)
{
	return json_object_get(
		json_object_get(json_object_get(rel, "appConfig"), "pipeline"),
		"deploy");
}

static bool deploy_flag(const json_t *rel, const char *key)
{
	return json_is_true(json_object_get(deploy_cfg(rel), key));
}

static int64_t deploy_timeout_ms(const json_t *rel)
{
	const char *t = str(deploy_cfg(rel), "timeout");
	int64_t ms;
	if (t && !ks_duration_parse(t, &ms) && ms > 0)
		return ms;
	return DEFAULT_TIMEOUT_MS;
}

static bool cancelled(const ks_pipeline_env *env)
{
	return env->cancel && *env->cancel;
}

static int cancel_error(ks_error *err)
{
	return ks_error_set(err, KS_ERROR, "cancelled");
}

static const json_t *res_attrs(const json_t *res)
{
	return json_object_get(res, "attributes");
}

static const char *res_label(const json_t *res, const char *key)
{
	return json_string_value(json_object_get(
		json_object_get(json_object_get(res_attrs(res), "metadata"),
				"labels"),
		key));
}

static const char *obj_meta(const json_t *obj, const char *key)
{
	return json_string_value(
		json_object_get(json_object_get(obj, "metadata"), key));
}

static bool array_has_str(const json_t *arr, const char *s)
{
	size_t i;
	const json_t *v;
	json_array_foreach(arr, i,
			   v) if (streq(json_string_value(v), s)) return true;
	return false;
}

static json_t *array_member(json_t *obj, const char *key)
{
	json_t *a = json_object_get(obj, key);
	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(obj, key, a);
	}
	return a;
}

static void append_unique(json_t *obj, const char *key, const char *s)
{
	json_t *a = array_member(obj, key);
	if (!array_has_str(a, s))
		json_array_append_new(a, json_string(s));
}

/* ---- phases ---- */

bool ks_pipeline_phase_final(const char *phase)
{
	return streq(phase, KS_PHASE_BLOCKED) ||
	       streq(phase, KS_PHASE_SUCCEEDED) ||
	       streq(phase, KS_PHASE_FAILED) ||
	       streq(phase, KS_PHASE_ROLLEDBACK) ||
	       streq(phase, KS_PHASE_SUPERSEDED);
}

bool ks_pipeline_release_final(const json_t *release)
{
	const char *p = phase_of(release);
	if (streq(p, KS_PHASE_FAILED) &&
	    json_is_true(json_object_get(release, "rollbackPending")))
		return false;
	return ks_pipeline_phase_final(p);
}

bool ks_pipeline_phase_active(const char *phase)
{
	return streq(phase, KS_PHASE_DEPLOYING) ||
	       streq(phase, KS_PHASE_CHECKING) ||
	       streq(phase, KS_PHASE_ROLLINGBACK);
}

static void define_metrics(ks_metrics *m)
{
	ks_metrics_define(m, "kusync_release_phase", "gauge",
			  "1 for the phase of the app's current release, 0 "
			  "for the others",
			  NULL, 0);
	ks_metrics_define(m, "kusync_sync_total", "counter",
			  "Releases that ended, by their final phase", NULL, 0);
}

static void phase_metrics(const ks_pipeline_env *env, const json_t *rel)
{
	if (!env->metrics)
		return;
	const char *app = str(rel, "app");
	const char *cur = phase_of(rel);
	define_metrics(env->metrics);
	for (size_t i = 0; i < sizeof(all_phases) / sizeof(*all_phases); i++)
		ks_metrics_set(env->metrics, "kusync_release_phase",
			       streq(cur, all_phases[i]) ? 1.0 : 0.0, "app",
			       app ? app : "", "phase", all_phases[i], NULL);
}

/* Counts a release that ended (RESULT: its final phase). */
static void count_result(const ks_pipeline_env *env, const json_t *rel,
			 const char *result)
{
	if (!env->metrics)
		return;
	define_metrics(env->metrics);
	const char *app = str(rel, "app");
	ks_metrics_add(env->metrics, "kusync_sync_total", 1.0, "app",
		       app ? app : "", "result", result, NULL);
}

/* Successful saves on this thread (ks_pipeline_run of a fresh release
 * stores it when its run made none). */
static _Thread_local unsigned long saves;

/* Stores REL (a transition), then tells the loop. */
static int save(const ks_pipeline_env *env, json_t *rel, ks_error *err)
{
	if (env->store) {
		int rc = ks_store_put(env->store, rel, err);
		if (!rc)
			saves++;
		if (rc) {
			KS_LOG(env->log, KS_LOG_ERROR, "pipeline",
			       "storing release failed app=%s release=%lld: %s",
			       str(rel, "app"),
			       (long long)json_integer_value(
				       json_object_get(rel, "number")),
			       err ? err->msg : "");
			return rc;
		}
	}
	phase_metrics(env, rel);
	KS_LOG(env->log, KS_LOG_INFO, "pipeline",
	       "release app=%s number=%lld phase=%s", str(rel, "app"),
	       (long long)json_integer_value(json_object_get(rel, "number")),
	       phase_of(rel));
	if (env->on_change)
		env->on_change(env->ud, rel);
	return 0;
}

static void set_phase(json_t *rel, const char *phase)
{
	set_str(rel, "phase", phase);
}

/* Ends REL in PHASE with MESSAGE (may be NULL: unchanged) and stores it. */
static int finish(const ks_pipeline_env *env, json_t *rel, const char *phase,
		  const char *message, const char *result, ks_error *err)
{
	set_phase(rel, phase);
	if (message)
		set_str(rel, "message", message);
	set_now(rel, "finishedAt");
	int rc = save(env, rel, err);
	if (!rc && result)
		count_result(env, rel, result);
	return rc;
}

/* ---- release records ---- */

static json_t *cells_of(const json_t *app_config)
{
	json_t *cells = json_array();
	size_t i;
	const json_t *c;
	json_array_foreach(json_object_get(app_config, "cells"), i, c)
	{
		const char *zone = str(c, "zone");
		const char *cell = str(c, "cell");
		json_array_append_new(cells,
				      json_pack("{s:s, s:s, s:s}", "zone",
						zone ? zone : "", "cell",
						cell ? cell : "", "phase",
						KS_PHASE_PENDING));
	}
	if (!json_array_size(cells))
		json_array_append_new(
			cells, json_pack("{s:s, s:s, s:s}", "zone", "", "cell",
					 "", "phase", KS_PHASE_PENDING));
	return cells;
}

static void ensure_fields(json_t *rel)
{
	if (!json_array_size(json_object_get(rel, "cells")))
		json_object_set_new(
			rel, "cells",
			cells_of(json_object_get(rel, "appConfig")));
	array_member(rel, "approvals");
	array_member(rel, "policy");
	array_member(rel, "waitingFor");
	array_member(rel, "touchedCells");
	if (!str(rel, "phase"))
		set_phase(rel, KS_PHASE_PENDING);
	if (!str(rel, "startedAt"))
		set_now(rel, "startedAt");
}

static char *resources_hash(const json_t *resources)
{
	size_t len;
	char *canon = ks_json_canonical(resources, &len);
	char hex[65];
	ks_sha256_hex(canon, len, hex);
	free(canon);
	return ks_xstrdup(hex);
}

json_t *ks_pipeline_release_new(const char *app, int number, const char *commit,
				const char *source, const char *spec_hash,
				const json_t *subspec)
{
	const json_t *cfg = json_array_get(json_object_get(subspec, "apps"), 0);
	const json_t *resources = json_object_get(subspec, "resources");
	json_t *res = resources ? json_deep_copy(resources) : json_array();
	char *hash = spec_hash ? ks_xstrdup(spec_hash) : resources_hash(res);
	json_t *rel = json_object();
	set_str(rel, "app", app);
	json_object_set_new(rel, "number", json_integer(number));
	set_str(rel, "commit", commit);
	set_str(rel, "source", source);
	set_str(rel, "specHash", hash);
	free(hash);
	json_object_set_new(rel, "appConfig",
			    cfg ? json_deep_copy(cfg) : json_object());
	json_object_set_new(rel, "resources", res);
	json_object_set_new(rel, "plan", json_null());
	set_phase(rel, KS_PHASE_PENDING);
	ensure_fields(rel);
	set_str(rel, "message", "");
	return rel;
}

/* The sub-spec {"apps": [appConfig], "resources": RESOURCES} (borrowed
 * references, kept alive by the new object). */
static json_t *subspec(const json_t *app_config, const json_t *resources)
{
	json_t *apps = json_array();
	json_array_append(apps, (json_t *)app_config);
	return json_pack("{s:o, s:O}", "apps", apps, "resources",
			 (json_t *)resources);
}

/* Whether RES belongs to one of the cells named in KNOWN (an array of
 * {"cell"} objects): its name then, else NULL (shared). */
static const char *cell_of(const json_t *res, const json_t *known)
{
	const char *cell = res_label(res, KS_LABEL_CELL);
	size_t i;
	const json_t *c;
	if (!cell)
		return NULL;
	json_array_foreach(known, i, c) if (streq(str(c, "cell"), cell) &&
					    *cell) return cell;
	return NULL;
}

/* The resources of RESOURCES in the cells named in WANT (array of names),
 * plus the shared ones (no known cell) when SHARED. A new array. */
static json_t *select_cells(const json_t *resources, const json_t *known,
			    const json_t *want, bool shared)
{
	json_t *out = json_array();
	size_t i;
	const json_t *r;
	json_array_foreach(resources, i, r)
	{
		const char *cell = cell_of(r, known);
		if (cell ? array_has_str(want, cell) : shared)
			json_array_append(out, (json_t *)r);
	}
	return out;
}

/* ---- talking to the cluster ---- */

/* Plans SPEC against the cluster (LIVE NULL: fetched now). */
static int make_plan(const ks_pipeline_env *env, const json_t *spec,
		     const json_t *live, bool prune, ks_sync_plan **out,
		     ks_error *err)
{
	ks_sync_plan *plan = NULL;
	json_t *fetched = NULL;
	int rc = ks_sync_plan_scope(&plan, spec, err);
	if (rc)
		return rc;
	if (!live) {
		rc = ks_sync_fetch_live(env->kube, plan, spec, &fetched, err);
		if (rc)
			goto out;
		live = fetched;
	}
	ks_sync_plan_opts opts = {
		.prune = prune,
		.ignore = env->source ? env->source->ignore : NULL,
		.by_app = true,
	};
	rc = ks_sync_plan_build(plan, spec, live, &opts, err);
out:
	json_decref(fetched);
	if (rc) {
		ks_sync_plan_free(plan);
		return rc;
	}
	*out = plan;
	return 0;
}

/* The first failure of an apply report, as one line, into MSG. */
static void report_failure(const json_t *report, char *msg, size_t len)
{
	size_t i;
	const json_t *e;
	json_array_foreach(report, i, e)
	{
		const char *m = str(e, "message");
		const char *res = str(e, "result");
		if (m && (streq(res, "failed") || streq(res, "skipped"))) {
			snprintf(msg, len, "%s", m);
			return;
		}
	}
	snprintf(msg, len, "apply failed");
}

/*
 * Applies PLAN (no wait). 0 when everything was applied; 1 when a resource
 * failed (MSG says which and why); a negative code when the cluster could
 * not be reached (the caller retries later).
 */
static int apply_plan(const ks_pipeline_env *env, ks_sync_plan *plan, char *msg,
		      size_t len, ks_error *err)
{
	ks_sync_apply_opts opts = {.parallel = 4};
	json_t *report = NULL;
	int rc = ks_sync_apply(env->kube, plan, &opts, &report, err);
	if (rc == KS_ERROR)
		report_failure(report, msg, len);
	json_decref(report);
	if (rc == KS_ERROR)
		return 1;
	return rc;
}

static int get_live(const ks_pipeline_env *env, const json_t *desired,
		    json_t **out, ks_error *err)
{
	ks_kube_resource r;
	int rc = ks_kube_discover(env->kube, str(desired, "apiVersion"),
				  str(desired, "kind"), &r, err);
	if (rc)
		return rc;
	char *path = ks_kube_path(&r, obj_meta(desired, "namespace"),
				  obj_meta(desired, "name"));
	ks_kube_req req = {.method = "GET", .path = path};
	ks_kube_resp resp;
	rc = ks_kube_request(env->kube, &req, &resp, err);
	free(path);
	if (!rc) {
		*out = resp.json ? json_incref(resp.json) : NULL;
		if (!*out)
			rc = ks_error_set(err, KS_ERROR, "not a JSON object");
	}
	ks_kube_resp_release(&resp);
	return rc;
}

static bool is_job(const json_t *obj)
{
	return streq(str(obj, "kind"), "Job") &&
	       streq(str(obj, "apiVersion"), "batch/v1");
}

/*
 * The release check: polls the objects PLAN applied (its items with a
 * desired form) until all are Healthy (0), one is Degraded or TIMEOUT_MS
 * passes (1, MSG says which and why). Jobs seen complete go to
 * REL.completedJobs. Negative: cancelled.
 */
static int check_health(const ks_pipeline_env *env, json_t *rel,
			const ks_sync_plan *plan, int64_t timeout_ms, char *msg,
			size_t len, ks_error *err)
{
	unsigned poll = env->poll_ms ? env->poll_ms : DEFAULT_POLL_MS;
	int64_t deadline = mono_ms() + timeout_ms;
	size_t n = plan->nitems ? plan->nitems : 1;
	bool *done = ks_xcalloc(n, sizeof(bool));
	char(*why)[256] = ks_xcalloc(n, sizeof(*why));
	int result = 0;
	for (;;) {
		size_t pending = 0;
		for (size_t i = 0; i < plan->nitems; i++) {
			const ks_sync_item *it = &plan->items[i];
			if (!it->desired || done[i])
				continue;
			json_t *live = NULL;
			ks_error gerr;
			int rc = get_live(env, it->desired, &live, &gerr);
			ks_health h = KS_MISSING;
			if (!rc)
				h = ks_sync_health(live, why[i],
						   sizeof(why[i]));
			else if (rc == KS_ENOTFOUND)
				snprintf(why[i], sizeof(why[i]),
					 "it does not exist");
			else
				snprintf(why[i], sizeof(why[i]), "%.250s",
					 gerr.msg);
			json_decref(live);
			if (h == KS_HEALTHY) {
				done[i] = true;
				if (is_job(it->desired))
					append_unique(rel, "completedJobs",
						      it->id);
			} else if (h == KS_DEGRADED) {
				snprintf(msg, len, "\"%s\" is degraded: %s",
					 it->id, why[i]);
				result = 1;
				goto out;
			} else {
				pending++;
			}
		}
		if (!pending)
			goto out;
		if (cancelled(env)) {
			result = cancel_error(err);
			goto out;
		}
		if (mono_ms() >= deadline) {
			char d[32];
			ks_duration_format(timeout_ms, d, sizeof(d));
			for (size_t i = 0; i < plan->nitems; i++)
				if (plan->items[i].desired && !done[i]) {
					snprintf(msg, len,
						 "\"%s\" is not healthy after "
						 "%s: %s",
						 plan->items[i].id, d, why[i]);
					break;
				}
			result = 1;
			goto out;
		}
		sleep_ms(poll);
	}
out:
	free(done);
	free(why);
	return result;
}

/*
 * The live objects of RESOURCES, one GET each (a cell is a few objects:
 * cheaper than listing every kind, and no leftovers are needed without
 * prune). Objects that do not exist, or kinds the server does not serve
 * (apply will say so), are simply absent from *OUT.
 */
static int fetch_objects(const ks_pipeline_env *env, const json_t *resources,
			 json_t **out, ks_error *err)
{
	json_t *live = json_array();
	size_t i;
	const json_t *r;
	json_array_foreach(resources, i, r)
	{
		json_t *o = NULL;
		if (cancelled(env)) {
			json_decref(live);
			return cancel_error(err);
		}
		int rc = get_live(env, res_attrs(r), &o, err);
		if (rc == KS_ENOTFOUND)
			continue;
		if (rc) {
			json_decref(live);
			return rc;
		}
		json_array_append_new(live, o);
	}
	*out = live;
	return 0;
}

/*
 * Applies the resources RESOURCES (of APP_CONFIG's app) and runs the
 * release check on them: 0 healthy, 1 failed (MSG), negative error. When
 * BEFORE_CHECK is set it is called between the apply and the check (to
 * store the Checking transition).
 */
static int apply_and_check(const ks_pipeline_env *env, json_t *rel,
			   const json_t *app_config, const json_t *resources,
			   int (*before_check)(const ks_pipeline_env *,
					       json_t *, void *, ks_error *),
			   void *ud, char *msg, size_t len, ks_error *err)
{
	json_t *live = NULL;
	int rc = fetch_objects(env, resources, &live, err);
	if (rc)
		return rc;
	json_t *spec = subspec(app_config, resources);
	ks_sync_plan *plan = NULL;
	rc = make_plan(env, spec, live, false, &plan, err);
	json_decref(spec);
	json_decref(live);
	if (rc)
		return rc;
	if (cancelled(env)) {
		rc = cancel_error(err);
		goto out;
	}
	rc = apply_plan(env, plan, msg, len, err);
	if (rc)
		goto out;
	if (before_check) {
		rc = before_check(env, rel, ud, err);
		if (rc)
			goto out;
	}
	rc = check_health(env, rel, plan, deploy_timeout_ms(rel), msg, len,
			  err);
out:
	ks_sync_plan_free(plan);
	return rc;
}

/* ---- pre-check ---- */

static bool allowed(const ks_pipeline_env *env, const char *ns)
{
	return !env->source || ks_agent_source_allows(env->source, ns);
}

static void add_problem(ks_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add_problem(ks_buf *b, const char *fmt, ...)
{
	if (b->len)
		ks_buf_puts(b, "; ");
	va_list ap;
	va_start(ap, fmt);
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ks_buf_puts(b, line);
}

/* The allow-list and cluster-scoped kinds: problems go to B. */
static void check_scope(const ks_pipeline_env *env, const json_t *rel,
			ks_buf *b)
{
	const char *ns = str(json_object_get(rel, "appConfig"), "namespace");
	if (ns && *ns && !allowed(env, ns))
		add_problem(b,
			    "namespace \"%s\" is not allowed for source "
			    "\"%s\"",
			    ns, env->source->name);
	size_t i;
	const json_t *r;
	json_array_foreach(json_object_get(rel, "resources"), i, r)
	{
		const json_t *a = res_attrs(r);
		const char *id = str(r, "id");
		const char *kind = str(a, "kind");
		const char *rns = obj_meta(a, "namespace");
		if (streq(kind, "Namespace") &&
		    streq(str(a, "apiVersion"), "v1")) {
			const char *name = obj_meta(a, "name");
			if (name && !allowed(env, name) && !streq(name, ns))
				add_problem(b,
					    "namespace \"%s\" is not allowed "
					    "for source \"%s\"",
					    name, env->source->name);
		} else if (!rns || !*rns) {
			add_problem(b,
				    "\"%s\" is cluster-scoped (%s): only "
				    "Namespace objects may be",
				    id ? id : "?", kind ? kind : "?");
		} else if (!allowed(env, rns) && !streq(rns, ns)) {
			add_problem(b,
				    "\"%s\": namespace \"%s\" is not allowed "
				    "for its source",
				    id ? id : "?", rns);
		}
	}
}

/* Policies: fills rel.policy; problems of mandatory sets go to B. */
static void check_policies(const ks_pipeline_env *env, json_t *rel, ks_buf *b)
{
	if (!env->policies)
		return;
	json_t *spec = subspec(json_object_get(rel, "appConfig"),
			       json_object_get(rel, "resources"));
	ks_policy_report rep;
	ks_policy_report_init(&rep);
	ks_errlist *errs = ks_errlist_new();
	int rc = ks_policy_check_spec(env->policies, spec, &rep, errs);
	json_t *pol = json_array();
	size_t shown = 0, blocking = 0;
	for (size_t i = 0; i < rep.n; i++) {
		const ks_policy_violation *v = &rep.v[i];
		json_array_append_new(
			pol, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "set",
				       v->set, "rule", v->rule, "kind",
				       v->kind ? v->kind : "", "object",
				       v->object ? v->object : "", "message",
				       v->message ? v->message : "",
				       "mandatory", v->mandatory != 0));
		if (!v->mandatory)
			continue;
		blocking++;
		if (shown++ < 3) {
			if (b->len)
				ks_buf_puts(b, "; ");
			ks_buf_printf(b, "policy %s/%s %s %s: %s", v->set,
				      v->rule, v->kind ? v->kind : "",
				      v->object ? v->object : "",
				      v->message ? v->message : "");
		}
	}
	if (blocking > shown)
		ks_buf_printf(b, "; and %zu more mandatory violations",
			      blocking - shown);
	for (size_t i = 0; rc && i < ks_errlist_count(errs); i++) {
		if (b->len)
			ks_buf_puts(b, "; ");
		ks_buf_puts(b, ks_errlist_get(errs, i));
	}
	json_object_set_new(rel, "policy", pol);
	ks_errlist_free(errs);
	ks_policy_report_release(&rep);
	json_decref(spec);
}

static const json_t *dep_entry(const json_t *deps, const char *app)
{
	size_t i;
	const json_t *d;
	json_array_foreach(deps, i, d) if (streq(str(d, "app"), app)) return d;
	return NULL;
}

/*
 * Dependencies: 0 all ready; 1 the release was moved to Failed or
 * WaitingForDependencies (stored); negative: store error.
 */
static int check_deps(const ks_pipeline_env *env, json_t *rel,
		      const json_t *deps, ks_error *err)
{
	json_t *waiting = json_array();
	size_t i;
	const json_t *name;
	json_array_foreach(json_object_get(json_object_get(rel, "appConfig"),
					   "dependedApps"),
			   i, name)
	{
		const char *app = json_string_value(name);
		const json_t *d = dep_entry(deps, app);
		const char *ph = str(d, "phase");
		if (streq(ph, KS_PHASE_FAILED) || streq(ph, KS_PHASE_BLOCKED) ||
		    streq(ph, KS_PHASE_ROLLEDBACK)) {
			char *m = ks_xasprintf("dependency \"%s\" failed (its "
					       "latest release is %s)",
					       app, ph);
			json_object_set_new(rel, "waitingFor", json_array());
			json_decref(waiting);
			int rc = finish(env, rel, KS_PHASE_FAILED, m, "failed",
					err);
			free(m);
			return rc ? rc : 1;
		}
		if (!(streq(ph, KS_PHASE_SUCCEEDED) &&
		      json_is_true(json_object_get(d, "healthy"))))
			json_array_append_new(waiting, json_string(app));
	}
	if (!json_array_size(waiting)) {
		json_decref(waiting);
		json_object_set_new(rel, "waitingFor", json_array());
		return 0;
	}
	bool same = streq(phase_of(rel), KS_PHASE_WAITING) &&
		    json_equal(waiting, json_object_get(rel, "waitingFor"));
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_buf_puts(&b, "waiting for");
	json_array_foreach(waiting, i, name) ks_buf_printf(
		&b, "%s \"%s\"", i ? "," : "", json_string_value(name));
	json_object_set_new(rel, "waitingFor", waiting);
	set_phase(rel, KS_PHASE_WAITING);
	set_str(rel, "message", b.data);
	ks_buf_release(&b);
	if (same)
		return 1; /* nothing new to store */
	int rc = save(env, rel, err);
	return rc ? rc : 1;
}

/* 0: go on; 1: stopped (Blocked, Failed, waiting: stored); negative. */
static int precheck(const ks_pipeline_env *env, json_t *rel, const json_t *deps,
		    ks_error *err)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	check_scope(env, rel, &b);
	if (!b.len)
		check_policies(env, rel, &b);
	if (b.len) {
		int rc = finish(env, rel, KS_PHASE_BLOCKED, b.data, "blocked",
				err);
		ks_buf_release(&b);
		return rc ? rc : 1;
	}
	ks_buf_release(&b);
	return check_deps(env, rel, deps, err);
}

/*
 * The preview's live objects from env->live (the caller's cache) plus one
 * GET for each object of RESOURCES the cache lacks (Namespaces carry no
 * app label; an object made by hand has none either). NULL when there is
 * no usable cache or a GET failed otherwise than "not found": the caller
 * lists from the cluster then.
 */
static json_t *cached_live(const ks_pipeline_env *env, const char *app,
			   const json_t *resources)
{
	if (!env->live || !app)
		return NULL;
	json_t *live = env->live(env->ud, app);
	if (!live)
		return NULL;
	if (!json_is_array(live)) {
		json_decref(live);
		return NULL;
	}
	json_t *ids = json_object();
	size_t i;
	const json_t *o;
	json_array_foreach(live, i, o)
	{
		char *id = ks_sync_object_id(o);
		if (id)
			json_object_set_new(ids, id, json_true());
		free(id);
	}
	json_array_foreach(resources, i, o)
	{
		char *id = ks_sync_object_id(res_attrs(o));
		bool have = !id || json_object_get(ids, id);
		free(id);
		if (have)
			continue;
		json_t *obj = NULL;
		ks_error e;
		int rc = get_live(env, res_attrs(o), &obj, &e);
		if (rc == KS_ENOTFOUND)
			continue; /* absent, or a kind not served */
		if (rc) {
			json_decref(live);
			live = NULL;
			break;
		}
		json_array_append_new(live, obj);
	}
	json_decref(ids);
	return live;
}

/* The preview: the plan of the whole release against the cluster (its
 * objects from the caller's cache when it has them). */
static int preview(const ks_pipeline_env *env, json_t *rel, ks_error *err)
{
	json_t *spec = subspec(json_object_get(rel, "appConfig"),
			       json_object_get(rel, "resources"));
	json_t *live = cached_live(env, str(rel, "app"),
				   json_object_get(rel, "resources"));
	ks_sync_plan *plan = NULL;
	int rc =
		make_plan(env, spec, live,
			  env->source ? env->source->prune : false, &plan, err);
	json_decref(live);
	json_decref(spec);
	if (rc)
		return rc;
	json_object_set_new(rel, "plan", ks_sync_plan_json(plan));
	ks_sync_plan_free(plan);
	return 0;
}

/* ---- deploy ---- */

struct cell_ctx {
	size_t index;
};

static int to_checking(const ks_pipeline_env *env, json_t *rel, void *ud,
		       ks_error *err)
{
	const struct cell_ctx *cx = ud;
	json_t *cell = json_array_get(json_object_get(rel, "cells"), cx->index);
	set_phase(rel, KS_PHASE_CHECKING);
	set_str(cell, "phase", KS_PHASE_CHECKING);
	return save(env, rel, err);
}

static void cell_message(char *out, size_t len, const json_t *cell,
			 const char *what)
{
	const char *name = str(cell, "cell");
	if (name && *name)
		snprintf(out, len, "cell \"%s\": %s", name, what);
	else
		snprintf(out, len, "%s", what);
}

/* Moves REL to Deploying cell I (cell phase, touchedCells). Whether that
 * changed anything: a release resumed in Deploying, or moved there by its
 * approval, has it stored already. */
static bool enter_cell(json_t *rel, size_t i)
{
	json_t *cell = json_array_get(json_object_get(rel, "cells"), i);
	const char *name = str(cell, "cell");
	if (!name)
		name = "";
	bool same = streq(phase_of(rel), KS_PHASE_DEPLOYING) &&
		    streq(str(cell, "phase"), KS_PHASE_DEPLOYING) &&
		    array_has_str(json_object_get(rel, "touchedCells"), name);
	set_phase(rel, KS_PHASE_DEPLOYING);
	set_str(cell, "phase", KS_PHASE_DEPLOYING);
	append_unique(rel, "touchedCells", name);
	if (!same)
		set_str(rel, "message", "");
	return !same;
}

/* 0 every cell healthy; 1 a cell failed (stored Failed); negative.
 * ROLLBACK: whether a failure is to be rolled back. */
static int deploy(const ks_pipeline_env *env, json_t *rel, bool rollback,
		  ks_error *err)
{
	json_t *cells = json_object_get(rel, "cells");
	for (size_t i = 0; i < json_array_size(cells); i++) {
		json_t *cell = json_array_get(cells, i);
		if (streq(str(cell, "phase"), KS_PHASE_SUCCEEDED))
			continue;
		if (cancelled(env))
			return cancel_error(err);
		const char *name = str(cell, "cell");
		int rc = enter_cell(rel, i) ? save(env, rel, err) : 0;
		if (rc)
			return rc;
		json_t *want = json_pack("[s]", name ? name : "");
		json_t *res = select_cells(json_object_get(rel, "resources"),
					   cells, want, i == 0);
		json_decref(want);
		char msg[1024] = "";
		struct cell_ctx cx = {.index = i};
		rc = apply_and_check(env, rel,
				     json_object_get(rel, "appConfig"), res,
				     to_checking, &cx, msg, sizeof(msg), err);
		json_decref(res);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			set_str(cell, "phase", KS_PHASE_SUCCEEDED);
			continue;
		}
		char full[1400];
		cell_message(full, sizeof(full), cell, msg);
		set_str(cell, "phase", KS_PHASE_FAILED);
		set_phase(rel, KS_PHASE_FAILED);
		if (!rollback && deploy_flag(rel, "rollbackIfFailed"))
			snprintf(full + strlen(full),
				 sizeof(full) - strlen(full),
				 "; no earlier succeeded release to roll back "
				 "to: nothing was reverted");
		set_str(rel, "message", full);
		if (rollback) {
			json_object_set_new(rel, "rollbackPending",
					    json_true());
			rc = save(env, rel, err);
		} else {
			rc = finish(env, rel, KS_PHASE_FAILED, NULL, "failed",
				    err);
		}
		return rc ? rc : 1;
	}
	return 0;
}

/* Deletes what the release no longer has (source prune), then Succeeded. */
static int succeed(const ks_pipeline_env *env, json_t *rel, ks_error *err)
{
	char msg[1024] = "";
	if (env->source && env->source->prune) {
		json_t *spec = subspec(json_object_get(rel, "appConfig"),
				       json_object_get(rel, "resources"));
		ks_sync_plan *plan = NULL;
		int rc = make_plan(env, spec, NULL, true, &plan, err);
		json_decref(spec);
		if (rc)
			return rc;
		for (size_t i = 0; i < plan->nitems; i++)
			if (plan->items[i].action != KS_ACT_DELETE &&
			    plan->items[i].action != KS_ACT_ORPHAN)
				plan->items[i].action = KS_ACT_UNCHANGED;
		char why[900] = "";
		rc = apply_plan(env, plan, why, sizeof(why), err);
		ks_sync_plan_free(plan);
		if (rc < 0)
			return rc;
		if (rc == 1)
			snprintf(msg, sizeof(msg), "prune: %s", why);
	}
	return finish(env, rel, KS_PHASE_SUCCEEDED, msg, "succeeded", err);
}

/* ---- rollback ---- */

static int rollback(const ks_pipeline_env *env, json_t *rel,
		    const json_t *previous, ks_error *err)
{
	const char *failure = str(rel, "message");
	char *orig = ks_xstrdup(failure ? failure : "");
	json_t *cells = json_object_get(rel, "cells");
	json_t *touched = json_object_get(rel, "touchedCells");
	int rc = 0;
	json_object_del(rel, "rollbackPending");
	if (!previous) {
		char *m = ks_xasprintf("%s; no earlier succeeded release to "
				       "roll back to: nothing was reverted",
				       orig);
		rc = finish(env, rel, KS_PHASE_FAILED, m, "failed", err);
		free(m);
		goto out;
	}
	json_int_t to = json_integer_value(json_object_get(previous, "number"));
	set_phase(rel, KS_PHASE_ROLLINGBACK);
	json_object_set_new(rel, "rollbackOf", json_integer(to));
	size_t i;
	json_t *cell;
	json_array_foreach(cells, i, cell)
	{
		if (array_has_str(touched, str(cell, "cell")))
			set_str(cell, "phase", KS_PHASE_ROLLINGBACK);
	}
	rc = save(env, rel, err);
	if (rc)
		goto out;
	const json_t *pcfg = json_object_get(previous, "appConfig");
	json_t *pcells = cells_of(pcfg);
	json_t *res = select_cells(json_object_get(previous, "resources"),
				   pcells, touched, true);
	json_decref(pcells);
	char msg[1024] = "";
	rc = apply_and_check(env, rel, pcfg, res, NULL, NULL, msg, sizeof(msg),
			     err);
	json_decref(res);
	if (rc < 0)
		goto out;
	const char *end = rc ? KS_PHASE_FAILED : KS_PHASE_ROLLEDBACK;
	json_array_foreach(cells, i, cell)
	{
		if (array_has_str(touched, str(cell, "cell")))
			set_str(cell, "phase", end);
	}
	char *m = rc ? ks_xasprintf("%s; rollback to release %lld failed: %s",
				    orig, (long long)to, msg)
		     : ks_xasprintf("%s; rolled back to release %lld", orig,
				    (long long)to);
	rc = finish(env, rel, end, m, rc ? "failed" : "rolledback", err);
	free(m);
out:
	free(orig);
	return rc;
}

/* ---- run ---- */

static bool awaiting_approval(const json_t *rel)
{
	return deploy_flag(rel, "manualApprove") &&
	       !json_array_size(json_object_get(rel, "approvals")) &&
	       !json_is_integer(json_object_get(rel, "rollbackOf"));
}

static int run(const ks_pipeline_env *env, json_t *release,
	       const json_t *previous, const json_t *deps, ks_error *err)
{
	ensure_fields(release);
	if (ks_pipeline_release_final(release))
		return 0;
	const char *ph = phase_of(release);
	int rc;
	if (streq(ph, KS_PHASE_PENDING) || streq(ph, KS_PHASE_WAITING)) {
		rc = precheck(env, release, deps, err);
		if (rc)
			return rc < 0 ? rc : 0;
		if (cancelled(env))
			return cancel_error(err);
		rc = preview(env, release, err);
		if (rc)
			return rc;
		if (awaiting_approval(release)) {
			set_phase(release, KS_PHASE_AWAITING);
			set_str(release, "message", "waiting for an approval");
			return save(env, release, err);
		}
	} else if (streq(ph, KS_PHASE_AWAITING)) {
		if (awaiting_approval(release))
			return 0;
	}
	ph = phase_of(release);
	if (!streq(ph, KS_PHASE_ROLLINGBACK) && !streq(ph, KS_PHASE_FAILED)) {
		rc = deploy(env, release,
			    previous &&
				    deploy_flag(release, "rollbackIfFailed"),
			    err);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return succeed(env, release, err);
	}
	if (!json_is_true(json_object_get(release, "rollbackPending")) &&
	    !streq(phase_of(release), KS_PHASE_ROLLINGBACK))
		return 0;
	if (cancelled(env))
		return cancel_error(err);
	return rollback(env, release, previous, err);
}

int ks_pipeline_run(const ks_pipeline_env *env, json_t *release,
		    const json_t *previous, const json_t *deps, ks_error *err)
{
	unsigned long before = saves;
	int rc = run(env, release, previous, deps, err);
	if (env->fresh && env->store && saves == before) {
		/* Stopped before its first transition (the cluster could not
		 * be read, shutdown): the release must still be on record. */
		ks_error e;
		int src = save(env, release, &e);
		if (src && !rc) {
			if (err)
				*err = e;
			rc = src;
		}
	}
	return rc;
}

/* ---- approvals, supersede, manual rollback ---- */

int ks_pipeline_approve(const ks_pipeline_env *env, json_t *release,
			const char *who, const char *via, const char *comment,
			ks_error *err)
{
	if (!streq(phase_of(release), KS_PHASE_AWAITING))
		return ks_error_set(err, KS_ECONFLICT,
				    "release %lld of \"%s\" is %s, not "
				    "awaiting approval",
				    (long long)json_integer_value(
					    json_object_get(release, "number")),
				    str(release, "app"), phase_of(release));
	char at[32];
	now_text(at);
	json_t *a = json_pack("{s:s, s:s, s:s, s:s}", "who", who ? who : "",
			      "via", via ? via : "", "at", at, "comment",
			      comment ? comment : "");
	json_t *before = json_deep_copy(release);
	json_array_append_new(array_member(release, "approvals"), a);
	/* The approval and the transition it causes in one stored write:
	 * AwaitingApproval -> Deploying the first cell. */
	ensure_fields(release);
	enter_cell(release, 0);
	int rc = save(env, release, err);
	if (rc) {
		json_object_update(release, before);
		json_decref(before);
		return rc;
	}
	json_decref(before);
	if (!env->store)
		return 0;
	json_t *entry =
		json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:s}", "at", at,
			  "who", who ? who : "", "via", via ? via : "", "what",
			  "approve", "app", str(release, "app"), "release",
			  json_object_get(release, "number"), "comment",
			  comment ? comment : "");
	rc = ks_store_audit(env->store, entry, err);
	json_decref(entry);
	return rc;
}

int ks_pipeline_supersede(const ks_pipeline_env *env, json_t *release,
			  int by_number, ks_error *err)
{
	const char *ph = phase_of(release);
	if (!streq(ph, KS_PHASE_PENDING) && !streq(ph, KS_PHASE_WAITING) &&
	    !streq(ph, KS_PHASE_AWAITING))
		return ks_error_set(err, KS_ECONFLICT,
				    "release %lld of \"%s\" is %s: only a "
				    "waiting release can be superseded",
				    (long long)json_integer_value(
					    json_object_get(release, "number")),
				    str(release, "app"), ph);
	char m[64];
	snprintf(m, sizeof(m), "superseded by release %d", by_number);
	return finish(env, release, KS_PHASE_SUPERSEDED, m, NULL, err);
}

int ks_pipeline_rollback_release(const ks_pipeline_env *env,
				 const json_t *target, int number,
				 const char *who, const char *via,
				 const char *comment, json_t **out,
				 ks_error *err)
{
	json_int_t tn = json_integer_value(json_object_get(target, "number"));
	json_t *spec = subspec(json_object_get(target, "appConfig"),
			       json_object_get(target, "resources"));
	json_t *rel = ks_pipeline_release_new(
		str(target, "app"), number, str(target, "commit"),
		str(target, "source"), str(target, "specHash"), spec);
	json_decref(spec);
	json_object_set_new(rel, "rollbackOf", json_integer(tn));
	set_phase(rel, KS_PHASE_DEPLOYING);
	char m[64];
	snprintf(m, sizeof(m), "rollback to release %lld", (long long)tn);
	set_str(rel, "message", m);
	int rc = save(env, rel, err);
	if (rc) {
		json_decref(rel);
		return rc;
	}
	if (env->store) {
		char at[32];
		now_text(at);
		char *c = comment && *comment
				  ? ks_xasprintf("to release %lld: %s",
						 (long long)tn, comment)
				  : ks_xasprintf("to release %lld",
						 (long long)tn);
		json_t *entry = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s}",
					  "at", at, "who", who ? who : "system",
					  "via", via ? via : "api", "what",
					  "rollback", "app", str(target, "app"),
					  "release", number, "comment", c);
		free(c);
		rc = ks_store_audit(env->store, entry, err);
		json_decref(entry);
		if (rc) {
			json_decref(rel);
			return rc;
		}
	}
	*out = rel;
	return 0;
}

/* ---- drift ---- */

static bool live_has(const json_t *live, const char *id)
{
	size_t i;
	const json_t *o;
	json_array_foreach(live, i, o)
	{
		char *oid = ks_sync_object_id(o);
		bool same = streq(oid, id);
		free(oid);
		if (same)
			return true;
	}
	return false;
}

/* Whether drift item IT is a Job that completed in RELEASE and is gone. */
static bool completed_job_gone(const json_t *release, const ks_sync_item *it)
{
	return it->action == KS_ACT_CREATE && it->desired &&
	       is_job(it->desired) &&
	       array_has_str(json_object_get(release, "completedJobs"), it->id);
}

int ks_pipeline_drift(const ks_pipeline_env *env, const json_t *release,
		      const json_t *live, bool heal, json_t **report,
		      unsigned *healed, ks_error *err)
{
	/* The watch cache holds only objects labelled kusync.io/app, which
	 * Namespaces are not: a Namespace LIVE lacks is left out rather than
	 * reported missing (its objects would be missing too). */
	json_t *res = json_array();
	size_t i;
	const json_t *r;
	json_array_foreach(json_object_get(release, "resources"), i, r)
	{
		const json_t *a = res_attrs(r);
		if (streq(str(a, "kind"), "Namespace") &&
		    !live_has(live, str(r, "id")))
			continue;
		json_array_append(res, (json_t *)r);
	}
	json_t *spec = subspec(json_object_get(release, "appConfig"), res);
	json_decref(res);
	ks_sync_plan *plan = NULL;
	json_t *empty = json_array();
	int rc = make_plan(env, spec, live ? live : empty, false, &plan, err);
	json_decref(empty);
	json_decref(spec);
	if (rc)
		return rc;
	for (size_t k = 0; k < plan->nitems; k++)
		if (completed_job_gone(release, &plan->items[k]))
			plan->items[k].action = KS_ACT_UNCHANGED;
	char now[32];
	now_text(now);
	json_t *all = ks_sync_drift_json(plan, now);
	const char *app = str(release, "app");
	json_t *rep = NULL;
	json_array_foreach(json_object_get(all, "apps"), i, r)
	{
		if (streq(str(r, "app"), app))
			rep = json_incref((json_t *)r);
	}
	json_decref(all);
	if (!rep)
		rep = json_pack("{s:s, s:s, s:[]}", "app", app ? app : "",
				"checkedAt", now, "resources");
	json_object_set(rep, "release", json_object_get(release, "number"));
	json_object_set_new(rep, "commit",
			    json_string(str(release, "commit")
						? str(release, "commit")
						: ""));
	unsigned n = 0;
	if (heal) {
		for (size_t k = 0; k < plan->nitems; k++) {
			ks_sync_item *it = &plan->items[k];
			if (it->action == KS_ACT_CREATE ||
			    it->action == KS_ACT_UPDATE)
				n++;
			else if (it->action == KS_ACT_DELETE)
				it->action = KS_ACT_ORPHAN;
		}
		char msg[1024] = "";
		rc = n ? apply_plan(env, plan, msg, sizeof(msg), err) : 0;
		if (rc == 1)
			rc = ks_error_set(err, KS_ERROR, "heal: %s", msg);
		if (!rc)
			json_object_set_new(rep, "healed", json_integer(n));
	}
	ks_sync_plan_free(plan);
	if (rc) {
		json_decref(rep);
		return rc;
	}
	if (healed)
		*healed = n;
	*report = rep;
	return 0;
}
