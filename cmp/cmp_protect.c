/*
 * cmp_protect: PKIMessage protection (RFC 4210 5.1.3).
 *
 * PasswordBasedMac (5.1.3.1): BASEKEY = OWF^iterationCount(secret || salt), then
 * MAC(BASEKEY, DER(ProtectedPart)). OWF SHA-1/224/256/384/512, MAC HMAC with the
 * same family. A verifier's limits (struct cmp_pbm_limits: minimum and maximum
 * iteration count, minimum salt) are checked before any hashing: the minimums
 * keep a weak MAC out, the maximum bounds the work (denial of service).
 *
 * PBMAC1 (RFC 9481 6.1.2, RFC 8018 7.1): KEY = PBKDF2(secret, salt,
 * iterationCount, keyLength) with the PRF HMAC-SHA*, then HMAC-SHA*(KEY,
 * DER(ProtectedPart)). The same limits hold for its iterationCount and salt;
 * keyLength (octets, RFC 8018 A.2) lies within CMP_PBMAC1_MIN_KEYLEN..
 * CMP_PBMAC1_MAX_KEYLEN. A keyLength written in bits (a known bug of
 * cmp-ra-component before 4.3.0) is refused with a message that says so,
 * unless the caller's limits ask for that reading (cmpdump does on request).
 *
 * Signature (5.1.3.3): any signature algorithm OpenSSL's ASN1_item_sign/verify
 * knows (RSA PKCS#1 v1.5, RSASSA-PSS, ECDSA, EdDSA), over DER(ProtectedPart).
 * Verification works on the received bytes of header and body (cmp_asn1.c) and
 * names the reason of a failure.
 */
#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "cmp.h"
#include "cmp_msg_int.h"

static const EVP_MD *
owf_md(int nid)
{
	switch (nid) {
	case NID_sha1: return EVP_sha1();
	case NID_sha224: return EVP_sha224();
	case NID_sha256: return EVP_sha256();
	case NID_sha384: return EVP_sha384();
	case NID_sha512: return EVP_sha512();
	default: return NULL;
	}
}

/* HMAC algorithm OIDs: RFC 4210 names hmac-sha1 (1.3.6.1.5.5.8.1.2); RFC 4231 /
 * RFC 8018 give hmacWithSHA*. */
static const EVP_MD *
mac_md(int nid)
{
	switch (nid) {
	case NID_hmac_sha1:
	case NID_hmacWithSHA1: return EVP_sha1();
	case NID_hmacWithSHA224: return EVP_sha224();
	case NID_hmacWithSHA256: return EVP_sha256();
	case NID_hmacWithSHA384: return EVP_sha384();
	case NID_hmacWithSHA512: return EVP_sha512();
	default: return NULL;
	}
}

/* AlgorithmIdentifier parameters of a hash or HMAC: absent or NULL. */
static int
params_absent_or_null(const X509_ALGOR *a)
{
	return a->parameter == NULL || a->parameter->type == V_ASN1_NULL;
}

static const char *
oid_text(const ASN1_OBJECT *o, char *buf, size_t n)
{
	if (o == NULL || OBJ_obj2txt(buf, (int)n, o, 0) <= 0)
		snprintf(buf, n, "(none)");
	return buf;
}

/* Sets the bit string to DATA with no unused bits, kept as is on encoding. */
static int
set_bits(ASN1_BIT_STRING *bs, const unsigned char *data, size_t len)
{
	if (!ASN1_BIT_STRING_set(bs, (unsigned char *)data, (int)len))
		return -1;
	bs->flags &= ~0x07L;
	bs->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	return 0;
}

int
cmp_msg_protection_kind(const CMP_PKIMESSAGE *m)
{
	const X509_ALGOR *a = m->header->protectionAlg;
	int nid, md, pk;

	if (a == NULL)
		return m->protection == NULL ? CMP_PROT_NONE : CMP_PROT_UNKNOWN;
	nid = OBJ_obj2nid(a->algorithm);
	if (nid == NID_id_PasswordBasedMAC)
		return CMP_PROT_PBM;
	if (cmp_oid_is(a->algorithm, CMP_OID_PBMAC1))
		return CMP_PROT_PBMAC1;
	if (nid != NID_undef && OBJ_find_sigid_algs(nid, &md, &pk))
		return CMP_PROT_SIG;
	return CMP_PROT_UNKNOWN;
}

/* The limits that decoding for display applies: anything well-formed. */
static const struct cmp_pbm_limits pbm_any = { 1, CMP_PBM_MAX_ITER, 1, 0 };

/* LIM with its bounds clamped to what this module can do at all. */
static struct cmp_pbm_limits
pbm_limits(const struct cmp_pbm_limits *lim)
{
	struct cmp_pbm_limits l = CMP_PBM_LIMITS_DEFAULT;

	if (lim != NULL)
		l = *lim;
	if (l.min_iter < 1)
		l.min_iter = 1;
	if (l.max_iter < 1 || l.max_iter > CMP_PBM_MAX_ITER)
		l.max_iter = CMP_PBM_MAX_ITER;
	if (l.min_salt < 1)
		l.min_salt = 1;
	if (l.min_salt > CMP_PBM_MAX_SALT)
		l.min_salt = CMP_PBM_MAX_SALT;
	return l;
}

/* Decodes and range-checks PBMParameter (RFC 4210 5.1.3.1) against LIM. */
static int
pbm_params(const X509_ALGOR *a, const struct cmp_pbm_limits *lim,
    CMP_PBMPARAMETER **res, const EVP_MD **owf, const EVP_MD **mac, long *iter,
    struct pk_err *e)
{
	struct cmp_pbm_limits l = pbm_limits(lim);
	CMP_PBMPARAMETER *p = NULL;
	char buf[80];
	int64_t it;
	int rc = -1;

	*res = NULL;
	if (a->parameter == NULL || a->parameter->type != V_ASN1_SEQUENCE)
		return pk_err_set(e, "malformed PBM parameters (RFC 4210 5.1.3.1: "
		    "PBMParameter missing)");
	p = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(CMP_PBMPARAMETER),
	    a->parameter);
	if (p == NULL)
		return pk_err_ossl(e, "malformed PBM parameters");
	if (p->salt->length > CMP_PBM_MAX_SALT) {
		pk_err_set(e, "PBM salt of %d bytes refused (limit %d..%d)",
		    p->salt->length, l.min_salt, CMP_PBM_MAX_SALT);
		goto out;
	}
	if (!ASN1_INTEGER_get_int64(&it, p->iterationCount)) {
		ERR_clear_error();
		pk_err_set(e, "PBM iteration count refused: not a number in "
		    "%ld..%ld", l.min_iter, l.max_iter);
		goto out;
	}
	if (it > l.max_iter) {
		pk_err_set(e, "PBM iteration count refused: %lld is above the limit "
		    "of %ld (denial of service)", (long long)it, l.max_iter);
		goto out;
	}
	if (it < l.min_iter) {
		pk_err_set(e, "RFC 4211 4.4: the PBM iteration count must be at "
		    "least %ld, this one is %lld", l.min_iter, (long long)it);
		goto out;
	}
	if (p->salt->length < l.min_salt) {
		pk_err_set(e, "RFC 8018 4.1: a PBM salt of at least %d bytes is "
		    "required, this one has %d", l.min_salt, p->salt->length);
		goto out;
	}
	if ((*owf = owf_md(OBJ_obj2nid(p->owf->algorithm))) == NULL) {
		pk_err_set(e, "unknown PBM one-way function %s",
		    oid_text(p->owf->algorithm, buf, sizeof(buf)));
		goto out;
	}
	if ((*mac = mac_md(OBJ_obj2nid(p->mac->algorithm))) == NULL) {
		pk_err_set(e, "unknown PBM MAC algorithm %s",
		    oid_text(p->mac->algorithm, buf, sizeof(buf)));
		goto out;
	}
	if (!params_absent_or_null(p->owf) || !params_absent_or_null(p->mac)) {
		pk_err_set(e, "malformed PBM parameters: OWF or MAC algorithm has "
		    "parameters");
		goto out;
	}
	*iter = (long)it;
	*res = p;
	p = NULL;
	rc = 0;
out:
	CMP_PBMPARAMETER_free(p);
	return rc;
}

/* RFC 4210 5.1.3.1: BASEKEY is the OWF applied iterationCount times, the first
 * time to secret || salt; the MAC key is BASEKEY. */
static int
pbm_compute(const CMP_PBMPARAMETER *p, const EVP_MD *owf, const EVP_MD *mac,
    long iter, const void *secret, size_t slen, const unsigned char *data,
    size_t dlen, unsigned char *out, unsigned int *outlen, struct pk_err *e)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	/* owf comes from EVP_get_digestbynid: a legacy handle that makes every
	 * EVP_DigestInit_ex fetch the implementation again (a provider look-up
	 * under a lock, most of the cost of an iteration). Fetched once here. */
	EVP_MD *md = EVP_MD_fetch(NULL, EVP_MD_get0_name(owf), NULL);
	unsigned char key[EVP_MAX_MD_SIZE];
	unsigned int klen = 0;
	long i;
	int rc = -1;

	if (md != NULL)
		owf = md;
	if (ctx == NULL || !EVP_DigestInit_ex(ctx, owf, NULL) ||
	    !EVP_DigestUpdate(ctx, secret, slen) ||
	    !EVP_DigestUpdate(ctx, p->salt->data, (size_t)p->salt->length) ||
	    !EVP_DigestFinal_ex(ctx, key, &klen)) {
		pk_err_ossl(e, "PBM: hashing failed");
		goto out;
	}
	for (i = 1; i < iter; i++) {
		if (!EVP_DigestInit_ex(ctx, owf, NULL) ||
		    !EVP_DigestUpdate(ctx, key, klen) ||
		    !EVP_DigestFinal_ex(ctx, key, &klen)) {
			pk_err_ossl(e, "PBM: hashing failed");
			goto out;
		}
	}
	if (HMAC(mac, key, (int)klen, data, dlen, out, outlen) == NULL) {
		pk_err_ossl(e, "PBM: HMAC failed");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	EVP_MD_CTX_free(ctx);
	EVP_MD_free(md);
	return rc;
}

/* ---- PBMAC1 (RFC 9481 6.1.2, RFC 8018 7.1 and A.5) ---- */

/* The largest key the keyLength-in-bits quirk derives (4096 bits). */
#define PBMAC1_QUIRK_MAX_KEYLEN	512

/* The decoded, range-checked parameters of one PBMAC1 protectionAlg. */
struct pbmac1 {
	CMP_PBMAC1PARAM *p;
	PBKDF2PARAM *kdf;
	const ASN1_OCTET_STRING *salt;
	long iter;
	int key_len;			/* octets to derive */
	long key_len_sent;		/* keyLength as sent, -1 absent */
	int prf_nid, mac_nid;		/* hmacWithSHA* */
	const EVP_MD *prf, *mac;
};

static void
pbmac1_clear(struct pbmac1 *b)
{
	CMP_PBMAC1PARAM_free(b->p);
	PBKDF2PARAM_free(b->kdf);
	memset(b, 0, sizeof(*b));
}

/* The digest of an HMAC algorithm of RFC 8018 B.1 (hmacWithSHA*); NULL for
 * another or when it has parameters other than NULL. */
static const EVP_MD *
pbmac1_hmac(const X509_ALGOR *a, int *nid)
{
	*nid = OBJ_obj2nid(a->algorithm);
	if (*nid == NID_hmac_sha1 || !params_absent_or_null(a))
		return NULL;
	return mac_md(*nid);
}

/* Decodes and range-checks PBMAC1-params against LIM (SHOW: for display, the
 * keyLength is not held to the limits and nothing is derived with it). */
static int
pbmac1_params(const X509_ALGOR *a, const struct cmp_pbm_limits *lim, int show,
    struct pbmac1 *b, struct pk_err *e)
{
	struct cmp_pbm_limits l = pbm_limits(lim);
	char buf[80];
	int64_t v;
	int rc = -1, max_key;

	memset(b, 0, sizeof(*b));
	if (a->parameter == NULL || a->parameter->type != V_ASN1_SEQUENCE)
		return pk_err_set(e, "malformed PBMAC1 parameters (RFC 8018 A.5: "
		    "PBMAC1-params missing)");
	b->p = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(CMP_PBMAC1PARAM),
	    a->parameter);
	if (b->p == NULL) {
		pk_err_ossl(e, "malformed PBMAC1 parameters (RFC 8018 A.5)");
		goto out;
	}
	if (OBJ_obj2nid(b->p->keyDerivationFunc->algorithm) != NID_id_pbkdf2) {
		pk_err_set(e, "RFC 9481 6.1.2: the PBMAC1 key derivation function "
		    "%s is not PBKDF2", oid_text(b->p->keyDerivationFunc->algorithm,
		    buf, sizeof(buf)));
		goto out;
	}
	if (b->p->keyDerivationFunc->parameter == NULL ||
	    b->p->keyDerivationFunc->parameter->type != V_ASN1_SEQUENCE ||
	    (b->kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM),
	    b->p->keyDerivationFunc->parameter)) == NULL) {
		ERR_clear_error();
		pk_err_set(e, "malformed PBMAC1 parameters (RFC 8018 A.2: "
		    "PBKDF2-params)");
		goto out;
	}
	/* RFC 8018 A.2: salt CHOICE; only the specified OCTET STRING is defined
	 * for use */
	if (b->kdf->salt == NULL || b->kdf->salt->type != V_ASN1_OCTET_STRING) {
		pk_err_set(e, "RFC 8018 A.2: the PBKDF2 salt is not the specified "
		    "OCTET STRING");
		goto out;
	}
	b->salt = b->kdf->salt->value.octet_string;
	if (b->salt->length > CMP_PBM_MAX_SALT) {
		pk_err_set(e, "PBMAC1 salt of %d bytes refused (limit %d..%d)",
		    b->salt->length, l.min_salt, CMP_PBM_MAX_SALT);
		goto out;
	}
	if (!ASN1_INTEGER_get_int64(&v, b->kdf->iter)) {
		ERR_clear_error();
		pk_err_set(e, "PBMAC1 iteration count refused: not a number in "
		    "%ld..%ld", l.min_iter, l.max_iter);
		goto out;
	}
	if (v > l.max_iter) {
		pk_err_set(e, "PBMAC1 iteration count refused: %lld is above the "
		    "limit of %ld (denial of service)", (long long)v, l.max_iter);
		goto out;
	}
	if (v < l.min_iter) {
		pk_err_set(e, "PBMAC1 iteration count refused: %lld is below the "
		    "minimum of %ld (RFC 8018 4.2: at least 1000 is recommended)",
		    (long long)v, l.min_iter);
		goto out;
	}
	b->iter = (long)v;
	if (b->salt->length < l.min_salt) {
		pk_err_set(e, "RFC 8018 4.1: a PBMAC1 salt of at least %d bytes is "
		    "required, this one has %d", l.min_salt, b->salt->length);
		goto out;
	}
	/* the MAC first: without keyLength its output length is the key's */
	if ((b->mac = pbmac1_hmac(b->p->messageAuthScheme, &b->mac_nid)) == NULL) {
		pk_err_set(e, "RFC 9481 6.1.2: unsupported PBMAC1 MAC algorithm %s "
		    "(HMAC-SHA1 or HMAC-SHA2 without parameters)",
		    oid_text(b->p->messageAuthScheme->algorithm, buf, sizeof(buf)));
		goto out;
	}
	/* RFC 8018 A.2: prf DEFAULT algid-hmacWithSHA1 */
	if (b->kdf->prf == NULL) {
		b->prf_nid = NID_hmacWithSHA1;
		b->prf = EVP_sha1();
	} else if ((b->prf = pbmac1_hmac(b->kdf->prf, &b->prf_nid)) == NULL) {
		pk_err_set(e, "RFC 8018 A.2: unsupported PBKDF2 PRF %s",
		    oid_text(b->kdf->prf->algorithm, buf, sizeof(buf)));
		goto out;
	}
	b->key_len_sent = -1;
	if (b->kdf->keylength == NULL) {
		/* RFC 8018 A.2 makes keyLength optional; for an HMAC key the
		 * natural length is the MAC's output (RFC 2104 3) */
		b->key_len = EVP_MD_get_size(b->mac);
	} else {
		if (!ASN1_INTEGER_get_int64(&v, b->kdf->keylength) || v < 1) {
			ERR_clear_error();
			pk_err_set(e, "malformed PBMAC1 parameters (RFC 8018 A.2: "
			    "keyLength is not a positive number)");
			goto out;
		}
		b->key_len_sent = v > LONG_MAX ? LONG_MAX : (long)v;
		if (show) {
			b->key_len = 0;
			rc = 0;
			goto out;
		}
		max_key = CMP_PBMAC1_MAX_KEYLEN;
		if (l.pbmac1_keylen_bits) {
			if (v % 8 != 0) {
				pk_err_set(e, "PBMAC1 keyLength %lld is not a number "
				    "of bits (read as bits on request)", (long long)v);
				goto out;
			}
			v /= 8;
			max_key = PBMAC1_QUIRK_MAX_KEYLEN;
		}
		if (v > max_key) {
			pk_err_set(e, "RFC 8018 A.2: the PBMAC1 keyLength %lld is above "
			    "the limit of %d octets%s", (long long)b->key_len_sent,
			    max_key, !l.pbmac1_keylen_bits && v % 8 == 0 &&
			    v / 8 >= CMP_PBMAC1_MIN_KEYLEN ? " (keyLength counts "
			    "octets; this value looks like a length in bits, a known "
			    "bug of cmp-ra-component before 4.3.0)" : "");
			goto out;
		}
		if (v < CMP_PBMAC1_MIN_KEYLEN) {
			pk_err_set(e, "PBMAC1 keyLength %lld refused: a MAC key of "
			    "less than %d octets is guessable", (long long)v,
			    CMP_PBMAC1_MIN_KEYLEN);
			goto out;
		}
		b->key_len = (int)v;
	}
	rc = 0;
out:
	if (rc != 0)
		pbmac1_clear(b);
	return rc;
}

/* RFC 8018 7.1: KEY = PBKDF2(secret, salt, c, dkLen); MAC = HMAC(KEY, data). */
static int
pbmac1_compute(const struct pbmac1 *b, const void *secret, size_t slen,
    const unsigned char *data, size_t dlen, unsigned char *out,
    unsigned int *outlen, struct pk_err *e)
{
	unsigned char *key = OPENSSL_malloc((size_t)b->key_len);
	int rc = -1;

	if (key == NULL)
		return pk_err_ossl(e, "PBMAC1: out of memory");
	if (slen > INT_MAX ||
	    !PKCS5_PBKDF2_HMAC(secret, (int)slen, b->salt->data, b->salt->length,
	    (int)b->iter, b->prf, b->key_len, key)) {
		pk_err_ossl(e, "PBMAC1: PBKDF2 failed");
		goto out;
	}
	if (HMAC(b->mac, key, b->key_len, data, dlen, out, outlen) == NULL) {
		pk_err_ossl(e, "PBMAC1: HMAC failed");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_clear_free(key, (size_t)b->key_len);
	return rc;
}

/* "hmacWithSHA256" */
static const char *
nid_sn(int nid)
{
	return OBJ_nid2sn(nid);
}

int
cmp_msg_get_pbmac1_opts(const CMP_PKIMESSAGE *m, struct cmp_pbmac1_opts *o,
    struct pk_err *e)
{
	struct pbmac1 b;

	memset(o, 0, sizeof(*o));
	if (cmp_msg_protection_kind(m) != CMP_PROT_PBMAC1)
		return pk_err_set(e, "the message is not PBMAC1-protected");
	if (pbmac1_params(m->header->protectionAlg, &pbm_any, 0, &b, e) != 0)
		return -1;
	o->prf_nid = b.prf_nid;
	o->mac_nid = b.mac_nid;
	o->iterations = (int)b.iter;
	o->salt_len = b.salt->length;
	o->key_len = b.key_len;
	pbmac1_clear(&b);
	return 0;
}

static const char *
md_short(const EVP_MD *md)
{
	return OBJ_nid2sn(EVP_MD_get_type(md));
}

char *
cmp_msg_protection_desc(const CMP_PKIMESSAGE *m)
{
	const X509_ALGOR *a = m->header->protectionAlg;
	CMP_PBMPARAMETER *p = NULL;
	const EVP_MD *owf, *mac;
	struct sbuf b = SBUF_INIT;
	struct pk_err e;
	char buf[80];
	long iter;

	switch (cmp_msg_protection_kind(m)) {
	case CMP_PROT_NONE:
		return xstrdup("none");
	case CMP_PROT_PBM:
		if (pbm_params(a, &pbm_any, &p, &owf, &mac, &iter, &e) != 0) {
			sbuf_printf(&b, "PBM (%s)", e.msg);
			break;
		}
		sbuf_printf(&b, "PBM owf=%s iterations=%ld salt=%d bytes mac=%s",
		    md_short(owf), iter, p->salt->length,
		    OBJ_nid2sn(OBJ_obj2nid(p->mac->algorithm)));
		CMP_PBMPARAMETER_free(p);
		break;
	case CMP_PROT_PBMAC1: {
		struct pbmac1 p1;

		if (pbmac1_params(a, &pbm_any, 1, &p1, &e) != 0) {
			sbuf_printf(&b, "PBMAC1 (%s)", e.msg);
			break;
		}
		sbuf_printf(&b, "PBMAC1 PBKDF2 prf=%s iterations=%ld salt=%d bytes "
		    "keyLength=", nid_sn(p1.prf_nid), p1.iter, p1.salt->length);
		if (p1.key_len_sent < 0)
			sbuf_printf(&b, "absent (%d octets)", p1.key_len);
		else
			sbuf_printf(&b, "%ld", p1.key_len_sent);
		sbuf_printf(&b, " mac=%s", nid_sn(p1.mac_nid));
		pbmac1_clear(&p1);
		break;
	}
	case CMP_PROT_SIG:
		sbuf_printf(&b, "signature %s",
		    OBJ_nid2ln(OBJ_obj2nid(a->algorithm)));
		break;
	default:
		sbuf_printf(&b, "unknown algorithm %s%s",
		    a == NULL ? "(none)" : oid_text(a->algorithm, buf, sizeof(buf)),
		    a == NULL ? " but a protection value" : "");
		break;
	}
	return sbuf_take(&b);
}

int
cmp_msg_protect_pbm(CMP_PKIMESSAGE *m, const void *secret, size_t secret_len,
    const struct cmp_pbm_opts *o, struct pk_err *e)
{
	struct cmp_pbm_opts d = { NID_sha256, NID_hmacWithSHA256,
	    CMP_PBM_DEFAULT_ITER, CMP_PBM_DEFAULT_SALT };
	CMP_PBMPARAMETER *p = NULL;
	ASN1_STRING *ps = NULL;
	X509_ALGOR *alg = NULL;
	unsigned char *pp = NULL, mac[EVP_MAX_MD_SIZE];
	unsigned int maclen;
	size_t pplen;
	const EVP_MD *owf, *hm;
	int rc = -1, filled = 0;	/* filled: E already says why */

	if (o != NULL) {
		if (o->owf_nid != 0)
			d.owf_nid = o->owf_nid;
		if (o->mac_nid != 0)
			d.mac_nid = o->mac_nid;
		if (o->iterations != 0)
			d.iterations = o->iterations;
		if (o->salt_len != 0)
			d.salt_len = o->salt_len;
	}
	if ((owf = owf_md(d.owf_nid)) == NULL || (hm = mac_md(d.mac_nid)) == NULL)
		return pk_err_set(e, "PBM: unsupported OWF or MAC algorithm");
	if (d.iterations < CMP_PBM_MIN_ITER || d.iterations > CMP_PBM_MAX_ITER)
		return pk_err_set(e, "PBM: iteration count %d outside %d..%d",
		    d.iterations, CMP_PBM_MIN_ITER, CMP_PBM_MAX_ITER);
	if (d.salt_len < CMP_PBM_MIN_SALT || d.salt_len > CMP_PBM_MAX_SALT)
		return pk_err_set(e, "PBM: salt length %d outside %d..%d",
		    d.salt_len, CMP_PBM_MIN_SALT, CMP_PBM_MAX_SALT);
	if (secret == NULL || secret_len == 0)
		return pk_err_set(e, "PBM: empty secret");

	if ((p = CMP_PBMPARAMETER_new()) == NULL)
		goto out;
	ASN1_OCTET_STRING_free(p->salt);
	if ((p->salt = cmp_random_octets((size_t)d.salt_len)) == NULL)
		goto out;
	if (!X509_ALGOR_set0(p->owf, OBJ_nid2obj(d.owf_nid), V_ASN1_UNDEF, NULL) ||
	    !X509_ALGOR_set0(p->mac, OBJ_nid2obj(d.mac_nid), V_ASN1_UNDEF, NULL) ||
	    !ASN1_INTEGER_set(p->iterationCount, d.iterations))
		goto out;
	if (ASN1_item_pack(p, ASN1_ITEM_rptr(CMP_PBMPARAMETER), &ps) == NULL)
		goto out;
	if ((alg = X509_ALGOR_new()) == NULL ||
	    !X509_ALGOR_set0(alg, OBJ_nid2obj(NID_id_PasswordBasedMAC),
	    V_ASN1_SEQUENCE, ps))
		goto out;
	ps = NULL;
	X509_ALGOR_free(m->header->protectionAlg);
	m->header->protectionAlg = alg;
	alg = NULL;
	cmp_msg_touch(m);
	if (cmp_msg_protected_part(m, &pp, &pplen, e) != 0 ||
	    pbm_compute(p, owf, hm, d.iterations, secret, secret_len, pp, pplen,
	    mac, &maclen, e) != 0) {
		filled = 1;
		goto out;
	}
	if (m->protection == NULL && (m->protection = ASN1_BIT_STRING_new()) == NULL)
		goto out;
	if (set_bits(m->protection, mac, maclen) != 0)
		goto out;
	cmp_msg_touch(m);
	rc = 0;
out:
	if (rc != 0 && !filled)
		pk_err_ossl(e, "PBM protection failed");
	CMP_PBMPARAMETER_free(p);
	ASN1_STRING_free(ps);
	X509_ALGOR_free(alg);
	OPENSSL_free(pp);
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

/* The AlgorithmIdentifier of an HMAC of RFC 8018 B.1 as RFC 9481 6.2.1
 * writes it (no parameters) into A. */
static int
set_hmac_alg(X509_ALGOR *a, int nid)
{
	return X509_ALGOR_set0(a, OBJ_nid2obj(nid), V_ASN1_UNDEF, NULL);
}

int
cmp_msg_protect_pbmac1(CMP_PKIMESSAGE *m, const void *secret, size_t secret_len,
    const struct cmp_pbmac1_opts *o, struct pk_err *e)
{
	struct cmp_pbmac1_opts d = { NID_hmacWithSHA256, NID_hmacWithSHA256,
	    CMP_PBMAC1_DEFAULT_ITER, CMP_PBM_DEFAULT_SALT, 0 };
	CMP_PBMAC1PARAM *p = NULL;
	PBKDF2PARAM *kdf = NULL;
	ASN1_STRING *ps = NULL, *ks = NULL;
	X509_ALGOR *alg = NULL;
	ASN1_OCTET_STRING *salt = NULL;
	unsigned char *pp = NULL, mac[EVP_MAX_MD_SIZE];
	unsigned int maclen;
	size_t pplen;
	struct pbmac1 b;
	int nid, rc = -1, filled = 0;

	memset(&b, 0, sizeof(b));
	if (o != NULL) {
		if (o->prf_nid != 0)
			d.prf_nid = o->prf_nid;
		if (o->mac_nid != 0)
			d.mac_nid = o->mac_nid;
		if (o->iterations != 0)
			d.iterations = o->iterations;
		if (o->salt_len != 0)
			d.salt_len = o->salt_len;
		d.key_len = o->key_len;
	}
	if (d.prf_nid == NID_hmac_sha1 || d.mac_nid == NID_hmac_sha1 ||
	    (b.prf = mac_md(d.prf_nid)) == NULL ||
	    (b.mac = mac_md(d.mac_nid)) == NULL)
		return pk_err_set(e, "PBMAC1: unsupported PRF or MAC algorithm");
	if (d.key_len == 0)
		d.key_len = EVP_MD_get_size(b.mac);
	if (d.iterations < CMP_PBM_MIN_ITER || d.iterations > CMP_PBM_MAX_ITER)
		return pk_err_set(e, "PBMAC1: iteration count %d outside %d..%d",
		    d.iterations, CMP_PBM_MIN_ITER, CMP_PBM_MAX_ITER);
	if (d.salt_len < CMP_PBM_MIN_SALT || d.salt_len > CMP_PBM_MAX_SALT)
		return pk_err_set(e, "PBMAC1: salt length %d outside %d..%d",
		    d.salt_len, CMP_PBM_MIN_SALT, CMP_PBM_MAX_SALT);
	if (d.key_len < CMP_PBMAC1_MIN_KEYLEN || d.key_len > CMP_PBMAC1_MAX_KEYLEN)
		return pk_err_set(e, "PBMAC1: key length %d outside %d..%d",
		    d.key_len, CMP_PBMAC1_MIN_KEYLEN, CMP_PBMAC1_MAX_KEYLEN);
	if (secret == NULL || secret_len == 0)
		return pk_err_set(e, "PBMAC1: empty secret");

	/* PBKDF2-params (RFC 8018 A.2): salt specified, iterationCount,
	 * keyLength, prf (left out when it is the DEFAULT hmacWithSHA1: DER) */
	if ((kdf = PBKDF2PARAM_new()) == NULL ||
	    (salt = cmp_random_octets((size_t)d.salt_len)) == NULL)
		goto out;
	ASN1_TYPE_set(kdf->salt, V_ASN1_OCTET_STRING, salt);
	salt = NULL;
	if (!ASN1_INTEGER_set(kdf->iter, d.iterations) ||
	    (kdf->keylength = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_INTEGER_set(kdf->keylength, d.key_len))
		goto out;
	if (d.prf_nid != NID_hmacWithSHA1 &&
	    ((kdf->prf = X509_ALGOR_new()) == NULL ||
	    !X509_ALGOR_set0(kdf->prf, OBJ_nid2obj(d.prf_nid), V_ASN1_NULL, NULL)))
		goto out;
	if (ASN1_item_pack(kdf, ASN1_ITEM_rptr(PBKDF2PARAM), &ks) == NULL)
		goto out;
	if ((p = CMP_PBMAC1PARAM_new()) == NULL ||
	    !X509_ALGOR_set0(p->keyDerivationFunc, OBJ_nid2obj(NID_id_pbkdf2),
	    V_ASN1_SEQUENCE, ks))
		goto out;
	ks = NULL;
	if (!set_hmac_alg(p->messageAuthScheme, d.mac_nid))
		goto out;
	if (ASN1_item_pack(p, ASN1_ITEM_rptr(CMP_PBMAC1PARAM), &ps) == NULL)
		goto out;
	if ((alg = X509_ALGOR_new()) == NULL ||
	    (nid = OBJ_txt2nid(CMP_OID_PBMAC1)) == NID_undef ||
	    !X509_ALGOR_set0(alg, OBJ_nid2obj(nid), V_ASN1_SEQUENCE, ps))
		goto out;
	ps = NULL;
	X509_ALGOR_free(m->header->protectionAlg);
	m->header->protectionAlg = alg;
	alg = NULL;
	cmp_msg_touch(m);
	/* the MAC with the parameters as they will be read back */
	if (pbmac1_params(m->header->protectionAlg, &pbm_any, 0, &b, e) != 0 ||
	    cmp_msg_protected_part(m, &pp, &pplen, e) != 0 ||
	    pbmac1_compute(&b, secret, secret_len, pp, pplen, mac, &maclen,
	    e) != 0) {
		filled = 1;
		goto out;
	}
	if (m->protection == NULL && (m->protection = ASN1_BIT_STRING_new()) == NULL)
		goto out;
	if (set_bits(m->protection, mac, maclen) != 0)
		goto out;
	cmp_msg_touch(m);
	rc = 0;
out:
	if (rc != 0 && !filled)
		pk_err_ossl(e, "PBMAC1 protection failed");
	pbmac1_clear(&b);
	PBKDF2PARAM_free(kdf);
	CMP_PBMAC1PARAM_free(p);
	ASN1_OCTET_STRING_free(salt);
	ASN1_STRING_free(ps);
	ASN1_STRING_free(ks);
	X509_ALGOR_free(alg);
	OPENSSL_free(pp);
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

int
cmp_msg_verify_pbm(const CMP_PKIMESSAGE *m, const void *secret,
    size_t secret_len, const struct cmp_pbm_limits *lim, struct pk_err *e)
{
	const X509_ALGOR *a = m->header->protectionAlg;
	CMP_PBMPARAMETER *p = NULL;
	struct pbmac1 b;
	const EVP_MD *owf, *hm;
	unsigned char *pp = NULL, mac[EVP_MAX_MD_SIZE];
	unsigned int maclen;
	size_t pplen;
	long iter;
	int rc = -1, kind = cmp_msg_protection_kind(m);

	memset(&b, 0, sizeof(b));
	switch (kind) {
	case CMP_PROT_PBM:
	case CMP_PROT_PBMAC1:
		break;
	case CMP_PROT_NONE:
		return pk_err_set(e, "message is not protected");
	case CMP_PROT_SIG:
		return pk_err_set(e, "message is signature-protected, not "
		    "MAC-protected");
	default: {
		char *d = cmp_msg_protection_desc(m);

		pk_err_set(e, "unknown protection algorithm: %s", d);
		free(d);
		return -1;
	}
	}
	if (m->protection == NULL)
		return pk_err_set(e, "protectionAlg is set but the protection value "
		    "is missing");
	if (kind == CMP_PROT_PBMAC1 ? pbmac1_params(a, lim, 0, &b, e) != 0 :
	    pbm_params(a, lim, &p, &owf, &hm, &iter, e) != 0)
		goto out;
	if (cmp_msg_protected_part(m, &pp, &pplen, e) != 0)
		goto out;
	if (kind == CMP_PROT_PBMAC1 ? pbmac1_compute(&b, secret, secret_len, pp,
	    pplen, mac, &maclen, e) != 0 : pbm_compute(p, owf, hm, iter, secret,
	    secret_len, pp, pplen, mac, &maclen, e) != 0)
		goto out;
	if ((m->protection->flags & ASN1_STRING_FLAG_BITS_LEFT) &&
	    (m->protection->flags & 0x07)) {
		pk_err_set(e, "malformed protection: bit string with unused bits");
		goto out;
	}
	if ((unsigned int)m->protection->length != maclen ||
	    CRYPTO_memcmp(mac, m->protection->data, maclen) != 0) {
		pk_err_set(e, "wrong MAC: the %s protection does not verify (wrong "
		    "shared secret, or the message was altered)",
		    kind == CMP_PROT_PBMAC1 ? "PBMAC1" : "PBM");
		goto out;
	}
	rc = 0;
out:
	pbmac1_clear(&b);
	CMP_PBMPARAMETER_free(p);
	OPENSSL_free(pp);
	OPENSSL_cleanse(mac, sizeof(mac));
	return rc;
}

int
cmp_msg_protect_sig(CMP_PKIMESSAGE *m, EVP_PKEY *key, X509 *cert,
    STACK_OF(X509) *chain, int md_nid, int pss, struct pk_err *e)
{
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	STACK_OF(X509) *certs = NULL;
	const char *mdname = NULL;
	CMP_PROTPART pp;
	int i, rc = -1, base;

	if (key == NULL)
		return pk_err_set(e, "signature protection needs a private key");
	if (cert != NULL && !X509_check_private_key(cert, key)) {
		ERR_clear_error();
		return pk_err_set(e, "the protection certificate does not match the "
		    "private key");
	}
	base = EVP_PKEY_get_base_id(key);
	if (base != EVP_PKEY_ED25519 && base != EVP_PKEY_ED448) {
		if (md_nid == 0)
			md_nid = NID_sha256;
		if (md_nid != NID_sha256 && md_nid != NID_sha384 &&
		    md_nid != NID_sha512)
			return pk_err_set(e, "signature protection: digest must be "
			    "SHA-256, SHA-384 or SHA-512");
		mdname = OBJ_nid2sn(md_nid);
	}
	if (pss && base != EVP_PKEY_RSA && base != EVP_PKEY_RSA_PSS)
		return pk_err_set(e, "RSASSA-PSS needs an RSA key");

	/* RFC 4210 5.1.1: senderKID identifies the protection key */
	if (cert != NULL && m->header->senderKID == NULL) {
		const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(cert);

		if (skid != NULL &&
		    (m->header->senderKID = ASN1_OCTET_STRING_dup(skid)) == NULL)
			goto out;
	}
	/* RFC 4210 5.1.1 / RFC 9483 3.3: the protection certificate comes first in
	 * extraCerts, then its chain */
	if ((certs = sk_X509_new_null()) == NULL)
		goto out;
	if (cert != NULL && !X509_add_cert(certs, cert, X509_ADD_FLAG_UP_REF |
	    X509_ADD_FLAG_NO_DUP))
		goto out;
	for (i = 0; i < sk_X509_num(chain); i++)
		if (!X509_add_cert(certs, sk_X509_value(chain, i),
		    X509_ADD_FLAG_UP_REF | X509_ADD_FLAG_NO_DUP))
			goto out;
	for (i = 0; i < sk_X509_num(m->extraCerts); i++)
		if (!X509_add_cert(certs, sk_X509_value(m->extraCerts, i),
		    X509_ADD_FLAG_UP_REF | X509_ADD_FLAG_NO_DUP))
			goto out;
	sk_X509_pop_free(m->extraCerts, X509_free);
	m->extraCerts = sk_X509_num(certs) > 0 ? certs : NULL;
	if (m->extraCerts == NULL)
		sk_X509_free(certs);
	certs = NULL;

	X509_ALGOR_free(m->header->protectionAlg);
	if ((m->header->protectionAlg = X509_ALGOR_new()) == NULL)
		goto out;
	if (m->protection == NULL && (m->protection = ASN1_BIT_STRING_new()) == NULL)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    !EVP_DigestSignInit_ex(ctx, &pctx, mdname, NULL, NULL, key, NULL))
		goto out;
	if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0))
		goto out;
	/* ASN1_item_sign_ctx fills protectionAlg first, then encodes ProtectedPart
	 * (which contains it) and signs */
	pp.header = m->header;
	pp.body = m->body;
	cmp_msg_touch(m);
	if (ASN1_item_sign_ctx(ASN1_ITEM_rptr(CMP_PROTPART),
	    m->header->protectionAlg, NULL, m->protection, &pp, ctx) <= 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		pk_err_ossl(e, "signature protection failed");
	sk_X509_pop_free(certs, X509_free);
	EVP_MD_CTX_free(ctx);
	return rc;
}

static const char *
key_type_name(int id)
{
	switch (id) {
	case EVP_PKEY_RSA: return "RSA";
	case EVP_PKEY_RSA_PSS: return "RSA-PSS";
	case EVP_PKEY_EC: return "EC";
	case EVP_PKEY_ED25519: return "Ed25519";
	case EVP_PKEY_ED448: return "Ed448";
	default: return OBJ_nid2sn(id);
	}
}

int
cmp_msg_verify_sig_key(const CMP_PKIMESSAGE *m, EVP_PKEY *pub, struct pk_err *e)
{
	const X509_ALGOR *a = m->header->protectionAlg;
	CMP_PROTPART_RAW *raw = NULL;
	RSA_PSS_PARAMS *pssp = NULL;
	unsigned char *pp = NULL;
	const unsigned char *q;
	size_t pplen;
	int nid, mdnid, pknid, base, rc = -1;

	switch (cmp_msg_protection_kind(m)) {
	case CMP_PROT_SIG:
		break;
	case CMP_PROT_NONE:
		return pk_err_set(e, "message is not protected");
	case CMP_PROT_PBM:
		return pk_err_set(e, "message is MAC-protected (PBM), not signed");
	case CMP_PROT_PBMAC1:
		return pk_err_set(e, "message is MAC-protected (PBMAC1), not signed");
	default: {
		char *d = cmp_msg_protection_desc(m);

		pk_err_set(e, "unknown protection algorithm: %s", d);
		free(d);
		return -1;
	}
	}
	if (m->protection == NULL)
		return pk_err_set(e, "protectionAlg is set but the protection value "
		    "is missing");
	if (pub == NULL)
		return pk_err_set(e, "no public key to verify the signature with");
	nid = OBJ_obj2nid(a->algorithm);
	(void)OBJ_find_sigid_algs(nid, &mdnid, &pknid);
	base = EVP_PKEY_get_base_id(pub);
	if (!(base == pknid || (pknid == NID_rsassaPss && base == EVP_PKEY_RSA) ||
	    (pknid == NID_rsaEncryption && base == EVP_PKEY_RSA_PSS &&
	    nid == NID_rsassaPss)))
		return pk_err_set(e, "key mismatch: protection algorithm %s needs "
		    "a %s key, the verifying key is %s", OBJ_nid2ln(nid),
		    key_type_name(pknid == NID_X9_62_id_ecPublicKey ? EVP_PKEY_EC :
		    pknid), key_type_name(base));
	/* parameters: RFC 4055 (RSA: NULL or absent), RFC 5758 3.2 (ECDSA:
	 * absent), RFC 8410 (EdDSA: absent), RFC 4055 3.1 (PSS: RSASSA-PSS-params) */
	if (nid == NID_rsassaPss) {
		if (a->parameter == NULL || a->parameter->type != V_ASN1_SEQUENCE ||
		    (pssp = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_PSS_PARAMS),
		    a->parameter)) == NULL) {
			ERR_clear_error();
			return pk_err_set(e, "malformed parameters of the RSASSA-PSS "
			    "protection algorithm");
		}
		RSA_PSS_PARAMS_free(pssp);
	} else if (pknid == NID_rsaEncryption) {
		if (!params_absent_or_null(a))
			return pk_err_set(e, "malformed parameters of %s: must be "
			    "NULL or absent", OBJ_nid2ln(nid));
	} else if (a->parameter != NULL) {
		return pk_err_set(e, "malformed parameters of %s: must be absent",
		    OBJ_nid2ln(nid));
	}
	if (m->protection->flags & 0x07)
		return pk_err_set(e, "malformed protection: signature bit string "
		    "with unused bits");
	if (cmp_msg_protected_part(m, &pp, &pplen, e) != 0)
		goto out;
	q = pp;
	if ((raw = d2i_CMP_PROTPART_RAW(NULL, &q, (long)pplen)) == NULL) {
		pk_err_ossl(e, "cannot parse ProtectedPart");
		goto out;
	}
	if (ASN1_item_verify(ASN1_ITEM_rptr(CMP_PROTPART_RAW), a, m->protection,
	    raw, pub) != 1) {
		unsigned long err = ERR_peek_last_error();

		ERR_clear_error();
		if (ERR_GET_LIB(err) == ERR_LIB_ASN1 &&
		    ERR_GET_REASON(err) == ASN1_R_UNKNOWN_SIGNATURE_ALGORITHM)
			pk_err_set(e, "unknown protection algorithm %s",
			    OBJ_nid2ln(nid));
		else
			pk_err_set(e, "signature does not verify: the message was "
			    "altered or signed with another key (%s)",
			    OBJ_nid2ln(nid));
		goto out;
	}
	rc = 0;
out:
	OPENSSL_free(pp);
	CMP_PROTPART_RAW_free(raw);
	ERR_clear_error();
	return rc;
}

int
cmp_msg_verify_sig(const CMP_PKIMESSAGE *m, X509 *cert, struct pk_err *e)
{
	const ASN1_OCTET_STRING *skid, *kid;
	size_t n;

	if (cert == NULL)
		return pk_err_set(e, "no certificate to verify the signature with");
	if (cmp_msg_verify_sig_key(m, X509_get0_pubkey(cert), e) == 0)
		return 0;
	/* say when the header names another key than this certificate's */
	skid = X509_get0_subject_key_id(cert);
	kid = m->header->senderKID;
	if (e == NULL)
		return -1;
	n = strlen(e->msg);
	if (skid != NULL && kid != NULL &&
	    ASN1_OCTET_STRING_cmp(skid, kid) != 0 && n + 80 < sizeof(e->msg))
		snprintf(e->msg + n, sizeof(e->msg) - n, "; note: senderKID does not "
		    "match the certificate's subjectKeyIdentifier");
	return -1;
}
