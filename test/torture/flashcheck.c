/*
 * flashcheck: the device-side invariants of the torture suite (test/torture),
 * checked on a flash directory after pkish was killed and restarted. It reads
 * the files itself with OpenSSL, not through pkish's modules, so a bug there
 * cannot hide here.
 *
 *   flashcheck FLASH [--pair CERT KEY]...
 *
 * Problems (each printed as "flashcheck: PROBLEM: ..."):
 *   - FLASH/pki/.store is not a directory of mode 0700, or a file in it is not
 *     a regular file of mode 0600;
 *   - a key pair file (key-*.pem) whose private key does not parse, or a store
 *     certificate (cert-*.pem) that does not parse, or a certificate file of
 *     flash:/pki/public (*.cer) that does not parse (PEM or DER);
 *   - an update journal (cmp-pending-*) still there (after a start, pkish has
 *     applied it);
 *   - --pair: pki/public/CERT does not hold the public key of the key pair KEY
 *     (the store file key-<hex(lower(KEY))>.pem), or the store's imported copy
 *     of CERT (a local certificate of that file name) differs from the file.
 * For each pair it prints "flashcheck: PAIR CERT notafter=SECONDS" (the end of the
 * certificate's validity, Unix time).
 * Temporary files of interrupted atomic writes (names with ".tmp") are listed
 * apart ("flashcheck: TEMP: ...") and counted, not problems: what becomes of
 * them is the storage module's decision (see the torture report).
 *
 * Last line: "flashcheck: keys=N certs=N public=N temp=N problems=N".
 * Exit status: 0 no problem, 1 problems, 2 usage.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define MAX_FILE (1024 * 1024)

static int problems, ntemp, nkeys, ncerts, npublic;

/* "A/B" in a new string. */
static char *
join(const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		abort();
	return p;
}

static void
problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
problem(const char *fmt, ...)
{
	va_list ap;

	fputs("flashcheck: PROBLEM: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	problems++;
}

/* The whole file (at most MAX_FILE bytes) into a memory BIO; NULL when it cannot
 * be read. */
static BIO *
read_bio(const char *path)
{
	FILE *f = fopen(path, "rb");
	static unsigned char buf[MAX_FILE];
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	/* read-only over BUF: used and freed before the next read */
	return BIO_new_mem_buf(buf, (int)n);
}

static EVP_PKEY *
load_key(const char *path)
{
	BIO *b = read_bio(path);
	EVP_PKEY *k = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) :
	    NULL;

	BIO_free(b);
	ERR_clear_error();
	return k;
}

/* PEM (after any header lines), else DER. */
static X509 *
load_cert(const char *path)
{
	BIO *b = read_bio(path);
	X509 *x = NULL;

	if (b == NULL)
		return NULL;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (x == NULL) {
		(void)BIO_reset(b);
		x = d2i_X509_bio(b, NULL);
	}
	BIO_free(b);
	ERR_clear_error();
	return x;
}

static int
is_temp(const char *name)
{
	return strstr(name, ".tmp") != NULL;
}

/* Lists temporary files of DIR (not recursive). */
static void
temps_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (is_temp(de->d_name)) {
			printf("flashcheck: TEMP: %s/%s\n", dir, de->d_name);
			ntemp++;
		}
	closedir(d);
}

static void
check_store(const char *store)
{
	struct stat sb;
	struct dirent *de;
	DIR *d;
	char *path;

	if (stat(store, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		problem("%s is not a directory", store);
		return;
	}
	if ((sb.st_mode & 07777) != 0700)
		problem("%s has mode %04o, not 0700", store, sb.st_mode & 07777);
	if ((d = opendir(store)) == NULL) {
		problem("cannot list %s: %s", store, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;

		if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || is_temp(n))
			continue;
		path = join(store, n);
		if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
			problem("%s is not a regular file", path);
			free(path);
			continue;
		}
		if ((sb.st_mode & 07777) != 0600)
			problem("%s has mode %04o, not 0600", path,
			    sb.st_mode & 07777);
		if (strncmp(n, "key-", 4) == 0) {
			EVP_PKEY *k = load_key(path);

			if (k == NULL)
				problem("the key pair file %s does not parse", path);
			EVP_PKEY_free(k);
			nkeys++;
		} else if (strncmp(n, "cert-", 5) == 0) {
			X509 *x = load_cert(path);

			if (x == NULL)
				problem("the certificate file %s does not parse", path);
			X509_free(x);
			ncerts++;
		} else if (strncmp(n, "cmp-pending-", 12) == 0) {
			problem("the update journal %s is still there after a start",
			    path);
		}
		free(path);
	}
	closedir(d);
}

static void
check_public(const char *pub)
{
	DIR *d = opendir(pub);
	struct dirent *de;
	char *path;

	if (d == NULL) {
		problem("cannot list %s: %s", pub, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		X509 *x;

		if (l < 5 || strcmp(de->d_name + l - 4, ".cer") != 0 ||
		    is_temp(de->d_name))
			continue;
		path = join(pub, de->d_name);
		if ((x = load_cert(path)) == NULL)
			problem("the certificate file %s does not parse", path);
		X509_free(x);
		free(path);
		npublic++;
	}
	closedir(d);
}

/* The store file of key pair NAME: key-<hex(lower(NAME))>.pem (new string). */
static char *
key_path(const char *store, const char *name)
{
	size_t n = strlen(name), k = 0;
	char *base = malloc(2 * n + 9), *p;

	if (base == NULL)
		abort();
	k = (size_t)sprintf(base, "key-");
	for (size_t i = 0; i < n; i++)
		k += (size_t)sprintf(base + k, "%02x", tolower((unsigned char)name[i]));
	strcpy(base + k, ".pem");
	p = join(store, base);
	free(base);
	return p;
}

/* The store file of the local certificate NAME: cert-local-<sha256hex>.pem. */
static char *
local_cert_path(const char *store, const char *name)
{
	unsigned char md[32];
	char base[80];
	size_t k;

	EVP_Digest(name, strlen(name), md, NULL, EVP_sha256(), NULL);
	k = (size_t)sprintf(base, "cert-local-");
	for (int i = 0; i < 32; i++)
		k += (size_t)sprintf(base + k, "%02x", md[i]);
	strcpy(base + k, ".pem");
	return join(store, base);
}

static void
check_pair(const char *pub, const char *store, const char *cert, const char *key)
{
	char *cpath = join(pub, cert), *kpath = key_path(store, key);
	char *lpath = local_cert_path(store, cert);
	X509 *x = load_cert(cpath), *l;
	EVP_PKEY *k = load_key(kpath);

	if (x == NULL)
		problem("the session's certificate %s is missing or does not parse",
		    cpath);
	if (k == NULL)
		problem("the session's key pair %s (%s) is missing or does not parse",
		    key, kpath);
	if (x != NULL && k != NULL && EVP_PKEY_eq(X509_get0_pubkey(x), k) != 1)
		problem("the session's certificate %s does not hold the public key "
		    "of its key pair %s", cpath, key);
	if (x != NULL) {
		struct tm tm;

		if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
			printf("flashcheck: PAIR %s notafter=%lld\n", cert,
			    (long long)timegm(&tm));
	}
	if (x != NULL && (l = load_cert(lpath)) != NULL) {
		if (X509_cmp(x, l) != 0)
			problem("the imported local certificate %s differs from the "
			    "file %s", lpath, cpath);
		X509_free(l);
	}
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(k);
	free(cpath);
	free(kpath);
	free(lpath);
}

int
main(int argc, char **argv)
{
	char *store, *pub, *pki;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: flashcheck FLASH [--pair CERT KEY]...\n");
		return 2;
	}
	pki = join(argv[1], "pki");
	store = join(pki, ".store");
	pub = join(pki, "public");
	check_store(store);
	check_public(pub);
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--pair") == 0 && i + 2 < argc) {
			check_pair(pub, store, argv[i + 1], argv[i + 2]);
			i += 2;
		} else {
			fprintf(stderr, "flashcheck: unexpected argument %s\n", argv[i]);
			return 2;
		}
	}
	temps_in(argv[1]);
	temps_in(pki);
	temps_in(pub);
	temps_in(store);
	printf("flashcheck: keys=%d certs=%d public=%d temp=%d problems=%d\n", nkeys,
	    ncerts, npublic, ntemp, problems);
	free(pki);
	free(store);
	free(pub);
	return problems ? 1 : 0;
}
