/*
 * tu_mutate: the seeds of the fuzz sweeps of make check (the messages of
 * test/vectors) and deterministic mutants of a seed (bit flips, byte changes,
 * deletions, insertions, duplicated chunks, truncations, damaged lengths).
 * Test-only code.
 */
#ifndef PKISH_TU_MUTATE_H
#define PKISH_TU_MUTATE_H

#include <stddef.h>
#include <stdint.h>

/* The files *.der, *.PKI and *.bin of test/vectors and its subdirectories,
 * read (at most TU_MAX_SEEDS); tu_seeds_load asserts that MIN were found. */
#define TU_MAX_SEEDS	256
struct tu_seed {
	unsigned char *d;
	size_t n;
};
struct tu_seeds {
	struct tu_seed v[TU_MAX_SEEDS];
	int n;
};
void tu_seeds_load(struct tu_seeds *s, int min);
void tu_seeds_free(struct tu_seeds *s);

/* A xorshift generator; seed it with any nonzero value. */
struct tu_rng {
	uint64_t s;
};
uint32_t tu_rnd(struct tu_rng *r, uint32_t n);
/* One mutant of SEED (N bytes) into BUF (CAP bytes): its length. */
size_t tu_mutate(struct tu_rng *r, const unsigned char *seed, size_t n,
    unsigned char *buf, size_t cap);

#endif
