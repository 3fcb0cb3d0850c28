/* Git sources against a real `git daemon` on loopback and file:// repos
 * made with the git CLI; the fetch runs in $KUSYNC's __git-fetch child. */
#define _GNU_SOURCE /* mkdtemp, setenv */
#include "ks_test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/gitsrc.h"
#include "agent/gitsrc_internal.h"
#include "core/base64.h"
#include "core/json.h"
#include "core/mem.h"
#include "render/render.h"

extern char **environ;

typedef struct fixture {
	char tmp[64];
	char url[128];	 /* git://127.0.0.1:PORT/repo.git */
	char cache[128]; /* the kusync cache repository */
	int port;
	pid_t daemon;  /* the git daemon (its own process group), or 0 */
	int silent_fd; /* a listening socket nobody answers, or -1 */
	int silent_port;
} fixture;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs a shell command (quiet git identity), asserting success. */
static void sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char cmd[4096];
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	char *full = ks_xasprintf(
		"export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t "
		"GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t "
		"GIT_CONFIG_NOSYSTEM=1 HOME=/nonexistent; (%s) >/dev/null 2>&1",
		cmd);
	int rc = system(full);
	if (rc != 0)
		fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
	free(full);
	assert_int_equal(rc, 0);
}

/* The output of `git -C DIR rev-parse REV`. */
static void rev_parse(const char *dir, const char *rev, char out[41])
{
	char *cmd = ks_xasprintf("git -C '%s' rev-parse '%s'", dir, rev);
	FILE *p = popen(cmd, "r");
	free(cmd);
	assert_non_null(p);
	assert_non_null(fgets(out, 41, p));
	pclose(p);
	assert_int_equal(strlen(out), 40);
}

/* A loopback port that was free a moment ago. */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static int can_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static void start_daemon(fixture *f)
{
	char port[32], base[160], dir[160];
	snprintf(port, sizeof(port), "--port=%d", f->port);
	snprintf(base, sizeof(base), "--base-path=%s/srv", f->tmp);
	snprintf(dir, sizeof(dir), "%s/srv", f->tmp);
	char a0[] = "git", a1[] = "daemon", a2[] = "--listen=127.0.0.1",
	     a4[] = "--export-all", a5[] = "--enable=receive-pack",
	     a6[] = "--reuseaddr";
	char *argv[] = {a0, a1, a2, port, base, a4, a5, a6, dir, NULL};
	posix_spawnattr_t at;
	posix_spawnattr_init(&at);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	int rc = posix_spawnp(&f->daemon, "git", &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	assert_int_equal(rc, 0);
	for (int i = 0; i < 100 && !can_connect(f->port); i++)
		usleep(50000);
	assert_true(can_connect(f->port));
}

/* Stops the daemon and every connection child in its process group. */
static void stop_daemon(fixture *f)
{
	if (!f->daemon)
		return;
	kill(-f->daemon, SIGKILL);
	while (waitpid(f->daemon, NULL, 0) < 0 && errno == EINTR)
		;
	f->daemon = 0;
}

/* A socket that accepts TCP connections (the kernel's backlog) and never
 * says anything. */
static void start_silent(fixture *f)
{
	f->silent_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	assert_int_equal(bind(f->silent_fd, (struct sockaddr *)&a, sizeof(a)),
			 0);
	assert_int_equal(listen(f->silent_fd, 16), 0);
	assert_int_equal(getsockname(f->silent_fd, (struct sockaddr *)&a, &len),
			 0);
	f->silent_port = ntohs(a.sin_port);
}

static void commit_file(fixture *f, const char *name, const char *text)
{
	sh("cd '%s/work' && printf '%%s\\n' '%s' > '%s' && git add -A && "
	   "git commit -q -m '%s' && git push -q origin HEAD:refs/heads/main",
	   f->tmp, text, name, name);
}

static int setup(void **state)
{
	const char *exe = getenv("KUSYNC");
	if (!exe || access(exe, X_OK)) {
		print_message("KUSYNC is not set to the kusync binary\n");
		return -1;
	}
	ks_git_set_helper(exe);
	fixture *f = ks_xcalloc(1, sizeof(*f));
	f->silent_fd = -1;
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/ks-gitsrc-XXXXXX");
	if (!mkdtemp(f->tmp)) {
		free(f);
		return -1;
	}
	*state = f;
	f->port = free_port();
	snprintf(f->url, sizeof(f->url), "git://127.0.0.1:%d/repo.git",
		 f->port);
	snprintf(f->cache, sizeof(f->cache), "%s/cache/demo", f->tmp);
	sh("mkdir -p '%s/srv' && git init -q --bare -b main '%s/srv/repo.git'"
	   " && git clone -q '%s/srv/repo.git' '%s/work'",
	   f->tmp, f->tmp, f->tmp, f->tmp);
	commit_file(f, "a.txt", "one");
	start_daemon(f);
	start_silent(f);
	return 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	if (!f)
		return 0;
	stop_daemon(f);
	if (f->silent_fd >= 0)
		close(f->silent_fd);
	char *cmd = ks_xasprintf("rm -rf '%s'", f->tmp);
	int rc = system(cmd);
	free(cmd);
	free(f);
	*state = NULL;
	return rc == 0 ? 0 : -1;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n++;
	closedir(d);
	return n;
}

static int fetch(fixture *f, const char *url, const char *ref,
		 int64_t timeout_ms, char commit[41], ks_error *err)
{
	return ks_git_fetch(f->cache, url, ref, NULL, timeout_ms, NULL, commit,
			    err);
}

static void fetch_follows_commits_and_force_pushes(void **state)
{
	fixture *f = *state;
	char want[41], got[41];
	ks_error err = {0};
	/* Without the warm helper, whose two pipes stay open between
	 * fetches by design. */
	ks_git_shutdown();
	int fds = count_fds();

	char work[160];
	snprintf(work, sizeof(work), "%s/work", f->tmp);
	rev_parse(work, "HEAD", want);
	assert_int_equal(fetch(f, f->url, "refs/heads/main", 30000, got, &err),
			 0);
	assert_string_equal(got, want);

	commit_file(f, "b.txt", "two");
	rev_parse(work, "HEAD", want);
	assert_int_equal(fetch(f, f->url, "refs/heads/main", 30000, got, &err),
			 0);
	assert_string_equal(got, want);

	/* A force-push replaces the ref's history. */
	char before[41];
	memcpy(before, want, sizeof(before));
	sh("cd '%s' && git reset -q --hard HEAD~1 && echo three > c.txt && "
	   "git add -A && git commit -q -m three && "
	   "git push -q -f origin HEAD:refs/heads/main",
	   work);
	rev_parse(work, "HEAD", want);
	assert_string_not_equal(want, before);
	assert_int_equal(fetch(f, f->url, "refs/heads/main", 30000, got, &err),
			 0);
	assert_string_equal(got, want);

	/* The same commit again: nothing to download. */
	int64_t t0 = now_ms();
	assert_int_equal(fetch(f, f->url, "refs/heads/main", 30000, got, &err),
			 0);
	assert_string_equal(got, want);
	assert_true(now_ms() - t0 < 3000);
	ks_git_shutdown();
	assert_int_equal(count_fds(), fds);
}

static void fetch_missing_ref_is_invalid(void **state)
{
	fixture *f = *state;
	char got[41];
	ks_error err = {0};
	assert_int_equal(fetch(f, f->url, "refs/heads/nope", 30000, got, &err),
			 KS_EINVAL);
	assert_non_null(strstr(err.msg, "refs/heads/nope"));
}

static void fetch_survives_a_server_restart(void **state)
{
	fixture *f = *state;
	char got[41], want[41];
	ks_error err = {0};
	stop_daemon(f);
	assert_int_equal(fetch(f, f->url, "refs/heads/main", 30000, got, &err),
			 KS_EENV);
	assert_non_null(strstr(err.msg, f->url));
	start_daemon(f);
	char work[160];
	snprintf(work, sizeof(work), "%s/work", f->tmp);
	rev_parse(work, "HEAD", want);
	assert_int_equal(fetch(f, f->url, "refs/heads/main", 30000, got, &err),
			 0);
	assert_string_equal(got, want);
}

static void fetch_from_a_silent_server_is_abandoned(void **state)
{
	fixture *f = *state;
	char url[128], got[41];
	snprintf(url, sizeof(url), "git://127.0.0.1:%d/repo.git",
		 f->silent_port);
	ks_error err = {0};
	int64_t t0 = now_ms();
	assert_int_equal(fetch(f, url, "refs/heads/main", 1000, got, &err),
			 KS_EENV);
	int64_t took = now_ms() - t0;
	/* abandoned at its 1 s deadline, not at the server's pace (it never
	 * answers); the upper bound leaves room for a loaded machine */
	assert_true(took >= 1000 && took < 5000);
	assert_non_null(strstr(err.msg, "fetch abandoned after 1s"));
}

typedef struct canceller {
	volatile int flag;
	int64_t set_at;
} canceller;

static void *cancel_later(void *arg)
{
	canceller *c = arg;
	usleep(300000);
	c->set_at = now_ms();
	c->flag = 1;
	return NULL;
}

static void fetch_is_cancelled_promptly(void **state)
{
	fixture *f = *state;
	char url[128], got[41];
	snprintf(url, sizeof(url), "git://127.0.0.1:%d/repo.git",
		 f->silent_port);
	canceller c = {0};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, cancel_later, &c), 0);
	ks_error err = {0};
	int rc = ks_git_fetch(f->cache, url, "refs/heads/main", NULL, 30000,
			      &c.flag, got, &err);
	int64_t done = now_ms();
	pthread_join(th, NULL);
	assert_int_equal(rc, KS_ERROR);
	assert_string_equal(err.msg, "cancelled");
	/* prompt: far inside the 30 s the fetch would otherwise wait (under
	 * ASan on a loaded machine, 200 ms was missed) */
	assert_true(done - c.set_at < 2000);
}

static void corrupt_or_moved_cache_is_recloned(void **state)
{
	fixture *f = *state;
	char got[41], want[41], work[160];
	ks_error err = {0};
	snprintf(work, sizeof(work), "%s/work", f->tmp);
	rev_parse(work, "HEAD", want);
	assert_int_equal(fetch(f, f->url, "refs/heads/main", 30000, got, &err),
			 0);
	/* Garbage where the repository's config and objects were. */
	sh("cd '%s' && rm -rf objects && echo '[garbage' > config", f->cache);
	memset(got, 0, sizeof(got));
	assert_int_equal(fetch(f, f->url, "refs/heads/main", 30000, got, &err),
			 0);
	assert_string_equal(got, want);
	/* Objects lost behind the refs' back. */
	sh("cd '%s' && find objects -type f -delete", f->cache);
	memset(got, 0, sizeof(got));
	assert_int_equal(fetch(f, f->url, "refs/heads/main", 30000, got, &err),
			 0);
	assert_string_equal(got, want);
	sh("git -C '%s' cat-file -e '%s^{tree}'", f->cache, want);
	/* A file where the cache folder should be. */
	sh("rm -rf '%s' && echo x > '%s'", f->cache, f->cache);
	assert_int_equal(fetch(f, f->url, "refs/heads/main", 30000, got, &err),
			 0);
	assert_string_equal(got, want);
	/* The same repository under another URL (file://). */
	char url[200];
	snprintf(url, sizeof(url), "file://%s/srv/repo.git", f->tmp);
	assert_int_equal(fetch(f, url, "refs/heads/main", 30000, got, &err), 0);
	assert_string_equal(got, want);
	char *cmd =
		ks_xasprintf("git -C '%s' config remote.origin.url", f->cache);
	FILE *p = popen(cmd, "r");
	free(cmd);
	char line[256] = "";
	assert_non_null(fgets(line, sizeof(line), p));
	pclose(p);
	line[strcspn(line, "\n")] = '\0';
	assert_string_equal(line, url);
}

static void fetch_errors_hide_credentials(void **state)
{
	fixture *f = *state;
	char url[128], got[41];
	/* Nothing listens on the port: the error names the URL without its
	 * userinfo, and never the password. */
	snprintf(url, sizeof(url), "http://bob:s3cr3t-tok@127.0.0.1:%d/r.git",
		 free_port());
	ks_git_creds cr = {.username = "bob", .password = "hunter2-token"};
	ks_error err = {0};
	assert_int_equal(ks_git_fetch(f->cache, url, "refs/heads/main", &cr,
				      30000, NULL, got, &err),
			 KS_EENV);
	assert_null(strstr(err.msg, "s3cr3t"));
	assert_null(strstr(err.msg, "hunter2"));
	assert_non_null(strstr(err.msg, "http://127.0.0.1:"));
}

/* An HTTP server that answers every request with 401 (basic auth). */
typedef struct deny_server {
	int fd, port, requests;
	volatile int stop;
	pthread_t th;
} deny_server;

static void *deny_loop(void *arg)
{
	deny_server *d = arg;
	while (!d->stop) {
		struct pollfd p = {.fd = d->fd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		int c = accept(d->fd, NULL, NULL);
		if (c < 0)
			continue;
		char buf[4096];
		size_t got = 0;
		while (got < sizeof(buf) - 1) {
			ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);
			if (n <= 0)
				break;
			got += (size_t)n;
			buf[got] = '\0';
			if (strstr(buf, "\r\n\r\n"))
				break;
		}
		d->requests++;
		static const char resp[] =
			"HTTP/1.1 401 Unauthorized\r\n"
			"WWW-Authenticate: Basic realm=\"git\"\r\n"
			"Content-Length: 0\r\nConnection: close\r\n\r\n";
		ssize_t w = write(c, resp, sizeof(resp) - 1);
		(void)w;
		close(c);
	}
	return NULL;
}

static void fetch_gives_up_on_rejected_credentials(void **state)
{
	fixture *f = *state;
	deny_server d = {.fd = -1};
	d.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	assert_int_equal(bind(d.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(d.fd, 16), 0);
	assert_int_equal(getsockname(d.fd, (struct sockaddr *)&a, &len), 0);
	d.port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&d.th, NULL, deny_loop, &d), 0);

	char url[128], got[41];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/repo.git", d.port);
	ks_git_creds cr = {.username = "bob", .password = "wrong-token"};
	ks_error err = {0};
	int rc = ks_git_fetch(f->cache, url, "refs/heads/main", &cr, 30000,
			      NULL, got, &err);
	d.stop = 1;
	pthread_join(d.th, NULL);
	close(d.fd);
	assert_int_equal(rc, KS_EENV);
	assert_non_null(strstr(err.msg, "authentication failed"));
	assert_null(strstr(err.msg, "wrong-token"));
	/* The first request without credentials, then three attempts. */
	assert_true(d.requests >= 2 && d.requests <= 5);
}

/* ---- stacks from the tree ---- */

/* Copies examples/demo into a new repository under TMP/demo-src as
 * demo/, commits, and fetches it into the cache over file://. */
static void demo_repo(fixture *f, char commit[41])
{
	sh("rm -rf '%s/demo-src' && mkdir -p '%s/demo-src' && "
	   "cp -r '%s/examples/demo' '%s/demo-src/demo' && "
	   "cd '%s/demo-src' && git init -q -b main && git add -A && "
	   "git commit -q -m demo",
	   f->tmp, f->tmp, ks_test_source_dir(), f->tmp, f->tmp);
	char url[200];
	snprintf(url, sizeof(url), "file://%s/demo-src", f->tmp);
	ks_error err = {0};
	int rc = fetch(f, url, "refs/heads/main", 30000, commit, &err);
	if (rc)
		fprintf(stderr, "%s\n", err.msg);
	assert_int_equal(rc, 0);
}

static void demo_commit(fixture *f, const char *what, char commit[41])
{
	sh("cd '%s/demo-src' && %s && git add -A && git commit -q -m change",
	   f->tmp, what);
	char url[200];
	snprintf(url, sizeof(url), "file://%s/demo-src", f->tmp);
	ks_error err = {0};
	assert_int_equal(fetch(f, url, "refs/heads/main", 30000, commit, &err),
			 0);
}

static char *render_canonical(const ks_render_stack *stacks, size_t n,
			      const char *const *dirs, const char *workspace)
{
	json_t *spec = NULL;
	ks_errlist *errs = ks_errlist_new();
	int rc;
	if (stacks) {
		ks_render_opts o = {.workspace_path = workspace};
		rc = ks_render(&spec, stacks, n, &o, errs);
	} else {
		rc = ks_render_dirs(&spec, dirs, n, workspace, errs);
	}
	if (rc)
		ks_errlist_print(errs, stderr, 10);
	ks_errlist_free(errs);
	assert_int_equal(rc, 0);
	char *s = ks_json_canonical(spec, NULL);
	json_decref(spec);
	return s;
}

static void stacks_render_like_the_folders(void **state)
{
	fixture *f = *state;
	char commit[41];
	demo_repo(f, commit);
	const char *paths[] = {"demo/prod", "./demo/dev/"};
	ks_git_snapshot *snap = NULL;
	ks_error err = {0};
	int rc = ks_git_read_stacks(&snap, f->cache, commit, paths, 2, &err);
	if (rc)
		fprintf(stderr, "%s\n", err.msg);
	assert_int_equal(rc, 0);
	assert_int_equal(snap->nstacks, 2);
	assert_string_equal(snap->stacks[0].dir, "demo/prod");
	assert_string_equal(snap->stacks[1].dir, "demo/dev");
	assert_non_null(snap->stacks[0].project_yaml);
	assert_non_null(snap->stacks[0].stack_yaml);
	assert_true(snap->stacks[0].nfiles >= 4);

	char *ws = ks_xasprintf("%s/examples/workspace.yaml",
				ks_test_source_dir());
	char *d1 = ks_xasprintf("%s/examples/demo/prod", ks_test_source_dir());
	char *d2 = ks_xasprintf("%s/examples/demo/dev", ks_test_source_dir());
	const char *dirs[] = {d1, d2};
	char *a = render_canonical(snap->stacks, 2, NULL, ws);
	char *b = render_canonical(NULL, 2, dirs, ws);
	assert_true(strlen(a) > 1000);
	assert_string_equal(a, b);
	free(a);
	free(b);
	free(ws);
	free(d1);
	free(d2);
	ks_git_snapshot_free(snap);
}

static void stacks_messages_name_the_repo_path(void **state)
{
	fixture *f = *state;
	char commit[41];
	demo_repo(f, commit);
	demo_commit(f, "printf 'x:\\n  y: [\\n' > demo/prod/broken.yaml",
		    commit);
	const char *paths[] = {"demo/prod"};
	ks_git_snapshot *snap = NULL;
	ks_error err = {0};
	assert_int_equal(
		ks_git_read_stacks(&snap, f->cache, commit, paths, 1, &err), 0);
	json_t *spec = NULL;
	ks_errlist *errs = ks_errlist_new();
	ks_render_opts o = {0};
	assert_int_equal(ks_render(&spec, snap->stacks, 1, &o, errs),
			 KS_EINVAL);
	ks_errlist_sort(errs);
	assert_true(ks_errlist_count(errs) >= 1);
	assert_ptr_equal(
		strstr(ks_errlist_get(errs, 0), "demo/prod/broken.yaml:"),
		ks_errlist_get(errs, 0));
	ks_errlist_free(errs);
	ks_git_snapshot_free(snap);
}

static void stacks_missing_path(void **state)
{
	fixture *f = *state;
	char commit[41];
	demo_repo(f, commit);
	const char *paths[] = {"demo/prod", "demo/nope"};
	ks_git_snapshot *snap = NULL;
	ks_error err = {0};
	assert_int_equal(
		ks_git_read_stacks(&snap, f->cache, commit, paths, 2, &err),
		KS_EINVAL);
	assert_null(snap);
	char want[128];
	snprintf(want, sizeof(want), "demo/nope: no such folder in %.7s",
		 commit);
	assert_string_equal(err.msg, want);
	/* A file is not a folder either. */
	const char *file[] = {"demo/project.yaml"};
	assert_int_equal(
		ks_git_read_stacks(&snap, f->cache, commit, file, 1, &err),
		KS_EINVAL);
	assert_non_null(strstr(err.msg, "not a folder"));
	/* Nor is an unknown commit there. */
	assert_int_equal(ks_git_read_stacks(&snap, f->cache,
					    "0123456789012345678901234567890"
					    "123456789",
					    paths, 1, &err),
			 KS_EINVAL);
}

static void stacks_refuse_big_files(void **state)
{
	fixture *f = *state;
	char commit[41];
	demo_repo(f, commit);
	demo_commit(f,
		    "head -c 9437184 /dev/zero | tr '\\0' 'a' > "
		    "demo/prod/big.yaml",
		    commit);
	const char *paths[] = {"demo/prod"};
	ks_git_snapshot *snap = NULL;
	ks_error err = {0};
	assert_int_equal(
		ks_git_read_stacks(&snap, f->cache, commit, paths, 1, &err),
		KS_ELIMIT);
	assert_non_null(strstr(err.msg, "demo/prod/big.yaml"));
	assert_non_null(strstr(err.msg, "too large"));
	/* A big file render does not read is no problem. */
	demo_commit(f, "git mv demo/prod/big.yaml demo/prod/big.bin", commit);
	assert_int_equal(
		ks_git_read_stacks(&snap, f->cache, commit, paths, 1, &err), 0);
	ks_git_snapshot_free(snap);
}

static void stacks_refuse_symlinks(void **state)
{
	fixture *f = *state;
	char commit[41];
	demo_repo(f, commit);
	demo_commit(f, "ln -s ../dev/apps.yaml demo/prod/linked.yaml", commit);
	const char *paths[] = {"demo/prod"};
	ks_git_snapshot *snap = NULL;
	ks_error err = {0};
	assert_int_equal(
		ks_git_read_stacks(&snap, f->cache, commit, paths, 1, &err),
		KS_EINVAL);
	assert_non_null(strstr(err.msg, "demo/prod/linked.yaml"));
	assert_non_null(strstr(err.msg, "symbolic link"));
}

/* Whether PID is our child and still running (not exited, not reaped). */
static bool running_child(pid_t pid)
{
	int st;
	return pid > 0 && waitpid(pid, &st, WNOHANG) == 0;
}

/* Whether PID is no child of ours any more (exited and reaped). */
static bool reaped(pid_t pid)
{
	int st;
	return waitpid(pid, &st, WNOHANG) < 0 && errno == ECHILD;
}

/* Whether PID becomes a zombie (dead, not reaped) within 20 s. */
static bool zombie(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 2000; i++) {
		FILE *fp = fopen(path, "r");
		size_t n = fp ? fread(buf, 1, sizeof(buf) - 1, fp) : 0;
		if (fp)
			fclose(fp);
		buf[n] = '\0';
		const char *rp = strrchr(buf, ')');
		if (rp && rp[1] == ' ' && rp[2] == 'Z')
			return true;
		usleep(10000);
	}
	return false;
}

/* The warm helper, started a moment after a fetch (0 if none in 20 s: a
 * sanitized build on a loaded machine starts it slowly). */
static pid_t warm_pid(void)
{
	for (int i = 0; i < 2000 && !ks_git_warm_pid(); i++)
		usleep(10000);
	return ks_git_warm_pid();
}

static void warm_helper_is_used_and_replaced(void **state)
{
	fixture *f = *state;
	char got[41], want[41], work[160];
	ks_error err = {0};
	snprintf(work, sizeof(work), "%s/work", f->tmp);
	ks_git_shutdown();
	assert_int_equal(ks_git_warm_pid(), 0);
	unsigned long hits = ks_git_warm_hits();

	/* A cold start; the next fetch's helper is started meanwhile. */
	assert_int_equal(fetch(f, f->url, "refs/heads/main", 30000, got, &err),
			 0);
	assert_int_equal(ks_git_warm_hits(), hits);
	pid_t p1 = warm_pid();
	assert_true(running_child(p1));

	/* The second fetch is done by that helper, which is gone after it,
	 * and a new one waits. */
	commit_file(f, "warm.txt", "warm");
	rev_parse(work, "HEAD", want);
	assert_int_equal(fetch(f, f->url, "refs/heads/main", 30000, got, &err),
			 0);
	assert_string_equal(got, want);
	assert_int_equal(ks_git_warm_hits(), hits + 1);
	assert_true(reaped(p1));
	pid_t p2 = warm_pid();
	assert_true(p2 != p1);
	assert_true(running_child(p2));

	/* Idle, it waits: still there a while later. */
	usleep(100000);
	assert_true(running_child(p2));

	/* Shutdown kills and reaps it: no zombie, no process. */
	ks_git_shutdown();
	assert_int_equal(ks_git_warm_pid(), 0);
	assert_true(reaped(p2));
	assert_true(kill(p2, 0) < 0 && errno == ESRCH);
	int st;
	assert_true(waitpid(-1, &st, WNOHANG) <= 0);
}

static void warm_helper_that_died_is_replaced(void **state)
{
	fixture *f = *state;
	char got[41], want[41], work[160];
	ks_error err = {0};
	snprintf(work, sizeof(work), "%s/work", f->tmp);
	rev_parse(work, "HEAD", want);
	assert_int_equal(fetch(f, f->url, "refs/heads/main", 30000, got, &err),
			 0);
	pid_t p1 = warm_pid();
	assert_true(running_child(p1));
	/* Killed behind our back (OOM killer, an admin): not reaped yet. */
	assert_int_equal(kill(p1, SIGKILL), 0);
	assert_true(zombie(p1));
	unsigned long hits = ks_git_warm_hits();
	assert_int_equal(fetch(f, f->url, "refs/heads/main", 30000, got, &err),
			 0);
	assert_string_equal(got, want);
	assert_int_equal(ks_git_warm_hits(), hits); /* a cold start */
	assert_true(reaped(p1));
	assert_true(running_child(warm_pid()));
	ks_git_shutdown();
	int st;
	assert_true(waitpid(-1, &st, WNOHANG) <= 0);

	/* Shutdown right after a fetch also cancels the helper that was
	 * about to be started. */
	assert_int_equal(fetch(f, f->url, "refs/heads/main", 30000, got, &err),
			 0);
	ks_git_shutdown();
	usleep(800000);
	assert_int_equal(ks_git_warm_pid(), 0);
	assert_true(waitpid(-1, &st, WNOHANG) <= 0);
}

static void warm_helper_is_cancelled_promptly(void **state)
{
	fixture *f = *state;
	char url[128], got[41];
	ks_error err = {0};
	/* Make sure a warm helper waits, then hand it a hanging fetch. */
	assert_int_equal(fetch(f, f->url, "refs/heads/main", 30000, got, &err),
			 0);
	pid_t p1 = warm_pid();
	assert_true(running_child(p1));
	unsigned long hits = ks_git_warm_hits();
	snprintf(url, sizeof(url), "git://127.0.0.1:%d/repo.git",
		 f->silent_port);
	canceller c = {0};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, cancel_later, &c), 0);
	int rc = ks_git_fetch(f->cache, url, "refs/heads/main", NULL, 30000,
			      &c.flag, got, &err);
	int64_t done = now_ms();
	pthread_join(th, NULL);
	assert_int_equal(rc, KS_ERROR);
	assert_string_equal(err.msg, "cancelled");
	/* prompt: far inside the fetch's 30 s (a generous bound, the machine
	 * may be busy) */
	assert_true(done - c.set_at < 2000);
	assert_int_equal(ks_git_warm_hits(), hits + 1);
	assert_true(reaped(p1)); /* killed and reaped */
	pid_t p2 = warm_pid();
	assert_true(p2 != p1 && running_child(p2));
	/* The cache is still usable by the next (warm) fetch. */
	assert_int_equal(fetch(f, f->url, "refs/heads/main", 30000, got, &err),
			 0);
	assert_int_equal(ks_git_warm_hits(), hits + 2);
	ks_git_shutdown();
	assert_true(reaped(p2));
}

/* The packs (*.pack) in the cache. */
static int count_packs(fixture *f)
{
	char dir[192];
	snprintf(dir, sizeof(dir), "%s/objects/pack", f->cache);
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len > 5 && !strcmp(e->d_name + len - 5, ".pack"))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

static void packs_are_consolidated(void **state)
{
	fixture *f = *state;
	char got[41], want[41], work[160];
	ks_error err = {0};
	snprintf(work, sizeof(work), "%s/work", f->tmp);
	int most = 0;
	for (int i = 0; i < 24; i++) {
		char name[32], text[32];
		snprintf(name, sizeof(name), "n%d.txt", i);
		snprintf(text, sizeof(text), "round %d", i);
		commit_file(f, name, text);
		rev_parse(work, "HEAD", want);
		assert_int_equal(
			fetch(f, f->url, "refs/heads/main", 30000, got, &err),
			0);
		assert_string_equal(got, want);
		int n = count_packs(f);
		if (n > most)
			most = n;
	}
	/* One pack per fetch, made one past 16: never 24. */
	assert_true(most >= 2 && most <= 17);
	/* Nothing the head reaches was lost. */
	sh("git --git-dir='%s' fsck --connectivity-only refs/kusync/head && "
	   "test \"$(git --git-dir='%s' rev-list --objects refs/kusync/head "
	   "| wc -l)\" = \"$(git -C '%s' rev-list --objects HEAD | wc -l)\"",
	   f->cache, f->cache, work);
	ks_git_shutdown();
}

static void no_zombies_left(void **state)
{
	(void)state;
	int st;
	/* The git daemon is still running (0) or gone (-1); never a
	 * finished child nobody reaped. */
	assert_true(waitpid(-1, &st, WNOHANG) <= 0);
}

static int gitsrc_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			fetch_follows_commits_and_force_pushes, setup,
			teardown),
		cmocka_unit_test_setup_teardown(fetch_missing_ref_is_invalid,
						setup, teardown),
		cmocka_unit_test_setup_teardown(fetch_survives_a_server_restart,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			fetch_from_a_silent_server_is_abandoned, setup,
			teardown),
		cmocka_unit_test_setup_teardown(fetch_is_cancelled_promptly,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			corrupt_or_moved_cache_is_recloned, setup, teardown),
		cmocka_unit_test_setup_teardown(fetch_errors_hide_credentials,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			fetch_gives_up_on_rejected_credentials, setup,
			teardown),
		cmocka_unit_test_setup_teardown(stacks_render_like_the_folders,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			stacks_messages_name_the_repo_path, setup, teardown),
		cmocka_unit_test_setup_teardown(stacks_missing_path, setup,
						teardown),
		cmocka_unit_test_setup_teardown(stacks_refuse_big_files, setup,
						teardown),
		cmocka_unit_test_setup_teardown(stacks_refuse_symlinks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			warm_helper_is_used_and_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(
			warm_helper_that_died_is_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(
			warm_helper_is_cancelled_promptly, setup, teardown),
		cmocka_unit_test_setup_teardown(packs_are_consolidated, setup,
						teardown),
		cmocka_unit_test(no_zombies_left),
	};
	return cmocka_run_group_tests_name("agent/gitsrc", tests, NULL, NULL);
}
KS_TEST_GROUP(gitsrc_tests)

/* ---- known_hosts ---- */

typedef struct kh_fixture {
	char tmp[64];
	char key[512];	 /* "ssh-ed25519 AAAA..." of the server */
	char other[512]; /* another key */
	char *blob;	 /* the server key's wire format */
	size_t bloblen;
} kh_fixture;

static void read_pub(const char *path, char *out, size_t n)
{
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(out, (int)n, fp));
	fclose(fp);
	/* "type base64 comment" -> "type base64" */
	char *sp = strchr(out, ' ');
	assert_non_null(sp);
	sp = strchr(sp + 1, ' ');
	if (sp)
		*sp = '\0';
	out[strcspn(out, "\n")] = '\0';
}

static int kh_setup(void **state)
{
	kh_fixture *k = ks_xcalloc(1, sizeof(*k));
	snprintf(k->tmp, sizeof(k->tmp), "/tmp/ks-knownhosts-XXXXXX");
	if (!mkdtemp(k->tmp)) {
		free(k);
		return -1;
	}
	*state = k;
	sh("ssh-keygen -q -t ed25519 -N '' -f '%s/server' && "
	   "ssh-keygen -q -t ed25519 -N '' -f '%s/other'",
	   k->tmp, k->tmp);
	char path[128];
	snprintf(path, sizeof(path), "%s/server.pub", k->tmp);
	read_pub(path, k->key, sizeof(k->key));
	snprintf(path, sizeof(path), "%s/other.pub", k->tmp);
	read_pub(path, k->other, sizeof(k->other));
	assert_int_equal(ks_base64_decode(strchr(k->key, ' ') + 1, &k->blob,
					  &k->bloblen),
			 0);
	return 0;
}

static int kh_teardown(void **state)
{
	kh_fixture *k = *state;
	char *cmd = ks_xasprintf("rm -rf '%s'", k->tmp);
	int rc = system(cmd);
	free(cmd);
	free(k->blob);
	free(k);
	return rc == 0 ? 0 : -1;
}

/* Writes TEXT as the known_hosts file and checks HOST:PORT's raw key. */
static int kh_check(kh_fixture *k, const char *text, const char *host, int port,
		    char *why, size_t n)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/known_hosts", k->tmp);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	git_cert_hostkey hk = {.parent.cert_type = GIT_CERT_HOSTKEY_LIBSSH2,
			       .type = GIT_CERT_SSH_RAW,
			       .raw_type = GIT_CERT_SSH_RAW_TYPE_KEY_ED25519,
			       .hostkey = k->blob,
			       .hostkey_len = k->bloblen};
	why[0] = '\0';
	return ks_git_check_host_key(path, host, port, &hk, why, n);
}

static void known_hosts_plain_and_port_entries(void **state)
{
	kh_fixture *k = *state;
	char text[2048], why[512];
	snprintf(text, sizeof(text),
		 "# comment\n\nother.example %s\n"
		 "git.example,10.0.0.1 %s\n[git.example]:2222 %s\n",
		 k->key, k->key, k->other);
	assert_int_equal(kh_check(k, text, "git.example", 22, why, 512), 0);
	assert_int_equal(kh_check(k, text, "10.0.0.1", 22, why, 512), 0);
	/* Port 2222 has its own (different) key. */
	assert_int_equal(kh_check(k, text, "git.example", 2222, why, 512),
			 KS_EENV);
	assert_non_null(strstr(why, "does not match"));
	assert_non_null(strstr(why, "[git.example]:2222"));
	/* No trust on first use. */
	assert_int_equal(kh_check(k, text, "new.example", 22, why, 512),
			 KS_EENV);
	assert_non_null(strstr(why, "\"new.example\" is not in"));
}

static void known_hosts_changed_key_is_refused(void **state)
{
	kh_fixture *k = *state;
	char text[2048], why[512];
	snprintf(text, sizeof(text), "git.example %s\n", k->other);
	assert_int_equal(kh_check(k, text, "git.example", 22, why, 512),
			 KS_EENV);
	assert_non_null(strstr(why, "does not match"));
	/* A second line with the right key (key rotation) is enough. */
	snprintf(text, sizeof(text), "git.example %s\ngit.example %s\n",
		 k->other, k->key);
	assert_int_equal(kh_check(k, text, "git.example", 22, why, 512), 0);
	/* Unless that key is revoked. */
	snprintf(text, sizeof(text), "git.example %s\n@revoked * %s\n", k->key,
		 k->key);
	assert_int_equal(kh_check(k, text, "git.example", 22, why, 512),
			 KS_EENV);
	assert_non_null(strstr(why, "revoked"));
}

static void known_hosts_hashed_and_wildcard_entries(void **state)
{
	kh_fixture *k = *state;
	char text[2048], why[512];
	snprintf(text, sizeof(text), "git.example %s\n[git.example]:2222 %s\n",
		 k->key, k->key);
	char path[128];
	snprintf(path, sizeof(path), "%s/known_hosts", k->tmp);
	FILE *fp = fopen(path, "w");
	fputs(text, fp);
	fclose(fp);
	/* ssh-keygen -H hashes the host names in place. */
	sh("ssh-keygen -q -H -f '%s' && rm -f '%s.old'", path, path);
	char hashed[2048] = "";
	fp = fopen(path, "r");
	size_t n = fread(hashed, 1, sizeof(hashed) - 1, fp);
	fclose(fp);
	hashed[n] = '\0';
	assert_null(strstr(hashed, "git.example"));
	assert_non_null(strstr(hashed, "|1|"));
	assert_int_equal(kh_check(k, hashed, "git.example", 22, why, 512), 0);
	assert_int_equal(kh_check(k, hashed, "git.example", 2222, why, 512), 0);
	assert_int_equal(kh_check(k, hashed, "git2.example", 22, why, 512),
			 KS_EENV);

	snprintf(text, sizeof(text), "*.example.org,!bad.example.org %s\n",
		 k->key);
	assert_int_equal(kh_check(k, text, "git.example.org", 22, why, 512), 0);
	assert_int_equal(kh_check(k, text, "bad.example.org", 22, why, 512),
			 KS_EENV);
	assert_non_null(strstr(why, "is not in"));
}

static void known_hosts_sha256_only(void **state)
{
	kh_fixture *k = *state;
	char text[2048], path[128], why[512];
	snprintf(text, sizeof(text), "git.example %s\n", k->key);
	snprintf(path, sizeof(path), "%s/known_hosts", k->tmp);
	FILE *fp = fopen(path, "w");
	fputs(text, fp);
	fclose(fp);
	git_cert_hostkey hk = {.parent.cert_type = GIT_CERT_HOSTKEY_LIBSSH2,
			       .type = GIT_CERT_SSH_SHA256};
	SHA256((const unsigned char *)k->blob, k->bloblen, hk.hash_sha256);
	assert_int_equal(ks_git_check_host_key(path, "git.example", 22, &hk,
					       why, sizeof(why)),
			 0);
	hk.hash_sha256[0] ^= 1;
	assert_int_equal(ks_git_check_host_key(path, "git.example", 22, &hk,
					       why, sizeof(why)),
			 KS_EENV);
	/* A missing file is an error, not an empty list. */
	assert_int_equal(ks_git_check_host_key("/nonexistent/known_hosts",
					       "git.example", 22, &hk, why,
					       sizeof(why)),
			 KS_EENV);
	assert_non_null(strstr(why, "/nonexistent/known_hosts"));
}

static int gitsrc_known_hosts_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(known_hosts_plain_and_port_entries),
		cmocka_unit_test(known_hosts_changed_key_is_refused),
		cmocka_unit_test(known_hosts_hashed_and_wildcard_entries),
		cmocka_unit_test(known_hosts_sha256_only),
	};
	return cmocka_run_group_tests_name("agent/gitsrc_known_hosts", tests,
					   kh_setup, kh_teardown);
}
KS_TEST_GROUP(gitsrc_known_hosts_tests)
