/*
 * The release store (spec/agent.md § Releases and state): release records,
 * small per-app state and the audit log, kept either in a local folder or
 * in Kubernetes Secrets.
 *
 * local backend, under PATH:
 *   releases/<app>/<number>.json.gz   one gzip'd JSON record per release
 *   apps/<app>.json                   per-app state
 *   audit.log                         JSON lines, appended and fsync'd
 * Files are mode 0600, folders 0700; records and state are written to a
 * temporary file in the same folder, fsync'd, renamed into place and the
 * folder fsync'd, so a crash leaves either the old or the new record.
 *
 * kubernetes backend, in namespace NS (created when missing):
 *   Secret kusync.release.<app>.v<number>   type kusync.io/release, labels
 *       owner=kusync, kusync.io/release-of=<app>,
 *       kusync.io/release-number=<number>; data.release = gzip'd JSON (the
 *       way Helm keeps its releases). Not labelled kusync.io/app, so a
 *       release is never taken for an orphan of the app. Written with one
 *       server-side apply (field manager kusync, forced): created or
 *       replaced whole in one request. Listed by the label selector
 *       owner=kusync,kusync.io/release-of=<app>.
 *   Secret kusync.state.<app>               type kusync.io/state, labels
 *       owner=kusync, kusync.io/state-of=<app>; data.state = the JSON
 *   Secret kusync.audit.<yyyymmdd>          type kusync.io/audit, labels
 *       owner=kusync, kusync.io/audit-day=<yyyymmdd>; data.audit = JSON
 *       lines of that UTC day; appended with optimistic concurrency (GET,
 *       append, PUT with the resourceVersion read, again on 409; POST when
 *       the day has none yet). Past 512 KiB a day goes on in
 *       kusync.audit.<yyyymmdd>.2, .3, ... (a Secret holds 1 MiB). A
 *       Secret rather than a ConfigMap because audit entries carry
 *       comments and identities that deserve the releases' access control.
 *
 * Unreadable records (bad gzip, not JSON, no app or number, a number other
 * than the file's or Secret's name says) are skipped and described in the
 * caller's warning list; they never fail an operation.
 *
 * Every operation takes the store's mutex: worker threads may share one
 * store.
 */
#ifndef KS_AGENT_STORE_H
#define KS_AGENT_STORE_H

#include <jansson.h>

#include "core/error.h"
#include "sync/kube.h"

/* The largest decompressed record read back (a cap on remote input). */
#define KS_STORE_MAX_RECORD ((size_t)64 << 20)

typedef struct ks_store ks_store;

/* Opens (creating folders as needed, mode 0700) the local store under
 * PATH, keeping HISTORY_LIMIT (>= 1) releases per app. KS_EIO when PATH
 * cannot be created or is not a folder. */
int ks_store_open_local(ks_store **out, const char *path, int history_limit,
			ks_error *err);

/* Opens the kubernetes store in namespace NS through client C (borrowed:
 * it must outlive the store), creating NS when missing. Errors as
 * ks_kube_request. */
int ks_store_open_kube(ks_store **out, ks_kube_client *c, const char *ns,
		       int history_limit, ks_error *err);

/* Frees the store. Accepts NULL. */
void ks_store_free(ks_store *s);

/* Whether NAME may be used as an app name in the store: a DNS-1123 label
 * (1 to 63 characters of [a-z0-9-], starting and ending with a letter or
 * digit), as every app's full name is; so it is safe as a path part, a
 * Secret name part and a label value. The store refuses other names with
 * KS_EINVAL. Returns 1 or 0. */
int ks_store_name_ok(const char *name);

/* Writes RELEASE (borrowed; its "app" and "number" (> 0) must be set),
 * replacing a record with the same number; atomic; then drops the oldest
 * records of the app beyond history_limit (by number), never the newest
 * Succeeded one (kept as the rollback target even when older). KS_EINVAL
 * for a release without a valid app or number. Thread-safe. */
int ks_store_put(ks_store *s, const json_t *release, ks_error *err);

/* The highest release number stored for APP, readable or not (0 when
 * none): a new release must be numbered past an unreadable record too,
 * never over it. */
int ks_store_last_number(ks_store *s, const char *app, long long *out,
			 ks_error *err);

/* Every readable release of APP, newest (highest number) first: *out a new
 * array. Unreadable ones are skipped and described in WARNINGS (may be
 * NULL), one entry each naming the file or Secret. An app with nothing
 * stored gives an empty array. */
int ks_store_list(ks_store *s, const char *app, json_t **out,
		  ks_errlist *warnings, ks_error *err);

/* The names of the apps with stored releases, sorted: *out a new array of
 * strings. */
int ks_store_apps(ks_store *s, json_t **out, ks_error *err);

/* Small per-app state that must survive restarts ({"suspended": true}):
 * *out a new reference, or NULL when none is stored (or it is unreadable,
 * which is logged nowhere: the state is advisory). */
int ks_store_get_state(ks_store *s, const char *app, json_t **out,
		       ks_error *err);

/* Replaces APP's state with STATE (borrowed); STATE NULL deletes it. */
int ks_store_put_state(ks_store *s, const char *app, const json_t *state,
		       ks_error *err);

/* Appends ENTRY (borrowed; {"at","who","via","what","app","release",
 * "comment"}, "at" filled with the current time when missing) to the audit
 * log. */
int ks_store_audit(ks_store *s, const json_t *entry, ks_error *err);

/* Every readable audit entry, oldest first: *out a new array. Unreadable
 * lines are skipped. */
int ks_store_audit_list(ks_store *s, json_t **out, ks_error *err);

#endif
