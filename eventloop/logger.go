package eventloop

import (
	"context"
	"fmt"
	"log/slog"
	"os"
)

// gnetLogger routes gnet's own messages to the proxy's slog logger, so
// that the process has one log stream and one format. gnet logs at
// start, at stop and on errors of its own; nothing per request.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) log(level slog.Level, format string, args []any) {
	if g.l.Enabled(context.Background(), level) {
		g.l.Log(context.Background(), level, fmt.Sprintf(format, args...), "component", "gnet")
	}
}

func (g gnetLogger) Debugf(format string, args ...any) { g.log(slog.LevelDebug, format, args) }
func (g gnetLogger) Infof(format string, args ...any)  { g.log(slog.LevelDebug, format, args) }
func (g gnetLogger) Warnf(format string, args ...any)  { g.log(slog.LevelWarn, format, args) }
func (g gnetLogger) Errorf(format string, args ...any) { g.log(slog.LevelError, format, args) }
func (g gnetLogger) Fatalf(format string, args ...any) {
	g.log(slog.LevelError, format, args)
	os.Exit(1)
}
