"""VOC format: round trip and every bad-data case, with the message it produces."""

import re
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from attnlab.data import (
    CLASS_NAMES,
    VOC_CLASSES,
    ShapesDetection,
    VOCDataError,
    VOCDetection,
    parse_annotation,
    read_class_names,
    write_annotation,
    write_voc,
)

NAMES = ("cat", "unicorn")


def make_tree(root, n=3, size=(40, 60), fmt="jpg"):
    """A small VOC tree: image k has k+1 boxes."""
    samples = []
    rng = np.random.default_rng(0)
    for k in range(n):
        img = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
        boxes = np.array([[2 + j, 3, 20 + j, 30, j % 2] for j in range(k + 1)], np.float32)
        samples.append((img, boxes))
    ids = write_voc(root, samples, NAMES, split="train", image_format=fmt)
    return ids, samples


def xml_with(obj: str, width=60, height=40, filename="x.jpg") -> str:
    return (
        f"<annotation><filename>{filename}</filename><size><width>{width}</width><height>{height}</height>"
        f"<depth>3</depth></size>{obj}</annotation>"
    )


def obj(name="cat", box=(1, 1, 10, 10), difficult=0):
    x1, y1, x2, y2 = box
    return (
        f"<object><name>{name}</name><difficult>{difficult}</difficult><bndbox><xmin>{x1}</xmin>"
        f"<ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
    )


# ---------------------------------------------------------------------------------- round trip


def test_written_tree_reads_back_the_same_boxes(tmp_path):
    ids, samples = make_tree(tmp_path, fmt="jpg")
    assert (tmp_path / "ImageSets/Main/train.txt").read_text().split() == ids
    assert read_class_names(tmp_path / "classes.txt") == NAMES
    ds = VOCDetection(tmp_path, "train")  # class names from classes.txt
    assert len(ds) == 3 and ds.class_names == NAMES
    for k, (img, boxes) in enumerate(samples):
        image, got = ds[k]
        assert image.shape == (3, 40, 60) and image.dtype == torch.float32
        assert torch.equal(got, torch.from_numpy(boxes))


def test_png_round_trip_is_byte_identical(tmp_path):
    shapes = ShapesDetection(4, 64, seed=1)
    shapes.to_voc(tmp_path)
    ds = VOCDetection(tmp_path, "train", CLASS_NAMES)
    for i in range(4):
        img, boxes = shapes.raw(i)
        img2, boxes2 = ds.raw(i)
        assert np.array_equal(img, img2) and np.array_equal(boxes, boxes2)


def test_voc_box_convention_is_one_based_inclusive(tmp_path):
    path = tmp_path / "a.xml"
    write_annotation(path, "a.jpg", 50, 40, np.array([[0, 0, 50, 40, 1]]), NAMES)
    text = path.read_text()
    assert "<xmin>1</xmin>" in text and "<xmax>50</xmax>" in text and "<name>unicorn</name>" in text
    ann = parse_annotation(path, NAMES)
    assert ann.boxes.tolist() == [[0, 0, 50, 40, 1]] and (ann.width, ann.height) == (50, 40)


def test_class_names_from_list_file_and_default(tmp_path):
    assert read_class_names(["a", "b"]) == ("a", "b")
    f = tmp_path / "names.txt"
    f.write_text("a\n\nb\n")
    assert read_class_names(f) == ("a", "b") and read_class_names(str(f)) == ("a", "b")
    with pytest.raises(VOCDataError, match=re.escape(f"{tmp_path / 'nope.txt'}: class names file not found")):
        read_class_names(tmp_path / "nope.txt")
    with pytest.raises(VOCDataError, match="listed more than once: \\['a'\\]"):
        read_class_names(["a", "a"])
    make_tree(tmp_path / "t")
    (tmp_path / "t" / "classes.txt").unlink()
    with pytest.raises(VOCDataError, match=r"object 1 \('unicorn'\): unknown class name 'unicorn'; known: \['aeroplane'"):
        VOCDetection(tmp_path / "t")  # falls back to the 20 VOC classes
    assert len(VOC_CLASSES) == 20


def test_difficult_objects(tmp_path):
    make_tree(tmp_path, n=1)
    (tmp_path / "Annotations/train_000000.xml").write_text(xml_with(obj("cat") + obj("unicorn", difficult=1)))
    assert len(VOCDetection(tmp_path)[0][1]) == 2
    ds = VOCDetection(tmp_path, keep_difficult=False)
    assert ds[0][1][:, 4].tolist() == [0] and ds.difficult[0].tolist() == [False]


# ---------------------------------------------------------------------------------- bad data


def test_malformed_xml(tmp_path):
    make_tree(tmp_path)
    bad = tmp_path / "Annotations/train_000001.xml"
    bad.write_text("<annotation><object>")
    with pytest.raises(VOCDataError, match=re.escape(f"{bad}: malformed XML")) as e:
        VOCDetection(tmp_path)
    assert e.value.path == str(bad)
    bad.write_text("<html></html>")
    with pytest.raises(VOCDataError, match="root element is <html>, expected <annotation>"):
        VOCDetection(tmp_path)
    with pytest.warns(UserWarning, match=r"skipped 1 image\(s\) and 0 object\(s\)"):
        ds = VOCDetection(tmp_path, on_error="skip")
    assert len(ds) == 2 and ds.ids == ["train_000000", "train_000002"] and ds.skipped_images == 1


def test_missing_annotation_image_and_split_files(tmp_path):
    make_tree(tmp_path)
    (tmp_path / "Annotations/train_000000.xml").unlink()
    (tmp_path / "JPEGImages/train_000002.jpg").unlink()
    with pytest.raises(VOCDataError, match=re.escape(f"{tmp_path / 'Annotations/train_000000.xml'}: annotation file not found")):
        VOCDetection(tmp_path)
    with pytest.warns(UserWarning, match=r"skipped 2 image\(s\)"):
        ds = VOCDetection(tmp_path, on_error="skip")
    assert ds.ids == ["train_000001"]
    assert any("train_000002.jpg: image file not found (referenced by" in s for s in ds.skipped)
    with pytest.raises(VOCDataError, match=re.escape(f"{tmp_path / 'ImageSets/Main/val.txt'}: split file not found")):
        VOCDetection(tmp_path, "val")


@pytest.mark.parametrize(
    "box, message",
    [
        ((1, 1, 70, 10), "box outside the image (xmin=1, ymin=1, xmax=70, ymax=10; image 60x40)"),
        ((0, 1, 10, 10), "box outside the image (xmin=0"),
        ((5, 5, 4, 10), "zero-area box (xmin=5, ymin=5, xmax=4, ymax=10)"),
        ((5, 5, 20, 4), "zero-area box"),
        (("a", 5, 20, 30), "missing or non-numeric <bndbox> coordinates"),
    ],
)
def test_bad_boxes_name_file_and_object(tmp_path, box, message):
    make_tree(tmp_path, n=1)
    xml = tmp_path / "Annotations/train_000000.xml"
    xml.write_text(xml_with(obj("cat") + obj("unicorn", box)))
    with pytest.raises(VOCDataError, match=re.escape(f"{xml}: object 1 ('unicorn'): {message}")) as e:
        VOCDetection(tmp_path)
    assert e.value.level == "object"
    with pytest.warns(UserWarning, match=r"skipped 0 image\(s\) and 1 object\(s\)"):
        ds = VOCDetection(tmp_path, on_error="skip")
    assert ds[0][1].tolist() == [[0, 0, 10, 10, 0]]  # the good object stays


def test_unknown_class_name(tmp_path):
    make_tree(tmp_path, n=2)
    xml = tmp_path / "Annotations/train_000001.xml"
    xml.write_text(xml_with(obj("cat") + obj("zebra") + obj("unicorn")))
    with pytest.raises(VOCDataError, match=re.escape(f"{xml}: object 1 ('zebra'): unknown class name 'zebra'; known: ['cat', 'unicorn']")):
        VOCDetection(tmp_path)
    with pytest.warns(UserWarning, match=r"and 1 object\(s\).*unknown class name 'zebra'"):
        ds = VOCDetection(tmp_path, on_error="skip")
    assert ds[1][1][:, 4].tolist() == [0, 1] and ds.skipped_objects == 1


def test_unreadable_and_truncated_images(tmp_path):
    make_tree(tmp_path, n=3)
    garbage = tmp_path / "JPEGImages/train_000000.jpg"
    garbage.write_bytes(b"this is not an image")
    truncated = tmp_path / "JPEGImages/train_000001.jpg"
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    ds = VOCDetection(tmp_path)  # images are decoded lazily
    with pytest.raises(VOCDataError, match=re.escape(f"{garbage}: unreadable or truncated image")):
        ds[0]
    with pytest.raises(VOCDataError, match=re.escape(f"{truncated}: unreadable or truncated image")):
        ds[1]
    assert ds[2][0].shape == (3, 40, 60)
    with pytest.raises(VOCDataError, match="unreadable or truncated image"):
        VOCDetection(tmp_path, check_images=True)
    with pytest.warns(UserWarning, match=r"skipped 2 image\(s\)"):
        ok = VOCDetection(tmp_path, check_images=True, on_error="skip", cache=True)
    assert ok.ids == ["train_000002"] and ok[0][0].shape == (3, 40, 60)


def test_png_images_and_transform(tmp_path):
    make_tree(tmp_path, n=2, fmt="png")
    from attnlab.data import LetterboxResize

    ds = VOCDetection(tmp_path, transform=LetterboxResize(96))
    image, boxes = ds[1]
    assert image.shape == (3, 96, 96) and boxes.shape == (2, 5)
    assert torch.allclose(boxes[0], torch.tensor([2 * 1.6, 3 * 1.6 + 16, 20 * 1.6, 30 * 1.6 + 16, 0]))


def test_on_error_is_checked(tmp_path):
    make_tree(tmp_path, n=1)
    with pytest.raises(ValueError, match="on_error"):
        VOCDetection(tmp_path, on_error="ignore")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        VOCDetection(tmp_path, on_error="skip")  # clean data: no warning
