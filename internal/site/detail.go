package site

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/sevra/atlas/internal/store"
)

// jsonLD encodes v for a <script type="application/ld+json">. encoding/json
// escapes <, > and & (as \u003c …), so the text cannot close the script.
func jsonLD(v any) (template.JS, error) {
	b, err := json.Marshal(v)
	return template.JS(b), err
}

// breadcrumbs is the schema.org BreadcrumbList of crumbs.
func breadcrumbs(crumbs []crumb) map[string]any {
	items := make([]map[string]any, len(crumbs))
	for i, c := range crumbs {
		items[i] = map[string]any{"@type": "ListItem", "position": i + 1, "name": c.Name, "item": c.URL}
	}
	return map[string]any{"@context": "https://schema.org", "@type": "BreadcrumbList", "itemListElement": items}
}

// absolute makes a root-relative media URL absolute on the base origin.
func (s *Server) absolute(u string) string {
	if strings.HasPrefix(u, "/") {
		return s.base.String() + u
	}
	return u
}

// largestJPEG is the URL of the widest JPEG variant (Open Graph, JSON-LD).
func (s *Server) largestJPEG(p Photo) string {
	best := variantInStore{}
	for _, v := range p.Variants {
		if v.Format == "jpeg" && v.Width > best.Width {
			best = v
		}
	}
	if best.Key == "" || p.Status != "ready" {
		return ""
	}
	return s.absolute(s.cfg.MediaURL(best.Key))
}

func (s *Server) mediaURL(key string) string { return s.cfg.MediaURL(key) }

type salonView struct {
	salonData
	Cover   *picture
	Gallery []picture
	Pager   pager
}

func (s *Server) renderSalon(w http.ResponseWriter, r *http.Request, d salonData, n, pages int, memo []byte) {
	sl, c := d.Salon, d.City
	canon := s.base.Join("salons", sl.Slug)
	v := salonView{salonData: d, Pager: newPager("/salons/"+pathEscape(sl.Slug), "", n, pages)}
	var images []string
	for i, p := range d.Photos {
		// The first photo is the largest contentful paint: loaded eagerly;
		// the gallery below the fold lazily.
		if i == 0 {
			pic := s.pictureOf(p, "Photo of "+sl.Name, "(max-width: 960px) 100vw, 960px", false)
			v.Cover = &pic
		} else {
			v.Gallery = append(v.Gallery, s.pictureOf(p, fmt.Sprintf("%s, photo %d", sl.Name, i+1),
				"(max-width: 640px) 50vw, 300px", true))
		}
		if u := s.largestJPEG(p); u != "" {
			images = append(images, u)
		}
	}
	crumbs := []crumb{{"Home", s.base.String() + "/"}, {c.Name, s.base.Join("cities", c.Slug)}, {sl.Name, canon}}
	biz := map[string]any{
		"@context": "https://schema.org", "@type": "BeautySalon", "@id": canon, "name": sl.Name, "url": canon,
		"address": map[string]any{"@type": "PostalAddress", "streetAddress": d.Address, "addressLocality": c.Name,
			"addressRegion": c.Province, "addressCountry": "IR"},
	}
	if sl.RatingCount > 0 {
		biz["aggregateRating"] = map[string]any{"@type": "AggregateRating",
			"ratingValue": strconv.FormatFloat(sl.RatingAvg, 'f', 1, 64), "reviewCount": sl.RatingCount,
			"bestRating": 5, "worstRating": 1}
	}
	if len(images) > 0 {
		biz["image"] = images
	}
	ld1, _ := jsonLD(biz)
	ld2, _ := jsonLD(breadcrumbs(crumbs))
	title := sl.Name + " in " + c.Name
	if n > 1 {
		canon += "?page=" + strconv.Itoa(n)
		title += fmt.Sprintf(", reviews page %d", n)
	}
	desc := fmt.Sprintf("%s, a beauty salon in %s (%s)", sl.Name, c.Name, c.NameFa)
	if sl.Verified {
		desc += ", verified by " + s.cfg.SiteName
	}
	if sl.RatingCount > 0 {
		desc += fmt.Sprintf(": rated %.1f of 5 by %d clients", sl.RatingAvg, sl.RatingCount)
	}
	desc += ". Address, photos and reviews."
	p := page{Title: title + " | " + s.cfg.SiteName, Description: desc, Canonical: canon, OGType: "business.business",
		JSONLD: []template.JS{ld1, ld2}, Crumbs: crumbs, Updated: sl.UpdatedAt, Data: v, memo: memo}
	if len(images) > 0 {
		p.OGImage = images[0]
	}
	if isPersian(sl.Name) {
		p.Lang, p.Dir = "fa", "rtl"
	}
	s.render(w, r, http.StatusOK, "salon", p, cacheListing, sl.UpdatedAt)
}

func (s *Server) renderPost(w http.ResponseWriter, r *http.Request, p store.Post, photos []Photo) {
	canon := s.base.Join("posts", p.Slug)
	lastMod := p.UpdatedAt
	if p.PublishedAt != nil && p.PublishedAt.After(lastMod) {
		lastMod = *p.PublishedAt
	}
	crumbs := []crumb{{"Home", s.base.String() + "/"}, {"Posts", s.base.Join("posts")}, {p.Title, canon}}
	post := map[string]any{
		"@context": "https://schema.org", "@type": "BlogPosting", "headline": p.Title, "url": canon,
		"mainEntityOfPage": canon, "dateModified": lastMod.UTC().Format("2006-01-02T15:04:05Z07:00"),
		"author":    map[string]any{"@type": "Organization", "name": s.cfg.SiteName, "url": s.base.String() + "/"},
		"publisher": map[string]any{"@type": "Organization", "name": s.cfg.SiteName},
	}
	if p.PublishedAt != nil {
		post["datePublished"] = p.PublishedAt.UTC().Format("2006-01-02T15:04:05Z07:00")
	}
	var cover *picture
	var og string
	if len(photos) > 0 {
		pic := s.pictureOf(photos[0], p.Title, "(max-width: 760px) 100vw, 760px", false)
		cover = &pic
		if og = s.largestJPEG(photos[0]); og != "" {
			post["image"] = og
		}
	}
	ld1, _ := jsonLD(post)
	ld2, _ := jsonLD(breadcrumbs(crumbs))
	pg := page{Title: p.Title + " | " + s.cfg.SiteName, Description: excerpt(p.Body, 155), Canonical: canon,
		OGType: "article", OGImage: og, JSONLD: []template.JS{ld1, ld2}, Crumbs: crumbs, Updated: lastMod,
		Data: struct {
			Post       store.Post
			Cover      *picture
			Paragraphs []string
		}{p, cover, paragraphs(p.Body)}}
	if isPersian(p.Title + p.Body) {
		pg.Lang, pg.Dir = "fa", "rtl"
	}
	s.render(w, r, http.StatusOK, "post", pg, cachePost, lastMod)
}

// paragraphs splits a post body on blank lines.
func paragraphs(body string) []string {
	var out []string
	for _, p := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
