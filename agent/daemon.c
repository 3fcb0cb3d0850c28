/*
 * The agent's loop: sources (fetch, render, split per app), apps (one
 * pipeline operation at a time on a worker), drift from the watch cache,
 * the leader lease, signals and shutdown. See agent/daemon.h.
 *
 * Scheduling: every app decides what it needs next in app_next() (an
 * explicit request, resuming its release, a new release for a newer spec,
 * a drift check), and ks_daemon_kick() starts it when the app is idle and a
 * slot is free. Slots: config.max_parallel_apps pipeline operations,
 * config.max_parallel_fetches fetches, DRIFT_SLOTS drift checks. Workers
 * get copies of what they need and hand back values the loop then owns.
 */
#include "agent/daemon.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/gitsrc.h"
#include "agent/lease.h"
#include "agent/metrics.h"
#include "agent/pipeline.h"
#include "agent/store.h"
#include "agent/webhook.h"
#include "core/json.h"
#include "core/mem.h"
#include "policies/policy.h"
#include "render/render.h"
#include "sync/kube.h"
#include "sync/plan.h"
#include "sync/sync.h"
#include "sync/watch.h"

#include "core/banned.h"

#define DRIFT_SLOTS 4
#define DEBOUNCE_MS 50
#define LEASE_NAME "kusync-leader"
#define LEASE_SECONDS 15
#define LEASE_PERIOD_MS 5000
#define MAX_REQS 16

/* --- small helpers --- */

static int64_t now_unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ks_daemon_time(int64_t ms, char *buf, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static int jnum(const json_t *o, const char *k)
{
	return (int)json_integer_value(json_object_get(o, k));
}

/* --- memory ---
 * Worker and watch threads each get a glibc malloc arena of their own by
 * default (up to eight per core), and what a burst of work frees (the first
 * sync renders and plans every app) stays in them. Two arenas, and a
 * malloc_trim when the loop is idle after work, keep the steady RSS close
 * to what is live. Process-wide, like malloc itself: counted in job_after,
 * trimmed on the tick. */
static unsigned jobs_since_trim;
static int64_t trimmed_at;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double rand01(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

static int mkdir_p(const char *path)
{
	char *p = ks_xstrdup(path);
	int rc = 0;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0700) && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (mkdir(p, 0700) && errno != EEXIST)
		rc = -1;
	free(p);
	return rc;
}

/* --- apps --- */

ks_dapp *ks_daemon_app(ks_daemon *d, const char *name)
{
	for (size_t i = 0; i < d->napps; i++)
		if (!strcmp(d->apps[i]->name, name))
			return d->apps[i];
	return NULL;
}

static ks_dapp *app_get(ks_daemon *d, const char *name)
{
	ks_dapp *a = ks_daemon_app(d, name);
	if (a)
		return a;
	a = ks_xcalloc(1, sizeof(*a));
	a->d = d;
	a->name = ks_xstrdup(name);
	a->releases = json_array();
	a->deps_dirty = true;
	a->drift_dirty = true;
	snprintf(a->health, sizeof(a->health), "Unknown");
	if (d->napps == d->aapps) {
		d->aapps = d->aapps ? d->aapps * 2 : 16;
		d->apps = ks_xrealloc(d->apps, d->aapps * sizeof(*d->apps));
		d->appq = ks_xrealloc(d->appq, d->aapps * sizeof(*d->appq));
	}
	d->apps[d->napps++] = a;
	return a;
}

static void req_free(ks_dreq *r)
{
	if (!r)
		return;
	free(r->who);
	free(r->via);
	free(r->comment);
	free(r);
}

static void app_free(ks_dapp *a)
{
	if (!a)
		return;
	while (a->reqs) {
		ks_dreq *r = a->reqs;
		a->reqs = r->next;
		if (r->ex)
			ks_api_error(r->ex, 503, "the agent is shutting down");
		req_free(r);
	}
	free(a->name);
	json_decref(a->releases);
	json_decref(a->waiting);
	json_decref(a->render_errors);
	free(a->error);
	json_decref(a->drift);
	free(a);
}

json_t *ks_daemon_latest(const ks_dapp *a)
{
	return json_array_get(a->releases, 0);
}

json_t *ks_daemon_last_succeeded(const ks_dapp *a)
{
	size_t i;
	json_t *r;
	json_array_foreach(a->releases, i, r)
	{
		if (!strcmp(jstr(r, "phase"), KS_PHASE_SUCCEEDED))
			return r;
	}
	return NULL;
}

static const char *const all_phases[] = {
	KS_PHASE_PENDING,    KS_PHASE_WAITING,	  KS_PHASE_BLOCKED,
	KS_PHASE_AWAITING,   KS_PHASE_DEPLOYING,  KS_PHASE_CHECKING,
	KS_PHASE_SUCCEEDED,  KS_PHASE_FAILED,	  KS_PHASE_ROLLINGBACK,
	KS_PHASE_ROLLEDBACK, KS_PHASE_SUPERSEDED,
};

static void phase_metric(ks_daemon *d, ks_dapp *a)
{
	json_t *l = ks_daemon_latest(a);
	if (!l)
		return;
	const char *ph = jstr(l, "phase");
	for (size_t i = 0; i < sizeof(all_phases) / sizeof(all_phases[0]); i++)
		ks_metrics_set(d->metrics, "kusync_release_phase",
			       strcmp(ph, all_phases[i]) ? 0 : 1, "app",
			       a->name, "phase", all_phases[i], NULL);
}

/* Only the latest and the newest Succeeded records keep their resources
 * in memory (drift, previous release); the workers read older ones back
 * from the store when they need them (load_full). */
static void view_trim(ks_dapp *a)
{
	json_t *keep = ks_daemon_last_succeeded(a);
	size_t i;
	json_t *r;
	json_array_foreach(a->releases, i, r)
	{
		if (i && r != keep && json_object_get(r, "resources"))
			json_object_del(r, "resources");
	}
}

/* Puts REL (stolen) into A's view in number order, replacing the record
 * of the same number; keeps the view to history_limit records besides the
 * newest Succeeded one. Returns whether the latest release's phase changed. */
static bool view_put(ks_dapp *a, json_t *rel)
{
	json_t *old = ks_daemon_latest(a);
	char before[40];
	snprintf(before, sizeof(before), "%d/%s", old ? jnum(old, "number") : 0,
		 old ? jstr(old, "phase") : "");
	int n = jnum(rel, "number");
	size_t i;
	json_t *r;
	bool done = false;
	json_array_foreach(a->releases, i, r)
	{
		int m = jnum(r, "number");
		if (m == n) {
			json_array_set_new(a->releases, i, rel);
			done = true;
			break;
		}
		if (m < n) {
			json_array_insert_new(a->releases, i, rel);
			done = true;
			break;
		}
	}
	if (!done)
		json_array_append_new(a->releases, rel);
	size_t limit = (size_t)a->d->cfg->history_limit;
	while (json_array_size(a->releases) > limit) {
		json_t *keep = ks_daemon_last_succeeded(a);
		size_t last = json_array_size(a->releases) - 1;
		if (json_array_get(a->releases, last) == keep)
			last--;
		json_array_remove(a->releases, last);
	}
	view_trim(a);
	phase_metric(a->d, a);
	json_t *now = ks_daemon_latest(a);
	char after[40];
	snprintf(after, sizeof(after), "%d/%s", jnum(now, "number"),
		 jstr(now, "phase"));
	return strcmp(before, after) != 0;
}

/* Another app's latest release changed: dependants may go on. */
static void deps_changed(ks_daemon *d, const ks_dapp *except)
{
	for (size_t i = 0; i < d->napps; i++) {
		ks_dapp *a = d->apps[i];
		if (a == except)
			continue;
		json_t *l = ks_daemon_latest(a);
		if (l && !strcmp(jstr(l, "phase"), KS_PHASE_WAITING)) {
			a->deps_dirty = true;
			ks_daemon_kick(a);
		}
	}
}

static json_t *deps_of(ks_daemon *d, const json_t *rel)
{
	json_t *deps = json_array();
	json_t *names = json_object_get(json_object_get(rel, "appConfig"),
					"dependedApps");
	size_t i;
	json_t *n;
	json_array_foreach(names, i, n)
	{
		const char *name = json_string_value(n);
		if (!name)
			continue;
		ks_dapp *a = ks_daemon_app(d, name);
		json_t *l = a ? ks_daemon_latest(a) : NULL;
		bool healthy = l &&
			       !strcmp(jstr(l, "phase"), KS_PHASE_SUCCEEDED) &&
			       strcmp(a->health, "Degraded") &&
			       strcmp(a->health, "Missing");
		json_array_append_new(
			deps,
			json_pack("{s:s, s:o, s:o, s:b}", "app", name, "phase",
				  l ? json_string(jstr(l, "phase"))
				    : json_null(),
				  "commit",
				  l ? json_string(jstr(l, "commit"))
				    : json_null(),
				  "healthy", healthy));
	}
	return deps;
}

/* --- jobs on the worker pool --- */

enum job_kind {
	JOB_FETCH,
	JOB_RUN,
	JOB_APPROVE,
	JOB_ROLLBACK,
	JOB_DRIFT,
	JOB_STATE,
	JOB_LEASE,
	JOB_UNLEASE,
	JOB_PROBE,
};

typedef struct job {
	uv_work_t req;
	ks_daemon *d;
	enum job_kind kind;
	ks_dsource *src;
	ks_dapp *app;
	/* inputs (the job's own copies) */
	json_t *release;      /* RUN, APPROVE: updated in place */
	json_t *previous;     /* RUN */
	json_t *deps;	      /* RUN */
	json_t *supersede;    /* RUN, ROLLBACK: a release to supersede first */
	json_t *target;	      /* ROLLBACK */
	json_t *state;	      /* STATE */
	bool is_new;	      /* RUN: store the release before running it */
	bool heal;	      /* DRIFT */
	bool force;	      /* FETCH */
	char last[41];	      /* FETCH: the last good commit */
	int number;	      /* ROLLBACK: the new release's number */
	ks_dreq *r;	      /* APPROVE, ROLLBACK */
	ks_http_exchange *ex; /* STATE */
	/* outputs */
	int rc;
	ks_error err;
	char commit[41];
	bool unchanged;
	json_t *spec;
	json_t *render_errors;
	json_t *report;
	unsigned healed;
	char health[16];
	bool leader;
	json_t *loaded; /* LEASE as a follower: app -> releases */
	double seconds;
} job;

static void job_after(uv_work_t *w, int status);
static void job_work(uv_work_t *w);

static job *job_new(ks_daemon *d, enum job_kind kind)
{
	job *j = ks_xcalloc(1, sizeof(*j));
	j->d = d;
	j->kind = kind;
	j->req.data = j;
	return j;
}

static void job_free(job *j)
{
	json_decref(j->release);
	json_decref(j->previous);
	json_decref(j->deps);
	json_decref(j->supersede);
	json_decref(j->target);
	json_decref(j->state);
	json_decref(j->spec);
	json_decref(j->render_errors);
	json_decref(j->report);
	json_decref(j->loaded);
	req_free(j->r);
	free(j);
}

static void job_start(job *j)
{
	j->d->njobs++;
	int rc = uv_queue_work(j->d->loop, &j->req, job_work, job_after);
	if (rc) {
		/* Cannot happen with a live loop; fail the job visibly. */
		j->rc = ks_error_set(&j->err, KS_ERROR, "uv_queue_work: %s",
				     uv_strerror(rc));
		job_after(&j->req, 0);
	}
}

static void on_change(void *ud, const json_t *release)
{
	ks_daemon *d = ud;
	json_t *copy = json_deep_copy(release);
	pthread_mutex_lock(&d->mu);
	json_array_append_new(d->changed, copy);
	pthread_mutex_unlock(&d->mu);
	uv_async_send(&d->wake);
}

/* The preview's live objects from the watch cache once every watched kind
 * is listed (NULL: the pipeline lists them from the cluster). */
static json_t *watch_live(void *ud, const char *app)
{
	ks_daemon *d = ud;
	ks_watch *w = d->watch;
	if (d->cancel || !w || !ks_watch_synced(w))
		return NULL;
	return ks_watch_objects(w, app);
}

static void make_env(ks_daemon *d, const ks_dsource *src, ks_pipeline_env *e)
{
	memset(e, 0, sizeof(*e));
	e->kube = d->kube;
	e->store = d->store;
	e->source = src ? src->cfg : NULL;
	e->policies = d->policies;
	e->cancel = &d->cancel;
	e->on_change = on_change;
	e->ud = d;
	e->metrics = d->metrics;
	e->log = &d->log;
	e->live = watch_live;
}

static json_t *errlist_json(ks_errlist *l)
{
	json_t *a = json_array();
	ks_errlist_sort(l);
	for (size_t i = 0; i < ks_errlist_count(l) && i < KS_ERRLIST_LIMIT; i++)
		json_array_append_new(a, json_string(ks_errlist_get(l, i)));
	if (ks_errlist_count(l) > KS_ERRLIST_LIMIT)
		json_array_append_new(
			a,
			json_sprintf("... and %zu more errors",
				     ks_errlist_count(l) - KS_ERRLIST_LIMIT));
	return a;
}

/* *REL (a release of APP without its resources in memory) replaced by its
 * full record from the store, when the store has it. */
static void load_full(ks_daemon *d, const char *app, json_t **rel)
{
	if (!*rel || json_object_get(*rel, "resources"))
		return;
	json_t *list = NULL;
	ks_error e;
	if (ks_store_list(d->store, app, &list, NULL, &e))
		return;
	size_t i;
	json_t *r;
	json_array_foreach(list, i, r)
	{
		if (jnum(r, "number") == jnum(*rel, "number")) {
			json_decref(*rel);
			*rel = json_incref(r);
			break;
		}
	}
	json_decref(list);
}

static void work_fetch(job *j)
{
	ks_daemon *d = j->d;
	const ks_agent_source *s = j->src->cfg;
	char *repo = ks_xasprintf("%s/%s.git", d->cfg->cache_dir, s->name);
	ks_git_creds cr = {s->username, s->password, s->ssh_key_file,
			   s->known_hosts_file};
	uint64_t t0 = uv_hrtime();
	j->rc = ks_git_fetch(repo, s->url, s->ref, &cr, s->fetch_timeout_ms,
			     &d->cancel, j->commit, &j->err);
	ks_metrics_observe(d->metrics, "kusync_git_fetch_duration_seconds",
			   (double)(uv_hrtime() - t0) / 1e9, "source", s->name,
			   NULL);
	if (j->rc)
		goto out;
	if (!j->force && !strcmp(j->commit, j->last)) {
		j->unchanged = true;
		goto out;
	}
	ks_git_snapshot *snap = NULL;
	ks_error e;
	ks_error_clear(&e);
	if (ks_git_read_stacks(&snap, repo, j->commit,
			       (const char *const *)s->paths, s->npaths, &e)) {
		j->render_errors = json_pack("[s]", e.msg);
		goto out;
	}
	ks_errlist *errs = ks_errlist_new();
	ks_render_opts ro = {d->cfg->workspace};
	if (ks_render(&j->spec, snap->stacks, snap->nstacks, &ro, errs)) {
		j->spec = NULL;
		j->render_errors = errlist_json(errs);
		if (!json_array_size(j->render_errors))
			json_array_append_new(j->render_errors,
					      json_string("render failed"));
	}
	ks_errlist_free(errs);
	ks_git_snapshot_free(snap);
out:
	free(repo);
}

static void work_run(job *j)
{
	ks_pipeline_env env;
	make_env(j->d, j->app->src, &env);
	uint64_t t0 = uv_hrtime();
	load_full(j->d, j->app->name, &j->previous);
	load_full(j->d, j->app->name, &j->release);
	if (j->supersede) {
		ks_error e;
		load_full(j->d, j->app->name, &j->supersede);
		if (ks_pipeline_supersede(&env, j->supersede,
					  jnum(j->release, "number"), &e))
			KS_LOG(&j->d->log, KS_LOG_WARN, "agent",
			       "app %s: supersede release %d: %s", j->app->name,
			       jnum(j->supersede, "number"), e.msg);
	}
	/* A new release is stored with its first transition (nothing acts
	 * on the cluster before it), or as it is when the run stops early. */
	env.fresh = j->is_new;
	j->rc = ks_pipeline_run(&env, j->release, j->previous, j->deps,
				&j->err);
	j->seconds = (double)(uv_hrtime() - t0) / 1e9;
	ks_metrics_observe(j->d->metrics, "kusync_reconcile_duration_seconds",
			   j->seconds, NULL);
}

static void work_approve(job *j)
{
	ks_pipeline_env env;
	make_env(j->d, j->app->src, &env);
	load_full(j->d, j->app->name, &j->release);
	j->rc = ks_pipeline_approve(&env, j->release, j->r->who, j->r->via,
				    j->r->comment, &j->err);
}

static void work_rollback(job *j)
{
	ks_pipeline_env env;
	make_env(j->d, j->app->src, &env);
	load_full(j->d, j->app->name, &j->target);
	if (!json_object_get(j->target, "resources")) {
		j->rc = ks_error_set(&j->err, KS_ECONFLICT,
				     "release %d of %s is no longer stored",
				     jnum(j->target, "number"), j->app->name);
		return;
	}
	if (j->supersede) {
		ks_error e;
		if (ks_pipeline_supersede(&env, j->supersede, j->number, &e))
			KS_LOG(&j->d->log, KS_LOG_WARN, "agent",
			       "app %s: supersede release %d: %s", j->app->name,
			       jnum(j->supersede, "number"), e.msg);
	}
	j->rc = ks_pipeline_rollback_release(
		&env, j->target, j->number, j->r->who, j->r->via, j->r->comment,
		&j->release, &j->err);
}

static int health_rank(ks_health h)
{
	switch (h) {
	case KS_HEALTHY:
		return 0;
	case KS_PROGRESSING:
		return 1;
	case KS_MISSING:
		return 2;
	default:
		return 3;
	}
}

/* The app's health: the worst of its release's resources in LIVE. */
static void app_health(const json_t *rel, const json_t *live, char *out,
		       size_t len)
{
	ks_health worst = KS_HEALTHY;
	size_t i, k;
	json_t *r, *o;
	json_array_foreach(json_object_get(rel, "resources"), i, r)
	{
		const char *id = jstr(r, "id");
		json_t *attrs = json_object_get(r, "attributes");
		if (!strcmp(jstr(attrs, "kind"), "Namespace"))
			continue;
		const json_t *found = NULL;
		json_array_foreach(live, k, o)
		{
			char *oid = ks_sync_object_id(o);
			bool same = oid && !strcmp(oid, id);
			free(oid);
			if (same) {
				found = o;
				break;
			}
		}
		ks_health h = ks_sync_health(found, NULL, 0);
		if (health_rank(h) > health_rank(worst))
			worst = h;
	}
	snprintf(out, len, "%s", ks_health_name(worst));
}

static void work_drift(job *j)
{
	ks_pipeline_env env;
	make_env(j->d, j->app->src, &env);
	json_t *live = ks_watch_objects(j->d->watch, j->app->name);
	j->rc = ks_pipeline_drift(&env, j->release, live, j->heal, &j->report,
				  &j->healed, &j->err);
	app_health(j->release, live, j->health, sizeof(j->health));
	json_decref(live);
}

static void work_lease(job *j)
{
	ks_daemon *d = j->d;
	j->rc = ks_lease_try(d->kube, d->cfg->state_namespace, LEASE_NAME,
			     d->identity, LEASE_SECONDS, &j->leader, &j->err);
	if (j->leader)
		return;
	/* A follower keeps its read-only views current from the store. */
	json_t *names = NULL;
	ks_error e;
	if (ks_store_apps(d->store, &names, &e))
		return;
	j->loaded = json_object();
	size_t i;
	json_t *n;
	json_array_foreach(names, i, n)
	{
		json_t *list = NULL;
		if (!ks_store_list(d->store, json_string_value(n), &list, NULL,
				   &e))
			json_object_set_new(j->loaded, json_string_value(n),
					    list);
	}
	json_decref(names);
}

static void work_probe(job *j)
{
	ks_kube_req rq = {.method = "GET", .path = "/version"};
	ks_kube_resp resp;
	j->rc = ks_kube_request(j->d->kube, &rq, &resp, &j->err);
	ks_kube_resp_release(&resp);
}

static void job_work(uv_work_t *w)
{
	job *j = w->data;
	ks_error_clear(&j->err);
	switch (j->kind) {
	case JOB_FETCH:
		work_fetch(j);
		break;
	case JOB_RUN:
		work_run(j);
		break;
	case JOB_APPROVE:
		work_approve(j);
		break;
	case JOB_ROLLBACK:
		work_rollback(j);
		break;
	case JOB_DRIFT:
		work_drift(j);
		break;
	case JOB_STATE:
		j->rc = ks_store_put_state(j->d->store, j->app->name, j->state,
					   &j->err);
		break;
	case JOB_LEASE:
		work_lease(j);
		break;
	case JOB_UNLEASE:
		j->rc = ks_lease_release(j->d->kube, j->d->cfg->state_namespace,
					 LEASE_NAME, j->d->identity, &j->err);
		break;
	case JOB_PROBE:
		work_probe(j);
		break;
	}
}

/* --- sources --- */

static void source_cycle(ks_dsource *src);
static void process_spec(ks_dsource *src, json_t *spec, const char *commit);
static void fetch_slot_free(ks_daemon *d);
static void maybe_finish(ks_daemon *d);
static void watch_kinds(ks_daemon *d, const json_t *resources);

static void source_timer(uv_timer_t *t)
{
	source_cycle(t->data);
}

static void source_schedule(ks_dsource *src)
{
	ks_daemon *d = src->d;
	if (d->stopping || src->cfg->interval_ms <= 0)
		return;
	double f = 0.9 + 0.2 * rand01();
	uint64_t ms = (uint64_t)((double)src->cfg->interval_ms * f);
	uv_timer_start(&src->timer, source_timer, ms ? ms : 1, 0);
}

void ks_daemon_fetch_now(ks_dsource *src, bool force)
{
	if (src->d->stopping)
		return;
	if (force)
		src->force = true;
	if (src->fetching) {
		src->again = true;
		return;
	}
	uv_timer_stop(&src->timer);
	source_cycle(src);
}

static void source_cycle(ks_dsource *src)
{
	ks_daemon *d = src->d;
	if (d->stopping || src->fetching)
		return;
	src->fetching = true;
	if (d->nfetching >= d->cfg->max_parallel_fetches) {
		src->queued = true;
		d->fetchq[d->nfetchq++] = src;
		return;
	}
	d->nfetching++;
	job *j = job_new(d, JOB_FETCH);
	j->src = src;
	j->force = src->force;
	src->force = false;
	memcpy(j->last, src->commit, sizeof(j->last));
	job_start(j);
}

static void fetch_slot_free(ks_daemon *d)
{
	d->nfetching--;
	if (d->stopping || !d->nfetchq)
		return;
	ks_dsource *src = d->fetchq[0];
	memmove(d->fetchq, d->fetchq + 1,
		(d->nfetchq - 1) * sizeof(*d->fetchq));
	d->nfetchq--;
	src->queued = false;
	src->fetching = false;
	source_cycle(src);
}

static void source_first_done(ks_dsource *src)
{
	ks_daemon *d = src->d;
	src->first_done = true;
	if (!d->starting)
		return;
	for (size_t i = 0; i < d->nsources; i++)
		if (!d->sources[i].first_done)
			return;
	d->starting = false;
	KS_LOG(&d->log, KS_LOG_INFO, "agent", "first round of fetches done");
}

static void set_render_errors(ks_dsource *src, json_t *errs)
{
	ks_daemon *d = src->d;
	json_decref(src->render_errors);
	src->render_errors = errs ? json_incref(errs) : NULL;
	for (size_t i = 0; i < d->napps; i++) {
		ks_dapp *a = d->apps[i];
		if (a->src != src)
			continue;
		json_decref(a->render_errors);
		a->render_errors = errs ? json_incref(errs) : NULL;
	}
}

static void after_fetch(job *j)
{
	ks_dsource *src = j->src;
	ks_daemon *d = src->d;
	const char *name = src->cfg->name;
	src->fetching = false;
	src->last_fetch = now_unix_ms();
	if (j->rc) {
		if (!d->stopping) {
			if (!src->error_since)
				src->error_since = src->last_fetch;
			KS_LOG(&d->log, KS_LOG_WARN, "agent",
			       "source %s: fetch failed: %s", name, j->err.msg);
		}
		free(src->error);
		src->error = ks_xstrdup(j->err.msg);
	} else {
		if (src->error)
			KS_LOG(&d->log, KS_LOG_INFO, "agent",
			       "source %s: fetch works again", name);
		free(src->error);
		src->error = NULL;
		src->error_since = 0;
		if (strcmp(src->commit, j->commit))
			KS_LOG(&d->log, KS_LOG_INFO, "agent",
			       "source %s: commit %s", name, j->commit);
		memcpy(src->commit, j->commit, sizeof(src->commit));
		if (j->render_errors) {
			KS_LOG(&d->log, KS_LOG_WARN, "agent",
			       "source %s: render of %.12s failed: %s", name,
			       j->commit,
			       json_string_value(
				       json_array_get(j->render_errors, 0)));
			set_render_errors(src, j->render_errors);
		} else if (j->spec) {
			process_spec(src, j->spec, j->commit);
		}
	}
	source_first_done(src);
	if (d->stopping)
		return;
	if (src->again) {
		src->again = false;
		source_cycle(src);
	} else {
		source_schedule(src);
	}
}

/* The app's part of SPEC: its apps[] entry, its resources and the
 * Namespace objects they live in. A new reference. */
static json_t *subspec_of(const json_t *spec, const json_t *entry,
			  const char *name)
{
	json_t *res = json_array();
	json_t *nss = json_object();
	const json_t *all = json_object_get(spec, "resources");
	const char *ans = jstr(entry, "namespace");
	if (*ans)
		json_object_set_new(nss, ans, json_true());
	size_t i;
	json_t *r;
	json_array_foreach(all, i, r)
	{
		json_t *md = json_object_get(json_object_get(r, "attributes"),
					     "metadata");
		const char *owner =
			jstr(json_object_get(md, "labels"), KS_LABEL_APP);
		if (strcmp(owner, name))
			continue;
		const char *ns = jstr(md, "namespace");
		if (*ns)
			json_object_set_new(nss, ns, json_true());
	}
	json_array_foreach(all, i, r)
	{
		json_t *attrs = json_object_get(r, "attributes");
		json_t *md = json_object_get(attrs, "metadata");
		const char *owner =
			jstr(json_object_get(md, "labels"), KS_LABEL_APP);
		bool mine = !strcmp(owner, name);
		bool ns = !strcmp(jstr(attrs, "kind"), "Namespace") &&
			  !strcmp(jstr(attrs, "apiVersion"), "v1") &&
			  json_object_get(nss, jstr(md, "name"));
		if (mine || ns)
			json_array_append(res, r);
	}
	json_decref(nss);
	return json_pack("{s:[O], s:o}", "apps", entry, "resources", res);
}

static void spec_hash(const json_t *resources, char out[65])
{
	size_t len = 0;
	char *c = ks_json_canonical(resources, &len);
	ks_sha256_hex(c, len, out);
	free(c);
}

/* Another source that defines app NAME in its last render, or NULL. */
static ks_dsource *other_definer(ks_daemon *d, ks_dsource *src,
				 const char *name)
{
	for (size_t i = 0; i < d->nsources; i++) {
		ks_dsource *o = &d->sources[i];
		if (o == src || !o->apps)
			continue;
		size_t k;
		json_t *n;
		json_array_foreach(o->apps, k, n)
		{
			if (!strcmp(json_string_value(n), name))
				return o;
		}
	}
	return NULL;
}

static void shutdown_begin(ks_daemon *d);

static void process_spec(ks_dsource *src, json_t *spec, const char *commit)
{
	ks_daemon *d = src->d;
	json_t *apps = json_object_get(spec, "apps");
	size_t i;
	json_t *e;
	json_array_foreach(apps, i, e)
	{
		ks_dsource *o = other_definer(d, src, jstr(e, "name"));
		if (!o)
			continue;
		char *msg = ks_xasprintf("app %s is also defined by source %s",
					 jstr(e, "name"), o->cfg->name);
		KS_LOG(&d->log, KS_LOG_ERROR, "agent", "source %s: %s",
		       src->cfg->name, msg);
		json_t *errs = json_pack("[s]", msg);
		free(msg);
		set_render_errors(src, errs);
		json_decref(errs);
		if (d->starting) {
			d->exit_code = 2;
			shutdown_begin(d);
		}
		return;
	}
	set_render_errors(src, NULL);
	json_t *names = json_array();
	json_array_foreach(apps, i, e)
	{
		const char *name = jstr(e, "name");
		json_array_append_new(names, json_string(name));
		ks_dapp *a = app_get(d, name);
		a->src = src;
		a->defined = true;
		json_t *sub = subspec_of(spec, e, name);
		char hash[65];
		spec_hash(json_object_get(sub, "resources"), hash);
		json_t *l = ks_daemon_latest(a);
		bool same = l && !strcmp(jstr(l, "specHash"), hash);
		if (same && !a->sync_requested) {
			json_decref(a->waiting);
			a->waiting = NULL;
			json_decref(sub);
			continue;
		}
		a->sync_requested = false;
		json_decref(a->waiting);
		a->waiting = json_pack("{s:o, s:s, s:s}", "subspec", sub,
				       "hash", hash, "commit", commit);
		ks_daemon_kick(a);
	}
	/* Apps the source no longer defines keep their objects (nothing is
	 * deleted on a vanished definition: too easy to do by mistake). */
	for (size_t k = 0; k < d->napps; k++) {
		ks_dapp *a = d->apps[k];
		if (a->src != src)
			continue;
		bool found = false;
		size_t m;
		json_t *n;
		json_array_foreach(names, m, n)
		{
			if (!strcmp(json_string_value(n), a->name))
				found = true;
		}
		if (!found && a->defined) {
			KS_LOG(&d->log, KS_LOG_WARN, "agent",
			       "app %s is no longer defined by source %s; "
			       "its objects are left in place",
			       a->name, src->cfg->name);
			a->defined = false;
		}
	}
	json_decref(src->apps);
	src->apps = names;
	watch_kinds(d, json_object_get(spec, "resources"));
}

/* --- watches and drift --- */

static void watch_cb(void *ud, const char *app)
{
	ks_daemon *d = ud;
	pthread_mutex_lock(&d->mu);
	json_object_set_new(d->dirty, app, json_true());
	pthread_mutex_unlock(&d->mu);
	uv_async_send(&d->wake);
}

static void watch_kinds(ks_daemon *d, const json_t *resources)
{
	if (d->stopping || !resources)
		return;
	json_t *kinds = json_array();
	json_t *seen = json_object();
	size_t i;
	json_t *r;
	json_array_foreach(resources, i, r)
	{
		json_t *attrs = json_object_get(r, "attributes");
		if (!strcmp(jstr(attrs, "kind"), "Namespace"))
			continue;
		char *k = ks_xasprintf("%s:%s", jstr(attrs, "apiVersion"),
				       jstr(attrs, "kind"));
		if (!json_object_get(seen, k)) {
			json_object_set_new(seen, k, json_true());
			json_array_append_new(kinds, json_string(k));
		}
		free(k);
	}
	json_decref(seen);
	ks_error err;
	if (!json_array_size(kinds)) {
		json_decref(kinds);
		return;
	}
	/* One watch set for every source: the shortest resync wins. */
	int64_t resync = 0;
	for (size_t k = 0; k < d->nsources; k++) {
		int64_t ms = d->sources[k].cfg->resync_ms;
		if (ms > 0 && (!resync || ms < resync))
			resync = ms;
	}
	int rc = d->watch ? ks_watch_add_kinds(d->watch, kinds, &err)
			  : ks_watch_start(&d->watch, d->kube, kinds, resync,
					   watch_cb, d, &err);
	if (rc)
		KS_LOG(&d->log, KS_LOG_WARN, "agent", "watch: %s", err.msg);
	json_decref(kinds);
}

static void debounce_fire(uv_timer_t *t)
{
	ks_daemon *d = t->data;
	d->debounce_on = false;
	for (size_t i = 0; i < d->napps; i++)
		if (d->apps[i]->drift_dirty)
			ks_daemon_kick(d->apps[i]);
}

static void wake_cb(uv_async_t *h)
{
	ks_daemon *d = h->data;
	pthread_mutex_lock(&d->mu);
	json_t *changed = d->changed;
	json_t *dirty = d->dirty;
	d->changed = json_array();
	d->dirty = json_object();
	pthread_mutex_unlock(&d->mu);
	size_t i;
	json_t *r;
	json_array_foreach(changed, i, r)
	{
		ks_dapp *a = ks_daemon_app(d, jstr(r, "app"));
		if (a && view_put(a, json_incref(r)))
			deps_changed(d, a);
	}
	const char *k;
	json_t *v;
	json_object_foreach(dirty, k, v)
	{
		ks_dapp *a = ks_daemon_app(d, k);
		if (a)
			a->drift_dirty = true;
	}
	if (json_object_size(dirty) && !d->debounce_on && !d->stopping) {
		d->debounce_on = true;
		uv_timer_start(&d->debounce, debounce_fire, DEBOUNCE_MS, 0);
	}
	json_decref(changed);
	json_decref(dirty);
}

/* --- app scheduling --- */

enum next { NEXT_NONE, NEXT_REQ, NEXT_RUN, NEXT_NEW, NEXT_DRIFT };

static enum next app_next(ks_dapp *a)
{
	ks_daemon *d = a->d;
	if (d->stopping)
		return NEXT_NONE;
	if (d->leader && a->reqs && a->src)
		return NEXT_REQ;
	bool drift = a->drift_dirty && d->watch && ks_daemon_last_succeeded(a);
	if (!d->leader || a->suspended || !a->src ||
	    (a->retry_at && (int64_t)uv_now(d->loop) < a->retry_at))
		return drift ? NEXT_DRIFT : NEXT_NONE;
	json_t *l = ks_daemon_latest(a);
	if (l && !ks_pipeline_release_final(l)) {
		const char *ph = jstr(l, "phase");
		bool pending = !strcmp(ph, KS_PHASE_PENDING);
		bool waiting = !strcmp(ph, KS_PHASE_WAITING);
		bool awaiting = !strcmp(ph, KS_PHASE_AWAITING);
		if (!pending && !waiting && !awaiting)
			return NEXT_RUN;
		if (a->waiting)
			return NEXT_NEW;
		if (pending || (waiting && a->deps_dirty))
			return NEXT_RUN;
		if (awaiting &&
		    json_array_size(json_object_get(l, "approvals")))
			return NEXT_RUN;
	} else if (a->waiting) {
		return NEXT_NEW;
	}
	return drift ? NEXT_DRIFT : NEXT_NONE;
}

static void app_start(ks_dapp *a, enum next what);

void ks_daemon_kick(ks_dapp *a)
{
	ks_daemon *d = a->d;
	if (d->stopping || a->busy || a->queued)
		return;
	enum next what = app_next(a);
	if (what == NEXT_NONE)
		return;
	if (what == NEXT_DRIFT) {
		if (d->ndrifting < DRIFT_SLOTS)
			app_start(a, what);
		return; /* stays dirty: retried when a drift slot frees */
	}
	if (d->nrunning < d->cfg->max_parallel_apps) {
		app_start(a, what);
		return;
	}
	if (d->nappq >= d->napps) /* cannot happen: one entry per app */
		return;
	a->queued = true;
	d->appq[d->nappq++] = a;
}

static int next_number(const ks_dapp *a)
{
	json_t *l = ks_daemon_latest(a);
	int n = l ? jnum(l, "number") : 0;
	return (n > a->last_number ? n : a->last_number) + 1;
}

static json_t *previous_of(const ks_dapp *a, int below)
{
	size_t i;
	json_t *r;
	json_array_foreach(a->releases, i, r)
	{
		if (jnum(r, "number") < below &&
		    !strcmp(jstr(r, "phase"), KS_PHASE_SUCCEEDED))
			return json_deep_copy(r);
	}
	return NULL;
}

static json_t *release_by_number(const ks_dapp *a, int n)
{
	size_t i;
	json_t *r;
	json_array_foreach(a->releases, i, r)
	{
		if (jnum(r, "number") == n)
			return r;
	}
	return NULL;
}

static void start_req(ks_dapp *a)
{
	ks_daemon *d = a->d;
	ks_dreq *r = a->reqs;
	a->reqs = r->next;
	r->next = NULL;
	job *j;
	if (r->kind == KS_DREQ_APPROVE) {
		json_t *rel = release_by_number(a, r->number);
		if (!rel || strcmp(jstr(rel, "phase"), KS_PHASE_AWAITING)) {
			if (r->ex)
				ks_api_error(r->ex, 409,
					     "release %d of %s is not awaiting "
					     "approval",
					     r->number, a->name);
			req_free(r);
			ks_daemon_kick(a);
			return;
		}
		j = job_new(d, JOB_APPROVE);
		j->release = json_deep_copy(rel);
	} else {
		json_t *t = release_by_number(a, r->number);
		if (!t) {
			if (r->ex)
				ks_api_error(r->ex, 409,
					     "release %d of %s does not exist",
					     r->number, a->name);
			req_free(r);
			ks_daemon_kick(a);
			return;
		}
		j = job_new(d, JOB_ROLLBACK);
		j->target = json_deep_copy(t);
		j->number = next_number(a);
		json_t *l = ks_daemon_latest(a);
		if (l && !ks_pipeline_release_final(l) &&
		    !ks_pipeline_phase_active(jstr(l, "phase")))
			j->supersede = json_deep_copy(l);
	}
	j->app = a;
	j->r = r;
	a->busy = true;
	d->nrunning++;
	job_start(j);
}

static void app_start(ks_dapp *a, enum next what)
{
	ks_daemon *d = a->d;
	if (what == NEXT_REQ) {
		start_req(a);
		return;
	}
	job *j;
	if (what == NEXT_DRIFT) {
		a->drift_dirty = false;
		j = job_new(d, JOB_DRIFT);
		j->release = json_deep_copy(ks_daemon_last_succeeded(a));
		json_t *l = ks_daemon_latest(a);
		j->heal = d->leader && a->src && a->src->cfg->drift_heal &&
			  !a->suspended &&
			  strcmp(jstr(l, "phase"), KS_PHASE_FAILED);
		j->app = a;
		a->busy = true;
		d->ndrifting++;
		job_start(j);
		return;
	}
	j = job_new(d, JOB_RUN);
	j->app = a;
	json_t *l = ks_daemon_latest(a);
	if (what == NEXT_NEW) {
		int n = next_number(a);
		json_t *w = a->waiting;
		j->release = ks_pipeline_release_new(
			a->name, n, jstr(w, "commit"), a->src->cfg->name,
			jstr(w, "hash"), json_object_get(w, "subspec"));
		j->is_new = true;
		if (l && !ks_pipeline_release_final(l))
			j->supersede = json_deep_copy(l);
		json_decref(a->waiting);
		a->waiting = NULL;
		view_put(a, json_deep_copy(j->release));
		KS_LOG(&d->log, KS_LOG_INFO, "agent",
		       "app %s: release %d for commit %.12s", a->name, n,
		       jstr(j->release, "commit"));
	} else {
		j->release = json_deep_copy(l);
	}
	a->deps_dirty = false;
	j->previous = previous_of(a, jnum(j->release, "number"));
	j->deps = deps_of(d, j->release);
	a->busy = true;
	d->nrunning++;
	job_start(j);
}

static void run_slot_free(ks_daemon *d)
{
	d->nrunning--;
	while (!d->stopping && d->nappq &&
	       d->nrunning < d->cfg->max_parallel_apps) {
		ks_dapp *a = d->appq[0];
		memmove(d->appq, d->appq + 1,
			(d->nappq - 1) * sizeof(*d->appq));
		d->nappq--;
		a->queued = false;
		ks_daemon_kick(a);
	}
}

/* A drift slot is free: the dirty apps get it in turn (round robin), so
 * that busy apps early in the list do not starve the others. */
static void drift_slot_free(ks_daemon *d)
{
	d->ndrifting--;
	for (size_t n = 0; n < d->napps && d->ndrifting < DRIFT_SLOTS; n++) {
		ks_dapp *a = d->apps[(d->drift_rr + n) % d->napps];
		if (a->drift_dirty && !a->busy) {
			d->drift_rr = (d->drift_rr + n + 1) % d->napps;
			ks_daemon_kick(a);
		}
	}
}

static void op_failed(ks_dapp *a, const job *j)
{
	ks_daemon *d = a->d;
	free(a->error);
	a->error = ks_xstrdup(j->err.msg);
	if (d->stopping)
		return;
	a->failures++;
	int64_t delay =
		ks_kube_backoff_ms(a->failures - 1, 1000, 60000, 0, rand01());
	a->retry_at = (int64_t)uv_now(d->loop) + delay;
	KS_LOG(&d->log, KS_LOG_WARN, "agent", "app %s: %s (retry in %lld ms)",
	       a->name, j->err.msg, (long long)delay);
}

static void after_run(job *j)
{
	ks_dapp *a = j->app;
	ks_daemon *d = j->d;
	if (j->supersede) {
		/* what the worker stored (Superseded), or as it was */
		view_put(a, json_incref(j->supersede));
	}
	bool moved = view_put(a, json_incref(j->release));
	const char *ph = jstr(j->release, "phase");
	if (j->rc) {
		op_failed(a, j);
	} else {
		a->failures = 0;
		a->retry_at = 0;
		free(a->error);
		a->error = NULL;
		KS_LOG(&d->log, KS_LOG_INFO, "agent",
		       "app %s: release %d %s%s%s", a->name,
		       jnum(j->release, "number"), ph,
		       *jstr(j->release, "message") ? ": " : "",
		       jstr(j->release, "message"));
	}
	if (!strcmp(ph, KS_PHASE_SUCCEEDED))
		a->drift_dirty = true;
	if (!strcmp(ph, KS_PHASE_AWAITING) && a->src)
		ks_daemon_merge_approved(a->src, NULL);
	if (moved)
		deps_changed(d, a);
}

static void respond_release(ks_http_exchange *ex, int status, const json_t *rel)
{
	if (!ex)
		return;
	json_t *v =
		json_pack("{s:s, s:i, s:s, s:s}", "app", jstr(rel, "app"),
			  "release", jnum(rel, "number"), "phase",
			  jstr(rel, "phase"), "commit", jstr(rel, "commit"));
	ks_api_json(ex, status, v);
}

static void after_req(job *j)
{
	ks_dapp *a = j->app;
	ks_http_exchange *ex = j->r->ex;
	if (j->kind == JOB_ROLLBACK && j->supersede)
		view_put(a, json_incref(j->supersede));
	if (j->rc) {
		if (ex)
			ks_api_error(ex, j->rc == KS_ECONFLICT ? 409 : 500,
				     "%s", j->err.msg);
		return;
	}
	view_put(a, json_incref(j->release));
	respond_release(ex, 200, j->release);
	KS_LOG(&j->d->log, KS_LOG_INFO, "agent",
	       "app %s: %s of release %d by %s via %s", a->name,
	       j->kind == JOB_APPROVE ? "approval" : "rollback",
	       j->kind == JOB_APPROVE ? j->r->number
				      : jnum(j->release, "number"),
	       j->r->who ? j->r->who : "system", j->r->via);
}

static void after_drift(job *j)
{
	ks_dapp *a = j->app;
	ks_daemon *d = j->d;
	if (j->rc) {
		if (!d->stopping)
			KS_LOG(&d->log, KS_LOG_WARN, "agent",
			       "app %s: drift: %s", a->name, j->err.msg);
		return;
	}
	json_decref(a->drift);
	a->drift = json_incref(j->report);
	size_t n = json_array_size(json_object_get(j->report, "resources"));
	ks_metrics_set(d->metrics, "kusync_drift_resources", (double)n, "app",
		       a->name, NULL);
	if (j->healed) {
		a->heals += j->healed;
		ks_metrics_add(d->metrics, "kusync_drift_heals_total",
			       j->healed, "app", a->name, NULL);
		KS_LOG(&d->log, KS_LOG_INFO, "agent",
		       "app %s: healed %u drifted objects", a->name, j->healed);
	} else if (n) {
		KS_LOG(&d->log, KS_LOG_DEBUG, "agent",
		       "app %s: %zu drifted objects", a->name, n);
	}
	bool changed = strcmp(a->health, j->health) != 0;
	snprintf(a->health, sizeof(a->health), "%s", j->health);
	if (changed)
		deps_changed(d, a);
}

static void after_lease(job *j)
{
	ks_daemon *d = j->d;
	d->lease_busy = false;
	bool was = d->leader;
	if (j->rc && !d->stopping)
		KS_LOG(&d->log, KS_LOG_WARN, "agent", "lease: %s", j->err.msg);
	if (j->rc && was)
		return; /* keep acting until the next renewal decides */
	d->leader = j->leader;
	if (j->loaded) {
		const char *k;
		json_t *list;
		json_object_foreach(j->loaded, k, list)
		{
			ks_dapp *a = app_get(d, k);
			if (a->busy)
				continue;
			json_decref(a->releases);
			a->releases = json_incref(list);
			view_trim(a);
			phase_metric(d, a);
			/* The leader may have released the spec this follower
			 * saw as new when its view was older. */
			json_t *l = ks_daemon_latest(a);
			if (a->waiting && l &&
			    !strcmp(jstr(a->waiting, "hash"),
				    jstr(l, "specHash"))) {
				json_decref(a->waiting);
				a->waiting = NULL;
			}
		}
	}
	if (d->leader == was)
		return;
	KS_LOG(&d->log, KS_LOG_INFO, "agent", "%s the leader (%s)",
	       d->leader ? "now" : "no longer", d->identity);
	if (!d->leader)
		return;
	/* The rendered Specs are not kept (memory): render them again. A
	 * spec waiting since a render as a follower is dropped when the
	 * releases just loaded already deployed it (as process_spec does). */
	for (size_t i = 0; i < d->nsources; i++) {
		ks_dsource *src = &d->sources[i];
		if (*src->commit)
			ks_daemon_fetch_now(src, true);
	}
	for (size_t i = 0; i < d->napps; i++) {
		ks_dapp *a = d->apps[i];
		json_t *l = ks_daemon_latest(a);
		if (a->waiting && l &&
		    !strcmp(jstr(l, "specHash"), jstr(a->waiting, "hash"))) {
			json_decref(a->waiting);
			a->waiting = NULL;
		}
		a->deps_dirty = true;
		ks_daemon_kick(a);
	}
}

static void job_after(uv_work_t *w, int status)
{
	(void)status;
	job *j = w->data;
	ks_daemon *d = j->d;
	jobs_since_trim++;
	switch (j->kind) {
	case JOB_FETCH:
		after_fetch(j);
		fetch_slot_free(d);
		break;
	case JOB_RUN:
		after_run(j);
		j->app->busy = false;
		run_slot_free(d);
		break;
	case JOB_APPROVE:
	case JOB_ROLLBACK:
		after_req(j);
		j->app->busy = false;
		run_slot_free(d);
		break;
	case JOB_DRIFT:
		after_drift(j);
		j->app->busy = false;
		drift_slot_free(d);
		break;
	case JOB_STATE:
		if (j->ex) {
			if (j->rc)
				ks_api_error(j->ex, 500, "%s", j->err.msg);
			else
				ks_api_json(j->ex, 200,
					    ks_api_app_view(d, j->app, false));
		}
		break;
	case JOB_LEASE:
		after_lease(j);
		break;
	case JOB_UNLEASE:
		if (j->rc)
			KS_LOG(&d->log, KS_LOG_WARN, "agent",
			       "lease release: %s", j->err.msg);
		break;
	case JOB_PROBE:
		d->probing = false;
		if (!j->rc && !d->ready) {
			d->ready = true;
			KS_LOG(&d->log, KS_LOG_INFO, "agent",
			       "cluster reachable: ready");
		} else if (j->rc && !d->ready) {
			KS_LOG(&d->log, KS_LOG_DEBUG, "agent",
			       "cluster not reachable yet: %s", j->err.msg);
		}
		break;
	}
	ks_dapp *a = j->app;
	d->njobs--;
	job_free(j);
	if (a)
		ks_daemon_kick(a);
	maybe_finish(d);
}

/* --- requests from the API and webhooks --- */

void ks_daemon_request(ks_dapp *a, ks_dreq *r)
{
	size_t n = 0;
	ks_dreq **p = &a->reqs;
	while (*p) {
		p = &(*p)->next;
		n++;
	}
	if (n >= MAX_REQS) {
		if (r->ex)
			ks_api_error(r->ex, 503,
				     "too many requests waiting "
				     "for app %s",
				     a->name);
		req_free(r);
		return;
	}
	*p = r;
	ks_daemon_kick(a);
}

void ks_daemon_set_suspended(ks_dapp *a, bool suspended)
{
	ks_daemon *d = a->d;
	a->suspended = suspended;
	KS_LOG(&d->log, KS_LOG_INFO, "agent", "app %s %s", a->name,
	       suspended ? "suspended" : "resumed");
	if (!suspended) {
		a->deps_dirty = true;
		a->drift_dirty = true;
		ks_daemon_kick(a);
	}
}

void ks_daemon_store_state(ks_dapp *a, ks_http_exchange *ex)
{
	job *j = job_new(a->d, JOB_STATE);
	j->app = a;
	j->ex = ex;
	j->state = a->suspended ? json_pack("{s:b}", "suspended", 1) : NULL;
	job_start(j);
}

static bool has_approve_req(const ks_dapp *a, int number)
{
	for (const ks_dreq *r = a->reqs; r; r = r->next)
		if (r->kind == KS_DREQ_APPROVE && r->number == number)
			return true;
	return false;
}

void ks_daemon_merge_approved(ks_dsource *src, const char *commit)
{
	ks_daemon *d = src->d;
	if (!src->merged)
		return;
	for (size_t i = 0; i < d->napps; i++) {
		ks_dapp *a = d->apps[i];
		if (a->src != src)
			continue;
		json_t *l = ks_daemon_latest(a);
		if (!l || strcmp(jstr(l, "phase"), KS_PHASE_AWAITING))
			continue;
		const char *c = jstr(l, "commit");
		if (commit && strcmp(c, commit))
			continue;
		json_t *logins = json_object_get(src->merged, c);
		if (!json_array_size(logins) ||
		    json_array_size(json_object_get(l, "approvals")) ||
		    has_approve_req(a, jnum(l, "number")))
			continue;
		ks_dreq *r = ks_xcalloc(1, sizeof(*r));
		r->kind = KS_DREQ_APPROVE;
		r->number = jnum(l, "number");
		r->who = ks_xstrdup(
			json_string_value(json_array_get(logins, 0)));
		r->via = ks_xstrdup("merge-request");
		r->comment =
			ks_xasprintf("merge request approved by %s", r->who);
		ks_daemon_request(a, r);
	}
}

/* --- timers, signals, shutdown --- */

static void on_closed(uv_handle_t *h)
{
	ks_daemon *d = h->data;
	d->closing--;
}

static void close_handle(ks_daemon *d, uv_handle_t *h)
{
	if (uv_is_closing(h))
		return;
	h->data = d;
	d->closing++;
	uv_close(h, on_closed);
}

static void maybe_finish(ks_daemon *d)
{
	if (!d->stopping || d->njobs)
		return;
	/* Workers read the watch cache (drift, previews): stop it only once
	 * they have all returned; its threads may still wake the loop. */
	ks_watch_stop(d->watch);
	d->watch = NULL;
	if (!uv_is_closing((uv_handle_t *)&d->wake))
		close_handle(d, (uv_handle_t *)&d->wake);
}

static void shutdown_begin(ks_daemon *d)
{
	if (d->stopping)
		return;
	d->stopping = true;
	d->cancel = 1;
	KS_LOG(&d->log, KS_LOG_INFO, "agent", "shutting down");
	if (d->http) {
		ks_http_server_close(d->http, NULL, NULL);
		d->http = NULL;
	}
	for (size_t i = 0; i < d->nsources; i++)
		close_handle(d, (uv_handle_t *)&d->sources[i].timer);
	close_handle(d, (uv_handle_t *)&d->tick);
	close_handle(d, (uv_handle_t *)&d->debounce);
	close_handle(d, (uv_handle_t *)&d->lease);
	close_handle(d, (uv_handle_t *)&d->sigterm);
	close_handle(d, (uv_handle_t *)&d->sigint);
	for (size_t i = 0; i < d->nappq; i++)
		d->appq[i]->queued = false;
	d->nappq = 0;
	d->nfetchq = 0;
	for (size_t i = 0; i < d->napps; i++) {
		ks_dapp *a = d->apps[i];
		while (a->reqs) {
			ks_dreq *r = a->reqs;
			a->reqs = r->next;
			if (r->ex)
				ks_api_error(r->ex, 503,
					     "the agent is shutting down");
			req_free(r);
		}
	}
	if (d->cfg->state_kubernetes && d->leader) {
		job *j = job_new(d, JOB_UNLEASE);
		job_start(j);
	}
	maybe_finish(d);
}

static void on_signal(uv_signal_t *h, int signum)
{
	ks_daemon *d = h->data;
	KS_LOG(&d->log, KS_LOG_INFO, "agent", "signal %d", signum);
	shutdown_begin(d);
}

/* --- memory (see the statics at the top) --- */

static void limit_arenas(void)
{
#ifdef __GLIBC__
	if (!getenv("MALLOC_ARENA_MAX"))
		mallopt(M_ARENA_MAX, 2);
#endif
}

static void maybe_trim(const ks_daemon *d, int64_t now)
{
	if (!jobs_since_trim || d->njobs || now - trimmed_at < 30000)
		return;
	jobs_since_trim = 0;
	trimmed_at = now;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

static void tick(uv_timer_t *t)
{
	ks_daemon *d = t->data;
	if (d->stopping)
		return;
	if (!d->ready && !d->probing) {
		d->probing = true;
		job_start(job_new(d, JOB_PROBE));
	}
	int64_t now = (int64_t)uv_now(d->loop);
	maybe_trim(d, now);
	for (size_t i = 0; i < d->napps; i++) {
		ks_dapp *a = d->apps[i];
		if (a->retry_at && now >= a->retry_at) {
			a->retry_at = 0;
			ks_daemon_kick(a);
		} else if (a->drift_dirty && !a->busy) {
			ks_daemon_kick(a);
		}
	}
}

static void lease_tick(uv_timer_t *t)
{
	ks_daemon *d = t->data;
	if (d->stopping || d->lease_busy)
		return;
	d->lease_busy = true;
	job_start(job_new(d, JOB_LEASE));
}

/* --- start --- */

static void define_metrics(ks_metrics *m)
{
	ks_metrics_define(m, "kusync_sync_total", "counter",
			  "Releases that ended, by app and result.", NULL, 0);
	ks_metrics_define(m, "kusync_release_phase", "gauge",
			  "1 for the phase of the app's latest release.", NULL,
			  0);
	ks_metrics_define(m, "kusync_drift_resources", "gauge",
			  "Objects of the app that drifted from its last "
			  "succeeded release.",
			  NULL, 0);
	ks_metrics_define(m, "kusync_drift_heals_total", "counter",
			  "Drifted objects re-applied in heal mode.", NULL, 0);
	ks_metrics_define(m, "kusync_reconcile_duration_seconds", "histogram",
			  "Duration of one pipeline run of an app.", NULL, 0);
	ks_metrics_define(m, "kusync_git_fetch_duration_seconds", "histogram",
			  "Duration of one git fetch, by source.", NULL, 0);
	ks_metrics_define(m, "kusync_webhook_requests_total", "counter",
			  "Webhook deliveries by source and result.", NULL, 0);
	ks_metrics_define(m, "kusync_kube_requests_total", "counter",
			  "Kubernetes API requests by verb and code.", NULL, 0);
}

/* kusync_kube_requests_total{verb,code}: every attempt of the client (from
 * worker threads; the registry locks). Code "error" when no answer came. */
static void count_kube_request(void *ud, const char *method, long status)
{
	ks_daemon *d = ud;
	char code[24];
	if (!d->metrics)
		return;
	if (status > 0)
		snprintf(code, sizeof(code), "%ld", status);
	else
		snprintf(code, sizeof(code), "error");
	ks_metrics_add(d->metrics, "kusync_kube_requests_total", 1, "verb",
		       method, "code", code, NULL);
}

static int open_cluster(ks_daemon *d)
{
	ks_error err;
	ks_kube_config *kc = NULL;
	int rc = d->cfg->in_cluster
			 ? ks_kube_config_in_cluster(&kc, NULL, &err)
			 : ks_kube_config_load(&kc, d->cfg->kubeconfig,
					       d->cfg->context, &err);
	if (rc) {
		fprintf(stderr, "kusync: agent: cluster: %s\n", err.msg);
		return 3;
	}
	ks_kube_client_opts o;
	ks_kube_client_opts_default(&o);
	o.qps = d->cfg->qps;
	o.burst = d->cfg->burst;
	o.on_response = count_kube_request;
	o.on_response_ud = d;
	rc = ks_kube_client_new(&d->kube, kc, &o, &err);
	ks_kube_config_free(kc);
	if (rc) {
		fprintf(stderr, "kusync: agent: cluster: %s\n", err.msg);
		return 3;
	}
	return 0;
}

static int open_policies(ks_daemon *d)
{
	ks_errlist *errs = ks_errlist_new();
	d->policies = ks_policy_registry_new();
	int bad = ks_policy_load_builtin(d->policies, errs) != 0;
	for (size_t i = 0; i < d->cfg->npolicies; i++)
		if (ks_policy_load_dir(d->policies, d->cfg->policies[i], errs))
			bad = 1;
	if (bad || ks_errlist_count(errs)) {
		ks_errlist_print(errs, stderr, KS_ERRLIST_LIMIT);
		if (!ks_errlist_count(errs))
			fprintf(stderr, "kusync: agent: cannot load the "
					"policy sets\n");
	}
	ks_errlist_free(errs);
	return bad ? 2 : 0;
}

static int open_store(ks_daemon *d)
{
	ks_error err;
	int rc;
	if (d->cfg->state_kubernetes) {
		rc = ks_store_open_kube(&d->store, d->kube,
					d->cfg->state_namespace,
					d->cfg->history_limit, &err);
	} else {
		rc = ks_store_open_local(&d->store, d->cfg->state_path,
					 d->cfg->history_limit, &err);
	}
	if (rc) {
		fprintf(stderr, "kusync: agent: state: %s\n", err.msg);
		return 3;
	}
	return 0;
}

static ks_dsource *source_of(ks_daemon *d, const char *name)
{
	for (size_t i = 0; i < d->nsources; i++)
		if (!strcmp(d->sources[i].cfg->name, name))
			return &d->sources[i];
	return NULL;
}

/* Reads every app's releases and state from the store (blocking: before
 * the loop runs). */
static int load_store(ks_daemon *d)
{
	ks_error err;
	json_t *names = NULL;
	if (ks_store_apps(d->store, &names, &err)) {
		fprintf(stderr, "kusync: agent: state: %s\n", err.msg);
		return 3;
	}
	size_t i;
	json_t *n;
	json_array_foreach(names, i, n)
	{
		const char *name = json_string_value(n);
		json_t *list = NULL;
		ks_errlist *warn = ks_errlist_new();
		if (ks_store_list(d->store, name, &list, warn, &err)) {
			fprintf(stderr, "kusync: agent: state: %s\n", err.msg);
			ks_errlist_free(warn);
			json_decref(names);
			return 3;
		}
		for (size_t k = 0; k < ks_errlist_count(warn); k++)
			KS_LOG(&d->log, KS_LOG_WARN, "agent",
			       "skipped an unreadable release: %s",
			       ks_errlist_get(warn, k));
		ks_errlist_free(warn);
		ks_dapp *a = app_get(d, name);
		json_decref(a->releases);
		a->releases = list;
		long long last = 0;
		if (!ks_store_last_number(d->store, name, &last, &err))
			a->last_number = (int)last;
		view_trim(a);
		json_t *l = ks_daemon_latest(a);
		a->src = l ? source_of(d, jstr(l, "source")) : NULL;
		json_t *st = NULL;
		if (!ks_store_get_state(d->store, name, &st, &err) && st)
			a->suspended =
				json_is_true(json_object_get(st, "suspended"));
		json_decref(st);
		phase_metric(d, a);
		if (l && !ks_pipeline_release_final(l))
			KS_LOG(&d->log, KS_LOG_INFO, "agent",
			       "app %s: resuming release %d (%s)", name,
			       jnum(l, "number"), jstr(l, "phase"));
		json_t *succ = ks_daemon_last_succeeded(a);
		if (succ)
			watch_kinds(d, json_object_get(succ, "resources"));
	}
	json_decref(names);
	return 0;
}

static void set_threadpool(const ks_agent_config *c)
{
	char buf[16];
	unsigned n = c->max_parallel_apps + c->max_parallel_fetches +
		     DRIFT_SLOTS + 4;
	if (n > 128)
		n = 128;
	snprintf(buf, sizeof(buf), "%u", n);
	setenv("UV_THREADPOOL_SIZE", buf, 1);
}

/* Every handle the shutdown closes, initialised before anything can
 * fail. */
static void init_handles(ks_daemon *d)
{
	d->changed = json_array();
	d->dirty = json_object();
	d->sessions = json_object();
	pthread_mutex_init(&d->mu, NULL);
	uv_async_init(d->loop, &d->wake, wake_cb);
	d->wake.data = d;
	d->nsources = d->cfg->nsources;
	d->sources =
		ks_xcalloc(d->nsources ? d->nsources : 1, sizeof(*d->sources));
	d->fetchq = ks_xcalloc(d->nsources + 1, sizeof(*d->fetchq));
	for (size_t i = 0; i < d->nsources; i++) {
		ks_dsource *s = &d->sources[i];
		s->d = d;
		s->cfg = &d->cfg->sources[i];
		uv_timer_init(d->loop, &s->timer);
		s->timer.data = s;
	}
	uv_signal_init(d->loop, &d->sigterm);
	d->sigterm.data = d;
	uv_signal_init(d->loop, &d->sigint);
	d->sigint.data = d;
	uv_timer_init(d->loop, &d->tick);
	d->tick.data = d;
	uv_timer_init(d->loop, &d->debounce);
	d->debounce.data = d;
	uv_timer_init(d->loop, &d->lease);
	d->lease.data = d;
	d->metrics = ks_metrics_new();
	define_metrics(d->metrics);
	d->replay = ks_hook_replay_new(3600 * 1000, 10000);
}

static int start(ks_daemon *d)
{
	int rc;
	init_handles(d);
	if ((rc = open_policies(d)) || (rc = open_cluster(d)) ||
	    (rc = open_store(d)))
		return rc;
	if (d->cfg->cache_dir && mkdir_p(d->cfg->cache_dir)) {
		fprintf(stderr, "kusync: agent: cannot create \"%s\": %s\n",
			d->cfg->cache_dir, strerror(errno));
		return 3;
	}
	d->leader = !d->cfg->state_kubernetes;
	char host[64] = "agent";
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = 0;
	snprintf(d->identity, sizeof(d->identity), "%s-%ld-%04x", host,
		 (long)getpid(), (unsigned)(rand01() * 65536));
	if ((rc = load_store(d)))
		return rc;

	ks_http_limits lim;
	ks_http_limits_default(&lim);
	/* Big enough that a webhook over the 1 MiB limit still reaches the
	 * handler (counted as too_large); bigger bodies get the server's
	 * 413 without being counted. */
	lim.max_body_bytes = 2 * KS_HOOK_MAX_BODY + 64 * 1024;
	lim.max_header_bytes = 16 * 1024;
	lim.request_timeout_ms = 10000;
	lim.idle_timeout_ms = 30000;
	lim.max_connections = 2048;
	d->http = ks_http_server_new(d->loop, &lim, ks_api_handle, d);
	ks_error err;
	if (ks_http_server_listen(d->http, d->cfg->listen, &err)) {
		fprintf(stderr, "kusync: agent: listen on %s: %s\n",
			d->cfg->listen, err.msg);
		return 3;
	}
	KS_LOG(&d->log, KS_LOG_INFO, "agent", "listening on %s port %d",
	       d->cfg->listen, ks_http_server_port(d->http));

	uv_signal_start(&d->sigterm, on_signal, SIGTERM);
	uv_signal_start(&d->sigint, on_signal, SIGINT);
	uv_timer_start(&d->tick, tick, 0, 1000);
	if (d->cfg->state_kubernetes)
		uv_timer_start(&d->lease, lease_tick, 0, LEASE_PERIOD_MS);
	d->starting = d->nsources > 0;
	for (size_t i = 0; i < d->nsources; i++)
		uv_timer_start(&d->sources[i].timer, source_timer, 0, 0);
	for (size_t i = 0; i < d->napps; i++)
		ks_daemon_kick(d->apps[i]);
	return 0;
}

static void teardown(ks_daemon *d)
{
	if (d->http) {
		ks_http_server_close(d->http, NULL, NULL);
		d->http = NULL;
		uv_run(d->loop, UV_RUN_DEFAULT);
	}
	ks_watch_stop(d->watch);
	d->watch = NULL;
	ks_git_shutdown(); /* the idle warm fetch helper */
}

int ks_daemon_run(ks_agent_config *cfg, const ks_logger *log)
{
	ks_daemon *d = ks_xcalloc(1, sizeof(*d));
	d->cfg = cfg;
	d->log = *log;
	rng_state ^= (uint64_t)now_unix_ms() * 2654435761u ^ (uint64_t)getpid();
	limit_arenas();
	set_threadpool(cfg);
	d->loop = ks_xmalloc(sizeof(*d->loop));
	uv_loop_init(d->loop);
	int rc = start(d);
	if (rc) {
		d->exit_code = rc;
		shutdown_begin(d);
	}
	uv_run(d->loop, UV_RUN_DEFAULT);
	teardown(d);
	rc = d->exit_code;
	if (uv_loop_close(d->loop))
		KS_LOG(&d->log, KS_LOG_WARN, "agent",
		       "loop closed with handles left");
	free(d->loop);
	for (size_t i = 0; i < d->napps; i++)
		app_free(d->apps[i]);
	free(d->apps);
	free(d->appq);
	for (size_t i = 0; i < d->nsources; i++) {
		ks_dsource *s = &d->sources[i];
		free(s->error);
		json_decref(s->render_errors);
		json_decref(s->apps);
		json_decref(s->last_spec);
		free(s->last_spec_commit);
		json_decref(s->mr_approvals);
		json_decref(s->merged);
	}
	free(d->sources);
	free(d->fetchq);
	json_decref(d->changed);
	json_decref(d->dirty);
	json_decref(d->sessions);
	ks_hook_replay_free(d->replay);
	ks_metrics_free(d->metrics);
	ks_store_free(d->store);
	ks_policy_registry_free(d->policies);
	ks_kube_client_free(d->kube);
	pthread_mutex_destroy(&d->mu);
	ks_agent_config_free(d->cfg);
	free(d);
	return rc;
}
