"""Model factory: AutoGen chat clients per role, from component configs, with secrets kept out of output."""

from rolecall.models._factory import (
    REDACTED,
    ROLES,
    ModelConfigError,
    ModelFactory,
    expand_environment,
    redact,
    redact_text,
)

__all__ = ["REDACTED", "ROLES", "ModelConfigError", "ModelFactory", "expand_environment", "redact", "redact_text"]
