/*
 * cmp_asn1: the ASN.1 types of the CMPv2 engine, as OpenSSL templates.
 *
 * RFC 4210 (PKIXCMP, EXPLICIT TAGS) and RFC 4211 (CRMF, IMPLICIT TAGS): the C
 * structures the templates of cmp_asn1.c decode into, their
 * DECLARE_ASN1_FUNCTIONS, the PKIBody / PKIStatus / PKIFailureInfo numbers and
 * the OIDs without an OpenSSL NID. Field names follow the RFCs.
 *
 * Included by cmp.h, the module's interface: other modules include cmp/cmp.h,
 * never this file directly.
 */
#ifndef PKISH_CMP_ASN1_H
#define PKISH_CMP_ASN1_H

#include <openssl/asn1t.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define CMP_PVNO		2		/* cmp2000; 3 (cmp2021) also accepted */

/* OIDs without an OpenSSL NID, for cmp_itav_new_oid() and OBJ_txt2obj(). */
#define CMP_OID_IMPLICIT_CONFIRM	"1.3.6.1.5.5.7.4.13"	/* id-it 13 */
#define CMP_OID_CONFIRM_WAIT_TIME	"1.3.6.1.5.5.7.4.14"	/* id-it 14 */
#define CMP_OID_OLD_CERT_ID		"1.3.6.1.5.5.7.5.1.5"	/* RFC 4211 6.5 */
#define CMP_OID_PBMAC1			"1.2.840.113549.1.5.14"	/* RFC 8018 */
/* InfoTypes of the support messages (RFC 4210 5.3.19, RFC 9480 2.14-2.16,
 * RFC 9483 4.3) and the key-spec controls of a certificate request template
 * (RFC 9480 2.16). */
#define CMP_OID_IT_SIGN_KEY_PAIR_TYPES	"1.3.6.1.5.5.7.4.2"	/* id-it 2 */
#define CMP_OID_IT_CA_CERTS		"1.3.6.1.5.5.7.4.17"	/* id-it 17 */
#define CMP_OID_IT_ROOT_CA_KEY_UPDATE	"1.3.6.1.5.5.7.4.18"	/* id-it 18 */
#define CMP_OID_IT_CERT_REQ_TEMPLATE	"1.3.6.1.5.5.7.4.19"	/* id-it 19 */
#define CMP_OID_IT_ROOT_CA_CERT		"1.3.6.1.5.5.7.4.20"	/* id-it 20 */
#define CMP_OID_REGCTRL_ALG_ID		"1.3.6.1.5.5.7.5.1.11"	/* id-regCtrl 11 */
#define CMP_OID_REGCTRL_RSA_KEY_LEN	"1.3.6.1.5.5.7.5.1.12"	/* id-regCtrl 12 */

/* PKIBody CHOICE alternatives: the value is the context tag (RFC 4210 5.1.2). */
enum cmp_body_type {
	CMP_BODY_IR = 0, CMP_BODY_IP = 1, CMP_BODY_CR = 2, CMP_BODY_CP = 3,
	CMP_BODY_P10CR = 4, CMP_BODY_POPDECC = 5, CMP_BODY_POPDECR = 6,
	CMP_BODY_KUR = 7, CMP_BODY_KUP = 8, CMP_BODY_KRR = 9, CMP_BODY_KRP = 10,
	CMP_BODY_RR = 11, CMP_BODY_RP = 12, CMP_BODY_CCR = 13, CMP_BODY_CCP = 14,
	CMP_BODY_CKUANN = 15, CMP_BODY_CANN = 16, CMP_BODY_RANN = 17,
	CMP_BODY_CRLANN = 18, CMP_BODY_PKICONF = 19, CMP_BODY_NESTED = 20,
	CMP_BODY_GENM = 21, CMP_BODY_GENP = 22, CMP_BODY_ERROR = 23,
	CMP_BODY_CERTCONF = 24, CMP_BODY_POLLREQ = 25, CMP_BODY_POLLREP = 26
};

/* PKIStatus (RFC 4210 5.2.3). */
enum cmp_status {
	CMP_STATUS_ACCEPTED = 0, CMP_STATUS_GRANTED_WITH_MODS = 1,
	CMP_STATUS_REJECTION = 2, CMP_STATUS_WAITING = 3,
	CMP_STATUS_REVOCATION_WARNING = 4, CMP_STATUS_REVOCATION_NOTIFICATION = 5,
	CMP_STATUS_KEY_UPDATE_WARNING = 6
};

/* PKIFailureInfo bit numbers (RFC 4210 5.2.3); masks are (1u << bit). */
enum cmp_failinfo_bit {
	CMP_FAIL_BAD_ALG = 0, CMP_FAIL_BAD_MESSAGE_CHECK, CMP_FAIL_BAD_REQUEST,
	CMP_FAIL_BAD_TIME, CMP_FAIL_BAD_CERT_ID, CMP_FAIL_BAD_DATA_FORMAT,
	CMP_FAIL_WRONG_AUTHORITY, CMP_FAIL_INCORRECT_DATA,
	CMP_FAIL_MISSING_TIME_STAMP, CMP_FAIL_BAD_POP, CMP_FAIL_CERT_REVOKED,
	CMP_FAIL_CERT_CONFIRMED, CMP_FAIL_WRONG_INTEGRITY,
	CMP_FAIL_BAD_RECIPIENT_NONCE, CMP_FAIL_TIME_NOT_AVAILABLE,
	CMP_FAIL_UNACCEPTED_POLICY, CMP_FAIL_UNACCEPTED_EXTENSION,
	CMP_FAIL_ADD_INFO_NOT_AVAILABLE, CMP_FAIL_BAD_SENDER_NONCE,
	CMP_FAIL_BAD_CERT_TEMPLATE, CMP_FAIL_SIGNER_NOT_TRUSTED,
	CMP_FAIL_TRANSACTION_ID_IN_USE, CMP_FAIL_UNSUPPORTED_VERSION,
	CMP_FAIL_NOT_AUTHORIZED, CMP_FAIL_SYSTEM_UNAVAIL, CMP_FAIL_SYSTEM_FAILURE,
	CMP_FAIL_DUPLICATE_CERT_REQ,
	CMP_FAIL_MAX = CMP_FAIL_DUPLICATE_CERT_REQ
};
#define CMP_FAIL(bit)	(1u << (bit))

/* --- ASN.1 types. Field names follow the RFCs. --- */

/* InfoTypeAndValue (RFC 4210 5.3.19); infoValue kept as it came (may be NULL). */
typedef struct cmp_itav_st {
	ASN1_OBJECT *infoType;
	ASN1_TYPE *infoValue;
} CMP_ITAV;
/* AttributeTypeAndValue (RFC 4211 6/7: controls and regInfo). */
typedef struct cmp_atav_st {
	ASN1_OBJECT *type;
	ASN1_TYPE *value;
} CMP_ATAV;
/* PKIStatusInfo (RFC 4210 5.2.3); statusString is PKIFreeText. */
typedef struct cmp_pkistatusinfo_st {
	ASN1_INTEGER *status;
	STACK_OF(ASN1_UTF8STRING) *statusString;
	ASN1_BIT_STRING *failInfo;
} CMP_PKISTATUSINFO;
/* CertId (RFC 4211 6.5). */
typedef struct cmp_certid_st {
	GENERAL_NAME *issuer;
	ASN1_INTEGER *serialNumber;
} CMP_CERTID;
/* PBMParameter (RFC 4210 5.1.3.1). */
typedef struct cmp_pbmparameter_st {
	ASN1_OCTET_STRING *salt;
	X509_ALGOR *owf;
	ASN1_INTEGER *iterationCount;
	X509_ALGOR *mac;
} CMP_PBMPARAMETER;
/* OptionalValidity (RFC 4211 5). */
typedef struct cmp_optionalvalidity_st {
	ASN1_TIME *notBefore;
	ASN1_TIME *notAfter;
} CMP_OPTIONALVALIDITY;
/* CertTemplate (RFC 4211 5): every field optional. */
typedef struct cmp_certtemplate_st {
	ASN1_INTEGER *version;
	ASN1_INTEGER *serialNumber;
	X509_ALGOR *signingAlg;
	X509_NAME *issuer;
	CMP_OPTIONALVALIDITY *validity;
	X509_NAME *subject;
	X509_PUBKEY *publicKey;
	ASN1_BIT_STRING *issuerUID;
	ASN1_BIT_STRING *subjectUID;
	STACK_OF(X509_EXTENSION) *extensions;
} CMP_CERTTEMPLATE;
/* CertRequest (RFC 4211 5); keeps its received encoding (the POP signs it). */
typedef struct cmp_certrequest_st {
	ASN1_INTEGER *certReqId;
	CMP_CERTTEMPLATE *certTemplate;
	STACK_OF(CMP_ATAV) *controls;
	ASN1_ENCODING enc;
} CMP_CERTREQUEST;
/* PKMACValue (RFC 4211 4.1). */
typedef struct cmp_pkmacvalue_st {
	X509_ALGOR *algId;
	ASN1_BIT_STRING *value;
} CMP_PKMACVALUE;
/* POPOSigningKeyInput.authInfo CHOICE (type 0 sender, 1 publicKeyMAC). */
typedef struct cmp_poposkauth_st {
	int type;
	union {
		GENERAL_NAME *sender;
		CMP_PKMACVALUE *publicKeyMAC;
	} value;
} CMP_POPOSKAUTH;
typedef struct cmp_poposkinput_st {
	CMP_POPOSKAUTH *authInfo;
	X509_PUBKEY *publicKey;
} CMP_POPOSKINPUT;
/* POPOSigningKey (RFC 4211 4.1). */
typedef struct cmp_poposigningkey_st {
	CMP_POPOSKINPUT *poposkInput;
	X509_ALGOR *algorithmIdentifier;
	ASN1_BIT_STRING *signature;
} CMP_POPOSIGNINGKEY;
/* ProofOfPossession CHOICE (RFC 4211 4); type 0 raVerified, 1 signature,
 * 2 keyEncipherment, 3 keyAgreement (the last two kept undecoded). */
typedef struct cmp_popo_st {
	int type;
	union {
		ASN1_NULL *raVerified;
		CMP_POPOSIGNINGKEY *signature;
		ASN1_TYPE *other;
	} value;
} CMP_POPO;
/* CertReqMsg (RFC 4211 3). */
typedef struct cmp_certreqmsg_st {
	CMP_CERTREQUEST *certReq;
	CMP_POPO *popo;
	STACK_OF(CMP_ATAV) *regInfo;
} CMP_CERTREQMSG;
/* CertOrEncCert CHOICE: type 0 certificate, 1 encryptedCert (undecoded). */
typedef struct cmp_certorenccert_st {
	int type;
	union {
		X509 *certificate;
		ASN1_TYPE *encryptedCert;
	} value;
} CMP_CERTORENCCERT;
/* CertifiedKeyPair (RFC 4210 5.3.4); privateKey, publicationInfo undecoded. */
typedef struct cmp_certifiedkeypair_st {
	CMP_CERTORENCCERT *certOrEncCert;
	ASN1_TYPE *privateKey;
	ASN1_TYPE *publicationInfo;
} CMP_CERTIFIEDKEYPAIR;
/* CertResponse (RFC 4210 5.3.4). */
typedef struct cmp_certresponse_st {
	ASN1_INTEGER *certReqId;
	CMP_PKISTATUSINFO *status;
	CMP_CERTIFIEDKEYPAIR *certifiedKeyPair;
	ASN1_OCTET_STRING *rspInfo;
} CMP_CERTRESPONSE;
/* CertRepMessage (RFC 4210 5.3.4): ip, cp, kup. */
typedef struct cmp_certrepmessage_st {
	STACK_OF(X509) *caPubs;
	STACK_OF(CMP_CERTRESPONSE) *response;
} CMP_CERTREPMESSAGE;
/* RevDetails (RFC 4210 5.3.9). */
typedef struct cmp_revdetails_st {
	CMP_CERTTEMPLATE *certDetails;
	STACK_OF(X509_EXTENSION) *crlEntryDetails;
} CMP_REVDETAILS;
/* RevRepContent (RFC 4210 5.3.10). */
typedef struct cmp_revrepcontent_st {
	STACK_OF(CMP_PKISTATUSINFO) *status;
	STACK_OF(CMP_CERTID) *revCerts;
	STACK_OF(X509_CRL) *crls;
} CMP_REVREPCONTENT;
/* CertStatus (RFC 4210 5.3.18, hashAlg from RFC 9480). */
typedef struct cmp_certstatus_st {
	ASN1_OCTET_STRING *certHash;
	ASN1_INTEGER *certReqId;
	CMP_PKISTATUSINFO *statusInfo;
	X509_ALGOR *hashAlg;
} CMP_CERTSTATUS;
/* PollReqContent / PollRepContent elements (RFC 4210 5.3.22). */
typedef struct cmp_pollreq_st {
	ASN1_INTEGER *certReqId;
} CMP_POLLREQ;
typedef struct cmp_pollrep_st {
	ASN1_INTEGER *certReqId;
	ASN1_INTEGER *checkAfter;
	STACK_OF(ASN1_UTF8STRING) *reason;
} CMP_POLLREP;
/* ErrorMsgContent (RFC 4210 5.3.21). */
typedef struct cmp_errormsgcontent_st {
	CMP_PKISTATUSINFO *pKIStatusInfo;
	ASN1_INTEGER *errorCode;
	STACK_OF(ASN1_UTF8STRING) *errorDetails;
} CMP_ERRORMSGCONTENT;

/* RootCaKeyUpdateContent (RFC 9480 2.15, RFC 4210 5.3.19.15): the new root
 * CA certificate, the new key signed with the old one, the old key signed with
 * the new one (CMPCertificate is encoded as Certificate). */
typedef struct cmp_rootcakeyupdate_st {
	X509 *newWithNew;
	X509 *newWithOld;		/* [0] OPTIONAL */
	X509 *oldWithNew;		/* [1] OPTIONAL */
} CMP_ROOTCAKEYUPDATE;

DEFINE_STACK_OF(CMP_ITAV)
DEFINE_STACK_OF(CMP_ATAV)
DEFINE_STACK_OF(CMP_PKISTATUSINFO)
DEFINE_STACK_OF(CMP_CERTID)
DEFINE_STACK_OF(CMP_CERTREQMSG)
DEFINE_STACK_OF(CMP_CERTRESPONSE)
DEFINE_STACK_OF(CMP_REVDETAILS)
DEFINE_STACK_OF(CMP_CERTSTATUS)
DEFINE_STACK_OF(CMP_POLLREQ)
DEFINE_STACK_OF(CMP_POLLREP)

/* CertReqTemplateContent (RFC 9480 2.16): a prefilled certTemplate and, per
 * key algorithm the CA certifies, one id-regCtrl-algId or id-regCtrl-rsaKeyLen
 * control in keySpec. */
typedef struct cmp_certreqtemplate_st {
	CMP_CERTTEMPLATE *certTemplate;
	STACK_OF(CMP_ATAV) *keySpec;	/* Controls OPTIONAL, SIZE (1..MAX) */
} CMP_CERTREQTEMPLATE;

/* PKIBody CHOICE (RFC 4210 5.1.2); type is enum cmp_body_type. Body types this
 * engine does not handle decode into `other` and are refused by cmp_msg_decode. */
typedef struct cmp_pkibody_st {
	int type;
	union {
		STACK_OF(CMP_CERTREQMSG) *ir, *cr, *kur;	/* CertReqMessages */
		CMP_CERTREPMESSAGE *ip, *cp, *kup;
		X509_REQ *p10cr;
		STACK_OF(CMP_REVDETAILS) *rr;
		CMP_REVREPCONTENT *rp;
		ASN1_NULL *pkiconf;
		STACK_OF(CMP_ITAV) *genm, *genp;
		CMP_ERRORMSGCONTENT *error;
		STACK_OF(CMP_CERTSTATUS) *certConf;
		STACK_OF(CMP_POLLREQ) *pollReq;
		STACK_OF(CMP_POLLREP) *pollRep;
		ASN1_TYPE *other;
	} value;
} CMP_PKIBODY;
/* PKIHeader (RFC 4210 5.1.1). */
typedef struct cmp_pkiheader_st {
	ASN1_INTEGER *pvno;
	GENERAL_NAME *sender;
	GENERAL_NAME *recipient;
	ASN1_GENERALIZEDTIME *messageTime;
	X509_ALGOR *protectionAlg;
	ASN1_OCTET_STRING *senderKID;
	ASN1_OCTET_STRING *recipKID;
	ASN1_OCTET_STRING *transactionID;
	ASN1_OCTET_STRING *senderNonce;
	ASN1_OCTET_STRING *recipNonce;
	STACK_OF(ASN1_UTF8STRING) *freeText;
	STACK_OF(CMP_ITAV) *generalInfo;
} CMP_PKIHEADER;
/* PKIMessage (RFC 4210 5.1); enc keeps the received DER. */
typedef struct cmp_pkimessage_st {
	CMP_PKIHEADER *header;
	CMP_PKIBODY *body;
	ASN1_BIT_STRING *protection;
	STACK_OF(X509) *extraCerts;
	ASN1_ENCODING enc;
} CMP_PKIMESSAGE;

DECLARE_ASN1_FUNCTIONS(CMP_ITAV)
DECLARE_ASN1_DUP_FUNCTION(CMP_ITAV)
DECLARE_ASN1_FUNCTIONS(CMP_ATAV)
DECLARE_ASN1_FUNCTIONS(CMP_PKISTATUSINFO)
DECLARE_ASN1_FUNCTIONS(CMP_CERTID)
DECLARE_ASN1_FUNCTIONS(CMP_PBMPARAMETER)
DECLARE_ASN1_FUNCTIONS(CMP_OPTIONALVALIDITY)
DECLARE_ASN1_FUNCTIONS(CMP_CERTTEMPLATE)
DECLARE_ASN1_FUNCTIONS(CMP_CERTREQUEST)
DECLARE_ASN1_FUNCTIONS(CMP_PKMACVALUE)
DECLARE_ASN1_FUNCTIONS(CMP_POPOSKAUTH)
DECLARE_ASN1_FUNCTIONS(CMP_POPOSKINPUT)
DECLARE_ASN1_FUNCTIONS(CMP_POPOSIGNINGKEY)
DECLARE_ASN1_FUNCTIONS(CMP_POPO)
DECLARE_ASN1_FUNCTIONS(CMP_CERTREQMSG)
DECLARE_ASN1_FUNCTIONS(CMP_CERTORENCCERT)
DECLARE_ASN1_FUNCTIONS(CMP_CERTIFIEDKEYPAIR)
DECLARE_ASN1_FUNCTIONS(CMP_CERTRESPONSE)
DECLARE_ASN1_FUNCTIONS(CMP_CERTREPMESSAGE)
DECLARE_ASN1_FUNCTIONS(CMP_REVDETAILS)
DECLARE_ASN1_FUNCTIONS(CMP_REVREPCONTENT)
DECLARE_ASN1_FUNCTIONS(CMP_CERTSTATUS)
DECLARE_ASN1_FUNCTIONS(CMP_POLLREQ)
DECLARE_ASN1_FUNCTIONS(CMP_POLLREP)
DECLARE_ASN1_FUNCTIONS(CMP_ERRORMSGCONTENT)
DECLARE_ASN1_FUNCTIONS(CMP_PKIBODY)
DECLARE_ASN1_FUNCTIONS(CMP_PKIHEADER)
DECLARE_ASN1_FUNCTIONS(CMP_PKIMESSAGE)
DECLARE_ASN1_DUP_FUNCTION(CMP_PKIMESSAGE)
/* CertReqMessages (SEQUENCE OF CertReqMsg), for tests and tools. */
DECLARE_ASN1_ITEM(CMP_CERTREQMESSAGES)
DECLARE_ASN1_FUNCTIONS(CMP_ROOTCAKEYUPDATE)
DECLARE_ASN1_FUNCTIONS(CMP_CERTREQTEMPLATE)
/* SEQUENCE OF CMPCertificate (caCerts, RFC 9480 2.14) and SEQUENCE OF
 * AlgorithmIdentifier (signKeyPairTypes, RFC 4210 5.3.19.2). */
DECLARE_ASN1_ITEM(CMP_CERTS)
DECLARE_ASN1_ITEM(CMP_ALGORS)

#endif
