#!/usr/bin/python3
"""An independent verifier of healthcode HC1 tokens, for the interop test.

Uses only Debian's python3-cbor2 and python3-cryptography (and the standard
library): base45 (RFC 9285), zlib, COSE_Sign1 (RFC 9052) with ES256, the kid
looked up in a JWKS trust list (RFC 7517). Usage:

    verify_token.py TRUST_LIST.json NOW_UNIX < tokens (one per line)

Prints one JSON object per token: {"ok": true, "kid": ..., "claims": {...}}
or {"ok": false, "error": "..."}.
"""
import base64
import json
import sys
import zlib

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def b45decode(s):
    out = bytearray()
    for i in range(0, len(s), 3):
        chunk = s[i:i + 3]
        n = sum(ALPHABET.index(c) * 45 ** k for k, c in enumerate(chunk))
        if len(chunk) == 3:
            if n > 0xFFFF:
                raise ValueError("base45 triple out of range")
            out += n.to_bytes(2, "big")
        elif len(chunk) == 2:
            if n > 0xFF:
                raise ValueError("base45 pair out of range")
            out.append(n)
        else:
            raise ValueError("dangling base45 character")
    return bytes(out)


def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def load_trust(path):
    keys = {}
    with open(path) as f:
        for k in json.load(f)["keys"]:
            assert k["kty"] == "EC" and k["crv"] == "P-256"
            x, y = int.from_bytes(b64url(k["x"]), "big"), int.from_bytes(b64url(k["y"]), "big")
            keys[b64url(k["kid"])] = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    return keys


def jsonable(v):
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    return v


def verify(token, trust, now):
    if not token.startswith("HC1:"):
        raise ValueError("no HC1: prefix")
    obj = cbor2.loads(zlib.decompress(b45decode(token[4:])))
    if not isinstance(obj, cbor2.CBORTag) or obj.tag != 18:
        raise ValueError("not a COSE_Sign1 (tag 18)")
    protected, unprotected, payload, sig = obj.value
    hdr = cbor2.loads(protected)
    if hdr.get(1) != -7:
        raise ValueError("alg is not ES256")
    kid = hdr.get(4)
    if kid not in trust:
        raise ValueError("unknown kid")
    if len(sig) != 64:
        raise ValueError("signature is not r||s")
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        trust[kid].verify(der, to_be_signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise ValueError("bad signature")
    claims = cbor2.loads(payload)
    if now >= claims[4]:
        raise ValueError("expired")
    return {"ok": True, "kid": base64.urlsafe_b64encode(kid).rstrip(b"=").decode(), "claims": jsonable(claims)}


def main():
    trust = load_trust(sys.argv[1])
    now = int(sys.argv[2])
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            out = verify(line, trust, now)
        except Exception as e:  # every refusal is reported, never raised
            out = {"ok": False, "error": str(e)}
        print(json.dumps(out, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    main()
