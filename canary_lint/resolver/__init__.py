"""What an expression can be, read statically: the one value resolver of every analyzer.

stdlib `ast`, nothing imported or executed. An `Evaluator` walks statements and expressions of one module
with concrete values (str, int, float, bool, None, lists, tuples, dicts) and follows:

- assignments, augmented assignments (`+=` on strings and lists) and `append`/`extend`/`insert` on lists;
- `for` loops and comprehensions over known lists (filters that cannot be decided keep the item: it may be
  one the loop acts on), tuples unpacked in `for`;
- helper functions of the same module and of other modules of the checked tree (`Project`), with their
  arguments bound and the value of their `return`;
- module constants and class attributes, also imported from other modules of the tree;
- f-strings, `%`, `.format`, `.join`, concatenation, both branches of a conditional (`OneOf`).

What cannot be known is `UNKNOWN`; the walker remembers where an unknown name came from (`origin`), so a
reader can say "tables computed by get_data() at line 121" instead of guessing. Every evaluation runs on a
`Budget` (steps, calls, time, string and list size); hitting it raises `Bound`, which names the bound.
"""

from __future__ import annotations

from canary_lint.resolver.values import (ORIGIN, SCOPE, UNKNOWN, Bound, Budget, Marker, OneOf, dotted, known,
                                         literal)
from canary_lint.resolver.modules import ModuleScope, Project
from canary_lint.resolver.evaluator import Evaluator

__all__ = ["ORIGIN", "SCOPE", "UNKNOWN", "Bound", "Budget", "Evaluator", "Marker", "ModuleScope", "OneOf", "Project",
           "dotted", "known", "literal"]
