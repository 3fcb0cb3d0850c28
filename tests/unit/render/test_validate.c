/*
 * ks_app_validate: one test per rule of spec/appconfiguration.md § Fields,
 * asserting the exact message and position (worked out by hand from the
 * input: value position for a wrong value, key position for an unknown key,
 * the parent key for a missing field).
 */
#include "ks_test.h"

#include <stdlib.h>
#include <string.h>

#include "core/doc.h"
#include "core/error.h"
#include "core/mem.h"
#include "core/yaml.h"
#include "render/internal.h"

struct vresult {
	ks_arena *a;
	ks_doc *doc;
	ks_app app; /* the last app validated */
	int rc;
	char *errors; /* sorted lines joined by '\n' */
};

/* Validates every app of YAML (file "app.yaml", project shop, stack prod). */
static void validate(struct vresult *r, const char *yaml)
{
	memset(r, 0, sizeof(*r));
	r->a = ks_arena_new();
	ks_errlist *errs = ks_errlist_new();
	r->rc = ks_yaml_parse(&r->doc, yaml, strlen(yaml), "app.yaml",
			      KS_YAML_SINGLE, errs);
	if (r->rc == 0) {
		json_t *root = ks_doc_root(r->doc);
		const char *key;
		json_t *v;
		json_object_foreach(root, key, v)
		{
			int rc = ks_app_validate(
				&r->app, r->a, r->doc, key,
				ks_doc_key_info(r->doc, root, key), v, "shop",
				"prod", errs);
			if (rc)
				r->rc = rc;
		}
	}
	ks_errlist_sort(errs);
	ks_buf b;
	ks_buf_init(&b, 0);
	for (size_t i = 0; i < ks_errlist_count(errs); i++)
		ks_buf_printf(&b, "%s%s", i ? "\n" : "",
			      ks_errlist_get(errs, i));
	r->errors = ks_buf_detach(&b, NULL);
	if (!r->errors)
		r->errors = ks_xstrdup("");
	ks_errlist_free(errs);
}

static void vfree(struct vresult *r)
{
	free(r->errors);
	ks_doc_free(r->doc);
	ks_arena_free(r->a);
}

static void expect_errors(const char *yaml, const char *want)
{
	struct vresult r;
	validate(&r, yaml);
	if (strcmp(r.errors, want))
		print_error("input:\n%s\nwant:\n%s\ngot:\n%s\n", yaml, want,
			    r.errors);
	assert_string_equal(r.errors, want);
	assert_int_equal(r.rc, KS_EINVAL);
	vfree(&r);
}

/* Validates YAML that must be valid; R keeps the model for assertions. */
static void expect_ok(struct vresult *r, const char *yaml)
{
	validate(r, yaml);
	if (r->rc)
		print_error("unexpected errors:\n%s\n", r->errors);
	assert_int_equal(r->rc, 0);
	assert_string_equal(r->errors, "");
}

#define HEAD                                                                   \
	"hello:\n"                                                             \
	"  workload:\n"                                                        \
	"    containers:\n"                                                    \
	"      web:\n"                                                         \
	"        image: nginx:1\n"

/* ---- types ------------------------------------------------------------- */

static void int_refuses_a_word(void **state)
{
	(void)state;
	expect_errors("hello:\n"
		      "  workload:\n"
		      "    replicas: two\n"
		      "    containers:\n"
		      "      web: {image: nginx:1}\n",
		      "app.yaml:3:15: hello.workload.replicas: expected an "
		      "integer, got \"two\"");
}

static void int_refuses_a_float_and_a_quoted_number(void **state)
{
	(void)state;
	expect_errors("hello:\n"
		      "  workload:\n"
		      "    replicas: 2.5\n"
		      "    containers:\n"
		      "      web: {image: nginx:1}\n",
		      "app.yaml:3:15: hello.workload.replicas: expected an "
		      "integer, got 2.5");
	expect_errors("hello:\n"
		      "  workload:\n"
		      "    replicas: \"2\"\n"
		      "    containers:\n"
		      "      web: {image: nginx:1}\n",
		      "app.yaml:3:15: hello.workload.replicas: expected an "
		      "integer, got \"2\"");
}

static void int_range(void **state)
{
	(void)state;
	expect_errors("hello:\n"
		      "  workload:\n"
		      "    replicas: -1\n"
		      "    containers:\n"
		      "      web: {image: nginx:1}\n",
		      "app.yaml:3:15: hello.workload.replicas: expected an "
		      "integer >= 0, got -1");
}

static void explicit_zero_replicas_stays_zero(void **state)
{
	(void)state;
	struct vresult r;
	expect_ok(&r, "hello:\n"
		      "  workload:\n"
		      "    replicas: 0\n"
		      "    containers:\n"
		      "      web: {image: nginx:1}\n");
	assert_int_equal(r.app.workload.replicas, 0);
	vfree(&r);
	expect_ok(&r, HEAD);
	assert_int_equal(r.app.workload.replicas, -1);
	assert_int_equal(r.app.workload.kind, KS_WL_SERVICE);
	assert_string_equal(r.app.fullname, "shop-prod-hello");
	assert_int_equal(r.app.where.mark.line, 1);
	assert_int_equal(r.app.where.mark.col, 1);
	vfree(&r);
}

static void bool_refuses_a_string(void **state)
{
	(void)state;
	expect_errors(HEAD "  pipeline:\n"
			   "    deploy:\n"
			   "      manualApprove: \"yes\"\n"
			   "      rollbackIfFailed: yes\n",
		      "app.yaml:8:22: hello.pipeline.deploy.manualApprove: "
		      "expected true or false, got \"yes\"\n"
		      "app.yaml:9:25: hello.pipeline.deploy.rollbackIfFailed: "
		      "expected true or false, got \"yes\"");
}

static void string_takes_scalars_as_written(void **state)
{
	(void)state;
	struct vresult r;
	expect_ok(&r, "hello:\n"
		      "  workload:\n"
		      "    containers:\n"
		      "      web:\n"
		      "        image: nginx:1\n"
		      "        command: [echo, 1, true, 0x1F]\n"
		      "        workingDir: 8.0\n"
		      "  database:\n"
		      "    main: {_type: MySQL, type: local, version: 8.0}\n");
	const ks_container *c = &r.app.workload.containers[0];
	assert_string_equal(c->image, "nginx:1");
	assert_int_equal(c->command.n, 4);
	assert_string_equal(c->command.items[1], "1");
	assert_string_equal(c->command.items[2], "true");
	assert_string_equal(c->command.items[3], "0x1F");
	assert_string_equal(c->workingDir, "8.0");
	assert_string_equal(r.app.databases[0].version, "8.0");
	vfree(&r);
}

static void string_refuses_containers(void **state)
{
	(void)state;
	expect_errors(
		"hello:\n"
		"  workload:\n"
		"    replicas: many\n"
		"    containers:\n"
		"      web:\n"
		"        image: [a]\n"
		"        workingDir: {a: b}\n",
		"app.yaml:3:15: hello.workload.replicas: expected an "
		"integer, got \"many\"\n"
		"app.yaml:6:16: hello.workload.containers.web.image: "
		"expected a string, got a list\n"
		"app.yaml:7:21: hello.workload.containers.web.workingDir: "
		"expected a string, got a mapping");
}

static void mapping_expected(void **state)
{
	(void)state;
	expect_errors("hello:\n"
		      "  workload: 3\n",
		      "app.yaml:2:13: hello.workload: expected a mapping, got "
		      "3");
	expect_errors("hello: [1]\n",
		      "app.yaml:1:8: hello: expected a mapping, got a list");
}

/* ---- keys -------------------------------------------------------------- */

static void unknown_key_with_hint_and_missing_field(void **state)
{
	(void)state;
	expect_errors("hello:\n"
		      "  workload:\n"
		      "    contaners:\n"
		      "      web:\n"
		      "        image: nginx:1\n",
		      "app.yaml:2:3: hello.workload: missing required field "
		      "\"containers\"\n"
		      "app.yaml:3:5: hello.workload.contaners: unknown field "
		      "(did you mean \"containers\"?)");
}

static void unknown_key_without_hint(void **state)
{
	(void)state;
	expect_errors(HEAD "  zzzzzz: 1\n",
		      "app.yaml:6:3: hello.zzzzzz: unknown field");
}

static void missing_workload_and_image(void **state)
{
	(void)state;
	expect_errors("hello:\n"
		      "  labels: {a: b}\n",
		      "app.yaml:1:1: hello: missing required field "
		      "\"workload\"");
	expect_errors("hello:\n"
		      "  workload:\n"
		      "    containers:\n"
		      "      web:\n"
		      "        command: [/bin/true]\n",
		      "app.yaml:4:7: hello.workload.containers.web: missing "
		      "required field \"image\"");
}

static void null_required_value_is_a_type_error(void **state)
{
	(void)state;
	expect_errors("hello:\n"
		      "  workload:\n"
		      "    containers:\n"
		      "      web:\n"
		      "        image: null\n",
		      "app.yaml:5:16: hello.workload.containers.web.image: "
		      "expected a string, got null");
}

/* ---- workload ---------------------------------------------------------- */

static void workload_type(void **state)
{
	(void)state;
	expect_errors("hello:\n"
		      "  workload:\n"
		      "    _type: Daemon\n"
		      "    containers:\n"
		      "      web: {image: nginx:1}\n",
		      "app.yaml:3:12: hello.workload._type: expected Service "
		      "or Job, got \"Daemon\"");
	expect_errors("hello:\n"
		      "  workload:\n"
		      "    _type: Service\n"
		      "    type: StatefulSet\n"
		      "    containers:\n"
		      "      web: {image: nginx:1}\n",
		      "app.yaml:4:11: hello.workload.type: expected Deployment "
		      "or CollaSet, got \"StatefulSet\"");
}

static void job_fields(void **state)
{
	(void)state;
	expect_errors(
		"nightly:\n"
		"  workload:\n"
		"    _type: Job\n"
		"    schedule: \"61 * * * *\"\n"
		"    ports: []\n"
		"    containers:\n"
		"      run: {image: busybox:1.36}\n",
		"app.yaml:4:15: nightly.workload.schedule: \"61 * * * *\" "
		"is not a cron schedule: field 1 (minute): 61 is out of "
		"range 0-59\n"
		"app.yaml:5:5: nightly.workload.ports: unknown field");
	struct vresult r;
	expect_ok(&r, "nightly:\n"
		      "  workload:\n"
		      "    _type: Job\n"
		      "    schedule: \"0 3 * * *\"\n"
		      "    containers:\n"
		      "      run: {image: busybox:1.36}\n");
	assert_int_equal(r.app.workload.kind, KS_WL_JOB);
	assert_string_equal(r.app.workload.schedule, "0 3 * * *");
	vfree(&r);
	expect_ok(&r, "nightly:\n"
		      "  workload:\n"
		      "    _type: Job\n"
		      "    schedule: \"\"\n"
		      "    containers:\n"
		      "      run: {image: busybox:1.36}\n");
	assert_null(r.app.workload.schedule);
	vfree(&r);
}

static void containers_non_empty_and_sorted(void **state)
{
	(void)state;
	expect_errors("hello:\n"
		      "  workload:\n"
		      "    containers: {}\n",
		      "app.yaml:3:17: hello.workload.containers: needs at "
		      "least one container");
	expect_errors("hello:\n"
		      "  workload:\n"
		      "    containers:\n"
		      "      Web: {image: nginx:1}\n",
		      "app.yaml:4:7: hello.workload.containers.Web: \"Web\" is "
		      "not a valid container name (a DNS-1123 label: "
		      "lowercase letters, digits and '-', at most 63)");
	struct vresult r;
	expect_ok(&r, "hello:\n"
		      "  workload:\n"
		      "    containers:\n"
		      "      zeta: {image: z:1}\n"
		      "      alpha: {image: a:1}\n"
		      "      mid: {image: m:1}\n");
	assert_int_equal(r.app.workload.ncontainers, 3);
	assert_string_equal(r.app.workload.containers[0].name, "alpha");
	assert_string_equal(r.app.workload.containers[1].name, "mid");
	assert_string_equal(r.app.workload.containers[2].image, "z:1");
	vfree(&r);
}

/* ---- container fields -------------------------------------------------- */

static void resources_quantities(void **state)
{
	(void)state;
	expect_errors(HEAD "        resources:\n"
			   "          cpu: \"2x\"\n"
			   "          memory: 1Gi-2Gi-3Gi\n"
			   "          ephemeral-storage: 2Gi-1Gi\n",
		      "app.yaml:7:16: hello.workload.containers.web.resources."
		      "cpu: \"2x\" is not a quantity (like 500m, 2, 512Mi)\n"
		      "app.yaml:8:19: hello.workload.containers.web.resources."
		      "memory: expected LIMIT or REQUEST-LIMIT (like 500m or "
		      "250m-500m), got \"1Gi-2Gi-3Gi\"\n"
		      "app.yaml:9:30: hello.workload.containers.web.resources."
		      "ephemeral-storage: the request \"2Gi\" is more than the "
		      "limit \"1Gi\"");
	expect_errors(HEAD "        resources:\n"
			   "          cpu: 1x-2\n",
		      "app.yaml:7:16: hello.workload.containers.web.resources."
		      "cpu: \"1x\" is not a quantity (like 500m, 2, 512Mi)");
	struct vresult r;
	expect_ok(&r, HEAD "        resources:\n"
			   "          memory: 512Mi-1Gi\n"
			   "          cpu: 2\n");
	const ks_container *c = &r.app.workload.containers[0];
	assert_int_equal(c->nresources, 2);
	assert_string_equal(c->resources[0].name, "cpu"); /* sorted */
	assert_null(c->resources[0].request);
	assert_string_equal(c->resources[0].limit, "2");
	assert_string_equal(c->resources[1].request, "512Mi");
	assert_string_equal(c->resources[1].limit, "1Gi");
	vfree(&r);
}

static void messages_stay_on_one_line(void **state)
{
	(void)state;
	expect_errors(HEAD "        resources:\n"
			   "          \"a\\nb\": \"2\\nx\"\n",
		      "app.yaml:7:11: hello.workload.containers.web.resources."
		      "a?b: invalid resource name: must consist of "
		      "alphanumeric characters, '-', '_' or '.', and must "
		      "start and end with an alphanumeric character");
	expect_errors(HEAD "        resources:\n"
			   "          cpu: \"2\\nx\"\n",
		      "app.yaml:7:16: hello.workload.containers.web.resources."
		      "cpu: \"2?x\" is not a quantity (like 500m, 2, 512Mi)");
}

static void env_names_values_and_order(void **state)
{
	(void)state;
	expect_errors(HEAD "        env:\n"
			   "          1BAD: x\n"
			   "          REF: secret://creds\n",
		      "app.yaml:7:11: hello.workload.containers.web.env.1BAD: "
		      "\"1BAD\" is not a valid environment variable name "
		      "(letters, digits, '_', '-' and '.', not starting with "
		      "a digit)\n"
		      "app.yaml:8:16: hello.workload.containers.web.env.REF: "
		      "expected secret://NAME/KEY, got \"secret://creds\"");
	struct vresult r;
	expect_ok(&r, HEAD "        env:\n"
			   "          ZED: 1\n"
			   "          ALPHA: secret://creds/password\n"
			   "          EMPTY:\n");
	const ks_strmap *env = &r.app.workload.containers[0].env;
	assert_int_equal(env->n, 3);
	assert_string_equal(env->items[0].key, "ZED"); /* file order */
	assert_string_equal(env->items[0].value, "1");
	assert_string_equal(env->items[1].value, "secret://creds/password");
	assert_string_equal(env->items[2].value, "");
	vfree(&r);
}

static void files_paths_and_modes(void **state)
{
	(void)state;
	expect_errors(
		HEAD "        files:\n"
		     "          etc/app.conf:\n"
		     "            content: x\n"
		     "          /etc/b.conf:\n"
		     "            content: x\n"
		     "            mode: 0x1A4\n"
		     "          /etc/c.conf:\n"
		     "            mode: \"0644\"\n",
		"app.yaml:7:11: hello.workload.containers.web.files.etc/"
		"app.conf: file path \"etc/app.conf\" must be absolute "
		"and name a file (like /etc/app/app.conf)\n"
		"app.yaml:11:19: hello.workload.containers.web.files./etc/"
		"b.conf.mode: expected a file mode of octal digits (like "
		"\"0644\"), got \"0x1A4\"\n"
		"app.yaml:12:11: hello.workload.containers.web.files./etc/"
		"c.conf: missing required field \"content\"");
	struct vresult r;
	expect_ok(&r, HEAD "        files:\n"
			   "          /a: {content: x, mode: \"0600\"}\n"
			   "          /b: {content: x, mode: 0644}\n"
			   "          /c: {content: x, mode: 755}\n"
			   "          /d: {content: x, mode: 0o640}\n"
			   "          /e: {content: x}\n");
	const ks_container *c = &r.app.workload.containers[0];
	assert_int_equal(c->nfiles, 5);
	assert_int_equal(c->files[0].mode, 0600);
	assert_int_equal(c->files[1].mode, 0644);
	assert_int_equal(c->files[2].mode, 0755);
	assert_int_equal(c->files[3].mode, 0640);
	assert_int_equal(c->files[4].mode, 0644);
	assert_string_equal(c->files[4].path, "/e");
	vfree(&r);
}

static void dirs_values(void **state)
{
	(void)state;
	expect_errors(
		HEAD "        dirs:\n"
		     "          /etc/x: volume://x\n"
		     "          var/y: secret://y\n",
		"app.yaml:7:19: hello.workload.containers.web.dirs./etc/"
		"x: expected secret://NAME or configmap://NAME, got "
		"\"volume://x\"\n"
		"app.yaml:8:11: hello.workload.containers.web.dirs.var/y: "
		"mount path \"var/y\" must be absolute");
}

static void file_names_and_mount_clashes(void **state)
{
	(void)state;
	expect_errors(HEAD "        files:\n"
			   "          /etc/app/my file.conf: {content: x}\n"
			   "          /etc/app/ok.conf: {content: x}\n"
			   "        dirs:\n"
			   "          /etc/app: secret://certs\n"
			   "          /etc/other: configmap://other\n",
		      "app.yaml:7:11: hello.workload.containers.web.files./etc/"
		      "app/my file.conf: file name \"my file.conf\" may hold "
		      "only letters, digits, '-', '_' and '.' (it becomes a "
		      "ConfigMap key)\n"
		      "app.yaml:10:11: hello.workload.containers.web.dirs./etc/"
		      "app: mount path \"/etc/app\" is also the folder of file "
		      "\"/etc/app/ok.conf\" (one path takes one volume)");
}

static void probes_and_handlers(void **state)
{
	(void)state;
	expect_errors(HEAD "        readinessProbe:\n"
			   "          probeHandler:\n"
			   "            _type: Grpc\n",
		      "app.yaml:8:20: hello.workload.containers.web."
		      "readinessProbe.probeHandler._type: expected Http, Exec "
		      "or Tcp, got \"Grpc\"");
	expect_errors(HEAD "        livenessProbe:\n"
			   "          probeHandler:\n"
			   "            _type: Exec\n"
			   "            command: []\n"
			   "          periodSeconds: -5\n"
			   "        startupProbe:\n"
			   "          initialDelaySeconds: 3\n",
		      "app.yaml:9:22: hello.workload.containers.web."
		      "livenessProbe.probeHandler.command: needs at least one "
		      "item (the command to run)\n"
		      "app.yaml:10:26: hello.workload.containers.web."
		      "livenessProbe.periodSeconds: expected an integer >= 0, "
		      "got -5\n"
		      "app.yaml:11:9: hello.workload.containers.web."
		      "startupProbe: missing required field \"probeHandler\"");
	expect_errors(HEAD "        readinessProbe:\n"
			   "          probeHandler: {_type: Http, url: "
			   "localhost:80}\n"
			   "        livenessProbe:\n"
			   "          probeHandler: {_type: Tcp, url: "
			   "http://x:80}\n",
		      "app.yaml:7:44: hello.workload.containers.web."
		      "readinessProbe.probeHandler.url: \"localhost:80\" is "
		      "not an http or https URL (like "
		      "http://localhost:8080/healthz)\n"
		      "app.yaml:9:43: hello.workload.containers.web."
		      "livenessProbe.probeHandler.url: \"http://x:80\" is not "
		      "host:port or tcp://host:port");
	expect_errors(HEAD "        lifecycle:\n"
			   "          preStop: {_type: Tcp, url: x:1}\n",
		      "app.yaml:7:28: hello.workload.containers.web.lifecycle."
		      "preStop._type: expected Exec or Http, got \"Tcp\"");
	struct vresult r;
	expect_ok(&r, HEAD
		  "        readinessProbe:\n"
		  "          probeHandler:\n"
		  "            _type: Http\n"
		  "            url: https://example.com:8443/healthz?x=1\n"
		  "            headers: {X-A: 1}\n"
		  "          periodSeconds: 10\n"
		  "        livenessProbe:\n"
		  "          probeHandler: {_type: Tcp, url: "
		  "tcp://db:5432}\n"
		  "        lifecycle:\n"
		  "          preStop: {_type: Exec, command: [sleep, 5]}\n");
	const ks_container *c = &r.app.workload.containers[0];
	assert_true(c->readiness.present);
	assert_int_equal(c->readiness.handler.type, KS_H_HTTP);
	assert_int_equal(c->readiness.periodSeconds, 10);
	assert_string_equal(c->readiness.handler.headers.items[0].value, "1");
	assert_int_equal(c->liveness.handler.type, KS_H_TCP);
	assert_false(c->startup.present);
	assert_int_equal(c->preStop.type, KS_H_EXEC);
	assert_int_equal(c->postStart.type, KS_H_NONE);
	vfree(&r);
}

/* ---- ports, secrets, databases ----------------------------------------- */

static void ports_rules(void **state)
{
	(void)state;
	expect_errors(HEAD "    ports:\n"
			   "      - port: 70000\n"
			   "      - port: 80\n"
			   "      - port: 80\n"
			   "      - port: 81\n"
			   "        public: true\n"
			   "        exposeInternet: false\n"
			   "      - port: 82\n"
			   "        protocol: SCTP\n",
		      "app.yaml:7:15: hello.workload.ports[0].port: expected "
		      "an integer from 1 to 65535, got 70000\n"
		      "app.yaml:9:9: hello.workload.ports[2]: port 80/TCP is "
		      "listed twice\n"
		      "app.yaml:11:17: hello.workload.ports[3].public: public "
		      "(another name for exposeInternet) is true but "
		      "exposeInternet is false\n"
		      "app.yaml:14:19: hello.workload.ports[4].protocol: "
		      "expected TCP or UDP, got \"SCTP\"");
	struct vresult r;
	expect_ok(&r, HEAD "    ports:\n"
			   "      - port: 80\n"
			   "      - port: 80\n"
			   "        protocol: UDP\n"
			   "        targetPort: 8080\n"
			   "        public: true\n");
	const ks_workload *w = &r.app.workload;
	assert_int_equal(w->nports, 2);
	assert_int_equal(w->ports[0].targetPort, 80);
	assert_false(w->ports[0].expose);
	assert_true(w->ports[1].udp);
	assert_true(w->ports[1].expose);
	assert_int_equal(w->ports[1].targetPort, 8080);
	vfree(&r);
}

static void secrets_rules(void **state)
{
	(void)state;
	expect_errors(HEAD "    secrets:\n"
			   "      creds:\n"
			   "        type: basic\n"
			   "        data:\n"
			   "          username: admin\n"
			   "      ext:\n"
			   "        type: external\n"
			   "      tok:\n"
			   "        type: token\n"
			   "        data:\n"
			   "          token: ~\n",
		      "app.yaml:8:15: hello.workload.secrets.creds.data: "
		      "missing key \"password\" (type basic needs \"username\" "
		      "and \"password\")\n"
		      "app.yaml:12:15: hello.workload.secrets.ext.type: "
		      "external secrets need a secret store, not supported\n"
		      "app.yaml:16:18: hello.workload.secrets.tok.data.token: "
		      "missing value (secret values are never generated)");
	struct vresult r;
	expect_ok(&r, HEAD "    secrets:\n"
			   "      tls:\n"
			   "        type: certificate\n"
			   "        data: {tls.crt: a, tls.key: b}\n"
			   "        immutable: true\n"
			   "      any:\n"
			   "        type: opaque\n");
	assert_int_equal(r.app.workload.nsecrets, 2);
	assert_string_equal(r.app.workload.secrets[0].name, "any");
	assert_int_equal(r.app.workload.secrets[0].type, KS_SECRET_OPAQUE);
	assert_int_equal(r.app.workload.secrets[1].type, KS_SECRET_CERT);
	assert_true(r.app.workload.secrets[1].immutable);
	vfree(&r);
}

static void database_rules(void **state)
{
	(void)state;
	expect_errors(HEAD "  database:\n"
			   "    main:\n"
			   "      _type: MySQL\n"
			   "      type: cloud\n"
			   "      version: \"8.0\"\n"
			   "    other:\n"
			   "      _type: Oracle\n"
			   "      type: local\n",
		      "app.yaml:9:13: hello.database.main.type: cloud "
		      "databases are not supported\n"
		      "app.yaml:11:5: hello.database.other: missing required "
		      "field \"version\"\n"
		      "app.yaml:12:14: hello.database.other._type: expected "
		      "MySQL or PostgreSQL, got \"Oracle\"");
	struct vresult r;
	expect_ok(&r, HEAD "  database:\n"
			   "    zdb: {_type: PostgreSQL, type: local, version: "
			   "\"14\"}\n"
			   "    adb: {_type: MySQL, type: local, version: "
			   "\"8.0\"}\n");
	assert_int_equal(r.app.ndatabases, 2);
	assert_string_equal(r.app.databases[0].key, "adb");
	assert_int_equal(r.app.databases[0].engine, KS_DB_MYSQL);
	assert_int_equal(r.app.databases[1].engine, KS_DB_POSTGRES);
	vfree(&r);
}

/* ---- labels, topologies, pipeline, policysets, opsRule ----------------- */

static void labels_and_reserved_keys(void **state)
{
	(void)state;
	expect_errors(
		HEAD "  labels:\n"
		     "    kusync.io/app: other\n"
		     "    app.kubernetes.io/managed-by: me\n"
		     "    ok: \"not valid!\"\n"
		     "  annotations:\n"
		     "    app.kubernetes.io/instance: x\n"
		     "    note: \"any text at all!\"\n",
		"app.yaml:7:5: hello.labels.kusync.io/app: "
		"\"kusync.io/app\" is reserved for kusync (ownership "
		"labels and annotations cannot be set by users)\n"
		"app.yaml:8:5: hello.labels.app.kubernetes.io/managed-by: "
		"\"app.kubernetes.io/managed-by\" is reserved for kusync "
		"(ownership labels and annotations cannot be set by "
		"users)\n"
		"app.yaml:9:9: hello.labels.ok: invalid label value "
		"\"not valid!\": must consist of alphanumeric "
		"characters, '-', '_' or '.', and must start and end "
		"with an alphanumeric character\n"
		"app.yaml:11:5: hello.annotations.app.kubernetes.io/"
		"instance: \"app.kubernetes.io/instance\" is reserved for "
		"kusync (ownership labels and annotations cannot be set "
		"by users)");
	struct vresult r;
	expect_ok(&r, HEAD "    labels: {tier: web}\n"
			   "  labels:\n"
			   "    version: 1\n"
			   "  annotations:\n"
			   "    note: \"any text at all!\"\n");
	assert_string_equal(r.app.labels.items[0].value, "1");
	assert_string_equal(r.app.annotations.items[0].value,
			    "any text at all!");
	vfree(&r);
}

static void topologies_rules(void **state)
{
	(void)state;
	expect_errors(HEAD "  topologies:\n"
			   "    ZoneA:\n"
			   "      cells: [GZ1, GZ2]\n"
			   "    ZoneB:\n"
			   "      cells: [gz1, bad_cell]\n"
			   "    ZoneC:\n"
			   "      cells: []\n",
		      "app.yaml:10:15: hello.topologies.ZoneB.cells[0]: cell "
		      "\"gz1\" is already listed in zone \"ZoneA\" (cells must "
		      "be unique, ignoring case)\n"
		      "app.yaml:10:20: hello.topologies.ZoneB.cells[1]: "
		      "\"bad_cell\" is not a valid cell name (a DNS-1123 label "
		      "once lower-cased: letters, digits and '-', at most 63)\n"
		      "app.yaml:11:5: hello.topologies.ZoneC: needs at least "
		      "one cell");
	struct vresult r;
	expect_ok(&r, HEAD "  topologies:\n"
			   "    ZoneB:\n"
			   "      cells: [RZ99K]\n"
			   "    ZoneA:\n"
			   "      cells: [GZ99S, GZ20W]\n");
	assert_int_equal(r.app.ncells, 3);
	assert_string_equal(r.app.cells[0].zone, "ZoneB");
	assert_string_equal(r.app.cells[0].cell, "RZ99K");
	assert_string_equal(r.app.cells[2].cell, "GZ20W");
	vfree(&r);
}

static void pipeline_rules(void **state)
{
	(void)state;
	expect_errors(HEAD "  pipeline:\n"
			   "    deploy:\n"
			   "      timeout: 10 minutes\n"
			   "    deplyo: {}\n",
		      "app.yaml:8:16: hello.pipeline.deploy.timeout: \"10 "
		      "minutes\" is not a duration (like 90s, 10m, 1h)\n"
		      "app.yaml:9:5: hello.pipeline.deplyo: unknown field (did "
		      "you mean \"deploy\"?)");
	struct vresult r;
	expect_ok(&r, HEAD);
	assert_int_equal(r.app.timeout_ms, 600000);
	assert_false(r.app.manualApprove);
	vfree(&r);
	expect_ok(&r, HEAD "  pipeline:\n"
			   "    deploy: {timeout: 90s, manualApprove: true}\n");
	assert_int_equal(r.app.timeout_ms, 90000);
	assert_true(r.app.manualApprove);
	assert_false(r.app.rollbackIfFailed);
	vfree(&r);
}

static void policysets_rules(void **state)
{
	(void)state;
	expect_errors(HEAD "  policysets:\n"
			   "    release-strategy-check:\n"
			   "      kind: required\n"
			   "    other: {}\n",
		      "app.yaml:8:13: hello.policysets.release-strategy-check."
		      "kind: expected mandatory or advisory, got \"required\"\n"
		      "app.yaml:9:5: hello.policysets.other: missing required "
		      "field \"kind\"");
	struct vresult r;
	expect_ok(&r, HEAD "  policysets:\n"
			   "    b: {kind: advisory}\n"
			   "    a: {kind: mandatory}\n");
	assert_int_equal(r.app.npolicysets, 2);
	assert_string_equal(r.app.policysets[0].name, "b");
	assert_false(r.app.policysets[0].mandatory);
	assert_true(r.app.policysets[1].mandatory);
	vfree(&r);
}

static void opsrule_rules(void **state)
{
	(void)state;
	expect_errors(HEAD "  opsRule:\n"
			   "    maxUnavailable: 120%\n",
		      "app.yaml:7:21: hello.opsRule.maxUnavailable: expected "
		      "an integer >= 0 or a percentage \"N%\" (0-100), got "
		      "\"120%\"");
	struct vresult r;
	expect_ok(&r, HEAD "  opsRule: {}\n");
	assert_true(r.app.opsRule.present);
	assert_true(r.app.opsRule.is_percent);
	assert_int_equal(r.app.opsRule.value, 25);
	vfree(&r);
	expect_ok(&r, HEAD "  opsRule: {maxUnavailable: 3}\n");
	assert_false(r.app.opsRule.is_percent);
	assert_int_equal(r.app.opsRule.value, 3);
	vfree(&r);
	expect_ok(&r, HEAD);
	assert_false(r.app.opsRule.present);
	vfree(&r);
}

static void monitoring_fields(void **state)
{
	(void)state;
	expect_errors(HEAD "  monitoring:\n"
			   "    path: metrics\n"
			   "    port: 0\n",
		      "app.yaml:7:11: hello.monitoring.path: expected a path "
		      "starting with '/', got \"metrics\"\n"
		      "app.yaml:8:11: hello.monitoring.port: expected an "
		      "integer from 1 to 65535, got 0");
	struct vresult r;
	expect_ok(&r, HEAD "  monitoring:\n"
			   "    port: 9090\n");
	assert_true(r.app.has_monitoring);
	assert_null(r.app.monitoring_path);
	assert_string_equal(r.app.monitoring_port, "9090");
	assert_int_equal(r.app.monitoring_where.mark.line, 6);
	assert_int_equal(r.app.monitoring_where.mark.col, 3);
	vfree(&r);
}

static void dependency_syntax(void **state)
{
	(void)state;
	expect_errors(
		HEAD "  dependency:\n"
		     "    dependedApps: [a/b, Api, x, x]\n",
		"app.yaml:7:20: hello.dependency.dependedApps[0]: "
		"expected an app name or project/stack/app, got \"a/b\"\n"
		"app.yaml:7:25: hello.dependency.dependedApps[1]: "
		"expected an app name or project/stack/app, got \"Api\"\n"
		"app.yaml:7:33: hello.dependency.dependedApps[3]: \"x\" is "
		"listed twice");
	struct vresult r;
	expect_ok(&r, HEAD "  dependency:\n"
			   "    dependedApps: [api, shop/dev/db]\n");
	assert_int_equal(r.app.ndeps, 2);
	assert_string_equal(r.app.deps[1].text, "shop/dev/db");
	assert_string_equal(r.app.deps[1].path,
			    "hello.dependency.dependedApps[1]");
	assert_int_equal(r.app.deps[1].where.mark.line, 7);
	assert_int_equal(r.app.deps[1].where.mark.col, 25);
	vfree(&r);
}

static int validate_group(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(int_refuses_a_word),
		cmocka_unit_test(int_refuses_a_float_and_a_quoted_number),
		cmocka_unit_test(int_range),
		cmocka_unit_test(explicit_zero_replicas_stays_zero),
		cmocka_unit_test(bool_refuses_a_string),
		cmocka_unit_test(string_takes_scalars_as_written),
		cmocka_unit_test(string_refuses_containers),
		cmocka_unit_test(mapping_expected),
		cmocka_unit_test(unknown_key_with_hint_and_missing_field),
		cmocka_unit_test(unknown_key_without_hint),
		cmocka_unit_test(missing_workload_and_image),
		cmocka_unit_test(null_required_value_is_a_type_error),
		cmocka_unit_test(workload_type),
		cmocka_unit_test(job_fields),
		cmocka_unit_test(containers_non_empty_and_sorted),
		cmocka_unit_test(resources_quantities),
		cmocka_unit_test(messages_stay_on_one_line),
		cmocka_unit_test(env_names_values_and_order),
		cmocka_unit_test(files_paths_and_modes),
		cmocka_unit_test(dirs_values),
		cmocka_unit_test(file_names_and_mount_clashes),
		cmocka_unit_test(probes_and_handlers),
		cmocka_unit_test(ports_rules),
		cmocka_unit_test(secrets_rules),
		cmocka_unit_test(database_rules),
		cmocka_unit_test(labels_and_reserved_keys),
		cmocka_unit_test(topologies_rules),
		cmocka_unit_test(pipeline_rules),
		cmocka_unit_test(policysets_rules),
		cmocka_unit_test(opsrule_rules),
		cmocka_unit_test(monitoring_fields),
		cmocka_unit_test(dependency_syntax),
	};
	return cmocka_run_group_tests_name("render/validate", tests, NULL,
					   NULL);
}
KS_TEST_GROUP(validate_group)
