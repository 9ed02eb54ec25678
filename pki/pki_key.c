/*
 * pki key pairs: creation (RSA, EC on the curves we offer), the key store files,
 * destroy with the in-use hook, `display pki {rsa|ecc} local-key-pair`, and the
 * new keys of automatic update (detached, replace). Import and export are in
 * pki_keyio.c. Contract in pki.h; the store file format in pki_int.h.
 */
#include "pki_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "../storage/storage.h"

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

char *
pki_key_path(const struct pki *p, const char *name)
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

int
pki_key_name_ok(const char *name, struct pk_err *e)
{
	return pki_simple_name_ok("key pair name", name, e);
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

/* ---- records -------------------------------------------------------- */

void
pki_keyrec_free(struct keyrec *k)
{
	if (k == NULL)
		return;
	free(k->name);
	EVP_PKEY_free(k->pkey);
	free(k);
}

/* The index of the first key pair whose name is not below NAME in the list's
 * order (case-insensitive): a binary search. */
static size_t
key_lower_bound(const struct pki *p, const char *name)
{
	size_t lo = 0, hi = p->nkeys;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcasecmp(p->keys[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct keyrec *
pki_keyrec_find(const struct pki *p, const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	i = key_lower_bound(p, name);
	return i < p->nkeys && strcasecmp(p->keys[i]->name, name) == 0 ? p->keys[i] :
	    NULL;
}

void
pki_keyrec_put(struct pki *p, struct keyrec *k)
{
	size_t i = key_lower_bound(p, k->name);

	if (i < p->nkeys && strcasecmp(p->keys[i]->name, k->name) == 0) {
		pki_keyrec_free(p->keys[i]);
		p->keys[i] = k;
		return;
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
			pki_keyrec_free(k);
			return;
		}
	}
}

/* ---- key facts from an EVP_PKEY ------------------------------------- */

int
pki_keyrec_facts(struct keyrec *k, struct pk_err *e)
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

int
pki_keyrec_write(const struct pki *p, const struct keyrec *k, struct pk_err *e)
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
	    PKI_KEY_MAGIC, k->type == PKI_KEY_EC ? "ec" : "rsa", k->name,
	    k->exportable ? "yes" : "no", (long long)k->created) <= 0 ||
	    PEM_write_bio_PKCS8PrivateKey(b, k->pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		pk_err_ossl(e, "cannot save the key pair %s", k->name);
		goto out;
	}
	n = BIO_get_mem_data(b, &data);
	path = pki_key_path(p, k->name);
	if (storage_write_atomic(path, data, (size_t)n, 0600, e) != 0)
		goto out;
	rc = 0;
out:
	free(path);
	BIO_free(b);	/* secure memory: cleansed on free */
	return rc;
}

int
pki_keyrec_load(struct pki *p, const char *path, struct keyrec **out,
    struct pk_err *e)
{
	unsigned char *data = NULL;
	size_t len = 0;
	BIO *b = NULL;
	struct keyrec *k = NULL;
	char *v = NULL, *expect = NULL;
	int rc = -1;

	*out = NULL;
	if (storage_read(path, PKI_FILE_MAX, &data, &len, e) != 0)
		goto out;
	if (strncmp((char *)data, PKI_KEY_MAGIC "\n", strlen(PKI_KEY_MAGIC) + 1) != 0) {
		pk_err_set(e, "%s is not a key pair file of this device", path);
		goto out;
	}
	k = xcalloc(1, sizeof(*k));
	k->name = pki_header_dup((char *)data, "name");
	if (k->name == NULL || !pki_key_name_ok(k->name, NULL)) {
		pk_err_set(e, "%s has no valid key pair name", path);
		goto out;
	}
	expect = pki_key_path(p, k->name);
	if (strcmp(expect, path) != 0) {
		pk_err_set(e, "%s does not belong to key pair %s", path, k->name);
		goto out;
	}
	v = pki_header_dup((char *)data, "exportable");
	k->exportable = v != NULL && strcmp(v, "yes") == 0;
	free(v);
	v = pki_header_dup((char *)data, "created");
	k->created = v != NULL ? (time_t)strtoll(v, NULL, 10) : 0;
	if ((b = BIO_new_mem_buf(data, (int)len)) == NULL ||
	    (k->pkey = PEM_read_bio_PrivateKey(b, NULL, pki_no_password, NULL)) == NULL) {
		pk_err_ossl(e, "%s holds no readable private key", path);
		goto out;
	}
	/* Only the key types and curves we create (pki_ec_curves()). */
	if (pki_keyrec_facts(k, e) != 0)
		goto out;
	free(v);
	v = pki_header_dup((char *)data, "type");
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
	pki_keyrec_free(k);
	return rc;
}

/* ---- key pairs ------------------------------------------------------ */

enum pki_key_type
pki_key_exists(const struct pki *p, const char *name)
{
	struct keyrec *k = pki_keyrec_find(p, name);

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

int
pki_key_used(const struct pki *p, const char *name)
{
	return p->in_use != NULL && p->in_use(p->in_use_arg, name);
}

/* Stores a new key pair (writes, then swaps in memory). Takes PKEY. */
static int
key_store_new(struct pki *p, const char *name, enum pki_key_type type,
    EVP_PKEY *pkey, int exportable, struct pk_err *e)
{
	struct keyrec *old = pki_keyrec_find(p, name);
	struct keyrec *k = xcalloc(1, sizeof(*k));
	int rc = -1;

	k->name = xstrdup(name);
	k->pkey = pkey;
	k->exportable = exportable != 0;
	k->created = time(NULL);
	if (pki_keyrec_facts(k, e) != 0)
		goto out;
	if (old != NULL && old->type != type) {
		pk_err_set(e, "The key pair %s already exists as an %s key pair.",
		    old->name, pki_type_word(old->type));
		goto out;
	}
	if (pki_keyrec_write(p, k, e) != 0)
		goto out;
	pki_keyrec_put(p, k);
	k = NULL;
	rc = 0;
out:
	pki_keyrec_free(k);
	return rc;
}

static int
key_create_check(struct pki *p, const char *name, enum pki_key_type type,
    struct pk_err *e)
{
	struct keyrec *old;

	if (!pki_key_name_ok(name, e))
		return -1;
	old = pki_keyrec_find(p, name);
	if (old == NULL)
		return 0;
	if (old->type != type)
		return pk_err_set(e, "The key pair %s already exists as an %s key "
		    "pair.", old->name, pki_type_word(old->type));
	if (pki_key_used(p, old->name))
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
struct keyrec *
pki_keyrec_of_type(const struct pki *p, enum pki_key_type type, const char *name,
    struct pk_err *e)
{
	struct keyrec *k = pki_keyrec_find(p, name);

	if (k == NULL || (type != PKI_KEY_ANY && k->type != type)) {
		if (type == PKI_KEY_ANY)
			pk_err_set(e, "The key pair %s does not exist.",
			    name != NULL ? name : "");
		else
			pk_err_set(e, "The %s key pair %s does not exist.",
			    pki_type_word(type), name != NULL ? name : "");
		return NULL;
	}
	return k;
}

int
pki_key_destroy(struct pki *p, enum pki_key_type type, const char *name,
    struct pk_err *e)
{
	struct keyrec *k = pki_keyrec_of_type(p, type, name, e);
	char *path;
	int rc;

	if (k == NULL)
		return -1;
	if (pki_key_used(p, k->name))
		return pk_err_set(e, "The key pair %s is in use by a CMP session and "
		    "cannot be destroyed.", k->name);
	path = pki_key_path(p, k->name);
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
		struct keyrec *k = pki_keyrec_of_type(p, type, name, e);

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
	struct keyrec *k = pki_keyrec_find(p, name);

	return k != NULL ? k->pkey : NULL;
}

int
pki_key_info(const struct pki *p, const char *name, enum pki_key_type *type,
    int *bits, const char **curve, int *exportable, time_t *created)
{
	struct keyrec *k = pki_keyrec_find(p, name);

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
	struct keyrec *k = pki_keyrec_of_type(p, PKI_KEY_ANY, name, e);
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
	struct keyrec *k = pki_keyrec_of_type(p, PKI_KEY_ANY, name, e);
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
	if (pki_keyrec_facts(nk, e) != 0)
		goto out;
	if (nk->type != k->type) {
		pk_err_set(e, "The new key of %s is not an %s key.", k->name,
		    pki_type_word(k->type));
		goto out;
	}
	if (pki_keyrec_write(p, nk, e) != 0)
		goto out;
	pki_keyrec_put(p, nk);
	nk = NULL;
	rc = 0;
out:
	pki_keyrec_free(nk);
	return rc;
}

