// Package salon writes salons: PATCH /salons/{slug} (name, slug, verified)
// with slug history, and verification approval.
//
// Each write runs in one transaction together with its outbox events
// (SalonChanged, VerificationApproved, SitemapRebuildRequested); after the
// commit the service deletes the salon's cached answers and publishes the
// events. Modules in sync or shadow rollout mode also do their work in
// the request: city statistics (geo) and the sitemap rebuild, reached
// through interfaces this package defines (CityRefresher,
// SitemapRebuilder) so it depends on neither geo nor seo.
//
// A slug change records the old slug in slug_history, mapping it to the
// salon id, never to another slug, so an old URL resolves in one lookup
// (store.ResolveSalonSlug) and renaming back to a slug stops its redirect.
// This package is the only writer of salon slug history.
package salon
