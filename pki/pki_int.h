/*
 * pki_int: private to the files of the pki module (pki_store.c, pki_key.c,
 * pki_cert.c). Not part of the module interface: pki.h is.
 *
 * The device store is a struct pki holding the key pairs and the imported
 * certificates in memory, each mirrored by one store file:
 *   key-<hex(lower(name))>.pem         "pkish-key 1" + "field: value" lines, then
 *                                      the private key as unencrypted PKCS#8 PEM
 *   cert-{ca,local}-<sha256hex(name)>.pem
 *                                      "pkish-cert 1" + lines, then the certificate
 * The metadata lines come before the PEM block, which PEM readers skip, so the
 * files also open with `openssl pkey -in` / `openssl x509 -in`. Every change of an
 * object is one storage_write_atomic() of its file, then the change in memory.
 */
#ifndef PKISH_PKI_INT_H
#define PKISH_PKI_INT_H

#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki.h"

#define PKI_FILE_MAX (1024u * 1024)	/* store and flash:/pki/public files we read */
#define PKI_KEY_MAGIC "pkish-key 1"
#define PKI_CERT_MAGIC "pkish-cert 1"

struct keyrec {
	char *name;		/* as given at creation */
	enum pki_key_type type;
	int bits;
	const char *curve;	/* static (pki_ec_curves()), NULL for RSA */
	int exportable;
	time_t created;
	EVP_PKEY *pkey;
};

struct certrec {
	enum pki_cert_kind kind;
	char *name;		/* file name it was recorded as */
	char *realm;
	char *key_name;		/* local: the key pair it matches; else NULL */
	X509 *x;
};

struct pki {
	struct storage *st;
	struct keyrec **keys;	/* sorted by name, case-insensitive */
	size_t nkeys;
	struct certrec **certs;	/* sorted by kind, then name */
	size_t ncerts;
	STACK_OF(X509) *cas;	/* the CA certificates, for CMP and validation */
	pki_key_in_use_fn in_use;
	void *in_use_arg;
	struct sbuf warnings;
};

/* ---- pki_store.c: store file helpers ---- */

/* 1..64 printable ASCII characters without spaces, '?' or '"' (1), else 0 with
 * "The WHAT must ..." in *e. */
int pki_simple_name_ok(const char *what, const char *name, struct pk_err *e);
/* The value of the "FIELD: value" header line of a store file TEXT (before its
 * PEM block), as a new string, or NULL. */
char *pki_header_dup(const char *text, const char *field);
/* A PEM password callback that refuses: store files are never encrypted, and no
 * read may fall back to OpenSSL's terminal prompt. */
int pki_no_password(char *buf, int size, int rwflag, void *u);
/* "RSA" / "ECC" (messages). */
const char *pki_type_word(enum pki_key_type t);

/* ---- pki_key.c: key pair records ---- */

void pki_keyrec_free(struct keyrec *k);
/* The key pair NAME (case-insensitive) or NULL. */
struct keyrec *pki_keyrec_find(const struct pki *p, const char *name);
/* The key pair NAME of TYPE (PKI_KEY_ANY: either), or NULL with the console's
 * "The [RSA |ECC ]key pair NAME does not exist." in *e. */
struct keyrec *pki_keyrec_of_type(const struct pki *p, enum pki_key_type type,
    const char *name, struct pk_err *e);
/* Puts K in the sorted list, replacing (and freeing) a key pair of its name. */
void pki_keyrec_put(struct pki *p, struct keyrec *k);
/* Fills type, bits and curve of K from K->pkey; -1 for a key type or curve we
 * do not offer. */
int pki_keyrec_facts(struct keyrec *k, struct pk_err *e);
/* The store path of key pair NAME (new string). */
char *pki_key_path(const struct pki *p, const char *name);
/* Writes K's store file (atomic, 0600). */
int pki_keyrec_write(const struct pki *p, const struct keyrec *k, struct pk_err *e);
/* Reads the key store file PATH. */
int pki_keyrec_load(struct pki *p, const char *path, struct keyrec **out,
    struct pk_err *e);
/* 1 when the in-use hook says a CMP session uses key pair NAME. */
int pki_key_used(const struct pki *p, const char *name);

/* ---- pki_cert.c: certificate records ---- */

void pki_certrec_free(struct certrec *c);
/* The certificate of KIND recorded as NAME, or NULL. */
struct certrec *pki_certrec_find(const struct pki *p, enum pki_cert_kind kind,
    const char *name);
/* Puts C in the sorted list, replacing (and freeing) a record of its kind and
 * name; the CA stack follows. */
void pki_certrec_put(struct pki *p, struct certrec *c);
/* Rebuilds p->cas from the CA records. */
void pki_cas_rebuild(struct pki *p);
/* The store path of the certificate of KIND recorded as NAME (new string). */
char *pki_cert_path(const struct pki *p, enum pki_cert_kind kind, const char *name);
/* A new record for X (its own reference) as certificate KIND of REALM (NULL:
 * "default") named CERT_NAME, after the import checks: names, extensions, a CA
 * certificate for KIND CA; a local certificate is recorded with KEY_NAME, or
 * (KEY_NAME NULL) with the stored key pair it matches. Nothing is written. */
int pki_certrec_make(struct pki *p, enum pki_cert_kind kind, const char *realm,
    X509 *x, const char *cert_name, const char *key_name, struct certrec **out,
    struct pk_err *e);
/* Writes C's store file (atomic, 0600). */
int pki_certrec_write(const struct pki *p, const struct certrec *c,
    struct pk_err *e);
/* Reads the certificate store file PATH. */
int pki_certrec_load(struct pki *p, const char *path, struct certrec **out,
    struct pk_err *e);

#endif
