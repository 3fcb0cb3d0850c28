/*
 * The REST API: routing, the verbs, Status error bodies, and the write path
 * every change (client or simulated controller) goes through.
 */
#include "devcluster/internal.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/fieldset.h"
#include "core/mem.h"
#include "core/patch.h"
#include "core/selector.h"
#include "core/yaml.h"
#include "core/banned.h"

typedef struct rq {
	ks_devcluster *dc;
	const ks_http_request *r;
	ks_http_exchange *ex;
	dc_type *t;
	char *ns;   /* from the URL; NULL when none */
	char *name; /* NULL for a collection */
	char *sub;  /* "status", "scale" or NULL */
	bool dry_run;
	char *warning;	/* a Warning header for the answer */
	bool no_faults; /* a delayed request already went through faults */
} rq;

/* ---- responses ---- */

static bool wants_yaml(const ks_http_request *r)
{
	const char *a = r ? ks_http_request_header(r, "Accept") : NULL;
	return a && strstr(a, "application/yaml") &&
	       !strstr(a, "application/json");
}

/* Sends BODY (stolen) as JSON, or YAML when asked for, with an optional
 * Warning header. */
static void send_body(ks_http_exchange *ex, const ks_http_request *r, int code,
		      json_t *body, const char *warning)
{
	ks_http_header h[3] = {{"Content-Type", "application/json"},
			       {"Cache-Control", "no-cache, private"},
			       {"Warning", warning}};
	size_t nh = warning ? 3 : 2;
	if (wants_yaml(r)) {
		ks_buf b;
		ks_buf_init(&b, 0);
		if (ks_yaml_emit(&b, body) == 0) {
			json_decref(body);
			h[0].value = "application/yaml";
			ks_http_respond(ex, code, h, nh, b.data, b.len);
			ks_buf_release(&b);
			return;
		}
		ks_buf_release(&b);
	}
	char *s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	size_t n = strlen(s);
	s = ks_xrealloc(s, n + 2);
	s[n++] = '\n';
	s[n] = '\0';
	ks_http_respond(ex, code, h, nh, s, n);
	free(s);
}

void dc_send_json(ks_http_exchange *ex, const ks_http_request *r, int code,
		  json_t *body)
{
	send_body(ex, r, code, body, NULL);
}

void dc_send_status(ks_http_exchange *ex, const ks_http_request *r, int code,
		    const char *reason, const char *msg, json_t *details)
{
	json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s}", "kind",
			       "Status", "apiVersion", "v1", "metadata",
			       "status", code < 400 ? "Success" : "Failure",
			       "message", msg, "reason", reason);
	if (details)
		json_object_set_new(st, "details", details);
	json_object_set_new(st, "code", json_integer(code));
	dc_send_json(ex, r, code, st);
}

static void send_text(ks_http_exchange *ex, int code, const char *text)
{
	ks_http_header h = {"Content-Type", "text/plain; charset=utf-8"};
	ks_http_respond(ex, code, &h, 1, text, strlen(text));
}

static void not_found_page(ks_http_exchange *ex)
{
	send_text(ex, 404, "404 page not found\n");
}

static json_t *res_details(const dc_type *t, const char *name)
{
	json_t *d = json_pack("{s:s}", "name", name ? name : "");
	if (*t->group)
		json_object_set_new(d, "group", json_string(t->group));
	json_object_set_new(d, "kind", json_string(t->resource));
	return d;
}

static void err_not_found(rq *q, const char *name)
{
	char *qual = dc_type_qualified(q->t);
	char *msg = ks_xasprintf("%s \"%s\" not found", qual, name);
	dc_send_status(q->ex, q->r, 404, "NotFound", msg,
		       res_details(q->t, name));
	free(msg);
	free(qual);
}

static void err_bad_request(rq *q, const char *msg)
{
	dc_send_status(q->ex, q->r, 400, "BadRequest", msg, NULL);
}

static void err_conflict(rq *q, const char *name)
{
	char *qual = dc_type_qualified(q->t);
	char *msg = ks_xasprintf(
		"Operation cannot be fulfilled on %s \"%s\": the object has "
		"been modified; please apply your changes to the latest "
		"version and try again",
		qual, name);
	dc_send_status(q->ex, q->r, 409, "Conflict", msg,
		       res_details(q->t, name));
	free(msg);
	free(qual);
}

/* 422 Invalid for one field. */
static void err_invalid(rq *q, const char *name, const char *field,
			const char *cause_reason, const char *cause_msg)
{
	char *kind = *q->t->group
			     ? ks_xasprintf("%s.%s", q->t->kind, q->t->group)
			     : ks_xstrdup(q->t->kind);
	char *msg = ks_xasprintf("%s \"%s\" is invalid: %s: %s", kind, name,
				 field, cause_msg);
	json_t *d = json_pack("{s:s}", "name", name);
	if (*q->t->group)
		json_object_set_new(d, "group", json_string(q->t->group));
	json_object_set_new(d, "kind", json_string(q->t->kind));
	json_object_set_new(d, "causes",
			    json_pack("[{s:s, s:s, s:s}]", "reason",
				      cause_reason, "message", cause_msg,
				      "field", field));
	dc_send_status(q->ex, q->r, 422, "Invalid", msg, d);
	free(msg);
	free(kind);
}

/* ---- small helpers ---- */

static char *query(const rq *q, const char *name)
{
	return ks_http_query_get(q->r->query, name);
}

static bool query_true(const rq *q, const char *name)
{
	char *v = query(q, name);
	bool t = v && (!strcmp(v, "true") || !strcmp(v, "1"));
	free(v);
	return t;
}

/* The field manager: the fieldManager parameter, else the User-Agent's
 * program name, as the API server derives it. */
static char *field_manager(const rq *q)
{
	char *fm = query(q, "fieldManager");
	if (fm && *fm)
		return fm;
	free(fm);
	const char *ua = ks_http_request_header(q->r, "User-Agent");
	if (!ua || !*ua)
		return ks_xstrdup("unknown");
	size_t n = strcspn(ua, "/ ");
	return ks_xstrndup(ua, n ? n : strlen(ua));
}

/* A YAML body (application/yaml, apply-patch+yaml); NULL with MSG set when
 * it does not parse. */
static json_t *decode_yaml(rq *q, char **msg)
{
	ks_errlist *errs = ks_errlist_new();
	ks_doc *doc = NULL;
	json_t *v = NULL;
	if (ks_yaml_parse(&doc, q->r->body, q->r->body_len, "body",
			  KS_YAML_SINGLE, errs) == 0 &&
	    ks_doc_root(doc))
		v = json_incref(ks_doc_root(doc));
	else if (ks_errlist_count(errs))
		*msg = ks_xasprintf("error converting YAML to JSON: %s",
				    ks_errlist_get(errs, 0));
	else
		*msg = ks_xstrdup("the request body is empty");
	ks_doc_free(doc);
	ks_errlist_free(errs);
	return v;
}

static json_t *decode_body(rq *q)
{
	json_error_t je;
	json_t *v = json_loadb(q->r->body, q->r->body_len, 0, &je);
	const char *ct = ks_http_request_header(q->r, "Content-Type");
	if (!v && ct && strstr(ct, "yaml")) {
		char *msg = NULL;
		v = decode_yaml(q, &msg);
		if (!v) {
			err_bad_request(q, msg);
			free(msg);
			return NULL;
		}
	}
	if (!v) {
		char *msg = ks_xasprintf("couldn't get version/kind; json "
					 "parse error: %s",
					 je.text);
		err_bad_request(q, msg);
		free(msg);
		return NULL;
	}
	return v;
}

static const char *rv_of(const json_t *obj)
{
	return dc_meta_str(obj, "resourceVersion");
}

/* A copy for comparing writes: without resourceVersion and the times in
 * managedFields. */
static json_t *comparable(const json_t *obj)
{
	json_t *c = json_deep_copy(obj);
	json_t *m = json_object_get(c, "metadata");
	json_object_del(m, "resourceVersion");
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(m, "managedFields"), i, e)
	{
		json_object_del(e, "time");
	}
	return c;
}

static bool spec_changed(const json_t *a, const json_t *b)
{
	json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
	json_object_del(x, "metadata");
	json_object_del(y, "metadata");
	json_object_del(x, "status");
	json_object_del(y, "status");
	bool changed = !ks_json_equal(x, y);
	json_decref(x);
	json_decref(y);
	return changed;
}

static bool has_finalizers(const json_t *obj)
{
	return json_array_size(json_object_get(json_object_get(obj, "metadata"),
					       "finalizers")) > 0;
}

/* ---- the write path ---- */

/*
 * Stores OBJ (stolen) as the new state of an object whose stored state is
 * OLD (NULL: create). Fills in server metadata, scopes status writes,
 * applies defaults, bumps generation on spec changes, records managedFields
 * (unless MANAGED_DONE), skips no-op writes, honours dry run, and deletes an
 * object that is terminating and has no finalizers left. Returns the object
 * as stored (new reference).
 */
static json_t *write_object_ex(ks_devcluster *dc, dc_type *t, const char *sub,
			       const json_t *old, json_t *obj,
			       const char *manager, bool managed_done,
			       bool dry_run, bool deleting)
{
	bool status_write = sub && !strcmp(sub, "status");
	if (old && status_write) {
		json_t *n = json_deep_copy(old);
		json_t *st = json_object_get(obj, "status");
		if (st)
			json_object_set(n, "status", st);
		else
			json_object_del(n, "status");
		if (managed_done)
			json_object_set(
				dc_meta(n), "managedFields",
				json_object_get(dc_meta(obj), "managedFields"));
		json_decref(obj);
		obj = n;
	}
	json_object_set_new(obj, "kind", json_string(t->kind));
	json_object_set_new(obj, "apiVersion", json_string(t->api_version));
	json_t *m = dc_meta(obj);
	static const char *const server_set[] = {"uid",
						 "creationTimestamp",
						 "generation",
						 "deletionTimestamp",
						 "deletionGracePeriodSeconds",
						 "selfLink"};
	for (size_t i = 0; i < 6; i++) {
		if (deleting && i >= 3 && i <= 4)
			continue; /* the delete sets them */
		json_t *ov =
			old ? json_object_get(json_object_get(old, "metadata"),
					      server_set[i])
			    : NULL;
		if (ov)
			json_object_set(m, server_set[i], ov);
		else
			json_object_del(m, server_set[i]);
	}
	if (!old) {
		char uid[40], now[32];
		dc_new_uid(dc, uid);
		dc_now(now);
		json_object_set_new(m, "uid", json_string(uid));
		json_object_set_new(m, "creationTimestamp", json_string(now));
		if (t->generation)
			json_object_set_new(m, "generation", json_integer(1));
		dc_initial_status(t, obj);
	} else if (t->status_sub && !status_write && !deleting) {
		json_t *st = json_object_get(old, "status");
		if (st)
			json_object_set(obj, "status", st);
		else
			json_object_del(obj, "status");
	}
	dc_apply_defaults(dc, t, obj);
	if (old && t->generation && spec_changed(old, obj)) {
		json_int_t g = json_integer_value(json_object_get(
			json_object_get(old, "metadata"), "generation"));
		json_object_set_new(m, "generation", json_integer(g + 1));
	}
	if (!managed_done && manager) {
		ks_ssa_opts o = {.manager = manager,
				 .api_version = t->api_version,
				 .subresource = status_write ? "status" : NULL,
				 .status_subresource = t->status_sub};
		json_t *mf = NULL;
		ks_error err;
		if (ks_fieldset_update_managed(&mf, old, obj, &o, &err) == 0) {
			if (json_array_size(mf))
				json_object_set_new(m, "managedFields", mf);
			else {
				json_decref(mf);
				json_object_del(m, "managedFields");
			}
		} else if (old) {
			json_t *omf = json_object_get(
				json_object_get(old, "metadata"),
				"managedFields");
			if (omf)
				json_object_set(m, "managedFields", omf);
		}
	}
	json_t *out = dc_ordered(obj);
	json_decref(obj);
	if (old) {
		json_t *a = comparable(old), *b = comparable(out);
		bool same = ks_json_equal(a, b);
		json_decref(a);
		json_decref(b);
		if (same) {
			json_decref(out);
			return json_incref((json_t *)old);
		}
	} else {
		json_object_del(json_object_get(out, "metadata"),
				"resourceVersion");
	}
	if (dry_run)
		return out;
	bool is_ns = !*t->group && !strcmp(t->resource, "namespaces");
	if (old && !is_ns &&
	    json_object_get(json_object_get(out, "metadata"),
			    "deletionTimestamp") &&
	    !has_finalizers(out)) {
		dc_remove(dc, t, dc_meta_str(out, "namespace"),
			  dc_meta_str(out, "name"));
		return out;
	}
	dc_put(dc, t, json_incref(out), (json_t *)old);
	return out;
}

static json_t *write_object(ks_devcluster *dc, dc_type *t, const char *sub,
			    const json_t *old, json_t *obj, const char *manager,
			    bool managed_done, bool dry_run)
{
	return write_object_ex(dc, t, sub, old, obj, manager, managed_done,
			       dry_run, false);
}

json_t *dc_controller_write(ks_devcluster *dc, dc_type *t, json_t *obj,
			    const char *manager, bool status)
{
	const json_t *old = dc_get(t, dc_meta_str(obj, "namespace"),
				   dc_meta_str(obj, "name"));
	json_t *out = write_object(dc, t, status ? "status" : NULL, old, obj,
				   manager, false, false);
	json_decref(out);
	return dc_get(t, dc_meta_str(out, "namespace"),
		      dc_meta_str(out, "name"));
}

/* ---- delete ---- */

/*
 * Deletes OLD: marks it terminating when it has finalizers or the policy is
 * Foreground (the garbage collector finishes), else removes it. *GONE says
 * which. Returns the object as last stored or as it now is (new ref).
 */
static json_t *delete_object(ks_devcluster *dc, dc_type *t, const json_t *old,
			     const char *policy, bool dry_run, bool *gone)
{
	bool foreground = policy && !strcmp(policy, "Foreground");
	bool is_ns = !*t->group && !strcmp(t->resource, "namespaces");
	if (has_finalizers(old) || foreground || is_ns) {
		*gone = false;
		json_t *n = json_deep_copy(old);
		json_t *m = dc_meta(n);
		if (!json_object_get(m, "deletionTimestamp")) {
			char now[32];
			dc_now(now);
			json_object_set_new(m, "deletionTimestamp",
					    json_string(now));
			json_object_set_new(m, "deletionGracePeriodSeconds",
					    json_integer(0));
		}
		if (foreground) {
			json_t *f = json_object_get(m, "finalizers");
			if (!json_is_array(f)) {
				f = json_array();
				json_object_set_new(m, "finalizers", f);
			}
			bool have = false;
			size_t i;
			json_t *e;
			json_array_foreach(f, i, e)
			{
				if (!strcmp(dc_str(e), "foregroundDeletion"))
					have = true;
			}
			if (!have)
				json_array_append_new(
					f, json_string("foregroundDeletion"));
		}
		if (is_ns)
			json_object_set_new(
				n, "status",
				json_pack("{s:s}", "phase", "Terminating"));
		if (dry_run)
			return n;
		json_t *cur = json_incref((json_t *)old);
		json_t *stored = write_object_ex(dc, t, NULL, cur, n, NULL,
						 true, false, true);
		json_decref(cur);
		return stored;
	}
	*gone = true;
	json_t *last = json_incref((json_t *)old);
	/* Background and Orphan differ only in what happened to the
	 * dependents before (see dc_orphan_dependents) */
	if (!dry_run)
		dc_remove(dc, t, dc_meta_str(old, "namespace"),
			  dc_meta_str(old, "name"));
	return last;
}

void dc_controller_delete(ks_devcluster *dc, dc_type *t, const char *ns,
			  const char *name)
{
	json_t *old = dc_get(t, ns, name);
	if (!old)
		return;
	json_incref(old);
	bool gone;
	json_t *r = delete_object(dc, t, old, "Background", false, &gone);
	json_decref(r);
	json_decref(old);
}

/* ---- verbs ---- */

/* A resourceVersion newer than any the server has written: the real
 * server waits for it, then gives up with 504 (here at once). */
static bool rv_too_large(rq *q)
{
	char *rv = query(q, "resourceVersion");
	char *end = NULL;
	unsigned long long v = rv ? strtoull(rv, &end, 10) : 0;
	bool large = rv && *rv && end && !*end && v > q->dc->rv;
	if (large) {
		char *msg = ks_xasprintf("Too large resource version: %llu, "
					 "current: %llu",
					 v, (unsigned long long)q->dc->rv);
		json_t *d = json_pack("{s:[{s:s, s:s}], s:i}", "causes",
				      "reason", "ResourceVersionTooLarge",
				      "message", "Too large resource version",
				      "retryAfterSeconds", 1);
		dc_send_status(q->ex, q->r, 504, "Timeout", msg, d);
		free(msg);
	}
	free(rv);
	return large;
}

static void do_get(rq *q)
{
	if (rv_too_large(q))
		return;
	json_t *obj = dc_get(q->t, q->ns, q->name);
	if (!obj) {
		err_not_found(q, q->name);
		return;
	}
	if (q->sub && !strcmp(q->sub, "scale")) {
		json_t *spec = json_object_get(obj, "spec");
		json_t *st = json_object_get(obj, "status");
		ks_selector *sel = NULL;
		ks_error err;
		char *sels = NULL;
		json_t *ls = json_object_get(spec, "selector");
		if (json_is_object(ls) &&
		    ks_selector_from_label_selector(&sel, ls, &err) == 0)
			sels = ks_selector_string(sel);
		ks_selector_free(sel);
		json_t *scale = json_pack(
			"{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}, s:{s:I}, "
			"s:{s:I, s:s}}",
			"kind", "Scale", "apiVersion", "autoscaling/v1",
			"metadata", "name", q->name, "namespace",
			dc_meta_str(obj, "namespace"), "uid",
			dc_meta_str(obj, "uid"), "resourceVersion", rv_of(obj),
			"creationTimestamp",
			dc_meta_str(obj, "creationTimestamp"), "spec",
			"replicas",
			json_integer_value(json_object_get(spec, "replicas")),
			"status", "replicas",
			json_integer_value(json_object_get(st, "replicas")),
			"selector", sels ? sels : "");
		free(sels);
		dc_send_json(q->ex, q->r, 200, scale);
		return;
	}
	if (dc_wants_table(q->r)) {
		json_t *one = json_pack("[O]", obj);
		dc_send_json(q->ex, q->r, 200, dc_table(q->t, one, NULL));
		json_decref(one);
		return;
	}
	dc_send_json(q->ex, q->r, 200, json_incref(obj));
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const char *s, size_t n)
{
	char *out = ks_xmalloc(4 * (n / 3 + 1) + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned x = (unsigned)(unsigned char)s[i] << 16;
		if (i + 1 < n)
			x |= (unsigned)(unsigned char)s[i + 1] << 8;
		if (i + 2 < n)
			x |= (unsigned char)s[i + 2];
		out[o++] = b64chars[(x >> 18) & 63];
		out[o++] = b64chars[(x >> 12) & 63];
		out[o++] = i + 1 < n ? b64chars[(x >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64chars[x & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static char *b64_decode(const char *s, size_t *len)
{
	size_t n = strlen(s);
	char *out = ks_xmalloc(n + 1);
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=')
			break;
		const char *p = strchr(b64chars, s[i]);
		if (!p || !s[i]) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned)(p - b64chars);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	*len = o;
	return out;
}

/* Parses the selectors of a list or watch; sends 400 on error. */
static int parse_selectors(rq *q, ks_selector **ls, ks_field_selector **fs)
{
	*ls = NULL;
	*fs = NULL;
	ks_error err;
	char *l = query(q, "labelSelector");
	char *f = query(q, "fieldSelector");
	int rc = 0;
	if (l && *l && ks_selector_parse(ls, l, &err)) {
		err_bad_request(q, err.msg);
		rc = -1;
	} else if (f && *f && ks_field_selector_parse(fs, f, &err)) {
		ks_selector_free(*ls);
		*ls = NULL;
		err_bad_request(q, err.msg);
		rc = -1;
	}
	free(l);
	free(f);
	return rc;
}

static bool selected(const json_t *o, const ks_selector *ls,
		     const ks_field_selector *fs)
{
	if (ls && !ks_selector_matches(
			  ls, json_object_get(json_object_get(o, "metadata"),
					      "labels")))
		return false;
	return !fs || ks_field_selector_matches(fs, o);
}

/* The sorted keys of T's objects in namespace NS (NULL: all). */
static const char **sorted_keys(dc_type *t, const char *ns, size_t *count)
{
	size_t n = json_object_size(t->objects), i = 0;
	const char **keys = ks_xcalloc(n ? n : 1, sizeof(*keys));
	size_t nsl = ns ? strlen(ns) : 0;
	const char *k;
	json_t *v;
	json_object_foreach(t->objects, k, v)
	{
		if (ns && (strncmp(k, ns, nsl) || k[nsl] != '/'))
			continue;
		keys[i++] = k;
	}
	qsort(keys, i, sizeof(*keys), key_cmp);
	*count = i;
	return keys;
}

static void do_list(rq *q)
{
	ks_selector *ls;
	ks_field_selector *fs;
	if (rv_too_large(q) || parse_selectors(q, &ls, &fs))
		return;
	char *limit_s = query(q, "limit");
	char *cont = query(q, "continue");
	long limit = limit_s ? strtol(limit_s, NULL, 10) : 0;
	free(limit_s);
	char *start = NULL;
	unsigned long long list_rv = q->dc->rv;
	if (cont && *cont) {
		size_t n;
		char *raw = b64_decode(cont, &n);
		json_t *tok = raw ? json_loadb(raw, n, 0, NULL) : NULL;
		free(raw);
		if (!json_is_object(tok) ||
		    !json_is_string(json_object_get(tok, "start"))) {
			json_decref(tok);
			free(cont);
			ks_selector_free(ls);
			ks_field_selector_free(fs);
			err_bad_request(q, "invalid continue token");
			return;
		}
		const char *st = dc_jstr(tok, "start");
		size_t sl = strlen(st);
		start = ks_xstrdup(st);
		(void)sl;
		json_int_t trv = json_integer_value(json_object_get(tok, "rv"));
		if (trv > 0)
			list_rv = (unsigned long long)trv;
		json_decref(tok);
		if (q->dc->log_oldest_rv > 1 &&
		    list_rv + 1 < q->dc->log_oldest_rv) {
			free(start);
			free(cont);
			ks_selector_free(ls);
			ks_field_selector_free(fs);
			dc_send_status(q->ex, q->r, 410, "Expired",
				       "The provided continue parameter is too "
				       "old to display a consistent list "
				       "result. You can start a new list "
				       "without the continue parameter.",
				       NULL);
			return;
		}
	}
	free(cont);
	size_t n;
	const char **keys =
		sorted_keys(q->t, q->t->namespaced ? q->ns : NULL, &n);
	json_t *items = json_array();
	size_t i = 0;
	if (start)
		while (i < n && strcmp(keys[i], start) <= 0)
			i++;
	const char *last = NULL;
	for (; i < n; i++) {
		if (limit > 0 && (long)json_array_size(items) >= limit)
			break;
		json_t *o = json_object_get(q->t->objects, keys[i]);
		if (!selected(o, ls, fs))
			continue;
		json_array_append_new(items, dc_list_item(o));
		last = keys[i];
	}
	/* more matching items after this page? */
	size_t remaining = 0;
	bool more = false;
	for (size_t j = i; j < n; j++) {
		json_t *o = json_object_get(q->t->objects, keys[j]);
		if (selected(o, ls, fs)) {
			more = true;
			remaining++;
			if (ls || fs)
				break;
		}
	}
	char rvs[32];
	snprintf(rvs, sizeof(rvs), "%llu", list_rv);
	json_t *meta = json_pack("{s:s}", "resourceVersion", rvs);
	if (more && last) {
		json_t *tok =
			json_pack("{s:s, s:I, s:s+}", "v", "meta.k8s.io/v1",
				  "rv", (json_int_t)list_rv, "start", last, "");
		char *ts = json_dumps(tok, JSON_COMPACT);
		json_decref(tok);
		char *enc = b64_encode(ts, strlen(ts));
		free(ts);
		json_object_set_new(meta, "continue", json_string(enc));
		free(enc);
		if (!ls && !fs)
			json_object_set_new(
				meta, "remainingItemCount",
				json_integer((json_int_t)remaining));
	}
	free(keys);
	free(start);
	ks_selector_free(ls);
	ks_field_selector_free(fs);
	if (dc_wants_table(q->r)) {
		dc_send_json(q->ex, q->r, 200, dc_table(q->t, items, meta));
		json_decref(items);
		return;
	}
	char *kind = ks_xasprintf("%sList", q->t->kind);
	json_t *list =
		json_pack("{s:s, s:s, s:o, s:o}", "kind", kind, "apiVersion",
			  q->t->api_version, "metadata", meta, "items", items);
	free(kind);
	dc_send_json(q->ex, q->r, 200, list);
}

static void do_watch(rq *q)
{
	ks_selector *ls;
	ks_field_selector *fs;
	if (parse_selectors(q, &ls, &fs))
		return;
	char *rv = query(q, "resourceVersion");
	char *to = query(q, "timeoutSeconds");
	bool initial = !rv || !*rv || !strcmp(rv, "0");
	unsigned long long from = initial ? 0 : strtoull(rv, NULL, 10);
	long timeout = to ? strtol(to, NULL, 10) : 0;
	free(rv);
	free(to);
	dc_watch_start(q->dc, q->t, q->t->namespaced ? q->ns : NULL, q->r,
		       q->ex, from, initial, ls, fs, timeout,
		       query_true(q, "allowWatchBookmarks"));
}

/* Checks that the namespace of a new object exists and is not terminating.
 * Sends the error and returns -1 otherwise. */
static int check_namespace(rq *q, const char *name)
{
	if (!q->t->namespaced)
		return 0;
	dc_type *nst = dc_type_find(q->dc, "", "v1", "namespaces");
	json_t *ns = dc_get(nst, NULL, q->ns);
	if (!ns) {
		char *msg = ks_xasprintf("namespaces \"%s\" not found", q->ns);
		dc_send_status(q->ex, q->r, 404, "NotFound", msg,
			       json_pack("{s:s, s:s}", "name", q->ns, "kind",
					 "namespaces"));
		free(msg);
		return -1;
	}
	if (json_object_get(json_object_get(ns, "metadata"),
			    "deletionTimestamp")) {
		char *qual = dc_type_qualified(q->t);
		char *msg = ks_xasprintf(
			"%s \"%s\" is forbidden: unable to create new content "
			"in namespace %s because it is being terminated",
			qual, name, q->ns);
		dc_send_status(q->ex, q->r, 403, "Forbidden", msg,
			       res_details(q->t, name));
		free(msg);
		free(qual);
		return -1;
	}
	return 0;
}

/* Checks kind, apiVersion, namespace, name and unknown fields of a body;
 * sends the error and returns -1 on a problem. */
static int check_body(rq *q, json_t *obj, bool create)
{
	if (!json_is_object(obj)) {
		err_bad_request(q, "the body of the request is not an object");
		return -1;
	}
	const char *kind = dc_jstr(obj, "kind");
	const char *av = dc_jstr(obj, "apiVersion");
	if (*kind && strcmp(kind, q->t->kind)) {
		char *msg = ks_xasprintf("the kind in the data (%s) does not "
					 "match the expected kind (%s)",
					 kind, q->t->kind);
		err_bad_request(q, msg);
		free(msg);
		return -1;
	}
	if (*av && strcmp(av, q->t->api_version)) {
		char *msg = ks_xasprintf(
			"the API version in the data (%s) does not match the "
			"expected API version (%s)",
			av, q->t->api_version);
		err_bad_request(q, msg);
		free(msg);
		return -1;
	}
	json_t *m = dc_meta(obj);
	const char *ns = dc_jstr(m, "namespace");
	if (q->t->namespaced && *ns && q->ns && strcmp(ns, q->ns)) {
		err_bad_request(q, "the namespace of the provided object does "
				   "not match the namespace sent on the "
				   "request");
		return -1;
	}
	const char *name = dc_jstr(m, "name");
	if (!create && q->name && *name && strcmp(name, q->name)) {
		char *msg = ks_xasprintf("the name of the object (%s) does not "
					 "match the name on the URL (%s)",
					 name, q->name);
		err_bad_request(q, msg);
		free(msg);
		return -1;
	}
	char *fv = query(q, "fieldValidation");
	bool strict = fv && !strcmp(fv, "Strict");
	bool warn = fv && !strcmp(fv, "Warn");
	free(fv);
	const char *unknown =
		strict || warn ? dc_unknown_field(q->t, obj) : NULL;
	if (unknown && warn) {
		free(q->warning);
		q->warning = ks_xasprintf("299 - \"unknown field \\\"%s\\\"\"",
					  unknown);
	} else if (unknown) {
		char *msg = ks_xasprintf(
			"%s in version \"%s\" cannot be handled as a %s: "
			"strict decoding error: unknown field \"%s\"",
			q->t->kind, q->t->version, q->t->kind, unknown);
		err_bad_request(q, msg);
		free(msg);
		return -1;
	}
	if (q->t->namespaced && q->ns)
		json_object_set_new(m, "namespace", json_string(q->ns));
	else
		json_object_del(m, "namespace");
	return 0;
}

static void generate_name(json_t *m)
{
	static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
	const char *gen = dc_jstr(m, "generateName");
	unsigned char r[5];
	if (RAND_bytes(r, 5) != 1)
		memset(r, 0, sizeof(r));
	char suffix[6];
	for (int i = 0; i < 5; i++)
		suffix[i] = alpha[r[i] % (sizeof(alpha) - 1)];
	suffix[5] = '\0';
	char *name = ks_xasprintf("%s%s", gen, suffix);
	json_object_set_new(m, "name", json_string(name));
	free(name);
}

/* Validates the name of a new object; sends 422 and returns -1 if bad. */
static int check_new_name(rq *q, const char *name)
{
	if (!*name) {
		err_invalid(q, "", "metadata.name", "FieldValueRequired",
			    "Required value: name or generateName is "
			    "required");
		return -1;
	}
	const char *why = dc_name_problem(q->t, name);
	if (why) {
		char *m = ks_xasprintf("Invalid value: \"%s\": %s", name, why);
		err_invalid(q, name, "metadata.name", "FieldValueInvalid", m);
		free(m);
		return -1;
	}
	return 0;
}

static void respond_written(rq *q, int code, json_t *out)
{
	send_body(q->ex, q->r, code, out, q->warning);
}

static void create_checked(rq *q, json_t *obj)
{
	json_t *m = dc_meta(obj);
	if (!*dc_jstr(m, "name") && *dc_jstr(m, "generateName"))
		generate_name(m);
	const char *name = dc_jstr(m, "name");
	if (check_new_name(q, name) || check_namespace(q, name)) {
		json_decref(obj);
		return;
	}
	if (dc_get(q->t, q->ns, name)) {
		char *qual = dc_type_qualified(q->t);
		char *msg =
			ks_xasprintf("%s \"%s\" already exists", qual, name);
		dc_send_status(q->ex, q->r, 409, "AlreadyExists", msg,
			       res_details(q->t, name));
		free(msg);
		free(qual);
		json_decref(obj);
		return;
	}
	json_object_del(m, "resourceVersion");
	char *fm = field_manager(q);
	json_t *out = write_object(q->dc, q->t, NULL, NULL, obj, fm, false,
				   q->dry_run);
	free(fm);
	respond_written(q, 201, out);
}

static void do_create(rq *q)
{
	json_t *obj = decode_body(q);
	if (!obj)
		return;
	if (check_body(q, obj, true)) {
		json_decref(obj);
		return;
	}
	create_checked(q, obj);
}

/* Checks a resourceVersion precondition carried by an update; sends 409 and
 * returns -1 when stale. */
static int check_rv(rq *q, const json_t *obj, const json_t *old)
{
	const char *rv = rv_of(obj);
	if (*rv && strcmp(rv, rv_of(old))) {
		err_conflict(q, q->name);
		return -1;
	}
	return 0;
}

/* Applies a Scale write to the object's spec.replicas. */
static json_t *from_scale(const json_t *old, const json_t *scale)
{
	json_t *n = json_deep_copy(old);
	json_t *r = json_object_get(json_object_get(scale, "spec"), "replicas");
	if (r) {
		json_t *spec = json_object_get(n, "spec");
		if (!json_is_object(spec)) {
			spec = json_object();
			json_object_set_new(n, "spec", spec);
		}
		json_object_set(spec, "replicas", r);
	}
	return n;
}

static void do_update(rq *q)
{
	json_t *obj = decode_body(q);
	if (!obj)
		return;
	bool scale = q->sub && !strcmp(q->sub, "scale");
	if (!scale && check_body(q, obj, false)) {
		json_decref(obj);
		return;
	}
	json_t *old = dc_get(q->t, q->ns, q->name);
	if (!old) {
		if (q->t->create_on_update && !q->sub) {
			json_object_set_new(dc_meta(obj), "name",
					    json_string(q->name));
			create_checked(q, obj);
			return;
		}
		json_decref(obj);
		err_not_found(q, q->name);
		return;
	}
	if (check_rv(q, obj, old)) {
		json_decref(obj);
		return;
	}
	if (!*rv_of(obj) && q->t->require_rv && !q->sub) {
		json_decref(obj);
		char *qual = dc_type_qualified(q->t);
		char *msg = ks_xasprintf(
			"%s \"%s\" is invalid: metadata.resourceVersion: "
			"Invalid value: 0x0: must be specified for an update",
			qual, q->name);
		json_t *d = res_details(q->t, q->name);
		json_object_set_new(d, "kind", json_string(q->t->kind));
		json_object_set_new(
			d, "causes",
			json_pack("[{s:s, s:s, s:s}]", "reason",
				  "FieldValueInvalid", "message",
				  "Invalid value: 0x0: must be specified for "
				  "an update",
				  "field", "metadata.resourceVersion"));
		dc_send_status(q->ex, q->r, 422, "Invalid", msg, d);
		free(msg);
		free(qual);
		return;
	}
	if (scale) {
		json_t *n = from_scale(old, obj);
		json_decref(obj);
		obj = n;
	}
	json_object_set_new(dc_meta(obj), "name", json_string(q->name));
	char *fm = field_manager(q);
	json_incref(old);
	json_t *out = write_object(q->dc, q->t, scale ? NULL : q->sub, old, obj,
				   fm, false, q->dry_run);
	json_decref(old);
	free(fm);
	if (scale) {
		json_decref(out);
		do_get(q);
		return;
	}
	respond_written(q, 200, out);
}

static void do_apply(rq *q)
{
	char *fm = query(q, "fieldManager");
	if (!fm || !*fm) {
		free(fm);
		json_t *d = json_pack(
			"{s:s, s:s, s:s, s:[{s:s, s:s, s:s}]}", "name", "",
			"group", "meta.k8s.io", "kind", "PatchOptions",
			"causes", "reason", "FieldValueRequired", "message",
			"Required value: is required for apply patch", "field",
			"fieldManager");
		dc_send_status(q->ex, q->r, 422, "Invalid",
			       "PatchOptions.meta.k8s.io \"\" is invalid: "
			       "fieldManager: Required value: is required for "
			       "apply patch",
			       d);
		return;
	}
	json_t *applied = decode_body(q);
	if (!applied) {
		free(fm);
		return;
	}
	if (check_body(q, applied, false)) {
		json_decref(applied);
		free(fm);
		return;
	}
	json_t *old = dc_get(q->t, q->ns, q->name);
	if (!old &&
	    (check_new_name(q, q->name) || check_namespace(q, q->name))) {
		json_decref(applied);
		free(fm);
		return;
	}
	json_object_set_new(dc_meta(applied), "name", json_string(q->name));
	if (q->t->builtin)
		dc_canonical_quantities(applied);
	if (old)
		json_incref(old);
	ks_ssa_opts o = {.manager = fm,
			 .api_version = q->t->api_version,
			 .subresource = q->sub,
			 .status_subresource = q->t->status_sub,
			 .force = query_true(q, "force")};
	json_t *merged = NULL, *conflicts = NULL;
	ks_error err;
	int rc =
		ks_ssa_apply(&merged, NULL, &conflicts, old, applied, &o, &err);
	json_decref(applied);
	if (rc == KS_ECONFLICT) {
		json_t *causes = json_array();
		size_t i;
		json_t *c;
		json_array_foreach(conflicts, i, c)
		{
			json_array_append_new(
				causes,
				json_pack("{s:s, s:s, s:s}", "reason",
					  "FieldManagerConflict", "message",
					  dc_jstr(c, "message"), "field",
					  dc_jstr(c, "field")));
		}
		json_decref(conflicts);
		dc_send_status(q->ex, q->r, 409, "Conflict", err.msg,
			       json_pack("{s:o}", "causes", causes));
	} else if (rc) {
		err_bad_request(q, err.msg);
	} else {
		json_t *out = write_object(q->dc, q->t, q->sub, old, merged, fm,
					   true, q->dry_run);
		respond_written(q, old ? 200 : 201, out);
	}
	json_decref(old);
	free(fm);
}

static void do_patch(rq *q)
{
	const char *ct = ks_http_request_header(q->r, "Content-Type");
	char type[128] = "";
	if (ct)
		snprintf(type, sizeof(type), "%.*s", (int)strcspn(ct, ";"), ct);
	if (!strcmp(type, "application/apply-patch+yaml")) {
		do_apply(q);
		return;
	}
	bool merge = !strcmp(type, "application/merge-patch+json");
	bool jsonp = !strcmp(type, "application/json-patch+json");
	bool smp = !strcmp(type, "application/strategic-merge-patch+json");
	if (smp && (!q->t->builtin ||
		    !ks_smp_supported(q->t->api_version, q->t->kind)))
		smp = false, merge = false, jsonp = false;
	if (!merge && !jsonp && !smp) {
		char *msg = ks_xasprintf(
			"the body of the request was in an unknown format - "
			"accepted media types include: "
			"application/json-patch+json, "
			"application/merge-patch+json, "
			"application/apply-patch+yaml%s",
			q->t->builtin ? ", "
					"application/strategic-merge-patch+json"
				      : "");
		dc_send_status(q->ex, q->r, 415, "UnsupportedMediaType", msg,
			       NULL);
		free(msg);
		return;
	}
	json_t *patch = decode_body(q);
	if (!patch)
		return;
	json_t *old = dc_get(q->t, q->ns, q->name);
	if (!old) {
		json_decref(patch);
		err_not_found(q, q->name);
		return;
	}
	json_incref(old);
	bool scale = q->sub && !strcmp(q->sub, "scale");
	json_t *target = old;
	if (scale) {
		json_t *spec = json_object_get(old, "spec");
		target = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:O}}", "kind",
				   "Scale", "apiVersion", "autoscaling/v1",
				   "metadata", "name", q->name,
				   "resourceVersion", rv_of(old), "spec",
				   "replicas",
				   json_object_get(spec, "replicas")
					   ? json_object_get(spec, "replicas")
					   : json_integer(0));
	} else {
		json_incref(target);
	}
	json_t *result = NULL;
	ks_error err = {0};
	int rc;
	if (merge)
		rc = ks_merge_patch(&result, target, patch);
	else if (jsonp)
		rc = ks_json_patch(&result, target, patch, &err);
	else
		rc = ks_strategic_merge_patch(&result, target, patch,
					      q->t->api_version, q->t->kind,
					      &err);
	json_decref(patch);
	json_decref(target);
	if (rc) {
		json_decref(old);
		dc_send_status(q->ex, q->r, 422, "Invalid", err.msg, NULL);
		return;
	}
	if (!json_is_object(result) || check_rv(q, result, old) ||
	    (!scale && check_body(q, result, false))) {
		if (!json_is_object(result))
			err_bad_request(q, "the patch did not produce an "
					   "object");
		json_decref(result);
		json_decref(old);
		return;
	}
	if (scale) {
		json_t *n = from_scale(old, result);
		json_decref(result);
		result = n;
	}
	json_object_set_new(dc_meta(result), "name", json_string(q->name));
	char *fm = field_manager(q);
	json_t *out = write_object(q->dc, q->t, scale ? NULL : q->sub, old,
				   result, fm, false, q->dry_run);
	free(fm);
	json_decref(old);
	if (scale) {
		json_decref(out);
		do_get(q);
		return;
	}
	respond_written(q, 200, out);
}

static void do_delete(rq *q)
{
	char *policy = query(q, "propagationPolicy");
	json_t *opts = NULL;
	if (q->r->body_len) {
		opts = json_loadb(q->r->body, q->r->body_len, 0, NULL);
		if (opts && !json_is_object(opts)) {
			json_decref(opts);
			opts = NULL;
		}
	}
	if (!policy &&
	    json_is_string(json_object_get(opts, "propagationPolicy")))
		policy = ks_xstrdup(dc_jstr(opts, "propagationPolicy"));
	json_t *dr = json_object_get(opts, "dryRun");
	if (json_array_size(dr) &&
	    !strcmp(dc_str(json_array_get(dr, 0)), "All"))
		q->dry_run = true;
	bool orphan_false =
		json_is_false(json_object_get(opts, "orphanDependents"));
	json_t *old = dc_get(q->t, q->ns, q->name);
	if (!old) {
		err_not_found(q, q->name);
		goto out;
	}
	json_t *pre = json_object_get(opts, "preconditions");
	const char *prv = dc_jstr(pre, "resourceVersion");
	const char *puid = dc_jstr(pre, "uid");
	if ((*prv && strcmp(prv, rv_of(old))) ||
	    (*puid && strcmp(puid, dc_meta_str(old, "uid")))) {
		char *msg =
			*prv && strcmp(prv, rv_of(old))
				? ks_xasprintf(
					  "Operation cannot be fulfilled on %s "
					  "\"%s\": the ResourceVersion in the "
					  "precondition (%s) does not match "
					  "the ResourceVersion in record (%s). "
					  "The object might have been modified",
					  q->t->kind, q->name, prv, rv_of(old))
				: ks_xasprintf(
					  "Operation cannot be fulfilled on %s "
					  "\"%s\": Precondition failed: UID in "
					  "precondition: %s, UID in object "
					  "meta: %s",
					  q->t->kind, q->name, puid,
					  dc_meta_str(old, "uid"));
		json_t *d = res_details(q->t, q->name);
		json_object_set_new(d, "kind", json_string(q->t->kind));
		dc_send_status(q->ex, q->r, 409, "Conflict", msg, d);
		free(msg);
		goto out;
	}
	json_incref(old);
	bool gone;
	char *uid = ks_xstrdup(dc_meta_str(old, "uid"));
	if (policy && !strcmp(policy, "Orphan") && !q->dry_run)
		dc_orphan_dependents(q->dc, uid);
	json_t *res =
		delete_object(q->dc, q->t, old, policy, q->dry_run, &gone);
	json_decref(old);
	if (gone) {
		json_decref(res);
		json_t *d = res_details(q->t, q->name);
		json_object_set_new(d, "uid", json_string(uid));
		json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:o}", "kind",
				       "Status", "apiVersion", "v1", "metadata",
				       "status", "Success", "details", d);
		dc_send_json(q->ex, q->r, 200, st);
	} else {
		dc_send_json(q->ex, q->r, orphan_false ? 202 : 200, res);
	}
	free(uid);
out:
	json_decref(opts);
	free(policy);
}

static void do_delete_collection(rq *q)
{
	ks_selector *ls;
	ks_field_selector *fs;
	if (parse_selectors(q, &ls, &fs))
		return;
	size_t n;
	const char **keys =
		sorted_keys(q->t, q->t->namespaced ? q->ns : NULL, &n);
	json_t *todo = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object_get(q->t->objects, keys[i]);
		if (selected(o, ls, fs))
			json_array_append(todo, o);
	}
	free(keys);
	ks_selector_free(ls);
	ks_field_selector_free(fs);
	json_t *items = json_array();
	size_t i;
	json_t *o;
	json_array_foreach(todo, i, o)
	{
		bool gone;
		json_t *r = delete_object(q->dc, q->t, o, "Background",
					  q->dry_run, &gone);
		json_array_append_new(items, dc_list_item(r));
		json_decref(r);
	}
	json_decref(todo);
	char *kind = ks_xasprintf("%sList", q->t->kind);
	char rvs[32];
	snprintf(rvs, sizeof(rvs), "%llu", (unsigned long long)q->dc->rv);
	json_t *list = json_pack("{s:s, s:s, s:{s:s}, s:o}", "kind", kind,
				 "apiVersion", q->t->api_version, "metadata",
				 "resourceVersion", rvs, "items", items);
	free(kind);
	dc_send_json(q->ex, q->r, 200, list);
}

/* ---- routing ---- */

static size_t split_path(const char *path, char **segs, size_t max)
{
	size_t n = 0;
	const char *p = path;
	while (*p && n < max) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		segs[n++] = ks_xstrndup(p, len);
		p += len;
	}
	return n;
}

static void version_info(rq *q)
{
	dc_send_json(q->ex, q->r, 200,
		     json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
			       "s:s}",
			       "major", "1", "minor", "30", "gitVersion",
			       "v1.30.0", "gitCommit",
			       "7c48c2bd72b9bf5c44d21d7338cc7bea77d0ad2a",
			       "gitTreeState", "clean", "buildDate",
			       "2024-04-17T17:27:03Z", "goVersion", "go1.22.2",
			       "compiler", "gc", "platform", "linux/amd64"));
}

static const char *verb_of(const rq *q)
{
	const char *m = q->r->method;
	if (!strcmp(m, "GET") || !strcmp(m, "HEAD")) {
		if (!q->name)
			return query_true(q, "watch") ? "watch" : "list";
		return "get";
	}
	if (!strcmp(m, "POST"))
		return "create";
	if (!strcmp(m, "PUT"))
		return "update";
	if (!strcmp(m, "PATCH"))
		return "patch";
	if (!strcmp(m, "DELETE"))
		return q->name ? "delete" : "deletecollection";
	return NULL;
}

static void serve_resource(rq *q, char **segs, size_t n, size_t at)
{
	const char *group = at == 2 ? "" : segs[1];
	const char *version = segs[at - 1];
	char **rest = segs + at;
	size_t rn = n - at;
	dc_type *t = NULL;
	if (rn >= 3 && !strcmp(rest[0], "namespaces")) {
		t = dc_type_find(q->dc, group, version, rest[2]);
		if (t && t->namespaced) {
			q->ns = ks_xstrdup(rest[1]);
			rest += 2;
			rn -= 2;
		} else {
			t = NULL;
		}
	}
	if (!t) {
		t = dc_type_find(q->dc, group, version, rest[0]);
		if (!t || (t->namespaced && rn > 1)) {
			not_found_page(q->ex);
			return;
		}
	}
	if (rn > 3) {
		not_found_page(q->ex);
		return;
	}
	q->t = t;
	if (rn >= 2)
		q->name = ks_xstrdup(rest[1]);
	if (rn == 3) {
		if ((!strcmp(rest[2], "status") && t->status_sub) ||
		    (!strcmp(rest[2], "scale") && t->scale_sub)) {
			q->sub = ks_xstrdup(rest[2]);
		} else {
			not_found_page(q->ex);
			return;
		}
	}
	const char *verb = verb_of(q);
	if (!verb || (q->name && !strcmp(verb, "create")) ||
	    (!q->name && (!strcmp(verb, "update") || !strcmp(verb, "patch")))) {
		dc_send_status(q->ex, q->r, 405, "MethodNotAllowed",
			       "the server does not allow this method on the "
			       "requested resource",
			       NULL);
		return;
	}
	if (t->namespaced && !q->ns && !strcmp(verb, "create")) {
		dc_send_status(q->ex, q->r, 405, "MethodNotAllowed",
			       "the server does not allow this method on the "
			       "requested resource",
			       NULL);
		return;
	}
	if (!q->no_faults &&
	    dc_fault_intercept(q->dc, q->r, q->ex, verb, t->resource))
		return;
	char *dry = query(q, "dryRun");
	if (dry && *dry) {
		if (strcmp(dry, "All")) {
			const char *opt = !strcmp(verb, "create")   ? "Create"
					  : !strcmp(verb, "patch")  ? "Patch"
					  : !strcmp(verb, "update") ? "Update"
								    : "Delete";
			char *msg = ks_xasprintf(
				"%sOptions.meta.k8s.io \"\" is invalid: "
				"dryRun: Unsupported value: []string{\"%s\"}: "
				"supported values: \"All\"",
				opt, dry);
			dc_send_status(q->ex, q->r, 422, "Invalid", msg, NULL);
			free(msg);
			free(dry);
			return;
		}
		q->dry_run = true;
	}
	free(dry);
	if (!strcmp(verb, "get"))
		do_get(q);
	else if (!strcmp(verb, "list"))
		do_list(q);
	else if (!strcmp(verb, "watch"))
		do_watch(q);
	else if (!strcmp(verb, "create"))
		do_create(q);
	else if (!strcmp(verb, "update"))
		do_update(q);
	else if (!strcmp(verb, "patch"))
		do_patch(q);
	else if (!strcmp(verb, "delete"))
		do_delete(q);
	else
		do_delete_collection(q);
}

static void serve_faults(rq *q)
{
	const char *m = q->r->method;
	if (!strcmp(m, "PUT") || !strcmp(m, "POST") || !strcmp(m, "DELETE")) {
		ks_error err;
		char *spec = ks_xstrndup(q->r->body, q->r->body_len);
		int rc = dc_faults_set(q->dc, !strcmp(m, "DELETE") ? "" : spec,
				       &err);
		free(spec);
		if (rc) {
			err_bad_request(q, err.msg);
			return;
		}
	}
	dc_send_json(q->ex, q->r, 200, dc_faults_json(q->dc));
}

static bool authorized(ks_devcluster *dc, const ks_http_request *r)
{
	if (!dc->ntokens)
		return true;
	if (r->client_cn)
		return true;
	const char *a = ks_http_request_header(r, "Authorization");
	if (!a || strncasecmp(a, "Bearer ", 7))
		return false;
	for (size_t i = 0; i < dc->ntokens; i++)
		if (!strcmp(a + 7, dc->tokens[i]))
			return true;
	return false;
}

static void route(rq *q)
{
	char *segs[16];
	size_t n = split_path(q->r->path, segs, 16);
	const char *m = q->r->method;
	bool get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
	if (n == 0) {
		not_found_page(q->ex);
	} else if (n == 1 && !strcmp(segs[0], "version") && get) {
		version_info(q);
	} else if (n == 1 &&
		   (!strcmp(segs[0], "healthz") || !strcmp(segs[0], "readyz") ||
		    !strcmp(segs[0], "livez"))) {
		send_text(q->ex, 200, "ok");
	} else if (n == 2 && !strcmp(segs[0], "_devcluster") &&
		   !strcmp(segs[1], "faults")) {
		serve_faults(q);
	} else if (!strcmp(segs[0], "openapi") && n >= 2 &&
		   !strcmp(segs[1], "v3") && get) {
		json_t *doc = NULL;
		if (n == 2)
			doc = dc_openapi_index(q->dc);
		else if (n == 4 && !strcmp(segs[2], "api"))
			doc = dc_openapi_doc(q->dc, "", segs[3]);
		else if (n == 5 && !strcmp(segs[2], "apis"))
			doc = dc_openapi_doc(q->dc, segs[3], segs[4]);
		if (doc)
			dc_send_json(q->ex, q->r, 200, doc);
		else
			not_found_page(q->ex);
	} else if (!strcmp(segs[0], "api")) {
		if (n == 1 && get)
			dc_send_json(q->ex, q->r, 200, dc_discovery_api(q->dc));
		else if (n == 2 && get && !strcmp(segs[1], "v1"))
			dc_send_json(q->ex, q->r, 200,
				     dc_discovery_resources(q->dc, "", "v1"));
		else if (n >= 3 && !strcmp(segs[1], "v1"))
			serve_resource(q, segs, n, 2);
		else
			not_found_page(q->ex);
	} else if (!strcmp(segs[0], "apis")) {
		json_t *d = NULL;
		if (n == 1 && get)
			d = dc_discovery_apis(q->dc);
		else if (n == 2 && get)
			d = dc_discovery_group(q->dc, segs[1]);
		else if (n == 3 && get)
			d = dc_discovery_resources(q->dc, segs[1], segs[2]);
		if (n >= 4 && dc_gv_exists(q->dc, segs[1], segs[2]))
			serve_resource(q, segs, n, 3);
		else if (d)
			dc_send_json(q->ex, q->r, 200, d);
		else
			not_found_page(q->ex);
	} else {
		not_found_page(q->ex);
	}
	for (size_t i = 0; i < n; i++)
		free(segs[i]);
}

static void handle(ks_devcluster *dc, const ks_http_request *r,
		   ks_http_exchange *ex, bool no_faults)
{
	rq q = {.dc = dc, .r = r, .ex = ex, .no_faults = no_faults};
	const char *accept = ks_http_request_header(r, "Accept");
	if (accept && *accept && !strstr(accept, "json") &&
	    !strstr(accept, "yaml") && !strstr(accept, "*/*") &&
	    !strstr(accept, "text/plain")) {
		dc_send_status(ex, NULL, 406, "NotAcceptable",
			       "Available representations: "
			       "application/json, application/yaml, "
			       "application/vnd.kubernetes.protobuf",
			       NULL);
		return;
	}
	route(&q);
	free(q.warning);
	free(q.ns);
	free(q.name);
	free(q.sub);
}

void dc_handle(void *ud, const ks_http_request *r, ks_http_exchange *ex)
{
	ks_devcluster *dc = ud;
	if (!dc->opts.quiet) {
		/* time-stamped to the millisecond: the agent's benchmarks
		 * time a webhook to the first apply request it causes */
		struct timespec ts;
		struct tm tm;
		char when[32];
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "devcluster: %s.%03ldZ %s %s\n", when,
			ts.tv_nsec / 1000000L, r->method, r->target);
	}
	if (!authorized(dc, r)) {
		dc_send_status(ex, r, 401, "Unauthorized", "Unauthorized",
			       NULL);
		return;
	}
	handle(dc, r, ex, false);
}

void dc_handle_unfaulted(ks_devcluster *dc, const ks_http_request *r,
			 ks_http_exchange *ex)
{
	handle(dc, r, ex, true);
}
