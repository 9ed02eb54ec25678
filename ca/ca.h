/*
 * ca: the CA responder core of cmpca, the module's public interface: what the
 * cmpca program (tools/cmpca.c) uses.
 *
 *   configuration     struct ca_config, ca_config_init/_clear/_add_trust,
 *                     ca_parse_duration
 *   the CA            ca_open/ca_close and what cmpca prints (paths, reference,
 *                     secret, CA certificate)
 *   the protocol      ca_server_new/_free/_handle (RFC 4210/4211)
 *   the HTTP front    ca_http_start/_port/_url/_stop (RFC 6712, libmicrohttpd)
 *
 * Files: configuration and material (ca_issue.c), the SQLite database (ca_db.c),
 * the HTTP front (ca_http.c), the protocol (ca_server.c). The database, issuance
 * and transaction internals are in ca_int.h, private to ca/ and its tests.
 *
 * DIR layout (DIR created 0700 when missing):
 *   DIR/ca.db      SQLite database (WAL): serials, certs, transactions
 *   DIR/ca.crt     CA certificate (PEM), DIR/ca.key CA key (PEM PKCS#8, 0600),
 *                  both created on the first run unless --ca-cert/--ca-key are given
 *   DIR/secret     the default PBM secret (0600), created on the first run
 *
 * Conventions: 0 success, -1 failure with struct pk_err filled (util/util.h).
 * This module never prints.
 */
#ifndef PKISH_CA_H
#define PKISH_CA_H

#include <stddef.h>

#include <openssl/x509.h>

#include "../util/util.h"

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
	const char *extra_certs;	/* NULL or PEM file: the CA's chain and other
					 * certificates for extraCerts */
	const char *capubs;		/* NULL or PEM file: caPubs of an ip */
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

/* --- the CA: material, files (ca_issue.c) --- */
struct ca;

/* Opens the CA of CFG (borrowed, must outlive the ca): creates DIR, opens the
 * database, loads the CA key and certificate (explicit files, or DIR/ca.*; on a
 * first run creates an EC P-256 key and a self-signed v3 CA certificate, written
 * atomically), the PBM secret (creating DIR/secret), signer, extraCerts, trust. */
int ca_open(struct ca **out, const struct ca_config *cfg, struct pk_err *e);
/* Closes the database and frees. Accepts NULL. */
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
X509 *ca_get0_cert(const struct ca *ca);
/* The CA certificate's chain: the CA certificate first, then its issuers found
 * in --extra-certs and --trust, up to the self-signed root when known (then
 * ca_get0_root() is that root, else NULL). */
STACK_OF(X509) *ca_get0_chain(const struct ca *ca);
X509 *ca_get0_root(const struct ca *ca);

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

/* --- the protocol (ca_server.c), RFC 4210 / 4211 ---
 * Answers ir cr kur p10cr certConf pollReq rr genm error as a CA: issuance with
 * the requested key, subject and subjectAltName (POP checked), PBM (--ref/--secret)
 * or signature authentication (chain to the CA, or for ir to a --trust anchor),
 * kur signed by the certificate it updates, revocation, polling
 * (--poll/--check-after), implicitConfirm (--implicit-confirm), transactions and
 * nonces tracked in the database. Refusals are error messages with status
 * rejection and the failInfo bit. Responses: pvno 2, PBM like the request or
 * signed by the signer (with its certificate and --extra-certs in extraCerts).
 * Thread-safe. */
struct ca_server;

/* A server for CA (borrowed; must outlive the server). */
int ca_server_new(struct ca_server **out, struct ca *ca, struct pk_err *e);
/* Accepts NULL. */
void ca_server_free(struct ca_server *s);
/* ca_http_handler_fn: one request (DER, as received) -> the DER response;
 * ARG is the struct ca_server. */
int ca_server_handle(void *arg, const unsigned char *req, size_t len,
    unsigned char **rsp, size_t *rsp_len);

#endif
