"""`radar rules test`: every rule's own examples must behave as the rule file says."""

from __future__ import annotations

from dataclasses import dataclass

from bot.models import Item
from bot.rules.ruleset import Rule, RuleSet


@dataclass(frozen=True, slots=True)
class ExampleFailure:
    rule: Rule
    text: str
    expected: bool
    detail: str

    def __str__(self) -> str:
        want = "should match but did not" if self.expected else "should not match but did"
        return f"{self.rule.path}: rule {self.rule.id!r}: example {want}\n    - {self.text}\n      {self.detail}"


def run_examples(ruleset: RuleSet) -> tuple[int, list[ExampleFailure]]:
    """Check every example of every rule; return the number checked and the failures."""
    failures: list[ExampleFailure] = []
    checked = 0
    for rule in ruleset.rules:
        for text, expected in [
            *((t, True) for t in rule.examples_match),
            *((t, False) for t in rule.examples_no_match),
        ]:
            checked += 1
            item = Item(feed_url="", guid="", title=text)
            verdict = next(v for v in ruleset.explain(item) if v.rule.id == rule.id)
            if verdict.matched == expected:
                continue
            if expected:
                detail = f"why: {verdict.reason}"
            else:
                words = ", ".join(f"{h.text!r}" for h in verdict.hits) or "(nothing)"
                detail = f"matched on: {words}"
            failures.append(ExampleFailure(rule, text, expected, detail))
    return checked, failures
