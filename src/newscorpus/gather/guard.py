"""Host guard: refuse URLs whose host resolves to a loopback, private, link-local or reserved address.

A refused URL is never connected to. A host (or host:port) listed in ``allow_hosts`` or given with
``--allow-host`` passes. The fetcher calls the guard on the first URL and on every redirect hop,
and applies the same rule once more to the address each response's connection actually reached
(:meth:`HostGuard.check_peer`): a name may resolve to a public address for the guard and to a
private one when the connection is made (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class HostRefused(FetchError):
    """The guard refused a URL (its host is not public and not allowed)."""

    reason = "host_refused"


class HostUnresolved(HostRefused):
    """The host does not resolve (DNS): nothing to connect to, perhaps only for now."""

    reason = "dns_error"


def is_public(addr: IPAddress) -> bool:
    """True when an address is a global unicast address (not loopback, private, reserved, ...)."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return not (
        addr.is_loopback
        or addr.is_private
        or addr.is_link_local
        or addr.is_reserved
        or addr.is_multicast
        or addr.is_unspecified
        or not addr.is_global
    )


class HostGuard:
    """Decides whether a URL may be fetched; resolves its host first."""

    def __init__(self, allow_hosts: Iterable[str] = ()) -> None:
        self.allowed = frozenset(h.strip().lower() for h in allow_hosts if h.strip())
        self._cache: dict[str, list[IPAddress]] = {}

    def is_allowed(self, host: str, port: int) -> bool:
        """True when the host, or host:port, is listed as allowed."""
        host = host.lower()
        bracketed = f"[{host}]" if ":" in host else host
        return bool({host, bracketed, f"{bracketed}:{port}"} & self.allowed)

    @staticmethod
    def split(url: str) -> tuple[str, str, int]:
        """(scheme, host, port) of an http(s) URL; HostRefused for anything else."""
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise HostRefused(f"{url}: not a valid URL ({exc})") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise HostRefused(f"{url}: scheme {scheme or '(none)'!r} is not fetched")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise HostRefused(f"{url}: bad port") from None
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            raise HostRefused(f"{url}: no host")
        return scheme, host, port

    def _verdict(self, url: str, host: str, port: int, addrs: list[IPAddress]) -> None:
        if not addrs:
            raise HostUnresolved(f"{url}: {host} does not resolve")
        bad = [a for a in addrs if not is_public(a)]
        if bad:
            raise HostRefused(
                f"{url}: {host} resolves to non-public address {bad[0]} "
                f"(allow it with --allow-host {host}:{port})"
            )

    def check(self, url: str) -> None:
        """Raise HostRefused unless ``url`` may be fetched (blocking DNS lookup)."""
        _, host, port = self.split(url)
        if self.is_allowed(host, port):
            return
        addrs = self._cache.get(host)
        if addrs is None:
            addrs = _parse_literal(host)
            if addrs is None:
                addrs = resolve(host, port)
            self._cache[host] = addrs
        self._verdict(url, host, port, addrs)

    async def acheck(self, url: str) -> None:
        """Raise HostRefused unless ``url`` may be fetched (DNS lookup off the event loop)."""
        _, host, port = self.split(url)
        if self.is_allowed(host, port):
            return
        addrs = self._cache.get(host)
        if addrs is None:
            addrs = _parse_literal(host)
            if addrs is None:
                addrs = await aresolve(host, port)
            self._cache[host] = addrs
        self._verdict(url, host, port, addrs)

    def check_peer(self, url: str, server_addr: object) -> None:
        """Raise HostRefused unless the address a connection for ``url`` reached may be used.

        The rule of :meth:`check`, applied to ``server_addr`` (the socket's peer, as httpcore's
        ``network_stream.get_extra_info("server_addr")`` gives it) instead of a DNS answer: a
        listed host passes, otherwise the address must be public. An unknown address is refused.
        """
        _, host, port = self.split(url)
        if self.is_allowed(host, port):
            return
        addr = _peer_address(server_addr)
        if addr is None:
            raise HostRefused(f"{url}: {host} connected to an unknown address")
        if not is_public(addr):
            raise HostRefused(
                f"{url}: {host} connected to non-public address {addr}, not to the address "
                f"checked before (allow it with --allow-host {host}:{port})"
            )


def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses of ``host`` (blocking DNS lookup); empty when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return _addresses(infos)


async def aresolve(host: str, port: int) -> list[IPAddress]:
    """The addresses of ``host`` (DNS lookup off the event loop); empty when it does not resolve."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return _addresses(infos)


def _parse_literal(host: str) -> list[IPAddress] | None:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        return None


def _peer_address(sockaddr: object) -> IPAddress | None:
    """The IP address of a socket address tuple (IPv4 or IPv6, zone id dropped), or None."""
    if not isinstance(sockaddr, tuple) or not sockaddr:
        return None
    try:
        return ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
    except ValueError:
        return None


def _addresses(infos: Sequence[tuple[Any, ...]]) -> list[IPAddress]:
    return [a for a in (_peer_address(info[4]) for info in infos) if a is not None]
