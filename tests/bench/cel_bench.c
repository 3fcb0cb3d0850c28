/*
 * Policy benchmark: the three built-in sets over 10,000 rendered
 * resources (1,000 apps of 10 objects each, as a Spec), and eight simple
 * rules (`object.spec.replicas >= 2` and the like) evaluated in turn on
 * each Deployment among the same objects, on one core. Prints rule
 * evaluations per second for both; the goal is at least 1,000,000 simple
 * evaluations per second.
 *
 * usage: cel_bench POLICY_DIR [RESOURCES] [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "policies/cel.h"
#include "policies/policy.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static json_t *container(int i)
{
	return json_pack("{s:s,s:s,s:{s:{s:s,s:s},s:{s:s,s:s}},s:{s:{s:s,s:i}},"
			 "s:[{s:i}]}",
			 "name", "app", "image",
			 i % 10 == 0 ? "registry.example.com/web:latest"
				     : "registry.example.com/web:1.4.2",
			 "resources", "requests", "cpu", "250m", "memory",
			 "256Mi", "limits", "cpu", "1", "memory",
			 i % 7 ? "512Mi" : "128Mi", "readinessProbe", "httpGet",
			 "path", "/healthz", "port", 8080, "ports",
			 "containerPort", 8080);
}

static json_t *object(int i, const char *app)
{
	char name[64];
	snprintf(name, sizeof(name), "%s-%d", app, i);
	switch (i % 10) {
	case 0:
	case 1:
	case 2:
	case 3:
	case 4:
		return json_pack(
			"{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:i,s:{s:s,s:{s:s}},"
			"s:{s:{s:{s:s}},s:{s:[o]}}}}",
			"apiVersion", "apps/v1", "kind", "Deployment",
			"metadata", "name", name, "namespace", "prod", "labels",
			"app", app, "spec", "replicas", 1 + i % 3, "strategy",
			"type", "RollingUpdate", "rollingUpdate",
			"maxUnavailable", "25%", "template", "metadata",
			"labels", "app", app, "spec", "containers",
			container(i));
	case 5:
	case 6:
		return json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:[o]}}",
				 "apiVersion", "v1", "kind", "Pod", "metadata",
				 "name", name, "namespace", "prod", "spec",
				 "containers", container(i));
	case 7:
		return json_pack(
			"{s:s,s:s,s:{s:s,s:s},s:{s:s,s:{s:{s:{s:{s:[o]}}}}}}",
			"apiVersion", "batch/v1", "kind", "CronJob", "metadata",
			"name", name, "namespace", "prod", "spec", "schedule",
			"0 3 * * *", "jobTemplate", "spec", "template", "spec",
			"containers", container(i));
	default:
		return json_pack(
			"{s:s,s:s,s:{s:s,s:s},s:{s:s,s:{s:s},s:[{s:i}]}}",
			"apiVersion", "v1", "kind", "Service", "metadata",
			"name", name, "namespace", "prod", "spec", "type",
			i % 10 == 8 ? "LoadBalancer" : "ClusterIP", "selector",
			"app", app, "ports", "port", 80);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: cel_bench POLICY_DIR [N] [ROUNDS]\n");
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 10000;
	int rounds = argc > 3 ? atoi(argv[3]) : 3;
	ks_policy_registry *r = ks_policy_registry_new();
	ks_errlist *errs = ks_errlist_new();
	if (ks_policy_load_dir(r, argv[1], errs)) {
		ks_errlist_print(errs, stderr, 50);
		return 2;
	}
	json_t *apps = json_array(), *res = json_array();
	json_t *objs = json_array();
	for (int i = 0; i < n; i++) {
		char app[32];
		snprintf(app, sizeof(app), "app%d", i / 10);
		if (i % 10 == 0)
			json_array_append_new(
				apps,
				json_pack("{s:s,s:{s:{s:s},s:{s:s},s:{s:s}}}",
					  "name", app, "policysets",
					  "release-strategy-check", "kind",
					  "mandatory", "resource-specification",
					  "kind", "advisory",
					  "pod-security-baseline", "kind",
					  "mandatory"));
		json_t *o = object(i, app);
		json_array_append(objs, o);
		json_array_append_new(
			res, json_pack("{s:o,s:{s:s}}", "attributes", o,
				       "extensions", "kusync.io/app", app));
	}
	json_t *spec = json_pack("{s:o,s:o}", "apps", apps, "resources", res);

	double best = 0;
	size_t evaluated = 0, violations = 0;
	for (int k = 0; k < rounds; k++) {
		ks_policy_report rep;
		ks_policy_report_init(&rep);
		double t0 = now();
		ks_policy_check_spec(r, spec, &rep, errs);
		double dt = now() - t0;
		evaluated = rep.evaluated;
		violations = rep.n;
		if (evaluated / dt > best)
			best = (double)evaluated / dt;
		ks_policy_report_release(&rep);
	}
	printf("three built-in sets over %d resources: %zu rule evaluations, "
	       "%zu violations, %.0f evaluations/s\n",
	       n, evaluated, violations, best);

	/* Simple rules, each a comparison or two on the object, run one
	 * after the other on each Deployment (what their match selects), as
	 * a set's rules run. */
	static const char *const names[] = {"object"};
	static const char *const simple_rules[] = {
		"object.spec.replicas >= 2",
		"object.metadata.namespace == 'prod'",
		"object.kind == 'Deployment'",
		"has(object.metadata.labels)",
		"object.metadata.name.startsWith('app')",
		"object.spec.strategy.type == 'RollingUpdate'",
		"size(object.spec.template.spec.containers) <= 10",
		"'app' in object.metadata.labels",
	};
	enum { NSIMPLE = sizeof(simple_rules) / sizeof(simple_rules[0]) };
	ks_cel_program *progs[NSIMPLE];
	ks_cel_pos pos;
	ks_error err = {0};
	for (int k = 0; k < NSIMPLE; k++)
		if (ks_cel_compile(&progs[k], simple_rules[k],
				   strlen(simple_rules[k]), names, 1, &pos,
				   &err))
			return 2;
	ks_cel_ctx *c = ks_cel_ctx_new();
	double simple = 0;
	for (int k = 0; k < rounds; k++) {
		size_t count = 0, trues = 0;
		double t0 = now();
		for (int rep = 0; rep < 20; rep++) {
			size_t i;
			json_t *o;
			json_array_foreach(objs, i, o)
			{
				if (i % 10 >= 5)
					continue;
				for (int q = 0; q < NSIMPLE; q++) {
					ks_cel_value v =
						ks_cel_eval(c, progs[q], &o, 1);
					trues += v.kind == KS_CEL_BOOL && v.v.b;
					count++;
				}
			}
		}
		double dt = now() - t0;
		if (count / dt > simple)
			simple = (double)count / dt;
		if (!trues)
			return 3;
	}
	printf("%d simple rules on each Deployment: %.0f evaluations/s\n",
	       (int)NSIMPLE, simple);
	ks_cel_ctx_free(c);
	for (int k = 0; k < NSIMPLE; k++)
		ks_cel_program_free(progs[k]);
	json_decref(spec);
	json_decref(objs);
	ks_errlist_free(errs);
	ks_policy_registry_free(r);
	return simple >= 1e6 ? 0 : 1;
}
