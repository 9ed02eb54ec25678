/*
 * cmp: the CMPv2 protocol engine (RFC 4210/4211, HTTP transfer RFC 6712), the
 * module's one public header.
 *
 * The ASN.1 types it works on are in cmp_asn1.h (included here). Sections:
 *   1. Messages: strict decoding, accessors, protection, builders, display
 *      (cmp_asn1.c, cmp_protect.c, cmp_msg.c, cmp_build.c, cmp_dump.c).
 *   2. Client transactions and transport (cmp_client.c, cmp_http.c).
 *
 * Conventions: 0 success, -1 failure with struct pk_err filled (util/util.h).
 * This module never prints and knows no device, store or CA.
 */
#ifndef PKISH_CMP_H
#define PKISH_CMP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../util/util.h"
#include "cmp_asn1.h"

/* ==== 1. Messages ==================================================== */
/*
 * CMP messages (cmp_asn1.c, cmp_protect.c, cmp_msg.c, cmp_build.c, cmp_dump.c;
 * private header cmp_msg_int.h).
 *
 * Strict decoding of the ASN.1 types of cmp_asn1.h, PBM and signature
 * protection, and builders for the requests a client sends and the responses a
 * CA returns.
 *
 * Ownership words: _get0_ borrows (valid while the message lives), _get1_ returns
 * a copy the caller frees, _set0_/_push0_ take ownership. Integers come back as
 * long; -1 when absent or out of range unless said otherwise.
 *
 * A decoded message keeps its received encoding (ASN1_SEQUENCE_enc on PKIMessage):
 * cmp_msg_encode() of an unchanged decoded message gives back the input bytes, and
 * protection is checked over the received header and body bytes. Functions here
 * that change a message drop that cache; a caller that edits the structs directly
 * must call cmp_msg_touch() afterwards. (CertRequest keeps its encoding too, for
 * the POP signature: after editing a decoded template set
 * certReq->enc.modified = 1.)
 *
 * Typical use. Client: cmp_build_certreq() -> cmp_msg_protect_pbm()/_sig() ->
 * cmp_msg_encode() -> send; cmp_msg_decode() the answer -> cmp_msg_verify_*() ->
 * check transactionID / recipNonce with cmp_octets_eq() -> cmp_rep_find() ->
 * cmp_certresp_get0_cert() -> cmp_build_certconf(). CA: cmp_msg_decode() ->
 * cmp_msg_verify_*() -> cmp_crm_verify_pop() -> cmp_build_certrep(h, req, ...)
 * -> cmp_msg_protect_*(). Text taken from peers (statusString, freeText,
 * errorDetails) has control characters replaced by '?'.
 */

#define CMP_MSG_MAX_SIZE	(1024u * 1024)	/* decode refuses larger input */
#define CMP_NONCE_LEN		16		/* transactionID, senderNonce: 128 bits */
/* PasswordBasedMac limits (RFC 4210 5.1.3.1 leaves them to the implementation;
 * these keep a hostile peer from making us hash for minutes). */
#define CMP_PBM_MAX_ITER	100000
#define CMP_PBM_MIN_ITER	100		/* RFC 4211 4.4: at least 100 */
#define CMP_PBM_MIN_SALT	8		/* RFC 8018 4.1: at least 8 octets */
#define CMP_PBM_MAX_SALT	128
#define CMP_PBM_DEFAULT_ITER	500
#define CMP_PBM_DEFAULT_SALT	16

/* --- Codec (cmp_asn1.c) --- */

/* Strict decode of one PKIMessage: input must be 1..CMP_MSG_MAX_SIZE bytes, one
 * complete PKIMessage with no trailing bytes, every tag as the RFCs define; pvno 2 or 3 (pvno 1 only on an error
 * body, which some servers send); a body type outside ir ip cr cp p10cr kur kup rr
 * rp pkiConf genm genp error certConf pollReq pollRep is "unsupported body type".
 * Certificates inside are checked (X509_check_purpose). *out: new message. */
int cmp_msg_decode(const unsigned char *der, size_t len, CMP_PKIMESSAGE **out,
    struct pk_err *e);
/* The same with FLAGS: CMP_DECODE_DER also refuses what is not DER (RFC 6712
 * 3.3: a DER-encoded PKIMessage): indefinite or non-minimal lengths and tags,
 * constructed strings, end-of-contents octets, anywhere in the message (inside
 * certificates too), and values not in their canonical encoding
 * (cmp_msg_is_der). The protocol paths decode with it; cmpdump does not, and
 * reports what it sees. */
#define CMP_DECODE_DER	0x01
int cmp_msg_decode_ex(const unsigned char *der, size_t len, int flags,
    CMP_PKIMESSAGE **out, struct pk_err *e);
/* DER of M into *der (OPENSSL_free) and *len. An unchanged decoded message gives
 * back exactly the bytes it was decoded from. */
int cmp_msg_encode(const CMP_PKIMESSAGE *m, unsigned char **der, size_t *len,
    struct pk_err *e);
/* DER(ProtectedPart) = SEQUENCE { header, body } (RFC 4210 5.1.3), over the
 * received bytes for a decoded message. *der: OPENSSL_free. */
int cmp_msg_protected_part(const CMP_PKIMESSAGE *m, unsigned char **der,
    size_t *len, struct pk_err *e);
/* Drops the kept received encoding after direct edits of the structs. */
void cmp_msg_touch(CMP_PKIMESSAGE *m);
/* 1 when M's encoding is canonical DER at the message level (a fresh encoding
 * of the decoded values gives the same bytes: minimal lengths, no indefinite
 * lengths), 0 otherwise. cmp_msg_decode() accepts such BER (a peer's signature
 * covers what it sent; cmpdump reports it); cmp_msg_decode_ex() with
 * CMP_DECODE_DER refuses it, and a CA may answer it with badDataFormat. */
int cmp_msg_is_der(const CMP_PKIMESSAGE *m);
/* The body tag of an undecodable or unsupported message, -1 if even the outer
 * structure does not parse (for diagnostics). */
int cmp_msg_peek_body_type(const unsigned char *der, size_t len);

/* --- Names --- */

/* "ir", "certConf", ... ; "unknown" outside 0..26. */
const char *cmp_body_name(int type);
/* 1 when the engine handles this body type. */
int cmp_body_supported(int type);
/* "accepted", "grantedWithMods", "rejection", "waiting", ...; "unknown". */
const char *cmp_status_name(long status);
/* "badAlg" ... "duplicateCertReq"; NULL for an unknown bit. */
const char *cmp_failinfo_name(int bit);
/* "badMessageCheck, badPOP" style list of the set bits in bit order (bits above
 * 26 named "bit N"); "" for 0. New string, free(). */
char *cmp_failinfo_names(uint32_t mask);

/* --- Header accessors (cmp_msg.c) --- */

int cmp_msg_body_type(const CMP_PKIMESSAGE *m);
long cmp_msg_pvno(const CMP_PKIMESSAGE *m);
/* The directoryName of sender / recipient, NULL when another GeneralName form. */
const X509_NAME *cmp_msg_get0_sender_name(const CMP_PKIMESSAGE *m);
const X509_NAME *cmp_msg_get0_recipient_name(const CMP_PKIMESSAGE *m);
/* Octet string fields; NULL when absent. */
const ASN1_OCTET_STRING *cmp_msg_get0_transaction_id(const CMP_PKIMESSAGE *m);
const ASN1_OCTET_STRING *cmp_msg_get0_sender_nonce(const CMP_PKIMESSAGE *m);
const ASN1_OCTET_STRING *cmp_msg_get0_recip_nonce(const CMP_PKIMESSAGE *m);
const ASN1_OCTET_STRING *cmp_msg_get0_sender_kid(const CMP_PKIMESSAGE *m);
const ASN1_GENERALIZEDTIME *cmp_msg_get0_message_time(const CMP_PKIMESSAGE *m);
const X509_ALGOR *cmp_msg_get0_protection_alg(const CMP_PKIMESSAGE *m);
STACK_OF(CMP_ITAV) *cmp_msg_get0_general_info(const CMP_PKIMESSAGE *m);
/* freeText joined with "; " (new string, free()), NULL when absent. */
char *cmp_msg_free_text(const CMP_PKIMESSAGE *m);
/* 1 when generalInfo holds id-it-implicitConfirm (RFC 4210 5.1.1.1). */
int cmp_msg_implicit_confirm(const CMP_PKIMESSAGE *m);
/* confirmWaitTime (RFC 4210 5.1.1.2): 0 and *t set when present, -1 otherwise. */
int cmp_msg_confirm_wait_time(const CMP_PKIMESSAGE *m, time_t *t);
/* extraCerts (NULL when absent). */
STACK_OF(X509) *cmp_msg_get0_extra_certs(const CMP_PKIMESSAGE *m);
/* 1 when both are present and equal (e.g. recipNonce vs the request's
 * senderNonce); 0 otherwise. */
int cmp_octets_eq(const ASN1_OCTET_STRING *a, const ASN1_OCTET_STRING *b);

/* --- PKIStatusInfo --- */

/* PKIStatus value, -1 when S is NULL or malformed. */
long cmp_si_status(const CMP_PKISTATUSINFO *s);
/* failInfo bit mask (0 when absent). */
uint32_t cmp_si_failinfo(const CMP_PKISTATUSINFO *s);
/* statusString joined with "; " (new string, free()); NULL when absent. */
char *cmp_si_text(const CMP_PKISTATUSINFO *s);
/* "rejection, failInfo: badMessageCheck, badPOP, text: \"...\"" (free()). */
char *cmp_si_describe(const CMP_PKISTATUSINFO *s);
/* New PKIStatusInfo; failinfo 0 and text NULL leave those fields absent. */
CMP_PKISTATUSINFO *cmp_si_new(int status, uint32_t failinfo, const char *text);
/* The status a response carries: ip/cp/kup response IDX, rp status IDX, error's
 * pKIStatusInfo, certConf's statusInfo IDX (NULL when absent = accepted). */
const CMP_PKISTATUSINFO *cmp_msg_get0_status(const CMP_PKIMESSAGE *m, int idx);

/* --- ip / cp / kup --- */

/* Number of CertResponses, -1 when not ip/cp/kup. */
int cmp_rep_count(const CMP_PKIMESSAGE *m);
CMP_CERTRESPONSE *cmp_rep_get0(const CMP_PKIMESSAGE *m, int idx);
/* The response with this certReqId, NULL when none. */
CMP_CERTRESPONSE *cmp_rep_find(const CMP_PKIMESSAGE *m, long cert_req_id);
/* caPubs (NULL when absent). */
STACK_OF(X509) *cmp_rep_get0_capubs(const CMP_PKIMESSAGE *m);
long cmp_certresp_req_id(const CMP_CERTRESPONSE *r);
const CMP_PKISTATUSINFO *cmp_certresp_get0_status(const CMP_CERTRESPONSE *r);
/* The issued certificate; NULL when absent or sent encrypted. */
X509 *cmp_certresp_get0_cert(const CMP_CERTRESPONSE *r);

/* --- pollRep / pollReq --- */

int cmp_pollrep_count(const CMP_PKIMESSAGE *m);
/* Entry IDX: certReqId, checkAfter (seconds), reason text (new string or NULL). */
int cmp_pollrep_get(const CMP_PKIMESSAGE *m, int idx, long *cert_req_id,
    long *check_after, char **reason, struct pk_err *e);
/* certReqId of pollReq entry IDX, -1 when none. */
long cmp_pollreq_req_id(const CMP_PKIMESSAGE *m, int idx);

/* --- error --- */

/* errorCode (-1 absent) and errorDetails joined (free(); NULL absent). */
long cmp_error_code(const CMP_PKIMESSAGE *m);
char *cmp_error_details(const CMP_PKIMESSAGE *m);

/* --- ir / cr / kur --- */

/* Number of CertReqMsgs, -1 when not ir/cr/kur. */
int cmp_req_count(const CMP_PKIMESSAGE *m);
CMP_CERTREQMSG *cmp_req_get0(const CMP_PKIMESSAGE *m, int idx);
long cmp_crm_req_id(const CMP_CERTREQMSG *crm);
CMP_CERTTEMPLATE *cmp_crm_get0_template(const CMP_CERTREQMSG *crm);
const X509_NAME *cmp_tmpl_get0_subject(const CMP_CERTTEMPLATE *t);
const X509_NAME *cmp_tmpl_get0_issuer(const CMP_CERTTEMPLATE *t);
const ASN1_INTEGER *cmp_tmpl_get0_serial(const CMP_CERTTEMPLATE *t);
/* The template's public key (borrowed, NULL when absent or unusable). */
EVP_PKEY *cmp_tmpl_get0_pubkey(const CMP_CERTTEMPLATE *t);
/* The template's publicKey as encoded (SubjectPublicKeyInfo), or NULL. */
const X509_PUBKEY *cmp_tmpl_get0_spki(const CMP_CERTTEMPLATE *t);
const STACK_OF(X509_EXTENSION) *cmp_tmpl_get0_extensions(const CMP_CERTTEMPLATE *t);
/* subjectAltName of the template (new, GENERAL_NAMES_free), NULL when none. */
GENERAL_NAMES *cmp_tmpl_get1_san(const CMP_CERTTEMPLATE *t);
/* Control id-regCtrl-oldCertID (RFC 4211 6.5): 0 with *issuer (directoryName,
 * copy: X509_NAME_free) and *serial (copy: ASN1_INTEGER_free) set, or both NULL
 * when the control is absent; -1 when malformed, the reason citing RFC 4211
 * 6.5. */
int cmp_crm_get1_old_cert_id(const CMP_CERTREQMSG *crm, X509_NAME **issuer,
    ASN1_INTEGER **serial, struct pk_err *e);
/* Proof of possession (RFC 4211 4): a signature POP is verified with the
 * template's public key over DER(certReq) (4.1, no poposkInput) or DER(poposkInput)
 * (4.1 with poposkInput; its publicKey must equal the template's). raVerified
 * passes only when accept_ra_verified (an RA vouched). Missing POP or other kinds
 * fail with the reason. 0 ok, -1 failed. */
int cmp_crm_verify_pop(const CMP_CERTREQMSG *crm, int accept_ra_verified,
    struct pk_err *e);

/* --- p10cr, rr, certConf, genm/genp, rp --- */

X509_REQ *cmp_msg_get0_p10(const CMP_PKIMESSAGE *m);
int cmp_rr_count(const CMP_PKIMESSAGE *m);
/* certDetails of rr entry IDX (issuer + serialNumber identify the certificate). */
CMP_CERTTEMPLATE *cmp_rr_get0_details(const CMP_PKIMESSAGE *m, int idx);
/* CRLReason from crlEntryDetails of entry IDX, -1 when absent. */
int cmp_rr_reason(const CMP_PKIMESSAGE *m, int idx);
/* The reasonCode of entry IDX as sent (RFC 5280 5.3.1; the caller judges the
 * value): 0 with *code, or *code -1 when absent; -1 when it does not decode
 * (or appears twice) or is negative. */
int cmp_rr_reason_code(const CMP_PKIMESSAGE *m, int idx, long *code);
int cmp_rp_count(const CMP_PKIMESSAGE *m);
int cmp_certconf_count(const CMP_PKIMESSAGE *m);
CMP_CERTSTATUS *cmp_certconf_get0(const CMP_PKIMESSAGE *m, int idx);
const ASN1_OCTET_STRING *cmp_certstatus_get0_hash(const CMP_CERTSTATUS *cs);
long cmp_certstatus_req_id(const CMP_CERTSTATUS *cs);
/* NULL when absent (RFC 4210 5.3.18: absent means accepted). */
const CMP_PKISTATUSINFO *cmp_certstatus_get0_si(const CMP_CERTSTATUS *cs);
/* certHash of CERT (RFC 4210 5.3.18 / RFC 9480 2.10: the digest of the
 * certificate's signature algorithm, SHA-512 for Ed25519) into MD (EVP_MAX_MD_SIZE)
 * and *len. */
int cmp_cert_hash(X509 *cert, unsigned char *md, unsigned int *len,
    struct pk_err *e);
/* 0 when CS's certHash matches CERT, -1 with the reason, which cites RFC 4210
 * 5.3.18 (callers pass it on without citing it again). The hash is CS's
 * hashAlg when present (RFC 9480 2.10: SHA-224/256/384/512), else the one of
 * cmp_cert_hash(). */
int cmp_certstatus_check_hash(const CMP_CERTSTATUS *cs, X509 *cert,
    struct pk_err *e);
/* InfoTypeAndValues of genm / genp (NULL when not such a body). */
STACK_OF(CMP_ITAV) *cmp_msg_get0_itavs(const CMP_PKIMESSAGE *m);
/* New ITAV of type OID_TEXT (dotted); VALUE is taken (may be NULL). */
CMP_ITAV *cmp_itav_new_oid(const char *oid_text, ASN1_TYPE *value);
/* 1 when IT's infoType is OID_TEXT (dotted, e.g. CMP_OID_IT_CA_CERTS). */
int cmp_itav_is(const CMP_ITAV *it, const char *oid_text);

/* The values of the support messages (RFC 4210 5.3.19, RFC 9480 2.14-2.16,
 * RFC 9483 4.3). Builders (cmp_build.c) return a new ITAV (NULL on failure),
 * DER-encoded; their arguments are copied. Readers (cmp_msg.c) decode IT's
 * value strictly (one DER value, nothing after it, certificates checked):
 * 0 with *out new, or NULL when the value is absent; -1 with the reason. */
/* OID with a SEQUENCE SIZE (1..MAX) OF CMPCertificate: caCerts (RFC 9480
 * 2.14); no value when CERTS is NULL or empty. */
CMP_ITAV *cmp_itav_new_certs(const char *oid, STACK_OF(X509) *certs);
int cmp_itav_get1_certs(const CMP_ITAV *it, STACK_OF(X509) **out,
    struct pk_err *e);
/* OID with one CMPCertificate: rootCaCert in a genm (RFC 9480 2.15); no value
 * when X is NULL. */
CMP_ITAV *cmp_itav_new_cert(const char *oid, X509 *x);
int cmp_itav_get1_cert(const CMP_ITAV *it, X509 **out, struct pk_err *e);
/* id-it-rootCaKeyUpdate with RootCaKeyUpdateContent (RFC 9480 2.15); no value
 * (no update available) when NEW_WITH_NEW is NULL; the others may be NULL. */
CMP_ITAV *cmp_itav_new_root_ca_key_update(X509 *new_with_new,
    X509 *new_with_old, X509 *old_with_new);
int cmp_itav_get1_root_ca_key_update(const CMP_ITAV *it,
    CMP_ROOTCAKEYUPDATE **out, struct pk_err *e);
/* id-it-certReqTemplate with CertReqTemplateContent (RFC 9480 2.16); no value
 * when T is NULL. */
CMP_ITAV *cmp_itav_new_cert_req_template(const CMP_CERTREQTEMPLATE *t);
int cmp_itav_get1_cert_req_template(const CMP_ITAV *it,
    CMP_CERTREQTEMPLATE **out, struct pk_err *e);
/* OID with a SEQUENCE OF AlgorithmIdentifier: signKeyPairTypes (RFC 4210
 * 5.3.19.2); no value when ALGS is NULL. */
CMP_ITAV *cmp_itav_new_algs(const char *oid, STACK_OF(X509_ALGOR) *algs);
int cmp_itav_get1_algs(const CMP_ITAV *it, STACK_OF(X509_ALGOR) **out,
    struct pk_err *e);
/* keySpec controls of a certificate request template (RFC 9480 2.16):
 * id-regCtrl-algId with an AlgorithmIdentifier (a key algorithm other than
 * rsaEncryption, with its parameters, e.g. the curve), id-regCtrl-rsaKeyLen
 * with the RSA modulus bits. The reader sets *alg (new) or *rsa_bits. */
CMP_ATAV *cmp_atav_new_alg_id(const X509_ALGOR *alg);
CMP_ATAV *cmp_atav_new_rsa_key_len(int bits);
int cmp_atav_keyspec(const CMP_ATAV *a, X509_ALGOR **alg, long *rsa_bits,
    struct pk_err *e);

/* --- Protection (cmp_protect.c) --- */

enum cmp_prot_kind {
	CMP_PROT_NONE = 0,	/* no protectionAlg and no protection */
	CMP_PROT_PBM,		/* id-PasswordBasedMac (RFC 4210 5.1.3.1) */
	CMP_PROT_PBMAC1,	/* id-PBMAC1 (RFC 9481 6.1.2, RFC 8018 7.1) */
	CMP_PROT_SIG,		/* a signature algorithm */
	CMP_PROT_UNKNOWN	/* anything else */
};
int cmp_msg_protection_kind(const CMP_PKIMESSAGE *m);
/* One line describing protectionAlg ("PBM owf=SHA256 iterations=500 salt=16
 * bytes mac=HMAC-SHA1", "PBMAC1 PBKDF2 prf=hmacWithSHA256 iterations=10000
 * salt=16 bytes keyLength=32 mac=hmacWithSHA256", "signature
 * ecdsa-with-SHA256", "none"). New string, free(). */
char *cmp_msg_protection_desc(const CMP_PKIMESSAGE *m);

/* PBM options: 0 fields take the defaults (SHA-256 OWF, HMAC-SHA256,
 * CMP_PBM_DEFAULT_ITER, CMP_PBM_DEFAULT_SALT). owf_nid: NID_sha1/sha256/sha384/
 * sha512; mac_nid: NID_hmac_sha1, NID_hmacWithSHA1/256/384/512. */
struct cmp_pbm_opts {
	int owf_nid;
	int mac_nid;
	int iterations;		/* CMP_PBM_MIN_ITER..CMP_PBM_MAX_ITER */
	int salt_len;		/* 8..CMP_PBM_MAX_SALT */
};
/* Sets protectionAlg (fresh random salt) and protection: PBM with SECRET over
 * DER(ProtectedPart). senderKID is left as built (the reference). */
int cmp_msg_protect_pbm(CMP_PKIMESSAGE *m, const void *secret,
    size_t secret_len, const struct cmp_pbm_opts *o, struct pk_err *e);
/* PBMAC1 (RFC 9481 6.1.2): PBKDF2 (RFC 8018 5.2) derives the MAC key from the
 * secret, the salt, iterationCount and keyLength with the PRF HMAC-SHA*; the
 * MAC is HMAC-SHA* over DER(ProtectedPart) (RFC 8018 7.1). Options: 0 fields
 * take the defaults (PRF and MAC HMAC-SHA256, CMP_PBMAC1_DEFAULT_ITER,
 * CMP_PBM_DEFAULT_SALT, keyLength the MAC's output length). prf_nid, mac_nid:
 * NID_hmacWithSHA1/224/256/384/512. */
#define CMP_PBMAC1_DEFAULT_ITER	10000
/* keyLength (octets) a verifier accepts: a short key makes the MAC guessable
 * (keyLength 1 would let a forger hit it once in 256 tries), a long one only
 * costs PBKDF2 blocks (denial of service). */
#define CMP_PBMAC1_MIN_KEYLEN	16
#define CMP_PBMAC1_MAX_KEYLEN	64
struct cmp_pbmac1_opts {
	int prf_nid;
	int mac_nid;
	int iterations;		/* CMP_PBM_MIN_ITER..CMP_PBM_MAX_ITER */
	int salt_len;		/* CMP_PBM_MIN_SALT..CMP_PBM_MAX_SALT */
	int key_len;		/* CMP_PBMAC1_MIN_KEYLEN..CMP_PBMAC1_MAX_KEYLEN */
};
/* Sets protectionAlg (id-PBMAC1 with fresh random salt; keyLength always
 * written) and protection: PBMAC1 with SECRET over DER(ProtectedPart). */
int cmp_msg_protect_pbmac1(CMP_PKIMESSAGE *m, const void *secret,
    size_t secret_len, const struct cmp_pbmac1_opts *o, struct pk_err *e);
/* The PBMAC1 parameters of M (iterations and lengths as sent), for answering
 * in the same style: 0, or -1 when M is not PBMAC1-protected or its
 * parameters do not decode (the reason cites the clause). */
int cmp_msg_get_pbmac1_opts(const CMP_PKIMESSAGE *m, struct cmp_pbmac1_opts *o,
    struct pk_err *e);
/* Signature protection with KEY: MD_NID (0 = SHA-256; SHA-384/512) and PSS (1:
 * RSASSA-PSS for an RSA key); Ed25519/Ed448 keys sign without a digest.
 * protectionAlg, protection are set; extraCerts become CERT then CHAIN (both
 * optional, duplicates skipped) followed by what was there; senderKID is set to
 * CERT's subjectKeyIdentifier when absent. */
int cmp_msg_protect_sig(CMP_PKIMESSAGE *m, EVP_PKEY *key, X509 *cert,
    STACK_OF(X509) *chain, int md_nid, int pss, struct pk_err *e);
/* What a verifier accepts of a peer's PBMParameter (RFC 4210 5.1.3.1 leaves
 * it to the implementation). The minimums keep a weak MAC out (RFC 4211 4.4:
 * iterationCount MUST be at least 100; RFC 8018 4.1: a salt of at least eight
 * octets); the maximum bounds the hashing a hostile peer can make us do. Each
 * side passes its own: the client CMP_PBM_LIMITS_DEFAULT (100..100,000, 8), a
 * CA a lower cap. */
struct cmp_pbm_limits {
	long min_iter;		/* 1.. */
	long max_iter;		/* ..CMP_PBM_MAX_ITER */
	int min_salt;		/* bytes, 1..CMP_PBM_MAX_SALT */
	/* A known bug, accepted only when asked (cmpdump
	 * --pbmac1-keylength-bits): cmp-ra-component before 4.3.0 wrote the
	 * PBKDF2 keyLength of PBMAC1 in bits, not octets (RFC 8018 A.2), e.g.
	 * 4096 for a 512-octet key. 1: read keyLength as bits (a multiple of 8,
	 * at most 512 octets). The protocol paths never set it. */
	int pbmac1_keylen_bits;
};
#define CMP_PBM_LIMITS_DEFAULT { CMP_PBM_MIN_ITER, CMP_PBM_MAX_ITER, \
	CMP_PBM_MIN_SALT, 0 }
/* Verifies MAC protection with SECRET: PasswordBasedMac (RFC 4210 5.1.3.1)
 * or PBMAC1 (RFC 9481 6.1.2). The parameters must lie within LIM (NULL:
 * CMP_PBM_LIMITS_DEFAULT; a bound outside the ranges above is clamped to
 * them; PBMAC1's iterationCount and salt are held to the same limits, its
 * keyLength to CMP_PBMAC1_MIN_KEYLEN..CMP_PBMAC1_MAX_KEYLEN octets), checked
 * before any hashing. Errors name the reason: not protected, not
 * MAC-protected, malformed parameters, an iteration count, salt or key length
 * outside the limits (the clause, the limit, the value), unknown OWF, PRF,
 * KDF or MAC algorithm, wrong MAC. */
int cmp_msg_verify_pbm(const CMP_PKIMESSAGE *m, const void *secret,
    size_t secret_len, const struct cmp_pbm_limits *lim, struct pk_err *e);
/* Verifies signature protection with CERT's public key. Errors: not protected,
 * PBM-protected, unknown algorithm, key type mismatch, malformed parameters,
 * signature does not verify. */
int cmp_msg_verify_sig(const CMP_PKIMESSAGE *m, X509 *cert, struct pk_err *e);
/* The same with a bare public key. */
int cmp_msg_verify_sig_key(const CMP_PKIMESSAGE *m, EVP_PKEY *pub,
    struct pk_err *e);

/* --- Builders (cmp_build.c) --- */

/* Header fields of a message to build. Everything optional: sender / recipient
 * NULL are the NULL-DN (RFC 4210 5.1.1); transactionID and senderNonce NULL get
 * CMP_NONCE_LEN fresh random bytes; recipNonce NULL is left out; message_time 0
 * is now, -1 leaves messageTime out. */
struct cmp_hdr {
	const X509_NAME *sender;
	const X509_NAME *recipient;
	const unsigned char *sender_kid;	size_t sender_kid_len;
	const unsigned char *transaction_id;	size_t transaction_id_len;
	const unsigned char *sender_nonce;	size_t sender_nonce_len;
	const unsigned char *recip_nonce;	size_t recip_nonce_len;
	int implicit_confirm;			/* add id-it-implicitConfirm */
	time_t message_time;
	int pvno;				/* 0 = CMP_PVNO */
	const char *free_text;			/* NULL: none */
	STACK_OF(CMP_ITAV) *general_info;	/* extra ITAVs (copied) */
};

/* What an ir/cr/kur asks for. */
struct cmp_certreq {
	const X509_NAME *subject;	/* may be NULL when SAN is given */
	EVP_PKEY *key;			/* key pair: public part certified; private
					 * part signs the POP (RFC 4211 4.1) */
	const GENERAL_NAMES *san;	/* NULL: no subjectAltName */
	const STACK_OF(X509_EXTENSION) *exts;	/* more extensions, or NULL */
	X509 *old_cert;			/* kur: id-regCtrl-oldCertID from it */
	long cert_req_id;		/* usually 0 */
	int pop_md_nid;			/* POP digest, 0 = SHA-256 */
};

/* A request, unprotected (protect with cmp_msg_protect_*). TYPE is
 * CMP_BODY_IR, _CR or _KUR (kur requires old_cert). */
int cmp_build_certreq(const struct cmp_hdr *h, int type,
    const struct cmp_certreq *r, CMP_PKIMESSAGE **out, struct pk_err *e);
int cmp_build_p10cr(const struct cmp_hdr *h, X509_REQ *csr,
    CMP_PKIMESSAGE **out, struct pk_err *e);
/* certConf for CERT (RFC 4210 5.3.18): status CMP_STATUS_ACCEPTED (statusInfo
 * sent explicitly) or CMP_STATUS_REJECTION with failinfo and text. */
int cmp_build_certconf(const struct cmp_hdr *h, X509 *cert, long cert_req_id,
    int status, uint32_t failinfo, const char *text, CMP_PKIMESSAGE **out,
    struct pk_err *e);
int cmp_build_pollreq(const struct cmp_hdr *h, long cert_req_id,
    CMP_PKIMESSAGE **out, struct pk_err *e);
/* rr for CERT (issuer + serial); REASON a CRLReason or -1 for none. */
int cmp_build_rr(const struct cmp_hdr *h, X509 *cert, int reason,
    CMP_PKIMESSAGE **out, struct pk_err *e);
/* genm with ITAVS (copied; NULL or empty: an empty genm). */
int cmp_build_genm(const struct cmp_hdr *h, STACK_OF(CMP_ITAV) *itavs,
    CMP_PKIMESSAGE **out, struct pk_err *e);

/* Responses to REQ: transactionID copied, recipNonce = REQ's senderNonce, fresh
 * senderNonce, recipient = REQ's sender (RFC 4210 5.1.1), unless H says
 * otherwise (h->transaction_id / recip_nonce / recipient non-NULL win). REQ may be
 * NULL for an error answering an undecodable request. */
/* ip/cp/kup (TYPE CMP_BODY_IP/_CP/_KUP) with one CertResponse: status, failinfo,
 * text; CERT (may be NULL: waiting or rejection); CAPUBS (copied, may be NULL). */
int cmp_build_certrep(const struct cmp_hdr *h, const CMP_PKIMESSAGE *req,
    int type, long cert_req_id, int status, uint32_t failinfo, const char *text,
    X509 *cert, STACK_OF(X509) *capubs, CMP_PKIMESSAGE **out, struct pk_err *e);
int cmp_build_pollrep(const struct cmp_hdr *h, const CMP_PKIMESSAGE *req,
    long cert_req_id, long check_after, const char *reason,
    CMP_PKIMESSAGE **out, struct pk_err *e);
int cmp_build_pkiconf(const struct cmp_hdr *h, const CMP_PKIMESSAGE *req,
    CMP_PKIMESSAGE **out, struct pk_err *e);
/* rp with one status (for the one RevDetails we take). */
int cmp_build_rp(const struct cmp_hdr *h, const CMP_PKIMESSAGE *req, int status,
    uint32_t failinfo, const char *text, CMP_PKIMESSAGE **out, struct pk_err *e);
int cmp_build_genp(const struct cmp_hdr *h, const CMP_PKIMESSAGE *req,
    STACK_OF(CMP_ITAV) *itavs, CMP_PKIMESSAGE **out, struct pk_err *e);
/* error: PKIStatusInfo, errorCode (-1: absent), errorDetails (NULL: absent). */
int cmp_build_error(const struct cmp_hdr *h, const CMP_PKIMESSAGE *req,
    int status, uint32_t failinfo, const char *text, long error_code,
    const char *details, CMP_PKIMESSAGE **out, struct pk_err *e);

/* --- Display (cmp_dump.c): the text cmpdump prints for one message. --- */
/* Appends a readable decode of M to B (body type, header, nonces in hex,
 * statuses with failInfo names and text, certificates' subject/issuer/serial,
 * protection algorithm). */
void cmp_msg_dump(const CMP_PKIMESSAGE *m, struct sbuf *b);

/* ==== end of 1. Messages ============================================= */


/* ==== 2. Client transactions and transport ========================== */
/*
 * One client transaction (cmp_client.c) over HTTP (cmp_http.c): request ->
 * response validation -> certConf -> pkiConf, with polling. Thread-safe: a
 * transaction touches only its own objects, so the console may run one in a worker
 * thread (automatic update) while it keeps answering.
 */

/* Transport: POST application/pkixcmp (RFC 6712 3.3) to URL (http:// or https://;
 * https verifies the server against TRUSTED). One struct cmp_http per transaction:
 * the connection is kept alive between its messages when the server allows it
 * (the openssl mock binds a transaction to its connection), and reopened when the
 * server closed it. Timeouts in seconds; the response is capped at
 * CMP_MSG_MAX_SIZE. */
struct cmp_http;
int cmp_http_new(struct cmp_http **out, const char *url, STACK_OF(X509) *trusted,
    int connect_timeout, struct pk_err *e);
/* SHOULD_STOP (may be NULL) is asked every ~100 ms while connecting, sending
 * and waiting for the answer; nonzero stops the exchange, which fails with
 * "stopped by the operator while ...". */
void cmp_http_set_stop(struct cmp_http *h, int (*should_stop)(void *arg),
    void *arg);
/* Sends REQ, returns the decoded response. Errors name their cause: "cannot
 * connect to HOST:PORT: Connection refused", "no response within N seconds",
 * "HTTP status 500 from the server", "the response is not a CMP message: ...". */
int cmp_http_exchange(struct cmp_http *h, const CMP_PKIMESSAGE *req,
    int read_timeout, CMP_PKIMESSAGE **rsp, struct pk_err *e);
void cmp_http_free(struct cmp_http *h);

/* Everything a transaction needs. Objects are borrowed for the duration of
 * cmp_client_run(); the caller keeps ownership. */
struct cmp_client_cfg {
	const char *url;
	const X509_NAME *recipient;	/* the CA's subject (ca-name); NULL-DN if NULL */
	const X509_NAME *subject;	/* requested subject (from the entity) */
	const GENERAL_NAMES *san;	/* requested subjectAltName, or NULL */
	EVP_PKEY *key;			/* key pair to certify (a new one for KUR with
					 * regenerate); signs the POP */
	/* protection: MAC (IR only) or signature */
	int use_mac;
	const char *ref;		/* PBM reference, sent as senderKID */
	const unsigned char *secret;
	size_t secret_len;
	int mac_nid;			/* NID_hmacWithSHA256 (default) or NID_hmac_sha1 */
	int pbmac1;			/* MAC: PBMAC1 (RFC 9481 6.1.2, PBKDF2 and
					 * HMAC-SHA256) instead of PBM */
	X509 *auth_cert;		/* signature: the protecting certificate (the
					 * current one for CR/KUR; KUR's oldCertId) */
	EVP_PKEY *auth_key;		/* its private key */
	STACK_OF(X509) *auth_chain;	/* sent in extraCerts after auth_cert; or NULL */
	/* response validation */
	X509 *verify_cert;		/* the CA's signing certificate, or NULL */
	STACK_OF(X509) *trusted;	/* imported CA certificates (chains of signed
					 * responses; https server check) */
	int implicit_confirm;		/* ask the CA to skip certConf */
	int timeout;			/* whole transaction including polling, s */
	/* poll-request stop: checked while waiting; nonzero stops the transaction */
	int (*should_stop)(void *arg);
	void *stop_arg;
	/* progress lines for the operator ("IR sent", "CA answered waiting..."):
	 * text without "Info: "; may be NULL */
	void (*progress)(void *arg, const char *text);
	void *progress_arg;
	/* optional trace of every message: SENT 1 for a request as sent (after
	 * protection), 0 for a response as received (before any check); for
	 * debugging (cmp_msg_dump) and tests; may be NULL. M is borrowed. */
	void (*trace)(void *arg, int sent, const CMP_PKIMESSAGE *m);
	void *trace_arg;
};

/* What came back. */
struct cmp_client_result {
	X509 *cert;			/* the new certificate (accepted), or NULL */
	STACK_OF(X509) *ca_pubs;	/* caPubs of the ip, or NULL */
	STACK_OF(X509) *extra_certs;	/* extraCerts of the response, or NULL */
	long status;			/* PKIStatus of the answer, -1 if none came */
	uint32_t failinfo;		/* its failInfo bits */
	char *status_text;		/* its statusString joined, or NULL */
	int unauthenticated;		/* an error message (or a rejecting
					 * ip/cp/kup) that was not (validly)
					 * protected, or a protected error not
					 * bound to our request (transactionID,
					 * recipNonce): reported, never trusted */
	int implicit_confirm_granted;
	int polled;			/* number of pollReq sent */
};

void cmp_client_result_clear(struct cmp_client_result *r);

/* Runs one transaction of request body TYPE (CMP_BODY_IR, CMP_BODY_CR or
 * CMP_BODY_KUR; any other body type, genm too (cmp_client_genm), is refused
 * before anything is sent) per
 * RFC 4210: random transactionID, fresh senderNonce per message, recipNonce
 * chaining, protection checks (MAC with the
 * secret; signature against verify_cert, or a chain from extraCerts to trusted),
 * polling on "waiting" until the certificate, the timeout or should_stop; the
 * certificate checked (its public key is the requested one, it comes from the
 * expected CA) and confirmed with certConf + certHash (status rejection when it is
 * unacceptable, RFC 4210 5.2.8 / RFC 9483 3.1), then pkiConf; implicitConfirm
 * when asked and granted. Returns 0 with result->cert on success; -1 with *e
 * naming the cause (connection, HTTP, protection check with the RFC clause, a CA
 * rejection with its PKIStatus, failInfo names and text) and result filled as far
 * as known. */
int cmp_client_run(int type, const struct cmp_client_cfg *cfg,
    struct cmp_client_result *result, struct pk_err *e);

/* One support-message exchange (RFC 4210 5.3.19, RFC 9483 4.3): a genm
 * holding ASK (borrowed; e.g. an id-it-caCerts ITAV without a value), pvno 2
 * (RFC 9480 2.20: nothing in it needs cmp2021), protected as CFG says (MAC
 * with use_mac, else signature; key, subject and san are not used), and the
 * genp checked like any response of cmp_client_run() (protection and whom it
 * comes from, transactionID, recipNonce, body type; an error message is
 * reported with its status and never trusted when unauthenticated). 0 with
 * *out the genp's ITAV of type WANT (dotted OID; new, CMP_ITAV_free), or
 * NULL when the genp holds none (the CA left it out); -1 with *e, and RESULT
 * (status, failinfo, unauthenticated of an error answer) as far as known. */
int cmp_client_genm(const struct cmp_client_cfg *cfg, const CMP_ITAV *ask,
    const char *want, CMP_ITAV **out, struct cmp_client_result *result,
    struct pk_err *e);

/* ==== end of 2. Client =============================================== */

#endif
