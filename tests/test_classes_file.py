"""classes.txt of a generic dataset: line n is class id n - 1, so nothing may shift the names."""

import pytest

from fungi_hb.data.datasets.registry import open_dataset
from fungi_hb.data.synthetic import make_synthetic_dataset
from fungi_hb.errors import UserError


@pytest.fixture
def generic(tmp_path):
    return make_synthetic_dataset(tmp_path, num_train=2, num_val=1, layout="generic", num_classes=3)


def class_names(root, text: str) -> tuple[str, ...]:
    (root / "classes.txt").write_text(text, encoding="utf-8")
    return open_dataset(root).classes.class_names


@pytest.mark.parametrize(
    "text",
    ["sky\nroad\ncar", "sky\nroad\ncar\n", "sky\r\nroad\r\ncar\r\n", "sky\nroad\ncar\n\n  \n", " sky \nroad\t\ncar\n"],
)
def test_names_in_order_with_trailing_newlines_and_whitespace_tolerated(generic, text):
    assert class_names(generic, text) == ("sky", "road", "car")


def test_whitespace_around_names_does_not_change_the_dataset_name(generic):
    class_names(generic, "sky\nroad\ncar\n")
    plain = open_dataset(generic).classes.name
    class_names(generic, "sky  \n road\ncar\n\n")
    assert open_dataset(generic).classes.name == plain


@pytest.mark.parametrize(
    ("text", "line"), [("sky\n\nroad\ncar\n", 2), ("sky\nroad\n \t \ncar\n", 3), ("\nsky\nroad\ncar\n", 1)]
)
def test_a_blank_line_between_names_is_refused_with_its_line_number(generic, text, line):
    (generic / "classes.txt").write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        open_dataset(generic)
    message = str(caught.value)
    assert str(generic / "classes.txt") in message and f"line {line} is blank" in message
    assert "Remove the line" in message


@pytest.mark.parametrize("text", ["sky\nroad\nsky\n", "sky\nroad\n  sky\t\n"])
def test_a_name_given_twice_even_with_other_whitespace_is_refused(generic, text):
    (generic / "classes.txt").write_text(text, encoding="utf-8")
    with pytest.raises(UserError, match=r"'sky' twice \(lines 1 and 3") as caught:
        open_dataset(generic)
    assert str(generic / "classes.txt") in str(caught.value) and "its own name" in str(caught.value)


def test_a_file_of_blank_lines_lists_no_classes(generic):
    (generic / "classes.txt").write_text("\n \n\n", encoding="utf-8")
    with pytest.raises(UserError, match="lists 0 classes"):
        open_dataset(generic)
