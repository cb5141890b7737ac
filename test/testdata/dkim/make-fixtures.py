#!/usr/bin/python3
# Regenerates the signed fixtures of this directory with dkimpy (python3-dkim), the oracle:
#   rsa512.msg     signed with rsa512.key (512 bits; made by
#                  `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:512`)
#   rsa-sha1.msg   signed with 1024_testkey.key, a=rsa-sha1
# Both sign rfc6376-appendix-a.msg as d=example.com. Run from this directory.
import dkim

msg = open('rfc6376-appendix-a.msg', 'rb').read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
key512 = open('rsa512.key', 'rb').read()
key1024 = open('1024_testkey.key', 'rb').read()
sig = dkim.sign(msg, b'weak', b'example.com', key512, canonicalize=(b'relaxed', b'relaxed'))
open('rsa512.msg', 'wb').write(sig + msg)
sig = dkim.sign(msg, b'test', b'example.com', key1024, canonicalize=(b'relaxed', b'relaxed'),
                signature_algorithm=b'rsa-sha1')
open('rsa-sha1.msg', 'wb').write(sig + msg)
