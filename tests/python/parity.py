"""Client-parity bookkeeping: which (model class, method) pairs of the public
``welkin`` client exist, which ones a scenario declares, and which ones it
really called.

* ``welkin_api()`` introspects ``welkin.models`` at run time and returns every
  pair the client offers (see its docstring for the exact rule).
* ``@covers("Patient.update", "Patients.get")`` declares what a scenario
  exercises (a ``covers`` mark).
* ``install_tracer()`` wraps every welkin-defined model method so that each
  call is recorded under its pair; conftest.py checks after every test that
  each declared pair was really called, and remembers the outcome, so
  test_parity.py can demand one *passing* scenario per pair.

Imported by conftest.py after the welkin token cache has been redirected.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil

import pytest
import welkin.models
from welkin.models.base import Collection, Resource, SchemaBase
from welkin.models.formation import FormationBase
from welkin.util import Target

# The generic roots: their own methods are pairs of their own ("Resource.put",
# "Collection.request"), reached through every model that calls super().
ROOTS = (Resource, Collection)
# Never pairs: plumbing without public methods of its own.
PLUMBING = (SchemaBase, FormationBase, Target)
# Intermediate formation bases: abstract (no endpoint), their methods are
# attributed to each concrete formation class.
ABSTRACT = {"FormationResource", "FormationCollection"}
INSTANTIATED = "<instance>"


def _modules():
    yield welkin.models
    for info in pkgutil.iter_modules(welkin.models.__path__):
        yield importlib.import_module(f"welkin.models.{info.name}")


def _model_classes():
    """Every class welkin.models.* defines that is a Resource, a Collection or
    a formation Target, in definition order, without duplicates."""
    seen = {}
    for module in _modules():
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if not cls.__module__.startswith("welkin.models"):
                continue
            if cls in ROOTS or cls in PLUMBING or cls.__name__ in ABSTRACT:
                continue
            if issubclass(cls, (Resource, Collection)) or (
                issubclass(cls, Target) and cls.__module__ == "welkin.models.formation"
            ):
                seen[cls] = None
    return list(seen)


def class_key(cls) -> str:
    """`Patient`, `Resource`, or `formation.CDT` for the formation classes
    (which share names with the patient-level models)."""
    if cls.__module__ == "welkin.models.formation":
        return f"formation.{cls.__name__}"
    return cls.__name__


def _is_welkin(cls) -> bool:
    return cls.__module__.startswith("welkin.")


def _public_methods(cls):
    """name -> defining class, for public functions welkin defines on `cls`
    or an ancestor below the generic roots."""
    out = {}
    for klass in reversed(cls.__mro__):
        if not _is_welkin(klass) or klass in PLUMBING:
            continue
        if klass in ROOTS and cls not in ROOTS:
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or not inspect.isfunction(value):
                continue
            out[name] = klass
    return out


def welkin_api() -> dict[str, tuple[type, str | None, type | None]]:
    """Every pair the welkin client offers, as {"Class.method": (cls, name,
    defining class)}:

    * for the generic roots ``Resource`` and ``Collection``: each public
      method they define (``Resource.get/patch/post/put/delete``,
      ``Collection.get/post/patch/request``);
    * for every other Resource/Collection subclass in ``welkin.models.*``
      (exported or not, formation classes included): each public method
      welkin defines on it or on a welkin ancestor below the roots (so
      ``formation.CDT.get`` comes from ``FormationResource.get``);
    * a class with no such method (``ProgramPhase``, ``WebhookAudit``,
      ``formation.Formation``...) is a data model: its pair is
      ``Class.<instance>``, covered when an instance is built from a
      server answer (or for Formation: built against the server).
    """
    pairs = {}
    for cls in [*ROOTS, *_model_classes()]:
        methods = _public_methods(cls)
        if not methods:
            pairs[f"{class_key(cls)}.{INSTANTIATED}"] = (cls, None, None)
            continue
        for name, owner in methods.items():
            pairs[f"{class_key(cls)}.{name}"] = (cls, name, owner)
    return pairs


# --------------------------------------------------------------------------
# declaration
# --------------------------------------------------------------------------

def covers(*names: str):
    """Declare the welkin pairs a scenario exercises: each must be called
    during the test (checked after the test) and exist in welkin_api()."""
    if not names:
        raise ValueError("covers() needs at least one Class.method")
    return pytest.mark.covers(*names)


def declared(item) -> set[str]:
    out = set()
    for mark in item.iter_markers("covers"):
        out.update(mark.args)
    return out


# --------------------------------------------------------------------------
# tracing
# --------------------------------------------------------------------------

CALLED: set[str] = set()  # pairs called since the current test body started
RESULTS: dict[str, dict] = {}  # nodeid -> {"outcome", "covers", "called"}
REPORT: list[str] = []  # lines for the terminal summary
_INSTALLED = False


def _record_method(root_key, fn):
    @functools.wraps(fn)
    def traced(self, *args, **kwargs):
        if root_key is not None:
            CALLED.add(root_key)
        else:
            CALLED.add(f"{class_key(type(self))}.{fn.__name__}")
        return fn(self, *args, **kwargs)

    traced.__parity_traced__ = True
    return traced


def _record_init(cls):
    original = cls.__dict__.get("__init__")
    key = f"{class_key(cls)}.{INSTANTIATED}"

    def __init__(self, *args, **kwargs):
        if type(self) is cls:
            CALLED.add(key)
        if original is not None:
            original(self, *args, **kwargs)
        else:
            super(cls, self).__init__(*args, **kwargs)

    __init__.__parity_traced__ = True
    return __init__


def install_tracer():
    """Wrap, once, every function behind a pair so that calls are recorded.
    Functions of the roots record the root pair; others record the pair of
    the instance's own class (FormationResource.get called on formation.CDT
    records `formation.CDT.get`)."""
    global _INSTALLED
    if _INSTALLED:
        return
    _INSTALLED = True
    wrapped = set()
    for _, (cls, name, owner) in welkin_api().items():
        if name is None:
            setattr(cls, "__init__", _record_init(cls))
            continue
        if (owner, name) in wrapped:
            continue
        wrapped.add((owner, name))
        fn = vars(owner)[name]
        root_key = f"{owner.__name__}.{name}" if owner in ROOTS else None
        setattr(owner, name, _record_method(root_key, fn))
