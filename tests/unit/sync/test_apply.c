/*
 * sync/apply against a scripted API server (core/http on its own loop):
 * server-side apply requests, dependency skips, generated passwords, the
 * immutable-Job replace, prune.
 */
#include "ks_test.h"

#include "loop_server.h"
#include "core/base64.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/http.h"
#include "core/mem.h"
#include "sync/internal.h"
#include "sync/sync.h"

struct fake {
	ks_loop_server ls;
	pthread_mutex_t mu;
	json_t *store;	   /* object path -> object */
	json_t *log;	   /* ["METHOD path?query content-type", ...] */
	json_t *posts;	   /* bodies of POSTs */
	json_t *forbidden; /* list paths answering 403 */
};

static void reply(ks_http_exchange *ex, int status, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	ks_http_header h = {"Content-Type", "application/json"};
	ks_http_respond(ex, status, &h, 1, s, strlen(s));
	free(s);
}

static json_t *status_body(int code, const char *reason, const char *msg)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "kind", "Status",
			 "apiVersion", "v1", "status", "Failure", "message",
			 msg, "reason", reason, "code", code);
}

static const char *discovery(const char *path)
{
	if (!strcmp(path, "/api/v1"))
		return "{\"groupVersion\":\"v1\",\"resources\":["
		       "{\"name\":\"namespaces\",\"namespaced\":false,\"kind\":"
		       "\"Namespace\",\"verbs\":[\"get\",\"list\",\"patch\"]},"
		       "{\"name\":\"configmaps\",\"namespaced\":true,\"kind\":"
		       "\"ConfigMap\",\"verbs\":[\"get\",\"list\",\"patch\","
		       "\"delete\"]},{\"name\":\"secrets\",\"namespaced\":true,"
		       "\"kind\":\"Secret\",\"verbs\":[\"get\",\"list\","
		       "\"create\",\"patch\"]}]}";
	if (!strcmp(path, "/apis/apps/v1"))
		return "{\"groupVersion\":\"apps/v1\",\"resources\":[{\"name\":"
		       "\"deployments\",\"namespaced\":true,\"kind\":"
		       "\"Deployment\",\"verbs\":[\"get\",\"list\",\"patch\"]}]"
		       "}";
	if (!strcmp(path, "/apis/batch/v1"))
		return "{\"groupVersion\":\"batch/"
		       "v1\",\"resources\":[{\"name\":"
		       "\"jobs\",\"namespaced\":true,\"kind\":\"Job\","
		       "\"verbs\":"
		       "[\"get\",\"list\",\"patch\",\"delete\"]}]}";
	return NULL;
}

static void do_patch(struct fake *f, const ks_http_request *r,
		     ks_http_exchange *ex)
{
	json_t *body = json_loadb(r->body, r->body_len, 0, NULL);
	const char *name = json_string_value(
		json_object_get(json_object_get(body, "metadata"), "name"));
	const char *kind = json_string_value(json_object_get(body, "kind"));
	json_t *old = json_object_get(f->store, r->path);
	if (name && !strcmp(name, "bad")) {
		json_decref(body);
		reply(ex, 422,
		      status_body(422, "Invalid",
				  "configmaps \"bad\" is invalid: data: "
				  "Invalid value: nope"));
		return;
	}
	if (kind && !strcmp(kind, "Job") && old &&
	    !json_equal(
		    json_object_get(json_object_get(old, "spec"), "template"),
		    json_object_get(json_object_get(body, "spec"),
				    "template"))) {
		json_decref(body);
		reply(ex, 422,
		      status_body(422, "Invalid",
				  "Job.batch \"migrate\" is invalid: "
				  "spec.template: Invalid value: ...: field "
				  "is immutable"));
		return;
	}
	/* an apply merges (enough for these tests: top-level keys) */
	json_t *merged = old ? json_deep_copy(old) : json_object();
	json_object_update(merged, body);
	json_decref(body);
	json_object_set(f->store, r->path, merged);
	reply(ex, old ? 200 : 201, merged);
}

static void do_post(struct fake *f, const ks_http_request *r,
		    ks_http_exchange *ex)
{
	json_t *body = json_loadb(r->body, r->body_len, 0, NULL);
	json_array_append(f->posts, body);
	const char *name = json_string_value(
		json_object_get(json_object_get(body, "metadata"), "name"));
	char *key = ks_xasprintf("%s/%s", r->path, name ? name : "");
	if (json_object_get(f->store, key)) {
		reply(ex, 409, status_body(409, "AlreadyExists", "exists"));
		json_decref(body);
	} else {
		json_object_set(f->store, key, body);
		reply(ex, 201, body);
	}
	free(key);
}

/* A LIST: the stored objects under the path (a cluster-wide path
 * /api/v1/configmaps covers /api/v1/namespaces/X/configmaps/Y); paths in
 * f->forbidden answer 403 as RBAC does. */
static void do_list(struct fake *f, const ks_http_request *r,
		    ks_http_exchange *ex)
{
	if (json_object_get(f->forbidden, r->path)) {
		reply(ex, 403,
		      status_body(403, "Forbidden",
				  "configmaps is forbidden: User \"x\" cannot "
				  "list resource \"configmaps\" in API group "
				  "\"\" at the cluster scope"));
		return;
	}
	const char *res = strrchr(r->path, '/') + 1;
	size_t plen = strlen(r->path);
	json_t *items = json_array();
	const char *key;
	json_t *v;
	json_object_foreach(f->store, key, v)
	{
		bool under = !strncmp(key, r->path, plen) && key[plen] == '/' &&
			     !strchr(key + plen + 1, '/');
		/* cluster-wide: /api/v1/configmaps covers namespaced keys */
		char *pre = ks_xstrndup(r->path, (size_t)(res - r->path) - 1);
		char *pat = ks_xasprintf("/%s/", res);
		bool wide = !strncmp(key, pre, strlen(pre)) &&
			    !strncmp(key + strlen(pre), "/namespaces/", 12) &&
			    strstr(key, pat) &&
			    !strstr(r->path, "/namespaces/");
		free(pre);
		free(pat);
		if (under || wide)
			json_array_append(items, v);
	}
	reply(ex, 200,
	      json_pack("{s:s, s:{}, s:o}", "kind", "List", "metadata", "items",
			items));
}

static void fake_handler(void *ud, const ks_http_request *r,
			 ks_http_exchange *ex)
{
	struct fake *f = ud;
	pthread_mutex_lock(&f->mu);
	const char *ct = ks_http_request_header(r, "Content-Type");
	json_array_append_new(f->log,
			      json_sprintf("%s %s%s%s %s", r->method, r->path,
					   *r->query ? "?" : "", r->query,
					   ct ? ct : "-"));
	const char *disc = discovery(r->path);
	if (disc) {
		ks_http_header h = {"Content-Type", "application/json"};
		ks_http_respond(ex, 200, &h, 1, disc, strlen(disc));
	} else if (!strcmp(r->method, "PATCH")) {
		do_patch(f, r, ex);
	} else if (!strcmp(r->method, "POST")) {
		do_post(f, r, ex);
	} else if (!strcmp(r->method, "DELETE")) {
		if (json_object_get(f->store, r->path)) {
			json_object_del(f->store, r->path);
			reply(ex, 200, json_pack("{s:s}", "status", "Success"));
		} else {
			reply(ex, 404, status_body(404, "NotFound", "gone"));
		}
	} else if (strstr(r->query, "limit=")) {
		do_list(f, r, ex);
	} else {
		json_t *o = json_object_get(f->store, r->path);
		if (o)
			reply(ex, 200, json_incref(o));
		else
			reply(ex, 404, status_body(404, "NotFound", "nope"));
	}
	pthread_mutex_unlock(&f->mu);
}

static int fake_setup(void **state)
{
	struct fake *f = ks_xcalloc(1, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	f->store = json_object();
	f->log = json_array();
	f->posts = json_array();
	f->forbidden = json_object();
	ks_loop_server_start(&f->ls, fake_handler, f);
	*state = f;
	return 0;
}

static int fake_teardown(void **state)
{
	struct fake *f = *state;
	ks_loop_server_stop(&f->ls);
	json_decref(f->store);
	json_decref(f->log);
	json_decref(f->posts);
	json_decref(f->forbidden);
	pthread_mutex_destroy(&f->mu);
	free(f);
	return 0;
}

static json_t *js(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, 0, &je);
	if (!v)
		fail_msg("bad test JSON: %s (%s)", je.text, text);
	return v;
}

static ks_kube_client *client(struct fake *f)
{
	ks_kube_config cfg = {0};
	char *server = ks_xasprintf("http://127.0.0.1:%d", f->ls.port);
	cfg.server = server;
	ks_kube_client_opts o;
	ks_kube_client_opts_default(&o);
	o.max_retries = 0;
	ks_kube_client *c = NULL;
	ks_error err;
	assert_int_equal(ks_kube_client_new(&c, &cfg, &o, &err), 0);
	free(server);
	return c;
}

static ks_sync_plan *plan_for(const char *spec_text, json_t *live)
{
	json_t *spec = js(spec_text);
	ks_sync_plan *p = NULL;
	ks_error err;
	assert_int_equal(ks_sync_plan_scope(&p, spec, &err), 0);
	ks_sync_plan_opts o = {.prune = true};
	assert_int_equal(ks_sync_plan_build(p, spec, live, &o, &err), 0);
	json_decref(spec);
	return p;
}

static const char *result_of(const json_t *report, const char *id,
			     const char **msg)
{
	size_t i;
	const json_t *e;
	json_array_foreach(report, i, e)
	{
		if (!strcmp(json_string_value(json_object_get(e, "id")), id)) {
			if (msg)
				*msg = json_string_value(
					json_object_get(e, "message"));
			return json_string_value(json_object_get(e, "result"));
		}
	}
	return "(none)";
}

static bool logged(const struct fake *f, const char *line)
{
	size_t i;
	const json_t *e;
	json_array_foreach(f->log, i, e) if (!strcmp(json_string_value(e),
						     line)) return true;
	return false;
}

#define RES(id, deps, attrs)                                                   \
	"{\"id\":\"" id "\",\"dependsOn\":" deps ",\"extensions\":{"           \
	"\"kusync.io/app\":\"s-p-a\"},\"attributes\":" attrs "}"
#define LABELS                                                                 \
	"\"labels\":{\"kusync.io/app\":\"s-p-a\",\"kusync.io/stack\":\"s-p\"}"

static const char *spec1 =
	"{\"apps\":[{\"name\":\"s-p-a\",\"project\":\"s\",\"stack\":"
	"\"p\"}],"
	"\"resources\":["
	"{\"id\":\"v1:Namespace:ns\",\"attributes\":{\"apiVersion\":"
	"\"v1\","
	"\"kind\":\"Namespace\",\"metadata\":{\"name\":\"ns\"}}}," RES(
		"v1:ConfigMap:ns:bad", "[]",
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
		"\"metadata\":{"
		"\"name\":\"bad\",\"namespace\":\"ns\"," LABELS
		"}}") "," RES("v1:ConfigMap:ns:ok", "[]",
			      "{\"apiVersion\":\"v1\",\"kind\":"
			      "\"ConfigMap\",\"metadata\":{"
			      "\"name\":\"ok\",\"namespace\":"
			      "\"ns\"," LABELS
			      "}}") "," RES("v1:Secret:ns:db-mysql-"
					    "local-secret",
					    "[]",
					    "{\"apiVersion\":\"v1\","
					    "\"kind\":\"Secret\","
					    "\"metadata\":{"
					    "\"name\":\"db-mysql-local-"
					    "secret\",\"namespace\":"
					    "\"ns\","
					    "\"annotations\":{\"kusync."
					    "io/"
					    "generate\":\"password\"}"
					    "," LABELS
					    "}}") "," RES("v1:Secret:"
							  "ns:db-mysql",
							  "[]",
							  "{\"apiVersio"
							  "n\":\"v1\","
							  "\"kind\":"
							  "\"Secret\","
							  "\"metadata\""
							  ":{"
							  "\"name\":"
							  "\"db-"
							  "mysql\","
							  "\"namespace"
							  "\":\"ns\","
							  "\"annotation"
							  "s\":{"
							  "\"kusync.io/"
							  "generate\":"
							  "\"password\""
							  "}," LABELS
							  "},\"data\":{"
							  "\"username\""
							  ":\"cm9vdA=="
							  "\"}}") "," RES("apps"
									  "/v1:"
									  "Depl"
									  "oyme"
									  "nt:"
									  "ns:"
									  "web",
									  "[\"v"
									  "1:"
									  "Conf"
									  "igMa"
									  "p:"
									  "ns:"
									  "bad"
									  "\"]",
									  "{\"a"
									  "piVe"
									  "rsio"
									  "n\":"
									  "\"ap"
									  "ps/"
									  "v1\""
									  ",\"k"
									  "ind"
									  "\":"
									  "\"De"
									  "ploy"
									  "ment"
									  "\","
									  "\"me"
									  "tada"
									  "ta\""
									  ":"
									  "{\"n"
									  "ame"
									  "\":"
									  "\"we"
									  "b\","
									  "\"na"
									  "mesp"
									  "ace"
									  "\":"
									  "\"ns"
									  "\""
									  "," LABELS
									  "},"
									  "\"sp"
									  "ec\""
									  ":{"
									  "\"re"
									  "plic"
									  "as\""
									  ":1}"
									  "}") "]}";

static void apply_orders_skips_and_generates(void **state)
{
	struct fake *f = *state;
	ks_kube_client *c = client(f);
	json_t *live = json_array();
	/* a leftover to prune: never reached, something failed */
	json_array_append_new(
		live,
		js("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
		   "\"metadata\":{\"name\":\"old\",\"namespace\":\"ns\"," LABELS
		   "}}"));
	json_object_set_new(f->store, "/api/v1/namespaces/ns/configmaps/old",
			    js("{}"));
	ks_sync_plan *p = plan_for(spec1, live);
	json_decref(live);
	json_t *report = NULL;
	ks_error err;
	ks_sync_apply_opts o = {.parallel = 3};
	assert_int_equal(ks_sync_apply(c, p, &o, &report, &err), KS_ERROR);
	assert_string_equal(err.msg, "2 resources were not applied");
	const char *msg = NULL;
	assert_string_equal(result_of(report, "v1:ConfigMap:ns:bad", &msg),
			    "failed");
	assert_string_equal(msg, "apply \"v1:ConfigMap:ns:bad\": configmaps "
				 "\"bad\" is invalid: data: Invalid value: "
				 "nope (422 Invalid)");
	assert_string_equal(
		result_of(report, "apps/v1:Deployment:ns:web", &msg),
		"skipped");
	assert_string_equal(msg, "skipped \"apps/v1:Deployment:ns:web\": it "
				 "depends on \"v1:ConfigMap:ns:bad\", which "
				 "was not applied");
	assert_string_equal(result_of(report, "v1:ConfigMap:ns:ok", NULL),
			    "created");
	assert_string_equal(result_of(report, "v1:Namespace:ns", NULL),
			    "created");
	/* prune did not run after a failure */
	assert_string_equal(result_of(report, "v1:ConfigMap:ns:old", NULL),
			    "(none)");
	assert_non_null(json_object_get(
		f->store, "/api/v1/namespaces/ns/configmaps/old"));
	/* server-side apply with kusync's manager, forced */
	assert_true(logged(f, "PATCH /api/v1/namespaces/ns/configmaps/ok?"
			      "fieldManager=kusync&force=true "
			      "application/apply-patch+yaml"));
	assert_true(logged(f,
			   "PATCH /api/v1/namespaces/ns?fieldManager="
			   "kusync&force=true application/apply-patch+yaml"));
	/* both database Secrets were created once with the same password,
	 * under kusync-generate, before kusync's own apply */
	assert_int_equal(json_array_size(f->posts), 2);
	assert_true(logged(f, "POST /api/v1/namespaces/ns/secrets?fieldManager="
			      "kusync-generate application/json"));
	const char *p0 = json_string_value(json_object_get(
		json_object_get(json_array_get(f->posts, 0), "data"),
		"password"));
	const char *p1 = json_string_value(json_object_get(
		json_object_get(json_array_get(f->posts, 1), "data"),
		"password"));
	assert_non_null(p0);
	assert_string_equal(p0, p1);
	char *dec = NULL;
	size_t len = 0;
	assert_int_equal(ks_base64_decode(p0, &dec, &len), 0);
	assert_int_equal(len, 24);
	free(dec);
	/* kusync's own apply carries the username but never the password */
	json_t *conn = json_object_get(
		f->store, "/api/v1/namespaces/ns/secrets/db-mysql");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(conn, "data"), "username")),
			    "cm9vdA==");
	json_decref(report);
	ks_sync_plan_free(p);

	/* Second run against what is there now: the Secrets exist, so no
	 * POST; with the bad ConfigMap still refused nothing changes. */
	live = json_array();
	const char *key;
	json_t *v;
	json_object_foreach(f->store, key, v)
	{
		if (json_object_get(v, "kind"))
			json_array_append(live, v);
	}
	p = plan_for(spec1, live);
	json_decref(live);
	assert_int_equal(ks_sync_apply(c, p, &o, &report, &err), KS_ERROR);
	assert_int_equal(json_array_size(f->posts), 2);
	json_decref(report);
	ks_sync_plan_free(p);
	ks_kube_client_free(c);
}

static void password_reused_from_the_partner(void **state)
{
	struct fake *f = *state;
	ks_kube_client *c = client(f);
	/* the local secret exists with "pw"; its partner is created with it */
	json_t *live = json_array();
	json_t *ls =
		js("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\""
		   ":{\"name\":\"db-mysql-local-secret\",\"namespace\":"
		   "\"ns\"," LABELS ",\"annotations\":{"
		   "\"kusync.io/generate\":\"password\"}},\"data\":{"
		   "\"password\":\"cHc=\"}}");
	json_array_append(live, ls);
	json_object_set_new(
		f->store, "/api/v1/namespaces/ns/secrets/db-mysql-local-secret",
		ls);
	json_t *ns = js("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
			"\"metadata\":{\"name\":\"ns\"}}");
	json_array_append_new(live, ns);
	const char *spec =
		"{\"apps\":[{\"name\":\"s-p-a\",\"project\":\"s\",\"stack\":"
		"\"p\"}],\"resources\":[" RES(
			"v1:Secret:ns:db-mysql-local-secret", "[]",
			"{\"apiVersion\":\"v1\",\"kind\":\"Secret\","
			"\"metadata\":{"
			"\"name\":\"db-mysql-local-secret\",\"namespace\":"
			"\"ns\","
			"\"annotations\":{\"kusync.io/"
			"generate\":\"password\"}," LABELS
			"}}") "," RES("v1:Secret:ns:db-mysql", "[]",
				      "{\"apiVersion\":\"v1\",\"kind\":"
				      "\"Secret\",\"metadata\":{"
				      "\"name\":\"db-mysql\",\"namespace\":"
				      "\"ns\","
				      "\"annotations\":{\"kusync.io/"
				      "generate\":\"password\"}," LABELS
				      "}}") "]}";
	ks_sync_plan *p = plan_for(spec, live);
	json_decref(live);
	json_t *report = NULL;
	ks_error err;
	assert_int_equal(ks_sync_apply(c, p, NULL, &report, &err), 0);
	assert_int_equal(json_array_size(f->posts), 1);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(json_array_get(f->posts, 0), "data"),
			"password")),
		"cHc=");
	json_decref(report);
	ks_sync_plan_free(p);
	ks_kube_client_free(c);
}

static void immutable_job_is_replaced_and_prune_runs(void **state)
{
	struct fake *f = *state;
	ks_kube_client *c = client(f);
	const char *path = "/apis/batch/v1/namespaces/ns/jobs/migrate";
	json_t *old = js("{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\","
			 "\"metadata\":{\"name\":\"migrate\",\"namespace\":"
			 "\"ns\"," LABELS "},\"spec\":{\"template\":{\"spec\":"
			 "{\"containers\":[{\"name\":\"m\",\"image\":\"m:1\"}]"
			 "}}}}");
	json_object_set(f->store, path, old);
	json_t *left =
		js("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
		   "\"metadata\":{\"name\":\"old\",\"namespace\":\"ns\"," LABELS
		   "}}");
	json_object_set(f->store, "/api/v1/namespaces/ns/configmaps/old", left);
	json_t *live = json_pack("[O, O]", old, left);
	json_decref(old);
	json_decref(left);
	const char *spec =
		"{\"apps\":[{\"name\":\"s-p-a\",\"project\":\"s\",\"stack\":"
		"\"p\"}],\"resources\":[" RES(
			"batch/v1:Job:ns:migrate", "[]",
			"{\"apiVersion\":\"batch/"
			"v1\",\"kind\":\"Job\",\"metadata\":"
			"{\"name\":\"migrate\",\"namespace\":\"ns\"," LABELS
			"},"
			"\"spec\":{\"template\":{\"spec\":{\"containers\":[{"
			"\"name\":\"m\",\"image\":\"m:2\"}]}}}}") "]}";
	ks_sync_plan *p = plan_for(spec, live);
	json_decref(live);
	assert_int_equal(p->items[0].action, KS_ACT_UPDATE);
	json_t *report = NULL;
	ks_error err;
	assert_int_equal(ks_sync_apply(c, p, NULL, &report, &err), 0);
	assert_string_equal(result_of(report, "batch/v1:Job:ns:migrate", NULL),
			    "applied");
	assert_true(logged(f, "DELETE /apis/batch/v1/namespaces/ns/jobs/"
			      "migrate application/json"));
	const char *img = json_string_value(json_object_get(
		json_array_get(
			json_object_get(
				json_object_get(
					json_object_get(
						json_object_get(
							json_object_get(
								f->store, path),
							"spec"),
						"template"),
					"spec"),
				"containers"),
			0),
		"image"));
	assert_string_equal(img, "m:2");
	/* the orphan was pruned after the successful apply */
	assert_string_equal(result_of(report, "v1:ConfigMap:ns:old", NULL),
			    "deleted");
	assert_null(json_object_get(f->store,
				    "/api/v1/namespaces/ns/configmaps/old"));
	json_decref(report);
	ks_sync_plan_free(p);
	ks_kube_client_free(c);
}

static void live_by_namespace_when_rbac_forbids_cluster_lists(void **state)
{
	struct fake *f = *state;
	ks_kube_client *c = client(f);
	json_object_set_new(f->forbidden, "/api/v1/configmaps", json_true());
	json_object_set_new(f->forbidden, "/api/v1/namespaces", json_true());
	json_object_set_new(
		f->store, "/api/v1/namespaces/ns/configmaps/ok",
		js("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
		   "{\"name\":\"ok\",\"namespace\":\"ns\"," LABELS "}}"));
	json_object_set_new(
		f->store, "/api/v1/namespaces/ns/secrets/db-mysql",
		js("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":"
		   "{\"name\":\"db-mysql\",\"namespace\":\"ns\"," LABELS "}}"));
	json_object_set_new(f->store, "/api/v1/namespaces/ns",
			    js("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
			       "\"metadata\":{\"name\":\"ns\"}}"));
	json_t *spec = js(spec1);
	ks_sync_plan *p = NULL;
	ks_error err;
	assert_int_equal(ks_sync_plan_scope(&p, spec, &err), 0);
	json_t *live = NULL;
	assert_int_equal(ks_sync_fetch_live(c, p, spec, &live, &err), 0);
	/* the ConfigMap through the namespace list, the Secret through the
	 * (allowed) cluster-wide list, the Namespace by name */
	char *s = json_dumps(live, JSON_COMPACT);
	assert_non_null(strstr(s, "\"name\":\"ok\""));
	assert_non_null(strstr(s, "\"name\":\"db-mysql\""));
	assert_non_null(strstr(s, "\"kind\":\"Namespace\""));
	free(s);
	assert_true(logged(
		f, "GET /api/v1/namespaces/ns/configmaps?limit=500&"
		   "labelSelector=kusync.io%2Fstack%20in%20%28s-p%29 -"));
	assert_true(logged(f, "GET /api/v1/namespaces/ns -"));
	assert_int_equal(json_array_size(live), 3);
	json_decref(live);
	json_decref(spec);
	ks_sync_plan_free(p);
	ks_kube_client_free(c);
}

static int apply_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			apply_orders_skips_and_generates, fake_setup,
			fake_teardown),
		cmocka_unit_test_setup_teardown(
			password_reused_from_the_partner, fake_setup,
			fake_teardown),
		cmocka_unit_test_setup_teardown(
			immutable_job_is_replaced_and_prune_runs, fake_setup,
			fake_teardown),
		cmocka_unit_test_setup_teardown(
			live_by_namespace_when_rbac_forbids_cluster_lists,
			fake_setup, fake_teardown),
	};
	return cmocka_run_group_tests_name("sync/apply", tests, NULL, NULL);
}

KS_TEST_GROUP(apply_tests)
