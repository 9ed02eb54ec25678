/*
 * pki entities: value checks, the subject DN and subjectAltName an entity gives to
 * the CMP requests, and `display pki entity`. Entities themselves live in the
 * console's configuration tree; these functions only read plain strings.
 * Contract in pki.h.
 */
#include "pki.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static int
set(const char *s)
{
	return s != NULL && *s != '\0';
}

static int
len_ok(const char *what, const char *v, size_t min, size_t max, struct pk_err *e)
{
	size_t n = strlen(v);

	if (n < min || n > max)
		return pk_err_set(e, "The %s must be %zu to %zu characters.", what, min,
		    max), 0;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return pk_err_set(e, "The %s must not contain control "
			    "characters.", what), 0;
	return 1;
}

int
pki_entity_country_ok(const char *v, struct pk_err *e)
{
	if (v == NULL || strlen(v) != 2 || !isalpha((unsigned char)v[0]) ||
	    !isalpha((unsigned char)v[1]))
		return pk_err_set(e, "The country code must be exactly 2 letters "
		    "(ISO 3166)."), 0;
	return 1;
}

int
pki_entity_ip_ok(const char *v, struct pk_err *e)
{
	unsigned char buf[16];

	if (v != NULL && (inet_pton(AF_INET, v, buf) == 1 ||
	    inet_pton(AF_INET6, v, buf) == 1))
		return 1;
	return pk_err_set(e, "The IP address %s is not a valid IPv4 or IPv6 "
	    "address.", v != NULL ? v : ""), 0;
}

static int
fqdn_ok(const char *v, struct pk_err *e)
{
	size_t label = 0;

	if (!len_ok("FQDN", v, 1, 255, e))
		return 0;
	for (const char *p = v; ; p++) {
		if (*p == '.' || *p == '\0') {
			if (label == 0 || label > 63)
				return pk_err_set(e, "The FQDN %s is not a valid "
				    "domain name.", v), 0;
			if (*p == '\0')
				break;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' &&
		    !(*p == '*' && p == v))
			return pk_err_set(e, "The FQDN %s is not a valid domain "
			    "name.", v), 0;
		label++;
	}
	return 1;
}

static int
email_ok(const char *v, struct pk_err *e)
{
	const char *at;

	if (!len_ok("email address", v, 1, 128, e))
		return 0;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p >= 0x80)	/* RFC 5280 4.2.1.6: rfc822Name is an IA5String */
			return pk_err_set(e, "The email address %s must be ASCII.", v), 0;
	at = strchr(v, '@');
	if (at == NULL || at == v || at[1] == '\0' || strchr(at + 1, '@') != NULL ||
	    strchr(v, ' ') != NULL)
		return pk_err_set(e, "The email address %s is not valid "
		    "(local@domain).", v), 0;
	return 1;
}

int
pki_entity_value_ok(enum pki_entity_field f, const char *v, struct pk_err *e)
{
	if (v == NULL)
		return pk_err_set(e, "A value is required."), 0;
	switch (f) {
	case PKI_ENT_NAME:
		if (!len_ok("entity name", v, 1, PKI_NAME_MAX, e))
			return 0;
		if (strpbrk(v, " ?\"") != NULL)
			return pk_err_set(e, "The entity name must not contain "
			    "spaces, '?' or '\"'."), 0;
		return 1;
	case PKI_ENT_COMMON_NAME:
		return len_ok("common name", v, 1, 64, e);
	case PKI_ENT_COUNTRY:
		return pki_entity_country_ok(v, e);
	case PKI_ENT_STATE:
		return len_ok("state", v, 1, 32, e);
	case PKI_ENT_LOCALITY:
		return len_ok("locality", v, 1, 32, e);
	case PKI_ENT_ORGANIZATION:
		return len_ok("organization", v, 1, 32, e);
	case PKI_ENT_ORG_UNIT:
		return len_ok("organization unit", v, 1, 31, e);
	case PKI_ENT_FQDN:
		return fqdn_ok(v, e);
	case PKI_ENT_IP_ADDRESS:
		return pki_entity_ip_ok(v, e);
	case PKI_ENT_EMAIL:
		return email_ok(v, e);
	}
	return pk_err_set(e, "Unknown entity field."), 0;
}

int
pki_entity_subject(const struct pki_entity *ent, X509_NAME **out, struct pk_err *e)
{
	/* Subject DN order of the CLI reference: C, ST, L, O, OU, CN. */
	const struct {
		int nid;
		const char *v;
	} rdn[] = {
		{ NID_countryName, ent->country },
		{ NID_stateOrProvinceName, ent->state },
		{ NID_localityName, ent->locality },
		{ NID_organizationName, ent->organization },
		{ NID_organizationalUnitName, ent->org_unit },
		{ NID_commonName, ent->common_name },
	};
	X509_NAME *n = NULL;
	int rc = -1;

	*out = NULL;
	if (!set(ent->common_name)) {
		pk_err_set(e, "The entity %s has no common name configured.",
		    ent->name != NULL ? ent->name : "");
		goto out;
	}
	if (set(ent->country) && !pki_entity_country_ok(ent->country, e))
		goto out;
	if ((n = X509_NAME_new()) == NULL) {
		pk_err_ossl(e, "cannot build the subject name");
		goto out;
	}
	for (size_t i = 0; i < sizeof(rdn) / sizeof(rdn[0]); i++) {
		if (!set(rdn[i].v))
			continue;
		if (X509_NAME_add_entry_by_NID(n, rdn[i].nid, MBSTRING_UTF8,
		    (const unsigned char *)rdn[i].v, -1, -1, 0) != 1) {
			pk_err_ossl(e, "The value %s of the entity cannot be put in a "
			    "subject name", rdn[i].v);
			goto out;
		}
	}
	*out = n;
	n = NULL;
	rc = 0;
out:
	X509_NAME_free(n);
	return rc;
}

static int
push_name(GENERAL_NAMES *gens, int type, const char *v, struct pk_err *e)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *s = NULL;

	if (g == NULL)
		return pk_err_ossl(e, "cannot build the subjectAltName");
	if (type == GEN_IPADD) {
		/* RFC 5280 4.2.1.6: iPAddress is the address in network byte order,
		 * 4 octets for IPv4, 16 for IPv6. */
		ASN1_OCTET_STRING *ip = a2i_IPADDRESS(v);

		if (ip == NULL) {
			GENERAL_NAME_free(g);
			ERR_clear_error();
			return pk_err_set(e, "The IP address %s is not a valid IPv4 "
			    "or IPv6 address.", v);
		}
		GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
	} else {
		/* RFC 5280 4.2.1.6: dNSName and rfc822Name are IA5String. */
		if ((s = ASN1_IA5STRING_new()) == NULL ||
		    ASN1_STRING_set(s, v, -1) != 1) {
			ASN1_IA5STRING_free(s);
			GENERAL_NAME_free(g);
			return pk_err_ossl(e, "cannot build the subjectAltName");
		}
		GENERAL_NAME_set0_value(g, type, s);
	}
	if (sk_GENERAL_NAME_push(gens, g) <= 0) {
		GENERAL_NAME_free(g);
		return pk_err_ossl(e, "cannot build the subjectAltName");
	}
	return 0;
}

int
pki_entity_san(const struct pki_entity *ent, GENERAL_NAMES **out, struct pk_err *e)
{
	GENERAL_NAMES *gens = NULL;
	int rc = -1;

	*out = NULL;
	if (!set(ent->fqdn) && !set(ent->ip_address) && !set(ent->email))
		return 0;
	if ((gens = sk_GENERAL_NAME_new_null()) == NULL) {
		pk_err_ossl(e, "cannot build the subjectAltName");
		goto out;
	}
	if ((set(ent->fqdn) && !fqdn_ok(ent->fqdn, e)) ||
	    (set(ent->email) && !email_ok(ent->email, e)))
		goto out;
	if (set(ent->fqdn) && push_name(gens, GEN_DNS, ent->fqdn, e) != 0)
		goto out;
	if (set(ent->ip_address) && push_name(gens, GEN_IPADD, ent->ip_address, e) != 0)
		goto out;
	if (set(ent->email) && push_name(gens, GEN_EMAIL, ent->email, e) != 0)
		goto out;
	*out = gens;
	gens = NULL;
	rc = 0;
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

void
pki_entity_display(const struct pki_entity *ents, size_t n, struct sbuf *out)
{
	for (size_t i = 0; i < n; i++) {
		const struct pki_entity *t = &ents[i];
		const struct {
			const char *label;
			const char *v;
		} line[] = {
			{ "Entity Name", t->name },
			{ "Common Name", t->common_name },
			{ "Country", t->country },
			{ "State", t->state },
			{ "Locality", t->locality },
			{ "Organization", t->organization },
			{ "Organization Unit", t->org_unit },
			{ "FQDN", t->fqdn },
			{ "IP Address", t->ip_address },
			{ "Email", t->email },
		};

		for (size_t j = 0; j < sizeof(line) / sizeof(line[0]); j++)
			sbuf_printf(out, "%-17s: %s\n", line[j].label,
			    set(line[j].v) ? line[j].v : "-");
		sbuf_putc(out, '\n');
	}
	sbuf_printf(out, " Total Number: %zu\n", n);
}
