# Sourced by scripts/run and scripts/test: make .venv and install the project into it from the
# lock files (requirements/runtime.txt, or requirements/dev.txt for the tests), every package
# pinned and checked against its hash; requirements/README.md says how to update them.
# Re-installs only when pyproject.toml or the lock changed, so repeated runs start quickly.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
extras="${1:-}"
lock="requirements/${extras:-runtime}.txt"
py="${PYTHON:-python3}"
if [ ! -f "$lock" ]; then
    echo "no lock file $lock" >&2
    exit 1
fi
if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv
fi
stamp=".venv/.installed${extras:+-$extras}"
want="$(cat pyproject.toml "$lock" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --require-hashes -r "$lock"
    # The project itself, editable, with nothing else: its dependencies and its build backend
    # (hatchling) came from the lock.
    .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
    echo "$want" > "$stamp"
fi
export PATH="$root/.venv/bin:$PATH"
