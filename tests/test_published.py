"""Published reference weights: downloaded from a local server here, checked, loaded key for key."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest
import torch

from attnlab.detection.published import (COCO_CLASSES, PUBLISHED, PublishedWeightsUnavailable, download_published,
                                         load_published)
from attnlab.models import CheckpointError, YoloV4Tiny


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over a folder; yields (base_url, folder, list of requested paths)."""
    root = tmp_path / "release"
    root.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self):
            requests.append(self.path)
            if self.path.endswith("truncated.pth"):
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b"x" * 10)
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", root, requests
    httpd.shutdown()
    httpd.server_close()


def test_download_checks_and_loads_a_reference_layout_checkpoint(server, tmp_path):
    base, root, requests = server
    torch.manual_seed(0)
    reference = YoloV4Tiny(20, attention="se")
    torch.save(reference.state_dict(), root / PUBLISHED["voc-se"].file)
    cache = tmp_path / "cache"
    model, info = load_published("voc-se", cache, base_url=base)
    assert info.sha256 == hashlib.sha256((root / PUBLISHED["voc-se"].file).read_bytes()).hexdigest()
    assert info.class_names[:2] == ("aeroplane", "bicycle") and len(info.class_names) == 20
    assert not model.training
    for (k, a), b in zip(reference.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), k
    load_published("voc-se", cache, base_url=base)            # the local copy: no second download
    assert len(requests) == 1
    assert not list(cache.glob("*.part"))


def test_offline_or_missing_file_is_one_clear_error_and_leaves_nothing(server, tmp_path):
    base, _, _ = server
    tmp_path = tmp_path / "cache"
    with pytest.raises(PublishedWeightsUnavailable, match=r"could not download .*yolov4_tiny_weights_coco\.pth"):
        download_published("coco", tmp_path, base_url=base)               # 404
    with pytest.raises(PublishedWeightsUnavailable, match="could not download"):
        download_published("voc", tmp_path, base_url="http://127.0.0.1:9/")   # nothing listens
    assert not list(tmp_path.iterdir())


def test_an_interrupted_download_is_not_kept(server, tmp_path, monkeypatch):
    base, _, _ = server
    tmp_path = tmp_path / "cache"
    monkeypatch.setitem(PUBLISHED, "voc", PUBLISHED["voc"].__class__("voc", "truncated.pth", "none", "voc", ""))
    with pytest.raises(PublishedWeightsUnavailable, match="incomplete download: 10 of 1,000 bytes"):
        download_published("voc", tmp_path, base_url=base)
    assert not list(tmp_path.iterdir())


def test_a_file_of_another_layout_is_refused(server, tmp_path):
    base, root, _ = server
    torch.save(YoloV4Tiny(20, attention="none").state_dict(), root / PUBLISHED["voc-cbam"].file)
    with pytest.raises(CheckpointError):
        load_published("voc-cbam", tmp_path, base_url=base)


def test_names_and_classes():
    assert len(COCO_CLASSES) == 80 == len(set(COCO_CLASSES))
    assert {w.attention for w in PUBLISHED.values()} == {"none", "se", "cbam", "eca"}
    with pytest.raises(ValueError, match="name must be one of"):
        download_published("voc-ca")
