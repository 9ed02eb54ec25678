/*
 * device: the device core. CMP sessions as typed objects (configuration, runtime
 * state, statistics kept in the store), their enrolment actions (IR/CR/KUR through
 * cmp/, results installed into pki/ through a journal), the support messages
 * (caCerts; the root CA key update, which installs a verified new root), the
 * event loop and its timers, the automatic-update scheduler, daemon mode.
 *
 * Contract:
 * - The device core never prints. Calls return results and a struct pk_err whose
 *   message is operator-ready (the console shows it as "Error: <msg>"); what happens
 *   in the background (automatic updates, the daemon, the progress of a request)
 *   is reported through the event function (device_set_event_fn), which the
 *   console renders.
 * - Threads: everything runs in the thread that owns the device, the event
 *   function included. Only the network part of an automatic update runs in a
 *   worker thread, which touches nothing but its own job and the session's atomic
 *   stop flag.
 * - Time comes from the device's clock (struct device_ops): the scheduler and the
 *   event loop's timers read nothing else, so a test can run a year of automatic
 *   updates with a fake clock and a fake KUR in milliseconds.
 * - This header includes no OpenSSL header (cli/ includes it).
 */
#ifndef PKISH_DEVICE_H
#define PKISH_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../pki/pki.h"

struct storage;
struct loop;
struct device;
struct device_session;

/* ==== request kinds (the one definition) ==== */

enum device_req { DEVICE_IR, DEVICE_CR, DEVICE_KUR, DEVICE_REQ_N };

/* "IR", "CR", "KUR". */
const char *device_req_name(enum device_req k);
/* "initial-request", "certificate-request", "keyupdate-request": the console's
 * action keywords. */
const char *device_req_action(enum device_req k);

/* ==== defaults (the one definition of each) ==== */

#define DEVICE_TIMEOUT_DEFAULT	120	/* s, a whole transaction */
#define DEVICE_EXPIRE_DEFAULT	50	/* %, update at this share of the validity */
#define DEVICE_REGEN_BITS_SAME	0	/* regenerate: the RSA size of the old key */

/* ==== a CMP session's configuration ==== */

/* Typed; the console fills it from the session's view through its binding table.
 * Strings are borrowed from the caller; the device keeps copies. */
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
	int use_signature;		/* IR protection: signature (else MAC); CR
					 * and KUR are always signed */
	const char *mac_ref;		/* MAC reference (senderKID) */
	const char *mac_secret;		/* MAC secret, sealed (storage_seal) */
	const char *auth_cert;		/* an imported local certificate's name,
					 * else a file in flash:/pki/public */
	const char *verify_cert;	/* an imported CA certificate's name,
					 * else a file in flash:/pki/public */
	int hmac_sha1;			/* PBM integrity HMAC-SHA1 (else SHA256) */
	int pbmac1;			/* MAC integrity PBMAC1 with HMAC-SHA256
					 * (RFC 9481 6.1.2) instead of PBM */
	int implicit_confirm;
	int template_query;		/* IR/KUR: ask the CA for its certificate
					 * request template first (RFC 9483
					 * 4.3.3) and fit the request to it */
	int timeout;			/* s */
	int auto_update;		/* certificate auto-update enable */
	int expire_pct;			/* update at this % of the validity */
};

/* The defaults: every field unset, timeout and expire-time as above. */
void device_session_cfg_init(struct device_session_cfg *cfg);

/* 1 if TEXT is a CA name a request can carry, else 0 with *e. */
int device_ca_name_ok(const char *text, struct pk_err *e);
/* 1 if URL (with ESC, "\x3f" stands for '?') is a server URL we can use, else 0
 * with *e. */
int device_url_ok(const char *url, int esc, struct pk_err *e);

/* ==== results and events ==== */

/* What a request did, for the console's lines and `display pki cmp session`. */
struct device_result {
	int sent;			/* the request went out (it is counted) */
	int ok;
	char cert_file[300];		/* where the certificate was saved */
	int ncapubs;			/* SESSION_ca0.cer ... written */
	char serial[100];
	char not_before[40], not_after[40];	/* pk_time_text */
	time_t nb, na;
	long status;			/* PKIStatus of the answer, -1 none */
	char status_name[32];		/* "accepted", "rejection", ... */
	char failinfo[256];		/* names, comma separated, "" none */
	char status_text[512];
	int unauthenticated;		/* the error answer was not authenticated */
	int key_replaced;		/* regenerate: the key pair was replaced */
	int polled;
	int auth_cert_changed;		/* KUR: the session now signs with cert_file */
	int local_record;		/* the store's local certificate cert_file:
					 * 1 imported now (the successor of an
					 * imported authentication certificate),
					 * 2 replaced (it was imported), 0 none */
};

enum device_event_kind {
	DEVICE_EV_PROGRESS,		/* text: a step of a console request */
	DEVICE_EV_AU_START,		/* an automatic update began (regenerate) */
	DEVICE_EV_AU_DONE,		/* it succeeded (result) */
	DEVICE_EV_AU_FAILED,		/* it failed (text, attempt, delay_ms) */
	DEVICE_EV_AU_NOT_STARTED,	/* it could not start (text, attempt, delay_ms) */
	DEVICE_EV_CERT_EXPIRED,		/* certificate file expired: no automatic update */
	DEVICE_EV_STATS_NOT_SAVED,	/* text */
	DEVICE_EV_DAEMON_START,		/* count: sessions with automatic update */
	DEVICE_EV_DAEMON_STOP,
	DEVICE_EV_ROOT_INSTALLED,	/* a new root CA certificate was installed
					 * (root: what it was, text: the old one) */
	DEVICE_EV_ROOT_FAILED,		/* an automatic root CA check failed or was
					 * refused (text, attempt, delay_ms) */
};

struct device_event {
	enum device_event_kind kind;
	const char *session;		/* its name, NULL for the daemon's events */
	const char *text;		/* the reason (a pk_err message) or progress */
	const char *file;		/* CERT_EXPIRED: the certificate file */
	const struct device_result *result;	/* AU_DONE */
	int regenerate;			/* AU_START: with a new key pair */
	int attempt;			/* AU_FAILED, AU_NOT_STARTED: 1, 2, ... */
	int64_t delay_ms;		/* AU_FAILED, AU_NOT_STARTED: next attempt in;
					 * -1: none (automatic update disabled) */
	size_t count;			/* DAEMON_START */
	const struct device_root_update *root;	/* ROOT_INSTALLED */
};

typedef void (*device_event_fn)(void *arg, const struct device_event *ev);

/* ==== the device ==== */

/* The injectable parts of the automatic update. A NULL member is the real one. */
struct device_ops {
	/* The clock: ms since the epoch (the real one: the wall clock). */
	int64_t (*now)(void *arg);
	/* Validity of the certificate FILE (the real one: flash:/pki/public/FILE). */
	int (*validity)(void *arg, const char *file, time_t *not_before,
	    time_t *not_after, struct pk_err *e);
	/* Starts the KUR of session S. 0: started, its end comes back through
	 * device_kur_done() from the event loop; -1 with *e: it could not start.
	 * (The real one prepares the job here, runs the network part in a worker
	 * thread and stores the result when it comes back.) */
	int (*kur_start)(void *arg, struct device *d, struct device_session *s,
	    struct pk_err *e);
	/* Starts the root CA check of session S (RFC 9483 4.3.2), the same way:
	 * its end comes back through device_root_done(). The real one needs the
	 * PKI store: a device without one and without this makes no checks. */
	int (*root_start)(void *arg, struct device *d, struct device_session *s,
	    struct pk_err *e);
	void *arg;
};

/* A device over ST and P (both may be NULL in tests: no statistics file, no
 * key-in-use check, no real requests). Loads the statistics from the store and
 * makes the event loop. OPS may be NULL. */
int device_new(struct device **out, struct storage *st, struct pki *p,
    const struct device_ops *ops, struct pk_err *e);
/* Asks running updates to stop, waits for them, frees everything. NULL is fine. */
void device_free(struct device *d);
void device_set_event_fn(struct device *d, device_event_fn fn, void *arg);
/* The event loop (timers of the scheduler; front ends wait through it). */
struct loop *device_loop(struct device *d);
/* The device's clock, ms since the epoch. */
int64_t device_now(const struct device *d);

/* ==== entities (the console tells the device its configured entities) ==== */

/* Creates or replaces entity ENT->name (copied). */
void device_entity_set(struct device *d, const struct pki_entity *ent);
void device_entity_remove(struct device *d, const char *name);
/* Entity NAME (case-insensitive), borrowed until it changes; NULL if none. */
const struct pki_entity *device_entity_find(const struct device *d,
    const char *name);
/* The name of a CMP session that uses entity NAME, or NULL. */
const char *device_entity_user(const struct device *d, const char *name);
/* The name of a CMP session that uses key pair NAME, or NULL (the console checks
 * it before asking whether to destroy or replace the key pair). */
const char *device_key_user(const struct device *d, const char *name);

/* ==== CMP sessions ==== */

/* Creates session CFG->name or changes its configuration (copied). When the
 * inputs of its automatic update change (enabled, certificate, expire-time), its
 * next update is computed again. */
void device_session_set(struct device *d, const struct device_session_cfg *cfg);
/* The session is no longer configured: no automatic update; its statistics stay. */
void device_session_remove(struct device *d, const char *name);
/* Configured session NAME (case-insensitive), or NULL. */
struct device_session *device_session_find(struct device *d, const char *name);
/* The configured sessions, in the order they were configured. */
size_t device_session_count(const struct device *d);
struct device_session *device_session_at(struct device *d, size_t i);
/* Its configuration (borrowed until it changes). */
const struct device_session_cfg *device_session_cfg(const struct device_session *s);

struct device_session_status {
	const char *state;		/* idle, waiting, polling, updating */
	const char *last;		/* the last result, one line, "" none */
	time_t next_update;		/* automatic update, 0 none */
	const char *next_note;		/* why (retry, last error), "" none */
	unsigned long sent[DEVICE_REQ_N], failed[DEVICE_REQ_N];
};
/* Borrowed strings, valid until the session changes. */
void device_session_status(const struct device_session *s,
    struct device_session_status *out);
/* 1 while session NAME has a transaction in progress. */
int device_session_busy(struct device *d, const char *name);
/* Asks the transaction of session NAME (a console request, or an automatic
 * update in the background) to stop, in whatever phase it is (connecting,
 * waiting for the answer, polling): 1 asked, 0 none is under way, -1 no such
 * session. The transaction ends within ~100 ms as a failure. */
int device_session_stop(struct device *d, const char *name);

/* Runs KIND for session NAME and stores what came back (certificate file, caPubs,
 * with regenerate the new key pair; a KUR's certificate becomes the session's
 * authentication certificate, and when the old one was an imported local
 * certificate the new one is imported too). An IR is protected as the session's
 * origin-authentication-method says; CR and KUR are always signed with the
 * authentication certificate's key. A KUR whose certificate has expired or is not
 * yet valid is refused before anything is sent. CANCELLED(ARG) (may be NULL) is
 * asked while it waits. 0 success (*r filled); -1 with *e, and *r as far as known
 * (r->sent: the request went out, was counted and failed; else *e says what is
 * missing or refused, and nothing was counted). Progress is reported as
 * DEVICE_EV_PROGRESS events. */
int device_request(struct device *d, const char *name, enum device_req kind,
    int (*cancelled)(void *arg), void *arg, struct device_result *r,
    struct pk_err *e);
/* ==== CA certificates from the CA (genm caCerts, RFC 9483 4.3.1) ==== */

#define DEVICE_CA_CERTS_MAX	64	/* a genp with more is refused */

/* One certificate that came, and where it was saved. */
struct device_ca_cert {
	char file[300];			/* SESSION_caN.cer in flash:/pki/public */
	struct pki_cert_info info;	/* subject, issuer, validity, SHA-256 */
};

/* What device_ca_certs() did. */
struct device_ca_certs {
	int sent;			/* the genm went out */
	size_t n;			/* certificates saved (0: the CA has none) */
	struct device_ca_cert *certs;	/* n of them; device_ca_certs_clear() */
	long status;			/* PKIStatus of an error answer, -1 none */
	char status_name[32];
	char failinfo[256];
	char status_text[512];
	int unauthenticated;		/* the error answer was not authenticated */
};
void device_ca_certs_clear(struct device_ca_certs *r);

/* Asks the CA of session NAME for its CA certificates: a genm with
 * id-it-caCerts (RFC 9483 4.3.1), protected as the session's IR is
 * (origin-authentication-method: MAC with the session's secret and integrity
 * algorithm, or signature with the authentication certificate's key); the
 * genp is checked like any response (DESIGN "Trust rules": MAC with the
 * secret, or a signer that is the verification-cert or chains to an imported
 * CA certificate and speaks for the CA). The certificates are saved, in the
 * order they came, as flash:/pki/public/NAME_ca0.cer, NAME_ca1.cer ... (PEM,
 * each write atomic) and NOT imported: the operator checks them (their
 * fingerprints) and imports what he trusts. Needs a server URL and the
 * protection's settings, no entity and no key pair. CANCELLED as for
 * device_request. 0 success (r->n may be 0: the CA has none to send); -1 with
 * *e (r->sent: the genm went out; the error names the CA's answer, or that
 * the genp held no caCerts). Progress as DEVICE_EV_PROGRESS events. */
int device_ca_certs(struct device *d, const char *name,
    int (*cancelled)(void *arg), void *arg, struct device_ca_certs *r,
    struct pk_err *e);

/* ==== root CA key update (rootca.c; RFC 9480 2.15, RFC 9483 4.3.2) ==== */

#define DEVICE_ROOT_CHECK_MS	(24 * 3600 * 1000LL)	/* daily */

/* What a root CA check did. */
struct device_root_update {
	int sent;			/* the genm went out */
	int answered;			/* the genp held id-it-rootCaKeyUpdate */
	int no_answer;			/* a genp without it: the CA does not
					 * support the question */
	int update;			/* with a value: the CA rolled its root */
	int installed;			/* the new root was installed now */
	int known;			/* the new root was imported already */
	char old_root[300];		/* the imported root asked about (record) */
	char file[300];			/* the new root's file and record */
	struct pki_cert_info info;	/* the new root */
	long status;			/* PKIStatus of an error answer, -1 none */
	char status_name[32];
	char failinfo[256];
	char status_text[512];
	int unauthenticated;
};

/* Asks the CA of session NAME whether its root CA key was updated: a genm
 * with id-it-rootCaCert holding the root the session trusts (RFC 9483 4.3.2;
 * the root installed by the session's last update, else the root that its
 * verification-cert or authentication certificate chains to among the
 * imported CA certificates, else the one imported self-signed CA
 * certificate), protected and checked like device_ca_certs(). A genp with
 * id-it-rootCaKeyUpdate and no value: no update. With a value the rollover
 * is verified (rootca_verify: newWithNew a self-signed CA certificate, valid;
 * newWithOld signed by the old root's key, holding newWithNew's key and
 * subject; oldWithNew, if present, holding the old root's key, signed by the
 * new) and only then the new root is written as
 * flash:/pki/public/NAME_root_XXXXXXXX.cer (the first 8 hex digits of its
 * SHA-256 fingerprint) and imported as a CA certificate in the old root's
 * realm, beside the old root (which stays: what it issued still chains to
 * it). -1 with *e: nothing installed (a genp without rootCaKeyUpdate: "the
 * CA did not answer rootCaKeyUpdate"). */
int device_root_ca_update(struct device *d, const char *name,
    int (*cancelled)(void *arg), void *arg, struct device_root_update *r,
    struct pk_err *e);

/* A session's root CA checks, for `display pki cmp session`. */
struct device_root_status {
	time_t checked;			/* the last check, 0 none */
	const char *result;		/* its result, one line */
	const char *fingerprint;	/* the root installed, "" none */
	const char *file;		/* its record, "" none */
	time_t next;			/* the next automatic check, 0 none */
};
void device_root_status(const struct device_session *s,
    struct device_root_status *out);

/* The file that KIND's certificate of session NAME is saved as ("S_ir.cer") into
 * BUF; the console asks before a request overwrites an existing one. */
const char *device_result_file(const char *name, enum device_req kind, char *buf,
    size_t n);
/* Zeroes the statistics of session NAME (NULL: all) and saves them; -1 with *e
 * when they could not be saved (they are zero in memory). */
int device_stats_reset(struct device *d, const char *name, struct pk_err *e);
/* Validity of the authentication certificate NAME through the device (its ops).
 * A session's authentication certificate is the imported local certificate
 * recorded as NAME, else the file flash:/pki/public/NAME: the file is only the
 * way in, deleting it after `pki import-certificate local` changes nothing. */
int device_cert_validity(struct device *d, const char *file, time_t *not_before,
    time_t *not_after, struct pk_err *e);
/* Describes the authentication certificate NAME found that way (info->key_name:
 * the key pair it belongs to, "" none); -1 with *e when there is none. */
int device_auth_cert_info(struct device *d, const char *name,
    struct pki_cert_info *info, struct pk_err *e);

/* ==== automatic update (autoupdate.c) ====
 * A session with auto-update enabled gets a timer at
 *   notBefore + expire-time% x (notAfter - notBefore)
 * of its authentication certificate (at once when that is past). A failed update
 * is retried after a tenth of the validity (1 s to 30 s), doubling up to one hour.
 * An expired certificate is reported (DEVICE_EV_CERT_EXPIRED) and not retried. */

/* The end of a KUR started through device_ops.kur_start: R (ok) success, else the
 * failure *E. Reschedules the session. */
void device_kur_done(struct device *d, struct device_session *s,
    const struct device_result *r, const struct pk_err *e);

/* Root CA checks: a session with auto-update enabled asks at once, then every
 * DEVICE_ROOT_CHECK_MS; a failed check (no answer, refused) is retried after
 * 30 s, doubling up to one hour; a CA that answers without rootCaKeyUpdate is
 * asked again the next day. The end of a check started through
 * device_ops.root_start: R (may be NULL) and RC 0 checked, else the failure
 * *E (R->sent: it reached the CA). */
void device_root_done(struct device *d, struct device_session *s, int rc,
    const struct device_root_update *r, const struct pk_err *e);

/* ==== daemon mode (daemon.c) ==== */

/* Runs the event loop (automatic updates) until SIGTERM or SIGINT; reports its
 * start and stop as events. */
int device_daemon_run(struct device *d);

/* ==== update journal (enrol.c) ==== */

/* Completes certificate updates that a crash interrupted (their journals in the
 * store), appending one line per journal to REPORT. -1 if one could not be
 * completed (it stays for the next start). */
int device_journal_recover(struct pki *p, struct storage *st, struct sbuf *report);

/* ==== event loop (loop.c) ==== */

struct loop_timer {
	int64_t when;		/* ms since the epoch, on the loop's clock */
	size_t idx;		/* heap position */
	int armed;
	void (*fn)(void *arg);
	void *arg;
};

/* A loop reading time from NOW(ARG) (NULL: the wall clock). */
struct loop *loop_new(int64_t (*now)(void *arg), void *arg);
void loop_free(struct loop *l);
int64_t loop_now(const struct loop *l);
/* Arms (or re-arms) T at WHEN; its fn runs from loop_wait once due. */
void loop_timer_set(struct loop *l, struct loop_timer *t, int64_t when);
void loop_timer_cancel(struct loop *l, struct loop_timer *t);
size_t loop_timer_count(const struct loop *l);
/* When the earliest timer is due, -1 when none is armed. */
int64_t loop_next(const struct loop *l);
/* Runs the timers due by the loop's clock now (a fake clock's driver calls it). */
void loop_run_due(struct loop *l);
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
