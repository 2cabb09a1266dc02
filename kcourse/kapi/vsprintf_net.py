"""%pM %pm (MAC), %pI %pi (IPv4, IPv6, struct sockaddr) and %pU (UUID), as lib/vsprintf.c of
Linux 6.1 prints them. `fmt` is the format from the letter after "%p" on (C's `fmt` argument).
"""

from __future__ import annotations

from kcourse.kapi.vsprintf_number import (
    Memory,
    Spec,
    at,
    check_pointer,
    error_string,
    number,
    string_nocheck,
)

AF_INET, AF_INET6 = 2, 10  # include/linux/socket.h
IPV6_FLOWINFO_MASK = 0x0FFFFFFF  # include/uapi/linux/in6.h, host order after ntohl()
GUID_INDEX = (3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15)  # lib/uuid.c guid_index
UUID_INDEX = tuple(range(16))  # lib/uuid.c uuid_index


def mac_address_string(read: Memory, ptr: int, spec: Spec, fmt: bytes) -> bytes:
    """lib/vsprintf.c mac_address_string(): %pM 00:01:.., %pMF with '-', %p[mM]R reversed."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    separator, reversed_ = b":", False
    if at(fmt, 1) == ord("F"):
        separator = b"-"
    elif at(fmt, 1) == ord("R"):
        reversed_ = True
    addr = read(ptr, 6)
    if reversed_:
        addr = addr[::-1]
    joiner = separator if fmt[0] == ord("M") else b""
    return string_nocheck(joiner.join(b"%02x" % b for b in addr), spec)


def ip4_string(addr: bytes, fmt: bytes) -> bytes:
    """lib/vsprintf.c ip4_string(): %pi4 keeps leading zeros; [hl] reverse the bytes (x86)."""
    leading_zeros = fmt[0] == ord("i")
    order = addr[::-1] if at(fmt, 2) in (ord("h"), ord("l")) else addr
    quads = [(b"%03d" if leading_zeros else b"%d") % b for b in order]
    return b".".join(quads)


def _v4mapped_or_isatap(addr: bytes) -> bool:
    # include/net/ipv6.h ipv6_addr_v4mapped() and ipv6_addr_is_isatap()
    words = [int.from_bytes(addr[i : i + 4], "big") for i in range(0, 16, 4)]
    v4mapped = (words[0] | words[1] | (words[2] ^ 0x0000FFFF)) == 0
    return v4mapped or (words[2] | 0x02000000) == 0x02005EFE


def ip6_compressed_string(addr: bytes) -> bytes:
    """lib/vsprintf.c ip6_compressed_string(): RFC 5952, the longest zero run as "::"."""
    use_ipv4 = _v4mapped_or_isatap(addr)
    words = [int.from_bytes(addr[i : i + 2], "big") for i in range(0, 16, 2)]
    rng = 6 if use_ipv4 else 8
    zerolength = []
    for i in range(rng):
        run = 0
        for j in range(i, rng):
            if words[j] != 0:
                break
            run += 1
        zerolength.append(run)
    longest, colonpos = 1, -1
    for i in range(rng):
        if zerolength[i] > longest:
            longest, colonpos = zerolength[i], i
    if longest == 1:  # don't compress a single 0
        colonpos = -1
    out, needcolon, i = bytearray(), False, 0
    while i < rng:
        if i == colonpos:
            if needcolon or i == 0:
                out += b":"
            out += b":"
            needcolon = False
            i += longest
            continue
        if needcolon:
            out += b":"
        out += b"%x" % words[i]  # hex u16 without leading 0s
        needcolon = True
        i += 1
    if use_ipv4:
        if needcolon:
            out += b":"
        out += ip4_string(addr[12:], b"I4")
    return bytes(out)


def ip6_string(addr: bytes, fmt: bytes) -> bytes:
    """lib/vsprintf.c ip6_string(): eight 4-digit groups, colons only for %pI6."""
    groups = [addr[i : i + 2].hex().encode() for i in range(0, 16, 2)]
    return (b":" if fmt[0] == ord("I") else b"").join(groups)


def ip6_addr_string(addr: bytes, spec: Spec, fmt: bytes) -> bytes:
    """lib/vsprintf.c ip6_addr_string(): %pI6c compressed, else ip6_string()."""
    if fmt[0] == ord("I") and at(fmt, 2) == ord("c"):
        return string_nocheck(ip6_compressed_string(addr), spec)
    return string_nocheck(ip6_string(addr, fmt), spec)


def _letters(fmt: bytes) -> bytes:
    """The alphabetic run after "IS" (C: fmt++; while (isalpha(*++fmt)) ...)."""
    out = bytearray()
    for c in fmt[2:]:
        if not (ord("a") <= c <= ord("z") or ord("A") <= c <= ord("Z")):
            break
        out.append(c)
    return bytes(out)


def ip6_addr_string_sa(read: Memory, ptr: int, spec: Spec, fmt: bytes) -> bytes:
    """lib/vsprintf.c ip6_addr_string_sa(): struct sockaddr_in6 as [addr]:port/flow%scope."""
    sa = read(ptr, 28)  # family, port, flowinfo, sin6_addr[16], scope_id
    letters = _letters(fmt)
    have_p, have_f, have_s = (c in letters for c in b"pfs")
    have_c = ord("c") in letters
    addr = sa[8:24]
    if fmt[0] == ord("I") and have_c:
        text = ip6_compressed_string(addr)
    else:
        text = ip6_string(addr, fmt[:1] + b"6")
    out = bytearray(b"[" + text + b"]" if (have_p or have_s or have_f) else text)
    if have_p:
        out += b":" + number(int.from_bytes(sa[2:4], "big"), spec)
    if have_f:
        out += b"/" + number(int.from_bytes(sa[4:8], "big") & IPV6_FLOWINFO_MASK, spec)
    if have_s:
        out += b"%" + number(int.from_bytes(sa[24:28], "little"), spec)
    return string_nocheck(bytes(out), spec)


def ip4_addr_string_sa(read: Memory, ptr: int, spec: Spec, fmt: bytes) -> bytes:
    """lib/vsprintf.c ip4_addr_string_sa(): struct sockaddr_in as addr[:port]."""
    sa = read(ptr, 8)  # family, port, sin_addr
    have_p, order = False, 0
    for c in _letters(fmt):
        if c == ord("p"):
            have_p = True
        elif c in b"hlnb":
            order = c
    out = ip4_string(sa[4:8], bytes((fmt[0], ord("4"), order)))
    if have_p:
        out += b":" + number(int.from_bytes(sa[2:4], "big"), spec)
    return string_nocheck(out, spec)


def ip_addr_string(read: Memory, ptr: int, spec: Spec, fmt: bytes) -> bytes:
    """lib/vsprintf.c ip_addr_string(): %p[Ii]4, %p[Ii]6, %p[Ii]S (by sa_family)."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    kind = at(fmt, 1)
    if kind == ord("6"):
        return ip6_addr_string(read(ptr, 16), spec, fmt)
    if kind == ord("4"):
        return string_nocheck(ip4_string(read(ptr, 4), fmt), spec)
    if kind == ord("S"):
        family = int.from_bytes(read(ptr, 2), "little")
        if family == AF_INET:
            return ip4_addr_string_sa(read, ptr, spec, fmt)
        if family == AF_INET6:
            return ip6_addr_string_sa(read, ptr, spec, fmt)
        return error_string(b"(einval)", spec)
    return error_string(b"(%pi?)" if fmt[0] == ord("i") else b"(%pI?)", spec)


def uuid_string(read: Memory, ptr: int, spec: Spec, fmt: bytes) -> bytes:
    """lib/vsprintf.c uuid_string(): %pU[bB] big endian, %pU[lL] little endian (GUID)."""
    err = check_pointer(ptr, spec)
    if err is not None:
        return err
    variant = at(fmt, 1)
    index = GUID_INDEX if variant in (ord("l"), ord("L")) else UUID_INDEX
    upper = variant in (ord("L"), ord("B"))
    raw = read(ptr, 16)
    hexed = bytes(raw[i] for i in index).hex()
    text = "-".join((hexed[:8], hexed[8:12], hexed[12:16], hexed[16:20], hexed[20:]))
    return string_nocheck((text.upper() if upper else text).encode(), spec)
