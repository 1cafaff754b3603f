"""Shared fixtures: the committed Notary vectors and the live test rig."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
import threading
from typing import Callable, Dict, List, Optional, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTARY = REPO / "core" / "tests" / "fixtures" / "notary"
EXAMPLES = REPO / "examples"


class Case:
    """One Notary vector: ``core/tests/fixtures/notary/<name>/``."""

    def __init__(self, name: str) -> None:
        self.dir = NOTARY / name
        self.expected = json.loads((self.dir / "expected.json").read_text())
        self.gun: str = self.expected["gun"]

    @property
    def now(self) -> int:
        """One hour after the vector was generated: inside every role's validity."""
        generated = dt.datetime.fromisoformat(self.expected["generated_at"].replace("Z", "+00:00"))
        return int(generated.timestamp()) + 3600

    def metadata(self) -> Dict[str, Optional[bytes]]:
        """Every role as served; roles the server answered 404 for map to None."""
        roles: Dict[str, Optional[bytes]] = {}
        for role, info in self.expected["roles"].items():
            roles[role] = (self.dir / info["file"]).read_bytes() if info["status"] == 200 else None
        return roles

    def digest(self, tag: str) -> str:
        return self.expected["tags"][tag]["digest"]

    def signer(self, name: str) -> "tuple[str, str]":
        return (name, (NOTARY / "keys" / f"{name}.pub.pem").read_text())


@pytest.fixture
def case():
    return Case


@pytest.fixture(scope="session")
def rig() -> dict:
    """The running test rig (scripts/rig.sh start); fails, never skips, when it is absent."""
    path = Path(os.environ.get("PORTIERIS_RIG_DIR", "/tmp/portieris-rig")) / "rig.json"
    if not path.exists():
        pytest.fail(f"no test rig at {path}: start it with scripts/rig.sh start")
    return json.loads(path.read_text())


def in_threads(work: Callable[[], list], count: int = 8) -> Tuple[list, List[BaseException]]:
    """Runs ``work`` in ``count`` threads at once: every result it returned, in one list, and
    every exception it raised."""
    results: list = []
    errors: List[BaseException] = []

    def run():
        try:
            results.extend(work())
        except Exception as e:  # noqa: BLE001 - collected and returned
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors
