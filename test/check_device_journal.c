/*
 * Check suite for device/enrol.c's update journal: a certificate update interrupted
 * by a crash (journal written, not yet applied) is completed at the next start;
 * a corrupt journal is reported and kept, and changes nothing.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../device/device.h"
#include "../storage/storage.h"
#include "testutil.h"

static char *dir;
static struct storage *st;
static struct pki *p;

static void
setup(void)
{
	struct pk_err e;

	dir = tu_tmpdir();
	ck_assert_int_eq(storage_open(&st, dir, &e), 0);
	ck_assert_int_eq(pki_open(&p, st, &e), 0);
	ck_assert_msg(pki_key_create_ec(p, "prime256v1", "k", 0, &e) == 0, "%s", e.msg);
}

static void
teardown(void)
{
	pki_close(p);
	storage_close(st);
	tu_rmrf(dir);
	free(dir);
}

static X509 *
self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"updated", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_sign(x, key, EVP_sha256());
	return x;
}

/* The journal exactly as enrol_finish() writes it before applying it. */
static char *
write_journal(const char *session, const char *body, size_t len)
{
	char *hex = pk_hex((const unsigned char *)session, strlen(session), 0);
	char name[300], *path;

	snprintf(name, sizeof(name), "cmp-pending-%s", hex);
	free(hex);
	path = storage_path(storage_store_dir(st), name);
	ck_assert_int_eq(tu_write(path, body, len), 0);
	return path;
}

START_TEST(interrupted_update_completed)
{
	EVP_PKEY *newkey = EVP_EC_gen("P-256");
	X509 *cert = self_signed(newkey);
	BIO *b = BIO_new(BIO_s_mem());
	struct sbuf rep = SBUF_INIT;
	char *data, *path;
	long len;
	X509 *got;
	struct pk_err e;

	BIO_printf(b, "file: S_ir.cer\nkey: k\nlocal: 0\n");
	PEM_write_bio_X509(b, cert);
	PEM_write_bio_PrivateKey(b, newkey, NULL, NULL, 0, NULL, NULL);
	len = BIO_get_mem_data(b, &data);
	path = write_journal("S", data, (size_t)len);
	ck_assert(!EVP_PKEY_eq(pki_key_get0_pkey(p, "k"), newkey));

	ck_assert_int_eq(device_journal_recover(p, st, &rep), 0);
	ck_assert_ptr_nonnull(strstr(sbuf_str(&rep), "completed the interrupted "
	    "certificate update of the CMP session S"));
	ck_assert(EVP_PKEY_eq(pki_key_get0_pkey(p, "k"), newkey) == 1);
	ck_assert_int_eq(pki_cert_load_file(p, PKI_FMT_AUTO, "S_ir.cer", &got, &e), 0);
	ck_assert_int_eq(X509_cmp(got, cert), 0);
	ck_assert_int_ne(access(path, F_OK), 0);	/* journal gone */
	/* the key stays replaced after a restart */
	pki_close(p);
	ck_assert_int_eq(pki_open(&p, st, &e), 0);
	ck_assert(EVP_PKEY_eq(pki_key_get0_pkey(p, "k"), newkey) == 1);
	X509_free(got);
	free(path);
	sbuf_free(&rep);
	BIO_free(b);
	X509_free(cert);
	EVP_PKEY_free(newkey);
}
END_TEST

START_TEST(corrupt_journal_kept_and_reported)
{
	EVP_PKEY *before = pki_key_get0_pkey(p, "k");
	struct sbuf rep = SBUF_INIT;
	const char *junk = "file: S_ir.cer\nkey: k\nlocal: 0\n-----BEGIN CERTIFICATE-----\nAAAA\n";
	char *path = write_journal("S", junk, strlen(junk));
	char *cert = storage_path(storage_public_dir(st), "S_ir.cer");

	EVP_PKEY_up_ref(before);
	ck_assert_int_eq(device_journal_recover(p, st, &rep), -1);
	ck_assert_ptr_nonnull(strstr(sbuf_str(&rep), "cannot complete"));
	ck_assert_int_eq(access(path, F_OK), 0);	/* kept for the next start */
	ck_assert_int_ne(access(cert, F_OK), 0);	/* nothing written */
	ck_assert(EVP_PKEY_eq(pki_key_get0_pkey(p, "k"), before) == 1);
	EVP_PKEY_free(before);
	free(cert);
	free(path);
	sbuf_free(&rep);
}
END_TEST

START_TEST(journal_cannot_escape_public)
{
	struct sbuf rep = SBUF_INIT;
	const char *junk = "file: ../../etc/x\nlocal: 0\n";
	char *path = write_journal("S", junk, strlen(junk));

	ck_assert_int_eq(device_journal_recover(p, st, &rep), -1);
	ck_assert_ptr_nonnull(strstr(sbuf_str(&rep), "corrupt"));
	free(path);
	sbuf_free(&rep);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("device_journal");
	TCase *tc = tcase_create("journal");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, interrupted_update_completed);
	tcase_add_test(tc, corrupt_journal_kept_and_reported);
	tcase_add_test(tc, journal_cannot_escape_public);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
