/*
 * tu_cmp: CMP helpers for test peers (tu_cmp.h).
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tu_cmp.h"

int
tu_pbm_protect(CMP_PKIMESSAGE *m, const char *secret, long iter, int salt_len)
{
	CMP_PBMPARAMETER *p = CMP_PBMPARAMETER_new();
	unsigned char s[128], key[EVP_MAX_MD_SIZE], mac[EVP_MAX_MD_SIZE];
	unsigned char *pp = NULL;
	unsigned int klen = 0, mlen = 0;
	size_t pplen;
	ASN1_STRING *ps = NULL;
	X509_ALGOR *a = X509_ALGOR_new();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	struct pk_err e;
	int rc = -1;

	if (p == NULL || a == NULL || ctx == NULL || salt_len < 0 ||
	    salt_len > (int)sizeof(s))
		goto out;
	memset(s, 0x5a, sizeof(s));
	if (!ASN1_OCTET_STRING_set(p->salt, s, salt_len) ||
	    !X509_ALGOR_set0(p->owf, OBJ_nid2obj(NID_sha256), V_ASN1_UNDEF, NULL) ||
	    !X509_ALGOR_set0(p->mac, OBJ_nid2obj(NID_hmacWithSHA256), V_ASN1_UNDEF,
	    NULL) || !ASN1_INTEGER_set(p->iterationCount, iter) ||
	    ASN1_item_pack(p, ASN1_ITEM_rptr(CMP_PBMPARAMETER), &ps) == NULL ||
	    !X509_ALGOR_set0(a, OBJ_nid2obj(NID_id_PasswordBasedMAC),
	    V_ASN1_SEQUENCE, ps))
		goto out;
	ps = NULL;
	X509_ALGOR_free(m->header->protectionAlg);
	m->header->protectionAlg = a;
	a = NULL;
	cmp_msg_touch(m);
	if (cmp_msg_protected_part(m, &pp, &pplen, &e) != 0)
		goto out;
	/* RFC 4210 5.1.3.1: BASEKEY = OWF^iter(secret || salt) */
	if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, secret, strlen(secret)) ||
	    !EVP_DigestUpdate(ctx, s, (size_t)salt_len) ||
	    !EVP_DigestFinal_ex(ctx, key, &klen))
		goto out;
	for (long i = 1; i < iter; i++)
		if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
		    !EVP_DigestUpdate(ctx, key, klen) ||
		    !EVP_DigestFinal_ex(ctx, key, &klen))
			goto out;
	if (HMAC(EVP_sha256(), key, (int)klen, pp, pplen, mac, &mlen) == NULL)
		goto out;
	if (m->protection == NULL && (m->protection = ASN1_BIT_STRING_new()) ==
	    NULL)
		goto out;
	if (!ASN1_BIT_STRING_set(m->protection, mac, (int)mlen))
		goto out;
	m->protection->flags &= ~0x07L;
	m->protection->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	cmp_msg_touch(m);
	rc = 0;
out:
	OPENSSL_free(pp);
	ASN1_STRING_free(ps);
	X509_ALGOR_free(a);
	EVP_MD_CTX_free(ctx);
	CMP_PBMPARAMETER_free(p);
	return rc;
}
