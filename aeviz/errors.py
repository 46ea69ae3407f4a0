"""One line from any exception: what a page, a job's message or the CLI shows of an error."""

from __future__ import annotations


def one_line(exc: BaseException, limit: int = 200, *, typed: bool = True) -> str:
    """The first non-empty line of the message, cut at `limit` characters, after the exception's type (unless
    not `typed`: our own errors speak for themselves); the type alone when the message is empty."""
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    text = text if len(text) <= limit else text[:limit] + "…"
    if not text:
        return type(exc).__name__
    return f"{type(exc).__name__}: {text}" if typed else text
