"""check --prove on real release pairs (bench/prove/README.md): clones in /tmp/rr/<name> from the fetch mirrors
(getredash/redash, openstack/neutron, openstack/glance); PostgreSQL and MariaDB started as the proof harness
starts them; one JSON line per finding to /tmp/realprove.jsonl."""
import json
import subprocess
import sys
import time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "proof"))
from proof_servers import Postgres, MariaDB
PAIRS = [("redash", "v10.1.0", "v25.1.0"), ("neutron", "7.0.0", "8.0.0"), ("neutron", "8.0.0", "9.0.0"), ("glance", "14.0.0", "15.0.0")]
servers = {"postgresql": Postgres().start(), "mysql": MariaDB().start()}
out = open("/tmp/realprove.jsonl", "w")
try:
    for repo, base, head in PAIRS:
        tree = f"/tmp/rr/{repo}"
        subprocess.run(["git", "checkout", "-q", "-f", head], cwd=tree, check=True)
        for d, srv in servers.items():
            url = srv.url().replace("+psycopg", "").replace("+pymysql", "")
            if d == "mysql": url = url.rsplit("/", 1)[0] + "/"
            t = time.time()
            r = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "canary_lint", "check", "--base", base, "--select", "CLM", "--format", "json", "--prove", url],
                               cwd=tree, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
            el = time.time() - t
            try:
                fs = json.loads(r.stdout)["findings"]
            except Exception:
                print(repo, d, r.returncode, r.stderr[-2000:]); continue
            note = [l for l in r.stderr.splitlines() if "--prove" in l]
            print(repo, base, head, d, f"{el:.1f}s", note)
            for f in fs:
                if f.get("proof"):
                    out.write(json.dumps({"repo": repo, "base": base, "head": head, "dialect": d, "path": f["path"], "line": f["line"], "rule": f["rule"], "new": f["new"], "proof": f["proof"], "tail": f["message"].rsplit("; ", 1)[-1][:300]}) + "\n")
finally:
    for s in servers.values(): s.stop()
