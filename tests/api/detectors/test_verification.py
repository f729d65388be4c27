"""Secrets: signatures and tokens are checked, in constant time, before anything is mapped."""

from __future__ import annotations

import base64

import pytest

from changetrail_api.detectors import SignatureMismatch, analyse
from tests.api.detectors.factories import GITHUB_TEST_SECRET, GITLAB_TEST_TOKEN, delivery, raw


def test_github_delivery_with_a_valid_signature_is_accepted() -> None:
    detection = delivery("github/push").detect(secret=GITHUB_TEST_SECRET)

    assert len(detection.changes) == 1


def test_github_body_changed_after_signing_is_rejected() -> None:
    signed = delivery("github/push")
    tampered = signed.body.replace(b"refs/heads/main", b"refs/heads/evil")

    with pytest.raises(SignatureMismatch):
        analyse(signed.headers, tampered, GITHUB_TEST_SECRET)


def test_github_signature_made_with_another_secret_is_rejected() -> None:
    with pytest.raises(SignatureMismatch):
        delivery("github/push").detect(secret="another secret")


def test_github_delivery_without_a_signature_is_rejected_when_a_secret_is_set() -> None:
    unsigned = delivery("github/push")
    del unsigned.headers["x-hub-signature-256"]

    with pytest.raises(SignatureMismatch):
        unsigned.detect(secret=GITHUB_TEST_SECRET)


def test_github_signature_is_checked_before_the_body_is_parsed() -> None:
    headers = delivery("github/push").headers

    # A body that is not JSON still fails on the signature, not on parsing.
    with pytest.raises(SignatureMismatch):
        analyse(headers, b"\x00 not json", GITHUB_TEST_SECRET)


def test_without_a_secret_signatures_are_not_required() -> None:
    unsigned = delivery("github/push").with_headers(x_hub_signature_256="sha256=00")

    assert unsigned.detect(secret=None).changes


def test_gitlab_token_must_equal_the_secret() -> None:
    assert delivery("gitlab/push").detect(secret=GITLAB_TEST_TOKEN).changes
    with pytest.raises(SignatureMismatch):
        delivery("gitlab/push").detect(secret="glwh-wrong")


def test_gitlab_delivery_without_its_token_header_is_rejected() -> None:
    tokenless = delivery("gitlab/push")
    del tokenless.headers["x-gitlab-token"]

    with pytest.raises(SignatureMismatch):
        tokenless.detect(secret=GITLAB_TEST_TOKEN)


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("aws/eventbridge-codedeploy-success", "eb-shared-7f3a"),
        ("azure/eventgrid-resource-events", "grid-token-91c2"),
        ("gcp/pubsub-push-logsink-compute-resize", "pubsub-push-token-5e1d"),
        ("native/own-format-change", "jenkins-8c1d"),
    ],
)
def test_other_senders_prove_the_secret_with_a_shared_token(name: str, secret: str) -> None:
    assert delivery(name).detect(secret=secret).source
    with pytest.raises(SignatureMismatch):
        delivery(name).detect(secret=secret + "x")


def test_basic_auth_password_is_accepted_as_the_shared_token() -> None:
    credential = base64.b64encode(b"sns:topic-secret").decode()
    sns = delivery("aws/sns-notification-eventbridge").with_headers(
        authorization=f"Basic {credential}"
    )

    assert sns.detect(secret="topic-secret").changes
    with pytest.raises(SignatureMismatch):
        sns.detect(secret="sns")


def test_malformed_basic_credentials_are_a_mismatch_not_an_error() -> None:
    broken = raw({"summary": "x"}, authorization="Basic !!!not-base64")

    with pytest.raises(SignatureMismatch):
        broken.detect(secret="anything")


def test_the_mismatch_names_the_detected_source() -> None:
    with pytest.raises(SignatureMismatch) as caught:
        delivery("azure/eventgrid-resource-events").detect(secret="wrong")

    assert caught.value.source == "azure_monitor"


def test_header_names_are_matched_case_insensitively() -> None:
    signed = delivery("github/push")
    shouted = {name.upper(): value for name, value in signed.headers.items()}

    assert analyse(shouted, signed.body, GITHUB_TEST_SECRET).source == "github"
