// Package faults holds Atlas's fault-and-abuse suite: worker processes
// killed mid-job, Redis killed and restarted from its AOF or stopped,
// poison and panicking jobs, overload, every route under every kind of
// authentication, hostile uploads and hostile parameters. It has no
// production code; the scenarios are its tests.
//
// Every scenario ends in an exact accounting (offered, completed,
// duplicated, lost, recovery time). Scenarios run in a short mode by
// default (as in CI) and at full size with ATLAS_TEST_LONG=1. With
// ATLAS_FAULTS_REPORT=1 the suite rewrites the scenario table in
// docs/RELIABILITY.md from the figures of that run.
package faults
