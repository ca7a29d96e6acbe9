import numpy as np
import torch
from PIL import Image

from fungi_hb.data.datasets.base import bit_palette
from fungi_hb.data.transforms import TransformConfig
from fungi_hb.evaluation.figure import GAP, MIN_SIDE, TITLE, image_iou, panels
from fungi_hb.evaluation.pictures import pixel_accuracy, save_pictures, to_uint8_image


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


def test_saved_pictures_apply_the_matching_and_name_the_accuracy(tmp_path):
    truth = torch.tensor([[[1, 1], [0, 255]]], dtype=torch.uint8)
    predicted = torch.tensor([[[0, 0], [1, 1]]], dtype=torch.uint8)  # ids swapped by the model
    matching = np.array([1, 0])
    images = torch.zeros(1, 3, 2, 2, dtype=torch.uint8)
    (path,) = save_pictures(tmp_path, ["img"], images, truth, predicted, matching, bit_palette(), ("bg", "cat"))
    assert path.name == "img_acc100.0.png"
    drawn = np.asarray(Image.open(path))  # titles, the panels enlarged to MIN_SIDE, the key below
    colours = np.asarray(bit_palette(), dtype=np.uint8).reshape(256, 3)
    assert drawn.shape[1] == 3 * MIN_SIDE + 2 * GAP and drawn.shape[0] > TITLE + MIN_SIDE
    prediction = drawn[TITLE : TITLE + MIN_SIDE, 2 * (MIN_SIDE + GAP) :]  # (S', S', 3), after the matching
    assert (prediction[: MIN_SIDE // 2] == colours[1]).all() and (prediction[-1, 0] == colours[0]).all()
    assert (prediction[-1, -1] == colours[255]).all()  # ignored in the truth: marked in the prediction too
    key = drawn[TITLE + MIN_SIDE :]
    for cls in (0, 1, 255):  # a swatch for each class shown, and for the unscored pixels
        assert (key == colours[cls]).all(axis=-1).sum() >= 100
    index = (tmp_path / "index.html").read_text()
    assert 'src="img_acc100.0.png"' in index and "pixel accuracy 100.0%" in index


def test_image_iou_is_over_the_classes_in_the_truth():
    truth = np.array([[1, 1], [0, 255]])
    assert image_iou(truth, np.array([[1, 0], [0, 3]])) == (0.5 + 0.5) / 2
    assert np.isnan(image_iou(np.full((2, 2), 255), np.zeros((2, 2))))


def test_a_rerun_replaces_the_pictures_of_the_same_images_only(tmp_path):
    truth = torch.tensor([[[1, 1], [0, 0]]], dtype=torch.uint8)
    images = torch.zeros(1, 3, 2, 2, dtype=torch.uint8)
    unrelated = [tmp_path / "img_2_acc50.0.png", tmp_path / "img_acc50.0.png.txt", tmp_path / "notes.txt"]
    for path in unrelated:
        path.write_text("mine")
    (first,) = save_pictures(tmp_path, ["img"], images, truth, truth, np.array([0, 1]), bit_palette())
    assert first.name == "img_acc100.0.png"
    (path,) = save_pictures(tmp_path, ["img"], images, truth, torch.zeros_like(truth), np.array([0, 1]), bit_palette())
    assert path.name == "img_acc50.0.png"
    kept = sorted([path.name, "index.html"] + [p.name for p in unrelated])
    assert sorted(p.name for p in tmp_path.iterdir()) == kept
