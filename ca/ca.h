/*
 * ca: the CA responder core of cmpca, the module's public interface: what the
 * cmpca program (tools/cmpca.c) uses.
 *
 *   configuration     struct ca_config and its profiles: ca_config_init/_clear,
 *                     _set (one key), _load (cmpca.conf), _check, _describe,
 *                     _route (a URL path to its profile), ca_parse_duration
 *   the CA            ca_open/ca_check/ca_close and what cmpca prints (paths,
 *                     reference, secret, CA certificate and chain)
 *   the protocol      ca_server_new/_free/_handle (RFC 4210/4211)
 *   the HTTP front    ca_http_start/_port/_url/_stop (RFC 6712, libmicrohttpd)
 *
 * Files: configuration (ca_config.c), material and issuance (ca_issue.c), the
 * SQLite database (ca_db.c), the HTTP front (ca_http.c), the protocol
 * (ca_server.c). The database, issuance and transaction internals are in
 * ca_int.h, private to ca/ and its tests.
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
#define CA_DEFAULT_PROFILE	"default"
/* The default profile's paths: the root, the conventional /pkix/ and RFC 9811's
 * well-known URI. */
#define CA_DEFAULT_PATHS	{ "/", "/pkix/", "/.well-known/cmp" }
/* A named profile without a path is served at RFC 9811's labelled URI. */
#define CA_PROFILE_PATH_PREFIX	"/.well-known/cmp/p/"
#define CA_DEFAULT_VALIDITY	(365L * 86400)	/* seconds */
#define CA_DEFAULT_THREADS	4
#define CA_DEFAULT_TIMEOUT	30		/* idle seconds per connection */
#define CA_DEFAULT_PER_ADDRESS	16		/* connections per client address */
/* Failed authentications (a wrong MAC, a bad signature, an unknown reference
 * or signer) from one client address: this many within the window lock the
 * address out for the window (issue 11: no online guessing of the secret). */
#define CA_DEFAULT_AUTH_FAIL_LIMIT	10
#define CA_DEFAULT_AUTH_FAIL_WINDOW	60	/* seconds */
#define CA_LOCKOUT_SLOTS	1024		/* addresses tracked at most */
#define CA_ADDR_MAX		64		/* bytes of a numeric address */
#define CA_DEFAULT_CONFIRM_WAIT	300		/* seconds, RFC 4210 5.1.1.2 */
#define CA_DEFAULT_RETENTION	(7 * 86400)	/* seconds */
#define CA_DEFAULT_CHECK_AFTER	1		/* pollRep checkAfter, seconds */
#define CA_MAX_REQUEST		(256u * 1024)	/* request body cap: 413 above */
#define CA_MAX_KEY_TYPES	16
#define CA_MAX_PATH		256		/* bytes of one URL path */

/* Where a setting came from: the built-in default, cmpca.conf, the command line
 * (which overrides the file). */
enum ca_src { CA_SRC_DEFAULT = 0, CA_SRC_FILE, CA_SRC_ARGS };

/* A list setting (path, trust). */
struct ca_strlist {
	const char **v;
	size_t n;
	enum ca_src src;
};

/* A key type a profile certifies (RFC 4210 5.3.19.2 signKeyPairTypes, RFC 9483
 * 4.3.3 keySpec): an EVP_PKEY type and its parameter. */
struct ca_key_type {
	int type;		/* EVP_PKEY_RSA, EVP_PKEY_EC, EVP_PKEY_ED25519, _ED448 */
	int param;		/* RSA: the least modulus bits; EC: the curve NID */
};

/*
 * One CMP profile: the URL paths it is served at (RFC 6712 3.3 leaves the path
 * to the server; RFC 9811 3: /.well-known/cmp and /.well-known/cmp/p/<label>),
 * how requests authenticate to it and how it issues. The command line and the
 * top of cmpca.conf set the profile "default"; every section of cmpca.conf is a
 * profile named after it. Strings are owned by the struct ca_config (its pool)
 * or borrowed for the config's life.
 */
struct ca_profile {
	const char *name;
	struct ca_strlist paths;	/* exact paths (case and trailing '/' count) */
	const char *ref;		/* PBM reference (senderKID) */
	const char *secret;		/* PBM secret given as such, or NULL */
	const char *secret_file;	/* ... or the file that holds it, or NULL */
	enum ca_src secret_src;
	/* the administrator credential (issue 11): the one MAC an rr takes
	 * (the enrolment secret above is handed to every device); both or
	 * neither; the secret only in a file, never on the command line */
	const char *admin_ref;
	const char *admin_secret_file;
	struct ca_strlist trust;	/* PEM files: anchors for signed ir, certConf,
					 * pollReq, genm (vendor certificates) */
	long validity;			/* of issued certificates, seconds */
	int poll;			/* answer "waiting" this many times first */
	int check_after;		/* seconds, pollRep checkAfter */
	int implicit_confirm;		/* 1: grant implicitConfirm when asked */
	/* issuing policy */
	struct ca_key_type key_types[CA_MAX_KEY_TYPES];	/* what is certified */
	size_t nkey_types;
	/* whom a signed request may name: 0 (the default): a signed cr, kur,
	 * p10cr or ir gets its signer certificate's subject and subjectAltName
	 * (a template asking for others is refused); 1: the template's */
	int allow_subject_change;
};

/*
 * cmpca's configuration: the global settings (the CA, its files, the HTTP
 * server) and the profiles. profiles[0] is always &def, the default profile;
 * the sections of cmpca.conf follow in name order. Not to be copied after
 * ca_config_init (profiles[0] points into it).
 */
struct ca_config {
	const char *file;		/* the cmpca.conf read, or NULL */
	const char *dir;
	const char *listen;		/* "ADDR:PORT", "[V6]:PORT"; port 0 = any */
	const char *ca_cert, *ca_key;	/* both or neither; NULL: DIR/ca.{crt,key} */
	const char *signer_cert, *signer_key; /* response signer; NULL: the CA */
	const char *extra_certs;	/* NULL or PEM file: the CA's chain and other
					 * certificates for extraCerts */
	const char *capubs;		/* NULL or PEM file: caPubs of an ip */
	const char *previous_ca_cert;	/* NULL or PEM file: the root before its key
					 * rollover and the link certificates */
	const char *tls_cert, *tls_key;	/* both or neither: https (PEM; the
					 * certificate file may hold its chain) */
	int threads;			/* HTTP worker threads */
	int timeout;			/* per-connection idle timeout, seconds */
	int max_per_address;		/* connections per client address */
	int auth_fail_limit;		/* failed authentications per address
					 * within the window before a lockout;
					 * 0: no limit */
	int auth_fail_window;		/* seconds: the window and the lockout */
	long confirm_wait;		/* seconds a delivered certificate waits
					 * for certConf before it is revoked */
	long retention;			/* seconds a finished transaction is kept */
	size_t max_request;		/* request body cap, bytes */
	struct ca_profile def;		/* the default profile */
	struct ca_profile **profiles;	/* [0] = &def, then cmpca.conf's sections */
	size_t nprofiles;
	char **pool;			/* strings the config owns (wiped when freed) */
	size_t npool;
};

/* Defaults as above: one profile, "default", its paths not yet set (see
 * ca_config_check). */
void ca_config_init(struct ca_config *c);
/* Frees what the config owns (wiping strings: secrets may be among them). */
void ca_config_clear(struct ca_config *c);

/* Sets KEY (a cmpca.conf key, the long option's name without "--") to VALUE,
 * validated: in profile P, or with P NULL a global setting or one of the default
 * profile. SRC CA_SRC_FILE splits a list value at commas and blanks; CA_SRC_ARGS
 * adds one item, and the first item given so replaces the file's list. VALUE is
 * copied. Errors name the key's rule ("validity: ... unit must be s, m, h or d"). */
int ca_config_set(struct ca_config *c, struct ca_profile *p, const char *key,
    const char *value, enum ca_src src, struct pk_err *e);
/* Reads cmpca.conf FILE (OpenSSL configuration syntax, NCONF): the top
 * section sets global keys and the default profile, every other section a
 * profile of that name. Errors name FILE:LINE (or the section and key). Call
 * before applying the command line, which then overrides. */
int ca_config_load(struct ca_config *c, const char *file, struct pk_err *e);
/* Completes and checks the whole: pairs (ca-cert/ca-key, signer-cert/
 * signer-key), one of secret/secret-file, the default paths, every path
 * well-formed and served by one profile only. */
int ca_config_check(struct ca_config *c, struct pk_err *e);
/* The effective configuration as text (global settings, then each profile),
 * secrets masked: what `cmpca --check-config` prints. */
void ca_config_describe(const struct ca_config *c, struct sbuf *b);
/* The profile serving URL PATH (exact match), NULL for none. */
const struct ca_profile *ca_config_route(const struct ca_config *c,
    const char *path);
/* Parses a validity: "20s", "10m", "2h", "30d", or a bare number of days. The
 * result is > 0 and at most 100 years. */
int ca_parse_duration(const char *s, long *secs, struct pk_err *e);
/* The profile named NAME, NULL for none. */
struct ca_profile *ca_config_profile(struct ca_config *c, const char *name);
/* 1 when profile P certifies KEY (its type, size or curve in key-types). */
int ca_profile_accepts_key(const struct ca_profile *p, EVP_PKEY *key);

/* --- the CA: material, files (ca_issue.c) --- */
struct ca;

/* Opens the CA of CFG (borrowed, must outlive the ca; ca_config_check'ed):
 * creates DIR, opens the database, loads the CA key and certificate (explicit
 * files, or DIR/ca.*; on a first run creates an EC P-256 key and a self-signed
 * v3 CA certificate, written atomically) and its chain, the signer, extraCerts,
 * caPubs, and each profile's secret (the default profile's in DIR/secret,
 * created on the first run) and trust anchors. */
int ca_open(struct ca **out, const struct ca_config *cfg, struct pk_err *e);
/* Loads and checks what ca_open would (every file CFG names, the chain, the
 * key pairs) without creating or writing anything: no DIR, no database, no
 * first-run CA (then ca_get0_cert() is NULL). For `cmpca --check-config`. */
int ca_check(struct ca **out, const struct ca_config *cfg, struct pk_err *e);
/* Closes the database and frees. Accepts NULL. */
void ca_close(struct ca *ca);
/* 1 when this ca_open created the CA key and certificate. */
int ca_created(const struct ca *ca);
/* Borrowed; valid while the ca is open. The reference, secret and its file are
 * the default profile's; secret_path is NULL when the secret was given as
 * such. */
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
/* The root's key rollover from --previous-ca-cert (RFC 4210 4.4): the old
 * root (oldWithOld), the new key signed with the old (newWithOld, required)
 * and the old key signed with the new (oldWithNew, optional); all NULL when
 * not configured. The new root is ca_get0_root(). */
X509 *ca_get0_old_root(const struct ca *ca);
X509 *ca_get0_new_with_old(const struct ca *ca);
X509 *ca_get0_old_with_new(const struct ca *ca);

/* --- HTTP front (ca_http.c), RFC 6712 ---
 * A request's URL path is routed first: the route function returns what serves
 * it (opaque, passed to the handler) or NULL for a path not served (404). The
 * handler gets one request (struct ca_req: the route, the client's address, the
 * body as DER) and returns 0 with a malloc()ed DER response (freed by the
 * caller), sent with 200 and application/pkixcmp; -1 makes a 500. Both are
 * called from several threads at once. */

/* One request as the HTTP front received it; everything borrowed for the
 * handler's call. */
struct ca_req {
	const void *route;		/* what the route function returned (the
					 * protocol: its profile; NULL: default) */
	const char *peer;		/* the client's address, numeric
					 * ("192.0.2.1", "2001:db8::1"; an IPv4
					 * client on an IPv6 socket as IPv4);
					 * NULL or "": unknown (in-process) */
	const unsigned char *der;	/* the body */
	size_t len;
};
typedef const void *(*ca_http_route_fn)(void *arg, const char *path);
typedef int (*ca_http_handler_fn)(void *arg, const struct ca_req *r,
    unsigned char **rsp, size_t *rsp_len);
struct ca_http;

/* What the HTTP front serves and how. */
struct ca_http_opts {
	const char *listen;		/* "ADDR:PORT", "[V6]:PORT"; port 0 picks one */
	const char *tls_cert;		/* NULL: http; else https with this PEM
					 * certificate (and chain) ... */
	const char *tls_key;		/* ... and this PEM private key */
	int threads;			/* worker threads */
	int timeout;			/* idle seconds per connection */
	size_t max_request;		/* body bytes; 413 above */
	int max_per_address;		/* connections at once from one client
					 * address (0: CA_DEFAULT_PER_ADDRESS) */
	ca_http_route_fn route;		/* NULL: every path served (route NULL) */
	ca_http_handler_fn handler;
	void *arg;			/* for route and handler */
};

int ca_http_start(struct ca_http **out, const struct ca_http_opts *o,
    struct pk_err *e);
/* Reads and checks the https certificate (PEM, its chain may follow) and key
 * files as ca_http_start does, without listening (--check-config). */
int ca_http_check_tls(const char *tls_cert, const char *tls_key,
    struct pk_err *e);
/* The bound port, and "http://ADDR:PORT/" or "https://..." (borrowed). */
int ca_http_port(const struct ca_http *h);
const char *ca_http_url(const struct ca_http *h);
/* Stops accepting, finishes running requests, frees. Accepts NULL. */
void ca_http_stop(struct ca_http *h);

/* --- the protocol (ca_server.c), RFC 4210 / 4211 ---
 * Answers ir cr kur p10cr certConf pollReq rr genm error as a CA for the
 * profile of the request's path: issuance with the requested key (of a type the
 * profile certifies), subject and subjectAltName (POP checked), PBM (the
 * profile's reference and secret) or signature authentication (a certificate
 * this CA issued, its certificate the anchor whether root or intermediate; or
 * for ir to one of the profile's trust anchors), kur signed by the certificate
 * it updates, revocation, polling, implicitConfirm, genm caCerts /
 * rootCaKeyUpdate / certReqTemplate / signKeyPairTypes (RFC 9483 4.3),
 * transactions (bound to their profile) and nonces tracked in the database.
 * Refusals are error messages with status rejection and the failInfo bit.
 * Responses: the request's pvno, PBM like the request or signed by the signer
 * (its certificate, then the CA's chain without the root, in extraCerts).
 * Thread-safe. */
struct ca_server;

/* A server for CA (borrowed; must outlive the server). Failed
 * authentications are limited per client address as the CA's configuration
 * says (auth-fail-limit, auth-fail-window): a locked address is refused with
 * systemUnavail before any MAC or signature is checked. */
int ca_server_new(struct ca_server **out, struct ca *ca, struct pk_err *e);
/* Where the server's events go, one line each without a newline (a lockout:
 * the address, the count and the window, never a secret); called from the
 * worker threads. None by default (this module never prints). */
typedef void (*ca_log_fn)(void *arg, const char *line);
void ca_server_set_log(struct ca_server *s, ca_log_fn fn, void *arg);
/* What the server did since it started. */
struct ca_server_stats {
	unsigned long requests;		/* requests answered */
	unsigned long mac_checks;	/* PBM / PBMAC1 verifications run */
	unsigned long sig_checks;	/* signature verifications run */
	unsigned long auth_failures;	/* failed authentications counted */
	unsigned long lockouts;		/* addresses locked out */
	unsigned long locked_refusals;	/* requests refused while locked */
};
void ca_server_get_stats(struct ca_server *s, struct ca_server_stats *st);
/* Accepts NULL. */
void ca_server_free(struct ca_server *s);
/* ca_http_route_fn: the profile serving PATH (ca_config_route), NULL for none;
 * ARG is the struct ca_server. */
const void *ca_server_route(void *arg, const char *path);
/* ca_http_handler_fn: one request (DER, as received) on R's route, the
 * profile (NULL: the default profile), from R's peer -> the DER response; ARG
 * is the struct ca_server. */
int ca_server_handle(void *arg, const struct ca_req *r, unsigned char **rsp,
    size_t *rsp_len);

#endif
