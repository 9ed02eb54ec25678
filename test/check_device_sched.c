/*
 * Check suite for device/autoupdate.c: the automatic-update scheduler driven by a
 * fake clock and a fake KUR (struct device_ops), without network, flash or store.
 *
 * A year of automatic updates for 1,000 sessions: certificates of 5 s to 60 days,
 * expire-time 10-95 %, a third with regenerate, some past their update time at
 * start, some already expired, CA outages (one of three days), random failures and
 * KURs that cannot start, auto-update disabled for some sessions half way. An
 * independent model of the rule predicts every fire time and every event:
 *   - the update at notBefore + expire-time% x validity (at once when past);
 *   - after the n-th consecutive failure, a retry after min(base x 2^(n-1), 1 h),
 *     base = a tenth of the validity clamped to 1..30 s;
 *   - an expired certificate (notAfter <= now) reported once, never retried.
 * Every KUR start is checked against the prediction, and at the end no predicted
 * update before the end of the year was missed.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../device/device.h"
#include "testutil.h"

#define NSESS 1000
#define DAY_S (24 * 3600LL)
#define T0_S 1735689600LL	/* 2025-01-01 00:00:00 UTC */
#define YEAR_MS (365 * DAY_S * 1000)
#define HOUR_MS (3600 * 1000LL)

/* Check's ck_assert writes to its pipe on every call: the hot path checks with
 * this, which calls Check only when the condition fails. */
#define EXPECT(cond, ...) do {						\
	if (!(cond))							\
		ck_abort_msg(__VA_ARGS__);				\
} while (0)

struct fake {
	char name[16];
	time_t nb, na;		/* the current certificate */
	long long next_validity; /* of the certificates the fake CA issues */
	int pct, regenerate, fail_first;
	int disabled;
	/* the model's prediction */
	int64_t expect;		/* next KUR start, -1 none */
	int expect_expired;	/* at EXPECT an expiry is reported instead */
	int failures;		/* consecutive */
	int dead;		/* expiry reported */
	/* a KUR under way */
	int pending, will_succeed;
	struct loop_timer done;
	struct device_session *s;	/* the device's */
	/* counts */
	unsigned long starts, successes, fails, expired_events;
};

static struct fake fk[NSESS];
static int64_t now_ms;
static struct device *dev;
static unsigned long long rng = 12345;
static unsigned long events_start, events_done, events_failed, events_not_started;
static unsigned long never_started;

static unsigned
rnd(unsigned n)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)((rng >> 33) % n);
}

static int64_t
fake_now(void *arg)
{
	(void)arg;
	return now_ms;
}

static struct fake *
by_name(const char *name)
{
	int i = atoi(name + 1);

	EXPECT(i >= 0 && i < NSESS, "unknown session %s", name);
	return &fk[i];
}

static int
fake_validity(void *arg, const char *file, time_t *nb, time_t *na, struct pk_err *e)
{
	struct fake *f = by_name(file);

	(void)arg;
	(void)e;
	*nb = f->nb;
	*na = f->na;
	return 0;
}

/* Outages of the CA, in ms from T0. */
static const struct {
	int64_t from, to;
} outages[] = {
	{ 30 * DAY_S * 1000, 30 * DAY_S * 1000 + 2 * HOUR_MS },
	{ 100 * DAY_S * 1000, 103 * DAY_S * 1000 },	/* three days */
	{ 200 * DAY_S * 1000, 200 * DAY_S * 1000 + 6 * HOUR_MS },
};

static int
ca_down(int64_t t)
{
	for (size_t i = 0; i < sizeof(outages) / sizeof(outages[0]); i++)
		if (t - T0_S * 1000 >= outages[i].from && t - T0_S * 1000 < outages[i].to)
			return 1;
	return 0;
}

/* ---- the model ---- */

static int64_t
base_of(const struct fake *f)
{
	int64_t b = ((int64_t)f->na - (int64_t)f->nb) * 100;

	return b < 1000 ? 1000 : b > 30000 ? 30000 : b;
}

/* The schedule from the current certificate, at time T. */
static void
model_schedule(struct fake *f, int64_t t)
{
	int64_t due;

	f->failures = 0;
	f->expect_expired = 0;
	if (f->disabled || f->dead) {
		f->expect = -1;
		return;
	}
	if ((int64_t)f->na * 1000 <= t) {
		/* reported now, never retried */
		f->expect = t;
		f->expect_expired = 1;
		return;
	}
	due = (int64_t)f->nb * 1000 +
	    ((int64_t)f->na - (int64_t)f->nb) * 1000 * f->pct / 100;
	f->expect = due < t ? t : due;
}

/* A failure at time T: the retry, or the expiry at its time. */
static int64_t
model_fail(struct fake *f, int64_t t)
{
	int64_t delay = base_of(f);

	for (int i = 0; i < f->failures && delay < HOUR_MS; i++)
		delay *= 2;
	if (delay > HOUR_MS)
		delay = HOUR_MS;
	f->failures++;
	if (f->disabled) {
		f->expect = -1;
		return -1;
	}
	f->expect = t + delay;
	f->expect_expired = (int64_t)f->na * 1000 <= f->expect;
	return delay;
}

static void
check_next_update(struct fake *f)
{
	struct device_session_status st;

	device_session_status(f->s, &st);
	if (f->expect < 0 || f->expect_expired)
		EXPECT(st.next_update == 0 || f->expect_expired,
		    "%s: next update %lld, none expected", f->name,
		    (long long)st.next_update);
	else
		EXPECT(st.next_update == (time_t)(f->expect / 1000),
		    "%s: next update %lld, expected %lld", f->name,
		    (long long)st.next_update, (long long)(f->expect / 1000));
}

/* ---- the fake KUR ---- */

static void
kur_end(void *arg)
{
	struct fake *f = arg;
	struct device_session *s = f->s;

	f->pending = 0;
	if (f->will_succeed) {
		struct device_result r;

		memset(&r, 0, sizeof(r));
		r.ok = 1;
		r.sent = 1;
		r.key_replaced = f->regenerate;
		snprintf(r.cert_file, sizeof(r.cert_file), "%s", f->name);
		snprintf(r.serial, sizeof(r.serial), "%lu", f->successes + 1);
		/* the CA issues from now */
		f->nb = (time_t)(now_ms / 1000);
		f->na = f->nb + (time_t)f->next_validity;
		f->successes++;
		model_schedule(f, now_ms);
		device_kur_done(dev, s, &r, NULL);
		check_next_update(f);
	} else {
		struct pk_err e;

		pk_err_set(&e, "cannot connect to ca.example: Connection refused");
		f->fails++;
		device_kur_done(dev, s, NULL, &e);	/* the event checks the retry */
	}
}

static int
fake_kur_start(void *arg, struct device *d, struct device_session *s,
    struct pk_err *e)
{
	struct fake *f = by_name(device_session_cfg(s)->name);

	(void)arg;
	EXPECT(d == dev && s == f->s, "%s: another device or session", f->name);
	EXPECT(!f->dead && !f->disabled && !f->pending,
	    "%s started (dead %d, disabled %d, pending %d)", f->name, f->dead,
	    f->disabled, f->pending);
	EXPECT(f->expect == now_ms && !f->expect_expired,
	    "%s started at %lld, expected %lld%s", f->name, (long long)now_ms,
	    (long long)f->expect, f->expect_expired ? " (expiry)" : "");
	EXPECT((int64_t)f->na * 1000 > now_ms, "%s: KUR with an expired "
	    "certificate", f->name);
	f->starts++;
	if (rnd(100) == 0) {
		/* could not even start: retried like a failure */
		pk_err_set(e, "The key pair k does not exist.");
		return -1;
	}
	f->will_succeed = !ca_down(now_ms) && rnd(100) >= 3 && f->fail_first == 0;
	if (f->fail_first > 0)
		f->fail_first--;
	f->pending = 1;
	f->expect = -1;
	f->done.fn = kur_end;
	f->done.arg = f;
	/* the transaction takes 1 to 5 s (refused at once while the CA is down) */
	loop_timer_set(device_loop(d), &f->done,
	    now_ms + (ca_down(now_ms) ? 10 : 1000 + (int64_t)rnd(4000)));
	return 0;
}

static void
on_event(void *arg, const struct device_event *ev)
{
	struct fake *f = ev->session ? by_name(ev->session) : NULL;

	(void)arg;
	EXPECT(f != NULL, "an event without a session: %d", ev->kind);
	switch (ev->kind) {
	case DEVICE_EV_AU_START:
		events_start++;
		EXPECT(ev->regenerate == f->regenerate, "%s: regenerate", f->name);
		break;
	case DEVICE_EV_AU_DONE:
		events_done++;
		EXPECT(ev->result->key_replaced == f->regenerate, "%s: key replaced",
		    f->name);
		break;
	case DEVICE_EV_AU_NOT_STARTED:
	case DEVICE_EV_AU_FAILED: {
		int64_t delay = model_fail(f, now_ms);

		if (ev->kind == DEVICE_EV_AU_FAILED)
			events_failed++;
		else
			events_not_started++;
		EXPECT(ev->delay_ms == delay, "%s: retry in %lld ms, the rule "
		    "says %lld (failure %d, validity %lld s)", f->name,
		    (long long)ev->delay_ms, (long long)delay, f->failures,
		    (long long)(f->na - f->nb));
		EXPECT(ev->attempt == f->failures, "%s: attempt %d, expected %d",
		    f->name, ev->attempt, f->failures);
		check_next_update(f);
		break;
	}
	case DEVICE_EV_CERT_EXPIRED:
		f->expired_events++;
		EXPECT(f->expect_expired && f->expect == now_ms, "%s: expiry "
		    "reported at %lld, expected %lld (%d)", f->name, (long long)now_ms,
		    (long long)f->expect, f->expect_expired);
		EXPECT((int64_t)f->na * 1000 <= now_ms, "%s reported expired "
		    "too early", f->name);
		EXPECT(f->expired_events == 1, "%s: expiry reported twice", f->name);
		f->dead = 1;
		f->expect = -1;
		f->expect_expired = 0;
		break;
	default:
		ck_abort_msg("unexpected event %d", ev->kind);
	}
}

static void
configure(struct fake *f, int auto_update)
{
	struct device_session_cfg cfg;

	device_session_cfg_init(&cfg);
	cfg.name = f->name;
	cfg.auth_cert = f->name;
	cfg.key = "k";
	cfg.use_signature = 1;
	cfg.regenerate = f->regenerate;
	cfg.expire_pct = f->pct;
	cfg.auto_update = auto_update;
	device_session_set(dev, &cfg);
	f->s = device_session_find(dev, f->name);
}

/* Half way: auto-update disabled for the first 20 sessions. */
static void
disable_some(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20; i++) {
		fk[i].disabled = 1;
		if (!fk[i].pending) {
			fk[i].expect = -1;
			fk[i].expect_expired = 0;
		}
		configure(&fk[i], 0);
	}
}

START_TEST(year_of_updates_for_1000_sessions)
{
	static const long long days[] = { 1, 2, 7, 14, 30, 45, 60 };
	struct device_ops ops = { .now = fake_now, .validity = fake_validity,
	    .kur_start = fake_kur_start };
	struct loop_timer half = { 0 };
	struct pk_err e;
	struct loop *l;
	int64_t end, t;
	double t0 = pk_mono_s();
	unsigned long starts = 0, successes = 0, dead = 0, dead_later = 0;

	now_ms = T0_S * 1000;
	ck_assert_int_eq(device_new(&dev, NULL, NULL, &ops, &e), 0);
	device_set_event_fn(dev, on_event, NULL);
	l = device_loop(dev);
	for (int i = 0; i < NSESS; i++) {
		struct fake *f = &fk[i];
		long long v = days[rnd(7)] * DAY_S;

		snprintf(f->name, sizeof(f->name), "s%04d", i);
		f->pct = 10 + (int)rnd(86);
		f->regenerate = rnd(3) == 0;
		f->next_validity = v;
		f->nb = (time_t)(T0_S - (long long)rnd((unsigned)v));
		f->na = f->nb + (time_t)v;
		if (i % 50 == 7) {
			/* already expired */
			f->na = (time_t)(T0_S - 1 - rnd(1000));
			f->nb = f->na - (time_t)v;
		} else if (i % 100 == 3 || i % 100 == 4) {
			/* a short first certificate (20 s, 5 s: bases of 2 s, and 1 s
			 * clamped), failing its first attempts: some expire */
			f->nb = (time_t)T0_S;
			f->na = f->nb + (i % 100 == 3 ? 20 : 5);
			f->fail_first = (int)rnd(4);
			f->next_validity = DAY_S;
		}
		model_schedule(f, now_ms);
		configure(f, 1);
		if (!f->dead && !f->expect_expired)
			check_next_update(f);
	}
	half.fn = disable_some;
	loop_timer_set(l, &half, now_ms + YEAR_MS / 2);
	end = now_ms + YEAR_MS;
	while ((t = loop_next(l)) >= 0 && t <= end) {
		EXPECT(t >= now_ms, "time ran back");
		now_ms = t;
		loop_run_due(l);
	}
	for (int i = 0; i < NSESS; i++) {
		struct fake *f = &fk[i];

		/* nothing the rule predicts before the end was missed */
		ck_assert_msg(f->pending || f->expect < 0 || f->expect > end,
		    "%s: an update due at %lld never started", f->name,
		    (long long)f->expect);
		starts += f->starts;
		successes += f->successes;
		dead += f->dead;
		dead_later += f->dead && f->starts > 0;
		never_started += f->starts == 0;
		if (i % 50 == 7)
			ck_assert_msg(f->dead && f->starts == 0, "%s: expired at start, "
			    "yet started", f->name);
		else if (i >= 20 && i % 100 != 3 && i % 100 != 4)
			ck_assert_msg(f->successes > 0, "%s never updated", f->name);
	}
	ck_assert_uint_eq(events_start + events_not_started, starts);
	ck_assert_uint_eq(events_done, successes);
	ck_assert_uint_gt(events_failed, 100);
	ck_assert_uint_gt(events_not_started, 10);
	ck_assert_uint_gt(dead_later, 0);	/* expired during an outage or retries */
	ck_assert_uint_ge(dead, NSESS / 50);
	printf("a year of %d sessions: %lu KUR starts, %lu updates, %lu failures, "
	    "%lu not started, %lu expired; %.3f s\n", NSESS, starts, successes,
	    events_failed, events_not_started, dead, pk_mono_s() - t0);
	loop_timer_cancel(l, &half);
	for (int i = 0; i < NSESS; i++)
		loop_timer_cancel(l, &fk[i].done);
	device_free(dev);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("device_sched");
	TCase *tc = tcase_create("year");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, year_of_updates_for_1000_sessions);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
