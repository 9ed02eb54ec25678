/*
 * ca_int: internals of the CA responder core, private to ca/ (and its tests):
 * the SQLite database (ca_db.c), CA material and issuance (ca_issue.c), the
 * in-process entry of the protocol (ca_server.c). Not part of the module
 * interface (ca.h).
 *
 * Serial numbers are text in the database: upper-case hex, an even number of
 * digits, as `openssl x509 -serial` prints them. transactionIDs and nonces:
 * lower-case hex.
 */
#ifndef PKISH_CA_INT_H
#define PKISH_CA_INT_H

#include <stdint.h>

#include <openssl/x509v3.h>

#include "../cmp/cmp.h"
#include "ca.h"

/* --- database (ca_db.c) ---
 * One SQLite connection per struct ca_db, shared by all server threads and
 * serialized by a mutex inside; every call is one SQL transaction, so a crash
 * leaves each call done or not done. WAL mode and a busy timeout let other
 * processes (another handle, the sqlite3 program) read and write alongside. */
struct ca_db;

/* RFC 4210 5.1.1 transactionID life: a request creates the row; pollReq and
 * certConf find it; any reuse of a known transactionID is transactionIdInUse. */
enum ca_txn_state {
	CA_TXN_POLLING,		/* request accepted, answer pending: pollReq expected */
	CA_TXN_ISSUED,		/* certificate sent, certConf expected */
	CA_TXN_CONFIRMED,	/* certConf accepted (or implicitConfirm) */
	CA_TXN_REJECTED,	/* request refused, or certConf rejected the cert */
	CA_TXN_CLOSED,		/* finished without a certificate (rr, genm, error) */
	CA_TXN_EXPIRED		/* not confirmed in time: certificate revoked */
};

struct ca_txn {
	char *tid;			/* transactionID, lower-case hex */
	enum ca_txn_state state;
	int body_type;			/* the request's enum cmp_body_type */
	char *sender_nonce;		/* the client's latest senderNonce (hex) or NULL */
	char *server_nonce;		/* our latest senderNonce (hex) or NULL */
	char *cert_serial;		/* the certificate issued, or NULL */
	unsigned char *request;		/* the request's DER (kept for polling) or NULL */
	size_t request_len;
	int poll_count;
	int64_t created, updated;	/* Unix seconds; set by the database */
	char *profile;			/* the profile whose path it came on
					 * (set at creation only) */
	char *owner;			/* who opened it (set at creation only):
					 * "mac:REF" or "cert:SHA-256 of the
					 * signer's DER" in hex; NULL in rows
					 * older than schema 3 */
};

struct ca_cert_rec {
	char *serial;			/* upper-case hex */
	char *subject, *issuer;		/* text (util name style), informational */
	int64_t not_before, not_after, issued_at;	/* Unix seconds */
	unsigned char *der;
	size_t der_len;
	char *tid;			/* requesting transaction or NULL */
	int revoked;
	int64_t revoked_at;
	int reason;			/* CRLReason, -1 when not revoked */
};

/* Opens (creating, schema migrating) the database at PATH. */
int ca_db_open(struct ca_db **out, const char *path, struct pk_err *e);
void ca_db_close(struct ca_db *db);
/* The schema version of this code and of an open database. */
#define CA_DB_SCHEMA 3
int ca_db_schema(struct ca_db *db);

/* A batch: the calls between begin and end (from the calling thread; other
 * threads wait) are one SQL transaction, committed by end when OK and every
 * step succeeded, else rolled back (end returns -1). What one CMP message
 * changes is one batch: one commit, all or nothing. */
int ca_db_batch_begin(struct ca_db *db, struct pk_err *e);
int ca_db_batch_end(struct ca_db *db, int ok, struct pk_err *e);
/* A fresh serial: random, positive, 72 bits (RFC 5280 4.1.2.2), recorded in the
 * database so it is never handed out again (insert, retry on collision). *serial is
 * new (ASN1_INTEGER_free). */
int ca_db_new_serial(struct ca_db *db, ASN1_INTEGER **serial, struct pk_err *e);
/* Reserves the serial HEX. 0 reserved, 1 already taken, -1 error. */
int ca_db_reserve_serial(struct ca_db *db, const char *hex, struct pk_err *e);
/* Canonical hex of a serial (new string, free()); NULL on error. */
char *ca_serial_hex(const ASN1_INTEGER *serial);

/* Records an issued certificate (reserving its serial if needed) for transaction
 * TID (may be NULL). A second certificate with the same serial is an error. */
int ca_db_add_cert(struct ca_db *db, X509 *x, const char *tid, struct pk_err *e);
/* Finds by serial hex (any case, leading zeros ignored): 0 found (*r filled; clear
 * it with ca_cert_rec_clear), 1 not found, -1 error. */
int ca_db_find_cert(struct ca_db *db, const char *serial, struct ca_cert_rec *r,
    struct pk_err *e);
/* Same by CertId (issuer name + serial, RFC 4211 6.5 / RFC 4210 5.3.9): the issuer
 * (the directoryName of the CertId's GeneralName) must equal the recorded
 * certificate's issuer (X509_NAME_cmp). */
int ca_db_find_cert_id(struct ca_db *db, const X509_NAME *issuer,
    const ASN1_INTEGER *serial, struct ca_cert_rec *r, struct pk_err *e);
void ca_cert_rec_clear(struct ca_cert_rec *r);
/* The record's certificate, decoded (new, X509_free); NULL on error. */
X509 *ca_cert_rec_get1_x509(const struct ca_cert_rec *r);
/* CRLReason values with a meaning of their own (RFC 5280 5.3.1). */
#define CA_CRL_HOLD		6	/* certificateHold: revoked until released */
#define CA_CRL_REMOVE		8	/* removeFromCRL: releases a hold */
/* Changes the revocation state of SERIAL by CRLReason REASON (-1: none):
 * removeFromCRL releases a certificate on hold (valid again); any other reason
 * revokes a valid certificate, or turns a hold into a revocation for REASON.
 * 0 done, 1 unknown serial, 2 already revoked (or on hold, for a second
 * certificateHold), 3 removeFromCRL but the certificate is not on hold, -1
 * error. */
int ca_db_revoke(struct ca_db *db, const char *serial, int reason,
    struct pk_err *e);
/* 1 revoked, 0 valid (issued, not revoked), -1 unknown serial or error. */
int ca_db_is_revoked(struct ca_db *db, const char *serial, struct pk_err *e);
/* Number of certificates issued. */
int ca_db_count_certs(struct ca_db *db, long *n, struct pk_err *e);

/* Records a new transaction T (tid required): 0 created, 1 transactionID in use
 * (RFC 4210 5.1.1: transactionIdInUse), -1 error. */
int ca_db_txn_new(struct ca_db *db, const struct ca_txn *t, struct pk_err *e);
/* 0 found (*t filled; ca_txn_clear it), 1 not found, -1 error. */
int ca_db_txn_get(struct ca_db *db, const char *tid, struct ca_txn *t,
    struct pk_err *e);
/* Writes state, nonces, cert_serial, request, poll_count of T->tid; updated=now.
 * 1 if no such transaction. */
int ca_db_txn_update(struct ca_db *db, const struct ca_txn *t, struct pk_err *e);
/* The sweep (all at once, one SQL transaction): transactions issued or
 * polling whose last message is older than WAIT seconds before NOW get their
 * certificate revoked (reason unspecified; *revoked counts them) and become
 * expired; finished ones (confirmed, rejected, closed, expired) older than
 * WAIT lose their request DER, and those older than RETENTION are deleted
 * (*pruned). */
int ca_db_txn_sweep(struct ca_db *db, int64_t now, int64_t wait,
    int64_t retention, long *revoked, long *pruned, struct pk_err *e);
/* Atomically increments poll_count of TID; *count gets the new value. */
int ca_db_txn_poll(struct ca_db *db, const char *tid, int *count,
    struct pk_err *e);
void ca_txn_clear(struct ca_txn *t);
const char *ca_txn_state_name(enum ca_txn_state s);

/* --- CA material and issuance (ca_issue.c) --- */

/* A profile as served: its configuration and what ca_open loaded for it. */
struct ca_prof {
	const struct ca_profile *cfg;
	char *secret;			/* the PBM secret; NULL: no MAC accepted */
	char *secret_path;		/* the file it was read from, or NULL */
	char *admin_secret;		/* admin-secret-file's text, or NULL */
	X509_STORE *trust;		/* its trust anchors (full chains), or NULL */
};

/* The profiles, [0] the default one, in the config's order. */
size_t ca_nprofs(const struct ca *ca);
const struct ca_prof *ca_get0_prof(const struct ca *ca, size_t i);
/* The profile serving URL PATH (ca_config_route), NULL for none. */
const struct ca_prof *ca_route(const struct ca *ca, const char *path);

const struct ca_config *ca_get0_config(const struct ca *ca);
EVP_PKEY *ca_get0_key(const struct ca *ca);
struct ca_db *ca_get0_db(const struct ca *ca);
/* Protection signer (the CA unless --signer-cert/--signer-key). */
X509 *ca_get0_signer_cert(const struct ca *ca);
EVP_PKEY *ca_get0_signer_key(const struct ca *ca);
/* --extra-certs (empty stack when none); the default profile's trust store
 * (NULL when none). */
STACK_OF(X509) *ca_get0_extra_certs(const struct ca *ca);
X509_STORE *ca_get0_trust(const struct ca *ca);
/* extraCerts of a signed response after the signer's certificate (RFC 9483
 * 3.3): the CA certificate when another signs, the chain's intermediates, the
 * other --extra-certs; never the self-signed root. */
STACK_OF(X509) *ca_get0_resp_chain(const struct ca *ca);
/* caPubs of an ip (RFC 4210 5.3.2): --capubs, else the chain's root, else the
 * CA certificate. */
STACK_OF(X509) *ca_get0_capubs(const struct ca *ca);

/* Issues a v3 end-entity certificate for PUB (public part used; SPKI, when not
 * NULL, is PUB as the request encoded it, copied as it is) with SUBJECT and
 * optional SAN (critical when SUBJECT is empty, RFC 5280 4.2.1.6), valid now for
 * VALIDITY seconds (the default profile's when <= 0), with a fresh database serial,
 * basicConstraints CA:FALSE, keyUsage (digitalSignature + keyEncipherment for RSA,
 * + keyAgreement for EC), SKI, AKI, signed SHA-256 by the CA key and recorded in
 * the database for transaction TID (may be NULL). *out is new (X509_free).
 * The issuing policy that holds whatever the profile says is checked first:
 * the key is RSA of at least CA_MIN_RSA_BITS, EC P-256, P-384 or P-521, Ed25519
 * or Ed448 (ca_key_policy); the subject is not the name of a CA of this CA's
 * chain (nor the response signer's, nor the rollover's roots): RFC 5280
 * 4.1.2.6; an empty subject needs a SAN. Returns 0, -2 when the request is
 * refused by that policy (a bad template, *e says which rule), -1 on other
 * failures. */
#define CA_MIN_RSA_BITS	2048
int ca_key_policy(EVP_PKEY *pub, struct pk_err *e);
int ca_issue(struct ca *ca, EVP_PKEY *pub, const X509_PUBKEY *spki,
    const X509_NAME *subject, const GENERAL_NAMES *san, long validity,
    const char *tid, X509 **out, struct pk_err *e);

/* Reads every certificate of a PEM (or one DER) file. */
int ca_load_certs(const char *file, STACK_OF(X509) **out, struct pk_err *e);
/* Reads a private key (PEM or DER, unencrypted). */
int ca_load_key(const char *file, EVP_PKEY **out, struct pk_err *e);


/* --- failed authentications per client address (ca_lockout.c) ---
 * A table of NSLOTS addresses at most (allocated once; when full, the address
 * whose last failure is the oldest is dropped): LIMIT failures within
 * WINDOW_S seconds (from the first) lock an address for WINDOW_S seconds from
 * the failure that reached LIMIT; only time ends a lock. LIMIT <= 0: nothing
 * is ever locked. NOW: milliseconds of a monotonic clock (pk_mono_ms; tests
 * pass their own). An address NULL or "" is never counted. Thread-safe. */
struct ca_lockout;
struct ca_lockout *ca_lockout_new(size_t nslots, int limit, long window_s);
void ca_lockout_free(struct ca_lockout *l);
/* The milliseconds ADDR stays locked from NOW, 0 when it is not locked. */
int64_t ca_lockout_check(struct ca_lockout *l, const char *addr, int64_t now);
/* Counts a failure of ADDR at NOW: 1 when this one locked it (log once), else
 * 0; *left (may be NULL) the milliseconds it is locked for, 0 when not. */
int ca_lockout_fail(struct ca_lockout *l, const char *addr, int64_t now,
    int64_t *left);
/* Slots that still count at NOW (a window or a lock not over). */
size_t ca_lockout_used(struct ca_lockout *l, int64_t now);

/* --- the protocol (ca_server.c) --- */

/* One request R (DER, as received, on R->route's profile, a const struct
 * ca_prof *, NULL: the default profile; from R->peer, NULL: in-process, not
 * limited) -> the protected response *out (new). -1 only when no response at
 * all could be built (then HTTP 500). */
int ca_server_process(struct ca_server *s, const struct ca_req *r,
    CMP_PKIMESSAGE **out, struct pk_err *e);
/* The sweep of transactions (ca_db_txn_sweep with the configured confirm-wait
 * and retention) as of NOW (Unix seconds); serialized with certConf. Run by
 * ca_server_process at most every CA_SWEEP_EVERY seconds; the counts go to
 * *revoked and *pruned (either may be NULL). */
#define CA_SWEEP_EVERY	10
int ca_server_sweep(struct ca_server *s, int64_t now, long *revoked,
    long *pruned, struct pk_err *e);

#endif
