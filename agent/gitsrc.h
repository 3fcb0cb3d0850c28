/*
 * Git sources: fetching one ref of a repository into a bare cache, and
 * reading stack folders out of a commit's tree as in-memory render stacks.
 *
 * The network part (fetch) runs in a child process so that it can be
 * killed: libgit2 has no way to abort a transfer that hangs. The tree
 * reading part is in-process and never touches the network.
 */
#ifndef KS_AGENT_GITSRC_H
#define KS_AGENT_GITSRC_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "render/render.h"

/* Credentials of a source, all optional (NULL); borrowed by the calls. */
typedef struct ks_git_creds {
	const char *username, *password, *ssh_key_file, *known_hosts_file;
} ks_git_creds;

/*
 * Fetch REF of URL into the bare repository REPO_DIR (cloned bare on
 * first use; re-created when it is corrupt or its URL changed) in a child
 * process (`/proc/self/exe __git-fetch`, secrets passed on a pipe, never
 * argv/env), killed after TIMEOUT_MS or as soon as *CANCEL becomes true
 * (checked at least every 50 ms; CANCEL may be NULL). COMMIT gets the
 * 40-hex id the ref points to after the fetch (a force-push is simply the
 * new id). Errors: KS_EENV (unreachable, timeout "fetch abandoned after
 * 60s", auth rejected after a capped retry), KS_EINVAL (ref missing),
 * KS_ERROR with the message "cancelled". Messages never hold a password or
 * the userinfo of URL. Blocking: call it from a worker thread.
 */
int ks_git_fetch(const char *repo_dir, const char *url, const char *ref,
		 const ks_git_creds *creds, int64_t timeout_ms,
		 const volatile int *cancel, char commit[41], ks_error *err);

/*
 * The executable spawned for fetches (default /proc/self/exe). Unit tests
 * set it to the kusync binary because their own binary is not kusync.
 * EXE is copied; NULL restores the default. Not thread-safe: call it
 * before the first fetch.
 */
void ks_git_set_helper(const char *exe);

/*
 * The hidden command `kusync __git-fetch` run in the child: loads libgit2,
 * then reads the request from stdin, a JSON object {"repoDir", "url",
 * "ref", and optionally "username", "password", "sshKeyFile",
 * "knownHostsFile"} (EOF instead: exits 0 at once), fetches, and prints
 * the commit id ("ok <id>", exit 0) or "error <code> <message>" (exit 1)
 * on stdout. It exits as soon as its stdin's other end closes (the agent
 * died), whichever thread of the agent started it.
 */
int ks_cmd_git_fetch(int argc, char **argv);

/*
 * Kills and reaps the warm fetch helper (the child ks_git_fetch keeps
 * started for the next fetch), if any, and closes its pipes. Call it at
 * shutdown after the last fetch returned; a fetch after it simply starts
 * a new helper. Thread-safe.
 */
void ks_git_shutdown(void);

/*
 * The stack folders PATHS of COMMIT in REPO_DIR, read from the commit's
 * tree (no work tree), as render stacks: each with files (the folder's
 * regular files that ks_render_dirs would read), project_yaml (from the
 * parent folder) and stack_yaml; dir is "<path>" so messages read
 * "demo/prod/app.yaml:3:5". Limits: files over 8 MiB or trees over 10,000
 * entries are errors (KS_ELIMIT); symlinks and submodules are refused with
 * a message (KS_EINVAL), as is a missing path. *OUT is the caller's to
 * ks_git_snapshot_free; the stacks point into it.
 */
typedef struct ks_git_snapshot {
	ks_render_stack *stacks;
	size_t nstacks;
	/* private storage follows */
} ks_git_snapshot;

int ks_git_read_stacks(ks_git_snapshot **out, const char *repo_dir,
		       const char *commit, const char *const *paths,
		       size_t npaths, ks_error *err);

/* Frees S and everything its stacks point to. Accepts NULL. */
void ks_git_snapshot_free(ks_git_snapshot *s);

#endif
