/* Check suite for util/: the string map (pk_map). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "testutil.h"

START_TEST(map_empty)
{
	struct pk_map m;
	size_t pos = 0;

	pk_map_init(&m, 0);
	ck_assert_ptr_null(pk_map_get(&m, "a"));
	ck_assert_ptr_null(pk_map_del(&m, "a"));
	ck_assert_uint_eq(pk_map_count(&m), 0);
	ck_assert_int_eq(pk_map_next(&m, &pos, NULL, NULL), 0);
	pk_map_clear(&m);
	pk_map_clear(&m);
	ck_assert_ptr_null(pk_map_get(&m, ""));
}
END_TEST

START_TEST(map_put_get_replace)
{
	struct pk_map m;
	int a = 1, b = 2, c = 3;

	pk_map_init(&m, 0);
	ck_assert_ptr_null(pk_map_put(&m, "alpha", &a));
	ck_assert_ptr_null(pk_map_put(&m, "beta", &b));
	ck_assert_ptr_null(pk_map_put(&m, "", &c));
	ck_assert_uint_eq(pk_map_count(&m), 3);
	ck_assert_ptr_eq(pk_map_get(&m, "alpha"), &a);
	ck_assert_ptr_eq(pk_map_get(&m, "beta"), &b);
	ck_assert_ptr_eq(pk_map_get(&m, ""), &c);
	ck_assert_ptr_null(pk_map_get(&m, "alph"));
	ck_assert_ptr_null(pk_map_get(&m, "alphaa"));
	/* case matters in a plain map */
	ck_assert_ptr_null(pk_map_get(&m, "ALPHA"));
	/* replacing returns the old value and keeps the count */
	ck_assert_ptr_eq(pk_map_put(&m, "alpha", &c), &a);
	ck_assert_uint_eq(pk_map_count(&m), 3);
	ck_assert_ptr_eq(pk_map_get(&m, "alpha"), &c);
	ck_assert_ptr_eq(pk_map_del(&m, "alpha"), &c);
	ck_assert_ptr_null(pk_map_get(&m, "alpha"));
	ck_assert_ptr_null(pk_map_del(&m, "alpha"));
	ck_assert_uint_eq(pk_map_count(&m), 2);
	pk_map_clear(&m);
	ck_assert_uint_eq(pk_map_count(&m), 0);
	ck_assert_ptr_null(pk_map_get(&m, "beta"));
}
END_TEST

START_TEST(map_nocase)
{
	struct pk_map m;
	int a = 1, b = 2;
	char *k1 = strdup("Router-1"), *k2 = strdup("ROUTER-1");

	pk_map_init(&m, 1);
	ck_assert_ptr_null(pk_map_put(&m, k1, &a));
	ck_assert_ptr_eq(pk_map_get(&m, "router-1"), &a);
	ck_assert_ptr_eq(pk_map_get(&m, "ROUTER-1"), &a);
	ck_assert_ptr_null(pk_map_get(&m, "router-2"));
	/* the same name in another case replaces, and the map takes the new key:
	 * the old one may be freed at once */
	ck_assert_ptr_eq(pk_map_put(&m, k2, &b), &a);
	free(k1);
	ck_assert_uint_eq(pk_map_count(&m), 1);
	ck_assert_ptr_eq(pk_map_get(&m, "Router-1"), &b);
	{
		size_t pos = 0;
		const char *k;

		ck_assert_int_eq(pk_map_next(&m, &pos, &k, NULL), 1);
		ck_assert_ptr_eq(k, k2);
	}
	ck_assert_ptr_eq(pk_map_del(&m, "router-1"), &b);
	ck_assert_uint_eq(pk_map_count(&m), 0);
	pk_map_clear(&m);
	free(k2);
	/* only ASCII letters fold: other bytes compare as they are */
	pk_map_init(&m, 1);
	ck_assert_ptr_null(pk_map_put(&m, "\xc3\xa9t\xc3\xa9", &a));
	ck_assert_ptr_null(pk_map_get(&m, "\xc3\x89T\xc3\x89"));
	ck_assert_ptr_eq(pk_map_get(&m, "\xc3\xa9T\xc3\xa9"), &a);
	pk_map_clear(&m);
	ck_assert_uint_eq(pk_map_hash("Abc", 1), pk_map_hash("aBC", 1));
	ck_assert_uint_ne(pk_map_hash("Abc", 0), pk_map_hash("aBC", 0));
}
END_TEST

/* Keys whose hashes agree in their low 8 bits share a probe chain in every
 * table of up to 256 slots: removal in the middle of a chain must not hide the
 * keys after it, and the tombstone it leaves is reused. */
START_TEST(map_collisions)
{
	enum { N = 6 };
	char keys[N][32];
	int vals[N];
	struct pk_map m;
	size_t found = 0;
	uint64_t want;

	want = pk_map_hash("seed", 0) & 0xff;
	for (unsigned i = 0; found < N; i++) {
		char k[32];

		snprintf(k, sizeof(k), "k%u", i);
		if ((pk_map_hash(k, 0) & 0xff) == want) {
			strcpy(keys[found], k);
			vals[found] = (int)found;
			found++;
		}
	}
	pk_map_init(&m, 0);
	for (size_t i = 0; i < N; i++)
		ck_assert_ptr_null(pk_map_put(&m, keys[i], &vals[i]));
	for (size_t i = 0; i < N; i++)
		ck_assert_ptr_eq(pk_map_get(&m, keys[i]), &vals[i]);
	/* the second and the fourth leave the chain */
	ck_assert_ptr_eq(pk_map_del(&m, keys[1]), &vals[1]);
	ck_assert_ptr_eq(pk_map_del(&m, keys[3]), &vals[3]);
	for (size_t i = 0; i < N; i++)
		ck_assert_ptr_eq(pk_map_get(&m, keys[i]),
		    i == 1 || i == 3 ? NULL : &vals[i]);
	/* a key after the tombstones is replaced in place, not added again */
	ck_assert_ptr_eq(pk_map_put(&m, keys[5], &vals[0]), &vals[5]);
	ck_assert_uint_eq(pk_map_count(&m), N - 2);
	ck_assert_ptr_null(pk_map_put(&m, keys[3], &vals[3]));
	ck_assert_ptr_eq(pk_map_get(&m, keys[3]), &vals[3]);
	ck_assert_ptr_eq(pk_map_get(&m, keys[5]), &vals[0]);
	ck_assert_uint_eq(pk_map_count(&m), N - 1);
	{
		/* every live entry once */
		size_t pos = 0, seen = 0;
		const char *k;
		void *v;

		while (pk_map_next(&m, &pos, &k, &v)) {
			ck_assert_ptr_eq(pk_map_get(&m, k), v);
			ck_assert_str_ne(k, keys[1]);
			seen++;
		}
		ck_assert_uint_eq(seen, N - 1);
	}
	pk_map_clear(&m);
}
END_TEST

/* Many keys: growth keeps every entry; half removed; the rest intact;
 * iteration visits each live entry exactly once. */
START_TEST(map_many)
{
	enum { N = 50000 };
	char (*keys)[24] = calloc(N, sizeof(*keys));
	unsigned char *seen = calloc(N, 1);
	struct pk_map m;
	size_t pos = 0, n = 0;
	const char *k;
	void *v;

	pk_map_init(&m, 1);
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "Entity-%d", i);
		ck_assert_ptr_null(pk_map_put(&m, keys[i], keys[i]));
	}
	ck_assert_uint_eq(pk_map_count(&m), N);
	for (int i = 0; i < N; i++) {
		char probe[24];

		snprintf(probe, sizeof(probe), "ENTITY-%d", i);
		ck_assert_ptr_eq(pk_map_get(&m, probe), keys[i]);
	}
	for (int i = 0; i < N; i += 2)
		ck_assert_ptr_eq(pk_map_del(&m, keys[i]), keys[i]);
	ck_assert_uint_eq(pk_map_count(&m), N / 2);
	for (int i = 0; i < N; i++)
		ck_assert_ptr_eq(pk_map_get(&m, keys[i]), i % 2 ? keys[i] : NULL);
	while (pk_map_next(&m, &pos, &k, &v)) {
		int i = atoi(k + strlen("Entity-"));

		ck_assert_ptr_eq(v, keys[i]);
		ck_assert_int_eq(i % 2, 1);
		ck_assert_int_eq(seen[i], 0);
		seen[i] = 1;
		n++;
	}
	ck_assert_uint_eq(n, N / 2);
	pk_map_clear(&m);
	free(keys);
	free(seen);
}
END_TEST

/* Adding and removing the same few names for ever reuses the table: the
 * tombstones are swept, the table does not grow. */
START_TEST(map_churn)
{
	struct pk_map m;
	char k[16];
	int x = 0;

	pk_map_init(&m, 0);
	for (int i = 0; i < 100000; i++) {
		snprintf(k, sizeof(k), "s%d", i % 3);
		ck_assert_ptr_null(pk_map_put(&m, k, &x));
		ck_assert_ptr_eq(pk_map_get(&m, k), &x);
		ck_assert_ptr_eq(pk_map_del(&m, k), &x);
	}
	ck_assert_uint_eq(pk_map_count(&m), 0);
	ck_assert_uint_le(m.cap, 8);
	pk_map_clear(&m);
}
END_TEST

static Suite *
util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("map");

	tcase_add_test(tc, map_empty);
	tcase_add_test(tc, map_put_get_replace);
	tcase_add_test(tc, map_nocase);
	tcase_add_test(tc, map_collisions);
	tcase_add_test(tc, map_many);
	tcase_add_test(tc, map_churn);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_run_suite(util_suite());
}
