/*
 * Health rules of spec/agent.md § Health.
 */
#include "sync/sync.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/banned.h"

const char *ks_health_name(ks_health h)
{
	switch (h) {
	case KS_HEALTHY:
		return "Healthy";
	case KS_PROGRESSING:
		return "Progressing";
	case KS_DEGRADED:
		return "Degraded";
	case KS_MISSING:
		return "Missing";
	}
	return "?";
}

static json_int_t num(const json_t *o, const char *key, json_int_t dflt)
{
	const json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* The condition of TYPE, or NULL. */
static const json_t *condition(const json_t *status, const char *type)
{
	size_t i;
	const json_t *c;
	json_array_foreach(json_object_get(status, "conditions"), i, c)
	{
		const char *t = json_string_value(json_object_get(c, "type"));
		if (t && !strcmp(t, type))
			return c;
	}
	return NULL;
}

static bool cond_is(const json_t *c, const char *status, const char *reason)
{
	const char *s = json_string_value(json_object_get(c, "status"));
	const char *r = json_string_value(json_object_get(c, "reason"));
	if (!c || !s || strcmp(s, status))
		return false;
	return !reason || (r && !strcmp(r, reason));
}

static ks_health say(char *why, size_t n, ks_health h, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static ks_health say(char *why, size_t n, ks_health h, const char *fmt, ...)
{
	if (why && n) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return h;
}

static bool generation_seen(const json_t *md, const json_t *st)
{
	return num(st, "observedGeneration", 0) >= num(md, "generation", 0);
}

static ks_health deployment(const json_t *md, const json_t *spec,
			    const json_t *st, char *why, size_t n)
{
	if (cond_is(condition(st, "Progressing"), "False",
		    "ProgressDeadlineExceeded"))
		return say(why, n, KS_DEGRADED,
			   "deployment exceeded its progress deadline");
	if (!generation_seen(md, st))
		return say(why, n, KS_PROGRESSING,
			   "waiting for the spec update to be observed");
	json_int_t want = num(spec, "replicas", 1);
	json_int_t updated = num(st, "updatedReplicas", 0);
	json_int_t avail = num(st, "availableReplicas", 0);
	json_int_t total = num(st, "replicas", 0);
	if (updated != want)
		return say(why, n, KS_PROGRESSING,
			   "%lld out of %lld new replicas have been updated",
			   (long long)updated, (long long)want);
	if (total > updated)
		return say(why, n, KS_PROGRESSING,
			   "%lld old replicas are pending termination",
			   (long long)(total - updated));
	if (avail != updated)
		return say(why, n, KS_PROGRESSING,
			   "%lld of %lld updated replicas are available",
			   (long long)avail, (long long)updated);
	return KS_HEALTHY;
}

static ks_health collaset(const json_t *md, const json_t *spec,
			  const json_t *st, char *why, size_t n)
{
	if (!generation_seen(md, st))
		return say(why, n, KS_PROGRESSING,
			   "waiting for the spec update to be observed");
	json_int_t want = num(spec, "replicas", 0);
	json_int_t ua = num(st, "updatedAvailableReplicas", 0);
	json_int_t total = num(st, "replicas", 0);
	json_int_t op = num(st, "operatingReplicas", 0);
	if (ua != want || total != want)
		return say(why, n, KS_PROGRESSING,
			   "%lld of %lld replicas updated and available",
			   (long long)ua, (long long)want);
	if (op)
		return say(why, n, KS_PROGRESSING, "%lld replicas operating",
			   (long long)op);
	return KS_HEALTHY;
}

static ks_health statefulset(const json_t *md, const json_t *spec,
			     const json_t *st, char *why, size_t n)
{
	if (!generation_seen(md, st))
		return say(why, n, KS_PROGRESSING,
			   "waiting for the spec update to be observed");
	json_int_t want = num(spec, "replicas", 1);
	json_int_t ready = num(st, "readyReplicas", 0);
	json_int_t updated = num(st, "updatedReplicas", 0);
	if (ready != want || updated != want)
		return say(why, n, KS_PROGRESSING,
			   "%lld of %lld replicas ready, %lld updated",
			   (long long)ready, (long long)want,
			   (long long)updated);
	return KS_HEALTHY;
}

static ks_health job(const json_t *st, char *why, size_t n)
{
	if (cond_is(condition(st, "Failed"), "True", NULL)) {
		const char *msg = json_string_value(
			json_object_get(condition(st, "Failed"), "message"));
		return say(why, n, KS_DEGRADED, "job failed%s%s",
			   msg ? ": " : "", msg ? msg : "");
	}
	if (cond_is(condition(st, "Complete"), "True", NULL))
		return KS_HEALTHY;
	return say(why, n, KS_PROGRESSING, "job has not completed");
}

ks_health ks_sync_health(const json_t *live, char *why, size_t whylen)
{
	if (why && whylen)
		why[0] = '\0';
	if (!live)
		return say(why, whylen, KS_MISSING, "not found");
	const char *kind = json_string_value(json_object_get(live, "kind"));
	const char *av = json_string_value(json_object_get(live, "apiVersion"));
	const json_t *md = json_object_get(live, "metadata");
	const json_t *spec = json_object_get(live, "spec");
	const json_t *st = json_object_get(live, "status");
	if (!kind || !av)
		return KS_HEALTHY;
	if (!strcmp(kind, "Deployment") && !strcmp(av, "apps/v1"))
		return deployment(md, spec, st, why, whylen);
	if (!strcmp(kind, "StatefulSet") && !strcmp(av, "apps/v1"))
		return statefulset(md, spec, st, why, whylen);
	if (!strcmp(kind, "CollaSet") &&
	    !strncmp(av, "apps.kusionstack.io/", 20))
		return collaset(md, spec, st, why, whylen);
	if (!strcmp(kind, "Job") && !strcmp(av, "batch/v1"))
		return job(st, why, whylen);
	if (!strcmp(kind, "Service") && !strcmp(av, "v1")) {
		const char *type =
			json_string_value(json_object_get(spec, "type"));
		if (type && !strcmp(type, "LoadBalancer") &&
		    !json_array_size(json_object_get(
			    json_object_get(st, "loadBalancer"), "ingress")))
			return say(why, whylen, KS_PROGRESSING,
				   "waiting for a load balancer address");
	}
	return KS_HEALTHY;
}
