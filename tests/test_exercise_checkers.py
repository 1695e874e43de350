"""The whole-module and detector checkers: a right answer passes, each typical slip fails with the
hint that names it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from attnlab import exercises as ex
from attnlab.attention import CBAM, ECA, CoordAttention
from attnlab.detection import box_iou, nms
from attnlab.detection.loss import shape_iou


def verdict(result, *, passed, hint=None):
    assert bool(result) is passed, str(result)
    if hint is not None:
        assert hint in str(result), str(result)


# --- CBAM -------------------------------------------------------------------------------------------
class SwappedCBAM(CBAM):
    """Stacks [max; mean] for the spatial gate instead of [mean; max]."""

    def forward(self, x):
        x = x * self.channelattention(x)
        s = torch.cat([x.amax(1, keepdim=True), x.mean(1, keepdim=True)], 1)
        return x * torch.sigmoid(self.spatialattention.conv1(s))


class ChannelOnlyCBAM(CBAM):
    def forward(self, x):
        return x * self.channelattention(x)


def test_cbam_module():
    verdict(ex.check_cbam_module(CBAM), passed=True)
    verdict(ex.check_cbam_module(SwappedCBAM), passed=False, hint="[mean; max]")
    verdict(ex.check_cbam_module(lambda c, r, k: CBAM(c, r, k, order="spatial-channel")), passed=False,
            hint="channel gate first")
    verdict(ex.check_cbam_module(lambda c, r, k: CBAM(c, r, k, pool="avg")), passed=False, hint="max-pooled")
    verdict(ex.check_cbam_module(ChannelOnlyCBAM), passed=False, hint="only the channel gate")
    verdict(ex.check_cbam_module(lambda c, r, k: CBAM(c, r, k, bias=True)), passed=False, hint="parameters")
    verdict(ex.check_cbam_module(lambda c, r, k: CBAM(c, r, k, spatial_bn=True)), passed=False, hint="parameters")


# --- ECA --------------------------------------------------------------------------------------------
class MaxECA(ECA):
    def forward(self, x):
        w = torch.sigmoid(self.conv(x.amax((2, 3))[:, None, :]))
        return x * w[:, 0, :, None, None]


def test_eca_module():
    verdict(ex.check_eca_module(ECA), passed=True)
    verdict(ex.check_eca_module(MaxECA), passed=False, hint="average")
    verdict(ex.check_eca_module(lambda c: ECA(c, kernel_size=3)), passed=False, hint="expected k = 5")

    class Renamed(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.kernel = ECA(c).conv

        def forward(self, x):
            return x

    verdict(ex.check_eca_module(Renamed), passed=False, hint="missing: ['conv.weight']")


# --- Coordinate Attention -----------------------------------------------------------------------------
class LonghandCA(nn.Module):
    def __init__(self, channels, reduction=16, swap=False):
        super().__init__()
        hidden = channels // reduction
        self.conv_1x1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.bn = nn.BatchNorm2d(hidden)
        self.F_h = nn.Conv2d(hidden, channels, 1, bias=False)
        self.F_w = nn.Conv2d(hidden, channels, 1, bias=False)
        self.swap = swap

    def forward(self, x):
        h, w = x.shape[2:]
        f = torch.cat([x.mean(3, keepdim=True).permute(0, 1, 3, 2), x.mean(2, keepdim=True)], 3)
        f_h, f_w = F.relu(self.bn(self.conv_1x1(f))).split([h, w], 3)
        conv_h, conv_w = (self.F_w, self.F_h) if self.swap else (self.F_h, self.F_w)
        return x * torch.sigmoid(conv_h(f_h.permute(0, 1, 3, 2))) * torch.sigmoid(conv_w(f_w))


def test_ca_module():
    verdict(ex.check_ca_module(CoordAttention), passed=True)
    verdict(ex.check_ca_module(LonghandCA), passed=True)
    verdict(ex.check_ca_module(lambda c, r: LonghandCA(c, r, swap=True)), passed=False, hint="swapped")
    verdict(ex.check_ca_module(lambda c, r: CoordAttention(c, r, activation="hswish")), passed=False, hint="h-swish")
    verdict(ex.check_ca_module(lambda c, r: CoordAttention(c, r, bias=True)), passed=False, hint="parameters")


# --- decoding -----------------------------------------------------------------------------------------
def decoder(*, sigmoid=True, grid=True, exp=True, transpose=False):
    def decode_head(raw, anchors, stride):
        a = anchors.shape[0]
        _, h, w = raw.shape
        p = raw.reshape(a, -1, h, w)
        rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        off = torch.sigmoid(p[:, :2]) if sigmoid else p[:, :2]
        cx = (off[:, 0] + (cols if grid else 0)) * stride
        cy = (off[:, 1] + (rows if grid else 0)) * stride
        if transpose:   # x paired with the row index, y with the column index
            cx, cy = (off[:, 0] + rows) * stride, (off[:, 1] + cols) * stride
        size = torch.exp(p[:, 2:4]) if exp else p[:, 2:4]
        return torch.stack([cx, cy, anchors[:, 0, None, None] * size[:, 0], anchors[:, 1, None, None] * size[:, 1]], -1)
    return decode_head


def test_decode():
    verdict(ex.check_decode(decoder()), passed=True)
    verdict(ex.check_decode(decoder(sigmoid=False)), passed=False, hint="sigmoid")
    verdict(ex.check_decode(decoder(grid=False)), passed=False, hint="column")
    verdict(ex.check_decode(decoder(exp=False)), passed=False, hint="exp(t_w)")
    verdict(ex.check_decode(decoder(transpose=True)), passed=False, hint="x pairs with the column")
    verdict(ex.check_decode(lambda raw, a, s: decoder()(raw, a, s).transpose(1, 2)), passed=False, hint="Rows are")
    verdict(ex.check_decode(lambda raw, a, s: decoder()(raw, a / s, s)), passed=False, hint="do not divide")


# --- assignment ---------------------------------------------------------------------------------------
def assigner(*, swap=False, rounding=False, first_level_only=False, global_index=False):
    def assign(box, anchors, mask, strides):
        best = int(shape_iou(box[None, 2:], anchors).argmax())
        out = []
        for level, (m, s) in enumerate(zip(mask, strides)):
            if best not in m:
                continue
            cell = (round(float(box[1]) / s), round(float(box[0]) / s)) if rounding else (int(box[1] // s), int(box[0] // s))
            if swap:
                cell = cell[::-1]
            out.append((level, best if global_index else list(m).index(best), *cell))
            if first_level_only:
                break
        return out
    return assign


def test_assignment():
    verdict(ex.check_assignment(assigner()), passed=True)
    verdict(ex.check_assignment(assigner(swap=True)), passed=False, hint="swapped")
    verdict(ex.check_assignment(assigner(rounding=True)), passed=False, hint="floor")
    verdict(ex.check_assignment(assigner(first_level_only=True)), passed=False, hint="both outputs")
    verdict(ex.check_assignment(assigner(global_index=True)), passed=False, hint="within the level")
    verdict(ex.check_assignment(lambda *args: "nothing"), passed=False, hint="tuples")


# --- NMS ------------------------------------------------------------------------------------------------
def not_greedy(boxes, scores, thr):
    order = torch.argsort(scores, descending=True, stable=True)
    ious = box_iou(boxes[order], boxes[order])
    return order[[i for i in range(len(order)) if not (ious[:i, i] > thr).any()]]


def test_nms():
    verdict(ex.check_nms(nms), passed=True)
    verdict(ex.check_nms(not_greedy), passed=False, hint="kept")
    verdict(ex.check_nms(lambda b, s, t: nms(b, s, t - 1e-6)), passed=False, hint="exactly at the threshold")
    verdict(ex.check_nms(lambda b, s, t: nms(b, s, t).sort().values), passed=False, hint="wrong order")

    def as_mask(b, s, t):
        keep = torch.zeros(len(b), dtype=torch.bool)
        keep[nms(b, s, t)] = True
        return keep

    verdict(ex.check_nms(as_mask), passed=False, hint="boolean mask")
    verdict(ex.check_nms(lambda b, s, t: (_ for _ in ()).throw(NotImplementedError)), passed=False,
            hint="NotImplementedError")
