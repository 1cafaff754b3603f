#!/usr/bin/env bash
# Prints the path of a Python with python-tuf (the TUF reference implementation, from PyPI),
# installed once per machine and version into a virtualenv under
# ${XDG_CACHE_HOME:-~/.cache}/portieris/tuf-<version>/. webhook/tests/sigstore_tuf.rs writes
# real TUF repositories with it (webhook/tests/tuf/make_repo.py).
#
#   scripts/tuf-py.sh              print the path (installing if needed)
#   scripts/tuf-py.sh ARGS...      run that Python with ARGS
set -euo pipefail
version=${TUF_VERSION:-7.0.1}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/portieris/tuf-$version
py=$cache/venv/bin/python
if [[ ! -x $py ]] || ! "$py" -c 'import tuf.api.metadata, securesystemslib.signer' 2>/dev/null; then
	mkdir -p "$cache"
	# Built in a scratch folder and moved, so an interrupted install is never taken for a
	# finished one.
	tmp=$(mktemp -d "$cache/build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	python3 -m venv "$tmp/venv" >&2
	"$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
		"tuf==$version" "securesystemslib[crypto]" >&2
	rm -rf "$cache/venv"
	mv "$tmp/venv" "$cache/venv"
fi
if [[ $# -eq 0 ]]; then
	echo "$py"
else
	exec "$py" "$@"
fi
