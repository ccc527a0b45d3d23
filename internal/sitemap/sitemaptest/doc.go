// Package sitemaptest provides the database fixture that the sitemap
// golden files are built from, for the tests of internal/sitemap and of
// the packages that run its builder (internal/seo).
package sitemaptest
