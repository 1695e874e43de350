"""Collate, loader settings, anchors, the batch figure and the data benchmark."""

import json

import numpy as np
import pytest
import torch

from attnlab.data import (
    CLASS_NAMES,
    EpochLoader,
    ShapesDetection,
    auto_num_workers,
    dataset_wh,
    detection_collate,
    kmeans_anchors,
    make_loader,
    split_targets,
    train_transform,
    wh_iou,
)


def test_collate_layout():
    a = (torch.zeros(3, 8, 8), torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]]))
    b = (torch.ones(3, 8, 8), torch.zeros((0, 5)))
    c = (torch.ones(3, 8, 8), torch.tensor([[0.0, 0.0, 8.0, 8.0, 1.0], [1.0, 1.0, 2.0, 2.0, 0.0]]))
    images, targets = detection_collate([a, b, c])
    assert images.shape == (3, 3, 8, 8)
    assert targets.tolist() == [[0, 5, 1, 2, 3, 4], [2, 1, 0, 0, 8, 8], [2, 0, 1, 1, 2, 2]]
    per = split_targets(targets, 3)
    assert per[0].tolist() == [[1, 2, 3, 4, 5]] and per[1].shape == (0, 5) and torch.equal(per[2], c[1])
    with pytest.raises(ValueError, match="one size"):
        detection_collate([a, (torch.zeros(3, 4, 4), torch.zeros((0, 5)))])
    with pytest.raises(ValueError, match="empty batch"):
        detection_collate([])


def test_auto_workers_is_zero_without_cuda():
    assert auto_num_workers("cpu") == 0


def test_loader_is_seeded_and_changes_augmentation_per_epoch():
    def run(seed):
        ds = ShapesDetection(8, 48, seed=0)
        ds.transform = train_transform(48, ds, mosaic_p=0.5)
        loader = make_loader(ds, 4, shuffle=True, seed=seed, num_workers=0)
        assert isinstance(loader, EpochLoader)
        return [[(im.clone(), t.clone()) for im, t in loader] for _ in range(2)]

    e1, e2 = run(3), run(3)
    for ep_a, ep_b in zip(e1, e2):  # same seed: identical batches, epoch by epoch
        for (ia, ta), (ib, tb) in zip(ep_a, ep_b):
            assert torch.equal(ia, ib) and torch.equal(ta, tb)
    assert not torch.equal(e1[0][0][0], e1[1][0][0])  # a new epoch draws new augmentation
    for images, targets in e1[0]:
        assert images.shape == (4, 3, 48, 48) and targets.shape[1] == 6


def test_loader_with_workers_matches_main_process():
    ds = ShapesDetection(4, 32, seed=0)
    ds.transform = train_transform(32, ds, mosaic_p=0.5, mixup_p=0.5)  # refers back to ds: must pickle
    main = [t for _, t in make_loader(ds, 2, shuffle=True, seed=1, num_workers=0)]
    work = [t for _, t in make_loader(ds, 2, shuffle=True, seed=1, num_workers=1)]
    assert all(torch.equal(a, b) for a, b in zip(main, work))


def test_kmeans_anchors_recovers_clusters_and_is_deterministic():
    rng = np.random.default_rng(0)
    centres = np.array([[10, 14], [23, 27], [37, 58], [81, 82], [135, 169], [344, 319]], float)
    wh = np.concatenate([c * rng.uniform(0.93, 1.07, (200, 2)) for c in centres])
    anchors, mean_iou = kmeans_anchors(wh, 6, seed=1)
    assert anchors.shape == (6, 2)
    areas = anchors.prod(1)
    assert (np.diff(areas) > 0).all()  # sorted by area
    assert np.allclose(anchors, centres, rtol=0.08)
    assert 0.85 < mean_iou <= 1.0
    again = kmeans_anchors(torch.tensor(wh), 6, seed=1)
    assert np.array_equal(again.anchors, anchors) and again.mean_iou == mean_iou
    assert wh_iou(np.array([[2.0, 2.0]]), np.array([[2.0, 2.0], [4.0, 1.0]]))[0].tolist() == pytest.approx([1.0, 1 / 3])
    with pytest.raises(ValueError, match="distinct box sizes"):
        kmeans_anchors(np.ones((10, 2)), 3)


def test_kmeans_on_a_dataset():
    ds = ShapesDetection(24, 64, seed=0)
    wh = dataset_wh(ds, scale_to=128)
    assert wh.shape[1] == 2 and len(wh) >= 24 and wh.min() > 0
    res = kmeans_anchors(wh, 4, seed=0)
    assert res.mean_iou > 0.6 and res.iterations >= 1


def test_show_batch_draws_boxes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from attnlab.viz.batch import show_batch

    ds = ShapesDetection(3, 48, seed=0)
    images, targets = next(iter(make_loader(ds, 3, num_workers=0)))
    fig = show_batch(images, targets, CLASS_NAMES, ncols=2, title="batch")
    n_rects = sum(len(ax.patches) for ax in fig.axes)
    assert n_rects == targets.shape[0] and len(fig.axes) == 4
    plt.close(fig)
    fig = show_batch([np.zeros((8, 8, 3), np.uint8)], [np.array([[1, 1, 4, 4, 0]])], ["a"], scores=[[0.5]])
    assert fig.axes[0].texts[0].get_text() == "a 0.50"
    plt.close(fig)


def test_bench_data_writes_json(tmp_path):
    from attnlab.__main__ import main

    out = tmp_path / "data.json"
    assert main(["bench", "data", "--size", "64", "--n", "4", "--batch-size", "2", "--workers", "0", "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert set(payload["images_per_s"]) == {"generate", "augment", "letterbox", "loader"}
    assert all(v > 0 for v in payload["images_per_s"].values())
    assert payload["config"]["size"] == 64 and "torch" in payload["environment"]
