/*
 * tu_cmp: CMP helpers for test peers (the hostile CA of check_cmp_client, the
 * fault-injecting proxy faultsrv): what a misbehaving peer does that the
 * engine refuses to do. Test-only code.
 */
#ifndef PKISH_TU_CMP_H
#define PKISH_TU_CMP_H

#include "../cmp/cmp.h"

/* PasswordBasedMac protection of M with SECRET, ITER iterations and a
 * SALT_LEN-byte salt (SHA-256 OWF, HMAC-SHA256; RFC 4210 5.1.3.1), whatever the
 * engine's limits. 0 or -1. */
int tu_pbm_protect(CMP_PKIMESSAGE *m, const char *secret, long iter,
    int salt_len);

#endif
