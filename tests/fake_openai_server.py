"""A small fault-injecting OpenAI-compatible HTTP server for tests and benchmarks.

Speaks Chat Completions (`POST /v1/chat/completions`), Embeddings (`POST /v1/embeddings`) and
Models (`GET /v1/models`) on 127.0.0.1, using only the standard library so any test can start it
as a subprocess:

    python tests/fake_openai_server.py --port 0 --latency 0.2 --fault-rate 0.3

It prints one line `READY <port>` on stdout once it accepts connections.

Behaviour
- Output is deterministic per (seed, messages, model, temperature, top_p, max_tokens) when a seed
  is sent or the temperature is 0, and varies from call to call otherwise (like a real backend).
- Embeddings are deterministic unit vectors derived from the sha256 of each input text
  (floats, or base64 float32 when `encoding_format` is "base64", as the SDK asks by default).
- `--fingerprint X` reports X as `system_fingerprint`; without it the field is null.
- Seed and load behaviours (for the seed check and the load probe; default: none of them):
  `--ignore-seed` drops the seed as a gateway can (outputs then vary from call to call unless
  the temperature is 0); `--deterministic` gives the same text for the same messages, model and
  max_tokens whatever the seed and temperature; `--load-dependent N` changes the second half of
  the words of a call (the same change for the same load) when more than N model calls were in
  flight at some moment of it, as batch-variant kernels do on a busy server; `--flaky-every N`
  changes the second half of the words of every Nth chat call (counted from start or
  `/_reset`), as a near-tie tipping the other way, so a seed is honoured but not always.
- Logprobs: a request with `logprobs: true` gets `choices[0].logprobs.content`, one entry per
  token (the text cut before each run of whitespace, so the tokens join to the text) with a
  logprob and `top_logprobs` alternatives (the chosen token first; every 4th position a near
  tie, top-2 margin 0.004). `--no-logprobs` ignores the request (logprobs null), as servers
  without support do; `--logprobs-change-output` changes the second half of the words of a call
  that asks for logprobs, as reported for a server whose logprob path computes differently.
- `--payload xss` puts HTML/JS into every completion; `--payload echo` returns the user message.
- Faults, chosen at random per chat/embeddings request with `--fault-rate` among `--faults`:
  `429` (with `Retry-After`), `500`, `timeout` (sleeps `--hang` seconds, longer than a client
  timeout), `drop` (closes the connection without a response), `malformed` (truncated JSON).
  A model named `fault-<kind>` (e.g. `fault-429`, also `fault-400`, `fault-401`, `fault-403`,
  `fault-404`, `fault-nochoices`) always gets that fault, so one server serves many tests.
- `--api-key K` requires `Authorization: Bearer K` (401 otherwise). With `--echo-key` the 401
  message quotes the token it was given, as some servers do, to test that clients mask it.
- `--no-models` makes `/v1/models` answer 404, like servers that do not offer it.
- Test hooks: `GET /_health`, `GET /_stats` (request counts, faults injected, max in flight,
  the log of chat requests in arrival order with their seed, temperature, top_p, max_tokens,
  logprobs, top_logprobs,
  user message, monotonic arrival time and `in_flight_peak` (the most model calls in flight at
  once during the call, set when it is answered), the log of embeddings requests with their model,
  encoding_format and number of inputs), `POST /_reset` (clears the stats).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import math
import random
import re
import socket
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULT_KINDS = ("429", "500", "timeout", "drop", "malformed")
FORCED_FAULTS = FAULT_KINDS + ("400", "401", "403", "404", "nochoices")
WORDS = [
    *("mars", "rover", "crew", "orbit", "launch", "dust", "crater", "signal", "mission"),
    *("habitat", "oxygen", "engine", "landing", "red", "planet", "journey", "module"),
    *("station", "solar", "wind", "storm", "ice", "canyon", "horizon", "commander", "pilot"),
    *("telemetry", "gravity", "descent", "parachute", "base", "colony", "water", "soil"),
]
XSS = '<script>alert("xss")</script><img src=x onerror="alert(1)"><b>bold</b> '


class Stats:
    """Counters shared by the handler threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next_token = 0  # never reset: a call in flight across /_reset keeps its token
        self.reset()

    def reset(self) -> None:
        self.requests: dict[str, int] = {}
        self.faults: dict[str, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.chat_calls = 0  # chat completions answered, for --flaky-every
        # Model calls in flight by token: the most calls in flight at once during each one.
        self.peaks: dict[int, int] = {}
        self.chat_log: list[dict[str, Any]] = []
        self.embeddings_log: list[dict[str, Any]] = []

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": dict(self.requests),
                "faults": dict(self.faults),
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "chat_log": [dict(entry) for entry in self.chat_log],
                "embeddings_log": list(self.embeddings_log),
            }


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True  # a hanging "timeout" fault must not block shutdown
    # socketserver's default listen backlog of 5 drops bursts of new connections, and each
    # dropped one then waits a 200 ms TCP retransmission.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], options: argparse.Namespace) -> None:
        super().__init__(address, Handler)
        self.options = options
        self.stats = Stats()
        self.fault_rng = random.Random(options.fault_seed)
        self.fault_lock = threading.Lock()

    def pick_fault(self, model: str) -> str | None:
        if model.startswith("fault-") and model[len("fault-") :] in FORCED_FAULTS:
            return model[len("fault-") :]
        with self.fault_lock:
            if self.options.fault_rate > 0 and self.fault_rng.random() < self.options.fault_rate:
                return self.fault_rng.choice(self.options.faults)
        return None


class Handler(BaseHTTPRequestHandler):
    server: FakeServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm the client's delayed ACK
    # would add ~40 ms to every response.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.options.verbose:
            super().log_message(format, *args)

    # --- plumbing -------------------------------------------------------------------------

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self._send_raw(status, data, "application/json", headers)

    def _send_raw(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str, code: str | None = None, **kw: Any):
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        self._send_json(status, body, kw.get("headers"))

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw or b"{}")

    def _count(self, key: str) -> None:
        with self.server.stats.lock:
            self.server.stats.requests[key] = self.server.stats.requests.get(key, 0) + 1

    def _authorised(self) -> bool:
        expected = self.server.options.api_key
        if expected is None:
            return True
        presented = self.headers.get("Authorization") or ""
        if presented == f"Bearer {expected}":
            return True
        message = "Incorrect API key provided."
        if self.server.options.echo_key:
            message = f"Incorrect API key provided: {presented.removeprefix('Bearer ')}."
        self._error(401, message, "invalid_request_error", "invalid_api_key")
        return False

    # --- routes ---------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        if path == "/_health":
            self._send_json(200, {"ok": True})
        elif path == "/_stats":
            self._send_json(200, self.server.stats.snapshot())
        elif path == "/v1/models":
            self._count("models")
            if not self._authorised():
                return
            if self.server.options.no_models:
                self._error(404, "Not Found", "invalid_request_error")
                return
            data = [
                {"id": name, "object": "model", "created": 0, "owned_by": "seedscope-test"}
                for name in self.server.options.models
            ]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._error(404, f"Unknown path {path}", "invalid_request_error")

    def do_POST(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        if path == "/_reset":
            with self.server.stats.lock:
                self.server.stats.reset()
            self._send_json(200, {"ok": True})
            return
        if path not in ("/v1/chat/completions", "/v1/embeddings"):
            self._error(404, f"Unknown path {path}", "invalid_request_error")
            return
        stats = self.server.stats
        with stats.lock:
            stats.in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
            self._token = stats.next_token
            stats.next_token += 1
            stats.peaks[self._token] = 0
            for token in stats.peaks:
                stats.peaks[token] = max(stats.peaks[token], stats.in_flight)
        try:
            self._serve_model_call(path)
        finally:
            with stats.lock:
                stats.in_flight -= 1
                stats.peaks.pop(self._token, None)

    def _serve_model_call(self, path: str) -> None:
        try:
            body = self._read_json()
        except json.JSONDecodeError:
            self._error(400, "Request body is not valid JSON.", "invalid_request_error")
            return
        chat = path.endswith("chat/completions")
        self._count("chat" if chat else "embeddings")
        self._log_entry: dict[str, Any] = {}
        if chat:
            with self.server.stats.lock:
                self._log_entry = {
                    "model": body.get("model"),
                    "seed": body.get("seed"),
                    "temperature": body.get("temperature"),
                    "top_p": body.get("top_p"),
                    "max_tokens": body.get("max_tokens"),
                    "logprobs": body.get("logprobs"),
                    "top_logprobs": body.get("top_logprobs"),
                    "user": _user_text(body.get("messages")),
                    "arrived": time.monotonic(),
                    "in_flight_peak": None,
                }
                self.server.stats.chat_log.append(self._log_entry)
        else:
            inputs = body.get("input")
            with self.server.stats.lock:
                self.server.stats.embeddings_log.append(
                    {
                        "model": body.get("model"),
                        "encoding_format": body.get("encoding_format"),
                        "inputs": 1 if isinstance(inputs, str) else len(inputs or []),
                    }
                )
        if not self._authorised():
            return
        if self.server.options.latency > 0:
            time.sleep(self.server.options.latency)
        model = str(body.get("model") or "")
        fault = self.server.pick_fault(model)
        if fault is not None:
            with self.server.stats.lock:
                self.server.stats.faults[fault] = self.server.stats.faults.get(fault, 0) + 1
            if self._inject(fault, model):
                return
        if self.server.options.strict_models and model not in self.server.options.models:
            self._model_not_found(model)
            return
        if chat:
            self._chat(body, model, malformed_choices=fault == "nochoices")
        else:
            self._embeddings(body, model)

    def _model_not_found(self, model: str) -> None:
        self._error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        )

    def _inject(self, fault: str, model: str) -> bool:
        """Answer with `fault`; False when the fault shapes a normal answer instead."""
        options = self.server.options
        if fault == "429":
            self._error(
                429,
                "Rate limit reached for requests. Please try again later.",
                "requests",
                "rate_limit_exceeded",
                headers={"Retry-After": options.retry_after},
            )
        elif fault == "500":
            self._error(500, "The server had an error processing your request.", "server_error")
        elif fault == "timeout":
            time.sleep(options.hang)
            self.close_connection = True
        elif fault == "drop":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        elif fault == "malformed":
            self._send_raw(200, b'{"id": "chatcmpl-broken", "choices": [{"mess', "application/json")
        elif fault == "400":
            self._error(
                400,
                "Invalid value for 'temperature': this model only supports the default (1).",
                "invalid_request_error",
                "invalid_value",
            )
        elif fault == "401":
            self._error(
                401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key"
            )
        elif fault == "403":
            self._error(403, "You are not allowed to use this model.", "invalid_request_error")
        elif fault == "404":
            self._model_not_found(model)
        elif fault == "nochoices":
            return False
        return True

    def _chat(self, body: dict[str, Any], model: str, malformed_choices: bool) -> None:
        options = self.server.options
        messages = body.get("messages") or []
        max_tokens = int(body.get("max_tokens") or body.get("max_completion_tokens") or 16)
        seed = None if options.ignore_seed else body.get("seed")
        temperature = float(body.get("temperature", 1.0))
        deterministic = seed is not None or temperature == 0 or options.deterministic
        if options.deterministic:
            key = json.dumps([messages, model, max_tokens], sort_keys=True)
        else:
            key = json.dumps(
                [seed, messages, model, temperature, body.get("top_p"), max_tokens], sort_keys=True
            )
        if deterministic:
            rng = random.Random(hashlib.sha256(key.encode()).hexdigest())
        else:
            rng = random.Random()  # seeded from the OS: varies per call
        n_words = min(max_tokens, rng.randint(max(1, max_tokens // 2), max_tokens))
        words = [rng.choice(WORDS) for _ in range(n_words)]
        stats = self.server.stats
        with stats.lock:
            stats.chat_calls += 1
            flaky = bool(options.flaky_every) and stats.chat_calls % options.flaky_every == 0
            peak = stats.peaks.get(self._token, 1)
            self._log_entry["in_flight_peak"] = peak
        if options.load_dependent is not None and peak > options.load_dependent:
            words = _changed_tail(words, random.Random(f"{key}|load|{peak}"))
        if flaky:
            words = _changed_tail(words, random.Random())
        wants_logprobs = body.get("logprobs") is True and not options.no_logprobs
        if wants_logprobs and options.logprobs_change_output:
            words = _changed_tail(words, random.Random(f"{key}|logprobs"))
        text = " ".join(words).capitalize() + "."
        if options.payload == "xss":
            text = XSS + text
        elif options.payload == "echo":
            text = _user_text(messages)
        finish = "length" if n_words >= max_tokens else "stop"
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        response: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": options.fingerprint,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": _logprobs(text, int(body.get("top_logprobs") or 0), key)
                    if wants_logprobs
                    else None,
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": n_words,
                "total_tokens": prompt_tokens + n_words,
            },
        }
        if malformed_choices:
            del response["choices"]
        self._send_json(200, response)

    def _embeddings(self, body: dict[str, Any], model: str) -> None:
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        dim = int(body.get("dimensions") or self.server.options.embedding_dim)
        as_base64 = body.get("encoding_format") == "base64"  # the SDK's default request
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": _encode(text_vector(str(text), dim), as_base64),
            }
            for i, text in enumerate(texts)
        ]
        tokens = sum(len(str(text).split()) for text in texts)
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )


def _logprobs(text: str, top: int, key: str) -> dict[str, Any]:
    """Chat Completions logprobs for `text`: deterministic per request key and position."""
    content = []
    for position, token in enumerate(re.findall(r"\s*\S+|\s+$", text)):
        rng = random.Random(f"{key}|{position}")
        chosen = -rng.uniform(0.01, 2.0)
        margin = 0.004 if position % 4 == 3 else rng.uniform(0.05, 3.0)
        others = [w for w in WORDS if w != token.strip()]
        alternatives = [{"token": token, "logprob": chosen}]
        below = chosen - margin
        for word in rng.sample(others, max(0, min(top, len(others) + 1) - 1)):
            alternatives.append({"token": " " + word, "logprob": below})
            below -= rng.uniform(0.1, 1.0)
        content.append({"token": token, "logprob": chosen, "top_logprobs": alternatives[:top]})
    return {"content": content}


def _changed_tail(words: list[str], rng: random.Random) -> list[str]:
    """`words` with every word of its second half replaced by a different word (all of a
    one-word text), so the text keeps its first half and surely changes after it."""
    keep = len(words) // 2
    return words[:keep] + [rng.choice([w for w in WORDS if w != word]) for word in words[keep:]]


def _user_text(messages: Any) -> str:
    if not isinstance(messages, list):
        return ""
    users = [
        str(m.get("content", ""))
        for m in messages
        if isinstance(m, dict) and m.get("role") == "user"
    ]
    return users[-1] if users else ""


def _encode(vector: list[float], as_base64: bool) -> list[float] | str:
    if not as_base64:
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def text_vector(text: str, dim: int) -> list[float]:
    """A deterministic unit vector from the sha256 of `text`."""
    rng = random.Random(hashlib.sha256(text.encode()).hexdigest())
    values = [rng.gauss(0.0, 1.0) for _ in range(dim)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per model call")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument(
        "--faults",
        type=lambda s: [f for f in s.split(",") if f],
        default=list(FAULT_KINDS),
        help=f"comma-separated subset of {','.join(FAULT_KINDS)}",
    )
    parser.add_argument("--fault-seed", type=int, default=None)
    parser.add_argument("--retry-after", default="1", help="Retry-After header of 429s (seconds)")
    parser.add_argument("--hang", type=float, default=30.0, help="seconds a timeout fault sleeps")
    parser.add_argument("--fingerprint", default=None, help="system_fingerprint (default null)")
    parser.add_argument("--payload", choices=("words", "xss", "echo"), default="words")
    parser.add_argument("--models", type=lambda s: s.split(","), default=["fake-model"])
    parser.add_argument("--strict-models", action="store_true", help="404 for unknown models")
    parser.add_argument("--no-models", action="store_true", help="404 on /v1/models")
    parser.add_argument("--api-key", default=None, help="require this bearer token")
    parser.add_argument("--echo-key", action="store_true", help="quote a wrong token in the 401")
    parser.add_argument("--embedding-dim", type=int, default=64)
    behaviour = parser.add_mutually_exclusive_group()
    behaviour.add_argument(
        "--ignore-seed", action="store_true", help="drop the seed: outputs vary unless T=0"
    )
    behaviour.add_argument(
        "--deterministic", action="store_true", help="same text whatever the seed and temperature"
    )
    parser.add_argument(
        "--load-dependent",
        type=int,
        default=None,
        metavar="N",
        help="change a call's output when more than N model calls were in flight during it",
    )
    parser.add_argument(
        "--flaky-every",
        type=int,
        default=0,
        metavar="N",
        help="change the output of every Nth chat call (0: never)",
    )
    parser.add_argument(
        "--no-logprobs", action="store_true", help="ignore requests for logprobs (answer null)"
    )
    parser.add_argument(
        "--logprobs-change-output",
        action="store_true",
        help="asking for logprobs changes the second half of the output",
    )
    parser.add_argument("--verbose", action="store_true")
    options = parser.parse_args(argv)
    unknown = [f for f in options.faults if f not in FAULT_KINDS]
    if unknown:
        parser.error(f"unknown faults {unknown}; choose from {FAULT_KINDS}")
    if not 0 <= options.fault_rate <= 1:
        parser.error("--fault-rate must be between 0 and 1")
    if options.load_dependent is not None and options.load_dependent < 1:
        parser.error("--load-dependent must be 1 or more")
    if options.flaky_every < 0:
        parser.error("--flaky-every must be 0 or more")
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse_args(argv)
    server = FakeServer((options.host, options.port), options)
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
