/*
 * Leader election on a Lease (client-go's leaderelection, one attempt per
 * call). The API server's optimistic concurrency does the arbitration: a
 * create of an existing Lease and an update carrying a stale
 * resourceVersion both fail with 409, so of two agents that read the same
 * Lease, one write wins and the other learns it lost.
 */
#include "agent/lease.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "core/values.h"
#include "core/banned.h"

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A MicroTime as the API server writes it: "2006-01-02T15:04:05.000000Z". */
static void format_micro(int64_t us, char *buf, size_t len)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	gmtime_r(&t, &tm);
	char base[32];
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	if (snprintf(buf, len, "%s.%06ldZ", base, (long)(us % 1000000)) >=
	    (int)len)
		buf[0] = '\0'; /* callers pass 40 bytes: cannot happen */
}

static char *lease_path(const char *ns, const char *name)
{
	return ks_xasprintf(
		"/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", ns,
		name);
}

static int lease_send(ks_kube_client *c, const char *method, const char *path,
		      const json_t *body, const char *what, ks_kube_resp *resp,
		      ks_error *err)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	ks_kube_req req = {
		.method = method,
		.path = path,
		.body = text,
		.body_len = text ? strlen(text) : 0,
		.what = what,
	};
	ks_kube_resp local;
	ks_kube_resp *r = resp ? resp : &local;
	int rc = ks_kube_request(c, &req, r, err);
	if (!resp)
		ks_kube_resp_release(&local);
	free(text);
	return rc;
}

/* Creates the Lease held by IDENTITY: 1 when created, 0 when another
 * agent created it first. */
static int lease_create(ks_kube_client *c, const char *ns, const char *name,
			const char *identity, int duration_s, const char *what,
			ks_error *err)
{
	char now[40];
	format_micro(now_us(), now, sizeof now);
	json_t *lease = json_pack(
		"{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:i, s:s, s:s, s:i}}",
		"apiVersion", "coordination.k8s.io/v1", "kind", "Lease",
		"metadata", "name", name, "namespace", ns, "spec",
		"holderIdentity", identity, "leaseDurationSeconds", duration_s,
		"acquireTime", now, "renewTime", now, "leaseTransitions", 0);
	char *coll = ks_xasprintf(
		"/apis/coordination.k8s.io/v1/namespaces/%s/leases", ns);
	int rc = lease_send(c, "POST", coll, lease, what, NULL, err);
	free(coll);
	json_decref(lease);
	if (rc == KS_ECONFLICT)
		return 0;
	return rc < 0 ? rc : 1;
}

/* Whether the Lease SPEC is free to take at NOW: no holder, or its last
 * renewal older than its duration. */
static bool lease_free(const json_t *spec, int duration_s, int64_t now)
{
	const char *holder =
		json_string_value(json_object_get(spec, "holderIdentity"));
	if (!holder || !*holder)
		return true;
	json_t *d = json_object_get(spec, "leaseDurationSeconds");
	int64_t dur = json_is_integer(d) && json_integer_value(d) > 0
			      ? json_integer_value(d)
			      : duration_s;
	int64_t renew = ks_time_parse_us(
		json_string_value(json_object_get(spec, "renewTime")));
	if (renew < 0)
		renew = ks_time_parse_us(json_string_value(
			json_object_get(spec, "acquireTime")));
	return renew < 0 || renew + dur * 1000000 < now;
}

int ks_lease_try(ks_kube_client *c, const char *ns, const char *name,
		 const char *identity, int duration_s, bool *leader,
		 ks_error *err)
{
	*leader = false;
	char *path = lease_path(ns, name);
	char *what = ks_xasprintf("Lease \"%s/%s\"", ns, name);
	ks_kube_resp resp;
	int rc = lease_send(c, "GET", path, NULL, what, &resp, err);
	if (rc == KS_ENOTFOUND) {
		rc = lease_create(c, ns, name, identity, duration_s, what, err);
		*leader = rc == 1;
		rc = rc < 0 ? rc : 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	json_t *obj = resp.json;
	json_t *spec = json_object_get(obj, "spec");
	if (!json_is_object(spec)) {
		spec = json_object();
		json_object_set_new(obj, "spec", spec);
	}
	int64_t now = now_us();
	const char *holder =
		json_string_value(json_object_get(spec, "holderIdentity"));
	bool ours = holder && !strcmp(holder, identity);
	if (!ours && !lease_free(spec, duration_s, now))
		goto out;
	char ts[40];
	format_micro(now, ts, sizeof ts);
	if (!ours) {
		json_t *tr = json_object_get(spec, "leaseTransitions");
		json_int_t n = json_is_integer(tr) ? json_integer_value(tr) : 0;
		json_object_set_new(spec, "holderIdentity",
				    json_string(identity));
		json_object_set_new(spec, "acquireTime", json_string(ts));
		json_object_set_new(spec, "leaseTransitions",
				    json_integer(n + 1));
	}
	json_object_set_new(spec, "renewTime", json_string(ts));
	json_object_set_new(spec, "leaseDurationSeconds",
			    json_integer(duration_s));
	/* The object as read keeps its resourceVersion: the precondition. */
	json_object_del(json_object_get(obj, "metadata"), "managedFields");
	rc = lease_send(c, "PUT", path, obj, what, NULL, err);
	if (rc == 0)
		*leader = true;
	else if (rc == KS_ECONFLICT)
		rc = 0;
out:
	ks_kube_resp_release(&resp);
	free(what);
	free(path);
	return rc;
}

int ks_lease_release(ks_kube_client *c, const char *ns, const char *name,
		     const char *identity, ks_error *err)
{
	char *path = lease_path(ns, name);
	char *what = ks_xasprintf("Lease \"%s/%s\"", ns, name);
	ks_kube_resp resp;
	int rc = lease_send(c, "GET", path, NULL, what, &resp, err);
	if (rc == KS_ENOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	json_t *spec = json_object_get(resp.json, "spec");
	const char *holder =
		json_string_value(json_object_get(spec, "holderIdentity"));
	if (!holder || strcmp(holder, identity) != 0)
		goto out;
	/* As client-go releases: no holder, a one-second duration, renewed
	 * now; an empty holder lets anyone take it at once. */
	char ts[40];
	format_micro(now_us(), ts, sizeof ts);
	json_object_del(spec, "holderIdentity");
	json_object_set_new(spec, "leaseDurationSeconds", json_integer(1));
	json_object_set_new(spec, "renewTime", json_string(ts));
	json_object_del(json_object_get(resp.json, "metadata"),
			"managedFields");
	rc = lease_send(c, "PUT", path, resp.json, what, NULL, err);
	if (rc == KS_ECONFLICT) /* changed meanwhile: no longer ours */
		rc = 0;
out:
	ks_kube_resp_release(&resp);
	free(what);
	free(path);
	return rc;
}
