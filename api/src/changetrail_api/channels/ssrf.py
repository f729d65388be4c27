"""Where channels may send: public addresses only, unless the install says otherwise.

A channel's URL is chosen by an API user, and the API runs inside a cluster next to cloud
metadata endpoints (169.254.169.254), the Kubernetes API and databases. Without a guard, a
user who may create channels could make the API call any of those (server-side request
forgery). So every connection a channel makes, including each hop of a redirect, is checked
where it is opened: the host name is resolved, every address it resolves to is checked, and the
connection goes to the checked address (so a DNS answer cannot change between check and use).

Private, loopback, link-local, shared, reserved and multicast addresses are refused, as are
IPv6 forms that embed one (IPv4-mapped, 6to4, Teredo, NAT64). An install may allow them all
(``CHANGETRAIL_CHANNELS_ALLOW_PRIVATE_DESTINATIONS``, e.g. for an in-cluster Grafana) or only
some networks (``CHANGETRAIL_CHANNELS_ALLOWED_NETWORKS``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_RESOLVE_SECONDS = 5.0


class DestinationRefusedError(Exception):
    """A connection the address policy does not allow; nothing was sent."""


def _embedded(address: IPAddress) -> list[IPAddress]:
    """The address and any IPv4 address an IPv6 form carries inside it."""
    found: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            found.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            found.append(address.sixtofour)
        if address.teredo is not None:
            found.append(address.teredo[1])
        if address in _NAT64:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _why_not_public(address: IPAddress) -> str | None:
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "not publicly routable"
    return None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()

    def refusal(self, address: IPAddress) -> str | None:
        """Why a connection to ``address`` is refused, or None when it is allowed."""
        if self.allow_private:
            return None
        if any(address in network for network in self.allowed_networks):
            return None
        # The embedded IPv4 address first: it says where the connection would really go.
        for candidate in reversed(_embedded(address)):
            reason = _why_not_public(candidate)
            if reason is not None:
                shown = str(address) if candidate == address else f"{address} ({candidate})"
                return (
                    f"{shown} is a {reason} address; channels may reach it only when the "
                    "install allows private destinations"
                )
        return None

    def check(self, addresses: Iterable[IPAddress]) -> None:
        for address in addresses:
            reason = self.refusal(address)
            if reason is not None:
                raise DestinationRefusedError(reason)


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), _RESOLVE_SECONDS
        )
    except (OSError, TimeoutError) as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, with every TCP connection checked against the policy."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver | None = None) -> None:
        self._policy = policy
        self._resolve = resolver or resolve
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port)
        # Any refused address refuses the name: a DNS answer mixing a public and a private
        # address must not get through on the second try.
        self._policy.check(addresses)
        last: Exception = httpcore.ConnectError(f"{host} resolved to no address")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefusedError("channels connect over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def url_problem(url: str) -> str | None:
    """What is wrong with a destination URL as written, or None (its host is checked later)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "must name a host"
    if port == 0:
        return "must not use port 0"
    return None


async def destination_problem(url: str, policy: AddressPolicy) -> str | None:
    """Why a channel may not send to ``url``, checked when the channel is saved.

    The host's current addresses are checked too, so an obviously internal URL is refused at
    once; a name that does not resolve yet is accepted (DNS may be set up later), and every
    connection is checked again when it is made.
    """
    problem = url_problem(url)
    if problem is not None:
        return problem
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses: Sequence[IPAddress] = await resolve(host, port)
    except httpcore.ConnectError:
        return None
    try:
        policy.check(addresses)
    except DestinationRefusedError as exc:
        return str(exc)
    return None
