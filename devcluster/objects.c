/*
 * What a real API server does to the objects it stores: defaults, canonical
 * quantities, name checks, strict top-level fields.
 */
#include "devcluster/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/values.h"
#include "core/banned.h"

static json_t *obj_child(json_t *o, const char *k)
{
	json_t *c = json_object_get(o, k);
	if (!json_is_object(c)) {
		c = json_object();
		json_object_set_new(o, k, c);
	}
	return c;
}

static void set_default(json_t *o, const char *k, json_t *v)
{
	if (json_is_object(o) && !json_object_get(o, k))
		json_object_set_new(o, k, v);
	else
		json_decref(v);
}

/* Quantities in maps such as resources.limits come back in canonical form,
 * numbers become strings. */
static void canonical_quantities(json_t *map)
{
	const char *k;
	json_t *v;
	json_object_foreach(map, k, v)
	{
		char in[64], out[64];
		if (json_is_string(v)) {
			snprintf(in, sizeof(in), "%s", json_string_value(v));
		} else if (json_is_integer(v)) {
			snprintf(in, sizeof(in), "%lld",
				 (long long)json_integer_value(v));
		} else if (json_is_real(v)) {
			snprintf(in, sizeof(in), "%.9g", json_real_value(v));
		} else {
			continue;
		}
		if (ks_quantity_server_text(in, out, sizeof(out)) == 0)
			json_object_set_new(map, k, json_string(out));
	}
}

static void walk_quantities(json_t *v)
{
	if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
		{
			walk_quantities(e);
		}
		return;
	}
	if (!json_is_object(v))
		return;
	const char *k;
	json_t *c;
	json_object_foreach(v, k, c)
	{
		if (json_is_object(c) &&
		    (!strcmp(k, "limits") || !strcmp(k, "requests") ||
		     !strcmp(k, "capacity") || !strcmp(k, "hard") ||
		     !strcmp(k, "allocatable")))
			canonical_quantities(c);
		else
			walk_quantities(c);
	}
}

static bool image_has_tag(const char *image)
{
	if (strchr(image, '@'))
		return true;
	const char *slash = strrchr(image, '/');
	const char *colon = strrchr(slash ? slash : image, ':');
	return colon && strcmp(colon, ":latest") != 0;
}

static void container_defaults(json_t *c)
{
	if (!json_is_object(c))
		return;
	set_default(c, "resources", json_object());
	set_default(c, "terminationMessagePath",
		    json_string("/dev/termination-log"));
	set_default(c, "terminationMessagePolicy", json_string("File"));
	const char *image = dc_jstr(c, "image");
	set_default(
		c, "imagePullPolicy",
		json_string(image_has_tag(image) ? "IfNotPresent" : "Always"));
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(c, "ports"), i, p)
	{
		set_default(p, "protocol", json_string("TCP"));
	}
	static const char *const probes[] = {"livenessProbe", "readinessProbe",
					     "startupProbe"};
	for (size_t j = 0; j < 3; j++) {
		json_t *pr = json_object_get(c, probes[j]);
		if (!json_is_object(pr))
			continue;
		set_default(pr, "timeoutSeconds", json_integer(1));
		set_default(pr, "periodSeconds", json_integer(10));
		set_default(pr, "successThreshold", json_integer(1));
		set_default(pr, "failureThreshold", json_integer(3));
		json_t *hg = json_object_get(pr, "httpGet");
		if (json_is_object(hg))
			set_default(hg, "scheme", json_string("HTTP"));
	}
}

static void pod_spec_defaults(json_t *spec, bool bare_pod)
{
	if (!json_is_object(spec))
		return;
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(spec, "containers"), i, c)
	{
		container_defaults(c);
	}
	json_array_foreach(json_object_get(spec, "initContainers"), i, c)
	{
		container_defaults(c);
	}
	set_default(spec, "restartPolicy", json_string("Always"));
	set_default(spec, "terminationGracePeriodSeconds", json_integer(30));
	set_default(spec, "dnsPolicy", json_string("ClusterFirst"));
	set_default(spec, "securityContext", json_object());
	set_default(spec, "schedulerName", json_string("default-scheduler"));
	if (bare_pod) {
		set_default(spec, "serviceAccountName", json_string("default"));
		set_default(spec, "serviceAccount", json_string("default"));
		set_default(spec, "enableServiceLinks", json_true());
		set_default(spec, "priority", json_integer(0));
		set_default(spec, "preemptionPolicy",
			    json_string("PreemptLowerPriority"));
	}
	json_t *v;
	json_array_foreach(json_object_get(spec, "volumes"), i, v)
	{
		json_t *cm = json_object_get(v, "configMap");
		if (json_is_object(cm))
			set_default(cm, "defaultMode", json_integer(420));
		json_t *sec = json_object_get(v, "secret");
		if (json_is_object(sec))
			set_default(sec, "defaultMode", json_integer(420));
	}
}

static void template_defaults(json_t *tmpl)
{
	if (!json_is_object(tmpl))
		return;
	json_t *m = obj_child(tmpl, "metadata");
	if (!json_object_get(m, "creationTimestamp"))
		json_object_set_new(m, "creationTimestamp", json_null());
	pod_spec_defaults(json_object_get(tmpl, "spec"), false);
}

static void deployment_defaults(json_t *spec)
{
	set_default(spec, "replicas", json_integer(1));
	json_t *st = obj_child(spec, "strategy");
	set_default(st, "type", json_string("RollingUpdate"));
	if (!strcmp(dc_jstr(st, "type"), "RollingUpdate")) {
		json_t *ru = obj_child(st, "rollingUpdate");
		set_default(ru, "maxUnavailable", json_string("25%"));
		set_default(ru, "maxSurge", json_string("25%"));
	}
	set_default(spec, "revisionHistoryLimit", json_integer(10));
	set_default(spec, "progressDeadlineSeconds", json_integer(600));
	template_defaults(json_object_get(spec, "template"));
}

static void statefulset_defaults(json_t *spec)
{
	set_default(spec, "replicas", json_integer(1));
	set_default(spec, "podManagementPolicy", json_string("OrderedReady"));
	json_t *us = obj_child(spec, "updateStrategy");
	set_default(us, "type", json_string("RollingUpdate"));
	if (!strcmp(dc_jstr(us, "type"), "RollingUpdate"))
		set_default(obj_child(us, "rollingUpdate"), "partition",
			    json_integer(0));
	set_default(spec, "revisionHistoryLimit", json_integer(10));
	json_t *pr = obj_child(spec, "persistentVolumeClaimRetentionPolicy");
	set_default(pr, "whenDeleted", json_string("Retain"));
	set_default(pr, "whenScaled", json_string("Retain"));
	template_defaults(json_object_get(spec, "template"));
	size_t i;
	json_t *vct;
	json_array_foreach(json_object_get(spec, "volumeClaimTemplates"), i,
			   vct)
	{
		set_default(vct, "apiVersion", json_string("v1"));
		set_default(vct, "kind", json_string("PersistentVolumeClaim"));
		json_t *m = obj_child(vct, "metadata");
		set_default(m, "creationTimestamp", json_null());
		set_default(obj_child(vct, "spec"), "volumeMode",
			    json_string("Filesystem"));
		set_default(vct, "status",
			    json_pack("{s:s}", "phase", "Pending"));
	}
}

static void job_spec_defaults(json_t *spec)
{
	if (!json_is_object(spec))
		return;
	set_default(spec, "parallelism", json_integer(1));
	set_default(spec, "completions", json_integer(1));
	set_default(spec, "backoffLimit", json_integer(6));
	set_default(spec, "completionMode", json_string("NonIndexed"));
	set_default(spec, "suspend", json_false());
	template_defaults(json_object_get(spec, "template"));
}

static void next_ip(ks_devcluster *dc, char out[32])
{
	unsigned n = ++dc->ip_counter;
	snprintf(out, 32, "10.96.%u.%u", (n / 250) % 256, n % 250 + 1);
}

static void service_defaults(ks_devcluster *dc, json_t *spec)
{
	set_default(spec, "type", json_string("ClusterIP"));
	const char *type = dc_jstr(spec, "type");
	bool external = !strcmp(type, "ExternalName");
	if (!external) {
		if (!json_object_get(spec, "clusterIP")) {
			char ip[32];
			next_ip(dc, ip);
			json_object_set_new(spec, "clusterIP", json_string(ip));
		}
		if (!json_object_get(spec, "clusterIPs") &&
		    strcmp(dc_jstr(spec, "clusterIP"), "None"))
			json_object_set_new(
				spec, "clusterIPs",
				json_pack("[s]", dc_jstr(spec, "clusterIP")));
		else if (!json_object_get(spec, "clusterIPs"))
			json_object_set_new(spec, "clusterIPs",
					    json_pack("[s]", "None"));
		set_default(spec, "ipFamilies", json_pack("[s]", "IPv4"));
		set_default(spec, "ipFamilyPolicy", json_string("SingleStack"));
		set_default(spec, "internalTrafficPolicy",
			    json_string("Cluster"));
	}
	set_default(spec, "sessionAffinity", json_string("None"));
	bool node_ports =
		!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer");
	if (node_ports)
		set_default(spec, "externalTrafficPolicy",
			    json_string("Cluster"));
	if (!strcmp(type, "LoadBalancer"))
		set_default(spec, "allocateLoadBalancerNodePorts", json_true());
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(spec, "ports"), i, p)
	{
		set_default(p, "protocol", json_string("TCP"));
		json_t *port = json_object_get(p, "port");
		if (port)
			set_default(p, "targetPort", json_incref(port));
		if (node_ports && !json_object_get(p, "nodePort")) {
			if (dc->node_port < 30000)
				dc->node_port = 30000;
			json_object_set_new(p, "nodePort",
					    json_integer(dc->node_port++));
			if (dc->node_port > 32767)
				dc->node_port = 30000;
		}
	}
}

/* stringData is write-only: it is merged into data, base64-encoded. */
static void secret_defaults(json_t *obj)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				  "qrstuvwxyz0123456789+/";
	set_default(obj, "type", json_string("Opaque"));
	json_t *sd = json_object_get(obj, "stringData");
	if (!json_is_object(sd)) {
		json_object_del(obj, "stringData");
		return;
	}
	json_t *data = obj_child(obj, "data");
	const char *k;
	json_t *v;
	json_object_foreach(sd, k, v)
	{
		const unsigned char *s =
			(const unsigned char *)json_string_value(v);
		if (!s)
			continue;
		size_t n = strlen((const char *)s);
		char *out = ks_xmalloc(4 * (n / 3 + 1) + 1);
		size_t o = 0;
		for (size_t i = 0; i < n; i += 3) {
			unsigned x = (unsigned)s[i] << 16;
			if (i + 1 < n)
				x |= (unsigned)s[i + 1] << 8;
			if (i + 2 < n)
				x |= s[i + 2];
			out[o++] = b64[(x >> 18) & 63];
			out[o++] = b64[(x >> 12) & 63];
			out[o++] = i + 1 < n ? b64[(x >> 6) & 63] : '=';
			out[o++] = i + 2 < n ? b64[x & 63] : '=';
		}
		out[o] = '\0';
		json_object_set_new(data, k, json_string(out));
		free(out);
	}
	json_object_del(obj, "stringData");
}

void dc_canonical_quantities(json_t *obj)
{
	walk_quantities(obj);
}

void dc_apply_defaults(ks_devcluster *dc, dc_type *t, json_t *obj)
{
	if (!t->builtin)
		return;
	json_t *spec = json_object_get(obj, "spec");
	const char *r = t->resource;
	if (!strcmp(t->group, "apps") && !strcmp(r, "deployments"))
		deployment_defaults(obj_child(obj, "spec"));
	else if (!strcmp(r, "replicasets")) {
		spec = obj_child(obj, "spec");
		set_default(spec, "replicas", json_integer(1));
		template_defaults(json_object_get(spec, "template"));
	} else if (!strcmp(r, "statefulsets"))
		statefulset_defaults(obj_child(obj, "spec"));
	else if (!strcmp(r, "daemonsets")) {
		spec = obj_child(obj, "spec");
		set_default(spec, "revisionHistoryLimit", json_integer(10));
		template_defaults(json_object_get(spec, "template"));
	} else if (!strcmp(r, "jobs"))
		job_spec_defaults(obj_child(obj, "spec"));
	else if (!strcmp(r, "cronjobs")) {
		spec = obj_child(obj, "spec");
		set_default(spec, "concurrencyPolicy", json_string("Allow"));
		set_default(spec, "suspend", json_false());
		set_default(spec, "successfulJobsHistoryLimit",
			    json_integer(3));
		set_default(spec, "failedJobsHistoryLimit", json_integer(1));
		json_t *jt = obj_child(spec, "jobTemplate");
		set_default(obj_child(jt, "metadata"), "creationTimestamp",
			    json_null());
		json_t *js = json_object_get(jt, "spec");
		if (json_is_object(js))
			template_defaults(json_object_get(js, "template"));
	} else if (!strcmp(r, "pods"))
		pod_spec_defaults(obj_child(obj, "spec"), true);
	else if (!strcmp(r, "services"))
		service_defaults(dc, obj_child(obj, "spec"));
	else if (!strcmp(r, "secrets"))
		secret_defaults(obj);
	else if (!strcmp(r, "persistentvolumeclaims"))
		set_default(obj_child(obj, "spec"), "volumeMode",
			    json_string("Filesystem"));
	else if (!strcmp(r, "namespaces")) {
		set_default(obj_child(obj, "spec"), "finalizers",
			    json_pack("[s]", "kubernetes"));
		json_t *labels = obj_child(dc_meta(obj), "labels");
		json_object_set_new(labels, "kubernetes.io/metadata.name",
				    json_string(dc_meta_str(obj, "name")));
	}
	walk_quantities(obj);
}

void dc_initial_status(dc_type *t, json_t *obj)
{
	const char *r = t->resource;
	if (!t->status_sub)
		return;
	if (t->custom || !t->builtin) {
		json_object_del(obj, "status");
		return;
	}
	json_t *st = json_object();
	if (!strcmp(r, "namespaces"))
		json_object_set_new(st, "phase", json_string("Active"));
	else if (!strcmp(r, "services"))
		json_object_set_new(st, "loadBalancer", json_object());
	else if (!strcmp(r, "persistentvolumeclaims"))
		json_object_set_new(st, "phase", json_string("Pending"));
	else if (!strcmp(r, "pods")) {
		json_object_set_new(st, "phase", json_string("Pending"));
		json_object_set_new(st, "qosClass", json_string("BestEffort"));
	}
	if (!strcmp(r, "customresourcedefinitions")) {
		/* kept: the CRD controller fills it in */
		json_decref(st);
		json_object_set_new(obj, "status", json_object());
		return;
	}
	json_object_set_new(obj, "status", st);
}

const char *dc_name_problem(const dc_type *t, const char *name)
{
	if (!strcmp(t->resource, "namespaces")) {
		if (!ks_is_dns1123_label(name))
			return "a lowercase RFC 1123 label must consist of "
			       "lower case alphanumeric characters or '-', and "
			       "must start and end with an alphanumeric "
			       "character (e.g. 'my-name',  or '123-abc', "
			       "regex used for validation is "
			       "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
		return NULL;
	}
	if (!strcmp(t->resource, "services")) {
		if (!ks_is_dns1035_label(name))
			return "a DNS-1035 label must consist of lower case "
			       "alphanumeric characters or '-', start with an "
			       "alphabetic character, and end with an "
			       "alphanumeric character (e.g. 'my-name',  or "
			       "'abc-123', regex used for validation is "
			       "'[a-z]([-a-z0-9]*[a-z0-9])?')";
		return NULL;
	}
	if (!ks_is_dns1123_subdomain(name))
		return "a lowercase RFC 1123 subdomain must consist of lower "
		       "case alphanumeric characters, '-' or '.', and must "
		       "start and end with an alphanumeric character (e.g. "
		       "'example.com', regex used for validation is "
		       "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
		       "[a-z0-9])?)*')";
	return NULL;
}

static bool field_listed(const char *fields, const char *k)
{
	size_t kl = strlen(k);
	const char *p = fields;
	while (p && *p) {
		const char *sp = strchr(p, ' ');
		size_t n = sp ? (size_t)(sp - p) : strlen(p);
		if (n == kl && !memcmp(p, k, n))
			return true;
		p = sp ? sp + 1 : NULL;
	}
	return false;
}

const char *dc_unknown_field(const dc_type *t, const json_t *obj)
{
	if (!t->builtin || !t->fields)
		return NULL;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v)
	{
		if (!strcmp(k, "apiVersion") || !strcmp(k, "kind") ||
		    !strcmp(k, "metadata"))
			continue;
		if (!field_listed(t->fields, k))
			return k;
	}
	return NULL;
}
