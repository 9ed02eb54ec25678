#!/bin/sh
# Shell tests of build/cmpdump: the readable decode operators use, the protection
# verdicts and the exit status (0 valid or not checked, 1 invalid protection,
# 2 undecodable). Messages are the shared vectors and ones made at test time.
# Prints "ok NAME" / "FAIL NAME" per case.
set -u
top=${PKISH_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${BUILD:-build}
case $BUILD in /*) bin=$BUILD/cmpdump ;; *) bin=$top/$BUILD/cmpdump ;; esac
v=$top/test/vectors
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pkish-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# run NAME EXPECTED_RC PATTERN... -- ARGS: runs cmpdump ARGS, checks the exit
# status and that every PATTERN (grep -E) occurs in the output.
check() {
	name=$1 want=$2
	shift 2
	pats=""
	while [ "$1" != "--" ]; do
		pats="$pats
$1"
		shift
	done
	shift
	"$bin" "$@" >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" != "$want" ]; then
		echo "FAIL $name (exit $rc, wanted $want)"
		sed 's/^/    /' "$tmp/out" | head -20
		return
	fi
	echo "$pats" | while IFS= read -r p; do
		[ -z "$p" ] && continue
		grep -Eq -- "$p" "$tmp/out" || { echo "missing: $p"; }
	done >"$tmp/miss"
	if [ -s "$tmp/miss" ]; then
		echo "FAIL $name"
		sed 's/^/    /' "$tmp/miss"
	else
		echo "ok $name"
	fi
}

[ -x "$bin" ] || { echo "FAIL cmpdump_built ($bin missing)"; exit 1; }

check pbm_ip_verifies 0 "^body: ip \(1\)" "^sender: C=FI, O=Insta Demo, CN=Insta Demo CA$" \
	"^transactionID: 39b69028c4bc7af6bec64a8897a6950b" \
	"^senderNonce: b56f187e62a03e42ee2236d29af5e19f" \
	"^protection: PBM owf=SHA1 iterations=1024 salt=16 bytes mac=HMAC-SHA1" \
	'^senderKID: 33303738 \("3078"\)' "status: accepted" \
	"subject: CN=test2" "serial:  06DC8CAD" \
	"^messageTime: 2018-02-06 13:31:13 UTC$" \
	"valid:   2018-02-06 13:01:13 UTC \.\. 2018-05-07 23:59:59 UTC$" \
	"protection check: OK \(PBM with the given secret\)" \
	-- --secret insta "$v/openssl-65/protect/IP_PBM.der"

check pbm_wrong_secret 1 "protection check: FAILED: wrong MAC" \
	-- --secret wrong "$v/openssl-65/protect/IP_PBM.der"

check signature_verifies 0 "^body: ir \(0\)" \
	"^protection: signature sha256WithRSAEncryption" \
	"POP: signature \(ecdsa-with-SHA256\): verifies" \
	"protection check: OK \(signature by the given certificate\)" \
	-- --cert "$v/openssl-65/protect/server.crt" "$v/openssl-65/protect/IR_protected.der"

check signature_wrong_cert 1 "protection check: FAILED: signature does not verify" \
	-- --cert "$v/openssl-65/vfy/insta.cert.pem" "$v/openssl-65/protect/IR_protected.der"

check not_checked_without_credentials 0 "protection check: not checked" \
	-- "$v/rustcrypto-cmpv2/ir_req_01.bin"

check unprotected_when_checking 1 "^protection: none" \
	"protection check: FAILED: message is not protected" \
	-- --secret x "$v/openssl-65/protect/IR_unprotected.der"

# PBMAC1 (RFC 9481 6.1.2) of the LwCMP flows: keyLength 4096 for a 512-octet
# key (a cmp-ra-component bug): refused as RFC 8018 A.2 reads it, with the
# reason; read as bits on request the MAC verifies, and a wrong secret fails.
lwmac="$v/lwcmpra-messageflows/IrWithMacProtection"
check pbmac1_strict 1 "^protection: PBMAC1 PBKDF2 prf=hmacWithSHA256 iterations=10000 salt=20 bytes keyLength=4096 mac=hmacWithSHA256$" \
	"protection check: FAILED: RFC 8018 A.2: the PBMAC1 keyLength 4096 is above the limit of 64 octets \(keyLength counts octets; this value looks like a length in bits" \
	-- --secret Password "$lwmac/downstream_INIT_REQ.PKI"
check pbmac1_keylength_bits 0 "protection check: OK \(PBMAC1 with the given secret, keyLength read as bits\)" \
	-- --pbmac1-keylength-bits --secret Password "$lwmac/downstream_INIT_REQ.PKI" \
	"$lwmac/downstream_CERT_CONFIRM.PKI"
check pbmac1_wrong_secret 1 "protection check: FAILED: wrong MAC: the PBMAC1 protection does not verify" \
	-- --pbmac1-keylength-bits --secret password "$lwmac/downstream_INIT_REQ.PKI"

check error_body 0 "^body: error \(23\)" \
	'status: rejection, failInfo: badRequest, text: "wrong certid"' \
	"errorCode: 486539453" \
	-- "$v/rustcrypto-cmpv2/failed_kur_rsp_01.bin"

check waiting_and_pollrep 0 "status: waiting" "checkAfter: [0-9]+ s" \
	-- "$v/openssl-65/vfy/IP_waitingStatus_PBM.der" \
	"$v/lwcmpra-messageflows/CrDelayed/downstream_POLL_REP.PKI"

check kur_old_cert_id 0 "^body: kur \(7\)" \
	"oldCertID: issuer C=US, ST=VA, L=Arlington, O=Red Hound, OU=Testing, CN=CA, serial 689315D6" \
	"protection check: OK" \
	-- --secret 1234-5678-1234-5678 "$v/rustcrypto-cmpv2/kur_req_01.bin"

printf 'not a CMP message' >"$tmp/junk.der"
check undecodable 2 "error: cannot decode: malformed CMP message" -- "$tmp/junk.der"

head -c 100 "$v/openssl-65/protect/IP_PBM.der" >"$tmp/trunc.der"
check truncated 2 "error: cannot decode" -- "$tmp/trunc.der"

check missing_file 2 "error: cannot read the file" -- "$tmp/nonexistent.der"

# several files: the worst verdict decides the exit status
check worst_of_several 2 "protection check: OK" "cannot decode" \
	-- --secret insta "$v/openssl-65/protect/IP_PBM.der" "$tmp/junk.der"

check usage 2 "usage: cmpdump" --

exit 0
