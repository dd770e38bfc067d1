"""LLM plumbing: schema-constrained generation, bounded retries, the fallback, dead servers, the factory."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import BaseModel

from drafter.errors import ConfigError
from drafter.llm import FakeChatModel, LLMError, _without_lengths, generate_structured, make_chat_model
from drafter.settings import Settings


class Out(BaseModel):
    rationale: str
    cited_chunk_ids: list[str]


GOOD = json.dumps({"rationale": "Grounded text.", "cited_chunk_ids": ["a#s0"]})


def test_valid_first_answer_takes_one_attempt():
    g = generate_structured(FakeChatModel(script=[GOOD]), "fake", "sys", "user", Out)
    assert g.value.rationale == "Grounded text." and g.attempts == 1 and g.prompt_tokens > 0


def test_malformed_answers_are_retried_at_most_twice():
    fake = FakeChatModel(script=["not json", '{"rationale": 3}', GOOD])
    g = generate_structured(fake, "fake", "sys", "user", Out, retries=2)
    assert g.value is not None and g.attempts == 3 and len(g.errors) == 2 and fake.calls == 3


def test_always_malformed_gives_none_after_three_attempts():
    fake = FakeChatModel(script=["{broken"])
    g = generate_structured(fake, "fake", "sys", "user", Out, retries=2)
    assert g.value is None and g.attempts == 3 and fake.calls == 3


def test_json_wrapped_in_prose_is_accepted():
    g = generate_structured(FakeChatModel(script=["Here you go:\n```json\n" + GOOD + "\n```"]), "fake", "s", "u", Out)
    assert g.value is not None


def test_default_fake_fills_schema_from_bullets():
    schema = Out.model_json_schema()
    schema["properties"]["cited_chunk_ids"]["items"] = {"type": "string", "enum": ["x#s1", "y#s2"]}
    g = generate_structured(FakeChatModel(), "fake", "sys", "Findings:\n- First finding\n- Second finding", Out, schema)
    assert g.value.cited_chunk_ids == ["x#s1"] and "First finding." in g.value.rationale


def test_length_bounds_are_removed_for_the_llama_grammar():
    schema = {"type": "object", "properties": {"t": {"type": "string", "maxLength": 900, "minLength": 1}}}
    assert _without_lengths(schema) == {"type": "object", "properties": {"t": {"type": "string"}}}


def test_dead_openai_compatible_server_is_a_clear_bounded_error(isolated_env, monkeypatch):
    monkeypatch.setenv("DRAFTER_LLM__BACKEND", "openai")
    monkeypatch.setenv("DRAFTER_LLM__BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("DRAFTER_LLM__TIMEOUT_S", "3")
    s = Settings()
    chat = make_chat_model(s)
    t0 = time.perf_counter()
    with pytest.raises(LLMError, match="did not answer.*DRAFTER_LLM__BASE_URL"):
        generate_structured(chat, "openai", "sys", "user", Out, retries=2)
    assert time.perf_counter() - t0 < 30


def test_factory_errors_say_how_to_fix(isolated_env, monkeypatch):
    monkeypatch.setenv("DRAFTER_LLM__BACKEND", "nonsense")
    with pytest.raises(ConfigError, match="llamacpp, openai or fake"):
        make_chat_model(Settings())
    monkeypatch.setenv("DRAFTER_LLM__BACKEND", "openai")
    with pytest.raises(ConfigError, match="DRAFTER_LLM__BASE_URL"):
        make_chat_model(Settings())
    monkeypatch.setenv("DRAFTER_LLM__BACKEND", "llamacpp")
    monkeypatch.setenv("DRAFTER_LLM__MODEL", "no-such-model")
    with pytest.raises(ConfigError, match="Unknown embedded model"):
        make_chat_model(Settings())


def test_record_quotes_reach_the_model_curly_and_come_back_straight():
    """A straight double quote copied from the prompt into a JSON string closes it early; the prompt shows record
    quotes as \u201c...\u201d and the letter gets its straight quotes back."""
    from drafter.prompts import curly_quotes, straight_quotes

    bullet = 'This is not documented: the note of 03/27/2015 records "pain 8/10, the same" and "no change".'
    shown = curly_quotes(bullet)
    assert '"' not in shown and "\u201cpain 8/10, the same\u201d" in shown
    assert straight_quotes(shown) == bullet


def test_a_reask_after_malformed_output_samples_with_another_seed():
    """A deterministic model asked the same prompt the same way returns the same malformed reply: each re-ask
    samples at the retry temperature with its own seed, and only re-asks do."""
    seen: list[tuple] = []

    def responder(messages, kwargs):
        seen.append((kwargs.get("temperature"), kwargs.get("seed")))
        return GOOD if kwargs.get("seed") else "{broken"

    g = generate_structured(FakeChatModel(responder=responder), "fake", "sys", "user", Out, retries=2, retry_temperature=0.7)
    assert g.value is not None and seen[0] == (None, None) and seen[1][0] == 0.7 and seen[1][1]
    seen.clear()
    generate_structured(FakeChatModel(responder=lambda m, k: seen.append(k.get("seed")) or "{broken"), "fake", "sys", "user", Out, retries=2,
                        retry_temperature=0.7)
    assert len(set(seen)) == 3, "every try of one attempt samples differently"
