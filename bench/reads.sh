#!/usr/bin/env bash
# Replica reads side by side with anvil: `meganode bench reads` (a rotation
# of eth_getBalance, eth_call of an ERC-20 balanceOf and eth_blockNumber
# over CONNS keep-alive connections for DURATION) against the replica of
# `meganode devnet --roles sequencer,replica` (its RPC on http.port+1) and
# against anvil 1.7.1, each freshly started, the targets taking turns,
# REPEAT rounds, medians. The sequencer's mini-block interval during the
# load comes from its /metrics. Writes the "Replica reads" section of
# docs/benchmarks.md (run by bench/run.sh, or alone: bash bench/reads.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=bin/meganode
ANVIL=e2e/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
REPEAT=${BENCH_READS_REPEAT:-5}
CONNS=${BENCH_READS_CONNS:-16}
DURATION=${BENCH_READS_DURATION:-10s}
ROLES=${BENCH_READS_ROLES:-sequencer,replica}
DOC=${BENCH_READS_DOC:-docs/benchmarks.md}
OUT=$(mktemp -d)
PIDS=()
cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ "$rc" -eq 0 ]; then rm -rf "$OUT"; else echo "reads bench failed; logs kept in $OUT" >&2; fi
}
trap cleanup EXIT
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average at start: $LOAD" >&2
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }
# Two consecutive free ports: the devnet's replica listens on http.port+1.
free_pair() { python3 -c '
import socket
while True:
    a=socket.socket(); a.bind(("127.0.0.1",0)); p=a.getsockname()[1]
    b=socket.socket()
    try: b.bind(("127.0.0.1",p+1))
    except OSError: a.close(); b.close(); continue
    a.close(); b.close(); print(p); break'; }
wait_rpc() {
  for _ in $(seq 1 300); do
    if curl -s -m 1 -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$1" | grep -q result; then return 0; fi
    sleep 0.1
  done
  echo "no RPC at $1" >&2; return 1
}
stop_last() { kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; }

for i in $(seq 1 "$REPEAT"); do
  P=$(free_pair)
  "$BIN" devnet --roles "$ROLES" --http.addr 127.0.0.1 --http.port "$P" --log.level warn >"$OUT/meganode-$i.log" 2>&1 & PIDS+=($!)
  wait_rpc "http://127.0.0.1:$((P + 1))"
  echo "== meganode replica, round $i" >&2
  "$BIN" bench reads --rpc "http://127.0.0.1:$((P + 1))" --conns "$CONNS" --duration "$DURATION" \
    --metrics "http://127.0.0.1:$P/metrics" --json "$OUT/meganode-$i.json" >/dev/null
  stop_last
  P=$(free_port)
  "$ANVIL" --host 127.0.0.1 --port "$P" --silent & PIDS+=($!)
  wait_rpc "http://127.0.0.1:$P"
  echo "== anvil, round $i" >&2
  "$BIN" bench reads --rpc "http://127.0.0.1:$P" --conns "$CONNS" --duration "$DURATION" --json "$OUT/anvil-$i.json" >/dev/null
  stop_last
done

python3 - "$OUT" "$REPEAT" "$CONNS" "$DURATION" "$LOAD" "$ROLES" "$DOC" <<'PY'
import datetime, json, os, re, statistics, sys
out, n, conns, duration, load, roles, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7]
runs = {t: [json.load(open(f"{out}/{t}-{i}.json")) for i in range(1, n + 1)] for t in ["meganode", "anvil"]}
med = statistics.median
ms = lambda ns: f"{ns / 1e6:.2f} ms"
def row(t):
    r = runs[t]
    rate = [x["PerSecond"] for x in r]
    lat = lambda k: med([x["Latency"][k] for x in r])
    return rate, lat
m_rate, m_lat = row("meganode")
a_rate, a_lat = row("anvil")
errors = {t: sum(x["Errors"] for x in runs[t]) for t in runs}
fmt = lambda xs: " · ".join(f"{x:,.0f}" for x in xs)
iv = [x["MiniBlockInterval"] for x in runs["meganode"] if x.get("MiniBlockInterval")]
bound = lambda s: "over 500 ms" if s < 0 else f"≤ {s * 1000:g} ms"
ivp99 = sorted((x["P99"] for x in iv), key=lambda s: float("inf") if s < 0 else s)
section = f"""## Replica reads

`bash bench/reads.sh` ({datetime.date.today()}, load average at start {load}; {n} rounds, the targets taking
turns, each on a fresh process: the replica of `meganode devnet --roles {roles}` (its RPC on
http.port+1) and anvil 1.7.1). Load: `meganode bench reads --conns {conns} --duration {duration}`: {conns}
keep-alive connections, one call in flight on each, cycling `eth_getBalance`, `eth_call` of an ERC-20
`balanceOf` (a token the bench deploys first) and `eth_blockNumber`, all on `latest`; medians, every
round listed.

| target | reads/s | vs anvil | p50 | p90 | p99 | errors | rounds (reads/s) |
|---|---:|---:|---:|---:|---:|---:|---|
| meganode replica | {med(m_rate):,.0f} | **{med(m_rate) / med(a_rate):.2f}×** | {ms(m_lat("P50"))} | {ms(m_lat("P90"))} | **{ms(m_lat("P99"))}** | {errors["meganode"]} | {fmt(m_rate)} |
| anvil | {med(a_rate):,.0f} | 1.00× | {ms(a_lat("P50"))} | {ms(a_lat("P90"))} | {ms(a_lat("P99"))} | {errors["anvil"]} | {fmt(a_rate)} |

The sequencer in the same process meanwhile (its `meganode_sequencer_miniblock_interval_seconds`
histogram, read before and after each run: the bounds of the buckets the percentiles fall in): mini-block
interval p99 {" · ".join(bound(x) for x in ivp99)} ({sum(x["Count"] for x in iv)} intervals, mean {1000 * sum(x["Sum"] for x in iv) / max(1, sum(x["Count"] for x in iv)):.2f} ms).
The load generator runs on the same 2 cores as the node it measures.
"""
doc = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
doc = re.sub(r"\n## Replica reads\n.*?(?=\n## |\Z)", "", doc, flags=re.S).rstrip("\n") + "\n\n" + section
open(path, "w").write(doc)
print(section)
PY
