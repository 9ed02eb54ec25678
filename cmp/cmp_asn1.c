/*
 * cmp_asn1: the CMP ASN.1 types as OpenSSL templates (the types are declared in
 * cmp_asn1.h), and the strict codec.
 *
 * RFC 4210 (PKIXCMP) is written with EXPLICIT TAGS, RFC 4211 (CRMF) with IMPLICIT
 * TAGS; a tag on a CHOICE (Name, GeneralName, Time, POPOPrivKey) is always
 * explicit. Types the engine does not interpret (EncryptedValue, the unsupported
 * PKIBody alternatives, POPOPrivKey) are kept as ANY so that they decode and
 * re-encode unchanged.
 *
 * Contract: cmp_msg_decode() accepts exactly one PKIMessage of at most
 * CMP_MSG_MAX_SIZE bytes and nothing after it; the message keeps the received
 * bytes so that encode gives them back and protection is checked over them.
 * BER passes there (cmpdump shows it); cmp_msg_decode_ex(CMP_DECODE_DER), the
 * protocol paths' decoder, also refuses everything that is not DER.
 */
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cmp.h"
#include "cmp_asn1.h"
#include "cmp_msg_int.h"

/* RFC 4210 5.3.19 InfoTypeAndValue */
ASN1_SEQUENCE(CMP_ITAV) = {
	ASN1_SIMPLE(CMP_ITAV, infoType, ASN1_OBJECT),
	ASN1_OPT(CMP_ITAV, infoValue, ASN1_ANY)
} ASN1_SEQUENCE_END(CMP_ITAV)
IMPLEMENT_ASN1_FUNCTIONS(CMP_ITAV)
IMPLEMENT_ASN1_DUP_FUNCTION(CMP_ITAV)

/* RFC 4211 6, 7: AttributeTypeAndValue of Controls and regInfo */
ASN1_SEQUENCE(CMP_ATAV) = {
	ASN1_SIMPLE(CMP_ATAV, type, ASN1_OBJECT),
	ASN1_SIMPLE(CMP_ATAV, value, ASN1_ANY)
} ASN1_SEQUENCE_END(CMP_ATAV)
IMPLEMENT_ASN1_FUNCTIONS(CMP_ATAV)

/* RFC 4210 5.2.3 PKIStatusInfo; PKIFreeText is SEQUENCE SIZE (1..MAX) OF
 * UTF8String */
ASN1_SEQUENCE(CMP_PKISTATUSINFO) = {
	ASN1_SIMPLE(CMP_PKISTATUSINFO, status, ASN1_INTEGER),
	ASN1_SEQUENCE_OF_OPT(CMP_PKISTATUSINFO, statusString, ASN1_UTF8STRING),
	ASN1_OPT(CMP_PKISTATUSINFO, failInfo, ASN1_BIT_STRING)
} ASN1_SEQUENCE_END(CMP_PKISTATUSINFO)
IMPLEMENT_ASN1_FUNCTIONS(CMP_PKISTATUSINFO)

/* RFC 4211 6.5 CertId */
ASN1_SEQUENCE(CMP_CERTID) = {
	ASN1_SIMPLE(CMP_CERTID, issuer, GENERAL_NAME),
	ASN1_SIMPLE(CMP_CERTID, serialNumber, ASN1_INTEGER)
} ASN1_SEQUENCE_END(CMP_CERTID)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTID)

/* RFC 4210 5.1.3.1 PBMParameter */
ASN1_SEQUENCE(CMP_PBMPARAMETER) = {
	ASN1_SIMPLE(CMP_PBMPARAMETER, salt, ASN1_OCTET_STRING),
	ASN1_SIMPLE(CMP_PBMPARAMETER, owf, X509_ALGOR),
	ASN1_SIMPLE(CMP_PBMPARAMETER, iterationCount, ASN1_INTEGER),
	ASN1_SIMPLE(CMP_PBMPARAMETER, mac, X509_ALGOR)
} ASN1_SEQUENCE_END(CMP_PBMPARAMETER)
IMPLEMENT_ASN1_FUNCTIONS(CMP_PBMPARAMETER)

/* RFC 8018 A.5 PBMAC1-params (RFC 9481 6.1.2) */
ASN1_SEQUENCE(CMP_PBMAC1PARAM) = {
	ASN1_SIMPLE(CMP_PBMAC1PARAM, keyDerivationFunc, X509_ALGOR),
	ASN1_SIMPLE(CMP_PBMAC1PARAM, messageAuthScheme, X509_ALGOR)
} ASN1_SEQUENCE_END(CMP_PBMAC1PARAM)
IMPLEMENT_ASN1_FUNCTIONS(CMP_PBMAC1PARAM)

/* RFC 4211 5 OptionalValidity: Time is a CHOICE, so its tags are explicit */
ASN1_SEQUENCE(CMP_OPTIONALVALIDITY) = {
	ASN1_EXP_OPT(CMP_OPTIONALVALIDITY, notBefore, ASN1_TIME, 0),
	ASN1_EXP_OPT(CMP_OPTIONALVALIDITY, notAfter, ASN1_TIME, 1)
} ASN1_SEQUENCE_END(CMP_OPTIONALVALIDITY)
IMPLEMENT_ASN1_FUNCTIONS(CMP_OPTIONALVALIDITY)

/* RFC 4211 5 CertTemplate (IMPLICIT TAGS; Name is a CHOICE: explicit) */
ASN1_SEQUENCE(CMP_CERTTEMPLATE) = {
	ASN1_IMP_OPT(CMP_CERTTEMPLATE, version, ASN1_INTEGER, 0),
	ASN1_IMP_OPT(CMP_CERTTEMPLATE, serialNumber, ASN1_INTEGER, 1),
	ASN1_IMP_OPT(CMP_CERTTEMPLATE, signingAlg, X509_ALGOR, 2),
	ASN1_EXP_OPT(CMP_CERTTEMPLATE, issuer, X509_NAME, 3),
	ASN1_IMP_OPT(CMP_CERTTEMPLATE, validity, CMP_OPTIONALVALIDITY, 4),
	ASN1_EXP_OPT(CMP_CERTTEMPLATE, subject, X509_NAME, 5),
	ASN1_IMP_OPT(CMP_CERTTEMPLATE, publicKey, X509_PUBKEY, 6),
	ASN1_IMP_OPT(CMP_CERTTEMPLATE, issuerUID, ASN1_BIT_STRING, 7),
	ASN1_IMP_OPT(CMP_CERTTEMPLATE, subjectUID, ASN1_BIT_STRING, 8),
	ASN1_IMP_SEQUENCE_OF_OPT(CMP_CERTTEMPLATE, extensions, X509_EXTENSION, 9)
} ASN1_SEQUENCE_END(CMP_CERTTEMPLATE)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTTEMPLATE)

/* RFC 4211 5 CertRequest; the encoding is kept because the signature POP of
 * RFC 4211 4.1 is computed over it */
ASN1_SEQUENCE_enc(CMP_CERTREQUEST, enc, 0) = {
	ASN1_SIMPLE(CMP_CERTREQUEST, certReqId, ASN1_INTEGER),
	ASN1_SIMPLE(CMP_CERTREQUEST, certTemplate, CMP_CERTTEMPLATE),
	ASN1_SEQUENCE_OF_OPT(CMP_CERTREQUEST, controls, CMP_ATAV)
} ASN1_SEQUENCE_END_enc(CMP_CERTREQUEST, CMP_CERTREQUEST)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTREQUEST)

/* RFC 4211 4.1 PKMACValue, POPOSigningKeyInput, POPOSigningKey */
ASN1_SEQUENCE(CMP_PKMACVALUE) = {
	ASN1_SIMPLE(CMP_PKMACVALUE, algId, X509_ALGOR),
	ASN1_SIMPLE(CMP_PKMACVALUE, value, ASN1_BIT_STRING)
} ASN1_SEQUENCE_END(CMP_PKMACVALUE)
IMPLEMENT_ASN1_FUNCTIONS(CMP_PKMACVALUE)

ASN1_CHOICE(CMP_POPOSKAUTH) = {
	ASN1_EXP(CMP_POPOSKAUTH, value.sender, GENERAL_NAME, 0),
	ASN1_SIMPLE(CMP_POPOSKAUTH, value.publicKeyMAC, CMP_PKMACVALUE)
} ASN1_CHOICE_END(CMP_POPOSKAUTH)
IMPLEMENT_ASN1_FUNCTIONS(CMP_POPOSKAUTH)

/* no kept encoding here: poposkInput is [0] IMPLICIT in POPOSigningKey, and the
 * POP signature covers its DER with the SEQUENCE tag (RFC 4211 4.1) */
ASN1_SEQUENCE(CMP_POPOSKINPUT) = {
	ASN1_SIMPLE(CMP_POPOSKINPUT, authInfo, CMP_POPOSKAUTH),
	ASN1_SIMPLE(CMP_POPOSKINPUT, publicKey, X509_PUBKEY)
} ASN1_SEQUENCE_END(CMP_POPOSKINPUT)
IMPLEMENT_ASN1_FUNCTIONS(CMP_POPOSKINPUT)

ASN1_SEQUENCE(CMP_POPOSIGNINGKEY) = {
	ASN1_IMP_OPT(CMP_POPOSIGNINGKEY, poposkInput, CMP_POPOSKINPUT, 0),
	ASN1_SIMPLE(CMP_POPOSIGNINGKEY, algorithmIdentifier, X509_ALGOR),
	ASN1_SIMPLE(CMP_POPOSIGNINGKEY, signature, ASN1_BIT_STRING)
} ASN1_SEQUENCE_END(CMP_POPOSIGNINGKEY)
IMPLEMENT_ASN1_FUNCTIONS(CMP_POPOSIGNINGKEY)

/* RFC 4211 4 ProofOfPossession; POPOPrivKey is a CHOICE, kept as it came */
ASN1_CHOICE(CMP_POPO) = {
	ASN1_IMP(CMP_POPO, value.raVerified, ASN1_NULL, 0),
	ASN1_IMP(CMP_POPO, value.signature, CMP_POPOSIGNINGKEY, 1),
	ASN1_EXP(CMP_POPO, value.other, ASN1_ANY, 2),
	ASN1_EXP(CMP_POPO, value.other, ASN1_ANY, 3)
} ASN1_CHOICE_END(CMP_POPO)
IMPLEMENT_ASN1_FUNCTIONS(CMP_POPO)

/* RFC 4211 3 CertReqMsg, CertReqMessages */
ASN1_SEQUENCE(CMP_CERTREQMSG) = {
	ASN1_SIMPLE(CMP_CERTREQMSG, certReq, CMP_CERTREQUEST),
	ASN1_OPT(CMP_CERTREQMSG, popo, CMP_POPO),
	ASN1_SEQUENCE_OF_OPT(CMP_CERTREQMSG, regInfo, CMP_ATAV)
} ASN1_SEQUENCE_END(CMP_CERTREQMSG)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTREQMSG)

ASN1_ITEM_TEMPLATE(CMP_CERTREQMESSAGES) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, CertReqMessages,
	    CMP_CERTREQMSG)
ASN1_ITEM_TEMPLATE_END(CMP_CERTREQMESSAGES)

/* RFC 9480 2.15 (RFC 4210 5.3.19.15) RootCaKeyUpdateContent, EXPLICIT tags */
ASN1_SEQUENCE(CMP_ROOTCAKEYUPDATE) = {
	ASN1_SIMPLE(CMP_ROOTCAKEYUPDATE, newWithNew, X509),
	ASN1_EXP_OPT(CMP_ROOTCAKEYUPDATE, newWithOld, X509, 0),
	ASN1_EXP_OPT(CMP_ROOTCAKEYUPDATE, oldWithNew, X509, 1)
} ASN1_SEQUENCE_END(CMP_ROOTCAKEYUPDATE)
IMPLEMENT_ASN1_FUNCTIONS(CMP_ROOTCAKEYUPDATE)

/* RFC 9480 2.16 CertReqTemplateContent; Controls ::= SEQUENCE SIZE (1..MAX) OF
 * AttributeTypeAndValue */
ASN1_SEQUENCE(CMP_CERTREQTEMPLATE) = {
	ASN1_SIMPLE(CMP_CERTREQTEMPLATE, certTemplate, CMP_CERTTEMPLATE),
	ASN1_SEQUENCE_OF_OPT(CMP_CERTREQTEMPLATE, keySpec, CMP_ATAV)
} ASN1_SEQUENCE_END(CMP_CERTREQTEMPLATE)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTREQTEMPLATE)

/* RFC 9480 2.14 caCerts: SEQUENCE SIZE (1..MAX) OF CMPCertificate */
ASN1_ITEM_TEMPLATE(CMP_CERTS) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, CMPCertificates, X509)
ASN1_ITEM_TEMPLATE_END(CMP_CERTS)

/* RFC 4210 5.3.19.2 signKeyPairTypes: SEQUENCE OF AlgorithmIdentifier */
ASN1_ITEM_TEMPLATE(CMP_ALGORS) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, AlgorithmIdentifiers,
	    X509_ALGOR)
ASN1_ITEM_TEMPLATE_END(CMP_ALGORS)

/* RFC 4210 5.3.4 CertOrEncCert, CertifiedKeyPair, CertResponse, CertRepMessage */
ASN1_CHOICE(CMP_CERTORENCCERT) = {
	ASN1_EXP(CMP_CERTORENCCERT, value.certificate, X509, 0),
	ASN1_EXP(CMP_CERTORENCCERT, value.encryptedCert, ASN1_ANY, 1)
} ASN1_CHOICE_END(CMP_CERTORENCCERT)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTORENCCERT)

ASN1_SEQUENCE(CMP_CERTIFIEDKEYPAIR) = {
	ASN1_SIMPLE(CMP_CERTIFIEDKEYPAIR, certOrEncCert, CMP_CERTORENCCERT),
	ASN1_EXP_OPT(CMP_CERTIFIEDKEYPAIR, privateKey, ASN1_ANY, 0),
	ASN1_EXP_OPT(CMP_CERTIFIEDKEYPAIR, publicationInfo, ASN1_ANY, 1)
} ASN1_SEQUENCE_END(CMP_CERTIFIEDKEYPAIR)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTIFIEDKEYPAIR)

ASN1_SEQUENCE(CMP_CERTRESPONSE) = {
	ASN1_SIMPLE(CMP_CERTRESPONSE, certReqId, ASN1_INTEGER),
	ASN1_SIMPLE(CMP_CERTRESPONSE, status, CMP_PKISTATUSINFO),
	ASN1_OPT(CMP_CERTRESPONSE, certifiedKeyPair, CMP_CERTIFIEDKEYPAIR),
	ASN1_OPT(CMP_CERTRESPONSE, rspInfo, ASN1_OCTET_STRING)
} ASN1_SEQUENCE_END(CMP_CERTRESPONSE)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTRESPONSE)

ASN1_SEQUENCE(CMP_CERTREPMESSAGE) = {
	ASN1_EXP_SEQUENCE_OF_OPT(CMP_CERTREPMESSAGE, caPubs, X509, 1),
	ASN1_SEQUENCE_OF(CMP_CERTREPMESSAGE, response, CMP_CERTRESPONSE)
} ASN1_SEQUENCE_END(CMP_CERTREPMESSAGE)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTREPMESSAGE)

/* RFC 4210 5.3.9 RevDetails, 5.3.10 RevRepContent */
ASN1_SEQUENCE(CMP_REVDETAILS) = {
	ASN1_SIMPLE(CMP_REVDETAILS, certDetails, CMP_CERTTEMPLATE),
	ASN1_SEQUENCE_OF_OPT(CMP_REVDETAILS, crlEntryDetails, X509_EXTENSION)
} ASN1_SEQUENCE_END(CMP_REVDETAILS)
IMPLEMENT_ASN1_FUNCTIONS(CMP_REVDETAILS)

ASN1_SEQUENCE(CMP_REVREPCONTENT) = {
	ASN1_SEQUENCE_OF(CMP_REVREPCONTENT, status, CMP_PKISTATUSINFO),
	ASN1_EXP_SEQUENCE_OF_OPT(CMP_REVREPCONTENT, revCerts, CMP_CERTID, 0),
	ASN1_EXP_SEQUENCE_OF_OPT(CMP_REVREPCONTENT, crls, X509_CRL, 1)
} ASN1_SEQUENCE_END(CMP_REVREPCONTENT)
IMPLEMENT_ASN1_FUNCTIONS(CMP_REVREPCONTENT)

/* RFC 4210 5.3.18 CertStatus (hashAlg: RFC 9480 2.10) */
ASN1_SEQUENCE(CMP_CERTSTATUS) = {
	ASN1_SIMPLE(CMP_CERTSTATUS, certHash, ASN1_OCTET_STRING),
	ASN1_SIMPLE(CMP_CERTSTATUS, certReqId, ASN1_INTEGER),
	ASN1_OPT(CMP_CERTSTATUS, statusInfo, CMP_PKISTATUSINFO),
	ASN1_EXP_OPT(CMP_CERTSTATUS, hashAlg, X509_ALGOR, 0)
} ASN1_SEQUENCE_END(CMP_CERTSTATUS)
IMPLEMENT_ASN1_FUNCTIONS(CMP_CERTSTATUS)

/* RFC 4210 5.3.22 PollReqContent, PollRepContent elements */
ASN1_SEQUENCE(CMP_POLLREQ) = {
	ASN1_SIMPLE(CMP_POLLREQ, certReqId, ASN1_INTEGER)
} ASN1_SEQUENCE_END(CMP_POLLREQ)
IMPLEMENT_ASN1_FUNCTIONS(CMP_POLLREQ)

ASN1_SEQUENCE(CMP_POLLREP) = {
	ASN1_SIMPLE(CMP_POLLREP, certReqId, ASN1_INTEGER),
	ASN1_SIMPLE(CMP_POLLREP, checkAfter, ASN1_INTEGER),
	ASN1_SEQUENCE_OF_OPT(CMP_POLLREP, reason, ASN1_UTF8STRING)
} ASN1_SEQUENCE_END(CMP_POLLREP)
IMPLEMENT_ASN1_FUNCTIONS(CMP_POLLREP)

/* RFC 4210 5.3.21 ErrorMsgContent */
ASN1_SEQUENCE(CMP_ERRORMSGCONTENT) = {
	ASN1_SIMPLE(CMP_ERRORMSGCONTENT, pKIStatusInfo, CMP_PKISTATUSINFO),
	ASN1_OPT(CMP_ERRORMSGCONTENT, errorCode, ASN1_INTEGER),
	ASN1_SEQUENCE_OF_OPT(CMP_ERRORMSGCONTENT, errorDetails, ASN1_UTF8STRING)
} ASN1_SEQUENCE_END(CMP_ERRORMSGCONTENT)
IMPLEMENT_ASN1_FUNCTIONS(CMP_ERRORMSGCONTENT)

/* RFC 4210 5.1.2 PKIBody; the order of the entries is the tag number, so that
 * body->type equals enum cmp_body_type */
ASN1_CHOICE(CMP_PKIBODY) = {
	ASN1_EXP_SEQUENCE_OF(CMP_PKIBODY, value.ir, CMP_CERTREQMSG, 0),
	ASN1_EXP(CMP_PKIBODY, value.ip, CMP_CERTREPMESSAGE, 1),
	ASN1_EXP_SEQUENCE_OF(CMP_PKIBODY, value.cr, CMP_CERTREQMSG, 2),
	ASN1_EXP(CMP_PKIBODY, value.cp, CMP_CERTREPMESSAGE, 3),
	ASN1_EXP(CMP_PKIBODY, value.p10cr, X509_REQ, 4),
	ASN1_EXP(CMP_PKIBODY, value.other, ASN1_ANY, 5),	/* popdecc */
	ASN1_EXP(CMP_PKIBODY, value.other, ASN1_ANY, 6),	/* popdecr */
	ASN1_EXP_SEQUENCE_OF(CMP_PKIBODY, value.kur, CMP_CERTREQMSG, 7),
	ASN1_EXP(CMP_PKIBODY, value.kup, CMP_CERTREPMESSAGE, 8),
	ASN1_EXP(CMP_PKIBODY, value.other, ASN1_ANY, 9),	/* krr */
	ASN1_EXP(CMP_PKIBODY, value.other, ASN1_ANY, 10),	/* krp */
	ASN1_EXP_SEQUENCE_OF(CMP_PKIBODY, value.rr, CMP_REVDETAILS, 11),
	ASN1_EXP(CMP_PKIBODY, value.rp, CMP_REVREPCONTENT, 12),
	ASN1_EXP(CMP_PKIBODY, value.other, ASN1_ANY, 13),	/* ccr */
	ASN1_EXP(CMP_PKIBODY, value.other, ASN1_ANY, 14),	/* ccp */
	ASN1_EXP(CMP_PKIBODY, value.other, ASN1_ANY, 15),	/* ckuann */
	ASN1_EXP(CMP_PKIBODY, value.other, ASN1_ANY, 16),	/* cann */
	ASN1_EXP(CMP_PKIBODY, value.other, ASN1_ANY, 17),	/* rann */
	ASN1_EXP(CMP_PKIBODY, value.other, ASN1_ANY, 18),	/* crlann */
	ASN1_EXP(CMP_PKIBODY, value.pkiconf, ASN1_NULL, 19),
	ASN1_EXP(CMP_PKIBODY, value.other, ASN1_ANY, 20),	/* nested */
	ASN1_EXP_SEQUENCE_OF(CMP_PKIBODY, value.genm, CMP_ITAV, 21),
	ASN1_EXP_SEQUENCE_OF(CMP_PKIBODY, value.genp, CMP_ITAV, 22),
	ASN1_EXP(CMP_PKIBODY, value.error, CMP_ERRORMSGCONTENT, 23),
	ASN1_EXP_SEQUENCE_OF(CMP_PKIBODY, value.certConf, CMP_CERTSTATUS, 24),
	ASN1_EXP_SEQUENCE_OF(CMP_PKIBODY, value.pollReq, CMP_POLLREQ, 25),
	ASN1_EXP_SEQUENCE_OF(CMP_PKIBODY, value.pollRep, CMP_POLLREP, 26)
} ASN1_CHOICE_END(CMP_PKIBODY)
IMPLEMENT_ASN1_FUNCTIONS(CMP_PKIBODY)

/* RFC 4210 5.1.1 PKIHeader */
ASN1_SEQUENCE(CMP_PKIHEADER) = {
	ASN1_SIMPLE(CMP_PKIHEADER, pvno, ASN1_INTEGER),
	ASN1_SIMPLE(CMP_PKIHEADER, sender, GENERAL_NAME),
	ASN1_SIMPLE(CMP_PKIHEADER, recipient, GENERAL_NAME),
	ASN1_EXP_OPT(CMP_PKIHEADER, messageTime, ASN1_GENERALIZEDTIME, 0),
	ASN1_EXP_OPT(CMP_PKIHEADER, protectionAlg, X509_ALGOR, 1),
	ASN1_EXP_OPT(CMP_PKIHEADER, senderKID, ASN1_OCTET_STRING, 2),
	ASN1_EXP_OPT(CMP_PKIHEADER, recipKID, ASN1_OCTET_STRING, 3),
	ASN1_EXP_OPT(CMP_PKIHEADER, transactionID, ASN1_OCTET_STRING, 4),
	ASN1_EXP_OPT(CMP_PKIHEADER, senderNonce, ASN1_OCTET_STRING, 5),
	ASN1_EXP_OPT(CMP_PKIHEADER, recipNonce, ASN1_OCTET_STRING, 6),
	ASN1_EXP_SEQUENCE_OF_OPT(CMP_PKIHEADER, freeText, ASN1_UTF8STRING, 7),
	ASN1_EXP_SEQUENCE_OF_OPT(CMP_PKIHEADER, generalInfo, CMP_ITAV, 8)
} ASN1_SEQUENCE_END(CMP_PKIHEADER)
IMPLEMENT_ASN1_FUNCTIONS(CMP_PKIHEADER)

/* RFC 4210 5.1 PKIMessage; keeps the received encoding */
ASN1_SEQUENCE_enc(CMP_PKIMESSAGE, enc, 0) = {
	ASN1_SIMPLE(CMP_PKIMESSAGE, header, CMP_PKIHEADER),
	ASN1_SIMPLE(CMP_PKIMESSAGE, body, CMP_PKIBODY),
	ASN1_EXP_OPT(CMP_PKIMESSAGE, protection, ASN1_BIT_STRING, 0),
	ASN1_EXP_SEQUENCE_OF_OPT(CMP_PKIMESSAGE, extraCerts, X509, 1)
} ASN1_SEQUENCE_END_enc(CMP_PKIMESSAGE, CMP_PKIMESSAGE)
IMPLEMENT_ASN1_FUNCTIONS(CMP_PKIMESSAGE)
IMPLEMENT_ASN1_DUP_FUNCTION(CMP_PKIMESSAGE)

/*
 * The raw views: the same outer structure with header and body as uninterpreted
 * TLVs (ANY keeps the whole element, tag and length included). They give the
 * received bytes of ProtectedPart (RFC 4210 5.1.3) and the body tag of a message
 * whose body does not decode.
 */
ASN1_SEQUENCE(CMP_MSG_RAW) = {
	ASN1_SIMPLE(CMP_MSG_RAW, header, ASN1_ANY),
	ASN1_SIMPLE(CMP_MSG_RAW, body, ASN1_ANY),
	ASN1_EXP_OPT(CMP_MSG_RAW, protection, ASN1_ANY, 0),
	ASN1_EXP_OPT(CMP_MSG_RAW, extraCerts, ASN1_ANY, 1)
} ASN1_SEQUENCE_END(CMP_MSG_RAW)
IMPLEMENT_ASN1_FUNCTIONS(CMP_MSG_RAW)

ASN1_SEQUENCE(CMP_PROTPART_RAW) = {
	ASN1_SIMPLE(CMP_PROTPART_RAW, header, ASN1_ANY),
	ASN1_SIMPLE(CMP_PROTPART_RAW, body, ASN1_ANY)
} ASN1_SEQUENCE_END(CMP_PROTPART_RAW)
IMPLEMENT_ASN1_FUNCTIONS(CMP_PROTPART_RAW)

/* ProtectedPart as built from structures (for signing our own messages) */
ASN1_SEQUENCE(CMP_PROTPART) = {
	ASN1_SIMPLE(CMP_PROTPART, header, CMP_PKIHEADER),
	ASN1_SIMPLE(CMP_PROTPART, body, CMP_PKIBODY)
} ASN1_SEQUENCE_END(CMP_PROTPART)
IMPLEMENT_ASN1_FUNCTIONS(CMP_PROTPART)

static const char *const body_names[] = {
	"ir", "ip", "cr", "cp", "p10cr", "popdecc", "popdecr", "kur", "kup",
	"krr", "krp", "rr", "rp", "ccr", "ccp", "ckuann", "cann", "rann",
	"crlann", "pkiconf", "nested", "genm", "genp", "error", "certConf",
	"pollReq", "pollRep"
};

const char *
cmp_body_name(int type)
{
	if (type < 0 || type > CMP_BODY_POLLREP)
		return "unknown";
	return body_names[type];
}

int
cmp_body_supported(int type)
{
	switch (type) {
	case CMP_BODY_IR: case CMP_BODY_IP: case CMP_BODY_CR: case CMP_BODY_CP:
	case CMP_BODY_P10CR: case CMP_BODY_KUR: case CMP_BODY_KUP:
	case CMP_BODY_RR: case CMP_BODY_RP: case CMP_BODY_PKICONF:
	case CMP_BODY_GENM: case CMP_BODY_GENP: case CMP_BODY_ERROR:
	case CMP_BODY_CERTCONF: case CMP_BODY_POLLREQ: case CMP_BODY_POLLREP:
		return 1;
	default:
		return 0;
	}
}

static const char *const status_names[] = {
	"accepted", "grantedWithMods", "rejection", "waiting",
	"revocationWarning", "revocationNotification", "keyUpdateWarning"
};

const char *
cmp_status_name(long status)
{
	if (status < 0 || status > CMP_STATUS_KEY_UPDATE_WARNING)
		return "unknown";
	return status_names[status];
}

/* RFC 4210 5.2.3 PKIFailureInfo names, by bit number */
static const char *const failinfo_names[] = {
	"badAlg", "badMessageCheck", "badRequest", "badTime", "badCertId",
	"badDataFormat", "wrongAuthority", "incorrectData", "missingTimeStamp",
	"badPOP", "certRevoked", "certConfirmed", "wrongIntegrity",
	"badRecipientNonce", "timeNotAvailable", "unacceptedPolicy",
	"unacceptedExtension", "addInfoNotAvailable", "badSenderNonce",
	"badCertTemplate", "signerNotTrusted", "transactionIdInUse",
	"unsupportedVersion", "notAuthorized", "systemUnavail", "systemFailure",
	"duplicateCertReq"
};

const char *
cmp_failinfo_name(int bit)
{
	if (bit < 0 || bit > CMP_FAIL_MAX)
		return NULL;
	return failinfo_names[bit];
}

char *
cmp_failinfo_names(uint32_t mask)
{
	struct sbuf b = SBUF_INIT;
	int bit;

	for (bit = 0; bit < 32; bit++) {
		if (!(mask & (1u << bit)))
			continue;
		if (b.len > 0)
			sbuf_puts(&b, ", ");
		if (bit <= CMP_FAIL_MAX)
			sbuf_puts(&b, failinfo_names[bit]);
		else
			sbuf_printf(&b, "bit %d", bit);
	}
	if (b.s == NULL)
		return xstrdup("");
	return sbuf_take(&b);
}

/* The context tag number of an ANY holding a [n] constructed element. */
static int
raw_body_tag(const ASN1_TYPE *body)
{
	const unsigned char *p;
	long len;
	int tag, xclass, r;

	if (body == NULL || body->type != V_ASN1_OTHER || body->value.asn1_string == NULL)
		return -1;
	p = body->value.asn1_string->data;
	r = ASN1_get_object(&p, &len, &tag, &xclass, body->value.asn1_string->length);
	if ((r & 0x80) || xclass != V_ASN1_CONTEXT_SPECIFIC)
		return -1;
	return tag;
}

int
cmp_msg_peek_body_type(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	CMP_MSG_RAW *raw;
	int tag;

	if (der == NULL || len == 0 || len > CMP_MSG_MAX_SIZE)
		return -1;
	raw = d2i_CMP_MSG_RAW(NULL, &p, (long)len);
	ERR_clear_error();
	if (raw == NULL)
		return -1;
	tag = raw_body_tag(raw->body);
	CMP_MSG_RAW_free(raw);
	return tag;
}

/* X509_check_purpose caches extensions and flags broken ones (STYLE.md). */
static int
check_certs(const STACK_OF(X509) *sk, const char *what, struct pk_err *e)
{
	int i;

	for (i = 0; i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);

		if (X509_check_purpose(x, -1, 0) != 1 ||
		    (X509_get_extension_flags(x) & EXFLAG_INVALID))
			return pk_err_ossl(e, "%s certificate %d has invalid extensions",
			    what, i);
	}
	return 0;
}

static int
check_body_certs(const CMP_PKIBODY *b, struct pk_err *e)
{
	const CMP_CERTREPMESSAGE *rep = NULL;
	int i;

	switch (b->type) {
	case CMP_BODY_IP: rep = b->value.ip; break;
	case CMP_BODY_CP: rep = b->value.cp; break;
	case CMP_BODY_KUP: rep = b->value.kup; break;
	default: return 0;
	}
	if (check_certs(rep->caPubs, "caPubs", e) != 0)
		return -1;
	for (i = 0; i < sk_CMP_CERTRESPONSE_num(rep->response); i++) {
		CMP_CERTRESPONSE *r = sk_CMP_CERTRESPONSE_value(rep->response, i);
		X509 *x;

		if (r->certifiedKeyPair == NULL ||
		    r->certifiedKeyPair->certOrEncCert->type != 0)
			continue;
		x = r->certifiedKeyPair->certOrEncCert->value.certificate;
		if (X509_check_purpose(x, -1, 0) != 1 ||
		    (X509_get_extension_flags(x) & EXFLAG_INVALID))
			return pk_err_ossl(e, "the certificate of response %d has "
			    "invalid extensions", i);
	}
	return 0;
}

/* Deepest nesting the DER check follows; a CMP message needs about 15. */
#define DER_MAX_DEPTH	64

/* X.690 10 (DER) at the TLV level over the first TLV of DER[0..LEN) (what
 * follows it is the caller's trailing-bytes check): every length in the
 * definite form with the fewest octets (10.1), tag numbers in their shortest
 * form (8.1.2), string types of the universal class primitive (10.2), no
 * end-of-contents octets. Certificates and ANY fields inside are walked too, so
 * that a kept encoding cannot hide BER. 0 DER; -1 with what and where; -2 when
 * it nests deeper than DER_MAX_DEPTH (before any template decoder sees it). */
/* A structural error of der_strict(): -3 with the reason. */
static int
bad(struct pk_err *e, const char *fmt, size_t at)
{
	pk_err_set(e, fmt, at);
	return -3;
}

static int
der_strict(const unsigned char *der, size_t len, struct pk_err *e)
{
	size_t end[DER_MAX_DEPTH + 1], pos = 0, start, l;
	int depth = 0, cls, cons, n, i;
	unsigned long tag;

	end[0] = len;
	while (pos < end[0]) {
		while (depth > 0 && pos == end[depth])
			depth--;
		start = pos;
		cls = der[pos] >> 6;
		cons = der[pos] & 0x20;
		tag = der[pos] & 0x1f;
		pos++;
		if (tag == 0x1f) {
			/* high tag number form: base 128, no leading 0x80 */
			if (pos >= end[depth] || der[pos] == 0x80)
				return pk_err_set(e, "non-minimal tag at byte %zu",
				    start);
			for (tag = 0, i = 0; ; i++) {
				if (pos >= end[depth] || i >= 4)
					return bad(e, "malformed tag at byte %zu", start);
				tag = (tag << 7) | (der[pos] & 0x7f);
				if (!(der[pos++] & 0x80))
					break;
			}
			if (tag < 0x1f)
				return pk_err_set(e, "non-minimal tag at byte %zu",
				    start);
		}
		if (cls == 0 && tag == 0)
			return pk_err_set(e, "end-of-contents octets at byte %zu "
			    "(BER indefinite length)", start);
		if (pos >= end[depth])
			return bad(e, "truncated at byte %zu", start);
		l = der[pos++];
		if (l == 0x80)
			return pk_err_set(e, "indefinite length at byte %zu",
			    start);
		if (l & 0x80) {
			n = (int)(l & 0x7f);
			if (n > 4 || pos + (size_t)n > end[depth])
				return bad(e, "malformed length at byte %zu", start);
			if (der[pos] == 0)
				return pk_err_set(e, "non-minimal length at byte %zu "
				    "(leading zero octet)", start);
			for (l = 0, i = 0; i < n; i++)
				l = (l << 8) | der[pos++];
			if (l < 0x80)
				return pk_err_set(e, "non-minimal length at byte %zu "
				    "(long form for %zu)", start, l);
		}
		if (l > end[depth] - pos)
			return bad(e, "length beyond its container at byte %zu",
			    start);
		/* universal string types only primitive (EXTERNAL, EMBEDDED PDV,
		 * SEQUENCE, SET, CHARACTER STRING are constructed) */
		if (cls == 0 && cons && tag != 8 && tag != 11 && tag != 16 &&
		    tag != 17 && tag != 29)
			return pk_err_set(e, "constructed encoding of universal type "
			    "%lu at byte %zu", tag, start);
		if (depth == 0)
			end[0] = pos + l;	/* the message; the rest is trailing */
		if (!cons) {
			pos += l;
			continue;
		}
		if (depth == DER_MAX_DEPTH) {
			pk_err_set(e, "the message nests deeper than %d levels (no CMP "
			    "message does)", DER_MAX_DEPTH);
			return -2;
		}
		end[++depth] = pos + l;
	}
	return 0;
}

int
cmp_msg_decode(const unsigned char *der, size_t len, CMP_PKIMESSAGE **out,
    struct pk_err *e)
{
	return cmp_msg_decode_ex(der, len, 0, out, e);
}

/* 1 when M, its top-level cached encoding dropped, encodes to DER/LEN. M is
 * the message decoded from those bytes: when it does, the encodings cached
 * below it (names, certificates) are those bytes too, and M stays usable as
 * decoded (the protection is computed over the same octets). */
static int
encodes_as(CMP_PKIMESSAGE *m, const unsigned char *der, size_t len)
{
	unsigned char *fresh = NULL;
	int n, same;

	cmp_msg_touch(m);
	n = i2d_CMP_PKIMESSAGE(m, &fresh);
	same = n > 0 && (size_t)n == len && memcmp(fresh, der, len) == 0;
	OPENSSL_free(fresh);
	return same;
}

int
cmp_msg_decode_ex(const unsigned char *der, size_t len, int flags,
    CMP_PKIMESSAGE **out, struct pk_err *e)
{
	const unsigned char *p = der;
	CMP_PKIMESSAGE *m = NULL;
	struct pk_err de;
	long pvno;
	int rc = -1, tag, r = 0;

	*out = NULL;
	if (der == NULL || len == 0) {
		pk_err_set(e, "empty CMP message");
		goto out;
	}
	if (len > CMP_MSG_MAX_SIZE) {
		pk_err_set(e, "CMP message too large: %zu bytes (limit %u)", len,
		    CMP_MSG_MAX_SIZE);
		goto out;
	}
	/* RFC 6712 3.3: a DER-encoded PKIMessage; X.690 10: one encoding per
	 * value (the TLVs here, the values after decoding) */
	if ((flags & CMP_DECODE_DER) && (r = der_strict(der, len, &de)) != 0 &&
	    r != -3) {
		if (r == -2)
			pk_err_set(e, "%s", de.msg);
		else
			pk_err_set(e, "RFC 6712 3.3: the message is not DER (X.690 10): "
			    "%s", de.msg);
		goto out;
	}
	m = d2i_CMP_PKIMESSAGE(NULL, &p, (long)len);
	if (m == NULL) {
		tag = cmp_msg_peek_body_type(der, len);
		if (tag >= 0 && !cmp_body_supported(tag))
			pk_err_set(e, "unsupported body type %s (%d)",
			    cmp_body_name(tag), tag);
		else if (tag >= 0)
			pk_err_ossl(e, "malformed CMP message (%s body)",
			    cmp_body_name(tag));
		else
			pk_err_ossl(e, "malformed CMP message");
		goto out;
	}
	if (r == -3) {
		pk_err_set(e, "malformed CMP message: %s", de.msg);
		goto out;
	}
	/* STYLE.md: all input must be consumed */
	if (p != der + len) {
		pk_err_set(e, "malformed CMP message: %zu trailing bytes",
		    len - (size_t)(p - der));
		goto out;
	}
	if (!cmp_body_supported(m->body->type)) {
		pk_err_set(e, "unsupported body type %s (%d)",
		    cmp_body_name(m->body->type), m->body->type);
		goto out;
	}
	/* RFC 4210 5.1.1: pvno 2 (cmp2000); RFC 9480 2.20: 3 (cmp2021) differs only
	 * in the version; pvno 1 is let through on error bodies (PEERS.md) */
	pvno = ASN1_INTEGER_get(m->header->pvno);
	if (!(pvno == 2 || pvno == 3 ||
	    (pvno == 1 && m->body->type == CMP_BODY_ERROR))) {
		pk_err_set(e, "RFC 4210 5.1.1: unsupported pvno %ld", pvno);
		goto out;
	}
	if (check_certs(m->extraCerts, "extraCerts", e) != 0 ||
	    check_body_certs(m->body, e) != 0)
		goto out;
	/* a fresh encoding of the values gives the same bytes (as
	 * cmp_msg_is_der, on the message itself: no second decode) */
	if ((flags & CMP_DECODE_DER) && !encodes_as(m, der, len)) {
		pk_err_set(e, "RFC 6712 3.3: the message is not DER (X.690 10): its "
		    "values are not in their canonical encoding");
		goto out;
	}
	*out = m;
	m = NULL;
	rc = 0;
out:
	CMP_PKIMESSAGE_free(m);
	ERR_clear_error();
	return rc;
}

int
cmp_msg_encode(const CMP_PKIMESSAGE *m, unsigned char **der, size_t *len,
    struct pk_err *e)
{
	int n;

	*der = NULL;
	*len = 0;
	if (m == NULL)
		return pk_err_set(e, "no message to encode");
	n = i2d_CMP_PKIMESSAGE(m, der);
	if (n <= 0) {
		*der = NULL;
		return pk_err_ossl(e, "cannot encode the CMP message");
	}
	*len = (size_t)n;
	return 0;
}

void
cmp_msg_touch(CMP_PKIMESSAGE *m)
{
	if (m != NULL)
		m->enc.modified = 1;
}

int
cmp_msg_protected_part(const CMP_PKIMESSAGE *m, unsigned char **der,
    size_t *len, struct pk_err *e)
{
	unsigned char *msg = NULL;
	const unsigned char *p;
	size_t mlen;
	CMP_MSG_RAW *raw = NULL;
	CMP_PROTPART_RAW pp;
	int n, rc = -1;

	*der = NULL;
	*len = 0;
	if (cmp_msg_encode(m, &msg, &mlen, e) != 0)
		goto out;
	p = msg;
	raw = d2i_CMP_MSG_RAW(NULL, &p, (long)mlen);
	if (raw == NULL) {
		pk_err_ossl(e, "cannot split the CMP message into header and body");
		goto out;
	}
	pp.header = raw->header;
	pp.body = raw->body;
	n = i2d_CMP_PROTPART_RAW(&pp, der);
	if (n <= 0) {
		*der = NULL;
		pk_err_ossl(e, "cannot encode ProtectedPart");
		goto out;
	}
	*len = (size_t)n;
	rc = 0;
out:
	OPENSSL_free(msg);
	CMP_MSG_RAW_free(raw);
	return rc;
}

int
cmp_msg_is_der(const CMP_PKIMESSAGE *m)
{
	unsigned char *rx = NULL, *fresh = NULL;
	const unsigned char *p;
	CMP_PKIMESSAGE *copy = NULL;
	int nr, nf, same = 0;

	/* the received (or built) bytes, then a fresh encoding of the same values */
	if ((nr = i2d_CMP_PKIMESSAGE(m, &rx)) <= 0)
		goto out;
	p = rx;
	if ((copy = d2i_CMP_PKIMESSAGE(NULL, &p, nr)) == NULL)
		goto out;
	cmp_msg_touch(copy);
	if ((nf = i2d_CMP_PKIMESSAGE(copy, &fresh)) <= 0)
		goto out;
	same = nf == nr && memcmp(rx, fresh, (size_t)nr) == 0;
out:
	OPENSSL_free(rx);
	OPENSSL_free(fresh);
	CMP_PKIMESSAGE_free(copy);
	ERR_clear_error();
	return same;
}
