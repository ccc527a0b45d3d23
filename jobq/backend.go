package jobq

import "github.com/sevra/atlas/jobq/jobqdriver"

// Backend is a storage backend for queues, workers and subscribers, such
// as a *jobqredis.Driver or a *jobqsqlite.Driver. It is an alias of
// jobqdriver.Driver, the contract backends implement, so applications can
// hold and pass backends without importing jobqdriver.
type Backend = jobqdriver.Driver
