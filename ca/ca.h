/*
 * ca: the CA responder core of cmpca (over the cmp/ protocol engine).
 *
 * Pieces: configuration and the SQLite database (ca_db.c), CA key material and
 * issuance (ca_issue.c), the HTTP front with libmicrohttpd (ca_http.c), the
 * protocol answering requests (ca_server.c).
 *
 * Conventions: 0 success, -1 failure with struct pk_err filled (util/util.h).
 * This module never prints.
 */
#ifndef PKISH_CA_H
#define PKISH_CA_H

#include "../cmp/cmp.h"

/* ==== 2. CA responder core =========================================== */
/*
 * The CA responder `cmpca` minus its protocol: configuration, the SQLite database
 * (ca_db.c), CA key material and issuance (ca_issue.c), the HTTP front with
 * libmicrohttpd (ca_http.c). The protocol (cmp_server.c) plugs in as a
 * ca_http_handler_fn and uses struct ca for material, issuance and the database.
 *
 * DIR layout (DIR created 0700 when missing):
 *   DIR/ca.db      SQLite database (WAL): serials, certs, transactions
 *   DIR/ca.crt     CA certificate (PEM), DIR/ca.key CA key (PEM PKCS#8, 0600),
 *                  both created on the first run unless --ca-cert/--ca-key are given
 *   DIR/secret     the default PBM secret (0600), created on the first run
 * Serial numbers are text in the database: upper-case hex, an even number of digits,
 * as `openssl x509 -serial` prints them. transactionIDs and nonces: lower-case hex.
 */
#include <openssl/x509v3.h>

#define CA_DEFAULT_DIR		"cmpca.d"
#define CA_DEFAULT_LISTEN	"127.0.0.1:8080"
#define CA_DEFAULT_REF		"cmpca"
#define CA_DEFAULT_VALIDITY	(365L * 86400)	/* seconds */
#define CA_DEFAULT_THREADS	4
#define CA_DEFAULT_TIMEOUT	30		/* idle seconds per connection */
#define CA_DEFAULT_CHECK_AFTER	1		/* pollRep checkAfter, seconds */
#define CA_MAX_REQUEST		(256u * 1024)	/* request body cap: 413 above */

/* cmpca's options. Strings are borrowed (argv) and must outlive struct ca. */
struct ca_config {
	const char *dir;
	const char *listen;		/* "ADDR:PORT", "[V6]:PORT"; port 0 = any */
	const char *ref;		/* PBM reference (senderKID); NULL: default */
	const char *secret;		/* PBM secret; NULL: DIR/secret */
	const char *ca_cert, *ca_key;	/* both or neither; NULL: DIR/ca.{crt,key} */
	const char *signer_cert, *signer_key; /* response signer; NULL: the CA */
	const char *extra_certs;	/* NULL or PEM file: extraCerts of responses */
	const char **trust;		/* ntrust PEM files: roots for signed requests */
	size_t ntrust;
	long validity;			/* of issued certificates, seconds */
	int poll;			/* answer "waiting" this many times first (0 none) */
	int check_after;		/* seconds, pollRep checkAfter */
	int implicit_confirm;		/* 1: grant implicitConfirm when asked */
	int threads;			/* HTTP worker threads */
	int timeout;			/* per-connection idle timeout, seconds */
	size_t max_request;		/* request body cap, bytes */
};

/* Defaults as above; trust empty. */
void ca_config_init(struct ca_config *c);
/* Frees what ca_config_add_trust allocated (not the borrowed strings). */
void ca_config_clear(struct ca_config *c);
/* Appends a --trust file name (borrowed). */
void ca_config_add_trust(struct ca_config *c, const char *file);

/* Parses a validity: "20s", "10m", "2h", "30d", or a bare number of days. The
 * result is > 0 and at most 100 years. */
int ca_parse_duration(const char *s, long *secs, struct pk_err *e);

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
	CA_TXN_CLOSED		/* finished without a certificate (rr, genm, error) */
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
};

struct ca_cert_rec {
	char *serial;			/* upper-case hex */
	char *subject, *issuer;		/* RFC 2253 text */
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
#define CA_DB_SCHEMA 1
int ca_db_schema(struct ca_db *db);

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
/* Revokes: 0 done, 1 unknown serial, 2 already revoked, -1 error. */
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
/* Atomically increments poll_count of TID; *count gets the new value. */
int ca_db_txn_poll(struct ca_db *db, const char *tid, int *count,
    struct pk_err *e);
void ca_txn_clear(struct ca_txn *t);
const char *ca_txn_state_name(enum ca_txn_state s);

/* --- CA material and issuance (ca_issue.c) --- */
struct ca;

/* Opens the CA of CFG (borrowed, must outlive the ca): creates DIR, opens the
 * database, loads the CA key and certificate (explicit files, or DIR/ca.*; on a
 * first run creates an EC P-256 key and a self-signed v3 CA certificate, written
 * atomically), the PBM secret (creating DIR/secret), signer, extraCerts, trust. */
int ca_open(struct ca **out, const struct ca_config *cfg, struct pk_err *e);
void ca_close(struct ca *ca);
/* 1 when this ca_open created the CA key and certificate. */
int ca_created(const struct ca *ca);
/* Borrowed; valid while the ca is open. secret_path is NULL when --secret given. */
const char *ca_cert_path(const struct ca *ca);
const char *ca_key_path(const struct ca *ca);
const char *ca_db_path(const struct ca *ca);
const char *ca_secret_path(const struct ca *ca);
const char *ca_get0_ref(const struct ca *ca);
const char *ca_get0_secret(const struct ca *ca);
const struct ca_config *ca_get0_config(const struct ca *ca);
X509 *ca_get0_cert(const struct ca *ca);
EVP_PKEY *ca_get0_key(const struct ca *ca);
struct ca_db *ca_get0_db(const struct ca *ca);
/* Protection signer (the CA unless --signer-cert/--signer-key). */
X509 *ca_get0_signer_cert(const struct ca *ca);
EVP_PKEY *ca_get0_signer_key(const struct ca *ca);
/* --extra-certs (empty stack when none); trust store of --trust (NULL when none). */
STACK_OF(X509) *ca_get0_extra_certs(const struct ca *ca);
X509_STORE *ca_get0_trust(const struct ca *ca);

/* Issues a v3 end-entity certificate for PUB (public part used) with SUBJECT and
 * optional SAN (critical when SUBJECT is empty, RFC 5280 4.2.1.6), valid now for
 * VALIDITY seconds (the config's when <= 0), with a fresh database serial,
 * basicConstraints CA:FALSE, keyUsage (digitalSignature + keyEncipherment for RSA,
 * + keyAgreement for EC), SKI, AKI, signed SHA-256 by the CA key and recorded in
 * the database for transaction TID (may be NULL). *out is new (X509_free). */
int ca_issue(struct ca *ca, EVP_PKEY *pub, const X509_NAME *subject,
    const GENERAL_NAMES *san, long validity, const char *tid, X509 **out,
    struct pk_err *e);

/* Reads every certificate of a PEM (or one DER) file. */
int ca_load_certs(const char *file, STACK_OF(X509) **out, struct pk_err *e);
/* Reads a private key (PEM or DER, unencrypted). */
int ca_load_key(const char *file, EVP_PKEY **out, struct pk_err *e);

/* --- HTTP front (ca_http.c), RFC 6712 ---
 * The handler gets one request body (DER) and returns 0 with a malloc()ed DER
 * response (freed by the caller), sent with 200 and application/pkixcmp; -1 makes
 * a 500. Called from several threads at once. */
typedef int (*ca_http_handler_fn)(void *arg, const unsigned char *req, size_t len,
    unsigned char **rsp, size_t *rsp_len);
struct ca_http;

/* Listens on LISTEN ("ADDR:PORT", "[V6]:PORT"; port 0 picks one) with THREADS
 * workers, TIMEOUT idle seconds per connection, MAX_REQUEST body bytes. */
int ca_http_start(struct ca_http **out, const char *listen, int threads,
    int timeout, size_t max_request, ca_http_handler_fn fn, void *arg,
    struct pk_err *e);
/* The bound port, and "http://ADDR:PORT/" (borrowed). */
int ca_http_port(const struct ca_http *h);
const char *ca_http_url(const struct ca_http *h);
/* Stops accepting, finishes running requests, frees. Accepts NULL. */
void ca_http_stop(struct ca_http *h);

/* --- the protocol (cmp_server.c), RFC 4210 / 4211 ---
 * Answers ir cr kur p10cr certConf pollReq rr genm error as a CA: issuance with
 * ca_issue (POP checked), PBM (--ref/--secret) or signature authentication
 * (chain to the CA, or for ir to a --trust anchor), kur signed by the certificate
 * it updates, revocation, polling (--poll/--check-after), implicitConfirm
 * (--implicit-confirm), transactions and nonces tracked in the database.
 * Refusals are error messages with status rejection and the failInfo bit.
 * Responses: pvno 2, PBM like the request or signed by the signer (with its
 * certificate and --extra-certs in extraCerts). Thread-safe. */
struct cmp_server;

/* A server for CA (borrowed; must outlive the server). */
int cmp_server_new(struct cmp_server **out, struct ca *ca, struct pk_err *e);
void cmp_server_free(struct cmp_server *s);
/* One request (DER, as received) -> the protected response *out (new). -1 only
 * when no response at all could be built (then HTTP 500). */
int cmp_server_process(struct cmp_server *s, const unsigned char *der,
    size_t len, CMP_PKIMESSAGE **out, struct pk_err *e);
/* ca_http_handler_fn; ARG is the struct cmp_server. */
int cmp_server_handle(void *arg, const unsigned char *req, size_t len,
    unsigned char **rsp, size_t *rsp_len);


/* ==== end of 2. CA responder core ==================================== */

#endif
