"""`rollout render`, `rollout export` and `rollout validate`: the work behind the CLI wiring in rollout/cli.py.

Nothing is written unless every object validates against its CRD (an object that does not is an internal
error: exit 2 naming the object, the key path and the rule).
"""

from __future__ import annotations

from pathlib import Path

from canary_lint.rollout.k8s import K8sError


def _check(objs: list[dict]) -> None:
    from canary_lint.rollout.k8s.validate import validate

    bad = [r for r in (validate(o) for o in objs) if not r.ok]
    if bad:
        raise K8sError("a generated object does not validate against its CRD (a canary-lint bug):\n"
                       + "\n".join(r.describe() for r in bad))


def _header(plan, what: str) -> str:
    return (f"{what} from {plan.path.name} (service {plan.service}) by canary-lint; try it with\n"
            "kubectl apply --server-side --dry-run=server -f <this file> before applying it")


def render(plan, target: str, out: Path, overrides: dict) -> list[Path]:
    from canary_lint.rollout.k8s import render as R

    from canary_lint.rollout.k8s.cluster import cluster

    c = cluster(plan, **overrides)
    layout = R.steps(plan, c, target)
    _check([o for _, _, objs in layout for o in objs])
    return R.write(out, layout, _header(plan, f"{target} routing"))


def export(plan, target: str, out: Path | None, overrides: dict, options: dict) -> tuple[str, list[Path]]:
    """(YAML of every object, files written when `out` is given)."""
    from canary_lint.rollout.k8s import render as R
    from canary_lint.rollout.k8s.cluster import cluster


    c = cluster(plan, **overrides)
    if target == "argo-rollouts":
        from canary_lint.rollout.k8s.argo import export as build
    elif target == "flagger":
        from canary_lint.rollout.k8s.flagger import export as build
    else:
        raise K8sError(f"unknown export target {target!r}; one of: argo-rollouts, flagger")
    documents = build(plan, c, **options)  # [(object, comment)]
    _check([o for o, _ in documents])
    header = _header(plan, f"{target} export")
    text = "".join(R.dump([o], f"{header}\n{note}" if note else header) + "---\n" for o, note in documents)
    written = []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for obj, note in documents:
            path = out / R.file_name(obj)
            path.write_text(R.dump([obj], f"{header}\n{note}" if note else header), encoding="utf-8")
            written.append(path)
    return text.removesuffix("---\n"), written


def validate_files(paths: list[str]) -> tuple[list, list[str]]:
    """Results for every object of the YAML files (multi-document), and files that could not be read."""
    from canary_lint import yamlio
    from canary_lint.rollout.k8s.validate import validate

    limits = yamlio.Limits(max_bytes=8 * 1024 * 1024, max_nodes=2_000_000, max_depth=64)
    results, unreadable = [], []
    for p in paths:
        try:
            text = Path(p).read_text(encoding="utf-8")
            docs = _load_all(text, limits)
        except (OSError, UnicodeDecodeError, yamlio.YamlError) as exc:
            unreadable.append(f"{p}: {getattr(exc, 'message', None) or exc}")
            continue
        for doc in docs:
            if doc is None:
                continue
            items = doc.get("items") if isinstance(doc, dict) and doc.get("kind") == "List" else [doc]
            for obj in items or ():
                results.append((p, validate(obj)))
    return results, unreadable


def _load_all(text: str, limits) -> list:
    """Every document of a YAML text as plain values, within `limits` (the one YAML reader's node checks)."""
    import yaml

    from canary_lint import yamlio

    out = []
    for root in yamlio.compose_all(text, limits):
        loader = yamlio._loader()("")
        try:
            out.append(loader.construct_document(root))
        except (yaml.YAMLError, ValueError, OverflowError, TypeError) as exc:
            raise yamlio.YamlError(f"invalid YAML value: {exc}", root.start_mark.line + 1) from None
        finally:
            loader.dispose()
    return out
