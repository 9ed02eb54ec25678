/*
 * Check suite for pki/ entities: the subject DN order and subjectAltName an
 * entity gives to CMP requests, value checks, `display pki entity`.
 */
#include <check.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../pki/pki.h"
#include "testutil.h"

START_TEST(entity_subject_order_and_san)
{
	struct pk_err e;
	struct pki_entity ent = {
		.name = "e1", .common_name = "router.example.com", .country = "CN",
		.state = "Guangdong", .locality = "Shenzhen", .organization = "Example",
		.org_unit = "Net", .fqdn = "router.example.com",
		.ip_address = "2001:db8::1", .email = "noc@example.com",
	};
	const int order[] = { NID_countryName, NID_stateOrProvinceName,
	    NID_localityName, NID_organizationName, NID_organizationalUnitName,
	    NID_commonName };
	X509_NAME *n;
	GENERAL_NAMES *g;
	char buf[256];

	ck_assert_int_eq(pki_entity_subject(&ent, &n, &e), 0);
	ck_assert_int_eq(X509_NAME_entry_count(n), 6);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(OBJ_obj2nid(X509_NAME_ENTRY_get_object(
		    X509_NAME_get_entry(n, i))), order[i]);
	X509_NAME_oneline(n, buf, sizeof(buf));
	ck_assert_str_eq(buf, "/C=CN/ST=Guangdong/L=Shenzhen/O=Example/OU=Net/"
	    "CN=router.example.com");
	X509_NAME_free(n);

	ck_assert_int_eq(pki_entity_san(&ent, &g, &e), 0);
	ck_assert_int_eq(sk_GENERAL_NAME_num(g), 3);
	ck_assert_int_eq(sk_GENERAL_NAME_value(g, 0)->type, GEN_DNS);
	ck_assert_int_eq(sk_GENERAL_NAME_value(g, 1)->type, GEN_IPADD);
	ck_assert_int_eq(ASN1_STRING_length(sk_GENERAL_NAME_value(g, 1)->d.iPAddress),
	    16);
	ck_assert_int_eq(sk_GENERAL_NAME_value(g, 2)->type, GEN_EMAIL);
	GENERAL_NAMES_free(g);

	ent.ip_address = "192.0.2.7";
	ent.fqdn = NULL;
	ent.email = "";
	ck_assert_int_eq(pki_entity_san(&ent, &g, &e), 0);
	ck_assert_int_eq(sk_GENERAL_NAME_num(g), 1);
	ck_assert_int_eq(ASN1_STRING_length(sk_GENERAL_NAME_value(g, 0)->d.iPAddress),
	    4);
	GENERAL_NAMES_free(g);

	/* only some fields, and none of the SAN ones */
	struct pki_entity small = { .name = "e2", .common_name = "cn2",
	    .organization = "O2" };
	ck_assert_int_eq(pki_entity_san(&small, &g, &e), 0);
	ck_assert_ptr_null(g);
	ck_assert_int_eq(pki_entity_subject(&small, &n, &e), 0);
	X509_NAME_oneline(n, buf, sizeof(buf));
	ck_assert_str_eq(buf, "/O=O2/CN=cn2");
	X509_NAME_free(n);
	/* values the console should have refused are refused here too */
	struct pki_entity bad = { .name = "e3", .common_name = "x", .fqdn = "a..b" };
	ck_assert_int_eq(pki_entity_san(&bad, &g, &e), -1);
	ck_assert_ptr_null(g);
	bad.fqdn = NULL;
	bad.ip_address = "1.2.3";
	ck_assert_int_eq(pki_entity_san(&bad, &g, &e), -1);
	ck_assert_str_eq(e.msg, "The IP address 1.2.3 is not a valid IPv4 or IPv6 "
	    "address.");
	bad.country = "CHN";
	ck_assert_int_eq(pki_entity_subject(&bad, &n, &e), -1);
	small.common_name = NULL;
	ck_assert_int_eq(pki_entity_subject(&small, &n, &e), -1);
	ck_assert_ptr_null(n);
	ck_assert_str_eq(e.msg, "The entity e2 has no common name configured.");
}
END_TEST

START_TEST(entity_value_checks)
{
	struct pk_err e;

	ck_assert(pki_entity_country_ok("CN", &e));
	ck_assert(pki_entity_country_ok("de", &e));
	ck_assert(!pki_entity_country_ok("C", &e));
	ck_assert(!pki_entity_country_ok("CHN", &e));
	ck_assert(!pki_entity_country_ok("C1", &e));
	ck_assert_str_eq(e.msg, "The country code must be exactly 2 letters "
	    "(ISO 3166).");
	ck_assert(pki_entity_ip_ok("10.1.2.3", &e));
	ck_assert(pki_entity_ip_ok("::1", &e));
	ck_assert(pki_entity_ip_ok("2001:db8:0:1::5", &e));
	ck_assert(!pki_entity_ip_ok("300.1.1.1", &e));
	ck_assert(!pki_entity_ip_ok("10.1.2", &e));
	ck_assert(!pki_entity_ip_ok("2001:db8::1::2", &e));
	ck_assert(!pki_entity_ip_ok("host", &e));
	ck_assert(pki_entity_value_ok(PKI_ENT_STATE, "12345678901234567890123456789012",
	    &e));
	ck_assert(!pki_entity_value_ok(PKI_ENT_STATE,
	    "123456789012345678901234567890123", &e));
	ck_assert(!pki_entity_value_ok(PKI_ENT_ORG_UNIT,
	    "12345678901234567890123456789012", &e));
	ck_assert(!pki_entity_value_ok(PKI_ENT_COMMON_NAME, "", &e));
	ck_assert(pki_entity_value_ok(PKI_ENT_FQDN, "a.example.com", &e));
	ck_assert(!pki_entity_value_ok(PKI_ENT_FQDN, "a..example.com", &e));
	ck_assert(!pki_entity_value_ok(PKI_ENT_FQDN, "a b.com", &e));
	ck_assert(pki_entity_value_ok(PKI_ENT_EMAIL, "a@b.c", &e));
	ck_assert(!pki_entity_value_ok(PKI_ENT_EMAIL, "ab.c", &e));
	ck_assert(!pki_entity_value_ok(PKI_ENT_NAME, "has space", &e));
	ck_assert(pki_entity_value_ok(PKI_ENT_NAME, "E1", &e));
}
END_TEST

START_TEST(entity_display_format)
{
	struct sbuf out = SBUF_INIT;
	struct pki_entity ents[2] = {
		{ .name = "e1", .common_name = "dev1", .country = "CN",
		  .ip_address = "10.0.0.1" },
		{ .name = "e2" },
	};

	pki_entity_display(ents, 2, &out);
	ck_assert_str_eq(sbuf_str(&out),
	    "Entity Name      : e1\n"
	    "Common Name      : dev1\n"
	    "Country          : CN\n"
	    "State            : -\n"
	    "Locality         : -\n"
	    "Organization     : -\n"
	    "Organization Unit: -\n"
	    "FQDN             : -\n"
	    "IP Address       : 10.0.0.1\n"
	    "Email            : -\n"
	    "\n"
	    "Entity Name      : e2\n"
	    "Common Name      : -\n"
	    "Country          : -\n"
	    "State            : -\n"
	    "Locality         : -\n"
	    "Organization     : -\n"
	    "Organization Unit: -\n"
	    "FQDN             : -\n"
	    "IP Address       : -\n"
	    "Email            : -\n"
	    "\n"
	    " Total Number: 2\n");
	sbuf_reset(&out);
	pki_entity_display(NULL, 0, &out);
	ck_assert_str_eq(sbuf_str(&out), " Total Number: 0\n");
	sbuf_free(&out);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("pki_entity");
	TCase *ents = tcase_create("entities");

	tcase_add_test(ents, entity_subject_order_and_san);
	tcase_add_test(ents, entity_value_checks);
	tcase_add_test(ents, entity_display_format);
	suite_add_tcase(s, ents);

	return tu_run_suite(s);
}
