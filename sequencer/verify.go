package sequencer

import (
	"runtime"
	"sync"

	"github.com/ethereum/go-ethereum/core/types"
)

// Sender recovery (≈40 µs of secp256k1 per tx) is the bulk of admission. It
// runs on dedicated goroutines, one less than the Go processors: a burst of
// sends never holds every processor the production loop needs to keep
// mini-blocks on time. (Lowering their OS priority as well tightened the
// interval tail under full load but delayed lone sends by up to 10 ms on a
// busy machine; lone sends matter more.)
var verifier struct {
	once    sync.Once
	workers int
	jobs    chan verifyJob
}

// verifyJob is a run of txs for one verifier goroutine.
type verifyJob struct {
	signer types.Signer
	txs    []*types.Transaction
	done   *sync.WaitGroup
}

func startVerifiers() {
	verifier.once.Do(func() {
		verifier.workers = max(1, runtime.GOMAXPROCS(0)-1)
		verifier.jobs = make(chan verifyJob)
		for i := 0; i < verifier.workers; i++ {
			go verifyLoop(verifier.jobs)
		}
	})
}

// recoverSender recovers tx's sender on a verifier goroutine; types.Sender
// caches it in tx, where validation finds it.
func recoverSender(signer types.Signer, tx *types.Transaction) {
	recoverSenders(signer, []*types.Transaction{tx})
}

// recoverSenders recovers a batch's senders, split evenly over the verifier
// goroutines: one hand-off per goroutine, not per tx.
func recoverSenders(signer types.Signer, txs []*types.Transaction) {
	startVerifiers()
	var wg sync.WaitGroup
	per := (len(txs) + verifier.workers - 1) / verifier.workers
	for i := 0; i < len(txs); i += per {
		wg.Add(1)
		verifier.jobs <- verifyJob{signer: signer, txs: txs[i:min(i+per, len(txs))], done: &wg}
	}
	wg.Wait()
}

func verifyLoop(jobs <-chan verifyJob) {
	for job := range jobs {
		for _, tx := range job.txs {
			_, _ = types.Sender(job.signer, tx)
		}
		job.done.Done()
	}
}
