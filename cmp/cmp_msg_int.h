/*
 * cmp_msg_int: private to the message layer (cmp_asn1.c, cmp_protect.c,
 * cmp_msg.c, cmp_build.c, cmp_dump.c). Not part of the module interface.
 */
#ifndef PKISH_CMP_MSG_INT_H
#define PKISH_CMP_MSG_INT_H

#include "cmp.h"

/* PKIMessage with header and body as uninterpreted TLVs. */
typedef struct cmp_msg_raw_st {
	ASN1_TYPE *header;
	ASN1_TYPE *body;
	ASN1_TYPE *protection;
	ASN1_TYPE *extraCerts;
} CMP_MSG_RAW;
/* ProtectedPart (RFC 4210 5.1.3) over raw TLVs and over structures. */
typedef struct cmp_protpart_raw_st {
	ASN1_TYPE *header;
	ASN1_TYPE *body;
} CMP_PROTPART_RAW;
typedef struct cmp_protpart_st {
	CMP_PKIHEADER *header;
	CMP_PKIBODY *body;
} CMP_PROTPART;

DECLARE_ASN1_FUNCTIONS(CMP_MSG_RAW)
DECLARE_ASN1_FUNCTIONS(CMP_PROTPART_RAW)
DECLARE_ASN1_FUNCTIONS(CMP_PROTPART)

/* 1 when OBJ is the dotted OID TEXT. */
int cmp_oid_is(const ASN1_OBJECT *obj, const char *text);
/* Random bytes into a new octet string; NULL on failure. */
ASN1_OCTET_STRING *cmp_random_octets(size_t n);

#endif
