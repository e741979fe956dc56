package bench

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestLogsCommandRefusesGarbage: an address or topic that is not hex of the
// right length is refused before any query is sent (HexToAddress and
// HexToHash would silently make something of it).
func TestLogsCommandRefusesGarbage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--to", "5", "--address", "zz"}, `--address "zz": want a 20-byte hex address`},
		{[]string{"--to", "5", "--address", "0x000000000000000000000000000000000000a11a", "--topic", "0x12"}, `--topic "0x12": want a 32-byte hex hash or null`},
		{[]string{"--to", "5", "--address", "0x000000000000000000000000000000000000a11a", "--topic", "transfer"}, `--topic "transfer"`},
	} {
		app := &cli.App{Commands: []*cli.Command{logsCommand()}}
		err := app.Run(append([]string{"meganode", "logs", "--rpc", "http://127.0.0.1:1"}, tc.args...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
