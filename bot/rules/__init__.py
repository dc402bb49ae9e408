"""Rules: loading and validating rule files (`bot.rules.load`, which `radar run` needs only
when the rules cache misses), and matching items against them."""

from bot.rules.ruleset import Actor, Rule, RuleSet, RuleVerdict

__all__ = ["Actor", "Rule", "RuleSet", "RuleVerdict"]
