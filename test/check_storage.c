/* Check suite for storage/: names, atomic writes, listing, store modes, sealing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../storage/storage.h"
#include "testutil.h"

static char *dir;
static struct storage *st;

static void
setup(void)
{
	struct pk_err e;

	dir = tu_tmpdir();
	ck_assert_ptr_nonnull(dir);
	ck_assert_int_eq(storage_open(&st, dir, &e), 0);
}

static void
teardown(void)
{
	storage_close(st);
	tu_rmrf(dir);
	free(dir);
}

START_TEST(bare_names)
{
	struct pk_err e;

	ck_assert(storage_name_ok("ca.cer", &e));
	ck_assert(storage_name_ok("S_ir.cer", &e));
	ck_assert(!storage_name_ok("../x", &e));
	ck_assert(!storage_name_ok("a/b", &e));
	ck_assert(!storage_name_ok("..", &e));
	ck_assert(!storage_name_ok(".", &e));
	ck_assert(!storage_name_ok("", &e));
	ck_assert(!storage_name_ok("a\nb", &e));
	ck_assert(!storage_name_ok("a\\b", &e));
	ck_assert(!storage_name_ok(".store", &e));
	ck_assert_ptr_nonnull(strstr(e.msg, "\".\""));
}
END_TEST

START_TEST(layout_and_modes)
{
	struct stat sb;
	char *key = storage_path(storage_store_dir(st), "seal.key");

	ck_assert_int_eq(stat(storage_store_dir(st), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0700);
	ck_assert_int_eq(stat(storage_public_dir(st), &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	ck_assert_int_eq(stat(key, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(sb.st_size, 32);
	free(key);
}
END_TEST

START_TEST(atomic_write_replaces)
{
	struct pk_err e;
	char *p = storage_path(storage_public_dir(st), "f.txt");
	unsigned char *d;
	size_t n;
	char **names;

	ck_assert_int_eq(storage_write_atomic(p, "old", 3, 0644, &e), 0);
	ck_assert_int_eq(storage_write_atomic(p, "newer", 5, 0644, &e), 0);
	ck_assert_int_eq(storage_read(p, 100, &d, &n, &e), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq((char *)d, "newer");
	free(d);
	/* no temp file left behind */
	ck_assert_int_eq(storage_list(storage_public_dir(st), &names, &e), 0);
	ck_assert_str_eq(names[0], "f.txt");
	ck_assert_ptr_null(names[1]);
	storage_list_free(names);
	/* size cap */
	ck_assert_int_eq(storage_read(p, 4, &d, &n, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "too large"));
	free(p);
}
END_TEST

/* A kill between mkstemp and rename leaves PATH.tmp-PID-XXXXXX: the next
 * start removes it when PID is gone, and leaves a live writer's alone. */
START_TEST(start_sweeps_dead_writers_temps)
{
	struct pk_err e;
	struct storage *st2;
	char *p = storage_path(storage_public_dir(st), "f.txt");
	char dead[512], live[512], other[512];
	unsigned char *d;
	size_t n;
	pid_t child;
	FILE *f;

	ck_assert_int_eq(storage_write_atomic(p, "kept", 4, 0644, &e), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(child, NULL, 0), child);
	snprintf(dead, sizeof(dead), "%s.tmp-%ld-AbC123", p, (long)child);
	snprintf(live, sizeof(live), "%s.tmp-%ld-XyZ789", p, (long)getppid());
	snprintf(other, sizeof(other), "%s/notes.tmp-draft", storage_public_dir(st));
	ck_assert_ptr_nonnull(f = fopen(dead, "w"));
	fclose(f);
	ck_assert_ptr_nonnull(f = fopen(live, "w"));
	fclose(f);
	ck_assert_ptr_nonnull(f = fopen(other, "w"));
	fclose(f);
	ck_assert_int_eq(storage_open(&st2, dir, &e), 0);
	ck_assert_int_eq(access(dead, F_OK), -1);
	ck_assert_int_eq(access(live, F_OK), 0);
	ck_assert_int_eq(access(other, F_OK), 0);
	/* listings hide the live writer's temp file, never an operator's file
	 * whose name merely holds ".tmp" */
	ck_assert(storage_is_temp(live));
	ck_assert(!storage_is_temp(other));
	ck_assert(!storage_listed(storage_public_dir(st), strrchr(live, '/') + 1));
	ck_assert(storage_listed(storage_public_dir(st), "notes.tmp-draft"));
	ck_assert_int_eq(storage_read(p, 100, &d, &n, &e), 0);
	ck_assert_str_eq((char *)d, "kept");
	free(d);
	storage_close(st2);
	free(p);
}
END_TEST

START_TEST(write_into_missing_dir_fails_cleanly)
{
	struct pk_err e;

	ck_assert_int_eq(storage_write_atomic("/nonexistent-dir/x", "a", 1, 0600, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "cannot write"));
}
END_TEST

START_TEST(seal_roundtrip_and_tamper)
{
	struct pk_err e;
	char *sealed, *sealed2, *plain;

	ck_assert_int_eq(storage_seal(st, "s3cret-value", &sealed, &e), 0);
	ck_assert(storage_is_sealed(sealed));
	ck_assert_ptr_null(strstr(sealed, "s3cret"));
	ck_assert_int_eq(storage_seal(st, "s3cret-value", &sealed2, &e), 0);
	ck_assert_str_ne(sealed, sealed2);	/* fresh IV each time */
	ck_assert_int_eq(storage_unseal(st, sealed, &plain, &e), 0);
	ck_assert_str_eq(plain, "s3cret-value");
	storage_wipe_free(plain);

	/* flip one base64 character in the cipher text */
	size_t i = strlen(STORAGE_SEAL_PREFIX) + 20;
	sealed[i] = sealed[i] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(storage_unseal(st, sealed, &plain, &e), -1);
	ck_assert_ptr_null(plain);
	ck_assert_ptr_nonnull(strstr(e.msg, "authentication"));

	/* truncated */
	ck_assert_int_eq(storage_unseal(st, "%^%#AAAA%^%#", &plain, &e), -1);
	ck_assert_int_eq(storage_unseal(st, "plain", &plain, &e), -1);
	free(sealed);
	free(sealed2);
}
END_TEST

START_TEST(seal_key_persists)
{
	struct pk_err e;
	struct storage *st2;
	char *sealed, *plain;

	ck_assert_int_eq(storage_seal(st, "abc", &sealed, &e), 0);
	ck_assert_int_eq(storage_open(&st2, dir, &e), 0);
	ck_assert_int_eq(storage_unseal(st2, sealed, &plain, &e), 0);
	ck_assert_str_eq(plain, "abc");
	storage_wipe_free(plain);
	storage_close(st2);
	free(sealed);
}
END_TEST

START_TEST(corrupt_seal_key_refused)
{
	struct pk_err e;
	struct storage *st2;
	char *key = storage_path(storage_store_dir(st), "seal.key");

	ck_assert_int_eq(tu_write(key, "short", 5), 0);
	ck_assert_int_eq(storage_open(&st2, dir, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "corrupt"));
	free(key);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("storage");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bare_names);
	tcase_add_test(tc, layout_and_modes);
	tcase_add_test(tc, atomic_write_replaces);
	tcase_add_test(tc, write_into_missing_dir_fails_cleanly);
	tcase_add_test(tc, start_sweeps_dead_writers_temps);
	tcase_add_test(tc, seal_roundtrip_and_tamper);
	tcase_add_test(tc, seal_key_persists);
	tcase_add_test(tc, corrupt_seal_key_refused);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
