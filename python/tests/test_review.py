import base64
import json

import pytest

import portieris

from conftest import EXAMPLES


@pytest.fixture(scope="module")
def policies():
    return portieris.Policies.from_dir(EXAMPLES / "policies")


def load(name):
    return json.loads((EXAMPLES / "admission" / name).read_text())


def test_allowed_pod_is_admitted_and_answers_its_uid(policies):
    review = load("pod-allowed.json")
    answer = portieris.review(review, policies)
    assert answer["kind"] == "AdmissionReview"
    assert answer["response"]["uid"] == review["request"]["uid"]
    assert answer["response"]["allowed"] is True


def test_denied_pod_is_refused_with_reasons_naming_the_image(policies):
    answer = portieris.review(load("pod-denied.json"), policies)
    response = answer["response"]
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert response["status"]["message"]


def test_json_text_and_bytes_are_accepted(policies):
    text = (EXAMPLES / "admission" / "pod-allowed.json").read_text()
    assert portieris.review(text, policies) == portieris.review(text.encode(), policies)


def test_unknown_kind_is_refused_unless_allowed(policies):
    review = load("widget-unknown-kind.json")
    assert portieris.review(review, policies)["response"]["allowed"] is False
    allowed = portieris.review(review, policies, allow_unknown_kinds=True)
    assert allowed["response"]["allowed"] is True


def test_body_that_is_not_an_admission_review_raises_error(policies):
    with pytest.raises(portieris.Error):
        portieris.review({"hello": "world"}, policies)


def test_every_example_review_matches_its_file_name(policies):
    for path in sorted((EXAMPLES / "admission").glob("*-allowed.json")):
        assert portieris.review(path.read_bytes(), policies)["response"]["allowed"], path.name
    for path in sorted((EXAMPLES / "admission").glob("*-denied.json")):
        assert not portieris.review(path.read_bytes(), policies)["response"]["allowed"], path.name


def test_manifest_becomes_an_admission_review(policies):
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "docker.io/library/busybox:1"}]},
            },
        },
    }
    review = portieris.admission_review_for(deployment)
    assert review["request"]["resource"] == {"group": "apps", "version": "v1", "resource": "deployments"}
    response = portieris.review(review, policies)["response"]
    assert response["allowed"] is False
    assert "busybox" in response["status"]["message"]


def test_reviews_run_concurrently_from_threads(policies):
    import concurrent.futures

    review = load("pod-allowed.json")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: portieris.review(review, policies), range(16)))
    assert all(a["response"]["allowed"] for a in answers)


def test_patch_is_base64_json_patch_when_present(policies):
    response = portieris.review(load("pod-allowed.json"), policies)["response"]
    if "patch" in response:
        assert isinstance(json.loads(base64.b64decode(response["patch"])), list)
    else:
        assert "patchType" not in response
