/*
 * sync/kube: kubeconfig resolution, exec credentials, backoff and rate-limit
 * arithmetic, and the client against a scripted API server (core/http on
 * its own loop in a thread).
 */
#include "ks_test.h"

#include "loop_server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/http.h"
#include "core/mem.h"
#include "sync/internal.h"
#include "sync/kube.h"

/* ---- helpers ---- */

static char *tmpdir_new(void)
{
	char tmpl[] = "/tmp/ks-sync-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return ks_xstrdup(d);
}

static void write_file(const char *dir, const char *name, const char *text,
		       int mode)
{
	char *p = ks_xasprintf("%s/%s", dir, name);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	chmod(p, (mode_t)mode);
	free(p);
}

static void rm_rf(const char *dir)
{
	char *cmd = ks_xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static json_t *js(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, 0, &je);
	if (!v)
		fail_msg("bad test JSON: %s", je.text);
	return v;
}

/* ---- kubeconfig ---- */

static void kubeconfig_merges_first_wins(void **state)
{
	(void)state;
	char *d1 = tmpdir_new(), *d2 = tmpdir_new();
	write_file(d2, "ca.pem", "CA-FROM-D2", 0644);
	/* a: current-context empty, defines context "dev" -> cluster c1
	 * (not defined here), and user u1 with a token.
	 * b: current-context "dev", defines "dev" again (ignored: a's wins),
	 * cluster c1 with a relative certificate-authority (relative to
	 * b's folder), user u1 again (ignored). */
	json_t *a = js("{\"contexts\":[{\"name\":\"dev\",\"context\":"
		       "{\"cluster\":\"c1\",\"user\":\"u1\",\"namespace\":"
		       "\"team\"}}],\"users\":[{\"name\":\"u1\",\"user\":"
		       "{\"token\":\"tok-a\"}}]}");
	json_t *b = js("{\"current-context\":\"dev\",\"contexts\":[{\"name\":"
		       "\"dev\",\"context\":{\"cluster\":\"zz\",\"user\":"
		       "\"zz\"}}],\"clusters\":[{\"name\":\"c1\",\"cluster\":"
		       "{\"server\":\"https://127.0.0.1:6443/\","
		       "\"certificate-authority\":\"ca.pem\","
		       "\"tls-server-name\":\"kubernetes\"}}],\"users\":"
		       "[{\"name\":\"u1\",\"user\":{\"token\":\"tok-b\"}}]}");
	const json_t *docs[] = {a, b};
	const char *dirs[] = {d1, d2};
	ks_kube_config *c = NULL;
	ks_error err;
	assert_int_equal(
		ks_kube_config_from_json(&c, docs, dirs, 2, NULL, &err), 0);
	assert_string_equal(c->context, "dev");
	assert_string_equal(c->server, "https://127.0.0.1:6443");
	assert_string_equal(c->namespace, "team");
	assert_string_equal(c->token, "tok-a");
	assert_int_equal(c->ca_len, 10);
	assert_memory_equal(c->ca_pem, "CA-FROM-D2", 10);
	assert_string_equal(c->tls_server_name, "kubernetes");
	assert_false(c->insecure);
	ks_kube_config_free(c);

	/* --context picks another (missing) one. */
	assert_int_equal(
		ks_kube_config_from_json(&c, docs, dirs, 2, "prod", &err),
		KS_EINVAL);
	assert_string_equal(err.msg,
			    "context \"prod\" not found in the kubeconfig");
	json_decref(a);
	json_decref(b);
	rm_rf(d1);
	rm_rf(d2);
	free(d1);
	free(d2);
}

static void kubeconfig_data_files_and_exec(void **state)
{
	(void)state;
	char *d = tmpdir_new();
	write_file(d, "client.crt", "CERT", 0644);
	write_file(d, "client.key", "KEY", 0600);
	/* "Q0EtREFUQQ==" is base64 of "CA-DATA"; -data wins over a file. */
	json_t *k = js(
		"{\"current-context\":\"x\",\"contexts\":[{\"name\":\"x\","
		"\"context\":{\"cluster\":\"c\",\"user\":\"u\"}}],"
		"\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":"
		"\"https://h:1\",\"certificate-authority-data\":"
		"\"Q0EtREFUQQ==\",\"certificate-authority\":\"/nonexistent\","
		"\"insecure-skip-tls-verify\":true}}],\"users\":[{\"name\":"
		"\"u\",\"user\":{\"client-certificate\":\"client.crt\","
		"\"client-key\":\"client.key\",\"tokenFile\":\"tok\","
		"\"exec\":{\"apiVersion\":\"client.authentication.k8s.io/v1\","
		"\"command\":\"./bin/cred\",\"args\":[\"get\",\"--x\"],\"env\":"
		"[{\"name\":\"FOO\",\"value\":\"bar\"}],\"provideClusterInfo\":"
		"true,\"installHint\":\"install cred\"}}}]}");
	const json_t *docs[] = {k};
	const char *dirs[] = {d};
	ks_kube_config *c = NULL;
	ks_error err;
	assert_int_equal(ks_kube_config_from_json(&c, docs, dirs, 1, "", &err),
			 0);
	assert_int_equal(c->ca_len, 7);
	assert_memory_equal(c->ca_pem, "CA-DATA", 7);
	assert_true(c->insecure);
	assert_memory_equal(c->cert_pem, "CERT", 4);
	assert_memory_equal(c->key_pem, "KEY", 3);
	char *want = ks_xasprintf("%s/tok", d);
	assert_string_equal(c->token_file, want);
	free(want);
	assert_non_null(c->exec);
	want = ks_xasprintf("%s/./bin/cred", d);
	assert_string_equal(c->exec->command, want);
	free(want);
	assert_int_equal(c->exec->nargs, 2);
	assert_string_equal(c->exec->args[1], "--x");
	assert_int_equal(c->exec->nenv, 1);
	assert_string_equal(c->exec->env[0], "FOO=bar");
	assert_true(c->exec->provide_cluster_info);
	assert_string_equal(c->namespace, "default");
	ks_kube_config_free(c);
	json_decref(k);

	/* A missing referenced file is an error naming the user. */
	k = js("{\"current-context\":\"x\",\"contexts\":[{\"name\":\"x\","
	       "\"context\":{\"cluster\":\"c\",\"user\":\"u\"}}],"
	       "\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":"
	       "\"https://h:1\"}}],\"users\":[{\"name\":\"u\",\"user\":{"
	       "\"client-certificate\":\"gone.crt\",\"client-key\":"
	       "\"client.key\"}}]}");
	docs[0] = k;
	assert_int_equal(
		ks_kube_config_from_json(&c, docs, dirs, 1, NULL, &err),
		KS_EIO);
	assert_non_null(strstr(err.msg, "user \"u\": client-certificate: "));
	assert_non_null(strstr(err.msg, "gone.crt"));
	json_decref(k);

	/* auth-provider alone is refused with a pointer to exec plugins */
	k = js("{\"current-context\":\"x\",\"contexts\":[{\"name\":\"x\","
	       "\"context\":{\"cluster\":\"c\",\"user\":\"u\"}}],"
	       "\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":"
	       "\"https://h:1\"}}],\"users\":[{\"name\":\"u\",\"user\":{"
	       "\"auth-provider\":{\"name\":\"gcp\"}}}]}");
	docs[0] = k;
	assert_int_equal(
		ks_kube_config_from_json(&c, docs, dirs, 1, NULL, &err),
		KS_EINVAL);
	assert_string_equal(err.msg,
			    "user \"u\": auth-provider is not "
			    "supported; use an exec credential plugin");
	json_decref(k);

	/* No current context and none given. */
	k = js("{\"contexts\":[]}");
	docs[0] = k;
	assert_int_equal(
		ks_kube_config_from_json(&c, docs, dirs, 1, NULL, &err),
		KS_EENV);
	json_decref(k);
	rm_rf(d);
	free(d);
}

static void in_cluster_reads_service_account(void **state)
{
	(void)state;
	char *d = tmpdir_new();
	write_file(d, "ca.crt", "SA-CA", 0644);
	write_file(d, "token", "sa-token\n", 0600);
	write_file(d, "namespace", "kusync\n", 0644);
	ks_kube_config *c = NULL;
	ks_error err;
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_equal(ks_kube_config_in_cluster(&c, d, &err), KS_EENV);
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(ks_kube_config_in_cluster(&c, d, &err), 0);
	assert_string_equal(c->server, "https://[fd00::1]:443");
	assert_string_equal(c->namespace, "kusync");
	assert_memory_equal(c->ca_pem, "SA-CA", 5);
	char *want = ks_xasprintf("%s/token", d);
	assert_string_equal(c->token_file, want);
	free(want);
	assert_true(c->in_cluster);
	ks_kube_config_free(c);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	rm_rf(d);
	free(d);
}

static void cred_parse_cases(void **state)
{
	(void)state;
	ks_kube_cred cr;
	ks_error err;
	const char *ok = "{\"apiVersion\":\"client.authentication.k8s.io/v1\","
			 "\"kind\":\"ExecCredential\",\"status\":{\"token\":"
			 "\"t1\",\"expirationTimestamp\":"
			 "\"2026-11-25T08:00:00Z\"}}";
	assert_int_equal(ks_kube_cred_parse(&cr, ok, strlen(ok), "p", &err), 0);
	assert_string_equal(cr.token, "t1");
	assert_true(cr.expires == 1795593600LL);
	ks_kube_cred_release(&cr);
	const char *certs =
		"{\"kind\":\"ExecCredential\",\"status\":{"
		"\"clientCertificateData\":\"-----BEGIN CERTIFICATE-----\\n\","
		"\"clientKeyData\":\"-----BEGIN PRIVATE KEY-----\\n\"}}";
	assert_int_equal(
		ks_kube_cred_parse(&cr, certs, strlen(certs), "p", &err), 0);
	assert_null(cr.token);
	assert_string_equal(cr.cert_pem, "-----BEGIN CERTIFICATE-----\n");
	assert_true(cr.expires == 0);
	ks_kube_cred_release(&cr);
	const char *empty = "{\"kind\":\"ExecCredential\",\"status\":{}}";
	assert_int_equal(
		ks_kube_cred_parse(&cr, empty, strlen(empty), "p", &err),
		KS_EENV);
	assert_non_null(strstr(err.msg, "neither a token"));
	assert_int_equal(ks_kube_cred_parse(&cr, "nope", 4, "p", &err),
			 KS_EENV);
	const char *badtime = "{\"kind\":\"ExecCredential\",\"status\":{"
			      "\"token\":\"x\",\"expirationTimestamp\":"
			      "\"tomorrow\"}}";
	assert_int_equal(
		ks_kube_cred_parse(&cr, badtime, strlen(badtime), "p", &err),
		KS_EENV);
}

static void exec_run_passes_info_and_reports_failure(void **state)
{
	(void)state;
	char *d = tmpdir_new();
	/* The plugin echoes what it got into the token so the test can see
	 * args, env and KUBERNETES_EXEC_INFO. */
	write_file(
		d, "cred",
		"#!/bin/sh\n"
		"case \"$KUBERNETES_EXEC_INFO\" in "
		"*'\"server\":\"https://h:1\"'*)"
		" s=info;; *) s=noinfo;; esac\n"
		"printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
		"\"kind\":\"ExecCredential\",\"status\":{\"token\":"
		"\"%s-%s-%s\"}}' \"$1\" \"$FOO\" \"$s\"\n",
		0755);
	write_file(d, "bad",
		   "#!/bin/sh\necho 'first'>&2\necho 'no login' >&2\n"
		   "exit 3\n",
		   0755);
	ks_kube_exec ex = {0};
	char *cmd = ks_xasprintf("%s/cred", d);
	char *args[] = {(char *)"arg1"};
	char *env[] = {(char *)"FOO=bar"};
	ex.command = cmd;
	ex.args = args;
	ex.nargs = 1;
	ex.env = env;
	ex.nenv = 1;
	ex.api_version = (char *)"client.authentication.k8s.io/v1";
	ex.provide_cluster_info = true;
	ks_kube_config cfg = {0};
	cfg.server = (char *)"https://h:1";
	cfg.exec = &ex;
	ks_kube_cred cr;
	ks_error err;
	assert_int_equal(ks_kube_exec_run(&cr, &cfg, 5000, &err), 0);
	assert_string_equal(cr.token, "arg1-bar-info");
	ks_kube_cred_release(&cr);
	free(cmd);
	cmd = ks_xasprintf("%s/bad", d);
	ex.command = cmd;
	ex.install_hint = (char *)"run 'login'";
	assert_int_equal(ks_kube_exec_run(&cr, &cfg, 5000, &err), KS_EENV);
	assert_non_null(strstr(err.msg, "failed (exit 3): no login; run "
					"'login'"));
	free(cmd);
	ex.command = (char *)"kusync-no-such-plugin";
	assert_int_equal(ks_kube_exec_run(&cr, &cfg, 5000, &err), KS_EENV);
	assert_non_null(strstr(err.msg, "not found in $PATH"));
	rm_rf(d);
	free(d);
}

/* ---- pure arithmetic ---- */

static void backoff_grows_caps_and_honours_retry_after(void **state)
{
	(void)state;
	/* jitter 0 gives the lower bound d/2, jitter ~1 almost d */
	assert_true(ks_kube_backoff_ms(0, 200, 10000, 0, 0.0) == 100);
	assert_true(ks_kube_backoff_ms(0, 200, 10000, 0, 0.99) == 199);
	assert_true(ks_kube_backoff_ms(1, 200, 10000, 0, 0.0) == 200);
	assert_true(ks_kube_backoff_ms(3, 200, 10000, 0, 0.0) == 800);
	assert_true(ks_kube_backoff_ms(20, 200, 10000, 0, 0.0) == 5000);
	assert_true(ks_kube_backoff_ms(20, 200, 10000, 0, 0.5) == 7500);
	/* Retry-After: at least that long, still capped */
	assert_true(ks_kube_backoff_ms(0, 200, 10000, 3000, 0.0) == 3000);
	assert_true(ks_kube_backoff_ms(0, 200, 10000, 60000, 0.0) == 10000);
	/* every jittered value stays in [d/2, d] */
	for (int i = 0; i < 100; i++) {
		int64_t v =
			ks_kube_backoff_ms(2, 200, 10000, 0, ks_sync_rand01());
		assert_true(v >= 400 && v <= 800);
	}
	assert_true(ks_kube_retry_after_ms("2", 0) == 2000);
	assert_true(ks_kube_retry_after_ms(" 0", 0) == 0);
	assert_true(ks_kube_retry_after_ms("soon", 0) == -1);
	assert_true(ks_kube_retry_after_ms("-1", 0) == -1);
	/* 2026-11-25T08:00:00Z is 1795593600 */
	assert_true(ks_kube_retry_after_ms("Wed, 25 Nov 2026 08:00:05 GMT",
					   1795593600) == 5000);
	assert_true(ks_kube_retry_after_ms("Wed, 25 Nov 2026 07:00:00 GMT",
					   1795593600) == 0);
}

static void ratelimit_bursts_then_paces(void **state)
{
	(void)state;
	ks_kube_ratelimit rl;
	ks_kube_ratelimit_init(&rl, 10, 3, 1000);
	assert_true(ks_kube_ratelimit_take(&rl, 1000) == 0);
	assert_true(ks_kube_ratelimit_take(&rl, 1000) == 0);
	assert_true(ks_kube_ratelimit_take(&rl, 1000) == 0);
	/* the bucket is empty: 10 qps means 100 ms per token, queued */
	assert_true(ks_kube_ratelimit_take(&rl, 1000) == 100);
	assert_true(ks_kube_ratelimit_take(&rl, 1000) == 200);
	/* 500 ms later 5 tokens came back, 2 were owed */
	assert_true(ks_kube_ratelimit_take(&rl, 1500) == 0);
	assert_true(ks_kube_ratelimit_take(&rl, 1500) == 0);
	assert_true(ks_kube_ratelimit_take(&rl, 1500) == 0);
	assert_true(ks_kube_ratelimit_take(&rl, 1500) == 100);
	/* a long pause refills only up to the burst */
	assert_true(ks_kube_ratelimit_take(&rl, 100000) == 0);
	assert_true(ks_kube_ratelimit_take(&rl, 100000) == 0);
	assert_true(ks_kube_ratelimit_take(&rl, 100000) == 0);
	assert_true(ks_kube_ratelimit_take(&rl, 100000) == 100);
	ks_kube_ratelimit_init(&rl, 0, 0, 0);
	for (int i = 0; i < 1000; i++)
		assert_true(ks_kube_ratelimit_take(&rl, 0) == 0);
}

static void status_message_reads_status_bodies(void **state)
{
	(void)state;
	char out[512];
	json_t *st = js("{\"kind\":\"Status\",\"apiVersion\":\"v1\","
			"\"status\":\"Failure\",\"message\":\"deployments.apps "
			"\\\"web\\\" is invalid: spec.replicas: Invalid value: "
			"-1\",\"reason\":\"Invalid\",\"code\":422}");
	ks_kube_status_message(out, sizeof(out),
			       "apply \"apps/v1:Deployment:ns:web\"", 422, st,
			       NULL, 0);
	assert_string_equal(out, "apply \"apps/v1:Deployment:ns:web\": "
				 "deployments.apps \"web\" is invalid: "
				 "spec.replicas: Invalid value: -1 (422 "
				 "Invalid)");
	json_decref(st);
	ks_kube_status_message(out, sizeof(out), "list widgets", 404, NULL,
			       "404 page not found\n", 19);
	assert_string_equal(out, "list widgets: the server answered 404: 404 "
				 "page not found");
}

/* ---- the client against a scripted server ---- */

struct srv {
	ks_loop_server ls;
	pthread_mutex_t mu;
	int flaky_left; /* 503s still to send on /flaky */
	int hits_flaky, hits_many, hits_widgets;
	char expect_token[64];
	char last_auth[128];
	char peers[8][64];
	int npeers;
	bool widget_defined;
	int pages;
};

static void respond_json(ks_http_exchange *ex, int status, const char *body)
{
	ks_http_header h = {"Content-Type", "application/json"};
	ks_http_respond(ex, status, &h, 1, body, strlen(body));
}

static void note_peer(struct srv *s, const char *peer)
{
	for (int i = 0; i < s->npeers; i++)
		if (!strcmp(s->peers[i], peer))
			return;
	if (s->npeers < 8)
		snprintf(s->peers[s->npeers++], 64, "%s", peer);
}

static void gzip_respond(ks_http_exchange *ex, const char *text)
{
	unsigned char out[1024];
	z_stream z = {0};
	deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (unsigned char *)(uintptr_t)text;
	z.avail_in = (unsigned)strlen(text);
	z.next_out = out;
	z.avail_out = sizeof(out);
	deflate(&z, Z_FINISH);
	size_t n = sizeof(out) - z.avail_out;
	deflateEnd(&z);
	ks_http_header h[] = {{"Content-Type", "application/json"},
			      {"Content-Encoding", "gzip"}};
	ks_http_respond(ex, 200, h, 2, out, n);
}

static void srv_handler(void *ud, const ks_http_request *r,
			ks_http_exchange *ex)
{
	struct srv *s = ud;
	pthread_mutex_lock(&s->mu);
	note_peer(s, r->peer);
	const char *auth = ks_http_request_header(r, "Authorization");
	snprintf(s->last_auth, sizeof(s->last_auth), "%s", auth ? auth : "");
	if (!strcmp(r->path, "/flaky")) {
		s->hits_flaky++;
		if (s->flaky_left > 0) {
			s->flaky_left--;
			ks_http_header h = {"Retry-After", "1"};
			ks_http_respond(ex, 503, &h, 1, "busy", 4);
		} else {
			respond_json(ex, 200, "{\"ok\":true}");
		}
	} else if (!strcmp(r->path, "/many")) {
		s->hits_many++;
		respond_json(ex, 429,
			     "{\"kind\":\"Status\",\"message\":\"too many "
			     "requests, please try again later\",\"reason\":"
			     "\"TooManyRequests\",\"code\":429}");
	} else if (!strcmp(r->path, "/auth")) {
		char want[128];
		snprintf(want, sizeof(want), "Bearer %s", s->expect_token);
		if (auth && !strcmp(auth, want))
			respond_json(ex, 200, "{}");
		else
			respond_json(ex, 401,
				     "{\"kind\":\"Status\",\"message\":"
				     "\"Unauthorized\",\"reason\":"
				     "\"Unauthorized\",\"code\":401}");
	} else if (!strcmp(r->path, "/gzip")) {
		gzip_respond(ex, "{\"zipped\":\"yes\"}");
	} else if (!strcmp(r->path, "/big")) {
		char big[3000];
		memset(big, 'x', sizeof(big));
		ks_http_respond(ex, 200, NULL, 0, big, sizeof(big));
	} else if (!strcmp(r->path, "/echo") && !strcmp(r->method, "PATCH")) {
		const char *ct = ks_http_request_header(r, "Content-Type");
		char *b =
			ks_xasprintf("{\"ct\":\"%s\",\"len\":%zu,\"q\":\"%s\"}",
				     ct ? ct : "", r->body_len, r->query);
		respond_json(ex, 200, b);
		free(b);
	} else if (!strcmp(r->path, "/api/v1")) {
		respond_json(
			ex, 200,
			"{\"kind\":\"APIResourceList\",\"groupVersion\":\"v1\","
			"\"resources\":[{\"name\":\"configmaps\",\"namespaced\""
			":true,\"kind\":\"ConfigMap\",\"verbs\":[\"create\","
			"\"delete\",\"get\",\"list\",\"patch\"]},{\"name\":"
			"\"namespaces\",\"namespaced\":false,\"kind\":"
			"\"Namespace\",\"verbs\":[\"get\",\"list\"]},{\"name\":"
			"\"pods/status\",\"namespaced\":true,\"kind\":\"Pod\","
			"\"verbs\":[\"get\"]}]}");
	} else if (!strcmp(r->path, "/apis/example.com/v1")) {
		s->hits_widgets++;
		respond_json(
			ex, 200,
			s->widget_defined
				? "{\"groupVersion\":\"example.com/v1\","
				  "\"resources\":[{\"name\":\"widgets\","
				  "\"namespaced\":true,\"kind\":\"Widget\","
				  "\"verbs\":[\"get\",\"list\"]}]}"
				: "{\"groupVersion\":\"example.com/v1\","
				  "\"resources\":[]}");
	} else if (!strcmp(r->path, "/api/v1/namespaces/a b/configmaps")) {
		s->pages++;
		char *cont = ks_http_query_get(r->query, "continue");
		char *sel = ks_http_query_get(r->query, "labelSelector");
		if (!sel || strcmp(sel, "kusync.io/app in (x,y)"))
			respond_json(ex, 400, "{}");
		else if (!cont)
			respond_json(ex, 200,
				     "{\"kind\":\"ConfigMapList\",\"metadata\":"
				     "{\"continue\":\"t=2&\"},\"items\":[{"
				     "\"metadata\":{\"name\":\"one\"}}]}");
		else if (!strcmp(cont, "t=2&"))
			respond_json(ex, 200,
				     "{\"kind\":\"ConfigMapList\",\"metadata\":"
				     "{},\"items\":[{\"metadata\":{\"name\":"
				     "\"two\"}}]}");
		else
			respond_json(ex, 400, "{}");
		free(cont);
		free(sel);
	} else {
		ks_http_header h = {"Content-Type", "text/plain"};
		ks_http_respond(ex, 404, &h, 1, "404 page not found\n", 19);
	}
	pthread_mutex_unlock(&s->mu);
}

static int srv_setup(void **state)
{
	struct srv *s = ks_xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	ks_loop_server_start(&s->ls, srv_handler, s);
	*state = s;
	return 0;
}

static int srv_teardown(void **state)
{
	struct srv *s = *state;
	ks_loop_server_stop(&s->ls);
	pthread_mutex_destroy(&s->mu);
	free(s);
	return 0;
}

static ks_kube_client *client_for(struct srv *s, const char *token,
				  ks_kube_exec *ex, unsigned retries)
{
	ks_kube_config cfg = {0};
	char *server = ks_xasprintf("http://127.0.0.1:%d", s->ls.port);
	cfg.server = server;
	cfg.token = (char *)token;
	cfg.exec = ex;
	cfg.namespace = (char *)"default";
	ks_kube_client_opts o;
	ks_kube_client_opts_default(&o);
	o.max_retries = retries;
	o.backoff_base_ms = 10;
	o.backoff_max_ms = 2000;
	o.max_body = 1000;
	ks_kube_client *c = NULL;
	ks_error err;
	assert_int_equal(ks_kube_client_new(&c, &cfg, &o, &err), 0);
	free(server);
	return c;
}

static int do_get(ks_kube_client *c, const char *path, ks_kube_resp *resp,
		  ks_error *err)
{
	ks_kube_req req = {.method = "GET", .path = path};
	return ks_kube_request(c, &req, resp, err);
}

static void client_retries_honouring_retry_after(void **state)
{
	struct srv *s = *state;
	ks_kube_client *c = client_for(s, "t", NULL, 3);
	ks_kube_resp resp;
	ks_error err;
	s->flaky_left = 2;
	int64_t t0 = ks_sync_now_ms();
	assert_int_equal(do_get(c, "/flaky", &resp, &err), 0);
	int64_t took = ks_sync_now_ms() - t0;
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.attempts, 3);
	assert_true(json_is_true(json_object_get(resp.json, "ok")));
	/* two Retry-After: 1 waits, not the 10 ms base backoff */
	assert_true(took >= 1900);
	ks_kube_resp_release(&resp);
	assert_int_equal(s->hits_flaky, 3);

	/* 429 forever: max_retries + 1 attempts, then the Status message */
	assert_int_equal(do_get(c, "/many", &resp, &err), KS_EENV);
	assert_int_equal(s->hits_many, 4);
	assert_int_equal(resp.status, 429);
	assert_string_equal(err.msg, "GET /many: too many requests, please "
				     "try again later (429 TooManyRequests)");
	ks_kube_resp_release(&resp);
	ks_kube_client_free(c);
}

static void client_errors_gzip_cap_and_reuse(void **state)
{
	struct srv *s = *state;
	ks_kube_client *c = client_for(s, "sekret", NULL, 0);
	ks_kube_resp resp;
	ks_error err;
	assert_int_equal(do_get(c, "/gzip", &resp, &err), 0);
	assert_string_equal(
		json_string_value(json_object_get(resp.json, "zipped")), "yes");
	ks_kube_resp_release(&resp);
	assert_string_equal(s->last_auth, "Bearer sekret");
	assert_int_equal(do_get(c, "/big", &resp, &err), KS_ELIMIT);
	ks_kube_resp_release(&resp);
	assert_int_equal(do_get(c, "/nothing", &resp, &err), KS_ENOTFOUND);
	assert_string_equal(err.msg, "GET /nothing: the server answered 404: "
				     "404 page not found");
	ks_kube_resp_release(&resp);
	ks_kube_req req = {.method = "PATCH",
			   .path = "/echo?fieldManager=kusync&force=true",
			   .content_type = "application/apply-patch+yaml",
			   .body = "{\"a\":1}",
			   .body_len = 7};
	assert_int_equal(ks_kube_request(c, &req, &resp, &err), 0);
	assert_string_equal(json_string_value(json_object_get(resp.json, "ct")),
			    "application/apply-patch+yaml");
	assert_int_equal(json_integer_value(json_object_get(resp.json, "len")),
			 7);
	assert_string_equal(json_string_value(json_object_get(resp.json, "q")),
			    "fieldManager=kusync&force=true");
	ks_kube_resp_release(&resp);
	/* Everything above (including the 404) went over one connection,
	 * except the capped answer, after which curl closes the connection. */
	s->npeers = 0;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(do_get(c, "/gzip", &resp, &err), 0);
		ks_kube_resp_release(&resp);
	}
	assert_int_equal(s->npeers, 1);
	ks_kube_client_free(c);

	/* Nothing listens: a connection error after the retries. */
	ks_kube_config cfg = {0};
	cfg.server = (char *)"http://127.0.0.1:1";
	ks_kube_client_opts o;
	ks_kube_client_opts_default(&o);
	o.max_retries = 2;
	o.backoff_base_ms = 1;
	assert_int_equal(ks_kube_client_new(&c, &cfg, &o, &err), 0);
	assert_int_equal(do_get(c, "/x", &resp, &err), KS_EENV);
	assert_int_equal(resp.attempts, 3);
	assert_non_null(strstr(err.msg, "GET /x: "));
	ks_kube_resp_release(&resp);
	ks_kube_client_free(c);
}

static void client_exec_credential_is_cached(void **state)
{
	struct srv *s = *state;
	char *d = tmpdir_new();
	/* Each run prints the next token: exec-1, exec-2, ... */
	char *script = ks_xasprintf(
		"#!/bin/sh\nn=$(cat %s/count 2>/dev/null || echo 0)\n"
		"n=$((n+1))\necho $n > %s/count\n"
		"printf '{\"kind\":\"ExecCredential\",\"status\":{\"token\":"
		"\"exec-%%s\",\"expirationTimestamp\":\"%s\"}}' $n\n",
		d, d, "2999-01-01T00:00:00Z");
	write_file(d, "cred", script, 0755);
	free(script);
	ks_kube_exec ex = {0};
	ex.command = ks_xasprintf("%s/cred", d);
	ex.api_version = (char *)"client.authentication.k8s.io/v1";
	ks_kube_client *c = client_for(s, NULL, &ex, 0);
	snprintf(s->expect_token, sizeof(s->expect_token), "exec-1");
	ks_kube_resp resp;
	ks_error err;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(do_get(c, "/auth", &resp, &err), 0);
		ks_kube_resp_release(&resp);
	}
	char *count = NULL;
	size_t len;
	char *cpath = ks_xasprintf("%s/count", d);
	assert_int_equal(ks_read_file(cpath, 100, &count, &len, &err), 0);
	assert_string_equal(count, "1\n");
	free(count);
	/* The server now wants another token: the 401 re-runs the plugin
	 * once and the request succeeds. */
	snprintf(s->expect_token, sizeof(s->expect_token), "exec-2");
	assert_int_equal(do_get(c, "/auth", &resp, &err), 0);
	ks_kube_resp_release(&resp);
	/* A token the plugin never gives: one re-run, then 401 stands. */
	snprintf(s->expect_token, sizeof(s->expect_token), "never");
	assert_int_equal(do_get(c, "/auth", &resp, &err), KS_EENV);
	assert_int_equal(resp.status, 401);
	ks_kube_resp_release(&resp);
	assert_int_equal(ks_read_file(cpath, 100, &count, &len, &err), 0);
	assert_string_equal(count, "3\n");
	free(count);
	free(cpath);
	ks_kube_client_free(c);
	free(ex.command);
	rm_rf(d);
	free(d);
}

static void client_token_file(void **state)
{
	struct srv *s = *state;
	char *d = tmpdir_new();
	write_file(d, "token", "from-file\n", 0600);
	ks_kube_config cfg = {0};
	char *server = ks_xasprintf("http://127.0.0.1:%d", s->ls.port);
	cfg.server = server;
	cfg.token_file = ks_xasprintf("%s/token", d);
	ks_kube_client *c = NULL;
	ks_error err;
	assert_int_equal(ks_kube_client_new(&c, &cfg, NULL, &err), 0);
	snprintf(s->expect_token, sizeof(s->expect_token), "from-file");
	ks_kube_resp resp;
	assert_int_equal(do_get(c, "/auth", &resp, &err), 0);
	ks_kube_resp_release(&resp);
	/* rotated on disk: within the minute the old token is still sent */
	write_file(d, "token", "rotated\n", 0600);
	assert_int_equal(do_get(c, "/auth", &resp, &err), 0);
	ks_kube_resp_release(&resp);
	ks_kube_client_free(c);
	/* with a short period the new one is read */
	ks_kube_client_opts o;
	ks_kube_client_opts_default(&o);
	o.token_file_period_ms = 20;
	o.max_retries = 0;
	assert_int_equal(ks_kube_client_new(&c, &cfg, &o, &err), 0);
	write_file(d, "token", "first\n", 0600);
	snprintf(s->expect_token, sizeof(s->expect_token), "first");
	assert_int_equal(do_get(c, "/auth", &resp, &err), 0);
	ks_kube_resp_release(&resp);
	write_file(d, "token", "second\n", 0600);
	snprintf(s->expect_token, sizeof(s->expect_token), "second");
	ks_sync_sleep_ms(30);
	assert_int_equal(do_get(c, "/auth", &resp, &err), 0);
	ks_kube_resp_release(&resp);
	/* a file that disappears keeps the last token */
	char *tp = ks_xasprintf("%s/token", d);
	unlink(tp);
	free(tp);
	ks_sync_sleep_ms(30);
	assert_int_equal(do_get(c, "/auth", &resp, &err), 0);
	ks_kube_resp_release(&resp);
	ks_kube_client_free(c);
	free(cfg.token_file);
	free(server);
	rm_rf(d);
	free(d);
}

static void discovery_caches_and_refreshes_on_miss(void **state)
{
	struct srv *s = *state;
	ks_kube_client *c = client_for(s, "t", NULL, 0);
	ks_kube_resource r;
	ks_error err;
	assert_int_equal(ks_kube_discover(c, "v1", "ConfigMap", &r, &err), 0);
	assert_string_equal(r.name, "configmaps");
	assert_true(r.namespaced);
	assert_true(r.verbs & KS_VERB_PATCH);
	assert_false(r.verbs & KS_VERB_WATCH);
	assert_int_equal(ks_kube_discover(c, "v1", "Namespace", &r, &err), 0);
	assert_false(r.namespaced);
	/* subresources are not kinds of their own */
	assert_int_equal(ks_kube_discover(c, "v1", "Pod", &r, &err),
			 KS_ENOTFOUND);
	assert_int_equal(
		ks_kube_discover(c, "example.com/v1", "Widget", &r, &err),
		KS_ENOTFOUND);
	assert_string_equal(err.msg, "no resource for kind \"Widget\" in "
				     "\"example.com/v1\"");
	assert_int_equal(s->hits_widgets, 1);
	/* the CRD appears: the miss refetches */
	s->widget_defined = true;
	assert_int_equal(
		ks_kube_discover(c, "example.com/v1", "Widget", &r, &err), 0);
	assert_string_equal(r.name, "widgets");
	assert_int_equal(s->hits_widgets, 2);
	/* and a hit does not */
	assert_int_equal(
		ks_kube_discover(c, "example.com/v1", "Widget", &r, &err), 0);
	assert_int_equal(s->hits_widgets, 2);
	assert_int_equal(ks_kube_discover(c, "nope/v1", "X", &r, &err),
			 KS_ENOTFOUND);
	assert_non_null(strstr(err.msg, "does not serve \"nope/v1\""));
	ks_kube_client_free(c);
}

static void list_follows_continue_and_sets_kind(void **state)
{
	struct srv *s = *state;
	ks_kube_client *c = client_for(s, "t", NULL, 0);
	ks_kube_resource r;
	ks_error err;
	assert_int_equal(ks_kube_discover(c, "v1", "ConfigMap", &r, &err), 0);
	char *p = ks_kube_path(&r, "a b", "n/1");
	assert_string_equal(p, "/api/v1/namespaces/a%20b/configmaps/n%2F1");
	free(p);
	json_t *items = NULL;
	assert_int_equal(ks_kube_list(c, &r, "a b", "kusync.io/app in (x,y)",
				      &items, &err),
			 0);
	assert_int_equal(json_array_size(items), 2);
	assert_int_equal(s->pages, 2);
	json_t *two = json_array_get(items, 1);
	assert_string_equal(json_string_value(json_object_get(two, "kind")),
			    "ConfigMap");
	assert_string_equal(
		json_string_value(json_object_get(two, "apiVersion")), "v1");
	json_decref(items);
	ks_kube_resource ns;
	assert_int_equal(ks_kube_discover(c, "v1", "Namespace", &ns, &err), 0);
	p = ks_kube_path(&ns, "ignored", "demo");
	assert_string_equal(p, "/api/v1/namespaces/demo");
	free(p);
	ks_kube_client_free(c);
}

static int kube_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kubeconfig_merges_first_wins),
		cmocka_unit_test(kubeconfig_data_files_and_exec),
		cmocka_unit_test(in_cluster_reads_service_account),
		cmocka_unit_test(cred_parse_cases),
		cmocka_unit_test(exec_run_passes_info_and_reports_failure),
		cmocka_unit_test(backoff_grows_caps_and_honours_retry_after),
		cmocka_unit_test(ratelimit_bursts_then_paces),
		cmocka_unit_test(status_message_reads_status_bodies),
		cmocka_unit_test_setup_teardown(
			client_retries_honouring_retry_after, srv_setup,
			srv_teardown),
		cmocka_unit_test_setup_teardown(
			client_errors_gzip_cap_and_reuse, srv_setup,
			srv_teardown),
		cmocka_unit_test_setup_teardown(
			client_exec_credential_is_cached, srv_setup,
			srv_teardown),
		cmocka_unit_test_setup_teardown(client_token_file, srv_setup,
						srv_teardown),
		cmocka_unit_test_setup_teardown(
			discovery_caches_and_refreshes_on_miss, srv_setup,
			srv_teardown),
		cmocka_unit_test_setup_teardown(
			list_follows_continue_and_sets_kind, srv_setup,
			srv_teardown),
	};
	return cmocka_run_group_tests_name("sync/kube", tests, NULL, NULL);
}

KS_TEST_GROUP(kube_tests)
