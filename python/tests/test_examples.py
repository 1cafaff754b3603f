"""The scripts of examples/python run as documented."""

import subprocess
import sys

from conftest import EXAMPLES

SCRIPTS = EXAMPLES / "python"


def run(*args):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_gate_fails_the_build_when_a_manifest_is_denied():
    done = run(SCRIPTS / "gate_manifests.py", SCRIPTS / "manifests", "--policies", EXAMPLES / "policies")
    assert done.returncode == 1, done.stderr
    assert "ALLOW Deployment/web" in done.stdout
    assert "DENY  Pod/debug" in done.stdout
    assert "2 objects, 1 denied" in done.stdout


def test_gate_passes_when_every_manifest_is_allowed(tmp_path):
    (tmp_path / "ok.yaml").write_text((SCRIPTS / "manifests" / "web.yaml").read_text())
    done = run(SCRIPTS / "gate_manifests.py", tmp_path, "--policies", EXAMPLES / "policies")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 objects, 0 denied" in done.stdout


def test_gate_reports_unreadable_policies_with_exit_2(tmp_path):
    (tmp_path / "bad.yaml").write_text("kind: Nope\n")
    done = run(SCRIPTS / "gate_manifests.py", SCRIPTS / "manifests", "--policies", tmp_path)
    assert done.returncode == 2
    assert "gate:" in done.stderr


def test_verify_notary_example_verifies_a_rig_image(rig):
    image = rig["images"]["onesigner_v1"]
    done = run(
        SCRIPTS / "verify_notary.py",
        image["image"],
        "--notary",
        image["notary"],
        "--ca",
        rig["env"]["PORTIERIS_RIG_CA"],
        "--signer",
        f"alice={rig['env']['PORTIERIS_RIG_KEYS']}/alice.pub.pem",
    )
    assert done.returncode == 0, done.stderr
    assert image["digest"] in done.stdout


def test_verify_notary_example_refuses_an_unsigned_rig_image(rig):
    image = rig["images"]["unsigned_v1"]
    done = run(
        SCRIPTS / "verify_notary.py",
        image["image"],
        "--notary",
        rig["env"]["PORTIERIS_RIG_NOTARY"],
        "--ca",
        rig["env"]["PORTIERIS_RIG_CA"],
    )
    assert done.returncode == 1
    assert "NOT trusted" in done.stderr


def test_simple_signature_example_accepts_the_right_signature_and_refuses_another_key():
    fixtures = EXAMPLES.parent / "core" / "tests" / "fixtures" / "simple"
    digest = dict(line.split() for line in (fixtures / "digests.txt").read_text().splitlines() if line)[
        "image"
    ]
    rsa = dict(line.split() for line in (fixtures / "fingerprints.txt").read_text().splitlines() if line)[
        "rsa"
    ]
    args = ["127.0.0.1:5000/test/signed:v1", digest]
    good = run(
        SCRIPTS / "check_simple_signature.py",
        fixtures / "sigs/rsa-right.sig",
        fixtures / "keys/rsa.asc",
        *args,
    )
    assert good.returncode == 0, good.stderr
    assert f"signed by {rsa}" in good.stdout
    bad = run(
        SCRIPTS / "check_simple_signature.py",
        fixtures / "sigs/other-right.sig",
        fixtures / "keys/rsa.asc",
        *args,
    )
    assert bad.returncode == 1
    assert "signature refused" in bad.stderr
