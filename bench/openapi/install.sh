#!/bin/sh
# Install the anchors and the GitHub REST API description pair into bench/.work/openapi (git-ignored).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
WORK="$HERE/../.work/openapi"
OLD=${OCTOKIT_OLD:-21.0.0}
NEW=${OCTOKIT_NEW:-23.0.2}
mkdir -p "$WORK/tools" "$WORK/old" "$WORK/new"
cd "$WORK/tools"
cat > package.json <<JSON
{"name": "canary-lint-openapi-bench", "private": true,
 "dependencies": {"@useoptic/optic": "*", "openapi-diff": "*"},
 "overrides": {"ajv": "8.17.1"}}
JSON
npm install --no-audit --no-fund --loglevel=error
for pair in "old:$OLD" "new:$NEW"; do
  dir=${pair%%:*}; ver=${pair#*:}
  if [ ! -f "$WORK/$dir/package/package.json" ]; then
    (cd "$WORK/$dir" && npm pack "@octokit/openapi@$ver" --silent >/dev/null && tar xzf octokit-openapi-*.tgz)
  fi
done
ls -la "$WORK/old/package/generated" | head -20
