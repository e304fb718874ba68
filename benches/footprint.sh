#!/usr/bin/env bash
# Footprint (docs/BENCHMARKS.md §4): peak RSS and CPU time of `run --target aws` for a 3-run
# suite against `sim serve`, and the time `validate` takes for 100 scenario files.
#
#   cargo build --release && benches/footprint.sh
#
# Needs /usr/bin/time (GNU time). Writes everything under ${TMPDIR:-/tmp}/chaos-footprint.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/chaos-harness
dir="${TMPDIR:-/tmp}/chaos-footprint"
rm -rf "$dir" && mkdir -p "$dir/v100"
port=18281

# The reference drill scaled to the `fast` profile, exactly as tests/it/aws_e2e.rs writes it.
sed -e 's/cooldown: 1m/cooldown: 0s/' -e 's/poll_interval: 5s/poll_interval: 500ms/' \
    -e 's/within: 10m/within: 1m/' -e 's/within: 30m/within: 2m/' -e 's/timeout: 45m/timeout: 3m/' \
    -e 's/{p50: 5m, p99: 8m}/{p50: 10s, p99: 20s, min_runs: 3}/' \
    -e 's/{p50: 18m, p99: 25m, min_runs: 10}/{p50: 30s, p99: 60s, min_runs: 3}/' \
    scenarios/cassandra-node-replace.yaml > "$dir/fast-drill.yaml"
printf 'steady_state_timeout: 2m\nmax_poll_interval: 1s\nmax_requests_per_minute: 1000\n' >> "$dir/fast-drill.yaml"

"$bin" sim serve --listen "127.0.0.1:$port" --profile fast --seed 1 --token tok --lifetime 3m \
    --truth-log "$dir/truth.jsonl" > "$dir/serve.log" 2>&1 &
serve=$!
trap 'kill $serve 2>/dev/null || true' EXIT
until grep -q listening "$dir/serve.log"; do sleep 0.1; done

env -i PATH="$PATH" HOME="$dir" AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=AKIDBENCH \
    AWS_SECRET_ACCESS_KEY=x AWS_REGION=us-west-2 AWS_EC2_METADATA_DISABLED=true \
    DCOS_URL="http://127.0.0.1:$port" DCOS_ACS_TOKEN=tok \
    /usr/bin/time -f 'run --target aws, 3 runs: %e s wall, %U s user, %S s system, %M KB peak RSS' \
    "$bin" run --target aws --runs 3 --yes --seed 1 --out "$dir/out" "$dir/fast-drill.yaml" > "$dir/run.log" \
    || [ $? -eq 3 ] # 3 runs cannot decide a p99: inconclusive is the expected verdict
echo "sim serve: $(grep VmHWM /proc/$serve/status | tr -s ' ')"

# 100 scenario files: the four shipped ones, renamed, 25 times each.
files=(scenarios/*.yaml)
for i in $(seq -w 1 100); do
    sed "s/^name: .*/name: scenario-$i/" "${files[$((10#$i % ${#files[@]}))]}" > "$dir/v100/s$i.yaml"
done
for _ in 1 2 3 4 5; do
    /usr/bin/time -f 'validate, 100 files: %e s wall, %M KB peak RSS' "$bin" validate "$dir/v100" > /dev/null
done
