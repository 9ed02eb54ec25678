/*
 * pk_arena: a bump allocator for many small objects that live and die together
 * (util.h). The configuration loaded at start is tens of thousands of small
 * blocks (a node, its key, a leaf's arguments and text): one malloc each costs
 * its header, and every fresh 4 KiB page costs a page fault, which in a VM is
 * the dearest part of loading (measured: 16 MiB touched page by page, 50 ms;
 * the same in 2 MiB pages, about 1 ms).
 *
 * The first chunks are small and come from malloc (an empty configuration
 * keeps its small RSS); once the arena holds PK_ARENA_HUGE_AFTER bytes it takes
 * 2 MiB-aligned chunks of 2 MiB from mmap, asks for transparent huge pages
 * (MADV_HUGEPAGE) and fills them in one call (MADV_POPULATE_WRITE, Linux 5.14),
 * so each chunk costs one fault instead of 512. Where the kernel offers neither,
 * the chunk is ordinary memory that faults page by page, as malloc's would.
 *
 * Nothing is freed alone: pk_arena_free releases every chunk. A caller that may
 * drop objects one by one (a long-running daemon's edits) allocates those from
 * malloc and records which blocks are the arena's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23	/* Linux 5.14 */
#endif

#define ALIGN		16
#define SMALL_FIRST	(64 * 1024)
#define HUGE_SIZE	(2 * 1024 * 1024)
#define PK_ARENA_HUGE_AFTER (256 * 1024)

struct pk_arena_chunk {
	struct pk_arena_chunk *next;
	size_t size;		/* bytes of the chunk, this header included */
	int mapped;		/* from mmap (else malloc) */
};

#define HDR (((sizeof(struct pk_arena_chunk) + ALIGN - 1) / ALIGN) * ALIGN)

/* A 2 MiB-aligned mapping of SIZE bytes (a multiple of 2 MiB), or NULL. */
static void *
map_huge(size_t size)
{
	size_t len = size + HUGE_SIZE;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	char *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((uintptr_t)p + HUGE_SIZE - 1) & ~(uintptr_t)(HUGE_SIZE - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	if (a + size < p + len)
		munmap(a + size, (size_t)(p + len - (a + size)));
#ifdef MADV_HUGEPAGE
	(void)madvise(a, size, MADV_HUGEPAGE);
#endif
	(void)madvise(a, size, MADV_POPULATE_WRITE);
	return a;
}

static void
new_chunk(struct pk_arena *a, size_t need)
{
	struct pk_arena_chunk *c = NULL;
	size_t size;

	need += HDR;
	if (a->total >= PK_ARENA_HUGE_AFTER) {
		size = ((need + HUGE_SIZE - 1) / HUGE_SIZE) * HUGE_SIZE;
		if ((c = map_huge(size)) != NULL)
			c->mapped = 1;
	} else {
		/* doubling: 64 KiB, 128 KiB ... up to the huge chunks */
		size = a->total < SMALL_FIRST ? SMALL_FIRST : a->total;
	}
	if (c == NULL) {
		if (size < need)
			size = need;
		c = xmalloc(size);
		c->mapped = 0;
	}
	c->size = size;
	c->next = a->chunks;
	a->chunks = c;
	a->total += size;
	a->p = (char *)c + HDR;
	a->end = (char *)c + size;
}

void *
pk_arena_alloc(struct pk_arena *a, size_t n)
{
	void *p;

	n = ((n ? n : 1) + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if ((size_t)(a->end - a->p) < n)
		new_chunk(a, n);
	p = a->p;
	a->p += n;
	return p;
}

char *
pk_arena_strdup(struct pk_arena *a, const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(pk_arena_alloc(a, n), s, n);
}

void
pk_arena_free(struct pk_arena *a)
{
	struct pk_arena_chunk *c, *next;

	if (a == NULL)
		return;
	for (c = a->chunks; c != NULL; c = next) {
		next = c->next;
		if (c->mapped)
			munmap(c, c->size);
		else
			free(c);
	}
	memset(a, 0, sizeof(*a));
}
