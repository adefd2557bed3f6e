"""YOLOv8 detection head, decoded here instead of in the model graph: any input size, no PyTorch.

An exported YOLOv8 ONNX graph ends in its box decode (DFL softmax, anchor grid, strides) with
the anchors of one input size baked in as constants, so it runs at that size only. ``cut_head``
removes that decode: what remains are convolutions (and their upsample/concat), which ONNX
Runtime and OpenVINO run at any input whose sides are multiples of the largest stride (32).
It outputs the head's three feature maps, ``(1, 4 * bins + classes, H / stride, W / stride)``
for strides 8, 16 and 32. ``decode_levels`` then does the decode in NumPy, only for the anchors
whose best class score passes the confidence (few), and returns what the full graph returns for
those anchors: ``(4 + classes, N)`` rows ``cx, cy, w, h, scores...`` in input pixels.

The decode (as the Ultralytics YOLOv8 head defines it): per anchor and side (left, top, right,
bottom) a softmax over ``bins`` distances 0..bins-1; the side's distance is its expected value;
the anchor is its grid cell's centre (column + 0.5, row + 0.5); the box is
``anchor - (left, top)`` .. ``anchor + (right, bottom)``, all times the level's stride; class
scores are the sigmoid of the logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STRIDE_MULTIPLE = 32  # the coarsest level's stride: input sides must be multiples of it


@dataclass(frozen=True)
class Head:
    """How to read the cut graph's outputs: distance bins per box side and class count."""

    bins: int
    classes: int


def cut_head(model):
    """``(onnx.ModelProto, Head)`` of a YOLOv8 graph cut before its box decode; ``None`` if it is not one.

    ``model`` is edited in place (pass a freshly loaded one).

    The cut is found by structure, not by node names: the DFL Softmax, the Split in front of it
    (box distances | class logits), the Concat of the per-level Reshapes feeding that Split; the
    Reshapes' inputs are the level feature maps. The input's height and width become symbolic.
    """
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    constants = {t.name: t for t in graph.initializer}
    constants.update({n.output[0]: n.attribute[0].t for n in graph.node if n.op_type == "Constant" and n.attribute})

    def parent(node, op: str):
        found = producer.get(node.input[0]) if node is not None and node.input else None
        return found if found is not None and found.op_type == op else None

    softmax = next((n for n in graph.node if n.op_type == "Softmax"), None)
    split = parent(parent(parent(softmax, "Transpose"), "Reshape"), "Split")
    concat = parent(split, "Concat")
    if concat is None or len(split.input) < 2 or split.input[1] not in constants or len(graph.input) != 1:
        return None
    reshapes = [producer.get(name) for name in concat.input]
    if len(reshapes) < 2 or any(r is None or r.op_type != "Reshape" for r in reshapes):
        return None
    box_channels, classes = (int(v) for v in numpy_helper.to_array(constants[split.input[1]]))
    if box_channels % 4:
        return None
    levels = [r.input[0] for r in reshapes]

    needed: set[int] = set()  # indices of the nodes the level maps depend on
    index = {out: i for i, node in enumerate(graph.node) for out in node.output}
    stack = list(levels)
    while stack:
        i = index.get(stack.pop())
        if i is None or i in needed:
            continue
        needed.add(i)
        stack.extend(graph.node[i].input)
    kept_nodes = [n for i, n in enumerate(graph.node) if i in needed]
    used = {name for node in kept_nodes for name in node.input}
    kept_weights = [t for t in graph.initializer if t.name in used]
    cut = model  # edited in place: copying 40 MB of weights would double the load time
    del cut.graph.node[:]
    cut.graph.node.extend(kept_nodes)
    del cut.graph.initializer[:]
    cut.graph.initializer.extend(kept_weights)
    del cut.graph.output[:]
    cut.graph.output.extend(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None) for name in levels)
    del cut.graph.value_info[:]
    dims = cut.graph.input[0].type.tensor_type.shape.dim
    for dim, name in zip(dims[2:], ("height", "width"), strict=True):
        dim.dim_param = name
    return cut, Head(box_channels // 4, classes)


def decode_levels(levels: list[np.ndarray], input_height: int, head: Head, confidence: float) -> np.ndarray:
    """One image's feature maps ``(channels, h, w)`` per level -> ``(4 + classes, N)`` kept anchors.

    Kept: anchors whose best class score is >= ``confidence`` (0 keeps all), in the full graph's
    anchor order (level by level, row-major), so ``confidence=0`` reproduces its whole output.

    >>> head = Head(bins=2, classes=1)
    >>> level = np.zeros((9, 1, 2), np.float32)       # one row of two anchors at stride 32
    >>> level[[1, 3, 5, 7], 0, 0] = 10.0             # anchor 0: every side at distance ~1 (bin 1)
    >>> level[8] = [3.0, -3.0]                        # class logits: anchor 0 is sure, anchor 1 is not
    >>> out = decode_levels([level], 32, head, 0.5)
    >>> out.shape, [round(float(v), 1) for v in out[:, 0]]
    ((5, 1), [16.0, 16.0, 64.0, 64.0, 1.0])
    """
    columns = []
    threshold = np.log(confidence / (1 - confidence)) if 0 < confidence < 1 else -np.inf
    box_channels = 4 * head.bins
    for level in levels:
        channels, rows, cols = level.shape
        if channels != box_channels + head.classes:
            raise ValueError(f"feature map has {channels} channels, the head needs {box_channels + head.classes}")
        stride = input_height / rows
        flat = level.reshape(channels, rows * cols)
        logits = flat[box_channels:]
        keep = np.flatnonzero(logits.max(axis=0) >= threshold)
        if len(keep) == 0:
            continue
        distances = flat[:box_channels, keep].reshape(4, head.bins, len(keep)).astype(np.float32)
        distances = np.exp(distances - distances.max(axis=1, keepdims=True))
        sides = (distances * np.arange(head.bins, dtype=np.float32)[None, :, None]).sum(axis=1) / distances.sum(axis=1)
        left, top, right, bottom = sides
        ax, ay = keep % cols + 0.5, keep // cols + 0.5
        box = np.stack([ax + (right - left) / 2, ay + (bottom - top) / 2, left + right, top + bottom]) * stride
        scores = 1.0 / (1.0 + np.exp(-logits[:, keep].astype(np.float32)))
        columns.append(np.concatenate([box.astype(np.float32), scores], axis=0))
    if not columns:
        return np.zeros((4 + head.classes, 0), dtype=np.float32)
    return np.concatenate(columns, axis=1)
