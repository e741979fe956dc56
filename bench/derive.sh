#!/usr/bin/env bash
# Derivation from L1 + DA alone: a chain of BLOCKS blocks (tools/logchain: ten
# logs a block, `meganode import`) is continued by a sequencer that posts
# every block to the DA server (`meganode da`) and records each blob in the
# DA inbox on an L1 (anvil, automine, contracts from `meganode l1 deploy`).
# Then a replica and a full node given only the L1 and the DA server
# (--sync-from-da, no peers, a sequencer URL nothing answers on) rebuild the
# chain; the time from their start to block BLOCKS, and the blocks per
# second, are printed and written as the "Derivation from L1 + DA" section of
# docs/benchmarks.md (run by bench/run.sh, or alone: bash bench/derive.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/meganode}
ANVIL=${ANVIL:-e2e/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil}
CAST=${CAST:-e2e/node_modules/@foundry-rs/cast-linux-amd64/bin/cast}
BLOCKS=${BENCH_DERIVE_BLOCKS:-10000}
ROLES=${BENCH_DERIVE_ROLES:-replica fullnode}
DOC=${BENCH_DOC:-docs/benchmarks.md}
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
[ -x "$BIN" ] || make build >&2
OUT=$(mktemp -d)
PIDS=()
cleanup() {
  rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ "$rc" != 0 ]; then for f in "$OUT"/*.log; do echo "== $f" >&2; tail -5 "$f" >&2; done; fi
  rm -rf "$OUT"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }
rpc() { curl -s -m 10 -H 'content-type: application/json' -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-[]}}" "$1"; }
field() { python3 -c "import json,sys
try: print(json.load(sys.stdin)$1)
except Exception: print('')"; }
wait_rpc() {
  for _ in $(seq 1 600); do rpc "$1" eth_chainId | grep -q result && return 0; sleep 0.1; done
  echo "no RPC at $1" >&2; return 1
}
now() { date +%s.%N; }

echo "== chain of $BLOCKS blocks" >&2
go run ./tools/logchain -blocks "$BLOCKS" -out "$OUT/chain" >&2
G=$OUT/chain/genesis.json
"$BIN" import --genesis "$G" --datadir "$OUT/seq" --log.level warn "$OUT/chain/chain.rlp" >&2

# The L1: anvil, its first dev account deploys, its fourth is the batcher.
L1P=$(free_port)
"$ANVIL" --host 127.0.0.1 --port "$L1P" --silent & PIDS+=($!)
L1=http://127.0.0.1:$L1P
wait_rpc "$L1"
DEPLOYER=ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
BATCHER=7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6
echo "$BATCHER" >"$OUT/batcher.key"
DEP=$("$BIN" l1 deploy --l1.url "$L1" --private-key "$DEPLOYER" --batcher "$("$CAST" wallet address --private-key "0x$BATCHER")")
INBOX=$(echo "$DEP" | field "['daInbox']")
PORTAL=$(echo "$DEP" | field "['portal']")
START=$(echo "$DEP" | field "['startBlock']")

DAP=$(free_port)
"$BIN" da --port "$DAP" --datadir "$OUT/da" --log.level warn >"$OUT/da.log" 2>&1 & PIDS+=($!)
DA=http://127.0.0.1:$DAP
SEQKEY=$(python3 -c 'import secrets;print(secrets.token_hex(32))')
echo "$SEQKEY" >"$OUT/seq.key"
SEQADDR=$("$CAST" wallet address --private-key "0x$SEQKEY")
SP=$(free_port)
"$BIN" sequencer --genesis "$G" --datadir "$OUT/seq" --sequencer.key "$OUT/seq.key" --http.port "$SP" --p2p.listen /ip4/127.0.0.1/tcp/0 \
  --da.url "$DA" --l1.url "$L1" --l1.portal "$PORTAL" --l1.da-inbox "$INBOX" --l1.batcher-key "$OUT/batcher.key" --l1.start-block "$START" --l1.poll 200ms \
  --log.level warn >"$OUT/seq.log" 2>&1 & PIDS+=($!)
SEQ=http://127.0.0.1:$SP
wait_rpc "$SEQ"
echo "== posting $BLOCKS blocks to DA and recording them on L1" >&2
t0=$(now)
for _ in $(seq 1 3600); do
  last=$(rpc "$SEQ" mega_getDACommitments "[\"$(printf '0x%x' $((BLOCKS - 1)))\"]" | field "['result'][-1]['l1BlockNumber']")
  [ -n "$last" ] && break
  sleep 0.5
done
[ -n "$last" ] || { echo "block $BLOCKS never recorded on L1" >&2; tail -20 "$OUT/seq.log" >&2; exit 1; }
blobs=$(rpc "$SEQ" mega_getDACommitments "[\"$(printf '0x%x' $((BLOCKS - 1)))\"]" | field "['result'][0]['seq']")
posted=$(echo "$(now) - $t0" | bc)
printf 'posted and recorded in %.1f s (through blob %d)\n' "$posted" "$((blobs))"
echo "posted $posted $((blobs))" >"$OUT/results"

for role in $ROLES; do
  P=$(free_port)
  t0=$(now)
  "$BIN" "$role" --genesis "$G" --datadir "$OUT/$role" --http.port "$P" --p2p.listen /ip4/127.0.0.1/tcp/0 \
    --sequencer.address "$SEQADDR" --sequencer.url http://127.0.0.1:1 \
    --da.url "$DA" --sync-from-da --l1.url "$L1" --l1.da-inbox "$INBOX" --l1.start-block "$START" --l1.poll 200ms \
    --log.level warn >"$OUT/$role.log" 2>&1 & PIDS+=($!)
  wait_rpc "http://127.0.0.1:$P"
  for _ in $(seq 1 12000); do
    n=$(rpc "http://127.0.0.1:$P" eth_blockNumber | field "['result']")
    [ -n "$n" ] && [ $((n)) -ge "$BLOCKS" ] && break
    sleep 0.05
  done
  secs=$(echo "$(now) - $t0" | bc)
  [ $((n)) -ge "$BLOCKS" ] || { echo "$role reached block $((n)) only" >&2; tail -20 "$OUT/$role.log" >&2; exit 1; }
  want=$(rpc "$SEQ" eth_getBlockByNumber "[\"$(printf '0x%x' "$BLOCKS")\",false]" | field "['result']['hash']")
  got=$(rpc "http://127.0.0.1:$P" eth_getBlockByNumber "[\"$(printf '0x%x' "$BLOCKS")\",false]" | field "['result']['hash']")
  [ "$got" = "$want" ] || { echo "$role's block $BLOCKS is $got, the sequencer's $want" >&2; exit 1; }
  printf '%s: %d blocks derived from L1 + DA in %.1f s (from its start): %.0f blocks/s (load at start %s)\n' \
    "$role" "$BLOCKS" "$secs" "$(echo "$BLOCKS / $secs" | bc -l)" "$LOAD"
  echo "$role $secs" >>"$OUT/results"
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
done

python3 - "$OUT/results" "$BLOCKS" "$LOAD" "$DOC" <<'PY'
import datetime, os, re, sys
path, blocks, load, doc_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows, posted = [], None
for line in open(path):
    f = line.split()
    if f[0] == "posted":
        posted = (float(f[1]), int(f[2]))
        continue
    secs = float(f[1])
    what = {"replica": "replica (applies the state diffs)", "fullnode": "full node (re-executes every block)"}.get(f[0], f[0])
    rows.append(f"| {what} | {secs:.1f} s | **{blocks / secs:,.0f}** |")
section = f"""## Derivation from L1 + DA

`bash bench/derive.sh` ({datetime.date.today()}, load average at start {load}): `tools/logchain -blocks {blocks}`
(ten logs a block) imported and continued by a sequencer that posted every block to `meganode da`
and recorded each blob in the DA inbox on anvil ({posted[1]} blobs, {posted[0]:.1f} s); then each
follower started with only `--l1.url` and `--da.url` (`--sync-from-da`, no peers) and timed from
its start to block {blocks:,}, whose hash the script checks against the sequencer's. Target: ≥ 300
blocks/s.

| follower | {blocks:,} blocks | blocks/s |
|---|---:|---:|
""" + "\n".join(rows) + "\n"
doc = open(doc_path).read() if os.path.exists(doc_path) else "# Benchmarks\n"
doc = re.sub(r"\n## Derivation from L1 \+ DA\n.*?(?=\n## |\Z)", "", doc, flags=re.S).rstrip("\n") + "\n\n" + section
open(doc_path, "w").write(doc)
print(section)
PY
