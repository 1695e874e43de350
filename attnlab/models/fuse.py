"""An inference copy of a model with every conv + batch-norm pair folded into one convolution.

In evaluation mode a batch-norm layer is a fixed per-channel affine map, so it can be folded into
the convolution before it: one pass over the feature map instead of two, and no separate memory
traffic for the normalisation. :func:`fuse_for_inference` does this on a *deep copy*: the model
you train, and its ``state_dict`` layout, stay untouched.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from attnlab.models.darknet import BasicConv

__all__ = ["fuse_for_inference", "count_fusable", "fold_conv_bn"]


@torch.no_grad()
def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new ``Conv2d`` (with bias) equal to ``bn(conv(x))`` in evaluation mode."""
    if not bn.track_running_stats or bn.running_var is None:
        raise ValueError("fold_conv_bn: the batch-norm has no running statistics to fold")
    scale = (bn.weight if bn.affine else torch.ones_like(bn.running_var)) / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias if bn.affine else torch.zeros_like(bn.running_mean)
    fused = nn.Conv2d(
        conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
        dilation=conv.dilation, groups=conv.groups, bias=True, padding_mode=conv.padding_mode,
    ).to(device=conv.weight.device, dtype=conv.weight.dtype)
    fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    fused.bias.copy_((bias - bn.running_mean) * scale + shift)
    return fused


def count_fusable(model: nn.Module) -> int:
    """Number of conv + batch-norm blocks (:class:`BasicConv`) not yet fused."""
    return sum(isinstance(m, BasicConv) and not m.fused for m in model.modules())


def fuse_for_inference(model: nn.Module, *, channels_last: bool = False) -> nn.Module:
    """Return a deep copy of ``model`` in eval mode with every :class:`BasicConv` fused.

    Args:
        model: e.g. a :class:`~attnlab.models.YoloV4Tiny` (left unchanged: same mode, weights and
            ``state_dict`` keys).
        channels_last: also convert the copy to the ``channels_last`` memory format (often faster
            for convolutions on GPUs and on recent CPUs; feed it inputs with
            ``x.to(memory_format=torch.channels_last)``).

    The activations of the fused blocks run in place (they overwrite a convolution output that
    nothing else reads). The copy has ``requires_grad=False`` parameters and is meant for ``torch.inference_mode()``.
    Its outputs equal the original's in eval mode up to float rounding (about 1e-5 relative).
    Attention modules are copied as they are (their few small layers are not worth folding).
    """
    fused = copy.deepcopy(model)
    fused.eval()
    for m in fused.modules():
        if isinstance(m, BasicConv):
            m.fuse()
            # the activation now reads a fresh convolution output that nothing else uses
            if isinstance(m.activation, nn.LeakyReLU):
                m.activation.inplace = True
    for p in fused.parameters():
        p.requires_grad_(False)
    if channels_last:
        fused = fused.to(memory_format=torch.channels_last)
    fused.is_fused = True  # type: ignore[attr-defined]
    return fused
