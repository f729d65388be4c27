"""Where channels may send: the address policy, and the guard on every connection."""

from __future__ import annotations

import ipaddress

import pytest

from changetrail_api.channels.ssrf import (
    AddressPolicy,
    DestinationRefusedError,
    GuardedBackend,
    IPAddress,
    destination_problem,
    url_problem,
)
from changetrail_api.channels.transport import Outbound, Transport
from tests.channels.receiver import Receiver, Reply

DEFAULT = AddressPolicy()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("100.64.0.1", "not publicly routable"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - the address refused, not one bound
        ("224.0.0.1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("64:ff9b::a9fe:a9fe", "link-local"),
        ("2002:7f00:1::", "loopback"),
    ],
)
def test_non_public_addresses_are_refused_by_default(address: str, reason: str) -> None:
    refusal = DEFAULT.refusal(ipaddress.ip_address(address))
    assert refusal is not None
    assert reason in refusal


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111", "1.1.1.1"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert DEFAULT.refusal(ipaddress.ip_address(address)) is None


def test_the_install_may_allow_private_destinations_or_some_networks() -> None:
    assert AddressPolicy(allow_private=True).refusal(ipaddress.ip_address("127.0.0.1")) is None
    some = AddressPolicy(allowed_networks=(ipaddress.ip_network("10.96.0.0/12"),))
    assert some.refusal(ipaddress.ip_address("10.96.1.1")) is None
    assert some.refusal(ipaddress.ip_address("10.0.0.1")) is not None
    assert some.refusal(ipaddress.ip_address("169.254.169.254")) is not None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/x", "http:// or https://"),
        ("https:///path", "must name a host"),
        ("https://example.com:0/", "port 0"),
        ("https://example.com:99999/", "not a valid URL"),
        ("hooks.slack.com/services/x", "http:// or https://"),
    ],
)
def test_urls_are_checked_as_written(url: str, problem: str) -> None:
    found = url_problem(url)
    assert found is not None
    assert problem in found


async def test_a_destination_is_checked_by_the_addresses_it_resolves_to() -> None:
    assert "loopback" in (await destination_problem("http://127.0.0.1:9/", DEFAULT) or "")
    assert "loopback" in (await destination_problem("http://localhost:9/", DEFAULT) or "")
    assert "link-local" in (await destination_problem("http://[fe80::1]/", DEFAULT) or "")
    assert (
        await destination_problem("http://127.0.0.1:9/", AddressPolicy(allow_private=True)) is None
    )


async def test_a_name_resolving_to_any_private_address_is_refused_at_connect() -> None:
    async def resolver(host: str, port: int) -> list[IPAddress]:
        # A hostile DNS answer: a public address first, the metadata endpoint second.
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("169.254.169.254")]

    backend = GuardedBackend(DEFAULT, resolver)
    with pytest.raises(DestinationRefusedError, match=r"169\.254\.169\.254"):
        await backend.connect_tcp("innocent.example", 80)


async def test_the_transport_refuses_loopback_by_default_and_sends_nothing(
    receiver: Receiver,
) -> None:
    transport = Transport(DEFAULT, timeout=2)
    try:
        answer = await transport.send(Outbound(url=receiver.url + "/hook", body=b"{}"))
    finally:
        await transport.aclose()
    assert answer.refused
    assert answer.status is None
    assert "loopback" in (answer.error or "")
    assert receiver.requests == []


async def test_a_redirect_to_the_metadata_endpoint_is_not_followed(receiver: Receiver) -> None:
    """The first hop is an allowed network; where it redirects to is checked again."""
    receiver.responder = lambda _r: Reply(
        status=307, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    policy = AddressPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    transport = Transport(policy, timeout=2)
    try:
        answer = await transport.send(Outbound(url=receiver.url + "/hook", body=b"{}"))
    finally:
        await transport.aclose()
    assert answer.refused
    assert "169.254.169.254 is a link-local address" in (answer.error or "")
    assert len(receiver.requests) == 1


async def test_a_redirect_to_loopback_is_not_followed(receiver: Receiver) -> None:
    receiver.responder = lambda _r: Reply(status=308, headers={"Location": "http://[::1]:9/x"})
    policy = AddressPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    transport = Transport(policy, timeout=2)
    try:
        answer = await transport.send(Outbound(url=receiver.url + "/hook", body=b"{}"))
    finally:
        await transport.aclose()
    assert answer.refused
    assert "::1 is a loopback address" in (answer.error or "")


async def test_redirects_to_allowed_places_are_followed_with_the_body(receiver: Receiver) -> None:
    receiver.responder = lambda r: (
        Reply(status=307, headers={"Location": "/moved"}) if r.path == "/hook" else Reply()
    )
    transport = Transport(AddressPolicy(allow_private=True), timeout=2)
    try:
        answer = await transport.send(Outbound(url=receiver.url + "/hook", body=b'{"a": 1}'))
    finally:
        await transport.aclose()
    assert answer.ok
    assert [(r.path, r.body) for r in receiver.requests] == [
        ("/hook", b'{"a": 1}'),
        ("/moved", b'{"a": 1}'),
    ]


async def test_every_call_has_a_timeout(receiver: Receiver) -> None:
    receiver.responder = lambda _r: Reply(hang=True)
    transport = Transport(AddressPolicy(allow_private=True), timeout=0.3)
    try:
        answer = await transport.send(Outbound(url=receiver.url + "/hook", body=b"{}"))
    finally:
        await transport.aclose()
    assert answer.status is None
    assert answer.uncertain  # it was sent; whether it was acted on is unknown
    assert "timed out" in (answer.error or "") or "in time" in (answer.error or "")


async def test_a_closed_port_is_a_plain_failure(receiver: Receiver) -> None:
    await receiver.down()
    transport = Transport(AddressPolicy(allow_private=True), timeout=1)
    try:
        answer = await transport.send(Outbound(url=receiver.url + "/hook", body=b"{}"))
    finally:
        await transport.aclose()
    assert answer.status is None
    assert not answer.uncertain
    assert "could not connect" in (answer.error or "")
