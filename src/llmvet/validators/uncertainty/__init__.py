"""The `uncertainty` validator: explicit uncertainty statement, hedging density, refusals."""

from llmvet.validators.uncertainty.detect import Analysis, Options, analyse
from llmvet.validators.uncertainty.validator import UncertaintyConfig, UncertaintyValidator

__all__ = ["Analysis", "Options", "UncertaintyConfig", "UncertaintyValidator", "analyse"]
