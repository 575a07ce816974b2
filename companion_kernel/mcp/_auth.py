"""Static bearer tokens for the HTTP transport: each token is its own client principal."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from mcp.server.auth.provider import AccessToken

from companion_kernel.errors import InvalidRequest

__all__ = ["TOKEN_ENV", "StaticTokenVerifier", "read_tokens"]

TOKEN_ENV = "COMPANION_MCP_TOKEN"
"""Environment variable holding one bearer token."""

_MIN_TOKEN_CHARS = 16


class StaticTokenVerifier:
    """Accepts a fixed set of tokens, compared in constant time."""

    def __init__(self, tokens: list[str]) -> None:
        if not tokens:
            raise InvalidRequest("at least one token is needed")
        # The principal is derived from the token, so the token itself is never logged.
        self._tokens = [
            (t.encode("utf-8"), "client-" + hashlib.sha256(t.encode()).hexdigest()[:12])
            for t in tokens
        ]

    async def verify_token(self, token: str) -> AccessToken | None:
        """The token's access info, or None when it is not one of ours."""
        given = token.encode("utf-8", "surrogatepass")
        found = None
        for expected, client_id in self._tokens:
            if hmac.compare_digest(given, expected):
                found = client_id
        if found is None:
            return None
        return AccessToken(token=token, client_id=found, scopes=[])


def read_tokens(token_file: str | None) -> list[str]:
    """Tokens from `token_file` (one per line, `#` comments) and from `COMPANION_MCP_TOKEN`."""
    tokens: list[str] = []
    if token_file is not None:
        try:
            text = Path(token_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidRequest(f"cannot read the token file: {exc}") from None
        tokens += [
            line.strip()
            for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        if not tokens:
            raise InvalidRequest(f"the token file {token_file} holds no token")
    env = os.environ.get(TOKEN_ENV, "").strip()
    if env:
        tokens.append(env)
    short = [t for t in tokens if len(t) < _MIN_TOKEN_CHARS]
    if short:
        raise InvalidRequest(
            f"tokens must be at least {_MIN_TOKEN_CHARS} characters "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return list(dict.fromkeys(tokens))
