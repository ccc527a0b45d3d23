package storage

// Suite exposes the Storage contract checks to the external test package,
// which may import s3test (s3test imports this package).
var Suite = suite
