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

How they are made fast (outputs and gradients equal the plain formulas; the tests check both):

- pooling by ``x.mean((2, 3))`` / ``amax`` and ``F.linear`` / ``F.conv*`` on the weights
  directly, no ``AdaptiveAvgPool2d`` + ``view`` + ``Sequential`` calls (hooks on the inner layers
  therefore do not fire; hook the block);
- CBAM's shared MLP runs once on the stacked average and max descriptors, and its second layer
  once on the sum (it is linear);
- without autograd (``torch.no_grad``/inference) a block's second full-size product reuses its own
  first temporary in place; the input is never modified;
- with autograd, ``torch.autograd.Function`` s with hand-fused backward passes (``use_fused`` in
  ``_common``): one or two full-size temporaries instead of the six to ten that the reference
  code's graph allocates. They give first derivatives only (``once_differentiable``); under
  ``torch.compile`` and ONNX export the plain code runs instead (the compiler fuses it itself).
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
