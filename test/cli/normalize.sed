# Masks what changes from run to run in console transcripts.
s/[0-9][0-9]:[0-9][0-9]:[0-9][0-9]  [0-9]\{4\}\/[0-9]\{1,2\}\/[0-9]\{1,2\}/HH:MM:SS  YYYY\/M\/D/g
s/[A-Z][a-z][a-z] [0-9][0-9] [0-9]\{4\} [0-9][0-9]:[0-9][0-9]:[0-9][0-9]/MMM DD YYYY HH:MM:SS/g
s/%^%#[A-Za-z0-9+\/=]*%^%#/%^%#SEALED%^%#/g
# key material, serials, fingerprints and dates in certificate and key dumps
s/^\( *\)\([0-9a-fA-F][0-9a-fA-F]:\)\{1,\}[0-9a-fA-F]\{0,2\}$/\1<hex>/
s/\([0-9A-F][0-9A-F]:\)\{31\}[0-9A-F][0-9A-F]/<sha256-fingerprint>/g
s/\(Serial Number:\).*/\1 <serial>/
s/\(Not Before\|Not After\) *: .*/\1: <date>/
s/[0-9]\{4\}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9] UTC/YYYY-MM-DD HH:MM:SS UTC/g
s/127\.0\.0\.1:[0-9]\{1,5\}/127.0.0.1:PORT/g
# the localKeyID a PKCS#12 file gave its certificate
s/^\(Key Id:\) .*/\1 <hex>/
