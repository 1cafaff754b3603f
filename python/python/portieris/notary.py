"""Notary v1 (Docker Content Trust) verification of trust data you already have.

The metadata maps each role name (``root``, ``timestamp``, ``snapshot``, ``targets``,
``targets/releases``, ``targets/alice``, ...) to the bytes the notary server served for
``GET /v2/<gun>/_trust/tuf/<role>.json``. Map a delegation role to ``None`` when the server
answered 404 for it. Nothing here does I/O.
"""

from __future__ import annotations

import datetime as _dt
import time as _time
from typing import Iterable, Mapping, Optional, Sequence, Tuple, Union

from . import _portieris
from ._errors import VerificationError

Target = _portieris.Target

__all__ = ["verify", "Target", "VerificationError"]

Now = Union[int, _dt.datetime, None]


def _unix_seconds(now: Now) -> int:
    if now is None:
        return int(_time.time())
    if isinstance(now, bool):
        raise TypeError("now must be an int (Unix seconds) or an aware datetime, not bool")
    if isinstance(now, _dt.datetime):
        if now.tzinfo is None or now.tzinfo.utcoffset(now) is None:
            raise ValueError("now must be an aware datetime (with a tzinfo), not a naive one")
        seconds = int(now.timestamp())
    elif isinstance(now, int):
        seconds = now
    else:
        raise TypeError(f"now must be an int (Unix seconds) or an aware datetime, not {type(now).__name__}")
    if seconds < 0:
        raise ValueError(f"now must not be before 1970: {seconds}")
    return seconds


Bytes = Union[bytes, bytearray, memoryview, str]


def _as_bytes(data: Bytes, expected: str) -> bytes:
    """``data`` as bytes (str as UTF-8); else ``TypeError("<expected>, not <type>")``."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8")
    raise TypeError(f"{expected}, not {type(data).__name__}")


def _role_bytes(role: str, data: Optional[Bytes]) -> Optional[bytes]:
    if data is None:
        return None
    return _as_bytes(data, f"metadata[{role!r}] must be bytes, str or None")


def verify(
    gun: str,
    target: str,
    metadata: Mapping[str, Optional[Bytes]],
    now: Now = None,
    signers: Iterable[Tuple[str, str]] = (),
) -> Target:
    """Verify the trust data of repository ``gun`` and return the signed target.

    ``target`` is a tag (``"v1"``) or a digest (``"sha256:<hex>"``; it must be signed under
    some tag). ``now`` is Unix seconds or an aware datetime (default: the current time); it
    decides expiry and certificate validity. ``signers`` are ``(name, public key PEM)`` pairs,
    as in a policy's ``signerSecrets``: each must have signed the same digest in its
    ``targets/<name>`` delegation.

    Raises ``VerificationError`` naming the role and the check that failed, including a role
    the chain needs that ``metadata`` lacks. The GIL is released while verifying.
    """
    roles = {str(role): _role_bytes(role, data) for role, data in metadata.items()}
    pairs: Sequence[Tuple[str, str]] = [(str(name), str(pem)) for name, pem in signers]
    return _portieris.notary_verify(gun, target, roles, _unix_seconds(now), pairs)
