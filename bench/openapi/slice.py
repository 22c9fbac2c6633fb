#!/usr/bin/env python3
"""Cut a small spec pair out of the two GitHub descriptions: the paths matching the given substrings (in
either version) plus every component they reference, transitively. Same selection for both versions, so
a path that exists in only one of them shows up as an addition or a removal.

    python3 bench/openapi/slice.py OLD.json NEW.json OUT_DIR rulesets code-security/configurations copilot
    python3 bench/openapi/slice.py --same-info-version OLD.json NEW.json OUT_DIR ...

`--same-info-version` writes the same `info.version` into both files: @octokit/openapi stamps its package
version there, and optic skips every breaking-change check when that version has a major bump.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def refs(node, out: set) -> None:
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            r = cur.get("$ref")
            if isinstance(r, str) and r.startswith("#/components/"):
                out.add(r)
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)


def cut(spec: dict, keep: set) -> dict:
    paths = {p: v for p, v in spec["paths"].items() if p in keep}
    need: set = set()
    refs(paths, need)
    done: set = set()
    components: dict = {}
    while need - done:
        r = (need - done).pop()
        done.add(r)
        _, _, kind, name = r.split("/", 3)
        target = spec.get("components", {}).get(kind, {}).get(name.replace("~1", "/").replace("~0", "~"))
        if target is None:
            continue
        components.setdefault(kind, {})[name] = target
        refs(target, need)
    out = {k: v for k, v in spec.items() if k not in ("paths", "components", "webhooks") and not k.startswith("x-")}
    out["paths"] = paths
    out["components"] = {**{k: v for k, v in spec.get("components", {}).items() if k == "securitySchemes"},
                         **components}
    return out


def main() -> int:
    argv = sys.argv[1:]
    same = "--same-info-version" in argv
    argv = [a for a in argv if a != "--same-info-version"]
    old_p, new_p, out_dir, *needles = argv
    old, new = json.loads(Path(old_p).read_text()), json.loads(Path(new_p).read_text())
    keep = {p for spec in (old, new) for p in spec["paths"] if any(n in p for n in needles)}
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    if same:
        new["info"]["version"] = old["info"]["version"]
    for name, spec in (("old.json", old), ("new.json", new)):
        target = Path(out_dir) / name
        target.write_text(json.dumps(cut(spec, keep), indent=2))
        print(f"{target}: {target.stat().st_size / 1024:.0f} KB, {len(cut(spec, keep)['paths'])} paths")
    return 0


if __name__ == "__main__":
    sys.exit(main())
