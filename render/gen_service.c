/*
 * Services for an app's ports (N-private, N-public) and Secrets for its
 * workload.secrets.
 */
#include "render/gen.h"
#include "core/base64.h"

#include <stdlib.h>
#include <string.h>

#include "core/banned.h"

/* The annotation that makes Alibaba Cloud provision a load balancer. */
#define ALICLOUD_LB_SPEC                                                       \
	"service.beta.kubernetes.io/alibaba-cloud-loadbalancer-spec"

/* One Service with the ports whose exposure is EXPOSE; nothing when there
 * are none. */
static void service(ks_gen *g, bool expose)
{
	const ks_workload *wl = &g->app->workload;
	size_t n = 0;
	for (size_t i = 0; i < wl->nports; i++)
		n += wl->ports[i].expose == expose;
	if (!n)
		return;
	char *name = ks_xasprintf("%s-%s", g->app->fullname,
				  expose ? "public" : "private");
	gen_check_dns1035(g, "service name", name, NULL);
	json_t *ports = json_array();
	for (size_t i = 0; i < wl->nports; i++) {
		const ks_port *p = &wl->ports[i];
		if (p->expose != expose)
			continue;
		char *pname = ks_xasprintf("%s-%d-%s", name, p->port,
					   p->udp ? "udp" : "tcp");
		gen_check_dns1123_label(g, "service port name", pname, NULL);
		json_array_append_new(
			ports,
			json_pack("{s:s, s:s, s:i, s:i}", "name", pname,
				  "protocol", p->udp ? "UDP" : "TCP", "port",
				  p->port, "targetPort", p->targetPort));
		free(pname);
	}
	json_t *labels = json_object();
	json_t *ann = json_object();
	if (expose) {
		json_t *t = gen_strmap(&g->ws->port_labels);
		json_object_update(labels, t);
		json_decref(t);
		t = gen_strmap(&g->ws->port_annotations);
		json_object_update(ann, t);
		json_decref(t);
		if (g->ws->port_type && !strcmp(g->ws->port_type, "alicloud"))
			json_object_set_new(ann, ALICLOUD_LB_SPEC,
					    json_string("slb.s1.small"));
	}
	json_object_update(labels, g->mon_labels);
	json_object_update(ann, g->mon_annotations);
	json_t *o = gen_object("v1", "Service", gen_meta(g, name, labels, ann));
	json_decref(labels);
	json_decref(ann);
	json_object_set_new(o, "spec",
			    json_pack("{s:o, s:o, s:s}", "ports", ports,
				      "selector", gen_app_labels(g), "type",
				      expose ? "LoadBalancer" : "ClusterIP"));
	gen_add(g, o);
	free(name);
}

void gen_services(ks_gen *g)
{
	service(g, false);
	service(g, true);
}

static const char *secret_type(enum ks_secret_type t)
{
	switch (t) {
	case KS_SECRET_BASIC:
		return "kubernetes.io/basic-auth";
	case KS_SECRET_CERT:
		return "kubernetes.io/tls";
	case KS_SECRET_TOKEN:
	case KS_SECRET_OPAQUE:
		break;
	}
	return "Opaque";
}

void gen_secrets(ks_gen *g)
{
	const ks_workload *wl = &g->app->workload;
	for (size_t i = 0; i < wl->nsecrets; i++) {
		const ks_secret *s = &wl->secrets[i];
		char *extra = ks_xasprintf("secret \"%s\"", s->name);
		gen_check_subdomain(g, "secret name", s->name, 253, extra);
		free(extra);
		json_t *data = json_object();
		for (size_t j = 0; j < s->data.n; j++) {
			const char *v = s->data.items[j].value;
			char *b64 = ks_base64_encode(v, strlen(v));
			json_object_set_new(data, s->data.items[j].key,
					    json_string(b64));
			free(b64);
		}
		json_t *o = gen_object("v1", "Secret",
				       gen_meta(g, s->name, NULL, NULL));
		json_object_set_new(o, "type",
				    json_string(secret_type(s->type)));
		json_object_set_new(o, "data", gen_sorted(data));
		if (s->immutable)
			json_object_set_new(o, "immutable", json_true());
		gen_add(g, o);
	}
}
