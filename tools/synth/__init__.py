"""Synthetic store clips with exact ground truth (``storesight synth``).

Real person images (cut out of the labelled Intel clip in ../shared/data when it is there,
else a portrait shipped with matplotlib) move along scripted paths over a drawn store: they
enter through the entrance on the left, browse the aisle, join the checkout queue, are served
one by one at the till and leave on the right (some browse and leave without buying).

Modules: ``scene`` (layout and the matching store config), ``script`` (who is where in every
frame, and the ground truth derived from it: pure Python), ``people`` (person cut-outs),
``render`` (drawing and writing the video), ``cli`` (the verb).
"""
