"""Who this browser is, across reloads, tabs and visits: a secret kept in a cookie of the app's own.

Streamlit's XSRF cookie cannot serve as it is: it is re-masked on every page load (`2|mask|token^mask|time`),
so its raw value changes with each F5, and it lasts only until the browser closes. The token under the mask is
stable while the browser runs, so a browser's first session derives its secret from it; the page then stores
that secret in `aeviz_browser`, a cookie of ours that lives for the workspace retention (renewed on each visit),
and later sessions, after a reload or a restart of the browser, read it back. Where neither cookie exists
(XSRF protection off, a test) a session makes a random secret and stores that.

The secret itself never leaves this module: jobs are owned by `browser_id()` and models live in the workspace
`workspaces.token_for(secret)`, two one-way hashes of it, so a share link (which carries the workspace token)
cannot be turned back into the browser's identity.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
import secrets
from collections.abc import Mapping

import streamlit as st

from .. import workspaces

COOKIE = "aeviz_browser"
XSRF_COOKIE = "_streamlit_xsrf"
_SECRET_RE = re.compile(r"[0-9a-f]{32}")
_SECRET = "aeviz_browser_secret"  # session_state: this session's secret, fixed at its first run


def _unmasked_xsrf(value: str) -> bytes | None:
    """The token under Streamlit's XSRF mask ('2|mask|masked|timestamp'; a v1 token is plain hex)."""
    try:
        if value.startswith("2|"):
            _, mask_hex, masked_hex, _ = value.split("|")
            mask, masked = binascii.a2b_hex(mask_hex), binascii.a2b_hex(masked_hex)
            if not mask or not masked:
                return None
            return bytes(b ^ mask[i % len(mask)] for i, b in enumerate(masked))
        return binascii.a2b_hex(value) or None
    except (ValueError, binascii.Error):
        return None


def secret_from(cookies: Mapping[str, str]) -> str:
    """The browser's secret (32 hex digits) from its request's cookies: ours if it is well formed, else one
    derived from the unmasked XSRF token; "" when there is neither."""
    ours = cookies.get(COOKIE, "")
    if isinstance(ours, str) and _SECRET_RE.fullmatch(ours):
        return ours
    xsrf = cookies.get(XSRF_COOKIE, "")
    token = _unmasked_xsrf(xsrf.strip("\"'")) if isinstance(xsrf, str) and xsrf else None
    return hashlib.sha256(b"aeviz-browser-secret|" + token).hexdigest()[:32] if token else ""


def _cookies() -> Mapping[str, str]:
    """The cookies of this session's request ({} without a server: AppTest cannot send any)."""
    try:
        cookies = st.context.cookies
        return {k: v for k, v in cookies.items() if isinstance(v, str)}
    except Exception:  # no server, or a Streamlit without st.context
        return {}


def browser_secret() -> str:
    """This browser's secret, fixed for the session at its first run (see the module's docstring)."""
    secret = st.session_state.get(_SECRET)
    if secret is None:
        secret = secret_from(_cookies()) or secrets.token_hex(16)
        st.session_state[_SECRET] = secret
    return secret


def browser_id() -> str:
    """An id of this browser for the job manager: every tab and reload of it has the same one."""
    return hashlib.sha256(b"aeviz-browser-id|" + browser_secret().encode()).hexdigest()[:24]


def browser_workspace() -> str:
    """The token of this browser's workspace (its folder may not exist yet)."""
    return workspaces.token_for(browser_secret())


_REMEMBER_JS = """<style>.st-key-aeviz_remember_browser{display:none}</style><script>(() => {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = "%s=" + %s + "; Max-Age=" + %d + "; Path=/; SameSite=Lax" + secure;
})();</script>"""


def remember_browser() -> None:
    """Store the secret in this browser (renewing the cookie's lifetime), so its next visit is recognised.

    Drawn in a hidden container of the sidebar: the script sets the cookie and takes no room."""
    seconds = int(max(workspaces.retention_s(), 24 * 3600))
    with st.sidebar.container(key="aeviz_remember_browser"):
        st.html(_REMEMBER_JS % (COOKIE, json.dumps(browser_secret()), seconds), unsafe_allow_javascript=True)
