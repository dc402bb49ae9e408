"""Canonical links: the same article behind different URLs is one link."""

from __future__ import annotations

import re
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
