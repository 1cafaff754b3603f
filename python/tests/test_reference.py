import pytest

import portieris


def test_short_name_normalises_to_docker_hub_library_latest():
    ref = portieris.parse_reference("nginx")
    assert ref.registry == "docker.io"
    assert ref.repository == "library/nginx"
    assert ref.tag == "latest"
    assert ref.digest is None
    assert ref.name == "docker.io/library/nginx"
    assert str(ref) == "docker.io/library/nginx:latest"


def test_registry_with_port_tag_and_digest_are_kept():
    digest = "sha256:" + "a" * 64
    ref = portieris.parse_reference(f"127.0.0.1:5000/test/app:v1@{digest}")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        "127.0.0.1:5000",
        "test/app",
        "v1",
        digest,
    )
    assert ref.pinned(digest) == f"127.0.0.1:5000/test/app@{digest}"


def test_digest_only_reference_has_no_tag():
    ref = portieris.parse_reference("icr.io/team/app@sha256:" + "b" * 64)
    assert ref.tag is None


def test_equal_references_compare_and_hash_equal():
    a = portieris.parse_reference("nginx")
    b = portieris.parse_reference("docker.io/library/nginx:latest")
    assert a == b
    assert len({a, b}) == 1
    assert repr(a) == "Reference('docker.io/library/nginx:latest')"


@pytest.mark.parametrize("text", ["", "UPPER/case", "nginx:bad tag", "nginx@sha256:short"])
def test_invalid_reference_raises_reference_error_that_is_a_value_error(text):
    with pytest.raises(portieris.ReferenceError) as raised:
        portieris.parse_reference(text)
    assert isinstance(raised.value, ValueError)
    assert isinstance(raised.value, portieris.Error)
    assert str(raised.value)


def test_version_is_the_crate_version():
    assert portieris.__version__.count(".") == 2
