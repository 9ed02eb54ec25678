/*
 * device internals shared by the files of device/ only: the device and session
 * structures, the enrolment job and the genm set-up (enrol.c), the root CA
 * key update (rootca.c), the scheduler's entry points (autoupdate.c) and the
 * real KUR and root CA check in worker threads (worker.c). Other modules use
 * device.h.
 */
#ifndef PKISH_DEVICE_INT_H
#define PKISH_DEVICE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "device.h"

/* ---- enrolment (enrol.c) ---- */

/* Everything one IR/CR/KUR needs, resolved from a session's configuration
 * (strings borrowed; the job copies what it keeps). */
struct enrol_params {
	const char *name;
	const struct pki_entity *entity;
	const char *ca_name;
	const char *url;		/* with the esc form decoded */
	const char *key_name;
	int regenerate;
	int regen_bits;
	int use_signature;
	const char *ref;		/* MAC reference */
	const char *secret;		/* MAC secret, plain */
	const char *auth_cert;
	const char *verify_cert;
	int hmac_sha1;
	int pbmac1;
	int implicit_confirm;
	int template_query;		/* IR/KUR: genm certReqTemplate first */
	int timeout;
	const char *result_file;	/* NULL: NAME_ir.cer / _cr.cer / _kur.cer */
	int64_t now_ms;			/* the device's clock: a KUR's certificate
					 * must be valid now */
	int (*should_stop)(void *arg);
	void *stop_arg;
	void (*progress)(void *arg, const char *text);
	void *progress_arg;
};

/* A prepared transaction: prepare and finish touch the device state and run in
 * the device's thread; run touches only the job (it owns copies of everything it
 * needs, its callbacks run in the thread that calls run). */
struct enrol_job;
int enrol_prepare(struct pki *p, enum device_req kind, const struct enrol_params *s,
    struct enrol_job **job, struct pk_err *e);
/* The network transaction; 0 success. The error is kept in the job. With
 * template_query an IR or KUR first asks the CA for its certificate request
 * template (genm certReqTemplate, RFC 9483 4.3.3, protected as the request)
 * and fits the request to it: a KUR with regenerate makes an RSA key of the
 * size the template asks for, a fixed subject attribute the entity lacks is
 * added; a key or subject it cannot fit fails the job before the request is
 * sent, naming the mismatch. A CA without a template changes nothing. */
int enrol_run(struct enrol_job *job);
/* Stores the result (files, key replacement, through the journal) and fills *o;
 * -1 with *e when the run or the storing failed. */
int enrol_finish(struct pki *p, struct storage *st, struct enrol_job *job,
    struct device_result *o, struct pk_err *e);
void enrol_job_free(struct enrol_job *job);
/* The genm caCerts of device_ca_certs() (RFC 9483 4.3.1) with S's URL,
 * protection and trust settings (entity and key pair unused): runs it, saves
 * the certificates as S->name_caN.cer and describes them in *o. */
int enrol_ca_certs(struct pki *p, struct storage *st,
    const struct enrol_params *s, struct device_ca_certs *o, struct pk_err *e);
/* The support-message set-up shared by every genm of a session (caCerts,
 * rootCaCert): S's URL, CA name, protection (MAC as the IR's, or signature
 * with the authentication certificate's key) and trust (verification-cert,
 * the imported CA certificates), owned copies (a worker thread may run it). */
struct genm_ctx;
struct cmp_client_cfg;
int genm_prepare(struct pki *p, const struct enrol_params *s,
    struct genm_ctx **out, struct pk_err *e);
struct cmp_client_cfg *genm_cfg(struct genm_ctx *g);
void genm_free(struct genm_ctx *g);
/* Writes X as PEM to flash:/pki/public/FILE (atomic, 0644). */
int enrol_write_cert(struct storage *st, const char *file, struct x509_st *x,
    struct pk_err *e);
/* The chain of CERT up to a trust anchor among the imported CA certificates,
 * without CERT itself (the anchor last); NULL when none can be built. */
struct stack_st_X509 *enrol_chain_of(struct pki *p, struct x509_st *cert);
struct cmp_client_result;
/* The status fields of *o from a client result. */
void enrol_fill_status(struct device_result *o, const struct cmp_client_result *r);

/* ---- root CA key update (rootca.c) ---- */

/* RFC 9480 2.15 / RFC 4210 4.4: whether the rollover NWN (newWithNew), NWO
 * (newWithOld), OWN (oldWithNew, may be NULL) links OLD (the imported root
 * the device asked about) to a new root, at NOW: 0, or -1 with the broken
 * rule in *e. Nothing else may install a new root. */
int rootca_verify(struct x509_st *old, struct x509_st *nwn, struct x509_st *nwo,
    struct x509_st *own, time_t now, struct pk_err *e);
/* A prepared root CA check of a session (prepare and finish in the device's
 * thread, run in any). */
struct rootca_job;
int rootca_prepare(struct device *d, struct device_session *s,
    int (*should_stop)(void *arg), void *stop_arg,
    void (*progress)(void *arg, const char *text), void *progress_arg,
    struct rootca_job **out, struct pk_err *e);
void rootca_run(struct rootca_job *j);
/* Verifies, installs and fills *r; the session's root state is updated.
 * 0 checked (installed or no update), -1 with *e. */
int rootca_finish(struct device *d, struct device_session *s,
    struct rootca_job *j, struct device_root_update *r, struct pk_err *e);
void rootca_job_free(struct rootca_job *j);

/* The certificate a session names NAME (authentication-cert: KIND local,
 * verification-cert: KIND CA): the imported certificate of KIND recorded as NAME,
 * else the file flash:/pki/public/NAME (the file is only the way in: deleting it
 * after the import changes nothing). *out is a new reference; *imported (may be
 * NULL) says which it was. */
int enrol_cert_get(struct pki *p, enum pki_cert_kind kind, const char *name,
    struct x509_st **out, int *imported, struct pk_err *e);
/* Validity of the authentication certificate NAME (as enrol_cert_get finds it). */
int enrol_cert_validity(struct pki *p, const char *name, time_t *nb, time_t *na,
    struct pk_err *e);
/* Describes the authentication certificate NAME (key_name: its key pair). */
int enrol_auth_cert_info(struct pki *p, const char *name, struct pki_cert_info *info,
    struct pk_err *e);

/* ---- sessions (session.c) ---- */

#define DEVICE_LINE 1200

struct device_session {
	struct device *d;
	char *name;			/* as first seen (statistics file or config) */
	int configured;
	struct device_session_cfg cfg;	/* owned copies (when configured) */
	unsigned long sent[DEVICE_REQ_N], failed[DEVICE_REQ_N];
	const char *state;		/* idle, waiting, polling, updating */
	atomic_int stop;		/* set by the console, read by a worker */
	char last[DEVICE_LINE];		/* last result, one line */
	/* automatic update (autoupdate.c) */
	struct loop_timer timer;
	int attempt;			/* failures since the last success */
	int64_t base_ms;		/* first retry delay */
	int running;			/* a KUR is under way */
	int notified_expired;
	time_t next_update;		/* 0 none */
	char next_note[DEVICE_LINE];
	/* the real KUR (worker.c) */
	pthread_t thread;
	struct enrol_job *job;
	/* the root CA check (rootca.c, autoupdate.c, worker.c) */
	struct loop_timer root_timer;
	int root_running;		/* a check is under way */
	int root_attempt;		/* failures since the last check */
	time_t root_next;		/* next check, 0 none */
	time_t root_checked;		/* the last check's end, 0 none */
	char root_result[DEVICE_LINE];	/* its result, one line */
	char root_fp[100];		/* the installed root's SHA-256 */
	char root_file[300];		/* the root this session now asks about
					 * (after an installation), "" none */
	pthread_t root_thread;
	struct rootca_job *root_job;
};

struct device {
	struct storage *st;
	struct pki *pki;
	struct loop *loop;
	struct device_ops ops;
	device_event_fn event;
	void *event_arg;
	struct device_session **all;	/* every record, statistics-only ones too */
	size_t nall, capall;
	struct pk_map records;		/* the same by name (case-insensitive) */
	struct device_session **order;	/* the configured ones, in order */
	size_t norder, caporder;
	/* the entities the configuration describes: owned copies by name
	 * (case-insensitive), each keyed by its own name */
	struct pk_map entities;
	int pipe[2];			/* worker.c: completions, -1 unused */
	size_t running;			/* worker.c: threads under way */
	int draining;			/* worker.c: the device is going away */
};

/* The device's clock (the injected one, else the wall clock); ARG is the device. */
int64_t device_clock(void *arg);
/* Reports EV through the event function (if any). */
void device_emit(struct device *d, const struct device_event *ev);
/* What a console request's transaction asks while it waits (session.c): stop
 * when the session's stop flag is set or the console cancels, and progress
 * lines as DEVICE_EV_PROGRESS events; ARG is a struct device_call. */
struct device_call {
	struct device *d;
	struct device_session *s;
	int (*cancelled)(void *arg);
	void *arg;
};
int device_call_should_stop(void *arg);
void device_call_progress(void *arg, const char *text);
/* Resolves session S's configuration for KIND into *p (messages for what is
 * missing); *secret and *url are new (wipe / free them, also on failure). */
int session_params(struct device *d, struct device_session *s, enum device_req kind,
    struct enrol_params *p, char **secret, char **url, struct pk_err *e);
/* The same for a support message (genm): URL, CA name, protection as the IR's
 * (origin-authentication-method), trust; no entity or key pair needed. */
int session_params_genm(struct device *d, struct device_session *s,
    struct enrol_params *p, char **secret, char **url, struct pk_err *e);
/* Counts a sent (FAILED 0) or failed request of KIND and saves the statistics. */
void session_count(struct device *d, struct device_session *s, enum device_req kind,
    int failed);
/* "ir", "cr", "kur": the suffix of the result file. */
const char *device_req_suffix(enum device_req k);

/* ---- automatic update (autoupdate.c) ---- */

/* Computes session S's next automatic update and arms (or cancels) its timer. */
void au_reschedule(struct device *d, struct device_session *s);
/* Cancels S's timers. */
void au_forget(struct device *d, struct device_session *s);
/* Arms (or cancels) S's root CA check: enabled sessions at once, then every
 * DEVICE_ROOT_CHECK_MS. */
void au_root_reschedule(struct device *d, struct device_session *s);

/* ---- the real KUR (worker.c) ---- */

/* The real KUR of S: the job is prepared here, its network part runs in a
 * worker thread, its end is stored when the completion comes back through the
 * loop. */
int worker_kur_start(struct device *d, struct device_session *s, struct pk_err *e);
/* The real root CA check of S in a worker thread; its end comes back through
 * device_root_done(). */
int worker_root_start(struct device *d, struct device_session *s,
    struct pk_err *e);
/* Asks every running KUR to stop and stores their ends (at device_free). */
void worker_drain(struct device *d);

#endif
