#!/usr/bin/env bash
# Builds the Python binding (python/, PyPI name `portieris`) with maturin into a virtualenv and
# runs its pytest suite: the committed Notary vectors, the example policies and reviews, and
# the live test rig for verify_image (started here, as scripts/test.sh does).
#
#   scripts/python-test.sh [pytest args...]
#
# Env: PYTHON (default python3), PORTIERIS_PY_VENV (default target/python-venv). In CI
# (CI=true) the venv is still used when `python3 -m venv` works; otherwise pip --user.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
venv=${PORTIERIS_PY_VENV:-target/python-venv}

bash scripts/rig.sh start
eval "$(bash scripts/rig.sh env)"
export PORTIERIS_RIG_DIR

if [ -x "$venv/bin/python" ] || "$python" -m venv "$venv" >/dev/null 2>&1; then
  py="$venv/bin/python"
  pip_user=()
else
  echo "python-test: no venv module; installing with pip --user" >&2
  py="$python"
  pip_user=(--user)
fi
"$py" -m pip install --quiet --disable-pip-version-check "${pip_user[@]}" "maturin>=1.5,<2" pytest pyyaml

# `maturin develop` builds the dev profile into the workspace target/ (shared with cargo), so
# an incremental build after `cargo build` reuses every dependency. Without a venv it cannot
# install, so build a wheel and pip-install it instead.
start=$(date +%s)
if [ ${#pip_user[@]} -eq 0 ]; then
  VIRTUAL_ENV="$(cd "$venv" && pwd)" PATH="$venv/bin:$PATH" \
    nice -n 5 "$py" -m maturin develop --manifest-path python/Cargo.toml
else
  rm -rf target/python-wheels
  nice -n 5 "$py" -m maturin build --manifest-path python/Cargo.toml --profile dev --out target/python-wheels
  "$py" -m pip install --quiet --force-reinstall "${pip_user[@]}" target/python-wheels/*.whl
fi
echo "python-test: binding built in $(( $(date +%s) - start ))s"

# pytest exits 5 when it collected no test: that is a failure here too.
set +e
"$py" -m pytest python/tests "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "python-test: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
