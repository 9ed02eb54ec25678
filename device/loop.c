/*
 * The device's event loop: a binary heap of timers and a small set of watched file
 * descriptors, driven by poll(). Front ends wait for input through loop_wait(),
 * so timers and background completions run while the console waits for a key and
 * in --daemon mode without a console. An idle loop sleeps in poll() until the
 * earliest timer: thousands of armed timers cost nothing while idle.
 *
 * Time is read from the clock given to loop_new() only: a test with a fake clock
 * drives the heap with loop_next() and loop_run_due(), without sleeping.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"

struct watch {
	int fd;
	void (*fn)(void *arg);
	void *arg;
};

struct loop {
	struct loop_timer **heap;
	size_t n, cap;
	struct watch *w;
	size_t nw;
	int brk;		/* loop_break() was called */
	int64_t (*now)(void *arg);
	void *now_arg;
};

static int64_t
wall_clock(void *arg)
{
	(void)arg;
	return pk_wall_ms();
}

int64_t
loop_now(const struct loop *l)
{
	return l->now(l->now_arg);
}

struct loop *
loop_new(int64_t (*now)(void *arg), void *arg)
{
	struct loop *l = xcalloc(1, sizeof(struct loop));

	l->now = now != NULL ? now : wall_clock;
	l->now_arg = arg;
	return l;
}

void
loop_free(struct loop *l)
{
	/* Timers belong to their owners, which cancel them before they go. */
	if (l == NULL)
		return;
	free(l->heap);
	free(l->w);
	free(l);
}

static void
swap(struct loop *l, size_t a, size_t b)
{
	struct loop_timer *t = l->heap[a];

	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->idx = a;
	l->heap[b]->idx = b;
}

static void
sift_up(struct loop *l, size_t i)
{
	while (i > 0 && l->heap[(i - 1) / 2]->when > l->heap[i]->when) {
		swap(l, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
sift_down(struct loop *l, size_t i)
{
	for (;;) {
		size_t a = 2 * i + 1, b = a + 1, m = i;

		if (a < l->n && l->heap[a]->when < l->heap[m]->when)
			m = a;
		if (b < l->n && l->heap[b]->when < l->heap[m]->when)
			m = b;
		if (m == i)
			return;
		swap(l, i, m);
		i = m;
	}
}

void
loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
	size_t i = t->idx;

	if (!t->armed)
		return;
	t->armed = 0;
	l->n--;
	if (i != l->n) {
		l->heap[i] = l->heap[l->n];
		l->heap[i]->idx = i;
		sift_down(l, i);
		sift_up(l, i);
	}
}

void
loop_timer_set(struct loop *l, struct loop_timer *t, int64_t when)
{
	loop_timer_cancel(l, t);
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->heap = xrealloc(l->heap, l->cap * sizeof(*l->heap));
	}
	t->when = when;
	t->armed = 1;
	t->idx = l->n;
	l->heap[l->n++] = t;
	sift_up(l, t->idx);
}

size_t
loop_timer_count(const struct loop *l)
{
	return l->n;
}

int64_t
loop_next(const struct loop *l)
{
	return l->n > 0 ? l->heap[0]->when : -1;
}

void
loop_watch(struct loop *l, int fd, void (*fn)(void *arg), void *arg)
{
	l->w = xrealloc(l->w, (l->nw + 1) * sizeof(*l->w));
	l->w[l->nw].fd = fd;
	l->w[l->nw].fn = fn;
	l->w[l->nw].arg = arg;
	l->nw++;
}

void
loop_unwatch(struct loop *l, int fd)
{
	for (size_t i = 0; i < l->nw; i++)
		if (l->w[i].fd == fd) {
			l->w[i] = l->w[--l->nw];
			return;
		}
}

/* Fires the timers that are due; each is disarmed before its callback, which may
 * re-arm it. */
void
loop_run_due(struct loop *l)
{
	int64_t now = loop_now(l);

	while (l->n > 0 && l->heap[0]->when <= now) {
		struct loop_timer *t = l->heap[0];

		loop_timer_cancel(l, t);
		t->fn(t->arg);
	}
}

void
loop_break(struct loop *l)
{
	l->brk = 1;
}

int
loop_wait(struct loop *l, int fd, int64_t deadline)
{
	l->brk = 0;
	for (;;) {
		struct pollfd p[17];
		size_t np = 0;
		int64_t now, wait;
		int r;

		loop_run_due(l);
		if (l->brk)
			return 2;
		now = loop_now(l);
		if (deadline >= 0 && now >= deadline)
			return 0;
		wait = l->n > 0 ? l->heap[0]->when - now : -1;
		if (deadline >= 0 && (wait < 0 || deadline - now < wait))
			wait = deadline - now;
		if (wait > 3600000)
			wait = 3600000;
		if (fd >= 0) {
			p[np].fd = fd;
			p[np].events = POLLIN;
			np++;
		}
		for (size_t i = 0; i < l->nw && np < 17; i++) {
			p[np].fd = l->w[i].fd;
			p[np].events = POLLIN;
			np++;
		}
		r = poll(p, np, (int)wait);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r <= 0)
			continue;
		for (size_t i = fd >= 0 ? 1 : 0; i < np; i++) {
			if (p[i].revents == 0)
				continue;
			for (size_t k = 0; k < l->nw; k++)
				if (l->w[k].fd == p[i].fd) {
					l->w[k].fn(l->w[k].arg);
					break;
				}
		}
		if (fd >= 0 && p[0].revents != 0)
			return 1;
		if (l->brk)
			return 2;
	}
}
