"""lib/net_guard.py: typed base URLs refused (shared mode) or warned about (local mode), and
checked again at request time, with no request ever leaving for a refused address.

No test sends traffic anywhere but 127.0.0.1: host names resolve through a fake getaddrinfo
(numeric addresses only otherwise), and addresses other than 127.0.0.1 are only ever assessed,
never requested.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import openai
import pytest
from seedscope import net_guard
from seedscope.net_guard import (
    GuardPolicy,
    RefusedURL,
    address_class,
    assess_typed_base_url,
    check_typed_base_url,
    guarded_async_client,
    guarded_client,
)
from seedscope.providers.openai_errors import CHAT, describe_openai_error
from seedscope.settings import Settings

RULE_HINT = "(shared mode allows only SEEDSCOPE_ALLOWED_BASE_URLS)"
SECRET = "INTERNAL-SECRET-TOKEN=abc123"
CHAT_ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    ],
}
MODELS_ANSWER = {"object": "list", "data": [{"id": "m", "object": "model", "created": 0}]}


# --- a fake resolver: no DNS query ever leaves the machine -----------------------------------


@dataclass
class FakeDNS:
    answers: dict[str, list[str]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)


@pytest.fixture(autouse=True)
def dns(monkeypatch) -> FakeDNS:
    """socket.getaddrinfo answering names from `answers` (and localhost); anything else must be
    a numeric address (AI_NUMERICHOST: never a DNS query)."""
    fake = FakeDNS(answers={"localhost": ["127.0.0.1", "::1"]})
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        host = host.decode() if isinstance(host, bytes) else host
        fake.asked.append(host)
        if host in fake.answers:
            return [
                (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
                if ":" in address
                else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
                for address in fake.answers[host]
            ]
        return real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    monkeypatch.setattr(net_guard.socket, "getaddrinfo", getaddrinfo)
    return fake


# --- tiny HTTP servers on 127.0.0.1 that count what they receive -----------------------------

Reply = Callable[[str], tuple[int, dict[str, str], bytes]]


def json_reply(payload: Any, status: int = 200) -> Reply:
    body = json.dumps(payload).encode()
    return lambda path: (status, {"Content-Type": "application/json"}, body)


def chat_reply(path: str) -> tuple[int, dict[str, str], bytes]:
    payload = MODELS_ANSWER if path.endswith("/models") else CHAT_ANSWER
    return 200, {"Content-Type": "application/json"}, json.dumps(payload).encode()


@dataclass
class TinyServer:
    httpd: ThreadingHTTPServer
    hits: list[tuple[str, str, str | None]]  # (method, path, Host header)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def url(self, path: str = "/v1", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


def _start(reply: Reply) -> TinyServer:
    hits: list[tuple[str, str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            hits.append((self.command, self.path, self.headers.get("Host")))
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, headers, body = reply(self.path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    return TinyServer(httpd, hits)


@pytest.fixture
def start_server() -> Iterator[Callable[[Reply], TinyServer]]:
    started: list[TinyServer] = []

    def start(reply: Reply = chat_reply) -> TinyServer:
        server = _start(reply)
        started.append(server)
        return server

    yield start
    for server in started:
        server.httpd.shutdown()
        server.httpd.server_close()


# --- calling through the openai SDK with the guarded clients ---------------------------------


def shared(*allowed: str) -> Settings:
    return Settings(shared=True, allowed_base_urls=allowed)


def chat(base_url: str, settings: Settings, max_retries: int = 2) -> Any:
    """One chat completion through AsyncOpenAI on the guarded client (raises what it raises)."""

    async def call() -> Any:
        http_client = guarded_async_client(GuardPolicy.from_settings(settings))
        async with openai.AsyncOpenAI(
            api_key="not-needed",
            base_url=base_url,
            http_client=http_client,
            max_retries=max_retries,
        ) as client:
            return await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=4
            )

    return asyncio.run(call())


def list_models(base_url: str, settings: Settings) -> list[str]:
    http_client = guarded_client(GuardPolicy.from_settings(settings))
    with openai.OpenAI(api_key="not-needed", base_url=base_url, http_client=http_client) as client:
        return [model.id for model in client.models.list().data]


# --- address classes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("169.254.10.1", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.5.4", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.20", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("100.64.0.1", "private"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.1", "special"),
        # IPv6 forms of IPv4 addresses are judged by the IPv4 address.
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "metadata"),
        ("::ffff:10.0.0.1", "private"),
        ("::127.0.0.1", "loopback"),
        ("64:ff9b::a9fe:a9fe", "metadata"),  # NAT64 of 169.254.169.254
        ("2002:c0a8:0101::1", "private"),  # 6to4 of 192.168.1.1
    ],
)
def test_every_non_public_address_class_is_named(address, rule):
    found = address_class(address)
    assert found is not None and found[0] == rule


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "172.32.0.1"]
)
def test_public_addresses_pass(address):
    assert address_class(address) is None


# --- typed base URLs: shared mode refuses, naming the rule -----------------------------------


@pytest.mark.parametrize(
    ("url", "rule", "phrase"),
    [
        ("http://127.0.0.1:{other}/v1", "loopback", "127.0.0.1 is a loopback address"),
        ("http://localhost:8000/v1", "loopback", "localhost is a loopback name"),
        ("http://api.localhost/v1", "loopback", "api.localhost is a loopback name"),
        ("http://[::1]:8000/v1", "loopback", "::1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]:8000/v1", "loopback", "stands for 127.0.0.1"),
        ("http://2130706433:8000/v1", "loopback", "2130706433 resolves to 127.0.0.1"),
        (
            "http://169.254.169.254/latest/meta-data/",
            "metadata",
            "169.254.169.254 is a cloud metadata address",
        ),
        ("http://[fd00:ec2::254]/v1", "metadata", "is a cloud metadata address"),
        ("http://100.100.100.200/v1", "metadata", "is a cloud metadata address"),
        ("http://169.254.3.4/v1", "link-local", "169.254.3.4 is a link-local address"),
        ("http://[fe80::1]/v1", "link-local", "fe80::1 is a link-local address"),
        ("http://10.0.0.7:8000/v1", "private", "10.0.0.7 is a private address"),
        ("http://172.20.0.3/v1", "private", "172.20.0.3 is a private address"),
        ("https://192.168.1.20/v1", "private", "192.168.1.20 is a private address"),
        ("http://0.0.0.0:8000/v1", "unspecified", "0.0.0.0 is the unspecified address"),
        ("http://internal.test/v1", "loopback", "internal.test resolves to 127.0.0.1"),
        ("http://mixed.test/v1", "private", "mixed.test resolves to 10.9.8.7"),
    ],
)
def test_shared_mode_refuses_every_non_public_address_naming_the_rule(
    url, rule, phrase, dns, start_server
):
    server = start_server()
    dns.answers["internal.test"] = ["127.0.0.1"]
    dns.answers["mixed.test"] = ["8.8.8.8", "10.9.8.7"]  # any bad address refuses the host
    settings = shared(server.url())  # only the test server's own URL is allowed
    url = url.format(other=server.port + 1 if server.port < 65535 else 1)
    with pytest.raises(RefusedURL) as caught:
        check_typed_base_url(url, settings)
    message = str(caught.value)
    assert message.startswith("base URL http")
    assert " refused: " in message and phrase in message and message.endswith(RULE_HINT)
    assert assess_typed_base_url(url, settings).rule == rule
    assert server.hits == []


def test_the_message_has_the_shape_the_issue_asks_for():
    with pytest.raises(RefusedURL) as caught:
        check_typed_base_url("http://127.0.0.1:8798/v1", shared())
    assert str(caught.value) == (
        "base URL http://127.0.0.1:8798/v1 refused: 127.0.0.1 is a loopback address "
        "(shared mode allows only SEEDSCOPE_ALLOWED_BASE_URLS)"
    )


def test_shared_mode_with_no_allowlist_accepts_no_typed_url(dns):
    dns.answers["llm.test"] = ["8.8.8.8"]  # a public server: still not allowed
    with pytest.raises(RefusedURL) as caught:
        check_typed_base_url("https://llm.test/v1", shared())
    assert "shared mode accepts no typed base URL (SEEDSCOPE_ALLOWED_BASE_URLS is empty)" in str(
        caught.value
    )
    assert assess_typed_base_url("https://llm.test/v1", shared()).rule == "not-allowlisted"


@pytest.mark.parametrize(
    "url",
    [
        "https://llm.test/v1",
        "https://llm.test/v1/",
        "https://LLM.test./v1/chat/completions",
        "https://llm.test:443/v1",
        "https://user:pw@llm.test/v1",
    ],
)
def test_a_url_under_an_allowed_prefix_is_accepted(url, dns):
    dns.answers["llm.test"] = ["8.8.8.8"]
    assert check_typed_base_url(url, shared("https://llm.test/v1")) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://llm.test/v1",  # another scheme
        "https://llm.test:8443/v1",  # another port
        "https://llm.test/v10",  # not at a segment boundary
        "https://llm.test/",  # above the prefix
        "https://llm.test/v1/../admin",
        "https://llm.test/v1/%2e%2e/admin",
        "https://llm.test.evil.test/v1",
        "https://llm.test@evil.test/v1",
        "https://llm.test\\@evil.test/v1",
        "https://evil.test/?https://llm.test/v1",
        "https://evil.test/#https://llm.test/v1",
    ],
)
def test_prefix_matching_is_by_scheme_host_port_and_path_not_by_text(url, dns):
    dns.answers["llm.test"] = ["8.8.8.8"]
    dns.answers["evil.test"] = dns.answers["llm.test.evil.test"] = ["8.8.4.4"]
    with pytest.raises(RefusedURL) as caught:
        check_typed_base_url(url, shared("https://llm.test/v1"))
    assert (
        "it does not start with any of SEEDSCOPE_ALLOWED_BASE_URLS (shared mode allows only "
        "those: https://llm.test/v1)"
    ) in str(caught.value)


@pytest.mark.parametrize("url", ["ftp://llm.test/v1", "not a url", "", "http:///v1"])
def test_a_url_that_is_not_http_is_refused_in_every_mode(url):
    for settings in (shared(), Settings()):
        assessment = assess_typed_base_url(url, settings)
        assert assessment.refused and assessment.rule == "url"
        assert "is not an http(s) URL with a host" in (assessment.reason or "")


def test_an_allowlisted_host_may_be_private_or_loopback(start_server, dns):
    server = start_server()
    dns.answers["vllm.test"] = ["10.0.0.5"]
    settings = shared(server.url(), "http://10.0.0.5:8000/v1", "http://vllm.test:8000/v1")
    assert check_typed_base_url(server.url(), settings) is None
    assert check_typed_base_url(f"{server.url()}/", settings) is None
    assert check_typed_base_url("http://10.0.0.5:8000/v1", settings) is None
    assert check_typed_base_url("http://vllm.test:8000/v1", settings) is None
    # The exact host: the same address on another port is not allowlisted.
    with pytest.raises(RefusedURL, match="10.0.0.5 is a private address"):
        check_typed_base_url("http://10.0.0.5:8001/v1", settings)


def test_an_allowlisted_name_that_resolves_to_the_metadata_service_is_refused(dns):
    dns.answers["llm.test"] = ["169.254.169.254"]
    with pytest.raises(RefusedURL) as caught:
        check_typed_base_url("http://llm.test/v1", shared("http://llm.test/v1"))
    assert "llm.test resolves to 169.254.169.254, a cloud metadata address" in str(caught.value)
    assert "DNS rebinding" in str(caught.value)


def test_the_configured_base_url_is_trusted_and_never_checked(dns):
    settings = Settings(shared=True, openai_base_url="http://127.0.0.1:8000/v1")
    assert check_typed_base_url("http://127.0.0.1:8000/v1", settings) is None
    assert dns.asked == []  # not even resolved
    with pytest.raises(RefusedURL):
        check_typed_base_url("http://127.0.0.1:8001/v1", settings)


def test_a_refusal_never_shows_credentials_from_the_url():
    with pytest.raises(RefusedURL) as caught:
        check_typed_base_url("http://user:pa55@127.0.0.1:1/v1?key=sk-abc#frag", shared())
    message = str(caught.value)
    assert "http://127.0.0.1:1/v1 refused" in message
    assert "pa55" not in message and "sk-abc" not in message and "frag" not in message


def test_shared_mode_comes_on_with_a_non_loopback_streamlit_address():
    settings = Settings(streamlit_server_address="0.0.0.0")
    assert settings.shared_mode
    with pytest.raises(RefusedURL, match="a loopback address"):
        check_typed_base_url("http://127.0.0.1:8000/v1", settings)


# --- local mode: the same findings are warnings ---------------------------------------------


def test_local_mode_warns_instead_of_refusing(dns):
    dns.answers["internal.test"] = ["192.168.0.9"]
    for url, phrase in [
        ("http://127.0.0.1:8000/v1", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/v1", "169.254.169.254 is a cloud metadata address"),
        ("http://internal.test/v1", "internal.test resolves to 192.168.0.9, a private address"),
    ]:
        warning = check_typed_base_url(url, Settings())
        assert warning is not None and phrase in warning
        assert warning.startswith(f"base URL {url} points at a non-public address: ")
        assert "allowed in local mode, and refused in shared mode" in warning
        assessment = assess_typed_base_url(url, Settings())
        assert not assessment.refused and assessment.warning == warning


def test_local_mode_says_nothing_about_a_public_or_allowlisted_server(dns):
    dns.answers["llm.test"] = ["8.8.8.8"]
    assert check_typed_base_url("https://llm.test/v1", Settings()) is None
    allowed = Settings(allowed_base_urls=("http://127.0.0.1:8000/v1",))
    assert check_typed_base_url("http://127.0.0.1:8000/v1", allowed) is None
    assert check_typed_base_url("http://127.0.0.1:8000/other", allowed) is None  # host rule


def test_local_mode_requests_pass(start_server):
    server = start_server()
    assert chat(server.url(), Settings()).choices[0].message.content == "hi"
    assert len(server.hits) == 1


# --- request time: refused before any connection ---------------------------------------------


@pytest.mark.parametrize(
    ("host", "phrase"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("localhost", "localhost is a loopback name"),
        ("internal.test", "internal.test resolves to 127.0.0.1, a loopback address"),
        ("[::ffff:127.0.0.1]", "stands for 127.0.0.1"),
    ],
)
def test_shared_mode_refuses_the_request_and_the_server_receives_nothing(
    host, phrase, dns, start_server
):
    server = start_server()
    dns.answers["internal.test"] = ["127.0.0.1"]
    base_url = server.url(host=host)
    with pytest.raises(RefusedURL) as caught:
        chat(base_url, shared())
    message = str(caught.value)
    assert message.startswith(f"request to http://{host}:{server.port}/v1/chat/completions")
    assert phrase in message and message.endswith(RULE_HINT)
    with pytest.raises(RefusedURL):
        list_models(base_url, shared())
    assert server.hits == []  # no request at all, and no retry either


def test_another_port_on_an_allowlisted_address_is_refused_at_request_time(start_server):
    allowed, other = start_server(), start_server()
    with pytest.raises(RefusedURL, match="127.0.0.1 is a loopback address"):
        chat(other.url(), shared(allowed.url()))
    assert other.hits == [] and allowed.hits == []


def test_an_allowlisted_server_is_called(fake_server):
    fake_server.reset()
    settings = shared(fake_server.base_url)
    assert check_typed_base_url(fake_server.base_url, settings) is None
    completion = chat(fake_server.base_url, settings)
    assert completion.choices[0].message.content
    assert "fake-model" in list_models(fake_server.base_url, settings)
    assert fake_server.stats()["requests"] == {"chat": 1, "models": 1}


def test_a_request_goes_to_the_address_that_was_checked(dns, start_server):
    server = start_server()
    dns.answers["llm.test"] = ["127.0.0.1"]
    base_url = server.url(host="llm.test")
    chat(base_url, shared(base_url))
    # The connection went to the checked IP; the server saw the name in the Host header, and
    # the name was resolved once, by the guard (the HTTP library never resolved it again).
    assert server.hits == [("POST", "/v1/chat/completions", f"llm.test:{server.port}")]
    assert dns.asked.count("llm.test") == 1


def test_https_keeps_the_name_for_sni_and_falls_back_to_the_next_checked_address(dns):
    # No network here: a mock transport stands in for the connection pool.
    dns.answers["llm.test"] = ["10.0.0.5", "10.0.0.6"]
    seen: list[tuple[str, str | None, object]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(
            (str(request.url), request.headers.get("host"), request.extensions.get("sni_hostname"))
        )
        if request.url.host == "10.0.0.5":
            raise httpx2.ConnectError("refused", request=request)
        return httpx2.Response(200, json=MODELS_ANSWER)

    policy = GuardPolicy.from_settings(shared("https://llm.test/v1"))
    for transport in (
        net_guard.GuardedSyncTransport(policy, httpx2.MockTransport(handler)),
        net_guard.GuardedTransport(policy, httpx2.MockTransport(handler)),
    ):
        request = httpx2.Request("GET", "https://llm.test/v1/models")
        if isinstance(transport, net_guard.GuardedTransport):
            response = asyncio.run(transport.handle_async_request(request))
        else:
            response = transport.handle_request(request)
        assert response.status_code == 200
    expected = [
        ("https://10.0.0.5/v1/models", "llm.test", "llm.test"),
        ("https://10.0.0.6/v1/models", "llm.test", "llm.test"),
    ]
    assert seen == expected * 2


def test_a_name_that_resolves_differently_later_is_refused_then(dns, start_server):
    server = start_server()
    dns.answers["rebind.test"] = ["127.0.0.1"]
    base_url = server.url(host="rebind.test")
    settings = shared(base_url)
    assert check_typed_base_url(base_url, settings) is None
    chat(base_url, settings)
    assert len(server.hits) == 1

    dns.answers["rebind.test"] = ["169.254.169.254"]
    with pytest.raises(RefusedURL) as caught:
        chat(base_url, settings)
    assert "rebind.test resolves to 169.254.169.254, a cloud metadata address" in str(caught.value)
    dns.answers["rebind.test"] = ["127.0.0.1", "0.0.0.0"]
    with pytest.raises(RefusedURL, match="resolves to 0.0.0.0, the unspecified address"):
        list_models(base_url, settings)
    assert len(server.hits) == 1


def test_a_name_that_stops_resolving_fails_to_connect(dns, start_server):
    server = start_server()
    base_url = server.url(host="gone.test")  # not in the fake DNS: does not resolve
    with pytest.raises(openai.APIConnectionError) as caught:
        chat(base_url, shared(base_url), max_retries=0)
    assert isinstance(caught.value.__cause__, httpx2.ConnectError)
    assert "gone.test does not resolve" in str(caught.value.__cause__)
    assert server.hits == []


# --- redirects ---------------------------------------------------------------------------------


def redirect_to(url: str) -> Reply:
    return lambda path: (302, {"Location": url}, b"")


def test_a_redirect_to_loopback_is_not_followed(start_server):
    target = start_server()
    redirector = start_server(redirect_to(target.url("/v1/chat/completions")))
    for settings in (shared(redirector.url()), Settings()):
        with pytest.raises(openai.APIStatusError) as caught:
            chat(redirector.url(), settings, max_retries=0)
        assert caught.value.status_code == 302
    assert len(redirector.hits) == 2
    assert target.hits == []


def test_a_redirect_a_caller_follows_anyway_is_checked_and_refused(start_server):
    target = start_server()
    redirector = start_server(redirect_to(target.url("/v1/models")))
    policy = GuardPolicy.from_settings(shared(redirector.url()))
    with guarded_client(policy) as client, pytest.raises(RefusedURL) as caught:
        client.get(redirector.url("/v1/models"), follow_redirects=True)
    assert str(caught.value) == (
        f"request to {target.url('/v1/models')} refused: 127.0.0.1 is a loopback address "
        f"{RULE_HINT}"
    )

    async def follow() -> None:
        async with guarded_async_client(policy) as client:
            await client.get(redirector.url("/v1/models"), follow_redirects=True)

    with pytest.raises(RefusedURL):
        asyncio.run(follow())
    assert len(redirector.hits) == 2
    assert target.hits == []


# --- the typed server's error body ------------------------------------------------------------


def test_shared_mode_hides_a_typed_servers_error_body(start_server):
    error = {"error": {"message": SECRET, "type": "permission_error"}}
    server = start_server(json_reply(error, status=403))
    settings = shared(server.url())
    with pytest.raises(openai.PermissionDeniedError) as caught:
        chat(server.url(), settings, max_retries=0)

    def describe(echo_body: bool) -> tuple[str, str]:
        return describe_openai_error(
            caught.value,
            endpoint=CHAT,
            host=f"127.0.0.1:{server.port}",
            model="m",
            timeout=5,
            max_retries=0,
            api_key=None,
            base_url=server.url(),
            base_url_origin="typed in the page",
            echo_body=echo_body,
        )

    assert SECRET in describe(True)[1]  # local mode: the server's words help the operator
    error_type, message = describe(False)
    assert error_type == "PermissionDeniedError"
    assert message == (
        f"permission denied (HTTP 403) by 127.0.0.1:{server.port}; the server's message is "
        "not shown in shared mode"
    )
    assert SECRET not in message and "abc123" not in message


def test_a_refusal_is_reported_with_its_rule_by_describe_openai_error(start_server):
    server = start_server()
    with pytest.raises(RefusedURL) as caught:
        chat(server.url(), shared())
    error_type, message = describe_openai_error(
        caught.value,
        endpoint=CHAT,
        host=f"127.0.0.1:{server.port}",
        model="m",
        timeout=5,
        max_retries=2,
        api_key=None,
        echo_body=False,
    )
    assert error_type == "RefusedURL"
    assert message == str(caught.value)
