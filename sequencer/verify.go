package sequencer

import (
	"runtime"
	"sync"

	"github.com/ethereum/go-ethereum/core/types"
)

// Sender recovery (≈40–60 µs of secp256k1 per tx here) is the bulk of
// admission. It runs on dedicated goroutines so that sends never hold every
// processor the production loop needs to keep mini-blocks on time:
//   - a lone send is recovered on one of cpus()−1 goroutines at normal
//     priority, at once;
//   - a batch is split over cpus() goroutines whose threads run at a lower
//     OS priority (nice +5): a burst takes every CPU the loop and the lone
//     sends leave, and no more. It pauses between txs while the loop holds
//     the sequencer's gate (a block seal).
var verifier, bulkVerifier verifierPool

type verifierPool struct {
	once    sync.Once
	workers int
	jobs    chan verifyJob
}

func (p *verifierPool) start(workers int, lowPriority bool) {
	p.once.Do(func() {
		p.workers = max(1, workers)
		p.jobs = make(chan verifyJob)
		for i := 0; i < p.workers; i++ {
			go verifyLoop(p.jobs, lowPriority)
		}
	})
}

// cpus is how many CPUs recovery may use: Go's processors, but no more than
// the machine's CPUs (a sequencing process runs more processors than CPUs).
func cpus() int {
	return min(runtime.GOMAXPROCS(0), runtime.NumCPU())
}

// verifyJob is a run of txs for one verifier goroutine.
type verifyJob struct {
	signer types.Signer
	txs    []*types.Transaction
	done   *sync.WaitGroup
	gate   readGate // held per tx; nil: none
}

// readGate is the read side of a sync.RWMutex.
type readGate interface {
	RLock()
	RUnlock()
}

// recoverSender recovers tx's sender on a verifier goroutine; types.Sender
// caches it in tx, where validation finds it.
func recoverSender(signer types.Signer, tx *types.Transaction) {
	verifier.start(cpus()-1, false)
	verifier.recover(signer, []*types.Transaction{tx}, nil)
}

// recoverSenders recovers a batch's senders on the bulk verifiers, one
// hand-off per goroutine, not per tx, each tx under gate's read lock.
func recoverSenders(signer types.Signer, txs []*types.Transaction, gate readGate) {
	if len(txs) == 1 {
		recoverSender(signer, txs[0])
		return
	}
	bulkVerifier.start(cpus(), true)
	bulkVerifier.recover(signer, txs, gate)
}

// recover splits txs evenly over the pool's goroutines and waits for them.
func (p *verifierPool) recover(signer types.Signer, txs []*types.Transaction, gate readGate) {
	var wg sync.WaitGroup
	per := (len(txs) + p.workers - 1) / p.workers
	for i := 0; i < len(txs); i += per {
		wg.Add(1)
		p.jobs <- verifyJob{signer: signer, txs: txs[i:min(i+per, len(txs))], done: &wg, gate: gate}
	}
	wg.Wait()
}

func verifyLoop(jobs <-chan verifyJob, lowPriority bool) {
	if lowPriority {
		runtime.LockOSThread() // the thread keeps its priority
		lowerThreadPriority()
	}
	for job := range jobs {
		for _, tx := range job.txs {
			if job.gate != nil {
				job.gate.RLock()
			}
			_, _ = types.Sender(job.signer, tx)
			if job.gate != nil {
				job.gate.RUnlock()
			}
		}
		job.done.Done()
	}
}
