/*
 * Monitoring: with the workspace's operatorMode a ServiceMonitor or
 * PodMonitor selecting the label kusion_monitoring_appname: N (which goes
 * on the workload, its pod template and its Services); otherwise the
 * prometheus.io annotations on the same objects.
 */
#include "render/gen.h"

#include <stdlib.h>
#include <string.h>

#include "core/banned.h"

#define MONITORING_LABEL "kusion_monitoring_appname"

static bool operator_mode(const ks_gen *g)
{
	return g->app->has_monitoring && g->ws->has_monitoring &&
	       g->ws->operatorMode;
}

static const char *or_default(const char *v, const char *def)
{
	return v && *v ? v : def;
}

void gen_monitoring_prepare(ks_gen *g)
{
	g->mon_labels = json_object();
	g->mon_annotations = json_object();
	if (!g->app->has_monitoring)
		return;
	if (operator_mode(g)) {
		json_object_set_new(g->mon_labels, MONITORING_LABEL,
				    json_string(g->app->fullname));
		return;
	}
	const char *scheme = g->ws->has_monitoring ? g->ws->scheme : NULL;
	json_object_set_new(g->mon_annotations, "prometheus.io/scrape",
			    json_string("true"));
	json_object_set_new(g->mon_annotations, "prometheus.io/scheme",
			    json_string(or_default(scheme, "http")));
	if (g->app->monitoring_path)
		json_object_set_new(g->mon_annotations, "prometheus.io/path",
				    json_string(g->app->monitoring_path));
	if (g->app->monitoring_port)
		json_object_set_new(g->mon_annotations, "prometheus.io/port",
				    json_string(g->app->monitoring_port));
}

void gen_monitors(ks_gen *g)
{
	if (!operator_mode(g))
		return;
	bool pod = g->ws->podMonitor;
	char *name = ks_xasprintf("%s-%s", g->app->fullname,
				  pod ? "pod-monitor" : "service-monitor");
	gen_check_subdomain(g, pod ? "podmonitor name" : "servicemonitor name",
			    name, 253, NULL);
	json_t *ep = json_object();
	if (g->app->monitoring_port)
		json_object_set_new(ep, "port",
				    json_string(g->app->monitoring_port));
	if (g->app->monitoring_path)
		json_object_set_new(ep, "path",
				    json_string(g->app->monitoring_path));
	json_object_set_new(ep, "interval",
			    json_string(or_default(g->ws->interval, "30s")));
	json_object_set_new(ep, "scrapeTimeout",
			    json_string(or_default(g->ws->timeout, "15s")));
	json_object_set_new(ep, "scheme",
			    json_string(or_default(g->ws->scheme, "http")));
	json_t *o = gen_object("monitoring.coreos.com/v1",
			       pod ? "PodMonitor" : "ServiceMonitor",
			       gen_meta(g, name, NULL, NULL));
	json_object_set_new(o, "spec",
			    json_pack("{s:[o], s:{s:{s:s}}}",
				      pod ? "podMetricsEndpoints" : "endpoints",
				      ep, "selector", "matchLabels",
				      MONITORING_LABEL, g->app->fullname));
	gen_add(g, o);
	free(name);
}
