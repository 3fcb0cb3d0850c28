/*
 * The watch cache: a thread per resource type LISTs and WATCHes the objects
 * labelled kusync.io/app, on its own curl multi handle so that stopping
 * interrupts whatever it is doing.
 */
#include "sync/watch.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "sync/client_internal.h"
#include "sync/internal.h"
#include "sync/plan.h"
#include "core/banned.h"

#define WATCH_TIMEOUT_S 300
#define PAGE_LIMIT 500
#define BACKOFF_BASE_MS 200
#define BACKOFF_MAX_MS 30000
#define UNSERVED_RETRY_MS 300000
/* in format strings */
#define SELECTOR "labelSelector=kusync.io%%2Fapp"

struct kind {
	ks_watch *w;
	char *api_version;
	char *kind;
	char *prefix; /* "apiVersion:Kind:" */
	pthread_t thread;
	CURLM *multi;
	CURL *easy;
	/* under w->mu */
	json_t *objects; /* "namespace:name" -> entry (see entry_new) */
	bool synced;
	bool unserved;
	char error[256]; /* the last failure, "" after a good LIST/stream */
	/* the thread's own */
	ks_kube_resource res;
	bool have_res;
	char rv[64];
};

struct ks_watch {
	ks_kube_client *c;
	int64_t resync_ms;
	ks_watch_cb cb;
	void *ud;
	atomic_bool stopping;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* signalled on stop; CLOCK_MONOTONIC */
	struct kind **kinds;
	size_t nkinds, akinds;
	json_t *by_app; /* app -> {"apiVersion:Kind:ns:name" -> entry} */
};

/* ---- small helpers ---- */

static const char *meta_str(const json_t *obj, const char *key)
{
	return json_string_value(
		json_object_get(json_object_get(obj, "metadata"), key));
}

static const char *app_of(const json_t *obj)
{
	return json_string_value(json_object_get(
		json_object_get(json_object_get(obj, "metadata"), "labels"),
		KS_LABEL_APP));
}

/* "namespace:name" of OBJ (namespace "" when cluster-scoped); NULL when
 * it has no name. */
static char *obj_key(const json_t *obj)
{
	const char *name = meta_str(obj, "name");
	if (!name)
		return NULL;
	const char *ns = meta_str(obj, "namespace");
	return ks_xasprintf("%s:%s", ns ? ns : "", name);
}

static bool same_str(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

/*
 * The cache keeps each object compactly, as an entry {"app", "rv", "text"}:
 * its kusync.io/app label, its resourceVersion and its JSON text, parsed
 * again by ks_watch_objects. The text keeps what drift and health read:
 * managedFields only of the kusync field manager (the diff reads no other)
 * and status only of the kinds ks_sync_health reads (sync/health.c). A
 * parsed object costs about ten times its text in jansson nodes.
 */
static bool health_reads_status(const char *av, const char *kind)
{
	if (!av || !kind)
		return false;
	if (!strcmp(av, "apps/v1"))
		return !strcmp(kind, "Deployment") ||
		       !strcmp(kind, "StatefulSet");
	if (!strcmp(av, "batch/v1"))
		return !strcmp(kind, "Job");
	return !strncmp(av, "apps.kusionstack.io/", 20) &&
	       !strcmp(kind, "CollaSet");
}

/* An entry for OBJ (changed in place: given the kind's apiVersion and kind,
 * trimmed as said above); a new reference. */
static json_t *entry_new(const struct kind *k, json_t *obj)
{
	json_object_set_new(obj, "apiVersion", json_string(k->api_version));
	json_object_set_new(obj, "kind", json_string(k->kind));
	if (!health_reads_status(k->api_version, k->kind))
		json_object_del(obj, "status");
	json_t *mf = json_object_get(json_object_get(obj, "metadata"),
				     "managedFields");
	if (json_is_array(mf)) {
		for (size_t i = json_array_size(mf); i-- > 0;) {
			const char *m = json_string_value(json_object_get(
				json_array_get(mf, i), "manager"));
			if (!m || strcmp(m, KS_SYNC_MANAGER))
				json_array_remove(mf, i);
		}
	}
	char *text = json_dumps(obj, JSON_COMPACT);
	const char *app = app_of(obj);
	const char *rv = meta_str(obj, "resourceVersion");
	json_t *e = json_pack("{s:s, s:s, s:s}", "app", app ? app : "", "rv",
			      rv ? rv : "", "text", text ? text : "null");
	free(text);
	return e;
}

static const char *entry_app(const json_t *e)
{
	const char *a = json_string_value(json_object_get(e, "app"));
	return a && *a ? a : NULL;
}

static const char *entry_rv(const json_t *e)
{
	return json_string_value(json_object_get(e, "rv"));
}

static bool stopping(const ks_watch *w)
{
	return atomic_load(&w->stopping);
}

/* Waits MS milliseconds or until the watch stops; true when stopping. */
static bool wait_ms(ks_watch *w, int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while (!stopping(w)) {
		if (pthread_cond_timedwait(&w->cv, &w->mu, &ts))
			break;
	}
	pthread_mutex_unlock(&w->mu);
	return stopping(w);
}

static int64_t backoff(unsigned attempt)
{
	return ks_kube_backoff_ms(attempt < 20 ? attempt : 20, BACKOFF_BASE_MS,
				  BACKOFF_MAX_MS, 0, ks_sync_rand01());
}

/* ---- the cache (every function here under w->mu) ---- */

static void index_set(ks_watch *w, const char *app, const char *full,
		      json_t *obj)
{
	json_t *m = json_object_get(w->by_app, app);
	if (!m) {
		m = json_object();
		json_object_set_new(w->by_app, app, m);
	}
	json_object_set(m, full, obj);
}

static void index_del(ks_watch *w, const char *app, const char *full)
{
	json_t *m = json_object_get(w->by_app, app);
	if (!m)
		return;
	json_object_del(m, full);
	if (!json_object_size(m))
		json_object_del(w->by_app, app);
}

static void mark(json_t *changed, const char *app)
{
	if (app)
		json_object_set_new(changed, app, json_true());
}

/* Calls the callback for every app of CHANGED (not under the mutex) and
 * frees it. */
static void notify(ks_watch *w, json_t *changed)
{
	const char *app;
	json_t *v;
	if (w->cb)
		json_object_foreach(changed, app, v)
		{
			w->cb(w->ud, app);
		}
	json_decref(changed);
}

/* Puts entry OBJ (a reference is taken) under KEY, or removes KEY when OBJ
 * is NULL or lost its label; marks the apps concerned. */
static void cache_put_locked(struct kind *k, const char *key, json_t *obj,
			     json_t *changed)
{
	ks_watch *w = k->w;
	char *full = ks_xasprintf("%s%s", k->prefix, key);
	json_t *old = json_object_get(k->objects, key);
	char *old_app =
		old && entry_app(old) ? ks_xstrdup(entry_app(old)) : NULL;
	const char *app = obj ? entry_app(obj) : NULL;
	if (old_app && !same_str(old_app, app))
		index_del(w, old_app, full);
	if (app) {
		json_object_set(k->objects, key, obj);
		index_set(w, app, full, obj);
	} else {
		json_object_del(k->objects, key);
	}
	if (old || app)
		mark(changed, old_app);
	mark(changed, app);
	free(old_app);
	free(full);
}

/* Replaces the kind's objects with those of NEWMAP ("ns:name" -> entry,
 * a reference is taken); marks the apps whose objects changed (another
 * resourceVersion or app) or vanished. */
static void cache_replace_locked(struct kind *k, json_t *newmap,
				 json_t *changed)
{
	ks_watch *w = k->w;
	const char *key;
	json_t *o;
	json_object_foreach(k->objects, key, o)
	{
		char *full = ks_xasprintf("%s%s", k->prefix, key);
		index_del(w, entry_app(o), full);
		free(full);
		json_t *n = json_object_get(newmap, key);
		if (!n || !same_str(entry_rv(n), entry_rv(o)) ||
		    !same_str(entry_app(n), entry_app(o)))
			mark(changed, entry_app(o));
	}
	json_object_foreach(newmap, key, o)
	{
		char *full = ks_xasprintf("%s%s", k->prefix, key);
		index_set(w, entry_app(o), full, o);
		free(full);
		json_t *old = json_object_get(k->objects, key);
		if (!old || !same_str(entry_rv(o), entry_rv(old)) ||
		    !same_str(entry_app(o), entry_app(old)))
			mark(changed, entry_app(o));
	}
	json_decref(k->objects);
	k->objects = json_incref(newmap);
}

/* Adds the labelled objects of ITEMS (LIST items) to NEWMAP as entries. */
static void map_add_items(const struct kind *k, json_t *newmap, json_t *items)
{
	size_t i;
	json_t *o;
	json_array_foreach(items, i, o)
	{
		if (!json_is_object(o) || !app_of(o))
			continue;
		char *key = obj_key(o);
		if (!key)
			continue;
		json_object_set_new(newmap, key, entry_new(k, o));
		free(key);
	}
}

/* Replaces the kind's cache with NEWMAP ("ns:name" -> entry) and
 * notifies. */
static void cache_replace(struct kind *k, json_t *newmap)
{
	json_t *changed = json_object();
	pthread_mutex_lock(&k->w->mu);
	cache_replace_locked(k, newmap, changed);
	k->synced = true;
	pthread_mutex_unlock(&k->w->mu);
	notify(k->w, changed);
}

/* ---- requests on the thread's multi handle ---- */

enum { T_DONE, T_STOPPED, T_DEADLINE, T_FAILED };

/* Outcomes of a watch stream, from its events. */
enum { EV_NONE, EV_GONE, EV_ERROR };

struct xfer {
	struct kind *k;
	bool stream; /* a watch: the lines of a 200 answer are events */
	long status;
	ks_buf body; /* a LIST's body, or the error answer of a watch */
	ks_buf line; /* the partial event line */
	bool over_cap;
	int outcome; /* EV_* */
	char message[512];
	unsigned events;
};

static void handle_event(struct xfer *x, const char *p, size_t n)
{
	struct kind *k = x->k;
	while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
		n--;
	if (!n || x->outcome != EV_NONE)
		return;
	json_t *ev = json_loadb(p, n, 0, NULL);
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *obj = json_object_get(ev, "object");
	if (!type || !json_is_object(obj)) {
		x->outcome = EV_ERROR;
		snprintf(x->message, sizeof(x->message),
			 "a watch event that is not {\"type\", \"object\"}");
		json_decref(ev);
		return;
	}
	x->events++;
	if (!strcmp(type, "ERROR")) {
		json_int_t code =
			json_integer_value(json_object_get(obj, "code"));
		x->outcome = code == 410 ? EV_GONE : EV_ERROR;
		ks_kube_status_message(x->message, sizeof(x->message), NULL,
				       (long)code, obj, p, n);
		json_decref(ev);
		return;
	}
	const char *rv = meta_str(obj, "resourceVersion");
	bool put = !strcmp(type, "ADDED") || !strcmp(type, "MODIFIED");
	bool del = !strcmp(type, "DELETED");
	char *key = put || del ? obj_key(obj) : NULL;
	if (key) {
		json_t *e = put ? entry_new(k, obj) : NULL;
		json_t *changed = json_object();
		pthread_mutex_lock(&k->w->mu);
		cache_put_locked(k, key, e, changed);
		pthread_mutex_unlock(&k->w->mu);
		json_decref(e);
		notify(k->w, changed);
		free(key);
	}
	if (rv && *rv)
		snprintf(k->rv, sizeof(k->rv), "%s", rv);
	json_decref(ev);
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	if (!x->status)
		curl_easy_getinfo(x->k->easy, CURLINFO_RESPONSE_CODE,
				  &x->status);
	if (!x->stream || x->status != 200) {
		if (ks_buf_append(&x->body, p, len) < 0) {
			x->over_cap = true;
			return 0;
		}
		return len;
	}
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '\n')
			continue;
		if (x->line.len) {
			if (ks_buf_append(&x->line, p + start, i - start) < 0) {
				x->over_cap = true;
				return 0;
			}
			handle_event(x, x->line.data, x->line.len);
			x->line.len = 0;
		} else {
			handle_event(x, p + start, i - start);
		}
		start = i + 1;
	}
	if (start < len &&
	    ks_buf_append(&x->line, p + start, len - start) < 0) {
		x->over_cap = true;
		return 0;
	}
	return len;
}

static void xfer_init(struct xfer *x, struct kind *k, bool stream)
{
	memset(x, 0, sizeof(*x));
	x->k = k;
	x->stream = stream;
	size_t cap = k->w->c->opts.max_body;
	ks_buf_init(&x->body, cap);
	ks_buf_init(&x->line, cap);
}

static void xfer_release(struct xfer *x)
{
	ks_buf_release(&x->body);
	ks_buf_release(&x->line);
}

/*
 * One GET of PATH on the kind's handle, driven until it ends, the watch
 * stops (T_STOPPED) or DEADLINE_MS on the monotonic clock passes
 * (T_DEADLINE; 0: none). T_FAILED with ERR for a transport error (the
 * status and what came are in X all the same).
 */
static int transfer(struct kind *k, const char *path, struct xfer *x,
		    int64_t deadline_ms, ks_error *err)
{
	ks_watch *w = k->w;
	struct curl_slist *hdrs = NULL;
	if (ks_kube_client_prepare_get(w->c, k->easy, path, &hdrs, err))
		return T_FAILED;
	curl_easy_setopt(k->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(k->easy, CURLOPT_WRITEDATA, x);
	/* A LIST has the client's timeout; a stream a safety net in case the
	 * connection dies silently. */
	long timeout = x->stream ? (WATCH_TIMEOUT_S + 60) * 1000L
				 : (long)w->c->opts.timeout_ms;
	curl_easy_setopt(k->easy, CURLOPT_TIMEOUT_MS, timeout);
	curl_multi_add_handle(k->multi, k->easy);
	int out = T_DONE;
	CURLcode cc = CURLE_OK;
	for (;;) {
		int running = 0;
		CURLMcode mc = curl_multi_perform(k->multi, &running);
		if (mc != CURLM_OK) {
			ks_error_set(err, KS_EENV, "GET %s: %s", path,
				     curl_multi_strerror(mc));
			out = T_FAILED;
			break;
		}
		if (!running) {
			int q;
			CURLMsg *m;
			while ((m = curl_multi_info_read(k->multi, &q)))
				if (m->msg == CURLMSG_DONE)
					cc = m->data.result;
			break;
		}
		if (stopping(w)) {
			out = T_STOPPED;
			break;
		}
		int wait = 1000;
		if (deadline_ms) {
			int64_t left = deadline_ms - ks_sync_now_ms();
			if (left <= 0) {
				out = T_DEADLINE;
				break;
			}
			if (left < wait)
				wait = (int)left;
		}
		curl_multi_poll(k->multi, NULL, 0, wait, NULL);
	}
	long st = 0;
	curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &st);
	if (st)
		x->status = st;
	if (x->status == 401)
		ks_kube_client_auth_failed(w->c);
	curl_multi_remove_handle(k->multi, k->easy);
	curl_easy_setopt(k->easy, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (out == T_DONE && x->over_cap) {
		ks_error_set(err, KS_ELIMIT,
			     "GET %s: the response is larger than %zu bytes",
			     path, w->c->opts.max_body);
		out = T_FAILED;
	} else if (out == T_DONE && cc != CURLE_OK) {
		ks_error_set(err, KS_EENV, "GET %s: %s (%s)", path,
			     curl_easy_strerror(cc), w->c->cfg->server);
		out = T_FAILED;
	}
	return out;
}

/* The error of a non-2xx answer X to PATH. */
static int answer_error(const struct xfer *x, const char *what, ks_error *err)
{
	json_t *j = json_loadb(x->body.data, x->body.len, 0, NULL);
	char msg[sizeof(err->msg)];
	ks_kube_status_message(msg, sizeof(msg), what, x->status, j,
			       x->body.data, x->body.len);
	json_decref(j);
	return ks_error_set(err, x->status == 404 ? KS_ENOTFOUND : KS_EENV,
			    "%s", msg);
}

/* Internal results of the steps below, besides 0 and KS_E* codes. */
#define R_STOPPED 1
#define R_RESYNC 2 /* the resync deadline passed during a watch */
#define R_GONE 3   /* 410: LIST again */
#define R_ENDED 4  /* the stream ended: resume from the last rv */
#define R_BROKEN 5 /* an ERROR event or a garbled one: LIST again */

/*
 * Looks the kind up in its group/version's discovery document (fetched
 * here, interruptibly, and added to the client's cache). KS_ENOTFOUND when
 * the server does not serve it or it cannot be listed and watched.
 */
static int resolve(struct kind *k, ks_error *err)
{
	ks_watch *w = k->w;
	char *path = strchr(k->api_version, '/')
			     ? ks_xasprintf("/apis/%s", k->api_version)
			     : ks_xasprintf("/api/%s", k->api_version);
	struct xfer x;
	xfer_init(&x, k, false);
	int t = transfer(k, path, &x, 0, err);
	char what[300];
	snprintf(what, sizeof(what), "discovery of \"%s\"", k->api_version);
	int rc = 0;
	json_t *doc = NULL;
	if (t == T_STOPPED) {
		rc = R_STOPPED;
	} else if (t != T_DONE) {
		rc = KS_EENV;
	} else if (x.status != 200) {
		rc = answer_error(&x, what, err);
	} else if (!(doc = json_loadb(x.body.data, x.body.len, 0, NULL))) {
		rc = ks_error_set(err, KS_EENV, "%s: not JSON", what);
	} else {
		bool found = false;
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(doc, "resources"), i, r)
		{
			const char *name =
				json_string_value(json_object_get(r, "name"));
			if (name && !strchr(name, '/') &&
			    same_str(json_string_value(
					     json_object_get(r, "kind")),
				     k->kind))
				found = true;
		}
		if (!found)
			rc = KS_ENOTFOUND;
		else if (!(rc = ks_kube_discovery_add(w->c, doc, err)))
			rc = ks_kube_discover(w->c, k->api_version, k->kind,
					      &k->res, err);
		if (!rc && (!(k->res.verbs & KS_VERB_LIST) ||
			    !(k->res.verbs & KS_VERB_WATCH)))
			rc = KS_ENOTFOUND;
	}
	if (rc == KS_ENOTFOUND)
		ks_error_set(err, KS_ENOTFOUND,
			     "the server does not serve \"%s:%s\" for listing "
			     "and watching",
			     k->api_version, k->kind);
	json_decref(doc);
	xfer_release(&x);
	free(path);
	return rc;
}

/* LISTs the kind (every page) and replaces its cache; takes the list's
 * resourceVersion. */
static int relist(struct kind *k, ks_error *err)
{
	char *base = ks_kube_path(&k->res, NULL, NULL);
	char what[300];
	snprintf(what, sizeof(what), "list \"%s:%s\"", k->api_version, k->kind);
	json_t *newmap = json_object(); /* pages parsed into entries */
	char *cont = NULL;
	char rv[64] = "";
	int rc = 0;
	unsigned restarts = 0;
	for (;;) {
		char *ec = cont ? ks_kube_escape(cont) : NULL;
		char *path = ks_xasprintf("%s?" SELECTOR "&limit=%d%s%s", base,
					  PAGE_LIMIT, ec ? "&continue=" : "",
					  ec ? ec : "");
		free(ec);
		struct xfer x;
		xfer_init(&x, k, false);
		int t = transfer(k, path, &x, 0, err);
		free(path);
		json_t *page = NULL;
		if (t == T_STOPPED)
			rc = R_STOPPED;
		else if (t != T_DONE)
			rc = KS_EENV;
		else if (x.status == 410 && cont && restarts++ < 3) {
			/* the continue token expired: from the start */
			json_object_clear(newmap);
			free(cont);
			cont = NULL;
			xfer_release(&x);
			continue;
		} else if (x.status != 200)
			rc = answer_error(&x, what, err);
		else if (!(page = json_loadb(x.body.data, x.body.len, 0,
					     NULL)) ||
			 !json_is_array(json_object_get(page, "items")))
			rc = ks_error_set(err, KS_EENV, "%s: not a list", what);
		xfer_release(&x);
		if (rc) {
			json_decref(page);
			break;
		}
		map_add_items(k, newmap, json_object_get(page, "items"));
		const char *prv = meta_str(page, "resourceVersion");
		if (prv)
			snprintf(rv, sizeof(rv), "%s", prv);
		const char *c = meta_str(page, "continue");
		free(cont);
		cont = c && *c ? ks_xstrdup(c) : NULL;
		json_decref(page);
		if (!cont)
			break;
	}
	if (!rc) {
		cache_replace(k, newmap);
		snprintf(k->rv, sizeof(k->rv), "%s", rv);
	}
	json_decref(newmap);
	free(cont);
	free(base);
	return rc;
}

/* One watch stream from k->rv, until it ends or DEADLINE_MS passes. */
static int watch_once(struct kind *k, int64_t deadline_ms, ks_error *err)
{
	char *base = ks_kube_path(&k->res, NULL, NULL);
	char *erv = ks_kube_escape(k->rv);
	char *path = ks_xasprintf("%s?watch=1&" SELECTOR
				  "&resourceVersion=%s&allowWatchBookmarks="
				  "true&timeoutSeconds=%d",
				  base, erv, WATCH_TIMEOUT_S);
	free(erv);
	free(base);
	char what[300];
	snprintf(what, sizeof(what), "watch \"%s:%s\"", k->api_version,
		 k->kind);
	struct xfer x;
	xfer_init(&x, k, true);
	int64_t began = ks_sync_now_ms();
	int t = transfer(k, path, &x, deadline_ms, err);
	int rc;
	if (t == T_STOPPED)
		rc = R_STOPPED;
	else if (x.over_cap) {
		/* an event over the size cap: resuming would meet it again */
		rc = R_BROKEN;
	} else if (x.outcome == EV_GONE || x.status == 410)
		rc = R_GONE;
	else if (x.outcome == EV_ERROR) {
		ks_error_set(err, KS_EENV, "%s: %s", what, x.message);
		rc = R_BROKEN;
	} else if (t == T_DEADLINE)
		rc = R_RESYNC;
	else if (x.status && x.status != 200)
		rc = answer_error(&x, what, err);
	else if (t == T_FAILED && !x.events)
		rc = KS_EENV;
	else if (!x.events && ks_sync_now_ms() - began < 1000)
		/* a server ending streams at once must not make us spin */
		rc = ks_error_set(err, KS_EENV, "%s: the stream ended at once",
				  what);
	else
		rc = R_ENDED;
	xfer_release(&x);
	free(path);
	return rc;
}

/* The kind is not served (or no longer): empty its cache, count it as
 * synced. */
static void drop_kind(struct kind *k)
{
	json_t *none = json_object();
	cache_replace(k, none);
	json_decref(none);
	k->have_res = false;
}

/* Records the kind's state for ks_watch_status: MSG NULL clears the
 * error. */
static void set_state(struct kind *k, bool unserved, const char *msg)
{
	pthread_mutex_lock(&k->w->mu);
	k->unserved = unserved;
	/* messages longer than the field are cut (ks_error's are 1 KiB) */
	size_t n = msg ? strnlen(msg, sizeof(k->error) - 1) : 0;
	memcpy(k->error, msg ? msg : "", n);
	k->error[n] = '\0';
	pthread_mutex_unlock(&k->w->mu);
}

static void *run(void *arg)
{
	struct kind *k = arg;
	ks_watch *w = k->w;
	unsigned attempt = 0;
	bool need_list = true;
	int64_t listed_at = 0;
	int64_t unserved_wait =
		w->resync_ms > 0 ? w->resync_ms : UNSERVED_RETRY_MS;
	while (!stopping(w)) {
		ks_error err;
		int rc;
		if (!k->have_res) {
			rc = resolve(k, &err);
			if (rc == R_STOPPED)
				break;
			if (rc == KS_ENOTFOUND) {
				set_state(k, true, err.msg);
				drop_kind(k);
				wait_ms(w, unserved_wait);
				continue;
			}
			if (rc) {
				set_state(k, false, err.msg);
				wait_ms(w, backoff(attempt++));
				continue;
			}
			k->have_res = true;
			need_list = true;
		}
		if (need_list) {
			rc = relist(k, &err);
			if (rc == R_STOPPED)
				break;
			if (rc == KS_ENOTFOUND) {
				set_state(k, true, err.msg);
				drop_kind(k);
				wait_ms(w, unserved_wait);
				continue;
			}
			if (rc) {
				set_state(k, false, err.msg);
				wait_ms(w, backoff(attempt++));
				continue;
			}
			set_state(k, false, NULL);
			need_list = false;
			listed_at = ks_sync_now_ms();
		}
		int64_t deadline =
			w->resync_ms > 0 ? listed_at + w->resync_ms : 0;
		if (deadline && ks_sync_now_ms() >= deadline) {
			need_list = true;
			continue;
		}
		rc = watch_once(k, deadline, &err);
		switch (rc) {
		case R_STOPPED:
			break;
		case R_RESYNC:
		case R_GONE:
			need_list = true;
			attempt = 0;
			break;
		case R_ENDED:
			attempt = 0;
			set_state(k, false, NULL);
			break;
		case KS_ENOTFOUND:
			k->have_res = false;
			break;
		case R_BROKEN:
			/* we may have missed events: LIST again after the
			 * pause */
			set_state(k, false, err.msg);
			need_list = true;
			wait_ms(w, backoff(attempt++));
			break;
		default:
			/* the server or the connection failed: resume from
			 * the last resourceVersion after the pause (a 410
			 * then says when that is too old) */
			set_state(k, false, err.msg);
			wait_ms(w, backoff(attempt++));
			break;
		}
	}
	return NULL;
}

/* ---- the interface ---- */

/* Parses KINDS into pairs (apiVersion, kind) appended to *OUT. */
static int parse_kinds(const json_t *kinds, json_t **out, ks_error *err)
{
	if (!json_is_array(kinds))
		return ks_error_set(err, KS_EINVAL,
				    "watch: kinds must be an array");
	json_t *pairs = json_array();
	size_t i;
	const json_t *e;
	json_array_foreach(kinds, i, e)
	{
		char *av = NULL, *kind = NULL;
		if (json_is_string(e)) {
			const char *s = json_string_value(e);
			const char *colon = strchr(s, ':');
			if (colon) {
				av = ks_xstrndup(s, (size_t)(colon - s));
				kind = ks_xstrdup(colon + 1);
			}
		} else if (json_is_object(e)) {
			const char *a = json_string_value(
				json_object_get(e, "apiVersion"));
			const char *kd =
				json_string_value(json_object_get(e, "kind"));
			if (a && kd) {
				av = ks_xstrdup(a);
				kind = ks_xstrdup(kd);
			}
		}
		if (!av || !*av || !*kind || strchr(kind, ':') ||
		    strchr(av, ' ')) {
			free(av);
			free(kind);
			json_decref(pairs);
			return ks_error_set(
				err, KS_EINVAL,
				"watch: kinds[%zu] is not "
				"\"apiVersion:Kind\" or {\"apiVersion\", "
				"\"kind\"}",
				i);
		}
		json_array_append_new(pairs, json_pack("[s,s]", av, kind));
		free(av);
		free(kind);
	}
	*out = pairs;
	return 0;
}

static void kind_free(struct kind *k)
{
	if (k->easy)
		curl_easy_cleanup(k->easy);
	if (k->multi)
		curl_multi_cleanup(k->multi);
	json_decref(k->objects);
	free(k->api_version);
	free(k->kind);
	free(k->prefix);
	free(k);
}

int ks_watch_add_kinds(ks_watch *w, const json_t *kinds, ks_error *err)
{
	json_t *pairs;
	int rc = parse_kinds(kinds, &pairs, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&w->mu);
	size_t i;
	json_t *p;
	json_array_foreach(pairs, i, p)
	{
		const char *av = json_string_value(json_array_get(p, 0));
		const char *kd = json_string_value(json_array_get(p, 1));
		bool have = false;
		for (size_t j = 0; j < w->nkinds && !have; j++)
			have = !strcmp(w->kinds[j]->api_version, av) &&
			       !strcmp(w->kinds[j]->kind, kd);
		if (have)
			continue;
		struct kind *k = ks_xcalloc(1, sizeof(*k));
		k->w = w;
		k->api_version = ks_xstrdup(av);
		k->kind = ks_xstrdup(kd);
		k->prefix = ks_xasprintf("%s:%s:", av, kd);
		k->objects = json_object();
		k->multi = curl_multi_init();
		k->easy = curl_easy_init();
		if (!k->multi || !k->easy)
			abort();
		if (pthread_create(&k->thread, NULL, run, k)) {
			kind_free(k);
			rc = ks_error_set(err, KS_ERROR,
					  "watch: cannot start a thread");
			break;
		}
		if (w->nkinds == w->akinds) {
			w->akinds = w->akinds ? 2 * w->akinds : 8;
			w->kinds = ks_xrealloc(w->kinds,
					       w->akinds * sizeof(*w->kinds));
		}
		w->kinds[w->nkinds++] = k;
	}
	pthread_mutex_unlock(&w->mu);
	json_decref(pairs);
	return rc;
}

int ks_watch_start(ks_watch **out, ks_kube_client *c, const json_t *kinds,
		   int64_t resync_ms, ks_watch_cb cb, void *ud, ks_error *err)
{
	*out = NULL;
	json_t *pairs;
	int rc = parse_kinds(kinds, &pairs, err);
	if (rc)
		return rc;
	json_decref(pairs);
	ks_watch *w = ks_xcalloc(1, sizeof(*w));
	w->c = c;
	w->resync_ms = resync_ms;
	w->cb = cb;
	w->ud = ud;
	atomic_init(&w->stopping, false);
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	w->by_app = json_object();
	rc = ks_watch_add_kinds(w, kinds, err);
	if (rc) {
		ks_watch_stop(w);
		return rc;
	}
	*out = w;
	return 0;
}

bool ks_watch_synced(ks_watch *w)
{
	pthread_mutex_lock(&w->mu);
	bool all = true;
	for (size_t i = 0; i < w->nkinds && all; i++)
		all = w->kinds[i]->synced;
	pthread_mutex_unlock(&w->mu);
	return all;
}

json_t *ks_watch_status(ks_watch *w)
{
	json_t *out = json_array();
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->nkinds; i++) {
		struct kind *k = w->kinds[i];
		char *kd = ks_xasprintf("%s:%s", k->api_version, k->kind);
		json_t *e =
			json_pack("{s:s, s:b, s:b, s:I}", "kind", kd, "synced",
				  k->synced, "served", !k->unserved, "objects",
				  (json_int_t)json_object_size(k->objects));
		free(kd);
		/* (a message cut short may end inside a UTF-8 sequence) */
		json_t *es = NULL;
		for (size_t n = strlen(k->error); n && !es; n--)
			es = json_stringn(k->error, n);
		json_object_set_new(e, "error", es ? es : json_null());
		json_array_append_new(out, e);
	}
	pthread_mutex_unlock(&w->mu);
	return out;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *ks_watch_objects(ks_watch *w, const char *app)
{
	json_t *out = json_array();
	/* the entries' texts are taken under the mutex, parsed after it */
	json_t *texts = NULL;
	pthread_mutex_lock(&w->mu);
	json_t *m = json_object_get(w->by_app, app);
	size_t n = json_object_size(m), i = 0;
	if (n) {
		const char **keys = ks_xcalloc(n, sizeof(*keys));
		const char *k;
		json_t *v;
		json_object_foreach(m, k, v)
		{
			keys[i++] = k;
		}
		qsort(keys, n, sizeof(*keys), key_cmp);
		texts = json_array();
		for (i = 0; i < n; i++)
			json_array_append(
				texts,
				json_object_get(json_object_get(m, keys[i]),
						"text"));
		free(keys);
	}
	pthread_mutex_unlock(&w->mu);
	json_t *t;
	json_array_foreach(texts, i, t)
	{
		json_t *o = json_loadb(json_string_value(t),
				       json_string_length(t), 0, NULL);
		if (json_is_object(o))
			json_array_append_new(out, o);
		else
			json_decref(o);
	}
	json_decref(texts);
	return out;
}

void ks_watch_stop(ks_watch *w)
{
	if (!w)
		return;
	atomic_store(&w->stopping, true);
	pthread_mutex_lock(&w->mu);
	pthread_cond_broadcast(&w->cv);
	size_t n = w->nkinds;
	pthread_mutex_unlock(&w->mu);
	for (size_t i = 0; i < n; i++)
		curl_multi_wakeup(w->kinds[i]->multi);
	for (size_t i = 0; i < n; i++) {
		pthread_join(w->kinds[i]->thread, NULL);
		kind_free(w->kinds[i]);
	}
	free(w->kinds);
	json_decref(w->by_app);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
