"""The activation registry: spec strings, canonical forms, lookup and plug-ins.

A spec names an activation and optionally sets its parameters: ``ralu``,
``ralu(alpha=2, learnable=false)``, or a plug-in ``pkg.mod:Name(k=v)``. Every entry,
built-in, decorator-registered or plug-in, gets its parameters the same way: from the
factory's ``__init__`` signature, so the code that builds a module is the only place its
parameters and defaults are written down.

Every spec the user can get wrong raises :class:`SpecError` with one line that says what
was wrong, because the CLI shows exactly that line and nothing else.

The built-ins are declared in catalog.py with the import path of their module class, so
this module, the catalog and ``actbench acts`` need no torch; torch is imported when a
module is first built. Adding one: a class in builtin.py and an entry in catalog.py;
from outside actbench, the ``register_activation`` decorator or a plug-in spec.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from actbench.errors import SpecError
from actbench.registry import Registry

if TYPE_CHECKING:
    from torch import nn

ParamValue = float | int | bool
Factory = Callable[..., "nn.Module"]


@dataclass(frozen=True)
class ParamInfo:
    """One settable parameter of an activation, derived from its factory's signature."""

    name: str
    kind: type  # float, int or bool
    default: object
    doc: str = ""

    @property
    def default_text(self) -> str:
        """The default as a spec string writes it (``true``, not ``True``)."""
        return _format_value(self.default)


@dataclass(frozen=True)
class ActivationInfo:
    """A registry entry: what the activation is, where it comes from, how to build it."""

    name: str
    aliases: tuple[str, ...]
    params: tuple[ParamInfo, ...]  # in signature order
    formula: str
    reference: str
    learnable: str  # what is trained, in words; "" when nothing is
    factory: Factory | str  # or its import path "package.module:Name", imported when first built

    def load_factory(self) -> Factory:
        if isinstance(self.factory, str):
            module, _, name = self.factory.partition(":")
            return getattr(importlib.import_module(module), name)
        return self.factory


@dataclass(frozen=True)
class ActivationSpec:
    """A fully resolved spec: every parameter present, sorted by name, with its kind.

    ``info`` is None for plug-ins; they are kept as their import path so a spec stays
    plain data that another process can rebuild by importing the same module.
    """

    info: ActivationInfo | None
    target: str  # registry name, or "pkg.mod:Name" for plug-ins
    kwargs: tuple[tuple[str, object], ...]

    @property
    def canonical(self) -> str:
        """The one string that names this exact activation: ``name(k=v, ...)``."""
        if not self.kwargs:
            return self.target
        args = ", ".join(f"{key}={_format_value(value)}" for key, value in self.kwargs)
        return f"{self.target}({args})"

    def build(self) -> nn.Module:
        """A fresh module: new parameters every call, nothing shared between calls."""
        factory = self.info.load_factory() if self.info is not None else _resolve_plugin(self.target)
        return _call_factory(factory, self.target, dict(self.kwargs))


ACTIVATIONS: Registry[ActivationInfo] = Registry(
    "activation", error=SpecError, listing="run 'actbench acts' to list them"
)

_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_PLUGIN = re.compile(rf"{_IDENT}(\.{_IDENT})*:{_IDENT}(\.{_IDENT})*")
_KEY = re.compile(_IDENT)
_INT = re.compile(r"[+-]?\d+")
# Decimal literals as a user types them (1, -1, .5, 1e-3), plus inf/nan so the modules'
# own range checks, not the parser, are what reject them.
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|infinity|nan)", re.I)
_KINDS: dict[object, type] = {float: float, int: int, bool: bool, "float": float, "int": int, "bool": bool}


def register_activation(
    name: str,
    *,
    aliases: Iterable[str] = (),
    formula: str = "",
    reference: str = "",
    learnable: str = "",
) -> Callable[[Factory], Factory]:
    """Decorator adding an nn.Module subclass (or a factory returning one) to the registry.

    Its parameters are those of its signature; each needs a float, int or bool default.
    The decorated object is returned unchanged. Registering a taken name is a ValueError:
    a programming mistake, not a bad spec.
    """

    def decorator(factory: Factory) -> Factory:
        primary = name.lower()
        names = [primary, *(alias.lower() for alias in aliases)]
        for each in names:
            if not _NAME.fullmatch(each):
                raise ValueError(f"invalid activation name {each!r}: use letters, digits and '_'")
        try:
            params = _derive_params(factory)
        except ValueError as exc:
            raise ValueError(f"cannot register {primary!r}: {exc}") from None
        info = ActivationInfo(
            name=primary,
            aliases=tuple(names[1:]),
            params=params,
            formula=formula,
            reference=reference,
            learnable=learnable,
            factory=factory,
        )
        ACTIVATIONS.add(primary, info, aliases=info.aliases)
        return factory

    return decorator


def get_info(name: str) -> ActivationInfo:
    """The entry for a name or alias (case-insensitive); SpecError with suggestions if none."""
    return ACTIVATIONS.get(name)


def list_activations() -> list[ActivationInfo]:
    """All registered entries, sorted by name."""
    return [ACTIVATIONS.get(name) for name in sorted(ACTIVATIONS)]


def parse_activation(spec: str) -> ActivationSpec:
    """Parse and fully validate a spec; builds one module once so its own checks run."""
    import torch

    parsed = _resolve(spec)
    # Building a throwaway module must not move the RNG: a plug-in that draws random
    # numbers in __init__ would otherwise shift every later initialisation, and the
    # paired design needs identical init streams across activations.
    with torch.random.fork_rng(devices=[]):
        try:
            parsed.build()
        except ValueError as exc:
            raise SpecError(f"{parsed.canonical}: {exc}") from None
    return parsed


def canonical_spec(spec: str) -> str:
    """The canonical form of a spec, e.g. ``swish`` -> ``silu``, ``ralu`` -> ``ralu(alpha=1.0, learnable=true)``."""
    return parse_activation(spec).canonical


def split_specs(text: str) -> list[str]:
    """Split a comma-separated list of specs on top-level commas only."""
    if not text.strip():
        raise SpecError("no activation specs given")
    items: list[str] = []
    depth = 0
    start = 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:index])
            start = index + 1
    items.append(text[start:])
    for position, item in enumerate(items, start=1):
        if not item.strip():
            raise SpecError(f"empty activation spec at position {position} in {text!r}")
    return [item.strip() for item in items]


def get_activation(spec: str | ActivationSpec | nn.Module | type[nn.Module]) -> nn.Module:
    """A module for a spec (fresh every call); a module comes back unchanged; a class is instantiated."""
    from torch import nn

    if isinstance(spec, nn.Module):
        return spec
    if isinstance(spec, type) and issubclass(spec, nn.Module):
        return spec()
    if isinstance(spec, str):
        return parse_activation(spec).build()
    if isinstance(spec, ActivationSpec):
        return spec.build()
    raise SpecError(
        f"cannot make an activation from a {type(spec).__name__}; "
        "expected a spec string, an nn.Module or an nn.Module class"
    )


# --- parsing -----------------------------------------------------------------------


def _resolve(spec: str) -> ActivationSpec:
    """Spec string -> ActivationSpec with every parameter typed and defaulted (not built)."""
    target, given = _split_call(spec)
    if ":" in target:
        if not _PLUGIN.fullmatch(target):
            raise SpecError(f"malformed activation spec {spec!r}: a plug-in is written 'package.module:Name'")
        info = None
        try:
            params = _derive_params(_resolve_plugin(target))
        except ValueError as exc:
            raise SpecError(f"plug-in {target!r}: {exc}") from None
        label = target
    else:
        info = get_info(target)
        params = info.params
        target = label = info.name
    by_name = {param.name: param for param in params}
    for key in given:
        if key not in by_name:
            raise SpecError(_unknown_param_message(label, key, params))
    kwargs = {p.name: _convert(label, p, given[p.name]) if p.name in given else p.default for p in params}
    return ActivationSpec(info=info, target=target, kwargs=tuple(sorted(kwargs.items())))


def _split_call(spec: str) -> tuple[str, dict[str, str]]:
    """``name(k=v, ...)`` -> (name, {k: raw v}); only the syntax is checked here."""
    text = spec.strip()

    def malformed(why: str) -> SpecError:
        return SpecError(f"malformed activation spec {spec!r}: {why}")

    if not text:
        raise SpecError("empty activation spec")
    open_at = text.find("(")
    if open_at < 0:
        if ")" in text:
            raise malformed("')' without '('")
        return text, {}
    target = text[:open_at].strip()
    if not target:
        raise malformed("missing activation name before '('")
    close_at = text.find(")", open_at)
    if close_at < 0:
        raise malformed("missing ')'")
    inner = text[open_at + 1 : close_at]
    if "(" in inner:
        raise malformed("nested '(' is not allowed")
    if text[close_at + 1 :].strip():
        raise malformed(f"unexpected text after ')': {text[close_at + 1:].strip()!r}")
    given: dict[str, str] = {}
    if not inner.strip():
        return target, given  # "relu()" means "relu"
    for item in inner.split(","):
        if not item.strip():
            raise malformed("empty parameter between commas")
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not _KEY.fullmatch(key):
            raise malformed(f"expected key=value, got {item.strip()!r}")
        if key in given:
            raise malformed(f"parameter {key!r} given twice")
        given[key] = value
    return target, given


def _convert(label: str, param: ParamInfo, raw: str) -> ParamValue:
    """Raw text -> value of the parameter's kind; float params take int literals too."""
    if param.kind is bool:
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise SpecError(f"{label}: {param.name} must be true or false, got {raw!r}")
    if param.kind is int:
        if _INT.fullmatch(raw):
            return int(raw)
        raise SpecError(f"{label}: {param.name} must be an integer, got {raw!r}")
    if _FLOAT.fullmatch(raw):
        return float(raw)
    raise SpecError(f"{label}: {param.name} must be a number, got {raw!r}")


def _format_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


# --- parameters from signatures ----------------------------------------------------------


def _derive_params(factory: Factory) -> tuple[ParamInfo, ...]:
    """ParamInfo for each parameter of the factory; ValueError if one is not settable."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cannot read its signature ({exc})") from None
    docs = _param_docs(factory)
    params = []
    for param in signature.parameters.values():
        # *args/**kwargs cannot be set from a spec; a Module subclass without its own
        # __init__ shows nn.Module's (*args, **kwargs), which must mean "no parameters".
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = param.default
        if default is param.empty:
            raise ValueError(f"parameter {param.name!r} has no default; every parameter needs a float, int or bool default")
        kind = _KINDS.get(param.annotation) or type(default)
        if kind not in (float, int, bool) or not _default_fits(default, kind):
            raise ValueError(
                f"parameter {param.name!r} has default {default!r}; every parameter needs a float, int or bool default"
            )
        params.append(ParamInfo(param.name, kind, float(default) if kind is float else default, docs.get(param.name, "")))
    return tuple(params)


def _default_fits(default: object, kind: type) -> bool:
    if kind is bool:
        return isinstance(default, bool)
    if isinstance(default, bool):  # bool is an int subclass, but True is not a number here
        return False
    return isinstance(default, int) if kind is int else isinstance(default, (int, float))


def _param_docs(factory: Factory) -> dict[str, str]:
    """``name: text`` entries of a Google-style ``Args:`` section in the factory's docstring.

    Reads the factory's own ``__doc__`` (not inherited: nn.Module's would leak in).
    """
    docs: dict[str, str] = {}
    lines = inspect.cleandoc(factory.__doc__ or "").splitlines()
    if "Args:" not in lines:
        return docs
    entry = re.compile(r"( +)(\w+)(?: \([^)]*\))?: (.*)")
    indent = None
    name = ""
    for line in lines[lines.index("Args:") + 1 :]:
        width = len(line) - len(line.lstrip(" "))
        if not line.strip() or width == 0:
            break
        match = entry.fullmatch(line)
        if match and indent in (None, width):
            indent, name = width, match[2]
            docs[name] = match[3].strip()
        elif name:  # a continuation line of the entry above
            docs[name] += " " + line.strip()
    return docs


# --- building ----------------------------------------------------------------------


def _call_factory(factory: Factory, label: str, kwargs: dict[str, object]) -> nn.Module:
    from torch import nn

    module = factory(**kwargs)
    if not isinstance(module, nn.Module):
        raise SpecError(f"{label} returned {type(module).__name__}, not an nn.Module")
    return module


def _resolve_plugin(target: str) -> Factory:
    """Import ``pkg.mod:Name`` and return the nn.Module subclass or factory it names."""
    from torch import nn

    module_name, _, attr_path = target.partition(":")
    try:
        obj = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any failure in the user's module is one line for them
        reason = str(exc).splitlines()[0] if str(exc) else ""
        raise SpecError(f"plug-in {target!r}: cannot import {module_name!r}: {type(exc).__name__}: {reason}") from None
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise SpecError(f"plug-in {target!r}: {getattr(obj, '__name__', module_name)!r} has no attribute {part!r}")
        obj = getattr(obj, part)
    if isinstance(obj, type) and not issubclass(obj, nn.Module):
        raise SpecError(f"plug-in {target!r}: class {obj.__name__} is not an nn.Module subclass")
    if not callable(obj):
        raise SpecError(f"plug-in {target!r}: got {type(obj).__name__}, which is neither an nn.Module subclass nor a callable")
    return obj


# --- messages ----------------------------------------------------------------------


def _unknown_param_message(label: str, key: str, params: tuple[ParamInfo, ...]) -> str:
    if not params:
        return f"{label} takes no parameters, got {key!r}"
    names = ", ".join(param.name for param in params)
    return f"{label} has no parameter {key!r}; its parameters are: {names}"
