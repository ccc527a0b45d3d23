// Package views counts post views write-behind: a view increments a
// counter in a Buffer (Redis, or in-process on an embedded single node)
// and the flush-post-views job, scheduled every 10 s, applies the counts
// to posts.view_count in a few statements, instead of one UPDATE of a hot
// row per page view.
//
// # Modes (ATLAS_MODE_VIEWS)
//
//   - sync: each view is one UPDATE posts SET view_count = view_count + 1
//     (the old behaviour); the buffer is not touched.
//   - async: each view is one buffer increment (HINCRBY, sharing a
//     pipelined Redis round trip with the views of concurrent requests);
//     the flush applies them.
//   - shadow: the UPDATE, and an increment of a separate shadow hash that
//     holds two tallies per post: the views the async path would have
//     counted, and the UPDATEs that changed a row. The flush seals the
//     shadow hash like the buffer (one RENAME: one window for both
//     tallies), compares what the async flush would apply (the first
//     tally, restricted to posts that exist) with the sync updates (the
//     second), and records a match or a mismatch through a
//     rollout.Comparer; it changes no post.
//
// Only GET requests from clients that are not bots count (see IsBot). When
// the buffer does not answer within its timeout (Redis down: 50 ms), the
// view is dropped and counted in atlas_views_dropped_total{reason}; Record
// still returns nil, so the page answers as usual.
//
// # Crash safety of the flush
//
// A flush (1) finishes the batches an earlier flush sealed but did not
// delete, (2) seals the buffer: RENAME <prefix>:views:buffer to
// <prefix>:views:batch:<id>, atomically with adding id to the index set
// <prefix>:views:batches, (3) reads the batch and, in one database
// transaction, inserts id into view_flushes (unique) and adds the counts
// to posts, then (4) deletes the batch and its index entry. A crash
// before (2) leaves the views in the buffer; between (2) and the commit,
// the batch is sealed and unapplied, and (1) applies it next time; between
// the commit and (4), the batch is applied and still sealed, and (1) finds
// its id in view_flushes and only deletes it. New views after (2) go to a
// new buffer, and a sealed batch never changes, so each view is applied
// exactly once. The in-process buffer follows the same steps in memory;
// a process that dies loses its unflushed views (the embedded single-node
// trade-off), a flush that fails is finished by the next one.
//
// On Redis Cluster the prefix must contain a hash tag ("{atlas}"): RENAME
// and the sealing script need the buffer, its batches and the index in
// one slot.
package views
