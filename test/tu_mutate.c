/*
 * tu_mutate: deterministic mutants for the fuzz sweeps (tu_mutate.h).
 */
#include <string.h>

#include "tu_mutate.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

static void
add_dir(struct tu_seeds *s, const char *d)
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
			add_dir(s, p);
			continue;
		}
		if (!(l > 4 && (strcmp(de->d_name + l - 4, ".der") == 0 ||
		    strcmp(de->d_name + l - 4, ".PKI") == 0 ||
		    strcmp(de->d_name + l - 4, ".bin") == 0)))
			continue;
		if (s->n < TU_MAX_SEEDS) {
			s->v[s->n].d = (unsigned char *)tu_read(p, &s->v[s->n].n);
			ck_assert_ptr_nonnull(s->v[s->n].d);
			s->n++;
		}
	}
	closedir(dp);
}

void
tu_seeds_load(struct tu_seeds *s, int min)
{
	char *d;

	ck_assert_int_ge(asprintf(&d, "%s/test/vectors", tu_top()), 0);
	add_dir(s, d);
	free(d);
	ck_assert_int_ge(s->n, min);
}

void
tu_seeds_free(struct tu_seeds *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->v[i].d);
	s->n = 0;
}

uint32_t
tu_rnd(struct tu_rng *r, uint32_t n)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return n == 0 ? 0 : (uint32_t)(r->s % n);
}

size_t
tu_mutate(struct tu_rng *r, const unsigned char *seed, size_t sn,
    unsigned char *buf, size_t cap)
{
	size_t n = sn < cap ? sn : cap, k, a, b;
	int rounds = 1 + (int)tu_rnd(r, 4), i;

	memcpy(buf, seed, n);
	for (i = 0; i < rounds && n > 0; i++) {
		a = tu_rnd(r, (uint32_t)n);
		switch (tu_rnd(r, 7)) {
		case 0:		/* flip a bit */
			buf[a] ^= (unsigned char)(1u << tu_rnd(r, 8));
			break;
		case 1:		/* a random byte */
			buf[a] = (unsigned char)tu_rnd(r, 256);
			break;
		case 2:		/* delete a range */
			b = a + 1 + tu_rnd(r, 16);
			if (b > n)
				b = n;
			memmove(buf + a, buf + b, n - b);
			n -= b - a;
			break;
		case 3:		/* insert random bytes */
			k = 1 + tu_rnd(r, 8);
			if (n + k > cap)
				break;
			memmove(buf + a + k, buf + a, n - a);
			for (b = 0; b < k; b++)
				buf[a + b] = (unsigned char)tu_rnd(r, 256);
			n += k;
			break;
		case 4:		/* duplicate a chunk */
			k = 1 + tu_rnd(r, 64);
			if (a + k > n || n + k > cap)
				break;
			memmove(buf + a + k, buf + a, n - a);
			n += k;
			break;
		case 5:		/* truncate */
			n = a;
			break;
		default:	/* damage a length: long forms, huge values */
			buf[a] = (unsigned char)(0x80 | tu_rnd(r, 5));
			if (a + 1 < n && tu_rnd(r, 2))
				buf[a + 1] = 0xff;
			break;
		}
	}
	return n;
}
