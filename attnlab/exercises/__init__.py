"""Self-checking exercises: pass your answer to a checker, get a pass or a precise hint.

Each checker runs your function or class on inputs it makes itself, compares the result with the
package's reference implementation, and, when they differ, says *what* differs (the shape, the
parameter count, the gate range, a typical slip such as a softmax in place of a sigmoid) rather
than only that something does. A checker returns a :class:`CheckResult`; in a notebook it prints
itself, and ``bool(result)`` tells whether it passed.

=====================================  ==========  =========================================
checker                                chapter     your answer
=====================================  ==========  =========================================
:func:`check_channel_gate`             1           ``fn(x, weights) -> x`` re-weighted per channel
:func:`check_se_block`                 2           an SE ``nn.Module`` class ``(channels, reduction)``
:func:`check_spatial_descriptor`       3           ``fn(x) -> (B, 2, H, W)`` channel mean and max
:func:`check_cbam_module`              3           a CBAM class ``(channels, ratio, kernel_size)``
:func:`check_eca_kernel_size`          4           ``fn(channels) -> k``
:func:`check_eca_module`               4           an ECA class ``(channels)``
:func:`check_simam`                    5           ``fn(x, e_lambda) -> x`` gated by SimAM
:func:`check_ca_module`                5           a Coordinate Attention class ``(channels, reduction)``
:func:`check_box_iou`                  6           ``fn(boxes1, boxes2) -> (N, M)`` IoU matrix
:func:`check_decode`                   6           ``fn(raw, anchors, stride) -> (A, H, W, 4)`` boxes
:func:`check_assignment`               6           ``fn(box, anchors, mask, strides) -> [(level, a, row, col)]``
:func:`check_nms`                      6           ``fn(boxes, scores, iou_threshold) -> kept indices``
:func:`check_average_precision`        7           ``fn(scores, is_tp, n_gt) -> float`` one class's AP
:func:`check_slot_overhead`            7           ``fn(slot_channels, reduction) -> int`` SE parameters
:func:`check_unletterbox`              8           ``fn(boxes, scale, pad_x, pad_y) -> boxes``
=====================================  ==========  =========================================

The quiz bank (:mod:`attnlab.exercises.quiz`: ``questions``, ``check_quiz``) holds short
multiple-choice questions per chapter whose numeric answers are computed from the package.
"""

from attnlab.exercises.checks import (
    CheckResult,
    check_average_precision,
    check_box_iou,
    check_channel_gate,
    check_eca_kernel_size,
    check_se_block,
    check_simam,
    check_slot_overhead,
    check_spatial_descriptor,
    check_unletterbox,
)
from attnlab.exercises.detection import check_assignment, check_decode, check_nms
from attnlab.exercises.modules import check_ca_module, check_cbam_module, check_eca_module

__all__ = [
    "CheckResult",
    "check_assignment",
    "check_average_precision",
    "check_box_iou",
    "check_ca_module",
    "check_cbam_module",
    "check_channel_gate",
    "check_decode",
    "check_eca_kernel_size",
    "check_eca_module",
    "check_nms",
    "check_se_block",
    "check_simam",
    "check_slot_overhead",
    "check_spatial_descriptor",
    "check_unletterbox",
]
