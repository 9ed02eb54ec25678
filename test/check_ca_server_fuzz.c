/*
 * Check suite: the CA's request processing (test/fuzz/fuzz_ca_server.c) over
 * every message of test/vectors and 600 mutants of them, deterministic. Each
 * input is sent as it came and as a fresh transaction MAC-protected with the
 * CA's secret; every answer must hold the properties of the fuzz target. Run
 * under `make check SANITIZE=1` this is the sanitizer sweep of the CA.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_ca_server.c"
#include "testutil.h"
#include "tu_mutate.h"

#define MUTANTS		600
#define CHUNKS		10	/* loop tests, MUTANTS / CHUNKS each */

static struct tu_seeds seeds;

static void
setup(void)
{
	tu_seeds_load(&seeds, 60);
}

static void
teardown(void)
{
	tu_seeds_free(&seeds);
	fzc_free();
}

/* Every vector; the request vectors, patched, get certificates (so the
 * issuance behind authentication is reached). */
START_TEST(all_vectors)
{
	int i;

	for (i = 0; i < seeds.n; i++)
		ck_assert_msg(ca_server_fuzz_one(seeds.v[i].d, seeds.v[i].n) == 0,
		    "vector %d: a property of an answer failed", i);
	ck_assert_uint_ge(fzc.answered, (unsigned long)seeds.n);
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
		const struct tu_seed *s = &seeds.v[tu_rnd(&r, (uint32_t)seeds.n)];
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
