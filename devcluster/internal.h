/*
 * devcluster's internals, shared by its .c files: the resource types, the
 * object store with its event log and watches, the request handling and the
 * simulated controllers.
 *
 * Stored objects are immutable jansson trees: a write builds a new tree and
 * replaces the stored reference, so lists, watch events and the event log
 * share subtrees safely.
 */
#ifndef KS_DEVCLUSTER_INTERNAL_H
#define KS_DEVCLUSTER_INTERNAL_H

#include <jansson.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/http.h"
#include "devcluster/devcluster.h"

typedef struct dc_type {
	char *group; /* "" for core */
	char *version;
	char *resource; /* plural */
	char *kind;
	char *singular;	   /* "" for built-ins, as their discovery says */
	char *short_names; /* comma-separated, or "" */
	char *api_version; /* "v1", "apps/v1" */
	bool namespaced;
	bool all_category;
	bool status_sub;
	bool scale_sub;
	bool generation;       /* metadata.generation is kept */
	bool create_on_update; /* PUT to a missing object creates it */
	bool require_rv;       /* PUT must carry resourceVersion */
	bool builtin;	       /* strategic merge patch, strict top level */
	bool custom;	       /* added by a CRD */
	const char *fields;    /* space-separated top-level fields, or NULL */
	char *hash;	       /* storageVersionHash */
	json_t *objects;       /* "ns/name" -> object */
} dc_type;

enum dc_event_type { DC_ADDED, DC_MODIFIED, DC_DELETED };

typedef struct dc_event {
	uint64_t rv;
	enum dc_event_type type;
	dc_type *t;
	json_t *obj; /* the new (or, for DELETED, last) state */
	json_t *old; /* the previous state for MODIFIED, else NULL */
} dc_event;

#define DC_EVENT_LOG 4096

typedef struct dc_watch dc_watch;
typedef struct dc_fault dc_fault;

struct ks_devcluster {
	uv_loop_t *loop;
	ks_http_server *http;
	char url[128];
	ks_devcluster_opts opts;
	char *listen, *fail_images_src, *state_file, *token_file, *tls_cert,
		*tls_key, *client_ca;
	bool have_fail_re;
	regex_t fail_re;
	char **tokens;
	size_t ntokens;

	dc_type **types;
	size_t ntypes;
	unsigned types_gen; /* bumped when CRDs change the served types */
	uint64_t rv;

	dc_event log[DC_EVENT_LOG];
	size_t log_start, log_len;
	uint64_t log_oldest_rv; /* rv of the oldest event still in the log */

	dc_watch *watches;
	dc_fault *faults;
	struct delayed *fault_delays; /* requests held back by latency */
	struct dc_task *tasks;
	uv_timer_t save_timer;
	bool save_pending;
	bool stopping;
	unsigned ip_counter;
	unsigned lb_counter;
	unsigned node_port;
};

/* ---- types.c ---- */
void dc_types_init(ks_devcluster *dc);
void dc_types_free(ks_devcluster *dc);
/* The type of RESOURCE in GROUP/VERSION, or NULL. */
dc_type *dc_type_find(ks_devcluster *dc, const char *group, const char *version,
		      const char *resource);
dc_type *dc_type_by_kind(ks_devcluster *dc, const char *api_version,
			 const char *kind);
/* Whether a group/version is served. */
bool dc_gv_exists(ks_devcluster *dc, const char *group, const char *version);
/* Adds or removes the types a CRD defines (called on its writes). */
void dc_types_crd_changed(ks_devcluster *dc, const json_t *crd, bool deleted);
json_t *dc_discovery_api(ks_devcluster *dc);
json_t *dc_discovery_apis(ks_devcluster *dc);
json_t *dc_discovery_group(ks_devcluster *dc, const char *group);
json_t *dc_discovery_resources(ks_devcluster *dc, const char *group,
			       const char *version);
json_t *dc_openapi_index(ks_devcluster *dc);
json_t *dc_openapi_doc(ks_devcluster *dc, const char *group,
		       const char *version);
/* "configmaps" or "deployments.apps" as messages name a resource. */
char *dc_type_qualified(const dc_type *t);

/* ---- store.c ---- */
/* The string member K of O, or "" (never NULL). */
const char *dc_jstr(const json_t *o, const char *k);
/* The string value of V, or "". */
const char *dc_str(const json_t *v);
/* "v1" or "apps/v1" in static storage until the next call. */
const char *dc_gv_string(const char *group, const char *version);
/* Ends the watches on T (its CRD went away). */
void dc_watches_drop_type(ks_devcluster *dc, dc_type *t);
char *dc_key(const char *ns, const char *name);
json_t *dc_get(dc_type *t, const char *ns, const char *name);
/* Stores OBJ (stolen) under a new resourceVersion set in it, logs and
 * broadcasts the event. */
void dc_put(ks_devcluster *dc, dc_type *t, json_t *obj, json_t *old);
/* Removes the object, logs DELETED with a new resourceVersion. */
void dc_remove(ks_devcluster *dc, dc_type *t, const char *ns, const char *name);
void dc_now(char out[32]);
void dc_now_micro(char out[40]);
void dc_new_uid(ks_devcluster *dc, char out[40]);
const char *dc_meta_str(const json_t *obj, const char *field);
json_t *dc_meta(json_t *obj);
/* Puts kind, apiVersion, metadata first and status last, and metadata's
 * fields in the API server's order. Returns a new object. */
json_t *dc_ordered(const json_t *obj);
/* A shallow copy without kind and apiVersion (list items). */
json_t *dc_list_item(const json_t *obj);
void dc_watch_start(ks_devcluster *dc, dc_type *t, const char *ns,
		    const ks_http_request *r, ks_http_exchange *ex,
		    uint64_t from_rv, bool send_initial, void *lsel, void *fsel,
		    long timeout_s, bool bookmarks);
void dc_watches_stop_all(ks_devcluster *dc);
void dc_schedule_save(ks_devcluster *dc);
int dc_state_load(ks_devcluster *dc, ks_error *err);
int dc_state_save(ks_devcluster *dc, ks_error *err);

/* ---- objects.c ---- */
/* Server defaults and canonical quantities, in place. */
void dc_apply_defaults(ks_devcluster *dc, dc_type *t, json_t *obj);
/* Quantities under limits/requests/capacity/hard in canonical form. */
void dc_canonical_quantities(json_t *obj);
/* Fills in the status a new object of T starts with. */
void dc_initial_status(dc_type *t, json_t *obj);
/* NULL when the name is valid for T, else the reason. */
const char *dc_name_problem(const dc_type *t, const char *name);
/* The first top-level field of a built-in that is not known, or NULL. */
const char *dc_unknown_field(const dc_type *t, const json_t *obj);

/* ---- api.c ---- */
void dc_handle(void *ud, const ks_http_request *r, ks_http_exchange *ex);
/* Handles a request that fault injection delayed (no faults again). */
void dc_handle_unfaulted(ks_devcluster *dc, const ks_http_request *r,
			 ks_http_exchange *ex);
/* Writes OBJ as the server would (new resourceVersion, generation, ...)
 * as a controller: the manager is its name; status writes go to the
 * status scope. Returns the stored object (borrowed) or NULL. */
json_t *dc_controller_write(ks_devcluster *dc, dc_type *t, json_t *obj,
			    const char *manager, bool status);
/* Deletes an object as the garbage collector would (cascading). */
void dc_controller_delete(ks_devcluster *dc, dc_type *t, const char *ns,
			  const char *name);
void dc_send_json(ks_http_exchange *ex, const ks_http_request *r, int code,
		  json_t *body);
void dc_send_status(ks_http_exchange *ex, const ks_http_request *r, int code,
		    const char *reason, const char *msg, json_t *details);

/* ---- table.c ---- */
/* Whether the client asked for meta.k8s.io Table output. */
bool dc_wants_table(const ks_http_request *r);
/* A Table of OBJS (an array, borrowed) of type T with LIST_META (stolen,
 * may be NULL) as its metadata. */
json_t *dc_table(const dc_type *t, json_t *objs, json_t *list_meta);

/* ---- controllers.c ---- */
/* Called after every stored change (also for deletes, with obj the last
 * state and deleted true). */
void dc_controllers_notify(ks_devcluster *dc, dc_type *t, const json_t *obj,
			   bool deleted);
void dc_controllers_stop(ks_devcluster *dc);
/* Removes the ownerReferences to UID (an orphaning delete). */
void dc_orphan_dependents(ks_devcluster *dc, const char *uid);

/* ---- faults.c ---- */
/* Applies the fault rules to a request: returns true when a fault took the
 * request over (the exchange is then finished or delayed by faults.c). */
bool dc_fault_intercept(ks_devcluster *dc, const ks_http_request *r,
			ks_http_exchange *ex, const char *verb,
			const char *resource);
int dc_faults_set(ks_devcluster *dc, const char *spec, ks_error *err);
json_t *dc_faults_json(ks_devcluster *dc);
void dc_faults_free(ks_devcluster *dc);
/* Drops the requests fault latency still holds (at shutdown). */
void dc_faults_stop(ks_devcluster *dc);

#endif
