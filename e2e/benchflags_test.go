package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// The load generator's and the profiling/state-size flags refuse garbage
// before anything starts.
func TestPerformanceFlagsRefuseGarbage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--rate", "-1"}, "must not be negative"},
		{[]string{"bench", "--recipients", "-5"}, "must not be negative"},
		{[]string{"bench", "--rate", "fast"}, "invalid value"},
		{[]string{"devnet", "--http.port", "0", "--state-accounts", "-1"}, "state account count -1 out of range"},
		{[]string{"devnet", "--http.port", "0", "--state-accounts", "20000000"}, "out of range"},
		{[]string{"devnet", "--http.port", "0", "--pprof.addr", "nonsense"}, "--pprof.addr"},
	} {
		out, err := exec.Command(meganodeBin(t), tc.args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("meganode %v: err %v, output %s; want %q", tc.args, err, out, tc.want)
		}
	}
}
