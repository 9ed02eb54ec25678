/*
 * Check suite: the CA's request processing (test/fuzz/fuzz_ca_server.c) over
 * every message of test/vectors and 600 mutants of them, deterministic. Each
 * input is sent as it came and as a fresh transaction MAC-protected with the
 * CA's secret; every answer must hold the properties of the fuzz target. Run
 * under `make check SANITIZE=1` this is the sanitizer sweep of the CA.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_ca_server.c"
#include "testutil.h"
#include "tu_mutate.h"

#define MUTANTS		600
#define CHUNKS		10	/* loop tests, MUTANTS / CHUNKS each */

struct seed {
	unsigned char *d;
	size_t n;
};

static struct seed seeds[256];
static int nseeds;

static void
add_dir(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	char p[1024];

	ck_assert_msg(dp != NULL, "cannot open %s", d);
	while ((de = readdir(dp)) != NULL) {
		size_t l = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", d, de->d_name);
		if (de->d_type == DT_DIR) {
			add_dir(p);
			continue;
		}
		if (!(l > 4 && (strcmp(de->d_name + l - 4, ".der") == 0 ||
		    strcmp(de->d_name + l - 4, ".PKI") == 0 ||
		    strcmp(de->d_name + l - 4, ".bin") == 0)))
			continue;
		if (nseeds < (int)(sizeof(seeds) / sizeof(seeds[0]))) {
			seeds[nseeds].d = (unsigned char *)tu_read(p,
			    &seeds[nseeds].n);
			ck_assert_ptr_nonnull(seeds[nseeds].d);
			nseeds++;
		}
	}
	closedir(dp);
}

static void
setup(void)
{
	char *d;

	ck_assert_int_ge(asprintf(&d, "%s/test/vectors", tu_top()), 0);
	add_dir(d);
	free(d);
	ck_assert_int_ge(nseeds, 60);
}

static void
teardown(void)
{
	for (int i = 0; i < nseeds; i++)
		free(seeds[i].d);
	nseeds = 0;
	fzc_free();
}

/* Every vector; the request vectors, patched, get certificates (so the
 * issuance behind authentication is reached). */
START_TEST(all_vectors)
{
	int i;

	for (i = 0; i < nseeds; i++)
		ck_assert_msg(ca_server_fuzz_one(seeds[i].d, seeds[i].n) == 0,
		    "vector %d: a property of an answer failed", i);
	ck_assert_uint_ge(fzc.answered, (unsigned long)nseeds);
	ck_assert_uint_ge(fzc.issued, 3);
}
END_TEST

START_TEST(mutants)
{
	static unsigned char buf[64 * 1024];
	struct tu_rng r = { 0x9e3779b97f4a7c15ULL ^ (uint64_t)(_i + 1) *
	    0x2545f4914f6cdd1dULL };
	int i, per = MUTANTS / CHUNKS;

	for (i = 0; i < per; i++) {
		const struct seed *s = &seeds[tu_rnd(&r, (uint32_t)nseeds)];
		size_t n = tu_mutate(&r, s->d, s->n, buf, sizeof(buf));

		ck_assert_msg(ca_server_fuzz_one(buf, n) == 0, "mutant %d of "
		    "chunk %d: a property of an answer failed", i, _i);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ca_server_fuzz");
	TCase *tc = tcase_create("request processing");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, all_vectors);
	tcase_add_loop_test(tc, mutants, 0, CHUNKS);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
