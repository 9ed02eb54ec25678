/*
 * pki: the device store (key pairs and imported certificates) and their display
 * formats. Contract in pki.h.
 *
 * Store files (flash/pki/.store, 0600), one per object so that every change is
 * one storage_write_atomic() (temp file + fsync + rename):
 *   key-<hex(lower(name))>.pem         "pkish-key 1" + "field: value" lines, then
 *                                      the private key as unencrypted PKCS#8 PEM
 *   cert-{ca,local}-<sha256hex(name)>.pem
 *                                      "pkish-cert 1" + lines, then the certificate
 * The metadata lines come before the PEM block, which PEM readers skip, so the
 * files also open with `openssl pkey -in` / `openssl x509 -in`.
 */
#include "pki.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../storage/storage.h"

#define PKI_CERT_MAX_FILE (1024u * 1024)	/* certificate files we read */
#define KEY_MAGIC "pkish-key 1"
#define CERT_MAGIC "pkish-cert 1"

struct keyrec {
	char *name;		/* as given at creation */
	enum pki_key_type type;
	int bits;
	const char *curve;	/* static (curves[]), NULL for RSA */
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

static const char *const curves[] = { "prime256v1", "secp384r1", "secp521r1", NULL };
static const char *const nist[] = { "P-256", "P-384", "P-521", NULL };

const char *const *
pki_ec_curves(void)
{
	return curves;
}

static const char *
curve_static(const char *name)
{
	for (size_t i = 0; curves[i] != NULL; i++)
		if (pk_strcaseeq(curves[i], name))
			return curves[i];
	return NULL;
}

static const char *
type_word(enum pki_key_type t)
{
	return t == PKI_KEY_EC ? "ECC" : "RSA";
}

static const char *
kind_word(enum pki_cert_kind k)
{
	return k == PKI_CERT_CA ? "CA" : "local";
}

/* ---- small helpers -------------------------------------------------- */

static char *
lower_dup(const char *s)
{
	char *d = xstrdup(s);

	for (char *q = d; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	return d;
}

static char *
key_file(const struct pki *p, const char *name)
{
	char *low = lower_dup(name);
	char *hex = pk_hex((const unsigned char *)low, strlen(low), 0);
	size_t n = strlen(hex) + 16;
	char *base = xmalloc(n);
	char *path;

	snprintf(base, n, "key-%s.pem", hex);
	path = storage_path(storage_store_dir(p->st), base);
	free(base);
	free(hex);
	free(low);
	return path;
}

static char *
cert_file(const struct pki *p, enum pki_cert_kind kind, const char *name)
{
	unsigned char md[32];
	char *hex, *path;
	char base[128];

	if (EVP_Digest(name, strlen(name), md, NULL, EVP_sha256(), NULL) != 1)
		abort();	/* SHA-256 of a short string cannot fail */
	hex = pk_hex(md, sizeof(md), 0);
	snprintf(base, sizeof(base), "cert-%s-%s.pem",
	    kind == PKI_CERT_CA ? "ca" : "local", hex);
	path = storage_path(storage_store_dir(p->st), base);
	free(hex);
	return path;
}

/* 1..64 printable ASCII characters without spaces, '?' or '"'. */
static int
simple_name_ok(const char *what, const char *name, struct pk_err *e)
{
	size_t n = name != NULL ? strlen(name) : 0;

	if (n < 1 || n > PKI_NAME_MAX)
		return pk_err_set(e, "The %s must be 1 to %d characters.", what,
		    PKI_NAME_MAX), 0;
	for (const unsigned char *q = (const unsigned char *)name; *q; q++)
		if (*q <= 0x20 || *q >= 0x7f || *q == '?' || *q == '"')
			return pk_err_set(e, "The %s must not contain spaces, '?', "
			    "'\"' or non-printable characters.", what), 0;
	return 1;
}

int
pki_key_name_ok(const char *name, struct pk_err *e)
{
	return simple_name_ok("key pair name", name, e);
}

void
pki_names_free(char **names)
{
	if (names == NULL)
		return;
	for (char **q = names; *q != NULL; q++)
		free(*q);
	free(names);
}

/* Colon hex, 15 bytes a line, 4-space indent: the layout of `openssl pkey -text`. */
static void
hex_block(struct sbuf *out, const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i % 15 == 0)
			sbuf_puts(out, "    ");
		sbuf_printf(out, "%02x%s", b[i], i + 1 < n ? ":" : "");
		if (i % 15 == 14 || i + 1 == n)
			sbuf_putc(out, '\n');
	}
}

/* A "field: value" line of a store file header, or NULL. */
static const char *
header_value(const char *text, const char *field)
{
	size_t fl = strlen(field);

	for (const char *l = text; l != NULL && *l != '\0';) {
		if (strncmp(l, "-----BEGIN", 10) == 0)
			return NULL;
		if (strncmp(l, field, fl) == 0 && l[fl] == ':' && l[fl + 1] == ' ')
			return l + fl + 2;
		l = strchr(l, '\n');
		if (l != NULL)
			l++;
	}
	return NULL;
}

static char *
header_dup(const char *text, const char *field)
{
	const char *v = header_value(text, field);
	size_t n;

	if (v == NULL)
		return NULL;
	n = strcspn(v, "\r\n");
	return xstrndup(v, n);
}

static int
no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* ---- records -------------------------------------------------------- */

static void
keyrec_free(struct keyrec *k)
{
	if (k == NULL)
		return;
	free(k->name);
	EVP_PKEY_free(k->pkey);
	free(k);
}

static void
certrec_free(struct certrec *c)
{
	if (c == NULL)
		return;
	free(c->name);
	free(c->realm);
	free(c->key_name);
	X509_free(c->x);
	free(c);
}

static struct keyrec *
find_key(const struct pki *p, const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < p->nkeys; i++)
		if (pk_strcaseeq(p->keys[i]->name, name))
			return p->keys[i];
	return NULL;
}

static struct certrec *
find_cert(const struct pki *p, enum pki_cert_kind kind, const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < p->ncerts; i++)
		if (p->certs[i]->kind == kind && strcmp(p->certs[i]->name, name) == 0)
			return p->certs[i];
	return NULL;
}

/* Puts K in the sorted key list, replacing (and freeing) a key of the same name. */
static void
key_put(struct pki *p, struct keyrec *k)
{
	size_t i;

	for (i = 0; i < p->nkeys; i++) {
		if (pk_strcaseeq(p->keys[i]->name, k->name)) {
			keyrec_free(p->keys[i]);
			p->keys[i] = k;
			return;
		}
		if (strcasecmp(p->keys[i]->name, k->name) > 0)
			break;
	}
	p->keys = xrealloc(p->keys, (p->nkeys + 1) * sizeof(*p->keys));
	memmove(p->keys + i + 1, p->keys + i, (p->nkeys - i) * sizeof(*p->keys));
	p->keys[i] = k;
	p->nkeys++;
}

static void
key_drop(struct pki *p, struct keyrec *k)
{
	for (size_t i = 0; i < p->nkeys; i++) {
		if (p->keys[i] == k) {
			memmove(p->keys + i, p->keys + i + 1,
			    (p->nkeys - i - 1) * sizeof(*p->keys));
			p->nkeys--;
			keyrec_free(k);
			return;
		}
	}
}

static int
cert_order(const struct certrec *a, const struct certrec *b)
{
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	return strcmp(a->name, b->name);
}

static void
rebuild_cas(struct pki *p)
{
	sk_X509_pop_free(p->cas, X509_free);
	p->cas = sk_X509_new_null();
	if (p->cas == NULL)
		abort();	/* out of memory, as xmalloc */
	for (size_t i = 0; i < p->ncerts; i++) {
		if (p->certs[i]->kind != PKI_CERT_CA)
			continue;
		if (!X509_up_ref(p->certs[i]->x) ||
		    sk_X509_push(p->cas, p->certs[i]->x) <= 0)
			abort();
	}
}

static void
cert_put(struct pki *p, struct certrec *c)
{
	size_t i;

	for (i = 0; i < p->ncerts; i++) {
		int o = cert_order(p->certs[i], c);

		if (o == 0) {
			certrec_free(p->certs[i]);
			p->certs[i] = c;
			rebuild_cas(p);
			return;
		}
		if (o > 0)
			break;
	}
	p->certs = xrealloc(p->certs, (p->ncerts + 1) * sizeof(*p->certs));
	memmove(p->certs + i + 1, p->certs + i, (p->ncerts - i) * sizeof(*p->certs));
	p->certs[i] = c;
	p->ncerts++;
	rebuild_cas(p);
}

static void
cert_drop(struct pki *p, struct certrec *c)
{
	for (size_t i = 0; i < p->ncerts; i++) {
		if (p->certs[i] == c) {
			memmove(p->certs + i, p->certs + i + 1,
			    (p->ncerts - i - 1) * sizeof(*p->certs));
			p->ncerts--;
			certrec_free(c);
			rebuild_cas(p);
			return;
		}
	}
}

/* ---- key facts from an EVP_PKEY ------------------------------------- */

/* Fills type, bits and curve of K from K->pkey; -1 for a key we do not offer. */
static int
key_facts(struct keyrec *k, struct pk_err *e)
{
	char group[64];

	if (EVP_PKEY_is_a(k->pkey, "RSA")) {
		k->type = PKI_KEY_RSA;
		k->curve = NULL;
	} else if (EVP_PKEY_is_a(k->pkey, "EC")) {
		k->type = PKI_KEY_EC;
		if (EVP_PKEY_get_utf8_string_param(k->pkey, OSSL_PKEY_PARAM_GROUP_NAME,
		    group, sizeof(group), NULL) != 1 ||
		    (k->curve = curve_static(group)) == NULL)
			return pk_err_set(e, "unsupported EC curve");
	} else {
		return pk_err_set(e, "unsupported key type");
	}
	k->bits = EVP_PKEY_get_bits(k->pkey);
	return 0;
}

/* ---- store: keys ---------------------------------------------------- */

static int
key_write(const struct pki *p, const struct keyrec *k, struct pk_err *e)
{
	BIO *b = BIO_new(BIO_s_secmem());
	char *path = NULL;
	char *data = NULL;
	long n;
	int rc = -1;

	if (b == NULL) {
		pk_err_ossl(e, "cannot save the key pair %s", k->name);
		goto out;
	}
	if (BIO_printf(b, "%s\ntype: %s\nname: %s\nexportable: %s\ncreated: %lld\n",
	    KEY_MAGIC, k->type == PKI_KEY_EC ? "ec" : "rsa", k->name,
	    k->exportable ? "yes" : "no", (long long)k->created) <= 0 ||
	    PEM_write_bio_PKCS8PrivateKey(b, k->pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		pk_err_ossl(e, "cannot save the key pair %s", k->name);
		goto out;
	}
	n = BIO_get_mem_data(b, &data);
	path = key_file(p, k->name);
	if (storage_write_atomic(path, data, (size_t)n, 0600, e) != 0)
		goto out;
	rc = 0;
out:
	free(path);
	BIO_free(b);	/* secure memory: cleansed on free */
	return rc;
}

static int
key_load(struct pki *p, const char *path, struct keyrec **out, struct pk_err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	BIO *b = NULL;
	struct keyrec *k = NULL;
	char *v = NULL, *expect = NULL;
	int rc = -1;

	*out = NULL;
	if (storage_read(path, PKI_CERT_MAX_FILE, &data, &len, e) != 0)
		goto out;
	if (strncmp((char *)data, KEY_MAGIC "\n", strlen(KEY_MAGIC) + 1) != 0) {
		pk_err_set(e, "%s is not a key pair file of this device", path);
		goto out;
	}
	k = xcalloc(1, sizeof(*k));
	k->name = header_dup((char *)data, "name");
	if (k->name == NULL || !pki_key_name_ok(k->name, NULL)) {
		pk_err_set(e, "%s has no valid key pair name", path);
		goto out;
	}
	expect = key_file(p, k->name);
	if (strcmp(expect, path) != 0) {
		pk_err_set(e, "%s does not belong to key pair %s", path, k->name);
		goto out;
	}
	v = header_dup((char *)data, "exportable");
	k->exportable = v != NULL && strcmp(v, "yes") == 0;
	free(v);
	v = header_dup((char *)data, "created");
	k->created = v != NULL ? (time_t)strtoll(v, NULL, 10) : 0;
	if ((b = BIO_new_mem_buf(data, (int)len)) == NULL ||
	    (k->pkey = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL)) == NULL) {
		pk_err_ossl(e, "%s holds no readable private key", path);
		goto out;
	}
	/* Only the key types and curves we create (pki_ec_curves()). */
	if (key_facts(k, e) != 0)
		goto out;
	free(v);
	v = header_dup((char *)data, "type");
	if (v == NULL || strcmp(v, k->type == PKI_KEY_EC ? "ec" : "rsa") != 0) {
		pk_err_set(e, "%s: the key type does not match its metadata", path);
		goto out;
	}
	*out = k;
	k = NULL;
	rc = 0;
out:
	free(v);
	free(expect);
	BIO_free(b);
	if (data != NULL) {
		OPENSSL_cleanse(data, len);
		free(data);
	}
	keyrec_free(k);
	return rc;
}

/* ---- store: certificates -------------------------------------------- */

static int
cert_write(const struct pki *p, const struct certrec *c, struct pk_err *e)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *path = NULL;
	char *data = NULL;
	long n;
	int rc = -1;

	if (b == NULL) {
		pk_err_ossl(e, "cannot save the certificate %s", c->name);
		goto out;
	}
	if (BIO_printf(b, "%s\nkind: %s\nname: %s\nrealm: %s\nkey: %s\n", CERT_MAGIC,
	    c->kind == PKI_CERT_CA ? "ca" : "local", c->name, c->realm,
	    c->key_name != NULL ? c->key_name : "-") <= 0 ||
	    PEM_write_bio_X509(b, c->x) != 1) {
		pk_err_ossl(e, "cannot save the certificate %s", c->name);
		goto out;
	}
	n = BIO_get_mem_data(b, &data);
	path = cert_file(p, c->kind, c->name);
	if (storage_write_atomic(path, data, (size_t)n, 0600, e) != 0)
		goto out;
	rc = 0;
out:
	free(path);
	BIO_free(b);
	return rc;
}

static int
cert_load(struct pki *p, const char *path, struct certrec **out, struct pk_err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	struct certrec *c = NULL;
	char *v = NULL, *expect = NULL;
	int rc = -1;

	*out = NULL;
	if (storage_read(path, PKI_CERT_MAX_FILE, &data, &len, e) != 0)
		goto out;
	if (strncmp((char *)data, CERT_MAGIC "\n", strlen(CERT_MAGIC) + 1) != 0) {
		pk_err_set(e, "%s is not a certificate file of this device", path);
		goto out;
	}
	c = xcalloc(1, sizeof(*c));
	v = header_dup((char *)data, "kind");
	if (v != NULL && strcmp(v, "ca") == 0)
		c->kind = PKI_CERT_CA;
	else if (v != NULL && strcmp(v, "local") == 0)
		c->kind = PKI_CERT_LOCAL;
	else {
		pk_err_set(e, "%s has no valid certificate kind", path);
		goto out;
	}
	c->name = header_dup((char *)data, "name");
	c->realm = header_dup((char *)data, "realm");
	c->key_name = header_dup((char *)data, "key");
	if (c->name == NULL || !storage_name_ok(c->name, NULL) || c->realm == NULL ||
	    c->key_name == NULL) {
		pk_err_set(e, "%s has incomplete metadata", path);
		goto out;
	}
	if (strcmp(c->key_name, "-") == 0) {
		free(c->key_name);
		c->key_name = NULL;
	}
	expect = cert_file(p, c->kind, c->name);
	if (strcmp(expect, path) != 0) {
		pk_err_set(e, "%s does not belong to certificate %s", path, c->name);
		goto out;
	}
	if (pki_cert_decode(data, len, PKI_FMT_PEM, path, &c->x, e) != 0)
		goto out;
	*out = c;
	c = NULL;
	rc = 0;
out:
	free(v);
	free(expect);
	free(data);
	certrec_free(c);
	return rc;
}

/* ---- open / close --------------------------------------------------- */

int
pki_open(struct pki **out, struct storage *st, struct pk_err *e)
{
	struct pki *p = xcalloc(1, sizeof(*p));
	char **names = NULL;
	int rc = -1;

	*out = NULL;
	p->st = st;
	sbuf_init(&p->warnings);
	rebuild_cas(p);
	if (storage_list(storage_store_dir(st), &names, e) != 0)
		goto out;
	for (char **n = names; *n != NULL; n++) {
		char *path;
		struct pk_err le;
		struct keyrec *k;
		struct certrec *c;
		size_t l = strlen(*n);
		int r;

		if (l < 5 || strcmp(*n + l - 4, ".pem") != 0)
			continue;
		path = storage_path(storage_store_dir(st), *n);
		pk_err_clear(&le);
		if (strncmp(*n, "key-", 4) == 0) {
			if ((r = key_load(p, path, &k, &le)) == 0)
				key_put(p, k);
		} else if (strncmp(*n, "cert-", 5) == 0) {
			if ((r = cert_load(p, path, &c, &le)) == 0)
				cert_put(p, c);
		} else {
			r = 0;
		}
		if (r != 0)
			sbuf_printf(&p->warnings, "Warning: skipped %s: %s\n", path,
			    le.msg);
		free(path);
	}
	*out = p;
	p = NULL;
	rc = 0;
out:
	storage_list_free(names);
	pki_close(p);
	return rc;
}

void
pki_close(struct pki *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->nkeys; i++)
		keyrec_free(p->keys[i]);
	free(p->keys);
	for (size_t i = 0; i < p->ncerts; i++)
		certrec_free(p->certs[i]);
	free(p->certs);
	sk_X509_pop_free(p->cas, X509_free);
	sbuf_free(&p->warnings);
	free(p);
}

const char *
pki_load_warnings(const struct pki *p)
{
	return sbuf_str(&p->warnings);
}

int
pki_public_read(struct pki *p, const char *name, unsigned char **data, size_t *len,
    struct pk_err *e)
{
	struct stat sb;
	char *path;
	int rc;

	*data = NULL;
	*len = 0;
	/* Checked before any file system access (DESIGN.md: bare names only). */
	if (name == NULL || !storage_name_ok(name, e))
		return -1;
	path = storage_path(storage_public_dir(p->st), name);
	if (lstat(path, &sb) != 0 && errno == ENOENT) {
		free(path);
		return pk_err_set(e, "The file %s does not exist in flash:/pki/public.",
		    name);
	}
	rc = storage_read(path, PKI_CERT_MAX_FILE, data, len, e);
	free(path);
	return rc;
}

char **
pki_public_names(const struct pki *p)
{
	char **names = NULL, **v;
	size_t n = 0;

	if (storage_list(storage_public_dir(p->st), &names, NULL) != 0)
		return xcalloc(1, sizeof(char *));
	while (names[n] != NULL)
		n++;
	v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = xstrdup(names[i]);
	storage_list_free(names);
	return v;
}

/* ---- key pairs ------------------------------------------------------ */

enum pki_key_type
pki_key_exists(const struct pki *p, const char *name)
{
	struct keyrec *k = find_key(p, name);

	return k != NULL ? k->type : PKI_KEY_ANY;
}

int
pki_rsa_bits(int bits, struct pk_err *e)
{
	if (bits == 0)
		return PKI_RSA_DEFAULT_BITS;
	if (bits < PKI_RSA_MIN_BITS || bits > PKI_RSA_MAX_BITS)
		return pk_err_set(e, "The modulus must be %d to %d bits.",
		    PKI_RSA_MIN_BITS, PKI_RSA_MAX_BITS);
	return bits & ~1;
}

void
pki_set_key_in_use_hook(struct pki *p, pki_key_in_use_fn fn, void *arg)
{
	p->in_use = fn;
	p->in_use_arg = arg;
}

static int
key_in_use(const struct pki *p, const char *name)
{
	return p->in_use != NULL && p->in_use(p->in_use_arg, name);
}

/* Stores a new key pair (writes, then swaps in memory). Takes PKEY. */
static int
key_store_new(struct pki *p, const char *name, enum pki_key_type type,
    EVP_PKEY *pkey, int exportable, struct pk_err *e)
{
	struct keyrec *old = find_key(p, name);
	struct keyrec *k = xcalloc(1, sizeof(*k));
	int rc = -1;

	k->name = xstrdup(name);
	k->pkey = pkey;
	k->exportable = exportable != 0;
	k->created = time(NULL);
	if (key_facts(k, e) != 0)
		goto out;
	if (old != NULL && old->type != type) {
		pk_err_set(e, "The key pair %s already exists as an %s key pair.",
		    old->name, type_word(old->type));
		goto out;
	}
	if (key_write(p, k, e) != 0)
		goto out;
	key_put(p, k);
	k = NULL;
	rc = 0;
out:
	keyrec_free(k);
	return rc;
}

static int
key_create_check(struct pki *p, const char *name, enum pki_key_type type,
    struct pk_err *e)
{
	struct keyrec *old;

	if (!pki_key_name_ok(name, e))
		return -1;
	old = find_key(p, name);
	if (old == NULL)
		return 0;
	if (old->type != type)
		return pk_err_set(e, "The key pair %s already exists as an %s key "
		    "pair.", old->name, type_word(old->type));
	if (key_in_use(p, old->name))
		return pk_err_set(e, "The key pair %s is in use by a CMP session and "
		    "cannot be replaced.", old->name);
	return 0;
}

int
pki_key_create_rsa(struct pki *p, const char *name, int bits, int exportable,
    int *bits_out, struct pk_err *e)
{
	EVP_PKEY *pkey;
	int b;

	if (key_create_check(p, name, PKI_KEY_RSA, e) != 0)
		return -1;
	if ((b = pki_rsa_bits(bits, e)) < 0)
		return -1;
	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)b)) == NULL)
		return pk_err_ossl(e, "Failed to generate the RSA key pair %s", name);
	if (key_store_new(p, name, PKI_KEY_RSA, pkey, exportable, e) != 0)
		return -1;
	if (bits_out != NULL)
		*bits_out = b;
	return 0;
}

int
pki_key_create_ec(struct pki *p, const char *curve, const char *name,
    int exportable, struct pk_err *e)
{
	const char *c = curve != NULL ? curve_static(curve) : NULL;
	EVP_PKEY *pkey;

	if (c == NULL)
		return pk_err_set(e, "The curve %s is not supported (prime256v1, "
		    "secp384r1, secp521r1).", curve != NULL ? curve : "");
	if (key_create_check(p, name, PKI_KEY_EC, e) != 0)
		return -1;
	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", c)) == NULL)
		return pk_err_ossl(e, "Failed to generate the ECC key pair %s", name);
	return key_store_new(p, name, PKI_KEY_EC, pkey, exportable, e);
}

/* The key pair NAME of TYPE, or NULL with the console's error. */
static struct keyrec *
key_of_type(const struct pki *p, enum pki_key_type type, const char *name,
    struct pk_err *e)
{
	struct keyrec *k = find_key(p, name);

	if (k == NULL || (type != PKI_KEY_ANY && k->type != type)) {
		if (type == PKI_KEY_ANY)
			pk_err_set(e, "The key pair %s does not exist.",
			    name != NULL ? name : "");
		else
			pk_err_set(e, "The %s key pair %s does not exist.",
			    type_word(type), name != NULL ? name : "");
		return NULL;
	}
	return k;
}

int
pki_key_destroy(struct pki *p, enum pki_key_type type, const char *name,
    struct pk_err *e)
{
	struct keyrec *k = key_of_type(p, type, name, e);
	char *path;
	int rc;

	if (k == NULL)
		return -1;
	if (key_in_use(p, k->name))
		return pk_err_set(e, "The key pair %s is in use by a CMP session and "
		    "cannot be destroyed.", k->name);
	path = key_file(p, k->name);
	rc = storage_remove(path, e);
	free(path);
	if (rc == 0)
		key_drop(p, k);
	return rc;
}

static int
key_display_one(const struct keyrec *k, struct sbuf *out, struct pk_err *e)
{
	struct tm tm;
	BIGNUM *n = NULL, *ex = NULL;
	unsigned char *buf = NULL;
	size_t blen = 0;
	int rc = -1;

	localtime_r(&k->created, &tm);
	sbuf_puts(out, "\n=====================================================\n");
	sbuf_printf(out, "Time of Key pair created: %02d:%02d:%02d  %d/%d/%d\n",
	    tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday);
	sbuf_printf(out, "Key Name: %s\n", k->name);
	if (k->type == PKI_KEY_RSA)
		sbuf_printf(out, "Key Modulus: %d bits\n", k->bits);
	else
		sbuf_printf(out, "Key Curve: %s (%d bits)\n", k->curve, k->bits);
	sbuf_printf(out, "Key Exportable: %s\n", k->exportable ? "Yes" : "No");
	sbuf_puts(out, "=====================================================\n");
	if (k->type == PKI_KEY_RSA) {
		unsigned long ew;

		if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
		    EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_E, &ex) != 1) {
			pk_err_ossl(e, "cannot read the key pair %s", k->name);
			goto out;
		}
		/* A leading zero byte when the top bit is set, as OpenSSL shows it. */
		blen = (size_t)BN_num_bytes(n) + 1;
		buf = xmalloc(blen);
		buf[0] = 0;
		BN_bn2bin(n, buf + 1);
		sbuf_printf(out, "RSA Public-Key: (%d bits)\n", k->bits);
		sbuf_puts(out, "Modulus:\n");
		if (BN_num_bits(n) % 8 == 0)
			hex_block(out, buf, blen);
		else
			hex_block(out, buf + 1, blen - 1);
		ew = BN_get_word(ex);
		sbuf_printf(out, "Exponent: %lu (0x%lx)\n", ew, ew);
	} else {
		if (EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_PUB_KEY,
		    NULL, 0, &blen) != 1) {
			pk_err_ossl(e, "cannot read the key pair %s", k->name);
			goto out;
		}
		buf = xmalloc(blen);
		if (EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_PUB_KEY,
		    buf, blen, &blen) != 1) {
			pk_err_ossl(e, "cannot read the key pair %s", k->name);
			goto out;
		}
		sbuf_printf(out, "EC Public-Key: (%d bits)\n", k->bits);
		sbuf_puts(out, "pub:\n");
		hex_block(out, buf, blen);
		sbuf_printf(out, "ASN1 OID: %s\n", k->curve);
		for (size_t i = 0; curves[i] != NULL; i++)
			if (curves[i] == k->curve)
				sbuf_printf(out, "NIST CURVE: %s\n", nist[i]);
	}
	rc = 0;
out:
	free(buf);
	BN_free(n);
	BN_free(ex);
	return rc;
}

int
pki_key_display(struct pki *p, enum pki_key_type type, const char *name,
    struct sbuf *out, struct pk_err *e)
{
	struct sbuf body = SBUF_INIT;
	size_t count = 0;
	int rc = -1;

	if (name != NULL) {
		struct keyrec *k = key_of_type(p, type, name, e);

		if (k == NULL)
			goto out;
		if (key_display_one(k, &body, e) != 0)
			goto out;
		count = 1;
	} else {
		for (size_t i = 0; i < p->nkeys; i++) {
			if (type != PKI_KEY_ANY && p->keys[i]->type != type)
				continue;
			if (key_display_one(p->keys[i], &body, e) != 0)
				goto out;
			count++;
		}
	}
	sbuf_printf(out, "Total Number: %zu\n", count);
	sbuf_puts(out, sbuf_str(&body));
	rc = 0;
out:
	sbuf_free(&body);
	return rc;
}

int
pki_key_export_pem(struct pki *p, const char *name, const char *file,
    const char *password, struct pk_err *e)
{
	struct keyrec *k = key_of_type(p, PKI_KEY_ANY, name, e);
	BIO *b = NULL;
	char *path = NULL, *data;
	size_t pl;
	long n;
	int rc = -1;

	if (k == NULL)
		goto out;
	if (!k->exportable) {
		pk_err_set(e, "The key pair %s is not exportable.", k->name);
		goto out;
	}
	pl = password != NULL ? strlen(password) : 0;
	if (pl < PKI_PASSWORD_MIN || pl > PKI_PASSWORD_MAX) {
		pk_err_set(e, "The password must be %d to %d characters.",
		    PKI_PASSWORD_MIN, PKI_PASSWORD_MAX);
		goto out;
	}
	if (file == NULL || !storage_name_ok(file, e))
		goto out;
	if ((b = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PKCS8PrivateKey(b, k->pkey, EVP_aes_256_cbc(), password,
	    (int)pl, NULL, NULL) != 1) {
		pk_err_ossl(e, "Failed to export the key pair %s", k->name);
		goto out;
	}
	n = BIO_get_mem_data(b, &data);
	path = storage_path(storage_public_dir(p->st), file);
	if (storage_write_atomic(path, data, (size_t)n, 0600, e) != 0)
		goto out;
	rc = 0;
out:
	free(path);
	BIO_free(b);
	return rc;
}

char **
pki_key_names(const struct pki *p, enum pki_key_type type)
{
	char **v = xcalloc(p->nkeys + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < p->nkeys; i++)
		if (type == PKI_KEY_ANY || p->keys[i]->type == type)
			v[n++] = xstrdup(p->keys[i]->name);
	v[n] = NULL;
	return v;
}

EVP_PKEY *
pki_key_get0_pkey(const struct pki *p, const char *name)
{
	struct keyrec *k = find_key(p, name);

	return k != NULL ? k->pkey : NULL;
}

int
pki_key_info(const struct pki *p, const char *name, enum pki_key_type *type,
    int *bits, const char **curve, int *exportable, time_t *created)
{
	struct keyrec *k = find_key(p, name);

	if (k == NULL)
		return -1;
	if (type != NULL)
		*type = k->type;
	if (bits != NULL)
		*bits = k->bits;
	if (curve != NULL)
		*curve = k->curve;
	if (exportable != NULL)
		*exportable = k->exportable;
	if (created != NULL)
		*created = k->created;
	return 0;
}

const char *
pki_key_match_cert(const struct pki *p, const X509 *cert)
{
	EVP_PKEY *pub = cert != NULL ? X509_get0_pubkey(cert) : NULL;

	if (pub == NULL) {
		ERR_clear_error();
		return NULL;
	}
	for (size_t i = 0; i < p->nkeys; i++)
		if (EVP_PKEY_eq(pub, p->keys[i]->pkey) == 1)
			return p->keys[i]->name;
	ERR_clear_error();
	return NULL;
}

int
pki_key_generate_detached(const struct pki *p, const char *name, int bits,
    EVP_PKEY **out, struct pk_err *e)
{
	struct keyrec *k = key_of_type(p, PKI_KEY_ANY, name, e);
	EVP_PKEY *pkey;

	*out = NULL;
	if (k == NULL)
		return -1;
	if (k->type == PKI_KEY_RSA) {
		int b = bits == 0 ? k->bits : pki_rsa_bits(bits, e);

		if (b < 0)
			return -1;
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)b);
	} else {
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", k->curve);
	}
	if (pkey == NULL)
		return pk_err_ossl(e, "Failed to generate a new key for %s", k->name);
	*out = pkey;
	return 0;
}

int
pki_key_replace(struct pki *p, const char *name, EVP_PKEY *pkey, struct pk_err *e)
{
	struct keyrec *k = key_of_type(p, PKI_KEY_ANY, name, e);
	struct keyrec *nk = NULL;
	int rc = -1;

	if (k == NULL)
		goto out;
	if (pkey == NULL) {
		pk_err_set(e, "No new key for the key pair %s.", k->name);
		goto out;
	}
	nk = xcalloc(1, sizeof(*nk));
	nk->name = xstrdup(k->name);
	nk->exportable = k->exportable;
	nk->created = time(NULL);
	if (!EVP_PKEY_up_ref(pkey)) {
		pk_err_ossl(e, "cannot use the new key");
		goto out;
	}
	nk->pkey = pkey;
	if (key_facts(nk, e) != 0)
		goto out;
	if (nk->type != k->type) {
		pk_err_set(e, "The new key of %s is not an %s key.", k->name,
		    type_word(k->type));
		goto out;
	}
	if (key_write(p, nk, e) != 0)
		goto out;
	key_put(p, nk);
	nk = NULL;
	rc = 0;
out:
	keyrec_free(nk);
	return rc;
}

/* ---- certificates --------------------------------------------------- */

static int
not_a_cert(enum pki_cert_format fmt, const char *what, struct pk_err *e)
{
	return pk_err_set(e, "The file %s is not a valid certificate (%s).", what,
	    fmt == PKI_FMT_PEM ? "PEM" : fmt == PKI_FMT_DER ? "DER" : "PEM or DER");
}

int
pki_cert_decode(const unsigned char *data, size_t len, enum pki_cert_format fmt,
    const char *what, X509 **out, struct pk_err *e)
{
	unsigned char *der = NULL;
	char *pemname = NULL;
	long derlen = 0;
	const unsigned char *q;
	enum pki_cert_format f = fmt;
	BIO *b = NULL;
	X509 *x = NULL;
	int rc = -1;

	*out = NULL;
	if (what == NULL)
		what = "(data)";
	if (data == NULL || len == 0 || len > PKI_CERT_MAX_FILE) {
		not_a_cert(fmt, what, e);
		goto out;
	}
	if (f == PKI_FMT_AUTO)
		f = memmem(data, len, "-----BEGIN", 10) != NULL ? PKI_FMT_PEM :
		    PKI_FMT_DER;
	if (f == PKI_FMT_PEM) {
		/* The first CERTIFICATE block; other blocks are skipped. */
		if ((b = BIO_new_mem_buf(data, (int)len)) == NULL ||
		    PEM_bytes_read_bio(&der, &derlen, &pemname, PEM_STRING_X509, b,
		    no_password, NULL) != 1) {
			ERR_clear_error();
			not_a_cert(fmt, what, e);
			goto out;
		}
		q = der;
		x = d2i_X509(NULL, &q, derlen);
		if (x == NULL || q != der + derlen) {
			ERR_clear_error();
			not_a_cert(fmt, what, e);
			goto out;
		}
	} else {
		q = data;
		x = d2i_X509(NULL, &q, (long)len);
		/* After every d2i: all input consumed, no trailing bytes. */
		if (x == NULL || q != data + len) {
			ERR_clear_error();
			not_a_cert(fmt, what, e);
			goto out;
		}
	}
	/* Caches and checks the extensions before any getter relies on them. */
	if (X509_check_purpose(x, -1, 0) != 1) {
		ERR_clear_error();
		pk_err_set(e, "The certificate in %s has invalid extensions.", what);
		goto out;
	}
	*out = x;
	x = NULL;
	rc = 0;
out:
	X509_free(x);
	OPENSSL_free(der);
	OPENSSL_free(pemname);
	BIO_free(b);
	return rc;
}

int
pki_cert_load_file(struct pki *p, enum pki_cert_format fmt, const char *file,
    X509 **out, struct pk_err *e)
{
	unsigned char *data;
	size_t len;
	int rc;

	*out = NULL;
	if (pki_public_read(p, file, &data, &len, e) != 0)
		return -1;
	rc = pki_cert_decode(data, len, fmt, file, out, e);
	free(data);
	return rc;
}

static void
name_text(const X509_NAME *n, char *buf, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *d;
	long len;
	unsigned long fl = XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN |
	    XN_FLAG_DUMP_UNKNOWN_FIELDS | (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);

	buf[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, n, 0, fl) >= 0) {
		len = BIO_get_mem_data(b, &d);
		if (len < 0)
			len = 0;
		if ((size_t)len >= size)
			len = (long)size - 1;
		memcpy(buf, d, (size_t)len);
		buf[len] = '\0';
	}
	BIO_free(b);
}

static void
time_text(const ASN1_TIME *t, char *buf, size_t size)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		snprintf(buf, size, "-");
		return;
	}
	strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

void
pki_cert_describe(const struct pki *p, X509 *x, struct pki_cert_info *info)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const ASN1_INTEGER *sn;
	const char *k;
	char *hex;

	memset(info, 0, sizeof(*info));
	name_text(X509_get_subject_name(x), info->subject, sizeof(info->subject));
	name_text(X509_get_issuer_name(x), info->issuer, sizeof(info->issuer));
	if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1) {
		hex = pk_hex(md, mdlen, ':');
		for (char *q = hex; *q; q++)
			if (*q >= 'a' && *q <= 'f')
				*q = (char)(*q - 'a' + 'A');
		snprintf(info->fingerprint, sizeof(info->fingerprint), "%s", hex);
		free(hex);
	}
	sn = X509_get0_serialNumber(x);
	if (sn != NULL && sn->length > 0) {
		hex = pk_hex(sn->data, (size_t)sn->length, ':');
		for (char *q = hex; *q; q++)
			if (*q >= 'a' && *q <= 'f')
				*q = (char)(*q - 'a' + 'A');
		snprintf(info->serial, sizeof(info->serial), "%s", hex);
		free(hex);
	}
	time_text(X509_get0_notBefore(x), info->not_before, sizeof(info->not_before));
	time_text(X509_get0_notAfter(x), info->not_after, sizeof(info->not_after));
	info->self_signed = X509_self_signed(x, 1) == 1;
	if (p != NULL && (k = pki_key_match_cert(p, x)) != NULL)
		snprintf(info->key_name, sizeof(info->key_name), "%s", k);
	ERR_clear_error();
}

int
pki_cert_file_info(struct pki *p, enum pki_cert_format fmt, const char *file,
    struct pki_cert_info *info, struct pk_err *e)
{
	X509 *x;

	if (pki_cert_load_file(p, fmt, file, &x, e) != 0)
		return -1;
	pki_cert_describe(p, x, info);
	X509_free(x);
	return 0;
}

int
pki_cert_import_x509(struct pki *p, enum pki_cert_kind kind, const char *realm,
    X509 *x, const char *cert_name, struct pki_cert_info *info, struct pk_err *e)
{
	struct certrec *c = NULL;
	const char *key = NULL;
	int rc = -1;

	if (realm == NULL)
		realm = PKI_DEFAULT_REALM;
	if (kind != PKI_CERT_CA && kind != PKI_CERT_LOCAL) {
		pk_err_set(e, "Unknown certificate kind.");
		goto out;
	}
	if (!simple_name_ok("realm name", realm, e))
		goto out;
	if (cert_name == NULL || !storage_name_ok(cert_name, e))
		goto out;
	if (x == NULL || X509_check_purpose(x, -1, 0) != 1) {
		ERR_clear_error();
		pk_err_set(e, "The certificate %s has invalid extensions.", cert_name);
		goto out;
	}
	/* RFC 5280 4.2.1.9: only a certificate with cA set in basicConstraints (or
	 * a v1 self-signed root, which has no extensions) can be a CA. */
	if (kind == PKI_CERT_CA && X509_check_ca(x) == 0) {
		pk_err_set(e, "The certificate %s is not a CA certificate.", cert_name);
		goto out;
	}
	if (kind == PKI_CERT_LOCAL && (key = pki_key_match_cert(p, x)) == NULL) {
		pk_err_set(e, "The certificate does not match any key pair in the "
		    "device.");
		goto out;
	}
	c = xcalloc(1, sizeof(*c));
	c->kind = kind;
	c->name = xstrdup(cert_name);
	c->realm = xstrdup(realm);
	c->key_name = key != NULL ? xstrdup(key) : NULL;
	if (!X509_up_ref(x)) {
		pk_err_ossl(e, "cannot keep the certificate");
		goto out;
	}
	c->x = x;
	if (cert_write(p, c, e) != 0)
		goto out;
	if (info != NULL)
		pki_cert_describe(p, x, info);
	cert_put(p, c);
	c = NULL;
	rc = 0;
out:
	certrec_free(c);
	return rc;
}

int
pki_cert_import(struct pki *p, enum pki_cert_kind kind, const char *realm,
    enum pki_cert_format fmt, const char *file, const char *cert_name,
    struct pki_cert_info *info, struct pk_err *e)
{
	X509 *x;
	int rc;

	if (pki_cert_load_file(p, fmt, file, &x, e) != 0)
		return -1;
	rc = pki_cert_import_x509(p, kind, realm, x,
	    cert_name != NULL ? cert_name : file, info, e);
	X509_free(x);
	return rc;
}

int
pki_cert_delete(struct pki *p, enum pki_cert_kind kind, const char *file,
    const char *realm, struct pk_err *e)
{
	size_t i = 0;
	int found = 0;

	if (file != NULL) {
		struct certrec *c = find_cert(p, kind, file);
		char *path;
		int rc;

		if (c == NULL)
			return pk_err_set(e, "The %s certificate %s does not exist in "
			    "the device.", kind_word(kind), file);
		path = cert_file(p, kind, c->name);
		rc = storage_remove(path, e);
		free(path);
		if (rc == 0)
			cert_drop(p, c);
		return rc;
	}
	if (realm == NULL)
		return pk_err_set(e, "A file name or a realm is required.");
	while (i < p->ncerts) {
		struct certrec *c = p->certs[i];
		char *path;
		int rc;

		if (c->kind != kind || !pk_strcaseeq(c->realm, realm)) {
			i++;
			continue;
		}
		path = cert_file(p, kind, c->name);
		rc = storage_remove(path, e);
		free(path);
		if (rc != 0)
			return -1;
		cert_drop(p, c);
		found++;
	}
	if (!found)
		return pk_err_set(e, "There is no %s certificate in realm %s.",
		    kind_word(kind), realm);
	return 0;
}

static int
cert_display_one(const struct certrec *c, struct sbuf *out, struct pk_err *e)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *d;
	long n;
	unsigned long nmfl = XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN | XN_FLAG_SPC_EQ |
	    XN_FLAG_DUMP_UNKNOWN_FIELDS | (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);

	if (b == NULL || X509_print_ex(b, c->x, nmfl, X509_FLAG_COMPAT) != 1) {
		BIO_free(b);
		return pk_err_ossl(e, "cannot display the certificate %s", c->name);
	}
	n = BIO_get_mem_data(b, &d);
	sbuf_putc(out, '\n');
	sbuf_add(out, d, (size_t)n);
	sbuf_printf(out, "Pki realm name: %s\n", c->realm);
	sbuf_printf(out, "Certificate file name: %s\n", c->name);
	sbuf_puts(out, "Certificate peer name: -\n");
	BIO_free(b);
	return 0;
}

int
pki_cert_display(struct pki *p, enum pki_cert_kind kind, const char *file,
    const char *realm, struct sbuf *out, struct pk_err *e)
{
	struct sbuf body = SBUF_INIT;
	size_t count = 0;
	int rc = -1;

	if (file != NULL && find_cert(p, kind, file) == NULL) {
		pk_err_set(e, "The %s certificate %s does not exist in the device.",
		    kind_word(kind), file);
		goto out;
	}
	for (size_t i = 0; i < p->ncerts; i++) {
		const struct certrec *c = p->certs[i];

		if (c->kind != kind || (file != NULL && strcmp(c->name, file) != 0) ||
		    (realm != NULL && !pk_strcaseeq(c->realm, realm)))
			continue;
		if (cert_display_one(c, &body, e) != 0)
			goto out;
		count++;
	}
	sbuf_printf(out, "Total Number: %zu\n", count);
	sbuf_puts(out, sbuf_str(&body));
	rc = 0;
out:
	sbuf_free(&body);
	return rc;
}

static const char *
verify_reason(int err, int depth, char *buf, size_t size)
{
	switch (err) {
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_CERT_HAS_EXPIRED:
		if (depth == 0)
			return "The certificate is ineffective or expired.";
		return "A CA certificate of the chain is ineffective or expired.";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return "The issuer's CA certificate is not imported.";
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
		return "The certificate signature is invalid.";
	default:
		snprintf(buf, size, "The certificate chain is invalid (%s).",
		    X509_verify_cert_error_string(err));
		return buf;
	}
}

/* Status and reason of X against the imported CA certificates: path validation
 * of RFC 5280 6.1 (signatures, validity periods, basicConstraints of the CAs) by
 * X509_verify_cert, with the imported CA certificates as trust anchors. */
static void
validate_x(struct pki *p, X509 *x, const char **status, const char **reason,
    char *buf, size_t size)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	EVP_PKEY *pub;

	*status = "Invalid";
	if (X509_self_signed(x, 0) == 1) {
		pub = X509_get0_pubkey(x);
		if (pub == NULL || X509_verify(x, pub) != 1)
			*reason = "The certificate signature is invalid.";
		else if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0 ||
		    X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
			*reason = "The certificate is ineffective or expired.";
		else {
			*status = "Self-sign";
			*reason = "-";
		}
		goto out;
	}
	if ((store = X509_STORE_new()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL) {
		*reason = "Out of memory.";
		goto out;
	}
	for (int i = 0; i < sk_X509_num(p->cas); i++)
		X509_STORE_add_cert(store, sk_X509_value(p->cas, i));
	/* An imported intermediate CA is a trust anchor of its own. */
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	if (X509_STORE_CTX_init(ctx, store, x, NULL) != 1) {
		*reason = "The certificate cannot be checked.";
		goto out;
	}
	if (X509_verify_cert(ctx) == 1) {
		*status = "Valid";
		*reason = "-";
	} else {
		*reason = verify_reason(X509_STORE_CTX_get_error(ctx),
		    X509_STORE_CTX_get_error_depth(ctx), buf, size);
	}
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
}

int
pki_cert_validate(struct pki *p, enum pki_cert_kind kind, const char *file,
    struct sbuf *out, int *valid, struct pk_err *e)
{
	X509 *x = NULL;
	struct certrec *c;
	struct stat sb;
	char *path = NULL;
	char subject[512], rbuf[300];
	const char *status, *reason;
	int w1, w2, rc = -1;

	if (valid != NULL)
		*valid = 0;
	if (file == NULL || !storage_name_ok(file, e))
		goto out;
	path = storage_path(storage_public_dir(p->st), file);
	c = find_cert(p, kind, file);
	if (lstat(path, &sb) != 0 && errno == ENOENT && c != NULL) {
		x = c->x;
		X509_up_ref(x);
	} else if (pki_cert_load_file(p, PKI_FMT_AUTO, file, &x, e) != 0) {
		goto out;
	}
	validate_x(p, x, &status, &reason, rbuf, sizeof(rbuf));
	name_text(X509_get_subject_name(x), subject, sizeof(subject));
	w1 = (int)strlen(file) > 11 ? (int)strlen(file) : 11;
	w2 = (int)strlen(subject) > 7 ? (int)strlen(subject) : 7;
	sbuf_printf(out, "%-*s  %-*s  %-9s  %s\n", w1, "Certificate", w2, "Subject",
	    "Status", "Reason");
	sbuf_printf(out, "%-*s  %-*s  %-9s  %s\n", w1, file, w2, subject, status,
	    reason);
	if (valid != NULL)
		*valid = strcmp(status, "Invalid") != 0;
	rc = 0;
out:
	free(path);
	X509_free(x);
	return rc;
}

char **
pki_cert_names(const struct pki *p, enum pki_cert_kind kind)
{
	char **v = xcalloc(p->ncerts + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < p->ncerts; i++)
		if (p->certs[i]->kind == kind)
			v[n++] = xstrdup(p->certs[i]->name);
	v[n] = NULL;
	return v;
}

STACK_OF(X509) *
pki_ca_certs_get0(const struct pki *p)
{
	return p->cas;
}

X509 *
pki_cert_get0(const struct pki *p, enum pki_cert_kind kind, const char *name)
{
	struct certrec *c = find_cert(p, kind, name);

	return c != NULL ? c->x : NULL;
}

X509 *
pki_local_cert_get0(const struct pki *p, const char *name)
{
	return pki_cert_get0(p, PKI_CERT_LOCAL, name);
}

const char *
pki_cert_key_name(const struct pki *p, const char *name)
{
	struct certrec *c = find_cert(p, PKI_CERT_LOCAL, name);

	return c != NULL ? c->key_name : NULL;
}

const char *
pki_cert_realm(const struct pki *p, enum pki_cert_kind kind, const char *name)
{
	struct certrec *c = find_cert(p, kind, name);

	return c != NULL ? c->realm : NULL;
}
