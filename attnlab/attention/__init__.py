"""Attention modules for CNNs: SE, CBAM, ECA, Coordinate Attention, SimAM.

Each block takes and returns a (B, C, H, W) tensor, has a ``channels`` attribute, and by default
matches the reference block of the YOLOv4-tiny project (same ``state_dict`` keys and shapes, same
outputs), so published weights load.

- :class:`SqueezeExcite` (alias ``SE``), Hu et al. 2018
- :class:`CBAM` (with :class:`ChannelAttention`, :class:`SpatialAttention`), Woo et al. 2018
- :class:`ECA` and :func:`eca_kernel_size`, Wang et al. 2020
- :class:`CoordAttention` (alias ``CA``), Hou et al. 2021
- :class:`SimAM`, Yang et al. 2021
- :class:`NoAttention`: the identity, for "no attention" slots
- :func:`build`: by name (:data:`ATTENTION_NAMES`) or the reference's integer phi (:data:`PHI_NAMES`)
- :func:`capture`: look at the gates during a forward pass

``python -m attnlab bench attention`` compares their speed with straightforward references
(:func:`attnlab.attention.bench.run_bench` returns the rows).

Each block's ``forward`` is its paper's equations in plain PyTorch, one line per equation, with
the equation beside it; autograd differentiates them (no hand-written backward passes), so hooks
on the inner layers (e.g. ``SqueezeExcite.fc[0]``) fire, double backward works, and
``torch.compile`` and ONNX export see the same code. Speed comes from the whole model
(channels-last, ``torch.compile``: ``python -m attnlab bench train``), not from hand-fused blocks:
in a YOLOv4-tiny training step the fused blocks this package once had were within a few percent
of this plain code.
"""

from attnlab.attention.capture import GATE_KEYS, capture
from attnlab.attention.cbam import CBAM, ChannelAttention, SpatialAttention
from attnlab.attention.coord import CA, CoordAttention
from attnlab.attention.eca import ECA, eca_kernel_size
from attnlab.attention.factory import ATTENTION_NAMES, PHI_NAMES, NoAttention, build
from attnlab.attention.se import SE, SqueezeExcite
from attnlab.attention.simam import SimAM

__all__ = [
    "ATTENTION_NAMES",
    "CA",
    "CBAM",
    "ChannelAttention",
    "CoordAttention",
    "ECA",
    "GATE_KEYS",
    "NoAttention",
    "PHI_NAMES",
    "SE",
    "SimAM",
    "SpatialAttention",
    "SqueezeExcite",
    "build",
    "capture",
    "eca_kernel_size",
]
