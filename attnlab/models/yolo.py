"""YOLOv4-tiny with three attention slots.

The network, as the public reference implementation (bubbliiiing/yolov4-tiny-pytorch) writes it::

    image (B, 3, 416, 416)
      -> CSPDarknet53-tiny  -> feat1 (B, 256, 26, 26), feat2 (B, 512, 13, 13)
      -> feat1_att(feat1), feat2_att(feat2)                    <- attention slots 1 and 2
      -> P5 = conv_for_P5(feat2)  (1x1, 512 -> 256)
      -> out0 = yolo_headP5(P5)   (3x3 conv 256 -> 512, then 1x1 conv -> 3 * (5 + K))
      -> upsample(P5)             (1x1, 256 -> 128, nearest x2 -> 26 x 26)
      -> upsample_att(...)                                     <- attention slot 3
      -> P4 = cat([upsampled, feat1])  (384 channels)
      -> out1 = yolo_headP4(P4)   (3x3 conv 384 -> 256, then 1x1 conv -> 3 * (5 + K))

``attention`` picks the module in the three slots by name or by the reference's ``phi``:
0 ``"none"``, 1 ``"se"``, 2 ``"cbam"``, 3 ``"eca"``, 4 ``"ca"`` (and ``"simam"``, which has no
``phi`` in the reference). With 20 classes the ``state_dict`` has exactly the reference's keys,
shapes and order, so its published checkpoints load with :func:`attnlab.models.load_checkpoint`.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from attnlab.attention import build
from attnlab.detection.anchors import ANCHORS_MASK, ANCHORS_SIZE, YOLO_ANCHORS, validate_anchors
from attnlab.models.darknet import BasicConv, CSPDarknet53Tiny

__all__ = ["YoloV4Tiny", "Upsample", "yolo_head", "ATTENTION_PHI", "attention_name", "ATTENTION_SLOTS"]

#: reference ``phi`` of each attention name (``simam`` has none in the reference)
ATTENTION_PHI: dict[str, int] = {"none": 0, "se": 1, "cbam": 2, "eca": 3, "ca": 4}
#: attribute names of the three attention slots and their channel counts
ATTENTION_SLOTS: dict[str, int] = {"feat1_att": 256, "feat2_att": 512, "upsample_att": 128}
#: the final 1x1 convolutions whose shape depends on the number of classes
PREDICTION_LAYERS: tuple[str, ...] = ("yolo_headP5.1", "yolo_headP4.1")


def attention_name(attention: str | int | None) -> str:
    """Normalise an attention name or reference ``phi`` to a lower-case name.

    ``None``, ``0`` and ``"none"`` give ``"none"``; ``1..4`` give ``"se"``, ``"cbam"``, ``"eca"``,
    ``"ca"``; other strings are returned lower-cased (e.g. ``"simam"``) for
    :func:`attnlab.attention.build` to accept or reject.
    """
    if attention is None:
        return "none"
    if isinstance(attention, bool):
        raise TypeError(f"attention must be a name or an int phi, got {attention!r}")
    if isinstance(attention, int):
        for name, phi in ATTENTION_PHI.items():
            if phi == attention:
                return name
        raise ValueError(
            f"attention phi must be one of {sorted(ATTENTION_PHI.values())} "
            f"({', '.join(f'{v}={k}' for k, v in ATTENTION_PHI.items())}), got {attention}"
        )
    if isinstance(attention, str):
        name = attention.strip().lower()
        if name.isdigit():
            return attention_name(int(name))
        return name
    raise TypeError(f"attention must be a name (str) or phi (int), got {type(attention).__name__}")


class Upsample(nn.Module):
    """1x1 conv-BN-LeakyReLU then nearest-neighbour upsampling by 2 (reference ``Upsample``)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.upsample = nn.Sequential(BasicConv(in_channels, out_channels, 1), nn.Upsample(scale_factor=2, mode="nearest"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsample(x)


def yolo_head(filters_list: Sequence[int], in_filters: int) -> nn.Sequential:
    """A YOLO head: 3x3 conv-BN-LeakyReLU then a plain 1x1 convolution (with bias) to the outputs."""
    return nn.Sequential(
        BasicConv(in_filters, filters_list[0], 3),
        nn.Conv2d(filters_list[0], filters_list[1], 1),
    )


class YoloV4Tiny(nn.Module):
    """YOLOv4-tiny with attention on feat1, feat2 and the upsampled map.

    Args:
        num_classes: number of object classes ``K`` (20 for VOC).
        attention: ``"none"``, ``"se"``, ``"cbam"``, ``"eca"``, ``"ca"``, ``"simam"`` (any name
            :func:`attnlab.attention.build` knows) or the reference's ``phi`` 0..4.
        anchors: ``(A, 2)`` anchor widths and heights in pixels (default: the reference's six
            anchors at 416); kept as a plain attribute, not in the ``state_dict``.
        anchors_mask: anchor indices per output (default ``[[3, 4, 5], [1, 2, 3]]``).
        input_size: the input size the model is meant for (default 416); used by the predictor
            and decoder as a default. Any multiple of 32 works in ``forward``.
        attention_kwargs: extra keyword arguments for :func:`attnlab.attention.build`.

    ``forward(x)`` takes ``(B, 3, H, W)`` with ``H`` and ``W`` multiples of 32 and returns
    ``(out0, out1)``: ``(B, A*(5+K), H/32, W/32)`` and ``(B, A*(5+K), H/16, W/16)`` raw logits,
    where ``A = len(anchors_mask[i])`` (3).
    """

    def __init__(
        self,
        num_classes: int = 20,
        attention: str | int | None = "none",
        *,
        anchors: torch.Tensor | Sequence[Sequence[float]] | None = None,
        anchors_mask: Sequence[Sequence[int]] | None = None,
        input_size: int | tuple[int, int] = ANCHORS_SIZE,
        attention_kwargs: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"YoloV4Tiny: num_classes must be a positive int, got {num_classes!r}")
        anchors_t, mask = validate_anchors(
            YOLO_ANCHORS if anchors is None else anchors, ANCHORS_MASK if anchors_mask is None else anchors_mask
        )
        if len(mask) != 2:
            raise ValueError(f"YoloV4Tiny has two outputs, so anchors_mask needs two lists, got {len(mask)}")
        self.input_size = _check_size(input_size)
        self.num_classes = num_classes
        self.anchors = anchors_t
        self.anchors_mask = mask
        self.attention = attention_name(attention)
        self.phi = ATTENTION_PHI.get(self.attention)
        self.attention_kwargs = dict(attention_kwargs or {})

        na = len(mask[0])
        self.backbone = CSPDarknet53Tiny()
        self.conv_for_P5 = BasicConv(512, 256, 1)
        self.yolo_headP5 = yolo_head([512, na * (5 + num_classes)], 256)
        self.upsample = Upsample(256, 128)
        self.yolo_headP4 = yolo_head([256, len(mask[1]) * (5 + num_classes)], 384)
        # Registered last, like the reference, so the state_dict order matches too.
        for slot, channels in ATTENTION_SLOTS.items():
            setattr(self, slot, build(self.attention, channels, **dict(self.attention_kwargs)))

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_input(x)
        feat1, feat2 = self.backbone(x)
        feat1 = self.feat1_att(feat1)
        feat2 = self.feat2_att(feat2)
        p5 = self.conv_for_P5(feat2)
        out0 = self.yolo_headP5(p5)
        p5_up = self.upsample_att(self.upsample(p5))
        p4 = torch.cat([p5_up, feat1], dim=1)
        out1 = self.yolo_headP4(p4)
        return out0, out1

    # ------------------------------------------------------------------ helpers
    @property
    def num_anchors(self) -> int:
        """Anchors per output cell (3)."""
        return len(self.anchors_mask[0])

    @property
    def strides(self) -> tuple[int, int]:
        """Downsampling factor of each output: ``(32, 16)``."""
        return (32, 16)

    def output_shapes(self, input_size: int | tuple[int, int] | None = None, batch: int = 1) -> list[tuple[int, ...]]:
        """Shapes ``forward`` returns for an input of ``input_size`` (default ``self.input_size``)."""
        h, w = _check_size(self.input_size if input_size is None else input_size)
        return [
            (batch, len(m) * (5 + self.num_classes), h // s, w // s) for m, s in zip(self.anchors_mask, self.strides)
        ]

    def prediction_layers(self) -> list[nn.Conv2d]:
        """The two final 1x1 convolutions (the only layers whose shape depends on ``num_classes``)."""
        return [self.get_submodule(name) for name in PREDICTION_LAYERS]

    def reset_heads(self, num_classes: int | None = None) -> "YoloV4Tiny":
        """Re-initialise the two prediction layers, optionally for a new number of classes.

        Keeps the backbone, neck and the 3x3 convolutions of the heads. Returns ``self``.
        """
        if num_classes is not None:
            if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
                raise ValueError(f"reset_heads: num_classes must be a positive int, got {num_classes!r}")
            self.num_classes = num_classes
        for name, mask in zip(PREDICTION_LAYERS, self.anchors_mask):
            head_name, idx = name.split(".")
            old = self.get_submodule(name)
            new = nn.Conv2d(old.in_channels, len(mask) * (5 + self.num_classes), 1).to(
                device=old.weight.device, dtype=old.weight.dtype
            )
            getattr(self, head_name)[int(idx)] = new
        return self

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, attention={self.attention!r}, phi={self.phi}, "
            f"input_size={self.input_size}, anchors_mask={[list(m) for m in self.anchors_mask]}"
        )


def _check_size(size: int | tuple[int, int] | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, bool):
        raise TypeError(f"input size must be an int or (height, width), got {size!r}")
    if isinstance(size, int):
        h = w = size
    else:
        try:
            h, w = (int(v) for v in size)
        except (TypeError, ValueError):
            raise TypeError(f"input size must be an int or (height, width), got {size!r}") from None
    if h <= 0 or w <= 0 or h % 32 or w % 32:
        raise ValueError(
            f"input size must be positive multiples of 32 (the model downsamples by 32), got {h}x{w}; "
            f"try {max(32, round(h / 32) * 32)}x{max(32, round(w / 32) * 32)}"
        )
    return h, w


def check_input(x: torch.Tensor) -> None:
    """Raise a clear error unless ``x`` is a float ``(B, 3, H, W)`` batch with H, W multiples of 32."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"YoloV4Tiny expects a torch.Tensor of shape (B, 3, H, W), got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(
            f"YoloV4Tiny expects a batch of shape (B, 3, H, W), got {tuple(x.shape)}; "
            "add a batch dimension with x.unsqueeze(0)" if x.ndim == 3 else
            f"YoloV4Tiny expects a batch of shape (B, 3, H, W), got {tuple(x.shape)}"
        )
    if x.shape[1] != 3:
        raise ValueError(
            f"YoloV4Tiny expects 3 colour channels (RGB) in dim 1, got {x.shape[1]} (input shape {tuple(x.shape)}); "
            "convert grayscale/RGBA images to RGB, and put channels first"
        )
    h, w = x.shape[-2], x.shape[-1]
    if h % 32 or w % 32:
        raise ValueError(f"YoloV4Tiny: input height and width must be multiples of 32, got {h}x{w}")
    if not x.is_floating_point():
        raise TypeError(f"YoloV4Tiny expects a float tensor (scaled to 0..1), got {x.dtype}")
