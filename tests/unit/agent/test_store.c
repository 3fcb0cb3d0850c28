/* The release store: both backends keep, list and prune releases, skip
 * damaged records with a warning, and write files privately and
 * atomically. */
#include "ks_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "agent/store.h"
#include "core/base64.h"
#include "dc_thread.h"

#define APP "demo-prod-web"

static json_t *release(const char *app, long long n, const char *phase)
{
	char commit[41];
	snprintf(commit, sizeof commit, "%040lld", n);
	return json_pack("{s:s, s:I, s:s, s:s, s:[{s:s, s:s}], s:{s:s}}", "app",
			 app, "number", (json_int_t)n, "commit", commit,
			 "phase", phase, "resources", "kind", "ConfigMap",
			 "name", "cfg", "appConfig", "namespace", "demo");
}

static void put(ks_store *s, json_t *r)
{
	ks_error err;
	int rc = ks_store_put(s, r, &err);
	if (rc)
		fprintf(stderr, "put: %s\n", err.msg);
	assert_int_equal(rc, 0);
	json_decref(r);
}

/* The numbers of APP's listed releases, newest first, as "3,2,1". */
static void list_numbers(ks_store *s, const char *app, char *buf, size_t len,
			 ks_errlist *warnings)
{
	json_t *arr = NULL;
	ks_error err;
	int rc = ks_store_list(s, app, &arr, warnings, &err);
	if (rc)
		fprintf(stderr, "list: %s\n", err.msg);
	assert_int_equal(rc, 0);
	buf[0] = '\0';
	size_t i, o = 0;
	json_t *r;
	json_array_foreach(arr, i, r)
	{
		o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? "," : "",
				      (long long)json_integer_value(
					      json_object_get(r, "number")));
		assert_true(o < len);
	}
	json_decref(arr);
}

static void make_tmpdir(char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(buf, len, "%s/ks-store-XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(buf));
}

static void rm_rf(const char *path)
{
	char *cmd = NULL;
	size_t n = strlen(path) + 32;
	cmd = malloc(n);
	snprintf(cmd, n, "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

/* gzip of (P, N), as a new buffer. */
static unsigned char *gz(const void *p, size_t n, size_t *outlen)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	assert_int_equal(
		deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY),
		Z_OK);
	size_t cap = deflateBound(&zs, n);
	unsigned char *out = malloc(cap);
	zs.next_in = (Bytef *)(uintptr_t)p;
	zs.avail_in = (uInt)n;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*outlen = zs.total_out;
	deflateEnd(&zs);
	return out;
}

static void write_gz_text(const char *path, const char *text)
{
	size_t n;
	unsigned char *g = gz(text, strlen(text), &n);
	write_file(path, g, n);
	free(g);
}

/* Whether some warning of W contains both A and B. */
static bool warned(const ks_errlist *w, const char *a, const char *b)
{
	for (size_t i = 0; i < ks_errlist_count(w); i++) {
		const char *l = ks_errlist_get(w, i);
		if (strstr(l, a) && strstr(l, b))
			return true;
	}
	return false;
}

/* ---- local ---------------------------------------------------------- */

static void local_round_trip(void **state)
{
	(void)state;
	char dir[256];
	make_tmpdir(dir, sizeof dir);
	ks_store *s;
	ks_error err;
	assert_int_equal(ks_store_open_local(&s, dir, 20, &err), 0);

	char nums[128];
	list_numbers(s, APP, nums, sizeof nums, NULL);
	assert_string_equal(nums, "");

	put(s, release(APP, 2, "Succeeded"));
	put(s, release(APP, 10, "Pending"));
	put(s, release(APP, 1, "Succeeded"));
	put(s, release("demo-prod-db", 1, "Failed"));
	list_numbers(s, APP, nums, sizeof nums, NULL);
	assert_string_equal(nums, "10,2,1"); /* numeric, not by name */

	/* The record comes back as it went in; a put of the same number
	 * replaces it. */
	json_t *want = release(APP, 10, "Deploying");
	assert_int_equal(ks_store_put(s, want, &err), 0);
	json_t *arr;
	assert_int_equal(ks_store_list(s, APP, &arr, NULL, &err), 0);
	assert_int_equal(json_array_size(arr), 3);
	assert_true(json_equal(json_array_get(arr, 0), want));
	json_decref(arr);
	json_decref(want);

	json_t *apps;
	assert_int_equal(ks_store_apps(s, &apps, &err), 0);
	char *text = json_dumps(apps, JSON_COMPACT);
	assert_string_equal(text, "[\"demo-prod-db\",\"demo-prod-web\"]");
	free(text);
	json_decref(apps);

	json_t *st = (json_t *)1;
	assert_int_equal(ks_store_get_state(s, APP, &st, &err), 0);
	assert_null(st);
	json_t *susp = json_pack("{s:b}", "suspended", 1);
	assert_int_equal(ks_store_put_state(s, APP, susp, &err), 0);
	assert_int_equal(ks_store_get_state(s, APP, &st, &err), 0);
	assert_true(json_equal(st, susp));
	json_decref(st);
	assert_int_equal(ks_store_put_state(s, APP, NULL, &err), 0);
	assert_int_equal(ks_store_get_state(s, APP, &st, &err), 0);
	assert_null(st);
	json_decref(susp);

	json_t *a1 = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}", "who", "alice",
			       "via", "api", "what", "approve", "app", APP,
			       "release", 10, "comment", "line\nbreak");
	json_t *a2 =
		json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "at",
			  "2026-11-25T10:00:00Z", "who", "bob", "via", "cli",
			  "what", "rollback", "app", APP, "release", 2);
	assert_int_equal(ks_store_audit(s, a1, &err), 0);
	assert_int_equal(ks_store_audit(s, a2, &err), 0);
	json_t *log;
	assert_int_equal(ks_store_audit_list(s, &log, &err), 0);
	assert_int_equal(json_array_size(log), 2);
	json_t *e0 = json_array_get(log, 0);
	assert_string_equal(json_string_value(json_object_get(e0, "who")),
			    "alice");
	assert_string_equal(json_string_value(json_object_get(e0, "comment")),
			    "line\nbreak");
	const char *at = json_string_value(json_object_get(e0, "at"));
	assert_non_null(at);
	assert_int_equal(strlen(at), 20); /* 2026-11-25T10:00:00Z */
	assert_true(json_equal(json_array_get(log, 1), a2));
	json_decref(log);
	json_decref(a1);
	json_decref(a2);

	/* A second store on the same folder (a restart) sees it all. */
	ks_store_free(s);
	assert_int_equal(ks_store_open_local(&s, dir, 20, &err), 0);
	list_numbers(s, APP, nums, sizeof nums, NULL);
	assert_string_equal(nums, "10,2,1");
	ks_store_free(s);
	rm_rf(dir);
}

static void local_history_keeps_newest_succeeded(void **state)
{
	(void)state;
	char dir[256];
	make_tmpdir(dir, sizeof dir);
	ks_store *s;
	ks_error err;
	assert_int_equal(ks_store_open_local(&s, dir, 3, &err), 0);
	put(s, release(APP, 1, "Succeeded"));
	put(s, release(APP, 2, "Succeeded"));
	for (int i = 3; i <= 6; i++)
		put(s, release(APP, i, "Failed"));
	char nums[128];
	list_numbers(s, APP, nums, sizeof nums, NULL);
	/* 2 is the rollback target; 1, an older Succeeded one, goes. */
	assert_string_equal(nums, "6,5,4,2");
	put(s, release(APP, 7, "Succeeded"));
	list_numbers(s, APP, nums, sizeof nums, NULL);
	assert_string_equal(nums, "7,6,5");
	put(s, release(APP, 8, "Failed"));
	list_numbers(s, APP, nums, sizeof nums, NULL);
	assert_string_equal(nums, "8,7,6");
	/* The rollback target replaced by a record that is not Succeeded
	 * is no longer kept; an older Succeeded one would be, but there is
	 * none left. */
	put(s, release(APP, 7, "RolledBack"));
	put(s, release(APP, 9, "Failed"));
	put(s, release(APP, 10, "Failed"));
	list_numbers(s, APP, nums, sizeof nums, NULL);
	assert_string_equal(nums, "10,9,8");
	/* The history of another app is its own. */
	put(s, release("other", 1, "Failed"));
	list_numbers(s, "other", nums, sizeof nums, NULL);
	assert_string_equal(nums, "1");
	list_numbers(s, APP, nums, sizeof nums, NULL);
	assert_string_equal(nums, "10,9,8");
	ks_store_free(s);
	rm_rf(dir);
}

static void local_damaged_records_are_skipped(void **state)
{
	(void)state;
	char dir[256];
	make_tmpdir(dir, sizeof dir);
	ks_store *s;
	ks_error err;
	assert_int_equal(ks_store_open_local(&s, dir, 50, &err), 0);
	for (int i = 1; i <= 3; i++)
		put(s, release(APP, i, "Succeeded"));

	char path[512];
	/* 4: a valid record cut in half. */
	json_t *r4 = release(APP, 4, "Succeeded");
	char *t4 = json_dumps(r4, JSON_COMPACT);
	size_t n4;
	unsigned char *g4 = gz(t4, strlen(t4), &n4);
	snprintf(path, sizeof path, "%s/releases/%s/4.json.gz", dir, APP);
	write_file(path, g4, n4 / 2);
	free(g4);
	free(t4);
	json_decref(r4);
	/* 5: zeros. */
	char zeros[1000] = {0};
	snprintf(path, sizeof path, "%s/releases/%s/5.json.gz", dir, APP);
	write_file(path, zeros, sizeof zeros);
	/* 6: gzip of something that is not JSON. */
	snprintf(path, sizeof path, "%s/releases/%s/6.json.gz", dir, APP);
	write_gz_text(path, "{\"app\": \"demo-prod-web\", \"number\": 6,");
	/* 7: a record numbered 8. */
	snprintf(path, sizeof path, "%s/releases/%s/7.json.gz", dir, APP);
	write_gz_text(path, "{\"app\":\"demo-prod-web\",\"number\":8}");
	/* 9: JSON without a number; 11: another app's record; 12: empty;
	 * 13: a JSON array. */
	snprintf(path, sizeof path, "%s/releases/%s/9.json.gz", dir, APP);
	write_gz_text(path, "{\"app\":\"demo-prod-web\"}");
	snprintf(path, sizeof path, "%s/releases/%s/11.json.gz", dir, APP);
	write_gz_text(path, "{\"app\":\"other\",\"number\":11}");
	snprintf(path, sizeof path, "%s/releases/%s/12.json.gz", dir, APP);
	write_file(path, "", 0);
	snprintf(path, sizeof path, "%s/releases/%s/13.json.gz", dir, APP);
	write_gz_text(path, "[1,2]");
	/* Files that are not records are not looked at. */
	snprintf(path, sizeof path, "%s/releases/%s/notes.txt", dir, APP);
	write_file(path, "x", 1);
	snprintf(path, sizeof path, "%s/releases/%s/014.json.gz", dir, APP);
	write_file(path, "x", 1);

	ks_errlist *w = ks_errlist_new();
	char nums[128];
	list_numbers(s, APP, nums, sizeof nums, w);
	assert_string_equal(nums, "3,2,1");
	for (size_t i = 0; i < ks_errlist_count(w); i++)
		printf("  warning: %s\n", ks_errlist_get(w, i));
	assert_int_equal(ks_errlist_count(w), 8);
	assert_true(warned(w, "/4.json.gz:", "truncated"));
	assert_true(warned(w, "/5.json.gz:", "not gzip"));
	assert_true(warned(w, "/6.json.gz:", "not JSON"));
	assert_true(warned(w, "/7.json.gz:", "number 8, expected 7"));
	assert_true(warned(w, "/9.json.gz:", "no \"app\" or \"number\""));
	assert_true(warned(w, "/11.json.gz:", "app \"other\""));
	assert_true(warned(w, "/12.json.gz:", "truncated"));
	assert_true(warned(w, "/13.json.gz:", "not a release record"));
	ks_errlist_free(w);

	/* Without a warning list too; and a put still prunes past damage. */
	list_numbers(s, APP, nums, sizeof nums, NULL);
	assert_string_equal(nums, "3,2,1");
	/* The next release goes past every record, readable or not: 13 is
	 * the highest ("014" is not a record name). */
	long long last = -1;
	assert_int_equal(ks_store_last_number(s, APP, &last, &err), 0);
	assert_int_equal(last, 13);
	assert_int_equal(ks_store_last_number(s, "other-app", &last, &err), 0);
	assert_int_equal(last, 0);
	ks_store_free(s);
	rm_rf(dir);
}

/* Every truncation and 300 random byte changes of a valid record: each
 * list gives either the record intact or one warning, never both, never a
 * crash. */
static void local_mangled_records_fuzz(void **state)
{
	(void)state;
	char dir[256], path[512];
	make_tmpdir(dir, sizeof dir);
	ks_store *s;
	ks_error err;
	assert_int_equal(ks_store_open_local(&s, dir, 5, &err), 0);
	json_t *orig = release(APP, 1, "Succeeded");
	assert_int_equal(ks_store_put(s, orig, &err), 0);
	snprintf(path, sizeof path, "%s/releases/%s/1.json.gz", dir, APP);
	char *good;
	size_t n;
	assert_int_equal(ks_read_file(path, 1 << 20, &good, &n, &err), 0);
	unsigned char *buf = malloc(n);
	unsigned rnd = 12345;
	int readable = 0, warned_count = 0;
	for (size_t round = 0; round < n + 300; round++) {
		memcpy(buf, good, n);
		size_t len = n;
		if (round < n) {
			len = round;
		} else {
			for (int k = 0; k < 1 + (int)(round % 3); k++) {
				rnd = rnd * 1103515245u + 12345u;
				size_t at = (rnd >> 8) % n;
				rnd = rnd * 1103515245u + 12345u;
				buf[at] ^= (unsigned char)(1 +
							   ((rnd >> 16) % 255));
			}
		}
		write_file(path, buf, len);
		ks_errlist *w = ks_errlist_new();
		json_t *arr;
		assert_int_equal(ks_store_list(s, APP, &arr, w, &err), 0);
		size_t got = json_array_size(arr), nw = ks_errlist_count(w);
		assert_int_equal(got + nw, 1);
		if (got) {
			assert_true(json_equal(json_array_get(arr, 0), orig));
			readable++;
		} else {
			warned_count++;
		}
		json_decref(arr);
		ks_errlist_free(w);
	}
	/* Every truncation is caught (gzip's trailer); most changes too. */
	assert_true(warned_count >= (int)n);
	printf("  %zu-byte record: %d mangled copies refused, %d read intact\n",
	       n, warned_count, readable);
	free(buf);
	free(good);
	json_decref(orig);
	ks_store_free(s);
	rm_rf(dir);
}

static void expect_mode(const char *path, mode_t mode)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	if ((st.st_mode & 07777) != mode)
		fprintf(stderr, "%s: mode %o, expected %o\n", path,
			(unsigned)(st.st_mode & 07777), (unsigned)mode);
	assert_int_equal(st.st_mode & 07777, mode);
}

/* Only NAME-like entries in DIR: no temporary files left behind. */
static void expect_only(const char *dir, const char *suffix, int count)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		size_t l = strlen(de->d_name), sl = strlen(suffix);
		if (de->d_name[0] == '.' || l <= sl ||
		    strcmp(de->d_name + l - sl, suffix) != 0)
			fprintf(stderr, "unexpected file %s/%s\n", dir,
				de->d_name);
		assert_false(de->d_name[0] == '.');
		assert_true(l > sl && !strcmp(de->d_name + l - sl, suffix));
		n++;
	}
	closedir(d);
	assert_int_equal(n, count);
}

static void local_files_are_private_and_atomic(void **state)
{
	(void)state;
	mode_t old = umask(0); /* the modes must come from the store */
	char dir[256], path[512];
	make_tmpdir(dir, sizeof dir);
	snprintf(path, sizeof path, "%s/nested/state", dir);
	ks_store *s;
	ks_error err;
	assert_int_equal(ks_store_open_local(&s, path, 5, &err), 0);
	for (int i = 1; i <= 8; i++)
		put(s, release(APP, i, i == 2 ? "Succeeded" : "Failed"));
	put(s, release(APP, 8, "Failed")); /* a replacement */
	json_t *st = json_pack("{s:b}", "suspended", 1);
	assert_int_equal(ks_store_put_state(s, APP, st, &err), 0);
	assert_int_equal(ks_store_put_state(s, APP, st, &err), 0);
	json_decref(st);
	json_t *a = json_pack("{s:s}", "what", "approve");
	assert_int_equal(ks_store_audit(s, a, &err), 0);
	json_decref(a);

	char p[600];
	expect_mode(path, 0700);
	snprintf(p, sizeof p, "%s/releases", path);
	expect_mode(p, 0700);
	snprintf(p, sizeof p, "%s/releases/%s", path, APP);
	expect_mode(p, 0700);
	expect_only(p, ".json.gz", 6); /* 8..4 and the Succeeded 2 */
	snprintf(p, sizeof p, "%s/releases/%s/8.json.gz", path, APP);
	expect_mode(p, 0600);
	snprintf(p, sizeof p, "%s/releases/%s/2.json.gz", path, APP);
	expect_mode(p, 0600);
	snprintf(p, sizeof p, "%s/apps", path);
	expect_mode(p, 0700);
	expect_only(p, ".json", 1);
	snprintf(p, sizeof p, "%s/apps/%s.json", path, APP);
	expect_mode(p, 0600);
	snprintf(p, sizeof p, "%s/audit.log", path);
	expect_mode(p, 0600);
	umask(old);
	ks_store_free(s);
	rm_rf(dir);
}

static void local_refuses_bad_names(void **state)
{
	(void)state;
	char dir[256];
	make_tmpdir(dir, sizeof dir);
	ks_store *s;
	ks_error err;
	assert_int_equal(ks_store_open_local(&s, dir, 5, &err), 0);
	/* 64 characters: one past a DNS-1123 label's limit */
	char toolong[65];
	memset(toolong, 'a', 64);
	toolong[64] = '\0';
	const char *const bad[] = {
		"..", "../x", "a/b", "", "-a", "a-", "A", "a.b", "a_b", toolong,
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_t *r = release(bad[i], 1, "Pending");
		assert_int_equal(ks_store_put(s, r, &err), KS_EINVAL);
		json_decref(r);
		json_t *out = NULL;
		assert_int_equal(ks_store_list(s, bad[i], &out, NULL, &err),
				 KS_EINVAL);
		assert_int_equal(ks_store_get_state(s, bad[i], &out, &err),
				 KS_EINVAL);
		assert_null(out);
	}
	json_t *r = json_pack("{s:s, s:i}", "app", APP, "number", 0);
	assert_int_equal(ks_store_put(s, r, &err), KS_EINVAL);
	json_decref(r);
	r = json_pack("{s:s, s:s}", "app", APP, "number", "1");
	assert_int_equal(ks_store_put(s, r, &err), KS_EINVAL);
	json_decref(r);
	assert_true(ks_store_name_ok("a"));
	assert_true(ks_store_name_ok("demo-prod-web-2"));
	ks_store_free(s);
	rm_rf(dir);
}

typedef struct put_job {
	ks_store *s;
	int first;
} put_job;

static void *put_many(void *arg)
{
	put_job *j = arg;
	for (int i = 0; i < 10; i++) {
		json_t *r = release(APP, j->first + i, "Failed");
		ks_error err;
		if (ks_store_put(j->s, r, &err) != 0)
			fprintf(stderr, "put: %s\n", err.msg);
		json_decref(r);
	}
	return NULL;
}

static void local_concurrent_puts(void **state)
{
	(void)state;
	char dir[256];
	make_tmpdir(dir, sizeof dir);
	ks_store *s;
	ks_error err;
	assert_int_equal(ks_store_open_local(&s, dir, 25, &err), 0);
	pthread_t th[4];
	put_job jobs[4];
	for (int i = 0; i < 4; i++) {
		jobs[i] = (put_job){s, 1 + 10 * i};
		assert_int_equal(
			pthread_create(&th[i], NULL, put_many, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	json_t *arr;
	assert_int_equal(ks_store_list(s, APP, &arr, NULL, &err), 0);
	/* Pruning ran after every put, but at most 25 are kept: which ones
	 * depends on the interleaving, yet they are 25 distinct numbers in
	 * order. */
	assert_int_equal(json_array_size(arr), 25);
	for (size_t i = 1; i < 25; i++)
		assert_true(json_integer_value(json_object_get(
				    json_array_get(arr, i - 1), "number")) >
			    json_integer_value(json_object_get(
				    json_array_get(arr, i), "number")));
	json_decref(arr);
	ks_store_free(s);
	rm_rf(dir);
}

/* ---- kubernetes ----------------------------------------------------- */

static json_t *get_secret(ks_dc_thread *t, const char *name)
{
	char path[256];
	snprintf(path, sizeof path, "/api/v1/namespaces/kusync/secrets/%s",
		 name);
	ks_kube_req req = {.method = "GET", .path = path};
	ks_kube_resp resp;
	ks_error err;
	int rc = ks_kube_request(t->client, &req, &resp, &err);
	json_t *v = rc == 0 ? json_incref(resp.json) : NULL;
	ks_kube_resp_release(&resp);
	return v;
}

static void post_secret(ks_dc_thread *t, json_t *secret)
{
	char *body = json_dumps(secret, JSON_COMPACT);
	ks_kube_req req = {.method = "POST",
			   .path = "/api/v1/namespaces/kusync/secrets",
			   .body = body,
			   .body_len = strlen(body)};
	ks_kube_resp resp;
	ks_error err;
	int rc = ks_kube_request(t->client, &req, &resp, &err);
	if (rc)
		fprintf(stderr, "post: %s\n", err.msg);
	assert_int_equal(rc, 0);
	ks_kube_resp_release(&resp);
	free(body);
	json_decref(secret);
}

static void kube_round_trip(void **state)
{
	(void)state;
	ks_dc_thread t;
	ks_dc_thread_start(&t, NULL);
	ks_store *s;
	ks_error err;
	int rc = ks_store_open_kube(&s, t.client, "kusync", 20, &err);
	if (rc)
		fprintf(stderr, "open: %s\n", err.msg);
	assert_int_equal(rc, 0);

	char nums[128];
	list_numbers(s, APP, nums, sizeof nums, NULL);
	assert_string_equal(nums, "");
	put(s, release(APP, 2, "Succeeded"));
	put(s, release(APP, 10, "Pending"));
	put(s, release(APP, 1, "Succeeded"));
	put(s, release("demo-prod-db", 1, "Failed"));
	list_numbers(s, APP, nums, sizeof nums, NULL);
	assert_string_equal(nums, "10,2,1");

	json_t *want = release(APP, 10, "Deploying");
	assert_int_equal(ks_store_put(s, want, &err), 0);
	json_t *arr;
	assert_int_equal(ks_store_list(s, APP, &arr, NULL, &err), 0);
	assert_int_equal(json_array_size(arr), 3);
	assert_true(json_equal(json_array_get(arr, 0), want));
	json_decref(arr);
	json_decref(want);

	/* The Secret as the spec describes it. */
	json_t *sec = get_secret(&t, "kusync.release." APP ".v10");
	assert_non_null(sec);
	assert_string_equal(json_string_value(json_object_get(sec, "type")),
			    "kusync.io/release");
	json_t *labels =
		json_object_get(json_object_get(sec, "metadata"), "labels");
	assert_string_equal(json_string_value(json_object_get(labels, "owner")),
			    "kusync");
	assert_string_equal(json_string_value(json_object_get(
				    labels, "kusync.io/release-of")),
			    APP);
	assert_string_equal(json_string_value(json_object_get(
				    labels, "kusync.io/release-number")),
			    "10");
	assert_null(json_object_get(labels, "kusync.io/app"));
	char *raw;
	size_t rawlen;
	assert_int_equal(ks_base64_decode(json_string_value(json_object_get(
						  json_object_get(sec, "data"),
						  "release")),
					  &raw, &rawlen),
			 0);
	assert_true(rawlen > 2);
	assert_int_equal((unsigned char)raw[0], 0x1f); /* gzip magic */
	assert_int_equal((unsigned char)raw[1], 0x8b);
	free(raw);
	json_decref(sec);

	json_t *apps;
	assert_int_equal(ks_store_apps(s, &apps, &err), 0);
	char *text = json_dumps(apps, JSON_COMPACT);
	assert_string_equal(text, "[\"demo-prod-db\",\"demo-prod-web\"]");
	free(text);
	json_decref(apps);

	json_t *st = (json_t *)1;
	assert_int_equal(ks_store_get_state(s, APP, &st, &err), 0);
	assert_null(st);
	json_t *susp = json_pack("{s:b}", "suspended", 1);
	assert_int_equal(ks_store_put_state(s, APP, susp, &err), 0);
	assert_int_equal(ks_store_put_state(s, APP, susp, &err), 0);
	assert_int_equal(ks_store_get_state(s, APP, &st, &err), 0);
	assert_true(json_equal(st, susp));
	json_decref(st);
	assert_int_equal(ks_store_put_state(s, APP, NULL, &err), 0);
	assert_int_equal(ks_store_get_state(s, APP, &st, &err), 0);
	assert_null(st);
	json_decref(susp);

	for (int i = 0; i < 3; i++) {
		json_t *a =
			json_pack("{s:s, s:s, s:s, s:i}", "who", "alice", "via",
				  "api", "what", "approve", "release", i);
		assert_int_equal(ks_store_audit(s, a, &err), 0);
		json_decref(a);
	}
	json_t *log;
	assert_int_equal(ks_store_audit_list(s, &log, &err), 0);
	assert_int_equal(json_array_size(log), 3);
	for (int i = 0; i < 3; i++) {
		json_t *e = json_array_get(log, (size_t)i);
		assert_int_equal(
			json_integer_value(json_object_get(e, "release")), i);
		assert_non_null(json_string_value(json_object_get(e, "at")));
	}
	json_decref(log);

	/* A restarted agent sees the same. */
	ks_store_free(s);
	assert_int_equal(ks_store_open_kube(&s, t.client, "kusync", 20, &err),
			 0);
	list_numbers(s, APP, nums, sizeof nums, NULL);
	assert_string_equal(nums, "10,2,1");
	ks_store_free(s);
	ks_dc_thread_stop(&t);
}

static void kube_history_and_damage(void **state)
{
	(void)state;
	ks_dc_thread t;
	ks_dc_thread_start(&t, NULL);
	ks_store *s;
	ks_error err;
	assert_int_equal(ks_store_open_kube(&s, t.client, "kusync", 3, &err),
			 0);
	put(s, release(APP, 1, "Succeeded"));
	put(s, release(APP, 2, "Succeeded"));
	for (int i = 3; i <= 6; i++)
		put(s, release(APP, i, "Failed"));
	char nums[128];
	list_numbers(s, APP, nums, sizeof nums, NULL);
	assert_string_equal(nums, "6,5,4,2");
	json_t *gone = get_secret(&t, "kusync.release." APP ".v1");
	assert_null(gone);

	/* Damaged Secrets carrying the app's labels. */
	post_secret(&t,
		    json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}}, s:{s:s}}",
			      "apiVersion", "v1", "kind", "Secret", "metadata",
			      "name", "kusync.release." APP ".v7", "labels",
			      "owner", "kusync", "kusync.io/release-of", APP,
			      "data", "release", "!!not base64**"));
	post_secret(&t,
		    json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}}, s:{s:s}}",
			      "apiVersion", "v1", "kind", "Secret", "metadata",
			      "name", "kusync.release." APP ".v8", "labels",
			      "owner", "kusync", "kusync.io/release-of", APP,
			      "stringData", "release", "garbage, not gzip"));
	post_secret(&t,
		    json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}}}", "apiVersion",
			      "v1", "kind", "Secret", "metadata", "name",
			      "kusync.release." APP ".v9", "labels", "owner",
			      "kusync", "kusync.io/release-of", APP));
	post_secret(&t,
		    json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}}}", "apiVersion",
			      "v1", "kind", "Secret", "metadata", "name",
			      "somebody-else", "labels", "owner", "kusync",
			      "kusync.io/release-of", APP));
	ks_errlist *w = ks_errlist_new();
	list_numbers(s, APP, nums, sizeof nums, w);
	assert_string_equal(nums, "6,5,4,2");
	long long last = -1;
	assert_int_equal(ks_store_last_number(s, APP, &last, &err), 0);
	assert_int_equal(last, 9);
	for (size_t i = 0; i < ks_errlist_count(w); i++)
		printf("  warning: %s\n", ks_errlist_get(w, i));
	assert_int_equal(ks_errlist_count(w), 4);
	assert_true(warned(
		w, "Secret kusync/kusync.release." APP ".v7:", "not base64"));
	assert_true(warned(
		w, "Secret kusync/kusync.release." APP ".v8:", "not gzip"));
	assert_true(warned(w, "Secret kusync/kusync.release." APP ".v9:",
			   "no data.release"));
	assert_true(warned(w, "Secret kusync/somebody-else:", "name"));
	ks_errlist_free(w);

	/* A put still works past them. The limit counts records by number,
	 * damaged or not: 10, 9 and 8 are the newest three, 2 the rollback
	 * target; 7 (damaged) and 6..4 go. */
	put(s, release(APP, 10, "Failed"));
	list_numbers(s, APP, nums, sizeof nums, NULL);
	assert_string_equal(nums, "10,2");
	gone = get_secret(&t, "kusync.release." APP ".v7");
	assert_null(gone);
	gone = get_secret(&t, "somebody-else");
	assert_non_null(gone);
	json_decref(gone);
	json_t *apps;
	assert_int_equal(ks_store_apps(s, &apps, &err), 0);
	assert_int_equal(json_array_size(apps), 1);
	json_decref(apps);
	ks_store_free(s);
	ks_dc_thread_stop(&t);
}

typedef struct audit_job {
	ks_store *s;
	const char *who;
} audit_job;

static void *audit_many(void *arg)
{
	audit_job *j = arg;
	for (int i = 0; i < 10; i++) {
		json_t *a = json_pack("{s:s, s:s, s:i}", "who", j->who, "what",
				      "approve", "release", i);
		ks_error err;
		if (ks_store_audit(j->s, a, &err) != 0)
			fprintf(stderr, "audit: %s\n", err.msg);
		json_decref(a);
	}
	return NULL;
}

/* Two agents (two stores) appending to the day's audit Secret at once:
 * the resourceVersion check makes the loser read again, no line is
 * lost. */
static void kube_audit_concurrent(void **state)
{
	(void)state;
	ks_dc_thread t;
	ks_dc_thread_start(&t, NULL);
	ks_store *s1, *s2;
	ks_error err;
	assert_int_equal(ks_store_open_kube(&s1, t.client, "kusync", 5, &err),
			 0);
	assert_int_equal(ks_store_open_kube(&s2, t.client, "kusync", 5, &err),
			 0);
	audit_job jobs[2] = {{s1, "alice"}, {s2, "bob"}};
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(
			pthread_create(&th[i], NULL, audit_many, &jobs[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	json_t *log;
	assert_int_equal(ks_store_audit_list(s1, &log, &err), 0);
	assert_int_equal(json_array_size(log), 20);
	int next[2] = {0, 0}; /* each writer's lines in its order */
	size_t i;
	json_t *e;
	json_array_foreach(log, i, e)
	{
		int w = strcmp(json_string_value(json_object_get(e, "who")),
			       "alice")
				? 1
				: 0;
		assert_int_equal(
			json_integer_value(json_object_get(e, "release")),
			next[w]);
		next[w]++;
	}
	json_decref(log);
	ks_store_free(s1);
	ks_store_free(s2);
	ks_dc_thread_stop(&t);
}

/* A day's audit log past 512 KiB goes on in a second Secret, and reads
 * back whole, in order. */
static void kube_audit_parts(void **state)
{
	(void)state;
	ks_dc_thread t;
	ks_dc_thread_start(&t, NULL);
	ks_store *s;
	ks_error err;
	assert_int_equal(ks_store_open_kube(&s, t.client, "kusync", 5, &err),
			 0);
	char *comment = malloc(20001);
	memset(comment, 'x', 20000);
	comment[20000] = '\0';
	for (int i = 0; i < 30; i++) {
		json_t *a = json_pack("{s:s, s:i, s:s}", "what", "approve",
				      "release", i, "comment", comment);
		int rc = ks_store_audit(s, a, &err);
		if (rc)
			fprintf(stderr, "audit: %s\n", err.msg);
		assert_int_equal(rc, 0);
		json_decref(a);
	}
	free(comment);
	json_t *log;
	assert_int_equal(ks_store_audit_list(s, &log, &err), 0);
	assert_int_equal(json_array_size(log), 30);
	for (size_t i = 0; i < 30; i++)
		assert_int_equal(json_integer_value(json_object_get(
					 json_array_get(log, i), "release")),
				 (json_int_t)i);
	const char *at = json_string_value(
		json_object_get(json_array_get(log, 29), "at"));
	char name[64];
	snprintf(name, sizeof name, "kusync.audit.%.4s%.2s%.2s.2", at, at + 5,
		 at + 8);
	json_t *part2 = get_secret(&t, name);
	assert_non_null(part2);
	json_decref(part2);
	json_decref(log);
	ks_store_free(s);
	ks_dc_thread_stop(&t);
}

static int store_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(local_round_trip),
		cmocka_unit_test(local_history_keeps_newest_succeeded),
		cmocka_unit_test(local_damaged_records_are_skipped),
		cmocka_unit_test(local_mangled_records_fuzz),
		cmocka_unit_test(local_files_are_private_and_atomic),
		cmocka_unit_test(local_refuses_bad_names),
		cmocka_unit_test(local_concurrent_puts),
		cmocka_unit_test(kube_round_trip),
		cmocka_unit_test(kube_history_and_damage),
		cmocka_unit_test(kube_audit_concurrent),
		cmocka_unit_test(kube_audit_parts),
	};
	return cmocka_run_group_tests_name("agent/store", tests, NULL, NULL);
}
KS_TEST_GROUP(store_tests)
