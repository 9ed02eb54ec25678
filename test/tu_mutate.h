/*
 * tu_mutate: deterministic mutants of a seed for the fuzz sweeps of make check
 * (bit flips, byte changes, deletions, insertions, duplicated chunks,
 * truncations, damaged lengths). Test-only code.
 */
#ifndef PKISH_TU_MUTATE_H
#define PKISH_TU_MUTATE_H

#include <stddef.h>
#include <stdint.h>

/* A xorshift generator; seed it with any nonzero value. */
struct tu_rng {
	uint64_t s;
};
uint32_t tu_rnd(struct tu_rng *r, uint32_t n);
/* One mutant of SEED (N bytes) into BUF (CAP bytes): its length. */
size_t tu_mutate(struct tu_rng *r, const unsigned char *seed, size_t n,
    unsigned char *buf, size_t cap);

#endif
