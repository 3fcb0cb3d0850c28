/*
 * Watches: an in-memory cache of the live objects labelled kusync.io/app,
 * kept current by Kubernetes watches (spec/agent.md § Drift, spec/kube-api.md
 * § 9), so that drift is noticed as it happens instead of by polling.
 *
 * Threads: one thread per watched resource type. Each LISTs the type
 * (label selector `kusync.io/app`, pages of 500 with `continue`), replaces
 * that type's part of the cache and keeps the list's resourceVersion, then
 * WATCHes from it (`allowWatchBookmarks=true`, `timeoutSeconds=300`),
 * reading one JSON event a line as it arrives: ADDED and MODIFIED put the
 * object, DELETED removes it, BOOKMARK only moves the resourceVersion, an
 * ERROR 410 (or an HTTP 410) makes a new LIST. A stream that ends (server
 * timeout, dropped connection) is resumed from the last resourceVersion
 * seen; failures back off (ks_kube_backoff_ms, 200 ms doubling to 30 s).
 * Every RESYNC_MS the type is LISTed again as a safety net. A type the
 * server does not serve is not watched (and counts as synced, with no
 * objects); it is looked up again at the next resync.
 *
 * Every request of a watch thread runs on its own curl multi handle, so
 * ks_watch_stop interrupts LISTs, streams and back-off waits at once. The
 * requests use the client's connection settings (server, TLS, credentials,
 * rate limit) but not its retries: the thread's own loop retries.
 *
 * The cache is guarded by a mutex: ks_watch_objects and ks_watch_synced may
 * be called from any thread.
 */
#ifndef KS_SYNC_WATCH_H
#define KS_SYNC_WATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "sync/kube.h"

typedef struct ks_watch ks_watch;

/*
 * Called on a watch thread after the cache changed for an object labelled
 * kusync.io/app=APP (APP borrowed for the call): an object of the app was
 * added, modified or deleted, or a LIST (the first one included) found the
 * app's objects of a type different from the cache. A MODIFIED that moves
 * an object from one app to another calls it for both. Never called with
 * the cache's mutex held. Keep it cheap: the agent calls uv_async_send.
 */
typedef void (*ks_watch_cb)(void *ud, const char *app);

/*
 * Starts one watch per resource type of KINDS: a JSON array whose entries
 * are {"apiVersion": ..., "kind": ...} objects or "apiVersion:Kind" strings
 * ("apps/v1:Deployment", "v1:ConfigMap"); duplicates are watched once.
 * RESYNC_MS <= 0: no periodic re-LIST (an unserved type is then looked up
 * again every 5 minutes). C is borrowed and must outlive the watch. CB may
 * be NULL. Returns KS_EINVAL (and starts nothing) for a malformed entry;
 * otherwise 0 at once: the LISTs happen on the watch threads (see
 * ks_watch_synced).
 */
int ks_watch_start(ks_watch **out, ks_kube_client *c, const json_t *kinds,
		   int64_t resync_ms, ks_watch_cb cb, void *ud, ks_error *err);

/* Adds the kinds of KINDS (same forms as ks_watch_start) not yet watched
 * (new apps render new kinds). KS_EINVAL for a malformed entry (nothing is
 * added then). */
int ks_watch_add_kinds(ks_watch *w, const json_t *kinds, ks_error *err);

/* Whether every watched kind has finished its first LIST (a kind the
 * server does not serve counts as listed). */
bool ks_watch_synced(ks_watch *w);

/*
 * Copies of the cached live objects labelled kusync.io/app=APP (a new
 * array, sorted by apiVersion:Kind:namespace:name), as ks_sync_plan_build's
 * LIVE wants: objects with apiVersion and kind, metadata.managedFields
 * kept for the kusync field manager only, status kept only for the kinds
 * ks_sync_health reads (apps/v1 Deployment and StatefulSet, batch/v1 Job,
 * CollaSet); the cache holds them as JSON text, so each call parses them
 * anew. An empty array for an app without objects.
 */
json_t *ks_watch_objects(ks_watch *w, const char *app);

/*
 * For diagnostics (the agent's status and readiness): one entry per watched
 * kind, in the order they were added: {"kind": "apps/v1:Deployment",
 * "synced": first LIST done, "served": false when the server does not
 * serve it, "objects": how many are cached, "error": the last failure
 * (LIST, stream, discovery) or null once a LIST or stream went well}.
 * A new array.
 */
json_t *ks_watch_status(ks_watch *w);

/* Stops every watch, joins the threads (within about a second: requests in
 * flight are aborted) and frees W. Accepts NULL. */
void ks_watch_stop(ks_watch *w);

#endif
