"""Pydantic configuration models shared by every reranker.

Each registered reranker has a config model deriving from :class:`RerankerConfig`; unknown keys are
rejected and secrets are :class:`pydantic.SecretStr`, so a config can be printed, logged or dumped
without leaking a key. :func:`validate_config` turns pydantic's errors into one readable
:class:`~rerankit.ConfigError`.

Secrets are kept out of every message by construction: before any error text is formatted, the
options are redacted (every value of a ``SecretStr`` field, and of any option, at any nesting,
whose name looks like a key, token, secret or password), and whatever a validator's own message
might echo of them is masked too. A plugin's validators, written later, are covered the same way.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from typing import Any, Literal, Optional

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretBytes,
    SecretStr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from ._errors import ConfigError
from ._redact import MASK, mask_urls

#: Option names whose values are secrets wherever they appear: api_key, apiKey, access_token,
#: client_secret, password, Authorization, X-Api-Key, ... (not max_tokens or api_key_env).
SECRET_NAME = re.compile(
    r"(^|[-_.])(api[-_]?key|apikey|access[-_]?key|secret([-_]?key)?|token|password|passwd|passphrase"
    r"|credentials?|authorization|auth)$",
    re.IGNORECASE,
)

ReturnScore = Literal["relevance", "all"]


class RerankerConfig(BaseModel):
    """Options every reranker accepts (names as in ``lancedb.rerankers``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    column: str = Field(
        "text",
        description="Column holding the text to score; also a '{title}: {text}' template or a "
        "'meta.body' nested field.",
    )
    top_n: Optional[int] = Field(None, ge=1, description="Keep only the best n rows (all if unset).")
    return_score: ReturnScore = Field(
        "relevance",
        description="'relevance' keeps only _relevance_score; 'all' also keeps _distance and _score.",
    )
    min_score: Optional[float] = Field(
        None,
        allow_inf_nan=False,
        description="Drop the rows whose _relevance_score (calibrated where calibration is set) is "
        "below this, after ranking, as top_n does.",
    )

    @model_validator(mode="before")
    @classmethod
    def _numbers_are_numbers(cls, data: Any) -> Any:
        """A number option takes a number and a true/false option a boolean: ``True`` is not 1,
        ``"5"`` is not 5 and ``"yes"`` is not true (pydantic's lax mode would accept them all), in
        every reranker's config, the core's and plugins', and in nested options (``passages``,
        ``rate_limit``, ``cache``) alike."""
        problems = _strict_problems(cls, data, "")
        if problems:
            raise ValueError("; ".join(problems))
        return data

    @model_serializer(mode="wrap")
    def _dump_without_secrets(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        """``model_dump`` / ``model_dump_json`` hold no secret at any depth: besides ``SecretStr``
        fields (masked by pydantic), values under secret-like names in nested options (a fallback
        entry's own fallback's ``api_key``) and the credentials of URLs are masked."""
        return _masked(handler(self))

    def __repr_args__(self) -> Any:
        """repr and str mask what dumps mask (nested secret-named values, URL credentials)."""
        for name, value in super().__repr_args__():
            yield name, _masked(value)


def _strict_problems(model: type[BaseModel], data: Any, prefix: str) -> list[str]:
    """What is wrong with the number and boolean options of ``data`` (and its nested options)."""
    if not isinstance(data, Mapping):
        return []
    problems = []
    for name, value in data.items():
        info = model.model_fields.get(name) if isinstance(name, str) else None
        if info is None:
            continue
        option = f"{prefix}{name}"
        kind = _number_kind(info.annotation)
        if kind and isinstance(value, (bool, str)):
            numeric = isinstance(value, str) and _parses_as_number(value)
            fix = (
                f"write {option} = {value.strip()} without quotes"
                if numeric
                else f"e.g. {option} = {'5' if kind == 'whole number' else '0.5'}"
            )
            problems.append(f"option '{option}' must be a {kind}, not the {type(value).__name__} {value!r} ({fix})")
        elif _is_bool(info.annotation) and value is not None and not isinstance(value, bool):
            problems.append(
                f"option '{option}' must be true or false, not the {type(value).__name__} {value!r}"
            )
        elif isinstance(value, Mapping):
            nested = _nested_model(model, name)
            if nested is not None:
                problems += _strict_problems(nested, value, f"{option}.")
    return problems


def _is_bool(annotation: Any) -> bool:
    """Whether an option is a boolean (optional or not)."""
    args = [a for a in (typing.get_args(annotation) or (annotation,)) if a is not type(None)]
    return bool(args) and all(a is bool for a in args)


def _masked(value: Any) -> Any:
    """Dumped data with secret-named values and URL credentials masked, at any depth."""
    if isinstance(value, str):
        return mask_urls(value)
    if isinstance(value, Mapping):
        return {
            k: (MASK if isinstance(v, (str, bytes)) else _masked(v)) if SECRET_NAME.search(str(k)) and v else _masked(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(_masked(v) for v in value)
    return value


def public_dump(config: BaseModel) -> dict[str, Any]:
    """The config as plain data with every secret removed (what pickling and repr rely on).

    Secret fields (``SecretStr`` or a secret-like name) are left out, and so are secret-like keys
    of nested mappings: a pickled reranker re-reads its secrets from the environment. Nested
    option models (``passages``, ``cache``, ``fallback`` entries) become plain dicts.
    """
    secret = secret_fields(type(config))
    return {
        name: _masked(_without_secrets(value))
        for name, value in ((n, getattr(config, n)) for n in type(config).model_fields)
        if name not in secret and not _is_secret_value(value)
    }


def secret_fields(model: type[BaseModel]) -> set[str]:
    """The fields of ``model`` that hold secrets: typed ``SecretStr``/``SecretBytes``, or so named."""
    return {
        name
        for name, info in model.model_fields.items()
        if _secret_type(info.annotation) or SECRET_NAME.search(name) or SECRET_NAME.search(info.alias or "")
    }


def redact(value: Any, model: type[BaseModel] | None = None) -> Any:
    """``value`` with every secret in it replaced by :data:`MASK`, at any nesting.

    A secret is a ``SecretStr``/``SecretBytes`` value, or the value of a mapping key whose name
    looks like a key, token, secret or password, or of a secret field of ``model`` (and of the
    models its fields nest).
    """
    if _is_secret_value(value):
        return MASK
    if isinstance(value, BaseModel):
        model, value = type(value), {n: getattr(value, n) for n in type(value).model_fields}
    if isinstance(value, Mapping):
        secret = secret_fields(model) if model is not None else set()
        return {
            k: MASK
            if (str(k) in secret or SECRET_NAME.search(str(k))) and v is not None
            else redact(v, _nested_model(model, k))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [redact(v, model) for v in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def secret_values(value: Any, model: type[BaseModel] | None = None) -> set[str]:
    """Every secret in ``value`` as text (what :func:`redact` masks), to mask in free text too."""
    if _is_secret_value(value):
        value = value.get_secret_value()
        return {value.decode("utf-8", "replace") if isinstance(value, bytes) else value} - {""}
    if isinstance(value, BaseModel):
        model, value = type(value), {n: getattr(value, n) for n in type(value).model_fields}
    found: set[str] = set()
    if isinstance(value, Mapping):
        secret = secret_fields(model) if model is not None else set()
        for k, v in value.items():
            if str(k) in secret or SECRET_NAME.search(str(k)):
                found |= _all_text(v)
            else:
                found |= secret_values(v, _nested_model(model, k))
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            found |= secret_values(v, model)
    return found


def _all_text(value: Any) -> set[str]:
    """Every scalar under a secret name, as text."""
    if _is_secret_value(value):
        value = value.get_secret_value()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, Mapping):
        return set().union(*(_all_text(v) for v in value.values())) if value else set()
    if isinstance(value, (list, tuple, set, frozenset)):
        return set().union(*(_all_text(v) for v in value)) if value else set()
    text = "" if value is None or isinstance(value, bool) else str(value)
    return {text} if text.strip() else set()


def _nested_model(model: type[BaseModel] | None, key: Any) -> type[BaseModel] | None:
    """The pydantic model a field of ``model`` holds (directly, optionally, or in a list), if any."""
    info = model.model_fields.get(str(key)) if model is not None else None
    if info is None:
        return None
    stack = [info.annotation]
    while stack:
        annotation = stack.pop()
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return annotation
        stack.extend(typing.get_args(annotation))
    return None


def mask_secrets(text: str, secrets: set[str]) -> str:
    """``text`` with every occurrence of each secret (and of its repr) replaced by :data:`MASK`.

    Secrets under 3 characters are no real key and would garble every word they occur in (the
    options holding them are already redacted), so they are left in free text.
    """
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) < 3:
            continue
        for form in (secret, repr(secret)[1:-1]):
            if form:
                text = text.replace(form, MASK)
    return text


def validate_config(
    name: str, model: type[RerankerConfig], options: dict[str, Any]
) -> RerankerConfig:
    """Build ``model`` from ``options`` or raise a ConfigError that names each bad option.

    The message is built from redacted options only: no validator, field or model level, in the
    core or a plugin, can put a secret into it.
    """
    try:
        return model(**options)
    except ValidationError as exc:
        message = _describe(name, model, exc, options)
    # raised outside the except block: no __context__ holds pydantic's error (and the raw input)
    raise ConfigError(message)


def _describe(
    name: str, model: type[BaseModel], exc: ValidationError, options: Mapping[str, Any] | None = None
) -> str:
    import difflib  # only on the error path

    options = dict(options or {})
    secrets = secret_values(options, model)
    shown_options = redact(options, model)
    problems = []
    for err in exc.errors(include_url=False, include_input=True, include_context=False):
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or "(config)"
        if err["type"] == "extra_forbidden":
            owner, where = _owner(model, loc)  # a sub-option (passages.maxlength) is matched in its table
            names = sorted(owner.model_fields)
            last = str(loc[-1]) if loc else field
            hint = [a for a in names if a.lower() == last.lower()] or difflib.get_close_matches(last, names, n=1)
            suggestion = f" (did you mean '{where}{hint[0]}'?)" if hint else ""
            inside = f" in {where.rstrip('.')}" if where else ""
            problems.append(f"unknown option '{field}'{suggestion}; allowed{inside}: {', '.join(names)}")
        elif err["type"] == "missing":
            problems.append(f"option '{field}' is required")
        elif not loc:  # a model-level check: its message names the options; the input is not echoed
            problems.append(_message(err["msg"]))
        else:
            given = _shown_input(shown_options, loc, err.get("input"), model)
            shown = "" if given is _HIDDEN or "(got " in err["msg"] else f" (got {given!r})"
            problems.append(f"option '{field}': {_message(err['msg'])}{shown}")
    text = f"invalid config for reranker '{name}': " + "; ".join(problems)
    return mask_secrets(text, secrets | secret_values(redact_source(exc)))


_HIDDEN = object()


def _owner(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[type[BaseModel], str]:
    """The model whose table holds the option at ``loc`` and its dotted prefix ('' at top level)."""
    owner, prefix = model, ""
    for part in loc[:-1]:
        nested = _nested_model(owner, part)
        if nested is None:
            break
        owner, prefix = nested, f"{prefix}{part}."
    return owner, prefix


def _message(msg: str) -> str:
    """pydantic's message without its 'Value error, ' prefix (the validator's own words remain)."""
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _shown_input(shown_options: Mapping[str, Any], loc: tuple[Any, ...], given: Any, model: type[BaseModel]) -> Any:
    """What a field error shows as its input: the redacted option at ``loc`` (hidden if a secret)."""
    if any(SECRET_NAME.search(str(part)) for part in loc) or str(loc[0]) in secret_fields(model):
        return _HIDDEN
    value: Any = shown_options
    for part in loc:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, (list, tuple)) and isinstance(part, int) and 0 <= part < len(value):
            value = value[part]
        else:  # not a path through the options as given (a validator's own loc): redact what pydantic saw
            return _HIDDEN if _is_secret_value(given) else redact(given)
    return _HIDDEN if value == MASK else value


def redact_source(exc: ValidationError) -> list[Any]:
    """Secrets in the inputs pydantic recorded (a model-level error's input is every option)."""
    return [e.get("input") for e in exc.errors(include_url=False) if isinstance(e.get("input"), (Mapping, BaseModel))]


def _parses_as_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number_kind(annotation: Any) -> str | None:
    """'whole number' for an int option, 'number' for a float one (optional or not), else None."""
    args = [a for a in (typing.get_args(annotation) or (annotation,)) if a is not type(None)]
    if typing.get_origin(annotation) not in (None, typing.Union) and not isinstance(annotation, type):
        return None
    if args and all(a is int for a in args):
        return "whole number"
    if args and all(a in (int, float) for a in args):
        return "number"
    return None


def _is_secret_value(value: Any) -> bool:
    return isinstance(value, (SecretStr, SecretBytes))


def _secret_type(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, (SecretStr, SecretBytes)):
        return True
    return any(_secret_type(arg) for arg in typing.get_args(annotation))


def _without_secrets(value: Any) -> Any:
    """Nested mappings and models, as plain data without their secrets (public_dump's nested part)."""
    if isinstance(value, BaseModel):
        value = value.model_dump()  # python mode: SecretStr values stay SecretStr, and are dropped below
    if isinstance(value, Mapping):
        return {
            k: _without_secrets(v)
            for k, v in value.items()
            if not SECRET_NAME.search(str(k)) and not _is_secret_value(v)
        }
    if isinstance(value, (list, tuple)):
        return type(value)(_without_secrets(v) for v in value if not _is_secret_value(v))
    return value
