"""The one registry every plug-in kind uses: names, aliases, lazy entries, did-you-mean."""

import sys

import pytest

from actbench.errors import SpecError, UsageError
from actbench.registry import Registry


def test_entries_by_name_and_alias_case_insensitive_in_registration_order():
    reg = Registry("engine")
    reg.add("population", 1)
    reg.add("sequential", 2, aliases=("serial",))
    assert reg.names() == ["population", "sequential"] and list(reg) == reg.names() and len(reg) == 2
    assert (
        reg.get("Serial") == 2 and reg.primary(" SERIAL ") == "sequential" and reg.aliases("sequential") == ["serial"]
    )
    assert "serial" in reg and "fast" not in reg and 3 not in reg


def test_a_lazy_entry_is_imported_on_first_use_only(tmp_path, monkeypatch):
    (tmp_path / "lazy_plugin_module.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry("executor")
    reg.add("lazy", "lazy_plugin_module:VALUE")
    assert reg.names() == ["lazy"] and "lazy_plugin_module" not in sys.modules
    assert reg.get("lazy") == 42 and "lazy_plugin_module" in sys.modules


def test_a_taken_or_malformed_name_is_a_programming_error():
    reg = Registry("task")
    reg.add("mnist", 1, aliases=("digits",))
    with pytest.raises(ValueError, match="task name 'digits' is already registered"):
        reg.add("digits", 2)
    with pytest.raises(ValueError, match="invalid task name 'two words'"):
        reg.add("two words", 3)


@pytest.mark.parametrize(
    "name, message",
    [
        ("cifar", "unknown task 'cifar'; did you mean: cifar10-airbench94, cifar10-airbench95?"),  # a family prefix
        ("mnits", "unknown task 'mnits'; did you mean: mnist, mnist-mini?"),  # a typo
        ("imagenet", "unknown task 'imagenet'; known tasks: mnist, mnist-mini, cifar10-airbench94, cifar10-airbench95"),
        ("", "unknown task ''; known tasks: mnist, mnist-mini, cifar10-airbench94, cifar10-airbench95"),
    ],
)
def test_unknown_names_suggest_prefixes_then_close_matches(name, message):
    reg = Registry("task", listing="known tasks: {names}", cutoff=0.5)
    for task in ("mnist", "mnist-mini", "cifar10-airbench94", "cifar10-airbench95"):
        reg.add(task, task)
    with pytest.raises(UsageError) as info:
        reg.get(name)
    assert str(info.value) == message


def test_each_registry_raises_its_own_error_type():
    reg = Registry("activation", error=SpecError, listing="run 'actbench acts' to list them")
    reg.add("gelu", 1)
    with pytest.raises(SpecError, match=r"^unknown activation 'gleu'; did you mean: gelu\?$"):
        reg.get("gleu")
    with pytest.raises(SpecError, match=r"^unknown activation 'xyz'; run 'actbench acts' to list them$"):
        reg.get("xyz")
