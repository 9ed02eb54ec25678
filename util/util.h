/*
 * util: the small things every module shares.
 *
 * - struct pk_err: the error object every fallible call fills. Functions in all
 *   modules return 0 on success and -1 on failure, with the reason in the error
 *   object; callers render it (only cli/ prints).
 * - struct sbuf: a growable NUL-terminated string buffer, the way modules return
 *   text (display formats) without printing.
 *
 * This header includes no OpenSSL header, so cli/ may use it.
 */
#ifndef PKISH_UTIL_H
#define PKISH_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define PK_ERR_MAX 1024

struct pk_err {
	char msg[PK_ERR_MAX];	/* human readable, no trailing newline */
};

/* Reset to "no error". Accepts NULL. */
void pk_err_clear(struct pk_err *e);
/* Set the message (printf style); returns -1 so callers can `return pk_err_set(...)`.
 * Accepts e == NULL (the message is dropped). */
int pk_err_set(struct pk_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Like pk_err_set, then appends ": <reason>" from the OpenSSL error queue (the
 * innermost useful reason) and drains the queue. Returns -1. */
int pk_err_ossl(struct pk_err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct sbuf {
	char *s;	/* always NUL terminated once anything was added; NULL when empty */
	size_t len;
	size_t cap;
};

#define SBUF_INIT { NULL, 0, 0 }

void sbuf_init(struct sbuf *b);
/* Appends; on allocation failure aborts (out of memory is not recoverable here). */
void sbuf_add(struct sbuf *b, const void *data, size_t len);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_putc(struct sbuf *b, char c);
void sbuf_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap);
/* The text so far ("" when empty); borrowed. */
const char *sbuf_str(const struct sbuf *b);
void sbuf_reset(struct sbuf *b);
/* Hands the buffer to the caller (free() it); the sbuf is left empty. */
char *sbuf_take(struct sbuf *b);
void sbuf_free(struct sbuf *b);

/* Allocation helpers that abort on out-of-memory. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Lower-case hex of len bytes into a new string ("" for len 0). sep: 0 for none, or
 * a separator character placed between bytes (':' for fingerprints). */
char *pk_hex(const unsigned char *p, size_t len, char sep);

/* Case-insensitive ASCII compare helpers. */
int pk_strcaseeq(const char *a, const char *b);
int pk_strncaseeq(const char *a, const char *b, size_t n);

/* ---- string map (map.c) ----
 * A hash table from a string key to a pointer: finding an object by name without
 * scanning a list. KEYS ARE BORROWED: a key must stay valid and unchanged while
 * its entry is in the map (the usual key is the object's own name; pk_map_put
 * of an existing key takes the new pointer, so replacing an object may free the
 * old one's name). A NOCASE map compares keys ASCII case-insensitively, as
 * pk_strcaseeq. Values are never NULL (NULL means "absent"). Iteration order is
 * unspecified: a module that needs an order keeps its own list beside the map.
 * The fields are private. */
struct pk_map_slot;
struct pk_map {
	struct pk_map_slot *slots;
	size_t cap;		/* slots: 0 or a power of two */
	size_t n;		/* live entries */
	size_t used;		/* live entries and tombstones */
	int nocase;
};

void pk_map_init(struct pk_map *m, int nocase);
/* Frees the table (not the keys or values); the map is empty and reusable. */
void pk_map_clear(struct pk_map *m);
/* The value of KEY, or NULL. */
void *pk_map_get(const struct pk_map *m, const char *key);
/* Sets KEY to VAL (not NULL); returns the value it replaced, or NULL. */
void *pk_map_put(struct pk_map *m, const char *key, void *val);
/* Removes KEY; returns its value, or NULL when it was absent. */
void *pk_map_del(struct pk_map *m, const char *key);
size_t pk_map_count(const struct pk_map *m);
/* Iteration: *POS starts at 0; each call gives the next entry (KEY, VAL may be
 * NULL) and returns 1, then 0 at the end. The map must not change meanwhile. */
int pk_map_next(const struct pk_map *m, size_t *pos, const char **key, void **val);
/* The hash the map uses (a test picks keys that collide with it). */
uint64_t pk_map_hash(const char *key, int nocase);

/* ---- arena (arena.c) ----
 * A bump allocator for many small blocks freed together: no header per block,
 * and its large chunks are mapped in 2 MiB (huge) pages where the kernel
 * offers them. Blocks are 16-aligned and not zeroed; none is freed alone:
 * pk_arena_free releases them all (the arena is then empty and reusable). A
 * zeroed struct pk_arena is an empty arena. The fields are private. */
struct pk_arena_chunk;
struct pk_arena {
	struct pk_arena_chunk *chunks;
	char *p, *end;		/* the free part of the newest chunk */
	size_t total;		/* bytes of all chunks */
};

void *pk_arena_alloc(struct pk_arena *a, size_t n);
char *pk_arena_strdup(struct pk_arena *a, const char *s);
void pk_arena_free(struct pk_arena *a);

/* The OpenSSL library version in use ("OpenSSL 3.0.19 27 Jan 2026"), for callers
 * that must not include OpenSSL headers. */
const char *pk_openssl_version(void);

/* ---- text of names and times, clocks (text.c) ----
 * One style everywhere (both programs' screens and the CA database). */
#include <stdint.h>
#include <time.h>

struct X509_name_st;		/* X509_NAME */
struct asn1_string_st;		/* ASN1_TIME */

/* "C=CN, O=Example Networks, CN=router.example.com": most significant RDN first,
 * ", " between RDNs, short attribute names, RFC 2253 escapes, UTF-8 kept. Appends
 * to OUT (nothing for NULL). */
void pk_name_sbuf(const struct X509_name_st *n, struct sbuf *out);
/* The same into BUF (truncated to SIZE); returns BUF. */
char *pk_name_text(const struct X509_name_st *n, char *buf, size_t size);
/* "2026-11-27 10:00:00 UTC"; returns BUF. */
char *pk_time_text(time_t t, char *buf, size_t size);
/* An ASN1_TIME as time_t: 0, or -1 when absent or invalid. */
int pk_asn1_time(const struct asn1_string_st *t, time_t *out);
/* pk_time_text of an ASN1_TIME ("-" when absent or invalid); returns BUF. */
char *pk_asn1_time_text(const struct asn1_string_st *t, char *buf, size_t size);
/* Monotonic clock (intervals, deadlines) in ms and in seconds; wall clock in ms
 * since the epoch. */
int64_t pk_mono_ms(void);
double pk_mono_s(void);
int64_t pk_wall_ms(void);

#endif
