"""Own sets' names carry the format their pictures are read at; a malformed name is refused with a reason."""

from __future__ import annotations

import pytest

from aeviz.ownformat import CHOICES, GREY28, Format, from_key, is_own, is_upload, own_name, parse, with_format


@pytest.mark.parametrize(
    ("name", "kind", "shape", "rest"),
    [
        ("folder:/data/pets", "folder", (1, 28, 28), "/data/pets"),
        ("folder@rgb32:/data/pets:2", "folder", (3, 32, 32), "/data/pets:2"),  # a colon in the path stays
        ("upload@grey64:0123456789abcdef", "upload", (1, 64, 64), "0123456789abcdef"),
        ("upload@rgb64:0123456789abcdef", "upload", (3, 64, 64), "0123456789abcdef"),
    ],
)
def test_a_name_gives_where_and_the_shape(name, kind, shape, rest):
    got_kind, fmt, got_rest = parse(name)
    assert (got_kind, fmt.shape, got_rest) == (kind, shape, rest)
    assert is_own(name) and own_name(kind, rest, fmt) == name  # the name round-trips, the default spelt as before
    assert is_upload(name) == (kind == "upload")


@pytest.mark.parametrize("name", ["folder@rgb33:/x", "folder@cmyk32:/x", "folder@rgb:/x", "upload@rgb032:ab"])
def test_a_malformed_format_is_refused_with_the_spelling(name):
    assert is_own(name)
    with pytest.raises(ValueError, match="folder@rgb32:PATH|pixels square"):
        parse(name)


def test_registered_names_are_not_own_sets():
    assert not any(is_own(n) or is_upload(n) for n in ("mnist", "cifar10", "digits", "folders", "upload", "uploads:x"))


def test_formats_are_checked_and_spelt_for_links():
    assert [f.key for f in CHOICES] == ["grey28", "rgb32", "rgb64", "grey64"]
    assert all(from_key(f.key) == f for f in CHOICES) and GREY28.tag == "" and Format(3, 32).tag == "@rgb32"
    assert (
        with_format("folder:/p", Format(3, 64)) == "folder@rgb64:/p"
        and with_format("folder@rgb64:/p", GREY28) == "folder:/p"
    )
    for bad in ((2, 32), (3, 48)):
        with pytest.raises(ValueError):
            Format(*bad)
    with pytest.raises(ValueError, match="picture format"):
        from_key("rgb48x")
