"""Every rerankit error pickles whole (message, type and attributes), since errors cross process
boundaries under Ray and multiprocessing; the tree drawn in the errors module is the real one."""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys

import pytest

import rerankit
from rerankit import _errors

ERRORS = sorted(
    (obj for obj in vars(rerankit).values() if inspect.isclass(obj) and issubclass(obj, rerankit.RerankitError)),
    key=lambda cls: cls.__name__,
)

EXAMPLES = {
    rerankit.UnknownRerankerError: {"name": "cohre", "available": ["cohere", "rrf"]},
    rerankit.MissingColumnError: {"column": "text", "argument": "vector_results"},
}
PROVIDER_ATTRIBUTES = {"provider": "cohere", "status_code": 503}


def example(cls: type[rerankit.RerankitError]) -> rerankit.RerankitError:
    if issubclass(cls, rerankit.ProviderError):
        return cls(f"{cls.__name__}: the message", **PROVIDER_ATTRIBUTES)
    return cls(f"{cls.__name__}: the message", **EXAMPLES.get(cls, {}))


def attributes(error: BaseException) -> dict:
    return {k: v for k, v in vars(error).items() if not k.startswith("_")}


def test_every_error_type_is_exported_and_covered() -> None:
    defined = {o for o in vars(_errors).values() if inspect.isclass(o) and issubclass(o, rerankit.RerankitError)}
    assert defined == set(ERRORS)
    assert {rerankit.ProviderTimeoutError, rerankit.ProviderConnectionError} <= set(ERRORS)


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: c.__name__)
def test_error_round_trips_through_pickle(cls: type[rerankit.RerankitError]) -> None:
    error = example(cls)
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is cls
    assert str(clone) == str(error) and clone.args == error.args
    assert attributes(clone) == attributes(error)
    if issubclass(cls, rerankit.ProviderError):
        assert (clone.provider, clone.status_code) == ("cohere", 503)


def test_error_round_trips_into_another_process() -> None:
    blob = pickle.dumps(rerankit.RateLimitError("cohere: rate limited", provider="cohere", status_code=429))
    code = (
        "import pickle, sys; e = pickle.loads(sys.stdin.buffer.read()); "
        "print(type(e).__name__, e.provider, e.status_code, isinstance(e, ValueError), str(e))"
    )
    out = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, check=True)
    words = out.stdout.decode().split(maxsplit=4)
    assert words == ["RateLimitError", "cohere", "429", "False", "cohere: rate limited\n"]


def test_errors_keep_their_builtin_bases_after_pickling() -> None:
    clone = pickle.loads(pickle.dumps(rerankit.MissingColumnError("no text", column="text", argument="docs")))
    assert isinstance(clone, ValueError) and isinstance(clone, rerankit.InputError)
    clone = pickle.loads(pickle.dumps(rerankit.UnknownRerankerError("no x", name="x", available=[])))
    assert isinstance(clone, LookupError) and clone.name == "x" and clone.available == []


def test_the_docstring_tree_names_every_error_under_its_real_parent() -> None:
    lines = [line for line in (_errors.__doc__ or "").splitlines() if "Error" in line and ("├" in line or "└" in line
             or line.strip().startswith("RerankitError"))]
    stack: list[tuple[int, str]] = []
    drawn = {}
    for line in lines:
        name = next(word for word in line.replace("│", " ").replace("├──", " ").replace("└──", " ").split())
        depth = len(line) - len(line.lstrip(" │├└─"))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        drawn[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    assert set(drawn) == {cls.__name__ for cls in ERRORS}
    for cls in ERRORS:
        parent = drawn[cls.__name__]
        assert parent is None or parent == cls.__mro__[1].__name__, cls
