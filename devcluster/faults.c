/*
 * Fault injection for tests: latency, error answers (500, 429 with
 * Retry-After, any 4xx/5xx) and dropped connections, per verb and resource,
 * each at a rate and optionally a limited number of times.
 *
 * Rules are written as `key=value,...` and separated by ';' or newlines:
 *   verb=patch,resource=deployments,error=500,rate=0.5
 *   verb=*,resource=configmaps,latency=200ms
 *   resource=pods,drop=1,count=3
 *   error=429,retry-after=2
 * verb and resource default to every verb and resource.
 */
#include "devcluster/internal.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/banned.h"

struct dc_fault {
	dc_fault *next;
	char verb[32];
	char resource[96];
	unsigned latency_ms;
	int error;
	bool drop;
	double rate;
	unsigned retry_after;
	long count; /* remaining firings; -1 unlimited */
};

struct delayed {
	uv_timer_t timer;
	struct delayed *next, *prev;
	ks_devcluster *dc;
	const ks_http_request *r;
	ks_http_exchange *ex;
	int error;
	unsigned retry_after;
	bool drop;
	bool gone;
};

void dc_faults_free(ks_devcluster *dc)
{
	while (dc->faults) {
		dc_fault *f = dc->faults;
		dc->faults = f->next;
		free(f);
	}
}

static int parse_rule(dc_fault *f, const char *s, size_t n, ks_error *err)
{
	snprintf(f->verb, sizeof(f->verb), "*");
	snprintf(f->resource, sizeof(f->resource), "*");
	f->rate = 1;
	f->count = -1;
	char *rule = ks_xstrndup(s, n);
	char *save = NULL;
	int rc = 0;
	for (char *kv = strtok_r(rule, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save)) {
		while (*kv == ' ' || *kv == '\t')
			kv++;
		char *eq = strchr(kv, '=');
		if (!eq) {
			rc = ks_error_set(err, KS_EINVAL,
					  "fault rule: \"%s\" is not key=value",
					  kv);
			break;
		}
		*eq = '\0';
		const char *v = eq + 1;
		char *end;
		if (!strcmp(kv, "verb")) {
			snprintf(f->verb, sizeof(f->verb), "%s", v);
		} else if (!strcmp(kv, "resource")) {
			snprintf(f->resource, sizeof(f->resource), "%s", v);
		} else if (!strcmp(kv, "latency")) {
			long ms = strtol(v, &end, 10);
			if (!strcmp(end, "s"))
				ms *= 1000;
			else if (*end && strcmp(end, "ms"))
				ms = -1;
			if (ms < 0 || ms > 600000) {
				rc = ks_error_set(err, KS_EINVAL,
						  "fault rule: bad latency "
						  "\"%s\"",
						  v);
				break;
			}
			f->latency_ms = (unsigned)ms;
		} else if (!strcmp(kv, "error")) {
			f->error = (int)strtol(v, &end, 10);
			if (*end || f->error < 400 || f->error > 599) {
				rc = ks_error_set(err, KS_EINVAL,
						  "fault rule: bad error code "
						  "\"%s\"",
						  v);
				break;
			}
		} else if (!strcmp(kv, "drop")) {
			f->drop = strcmp(v, "0") && strcmp(v, "false");
		} else if (!strcmp(kv, "rate")) {
			f->rate = strtod(v, &end);
			if (*end || f->rate < 0 || f->rate > 1) {
				rc = ks_error_set(err, KS_EINVAL,
						  "fault rule: rate must be "
						  "between 0 and 1");
				break;
			}
		} else if (!strcmp(kv, "retry-after")) {
			f->retry_after = (unsigned)strtoul(v, NULL, 10);
		} else if (!strcmp(kv, "count")) {
			f->count = strtol(v, NULL, 10);
		} else {
			rc = ks_error_set(err, KS_EINVAL,
					  "fault rule: unknown key \"%s\"", kv);
			break;
		}
	}
	free(rule);
	if (!rc && !f->latency_ms && !f->error && !f->drop)
		rc = ks_error_set(err, KS_EINVAL,
				  "fault rule needs latency, error or drop");
	if (f->error == 429 && !f->retry_after)
		f->retry_after = 1;
	return rc;
}

int dc_faults_set(ks_devcluster *dc, const char *spec, ks_error *err)
{
	dc_fault *head = NULL, **tail = &head;
	const char *p = spec;
	while (p && *p) {
		size_t n = strcspn(p, ";\n");
		const char *q = p;
		while (q < p + n && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (q < p + n) {
			dc_fault *f = ks_xcalloc(1, sizeof(*f));
			if (parse_rule(f, q, (size_t)(p + n - q), err)) {
				free(f);
				while (head) {
					dc_fault *x = head;
					head = head->next;
					free(x);
				}
				return KS_EINVAL;
			}
			*tail = f;
			tail = &f->next;
		}
		p += n;
		if (*p)
			p++;
	}
	dc_faults_free(dc);
	dc->faults = head;
	return 0;
}

json_t *dc_faults_json(ks_devcluster *dc)
{
	json_t *a = json_array();
	for (dc_fault *f = dc->faults; f; f = f->next) {
		json_t *o = json_pack("{s:s, s:s, s:f}", "verb", f->verb,
				      "resource", f->resource, "rate", f->rate);
		if (f->latency_ms)
			json_object_set_new(o, "latencyMs",
					    json_integer(f->latency_ms));
		if (f->error)
			json_object_set_new(o, "error", json_integer(f->error));
		if (f->retry_after)
			json_object_set_new(o, "retryAfter",
					    json_integer(f->retry_after));
		if (f->drop)
			json_object_set_new(o, "drop", json_true());
		if (f->count >= 0)
			json_object_set_new(o, "count", json_integer(f->count));
		json_array_append_new(a, o);
	}
	return json_pack("{s:o}", "faults", a);
}

static double roll(void)
{
	unsigned int x;
	if (RAND_bytes((unsigned char *)&x, sizeof(x)) != 1)
		x = (unsigned)rand();
	return (double)x / 4294967296.0;
}

static bool fires(dc_fault *f)
{
	if (f->count == 0)
		return false;
	if (f->rate < 1 && roll() >= f->rate)
		return false;
	if (f->count > 0)
		f->count--;
	return true;
}

static void send_fault_error(ks_http_exchange *ex, const ks_http_request *r,
			     int code, unsigned retry_after)
{
	const char *reason = code == 429   ? "TooManyRequests"
			     : code == 500 ? "InternalError"
			     : code == 503 ? "ServiceUnavailable"
			     : code == 504 ? "Timeout"
					   : "";
	char msg[128];
	snprintf(msg, sizeof(msg), "devcluster: injected fault (%d)", code);
	json_t *st =
		json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s}", "kind", "Status",
			  "apiVersion", "v1", "metadata", "status", "Failure",
			  "message", msg, "reason", reason);
	if (retry_after)
		json_object_set_new(st, "details",
				    json_pack("{s:i}", "retryAfterSeconds",
					      (int)retry_after));
	json_object_set_new(st, "code", json_integer(code));
	char *s = json_dumps(st, JSON_COMPACT);
	json_decref(st);
	char ra[16];
	snprintf(ra, sizeof(ra), "%u", retry_after);
	ks_http_header h[2] = {{"Content-Type", "application/json"},
			       {"Retry-After", ra}};
	(void)r;
	ks_http_respond(ex, code, h, retry_after ? 2 : 1, s, strlen(s));
	free(s);
}

static void delayed_closed(uv_handle_t *h)
{
	free(h->data);
}

static void delayed_unlink(struct delayed *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		d->dc->fault_delays = d->next;
	if (d->next)
		d->next->prev = d->prev;
}

void dc_faults_stop(ks_devcluster *dc)
{
	while (dc->fault_delays) {
		struct delayed *d = dc->fault_delays;
		delayed_unlink(d);
		uv_timer_stop(&d->timer);
		ks_http_on_close(d->ex, NULL, NULL);
		ks_http_drop(d->ex);
		uv_close((uv_handle_t *)&d->timer, delayed_closed);
	}
}

static void on_client_gone(void *ud)
{
	struct delayed *d = ud;
	d->gone = true;
}

static void on_delay(uv_timer_t *t)
{
	struct delayed *d = t->data;
	delayed_unlink(d);
	ks_http_on_close(d->ex, NULL, NULL);
	if (d->gone || d->dc->stopping)
		ks_http_drop(d->ex);
	else if (d->drop)
		ks_http_drop(d->ex);
	else if (d->error)
		send_fault_error(d->ex, d->r, d->error, d->retry_after);
	else
		dc_handle_unfaulted(d->dc, d->r, d->ex);
	uv_close((uv_handle_t *)&d->timer, delayed_closed);
}

bool dc_fault_intercept(ks_devcluster *dc, const ks_http_request *r,
			ks_http_exchange *ex, const char *verb,
			const char *resource)
{
	if (!dc->faults || ks_http_request_header(r, "X-Devcluster-Faulted"))
		return false;
	unsigned latency = 0;
	int error = 0;
	unsigned retry_after = 0;
	bool drop = false;
	for (dc_fault *f = dc->faults; f; f = f->next) {
		if (strcmp(f->verb, "*") && strcmp(f->verb, verb))
			continue;
		if (strcmp(f->resource, "*") && strcmp(f->resource, resource))
			continue;
		if (f->latency_ms && !f->error && !f->drop) {
			if (fires(f))
				latency += f->latency_ms;
			continue;
		}
		if (error || drop || !fires(f))
			continue;
		latency += f->latency_ms;
		error = f->error;
		retry_after = f->retry_after;
		drop = f->drop;
	}
	if (!latency && !error && !drop)
		return false;
	if (!latency) {
		if (drop)
			ks_http_drop(ex);
		else
			send_fault_error(ex, r, error, retry_after);
		return true;
	}
	struct delayed *d = ks_xcalloc(1, sizeof(*d));
	d->dc = dc;
	d->r = r;
	d->ex = ex;
	d->error = error;
	d->retry_after = retry_after;
	d->drop = drop;
	uv_timer_init(dc->loop, &d->timer);
	d->timer.data = d;
	d->next = dc->fault_delays;
	if (d->next)
		d->next->prev = d;
	dc->fault_delays = d;
	ks_http_on_close(ex, on_client_gone, d);
	uv_timer_start(&d->timer, on_delay, latency, 0);
	return true;
}
