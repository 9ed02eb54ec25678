/*
 * cmp: the CMPv2 engine (RFC 4210/4211, HTTP transfer RFC 6712).
 *
 * Sections of this header, each owned by one part of the module:
 *   1. Messages: ASN.1 types, strict decoding, protection, builders (cmp_asn1.c,
 *      cmp_protect.c, cmp_msg.c).
 *   2. CA responder core (cmp_server.c, ca_db.c, ca_issue.c).
 *   3. Client transactions and transport (cmp_client.c, cmp_http.c).
 *
 * Conventions: 0 success, -1 failure with struct pk_err filled (util/util.h).
 * This module never prints.
 */
#ifndef PKISH_CMP_H
#define PKISH_CMP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/asn1t.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../util/util.h"

/* ==== 1. Messages ==================================================== */

/* ==== end of 1. Messages ============================================= */

/* ==== 2. CA responder core =========================================== */

/* ==== end of 2. CA responder core ==================================== */

/* ==== 3. Client transactions and transport ========================== */

/* ==== end of 3. Client =============================================== */

#endif
