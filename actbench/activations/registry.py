"""The activation registry: spec strings, canonical forms, lookup and plug-ins.

A spec names an activation and optionally sets its parameters: ``ralu``,
``ralu(alpha=2, learnable=false)``, or a plug-in ``pkg.mod:Name(k=v)``. Every entry,
built-in, decorator-registered or plug-in, gets its parameters the same way: from the
factory's ``__init__`` signature, so the code that builds a module is the only place its
parameters and defaults are written down.

A plug-in's canonical spec carries the version of its source, the first 8 hex digits of
its hash (actbench.activations.identity): ``myact:LearnableSwish`` canonicalises to
``myact:LearnableSwish@1a2b3c4d``, and with parameters to
``myact:LearnableSwish@1a2b3c4d(beta=1.0)``: the version belongs to the code named before
the parameters, and the canonical form parses back to itself. An edited plug-in is thus
another activation to everything keyed by the spec (stored trials, claims, checkpoints,
pairing in the report). A spec may name the version (8 to 64 hex digits); naming one
the source no longer has is a SpecError that names the current one, except in
``stored_spec``, which names stored trials: there ``myact:X@1a2b3c4d`` names that
version's trials, and ``myact:X`` every version's.

A plug-in is named by its module (``myact:X``, ``pkg.mod:X``: importable from the current
folder or sys.path) or by its file (``../myact.py:X``, ``/abs/myact.py:X``, relative to the
current folder): the file's folder is added to sys.path and the file is imported under its
own name, its stem, so ``../myact.py:X`` canonicalises to ``myact:X@1a2b3c4d``. Identity is
the module name and the source, not where the file was found: one file reached by two
paths, or on two machines, is one activation. A file whose stem is not a module name, or
whose stem names another file's module (``json.py``; a second myact.py), is refused.

What a plug-in names:

- an nn.Module subclass: its ``__init__``'s parameters are the activation's;
- a factory, a callable all of whose parameters have defaults, returning a module;
- an elementwise function whose first parameter (the tensor) alone has no default,
  ``def my_fn(x, beta: float = 1.0)``: built as
  actbench.activations.function_activation.FunctionActivation, with the function's
  other parameters as the activation's.

Every spec the user can get wrong raises :class:`SpecError` with one line that says what
was wrong, because the CLI shows exactly that line and nothing else.

The built-ins are declared in catalog.py with the import path of their module class, so
this module, the catalog and ``actbench acts`` need no torch; torch is imported when a
module is first built. Adding one: a class in builtin.py and an entry in catalog.py;
from outside actbench, the ``register_activation`` decorator or a plug-in spec.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import keyword
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
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
    target: str  # registry name, or "pkg.mod:Name" for plug-ins (a file's stem as the module)
    kwargs: tuple[tuple[str, object], ...]
    # A plug-in's source version (8 hex digits, see the module docstring); None for a
    # registry entry, and for a plug-in named without one by ``stored_spec``.
    version: str | None = None

    @property
    def canonical(self) -> str:
        """The one string that names this exact activation: ``name(k=v, ...)``, a plug-in
        ``pkg.mod:Name@version(k=v, ...)``."""
        return self._text(f"{self.target}@{self.version}" if self.version else self.target)

    @property
    def unversioned(self) -> str:
        """The canonical spec without a plug-in's @version: how a user writes it."""
        return self._text(self.target)

    def _text(self, name: str) -> str:
        if not self.kwargs:
            return name
        args = ", ".join(f"{key}={_format_value(value)}" for key, value in self.kwargs)
        return f"{name}({args})"

    def build(self) -> nn.Module:
        """A fresh module: new parameters every call, nothing shared between calls."""
        factory = self.info.load_factory() if self.info is not None else _plugin_factory(self.target, self.target)[0]
        return _call_factory(factory, self.target, dict(self.kwargs))


# A name is parsed inside specs (``relu,ralu(alpha=2)``): an identifier, no '-' or '.'.
ACTIVATIONS: Registry[ActivationInfo] = Registry(
    "activation",
    error=SpecError,
    listing="run 'actbench acts' to list them",
    names=(re.compile(r"[a-z_][a-z0-9_]*"), "letters, digits and '_'"),
)

_VERSION = re.compile(r"[0-9a-f]{8,64}")  # a prefix of the plug-in's source hash
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = rf"{_IDENT}(\.{_IDENT})*"
_PLUGIN = re.compile(rf"{_DOTTED}:{_DOTTED}")
_ATTRIBUTE = re.compile(_DOTTED)  # what a plug-in names in its module: Name, or Outer.Name
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
    The decorated object is returned unchanged. Registering a taken or malformed name is a
    ValueError: a programming mistake, not a bad spec.
    """

    def decorator(factory: Factory) -> Factory:
        primary = name.lower()
        try:
            params = _derive_params(factory)
        except ValueError as exc:
            raise ValueError(f"cannot register {primary!r}: {exc}") from None
        info = ActivationInfo(
            name=primary,
            aliases=tuple(alias.lower() for alias in aliases),
            params=params,
            formula=formula,
            reference=reference,
            learnable=learnable,
            factory=factory,
        )
        ACTIVATIONS.add(primary, info, aliases=info.aliases)
        return factory

    return decorator


def default_baseline(activations: list[str]) -> str:
    """What a comparison is against when no baseline is named: relu when among
    ``activations`` (canonical specs), else the first."""
    return "relu" if "relu" in activations else activations[0]


def get_info(name: str) -> ActivationInfo:
    """The entry for a name or alias (case-insensitive); SpecError with suggestions if none."""
    return ACTIVATIONS.get(name)


def list_activations() -> list[ActivationInfo]:
    """All registered entries, sorted by name."""
    return [ACTIVATIONS.get(name) for name in sorted(ACTIVATIONS)]


class PluginVersionError(SpecError):
    """A plug-in spec naming a version of the source that is not the one importable here."""

    def __init__(self, target: str, given: str, current: str):
        super().__init__(
            f"plug-in {target} is at version {current}, not {given}: its source has changed since; "
            f"name it {target} or {target}@{current}"
        )
        self.target, self.given, self.current = target, given, current


def parse_activation(spec: str) -> ActivationSpec:
    """Parse and fully validate a spec; builds one module once so its own checks run.
    A plug-in gets its source's version; one named with another is a PluginVersionError."""
    return _parse(spec, pinned=True)


def stored_spec(spec: str) -> str:
    """A spec naming stored trials (``report --acts``, ``--baseline``), for names_stored: a
    registry entry's canonical form; a plug-in as written, never imported (its code may have
    changed since, or be gone), a path reduced to its module name; a report's row label
    ``gelu [def 1a2b3c4d]`` (actbench.activations.identity.definition_label) kept."""
    from actbench.activations.identity import DEFINITION_LABEL

    text = spec.strip()
    label = DEFINITION_LABEL.search(text)
    body, suffix = (text, "") if label is None else (text[: label.start()].strip(), label[0])
    target, given = _split_call(body)
    module, colon, name = target.rpartition(":")
    if not colon:
        return _parse(body, pinned=False).canonical + suffix
    if _is_path(module):
        module = Path(module).stem
    args = ", ".join(f"{key}={value}" for key, value in sorted(given.items()))
    return f"{module}:{name.replace(' ', '')}" + (f"({args})" if args else "") + suffix


def stored_specs(acts: str | Iterable[str]) -> list[str]:
    """stored_spec of each spec of ``acts``: a comma-separated string (--acts) or a list."""
    return [stored_spec(spec) for spec in (split_specs(acts) if isinstance(acts, str) else acts)]


def names_stored(item: str, stored: str) -> bool:
    """Whether ``item`` (a stored_spec) names the stored activation ``stored`` (canonical):
    exactly; or, for a plug-in, the same module and name, the @version if one is given (a
    prefix of the stored one), and each parameter given at the stored value (1 = 1.0)."""
    if item == stored:
        return True
    (item_target, item_args), (stored_target, stored_args) = _split_call(item), _split_call(stored)
    item_name, _, item_version = item_target.partition("@")
    stored_name, _, stored_version = stored_target.partition("@")
    if ":" not in item_name or item_name != stored_name or not stored_version.startswith(item_version):
        return False
    return all(key in stored_args and _same_value(value, stored_args[key]) for key, value in item_args.items())


def _same_value(given: str, stored: str) -> bool:
    if _FLOAT.fullmatch(given) and _FLOAT.fullmatch(stored):
        return float(given) == float(stored)
    return given.lower() == stored.lower()


def unversioned(canonical: str) -> str:
    """A canonical spec without its plug-in @version: ``myact:X@1a2b3c4d(k=1.0)`` -> ``myact:X(k=1.0)``."""
    name, paren, args = canonical.partition("(")
    return name.partition("@")[0] + paren + args


def _parse(spec: str, pinned: bool) -> ActivationSpec:
    import torch

    parsed = _resolve(spec, pinned)
    # Building a throwaway module must not move the RNG: a plug-in that draws random
    # numbers in __init__ would otherwise shift every later initialisation, and the
    # paired design needs identical init streams across activations.
    with torch.random.fork_rng(devices=[]):
        try:
            parsed.build()
        except ValueError as exc:
            raise SpecError(f"{parsed.unversioned}: {exc}") from None
    return parsed


def canonical_spec(spec: str) -> str:
    """The canonical form of a spec, e.g. ``swish`` -> ``silu``, ``ralu`` -> ``ralu(alpha=1.0, learnable=true)``,
    ``myact:Swish`` -> ``myact:Swish@1a2b3c4d``."""
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


def _resolve(spec: str, pinned: bool) -> ActivationSpec:
    """Spec string -> ActivationSpec with every parameter typed and defaulted (not built).
    ``pinned``: a plug-in's version is its source's, and must be the one named if any;
    else (``stored_spec``) the one named, or None."""
    target, given = _split_call(spec)
    # The @version follows the name after the last ':', so that a path may hold an '@'.
    module, colon, name = target.rpartition(":")
    name, at, version = (part.strip() for part in name.partition("@"))
    target = module + colon + name
    if at and not colon:
        raise SpecError(f"malformed activation spec {spec!r}: only a plug-in (package.module:Name) has an @version")
    if at and not _VERSION.fullmatch(version):
        raise SpecError(f"malformed activation spec {spec!r}: an @version is 8 to 64 hex digits, got {version!r}")
    if colon:
        shown = target  # as the user wrote it, for the messages about finding it
        if _is_path(module) and _ATTRIBUTE.fullmatch(name):
            target = f"{_module_of_file(shown, module)}:{name}"
        elif not _PLUGIN.fullmatch(target):
            raise SpecError(
                f"malformed activation spec {spec!r}: "
                "a plug-in is written 'package.module:Name' or 'path/to/file.py:Name'"
            )
        info = None
        params = _plugin(target, shown)[1]
        label = target
        version = _plugin_version(target, shown, version or None, pinned)
    else:
        info = get_info(target)
        params = info.params
        target = label = info.name
        version = None
    by_name = {param.name: param for param in params}
    for key in given:
        if key not in by_name:
            raise SpecError(_unknown_param_message(label, key, params))
    kwargs = {p.name: _convert(label, p, given[p.name]) if p.name in given else p.default for p in params}
    return ActivationSpec(info=info, target=target, kwargs=tuple(sorted(kwargs.items())), version=version)


def _plugin_version(target: str, shown: str, given: str | None, pinned: bool) -> str | None:
    """The version a plug-in spec gets (see ``_resolve``), 8 hex digits; ``shown`` names it
    as the user did (a file's path), to say how to name it instead."""
    from actbench.activations.identity import VERSION_DIGITS, plugin_source_hash

    if not pinned:
        return given[:VERSION_DIGITS] if given else None
    current = plugin_source_hash(target.partition(":")[0])
    if given is not None and not current.startswith(given):
        raise PluginVersionError(shown, given[:VERSION_DIGITS], current[:VERSION_DIGITS])
    return current[:VERSION_DIGITS]


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
        raise malformed(f"unexpected text after ')': {text[close_at + 1 :].strip()!r}")
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


def _derive_params(factory: Factory, elementwise: bool = False) -> tuple[ParamInfo, ...]:
    """ParamInfo for each parameter of the factory; ValueError if one is not settable.
    ``elementwise``: a function plug-in, whose first parameter is the tensor, not a setting."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cannot read its signature ({exc})") from None
    docs = _param_docs(factory)
    params = []
    for param in list(signature.parameters.values())[1 if elementwise else 0 :]:
        # *args/**kwargs cannot be set from a spec; a Module subclass without its own
        # __init__ shows nn.Module's (*args, **kwargs), which must mean "no parameters".
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = param.default
        if default is param.empty:
            raise ValueError(
                f"parameter {param.name!r} has no default; every parameter needs a float, int or bool default"
            )
        kind = _KINDS.get(param.annotation) or type(default)
        if kind not in (float, int, bool) or not _default_fits(default, kind):
            raise ValueError(
                f"parameter {param.name!r} has default {default!r}; every parameter needs a float, int or bool default"
            )
        params.append(
            ParamInfo(param.name, kind, float(default) if kind is float else default, docs.get(param.name, ""))
        )
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


def _plugin(target: str, shown: str) -> tuple[Factory, tuple[ParamInfo, ...]]:
    """The factory of the plug-in ``target`` (``pkg.mod:Name``, imported here) and its
    parameters, by what it names (see the module docstring); ``shown`` is the spec's name
    as the user wrote it, for the messages."""
    factory, obj, elementwise = _plugin_factory(target, shown)
    try:
        return factory, _derive_params(obj, elementwise)
    except ValueError as exc:
        raise SpecError(f"plug-in {shown}: {exc}") from None


def _plugin_factory(target: str, shown: str) -> tuple[Factory, object, bool]:
    """(the factory that builds the plug-in's module, the object ``target`` names, whether
    that is an elementwise function wrapped in FunctionActivation). Building needs no more:
    a spec made in code may carry arguments no spec string spells (a tuple, say)."""
    from torch import nn

    from actbench.activations.function_activation import FunctionActivation

    obj = _resolve_plugin(target, shown)
    if isinstance(obj, nn.Module):
        raise SpecError(
            f"plug-in {shown}: names an nn.Module instance, which every trial would share; name its class, "
            "or a function that builds one"
        )
    factory: Factory = obj
    elementwise = False
    if not isinstance(obj, type):
        try:
            signature = inspect.signature(obj)
        except (TypeError, ValueError):
            raise SpecError(
                f"plug-in {shown}: its signature cannot be read; write the activation as a def taking the tensor "
                "(def f(x): ...) or as an nn.Module subclass"
            ) from None
        settable = [p for p in signature.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        required = [p for p in settable if p.default is p.empty]
        # A function whose first parameter alone has no default is elementwise: that
        # parameter is the tensor. Anything else without a default is for _derive_params
        # to refuse, as it does a class's.
        if required and required[0] is settable[0] and settable[0].kind is not settable[0].KEYWORD_ONLY:
            if len(required) > 1:
                raise SpecError(
                    f"plug-in {shown}: a function plug-in takes the tensor as its only parameter without a default; "
                    f"{required[1].name!r} has none"
                )
            factory, elementwise = functools.partial(FunctionActivation, obj), True
    return factory, obj, elementwise


def _resolve_plugin(target: str, shown: str) -> object:
    """Import ``pkg.mod:Name`` and return the nn.Module subclass or other callable it names."""
    from torch import nn

    module_name, _, attr_path = target.partition(":")
    try:
        obj = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any failure in the user's module is one line for them
        reason = str(exc).splitlines()[0] if str(exc) else ""
        raise SpecError(f"plug-in {shown}: cannot import {module_name!r}: {type(exc).__name__}: {reason}") from None
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise SpecError(f"plug-in {shown}: {getattr(obj, '__name__', module_name)!r} has no attribute {part!r}")
        obj = getattr(obj, part)
    if isinstance(obj, type) and not issubclass(obj, nn.Module):
        raise SpecError(f"plug-in {shown}: class {obj.__name__} is not an nn.Module subclass")
    if not callable(obj):
        kind = type(obj).__name__
        raise SpecError(f"plug-in {shown}: got {kind}, which is neither an nn.Module subclass nor a callable")
    return obj


def _is_path(module: str) -> bool:
    """Whether a plug-in's module part is a file path rather than a module name."""
    return "/" in module or module.endswith(".py")


def _module_of_file(shown: str, file: str) -> str:
    """The module name under which the plug-in file ``file`` is imported: its stem, with its
    folder added to the end of sys.path (if not there yet). SpecError if there is no such
    .py file, if its stem is no module name, or if the name is another file's: a module
    imported already, or one found first on sys.path (the stdlib's json for json.py;
    another myact.py)."""
    path = Path(file).expanduser()
    looked = "" if path.is_absolute() else f" (looked from {Path.cwd()})"
    if path.suffix != ".py":
        raise SpecError(f"plug-in {shown}: a plug-in file is a .py file, got {file}")
    if not path.is_file():
        raise SpecError(f"plug-in {shown}: no file {file}{looked}")
    path = path.resolve()
    name = path.stem
    if not re.fullmatch(_IDENT, name) or keyword.iskeyword(name):
        raise SpecError(
            f"plug-in {shown}: {path.name} cannot be imported as a module named {name!r}; rename it "
            "(letters, digits and '_', not starting with a digit)"
        )
    module = sys.modules.get(name)
    if module is not None:
        origin = getattr(module, "__file__", None)
    else:
        if str(path.parent) not in sys.path:
            # At the end: the folder's other files must not shadow modules imported later.
            sys.path.append(str(path.parent))
        importlib.invalidate_caches()  # a file written since the folder was last listed
        found = importlib.util.find_spec(name)
        origin = found.origin if found is not None else None
    if origin is None or not Path(origin).is_file() or Path(origin).resolve() != path:
        other = origin if origin is not None and Path(origin).is_file() else "a module without a source file"
        raise SpecError(f"plug-in {shown}: its module name {name!r} already names {other}; rename {path}")
    return name


# --- messages ----------------------------------------------------------------------


def _unknown_param_message(label: str, key: str, params: tuple[ParamInfo, ...]) -> str:
    if not params:
        return f"{label} takes no parameters, got {key!r}"
    names = ", ".join(param.name for param in params)
    return f"{label} has no parameter {key!r}; its parameters are: {names}"
