package site

import (
	"bytes"
	"encoding/base64"
	"html/template"
	"image/png"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/buckket/go-blurhash"
)

// picture is what the templates need to write one <picture>: a <source>
// per modern format (AVIF, WebP) and a JPEG <img> fallback, each with a
// width-descriptor srcset, the intrinsic size (no layout shift), and the
// BlurHash placeholder painted as the background until the image loads.
type picture struct {
	Sources []source
	Src     string
	SrcSet  string
	Sizes   string
	Width   int
	Height  int
	Alt     string
	Lazy    bool
	Ready   bool
	// Style is the placeholder background (a tiny PNG data URI, decoded
	// from the BlurHash server-side), or a neutral colour without one.
	Style template.CSS
}

type source struct {
	Type   string
	SrcSet string
}

// formats are offered in this order: the browser takes the first it
// supports, so the smallest encodings come first.
var formats = []struct{ name, mime string }{
	{"avif", "image/avif"}, {"webp", "image/webp"}, {"jpeg", "image/jpeg"},
}

// pictureOf builds the <picture> of p. A photo still processing (or with
// no usable variant) has Ready false: the page draws its placeholder box
// at the right size and no <img>, never a broken image.
func (s *Server) pictureOf(p Photo, alt, sizes string, lazy bool) picture {
	w, h := p.Width, p.Height
	if w <= 0 || h <= 0 {
		w, h = 4, 3 // still processing: the size is unknown until the variants exist
	}
	out := picture{Width: w, Height: h, Alt: alt, Lazy: lazy, Sizes: sizes, Style: s.placeholderCSS(p.Hash)}
	if p.Status != "ready" {
		return out
	}
	byFormat := map[string][]variantInStore{}
	for _, v := range p.Variants {
		if v.Key != "" && v.Width > 0 {
			byFormat[v.Format] = append(byFormat[v.Format], v)
		}
	}
	for _, f := range formats {
		vs := byFormat[f.name]
		if len(vs) == 0 {
			continue
		}
		sort.Slice(vs, func(i, j int) bool { return vs[i].Width < vs[j].Width })
		parts := make([]string, len(vs))
		for i, v := range vs {
			parts[i] = s.mediaURL(v.Key) + " " + strconv.Itoa(v.Width) + "w"
		}
		set := strings.Join(parts, ", ")
		if f.name == "jpeg" {
			out.SrcSet = set
			out.Src = s.mediaURL(vs[min(1, len(vs)-1)].Key)
			continue
		}
		out.Sources = append(out.Sources, source{Type: f.mime, SrcSet: set})
	}
	if out.Src == "" && len(out.Sources) > 0 {
		// No JPEG: fall back to the last modern format for <img>.
		last := out.Sources[len(out.Sources)-1]
		out.SrcSet = last.SrcSet
		out.Src = strings.Fields(last.SrcSet)[0]
		out.Sources = out.Sources[:len(out.Sources)-1]
	}
	out.Ready = out.Src != ""
	return out
}

// placeholders caches decoded BlurHash data URIs by hash; it is bounded
// by the number of media items, and cleared when it grows past a limit.
type placeholders struct {
	mu sync.Mutex
	m  map[string]template.CSS
}

const maxPlaceholders = 20000

// neutral is the placeholder colour of an item without a BlurHash.
const neutral = template.CSS("background-color:#e8e2dc")

// placeholderCSS decodes hash into an 8×6 PNG and returns it as a CSS
// background (stretched: the browser's smoothing blurs it further).
func (s *Server) placeholderCSS(hash string) template.CSS {
	if hash == "" {
		return neutral
	}
	s.ph.mu.Lock()
	css, ok := s.ph.m[hash]
	s.ph.mu.Unlock()
	if ok {
		return css
	}
	css = decodePlaceholder(hash)
	s.ph.mu.Lock()
	if s.ph.m == nil || len(s.ph.m) >= maxPlaceholders {
		s.ph.m = map[string]template.CSS{}
	}
	s.ph.m[hash] = css
	s.ph.mu.Unlock()
	return css
}

func decodePlaceholder(hash string) template.CSS {
	img, err := blurhash.Decode(hash, 8, 6, 1)
	if err != nil {
		return neutral
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return neutral
	}
	return template.CSS("background-image:url(data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()) +
		");background-size:cover;background-color:#e8e2dc")
}
