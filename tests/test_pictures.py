import numpy as np
import torch
from PIL import Image

from fungi_hb.data.datasets.base import ClassSpec, bit_palette, identity_mapping
from fungi_hb.data.transforms import TransformConfig
from fungi_hb.evaluation.figure import GAP, MIN_SIDE, TITLE, image_iou, panels
from fungi_hb.evaluation.pictures import Picture, pixel_accuracy, save_pictures, to_uint8_image


def test_normalisation_is_undone():
    config = TransformConfig()
    pixels = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    mean = torch.tensor(config.mean)[:, None, None]
    std = torch.tensor(config.std)[:, None, None]
    normalised = (pixels.float() / 255 - mean) / std
    assert torch.equal(to_uint8_image(normalised, config), pixels)


def test_pixel_accuracy_counts_scored_pixels_only():
    truth = np.array([[0, 1], [255, 2]])
    assert pixel_accuracy(truth, np.array([[0, 2], [7, 2]])) == 2 / 3
    assert np.isnan(pixel_accuracy(np.full((2, 2), 255), np.zeros((2, 2))))


def test_panel_puts_image_truth_and_prediction_side_by_side_with_ignore_marked():
    palette = bit_palette()
    colours = np.asarray(palette, dtype=np.uint8).reshape(256, 3)
    image = np.random.default_rng(0).integers(0, 256, (3, 4, 4), dtype=np.uint8)
    truth = np.array([[1] * 4] * 3 + [[255] * 4])
    predicted = np.full((4, 4), 2)
    out = panels(image, truth, predicted, palette)  # (4, 12 + 2 GAP, 3)
    assert out.shape == (4, 12 + 2 * GAP, 3)
    assert (out[:, :4] == image.transpose(1, 2, 0)).all()
    assert (out[0, 4 + GAP] == colours[1]).all() and (out[3, 4 + GAP] == colours[255]).all()
    assert (out[0, 8 + 2 * GAP] == colours[2]).all() and (out[3, 8 + 2 * GAP] == colours[255]).all()


CLASSES = ClassSpec("two", ("bg", "cat"), identity_mapping(2), None, bit_palette())


def metrics(matching, miou=50.0, present=("bg", "cat")):
    return {"matching": matching, "miou_percent": miou, "num_classes": 2, "present_classes": list(present),
            "miou_present_percent": miou}  # fmt: skip


def test_saved_pictures_apply_the_matching_and_say_what_the_numbers_are_over(tmp_path):
    truth = np.array([[1, 1], [0, 255]], dtype=np.uint8)
    predicted = np.array([[0, 0], [1, 1]], dtype=np.uint8)  # ids swapped by the model
    image = np.zeros((3, 2, 2), dtype=np.uint8)
    save_pictures(tmp_path, [Picture("img", image, truth, predicted)], CLASSES, metrics([1, 0], 61.25))
    drawn = np.asarray(Image.open(tmp_path / "img.png"))  # titles, the panels enlarged to MIN_SIDE, the key below
    colours = np.asarray(bit_palette(), dtype=np.uint8).reshape(256, 3)
    assert drawn.shape[1] == 3 * MIN_SIDE + 2 * GAP and drawn.shape[0] > TITLE + MIN_SIDE
    prediction = drawn[TITLE : TITLE + MIN_SIDE, 2 * (MIN_SIDE + GAP) :]  # (S', S', 3), after the matching
    assert (prediction[: MIN_SIDE // 2] == colours[1]).all() and (prediction[-1, 0] == colours[0]).all()
    assert (prediction[-1, -1] == colours[255]).all()  # ignored in the truth: marked in the prediction too
    key = drawn[TITLE + MIN_SIDE :]
    for cls in (0, 1, 255):  # a swatch for each class shown, and for the unscored pixels
        assert (key == colours[cls]).all(axis=-1).sum() >= 100
    index = (tmp_path / "index.html").read_text()
    assert 'src="img.png"' in index and "pixel accuracy 100.0%" in index and "mean IoU over the classes of" in index
    assert "mIoU 61.25% over all 2 classes" in index


def test_image_iou_is_over_the_classes_in_the_truth():
    truth = np.array([[1, 1], [0, 255]])
    assert image_iou(truth, np.array([[1, 0], [0, 3]])) == (0.5 + 0.5) / 2
    assert np.isnan(image_iou(np.full((2, 2), 255), np.zeros((2, 2))))


def test_a_rerun_replaces_the_pictures_of_the_same_images_only(tmp_path):
    truth = np.array([[1, 1], [0, 0]], dtype=np.uint8)
    image = np.zeros((3, 2, 2), dtype=np.uint8)
    unrelated = [tmp_path / "img_2.png.txt", tmp_path / "notes.txt"]
    for path in unrelated:
        path.write_text("mine")
    save_pictures(tmp_path, [Picture("img", image, truth, truth)], CLASSES, metrics([0, 1], 100.0))
    first = (tmp_path / "img.png").read_bytes()
    save_pictures(tmp_path, [Picture("img", image, truth, np.zeros_like(truth))], CLASSES, metrics([0, 1], 25.0))
    assert (tmp_path / "img.png").read_bytes() != first
    kept = sorted(["img.png", "index.html"] + [p.name for p in unrelated])
    assert sorted(p.name for p in tmp_path.iterdir()) == kept  # no staged leftovers, no journal
    assert "mIoU 25.00%" in (tmp_path / "index.html").read_text()
