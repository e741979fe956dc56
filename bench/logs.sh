#!/usr/bin/env bash
# eth_getLogs side by side with geth 1.17.5 on the same chain: tools/logchain
# writes BLOCKS post-merge blocks of ten logs each (one in ten an ERC-20
# Transfer to a known address), imported into meganode (`meganode import`,
# served by `meganode serve`) and into geth (`geth init`, `geth import`).
# `meganode bench logs` times, on each in turns: (a) the whole range filtered
# by address and the indexed `to` topic, (b) the whole range by address
# alone (eight logs a block), (c) 100-block windows of (a) over 8
# connections. The answers must hash the same on both, or the bench fails.
# Writes the "Logs queries" section of docs/benchmarks.md (run by
# bench/run.sh, or alone: bash bench/logs.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/meganode}
GETH=${GETH:-bin/geth-v1.17.5}
BLOCKS=${BENCH_LOGS_BLOCKS:-10000}
REPEAT=${BENCH_LOGS_REPEAT:-3}
DOC=${BENCH_DOC:-docs/benchmarks.md}
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
[ -x "$GETH" ] || make "$GETH" >&2 # go install of geth 1.17.5, as make bench does
[ -x "$BIN" ] || make build >&2
OUT=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$OUT"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }
stop_last() { kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; }

echo "== chain of $BLOCKS blocks" >&2
go run ./tools/logchain -blocks "$BLOCKS" -out "$OUT/chain" >&2
J=$OUT/chain/logs.json
val() { python3 -c "import json,sys;print(json.load(open('$J'))['$1'])"; }
A=$(val tokenA); TRANSFER=$(val transferTopic); TARGET=$(val target)
"$BIN" import --genesis "$OUT/chain/genesis.json" --datadir "$OUT/mega" --log.level warn "$OUT/chain/chain.rlp" >&2
"$GETH" --datadir "$OUT/geth" init "$OUT/chain/genesis.json" >"$OUT/geth-init.log" 2>&1
"$GETH" --datadir "$OUT/geth" import "$OUT/chain/chain.rlp" >"$OUT/geth-import.log" 2>&1

# Serves target $1 on port P; waits until it answers the whole range in full
# (geth builds its log index in the background after a start).
start() {
  P=$(free_port)
  if [ "$1" = meganode ]; then
    "$BIN" serve --datadir "$OUT/mega" --http.port "$P" --rpc.logs-max-results 0 --rpc.logs-timeout 0 --log.level warn >"$OUT/$1.log" 2>&1 & PIDS+=($!)
  else
    "$GETH" --datadir "$OUT/geth" --nodiscover --maxpeers 0 --port 0 --authrpc.port 0 --ipcdisable \
      --http --http.addr 127.0.0.1 --http.port "$P" >"$OUT/$1.log" 2>&1 & PIDS+=($!)
  fi
  local q="{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_getLogs\",\"params\":[{\"fromBlock\":\"0x1\",\"toBlock\":\"$(printf '0x%x' "$BLOCKS")\",\"address\":\"$A\",\"topics\":[\"$TRANSFER\",null,\"$TARGET\"]}]}"
  for _ in $(seq 1 600); do
    n=$(curl -s -m 30 -H 'content-type: application/json' -d "$q" "http://127.0.0.1:$P" 2>/dev/null | python3 -c 'import json,sys
try: print(len(json.load(sys.stdin)["result"]))
except Exception: print(-1)' || echo -1)
    [ "$n" = "$BLOCKS" ] && return 0
    sleep 0.5
  done
  echo "$1 never answered the whole range in full" >&2; return 1
}
run() { # target round
  local url="http://127.0.0.1:$P"
  "$BIN" bench logs --rpc "$url" --to "$BLOCKS" --address "$A" --topic "$TRANSFER" --topic null --topic "$TARGET" \
    --reps 3 --window 100 --conns 8 --json "$OUT/$1-topic-$2.json" >/dev/null
  "$BIN" bench logs --rpc "$url" --to "$BLOCKS" --address "$A" --reps 3 --json "$OUT/$1-addr-$2.json" >/dev/null
}
for i in $(seq 1 "$REPEAT"); do
  for t in meganode geth; do
    echo "== $t, round $i" >&2
    start "$t"
    run "$t" "$i"
    stop_last
  done
done

python3 - "$OUT" "$REPEAT" "$BLOCKS" "$LOAD" "$DOC" <<'PY'
import datetime, json, os, re, statistics, sys
out, n, blocks, load, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
r = {(t, q): [json.load(open(f"{out}/{t}-{q}-{i}.json")) for i in range(1, n + 1)] for t in ["meganode", "geth"] for q in ["topic", "addr"]}
for q, part in [("topic", "Whole"), ("topic", "Windows"), ("addr", "Whole")]:
    hashes = {x[part]["Hash"] for t in ["meganode", "geth"] for x in r[(t, q)]}
    if len(hashes) != 1:
        sys.exit(f"meganode and geth answered {q}/{part} differently: {hashes}")
med = statistics.median
def cell(t, q, part):
    xs = r[(t, q)]
    return med(x[part]["LogsPerSec"] for x in xs), med(x[part]["Latency"]["P50"] for x in xs) / 1e6, med(x[part]["Latency"]["P99"] for x in xs) / 1e6, xs[0][part]["Logs"]
rows = []
for label, q, part in [(f"(a) blocks 1–{blocks:,}, address + indexed `to` topic", "topic", "Whole"),
                       (f"(b) blocks 1–{blocks:,}, address only", "addr", "Whole"),
                       ("(c) 100-block windows of (a), 8 connections", "topic", "Windows")]:
    m, g = cell("meganode", q, part), cell("geth", q, part)
    rows.append(f"| {label} | {m[3]:,} | {m[0]:,.0f} | {m[1]:.1f} / {m[2]:.1f} ms | {g[0]:,.0f} | {g[1]:.1f} / {g[2]:.1f} ms | **{m[0] / g[0]:.2f}×** |")
section = f"""## Logs queries

`bash bench/logs.sh` ({datetime.date.today()}, load average at start {load}; {n} rounds, the targets taking turns, each
served alone): `tools/logchain -blocks {blocks}` (ten logs a block, one in ten an ERC-20 `Transfer` to a
known address) imported into meganode (`meganode import`, served by `meganode serve
--rpc.logs-max-results 0 --rpc.logs-timeout 0`) and into geth 1.17.5 (`geth init`, `geth import`,
timed once its background log index answers the whole range in full); `meganode bench logs`, three
whole-range queries per measurement, latency to the last byte of the answer; medians of the rounds.
Both answered the same logs (a hash of every returned log, checked by the script). Every block
holds matching logs, so no index lets either node skip a block: this is the worst case of an
indexed query, log decoding and filtering per block.

| query | logs in one pass | meganode logs/s | p50 / p99 | geth logs/s | p50 / p99 | meganode / geth |
|---|---:|---:|---:|---:|---:|---:|
""" + "\n".join(rows) + "\n"
doc = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
doc = re.sub(r"\n## Logs queries\n.*?(?=\n## |\Z)", "", doc, flags=re.S).rstrip("\n") + "\n\n" + section
open(path, "w").write(doc)
print(section)
PY
