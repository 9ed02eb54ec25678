/*
 * Check suite: the CMP decoder over every message of test/vectors and
 * 10,000 mutated copies of them (bit flips, byte changes, deletions, insertions,
 * duplicated chunks, truncations, length-byte damage), deterministic. Every
 * input must be decoded or refused cleanly; a decoded one must re-encode to its
 * bytes and survive protection checks, accessors and the dump. Run under
 * `make check SANITIZE=1` this is the sanitizer sweep of the decoder.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_cmp_decode.c"
#include "testutil.h"
#include "tu_mutate.h"

#define MUTANTS		10000
#define CHUNKS		10	/* loop tests, MUTANTS / CHUNKS each */

static struct tu_seeds seeds;

static void
load_seeds(void)
{
	tu_seeds_load(&seeds, 60);
}

static void
free_seeds(void)
{
	tu_seeds_free(&seeds);
}

START_TEST(all_vectors)
{
	int i, decoded = 0;
	CMP_PKIMESSAGE *m;
	struct pk_err e;

	for (i = 0; i < seeds.n; i++) {
		ck_assert_int_eq(cmp_fuzz_one(seeds.v[i].d, seeds.v[i].n), 0);
		if (cmp_msg_decode(seeds.v[i].d, seeds.v[i].n, &m, &e) == 0) {
			decoded++;
			CMP_PKIMESSAGE_free(m);
		}
	}
	/* all 59 messages decode (the rest are header, body, key and CRMF pieces) */
	ck_assert_int_eq(decoded, 59);
}
END_TEST

START_TEST(mutants)
{
	static unsigned char buf[64 * 1024];
	int i, per = MUTANTS / CHUNKS;

	struct tu_rng r = { 0x9e3779b97f4a7c15ULL ^
	    (uint64_t)(_i + 1) * 0x2545f4914f6cdd1dULL };

	for (i = 0; i < per; i++) {
		const struct tu_seed *s = &seeds.v[tu_rnd(&r, (uint32_t)seeds.n)];
		size_t n = tu_mutate(&r, s->d, s->n, buf, sizeof(buf));

		ck_assert_msg(cmp_fuzz_one(buf, n) == 0, "mutant %d of chunk %d: "
		    "decoded but does not re-encode to its bytes", i, _i);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cmp_fuzz");
	TCase *tc = tcase_create("decoder");

	tcase_add_unchecked_fixture(tc, load_seeds, free_seeds);
	tcase_add_test(tc, all_vectors);
	tcase_add_loop_test(tc, mutants, 0, CHUNKS);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
