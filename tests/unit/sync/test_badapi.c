/*
 * sync/kube against an API server that answers badly: garbage JSON, a
 * truncated body, a LIST item without metadata, a 200 with an HTML page.
 * Each is a clear error naming what was asked, never a crash or a leak
 * (the sanitizer build checks the latter).
 */
#include "ks_test.h"

#include "loop_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/http.h"
#include "core/mem.h"
#include "sync/kube.h"
#include "sync/sync.h"

struct srv {
	ks_loop_server ls;
};

static const char html[] = "<!doctype html><html><head><title>Sign in"
			   "</title></head><body>proxy login</body></html>";

static void respond(ks_http_exchange *ex, const char *ct, const char *body)
{
	ks_http_header h = {"Content-Type", ct};
	ks_http_respond(ex, 200, &h, 1, body, strlen(body));
}

static void handler(void *ud, const ks_http_request *r, ks_http_exchange *ex)
{
	(void)ud;
	const char *p = r->path;
	bool list = strstr(r->query, "limit=") != NULL;
	if (!strcmp(p, "/api/v1"))
		respond(ex, "application/json",
			"{\"groupVersion\":\"v1\",\"resources\":["
			"{\"name\":\"namespaces\",\"namespaced\":false,"
			"\"kind\":\"Namespace\",\"verbs\":[\"get\",\"list\"]},"
			"{\"name\":\"configmaps\",\"namespaced\":true,"
			"\"kind\":\"ConfigMap\",\"verbs\":[\"get\",\"list\"]}"
			"]}");
	else if (list && (!strcmp(p, "/api/v1/namespaces") ||
			  !strcmp(p, "/api/v1/configmaps")))
		respond(ex, "application/json",
			"{\"kind\":\"List\",\"metadata\":{},\"items\":[]}");
	else if (!strcmp(p, "/api/v1/namespaces/ns"))
		respond(ex, "text/html", html);
	else if (!strcmp(p, "/api/v1/namespaces/ns/configmaps/cm"))
		respond(ex, "application/json", "{\"metadata\":{\"name");
	else if (!strcmp(p, "/api/v1/namespaces/garbage/configmaps"))
		respond(ex, "application/json", "{\"kind\": ConfigMapList, ]");
	else if (!strcmp(p, "/api/v1/namespaces/truncated/configmaps"))
		respond(ex, "application/json",
			"{\"kind\":\"ConfigMapList\",\"metadata\":{},"
			"\"items\":[{\"metadata\":{\"name\":\"a\",\"namesp");
	else if (!strcmp(p, "/api/v1/namespaces/nometa/configmaps"))
		respond(ex, "application/json",
			"{\"kind\":\"ConfigMapList\",\"metadata\":{},"
			"\"items\":[{\"metadata\":{\"name\":\"a\"}},"
			"{\"data\":{\"k\":\"v\"}}]}");
	else if (!strcmp(p, "/api/v1/namespaces/notobj/configmaps"))
		respond(ex, "application/json",
			"{\"kind\":\"ConfigMapList\",\"metadata\":{},"
			"\"items\":[\"a\",7]}");
	else if (!strcmp(p, "/api/v1/namespaces/html/configmaps") ||
		 !strcmp(p, "/apis/html.example/v1") || !strcmp(p, "/html"))
		respond(ex, "text/html; charset=utf-8", html);
	else if (!strcmp(p, "/apis/garbage.example/v1"))
		respond(ex, "application/json", "[[[{\"groupVersion\":");
	else if (!strcmp(p, "/api/v1/namespaces/ok/configmaps"))
		respond(ex, "application/json",
			"{\"kind\":\"ConfigMapList\",\"metadata\":{},"
			"\"items\":[{\"metadata\":{\"name\":\"a\"}}]}");
	else
		ks_http_respond(ex, 404, NULL, 0, "404 page not found\n", 19);
}

static int setup(void **state)
{
	struct srv *s = ks_xcalloc(1, sizeof(*s));
	ks_loop_server_start(&s->ls, handler, s);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct srv *s = *state;
	ks_loop_server_stop(&s->ls);
	free(s);
	return 0;
}

static ks_kube_client *client(struct srv *s)
{
	ks_kube_config cfg = {0};
	char *server = ks_xasprintf("http://127.0.0.1:%d", s->ls.port);
	cfg.server = server;
	cfg.token = (char *)"t";
	cfg.namespace = (char *)"default";
	ks_kube_client_opts o;
	ks_kube_client_opts_default(&o);
	o.max_retries = 0;
	ks_kube_client *c = NULL;
	ks_error err;
	assert_int_equal(ks_kube_client_new(&c, &cfg, &o, &err), 0);
	free(server);
	return c;
}

static const ks_kube_resource cm = {.api_version = "v1",
				    .kind = "ConfigMap",
				    .name = "configmaps",
				    .namespaced = true,
				    .verbs = KS_VERB_LIST};

/* Lists NS and expects failure with a message containing every WANT. */
static void list_fails(ks_kube_client *c, const char *ns, const char *want1,
		       const char *want2)
{
	json_t *items = NULL;
	ks_error err;
	memset(&err, 0, sizeof(err));
	int rc = ks_kube_list(c, &cm, ns, NULL, &items, &err);
	if (rc >= 0)
		fail_msg("list %s succeeded", ns);
	assert_null(items);
	if (!strstr(err.msg, want1) || (want2 && !strstr(err.msg, want2)))
		fail_msg("list %s: message \"%s\" lacks \"%s\"/\"%s\"", ns,
			 err.msg, want1, want2 ? want2 : "");
}

static void list_refuses_bad_answers(void **state)
{
	ks_kube_client *c = client(*state);
	/* the good answer works, so the failures below are the answers' */
	json_t *items = NULL;
	ks_error err;
	assert_int_equal(ks_kube_list(c, &cm, "ok", NULL, &items, &err), 0);
	assert_int_equal(json_array_size(items), 1);
	json_decref(items);

	list_fails(c, "garbage", "list configmaps: ", "not JSON");
	list_fails(c, "truncated", "list configmaps: ", "not JSON");
	list_fails(c, "html", "list configmaps: ", "not JSON");
	list_fails(c, "nometa", "list configmaps: ", "metadata.name");
	list_fails(c, "notobj", "list configmaps: ", "metadata.name");
	list_fails(c, "nometa", "item 1 has no metadata.name", NULL);
	ks_kube_client_free(c);
}

static void discovery_refuses_bad_answers(void **state)
{
	ks_kube_client *c = client(*state);
	ks_kube_resource r;
	ks_error err;
	assert_int_equal(ks_kube_discover(c, "html.example/v1", "W", &r, &err),
			 KS_EENV);
	assert_non_null(strstr(err.msg, "not an APIResourceList"));
	assert_int_equal(
		ks_kube_discover(c, "garbage.example/v1", "W", &r, &err),
		KS_EENV);
	assert_non_null(strstr(err.msg, "not an APIResourceList"));
	ks_kube_client_free(c);
}

static void request_keeps_non_json_body(void **state)
{
	ks_kube_client *c = client(*state);
	ks_kube_req req = {.method = "GET", .path = "/html"};
	ks_kube_resp resp;
	ks_error err;
	/* a 200 is a success at this level; the body is kept, json is NULL */
	assert_int_equal(ks_kube_request(c, &req, &resp, &err), 0);
	assert_int_equal(resp.status, 200);
	assert_null(resp.json);
	assert_int_equal(resp.body.len, strlen(html));
	ks_kube_resp_release(&resp);
	ks_kube_client_free(c);
}

/* The objects of the Spec that no LIST found are fetched one by one: a
 * 200 whose body is not an object must not read as "it does not exist"
 * (which would plan a create over a live object). */
static void fetch_live_refuses_a_non_object_get(void **state)
{
	ks_kube_client *c = client(*state);
	json_error_t je;
	json_t *spec = json_loads(
		"{\"apps\":[{\"name\":\"s-p-a\",\"project\":\"s\","
		"\"stack\":\"p\"}],\"resources\":[{\"id\":"
		"\"v1:Namespace:ns\",\"attributes\":{\"apiVersion\":\"v1\","
		"\"kind\":\"Namespace\",\"metadata\":{\"name\":\"ns\"}}},"
		"{\"id\":\"v1:ConfigMap:ns:cm\",\"dependsOn\":[],"
		"\"extensions\":{\"kusync.io/app\":\"s-p-a\"},"
		"\"attributes\":{\"apiVersion\":\"v1\",\"kind\":"
		"\"ConfigMap\",\"metadata\":{\"name\":\"cm\","
		"\"namespace\":\"ns\"}}}]}",
		0, &je);
	assert_non_null(spec);
	ks_sync_plan *p = NULL;
	ks_error err;
	assert_int_equal(ks_sync_plan_scope(&p, spec, &err), 0);
	json_t *live = NULL;
	assert_int_equal(ks_sync_fetch_live(c, p, spec, &live, &err), KS_EENV);
	assert_null(live);
	if (!strstr(err.msg, "get \"v1:") ||
	    !strstr(err.msg, "the answer is not a JSON object"))
		fail_msg("message: %s", err.msg);
	json_decref(spec);
	ks_sync_plan_free(p);
	ks_kube_client_free(c);
}

/* A raw server that promises a longer body than it sends, then hangs up:
 * the connection is cut mid-body, not a JSON that happens to be short. */
struct cut {
	int fd;
	int port;
	pthread_t thread;
};

static void *cut_run(void *arg)
{
	struct cut *k = arg;
	int cfd = accept(k->fd, NULL, NULL);
	if (cfd < 0)
		return NULL;
	char buf[4096];
	ssize_t n = recv(cfd, buf, sizeof(buf), 0);
	(void)n;
	static const char ans[] =
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		"Content-Length: 400\r\n\r\n"
		"{\"kind\":\"ConfigMapList\",\"items\":[{\"metadata\":";
	ssize_t w = send(cfd, ans, sizeof(ans) - 1, MSG_NOSIGNAL);
	(void)w;
	close(cfd);
	return NULL;
}

static void list_reports_a_cut_connection(void **state)
{
	(void)state;
	struct cut k = {0};
	k.fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(k.fd >= 0);
	struct sockaddr_in a = {0};
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(k.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(k.fd, 1), 0);
	socklen_t al = sizeof(a);
	assert_int_equal(getsockname(k.fd, (struct sockaddr *)&a, &al), 0);
	k.port = ntohs(a.sin_port);
	pthread_create(&k.thread, NULL, cut_run, &k);

	ks_kube_config cfg = {0};
	char *server = ks_xasprintf("http://127.0.0.1:%d", k.port);
	cfg.server = server;
	ks_kube_client_opts o;
	ks_kube_client_opts_default(&o);
	o.max_retries = 0;
	ks_kube_client *c = NULL;
	ks_error err;
	assert_int_equal(ks_kube_client_new(&c, &cfg, &o, &err), 0);
	free(server);
	json_t *items = NULL;
	memset(&err, 0, sizeof(err));
	int rc = ks_kube_list(c, &cm, "cut", NULL, &items, &err);
	pthread_join(k.thread, NULL);
	close(k.fd);
	assert_null(items);
	/* curl's words: "Transferred a partial file" */
	assert_int_equal(rc, KS_EENV);
	if (!strstr(err.msg, "list configmaps: ") ||
	    !strstr(err.msg, "partial"))
		fail_msg("message: %s", err.msg);
	ks_kube_client_free(c);
}

static int badapi_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(list_refuses_bad_answers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(discovery_refuses_bad_answers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			fetch_live_refuses_a_non_object_get, setup, teardown),
		cmocka_unit_test(list_reports_a_cut_connection),
		cmocka_unit_test_setup_teardown(request_keeps_non_json_body,
						setup, teardown),
	};
	return cmocka_run_group_tests_name("sync/badapi", tests, NULL, NULL);
}

KS_TEST_GROUP(badapi_tests)
