/*
 * The automatic-update scheduler (`certificate auto-update enable`).
 *
 * Each enabled session has a timer in the device's event loop at
 *   notBefore + expire-time% x (notAfter - notBefore)
 * of its authentication certificate, at once when that is already past. When it
 * fires, the session's KUR starts (device_ops.kur_start; the real one runs its
 * network part in a worker thread, worker.c) and its end comes back through
 * device_kur_done(): on success the next update is computed from the new
 * certificate; on failure the old certificate stays and the KUR is retried with
 * bounded exponential backoff: the first retry after a tenth of the validity
 * (between 1 s and 30 s), each further one after twice the delay before, at most
 * one hour. An expired certificate (notAfter <= now) is reported once and not
 * retried: a KUR needs a valid certificate.
 *
 * Time is the device's clock only, so a test drives a year of updates in
 * milliseconds (test/check_device_sched.c).
 */
#include <stdio.h>
#include <string.h>

#include "device_int.h"

#define AU_MAX_BACKOFF_MS (3600 * 1000LL)
#define AU_MIN_BASE_MS 1000
#define AU_MAX_BASE_MS 30000

static void fire(void *arg);

/* The certificate's validity, or -1 with the reason noted (not scheduled). */
static int
validity(struct device *d, struct device_session *s, time_t *nb, time_t *na)
{
	struct pk_err e;

	if (s->cfg.auth_cert == NULL) {
		snprintf(s->next_note, sizeof(s->next_note), "not scheduled: %s",
		    "no authentication certificate");
		return -1;
	}
	if (device_cert_validity(d, s->cfg.auth_cert, nb, na, &e) != 0) {
		snprintf(s->next_note, sizeof(s->next_note), "not scheduled: %s", e.msg);
		return -1;
	}
	return 0;
}

/* 1 (reported once, noted) when the certificate has expired at NOW. */
static int
expired(struct device *d, struct device_session *s, time_t na, int64_t now)
{
	if ((int64_t)na * 1000 > now) {
		s->notified_expired = 0;
		return 0;
	}
	snprintf(s->next_note, sizeof(s->next_note), "not scheduled: the certificate "
	    "%s has expired", s->cfg.auth_cert);
	if (!s->notified_expired) {
		struct device_event ev = { .kind = DEVICE_EV_CERT_EXPIRED,
			.session = s->cfg.name, .file = s->cfg.auth_cert };

		device_emit(d, &ev);
	}
	s->notified_expired = 1;
	return 1;
}

void
au_forget(struct device *d, struct device_session *s)
{
	loop_timer_cancel(d->loop, &s->timer);
	loop_timer_cancel(d->loop, &s->root_timer);
}

void
au_reschedule(struct device *d, struct device_session *s)
{
	int64_t due, now = device_now(d);
	time_t nb, na;

	if (s->running)
		return;		/* its end reschedules */
	s->timer.fn = fire;
	s->timer.arg = s;
	loop_timer_cancel(d->loop, &s->timer);
	s->next_update = 0;
	s->next_note[0] = '\0';
	s->attempt = 0;
	if (!s->configured || !s->cfg.auto_update)
		return;
	if (validity(d, s, &nb, &na) != 0 || expired(d, s, na, now))
		return;
	due = (int64_t)nb * 1000 + ((int64_t)na - (int64_t)nb) * 1000 *
	    s->cfg.expire_pct / 100;
	s->base_ms = ((int64_t)na - (int64_t)nb) * 100;	/* a tenth, in ms */
	if (s->base_ms < AU_MIN_BASE_MS)
		s->base_ms = AU_MIN_BASE_MS;
	if (s->base_ms > AU_MAX_BASE_MS)
		s->base_ms = AU_MAX_BASE_MS;
	if (due < now)
		due = now;	/* already past its update time: at once */
	s->next_update = (time_t)(due / 1000);
	loop_timer_set(d->loop, &s->timer, due);
}

/* Arms the next attempt after a failure: base_ms doubled for each failure before
 * this one, at most one hour. Notes WHY; returns the delay. */
static int64_t
schedule_retry(struct device *d, struct device_session *s, const char *why)
{
	int64_t delay = s->base_ms, now = device_now(d);

	for (int i = 0; i < s->attempt && delay < AU_MAX_BACKOFF_MS; i++)
		delay *= 2;
	if (delay > AU_MAX_BACKOFF_MS)
		delay = AU_MAX_BACKOFF_MS;
	s->attempt++;
	snprintf(s->next_note, sizeof(s->next_note), "retry %d after: %s", s->attempt,
	    why);
	s->next_update = (time_t)((now + delay) / 1000);
	loop_timer_set(d->loop, &s->timer, now + delay);
	return delay;
}

/* The timer: start the KUR. */
static void
fire(void *arg)
{
	struct device_session *s = arg;
	struct device *d = s->d;
	struct pk_err e;
	time_t nb, na;
	int rc;

	/* A retry may come after the certificate expired: reported, not retried.
	 * (A certificate that cannot be read lets the KUR fail and be retried.) */
	if (validity(d, s, &nb, &na) == 0 && expired(d, s, na, device_now(d))) {
		s->next_update = 0;
		return;
	}
	s->running = 1;
	s->state = "updating";
	s->next_update = 0;
	snprintf(s->next_note, sizeof(s->next_note), "in progress");
	if (d->ops.kur_start != NULL)
		rc = d->ops.kur_start(d->ops.arg, d, s, &e);
	else
		rc = worker_kur_start(d, s, &e);
	if (rc != 0) {
		struct device_event ev = { .kind = DEVICE_EV_AU_NOT_STARTED,
			.session = s->cfg.name, .text = e.msg };

		s->running = 0;
		s->state = "idle";
		ev.delay_ms = schedule_retry(d, s, e.msg);
		ev.attempt = s->attempt;
		device_emit(d, &ev);
		return;
	}
	{
		struct device_event ev = { .kind = DEVICE_EV_AU_START,
			.session = s->cfg.name, .regenerate = s->cfg.regenerate };

		device_emit(d, &ev);
	}
}

void
device_kur_done(struct device *d, struct device_session *s,
    const struct device_result *r, const struct pk_err *e)
{
	struct device_event ev = { .session = s->cfg.name };

	s->running = 0;
	s->state = "idle";
	if (r != NULL && r->ok) {
		s->attempt = 0;
		snprintf(s->last, sizeof(s->last),
		    "KUR accepted (automatic), %s, serial %s", r->cert_file, r->serial);
		ev.kind = DEVICE_EV_AU_DONE;
		ev.result = r;
		device_emit(d, &ev);
		au_reschedule(d, s);
		return;
	}
	ev.kind = DEVICE_EV_AU_FAILED;
	ev.text = e != NULL ? e->msg : "unknown error";
	snprintf(s->last, sizeof(s->last), "KUR failed (automatic): %s", ev.text);
	if (!s->configured || !s->cfg.auto_update) {
		/* disabled while it ran: no retry */
		ev.attempt = s->attempt + 1;
		ev.delay_ms = -1;
		au_reschedule(d, s);
	} else {
		ev.delay_ms = schedule_retry(d, s, ev.text);
		ev.attempt = s->attempt;
	}
	device_emit(d, &ev);
}

/* ---- root CA checks (RFC 9483 4.3.2) ----
 * A session with auto-update enabled asks its CA whether the root it trusts
 * was rolled over: at once, then every DEVICE_ROOT_CHECK_MS on the device's
 * clock. A check that fails (no answer, a refused rollover) is retried after
 * AU_ROOT_BASE_MS, doubling up to an hour, never later than the next daily
 * check; a CA that answers without rootCaKeyUpdate does not support it: asked
 * again the next day. A check that cannot start (no root to ask about, no
 * URL) is noted, not reported, and tried again the next day. */

#define AU_ROOT_BASE_MS 30000

static void root_fire(void *arg);

static int
root_enabled(struct device *d, struct device_session *s)
{
	return s->configured && s->cfg.auto_update &&
	    (d->ops.root_start != NULL || (d->pki != NULL && d->st != NULL));
}

static void
root_arm(struct device *d, struct device_session *s, int64_t when)
{
	s->root_timer.fn = root_fire;
	s->root_timer.arg = s;
	s->root_next = (time_t)(when / 1000);
	loop_timer_set(d->loop, &s->root_timer, when);
}

void
au_root_reschedule(struct device *d, struct device_session *s)
{
	if (s->root_running)
		return;		/* its end reschedules */
	loop_timer_cancel(d->loop, &s->root_timer);
	s->root_next = 0;
	s->root_attempt = 0;
	if (root_enabled(d, s))
		root_arm(d, s, device_now(d));
}

static void
root_fire(void *arg)
{
	struct device_session *s = arg;
	struct device *d = s->d;
	struct pk_err e;
	int rc;

	s->root_next = 0;
	if (!root_enabled(d, s))
		return;
	if (s->running || strcmp(s->state, "idle") != 0) {
		/* a KUR or a console request is under way (they share the
		 * session's stop flag): a minute later */
		root_arm(d, s, device_now(d) + 60000);
		return;
	}
	s->root_running = 1;
	if (d->ops.root_start != NULL)
		rc = d->ops.root_start(d->ops.arg, d, s, &e);
	else
		rc = worker_root_start(d, s, &e);
	if (rc != 0) {
		s->root_running = 0;
		s->root_checked = (time_t)(device_now(d) / 1000);
		snprintf(s->root_result, sizeof(s->root_result), "not checked: %s",
		    e.msg);
		root_arm(d, s, device_now(d) + DEVICE_ROOT_CHECK_MS);
	}
}

void
device_root_done(struct device *d, struct device_session *s, int rc,
    const struct device_root_update *r, const struct pk_err *e)
{
	int64_t now = device_now(d), delay;

	s->root_running = 0;
	if (d->draining)
		return;		/* stopped because the device goes away */
	if (rc == 0) {
		s->root_attempt = 0;
		if (r != NULL && r->installed) {
			struct device_event ev = { .kind = DEVICE_EV_ROOT_INSTALLED,
				.session = s->cfg.name, .root = r };

			device_emit(d, &ev);
		}
		if (root_enabled(d, s))
			root_arm(d, s, now + DEVICE_ROOT_CHECK_MS);
		return;
	}
	if (r != NULL && r->no_answer) {
		/* the CA does not support it: the next day */
		s->root_attempt = 0;
		if (root_enabled(d, s))
			root_arm(d, s, now + DEVICE_ROOT_CHECK_MS);
		return;
	}
	{
		struct device_event ev = { .kind = DEVICE_EV_ROOT_FAILED,
			.session = s->cfg.name,
			.text = e != NULL ? e->msg : "unknown error" };

		delay = AU_ROOT_BASE_MS;
		for (int i = 0; i < s->root_attempt && delay < AU_MAX_BACKOFF_MS; i++)
			delay *= 2;
		if (delay > AU_MAX_BACKOFF_MS)
			delay = AU_MAX_BACKOFF_MS;
		if (delay > DEVICE_ROOT_CHECK_MS)
			delay = DEVICE_ROOT_CHECK_MS;
		s->root_attempt++;
		ev.attempt = s->root_attempt;
		if (root_enabled(d, s)) {
			root_arm(d, s, now + delay);
			ev.delay_ms = delay;
		} else {
			ev.delay_ms = -1;
		}
		device_emit(d, &ev);
	}
}
