/*
 * Check suite: the CMP decoder over every message of test/vectors and
 * 10,000 mutated copies of them (bit flips, byte changes, deletions, insertions,
 * duplicated chunks, truncations, length-byte damage), deterministic. Every
 * input must be decoded or refused cleanly; a decoded one must re-encode to its
 * bytes and survive protection checks, accessors and the dump. Run under
 * `make check SANITIZE=1` this is the sanitizer sweep of the decoder.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_cmp_decode.c"
#include "testutil.h"

#define MUTANTS		10000
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
		if (!((l > 4 && strcmp(de->d_name + l - 4, ".der") == 0) ||
		    (l > 4 && strcmp(de->d_name + l - 4, ".PKI") == 0) ||
		    (l > 4 && strcmp(de->d_name + l - 4, ".bin") == 0)))
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
load_seeds(void)
{
	char *d;

	ck_assert_int_ge(asprintf(&d, "%s/test/vectors", tu_top()), 0);
	add_dir(d);
	free(d);
	ck_assert_int_ge(nseeds, 60);
}

static void
free_seeds(void)
{
	int i;

	for (i = 0; i < nseeds; i++)
		free(seeds[i].d);
	nseeds = 0;
}

START_TEST(all_vectors)
{
	int i, decoded = 0;
	CMP_PKIMESSAGE *m;
	struct pk_err e;

	for (i = 0; i < nseeds; i++) {
		ck_assert_int_eq(cmp_fuzz_one(seeds[i].d, seeds[i].n), 0);
		if (cmp_msg_decode(seeds[i].d, seeds[i].n, &m, &e) == 0) {
			decoded++;
			CMP_PKIMESSAGE_free(m);
		}
	}
	/* all 59 messages decode (the rest are header, body, key and CRMF pieces) */
	ck_assert_int_eq(decoded, 59);
}
END_TEST

static uint64_t rng;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n == 0 ? 0 : (uint32_t)(rng % n);
}

/* One mutant of seed S into BUF (cap bytes); returns its length. */
static size_t
mutate(const struct seed *s, unsigned char *buf, size_t cap)
{
	size_t n = s->n < cap ? s->n : cap, k, a, b;
	int rounds = 1 + (int)rnd(4), r;

	memcpy(buf, s->d, n);
	for (r = 0; r < rounds && n > 0; r++) {
		a = rnd((uint32_t)n);
		switch (rnd(7)) {
		case 0:		/* flip a bit */
			buf[a] ^= (unsigned char)(1u << rnd(8));
			break;
		case 1:		/* random byte */
			buf[a] = (unsigned char)rnd(256);
			break;
		case 2:		/* delete a range */
			b = a + 1 + rnd(16);
			if (b > n)
				b = n;
			memmove(buf + a, buf + b, n - b);
			n -= b - a;
			break;
		case 3:		/* insert random bytes */
			k = 1 + rnd(8);
			if (n + k > cap)
				break;
			memmove(buf + a + k, buf + a, n - a);
			for (b = 0; b < k; b++)
				buf[a + b] = (unsigned char)rnd(256);
			n += k;
			break;
		case 4:		/* duplicate a chunk */
			k = 1 + rnd(64);
			if (a + k > n || n + k > cap)
				break;
			memmove(buf + a + k, buf + a, n - a);
			n += k;
			break;
		case 5:		/* truncate */
			n = a;
			break;
		default:	/* damage a length: long forms, huge values */
			buf[a] = (unsigned char)(0x80 | rnd(5));
			if (a + 1 < n && rnd(2))
				buf[a + 1] = 0xff;
			break;
		}
	}
	return n;
}

START_TEST(mutants)
{
	static unsigned char buf[64 * 1024];
	int i, per = MUTANTS / CHUNKS;

	rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(_i + 1) * 0x2545f4914f6cdd1dULL;
	for (i = 0; i < per; i++) {
		const struct seed *s = &seeds[rnd((uint32_t)nseeds)];
		size_t n = mutate(s, buf, sizeof(buf));

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
