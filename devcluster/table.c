/*
 * meta.k8s.io/v1 Table answers for kubectl's human-readable output: the
 * columns the real server prints for the common built-ins, Name and Age for
 * everything else.
 */
#include "devcluster/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "core/banned.h"

bool dc_wants_table(const ks_http_request *r)
{
	const char *a = ks_http_request_header(r, "Accept");
	return a && strstr(a, "as=Table") && strstr(a, "g=meta.k8s.io");
}

/* Seconds since the epoch of an RFC 3339 UTC timestamp, -1 if malformed.
 * Days from the civil date as in Howard Hinnant's algorithm. */
static long long parse_utc(const char *ts)
{
	int y, mo, d, h, mi, s;
	if (!ts || sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi,
			  &s) != 6)
		return -1;
	y -= mo <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	long long days = era * 146097 + doe - 719468;
	return days * 86400 + h * 3600 + mi * 60 + s;
}

/* k8s.io/apimachinery/pkg/util/duration.HumanDuration */
static void human_age(const char *ts, char *out, size_t n)
{
	long long then = parse_utc(ts);
	if (then < 0) {
		snprintf(out, n, "<unknown>");
		return;
	}
	long long s = (long long)time(NULL) - then;
	if (s < -1) {
		snprintf(out, n, "<invalid>");
		return;
	}
	if (s < 0)
		s = 0;
	long long m = s / 60, h = s / 3600, d = h / 24, y = d / 365;
	if (s < 120)
		snprintf(out, n, "%llds", s);
	else if (m < 10)
		snprintf(out, n, s % 60 ? "%lldm%llds" : "%lldm", m, s % 60);
	else if (m < 180)
		snprintf(out, n, "%lldm", m);
	else if (h < 8)
		snprintf(out, n, m % 60 ? "%lldh%lldm" : "%lldh", h, m % 60);
	else if (h < 48)
		snprintf(out, n, "%lldh", h);
	else if (h < 24 * 8)
		snprintf(out, n, h % 24 ? "%lldd%lldh" : "%lldd", d, h % 24);
	else if (d < 365 * 2)
		snprintf(out, n, "%lldd", d);
	else if (d < 365 * 8)
		snprintf(out, n, "%lldy%lldd", y, d % 365);
	else
		snprintf(out, n, "%lldy", y);
}

static json_t *col(const char *name, const char *type, const char *format,
		   int priority)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", name, "type",
			 type, "format", format, "description", "", "priority",
			 priority);
}

enum table_kind {
	T_DEFAULT,
	T_NAMESPACE,
	T_CONFIGMAP,
	T_SECRET,
	T_DEPLOYMENT,
	T_REPLICASET,
	T_STATEFULSET,
	T_SERVICE,
	T_JOB,
};

static enum table_kind kind_of(const dc_type *t)
{
	if (t->custom || !t->builtin)
		return T_DEFAULT;
	const char *r = t->resource;
	if (!*t->group) {
		if (!strcmp(r, "namespaces"))
			return T_NAMESPACE;
		if (!strcmp(r, "configmaps"))
			return T_CONFIGMAP;
		if (!strcmp(r, "secrets"))
			return T_SECRET;
		if (!strcmp(r, "services"))
			return T_SERVICE;
	}
	if (!strcmp(t->group, "apps")) {
		if (!strcmp(r, "deployments"))
			return T_DEPLOYMENT;
		if (!strcmp(r, "replicasets"))
			return T_REPLICASET;
		if (!strcmp(r, "statefulsets"))
			return T_STATEFULSET;
	}
	if (!strcmp(t->group, "batch") && !strcmp(r, "jobs"))
		return T_JOB;
	return T_DEFAULT;
}

static json_t *columns(enum table_kind k)
{
	json_t *c = json_array();
	json_array_append_new(c, col("Name", "string", "name", 0));
	switch (k) {
	case T_NAMESPACE:
		json_array_append_new(c, col("Status", "string", "", 0));
		break;
	case T_CONFIGMAP:
		json_array_append_new(c, col("Data", "string", "", 0));
		break;
	case T_SECRET:
		json_array_append_new(c, col("Type", "string", "", 0));
		json_array_append_new(c, col("Data", "string", "", 0));
		break;
	case T_DEPLOYMENT:
		json_array_append_new(c, col("Ready", "string", "", 0));
		json_array_append_new(c, col("Up-to-date", "string", "", 0));
		json_array_append_new(c, col("Available", "string", "", 0));
		break;
	case T_REPLICASET:
		json_array_append_new(c, col("Desired", "integer", "", 0));
		json_array_append_new(c, col("Current", "integer", "", 0));
		json_array_append_new(c, col("Ready", "integer", "", 0));
		break;
	case T_STATEFULSET:
		json_array_append_new(c, col("Ready", "string", "", 0));
		break;
	case T_SERVICE:
		json_array_append_new(c, col("Type", "string", "", 0));
		json_array_append_new(c, col("Cluster-IP", "string", "", 0));
		json_array_append_new(c, col("External-IP", "string", "", 0));
		json_array_append_new(c, col("Port(s)", "string", "", 0));
		break;
	case T_JOB:
		json_array_append_new(c, col("Completions", "string", "", 0));
		break;
	case T_DEFAULT:
		break;
	}
	json_array_append_new(c, col("Age", "string", "", 0));
	return c;
}

static json_int_t ival(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static char *ports_text(const json_t *spec)
{
	ks_buf b;
	ks_buf_init(&b, 0);
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(spec, "ports"), i, p)
	{
		if (b.len)
			ks_buf_puts(&b, ",");
		ks_buf_printf(&b, "%lld", (long long)ival(p, "port"));
		if (json_object_get(p, "nodePort"))
			ks_buf_printf(&b, ":%lld",
				      (long long)ival(p, "nodePort"));
		ks_buf_printf(&b, "/%s", dc_jstr(p, "protocol"));
	}
	if (!b.len)
		ks_buf_puts(&b, "<none>");
	return ks_buf_detach(&b, NULL);
}

static void service_cells(json_t *cells, const json_t *obj)
{
	json_t *spec = json_object_get(obj, "spec");
	json_array_append_new(cells, json_string(dc_jstr(spec, "type")));
	const char *ip = dc_jstr(spec, "clusterIP");
	json_array_append_new(cells, json_string(*ip ? ip : "<none>"));
	json_t *ing = json_object_get(
		json_object_get(json_object_get(obj, "status"), "loadBalancer"),
		"ingress");
	const char *ext = json_array_size(ing)
				  ? dc_jstr(json_array_get(ing, 0), "ip")
				  : "";
	bool lb = !strcmp(dc_jstr(spec, "type"), "LoadBalancer");
	json_array_append_new(
		cells, json_string(*ext ? ext : (lb ? "<pending>" : "<none>")));
	char *ports = ports_text(spec);
	json_array_append_new(cells, json_string(ports));
	free(ports);
}

static json_t *row(enum table_kind k, const json_t *obj)
{
	json_t *cells = json_array();
	json_t *spec = json_object_get(obj, "spec");
	json_t *st = json_object_get(obj, "status");
	char buf[64];
	json_array_append_new(cells, json_string(dc_meta_str(obj, "name")));
	switch (k) {
	case T_NAMESPACE:
		json_array_append_new(cells, json_string(dc_jstr(st, "phase")));
		break;
	case T_CONFIGMAP:
		json_array_append_new(
			cells,
			json_integer(
				(json_int_t)(json_object_size(json_object_get(
						     obj, "data")) +
					     json_object_size(json_object_get(
						     obj, "binaryData")))));
		break;
	case T_SECRET:
		json_array_append_new(cells, json_string(dc_jstr(obj, "type")));
		json_array_append_new(cells,
				      json_integer((json_int_t)json_object_size(
					      json_object_get(obj, "data"))));
		break;
	case T_DEPLOYMENT:
		snprintf(buf, sizeof(buf), "%lld/%lld",
			 (long long)ival(st, "readyReplicas"),
			 (long long)ival(spec, "replicas"));
		json_array_append_new(cells, json_string(buf));
		json_array_append_new(
			cells, json_integer(ival(st, "updatedReplicas")));
		json_array_append_new(
			cells, json_integer(ival(st, "availableReplicas")));
		break;
	case T_REPLICASET:
		json_array_append_new(cells,
				      json_integer(ival(spec, "replicas")));
		json_array_append_new(cells,
				      json_integer(ival(st, "replicas")));
		json_array_append_new(cells,
				      json_integer(ival(st, "readyReplicas")));
		break;
	case T_STATEFULSET:
		snprintf(buf, sizeof(buf), "%lld/%lld",
			 (long long)ival(st, "readyReplicas"),
			 (long long)ival(spec, "replicas"));
		json_array_append_new(cells, json_string(buf));
		break;
	case T_SERVICE:
		service_cells(cells, obj);
		break;
	case T_JOB:
		snprintf(buf, sizeof(buf), "%lld/%lld",
			 (long long)ival(st, "succeeded"),
			 (long long)(json_object_get(spec, "completions")
					     ? ival(spec, "completions")
					     : 1));
		json_array_append_new(cells, json_string(buf));
		break;
	case T_DEFAULT:
		break;
	}
	human_age(dc_meta_str(obj, "creationTimestamp"), buf, sizeof(buf));
	json_array_append_new(cells, json_string(buf));
	json_t *meta = json_deep_copy(json_object_get(obj, "metadata"));
	return json_pack("{s:o, s:{s:s, s:s, s:o}}", "cells", cells, "object",
			 "kind", "PartialObjectMetadata", "apiVersion",
			 "meta.k8s.io/v1", "metadata",
			 meta ? meta : json_object());
}

json_t *dc_table(const dc_type *t, json_t *objs, json_t *list_meta)
{
	enum table_kind k = kind_of(t);
	json_t *rows = json_array();
	size_t i;
	json_t *o;
	json_array_foreach(objs, i, o)
	{
		json_array_append_new(rows, row(k, o));
	}
	return json_pack("{s:s, s:s, s:o, s:o, s:o}", "kind", "Table",
			 "apiVersion", "meta.k8s.io/v1", "metadata",
			 list_meta ? list_meta : json_object(),
			 "columnDefinitions", columns(k), "rows", rows);
}
