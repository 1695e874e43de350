"""Models: YOLOv4-tiny with attention slots (and, from the classifier module, a small CNN).

Public names are imported lazily (on first attribute access), so ``import attnlab.models`` is cheap
and one sub-module cannot break another:

- :class:`YoloV4Tiny`, :class:`CSPDarknet53Tiny`, :class:`BasicConv` (``attnlab.models.yolo``,
  ``attnlab.models.darknet``)
- :func:`load_checkpoint`, :class:`LoadResult`, :class:`CheckpointError` (``attnlab.models.weights``)
- :func:`fuse_for_inference` (``attnlab.models.fuse``)
- :func:`summarize` (``attnlab.models.summary``)
"""

from __future__ import annotations

from attnlab._lazy import lazy_exports

# public name -> sub-module defining it. Other model modules add their names here.
_LAZY: dict[str, str] = {
    "YoloV4Tiny": "attnlab.models.yolo",
    "ATTENTION_PHI": "attnlab.models.yolo",
    "ATTENTION_SLOTS": "attnlab.models.yolo",
    "attention_name": "attnlab.models.yolo",
    "CSPDarknet53Tiny": "attnlab.models.darknet",
    "BasicConv": "attnlab.models.darknet",
    "ResblockBody": "attnlab.models.darknet",
    "load_checkpoint": "attnlab.models.weights",
    "LoadResult": "attnlab.models.weights",
    "CheckpointError": "attnlab.models.weights",
    "unwrap_state_dict": "attnlab.models.weights",
    "fuse_for_inference": "attnlab.models.fuse",
    "summarize": "attnlab.models.summary",
    "ModelSummary": "attnlab.models.summary",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
