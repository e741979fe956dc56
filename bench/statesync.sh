#!/usr/bin/env bash
# Joining a running chain: state sync against replay. A `meganode sequencer
# --dev` with ACCOUNTS state accounts at genesis (--state-accounts) pays the
# first TXS of them (`meganode bench --recipients`), so the state a follower
# fetches differs from the genesis it builds, and is made BLOCKS blocks long
# with hardhat_mine. Then, one after the other, two fresh replicas on empty
# data directories join it over libp2p on loopback: A with --sync.mode snap,
# timed from its process start to "wrote genesis", to "state sync done" and
# to the first eth_getBalance of a paid account that equals the
# sequencer's; B with --sync.mode full (replay from genesis), timed to the
# sequencer's head, or stopped after REPLAY_CAP seconds and extrapolated
# from the blocks/s it reached. Peak RSS is each process's VmHWM. Printed
# and written as the "Joining a running chain: state sync against replay"
# section of docs/benchmarks.md (run by bench/run.sh, or alone:
# bash bench/statesync.sh). Sizes: BENCH_SYNC_ACCOUNTS, BENCH_SYNC_TXS,
# BENCH_SYNC_BLOCKS, BENCH_SYNC_REPLAY_CAP; BENCH_DOC names the file written.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/meganode}
ACCOUNTS=${BENCH_SYNC_ACCOUNTS:-1000000}
TXS=${BENCH_SYNC_TXS:-100000}
BLOCKS=${BENCH_SYNC_BLOCKS:-100000}
REPLAY_CAP=${BENCH_SYNC_REPLAY_CAP:-600}
SYNC_TIMEOUT=${BENCH_SYNC_TIMEOUT:-1800}
CHUNK=${BENCH_SYNC_MINE_CHUNK:-10000}
DOC=${BENCH_DOC:-docs/benchmarks.md}
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average at start: $LOAD" >&2
[ "$TXS" -ge 1 ] && [ "$TXS" -le "$ACCOUNTS" ] || { echo "BENCH_SYNC_TXS ($TXS) must be 1 to BENCH_SYNC_ACCOUNTS ($ACCOUNTS)" >&2; exit 2; }
[ -x "$BIN" ] || make build >&2
OUT=$(mktemp -d)
PIDS=()
cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$rc" -eq 0 ]; then rm -rf "$OUT"; else
    for f in "$OUT"/*.err; do [ -e "$f" ] && { echo "== $f" >&2; tail -5 "$f" >&2; }; done
    echo "state sync bench failed; logs kept in $OUT" >&2
  fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }
rpc() { curl -s -m "${4:-10}" -H 'content-type: application/json' -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"$2\",\"params\":${3:-[]}}" "$1" || true; }
result() { python3 -c "import json,sys
try: r=json.load(sys.stdin)['result']; print('' if r is None else r)
except Exception: print('')"; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }
alive() { kill -0 "$1" 2>/dev/null || { echo "$2 exited" >&2; tail -20 "$OUT/$2.err" >&2; exit 1; }; }
peak_mib() { awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
banner() { # name pid: wait for the process's "Listening on" banner line
  for _ in $(seq 1 $((SYNC_TIMEOUT * 10))); do
    grep -q '^Listening on ' "$OUT/$1.out" && return 0
    alive "$2" "$1"
    sleep 0.1
  done
  echo "$1 printed no banner in $SYNC_TIMEOUT s" >&2; exit 1
}
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }

echo "== sequencer: $ACCOUNTS state accounts at genesis" >&2
SP=$(free_port)
t0=$(now)
# The sequencer's heap is capped (GOMEMLIMIT) so that it and a replica
# building the same genesis fit this machine together.
GOMEMLIMIT=${BENCH_SYNC_SEQ_MEMLIMIT:-8GiB} "$BIN" sequencer --dev --datadir "$OUT/seq" --state-accounts "$ACCOUNTS" --p2p.listen /ip4/127.0.0.1/tcp/0 \
  --http.addr 127.0.0.1 --http.port "$SP" --log.level warn >"$OUT/seq.out" 2>"$OUT/seq.err" & SEQPID=$!; PIDS+=($SEQPID)
banner seq "$SEQPID"
printf 'sequencer up in %.1f s\n' "$(since "$t0")" >&2
SEQ=http://$(awk '/^Listening on / {print $3; exit}' "$OUT/seq.out")
PEER=$(awk '/^P2P address:/ {print $3; exit}' "$OUT/seq.out")
SIGNER=$(awk '/^Sequencer signer:/ {print $3; exit}' "$OUT/seq.out")
[ -n "$PEER" ] && [ -n "$SIGNER" ] || { echo "no P2P address or signer in the sequencer's banner" >&2; cat "$OUT/seq.out" >&2; exit 1; }

echo "== $TXS transfers to the first $TXS state accounts" >&2
"$BIN" bench --rpc "$SEQ" --txs "$TXS" --recipients "$TXS" --timeout 30m --json "$OUT/load.json" >/dev/null 2>"$OUT/load.err"
python3 - "$OUT/load.json" "$TXS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if r["Included"] < int(sys.argv[2]) or r["Errors"]:
    sys.exit(f"load: {r['Included']} of {sys.argv[2]} transfers included, {r['Errors']} errors ({r['FirstError']})")
PY

echo "== mining to block $BLOCKS with hardhat_mine (chunks of $CHUNK)" >&2
t0=$(now)
while :; do
  head=$(($(rpc "$SEQ" eth_blockNumber | result)))
  [ "$head" -ge "$BLOCKS" ] && break
  n=$((BLOCKS - head < CHUNK ? BLOCKS - head : CHUNK))
  r=$(rpc "$SEQ" hardhat_mine "[\"$(printf '0x%x' "$n")\"]" 600)
  echo "$r" | grep -qs '"result"' || { echo "hardhat_mine: $r" >&2; exit 1; }
done
printf 'head %d after %.1f s of mining\n' "$head" "$(since "$t0")" >&2
[ "$head" -ge "$BLOCKS" ] || { echo "head $head < $BLOCKS" >&2; exit 1; }

# The paid accounts to read back: chain.StateAccount(i) is the address in
# keccak256("meganode state account" ‖ uint64 i) (web3_sha3 hashes it); the
# load pays StateAccount(i·2654435761 mod TXS) for i < TXS, each once.
acct() { local h; h=$(rpc "$SEQ" web3_sha3 "[\"$(python3 -c "import sys;print('0x'+b'meganode state account'.hex()+int(sys.argv[1]).to_bytes(8,'big').hex())" "$1")\"]" | result); echo "0x${h: -40}"; }
GENESIS_BAL=0xde0b6b3a7640000 # 1 ETH, every state account's at genesis
CHECK=()
for i in 0 $((TXS / 2)) $((TXS - 1)); do
  a=$(acct "$i")
  bal=$(rpc "$SEQ" eth_getBalance "[\"$a\",\"latest\"]" | result)
  [ -n "$bal" ] && [ "$bal" != "$GENESIS_BAL" ] || { echo "state account $i ($a) unchanged on the sequencer: $bal" >&2; exit 1; }
  CHECK+=("$a=$bal")
done

follower() { # name mode: starts it, sets URL and FPID
  local p; p=$(free_port)
  URL=http://127.0.0.1:$p
  "$BIN" replica --sync.mode "$2" --datadir "$OUT/$1" --state-accounts "$ACCOUNTS" --p2p.listen /ip4/127.0.0.1/tcp/0 \
    --p2p.peers "$PEER" --sequencer.address "$SIGNER" --sequencer.url "$SEQ" --http.addr 127.0.0.1 --http.port "$p" \
    --log.format json --log.level info >"$OUT/$1.out" 2>"$OUT/$1.err" & FPID=$!; PIDS+=($FPID)
}
balances_match() { # url
  local c
  for c in "${CHECK[@]}"; do
    [ "$(rpc "$1" eth_getBalance "[\"${c%%=*}\",\"latest\"]" 2 | result)" = "${c#*=}" ] || return 1
  done
}

echo "== replica A: --sync.mode snap" >&2
T0=$(now)
follower snap snap; APID=$FPID
tg= ts= tl= tr=
while :; do
  alive "$APID" snap
  [ -z "$tg" ] && grep -qs '"wrote genesis"' "$OUT/snap.err" && tg=$(since "$T0")
  [ -z "$ts" ] && grep -qs '"state sync done' "$OUT/snap.err" && ts=$(since "$T0")
  [ -z "$tl" ] && grep -qs '^Listening on ' "$OUT/snap.out" && tl=$(since "$T0")
  grep -qs '"state sync skipped' "$OUT/snap.err" && { echo "replica A skipped state sync:" >&2; grep 'state sync' "$OUT/snap.err" >&2; exit 1; }
  if [ -n "$ts" ] && balances_match "$URL"; then tr=$(since "$T0"); break; fi
  [ "$(echo "$(since "$T0") > $SYNC_TIMEOUT" | bc)" = 1 ] && { echo "replica A: no correct read after $SYNC_TIMEOUT s" >&2; exit 1; }
  sleep 0.05
done
A_RSS=$(peak_mib "$APID")
synced=$(grep '"state sync done' "$OUT/snap.err" | python3 -c 'import json,sys; d=json.loads(sys.stdin.readline()); print(d["block"], d["hash"], d["nodes"], d["codes"], d["bytes"], d["took"])')
read -r SBLOCK SHASH NODES CODES BYTES TOOK <<<"$synced"
want=$(rpc "$SEQ" eth_getBlockByNumber "[\"$(printf '0x%x' "$SBLOCK")\",false]" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["hash"])')
[ "$want" = "$SHASH" ] || { echo "replica A synced block $SBLOCK as $SHASH, the sequencer's is $want" >&2; exit 1; }
A_DISK=$(du -sm "$OUT/snap" | cut -f1)
stop "$APID"
printf 'state sync: serves reads %.1f s after start (genesis %.1f s, state sync done at %.1f s, RPC up at %.1f s, sync %.1f s: block %d, %d nodes, %.1f MB), peak RSS %d MiB\n' \
  "$tr" "$tg" "$ts" "$tl" "$(echo "$TOOK / 1000" | bc -l)" "$SBLOCK" "$NODES" "$(echo "$BYTES / 1000000" | bc -l)" "$A_RSS"

echo "== replica B: --sync.mode full (replay from genesis, capped at $REPLAY_CAP s)" >&2
T0=$(now)
follower full full; BPID=$FPID
bg= capped=0 bhead=0 shead=0
while :; do
  alive "$BPID" full
  [ -z "$bg" ] && grep -qs '"wrote genesis"' "$OUT/full.err" && bg=$(since "$T0")
  h=$(rpc "$URL" eth_blockNumber '[]' 2 | result)
  s=$(rpc "$SEQ" eth_blockNumber '[]' 2 | result)
  el=$(since "$T0")
  if [ -n "$h" ]; then
    bhead=$((h)); shead=$((s))
    [ "$bhead" -ge "$shead" ] && balances_match "$URL" && break
  fi
  [ "$(echo "$el > $REPLAY_CAP" | bc)" = 1 ] && { capped=1; break; }
  sleep 0.2
done
tb=$el
B_RSS=$(peak_mib "$BPID")
B_DISK=$(du -sm "$OUT/full" | cut -f1)
if [ "$capped" = 0 ]; then
  for u in "$SEQ" "$URL"; do
    rpc "$u" eth_getBlockByNumber "[\"$(printf '0x%x' "$BLOCKS")\",false]" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["hash"])'
  done >"$OUT/hashes"
  [ "$(sort -u "$OUT/hashes" | wc -l)" = 1 ] || { echo "replica B's block $BLOCKS differs from the sequencer's:" >&2; cat "$OUT/hashes" >&2; exit 1; }
fi
stop "$BPID"
if [ "$capped" = 1 ]; then
  printf 'replay: capped at %.0f s at block %d of %d\n' "$tb" "$bhead" "$shead"
else
  printf 'replay: at the sequencer head %d %.1f s after start (genesis %.1f s), peak RSS %d MiB\n' "$shead" "$tb" "$bg" "$B_RSS"
fi

cat >"$OUT/results" <<EOF
accounts=$ACCOUNTS txs=$TXS blocks=$BLOCKS cap=$REPLAY_CAP
tr=$tr tg=$tg ts=$ts tl=${tl:-$tr} took_ms=$TOOK nodes=$NODES codes=$CODES bytes=$BYTES sblock=$SBLOCK a_rss=$A_RSS a_disk=$A_DISK
tb=$tb bg=${bg:-0} bhead=$bhead shead=$shead capped=$capped b_rss=$B_RSS b_disk=$B_DISK
EOF
python3 - "$OUT/results" "$LOAD" "$DOC" <<'PY'
import datetime, os, re, sys
path, load, doc_path = sys.argv[1:4]
v = {k: float(x) for k, x in (f.split("=") for f in open(path).read().split())}
accounts, txs, blocks = (int(v[k]) for k in ("accounts", "txs", "blocks"))
cap = v["cap"]
tr, tg, ts, tl, took = v["tr"], v["tg"], v["ts"], v["tl"], v["took_ms"] / 1000
nodes, codes, nbytes, sblock = (int(v[k]) for k in ("nodes", "codes", "bytes", "sblock"))
a_rss, b_rss, a_disk, b_disk = (int(v[k]) for k in ("a_rss", "b_rss", "a_disk", "b_disk"))
tb, bg, bhead, shead, capped = v["tb"], v["bg"], int(v["bhead"]), int(v["shead"]), v["capped"] == 1
if capped:
    rate = bhead / max(tb - bg, 1e-9)
    if rate <= 0:
        sys.exit(f"replay: no block replayed in {cap:g} s")
    replay = bg + shead / rate
    rcell = f"**{replay:,.1f} s** extrapolated (capped at {cap:g} s: block {bhead:,} of {shead:,}, {rate:,.0f} blocks/s)"
else:
    replay, rate = tb, shead / max(tb - bg, 1e-9)
    rcell = f"**{tb:,.1f} s** (to the sequencer's head {shead:,}, {rate:,.0f} blocks/s after the genesis)"
full_size = accounts >= 1_000_000 and blocks >= 100_000
if full_size:
    verdict = "**met**" if tr <= 120 else "**not met**"
    verdict = f"Target {verdict} here: {tr:.1f} s."
else:
    verdict = f"This run is smaller than the target's sizes ({accounts:,} accounts, {blocks:,} blocks): no verdict."
section = f"""## Joining a running chain: state sync against replay

`BENCH_SYNC_ACCOUNTS={accounts} BENCH_SYNC_TXS={txs} BENCH_SYNC_BLOCKS={blocks} bash bench/statesync.sh` ({datetime.date.today()}, load
average at start {load}): a `meganode sequencer --dev --state-accounts {accounts}` (every state account 1 ETH at genesis)
pays the first {txs:,} of them (`meganode bench --txs {txs} --recipients {txs}`, each once) and is made {blocks:,}
blocks long with `hardhat_mine`; then two fresh `meganode replica` processes on empty data directories, with the same
genesis flags, peered to it over libp2p on loopback, one after the other, each timed from its process start.
*Serves reads*: the first `eth_getBalance` of three paid accounts that equals the sequencer's. Target (issue 27): a
fresh replica joins a chain of 1M accounts and 100k blocks and serves reads in ≤ 2 min here, against the time of
replay from genesis. {verdict}

| replica | joins and serves reads | genesis build | sync | peak RSS | data directory |
|---|---:|---:|---|---:|---:|
| `--sync.mode snap` | **{tr:,.1f} s** | {tg:.1f} s | {took:,.1f} s: block {sblock:,}, {nodes:,} trie nodes, {codes} codes, {nbytes / 1e6:,.1f} MB (done {ts:,.1f} s, RPC up {tl:,.1f} s after start) | {a_rss:,} MiB | {a_disk:,} MB |
| `--sync.mode full` | {rcell} | {bg:.1f} s | replay of every block from genesis | {b_rss:,} MiB | {b_disk:,} MB |

State sync joins **{replay / tr:,.1f}×** sooner than replay{" (extrapolated)" if capped else ""}. The sequencer, with 10 ms
mini-blocks and a 1 s block, runs on the same 2 cores throughout.
"""
doc = open(doc_path).read() if os.path.exists(doc_path) else "# Benchmarks\n"
doc = re.sub(r"\n## Joining a running chain: state sync against replay\n.*?(?=\n## |\Z)", "", doc, flags=re.S).rstrip("\n") + "\n\n" + section
open(doc_path, "w").write(doc)
print(section)
PY
