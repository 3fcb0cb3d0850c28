/*
 * The object store: objects per type keyed "namespace/name", a global
 * resourceVersion counter, an event log for watches that start from an old
 * resourceVersion, the watches themselves, and the state file.
 */
#include "devcluster/internal.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/selector.h"
#include "core/banned.h"

const char *dc_str(const json_t *v)
{
	const char *s = json_string_value(v);
	return s ? s : "";
}

const char *dc_jstr(const json_t *o, const char *k)
{
	return dc_str(json_object_get(o, k));
}

const char *dc_gv_string(const char *group, const char *version)
{
	static char buf[256];
	if (*group)
		snprintf(buf, sizeof(buf), "%s/%s", group, version);
	else
		snprintf(buf, sizeof(buf), "%s", version);
	return buf;
}

char *dc_key(const char *ns, const char *name)
{
	return ks_xasprintf("%s/%s", ns ? ns : "", name);
}

json_t *dc_get(dc_type *t, const char *ns, const char *name)
{
	char *k = dc_key(t->namespaced ? ns : "", name);
	json_t *o = json_object_get(t->objects, k);
	free(k);
	return o;
}

json_t *dc_meta(json_t *obj)
{
	json_t *m = json_object_get(obj, "metadata");
	if (!json_is_object(m)) {
		m = json_object();
		json_object_set_new(obj, "metadata", m);
	}
	return m;
}

const char *dc_meta_str(const json_t *obj, const char *field)
{
	return dc_jstr(json_object_get(obj, "metadata"), field);
}

void dc_now(char out[32])
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void dc_now_micro(char out[40])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char base[24];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 40, "%.20s.%06ldZ", base,
		 (long)(ts.tv_nsec / 1000) % 1000000);
}

void dc_new_uid(ks_devcluster *dc, char out[40])
{
	(void)dc;
	unsigned char b[16];
	if (RAND_bytes(b, sizeof(b)) != 1) {
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)rand();
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 40,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x"
		 "%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}

static const char *const meta_order[] = {
	"name",
	"generateName",
	"namespace",
	"selfLink",
	"uid",
	"resourceVersion",
	"generation",
	"creationTimestamp",
	"deletionTimestamp",
	"deletionGracePeriodSeconds",
	"labels",
	"annotations",
	"ownerReferences",
	"finalizers",
	"managedFields",
};

static json_t *ordered_meta(json_t *m)
{
	json_t *out = json_object();
	size_t n = sizeof(meta_order) / sizeof(meta_order[0]);
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(m, meta_order[i]);
		if (v)
			json_object_set(out, meta_order[i], v);
	}
	const char *k;
	json_t *v;
	json_object_foreach(m, k, v)
	{
		if (!json_object_get(out, k))
			json_object_set(out, k, v);
	}
	return out;
}

json_t *dc_ordered(const json_t *obj)
{
	json_t *out = json_object();
	json_t *o = (json_t *)obj;
	static const char *const first[] = {"kind", "apiVersion"};
	for (size_t i = 0; i < 2; i++) {
		json_t *v = json_object_get(o, first[i]);
		if (v)
			json_object_set(out, first[i], v);
	}
	json_t *m = json_object_get(o, "metadata");
	if (json_is_object(m))
		json_object_set_new(out, "metadata", ordered_meta(m));
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		if (!strcmp(k, "status") || json_object_get(out, k))
			continue;
		json_object_set(out, k, v);
	}
	v = json_object_get(o, "status");
	if (v)
		json_object_set(out, "status", v);
	return out;
}

json_t *dc_list_item(const json_t *obj)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v)
	{
		if (strcmp(k, "kind") && strcmp(k, "apiVersion"))
			json_object_set(out, k, v);
	}
	return out;
}

/* ---- watches ---- */

struct dc_watch {
	dc_watch *next, *prev;
	ks_devcluster *dc;
	dc_type *t;
	char *ns;
	ks_selector *lsel;
	ks_field_selector *fsel;
	ks_http_exchange *ex;
	uv_timer_t timer;
	bool bookmarks;
	bool table; /* events carry meta.k8s.io Tables */
	bool ended;
};

static void watch_unlink(dc_watch *w)
{
	ks_devcluster *dc = w->dc;
	if (w->prev)
		w->prev->next = w->next;
	else if (dc->watches == w)
		dc->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->next = w->prev = NULL;
}

static void watch_timer_closed(uv_handle_t *h)
{
	dc_watch *w = h->data;
	ks_selector_free(w->lsel);
	ks_field_selector_free(w->fsel);
	free(w->ns);
	free(w);
}

/* Ends the stream (if the client is still there) and frees the watch. */
static void watch_end(dc_watch *w, bool bookmark)
{
	if (w->ended)
		return;
	w->ended = true;
	watch_unlink(w);
	if (bookmark && w->bookmarks && ks_http_alive(w->ex)) {
		char *line = ks_xasprintf(
			"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\","
			"\"apiVersion\":\"%s\",\"metadata\":{"
			"\"resourceVersion\":\"%llu\",\"creationTimestamp\":"
			"null}}}\n",
			w->t->kind, w->t->api_version,
			(unsigned long long)w->dc->rv);
		ks_http_stream_write(w->ex, line, strlen(line));
		free(line);
	}
	ks_http_stream_end(w->ex);
	w->ex = NULL;
	uv_close((uv_handle_t *)&w->timer, watch_timer_closed);
}

static void watch_client_closed(void *ud)
{
	watch_end(ud, false);
}

static void watch_timeout(uv_timer_t *t)
{
	watch_end(t->data, true);
}

static bool watch_matches(const dc_watch *w, const json_t *obj)
{
	if (w->ns && strcmp(w->ns, dc_meta_str(obj, "namespace")))
		return false;
	if (w->lsel &&
	    !ks_selector_matches(
		    w->lsel, json_object_get(json_object_get(obj, "metadata"),
					     "labels")))
		return false;
	if (w->fsel && !ks_field_selector_matches(w->fsel, obj))
		return false;
	return true;
}

static void watch_send(dc_watch *w, const char *type, const json_t *obj)
{
	json_t *ev;
	if (w->table) {
		json_t *one = json_pack("[O]", obj);
		json_t *tbl = dc_table(
			w->t, one,
			json_pack("{s:s}", "resourceVersion",
				  dc_meta_str(obj, "resourceVersion")));
		json_decref(one);
		ev = json_pack("{s:s, s:o}", "type", type, "object", tbl);
	} else {
		ev = json_pack("{s:s, s:O}", "type", type, "object", obj);
	}
	char *s = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	size_t n = strlen(s);
	s = ks_xrealloc(s, n + 2);
	s[n] = '\n';
	s[n + 1] = '\0';
	int rc = ks_http_stream_write(w->ex, s, n + 1);
	free(s);
	if (rc)
		watch_end(w, false);
}

static void watch_event(dc_watch *w, const dc_event *e)
{
	/* a watch ended while this event was being broadcast (ending one
	 * can run a request queued behind it on the same connection) */
	if (w->ended || w->t != e->t)
		return;
	bool now = watch_matches(w, e->obj);
	if (e->type == DC_ADDED) {
		if (now)
			watch_send(w, "ADDED", e->obj);
	} else if (e->type == DC_DELETED) {
		if (now)
			watch_send(w, "DELETED", e->obj);
	} else {
		bool before = e->old && watch_matches(w, e->old);
		if (now && before)
			watch_send(w, "MODIFIED", e->obj);
		else if (now)
			watch_send(w, "ADDED", e->obj);
		else if (before)
			watch_send(w, "DELETED", e->obj);
	}
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void dc_watch_start(ks_devcluster *dc, dc_type *t, const char *ns,
		    const ks_http_request *r, ks_http_exchange *ex,
		    uint64_t from_rv, bool send_initial, void *lsel, void *fsel,
		    long timeout_s, bool bookmarks)
{
	dc_watch *w = ks_xcalloc(1, sizeof(*w));
	w->table = dc_wants_table(r);
	w->dc = dc;
	w->t = t;
	w->ns = ns ? ks_xstrdup(ns) : NULL;
	w->lsel = lsel;
	w->fsel = fsel;
	w->ex = ex;
	w->bookmarks = bookmarks;
	uv_timer_init(dc->loop, &w->timer);
	w->timer.data = w;
	ks_http_header h = {"Content-Type", "application/json"};
	ks_http_stream_begin(ex, 200, &h, 1);
	ks_http_on_close(ex, watch_client_closed, w);
	w->next = dc->watches;
	if (dc->watches)
		dc->watches->prev = w;
	dc->watches = w;

	if (!send_initial && from_rv + 1 < dc->log_oldest_rv) {
		const char *gone =
			"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
			"\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
			"\"Failure\",\"message\":\"The resourceVersion for the "
			"provided watch is too old.\",\"reason\":\"Expired\","
			"\"code\":410}}\n";
		ks_http_stream_write(ex, gone, strlen(gone));
		watch_end(w, false);
		return;
	}
	if (send_initial) {
		size_t n = json_object_size(t->objects), i = 0;
		const char **keys = ks_xcalloc(n ? n : 1, sizeof(*keys));
		const char *k;
		json_t *v;
		json_object_foreach(t->objects, k, v)
		{
			keys[i++] = k;
		}
		qsort(keys, n, sizeof(*keys), key_cmp);
		for (i = 0; i < n && !w->ended; i++) {
			json_t *o = json_object_get(t->objects, keys[i]);
			if (watch_matches(w, o))
				watch_send(w, "ADDED", o);
		}
		free(keys);
	} else {
		for (size_t i = 0; i < dc->log_len && !w->ended; i++) {
			dc_event *e =
				&dc->log[(dc->log_start + i) % DC_EVENT_LOG];
			if (e->rv > from_rv)
				watch_event(w, e);
		}
	}
	if (!w->ended && timeout_s > 0)
		uv_timer_start(&w->timer, watch_timeout,
			       (uint64_t)timeout_s * 1000, 0);
}

void dc_watches_stop_all(ks_devcluster *dc)
{
	while (dc->watches)
		watch_end(dc->watches, false);
}

void dc_watches_drop_type(ks_devcluster *dc, dc_type *t)
{
	/* the type is going away: its logged events must not match a type
	 * allocated later at the same address */
	for (size_t i = 0; i < dc->log_len; i++) {
		dc_event *e = &dc->log[(dc->log_start + i) % DC_EVENT_LOG];
		if (e->t == t)
			e->t = NULL;
	}
	dc_watch *w = dc->watches;
	while (w) {
		dc_watch *next = w->next;
		if (w->t == t)
			watch_end(w, false);
		w = next;
	}
}

/* ---- writes ---- */

static void log_event(ks_devcluster *dc, enum dc_event_type type, dc_type *t,
		      json_t *obj, json_t *old)
{
	dc_event *e;
	if (dc->log_len == DC_EVENT_LOG) {
		e = &dc->log[dc->log_start];
		json_decref(e->obj);
		json_decref(e->old);
		dc->log_start = (dc->log_start + 1) % DC_EVENT_LOG;
		dc->log_len--;
		dc->log_oldest_rv = dc->log[dc->log_start].rv;
	}
	e = &dc->log[(dc->log_start + dc->log_len) % DC_EVENT_LOG];
	dc->log_len++;
	e->rv = dc->rv;
	e->type = type;
	e->t = t;
	e->obj = json_incref(obj);
	e->old = old ? json_incref(old) : NULL;
	if (dc->log_len == 1 && dc->log_oldest_rv == 0)
		dc->log_oldest_rv = e->rv;
	dc_watch *w = dc->watches;
	while (w) {
		dc_watch *next = w->next;
		watch_event(w, e);
		w = next;
	}
}

static void set_rv(ks_devcluster *dc, json_t *obj)
{
	char rv[32];
	snprintf(rv, sizeof(rv), "%llu", (unsigned long long)++dc->rv);
	json_t *m = dc_meta(obj);
	bool had = json_object_get(m, "resourceVersion") != NULL;
	json_object_set_new(m, "resourceVersion", json_string(rv));
	if (!had)
		json_object_set_new(obj, "metadata", ordered_meta(m));
}

void dc_put(ks_devcluster *dc, dc_type *t, json_t *obj, json_t *old)
{
	set_rv(dc, obj);
	const char *ns = t->namespaced ? dc_meta_str(obj, "namespace") : "";
	char *k = dc_key(ns, dc_meta_str(obj, "name"));
	json_t *prev = old ? json_incref(old) : NULL;
	json_object_set(t->objects, k, obj);
	free(k);
	log_event(dc, prev ? DC_MODIFIED : DC_ADDED, t, obj, prev);
	json_decref(prev);
	if (!strcmp(t->resource, "customresourcedefinitions"))
		dc_types_crd_changed(dc, obj, false);
	dc_controllers_notify(dc, t, obj, false);
	json_decref(obj);
	dc_schedule_save(dc);
}

void dc_remove(ks_devcluster *dc, dc_type *t, const char *ns, const char *name)
{
	char *k = dc_key(t->namespaced ? ns : "", name);
	json_t *cur = json_object_get(t->objects, k);
	if (!cur) {
		free(k);
		return;
	}
	json_t *last = json_deep_copy(cur);
	json_object_del(t->objects, k);
	free(k);
	set_rv(dc, last);
	log_event(dc, DC_DELETED, t, last, NULL);
	bool crd = !strcmp(t->resource, "customresourcedefinitions");
	dc_controllers_notify(dc, t, last, true);
	if (crd)
		dc_types_crd_changed(dc, last, true);
	json_decref(last);
	dc_schedule_save(dc);
}

/* ---- the state file ---- */

int dc_state_save(ks_devcluster *dc, ks_error *err)
{
	if (!dc->state_file)
		return 0;
	json_t *objs = json_array();
	/* CRDs first so that loading registers their types before their
	 * objects */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < dc->ntypes; i++) {
			dc_type *t = dc->types[i];
			bool crd = !strcmp(t->resource,
					   "customresourcedefinitions");
			if (crd != (pass == 0))
				continue;
			const char *k;
			json_t *v;
			json_object_foreach(t->objects, k, v)
			{
				json_array_append(objs, v);
			}
		}
	}
	json_t *root = json_pack("{s:I, s:o}", "resourceVersion",
				 (json_int_t)dc->rv, "objects", objs);
	char *tmp = ks_xasprintf("%s.tmp.%ld", dc->state_file, (long)getpid());
	int rc = json_dump_file(root, tmp, JSON_COMPACT);
	json_decref(root);
	if (rc == 0 && rename(tmp, dc->state_file) != 0)
		rc = -1;
	if (rc != 0) {
		unlink(tmp);
		free(tmp);
		return ks_error_set(err, KS_EIO, "cannot write \"%s\": %s",
				    dc->state_file, strerror(errno));
	}
	free(tmp);
	return 0;
}

static void on_save_timer(uv_timer_t *t)
{
	ks_devcluster *dc = t->data;
	dc->save_pending = false;
	ks_error err;
	if (dc_state_save(dc, &err))
		fprintf(stderr, "devcluster: %s\n", err.msg);
}

void dc_schedule_save(ks_devcluster *dc)
{
	if (!dc->state_file || dc->save_pending || dc->stopping)
		return;
	dc->save_pending = true;
	uv_timer_start(&dc->save_timer, on_save_timer, 200, 0);
}

int dc_state_load(ks_devcluster *dc, ks_error *err)
{
	if (!dc->state_file)
		return 0;
	struct stat st;
	if (stat(dc->state_file, &st) != 0)
		return 0;
	json_error_t je;
	json_t *root = json_load_file(dc->state_file, 0, &je);
	if (!json_is_object(root)) {
		json_decref(root);
		return ks_error_set(err, KS_EINVAL, "%s:%d:%d: %s",
				    dc->state_file, je.line, je.column,
				    je.text);
	}
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(root, "objects"), i, o)
	{
		dc_type *t = dc_type_by_kind(dc, dc_jstr(o, "apiVersion"),
					     dc_jstr(o, "kind"));
		if (!t)
			continue;
		const char *ns =
			t->namespaced ? dc_meta_str(o, "namespace") : "";
		char *k = dc_key(ns, dc_meta_str(o, "name"));
		json_object_set(t->objects, k, o);
		free(k);
		if (!strcmp(t->resource, "customresourcedefinitions"))
			dc_types_crd_changed(dc, o, false);
	}
	json_int_t rv =
		json_integer_value(json_object_get(root, "resourceVersion"));
	dc->rv = rv > 0 ? (uint64_t)rv : 0;
	dc->log_oldest_rv = dc->rv + 1;
	json_decref(root);
	return 0;
}
