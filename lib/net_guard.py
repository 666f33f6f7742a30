"""Server-side request forgery guard for base URLs that a visitor types in the page.

A base URL typed in the page makes the *server* send requests to that address. On a machine
others can reach, that turns Seedscope into a proxy to whatever the server can reach: loopback
services, the private network, the cloud metadata service. This module decides, for such a URL,
whether the server may call it, and enforces that decision at request time.

Rules (`GuardPolicy.assess`):
- Only http(s) URLs with a host are accepted, in every mode.
- Shared mode (`Settings.shared_mode`): the URL must start with one of
  SEEDSCOPE_ALLOWED_BASE_URLS (same scheme, host and port; the path at a segment boundary, with
  no `.`/`..` segment). An empty list accepts no typed URL at all.
- Every mode: the host is resolved (all of its addresses) and the URL is refused if any address
  is loopback, link-local (169.254.0.0/16, fe80::/10), private (10/8, 172.16/12, 192.168/16,
  fc00::/7), carrier-grade NAT (100.64/10), unspecified, multicast, reserved or otherwise not
  public, a cloud metadata address (169.254.169.254, fd00:ec2::254, 100.100.100.200), or an IPv6
  address that embeds such an IPv4 one (IPv4-mapped, IPv4-compatible, 6to4, NAT64), unless that
  exact host (host and port) is one of the allowlisted prefixes' hosts. `localhost` and
  `*.localhost` are loopback without asking DNS. An allowlisted host *name* is still refused when
  it resolves to a metadata or unspecified address: no LLM server answers there, and a name that
  does is DNS rebinding; an allowlisted IP literal is taken as written.
- In local mode an address finding is a warning (`Assessment.warning`), not a refusal.
- The configured OPENAI_BASE_URL is trusted and never checked (`assess_typed_base_url`).

Request time (`GuardedTransport`, `GuardedSyncTransport`, `guarded_async_client`,
`guarded_client`): in shared mode every request, including any redirect a caller chose to follow,
is assessed again with a fresh resolution, so a host name that resolves differently later is
refused then; a refused request raises `RefusedURL` before any connection is opened. The clients
never follow redirects. An accepted request is sent to an address that was just checked: its URL
host is replaced by that IP, while the Host header keeps the name and, for https, TLS sends the
name as SNI and verifies the certificate against it. So there is no window between the check and
the connection in which DNS could answer differently (no DNS rebinding window). Limits that
remain: an allowlisted host name is trusted to resolve to the operator's server (apart from the
metadata/unspecified rule above); proxies from the environment (HTTP_PROXY, ...) are not used by
these clients (a proxy would resolve names itself, out of reach of the check); and in local mode
the transports pass requests through unchanged.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import anyio.to_thread
import httpx2
from seedscope.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWLIST_VARIABLE = "SEEDSCOPE_ALLOWED_BASE_URLS"
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# Classes refused even for an allowlisted host name (see the module docstring).
_NEVER_BEHIND_A_NAME = frozenset({"metadata", "unspecified"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
DEFAULT_LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=20)


class RefusedURL(ValueError):
    """A typed base URL, or a request to one, is refused; the message names the rule."""


@dataclass(frozen=True)
class Assessment:
    """What the guard says about one URL.

    `refused`: the server must not call it. `reason`: one readable sentence naming the rule
    (the refusal, or in local mode the warning); None when nothing is wrong. `rule`: a short
    name for the rule ("not-allowlisted", "loopback", "private", "metadata", ...).
    `addresses`: what the host resolved to (every one of them checked), empty if it did not
    resolve.
    """

    refused: bool
    reason: str | None = None
    rule: str | None = None
    addresses: tuple[str, ...] = ()

    @property
    def warning(self) -> str | None:
        """The reason when it is only a warning (local mode), else None."""
        return None if self.refused else self.reason


def url_for_messages(url: str) -> str:
    """A URL as a message may show it: scheme, host, port and path only (user info,
    query and fragment can carry credentials)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "(not a URL)"
    if not parts.scheme or not parts.hostname:
        return "(not a URL)"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}{parts.path}"


# --- addresses ------------------------------------------------------------------------------


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, compatible, 6to4, NAT64), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):  # not :: or ::1
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_class(address: str | IPAddress) -> tuple[str, str] | None:
    """(rule, phrase) for an address the server must not be sent to, e.g.
    ("loopback", "a loopback address"); None for a public address."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        ip = ipaddress.IPv6Address(int(ip))  # fe80::1%eth0 -> fe80::1
    if ip in METADATA_ADDRESSES:
        return "metadata", "a cloud metadata address"
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        found = address_class(embedded)
        return None if found is None else (found[0], f"{found[1]} ({ip} stands for {embedded})")
    if ip.is_unspecified:
        return "unspecified", "the unspecified address (it reaches this machine)"
    if ip.is_loopback:
        return "loopback", "a loopback address"
    if ip.is_link_local:
        return "link-local", "a link-local address"
    if ip.is_multicast:
        return "multicast", "a multicast address"
    if any(ip in network for network in _PRIVATE_NETWORKS if network.version == ip.version):
        return "private", "a private address"
    if ip in _SHARED_ADDRESS_SPACE:
        return "private", "a carrier-grade NAT (shared, non-public) address"
    if ip.is_reserved:
        return "reserved", "a reserved address"
    if not ip.is_global:
        return "special", "a special-purpose (non-public) address"
    return None


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_localhost_name(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def resolve_host(host: str, port: int) -> tuple[str, ...]:
    """Every address `host` resolves to, in the resolver's order (an IP literal: itself).

    Uses `socket.getaddrinfo`, looked up at call time (tests replace it); raises OSError
    (socket.gaierror) when the name does not resolve.
    """
    if _ip_literal(host) is not None:
        return (host,)
    addresses: list[str] = []
    for family, _, _, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if family in (socket.AF_INET, socket.AF_INET6) and str(sockaddr[0]) not in addresses:
            addresses.append(str(sockaddr[0]))
    return tuple(addresses)


# --- URLs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """Where a URL goes, as httpx2 parses it (what is checked is what is connected to)."""

    scheme: str
    host: str  # ASCII (IDNA), lower case, no trailing dot, IPv6 without brackets
    port: int
    path: str  # percent-decoded

    @property
    def host_port(self) -> tuple[str, int]:
        return self.host, self.port


def _target(url: str | httpx2.URL) -> _Target | None:
    try:
        parsed = url if isinstance(url, httpx2.URL) else httpx2.URL(url)
    except (httpx2.InvalidURL, TypeError, ValueError):
        return None
    scheme = parsed.scheme.lower()
    host = parsed.raw_host.decode("ascii", "replace").lower().rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return _Target(scheme, host, parsed.port or _DEFAULT_PORTS[scheme], unquote(parsed.path))


def _path_within(path: str, prefix_path: str) -> bool:
    if any(segment in (".", "..") for segment in path.split("/")):
        return False
    prefix_path = prefix_path.rstrip("/")
    return not prefix_path or path == prefix_path or path.startswith(prefix_path + "/")


def _starts_with(target: _Target, prefix: _Target) -> bool:
    return (
        target.scheme == prefix.scheme
        and target.host_port == prefix.host_port
        and _path_within(target.path, prefix.path)
    )


# --- the policy -----------------------------------------------------------------------------


@dataclass(frozen=True)
class GuardPolicy:
    """The rules for typed base URLs: shared or local mode, and the allowlisted prefixes."""

    shared: bool
    allowed_base_urls: tuple[str, ...] = ()
    _prefixes: tuple[_Target, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # An entry httpx2 cannot parse never matches (settings validated it already).
        prefixes = tuple(_target(prefix) for prefix in self.allowed_base_urls)
        object.__setattr__(self, "_prefixes", tuple(p for p in prefixes if p is not None))

    @classmethod
    def from_settings(cls, settings: Settings) -> GuardPolicy:
        return cls(shared=settings.shared_mode, allowed_base_urls=settings.allowed_base_urls)

    def assess(self, url: str | httpx2.URL, subject: str = "base URL") -> Assessment:
        """The guard's verdict on `url` (resolves its host). `subject` starts the message:
        "base URL" for a typed URL, "request to" at request time."""
        shown = f"{subject} {url_for_messages(str(url))}"
        target = _target(url)
        if target is None:
            return Assessment(True, f"{shown} refused: it is not an http(s) URL with a host", "url")
        allowlisted_host = any(target.host_port == p.host_port for p in self._prefixes)
        try:
            addresses = resolve_host(target.host, target.port)
        except (OSError, UnicodeError):
            addresses = ()  # cannot be connected to either; a request fails to connect
        finding = _address_finding(target, addresses, allowlisted_host)
        if self.shared and not any(_starts_with(target, p) for p in self._prefixes):
            if finding is not None:
                rule, why = finding
                why += f" (shared mode allows only {ALLOWLIST_VARIABLE})"
            else:
                rule, why = "not-allowlisted", self._not_allowlisted()
            return Assessment(True, f"{shown} refused: {why}", rule, addresses)
        if finding is None:
            return Assessment(False, None, None, addresses)
        rule, why = finding
        if self.shared:
            return Assessment(True, f"{shown} refused: {why}", rule, addresses)
        warning = (
            f"{shown} points at a non-public address: {why}. The server sends requests there; "
            f"that is allowed in local mode, and refused in shared mode unless "
            f"{ALLOWLIST_VARIABLE} lists it"
        )
        return Assessment(False, warning, rule, addresses)

    def check(self, url: str | httpx2.URL, subject: str = "base URL") -> Assessment:
        """`assess`, raising RefusedURL when refused (a local-mode warning is returned)."""
        assessment = self.assess(url, subject)
        if assessment.refused:
            raise RefusedURL(assessment.reason)
        return assessment

    def _not_allowlisted(self) -> str:
        if not self.allowed_base_urls:
            return (
                f"shared mode accepts no typed base URL ({ALLOWLIST_VARIABLE} is empty); "
                "use the configured server, or ask the operator to allow this one"
            )
        allowed = ", ".join(url_for_messages(prefix) for prefix in self.allowed_base_urls)
        return (
            f"it does not start with any of {ALLOWLIST_VARIABLE} (shared mode allows only "
            f"those: {allowed})"
        )


def _address_finding(
    target: _Target, addresses: Sequence[str], allowlisted_host: bool
) -> tuple[str, str] | None:
    """(rule, why) for the first address of `target` the server must not be sent to."""
    literal = _ip_literal(target.host) is not None
    if _is_localhost_name(target.host) and not allowlisted_host:
        return "loopback", f"{target.host} is a loopback name"
    for address in addresses:
        found = address_class(address)
        if found is None:
            continue
        rule, phrase = found
        if allowlisted_host and (literal or rule not in _NEVER_BEHIND_A_NAME):
            continue
        if literal:
            return rule, f"{target.host} is {phrase}"
        why = f"{target.host} resolves to {address}, {phrase}"
        if allowlisted_host:
            why += " (refused even for an allowlisted host name: that answer is DNS rebinding)"
        return rule, why
    return None


def assess_typed_base_url(url: str, settings: Settings) -> Assessment:
    """The guard's verdict on a base URL typed in the page; the configured OPENAI_BASE_URL is
    trusted and never checked."""
    if settings.openai_base_url is not None and url == settings.openai_base_url:
        return Assessment(False)
    return GuardPolicy.from_settings(settings).assess(url)


def check_typed_base_url(url: str, settings: Settings) -> str | None:
    """Raise RefusedURL if the server must not call `url`; otherwise return the local-mode
    warning about it (None when there is nothing to say)."""
    assessment = assess_typed_base_url(url, settings)
    if assessment.refused:
        raise RefusedURL(assessment.reason)
    return assessment.warning


# --- request time ---------------------------------------------------------------------------


def _unresolvable(request: httpx2.Request) -> httpx2.ConnectError:
    host = request.url.raw_host.decode("ascii", "replace")
    return httpx2.ConnectError(f"{host} does not resolve to any address", request=request)


def _pinned(request: httpx2.Request, address: str) -> httpx2.Request:
    """`request` sent to `address`: the URL host becomes the IP, the Host header keeps the
    name, and https sends the name as SNI (and verifies the certificate against it)."""
    host = request.url.raw_host.decode("ascii")
    if _ip_literal(host) is not None:
        return request
    extensions = dict(request.extensions)
    if request.url.scheme == "https":
        extensions.setdefault("sni_hostname", host)
    return httpx2.Request(
        request.method,
        request.url.copy_with(host=address),
        headers=request.headers,
        stream=request.stream,
        extensions=extensions,
    )


class GuardedTransport(httpx2.AsyncBaseTransport):
    """An httpx2 async transport that assesses every request in shared mode (see module doc).

    A refused request raises RefusedURL, which the openai SDK passes on as it is (it retries
    and wraps only httpx2's own errors), before any connection is opened. An accepted one goes
    to the first checked address that accepts a connection. In local mode requests pass
    through unchanged.
    """

    def __init__(
        self,
        policy: GuardPolicy,
        inner: httpx2.AsyncBaseTransport | None = None,
        *,
        verify: ssl.SSLContext | str | bool = True,
        limits: httpx2.Limits = DEFAULT_LIMITS,
    ) -> None:
        self.policy = policy
        self._inner = inner or httpx2.AsyncHTTPTransport(
            verify=verify, limits=limits, trust_env=False
        )

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if not self.policy.shared:
            return await self._inner.handle_async_request(request)
        check = functools.partial(self.policy.check, request.url, "request to")
        addresses = (await anyio.to_thread.run_sync(check)).addresses  # getaddrinfo blocks
        if not addresses:
            raise _unresolvable(request)
        for address in addresses[:-1]:
            try:
                return await self._inner.handle_async_request(_pinned(request, address))
            except httpx2.ConnectError:  # nothing was sent: try the next checked address
                continue
        return await self._inner.handle_async_request(_pinned(request, addresses[-1]))

    async def aclose(self) -> None:
        await self._inner.aclose()


class GuardedSyncTransport(httpx2.BaseTransport):
    """GuardedTransport for the blocking client (e.g. the openai SDK's model list)."""

    def __init__(
        self,
        policy: GuardPolicy,
        inner: httpx2.BaseTransport | None = None,
        *,
        verify: ssl.SSLContext | str | bool = True,
        limits: httpx2.Limits = DEFAULT_LIMITS,
    ) -> None:
        self.policy = policy
        self._inner = inner or httpx2.HTTPTransport(verify=verify, limits=limits, trust_env=False)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if not self.policy.shared:
            return self._inner.handle_request(request)
        addresses = self.policy.check(request.url, "request to").addresses
        if not addresses:
            raise _unresolvable(request)
        for address in addresses[:-1]:
            try:
                return self._inner.handle_request(_pinned(request, address))
            except httpx2.ConnectError:
                continue
        return self._inner.handle_request(_pinned(request, addresses[-1]))

    def close(self) -> None:
        self._inner.close()


def guarded_async_client(
    policy: GuardPolicy,
    *,
    verify: ssl.SSLContext | str | bool = True,
    limits: httpx2.Limits = DEFAULT_LIMITS,
) -> httpx2.AsyncClient:
    """An httpx2.AsyncClient for a typed base URL: GuardedTransport, no redirects followed, no
    proxies or other settings from the environment. Pass it as `openai.AsyncOpenAI(http_client=)`;
    the SDK sets each request's timeout itself."""
    transport = GuardedTransport(policy, verify=verify, limits=limits)
    return httpx2.AsyncClient(transport=transport, follow_redirects=False, trust_env=False)


def guarded_client(
    policy: GuardPolicy,
    *,
    verify: ssl.SSLContext | str | bool = True,
    limits: httpx2.Limits = DEFAULT_LIMITS,
) -> httpx2.Client:
    """The blocking counterpart of guarded_async_client, for `openai.OpenAI(http_client=)`."""
    transport = GuardedSyncTransport(policy, verify=verify, limits=limits)
    return httpx2.Client(transport=transport, follow_redirects=False, trust_env=False)
