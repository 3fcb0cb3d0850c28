/*
 * Reading live state for a plan, applying it (server-side apply in
 * dependency order, bounded parallelism), pruning and waiting for health.
 */
#include "sync/sync.h"
#include "core/base64.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sync/internal.h"
#include "core/banned.h"

/* Kinds kusync renders, listed even when the Spec has none of them any
 * more (an app that left the stack leaves its objects behind). */
static const char *const rendered_kinds[][2] = {
	{"v1", "ConfigMap"},
	{"v1", "Secret"},
	{"v1", "Service"},
	{"v1", "PersistentVolumeClaim"},
	{"apps/v1", "Deployment"},
	{"apps/v1", "StatefulSet"},
	{"batch/v1", "Job"},
	{"batch/v1", "CronJob"},
	{"apps.kusionstack.io/v1alpha1", "CollaSet"},
	{"apps.kusionstack.io/v1alpha1", "PodTransitionRule"},
	{"monitoring.coreos.com/v1", "ServiceMonitor"},
	{"monitoring.coreos.com/v1", "PodMonitor"},
};

static char *stack_selector(const ks_sync_plan *p)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_buf_printf(&b, "%s in (", KS_LABEL_STACK);
	for (size_t i = 0; i < p->nstacks; i++)
		ks_buf_printf(&b, "%s%s", i ? "," : "", p->stacks[i]);
	ks_buf_puts(&b, ")");
	return ks_buf_detach(&b, NULL);
}

static bool forbidden(const ks_error *e)
{
	return strstr(e->msg, "(403") != NULL;
}

/* The namespaces of the Spec's objects, unique. */
static json_t *spec_namespaces(const json_t *spec)
{
	json_t *seen = json_object();
	json_t *out = json_array();
	size_t i;
	const json_t *res;
	json_array_foreach(json_object_get(spec, "resources"), i, res)
	{
		const char *ns = json_string_value(json_object_get(
			json_object_get(json_object_get(res, "attributes"),
					"metadata"),
			"namespace"));
		if (ns && *ns && !json_object_get(seen, ns)) {
			json_object_set_new(seen, ns, json_true());
			json_array_append_new(out, json_string(ns));
		}
	}
	json_decref(seen);
	return out;
}

/* LISTs one kind cluster-wide; when RBAC forbids that (an agent bound to
 * a few namespaces), namespace by namespace over NAMESPACES. */
static int list_kind(ks_kube_client *c, const char *av, const char *kind,
		     const char *selector, const json_t *namespaces,
		     json_t *into, json_t *seen, ks_error *err)
{
	char *key = ks_xasprintf("%s/%s", av, kind);
	bool dup = json_object_get(seen, key) != NULL;
	json_object_set_new(seen, key, json_true());
	free(key);
	if (dup)
		return 0;
	ks_kube_resource r;
	ks_error e2;
	int rc = ks_kube_discover(c, av, kind, &r, &e2);
	if (rc == KS_ENOTFOUND)
		return 0; /* not served: nothing of it can be live */
	if (rc) {
		*err = e2;
		return rc;
	}
	if (!(r.verbs & KS_VERB_LIST))
		return 0;
	json_t *items = NULL;
	rc = ks_kube_list(c, &r, NULL, selector, &items, err);
	if (rc && forbidden(err) && r.namespaced) {
		rc = 0;
		items = json_array();
		size_t i;
		const json_t *ns;
		json_array_foreach(namespaces, i, ns)
		{
			json_t *part = NULL;
			rc = ks_kube_list(c, &r, json_string_value(ns),
					  selector, &part, err);
			if (rc)
				break;
			json_array_extend(items, part);
			json_decref(part);
		}
		if (rc) {
			json_decref(items);
			items = NULL;
		}
	}
	if (rc)
		return rc;
	json_array_extend(into, items);
	json_decref(items);
	return 0;
}

static int get_object(ks_kube_client *c, const ks_kube_resource *r,
		      const char *ns, const char *name, const char *id,
		      json_t **out, ks_error *err);

/* Spec objects the LISTs did not find may still exist without kusync's
 * labels (created by hand, or a label removed): one GET each, so that the
 * plan says update rather than create and drift shows the labels. */
static int get_unlisted(ks_kube_client *c, const json_t *spec, json_t *live,
			ks_error *err)
{
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
	int rc = 0;
	const json_t *res;
	json_array_foreach(json_object_get(spec, "resources"), i, res)
	{
		const json_t *a = json_object_get(res, "attributes");
		char *id = ks_sync_object_id(a);
		if (!id || json_object_get(ids, id)) {
			free(id);
			continue;
		}
		const json_t *md = json_object_get(a, "metadata");
		ks_kube_resource r;
		ks_error e2;
		rc = ks_kube_discover(
			c, json_string_value(json_object_get(a, "apiVersion")),
			json_string_value(json_object_get(a, "kind")), &r, &e2);
		if (rc == KS_ENOTFOUND) {
			rc = 0; /* not served: applying it will say so */
		} else if (rc) {
			*err = e2;
		} else {
			json_t *obj = NULL;
			rc = get_object(
				c, &r,
				json_string_value(
					json_object_get(md, "namespace")),
				json_string_value(json_object_get(md, "name")),
				id, &obj, err);
			if (rc && forbidden(err))
				rc = 0; /* applying it will say so */
			if (!rc && obj)
				json_array_append_new(live, obj);
			else
				json_decref(obj);
		}
		free(id);
		if (rc)
			break;
	}
	json_decref(ids);
	return rc;
}

int ks_sync_fetch_live(ks_kube_client *c, const ks_sync_plan *scope,
		       const json_t *spec, json_t **out, ks_error *err)
{
	json_t *live = json_array();
	json_t *seen = json_object();
	json_t *nss = spec_namespaces(spec);
	char *sel = stack_selector(scope);
	int rc = 0;
	json_object_set_new(seen, "v1/Namespace", json_true());
	ks_kube_resource nsr;
	rc = ks_kube_discover(c, "v1", "Namespace", &nsr, err);
	if (!rc) {
		json_t *items = NULL;
		rc = ks_kube_list(c, &nsr, NULL, KS_LABEL_MANAGED_BY "=kusync",
				  &items, err);
		if (rc && forbidden(err))
			rc = 0; /* each is looked up by name below */
		else if (!rc) {
			json_array_extend(live, items);
			json_decref(items);
		}
	}
	size_t i;
	const json_t *res;
	json_array_foreach(json_object_get(spec, "resources"), i, res)
	{
		if (rc || !scope->nstacks)
			break;
		const json_t *a = json_object_get(res, "attributes");
		const char *av =
			json_string_value(json_object_get(a, "apiVersion"));
		const char *kind =
			json_string_value(json_object_get(a, "kind"));
		if (av && kind && strcmp(kind, "Namespace"))
			rc = list_kind(c, av, kind, sel, nss, live, seen, err);
	}
	for (size_t k = 0;
	     !rc && scope->nstacks &&
	     k < sizeof(rendered_kinds) / sizeof(rendered_kinds[0]);
	     k++)
		rc = list_kind(c, rendered_kinds[k][0], rendered_kinds[k][1],
			       sel, nss, live, seen, err);
	json_decref(nss);
	free(sel);
	json_decref(seen);
	if (!rc)
		rc = get_unlisted(c, spec, live, err);
	if (rc) {
		json_decref(live);
		return rc;
	}
	*out = live;
	return 0;
}

char *ks_sync_password(size_t len)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl"
				       "mnopqrstuvwxyz0123456789";
	const size_t n = sizeof(alphabet) - 1; /* 62 */
	char *pw = ks_xmalloc(len + 1);
	size_t o = 0;
	while (o < len) {
		unsigned char buf[64];
		if (RAND_bytes(buf, sizeof(buf)) != 1)
			abort(); /* no CSPRNG: never fall back to rand() */
		for (size_t i = 0; i < sizeof(buf) && o < len; i++) {
			/* rejection sampling keeps the choice uniform */
			if (buf[i] >= 248)
				continue;
			pw[o++] = alphabet[buf[i] % n];
		}
	}
	pw[len] = '\0';
	return pw;
}

/* ---- applying ---- */

enum state { ST_PENDING, ST_DONE, ST_FAILED, ST_SKIPPED };

struct job {
	ks_kube_client *c;
	ks_sync_plan *plan;
	const ks_sync_apply_opts *opts;
	enum state *state;
	char **result;	/* "applied", "created", ... */
	char **message; /* failure text */
	char **password;
	int *code;	  /* the error code of a failure */
	int64_t deadline; /* of --wait */
	size_t *queue;	  /* indexes of this wave */
	size_t nqueue;
	size_t next;
	pthread_mutex_t mu;
};

static const char *meta_str(const json_t *obj, const char *key)
{
	return json_string_value(
		json_object_get(json_object_get(obj, "metadata"), key));
}

static const char *annotation(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(
		json_object_get(json_object_get(obj, "metadata"),
				"annotations"),
		key));
}

/* Passwords for generate Secrets that do not exist yet: a database's two
 * Secrets (<db>-<e>-local-secret and <db>-<e>) share one, reusing the
 * value of whichever of them already exists. */
static void plan_passwords(ks_sync_plan *p, char **pw)
{
	for (size_t i = 0; i < p->nitems; i++) {
		ks_sync_item *it = &p->items[i];
		if (!it->generate || it->live || !it->desired ||
		    it->action != KS_ACT_CREATE)
			continue;
		const char *name = meta_str(it->desired, "name");
		const char *ns = meta_str(it->desired, "namespace");
		size_t base = strlen(name);
		const char *suffix = "-local-secret";
		if (base > strlen(suffix) &&
		    !strcmp(name + base - strlen(suffix), suffix))
			base -= strlen(suffix);
		for (size_t j = 0; j < p->nitems && !pw[i]; j++) {
			ks_sync_item *o = &p->items[j];
			if (j == i || !o->generate || !o->desired)
				continue;
			const char *on = meta_str(o->desired, "name");
			const char *ons = meta_str(o->desired, "namespace");
			if (!ns || !ons || strcmp(ns, ons) ||
			    strncmp(on, name, base) ||
			    (on[base] && strcmp(on + base, suffix)))
				continue;
			if (pw[j]) {
				pw[i] = ks_xstrdup(pw[j]);
			} else if (o->live) {
				const char *v = json_string_value(
					json_object_get(json_object_get(o->live,
									"data"),
							"password"));
				char *dec = NULL;
				size_t len = 0;
				if (v && !ks_base64_decode(v, &dec, &len))
					pw[i] = dec;
				else
					free(dec);
			}
		}
		if (!pw[i])
			pw[i] = ks_sync_password(24);
	}
}

static int create_generated(struct job *j, size_t i, const ks_kube_resource *r,
			    ks_error *err)
{
	ks_sync_item *it = &j->plan->items[i];
	json_t *obj = json_deep_copy(it->desired);
	json_t *data = json_object_get(obj, "data");
	if (!json_is_object(data)) {
		data = json_object();
		json_object_set_new(obj, "data", data);
	}
	char *b64 = ks_base64_encode(j->password[i], strlen(j->password[i]));
	json_object_set_new(data, "password", json_string(b64));
	free(b64);
	char *body = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	char *base = ks_kube_path(r, meta_str(it->desired, "namespace"), NULL);
	char *path =
		ks_xasprintf("%s?fieldManager=" KS_SYNC_GENERATE_MANAGER, base);
	char *what = ks_xasprintf("create \"%s\"", it->id);
	ks_kube_req req = {.method = "POST",
			   .path = path,
			   .body = body,
			   .body_len = strlen(body),
			   .what = what};
	ks_kube_resp resp;
	int rc = ks_kube_request(j->c, &req, &resp, err);
	if (rc == KS_ECONFLICT)
		rc = 0; /* it exists already: never overwrite a password */
	ks_kube_resp_release(&resp);
	free(what);
	free(path);
	free(base);
	/* The body held the password: clear it before freeing. */
	memset(body, 0, strlen(body));
	free(body);
	return rc;
}

static int ssa(struct job *j, size_t i, const ks_kube_resource *r, long *status,
	       ks_error *err)
{
	ks_sync_item *it = &j->plan->items[i];
	char *body = json_dumps(it->desired, JSON_COMPACT);
	char *base = ks_kube_path(r, meta_str(it->desired, "namespace"),
				  meta_str(it->desired, "name"));
	char *path = ks_xasprintf(
		"%s?fieldManager=" KS_SYNC_MANAGER "&force=true", base);
	char *what = ks_xasprintf("apply \"%s\"", it->id);
	ks_kube_req req = {.method = "PATCH",
			   .path = path,
			   .content_type = "application/apply-patch+yaml",
			   .body = body,
			   .body_len = strlen(body),
			   .what = what};
	ks_kube_resp resp;
	int rc = ks_kube_request(j->c, &req, &resp, err);
	*status = resp.status;
	ks_kube_resp_release(&resp);
	free(what);
	free(path);
	free(base);
	free(body);
	return rc;
}

static int delete_object(ks_kube_client *c, const ks_kube_resource *r,
			 const char *ns, const char *name, const char *id,
			 ks_error *err)
{
	char *path = ks_kube_path(r, ns, name);
	char *what = ks_xasprintf("delete \"%s\"", id);
	const char *body = "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\","
			   "\"propagationPolicy\":\"Background\"}";
	ks_kube_req req = {.method = "DELETE",
			   .path = path,
			   .body = body,
			   .body_len = strlen(body),
			   .what = what};
	ks_kube_resp resp;
	int rc = ks_kube_request(c, &req, &resp, err);
	if (rc == KS_ENOTFOUND)
		rc = 0;
	ks_kube_resp_release(&resp);
	free(what);
	free(path);
	return rc;
}

/* GETs the object; *out NULL when it does not exist. */
static int get_object(ks_kube_client *c, const ks_kube_resource *r,
		      const char *ns, const char *name, const char *id,
		      json_t **out, ks_error *err)
{
	char *path = ks_kube_path(r, ns, name);
	char *what = ks_xasprintf("get \"%s\"", id);
	ks_kube_req req = {.method = "GET", .path = path, .what = what};
	ks_kube_resp resp;
	int rc = ks_kube_request(c, &req, &resp, err);
	*out = NULL;
	if (rc == KS_ENOTFOUND)
		rc = 0;
	else if (!rc && !json_is_object(resp.json))
		rc = ks_error_set(err, KS_EENV,
				  "%s: the answer is not a JSON object", what);
	else if (!rc)
		*out = json_incref(resp.json);
	ks_kube_resp_release(&resp);
	free(what);
	free(path);
	return rc;
}

static bool immutable_refusal(const ks_error *e)
{
	return strstr(e->msg, "field is immutable") != NULL;
}

static bool replaceable(const json_t *obj)
{
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const char *ann = annotation(obj, KS_ANN_REPLACE);
	return (kind && !strcmp(kind, "Job")) || (ann && !strcmp(ann, "true"));
}

/* Deletes the object and waits (up to 60 s) until it is gone. */
static int replace_delete(struct job *j, const ks_kube_resource *r,
			  const ks_sync_item *it, ks_error *err)
{
	const char *ns = meta_str(it->desired, "namespace");
	const char *name = meta_str(it->desired, "name");
	int rc = delete_object(j->c, r, ns, name, it->id, err);
	for (int k = 0; !rc && k < 600; k++) {
		json_t *o = NULL;
		rc = get_object(j->c, r, ns, name, it->id, &o, err);
		if (!rc && !o)
			return 0;
		json_decref(o);
		ks_sync_sleep_ms(100);
	}
	if (!rc)
		rc = ks_error_set(err, KS_ERROR,
				  "replace \"%s\": the old object was not "
				  "deleted within 60s",
				  it->id);
	return rc;
}

static bool wait_healthy(struct job *j, const bool *want);

static const char *cell_of(const ks_sync_item *it)
{
	const char *c = json_string_value(json_object_get(
		json_object_get(json_object_get(it->desired, "metadata"),
				"labels"),
		KS_LABEL_CELL));
	return c ? c : "?";
}

static void apply_one(struct job *j, size_t i)
{
	ks_sync_item *it = &j->plan->items[i];
	for (size_t k = 0; k < it->ndeps; k++) {
		enum state ds = j->state[it->deps[k]];
		if (ds == ST_FAILED || ds == ST_SKIPPED) {
			j->state[i] = ST_SKIPPED;
			j->result[i] = ks_xstrdup("skipped");
			j->message[i] = ks_xasprintf(
				"skipped \"%s\": it depends on \"%s\", which "
				"was not applied",
				it->id, j->plan->items[it->deps[k]].id);
			return;
		}
	}
	/* With --wait, the previous cell must be healthy (run_waves polled
	 * it before this wave). */
	for (size_t k = 0; j->opts->wait && k < it->ncell_deps; k++) {
		size_t d = it->cell_deps[k];
		const char *res = j->result[d];
		if (res && !strcmp(res, "healthy"))
			continue;
		j->state[i] = ST_SKIPPED;
		j->result[i] = ks_xstrdup("skipped");
		j->message[i] = ks_xasprintf(
			"skipped \"%s\": cell \"%s\" is not healthy "
			"(\"%s\" is %s)",
			it->id, cell_of(&j->plan->items[d]),
			j->plan->items[d].id,
			!res			  ? "not applied"
			: !strcmp(res, "timeout") ? "not healthy in time"
						  : res);
		return;
	}
	ks_error err;
	ks_kube_resource r;
	const char *av =
		json_string_value(json_object_get(it->desired, "apiVersion"));
	const char *kind =
		json_string_value(json_object_get(it->desired, "kind"));
	int rc = ks_kube_discover(j->c, av, kind, &r, &err);
	if (rc) {
		char msg[sizeof(err.msg)];
		snprintf(msg, sizeof(msg), "%s", err.msg);
		ks_error_set(&err, rc, "apply \"%s\": %s", it->id, msg);
	}
	if (!rc && it->generate && !it->live && j->password[i])
		rc = create_generated(j, i, &r, &err);
	long status = 0;
	if (!rc)
		rc = ssa(j, i, &r, &status, &err);
	if (rc && status == 422 && immutable_refusal(&err) &&
	    replaceable(it->desired)) {
		if (j->opts->progress)
			fprintf(j->opts->progress,
				"replacing %s (immutable fields changed)\n",
				it->id);
		rc = replace_delete(j, &r, it, &err);
		if (!rc)
			rc = ssa(j, i, &r, &status, &err);
	}
	if (rc) {
		j->state[i] = ST_FAILED;
		j->code[i] = rc;
		j->result[i] = ks_xstrdup("failed");
		j->message[i] = ks_xstrdup(err.msg);
		return;
	}
	j->state[i] = ST_DONE;
	j->result[i] =
		ks_xstrdup(it->action == KS_ACT_CREATE ? "created" : "applied");
	if (j->opts->progress)
		fprintf(j->opts->progress, "%s %s\n", j->result[i], it->id);
}

static void *worker(void *arg)
{
	struct job *j = arg;
	for (;;) {
		pthread_mutex_lock(&j->mu);
		size_t k = j->next < j->nqueue ? j->next++ : SIZE_MAX;
		pthread_mutex_unlock(&j->mu);
		if (k == SIZE_MAX)
			return NULL;
		apply_one(j, j->queue[k]);
	}
}

/* Depth in the dependency graph; cycles (a broken Spec) count as depth 0
 * at the point they close. */
static size_t depth(const ks_sync_plan *p, size_t i, int *mark, size_t *memo)
{
	if (mark[i] == 2)
		return memo[i];
	if (mark[i] == 1)
		return 0;
	mark[i] = 1;
	size_t d = 0;
	for (size_t k = 0; k < p->items[i].ndeps; k++) {
		size_t e = depth(p, p->items[i].deps[k], mark, memo) + 1;
		if (e > d)
			d = e;
	}
	mark[i] = 2;
	memo[i] = d;
	return d;
}

/* Before a wave with items of a later cell: with --wait, the previous
 * cell's applied objects are polled until healthy (or degraded, or the
 * deadline), so that a bad cell stops the rollout. */
static void cell_gate(struct job *j)
{
	if (!j->opts->wait)
		return;
	ks_sync_plan *p = j->plan;
	bool *want = ks_xcalloc(p->nitems ? p->nitems : 1, sizeof(bool));
	bool any = false;
	for (size_t q = 0; q < j->nqueue; q++) {
		const ks_sync_item *it = &p->items[j->queue[q]];
		for (size_t k = 0; k < it->ncell_deps; k++) {
			want[it->cell_deps[k]] = true;
			any = true;
		}
	}
	if (any) {
		if (j->opts->progress)
			fprintf(j->opts->progress, "waiting for the previous "
						   "cell to be healthy\n");
		wait_healthy(j, want);
	}
	free(want);
}

static void run_waves(struct job *j)
{
	ks_sync_plan *p = j->plan;
	int *mark = ks_xcalloc(p->nitems ? p->nitems : 1, sizeof(int));
	size_t *lvl = ks_xcalloc(p->nitems ? p->nitems : 1, sizeof(size_t));
	size_t maxl = 0;
	for (size_t i = 0; i < p->nitems; i++) {
		size_t d = depth(p, i, mark, lvl);
		if (d > maxl)
			maxl = d;
	}
	j->queue = ks_xcalloc(p->nitems ? p->nitems : 1, sizeof(size_t));
	unsigned nthreads = j->opts->parallel ? j->opts->parallel : 4;
	pthread_t *th = ks_xcalloc(nthreads, sizeof(pthread_t));
	for (size_t l = 0; l <= maxl; l++) {
		j->nqueue = j->next = 0;
		for (size_t i = 0; i < p->nitems; i++) {
			ks_sync_action a = p->items[i].action;
			if (lvl[i] != l)
				continue;
			if (a == KS_ACT_CREATE || a == KS_ACT_UPDATE)
				j->queue[j->nqueue++] = i;
			else if (a == KS_ACT_UNCHANGED)
				j->state[i] = ST_DONE;
		}
		cell_gate(j);
		unsigned n =
			j->nqueue < nthreads ? (unsigned)j->nqueue : nthreads;
		if (n <= 1) {
			worker(j);
			continue;
		}
		for (unsigned t = 0; t < n; t++)
			pthread_create(&th[t], NULL, worker, j);
		for (unsigned t = 0; t < n; t++)
			pthread_join(th[t], NULL);
	}
	free(th);
	free(mark);
	free(lvl);
}

static void prune(struct job *j)
{
	ks_sync_plan *p = j->plan;
	/* Reverse order: dependants (workloads) before what they use. */
	for (size_t i = p->nitems; i-- > 0;) {
		ks_sync_item *it = &p->items[i];
		if (it->action != KS_ACT_DELETE)
			continue;
		ks_error err;
		ks_kube_resource r;
		const char *av = json_string_value(
			json_object_get(it->live, "apiVersion"));
		const char *kind =
			json_string_value(json_object_get(it->live, "kind"));
		int rc = ks_kube_discover(j->c, av, kind, &r, &err);
		if (!rc)
			rc = delete_object(
				j->c, &r, meta_str(it->live, "namespace"),
				meta_str(it->live, "name"), it->id, &err);
		if (rc) {
			j->state[i] = ST_FAILED;
			j->code[i] = rc;
			j->result[i] = ks_xstrdup("failed");
			j->message[i] = ks_xstrdup(err.msg);
		} else {
			j->state[i] = ST_DONE;
			j->result[i] = ks_xstrdup("deleted");
			if (j->opts->progress)
				fprintf(j->opts->progress, "deleted %s\n",
					it->id);
		}
	}
}

static bool settled(const struct job *j, size_t i)
{
	const char *r = j->result[i];
	return r && (!strcmp(r, "healthy") || !strcmp(r, "degraded") ||
		     !strcmp(r, "timeout"));
}

static bool wanted(const struct job *j, const bool *want, size_t i)
{
	return j->state[i] == ST_DONE && j->plan->items[i].desired &&
	       (!want || want[i]);
}

static void set_message(struct job *j, size_t i, char *msg)
{
	free(j->message[i]);
	j->message[i] = msg;
}

/* Polls the applied objects (those WANT selects; NULL: all) until all are
 * healthy, one is degraded, or j->deadline passes; sets their results.
 * Returns whether all were healthy. */
static bool wait_healthy(struct job *j, const bool *want)
{
	ks_sync_plan *p = j->plan;
	unsigned poll = j->opts->poll_ms ? j->opts->poll_ms : 1000;
	int64_t deadline = j->deadline;
	ks_health *h = ks_xcalloc(p->nitems ? p->nitems : 1, sizeof(*h));
	char(*why)[256] = ks_xcalloc(p->nitems ? p->nitems : 1, sizeof(*why));
	bool done = false, ok = false;
	while (!done) {
		size_t pending = 0, degraded = 0;
		for (size_t i = 0; i < p->nitems; i++) {
			ks_sync_item *it = &p->items[i];
			if (!wanted(j, want, i))
				continue;
			if (settled(j, i)) {
				degraded +=
					strcmp(j->result[i], "healthy") != 0;
				continue;
			}
			ks_kube_resource r;
			ks_error err;
			json_t *o = NULL;
			const char *av = json_string_value(
				json_object_get(it->desired, "apiVersion"));
			const char *kind = json_string_value(
				json_object_get(it->desired, "kind"));
			int rc = ks_kube_discover(j->c, av, kind, &r, &err);
			if (!rc)
				rc = get_object(
					j->c, &r,
					meta_str(it->desired, "namespace"),
					meta_str(it->desired, "name"), it->id,
					&o, &err);
			h[i] = rc ? KS_PROGRESSING
				  : ks_sync_health(o, why[i], sizeof(why[i]));
			if (rc)
				snprintf(why[i], sizeof(why[i]), "%.200s",
					 err.msg);
			json_decref(o);
			if (h[i] == KS_HEALTHY) {
				free(j->result[i]);
				j->result[i] = ks_xstrdup("healthy");
			} else if (h[i] == KS_DEGRADED) {
				degraded++;
			} else {
				pending++;
			}
		}
		if (degraded) {
			for (size_t i = 0; i < p->nitems; i++) {
				if (h[i] != KS_DEGRADED ||
				    !wanted(j, want, i) || settled(j, i))
					continue;
				free(j->result[i]);
				j->result[i] = ks_xstrdup("degraded");
				set_message(
					j, i,
					ks_xasprintf("\"%s\" is degraded: %s",
						     p->items[i].id, why[i]));
			}
			done = true;
		} else if (!pending) {
			ok = done = true;
		} else if (ks_sync_now_ms() >= deadline) {
			for (size_t i = 0; i < p->nitems; i++) {
				if (!wanted(j, want, i) || settled(j, i))
					continue;
				free(j->result[i]);
				j->result[i] = ks_xstrdup("timeout");
				set_message(
					j, i,
					ks_xasprintf("\"%s\" is not healthy "
						     "after the timeout: "
						     "%s",
						     p->items[i].id, why[i]));
			}
			done = true;
		} else {
			if (j->opts->progress)
				fprintf(j->opts->progress,
					"waiting for %zu resource%s to become "
					"healthy\n",
					pending, pending == 1 ? "" : "s");
			ks_sync_sleep_ms(poll);
		}
	}
	free(h);
	free(why);
	return ok;
}

int ks_sync_apply(ks_kube_client *c, ks_sync_plan *plan,
		  const ks_sync_apply_opts *opts, json_t **report,
		  ks_error *err)
{
	ks_sync_apply_opts dflt = {0};
	if (!opts)
		opts = &dflt;
	size_t n = plan->nitems ? plan->nitems : 1;
	struct job j = {.c = c, .plan = plan, .opts = opts};
	j.state = ks_xcalloc(n, sizeof(*j.state));
	j.result = ks_xcalloc(n, sizeof(char *));
	j.message = ks_xcalloc(n, sizeof(char *));
	j.password = ks_xcalloc(n, sizeof(char *));
	j.code = ks_xcalloc(n, sizeof(int));
	j.deadline = ks_sync_now_ms() +
		     (opts->timeout_ms > 0 ? opts->timeout_ms : 5 * 60 * 1000);
	pthread_mutex_init(&j.mu, NULL);
	plan_passwords(plan, j.password);
	run_waves(&j);
	bool failed = false;
	for (size_t i = 0; i < plan->nitems; i++)
		if (j.state[i] == ST_FAILED || j.state[i] == ST_SKIPPED)
			failed = true;
	if (!failed)
		prune(&j);
	for (size_t i = 0; i < plan->nitems; i++)
		if (j.state[i] == ST_FAILED)
			failed = true;
	if (!failed && opts->wait && !wait_healthy(&j, NULL))
		failed = true;
	json_t *rep = json_array();
	size_t nfail = 0, nfailed = 0, nenv = 0;
	for (size_t i = 0; i < plan->nitems; i++) {
		ks_sync_item *it = &plan->items[i];
		const char *res = j.result[i];
		if (!res && it->action == KS_ACT_UNCHANGED)
			res = "unchanged";
		if (!res)
			continue;
		json_t *e = json_pack("{s:s, s:s, s:s}", "id", it->id, "action",
				      ks_sync_action_name(it->action), "result",
				      res);
		if (j.message[i]) {
			json_object_set_new(e, "message",
					    json_string(j.message[i]));
			nfail++;
		}
		if (j.state[i] == ST_FAILED) {
			nfailed++;
			nenv += j.code[i] == KS_EENV;
		}
		json_array_append_new(rep, e);
	}
	for (size_t i = 0; i < plan->nitems; i++) {
		free(j.result[i]);
		free(j.message[i]);
		if (j.password[i]) {
			memset(j.password[i], 0, strlen(j.password[i]));
			free(j.password[i]);
		}
	}
	free(j.state);
	free(j.result);
	free(j.message);
	free(j.password);
	free(j.code);
	free(j.queue);
	pthread_mutex_destroy(&j.mu);
	*report = rep;
	if (!failed)
		return 0;
	/* Every failure was the cluster's (unreachable, 401/403, 5xx after
	 * the retries): an environment failure, not a finding. */
	if (nfailed && nenv == nfailed)
		return ks_error_set(err, KS_EENV,
				    "the cluster refused or could not be "
				    "reached");
	return ks_error_set(err, KS_ERROR, "%zu resource%s not applied", nfail,
			    nfail == 1 ? " was" : "s were");
}
