/*
 * The agent's HTTP side (spec/agent.md § HTTP API, § Sources and
 * webhooks): webhooks, the JSON API, /metrics, /healthz, /readyz and a
 * small dashboard. Runs on the loop's thread; slow work goes through
 * agent/daemon.c's requests and jobs, which answer the exchange later.
 */
#include "agent/daemon.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "agent/metrics.h"
#include "agent/pipeline.h"
#include "agent/webhook.h"
#include "core/json.h"
#include "core/mem.h"

#include "core/banned.h"

#define MAX_SESSIONS 1000

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

void ks_api_json(ks_http_exchange *ex, int status, json_t *v)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_json_pretty(&b, v);
	json_decref(v);
	ks_http_header h[] = {{"Content-Type", "application/json"},
			      {"Cache-Control", "no-store"}};
	ks_http_respond(ex, status, h, 2, b.data, b.len);
	ks_buf_release(&b);
}

void ks_api_error(ks_http_exchange *ex, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ks_api_json(ex, status, json_pack("{s:s}", "error", msg));
}

static void respond_text(ks_http_exchange *ex, int status, const char *type,
			 const char *body, size_t len)
{
	ks_http_header h[] = {{"Content-Type", type},
			      {"Cache-Control", "no-store"}};
	ks_http_respond(ex, status, h, 2, body, len);
}

/* --- views --- */

static json_t *without_resources(const json_t *rel)
{
	json_t *c = json_copy((json_t *)rel);
	json_object_del(c, "resources");
	return c;
}

/* URL without its userinfo (a password may hide there): a new string. */
static json_t *url_without_userinfo(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return json_string(url);
	p += 3;
	size_t hostpart = strcspn(p, "/");
	const char *at = memchr(p, '@', hostpart);
	if (!at)
		return json_string(url);
	char *s = ks_xasprintf("%.*s%s", (int)(p - url), url, at + 1);
	json_t *v = json_string(s);
	free(s);
	return v;
}

static json_t *source_view(const ks_dsource *s)
{
	char a[32], b[32];
	if (s->last_fetch)
		ks_daemon_time(s->last_fetch, a, sizeof(a));
	if (s->error_since)
		ks_daemon_time(s->error_since, b, sizeof(b));
	return json_pack(
		"{s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o}", "name",
		s->cfg->name, "url", url_without_userinfo(s->cfg->url), "ref",
		s->cfg->ref, "commit",
		*s->commit ? json_string(s->commit) : json_null(), "lastFetch",
		s->last_fetch ? json_string(a) : json_null(), "error",
		s->error ? json_string(s->error) : json_null(), "errorSince",
		s->error_since ? json_string(b) : json_null(), "renderErrors",
		s->render_errors ? json_incref(s->render_errors)
				 : json_array());
}

static const char *app_status(const ks_dapp *a, const json_t *l)
{
	if (a->render_errors)
		return "RenderFailed";
	return l ? jstr(l, "phase") : "NoRelease";
}

json_t *ks_api_app_view(ks_daemon *d, ks_dapp *a, bool brief)
{
	(void)d;
	json_t *l = ks_daemon_latest(a);
	const char *source = a->src ? a->src->cfg->name : jstr(l, "source");
	const char *commit =
		a->src && *a->src->commit ? a->src->commit : jstr(l, "commit");
	json_t *drift =
		a->drift ? json_integer((json_int_t)json_array_size(
				   json_object_get(a->drift, "resources")))
			 : json_null();
	json_t *v = json_pack("{s:s, s:s, s:o, s:s, s:o, s:b, s:s}", "name",
			      a->name, "source", source, "commit",
			      *commit ? json_string(commit) : json_null(),
			      "health", a->health, "drift", drift, "suspended",
			      a->suspended, "status", app_status(a, l));
	if (brief) {
		json_object_set_new(
			v, "release",
			l ? json_incref(json_object_get(l, "number"))
			  : json_null());
		json_object_set_new(v, "phase",
				    l ? json_string(jstr(l, "phase"))
				      : json_null());
		return v;
	}
	json_object_set_new(v, "release",
			    l ? without_resources(l) : json_null());
	json_t *wf = l ? json_object_get(l, "waitingFor") : NULL;
	json_object_set_new(v, "waitingFor",
			    wf ? json_incref(wf) : json_array());
	json_t *err = json_null();
	if (a->render_errors) {
		ks_buf b;
		ks_buf_init(&b, 0);
		size_t i;
		json_t *e;
		json_array_foreach(a->render_errors, i, e)
		{
			if (i)
				ks_buf_puts(&b, "\n");
			ks_buf_puts(&b, json_string_value(e));
		}
		err = json_string(b.data ? b.data : "");
		ks_buf_release(&b);
	} else if (a->error) {
		err = json_string(a->error);
	} else if (a->src && a->src->error) {
		err = json_string(a->src->error);
	}
	json_object_set_new(v, "error", err);
	json_object_set_new(v, "renderErrors",
			    a->render_errors ? json_incref(a->render_errors)
					     : json_array());
	json_object_set_new(v, "heals", json_integer((json_int_t)a->heals));
	json_object_set_new(v, "waitingCommit",
			    a->waiting ? json_string(jstr(a->waiting, "commit"))
				       : json_null());
	if (a->src)
		json_object_set_new(v, "sourceStatus", source_view(a->src));
	return v;
}

/* --- auth --- */

static ks_role auth(ks_daemon *d, const ks_http_request *req, const char **who)
{
	const char *h = ks_http_request_header(req, "Authorization");
	*who = NULL;
	if (!h || strncasecmp(h, "Bearer ", 7))
		return KS_ROLE_NONE;
	h += 7;
	while (*h == ' ')
		h++;
	if (!*h)
		return KS_ROLE_NONE;
	return ks_agent_config_auth(d->cfg, h, who);
}

/* --- webhooks --- */

static void hook_count(ks_daemon *d, const char *source, ks_hook_result r)
{
	ks_metrics_add(d->metrics, "kusync_webhook_requests_total", 1, "source",
		       source, "result", ks_hook_result_name(r), NULL);
}

static void hook_reply(ks_http_exchange *ex, int status, ks_hook_result r,
		       const char *why)
{
	json_t *v = json_pack("{s:s}", "result", ks_hook_result_name(r));
	if (why && *why)
		json_object_set_new(v, status >= 400 ? "error" : "reason",
				    json_string(why));
	ks_api_json(ex, status, v);
}

static bool is_approver(const ks_agent_source *s, const char *login)
{
	for (size_t i = 0; login && i < s->napprovers; i++)
		if (!strcmp(s->approvers[i], login))
			return true;
	return false;
}

/* Handles an authenticated event; returns the result to count. */
static ks_hook_result hook_event(ks_daemon *d, ks_dsource *src,
				 const ks_hook_event *ev, const char **why)
{
	const ks_agent_source *s = src->cfg;
	switch (ev->kind) {
	case KS_HOOK_PUSH:
		if (!ev->ref || strcmp(ev->ref, s->ref)) {
			*why = "push for another ref";
			return KS_HOOK_IGNORED;
		}
		KS_LOG(&d->log, KS_LOG_INFO, "agent",
		       "source %s: push webhook for %.12s", s->name,
		       ev->after ? ev->after : "?");
		ks_daemon_fetch_now(src, false);
		return KS_HOOK_ACCEPTED;
	case KS_HOOK_MR_APPROVED:
		if (!is_approver(s, ev->login)) {
			KS_LOG(&d->log, KS_LOG_INFO, "agent",
			       "source %s: ignored approval by %s: not in "
			       "approvers",
			       s->name, ev->login ? ev->login : "?");
			*why = "approver not listed";
			return KS_HOOK_IGNORED;
		}
		if (!src->mr_approvals)
			src->mr_approvals = json_object();
		if (ev->mr) {
			json_t *l = json_object_get(src->mr_approvals, ev->mr);
			if (!l) {
				l = json_array();
				json_object_set_new(src->mr_approvals, ev->mr,
						    l);
			}
			json_array_append_new(l, json_string(ev->login));
		}
		KS_LOG(&d->log, KS_LOG_INFO, "agent",
		       "source %s: %s approved by %s", s->name,
		       ev->mr ? ev->mr : "?", ev->login);
		return KS_HOOK_ACCEPTED;
	case KS_HOOK_MR_MERGED: {
		json_t *l = ev->mr && src->mr_approvals
				    ? json_object_get(src->mr_approvals, ev->mr)
				    : NULL;
		if (!ev->merge_commit || !json_array_size(l)) {
			*why = "merge without a listed approval";
			return KS_HOOK_IGNORED;
		}
		if (!src->merged)
			src->merged = json_object();
		json_object_set(src->merged, ev->merge_commit, l);
		json_object_del(src->mr_approvals, ev->mr);
		KS_LOG(&d->log, KS_LOG_INFO, "agent",
		       "source %s: %s merged as %.12s", s->name, ev->mr,
		       ev->merge_commit);
		ks_daemon_merge_approved(src, ev->merge_commit);
		/* The merge commit usually arrives by the push that follows;
		 * fetch now in case that push is not configured. */
		ks_daemon_fetch_now(src, false);
		return KS_HOOK_ACCEPTED;
	}
	default:
		*why = "event not handled";
		return KS_HOOK_IGNORED;
	}
}

static ks_dsource *find_source(ks_daemon *d, const char *name)
{
	for (size_t i = 0; i < d->nsources; i++)
		if (!strcmp(d->sources[i].cfg->name, name))
			return &d->sources[i];
	return NULL;
}

static void hook(ks_daemon *d, const ks_http_request *req, ks_http_exchange *ex,
		 const char *name)
{
	ks_dsource *src = find_source(d, name);
	if (!src || src->cfg->webhook == KS_WEBHOOK_NONE) {
		hook_count(d, "unknown", KS_HOOK_BAD_REQUEST);
		ks_api_error(ex, 404, "no webhook for source \"%s\"", name);
		return;
	}
	const char *sname = src->cfg->name;
	if (strcmp(req->method, "POST")) {
		hook_count(d, sname, KS_HOOK_BAD_REQUEST);
		ks_api_error(ex, 405, "webhooks are POSTed");
		return;
	}
	ks_hook_event ev;
	memset(&ev, 0, sizeof(ev));
	char why[256] = "";
	ks_hook_result r = ks_hook_verify(
		src->cfg->webhook, src->cfg->webhook_secret,
		src->cfg->webhook_secret_len, req, &ev, why, sizeof(why));
	int status;
	const char *reason = why;
	switch (r) {
	case KS_HOOK_ACCEPTED: {
		int64_t now = (int64_t)uv_now(d->loop);
		if (ev.delivery &&
		    ks_hook_replay_seen(d->replay, ev.delivery, now)) {
			r = KS_HOOK_DUPLICATE;
			status = 200;
			reason = "delivery already accepted";
			break;
		}
		r = hook_event(d, src, &ev, &reason);
		if (ev.delivery)
			ks_hook_replay_remember(d->replay, ev.delivery, now);
		status = 202;
		break;
	}
	case KS_HOOK_TOO_LARGE:
		status = 413;
		break;
	case KS_HOOK_UNAUTHORIZED:
		status = 401;
		KS_LOG(&d->log, KS_LOG_WARN, "agent",
		       "source %s: webhook from %s refused: %s", sname,
		       req->peer, why);
		break;
	default:
		status = 400;
		break;
	}
	hook_count(d, sname, r);
	hook_reply(ex, status, r, reason);
	ks_hook_event_release(&ev);
}

/* --- API --- */

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static bool is_hex(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		      (*s >= 'A' && *s <= 'F')))
			return false;
	return true;
}

/* Parses the JSON body: NULL after answering 400/422. An empty body is
 * {} when EMPTY_OK. */
static json_t *body_object(const ks_http_request *req, ks_http_exchange *ex,
			   bool empty_ok)
{
	size_t n = req->body_len;
	const char *p = req->body;
	while (n && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
		p++;
		n--;
	}
	if (!n && empty_ok)
		return json_object();
	json_error_t je;
	json_t *v = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
	if (!v) {
		ks_api_error(ex, 400, "request body is not JSON: %s", je.text);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		ks_api_error(ex, 422, "request body must be a JSON object");
		return NULL;
	}
	return v;
}

/* Unknown fields of O (beyond the NULL-terminated ALLOWED): answers 422. */
static bool check_fields(json_t *o, const char *const *allowed,
			 ks_http_exchange *ex)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		bool ok = false;
		for (size_t i = 0; allowed[i]; i++)
			if (!strcmp(allowed[i], k))
				ok = true;
		if (!ok) {
			ks_api_error(ex, 422, "unknown field \"%s\"", k);
			return false;
		}
	}
	return true;
}

static ks_dreq *dreq_new(enum ks_dreq_kind kind, int number, const char *who,
			 const char *via, const char *comment,
			 ks_http_exchange *ex)
{
	ks_dreq *r = ks_xcalloc(1, sizeof(*r));
	r->kind = kind;
	r->number = number;
	r->who = ks_xstrdup(who ? who : "unknown");
	r->via = ks_xstrdup(via);
	r->comment = ks_xstrdup(comment ? comment : "");
	r->ex = ex;
	return r;
}

static void api_approve(ks_daemon *d, ks_dapp *a, const ks_http_request *req,
			ks_http_exchange *ex, const char *who)
{
	(void)d;
	json_t *b = body_object(req, ex, false);
	if (!b)
		return;
	static const char *const allowed[] = {"revision", "comment", NULL};
	if (!check_fields(b, allowed, ex))
		goto out;
	json_t *rev = json_object_get(b, "revision");
	json_t *com = json_object_get(b, "comment");
	if (com && !json_is_string(com)) {
		ks_api_error(ex, 422, "comment must be a string");
		goto out;
	}
	char buf[64];
	if (json_is_integer(rev) && json_integer_value(rev) > 0) {
		snprintf(buf, sizeof(buf), "%lld",
			 (long long)json_integer_value(rev));
	} else if (json_is_string(rev) &&
		   strlen(json_string_value(rev)) < sizeof(buf)) {
		snprintf(buf, sizeof(buf), "%s", json_string_value(rev));
	} else {
		ks_api_error(ex, 422,
			     "revision must be a commit id (7 to 40 hex "
			     "digits) or a release number");
		goto out;
	}
	bool num = all_digits(buf);
	size_t len = strlen(buf);
	if (!num && (len < 7 || len > 40 || !is_hex(buf))) {
		ks_api_error(ex, 422,
			     "revision must be a commit id (7 to 40 hex "
			     "digits) or a release number");
		goto out;
	}
	for (char *p = buf; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	size_t i;
	json_t *r;
	json_t *match = NULL;
	json_array_foreach(a->releases, i, r)
	{
		if (strcmp(jstr(r, "phase"), KS_PHASE_AWAITING))
			continue;
		/* "3279468" is a commit id as well as a number: a string of
		 * 7 or more digits matches either */
		bool as_number = num && json_integer_value(
						json_object_get(r, "number")) ==
						strtoll(buf, NULL, 10);
		bool as_commit = json_is_string(rev) && len >= 7 &&
				 is_hex(buf) &&
				 !strncmp(jstr(r, "commit"), buf, len);
		bool hit = as_number || as_commit;
		if (hit)
			match = r;
	}
	if (!match) {
		ks_api_error(ex, 409,
			     "nothing of app %s awaits approval with revision "
			     "%s",
			     a->name, buf);
		goto out;
	}
	ks_daemon_request(a, dreq_new(KS_DREQ_APPROVE,
				      (int)json_integer_value(
					      json_object_get(match, "number")),
				      who, "api", json_string_value(com), ex));
out:
	json_decref(b);
}

static void api_rollback(ks_daemon *d, ks_dapp *a, const ks_http_request *req,
			 ks_http_exchange *ex, const char *who)
{
	(void)d;
	json_t *b = body_object(req, ex, true);
	if (!b)
		return;
	static const char *const allowed[] = {"release", "comment", NULL};
	if (!check_fields(b, allowed, ex))
		goto out;
	json_t *rel = json_object_get(b, "release");
	json_t *com = json_object_get(b, "comment");
	if ((rel && (!json_is_integer(rel) || json_integer_value(rel) < 1)) ||
	    (com && !json_is_string(com))) {
		ks_api_error(ex, 422, "release must be a release number");
		goto out;
	}
	json_t *target = NULL;
	size_t i;
	json_t *r;
	if (rel) {
		json_array_foreach(a->releases, i, r)
		{
			if (json_integer_value(json_object_get(r, "number")) ==
			    json_integer_value(rel))
				target = r;
		}
		if (!target) {
			ks_api_error(ex, 409,
				     "release %lld of %s does not "
				     "exist",
				     (long long)json_integer_value(rel),
				     a->name);
			goto out;
		}
		if (strcmp(jstr(target, "phase"), KS_PHASE_SUCCEEDED)) {
			ks_api_error(ex, 409,
				     "release %lld of %s did not succeed "
				     "(%s): nothing to roll back to",
				     (long long)json_integer_value(rel),
				     a->name, jstr(target, "phase"));
			goto out;
		}
	} else {
		/* The previous succeeded release: before the current one when
		 * the latest release is the current succeeded one. */
		json_t *latest = ks_daemon_latest(a);
		json_t *cur = ks_daemon_last_succeeded(a);
		if (cur && cur == latest) {
			bool past = false;
			json_array_foreach(a->releases, i, r)
			{
				if (r == cur) {
					past = true;
					continue;
				}
				if (past && !strcmp(jstr(r, "phase"),
						    KS_PHASE_SUCCEEDED)) {
					target = r;
					break;
				}
			}
		} else {
			target = cur;
		}
		if (!target) {
			ks_api_error(ex, 409,
				     "app %s has no previous "
				     "succeeded release",
				     a->name);
			goto out;
		}
	}
	ks_daemon_request(a, dreq_new(KS_DREQ_ROLLBACK,
				      (int)json_integer_value(json_object_get(
					      target, "number")),
				      who, "api", json_string_value(com), ex));
out:
	json_decref(b);
}

static void api_app_post(ks_daemon *d, ks_dapp *a, const char *action,
			 const ks_http_request *req, ks_http_exchange *ex,
			 const char *who)
{
	bool needs_source =
		strcmp(action, "suspend") && strcmp(action, "resume");
	if (needs_source && !a->src) {
		ks_api_error(ex, 409, "no configured source defines app %s",
			     a->name);
		return;
	}
	if (!strcmp(action, "approve")) {
		api_approve(d, a, req, ex, who);
	} else if (!strcmp(action, "rollback")) {
		api_rollback(d, a, req, ex, who);
	} else if (!strcmp(action, "sync")) {
		json_t *b = body_object(req, ex, true);
		if (!b)
			return;
		json_decref(b);
		KS_LOG(&d->log, KS_LOG_INFO, "agent", "app %s: sync by %s",
		       a->name, who ? who : "?");
		a->sync_requested = true;
		a->retry_at = 0;
		ks_daemon_fetch_now(a->src, true);
		ks_api_json(ex, 202,
			    json_pack("{s:s, s:s}", "app", a->name, "sync",
				      "started"));
	} else {
		bool suspend = !strcmp(action, "suspend");
		json_t *b = body_object(req, ex, true);
		if (!b)
			return;
		json_decref(b);
		ks_daemon_set_suspended(a, suspend);
		ks_daemon_store_state(a, ex);
	}
}

static void api_list(ks_daemon *d, ks_http_exchange *ex)
{
	json_t *apps = json_array();
	for (size_t i = 0; i < d->napps; i++)
		json_array_append_new(apps,
				      ks_api_app_view(d, d->apps[i], true));
	ks_api_json(ex, 200, json_pack("{s:o}", "apps", apps));
}

static void api_sources(ks_daemon *d, ks_http_exchange *ex)
{
	json_t *l = json_array();
	for (size_t i = 0; i < d->nsources; i++)
		json_array_append_new(l, source_view(&d->sources[i]));
	ks_api_json(ex, 200, json_pack("{s:o}", "sources", l));
}

static void api_app_get(ks_daemon *d, ks_dapp *a, const char *what,
			ks_http_exchange *ex)
{
	if (!*what) {
		ks_api_json(ex, 200, ks_api_app_view(d, a, false));
	} else if (!strcmp(what, "releases")) {
		json_t *l = json_array();
		size_t i;
		json_t *r;
		json_array_foreach(a->releases, i, r)
		{
			json_array_append_new(l, without_resources(r));
		}
		ks_api_json(ex, 200, json_pack("{s:o}", "releases", l));
	} else if (a->drift) {
		ks_api_json(ex, 200, json_incref(a->drift));
	} else {
		ks_api_json(ex, 200,
			    json_pack("{s:s, s:n, s:n, s:n, s:[]}", "app",
				      a->name, "release", "commit", "checkedAt",
				      "resources"));
	}
}

static void api(ks_daemon *d, const ks_http_request *req, ks_http_exchange *ex)
{
	const char *who;
	ks_role role = auth(d, req, &who);
	if (role == KS_ROLE_NONE) {
		ks_http_header h[] = {{"Content-Type", "application/json"},
				      {"WWW-Authenticate", "Bearer"}};
		static const char body[] = "{\n  \"error\": \"missing or "
					   "unknown bearer token\"\n}\n";
		ks_http_respond(ex, 401, h, 2, body, sizeof(body) - 1);
		return;
	}
	const char *p = req->path + strlen("/api/v1/");
	bool get = !strcmp(req->method, "GET");
	bool post = !strcmp(req->method, "POST");
	if (!strcmp(p, "apps") || !strcmp(p, "sources")) {
		if (!get) {
			ks_api_error(ex, 405, "method not allowed");
			return;
		}
		if (*p == 'a')
			api_list(d, ex);
		else
			api_sources(d, ex);
		return;
	}
	if (strncmp(p, "apps/", 5)) {
		ks_api_error(ex, 404, "no such endpoint");
		return;
	}
	p += 5;
	const char *slash = strchr(p, '/');
	char name[128];
	size_t n = slash ? (size_t)(slash - p) : strlen(p);
	if (!n || n >= sizeof(name)) {
		ks_api_error(ex, 404, "no such app");
		return;
	}
	memcpy(name, p, n);
	name[n] = 0;
	const char *what = slash ? slash + 1 : "";
	static const char *const posts[] = {"approve", "rollback", "sync",
					    "suspend", "resume"};
	bool is_post_action = false;
	for (size_t i = 0; i < sizeof(posts) / sizeof(posts[0]); i++)
		if (!strcmp(what, posts[i]))
			is_post_action = true;
	bool is_get =
		!*what || !strcmp(what, "drift") || !strcmp(what, "releases");
	if (!is_post_action && !is_get) {
		ks_api_error(ex, 404, "no such endpoint");
		return;
	}
	if ((is_get && !get) || (is_post_action && !post)) {
		ks_api_error(ex, 405, "method not allowed");
		return;
	}
	if (is_post_action && role < KS_ROLE_APPROVER) {
		ks_api_error(ex, 403, "%s needs the approver role; %s is a %s",
			     what, who ? who : "this token",
			     ks_role_name(role));
		return;
	}
	ks_dapp *a = ks_daemon_app(d, name);
	if (!a) {
		ks_api_error(ex, 404, "no app named \"%s\"", name);
		return;
	}
	if (is_get) {
		api_app_get(d, a, what, ex);
		return;
	}
	if (!d->leader) {
		ks_api_error(ex, 503,
			     "not the leader: this agent serves "
			     "read-only requests");
		return;
	}
	api_app_post(d, a, what, req, ex, who);
}

/* --- dashboard --- */

static void html_escape(ks_buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			ks_buf_puts(b, "&lt;");
			break;
		case '>':
			ks_buf_puts(b, "&gt;");
			break;
		case '&':
			ks_buf_puts(b, "&amp;");
			break;
		case '"':
			ks_buf_puts(b, "&quot;");
			break;
		case '\'':
			ks_buf_puts(b, "&#39;");
			break;
		default:
			ks_buf_append(b, s, 1);
		}
	}
}

static void random_hex(char *out, size_t nbytes)
{
	unsigned char raw[32];
	if (nbytes > sizeof(raw))
		nbytes = sizeof(raw);
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, raw, nbytes) != (ssize_t)nbytes)
		abort(); /* no randomness: no safe sessions */
	close(fd);
	for (size_t i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static json_t *session_of(ks_daemon *d, const ks_http_request *req)
{
	const char *c = ks_http_request_header(req, "Cookie");
	if (!c)
		return NULL;
	const char *p = strstr(c, "kusync_session=");
	if (!p)
		return NULL;
	p += strlen("kusync_session=");
	char id[65];
	size_t n = strcspn(p, "; ");
	if (n != 64)
		return NULL;
	memcpy(id, p, n);
	id[n] = 0;
	return json_object_get(d->sessions, id);
}

static const char page_head[] =
	"<!doctype html><html><head><meta charset=\"utf-8\">"
	"<title>kusync</title><style>body{font-family:sans-serif;margin:2em}"
	"table{border-collapse:collapse}td,th{border:1px solid #ccc;"
	"padding:4px 8px;text-align:left}</style></head><body>"
	"<h1>kusync</h1>";

static void dashboard(ks_daemon *d, const ks_http_request *req,
		      ks_http_exchange *ex)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	ks_buf_puts(&b, page_head);
	json_t *s = session_of(d, req);
	if (!s) {
		ks_buf_puts(&b, "<form method=\"post\" action=\"/login\">"
				"<label>Token <input type=\"password\" "
				"name=\"token\" autocomplete=\"off\"></label> "
				"<button>Sign in</button></form>");
	} else {
		ks_buf_puts(&b, "<p>Signed in as ");
		html_escape(&b, jstr(s, "name"));
		ks_buf_puts(&b, " (");
		html_escape(&b, jstr(s, "role"));
		ks_buf_puts(&b,
			    ") <form style=\"display:inline\" "
			    "method=\"post\" action=\"/logout\">"
			    "<input type=\"hidden\" name=\"csrf\" value=\"");
		html_escape(&b, jstr(s, "csrf"));
		ks_buf_puts(&b, "\"><button>Sign out</button></form></p>"
				"<table><tr><th>app</th><th>source</th>"
				"<th>commit</th><th>release</th><th>status</th>"
				"<th>health</th><th>drift</th>"
				"<th>suspended</th></tr>");
		for (size_t i = 0; i < d->napps; i++) {
			json_t *v = ks_api_app_view(d, d->apps[i], true);
			char num[32];
			ks_buf_puts(&b, "<tr><td>");
			html_escape(&b, jstr(v, "name"));
			ks_buf_puts(&b, "</td><td>");
			html_escape(&b, jstr(v, "source"));
			ks_buf_puts(&b, "</td><td>");
			snprintf(num, sizeof(num), "%.12s", jstr(v, "commit"));
			html_escape(&b, num);
			snprintf(num, sizeof(num), "%lld",
				 (long long)json_integer_value(
					 json_object_get(v, "release")));
			ks_buf_puts(&b, "</td><td>");
			html_escape(&b, num);
			ks_buf_puts(&b, "</td><td>");
			html_escape(&b, jstr(v, "status"));
			ks_buf_puts(&b, "</td><td>");
			html_escape(&b, jstr(v, "health"));
			snprintf(num, sizeof(num), "%lld",
				 (long long)json_integer_value(
					 json_object_get(v, "drift")));
			ks_buf_puts(&b, "</td><td>");
			html_escape(&b, num);
			ks_buf_puts(&b, "</td><td>");
			ks_buf_puts(&b, json_is_true(
						json_object_get(v, "suspended"))
						? "yes"
						: "no");
			ks_buf_puts(&b, "</td></tr>");
			json_decref(v);
		}
		ks_buf_puts(&b, "</table>");
	}
	ks_buf_puts(&b, "</body></html>\n");
	ks_http_header h[] = {{"Content-Type", "text/html; charset=utf-8"},
			      {"Cache-Control", "no-store"},
			      {"X-Frame-Options", "DENY"},
			      {"Content-Security-Policy",
			       "default-src 'none'; style-src 'unsafe-inline'; "
			       "form-action 'self'"}};
	ks_http_respond(ex, 200, h, 4, b.data, b.len);
	ks_buf_release(&b);
}

static void redirect(ks_http_exchange *ex, const char *cookie)
{
	ks_http_header h[3] = {{"Location", "/"},
			       {"Cache-Control", "no-store"}};
	size_t n = 2;
	if (cookie)
		h[n++] = (ks_http_header){"Set-Cookie", cookie};
	ks_http_respond(ex, 303, h, n, "", 0);
}

static void login(ks_daemon *d, const ks_http_request *req,
		  ks_http_exchange *ex)
{
	char *tok = ks_http_query_get(req->body, "token");
	const char *name = NULL;
	ks_role role =
		tok ? ks_agent_config_auth(d->cfg, tok, &name) : KS_ROLE_NONE;
	free(tok);
	if (role == KS_ROLE_NONE) {
		static const char body[] = "sign-in refused\n";
		respond_text(ex, 401, "text/plain; charset=utf-8", body,
			     sizeof(body) - 1);
		return;
	}
	if (json_object_size(d->sessions) >= MAX_SESSIONS)
		json_object_clear(d->sessions);
	char id[65], csrf[65];
	random_hex(id, 32);
	random_hex(csrf, 32);
	json_object_set_new(d->sessions, id,
			    json_pack("{s:s, s:s, s:s}", "name", name, "role",
				      ks_role_name(role), "csrf", csrf));
	char cookie[160];
	snprintf(cookie, sizeof(cookie),
		 "kusync_session=%s; HttpOnly; SameSite=Strict; Path=/", id);
	redirect(ex, cookie);
}

static void logout(ks_daemon *d, const ks_http_request *req,
		   ks_http_exchange *ex)
{
	json_t *s = session_of(d, req);
	char *csrf = ks_http_query_get(req->body, "csrf");
	if (s && csrf && !strcmp(csrf, jstr(s, "csrf"))) {
		const char *k;
		json_t *v;
		void *tmp;
		json_object_foreach_safe(d->sessions, tmp, k, v)
		{
			if (v == s)
				json_object_del(d->sessions, k);
		}
	}
	free(csrf);
	redirect(ex, "kusync_session=; HttpOnly; SameSite=Strict; Path=/; "
		     "Max-Age=0");
}

/* --- the handler --- */

void ks_api_handle(void *ud, const ks_http_request *req, ks_http_exchange *ex)
{
	ks_daemon *d = ud;
	const char *path = req->path;
	bool get = !strcmp(req->method, "GET");
	if (!strncmp(path, "/hooks/", 7)) {
		hook(d, req, ex, path + 7);
	} else if (!strncmp(path, "/api/v1/", 8)) {
		api(d, req, ex);
	} else if (get && !strcmp(path, "/healthz")) {
		respond_text(ex, 200, "text/plain", "ok\n", 3);
	} else if (get && !strcmp(path, "/readyz")) {
		if (d->ready && !d->stopping)
			respond_text(ex, 200, "text/plain", "ready\n", 6);
		else
			respond_text(ex, 503, "text/plain", "not ready\n", 10);
	} else if (get && !strcmp(path, "/metrics")) {
		ks_buf b;
		ks_buf_init(&b, 0);
		ks_metrics_write(d->metrics, &b);
		respond_text(ex, 200, "text/plain; version=0.0.4", b.data,
			     b.len);
		ks_buf_release(&b);
	} else if (get && !strcmp(path, "/")) {
		dashboard(d, req, ex);
	} else if (!strcmp(req->method, "POST") && !strcmp(path, "/login")) {
		login(d, req, ex);
	} else if (!strcmp(req->method, "POST") && !strcmp(path, "/logout")) {
		logout(d, req, ex);
	} else {
		ks_api_error(ex, 404, "not found");
	}
}
