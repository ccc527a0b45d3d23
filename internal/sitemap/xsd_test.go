package sitemap

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// xmllint returns the path of xmllint (Debian: libxml2-utils). Without it
// the test is skipped, or failed when ATLAS_TEST_REQUIRE_SERVICES=1.
func xmllint(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("ATLAS_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("xmllint is not installed but ATLAS_TEST_REQUIRE_SERVICES=1 (apt-get install -y libxml2-utils)")
		}
		t.Skip("XSD validation skipped: xmllint not found (apt-get install -y libxml2-utils)")
	}
	return path
}

// validate runs xmllint against schema over files, returning its output
// and whether every file validated.
func validate(t *testing.T, lint, schema string, files ...string) (string, bool) {
	t.Helper()
	args := append([]string{"--noout", "--nonet", "--schema", filepath.Join("testdata", "xsd", schema)}, files...)
	out, err := exec.Command(lint, args...).CombinedOutput()
	return string(out), err == nil
}

// TestSitemapsValidateAgainstXSD validates every file of a rebuild (with
// images and split children) against the sitemaps.org schemas.
func TestSitemapsValidateAgainstXSD(t *testing.T) {
	t.Parallel()
	lint := xmllint(t)
	b := newFixtureBuilder(t, Config{Limits: Limits{MaxURLs: 2}})
	if _, err := b.Rebuild(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	live, err := b.cfg.Publisher.Live()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var children []string
	for _, name := range generationFiles(t, live.Dir) {
		if name == IndexFile {
			continue
		}
		p := filepath.Join(out, strings.TrimSuffix(name, ".gz"))
		if err := os.WriteFile(p, gunzip(t, mustRead(t, filepath.Join(live.Dir, name))), 0o644); err != nil {
			t.Fatal(err)
		}
		children = append(children, p)
	}
	if len(children) < 4 {
		t.Fatalf("only %d children; the test wants split sections", len(children))
	}
	if msg, ok := validate(t, lint, "urlset-with-images.xsd", children...); !ok {
		t.Errorf("children do not validate:\n%s", msg)
	}
	if msg, ok := validate(t, lint, "siteindex.xsd", filepath.Join(live.Dir, IndexFile)); !ok {
		t.Errorf("index does not validate:\n%s", msg)
	}

	// The golden files validate too, and the validator is not vacuous.
	var goldens []string
	for _, n := range []string{"empty", "images", "plain"} {
		goldens = append(goldens, filepath.Join("testdata", "writer", n+".xml"))
	}
	if msg, ok := validate(t, lint, "urlset-with-images.xsd", goldens...); !ok {
		t.Errorf("writer goldens do not validate:\n%s", msg)
	}
	if msg, ok := validate(t, lint, "siteindex.xsd", filepath.Join("testdata", "writer", "index.xml")); !ok {
		t.Errorf("index golden does not validate:\n%s", msg)
	}
	bad := filepath.Join(out, "bad.xml")
	os.WriteFile(bad, []byte(`<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>short</loc><lastmod>yesterday</lastmod></url></urlset>
`), 0o644)
	if _, ok := validate(t, lint, "urlset-with-images.xsd", bad); ok {
		t.Error("an invalid sitemap validated: the schema check is vacuous")
	}
}
