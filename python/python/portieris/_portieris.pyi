"""Type stubs of the native module. Use the `portieris` package, not this module directly."""

from typing import Dict, List, Optional, Sequence, Tuple

__version__: str

class Reference:
    """A parsed, normalised image reference."""

    @property
    def registry(self) -> str: ...
    @property
    def repository(self) -> str: ...
    @property
    def tag(self) -> Optional[str]: ...
    @property
    def digest(self) -> Optional[str]: ...
    @property
    def name(self) -> str: ...
    def pinned(self, digest: str) -> str: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

class Target:
    """A target verified from Notary v1 trust data."""

    @property
    def digest(self) -> str: ...
    @property
    def length(self) -> int: ...
    @property
    def roles(self) -> List[str]: ...
    @property
    def expires(self) -> int: ...

class Policies:
    @staticmethod
    def from_yaml(text: str) -> "Policies": ...
    def match_json(self, namespace: str, image: str) -> Optional[Tuple[str, str]]: ...
    def unmatched_reason(self, namespace: str, image: str) -> Optional[str]: ...
    def __len__(self) -> int: ...

def parse_reference(text: str) -> Reference: ...
def notary_verify(
    gun: str,
    target: str,
    metadata: Dict[str, Optional[bytes]],
    now: int,
    signers: Sequence[Tuple[str, str]],
) -> Target: ...
def review_json(
    body: bytes,
    policies: Policies,
    ca_file: Optional[str],
    trust_servers: Sequence[Tuple[str, str]],
    fetch_timeout: float,
    deadline: float,
    allow_unknown_kinds: bool,
) -> Tuple[int, bytes]: ...

class Payload:
    """A simple-signing payload whose signature verified."""

    @property
    def reference(self) -> str: ...
    @property
    def digest(self) -> str: ...
    @property
    def signer(self) -> str: ...
    @property
    def payload(self) -> bytes: ...

def simple_verify(
    signature: bytes,
    keyring: bytes,
    reference: Optional[str],
    digest: Optional[str],
    identity: Optional[str],
    now: int,
) -> Payload: ...
