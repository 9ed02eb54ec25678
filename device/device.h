/*
 * device: the device core. CMP sessions and their enrolment actions (IR/CR/KUR
 * through cmp/, results installed into pki/ through a journal), the event loop
 * and its timers, the automatic-update scheduler, daemon mode.
 *
 * The device core never prints: it returns results and error objects.
 */
#ifndef PKISH_DEVICE_H
#define PKISH_DEVICE_H

#include <stdint.h>
#include <time.h>

#include "../pki/pki.h"

/* ==== CMP sessions (pki_cmp.c) ========================================
 * The device side of a CMP session: turns a session's plain configuration (strings,
 * as the console holds them) into a CMP transaction over the cmp/ engine, runs it
 * and stores what came back: the certificate in flash:/pki/public (atomic), caPubs
 * beside it, and with regenerate the new key pair in the store.
 */

enum pki_cmp_kind { PKI_CMP_IR, PKI_CMP_CR, PKI_CMP_KUR };

/* ---- defaults (the one definition of each) ---- */
#define DEVICE_TIMEOUT_DEFAULT	120	/* s, a whole transaction */
#define DEVICE_EXPIRE_DEFAULT	50	/* %, update at this share of the validity */
#define DEVICE_REGEN_BITS_SAME	0	/* regenerate: the RSA size of the old key */

/* The configuration of a CMP session, typed (the console fills it from the
 * session's view through its binding table). Strings are borrowed. */
struct device_session_cfg {
	const char *name;
	const char *entity;		/* PKI entity name */
	const char *ca_name;		/* "C=..,O=..,CN=.." or "/C=../CN=.." */
	const char *url;		/* as configured */
	int url_esc;			/* the URL writes '?' as \x3f */
	const char *key;		/* key pair name */
	int key_ecc;			/* the key pair is ECC (else RSA) */
	int regenerate;			/* KUR: a new key pair */
	int regen_bits;			/* its RSA size, or DEVICE_REGEN_BITS_SAME */
	int use_signature;		/* IR protection: signature (else MAC) */
	const char *mac_ref;		/* MAC reference (senderKID) */
	const char *mac_secret;		/* MAC secret, sealed (storage_seal) */
	const char *auth_cert;		/* file in flash:/pki/public */
	const char *verify_cert;	/* file in flash:/pki/public */
	int hmac_sha1;			/* PBM integrity HMAC-SHA1 (else SHA256) */
	int implicit_confirm;
	int timeout;			/* s */
	int auto_update;		/* certificate auto-update enable */
	int expire_pct;			/* update at this % of the validity */
};

/* The defaults: every field unset, timeout and expire-time as above. */
void device_session_cfg_init(struct device_session_cfg *cfg);

/* A session's configuration, as plain strings (NULL = unset). */
struct pki_cmp_session {
	const char *name;
	const struct pki_entity *entity;
	const char *ca_name;		/* "C=..,O=..,CN=.." or "/C=../CN=.." */
	const char *url;		/* with the esc form already decoded */
	const char *key_name;
	int regenerate;			/* KUR: a new key pair */
	int regen_bits;			/* RSA size for regenerate (0: same size) */
	int use_signature;		/* IR protection: signature (else MAC) */
	const char *ref;		/* MAC reference */
	const char *secret;		/* MAC secret, plain (unsealed by the caller) */
	const char *auth_cert;		/* file in flash:/pki/public */
	const char *verify_cert;	/* file in flash:/pki/public */
	int hmac_sha1;			/* integrity-algorithm hmac-sha1 */
	int implicit_confirm;
	int timeout;			/* seconds */
	const char *result_file;	/* NULL: NAME_ir.cer / _cr.cer / _kur.cer */
	int (*should_stop)(void *arg);
	void *stop_arg;
	void (*progress)(void *arg, const char *text);
	void *progress_arg;
};

/* What happened, for Info lines, `display pki cmp session` and statistics. */
struct pki_cmp_outcome {
	int ok;
	char cert_file[300];		/* where the certificate was saved */
	int ncapubs;			/* S_ca0.cer ... written */
	char serial[100];
	char not_before[40], not_after[40];
	time_t nb, na;
	long status;			/* PKIStatus of the answer, -1 none */
	char status_name[32];		/* "accepted", "rejection", ... */
	char failinfo[256];		/* names, comma separated, "" none */
	char status_text[512];
	int unauthenticated;		/* the error answer was not authenticated */
	int key_replaced;		/* regenerate: the key pair was replaced */
	int polled;
};

/* 1 if TEXT is a CA name we can send (comma or slash form), else 0 and *e. */
int pki_cmp_dn_ok(const char *text, struct pk_err *e);

/* Runs one IR/CR/KUR for session S (prepare + run + finish below). 0 success
 * (outcome filled); -1 with *e naming the cause and *o filled as far as known. */
int pki_cmp_request(struct pki *p, struct storage *st, enum pki_cmp_kind kind,
    const struct pki_cmp_session *s, struct pki_cmp_outcome *o, struct pk_err *e);

/* The same in three steps, for a transaction in a worker thread: prepare and
 * finish touch the device state and run in the thread that owns it; run touches
 * only the job (it owns copies of everything it needs) and may run in any thread.
 * A prepared job copies S (its callbacks run in the thread that calls run). */
struct pki_cmp_job;
int pki_cmp_prepare(struct pki *p, enum pki_cmp_kind kind,
    const struct pki_cmp_session *s, struct pki_cmp_job **job, struct pk_err *e);
/* The network transaction; 0 success. The error is kept in the job. */
int pki_cmp_run(struct pki_cmp_job *job);
/* Stores the result (files, key replacement) and fills *o; -1 with *e when the run
 * or the storing failed. */
int pki_cmp_finish(struct pki *p, struct storage *st, struct pki_cmp_job *job,
    struct pki_cmp_outcome *o, struct pk_err *e);
void pki_cmp_job_free(struct pki_cmp_job *job);

/* Completes certificate updates that a crash interrupted (their journals in the
 * store), appending one line per journal to REPORT. -1 if one could not be
 * completed (it stays for the next start). */
int pki_cmp_recover(struct pki *p, struct storage *st, struct sbuf *report);

/* Validity of the certificate in flash:/pki/public/FILE. */
int pki_cert_file_validity(struct pki *p, const char *file, time_t *not_before,
    time_t *not_after, struct pk_err *e);


/* ---- event loop (loop.c) ---- */

struct loop;
struct loop_timer {
	int64_t when;		/* ms since the epoch */
	size_t idx;		/* heap position */
	int armed;
	void (*fn)(void *arg);
	void *arg;
};

int64_t loop_now(void);
struct loop *loop_new(void);
void loop_free(struct loop *l);
/* Arms (or re-arms) T at WHEN; its fn runs from loop_wait once due. */
void loop_timer_set(struct loop *l, struct loop_timer *t, int64_t when);
void loop_timer_cancel(struct loop *l, struct loop_timer *t);
size_t loop_timer_count(const struct loop *l);
/* FN runs (from loop_wait) whenever FD is readable. At most 16 watches. */
void loop_watch(struct loop *l, int fd, void (*fn)(void *arg), void *arg);
void loop_unwatch(struct loop *l, int fd);
/* Runs timers and watches until FD (-1: none) is readable (1), DEADLINE (ms since
 * the epoch, -1: none) passes (0), a callback calls loop_break (2), or poll fails
 * (-1). */
int loop_wait(struct loop *l, int fd, int64_t deadline);
/* Makes the running loop_wait return 2 once the current callback is done. */
void loop_break(struct loop *l);

#endif
