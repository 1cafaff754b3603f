"""The exceptions portieris raises. Every failure of the native code is one of these."""

from __future__ import annotations

__all__ = ["Error", "ReferenceError", "PolicyError", "VerificationError"]


class Error(Exception):
    """Base class of every portieris error."""


class ReferenceError(Error, ValueError):  # noqa: A001 - the contract's name
    """An image reference (or digest) that does not parse. Also a ``ValueError``."""


class PolicyError(Error):
    """Policy documents that cannot be read, or a policy in scope that is invalid."""


class VerificationError(Error):
    """Trust data (or a signature) that does not verify. The message names the role and check."""
