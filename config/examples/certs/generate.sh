#!/bin/sh
# Regenerates the PUBLIC example certificates in this folder (see README.md). Never for production.
# Usage: sh generate.sh [domain ...]   (default: a.example b.example)
set -eu
cd "$(dirname "$0")"
[ "$#" -gt 0 ] || set -- a.example b.example
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Example CA: EC P-256, 100 years. Its private key is thrown away once the leaves are signed.
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$work/ca.key" -out ca.pem -days 36500 -subj "/O=xmpp-s2s examples/CN=xmpp-s2s example CA (public, not for production)" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -addext "subjectKeyIdentifier=hash" 2>/dev/null

for domain in "$@"; do
  cat > "$work/ext.cnf" <<CNF
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:$domain,DNS:*.$domain
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$work/leaf.key" -out "$work/leaf.csr" -subj "/O=xmpp-s2s examples/CN=$domain" 2>/dev/null
  openssl x509 -req -in "$work/leaf.csr" -CA ca.pem -CAkey "$work/ca.key" -CAcreateserial \
    -out "$work/leaf.pem" -days 36500 -extfile "$work/ext.cnf" 2>/dev/null
  # One file per domain: certificate first, then its unencrypted PKCS#8 private key (s2s.certfile format).
  cat "$work/leaf.pem" "$work/leaf.key" > "$domain.pem"
  echo "wrote $domain.pem"
done
rm -f ca.srl
echo "wrote ca.pem"
