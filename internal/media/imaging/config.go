package imaging

import (
	"io"
	"log/slog"
)

// Config configures OpenDefault.
type Config struct {
	// Logger receives engine logs (libvips warnings included). Nil discards.
	Logger *slog.Logger
	// Concurrency is the number of threads libvips may use per operation.
	// Default 1: the job queue already runs one job per CPU, so extra
	// threads inside an operation only contend. Ignored by the pure engine.
	Concurrency int
}

// CloseableEngine is an Engine its owner must Close.
type CloseableEngine interface {
	Engine
	io.Closer
}
