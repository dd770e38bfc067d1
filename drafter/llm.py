"""The one LLM factory (LangChain chat models) and schema-constrained JSON generation with retries.

Backends: `llamacpp` (embedded default, offline), `openai` (any OpenAI-compatible server: vLLM, Ollama,
llama.cpp server; case text leaves the machine only here) and `fake` (deterministic; unit tests).
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import BaseModel, ValidationError

from drafter.errors import ConfigError, DrafterError
from drafter.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)


class LLMError(DrafterError):
    """The language model could not be reached or answered unusably."""


@dataclass
class Generation:
    """What one structured call produced, with what it cost."""

    value: BaseModel | None
    raw: str = ""
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


class FakeChatModel(BaseChatModel):
    """Deterministic chat model for unit tests.

    By default it answers with JSON built from the bullet lines ("- ...") of the last user message, so
    its prose is exactly the findings it was given. `script` replaces that with fixed replies in order
    (used to test malformed output and retries).
    """

    script: list[str] | None = None
    calls: int = 0
    responder: Callable[[list[BaseMessage], dict], str] | None = None

    @property
    def _llm_type(self) -> str:
        return "fake"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any) -> ChatResult:
        self.calls += 1
        if self.script is not None:
            text = self.script[min(self.calls - 1, len(self.script) - 1)]
        elif self.responder is not None:
            text = self.responder(messages, kwargs)
        else:
            text = default_fake_reply(messages, kwargs)
        prompt_chars = sum(len(str(m.content)) for m in messages)
        msg = AIMessage(content=text, usage_metadata={
            "input_tokens": prompt_chars // 4, "output_tokens": len(text) // 4, "total_tokens": (prompt_chars + len(text)) // 4,
        })
        return ChatResult(generations=[ChatGeneration(message=msg)])


def default_fake_reply(messages: list[BaseMessage], kwargs: dict) -> str:
    """Fill the requested JSON schema from the prompt's lines (deterministic).

    Strings are the prompt's bullet lines ("- ...") or numbered facts ("F1: ...") joined; arrays of ids
    take the first allowed value or the fact ids; objects recurse.
    """
    user = str(messages[-1].content)
    blocks = re.findall(r"(?:^- .+$\n?)+", user, flags=re.M)  # the last block of bullets is what the prompt asks about
    bullets = [b.strip() for b in re.findall(r"^- (.+)$", blocks[-1], flags=re.M)] if blocks else []
    facts = re.findall(r"^(F\d+): (.+)$", user, flags=re.M)
    fmt = kwargs.get("response_format") or {}
    schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema") or {}
    defs = schema.get("$defs", {})

    def fill(spec: dict, name: str = "") -> Any:
        if "$ref" in spec:
            spec = defs[spec["$ref"].split("/")[-1]]
        kind = spec.get("type")
        if kind == "object":
            return {k: fill(v, k) for k, v in spec.get("properties", {}).items()}
        if kind == "array":
            item = spec.get("items") or {}
            if "enum" in item:
                return list(item["enum"][:1])
            if "$ref" in item or item.get("type") == "object":
                return [{**fill(item), **({"text": t, "fact_ids": [fid]} if "fact_ids" in str(defs) else {})} for fid, t in facts[:6]] or [fill(item)]
            if name == "fact_ids":
                return [facts[0][0]] if facts else ["F1"]
            return bullets[:3]
        if kind == "string" and "enum" in spec:
            return spec["enum"][0]
        if kind == "string":
            return " ".join(b.rstrip(".") + "." for b in bullets)[: spec.get("maxLength", 2000)] or "No findings."
        return None

    return json.dumps(fill({"type": "object", **schema}))


def _fake_degenerate(style: str) -> Callable[[list[BaseMessage], dict], str]:
    """Replies that imitate how small models fail, so tests and eval gates can show the checks catch them."""

    def reply(messages: list[BaseMessage], kwargs: dict) -> str:
        data = json.loads(default_fake_reply(messages, kwargs))
        if "rationale" in data:
            data["rationale"] = {
                "skeleton": "The MTUS ... pages 98-99... Therefore, the request ... ",
                "ungrounded": "The applicant completed 37 sessions of hydrotherapy in 1999 with full recovery. "
                              "Oxycontin 80 mg was weaned on page 412 of the guideline.",
            }[style]
        return json.dumps(data)

    return reply


def make_chat_model(settings: Settings, *, fake: FakeChatModel | None = None) -> BaseChatModel:
    """Build the chat model named by `settings.llm.backend`."""
    llm = settings.llm
    if llm.backend == "fake":
        if fake is not None:
            return fake
        if llm.fake_style in ("skeleton", "ungrounded"):
            return FakeChatModel(responder=_fake_degenerate(llm.fake_style))
        if llm.fake_style != "findings":
            raise ConfigError(f"Unknown fake_style {llm.fake_style!r}: use findings, skeleton or ungrounded (DRAFTER_LLM__FAKE_STYLE).")
        return FakeChatModel()
    if llm.backend == "llamacpp":
        from drafter.model_assets import ensure_model_file

        path = ensure_model_file(settings)
        try:
            from langchain_community.chat_models import ChatLlamaCpp
        except ImportError as exc:  # pragma: no cover - install problem
            raise ConfigError("llama-cpp-python is not installed; run scripts/setup.sh.") from exc
        return ChatLlamaCpp(
            model_path=str(path), n_ctx=llm.n_ctx, n_threads=llm.threads, n_batch=512, temperature=llm.temperature,
            seed=llm.seed, max_tokens=llm.max_tokens_rationale, verbose=False,
        )
    if llm.backend == "openai":
        if not llm.base_url:
            raise ConfigError("The openai backend needs DRAFTER_LLM__BASE_URL (e.g. http://127.0.0.1:8000/v1).")
        from langchain_openai import ChatOpenAI

        import os

        key = llm.api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
        return ChatOpenAI(
            base_url=llm.base_url, model=llm.model, api_key=key, temperature=llm.temperature, timeout=llm.timeout_s,
            max_retries=0, seed=llm.seed,
        )
    raise ConfigError(f"Unknown LLM backend {llm.backend!r}: use llamacpp, openai or fake (DRAFTER_LLM__BACKEND).")


def model_label(settings: Settings) -> str:
    return f"{settings.llm.backend}:{settings.llm.model}"


def _without_lengths(schema: Any) -> Any:
    """The schema minus string length bounds: llama.cpp expands maxLength into one grammar rule per
    character and rejects (then crashes on) long ones; max_tokens bounds the output instead."""
    if isinstance(schema, dict):
        return {k: _without_lengths(v) for k, v in schema.items() if k not in ("maxLength", "minLength")}
    if isinstance(schema, list):
        return [_without_lengths(v) for v in schema]
    return schema


def _response_format(backend: str, schema_model: type[BaseModel], schema: dict) -> dict:
    if backend == "openai":
        return {"type": "json_schema", "json_schema": {"name": schema_model.__name__, "schema": schema, "strict": False}}
    return {"type": "json_object", "schema": _without_lengths(schema)}


def _count_tokens(chat: BaseChatModel, prompt: str, reply: str) -> tuple[int, int] | None:
    """Token counts from the model's own tokenizer when the backend reports none (llama.cpp via LangChain)."""
    tokenize = getattr(getattr(chat, "client", None), "tokenize", None)
    if tokenize is None:
        return None
    return len(tokenize(prompt.encode("utf-8"))), len(tokenize(reply.encode("utf-8"), add_bos=False))


def _extract_json(text: str) -> str:
    """The JSON object in a reply (models sometimes wrap it in prose or code fences)."""
    m = re.search(r"\{.*\}", text, flags=re.S)
    return m.group(0) if m else text


def resample(sampling: dict[str, Any] | None, temperature: float, step: int, seed: int | None = None) -> dict[str, Any]:
    """Sampling for a re-ask or a regeneration: step 0 keeps `sampling` as given; step n samples at `temperature`
    (at least) with the seed moved by n, because a greedy re-ask of the same prompt returns the same reply.

    The one place seeds are chosen: drafting's attempts and Regenerate, and generate_structured's re-asks after
    malformed output, step through it with offsets that do not collide (1 per attempt, 101 per Regenerate, 1009 per
    re-ask)."""
    this = dict(sampling or {})
    if step == 0:
        return this
    base = int(this["seed"]) if this.get("seed") is not None else int(seed or 0)
    return {**this, "temperature": max(float(this.get("temperature") or 0.0), temperature), "seed": base + step}


def generate_structured(
    chat: BaseChatModel,
    backend: str,
    system: str,
    user: str,
    schema_model: type[T],
    schema: dict | None = None,
    max_tokens: int = 300,
    retries: int = 2,
    sampling: dict[str, Any] | None = None,
    retry_temperature: float | None = None,
) -> Generation:
    """Ask for JSON matching `schema`; validate with `schema_model`; re-ask at most `retries` times.

    Returns a Generation whose `value` is None when every attempt was malformed (the caller falls back).
    Connection failures and timeouts raise LLMError at once: retrying a dead server only adds waiting.
    `sampling` (temperature, seed) overrides the model's defaults for this call: re-asks and Regenerate.
    With `retry_temperature`, a re-ask after malformed output samples at that temperature with another seed: a
    greedy re-ask of the same prompt returns the same malformed reply.
    """
    schema = schema or schema_model.model_json_schema()
    gen = Generation(value=None)
    messages: list[BaseMessage] = [SystemMessage(content=system), HumanMessage(content=user)]
    t0 = time.perf_counter()
    for attempt in range(retries + 1):
        gen.attempts = attempt + 1
        try:
            this = resample(sampling, retry_temperature, 1009 * attempt) if retry_temperature is not None else dict(sampling or {})
            result = chat.generate([messages], response_format=_response_format(backend, schema_model, schema), max_tokens=max_tokens,
                                   **this)
        except Exception as exc:  # transport errors come in many types (httpx, openai, llama_cpp)
            name = type(exc).__name__
            if any(k in name for k in ("Connect", "Timeout", "APIConnection", "APIStatus")) or isinstance(exc, OSError):
                raise LLMError(
                    f"The {backend} model server did not answer ({name}: {exc}). Check that it is running at the "
                    "configured DRAFTER_LLM__BASE_URL, or switch to the embedded model (DRAFTER_LLM__BACKEND=llamacpp)."
                ) from exc
            raise LLMError(f"The {backend} model failed: {name}: {exc}") from exc
        reply = result.generations[0][0].message
        usage = getattr(reply, "usage_metadata", None) or {}
        raw_usage = (result.llm_output or {}).get("token_usage") or {}
        gen.prompt_tokens += int(usage.get("input_tokens", 0) or raw_usage.get("prompt_tokens", 0))
        gen.completion_tokens += int(usage.get("output_tokens", 0) or raw_usage.get("completion_tokens", 0))
        gen.raw = str(reply.content)
        if not (usage or raw_usage):
            counted = _count_tokens(chat, system + "\n" + user, gen.raw)
            if counted:
                gen.prompt_tokens += counted[0]
                gen.completion_tokens += counted[1]
        try:
            gen.value = schema_model.model_validate_json(_extract_json(gen.raw))
            break
        except (ValidationError, ValueError) as exc:
            gen.errors.append(f"attempt {attempt + 1}: {str(exc).splitlines()[0]}")
            log.info("malformed model output on attempt %d (%s)", attempt + 1, schema_model.__name__)
    gen.seconds = time.perf_counter() - t0
    return gen
