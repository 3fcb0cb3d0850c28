/* The client commands against a stub agent: the requests they send
 * (method, path, Authorization, JSON body), what they print, and their
 * exit codes. */
#include "ks_test.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "agent/cli.h"
#include "core/http.h"
#include "core/mem.h"

#define MAX_ROUTES 8

typedef struct route {
	const char *method, *path;
	int status;
	const char *body;
} route;

/* A stub agent on its own loop thread: canned answers by method and
 * path, and a record of the last request. */
typedef struct stub {
	uv_loop_t loop;
	uv_async_t stop;
	ks_http_server *http;
	pthread_t thread;
	int port;
	char url[64];
	pthread_mutex_t mu;
	route routes[MAX_ROUTES];
	size_t nroutes;
	unsigned nrequests;
	char method[16], path[256], auth[256], ctype[128], body[4096];
	size_t body_len;
} stub;

static stub S;

static void copy_to(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static void on_request(void *ud, const ks_http_request *req,
		       ks_http_exchange *ex)
{
	stub *s = ud;
	pthread_mutex_lock(&s->mu);
	s->nrequests++;
	copy_to(s->method, sizeof(s->method), req->method);
	copy_to(s->path, sizeof(s->path), req->path);
	copy_to(s->auth, sizeof(s->auth),
		ks_http_request_header(req, "Authorization"));
	copy_to(s->ctype, sizeof(s->ctype),
		ks_http_request_header(req, "Content-Type"));
	copy_to(s->body, sizeof(s->body), req->body);
	s->body_len = req->body_len;
	const route *r = NULL;
	for (size_t i = 0; i < s->nroutes; i++)
		if (!strcmp(s->routes[i].method, req->method) &&
		    !strcmp(s->routes[i].path, req->path))
			r = &s->routes[i];
	int status = r ? r->status : 404;
	const char *body = r ? r->body : "{\"error\": \"no such route\"}";
	pthread_mutex_unlock(&s->mu);
	ks_http_header h = {"Content-Type", "application/json"};
	ks_http_respond(ex, status, &h, 1, body, strlen(body));
}

static void on_stop(uv_async_t *a)
{
	stub *s = a->data;
	ks_http_server_close(s->http, NULL, NULL);
	uv_close((uv_handle_t *)&s->stop, NULL);
}

static void *run(void *arg)
{
	stub *s = arg;
	uv_run(&s->loop, UV_RUN_DEFAULT);
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	memset(&S, 0, sizeof(S));
	pthread_mutex_init(&S.mu, NULL);
	if (uv_loop_init(&S.loop) || uv_async_init(&S.loop, &S.stop, on_stop))
		return -1;
	S.stop.data = &S;
	S.http = ks_http_server_new(&S.loop, NULL, on_request, &S);
	ks_error err;
	if (ks_http_server_listen(S.http, "127.0.0.1:0", &err))
		return -1;
	S.port = ks_http_server_port(S.http);
	snprintf(S.url, sizeof(S.url), "http://127.0.0.1:%d", S.port);
	unsetenv("KUSYNC_SERVER");
	unsetenv("KUSYNC_TOKEN");
	return pthread_create(&S.thread, NULL, run, &S);
}

static int teardown(void **state)
{
	(void)state;
	uv_async_send(&S.stop);
	pthread_join(S.thread, NULL);
	int rc = uv_loop_close(&S.loop);
	pthread_mutex_destroy(&S.mu);
	return rc;
}

/* Forgets the routes and the last request. */
static void reset(void)
{
	pthread_mutex_lock(&S.mu);
	S.nroutes = 0;
	S.nrequests = 0;
	S.method[0] = S.path[0] = S.auth[0] = S.ctype[0] = S.body[0] = '\0';
	S.body_len = 0;
	pthread_mutex_unlock(&S.mu);
}

static void answer(const char *method, const char *path, int status,
		   const char *body)
{
	pthread_mutex_lock(&S.mu);
	assert_true(S.nroutes < MAX_ROUTES);
	S.routes[S.nroutes++] = (route){method, path, status, body};
	pthread_mutex_unlock(&S.mu);
}

typedef struct outcome {
	int rc;
	char *out, *err;
} outcome;

static char *slurp(FILE *fp)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	char chunk[4096];
	size_t n;
	rewind(fp);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		ks_buf_append(&b, chunk, n);
	fclose(fp);
	char *s = ks_buf_detach(&b, NULL);
	return s ? s : ks_xstrdup("");
}

/* Runs FN with the NULL-terminated arguments, stdout and stderr
 * captured. */
static outcome run_cmd(int (*fn)(int, char **), ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;
	va_start(ap, fn);
	const char *a;
	while ((a = va_arg(ap, const char *)) && argc < 15)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	FILE *fo = tmpfile(), *fe = tmpfile();
	assert_non_null(fo);
	assert_non_null(fe);
	fflush(stdout);
	fflush(stderr);
	int so = dup(1), se = dup(2);
	dup2(fileno(fo), 1);
	dup2(fileno(fe), 2);
	outcome o;
	o.rc = fn(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	o.out = slurp(fo);
	o.err = slurp(fe);
	return o;
}

static void outcome_free(outcome *o)
{
	free(o->out);
	free(o->err);
}

static void expect(const outcome *o, int rc, const char *out, const char *err)
{
	if (o->rc != rc || (out && strcmp(o->out, out)) ||
	    (err && strcmp(o->err, err))) {
		fprintf(stderr,
			"rc %d (want %d)\n--- stdout:\n%s--- want:\n%s"
			"--- stderr:\n%s--- want:\n%s",
			o->rc, rc, o->out, out ? out : "(any)\n", o->err,
			err ? err : "(any)\n");
		fail();
	}
}

static const char apps_json[] =
	"{\"apps\": ["
	"{\"name\": \"shop-prod-api\", \"source\": \"demo\", \"commit\": "
	"\"3f2a1c9e00000000000000000000000000000001\", \"release\": 4, "
	"\"phase\": \"Succeeded\", \"health\": \"Healthy\", \"drift\": 0, "
	"\"suspended\": false},"
	"{\"name\": \"shop-prod-worker\", \"source\": \"demo\", \"commit\": "
	"\"77aa00bb00000000000000000000000000000002\", \"release\": 2, "
	"\"phase\": \"Failed\", \"health\": \"Degraded\", \"drift\": 3, "
	"\"suspended\": true},"
	"{\"name\": \"new\", \"source\": \"other\", \"commit\": null, "
	"\"release\": null, \"phase\": null, \"health\": \"Missing\", "
	"\"drift\": null, \"suspended\": false}]}";

/* Column widths: NAME 16, SOURCE 6, COMMIT 7, RELEASE 7, PHASE 9, HEALTH
 * 8, DRIFT 5; two spaces between columns. */
static const char apps_table[] =
	"NAME              SOURCE  COMMIT   RELEASE  PHASE      HEALTH    "
	"DRIFT  SUSPENDED\n"
	"shop-prod-api     demo    3f2a1c9  4        Succeeded  Healthy   "
	"0      no\n"
	"shop-prod-worker  demo    77aa00b  2        Failed     Degraded  "
	"3      yes\n"
	"new               other   -        -        -          Missing   "
	"-      no\n";

static void status_table(void **state)
{
	(void)state;
	reset();
	answer("GET", "/api/v1/apps", 200, apps_json);
	outcome o = run_cmd(ks_cmd_status, "status", "--server", S.url,
			    "--token", "tok-secret-1", NULL);
	/* one app's latest release failed: exit 1 */
	expect(&o, KS_EXIT_FINDINGS, apps_table, "");
	assert_string_equal(S.method, "GET");
	assert_string_equal(S.path, "/api/v1/apps");
	assert_string_equal(S.auth, "Bearer tok-secret-1");
	assert_int_equal(S.nrequests, 1);
	outcome_free(&o);

	/* all fine: 0; server and token from the environment, the server
	 * URL with a trailing slash */
	reset();
	answer("GET", "/api/v1/apps", 200,
	       "{\"apps\": [{\"name\": \"a\", \"source\": \"s\", \"commit\": "
	       "\"abcdef0123\", \"release\": 1, \"phase\": "
	       "\"AwaitingApproval\", \"health\": \"Healthy\", \"drift\": 0, "
	       "\"suspended\": false}]}");
	char url[80];
	snprintf(url, sizeof(url), "%s/", S.url);
	setenv("KUSYNC_SERVER", url, 1);
	setenv("KUSYNC_TOKEN", "tok-env", 1);
	o = run_cmd(ks_cmd_status, "status", NULL);
	unsetenv("KUSYNC_SERVER");
	unsetenv("KUSYNC_TOKEN");
	expect(&o, KS_EXIT_OK,
	       "NAME  SOURCE  COMMIT   RELEASE  PHASE             HEALTH   "
	       "DRIFT  SUSPENDED\n"
	       "a     s       abcdef0  1        AwaitingApproval  Healthy  "
	       "0      no\n",
	       "");
	assert_string_equal(S.path, "/api/v1/apps");
	assert_string_equal(S.auth, "Bearer tok-env");
	outcome_free(&o);

	/* no apps; json output is the agent's answer, pretty */
	reset();
	answer("GET", "/api/v1/apps", 200, "{\"apps\": []}");
	o = run_cmd(ks_cmd_status, "status", "--server", S.url, NULL);
	expect(&o, KS_EXIT_OK, "no apps\n", "");
	assert_string_equal(S.auth, ""); /* no token: no header */
	outcome_free(&o);
	o = run_cmd(ks_cmd_status, "status", "--server", S.url, "-o", "json",
		    NULL);
	expect(&o, KS_EXIT_OK, "{\n  \"apps\": []\n}\n", "");
	outcome_free(&o);
}

static const char app_json[] =
	"{\"name\": \"shop-prod-api\", \"source\": \"demo\", \"commit\": "
	"\"3f2a1c9e00000000000000000000000000000001\", \"health\": "
	"\"Progressing\", \"suspended\": false, \"release\": {\"app\": "
	"\"shop-prod-api\", \"number\": 5, \"commit\": "
	"\"3f2a1c9e00000000000000000000000000000001\", \"phase\": "
	"\"AwaitingApproval\", \"cells\": [{\"zone\": \"z1\", \"cell\": "
	"\"c1\", \"phase\": \"Pending\"}], \"approvals\": [], \"policy\": "
	"[{\"set\": \"baseline\", \"rule\": \"no-latest\", \"kind\": "
	"\"Deployment\", \"object\": \"x\", \"message\": \"image uses "
	":latest\", \"mandatory\": false}], \"message\": \"waiting for an "
	"approver\", \"plan\": {\"apps\": [{\"app\": \"shop-prod-api\", "
	"\"actions\": [{\"id\": \"a\", \"action\": \"create\"}, {\"id\": "
	"\"b\", \"action\": \"update\"}, {\"id\": \"c\", \"action\": "
	"\"unchanged\"}, {\"id\": \"d\", \"action\": \"update\"}]}]}}, "
	"\"waitingFor\": [], \"error\": {\"message\": \"render failed\", "
	"\"errors\": [{\"file\": \"demo/prod/app.yaml\", \"line\": 3, "
	"\"col\": 5, \"message\": \"x: unknown field\"}, "
	"\"demo/prod/stack.yaml:1:1: bad\"]}}";

static const char releases_json[] =
	"{\"releases\": [{\"number\": 5, \"phase\": \"AwaitingApproval\", "
	"\"commit\": \"3f2a1c9e00000000000000000000000000000001\", "
	"\"startedAt\": \"2026-11-25T08:00:00Z\"}, {\"number\": 4, \"phase\": "
	"\"Succeeded\", \"commit\": "
	"\"0011223344000000000000000000000000000000\", \"startedAt\": "
	"\"2026-11-24T08:00:00Z\", \"message\": \"deployed\"}]}";

static void status_one_app(void **state)
{
	(void)state;
	reset();
	answer("GET", "/api/v1/apps/shop-prod-api", 200, app_json);
	answer("GET", "/api/v1/apps/shop-prod-api/releases", 200,
	       releases_json);
	outcome o = run_cmd(ks_cmd_status, "status", "--server", S.url,
			    "shop-prod-api", "--token", "tok-secret-1", NULL);
	expect(&o, KS_EXIT_OK,
	       "name:       shop-prod-api\n"
	       "source:     demo\n"
	       "commit:     3f2a1c9e00000000000000000000000000000001\n"
	       "health:     Progressing\n"
	       "suspended:  no\n"
	       "release:    5 (AwaitingApproval, commit 3f2a1c9)\n"
	       "  cell z1/c1: Pending\n"
	       "message:    waiting for an approver\n"
	       "policy:     baseline/no-latest (advisory): Deployment x: image "
	       "uses :latest\n"
	       "preview:    1 to create, 2 to update, 0 to delete, 1 "
	       "unchanged\n"
	       "error:\n"
	       "  render failed\n"
	       "  demo/prod/app.yaml:3:5: x: unknown field\n"
	       "  demo/prod/stack.yaml:1:1: bad\n"
	       "releases:\n"
	       "  5    AwaitingApproval       3f2a1c9  2026-11-25T08:00:00Z\n"
	       "  4    Succeeded              0011223  2026-11-24T08:00:00Z  "
	       "deployed\n",
	       "");
	assert_int_equal(S.nrequests, 2);
	assert_string_equal(S.path, "/api/v1/apps/shop-prod-api/releases");
	assert_string_equal(S.auth, "Bearer tok-secret-1");
	outcome_free(&o);

	/* json: the app as the agent sent it, one request */
	reset();
	answer("GET", "/api/v1/apps/x", 200,
	       "{\"name\": \"x\", \"release\": {\"number\": 2, \"phase\": "
	       "\"Blocked\"}}");
	o = run_cmd(ks_cmd_status, "status", "-o", "json", "--server", S.url,
		    "x", NULL);
	expect(&o, KS_EXIT_FINDINGS,
	       "{\n  \"name\": \"x\",\n  \"release\": {\n    \"number\": 2,\n"
	       "    \"phase\": \"Blocked\"\n  }\n}\n",
	       "");
	assert_int_equal(S.nrequests, 1);
	outcome_free(&o);

	/* waiting for dependencies; no release history */
	reset();
	answer("GET", "/api/v1/apps/x", 200,
	       "{\"name\": \"x\", \"source\": \"s\", \"commit\": null, "
	       "\"health\": \"Missing\", \"suspended\": true, \"drift\": 2, "
	       "\"status\": \"WaitingForDependencies\", \"waitingCommit\": "
	       "\"abcdef1234\", \"release\": "
	       "{\"number\": 1, \"phase\": \"WaitingForDependencies\"}, "
	       "\"waitingFor\": [\"shop-prod-db\", {\"app\": \"cache\"}]}");
	answer("GET", "/api/v1/apps/x/releases", 200, "{\"releases\": []}");
	o = run_cmd(ks_cmd_status, "status", "--server", S.url, "x", NULL);
	expect(&o, KS_EXIT_OK,
	       "name:       x\n"
	       "source:     s\n"
	       "commit:     -\n"
	       "health:     Missing\n"
	       "suspended:  yes\n"
	       "drift:      2\n"
	       "status:     WaitingForDependencies\n"
	       "next:       commit abcdef1 waits for the running release\n"
	       "release:    1 (WaitingForDependencies)\n"
	       "waiting for: shop-prod-db, cache\n",
	       "");
	outcome_free(&o);
}

static void refusals_and_failures(void **state)
{
	(void)state;
	reset();
	answer("GET", "/api/v1/apps/nope", 404,
	       "{\"error\": \"unknown app \\\"nope\\\"\"}");
	outcome o = run_cmd(ks_cmd_status, "status", "--server", S.url,
			    "--token", "tok-secret-1", "nope", NULL);
	expect(&o, KS_EXIT_USAGE, "", "kusync: unknown app \"nope\"\n");
	outcome_free(&o);

	reset();
	answer("GET", "/api/v1/apps", 401, "{\"error\": \"bad token\"}");
	o = run_cmd(ks_cmd_status, "status", "--server", S.url, "--token",
		    "tok-secret-1", NULL);
	expect(&o, KS_EXIT_ENV, "",
	       "kusync: the agent refused the token (401): bad token\n");
	outcome_free(&o);

	reset();
	answer("POST", "/api/v1/apps/a/sync", 403,
	       "{\"error\": \"approver role needed\"}");
	o = run_cmd(ks_cmd_sync, "sync", "--server", S.url, "a", NULL);
	expect(&o, KS_EXIT_ENV, "",
	       "kusync: the token's role is too low for this (403): approver "
	       "role needed\n");
	outcome_free(&o);

	reset();
	answer("POST", "/api/v1/apps/a/suspend", 500, "oops");
	o = run_cmd(ks_cmd_suspend, "suspend", "--server", S.url, "a", NULL);
	expect(&o, KS_EXIT_ENV, "", "kusync: the agent answered 500: oops\n");
	outcome_free(&o);

	reset();
	answer("POST", "/api/v1/apps/a/resume", 422,
	       "{\"error\": \"wrong fields\"}");
	o = run_cmd(ks_cmd_resume, "resume", "--server", S.url, "a", NULL);
	expect(&o, KS_EXIT_USAGE, "", "kusync: wrong fields\n");
	outcome_free(&o);

	reset();
	answer("POST", "/api/v1/apps/a/resume", 400, "{\"error\": \"bad\"}");
	o = run_cmd(ks_cmd_resume, "resume", "--server", S.url, "a", NULL);
	expect(&o, KS_EXIT_USAGE, "", "kusync: bad\n");
	outcome_free(&o);

	/* 200 that is not JSON */
	reset();
	answer("GET", "/api/v1/apps", 200, "<html>");
	o = run_cmd(ks_cmd_status, "status", "--server", S.url, NULL);
	expect(&o, KS_EXIT_ENV, "",
	       "kusync: the agent's answer to GET /api/v1/apps is not JSON\n");
	outcome_free(&o);

	/* nobody listening (port 1 is privileged and unused here) */
	o = run_cmd(ks_cmd_status, "status", "--server", "http://127.0.0.1:1",
		    "--token", "tok-secret-1", NULL);
	expect(&o, KS_EXIT_ENV, "", NULL);
	assert_non_null(strstr(o.err, "kusync: cannot reach the agent at "
				      "http://127.0.0.1:1: "));
	assert_null(strstr(o.err, "tok-secret-1"));
	outcome_free(&o);
}

static void approve(void **state)
{
	(void)state;
	reset();
	answer("POST", "/api/v1/apps/shop-prod-api/approve", 200,
	       "{\"app\": \"shop-prod-api\", \"release\": 5, \"phase\": "
	       "\"Deploying\", \"commit\": \"3f2a1c9e\"}");
	outcome o = run_cmd(ks_cmd_approve, "approve", "--server", S.url,
			    "--token", "tok-secret-1", "shop-prod-api",
			    "3F2A1C9", "--comment", "lgtm \"really\"", NULL);
	expect(&o, KS_EXIT_OK,
	       "approved shop-prod-api: release 5 (Deploying)\n", "");
	assert_string_equal(S.method, "POST");
	assert_string_equal(S.path, "/api/v1/apps/shop-prod-api/approve");
	assert_string_equal(S.auth, "Bearer tok-secret-1");
	assert_string_equal(S.ctype, "application/json");
	assert_string_equal(S.body, "{\"revision\":\"3F2A1C9\",\"comment\":"
				    "\"lgtm \\\"really\\\"\"}");
	outcome_free(&o);

	/* by release number, no comment; json output */
	reset();
	answer("POST", "/api/v1/apps/a/approve", 200, "{\"number\": 12}");
	o = run_cmd(ks_cmd_approve, "approve", "--server", S.url, "-o", "json",
		    "a", "12", NULL);
	expect(&o, KS_EXIT_OK, "{\n  \"number\": 12\n}\n", "");
	assert_string_equal(S.body, "{\"revision\":\"12\",\"comment\":\"\"}");
	outcome_free(&o);

	/* nothing awaiting approval with that revision */
	reset();
	answer("POST", "/api/v1/apps/a/approve", 409,
	       "{\"error\": \"no release of \\\"a\\\" awaits approval with "
	       "revision 12\"}");
	o = run_cmd(ks_cmd_approve, "approve", "--server", S.url, "a", "12",
		    NULL);
	expect(&o, KS_EXIT_USAGE, "",
	       "kusync: no release of \"a\" awaits approval with revision "
	       "12\n");
	outcome_free(&o);

	/* refused before any request */
	reset();
	o = run_cmd(ks_cmd_approve, "approve", "--server", S.url, "a", "3f2a1",
		    NULL);
	expect(&o, KS_EXIT_USAGE, "",
	       "kusync: revision \"3f2a1\" is neither a commit id (7 or more "
	       "hex digits) nor a release number\n");
	outcome_free(&o);
	o = run_cmd(ks_cmd_approve, "approve", "--server", S.url, "a",
		    "zzzzzzz", NULL);
	expect(&o, KS_EXIT_USAGE, "", NULL);
	outcome_free(&o);
	o = run_cmd(ks_cmd_approve, "approve", "--server", S.url, "a", NULL);
	expect(&o, KS_EXIT_USAGE, "",
	       "kusync: missing APP and REVISION; run 'kusync approve "
	       "--help'\n");
	outcome_free(&o);
	assert_int_equal(S.nrequests, 0);
}

static void rollback_and_simple_actions(void **state)
{
	(void)state;
	reset();
	answer("POST", "/api/v1/apps/a/rollback", 200,
	       "{\"app\": \"a\", \"release\": 7, \"phase\": \"Succeeded\", "
	       "\"commit\": \"0011223344\"}");
	outcome o = run_cmd(ks_cmd_rollback, "rollback", "--server", S.url, "a",
			    "3", NULL);
	expect(&o, KS_EXIT_OK, "rolled back a: release 7 (Succeeded)\n", "");
	assert_string_equal(S.body, "{\"release\":3}");
	assert_string_equal(S.ctype, "application/json");
	outcome_free(&o);

	/* with a comment; the rollback release failed: exit 1 */
	reset();
	answer("POST", "/api/v1/apps/a/rollback", 200,
	       "{\"app\": \"a\", \"release\": 8, \"phase\": \"Failed\", "
	       "\"commit\": \"0011223344\"}");
	o = run_cmd(ks_cmd_rollback, "rollback", "--server", S.url, "a", "3",
		    "--comment", "bad deploy", NULL);
	expect(&o, KS_EXIT_FINDINGS, "rolled back a: release 8 (Failed)\n", "");
	assert_string_equal(S.body,
			    "{\"comment\":\"bad deploy\",\"release\":3}");
	outcome_free(&o);

	/* without a release: no body at all */
	reset();
	answer("POST", "/api/v1/apps/a/rollback", 202, "{}");
	o = run_cmd(ks_cmd_rollback, "rollback", "--server", S.url, "a", NULL);
	expect(&o, KS_EXIT_OK, "rolled back a\n", "");
	assert_int_equal(S.body_len, 0);
	assert_string_equal(S.ctype, "");
	outcome_free(&o);

	/* the previous release does not exist */
	reset();
	answer("POST", "/api/v1/apps/a/rollback", 409,
	       "{\"error\": \"no succeeded release to roll back to\"}");
	o = run_cmd(ks_cmd_rollback, "rollback", "--server", S.url, "a", NULL);
	expect(&o, KS_EXIT_USAGE, "",
	       "kusync: no succeeded release to roll back to\n");
	outcome_free(&o);

	reset();
	o = run_cmd(ks_cmd_rollback, "rollback", "--server", S.url, "a", "x3",
		    NULL);
	expect(&o, KS_EXIT_USAGE, "",
	       "kusync: release \"x3\" is not a release number\n");
	outcome_free(&o);
	o = run_cmd(ks_cmd_rollback, "rollback", "--server", S.url, "a", "0",
		    NULL);
	expect(&o, KS_EXIT_USAGE, "", NULL);
	outcome_free(&o);
	assert_int_equal(S.nrequests, 0);

	static const struct {
		int (*fn)(int, char **);
		const char *cmd, *path, *out;
	} simple[] = {
		{ks_cmd_sync, "sync", "/api/v1/apps/a-b/sync",
		 "sync requested for a-b\n"},
		{ks_cmd_suspend, "suspend", "/api/v1/apps/a-b/suspend",
		 "suspended a-b\n"},
		{ks_cmd_resume, "resume", "/api/v1/apps/a-b/resume",
		 "resumed a-b\n"},
	};
	for (size_t i = 0; i < 3; i++) {
		reset();
		/* the agent answers suspend/resume with the app's view:
		 * its release is not what the action did */
		answer("POST", simple[i].path, i ? 200 : 202,
		       i ? "{\"name\": \"a-b\", \"release\": {\"number\": "
			   "4, \"phase\": \"Failed\"}}"
			 : "{\"app\": \"a-b\", \"sync\": \"started\"}");
		o = run_cmd(simple[i].fn, simple[i].cmd, "--server", S.url,
			    "--token=tok-secret-1", "a-b", NULL);
		expect(&o, KS_EXIT_OK, simple[i].out, "");
		assert_string_equal(S.method, "POST");
		assert_string_equal(S.path, simple[i].path);
		assert_string_equal(S.auth, "Bearer tok-secret-1");
		assert_int_equal(S.body_len, 0);
		outcome_free(&o);
	}

	/* an app name with characters a path must escape */
	reset();
	answer("POST", "/api/v1/apps/a b/sync", 202, "");
	o = run_cmd(ks_cmd_sync, "sync", "--server", S.url, "a b", NULL);
	expect(&o, KS_EXIT_OK, "sync requested for a b\n", "");
	outcome_free(&o);
}

static void tokens_and_usage(void **state)
{
	(void)state;
	char path[] = "/tmp/ks-client-token-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "tok-from-file\n", 14), 14);
	close(fd);
	reset();
	answer("POST", "/api/v1/apps/a/sync", 202, "{}");
	setenv("KUSYNC_TOKEN", "tok-env", 1);
	outcome o = run_cmd(ks_cmd_sync, "sync", "--server", S.url,
			    "--token-file", path, "a", NULL);
	expect(&o, KS_EXIT_OK, "sync requested for a\n", "");
	assert_string_equal(S.auth, "Bearer tok-from-file");
	outcome_free(&o);
	/* --token beats the environment */
	o = run_cmd(ks_cmd_sync, "sync", "--server", S.url, "--token", "tok-x",
		    "a", NULL);
	expect(&o, KS_EXIT_OK, NULL, "");
	assert_string_equal(S.auth, "Bearer tok-x");
	outcome_free(&o);
	unsetenv("KUSYNC_TOKEN");
	o = run_cmd(ks_cmd_sync, "sync", "--server", S.url, "--token", "t",
		    "--token-file", path, "a", NULL);
	expect(&o, KS_EXIT_USAGE, "",
	       "kusync: --token and --token-file exclude each other\n");
	outcome_free(&o);
	unlink(path);
	o = run_cmd(ks_cmd_sync, "sync", "--server", S.url, "--token-file",
		    path, "a", NULL);
	expect(&o, KS_EXIT_USAGE, "", NULL);
	assert_non_null(strstr(o.err, "--token-file: "));
	outcome_free(&o);

	reset();
	o = run_cmd(ks_cmd_sync, "sync", "--server", S.url, NULL);
	expect(&o, KS_EXIT_USAGE, "",
	       "kusync: missing APP; run 'kusync sync --help'\n");
	outcome_free(&o);
	o = run_cmd(ks_cmd_suspend, "suspend", "--server", S.url, "a", "b",
		    NULL);
	expect(&o, KS_EXIT_USAGE, "",
	       "kusync: unexpected argument \"b\"; run 'kusync suspend "
	       "--help'\n");
	outcome_free(&o);
	o = run_cmd(ks_cmd_status, "status", "-o", "yaml", NULL);
	expect(&o, KS_EXIT_USAGE, "",
	       "kusync: unknown output format \"yaml\" (want text or json)\n");
	outcome_free(&o);
	o = run_cmd(ks_cmd_status, "status", "--server", "127.0.0.1:8080",
		    NULL);
	expect(&o, KS_EXIT_USAGE, "",
	       "kusync: --server: expected an http:// or https:// URL, got "
	       "\"127.0.0.1:8080\"\n");
	outcome_free(&o);
	o = run_cmd(ks_cmd_status, "status", "--timeout", "soon", NULL);
	expect(&o, KS_EXIT_USAGE, "", NULL);
	outcome_free(&o);
	o = run_cmd(ks_cmd_resume, "resume", "--bogus", "a", NULL);
	expect(&o, KS_EXIT_USAGE, "",
	       "kusync: unknown flag --bogus; run 'kusync resume --help'\n");
	outcome_free(&o);
	assert_int_equal(S.nrequests, 0);
}

static int client_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(status_table),
		cmocka_unit_test(status_one_app),
		cmocka_unit_test(refusals_and_failures),
		cmocka_unit_test(approve),
		cmocka_unit_test(rollback_and_simple_actions),
		cmocka_unit_test(tokens_and_usage),
	};
	return cmocka_run_group_tests_name("agent/client", tests, setup,
					   teardown);
}
KS_TEST_GROUP(client_tests)
