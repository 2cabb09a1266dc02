"""The appended module signature: "~Module signature appended~\\n" and the PKCS#7 blob before it.

Layout (scripts/sign-file.c; kmod libkmod-signature.c; include/linux/module_signature.h):

    [ ELF image ][ signer ][ key id ][ signature data ][ struct module_signature ][ magic ]

struct module_signature is 12 bytes: algo, hash, id_type, signer_len, key_id_len, 3 pad
bytes, then sig_len as a big-endian u32. For id_type 2 (PKCS#7, what sign-file writes since
4.3) signer and key id are empty and live inside the PKCS#7 SignedData instead. kmod's
modinfo shows: the issuer's commonName as `signer`, the issuer serial number as `sig_key`,
the digest algorithm's OpenSSL long name as `sig_hashalgo` and the encryptedDigest as
`signature`. Two parsers: `parse_pkcs7` (asn1crypto, for the deep view) and `fast_pkcs7` (a
few DER steps, for bulk scans); tests hold them to the same answers.
"""

from __future__ import annotations

import struct
from collections import namedtuple

MAGIC = b"~Module signature appended~\n"
_TRAILER = struct.Struct(">BBBBB3xI")  # struct module_signature, 12 bytes

# kmod libkmod-signature.c: the tables copied from the 3.7 kernel.
PKEY_ALGO = ("DSA", "RSA")
PKEY_HASH = ("md4", "md5", "sha1", "rmd160", "sha256", "sha384", "sha512", "sha224", "sm3")
PKEY_ID_TYPE = ("PGP", "X509", "PKCS#7")
PKEY_ID_PKCS7 = 2

# Digest OIDs -> OpenSSL long names (what OBJ_obj2txt(.., no_name=0) prints).
HASH_NAMES = {
    "1.2.840.113549.2.5": "md5", "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512", "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.7": "sha3-224", "2.16.840.1.101.3.4.2.8": "sha3-256",
    "2.16.840.1.101.3.4.2.9": "sha3-384", "2.16.840.1.101.3.4.2.10": "sha3-512",
    "1.2.156.10197.1.401": "sm3",
}
SIG_ALGO_NAMES = {"1.2.840.113549.1.1.1": "RSA", "1.2.840.10045.2.1": "ECDSA",
                  "1.2.840.10040.4.1": "DSA"}
_CN = "2.5.4.3"


# Plain named tuples, not dataclasses: this module is on `kcourse modinfo`'s start-up path.
ModuleSignature = namedtuple("ModuleSignature", [
    "id_type",  # "PKCS#7" (or the legacy "PGP" / "X509")
    "algo",  # public-key algorithm, e.g. "RSA"
    "hash",  # digest, e.g. "sha256"
    "signer",  # issuer commonName
    "key_id",  # bytes: issuer serial number (PKCS#7) or the legacy key id
    "signature",  # bytes: the signature value itself
    "total_size",  # bytes appended after the ELF image, magic included
])
Trailer = namedtuple("Trailer", "algo hash id_type signer_len key_id_len sig_len elf_size")


def find_trailer(raw: bytes) -> Trailer | None:
    """The trailer if the image ends with a well-formed one, with kmod's checks."""
    size = len(raw) - len(MAGIC)
    if size < _TRAILER.size or raw[size:] != MAGIC:
        return None
    size -= _TRAILER.size
    algo, hsh, id_type, signer_len, key_id_len, sig_len = _TRAILER.unpack_from(raw, size)
    if algo >= len(PKEY_ALGO) or hsh >= len(PKEY_HASH) or id_type >= len(PKEY_ID_TYPE):
        return None
    if sig_len == 0 or size < sig_len + signer_len + key_id_len:
        return None
    return Trailer(algo, hsh, id_type, signer_len, key_id_len, sig_len,
                   size - sig_len - signer_len - key_id_len)


# ---------------------------------------------------------------- a tiny DER reader


def _tlv(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at pos; ValueError if malformed."""
    if pos + 2 > end:
        raise ValueError("short")
    tag, length = buf[pos], buf[pos + 1]
    pos += 2
    if length & 0x80:
        nbytes = length & 0x7F
        if nbytes == 0 or nbytes > 4 or pos + nbytes > end:
            raise ValueError("length")
        length = int.from_bytes(buf[pos : pos + nbytes], "big")
        pos += nbytes
    if pos + length > end:
        raise ValueError("overrun")
    return tag, pos, pos + length


def _oid(content: bytes) -> str:
    if not content:
        raise ValueError("empty oid")
    first = content[0]
    parts = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    value = 0
    for byte in content[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def _children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        tag, cs, ce = _tlv(buf, start, end)
        out.append((tag, cs, ce))
        start = ce
    return out


def _signer_cn(buf: bytes, start: int, end: int) -> bytes | None:
    """kmod's x509_name_to_str: the first commonName; with none, the last entry's value."""
    value = None
    for _t, rs, re in _children(buf, start, end):  # RDN SETs
        for _t2, as_, ae in _children(buf, rs, re):  # AttributeTypeAndValue SEQUENCEs
            (_o, os_, oe), (_v, vs, ve) = _children(buf, as_, ae)[:2]
            value = buf[vs:ve]
            if _oid(buf[os_:oe]) == _CN:
                return value
    return value


# The last blob parsed by fast_pkcs7: (length, prefix before the signature value, fields).
# Modules signed by one key differ only in the signature value, which ends the blob, so a
# blob of the same length with the same prefix has the same structure (DER is decided by
# the bytes before each element) and the same signer, serial and algorithms.
_template: tuple[int, bytes, tuple] | None = None


def fast_pkcs7(blob: bytes) -> tuple[str, str, bytes, bytes, str] | None:
    """(signer, hash, serial, signature, algo) by walking DER; None if it is not plain DER."""
    global _template
    if _template is not None and len(blob) == _template[0]:
        prefix = _template[1]
        if blob.startswith(prefix):
            signer, hsh, serial, algo = _template[2]
            return signer, hsh, serial, blob[len(prefix):], algo
    walked = _walk_pkcs7(blob)
    if walked is None:
        return None
    parsed, sig_start, sig_end = walked
    if sig_end == len(blob):
        _template = (len(blob), blob[:sig_start], (parsed[0], parsed[1], parsed[2], parsed[4]))
    return parsed


def _walk_pkcs7(blob: bytes) -> tuple[tuple, int, int] | None:
    """((signer, hash, serial, signature, algo), signature start, signature end) or None."""
    try:
        _t, s, e = _tlv(blob, 0, len(blob))  # ContentInfo
        kids = _children(blob, s, e)
        _t, s, e = kids[1]  # [0] EXPLICIT
        _t, s, e = _tlv(blob, s, e)  # SignedData
        kids = _children(blob, s, e)
        _t, s, e = kids[-1]  # signerInfos SET
        _t, s, e = _tlv(blob, s, e)  # first SignerInfo
        si = _children(blob, s, e)
        if si[1][0] != 0x30:  # issuerAndSerialNumber, not a subjectKeyIdentifier
            return None
        issuer, serial = _children(blob, si[1][1], si[1][2])[:2]
        dig = _children(blob, si[2][1], si[2][2])[0]
        rest = [k for k in si[3:] if k[0] not in (0xA0, 0xA1)]
        sig_alg = _children(blob, rest[0][1], rest[0][2])[0]
        enc = rest[1]
        if enc[0] != 0x04:
            return None
        signer = _signer_cn(blob, issuer[1], issuer[2])
        digest_oid = _oid(blob[dig[1] : dig[2]])
        sig_oid = _oid(blob[sig_alg[1] : sig_alg[2]])
    except (ValueError, IndexError):
        return None
    number = int.from_bytes(blob[serial[1] : serial[2]], "big", signed=True)
    serial_bytes = abs(number).to_bytes((abs(number).bit_length() + 7) // 8, "big")
    signer_text = (signer or b"").split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    return (signer_text, HASH_NAMES.get(digest_oid, digest_oid), serial_bytes,
            blob[enc[1] : enc[2]], SIG_ALGO_NAMES.get(sig_oid, sig_oid)), enc[1], enc[2]


def parse_pkcs7(blob: bytes) -> tuple[str, str, bytes, bytes, str] | None:
    """The same answer as fast_pkcs7, through asn1crypto (also copes with BER encodings)."""
    from asn1crypto import cms

    try:
        info = cms.ContentInfo.load(blob)
        signed = info["content"]
        signer_info = signed["signer_infos"][0]
        sid = signer_info["sid"]
        if sid.name != "issuer_and_serial_number":
            return None
        issuer = sid.chosen["issuer"]
        serial = sid.chosen["serial_number"].native
        signer = None
        for rdn in issuer.chosen:
            for atv in rdn:
                signer = atv["value"].contents
                if atv["type"].dotted == _CN:
                    break
            else:
                continue
            break
        digest_oid = signer_info["digest_algorithm"]["algorithm"].dotted
        sig_oid = signer_info["signature_algorithm"]["algorithm"].dotted
        signature = signer_info["signature"].contents
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None
    serial_bytes = abs(serial).to_bytes((abs(serial).bit_length() + 7) // 8, "big")
    signer_text = (signer or b"").split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    return (signer_text, HASH_NAMES.get(digest_oid, digest_oid), serial_bytes, signature,
            SIG_ALGO_NAMES.get(sig_oid, sig_oid))


def read_signature(raw: bytes, fast: bool = False) -> ModuleSignature | None:
    """The module's signature, or None when unsigned or when kmod could not read it either."""
    trailer = find_trailer(raw)
    if trailer is None:
        return None
    total = len(raw) - trailer.elf_size
    end = len(raw) - len(MAGIC) - _TRAILER.size
    sig = raw[end - trailer.sig_len : end]
    if trailer.id_type == PKEY_ID_PKCS7:
        parsed = (fast_pkcs7(sig) if fast else None) or parse_pkcs7(sig)
        if parsed is None:
            return None
        signer, hsh, key_id, value, algo = parsed
        return ModuleSignature("PKCS#7", algo, hsh, signer, key_id, value, total)
    start = trailer.elf_size
    signer = raw[start : start + trailer.signer_len]
    key_id = raw[start + trailer.signer_len : start + trailer.signer_len + trailer.key_id_len]
    return ModuleSignature(
        PKEY_ID_TYPE[trailer.id_type], PKEY_ALGO[trailer.algo], PKEY_HASH[trailer.hash],
        signer.decode("utf-8", "surrogateescape"), key_id, sig, total,
    )
