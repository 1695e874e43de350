"""VOC download helper: checksums, resume over HTTP Range, safe extraction. All local."""

import hashlib
import http.server
import io
import os
import tarfile
import threading
from pathlib import Path

import pytest

from attnlab.data.download import (
    VOC2007_ARCHIVES,
    Archive,
    ChecksumError,
    DownloadError,
    UnsafeArchiveError,
    check_archive,
    download,
    download_voc2007,
    md5sum,
    safe_extract,
)


def test_official_table():
    tv, te = VOC2007_ARCHIVES["trainval"], VOC2007_ARCHIVES["test"]
    assert tv.urls[0] == "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtrainval_06-Nov-2007.tar"
    assert te.urls[0] == "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtest_06-Nov-2007.tar"
    assert tv.md5 == "c52e279531787c972589f7e41ab4ae64" and te.md5 == "b6e924de25625d8de591ea690078ad9f"
    assert all(len(a.urls) >= 2 for a in (tv, te))  # mirrors after the official host


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` with Range support; ``truncate`` names files cut short once."""

    files: dict = {}
    truncate: set = set()
    ranges: list = []
    honour_range = True

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        name = self.path.lstrip("/")
        data = self.files.get(name)
        if data is None:
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        self.ranges.append(rng)
        if rng and rng.startswith("bytes=") and self.honour_range:
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if name in self.truncate:
            self.truncate.discard(name)
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    handler = type("H", (_Handler,), {"files": {}, "truncate": set(), "ranges": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def make_tar(members) -> bytes:
    """members: list of (TarInfo-configuring dict) -> tar bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for m in members:
            info = tarfile.TarInfo(m["name"])
            data = m.get("data", b"")
            info.type = m.get("type", tarfile.REGTYPE)
            info.linkname = m.get("linkname", "")
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return buf.getvalue()


def voc_tar(split: str) -> bytes:
    base = "VOCdevkit/VOC2007/"
    return make_tar(
        [
            {"name": base + "Annotations", "type": tarfile.DIRTYPE},
            {"name": base + f"ImageSets/Main/{split}.txt", "data": b"000001\n"},
            {"name": base + "JPEGImages/000001.jpg", "data": os.urandom(5000)},
        ]
    )


def test_download_resumes_after_a_truncated_transfer(server, tmp_path):
    handler, base = server
    data = os.urandom(200_000)
    handler.files["a.bin"] = data
    handler.truncate.add("a.bin")
    md5 = hashlib.md5(data).hexdigest()
    dest = tmp_path / "a.bin"
    with pytest.raises(DownloadError, match="connection closed after"):
        download(base + "a.bin", dest, md5)
    part = tmp_path / "a.bin.part"
    assert part.exists() and 0 < part.stat().st_size < len(data) and not dest.exists()
    got = download(base + "a.bin", dest, md5)
    assert got == dest and dest.read_bytes() == data and not part.exists()
    assert handler.ranges[-1] == f"bytes={len(data) // 3}-"  # asked only for the rest
    # already there with the right checksum: nothing fetched
    n = len(handler.ranges)
    download(base + "a.bin", dest, md5)
    assert len(handler.ranges) == n


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    handler, base = server
    data = os.urandom(30_000)
    handler.files["r.bin"] = data
    handler.honour_range = False
    (tmp_path / "r.bin.part").write_bytes(data[:1000])
    download(base + "r.bin", tmp_path / "r.bin", hashlib.md5(data).hexdigest())
    assert handler.ranges == ["bytes=1000-"] and (tmp_path / "r.bin").read_bytes() == data


def test_corrupt_partial_file_is_deleted(server, tmp_path):
    handler, base = server
    data = os.urandom(50_000)
    handler.files["b.bin"] = data
    (tmp_path / "b.bin.part").write_bytes(b"garbage-not-a-prefix")
    # a partial file that is not a prefix gives a wrong MD5: deleted, error names both sums
    with pytest.raises(ChecksumError, match=r"b.bin: checksum mismatch \(MD5 [0-9a-f]{32}, expected"):
        download(base + "b.bin", tmp_path / "b.bin", hashlib.md5(data).hexdigest())
    assert not (tmp_path / "b.bin.part").exists()
    download(base + "b.bin", tmp_path / "b.bin", hashlib.md5(data).hexdigest())
    assert (tmp_path / "b.bin").read_bytes() == data


def test_mirror_fallback_and_file_urls(server, tmp_path):
    handler, base = server
    data = b"x" * 1000
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    dest = download([base + "missing.bin", src.as_uri()], tmp_path / "out" / "c.bin", hashlib.md5(data).hexdigest())
    assert dest.read_bytes() == data
    with pytest.raises(DownloadError, match="could not download from any URL"):
        download([base + "missing.bin"], tmp_path / "d.bin")


def test_download_voc2007_from_local_archives(server, tmp_path):
    handler, base = server
    archives = {}
    for split in ("trainval", "test"):
        blob = voc_tar(split)
        handler.files[f"{split}.tar"] = blob
        archives[split] = Archive(f"{split}.tar", (base + f"{split}.tar",), hashlib.md5(blob).hexdigest())
    root = download_voc2007(tmp_path, archives=archives, progress=False)
    assert root == tmp_path / "VOCdevkit" / "VOC2007"
    assert (root / "ImageSets/Main/trainval.txt").exists() and (root / "ImageSets/Main/test.txt").exists()
    assert not (tmp_path / "trainval.tar").exists()  # archives removed after unpacking
    n = len(handler.ranges)
    download_voc2007(tmp_path, archives=archives, progress=False)  # already unpacked: no request
    assert len(handler.ranges) == n


def test_download_voc2007_refuses_a_bad_checksum(server, tmp_path):
    handler, base = server
    handler.files["t.tar"] = voc_tar("test")
    archives = {"test": Archive("t.tar", (base + "t.tar",), "0" * 32)}
    with pytest.raises(ChecksumError, match="expected 00000000000000000000000000000000"):
        download_voc2007(tmp_path, ["test"], archives=archives, progress=False)
    assert not (tmp_path / "VOCdevkit").exists()


@pytest.mark.parametrize(
    "bad, why",
    [
        ({"name": "/etc/evil"}, "absolute path"),
        ({"name": "VOCdevkit/../../evil"}, "path contains '..'"),
        ({"name": "../evil"}, "path contains '..'"),
        ({"name": "VOCdevkit/link", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, "link to '/etc/passwd'"),
        ({"name": "VOCdevkit/hard", "type": tarfile.LNKTYPE, "linkname": "VOCdevkit/a.txt"}, "link to"),
        ({"name": "VOCdevkit/dev", "type": tarfile.CHRTYPE}, "device or FIFO"),
        ({"name": "VOCdevkit/fifo", "type": tarfile.FIFOTYPE}, "device or FIFO"),
    ],
)
def test_unsafe_archives_are_refused_before_anything_is_written(tmp_path, bad, why):
    # the bad member comes *last*, after good ones: nothing at all may be extracted
    blob = make_tar([{"name": "VOCdevkit/a.txt", "data": b"a"}, {"name": "VOCdevkit/b.txt", "data": b"b"}, bad])
    tar = tmp_path / "bad.tar"
    tar.write_bytes(blob)
    target = tmp_path / "target"
    with pytest.raises(UnsafeArchiveError, match=f"refusing to extract member .*{why}.*nothing was extracted"):
        safe_extract(tar, target)
    assert not any(target.rglob("*"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tar", "target"]


def test_safe_archive_extracts(tmp_path):
    tar = tmp_path / "ok.tar"
    tar.write_bytes(voc_tar("trainval"))
    names = [m.name for m in check_archive(tar, tmp_path / "t")]
    assert "VOCdevkit/VOC2007/JPEGImages/000001.jpg" in names
    safe_extract(tar, tmp_path / "t")
    assert (tmp_path / "t/VOCdevkit/VOC2007/ImageSets/Main/trainval.txt").read_text() == "000001\n"
    assert md5sum(tar) == hashlib.md5(tar.read_bytes()).hexdigest()
