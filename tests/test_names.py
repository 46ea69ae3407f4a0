"""Model names: one rule for a safe stem, one default-name recipe, one first-free-name loop."""

from __future__ import annotations

import re

import pytest

from aeviz.names import check_name, default_name, free_name, stems_in


def test_a_default_name_is_the_dataset_and_the_slug_a_folder_by_its_name(tmp_path):
    assert default_name("mnist", "dense-q16-bce") == "mnist-dense-q16-bce"
    assert default_name(f"folder:{tmp_path / 'my pics'}", "conv-q8-bce") == "my_pics-conv-q8-bce"
    # an upload is named after its file (tests/pages/test_train_truth.py), never its digest; one whose files
    # are gone from this server is just 'upload'
    assert default_name("upload:0123456789abcdef", "dense-q2-bce") == "upload-dense-q2-bce"
    assert default_name("folder:/", "dense-q2-bce") == "folder-dense-q2-bce"  # a root has no name
    assert default_name(f"folder@rgb32:{tmp_path / 'pets'}", "conv-q64-mse") == "pets-rgb32-conv-q64-mse"


def test_a_stamped_default_name_is_always_a_usable_name(tmp_path):
    assert re.fullmatch(r"digits-vae-q2-bce-\d{8}-\d{6}", default_name("digits", "vae-q2-bce", stamped=True))
    long = default_name(f"folder:{tmp_path / ('.x' + 'y' * 200)}", "dense-q2-bce", stamped=True)
    assert check_name(long) == long and len(long) == 100 and long.startswith("xy")


def test_the_first_free_name_counts_from_two(tmp_path):
    assert free_name("a", set()) == "a"
    assert free_name("a", {"a", "a-2", "a-4"}) == "a-3"
    (tmp_path / "a.safetensors").write_bytes(b"damaged, but somebody's")
    (tmp_path / "b.txt").write_text("")
    assert stems_in(tmp_path) == {"a"} and stems_in(tmp_path / "missing") == set()
    assert free_name("a", stems_in(tmp_path)) == "a-2"


@pytest.mark.parametrize("bad", ["", "../x", "a/b", ".hidden", "a..b", "n" * 101, "a b"])
def test_unsafe_names_are_refused_saying_why(bad):
    with pytest.raises(ValueError, match="not a usable model name"):
        check_name(bad)
    with pytest.raises(ValueError, match="already exists"):
        check_name("taken.safetensors", {"taken"})
