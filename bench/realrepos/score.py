"""Score canary-lint runs against the hand labels; write the tables into README.md.

    python bench/realrepos/score.py before=OUT1 after=OUT2 [--write] [--unlabelled]

Each NAME=OUT is a directory written by run.py. Labels (labels.csv) are keyed by
(repo, head, path, rule, subject), subject being the finding's fingerprint, so they carry over between runs
whose line numbers differ; a finding whose fingerprint changed is matched on (repo, head, path, rule, line).

- A finding is labelled `true`, `low-value` or `false-alarm`. precision = (true + low-value) / findings.
- A `miss` row is a problem a run did not report. Its `line` may be a range `a-b` and its `rule` a list of
  alternatives `CLM101|CLM102` (prefixes allowed), `path` and `line` likewise (`a.py|b.py`, `3-9|12`): a
  later run finds it when it reports, at warning or error, a matching rule at one of those places.
  recall = found / (found + missed), found counting the distinct problems (path, line) of the true findings
  plus the misses a run finds.
- The gate counts what fails a release: findings whose report marks them as new (`"new": false` is an
  existing finding, kept out of the gate); a report without that field puts every finding in the gate.
- migrations_ops.csv lists every operation of the migrations corpus's new revisions, v1-breaking or not;
  recall there is breaking operations reported over breaking operations. A row whose `severity` is `error`
  (a break the rule pages call an error: a drop or rename v1 still maps, a NOT NULL v1 does not fill, a
  constraint v1 will violate) counts as reported only at error; a warning that says v1 is safe is a miss.
  Operations that share a line (a loop) carry a `needle`, the table (or table.column) the finding's message
  must name.

--unlabelled lists the findings no label covers (with their message), to label them.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import corpus  # noqa: E402

GOOD = {"true", "low-value"}
VERDICTS = GOOD | {"false-alarm", "miss"}
MARK_START, MARK_END = "<!-- score:start -->", "<!-- score:end -->"


@dataclass
class Label:
    row: dict

    def __getattr__(self, name: str) -> str:
        try:
            return self.row[name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    def places(self) -> list[tuple[str, int, int]]:
        """(path, first line, last line) alternatives: `path` and `line` may list several, `|`-separated."""
        spans = []
        for path, span in zip(self.row["path"].split("|"), self.row["line"].split("|")):
            a, _, b = span.partition("-")
            spans.append((path, int(a), int(b or a)))
        return spans

    def rule_matches(self, rule: str) -> bool:
        return any(rule.startswith(alt) for alt in self.row["rule"].split("|") if alt)

    def covers(self, f: dict) -> bool:
        wanted = ("error",) if self.row.get("severity") == "error" else ("warning", "error")
        needle = self.row.get("needle")
        if needle and not re.search(rf"\b{re.escape(needle)}\b", f.get("message", "")):
            return False
        return f["severity"] in wanted and self.rule_matches(f["rule"]) and any(
            f["path"] == path and lo <= f["line"] <= hi for path, lo, hi in self.places())


def read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return [r for r in csv.DictReader(fh) if r.get("repo") and not r["repo"].startswith("#")]


def load_labels() -> tuple[dict, dict, dict]:
    by_fp, by_line, misses = {}, {}, defaultdict(list)
    for row in read_csv(HERE / "labels.csv"):
        if row["verdict"] not in VERDICTS:
            raise SystemExit(f"labels.csv: unknown verdict {row['verdict']!r} in {row}")
        lab = Label(row)
        if row["verdict"] == "miss":
            misses[(row["repo"], row["head"])].append(lab)
            continue
        by_fp[(row["repo"], row["head"], row["path"], row["rule"], row["subject"])] = lab
        by_line[(row["repo"], row["head"], row["path"], row["rule"], row["line"])] = lab
    return by_fp, by_line, misses


@dataclass
class Tally:
    findings: int = 0
    good: int = 0
    gate: int = 0
    gate_good: int = 0
    existing: int = 0
    in_v1: int = 0
    unlabelled: int = 0
    found: int = 0
    missed: int = 0
    verdicts: Counter = field(default_factory=Counter)
    classes: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=lambda: defaultdict(list))
    wall: float = 0.0
    pairs: int = 0

    def add(self, other: "Tally") -> None:
        for name in ("findings", "good", "gate", "gate_good", "existing", "in_v1", "unlabelled", "found", "missed",
                     "wall", "pairs"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.verdicts.update(other.verdicts)
        self.classes.update(other.classes)
        for key, places in other.examples.items():
            self.examples[key].extend(places)

    def note(self, verdict: str, cls: str, pair: corpus.Pair, path: str, line) -> None:
        key = (verdict, cls or "-")
        self.classes[key] += 1
        self.examples[key].append(f"{pair.repo} {pair.head} {path}:{line}")

    @staticmethod
    def ratio(a: int, b: int) -> str:
        return f"{a / b:.2f}" if b else "–"

    def precision(self) -> str:
        return self.ratio(self.good, self.findings - self.unlabelled)

    def gate_precision(self) -> str:
        return self.ratio(self.gate_good, self.gate)

    def recall(self) -> str:
        return self.ratio(self.found, self.found + self.missed)


def report_of(out: Path, pair: corpus.Pair) -> dict | None:
    path = out / pair.repo / f"{pair.key}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def score_pair(out: Path, pair: corpus.Pair, labels, unlabelled: list) -> Tally:
    by_fp, by_line, misses = labels
    t = Tally(pairs=1)
    report = report_of(out, pair)
    if report is None:
        unlabelled.append((pair, {"path": "-", "line": 0, "rule": "RUN", "message": "no report"}))
        return t
    problems = set()
    pair_misses = misses.get((pair.repo, pair.head), [])
    for f in report["findings"]:
        key = (pair.repo, pair.head, f["path"], f["rule"])
        lab = by_fp.get((*key, f["fingerprint"])) or by_line.get((*key, str(f["line"])))
        verdict = lab.verdict if lab else None
        if verdict is None and any(m.covers(f) for m in pair_misses):
            verdict = "true"  # a labelled miss this run now reports
        t.findings += 1
        new = f.get("new", True) is not False
        t.existing += not new
        if verdict is None:
            t.unlabelled += 1
            unlabelled.append((pair, f))
            continue
        t.verdicts[verdict] += 1
        severity_note = lab and lab.row.get("class", "").startswith(("downgraded", "severity"))
        if verdict != "true" or (lab and lab.row.get("class") and not (severity_note and f["severity"] == "error")):
            t.note(verdict, lab.row.get("class") if lab else "", pair, f["path"], f["line"])
        t.in_v1 += bool(lab and lab.row.get("v1") == "existing")
        good = verdict in GOOD
        t.good += good
        if new:
            t.gate += 1
            t.gate_good += good
        if verdict == "true" and not any(m.covers(f) for m in pair_misses):
            problems.add((f["path"], f["line"]))
    found_misses = [m for m in pair_misses if any(m.covers(f) for f in report["findings"])]
    t.found = len(problems) + len(found_misses)
    t.missed = len(pair_misses) - len(found_misses)
    t.verdicts["miss"] += t.missed
    for m in pair_misses:
        if m not in found_misses:
            t.note("miss", m.row.get("class", ""), pair, m.row["path"].split("|")[0], m.row["line"].split("|")[0])
    return t


def table(runs: dict[str, Path], labels, corpus_name: str, unlabelled: list) -> tuple[str, dict]:
    with_recall = corpus_name == "release"
    head = ["repo", "pairs", "run", "findings", "already in v1", "marked existing", "true", "low-value",
            "false alarms", "unlabelled", "precision", "gate precision"]
    head += ["found", "missed", "recall"] if with_recall else []
    head += ["wall"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    totals = {}
    repos = sorted({p.repo for p in corpus.pairs(corpus_name)}, key=str.lower)
    for name, out in runs.items():
        timings = {(r["repo"], r["head"]): float(r["wall_s"]) for r in read_csv(out / "timings.csv")}
        total = Tally()
        per_repo = {}
        for repo in repos:
            t = Tally()
            for pair in corpus.pairs(corpus_name, [repo]):
                pt = score_pair(out, pair, labels, unlabelled if name == list(runs)[-1] else [])
                pt.wall = timings.get((pair.repo, pair.head), 0.0)
                t.add(pt)
            per_repo[repo] = t
            total.add(t)
        per_repo["**total**"] = total
        totals[name] = per_repo
    for repo in [*repos, "**total**"]:
        for name in runs:
            t = totals[name][repo]
            v = t.verdicts
            cells = [repo, t.pairs, name, t.findings, t.in_v1, t.existing, v["true"], v["low-value"], v["false-alarm"],
                     t.unlabelled, t.precision(), t.gate_precision()]
            cells += [t.found, t.missed, t.recall()] if with_recall else []
            cells += [f"{t.wall:.1f} s"]
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines), totals


APP_FAMILIES = ("CLS", "CLT")


def app_table(runs: dict[str, Path], labels) -> str:
    """Issue 12's application corpus: state and telemetry problems of each application at its newest release."""
    by_fp, by_line, misses = labels
    lines = ["| application | head | run | findings | true | low-value | false alarms | unlabelled | found | missed | "
             "precision | recall |", "|" + " --- |" * 12]
    totals = {name: Counter() for name in runs}
    for repo in sorted({p.repo for p in corpus.pairs("release")}, key=str.lower):
        pair = corpus.pairs("release", [repo])[-1]
        app_misses = [m for m in misses.get((repo, pair.head), [])
                      if all(alt.startswith(APP_FAMILIES) for alt in m.row["rule"].split("|"))]
        for name, out in runs.items():
            report = report_of(out, pair) or {"findings": []}
            c = Counter()
            problems = set()
            found = [m for m in app_misses if any(m.covers(f) for f in report["findings"])]
            for f in report["findings"]:
                if not f["rule"].startswith(APP_FAMILIES):
                    continue
                key = (repo, pair.head, f["path"], f["rule"])
                lab = by_fp.get((*key, f["fingerprint"])) or by_line.get((*key, str(f["line"])))
                verdict = lab.verdict if lab else ("true" if any(m.covers(f) for m in app_misses) else "unlabelled")
                c["findings"] += 1
                c[verdict] += 1
                if verdict == "true" and not any(m.covers(f) for m in app_misses):
                    problems.add((f["path"], f["line"]))
            c["found"] = len(problems) + len(found)
            c["missed"] = len(app_misses) - len(found)
            totals[name].update(c)
            lines.append(_app_row(repo, pair.head, name, c))
    for name in runs:
        lines.append(_app_row("**total**", "", name, totals[name]))
    return "\n".join(lines)


def _app_row(repo: str, head: str, name: str, c: Counter) -> str:
    labelled = c["findings"] - c["unlabelled"]
    return (f"| {repo} | {head} | {name} | {c['findings']} | {c['true']} | {c['low-value']} | {c['false-alarm']} | "
            f"{c['unlabelled']} | {c['found']} | {c['missed']} | {Tally.ratio(c['true'] + c['low-value'], labelled)} | "
            f"{Tally.ratio(c['found'], c['found'] + c['missed'])} |")


def classes(totals: dict) -> str:
    """Counts of the false-alarm, low-value, miss (and flagged true) classes in each run, with examples."""
    runs = list(totals)
    keys = sorted({k for name in runs for k in totals[name]["**total**"].classes},
                  key=lambda k: (k[0], -max(totals[name]["**total**"].classes[k] for name in runs)))
    lines = ["| verdict | class | " + " | ".join(runs) + " | examples |", "|" + " --- |" * (len(runs) + 3)]
    for key in keys:
        counts = [totals[name]["**total**"].classes[key] for name in runs]
        places = next((totals[name]["**total**"].examples[key] for name in reversed(runs)
                       if totals[name]["**total**"].examples[key]), [])
        distinct = list(dict.fromkeys(places))[:3]
        lines.append(f"| {key[0]} | {key[1]} | " + " | ".join(str(c) for c in counts) + f" | {'; '.join(distinct)} |")
    return "\n".join(lines)


def ops_table(runs: dict[str, Path]) -> str:
    """Recall over the labelled operations: per repository, and per way the operation is reached."""
    rows = [r for r in read_csv(HERE / "migrations_ops.csv")]
    if not rows:
        return "(no operations labelled yet)"
    pairs = {(p.repo, p.head): p for p in corpus.PAIRS}
    hits = {name: Counter() for name in runs}  # (repo) -> breaking operations reported
    missed = {name: Counter() for name in runs}  # (class) -> missed, and (class, "warning") -> only a warning
    for name, out in runs.items():
        reports = {key: report_of(out, pair) for key, pair in pairs.items()}
        for r in rows:
            report = reports.get((r["repo"], r["head"]))
            if r["breaking"] != "yes" or report is None:
                continue
            if any(Label(r).covers(f) for f in report["findings"]):
                hits[name][r["repo"]] += 1
                continue
            missed[name][r["class"]] += 1
            weaker = Label({**r, "severity": ""})
            missed[name][(r["class"], "warning")] += any(weaker.covers(f) for f in report["findings"])
    lines = ["| repo | operations | v1-breaking | " + " | ".join(f"{n}: reported | {n}: recall" for n in runs) + " |",
             "|" + " --- |" * (3 + 2 * len(runs))]
    for repo in [*sorted({r["repo"] for r in rows}), "**total**"]:
        sel = [r for r in rows if repo in (r["repo"], "**total**")]
        breaking = sum(r["breaking"] == "yes" for r in sel)
        cells = []
        for name in runs:
            h = sum(hits[name].values()) if repo == "**total**" else hits[name][repo]
            cells += [str(h), Tally.ratio(h, breaking)]
        lines.append(f"| {repo} | {len(sel)} | {breaking} | " + " | ".join(cells) + " |")
    by_class = Counter(r["class"] for r in rows if r["breaking"] == "yes")
    lines += ["", "| how the operation is reached | v1-breaking | "
              + " | ".join(f"{n}: missed (of which only a warning)" for n in runs) + " |",
              "|" + " --- |" * (2 + len(runs))]
    for cls, n in by_class.most_common():
        lines.append(f"| {cls} | {n} | " + " | ".join(
            f"{missed[name][cls]} ({missed[name][(cls, 'warning')]})" for name in runs) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="NAME=OUT directories written by run.py")
    parser.add_argument("--write", action="store_true", help="write the tables into README.md")
    parser.add_argument("--unlabelled", action="store_true", help="list findings no label covers")
    args = parser.parse_args(argv)
    runs = {}
    for spec in args.runs:
        name, sep, out = spec.partition("=")
        if not sep:
            parser.error(f"expected NAME=OUT, got {spec!r}")
        runs[name] = Path(out)
    labels = load_labels()
    unlabelled: list = []
    parts = []
    for corpus_name, title in (("release", "Release pairs (issue 11)"), ("migrations", "Migrations corpus (issue 12)")):
        text, totals = table(runs, labels, corpus_name, unlabelled)
        parts += [f"### {title}", "", text, ""]
        if corpus_name == "migrations":
            parts += ["Operation by operation:", "", ops_table(runs), ""]
        else:
            parts += ["State and telemetry problems of each application at its newest release (issue 12's application",
                      "corpus; every problem counted once, not once per pair):", "", app_table(runs, labels), ""]
        parts += ["Classes of the findings that were not plainly right, and of the misses (a flagged `true` is",
                  "right but reported below its severity or for a wrong reason):", "", classes(totals), ""]
    body = "\n".join(parts)
    print(body)
    if args.unlabelled:
        for pair, f in unlabelled:
            print(f"UNLABELLED {pair.repo},{pair.base},{pair.head},{f['path']},{f['line']},{f['rule']},"
                  f"{f.get('fingerprint', '')}  [{f.get('severity', '')}] {f.get('message', '')[:300]}")
    if args.write:
        readme = HERE / "README.md"
        text = readme.read_text() if readme.is_file() else ""
        block = f"{MARK_START}\n{body}\n{MARK_END}"
        if MARK_START in text:
            text = re.sub(re.escape(MARK_START) + ".*?" + re.escape(MARK_END), lambda _: block, text, flags=re.S)
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
        readme.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
