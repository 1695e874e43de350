"""Where does YOLOv4-tiny look? An objectness heatmap and Grad-CAM for one detection.

- :func:`objectness_map`: like the reference project's ``detect_heatmap``: for every output cell
  the largest objectness ``sigmoid(t_o)`` over its anchors, upsampled to the input and taken as
  the maximum over the two outputs; here also mapped back through the letterbox so it lines up
  with the *original* image.
- :func:`grad_cam`: Grad-CAM (Selvaraju et al. 2017) for one detection's score
  ``objectness * class probability``: the gradient of that score with respect to a layer's
  activations, averaged over space, weights the activation channels; the ReLU of the weighted
  sum is the map. Defaults to ``backbone.resblock_body3.conv4`` (feat1 before attention, 26 x 26,
  which feeds both heads).
- :func:`overlay` draws either map over the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["objectness_map", "grad_cam", "GradCAMResult", "overlay", "letterboxed_to_original"]

DEFAULT_LAYER = "backbone.resblock_body3.conv4"


def letterboxed_to_original(heat: torch.Tensor, lb: Any) -> np.ndarray:
    """Crop a map defined on the letterboxed input ``(H_in, W_in)`` to the image area and resize
    it to the original ``(orig_h, orig_w)``; returns a numpy array."""
    if heat.ndim == 2:
        heat = heat[None, None]
    heat = F.interpolate(heat.float(), size=(lb.out_h, lb.out_w), mode="bilinear", align_corners=False)
    new_w = getattr(lb, "new_w", round(lb.orig_w * lb.scale))
    new_h = getattr(lb, "new_h", round(lb.orig_h * lb.scale))
    crop = heat[..., lb.pad_y : lb.pad_y + new_h, lb.pad_x : lb.pad_x + new_w]
    out = F.interpolate(crop, size=(lb.orig_h, lb.orig_w), mode="bilinear", align_corners=False)
    return out[0, 0].detach().cpu().numpy()


def objectness_map(predictor: Any, image: Any) -> np.ndarray:
    """Max objectness over anchors per cell, both outputs, as an ``(orig_h, orig_w)`` map in [0, 1].

    Args:
        predictor: a :class:`~attnlab.detection.predictor.Predictor` (gives the model, input size
            and letterbox).
        image: anything the predictor accepts.
    """
    x, lb, _ = predictor.preprocess(image)
    model = predictor.model
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            outputs = model(x)
    finally:
        model.train(was_training)
    attrs = 5 + predictor.num_classes
    heat = torch.zeros(1, 1, lb.out_h, lb.out_w)
    for out, mask in zip(outputs, model.anchors_mask):
        b, _, h, w = out.shape
        obj = torch.sigmoid(out.float().reshape(b, len(mask), attrs, h, w)[:, :, 4])  # (1, A, h, w)
        cell = obj.max(1, keepdim=True).values.cpu()
        up = F.interpolate(cell, size=(lb.out_h, lb.out_w), mode="bilinear", align_corners=False)
        heat = torch.maximum(heat, up)
    return np.clip(letterboxed_to_original(heat, lb), 0.0, 1.0)


@dataclass
class GradCAMResult:
    """A Grad-CAM map and what it explains.

    Attributes:
        cam: ``(orig_h, orig_w)`` map in [0, 1] (all zeros when the gradient is zero).
        box: the explained detection's ``xyxy`` box in the original image's pixels.
        score: its ``objectness * class probability``.
        label: its class index.
        class_name: its class name.
        layer: the layer the map was computed on.
        candidate: its index in the flattened candidates of :func:`decode_outputs`.
        from_threshold: ``False`` when no detection passed the predictor's threshold and the
            top-scoring candidate was explained instead.
    """

    cam: np.ndarray
    box: np.ndarray
    score: float
    label: int
    class_name: str
    layer: str
    candidate: int
    from_threshold: bool


def grad_cam(
    predictor: Any,
    image: Any,
    *,
    detection: int = 0,
    layer: str = DEFAULT_LAYER,
    output_index: int = 0,
) -> GradCAMResult:
    """Grad-CAM of one detection's score on ``layer``.

    Args:
        predictor: a :class:`~attnlab.detection.predictor.Predictor`.
        image: anything the predictor accepts.
        detection: which detection to explain (0 = the highest-scoring one after NMS). When the
            image has no detection above the threshold, the highest-scoring candidate is used.
        layer: dotted name of a module of the model (``model.get_submodule(layer)``), e.g.
            ``"feat1_att"``, ``"backbone.conv3"`` or the default ``"backbone.resblock_body3.conv4"``.
            Layers that only feed one head give zero maps for detections of the other head.
        output_index: which element to use when the layer returns a tuple.
    """
    from attnlab.detection.decode import decode_outputs, postprocess
    from attnlab.detection.boxes import box_convert

    model = predictor.model
    try:
        module = model.get_submodule(layer)
    except AttributeError as exc:
        raise ValueError(f"grad_cam: the model has no layer {layer!r}") from exc
    store: dict[str, torch.Tensor] = {}

    def hook(_m: Any, _i: Any, out: Any) -> None:
        t = out[output_index] if isinstance(out, (tuple, list)) else out
        if not isinstance(t, torch.Tensor) or t.ndim != 4:
            raise ValueError(f"grad_cam: layer {layer!r} does not output a (B, C, H, W) tensor")
        t.retain_grad()
        store["act"] = t

    x, lb, _ = predictor.preprocess(image)
    x = x.clone().requires_grad_(True)  # gradients flow even through frozen (fused) weights
    handle = module.register_forward_hook(hook)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            outputs = model(x)
            decoded = decode_outputs(outputs, predictor.num_classes, predictor.input_size, model.anchors, model.anchors_mask)
            dets = postprocess(
                decoded.detach(), predictor.conf_threshold, predictor.nms_iou,
                clip_size=predictor.input_size,
            )[0]
            if len(dets) > 0:
                k = min(max(detection, 0), len(dets) - 1)
                cand, label, from_threshold = int(dets.candidates[k]), int(dets.labels[k]), True
            else:
                conf = decoded[0, :, 4] * decoded[0, :, 5:].max(-1).values
                cand = int(conf.argmax())
                label = int(decoded[0, cand, 5:].argmax())
                from_threshold = False
            score = decoded[0, cand, 4] * decoded[0, cand, 5 + label]
            score.backward()
    finally:
        handle.remove()
        model.train(was_training)
    act = store["act"]
    grad = act.grad if act.grad is not None else torch.zeros_like(act)
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * act).sum(1, keepdim=True)).detach()
    peak = cam.max()
    cam = cam / peak if peak > 0 else cam
    box_in = box_convert(decoded[0, cand, :4].detach()[None], "cxcywh", "xyxy")
    box = lb.invert_boxes(box_in.cpu(), clip=True)[0].numpy()
    return GradCAMResult(
        cam=np.clip(letterboxed_to_original(cam.cpu(), lb), 0.0, 1.0),
        box=box,
        score=float(score.detach()),
        label=label,
        class_name=predictor.class_names[label],
        layer=layer,
        candidate=cand,
        from_threshold=from_threshold,
    )


def overlay(image: Any, heat: np.ndarray, ax: Any = None, *, alpha: float = 0.5, cmap: str = "jet", box: Any = None, title: str | None = None, colorbar: bool = False):
    """Show ``heat`` (``(H, W)``, same size as the image) over ``image``; returns the ``Axes``.

    ``box`` (``xyxy``) is outlined in white when given (e.g. the detection a Grad-CAM explains).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from attnlab.detection.predictor import load_image

    rgb = load_image(image)
    heat = np.asarray(heat)
    if heat.shape != rgb.shape[:2]:
        raise ValueError(f"overlay: heat map {heat.shape} and image {rgb.shape[:2]} differ in size")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5 * rgb.shape[0] / max(rgb.shape[1], 1)), dpi=100)
    ax.imshow(rgb)
    im = ax.imshow(heat, cmap=cmap, alpha=alpha, vmin=0.0, vmax=1.0, interpolation="nearest")
    if box is not None:
        x1, y1, x2, y2 = (float(v) for v in np.asarray(box).reshape(4))
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor="white", linewidth=2))
    if colorbar:
        plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
