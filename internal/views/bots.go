package views

import (
	"net/http"
	"strings"
)

// botMarkers are lower-case substrings of User-Agent headers sent by
// crawlers, link previewers and AI scrapers. A user agent containing one
// of them is a bot. Keep the list sorted within its groups and add a
// marker only with an example user agent in bots_test.go.
var botMarkers = []string{
	// Search engines.
	"applebot", "baiduspider", "bingbot", "duckduckbot", "googlebot", "google-inspectiontool",
	"petalbot", "seznambot", "slurp", "yandexbot", "yandex.com/bots",
	// SEO and other crawlers.
	"ahrefsbot", "blexbot", "dataforseobot", "dotbot", "mj12bot", "semrushbot",
	// Link previews.
	"discordbot", "embedly", "facebookexternalhit", "facebot", "linkedinbot", "pinterestbot",
	"redditbot", "skypeuripreview", "slackbot", "telegrambot", "twitterbot", "whatsapp",
	// AI crawlers.
	"amazonbot", "anthropic-ai", "bytespider", "ccbot", "chatgpt-user", "claude-web", "claudebot",
	"gptbot", "meta-externalagent", "oai-searchbot", "perplexitybot",
	// Headless browsers (prerendering, scraping, monitoring).
	"headlesschrome", "phantomjs",
	// Generic markers: a crawler names itself, or gives its info URL as
	// "+http…", which browsers never do.
	"crawler", "spider", "+http",
}

// IsBot reports whether userAgent belongs to a bot: it is empty (no
// browser sends none) or contains, case-insensitively, a marker from the
// list above.
//
// The bare word "bot" is deliberately not a marker: it matches phone
// models ("CUBOT X19") and apps; every bot we know of is caught by its
// name, by "crawler"/"spider" or by a "+http" info URL. Tools that people
// use to test by hand (curl, wget, HTTP libraries) are counted.
func IsBot(userAgent string) bool {
	ua := strings.ToLower(strings.TrimSpace(userAgent))
	if ua == "" {
		return true
	}
	for _, m := range botMarkers {
		if strings.Contains(ua, m) {
			return true
		}
	}
	return false
}

// Countable reports whether a request with method and userAgent counts as a
// view: a GET (or the empty method, which net/http reads as GET) from a
// client that is not a bot. HEAD and other methods fetch no page.
func Countable(method, userAgent string) bool {
	return (method == http.MethodGet || method == "") && !IsBot(userAgent)
}
