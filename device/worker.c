/*
 * The real KUR of an automatic update: the job is prepared in the device's thread
 * (it copies everything it needs, with regenerate it holds the new key), its
 * network part runs in a worker thread, and the completion comes back through a
 * pipe watched by the event loop, where the device's thread stores the result (the
 * new key pair, the new certificate over the old file, the store's copy, through
 * the journal) and hands the end to the scheduler (device_kur_done). The console
 * keeps answering meanwhile.
 *
 * Shared between the threads: the job (the worker owns it until it writes the
 * completion; the device's thread reads it only after pthread_join) and the
 * session's atomic stop flag.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../storage/storage.h"
#include "device_int.h"

static void job_done(void *arg);

static int
pipe_open(struct device *d)
{
	if (d->pipe[0] >= 0)
		return 0;
	if (pipe(d->pipe) != 0) {
		d->pipe[0] = d->pipe[1] = -1;
		return -1;
	}
	loop_watch(d->loop, d->pipe[0], job_done, d);
	return 0;
}

/* What comes back through the pipe: the session and which job ended (a
 * write of up to PIPE_BUF bytes to a pipe is atomic). */
struct done {
	struct device_session *s;
	int root;
};

static void
post(struct device_session *s, int root)
{
	struct done m = { s, root };

	if (write(s->d->pipe[1], &m, sizeof(m)) != (ssize_t)sizeof(m))
		abort();
}

static void *
worker(void *arg)
{
	struct device_session *s = arg;

	enrol_run(s->job);
	post(s, 0);
	return NULL;
}

static void *
root_worker(void *arg)
{
	struct device_session *s = arg;

	rootca_run(s->root_job);
	post(s, 1);
	return NULL;
}

static int
should_stop(void *arg)
{
	struct device_session *s = arg;

	return atomic_load(&s->stop);
}

int
worker_kur_start(struct device *d, struct device_session *s, struct pk_err *e)
{
	struct enrol_params p;
	char *secret = NULL, *url = NULL;
	int rc;

	if (d->pki == NULL || d->st == NULL)
		return pk_err_set(e, "The device has no PKI store.");
	if (pipe_open(d) != 0)
		return pk_err_set(e, "cannot start the update thread");
	rc = session_params(d, s, DEVICE_KUR, &p, &secret, &url, e);
	if (rc == 0) {
		p.result_file = p.auth_cert;	/* the new certificate replaces it */
		p.should_stop = should_stop;
		p.stop_arg = s;
		atomic_store(&s->stop, 0);
		rc = enrol_prepare(d->pki, DEVICE_KUR, &p, &s->job, e);
	}
	storage_wipe_free(secret);
	free(url);
	if (rc != 0)
		return -1;
	session_count(d, s, DEVICE_KUR, 0);
	if (pthread_create(&s->thread, NULL, worker, s) != 0) {
		enrol_job_free(s->job);
		s->job = NULL;
		return pk_err_set(e, "cannot start the update thread");
	}
	d->running++;
	return 0;
}

int
worker_root_start(struct device *d, struct device_session *s, struct pk_err *e)
{
	if (d->pki == NULL || d->st == NULL)
		return pk_err_set(e, "The device has no PKI store.");
	if (pipe_open(d) != 0)
		return pk_err_set(e, "cannot start the update thread");
	atomic_store(&s->stop, 0);
	if (rootca_prepare(d, s, should_stop, s, NULL, NULL, &s->root_job, e) != 0)
		return -1;
	if (pthread_create(&s->root_thread, NULL, root_worker, s) != 0) {
		rootca_job_free(s->root_job);
		s->root_job = NULL;
		return pk_err_set(e, "cannot start the update thread");
	}
	d->running++;
	return 0;
}

static void
root_done(struct device *d, struct device_session *s)
{
	struct device_root_update r;
	struct pk_err e;
	int rc;

	pthread_join(s->root_thread, NULL);
	d->running--;
	memset(&r, 0, sizeof(r));
	r.status = -1;
	rc = rootca_finish(d, s, s->root_job, &r, &e);
	rootca_job_free(s->root_job);
	s->root_job = NULL;
	device_root_done(d, s, rc, &r, &e);
}

static void
job_done(void *arg)
{
	struct device *d = arg;
	struct device_session *s;
	struct device_result r;
	struct pk_err e;
	struct done m;
	int rc;

	if (read(d->pipe[0], &m, sizeof(m)) != (ssize_t)sizeof(m))
		return;
	s = m.s;
	if (m.root) {
		root_done(d, s);
		return;
	}
	pthread_join(s->thread, NULL);
	d->running--;
	memset(&r, 0, sizeof(r));
	r.sent = 1;
	rc = enrol_finish(d->pki, d->st, s->job, &r, &e);
	enrol_job_free(s->job);
	s->job = NULL;
	if (rc != 0)
		session_count(d, s, DEVICE_KUR, 1);
	device_kur_done(d, s, rc == 0 ? &r : NULL, &e);
}

void
worker_drain(struct device *d)
{
	d->draining = 1;
	while (d->running > 0) {
		/* ask every running job to stop, then take their completions */
		for (size_t i = 0; i < d->nall; i++)
			atomic_store(&d->all[i]->stop, 1);
		job_done(d);
	}
	if (d->pipe[0] >= 0) {
		loop_unwatch(d->loop, d->pipe[0]);
		close(d->pipe[0]);
		close(d->pipe[1]);
		d->pipe[0] = d->pipe[1] = -1;
	}
}
