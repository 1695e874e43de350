"""Download and unpack Pascal VOC 2007 (for Colab and GPU readers), safely and resumably.

::

    from attnlab.data.download import download_voc2007
    root = download_voc2007("data")          # -> data/VOCdevkit/VOC2007 (trainval + test)

What it guarantees:

* **Checksums.** Every archive is checked against the MD5 in :data:`VOC2007_ARCHIVES` before it
  is unpacked. The MD5s are those torchvision's ``torchvision/datasets/voc.py`` records
  (``c52e279531787c972589f7e41ab4ae64`` for trainval; ``b6e924de25625d8de591ea690078ad9f`` for
  test, the latter also in several independent projects that verified it).
* **Resumable.** Bytes go to ``<file>.part``; a second call asks the server for the rest with an
  HTTP ``Range`` header (servers that ignore it send everything again, which is detected).
* **Mirrors.** URLs are tried in order: the official host, its newer https name, then the
  darknet author's mirror. The checksum is the same whichever one answers.
* **Safe extraction.** Every member of an archive is checked *before anything is written*:
  absolute names, names with ``..``, symbolic or hard links, devices, FIFOs and anything that
  would land outside the target folder are refused (:class:`UnsafeArchiveError`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Sequence

__all__ = [
    "Archive",
    "VOC2007_ARCHIVES",
    "ChecksumError",
    "DownloadError",
    "UnsafeArchiveError",
    "download",
    "md5sum",
    "check_archive",
    "safe_extract",
    "download_voc2007",
    "completion_marker",
]

OFFICIAL = "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/"
MIRRORS = (
    "https://thor.robots.ox.ac.uk/pascal/VOC/voc2007/",  # the official host's newer name (torchvision uses it)
    "https://pjreddie.com/media/files/",  # darknet author's mirror
)


@dataclass(frozen=True)
class Archive:
    """One downloadable archive: its file name, URLs (tried in order) and MD5."""

    filename: str
    urls: tuple[str, ...]
    md5: str | None
    size: int | None = None  # bytes, informative only


VOC2007_ARCHIVES: dict[str, Archive] = {
    "trainval": Archive(
        "VOCtrainval_06-Nov-2007.tar",
        tuple(base + "VOCtrainval_06-Nov-2007.tar" for base in (OFFICIAL, *MIRRORS)),
        "c52e279531787c972589f7e41ab4ae64",
        460032000,
    ),
    "test": Archive(
        "VOCtest_06-Nov-2007.tar",
        tuple(base + "VOCtest_06-Nov-2007.tar" for base in (OFFICIAL, *MIRRORS)),
        "b6e924de25625d8de591ea690078ad9f",
        451020800,
    ),
}


class DownloadError(RuntimeError):
    """No URL could deliver the file."""


class ChecksumError(RuntimeError):
    """A downloaded file does not have the expected checksum."""


class UnsafeArchiveError(RuntimeError):
    """An archive member could write outside the target folder, or is a link or device."""


def md5sum(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex MD5 of a file."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _fetch(url: str, part: Path, timeout: float, progress: Callable[[int, int | None], None] | None) -> None:
    """Append the rest of ``url`` to ``part`` (asking for a byte range when ``part`` exists)."""
    have = part.stat().st_size if part.exists() else 0
    scheme = urllib.parse.urlparse(url).scheme
    if scheme == "file":
        src = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
        total = src.stat().st_size
        if have > total:
            have = 0
            part.unlink()
        with open(src, "rb") as fin, open(part, "ab") as fout:
            fin.seek(have)
            shutil.copyfileobj(fin, fout)
        return
    request = urllib.request.Request(url, headers={"User-Agent": "attnlab-download"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # range not satisfiable: we already have everything
            return
        raise
    with response:
        status = getattr(response, "status", 200)
        mode = "ab"
        if have and status != 206:  # the server ignored the range: start again
            mode, have = "wb", 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        got = have
        with open(part, mode) as f:
            while True:
                block = response.read(1 << 16)
                if not block:
                    break
                f.write(block)
                got += len(block)
                if progress is not None:
                    progress(got, total)
        if total is not None and got < total:
            raise DownloadError(f"{url}: connection closed after {got} of {total} bytes (partial file kept: {part})")


def download(
    urls: str | Sequence[str],
    dest: str | os.PathLike,
    md5: str | None = None,
    *,
    timeout: float = 60.0,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Download to ``dest`` via ``dest.part``, resuming a partial file, verifying ``md5``.

    URLs are tried in order until one delivers the whole file with the right checksum. An
    existing ``dest`` with the right checksum is kept as is.

    Raises:
        ChecksumError: the file (from the last URL tried) has another MD5; the bad bytes are deleted.
        DownloadError: no URL delivered the file.
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and (md5 is None or md5sum(dest) == md5):
        return dest
    part = dest.with_name(dest.name + ".part")
    errors: list[str] = []
    for url in urls:
        try:
            _fetch(url, part, timeout, progress)
        except (OSError, urllib.error.URLError, DownloadError) as e:
            errors.append(f"{url}: {e}")
            continue
        if md5 is not None:
            got = md5sum(part)
            if got != md5:
                part.unlink()
                errors.append(f"{url}: MD5 {got}, expected {md5}")
                if url == urls[-1]:
                    raise ChecksumError(
                        f"{dest.name}: checksum mismatch (MD5 {got}, expected {md5}); the download was "
                        f"deleted. Tried: {'; '.join(errors)}"
                    )
                continue
        os.replace(part, dest)
        return dest
    raise DownloadError(f"{dest.name}: could not download from any URL: {'; '.join(errors)}")


def check_archive(path: str | os.PathLike, target: str | os.PathLike) -> list[tarfile.TarInfo]:
    """Check every member of a tar archive and return them; nothing is written.

    Raises:
        UnsafeArchiveError: naming the first unsafe member and why.
    """
    target = Path(target).resolve()
    with tarfile.open(path) as tar:
        members = tar.getmembers()
    for m in members:
        name = m.name
        pure = PurePosixPath(name)
        why = None
        if name.startswith(("/", "\\")) or pure.is_absolute() or (len(name) > 1 and name[1] == ":"):
            why = "absolute path"
        elif ".." in pure.parts or ".." in name.replace("\\", "/").split("/"):
            why = "path contains '..'"
        elif m.issym() or m.islnk():
            why = f"link to {m.linkname!r}"
        elif m.ischr() or m.isblk() or m.isfifo() or m.isdev():
            why = "device or FIFO"
        elif not (m.isfile() or m.isdir()):
            why = f"unsupported member type {m.type!r}"
        else:
            dest = (target / name).resolve()
            if dest != target and target not in dest.parents:
                why = "would be written outside the target folder"
        if why:
            raise UnsafeArchiveError(f"{path}: refusing to extract member {name!r}: {why}; nothing was extracted")
    return members


def safe_extract(path: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Extract a tar archive into ``target`` after :func:`check_archive` has passed every member."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    members = check_archive(path, target)
    with tarfile.open(path) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, members=members, filter="data")
        else:  # pragma: no cover - Python without extraction filters
            tar.extractall(target, members=members)
    return target


def _print_progress(got: int, total: int | None) -> None:  # pragma: no cover - cosmetic
    if total:
        sys.stderr.write(f"\r  {got / 2**20:8.1f} / {total / 2**20:.1f} MiB")
    else:
        sys.stderr.write(f"\r  {got / 2**20:8.1f} MiB")


def download_voc2007(
    root: str | os.PathLike = "data",
    splits: Sequence[str] = ("trainval", "test"),
    *,
    keep_archives: bool = False,
    archives: dict[str, Archive] | None = None,
    progress: bool = True,
) -> Path:
    """Download, verify and unpack VOC2007 under ``root``; returns ``root/VOCdevkit/VOC2007``.

    Already unpacked splits are not downloaded again. A split counts as unpacked only when its
    marker ``VOC2007/.attnlab-<split>-complete`` exists, written after the last member of its
    archive (``ImageSets/Main/<split>.txt`` alone proves nothing: it may be unpacked before the
    images, and an interrupted extraction would look complete); without it the split is fetched
    and unpacked again, over whatever an interrupted run left.

    Args:
        root: where the archives and ``VOCdevkit`` go.
        splits: ``"trainval"`` and/or ``"test"``.
        keep_archives: keep the ``.tar`` files after unpacking.
        archives: override :data:`VOC2007_ARCHIVES` (tests, other mirrors).
        progress: print download progress to stderr.
    """
    archives = VOC2007_ARCHIVES if archives is None else archives
    root = Path(root)
    voc = root / "VOCdevkit" / "VOC2007"
    for split in splits:
        if split not in archives:
            raise ValueError(f"download_voc2007: unknown split {split!r}; expected one of {list(archives)}")
        marker = completion_marker(voc, split)
        if marker.exists():
            continue
        if (voc / "ImageSets" / "Main" / f"{split}.txt").exists():
            sys.stderr.write(f"{voc}: the {split} split has no completion marker (an interrupted extraction, or one "
                             "by an older attnlab): unpacking it again\n")
        a = archives[split]
        tar = download(a.urls, root / a.filename, a.md5, progress=_print_progress if progress else None)
        if progress:
            sys.stderr.write("\n")
        safe_extract(tar, root)
        # only now, after the last member is on disk, is the split complete
        tmp = marker.with_name(marker.name + ".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(f"{a.filename} {a.md5}\n")
        os.replace(tmp, marker)
        if not keep_archives:
            tar.unlink()
    return voc


def completion_marker(voc: str | os.PathLike, split: str) -> Path:
    """The file :func:`download_voc2007` writes once ``split`` is fully unpacked under ``voc``."""
    return Path(voc) / f".attnlab-{split}-complete"
