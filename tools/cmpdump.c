/*
 * cmpdump: prints a readable decode of CMP messages (DER files) and, given the
 * shared secret or the signer's certificate, whether their protection verifies.
 *
 *   cmpdump [--secret S] [--cert FILE] FILE.der...
 *   cmpdump --help | --version
 *
 * Exit status: 0 every message decoded and its protection verified or was not
 * checked (no matching --secret/--cert, or an unsupported algorithm such as
 * PBMAC1); 1 some protection did not verify (or was absent when asked to check);
 * 2 some file could not be read or decoded. Operators use it to see why a CA
 * refuses them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "../cmp/cmp.h"

#ifndef PKISH_VERSION
#error "PKISH_VERSION comes from the Makefile (the file VERSION)"
#endif

static void
usage(FILE *f)
{
	fputs("usage: cmpdump [--secret S] [--cert FILE] FILE.der...\n"
	    "       cmpdump --help | --version\n", f);
}

static void
help(void)
{
	usage(stdout);
	fputs("  --secret S   check MAC (PBM) protection with this shared secret\n"
	    "  --cert FILE  check signature protection with this certificate (PEM or\n"
	    "               DER)\n"
	    "Exit status: 0 decoded, protection verified or not checked; 1 protection\n"
	    "not verified; 2 a file could not be read or decoded.\n", stdout);
}

static X509 *
load_cert(const char *path)
{
	FILE *f = fopen(path, "rb");
	X509 *x = NULL;

	if (f == NULL)
		return NULL;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	if (x == NULL) {
		rewind(f);
		x = d2i_X509_fp(f, NULL);
	}
	fclose(f);
	ERR_clear_error();
	return x;
}

/* Reads at most CMP_MSG_MAX_SIZE + 1 bytes so that the decoder sees "too large". */
static unsigned char *
load_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = CMP_MSG_MAX_SIZE + 1, n;
	unsigned char *buf;

	if (f == NULL)
		return NULL;
	buf = xmalloc(cap);
	n = fread(buf, 1, cap, f);
	if (ferror(f)) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

/* 0 verified or not checked, 1 failed. Appends the verdict line. */
static int
check(const CMP_PKIMESSAGE *m, const char *secret, X509 *cert, struct sbuf *out)
{
	static const struct cmp_pbm_limits any = { 1, CMP_PBM_MAX_ITER, 1 };
	struct pk_err e;
	int kind = cmp_msg_protection_kind(m);

	if (secret == NULL && cert == NULL) {
		sbuf_puts(out, "protection check: not checked (no --secret or "
		    "--cert)\n");
		return 0;
	}
	switch (kind) {
	case CMP_PROT_NONE:
		sbuf_puts(out, "protection check: FAILED: message is not "
		    "protected\n");
		return 1;
	case CMP_PROT_PBMAC1:
		sbuf_puts(out, "protection check: not checked: unsupported "
		    "protection algorithm PBMAC1 (RFC 9481)\n");
		return 0;
	case CMP_PROT_PBM:
		if (secret == NULL) {
			sbuf_puts(out, "protection check: not checked (MAC-protected, "
			    "no --secret)\n");
			return 0;
		}
		/* a dump reports what the MAC says whatever its parameters
		 * (the protection line above shows them) */
		if (cmp_msg_verify_pbm(m, secret, strlen(secret), &any, &e) != 0) {
			sbuf_printf(out, "protection check: FAILED: %s\n", e.msg);
			return 1;
		}
		sbuf_puts(out, "protection check: OK (PBM with the given secret)\n");
		return 0;
	case CMP_PROT_SIG:
		if (cert == NULL) {
			sbuf_puts(out, "protection check: not checked (signed, no "
			    "--cert)\n");
			return 0;
		}
		if (cmp_msg_verify_sig(m, cert, &e) != 0) {
			sbuf_printf(out, "protection check: FAILED: %s\n", e.msg);
			return 1;
		}
		sbuf_puts(out, "protection check: OK (signature by the given "
		    "certificate)\n");
		return 0;
	default:
		sbuf_puts(out, "protection check: FAILED: unknown protection "
		    "algorithm\n");
		return 1;
	}
}

int
main(int argc, char **argv)
{
	const char *secret = NULL, *certfile = NULL;
	X509 *cert = NULL;
	int i, rc = 0, r;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--secret") == 0 && i + 1 < argc)
			secret = argv[++i];
		else if (strcmp(argv[i], "--cert") == 0 && i + 1 < argc)
			certfile = argv[++i];
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			help();
			return 0;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("cmpdump (pkish) %s\n", PKISH_VERSION);
			return 0;
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			usage(stderr);
			return 2;
		} else
			break;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (certfile != NULL && (cert = load_cert(certfile)) == NULL) {
		fprintf(stderr, "cmpdump: cannot read certificate %s\n", certfile);
		return 2;
	}
	for (; i < argc; i++) {
		struct sbuf out = SBUF_INIT;
		CMP_PKIMESSAGE *m = NULL;
		struct pk_err e;
		unsigned char *der;
		size_t len = 0;

		sbuf_printf(&out, "== %s\n", argv[i]);
		if ((der = load_file(argv[i], &len)) == NULL) {
			sbuf_puts(&out, "error: cannot read the file\n");
			r = 2;
		} else if (cmp_msg_decode(der, len, &m, &e) != 0) {
			sbuf_printf(&out, "error: cannot decode: %s\n", e.msg);
			r = 2;
		} else {
			cmp_msg_dump(m, &out);
			r = check(m, secret, cert, &out);
		}
		fputs(sbuf_str(&out), stdout);
		sbuf_free(&out);
		CMP_PKIMESSAGE_free(m);
		free(der);
		if (r > rc)
			rc = r;
	}
	X509_free(cert);
	return rc;
}
