#!/usr/bin/env bash
# Regenerates the TLS test certificates (test/unit/tls/tls_test.cc). They are committed; run
# this only to replace them (then update the notAfter dates in TlsServerContext tests).
# Validity is 100 years so the tests never expire.
#   ca.crt / ca.key                      test CA ("Petrel Test CA")
#   mail.example.test.{crt,key}          leaf signed by the CA: DNS:mail.example.test
#   other.example.test.{crt,key}         leaf signed by the CA: DNS:other.example.test and
#                                        DNS:*.other.example.test; the .crt is a chain (leaf, CA)
#   self-signed.{crt,key}                self-signed, DNS:mail.example.test
#   encrypted.key                        mail.example.test.key under a passphrase ("petrel")
set -euo pipefail
cd "$(dirname "$0")"
days=36500
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key ca.key
openssl req -x509 -new -key ca.key -sha256 -days $days -subj "/O=Petrel tests/CN=Petrel Test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.crt

leaf() {  # name sans
  local name=$1 sans=$2
  key "$name.key"
  openssl req -new -key "$name.key" -subj "/O=Petrel tests/CN=$name" -out "$name.csr"
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' \
    "$sans" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
    -days $days -sha256 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}
leaf mail.example.test "DNS:mail.example.test"
leaf other.example.test "DNS:other.example.test,DNS:*.other.example.test"
cat ca.crt >> other.example.test.crt

key self-signed.key
openssl req -x509 -new -key self-signed.key -sha256 -days $days \
  -subj "/O=Petrel tests/CN=mail.example.test" -addext "subjectAltName=DNS:mail.example.test" \
  -out self-signed.crt

openssl pkey -in mail.example.test.key -aes256 -passout pass:petrel -out encrypted.key
