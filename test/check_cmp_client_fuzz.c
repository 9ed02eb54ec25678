/*
 * Check suite: the client's response checks (test/fuzz/fuzz_cmp_client.c) over
 * every message of test/vectors and 2,000 mutants of them, deterministic. Each
 * input is checked as it came, patched and MAC-protected, and patched and
 * signed by a trusted RA; no property of a checked answer may fail. Run under
 * `make check SANITIZE=1` this is the sanitizer sweep of the response checks.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_cmp_client.c"
#include "testutil.h"
#include "tu_mutate.h"

#define MUTANTS		2000
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
	fz_free();
}

/* Every vector; the ip vectors, patched, pass the message checks and reach
 * the certificate check (which refuses them: not our key, not our CA). */
START_TEST(all_vectors)
{
	int i;

	for (i = 0; i < seeds.n; i++)
		ck_assert_msg(cmp_client_fuzz_one(seeds.v[i].d, seeds.v[i].n) == 0,
		    "vector %d: a property of a checked answer failed", i);
	/* the patched ip vectors get through the message checks both ways
	 * (MAC, RA signature) and their certificates are looked at */
	ck_assert_uint_ge(fz.passed, 6);
	ck_assert_uint_ge(fz.certs, 4);
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

		ck_assert_msg(cmp_client_fuzz_one(buf, n) == 0, "mutant %d of "
		    "chunk %d: a property of a checked answer failed", i, _i);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cmp_client_fuzz");
	TCase *tc = tcase_create("response checks");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, all_vectors);
	tcase_add_loop_test(tc, mutants, 0, CHUNKS);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
