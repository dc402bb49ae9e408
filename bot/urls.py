"""Canonical links: the same article behind different URLs is one link."""

from __future__ import annotations

import re
import unicodedata
from ipaddress import IPv4Address, IPv6Address, ip_network
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "cid",
        "cmpid", "ocid", "smid", "smtyp", "ref", "ref_src", "ref_url", "spm", "taid",
        "sharetype", "cmp", "ito", "guccounter", "guce_referrer", "guce_referrer_sig",
        "outputtype", "amp", "__twitter_impression", "s_cid", "wt.mc_id", "wt_mc_id", "oc",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "hsa_", "_hs")
_HOST_PREFIXES = ("www.", "m.", "mobile.", "amp.", "www1.", "www2.")
_AMP_PATH = re.compile(r"(?:/amp/?|\.amp(?=$|/)|/amp\.html)$", re.I)


def is_web_link(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def canonical_url(url: str) -> str | None:
    """A comparison form of a link: no scheme, `www.`/mobile/AMP variants, tracking
    parameters, fragment, default port or trailing slash. None when not an http(s) link."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
            break
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    path = _AMP_PATH.sub("", path).rstrip("/") or ""
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(_TRACKING_PREFIXES)
    ]
    query.sort()
    return urlunsplit(("", host, path, urlencode(query), "")).removeprefix("//")


WEB_SCHEMES = ("http", "https")
# A URL's userinfo (`user:password@`), in plain and in percent-encoded text.
_USERINFO = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^\s/?#]*@", re.I)
_ENCODED_USERINFO = re.compile(
    r"\b([a-z][a-z0-9+.-]*%3A%2F%2F)(?:(?!%2F|%3F|%23)[^\s/?#&])*%40", re.I
)


def hide_credentials(text: str) -> str:
    """`text` with the credentials of every URL in it shown as `***`: for logs and errors."""
    text = _USERINFO.sub(r"\1***@", text)
    return _ENCODED_USERINFO.sub(r"\1***%40", text)


def url_problem(url: str) -> str | None:
    """Why `url` cannot be fetched as a feed (scheme, host, port, spaces), or None."""
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url):
        return "it contains spaces or control characters"
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        return f"it is not a valid URL ({str(exc).lower()})"
    if parts.scheme.lower() not in WEB_SCHEMES:
        return f"unsupported scheme {parts.scheme!r}: use http or https"
    if not parts.hostname:
        return "it has no host"
    try:
        parts.port  # noqa: B018 (reading the port is the check)
    except ValueError:
        return "its port must be a number from 0 to 65535"
    return None


IPAddress = IPv4Address | IPv6Address
_NAT64 = ip_network("64:ff9b::/96")


def is_public_address(ip: IPAddress) -> bool:
    """Whether `ip` is on the public internet: not loopback, private, link-local, shared
    (carrier-grade NAT), multicast, reserved or documentation space, nor one of those
    embedded in an IPv6 address (IPv4-mapped, 6to4, NAT64)."""
    if isinstance(ip, IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = IPv4Address(int(ip) & 0xFFFF_FFFF)
        if embedded is not None:
            return is_public_address(embedded)
    return ip.is_global and not ip.is_multicast


def safe_link(url: str | None) -> str | None:
    """`url` when a message may link to it, else None: an http(s) URL with a host and a valid
    port, without credentials (`https://www.bis.gov@evil.example/` shows one host and opens
    another) or a backslash in its host part, and without spaces, control, bidi or other
    invisible characters."""
    if not url or not url.isprintable() or " " in url:
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (reading the port is the check)
    except ValueError:
        return None
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.hostname:
        return None
    if "@" in parts.netloc or "\\" in parts.netloc:
        return None
    return url


def resolve_local(url: str, feeds_file: Path) -> Path:
    """A local feed path: as given if it exists from the working directory, else beside the file."""
    path = Path(url).expanduser()
    if path.is_absolute() or path.exists():
        return path
    return feeds_file.parent / path
