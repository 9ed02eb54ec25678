#!/bin/sh
# mkpki.sh DIR: a test PKI made with the openssl program, for the tests of cmpca
# in a real hierarchy (sourced by nothing; run as `sh test/mkpki.sh DIR`).
#
#   root.crt/.key        "O=pkish test, CN=Test Root CA", self-signed
#   int.crt/.key         "O=pkish test, CN=Test Intermediate CA", under the root
#   issuing.crt/.key     "O=pkish test, CN=Test Issuing CA", under the intermediate:
#                        the CA certificate cmpca runs on
#   chain.pem            int.crt + root.crt       (cmpca --extra-certs)
#   untrusted.pem        issuing.crt + int.crt    (openssl verify -untrusted)
#   vroot.crt/.key       "CN=Vendor Root", self-signed, an external root
#   vdev.crt/.key        "CN=vendor-dev-42" under it: a device's vendor
#                        certificate for a signed ir (cmpca --trust vroot.crt)
#   oldroot.crt/.key     the root before a key rollover: same name, another key
#   newwithold.crt       the new root key signed with the old (RFC 4210 4.4)
#   oldwithnew.crt       the old root key signed with the new
#   rollover.pem         oldroot + newwithold + oldwithnew
#                        (cmpca --previous-ca-cert)
#   other.crt/.key       "O=pkish test, CN=Test Issuing CA" again, self-signed
#                        with its own key: an impostor with the issuing CA's name
#   sibling.crt/.key     "CN=sibling", an end entity under the intermediate (not
#                        issued by the issuing CA)
#   tight.crt, tightint.crt, tightissuing.crt/.key, tightchain.pem: a root with
#                        pathLenConstraint 0 over an intermediate over an issuing
#                        CA: a chain that does not verify
# All keys EC P-256, all certificates v3, valid 30 days.
set -eu
d=$1
mkdir -p "$d"
cd "$d"
cat >mk.cnf <<'EOF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ca0]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ee]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
# selfsigned NAME SUBJECT
selfsigned() {
	key "$1"
	openssl req -config mk.cnf -x509 -new -key "$1.key" -subj "$2" -days 30 \
	    -extensions "${3:-ca}" -out "$1.crt" 2>/dev/null
}
# issue NAME SUBJECT CA EXT: NAME's key (made when missing) certified by CA
issue() {
	[ -f "$1.key" ] || key "$1"
	openssl req -config mk.cnf -new -key "$1.key" -subj "$2" -out "$1.csr" 2>/dev/null
	openssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial \
	    -days 30 -extfile mk.cnf -extensions "$4" -out "$1.crt" 2>/dev/null
}
selfsigned root "/O=pkish test/CN=Test Root CA"
issue int "/O=pkish test/CN=Test Intermediate CA" root ca
issue issuing "/O=pkish test/CN=Test Issuing CA" int ca
cat int.crt root.crt >chain.pem
cat issuing.crt int.crt >untrusted.pem
selfsigned vroot "/CN=Vendor Root"
issue vdev "/CN=vendor-dev-42" vroot ee
selfsigned other "/O=pkish test/CN=Test Issuing CA"
issue sibling "/CN=sibling" int ee
selfsigned tight "/CN=Tight Root" ca0
issue tightint "/CN=Tight Intermediate" tight ca
issue tightissuing "/CN=Tight Issuing" tightint ca
cat tightint.crt tight.crt >tightchain.pem
# the root's key rollover: the old root had the same name and another key
selfsigned oldroot "/O=pkish test/CN=Test Root CA"
openssl x509 -x509toreq -in root.crt -signkey root.key -out root.csr 2>/dev/null
openssl x509 -req -in root.csr -CA oldroot.crt -CAkey oldroot.key -CAcreateserial \
    -days 30 -extfile mk.cnf -extensions ca -out newwithold.crt 2>/dev/null
openssl x509 -x509toreq -in oldroot.crt -signkey oldroot.key -out oldroot.csr 2>/dev/null
openssl x509 -req -in oldroot.csr -CA root.crt -CAkey root.key -CAcreateserial \
    -days 30 -extfile mk.cnf -extensions ca -out oldwithnew.crt 2>/dev/null
cat oldroot.crt newwithold.crt oldwithnew.crt >rollover.pem
