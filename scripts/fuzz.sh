#!/usr/bin/env bash
# Builds every fuzz target in fuzz/ and runs each for SECONDS_PER_TARGET (default 30) over
# its committed corpus (fuzz/corpus/<target>, read only) plus libFuzzer's own mutations, with
# a fixed seed per target. A crash, a failed invariant, a leak, an input slower than 10 s or
# one using more than 2 GiB fails the run: the reproducer stays in fuzz/artifacts/<target>/
# and the script prints the command that replays it, then exits non-zero.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
#
# Environment:
#   FUZZ_TARGETS    space-separated subset of targets (default: all of `cargo fuzz list`)
#   FUZZ_SANITIZER  address (default) or none (faster, still catches panics and assertions)
#   FUZZ_SEED       base of the per-target seeds (default 20251127; target i gets base + i)
#
# Works on stable Rust: cargo-fuzz passes -Z flags to rustc, which stable accepts with
# RUSTC_BOOTSTRAP=1 (set here). See docs/fuzzing.md for long campaigns.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
sanitizer="${FUZZ_SANITIZER:-address}"
seed_base="${FUZZ_SEED:-20251127}"
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

targets="${FUZZ_TARGETS:-$(cd fuzz && cargo fuzz list)}"
dict_for() {
  case "$1" in
    reference | pattern) echo fuzz/dict/reference.dict ;;
    www_authenticate) echo fuzz/dict/www_authenticate.dict ;;
    openpgp) echo fuzz/dict/openpgp.dict ;;
    checkpoint) echo fuzz/dict/checkpoint.dict ;;
    condition) echo fuzz/dict/condition.dict ;;
    notation_policy) echo fuzz/dict/notation.dict ;;
    *) echo fuzz/dict/json.dict ;;
  esac
}
extra_flags() {
  case "$1" in
    # The harness keeps the signatures it made across inputs (signing would otherwise cost
    # more than verifying), which libFuzzer's leak check takes for a leak and re-runs.
    notary_verify) echo -detect_leaks=0 ;;
  esac
}

echo "fuzz: building $(echo "$targets" | wc -w) targets (sanitizer: $sanitizer)"
# Optimised, with debug assertions and overflow checks (cargo-fuzz's default profile).
(cd fuzz && cargo fuzz build --sanitizer "$sanitizer")

failed=()
index=0
for target in $targets; do
  index=$((index + 1))
  seed=$((seed_base + index))
  grown="fuzz/corpus-grown/$target"
  artifacts="fuzz/artifacts/$target"
  log="fuzz/artifacts/$target.log"
  mkdir -p "$grown" "$artifacts" "fuzz/corpus/$target"
  before="$(ls -A "$artifacts")"
  read -r -a extra <<<"$(extra_flags "$target")"
  echo "fuzz: $target for ${seconds}s (seed $seed)"
  # New inputs go to the first directory (ignored by git), never into the committed corpus.
  if (cd fuzz && cargo fuzz run --sanitizer "$sanitizer" "$target" \
    "corpus-grown/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -seed="$seed" -dict="../$(dict_for "$target")" \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "${extra[@]}") >"$log" 2>&1; then
    grep -E '^#[0-9]+[[:space:]]+DONE|^stat::number_of_executed_units|^stat::peak_rss_mb' "$log" |
      sed "s/^/fuzz: $target: /" || true
  else
    failed+=("$target")
    echo "fuzz: $target FAILED; last lines of $log:"
    tail -n 40 "$log"
    for path in "$artifacts"/*; do
      artifact="${path##*/}"
      if [[ -e "$path" ]] && ! grep -qxF "$artifact" <<<"$before"; then
        echo "fuzz: reproducer: $path"
        echo "fuzz: replay with: (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer $sanitizer $target artifacts/$target/$artifact)"
      fi
    done
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: every target ran ${seconds}s without a failure"
