/*
 * Check suite for device/session.c through device.h only, without the console:
 * a request that goes out and fails is counted and the counters survive a restart
 * (the store's statistics file) and the session's removal; a request that lacks
 * configuration says what is missing, in the console's order, and is not counted;
 * progress comes as events; the entity and key pair of a configured session are
 * "in use"; polling stop only when a transaction waits; the checks of CA names
 * and URLs; CR and KUR signed in a session whose IR uses MAC; the authentication
 * certificate found among the imported local certificates once its file is gone;
 * a KUR with an expired or not yet valid certificate refused before anything is
 * sent (on an injected clock).
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
static struct device *d;
static struct sbuf events;

static void
on_event(void *arg, const struct device_event *ev)
{
	(void)arg;
	sbuf_printf(&events, "%d %s %s\n", ev->kind, ev->session ? ev->session : "-",
	    ev->text ? ev->text : "-");
}

/* The injected clock of open_device_at (ms since the epoch). */
static int64_t fake_now;

static int64_t
fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

static void
open_device_ops(const struct device_ops *ops)
{
	struct pk_err e;

	ck_assert_int_eq(storage_open(&st, dir, &e), 0);
	ck_assert_int_eq(pki_open(&p, st, &e), 0);
	ck_assert_int_eq(device_new(&d, st, p, ops, &e), 0);
	device_set_event_fn(d, on_event, NULL);
}

static void
open_device(void)
{
	open_device_ops(NULL);
}

static void
close_device(void)
{
	device_free(d);
	pki_close(p);
	storage_close(st);
	d = NULL;
	p = NULL;
	st = NULL;
}

static void
setup(void)
{
	struct pk_err e;

	dir = tu_tmpdir();
	ck_assert_ptr_nonnull(dir);
	sbuf_init(&events);
	open_device();
	ck_assert_msg(pki_key_create_ec(p, "prime256v1", "k", 0, &e) == 0, "%s", e.msg);
}

static void
teardown(void)
{
	close_device();
	sbuf_free(&events);
	tu_rmrf(dir);
	free(dir);
}

/* Session NAME for an IR with MAC to a port nobody listens on. */
static void
configure(const char *name, char **sealed)
{
	struct device_session_cfg cfg;
	struct pki_entity ent;
	struct pk_err e;

	memset(&ent, 0, sizeof(ent));
	ent.name = "dev";
	ent.common_name = "dev.example.com";
	device_entity_set(d, &ent);
	free(*sealed);
	ck_assert_int_eq(storage_seal(st, "s3cr3t", sealed, &e), 0);
	device_session_cfg_init(&cfg);
	cfg.name = name;
	cfg.entity = "DEV";		/* names are case-insensitive */
	cfg.url = "http://127.0.0.1:1/pkix/";
	cfg.key = "k";
	cfg.mac_ref = "1234";
	cfg.mac_secret = *sealed;
	cfg.timeout = 5;
	device_session_set(d, &cfg);
}

static void
counts(const char *name, unsigned long sent, unsigned long failed)
{
	struct device_session *s = device_session_find(d, name);
	struct device_session_status status;

	ck_assert_ptr_nonnull(s);
	device_session_status(s, &status);
	ck_assert_uint_eq(status.sent[DEVICE_IR], sent);
	ck_assert_uint_eq(status.failed[DEVICE_IR], failed);
	ck_assert_uint_eq(status.sent[DEVICE_KUR], 0);
}

START_TEST(failed_request_counted_and_kept)
{
	struct device_result r;
	struct device_session_status status;
	struct pk_err e;
	char *sealed = NULL;

	configure("S1", &sealed);
	ck_assert_int_eq(device_request(d, "s1", DEVICE_IR, NULL, NULL, &r, &e), -1);
	ck_assert(r.sent);
	ck_assert_ptr_nonnull(strstr(e.msg, "cannot connect to 127.0.0.1:1"));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&events), "Sending ir to "
	    "http://127.0.0.1:1/pkix/"));
	counts("S1", 1, 1);
	device_session_status(device_session_find(d, "S1"), &status);
	ck_assert_str_eq(status.state, "idle");
	ck_assert_ptr_nonnull(strstr(status.last, "IR failed: cannot connect"));

	/* after a restart the counters are read back from the store */
	close_device();
	open_device();
	configure("s1", &sealed);
	counts("s1", 1, 1);
	/* removing the session keeps its counters for a session of that name */
	device_session_remove(d, "S1");
	ck_assert_ptr_null(device_session_find(d, "S1"));
	ck_assert_uint_eq(device_session_count(d), 0);
	configure("S1", &sealed);
	counts("S1", 1, 1);
	ck_assert_int_eq(device_stats_reset(d, NULL, &e), 0);
	counts("S1", 0, 0);
	close_device();
	open_device();
	configure("S1", &sealed);
	counts("S1", 0, 0);
	free(sealed);
}
END_TEST

START_TEST(missing_configuration_named_not_counted)
{
	struct device_session_cfg cfg;
	struct device_result r;
	struct pk_err e;

	device_session_cfg_init(&cfg);
	cfg.name = "S2";
	device_session_set(d, &cfg);
	ck_assert_int_eq(device_request(d, "S2", DEVICE_IR, NULL, NULL, &r, &e), -1);
	ck_assert(!r.sent);
	ck_assert_str_eq(e.msg, "The CMP session S2 has no server URL configured.");
	cfg.url = "http://ca.example/";
	device_session_set(d, &cfg);
	ck_assert_int_eq(device_request(d, "S2", DEVICE_IR, NULL, NULL, &r, &e), -1);
	ck_assert_str_eq(e.msg, "The CMP session S2 has no entity configured.");
	cfg.entity = "nobody";
	device_session_set(d, &cfg);
	ck_assert_int_eq(device_request(d, "S2", DEVICE_IR, NULL, NULL, &r, &e), -1);
	ck_assert_str_eq(e.msg, "The PKI entity nobody of the CMP session S2 has no "
	    "common-name configured.");
	/* a KUR needs no entity, but a signature */
	cfg.entity = NULL;
	cfg.key = "k";
	device_session_set(d, &cfg);
	/* (origin-authentication-method governs the IR only) */
	ck_assert_int_eq(device_request(d, "S2", DEVICE_KUR, NULL, NULL, &r, &e), -1);
	ck_assert_str_eq(e.msg, "The CMP session S2 has no authentication certificate "
	    "configured (a key update request is signed with it).");
	cfg.auth_cert = "gone.cer";
	device_session_set(d, &cfg);
	ck_assert_int_eq(device_request(d, "S2", DEVICE_KUR, NULL, NULL, &r, &e), -1);
	ck_assert(!r.sent);
	ck_assert_str_eq(e.msg, "The certificate gone.cer is neither an imported local "
	    "certificate nor a file in flash:/pki/public.");
	ck_assert_int_eq(device_request(d, "nope", DEVICE_IR, NULL, NULL, &r, &e), -1);
	ck_assert_str_eq(e.msg, "The CMP session nope does not exist.");
	counts("S2", 0, 0);
	ck_assert_str_eq(sbuf_str(&events), "");	/* nothing went out */
}
END_TEST

START_TEST(entity_and_key_in_use)
{
	struct pk_err e;
	char *sealed = NULL;

	configure("S3", &sealed);
	ck_assert_str_eq(device_entity_user(d, "Dev"), "S3");
	ck_assert_ptr_nonnull(device_entity_find(d, "DEV"));
	ck_assert_int_eq(pki_key_destroy(p, PKI_KEY_EC, "k", &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "in use"));
	device_session_remove(d, "s3");
	ck_assert_ptr_null(device_entity_user(d, "dev"));
	ck_assert_int_eq(pki_key_destroy(p, PKI_KEY_EC, "k", &e), 0);
	device_entity_remove(d, "dev");
	ck_assert_ptr_null(device_entity_find(d, "dev"));
	free(sealed);
}
END_TEST

START_TEST(stop_only_while_waiting)
{
	char *sealed = NULL;

	configure("S4", &sealed);
	ck_assert_int_eq(device_session_stop(d, "S4"), 0);	/* idle */
	ck_assert_int_eq(device_session_stop(d, "none"), -1);
	ck_assert(!device_session_busy(d, "S4"));
	free(sealed);
}
END_TEST

START_TEST(names_and_urls_checked)
{
	struct pk_err e;

	ck_assert(device_ca_name_ok("C=CN,O=Example,CN=CA", &e));
	ck_assert(device_ca_name_ok("/C=CN/O=Example/CN=CA", &e));
	ck_assert(!device_ca_name_ok("not a dn", &e));
	ck_assert_str_eq(e.msg, "The CA name is not valid: \"not a dn\" is not an "
	    "attribute=value pair.");
	ck_assert(!device_ca_name_ok("XX=1", &e));
	ck_assert(device_url_ok("http://ca/pkix/\\x3fa=1", 1, &e));
	ck_assert(!device_url_ok("http://ca/a b", 0, &e));
	ck_assert_str_eq(e.msg, "The URL is not valid.");
	ck_assert_str_eq(device_req_name(DEVICE_KUR), "KUR");
	ck_assert_str_eq(device_req_action(DEVICE_IR), "initial-request");
}
END_TEST

/* A certificate for key pair "k" valid from NOW-60 s to NOW+3600 s, written to
 * flash:/pki/public/FILE and imported as a local certificate, then the file is
 * deleted (what the console's import offers to do). *nb and *na: its validity. */
static void
imported_cert_without_file(const char *file, time_t *nb, time_t *na)
{
	EVP_PKEY *key = pki_key_get0_pkey(p, "k");
	X509 *x = X509_new();
	struct pki_cert_info info;
	struct pk_err e;
	char *path = storage_path(storage_public_dir(st), file);
	FILE *f;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 9);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"dev.example.com", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	ck_assert(X509_sign(x, key, EVP_sha256()) > 0);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	ck_assert(PEM_write_X509(f, x));
	fclose(f);
	ck_assert_int_eq(pk_asn1_time(X509_get0_notBefore(x), nb), 0);
	ck_assert_int_eq(pk_asn1_time(X509_get0_notAfter(x), na), 0);
	ck_assert_msg(pki_cert_import(p, PKI_CERT_LOCAL, NULL, PKI_FMT_AUTO, file, NULL,
	    &info, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(unlink(path), 0);
	free(path);
	X509_free(x);
}

/* The vendor's example: an IR with MAC, then CR and KUR signed with the imported
 * certificate whose file was deleted; a KUR with a certificate that is not valid
 * at the device's time is refused before anything goes out. */
START_TEST(signed_requests_with_imported_certificate)
{
	struct device_ops ops = { .now = fake_clock };
	struct device_result r;
	struct pki_cert_info info;
	struct device_session_cfg cfg;
	struct pk_err e;
	char *sealed = NULL, *saved;
	time_t nb, na, vb, va;

	imported_cert_without_file("dev_ir.cer", &nb, &na);
	configure("V", &sealed);
	/* the session stays MAC for its IR: CR and KUR are signed anyway */
	cfg = *device_session_cfg(device_session_find(d, "V"));
	saved = xstrdup(cfg.mac_secret);
	cfg.mac_secret = saved;
	cfg.auth_cert = "dev_ir.cer";
	device_session_set(d, &cfg);
	ck_assert_msg(device_auth_cert_info(d, "dev_ir.cer", &info, &e) == 0, "%s",
	    e.msg);
	ck_assert_str_eq(info.key_name, "k");
	ck_assert_int_eq(device_cert_validity(d, "dev_ir.cer", &vb, &va, &e), 0);
	ck_assert(vb == nb && va == na);
	/* found without its file: the request goes out (to a closed port) */
	ck_assert_int_eq(device_request(d, "V", DEVICE_KUR, NULL, NULL, &r, &e), -1);
	ck_assert(r.sent);
	ck_assert_ptr_nonnull(strstr(e.msg, "cannot connect to 127.0.0.1:1"));
	ck_assert_int_eq(device_request(d, "V", DEVICE_CR, NULL, NULL, &r, &e), -1);
	ck_assert(r.sent);
	ck_assert_ptr_nonnull(strstr(sbuf_str(&events), "Sending kur to "));
	ck_assert_ptr_nonnull(strstr(sbuf_str(&events), "Sending cr to "));
	close_device();

	/* the same store on a device whose clock is past notAfter, then before
	 * notBefore: refused locally with the reason, nothing sent or counted */
	open_device_ops(&ops);
	sbuf_reset(&events);
	configure("V", &sealed);
	cfg = *device_session_cfg(device_session_find(d, "V"));
	free(saved);
	saved = xstrdup(cfg.mac_secret);
	cfg.mac_secret = saved;
	cfg.auth_cert = "dev_ir.cer";
	fake_now = ((int64_t)na + 1) * 1000;
	device_session_set(d, &cfg);
	ck_assert_int_eq(device_request(d, "V", DEVICE_KUR, NULL, NULL, &r, &e), -1);
	ck_assert(!r.sent);
	ck_assert_msg(strstr(e.msg, "The authentication certificate dev_ir.cer of the "
	    "CMP session V expired at ") != NULL, "%s", e.msg);
	fake_now = ((int64_t)nb - 10) * 1000;
	ck_assert_int_eq(device_request(d, "V", DEVICE_KUR, NULL, NULL, &r, &e), -1);
	ck_assert(!r.sent);
	ck_assert_msg(strstr(e.msg, "is not valid before ") != NULL, "%s", e.msg);
	ck_assert_str_eq(sbuf_str(&events), "");
	{
		struct device_session_status status;

		device_session_status(device_session_find(d, "V"), &status);
		ck_assert_uint_eq(status.sent[DEVICE_KUR], 1);	/* the first device's */
		ck_assert_uint_eq(status.failed[DEVICE_KUR], 1);
	}
	free(saved);
	free(sealed);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("device_session");
	TCase *tc = tcase_create("sessions");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, failed_request_counted_and_kept);
	tcase_add_test(tc, missing_configuration_named_not_counted);
	tcase_add_test(tc, entity_and_key_in_use);
	tcase_add_test(tc, stop_only_while_waiting);
	tcase_add_test(tc, names_and_urls_checked);
	tcase_add_test(tc, signed_requests_with_imported_certificate);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
