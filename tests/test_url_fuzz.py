"""Hostile query strings on every page: a shared link must never crash a page, whatever its values say.

The keys are read from the source (every `url_*` widget call, `st.query_params[...]`, the image picker's
suffixes), so a key added later is fuzzed without editing this file.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest
from apptest import REPO, routed_pages, run_page

from aeviz.ui import widgets

KEY_ARG = {
    "url_selectbox": 2,
    "url_radio": 2,
    "url_slider": 4,
    "url_multiselect": 2,
    "url_toggle": 1,
    "url_ints": 0,
    "set_url_ints": 0,
    "scrub_chart": 2,
}  # position of the URL key among each helper's arguments

HOSTILE = [
    "",
    ",",
    "nan",
    "inf",
    "-1e23",
    "1e23",
    "18446744073709551616",
    "-1",
    "0x10",
    "%00",
    "\x00",
    " ",
    "a" * 5000,
    "9" * 1500,
    "../../etc/passwd",
    ",".join(map(str, range(50))),
    ",".join(["0"] * 50),
    "<script>alert(1)</script>",
    "True",
    "☃",
]
MODES = ("by index", "by class")  # the picker's branches that read more keys than its default one
# the Error gallery's keys are named by a plain run on MNIST (err_cls_<source>): without MNIST it is skipped
PAGES = [
    pytest.param(p, marks=pytest.mark.needs_data("mnist")) if p == "pages/anomalies.py" else p for p in routed_pages()
]


def _template(node: ast.expr) -> str | None:
    """A key as written: 'err_flag', or 'dn_{}' for f"dn_{arch}"; None when it is not a literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) else "{" + ast.unparse(v.value) + "}" for v in node.values
        )
    return None


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def url_keys(path: Path) -> tuple[set[str], set[str]]:
    """(URL keys a file reads, image-picker keys it passes) as templates, from its syntax tree."""
    keys, pickers = set(), set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and _name(node.func) in KEY_ARG:
            where = KEY_ARG[_name(node.func)]
            arg = node.args[where] if len(node.args) > where else next(k.value for k in node.keywords if k.arg == "key")
            keys.add("" if ast.unparse(arg).endswith(".url_key") else _template(arg))  # declared with url_key=
        elif isinstance(node, ast.keyword) and node.arg == "url_key":  # a family's mode (aeviz.params.Param)
            keys.add(_template(node.value))
        elif isinstance(node, ast.Call) and any(k.arg == "bind" for k in node.keywords):  # st.tabs and the like
            keys.add(_template(next(k.value for k in node.keywords if k.arg == "key")))
        elif isinstance(node, ast.Call) and _name(node.func) == "image_picker" and len(node.args) > 1:
            pickers.add(_template(node.args[1]))
        elif isinstance(node, ast.Call) and _name(node.func) == "get" and "query_params" in ast.unparse(node.func):
            keys.add(_template(node.args[0]))
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("query_params"):
            keys.add(_template(node.slice))
    assert None not in keys | pickers, f"{path.name}: a URL key that is not a literal, so it cannot be fuzzed"
    return keys, pickers


@cache
def shared_keys() -> tuple[frozenset[str], frozenset[str]]:
    """(keys every page reads through the sidebar, the picker's key suffixes like '_mode')."""
    ui_files = [p for p in sorted((REPO / "aeviz" / "ui").glob("*.py")) if p.name != "widgets.py"]  # the helpers
    keys = set().union(*(url_keys(p)[0] for p in [*ui_files, REPO / "aeviz" / "models.py"])) - {""}
    keys -= {pattern for pattern, _ in ui_patterns()}  # a ui form's own f-string keys: named per page, below
    suffixes = {k.removeprefix("{key}") for k in keys if k.startswith("{key}")}
    plain = {k for k in keys if "{" not in k}
    assert keys == plain | {"{key}" + s for s in suffixes}, keys  # a new kind of template needs a rule here
    return frozenset(plain), frozenset(suffixes)


@cache
def ui_patterns() -> tuple[tuple[str, frozenset[str]], ...]:
    """(an f-string key like err_cls_{source} that a ui module reads, the functions of that module): a page that
    calls one of those functions (ui.injection_form) reads the key, named by a plain run of the page."""
    found = []
    for path in sorted((REPO / "aeviz" / "ui").glob("*.py")):
        if path.name == "widgets.py":
            continue
        functions = frozenset(n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef))
        found += [(k, functions) for k in url_keys(path)[0] if k and "{" in k and not k.startswith("{key}")]
    return tuple(found)


@cache
def page_keys(page: str) -> tuple[str, ...]:
    """Every URL key the page reads; f-string keys (dn_{arch}) are named by a plain run of the page."""
    own, pickers = url_keys(REPO / page)
    plain, suffixes = shared_keys()
    keys = {k for k in own if "{" not in k} | plain | {p + s for p in pickers for s in suffixes}
    patterns = [k for k in own if "{" in k]
    text = (REPO / page).read_text()
    patterns += [k for k, functions in ui_patterns() if any(f"ui.{f}(" in text for f in functions)]
    if patterns:
        at = run_page(page, {"dataset": "mnist"})
        for pattern in patterns:
            rx = re.compile(".+".join(map(re.escape, re.split(r"\{[^}]*\}", pattern))))
            named = {k for k in at.query_params if rx.fullmatch(k)}
            assert named, f"{page} reads {pattern} but a plain run named none"
            keys |= named
    return tuple(sorted(keys))


def fuzz(page: str, values: list[str], mode: str | None = None):
    """One run of `page` with its keys set to `values` in turn (the picker's mode to `mode` if given)."""
    keys = page_keys(page)
    query = {k: values[i % len(values)] for i, k in enumerate(keys)}
    query.update({k: mode for k in keys if mode and k.endswith("_mode")})
    at = run_page(page, query)
    assert not at.exception, (page, query, [e.value for e in at.exception])
    assert at.title, f"{page} shows no title under {query}"
    return at


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
@pytest.mark.needs_data("mnist", "fashion-mnist")  # the Error gallery names its keys per source
def test_keys_are_found_in_the_source():
    assert {
        "dataset",
        "train_job",
        "vae_seed",
        "err_models",
        "err_flag",
        "rec_mode",
        "rec_idx",
        "dn_img_idx",
        "vae_pair_class",
        "vae_tab",
        "vae_t",
        "dn_level",
        "you_tab",
    } <= set().union(*map(page_keys, routed_pages()))
    assert {"dn_dense", "err_cls_fashion-mnist"} <= set(
        page_keys("pages/denoising.py") + page_keys("pages/anomalies.py")
    )


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
@pytest.mark.parametrize("page", PAGES)
def test_every_page_survives_hostile_values_in_all_its_keys(page):
    """Each key gets a different hostile value per run, three runs shift them (covering the picker's modes),
    then the values that crashed pages before go into every key at once."""
    for shift, mode in zip(range(0, 3 * 7, 7), (None, *MODES), strict=True):
        fuzz(page, HOSTILE[shift:] + HOSTILE[:shift], mode)
    for value, mode in zip((",", "nan", str(2**64)), (*MODES, None), strict=True):
        fuzz(page, [value], mode)


@pytest.mark.slow
@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("page", PAGES)
def test_every_page_survives_one_hostile_value_in_every_key(page, value):
    fuzz(page, [value], MODES[len(value) % 2])


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
@pytest.mark.needs_data("mnist")
def test_the_findings_links_open_their_page():
    for query in (
        {"vae_seed": ""},
        {"vae_seed": ","},
        {"vae_seed": "1e23"},
        {"vae_seed": "-1e23"},
        {"vae_seed": str(2**64)},
    ):
        at = fuzz("pages/vae.py", [query["vae_seed"]])
        assert "with seed 0," in next(
            i.proto.imgs[0].caption for i in at.get("image") if "N(0," in i.proto.imgs[0].caption
        )
    at = run_page(
        "pages/anomalies.py",
        {"dataset": "mnist", "err_flag": "nan", "err_models": ",".join(m.name for m in list_mnist_models()[:6])},
    )
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.multiselect(key="w_err_models").value) == 4  # cut to the widget's max_selections
    assert at.query_params["err_flag"] in ("1.0", ["1.0"])  # the default, written back: the link heals


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
@pytest.mark.needs_data("mnist")
def test_a_multiselect_link_naming_no_option_gets_the_default_and_an_empty_one_stays_empty():
    garbage = run_page("pages/anomalies.py", {"dataset": "mnist", "err_models": "../../etc/passwd"})
    assert [m.name for m in garbage.multiselect(key="w_err_models").value] == ["mnist-dense-q16-bce"]
    empty = run_page("pages/anomalies.py", {"dataset": "mnist", "err_models": ""})
    assert not empty.multiselect(key="w_err_models").value and not empty.exception
    assert any(i.value.startswith("Pick at least one") for i in empty.info)


def list_mnist_models():
    from aeviz.ui import list_models

    return list_models("mnist")


@pytest.mark.parametrize(
    ("text", "lo", "hi", "step", "expected"),
    [
        ("1e23", 0, 99, None, 99),
        ("-1e23", 0, 99, None, 0),
        (str(2**64), 0, 99, None, 99),
        ("2.6", 0, 99, None, 3),
        ("0.123456", 0.1, 10.0, 0.1, 0.1),
        ("0.36", 0.1, 2.0, 0.1, 0.4),
        ("137", 10, 500, 10, 140),
        ("9.99", 0.1, 10.0, 0.1, 10.0),
    ],
)
def test_slider_values_are_clamped_and_snapped_in_the_slider_type(text, lo, hi, step, expected):
    value = widgets.slider_value(widgets._number(text), lo, hi, step)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "", "0x10", "1,2"])
def test_non_numbers_are_refused(text):
    with pytest.raises(ValueError):
        widgets._number(text)


def test_int_lists_keep_only_whole_numbers_in_range_and_not_too_many():
    assert widgets._ints("3, 1,x,,0x10,-1,1e3,7", 0, 9, 64) == [3, 1, 7]
    assert widgets._ints(",".join(map(str, range(500))), 0, 10**6, 64) == list(range(64))
    assert widgets._ints(f"{2**64},{2**31}", 0, widgets.MAX_SEED, 64) is None  # nothing left: the default
