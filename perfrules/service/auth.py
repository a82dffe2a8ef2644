"""Bearer tokens from a token file: every ``/v1`` call needs one, admin calls need an admin token.

The token file has one token per line, optionally followed by its role: ``<token>`` or
``<token> admin``. Blank lines and lines starting with ``#`` are ignored. A presented token is
compared with every known token in constant time (``hmac.compare_digest`` of their SHA-256 digests,
so lengths are equal too), all of them, so the time taken does not tell how much of a token matched,
nor which.

The file is read again when it changes (``TokenFile``): a token removed from it stops working at the next
request, with no restart or reload. A changed file that cannot be read, or holds a bad line, is logged and the
tokens read before stay in force until it is fixed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from perfrules.errors import InputError, Problem, Where

ROLES = ("client", "admin")
log = logging.getLogger("perfrules.service")


@dataclass(frozen=True)
class TokenSet:
    """The accepted tokens and their roles (``client`` or ``admin``)."""

    tokens: tuple[tuple[bytes, str], ...]  # (sha256 of the token, role)

    def role_of(self, authorization: str | None) -> str | None:
        """The role of the bearer token in an ``Authorization`` header, or None when it is missing or unknown."""
        if not authorization:
            return None
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return None
        given = hashlib.sha256(presented.strip().encode("utf-8")).digest()  # equal lengths: the time tells nothing of it
        role = None
        for token, token_role in self.tokens:
            if hmac.compare_digest(given, token) and role is None:
                role = token_role
        return role


def load_tokens(path: str | Path) -> TokenSet:
    """Read a token file; a bad line is an error naming the file and line."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Problem("serve.token-file", f"无法读取令牌文件：{exc}。", f"cannot read the token file: {exc}.",
                                  Where(file=str(file)))]) from exc
    tokens: list[tuple[bytes, str]] = []
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        role = parts[1] if len(parts) > 1 else "client"
        if len(parts) > 2 or role not in ROLES:
            problems.append(Problem("serve.token-line", "每行须为 “令牌” 或 “令牌 admin”。",
                                    "each line must be '<token>' or '<token> admin'.", Where(file=str(file), line=number)))
            continue
        if len(parts[0]) < 16:
            problems.append(Problem("serve.token-short", "令牌至少 16 个字符。", "a token must be at least 16 characters long.",
                                    Where(file=str(file), line=number)))
            continue
        tokens.append((hashlib.sha256(parts[0].encode("utf-8")).digest(), role))
    if not tokens and not problems:
        problems.append(Problem("serve.token-none", "令牌文件中没有令牌。", "the token file holds no token.", Where(file=str(file))))
    if problems:
        raise InputError(problems)
    return TokenSet(tuple(tokens))


class TokenFile:
    """The token file's tokens, read again whenever the file changes (its size, modification time or inode)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._seen = self._signature()
        self._tokens = load_tokens(self.path)

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def current(self) -> TokenSet:
        """The tokens in force now."""
        seen = self._signature()
        if seen != self._seen:
            self._seen = seen
            try:
                self._tokens = load_tokens(self.path)
            except InputError as exc:
                log.error("the token file changed and cannot be used; the tokens read before stay in force",
                          extra={"event": "tokens.invalid", "problems": [p.text("en") for p in exc.problems]})
            else:
                log.info("the token file changed; its tokens are in force", extra={"event": "tokens.reloaded"})
        return self._tokens
