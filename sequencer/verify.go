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
	once sync.Once
	jobs chan verifyJob
}

type verifyJob struct {
	signer types.Signer
	tx     *types.Transaction
	done   chan struct{}
}

// recoverSender recovers tx's sender on a verifier thread; types.Sender
// caches it in tx, where validation finds it.
func recoverSender(signer types.Signer, tx *types.Transaction) {
	verifier.once.Do(func() {
		verifier.jobs = make(chan verifyJob)
		for i := 0; i < max(1, runtime.GOMAXPROCS(0)-1); i++ {
			go verifyLoop(verifier.jobs)
		}
	})
	job := verifyJob{signer: signer, tx: tx, done: make(chan struct{})}
	verifier.jobs <- job
	<-job.done
}

func verifyLoop(jobs <-chan verifyJob) {
	for job := range jobs {
		_, _ = types.Sender(job.signer, job.tx)
		close(job.done)
	}
}
