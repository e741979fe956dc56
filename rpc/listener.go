package rpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"
)

// httpListener is an http.Server on a listener of its own: the part of
// Server and AdminServer that binds, reports its address and shuts down.
type httpListener struct {
	http *http.Server
	fast *fasthttp.Server // serves instead of http when set
	ln   net.Listener     // nil until listen
}

func (l *httpListener) listen(host string, port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	l.ln = ln
	return nil
}

// serve serves the listener on a goroutine of its own until shutdown.
func (l *httpListener) serve(log zerolog.Logger, msg string) {
	go func() {
		if l.fast != nil {
			if err := l.fast.Serve(l.ln); err != nil {
				log.Error().Err(err).Msg("http server")
			}
			return
		}
		if err := l.http.Serve(l.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("http server")
		}
	}()
	log.Info().Str("addr", l.Addr()).Msg(msg)
}

// Addr is the address the server listens on, "" before it listens.
func (l *httpListener) Addr() string {
	if l.ln == nil {
		return ""
	}
	return l.ln.Addr().String()
}

// shutdown lets requests in flight finish until ctx expires, then closes
// every connection.
func (l *httpListener) shutdown(ctx context.Context) error {
	if l.fast != nil {
		return l.fast.ShutdownWithContext(ctx)
	}
	err := l.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = l.http.Close()
	}
	return err
}
