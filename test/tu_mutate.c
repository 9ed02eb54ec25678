/*
 * tu_mutate: deterministic mutants for the fuzz sweeps (tu_mutate.h).
 */
#include <string.h>

#include "tu_mutate.h"

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
