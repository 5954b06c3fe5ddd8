"""Pydantic configuration models shared by every reranker.

Each registered reranker has a config model deriving from :class:`RerankerConfig`; unknown keys are
rejected and secrets are :class:`pydantic.SecretStr`, so a config can be printed, logged or dumped
without leaking a key. :func:`validate_config` turns pydantic's errors into one readable
:class:`~rerankit.ConfigError`.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._errors import ConfigError

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


def public_dump(config: BaseModel) -> dict[str, Any]:
    """The config as plain data with every secret removed (what pickling and repr rely on);
    nested option models (``passages``) become dicts."""
    from pydantic import SecretStr

    return {
        name: value.model_dump() if isinstance(value, BaseModel) else value
        for name, value in ((n, getattr(config, n)) for n in type(config).model_fields)
        if not isinstance(value, SecretStr)
    }


def validate_config(
    name: str, model: type[RerankerConfig], options: dict[str, Any]
) -> RerankerConfig:
    """Build ``model`` from ``options`` or raise a ConfigError that names each bad option."""
    try:
        return model(**options)
    except ValidationError as exc:
        raise ConfigError(_describe(name, model, exc)) from None


def _describe(name: str, model: type[BaseModel], exc: ValidationError) -> str:
    import difflib  # only on the error path

    allowed = sorted(model.model_fields)
    problems = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "(config)"
        if err["type"] == "extra_forbidden":
            hint = [a for a in allowed if a.lower() == field.lower()] or difflib.get_close_matches(
                field, allowed, n=1
            )
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            problems.append(
                f"unknown option '{field}'{suggestion}; allowed: {', '.join(allowed)}"
            )
        elif err["type"] == "missing":
            problems.append(f"option '{field}' is required")
        else:
            given = err.get("input")
            shown = "" if _is_secret_field(model, field) else f" (got {given!r})"
            problems.append(f"option '{field}': {err['msg']}{shown}")
    return f"invalid config for reranker '{name}': " + "; ".join(problems)


def _is_secret_field(model: type[BaseModel], field: str) -> bool:
    info = model.model_fields.get(field)
    return info is not None and "Secret" in str(info.annotation)
