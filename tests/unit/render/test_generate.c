/*
 * ks_generate_app and friends: apps built by hand, the generated resources
 * compared with what spec/appconfiguration.md § Rendering dictates. The
 * expected JSON texts are written out by hand from the spec (label maps
 * sorted by key, keys in the order documented in render/gen.h); the
 * ConfigMap hashes were computed outside the code under test:
 *   printf '%s' '{"index.html":"hi"}' | sha256sum            -> fbf2de94...
 *   printf '%s' '{"a.conf":"x=1\n","b.conf":"y"}' | sha256sum -> da3496d3...
 * (the second with a literal backslash-n, as canonical JSON escapes it).
 */
#include "ks_test.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "render/internal.h"

/* ---- building apps ---------------------------------------------------- */

struct fx {
	ks_arena *a;
	ks_app app;
	ks_workspace_view ws;
	json_t *out;
	ks_errlist *errs;
	int rc;
};

static ks_strmap strmap(ks_arena *a, size_t n, const char *const *kv)
{
	ks_strmap m;
	m.items = ks_arena_alloc(a, (n + 1) * sizeof(*m.items));
	m.n = n;
	for (size_t i = 0; i < n; i++) {
		m.items[i].key = kv[2 * i];
		m.items[i].value = kv[2 * i + 1];
	}
	return m;
}

static ks_strlist strlist(ks_arena *a, size_t n, const char *const *s)
{
	ks_strlist l;
	l.items = ks_arena_alloc(a, (n + 1) * sizeof(*l.items));
	l.n = n;
	for (size_t i = 0; i < n; i++)
		l.items[i] = s[i];
	return l;
}

/* The workspace view without a workspace file (spec § The workspace). */
static void default_ws(ks_workspace_view *ws)
{
	memset(ws, 0, sizeof(*ws));
	ws->service_type = KS_ST_DEPLOYMENT;
	ws->service_replicas = 2;
	ws->job_replicas = 1;
	ws->interval = "30s";
	ws->timeout = "15s";
	ws->scheme = "http";
	ws->mysql_username = "root";
	ws->postgres_username = "root";
	ws->mysql_size = 10;
	ws->postgres_size = 10;
}

/* An app PROJECT/STACK/NAME with one container nginx (image nginx:v1), a
 * Service workload without ports, replicas unset. */
static void fx_init(struct fx *f, const char *project, const char *stack,
		    const char *name)
{
	memset(f, 0, sizeof(*f));
	f->a = ks_arena_new();
	ks_app *app = &f->app;
	app->project = project;
	app->stack = stack;
	app->name = name;
	app->fullname = ks_arena_printf(f->a, "%s-%s-%s", project, stack, name);
	app->where.file = "prod/app.yaml";
	app->where.mark.line = 3;
	app->where.mark.col = 1;
	app->timeout_ms = 600000;
	app->workload.kind = KS_WL_SERVICE;
	app->workload.replicas = -1;
	app->workload.containers =
		ks_arena_alloc(f->a, 4 * sizeof(ks_container));
	app->workload.ncontainers = 1;
	app->workload.containers[0].name = "nginx";
	app->workload.containers[0].image = "nginx:v1";
	default_ws(&f->ws);
	f->out = json_array();
	f->errs = ks_errlist_new();
}

static void fx_free(struct fx *f)
{
	json_decref(f->out);
	ks_errlist_free(f->errs);
	ks_arena_free(f->a);
}

static void fx_ports(struct fx *f, size_t n, const ks_port *ports)
{
	f->app.workload.ports = ks_arena_alloc(f->a, n * sizeof(ks_port));
	memcpy(f->app.workload.ports, ports, n * sizeof(ks_port));
	f->app.workload.nports = n;
}

static int fx_run(struct fx *f, const char *ns)
{
	f->rc = ks_generate_app(f->out, &f->app, &f->ws, ns, f->errs);
	return f->rc;
}

/* ---- looking at the output -------------------------------------------- */

/* Compact JSON in insertion order, compared as text (so key order counts). */
static void assert_json(const json_t *v, const char *expected)
{
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER |
					    JSON_ENCODE_ANY)
		    : NULL;
	if (!s || strcmp(s, expected)) {
		print_error("expected %s\n     got %s\n", expected,
			    s ? s : "(null)");
		free(s);
		fail();
	}
	free(s);
}

/* A member by a dotted path; [N] indexes arrays: "spec.ports[0].name". */
static const json_t *at(const json_t *v, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ".", &save); tok && v;
	     tok = strtok_r(NULL, ".", &save)) {
		char *br = strchr(tok, '[');
		if (br)
			*br = '\0';
		if (*tok)
			v = json_object_get(v, tok);
		while (br && v) {
			v = json_array_get(v, strtoul(br + 1, NULL, 10));
			br = strchr(br + 1, '[');
		}
	}
	return v;
}

static void assert_at(const json_t *v, const char *path, const char *expected)
{
	const json_t *m = at(v, path);
	if (!m)
		print_error("no %s\n", path);
	assert_non_null(m);
	assert_json(m, expected);
}

static const char *id_of(const json_t *out, size_t i)
{
	return json_string_value(json_object_get(json_array_get(out, i), "id"));
}

static const json_t *attrs_of(const json_t *out, size_t i)
{
	return json_object_get(json_array_get(out, i), "attributes");
}

#define N "demo-prod-helloworld"
#define APP_LABELS                                                             \
	"\"app.kubernetes.io/instance\":\"" N "\","                            \
	"\"app.kubernetes.io/name\":\"helloworld\","                           \
	"\"app.kubernetes.io/part-of\":\"demo\""
#define OWNER_LABELS                                                           \
	"\"app.kubernetes.io/managed-by\":\"kusync\","                         \
	"\"kusync.io/app\":\"" N "\",\"kusync.io/stack\":\"demo-prod\""
#define NS_ID "v1:Namespace:demo-prod"

/* ---- small functions -------------------------------------------------- */

static void kind_rank_follows_spec_list(void **state)
{
	(void)state;
	assert_int_equal(ks_kind_rank("Namespace"), 0);
	assert_true(ks_kind_rank("ConfigMap") < ks_kind_rank("Secret"));
	assert_true(ks_kind_rank("Secret") < ks_kind_rank("Service"));
	assert_true(ks_kind_rank("Service") <
		    ks_kind_rank("PersistentVolumeClaim"));
	assert_true(ks_kind_rank("PodTransitionRule") <
		    ks_kind_rank("Deployment"));
	assert_true(ks_kind_rank("Deployment") < ks_kind_rank("CollaSet"));
	assert_true(ks_kind_rank("CronJob") < ks_kind_rank("ServiceMonitor"));
	assert_int_equal(ks_kind_rank("PodMonitor"), 25);
	assert_int_equal(ks_kind_rank("Widget"), 26);
	assert_int_equal(ks_kind_rank("Gadget"), 26);
}

static void resource_ids(void **state)
{
	(void)state;
	char *id = ks_resource_id("apps/v1", "Deployment", "ns", "web");
	assert_string_equal(id, "apps/v1:Deployment:ns:web");
	free(id);
	id = ks_resource_id("v1", "Namespace", NULL, "ns");
	assert_string_equal(id, "v1:Namespace:ns");
	free(id);
	id = ks_resource_id("v1", "Namespace", "", "ns");
	assert_string_equal(id, "v1:Namespace:ns");
	free(id);
}

static void namespace_entry(void **state)
{
	(void)state;
	json_t *ns = ks_generate_namespace("demo-prod");
	assert_json(ns, "{\"id\":\"v1:Namespace:demo-prod\","
			"\"type\":\"Kubernetes\","
			"\"attributes\":{\"apiVersion\":\"v1\","
			"\"kind\":\"Namespace\",\"metadata\":{\"name\":"
			"\"demo-prod\",\"labels\":{\"app.kubernetes.io/"
			"managed-by\":\"kusync\"}}},"
			"\"extensions\":{\"GVK\":\"/v1, Kind=Namespace\"}}");
	json_decref(ns);
}

/* ---- a Service workload with ports ------------------------------------ */

static void plain_service_with_ports(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "demo", "prod", "helloworld");
	ks_port ports[] = {{80, 8080, false, true}, {9090, 9090, true, false}};
	fx_ports(&f, 2, ports);
	assert_int_equal(fx_run(&f, "demo-prod"), 0);
	assert_int_equal(json_array_size(f.out), 3);
	/* Services (rank 12) before the Deployment (rank 18), private first */
	assert_json(
		json_array_get(f.out, 0),
		"{\"id\":\"v1:Service:demo-prod:" N "-private\","
		"\"type\":\"Kubernetes\",\"attributes\":{\"apiVersion\":\"v1\","
		"\"kind\":\"Service\",\"metadata\":{\"name\":\"" N "-private\","
		"\"namespace\":\"demo-prod\",\"labels\":{" OWNER_LABELS "}},"
		"\"spec\":{\"ports\":[{\"name\":\"" N "-private-9090-udp\","
		"\"protocol\":\"UDP\",\"port\":9090,\"targetPort\":9090}],"
		"\"selector\":{" APP_LABELS "},\"type\":\"ClusterIP\"}},"
		"\"dependsOn\":[\"" NS_ID "\"],"
		"\"extensions\":{\"GVK\":\"/v1, Kind=Service\","
		"\"kusync.io/app\":\"" N "\"}}");
	assert_string_equal(id_of(f.out, 1),
			    "v1:Service:demo-prod:" N "-public");
	assert_at(attrs_of(f.out, 1), "spec",
		  "{\"ports\":[{\"name\":\"" N "-public-80-tcp\","
		  "\"protocol\":\"TCP\",\"port\":80,\"targetPort\":8080}],"
		  "\"selector\":{" APP_LABELS "},\"type\":\"LoadBalancer\"}");
	/* no port.type: a plain LoadBalancer, no annotations at all */
	assert_null(at(attrs_of(f.out, 1), "metadata.annotations"));

	const json_t *d = json_array_get(f.out, 2);
	assert_at(d, "id", "\"apps/v1:Deployment:demo-prod:" N "\"");
	assert_at(d, "dependsOn",
		  "[\"" NS_ID "\",\"v1:Service:demo-prod:" N "-private\","
		  "\"v1:Service:demo-prod:" N "-public\"]");
	assert_at(d, "extensions",
		  "{\"GVK\":\"apps/v1, Kind=Deployment\","
		  "\"kusync.io/app\":\"" N "\"}");
	assert_json(json_object_get(d, "attributes"),
		    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		    "\"metadata\":{\"name\":\"" N
		    "\",\"namespace\":\"demo-prod\","
		    "\"labels\":{\"app.kubernetes.io/instance\":\"" N "\","
		    "\"app.kubernetes.io/managed-by\":\"kusync\","
		    "\"app.kubernetes.io/name\":\"helloworld\","
		    "\"app.kubernetes.io/part-of\":\"demo\","
		    "\"kusync.io/app\":\"" N
		    "\",\"kusync.io/stack\":\"demo-prod\"}},"
		    "\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":"
		    "{" APP_LABELS
		    "}},\"template\":{\"metadata\":{\"labels\":{" APP_LABELS
		    "}},\"spec\":{\"containers\":[{\"name\":\"nginx\","
		    "\"image\":\"nginx:v1\"}]}}}}");
	fx_free(&f);
}

/* Workspace labels, app workload labels (winning over the workspace),
 * generated labels (winning over both) and the app's labels/annotations
 * on metadata only. */
static void labels_and_annotations_merge(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "demo", "prod", "helloworld");
	static const char *const ws_labels[] = {"team", "ws", "tier", "web"};
	static const char *const ws_ann[] = {"a", "1"};
	static const char *const wl_labels[] = {"app.kubernetes.io/name",
						"spoof", "team", "app"};
	static const char *const app_labels[] = {"owner", "sre"};
	static const char *const app_ann[] = {"note", "hi"};
	f.ws.service_labels = strmap(f.a, 2, ws_labels);
	f.ws.service_annotations = strmap(f.a, 1, ws_ann);
	f.ws.service_replicas = 3;
	f.app.workload.labels = strmap(f.a, 2, wl_labels);
	f.app.labels = strmap(f.a, 1, app_labels);
	f.app.annotations = strmap(f.a, 1, app_ann);
	ks_port ports[] = {{80, 80, false, false}};
	fx_ports(&f, 1, ports);
	assert_int_equal(fx_run(&f, "demo-prod"), 0);
	assert_int_equal(json_array_size(f.out), 2);
	const json_t *svc = attrs_of(f.out, 0);
	assert_at(svc, "metadata",
		  "{\"name\":\"" N "-private\",\"namespace\":\"demo-prod\","
		  "\"labels\":{" OWNER_LABELS ",\"owner\":\"sre\"},"
		  "\"annotations\":{\"note\":\"hi\"}}");
	const json_t *d = attrs_of(f.out, 1);
	assert_at(d, "metadata.labels",
		  "{\"app.kubernetes.io/instance\":\"" N "\","
		  "\"app.kubernetes.io/managed-by\":\"kusync\","
		  "\"app.kubernetes.io/name\":\"helloworld\","
		  "\"app.kubernetes.io/part-of\":\"demo\","
		  "\"kusync.io/app\":\"" N
		  "\",\"kusync.io/stack\":\"demo-prod\","
		  "\"owner\":\"sre\",\"team\":\"app\",\"tier\":\"web\"}");
	assert_at(d, "metadata.annotations", "{\"a\":\"1\",\"note\":\"hi\"}");
	assert_at(d, "spec.replicas", "3");
	assert_at(d, "spec.selector", "{\"matchLabels\":{" APP_LABELS "}}");
	assert_at(d, "spec.template.metadata",
		  "{\"labels\":{" APP_LABELS
		  ",\"team\":\"app\",\"tier\":\"web\"},"
		  "\"annotations\":{\"a\":\"1\"}}");
	fx_free(&f);
}

static void replicas_zero_stays_zero(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "demo", "prod", "helloworld");
	f.app.workload.replicas = 0;
	f.ws.service_replicas = 5;
	assert_int_equal(fx_run(&f, "demo-prod"), 0);
	assert_int_equal(json_array_size(f.out), 1);
	assert_at(attrs_of(f.out, 0), "spec.replicas", "0");
	/* only the Namespace to depend on */
	assert_at(json_array_get(f.out, 0), "dependsOn", "[\"" NS_ID "\"]");
	fx_free(&f);
}

static void alicloud_public_service(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "demo", "prod", "helloworld");
	static const char *const pl[] = {"lb", "yes"};
	static const char *const pa[] = {"x/y", "z"};
	f.ws.port_type = "alicloud";
	f.ws.port_labels = strmap(f.a, 1, pl);
	f.ws.port_annotations = strmap(f.a, 1, pa);
	ks_port ports[] = {{443, 8443, false, true}};
	fx_ports(&f, 1, ports);
	assert_int_equal(fx_run(&f, "demo-prod"), 0);
	assert_at(attrs_of(f.out, 0), "metadata",
		  "{\"name\":\"" N "-public\",\"namespace\":\"demo-prod\","
		  "\"labels\":{" OWNER_LABELS ",\"lb\":\"yes\"},"
		  "\"annotations\":{\"service.beta.kubernetes.io/"
		  "alibaba-cloud-loadbalancer-spec\":\"slb.s1.small\","
		  "\"x/y\":\"z\"}}");
	fx_free(&f);
}

/* ---- containers ------------------------------------------------------- */

static void containers_files_and_dirs(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "demo", "prod", "helloworld");
	ks_arena *a = f.a;
	f.app.workload.ncontainers = 2;
	ks_container *c = &f.app.workload.containers[0];
	memset(c, 0, sizeof(*c));
	c->name = "app";
	c->image = "app:1";
	static const char *const cmd[] = {"/bin/sh", "-c"};
	static const char *const args[] = {"run"};
	c->command = strlist(a, 2, cmd);
	c->has_command = true;
	c->args = strlist(a, 1, args);
	c->has_args = true;
	static const char *const env[] = {"A", "1", "PW",
					  "secret://creds/password"};
	c->env = strmap(a, 2, env);
	c->workingDir = "/srv";
	c->resources = ks_arena_alloc(a, 2 * sizeof(ks_resource_req));
	c->resources[0] = (ks_resource_req){"cpu", "250m", "1"};
	c->resources[1] = (ks_resource_req){"memory", NULL, "512Mi"};
	c->nresources = 2;
	c->files = ks_arena_alloc(a, 3 * sizeof(ks_file));
	c->files[0] = (ks_file){"/srv/www/index.html", "hi", 0644};
	c->files[1] = (ks_file){"/etc/app/b.conf", "y", 0600};
	c->files[2] = (ks_file){"/etc/app/a.conf", "x=1\n", 0644};
	c->nfiles = 3;
	static const char *const dirs[] = {"/data", "secret://certs", "/cfg",
					   "configmap://shared"};
	c->dirs = strmap(a, 2, dirs);
	static const char *const hdr[] = {"X-A", "b"};
	c->liveness.present = true;
	c->liveness.handler.type = KS_H_HTTP;
	c->liveness.handler.url = "https://example.com:8443/healthz?x=1#frag";
	c->liveness.handler.headers = strmap(a, 1, hdr);
	c->liveness.periodSeconds = 10;
	c->readiness.present = true;
	c->readiness.handler.type = KS_H_HTTP;
	c->readiness.handler.url = "http://localhost";
	c->startup.present = true;
	c->startup.handler.type = KS_H_TCP;
	c->startup.handler.url = "tcp://127.0.0.1:9000";
	c->startup.initialDelaySeconds = 5;
	static const char *const sleep5[] = {"sleep", "5"};
	c->preStop.type = KS_H_EXEC;
	c->preStop.command = strlist(a, 2, sleep5);
	c->postStart.type = KS_H_HTTP;
	c->postStart.url = "http://10.0.0.1:81/start";

	ks_container *s = &f.app.workload.containers[1];
	memset(s, 0, sizeof(*s));
	s->name = "sidecar";
	s->image = "busybox";
	s->files = ks_arena_alloc(a, sizeof(ks_file));
	s->files[0] = (ks_file){"/web/index.html", "hi", 0444};
	s->nfiles = 1;
	s->liveness.present = true;
	s->liveness.handler.type = KS_H_TCP;
	s->liveness.handler.url = "db.internal:5432";

	assert_int_equal(fx_run(&f, "demo-prod"), 0);
	/* three ConfigMaps (rank 9), then the Deployment */
	assert_int_equal(json_array_size(f.out), 4);
	assert_string_equal(id_of(f.out, 0),
			    "v1:ConfigMap:demo-prod:" N "-app-0-da3496d3");
	assert_string_equal(id_of(f.out, 1),
			    "v1:ConfigMap:demo-prod:" N "-app-1-fbf2de94");
	assert_string_equal(id_of(f.out, 2),
			    "v1:ConfigMap:demo-prod:" N "-sidecar-0-fbf2de94");
	assert_json(attrs_of(f.out, 0),
		    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
		    "\"metadata\":{\"name\":\"" N "-app-0-da3496d3\","
		    "\"namespace\":\"demo-prod\",\"labels\":{" OWNER_LABELS
		    "}},\"data\":{\"a.conf\":\"x=1\\n\",\"b.conf\":\"y\"}}");
	assert_at(json_array_get(f.out, 3), "dependsOn",
		  "[\"" NS_ID "\",\"v1:ConfigMap:demo-prod:" N
		  "-app-0-da3496d3\",\"v1:ConfigMap:demo-prod:" N
		  "-app-1-fbf2de94\",\"v1:ConfigMap:demo-prod:" N
		  "-sidecar-0-fbf2de94\"]");
	const json_t *pod = at(attrs_of(f.out, 3), "spec.template.spec");
	assert_non_null(pod);
	assert_at(pod, "containers[0]",
		  "{\"name\":\"app\",\"image\":\"app:1\","
		  "\"command\":[\"/bin/sh\",\"-c\"],\"args\":[\"run\"],"
		  "\"workingDir\":\"/srv\","
		  "\"env\":[{\"name\":\"A\",\"value\":\"1\"},"
		  "{\"name\":\"PW\",\"valueFrom\":{\"secretKeyRef\":"
		  "{\"name\":\"creds\",\"key\":\"password\"}}}],"
		  "\"resources\":{\"limits\":{\"cpu\":\"1\","
		  "\"memory\":\"512Mi\"},\"requests\":{\"cpu\":\"250m\"}},"
		  "\"volumeMounts\":[{\"name\":\"files-0\","
		  "\"mountPath\":\"/etc/app\"},{\"name\":\"files-1\","
		  "\"mountPath\":\"/srv/www\"},{\"name\":\"dirs-0\","
		  "\"mountPath\":\"/data\"},{\"name\":\"dirs-1\","
		  "\"mountPath\":\"/cfg\"}],"
		  "\"livenessProbe\":{\"httpGet\":{\"path\":\"/healthz?x=1\","
		  "\"port\":8443,\"host\":\"example.com\",\"scheme\":\"HTTPS\","
		  "\"httpHeaders\":[{\"name\":\"X-A\",\"value\":\"b\"}]},"
		  "\"periodSeconds\":10},"
		  "\"readinessProbe\":{\"httpGet\":{\"port\":80,"
		  "\"scheme\":\"HTTP\"}},"
		  "\"startupProbe\":{\"tcpSocket\":{\"port\":9000},"
		  "\"initialDelaySeconds\":5},"
		  "\"lifecycle\":{\"postStart\":{\"httpGet\":{\"path\":"
		  "\"/start\",\"port\":81,\"host\":\"10.0.0.1\","
		  "\"scheme\":\"HTTP\"}},\"preStop\":{\"exec\":{\"command\":"
		  "[\"sleep\",\"5\"]}}}}");
	assert_at(pod, "containers[1]",
		  "{\"name\":\"sidecar\",\"image\":\"busybox\","
		  "\"volumeMounts\":[{\"name\":\"files-2\","
		  "\"mountPath\":\"/web\"}],\"livenessProbe\":{\"tcpSocket\":"
		  "{\"host\":\"db.internal\",\"port\":5432}}}");
	assert_at(pod, "volumes",
		  "[{\"name\":\"files-0\",\"configMap\":{\"name\":\"" N
		  "-app-0-da3496d3\",\"items\":[{\"key\":\"a.conf\","
		  "\"path\":\"a.conf\",\"mode\":420},{\"key\":\"b.conf\","
		  "\"path\":\"b.conf\",\"mode\":384}]}},"
		  "{\"name\":\"files-1\",\"configMap\":{\"name\":\"" N
		  "-app-1-fbf2de94\",\"items\":[{\"key\":\"index.html\","
		  "\"path\":\"index.html\",\"mode\":420}]}},"
		  "{\"name\":\"files-2\",\"configMap\":{\"name\":\"" N
		  "-sidecar-0-fbf2de94\",\"items\":[{\"key\":\"index.html\","
		  "\"path\":\"index.html\",\"mode\":292}]}},"
		  "{\"name\":\"dirs-0\",\"secret\":{\"secretName\":\"certs\"}},"
		  "{\"name\":\"dirs-1\",\"configMap\":{\"name\":\"shared\"}}]");
	fx_free(&f);
}

static void http_probe_url_forms(void **state)
{
	(void)state;
	static const struct {
		const char *url, *expected;
	} cases[] = {
		{"http://127.0.0.1:8080/", "{\"path\":\"/\",\"port\":8080,"
					   "\"scheme\":\"HTTP\"}"},
		{"HTTPS://LocalHost", "{\"port\":443,\"scheme\":\"HTTPS\"}"},
		{"http://web?ready=1", "{\"path\":\"/?ready=1\",\"port\":80,"
				       "\"host\":\"web\",\"scheme\":\"HTTP\"}"},
		{"http://[fd00::1]:81/x", "{\"path\":\"/x\",\"port\":81,"
					  "\"host\":\"fd00::1\","
					  "\"scheme\":\"HTTP\"}"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx f;
		fx_init(&f, "demo", "prod", "helloworld");
		ks_container *c = &f.app.workload.containers[0];
		c->readiness.present = true;
		c->readiness.handler.type = KS_H_HTTP;
		c->readiness.handler.url = cases[i].url;
		assert_int_equal(fx_run(&f, "demo-prod"), 0);
		assert_at(attrs_of(f.out, 0),
			  "spec.template.spec.containers[0].readinessProbe."
			  "httpGet",
			  cases[i].expected);
		fx_free(&f);
	}
}

/* ---- secrets ---------------------------------------------------------- */

static void workload_secrets(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "demo", "prod", "helloworld");
	ks_workload *wl = &f.app.workload;
	wl->secrets = ks_arena_alloc(f.a, 3 * sizeof(ks_secret));
	static const char *const basic[] = {"username", "admin", "password",
					    "s3cr3t"};
	static const char *const opaque[] = {"z", "", "a", "app"};
	wl->secrets[0] = (ks_secret){"creds", KS_SECRET_BASIC,
				     strmap(f.a, 2, basic), true};
	wl->secrets[1] = (ks_secret){"misc", KS_SECRET_OPAQUE,
				     strmap(f.a, 2, opaque), false};
	static const char *const token[] = {"token", "app"};
	wl->secrets[2] = (ks_secret){"tok", KS_SECRET_TOKEN,
				     strmap(f.a, 1, token), false};
	wl->nsecrets = 3;
	assert_int_equal(fx_run(&f, "demo-prod"), 0);
	assert_int_equal(json_array_size(f.out), 4);
	assert_json(attrs_of(f.out, 0),
		    "{\"apiVersion\":\"v1\",\"kind\":\"Secret\","
		    "\"metadata\":{\"name\":\"creds\",\"namespace\":"
		    "\"demo-prod\",\"labels\":{" OWNER_LABELS "}},"
		    "\"type\":\"kubernetes.io/basic-auth\","
		    "\"data\":{\"password\":\"czNjcjN0\","
		    "\"username\":\"YWRtaW4=\"},\"immutable\":true}");
	assert_at(attrs_of(f.out, 1), "type", "\"Opaque\"");
	assert_at(attrs_of(f.out, 1), "data", "{\"a\":\"YXBw\",\"z\":\"\"}");
	assert_null(at(attrs_of(f.out, 1), "immutable"));
	assert_at(attrs_of(f.out, 2), "type", "\"Opaque\"");
	assert_at(attrs_of(f.out, 3), "kind", "\"Deployment\"");
	fx_free(&f);
}

/* ---- topologies, CollaSet, opsRule ------------------------------------ */

static void topology_collaset_and_ptr(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "demo", "prod", "helloworld");
	f.ws.service_type = KS_ST_COLLASET;
	f.app.workload.replicas = 0;
	f.app.opsRule = (ks_intorpct){true, true, 30};
	f.app.cells = ks_arena_alloc(f.a, 2 * sizeof(ks_cell));
	f.app.cells[0] = (ks_cell){"ZoneA", "GZ99S"};
	f.app.cells[1] = (ks_cell){"ZoneB", "RZ99K"};
	f.app.ncells = 2;
	ks_port ports[] = {{80, 80, false, false}};
	fx_ports(&f, 1, ports);
	assert_int_equal(fx_run(&f, "demo-prod"), 0);
	/* Service (12), PTRs (17), CollaSets (19) */
	assert_int_equal(json_array_size(f.out), 5);
	assert_string_equal(id_of(f.out, 0),
			    "v1:Service:demo-prod:" N "-private");
	/* Services select all cells */
	assert_at(attrs_of(f.out, 0), "spec.selector", "{" APP_LABELS "}");
	assert_string_equal(id_of(f.out, 1),
			    "apps.kusionstack.io/v1alpha1:PodTransitionRule:"
			    "demo-prod:" N "-gz99s");
	assert_string_equal(id_of(f.out, 2),
			    "apps.kusionstack.io/v1alpha1:PodTransitionRule:"
			    "demo-prod:" N "-rz99k");
	assert_string_equal(id_of(f.out, 3), "apps.kusionstack.io/v1alpha1:"
					     "CollaSet:demo-prod:" N "-gz99s");
	assert_string_equal(id_of(f.out, 4), "apps.kusionstack.io/v1alpha1:"
					     "CollaSet:demo-prod:" N "-rz99k");
#define SEL_A                                                                  \
	APP_LABELS ",\"kusync.io/cell\":\"GZ99S\",\"kusync.io/"                \
		   "zone\":\"ZoneA\""
	assert_json(attrs_of(f.out, 1),
		    "{\"apiVersion\":\"apps.kusionstack.io/v1alpha1\","
		    "\"kind\":\"PodTransitionRule\",\"metadata\":{\"name\":"
		    "\"" N "-gz99s\",\"namespace\":\"demo-prod\",\"labels\":{"
		    "\"app.kubernetes.io/managed-by\":\"kusync\","
		    "\"kusync.io/app\":\"" N "\",\"kusync.io/cell\":\"GZ99S\","
		    "\"kusync.io/stack\":\"demo-prod\","
		    "\"kusync.io/zone\":\"ZoneA\"}},\"spec\":{\"selector\":"
		    "{\"matchLabels\":{" SEL_A "}},\"rules\":[{\"name\":"
		    "\"maxUnavailable\",\"availablePolicy\":"
		    "{\"maxUnavailableValue\":\"30%\"}}]}}");
	const json_t *cs = attrs_of(f.out, 3);
	assert_at(cs, "spec.replicas", "0");
	assert_at(cs, "spec.selector", "{\"matchLabels\":{" SEL_A "}}");
	assert_at(cs, "spec.template.metadata.labels", "{" SEL_A "}");
	assert_at(cs, "spec.template.spec",
		  "{\"containers\":[{\"name\":\"nginx\",\"image\":"
		  "\"nginx:v1\"}],\"nodeSelector\":{\"kusync.io/cell\":"
		  "\"GZ99S\",\"topology.kubernetes.io/zone\":\"ZoneA\"}}");
	assert_null(at(cs, "spec.strategy"));
	assert_at(attrs_of(f.out, 4), "spec.template.spec.nodeSelector",
		  "{\"kusync.io/cell\":\"RZ99K\","
		  "\"topology.kubernetes.io/zone\":\"ZoneB\"}");
	assert_at(json_array_get(f.out, 4), "dependsOn",
		  "[\"" NS_ID "\",\"v1:Service:demo-prod:" N "-private\","
		  "\"apps.kusionstack.io/v1alpha1:PodTransitionRule:"
		  "demo-prod:" N "-gz99s\",\"apps.kusionstack.io/v1alpha1:"
		  "PodTransitionRule:demo-prod:" N "-rz99k\"]");
	assert_at(json_array_get(f.out, 4), "extensions.GVK",
		  "\"apps.kusionstack.io/v1alpha1, Kind=CollaSet\"");
	fx_free(&f);
}

static void workspace_opsrule_on_deployment(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "demo", "prod", "helloworld");
	f.ws.opsRule = (ks_intorpct){true, true, 25};
	assert_int_equal(fx_run(&f, "demo-prod"), 0);
	assert_int_equal(json_array_size(f.out), 1);
	assert_at(attrs_of(f.out, 0), "spec.strategy",
		  "{\"type\":\"RollingUpdate\",\"rollingUpdate\":"
		  "{\"maxUnavailable\":\"25%\"}}");
	fx_free(&f);

	/* the app's block wins, and an int stays an int */
	fx_init(&f, "demo", "prod", "helloworld");
	f.ws.opsRule = (ks_intorpct){true, true, 25};
	f.app.opsRule = (ks_intorpct){true, false, 1};
	assert_int_equal(fx_run(&f, "demo-prod"), 0);
	assert_at(attrs_of(f.out, 0), "spec.strategy.rollingUpdate",
		  "{\"maxUnavailable\":1}");
	fx_free(&f);

	/* the workspace module alone does not apply to Jobs */
	fx_init(&f, "demo", "prod", "helloworld");
	f.ws.opsRule = (ks_intorpct){true, true, 25};
	f.ws.service_type = KS_ST_COLLASET;
	f.app.workload.kind = KS_WL_JOB;
	assert_int_equal(fx_run(&f, "demo-prod"), 0);
	assert_int_equal(json_array_size(f.out), 1);
	assert_at(attrs_of(f.out, 0), "kind", "\"Job\"");
	fx_free(&f);
}

/* ---- jobs ------------------------------------------------------------- */

static void job_and_cronjob(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "demo", "prod", "helloworld");
	static const char *const jl[] = {"kind", "batch"};
	static const char *const sl[] = {"kind", "service"};
	f.ws.job_labels = strmap(f.a, 1, jl);
	f.ws.service_labels = strmap(f.a, 1, sl);
	f.app.workload.kind = KS_WL_JOB;
	f.app.workload.replicas = 4; /* ignored */
	f.app.workload.schedule = "";
	assert_int_equal(fx_run(&f, "demo-prod"), 0);
	assert_int_equal(json_array_size(f.out), 1);
	assert_string_equal(id_of(f.out, 0), "batch/v1:Job:demo-prod:" N);
	assert_at(attrs_of(f.out, 0), "spec",
		  "{\"template\":{\"metadata\":{\"labels\":{" APP_LABELS
		  ",\"kind\":\"batch\"}},\"spec\":{\"containers\":[{\"name\":"
		  "\"nginx\",\"image\":\"nginx:v1\"}],\"restartPolicy\":"
		  "\"Never\"}}}");
	fx_free(&f);

	fx_init(&f, "demo", "prod", "helloworld");
	f.app.workload.kind = KS_WL_JOB;
	f.app.workload.schedule = "*/5 * * * *";
	assert_int_equal(fx_run(&f, "demo-prod"), 0);
	assert_string_equal(id_of(f.out, 0), "batch/v1:CronJob:demo-prod:" N);
	assert_at(json_array_get(f.out, 0), "extensions.GVK",
		  "\"batch/v1, Kind=CronJob\"");
	assert_at(attrs_of(f.out, 0), "spec",
		  "{\"schedule\":\"*/5 * * * *\",\"jobTemplate\":{\"spec\":"
		  "{\"template\":{\"metadata\":{\"labels\":{" APP_LABELS
		  "}},\"spec\":{\"containers\":[{\"name\":\"nginx\","
		  "\"image\":\"nginx:v1\"}],\"restartPolicy\":\"Never\"}}}}}");
	fx_free(&f);
}

/* ---- databases -------------------------------------------------------- */

#define W "demo-prod-web"
#define W_OWNER                                                                \
	"\"app.kubernetes.io/managed-by\":\"kusync\","                         \
	"\"kusync.io/app\":\"" W "\",\"kusync.io/stack\":\"demo-prod\""

static void mysql_local_database(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "demo", "prod", "web");
	f.ws.mysql_size = 20;
	f.app.databases = ks_arena_alloc(f.a, sizeof(ks_database));
	f.app.databases[0] = (ks_database){"main", KS_DB_MYSQL, "8.0"};
	f.app.ndatabases = 1;
	static const char *const env[] = {"A", "1"};
	f.app.workload.containers[0].env = strmap(f.a, 1, env);
	assert_int_equal(fx_run(&f, "demo-prod"), 0);
	/* Secrets (10), Service (12), PVC (16), Deployments (18) */
	assert_int_equal(json_array_size(f.out), 6);
	assert_string_equal(id_of(f.out, 0),
			    "v1:Secret:demo-prod:main-mysql-local-secret");
	assert_string_equal(id_of(f.out, 1), "v1:Secret:demo-prod:main-mysql");
	assert_string_equal(id_of(f.out, 2),
			    "v1:Service:demo-prod:main-mysql-local-service");
	assert_string_equal(
		id_of(f.out, 3),
		"v1:PersistentVolumeClaim:demo-prod:main-mysql-local-pvc");
	assert_string_equal(id_of(f.out, 4),
			    "apps/v1:Deployment:demo-prod:main");
	assert_string_equal(id_of(f.out, 5), "apps/v1:Deployment:demo-prod:" W);
	assert_json(attrs_of(f.out, 0),
		    "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":"
		    "{\"name\":\"main-mysql-local-secret\",\"namespace\":"
		    "\"demo-prod\",\"labels\":{" W_OWNER "},\"annotations\":"
		    "{\"kusync.io/generate\":\"password\"}},"
		    "\"type\":\"Opaque\"}");
	/* base64 of "main-mysql-local-service.demo-prod.svc" and "root" */
	assert_at(attrs_of(f.out, 1), "data",
		  "{\"hostAddress\":\"bWFpbi1teXNxbC1sb2NhbC1zZXJ2aWNlLmRlbW8tc"
		  "HJvZC5zdmM=\",\"username\":\"cm9vdA==\"}");
	assert_at(attrs_of(f.out, 1), "metadata.annotations",
		  "{\"kusync.io/generate\":\"password\"}");
#define DBSEL                                                                  \
	"{\"app.kubernetes.io/instance\":\"" W "\","                           \
	"\"kusync.io/database\":\"main\"}"
	assert_at(attrs_of(f.out, 2), "spec",
		  "{\"ports\":[{\"name\":\"mysql\",\"protocol\":\"TCP\","
		  "\"port\":3306,\"targetPort\":3306}],\"selector\":" DBSEL
		  ",\"clusterIP\":\"None\"}");
	assert_json(attrs_of(f.out, 3),
		    "{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\","
		    "\"metadata\":{\"name\":\"main-mysql-local-pvc\","
		    "\"namespace\":\"demo-prod\",\"labels\":{" W_OWNER "},"
		    "\"annotations\":{\"kusync.io/prune\":\"false\"}},"
		    "\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],"
		    "\"resources\":{\"requests\":{\"storage\":\"20Gi\"}}}}");
	assert_at(attrs_of(f.out, 4), "spec",
		  "{\"replicas\":1,\"selector\":{\"matchLabels\":" DBSEL "},"
		  "\"strategy\":{\"type\":\"Recreate\"},\"template\":"
		  "{\"metadata\":{\"labels\":" DBSEL "},\"spec\":{"
		  "\"containers\":[{\"name\":\"mysql\",\"image\":"
		  "\"mysql:8.0\",\"env\":[{\"name\":\"MYSQL_ROOT_PASSWORD\","
		  "\"valueFrom\":{\"secretKeyRef\":{\"name\":"
		  "\"main-mysql-local-secret\",\"key\":\"password\"}}}],"
		  "\"ports\":[{\"name\":\"mysql\",\"containerPort\":3306,"
		  "\"protocol\":\"TCP\"}],\"volumeMounts\":[{\"name\":"
		  "\"data\",\"mountPath\":\"/var/lib/mysql\"}]}],"
		  "\"volumes\":[{\"name\":\"data\",\"persistentVolumeClaim\":"
		  "{\"claimName\":\"main-mysql-local-pvc\"}}]}}}");
	assert_at(attrs_of(f.out, 5), "spec.template.spec.containers[0].env",
		  "[{\"name\":\"KUSION_DB_HOST_MAIN\",\"valueFrom\":"
		  "{\"secretKeyRef\":{\"name\":\"main-mysql\",\"key\":"
		  "\"hostAddress\"}}},{\"name\":\"KUSION_DB_USERNAME_MAIN\","
		  "\"valueFrom\":{\"secretKeyRef\":{\"name\":\"main-mysql\","
		  "\"key\":\"username\"}}},{\"name\":"
		  "\"KUSION_DB_PASSWORD_MAIN\",\"valueFrom\":{\"secretKeyRef\":"
		  "{\"name\":\"main-mysql\",\"key\":\"password\"}}},"
		  "{\"name\":\"A\",\"value\":\"1\"}]");
	/* the app's Deployment depends on everything of lower rank */
	assert_int_equal(json_array_size(json_object_get(
				 json_array_get(f.out, 5), "dependsOn")),
			 5);
	fx_free(&f);
}

static void postgres_database_with_user(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "shop", "dev", "api");
	f.ws.postgres_username = "app";
	f.app.databases = ks_arena_alloc(f.a, sizeof(ks_database));
	f.app.databases[0] = (ks_database){"orders-db", KS_DB_POSTGRES, "15"};
	f.app.ndatabases = 1;
	assert_int_equal(fx_run(&f, "shop-dev"), 0);
	assert_int_equal(json_array_size(f.out), 6);
	assert_string_equal(id_of(f.out, 1),
			    "v1:Secret:shop-dev:orders-db-postgres");
	assert_at(attrs_of(f.out, 1), "data",
		  "{\"hostAddress\":\"b3JkZXJzLWRiLXBvc3RncmVzLWxvY2FsLXNlcnZp"
		  "Y2Uuc2hvcC1kZXYuc3Zj\",\"username\":\"YXBw\"}");
	assert_at(attrs_of(f.out, 2), "spec.ports[0].port", "5432");
	assert_at(attrs_of(f.out, 3), "spec.resources.requests.storage",
		  "\"10Gi\"");
	const json_t *db = attrs_of(f.out, 4);
	assert_at(db, "metadata.name", "\"orders-db\"");
	assert_at(db, "spec.template.spec.containers[0].image",
		  "\"postgres:15\"");
	assert_at(db, "spec.template.spec.containers[0].env",
		  "[{\"name\":\"POSTGRES_USER\",\"value\":\"app\"},"
		  "{\"name\":\"POSTGRES_PASSWORD\",\"valueFrom\":"
		  "{\"secretKeyRef\":{\"name\":"
		  "\"orders-db-postgres-local-secret\",\"key\":\"password\"}}},"
		  "{\"name\":\"PGDATA\",\"value\":"
		  "\"/var/lib/postgresql/data/pgdata\"}]");
	assert_at(attrs_of(f.out, 5), "spec.template.spec.containers[0].env[0]",
		  "{\"name\":\"KUSION_DB_HOST_ORDERS_DB\",\"valueFrom\":"
		  "{\"secretKeyRef\":{\"name\":\"orders-db-postgres\","
		  "\"key\":\"hostAddress\"}}}");
	fx_free(&f);
}

/* ---- monitoring ------------------------------------------------------- */

static void monitoring_operator_mode(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "demo", "prod", "helloworld");
	f.ws.has_monitoring = true;
	f.ws.operatorMode = true;
	f.ws.interval = "1m";
	f.ws.timeout = "20s";
	f.ws.scheme = "https";
	f.app.has_monitoring = true;
	f.app.monitoring_path = "/metrics";
	f.app.monitoring_port = "web";
	ks_port ports[] = {{80, 80, false, false}};
	fx_ports(&f, 1, ports);
	assert_int_equal(fx_run(&f, "demo-prod"), 0);
	/* Service (12), Deployment (18), ServiceMonitor (24) */
	assert_int_equal(json_array_size(f.out), 3);
	assert_json(
		json_array_get(f.out, 2),
		"{\"id\":\"monitoring.coreos.com/v1:ServiceMonitor:"
		"demo-prod:" N "-service-monitor\",\"type\":\"Kubernetes\","
		"\"attributes\":{\"apiVersion\":\"monitoring.coreos.com/v1\","
		"\"kind\":\"ServiceMonitor\",\"metadata\":{\"name\":\"" N
		"-service-monitor\",\"namespace\":\"demo-prod\",\"labels\":"
		"{" OWNER_LABELS "}},\"spec\":{\"endpoints\":[{\"port\":"
		"\"web\",\"path\":\"/metrics\",\"interval\":\"1m\","
		"\"scrapeTimeout\":\"20s\",\"scheme\":\"https\"}],"
		"\"selector\":{\"matchLabels\":{\"kusion_monitoring_appname\":"
		"\"" N "\"}}}},\"dependsOn\":[\"" NS_ID "\","
		"\"v1:Service:demo-prod:" N "-private\","
		"\"apps/v1:Deployment:demo-prod:" N "\"],"
		"\"extensions\":{\"GVK\":\"monitoring.coreos.com/v1, "
		"Kind=ServiceMonitor\",\"kusync.io/app\":\"" N "\"}}");
	assert_at(attrs_of(f.out, 0), "metadata.labels",
		  "{\"app.kubernetes.io/managed-by\":\"kusync\","
		  "\"kusion_monitoring_appname\":\"" N "\","
		  "\"kusync.io/app\":\"" N
		  "\",\"kusync.io/stack\":\"demo-prod\"}");
	const json_t *d = attrs_of(f.out, 1);
	assert_at(d, "metadata.labels.kusion_monitoring_appname", "\"" N "\"");
	assert_at(d, "spec.template.metadata.labels",
		  "{" APP_LABELS ",\"kusion_monitoring_appname\":\"" N "\"}");
	assert_at(d, "spec.selector", "{\"matchLabels\":{" APP_LABELS "}}");
	assert_null(at(d, "metadata.annotations"));
	fx_free(&f);

	fx_init(&f, "demo", "prod", "helloworld");
	f.ws.has_monitoring = true;
	f.ws.operatorMode = true;
	f.ws.podMonitor = true;
	f.app.has_monitoring = true;
	assert_int_equal(fx_run(&f, "demo-prod"), 0);
	assert_int_equal(json_array_size(f.out), 2);
	assert_string_equal(id_of(f.out, 1),
			    "monitoring.coreos.com/v1:PodMonitor:demo-prod:" N
			    "-pod-monitor");
	assert_at(
		attrs_of(f.out, 1), "spec",
		"{\"podMetricsEndpoints\":[{\"interval\":\"30s\","
		"\"scrapeTimeout\":\"15s\",\"scheme\":\"http\"}],"
		"\"selector\":{\"matchLabels\":{\"kusion_monitoring_appname\":"
		"\"" N "\"}}}");
	fx_free(&f);
}

static void monitoring_annotations(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "demo", "prod", "helloworld");
	f.app.has_monitoring = true;
	f.app.monitoring_path = "/metrics";
	f.app.monitoring_port = "9100";
	ks_port ports[] = {{80, 80, false, true}};
	fx_ports(&f, 1, ports);
	assert_int_equal(fx_run(&f, "demo-prod"), 0);
	assert_int_equal(json_array_size(f.out), 2);
#define PROM                                                                   \
	"{\"prometheus.io/path\":\"/metrics\",\"prometheus.io/port\":"         \
	"\"9100\",\"prometheus.io/scheme\":\"http\","                          \
	"\"prometheus.io/scrape\":\"true\"}"
	assert_at(attrs_of(f.out, 0), "metadata.annotations", PROM);
	assert_at(attrs_of(f.out, 1), "metadata.annotations", PROM);
	assert_at(attrs_of(f.out, 1), "spec.template.metadata.annotations",
		  PROM);
	assert_at(attrs_of(f.out, 1), "spec.template.metadata.labels",
		  "{" APP_LABELS "}");
	fx_free(&f);
}

/* ---- names that do not fit -------------------------------------------- */

static void service_name_too_long(void **state)
{
	(void)state;
	struct fx f;
	/* N = 10 + 48 = 58 characters: N-private is 66 */
	const char *app = "a23456789012345678901234567890123456789012345678";
	fx_init(&f, "demo", "prod", app);
	ks_port ports[] = {{80, 80, false, false}};
	fx_ports(&f, 1, ports);
	json_array_append_new(f.out, json_string("before"));
	assert_int_equal(fx_run(&f, "demo-prod"), KS_EINVAL);
	assert_int_equal(json_array_size(f.out), 1);
	ks_errlist_sort(f.errs);
	assert_int_equal(ks_errlist_count(f.errs), 2);
	assert_string_equal(
		ks_errlist_get(f.errs, 0),
		"prod/app.yaml:3:1: a23456789012345678901234567890123456789012"
		"345678: service name \"demo-prod-a234567890123456789012345678"
		"90123456789012345678-private\" is longer than 63 characters "
		"(project \"demo\", stack \"prod\", app \"a2345678901234567890"
		"1234567890123456789012345678\")");
	assert_string_equal(
		ks_errlist_get(f.errs, 1),
		"prod/app.yaml:3:1: a23456789012345678901234567890123456789012"
		"345678: service port name \"demo-prod-a2345678901234567890123"
		"4567890123456789012345678-private-80-tcp\" is longer than 63 "
		"characters (project \"demo\", stack \"prod\", app \"a23456789"
		"012345678901234567890123456789012345678\")");
	fx_free(&f);
}

static void cronjob_name_too_long_per_cell(void **state)
{
	(void)state;
	struct fx f;
	/* N = 10 + 38 = 48; N-abcd is 53 > 52 for a CronJob */
	const char *app = "j2345678901234567890123456789012345678";
	fx_init(&f, "demo", "prod", app);
	f.app.workload.kind = KS_WL_JOB;
	f.app.workload.schedule = "@daily";
	f.app.cells = ks_arena_alloc(f.a, 2 * sizeof(ks_cell));
	f.app.cells[0] = (ks_cell){"Z", "AB"};
	f.app.cells[1] = (ks_cell){"Z", "ABCD"};
	f.app.ncells = 2;
	assert_int_equal(fx_run(&f, "demo-prod"), KS_EINVAL);
	assert_int_equal(json_array_size(f.out), 0);
	assert_int_equal(ks_errlist_count(f.errs), 1);
	assert_string_equal(
		ks_errlist_get(f.errs, 0),
		"prod/app.yaml:3:1: j2345678901234567890123456789012345678: "
		"cronjob name \"demo-prod-j234567890123456789012345678901234"
		"5678-abcd\" is longer than 52 characters (project \"demo\", "
		"stack \"prod\", app \"j2345678901234567890123456789012345678\""
		", cell \"ABCD\")");
	fx_free(&f);

	/* the same names as Jobs fit (63) */
	fx_init(&f, "demo", "prod", app);
	f.app.workload.kind = KS_WL_JOB;
	f.app.cells = ks_arena_alloc(f.a, sizeof(ks_cell));
	f.app.cells[0] = (ks_cell){"Z", "ABCD"};
	f.app.ncells = 1;
	assert_int_equal(fx_run(&f, "demo-prod"), 0);
	assert_int_equal(json_array_size(f.out), 1);
	assert_at(attrs_of(f.out, 0), "metadata.name",
		  "\"demo-prod-j2345678901234567890123456789012345678-abcd\"");
	fx_free(&f);
}

static void service_name_must_start_with_letter(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "1shop", "prod", "web");
	ks_port ports[] = {{80, 80, false, false}};
	fx_ports(&f, 1, ports);
	assert_int_equal(fx_run(&f, "1shop-prod"), KS_EINVAL);
	assert_int_equal(ks_errlist_count(f.errs), 1);
	const char *e = ks_errlist_get(f.errs, 0);
	assert_non_null(strstr(e,
			       "web: service name \"1shop-prod-web-private\" "
			       "is not a DNS-1035 label"));
	assert_non_null(strstr(e, "(project \"1shop\", stack \"prod\", "
				  "app \"web\")"));
	fx_free(&f);
}

static void duplicate_ids_are_errors(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, "demo", "prod", "web");
	f.app.databases = ks_arena_alloc(f.a, sizeof(ks_database));
	f.app.databases[0] = (ks_database){"main", KS_DB_MYSQL, "8.0"};
	f.app.ndatabases = 1;
	static const char *const kv[] = {"k", "v"};
	f.app.workload.secrets = ks_arena_alloc(f.a, sizeof(ks_secret));
	f.app.workload.secrets[0] = (ks_secret){"main-mysql", KS_SECRET_OPAQUE,
						strmap(f.a, 1, kv), false};
	f.app.workload.nsecrets = 1;
	assert_int_equal(fx_run(&f, "demo-prod"), KS_EINVAL);
	assert_int_equal(json_array_size(f.out), 0);
	assert_int_equal(ks_errlist_count(f.errs), 1);
	assert_string_equal(ks_errlist_get(f.errs, 0),
			    "prod/app.yaml:3:1: web: two resources have the id "
			    "\"v1:Secret:demo-prod:main-mysql\" (project "
			    "\"demo\", stack \"prod\", app \"web\")");
	fx_free(&f);
}

static int generate_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kind_rank_follows_spec_list),
		cmocka_unit_test(resource_ids),
		cmocka_unit_test(namespace_entry),
		cmocka_unit_test(plain_service_with_ports),
		cmocka_unit_test(labels_and_annotations_merge),
		cmocka_unit_test(replicas_zero_stays_zero),
		cmocka_unit_test(alicloud_public_service),
		cmocka_unit_test(containers_files_and_dirs),
		cmocka_unit_test(http_probe_url_forms),
		cmocka_unit_test(workload_secrets),
		cmocka_unit_test(topology_collaset_and_ptr),
		cmocka_unit_test(workspace_opsrule_on_deployment),
		cmocka_unit_test(job_and_cronjob),
		cmocka_unit_test(mysql_local_database),
		cmocka_unit_test(postgres_database_with_user),
		cmocka_unit_test(monitoring_operator_mode),
		cmocka_unit_test(monitoring_annotations),
		cmocka_unit_test(service_name_too_long),
		cmocka_unit_test(cronjob_name_too_long_per_cell),
		cmocka_unit_test(service_name_must_start_with_letter),
		cmocka_unit_test(duplicate_ids_are_errors),
	};
	return cmocka_run_group_tests_name("render/generate", tests, NULL,
					   NULL);
}

KS_TEST_GROUP(generate_tests)
