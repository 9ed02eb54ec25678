/*
 * ca_lockout: failed authentications counted per client address, a bounded
 * table (issue 11: a client may not use the CA as an online guessing oracle
 * for the MAC secret, nor as a CPU sink for PBM hashing).
 *
 * Contract (ca_int.h): a fixed number of slots, allocated once; an address
 * gets a slot at its first failed authentication only (requests that pass
 * never take one). LIMIT failures within WINDOW (counted from the first of
 * them) lock the address for WINDOW from the failure that reached the limit;
 * nothing but time ends a lock (a request that authenticates does not).
 * When every slot is taken, the one whose last failure is the oldest is
 * reused, so an attacker cycling through addresses costs no memory (and can
 * at most push an older address out of the table, which then starts again
 * with a clean count). A slot whose window and lock have both passed is free.
 * Time is a parameter (milliseconds of a monotonic clock) so tests need not
 * sleep. Thread-safe (one mutex; a lookup compares a hash before the text).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca_int.h"

struct slot {
	uint32_t hash;
	int used;
	int count;			/* failures in the window */
	int64_t start;			/* first failure of the window, ms */
	int64_t last;			/* latest failure, ms (eviction order) */
	int64_t until;			/* locked until (ms), 0: not locked */
	char addr[CA_ADDR_MAX];
};

struct ca_lockout {
	pthread_mutex_t mu;
	struct slot *slots;
	size_t nslots;
	int limit;
	int64_t window;			/* ms */
};

/* FNV-1a */
static uint32_t
addr_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s != '\0') {
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h;
}

/* 1 when slot S holds nothing that still counts at NOW. */
static int
slot_stale(const struct ca_lockout *l, const struct slot *s, int64_t now)
{
	return !s->used || (now - s->start >= l->window && s->until <= now);
}

/* The slot of ADDR (an address has one slot at most), stale or not. */
static struct slot *
find(struct ca_lockout *l, const char *addr, uint32_t h)
{
	size_t i;

	for (i = 0; i < l->nslots; i++) {
		struct slot *s = &l->slots[i];

		if (s->used && s->hash == h && strcmp(s->addr, addr) == 0)
			return s;
	}
	return NULL;
}

struct ca_lockout *
ca_lockout_new(size_t nslots, int limit, long window_s)
{
	struct ca_lockout *l = xcalloc(1, sizeof(*l));

	pthread_mutex_init(&l->mu, NULL);
	l->nslots = nslots > 0 ? nslots : 1;
	l->slots = xcalloc(l->nslots, sizeof(*l->slots));
	l->limit = limit;
	l->window = (int64_t)(window_s > 0 ? window_s : 1) * 1000;
	return l;
}

void
ca_lockout_free(struct ca_lockout *l)
{
	if (l == NULL)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l->slots);
	free(l);
}

int64_t
ca_lockout_check(struct ca_lockout *l, const char *addr, int64_t now)
{
	struct slot *s;
	int64_t left = 0;

	if (l == NULL || l->limit <= 0 || addr == NULL || *addr == '\0')
		return 0;
	pthread_mutex_lock(&l->mu);
	s = find(l, addr, addr_hash(addr));
	if (s != NULL && s->until > now)
		left = s->until - now;
	pthread_mutex_unlock(&l->mu);
	return left;
}

int
ca_lockout_fail(struct ca_lockout *l, const char *addr, int64_t now,
    int64_t *left)
{
	uint32_t h;
	struct slot *s, *victim = NULL;
	size_t i;
	int locked = 0;

	if (left != NULL)
		*left = 0;
	if (l == NULL || l->limit <= 0 || addr == NULL || *addr == '\0')
		return 0;
	h = addr_hash(addr);
	pthread_mutex_lock(&l->mu);
	if ((s = find(l, addr, h)) == NULL) {
		/* a free slot, else the one whose last failure is oldest */
		for (i = 0; i < l->nslots; i++) {
			struct slot *t = &l->slots[i];

			if (slot_stale(l, t, now)) {
				victim = t;
				break;
			}
			if (victim == NULL || t->last < victim->last)
				victim = t;
		}
		s = victim != NULL ? victim : &l->slots[0];
		memset(s, 0, sizeof(*s));
		s->used = 1;
		s->hash = h;
		snprintf(s->addr, sizeof(s->addr), "%s", addr);
		s->start = now;
	} else if (slot_stale(l, s, now)) {
		/* its window and lock are over: a clean count */
		s->count = 0;
		s->until = 0;
		s->start = now;
	}
	if (s->until > now) {
		/* already locked (a request that was past the check when the
		 * lock began): the lock stands as it is */
		if (left != NULL)
			*left = s->until - now;
		goto out;
	}
	if (now - s->start >= l->window) {
		s->start = now;
		s->count = 0;
	}
	s->last = now;
	if (++s->count >= l->limit) {
		s->until = now + l->window;
		locked = 1;
		if (left != NULL)
			*left = l->window;
	}
out:
	pthread_mutex_unlock(&l->mu);
	return locked;
}

size_t
ca_lockout_used(struct ca_lockout *l, int64_t now)
{
	size_t i, n = 0;

	if (l == NULL)
		return 0;
	pthread_mutex_lock(&l->mu);
	for (i = 0; i < l->nslots; i++)
		n += !slot_stale(l, &l->slots[i], now);
	pthread_mutex_unlock(&l->mu);
	return n;
}
