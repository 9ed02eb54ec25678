/*
 * Check suite for the root CA key update of the device (device/rootca.c,
 * device/autoupdate.c; RFC 9480 2.15, RFC 9483 4.3.2, RFC 4210 4.4):
 *   - the rollover rules (rootca_verify) on certificates made here: a good
 *     rollover passes (with and without oldWithNew); each broken rule is
 *     refused with its reason (the attacker's cases);
 *   - the schedule, driven by a fake clock and a fake check (struct
 *     device_ops.root_start): a check at once when auto-update is enabled,
 *     then daily; failures retried after 30 s doubling up to an hour; a CA
 *     without rootCaKeyUpdate asked again the next day; none when disabled.
 */
#include <check.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../device/device_int.h"
#include "testutil.h"

#define T0 1767225600L		/* 2026-01-01 00:00:00 UTC */
#define DAY 86400L

static EVP_PKEY *
key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	ck_assert_ptr_nonnull(k);
	return k;
}

/* A certificate for PUB named SUBJ, issued by ISSUER (a name) and signed with
 * SIGNER; EXT: "ca", "ee", "nobc", "nokcs"; valid NB..NA. */
static X509 *
mk(const char *subj, EVP_PKEY *pub, const char *issuer, EVP_PKEY *signer,
    const char *ext, long nb, long na)
{
	X509 *x = X509_new();
	X509_NAME *s = X509_NAME_new(), *i = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ex;

	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_NAME_add_entry_by_txt(s, "CN", MBSTRING_UTF8,
	    (const unsigned char *)subj, -1, -1, 0);
	X509_NAME_add_entry_by_txt(i, "CN", MBSTRING_UTF8,
	    (const unsigned char *)issuer, -1, -1, 0);
	X509_set_subject_name(x, s);
	X509_set_issuer_name(x, i);
	X509_NAME_free(s);
	X509_NAME_free(i);
	ASN1_TIME_set(X509_getm_notBefore(x), nb);
	ASN1_TIME_set(X509_getm_notAfter(x), na);
	X509_set_pubkey(x, pub);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (strcmp(ext, "nobc") != 0) {
		ex = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
		    strcmp(ext, "ee") == 0 ? "critical,CA:FALSE" : "critical,CA:TRUE");
		X509_add_ext(x, ex, -1);
		X509_EXTENSION_free(ex);
	}
	ex = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, strcmp(ext, "nokcs") == 0 ?
	    "critical,digitalSignature" : "critical,keyCertSign,cRLSign");
	X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
	ck_assert_int_gt(X509_sign(x, signer, EVP_sha256()), 0);
	return x;
}

static EVP_PKEY *kold, *knew, *kevil;
static X509 *old, *nwn, *nwo, *own;

static void
setup(void)
{
	kold = key();
	knew = key();
	kevil = key();
	old = mk("Root", kold, "Root", kold, "ca", T0 - DAY, T0 + 400 * DAY);
	nwn = mk("Root", knew, "Root", knew, "ca", T0 - 10, T0 + 800 * DAY);
	nwo = mk("Root", knew, "Root", kold, "ca", T0 - 10, T0 + 400 * DAY);
	own = mk("Root", kold, "Root", knew, "ca", T0 - 10, T0 + 400 * DAY);
}

static void
teardown(void)
{
	X509_free(old);
	X509_free(nwn);
	X509_free(nwo);
	X509_free(own);
	EVP_PKEY_free(kold);
	EVP_PKEY_free(knew);
	EVP_PKEY_free(kevil);
}

/* REFUSED: rootca_verify fails and its reason holds WHY. */
static void
refused(X509 *a, X509 *b, X509 *c, long now, const char *why)
{
	struct pk_err e;

	pk_err_clear(&e);
	ck_assert_int_eq(rootca_verify(old, a, b, c, now, &e), -1);
	ck_assert_msg(strstr(e.msg, why) != NULL, "\"%s\" lacks \"%s\"", e.msg, why);
}

START_TEST(good_rollover)
{
	struct pk_err e;

	ck_assert_int_eq(rootca_verify(old, nwn, nwo, own, T0, &e), 0);
	ck_assert_int_eq(rootca_verify(old, nwn, nwo, NULL, T0, &e), 0);
	/* a new root that becomes valid later is accepted (it is installed
	 * beside the old one) */
	{
		X509 *later = mk("Root", knew, "Root", knew, "ca", T0 + DAY, T0 + 800 * DAY);

		ck_assert_int_eq(rootca_verify(old, later, nwo, own, T0, &e), 0);
		X509_free(later);
	}
}
END_TEST

START_TEST(newwithold_rules)
{
	X509 *x;

	refused(nwn, NULL, own, T0, "RFC 9483 4.3.2: newWithOld is missing");
	/* signed by another key than the old root's */
	x = mk("Root", knew, "Root", kevil, "ca", T0 - 10, T0 + DAY);
	refused(nwn, x, NULL, T0, "newWithOld does not verify under the old root's key");
	X509_free(x);
	/* signed by the old root's key, but for another key */
	x = mk("Root", kevil, "Root", kold, "ca", T0 - 10, T0 + DAY);
	refused(nwn, x, NULL, T0, "newWithOld does not hold newWithNew's public key");
	X509_free(x);
	/* another subject */
	x = mk("Other Root", knew, "Root", kold, "ca", T0 - 10, T0 + DAY);
	refused(nwn, x, NULL, T0, "newWithOld's subject is not newWithNew's");
	X509_free(x);
	/* the old key's signature under another issuer name */
	x = mk("Root", knew, "Someone", kold, "ca", T0 - 10, T0 + DAY);
	refused(nwn, x, NULL, T0, "newWithOld is not issued by the old root");
	X509_free(x);
}
END_TEST

START_TEST(newwithnew_rules)
{
	X509 *x;

	refused(NULL, nwo, NULL, T0, "newWithNew is missing");
	x = mk("Root", knew, "Root", kevil, "ca", T0 - 10, T0 + DAY);
	refused(x, nwo, NULL, T0, "newWithNew is not self-signed");
	X509_free(x);
	x = mk("Root", knew, "Other", knew, "ca", T0 - 10, T0 + DAY);
	refused(x, nwo, NULL, T0, "newWithNew is not self-signed");
	X509_free(x);
	x = mk("Root", knew, "Root", knew, "ee", T0 - 10, T0 + DAY);
	refused(x, nwo, NULL, T0, "newWithNew is not a CA certificate");
	X509_free(x);
	x = mk("Root", knew, "Root", knew, "nobc", T0 - 10, T0 + DAY);
	refused(x, nwo, NULL, T0, "newWithNew is not a CA certificate");
	X509_free(x);
	x = mk("Root", knew, "Root", knew, "nokcs", T0 - 10, T0 + DAY);
	refused(x, nwo, NULL, T0, "keyUsage without keyCertSign");
	X509_free(x);
	/* expired; notBefore after notAfter */
	refused(nwn, nwo, NULL, T0 + 900 * DAY, "newWithNew has expired");
	x = mk("Root", knew, "Root", knew, "ca", T0 + DAY, T0 - DAY);
	refused(x, nwo, NULL, T0, "newWithNew has an invalid validity");
	X509_free(x);
	/* the old root again: no key update */
	refused(old, nwo, NULL, T0, "newWithNew holds the old root's key");
}
END_TEST

START_TEST(oldwithnew_rules)
{
	X509 *x;

	x = mk("Root", kevil, "Root", knew, "ca", T0 - 10, T0 + DAY);
	refused(nwn, nwo, x, T0, "oldWithNew does not hold the old root's public key");
	X509_free(x);
	x = mk("Root", kold, "Root", kevil, "ca", T0 - 10, T0 + DAY);
	refused(nwn, nwo, x, T0, "oldWithNew does not verify under newWithNew's key");
	X509_free(x);
}
END_TEST

/* ---- the schedule ---- */

static int64_t now_ms;
static int starts;
static struct device_session *started;
static int nfailed_ev, ninstalled_ev;
static int64_t last_delay;

static int64_t
fake_now(void *arg)
{
	(void)arg;
	return now_ms;
}

static int
fake_root_start(void *arg, struct device *d, struct device_session *s,
    struct pk_err *e)
{
	(void)arg;
	(void)d;
	(void)e;
	starts++;
	started = s;
	return 0;
}

static void
on_event(void *arg, const struct device_event *ev)
{
	(void)arg;
	if (ev->kind == DEVICE_EV_ROOT_FAILED) {
		nfailed_ev++;
		last_delay = ev->delay_ms;
	} else if (ev->kind == DEVICE_EV_ROOT_INSTALLED) {
		ninstalled_ev++;
	}
}

/* Runs the loop's timers up to T (ms) on the fake clock. */
static void
run_until(struct device *d, int64_t t)
{
	struct loop *l = device_loop(d);
	int64_t w;

	while ((w = loop_next(l)) >= 0 && w <= t) {
		now_ms = w;
		loop_run_due(l);
	}
	now_ms = t;
}

static struct device *
sched_device(struct device_session **s)
{
	struct device_ops ops = { .now = fake_now, .root_start = fake_root_start };
	struct device_session_cfg cfg;
	struct device *d;
	struct pk_err e;

	now_ms = (int64_t)T0 * 1000;
	starts = nfailed_ev = ninstalled_ev = 0;
	started = NULL;
	ck_assert_int_eq(device_new(&d, NULL, NULL, &ops, &e), 0);
	device_set_event_fn(d, on_event, NULL);
	device_session_cfg_init(&cfg);
	cfg.name = "s";
	cfg.auto_update = 1;
	device_session_set(d, &cfg);
	*s = device_session_find(d, "s");
	return d;
}

START_TEST(schedule_daily)
{
	struct device_session *s;
	struct device *d = sched_device(&s);
	struct device_root_update r;
	struct device_root_status st;

	/* at once */
	run_until(d, now_ms);
	ck_assert_int_eq(starts, 1);
	ck_assert_ptr_eq(started, s);
	/* a second start waits for the first's end */
	run_until(d, now_ms + 2 * DAY * 1000);
	ck_assert_int_eq(starts, 1);
	memset(&r, 0, sizeof(r));
	r.sent = r.answered = 1;
	device_root_done(d, s, 0, &r, NULL);
	device_root_status(s, &st);
	ck_assert_int_eq(st.next, (time_t)(now_ms / 1000) + DAY);
	/* then daily: a year of checks, each ending well */
	for (int i = 0; i < 365; i++) {
		int64_t t = now_ms;

		run_until(d, t + DAY * 1000 - 1);
		ck_assert_int_eq(starts, 1 + i);
		run_until(d, t + DAY * 1000);
		ck_assert_int_eq(starts, 2 + i);
		device_root_done(d, s, 0, &r, NULL);
	}
	ck_assert_int_eq(nfailed_ev, 0);
	device_free(d);
}
END_TEST

START_TEST(schedule_retry)
{
	struct device_session *s;
	struct device *d = sched_device(&s);
	struct device_root_update r;
	struct pk_err e;
	int64_t expect = 30000;

	run_until(d, now_ms);
	ck_assert_int_eq(starts, 1);
	memset(&r, 0, sizeof(r));
	r.sent = 1;
	pk_err_set(&e, "cannot connect");
	/* failures: 30 s, 60 s, ... up to an hour */
	for (int i = 0; i < 10; i++) {
		int64_t t = now_ms;

		device_root_done(d, s, -1, &r, &e);
		ck_assert_int_eq(nfailed_ev, i + 1);
		ck_assert_int_eq(last_delay, expect);
		run_until(d, t + expect - 1);
		ck_assert_int_eq(starts, 1 + i);
		run_until(d, t + expect);
		ck_assert_int_eq(starts, 2 + i);
		expect = expect * 2 > 3600000 ? 3600000 : expect * 2;
	}
	/* success: the backoff starts again, next check a day later */
	r.answered = 1;
	device_root_done(d, s, 0, &r, NULL);
	run_until(d, now_ms + DAY * 1000);
	ck_assert_int_eq(starts, 12);
	device_root_done(d, s, -1, &r, &e);
	ck_assert_int_eq(last_delay, 30000);
	/* a CA without rootCaKeyUpdate: not reported, asked the next day */
	run_until(d, now_ms + 30000);
	ck_assert_int_eq(starts, 13);
	memset(&r, 0, sizeof(r));
	r.sent = 1;
	r.no_answer = 1;
	device_root_done(d, s, -1, &r, &e);
	ck_assert_int_eq(nfailed_ev, 11);
	run_until(d, now_ms + DAY * 1000 - 1);
	ck_assert_int_eq(starts, 13);
	run_until(d, now_ms + 1);
	ck_assert_int_eq(starts, 14);
	device_free(d);
}
END_TEST

START_TEST(schedule_disabled)
{
	struct device_session *s;
	struct device *d = sched_device(&s);
	struct device_session_cfg cfg;
	struct device_root_update r;
	struct pk_err e;

	run_until(d, now_ms);
	ck_assert_int_eq(starts, 1);
	/* disabled while it runs: its end arms nothing */
	device_session_cfg_init(&cfg);
	cfg.name = "s";
	device_session_set(d, &cfg);
	memset(&r, 0, sizeof(r));
	r.sent = 1;
	pk_err_set(&e, "cannot connect");
	device_root_done(d, s, -1, &r, &e);
	ck_assert_int_eq(last_delay, -1);
	run_until(d, now_ms + 30 * DAY * 1000);
	ck_assert_int_eq(starts, 1);
	/* enabled again: at once */
	cfg.auto_update = 1;
	device_session_set(d, &cfg);
	run_until(d, now_ms);
	ck_assert_int_eq(starts, 2);
	device_root_done(d, s, 0, &r, NULL);
	/* removed: no more checks */
	device_session_remove(d, "s");
	run_until(d, now_ms + 30 * DAY * 1000);
	ck_assert_int_eq(starts, 2);
	device_free(d);
}
END_TEST

/* A device without a PKI store and without a fake check makes no checks (so
 * the KUR scheduler's tests see no extra events or timers). */
START_TEST(schedule_none_without_store)
{
	struct device_ops ops = { .now = fake_now };
	struct device_session_cfg cfg;
	struct device *d;
	struct pk_err e;

	now_ms = (int64_t)T0 * 1000;
	ck_assert_int_eq(device_new(&d, NULL, NULL, &ops, &e), 0);
	device_session_cfg_init(&cfg);
	cfg.name = "s";
	cfg.auto_update = 1;
	device_session_set(d, &cfg);
	ck_assert_int_eq(loop_timer_count(device_loop(d)), 0);
	device_free(d);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("device_rootca");
	TCase *t = tcase_create("verify");

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_test(t, good_rollover);
	tcase_add_test(t, newwithold_rules);
	tcase_add_test(t, newwithnew_rules);
	tcase_add_test(t, oldwithnew_rules);
	suite_add_tcase(s, t);
	t = tcase_create("schedule");
	tcase_add_test(t, schedule_daily);
	tcase_add_test(t, schedule_retry);
	tcase_add_test(t, schedule_disabled);
	tcase_add_test(t, schedule_none_without_store);
	suite_add_tcase(s, t);
	return s;
}

int
main(void)
{
	return tu_run_suite(suite());
}
