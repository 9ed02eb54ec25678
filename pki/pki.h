/*
 * pki: the device's PKI state — entities, key pairs, the certificate store and
 * their display formats.
 *
 * Contract:
 * - A struct pki is opened over an opened struct storage and holds the device store
 *   (flash/pki/.store, 0700) in memory. Key pairs and imported certificates are
 *   written to the store at once (storage_write_atomic), one file per object:
 *     key-<hex of the lower-cased key name>.pem      (0600) metadata lines, then the
 *                                                    private key as PKCS#8 PEM
 *     cert-ca-<sha256 hex of the file name>.pem      (0600) metadata lines, then the
 *     cert-local-<sha256 hex of the file name>.pem          certificate as PEM
 *   so any key or file name maps to a safe store file name, and replacing one object
 *   is one atomic rename.
 * - Nothing here prints. Display functions append text to a struct sbuf; failures
 *   return -1 with an operator-ready message in struct pk_err (the console prints
 *   it as "Error: <msg>"). Predicates named *_ok return 1 (valid) or 0 (invalid,
 *   reason in *e, e may be NULL), like storage_name_ok().
 * - Key pair names are 1..64 printable ASCII characters without spaces, '?' or '"';
 *   they are case-insensitive (the spelling given at creation is kept for display).
 *   RSA and EC key pairs share one name space.
 * - Certificates are recorded under the file name they were imported from (or the
 *   cert-name given), per kind (CA or local), with a realm ("default" when none).
 *   Importing a file holding several certificates imports the first one only.
 * - This header includes no OpenSSL header (cli/ includes it). OpenSSL objects are
 *   passed through OpenSSL's own struct tags, so cmp/ code uses them as EVP_PKEY *,
 *   X509 *, X509_NAME *, STACK_OF(X509) *, GENERAL_NAMES *.
 * - Ownership: _get0_ borrows (valid until the next change of that object),
 *   _get1_ / out parameters named "out" return new objects the caller frees.
 */
#ifndef PKISH_PKI_H
#define PKISH_PKI_H

#include <stddef.h>
#include <time.h>

#include "../util/util.h"

struct storage;
struct evp_pkey_st;		/* EVP_PKEY */
struct x509_st;			/* X509 */
struct X509_name_st;		/* X509_NAME */
struct stack_st_X509;		/* STACK_OF(X509) */
struct stack_st_GENERAL_NAME;	/* GENERAL_NAMES */

struct pki;

#define PKI_NAME_MAX 64			/* key pair, entity, realm names */
#define PKI_RSA_MIN_BITS 2048
#define PKI_RSA_MAX_BITS 4096
#define PKI_RSA_DEFAULT_BITS 3072
#define PKI_PASSWORD_MIN 6
#define PKI_PASSWORD_MAX 32
#define PKI_DEFAULT_REALM "default"

/* ==== store ========================================================== */

/* Opens the device store of ST (ST must outlive the pki) and loads every key pair
 * and certificate in it. A store file that cannot be read or parsed is skipped and
 * reported by pki_load_warnings(); it does not stop the device. */
int pki_open(struct pki **out, struct storage *st, struct pk_err *e);
void pki_close(struct pki *p);
/* Text of the problems met while loading (one line each), "" when none. Borrowed. */
const char *pki_load_warnings(const struct pki *p);

/* Frees a NULL-terminated array of names (from pki_key_names / pki_cert_names).
 * Accepts NULL. */
void pki_names_free(char **names);

/* Reads flash:/pki/public/NAME. The bare name is checked with storage_name_ok()
 * before any file access, so "../x" or "a/b" is refused without touching the
 * file system. *data is NUL-terminated (free it); *len excludes the NUL. */
int pki_public_read(struct pki *p, const char *name, unsigned char **data,
    size_t *len, struct pk_err *e);
/* 1 when flash:/pki/public/NAME exists (NAME a valid bare name), else 0. */
int pki_public_exists(const struct pki *p, const char *name);

/* ==== key pairs ====================================================== */

enum pki_key_type {
	PKI_KEY_ANY = 0,	/* filters: either type */
	PKI_KEY_RSA = 1,
	PKI_KEY_EC = 2,
};

/* The curves we offer; NULL-terminated list of their names (static). */
const char *const *pki_ec_curves(void);

/* 1 if NAME is a valid key pair name, else 0 with *e filled. */
int pki_key_name_ok(const char *name, struct pk_err *e);
/* The type of the existing key pair NAME (case-insensitive), or 0 if none. The
 * console asks for confirmation before creating over an existing name. */
enum pki_key_type pki_key_exists(const struct pki *p, const char *name);

/* Returns the bits an RSA creation with BITS will use (odd -> BITS-1), or -1 with
 * *e filled when out of 2048..4096. 0 means the default (3072). */
int pki_rsa_bits(int bits, struct pk_err *e);

/* Creates (or, after the caller's confirmation, replaces) an RSA key pair of BITS
 * (see pki_rsa_bits) and writes it to the store at once. Replacing a key pair of
 * the other type, or one that a CMP session uses, is refused. *bits_out (may be
 * NULL) receives the size used. */
int pki_key_create_rsa(struct pki *p, const char *name, int bits, int exportable,
    int *bits_out, struct pk_err *e);
/* Same for an EC key pair on CURVE (one of pki_ec_curves()). */
int pki_key_create_ec(struct pki *p, const char *curve, const char *name,
    int exportable, struct pk_err *e);

/* The hook that tells whether a CMP session uses key pair NAME (1 yes, 0 no). */
typedef int (*pki_key_in_use_fn)(void *arg, const char *key_name);
void pki_set_key_in_use_hook(struct pki *p, pki_key_in_use_fn fn, void *arg);

/* Destroys key pair NAME of TYPE (PKI_KEY_ANY: either) from memory and the store.
 * Refused when it does not exist, has the other type, or the in-use hook says a
 * CMP session uses it. */
int pki_key_destroy(struct pki *p, enum pki_key_type type, const char *name,
    struct pk_err *e);

/* Renders `display pki {rsa|ecc} local-key-pair [name NAME] public` into OUT:
 * "Total Number: N" then one block per key pair of TYPE, in name order. NAME NULL
 * shows all; a NAME that does not exist (or has the other type) is an error. */
int pki_key_display(struct pki *p, enum pki_key_type type, const char *name,
    struct sbuf *out, struct pk_err *e);

/* Names of the key pairs of TYPE in name order (for Tab completion and parameter
 * checks); a NULL-terminated array, free with pki_names_free(). */
char **pki_key_names(const struct pki *p, enum pki_key_type type);

/* The key pair NAME (borrowed; NULL if none). Valid until NAME is replaced or
 * destroyed. */
struct evp_pkey_st *pki_key_get0_pkey(const struct pki *p, const char *name);
/* Metadata of key pair NAME; -1 if it does not exist. Any out pointer may be NULL.
 * *bits is the RSA modulus or EC field size; *curve NULL for RSA (borrowed). */
int pki_key_info(const struct pki *p, const char *name, enum pki_key_type *type,
    int *bits, const char **curve, int *exportable, time_t *created);
/* The name of the stored key pair whose public key is that of CERT, or NULL. */
const char *pki_key_match_cert(const struct pki *p, const struct x509_st *cert);

/* Makes a new key of the same kind as key pair NAME without storing it: RSA with
 * BITS (0: the same size as NAME; else as pki_rsa_bits), EC on the same curve.
 * *out is a new EVP_PKEY (free it). */
int pki_key_generate_detached(const struct pki *p, const char *name, int bits,
    struct evp_pkey_st **out, struct pk_err *e);
/* Replaces key pair NAME by PKEY (same type; for automatic update with
 * regenerate): the store file is replaced atomically, then the in-memory key.
 * Takes its own reference: the caller still frees PKEY. The creation time becomes
 * now; the exportable flag is kept. */
int pki_key_replace(struct pki *p, const char *name, struct evp_pkey_st *pkey,
    struct pk_err *e);

/* ==== certificates =================================================== */

enum pki_cert_kind {
	PKI_CERT_CA = 1,
	PKI_CERT_LOCAL = 2,
};

enum pki_cert_format {
	PKI_FMT_AUTO = 0,	/* PEM when the data holds a PEM header, else DER */
	PKI_FMT_PEM = 1,
	PKI_FMT_DER = 2,
};

/* What an import (or a look at a file) found. */
struct pki_cert_info {
	char subject[512];	/* "C=CN, O=Example, CN=Root CA" */
	char issuer[512];
	char fingerprint[100];	/* SHA-256, "AA:BB:..." (32 bytes) */
	char serial[100];	/* hex, "01:A2:..." */
	char not_before[40];	/* "2026-11-27 10:00:00 UTC" */
	char not_after[40];
	char key_name[PKI_NAME_MAX + 1];	/* local: the matching key pair */
	int self_signed;	/* subject = issuer and the signature verifies */
};

/* Decodes a certificate from DATA (format FMT; see PKI_FMT_AUTO). A corrupt,
 * truncated or trailing-garbage encoding, or not a certificate at all, is an
 * error naming WHAT (e.g. the file name). Several PEM certificates: the first.
 * Extensions are checked (X509_check_purpose(x, -1, 0)). *out is a new X509. */
int pki_cert_decode(const unsigned char *data, size_t len, enum pki_cert_format fmt,
    const char *what, struct x509_st **out, struct pk_err *e);
/* pki_cert_decode of flash:/pki/public/FILE (bare name checked first). */
int pki_cert_load_file(struct pki *p, enum pki_cert_format fmt, const char *file,
    struct x509_st **out, struct pk_err *e);
/* Fills INFO from CERT (key_name: the matching stored key pair, if any). */
void pki_cert_describe(const struct pki *p, struct x509_st *cert,
    struct pki_cert_info *info);
/* Reads and describes flash:/pki/public/FILE without importing it (for the CA
 * fingerprint question asked before the import). */
int pki_cert_file_info(struct pki *p, enum pki_cert_format fmt, const char *file,
    struct pki_cert_info *info, struct pk_err *e);

/* Imports flash:/pki/public/FILE as a CA or local certificate of REALM (NULL:
 * "default"), recorded as CERT_NAME (NULL: FILE); an existing record of that kind
 * and name is replaced. A local certificate must match a stored key pair (recorded
 * with it), else "The certificate does not match any key pair in the device.".
 * On any error nothing changes. INFO (may be NULL) describes what was imported. */
int pki_cert_import(struct pki *p, enum pki_cert_kind kind, const char *realm,
    enum pki_cert_format fmt, const char *file, const char *cert_name,
    struct pki_cert_info *info, struct pk_err *e);
/* Same from an X509 in memory (a CMP result): takes its own reference. */
int pki_cert_import_x509(struct pki *p, enum pki_cert_kind kind, const char *realm,
    struct x509_st *cert, const char *cert_name, struct pki_cert_info *info,
    struct pk_err *e);

/* Deletes from the device store the certificate of KIND recorded as FILE, or (FILE
 * NULL) every certificate of KIND in REALM. Nothing found is an error. */
int pki_cert_delete(struct pki *p, enum pki_cert_kind kind, const char *file,
    const char *realm, struct pk_err *e);

/* Renders `display pki certificate {ca|local} [filename F|realm R]`:
 * "Total Number: N", then per certificate an OpenSSL-style text dump followed by
 * "Pki realm name: R", "Certificate file name: F", "Certificate peer name: -" and a
 * blank line. FILE and REALM NULL: all of KIND. A FILE not recorded is an error; a
 * realm without certificates gives "Total Number: 0". */
int pki_cert_display(struct pki *p, enum pki_cert_kind kind, const char *file,
    const char *realm, struct sbuf *out, struct pk_err *e);

/* Renders `pki validate-certificate {ca|local} filename F`: the certificate in
 * flash:/pki/public/F (or, if that file is gone, the imported one recorded as F)
 * checked for chain to the imported CA certificates, validity period and
 * signature, as the table
 *   Certificate  Subject  Status  Reason
 * with Status Valid, Invalid or Self-sign. *valid (may be NULL) is 1 when the
 * status is Valid or Self-sign. Failing to read the certificate is an error. */
int pki_cert_validate(struct pki *p, enum pki_cert_kind kind, const char *file,
    struct sbuf *out, int *valid, struct pk_err *e);

/* Record names of KIND (Tab completion), name order; free with pki_names_free(). */
char **pki_cert_names(const struct pki *p, enum pki_cert_kind kind);
/* The imported CA certificates (borrowed; valid until the next CA import or
 * delete). Never NULL. */
struct stack_st_X509 *pki_ca_certs_get0(const struct pki *p);
/* The imported certificate of KIND recorded as NAME (borrowed) or NULL. */
struct x509_st *pki_cert_get0(const struct pki *p, enum pki_cert_kind kind,
    const char *name);
/* The local certificate recorded as NAME (borrowed) or NULL. */
struct x509_st *pki_local_cert_get0(const struct pki *p, const char *name);
/* The key pair name recorded with local certificate NAME (borrowed) or NULL. */
const char *pki_cert_key_name(const struct pki *p, const char *name);
/* The realm of the certificate of KIND recorded as NAME (borrowed) or NULL. */
const char *pki_cert_realm(const struct pki *p, enum pki_cert_kind kind,
    const char *name);

/* ==== key pairs in and out of files (pki_keyio.c) ===================== */

enum pki_key_format {
	PKI_KEYFMT_PEM = 1,	/* PEM: PKCS#8, plain or encrypted, or the traditional
				 * "RSA/EC PRIVATE KEY" form, plain or encrypted */
	PKI_KEYFMT_PKCS12 = 2,	/* PKCS#12 (DER): the key pair and its certificate */
};

#define PKI_RSA_WARN_BITS 3072		/* an imported RSA key below: a warning */
#define PKI_IMPORT_PASSWORD_MAX 32	/* import passwords: 1..32 characters */

/* Flags of pki_key_import(). */
#define PKI_IMPORT_EXPORTABLE	0x1u	/* the key pair may be exported later */
#define PKI_IMPORT_EXCLUDE_CERT	0x2u	/* PKCS#12: leave its certificate out */
#define PKI_IMPORT_REPLACE	0x4u	/* replace an existing key pair NAME (the
					 * console asked for confirmation) */

/* What pki_key_import() imported. */
struct pki_key_import_result {
	enum pki_key_type type;
	int bits;		/* RSA modulus, EC field size */
	const char *curve;	/* EC: one of pki_ec_curves(); NULL for RSA */
	int weak;		/* RSA below PKI_RSA_WARN_BITS: the console prints
				 * "Warning: Keys less than 3072 digits impose
				 * security risks..." */
	int replaced;		/* an existing key pair NAME was replaced */
	int cert_imported;	/* PKCS#12: its certificate is now the local
				 * certificate cert_name, recorded with NAME */
	char cert_name[256];	/* the record name: FILE */
	struct pki_cert_info cert;	/* that certificate (when cert_imported) */
};

/* Imports the key pair in flash:/pki/public/FILE (a bare name, checked before any
 * file access) as key pair NAME of TYPE (PKI_KEY_RSA or PKI_KEY_EC: the command's
 * type), stored at once like a created key pair (store file 0600, unencrypted
 * PKCS#8 in the 0700 store). FILE stays where it is.
 * - PASSWORD (1..PKI_IMPORT_PASSWORD_MAX characters) opens an encrypted PEM key
 *   or the PKCS#12 file; NULL for an unencrypted PEM key or a PKCS#12 file
 *   without a password (pki_key_file_needs_password() tells which, so that the
 *   console asks only when needed). A password that does not open the file:
 *   "Failed to read the file FILE: wrong password or corrupt file."
 * - The key is checked: a private key (a certificate, a public key or anything
 *   else is refused, naming what the file holds), of TYPE, RSA of 2048..4096 bits
 *   (below PKI_RSA_WARN_BITS accepted with out->weak set), EC on a curve of
 *   pki_ec_curves(), public and private parts consistent.
 * - PKCS#12: its certificate must belong to the key; a certificate in the file
 *   that is neither the key's nor a CA certificate refuses the whole file. The
 *   key's certificate is imported as the local certificate recorded as FILE
 *   (realm "default", replacing a local record of that name, as
 *   pki_cert_import() does), unless PKI_IMPORT_EXCLUDE_CERT. CA certificates in
 *   the file are not imported (a CA import needs the operator's fingerprint
 *   check). A PEM file: its first private key only.
 * - An existing key pair NAME is replaced only with PKI_IMPORT_REPLACE, and never
 *   when it has the other type or the in-use hook says a CMP session uses it.
 * - On any error nothing changes (a certificate that cannot be stored after the
 *   key was written puts the previous key pair file back).
 * OUT (may be NULL) describes the result. */
int pki_key_import(struct pki *p, enum pki_key_type type, const char *name,
    enum pki_key_format fmt, const char *file, const char *password,
    unsigned flags, struct pki_key_import_result *out, struct pk_err *e);

/* Whether flash:/pki/public/FILE of FMT needs a password to be read: 1 (an
 * encrypted PEM key; a PKCS#12 file that an empty password does not open), 0
 * (it does not), -1 with *e when FILE is not a bare name, is missing or holds no
 * key pair of FMT (the messages of pki_key_import()). */
int pki_key_file_needs_password(struct pki *p, enum pki_key_format fmt,
    const char *file, struct pk_err *e);

/* Flag of pki_key_export(). */
#define PKI_EXPORT_OVERWRITE	0x1u	/* replace an existing FILE (the console
					 * asked, or said so in batch mode) */

/* Writes key pair NAME of TYPE (PKI_KEY_ANY: either) into flash:/pki/public/FILE
 * (a bare name), atomically, mode 0600, encrypted under PASSWORD (6..32
 * characters). Only exportable key pairs.
 * - PKI_KEYFMT_PEM: PKCS#8 PEM, PBES2 with AES-256-CBC.
 * - PKI_KEYFMT_PKCS12: PKCS#12 (PBES2 with AES-256-CBC, MAC with SHA-256, the key
 *   pair name as friendlyName), with the local certificate recorded with NAME
 *   whose public key is NAME's, when one is imported (the first by record name).
 * An existing FILE is refused ("The file FILE already exists in
 * flash:/pki/public.") unless PKI_EXPORT_OVERWRITE: the console asks first
 * (pki_public_exists()). */
int pki_key_export(struct pki *p, enum pki_key_type type, const char *name,
    enum pki_key_format fmt, const char *file, const char *password,
    unsigned flags, struct pk_err *e);

/* ==== entities ======================================================= */

/* An entity as the console's configuration holds it; NULL or "" = unset. */
struct pki_entity {
	const char *name;
	const char *common_name;
	const char *country;
	const char *state;
	const char *locality;
	const char *organization;
	const char *org_unit;
	const char *fqdn;
	const char *ip_address;
	const char *email;
};

enum pki_entity_field {
	PKI_ENT_NAME,		/* 1..64, no spaces, '?' or '"' */
	PKI_ENT_COMMON_NAME,	/* 1..64 */
	PKI_ENT_COUNTRY,	/* exactly 2 letters */
	PKI_ENT_STATE,		/* 1..32 */
	PKI_ENT_LOCALITY,	/* 1..32 */
	PKI_ENT_ORGANIZATION,	/* 1..32 */
	PKI_ENT_ORG_UNIT,	/* 1..31 */
	PKI_ENT_FQDN,		/* 1..255, DNS name characters */
	PKI_ENT_IP_ADDRESS,	/* IPv4 dotted quad or IPv6 */
	PKI_ENT_EMAIL,		/* 1..128, local@domain */
};

/* 1 if VALUE is acceptable for FIELD, else 0 with *e filled (e may be NULL). */
int pki_entity_value_ok(enum pki_entity_field field, const char *value,
    struct pk_err *e);
int pki_entity_country_ok(const char *value, struct pk_err *e);
int pki_entity_ip_ok(const char *value, struct pk_err *e);

/* The subject DN of ENT, in the order C, ST, L, O, OU, CN (unset fields left out).
 * An entity without a common name is an error. *out is a new X509_NAME. */
int pki_entity_subject(const struct pki_entity *ent, struct X509_name_st **out,
    struct pk_err *e);
/* The subjectAltName of ENT: dNSName (fqdn), iPAddress (ip-address, v4 or v6),
 * rfc822Name (email). *out is a new GENERAL_NAMES, or NULL when ENT has none of
 * these fields. */
int pki_entity_san(const struct pki_entity *ent,
    struct stack_st_GENERAL_NAME **out, struct pk_err *e);
/* Renders `display pki entity`: per entity "Entity Name      : E"-style lines
 * ("-" for unset fields) and a blank line, then " Total Number: N". */
void pki_entity_display(const struct pki_entity *ents, size_t n, struct sbuf *out);

#endif
