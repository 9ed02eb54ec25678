/*
 * pk_map: a string -> pointer hash table (util.h), so that finding an object by
 * its name costs the same with ten objects or a million (the configuration
 * tree's instances, the device's entities and sessions).
 *
 * Open addressing with linear probing over a power-of-two table; a removed
 * entry leaves a tombstone that later probes step over and a later insertion
 * reuses. The table grows (or is rebuilt at the same size when tombstones fill
 * it) before live entries plus tombstones pass 3/4 of it, so a probe always
 * meets an empty slot. Each slot keeps the key's full hash: probes compare
 * hashes before strings, and a rebuild does not rehash.
 *
 * The hash is FNV-1a over the key's bytes (ASCII letters lowered for a
 * case-insensitive map, as pk_strcaseeq folds them) with a final avalanche, so the low bits that pick the slot depend on every
 * byte. It is not keyed: the names come from the device's own configuration,
 * whose author needs no collisions to make a large configuration.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct pk_map_slot {
	const char *key;	/* NULL: empty; TOMB: removed */
	void *val;
	uint64_t hash;
};

static const char tomb_mark;
#define TOMB (&tomb_mark)

uint64_t
pk_map_hash(const char *key, int nocase)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= nocase && *p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p;
		h *= 0x100000001b3ULL;
	}
	/* murmur3's fmix64: every input bit reaches the low bits */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

void
pk_map_init(struct pk_map *m, int nocase)
{
	memset(m, 0, sizeof(*m));
	m->nocase = nocase;
}

void
pk_map_clear(struct pk_map *m)
{
	int nocase = m->nocase;

	free(m->slots);
	pk_map_init(m, nocase);
}

static int
key_eq(const struct pk_map *m, const char *a, const char *b)
{
	return m->nocase ? pk_strcaseeq(a, b) : strcmp(a, b) == 0;
}

/* The slot holding KEY (hash H), or NULL. */
static struct pk_map_slot *
find(const struct pk_map *m, const char *key, uint64_t h)
{
	size_t mask = m->cap - 1;

	if (m->cap == 0)
		return NULL;
	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		struct pk_map_slot *s = &m->slots[i];

		if (s->key == NULL)
			return NULL;
		if (s->key != TOMB && s->hash == h && key_eq(m, s->key, key))
			return s;
	}
}

/* Rebuilds the table with CAP slots (live entries only). */
static void
rebuild(struct pk_map *m, size_t cap)
{
	struct pk_map_slot *old = m->slots;
	size_t ocap = m->cap;

	m->slots = xcalloc(cap, sizeof(*m->slots));
	m->cap = cap;
	m->used = m->n;
	for (size_t i = 0; i < ocap; i++) {
		size_t k;

		if (old[i].key == NULL || old[i].key == TOMB)
			continue;
		for (k = (size_t)old[i].hash & (cap - 1); m->slots[k].key != NULL;
		    k = (k + 1) & (cap - 1))
			;
		m->slots[k] = old[i];
	}
	free(old);
}

void *
pk_map_get(const struct pk_map *m, const char *key)
{
	struct pk_map_slot *s = find(m, key, pk_map_hash(key, m->nocase));

	return s != NULL ? s->val : NULL;
}

void *
pk_map_put(struct pk_map *m, const char *key, void *val)
{
	uint64_t h = pk_map_hash(key, m->nocase);
	struct pk_map_slot *s = find(m, key, h);
	size_t mask, i;

	if (s != NULL) {
		void *old = s->val;

		/* the new key: the old one may belong to the object replaced */
		s->key = key;
		s->val = val;
		return old;
	}
	if ((m->used + 1) * 4 > m->cap * 3) {
		size_t cap = m->cap ? m->cap : 8;

		/* grow when live entries need it, else only sweep the tombstones */
		while ((m->n + 1) * 2 > cap)
			cap *= 2;
		rebuild(m, cap);
	}
	mask = m->cap - 1;
	for (i = (size_t)h & mask; m->slots[i].key != NULL && m->slots[i].key != TOMB;
	    i = (i + 1) & mask)
		;
	if (m->slots[i].key == NULL)
		m->used++;
	m->slots[i].key = key;
	m->slots[i].val = val;
	m->slots[i].hash = h;
	m->n++;
	return NULL;
}

void *
pk_map_del(struct pk_map *m, const char *key)
{
	struct pk_map_slot *s = find(m, key, pk_map_hash(key, m->nocase));
	void *old;

	if (s == NULL)
		return NULL;
	old = s->val;
	s->key = TOMB;
	s->val = NULL;
	m->n--;
	return old;
}

size_t
pk_map_count(const struct pk_map *m)
{
	return m->n;
}

int
pk_map_next(const struct pk_map *m, size_t *pos, const char **key, void **val)
{
	for (; *pos < m->cap; (*pos)++) {
		const struct pk_map_slot *s = &m->slots[*pos];

		if (s->key == NULL || s->key == TOMB)
			continue;
		if (key != NULL)
			*key = s->key;
		if (val != NULL)
			*val = s->val;
		(*pos)++;
		return 1;
	}
	return 0;
}
