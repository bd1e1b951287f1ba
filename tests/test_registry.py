"""densekit.registry: one name resolver for every kind of part."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from densekit.errors import ArgumentError, ArgumentTypeError
from densekit.registry import Registry


@dataclass
class Part:
    size: int = 1


@dataclass
class Wide(Part):
    size: int = 10


@pytest.fixture
def parts() -> Registry:
    registry = Registry("part", Part)
    registry.register("narrow", Part)
    registry.register("wide", Wide, aliases=("broad",))
    return registry


def test_names_resolve_to_instances_and_aliases_to_the_same_part(parts):
    assert parts.resolve("narrow") == Part()
    assert parts.resolve("broad") == Wide()
    assert parts.canonical("broad") == "wide"
    assert parts.names == ("narrow", "wide")
    assert "broad" in parts and "thin" not in parts and 3 not in parts


def test_a_config_dict_passes_its_parameters_and_an_instance_passes_through(parts):
    assert parts.resolve({"name": "wide", "size": 7}) == Wide(7)
    given = Part(3)
    assert parts.resolve(given) is given


def test_an_unknown_name_lists_the_known_ones(parts):
    with pytest.raises(ArgumentError, match="unknown part 'thin'; expected one of narrow, wide"):
        parts.resolve("thin")
    with pytest.raises(ArgumentError, match="unknown part None"):
        parts.resolve({"size": 2})


def test_a_wrong_type_says_what_is_expected(parts):
    with pytest.raises(ArgumentTypeError, match="a name, a config dict or a Part, got float"):
        parts.resolve(1.5)


def test_the_article_fits_the_base_name():
    class Item:
        pass

    with pytest.raises(ArgumentTypeError, match="a name, a config dict or an Item, got int"):
        Registry("item", Item).resolve(3)


def test_parameters_the_part_refuses_are_an_argument_error_naming_them(parts):
    with pytest.raises(ArgumentError, match=r"bad parameters \{'depth': 2\} for part 'wide'"):
        parts.resolve({"name": "broad", "depth": 2})
    assert parts.create("broad", {"size": 4}) == Wide(4)


def test_a_densekit_error_of_the_part_passes_unchanged():
    registry = Registry("part")

    @registry.register("picky")
    def picky(size=1):
        raise ArgumentTypeError("size must be an integer")

    with pytest.raises(ArgumentTypeError, match="^size must be an integer$"):
        registry.resolve({"name": "picky", "size": 1.5})


def test_a_name_is_registered_once(parts):
    with pytest.raises(ArgumentError, match="'broad' is registered already"):
        parts.register("broad", Part)
    registry = Registry("format")

    @registry.register("densekit")
    def load(path):
        return path

    assert registry.get("densekit") is load
