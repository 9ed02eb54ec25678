/*
 * Automatic certificate update (`certificate auto-update enable`).
 *
 * Each enabled session has a timer in the shell's event loop at
 *   notBefore + expire-time% x (notAfter - notBefore)
 * of its current certificate (its authentication-cert). When it fires, a KUR
 * signed with the current certificate (a new key pair first with `regenerate`) is
 * prepared in the main thread, its network part runs in a worker thread, and the
 * completion comes back through a pipe watched by the loop, where the main thread
 * stores the result: the new key pair (regenerate), the new certificate over the
 * old file, the device store's copy. Then the next update is scheduled from the new
 * certificate. The console keeps answering meanwhile.
 *
 * A failure keeps the old certificate and retries with bounded exponential backoff:
 * the first delay is a tenth of the validity, between 1 s and 30 s, doubling up to
 * one hour. A certificate already past its update time is updated at once; an
 * expired one is reported and not retried (a KUR needs a valid certificate).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "../device/device.h"
#include "../storage/storage.h"
#include "cli_int.h"

#define AU_MAX_BACKOFF_MS (3600 * 1000LL)

struct au_state {
	struct cli *c;
	struct sess_state *s;
	struct loop_timer timer;
	int attempt;
	int64_t base_ms;		/* first retry delay */
	int running;
	pthread_t thread;
	struct pki_cmp_job *job;
	int notified_expired;
};

struct au {
	int pipe[2];
	size_t running;
};

void
cli_notify(struct cli *c, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (c->daemon) {
		char ts[32];
		time_t now = time(NULL);
		struct tm tm;

		strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", localtime_r(&now, &tm));
		fprintf(stderr, "%s pkish: %s\n", ts, buf);
		fflush(stderr);
		syslog(strncmp(buf, "Info", 4) == 0 ? LOG_INFO : LOG_WARNING, "%s", buf);
		return;
	}
	if (c->redraw != NULL) {
		/* hide the prompt and typed text, print, redraw them */
		fprintf(c->out, "\r\033[K%s\n", buf);
		fflush(c->out);
		c->redraw(c->redraw_arg);
		return;
	}
	fprintf(c->out, "%s\n", buf);
	fflush(c->out);
}

static struct au *
au_get(struct cli *c);

/* Arms the next attempt after a failure: the first retry after base_ms (a tenth
 * of the validity, 1-30 s), doubling with each further failure up to one hour.
 * Counts the attempt, notes WHY for `display pki cmp session`; returns the delay. */
static int64_t
schedule_retry(struct cli *c, struct au_state *st, const char *why)
{
	int64_t delay = st->base_ms;

	for (int i = 0; i < st->attempt && delay < AU_MAX_BACKOFF_MS; i++)
		delay *= 2;
	if (delay > AU_MAX_BACKOFF_MS)
		delay = AU_MAX_BACKOFF_MS;
	st->attempt++;
	snprintf(st->s->next_note, sizeof(st->s->next_note), "retry %d after: %s",
	    st->attempt, why);
	st->s->next_update = (time_t)((loop_now() + delay) / 1000);
	loop_timer_set(c->loop, &st->timer, loop_now() + delay);
	return delay;
}

static void
job_done(void *arg)
{
	struct cli *c = arg;
	struct au *a = c->au;
	struct au_state *st;
	struct pki_cmp_outcome o;
	struct pk_err e;
	char name[64];

	if (read(a->pipe[0], &st, sizeof(st)) != (ssize_t)sizeof(st))
		return;
	pthread_join(st->thread, NULL);
	st->running = 0;
	a->running--;
	st->s->state = "idle";
	snprintf(name, sizeof(name), "%s", st->s->name);
	if (pki_cmp_finish(c->pki, c->st, st->job, &o, &e) == 0) {
		st->attempt = 0;
		snprintf(st->s->last, sizeof(st->s->last),
		    "KUR accepted (automatic), %s, serial %s", o.cert_file, o.serial);
		cli_notify(c, "Info: The certificate of the CMP session %s was updated "
		    "automatically: serial %s, valid from %s to %s%s.", name, o.serial,
		    o.not_before, o.not_after,
		    o.key_replaced ? ", new key pair" : "");
		pki_cmp_job_free(st->job);
		st->job = NULL;
		cli_autoupdate_reschedule(c, name);
		return;
	}
	pki_cmp_job_free(st->job);
	st->job = NULL;
	cli_cmp_count(c, st->s, ST_KUR, 1);
	{
		int64_t delay = schedule_retry(c, st, e.msg);

		snprintf(st->s->last, sizeof(st->s->last),
		    "KUR failed (automatic): %s", e.msg);
		cli_notify(c, "Warning: The automatic update of the CMP session %s failed "
		    "(attempt %d): %s The old certificate stays in use; next attempt in "
		    "%lld s.", name, st->attempt, e.msg, (long long)(delay + 999) / 1000);
	}
}

static void *
worker(void *arg)
{
	struct au_state *st = arg;
	struct au *a = st->c->au;

	pki_cmp_run(st->job);
	/* a pointer-sized write to a pipe is atomic */
	if (write(a->pipe[1], &st, sizeof(st)) != (ssize_t)sizeof(st))
		abort();
	return NULL;
}

static int
should_stop(void *arg)
{
	struct sess_state *s = arg;

	return s->stop;
}

/* The timer: start the KUR. */
static void
fire(void *arg)
{
	struct au_state *st = arg;
	struct cli *c = st->c;
	struct pki_cmp_session s;
	struct pki_entity ent;
	char *secret = NULL, *url = NULL, *buf = NULL;
	size_t blen = 0;
	FILE *mem = open_memstream(&buf, &blen), *real = c->out;
	struct pk_err e;
	int rc;
	char name[64];

	snprintf(name, sizeof(name), "%s", st->s->name);
	/* gather() reports what is missing on the console's output: capture it */
	c->out = mem;
	rc = cli_cmp_gather(c, name, PKI_CMP_KUR, &s, &ent, &secret, &url);
	c->out = real;
	fclose(mem);
	if (rc != 0) {
		size_t n = strlen(buf);

		while (n > 0 && buf[n - 1] == '\n')
			buf[--n] = '\0';
		snprintf(e.msg, sizeof(e.msg), "%s", strncmp(buf, "Error: ", 7) == 0 ?
		    buf + 7 : buf);
		goto fail;
	}
	s.result_file = s.auth_cert;	/* the new certificate replaces the old file */
	s.should_stop = should_stop;
	s.stop_arg = st->s;
	st->s->stop = 0;
	rc = pki_cmp_prepare(c->pki, PKI_CMP_KUR, &s, &st->job, &e);
	storage_wipe_free(secret);
	secret = NULL;
	free(url);
	url = NULL;
	if (rc != 0)
		goto fail;
	cli_cmp_count(c, st->s, ST_KUR, 0);
	st->s->state = "updating";
	st->s->next_update = 0;
	snprintf(st->s->next_note, sizeof(st->s->next_note), "in progress");
	if (pthread_create(&st->thread, NULL, worker, st) != 0) {
		pki_cmp_job_free(st->job);
		st->job = NULL;
		st->s->state = "idle";
		pk_err_set(&e, "cannot start the update thread");
		goto fail;
	}
	st->running = 1;
	au_get(c)->running++;
	cli_notify(c, "Info: The CMP session %s is updating its certificate (KUR%s).",
	    name, s.regenerate ? " with a new key pair" : "");
	free(buf);
	return;
fail:
	free(buf);
	storage_wipe_free(secret);
	free(url);
	{
		int64_t delay = schedule_retry(c, st, e.msg);

		cli_notify(c, "Warning: The automatic update of the CMP session %s cannot "
		    "start (attempt %d): %s Next attempt in %lld s.", name, st->attempt,
		    e.msg, (long long)(delay + 999) / 1000);
	}
}

static struct au *
au_get(struct cli *c)
{
	struct au *a = c->au;

	if (a != NULL)
		return a;
	a = xcalloc(1, sizeof(*a));
	if (pipe(a->pipe) != 0)
		abort();
	c->au = a;
	loop_watch(c->loop, a->pipe[0], job_done, c);
	return a;
}

void
cli_autoupdate_reschedule(struct cli *c, const char *name)
{
	struct sess_state *s = sess_get(c, name, 1);
	struct device_session_cfg cfg;
	struct au_state *st;
	const char *auth;
	time_t nb, na;
	int64_t due, now = loop_now();
	struct pk_err e;
	int pct;

	au_get(c);
	if (s->au == NULL) {
		s->au = xcalloc(1, sizeof(*s->au));
		s->au->c = c;
		s->au->s = s;
		s->au->timer.fn = fire;
		s->au->timer.arg = s->au;
	}
	st = s->au;
	if (st->running)
		return;		/* the completion reschedules */
	loop_timer_cancel(c->loop, &st->timer);
	s->next_update = 0;
	s->next_note[0] = '\0';
	st->attempt = 0;
	if (cli_config_get(c, &cli_cmp_session_view, name, &cfg) != 0 ||
	    !cfg.auto_update)
		return;
	auth = cfg.auth_cert;
	if (auth == NULL ||
	    pki_cert_file_validity(c->pki, auth, &nb, &na, &e) != 0) {
		snprintf(s->next_note, sizeof(s->next_note), "not scheduled: %s",
		    auth ? e.msg : "no authentication certificate");
		return;
	}
	if ((int64_t)na * 1000 <= now) {
		snprintf(s->next_note, sizeof(s->next_note), "not scheduled: the "
		    "certificate %s has expired", auth);
		if (!st->notified_expired)
			cli_notify(c, "Warning: The certificate %s of the CMP session %s has "
			    "expired; automatic update needs a valid certificate (request "
			    "a new one with pki cmp initial-request).", auth, cfg.name);
		st->notified_expired = 1;
		return;
	}
	st->notified_expired = 0;
	pct = cfg.expire_pct;
	due = (int64_t)nb * 1000 + ((int64_t)na - (int64_t)nb) * 1000 * pct / 100;
	st->base_ms = ((int64_t)na - (int64_t)nb) * 100;	/* a tenth, in ms */
	if (st->base_ms < 1000)
		st->base_ms = 1000;
	if (st->base_ms > 30000)
		st->base_ms = 30000;
	if (due < now)
		due = now;	/* already past its update time: at once */
	s->next_update = (time_t)(due / 1000);
	loop_timer_set(c->loop, &st->timer, due);
}

void
cli_autoupdate_all(struct cli *c)
{
	struct cfg_node **nodes = cli_cfg_list(c, cli_cmp_session_view.view);

	for (size_t i = 0; nodes[i] != NULL; i++)
		cli_autoupdate_reschedule(c, nodes[i]->key);
	free(nodes);
}

/* Stops background work: running transactions are asked to stop and joined. */
void
cli_autoupdate_free(struct cli *c)
{
	struct au *a = c->au;

	if (a == NULL)
		return;
	while (a->running > 0) {
		/* ask every running job to stop, then let completions drain */
		struct cfg_node **nodes = cli_cfg_list(c, cli_cmp_session_view.view);

		for (size_t i = 0; nodes[i] != NULL; i++) {
			struct sess_state *s = sess_get(c, nodes[i]->key, 0);

			if (s != NULL)
				s->stop = 1;
		}
		free(nodes);
		job_done(c);
	}
	loop_unwatch(c->loop, a->pipe[0]);
	close(a->pipe[0]);
	close(a->pipe[1]);
	free(a);
	c->au = NULL;
}

void
cli_autoupdate_forget(struct cli *c, struct sess_state *s)
{
	if (s->au == NULL)
		return;
	loop_timer_cancel(c->loop, &s->au->timer);
	free(s->au);
	s->au = NULL;
}

static int
h_session_changed(struct cli *c, const struct cli_args *a)
{
	const char *name = cli_arg(a, "name");

	if (cli_kw(a, "session") && name != NULL)	/* pki cmp session NAME */
		cli_autoupdate_reschedule(c, name);
	else if (c->node != NULL && c->node->key != NULL)
		cli_autoupdate_reschedule(c, c->node->key);
	return 0;
}

void
cli_autoupdate_init(struct cli *c)
{
	cli_install_handler(c, "session_changed", h_session_changed);
}
