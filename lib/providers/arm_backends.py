"""Arms on different backends: one Provider that sends each arm's calls to the arm's backend.

An arm may name its own provider, base URL and model (seedscope.spec.Arm), e.g. the embedded
SmolLM2 next to a vLLM model next to gpt-4o-mini. What an arm leaves out comes from the
experiment: the same provider as the experiment takes its model and base URL; another
provider takes that provider's default (the embedded model, or OPENAI_MODEL at
OPENAI_BASE_URL). Every backend is built by seedscope.providers.factory.make_provider, so the
API key still goes only to the configured OPENAI_BASE_URL and a base URL typed in the page is
guarded the same way.

Each backend keeps its own concurrency limit (the embedded model: its workers, one call each;
a server: SEEDSCOPE_REMOTE_CONCURRENCY), so a slow embedded arm never holds up a server's
arm, nor the other way round; arms on one backend share its limit. Every run records the
backend that answered (provider, model, host), so fingerprints and measures stay per arm.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace

from seedscope.providers.base import Completion, CompletionRequest, Provider
from seedscope.settings import Settings
from seedscope.spec import LOCAL_CHAT_MODEL, ExperimentSpec
from seedscope.suites import SuiteSpec


@dataclass(frozen=True)
class Backend:
    provider: str  # "local" | "openai"
    base_url: str | None  # None: the configured OPENAI_BASE_URL (or none, for local)
    model: str


def names_backends(spec: ExperimentSpec | SuiteSpec) -> bool:
    """True when some arm names a backend of its own."""
    return any(arm.provider or arm.base_url or arm.model for arm in spec.arms)


def arm_backends(
    spec: ExperimentSpec | SuiteSpec, base_url: str | None, settings: Settings
) -> dict[str, Backend]:
    """Each arm's backend (arm label -> Backend), filled in from the experiment's."""
    backends = {}
    for arm in spec.arms:
        provider = arm.provider or spec.provider
        if provider == spec.provider:
            model = arm.model or spec.model
            url = arm.base_url or (base_url if provider == "openai" else None)
        else:
            model = arm.model or (
                LOCAL_CHAT_MODEL if provider == "local" else settings.openai_model
            )
            url = arm.base_url
        backends[arm.label] = Backend(provider, url, model)
    return backends


def paid_arm_labels(
    spec: ExperimentSpec | SuiteSpec, base_url: str | None, settings: Settings
) -> set[str]:
    """Arms sent to the configured OpenAI-compatible backend: the one that gets the operator's
    key, so the one the budgets count as paid (a URL typed in the page, or named by an arm
    elsewhere, gets no key; the embedded model costs nothing)."""
    return {
        label
        for label, backend in arm_backends(spec, base_url, settings).items()
        if backend.provider == "openai" and backend.base_url in (None, settings.openai_base_url)
    }


MakeProvider = Callable[[Backend, str], Provider]  # (backend, arm label) -> provider


class ArmRouter:
    """A Provider over several backends; `complete` sends a request to its arm's backend."""

    def __init__(
        self,
        spec: ExperimentSpec | SuiteSpec,
        routes: dict[str, tuple[Backend, Provider]],
        limits: dict[Backend, int],
    ) -> None:
        self._routes = routes
        self._limits = limits
        self.name = spec.provider
        self.model = spec.model
        # The experiment's host: that of the arms on the experiment's own provider, if any.
        own = [p for b, p in routes.values() if b.provider == spec.provider]
        self.base_url_host = own[0].base_url_host if own else None
        self.max_concurrency: int | None = sum(limits.values())
        # One semaphore per backend per event loop (a semaphore binds to the loop it is
        # first used on; run_spec_sync makes a new loop for every run).
        self._gates: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[Backend, asyncio.Semaphore]
        ] = weakref.WeakKeyDictionary()

    def backend(self, arm_label: str) -> Backend:
        return self._routes[arm_label][0]

    def provider_of(self, arm_label: str) -> Provider:
        return self._routes[arm_label][1]

    def _gate(self, backend: Backend) -> asyncio.Semaphore:
        gates = self._gates.setdefault(asyncio.get_running_loop(), {})
        if backend not in gates:
            gates[backend] = asyncio.Semaphore(self._limits[backend])
        return gates[backend]

    async def complete(self, request: CompletionRequest) -> Completion:
        backend, provider = self._routes[request.arm_label]
        async with self._gate(backend):
            return await provider.complete(replace(request, model=backend.model))

    async def aclose(self) -> None:
        for provider in {id(p): p for _, p in self._routes.values()}.values():
            close = getattr(provider, "aclose", None)
            if close is not None:
                await close()

    def list_models(self) -> list[str]:
        return sorted({backend.model for backend, _ in self._routes.values()})


def build_arm_router(
    spec: ExperimentSpec | SuiteSpec,
    base_url: str | None,
    settings: Settings,
    make: MakeProvider,
) -> ArmRouter:
    """The router for `spec`; every backend is made once by `make(backend, arm label)` (which
    raises ValueError naming what to fix). ValueError lists each arm whose backend cannot be
    used, naming the arm, before any call."""
    backends = arm_backends(spec, base_url, settings)
    made: dict[Backend, Provider] = {}
    problems = []
    for label, backend in backends.items():
        if backend in made:
            continue
        try:
            provider = make(backend, label)
        except ValueError as exc:
            problems.append(f"arm {label!r}: {exc}")
            continue
        if backend.provider == "local" and backend.model != provider.model:
            problems.append(
                f"arm {label!r}: the embedded backend runs {provider.model}, not "
                f"{backend.model}; leave the arm's model out or set SEEDSCOPE_MODEL_PATH"
            )
            continue
        made[backend] = provider
    if problems:
        raise ValueError("; ".join(problems))
    limits = {
        backend: (provider.max_concurrency or 1)
        if backend.provider == "local"
        else settings.remote_concurrency
        for backend, provider in made.items()
    }
    routes = {label: (backend, made[backend]) for label, backend in backends.items()}
    return ArmRouter(spec, routes, limits)
