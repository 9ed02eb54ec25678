/*
 * Check suite for device/session.c through device.h only, without the console:
 * a request that goes out and fails is counted and the counters survive a restart
 * (the store's statistics file) and the session's removal; a request that lacks
 * configuration says what is missing, in the console's order, and is not counted;
 * progress comes as events; the entity and key pair of a configured session are
 * "in use"; polling stop only when a transaction waits; the checks of CA names
 * and URLs.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

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

static void
open_device(void)
{
	struct pk_err e;

	ck_assert_int_eq(storage_open(&st, dir, &e), 0);
	ck_assert_int_eq(pki_open(&p, st, &e), 0);
	ck_assert_int_eq(device_new(&d, st, p, NULL, &e), 0);
	device_set_event_fn(d, on_event, NULL);
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
	ck_assert_int_eq(device_request(d, "S2", DEVICE_KUR, NULL, NULL, &r, &e), -1);
	ck_assert_ptr_nonnull(strstr(e.msg, "a key update request must be signed"));
	cfg.use_signature = 1;
	device_session_set(d, &cfg);
	ck_assert_int_eq(device_request(d, "S2", DEVICE_KUR, NULL, NULL, &r, &e), -1);
	ck_assert_str_eq(e.msg, "The CMP session S2 has no authentication certificate "
	    "configured.");
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
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
