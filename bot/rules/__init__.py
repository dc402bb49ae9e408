"""Rules: loading and validating rule files, and matching items against them."""

from bot.rules.load import LoadedRules, load_rules
from bot.rules.ruleset import Actor, Rule, RuleSet, RuleVerdict

__all__ = ["Actor", "LoadedRules", "Rule", "RuleSet", "RuleVerdict", "load_rules"]
