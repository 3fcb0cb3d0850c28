/*
 * Git sources. The parent (ks_git_fetch, on a worker thread) hands the
 * request (repository, URL, ref, credentials) to a `kusync __git-fetch`
 * child on its stdin (a socket) and watches its stdout, waking on its
 * output and at least every 50 ms, so a hanging transfer can be killed
 * (libgit2 1.5 has no network timeouts). The child (ks_cmd_git_fetch) does
 * the libgit2 work and prints one line: "ok <id>" or "error <code>
 * <message>". Starting a child costs tens of milliseconds (dynamic loading
 * of libgit2, OpenSSL, libssh2...), so one is kept started ahead ("warm"),
 * blocked reading its request; each fetch takes it and starts the next.
 */
#define _GNU_SOURCE /* pipe2, nftw */
#include "agent/gitsrc.h"
#include "agent/gitsrc_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <git2.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/mem.h"
#include "core/banned.h"

extern char **environ;

#define HEAD_REF "refs/kusync/head"
#define MAX_BLOB (8u << 20)	   /* bytes of one file read from a tree */
#define MAX_ENTRIES 10000	   /* entries of one stack folder */
#define MAX_SNAPSHOT (128u << 20)  /* bytes of all files of a snapshot */
#define MAX_CREDS_JSON 16384	   /* the request sent to the child */
#define MAX_CHILD_OUT 8192	   /* what the child may print */
#define MAX_AUTH_TRIES 3	   /* credential callbacks per fetch */
#define MAX_KNOWN_HOSTS (4u << 20) /* bytes of a known_hosts file */
#define TICK_MS 50
#define MAX_PACKS 16	    /* packs in a cache before they are made one */
#define REFILL_DELAY_MS 500 /* after a fetch, until the next warm helper */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static char *helper_exe;

static void init_libgit2(void)
{
	git_libgit2_init();
}

void ks_git_set_helper(const char *exe)
{
	if ((exe && helper_exe && !strcmp(exe, helper_exe)) ||
	    (!exe && !helper_exe))
		return;
	ks_git_shutdown(); /* a warm helper of the old executable */
	free(helper_exe);
	helper_exe = exe ? ks_xstrdup(exe) : NULL;
}

/* ---- messages without secrets ---- */

/* Removes the userinfo ("user:pass@") of every URL in S, in place. */
static void scrub_userinfo(char *s)
{
	char *p = s;
	while ((p = strstr(p, "://"))) {
		char *host = p + 3;
		char *end = host + strcspn(host, "/ \t\n\"'");
		char *at = NULL;
		for (char *q = host; q < end; q++)
			if (*q == '@')
				at = q;
		if (at)
			memmove(host, at + 1, strlen(at + 1) + 1);
		p = host;
	}
}

/* Replaces every occurrence of SECRET in S (capacity CAP) with "***". */
static void scrub_secret(char *s, size_t cap, const char *secret)
{
	if (!secret || strlen(secret) < 3)
		return;
	size_t n = strlen(secret);
	char *from = s, *p;
	while ((p = strstr(from, secret))) {
		size_t tail = strlen(p + n);
		if (p + 3 + tail + 1 > s + cap)
			tail = (size_t)(s + cap - p) - 4;
		memmove(p + 3, p + n, tail);
		p[3 + tail] = '\0';
		memcpy(p, "***", 3);
		from = p + 3;
	}
}

/* URL without userinfo, for messages; the caller frees it. */
static char *display_url(const char *url)
{
	char *s = ks_xstrdup(url);
	scrub_userinfo(s);
	return s;
}

/* ---- the child: libgit2 work ---- */

typedef struct fetch_ctx {
	const char *url;
	const char *username, *password, *ssh_key_file, *known_hosts_file;
	int auth_tries;
	int code;      /* our own error, set by a callback */
	char msg[512]; /* its message */
} fetch_ctx;

static int cb_fail(fetch_ctx *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int cb_fail(fetch_ctx *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	c->code = code;
	git_error_set_str(GIT_ERROR_CALLBACK, c->msg);
	return GIT_EUSER;
}

static int cb_credentials(git_credential **out, const char *url,
			  const char *user_from_url, unsigned int allowed,
			  void *payload)
{
	fetch_ctx *c = payload;
	(void)url;
	if (++c->auth_tries > MAX_AUTH_TRIES)
		return cb_fail(c, KS_EENV, "authentication failed");
	const char *user = c->username;
	if (!user)
		user = user_from_url && *user_from_url ? user_from_url : "git";
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user);
	if ((allowed & GIT_CREDENTIAL_SSH_KEY) && c->ssh_key_file) {
		char *pub = ks_xasprintf("%s.pub", c->ssh_key_file);
		bool has_pub = access(pub, R_OK) == 0;
		int rc = git_credential_ssh_key_new(
			out, user, has_pub ? pub : NULL, c->ssh_key_file, NULL);
		free(pub);
		return rc;
	}
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && c->password)
		return git_credential_userpass_plaintext_new(out, user,
							     c->password);
	return cb_fail(c, KS_EENV,
		       "authentication required but no usable credentials "
		       "are configured");
}

/* The host and port of an ssh URL: ssh://[user@]host[:port]/path or the
 * scp form [user@]host:path. */
static int ssh_port(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return 22;
	p += 3;
	const char *end = p + strcspn(p, "/");
	const char *at = memchr(p, '@', (size_t)(end - p));
	if (at)
		p = at + 1;
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (!rb)
			return 22;
		p = rb + 1;
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		p = colon ? colon : end;
	}
	if (*p != ':')
		return 22;
	long port = strtol(p + 1, NULL, 10);
	return port > 0 && port < 65536 ? (int)port : 22;
}

/* Whether a hashed known_hosts pattern "|1|salt|hash" matches NAME. */
static bool hashed_host_matches(const char *pat, size_t len, const char *name)
{
	if (len < 4 || memcmp(pat, "|1|", 3))
		return false;
	const char *salt = pat + 3;
	const char *bar = memchr(salt, '|', len - 3);
	if (!bar)
		return false;
	char *salt_b64 = ks_xstrndup(salt, (size_t)(bar - salt));
	char *hash_b64 = ks_xstrndup(bar + 1, len - (size_t)(bar + 1 - pat));
	char *s = NULL, *h = NULL;
	size_t slen = 0, hlen = 0;
	bool ok = false;
	if (!ks_base64_decode(salt_b64, &s, &slen) &&
	    !ks_base64_decode(hash_b64, &h, &hlen) && hlen == 20) {
		unsigned char mac[EVP_MAX_MD_SIZE];
		unsigned int maclen = 0;
		if (HMAC(EVP_sha1(), s, (int)slen, (const unsigned char *)name,
			 strlen(name), mac, &maclen) &&
		    maclen == 20)
			ok = !memcmp(mac, h, 20);
	}
	free(s);
	free(h);
	free(salt_b64);
	free(hash_b64);
	return ok;
}

/* OpenSSH's host patterns: '*' and '?' only ("[host]:port" is literal),
 * case-insensitive. */
static bool wildcard_match(const char *pat, const char *s)
{
	for (; *pat; pat++, s++) {
		if (*pat == '*') {
			while (pat[1] == '*')
				pat++;
			for (const char *t = s;; t++) {
				if (wildcard_match(pat + 1, t))
					return true;
				if (!*t)
					return false;
			}
		}
		if (!*s || (*pat != '?' && tolower((unsigned char)*pat) !=
						   tolower((unsigned char)*s)))
			return false;
	}
	return !*s;
}

/* Whether the host field HOSTS (comma-separated patterns, maybe hashed,
 * maybe negated) of a known_hosts line applies to NAME. */
static bool known_host_applies(const char *hosts, const char *name)
{
	bool match = false;
	const char *p = hosts;
	while (*p) {
		size_t n = strcspn(p, ",");
		char *pat = ks_xstrndup(p, n);
		bool neg = pat[0] == '!';
		const char *pp = neg ? pat + 1 : pat;
		bool m;
		if (pp[0] == '|')
			m = hashed_host_matches(pp, strlen(pp), name);
		else
			m = wildcard_match(pp, name);
		free(pat);
		if (m && neg)
			return false;
		match = match || m;
		p += n;
		if (*p == ',')
			p++;
	}
	return match;
}

/* Whether the known_hosts key BLOB_B64 is the server's key. */
static bool key_matches(const char *blob_b64, const git_cert_hostkey *hk)
{
	char *blob = NULL;
	size_t len = 0;
	if (ks_base64_decode(blob_b64, &blob, &len))
		return false;
	bool ok = false;
	if (hk->type & GIT_CERT_SSH_RAW) {
		ok = len == hk->hostkey_len && !memcmp(blob, hk->hostkey, len);
	} else if (hk->type & GIT_CERT_SSH_SHA256) {
		unsigned char md[SHA256_DIGEST_LENGTH];
		SHA256((const unsigned char *)blob, len, md);
		ok = !memcmp(md, hk->hash_sha256, sizeof(md));
	}
	free(blob);
	return ok;
}

enum { KH_UNKNOWN, KH_MATCH, KH_MISMATCH, KH_REVOKED };

/* Checks one known_hosts line; updates *STATE. */
static void check_known_line(char *line, const char *name,
			     const git_cert_hostkey *hk, int *state)
{
	char *f[4] = {0};
	int nf = 0;
	char *save = NULL;
	for (char *t = strtok_r(line, " \t", &save); t && nf < 4;
	     t = strtok_r(NULL, " \t", &save))
		f[nf++] = t;
	if (nf < 3 || f[0][0] == '#')
		return;
	bool revoked = false;
	if (f[0][0] == '@') {
		if (strcmp(f[0], "@revoked") || nf < 4)
			return; /* @cert-authority: not supported */
		revoked = true;
		memmove(f, f + 1, 3 * sizeof(*f));
	}
	if (!known_host_applies(f[0], name))
		return;
	bool m = key_matches(f[2], hk);
	if (revoked) {
		if (m)
			*state = KH_REVOKED;
		return;
	}
	if (m && *state != KH_REVOKED)
		*state = KH_MATCH;
	else if (!m && *state == KH_UNKNOWN)
		*state = KH_MISMATCH;
}

int ks_git_check_host_key(const char *file, const char *host, int port,
			  const git_cert_hostkey *hk, char *why, size_t whylen)
{
	char *data = NULL;
	size_t len = 0;
	ks_error e;
	if (ks_read_file(file, MAX_KNOWN_HOSTS, &data, &len, &e) < 0) {
		snprintf(why, whylen, "%s", e.msg);
		return KS_EENV;
	}
	char name[300];
	if (port == 22)
		snprintf(name, sizeof(name), "%s", host);
	else
		snprintf(name, sizeof(name), "[%s]:%d", host, port);
	int state = KH_UNKNOWN;
	char *save = NULL;
	for (char *l = strtok_r(data, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save))
		check_known_line(l, name, hk, &state);
	free(data);
	switch (state) {
	case KH_MATCH:
		return 0;
	case KH_REVOKED:
		snprintf(why, whylen, "ssh host key of \"%s\" is revoked in %s",
			 name, file);
		break;
	case KH_MISMATCH:
		snprintf(why, whylen,
			 "ssh host key of \"%s\" does not match %s (the key "
			 "changed, or someone is intercepting the connection)",
			 name, file);
		break;
	default:
		snprintf(why, whylen,
			 "ssh host \"%s\" is not in %s (no trust on first "
			 "use: add its key, e.g. from ssh-keyscan, after "
			 "checking it)",
			 name, file);
	}
	return KS_EENV;
}

static int check_host_key(fetch_ctx *c, const git_cert_hostkey *hk,
			  const char *host)
{
	if (!c->known_hosts_file)
		return cb_fail(c, KS_EENV,
			       "ssh host key of \"%s\" cannot be verified: no "
			       "knownHostsFile is configured",
			       host);
	char why[512];
	if (ks_git_check_host_key(c->known_hosts_file, host, ssh_port(c->url),
				  hk, why, sizeof(why)) < 0)
		return cb_fail(c, KS_EENV, "%s", why);
	return 0;
}

static int cb_certificate(git_cert *cert, int valid, const char *host,
			  void *payload)
{
	(void)valid;
	if (cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2)
		return check_host_key(payload, (const git_cert_hostkey *)cert,
				      host);
	return GIT_PASSTHROUGH; /* TLS: libgit2's own verification */
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int remove_tree(const char *dir)
{
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void git_fail(ks_error *err, int code, const char *url, const char *what)
{
	const git_error *ge = git_error_last();
	char *u = display_url(url);
	ks_error_set(err, code, "%s: %s%s%s", u, what, ge ? ": " : "",
		     ge ? ge->message : "");
	free(u);
}

/* Opens REPO_DIR when it is a bare repository whose origin is URL. */
static git_repository *open_cache(const char *repo_dir, const char *url)
{
	git_repository *repo = NULL;
	if (git_repository_open_ext(&repo, repo_dir,
				    GIT_REPOSITORY_OPEN_NO_SEARCH |
					    GIT_REPOSITORY_OPEN_BARE,
				    NULL) < 0)
		return NULL;
	git_remote *r = NULL;
	bool ok = git_repository_is_bare(repo) &&
		  git_remote_lookup(&r, repo, "origin") == 0 &&
		  git_remote_url(r) && !strcmp(git_remote_url(r), url);
	git_remote_free(r);
	if (!ok) {
		git_repository_free(repo);
		return NULL;
	}
	return repo;
}

/* The cache repository, cloned (bare, empty) when missing or unusable. */
static int prepare_cache(git_repository **out, const char *repo_dir,
			 const char *url, const char *refspec, ks_error *err)
{
	*out = open_cache(repo_dir, url);
	if (*out)
		return 0;
	struct stat st;
	if (lstat(repo_dir, &st) == 0 && remove_tree(repo_dir) < 0)
		return ks_error_set(err, KS_EIO,
				    "cannot remove the unusable git cache "
				    "\"%s\": %s",
				    repo_dir, strerror(errno));
	git_repository_init_options o;
	git_repository_init_options_init(&o,
					 GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	o.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
	git_repository *repo = NULL;
	if (git_repository_init_ext(&repo, repo_dir, &o) < 0) {
		const git_error *ge = git_error_last();
		return ks_error_set(err, KS_EIO,
				    "cannot create the git cache \"%s\": %s",
				    repo_dir, ge ? ge->message : "");
	}
	git_remote *r = NULL;
	if (git_remote_create_with_fetchspec(&r, repo, "origin", url, refspec) <
	    0) {
		git_fail(err, KS_EINVAL, url, "cannot add the remote");
		git_repository_free(repo);
		return err->code;
	}
	git_remote_free(r);
	*out = repo;
	return 0;
}

/* Locks and temporary packs left behind by a fetch that was killed (one
 * fetch at a time uses a cache). */
static void remove_stale_locks(const char *repo_dir)
{
	static const char *const locks[] = {HEAD_REF ".lock",
					    "packed-refs.lock", "config.lock",
					    "shallow.lock", "FETCH_HEAD.lock"};
	for (size_t i = 0; i < sizeof(locks) / sizeof(*locks); i++) {
		char *p = ks_xasprintf("%s/%s", repo_dir, locks[i]);
		unlink(p);
		free(p);
	}
	char *dir = ks_xasprintf("%s/objects/pack", repo_dir);
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strncmp(e->d_name, "pack_git2_", 10))
			continue;
		char *p = ks_xasprintf("%s/%s", dir, e->d_name);
		unlink(p);
		free(p);
	}
	if (d)
		closedir(d);
	free(dir);
}

/* Whether the remote advertises REF. */
static bool remote_has_ref(git_remote *r, const char *ref)
{
	const git_remote_head **heads = NULL;
	size_t n = 0;
	if (git_remote_ls(&heads, &n, r) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(heads[i]->name, ref))
			return true;
	return false;
}

static int fetch_error(fetch_ctx *c, ks_error *err, const char *what)
{
	if (c->code) {
		char *u = display_url(c->url);
		ks_error_set(err, c->code, "%s: %s", u, c->msg);
		free(u);
		return c->code;
	}
	git_fail(err, KS_EENV, c->url, what);
	return KS_EENV;
}

/* Whether the last libgit2 error says the local repository is broken
 * (rather than the network, the server or our callbacks). */
static bool local_damage(const fetch_ctx *c)
{
	const git_error *ge = git_error_last();
	if (c->code || !ge)
		return false;
	switch (ge->klass) {
	case GIT_ERROR_ODB:
	case GIT_ERROR_OBJECT:
	case GIT_ERROR_REFERENCE:
	case GIT_ERROR_REPOSITORY:
	case GIT_ERROR_ZLIB:
	case GIT_ERROR_CONFIG:
	case GIT_ERROR_FILESYSTEM:
		return true;
	default:
		return false;
	}
}

/* Resolves HEAD_REF to a commit whose tree is present. */
static int resolve_head(fetch_ctx *c, git_repository *repo, const char *ref,
			char commit[41], bool *damaged, ks_error *err)
{
	git_reference *head = NULL;
	git_object *obj = NULL;
	git_tree *tree = NULL;
	int rc = git_reference_lookup(&head, repo, HEAD_REF);
	if (rc == 0)
		rc = git_reference_peel(&obj, head, GIT_OBJECT_COMMIT);
	if (rc == 0)
		rc = git_commit_tree(&tree, (git_commit *)obj);
	if (rc == GIT_EPEEL) {
		char *u = display_url(c->url);
		rc = ks_error_set(err, KS_EINVAL,
				  "%s: ref \"%s\" does not point to a commit",
				  u, ref);
		free(u);
	} else if (rc < 0) {
		*damaged = true;
		git_fail(err, KS_EIO, c->url, "the git cache is damaged");
		rc = KS_EIO;
	} else {
		git_oid_tostr(commit, 41, git_object_id(obj));
	}
	git_tree_free(tree);
	git_object_free(obj);
	git_reference_free(head);
	return rc;
}

/* Connects, checks that REF exists, fetches it. */
static int fetch_ref(fetch_ctx *c, git_remote *remote, const char *ref,
		     char *refspec, bool *damaged, ks_error *err)
{
	git_remote_callbacks cbs;
	git_remote_init_callbacks(&cbs, GIT_REMOTE_CALLBACKS_VERSION);
	cbs.credentials = cb_credentials;
	cbs.certificate_check = cb_certificate;
	cbs.payload = c;
	if (git_remote_connect(remote, GIT_DIRECTION_FETCH, &cbs, NULL, NULL) <
	    0)
		return fetch_error(c, err, "cannot connect");
	if (!remote_has_ref(remote, ref)) {
		char *u = display_url(c->url);
		ks_error_set(err, KS_EINVAL, "%s: no ref \"%s\" on the server",
			     u, ref);
		free(u);
		return KS_EINVAL;
	}
	git_fetch_options fo;
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fo.callbacks = cbs;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.prune = GIT_FETCH_NO_PRUNE;
	fo.update_fetchhead = 0;
	char *specs[] = {refspec};
	git_strarray sa = {specs, 1};
	if (git_remote_fetch(remote, &sa, &fo, "kusync fetch") < 0) {
		*damaged = local_damage(c);
		return fetch_error(c, err, "fetch failed");
	}
	return 0;
}

/* The names ("pack-<hash>") of the packs in REPO_DIR (a new array). */
static json_t *list_packs(const char *repo_dir)
{
	json_t *names = json_array();
	char *dir = ks_xasprintf("%s/objects/pack", repo_dir);
	DIR *d = opendir(dir);
	free(dir);
	if (!d)
		return names;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n > 10 && !strncmp(e->d_name, "pack-", 5) &&
		    !strcmp(e->d_name + n - 5, ".pack"))
			json_array_append_new(names,
					      json_stringn(e->d_name, n - 5));
	}
	closedir(d);
	return names;
}

/*
 * libgit2 writes one pack per fetch and never consolidates them, and every
 * open of the cache (here and in ks_git_read_stacks) and every object
 * lookup then goes through all of them: past MAX_PACKS packs, everything
 * reachable from HEAD_REF is written into one new pack and the others are
 * removed (what the head no longer reaches goes with them). Failures leave
 * the cache as it was: this is an optimisation.
 */
static void consolidate_packs(git_repository *repo, const char *repo_dir)
{
	json_t *old = list_packs(repo_dir);
	git_packbuilder *pb = NULL;
	git_revwalk *walk = NULL;
	if (json_array_size(old) <= MAX_PACKS)
		goto out;
	if (git_packbuilder_new(&pb, repo) < 0 ||
	    git_revwalk_new(&walk, repo) < 0 ||
	    git_revwalk_push_ref(walk, HEAD_REF) < 0 ||
	    git_packbuilder_insert_walk(pb, walk) < 0 ||
	    git_packbuilder_write(pb, NULL, 0, NULL, NULL) < 0)
		goto out;
	const char *name = git_packbuilder_name(pb);
	if (!name)
		goto out;
	char *keep = ks_xasprintf("pack-%s", name);
	size_t i;
	const json_t *v;
	json_array_foreach(old, i, v)
	{
		const char *p = json_string_value(v);
		if (!strcmp(p, keep))
			continue;
		static const char *const exts[] = {".keep", ".idx", ".rev",
						   ".pack"};
		for (size_t k = 0; k < sizeof(exts) / sizeof(*exts); k++) {
			char *f = ks_xasprintf("%s/objects/pack/%s%s", repo_dir,
					       p, exts[k]);
			unlink(f);
			free(f);
		}
	}
	free(keep);
out:
	git_revwalk_free(walk);
	git_packbuilder_free(pb);
	json_decref(old);
}

static int fetch_once(fetch_ctx *c, const char *repo_dir, const char *ref,
		      char commit[41], bool *damaged, ks_error *err)
{
	char *refspec = ks_xasprintf("+%s:" HEAD_REF, ref);
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	int rc = prepare_cache(&repo, repo_dir, c->url, refspec, err);
	if (rc < 0)
		goto out;
	remove_stale_locks(repo_dir);
	if (git_remote_lookup(&remote, repo, "origin") < 0) {
		*damaged = true;
		rc = fetch_error(c, err, "no remote");
		goto out;
	}
	rc = fetch_ref(c, remote, ref, refspec, damaged, err);
	if (rc == 0)
		rc = resolve_head(c, repo, ref, commit, damaged, err);
	if (rc == 0)
		consolidate_packs(repo, repo_dir);
out:
	git_remote_free(remote);
	git_repository_free(repo);
	free(refspec);
	return rc;
}

/* Fetches; a cache found damaged on the way is removed and cloned again,
 * once. */
static int do_fetch(fetch_ctx *c, const char *repo_dir, const char *ref,
		    char commit[41], ks_error *err)
{
	bool damaged = false;
	int rc = fetch_once(c, repo_dir, ref, commit, &damaged, err);
	if (rc == 0 || !damaged)
		return rc;
	if (remove_tree(repo_dir) < 0)
		return ks_error_set(err, KS_EIO,
				    "cannot remove the damaged git cache "
				    "\"%s\": %s",
				    repo_dir, strerror(errno));
	damaged = false;
	c->auth_tries = 0;
	return fetch_once(c, repo_dir, ref, commit, &damaged, err);
}

static const char *json_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && *s ? s : NULL;
}

static void print_result(int rc, const char *commit, ks_error *err,
			 const char *password)
{
	if (rc == 0) {
		printf("ok %s\n", commit);
		return;
	}
	scrub_userinfo(err->msg);
	scrub_secret(err->msg, sizeof(err->msg), password);
	for (char *p = err->msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	printf("error %d %s\n", rc, err->msg);
}

/* Exits as soon as the parent's end of our stdin (a socket it keeps open
 * until it has reaped us) closes: the agent is gone, by exit or SIGKILL.
 * Unlike PR_SET_PDEATHSIG this does not depend on which of the agent's
 * threads spawned us (a warm helper outlives that thread's call). */
static void *watch_parent(void *arg)
{
	(void)arg;
	char b[64];
	for (;;) {
		ssize_t n = read(0, b, sizeof(b));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(3);
		/* A parent never writes twice: ignore, keep watching. */
	}
	return NULL;
}

int ks_cmd_git_fetch(int argc, char **argv)
{
	(void)argv;
	if (argc != 1) {
		fputs("usage: kusync __git-fetch (internal; the request as a "
		      "JSON object on stdin)\n",
		      stderr);
		return 2;
	}
	/* The costly part of a start (loading libgit2 and its TLS and SSH
	 * libraries) happens before the request arrives: the agent keeps one
	 * such helper waiting. */
	pthread_once(&init_once, init_libgit2);
	json_error_t je;
	json_t *req = json_loadf(stdin, JSON_DISABLE_EOF_CHECK, &je);
	if (!req || !json_is_object(req) || !json_str(req, "repoDir") ||
	    !json_str(req, "url") || !json_str(req, "ref")) {
		/* EOF without a request: the agent no longer needs us. */
		json_decref(req);
		_exit(req ? 2 : 0);
	}
	pthread_t th;
	if (pthread_create(&th, NULL, watch_parent, NULL) == 0)
		pthread_detach(th);
	fetch_ctx c = {.url = json_str(req, "url")};
	c.username = json_str(req, "username");
	c.password = json_str(req, "password");
	c.ssh_key_file = json_str(req, "sshKeyFile");
	c.known_hosts_file = json_str(req, "knownHostsFile");
	char commit[41] = "";
	ks_error err = {0};
	int rc = do_fetch(&c, json_str(req, "repoDir"), json_str(req, "ref"),
			  commit, &err);
	print_result(rc, commit, &err, c.password);
	fflush(stdout);
	/* _exit without git_libgit2_shutdown: libgit2 1.5's regex matching
	 * leaks pcre2 match frames that the leak sanitizer would report at
	 * exit, and this process has nothing else to clean up. The parent
	 * reads stdout only and reaps us as soon as it sees EOF. */
	_exit(rc == 0 ? 0 : 1);
}

/* ---- the parent: spawn, watch, kill ---- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The request: where and what to fetch, and the credentials. */
static char *request_json(const char *repo_dir, const char *url,
			  const char *ref, const ks_git_creds *cr)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "repoDir", repo_dir, "url",
			      url, "ref", ref);
	if (!o)
		abort();
	if (cr) {
		if (cr->username)
			json_object_set_new(o, "username",
					    json_string(cr->username));
		if (cr->password)
			json_object_set_new(o, "password",
					    json_string(cr->password));
		if (cr->ssh_key_file)
			json_object_set_new(o, "sshKeyFile",
					    json_string(cr->ssh_key_file));
		if (cr->known_hosts_file)
			json_object_set_new(o, "knownHostsFile",
					    json_string(cr->known_hosts_file));
	}
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		abort();
	return s;
}

static void format_duration(char *buf, size_t n, int64_t ms)
{
	if (ms % 1000 == 0)
		snprintf(buf, n, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, n, "%lldms", (long long)ms);
}

/* Sends all of (P, N) on the socket FD; never SIGPIPE (a helper that died
 * gives EPIPE). */
static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A helper process: started, waiting for its request on REQ_FD (our end
 * of its stdin, kept open until it is reaped) and writing its answer to
 * OUT_FD (our end of its stdout). */
typedef struct helper {
	pid_t pid;
	int req_fd, out_fd;
} helper;

#define NO_HELPER ((helper){.pid = 0, .req_fd = -1, .out_fd = -1})

/* The warm helper: at most one, started after each fetch for the next. */
static pthread_mutex_t warm_mu = PTHREAD_MUTEX_INITIALIZER;
static helper warm = {.pid = 0, .req_fd = -1, .out_fd = -1};
static unsigned long warm_hits; /* under warm_mu */

static void close_helper_fds(helper *h)
{
	if (h->req_fd >= 0)
		close(h->req_fd);
	if (h->out_fd >= 0)
		close(h->out_fd);
	h->req_fd = h->out_fd = -1;
}

/* Kills H (when started), reaps it and closes our ends. */
static void discard_helper(helper *h)
{
	if (h->pid > 0) {
		int st;
		kill(h->pid, SIGKILL);
		while (waitpid(h->pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	close_helper_fds(h);
	h->pid = 0;
}

static int spawn_helper(helper *h)
{
	const char *exe = helper_exe ? helper_exe : "/proc/self/exe";
	int sv[2] = {-1, -1}, out[2] = {-1, -1};
	*h = NO_HELPER;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return errno;
	if (pipe2(out, O_CLOEXEC) < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return e;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawnattr_init(&at);
	sigset_t none, def;
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGHUP);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF);
	char arg0[] = "kusync", arg1[] = "__git-fetch";
	char *argv[] = {arg0, arg1, NULL};
	pid_t pid;
	int rc = posix_spawn(&pid, exe, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(sv[1]);
	close(out[1]);
	if (rc) {
		close(sv[0]);
		close(out[0]);
		return rc;
	}
	h->pid = pid;
	h->req_fd = sv[0];
	h->out_fd = out[0];
	return 0;
}

/* The warm helper when there is a live one (taken: the next fetch gets
 * a new one), else NO_HELPER. */
static helper take_warm(void)
{
	pthread_mutex_lock(&warm_mu);
	helper h = warm;
	warm = NO_HELPER;
	pthread_mutex_unlock(&warm_mu);
	int st;
	if (h.pid > 0 && waitpid(h.pid, &st, WNOHANG) != 0) {
		/* It died while waiting (reaped now, or not ours). */
		h.pid = 0;
		close_helper_fds(&h);
	}
	return h;
}

/* Starts a warm helper unless there is one. */
static void refill_warm(void)
{
	pthread_mutex_lock(&warm_mu);
	bool have = warm.pid > 0;
	pthread_mutex_unlock(&warm_mu);
	if (have)
		return;
	helper h;
	if (spawn_helper(&h))
		return; /* the next fetch starts one itself */
	pthread_mutex_lock(&warm_mu);
	if (warm.pid <= 0) {
		warm = h;
		h = NO_HELPER;
	}
	pthread_mutex_unlock(&warm_mu);
	discard_helper(&h); /* another thread was first */
}

/*
 * The spawner: a thread that starts the next warm helper REFILL_DELAY_MS
 * after a fetch took the last one, so that its start (tens of ms of CPU:
 * dynamic loading) does not compete with the work that follows the fetch
 * (render, preview, the first apply) for the CPU. Started on first use,
 * stopped by ks_git_shutdown.
 */
static pthread_once_t spawn_once = PTHREAD_ONCE_INIT;
static pthread_cond_t spawn_cv;
static pthread_mutex_t shutdown_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t spawner;
static bool spawner_on, spawner_stop; /* under warm_mu */
static int64_t spawn_at; /* CLOCK_MONOTONIC ms; 0 = nothing asked */

static void init_spawn_cv(void)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&spawn_cv, &ca);
	pthread_condattr_destroy(&ca);
}

static void *spawner_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&warm_mu);
	while (!spawner_stop) {
		if (!spawn_at) {
			pthread_cond_wait(&spawn_cv, &warm_mu);
			continue;
		}
		int64_t left = spawn_at - now_ms();
		if (left > 0) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += (time_t)(left / 1000);
			ts.tv_nsec += (long)(left % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&spawn_cv, &warm_mu, &ts);
			continue;
		}
		spawn_at = 0;
		pthread_mutex_unlock(&warm_mu);
		refill_warm();
		pthread_mutex_lock(&warm_mu);
	}
	pthread_mutex_unlock(&warm_mu);
	return NULL;
}

/* Asks the spawner for a warm helper in REFILL_DELAY_MS (or starts one
 * now when no thread can be made); nothing while shutting down. */
static void refill_later(void)
{
	pthread_once(&spawn_once, init_spawn_cv);
	pthread_mutex_lock(&warm_mu);
	if (spawner_stop) {
		pthread_mutex_unlock(&warm_mu);
		return;
	}
	bool ok = spawner_on;
	if (!ok)
		ok = spawner_on =
			pthread_create(&spawner, NULL, spawner_main, NULL) == 0;
	if (ok) {
		spawn_at = now_ms() + REFILL_DELAY_MS;
		pthread_cond_signal(&spawn_cv);
	}
	pthread_mutex_unlock(&warm_mu);
	if (!ok)
		refill_warm();
}

void ks_git_shutdown(void)
{
	pthread_once(&spawn_once, init_spawn_cv);
	pthread_mutex_lock(&shutdown_mu);
	pthread_mutex_lock(&warm_mu);
	bool on = spawner_on;
	spawner_stop = true;
	spawn_at = 0;
	pthread_cond_signal(&spawn_cv);
	pthread_mutex_unlock(&warm_mu);
	if (on)
		pthread_join(spawner, NULL);
	pthread_mutex_lock(&warm_mu);
	spawner_on = false;
	spawner_stop = false;
	helper h = warm;
	warm = NO_HELPER;
	pthread_mutex_unlock(&warm_mu);
	discard_helper(&h);
	pthread_mutex_unlock(&shutdown_mu);
}

unsigned long ks_git_warm_hits(void)
{
	pthread_mutex_lock(&warm_mu);
	unsigned long n = warm_hits;
	pthread_mutex_unlock(&warm_mu);
	return n;
}

int ks_git_warm_pid(void)
{
	pthread_mutex_lock(&warm_mu);
	int pid = warm.pid;
	pthread_mutex_unlock(&warm_mu);
	return pid;
}

/* A helper with REQ handed to it: the warm one, else a new one (also when
 * the warm one turns out dead). 0 or an errno. */
static int start_fetch(helper *h, const char *req, bool allow_warm,
		       bool *was_warm)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		*h = allow_warm ? take_warm() : NO_HELPER;
		*was_warm = h->pid > 0;
		if (!*was_warm) {
			int e = spawn_helper(h);
			if (e)
				return e;
		}
		if (send_all(h->req_fd, req, strlen(req)) == 0) {
			if (*was_warm) {
				pthread_mutex_lock(&warm_mu);
				warm_hits++;
				pthread_mutex_unlock(&warm_mu);
			}
			return 0;
		}
		int e = errno;
		discard_helper(h);
		if (attempt)
			return e;
	}
	return EPIPE;
}

/* What the parent saw of the child. */
typedef struct child_run {
	ks_buf out;
	int status;
	bool timed_out, cancelled;
} child_run;

/*
 * Reads the child's output until it exits, or kills it on timeout or
 * cancel; always reaps it. Wakes on the child's output (poll, TICK_MS at
 * most between cancel and timeout checks); after EOF the child is exiting,
 * so it is reaped with short sleeps rather than a whole tick.
 */
static void watch_child(child_run *r, pid_t pid, int fd, int64_t timeout_ms,
			const volatile int *cancel)
{
	int64_t deadline = now_ms() + timeout_ms;
	bool eof = false;
	long nap_us = 200;
	for (;;) {
		if (!eof) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			int64_t left = deadline - now_ms();
			int wait = left < TICK_MS ? (int)(left > 0 ? left : 0)
						  : TICK_MS;
			if (poll(&p, 1, wait) > 0) {
				char buf[1024];
				ssize_t got = read(fd, buf, sizeof(buf));
				if (got > 0)
					ks_buf_append(&r->out, buf,
						      (size_t)got);
				else if (got == 0 ||
					 (errno != EINTR && errno != EAGAIN))
					eof = true;
			}
		}
		pid_t w = waitpid(pid, &r->status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		bool stop = false;
		if (cancel && *cancel) {
			r->cancelled = true;
			stop = true;
		} else if (now_ms() >= deadline) {
			r->timed_out = true;
			stop = true;
		}
		if (stop) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &r->status, 0) < 0 &&
			       errno == EINTR)
				;
			return;
		}
		if (eof) {
			struct timespec ts = {0, nap_us * 1000L};
			nanosleep(&ts, NULL);
			if (nap_us < TICK_MS * 1000L / 2)
				nap_us *= 2;
		}
	}
	/* What the child wrote just before exiting. */
	char buf[1024];
	ssize_t got;
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		ks_buf_append(&r->out, buf, (size_t)got);
}

static int parse_child(const child_run *r, const char *url, char commit[41],
		       ks_error *err)
{
	const char *s = r->out.data ? r->out.data : "";
	if (!strncmp(s, "ok ", 3) && strlen(s) >= 43) {
		for (int i = 0; i < 40; i++) {
			char ch = s[3 + i];
			if (!((ch >= '0' && ch <= '9') ||
			      (ch >= 'a' && ch <= 'f')))
				goto bad;
		}
		memcpy(commit, s + 3, 40);
		commit[40] = '\0';
		return 0;
	}
	if (!strncmp(s, "error ", 6)) {
		char *end = NULL;
		long code = strtol(s + 6, &end, 10);
		if (end && *end == ' ' && code < 0 && code >= KS_ECONFLICT) {
			size_t n = strcspn(end + 1, "\n");
			return ks_error_set(err, (int)code, "%.*s", (int)n,
					    end + 1);
		}
	}
bad:;
	char *u = display_url(url);
	if (WIFSIGNALED(r->status))
		ks_error_set(err, KS_EENV,
			     "%s: the git fetch helper was killed by signal %d",
			     u, WTERMSIG(r->status));
	else
		ks_error_set(
			err, KS_EENV,
			"%s: the git fetch helper failed (exit status %d)", u,
			WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1);
	free(u);
	return KS_EENV;
}

int ks_git_fetch(const char *repo_dir, const char *url, const char *ref,
		 const ks_git_creds *creds, int64_t timeout_ms,
		 const volatile int *cancel, char commit[41], ks_error *err)
{
	int rc = KS_EENV;
	char *req = request_json(repo_dir, url, ref, creds);
	child_run r = {.status = 0};
	helper h = NO_HELPER;
	ks_buf_init(&r.out, MAX_CHILD_OUT);
	if (strlen(req) > MAX_CREDS_JSON) {
		rc = ks_error_set(err, KS_EINVAL, "credentials are too large");
		goto out;
	}
	int64_t t0 = now_ms();
	for (int attempt = 0;; attempt++) {
		bool was_warm = false;
		int e = start_fetch(&h, req, attempt == 0, &was_warm);
		if (e) {
			rc = ks_error_set(
				err, KS_EENV,
				"cannot start the git fetch helper: %s",
				strerror(e));
			goto out;
		}
		/* The next fetch's helper, started a little later. */
		if (!attempt)
			refill_later();
		int64_t left = timeout_ms - (now_ms() - t0);
		watch_child(&r, h.pid, h.out_fd, left > 0 ? left : 1, cancel);
		h.pid = 0; /* reaped */
		close_helper_fds(&h);
		/* A warm helper killed without a word by a signal we did not
		 * send (while it waited: the OOM killer, an admin) did not
		 * fetch: once more with a new one. */
		if (!attempt && was_warm && !r.cancelled && !r.timed_out &&
		    !r.out.len && WIFSIGNALED(r.status)) {
			r.status = 0;
			continue;
		}
		break;
	}
	if (r.cancelled) {
		rc = ks_error_set(err, KS_ERROR, "cancelled");
	} else if (r.timed_out) {
		char d[32];
		char *u = display_url(url);
		format_duration(d, sizeof(d), timeout_ms);
		rc = ks_error_set(err, KS_EENV, "%s: fetch abandoned after %s",
				  u, d);
		free(u);
	} else {
		rc = parse_child(&r, url, commit, err);
	}
out:
	close_helper_fds(&h);
	memset(req, 0, strlen(req));
	free(req);
	ks_buf_release(&r.out);
	return rc;
}

/* ---- stacks from a commit's tree ---- */

typedef struct snapshot {
	ks_git_snapshot pub;
	ks_arena *arena;
	size_t bytes; /* of all files read, against MAX_SNAPSHOT */
} snapshot;

void ks_git_snapshot_free(ks_git_snapshot *s)
{
	if (!s)
		return;
	snapshot *sp = (snapshot *)s;
	ks_arena_free(sp->arena);
	free(sp);
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && !strcmp(s + n - m, suf);
}

/* The files render reads from a stack folder: AppConfiguration files
 * (render/load.c decides which of them count) and stack.yaml. */
static bool wanted_file(const char *name)
{
	return name[0] != '.' &&
	       (has_suffix(name, ".yaml") || has_suffix(name, ".yml") ||
		has_suffix(name, ".k"));
}

/* PATH without "./" or "/" in front and "/" behind; "" is the root. */
static char *clean_path(ks_arena *a, const char *path)
{
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	while (path[0] == '/')
		path++;
	size_t n = strlen(path);
	while (n && path[n - 1] == '/')
		n--;
	if (n == 1 && path[0] == '.')
		n = 0;
	return ks_arena_strndup(a, path, n);
}

/* Reads blob ID (named DISPLAY in messages) into the snapshot's arena. */
static int read_blob(snapshot *s, git_repository *repo, const git_oid *id,
		     const char *display, const char **data, size_t *len,
		     ks_error *err)
{
	git_odb *odb = NULL;
	size_t size = 0;
	git_object_t type;
	int rc = git_repository_odb(&odb, repo);
	if (rc == 0)
		rc = git_odb_read_header(&size, &type, odb, id);
	git_odb_free(odb);
	if (rc < 0) {
		const git_error *ge = git_error_last();
		return ks_error_set(err, KS_EENV, "%s: cannot read: %s",
				    display, ge ? ge->message : "");
	}
	if (size > MAX_BLOB)
		return ks_error_set(err, KS_ELIMIT,
				    "%s: file is too large (%zu bytes; the "
				    "limit is %u MiB)",
				    display, size, MAX_BLOB >> 20);
	if (s->bytes + size > MAX_SNAPSHOT)
		return ks_error_set(err, KS_ELIMIT,
				    "%s: the stack folders hold more than %u "
				    "MiB of files",
				    display, MAX_SNAPSHOT >> 20);
	git_blob *b = NULL;
	if (git_blob_lookup(&b, repo, id) < 0) {
		const git_error *ge = git_error_last();
		return ks_error_set(err, KS_EENV, "%s: cannot read: %s",
				    display, ge ? ge->message : "");
	}
	size_t n = (size_t)git_blob_rawsize(b);
	*data = ks_arena_strndup(s->arena, git_blob_rawcontent(b), n);
	*len = n;
	s->bytes += n;
	git_blob_free(b);
	return 0;
}

/* Refuses an entry of a stack folder that is not a file or a folder. */
static int check_entry(const git_tree_entry *e, const char *display,
		       ks_error *err)
{
	switch (git_tree_entry_filemode(e)) {
	case GIT_FILEMODE_LINK:
		return ks_error_set(err, KS_EINVAL,
				    "%s: symbolic links are not supported in "
				    "a stack folder",
				    display);
	case GIT_FILEMODE_COMMIT:
		return ks_error_set(err, KS_EINVAL,
				    "%s: submodules are not supported in a "
				    "stack folder",
				    display);
	default:
		return 0;
	}
}

/* Fills STACK from folder TREE (at PATH, "" for the root). */
static int read_folder(snapshot *s, git_repository *repo, const git_tree *tree,
		       const char *path, ks_render_stack *stack, ks_error *err)
{
	size_t n = git_tree_entrycount(tree);
	const char *dir = *path ? path : ".";
	if (n > MAX_ENTRIES)
		return ks_error_set(err, KS_ELIMIT,
				    "%s: the folder has %zu entries (the limit "
				    "is %d)",
				    dir, n, MAX_ENTRIES);
	ks_render_file *files =
		ks_arena_alloc(s->arena, (n + 1) * sizeof(*files));
	size_t nf = 0;
	for (size_t i = 0; i < n; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(tree, i);
		const char *name = git_tree_entry_name(e);
		char *display = ks_arena_printf(s->arena, "%s/%s", dir, name);
		int rc = check_entry(e, display, err);
		if (rc < 0)
			return rc;
		if (git_tree_entry_type(e) != GIT_OBJECT_BLOB ||
		    !wanted_file(name))
			continue;
		const char *data;
		size_t len;
		rc = read_blob(s, repo, git_tree_entry_id(e), display, &data,
			       &len, err);
		if (rc < 0)
			return rc;
		if (!strcmp(name, "stack.yaml")) {
			stack->stack_yaml = data;
			stack->stack_yaml_len = len;
			continue;
		}
		files[nf].name = ks_arena_strdup(s->arena, name);
		files[nf].data = data;
		files[nf].len = len;
		nf++;
	}
	/* Never NULL: render would read the folder from disk. */
	stack->files = files;
	stack->nfiles = nf;
	return 0;
}

/* project.yaml of the folder above PATH (a regular file, if any). */
static int read_project(snapshot *s, git_repository *repo, const git_tree *root,
			const char *path, ks_render_stack *stack, ks_error *err)
{
	if (!*path)
		return 0; /* the root has no parent in the repository */
	const char *slash = strrchr(path, '/');
	char *p = slash ? ks_arena_printf(s->arena, "%.*s/project.yaml",
					  (int)(slash - path), path)
			: ks_arena_strdup(s->arena, "project.yaml");
	git_tree_entry *e = NULL;
	if (git_tree_entry_bypath(&e, root, p) < 0)
		return 0; /* render reports the missing file */
	int rc = 0;
	if (git_tree_entry_filemode(e) == GIT_FILEMODE_LINK)
		rc = ks_error_set(err, KS_EINVAL,
				  "%s: symbolic links are not supported", p);
	else if (git_tree_entry_type(e) == GIT_OBJECT_BLOB)
		rc = read_blob(s, repo, git_tree_entry_id(e), p,
			       &stack->project_yaml, &stack->project_yaml_len,
			       err);
	git_tree_entry_free(e);
	return rc;
}

static int read_stack(snapshot *s, git_repository *repo, const git_tree *root,
		      const char *short_id, const char *path_in,
		      ks_render_stack *stack, ks_error *err)
{
	char *path = clean_path(s->arena, path_in);
	stack->dir = *path ? path : ".";
	git_tree_entry *e = NULL;
	git_tree *sub = NULL;
	int rc = 0;
	if (!*path) {
		rc = read_folder(s, repo, root, path, stack, err);
		goto found;
	}
	if (git_tree_entry_bypath(&e, root, path) < 0) {
		rc = ks_error_set(err, KS_EINVAL, "%s: no such folder in %s",
				  path, short_id);
		goto out;
	}
	if (git_tree_entry_type(e) != GIT_OBJECT_TREE) {
		rc = check_entry(e, path, err);
		if (rc == 0)
			rc = ks_error_set(err, KS_EINVAL,
					  "%s: not a folder in %s", path,
					  short_id);
		goto out;
	}
	if (git_tree_lookup(&sub, repo, git_tree_entry_id(e)) < 0) {
		const git_error *ge = git_error_last();
		rc = ks_error_set(err, KS_EENV, "%s: cannot read: %s", path,
				  ge ? ge->message : "");
		goto out;
	}
	rc = read_folder(s, repo, sub, path, stack, err);
found:
	if (rc == 0)
		rc = read_project(s, repo, root, path, stack, err);
out:
	git_tree_free(sub);
	git_tree_entry_free(e);
	return rc;
}

static int open_commit_tree(git_repository **repo, git_tree **tree,
			    const char *repo_dir, const char *commit,
			    ks_error *err)
{
	git_oid id;
	git_commit *c = NULL;
	if (strlen(commit) != 40 || git_oid_fromstr(&id, commit) < 0)
		return ks_error_set(err, KS_EINVAL,
				    "\"%s\" is not a commit id (40 hex digits)",
				    commit);
	if (git_repository_open_ext(repo, repo_dir,
				    GIT_REPOSITORY_OPEN_NO_SEARCH |
					    GIT_REPOSITORY_OPEN_BARE,
				    NULL) < 0) {
		const git_error *ge = git_error_last();
		return ks_error_set(err, KS_EENV,
				    "cannot open the git cache \"%s\": %s",
				    repo_dir, ge ? ge->message : "");
	}
	if (git_commit_lookup(&c, *repo, &id) < 0 ||
	    git_commit_tree(tree, c) < 0) {
		git_commit_free(c);
		git_repository_free(*repo);
		*repo = NULL;
		return ks_error_set(
			err, KS_EINVAL,
			"commit %.7s is not in the git cache \"%s\"", commit,
			repo_dir);
	}
	git_commit_free(c);
	return 0;
}

int ks_git_read_stacks(ks_git_snapshot **out, const char *repo_dir,
		       const char *commit, const char *const *paths,
		       size_t npaths, ks_error *err)
{
	pthread_once(&init_once, init_libgit2);
	git_repository *repo = NULL;
	git_tree *tree = NULL;
	int rc = open_commit_tree(&repo, &tree, repo_dir, commit, err);
	if (rc < 0)
		return rc;
	snapshot *s = ks_xcalloc(1, sizeof(*s));
	s->arena = ks_arena_new();
	s->pub.stacks =
		ks_arena_alloc(s->arena, (npaths + 1) * sizeof(*s->pub.stacks));
	s->pub.nstacks = npaths;
	char short_id[8];
	snprintf(short_id, sizeof(short_id), "%.7s", commit);
	for (size_t i = 0; i < npaths && rc == 0; i++)
		rc = read_stack(s, repo, tree, short_id, paths[i],
				&s->pub.stacks[i], err);
	git_tree_free(tree);
	git_repository_free(repo);
	if (rc < 0) {
		ks_git_snapshot_free(&s->pub);
		return rc;
	}
	*out = &s->pub;
	return 0;
}
