"""Export YOLOv4-tiny to ONNX with a dynamic batch dimension.

::

    from attnlab.detection.export import export_onnx
    export_onnx(model, "yolov4_tiny.onnx", input_size=416)

    import onnxruntime as ort
    sess = ort.InferenceSession("yolov4_tiny.onnx")
    out13, out26 = sess.run(None, {"images": x.numpy()})     # any batch size

Needs the optional ``onnx`` package (and ``onnxruntime`` to run the result):
``pip install "attnlab[export]"``. Without it :func:`export_onnx` stops with one line that
says so, before any work.

The graph takes ``images`` ``(batch, 3, H, W)`` float32 in ``[0, 1]`` (letterboxed like the
predictor does) and returns the two raw head tensors ``output_stride32`` and ``output_stride16``;
decoding and NMS stay in Python (:func:`attnlab.detection.decode.decode`), so the exported graph is
exactly the network. By default the batch-norms are folded first (:func:`fuse_for_inference`),
which does not change the outputs beyond float rounding.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

__all__ = ["export_onnx", "INPUT_NAME", "OUTPUT_NAMES"]

INPUT_NAME = "images"
OUTPUT_NAMES = ("output_stride32", "output_stride16")


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    input_size: int | tuple[int, int] = 416,
    *,
    opset: int = 17,
    dynamic_batch: bool = True,
    fuse: bool = True,
    check: bool = True,
) -> Path:
    """Export ``model`` (eval mode, on CPU) to an ONNX file.

    Args:
        model: a :class:`~attnlab.models.YoloV4Tiny` (not modified: a copy is exported).
        path: the ``.onnx`` file to write (parent folders are created).
        input_size: ``H`` and ``W`` of the graph's input (multiples of 32).
        opset: ONNX opset version.
        dynamic_batch: make the batch dimension symbolic (``batch``), so one file serves any
            batch size.
        fuse: fold batch-norms into the convolutions before exporting.
        check: run ``onnx.checker`` on the result.

    Returns:
        the path written.

    Raises:
        attnlab.book.MissingDependency: the ``onnx`` package is not installed (it comes with
            ``pip install "attnlab[export]"``).
    """
    import copy

    from attnlab.book import optional_import
    from attnlab.models.fuse import fuse_for_inference
    from attnlab.models.yolo import _check_size

    # torch's exporter writes the graph with the onnx package: refuse early, with the command
    onnx = optional_import("onnx", extra="export", purpose="export_onnx")

    h, w = _check_size(input_size)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = fuse_for_inference(model) if fuse else copy.deepcopy(model).eval()
    net = net.to("cpu").float()
    example = torch.rand(2 if dynamic_batch else 1, 3, h, w)
    dynamic_axes = {INPUT_NAME: {0: "batch"}, **{n: {0: "batch"} for n in OUTPUT_NAMES}} if dynamic_batch else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kwargs = dict(
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            opset_version=opset,
            dynamic_axes=dynamic_axes,
        )
        try:  # the TorchScript exporter: fast, needs only onnx (not onnxscript), exact here
            torch.onnx.export(net, (example,), str(path), dynamo=False, **kwargs)
        except TypeError:  # torch < 2.5 has no ``dynamo`` argument (and uses TorchScript anyway)
            torch.onnx.export(net, (example,), str(path), **kwargs)
    if check:
        onnx.checker.check_model(onnx.load(str(path)))
    return path
