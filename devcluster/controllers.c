/*
 * Simulated controllers, driven by libuv timers: Deployments (with their
 * ReplicaSets), StatefulSets, DaemonSets and CollaSets roll out after the
 * rollout delay, failing images end in ProgressDeadlineExceeded, Jobs
 * complete or fail, LoadBalancer Services get an ingress IP, every Service
 * gets an EndpointSlice, CRDs become Established, the garbage collector
 * follows ownerReferences, and terminating namespaces are emptied.
 *
 * Every task re-reads its object when it fires and does nothing if the
 * object is gone, was replaced (uid) or changed generation since.
 */
#include "devcluster/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/banned.h"

typedef void (*task_fn)(ks_devcluster *dc, dc_type *t, json_t *obj, long arg);

struct dc_task {
	struct dc_task *next, *prev;
	uv_timer_t timer;
	ks_devcluster *dc;
	char *group, *version, *resource, *ns, *name, *uid;
	json_int_t generation;
	task_fn fn;
	long arg;
};

static void task_closed(uv_handle_t *h)
{
	struct dc_task *k = h->data;
	free(k->group);
	free(k->version);
	free(k->resource);
	free(k->ns);
	free(k->name);
	free(k->uid);
	free(k);
}

static void task_unlink(struct dc_task *k)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		k->dc->tasks = k->next;
	if (k->next)
		k->next->prev = k->prev;
}

static json_int_t generation_of(const json_t *obj)
{
	return json_integer_value(json_object_get(
		json_object_get(obj, "metadata"), "generation"));
}

static void on_task(uv_timer_t *tm)
{
	struct dc_task *k = tm->data;
	ks_devcluster *dc = k->dc;
	task_unlink(k);
	dc_type *t = dc_type_find(dc, k->group, k->version, k->resource);
	json_t *obj = t ? dc_get(t, k->ns, k->name) : NULL;
	if (obj && !strcmp(dc_meta_str(obj, "uid"), k->uid) &&
	    (k->generation < 0 || generation_of(obj) == k->generation)) {
		json_incref(obj);
		k->fn(dc, t, obj, k->arg);
		json_decref(obj);
	}
	uv_close((uv_handle_t *)&k->timer, task_closed);
}

/* Runs FN on the object after MS milliseconds (scaled by --time-scale).
 * With SAME_GEN the task is skipped if the generation changed. */
static void after(ks_devcluster *dc, double ms, dc_type *t, const json_t *obj,
		  bool same_gen, task_fn fn, long arg)
{
	if (dc->stopping)
		return;
	struct dc_task *k = ks_xcalloc(1, sizeof(*k));
	k->dc = dc;
	k->group = ks_xstrdup(t->group);
	k->version = ks_xstrdup(t->version);
	k->resource = ks_xstrdup(t->resource);
	k->ns = ks_xstrdup(dc_meta_str(obj, "namespace"));
	k->name = ks_xstrdup(dc_meta_str(obj, "name"));
	k->uid = ks_xstrdup(dc_meta_str(obj, "uid"));
	k->generation = same_gen ? generation_of(obj) : -1;
	k->fn = fn;
	k->arg = arg;
	uv_timer_init(dc->loop, &k->timer);
	k->timer.data = k;
	k->next = dc->tasks;
	if (dc->tasks)
		dc->tasks->prev = k;
	dc->tasks = k;
	double scale = dc->opts.time_scale > 0 ? dc->opts.time_scale : 1;
	double d = ms / scale;
	uv_timer_start(&k->timer, on_task, d < 0 ? 0 : (uint64_t)d, 0);
}

void dc_controllers_stop(ks_devcluster *dc)
{
	while (dc->tasks) {
		struct dc_task *k = dc->tasks;
		task_unlink(k);
		uv_close((uv_handle_t *)&k->timer, task_closed);
	}
}

/* ---- helpers ---- */

static json_t *child(json_t *o, const char *k)
{
	json_t *c = json_object_get(o, k);
	if (!json_is_object(c)) {
		c = json_object();
		json_object_set_new(o, k, c);
	}
	return c;
}

static json_int_t int_at(const json_t *o, const char *k, json_int_t dflt)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static bool image_fails(ks_devcluster *dc, const json_t *pod_spec)
{
	if (!dc->have_fail_re)
		return false;
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(pod_spec, "containers"), i, c)
	{
		if (regexec(&dc->fail_re, dc_jstr(c, "image"), 0, NULL, 0) == 0)
			return true;
	}
	json_array_foreach(json_object_get(pod_spec, "initContainers"), i, c)
	{
		if (regexec(&dc->fail_re, dc_jstr(c, "image"), 0, NULL, 0) == 0)
			return true;
	}
	return false;
}

static json_t *pod_spec_of(const json_t *obj)
{
	return json_object_get(
		json_object_get(json_object_get(obj, "spec"), "template"),
		"spec");
}

/* A condition, keeping lastTransitionTime when the status did not change. */
static json_t *condition(const json_t *old_status, const char *type,
			 const char *status, const char *reason,
			 const char *msg, bool update_time)
{
	char now[32];
	dc_now(now);
	const char *transition = now;
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(old_status, "conditions"), i, c)
	{
		if (!strcmp(dc_jstr(c, "type"), type) &&
		    !strcmp(dc_jstr(c, "status"), status) &&
		    *dc_jstr(c, "lastTransitionTime"))
			transition = dc_jstr(c, "lastTransitionTime");
	}
	json_t *o = json_pack("{s:s, s:s}", "type", type, "status", status);
	if (update_time)
		json_object_set_new(o, "lastUpdateTime", json_string(now));
	json_object_set_new(o, "lastTransitionTime", json_string(transition));
	json_object_set_new(o, "reason", json_string(reason));
	json_object_set_new(o, "message", json_string(msg));
	return o;
}

/* The pod-template-hash: FNV-1a of the template, its decimal digits mapped
 * to the alphabet Kubernetes uses for generated names. */
static void template_hash(const json_t *tmpl, char out[16])
{
	static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
	char *s = json_dumps(tmpl, JSON_COMPACT | JSON_SORT_KEYS);
	uint32_t h = 2166136261u;
	for (const char *p = s ? s : ""; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 16777619u;
	}
	free(s);
	char digits[16];
	snprintf(digits, sizeof(digits), "%u", h);
	size_t i = 0;
	for (; digits[i]; i++)
		out[i] = alpha[(unsigned char)digits[i] % 27];
	out[i] = '\0';
}

static json_t *owner_ref(const dc_type *t, const json_t *owner)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "apiVersion",
			 t->api_version, "kind", t->kind, "name",
			 dc_meta_str(owner, "name"), "uid",
			 dc_meta_str(owner, "uid"), "controller", 1,
			 "blockOwnerDeletion", 1);
}

static bool owned_by(const json_t *obj, const char *uid)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(json_object_get(obj, "metadata"),
					   "ownerReferences"),
			   i, r)
	{
		if (!strcmp(dc_jstr(r, "uid"), uid))
			return true;
	}
	return false;
}

/* Writes a status for OBJ; STATUS is stolen. */
static void write_status(ks_devcluster *dc, dc_type *t, const json_t *obj,
			 json_t *status, const char *manager)
{
	json_t *n = json_deep_copy(obj);
	json_object_set_new(n, "status", status);
	dc_controller_write(dc, t, n, manager, true);
}

/* ---- Deployments ---- */

static const char *const KCM = "kube-controller-manager";

static void deploy_status(ks_devcluster *dc, dc_type *t, const json_t *d,
			  const char *rs_name, int phase)
{
	json_t *spec = json_object_get(d, "spec");
	json_int_t want = int_at(spec, "replicas", 1);
	json_t *old = json_object_get(d, "status");
	json_t *st = json_object();
	json_object_set_new(st, "observedGeneration",
			    json_integer(generation_of(d)));
	json_t *conds = json_array();
	char msg[512];
	if (want > 0)
		json_object_set_new(st, "replicas", json_integer(want));
	if (want > 0)
		json_object_set_new(st, "updatedReplicas", json_integer(want));
	if (phase == 0 && want > 0) {
		json_object_set_new(st, "unavailableReplicas",
				    json_integer(want));
		json_array_append_new(
			conds, condition(old, "Available", "False",
					 "MinimumReplicasUnavailable",
					 "Deployment does not have minimum "
					 "availability.",
					 true));
		snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" is progressing.",
			 rs_name);
		json_array_append_new(
			conds, condition(old, "Progressing", "True",
					 "ReplicaSetUpdated", msg, true));
	} else if (phase == 2) {
		json_object_set_new(st, "unavailableReplicas",
				    json_integer(want));
		json_array_append_new(
			conds, condition(old, "Available", "False",
					 "MinimumReplicasUnavailable",
					 "Deployment does not have minimum "
					 "availability.",
					 true));
		snprintf(msg, sizeof(msg),
			 "ReplicaSet \"%s\" has timed out progressing.",
			 rs_name);
		json_array_append_new(conds,
				      condition(old, "Progressing", "False",
						"ProgressDeadlineExceeded", msg,
						true));
	} else {
		if (want > 0) {
			json_object_set_new(st, "readyReplicas",
					    json_integer(want));
			json_object_set_new(st, "availableReplicas",
					    json_integer(want));
		}
		json_array_append_new(
			conds, condition(old, "Available", "True",
					 "MinimumReplicasAvailable",
					 "Deployment has minimum availability.",
					 true));
		snprintf(msg, sizeof(msg),
			 "ReplicaSet \"%s\" has successfully progressed.",
			 rs_name);
		json_array_append_new(
			conds, condition(old, "Progressing", "True",
					 "NewReplicaSetAvailable", msg, true));
	}
	json_object_set_new(st, "conditions", conds);
	write_status(dc, t, d, st, KCM);
}

static void rs_name_of(const json_t *d, char *out, size_t n)
{
	char hash[16];
	template_hash(json_object_get(json_object_get(d, "spec"), "template"),
		      hash);
	snprintf(out, n, "%s-%s", dc_meta_str(d, "name"), hash);
}

static void rs_set_ready(ks_devcluster *dc, dc_type *rst, const char *ns,
			 const char *name, bool ready)
{
	json_t *rs = dc_get(rst, ns, name);
	if (!rs)
		return;
	json_int_t want = int_at(json_object_get(rs, "spec"), "replicas", 1);
	json_t *st =
		json_pack("{s:I, s:I, s:I}", "replicas", (json_int_t)want,
			  "fullyLabeledReplicas", (json_int_t)want,
			  "observedGeneration", (json_int_t)generation_of(rs));
	if (ready && want > 0) {
		json_object_set_new(st, "readyReplicas", json_integer(want));
		json_object_set_new(st, "availableReplicas",
				    json_integer(want));
	}
	if (want == 0) {
		json_object_del(st, "fullyLabeledReplicas");
		json_object_set_new(st, "replicas", json_integer(0));
	}
	json_incref(rs);
	write_status(dc, rst, rs, st, KCM);
	json_decref(rs);
}

static void deploy_deadline(ks_devcluster *dc, dc_type *t, json_t *d, long arg)
{
	(void)arg;
	json_t *prog = NULL;
	size_t i;
	json_t *c;
	json_array_foreach(
		json_object_get(json_object_get(d, "status"), "conditions"), i,
		c)
	{
		if (!strcmp(dc_jstr(c, "type"), "Progressing"))
			prog = c;
	}
	if (prog && !strcmp(dc_jstr(prog, "reason"), "NewReplicaSetAvailable"))
		return;
	char rs[300];
	rs_name_of(d, rs, sizeof(rs));
	deploy_status(dc, t, d, rs, 2);
}

static void deploy_ready(ks_devcluster *dc, dc_type *t, json_t *d, long arg)
{
	(void)arg;
	char rs[300];
	rs_name_of(d, rs, sizeof(rs));
	dc_type *rst = dc_type_find(dc, "apps", "v1", "replicasets");
	rs_set_ready(dc, rst, dc_meta_str(d, "namespace"), rs, true);
	deploy_status(dc, t, d, rs, 1);
}

static long max_revision(dc_type *rst, const json_t *d)
{
	long max = 0;
	const char *k;
	json_t *rs;
	const char *uid = dc_meta_str(d, "uid");
	json_object_foreach(rst->objects, k, rs)
	{
		if (!owned_by(rs, uid))
			continue;
		long r = strtol(
			dc_jstr(json_object_get(json_object_get(rs, "metadata"),
						"annotations"),
				"deployment.kubernetes.io/revision"),
			NULL, 10);
		if (r > max)
			max = r;
	}
	return max;
}

static void ensure_replicaset(ks_devcluster *dc, dc_type *t, const json_t *d,
			      const char *rs_name, long *revision)
{
	dc_type *rst = dc_type_find(dc, "apps", "v1", "replicasets");
	const char *ns = dc_meta_str(d, "namespace");
	json_t *spec = json_object_get(d, "spec");
	json_int_t want = int_at(spec, "replicas", 1);
	const char *hash = strrchr(rs_name, '-') + 1;
	json_t *cur = dc_get(rst, ns, rs_name);
	/* scale the other ReplicaSets of this Deployment down */
	const char *uid = dc_meta_str(d, "uid");
	const char *k;
	json_t *o;
	json_t *others = json_array();
	json_object_foreach(rst->objects, k, o)
	{
		if (owned_by(o, uid) &&
		    strcmp(dc_meta_str(o, "name"), rs_name) &&
		    int_at(json_object_get(o, "spec"), "replicas", 0) != 0)
			json_array_append(others, o);
	}
	size_t i;
	json_array_foreach(others, i, o)
	{
		json_t *n = json_deep_copy(o);
		json_object_set_new(child(n, "spec"), "replicas",
				    json_integer(0));
		dc_controller_write(dc, rst, n, KCM, false);
		rs_set_ready(dc, rst, ns, dc_meta_str(o, "name"), false);
	}
	json_decref(others);
	long rev;
	if (cur) {
		rev = strtol(dc_jstr(json_object_get(
					     json_object_get(cur, "metadata"),
					     "annotations"),
				     "deployment.kubernetes.io/revision"),
			     NULL, 10);
		long max = max_revision(rst, d);
		bool revive = rev < max; /* a rollback to an older template */
		if (revive)
			rev = max + 1;
		if (revive || int_at(json_object_get(cur, "spec"), "replicas",
				     -1) != want) {
			json_t *n = json_deep_copy(cur);
			json_object_set_new(child(n, "spec"), "replicas",
					    json_integer(want));
			char revs[32];
			snprintf(revs, sizeof(revs), "%ld", rev);
			json_object_set_new(child(dc_meta(n), "annotations"),
					    "deployment.kubernetes.io/revision",
					    json_string(revs));
			dc_controller_write(dc, rst, n, KCM, false);
		}
	} else {
		rev = max_revision(rst, d) + 1;
		json_t *tmpl =
			json_deep_copy(json_object_get(spec, "template"));
		json_t *tl = child(child(tmpl, "metadata"), "labels");
		json_object_set_new(tl, "pod-template-hash", json_string(hash));
		json_t *sel = json_deep_copy(json_object_get(spec, "selector"));
		if (!json_is_object(sel)) {
			json_decref(sel);
			sel = json_object();
		}
		json_object_set_new(child(sel, "matchLabels"),
				    "pod-template-hash", json_string(hash));
		char revs[32], reps[32];
		snprintf(revs, sizeof(revs), "%ld", rev);
		snprintf(reps, sizeof(reps), "%lld", (long long)want);
		json_t *rs = json_pack(
			"{s:s, s:s, s:{s:s, s:s, s:O, s:{s:s, s:s, s:s}, "
			"s:[o]}, s:{s:I, s:o, s:o}}",
			"kind", "ReplicaSet", "apiVersion", "apps/v1",
			"metadata", "name", rs_name, "namespace", ns, "labels",
			json_object_get(json_object_get(tmpl, "metadata"),
					"labels"),
			"annotations",
			"deployment.kubernetes.io/desired-replicas", reps,
			"deployment.kubernetes.io/max-replicas", reps,
			"deployment.kubernetes.io/revision", revs,
			"ownerReferences", owner_ref(t, d), "spec", "replicas",
			(json_int_t)want, "selector", sel, "template", tmpl);
		dc_controller_write(dc, rst, rs, KCM, false);
	}
	*revision = rev;
}

static void deploy_reconcile(ks_devcluster *dc, dc_type *t, json_t *d, long arg)
{
	(void)arg;
	if (json_object_get(json_object_get(d, "metadata"),
			    "deletionTimestamp"))
		return;
	char rs[300];
	rs_name_of(d, rs, sizeof(rs));
	long rev = 1;
	ensure_replicaset(dc, t, d, rs, &rev);
	rs_set_ready(dc, dc_type_find(dc, "apps", "v1", "replicasets"),
		     dc_meta_str(d, "namespace"), rs, false);
	char revs[32];
	snprintf(revs, sizeof(revs), "%ld", rev);
	const char *have = dc_jstr(
		json_object_get(json_object_get(d, "metadata"), "annotations"),
		"deployment.kubernetes.io/revision");
	if (strcmp(have, revs)) {
		json_t *n = json_deep_copy(d);
		json_object_set_new(child(dc_meta(n), "annotations"),
				    "deployment.kubernetes.io/revision",
				    json_string(revs));
		dc_controller_write(dc, t, n, KCM, false);
		d = dc_get(t, dc_meta_str(d, "namespace"),
			   dc_meta_str(d, "name"));
		if (!d)
			return;
	}
	json_int_t want = int_at(json_object_get(d, "spec"), "replicas", 1);
	if (want == 0) {
		deploy_status(dc, t, d, rs, 1);
		return;
	}
	deploy_status(dc, t, d, rs, 0);
	d = dc_get(t, dc_meta_str(d, "namespace"), dc_meta_str(d, "name"));
	if (!d)
		return;
	if (image_fails(dc, pod_spec_of(d))) {
		json_int_t pds = int_at(json_object_get(d, "spec"),
					"progressDeadlineSeconds", 600);
		after(dc, (double)pds * 1000, t, d, true, deploy_deadline, 0);
	} else {
		after(dc, dc->opts.rollout_delay_ms, t, d, true, deploy_ready,
		      0);
	}
}

/* ---- StatefulSets, DaemonSets, CollaSets ---- */

static void workload_status(ks_devcluster *dc, dc_type *t, json_t *o,
			    long ready)
{
	json_t *spec = json_object_get(o, "spec");
	json_int_t want = int_at(spec, "replicas", 1);
	char hash[16];
	template_hash(json_object_get(spec, "template"), hash);
	char rev[300];
	snprintf(rev, sizeof(rev), "%s-%s", dc_meta_str(o, "name"), hash);
	json_t *old = json_object_get(o, "status");
	json_t *st = json_object();
	json_object_set_new(st, "observedGeneration",
			    json_integer(generation_of(o)));
	const char *r = t->resource;
	if (!strcmp(r, "daemonsets")) {
		json_object_set_new(st, "currentNumberScheduled",
				    json_integer(1));
		json_object_set_new(st, "numberMisscheduled", json_integer(0));
		json_object_set_new(st, "desiredNumberScheduled",
				    json_integer(1));
		json_object_set_new(st, "numberReady",
				    json_integer(ready ? 1 : 0));
		json_object_set_new(st, "updatedNumberScheduled",
				    json_integer(1));
		if (ready)
			json_object_set_new(st, "numberAvailable",
					    json_integer(1));
		else
			json_object_set_new(st, "numberUnavailable",
					    json_integer(1));
		write_status(dc, t, o, st, KCM);
		return;
	}
	json_object_set_new(st, "replicas", json_integer(want));
	json_int_t n = ready ? want : 0;
	json_object_set_new(st, "readyReplicas", json_integer(n));
	json_object_set_new(st, "availableReplicas", json_integer(n));
	json_object_set_new(st, "updatedReplicas", json_integer(want));
	if (!strcmp(r, "statefulsets")) {
		json_object_set_new(st, "currentReplicas", json_integer(want));
		const char *cur = dc_jstr(old, "currentRevision");
		json_object_set_new(st, "currentRevision",
				    json_string(ready || !*cur ? rev : cur));
		json_object_set_new(st, "updateRevision", json_string(rev));
		json_object_set_new(st, "collisionCount", json_integer(0));
	} else {
		/* CollaSet */
		json_object_set_new(st, "updatedReadyReplicas",
				    json_integer(n));
		json_object_set_new(st, "updatedAvailableReplicas",
				    json_integer(n));
		json_object_set_new(st, "currentRevision", json_string(rev));
		json_object_set_new(st, "updatedRevision", json_string(rev));
		json_object_set_new(st, "operatingReplicas", json_integer(0));
	}
	write_status(dc, t, o, st, !strcmp(r, "collasets") ? "kuperator" : KCM);
}

static void workload_ready(ks_devcluster *dc, dc_type *t, json_t *o, long a)
{
	(void)a;
	workload_status(dc, t, o, 1);
}

static void workload_reconcile(ks_devcluster *dc, dc_type *t, json_t *o, long a)
{
	(void)a;
	workload_status(dc, t, o, 0);
	o = dc_get(t, dc_meta_str(o, "namespace"), dc_meta_str(o, "name"));
	if (o && !image_fails(dc, pod_spec_of(o)))
		after(dc, dc->opts.rollout_delay_ms, t, o, true, workload_ready,
		      0);
}

/* ---- Jobs ---- */

static void job_finish(ks_devcluster *dc, dc_type *t, json_t *job, long a)
{
	(void)a;
	json_t *spec = json_object_get(job, "spec");
	json_t *old = json_object_get(job, "status");
	json_t *st = json_deep_copy(old);
	if (!json_is_object(st)) {
		json_decref(st);
		st = json_object();
	}
	json_object_del(st, "active");
	json_object_set_new(st, "ready", json_integer(0));
	char now[32];
	dc_now(now);
	json_t *conds = json_array();
	if (image_fails(dc, pod_spec_of(job))) {
		json_object_set_new(
			st, "failed",
			json_integer(int_at(spec, "backoffLimit", 6) + 1));
		json_array_append_new(conds,
				      condition(old, "FailureTarget", "True",
						"BackoffLimitExceeded",
						"Job has reached the specified "
						"backoff limit",
						false));
		json_array_append_new(conds,
				      condition(old, "Failed", "True",
						"BackoffLimitExceeded",
						"Job has reached the specified "
						"backoff limit",
						false));
	} else {
		json_object_set_new(
			st, "succeeded",
			json_integer(int_at(spec, "completions", 1)));
		json_object_set_new(st, "completionTime", json_string(now));
		json_array_append_new(conds,
				      condition(old, "SuccessCriteriaMet",
						"True", "CompletionsReached",
						"Reached expected number of "
						"succeeded pods",
						false));
		json_array_append_new(conds,
				      condition(old, "Complete", "True",
						"CompletionsReached",
						"Reached expected number of "
						"succeeded pods",
						false));
	}
	json_object_set_new(st, "conditions", conds);
	write_status(dc, t, job, st, KCM);
}

static void job_start(ks_devcluster *dc, dc_type *t, json_t *job, long a)
{
	(void)a;
	if (json_object_get(json_object_get(job, "status"), "startTime"))
		return;
	char now[32];
	dc_now(now);
	json_t *st = json_pack(
		"{s:s, s:I, s:i, s:{s:[], s:[]}}", "startTime", now, "active",
		(json_int_t)int_at(json_object_get(job, "spec"), "parallelism",
				   1),
		"ready", 0, "uncountedTerminatedPods", "succeeded", "failed");
	json_object_del(json_object_get(st, "uncountedTerminatedPods"),
			"succeeded");
	json_object_del(json_object_get(st, "uncountedTerminatedPods"),
			"failed");
	write_status(dc, t, job, st, KCM);
	job = dc_get(t, dc_meta_str(job, "namespace"),
		     dc_meta_str(job, "name"));
	if (job)
		after(dc, dc->opts.rollout_delay_ms, t, job, false, job_finish,
		      0);
}

/* ---- Services ---- */

static void service_lb(ks_devcluster *dc, dc_type *t, json_t *svc, long a)
{
	(void)a;
	char ip[32];
	unsigned n = ++dc->lb_counter;
	snprintf(ip, sizeof(ip), "172.18.255.%u", 200 + n % 55);
	json_t *st = json_pack("{s:{s:[{s:s, s:s}]}}", "loadBalancer",
			       "ingress", "ip", ip, "ipMode", "VIP");
	write_status(dc, t, svc, st, "devcluster-lb-controller");
}

static json_t *slice_ports(const json_t *svc)
{
	json_t *ports = json_array();
	size_t i;
	json_t *p;
	json_array_foreach(
		json_object_get(json_object_get(svc, "spec"), "ports"), i, p)
	{
		json_t *tp = json_object_get(p, "targetPort");
		json_int_t port = json_is_integer(tp) ? json_integer_value(tp)
						      : int_at(p, "port", 0);
		json_array_append_new(
			ports, json_pack("{s:s, s:I, s:s}", "name",
					 dc_jstr(p, "name"), "port", port,
					 "protocol", dc_jstr(p, "protocol")));
	}
	return ports;
}

static void service_slice(ks_devcluster *dc, dc_type *t, json_t *svc, long a)
{
	(void)a;
	dc_type *est =
		dc_type_find(dc, "discovery.k8s.io", "v1", "endpointslices");
	const char *uid = dc_meta_str(svc, "uid");
	json_t *labels = json_deep_copy(
		json_object_get(json_object_get(svc, "metadata"), "labels"));
	if (!json_is_object(labels)) {
		json_decref(labels);
		labels = json_object();
	}
	json_object_set_new(labels, "kubernetes.io/service-name",
			    json_string(dc_meta_str(svc, "name")));
	json_object_set_new(labels, "endpointslice.kubernetes.io/managed-by",
			    json_string("endpointslice-controller.k8s.io"));
	const char *k;
	json_t *o, *found = NULL;
	json_object_foreach(est->objects, k, o)
	{
		if (owned_by(o, uid))
			found = o;
	}
	json_t *n;
	if (found) {
		n = json_deep_copy(found);
	} else {
		char gen[300];
		snprintf(gen, sizeof(gen), "%s-", dc_meta_str(svc, "name"));
		char sfx[16];
		template_hash(json_object_get(svc, "metadata"), sfx);
		sfx[5] = '\0';
		char *name = ks_xasprintf("%s%s", gen, sfx);
		n = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:[o]}, s:s, "
			      "s:n}",
			      "kind", "EndpointSlice", "apiVersion",
			      "discovery.k8s.io/v1", "metadata", "name", name,
			      "generateName", gen, "namespace",
			      dc_meta_str(svc, "namespace"), "ownerReferences",
			      owner_ref(t, svc), "addressType", "IPv4",
			      "endpoints");
		free(name);
	}
	json_object_set_new(dc_meta(n), "labels", labels);
	json_object_set_new(n, "ports", slice_ports(svc));
	dc_controller_write(dc, est, n, "endpointslice-controller", false);
}

/* ---- CRDs ---- */

static void crd_establish(ks_devcluster *dc, dc_type *t, json_t *crd, long a)
{
	(void)a;
	json_t *spec = json_object_get(crd, "spec");
	json_t *old = json_object_get(crd, "status");
	json_t *stored = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(spec, "versions"), i, v)
	{
		if (json_is_true(json_object_get(v, "storage")))
			json_array_append_new(stored,
					      json_string(dc_jstr(v, "name")));
	}
	json_t *conds = json_array();
	json_array_append_new(conds, condition(old, "NamesAccepted", "True",
					       "NoConflicts",
					       "no conflicts found", false));
	json_array_append_new(
		conds,
		condition(old, "Established", "True", "InitialNamesAccepted",
			  "the initial names have been accepted", false));
	json_t *st = json_pack("{s:o, s:O, s:o}", "conditions", conds,
			       "acceptedNames", json_object_get(spec, "names"),
			       "storedVersions", stored);
	write_status(dc, t, crd, st, "kube-apiserver");
}

/* ---- garbage collection and namespaces ---- */

static void delete_dependents(ks_devcluster *dc, const char *uid)
{
	for (size_t i = 0; i < dc->ntypes; i++) {
		dc_type *t = dc->types[i];
		json_t *victims = json_array();
		const char *k;
		json_t *o;
		json_object_foreach(t->objects, k, o)
		{
			if (owned_by(o, uid))
				json_array_append(victims, o);
		}
		size_t j;
		json_array_foreach(victims, j, o)
		{
			dc_controller_delete(dc, t, dc_meta_str(o, "namespace"),
					     dc_meta_str(o, "name"));
		}
		json_decref(victims);
	}
}

void dc_orphan_dependents(ks_devcluster *dc, const char *uid)
{
	for (size_t i = 0; i < dc->ntypes; i++) {
		dc_type *t = dc->types[i];
		json_t *owned = json_array();
		const char *k;
		json_t *o;
		json_object_foreach(t->objects, k, o)
		{
			if (owned_by(o, uid))
				json_array_append(owned, o);
		}
		size_t j;
		json_array_foreach(owned, j, o)
		{
			json_t *n = json_deep_copy(o);
			json_t *refs =
				json_object_get(dc_meta(n), "ownerReferences");
			json_t *keep = json_array();
			size_t x;
			json_t *r;
			json_array_foreach(refs, x, r)
			{
				if (strcmp(dc_jstr(r, "uid"), uid))
					json_array_append(keep, r);
			}
			if (json_array_size(keep))
				json_object_set_new(dc_meta(n),
						    "ownerReferences", keep);
			else {
				json_decref(keep);
				json_object_del(dc_meta(n), "ownerReferences");
			}
			dc_controller_write(dc, t, n, "garbage-collector",
					    false);
		}
		json_decref(owned);
	}
}

static bool has_dependents(ks_devcluster *dc, const char *uid)
{
	for (size_t i = 0; i < dc->ntypes; i++) {
		const char *k;
		json_t *o;
		json_object_foreach(dc->types[i]->objects, k, o)
		{
			if (owned_by(o, uid))
				return true;
		}
	}
	return false;
}

static void foreground_finish(ks_devcluster *dc, dc_type *t, json_t *o, long a)
{
	const char *uid = dc_meta_str(o, "uid");
	delete_dependents(dc, uid);
	if (has_dependents(dc, uid)) {
		after(dc, 100 * dc->opts.time_scale, t, o, false,
		      foreground_finish, a);
		return;
	}
	json_t *n = json_deep_copy(o);
	json_t *f = json_object_get(dc_meta(n), "finalizers");
	json_t *keep = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(f, i, e)
	{
		if (strcmp(dc_str(e), "foregroundDeletion"))
			json_array_append(keep, e);
	}
	if (json_array_size(keep))
		json_object_set_new(dc_meta(n), "finalizers", keep);
	else {
		json_decref(keep);
		json_object_del(dc_meta(n), "finalizers");
	}
	dc_controller_write(dc, t, n, "garbage-collector", false);
}

static void namespace_finish(ks_devcluster *dc, dc_type *t, json_t *ns, long a)
{
	(void)a;
	const char *name = dc_meta_str(ns, "name");
	for (size_t i = 0; i < dc->ntypes; i++) {
		dc_type *ty = dc->types[i];
		if (!ty->namespaced)
			continue;
		size_t len = strlen(name);
		json_t *victims = json_array();
		const char *k;
		json_t *o;
		json_object_foreach(ty->objects, k, o)
		{
			if (!strncmp(k, name, len) && k[len] == '/')
				json_array_append(victims, o);
		}
		size_t j;
		json_array_foreach(victims, j, o)
		{
			dc_remove(dc, ty, name, dc_meta_str(o, "name"));
		}
		json_decref(victims);
	}
	json_t *n = json_deep_copy(ns);
	json_object_del(json_object_get(n, "spec"), "finalizers");
	if (json_array_size(json_object_get(dc_meta(n), "finalizers"))) {
		dc_controller_write(dc, t, n, "namespace-controller", false);
		return;
	}
	json_decref(n);
	dc_remove(dc, t, "", name);
}

/* ---- dispatch ---- */

static bool observed(const json_t *obj)
{
	json_t *st = json_object_get(obj, "status");
	return json_object_get(st, "observedGeneration") &&
	       int_at(st, "observedGeneration", 0) == generation_of(obj);
}

void dc_controllers_notify(ks_devcluster *dc, dc_type *t, const json_t *obj,
			   bool deleted)
{
	if (dc->stopping)
		return;
	const char *r = t->resource;
	if (deleted) {
		/* the garbage collector, synchronously: dependents go at
		 * once (a chain of owners recurses through here) */
		char *uid = ks_xstrdup(dc_meta_str(obj, "uid"));
		delete_dependents(dc, uid);
		free(uid);
		return;
	}
	json_t *m = json_object_get(obj, "metadata");
	if (json_object_get(m, "deletionTimestamp")) {
		if (!*t->group && !strcmp(r, "namespaces"))
			after(dc, 50, t, obj, false, namespace_finish, 0);
		else if (json_array_size(json_object_get(m, "finalizers"))) {
			size_t i;
			json_t *f;
			json_array_foreach(json_object_get(m, "finalizers"), i,
					   f)
			{
				if (!strcmp(dc_str(f), "foregroundDeletion"))
					after(dc, 0, t, obj, false,
					      foreground_finish, 0);
			}
		}
		return;
	}
	if (!strcmp(t->group, "apps") && !strcmp(r, "deployments")) {
		if (!observed(obj))
			after(dc, 0, t, obj, true, deploy_reconcile, 0);
	} else if ((!strcmp(t->group, "apps") &&
		    (!strcmp(r, "statefulsets") || !strcmp(r, "daemonsets"))) ||
		   (!strcmp(t->group, "apps.kusionstack.io") &&
		    !strcmp(r, "collasets"))) {
		if (!observed(obj))
			after(dc, 0, t, obj, true, workload_reconcile, 0);
	} else if (!strcmp(t->group, "batch") && !strcmp(r, "jobs")) {
		if (!json_object_get(json_object_get(obj, "status"),
				     "startTime"))
			after(dc, 0, t, obj, false, job_start, 0);
	} else if (!*t->group && !strcmp(r, "services")) {
		json_t *spec = json_object_get(obj, "spec");
		if (!strcmp(dc_jstr(spec, "type"), "LoadBalancer") &&
		    !json_array_size(json_object_get(
			    json_object_get(json_object_get(obj, "status"),
					    "loadBalancer"),
			    "ingress")))
			after(dc, 0, t, obj, false, service_lb, 0);
		after(dc, 0, t, obj, false, service_slice, 0);
	} else if (!strcmp(r, "customresourcedefinitions")) {
		json_t *st = json_object_get(obj, "status");
		if (!json_object_get(st, "acceptedNames") ||
		    !json_equal(json_object_get(st, "acceptedNames"),
				json_object_get(json_object_get(obj, "spec"),
						"names")))
			after(dc, 0, t, obj, false, crd_establish, 0);
	}
}
